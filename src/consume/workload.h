/* Workload management for queries: a bounded number run at once (slots) and the rest wait
 * in FIFO order up to a maximum wait; each running query has a deadline after which it is
 * interrupted; any query can be cancelled by id; and the last queries are kept as history
 * (id, principal, SQL, start, duration, rows, bytes, status, error). */
#ifndef TARN_CONSUME_WORKLOAD_H
#define TARN_CONSUME_WORKLOAD_H

#include "consume/session.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct workload workload_t;

typedef struct {
    int slots;          /* queries running at once; 0: one per core */
    int max_wait_ms;    /* how long a query may wait for a slot */
    int timeout_ms;     /* how long a query may run */
    int history;        /* finished queries remembered */
} workload_opts_t;

int workload_create(workload_t **out, const workload_opts_t *o, tarn_err_t *err);
void workload_free(workload_t *w);

/* How many queries run at once (the slots given, or one per core). */
int workload_slots(const workload_t *w);

/* Waits for a slot for sql run by principal on session s (which the workload may
 * interrupt until workload_finish). TARN_EBUSY (reason "SlowDown") when the wait is over;
 * *id gets the query's id either way it is recorded. */
int workload_admit(workload_t *w, const char *principal, const char *sql, session_t *s,
                   int64_t *id, tarn_err_t *err);
/* The query ended: frees its slot and records the outcome (error NULL when it succeeded). */
void workload_finish(workload_t *w, int64_t id, uint64_t rows, uint64_t bytes,
                     const char *error);
/* "cancelled" or "timeout" when the query was interrupted for that reason, else NULL. */
const char *workload_interruption(workload_t *w, int64_t id);
/* Cancels a queued or running query; only its principal or an admin may.
 * TARN_ENOTFOUND (reason "NoSuchQuery") when it is not running or queued. */
int workload_cancel(workload_t *w, int64_t id, const char *principal, bool admin,
                    tarn_err_t *err);
/* {"queries": [...]} newest first, only the principal's own unless admin. */
json_t *workload_list(workload_t *w, const char *principal, bool admin);
/* One query's record; TARN_ENOTFOUND (reason "NoSuchQuery") when unknown or not visible. */
int workload_get(workload_t *w, int64_t id, const char *principal, bool admin, json_t **out,
                 tarn_err_t *err);

#endif
