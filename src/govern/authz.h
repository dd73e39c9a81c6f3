/* The one authorization decision every interface asks: may this principal perform this
 * action on this resource? Handlers never decide access themselves; the dispatchers call
 * authz_check before any handler runs, and the decision (with the rule or grant that made
 * it) goes into the audit trail. The admin may do everything; anyone else only what a
 * grant (govern/grants.h) gives, through the user, its groups or their roles. */
#ifndef TARN_GOVERN_AUTHZ_H
#define TARN_GOVERN_AUTHZ_H

#include "govern/grants.h"

#include <stdbool.h>

typedef struct {
    const char *name; /* user name: for audit records and messages */
    int64_t id;       /* user id (iam_user_t.id): what grants are looked up by */
    bool admin;
    bool metrics_only; /* a metrics token: may read /metrics (metrics:Read) and no more */
    grants_t *grants;  /* the lake's grants (borrowed); NULL: nothing is granted */
} authz_principal_t;

typedef struct {
    bool allowed;
    char rule[48]; /* what decided: "admin", "grant:17", "default-deny", ... */
} authz_decision_t;

/* The rule of a decision that lets the request through to a handler that must still
 * check ownership itself (pipelines: only their owner, the admin or a holder of ALL on
 * iam may manage one). */
#define AUTHZ_RULE_OWNER_CHECKED "owner-checked"

/* action: "s3:GetObject", "iam:CreateUser", "catalog:Describe", "sql:Select", ...;
 * resource: "raw/sales/x.csv" (S3: bucket/key, or bucket), "table/raw.sales.orders",
 * "database/raw.sales", "user/alice", "pipeline/daily_sales", or a listing's wildcard
 * ("table/" and a star; each item is checked again). Returns 0 when allowed, TARN_EDENIED
 * otherwise; out gets the rule. */
int authz_check(const authz_principal_t *p, const char *action, const char *resource,
                authz_decision_t *out);

/* Whether p is the admin or holds ALL on iam: who manages identities, grants and every
 * pipeline, whoever owns it. *grant (NULL for none) gets the grant that says so (0 for
 * the admin). */
bool authz_iam_admin(const authz_principal_t *p, int64_t *grant);
/* Whether p may give or take permission on resource (as a grant names it,
 * "table:curated.sales.orders"): the admin, a holder of ALL on iam, or a holder of the
 * permission (or ALL) on it WITH GRANT OPTION. TARN_EDENIED ("AccessDenied") saying what
 * it needs otherwise. */
int authz_may_grant(const authz_principal_t *p, const char *permission, const char *resource,
                    tarn_err_t *err);
/* Whether p may see that bucket exists (in ListBuckets): the admin sees every bucket,
 * anyone else those in which they hold some grant (a zone: a grant on one of its
 * databases, tables or locations). */
bool authz_bucket_visible(const authz_principal_t *p, const char *bucket);

/* What the principal may SELECT of table ("zone.db.table"): for the admin, everything.
 * decision (NULL for none) gets what authz_check would answer for sql:Select on it, so a
 * caller that needs both asks once. Caller frees out with grants_access_free. */
int authz_table_access(const authz_principal_t *p, const char *table, grants_access_t *out,
                       authz_decision_t *decision, tarn_err_t *err);

#endif
