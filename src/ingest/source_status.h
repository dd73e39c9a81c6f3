/* A running source's state as it reports it: what it is doing (snapshotting with progress
 * per table, streaming, paused, failed with the reason), its cursor, its lag behind the
 * source and how many rows it delivered, for `tarn source status`, the REST API and
 * /metrics. Written by the source's thread, read by any; every call takes the lock. */
#ifndef TARN_INGEST_SOURCE_STATUS_H
#define TARN_INGEST_SOURCE_STATUS_H

#include "util/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct source_status source_status_t;

source_status_t *source_status_create(void); /* NULL on out of memory */
void source_status_free(source_status_t *s);

/* "starting", "snapshotting", "reading" (mode incremental), "streaming", "idle", "paused",
 * "failed", "stopped". Leaving
 * "failed" keeps the last error (shown as last_error) but not as the reason. */
void source_status_state(source_status_t *s, const char *state);
/* The state "failed" with its reason. */
void source_status_fail(source_status_t *s, const char *reason);
/* A table's snapshot progress: rows read so far of about total (-1: unknown), done. */
void source_status_table(source_status_t *s, const char *table, int64_t rows, int64_t total,
                         bool done);
/* Forgets every table's progress (a new snapshot starts). */
void source_status_tables_reset(source_status_t *s);
/* Rows just delivered (committed with their files). */
void source_status_delivered(source_status_t *s, uint64_t rows, uint64_t files);
/* The cursor as text ("16/B374D848"), after each commit. */
void source_status_cursor(source_status_t *s, const char *cursor);
/* How far behind the source is: seconds since the oldest change not yet delivered was
 * committed there, and bytes of the source's log not yet confirmed. */
void source_status_lag(source_status_t *s, double seconds, int64_t bytes);

/* The current state into out, and the rows delivered so far. */
void source_status_get(source_status_t *s, char *state, size_t cap, uint64_t *rows);

/* {"state", "reason" (when failed), "cursor", "lag_seconds", "lag_bytes", "rows",
 * "files", "rows_per_second", "last_error", "last_error_at", "tables": [{"table",
 * "rows", "total", "done"}], "since"}. Caller decrefs. */
json_t *source_status_json(source_status_t *s);
/* Prometheus metric families of sources (docs/sources.md), each gathered in its own buffer
 * so that the lines of one family stay together across sources. */
enum { SOURCE_METRICS = 7 };
/* The "# HELP" and "# TYPE" lines of family i. */
extern const char *const source_metric_head[SOURCE_METRICS];
/* Appends the source called name's line(s) of each family i to fam[i]. */
void source_status_metrics(source_status_t *s, const char *name, buf_t fam[SOURCE_METRICS]);

#endif
