/* The edge table: one place that maps a TARN_E* code and its precise reason to what each
 * protocol sends (S3 XML error code and HTTP status, REST JSON error, PostgreSQL
 * SQLSTATE). */
#include "server/errors.h"
#include "server/req.h"
#include "server/s3/s3_xml.h"

#include "util/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const err_map_t reasons[] = {
    {"AccessDenied", 403},
    {"AuthorizationHeaderMalformed", 400},
    {"AuthorizationQueryParametersError", 400},
    {"BadDigest", 400},
    {"BucketAlreadyExists", 409},
    {"BucketAlreadyOwnedByYou", 409},
    {"BucketNotEmpty", 409},
    {"DeleteConflict", 409},
    {"EntityAlreadyExists", 409},
    {"EntityTooLarge", 400},
    {"EntityTooSmall", 400},
    {"IncompleteBody", 400},
    {"InternalError", 500},
    {"InvalidAccessKeyId", 403},
    {"InvalidArgument", 400},
    {"InvalidBucketName", 400},
    {"InvalidDigest", 400},
    {"InvalidObjectName", 400},
    {"InvalidPart", 400},
    {"InvalidPartNumber", 416},
    {"InvalidPartOrder", 400},
    {"InvalidPipelineSpec", 400},
    {"InvalidRange", 416},
    {"InvalidRequest", 400},
    {"InvalidStorageClass", 400},
    {"InvalidURI", 400},
    {"KeyTooLongError", 400},
    {"MalformedJSON", 400},
    {"MalformedXML", 400},
    {"MaxMessageLengthExceeded", 400},
    {"MetadataTooLarge", 400},
    {"MethodNotAllowed", 405},
    {"MissingContentLength", 411},
    {"NoSuchBucket", 404},
    {"NoSuchEntity", 404},
    {"NoSuchColumn", 404},
    {"NoSuchCrawl", 404},
    {"NoSuchKey", 404},
    {"NoSuchPipeline", 404},
    {"NoSuchQuery", 404},
    {"NoSuchRun", 404},
    {"NoSuchSnapshot", 404},
    {"NoSuchStream", 404},
    {"NoSuchTable", 404},
    {"NoSuchUpload", 404},
    {"NotFound", 404},
    {"NotImplemented", 501},
    {"NotManaged", 409},
    {"NotModified", 304},
    {"NotReadOnly", 400},
    {"PipelineRunning", 409},
    {"PipelinesOff", 409},
    {"PreconditionFailed", 412},
    {"QueryCancelled", 409},
    {"QueryOutOfMemory", 503},
    {"QueryTimeout", 408},
    {"RequestTimeTooSkewed", 403},
    {"ServiceUnavailable", 503},
    {"SignatureDoesNotMatch", 403},
    {"SlowDown", 503},
    {"SnapshotConflict", 409},
    {"StreamExists", 409},
    {"SyntaxError", 400},
    {"TableExists", 409},
    {"UnknownOperation", 400},
    {"XAmzContentSHA256Mismatch", 400},
};

err_map_t errors_map(int code, const char *reason)
{
    if (reason)
        for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
            if (!strcmp(reasons[i].code, reason))
                return reasons[i];
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

/* Reasons as PostgreSQL's SQLSTATEs (its errcodes.txt); a reason not listed falls back to
 * the code's class. */
static const struct {
    const char *reason, *state;
} sqlstates[] = {
    {"AccessDenied", "42501"},
    {"CantChangeRuntimeParam", "55P02"},
    {"ConnectionFailure", "08006"},
    {"DuplicateCursor", "42P03"},
    {"DuplicatePreparedStatement", "42P05"},
    {"FeatureNotSupported", "0A000"},
    {"InFailedSqlTransaction", "25P02"},
    {"InsufficientPrivilege", "42501"},
    {"InvalidArgument", "22023"},
    {"InvalidCursorName", "34000"},
    {"InvalidCursorState", "24000"},
    {"InvalidParameterValue", "22023"},
    {"InvalidPassword", "28P01"},
    {"InvalidQuery", "42000"},
    {"InvalidSqlStatementName", "26000"},
    {"InvalidTextRepresentation", "22P02"},
    {"NoActiveSqlTransaction", "25P01"},
    {"NoSuchColumn", "42703"},
    {"NoSuchTable", "42P01"},
    {"NotReadOnly", "25006"},
    {"NumericValueOutOfRange", "22003"},
    {"ProtocolViolation", "08P01"},
    {"QueryCancelled", "57014"},
    {"QueryOutOfMemory", "53200"},
    {"QueryTimeout", "57014"},
    {"ReadOnlySqlTransaction", "25006"},
    {"SlowDown", "53000"},
    {"SyntaxError", "42601"},
    {"UndefinedColumn", "42703"},
    {"UndefinedFunction", "42883"},
    {"UndefinedObject", "42704"},
    {"UndefinedTable", "42P01"},
};

const char *errors_sqlstate(int code, const char *reason)
{
    if (reason)
        for (size_t i = 0; i < sizeof sqlstates / sizeof *sqlstates; i++)
            if (!strcmp(sqlstates[i].reason, reason))
                return sqlstates[i].state;
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

/* Firehose's error types (JSON 1.1 "__type"): its API reference answers client errors
 * with 400 and ServiceUnavailableException with 500; authentication failures use the
 * types every JSON service shares. */
static const struct {
    const char *reason, *type;
    int status;
} firehose_types[] = {
    {"AccessDenied", "AccessDeniedException", 400},
    {"InvalidAccessKeyId", "UnrecognizedClientException", 400},
    {"SignatureDoesNotMatch", "InvalidSignatureException", 400},
    {"RequestTimeTooSkewed", "InvalidSignatureException", 400},
    {"AuthorizationHeaderMalformed", "IncompleteSignatureException", 400},
    {"MalformedJSON", "SerializationException", 400},
    {"MaxMessageLengthExceeded", "InvalidArgumentException", 400},
    {"NoSuchStream", "ResourceNotFoundException", 400},
    {"NoSuchBucket", "InvalidArgumentException", 400},
    {"StreamExists", "ResourceInUseException", 400},
    {"UnknownOperation", "UnknownOperationException", 400},
    {"SlowDown", "ServiceUnavailableException", 500},
};

err_map_t errors_firehose(int code, const char *reason)
{
    if (reason)
        for (size_t i = 0; i < sizeof firehose_types / sizeof *firehose_types; i++)
            if (!strcmp(firehose_types[i].reason, reason))
                return (err_map_t){firehose_types[i].type, firehose_types[i].status};
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
