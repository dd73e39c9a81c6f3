/* Error codes and the error detail carried by a request or job.
 * Functions return 0 or a negative TARN_E* code; the human message, an optional
 * protocol-neutral reason (e.g. "SignatureDoesNotMatch") and file:line go in tarn_err_t. */
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

typedef struct {
    int code;            /* last TARN_E* recorded, 0 when none */
    const char *reason;  /* static string naming the precise cause, or NULL */
    const char *file;
    int line;
    char msg[480];
} tarn_err_t;

/* Records code and message; returns code so callers can `return TARN_ERR(...)`. */
#define TARN_ERR(err, code, ...) tarn_err_set((err), (code), NULL, __FILE__, __LINE__, __VA_ARGS__)
/* Same, with a precise reason that the protocol edge maps (S3 error code, SQLSTATE...). */
#define TARN_ERR_R(err, code, reason, ...) \
    tarn_err_set((err), (code), (reason), __FILE__, __LINE__, __VA_ARGS__)

int tarn_err_set(tarn_err_t *err, int code, const char *reason, const char *file, int line,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
const char *tarn_err_name(int code);

#endif
