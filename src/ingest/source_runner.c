/* The source runner; see source_runner.h. One thread looks at the registry every second
 * (or when woken) and starts, stops and reaps the sources' threads; each source's thread
 * starts its plugin and calls run until it is done, fails or is told to stop, reporting
 * its state to the registry as it changes. */
#include "ingest/source_runner.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BACKOFF_FIRST_MS = 5000, BACKOFF_MAX_MS = 300000, CLAIM_EVERY_MS = 1000 };

typedef struct task {
    struct task *next;
    struct source_runner *r;
    int64_t id, version;
    char name[SOURCE_NAME_MAX + 1];
    source_status_t *status; /* kept across the thread's restarts */
    pthread_t th;
    bool running;            /* a thread was started and is not yet joined */
    atomic_bool stop, finished;
    bool failed;             /* the last thread ended with an error */
    int64_t retry_at_ms, backoff_ms;
} task_t;

struct source_runner {
    source_runner_opts_t o;
    char tmp_dir[4096];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, wake;
    task_t *tasks; /* under mu */
};

/* ---- a source's thread ---- */

/* Records the state the source reports when it changed since last recorded. */
static void persist_state(task_t *t, char *last, size_t cap)
{
    char state[16];
    uint64_t rows;
    source_status_get(t->status, state, sizeof state, &rows);
    if (!strcmp(state, last))
        return;
    tarn_err_t e = {0};
    sources_state_set(t->r->o.db, t->id, state, NULL, &e);
    snprintf(last, cap, "%s", state);
}

static void run_finish(task_t *t, int64_t *run, const char *status, uint64_t rows0,
                       const char *error)
{
    char state[16];
    uint64_t rows;
    tarn_err_t e = {0};
    if (!*run)
        return;
    source_status_get(t->status, state, sizeof state, &rows);
    sources_run_finish(t->r->o.db, *run, status, rows - rows0, error, &e);
    *run = 0;
}

static void *task_main(void *arg)
{
    task_t *t = arg;
    source_runner_t *r = t->r;
    db_t *db = r->o.db;
    tarn_err_t err = {0};
    source_row_t row = {0};
    void *state = NULL;
    const ingest_plugin_t *p = NULL;
    int64_t run = 0, last_claim = time_mono_ms();
    bool resnapshot = false;
    char last[16] = "", tmp[4200], st[16];
    uint64_t base = 0, rows = 0;
    source_status_get(t->status, st, sizeof st, &base);
    source_status_state(t->status, "starting");
    int rc = sources_run_claim(db, t->id, &run, &resnapshot, &err);
    if (rc >= 0)
        rc = sources_load(db, r->o.keyring, NULL, t->id, &row, &err);
    if (!rc && (!(p = ingest_plugin_find(row.type)) || !p->start))
        rc = TARN_ERR(&err, TARN_EINVAL, "this build has no source of type %s", row.type);
    snprintf(tmp, sizeof tmp, "%s/%lld", r->o.tmp_dir, (long long)t->id);
    fs_remove_tree(tmp);
    if (!rc)
        rc = fs_mkdir_p(tmp, 0700, &err);
    ingest_env_t env = {.source = t->name, .source_id = t->id, .db = db, .store = r->o.store,
                        .catalog = r->o.catalog, .engine = r->o.engine, .tmp_dir = tmp,
                        .status = t->status, .stop = &t->stop, .resnapshot = resnapshot};
    if (!rc)
        rc = p->start(&state, row.config, &env, &err);
    while (!rc && !atomic_load(&t->stop)) {
        rc = p->run(state, &err);
        persist_state(t, last, sizeof last);
        source_status_get(t->status, st, sizeof st, &rows);
        bool streaming = !strcmp(st, "streaming");
        /* A run of a source that streams is over once it streams: its snapshot is in and
         * it keeps up. Runs asked for meanwhile are answered the same way. */
        if (!rc && streaming && run)
            run_finish(t, &run, "succeeded", base, NULL);
        if (!rc && streaming && time_mono_ms() - last_claim >= CLAIM_EVERY_MS) {
            last_claim = time_mono_ms();
            if (sources_run_claim(db, t->id, &run, &resnapshot, &err) > 0)
                run_finish(t, &run, "succeeded", rows, NULL);
        }
    }
    if (state)
        p->stop(state);
    if (rc < 0) {
        log_warn("source failed", "source", t->name, "error", err.msg);
        source_status_fail(t->status, err.msg);
        sources_state_set(db, t->id, "failed", err.msg, &err);
        run_finish(t, &run, "failed", base, err.msg);
        t->failed = true;
    } else {
        const char *now = rc == INGEST_DONE ? "idle" : r->stop ? "stopped" : "paused";
        source_status_state(t->status, now);
        tarn_err_t e = {0};
        sources_state_set(db, t->id, now, NULL, &e);
        if (rc == INGEST_DONE)
            run_finish(t, &run, "succeeded", base, NULL);
        else if (!r->stop)
            run_finish(t, &run, "cancelled", base, "the source was paused or changed");
        t->failed = false;
    }
    source_row_free(&row);
    atomic_store(&t->finished, true);
    return NULL;
}

/* ---- the runner's rounds ---- */

static task_t *task_get(source_runner_t *r, int64_t id, const char *name)
{
    for (task_t *t = r->tasks; t; t = t->next)
        if (t->id == id)
            return t;
    task_t *t = calloc(1, sizeof *t);
    if (!t || !(t->status = source_status_create())) {
        free(t);
        return NULL;
    }
    t->r = r;
    t->id = id;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->next = r->tasks;
    r->tasks = t;
    return t;
}

