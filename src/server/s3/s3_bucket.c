/* S3 bucket operations: list, create and delete plain buckets (the zones always exist
 * and cannot be deleted), HeadBucket, GetBucketLocation, GetBucketVersioning and the
 * multi-object DeleteObjects. */
#include "server/errors.h"
#include "server/s3/s3.h"
#include "server/s3/s3_xml.h"
#include "server/server_state.h"
#include "storage/keys.h"
#include "util/timeutil.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Names that would shadow the server's own endpoints in path-style addressing. */
static const char *const reserved[] = {"metrics", "healthz", "console"};

int s3_list_buckets(req_t *r)
{
    store_bucket_t *v;
    size_t n;
    int rc = store_bucket_list(r->srv->store, r->arena, &v, &n, &r->err);
    if (rc)
        return rc;
    buf_t b = BUF_INIT;
    buf_puts(&b, S3_XML_HEAD "<ListAllMyBucketsResult xmlns=\"" S3_XMLNS "\"><Owner>");
    s3_xml_elem(&b, "ID", r->principal.name);
    s3_xml_elem(&b, "DisplayName", r->principal.name);
    buf_puts(&b, "</Owner><Buckets>");
    for (size_t i = 0; i < n; i++) {
        char t[25];
        if (!authz_bucket_visible(&r->principal, v[i].name))
            continue; /* bucket names are not everyone's to know */
        time_fmt_iso_ms(t, v[i].created_ms);
        buf_puts(&b, "<Bucket>");
        s3_xml_elem(&b, "Name", v[i].name);
        s3_xml_elem(&b, "CreationDate", t);
        buf_puts(&b, "</Bucket>");
    }
    buf_puts(&b, "</Buckets></ListAllMyBucketsResult>");
    req_respond_buf(r, 200, "application/xml", &b);
    return 0;
}

