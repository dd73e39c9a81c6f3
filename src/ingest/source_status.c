/* A source's reported state; see source_status.h. Rows per second are measured over the
 * last ten seconds or so: the rate is the delivered rows between two samples kept that
 * far apart. */
#include "ingest/source_status.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RATE_WINDOW_MS = 10000 };

struct source_status {
    pthread_mutex_t mu;
    char state[16];
    char *reason, *last_error;
    int64_t last_error_ms, since_ms;
    char cursor[64];
    double lag_s;
    int64_t lag_bytes;
    uint64_t rows, files;
    /* the rate's two samples: (older) and (newer) */
    int64_t s0_ms, s1_ms;
    uint64_t s0_rows, s1_rows;
    json_t *tables; /* {"table": {"rows", "total", "done"}} in snapshot order */
};

source_status_t *source_status_create(void)
{
    source_status_t *s = calloc(1, sizeof *s);
    if (!s || !(s->tables = json_object())) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->state, sizeof s->state, "starting");
    s->since_ms = s->s0_ms = s->s1_ms = time_now_ms();
    return s;
}

void source_status_free(source_status_t *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->reason);
    free(s->last_error);
    json_decref(s->tables);
    free(s);
}

static void set_state(source_status_t *s, const char *state)
{
    if (strcmp(s->state, state)) {
        snprintf(s->state, sizeof s->state, "%s", state);
        s->since_ms = time_now_ms();
    }
}

void source_status_state(source_status_t *s, const char *state)
{
    pthread_mutex_lock(&s->mu);
    set_state(s, state);
    if (strcmp(state, "failed")) {
        free(s->reason);
        s->reason = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

void source_status_fail(source_status_t *s, const char *reason)
{
    pthread_mutex_lock(&s->mu);
    set_state(s, "failed");
    free(s->reason);
    free(s->last_error);
    s->reason = strdup(reason);
    s->last_error = strdup(reason);
    s->last_error_ms = time_now_ms();
    pthread_mutex_unlock(&s->mu);
}

void source_status_table(source_status_t *s, const char *table, int64_t rows, int64_t total,
                         bool done)
{
    pthread_mutex_lock(&s->mu);
    json_object_set_new(s->tables, table,
                        json_pack("{s:I, s:I, s:b}", "rows", (json_int_t)rows, "total",
                                  (json_int_t)total, "done", done));
    pthread_mutex_unlock(&s->mu);
}

void source_status_tables_reset(source_status_t *s)
{
    pthread_mutex_lock(&s->mu);
    json_object_clear(s->tables);
    pthread_mutex_unlock(&s->mu);
}

/* Moves the rate's samples on; called under the lock. */
static void sample(source_status_t *s, int64_t now)
{
    if (now - s->s1_ms >= RATE_WINDOW_MS / 2) {
        s->s0_ms = s->s1_ms;
        s->s0_rows = s->s1_rows;
        s->s1_ms = now;
        s->s1_rows = s->rows;
    }
}

void source_status_delivered(source_status_t *s, uint64_t rows, uint64_t files)
{
    pthread_mutex_lock(&s->mu);
    s->rows += rows;
    s->files += files;
    sample(s, time_now_ms());
    pthread_mutex_unlock(&s->mu);
}

void source_status_cursor(source_status_t *s, const char *cursor)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->cursor, sizeof s->cursor, "%s", cursor);
    pthread_mutex_unlock(&s->mu);
}

void source_status_lag(source_status_t *s, double seconds, int64_t bytes)
{
    pthread_mutex_lock(&s->mu);
    s->lag_s = seconds < 0 ? 0 : seconds;
    s->lag_bytes = bytes < 0 ? 0 : bytes;
    pthread_mutex_unlock(&s->mu);
}

void source_status_get(source_status_t *s, char *state, size_t cap, uint64_t *rows)
{
    pthread_mutex_lock(&s->mu);
    snprintf(state, cap, "%s", s->state);
    *rows = s->rows;
    pthread_mutex_unlock(&s->mu);
}

