/* Validation of bucket names and object keys for the local object store: S3 naming
 * rules for buckets, and keys that can never escape their bucket's folder. */
#ifndef TARN_STORAGE_KEYS_H
#define TARN_STORAGE_KEYS_H

#include "util/err.h"

#include <stdbool.h>

#define STORE_KEY_MAX 1024    /* S3's limit, in bytes of UTF-8 */
#define STORE_SEGMENT_MAX 255 /* one path segment must fit a filesystem name */

/* The lake's zones: buckets that always exist and cannot be deleted. */
extern const char *const store_zones[4];
bool store_is_zone(const char *bucket);

/* 0, or TARN_EINVAL with reason InvalidBucketName and a message saying which rule failed. */
int store_check_bucket_name(const char *name, tarn_err_t *err);
/* 0, or TARN_EINVAL with reason KeyTooLongError / InvalidArgument naming the problem:
 * empty, not UTF-8, NUL or control bytes, "." or ".." segments, empty segments, a leading
 * '/', or a segment over 255 bytes. A trailing '/' (a folder marker) is allowed. */
int store_check_key(const char *key, tarn_err_t *err);

#endif
