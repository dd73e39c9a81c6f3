/* PostgreSQL protocol framing and message fields; see pgmsg.h. All integers are
 * big-endian (network order). */
#include "consume/pgwire/pgmsg.h"

#include <string.h>

static uint32_t get_be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

ssize_t pgmsg_frame(const char *data, size_t n, bool startup, pgmsg_t *out, tarn_err_t *err)
{
    size_t head = startup ? 4 : 5;
    if (n < head)
        return 0;
    uint32_t len = get_be32(data + (startup ? 0 : 1));
    /* The length counts itself; a startup packet has at least its protocol code. */
    if (len < (startup ? 8u : 4u) || len > (startup ? PGMSG_STARTUP_MAX : PGMSG_MAX))
        return TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "invalid %s length %u",
                          startup ? "startup packet" : "message", len);
    size_t total = (size_t)len + (startup ? 0 : 1);
    if (n < total)
        return 0;
    out->type = startup ? 0 : data[0];
    out->body = data + head;
    out->len = total - head;
    return (ssize_t)total;
}

void pgmsg_reader_init(pgmsg_reader_t *r, const pgmsg_t *m)
{
    r->p = m->body;
    r->end = m->body + m->len;
    r->bad = false;
}

static const char *take(pgmsg_reader_t *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const char *p = r->p;
    r->p += n;
    return p;
}

uint8_t pgmsg_get_u8(pgmsg_reader_t *r)
{
    const char *p = take(r, 1);
    return p ? (uint8_t)*p : 0;
}

int16_t pgmsg_get_i16(pgmsg_reader_t *r)
{
    const unsigned char *p = (const unsigned char *)take(r, 2);
    return p ? (int16_t)(p[0] << 8 | p[1]) : 0;
}

int32_t pgmsg_get_i32(pgmsg_reader_t *r)
{
    const char *p = take(r, 4);
    return p ? (int32_t)get_be32(p) : 0;
}

const char *pgmsg_get_str(pgmsg_reader_t *r)
{
    const char *nul = r->bad ? NULL : memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (!nul) {
        r->bad = true;
        return "";
    }
    const char *s = r->p;
    r->p = nul + 1;
    return s;
}

const char *pgmsg_get_bytes(pgmsg_reader_t *r, size_t n)
{
    return take(r, n);
}

bool pgmsg_reader_done(const pgmsg_reader_t *r)
{
    return !r->bad && r->p == r->end;
}

void pgmsg_put_i16(buf_t *b, int16_t v)
{
    char c[2] = {(char)((uint16_t)v >> 8), (char)v};
    buf_append(b, c, 2);
}

void pgmsg_put_i32(buf_t *b, int32_t v)
{
    uint32_t u = (uint32_t)v;
    char c[4] = {(char)(u >> 24), (char)(u >> 16), (char)(u >> 8), (char)u};
    buf_append(b, c, 4);
}

void pgmsg_put_str(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s) + 1);
}

size_t pgmsg_begin(buf_t *b, char type)
{
    size_t start = b->len;
    buf_putc(b, type);
    pgmsg_put_i32(b, 0);
    return start;
}

void pgmsg_end(buf_t *b, size_t start)
{
    if (b->len < start + 5)
        return; /* out of memory while writing: the caller's buffer reports it */
    uint32_t len = (uint32_t)(b->len - start - 1);
    unsigned char *p = (unsigned char *)b->data + start + 1;
    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
}

void pgmsg_put_error(buf_t *b, char type, const char *severity, const char *sqlstate,
                     const char *message, const char *hint)
{
    size_t m = pgmsg_begin(b, type);
    buf_putc(b, 'S');
    pgmsg_put_str(b, severity);
    buf_putc(b, 'V');
    pgmsg_put_str(b, severity);
    buf_putc(b, 'C');
    pgmsg_put_str(b, sqlstate);
    buf_putc(b, 'M');
    pgmsg_put_str(b, message);
    if (hint) {
        buf_putc(b, 'H');
        pgmsg_put_str(b, hint);
    }
    buf_putc(b, '\0');
    pgmsg_end(b, m);
}

void pgmsg_put_param_status(buf_t *b, const char *name, const char *value)
{
    size_t m = pgmsg_begin(b, 'S');
    pgmsg_put_str(b, name);
    pgmsg_put_str(b, value);
    pgmsg_end(b, m);
}

void pgmsg_put_command_complete(buf_t *b, const char *tag)
{
    size_t m = pgmsg_begin(b, 'C');
    pgmsg_put_str(b, tag);
    pgmsg_end(b, m);
}

void pgmsg_put_ready(buf_t *b, char txn)
{
    size_t m = pgmsg_begin(b, 'Z');
    buf_putc(b, txn);
    pgmsg_end(b, m);
}
