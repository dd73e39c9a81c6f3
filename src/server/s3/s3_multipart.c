/* S3 multipart uploads: Create, UploadPart (streamed like PutObject), Complete (the
 * part list parsed from XML and checked), Abort, ListParts and ListMultipartUploads. */
#include "server/s3/s3.h"
#include "server/s3/s3_xml.h"
#include "server/server_state.h"
#include "storage/keys.h"
#include "storage/multipart.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

int s3_create_upload(req_t *r)
{
    store_meta_t meta;
    const char *id;
    int rc = s3_check_write_headers(r);
    if (!rc)
        rc = s3_meta_from_headers(r, &meta);
    if (rc)
        return rc;
    const char *algo = req_header(r, "x-amz-checksum-algorithm");
    meta.checksum_algo = algo;
    if ((rc = store_mpu_create(r->srv->store, r->bucket, r->key, &meta, &id, r->arena, &r->err)))
        return rc;
    buf_t b = BUF_INIT;
    buf_puts(&b, S3_XML_HEAD "<InitiateMultipartUploadResult xmlns=\"" S3_XMLNS "\">");
    s3_xml_elem(&b, "Bucket", r->bucket);
    s3_xml_elem(&b, "Key", r->key);
    s3_xml_elem(&b, "UploadId", id);
    buf_puts(&b, "</InitiateMultipartUploadResult>");
    req_respond_buf(r, 200, "application/xml", &b);
    return 0;
}

static int part_number(req_t *r, int *out)
{
    const char *v = req_query(r, "partNumber");
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || end == v || n < 1 || n > STORE_PART_MAX_NUMBER)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "part number must be an integer between 1 and %d", STORE_PART_MAX_NUMBER);
    *out = (int)n;
    return 0;
}

int s3_upload_part(req_t *r)
{
    int number = 0;
    store_upload_t u;
    const char *id = req_query(r, "uploadId");
    int rc = part_number(r, &number);
    if (!rc)
        rc = store_mpu_get(r->srv->store, r->bucket, r->key, id, &u, r->arena, &r->err);
    if (rc)
        return rc;
    const hash_digests_t *d = store_writer_digests(r->writer);
    if ((rc = s3_check_payload(r, d)))
        return rc;
    store_part_t part;
    store_writer_t *w = r->writer;
    r->writer = NULL;
    if ((rc = store_mpu_put_part(r->srv->store, id, number, w, &part, &r->err)))
        return rc;
    req_respond_bytes(r, 200, NULL, "", 0);
    req_add_header(r, "ETag", s3_quoted_etag(r, part.etag));
    return 0;
}

typedef struct {
    req_t *r;
    store_part_ref_t *parts;
    size_t n, cap;
    int number;
    const char *etag;
} complete_t;

