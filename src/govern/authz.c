/* Authorization rules; see authz.h. Until grants exist the rules are: the admin may do
 * everything; any other authenticated user may use the storage API (s3:*) on every
 * bucket, browse the catalog (catalog:Describe) and query its tables (sql:Select), unless
 * a deny rule configured for the server matches; everything else (identities, audit,
 * metrics, catalog changes, crawls) is admin-only. */
#include "govern/authz.h"
#include "util/err.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

/* Whether one of the ';'-separated "ACTION RESOURCE" patterns matches. */
static bool denied(const char *rules, const char *action, const char *resource)
{
    for (const char *p = rules; p && *p;) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char rule[512];
        if (n < sizeof rule) {
            memcpy(rule, p, n);
            rule[n] = '\0';
            char act[256], res[256];
            if (sscanf(rule, " %255s %255s", act, res) == 2 && !fnmatch(act, action, 0) &&
                !fnmatch(res, resource, 0))
                return true;
        }
        p = end ? end + 1 : p + n;
    }
    return false;
}

int authz_check(const authz_principal_t *p, const char *action, const char *resource,
                authz_decision_t *out)
{
    authz_decision_t d = {false, "default-deny"};
    if (!p || !p->name) {
        d.rule = "anonymous";
    } else if (p->admin) {
        d = (authz_decision_t){true, "admin"};
    } else if (denied(p->deny, action, resource ? resource : "*")) {
        d.rule = "deny-rule";
    } else if (!strncmp(action, "s3:", 3)) {
        d = (authz_decision_t){true, "storage-open"};
    } else if (!strcmp(action, "catalog:Describe") || !strcmp(action, "sql:Select")) {
        d = (authz_decision_t){true, "catalog-open"};
    } else if (!strcmp(action, "iam:GetCallerIdentity")) {
        d = (authz_decision_t){true, "self"};
    }
    if (out)
        *out = d;
    return d.allowed ? 0 : TARN_EDENIED;
}
