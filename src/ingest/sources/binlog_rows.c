/* The binlog's row events decoded; see binlog_rows.h. Formats as MySQL's sql/log_event.cc
 * and libbinlogevents write them: integers little-endian, temporal and decimal values
 * big-endian with offsets that make them sort as bytes, strings length-prefixed. Every
 * read is checked against the event's end: a short or malformed event is an error,
 * never a read past it. */
#include "ingest/sources/binlog_rows.h"

#include "ingest/source_db.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Optional metadata fields of a TABLE_MAP event. */
enum {
    OM_SIGNEDNESS = 1, OM_DEFAULT_CHARSET, OM_COLUMN_CHARSET, OM_COLUMN_NAME, OM_SET_STR_VALUE,
    OM_ENUM_STR_VALUE, OM_GEOMETRY_TYPE, OM_SIMPLE_PRIMARY_KEY, OM_PRIMARY_KEY_WITH_PREFIX,
    OM_ENUM_AND_SET_DEFAULT_CHARSET, OM_ENUM_AND_SET_COLUMN_CHARSET,
};

#define SHORT(err) TARN_ERR(err, TARN_EUPSTREAM, "a binlog event ends too soon")

typedef struct {
    const uint8_t *p, *end;
} rd_t;

static bool rd_take(rd_t *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

uint64_t bl_uint_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A length-encoded integer. */
static bool rd_packed(rd_t *r, uint64_t *v)
{
    const uint8_t *b;
    if (!rd_take(r, 1, &b))
        return false;
    size_t n = b[0] < 251 ? 0 : b[0] == 252 ? 2 : b[0] == 253 ? 3 : b[0] == 254 ? 8 : 99;
    if (!n) {
        *v = b[0];
        return true;
    }
    if (n == 99 || !rd_take(r, n, &b))
        return false;
    *v = bl_uint_le(b, n);
    return true;
}

static bool rd_str(rd_t *r, char **out)
{
    uint64_t n;
    const uint8_t *b;
    if (!rd_packed(r, &n) || n > (uint64_t)(r->end - r->p) || !rd_take(r, (size_t)n, &b))
        return false;
    *out = strndup((const char *)b, (size_t)n);
    return *out != NULL;
}

static bool bit_msb(const uint8_t *bits, size_t i)
{
    return bits[i / 8] >> (7 - i % 8) & 1;
}

static bool bit_lsb(const uint8_t *bits, size_t i)
{
    return bits[i / 8] >> (i % 8) & 1;
}

/* ---- the table map ---- */

void bl_table_free(bl_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++) {
        bl_col_t *c = &t->cols[i];
        free(c->name);
        free(c->charset);
        for (size_t k = 0; k < c->nvalues; k++)
            free(c->values[k]);
        free(c->values);
    }
    free(t->cols);
    free(t->db);
    free(t->name);
    free(t);
}

static bool is_numeric(uint8_t t)
{
    return t == BL_TINY || t == BL_SHORT || t == BL_INT24 || t == BL_LONG || t == BL_LONGLONG ||
           t == BL_NEWDECIMAL || t == BL_FLOAT || t == BL_DOUBLE || t == BL_DECIMAL;
}

static bool is_character(uint8_t t)
{
    return t == BL_STRING || t == BL_VAR_STRING || t == BL_VARCHAR || t == BL_BLOB ||
           t == BL_TINY_BLOB || t == BL_MEDIUM_BLOB || t == BL_LONG_BLOB;
}

static bl_charset_t charset_of(const bl_charsets_t *cs, uint64_t id)
{
    if (id == 63)
        return BL_CS_BINARY;
    return cs && id < cs->n ? (bl_charset_t)cs->kinds[id] : BL_CS_OTHER;
}