static int on_complete_elem(void *ctx, const char *path, const char *text)
{
    complete_t *c = ctx;
    req_t *r = c->r;
    if (!text) {
        /* A part's checksums are the client's own record of what it sent; the ETag is
         * what ties the part to its upload. Any other element is refused, not skipped. */
        static const char *const known[] = {
            "CompleteMultipartUpload",
            "CompleteMultipartUpload/Part",
            "CompleteMultipartUpload/Part/PartNumber",
            "CompleteMultipartUpload/Part/ETag",
        };
        bool ok = !strncmp(path, "CompleteMultipartUpload/Part/Checksum", 37);
        for (size_t i = 0; i < sizeof known / sizeof *known && !ok; i++)
            ok = !strcmp(path, known[i]);
        if (!ok)
            return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                              "<%s> is not part of a CompleteMultipartUpload request", path);
        if (!strcmp(path, "CompleteMultipartUpload/Part")) {
            c->number = 0;
            c->etag = NULL;
        }
        return 0;
    }
    if (!strcmp(path, "CompleteMultipartUpload/Part/PartNumber")) {
        char *end;
        long n = strtol(text, &end, 10);
        if (*end || end == text || n < 1 || n > STORE_PART_MAX_NUMBER)
            return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                              "PartNumber '%s' is not an integer between 1 and 10000", text);
        c->number = (int)n;
    } else if (!strcmp(path, "CompleteMultipartUpload/Part/ETag")) {
        size_t n = strlen(text);
        const char *s = text;
        while (n && (*s == ' ' || *s == '\n' || *s == '\t')) s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t')) n--;
        if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
            s++, n -= 2;
        c->etag = arena_strndup(r->arena, s, n);
    } else if (!strcmp(path, "CompleteMultipartUpload/Part")) {
        if (!c->number || !c->etag)
            return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                              "each <Part> needs a <PartNumber> and an <ETag>");
        if (c->n == c->cap) {
            size_t ncap = c->cap ? c->cap * 2 : 64;
            if (ncap > STORE_PART_MAX_NUMBER * 2)
                return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML, "too many parts");
            store_part_ref_t *np = arena_alloc(r->arena, ncap * sizeof *np);
            if (!np)
                return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
            if (c->n)
                memcpy(np, c->parts, c->n * sizeof *np);
            c->parts = np;
            c->cap = ncap;
        }
        c->parts[c->n].number = c->number;
        c->parts[c->n].etag = c->etag;
        c->n++;
    }
    return 0;
}

static int complete_result(req_t *r, const store_object_t *o)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, S3_XML_HEAD "<CompleteMultipartUploadResult xmlns=\"" S3_XMLNS "\">");
    s3_xml_elem(&b, "Location", arena_sprintf(r->arena, "/%s/%s", r->bucket, r->key));
    s3_xml_elem(&b, "Bucket", r->bucket);
    s3_xml_elem(&b, "Key", r->key);
    s3_xml_elem(&b, "ETag", s3_quoted_etag(r, o->etag));
    buf_puts(&b, "</CompleteMultipartUploadResult>");
    req_respond_buf(r, 200, "application/xml", &b);
    return 0;
}

int s3_complete_upload(req_t *r)
{
    const char *id = req_query(r, "uploadId");
    store_upload_t u;
    store_object_t o;
    int rc = store_mpu_get(r->srv->store, r->bucket, r->key, id, &u, r->arena, &r->err);
    if (rc == TARN_ENOTFOUND &&
        !store_mpu_completed(r->srv->store, r->bucket, r->key, id, &o, r->arena, &r->err))
        return complete_result(r, &o); /* a retry of a completion that succeeded */
    if (rc)
        return rc;
    complete_t c = {.r = r};
    if ((rc = s3_xml_parse(r->body.data, r->body.len, "CompleteMultipartUpload", on_complete_elem,
                           &c, &r->err)))
        return rc;
    if (!c.n)
        return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                          "a CompleteMultipartUpload request must list at least one <Part>");
    store_hook_t hook = s3_landing_hook(r);
    rc = store_mpu_complete(r->srv->store, r->bucket, r->key, id, c.parts, c.n, &hook, &o, NULL,
                            NULL, r->arena, &r->err);
    if (rc)
        return rc;
    return complete_result(r, &o);
}

