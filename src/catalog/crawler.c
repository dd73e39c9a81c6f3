/* The crawler thread, its jobs and its classifying workers; see crawler.h. */
#include "catalog/crawler.h"
#include "catalog/events.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 512      /* files per catalog transaction */
#define MAX_WORKERS 8
#define KEEP_JOBS 64   /* finished jobs remembered for their progress */

typedef struct {
    int64_t id;
    char zone[16];
    char *prefix;
    bool force;
    int state; /* JOB_* */
    size_t objects, done, registered, failed, removed, unchanged, tables_changed, versions;
    int64_t started_ms, finished_ms;
    char error[480];
} job_t;

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED };
static const char *const job_states[] = {"queued", "running", "done", "failed"};

/* One object to (re)register. */
typedef struct {
    char zone[16];
    char *key;
    uint64_t size;
    char etag[48];
    char sha256[65];
    bool skip; /* gone by the time it was read */
    catalog_file_in_t in;
    hive_key_t hk;
    classify_result_t cls;
    char *reason;
} item_t;

struct crawler {
    crawler_opts_t o;
    char objects_dir[4096];
    int nworkers;
    engine_conn_t *conns[MAX_WORKERS];
    worker_t *worker;
    int watch; /* of the event queue, when following it */
    pthread_mutex_t mu;
    job_t **jobs; /* each job allocated on its own: the running one never moves */
    size_t njobs;
    int64_t next_job;
};

/* ---- classifying a batch in parallel ---- */

typedef struct {
    crawler_t *c;
    item_t *items;
    size_t n;
    atomic_size_t next;
    size_t *progress; /* bumped under c->mu when not NULL */
} work_t;

typedef struct {
    work_t *w;
    int slot;
    arena_t *arena; /* what the items' strings live in until the batch is applied */
} worker_arg_t;

static void classify_item(crawler_t *c, engine_conn_t *conn, item_t *it, arena_t *a)
{
    tarn_err_t e = {0};
    it->in = (catalog_file_in_t){.zone = it->zone, .key = it->key, .size = it->size,
                                 .etag = it->etag, .sha256 = it->sha256[0] ? it->sha256 : NULL};
    if (hive_parse_key(&it->hk, it->key, a, &e)) {
        it->in.status = CATALOG_FILE_UNMAPPED;
        it->reason = strdup(e.msg);
        it->in.reason = it->reason;
        return;
    }
    it->in.hk = &it->hk;
    if (it->hk.hidden) {
        it->in.status = CATALOG_FILE_IGNORED;
        it->in.reason = "hidden file (a name starting with _ or .), as Hive and Spark skip them";
        return;
    }
    char *path = arena_sprintf(a, "%s/%s/%s", c->o.objects_dir, it->zone, it->key);
    /* The engine reads the file: a small object may still be held in the catalog. */
    int rc = path ? store_object_materialize(c->o.store, it->zone, it->key, &e) : TARN_ENOMEM;
    if (!rc)
        rc = classify_file(&it->cls, conn, path, a, &e);
    if (rc == TARN_ENOTFOUND) {
        it->skip = true;
    } else if (rc) {
        it->in.status = CATALOG_FILE_ERROR;
        it->reason = strdup(e.msg[0] ? e.msg : "cannot be read");
        it->in.reason = it->reason;
    } else {
        it->in.status = CATALOG_FILE_OK;
        it->in.cls = &it->cls;
    }
}

static void classify_main(void *p)
{
    worker_arg_t *wa = p;
    work_t *w = wa->w;
    arena_t *a = wa->arena = arena_create();
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->n)
            break;
        /* hk strings live in the arena until the batch is applied: one arena per item. */
        item_t *it = &w->items[i];
        classify_item(w->c, w->c->conns[wa->slot], it, a);
        if (w->progress) {
            pthread_mutex_lock(&w->c->mu);
            (*w->progress)++;
            pthread_mutex_unlock(&w->c->mu);
        }
    }
}

static void items_free(item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].key);
        free(items[i].reason);
        classify_result_free(&items[i].cls);
    }
}

