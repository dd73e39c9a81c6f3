/* The protocol edges' errors: a TARN_E* code and its precise reason as what each protocol
 * sends (S3 XML error code and HTTP status, REST JSON error, Firehose error type,
 * PostgreSQL SQLSTATE). A reason's own mappings are in the table of util/err_reasons.h;
 * here are the defaults by code for a column a reason does not map, and the responses. */
#include "server/errors.h"
#include "server/req.h"
#include "server/s3/s3_xml.h"

#include "util/log.h"

#include <jansson.h>
#include <stdlib.h>

err_map_t errors_map(int code, tarn_reason_t reason)
{
    int status = tarn_reason_http_status(reason);
    if (status)
        return (err_map_t){tarn_reason_name(reason), status};
    switch (code) {
    case TARN_ENOTFOUND: return (err_map_t){"NotFound", 404};
    case TARN_EEXISTS: return (err_map_t){"EntityAlreadyExists", 409};
    case TARN_EDENIED: return (err_map_t){"AccessDenied", 403};
    case TARN_EINVAL: return (err_map_t){"InvalidArgument", 400};
    case TARN_ECONFLICT: return (err_map_t){"OperationAborted", 409};
    case TARN_ENOMEM: return (err_map_t){"ServiceUnavailable", 503};
    case TARN_EBUSY: return (err_map_t){"SlowDown", 503};
    default: return (err_map_t){"InternalError", 500};
    }
}

/* A reason without a SQLSTATE of its own falls back to the code's class. */
const char *errors_sqlstate(int code, tarn_reason_t reason)
{
    const char *state = tarn_reason_sqlstate(reason);
    if (state)
        return state;
    switch (code) {
    case TARN_ENOTFOUND: return "42704";
    case TARN_EEXISTS: return "42710";
    case TARN_EDENIED: return "42501";
    case TARN_EINVAL: return "42000";
    case TARN_ECONFLICT: return "40001";
    case TARN_ENOMEM: return "53200";
    case TARN_EBUSY: return "53000";
    case TARN_EIO: return "58030";
    default: return "XX000";
    }
}

/* Firehose's error types (JSON 1.1 "__type"); a reason without one of its own falls back
 * to the code's, with 400 for client errors and 500 for the server's, as Firehose does. */
err_map_t errors_firehose(int code, tarn_reason_t reason)
{
    int status;
    const char *type = tarn_reason_firehose(reason, &status);
    if (type)
        return (err_map_t){type, status};
    switch (code) {
    case TARN_ENOTFOUND: return (err_map_t){"ResourceNotFoundException", 400};
    case TARN_EEXISTS: return (err_map_t){"ResourceInUseException", 400};
    case TARN_EDENIED: return (err_map_t){"AccessDeniedException", 400};
    case TARN_EINVAL:
    case TARN_ECONFLICT: return (err_map_t){"InvalidArgumentException", 400};
    case TARN_ENOMEM:
    case TARN_EBUSY: return (err_map_t){"ServiceUnavailableException", 500};
    default: return (err_map_t){"InternalFailure", 500};
    }
}

static void respond_firehose_error(req_t *r, int code)
{
    err_map_t m;
    const char *msg = errors_describe(r, code, &m);
    m = errors_firehose(code, r->err.reason);
    json_t *o = json_pack("{s:s, s:s}", "__type", m.code, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    buf_t b = BUF_INIT;
    if (text) {
        buf_puts(&b, text);
        free(text);
    }
    req_respond_buf(r, m.status, "application/x-amz-json-1.1", &b);
    req_add_header(r, "x-amzn-RequestId", r->id);
    req_add_header(r, "x-amzn-ErrorType", m.code);
}

static void respond_json_error(req_t *r, err_map_t m, const char *msg)
{
    json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", m.code, "message", msg,
                          "request_id", r->id);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    buf_t b = BUF_INIT;
    if (text) {
        buf_puts(&b, text);
        buf_putc(&b, '\n');
        free(text);
    }
    req_respond_buf(r, m.status, "application/json", &b);
}

const char *errors_describe(req_t *r, int code, err_map_t *m)
{
    *m = errors_map(code, r->err.reason);
    const char *msg = r->err.msg[0] ? r->err.msg : m->code;
    /* NotImplemented (501) is an answer about the request, not a failure of the server. */
    if (m->status < 500 || m->status == 501)
        return msg;
    log_error("request failed", "request_id", r->id, "error", r->err.msg, "at", r->err.file);
    if (code == TARN_ENOMEM || code == TARN_EBUSY)
        return msg;
    return "We encountered an internal error. Please try again.";
}

void req_respond_error(req_t *r, int code)
{
    if (r->api == API_S3) {
        s3_xml_error(r, code);
        return;
    }
    if (r->api == API_FIREHOSE) {
        respond_firehose_error(r, code);
        return;
    }
    err_map_t m;
    const char *msg = errors_describe(r, code, &m);
    respond_json_error(r, m, msg);
}
