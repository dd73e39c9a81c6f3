/* The runner's statements on the registry's tables: claiming a queued run, its log, the
 * objects an attempt has staged, bookmarks, and ending an attempt; all small, each in
 * its own transaction unless it says it runs inside the caller's. */
#ifndef TARN_PROCESS_RUN_STORE_H
#define TARN_PROCESS_RUN_STORE_H

#include "catalog/catalog.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The columns run_store_row_json reads, in its order. */
#define RUN_STORE_COLS                                                                      \
    "id, pipeline, version, trigger, replay, status, attempt, max_attempts, queued_ms,"    \
    " started_ms, finished_ms, next_attempt_ms, error, steps, outputs, requested_by"
/* A run's JSON (pipelines_run_get's shape) from a row of RUN_STORE_COLS. */
json_t *run_store_row_json(sqlite3_stmt *st);

/* Runs sql with ?1 = text t (when not NULL) and ?2 = i, inside whatever transaction is
 * open. */
int run_store_exec(db_t *db, const char *sql, const char *t, int64_t i, tarn_err_t *err);

typedef struct {
    int64_t id, version, attempt, max_attempts;
    bool replay;
    char pipeline[64];
    char owner[130];
    int64_t owner_id; /* the owner's principal id (0: unknown, from before ids) */
    char *spec; /* YAML of the run's version (caller frees) */
} run_claim_t;

/* Takes the oldest queued run that is due and whose pipeline has no running run, marks
 * it running (attempt + 1) and fills *out. Returns 1 when one was claimed, 0 when none
 * waits, or a negative error. */
int run_store_claim(db_t *db, int64_t now_ms, run_claim_t *out, tarn_err_t *err);
/* When the first queued run that waits only for its time (a retry's backoff) becomes
 * due, in *due_ms (wall clock; INT64_MAX when none waits so). Runs that wait for a
 * running run of their pipeline are not counted: its end changes proc_runs. */
int run_store_next_due(db_t *db, int64_t *due_ms, tarn_err_t *err);
/* Appends a line to the run's log (its own statement; failures are ignored). */
void run_store_log(db_t *db, int64_t run, const char *level, const char *step,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Replaces the run's step records (progress while it runs). */
int run_store_steps(db_t *db, int64_t run, const json_t *steps, tarn_err_t *err);
/* Records keys (in the curated zone) as staged by the run before they are written, so a
 * crash leaves a list of what to remove. */
int run_store_stage(db_t *db, int64_t run, const json_t *keys, tarn_err_t *err);
/* The keys staged by run (caller decrefs). */
int run_store_staged(db_t *db, int64_t run, json_t **keys, tarn_err_t *err);
/* Ends an attempt that failed: back to queued after backoff_ms when attempts remain,
 * else failed. */
int run_store_fail(db_t *db, int64_t run, const char *error, int64_t backoff_ms,
                   tarn_err_t *err);
/* Marks the run succeeded with its outputs, inside the caller's transaction. */
int run_store_succeed(db_t *db, int64_t run, const json_t *outputs, const json_t *steps,
                      tarn_err_t *err);
/* Whether key of table ("zone.db.t") was processed by pipeline (a bookmark). */
typedef struct run_marks run_marks_t;
int run_store_marks_load(db_t *db, const char *pipeline, run_marks_t **out, tarn_err_t *err);
bool run_store_marks_has(const run_marks_t *m, const char *table, const char *key);
void run_store_marks_free(run_marks_t *m);
/* Records the files read (on_read's {"files": [...]} per table, as {table: [keys]}) as
 * processed by pipeline, inside the caller's transaction. replay first forgets the
 * pipeline's bookmarks (a replay reads everything). */
int run_store_marks_add(db_t *db, const char *pipeline, int64_t run, const json_t *read,
                        bool replay, tarn_err_t *err);
/* The highest change position (_source_pos) pipeline has applied to table, an
 * apply_changes target, into out ("" when none yet). */
int run_store_position_get(db_t *db, const char *pipeline, const char *table, char *out,
                           size_t cap, tarn_err_t *err);
/* Raises it to pos (never lowers it), inside the caller's transaction. */
int run_store_position_set(db_t *db, const char *pipeline, const char *table, const char *pos,
                           tarn_err_t *err);
/* Every key staged by the runs the last server left running (caller decrefs), for the
 * caller to remove before it calls run_store_requeue. */
int run_store_recover(db_t *db, json_t **keys, tarn_err_t *err);
/* Those runs go back to queued; the interrupted attempt does not count. */
int run_store_requeue(db_t *db, tarn_err_t *err);

#endif