/* The per-column metadata of the map's metadata block. */
static bool read_meta(rd_t *r, bl_col_t *c)
{
    const uint8_t *b;
    switch (c->type) {
    case BL_FLOAT:
    case BL_DOUBLE:
    case BL_BLOB:
    case BL_TINY_BLOB:
    case BL_MEDIUM_BLOB:
    case BL_LONG_BLOB:
    case BL_GEOMETRY:
    case BL_JSON:
    case BL_TIMESTAMP2:
    case BL_DATETIME2:
    case BL_TIME2:
        if (!rd_take(r, 1, &b))
            return false;
        c->meta = b[0];
        if (c->type == BL_TINY_BLOB || c->type == BL_MEDIUM_BLOB || c->type == BL_LONG_BLOB)
            c->type = BL_BLOB;
        return true;
    case BL_VARCHAR:
    case BL_VAR_STRING:
        if (!rd_take(r, 2, &b))
            return false;
        c->meta = (uint32_t)bl_uint_le(b, 2);
        c->type = BL_VARCHAR;
        return true;
    case BL_NEWDECIMAL:
        if (!rd_take(r, 2, &b))
            return false;
        c->meta = (uint32_t)b[0] << 8 | b[1];
        return true;
    case BL_BIT:
        if (!rd_take(r, 2, &b))
            return false;
        c->meta = (uint32_t)b[1] * 8 + b[0];
        return true;
    case BL_STRING:
    case BL_ENUM:
    case BL_SET: {
        if (!rd_take(r, 2, &b))
            return false;
        /* The real type, and a CHAR's length with its two high bits folded into it. */
        uint8_t real = b[0];
        uint32_t len = b[1];
        if ((real & 0x30) != 0x30) {
            len |= (uint32_t)((real & 0x30) ^ 0x30) << 4;
            real |= 0x30;
        }
        c->type = real == BL_ENUM || real == BL_SET ? real : BL_STRING;
        c->meta = len;
        return true;
    }
    default:
        return true;
    }
}

/* Reads packed collation ids: DEFAULT_CHARSET (a default, then index/collation pairs) or
 * COLUMN_CHARSET (one per column), over the columns that want(). */
static bool read_charsets(rd_t *r, bl_table_t *t, bool (*want)(const bl_col_t *), bool dflt,
                          const bl_charsets_t *cs)
{
    uint64_t id = 0;
    size_t k = 0;
    if (dflt) {
        if (!rd_packed(r, &id))
            return false;
        for (size_t i = 0; i < t->ncols; i++)
            if (want(&t->cols[i]))
                t->cols[i].cs = charset_of(cs, id);
    }
    while (r->p < r->end) {
        uint64_t idx = 0, coll;
        if (dflt && !rd_packed(r, &idx))
            return false;
        if (!rd_packed(r, &coll))
            return false;
        if (!dflt)
            idx = k++;
        for (size_t i = 0, n = 0; i < t->ncols; i++)
            if (want(&t->cols[i]) && n++ == idx)
                t->cols[i].cs = charset_of(cs, coll);
    }
    return true;
}

static bool want_char(const bl_col_t *c)
{
    return is_character(c->type);
}

static bool want_enum_set(const bl_col_t *c)
{
    return c->type == BL_ENUM || c->type == BL_SET;
}

static bool want_enum(const bl_col_t *c)
{
    return c->type == BL_ENUM;
}

static bool want_set(const bl_col_t *c)
{
    return c->type == BL_SET;
}

static bool read_values(rd_t *r, bl_table_t *t, bool (*want)(const bl_col_t *))
{
    for (size_t i = 0; i < t->ncols && r->p < r->end; i++) {
        bl_col_t *c = &t->cols[i];
        uint64_t n;
        if (!want(c))
            continue;
        if (!rd_packed(r, &n) || n > (uint64_t)(r->end - r->p) || c->values)
            return false;
        if (!(c->values = calloc((size_t)n + 1, sizeof *c->values)))
            return false;
        for (; c->nvalues < n; c->nvalues++)
            if (!rd_str(r, &c->values[c->nvalues]))
                return false;
    }
    return true;
}

