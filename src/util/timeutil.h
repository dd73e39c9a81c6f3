/* Wall-clock helpers and the date formats HTTP and AWS use (UTC everywhere). */
#ifndef TARN_UTIL_TIMEUTIL_H
#define TARN_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

int64_t time_now_ms(void);       /* wall clock, ms since the epoch */
int64_t time_mono_ns(void);      /* monotonic clock, for durations */
int64_t time_mono_ms(void);      /* the same in milliseconds, for deadlines */
/* The wall-clock time ms milliseconds from now, as pthread_cond_timedwait wants it. */
struct timespec time_after_ms(int64_t ms);

/* "20261125T185630Z" (ISO 8601 basic, as in X-Amz-Date); out holds 17 bytes. */
void time_fmt_amz(char out[17], time_t t);
/* "2026-11-25T18:56:30.123Z" (S3 XML LastModified); out holds 25 bytes. */
void time_fmt_iso_ms(char out[25], int64_t ms);
/* "Wed, 25 Nov 2026 18:56:30 GMT" (RFC 7231 IMF-fixdate); out holds 30 bytes. */
void time_fmt_http(char out[30], time_t t);

/* Parse the formats above (and RFC 850 / asctime for HTTP dates); 0 or TARN_EINVAL. */
int time_parse_amz(time_t *out, const char *s);
int time_parse_http(time_t *out, const char *s);

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (year 0 is 1 BC),
 * and back. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);
void time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