int s3_get_bucket_location(req_t *r)
{
    int rc = store_bucket_check(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    /* An empty LocationConstraint means us-east-1, which clients then sign for. */
    static const char doc[] =
        S3_XML_HEAD "<LocationConstraint xmlns=\"" S3_XMLNS "\"></LocationConstraint>";
    req_respond_bytes(r, 200, "application/xml", doc, sizeof doc - 1);
    return 0;
}

int s3_get_bucket_versioning(req_t *r)
{
    int rc = store_bucket_check(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    static const char doc[] =
        S3_XML_HEAD "<VersioningConfiguration xmlns=\"" S3_XMLNS "\"/>";
    req_respond_bytes(r, 200, "application/xml", doc, sizeof doc - 1);
    return 0;
}

int s3_head_bucket(req_t *r)
{
    int rc = store_bucket_check(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 200, NULL, "", 0);
    req_add_header(r, "x-amz-bucket-region", "us-east-1");
    return 0;
}

/* CreateBucketConfiguration: LocationConstraint is all tarn reads (it has one region; a
 * client's region does not change where data lives). Anything else in the document is
 * refused rather than ignored. */
static int on_create_elem(void *ctx, const char *path, const char *text)
{
    req_t *r = ctx;
    if (!text && strcmp(path, "CreateBucketConfiguration") &&
        strcmp(path, "CreateBucketConfiguration/LocationConstraint"))
        return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                          "<%s> is not part of a CreateBucketConfiguration tarn accepts "
                          "(only <LocationConstraint>)",
                          path);
    return 0;
}

int s3_create_bucket(req_t *r)
{
    /* A body must be a CreateBucketConfiguration: bytes meant for an object (an SDK that
     * addressed "/name" virtual-hosted style) never create a bucket named after them. */
    size_t ws = 0;
    while (ws < r->body.len && strchr(" \t\r\n", r->body.data[ws]))
        ws++;
    if (ws < r->body.len) {
        int rc = s3_xml_parse(r->body.data, r->body.len, "CreateBucketConfiguration",
                              on_create_elem, r, &r->err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (!strcmp(r->bucket, reserved[i]))
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidBucketName,
                              "'%s' is reserved for the server's own endpoints", r->bucket);
    if (store_is_zone(r->bucket))
        return TARN_ERR_R(&r->err, TARN_EEXISTS, BucketAlreadyOwnedByYou,
                          "'%s' is a zone of the lake; it always exists", r->bucket);
    int rc = store_bucket_create(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 200, NULL, "", 0);
    req_add_header(r, "Location", arena_sprintf(r->arena, "/%s", r->bucket));
    return 0;
}

int s3_delete_bucket(req_t *r)
{
    int rc = store_bucket_delete(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

/* ---- DeleteObjects ---- */

typedef struct {
    req_t *r;
    buf_t out;     /* <Error> entries */
    buf_t deleted; /* <Deleted> entries, dropped at the end when Quiet */
    bool quiet;
    const char *key;
    const char *version_id;
    size_t count;
    int rc;
} del_t;

static int on_delete_elem(void *ctx, const char *path, const char *text)
{
    del_t *d = ctx;
    req_t *r = d->r;
    if (!text) {
        /* Conditions on a delete (ETag, LastModifiedTime, Size) are not checked here: such
         * a request is refused rather than run without them. */
        static const char *const known[] = {"Delete", "Delete/Quiet", "Delete/Object",
                                            "Delete/Object/Key", "Delete/Object/VersionId"};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known && !ok; i++)
            ok = !strcmp(path, known[i]);
        if (!ok && !strncmp(path, "Delete/Object/", 14))
            return TARN_ERR_R(&r->err, TARN_EINVAL, NotImplemented,
                              "conditional deletes (<%s>) are not offered by tarn", path + 14);
        if (!ok)
            return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                              "<%s> is not part of a Delete request", path);
        if (!strcmp(path, "Delete/Object")) {
            d->key = NULL;
            d->version_id = NULL;
            if (++d->count > 1000)
                return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                                  "a Delete request may name at most 1000 objects");
        }
        return 0;
    }
    if (!strcmp(path, "Delete/Quiet")) {
        if (strcasecmp(text, "true") && strcasecmp(text, "false"))
            return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                              "<Quiet> must be true or false, not '%s'", text);
        d->quiet = !strcasecmp(text, "true");
    } else if (!strcmp(path, "Delete/Object/Key")) {
        d->key = arena_strdup(r->arena, text);
    } else if (!strcmp(path, "Delete/Object/VersionId")) {
        d->version_id = arena_strdup(r->arena, text);
    } else if (!strcmp(path, "Delete/Object")) {
        if (!d->key)
            return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                              "each <Object> in a Delete request needs a <Key>");
        tarn_err_t e = {0};
        authz_decision_t dec;
        const char *res = arena_sprintf(r->arena, "%s/%s", r->bucket, d->key);
        int rc = authz_check(&r->principal, "s3:DeleteObject", res, &dec)
                     ? TARN_ERR_R(&e, TARN_EDENIED, AccessDenied, "access denied")
                     : store_check_key(d->key, &e);
        /* The one version tarn keeps is "null"; another id must not delete the object. */
        if (!rc && d->version_id && strcmp(d->version_id, "null"))
            rc = TARN_ERR_R(&e, TARN_EINVAL, InvalidArgument,
                            "invalid version id '%s': tarn keeps no object versions; the only "
                            "version id is 'null'",
                            d->version_id);
        store_hook_t hook = s3_removal_hook(r);
        if (!rc)
            rc = store_object_delete(r->srv->store, r->bucket, d->key, &hook, &e);
        if (rc) {
            err_map_t m = errors_map(rc, e.reason);
            buf_puts(&d->out, "<Error>");
            s3_xml_elem(&d->out, "Key", d->key);
            s3_xml_elem(&d->out, "Code", m.code);
            s3_xml_elem(&d->out, "Message", e.msg);
            buf_puts(&d->out, "</Error>");
        } else {
            /* <Quiet> may come after the objects (boto3 puts it last): decide at the end. */
            buf_puts(&d->deleted, "<Deleted>");
            s3_xml_elem(&d->deleted, "Key", d->key);
            if (d->version_id)
                s3_xml_elem(&d->deleted, "VersionId", d->version_id);
            buf_puts(&d->deleted, "</Deleted>");
        }
    }
    return 0;
}

int s3_delete_objects(req_t *r)
{
    int rc = store_bucket_check(r->srv->store, r->bucket, &r->err);
    if (rc)
        return rc;
    const char *md5 = req_header(r, "Content-MD5");
    if (md5) {
        uint8_t want[16], got[16];
        hash_md5(got, r->body.data ? r->body.data : "", r->body.len);
        if (hash_unb64(want, sizeof want, md5) != 16 || !hash_equal(want, 16, got, 16))
            return TARN_ERR_R(&r->err, TARN_EINVAL, BadDigest,
                              "the Content-MD5 you specified did not match what we received");
    }
    del_t d = {.r = r};
    buf_puts(&d.out, S3_XML_HEAD "<DeleteResult xmlns=\"" S3_XMLNS "\">");
    rc = s3_xml_parse(r->body.data, r->body.len, "Delete", on_delete_elem, &d, &r->err);
    if (!rc && !d.count)
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, MalformedXML,
                        "a Delete request must name at least one <Object>");
    if (rc) {
        buf_free(&d.out);
        buf_free(&d.deleted);
        return rc;
    }
    if (!d.quiet && d.deleted.len)
        buf_append(&d.out, d.deleted.data, d.deleted.len);
    buf_free(&d.deleted);
    buf_puts(&d.out, "</DeleteResult>");
    req_respond_buf(r, 200, "application/xml", &d.out);
    return 0;
}
