/* S3 listings: ListObjects (V1), ListObjectsV2 and ListObjectVersions (answered with the
 * current objects, VersionId "null": tarn does not keep versions, but SDK clean-up code
 * calls it). Keys are URL-encoded in the answer when the client asks (encoding-type=url,
 * which the AWS CLI always does). */
#include "server/s3/s3.h"
#include "server/s3/s3_xml.h"
#include "server/server_state.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    req_t *r;
    buf_t *b;
    bool url;
    int kind; /* 1 = V1, 2 = V2, 3 = versions */
    size_t count;
    buf_t prefixes;
} list_t;

static void put_name(list_t *l, buf_t *b, const char *elem, const char *v)
{
    if (!l->url) {
        s3_xml_elem(b, elem, v);
        return;
    }
    buf_printf(b, "<%s>", elem);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == '/')
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
    buf_printf(b, "</%s>", elem);
}

static int on_entry(void *ctx, const store_entry_t *e)
{
    list_t *l = ctx;
    l->count++;
    if (e->is_prefix) {
        buf_puts(&l->prefixes, "<CommonPrefixes>");
        put_name(l, &l->prefixes, "Prefix", e->key);
        buf_puts(&l->prefixes, "</CommonPrefixes>");
        return 0;
    }
    char t[25];
    time_fmt_iso_ms(t, e->mtime_ms);
    buf_puts(l->b, l->kind == 3 ? "<Version>" : "<Contents>");
    put_name(l, l->b, "Key", e->key);
    if (l->kind == 3)
        buf_puts(l->b, "<VersionId>null</VersionId><IsLatest>true</IsLatest>");
    s3_xml_elem(l->b, "LastModified", t);
    buf_printf(l->b, "<ETag>&quot;%s&quot;</ETag>", e->etag);
    s3_xml_elem_u64(l->b, "Size", e->size);
    if (l->kind != 2 || req_has_query(l->r, "fetch-owner")) {
        buf_puts(l->b, "<Owner>");
        s3_xml_elem(l->b, "ID", "tarn");
        s3_xml_elem(l->b, "DisplayName", "tarn");
        buf_puts(l->b, "</Owner>");
    }
    buf_puts(l->b, "<StorageClass>STANDARD</StorageClass>");
    buf_puts(l->b, l->kind == 3 ? "</Version>" : "</Contents>");
    return 0;
}

static int max_keys(req_t *r, size_t *out, const char *param)
{
    const char *v = req_query(r, param);
    *out = 1000;
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < 0)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "%s must be a non-negative integer", param);
    *out = n > 1000 ? 1000 : (size_t)n;
    return 0;
}

static int encoding(req_t *r, bool *url)
{
    const char *e = req_query(r, "encoding-type");
    *url = false;
    if (!e)
        return 0;
    if (strcmp(e, "url"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "invalid encoding-type '%s'; the only valid value is 'url'", e);
    *url = true;
    return 0;
}

static int do_list(req_t *r, int kind)
{
    list_t l = {.r = r, .kind = kind};
    buf_t body = BUF_INIT;
    l.b = &body;
    size_t max;
    int rc = encoding(r, &l.url);
    if (!rc)
        rc = max_keys(r, &max, "max-keys");
    if (rc)
        return rc;
    const char *prefix = req_query(r, "prefix");
    const char *delim = req_query(r, "delimiter");
    const char *start = NULL;
    const char *token = NULL;
    if (kind == 1) {
        start = req_query(r, "marker");
    } else if (kind == 2) {
        if (req_query(r, "list-type") && strcmp(req_query(r, "list-type"), "2"))
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                              "list-type must be 2");
        start = req_query(r, "start-after");
        token = req_query(r, "continuation-token");
        if (token) {
            uint8_t *dec = arena_alloc(r->arena, strlen(token) + 1);
            long n = dec ? hash_unb64(dec, strlen(token), token) : -1;
            if (n <= 0)
                return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                                  "the continuation token provided is incorrect");
            dec[n] = '\0';
            start = (const char *)dec;
        }
    } else {
        start = req_query(r, "key-marker");
    }
    bool truncated;
    const char *last;
    store_list_opts_t o = {prefix, delim, start, max};
    rc = store_list(r->srv->store, r->bucket, &o, on_entry, &l, &truncated, &last, r->arena,
                    &r->err);
    if (rc) {
        buf_free(&body);
        buf_free(&l.prefixes);
        return rc;
    }
    buf_t b = BUF_INIT;
    const char *root = kind == 3 ? "ListVersionsResult" : "ListBucketResult";
    buf_printf(&b, S3_XML_HEAD "<%s xmlns=\"" S3_XMLNS "\">", root);
    s3_xml_elem(&b, "Name", r->bucket);
    put_name(&l, &b, "Prefix", prefix ? prefix : "");
    if (kind == 1)
        put_name(&l, &b, "Marker", start ? start : "");
    if (kind == 2 && start && !token)
        put_name(&l, &b, "StartAfter", start);
    if (kind == 2 && token)
        s3_xml_elem(&b, "ContinuationToken", token);
    if (kind == 3) {
        put_name(&l, &b, "KeyMarker", start ? start : "");
        s3_xml_elem(&b, "VersionIdMarker", "");
    }
    if (kind == 2)
        buf_printf(&b, "<KeyCount>%zu</KeyCount>", l.count);
    buf_printf(&b, "<MaxKeys>%zu</MaxKeys>", max);
    if (delim)
        put_name(&l, &b, "Delimiter", delim);
    if (l.url)
        s3_xml_elem(&b, "EncodingType", "url");
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (truncated && last) {
        if (kind == 1 && delim)
            put_name(&l, &b, "NextMarker", last);
        if (kind == 2) {
            size_t n = strlen(last);
            char *tok = arena_alloc(r->arena, 4 * ((n + 2) / 3) + 1);
            if (tok) {
                hash_b64(tok, (const uint8_t *)last, n);
                s3_xml_elem(&b, "NextContinuationToken", tok);
            }
        }
        if (kind == 3) {
            put_name(&l, &b, "NextKeyMarker", last);
            s3_xml_elem(&b, "NextVersionIdMarker", "null");
        }
    }
    if (body.len)
        buf_append(&b, body.data, body.len);
    if (l.prefixes.len)
        buf_append(&b, l.prefixes.data, l.prefixes.len);
    buf_printf(&b, "</%s>", root);
    buf_free(&body);
    buf_free(&l.prefixes);
    req_respond_buf(r, 200, "application/xml", &b);
    return 0;
}

int s3_list_v1(req_t *r)
{
    return do_list(r, 1);
}

int s3_list_v2(req_t *r)
{
    return do_list(r, 2);
}

int s3_list_versions(req_t *r)
{
    return do_list(r, 3);
}
