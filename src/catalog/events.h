/* The durable event queue: a table in the lake's catalog database through which lower
 * layers' news (an object landed in raw, a table changed) reaches the layers that act on
 * it, without calls upward. Consumers read in id order and remember their position. */
#ifndef TARN_CATALOG_EVENTS_H
#define TARN_CATALOG_EVENTS_H

#include "storage/store.h"
#include "util/arena.h"
#include "util/db.h"
#include "util/err.h"

#include <stdint.h>

typedef struct {
    int64_t id;
    int64_t time_ms;
    const char *type;    /* "object.landed", ... */
    const char *zone;
    const char *key;
    const char *payload; /* JSON object */
} catalog_event_t;

/* Creates the events table in db if needed. */
int catalog_events_init(db_t *db, tarn_err_t *err);
/* Appends one event, committed before return; *id_out gets its id when not NULL. */
int catalog_event_append(db_t *db, const char *type, const char *zone, const char *key,
                         const char *payload, int64_t *id_out, tarn_err_t *err);
/* Landing: bytes arriving in (or leaving) a zone through any door (S3 PUT, multipart
 * completion, copy, delete, promotion, stream delivery). Objects of the zones that hold
 * tables (raw, cleaned, curated) write one event each for the layers above (crawler,
 * promotion), in the transaction that commits the object (a store hook); plain buckets
 * and quarantine stay outside the lake's flow and write none.
 * "object.landed" for o, just committed to the store: */
int catalog_event_object_landed(db_t *db, const store_object_t *o, const char *principal,
                                tarn_err_t *err);
/* "object.removed" for o->bucket/o->key: */
int catalog_event_object_removed(db_t *db, const store_object_t *o, const char *principal,
                                 tarn_err_t *err);
/* Events with id > after, oldest first, up to max; array and strings in arena a. */
int catalog_events_list(db_t *db, int64_t after, size_t max, catalog_event_t **out, size_t *n,
                        arena_t *a, tarn_err_t *err);

#endif
