/* Background workers, fan-out helpers and detached threads; see worker.h. */
#include "util/worker.h"
#include "util/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC, the clock of the deadlines */
    atomic_bool woken; /* a wake not yet taken by worker_wait */
    atomic_bool stop;
    worker_fn_t fn;
    void *ctx;
    char name[16]; /* what the kernel keeps of a thread's name */
};

/* Names the calling thread; a name too long for the kernel is cut to fit. */
static void name_self(const char *name)
{
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    pthread_setname_np(pthread_self(), n);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    name_self(w->name);
    w->fn(w, w->ctx);
    return NULL;
}

int worker_start(worker_t **out, const char *name, worker_fn_t fn, void *ctx, tarn_err_t *err)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    atomic_init(&w->woken, true);
    atomic_init(&w->stop, false);
    w->fn = fn;
    w->ctx = ctx;
    snprintf(w->name, sizeof w->name, "%s", name);
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return TARN_ERR(err, TARN_EIO, "cannot start the %s thread: %s", name, strerror(e));
    }
    *out = w;
    return 0;
}

void worker_wake(worker_t *w)
{
    /* The exchange orders what the producer published before it with what the worker
     * reads after taking the wake (also an exchange): either the worker's take comes
     * later and sees it, or it came earlier and this wake is a new one, signalled. */
    if (atomic_exchange(&w->woken, true))
        return;
    pthread_mutex_lock(&w->mu);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void worker_wake_cb(void *w)
{
    worker_wake(w);
}

/* Under w->mu: waits for a signal or the deadline; false once the deadline has passed. */
static bool wait_until(worker_t *w, int64_t deadline_ms)
{
    if (deadline_ms == WORKER_FOREVER) {
        pthread_cond_wait(&w->cv, &w->mu);
        return true;
    }
    if (time_mono_ms() >= deadline_ms)
        return false;
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    return pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT;
}

bool worker_wait(worker_t *w, int64_t deadline_ms)
{
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->stop) && !atomic_load(&w->woken) && wait_until(w, deadline_ms))
        ;
    pthread_mutex_unlock(&w->mu);
    atomic_exchange(&w->woken, false);
    return atomic_load(&w->stop);
}

bool worker_sleep(worker_t *w, int64_t deadline_ms)
{
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->stop) && wait_until(w, deadline_ms))
        ;
    pthread_mutex_unlock(&w->mu);
    return atomic_load(&w->stop);
}

bool worker_backoff(worker_t *w, int *backoff_ms)
{
    *backoff_ms = *backoff_ms ? (*backoff_ms < 5000 ? 2 * *backoff_ms : 5000) : 100;
    return worker_sleep(w, time_mono_ms() + *backoff_ms);
}

bool worker_stopping(worker_t *w)
{
    return atomic_load(&w->stop);
}

void worker_stop(worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, true);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ---- threads that are not workers ---- */

typedef struct {
    const char *name;
    void (*fn)(void *);
    void *arg;
} start_t;

static void *run_named(void *p)
{
    start_t *s = p;
    name_self(s->name);
    s->fn(s->arg);
    return NULL;
}

static void *run_detached(void *p)
{
    start_t s = *(start_t *)p;
    free(p);
    name_self(s.name);
    s.fn(s.arg);
    return NULL;
}

void worker_fanout(const char *name, void (*fn)(void *arg), void *args, size_t size, int n)
{
    enum { MAX = 64 };
    pthread_t th[MAX];
    start_t st[MAX];
    bool started[MAX] = {false};
    if (n > MAX)
        n = MAX;
    for (int i = 1; i < n; i++) {
        st[i] = (start_t){name, fn, (char *)args + (size_t)i * size};
        started[i] = !pthread_create(&th[i], NULL, run_named, &st[i]);
    }
    if (n > 0)
        fn(args);
    for (int i = 1; i < n; i++)
        if (!started[i])
            fn(st[i].arg);
    for (int i = 1; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}

int worker_detach(const char *name, void (*fn)(void *arg), void *arg, tarn_err_t *err)
{
    start_t *s = malloc(sizeof *s);
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *s = (start_t){name, fn, arg};
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, run_detached, s);
    pthread_attr_destroy(&attr);
    if (e) {
        free(s);
        return TARN_ERR(err, TARN_EIO, "cannot start a %s thread: %s", name, strerror(e));
    }
    return 0;
}
