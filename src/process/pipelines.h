/* The pipeline registry and run records, kept in the lake's catalog database: applied
 * specs (every change is a new version; deleting keeps the history), runs with their
 * status, steps and logs, and the bookmarks of incremental pipelines. The runner
 * (process/runner.h) executes what is queued here; the REST API and the CLI read it.
 * Shapes are documented in docs/pipelines.md. */
#ifndef TARN_PROCESS_PIPELINES_H
#define TARN_PROCESS_PIPELINES_H

#include "catalog/catalog.h"
#include "process/pipeline_spec.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Creates the registry's tables in db if needed. */
int pipelines_init(db_t *db, tarn_err_t *err);

/* Parses and validates yaml (pipeline_spec_parse's errors) and records it as the next
 * version of its pipeline, owned by the spec's owner or else by `applier`, whose principal
 * id is owner_id (the owner is that principal, not whoever bears the name later).
 * Applying the same text for the same owner again changes nothing. *out (caller decrefs)
 * gets {"name", "version", "owner", "changed": bool, "created": bool}. */
int pipelines_apply(catalog_t *c, const char *yaml, size_t len, const char *applier,
                    int64_t owner_id, json_t **out, tarn_err_t *err);
/* {"pipelines": [{"name", "version", "owner", "owner_id", "description", "triggers": {"on_new_data",
 * "schedule", "after"}, "steps", "updated", "last_run": {"id", "status", "finished"} or
 * null, "next_run": ISO time of the next cron fire or null}]} in name order. */
int pipelines_list(catalog_t *c, json_t **out, tarn_err_t *err);
/* One pipeline: the list's fields plus "spec" (the YAML text of `version`, 0: the
 * latest), "versions": [{"version", "created", "applied_by"}], "incremental" and
 * "bookmarks": [{"table", "files"}]. TARN_ENOTFOUND (NoSuchPipeline). */
int pipelines_show(catalog_t *c, const char *name, int64_t version, json_t **out,
                   tarn_err_t *err);
/* The owner of the pipeline's latest version (its name copied into owner, its principal
 * id in *owner_id). TARN_ENOTFOUND. */
int pipelines_owner(catalog_t *c, const char *name, char *owner, size_t cap, int64_t *owner_id,
                    tarn_err_t *err);
/* Deletes a pipeline: it is no longer listed or triggered; queued runs are cancelled,
 * its tables and their snapshots stay. TARN_ENOTFOUND; TARN_ECONFLICT (reason
 * PipelineRunning) while a run is running. */
int pipelines_delete(catalog_t *c, const char *name, tarn_err_t *err);

/* Queues a run of the pipeline's latest version. trigger: "manual", "schedule",
 * "new_data", "after:<pipeline>"; replay: rebuild the outputs from everything in cleaned
 * (bookmarks ignored, outputs overwritten). A pipeline that already has a queued run of
 * the same kind gets no second one: *run_id then names the queued one. *out (NULL for
 * none) gets the run's JSON as pipelines_run_get gives it. */
int pipelines_run_request(catalog_t *c, const char *name, const char *trigger, bool replay,
                          const char *requested_by, int64_t *run_id, json_t **out,
                          tarn_err_t *err);
/* {"runs": [run...]} newest first, at most limit (0: 20), of pipeline name (NULL: all).
 * A run: {"id", "pipeline", "version", "trigger", "replay", "status": queued|running|
 * succeeded|failed|cancelled, "attempt", "max_attempts", "queued", "started", "finished",
 * "next_attempt", "error", "steps": [{"name", "kind": sql|quality, "status", "rows_in",
 * "rows_out", "bytes", "quarantined", "started", "finished", "error", "rules": [...]}],
 * "outputs": [{"table", "snapshot", "files", "rows"}], "requested_by"}. */
int pipelines_runs_list(catalog_t *c, const char *name, size_t limit, json_t **out,
                        tarn_err_t *err);
/* One run; TARN_ENOTFOUND (NoSuchRun). */
int pipelines_run_get(catalog_t *c, int64_t id, json_t **out, tarn_err_t *err);
/* {"run", "logs": [{"time", "level", "step", "message"}]} of run id (0: the pipeline's
 * latest run). */
int pipelines_run_logs(catalog_t *c, const char *name, int64_t id, json_t **out,
                       tarn_err_t *err);

#endif
