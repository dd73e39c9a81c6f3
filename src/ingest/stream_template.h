/* The S3 key prefix template of a stream's configuration
 * (`dt=!{timestamp:yyyy-MM-dd}/region=!{partitionKeyFromQuery:region}/`): checking it at
 * creation, and evaluating it per record. */
#ifndef TARN_INGEST_STREAM_TEMPLATE_H
#define TARN_INGEST_STREAM_TEMPLATE_H

#include "util/buf.h"
#include "util/err.h"

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

#endif
