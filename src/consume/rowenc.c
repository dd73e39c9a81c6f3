/* Row encoders over typed column vectors; see rowenc.h. Values are written as the
 * engine's own cast to text writes them (the same digits, dates and float spellings), so
 * every interface answers what it answered when the engine did the conversion; only
 * PostgreSQL's spellings differ where PostgreSQL's do (t/f, Infinity, NaN, \x bytea). */
#include "consume/rowenc.h"
#include "util/timeutil.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128_t;
__extension__ typedef __int128 i128_t;

struct rowenc {
    engine_stream_t *stream;
    rowenc_style_t style;
    size_t ncols;
    bool *converted;
    bool *own;                /* written by the caller from the vectors: no cell text */
    const engine_vec_t *vecs; /* this chunk's */
    buf_t text;               /* this chunk's written values */
    engine_cell_t *cells;     /* this chunk's cells */
    size_t cap_cells;
};

bool rowenc_native(engine_kind_t kind, rowenc_style_t style)
{
    switch (kind) {
    case ENGINE_KIND_OTHER:
        return false;
    /* The engine's text of a 4-byte float is not always its shortest digits (5262752256
     * but 807577300): left to it, as single floats are rare in results. */
    case ENGINE_KIND_F32:
        return false;
    /* Bytes as the engine spells them in text (\xNN escapes) are left to it. */
    case ENGINE_KIND_BLOB:
        return style == ROWENC_PG;
    default:
        return true;
    }
}

void rowenc_put_convert(buf_t *b, const char *type, const char *ident, rowenc_style_t style)
{
    bool nested = strchr(type, '[') || !strncmp(type, "STRUCT", 6) || !strncmp(type, "MAP", 3) ||
                  !strncmp(type, "UNION", 5);
    /* JSON: every value as the engine writes it inside a JSON document (a JSON column
     * stays structured); CSV: nested values as JSON. PostgreSQL's text format of the
     * remaining types is the engine's text (a column of the NULL type becomes text). */
    if (style == ROWENC_JSON || (style == ROWENC_TEXT && nested))
        buf_printf(b, "to_json(%s)::VARCHAR", ident);
    else
        buf_printf(b, "%s::VARCHAR", ident);
}

/* ---- values ---- */

