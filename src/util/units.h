/* Sizes and durations as people write them in flags and configurations ("512MB", "1.5GiB",
 * "30s", "5m"), parsed into bytes and milliseconds and printed back the same way. */
#ifndef TARN_UTIL_UNITS_H
#define TARN_UTIL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* A number with an optional unit: none or B for bytes; KB, MB, GB, TB powers of 1000 and
 * KiB, MiB, GiB, TiB of 1024, as DuckDB reads them (any case). 0 or TARN_EINVAL (no number,
 * an unknown unit, negative, or past 2^62 bytes). */
int units_size_parse(uint64_t *out, const char *s);
/* A number with a unit: ms, s, m, h or d. 0 or TARN_EINVAL (also past about 290 years). */
int units_duration_parse(int64_t *out_ms, const char *s);

/* bytes in the largest unit that holds it whole ("8MB", "64MiB", "1500B"). */
void units_size_format(char *out, size_t cap, uint64_t bytes);
/* ms in the largest unit that holds it whole ("250ms", "30s", "5m", "2h", "1d"). */
void units_duration_format(char *out, size_t cap, int64_t ms);

#endif