static bool read_optional(rd_t *r, bl_table_t *t, const bl_charsets_t *cs)
{
    size_t numeric = 0;
    while (r->p < r->end) {
        const uint8_t *b;
        uint64_t len;
        if (!rd_take(r, 1, &b) || !rd_packed(r, &len) || len > (uint64_t)(r->end - r->p))
            return false;
        uint8_t kind = b[0];
        rd_t f = {r->p, r->p + len};
        r->p += len;
        switch (kind) {
        case OM_SIGNEDNESS:
            for (size_t i = 0; i < t->ncols; i++) {
                if (!is_numeric(t->cols[i].type))
                    continue;
                if (numeric / 8 >= len)
                    return false;
                t->cols[i].is_unsigned = bit_msb(f.p, numeric++);
            }
            break;
        case OM_DEFAULT_CHARSET:
        case OM_COLUMN_CHARSET:
            if (!read_charsets(&f, t, want_char, kind == OM_DEFAULT_CHARSET, cs))
                return false;
            break;
        case OM_ENUM_AND_SET_DEFAULT_CHARSET:
        case OM_ENUM_AND_SET_COLUMN_CHARSET:
            if (!read_charsets(&f, t, want_enum_set, kind == OM_ENUM_AND_SET_DEFAULT_CHARSET, cs))
                return false;
            break;
        case OM_COLUMN_NAME:
            for (size_t i = 0; i < t->ncols; i++)
                if (t->cols[i].name || !rd_str(&f, &t->cols[i].name))
                    return false;
            break;
        case OM_SET_STR_VALUE:
            if (!read_values(&f, t, want_set))
                return false;
            break;
        case OM_ENUM_STR_VALUE:
            if (!read_values(&f, t, want_enum))
                return false;
            break;
        case OM_SIMPLE_PRIMARY_KEY:
        case OM_PRIMARY_KEY_WITH_PREFIX:
            while (f.p < f.end) {
                uint64_t idx, prefix;
                if (!rd_packed(&f, &idx) || idx >= t->ncols)
                    return false;
                if (kind == OM_PRIMARY_KEY_WITH_PREFIX && !rd_packed(&f, &prefix))
                    return false;
                t->cols[idx].key = true;
            }
            break;
        default:
            break; /* geometry types, and what later servers add */
        }
    }
    return true;
}

int bl_table_parse(bl_table_t **out, const uint8_t *p, size_t n, const bl_charsets_t *cs,
                   tarn_err_t *err)
{
    rd_t r = {p, p + n};
    const uint8_t *b, *types, *nulls;
    uint64_t len, ncols, metalen;
    bl_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    bool ok = rd_take(&r, 8, &b);
    if (ok)
        t->id = bl_uint_le(b, 6);
    ok = ok && rd_take(&r, 1, &b) && (len = b[0], rd_take(&r, len + 1, &b)) &&
         (t->db = strndup((const char *)b, len));
    ok = ok && rd_take(&r, 1, &b) && (len = b[0], rd_take(&r, len + 1, &b)) &&
         (t->name = strndup((const char *)b, len));
    ok = ok && rd_packed(&r, &ncols) && ncols > 0 && ncols <= 4096 &&
         rd_take(&r, (size_t)ncols, &types) && rd_packed(&r, &metalen) &&
         metalen <= (uint64_t)(r.end - r.p);
    if (ok && !(t->cols = calloc((size_t)ncols, sizeof *t->cols))) {
        bl_table_free(t);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    if (ok) {
        t->ncols = (size_t)ncols;
        rd_t m = {r.p, r.p + metalen};
        r.p += metalen;
        for (size_t i = 0; ok && i < t->ncols; i++) {
            t->cols[i].type = types[i];
            t->cols[i].cs = is_character(types[i]) ? BL_CS_BINARY : BL_CS_UTF8;
            ok = read_meta(&m, &t->cols[i]);
        }
        ok = ok && m.p == m.end && rd_take(&r, (t->ncols + 7) / 8, &nulls) &&
             read_optional(&r, t, cs);
    }
    if (!ok) {
        bl_table_free(t);
        return TARN_ERR(err, TARN_EUPSTREAM, "a malformed TABLE_MAP event in the binlog");
    }
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->cols[i].name) {
            int rc = TARN_ERR(err, TARN_EINVAL, "the binlog's TABLE_MAP of %s.%s names no "
                              "columns: the server needs binlog_row_metadata = FULL (SET GLOBAL "
                              "binlog_row_metadata = FULL, and in its configuration)", t->db,
                              t->name);
            bl_table_free(t);
            return rc;
        }
    *out = t;
    return 0;
}

