/* Unit tests for background workers: the first wait returns at once, a wake is never lost
 * (even when it comes while the worker works), deadlines without wakes, a sleep that
 * leaves wakes pending, stop from any wait, thread names, fan-out and detached threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/timeutil.h"
#include "util/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Waits up to 5 s for *v to reach want; true when it did. */
static bool reaches(atomic_int *v, int want)
{
    for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
        usleep(1000);
    return atomic_load(v) >= want;
}

/* A worker that counts its wake-ups and stops when told. */
typedef struct {
    atomic_int passes;
    char name[16];
} counter_t;

static void count_main(worker_t *w, void *ctx)
{
    counter_t *c = ctx;
    pthread_getname_np(pthread_self(), c->name, sizeof c->name);
    while (!worker_wait(w, WORKER_FOREVER))
        atomic_fetch_add(&c->passes, 1);
}

static void test_first_wait_returns_then_sleeps(void **state)
{
    (void)state;
    counter_t c = {0};
    worker_t *w;
    tarn_err_t err = {0};
    assert_int_equal(worker_start(&w, "test-counter", count_main, &c, &err), 0);
    assert_true(reaches(&c.passes, 1));
    usleep(50000);
    assert_int_equal(atomic_load(&c.passes), 1); /* nothing woke it: it sleeps */
    assert_string_equal(c.name, "test-counter");
    worker_wake(w);
    assert_true(reaches(&c.passes, 2));
    worker_stop(w);
    assert_int_equal(atomic_load(&c.passes), 2);
}

static void test_long_name_is_cut(void **state)
{
    (void)state;
    counter_t c = {0};
    worker_t *w;
    assert_int_equal(worker_start(&w, "a-name-longer-than-fifteen", count_main, &c, NULL), 0);
    assert_true(reaches(&c.passes, 1));
    worker_stop(w);
    assert_string_equal(c.name, "a-name-longer-t");
}

/* Items handed over one by one under a lock, each with a wake; the worker takes what is
 * there after each wait. Every item must be taken, whatever the interleaving. */
typedef struct {
    pthread_mutex_t mu;
    int queued, taken;
    atomic_int total;
} queue_t;

static void take_main(worker_t *w, void *ctx)
{
    queue_t *q = ctx;
    while (!worker_wait(w, WORKER_FOREVER)) {
        pthread_mutex_lock(&q->mu);
        int n = q->queued - q->taken;
        q->taken = q->queued;
        pthread_mutex_unlock(&q->mu);
        if (n % 3 == 0)
            usleep(10); /* sometimes busy while wakes arrive */
        atomic_fetch_add(&q->total, n);
    }
}

static void test_no_wake_is_lost(void **state)
{
    (void)state;
    queue_t q = {.mu = PTHREAD_MUTEX_INITIALIZER};
    worker_t *w;
    assert_int_equal(worker_start(&w, "test-queue", take_main, &q, NULL), 0);
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&q.mu);
        q.queued++;
        pthread_mutex_unlock(&q.mu);
        worker_wake(w);
        if (i % 1000 == 0)
            usleep(100);
    }
    assert_true(reaches(&q.total, N));
    worker_stop(w);
    assert_int_equal(atomic_load(&q.total), N);
}

/* Deadlines: a wait with nothing to wake it returns at its deadline, not before. */
typedef struct {
    atomic_int done;
    int64_t slept_ms;
    bool stopped, woken_at_once;
} timing_t;

/* The rest of a test worker's life: waiting to be stopped. */
static void until_stopped(worker_t *w)
{
    while (!worker_wait(w, WORKER_FOREVER))
        ;
}

/* Starts fn as a test worker and waits until it reports having done its part. */
static worker_t *run_timing(const char *name, worker_fn_t fn, timing_t *t)
{
    worker_t *w;
    assert_int_equal(worker_start(&w, name, fn, t, NULL), 0);
    assert_true(reaches(&t->done, 1));
    return w;
}

static void deadline_main(worker_t *w, void *ctx)
{
    timing_t *t = ctx;
    worker_wait(w, WORKER_FOREVER); /* the start's wake */
    int64_t t0 = time_mono_ms();
    t->stopped = worker_wait(w, t0 + 80);
    t->slept_ms = time_mono_ms() - t0;
    t->stopped |= worker_wait(w, t0 - 1); /* already past: returns at once */
    atomic_store(&t->done, 1);
    until_stopped(w);
}

static void test_deadline(void **state)
{
    (void)state;
    timing_t t = {0};
    worker_stop(run_timing("test-deadline", deadline_main, &t));
    assert_false(t.stopped);
    assert_true(t.slept_ms >= 80);
    assert_true(t.slept_ms < 2000);
}

