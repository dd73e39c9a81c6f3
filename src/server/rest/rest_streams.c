/* REST for delivery streams (/v1/streams): the Firehose API's operations for clients
 * without an SDK, with records as NDJSON. Streams are checked and records put through
 * the same functions as the Firehose API's (firehose/firehose.h). */
#include "ingest/stream.h"
#include "server/firehose/firehose.h"
#include "server/rest/rest.h"
#include "server/server_state.h"

#include <jansson.h>
#include <string.h>

static int list_streams(req_t *r)
{
    json_t *names, *a = json_array();
    bool more;
    int rc = stream_list(r->srv->streams, NULL, 100000, &names, &more, &r->err);
    if (rc) {
        json_decref(a);
        return rc;
    }
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_t *d;
        if (!stream_describe(r->srv->streams, json_string_value(n), true, &d, &r->err))
            json_array_append_new(a, d);
    }
    json_decref(names);
    return rest_respond_json(r, 200, json_pack("{s:o}", "streams", a));
}

static int create_stream(req_t *r)
{
    json_t *in;
    const char *arn;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    if (!(rc = firehose_check_stream(
              r, json_string_value(json_object_get(in, "DeliveryStreamName")))) &&
        !(rc = stream_create(r->srv->streams, in, &arn, r->arena, &r->err)))
        rc = rest_respond_json(r, 201, json_pack("{s:s}", "DeliveryStreamARN", arn));
    json_decref(in);
    return rc;
}

static int get_stream(req_t *r)
{
    json_t *d;
    int rc = stream_describe(r->srv->streams, r->params[0], true, &d, &r->err);
    return rc ? rc : rest_respond_json(r, 200, d);
}

static int delete_stream(req_t *r)
{
    int rc = stream_delete(r->srv->streams, r->params[0], &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

/* NDJSON: each non-empty line is one record (its newline is not part of it). */
static int put_records(req_t *r)
{
    const char *s = r->body.data ? r->body.data : "";
    const char *end = s + r->body.len;
    size_t n = 0;
    for (const char *p = s; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        n += e > p && !(e - p == 1 && *p == '\r');
        p = e + 1;
    }
    if (!n || n > STREAM_BATCH_RECORDS)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "a call carries 1 to 500 records, one JSON document per line (this "
                          "one has %zu)", n);
    firehose_batch_t b = {0};
    int rc = firehose_check_insert(r, r->params[0]);
    if (!rc)
        rc = firehose_batch_init(r, &b, n, 0);
    if (rc)
        return rc;
    size_t i = 0;
    for (const char *q = s; q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *e = nl ? nl : end;
        size_t len = (size_t)(e - q);
        if (len && q[len - 1] == '\r')
            len--;
        if (len)
            firehose_batch_add(&b, i++, q, len);
        q = e + 1;
    }
    if (b.accepted_bytes > STREAM_BATCH_BYTES)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "The records of one call may hold at most 4 MiB (4194304 bytes)");
    /* Answered in the Firehose shape, which says which records failed. */
    json_t *a;
    size_t failed;
    if ((rc = firehose_batch_put(r, r->params[0], &b, &a, &failed)))
        return rc;
    return rest_respond_json(r, 200, json_pack("{s:I, s:o}", "FailedPutCount",
                                               (json_int_t)failed, "RequestResponses", a));
}

const op_t rest_stream_ops[] = {
    REST_OP("ListDeliveryStreams", "firehose:ListDeliveryStreams", "GET", "/v1/streams",
            "deliverystream/*", BODY_NONE, list_streams),
    REST_OP("CreateDeliveryStream", "firehose:CreateDeliveryStream", "POST", "/v1/streams",
            "deliverystream/*", BODY_BUFFER, create_stream),
    REST_OP("DescribeDeliveryStream", "firehose:DescribeDeliveryStream", "GET",
            "/v1/streams/{}", "deliverystream/{0}", BODY_NONE, get_stream),
    REST_OP("DeleteDeliveryStream", "firehose:DeleteDeliveryStream", "DELETE", "/v1/streams/{}",
            "deliverystream/{0}", BODY_NONE, delete_stream),
    /* Up to a Firehose batch of records, with room for the newlines. */
    {.name = "PutRecordBatch", .action = "firehose:PutRecordBatch", .method = "POST",
     .route = "/v1/streams/{}/records", .res = "deliverystream/{0}", .body = BODY_BUFFER,
     .finish = put_records, .body_max = STREAM_BATCH_BYTES + (64u << 10)},
};
const size_t rest_stream_nops = sizeof rest_stream_ops / sizeof *rest_stream_ops;
