/* S3 object operations: PutObject (streamed to a store writer, every checksum the client
 * sent verified before commit), GetObject/HeadObject (conditional requests, ranges, part
 * numbers, sent from the file with sendfile), DeleteObject and CopyObject. */
#include "catalog/events.h"
#include "server/http.h"
#include "server/s3/s3.h"
#include "server/s3/s3_xml.h"
#include "server/server_state.h"
#include "storage/keys.h"
#include "storage/multipart.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_PUT_SIZE (5ULL << 30) /* S3's single-PUT limit */
#define MAX_USER_META 2048

const char *s3_quoted_etag(req_t *r, const char *etag)
{
    return arena_sprintf(r->arena, "\"%s\"", etag);
}

static int landed(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    req_t *r = ctx;
    return catalog_event_object_landed(r->srv->db, o, r->principal.name, err);
}

store_hook_t s3_landing_hook(req_t *r)
{
    return (store_hook_t){landed, r};
}

static int removed(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    req_t *r = ctx;
    return catalog_event_object_removed(r->srv->db, o, r->principal.name, err);
}

store_hook_t s3_removal_hook(req_t *r)
{
    return (store_hook_t){removed, r};
}

/* ---- metadata ---- */

static const char *content_encoding(req_t *r)
{
    const char *ce = req_header(r, "Content-Encoding");
    if (!ce)
        return NULL;
    /* aws-chunked describes the transfer, not the object: drop it from the list. */
    buf_t b = BUF_INIT;
    const char *p = ce;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if (t > p && !(t - p == 11 && !strncasecmp(p, "aws-chunked", 11))) {
            if (b.len)
                buf_putc(&b, ',');
            buf_append(&b, p, (size_t)(t - p));
        }
        p = e;
    }
    const char *out = b.len ? arena_strdup(r->arena, b.data) : NULL;
    buf_free(&b);
    return out;
}

int s3_meta_from_headers(req_t *r, store_meta_t *m)
{
    memset(m, 0, sizeof *m);
    m->content_type = req_header(r, "Content-Type");
    m->content_encoding = content_encoding(r);
    m->content_disposition = req_header(r, "Content-Disposition");
    m->content_language = req_header(r, "Content-Language");
    m->cache_control = req_header(r, "Cache-Control");
    m->expires = req_header(r, "Expires");
    json_t *o = json_object();
    size_t total = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name;
        if (strncasecmp(n, "x-amz-meta-", 11) || !n[11])
            continue;
        char *lower = arena_strdup(r->arena, n + 11);
        for (char *c = lower; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        total += strlen(lower) + strlen(r->headers[i].value);
        json_t *v = json_string(r->headers[i].value);
        if (!v) {
            json_decref(o);
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                              "metadata header x-amz-meta-%s is not valid UTF-8", lower);
        }
        json_object_set_new(o, lower, v);
    }
    if (total > MAX_USER_META) {
        json_decref(o);
        return TARN_ERR_R(&r->err, TARN_EINVAL, MetadataTooLarge,
                          "user metadata is %zu bytes; the limit is %d", total, MAX_USER_META);
    }
    if (json_object_size(o)) {
        char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        m->user_meta = t ? arena_strdup(r->arena, t) : NULL;
        free(t);
    }
    json_decref(o);
    return 0;
}

static void add_meta_headers(req_t *r, const store_object_t *o)
{
    if (!o->user_meta)
        return;
    json_t *m = json_loads(o->user_meta, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        req_add_header(r, arena_sprintf(r->arena, "x-amz-meta-%s", k), json_string_value(v));
    }
    json_decref(m);
}

/* ---- checksums ---- */

typedef struct {
    const char *header; /* x-amz-checksum-... */
    const char *algo;
    unsigned flag;
} checksum_t;

static const checksum_t checksums[] = {
    {"x-amz-checksum-crc32", "CRC32", HASH_CRC32},
    {"x-amz-checksum-crc32c", "CRC32C", HASH_CRC32C},
    {"x-amz-checksum-sha256", "SHA256", HASH_SHA256},
};

