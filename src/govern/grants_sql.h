/* GRANT and REVOKE as statements, the way SQL writes them: parsed for the CLI, and run as
 * a principal for the SQL interfaces (REST SQL, the PostgreSQL protocol), which answer
 * only with the statement's tag. */
#ifndef TARN_GOVERN_GRANTS_SQL_H
#define TARN_GOVERN_GRANTS_SQL_H

#include "govern/authz.h"
#include "govern/grants.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>

/* A GRANT or REVOKE statement, as SQL and the CLI write it:
 *   GRANT SELECT[, ...] ON [TABLE] curated.sales.orders [(a, b) | EXCLUDING (c)]
 *         TO {user:x | USER x | GROUP x | ROLE x | x} [WITH GRANT OPTION]
 *   REVOKE ... ON ... FROM ...
 * (ON DATABASE / FILTER / LOCATION name, ON IAM). */
typedef struct {
    bool revoke;
    json_t *permissions; /* ["SELECT", ...] */
    char resource[640];  /* "table:curated.sales.orders", "iam" */
    char principal[160]; /* "user:alice" */
    json_t *columns, *excluded;
    bool grant_option;
} grant_statement_t;

/* TARN_EINVAL (reason "SyntaxError") saying what was expected. Free with
 * grants_statement_free. */
int grants_parse(const char *sql, grant_statement_t *out, tarn_err_t *err);
void grants_statement_free(grant_statement_t *s);

/* grants_apply.c: parses sql and applies it to g as principal p, who must be allowed to give or take
 * each of its permissions (authz_may_grant); nothing changes unless all are. *tag gets
 * "GRANT" or "REVOKE" (a static string). */
int grants_statement_run(grants_t *g, const authz_principal_t *p, const char *sql,
                         const char **tag, tarn_err_t *err);

#endif
