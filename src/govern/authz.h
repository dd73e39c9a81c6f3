/* The one authorization decision every interface asks: may this principal perform this
 * action on this resource? Handlers never decide access themselves; the dispatchers call
 * authz_check before any handler runs, and the decision (with the rule that made it) goes
 * into the audit trail. Grants plug in here. */
#ifndef TARN_GOVERN_AUTHZ_H
#define TARN_GOVERN_AUTHZ_H

#include <stdbool.h>

typedef struct {
    const char *name; /* user name */
    bool admin;
    /* Deny rules for non-admins until grants exist: "ACTION RESOURCE" patterns (fnmatch)
     * separated by ';', e.g. "catalog:Describe table/raw.hr.*". NULL for none. */
    const char *deny;
} authz_principal_t;

typedef struct {
    bool allowed;
    const char *rule; /* static: the rule that decided, e.g. "admin", "storage-open" */
} authz_decision_t;

/* action: "s3:GetObject", "iam:CreateUser", "catalog:Describe", ...; resource:
 * "raw/sales/x.csv", "user/alice", "table/raw.sales.orders", "*". Returns 0 when allowed,
 * TARN_EDENIED otherwise; out gets the rule. */
int authz_check(const authz_principal_t *p, const char *action, const char *resource,
                authz_decision_t *out);

#endif
