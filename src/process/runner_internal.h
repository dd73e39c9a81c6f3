/* What the runner's files share: the runner, one run in progress, and the entry points
 * of executing a run (run_exec.c), committing it (run_commit.c) and compaction. */
#ifndef TARN_PROCESS_RUNNER_INTERNAL_H
#define TARN_PROCESS_RUNNER_INTERNAL_H

#include "process/output.h"
#include "process/pipeline_spec.h"
#include "process/run_store.h"
#include "process/runner.h"
#include "util/worker.h"

#include <limits.h>

enum { STEP_PENDING, STEP_RUNNING, STEP_DONE, STEP_FAILED, STEP_SKIPPED };

typedef struct {
    int state;
    char *staged;      /* SQL steps: the Parquet file holding the step's rows now */
    char *quarantine;  /* quality steps: staged JSON lines of quarantined rows, or NULL */
    int64_t rows_in, rows_out, bytes, quarantined;
    int64_t started_ms, finished_ms;
    json_t *rules;     /* quality steps: each rule's result */
    char error[1024];
    runner_cancel_t cancel;
    /* SQL steps with a target: what the commit writes (direct: the step wrote it). */
    bool direct;
    output_files_t out;
    char *columns, *partition_keys;
    int64_t base_snapshot;
    json_t *removes;   /* keys */
    const char *operation;
    /* apply_changes targets: the table is rebuilt from every change (not updated from its
     * current rows), and the highest change position applied. */
    bool rebuild;
    char position[64];
} step_run_t;

typedef struct run_ctx {
    struct runner *r;
    run_claim_t claim;
    pipeline_spec_t *spec;
    authz_principal_t owner;
    char dir[PATH_MAX];  /* this attempt's staging folder */
    engine_conn_t *conn; /* the commit's statements (never user SQL) */
    runner_cancel_t cancel; /* stops conn's statement */
    run_marks_t *marks;  /* bookmarks, for incremental runs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    step_run_t *steps;
    bool *reach;         /* n*n: step i depends on step j, directly or not */
    size_t running;
    json_t *read;        /* {table: {"snapshot": n, "files": [keys]}} read by SQL steps */
    bool failed;
    char error[1024];
    int64_t deadline_ms;
    bool timed_out, stopping;
    struct run_ctx *next; /* in the runner's list of runs in progress */
} run_ctx_t;

struct runner {
    runner_opts_t o;
    char objects_dir[PATH_MAX], staging_dir[PATH_MAX];
    pthread_mutex_t mu; /* stop and active */
    bool stop;
    worker_t *sched;    /* woken by new snapshots, pipelines applied, runs starting */
    worker_t **workers; /* run threads, woken by changes of proc_runs */
    int nworkers;
    int watches[2];     /* proc_runs; cat_tables (the scheduler's) */
    run_ctx_t *active;
    /* The scheduler's parsed specs (its thread's alone), by name and version: a spec is
     * read and parsed once per version, not at every pass. */
    struct sched_spec *specs;
    size_t nspecs;
};

/* The output options of SQL step i (dir, prefix and tag are filled, of the sizes given). */
void run_output_opts(const run_ctx_t *ctx, size_t i, output_opts_t *o, char *dir, size_t dcap,
                     char *prefix, size_t pcap, char *tag, size_t tcap);
/* Runs the steps of a claimed run; 0 when they all passed (the outputs are staged in the
 * steps), else an error with the reason in ctx->error. */
int run_exec_steps(run_ctx_t *ctx);
/* Writes the staged outputs as the target tables' files, publishes them and commits the
 * snapshots with the run's status and bookmarks in one transaction. */
int run_commit(run_ctx_t *ctx, json_t **outputs, tarn_err_t *err);
/* Removes the objects named "bucket/key" in staged (what an attempt published before a
 * commit that did not happen); a missing one is no error. */
void run_remove_staged(store_t *store, const json_t *staged);
/* The steps' records as the run's JSON shows them. */
json_t *run_steps_json(const run_ctx_t *ctx);
/* Lets c stop conn's statements (NULL: no longer); TARN_EBUSY when c was already
 * cancelled. */
int run_watch_conn(runner_cancel_t *c, engine_conn_t *conn, tarn_err_t *err);
/* Stops every query of the run in flight. */
void run_cancel(run_ctx_t *ctx);

/* apply_changes targets (apply_changes.c). Checks step i's staged change rows and reads
 * their positions: *late is set when they cannot be applied over the table as it is (no
 * position recorded yet, or a change at or before one already applied: a file promoted
 * after a later one), so the run reads its whole input and rebuilds the table. */
int apply_changes_check(run_ctx_t *ctx, size_t i, bool *late, tarn_err_t *err);
/* Writes step i's target files: the latest change per key applied over the current rows
 * (cur_keys, unless rebuilding), rewriting only the partitions holding touched keys when
 * the table is partitioned; fills the step's out, columns and removes. */
int apply_changes_write(run_ctx_t *ctx, size_t i, const catalog_name_t *n, const json_t *cur_keys,
                        tarn_err_t *err);

/* runner_compact for the automatic policy: only when a partition holds more than
 * o.compact_min_files files under the target size; *out as runner_compact's. */
int runner_compact_auto(runner_t *r, const char *zone, const char *db, const char *name,
                        int64_t target_mb, json_t **out, tarn_err_t *err);

#endif
