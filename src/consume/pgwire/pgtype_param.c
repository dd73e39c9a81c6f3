/* Parameter values from drivers, in PostgreSQL's text or binary format, as the JSON
 * values the engine binds (see pgtype_param_to_json): binary formats follow PostgreSQL's
 * recv functions, arrays go through pgarray.c. */
#include "consume/pgwire/pgarray.h"
#include "consume/pgwire/pgtype.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/timeutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint64_t get_be(const char *d, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | (unsigned char)d[i];
    return v;
}

/* A binary date/timestamp as text: days from 2000-01-01 plus rem microseconds of the day
 * (0 <= rem < a day). */
static json_t *datetime_text(int64_t days, int64_t rem, bool date_only, bool tz)
{
    int64_t y;
    unsigned m, d;
    time_civil_from_days(days + PGTYPE_EPOCH_DAYS, &y, &m, &d);
    char s[80];
    if (date_only)
        snprintf(s, sizeof s, "%04lld-%02u-%02u", (long long)y, m, d);
    else
        snprintf(s, sizeof s, "%04lld-%02u-%02u %02lld:%02lld:%02lld.%06lld%s", (long long)y, m, d,
                 (long long)(rem / 3600000000LL), (long long)(rem / 60000000 % 60),
                 (long long)(rem / 1000000 % 60), (long long)(rem % 1000000), tz ? "+00" : "");
    return json_string(s);
}

/* A binary numeric as its text. */
static json_t *numeric_text(const char *d, size_t len)
{
    if (len < 8)
        return NULL;
    size_t nd = get_be(d, 2);
    int weight = (int16_t)get_be(d + 2, 2);
    unsigned sign = (unsigned)get_be(d + 4, 2), dscale = (unsigned)get_be(d + 6, 2);
    if (len != 8 + 2 * nd || dscale > 1000)
        return NULL;
    if (sign == 0xC000)
        return json_string("NaN");
    if (sign == 0xD000 || sign == 0xF000)
        return json_string(sign == 0xD000 ? "Infinity" : "-Infinity");
    buf_t b = BUF_INIT;
    if (sign == 0x4000)
        buf_putc(&b, '-');
    if (weight < 0)
        buf_putc(&b, '0');
    for (int w = 0; w <= weight; w++) {
        unsigned g = (size_t)w < nd ? (unsigned)get_be(d + 8 + 2 * w, 2) : 0;
        buf_printf(&b, w ? "%04u" : "%u", g);
    }
    if (dscale) {
        buf_putc(&b, '.');
        for (unsigned k = 0; k < dscale; k++) {
            int w = weight + 1 + (int)(k / 4);
            unsigned g = w >= 0 && (size_t)w < nd ? (unsigned)get_be(d + 8 + 2 * w, 2) : 0;
            static const unsigned div[] = {1000, 100, 10, 1};
            buf_putc(&b, (char)('0' + g / div[k % 4] % 10));
        }
    }
    json_t *r = b.data ? json_string(b.data) : NULL;
    buf_free(&b);
    return r;
}

/* A float as a JSON number, or its name when JSON has none (the engine casts the text). */
static json_t *special_float(double v)
{
    if (isfinite(v))
        return json_real(v);
    return json_string(isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
}

/* Bytes as the engine's blob text: printable ASCII as it is, every other byte (and the
 * backslash) as \\xHH, which the engine's cast to BLOB reads back. */
static json_t *blob_text(const unsigned char *d, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_t b = BUF_INIT;
    if (buf_reserve(&b, len * 4 + 1))
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (d[i] >= 0x20 && d[i] < 0x7f && d[i] != '\\') {
            buf_putc(&b, (char)d[i]);
        } else {
            char e[4] = {'\\', 'x', hex[d[i] >> 4], hex[d[i] & 15]};
            buf_append(&b, e, 4);
        }
    }
    json_t *r = json_stringn(b.data, b.len);
    buf_free(&b);
    return r;
}

/* bytea's text input: hex ("\\x0aff", space between pairs allowed) or escape (octal
 * "\\012", "\\\\", other bytes as they are). */