/* Digits of u, most significant first, at the end of out[40]; returns the first. */
static char *u128_digits(char *end, u128_t u)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";
    char *p = end;
    /* 128-bit division is a library call: only the digits past 64 bits take it. */
    while (u > UINT64_MAX) {
        *--p = (char)('0' + (int)(u % 10));
        u /= 10;
    }
    uint64_t v = (uint64_t)u;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = pairs[k + 1];
        *--p = pairs[k];
    }
    if (v >= 10) {
        *--p = pairs[v * 2 + 1];
        *--p = pairs[v * 2];
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

static u128_t i128_of(const engine_i128_t *v)
{
    return ((u128_t)(uint64_t)v->hi << 64) | v->lo;
}

static void put_int(buf_t *b, i128_t v)
{
    char d[48], *end = d + sizeof d;
    u128_t u = v < 0 ? -(u128_t)v : (u128_t)v;
    char *p = u128_digits(end, u);
    if (v < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(end - p));
}

static void put_uint(buf_t *b, u128_t u)
{
    char d[48], *end = d + sizeof d;
    char *p = u128_digits(end, u);
    buf_append(b, p, (size_t)(end - p));
}

/* A DECIMAL: v scaled by 10^scale, every fractional digit written ("1.50", "-0.05"). */
static void put_decimal(buf_t *b, i128_t v, unsigned scale)
{
    char d[64], *end = d + sizeof d;
    u128_t u = v < 0 ? -(u128_t)v : (u128_t)v;
    char *p = u128_digits(end, u);
    while ((size_t)(end - p) <= scale)
        *--p = '0';
    if (v < 0)
        buf_putc(b, '-');
    size_t n = (size_t)(end - p);
    buf_append(b, p, n - scale);
    if (scale) {
        buf_putc(b, '.');
        buf_append(b, p + n - scale, scale);
    }
}

/* The shortest digits that read back as d, spelled as the engine does: fixed notation for exponents
 * -4 to 15 with at least one fractional digit
 * ("100.0", "0.0001"), else scientific with a signed two-digit exponent ("1e+16",
 * "1.5e-05"). Non-finite values are the caller's. */
static void put_float(buf_t *b, double d)
{
    char tmp[48];
    int lo = 15, hi = 17, p;
    /* Below 15 digits, correctly rounded digits are the shortest when they read back
     * (rounding then leaves trailing zeros, stripped below); subnormal numbers have fewer
     * significant bits, so their search starts at one digit. */
    if (fabs(d) < DBL_MIN)
        lo = 1;
    for (p = lo; p < hi; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (p == hi)
        snprintf(tmp, sizeof tmp, "%.*e", hi - 1, d);
    /* tmp: [-]D.DDDDe[+-]XX */
    const char *s = tmp;
    if (*s == '-') {
        buf_putc(b, '-');
        s++;
    }
    char digits[24];
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[n++] = *s;
    int e = atoi(s + 1);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    if (e >= -4 && e < 16) {
        if (e < 0) {
            buf_puts(b, "0.");
            for (int i = -1; i > e; i--)
                buf_putc(b, '0');
            buf_append(b, digits, n);
            return;
        }
        size_t whole = (size_t)e + 1;
        if (n <= whole) {
            /* A whole number: all its digits (below 10^16 they are exact). */
            buf_printf(b, "%.0f.0", fabs(d));
            return;
        }
        buf_append(b, digits, whole);
        buf_putc(b, '.');
        buf_append(b, digits + whole, n - whole);
        return;
    }
    buf_putc(b, digits[0]);
    if (n > 1) {
        buf_putc(b, '.');
        buf_append(b, digits + 1, n - 1);
    }
    buf_printf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
}

static void put_double(buf_t *b, double d, rowenc_style_t style)
{
    if (isnan(d))
        buf_puts(b, style == ROWENC_TEXT ? "nan" : "NaN");
    else if (isinf(d))
        buf_puts(b, style == ROWENC_TEXT ? (d > 0 ? "inf" : "-inf")
                                         : (d > 0 ? "Infinity" : "-Infinity"));
    else
        put_float(b, d);
}

/* Two digits of v < 100 at o. */
static char *two_digits(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

/* "2024-01-02", "0045-03-15 (BC)" for year -44. Written by hand, not by printf: a date is
 * a common column and printf was the larger part of encoding one. */
static void put_date_days(buf_t *b, int64_t days)
{
    int64_t y;
    unsigned m, d;
    time_civil_from_days(days, &y, &m, &d);
    bool bc = y <= 0;
    uint64_t year = (uint64_t)(bc ? 1 - y : y);
    char out[64], *o = out;
    if (year < 10000) {
        o = two_digits(o, (unsigned)(year / 100));
        o = two_digits(o, (unsigned)(year % 100));
    } else {
        char digits[48], *end = digits + sizeof digits, *p = u128_digits(end, year);
        memcpy(o, p, (size_t)(end - p));
        o += end - p;
    }
    *o++ = '-';
    o = two_digits(o, m);
    *o++ = '-';
    o = two_digits(o, d);
    buf_append(b, out, (size_t)(o - out));
    if (bc)
        buf_puts(b, " (BC)");
}

/* "01:02:03", "01:02:03.25": the fraction without trailing zeros. */
static void put_time_us(buf_t *b, int64_t us)
{
    int64_t s = us / 1000000, f = us % 1000000, h = s / 3600;
    char out[48], *o = out;
    if (h < 100) {
        o = two_digits(o, (unsigned)h);
    } else {
        char digits[48], *end = digits + sizeof digits, *p = u128_digits(end, (u128_t)h);
        memcpy(o, p, (size_t)(end - p));
        o += end - p;
    }
    *o++ = ':';
    o = two_digits(o, (unsigned)(s / 60 % 60));
    *o++ = ':';
    o = two_digits(o, (unsigned)(s % 60));
    if (f) {
        *o++ = '.';
        for (int64_t div = 100000; div && f; div /= 10) {
            *o++ = (char)('0' + f / div);
            f %= div;
        }
    }
    buf_append(b, out, (size_t)(o - out));
}

static void put_uuid(buf_t *b, const engine_i128_t *v)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t hi = (uint64_t)v->hi ^ (UINT64_C(1) << 63), lo = v->lo;
    char out[36], *o = out;
    for (int k = 0; k < 32; k++) { /* 8-4-4-4-12 hex digits */
        if (k == 8 || k == 12 || k == 16 || k == 20)
            *o++ = '-';
        *o++ = hex[((k < 16 ? hi : lo) >> (60 - 4 * (k % 16))) & 15];
    }
    buf_append(b, out, sizeof out);
}

int rowenc_put_value(buf_t *b, const engine_vec_t *v, size_t i, rowenc_style_t style)
{
    const void *x = v->values;
    bool json = style == ROWENC_JSON;
    size_t tlen = 0;
    const char *text = v->kind == ENGINE_KIND_TEXT || v->kind == ENGINE_KIND_BLOB
                           ? engine_vec_text(v, i, &tlen)
                           : NULL;
    /* Room for the longest value up front (a JSON string escapes a byte in at most 6, a
     * 128-bit decimal or a timestamp far out in the years take under 64), so no append
     * below can fail. */
    if (buf_reserve(b, 64 + (json ? 6 : 2) * tlen))
        return TARN_ENOMEM;
    /* Values JSON writes as strings; numbers and booleans stay bare. */
    bool quoted = json && (v->kind == ENGINE_KIND_DATE || v->kind == ENGINE_KIND_TIME ||
                           v->kind == ENGINE_KIND_TIMESTAMP || v->kind == ENGINE_KIND_UUID);
    if (quoted)
        buf_putc(b, '"');
    switch (v->kind) {
    case ENGINE_KIND_TEXT:
        if (json)
            buf_put_json_string(b, text, tlen);
        else
            buf_append(b, text, tlen);
        break;
    case ENGINE_KIND_BLOB: {
        /* PostgreSQL's bytea hex format (the only style that writes bytes here). */
        size_t n = tlen;
        const unsigned char *s = (const unsigned char *)text;
        static const char hex[] = "0123456789abcdef";
        char *o = b->data + b->len;
        *o++ = '\\', *o++ = 'x';
        for (size_t k = 0; k < n; k++)
            *o++ = hex[s[k] >> 4], *o++ = hex[s[k] & 15];
        b->len += 2 + 2 * n;
        b->data[b->len] = '\0';
        break;
    }
    case ENGINE_KIND_BOOL:
        buf_puts(b, ((const bool *)x)[i] ? (style == ROWENC_PG ? "t" : "true")
                                         : (style == ROWENC_PG ? "f" : "false"));
        break;
    case ENGINE_KIND_I8:
        put_int(b, ((const int8_t *)x)[i]);
        break;
    case ENGINE_KIND_I16:
        put_int(b, ((const int16_t *)x)[i]);
        break;
    case ENGINE_KIND_I32:
        put_int(b, ((const int32_t *)x)[i]);
        break;
    case ENGINE_KIND_I64:
        put_int(b, ((const int64_t *)x)[i]);
        break;
    case ENGINE_KIND_U8:
        put_uint(b, ((const uint8_t *)x)[i]);
        break;
    case ENGINE_KIND_U16:
        put_uint(b, ((const uint16_t *)x)[i]);
        break;
    case ENGINE_KIND_U32:
        put_uint(b, ((const uint32_t *)x)[i]);
        break;
    case ENGINE_KIND_U64:
        put_uint(b, ((const uint64_t *)x)[i]);
        break;
    case ENGINE_KIND_I128:
        put_int(b, (i128_t)i128_of((const engine_i128_t *)x + i));
        break;
    case ENGINE_KIND_U128:
        put_uint(b, i128_of((const engine_i128_t *)x + i));
        break;
    case ENGINE_KIND_F64:
        put_double(b, ((const double *)x)[i], style);
        break;
    case ENGINE_KIND_DEC16:
        put_decimal(b, ((const int16_t *)x)[i], v->scale);
        break;
    case ENGINE_KIND_DEC32:
        put_decimal(b, ((const int32_t *)x)[i], v->scale);
        break;
    case ENGINE_KIND_DEC64:
        put_decimal(b, ((const int64_t *)x)[i], v->scale);
        break;
    case ENGINE_KIND_DEC128:
        put_decimal(b, (i128_t)i128_of((const engine_i128_t *)x + i), v->scale);
        break;
    case ENGINE_KIND_DATE: {
        int32_t d = ((const int32_t *)x)[i];
        if (d == INT32_MAX || d == -INT32_MAX)
            buf_puts(b, d > 0 ? "infinity" : "-infinity");
        else
            put_date_days(b, d);
        break;
    }
    case ENGINE_KIND_TIME:
        put_time_us(b, ((const int64_t *)x)[i]);
        break;
    case ENGINE_KIND_TIMESTAMP: {
        int64_t t = ((const int64_t *)x)[i];
        if (t == INT64_MAX || t == -INT64_MAX) {
            buf_puts(b, t > 0 ? "infinity" : "-infinity");
            break;
        }
        int64_t days = t / 86400000000, us = t % 86400000000;
        if (us < 0)
            days--, us += 86400000000;
        put_date_days(b, days);
        buf_putc(b, ' ');
        put_time_us(b, us);
        break;
    }
    case ENGINE_KIND_UUID:
        put_uuid(b, (const engine_i128_t *)x + i);
        break;
    case ENGINE_KIND_F32:
    case ENGINE_KIND_OTHER:
        return TARN_EINVAL;
    }
    if (quoted)
        buf_putc(b, '"');
    return 0;
}

/* ---- chunks ---- */

int rowenc_open(rowenc_t **out, engine_stream_t *stream, rowenc_style_t style,
                const bool *converted, tarn_err_t *err)
{
    const json_t *cols;
    const engine_kind_t *kinds;
    int rc = engine_stream_columns(stream, &cols, &kinds, err);
    if (rc) {
        engine_stream_close(stream);
        return rc;
    }
    rowenc_t *e = calloc(1, sizeof *e);
    size_t nc = engine_stream_ncols(stream);
    if (!e || !(e->converted = calloc(nc ? nc : 1, sizeof *e->converted)) ||
        !(e->own = calloc(nc ? nc : 1, sizeof *e->own))) {
        if (e)
            free(e->converted);
        free(e);
        engine_stream_close(stream);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    e->stream = stream;
    e->style = style;
    e->ncols = nc;
    if (converted)
        memcpy(e->converted, converted, nc * sizeof *converted);
    *out = e;
    return 0;
}

void rowenc_own(rowenc_t *e, size_t col)
{
    if (col < e->ncols && e->style != ROWENC_JSON)
        e->own[col] = !e->converted[col];
}

bool rowenc_owned(const rowenc_t *e, size_t col)
{
    return col < e->ncols && e->own[col];
}

const engine_vec_t *rowenc_vectors(const rowenc_t *e)
{
    return e->vecs;
}

size_t rowenc_ncols(const rowenc_t *e)
{
    return e->style == ROWENC_JSON ? 1 : e->ncols;
}

/* A cell written into e->text starts at an offset (the buffer may move while the chunk
 * is written); offsets become pointers once the chunk is done. */
enum { IN_TEXT = 1 };

static int json_rows(rowenc_t *e, const engine_vec_t *vecs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = e->text.len;
        buf_putc(&e->text, '[');
        for (size_t j = 0; j < e->ncols; j++) {
            const engine_vec_t *v = &vecs[j];
            if (j)
                buf_putc(&e->text, ',');
            if (engine_vec_null(v, i)) {
                buf_puts(&e->text, "null");
            } else if (e->converted[j]) {
                size_t len;
                const char *s = engine_vec_text(v, i, &len);
                buf_append(&e->text, s, len);
            } else if (rowenc_put_value(&e->text, v, i, ROWENC_JSON)) {
                return TARN_ENOMEM;
            }
        }
        if (buf_putc(&e->text, ']'))
            return TARN_ENOMEM;
        e->cells[i] = (engine_cell_t){(const char *)(uintptr_t)at, e->text.len - at};
    }
    return 0;
}

static int text_rows(rowenc_t *e, const engine_vec_t *vecs, size_t n, bool *in_text)
{
    size_t nc = e->ncols;
    for (size_t j = 0; j < nc; j++) {
        const engine_vec_t *v = &vecs[j];
        /* Text is the chunk's own bytes: pointed at, not copied. */
        in_text[j] = v->kind != ENGINE_KIND_TEXT && !e->own[j];
        for (size_t i = 0; i < n; i++) {
            engine_cell_t *c = &e->cells[i * nc + j];
            if (engine_vec_null(v, i)) {
                *c = (engine_cell_t){NULL, 0};
            } else if (e->own[j]) {
                *c = (engine_cell_t){"", 0}; /* only says the value is not NULL */
            } else if (!in_text[j]) {
                c->data = engine_vec_text(v, i, &c->len);
            } else {
                size_t at = e->text.len;
                if (rowenc_put_value(&e->text, v, i, e->style))
                    return TARN_ENOMEM;
                *c = (engine_cell_t){(const char *)(uintptr_t)(at + IN_TEXT), e->text.len - at};
            }
        }
    }
    return 0;
}

int rowenc_next(rowenc_t *e, const engine_cell_t **cells, size_t *nrows, tarn_err_t *err)
{
    const engine_vec_t *vecs;
    size_t n;
    *nrows = 0;
    int rc = engine_stream_next(e->stream, &vecs, &n, err);
    if (rc || !n)
        return rc;
    e->vecs = vecs;
    size_t per = rowenc_ncols(e);
    if (n * per > e->cap_cells) {
        engine_cell_t *c = realloc(e->cells, n * per * sizeof *c);
        if (!c)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        e->cells = c;
        e->cap_cells = n * per;
    }
    buf_reset(&e->text);
    bool in_text[e->ncols ? e->ncols : 1];
    if (e->style == ROWENC_JSON)
        rc = json_rows(e, vecs, n);
    else
        rc = text_rows(e, vecs, n, in_text);
    if (rc)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (e->style == ROWENC_JSON) {
        for (size_t i = 0; i < n; i++)
            e->cells[i].data = e->text.data + (uintptr_t)e->cells[i].data;
    } else {
        for (size_t j = 0; j < e->ncols; j++)
            for (size_t i = 0; in_text[j] && i < n; i++) {
                engine_cell_t *c = &e->cells[i * e->ncols + j];
                if (c->data)
                    c->data = e->text.data + ((uintptr_t)c->data - IN_TEXT);
            }
    }
    *cells = e->cells;
    *nrows = n;
    return 0;
}

void rowenc_close(rowenc_t *e)
{
    if (!e)
        return;
    engine_stream_close(e->stream);
    buf_free(&e->text);
    free(e->cells);
    free(e->converted);
    free(e->own);
    free(e);
}
