/* Cron expression parsing into bit sets, and the search for the next matching second.
 * The search walks days rather than minutes so that a yearly or leap-day schedule costs
 * a few thousand steps at most. */
#include "util/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *what;
    int lo, hi;
    const char *const *names; /* names[i] stands for lo + i, or NULL */
} cron_field_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const cron_field_t fields[6] = {
    {"second", 0, 59, NULL},     {"minute", 0, 59, NULL},     {"hour", 0, 23, NULL},       {"day of month", 1, 31, NULL},
    {"month", 1, 12, month_names}, {"day of week", 0, 7, dow_names},
};

/* A number or a name at *p; advances *p. */
static int cron_read_value(int *out, const char **p, const cron_field_t *f)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s - '0');
            if (v > 1000)
                return TARN_EINVAL;
            s++;
        }
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
        int n = f->hi - f->lo + 1 - (f->names == dow_names ? 1 : 0);
        for (int i = 0; i < n; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *out = f->lo + i;
                *p = s + 3;
                return 0;
            }
        }
    }
    return TARN_EINVAL;
}

/* One field (text of length len) into bits; *any says whether it started with '*'. */
static int cron_parse_field(uint64_t *bits, bool *any, const char *text, size_t len,
                            const cron_field_t *f, tarn_err_t *err)
{
    char buf[128];
    if (len >= sizeof buf)
        return TARN_ERR(err, TARN_EINVAL, "cron %s field is too long", f->what);
    memcpy(buf, text, len);
    buf[len] = '\0';
    *bits = 0;
    *any = buf[0] == '*';
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        const char *p = item;
        int a, b, step = 1;
        bool range = false;
        if (*p == '*') {
            a = f->lo;
            b = f->hi;
            p++;
            range = true;
        } else {
            if (cron_read_value(&a, &p, f) != 0)
                goto bad;
            b = a;
            if (*p == '-') {
                p++;
                if (cron_read_value(&b, &p, f) != 0)
                    goto bad;
                range = true;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p) || cron_read_value(&step, &p, f) != 0 || step < 1)
                goto bad;
            if (!range)
                b = f->hi; /* "5/15" means from 5 to the end, as Vixie cron reads it */
        }
        if (*p != '\0')
            goto bad;
        if (a < f->lo || a > f->hi || b < f->lo || b > f->hi)
            return TARN_ERR(err, TARN_EINVAL, "cron %s field: %s is out of range %d-%d", f->what,
                            item, f->lo, f->hi);
        if (a > b)
            return TARN_ERR(err, TARN_EINVAL, "cron %s field: range %s runs backwards", f->what,
                            item);
        for (int v = a; v <= b; v += step)
            *bits |= UINT64_C(1) << v;
        continue;
    bad:
        return TARN_ERR(err, TARN_EINVAL, "cron %s field: cannot read '%s'", f->what, item);
    }
    if (*bits == 0)
        return TARN_ERR(err, TARN_EINVAL, "cron %s field is empty", f->what);
    return 0;
}

static const struct {
    const char *alias, *expr;
} aliases[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

int cron_parse(cron_t *out, const char *expr, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!expr)
        return TARN_ERR(err, TARN_EINVAL, "cron expression is missing");
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '@') {
        for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
            if (strcmp(expr, aliases[i].alias) == 0)
                return cron_parse(out, aliases[i].expr, err);
        return TARN_ERR(err, TARN_EINVAL,
                        "cron alias %s is unknown; valid aliases are @yearly, @annually, "
                        "@monthly, @weekly, @daily, @midnight, @hourly",
                        expr);
    }
    /* Count the fields first: six means a leading second field. */
    int nfields = 0;
    for (const char *q = expr; *q;) {
        while (isspace((unsigned char)*q))
            q++;
        if (!*q)
            break;
        nfields++;
        while (*q && !isspace((unsigned char)*q))
            q++;
    }
    if (nfields != 5 && nfields != 6)
        return TARN_ERR(err, TARN_EINVAL,
                        "cron expression '%s' has %d fields; it needs 5 (minute hour "
                        "day-of-month month day-of-week), or 6 with a second field first",
                        expr, nfields);
    uint64_t bits[6] = {1};
    bool any[6] = {false};
    const char *p = expr;
    for (int i = 6 - nfields; i < 6; i++) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        int rc = cron_parse_field(&bits[i], &any[i], start, (size_t)(p - start), &fields[i], err);
        if (rc != 0)
            return rc;
    }
    if (bits[5] & (UINT64_C(1) << 7))
        bits[5] = (bits[5] | 1) & 0x7f;
    out->second = bits[0];
    out->minute = bits[1];
    out->hour = (uint32_t)bits[2];
    out->dom = (uint32_t)bits[3];
    out->month = (uint16_t)bits[4];
    out->dow = (uint8_t)bits[5];
    out->dom_any = any[3];
    out->dow_any = any[5];
    return 0;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm), UTC and proleptic
 * Gregorian, so the result needs neither the time zone nor the C library's tables. */
static void cron_civil(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool cron_day_matches(const cron_t *c, int64_t days)
{
    int y, m, d;
    cron_civil(days, &y, &m, &d);
    if (!(c->month & (1u << m)))
        return false;
    int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    bool dom_ok = (c->dom >> d) & 1u;
    bool dow_ok = (c->dow >> wd) & 1u;
    if (c->dom_any || c->dow_any)
        return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

time_t cron_next(const cron_t *c, time_t after)
{
    int64_t next = (int64_t)after + 1;
    int64_t day = next >= 0 ? next / 86400 : -((-next + 86399) / 86400);
    int first = (int)(next - day * 86400);
    for (int64_t i = 0; i < 366 * 10; i++, first = 0) {
        if (!cron_day_matches(c, day + i))
            continue;
        /* Skip whole hours and minutes that do not match, so a day costs 24 * 60 steps at
         * most before the seconds of a matching minute. */
        for (int sod = first; sod < 86400; sod++) {
            int h = sod / 3600, mi = sod / 60 % 60, se = sod % 60;
            if (!((c->hour >> h) & 1u)) {
                sod = h * 3600 + 3599;
                continue;
            }
            if (!((c->minute >> mi) & 1u)) {
                sod = h * 3600 + mi * 60 + 59;
                continue;
            }
            if ((c->second >> se) & 1u)
                return (time_t)((day + i) * 86400 + sod);
        }
    }
    return (time_t)-1;
}