static bool mentions(const char *list, const char *word)
{
    if (!list)
        return false;
    size_t n = strlen(word);
    for (const char *p = list; (p = strcasestr(p, word)); p += n)
        if ((p == list || p[-1] == ',' || p[-1] == ' ') && (!p[n] || p[n] == ',' || p[n] == ' '))
            return true;
    return false;
}

/* Flexible checksums tarn cannot compute: refused rather than stored unverified. */
static const char *const unsupported_checksums[] = {"SHA1", "CRC64NVME"};

static int check_checksum_support(req_t *r)
{
    const char *trailer = req_header(r, "x-amz-trailer");
    const char *sdk = req_header(r, "x-amz-sdk-checksum-algorithm");
    for (size_t i = 0; i < sizeof unsupported_checksums / sizeof *unsupported_checksums; i++) {
        const char *algo = unsupported_checksums[i];
        char header[40] = "x-amz-checksum-";
        for (size_t j = 0, n = strlen(header); algo[j] && n + 1 < sizeof header; j++, n++)
            header[n] = (char)tolower((unsigned char)algo[j]);
        if (req_header(r, header) || mentions(trailer, header) || (sdk && !strcasecmp(sdk, algo)))
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRequest,
                              "the %s checksum algorithm is not supported by tarn; use CRC32, "
                              "CRC32C or SHA256",
                              algo);
    }
    return 0;
}

/* Checksums sent as headers are computed while the body is stored; ones sent as aws-chunked
 * trailers are computed and checked by the chunk decoder. */
static unsigned wanted_hashes(const req_t *r)
{
    unsigned f = 0;
    for (size_t i = 0; i < 3; i++)
        if (req_header(r, checksums[i].header))
            f |= checksums[i].flag;
    return f;
}

static void checksum_value(const hash_digests_t *d, unsigned flag, char out[64])
{
    uint8_t b[32];
    size_t n = 4;
    uint32_t v = flag == HASH_CRC32 ? d->crc32 : d->crc32c;
    if (flag == HASH_SHA256) {
        memcpy(b, d->sha256, 32);
        n = 32;
    } else {
        b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8),
        b[3] = (uint8_t)v;
    }
    hash_b64(out, b, n);
}

/* Checks every digest the client sent; remembers the flexible checksum for the object. */
static int check_payload(req_t *r, const hash_digests_t *d, store_meta_t *meta)
{
    int rc = sigv4_verify_payload(&r->auth, d->sha256, &r->err); /* a literal hash only */
    if (rc)
        return rc;
    const char *md5 = req_header(r, "Content-MD5");
    if (md5) {
        uint8_t want[16];
        if (hash_unb64(want, sizeof want, md5) != 16)
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidDigest,
                              "the Content-MD5 you specified is not valid base64 of 16 bytes");
        if (!hash_equal(want, 16, d->md5, 16))
            return TARN_ERR_R(&r->err, TARN_EINVAL, BadDigest,
                              "the Content-MD5 you specified did not match what we received");
    }
    for (size_t i = 0; i < 3; i++) {
        const char *want = req_header(r, checksums[i].header);
        if (want) {
            char got[64];
            checksum_value(d, checksums[i].flag, got);
            if (strcmp(got, want))
                return TARN_ERR_R(&r->err, TARN_EINVAL, BadDigest,
                                  "the %s you specified did not match the calculated checksum",
                                  checksums[i].algo);
        } else if (r->chunked) {
            want = sigv4_chunked_trailer(r->chunked, checksums[i].header); /* checked there */
        }
        if (want && meta) {
            meta->checksum_algo = checksums[i].algo;
            meta->checksum_value = arena_strdup(r->arena, want);
        }
    }
    return 0;
}

int s3_check_payload(req_t *r, const hash_digests_t *d)
{
    return check_payload(r, d, NULL);
}

/* ---- PutObject / UploadPart ---- */

static int put_sink(req_t *r, const void *p, size_t n)
{
    return store_writer_write(r->writer, p, n, &r->err);
}

