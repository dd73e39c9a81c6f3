/* The SQL sandbox's statement check: before a user's SQL runs, its parse tree (DuckDB's
 * json_serialize_sql) must be exactly one SELECT whose every table reference is a name
 * the session was given, with no table function that could reach files or other data
 * (only unnest, range and generate_series are allowed) and no string literal used as a
 * table. Names bound to a WITH clause count only inside that clause's query. This is one
 * of two walls: the engine itself can only read the objects folder. */
#ifndef TARN_CONSUME_SANDBOX_H
#define TARN_CONSUME_SANDBOX_H

#include "engine/engine.h"
#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>

/* The session's name for a table the user wrote as catalog.schema.table (parts may be
 * ""): the TEMP view holding it, e.g. "raw.sales.orders" for raw.sales.orders or for
 * sales.orders, or NULL when the session has no such table. The string must live until
 * the call returns. */
typedef const char *(*sandbox_map_fn)(void *ctx, const char *catalog, const char *schema,
                                      const char *table);

/* Checks sql and, when it may run, gives in *out (arena a) the same query with every table
 * reference replaced by the session's TEMP view (temp.main."<view>", aliased with the
 * table's own name unless it had an alias), printed by DuckDB from the checked parse tree:
 * what runs is exactly what was checked. Otherwise TARN_EINVAL (reason "SyntaxError" or
 * "NotReadOnly") for what is not one SELECT, or TARN_EDENIED (reason "AccessDenied")
 * naming the table or function refused. */
int sandbox_map_select(engine_conn_t *c, const char *sql, sandbox_map_fn map, void *ctx,
                       const char **out, arena_t *a, tarn_err_t *err);

/* Like sandbox_map_select, and also DESCRIBE / SUMMARIZE of a table or a query and
 * EXPLAIN [ANALYZE] of a query, whose inner query is checked and mapped the same way. */
int sandbox_map_statement(engine_conn_t *c, const char *sql, sandbox_map_fn map, void *ctx,
                          const char **out, arena_t *a, tarn_err_t *err);

/* Only whether sql parses: TARN_EINVAL (reason "SyntaxError") with the parser's message
 * when it does not. Names and statement kinds are checked later, when it runs. */
int sandbox_check_syntax(engine_conn_t *c, const char *sql, arena_t *a, tarn_err_t *err);
/* Like sandbox_map_statement, for SQL in PostgreSQL's dialect (consume/pgwire/pgdialect.h): its
 * syntax is rewritten to the engine's before the check, and a function that reads one of
 * the session's PostgreSQL catalogs asks map for it (catalog "", schema "pg_catalog"). */
int sandbox_map_pg_statement(engine_conn_t *c, const char *sql, sandbox_map_fn map, void *ctx,
                             const char **out, arena_t *a, tarn_err_t *err);

#endif
