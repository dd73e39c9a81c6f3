/* A query's rows chunk by chunk, each column as DuckDB's own vector (no text conversion
 * in the engine: the interfaces encode the values they need in one pass); see engine.h.
 * The columns are read from the prepared statement when they can be, so describing a
 * result costs no run. A stream still being read when its connection is wanted for
 * another statement keeps its remaining chunks in memory (engine_conn_claim). */
#include "engine/engine_internal.h"

#include <stdlib.h>
#include <string.h>

/* The most a detached stream keeps in memory (an estimate: rows times columns times 16
 * bytes, plus nothing for long strings); past it the stream fails instead. */
#define DETACH_MAX_BYTES ((size_t)256 << 20)

struct engine_stream {
    engine_conn_t *conn; /* NULL once detached: the rows left are in queue */
    duckdb_prepared_statement ps;
    duckdb_pending_result pending;
    duckdb_result result;
    bool started, have_result;
    duckdb_data_chunk chunk;
    size_t ncols;
    json_t *columns;
    engine_kind_t *kinds;
    uint8_t *scales;
    engine_vec_t *vecs;
    bool detached;
    duckdb_data_chunk *queue; /* chunks read when detached, served in order */
    size_t qhead, qlen;
    char *fail; /* what ends a detached stream instead of its remaining rows */
};

static engine_kind_t kind_of(duckdb_logical_type t, uint8_t *scale)
{
    /* A type with an alias (JSON) is more than its storage: encoders treat it apart. */
    char *alias = duckdb_logical_type_get_alias(t);
    if (alias) {
        duckdb_free(alias);
        return ENGINE_KIND_OTHER;
    }
    switch (duckdb_get_type_id(t)) {
    case DUCKDB_TYPE_VARCHAR:
        return ENGINE_KIND_TEXT;
    case DUCKDB_TYPE_BLOB:
        return ENGINE_KIND_BLOB;
    case DUCKDB_TYPE_BOOLEAN:
        return ENGINE_KIND_BOOL;
    case DUCKDB_TYPE_TINYINT:
        return ENGINE_KIND_I8;
    case DUCKDB_TYPE_SMALLINT:
        return ENGINE_KIND_I16;
    case DUCKDB_TYPE_INTEGER:
        return ENGINE_KIND_I32;
    case DUCKDB_TYPE_BIGINT:
        return ENGINE_KIND_I64;
    case DUCKDB_TYPE_UTINYINT:
        return ENGINE_KIND_U8;
    case DUCKDB_TYPE_USMALLINT:
        return ENGINE_KIND_U16;
    case DUCKDB_TYPE_UINTEGER:
        return ENGINE_KIND_U32;
    case DUCKDB_TYPE_UBIGINT:
        return ENGINE_KIND_U64;
    case DUCKDB_TYPE_HUGEINT:
        return ENGINE_KIND_I128;
    case DUCKDB_TYPE_UHUGEINT:
        return ENGINE_KIND_U128;
    case DUCKDB_TYPE_FLOAT:
        return ENGINE_KIND_F32;
    case DUCKDB_TYPE_DOUBLE:
        return ENGINE_KIND_F64;
    case DUCKDB_TYPE_DATE:
        return ENGINE_KIND_DATE;
    case DUCKDB_TYPE_TIME:
        return ENGINE_KIND_TIME;
    case DUCKDB_TYPE_TIMESTAMP:
        return ENGINE_KIND_TIMESTAMP;
    case DUCKDB_TYPE_UUID:
        return ENGINE_KIND_UUID;
    case DUCKDB_TYPE_DECIMAL:
        *scale = duckdb_decimal_scale(t);
        switch (duckdb_decimal_internal_type(t)) {
        case DUCKDB_TYPE_SMALLINT:
            return ENGINE_KIND_DEC16;
        case DUCKDB_TYPE_INTEGER:
            return ENGINE_KIND_DEC32;
        case DUCKDB_TYPE_BIGINT:
            return ENGINE_KIND_DEC64;
        case DUCKDB_TYPE_HUGEINT:
            return ENGINE_KIND_DEC128;
        default:
            return ENGINE_KIND_OTHER;
        }
    default:
        return ENGINE_KIND_OTHER;
    }
}

/* Fills the columns from src's n columns, a prepared statement's or a result's:
 * type_at(src, i) and name_at(src, i) read them (free_names: the names are copies to
 * free). false when a type is still open (it depends on a parameter's value). */
