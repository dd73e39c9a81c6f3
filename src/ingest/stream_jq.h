/* MetadataExtractionQuery, the JQ program that gives each record of a dynamically
 * partitioned stream its partition keys, run by libjq 1.6 (the jq Firehose documents):
 * `{region: .region, day: .ts | strftime("%d"), kind: (.kind // "none" | tostring)}`.
 *
 * A program is refused at stream creation unless every word in its text is on an
 * allow-list: builtins that finish in time bounded by their input and give the same keys
 * for the same record on every run (a batch rebuilt after a crash must route its records
 * as before); no definitions, loops, recursion, regular expressions, input, environment or
 * modules. At run time an evaluation is stopped after STREAM_JQ_TIME_MS by a guard thread,
 * and what it yields is bounded: one object of at most STREAM_JQ_KEYS scalar values of at
 * most STREAM_JQ_VALUE_MAX bytes each. */
#ifndef TARN_INGEST_STREAM_JQ_H
#define TARN_INGEST_STREAM_JQ_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    STREAM_JQ_KEYS = 16,
    STREAM_JQ_VALUE_MAX = 1024,
    STREAM_JQ_QUERY_MAX = 5120, /* as Firehose's ProcessorParameterValue */
    STREAM_JQ_TIME_MS = 100,
};

/* The key names a query's text fixes: those of the object that ends it, as in
 * `.meta | {region: .r, day}`. known is false when only records tell them (`{(.k): .v}`,
 * `if ... end`). */
typedef struct {
    bool known;
    size_t n;
    char *names[STREAM_JQ_KEYS];
} stream_jq_names_t;

/* Checks query against the allow-list; names gets its fixed key names (free with
 * stream_jq_names_free, also after an error). TARN_EINVAL (reason InvalidArgument) names
 * the word or operator at fault. */
int stream_jq_check(const char *query, stream_jq_names_t *names, tarn_err_t *err);
void stream_jq_names_free(stream_jq_names_t *names);

typedef struct stream_jq stream_jq_t;

/* Checks and compiles query. Caller frees with stream_jq_free. */
int stream_jq_compile(stream_jq_t **out, const char *query, tarn_err_t *err);
void stream_jq_free(stream_jq_t *q);
/* Borrowed until stream_jq_free. */
const stream_jq_names_t *stream_jq_names(const stream_jq_t *q);

/* Halts an evaluation that runs past STREAM_JQ_TIME_MS: libjq 1.6 has no time limit of its
 * own, but checks before every instruction whether the program was halted. One evaluation
 * at a time per guard. Caller frees with stream_jq_guard_free. */
typedef struct stream_jq_guard stream_jq_guard_t;
int stream_jq_guard_create(stream_jq_guard_t **out, tarn_err_t *err);
void stream_jq_guard_free(stream_jq_guard_t *g);

/* The keys of one record: names[i] = values[i], each malloc'd. */
typedef struct {
    size_t n;
    char *names[STREAM_JQ_KEYS];
    char *values[STREAM_JQ_KEYS];
} stream_jq_keys_t;

/* Runs q on one record (JSON text of len bytes) under guard g: out gets the keys of the
 * object the query yields, strings as they are and numbers and booleans as JSON text. A
 * record the query fails on, runs too long on, or yields anything but one object of short
 * scalars for is TARN_EINVAL with the reason. One caller at a time per q. Free out with
 * stream_jq_keys_free (also after an error). */
int stream_jq_eval(stream_jq_t *q, stream_jq_guard_t *g, const char *rec, size_t len,
                   stream_jq_keys_t *out, tarn_err_t *err);
void stream_jq_keys_free(stream_jq_keys_t *k);

#endif