/* Classifies items, then applies them (and removals) in one catalog transaction. */
static int run_batch(crawler_t *c, item_t *items, size_t n, const catalog_file_ref_t *removed,
                     size_t nremoved, const char *cursor, int64_t pos, size_t *progress,
                     catalog_apply_stats_t *st, tarn_err_t *err)
{
    work_t w = {.c = c, .items = items, .n = n, .progress = progress};
    atomic_init(&w.next, 0);
    worker_arg_t args[MAX_WORKERS];
    int want = n < (size_t)c->nworkers ? (int)n : c->nworkers;
    for (int i = 0; i < want; i++)
        args[i] = (worker_arg_t){&w, i, NULL};
    worker_fanout("crawl-classify", classify_main, args, sizeof *args, want);
    catalog_file_in_t *in = malloc((n ? n : 1) * sizeof *in);
    size_t k = 0;
    int rc = 0;
    if (!in) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++)
            if (!items[i].skip)
                in[k++] = items[i].in;
        rc = catalog_files_apply(c->o.catalog, in, k, removed, nremoved, cursor, pos, st, err);
    }
    free(in);
    for (int i = 0; i < want; i++)
        arena_free(args[i].arena);
    return rc;
}

/* ---- following the event queue ---- */

static void hexcpy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

/* Reads one page of events; returns how many were consumed (0: none pending). */
static int follow_events(crawler_t *c, tarn_err_t *err)
{
    int64_t pos;
    db_t *db = catalog_db(c->o.catalog);
    int rc = catalog_cursor_get(c->o.catalog, "crawler", &pos, err);
    if (rc)
        return rc;
    arena_t *a = arena_create();
    catalog_event_t *ev;
    size_t n = 0;
    if (!a || (rc = catalog_events_list(db, pos, BATCH, &ev, &n, a, err)) || !n) {
        arena_free(a);
        return rc;
    }
    item_t *items = calloc(n, sizeof *items);
    catalog_file_ref_t *rm = calloc(n, sizeof *rm);
    size_t ni = 0, nr = 0;
    if (!items || !rm) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* The last event of a key wins: a key landed then removed is only removed. */
    for (size_t i = 0; i < n; i++) {
        const catalog_event_t *e = &ev[i];
        if (!catalog_zone_valid(e->zone) || !e->key)
            continue;
        bool landed = !strcmp(e->type, "object.landed");
        if (!landed && strcmp(e->type, "object.removed"))
            continue;
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++)
            later = ev[j].zone && ev[j].key && !strcmp(ev[j].zone, e->zone) &&
                    !strcmp(ev[j].key, e->key);
        if (later)
            continue;
        if (!landed) {
            rm[nr++] = (catalog_file_ref_t){e->zone, e->key};
            continue;
        }
        json_t *p = json_loads(e->payload, 0, NULL);
        uint64_t size = (uint64_t)json_integer_value(json_object_get(p, "size"));
        const char *etag = json_string_value(json_object_get(p, "etag"));
        if (!catalog_file_unchanged(c->o.catalog, e->zone, e->key, size, etag ? etag : "")) {
            item_t *it = &items[ni++];
            snprintf(it->zone, sizeof it->zone, "%s", e->zone);
            it->key = strdup(e->key);
            it->size = size;
            hexcpy(it->etag, sizeof it->etag, etag);
            hexcpy(it->sha256, sizeof it->sha256,
                   json_string_value(json_object_get(p, "sha256")));
        }
        json_decref(p);
    }
    catalog_apply_stats_t st;
    rc = run_batch(c, items, ni, rm, nr, "crawler", ev[n - 1].id, NULL, &st, err);
    if (!rc && (st.registered || st.failed || st.removed)) {
        char v[5][24];
        size_t nums[5] = {st.registered, st.failed, st.removed, st.tables_changed,
                          st.versions_created};
        for (int i = 0; i < 5; i++)
            snprintf(v[i], sizeof v[i], "%zu", nums[i]);
        log_info("crawled", "registered", v[0], "failed", v[1], "removed", v[2], "tables", v[3],
                 "new_versions", v[4]);
    }
done:
    if (items)
        items_free(items, ni);
    free(items);
    free(rm);
    arena_free(a);
    return rc ? rc : (int)n;
}

/* ---- on-demand jobs ---- */

typedef struct {
    crawler_t *c;
    job_t *job;
    const char *zone;
    item_t *items;
    size_t n, cap;
    tarn_err_t *err;
} listing_t;

