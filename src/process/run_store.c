/* The runner's statements on the registry's tables (see run_store.h): claiming runs,
 * logs, staged keys, bookmarks and the end of an attempt. */
#include "process/run_store.h"
#include "util/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int run_store_exec(db_t *db, const char *sql, const char *t, int64_t i, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, sql, err);
    if (rc)
        return rc;
    if (t)
        sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, i);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : db_fail(db, step, err, "pipeline runs");
}

/* Runs sql with ?1 = run id and ?2 = text t (bound when not NULL). */
static int exec_run(db_t *db, const char *sql, int64_t run, const char *t, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, run);
    if (t)
        sqlite3_bind_text(st, 2, t, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "pipeline run");
}

/* The queued runs that can be claimed once due: their version exists and their pipeline
 * has no running run. */
#define CLAIMABLE                                                                          \
    " FROM proc_runs r JOIN proc_pipelines p ON p.name = r.pipeline AND p.version ="        \
    " r.version WHERE r.status = 'queued' AND NOT EXISTS (SELECT 1 FROM proc_runs o"        \
    " WHERE o.pipeline = r.pipeline AND o.status = 'running')"

int run_store_next_due(db_t *db, int64_t *due_ms, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT min(r.next_attempt_ms)" CLAIMABLE, err);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    *due_ms = step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL
                  ? sqlite3_column_int64(st, 0)
                  : INT64_MAX;
    db_done(db, st);
    return step == SQLITE_ROW ? 0 : db_fail(db, step, err, "next queued run");
}

int run_store_claim(db_t *db, int64_t now_ms, run_claim_t *out, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if ((rc = db_prepare(db, &st,
                         "SELECT r.id, r.pipeline, r.version, r.attempt, r.max_attempts, r.replay,"
                         " p.owner, p.spec, p.owner_id" CLAIMABLE " AND r.next_attempt_ms <= ?1"
                         " ORDER BY r.next_attempt_ms, r.id LIMIT 1",
                         err)))
        goto rollback;
    sqlite3_bind_int64(st, 1, now_ms);
    bool got = sqlite3_step(st) == SQLITE_ROW;
    if (got) {
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->pipeline, sizeof out->pipeline, "%s", sqlite3_column_text(st, 1));
        out->version = sqlite3_column_int64(st, 2);
        out->attempt = sqlite3_column_int64(st, 3) + 1;
        out->max_attempts = sqlite3_column_int64(st, 4);
        out->replay = sqlite3_column_int(st, 5) != 0;
        snprintf(out->owner, sizeof out->owner, "%s", sqlite3_column_text(st, 6));
        out->spec = strdup((const char *)sqlite3_column_text(st, 7));
        out->owner_id = sqlite3_column_int64(st, 8);
    }
    db_done(db, st);
    if (!got)
        return db_exec(db, "COMMIT", err);
    if (!out->spec) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto rollback;
    }
    if ((rc = db_prepare(db, &st,
                         "UPDATE proc_runs SET status = 'running', attempt = attempt + 1,"
                         " started_ms = ?2, finished_ms = NULL, error = NULL, staged = '[]',"
                         " steps = '[]' WHERE id = ?1",
                         err)))
        goto rollback;
    sqlite3_bind_int64(st, 1, out->id);
    sqlite3_bind_int64(st, 2, now_ms);
    int step = sqlite3_step(st);
    db_done(db, st);
    if (step != SQLITE_DONE) {
        rc = db_fail(db, step, err, "claim run");
        goto rollback;
    }
    if ((rc = db_exec(db, "COMMIT", err)))
        goto rollback;
    return 1;
rollback:
    db_exec(db, "ROLLBACK", NULL);
    free(out->spec);
    out->spec = NULL;
    return rc;
}

void run_store_log(db_t *db, int64_t run, const char *level, const char *step,
                   const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    tarn_err_t e = {0};
    if (db_prepare(db, &st,
                   "INSERT INTO proc_run_logs(run_id, time_ms, level, step, message) VALUES(?1,"
                   " ?2, ?3, ?4, ?5)",
                   &e))
        return;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, time_now_ms());
    sqlite3_bind_text(st, 3, level, -1, SQLITE_STATIC);
    if (step)
        sqlite3_bind_text(st, 4, step, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, msg, -1, SQLITE_STATIC);
    sqlite3_step(st);
    db_done(db, st);
}

static int exec_json(db_t *db, const char *sql, int64_t run, const json_t *j, tarn_err_t *err)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = exec_run(db, sql, run, text, err);
    free(text);
    return rc;
}

int run_store_steps(db_t *db, int64_t run, const json_t *steps, tarn_err_t *err)
{
    return exec_json(db, "UPDATE proc_runs SET steps = ?2 WHERE id = ?1", run, steps, err);
}

int run_store_stage(db_t *db, int64_t run, const json_t *keys, tarn_err_t *err)
{
    json_t *all = NULL;
    int rc = run_store_staged(db, run, &all, err);
    if (rc)
        return rc;
    json_array_extend(all, (json_t *)keys);
    rc = exec_json(db, "UPDATE proc_runs SET staged = ?2 WHERE id = ?1", run, all, err);
    json_decref(all);
    return rc;
}

int run_store_staged(db_t *db, int64_t run, json_t **keys, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT staged FROM proc_runs WHERE id = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, run);
    json_t *a = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        a = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    db_done(db, st);
    *keys = json_is_array(a) ? a : (json_decref(a), json_array());
    return 0;
}

