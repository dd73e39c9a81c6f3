/* The Amazon Data Firehose API, JSON 1.1 protocol: POST / with X-Amz-Target
 * Firehose_20150804.<Op>. Its checks of a stream and its batches of records also serve
 * the REST routes of streams (rest/rest_streams.c), so both put records alike. */
#ifndef TARN_SERVER_FIREHOSE_FIREHOSE_H
#define TARN_SERVER_FIREHOSE_FIREHOSE_H

#include "ingest/stream.h"
#include "server/req.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether r is a Firehose call (POST / with a Firehose X-Amz-Target). */
bool firehose_is_request(const req_t *r);
/* Finds the operation for r (sets r->api, r->op and r->resource). */
int firehose_route(req_t *r);

/* Checks the principal's right to perform r's operation on stream name (the dispatcher
 * checked the action on every stream) and makes it r's resource. */
int firehose_check_stream(req_t *r, const char *name);
/* Checks the principal's right to put records into stream name's destination. */
int firehose_check_insert(req_t *r, const char *name);

/* The records of one put, in r's arena: those accepted, and why each other one (by its
 * position in the request) was refused. */
typedef struct {
    stream_record_t *recs; /* the accepted records */
    size_t n, total;       /* accepted; records in the request */
    size_t accepted_bytes; /* of the accepted records */
    const char **errors;   /* per request position: NULL or why it was refused */
    uint8_t *bytes;        /* room for decoded records (the bytes given to init) */
} firehose_batch_t;

int firehose_batch_init(req_t *r, firehose_batch_t *b, size_t total, size_t bytes);
/* Record i of the request: accepted, or refused when larger than a record may be. */
void firehose_batch_add(firehose_batch_t *b, size_t i, const void *data, size_t len);
/* Appends the accepted records to stream name; *responses gets PutRecordBatch's
 * RequestResponses (a record id or an error per request position; caller decrefs) and
 * *failed the refused count. */
int firehose_batch_put(req_t *r, const char *name, firehose_batch_t *b, json_t **responses,
                       size_t *failed);

#endif