/* ---- types ---- */

const char *bl_col_type(const bl_col_t *c, char *buf, size_t cap, const char **read_as,
                        const char **convert)
{
    *read_as = *convert = NULL;
    bool u = c->is_unsigned;
    switch (c->type) {
    case BL_TINY: return u ? "UTINYINT" : "TINYINT";
    case BL_SHORT: return u ? "USMALLINT" : "SMALLINT";
    case BL_INT24:
    case BL_LONG: return u ? "UINTEGER" : "INTEGER";
    case BL_LONGLONG: return u ? "UBIGINT" : "BIGINT";
    case BL_FLOAT: return "FLOAT";
    case BL_DOUBLE: return "DOUBLE";
    case BL_YEAR: return "SMALLINT";
    case BL_BIT: return "UBIGINT";
    case BL_NEWDECIMAL: {
        unsigned p = c->meta >> 8, s = c->meta & 0xff;
        if (p >= 1 && p <= 38 && s <= p) {
            snprintf(buf, cap, "DECIMAL(%u,%u)", p, s);
            return buf;
        }
        return "VARCHAR"; /* wider than DuckDB's decimals: every digit as text */
    }
    case BL_DATE:
    case BL_NEWDATE: return "DATE";
    case BL_TIME:
    case BL_TIME2:
        /* A MySQL TIME is a duration (-838:59:59 to 838:59:59), not a time of day, and
         * Parquet has no negative intervals: its text, "-838:59:59.000000". */
        return "VARCHAR";
    case BL_DATETIME:
    case BL_DATETIME2: return "TIMESTAMP";
    case BL_TIMESTAMP:
    case BL_TIMESTAMP2: return "TIMESTAMPTZ";
    case BL_STRING:
    case BL_VARCHAR:
    case BL_BLOB:
    case BL_GEOMETRY:
        if (c->cs == BL_CS_BINARY || c->type == BL_GEOMETRY) {
            *read_as = "VARCHAR";
            *convert = "unhex(%s)";
            return "BLOB";
        }
        return "VARCHAR";
    default: return "VARCHAR"; /* ENUM, SET, JSON: their text */
    }
}

/* ---- values ---- */

void bl_image_free(bl_image_t *im)
{
    buf_free(&im->text);
    free(im->off);
    free(im->len);
    memset(im, 0, sizeof *im);
}

/* latin1 as MySQL means it: cp1252, with its five holes kept as C1 controls. */
static const uint16_t cp1252[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void bl_hex(buf_t *out, const uint8_t *p, size_t n, size_t pad)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        buf_append(out, h, 2);
    }
    for (size_t i = n; i < pad; i++)
        buf_puts(out, "00");
}

void bl_hex_json(buf_t *out, const uint8_t *p, size_t n, size_t pad)
{
    buf_putc(out, '"');
    bl_hex(out, p, n, pad);
    buf_putc(out, '"');
}

int bl_text_json(buf_t *out, bl_charset_t cs, const char *s, size_t len)
{
    if (cs != BL_CS_LATIN1) {
        buf_put_json_string(out, s, len);
        return 0;
    }
    buf_t u = BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        unsigned ch = (uint8_t)s[i];
        if (ch >= 0x80 && ch < 0xa0)
            ch = cp1252[ch - 0x80];
        if (ch < 0x80) {
            buf_putc(&u, (char)ch);
        } else if (ch < 0x800) {
            char e[2] = {(char)(0xc0 | ch >> 6), (char)(0x80 | (ch & 0x3f))};
            buf_append(&u, e, 2);
        } else {
            char e[3] = {(char)(0xe0 | ch >> 12), (char)(0x80 | (ch >> 6 & 0x3f)),
                         (char)(0x80 | (ch & 0x3f))};
            buf_append(&u, e, 3);
        }
    }
    buf_put_json_string(out, u.data ? u.data : "", u.len);
    buf_free(&u);
    return 0;
}