/* Joins a thread that has returned; under mu. */
static void reap(task_t *t)
{
    if (!t->running || !atomic_load(&t->finished))
        return;
    pthread_join(t->th, NULL);
    t->running = false;
    int64_t now = time_mono_ms();
    if (t->failed) {
        t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (t->backoff_ms > BACKOFF_MAX_MS)
            t->backoff_ms = BACKOFF_MAX_MS;
        t->retry_at_ms = now + t->backoff_ms;
    } else {
        t->backoff_ms = 0;
        t->retry_at_ms = 0;
    }
}

static void task_launch(task_t *t, int64_t version)
{
    atomic_store(&t->stop, false);
    atomic_store(&t->finished, false);
    t->version = version;
    if (pthread_create(&t->th, NULL, task_main, t)) {
        log_error("cannot start a source's thread", "source", t->name);
        return;
    }
    t->running = true;
}

static void round_once(source_runner_t *r)
{
    json_t *active = NULL;
    tarn_err_t err = {0};
    if (sources_active(r->o.db, &active, &err)) {
        log_warn("cannot read the sources", "error", err.msg);
        return;
    }
    int64_t now = time_mono_ms();
    pthread_mutex_lock(&r->mu);
    for (task_t **pt = &r->tasks; *pt;) {
        task_t *t = *pt;
        reap(t);
        bool live = false;
        size_t i;
        json_t *a;
        json_array_foreach(active, i, a)
            live = live || json_integer_value(json_object_get(a, "id")) == t->id;
        if (!live && t->running)
            atomic_store(&t->stop, true); /* deleted */
        if (!live && !t->running) {
            *pt = t->next;
            source_status_free(t->status);
            free(t);
            continue;
        }
        pt = &t->next;
    }
    size_t i;
    json_t *a;
    json_array_foreach(active, i, a)
    {
        int64_t id = json_integer_value(json_object_get(a, "id"));
        int64_t version = json_integer_value(json_object_get(a, "version"));
        bool paused = json_is_true(json_object_get(a, "paused"));
        bool queued = json_integer_value(json_object_get(a, "queued")) > 0;
        bool cdc = json_string_value(json_object_get(a, "mode")) &&
                   !strcmp(json_string_value(json_object_get(a, "mode")), "cdc");
        task_t *t = task_get(r, id, json_string_value(json_object_get(a, "name")));
        if (!t)
            continue;
        if (t->running) {
            /* A new version, a pause or a new snapshot wants a fresh start. */
            if (paused || version != t->version || json_is_true(json_object_get(a, "resnapshot")))
                atomic_store(&t->stop, true);
            continue;
        }
        if (paused) {
            source_status_state(t->status, "paused");
            continue;
        }
        if (queued || (cdc && now >= t->retry_at_ms))
            task_launch(t, version);
    }
    pthread_mutex_unlock(&r->mu);
    json_decref(active);
}

static void *runner_main(void *arg)
{
    source_runner_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        round_once(r);
        pthread_mutex_lock(&r->mu);
        if (r->stop)
            break;
        if (!r->wake) {
            struct timespec ts = time_after_ms(1000);
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        r->wake = false;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int source_runner_start(source_runner_t **out, const source_runner_opts_t *o, tarn_err_t *err)
{
    source_runner_t *r = calloc(1, sizeof *r);
    if (!r)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    r->o = *o;
    snprintf(r->tmp_dir, sizeof r->tmp_dir, "%s", o->tmp_dir);
    r->o.tmp_dir = r->tmp_dir;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->th, NULL, runner_main, r)) {
        free(r);
        return TARN_ERR(err, TARN_EIO, "cannot start the source runner");
    }
    *out = r;
    return 0;
}

void source_runner_wake(source_runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->wake = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void source_runner_halt(source_runner_t *r, int64_t id)
{
    for (;;) {
        pthread_mutex_lock(&r->mu);
        task_t *t = r->tasks;
        while (t && t->id != id)
            t = t->next;
        if (t)
            reap(t);
        bool running = t && t->running;
        if (running)
            atomic_store(&t->stop, true);
        pthread_mutex_unlock(&r->mu);
        if (!running)
            return;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int source_runner_forget(source_runner_t *r, const source_row_t *row, tarn_err_t *err)
{
    source_runner_halt(r, row->id);
    const ingest_plugin_t *p = ingest_plugin_find(row->type);
    return p && p->forget ? p->forget(row->config, row->name, err) : 0;
}

void source_runner_stop(source_runner_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    for (task_t *t = r->tasks; t; t = t->next)
        atomic_store(&t->stop, true);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    for (task_t *t = r->tasks, *next; t; t = next) {
        next = t->next;
        if (t->running)
            pthread_join(t->th, NULL);
        source_status_free(t->status);
        free(t);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

json_t *source_runner_status(source_runner_t *r, int64_t id)
{
    json_t *o = NULL;
    pthread_mutex_lock(&r->mu);
    for (task_t *t = r->tasks; t && !o; t = t->next)
        if (t->id == id)
            o = source_status_json(t->status);
    pthread_mutex_unlock(&r->mu);
    return o;
}

void source_runner_metrics(source_runner_t *r, buf_t *out)
{
    buf_t fam[SOURCE_METRICS];
    for (int i = 0; i < SOURCE_METRICS; i++)
        fam[i] = (buf_t)BUF_INIT;
    pthread_mutex_lock(&r->mu);
    for (task_t *t = r->tasks; t; t = t->next)
        source_status_metrics(t->status, t->name, fam);
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < SOURCE_METRICS; i++) {
        if (fam[i].len) {
            buf_puts(out, source_metric_head[i]);
            buf_append(out, fam[i].data, fam[i].len);
        }
        buf_free(&fam[i]);
    }
}
