/* The Amazon Data Firehose API, JSON 1.1 protocol (POST / with X-Amz-Target:
 * Firehose_20150804.<Op>), so the AWS CLI and SDKs manage streams and put records with
 * --endpoint-url. Requests are authenticated and authorized by the dispatcher like every
 * other; each handler checks the named stream again. The checks and the batches of
 * records also serve REST's /v1/streams (firehose.h). */
#include "ingest/stream.h"
#include "server/firehose/firehose.h"
#include "server/server_state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_PREFIX "Firehose_20150804."
#define JSON11 "application/x-amz-json-1.1"

static int respond(req_t *r, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    buf_t b = BUF_INIT;
    buf_puts(&b, text);
    free(text);
    req_respond_buf(r, 200, JSON11, &b);
    return 0;
}

int firehose_check_stream(req_t *r, const char *name)
{
    if (!name || !*name)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "DeliveryStreamName is required");
    r->resource = arena_sprintf(r->arena, "deliverystream/%s", name);
    if (authz_check(&r->principal, r->op->action, r->resource, &r->decision))
        return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                          "%s is not allowed to perform %s on %s", r->principal.name,
                          r->op->action, r->resource);
    return 0;
}

static stream_mgr_t *mgr(req_t *r)
{
    return r->srv->streams;
}

/* Putting records writes into the stream's destination: its table (the prefix's first two
 * folders in the zone) needs INSERT; a destination that names no table needs WRITE on its
 * location, as an upload there would. */
int firehose_check_insert(req_t *r, const char *name)
{
    if (r->principal.admin)
        return 0;
    json_t *d = NULL;
    int rc = stream_describe(mgr(r), name, false, &d, &r->err);
    if (rc)
        return rc;
    const json_t *dest = json_object_get(json_array_get(json_object_get(d, "Destinations"), 0),
                                         "ExtendedS3DestinationDescription");
    const char *arn = json_string_value(json_object_get(dest, "BucketARN"));
    const char *prefix = json_string_value(json_object_get(dest, "Prefix"));
    const char *bucket = arn && !strncmp(arn, "arn:aws:s3:::", 13) ? arn + 13 : "";
    char db[256] = "", table[256] = "";
    if (prefix && sscanf(prefix, "%255[^/]/%255[^/]/", db, table) == 2 && !strstr(db, "!{") &&
        !strstr(table, "!{"))
        r->resource = arena_sprintf(r->arena, "table/%s.%s.%s", bucket, db, table);
    else
        r->resource = arena_sprintf(r->arena, "%s/%.*s", bucket,
                                    prefix ? (int)strcspn(prefix, "!") : 0, prefix ? prefix : "");
    bool table_dest = r->resource && !strncmp(r->resource, "table/", 6);
    const char *action = table_dest ? "firehose:PutRecordBatch" : "s3:PutObject";
    if (!r->resource)
        rc = TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    else if (authz_check(&r->principal, action, r->resource, &r->decision))
        rc = TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                        "%s may not put records into %s: that needs %s on %s", r->principal.name,
                        name, table_dest ? "INSERT" : "WRITE", r->resource);
    json_decref(d);
    return rc;
}

static int create_stream(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *arn;
    if (!(rc = firehose_check_stream(r, json_string_value(json_object_get(in, "DeliveryStreamName")))) &&
        !(rc = stream_create(mgr(r), in, &arn, r->arena, &r->err)))
        rc = respond(r, json_pack("{s:s}", "DeliveryStreamARN", arn));
    json_decref(in);
    return rc;
}

static int describe_stream(req_t *r)
{
    json_t *in, *d;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "DeliveryStreamName"));
    if (!(rc = firehose_check_stream(r, name)) && !(rc = stream_describe(mgr(r), name, false, &d, &r->err)))
        rc = respond(r, json_pack("{s:o}", "DeliveryStreamDescription", d));
    json_decref(in);
    return rc;
}

