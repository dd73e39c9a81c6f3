/* Error detail recording, and the reason table of err_reasons.h as arrays; see err.h. */
#include "util/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* A column the reason does not map: the edge answers by the TARN_E* code. */
#define BY_CODE 0

static const struct {
    const char *name, *sqlstate, *firehose_type;
    int http_status, firehose_status;
} reasons[TARN_R_COUNT] = {
#define REASON(n, http, state, fh_type, fh_status) \
    [TARN_R_##n] = {#n, state, fh_type, http, fh_status},
#include "util/err_reasons.h"
#undef REASON
};

int tarn_err_set(tarn_err_t *err, int code, tarn_reason_t reason, const char *file, int line,
                 const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->reason = reason;
    err->file = file;
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *tarn_err_name(int code)
{
    switch (code) {
    case TARN_OK: return "ok";
    case TARN_ENOTFOUND: return "not found";
    case TARN_EEXISTS: return "already exists";
    case TARN_EDENIED: return "denied";
    case TARN_EINVAL: return "invalid";
    case TARN_ECONFLICT: return "conflict";
    case TARN_EIO: return "I/O error";
    case TARN_ENOMEM: return "out of memory";
    case TARN_EBUSY: return "busy";
    case TARN_EUPSTREAM: return "upstream error";
    default: return "error";
    }
}

/* Out-of-range values (a reason never set from the table) map to nothing, like NONE. */
static int known(tarn_reason_t r)
{
    return r > TARN_R_NONE && r < TARN_R_COUNT;
}

const char *tarn_reason_name(tarn_reason_t r)
{
    return known(r) ? reasons[r].name : NULL;
}

int tarn_reason_http_status(tarn_reason_t r)
{
    return known(r) ? reasons[r].http_status : 0;
}

const char *tarn_reason_sqlstate(tarn_reason_t r)
{
    return known(r) ? reasons[r].sqlstate : NULL;
}

const char *tarn_reason_firehose(tarn_reason_t r, int *status)
{
    *status = known(r) && reasons[r].firehose_type ? reasons[r].firehose_status : 0;
    return known(r) ? reasons[r].firehose_type : NULL;
}
