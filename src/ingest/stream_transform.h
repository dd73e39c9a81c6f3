/* A delivery stream's record transform: one SELECT over the relation `records` (a
 * batch's records), refused at creation unless it reads nothing else, and the statement
 * the delivery thread runs it with, from a staged NDJSON file to another. */
#ifndef TARN_INGEST_STREAM_TRANSFORM_H
#define TARN_INGEST_STREAM_TRANSFORM_H

#include "engine/engine.h"
#include "util/buf.h"
#include "util/err.h"

/* The field a transform is configured in, for messages. */
#define STREAM_TRANSFORM_FIELD "ProcessingConfiguration.Processors[SQL].Parameters.Query"

/* Checks sql with the engine's parser: exactly one SELECT, whose tables are `records`
 * (or its own WITH names), with no table functions that read files. TARN_EINVAL (reason
 * InvalidArgument) naming STREAM_TRANSFORM_FIELD otherwise. */
int stream_transform_check(engine_conn_t *c, const char *sql, tarn_err_t *err);

/* Appends to out the statement that runs sql over the NDJSON file in and writes its rows
 * as NDJSON to the file out_path. */
int stream_transform_statement(buf_t *out, const char *sql, const char *in,
                               const char *out_path);

#endif
