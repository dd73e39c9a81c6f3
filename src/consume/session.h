/* A query session: one engine connection for one principal, whose TEMP views hold exactly
 * the catalog tables the principal may read (authz_check, action sql:Select), created on
 * demand as a query names them: each view reads the files of the table's current
 * snapshot with the table's format options, its catalog schema (explicit names and
 * types) and hive partitions. Names are zone.database.table; database.table means the
 * curated zone, and "zone.database".table is the same as zone.database.table. User SQL
 * runs only after the sandbox has checked it and mapped its names to these views. */
#ifndef TARN_CONSUME_SESSION_H
#define TARN_CONSUME_SESSION_H

#include "catalog/catalog.h"
#include "consume/rowenc.h"
#include "engine/engine.h"
#include "govern/authz.h"
#include "util/arena.h"
#include "util/err.h"

#include <jansson.h>
#include <stdint.h>

typedef struct session session_t;

/* objects_dir: absolute path of <data>/objects (borrowed, like the rest, until
 * session_close). */
int session_open(session_t **out, engine_t *e, catalog_t *cat, const char *objects_dir,
                 const authz_principal_t *p, tarn_err_t *err);
void session_close(session_t *s);

/* Checks sql, builds the views it names, and starts it with params bound to $1, $2, ...
 * (a JSON array, or NULL): *columns gets [{"name","type"}] with DuckDB's type names
 * (caller decrefs) and *rows the encoder of its rows in style (caller closes). With rows
 * NULL, only the columns (the query does not run). Each call starts afresh: views are
 * rebuilt from the tables' current snapshots. */
int session_query(session_t *s, const char *sql, const json_t *params, rowenc_style_t style,
                  json_t **columns, rowenc_t **rows, tarn_err_t *err);
/* The types of sql's parameters $1, $2, ... as the engine infers them from where the
 * mapped statement uses them (engine_param_types: DuckDB's names, "" when left open).
 * Checks and maps sql as session_query does, without running it. Caller decrefs. */
int session_param_types(session_t *s, const char *sql, json_t **types, tarn_err_t *err);
/* Whether sql parses (a prepared statement's syntax is checked when it is prepared, as
 * PostgreSQL does); TARN_EINVAL with reason "SyntaxError" otherwise. */
int session_check_syntax(session_t *s, const char *sql, tarn_err_t *err);
/* Checks and maps sql as session_query does, runs it and writes its whole result to path
 * as one Parquet file (zstd), each column of the result's DuckDB type; *rows gets the
 * rows written and *columns (when not NULL; caller decrefs) the result's [{"name",
 * "type"}]. options, when not NULL, are more COPY options composed by the caller (never
 * user text), e.g. PARTITION_BY, which makes path a folder. path must be in a folder the
 * engine may write. */
int session_query_parquet(session_t *s, const char *sql, const json_t *params, const char *path,
                          const char *options, uint64_t *rows, json_t **columns,
                          tarn_err_t *err);
/* Narrows what the session's next queries read (a pipeline step's view of the lake, see
 * catalog_scope_t): bare names of scope->rel_names map to views over their Parquet files,
 * each table's view reads only the files scope->include accepts (an empty set gives the
 * table's columns and no rows), and scope->on_read hears of each table read. NULL
 * clears it. scope is borrowed until cleared or session_close. */
void session_set_scope(session_t *s, const catalog_scope_t *scope);
/* Switches the session to PostgreSQL's dialect for PostgreSQL clients: queries may use
 * PostgreSQL's syntax and functions (current_database() is `database`, current_user is
 * `user`; both are copied) and read pg_catalog and information_schema, which list the
 * tables the session may read (consume/pgwire/pgcatalog.h). Everything still goes through the
 * sandbox. */
int session_enable_pg(session_t *s, const char *database, const char *user, tarn_err_t *err);

/* The last query's tables and the authorization rule that decided each, allowed or denied
 * ("curated.sales.orders=grant:12, curated.hr.salaries=no-select-grant"), for its audit
 * record; "" when it named none. Valid until the next query. */
const char *session_decisions(const session_t *s);
/* Stops the running statement, from another thread. */
void session_interrupt(session_t *s);

#endif
