/* Pipeline specs: the YAML document a data engineer writes (trigger, retries, steps of
 * SQL or quality rules forming a DAG), parsed and validated into a plain struct with the
 * steps in a runnable order. Parsing needs no I/O; running pipelines builds on this. */
#ifndef TARN_PROCESS_PIPELINE_SPEC_H
#define TARN_PROCESS_PIPELINE_SPEC_H

#include "util/cron.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **items;
    size_t n;
} pipeline_names_t;

typedef enum {
    PIPELINE_MODE_APPEND,
    PIPELINE_MODE_OVERWRITE,
    PIPELINE_MODE_OVERWRITE_PARTITIONS,
    PIPELINE_MODE_MERGE,
    /* The input is a change stream (_op, _source_pos, ...): the target is kept equal to
     * the source table, latest change per key winning. */
    PIPELINE_MODE_APPLY_CHANGES,
} pipeline_mode_t;

typedef enum {
    PIPELINE_RULE_NOT_NULL,
    PIPELINE_RULE_UNIQUE,
    PIPELINE_RULE_ACCEPTED_VALUES,
    PIPELINE_RULE_RANGE,
    PIPELINE_RULE_REGEX,
    PIPELINE_RULE_ROW_COUNT,
    PIPELINE_RULE_FRESHNESS,
    PIPELINE_RULE_SQL,
} pipeline_rule_kind_t;

typedef struct {
    pipeline_rule_kind_t kind;
    char *name;              /* given, or made from the kind and first column */
    bool warn;               /* severity: warn (true) or error (false, the default) */
    bool quarantine;         /* on_error: quarantine the rows (true) or fail the run */
    pipeline_names_t columns; /* not_null, unique */
    char *column;            /* accepted_values, range, regex, freshness */
    pipeline_names_t values; /* accepted_values */
    bool has_min, has_max;   /* range, row_count */
    double min, max;
    char *pattern;           /* regex */
    double max_age_hours;    /* freshness */
    char *sql;               /* sql: a predicate every row must satisfy */
} pipeline_rule_t;

typedef struct {
    char *name;
    pipeline_names_t depends_on;
    char *sql; /* a SQL step: the SELECT, written to target */
    struct {
        char *table; /* curated.db.table */
        pipeline_mode_t mode;
        pipeline_names_t keys, partition_by, sort_by;
        int64_t file_size_mb;
    } target;
    bool is_quality; /* a quality step: rules over table or an earlier step's output */
    char *quality_table;
    char *quality_input;
    pipeline_rule_t *rules;
    size_t n_rules;
} pipeline_step_t;

typedef struct {
    char *name;
    char *owner; /* NULL: whoever applies the spec */
    char *description;
    pipeline_names_t on_new_data; /* zone.db.table inputs whose new files trigger a run */
    char *schedule;               /* the cron text, NULL when none */
    cron_t cron;
    pipeline_names_t after; /* pipelines whose success triggers a run */
    int64_t batch_window_seconds;
    int64_t max_attempts, backoff_seconds;
    int64_t timeout_seconds;
    bool incremental;
    pipeline_step_t *steps;
    size_t n_steps;
    size_t *order; /* n_steps indexes into steps: each after all it depends on */
    bool *needs;   /* n_steps * n_steps: needs[i * n_steps + j], step i waits for step j
                    * (its depends_on and quality.input) */
} pipeline_spec_t;

/* The spec's word for a mode ("append", ...). Static string. */
const char *pipeline_mode_name(pipeline_mode_t mode);

/* Parses and validates yaml (len bytes). On success *out is a spec the caller frees with
 * pipeline_spec_free. On failure TARN_EINVAL (or TARN_ENOMEM) with a message that starts
 * with the path of the offending value, e.g. "steps[1].target.mode: must be ...". */
int pipeline_spec_parse(const char *yaml, size_t len, pipeline_spec_t **out, tarn_err_t *err);

void pipeline_spec_free(pipeline_spec_t *spec);

#endif
