/* Test support for query sessions: rows as one string, so tests compare whole results,
 * and a user's principal id for the principal a session runs as. */
#ifndef TARN_TESTS_SESSION_ROWS_H
#define TARN_TESTS_SESSION_ROWS_H

#include "consume/session.h"
#include "govern/iam.h"

/* The rows of sql in `mode` as text, a line per row and cells separated by '|' (NULL as
 * "-"), or NULL with *err set. Caller frees. */
char *session_rows_text(session_t *s, const char *sql, rowenc_style_t mode, tarn_err_t *err);

/* The principal id of user `name` (0 when it is not a user). */
int64_t session_user_id(iam_t *iam, const char *name);

#endif