static int list_cb(void *ctx, const store_entry_t *e)
{
    listing_t *l = ctx;
    if (e->is_prefix || !e->key[0] || e->key[strlen(e->key) - 1] == '/')
        return 0;
    if (!l->job->force && catalog_file_unchanged(l->c->o.catalog, l->zone, e->key, e->size,
                                                 e->etag ? e->etag : "")) {
        l->job->unchanged++;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        item_t *v = realloc(l->items, cap * sizeof *v);
        if (!v)
            return TARN_ERR(l->err, TARN_ENOMEM, "out of memory");
        l->items = v;
        l->cap = cap;
    }
    item_t *it = &l->items[l->n];
    memset(it, 0, sizeof *it);
    snprintf(it->zone, sizeof it->zone, "%s", l->zone);
    if (!(it->key = strdup(e->key)))
        return TARN_ERR(l->err, TARN_ENOMEM, "out of memory");
    it->size = e->size;
    hexcpy(it->etag, sizeof it->etag, e->etag);
    l->n++;
    return 0;
}

typedef struct {
    crawler_t *c;
    const char *zone;
    catalog_file_ref_t *v;
    size_t n, cap;
    arena_t *a;
} gone_t;

static int gone_cb(void *ctx, const char *key)
{
    gone_t *g = ctx;
    store_object_t o;
    tarn_err_t e = {0};
    if (store_object_head(g->c->o.store, g->zone, key, &o, g->a, &e) != TARN_ENOTFOUND)
        return 0;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        catalog_file_ref_t *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return TARN_ENOMEM;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = (catalog_file_ref_t){g->zone, arena_strdup(g->a, key)};
    return 0;
}

static void job_add(job_t *job, const catalog_apply_stats_t *st)
{
    job->registered += st->registered;
    job->failed += st->failed;
    job->removed += st->removed;
    job->tables_changed += st->tables_changed;
    job->versions += st->versions_created;
}

static int crawl_zone(crawler_t *c, job_t *job, const char *zone, tarn_err_t *err)
{
    listing_t l = {.c = c, .job = job, .zone = zone, .err = err};
    arena_t *a = arena_create();
    const char *after = NULL;
    bool more = true;
    int rc = a ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    while (!rc && more) {
        store_list_opts_t lo = {.prefix = job->prefix, .start_after = after, .max_keys = 1000};
        const char *last = NULL;
        rc = store_list(c->o.store, zone, &lo, list_cb, &l, &more, &last, a, err);
        after = last;
        if (!last)
            more = false;
    }
    /* Sha256 of each new object, from the store's index. */
    for (size_t i = 0; !rc && i < l.n; i++) {
        store_object_t o;
        tarn_err_t e = {0};
        if (!store_object_head(c->o.store, zone, l.items[i].key, &o, a, &e))
            hash_hex(l.items[i].sha256, o.sha256, 32);
    }
    pthread_mutex_lock(&c->mu);
    job->objects += l.n + job->unchanged;
    job->done += job->unchanged;
    pthread_mutex_unlock(&c->mu);
    for (size_t off = 0; !rc && off < l.n; off += BATCH) {
        size_t n = l.n - off < BATCH ? l.n - off : BATCH;
        catalog_apply_stats_t st;
        rc = run_batch(c, l.items + off, n, NULL, 0, NULL, 0, &job->done, &st, err);
        if (!rc) {
            pthread_mutex_lock(&c->mu);
            job_add(job, &st);
            pthread_mutex_unlock(&c->mu);
        }
    }
    items_free(l.items, l.n);
    free(l.items);
    gone_t g = {.c = c, .zone = zone, .a = a};
    if (!rc)
        rc = catalog_files_each(c->o.catalog, zone, job->prefix, gone_cb, &g, err);
    for (size_t off = 0; !rc && off < g.n; off += BATCH) {
        size_t n = g.n - off < BATCH ? g.n - off : BATCH;
        catalog_apply_stats_t st;
        if (!(rc = catalog_files_apply(c->o.catalog, NULL, 0, g.v + off, n, NULL, 0, &st, err))) {
            pthread_mutex_lock(&c->mu);
            job_add(job, &st);
            pthread_mutex_unlock(&c->mu);
        }
    }
    free(g.v);
    arena_free(a);
    return rc;
}

