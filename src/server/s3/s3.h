/* The S3 API: routing into its operation table (s3_ops.c) and the handlers the table
 * names. */
#ifndef TARN_SERVER_S3_S3_H
#define TARN_SERVER_S3_S3_H

#include "server/req.h"
#include "storage/store.h"
#include "util/hash.h"

/* Finds the operation for r (sets r->op, r->bucket, r->key and r->resource). */
int s3_route(req_t *r);

int s3_method_not_allowed(req_t *r);
int s3_not_implemented(req_t *r);

/* s3_bucket.c */
int s3_list_buckets(req_t *r);
int s3_get_bucket_location(req_t *r);
int s3_get_bucket_versioning(req_t *r);
int s3_head_bucket(req_t *r);
int s3_create_bucket(req_t *r);
int s3_delete_bucket(req_t *r);
int s3_delete_objects(req_t *r);

/* s3_list.c */
int s3_list_v1(req_t *r);
int s3_list_v2(req_t *r);
int s3_list_versions(req_t *r);

/* s3_object.c */
/* Refuses write headers asking for what tarn does not offer (tags, SSE, object lock,
 * ACL grants, storage classes other than STANDARD). */
int s3_check_write_headers(req_t *r);
int s3_put_begin(req_t *r);
int s3_put_object(req_t *r);
int s3_get_object(req_t *r);
int s3_delete_object(req_t *r);
int s3_copy_begin(req_t *r);
int s3_copy_object(req_t *r);
/* Collects Content-Type, Content-Encoding (without aws-chunked), ... and x-amz-meta-*. */
int s3_meta_from_headers(req_t *r, store_meta_t *m);
/* The commit hook through which a new object is recorded with the layers above (the
 * landing event for raw), in the same transaction as the object's index row. */
store_hook_t s3_landing_hook(req_t *r);
/* The hook that records an object leaving a table zone. */
store_hook_t s3_removal_hook(req_t *r);
/* Checks x-amz-content-sha256 (literal), Content-MD5 and x-amz-checksum-* (header or
 * aws-chunked trailer) against the digests of the received payload. */
int s3_check_payload(req_t *r, const hash_digests_t *d);
/* "\"etag\"" in the arena. */
const char *s3_quoted_etag(req_t *r, const char *etag);

/* s3_multipart.c */
int s3_create_upload(req_t *r);
int s3_upload_part(req_t *r);
int s3_complete_upload(req_t *r);
int s3_abort_upload(req_t *r);
int s3_list_parts(req_t *r);
int s3_list_uploads(req_t *r);

#endif
