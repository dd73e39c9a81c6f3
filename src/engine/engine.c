/* DuckDB engine entry points; see engine.h. */
#include "engine/engine.h"

#include <duckdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine {
    duckdb_database db;
};

struct engine_conn {
    duckdb_connection c;
};

const char *engine_version(void)
{
    return duckdb_library_version();
}

static int run(duckdb_connection c, const char *sql, tarn_err_t *err)
{
    duckdb_result r;
    int rc = 0;
    if (duckdb_query(c, sql, &r) == DuckDBError)
        rc = TARN_ERR(err, TARN_EIO, "engine setup (%s): %s", sql, duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

int engine_open(engine_t **out, const char *read_dir, int threads, tarn_err_t *err)
{
    *out = NULL;
    engine_t *e = calloc(1, sizeof *e);
    duckdb_config cfg = NULL;
    duckdb_connection c = NULL;
    char *open_err = NULL;
    int rc = 0;
    if (!e)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (duckdb_create_config(&cfg) == DuckDBError) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* Extensions the lake needs (parquet, json) are built in; nothing is fetched or
     * loaded from elsewhere. */
    duckdb_set_config(cfg, "autoinstall_known_extensions", "false");
    duckdb_set_config(cfg, "autoload_known_extensions", "false");
    char nthreads[16];
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    if (threads > 0)
        duckdb_set_config(cfg, "threads", nthreads);
    if (duckdb_open_ext(":memory:", &e->db, cfg, &open_err) == DuckDBError) {
        rc = TARN_ERR(err, TARN_EIO, "cannot start the SQL engine: %s",
                      open_err ? open_err : "unknown error");
        goto done;
    }
    if (duckdb_connect(e->db, &c) == DuckDBError) {
        rc = TARN_ERR(err, TARN_EIO, "cannot connect to the SQL engine");
        goto done;
    }
    /* Order matters: the allowed folder is set while external access is on, then access
     * is narrowed to it and the configuration locked for every connection. */
    arena_t *a = arena_create();
    size_t n = strlen(read_dir);
    const char *slash = n && read_dir[n - 1] == '/' ? "" : "/";
    char *dir = a ? arena_sprintf(a, "%s%s", read_dir, slash) : NULL;
    char *lit = dir ? engine_quote(a, dir) : NULL;
    char *sql = lit ? arena_sprintf(a, "SET allowed_directories = [%s]", lit) : NULL;
    rc = sql ? run(c, sql, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    arena_free(a);
    if (rc || (rc = run(c, "SET enable_external_access = false", err)) ||
        (rc = run(c, "SET lock_configuration = true", err)))
        goto done;
done:
    if (c)
        duckdb_disconnect(&c);
    if (open_err)
        duckdb_free(open_err);
    if (cfg)
        duckdb_destroy_config(&cfg);
    if (rc) {
        engine_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

void engine_close(engine_t *e)
{
    if (!e)
        return;
    if (e->db)
        duckdb_close(&e->db);
    free(e);
}

int engine_connect(engine_t *e, engine_conn_t **out, tarn_err_t *err)
{
    engine_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (duckdb_connect(e->db, &c->c) == DuckDBError) {
        free(c);
        return TARN_ERR(err, TARN_EIO, "cannot connect to the SQL engine");
    }
    *out = c;
    return 0;
}

void engine_disconnect(engine_conn_t *c)
{
    if (!c)
        return;
    duckdb_disconnect(&c->c);
    free(c);
}

/* DuckDB messages carry the offending SQL and a caret on later lines; the first line
 * says what went wrong. */
static int engine_fail(const char *msg, tarn_err_t *err)
{
    if (!msg)
        msg = "unknown engine error";
    size_t n = strcspn(msg, "\n");
    while (n && msg[n - 1] == ' ')
        n--;
    return TARN_ERR(err, TARN_EINVAL, "%.*s", (int)n, msg);
}

int engine_query(engine_conn_t *c, const char *sql, size_t max_rows, engine_rows_t *out,
                 arena_t *a, tarn_err_t *err)
{
    duckdb_result r;
    memset(out, 0, sizeof *out);
    if (duckdb_query(c->c, sql, &r) == DuckDBError) {
        int rc = engine_fail(duckdb_result_error(&r), err);
        duckdb_destroy_result(&r);
        return rc;
    }
    size_t nc = (size_t)duckdb_column_count(&r), nr = (size_t)duckdb_row_count(&r);
    if (nr > max_rows)
        nr = max_rows;
    out->ncols = nc;
    out->nrows = nr;
    out->names = arena_alloc(a, (nc ? nc : 1) * sizeof *out->names);
    out->cells = arena_alloc(a, (nc * nr > 0 ? nc * nr : 1) * sizeof *out->cells);
    int rc = (!out->names || !out->cells) ? TARN_ERR(err, TARN_ENOMEM, "out of memory") : 0;
    for (size_t j = 0; !rc && j < nc; j++)
        out->names[j] = arena_strdup(a, duckdb_column_name(&r, (idx_t)j));
    for (size_t i = 0; !rc && i < nr; i++)
        for (size_t j = 0; !rc && j < nc; j++) {
            if (duckdb_value_is_null(&r, (idx_t)j, (idx_t)i))
                continue;
            char *v = duckdb_value_varchar(&r, (idx_t)j, (idx_t)i);
            if (!v || !(out->cells[i * nc + j] = arena_strdup(a, v)))
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            duckdb_free(v);
        }
    duckdb_destroy_result(&r);
    return rc;
}

char *engine_quote(arena_t *a, const char *s)
{
    size_t n = 2, i = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 2 : 1;
    char *q = arena_alloc(a, n + 1);
    if (!q)
        return NULL;
    q[i++] = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            q[i++] = '\'';
        q[i++] = *p;
    }
    q[i++] = '\'';
    q[i] = '\0';
    return q;
}

struct engine_stream {
    duckdb_prepared_statement ps;
    duckdb_pending_result pending;
    duckdb_result result;
    bool have_result;
    duckdb_data_chunk chunk;
    const char **rows;
    char *text; /* the chunk's texts, NUL-separated */
    size_t cap_rows, cap_text;
};

int engine_stream_open(engine_conn_t *c, const char *sql, engine_stream_t **out,
                       tarn_err_t *err)
{
    engine_stream_t *s = calloc(1, sizeof *s);
    int rc = 0;
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (duckdb_prepare(c->c, sql, &s->ps) == DuckDBError) {
        rc = engine_fail(duckdb_prepare_error(s->ps), err);
    } else if (duckdb_pending_prepared_streaming(s->ps, &s->pending) == DuckDBError) {
        rc = engine_fail(duckdb_pending_error(s->pending), err);
    } else if (duckdb_execute_pending(s->pending, &s->result) == DuckDBError) {
        s->have_result = true;
        rc = engine_fail(duckdb_result_error(&s->result), err);
    } else {
        s->have_result = true;
        if (duckdb_column_count(&s->result) < 1 ||
            duckdb_column_type(&s->result, 0) != DUCKDB_TYPE_VARCHAR)
            rc = TARN_ERR(err, TARN_EINVAL, "a streamed query must start with a text column");
    }
    if (rc) {
        engine_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int engine_stream_next(engine_stream_t *s, const char ***rows, size_t *n, tarn_err_t *err)
{
    *n = 0;
    if (s->chunk)
        duckdb_destroy_data_chunk(&s->chunk);
    s->chunk = duckdb_fetch_chunk(s->result);
    if (!s->chunk) {
        const char *e = duckdb_result_error(&s->result);
        return e && *e ? engine_fail(e, err) : 0;
    }
    size_t cnt = (size_t)duckdb_data_chunk_get_size(s->chunk);
    duckdb_vector v = duckdb_data_chunk_get_vector(s->chunk, 0);
    duckdb_string_t *data = duckdb_vector_get_data(v);
    uint64_t *valid = duckdb_vector_get_validity(v);
    size_t need = 0;
    for (size_t i = 0; i < cnt; i++)
        need += duckdb_string_t_length(data[i]) + 1;
    if (cnt > s->cap_rows) {
        const char **r = realloc(s->rows, cnt * sizeof *r);
        if (!r)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        s->rows = r;
        s->cap_rows = cnt;
    }
    if (need > s->cap_text) {
        char *t = realloc(s->text, need);
        if (!t)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        s->text = t;
        s->cap_text = need;
    }
    char *p = s->text;
    for (size_t i = 0; i < cnt; i++) {
        if (valid && !duckdb_validity_row_is_valid(valid, (idx_t)i)) {
            s->rows[i] = NULL;
            continue;
        }
        uint32_t len = duckdb_string_t_length(data[i]);
        memcpy(p, duckdb_string_t_data(&data[i]), len);
        p[len] = '\0';
        s->rows[i] = p;
        p += len + 1;
    }
    *rows = s->rows;
    *n = cnt;
    return 0;
}

void engine_stream_close(engine_stream_t *s)
{
    if (!s)
        return;
    if (s->chunk)
        duckdb_destroy_data_chunk(&s->chunk);
    if (s->have_result)
        duckdb_destroy_result(&s->result);
    if (s->pending)
        duckdb_destroy_pending(&s->pending);
    if (s->ps)
        duckdb_destroy_prepare(&s->ps);
    free(s->rows);
    free(s->text);
    free(s);
}

void engine_interrupt(engine_conn_t *c)
{
    duckdb_interrupt(c->c);
}