static void run_job(crawler_t *c, job_t *job)
{
    tarn_err_t err = {0};
    static const char *const zones[] = {"raw", "cleaned", "curated"};
    int rc = 0;
    for (int i = 0; !rc && i < 3; i++)
        if (!job->zone[0] || !strcmp(job->zone, zones[i]))
            rc = crawl_zone(c, job, zones[i], &err);
    pthread_mutex_lock(&c->mu);
    job->state = rc ? JOB_FAILED : JOB_DONE;
    job->finished_ms = time_now_ms();
    if (rc)
        snprintf(job->error, sizeof job->error, "%s", err.msg);
    job_t j = *job; /* once done, a new request may forget the job */
    pthread_mutex_unlock(&c->mu);
    if (!j.objects && !j.removed && j.state == JOB_DONE)
        return; /* nothing there (a table just declared, say): no news to log */
    char v[4][24];
    snprintf(v[0], sizeof v[0], "%lld", (long long)j.id);
    snprintf(v[1], sizeof v[1], "%zu", j.registered);
    snprintf(v[2], sizeof v[2], "%zu", j.failed);
    snprintf(v[3], sizeof v[3], "%zu", j.removed);
    log_info("crawl finished", "job", v[0], "zone", j.zone[0] ? j.zone : "*", "registered",
             v[1], "failed", v[2], "removed", v[3], "state", job_states[j.state]);
}

static job_t *next_queued(crawler_t *c)
{
    for (size_t i = 0; i < c->njobs; i++)
        if (c->jobs[i]->state == JOB_QUEUED)
            return c->jobs[i];
    return NULL;
}

/* One step of the crawler's work: the next requested crawl, else a batch of the event
 * queue. >0 when it did something, 0 when there was nothing to do, or an error. */
static int crawl_step(crawler_t *c, tarn_err_t *err)
{
    pthread_mutex_lock(&c->mu);
    job_t *job = next_queued(c);
    if (job) {
        job->state = JOB_RUNNING;
        job->started_ms = time_now_ms();
    }
    pthread_mutex_unlock(&c->mu);
    if (job) {
        run_job(c, job);
        return 1;
    }
    return c->o.follow_events ? follow_events(c, err) : 0;
}

/* Sleeps until a crawl is requested or an event committed (the watch of the queue), then
 * works until there is nothing left. */
static void crawler_main(worker_t *w, void *ctx)
{
    crawler_t *c = ctx;
    int backoff_ms = 0;
    while (!worker_wait(w, WORKER_FOREVER)) {
        for (;;) {
            tarn_err_t err = {0};
            int got = crawl_step(c, &err);
            if (got >= 0)
                backoff_ms = 0;
            if (got == 0 || worker_stopping(w))
                break;
            if (got > 0)
                continue;
            /* Keep the position and retry later: a busy database or a full disk passes,
             * and no event is skipped. */
            log_info("crawler retrying", "error", err.msg);
            if (worker_backoff(w, &backoff_ms))
                break;
        }
    }
}

