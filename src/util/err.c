/* Error detail recording; see err.h. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

int tarn_err_set(tarn_err_t *err, int code, const char *reason, const char *file, int line,
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
