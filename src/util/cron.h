/* Cron expressions as pipeline and source schedules use them: five fields (minute hour
 * day-of-month month day-of-week), or six with a leading second field for schedules finer
 * than a minute, and the next matching time after a given one, in UTC. Parsing and
 * matching need no I/O, so the scheduler's timing is tested alone. */
#ifndef TARN_UTIL_CRON_H
#define TARN_UTIL_CRON_H

#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    uint64_t second; /* bit n: second n matches (0-59); only bit 0 for five fields */
    uint64_t minute; /* bit n: minute n matches (0-59) */
    uint32_t hour;   /* 0-23 */
    uint32_t dom;    /* 1-31 */
    uint16_t month;  /* 1-12 */
    uint8_t dow;     /* 0-6, Sunday is 0 (7 is accepted for Sunday too) */
    bool dom_any;    /* the field started with '*': see cron_next for why it matters */
    bool dow_any;
} cron_t;

/* Parses expr (five fields, or six with seconds first): numbers, ranges a-b, steps (star slash n, a-b/n), lists, month names jan-dec, day
 * names sun-sat, and the aliases @yearly @annually @monthly @weekly @daily @midnight
 * @hourly. TARN_EINVAL with the offending field in err. */
int cron_parse(cron_t *out, const char *expr, tarn_err_t *err);

/* The first second strictly after `after` that matches, in UTC (for five fields, the
 * first minute); (time_t)-1 when none
 * does within the next ten years (e.g. "0 0 30 2 *"). When both day fields are
 * restricted a day matches if either does, as every cron has done. */
time_t cron_next(const cron_t *c, time_t after);

#endif