int crawler_start(crawler_t **out, const crawler_opts_t *o, tarn_err_t *err)
{
    crawler_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    c->o = *o;
    snprintf(c->objects_dir, sizeof c->objects_dir, "%s", o->objects_dir);
    c->o.objects_dir = c->objects_dir;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->nworkers = o->workers > 0 ? o->workers : (int)(cores > 0 ? cores : 1);
    if (c->nworkers > MAX_WORKERS)
        c->nworkers = MAX_WORKERS;
    c->next_job = 1;
    c->watch = -1;
    pthread_mutex_init(&c->mu, NULL);
    int rc = 0;
    for (int i = 0; !rc && i < c->nworkers; i++)
        rc = engine_connect(o->engine, &c->conns[i], err);
    if (!rc)
        rc = worker_start(&c->worker, "crawler", crawler_main, c, err);
    if (!rc && o->follow_events &&
        (c->watch = db_watch(catalog_db(o->catalog), "events", worker_wake_cb, c->worker)) < 0)
        rc = TARN_ERR(err, TARN_ENOMEM, "cannot watch the catalog for changes");
    if (rc) {
        worker_stop(c->worker);
        for (int i = 0; i < c->nworkers; i++)
            engine_disconnect(c->conns[i]);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void crawler_stop(crawler_t *c)
{
    if (!c)
        return;
    db_unwatch(catalog_db(c->o.catalog), c->watch);
    worker_stop(c->worker);
    for (int i = 0; i < c->nworkers; i++)
        engine_disconnect(c->conns[i]);
    for (size_t i = 0; i < c->njobs; i++) {
        free(c->jobs[i]->prefix);
        free(c->jobs[i]);
    }
    free(c->jobs);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int crawler_request(crawler_t *c, const char *zone, const char *prefix, bool force,
                    int64_t *id, tarn_err_t *err)
{
    if (zone && *zone && !catalog_zone_valid(zone))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "tables live in the zones raw, cleaned and curated (got '%s')", zone);
    char *pre = strdup(prefix ? prefix : "");
    if (!pre)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    pthread_mutex_lock(&c->mu);
    /* The same crawl already waiting covers this request. */
    for (size_t i = 0; i < c->njobs; i++) {
        job_t *q = c->jobs[i];
        if (q->state == JOB_QUEUED && q->force == force && !strcmp(q->zone, zone ? zone : "") &&
            !strcmp(q->prefix, pre)) {
            *id = q->id;
            pthread_mutex_unlock(&c->mu);
            free(pre);
            return 0;
        }
    }
    /* Forget the oldest finished jobs beyond the ones kept for their progress. */
    size_t finished = 0;
    for (size_t i = 0; i < c->njobs; i++)
        finished += c->jobs[i]->state >= JOB_DONE;
    for (size_t i = 0; i < c->njobs && finished >= KEEP_JOBS;) {
        if (c->jobs[i]->state < JOB_DONE) {
            i++;
            continue;
        }
        free(c->jobs[i]->prefix);
        free(c->jobs[i]);
        memmove(&c->jobs[i], &c->jobs[i + 1], (c->njobs - i - 1) * sizeof *c->jobs);
        c->njobs--;
        finished--;
    }
    job_t **v = realloc(c->jobs, (c->njobs + 1) * sizeof *v);
    job_t *j = calloc(1, sizeof *j);
    if (v)
        c->jobs = v;
    if (!v || !j) {
        free(j);
        pthread_mutex_unlock(&c->mu);
        free(pre);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    c->jobs[c->njobs++] = j;
    j->id = c->next_job++;
    snprintf(j->zone, sizeof j->zone, "%s", zone ? zone : "");
    j->prefix = pre;
    j->force = force;
    *id = j->id;
    worker_wake(c->worker);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int crawler_job(crawler_t *c, int64_t id, json_t **out, tarn_err_t *err)
{
    pthread_mutex_lock(&c->mu);
    job_t *j = NULL;
    for (size_t i = 0; i < c->njobs; i++)
        if (c->jobs[i]->id == id)
            j = c->jobs[i];
    if (!j) {
        pthread_mutex_unlock(&c->mu);
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchCrawl, "no crawl %lld (crawls are kept "
                                                              "until the server restarts)",
                          (long long)id);
    }
    char s[32] = "", f[32] = "";
    if (j->started_ms)
        time_fmt_iso_ms(s, j->started_ms);
    if (j->finished_ms)
        time_fmt_iso_ms(f, j->finished_ms);
    *out = json_pack("{s:I, s:s?, s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, "
                     "s:s?, s:s?}",
                     "id", (json_int_t)j->id, "zone", j->zone[0] ? j->zone : NULL, "prefix",
                     j->prefix, "force", j->force, "state", job_states[j->state], "objects",
                     (json_int_t)j->objects, "done", (json_int_t)j->done, "registered",
                     (json_int_t)j->registered, "failed", (json_int_t)j->failed, "removed",
                     (json_int_t)j->removed, "unchanged", (json_int_t)j->unchanged,
                     "tables_changed", (json_int_t)j->tables_changed, "versions_created",
                     (json_int_t)j->versions, "started", s[0] ? s : NULL, "finished",
                     f[0] ? f : NULL, "error", j->error[0] ? j->error : NULL);
    pthread_mutex_unlock(&c->mu);
    return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}
