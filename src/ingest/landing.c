/* Landing events for objects arriving in the raw zone; see landing.h. */
#include "ingest/landing.h"
#include "catalog/events.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int landing_note_object(db_t *db, const store_object_t *o, const char *principal,
                        tarn_err_t *err)
{
    if (strcmp(o->bucket, "raw"))
        return 0;
    char sha[65];
    hash_hex(sha, o->sha256, 32);
    json_t *p = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?}", "bucket", o->bucket, "key", o->key,
                          "size", (json_int_t)o->size, "etag", o->etag, "sha256", sha,
                          "principal", principal);
    char *text = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(p);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = catalog_event_append(db, "object.landed", o->bucket, o->key, text, NULL, err);
    free(text);
    return rc;
}