static bool set_columns(engine_stream_t *s, size_t n, duckdb_logical_type (*type_at)(void *, idx_t),
                        char *(*name_at)(void *, idx_t), bool free_names, void *src)
{
    json_t *cols = json_array();
    engine_kind_t *kinds = calloc(n ? n : 1, sizeof *kinds);
    uint8_t *scales = calloc(n ? n : 1, sizeof *scales);
    bool ok = cols && kinds && scales;
    for (size_t i = 0; ok && i < n; i++) {
        duckdb_logical_type t = type_at(src, (idx_t)i);
        duckdb_type id = duckdb_get_type_id(t);
        buf_t b = BUF_INIT;
        engine_type_name(&b, t);
        kinds[i] = kind_of(t, &scales[i]);
        duckdb_destroy_logical_type(&t);
        char *name = name_at(src, (idx_t)i);
        ok = id != DUCKDB_TYPE_INVALID && id != DUCKDB_TYPE_ANY && b.data &&
             !json_array_append_new(
                 cols, json_pack("{s:s, s:s}", "name", name ? name : "", "type", b.data));
        if (free_names && name)
            duckdb_free(name);
        buf_free(&b);
    }
    if (!ok) {
        json_decref(cols);
        free(kinds);
        free(scales);
        return false;
    }
    json_decref(s->columns);
    free(s->kinds);
    free(s->scales);
    s->columns = cols;
    s->kinds = kinds;
    s->scales = scales;
    s->ncols = n;
    return true;
}

static duckdb_logical_type prepared_type(void *ps, idx_t i)
{
    return duckdb_prepared_statement_column_logical_type(ps, i);
}

static char *prepared_name(void *ps, idx_t i)
{
    /* A copy that the caller frees, unlike a result's column names. */
    return (char *)duckdb_prepared_statement_column_name(ps, i);
}

static duckdb_logical_type result_type(void *r, idx_t i)
{
    return duckdb_column_logical_type(r, i);
}

static char *result_name(void *r, idx_t i)
{
    return (char *)duckdb_column_name(r, i);
}