int s3_abort_upload(req_t *r)
{
    int rc = store_mpu_abort(r->srv->store, r->bucket, r->key, req_query(r, "uploadId"), &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

int s3_list_parts(req_t *r)
{
    const char *id = req_query(r, "uploadId");
    store_upload_t u;
    int rc = store_mpu_get(r->srv->store, r->bucket, r->key, id, &u, r->arena, &r->err);
    if (rc)
        return rc;
    const char *mp = req_query(r, "max-parts");
    const char *marker = req_query(r, "part-number-marker");
    long max = mp ? strtol(mp, NULL, 10) : 1000;
    int after = marker ? atoi(marker) : 0;
    if (max < 0 || max > 1000)
        max = 1000;
    store_part_t *parts;
    size_t n;
    bool truncated;
    if ((rc = store_mpu_list_parts(r->srv->store, id, after, (size_t)max, &parts, &n, &truncated,
                                   r->arena, &r->err)))
        return rc;
    buf_t b = BUF_INIT;
    buf_puts(&b, S3_XML_HEAD "<ListPartsResult xmlns=\"" S3_XMLNS "\">");
    s3_xml_elem(&b, "Bucket", r->bucket);
    s3_xml_elem(&b, "Key", r->key);
    s3_xml_elem(&b, "UploadId", id);
    buf_printf(&b, "<PartNumberMarker>%d</PartNumberMarker>", after);
    if (n)
        buf_printf(&b, "<NextPartNumberMarker>%d</NextPartNumberMarker>", parts[n - 1].number);
    buf_printf(&b, "<MaxParts>%ld</MaxParts><IsTruncated>%s</IsTruncated>", max,
               truncated ? "true" : "false");
    buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
    for (size_t i = 0; i < n; i++) {
        char t[25];
        time_fmt_iso_ms(t, parts[i].mtime_ms);
        buf_printf(&b, "<Part><PartNumber>%d</PartNumber>", parts[i].number);
        s3_xml_elem(&b, "LastModified", t);
        buf_printf(&b, "<ETag>&quot;%s&quot;</ETag>", parts[i].etag);
        s3_xml_elem_u64(&b, "Size", parts[i].size);
        buf_puts(&b, "</Part>");
    }
    buf_puts(&b, "</ListPartsResult>");
    req_respond_buf(r, 200, "application/xml", &b);
    return 0;
}

int s3_list_uploads(req_t *r)
{
    const char *prefix = req_query(r, "prefix");
    const char *km = req_query(r, "key-marker");
    const char *um = req_query(r, "upload-id-marker");
    const char *mu = req_query(r, "max-uploads");
    long max = mu ? strtol(mu, NULL, 10) : 1000;
    if (max < 0 || max > 1000)
        max = 1000;
    store_upload_t *v;
    size_t n;
    bool truncated;
    int rc = store_mpu_list(r->srv->store, r->bucket, prefix, km, um, (size_t)max, &v, &n,
                            &truncated, r->arena, &r->err);
    if (rc)
        return rc;
    buf_t b = BUF_INIT;
    buf_puts(&b, S3_XML_HEAD "<ListMultipartUploadsResult xmlns=\"" S3_XMLNS "\">");
    s3_xml_elem(&b, "Bucket", r->bucket);
    s3_xml_elem(&b, "KeyMarker", km ? km : "");
    s3_xml_elem(&b, "UploadIdMarker", um ? um : "");
    if (truncated && n) {
        s3_xml_elem(&b, "NextKeyMarker", v[n - 1].key);
        s3_xml_elem(&b, "NextUploadIdMarker", v[n - 1].upload_id);
    }
    if (prefix)
        s3_xml_elem(&b, "Prefix", prefix);
    buf_printf(&b, "<MaxUploads>%ld</MaxUploads><IsTruncated>%s</IsTruncated>", max,
               truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        char t[25];
        time_fmt_iso_ms(t, v[i].created_ms);
        buf_puts(&b, "<Upload>");
        s3_xml_elem(&b, "Key", v[i].key);
        s3_xml_elem(&b, "UploadId", v[i].upload_id);
        buf_puts(&b, "<Initiator><ID>tarn</ID><DisplayName>tarn</DisplayName></Initiator>");
        buf_puts(&b, "<Owner><ID>tarn</ID><DisplayName>tarn</DisplayName></Owner>");
        buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
        s3_xml_elem(&b, "Initiated", t);
        buf_puts(&b, "</Upload>");
    }
    buf_puts(&b, "</ListMultipartUploadsResult>");
    req_respond_buf(r, 200, "application/xml", &b);
    return 0;
}
