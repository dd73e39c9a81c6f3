/* Kill points for crash tests (see killpoint.h); compiled in only with TARN_KILLPOINTS. */
#include "util/killpoint.h"

#ifdef TARN_KILLPOINTS
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char target[64];
static long nth = 1;
static atomic_long hits;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    const char *v = getenv("TARN_KILLPOINT");
    if (!v || !*v)
        return;
    snprintf(target, sizeof target, "%s", v);
    char *colon = strchr(target, ':');
    if (colon) {
        *colon = '\0';
        nth = strtol(colon + 1, NULL, 10);
        if (nth < 1)
            nth = 1;
    }
}

void killpoint_hit(const char *name)
{
    pthread_once(&once, load);
    if (!target[0] || strcmp(target, name))
        return;
    if (atomic_fetch_add(&hits, 1) + 1 < nth)
        return;
    static const char msg[] = "tarn: stopped at a kill point (TARN_KILLPOINT)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do: the process ends either way */
    }
    _exit(137);
}
#else
typedef int killpoint_unused_t; /* ISO C wants a translation unit to declare something */
#endif
