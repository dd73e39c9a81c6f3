/* PostgreSQL types for the engine's columns and the text <-> binary conversions drivers
 * need; see pgtype.h. Binary formats follow PostgreSQL's send/recv functions: big-endian
 * integers, IEEE floats, dates and timestamps counted from 2000-01-01, numeric in base
 * 10,000 digits. */
#include "consume/pgwire/pgtype.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const pgtype_t types[] = {
    {PGTYPE_BOOL, "bool", 1, -1},           {PGTYPE_BYTEA, "bytea", -1, -1},
    {PGTYPE_NAME, "name", 64, -1},          {PGTYPE_INT8, "int8", 8, -1},
    {PGTYPE_INT2, "int2", 2, -1},           {PGTYPE_INT4, "int4", 4, -1},
    {PGTYPE_TEXT, "text", -1, -1},          {PGTYPE_OID, "oid", 4, -1},
    {PGTYPE_JSON, "json", -1, -1},          {PGTYPE_FLOAT4, "float4", 4, -1},
    {PGTYPE_FLOAT8, "float8", 8, -1},       {PGTYPE_UNKNOWN, "unknown", -2, -1},
    {PGTYPE_BPCHAR, "bpchar", -1, -1},      {PGTYPE_VARCHAR, "varchar", -1, -1},
    {PGTYPE_DATE, "date", 4, -1},           {PGTYPE_TIME, "time", 8, -1},
    {PGTYPE_TIMESTAMP, "timestamp", 8, -1}, {PGTYPE_TIMESTAMPTZ, "timestamptz", 8, -1},
    {PGTYPE_INTERVAL, "interval", 16, -1},  {PGTYPE_TIMETZ, "timetz", 12, -1},
    {PGTYPE_NUMERIC, "numeric", -1, -1},    {PGTYPE_UUID, "uuid", 16, -1},
};

const pgtype_t *pgtype_by_oid(uint32_t oid)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].oid == oid)
            return &types[i];
    return NULL;
}

const pgtype_t *pgtype_at(size_t i)
{
    return i < sizeof types / sizeof *types ? &types[i] : NULL;
}

pgtype_t pgtype_of(const char *t)
{
    static const struct {
        const char *duck;
        uint32_t oid;
    } map[] = {
        {"BOOLEAN", PGTYPE_BOOL},
        {"TINYINT", PGTYPE_INT2},
        {"SMALLINT", PGTYPE_INT2},
        {"UTINYINT", PGTYPE_INT2},
        {"INTEGER", PGTYPE_INT4},
        {"USMALLINT", PGTYPE_INT4},
        {"BIGINT", PGTYPE_INT8},
        {"UINTEGER", PGTYPE_INT8},
        {"UBIGINT", PGTYPE_NUMERIC},
        {"HUGEINT", PGTYPE_NUMERIC},
        {"UHUGEINT", PGTYPE_NUMERIC},
        {"BIGNUM", PGTYPE_NUMERIC},
        {"FLOAT", PGTYPE_FLOAT4},
        {"DOUBLE", PGTYPE_FLOAT8},
        {"VARCHAR", PGTYPE_TEXT},
        {"BLOB", PGTYPE_BYTEA},
        {"DATE", PGTYPE_DATE},
        {"TIME", PGTYPE_TIME},
        {"TIME_NS", PGTYPE_TIME},
        {"TIMESTAMP", PGTYPE_TIMESTAMP},
        {"TIMESTAMP_S", PGTYPE_TIMESTAMP},
        {"TIMESTAMP_MS", PGTYPE_TIMESTAMP},
        {"TIMESTAMP_NS", PGTYPE_TIMESTAMP},
        {"TIMESTAMP WITH TIME ZONE", PGTYPE_TIMESTAMPTZ},
        {"TIME WITH TIME ZONE", PGTYPE_TIMETZ},
        {"INTERVAL", PGTYPE_INTERVAL},
        {"UUID", PGTYPE_UUID},
        {"JSON", PGTYPE_JSON},
        {"NULL", PGTYPE_TEXT},
        {"ENUM", PGTYPE_TEXT},
    };
    unsigned p, s;
    if (sscanf(t, "DECIMAL(%u,%u)", &p, &s) == 2) {
        pgtype_t r = *pgtype_by_oid(PGTYPE_NUMERIC);
        r.typmod = (int32_t)((p << 16) | s) + 4;
        return r;
    }
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i].duck, t))
            return *pgtype_by_oid(map[i].oid);
    return *pgtype_by_oid(PGTYPE_TEXT);
}

size_t pgtype_text_len(uint32_t oid, const char *t, size_t len)
{
    if ((oid == PGTYPE_FLOAT8 || oid == PGTYPE_FLOAT4) && len > 2 && !memcmp(t + len - 2, ".0", 2))
        return len - 2;
    return len;
}

