/* Unit tests of cron expressions: parsing (ranges, steps, lists, names, aliases, refusals)
 * and the next matching minute across month, year and leap-day boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/cron.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi};
    return timegm(&tm);
}

/* The next match after the given time, formatted, so a failure shows both dates. */
static const char *next_str(const char *expr, time_t after)
{
    static char buf[32];
    cron_t c;
    tarn_err_t e = {0};
    assert_int_equal(cron_parse(&c, expr, &e), 0);
    time_t t = cron_next(&c, after);
    if (t == (time_t)-1)
        return "none";
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

static void test_parse_fields(void **state)
{
    (void)state;
    cron_t c;
    tarn_err_t e = {0};
    assert_int_equal(cron_parse(&c, "*/15 1-5/2 1,15 jan-mar mon-fri", &e), 0);
    assert_true(c.minute == ((1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45)));
    assert_int_equal(c.hour, (1u << 1) | (1u << 3) | (1u << 5));
    assert_int_equal(c.dom, (1u << 1) | (1u << 15));
    assert_int_equal(c.month, (1u << 1) | (1u << 2) | (1u << 3));
    assert_int_equal(c.dow, 0x3e);
    assert_false(c.dom_any);
    assert_int_equal(cron_parse(&c, "0 0 * * 7", &e), 0);
    assert_int_equal(c.dow, 1); /* 7 is Sunday too */
    assert_int_equal(cron_parse(&c, "5/20 * * * SUN,sat", &e), 0);
    assert_true(c.minute == ((1ull << 5) | (1ull << 25) | (1ull << 45)));
    assert_int_equal(c.dow, (1u << 0) | (1u << 6));
    assert_int_equal(cron_parse(&c, "@daily", &e), 0);
    assert_true(c.minute == 1ull && c.hour == 1u);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *msg;
    } cases[] = {
        {"0 3 * *", "has 4 fields; it needs 5"},
        {"0 0 3 * * * *", "has 7 fields"},
        {"60 * * * * *", "cron second field: 60 is out of range 0-59"},
        {"60 * * * *", "cron minute field: 60 is out of range 0-59"},
        {"* 24 * * *", "cron hour field: 24 is out of range 0-23"},
        {"* * 0 * *", "cron day of month field: 0 is out of range 1-31"},
        {"* * * 13 *", "cron month field: 13 is out of range 1-12"},
        {"* * * * 8", "cron day of week field: 8 is out of range 0-7"},
        {"5-1 * * * *", "range 5-1 runs backwards"},
        {"*/0 * * * *", "cannot read '*/0'"},
        {"a * * * *", "cron minute field: cannot read 'a'"},
        {"* * * foo *", "cron month field: cannot read 'foo'"},
        {"1,,2 * * * *", NULL},
        {"@often", "cron alias @often is unknown"},
        {"", "has 0 fields"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cron_t c;
        tarn_err_t e = {0};
        int rc = cron_parse(&c, cases[i].expr, &e);
        if (cases[i].msg == NULL) {
            /* An empty list item is skipped by the tokenizer: "1,,2" is "1,2". */
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, TARN_EINVAL);
        if (!strstr(e.msg, cases[i].msg))
            fail_msg("'%s': got '%s', want '%s'", cases[i].expr, e.msg, cases[i].msg);
    }
}

static void test_next_basic(void **state)
{
    (void)state;
    assert_string_equal(next_str("0 3 * * *", utc(2026, 5, 10, 2, 59)), "2026-05-10 03:00");
    /* Strictly after: a matching minute itself is not returned. */
    assert_string_equal(next_str("0 3 * * *", utc(2026, 5, 10, 3, 0)), "2026-05-11 03:00");
    assert_string_equal(next_str("0 3 * * *", utc(2026, 5, 10, 3, 0) + 30), "2026-05-11 03:00");
    assert_string_equal(next_str("*/15 * * * *", utc(2026, 5, 10, 23, 50)), "2026-05-11 00:00");
    assert_string_equal(next_str("@hourly", utc(2026, 5, 10, 8, 1)), "2026-05-10 09:00");
}

/* Six fields: a second field first, for schedules finer than a minute. */
static void test_next_seconds(void **state)
{
    (void)state;
    cron_t c;
    tarn_err_t e = {0};
    assert_int_equal(cron_parse(&c, "*/5 * * * * *", &e), 0);
    time_t t = utc(2026, 5, 10, 2, 59);
    assert_int_equal(cron_next(&c, t), t + 5);
    assert_int_equal(cron_next(&c, t + 3), t + 5);
    assert_int_equal(cron_next(&c, t + 57), t + 60);
    assert_int_equal(cron_parse(&c, "30 0 3 * * *", &e), 0);
    assert_int_equal(cron_next(&c, t), utc(2026, 5, 10, 3, 0) + 30);
    assert_int_equal(cron_next(&c, utc(2026, 5, 10, 3, 0) + 30), utc(2026, 5, 11, 3, 0) + 30);
    /* Five fields still fire on the minute only. */
    assert_int_equal(cron_parse(&c, "* * * * *", &e), 0);
    assert_true(c.second == 1u);
    assert_int_equal(cron_next(&c, t + 1), t + 60);
}

static void test_next_boundaries(void **state)
{
    (void)state;
    /* Month end: the 31st skips months without one. */
    assert_string_equal(next_str("0 0 31 * *", utc(2026, 4, 1, 0, 0)), "2026-05-31 00:00");
    assert_string_equal(next_str("30 12 1 * *", utc(2026, 1, 31, 13, 0)), "2026-02-01 12:30");
    /* Year end. */
    assert_string_equal(next_str("59 23 31 12 *", utc(2026, 12, 31, 23, 59)),
                        "2027-12-31 23:59");
    assert_string_equal(next_str("@yearly", utc(2026, 12, 31, 23, 59)), "2027-01-01 00:00");
    /* Feb 29: the next leap year, and 2100 is not one. */
    assert_string_equal(next_str("0 0 29 2 *", utc(2026, 3, 1, 0, 0)), "2028-02-29 00:00");
    assert_string_equal(next_str("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), "2104-02-29 00:00");
    /* Never. */
    assert_string_equal(next_str("0 0 30 2 *", utc(2026, 1, 1, 0, 0)), "none");
}

static void test_next_dom_dow(void **state)
{
    (void)state;
    /* Both restricted: the 13th OR a Friday. 2026-03-01 is a Sunday. */
    assert_string_equal(next_str("0 0 13 * fri", utc(2026, 3, 1, 0, 0)), "2026-03-06 00:00");
    assert_string_equal(next_str("0 0 13 * fri", utc(2026, 3, 12, 0, 0)), "2026-03-13 00:00");
    assert_string_equal(next_str("0 0 13 * fri", utc(2026, 3, 13, 0, 0)), "2026-03-20 00:00");
    /* Only the weekday restricted: weekdays only. */
    assert_string_equal(next_str("0 9 * * mon", utc(2026, 3, 1, 0, 0)), "2026-03-02 09:00");
    /* A starred step in one day field keeps the AND rule, as Vixie cron does. */
    assert_string_equal(next_str("0 0 */2 * fri", utc(2026, 3, 1, 0, 0)), "2026-03-13 00:00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),     cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_next_basic),       cmocka_unit_test(test_next_boundaries),
        cmocka_unit_test(test_next_seconds),
        cmocka_unit_test(test_next_dom_dow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