int run_store_fail(db_t *db, int64_t run, const char *error, int64_t backoff_ms,
                   tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "UPDATE proc_runs SET error = ?2, staged = '[]', finished_ms = ?3,"
                        " status = CASE WHEN attempt < max_attempts THEN 'queued' ELSE 'failed'"
                        " END, next_attempt_ms = CASE WHEN attempt < max_attempts THEN ?3 + ?4"
                        " ELSE next_attempt_ms END WHERE id = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, time_now_ms());
    sqlite3_bind_int64(st, 4, backoff_ms);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "fail run");
}

int run_store_succeed(db_t *db, int64_t run, const json_t *outputs, const json_t *steps,
                      tarn_err_t *err)
{
    int rc = exec_json(db, "UPDATE proc_runs SET outputs = ?2 WHERE id = ?1", run, outputs, err);
    if (!rc)
        rc = exec_json(db, "UPDATE proc_runs SET steps = ?2 WHERE id = ?1", run, steps, err);
    sqlite3_stmt *st;
    if (rc || (rc = db_prepare(db, &st,
                               "UPDATE proc_runs SET status = 'succeeded', error = NULL, staged ="
                               " '[]', finished_ms = ?2 WHERE id = ?1",
                               err)))
        return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, time_now_ms());
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "finish run");
}

/* ---- bookmarks: a sorted array of "table\x1fkey" strings, searched by bisection ---- */

struct run_marks {
    char **v;
    size_t n;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int run_store_marks_load(db_t *db, const char *pipeline, run_marks_t **out, tarn_err_t *err)
{
    run_marks_t *m = calloc(1, sizeof *m);
    sqlite3_stmt *st;
    int rc = m ? db_prepare(db, &st,
                            "SELECT tbl || char(31) || key FROM proc_bookmarks WHERE pipeline = ?1"
                            " ORDER BY 1",
                            err)
               : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc) {
        free(m);
        return rc;
    }
    sqlite3_bind_text(st, 1, pipeline, -1, SQLITE_STATIC);
    size_t cap = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (m->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = realloc(m->v, cap * sizeof *v);
            if (!v) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                break;
            }
            m->v = v;
        }
        if (!(m->v[m->n] = strdup((const char *)sqlite3_column_text(st, 0))))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        else
            m->n++;
    }
    db_done(db, st);
    if (rc) {
        run_store_marks_free(m);
        return rc;
    }
    /* SQLite's ORDER BY uses memcmp order too, but sort anyway: it is the invariant
     * bsearch needs, not a property to rely on. */
    if (m->n)
        qsort(m->v, m->n, sizeof *m->v, cmp_str);
    *out = m;
    return 0;
}

bool run_store_marks_has(const run_marks_t *m, const char *table, const char *key)
{
    if (!m || !m->n)
        return false;
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s\x1f%s", table, key);
    if (n < 0 || (size_t)n >= sizeof buf)
        return false;
    const char *p = buf;
    return bsearch(&p, m->v, m->n, sizeof *m->v, cmp_str) != NULL;
}

void run_store_marks_free(run_marks_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
    free(m);
}

int run_store_position_get(db_t *db, const char *pipeline, const char *table, char *out,
                           size_t cap, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "SELECT position FROM proc_apply_positions WHERE pipeline = ?1 AND tbl = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
    const char *v = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    snprintf(out, cap, "%s", v ? v : "");
    db_done(db, st);
    return 0;
}

int run_store_position_set(db_t *db, const char *pipeline, const char *table, const char *pos,
                           tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "INSERT INTO proc_apply_positions(pipeline, tbl, position) VALUES(?1, ?2,"
                        " ?3) ON CONFLICT(pipeline, tbl) DO UPDATE SET position ="
                        " max(position, excluded.position)",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pos, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "record applied position");
}

int run_store_marks_add(db_t *db, const char *pipeline, int64_t run, const json_t *read,
                        bool replay, tarn_err_t *err)
{
    int rc = 0;
    if (replay && (rc = run_store_exec(db, "DELETE FROM proc_bookmarks WHERE pipeline = ?1",
                                       pipeline, 0, err)))
        return rc;
    const char *table;
    json_t *keys;
    json_object_foreach((json_t *)read, table, keys)
    {
        size_t i;
        json_t *k;
        json_array_foreach(keys, i, k)
        {
            sqlite3_stmt *st;
            if ((rc = db_prepare(db, &st,
                                 "INSERT OR IGNORE INTO proc_bookmarks(pipeline, tbl, key, run_id)"
                                 " VALUES(?1, ?2, ?3, ?4)",
                                 err)))
                return rc;
            sqlite3_bind_text(st, 1, pipeline, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, json_string_value(k), -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, run);
            int step = sqlite3_step(st);
            db_done(db, st);
            if (step != SQLITE_DONE)
                return db_fail(db, step, err, "record bookmark");
        }
    }
    return 0;
}

int run_store_recover(db_t *db, json_t **keys, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT staged FROM proc_runs WHERE status = 'running'", err);
    if (rc)
        return rc;
    json_t *all = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *a = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (json_is_array(a))
            json_array_extend(all, a);
        json_decref(a);
    }
    db_done(db, st);
    *keys = all;
    return 0;
}

int run_store_requeue(db_t *db, tarn_err_t *err)
{
    return run_store_exec(db,
                          "UPDATE proc_runs SET status = 'queued', attempt = max(attempt - 1, 0),"
                          " staged = '[]', next_attempt_ms = 0, error = 'interrupted by a server"
                          " stop; run again' WHERE status = 'running'",
                          NULL, 0, err);
}
