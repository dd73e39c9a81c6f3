/* Where a query's result columns come from, for PostgreSQL clients' RowDescription (table
 * OID and attribute number): a column that is a plain reference to a lake table's column
 * (SELECT id, o.region AS r, * FROM sales.orders o JOIN ...) names that table and the
 * column's position in it; anything computed names none, as PostgreSQL reports it. */
#ifndef TARN_CONSUME_ORIGIN_H
#define TARN_CONSUME_ORIGIN_H

#include "engine/engine.h"
#include "util/arena.h"

#include <jansson.h>

/* What origin_apply needs of mapped (a checked query whose table references are the
 * session's views): its FROM items and select list, from its parse tree (so it runs a
 * statement on c: call it before a result is streaming on c). NULL when the query is not
 * a SELECT of base tables and joins of them. Caller decrefs. */
json_t *origin_read(engine_conn_t *c, const char *mapped, arena_t *a);

/* Sets "table_id" and "attnum" on each column of cols ([{"name", "type"}], the query's
 * result columns, changed in place) that is a plain reference to a column of one of
 * views: {"<view name>": {"id": catalog table id, "cols": {"<lowercase column name>":
 * position from 1}}}. Columns it cannot trace are left as they are; all of them when
 * plan is NULL. */
void origin_apply(const json_t *plan, const json_t *views, json_t *cols);

#endif