static int list_streams(req_t *r)
{
    json_t *in, *names;
    bool more;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    json_t *lim = json_object_get(in, "Limit");
    json_int_t limit = lim ? json_integer_value(lim) : 10;
    const char *type = json_string_value(json_object_get(in, "DeliveryStreamType"));
    if (lim && (!json_is_integer(lim) || limit < 1 || limit > 10000)) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "Limit must be between 1 and 10000");
    } else if (!(rc = stream_list(mgr(r),
                                  json_string_value(json_object_get(
                                      in, "ExclusiveStartDeliveryStreamName")),
                                  (size_t)limit, &names, &more, &r->err))) {
        if (type && strcmp(type, "DirectPut")) { /* tarn has no other kind */
            json_array_clear(names);
            more = false;
        }
        rc = respond(r, json_pack("{s:o, s:b}", "DeliveryStreamNames", names,
                                  "HasMoreDeliveryStreams", more));
    }
    json_decref(in);
    return rc;
}

static int delete_stream(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "DeliveryStreamName"));
    if (!(rc = firehose_check_stream(r, name)) && !(rc = stream_delete(mgr(r), name, &r->err)))
        rc = respond(r, json_object());
    json_decref(in);
    return rc;
}

/* ---- records ---- */

int firehose_batch_init(req_t *r, firehose_batch_t *b, size_t total, size_t bytes)
{
    b->recs = arena_alloc(r->arena, (total ? total : 1) * sizeof *b->recs);
    b->errors = arena_alloc(r->arena, (total ? total : 1) * sizeof *b->errors);
    b->bytes = arena_alloc(r->arena, bytes + 1);
    b->total = total;
    return b->recs && b->errors && b->bytes
               ? 0
               : TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
}

void firehose_batch_add(firehose_batch_t *b, size_t i, const void *data, size_t len)
{
    if (len > STREAM_RECORD_MAX) {
        b->errors[i] = "Record size exceeds the limit of 1000 KiB (1024000 bytes).";
        return;
    }
    b->recs[b->n++] = (stream_record_t){data, len};
    b->accepted_bytes += len;
}

int firehose_batch_put(req_t *r, const char *name, firehose_batch_t *b, json_t **responses,
                       size_t *failed)
{
    char(*ids)[33] = arena_alloc(r->arena, (b->n ? b->n : 1) * sizeof *ids);
    if (!ids)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    int rc = b->n ? stream_put(mgr(r), name, b->recs, b->n, ids, &r->err) : 0;
    if (rc)
        return rc;
    json_t *a = json_array();
    size_t k = 0;
    *failed = 0;
    for (size_t i = 0; i < b->total; i++) {
        if (b->errors[i]) {
            (*failed)++;
            json_array_append_new(a, json_pack("{s:s, s:s}", "ErrorCode",
                                               "InvalidArgumentException", "ErrorMessage",
                                               b->errors[i]));
        } else {
            json_array_append_new(a, json_pack("{s:s}", "RecordId", ids[k++]));
        }
    }
    *responses = a;
    return 0;
}

/* Appends the accepted records and answers as PutRecordBatch does. */
static int put_finish(req_t *r, const char *name, firehose_batch_t *b)
{
    if (b->accepted_bytes > STREAM_BATCH_BYTES)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "The records of one call may hold at most 4 MiB (4194304 bytes); "
                          "this one holds %zu", b->accepted_bytes);
    json_t *a;
    size_t failed;
    int rc = firehose_batch_put(r, name, b, &a, &failed);
    if (rc)
        return rc;
    return respond(r, json_pack("{s:I, s:b, s:o}", "FailedPutCount", (json_int_t)failed,
                                "Encrypted", false, "RequestResponses", a));
}

/* Decodes Record.Data into b->bytes at *off; -1 when it is not base64. */
static long decode(firehose_batch_t *b, size_t *off, const char *b64)
{
    long n = hash_unb64(b->bytes + *off, strlen(b64) / 4 * 3 + 3, b64);
    if (n >= 0)
        *off += (size_t)n;
    return n;
}