int s3_check_write_headers(req_t *r)
{
    /* Features of a write that tarn does not offer are refused, never silently dropped:
     * the client would believe its object is tagged, encrypted or locked. */
    static const char *const refused[] = {
        "x-amz-tagging", "x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-object-lock-mode",
        "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
        "x-amz-website-redirect-location", "x-amz-grant-read", "x-amz-grant-full-control",
        "x-amz-grant-write-acp", "x-amz-grant-read-acp",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (req_header(r, refused[i]))
            return TARN_ERR_R(&r->err, TARN_EINVAL, NotImplemented,
                              "the %s header asks for a feature tarn does not offer; send the "
                              "request without it",
                              refused[i]);
    const char *acl = req_header(r, "x-amz-acl");
    if (acl && strcmp(acl, "private") && strcmp(acl, "bucket-owner-full-control"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, NotImplemented,
                          "canned ACL '%s' is not offered: access is governed by tarn's grants", acl);
    const char *sc = req_header(r, "x-amz-storage-class");
    if (sc && strcmp(sc, "STANDARD"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidStorageClass,
                          "the storage class '%s' is not offered; tarn has only STANDARD", sc);
    return 0;
}

int s3_put_begin(req_t *r)
{
    int rc = check_checksum_support(r);
    if (!rc && !req_has_query(r, "uploadId"))
        rc = s3_check_write_headers(r);
    if (rc)
        return rc;
    rc = store_check_key(r->key, &r->err);
    if (!rc)
        rc = store_bucket_check(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    const char *len = req_header(r, "x-amz-decoded-content-length");
    if (!len)
        len = req_header(r, "Content-Length");
    if (!len && !req_header(r, "Transfer-Encoding"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, MissingContentLength,
                          "you must provide the Content-Length HTTP header");
    if (len) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(len, &end, 10);
        if (errno || *end || end == len)
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                              "the content length '%s' is not a number", len);
        if (n > MAX_PUT_SIZE)
            return TARN_ERR_R(&r->err, TARN_EINVAL, EntityTooLarge,
                              "your proposed upload exceeds the maximum allowed size of 5 GiB");
    }
    /* Conditional writes: If-None-Match: * (create only) and If-Match: "etag". */
    const char *inm = req_header(r, "If-None-Match");
    const char *im = req_header(r, "If-Match");
    if (inm && strcmp(inm, "*"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, NotImplemented,
                          "If-None-Match on a write accepts only '*'");
    char *etag = NULL;
    if (im) {
        size_t n = strlen(im);
        etag = n >= 2 && im[0] == '"' && im[n - 1] == '"' ? arena_strndup(r->arena, im + 1, n - 2)
                                                           : arena_strdup(r->arena, im);
    }
    rc = store_writer_begin(&r->writer, r->srv->store, wanted_hashes(r), &r->err);
    if (!rc) /* a small new object is acknowledged once its catalog commit is synced */
        store_writer_defer_small(r->writer);
    if (!rc && (inm || im) && store_writer_set_condition(r->writer, inm != NULL, etag))
        rc = TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    if (rc)
        return rc;
    r->sink = put_sink;
    return 0;
}

int s3_put_object(req_t *r)
{
    store_meta_t meta;
    const hash_digests_t *d = store_writer_digests(r->writer);
    int rc = s3_meta_from_headers(r, &meta);
    if (!rc)
        rc = check_payload(r, d, &meta);
    if (rc)
        return rc;
    store_object_t o;
    store_writer_t *w = r->writer;
    r->writer = NULL;
    store_hook_t hook = s3_landing_hook(r);
    store_writer_set_hook(w, &hook);
    rc = store_writer_commit(w, r->bucket, r->key, &meta, &o, r->arena, &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 200, NULL, "", 0);
    req_add_header(r, "ETag", s3_quoted_etag(r, o.etag));
    if (meta.checksum_algo)
        req_add_header(r, arena_sprintf(r->arena, "x-amz-checksum-%s", meta.checksum_algo),
                       meta.checksum_value);
    return 0;
}

/* ---- versions ---- */

static int s3_check_version_id(req_t *r, const char *version_id)
{
    /* tarn keeps one version of each object, listed as "null": any other id names a
     * version that does not exist, and must not silently act on the current object. */
    if (version_id && strcmp(version_id, "null"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "invalid version id '%s': tarn keeps no object versions; the only "
                          "version id is 'null'",
                          version_id);
    return 0;
}

/* ---- GetObject / HeadObject ---- */

static bool etag_matches(const char *list, const char *etag)
{
    /* list: "*" or comma-separated quoted (or weak W/) ETags */
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (!strncmp(p, "W/", 2))
            p += 2;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *s = p, *t = e;
        while (t > s && t[-1] == ' ')
            t--;
        if (t - s >= 2 && *s == '"' && t[-1] == '"')
            s++, t--;
        if ((size_t)(t - s) == strlen(etag) && !strncmp(s, etag, (size_t)(t - s)))
            return true;
        p = e;
    }
    return false;
}

/* 0 to proceed; otherwise the error to answer (304 NotModified / 412 PreconditionFailed). */
static int check_conditions(req_t *r, const store_object_t *o)
{
    time_t mtime = (time_t)(o->mtime_ms / 1000), t;
    const char *im = req_header(r, "If-Match");
    const char *inm = req_header(r, "If-None-Match");
    const char *ims = req_header(r, "If-Modified-Since");
    const char *ius = req_header(r, "If-Unmodified-Since");
    if (im && !etag_matches(im, o->etag))
        return TARN_ERR_R(&r->err, TARN_EINVAL, PreconditionFailed,
                          "at least one of the pre-conditions you specified did not hold (If-Match)");
    if (!im && ius && !time_parse_http(&t, ius) && mtime > t)
        return TARN_ERR_R(&r->err, TARN_EINVAL, PreconditionFailed,
                          "at least one of the pre-conditions you specified did not hold "
                          "(If-Unmodified-Since)");
    if (inm && etag_matches(inm, o->etag))
        return TARN_ERR_R(&r->err, TARN_EINVAL, NotModified, "not modified");
    if (!inm && ims && !time_parse_http(&t, ims) && mtime <= t)
        return TARN_ERR_R(&r->err, TARN_EINVAL, NotModified, "not modified");
    return 0;
}

/* Parses "bytes=a-b" | "bytes=a-" | "bytes=-n". Returns 1 with a range, 0 to ignore the
 * header (malformed or several ranges: serve the whole object, as S3 does), or an error
 * for an unsatisfiable range. */
static int parse_range(req_t *r, const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    if (strncmp(h, "bytes=", 6) || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        if (!isdigit((unsigned char)p[1]))
            return 0;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end)
            return 0;
        if (n == 0 || size == 0)
            goto unsatisfiable;
        if (n > size)
            n = size;
        *off = size - n;
        *len = n;
        return 1;
    }
    if (!isdigit((unsigned char)*p))
        return 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (*end != '-')
        return 0;
    p = end + 1;
    unsigned long long b = size ? size - 1 : 0;
    if (*p) {
        if (!isdigit((unsigned char)*p))
            return 0;
        b = strtoull(p, &end, 10);
        if (*end || b < a)
            return 0;
        if (b >= size)
            b = size - 1;
    }
    if (a >= size)
        goto unsatisfiable;
    *off = a;
    *len = b - a + 1;
    return 1;
unsatisfiable:
    return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRange,
                      "the requested range is not satisfiable (object size %llu)",
                      (unsigned long long)size);
}

static void add_object_headers(req_t *r, const store_object_t *o)
{
    char date[30];
    time_fmt_http(date, (time_t)(o->mtime_ms / 1000));
    req_add_header(r, "ETag", s3_quoted_etag(r, o->etag));
    req_add_header(r, "Last-Modified", date);
    req_add_header(r, "Accept-Ranges", "bytes");
    const char *ct = req_query(r, "response-content-type");
    req_add_header(r, "Content-Type", ct ? ct : o->content_type ? o->content_type : "binary/octet-stream");
#define OVERRIDE(q, h, v)                                  \
    do {                                                   \
        const char *x = req_query(r, q);                   \
        req_add_header(r, h, x ? x : v);                   \
    } while (0)
    OVERRIDE("response-content-encoding", "Content-Encoding", o->content_encoding);
    OVERRIDE("response-content-disposition", "Content-Disposition", o->content_disposition);
    OVERRIDE("response-content-language", "Content-Language", o->content_language);
    OVERRIDE("response-cache-control", "Cache-Control", o->cache_control);
    OVERRIDE("response-expires", "Expires", o->expires);
#undef OVERRIDE
    add_meta_headers(r, o);
    const char *mode = req_header(r, "x-amz-checksum-mode");
    if (mode && !strcasecmp(mode, "ENABLED") && o->checksum_algo && o->checksum_value && !o->parts) {
        char name[40];
        snprintf(name, sizeof name, "x-amz-checksum-%s", o->checksum_algo);
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        req_add_header(r, arena_strdup(r->arena, name), o->checksum_value);
    }
}

int s3_get_object(req_t *r)
{
    store_object_t o;
    int fd = -1;
    int rc = s3_check_version_id(r, req_query(r, "versionId"));
    if (rc)
        return rc;
    rc = store_object_open(r->srv->store, r->bucket, r->key, &o, &fd, r->arena, &r->err);
    if (rc)
        return rc;
    uint64_t off = 0, len = o.size;
    int status = 200;
    bool ranged = false;
    const char *pn = req_query(r, "partNumber");
    const char *range = req_header(r, "Range");
    if ((rc = check_conditions(r, &o)))
        goto fail;
    if (pn && range) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRequest,
                        "cannot specify both a Range header and a partNumber query parameter");
        goto fail;
    }
    if (pn) {
        char *end;
        long n = strtol(pn, &end, 10);
        if (*end || end == pn || n < 1 || n > STORE_PART_MAX_NUMBER) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                            "part number must be an integer between 1 and 10000");
            goto fail;
        }
        if ((rc = store_object_part_range(&o, (int)n, &off, &len, &r->err)))
            goto fail;
        ranged = o.parts > 0 || o.size > 0;
    } else if (range) {
        rc = parse_range(r, range, o.size, &off, &len);
        if (rc < 0)
            goto fail;
        ranged = rc == 1;
        rc = 0;
    }
    if (ranged)
        status = 206;
    struct MHD_Response *resp;
    if (len == 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        fd = -1;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
        if (!resp)
            close(fd);
        fd = -1; /* owned by the response now */
    }
    if (!resp)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    req_respond(r, status, resp);
    add_object_headers(r, &o);
    if (ranged && len > 0)
        req_add_header(r, "Content-Range",
                       arena_sprintf(r->arena, "bytes %llu-%llu/%llu", (unsigned long long)off,
                                     (unsigned long long)(off + len - 1),
                                     (unsigned long long)o.size));
    if (pn && o.parts)
        req_add_header(r, "x-amz-mp-parts-count", arena_sprintf(r->arena, "%u", o.parts));
    r->bytes_out = strcmp(r->method, "HEAD") ? len : 0;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (r->err.reason == TARN_R_InvalidRange) {
        s3_xml_error(r, rc);
        req_add_header(r, "Content-Range",
                       arena_sprintf(r->arena, "bytes */%llu", (unsigned long long)o.size));
        return 0;
    }
    if (r->err.reason == TARN_R_NotModified) {
        req_respond_bytes(r, 304, NULL, "", 0);
        add_object_headers(r, &o);
        return 0;
    }
    return rc;
}