/* worker_sleep lets wakes wait: the wait after it returns at once. */
static void sleep_main(worker_t *w, void *ctx)
{
    timing_t *t = ctx;
    worker_wait(w, WORKER_FOREVER);
    atomic_store(&t->done, 1); /* the test wakes it now, during the sleep */
    int64_t t0 = time_mono_ms();
    t->stopped = worker_sleep(w, t0 + 150);
    t->slept_ms = time_mono_ms() - t0;
    int64_t t1 = time_mono_ms();
    t->stopped |= worker_wait(w, t1 + 5000);
    t->woken_at_once = time_mono_ms() - t1 < 1000;
    atomic_store(&t->done, 2);
    until_stopped(w);
}

static void test_sleep_keeps_wakes(void **state)
{
    (void)state;
    timing_t t = {0};
    worker_t *w = run_timing("test-sleep", sleep_main, &t);
    worker_wake(w);
    assert_true(reaches(&t.done, 2));
    worker_stop(w);
    assert_false(t.stopped);
    assert_true(t.slept_ms >= 150); /* the wake did not cut the sleep short */
    assert_true(t.woken_at_once);
}

/* Stop reaches a worker in a wait without deadline, and one sleeping long. */
static void long_sleep_main(worker_t *w, void *ctx)
{
    (void)ctx;
    while (!worker_sleep(w, time_mono_ms() + 60000))
        ;
}

static void test_stop_from_any_wait(void **state)
{
    (void)state;
    counter_t c = {0};
    worker_t *a, *b;
    assert_int_equal(worker_start(&a, "test-forever", count_main, &c, NULL), 0);
    assert_int_equal(worker_start(&b, "test-long", long_sleep_main, NULL, NULL), 0);
    assert_true(reaches(&c.passes, 1));
    usleep(20000);
    int64_t t0 = time_mono_ms();
    worker_stop(a);
    worker_stop(b);
    assert_true(time_mono_ms() - t0 < 2000);
    worker_stop(NULL);
}

/* A worker that checks worker_stopping between items. */
static void busy_main(worker_t *w, void *ctx)
{
    atomic_int *ran = ctx;
    worker_wait(w, WORKER_FOREVER);
    while (!worker_stopping(w)) {
        atomic_store(ran, 1);
        usleep(1000);
    }
}

static void test_stopping(void **state)
{
    (void)state;
    atomic_int ran = 0;
    worker_t *w;
    assert_int_equal(worker_start(&w, "test-busy", busy_main, &ran, NULL), 0);
    assert_true(reaches(&ran, 1));
    worker_stop(w);
}

/* Fan-out: every part runs once, on threads of the given name and the caller's. */
typedef struct {
    int index;
    atomic_int *runs;
    char name[16];
} part_t;

static void part_main(void *arg)
{
    part_t *p = arg;
    atomic_fetch_add(&p->runs[p->index], 1);
    pthread_getname_np(pthread_self(), p->name, sizeof p->name);
}

static void test_fanout(void **state)
{
    (void)state;
    enum { N = 6 };
    atomic_int runs[N] = {0};
    part_t parts[N];
    for (int i = 0; i < N; i++)
        parts[i] = (part_t){.index = i, .runs = runs};
    char caller[16];
    pthread_getname_np(pthread_self(), caller, sizeof caller);
    worker_fanout("test-part", part_main, parts, sizeof *parts, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(atomic_load(&runs[i]), 1);
    assert_string_equal(parts[0].name, caller); /* the first part runs on the caller */
    for (int i = 1; i < N; i++)
        assert_string_equal(parts[i].name, "test-part");
    /* size 0: every part gets the same argument */
    atomic_int shared[1] = {0};
    part_t one = {.index = 0, .runs = shared};
    worker_fanout("test-part", part_main, &one, 0, 4);
    assert_int_equal(atomic_load(&shared[0]), 4);
    worker_fanout("test-part", part_main, &one, 0, 0); /* nothing to do */
    assert_int_equal(atomic_load(&shared[0]), 4);
}

static void detached_main(void *arg)
{
    part_t *p = arg;
    pthread_getname_np(pthread_self(), p->name, sizeof p->name);
    atomic_fetch_add(&p->runs[0], 1);
}

static void test_detach(void **state)
{
    (void)state;
    atomic_int runs[1] = {0};
    part_t p = {.runs = runs};
    tarn_err_t err = {0};
    assert_int_equal(worker_detach("test-detached", detached_main, &p, &err), 0);
    assert_true(reaches(&runs[0], 1));
    assert_string_equal(p.name, "test-detached");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_wait_returns_then_sleeps),
        cmocka_unit_test(test_long_name_is_cut),
        cmocka_unit_test(test_no_wake_is_lost),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_sleep_keeps_wakes),
        cmocka_unit_test(test_stop_from_any_wait),
        cmocka_unit_test(test_stopping),
        cmocka_unit_test(test_fanout),
        cmocka_unit_test(test_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
