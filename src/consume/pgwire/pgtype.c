/* PostgreSQL types for the engine's columns and the text <-> binary conversions drivers
 * need; see pgtype.h. Binary formats follow PostgreSQL's send/recv functions: big-endian
 * integers, IEEE floats, dates and timestamps counted from 2000-01-01, numeric in base
 * 10,000 digits. */
#include "consume/pgwire/pgtype.h"
#include "util/hash.h"
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
    {PGTYPE_CHAR, "char", 1, -1},
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
        {"CHAR1", PGTYPE_CHAR},
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
    case PGTYPE_CHAR: /* one byte; '' is the zero byte */
        ok = len <= 1;
        if (ok)
            buf_putc(out, len ? *t : '\0');
        break;
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
            int hi = hash_hexval(t[i]), lo = hash_hexval(t[i + 1]);
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
            ok = n < 32 && hash_hexval(t[i]) >= 0 && i + 1 < len && hash_hexval(t[i + 1]) >= 0;
            if (ok)
                buf_putc(out, (char)(hash_hexval(t[i]) << 4 | hash_hexval(t[i + 1])));
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

/* Each type's array type, as pg_type lists them. */
static const uint32_t arrays[][2] = {
    {PGTYPE_BOOL, 1000},      {PGTYPE_BYTEA, 1001},    {PGTYPE_NAME, 1003},
    {PGTYPE_CHAR, 1002},
    {PGTYPE_INT8, 1016},      {PGTYPE_INT2, 1005},     {PGTYPE_INT4, 1007},
    {PGTYPE_TEXT, 1009},      {PGTYPE_OID, 1028},      {PGTYPE_JSON, 199},
    {PGTYPE_FLOAT4, 1021},    {PGTYPE_FLOAT8, 1022},   {PGTYPE_BPCHAR, 1014},
    {PGTYPE_VARCHAR, 1015},   {PGTYPE_DATE, 1182},     {PGTYPE_TIME, 1183},
    {PGTYPE_TIMESTAMP, 1115}, {PGTYPE_TIMESTAMPTZ, 1185}, {PGTYPE_INTERVAL, 1187},
    {PGTYPE_TIMETZ, 1270},    {PGTYPE_NUMERIC, 1231},  {PGTYPE_UUID, 2951},
};

uint32_t pgtype_array_of(uint32_t elem)
{
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
        if (arrays[i][0] == elem)
            return arrays[i][1];
    return 0;
}

uint32_t pgtype_array_elem(uint32_t oid)
{
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
        if (arrays[i][1] == oid)
            return arrays[i][0];
    return 0;
}

uint32_t pgtype_param_oid(const char *t)
{
    size_t n = strlen(t);
    if (!n)
        return PGTYPE_TEXT;
    /* A list of lists is one array type with more dimensions in PostgreSQL. */
    size_t base = n;
    while (base > 2 && !strncmp(t + base - 2, "[]", 2))
        base -= 2;
    if (base == n)
        return pgtype_of(t).oid;
    char elem[128];
    if (base >= sizeof elem)
        return PGTYPE_TEXT;
    memcpy(elem, t, base);
    elem[base] = '\0';
    uint32_t a = pgtype_array_of(pgtype_of(elem).oid);
    return a ? a : PGTYPE_TEXT;
}

uint32_t pgtype_by_sql_name(const char *name)
{
    static const struct {
        const char *name;
        uint32_t oid;
    } aliases[] = {
        {"int", PGTYPE_INT4},
        {"integer", PGTYPE_INT4},
        {"smallint", PGTYPE_INT2},
        {"bigint", PGTYPE_INT8},
        {"boolean", PGTYPE_BOOL},
        {"real", PGTYPE_FLOAT4},
        {"float", PGTYPE_FLOAT8},
        {"double precision", PGTYPE_FLOAT8},
        {"decimal", PGTYPE_NUMERIC},
        {"character varying", PGTYPE_VARCHAR},
        {"character", PGTYPE_BPCHAR},
        {"char", PGTYPE_BPCHAR},
        {"timestamp with time zone", PGTYPE_TIMESTAMPTZ},
        {"timestamp without time zone", PGTYPE_TIMESTAMP},
        {"time with time zone", PGTYPE_TIMETZ},
        {"time without time zone", PGTYPE_TIME},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(aliases[i].name, name))
            return aliases[i].oid;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(types[i].name, name) && types[i].oid != PGTYPE_UNKNOWN)
            return types[i].oid;
    return 0;
}