static json_t *bytea_text(const char *d, size_t len)
{
    unsigned char *bytes = malloc(len ? len : 1);
    size_t n = 0;
    bool ok = bytes != NULL;
    if (ok && len >= 2 && d[0] == '\\' && d[1] == 'x') {
        for (size_t i = 2; ok && i < len;) {
            if (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
                i++;
                continue;
            }
            int hi = hash_hexval(d[i]), lo = i + 1 < len ? hash_hexval(d[i + 1]) : -1;
            ok = hi >= 0 && lo >= 0;
            if (ok)
                bytes[n++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
    } else {
        for (size_t i = 0; ok && i < len;) {
            if (d[i] != '\\') {
                bytes[n++] = (unsigned char)d[i++];
            } else if (i + 1 < len && d[i + 1] == '\\') {
                bytes[n++] = '\\';
                i += 2;
            } else if (i + 3 < len && d[i + 1] >= '0' && d[i + 1] <= '3' && d[i + 2] >= '0' &&
                       d[i + 2] <= '7' && d[i + 3] >= '0' && d[i + 3] <= '7') {
                bytes[n++] = (unsigned char)((d[i + 1] - '0') << 6 | (d[i + 2] - '0') << 3 |
                                             (d[i + 3] - '0'));
                i += 4;
            } else {
                ok = false;
            }
        }
    }
    json_t *r = ok ? blob_text(bytes, n) : NULL;
    free(bytes);
    return r;
}

/* Microseconds of a day as "HH:MM:SS.ffffff". */
static void time_of_day(char *s, size_t n, int64_t us)
{
    snprintf(s, n, "%02lld:%02lld:%02lld.%06lld", (long long)(us / 3600000000LL),
             (long long)(us / 60000000 % 60), (long long)(us / 1000000 % 60),
             (long long)(us % 1000000));
}

static json_t *text_param(uint32_t oid, const char *d, size_t len)
{
    char tmp[64];
    bool small = len < sizeof tmp;
    if (small) {
        memcpy(tmp, d, len);
        tmp[len] = '\0';
    }
    char *e;
    switch (oid) {
    case PGTYPE_INT2:
    case PGTYPE_INT4:
    case PGTYPE_INT8:
    case PGTYPE_OID: {
        long long v = small ? strtoll(tmp, &e, 10) : 0;
        return small && len && !*e ? json_integer(v) : NULL;
    }
    case PGTYPE_FLOAT4:
    case PGTYPE_FLOAT8: {
        double v = small ? strtod(tmp, &e) : 0;
        return small && len && !*e ? special_float(v) : NULL;
    }
    case PGTYPE_BOOL:
        if (small && (!strcasecmp(tmp, "t") || !strcasecmp(tmp, "true") || !strcmp(tmp, "1") ||
                      !strcasecmp(tmp, "on") || !strcasecmp(tmp, "yes") || !strcasecmp(tmp, "y")))
            return json_true();
        if (small && (!strcasecmp(tmp, "f") || !strcasecmp(tmp, "false") || !strcmp(tmp, "0") ||
                      !strcasecmp(tmp, "off") || !strcasecmp(tmp, "no") || !strcasecmp(tmp, "n")))
            return json_false();
        return NULL;
    case PGTYPE_BYTEA:
        return bytea_text(d, len);
    default:
        return json_stringn(d, len);
    }
}

static json_t *binary_param(uint32_t oid, const char *d, size_t len)
{
    switch (oid) {
    case PGTYPE_BOOL:
        return len == 1 ? json_boolean(*d) : NULL;
    case PGTYPE_INT2:
        return len == 2 ? json_integer((int16_t)get_be(d, 2)) : NULL;
    case PGTYPE_INT4:
        return len == 4 ? json_integer((int32_t)get_be(d, 4)) : NULL;
    case PGTYPE_OID:
        return len == 4 ? json_integer((json_int_t)get_be(d, 4)) : NULL;
    case PGTYPE_INT8:
        return len == 8 ? json_integer((json_int_t)(int64_t)get_be(d, 8)) : NULL;
    case PGTYPE_FLOAT4: {
        if (len != 4)
            return NULL;
        uint32_t bits = (uint32_t)get_be(d, 4);
        float f;
        memcpy(&f, &bits, 4);
        return special_float(f);
    }
    case PGTYPE_FLOAT8: {
        if (len != 8)
            return NULL;
        uint64_t bits = get_be(d, 8);
        double v;
        memcpy(&v, &bits, 8);
        return special_float(v);
    }
    case PGTYPE_CHAR:
        return len <= 1 && (!len || *d) ? json_stringn(d, len) : NULL;
    case PGTYPE_TEXT:
    case PGTYPE_VARCHAR:
    case PGTYPE_BPCHAR:
    case PGTYPE_NAME:
    case PGTYPE_JSON:
    case PGTYPE_UNKNOWN:
    case 0:
        return json_stringn(d, len);
    case PGTYPE_DATE:
        return len == 4 ? datetime_text((int32_t)get_be(d, 4), 0, true, false) : NULL;
    case PGTYPE_TIMESTAMP:
    case PGTYPE_TIMESTAMPTZ: {
        if (len != 8)
            return NULL;
        int64_t us = (int64_t)get_be(d, 8), days = us / 86400000000LL, rem = us % 86400000000LL;
        if (rem < 0) {
            rem += 86400000000LL;
            days--;
        }
        return datetime_text(days, rem, false, oid == PGTYPE_TIMESTAMPTZ);
    }
    case PGTYPE_NUMERIC:
        return numeric_text(d, len);
    case PGTYPE_BYTEA:
        return blob_text((const unsigned char *)d, len);
    case PGTYPE_TIME: {
        int64_t us = len == 8 ? (int64_t)get_be(d, 8) : -1;
        if (us < 0 || us > 86400000000LL)
            return NULL;
        char s[32];
        time_of_day(s, sizeof s, us);
        return json_string(s);
    }
    case PGTYPE_TIMETZ: {
        int64_t us = len == 12 ? (int64_t)get_be(d, 8) : -1;
        int32_t west = len == 12 ? (int32_t)get_be(d + 8, 4) : 0;
        if (us < 0 || us > 86400000000LL || west > 16 * 3600 || west < -16 * 3600)
            return NULL;
        /* PostgreSQL counts the zone in seconds west of UTC; text says east. */
        int32_t east = -west, a = east < 0 ? -east : east;
        char s[64];
        time_of_day(s, sizeof s, us);
        snprintf(s + strlen(s), sizeof s - strlen(s), "%c%02d:%02d:%02d", east < 0 ? '-' : '+',
                 a / 3600, a / 60 % 60, a % 60);
        return json_string(s);
    }
    case PGTYPE_INTERVAL: {
        if (len != 16)
            return NULL;
        char s[96];
        snprintf(s, sizeof s, "%d months %d days %lld microseconds", (int32_t)get_be(d + 12, 4),
                 (int32_t)get_be(d + 8, 4), (long long)(int64_t)get_be(d, 8));
        return json_string(s);
    }
    case PGTYPE_UUID: {
        if (len != 16)
            return NULL;
        char s[37];
        const unsigned char *u = (const unsigned char *)d;
        snprintf(s, sizeof s,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                 u[15]);
        return json_string(s);
    }
    default:
        return NULL;
    }
}

/* One value of type oid (not an array) in format. */
static int scalar_param(uint32_t oid, int format, const char *data, size_t len, json_t **out,
                        tarn_err_t *err)
{
    const pgtype_t *pt = pgtype_by_oid(oid);
    json_t *v = format == 1 ? binary_param(oid, data, len) : text_param(oid, data, len);
    if (v) {
        *out = v;
        return 0;
    }
    if (format == 1 && !pt)
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "binary parameters of type %u are not supported; send them as text",
                          (unsigned)oid);
    if (format == 1)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidBinaryRepresentation,
                          "incorrect binary data format for type %s (%zu bytes)", pt->name, len);
    return TARN_ERR_R(err, TARN_EINVAL, InvalidTextRepresentation,
                      "invalid input syntax for type %s: \"%.*s\"", pt ? pt->name : "?",
                      (int)(len > 60 ? 60 : len), data);
}

typedef struct {
    uint32_t oid;
    int format;
} elem_ctx_t;

static int elem_param(void *ctx, const char *data, size_t len, json_t **out, tarn_err_t *err)
{
    const elem_ctx_t *c = ctx;
    return scalar_param(c->oid, c->format, data, len, out, err);
}

int pgtype_param_to_json(uint32_t oid, int format, const char *data, size_t len, json_t **out,
                         tarn_err_t *err)
{
    elem_ctx_t c = {pgtype_array_elem(oid), format};
    if (!c.oid)
        return scalar_param(oid, format, data, len, out, err);
    return format == 1 ? pgarray_from_binary(data, len, c.oid, elem_param, &c, out, err)
                       : pgarray_from_text(data, len, elem_param, &c, out, err);
}
