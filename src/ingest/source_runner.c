/* The source runner; see source_runner.h. One worker looks at the registry when woken (a
 * change through the API, a source's thread ending) or when a failed source's back-off
 * ends, and starts, stops and reaps the sources' threads; each source's thread starts its
 * plugin and calls run until it is done, fails or is told to stop, reporting its state to
 * the registry as it changes. */
#include "ingest/source_runner.h"
#include "util/cron.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/worker.h"

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
    worker_t *th;
    bool running;            /* a thread was started and is not yet stopped */
    atomic_bool stop, finished;
    bool failed;             /* the last thread ended with an error */
    int64_t retry_at_ms, backoff_ms;
} task_t;

struct source_runner {
    source_runner_opts_t o;
    char tmp_dir[4096];
    pthread_mutex_t mu;
    bool stop;
    task_t *tasks; /* under mu */
    /* The runner's worker, woken by sources' threads as they end. Its own lock: the
     * runner holds mu while it joins an ended thread, whose last act is this wake. */
    pthread_mutex_t wake_mu;
    worker_t *worker; /* NULL once stopping */
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

/* What the status counts now: rows and files delivered, and rows read per table. */
typedef struct {
    uint64_t rows, files;
} counts_t;

static counts_t counts_of(task_t *t, json_t **tables)
{
    json_t *o = source_status_json(t->status);
    counts_t c = {(uint64_t)json_integer_value(json_object_get(o, "rows")),
                  (uint64_t)json_integer_value(json_object_get(o, "files"))};
    if (tables && (*tables = json_object())) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(o, "tables"), i, x)
            json_object_set(*tables, json_string_value(json_object_get(x, "table")),
                            json_object_get(x, "rows"));
    }
    json_decref(o);
    return c;
}

/* Ends the run with what was delivered since base (the counts when it started). */
static void run_finish(task_t *t, int64_t *run, const char *status, counts_t base,
                       const char *error)
{
    tarn_err_t e = {0};
    json_t *tables = NULL;
    if (!*run)
        return;
    counts_t now = counts_of(t, &tables);
    sources_run_finish(t->r->o.db, *run, status, now.rows - base.rows, now.files - base.files,
                       tables, error, &e);
    json_decref(tables);
    *run = 0;
}

static void task_main(worker_t *w, void *arg)
{
    (void)w; /* stopped through t->stop, which the plugin reads too */
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
    uint64_t rows = 0;
    counts_t base = counts_of(t, NULL);
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
                run_finish(t, &run, "succeeded", counts_of(t, NULL), NULL);
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
    pthread_mutex_lock(&r->wake_mu); /* to be reaped, and retried or run again */
    if (r->worker)
        worker_wake(r->worker);
    pthread_mutex_unlock(&r->wake_mu);
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
    worker_stop(t->th);
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
    char name[64];
    snprintf(name, sizeof name, "source-%s", t->name);
    tarn_err_t err = {0};
    if (worker_start(&t->th, name, task_main, t, &err)) {
        log_error("cannot start a source's thread", "source", t->name, "error", err.msg);
        return;
    }
    t->running = true;
}

/* A scheduled source (a): queues a run when its due time has come (not while paused: a
 * paused source's missed times are skipped), and records the next due time. Returns when
 * that is, on time_mono_ms's clock (WORKER_FOREVER when it has no schedule). *queued is
 * set when a run was queued. */
static int64_t schedule_once(source_runner_t *r, const json_t *a, bool *queued)
{
    const char *expr = json_string_value(json_object_get(a, "schedule"));
    const char *mode = json_string_value(json_object_get(a, "mode"));
    cron_t c;
    tarn_err_t err = {0};
    if (!expr || (mode && !strcmp(mode, "cdc")) || cron_parse(&c, expr, &err))
        return WORKER_FOREVER;
    int64_t id = json_integer_value(json_object_get(a, "id"));
    int64_t due = json_integer_value(json_object_get(a, "next_run"));
    int64_t now = time_now_ms();
    if (due > 0 && due <= now) {
        json_t *run = NULL;
        if (!json_is_true(json_object_get(a, "paused"))) {
            if (sources_run_request(r->o.db, json_string_value(json_object_get(a, "name")),
                                    "schedule", false, NULL, &run, &err))
                log_warn("cannot queue a scheduled source run", "source",
                         json_string_value(json_object_get(a, "name")), "error", err.msg);
            else
                *queued = true;
        }
        json_decref(run);
        due = 0;
    }
    if (due <= 0) {
        time_t next = cron_next(&c, (time_t)(now / 1000));
        if (next == (time_t)-1)
            return WORKER_FOREVER;
        due = (int64_t)next * 1000;
        if (sources_next_run_set(r->o.db, id, due, &err))
            log_warn("cannot record a source's next run", "error", err.msg);
    }
    return time_mono_ms() + (due - now);
}

/* Starts, stops and reaps the sources' threads as the registry says. Returns when a
 * failed source's back-off ends or a scheduled source is due (time_mono_ms's clock;
 * WORKER_FOREVER: none waits). */
static int64_t round_once(source_runner_t *r)
{
    json_t *active = NULL;
    tarn_err_t err = {0};
    if (sources_active(r->o.db, &active, &err)) {
        log_warn("cannot read the sources", "error", err.msg);
        return time_mono_ms() + 1000;
    }
    int64_t next = WORKER_FOREVER;
    size_t i;
    json_t *a;
    /* Schedules first, outside the lock: queueing a run writes the catalog. */
    json_array_foreach(active, i, a)
    {
        bool queued = false;
        int64_t due = schedule_once(r, a, &queued);
        if (due < next)
            next = due;
        if (queued)
            json_object_set_new(a, "queued", json_integer(1));
    }
    int64_t now = time_mono_ms();
    pthread_mutex_lock(&r->mu);
    for (task_t **pt = &r->tasks; *pt;) {
        task_t *t = *pt;
        reap(t);
        bool live = false;
        size_t j;
        json_t *b;
        json_array_foreach(active, j, b)
            live = live || json_integer_value(json_object_get(b, "id")) == t->id;
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
        else if (cdc && t->retry_at_ms < next)
            next = t->retry_at_ms;
    }
    pthread_mutex_unlock(&r->mu);
    json_decref(active);
    return next;
}

static void runner_main(worker_t *w, void *arg)
{
    source_runner_t *r = arg;
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(w, next))
        next = round_once(r);
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
    pthread_mutex_init(&r->wake_mu, NULL);
    int rc = worker_start(&r->worker, "source-runner", runner_main, r, err);
    if (rc) {
        pthread_mutex_destroy(&r->wake_mu);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void source_runner_wake(source_runner_t *r)
{
    worker_wake(r->worker);
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
    for (task_t *t = r->tasks; t; t = t->next)
        atomic_store(&t->stop, true);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_lock(&r->wake_mu);
    worker_t *w = r->worker;
    r->worker = NULL;
    pthread_mutex_unlock(&r->wake_mu);
    worker_stop(w);
    for (task_t *t = r->tasks, *next; t; t = next) {
        next = t->next;
        if (t->running)
            worker_stop(t->th);
        source_status_free(t->status);
        free(t);
    }
    pthread_mutex_destroy(&r->wake_mu);
    pthread_mutex_destroy(&r->mu);
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
