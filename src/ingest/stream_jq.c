/* MetadataExtractionQuery on libjq; see stream_jq.h. A compiled query keeps its jq_state
 * for the stream's life (compiling binds jq's builtins, some milliseconds); the delivery
 * thread is its only user. */
#include "ingest/stream_jq.h"

#include "util/timeutil.h"
#include "util/worker.h"

#include <jq.h>

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stream_jq {
    jq_state *jq;
    stream_jq_names_t names;
};

/* ---- compiling ---- */

/* The first message of a compilation, without jq's "jq: error: " and its echo of the
 * program. */
static void compile_error(void *data, jv msg)
{
    char *out = data;
    if (!*out && jv_get_kind(msg) == JV_KIND_STRING) {
        const char *s = jv_string_value(msg);
        if (!strncmp(s, "jq: error: ", 11))
            s += 11;
        snprintf(out, 200, "%.*s", (int)strcspn(s, "\n"), s);
    }
    jv_free(msg);
}

/* After compiling: libjq reports run-time errors through jq_next, never here. */
static void no_error(void *data, jv msg)
{
    (void)data;
    jv_free(msg);
}

int stream_jq_compile(stream_jq_t **out, const char *query, tarn_err_t *err)
{
    *out = NULL;
    stream_jq_t *q = calloc(1, sizeof *q);
    char why[200] = "";
    int rc;
    if (!q)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if ((rc = stream_jq_check(query, &q->names, err)))
        goto fail;
    if (!(q->jq = jq_init())) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto fail;
    }
    jq_set_error_cb(q->jq, compile_error, why);
    int ok = jq_compile(q->jq, query);
    jq_set_error_cb(q->jq, no_error, NULL);
    if (!ok) {
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                        "MetadataExtractionQuery does not compile: %s", *why ? why : query);
        goto fail;
    }
    *out = q;
    return 0;
fail:
    stream_jq_free(q);
    return rc;
}

void stream_jq_free(stream_jq_t *q)
{
    if (!q)
        return;
    if (q->jq)
        jq_teardown(&q->jq);
    stream_jq_names_free(&q->names);
    free(q);
}

const stream_jq_names_t *stream_jq_names(const stream_jq_t *q)
{
    return &q->names;
}

/* ---- the guard ---- */

struct stream_jq_guard {
    worker_t *worker;
    pthread_mutex_t mu;
    jq_state *running;   /* inside jq_next, or NULL */
    int64_t deadline_ms; /* monotonic */
    bool halted, idle;   /* idle: the guard sleeps with no deadline */
};

/* jq_halt only sets what jq_next reads before each instruction, and the guard calls it
 * under its lock while the evaluating thread is inside jq_next, the one time per
 * evaluation; the evaluation then returns at once, and the next jq_start clears it. */
static void guard_main(worker_t *w, void *arg)
{
    stream_jq_guard_t *g = arg;
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(w, next)) {
        pthread_mutex_lock(&g->mu);
        if (g->running && !g->halted && time_mono_ms() >= g->deadline_ms) {
            jq_halt(g->running, jv_invalid(), jv_invalid());
            g->halted = true;
        }
        g->idle = !g->running || g->halted;
        next = g->idle ? WORKER_FOREVER : g->deadline_ms;
        pthread_mutex_unlock(&g->mu);
    }
}