/* A DECIMAL(p,s) in MySQL's binary format as its text. */
static int decimal_json(buf_t *out, const bl_col_t *c, const uint8_t *p, size_t n,
                        size_t *used, tarn_err_t *err)
{
    static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    int prec = (int)(c->meta >> 8), scale = (int)(c->meta & 0xff);
    if (prec < 1 || prec > 65 || scale > prec || scale > 30)
        return TARN_ERR(err, TARN_EUPSTREAM, "column %s: a DECIMAL(%d,%d) the binlog cannot hold",
                        c->name, prec, scale);
    int intg = prec - scale, intg0 = intg / 9, frac0 = scale / 9, intg0x = intg % 9,
        frac0x = scale % 9;
    size_t size = (size_t)(intg0 * 4 + dig2bytes[intg0x] + frac0 * 4 + dig2bytes[frac0x]);
    if (size > n)
        return SHORT(err);
    uint8_t d[40];
    memcpy(d, p, size);
    bool neg = !(d[0] & 0x80);
    d[0] ^= 0x80;
    if (neg)
        for (size_t i = 0; i < size; i++)
            d[i] ^= 0xff;
    char text[100], *t = text;
    size_t at = 0;
    bool lead = true; /* still in the integer part's leading zeros */
    if (intg0x) {
        uint64_t v = be(d, (size_t)dig2bytes[intg0x]);
        at += (size_t)dig2bytes[intg0x];
        if (v) {
            t += sprintf(t, "%" PRIu64, v);
            lead = false;
        }
    }
    for (int i = 0; i < intg0; i++, at += 4) {
        uint64_t v = be(d + at, 4);
        if (lead && !v)
            continue;
        t += sprintf(t, lead ? "%" PRIu64 : "%09" PRIu64, v);
        lead = false;
    }
    if (lead)
        *t++ = '0';
    if (scale) {
        *t++ = '.';
        for (int i = 0; i < frac0; i++, at += 4)
            t += sprintf(t, "%09" PRIu64, be(d + at, 4));
        if (frac0x)
            t += sprintf(t, "%0*" PRIu64, frac0x, be(d + at, (size_t)dig2bytes[frac0x]));
    }
    *t = '\0';
    *used = size;
    buf_printf(out, "\"%s%s\"", neg ? "-" : "", text);
    return 0;
}

/* The fraction of a TIME2/DATETIME2/TIMESTAMP2 of fsp digits, in microseconds; its bytes
 * into *n. For TIME2 a negative value's fraction counts down (handled by the caller). */
static size_t frac_bytes(uint32_t fsp)
{
    return (fsp + 1) / 2;
}

static int64_t frac_us(const uint8_t *p, uint32_t fsp)
{
    switch (frac_bytes(fsp)) {
    case 1: return (int64_t)p[0] * 10000;
    case 2: return (int64_t)be(p, 2) * 100;
    case 3: return (int64_t)be(p, 3);
    default: return 0;
    }
}

static void put_time(buf_t *out, bool neg, uint64_t h, unsigned m, unsigned s, uint64_t us)
{
    buf_printf(out, "\"%s%02" PRIu64 ":%02u:%02u.%06" PRIu64 "\"", neg ? "-" : "", h, m, s, us);
}

static int time2_json(buf_t *out, const bl_col_t *c, const uint8_t *p, size_t n, size_t *used,
                      tarn_err_t *err)
{
    uint32_t fsp = c->meta > 6 ? 6 : c->meta;
    size_t size = 3 + frac_bytes(fsp);
    if (size > n)
        return SHORT(err);
    /* Packed as MySQL's my_time_packed_from_binary: (int part << 24) + fraction. */
    int64_t intpart = (int64_t)be(p, 3) - 0x800000, packed;
    if (fsp >= 5) {
        packed = (int64_t)be(p, 6) - INT64_C(0x800000000000);
    } else {
        int64_t frac = fsp ? (fsp <= 2 ? p[3] : (int64_t)be(p + 3, 2)) : 0;
        int64_t range = fsp <= 2 ? 0x100 : 0x10000, scale = fsp <= 2 ? 10000 : 100;
        if (intpart < 0 && frac) {
            intpart++;
            frac -= range;
        }
        packed = intpart * (INT64_C(1) << 24) + frac * scale;
    }
    bool neg = packed < 0;
    uint64_t v = (uint64_t)(neg ? -packed : packed);
    uint64_t hms = v >> 24;
    put_time(out, neg, hms >> 12 & 0x3ff, (unsigned)(hms >> 6 & 0x3f), (unsigned)(hms & 0x3f),
             v & 0xffffff);
    *used = size;
    return 0;
}

