/* Query slots, queue, deadlines, cancellation and history; see workload.h. */
#include "consume/workload.h"
#include "util/timeutil.h"
#include "util/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { Q_QUEUED, Q_RUNNING, Q_DONE, Q_FAILED, Q_CANCELLED, Q_TIMEOUT };
static const char *const states[] = {"queued", "running", "done", "failed", "cancelled",
                                     "timeout"};

typedef struct query {
    int64_t id;
    char *principal, *sql, *error;
    int state;
    int64_t queued_ms, start_ms, end_ms, start_ns, deadline_ns;
    uint64_t rows, bytes;
    session_t *session; /* while queued or running */
    bool interrupted;   /* by cancel or deadline: the state says which */
    bool waiting;       /* in the queue for a slot */
    struct query *next; /* newest first */
} query_t;

struct workload {
    workload_opts_t o;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot or the head of the queue may have come free */
    int running;
    int64_t next_id;
    query_t *queries;
    worker_t *watchdog; /* woken by each query admitted: its deadline */
};

static void query_free(query_t *q)
{
    free(q->principal);
    free(q->sql);
    free(q->error);
    free(q);
}

/* Interrupts running queries past their deadline, sleeping until the first deadline
 * of the others or a new query's admission. */
static void watchdog_main(worker_t *wk, void *p)
{
    workload_t *w = p;
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(wk, next)) {
        int64_t now = time_mono_ns(), first = INT64_MAX;
        pthread_mutex_lock(&w->mu);
        for (query_t *q = w->queries; q; q = q->next) {
            if (q->state != Q_RUNNING || q->interrupted)
                continue;
            if (now > q->deadline_ns) {
                q->interrupted = true;
                q->state = Q_TIMEOUT;
                session_interrupt(q->session);
            } else if (q->deadline_ns < first) {
                first = q->deadline_ns;
            }
        }
        pthread_mutex_unlock(&w->mu);
        next = first == INT64_MAX ? WORKER_FOREVER : first / 1000000 + 1; /* just past it */
    }
}

