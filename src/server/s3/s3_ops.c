/* The S3 operation table and path-style routing. The first entry whose method, target
 * (service / bucket / object), required query parameter and required header match the
 * request wins; the dispatcher then authenticates, authorizes and audits with the entry's
 * action before its handlers run. */
#include "server/s3/s3.h"

#include <string.h>

#define OP(n, m, t, q, h, b, beg, fin) \
    {.name = n, .action = "s3:" n, .method = m, .target = t, .query = q, .header = h, .body = b, \
     .begin = beg, .finish = fin}

static const op_t s3_ops[] = {
    OP("ListBuckets", "GET", TARGET_SERVICE, NULL, NULL, BODY_NONE, NULL, s3_list_buckets),
    OP("GetBucketLocation", "GET", TARGET_BUCKET, "location", NULL, BODY_NONE, NULL,
       s3_get_bucket_location),
    OP("GetBucketVersioning", "GET", TARGET_BUCKET, "versioning", NULL, BODY_NONE, NULL,
       s3_get_bucket_versioning),
    OP("ListMultipartUploads", "GET", TARGET_BUCKET, "uploads", NULL, BODY_NONE, NULL,
       s3_list_uploads),
    OP("ListObjectVersions", "GET", TARGET_BUCKET, "versions", NULL, BODY_NONE, NULL,
       s3_list_versions),
    OP("ListObjectsV2", "GET", TARGET_BUCKET, "list-type", NULL, BODY_NONE, NULL, s3_list_v2),
    OP("ListObjects", "GET", TARGET_BUCKET, NULL, NULL, BODY_NONE, NULL, s3_list_v1),
    OP("HeadBucket", "HEAD", TARGET_BUCKET, NULL, NULL, BODY_NONE, NULL, s3_head_bucket),
    OP("CreateBucket", "PUT", TARGET_BUCKET, NULL, NULL, BODY_BUFFER, NULL, s3_create_bucket),
    OP("DeleteBucket", "DELETE", TARGET_BUCKET, NULL, NULL, BODY_NONE, NULL, s3_delete_bucket),
    OP("DeleteObjects", "POST", TARGET_BUCKET, "delete", NULL, BODY_BUFFER, NULL,
       s3_delete_objects),
    OP("ListParts", "GET", TARGET_OBJECT, "uploadId", NULL, BODY_NONE, NULL, s3_list_parts),
    OP("GetObject", "GET", TARGET_OBJECT, NULL, NULL, BODY_NONE, NULL, s3_get_object),
    OP("HeadObject", "HEAD", TARGET_OBJECT, NULL, NULL, BODY_NONE, NULL, s3_get_object),
    OP("UploadPartCopy", "PUT", TARGET_OBJECT, "uploadId", "x-amz-copy-source", BODY_NONE, NULL,
       s3_not_implemented),
    OP("UploadPart", "PUT", TARGET_OBJECT, "uploadId", NULL, BODY_STREAM, s3_put_begin,
       s3_upload_part),
    OP("CopyObject", "PUT", TARGET_OBJECT, NULL, "x-amz-copy-source", BODY_NONE, s3_copy_begin,
       s3_copy_object),
    OP("PutObject", "PUT", TARGET_OBJECT, NULL, NULL, BODY_STREAM, s3_put_begin, s3_put_object),
    OP("CreateMultipartUpload", "POST", TARGET_OBJECT, "uploads", NULL, BODY_NONE, NULL,
       s3_create_upload),
    OP("CompleteMultipartUpload", "POST", TARGET_OBJECT, "uploadId", NULL, BODY_BUFFER, NULL,
       s3_complete_upload),
    OP("AbortMultipartUpload", "DELETE", TARGET_OBJECT, "uploadId", NULL, BODY_NONE, NULL,
       s3_abort_upload),
    OP("DeleteObject", "DELETE", TARGET_OBJECT, NULL, NULL, BODY_NONE, NULL, s3_delete_object),
};
static const size_t s3_nops = sizeof s3_ops / sizeof *s3_ops;

static const op_t op_not_allowed = {.name = "MethodNotAllowed", .action = "s3:Unknown",
                                    .finish = s3_method_not_allowed};

/* Bucket-level sub-resources tarn does not offer: answered NotImplemented rather than
 * mistaken for a listing or a bucket creation. */
static const char *const unsupported[] = {
    "acl", "policy", "cors", "lifecycle", "tagging", "encryption", "website", "logging",
    "notification", "replication", "object-lock", "ownershipControls", "publicAccessBlock",
    "accelerate", "requestPayment", "analytics", "inventory", "metrics", "intelligent-tiering",
    "retention", "legal-hold", "torrent", "restore", "select", "attributes",
};

int s3_route(req_t *r)
{
    const char *p = r->path;
    if (p[0] != '/')
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidURI, "the request path must start with '/'");
    p++;
    int target = TARGET_SERVICE;
    if (*p) {
        const char *slash = strchr(p, '/');
        r->bucket = slash ? arena_strndup(r->arena, p, (size_t)(slash - p)) : arena_strdup(r->arena, p);
        target = TARGET_BUCKET;
        if (slash && slash[1]) {
            r->key = arena_strdup(r->arena, slash + 1);
            target = TARGET_OBJECT;
        }
        r->resource = target == TARGET_OBJECT ? arena_sprintf(r->arena, "%s/%s", r->bucket, r->key)
                                              : r->bucket;
    } else {
        r->resource = "*";
    }
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
        if (req_has_query(r, unsupported[i])) {
            r->op = &op_not_allowed;
            return TARN_ERR_R(&r->err, TARN_EINVAL, NotImplemented,
                              "the '%s' sub-resource is not offered by tarn", unsupported[i]);
        }
    for (size_t i = 0; i < s3_nops; i++) {
        const op_t *op = &s3_ops[i];
        if (op->target != target || strcmp(op->method, r->method))
            continue;
        if (op->query && !req_has_query(r, op->query))
            continue;
        if (op->header && !req_header(r, op->header))
            continue;
        r->op = op;
        /* A listing reads the keys under its prefix: that location is what it needs. */
        const char *prefix = target == TARGET_BUCKET && strstr(op->name, "List")
                                 ? req_query(r, "prefix")
                                 : NULL;
        if (prefix && *prefix)
            r->resource = arena_sprintf(r->arena, "%s/%s", r->bucket, prefix);
        return r->resource ? 0 : TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    }
    r->op = &op_not_allowed;
    return 0;
}

int s3_method_not_allowed(req_t *r)
{
    return TARN_ERR_R(&r->err, TARN_EINVAL, MethodNotAllowed,
                      "the specified method is not allowed against this resource");
}

int s3_not_implemented(req_t *r)
{
    return TARN_ERR_R(&r->err, TARN_EINVAL, NotImplemented,
                      "%s is not offered by tarn", r->op->name);
}
