/* The small languages of a stream's configuration: the S3 key prefix template
 * (`dt=!{timestamp:yyyy-MM-dd}/region=!{partitionKeyFromQuery:region}/`) and the JQ
 * query of dynamic partitioning, limited to an object of simple paths
 * (`{region: .region, ts: .meta.ts}`). Parsing validates; evaluation is per record. */
#ifndef TARN_INGEST_STREAM_TEMPLATE_H
#define TARN_INGEST_STREAM_TEMPLATE_H

#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- prefix templates ---- */
enum { TEMPLATE_PREFIX, TEMPLATE_ERROR_PREFIX };

/* Checks tmpl: its expressions, their namespaces and timestamp patterns.
 * kind TEMPLATE_ERROR_PREFIX also allows !{firehose:error-output-type} and refuses
 * partition keys. *uses_keys / *uses_time tell what it needs (either may be NULL). */
int stream_template_check(const char *tmpl, int kind, bool *uses_keys, bool *uses_time,
                          tarn_err_t *err);

typedef struct {
    int64_t ts_ms;                /* the record's arrival time (UTC) */
    const char *const *key_names; /* partition keys from the query */
    const char *const *key_values;
    size_t nkeys;
    const char *error_type;       /* for !{firehose:error-output-type} */
    uint64_t random;              /* for !{firehose:random-string}: deterministic per file */
} stream_template_ctx_t;

/* Appends the evaluated template to out. A partition key the template names but the
 * record lacks is TARN_EINVAL (the record goes to the error output). */
int stream_template_eval(const char *tmpl, const stream_template_ctx_t *c, buf_t *out,
                         tarn_err_t *err);

/* ---- the JQ subset of MetadataExtraction ---- */
typedef struct {
    char *name;
    char **path; /* field names from the root */
    size_t depth;
} stream_jq_key_t;

typedef struct {
    stream_jq_key_t *keys;
    size_t n;
} stream_jq_t;

/* Parses `{name: .a.b, other: .c}` (names may be quoted, paths may use ."quoted"
 * fields). Anything else is TARN_EINVAL naming what is not supported. Free with
 * stream_jq_free. */
int stream_jq_parse(stream_jq_t *out, const char *q, tarn_err_t *err);
void stream_jq_free(stream_jq_t *q);
/* The keys' values for one record (a parsed JSON object): strings as they are, numbers
 * and booleans as JSON text. vals[i] are malloc'd (caller frees each). A missing or
 * null value, an object or an array is TARN_EINVAL. */
int stream_jq_eval(const stream_jq_t *q, const json_t *rec, char **vals, tarn_err_t *err);

#endif
