/* Running a GRANT or REVOKE statement as a principal, for the SQL interfaces (REST SQL and
 * the PostgreSQL protocol): parsed (grants_sql.c), every permission checked with
 * authz_may_grant before any changes, then granted or revoked. Apart from the parser so
 * that parsing alone needs neither the grant store nor authorization. */
#include "govern/authz.h"
#include "govern/grants.h"
#include "govern/grants_sql.h"

#include <jansson.h>

int grants_statement_run(grants_t *g, const authz_principal_t *p, const char *sql,
                         const char **tag, tarn_err_t *err)
{
    grant_statement_t st;
    int rc = grants_parse(sql, &st, err);
    if (rc)
        return rc;
    size_t i;
    json_t *perm;
    json_array_foreach(st.permissions, i, perm)
    {
        if ((rc = authz_may_grant(p, json_string_value(perm), st.resource, err)))
            goto done;
    }
    json_array_foreach(st.permissions, i, perm)
    {
        if (st.revoke) {
            rc = grants_revoke(g, st.principal, json_string_value(perm), st.resource, err);
        } else {
            grant_spec_t s = {st.principal, json_string_value(perm), st.resource, st.columns,
                              st.excluded, st.grant_option};
            rc = grants_grant(g, &s, p->name, NULL, err);
        }
        if (rc)
            goto done;
    }
    *tag = st.revoke ? "REVOKE" : "GRANT";
done:
    grants_statement_free(&st);
    return rc;
}
