/* The source registry, kept in the lake's catalog database: every source's configuration
 * as numbered versions (a change is a new version; deleting keeps the history), its
 * secrets sealed under the keyring apart from the configuration, whether it is paused,
 * the state it last reported, its cursor (written in the same transaction as the files it
 * covers) and its runs. The source runner (source_runner.h) acts on what is here; the REST
 * API and the CLI read it. Shapes are documented in docs/sources.md. */
#ifndef TARN_INGEST_SOURCES_H
#define TARN_INGEST_SOURCES_H

#include "govern/keyring.h"
#include "ingest/plugin.h"
#include "util/db.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum { SOURCE_NAME_MAX = 63 };

/* Creates the registry's tables in db if needed; runs that were running when the last
 * server stopped are queued again. */
int sources_init(db_t *db, tarn_err_t *err);

/* Whether name is a valid source name (1-63 of a-z, 0-9, _ and -, starting with a letter):
 * it names a catalog database, a replication slot and a metric label. */
int sources_check_name(const char *name, tarn_err_t *err);

/* Records a new source (create) or the next version of an existing one (!create) of
 * plugin p, with config as ingest_plugin_configure checked it: its secret keys are sealed
 * under kr and stored apart. A create also queues the first run. TARN_EEXISTS
 * (SourceExists) or TARN_ENOTFOUND (NoSuchSource); TARN_EINVAL when an update changes the
 * type. *out (caller decrefs) gets {"name", "id", "type", "version", "changed",
 * "created", "run" (the queued run, or null)}. */
int sources_apply(db_t *db, const keyring_t *kr, const ingest_plugin_t *p, const char *name,
                  const json_t *config, bool create, const char *by, json_t **out,
                  tarn_err_t *err);

/* {"sources": [{"name", "id", "type", "version", "paused", "state", "reason", "cursor",
 * "mode", "target", "updated", "schedule", "next_run", "watermarks" (mode incremental,
 * once a run read: {table: last watermark read})}]} in name order (state as last
 * recorded). */
int sources_list(db_t *db, json_t **out, tarn_err_t *err);
/* One source: the list's fields plus "config" (secrets shown as "(sealed)"), "versions"
 * [{"version", "created", "applied_by"}], "last_run". version 0: the latest. */
int sources_show(db_t *db, const char *name, int64_t version, json_t **out, tarn_err_t *err);

/* A source as the runner starts it. */
typedef struct {
    int64_t id, version;
    char name[SOURCE_NAME_MAX + 1];
    char type[32];
    bool paused;
    json_t *config; /* with its secrets in place when loaded with a keyring */
} source_row_t;
/* The live (not deleted) source called name (NULL: by id). With kr, its secrets are
 * unsealed into the config. TARN_ENOTFOUND (NoSuchSource). Free with source_row_free. */
int sources_load(db_t *db, const keyring_t *kr, const char *name, int64_t id,
                 source_row_t *out, tarn_err_t *err);
void source_row_free(source_row_t *r);
/* The live sources (id, name, version, paused, mode, queued runs, schedule) for the
 * runner's rounds: [{"id", "name", "type", "version", "paused", "mode", "queued",
 * "resnapshot", "schedule", "next_run" (unix ms; 0: to be computed)}]. */
int sources_active(db_t *db, json_t **out, tarn_err_t *err);

/* Pauses or resumes; TARN_ENOTFOUND. */
int sources_set_paused(db_t *db, const char *name, bool paused, tarn_err_t *err);
/* Marks the source deleted (no longer listed or run; its versions and runs stay), cancels
 * its queued runs, and fills *row (with secrets, for forgetting what it made at the other
 * end). TARN_ENOTFOUND. */
int sources_delete(db_t *db, const keyring_t *kr, const char *name, source_row_t *row,
                   tarn_err_t *err);

/* ---- runs ---- */
/* Queues a run (trigger "create", "manual"); one queued run is enough: *out gets it.
 * TARN_ENOTFOUND. A run: {"id", "source", "trigger", "resnapshot", "status":
 * queued|running|succeeded|failed|cancelled, "queued", "started", "finished", "rows",
 * "files", "tables" ({table: rows}), "error", "requested_by"}. trigger "schedule": the
 * source's schedule queued it. */
int sources_run_request(db_t *db, const char *name, const char *trigger, bool resnapshot,
                        const char *by, json_t **out, tarn_err_t *err);
/* {"runs": [...]} newest first, at most limit (0: 20). */
int sources_runs_list(db_t *db, const char *name, size_t limit, json_t **out, tarn_err_t *err);
int sources_run_get(db_t *db, int64_t id, json_t **out, tarn_err_t *err);
/* The runner: starts every queued run of the source (1 when there was one, 0 when none);
 * *run gets the oldest, *resnapshot whether any asked for a new snapshot. */
int sources_run_claim(db_t *db, int64_t source_id, int64_t *run, bool *resnapshot,
                      tarn_err_t *err);
/* Ends the runs started with run: status succeeded, failed (error) or cancelled, rows and
 * files delivered, rows read per table ({table: rows}; NULL: none). */
int sources_run_finish(db_t *db, int64_t run, const char *status, uint64_t rows,
                       uint64_t files, const json_t *tables, const char *error,
                       tarn_err_t *err);

/* ---- state and cursor ---- */
/* Records the state the source reports (and the reason when failed), for listings and
 * after a restart. */
int sources_state_set(db_t *db, int64_t id, const char *state, const char *reason,
                      tarn_err_t *err);
/* When a scheduled source's next run is due (unix ms; 0: to be computed again). */
int sources_next_run_set(db_t *db, int64_t id, int64_t next_ms, tarn_err_t *err);
/* The source's cursor (NULL when it has none yet; caller decrefs). */
int sources_cursor_get(db_t *db, int64_t id, json_t **out, tarn_err_t *err);
/* Records the cursor inside the caller's transaction (with the files it covers). */
int sources_cursor_set(db_t *db, int64_t id, const json_t *cursor, tarn_err_t *err);

#endif
