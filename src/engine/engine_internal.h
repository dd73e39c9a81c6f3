/* What the engine's own files share: the connection, error and type helpers over
 * DuckDB's C API. Not for use outside src/engine/. */
#ifndef TARN_ENGINE_INTERNAL_H
#define TARN_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "util/buf.h"

#include <duckdb.h>

struct engine_conn {
    duckdb_connection c;
};

/* An engine error message as TARN_EINVAL (TARN_ENOMEM when the engine ran out of
 * memory), with the reason its class maps to; the first line only. */
int engine_fail(const char *msg, tarn_err_t *err);
/* Binds a JSON array to $1, $2, ...; the count must match the statement's. */
int engine_bind(duckdb_prepared_statement ps, const json_t *params, tarn_err_t *err);
/* DuckDB's spelling of a logical type ("DECIMAL(15,2)", "VARCHAR[]"), appended to b. */
void engine_type_name(buf_t *b, duckdb_logical_type t);

#endif
