/* Growable byte buffer. The buffer owns its bytes; buf_free releases them.
 * Appends keep a trailing NUL (not counted in len) so text can be used as a C string. */
#ifndef TARN_UTIL_BUF_H
#define TARN_UTIL_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

int buf_reserve(buf_t *b, size_t extra);                 /* 0 or TARN_ENOMEM */

/* Appends are inline: row encoders make one per value, and the call was a large part of
 * their time. Room is checked against cap - len, which never wraps (len < cap once
 * data is allocated, and both are 0 before). */
static inline int buf_append(buf_t *b, const void *p, size_t n)
{
    if (n >= b->cap - b->len) {
        int rc = buf_reserve(b, n);
        if (rc)
            return rc;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static inline int buf_putc(buf_t *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_puts(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s's n bytes as a JSON string: quoted, with quotes, backslashes and control
 * characters escaped (other bytes as they are). */
int buf_put_json_string(buf_t *b, const char *s, size_t n);
/* Appends s's n bytes as one CSV field (RFC 4180): in double quotes, quotes doubled, when
 * it holds a comma, quote, CR or LF or is empty (an empty unquoted field is NULL). */
int buf_put_csv_field(buf_t *b, const char *s, size_t n);
/* Appends s with XML special characters escaped. */
int buf_put_xml(buf_t *b, const char *s);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);
/* Hands the bytes to the caller (caller frees) and empties the buffer. */
char *buf_steal(buf_t *b);

#endif
