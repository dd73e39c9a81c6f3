/* A query from admission to its record in the history; see query.h. */
#include "consume/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct query {
    const query_env_t *env;
    session_t *session;
    bool own_session;
    int64_t id; /* in the workload, once admitted */
    json_t *columns;
    rowenc_t *rows_enc;
    uint64_t rows;
    char error[480]; /* why the query failed, once it did */
};

/* n bytes for people: "61.0 MiB". */
static const char *size_text(char *out, size_t cap, uint64_t n)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return out;
}

/* Says in err why the query failed: cancelled or stopped at its time limit (the engine
 * itself only says it was interrupted), or out of memory, with the limit and what to do
 * about it; else the engine's own words. Returns the code, and remembers the message
 * for the history. */
static int explain(query_t *q, int rc, tarn_err_t *err)
{
    const char *why = query_interruption(q);
    if (why && !strcmp(why, "cancelled")) {
        rc = TARN_ERR_R(err, TARN_ECONFLICT, QueryCancelled, "query %lld was cancelled",
                        (long long)q->id);
    } else if (why) {
        rc = TARN_ERR_R(err, TARN_EBUSY, QueryTimeout,
                        "query %lld ran longer than its time limit and was stopped",
                        (long long)q->id);
    } else if (rc == TARN_ENOMEM && err->reason == TARN_R_QueryOutOfMemory) {
        char engine[sizeof err->msg], each[32], all[32];
        int slots = workload_slots(q->env->workload);
        uint64_t mem = q->env->query_memory;
        snprintf(engine, sizeof engine, "%s", err->msg);
        rc = TARN_ERR_R(err, TARN_ENOMEM, QueryOutOfMemory,
                        "query %lld ran out of memory: the %d query slots share %s (%s each, "
                        "tarn serve --query-memory) and what did not fit could not be spilled "
                        "to disk. Add a LIMIT or a narrower WHERE, run fewer queries at once, "
                        "or raise --query-memory. (%s)",
                        (long long)q->id, slots, size_text(all, sizeof all, mem * (uint64_t)slots),
                        size_text(each, sizeof each, mem), engine);
    }
    snprintf(q->error, sizeof q->error, "%s", err->msg);
    return rc;
}

int query_open(query_t **out, const query_env_t *env, const authz_principal_t *p,
               const char *sql, const json_t *params, const query_opts_t *o, tarn_err_t *err)
{
    query_t *q = calloc(1, sizeof *q);
    *out = q;
    if (!q)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    q->env = env;
    q->session = o->session;
    int rc = 0;
    if (!q->session) {
        q->own_session = true;
        rc = session_open(&q->session, env->engine, env->catalog, env->objects_dir, p, err);
    }
    if (!rc)
        rc = workload_admit(env->workload, p->name, sql, q->session, &q->id, err);
    if (rc) {
        snprintf(q->error, sizeof q->error, "%s", err->msg);
        return rc;
    }
    if (o->admitted_id)
        atomic_store(o->admitted_id, q->id);
    if (o->parquet_path)
        rc = session_query_parquet(q->session, sql, params, o->parquet_path, NULL, &q->rows,
                                   NULL, err);
    else
        rc = session_query(q->session, sql, params, o->rows, &q->columns, &q->rows_enc, err);
    return rc ? explain(q, rc, err) : 0;
}

const json_t *query_columns(const query_t *q)
{
    return q->columns;
}

size_t query_ncols(const query_t *q)
{
    return q->rows_enc ? rowenc_ncols(q->rows_enc) : 0;
}

int query_next(query_t *q, const engine_cell_t **cells, size_t *nrows, tarn_err_t *err)
{
    *nrows = 0;
    if (!q->rows_enc)
        return 0;
    int rc = rowenc_next(q->rows_enc, cells, nrows, err);
    if (rc)
        return explain(q, rc, err);
    q->rows += *nrows;
    return 0;
}

void query_own_column(query_t *q, size_t col)
{
    if (q->rows_enc)
        rowenc_own(q->rows_enc, col);
}

const engine_vec_t *query_vectors(const query_t *q, size_t col)
{
    return q->rows_enc && rowenc_owned(q->rows_enc, col) ? &rowenc_vectors(q->rows_enc)[col]
                                                         : NULL;
}

int64_t query_id(const query_t *q)
{
    return q->id;
}

const char *query_decisions(const query_t *q)
{
    return q->session ? session_decisions(q->session) : "";
}

const char *query_interruption(const query_t *q)
{
    return q->id ? workload_interruption(q->env->workload, q->id) : NULL;
}

void query_cancel(workload_t *w, int64_t id)
{
    tarn_err_t err = {0};
    workload_cancel(w, id, NULL, true, &err);
}

void query_close(query_t *q, uint64_t bytes_out, const char *error)
{
    if (!q)
        return;
    rowenc_close(q->rows_enc);
    if (q->id)
        workload_finish(q->env->workload, q->id, q->rows, bytes_out,
                        error ? error : q->error[0] ? q->error : NULL);
    if (q->own_session)
        session_close(q->session);
    json_decref(q->columns);
    free(q);
}