/* Rows per second between the older sample and now; under the lock. */
static double rate(source_status_t *s)
{
    int64_t now = time_now_ms();
    sample(s, now);
    int64_t dt = now - s->s0_ms;
    return dt > 0 ? (double)(s->rows - s->s0_rows) * 1000.0 / (double)dt : 0;
}

json_t *source_status_json(source_status_t *s)
{
    char t[25], since[25];
    pthread_mutex_lock(&s->mu);
    time_fmt_iso_ms(since, s->since_ms);
    json_t *tables = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(s->tables, k, v)
    {
        json_t *o = json_deep_copy(v);
        json_object_set_new(o, "table", json_string(k));
        json_array_append_new(tables, o);
    }
    if (s->last_error)
        time_fmt_iso_ms(t, s->last_error_ms);
    json_t *o = json_pack("{s:s, s:s, s:s?, s:f, s:I, s:I, s:I, s:f, s:s?, s:s?, s:o}", "state",
                          s->state, "since", since, "cursor", *s->cursor ? s->cursor : NULL,
                          "lag_seconds", s->lag_s, "lag_bytes", (json_int_t)s->lag_bytes,
                          "rows", (json_int_t)s->rows, "files", (json_int_t)s->files,
                          "rows_per_second", rate(s), "last_error", s->last_error,
                          "last_error_at", s->last_error ? t : NULL, "tables", tables);
    if (o && s->reason)
        json_object_set_new(o, "reason", json_string(s->reason));
    pthread_mutex_unlock(&s->mu);
    return o;
}

const char *const source_metric_head[SOURCE_METRICS] = {
    "# HELP tarn_source_state 1 for the state the source is in.\n"
    "# TYPE tarn_source_state gauge\n",
    "# HELP tarn_source_rows_total Rows a source delivered (committed with their files).\n"
    "# TYPE tarn_source_rows_total counter\n",
    "# HELP tarn_source_files_total Change files a source delivered.\n"
    "# TYPE tarn_source_files_total counter\n",
    "# HELP tarn_source_rows_per_second Rows a source delivered per second lately.\n"
    "# TYPE tarn_source_rows_per_second gauge\n",
    "# HELP tarn_source_lag_seconds Age of the oldest change not yet delivered.\n"
    "# TYPE tarn_source_lag_seconds gauge\n",
    "# HELP tarn_source_lag_bytes Bytes of the source's log not yet confirmed.\n"
    "# TYPE tarn_source_lag_bytes gauge\n",
    "# HELP tarn_source_snapshot_rows Rows of a table the snapshot read so far.\n"
    "# TYPE tarn_source_snapshot_rows gauge\n",
};

void source_status_metrics(source_status_t *s, const char *name, buf_t fam[SOURCE_METRICS])
{
    static const char *const states[] = {"starting", "snapshotting", "reading", "streaming",
                                         "idle",     "paused",       "failed",  "stopped"};
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        buf_printf(&fam[0], "tarn_source_state{source=\"%s\",state=\"%s\"} %d\n", name,
                   states[i], !strcmp(s->state, states[i]));
    buf_printf(&fam[1], "tarn_source_rows_total{source=\"%s\"} %llu\n", name,
               (unsigned long long)s->rows);
    buf_printf(&fam[2], "tarn_source_files_total{source=\"%s\"} %llu\n", name,
               (unsigned long long)s->files);
    buf_printf(&fam[3], "tarn_source_rows_per_second{source=\"%s\"} %.1f\n", name, rate(s));
    buf_printf(&fam[4], "tarn_source_lag_seconds{source=\"%s\"} %.3f\n", name, s->lag_s);
    buf_printf(&fam[5], "tarn_source_lag_bytes{source=\"%s\"} %lld\n", name,
               (long long)s->lag_bytes);
    const char *k;
    json_t *v;
    json_object_foreach(s->tables, k, v)
        buf_printf(&fam[6], "tarn_source_snapshot_rows{source=\"%s\",table=\"%s\"} %lld\n", name,
                   k, (long long)json_integer_value(json_object_get(v, "rows")));
    pthread_mutex_unlock(&s->mu);
}
