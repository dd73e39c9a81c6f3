/* Unit tests of sizes and durations as people write them: units, fractions, case, and what
 * is refused (no number, unknown units, bare durations, overflow); and printing them back. */
#include "util/err.h"
#include "util/units.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_sizes(void **state)
{
    (void)state;
    struct {
        const char *s;
        uint64_t want;
    } good[] = {{"512", 512},         {"1B", 1},           {"8MB", 8000000},
                {"8mb", 8000000},     {"64 MiB", 67108864}, {"1.5GiB", 1610612736},
                {"2GB", 2000000000},  {"1KiB", 1024},      {"0", 0}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        uint64_t v = 1;
        assert_int_equal(units_size_parse(&v, good[i].s), 0);
        assert_int_equal(v, good[i].want);
    }
    const char *bad[] = {"", "MB", "-1MB", "8 parsecs", "8MBs", "nan", "inf", "9e9TB"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t v;
        assert_int_equal(units_size_parse(&v, bad[i]), TARN_EINVAL);
    }
    char out[32];
    units_size_format(out, sizeof out, 8000000);
    assert_string_equal(out, "8MB");
    units_size_format(out, sizeof out, 67108864);
    assert_string_equal(out, "64MiB");
    units_size_format(out, sizeof out, 1500);
    assert_string_equal(out, "1500B");
}

static void test_durations(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t want;
    } good[] = {{"250ms", 250}, {"30s", 30000}, {"5m", 300000}, {"1.5h", 5400000},
                {"1d", 86400000}, {"0s", 0}, {"2 s", 2000}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int64_t v = 1;
        assert_int_equal(units_duration_parse(&v, good[i].s), 0);
        assert_int_equal(v, good[i].want);
    }
    const char *bad[] = {"30", "", "s", "-5s", "5M", "5 minutes", "1e300d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t v;
        assert_int_equal(units_duration_parse(&v, bad[i]), TARN_EINVAL);
    }
    char out[32];
    units_duration_format(out, sizeof out, 300000);
    assert_string_equal(out, "5m");
    units_duration_format(out, sizeof out, 1500);
    assert_string_equal(out, "1500ms");
    units_duration_format(out, sizeof out, 172800000);
    assert_string_equal(out, "2d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