/* ---- text -> binary ---- */

void pgtype_put_be(buf_t *out, uint64_t v, int bytes)
{
    char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (char)(v >> (8 * (bytes - 1 - i)));
    buf_append(out, b, (size_t)bytes);
}

/* "YYYY-MM-DD[ BC]" at *p; advances *p. */
static bool parse_date(const char **p, const char *end, int64_t *days)
{
    char *e;
    long long y = strtoll(*p, &e, 10);
    unsigned m, d;
    int n = 0;
    /* PostgreSQL's dates end in 5874897; bounding the year keeps the day count exact. */
    if (e == *p || e >= end || y < -5874897 || y > 5874897 ||
        sscanf(e, "-%2u-%2u%n", &m, &d, &n) != 2 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    e += n;
    if (end - e >= 3 && !strncmp(e, " BC", 3)) {
        y = 1 - y;
        e += 3;
    }
    *days = time_days_from_civil(y, m, d) - PGTYPE_EPOCH_DAYS;
    *p = e;
    return true;
}

/* "HH:MM:SS[.ffffff]" at *p as microseconds; advances *p. */
static bool parse_time(const char **p, const char *end, int64_t *us)
{
    unsigned h, mi, s;
    int n = 0;
    /* Hours beyond what 64-bit microseconds hold are not a time (an interval's clock part
     * may pass 24 hours, not 2.56 billion). */
    if (sscanf(*p, "%u:%2u:%2u%n", &h, &mi, &s, &n) != 3 || *p + n > end || h > 2562047787u)
        return false;
    const char *e = *p + n;
    int64_t frac = 0;
    if (e < end && *e == '.') {
        int digits = 0;
        for (e++; e < end && isdigit((unsigned char)*e); e++)
            if (digits++ < 6)
                frac = frac * 10 + (*e - '0');
        for (; digits < 6; digits++)
            frac *= 10;
    }
    *us = (((int64_t)h * 60 + mi) * 60 + s) * 1000000 + frac;
    *p = e;
    return true;
}

/* "+HH[:MM[:SS]]" at *p as seconds east of UTC. */
static bool parse_offset(const char **p, const char *end, int32_t *secs)
{
    const char *s = *p;
    if (s >= end || (*s != '+' && *s != '-'))
        return false;
    unsigned h = 0, m = 0, sec = 0;
    int n = 0;
    if (sscanf(s + 1, "%2u%n", &h, &n) != 1)
        return false;
    const char *e = s + 1 + n;
    if (e < end && *e == ':' && sscanf(e + 1, "%2u%n", &m, &n) == 1)
        e += 1 + n;
    if (e < end && *e == ':' && sscanf(e + 1, "%2u%n", &sec, &n) == 1)
        e += 1 + n;
    *secs = (int32_t)((h * 3600 + m * 60 + sec) * (*s == '-' ? -1 : 1));
    *p = e;
    return true;
}

/* PostgreSQL's binary numeric: ndigits, weight, sign, dscale, then base-10000 digits. */
static bool numeric_to_binary(const char *t, size_t len, buf_t *out)
{
    if (len == 3 && !strncasecmp(t, "NaN", 3)) {
        pgtype_put_be(out, 0, 2), pgtype_put_be(out, 0, 2), pgtype_put_be(out, 0xC000, 2),
            pgtype_put_be(out, 0, 2);
        return true;
    }
    if ((len == 8 && !strncasecmp(t, "Infinity", 8)) ||
        (len == 9 && !strncasecmp(t, "-Infinity", 9))) {
        pgtype_put_be(out, 0, 2), pgtype_put_be(out, 0, 2),
            pgtype_put_be(out, *t == '-' ? 0xF000 : 0xD000, 2);
        pgtype_put_be(out, 0, 2);
        return true;
    }
    const char *p = t, *end = t + len;
    bool neg = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    const char *ip = p;
    while (p < end && isdigit((unsigned char)*p))
        p++;
    size_t ni = (size_t)(p - ip), nf = 0;
    const char *fp = p;
    if (p < end && *p == '.') {
        fp = ++p;
        while (p < end && isdigit((unsigned char)*p))
            p++;
        nf = (size_t)(p - fp);
    }
    if (p != end || ni + nf == 0 || ni + nf > 4000)
        return false;
    /* Digits aligned on base-10000 groups: the integer part padded on the left, the
     * fraction on the right. */
    size_t lead = (4 - ni % 4) % 4, total = lead + ni + nf;
    total += (4 - total % 4) % 4;
    char *dig = calloc(total, 1);
    if (!dig)
        return false;
    memset(dig, '0', total);
    memcpy(dig + lead, ip, ni);
    memcpy(dig + lead + ni, fp, nf);
    size_t ngroups = total / 4, first = 0, last = ngroups;
    int weight = (int)((lead + ni) / 4) - 1;
    uint16_t *g = calloc(ngroups ? ngroups : 1, sizeof *g);
    for (size_t i = 0; g && i < ngroups; i++)
        g[i] = (uint16_t)((dig[4 * i] - '0') * 1000 + (dig[4 * i + 1] - '0') * 100 +
                          (dig[4 * i + 2] - '0') * 10 + (dig[4 * i + 3] - '0'));
    free(dig);
    if (!g)
        return false;
    while (first < last && !g[first]) {
        first++;
        weight--;
    }
    while (last > first && !g[last - 1])
        last--;
    if (first == last)
        weight = 0, neg = false;
    pgtype_put_be(out, last - first, 2);
    pgtype_put_be(out, (uint16_t)(int16_t)weight, 2);
    pgtype_put_be(out, neg ? 0x4000 : 0, 2);
    pgtype_put_be(out, nf, 2);
    for (size_t i = first; i < last; i++)
        pgtype_put_be(out, g[i], 2);
    free(g);
    return true;
}

/* DuckDB's interval text ("1 year 2 months 3 days 04:05:06.5", "-01:00:00") as
 * PostgreSQL's binary interval: microseconds, days, months. */
static bool interval_to_binary(const char *t, size_t len, buf_t *out)
{
    const char *p = t, *end = t + len;
    int64_t months = 0, days = 0, us = 0;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        bool neg = *p == '-';
        const char *q = p + (neg || *p == '+');
        int64_t clock;
        const char *c = q;
        if (parse_time(&c, end, &clock) && (c == end || *c == ' ')) {
            if (__builtin_add_overflow(us, neg ? -clock : clock, &us))
                return false;
            p = c;
            continue;
        }
        char *e;
        long long n = strtoll(p, &e, 10);
        if (e == p)
            return false;
        while (e < end && *e == ' ')
            e++;
        const char *u = e;
        while (e < end && isalpha((unsigned char)*e))
            e++;
        size_t ul = (size_t)(e - u);
        int64_t add;
        bool over;
        if (ul >= 3 && !strncmp(u, "year", 4))
            over =
                __builtin_mul_overflow(n, 12, &add) || __builtin_add_overflow(months, add, &months);
        else if (ul >= 3 && !strncmp(u, "mon", 3))
            over = __builtin_add_overflow(months, n, &months);
        else if (ul >= 3 && !strncmp(u, "day", 3))
            over = __builtin_add_overflow(days, n, &days);
        else
            return false;
        if (over)
            return false;
        p = e;
    }
    /* The binary form holds days and months in 32 bits. */
    if (days < INT32_MIN || days > INT32_MAX || months < INT32_MIN || months > INT32_MAX)
        return false;
    pgtype_put_be(out, (uint64_t)us, 8);
    pgtype_put_be(out, (uint64_t)(uint32_t)(int32_t)days, 4);
    pgtype_put_be(out, (uint64_t)(uint32_t)(int32_t)months, 4);
    return true;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int pgtype_text_to_binary(uint32_t oid, const char *t, size_t len, buf_t *out, tarn_err_t *err)
{
    char tmp[64];
    const char *end = t + len, *p = t;
    bool ok = true;
    if (len < sizeof tmp) {
        memcpy(tmp, t, len);
        tmp[len] = '\0';
    } else {
        tmp[0] = '\0';
    }
    switch (oid) {
    case PGTYPE_BOOL:
        ok = len == 1 && (*t == 't' || *t == 'f');
        if (ok)
            buf_putc(out, *t == 't' ? 1 : 0);
        break;
    case PGTYPE_INT2:
    case PGTYPE_INT4:
    case PGTYPE_INT8:
    case PGTYPE_OID: {
        char *e;
        long long v = strtoll(tmp, &e, 10);
        ok = len && len < sizeof tmp && !*e;
        if (ok)
            pgtype_put_be(out, (uint64_t)v, oid == PGTYPE_INT2 ? 2 : oid == PGTYPE_INT8 ? 8 : 4);
        break;
    }
    case PGTYPE_FLOAT4:
    case PGTYPE_FLOAT8: {
        char *e;
        double v = strtod(tmp, &e);
        ok = len && len < sizeof tmp && !*e;
        if (ok && oid == PGTYPE_FLOAT4) {
            float f = (float)v;
            uint32_t bits;
            memcpy(&bits, &f, 4);
            pgtype_put_be(out, bits, 4);
        } else if (ok) {
            uint64_t bits;
            memcpy(&bits, &v, 8);
            pgtype_put_be(out, bits, 8);
        }
        break;
    }
    case PGTYPE_TEXT:
    case PGTYPE_VARCHAR:
    case PGTYPE_BPCHAR:
    case PGTYPE_NAME:
    case PGTYPE_JSON:
    case PGTYPE_UNKNOWN:
        buf_append(out, t, len);
        break;
    case PGTYPE_BYTEA:
        ok = len >= 2 && t[0] == '\\' && t[1] == 'x' && len % 2 == 0;
        for (size_t i = 2; ok && i < len; i += 2) {
            int hi = hexval(t[i]), lo = hexval(t[i + 1]);
            ok = hi >= 0 && lo >= 0;
            if (ok)
                buf_putc(out, (char)(hi << 4 | lo));
        }
        break;
    case PGTYPE_DATE: {
        int64_t days;
        if (!strcmp(tmp, "infinity"))
            pgtype_put_be(out, 0x7FFFFFFF, 4);
        else if (!strcmp(tmp, "-infinity"))
            pgtype_put_be(out, 0x80000000u, 4);
        else if ((ok = parse_date(&p, end, &days) && p == end))
            pgtype_put_be(out, (uint64_t)(uint32_t)(int32_t)days, 4);
        break;
    }
    case PGTYPE_TIMESTAMP:
    case PGTYPE_TIMESTAMPTZ: {
        int64_t days, us = 0;
        int32_t off = 0;
        if (!strcmp(tmp, "infinity")) {
            pgtype_put_be(out, 0x7FFFFFFFFFFFFFFFull, 8);
            break;
        }
        if (!strcmp(tmp, "-infinity")) {
            pgtype_put_be(out, 0x8000000000000000ull, 8);
            break;
        }
        ok = parse_date(&p, end, &days);
        if (ok && p < end && *p == ' ') {
            p++;
            ok = parse_time(&p, end, &us);
        }
        if (ok && oid == PGTYPE_TIMESTAMPTZ && p < end)
            ok = parse_offset(&p, end, &off);
        ok = ok && p == end;
        int64_t t;
        ok = ok && !__builtin_mul_overflow(days, 86400000000LL, &t) &&
             !__builtin_add_overflow(t, us, &t) &&
             !__builtin_sub_overflow(t, (int64_t)off * 1000000, &t);
        if (ok)
            pgtype_put_be(out, (uint64_t)t, 8);
        break;
    }
    case PGTYPE_TIME:
    case PGTYPE_TIMETZ: {
        int64_t us;
        int32_t off = 0;
        ok = parse_time(&p, end, &us);
        if (ok && oid == PGTYPE_TIMETZ)
            ok = parse_offset(&p, end, &off);
        ok = ok && p == end;
        if (ok)
            pgtype_put_be(out, (uint64_t)us, 8);
        if (ok && oid == PGTYPE_TIMETZ)
            pgtype_put_be(out, (uint64_t)(uint32_t)(-off), 4); /* seconds west of UTC */
        break;
    }
    case PGTYPE_UUID: {
        size_t n = 0;
        for (size_t i = 0; ok && i < len; i++) {
            if (t[i] == '-')
                continue;
            ok = n < 32 && hexval(t[i]) >= 0 && i + 1 < len && hexval(t[i + 1]) >= 0;
            if (ok)
                buf_putc(out, (char)(hexval(t[i]) << 4 | hexval(t[i + 1])));
            i++;
            n += 2;
        }
        ok = ok && n == 32;
        break;
    }
    case PGTYPE_NUMERIC:
        ok = numeric_to_binary(t, len, out);
        break;
    case PGTYPE_INTERVAL:
        ok = interval_to_binary(t, len, out);
        break;
    default: {
        const pgtype_t *pt = pgtype_by_oid(oid);
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "binary format is not supported for type %s", pt ? pt->name : "?");
    }
    }
    if (!ok) {
        const pgtype_t *pt = pgtype_by_oid(oid);
        return TARN_ERR_R(err, TARN_EINVAL, InvalidTextRepresentation,
                          "cannot send %.*s as binary %s", (int)(len > 60 ? 60 : len), t,
                          pt ? pt->name : "value");
    }
    return 0;
}

/* ---- parameters ---- */

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

int pgtype_param_to_json(uint32_t oid, int format, const char *data, size_t len, json_t **out,
                         tarn_err_t *err)
{
    const pgtype_t *pt = pgtype_by_oid(oid);
    json_t *v = format == 1 ? binary_param(oid, data, len) : text_param(oid, data, len);
    if (!v)
        return format == 1 && (oid == PGTYPE_BYTEA || oid == PGTYPE_INTERVAL ||
                               oid == PGTYPE_TIME || oid == PGTYPE_TIMETZ || !pt)
                   ? TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                                "binary parameters of type %s are not supported; send them as "
                                "text",
                                pt ? pt->name : "?")
                   : TARN_ERR_R(err, TARN_EINVAL, InvalidTextRepresentation,
                                "invalid input syntax for type %s: \"%.*s\"", pt ? pt->name : "?",
                                (int)(len > 60 ? 60 : len), data);
    *out = v;
    return 0;
}