int engine_stream_open(engine_conn_t *c, const char *sql, const json_t *params,
                       engine_stream_t **out, tarn_err_t *err)
{
    engine_stream_t *s = calloc(1, sizeof *s);
    int rc = 0;
    *out = NULL;
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->conn = c;
    engine_conn_claim(c);
    if (duckdb_prepare(c->c, sql, &s->ps) == DuckDBError)
        rc = engine_fail(duckdb_prepare_error(s->ps), err);
    else
        rc = engine_bind(s->ps, params, err);
    /* A statement's column types can depend on its parameters' values (SELECT $1): with
     * parameters they are read from the run. */
    if (!rc && !duckdb_nparams(s->ps))
        set_columns(s, (size_t)duckdb_prepared_statement_column_count(s->ps), prepared_type,
                    prepared_name, true, s->ps);
    if (rc) {
        engine_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int engine_stream_start(engine_stream_t *s, tarn_err_t *err)
{
    if (s->started)
        return 0;
    s->started = true;
    engine_conn_claim(s->conn);
    if (duckdb_pending_prepared_streaming(s->ps, &s->pending) == DuckDBError)
        return engine_fail(duckdb_pending_error(s->pending), err);
    s->have_result = true;
    if (duckdb_execute_pending(s->pending, &s->result) == DuckDBError)
        return engine_fail(duckdb_result_error(&s->result), err);
    size_t n = (size_t)duckdb_column_count(&s->result);
    if (!s->columns) {
        if (!set_columns(s, n, result_type, result_name, false, &s->result))
            return TARN_ERR(err, TARN_EINVAL, "the query's column types could not be determined");
    } else {
        /* What preparing said is what the run gives; encoders were chosen by it. */
        for (size_t i = 0; i < n && n == s->ncols; i++) {
            uint8_t scale = 0;
            duckdb_logical_type t = duckdb_column_logical_type(&s->result, (idx_t)i);
            engine_kind_t k = kind_of(t, &scale);
            duckdb_destroy_logical_type(&t);
            if (k != s->kinds[i] || scale != s->scales[i])
                n = 0;
        }
        if (n != s->ncols)
            return TARN_ERR(err, TARN_EIO,
                            "the query's columns changed between preparing and "
                            "running it");
    }
    if (!s->ncols)
        return TARN_ERR(err, TARN_EINVAL, "a streamed query needs a column");
    if (!(s->vecs = calloc(s->ncols, sizeof *s->vecs)))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->conn->active = s;
    return 0;
}

static void queue_free(engine_stream_t *s)
{
    for (size_t i = s->qhead; i < s->qlen; i++)
        duckdb_destroy_data_chunk(&s->queue[i]);
    free(s->queue);
    s->queue = NULL;
    s->qhead = s->qlen = 0;
}

/* Detaches c's active stream: its remaining rows read into its queue (keep), or (not keep:
 * the connection is closing) none, the stream then failing with that. */
static void detach(engine_conn_t *c, bool keep)
{
    engine_stream_t *s = c->active;
    if (!s)
        return;
    c->active = NULL;
    s->conn = NULL;
    s->detached = true;
    size_t cap = 0, bytes = 0;
    if (!keep)
        s->fail = strdup("the session this result belonged to has ended");
    while (keep) {
        duckdb_data_chunk ch = duckdb_fetch_chunk(s->result);
        if (!ch) {
            const char *e = duckdb_result_error(&s->result);
            if (e && *e)
                s->fail = strdup(e);
            break;
        }
        bytes += (size_t)duckdb_data_chunk_get_size(ch) * s->ncols * 16;
        if (s->qlen == cap) {
            size_t nc = cap ? cap * 2 : 16;
            duckdb_data_chunk *nq = realloc(s->queue, nc * sizeof *nq);
            if (!nq) {
                duckdb_destroy_data_chunk(&ch);
                bytes = SIZE_MAX;
            } else {
                s->queue = nq;
                cap = nc;
            }
        }
        if (bytes > DETACH_MAX_BYTES) {
            if (ch)
                duckdb_destroy_data_chunk(&ch);
            queue_free(s);
            s->fail = strdup("this result was still being read when its session ran another "
                             "statement, and the rows left (over 256 MB) are too many to keep "
                             "meanwhile: read a result to its end before the next statement, "
                             "or use a second connection");
            break;
        }
        s->queue[s->qlen++] = ch;
    }
    if (s->have_result) {
        duckdb_destroy_result(&s->result);
        s->have_result = false;
    }
}

void engine_conn_claim(engine_conn_t *c)
{
    detach(c, true);
}

void engine_conn_release(engine_conn_t *c)
{
    detach(c, false);
}

int engine_stream_columns(engine_stream_t *s, const json_t **columns, const engine_kind_t **kinds,
                          tarn_err_t *err)
{
    int rc = s->columns ? 0 : engine_stream_start(s, err);
    if (rc)
        return rc;
    *columns = s->columns;
    *kinds = s->kinds;
    return 0;
}

size_t engine_stream_ncols(const engine_stream_t *s)
{
    return s->ncols;
}

const char *engine_vec_text(const engine_vec_t *v, size_t i, size_t *len)
{
    duckdb_string_t *d = (duckdb_string_t *)v->values + i;
    *len = duckdb_string_t_length(*d);
    return duckdb_string_t_data(d);
}

int engine_stream_next(engine_stream_t *s, const engine_vec_t **vecs, size_t *n, tarn_err_t *err)
{
    *n = 0;
    int rc = engine_stream_start(s, err);
    if (rc)
        return rc;
    if (s->chunk)
        duckdb_destroy_data_chunk(&s->chunk);
    if (s->detached) {
        if (s->qhead < s->qlen)
            s->chunk = s->queue[s->qhead++];
        else if (s->fail)
            return engine_fail(s->fail, err);
        else
            return 0;
    } else if (!(s->chunk = duckdb_fetch_chunk(s->result))) {
        if (s->conn && s->conn->active == s)
            s->conn->active = NULL; /* read to its end: nothing left to keep */
        const char *e = duckdb_result_error(&s->result);
        return e && *e ? engine_fail(e, err) : 0;
    }
    /* The vectors are the chunk's own: nothing is copied. */
    for (size_t j = 0; j < s->ncols; j++) {
        if (s->kinds[j] == ENGINE_KIND_OTHER)
            return TARN_ERR(err, TARN_EINVAL,
                            "column %zu has a type that cannot be streamed "
                            "as it is; convert it to text in the query",
                            j + 1);
        duckdb_vector v = duckdb_data_chunk_get_vector(s->chunk, (idx_t)j);
        s->vecs[j] = (engine_vec_t){.kind = s->kinds[j],
                                    .scale = s->scales[j],
                                    .values = duckdb_vector_get_data(v),
                                    .valid = duckdb_vector_get_validity(v)};
    }
    *vecs = s->vecs;
    *n = (size_t)duckdb_data_chunk_get_size(s->chunk);
    return 0;
}

void engine_stream_close(engine_stream_t *s)
{
    if (!s)
        return;
    if (s->conn && s->conn->active == s)
        s->conn->active = NULL;
    queue_free(s);
    free(s->fail);
    if (s->chunk)
        duckdb_destroy_data_chunk(&s->chunk);
    if (s->have_result)
        duckdb_destroy_result(&s->result);
    if (s->pending)
        duckdb_destroy_pending(&s->pending);
    if (s->ps)
        duckdb_destroy_prepare(&s->ps);
    json_decref(s->columns);
    free(s->kinds);
    free(s->scales);
    free(s->vecs);
    free(s);
}
