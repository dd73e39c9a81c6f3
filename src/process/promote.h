/* Promotion raw -> cleaned: every object that lands in raw is checked against its table's
 * policy and moved, in its original bytes, to cleaned (registered in the cleaned table)
 * or to quarantine (with <key>.reason.json beside it). A thread follows the durable event
 * queue with its own cursor and records each landing as a row of proc_promotions in the
 * same transaction; each row then goes through explicit states (pending, moved, kept) and
 * every step is idempotent, so kill -9 at any point neither loses nor duplicates one. */
#ifndef TARN_PROCESS_PROMOTE_H
#define TARN_PROCESS_PROMOTE_H

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "storage/store.h"

#include <jansson.h>
#include <stdint.h>

typedef struct promoter promoter_t;

typedef struct {
    const char *objects_dir; /* absolute path of <data>/objects */
    store_t *store;
    catalog_t *catalog;
    engine_t *engine;        /* reads the objects folder */
    /* How long raw keeps an object after it was moved, in seconds, for tables whose
     * policy does not say (0: removed at once). */
    int64_t raw_retention_s;
    /* Objects checked side by side (0: one per core, at most 8). Objects that share a key
     * or an ETag are still taken one after the other, in the order they landed. */
    int workers;
} promote_opts_t;

/* Creates the promoter's tables in db if needed (also when promotion is off, so the
 * quarantine stays listable). */
int promote_init(db_t *db, tarn_err_t *err);
/* Starts the promoter thread; store, catalog and engine are borrowed until promote_stop
 * (objects_dir is copied). */
int promote_start(promoter_t **out, const promote_opts_t *o, tarn_err_t *err);
/* Finishes the object in hand and stops. */
void promote_stop(promoter_t *p);

/* {"objects": [{"key", "table", "check", "detail", "line", "row", "size", "time",
 * "release": "pending" when a release waits}]} in key order, of table db.name when
 * db is not NULL. Caller decrefs. */
int promote_quarantine_list(catalog_t *c, const char *db, const char *name, json_t **out,
                            tarn_err_t *err);
/* Queues quarantine/key for another pass through promotion (after its table's policy or
 * schema was fixed): it moves to cleaned if it passes now, else stays with a new reason.
 * *out gets {"key", "release": "pending"}. TARN_ENOTFOUND (NoSuchKey) when key is not in
 * quarantine. */
int promote_quarantine_release(catalog_t *c, store_t *s, const char *key, json_t **out,
                               tarn_err_t *err);
/* Calls line(ctx, name, labels, value) for tarn_promotions_total{outcome},
 * tarn_promoter_lag_events (landings not yet taken in) and tarn_promotions_pending. */
int promote_metrics(catalog_t *c,
                    void (*line)(void *ctx, const char *name, const char *labels, long long value),
                    void *ctx, tarn_err_t *err);

#endif
