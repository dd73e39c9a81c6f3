/* PostgreSQL's catalogs for a query session, so psql, drivers and BI tools can list the
 * lake: pg_catalog and information_schema relations as the session's own TEMP tables and
 * views, holding only the tables its principal may read (sql:Select), and the functions
 * those clients call as TEMP MACROs. A lake database is the schema "<db>" in the curated
 * zone and "<zone>.<db>" in the others; oids come from the catalog's ids, so they are the
 * same in every session. */
#ifndef TARN_CONSUME_PGWIRE_PGCATALOG_H
#define TARN_CONSUME_PGWIRE_PGCATALOG_H

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "govern/authz.h"
#include "util/err.h"

typedef struct pgcatalog pgcatalog_t;

/* Creates the session's functions (current_database() is `database`, current_user is
 * `user`: both used during the call only) and the empty tables the relations are views
 * over, on connection c. c, cat and p are borrowed until pgcatalog_close; caller closes. */
int pgcatalog_open(pgcatalog_t **out, engine_conn_t *c, catalog_t *cat, const authz_principal_t *p,
                   const char *database, const char *user, tarn_err_t *err);
void pgcatalog_close(pgcatalog_t *g);

/* A new statement begins: the lake's tables are read again the first time it needs them. */
void pgcatalog_statement(pgcatalog_t *g);

/* The session's relation for schema.name as a query wrote it (schema "pg_catalog",
 * "information_schema", or "" for pg_catalog's relations, which PostgreSQL always finds),
 * built and brought up to date: *out gets its name in temp.main (valid until close), or
 * NULL when the name is not the catalogs' (a lake table). An unknown pg_catalog or
 * information_schema relation is TARN_ENOTFOUND (reason NoSuchTable) naming it. */
int pgcatalog_map(pgcatalog_t *g, const char *schema, const char *name, const char **out,
                  tarn_err_t *err);

/* The pg_catalog relation the session's function `name` reads, or NULL (for the
 * dialect's rewrite, which asks for it through the sandbox's map). */
const char *pgcatalog_function_reads(const char *name);

#endif
