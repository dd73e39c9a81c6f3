/* Multipart uploads (S3 semantics): parts are kept under <data>/tmp/uploads/<id>/ until
 * Complete stitches them into one object (ETag = MD5 of the part MD5s, "-N"). */
#ifndef TARN_STORAGE_MULTIPART_H
#define TARN_STORAGE_MULTIPART_H

#include "storage/store.h"

#define STORE_PART_MIN (5u * 1024 * 1024) /* every part but the last */
#define STORE_PART_MAX_NUMBER 10000

typedef struct {
    const char *upload_id;
    const char *bucket;
    const char *key;
    int64_t created_ms;
} store_upload_t;

typedef struct {
    int number;
    uint64_t size;
    char etag[33];
    int64_t mtime_ms;
} store_part_t;

/* Starts an upload; *upload_id is allocated in a. */
int store_mpu_create(store_t *s, const char *bucket, const char *key, const store_meta_t *meta,
                     const char **upload_id, arena_t *a, tarn_err_t *err);
/* The upload, TARN_ENOTFOUND reason NoSuchUpload when unknown or not for bucket/key. */
int store_mpu_get(store_t *s, const char *bucket, const char *key, const char *upload_id,
                  store_upload_t *out, arena_t *a, tarn_err_t *err);
/* Stores a part from a finished writer (its bytes become part `number`, replacing any
 * previous one). Frees the writer. */
int store_mpu_put_part(store_t *s, const char *upload_id, int number, store_writer_t *w,
                       store_part_t *out, tarn_err_t *err);
/* Parts in number order, starting after `after`, up to max; *truncated when more. */
int store_mpu_list_parts(store_t *s, const char *upload_id, int after, size_t max,
                         store_part_t **out, size_t *n, bool *truncated, arena_t *a,
                         tarn_err_t *err);
/* Completes with the client's part list (numbers ascending, ETags without quotes).
 * Errors: InvalidPartOrder, InvalidPart, EntityTooSmall, NoSuchUpload. progress, when
 * not NULL, is called as bytes are stitched (long uploads keep the client's connection
 * alive with it). */
typedef struct {
    int number;
    const char *etag;
} store_part_ref_t;
typedef void (*store_progress_cb)(void *ctx, uint64_t done);
int store_mpu_complete(store_t *s, const char *bucket, const char *key, const char *upload_id,
                       const store_part_ref_t *parts, size_t nparts, const store_hook_t *hook,
                       store_object_t *out, store_progress_cb progress, void *pctx, arena_t *a,
                       tarn_err_t *err);
/* When upload_id was completed (within a day) into the object bucket/key still holds,
 * fills out with that object; TARN_ENOTFOUND NoSuchUpload otherwise. */
int store_mpu_completed(store_t *s, const char *bucket, const char *key, const char *upload_id,
                        store_object_t *out, arena_t *a, tarn_err_t *err);
int store_mpu_abort(store_t *s, const char *bucket, const char *key, const char *upload_id,
                    tarn_err_t *err);
/* Uploads of a bucket in (key, upload id) order after the markers, up to max. */
int store_mpu_list(store_t *s, const char *bucket, const char *prefix, const char *key_marker,
                   const char *upload_id_marker, size_t max, store_upload_t **out, size_t *n,
                   bool *truncated, arena_t *a, tarn_err_t *err);
/* Opens the bytes of one part of a completed multipart object: offset and length of
 * part `number` inside the object (1-based), TARN_EINVAL InvalidPartNumber otherwise. */
int store_object_part_range(const store_object_t *o, int number, uint64_t *offset,
                            uint64_t *length, tarn_err_t *err);

#endif
