/* What the engine's own files share: the connection, error and type helpers over
 * DuckDB's C API. Not for use outside src/engine/. */
#ifndef TARN_ENGINE_INTERNAL_H
#define TARN_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "util/buf.h"

#include <duckdb.h>

struct engine_conn {
    duckdb_connection c;
    /* The stream whose rows are being read from c, if any: DuckDB gives one streaming
     * result per connection, and running anything else on c ends it. */
    engine_stream_t *active;
};

/* Before anything else runs on c: the active stream (if any) first reads its remaining
 * rows into memory, up to a bound, so that a client reading it on (a suspended portal, a
 * cursor) gets them all, or past the bound an error, never a silently shorter result. */
void engine_conn_claim(engine_conn_t *c);
/* When c closes: its active stream (if any) fails from then on instead of reading c. */
void engine_conn_release(engine_conn_t *c);

/* An engine error message as TARN_EINVAL (TARN_ENOMEM when the engine ran out of
 * memory), with the reason its class maps to; the first line only. */
int engine_fail(const char *msg, tarn_err_t *err);
/* Binds a JSON array to $1, $2, ...; the count must match the statement's. */
int engine_bind(duckdb_prepared_statement ps, const json_t *params, tarn_err_t *err);
/* DuckDB's spelling of a logical type ("DECIMAL(15,2)", "VARCHAR[]"), appended to b. */
void engine_type_name(buf_t *b, duckdb_logical_type t);

#endif
