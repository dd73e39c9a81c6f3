/* The crawler: keeps the catalog in step with the zones. A background thread follows the
 * durable event queue (objects landed or removed in raw, cleaned and curated) and
 * registers what changed, batch by batch, recording its position in the same
 * transaction; on-demand crawls (a zone, optionally a key prefix) list the store and
 * register new or changed objects and forget removed ones. Files are classified by
 * several workers in parallel, each with its own engine connection. */
#ifndef TARN_CATALOG_CRAWLER_H
#define TARN_CATALOG_CRAWLER_H

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "storage/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct crawler crawler_t;

typedef struct {
    const char *objects_dir; /* absolute path of <data>/objects */
    store_t *store;
    catalog_t *catalog;
    engine_t *engine;
    int workers;             /* classifying threads; 0: one per core, at most 8 */
    bool follow_events;      /* run the background thread on the event queue */
} crawler_opts_t;

/* Starts the crawler thread; the store, catalog and engine are borrowed until
 * crawler_stop (objects_dir is copied). */
int crawler_start(crawler_t **out, const crawler_opts_t *o, tarn_err_t *err);
/* Finishes the current batch and stops. */
void crawler_stop(crawler_t *c);
/* Queues a crawl of zone (NULL: every table zone) under prefix (NULL: all); force
 * re-reads files that did not change. *id gets the job's id. */
int crawler_request(crawler_t *c, const char *zone, const char *prefix, bool force,
                    int64_t *id, tarn_err_t *err);
/* A job's progress: {"id", "zone", "prefix", "state": queued|running|done|failed,
 * "objects", "done", "registered", "failed", "removed", "unchanged", "tables_changed",
 * "versions_created", "started", "finished", "error"}. TARN_ENOTFOUND when unknown. */
int crawler_job(crawler_t *c, int64_t id, json_t **out, tarn_err_t *err);

#endif