int stream_jq_guard_create(stream_jq_guard_t **out, tarn_err_t *err)
{
    stream_jq_guard_t *g = calloc(1, sizeof *g);
    if (!g)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    int rc = worker_start(&g->worker, "stream-jq-guard", guard_main, g, err);
    if (rc) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void stream_jq_guard_free(stream_jq_guard_t *g)
{
    if (!g)
        return;
    worker_stop(g->worker);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

static void guard_begin(stream_jq_guard_t *g, jq_state *jq)
{
    pthread_mutex_lock(&g->mu);
    assert(!g->running);
    g->running = jq;
    g->halted = false;
    g->deadline_ms = time_mono_ms() + STREAM_JQ_TIME_MS;
    /* A guard between deadlines wakes at the next one anyway: no wake per record. */
    bool wake = g->idle;
    g->idle = false;
    pthread_mutex_unlock(&g->mu);
    if (wake)
        worker_wake(g->worker);
}

/* Whether the evaluation was halted. */
static bool guard_end(stream_jq_guard_t *g)
{
    pthread_mutex_lock(&g->mu);
    g->running = NULL;
    bool halted = g->halted;
    pthread_mutex_unlock(&g->mu);
    return halted;
}

/* ---- evaluating ---- */

#define FAIL(err, ...) TARN_ERR_R((err), TARN_EINVAL, InvalidArgument, __VA_ARGS__)

/* A jq error's message (a string, or any value thrown by error/1), shortened. */
static void error_text(char *out, size_t cap, jv v)
{
    jv msg = jv_invalid_get_msg(v);
    if (jv_get_kind(msg) == JV_KIND_STRING) {
        snprintf(out, cap, "%s", jv_string_value(msg));
        jv_free(msg);
    } else {
        jv_dump_string_trunc(msg, out, cap);
    }
}

/* The keys and values of the object obj, which the query yielded. */
static int take_keys(jv obj, stream_jq_keys_t *out, tarn_err_t *err)
{
    int rc = 0;
    if (jv_object_length(jv_copy(obj)) > STREAM_JQ_KEYS)
        return FAIL(err, "MetadataExtractionQuery yields more than %d keys", STREAM_JQ_KEYS);
    jv_object_foreach(obj, k, v)
    {
        const char *name = jv_string_value(k);
        jv_kind kind = jv_get_kind(v);
        char *text = NULL;
        if (!rc && (kind == JV_KIND_NULL || kind == JV_KIND_OBJECT || kind == JV_KIND_ARRAY))
            rc = FAIL(err, "the partition key '%s' is %s in the record", name,
                      kind == JV_KIND_NULL ? "missing or null" : "not a scalar");
        else if (!rc && kind == JV_KIND_STRING &&
                 jv_string_length_bytes(jv_copy(v)) > STREAM_JQ_VALUE_MAX)
            rc = FAIL(err, "the partition key '%s' is longer than %d bytes", name,
                      STREAM_JQ_VALUE_MAX);
        else if (!rc && kind == JV_KIND_STRING)
            text = strdup(jv_string_value(v));
        else if (!rc) {
            jv s = jv_dump_string(jv_copy(v), 0);
            text = strdup(jv_string_value(s));
            jv_free(s);
        }
        if (!rc) {
            out->names[out->n] = strdup(name);
            out->values[out->n++] = text;
            if (!text || !out->names[out->n - 1])
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
        jv_free(k);
        jv_free(v);
    }
    jv_free(obj);
    return rc;
}

int stream_jq_eval(stream_jq_t *q, stream_jq_guard_t *g, const char *rec, size_t len,
                   stream_jq_keys_t *out, tarn_err_t *err)
{
    *out = (stream_jq_keys_t){0};
    char why[300];
    if (len > INT_MAX)
        return FAIL(err, "the record is too large for MetadataExtractionQuery");
    jv in = jv_parse_sized(rec, (int)len);
    if (!jv_is_valid(in)) {
        error_text(why, sizeof why, in);
        return FAIL(err, "the record is not JSON: %s", why);
    }
    jq_start(q->jq, in, 0);
    guard_begin(g, q->jq);
    /* Two results at most: the one wanted, and whether there is another. */
    jv v = jq_next(q->jq);
    jv more = jv_is_valid(v) ? jq_next(q->jq) : jv_invalid();
    bool halted = guard_end(g);
    int rc = 0;
    if (halted) {
        rc = FAIL(err, "MetadataExtractionQuery ran longer than %d ms on the record",
                  STREAM_JQ_TIME_MS);
    } else if (!jv_is_valid(v) && jv_invalid_has_msg(jv_copy(v))) {
        error_text(why, sizeof why, jv_copy(v));
        rc = FAIL(err, "MetadataExtractionQuery failed on the record: %s", why);
    } else if (!jv_is_valid(v)) {
        rc = FAIL(err, "MetadataExtractionQuery yields nothing for the record");
    } else if (jv_is_valid(more)) {
        rc = FAIL(err, "MetadataExtractionQuery yields more than one value for the record");
    } else if (jv_get_kind(v) != JV_KIND_OBJECT) {
        rc = FAIL(err, "MetadataExtractionQuery yields %s for the record, not an object",
                  jv_kind_name(jv_get_kind(v)));
    } else {
        rc = take_keys(jv_copy(v), out, err);
    }
    jv_free(v);
    jv_free(more);
    if (rc)
        stream_jq_keys_free(out);
    return rc;
}

void stream_jq_keys_free(stream_jq_keys_t *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->names[i]);
        free(k->values[i]);
    }
    k->n = 0;
}
