/* Authorization rules; see authz.h. Until grants exist the rules are: the admin may do
 * everything; any other authenticated user may use the storage API (s3:*) on every
 * bucket, and nothing else (identities, audit, metrics are admin-only). */
#include "govern/authz.h"
#include "util/err.h"

#include <string.h>

int authz_check(const authz_principal_t *p, const char *action, const char *resource,
                authz_decision_t *out)
{
    (void)resource;
    authz_decision_t d = {false, "default-deny"};
    if (!p || !p->name) {
        d.rule = "anonymous";
    } else if (p->admin) {
        d = (authz_decision_t){true, "admin"};
    } else if (!strncmp(action, "s3:", 3)) {
        d = (authz_decision_t){true, "storage-open"};
    } else if (!strcmp(action, "iam:GetCallerIdentity")) {
        d = (authz_decision_t){true, "self"};
    }
    if (out)
        *out = d;
    return d.allowed ? 0 : TARN_EDENIED;
}
