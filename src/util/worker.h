/* Background workers: each is one named thread whose loop sleeps until it is woken (a
 * producer handed it work) or until its next deadline, never polling, so an idle server
 * uses no CPU. Also the two other kinds of thread the product runs: helpers that work
 * one call's parts side by side (worker_fanout), and detached threads that serve one
 * client each (worker_detach). Every thread gets a name that `top -H` shows. */
#ifndef TARN_UTIL_WORKER_H
#define TARN_UTIL_WORKER_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct worker worker_t;

/* A deadline meaning "none": sleep until woken. */
#define WORKER_FOREVER INT64_MAX

/* The thread's body: loops until worker_wait or worker_sleep return true, then returns. */
typedef void (*worker_fn_t)(worker_t *w, void *ctx);

/* Starts fn(w, ctx) on a new thread named name (the first 15 characters show). The worker
 * is started with one wake pending, so its first worker_wait returns at once (whatever
 * was queued before it started gets looked at). Caller stops it with worker_stop. */
int worker_start(worker_t **out, const char *name, worker_fn_t fn, void *ctx, tarn_err_t *err);

/* Wakes w: its current worker_wait returns, or its next one does at once, so a wake is
 * never lost between the worker looking for work and going to sleep. Any thread, any
 * time before worker_stop; cheap when a wake is already pending (an atomic exchange),
 * so producers may call it for every item they hand over. */
void worker_wake(worker_t *w);
/* worker_wake for callbacks that take a void pointer (db_watch, say). */
void worker_wake_cb(void *w);

/* On w's thread: sleeps until woken, until deadline_ms (on time_mono_ms's clock;
 * WORKER_FOREVER: none) or until stopped, and takes the pending wake. A deadline already
 * past only takes the wake. True when the worker is to stop (its loop then returns). */
bool worker_wait(worker_t *w, int64_t deadline_ms);

/* On w's thread: sleeps until deadline_ms or until stopped, leaving any wake pending for
 * the next worker_wait: for pacing work that wakes come faster than, and for backing off
 * after an error. True when the worker is to stop. */
bool worker_sleep(worker_t *w, int64_t deadline_ms);

/* On w's thread, after a failure that time may cure (a busy database, a full disk):
 * sleeps 100 ms, then twice as long at each failure in a row, up to 5 s, as worker_sleep
 * does. *backoff_ms holds the last wait; set it to 0 after a success. True when the
 * worker is to stop. */
bool worker_backoff(worker_t *w, int *backoff_ms);

/* True once worker_stop was called: long work checks it between items. */
bool worker_stopping(worker_t *w);

/* Asks w to stop, wakes it, waits for its loop to return and frees it. NULL ok. */
void worker_stop(worker_t *w);

/* Runs fn(arg_i) for the n args (arg_i = args + i * size; size 0 gives every call the
 * same arg) side by side, on n - 1 threads named name and the calling thread, and returns
 * when all are done. A part whose thread cannot start runs on the calling thread, so
 * every part runs whatever the system allows. For the parallel parts of one call. */
void worker_fanout(const char *name, void (*fn)(void *arg), void *args, size_t size, int n);

/* Runs fn(arg) on a detached thread named name; the caller learns of its end through
 * arg. 0, or TARN_EIO when the thread cannot start (fn does not run then). */
int worker_detach(const char *name, void (*fn)(void *arg), void *arg, tarn_err_t *err);

#endif