int s3_delete_object(req_t *r)
{
    int rc = s3_check_version_id(r, req_query(r, "versionId"));
    if (rc)
        return rc;
    store_hook_t hook = s3_removal_hook(r);
    rc = store_object_delete(r->srv->store, r->bucket, r->key, &hook, &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

/* ---- CopyObject ---- */

typedef struct {
    const char *bucket;
    const char *key;
} copy_src_t;

int s3_copy_begin(req_t *r)
{
    int check = s3_check_write_headers(r);
    if (check)
        return check;
    const char *h = req_header(r, "x-amz-copy-source");
    const char *q = strchr(h, '?');
    size_t n = q ? (size_t)(q - h) : strlen(h);
    char *src = http_unescape(r->arena, h, n, false);
    if (!src)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "x-amz-copy-source is not a valid percent-encoded bucket/key");
    if (q && !strncmp(q + 1, "versionId=", 10)) {
        const char *v = http_unescape(r->arena, q + 11, strlen(q + 11), false);
        int rc = s3_check_version_id(r, v ? v : q + 11);
        if (rc)
            return rc;
    }
    if (*src == '/')
        src++;
    char *slash = strchr(src, '/');
    if (!slash || !slash[1])
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "x-amz-copy-source must be in the form bucket/key");
    *slash = '\0';
    copy_src_t *cs = arena_alloc(r->arena, sizeof *cs);
    if (!cs)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    cs->bucket = src;
    cs->key = slash + 1;
    r->handler_state = cs;
    /* Reading the source is an action of its own, decided by the same check. */
    authz_decision_t d;
    const char *res = arena_sprintf(r->arena, "%s/%s", cs->bucket, cs->key);
    if (authz_check(&r->principal, "s3:GetObject", res, &d))
        return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                          "%s may not read the copy source %s", r->principal.name, res);
    return store_check_key(r->key, &r->err);
}

