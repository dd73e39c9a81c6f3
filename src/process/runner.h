/* The pipeline runner: a scheduler thread that turns triggers (new data in an input table
 * after a batching window, cron schedules, another pipeline's success) into queued runs,
 * and a bounded pool of run threads that execute queued runs: steps in dependency order
 * (independent steps side by side), SQL steps through the query function the server
 * supplies (the owner's SQL session), quality rules, Parquet outputs staged and then
 * committed as one snapshot per target table, together with the run's status and
 * bookmarks, in one catalog transaction. A run that was running when the server died is
 * found at start and run again; its staged files never reached a snapshot, so nothing is
 * duplicated. Compaction of managed tables shares the output writer. */
#ifndef TARN_PROCESS_RUNNER_H
#define TARN_PROCESS_RUNNER_H

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "storage/store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct runner runner_t;

/* Lets the runner stop a query in flight (a run's timeout): the query function sets fn
 * and arg while its statement runs (under mu), and the runner calls fn(arg). */
typedef struct {
    pthread_mutex_t mu;
    void (*fn)(void *arg);
    void *arg;
    bool cancelled;
} runner_cancel_t;

/* Where a step's query writes: one zstd Parquet file at path, or with copy_options
 * (more COPY options the runner composes, never user text: PARTITION_BY, FILENAME_PATTERN,
 * FILE_SIZE_BYTES) the files of a folder path. */
typedef struct {
    const char *path;
    const char *copy_options;
    uint64_t rows;    /* out: rows written */
    json_t *columns;  /* out: the result's [{"name", "type"}] as written (caller decrefs) */
} runner_output_t;

/* Runs sql as user `owner` (SELECT over lake tables the owner may read, narrowed by
 * scope) and writes its whole result as out says. A denied table is an error naming
 * it. */
typedef int (*runner_query_fn)(void *ctx, const char *owner, const char *sql,
                               const catalog_scope_t *scope, runner_output_t *out,
                               runner_cancel_t *cancel, tarn_err_t *err);

typedef struct {
    const char *objects_dir; /* absolute path of <data>/objects */
    /* A folder on the objects' filesystem that engine may read and write, emptied at
     * start: staging of runs in flight. */
    const char *staging_dir;
    store_t *store;
    catalog_t *catalog;
    engine_t *engine; /* reads objects_dir and staging_dir */
    grants_t *grants; /* who may do what (owners are checked at every run) */
    iam_t *iam;       /* whether an owner exists and is the admin */
    runner_query_fn query;
    void *query_ctx;
    int max_runs;         /* runs at once (0: 2) */
    int step_workers;     /* steps of one run at once (0: 2) */
    int compact_min_files; /* automatic compaction of a partition with more small files
                            * than this after a commit (0: off) */
} runner_opts_t;

/* Recovers runs the last server left running, then starts the scheduler and the run
 * threads; everything in o is borrowed until runner_stop. */
int runner_start(runner_t **out, const runner_opts_t *o, tarn_err_t *err);
/* Cancels running runs (they are queued again for the next start) and stops. */
void runner_stop(runner_t *r);
/* Wakes the scheduler: a pipeline was applied, its triggers start now (NULL ok). Runs
 * queued and snapshots committed wake the runner on their own (catalog watches). */
void runner_wake(runner_t *r);

/* Rewrites the small Parquet files of managed table zone.db.name (per partition, those
 * under target_mb, 0: 128) into files of about target_mb and commits them as one new
 * snapshot (operation "compact"); query results do not change. *out (caller decrefs)
 * gets {"table", "snapshot", "files_before", "files_after", "partitions_compacted"}.
 * TARN_ECONFLICT NotManaged for a table the crawler owns. */
int runner_compact(runner_t *r, const char *zone, const char *db, const char *name,
                   int64_t target_mb, json_t **out, tarn_err_t *err);

#endif
