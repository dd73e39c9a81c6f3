/* Error codes and the error detail carried by a request or job.
 * Functions return 0 or a negative TARN_E* code; the human message, an optional
 * protocol-neutral reason (e.g. TARN_R_SignatureDoesNotMatch) and file:line go in
 * tarn_err_t. Reasons are an enum built from the table in util/err_reasons.h, so a reason
 * that is not in the table, with its mappings, does not compile. */
#ifndef TARN_UTIL_ERR_H
#define TARN_UTIL_ERR_H

enum {
    TARN_OK = 0,
    TARN_ENOTFOUND = -1,
    TARN_EEXISTS = -2,
    TARN_EDENIED = -3,
    TARN_EINVAL = -4,
    TARN_ECONFLICT = -5,
    TARN_EIO = -6,
    TARN_ENOMEM = -7,
    TARN_EBUSY = -8,
    TARN_EUPSTREAM = -9,
};

/* TARN_R_NONE (0, so a zeroed tarn_err_t has none), then one value per row of
 * util/err_reasons.h, then TARN_R_COUNT. */
typedef enum {
    TARN_R_NONE = 0,
#define REASON(name, ...) TARN_R_##name,
#include "util/err_reasons.h"
#undef REASON
    TARN_R_COUNT
} tarn_reason_t;

typedef struct {
    int code;             /* last TARN_E* recorded, 0 when none */
    tarn_reason_t reason; /* the precise cause, or TARN_R_NONE */
    const char *file;
    int line;
    char msg[480];
} tarn_err_t;

/* Records code and message; returns code so callers can `return TARN_ERR(...)`. */
#define TARN_ERR(err, code, ...) \
    tarn_err_set((err), (code), TARN_R_NONE, __FILE__, __LINE__, __VA_ARGS__)
/* Same, with a precise reason that the protocol edge maps (S3 error code, SQLSTATE...),
 * named bare: TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchKey, "..."). */
#define TARN_ERR_R(err, code, name, ...) \
    tarn_err_set((err), (code), TARN_R_##name, __FILE__, __LINE__, __VA_ARGS__)
/* Same, with the reason as a tarn_reason_t value, for a reason chosen at run time. */
#define TARN_ERR_RV(err, code, reason, ...) \
    tarn_err_set((err), (code), (reason), __FILE__, __LINE__, __VA_ARGS__)

int tarn_err_set(tarn_err_t *err, int code, tarn_reason_t reason, const char *file, int line,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
const char *tarn_err_name(int code);

/* The reason's name ("NoSuchKey"), which is also its S3 / REST error code; NULL for
 * TARN_R_NONE or a value outside the table. */
const char *tarn_reason_name(tarn_reason_t r);
/* The mappings of util/err_reasons.h; 0 or NULL where the row says BY_CODE (the edge then
 * answers by the TARN_E* code) and for TARN_R_NONE. */
int tarn_reason_http_status(tarn_reason_t r);
const char *tarn_reason_sqlstate(tarn_reason_t r);
/* Firehose's error type, with its HTTP status in *status; NULL (and *status 0) when none. */
const char *tarn_reason_firehose(tarn_reason_t r, int *status);

#endif