int workload_create(workload_t **out, const workload_opts_t *o, tarn_err_t *err)
{
    workload_t *w = calloc(1, sizeof *w);
    if (!w)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    w->o = *o;
    if (w->o.slots <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        w->o.slots = n > 0 ? (int)n : 1;
    }
    if (w->o.history <= 0)
        w->o.history = 1000;
    w->next_id = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = worker_start(&w->watchdog, "sql-watchdog", watchdog_main, w, err);
    if (rc) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void workload_free(workload_t *w)
{
    if (!w)
        return;
    worker_stop(w->watchdog);
    while (w->queries) {
        query_t *q = w->queries;
        w->queries = q->next;
        query_free(q);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

int workload_slots(const workload_t *w)
{
    return w->o.slots;
}

/* Forgets the oldest finished queries beyond the history size. */
static void trim(workload_t *w)
{
    size_t kept = 0;
    for (query_t **pp = &w->queries; *pp;) {
        query_t *q = *pp;
        if (q->state >= Q_DONE && ++kept > (size_t)w->o.history) {
            *pp = q->next;
            query_free(q);
            continue;
        }
        pp = &q->next;
    }
}

/* FIFO: q goes before every later arrival (ids grow with arrival). */
static bool first_in_line(const workload_t *w, const query_t *q)
{
    for (const query_t *o = w->queries; o; o = o->next)
        if (o->waiting && o->id < q->id)
            return false;
    return true;
}

int workload_admit(workload_t *w, const char *principal, const char *sql, session_t *s,
                   int64_t *id, tarn_err_t *err)
{
    query_t *q = calloc(1, sizeof *q);
    if (!q || !(q->principal = strdup(principal ? principal : "")) || !(q->sql = strdup(sql))) {
        if (q)
            query_free(q);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    q->queued_ms = time_now_ms();
    q->session = s;
    pthread_mutex_lock(&w->mu);
    q->id = w->next_id++;
    q->next = w->queries;
    w->queries = q;
    *id = q->id;
    q->waiting = true;
    struct timespec until = time_after_ms(w->o.max_wait_ms);
    int rc = 0;
    while (q->state == Q_QUEUED && (w->running >= w->o.slots || !first_in_line(w, q))) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until)) {
            rc = TARN_ERR_R(err, TARN_EBUSY, SlowDown,
                            "all %d query slots stayed busy for %d ms; try again shortly",
                            w->o.slots, w->o.max_wait_ms);
            break;
        }
    }
    if (!rc && q->state != Q_QUEUED)
        rc = TARN_ERR_R(err, TARN_ECONFLICT, QueryCancelled, "query %lld was cancelled",
                        (long long)q->id);
    if (!rc) {
        w->running++;
        q->state = Q_RUNNING;
        q->start_ms = time_now_ms();
        q->start_ns = time_mono_ns();
        q->deadline_ns = q->start_ns + (int64_t)w->o.timeout_ms * 1000000;
    } else {
        if (q->state == Q_QUEUED)
            q->state = Q_FAILED;
        q->end_ms = time_now_ms();
        q->session = NULL;
        free(q->error);
        q->error = strdup(err->msg);
    }
    q->waiting = false; /* admitted or given up: the next in line may go */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (!rc)
        worker_wake(w->watchdog);
    return rc;
}

void workload_finish(workload_t *w, int64_t id, uint64_t rows, uint64_t bytes,
                     const char *error)
{
    pthread_mutex_lock(&w->mu);
    for (query_t *q = w->queries; q; q = q->next) {
        if (q->id != id || !q->session)
            continue; /* not this one, or already finished */
        w->running--;
        q->session = NULL;
        q->rows = rows;
        q->bytes = bytes;
        q->end_ms = time_now_ms();
        if (q->state == Q_RUNNING)
            q->state = error ? Q_FAILED : Q_DONE;
        if (error && !q->error)
            q->error = strdup(error);
        if (!error && q->state == Q_TIMEOUT)
            q->state = Q_DONE; /* it ended just as the deadline passed */
        break;
    }
    trim(w);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

const char *workload_interruption(workload_t *w, int64_t id)
{
    const char *why = NULL;
    pthread_mutex_lock(&w->mu);
    for (query_t *q = w->queries; q; q = q->next)
        if (q->id == id) {
            why = q->state == Q_CANCELLED ? "cancelled" : q->state == Q_TIMEOUT ? "timeout" : NULL;
            break;
        }
    pthread_mutex_unlock(&w->mu);
    return why;
}

static json_t *query_json(const query_t *q)
{
    char qd[32] = "", st[32] = "";
    time_fmt_iso_ms(qd, q->queued_ms);
    if (q->start_ms)
        time_fmt_iso_ms(st, q->start_ms);
    int64_t end = q->end_ms ? q->end_ms : (q->start_ms ? time_now_ms() : 0);
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:o, s:I, s:I, s:s?}", "id",
                     (json_int_t)q->id, "principal", q->principal, "sql", q->sql, "state",
                     states[q->state], "queued", qd, "started", st[0] ? st : NULL,
                     "duration_ms", q->start_ms ? json_integer(end - q->start_ms) : json_null(),
                     "rows", (json_int_t)q->rows, "bytes", (json_int_t)q->bytes, "error",
                     q->error);
}

static bool visible(const query_t *q, const char *principal, bool admin)
{
    return admin || (principal && !strcmp(q->principal, principal));
}

json_t *workload_list(workload_t *w, const char *principal, bool admin)
{
    json_t *a = json_array();
    pthread_mutex_lock(&w->mu);
    for (query_t *q = w->queries; q; q = q->next)
        if (visible(q, principal, admin))
            json_array_append_new(a, query_json(q));
    pthread_mutex_unlock(&w->mu);
    return json_pack("{s:o}", "queries", a);
}

int workload_get(workload_t *w, int64_t id, const char *principal, bool admin, json_t **out,
                 tarn_err_t *err)
{
    int rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchQuery, "no query %lld", (long long)id);
    pthread_mutex_lock(&w->mu);
    for (query_t *q = w->queries; q; q = q->next)
        if (q->id == id && visible(q, principal, admin)) {
            *out = query_json(q);
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int workload_cancel(workload_t *w, int64_t id, const char *principal, bool admin,
                    tarn_err_t *err)
{
    int rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchQuery,
                        "no running or queued query %lld", (long long)id);
    pthread_mutex_lock(&w->mu);
    for (query_t *q = w->queries; q; q = q->next) {
        if (q->id != id || !visible(q, principal, admin) || q->state >= Q_DONE)
            continue;
        if (q->state == Q_RUNNING) {
            q->interrupted = true;
            session_interrupt(q->session);
        }
        q->state = Q_CANCELLED;
        rc = 0;
        break;
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return rc;
}
