/* The protocol edges' errors: a TARN_E* code and its precise reason (util/err_reasons.h)
 * as what each protocol sends (S3 XML error code and HTTP status, REST JSON error, Firehose
 * error type, PostgreSQL SQLSTATE). */
#ifndef TARN_SERVER_ERRORS_H
#define TARN_SERVER_ERRORS_H

#include "util/err.h"

typedef struct req req_t; /* req.h */

typedef struct {
    const char *code; /* S3 error code / REST error code */
    int status;
} err_map_t;

err_map_t errors_map(int code, tarn_reason_t reason);
/* The PostgreSQL SQLSTATE for a code and reason ("42P01", ...). Static string. */
const char *errors_sqlstate(int code, tarn_reason_t reason);
/* Maps a code and reason to Firehose's error type and HTTP status. */
err_map_t errors_firehose(int code, tarn_reason_t reason);
/* Maps code for r and returns the message to send: r's own, or for a server fault a
 * generic one (the fault is logged with the request id). */
const char *errors_describe(req_t *r, int code, err_map_t *m);

#endif
