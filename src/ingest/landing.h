/* Landing: what happens when bytes arrive in (or leave) a zone through any door (S3 PUT,
 * multipart completion, copy, delete, REST upload). Objects landing in the zones that
 * hold tables (raw, cleaned, curated) write one durable event for the layers above
 * (crawler, promotion); plain buckets and quarantine stay outside the lake's flow. */
#ifndef TARN_INGEST_LANDING_H
#define TARN_INGEST_LANDING_H

#include "storage/store.h"
#include "util/db.h"

/* Records the landing of object o (just committed to the store): "object.landed". */
int landing_note_object(db_t *db, const store_object_t *o, const char *principal,
                        tarn_err_t *err);
/* Records the removal of o->bucket/o->key: "object.removed". */
int landing_note_removal(db_t *db, const store_object_t *o, const char *principal,
                         tarn_err_t *err);

#endif
