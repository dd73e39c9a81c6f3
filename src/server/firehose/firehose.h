/* The Amazon Data Firehose API, JSON 1.1 protocol: POST / with X-Amz-Target
 * Firehose_20150804.<Op>. */
#ifndef TARN_SERVER_FIREHOSE_FIREHOSE_H
#define TARN_SERVER_FIREHOSE_FIREHOSE_H

#include "server/req.h"

#include <stdbool.h>

/* Whether r is a Firehose call (POST / with a Firehose X-Amz-Target). */
bool firehose_is_request(const req_t *r);
/* Finds the operation for r (sets r->api, r->op and r->resource). */
int firehose_route(req_t *r);

#endif
