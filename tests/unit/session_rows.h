/* Test support: a query session's rows as one string, so tests compare whole results. */
#ifndef TARN_TESTS_SESSION_ROWS_H
#define TARN_TESTS_SESSION_ROWS_H

#include "consume/session.h"

/* The rows of sql in `mode` as text, a line per row and cells separated by '|' (NULL as
 * "-"), or NULL with *err set. Caller frees. */
char *session_rows_text(session_t *s, const char *sql, session_rows_t mode, tarn_err_t *err);

#endif