int s3_copy_object(req_t *r)
{
    copy_src_t *cs = r->handler_state;
    store_object_t src, dst;
    store_meta_t meta;
    int fd = -1, rc;
    store_writer_t *w = NULL;
    char *chunk = NULL;
    if ((rc = store_object_open(r->srv->store, cs->bucket, cs->key, &src, &fd, r->arena, &r->err)))
        return rc;
    const char *im = req_header(r, "x-amz-copy-source-if-match");
    const char *inm = req_header(r, "x-amz-copy-source-if-none-match");
    const char *ims = req_header(r, "x-amz-copy-source-if-modified-since");
    const char *ius = req_header(r, "x-amz-copy-source-if-unmodified-since");
    time_t mtime = (time_t)(src.mtime_ms / 1000), t;
    /* As for GET: a matching If-Match outranks If-Unmodified-Since, a failing
     * If-None-Match outranks If-Modified-Since. */
    bool failed = (im && !etag_matches(im, src.etag)) || (inm && etag_matches(inm, src.etag)) ||
                  (!im && ius && !time_parse_http(&t, ius) && mtime > t) ||
                  (!inm && ims && !time_parse_http(&t, ims) && mtime <= t);
    if (failed) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, PreconditionFailed,
                        "at least one of the pre-conditions you specified did not hold");
        goto done;
    }
    const char *directive = req_header(r, "x-amz-metadata-directive");
    bool replace = directive && !strcasecmp(directive, "REPLACE");
    if (!replace && !strcmp(cs->bucket, r->bucket) && !strcmp(cs->key, r->key)) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRequest,
                        "this copy request is illegal because it is trying to copy an object to "
                        "itself without changing the object's metadata");
        goto done;
    }
    if (replace) {
        if ((rc = s3_meta_from_headers(r, &meta)))
            goto done;
    } else {
        meta = (store_meta_t){src.content_type, src.content_encoding, src.content_disposition,
                              src.content_language, src.cache_control, src.expires,
                              src.user_meta, NULL, NULL};
    }
    if ((rc = store_writer_begin(&w, r->srv->store, 0, &r->err)))
        goto done;
    enum { CHUNK = 1 << 20 };
    chunk = malloc(CHUNK);
    if (!chunk) {
        rc = TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    while (fd >= 0) {
        ssize_t got = read(fd, chunk, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = TARN_ERR(&r->err, TARN_EIO, "read copy source: %s", strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        if ((rc = store_writer_write(w, chunk, (size_t)got, &r->err)))
            goto done;
    }
    store_hook_t hook = s3_landing_hook(r);
    store_writer_set_hook(w, &hook);
    rc = store_writer_commit(w, r->bucket, r->key, &meta, &dst, r->arena, &r->err);
    w = NULL;
    if (rc)
        goto done;
    buf_t b = BUF_INIT;
    char lm[25];
    time_fmt_iso_ms(lm, dst.mtime_ms);
    buf_puts(&b, S3_XML_HEAD "<CopyObjectResult xmlns=\"" S3_XMLNS "\">");
    s3_xml_elem(&b, "LastModified", lm);
    s3_xml_elem(&b, "ETag", s3_quoted_etag(r, dst.etag));
    buf_puts(&b, "</CopyObjectResult>");
    req_respond_buf(r, 200, "application/xml", &b);
done:
    free(chunk);
    store_writer_abort(w);
    if (fd >= 0)
        close(fd);
    return rc;
}
