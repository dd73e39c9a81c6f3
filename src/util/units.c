/* Sizes and durations; see units.h. Fractions are allowed ("1.5GiB", "0.5h") because people
 * write them; the result is rounded down to a whole byte or millisecond. */
#include "util/units.h"

#include "util/err.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef struct {
    const char *unit;
    double scale;
} unit_t;

static const unit_t sizes[] = {{"", 1},        {"B", 1},          {"KB", 1e3},
                               {"MB", 1e6},    {"GB", 1e9},       {"TB", 1e12},
                               {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
                               {"TiB", 1099511627776.0}};
static const unit_t durations[] = {{"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3},
                                   {"d", 86400e3}};

/* n (at least 0) times the scale of the unit s ends with, at most limit. */
static int scaled(double *out, const char *s, const unit_t *units, size_t nunits, double limit)
{
    char *end;
    double n = s ? strtod(s, &end) : 0;
    if (!s || end == s || !isfinite(n) || n < 0)
        return TARN_EINVAL;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < nunits; i++)
        if (!strcasecmp(end, units[i].unit)) {
            double v = floor(n * units[i].scale);
            if (v > limit)
                return TARN_EINVAL;
            *out = v;
            return 0;
        }
    return TARN_EINVAL;
}

int units_size_parse(uint64_t *out, const char *s)
{
    double v;
    int rc = scaled(&v, s, sizes, sizeof sizes / sizeof *sizes, 4611686018427387904.0);
    if (!rc)
        *out = (uint64_t)v;
    return rc;
}

int units_duration_parse(int64_t *out_ms, const char *s)
{
    /* A bare number is no duration: "30" could mean seconds or milliseconds. The unit
     * letters are case-sensitive where "m" and "M" might be read as minutes or months. */
    for (const char *p = s; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            return TARN_EINVAL;
    double v;
    int rc = scaled(&v, s, durations, sizeof durations / sizeof *durations, 9.2e18);
    if (!rc)
        *out_ms = (int64_t)v;
    return rc;
}

/* v in the largest of units (ascending, with whole scales) that divides it. */
static void format(char *out, size_t cap, uint64_t v, const unit_t *units, size_t n)
{
    size_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (v && (uint64_t)units[i].scale && v % (uint64_t)units[i].scale == 0 &&
            units[i].scale >= units[best].scale)
            best = i;
    snprintf(out, cap, "%" PRIu64 "%s", v / (uint64_t)units[best].scale, units[best].unit);
}

void units_size_format(char *out, size_t cap, uint64_t bytes)
{
    format(out, cap, bytes, sizes + 1, sizeof sizes / sizeof *sizes - 1);
}

void units_duration_format(char *out, size_t cap, int64_t ms)
{
    format(out, cap, ms < 0 ? 0 : (uint64_t)ms, durations, sizeof durations / sizeof *durations);
}
