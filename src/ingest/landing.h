/* Landing: what happens when bytes arrive in a zone through any door (S3 PUT, multipart
 * completion, copy, REST upload). Objects landing in `raw` write one durable event for
 * the layers above (crawler, promotion); plain buckets stay outside the lake's flow. */
#ifndef TARN_INGEST_LANDING_H
#define TARN_INGEST_LANDING_H

#include "storage/store.h"
#include "util/db.h"

/* Records the landing of object o (just committed to the store). */
int landing_note_object(db_t *db, const store_object_t *o, const char *principal,
                        tarn_err_t *err);

#endif
