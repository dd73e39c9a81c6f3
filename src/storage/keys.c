/* Bucket-name and key validation; see keys.h. Keys map to paths under the bucket folder,
 * so anything a filesystem would interpret (.., empty segments, NUL) is refused here. */
#include "storage/keys.h"

#include <string.h>

const char *const store_zones[4] = {"raw", "cleaned", "curated", "quarantine"};

bool store_is_zone(const char *bucket)
{
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(bucket, store_zones[i]))
            return true;
    return false;
}

int store_check_bucket_name(const char *name, tarn_err_t *err)
{
    size_t n = strlen(name);
    if (n < 3 || n > 63)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidBucketName,
                          "bucket name must be 3 to 63 characters long");
    int dots = 0, digits_and_dots = 1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!ok)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidBucketName,
                              "bucket name may contain only lowercase letters, digits, '.' and '-'");
        if (c == '.') {
            dots++;
            if (i > 0 && name[i - 1] == '.')
                return TARN_ERR_R(err, TARN_EINVAL, InvalidBucketName,
                                  "bucket name must not contain two adjacent periods");
        } else if (!(c >= '0' && c <= '9')) {
            digits_and_dots = 0;
        }
    }
    char first = name[0], last = name[n - 1];
    if (first == '-' || first == '.' || last == '-' || last == '.')
        return TARN_ERR_R(err, TARN_EINVAL, InvalidBucketName,
                          "bucket name must begin and end with a letter or digit");
    if (digits_and_dots && dots == 3)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidBucketName,
                          "bucket name must not be formatted as an IP address");
    if (!strncmp(name, "xn--", 4) || (n > 8 && !strcmp(name + n - 8, "-s3alias")))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidBucketName,
                          "bucket name uses a reserved prefix or suffix");
    return 0;
}

/* Length of the UTF-8 sequence starting at p, or 0 if it is not well-formed. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    unsigned min;
    unsigned cp;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2, cp = p[0] & 0x1F, min = 0x80;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3, cp = p[0] & 0x0F, min = 0x800;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4, cp = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int store_check_key(const char *key, tarn_err_t *err)
{
    size_t n = strlen(key);
    if (n == 0)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "object key must not be empty");
    if (n > STORE_KEY_MAX)
        return TARN_ERR_R(err, TARN_EINVAL, KeyTooLongError,
                          "object key is %zu bytes; the limit is %d", n, STORE_KEY_MAX);
    if (key[0] == '/')
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "object key must not begin with '/'");
    const unsigned char *p = (const unsigned char *)key;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "object key contains a control character at byte %zu", i);
        size_t l = utf8_len(p + i);
        if (!l)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "object key is not valid UTF-8 (byte %zu)", i);
        i += l;
    }
    const char *seg = key;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (!slash && len == 0)
            break; /* trailing '/': a folder marker */
        if (len == 0)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "object key must not contain empty path segments ('//')");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "object key must not contain '.' or '..' path segments");
        /* Uploads are staged beside their object as ".tarn-<pid>-<n>.tmp" (store.c): a key
         * must never name such a file, or a write or a crash recovery could take it. */
        if (len >= 6 && !strncmp(seg, ".tarn-", 6))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "object key segments beginning with '.tarn-' are reserved for "
                              "tarn's own temporary files");
        if (len > STORE_SEGMENT_MAX)
            return TARN_ERR_R(err, TARN_EINVAL, KeyTooLongError,
                              "a path segment of the key is %zu bytes; the limit is %d", len,
                              STORE_SEGMENT_MAX);
        if (!slash)
            break;
        seg = slash + 1;
    }
    return 0;
}
