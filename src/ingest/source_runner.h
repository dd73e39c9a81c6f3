/* The source runner: runs the lake's sources in the background, each on a thread of its
 * own (a source waits on its database's socket), as the registry (sources.h) says: a
 * source in cdc mode runs while it is not paused, any source runs when a run is queued.
 * A source that fails is tried again after a back-off (5 s doubling to 5 minutes), or at
 * once when a run is requested; the registry survives restarts, so a restarted server
 * takes every source up again from its cursor. */
#ifndef TARN_INGEST_SOURCE_RUNNER_H
#define TARN_INGEST_SOURCE_RUNNER_H

#include "govern/keyring.h"
#include "ingest/sources.h"

typedef struct source_runner source_runner_t;

typedef struct {
    db_t *db;
    store_t *store;
    catalog_t *catalog;
    engine_t *engine;      /* Parquet conversion; reaches tmp_dir */
    const keyring_t *keyring;
    const char *tmp_dir;   /* staging (absolute, copied); each source gets a folder in it */
} source_runner_opts_t;

/* Starts the runner's thread; all borrowed until source_runner_stop. */
int source_runner_start(source_runner_t **out, const source_runner_opts_t *o, tarn_err_t *err);
/* Stops every source (their cursors are committed; nothing is lost) and frees. */
void source_runner_stop(source_runner_t *r);
/* Looks at the registry now rather than at the next round. */
void source_runner_wake(source_runner_t *r);

/* Stops the source's thread, if it runs, and waits for it (a pause, an update). */
void source_runner_halt(source_runner_t *r, int64_t id);
/* A deleted source (row from sources_delete): its thread stops, then its plugin forgets
 * what it made at the other end. */
int source_runner_forget(source_runner_t *r, const source_row_t *row, tarn_err_t *err);

/* The live status of source id (source_status_json), or NULL when it has not run since
 * the server started. Caller decrefs. */
json_t *source_runner_status(source_runner_t *r, int64_t id);
/* Appends the sources' Prometheus lines. */
void source_runner_metrics(source_runner_t *r, buf_t *out);

#endif
