/* JSON-lines logger; see log.h. */
#include "util/log.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MIN_LEVEL = LOG_INFO };

void log_write(int level, const char *msg, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < MIN_LEVEL)
        return;
    json_t *o = json_object();
    if (!o)
        return;
    char ts[25];
    time_fmt_iso_ms(ts, time_now_ms());
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(names[level & 3]));
    json_object_set_new(o, "msg", json_string(msg));
    va_list ap;
    va_start(ap, msg);
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        json_t *jv = v ? json_stringn(v, strlen(v)) : json_null();
        json_object_set_new(o, k, jv ? jv : json_string("(invalid UTF-8)"));
    }
    va_end(ap);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line) {
        fprintf(stderr, "%s\n", line);
        free(line);
    }
    json_decref(o);
}