static void put_datetime(buf_t *out, unsigned y, unsigned mo, unsigned d, unsigned h,
                         unsigned mi, unsigned s, uint64_t us)
{
    if (!mo || !d) { /* zero dates ('0000-00-00') have no DATE or TIMESTAMP */
        buf_puts(out, "null");
        return;
    }
    buf_printf(out, "\"%04u-%02u-%02u %02u:%02u:%02u.%06" PRIu64 "\"", y, mo, d, h, mi, s, us);
}

static int datetime2_json(buf_t *out, const bl_col_t *c, const uint8_t *p, size_t n,
                          size_t *used, tarn_err_t *err)
{
    uint32_t fsp = c->meta > 6 ? 6 : c->meta;
    size_t size = 5 + frac_bytes(fsp);
    if (size > n)
        return SHORT(err);
    int64_t intpart = (int64_t)be(p, 5) - INT64_C(0x8000000000);
    if (intpart < 0)
        return TARN_ERR(err, TARN_EUPSTREAM, "column %s: a negative DATETIME", c->name);
    uint64_t ymdhms = (uint64_t)intpart, ymd = ymdhms >> 17, ym = ymd >> 5,
             hms = ymdhms & 0x1ffff;
    put_datetime(out, (unsigned)(ym / 13), (unsigned)(ym % 13), (unsigned)(ymd & 31),
                 (unsigned)(hms >> 12), (unsigned)(hms >> 6 & 63), (unsigned)(hms & 63),
                 (uint64_t)frac_us(p + 5, fsp));
    *used = size;
    return 0;
}

static int string_json(buf_t *out, const bl_col_t *c, size_t lenbytes, const uint8_t *p,
                       size_t n, size_t *used, tarn_err_t *err)
{
    if (lenbytes > n)
        return SHORT(err);
    uint64_t len = bl_uint_le(p, lenbytes);
    if (len > n - lenbytes)
        return SHORT(err);
    const uint8_t *s = p + lenbytes;
    *used = lenbytes + (size_t)len;
    if (c->cs == BL_CS_BINARY || c->type == BL_GEOMETRY) {
        /* A BINARY(n) is logged without its trailing zero bytes; the table holds them. */
        bl_hex_json(out, s, (size_t)len, c->type == BL_STRING ? c->meta : 0);
        return 0;
    }
    if (c->cs == BL_CS_OTHER)
        return TARN_ERR(err, TARN_EINVAL, "column %s has character set %s, which tarn does not "
                        "convert: ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4", c->name,
                        c->charset ? c->charset : "(unknown)");
    return bl_text_json(out, c->cs, (const char *)s, (size_t)len);
}

static void put_double(buf_t *out, double v, int digits)
{
    if (isnan(v) || isinf(v))
        buf_printf(out, "\"%s\"", isnan(v) ? "NaN" : v < 0 ? "-Infinity" : "Infinity");
    else
        buf_printf(out, "%.*g", digits, v);
}

