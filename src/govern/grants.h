/* Groups, roles and grants: the Lake Formation model. A grant gives a principal
 * ("user:alice", "group:analysts", "role:reader") a permission on a resource:
 *   database:<zone>.<db>        CREATE_TABLE, DESCRIBE, ALTER, DROP, ALL
 *   table:<zone>.<db>.<table>   SELECT (optionally of some columns, or all but some),
 *                               INSERT, DESCRIBE, ALTER, DROP, ALL; <table> may be *
 *   filter:<zone>.<db>.<table>.<filter>   SELECT: the filter's rows and columns
 *   location:<bucket>/<prefix>  READ, WRITE, ALL (the storage API)
 *   iam                         ALL (manage users, groups, roles and grants), SOURCE (manage
 *                               sources: database connections that land data in raw)
 * optionally WITH GRANT OPTION. Users hold what their groups and roles hold. Principals are
 * named in and out, but recorded by id: users (iam.h), groups and roles each get an id
 * that is never reused, and grants, memberships and role holdings refer to it, so deleting
 * a principal (which removes all of them in the same transaction) leaves nothing that a
 * new principal of the same name could inherit. Checks take the user's id and read an
 * in-memory snapshot, rebuilt after each change, so a revocation counts from the next
 * request on. Resources are names: this module knows nothing of catalogs. */
#ifndef TARN_GOVERN_GRANTS_H
#define TARN_GOVERN_GRANTS_H

#include "util/db.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct grants grants_t;

enum {
    GRANT_SELECT = 1 << 0,
    GRANT_INSERT = 1 << 1,
    GRANT_DESCRIBE = 1 << 2,
    GRANT_ALTER = 1 << 3,
    GRANT_DROP = 1 << 4,
    GRANT_CREATE_TABLE = 1 << 5,
    GRANT_READ = 1 << 6,
    GRANT_WRITE = 1 << 7,
    GRANT_ALL = 1 << 8,
    GRANT_SOURCE = 1 << 9,
};

int grants_open(grants_t **out, db_t *db, tarn_err_t *err);
void grants_close(grants_t *g);

/* Groups and roles. Names: like user names (1-64 of [A-Za-z0-9_.@-]). */
int grants_group_create(grants_t *g, const char *name, tarn_err_t *err);
int grants_group_delete(grants_t *g, const char *name, tarn_err_t *err);
int grants_group_add(grants_t *g, const char *group, const char *user, tarn_err_t *err);
int grants_group_remove(grants_t *g, const char *group, const char *user, tarn_err_t *err);
int grants_role_create(grants_t *g, const char *name, tarn_err_t *err);
int grants_role_delete(grants_t *g, const char *name, tarn_err_t *err);
/* Gives role to holder ("user:x" or "group:y"), or takes it back. */
int grants_role_assign(grants_t *g, const char *role, const char *holder, tarn_err_t *err);
int grants_role_unassign(grants_t *g, const char *role, const char *holder, tarn_err_t *err);
/* {"groups": [{"name", "members": [...]}]} and {"roles": [{"name", "holders": [...]}]}. */
int grants_groups_list(grants_t *g, json_t **out, tarn_err_t *err);
int grants_roles_list(grants_t *g, json_t **out, tarn_err_t *err);

/* A named row filter with a column set, granted as SELECT on "filter:<table>.<name>". */
int grants_filter_create(grants_t *g, const char *table, const char *name,
                         const char *row_filter, const json_t *columns, const json_t *excluded,
                         tarn_err_t *err);
int grants_filter_delete(grants_t *g, const char *table, const char *name, tarn_err_t *err);
int grants_filters_list(grants_t *g, json_t **out, tarn_err_t *err);

typedef struct {
    const char *principal;  /* "user:alice" */
    const char *permission; /* "SELECT", ... */
    const char *resource;   /* "table:curated.sales.orders" */
    const json_t *columns;  /* SELECT of these columns only, or NULL */
    const json_t *excluded; /* SELECT of all columns but these, or NULL */
    bool grant_option;
} grant_spec_t;

/* Validates and records a grant (by: who grants). Granting again replaces the columns
 * and option. TARN_EINVAL (reason "InvalidArgument") naming what is wrong; TARN_ENOTFOUND
 * for an unknown principal or filter. */
int grants_grant(grants_t *g, const grant_spec_t *s, const char *by, int64_t *id,
                 tarn_err_t *err);
/* Removes a grant; TARN_ENOTFOUND ("NoSuchGrant") when there is none. */
int grants_revoke(grants_t *g, const char *principal, const char *permission,
                  const char *resource, tarn_err_t *err);
/* {"grants": [{"id", "principal", "permission", "resource", "columns", "excluded",
 * "grant_option", "created", "created_by"}]}, those of principal (NULL: all) and/or on
 * resource (NULL: all). */
int grants_list(grants_t *g, const char *principal, const char *resource, json_t **out,
                tarn_err_t *err);

/* The GRANT_* bit of a permission's name (any case), or 0 for none. */
unsigned grants_permission_bit(const char *name);

/* Whether the user of id user (iam_user_t.id; 0: no one) holds permission (one GRANT_*
 * bit; GRANT_ALL grants count for any) on resource; with_option: only grants WITH GRANT OPTION
 * count. *id gets the deciding grant. Table permissions are also held through a grant on
 * "<zone>.<db>.*"; DESCRIBE of a table through any grant on it (or a filter on it) or DESCRIBE of
 * its database; locations through a grant on a prefix of it. */
bool grants_allows(grants_t *g, int64_t user, unsigned permission, const char *resource,
                   bool with_option, int64_t *id);

/* Whether user holds any grant, of any permission, on something under top: a location
 * in bucket top ("top" or "top/..."), or a database, table or filter whose name starts
 * with "top." (a zone). For what a bucket listing may show. */
bool grants_any_under(grants_t *g, int64_t user, const char *top);

/* A number that changes whenever a grant, group, role or filter does (for readers that
 * keep something derived from them). */
uint64_t grants_generation(grants_t *g);
/* Bumps the generation: for a change made elsewhere that grants depend on (a user deleted
 * through iam.h, whose grants and memberships its deletion removed). */
void grants_invalidate(grants_t *g);

/* What the user of id user may SELECT of a table: allowed, and then all columns or the named ones
 * (or all but the excluded ones), all rows or those of the row filter (filters OR'ed). */
typedef struct {
    bool allowed;
    bool all_columns;
    json_t *columns;  /* allowed columns when !all_columns and excluded is NULL */
    json_t *excluded; /* columns hidden when !all_columns and columns is NULL */
    char *row_filter; /* NULL: every row */
    int64_t grant_id; /* one grant that allowed it */
} grants_access_t;

int grants_table_access(grants_t *g, int64_t user, const char *table, grants_access_t *out,
                        tarn_err_t *err);
void grants_access_free(grants_access_t *a);
/* Whether an allowed access shows column name (names compare without case, as the
 * engine's do). */
bool grants_access_shows(const grants_access_t *a, const char *name);

#endif
