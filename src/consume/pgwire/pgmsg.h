/* PostgreSQL protocol v3 messages: framing what a client sends (the untyped startup
 * packet, then type byte + length + body), reading a body's fields without ever reading
 * past it, and writing the server's messages with their length filled in. */
#ifndef TARN_CONSUME_PGWIRE_PGMSG_H
#define TARN_CONSUME_PGWIRE_PGMSG_H

#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    PGMSG_STARTUP_MAX = 10000, /* PostgreSQL's own bound on a startup packet */
    PGMSG_MAX = 256 << 20,     /* a larger message is refused, never buffered */
    PGMSG_PROTOCOL_3 = 196608, /* 3.0 */
    PGMSG_SSL_REQUEST = 80877103,
    PGMSG_GSSENC_REQUEST = 80877104,
    PGMSG_CANCEL_REQUEST = 80877102,
};

typedef struct {
    char type;        /* 0 for a startup-phase packet */
    const char *body; /* points into the framed data */
    size_t len;
} pgmsg_t;

/* Frames the next message in data[0..n): returns the bytes it spans (> 0), 0 when more
 * bytes are needed, or TARN_EINVAL (reason "ProtocolViolation") for a length that is
 * impossible or too large. startup: the connection's first packets carry no type byte. */
ssize_t pgmsg_frame(const char *data, size_t n, bool startup, pgmsg_t *out, tarn_err_t *err);

/* Reads a body's fields in order; any read past its end (or a string without its NUL)
 * sets bad and returns zeros, so callers check bad once at the end. */
typedef struct {
    const char *p, *end;
    bool bad;
} pgmsg_reader_t;

void pgmsg_reader_init(pgmsg_reader_t *r, const pgmsg_t *m);
uint8_t pgmsg_get_u8(pgmsg_reader_t *r);
int16_t pgmsg_get_i16(pgmsg_reader_t *r);
int32_t pgmsg_get_i32(pgmsg_reader_t *r);
const char *pgmsg_get_str(pgmsg_reader_t *r); /* "" when bad */
const char *pgmsg_get_bytes(pgmsg_reader_t *r, size_t n);
/* Whether the whole body was read, exactly. */
bool pgmsg_reader_done(const pgmsg_reader_t *r);

/* Writing: pgmsg_begin appends the type and a length placeholder and returns where the
 * message starts; pgmsg_end fills in the length. */
size_t pgmsg_begin(buf_t *b, char type);
void pgmsg_end(buf_t *b, size_t start);
void pgmsg_put_i16(buf_t *b, int16_t v);
void pgmsg_put_i32(buf_t *b, int32_t v);
void pgmsg_put_str(buf_t *b, const char *s); /* with its NUL */

/* ErrorResponse (or NoticeResponse with type 'N'): severity "ERROR"/"FATAL", SQLSTATE,
 * message, and an optional hint (NULL). */
void pgmsg_put_error(buf_t *b, char type, const char *severity, const char *sqlstate,
                     const char *message, const char *hint);
void pgmsg_put_param_status(buf_t *b, const char *name, const char *value);
void pgmsg_put_command_complete(buf_t *b, const char *tag);
void pgmsg_put_ready(buf_t *b, char txn);

#endif