int bl_value_json(buf_t *out, const bl_col_t *c, const uint8_t *p, size_t n, size_t *used,
                  tarn_err_t *err)
{
    size_t size = 0;
    switch (c->type) {
    case BL_TINY: size = 1; break;
    case BL_SHORT: size = 2; break;
    case BL_INT24:
    case BL_DATE:
    case BL_NEWDATE:
    case BL_TIME: size = 3; break;
    case BL_LONG:
    case BL_TIMESTAMP: size = 4; break;
    case BL_LONGLONG:
    case BL_DATETIME: size = 8; break;
    case BL_YEAR: size = 1; break;
    case BL_FLOAT: size = 4; break;
    case BL_DOUBLE: size = 8; break;
    case BL_BIT: size = (c->meta + 7) / 8; break;
    case BL_ENUM:
    case BL_SET: size = c->meta; break;
    case BL_TIMESTAMP2: size = 4 + frac_bytes(c->meta > 6 ? 6 : c->meta); break;
    case BL_NEWDECIMAL: return decimal_json(out, c, p, n, used, err);
    case BL_TIME2: return time2_json(out, c, p, n, used, err);
    case BL_DATETIME2: return datetime2_json(out, c, p, n, used, err);
    case BL_VARCHAR: return string_json(out, c, c->meta < 256 ? 1 : 2, p, n, used, err);
    case BL_STRING: return string_json(out, c, c->meta < 256 ? 1 : 2, p, n, used, err);
    case BL_BLOB:
    case BL_GEOMETRY:
        if (c->meta < 1 || c->meta > 4)
            return TARN_ERR(err, TARN_EUPSTREAM, "column %s: a BLOB length of %u bytes", c->name,
                            c->meta);
        return string_json(out, c, c->meta, p, n, used, err);
    default:
        return TARN_ERR(err, TARN_EUPSTREAM, "column %s: binlog column type %u is not decoded "
                        "(MySQL's binary JSON, or a pre-5.0 type)", c->name, c->type);
    }
    if (size > n || size > 8)
        return SHORT(err);
    *used = size;
    uint64_t v = bl_uint_le(p, size);
    switch (c->type) {
    case BL_TINY:
    case BL_SHORT:
    case BL_INT24:
    case BL_LONG:
    case BL_LONGLONG:
        if (c->is_unsigned || size == 8) {
            if (c->is_unsigned)
                return buf_printf(out, "%" PRIu64, v);
            return buf_printf(out, "%" PRId64, (int64_t)v);
        }
        /* Sign-extend from size bytes. */
        return buf_printf(out, "%" PRId64,
                          (int64_t)(v << (64 - 8 * size)) >> (64 - 8 * size));
    case BL_YEAR: return buf_printf(out, "%u", v ? 1900 + (unsigned)v : 0);
    case BL_FLOAT: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, sizeof f);
        put_double(out, f, 9);
        return 0;
    }
    case BL_DOUBLE: {
        double d;
        memcpy(&d, &v, sizeof d);
        put_double(out, d, 17);
        return 0;
    }
    case BL_BIT: return buf_printf(out, "%" PRIu64, be(p, size));
    case BL_DATE: {
        unsigned y = (unsigned)(v >> 9), mo = (unsigned)(v >> 5 & 15), d = (unsigned)(v & 31);
        if (!mo || !d)
            return buf_puts(out, "null"); /* a zero date */
        return buf_printf(out, "\"%04u-%02u-%02u\"", y, mo, d);
    }
    case BL_TIME: {
        int64_t t = (int64_t)(v << 40) >> 40; /* HHMMSS, signed */
        bool neg = t < 0;
        uint64_t a = (uint64_t)(neg ? -t : t);
        put_time(out, neg, a / 10000, (unsigned)(a / 100 % 100), (unsigned)(a % 100), 0);
        return 0;
    }
    case BL_DATETIME:
        put_datetime(out, (unsigned)(v / 10000000000), (unsigned)(v / 100000000 % 100),
                     (unsigned)(v / 1000000 % 100), (unsigned)(v / 10000 % 100),
                     (unsigned)(v / 100 % 100), (unsigned)(v % 100), 0);
        return 0;
    case BL_TIMESTAMP:
    case BL_TIMESTAMP2: {
        int64_t secs = c->type == BL_TIMESTAMP ? (int64_t)v : (int64_t)be(p, 4);
        int64_t us = c->type == BL_TIMESTAMP ? 0 : frac_us(p + 4, c->meta > 6 ? 6 : c->meta);
        if (!secs && !us)
            return buf_puts(out, "null"); /* the zero TIMESTAMP */
        char ts[48];
        source_db_timestamp(ts, sizeof ts, secs * 1000000 + us);
        return buf_printf(out, "\"%s\"", ts);
    }
    case BL_ENUM:
        if (!v)
            return buf_puts(out, "\"\""); /* the error value an invalid ENUM holds */
        if (v > c->nvalues)
            return TARN_ERR(err, TARN_EUPSTREAM, "column %s: ENUM index %" PRIu64 " of %zu "
                            "values", c->name, v, c->nvalues);
        return bl_text_json(out, c->cs, c->values[v - 1], strlen(c->values[v - 1]));
    case BL_SET: {
        buf_t s = BUF_INIT;
        for (size_t i = 0; i < c->nvalues && i < 64; i++)
            if (v >> i & 1) {
                if (s.len)
                    buf_putc(&s, ',');
                buf_puts(&s, c->values[i]);
            }
        bl_text_json(out, c->cs, s.data ? s.data : "", s.len);
        buf_free(&s);
        return 0;
    }
    default: return 0;
    }
}

