/* PostgreSQL's dialect over the engine's: what PostgreSQL clients send that DuckDB's parser
 * refuses is rewritten in the text before parsing (OPERATOR(pg_catalog.~), COLLATE
 * pg_catalog.default, ::pg_catalog.type), and what it parses but means otherwise is
 * rewritten in its parse tree (~ searches, reg* casts, pg_catalog.f() calls resolving to
 * the session's functions). Nothing here widens what a query may reach: the sandbox
 * checks the rewritten tree like any other. */
#ifndef TARN_CONSUME_PGWIRE_PGDIALECT_H
#define TARN_CONSUME_PGWIRE_PGDIALECT_H

#include "util/arena.h"
#include "util/err.h"

#include <jansson.h>

/* sql with the syntax DuckDB refuses rewritten, in *out (arena a; sql itself when nothing
 * changed). String literals, quoted identifiers and comments are left as they are. */
int pgdialect_rewrite_text(const char *sql, const char **out, arena_t *a, tarn_err_t *err);

/* Rewrites node, one object of DuckDB's parse tree (json_serialize_sql) of text, in place,
 * before the walk goes down to its children:
 * - a function call qualified pg_catalog. or information_schema. resolves through the
 *   search path (the session's functions first, then the engine's);
 * - a ~ b, a !~ b, a ~* b, a !~* b search (regexp_matches), as PostgreSQL's do, where
 *   DuckDB's ~ matches the whole string;
 * - casts to regclass, regtype, regnamespace, regrole, regproc become calls of the
 *   session's functions of those names; to name, "char", oid and the other
 *   PostgreSQL-only types, the engine type that holds them;
 * - a function in FROM with a table alias and no column names names its one column
 *   after the alias (unnest(a) x: column x);
 * - a comparison with an array literal '{1,2}' compares with [1,2];
 * - a column named with its relation's schema (pg_catalog.pg_class.relname) is named
 *   with the relation alone, as the sandbox names the relation.
 * *reads gets the pg_catalog relation a rewritten function reads (NULL for none), so the
 * caller can make sure it is there. */
int pgdialect_rewrite_node(json_t *node, const char *text, const char **reads, tarn_err_t *err);

#endif
