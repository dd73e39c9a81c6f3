/* Landing events for objects arriving in or leaving the table zones; see landing.h. */
#include "ingest/landing.h"
#include "catalog/events.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool table_zone(const char *bucket)
{
    return !strcmp(bucket, "raw") || !strcmp(bucket, "cleaned") || !strcmp(bucket, "curated");
}

static int append(db_t *db, const char *type, const store_object_t *o, json_t *p,
                  tarn_err_t *err)
{
    char *text = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(p);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = catalog_event_append(db, type, o->bucket, o->key, text, NULL, err);
    free(text);
    return rc;
}

int landing_note_object(db_t *db, const store_object_t *o, const char *principal,
                        tarn_err_t *err)
{
    if (!table_zone(o->bucket))
        return 0;
    char sha[65];
    hash_hex(sha, o->sha256, 32);
    return append(db, "object.landed", o,
                  json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?}", "bucket", o->bucket, "key", o->key,
                            "size", (json_int_t)o->size, "etag", o->etag, "sha256", sha,
                            "principal", principal),
                  err);
}

int landing_note_removal(db_t *db, const store_object_t *o, const char *principal,
                         tarn_err_t *err)
{
    if (!table_zone(o->bucket))
        return 0;
    return append(db, "object.removed", o,
                  json_pack("{s:s, s:s, s:s?}", "bucket", o->bucket, "key", o->key, "principal",
                            principal),
                  err);
}