/* ---- rows ---- */

int bl_rows_open(bl_rows_t *r, int type, const uint8_t *p, size_t n, tarn_err_t *err)
{
    memset(r, 0, sizeof *r);
    bool v2 = type >= 30 && type <= 32;
    int base = v2 ? 30 : 23;
    if (type < base || type > base + 2)
        return TARN_ERR(err, TARN_EUPSTREAM, "binlog event type %d is not a rows event", type);
    r->op = "cud"[type - base];
    rd_t d = {p, p + n};
    const uint8_t *b;
    uint64_t ncols;
    if (!rd_take(&d, 8, &b))
        return SHORT(err);
    r->table_id = bl_uint_le(b, 6);
    r->flags = (uint16_t)bl_uint_le(b + 6, 2);
    if (v2) {
        if (!rd_take(&d, 2, &b))
            return SHORT(err);
        size_t extra = (size_t)bl_uint_le(b, 2);
        if (extra < 2 || !rd_take(&d, extra - 2, &b))
            return SHORT(err);
    }
    if (!rd_packed(&d, &ncols) || ncols > 4096)
        return SHORT(err);
    r->ncols = (size_t)ncols;
    size_t bm = (r->ncols + 7) / 8;
    if (!rd_take(&d, bm, &r->present) || (r->op == 'u' && !rd_take(&d, bm, &r->present2)))
        return SHORT(err);
    r->p = d.p;
    r->end = d.end;
    return 0;
}

static int read_image(bl_rows_t *r, const bl_table_t *t, const uint8_t *present, bl_image_t *im,
                      tarn_err_t *err)
{
    if (im->ncols != t->ncols) {
        free(im->off);
        free(im->len);
        im->off = calloc(t->ncols + 1, sizeof *im->off);
        im->len = calloc(t->ncols + 1, sizeof *im->len);
        if (!im->off || !im->len)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        im->ncols = t->ncols;
    }
    buf_reset(&im->text);
    size_t npresent = 0;
    for (size_t i = 0; i < t->ncols; i++)
        npresent += bit_lsb(present, i);
    rd_t d = {r->p, r->end};
    const uint8_t *nulls;
    if (!rd_take(&d, (npresent + 7) / 8, &nulls))
        return SHORT(err);
    for (size_t i = 0, k = 0; i < t->ncols; i++) {
        im->off[i] = im->text.len;
        if (!bit_lsb(present, i) || bit_lsb(nulls, k++)) {
            buf_puts(&im->text, "null");
        } else {
            size_t used = 0;
            int rc = bl_value_json(&im->text, &t->cols[i], d.p, (size_t)(d.end - d.p), &used,
                                   err);
            if (rc)
                return rc;
            d.p += used;
        }
        im->len[i] = im->text.len - im->off[i];
    }
    if (!im->text.data && t->ncols)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    r->p = d.p;
    return 0;
}

int bl_rows_next(bl_rows_t *r, const bl_table_t *t, bl_image_t *before, bl_image_t *after,
                 tarn_err_t *err)
{
    if (r->p >= r->end)
        return 0;
    if (r->ncols != t->ncols)
        return TARN_ERR(err, TARN_EUPSTREAM, "a rows event of %s.%s has %zu columns, its table "
                        "map %zu", t->db, t->name, r->ncols, t->ncols);
    int rc;
    switch (r->op) {
    case 'c': rc = read_image(r, t, r->present, after, err); break;
    case 'd': rc = read_image(r, t, r->present, before, err); break;
    default:
        rc = read_image(r, t, r->present, before, err);
        if (!rc)
            rc = read_image(r, t, r->present2, after, err);
    }
    return rc ? rc : 1;
}