static int put_record(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "DeliveryStreamName"));
    const char *data = json_string_value(json_object_get(json_object_get(in, "Record"), "Data"));
    firehose_batch_t p = {0};
    size_t off = 0;
    char id[33];
    if ((rc = firehose_check_stream(r, name)) || (rc = firehose_check_insert(r, name)))
        goto done;
    if (!data) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument, "Record.Data is required");
        goto done;
    }
    if ((rc = firehose_batch_init(r, &p, 1, strlen(data) / 4 * 3 + 3)))
        goto done;
    long n = decode(&p, &off, data);
    if (n < 0) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, MalformedJSON, "Record.Data is not base64");
        goto done;
    }
    if ((size_t)n > STREAM_RECORD_MAX) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "Record size exceeds the limit of 1000 KiB (1024000 bytes): %ld", n);
        goto done;
    }
    stream_record_t rec = {p.bytes, (size_t)n};
    if (!(rc = stream_put(mgr(r), name, &rec, 1, &id, &r->err)))
        rc = respond(r, json_pack("{s:s, s:b}", "RecordId", id, "Encrypted", false));
done:
    json_decref(in);
    return rc;
}

static int put_record_batch(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "DeliveryStreamName"));
    json_t *records = json_object_get(in, "Records");
    size_t n = json_array_size(records), i, cap = 0, off = 0;
    json_t *rec;
    firehose_batch_t p = {0};
    if ((rc = firehose_check_stream(r, name)) || (rc = firehose_check_insert(r, name)))
        goto done;
    if (!json_is_array(records) || !n || n > STREAM_BATCH_RECORDS) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "Records must hold 1 to 500 records (it holds %zu)", n);
        goto done;
    }
    json_array_foreach(records, i, rec)
    {
        const char *d = json_string_value(json_object_get(rec, "Data"));
        if (!d) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                            "Records[%zu].Data is required", i);
            goto done;
        }
        cap += strlen(d) / 4 * 3 + 3;
    }
    if ((rc = firehose_batch_init(r, &p, n, cap)))
        goto done;
    json_array_foreach(records, i, rec)
    {
        size_t start = off;
        long len = decode(&p, &off, json_string_value(json_object_get(rec, "Data")));
        if (len < 0) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, MalformedJSON,
                            "Records[%zu].Data is not base64", i);
            goto done;
        }
        firehose_batch_add(&p, i, p.bytes + start, (size_t)len);
    }
    rc = put_finish(r, name, &p);
done:
    json_decref(in);
    return rc;
}

/* ---- routing ---- */

static int unknown_op(req_t *r)
{
    const char *t = req_header(r, "X-Amz-Target");
    return TARN_ERR_R(&r->err, TARN_EINVAL, UnknownOperation,
                      "tarn does not offer the Firehose operation %s",
                      t ? t + strlen(TARGET_PREFIX) : "");
}

#define BODY_MAX (8u << 20) /* 4 MiB of records in base64, with room for the JSON */
#define F(n, fin) \
    {.name = n, .action = "firehose:" n, .method = "POST", .body = BODY_BUFFER, \
     .finish = fin, .body_max = BODY_MAX}

static const op_t firehose_ops[] = {
    F("CreateDeliveryStream", create_stream), F("DescribeDeliveryStream", describe_stream),
    F("ListDeliveryStreams", list_streams),   F("DeleteDeliveryStream", delete_stream),
    F("PutRecord", put_record),               F("PutRecordBatch", put_record_batch),
};
static const op_t op_unknown = F("Unknown", unknown_op);

bool firehose_is_request(const req_t *r)
{
    const char *t = req_header(r, "X-Amz-Target");
    return !strcmp(r->method, "POST") && !strcmp(r->path, "/") && t &&
           !strncmp(t, TARGET_PREFIX, strlen(TARGET_PREFIX));
}

int firehose_route(req_t *r)
{
    const char *op = req_header(r, "X-Amz-Target") + strlen(TARGET_PREFIX);
    r->api = API_FIREHOSE;
    r->op = &op_unknown;
    for (size_t i = 0; i < sizeof firehose_ops / sizeof *firehose_ops; i++)
        if (!strcmp(firehose_ops[i].name, op))
            r->op = &firehose_ops[i];
    /* Which stream is known once the body is read; the handler checks it then. */
    r->resource = "deliverystream/*";
    return 0;
}
