/* POST /v1/sql: a query over the lake's tables, answered as JSON (or CSV) streamed while
 * the engine produces rows, so a large result is never held whole:
 *   {"columns": [{"name", "type"}...], "rows": [[...]...], "stats": {"rows", "elapsed_ms"}}
 * A failure after the first bytes ends the document with "error" in place of "stats".
 * A Parquet answer is written whole by the engine to a file first (DuckDB writes Parquet
 * only to files) and sent from there. Also the query history and cancellation:
 * /v1/queries. */
#include "consume/pgwire/pgsql.h"
#include "consume/query.h"
#include "govern/grants_sql.h"
#include "server/rest/rest.h"
#include "server/server_state.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FORMAT_JSON, FORMAT_CSV, FORMAT_PARQUET };

typedef struct {
    query_t *query;
    buf_t out;     /* produced, not yet sent */
    size_t sent;   /* of out */
    int phase;     /* 0 head, 1 rows, 2 tail written, 3 failed (CSV: cut the stream) */
    int format;    /* FORMAT_* */
    int fd;        /* Parquet: the answer's file (its name already removed), or -1 */
    uint64_t size; /* of that file */
    uint64_t rows, bytes;
    int64_t start_ns;
    char error[480]; /* why sending the answer failed, once it did */
} sql_reply_t;

static void reply_free(void *cls)
{
    sql_reply_t *q = cls;
    query_close(q->query, q->bytes, q->error[0] ? q->error : NULL);
    if (q->fd >= 0)
        close(q->fd);
    buf_free(&q->out);
    free(q);
}

/* Appends a row as the engine encoded it (len bytes), except that the bare Infinity,
 * -Infinity and NaN it writes for such doubles (not JSON) become the strings "Infinity",
 * ... Runs between those are copied whole: outside strings, JSON has no other capital I
 * or N. */
static void put_row(buf_t *b, const char *row, size_t len)
{
    const char *p = row, *end = row + len, *run = row;
    bool in_str = false;
    while (p < end) {
        if (in_str) {
            while (p < end && *p != '"' && *p != '\\')
                p++;
            if (p < end && *p == '\\')
                p += 2;
            else if (p < end)
                in_str = false, p++;
            continue;
        }
        while (p < end && *p != '"' && *p != 'I' && *p != 'N')
            p++;
        if (p >= end)
            break;
        if (*p == '"') {
            in_str = true;
            p++;
            continue;
        }
        const char *word = *p == 'I' ? "Infinity" : "NaN";
        size_t n = strlen(word);
        if ((size_t)(end - p) < n || memcmp(p, word, n)) {
            p++;
            continue;
        }
        const char *start = p > row && p[-1] == '-' ? p - 1 : p;
        buf_append(b, run, (size_t)(start - run));
        buf_putc(b, '"');
        buf_append(b, start, (size_t)(p + n - start));
        buf_putc(b, '"');
        run = p = p + n;
    }
    buf_append(b, run, (size_t)(end - run));
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
static void put_csv_field(buf_t *b, const char *s, size_t n)
{
    if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
        buf_append(b, s, n);
        return;
    }
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            buf_putc(b, '"');
        buf_putc(b, s[i]);
    }
    buf_putc(b, '"');
}

/* A row of text cells as a CSV line: NULL is an empty field. */
static void put_csv_row(buf_t *b, const engine_cell_t *row, size_t ncols)
{
    for (size_t j = 0; j < ncols; j++) {
        if (j)
            buf_putc(b, ',');
        if (row[j].data)
            put_csv_field(b, row[j].data, row[j].len);
    }
    buf_puts(b, "\r\n");
}

/* Appends the next piece of the document to q->out. */
static void produce(sql_reply_t *q)
{
    if (q->phase == 0 && q->format == FORMAT_CSV) {
        size_t i;
        json_t *c;
        json_array_foreach(query_columns(q->query), i, c)
        {
            const char *name = json_string_value(json_object_get(c, "name"));
            if (i)
                buf_putc(&q->out, ',');
            put_csv_field(&q->out, name, strlen(name));
        }
        buf_puts(&q->out, "\r\n");
        q->phase = 1;
        return;
    }
    if (q->phase == 0) {
        char *cols = json_dumps(query_columns(q->query), JSON_COMPACT | JSON_PRESERVE_ORDER);
        buf_printf(&q->out, "{\"columns\":%s,\"rows\":[", cols ? cols : "[]");
        free(cols);
        q->phase = 1;
        return;
    }
    const engine_cell_t *cells;
    size_t n;
    tarn_err_t err = {0};
    int rc = query_next(q->query, &cells, &n, &err);
    bool csv = q->format == FORMAT_CSV;
    size_t nc = query_ncols(q->query);
    for (size_t i = 0; !rc && csv && i < n; i++, q->rows++)
        put_csv_row(&q->out, cells + i * nc, nc);
    for (size_t i = 0; !rc && !csv && i < n; i++) {
        if (q->rows++)
            buf_putc(&q->out, ',');
        if (cells[i].data)
            put_row(&q->out, cells[i].data, cells[i].len);
        else
            buf_puts(&q->out, "null");
    }
    if (!rc && n)
        return;
    if (rc) {
        /* The engine's finer reasons (NumericValueOutOfRange, ...) are for SQLSTATEs. */
        static const tarn_reason_t own[] = {TARN_R_QueryCancelled, TARN_R_QueryTimeout,
                                            TARN_R_QueryOutOfMemory};
        const char *code = "QueryFailed";
        for (size_t i = 0; i < sizeof own / sizeof *own; i++)
            if (err.reason == own[i])
                code = tarn_reason_name(own[i]);
        if (csv) {
            /* CSV has no place for an error: the chunked answer is cut off without its last
             * chunk, which every HTTP client reports as an incomplete transfer; the
             * query history says why. */
            q->phase = 3;
            return;
        }
        json_t *e = json_pack("{s:s, s:s}", "code", code, "message", err.msg);
        char *t = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        buf_printf(&q->out, "],\"error\":%s}\n", t ? t : "{}");
        free(t);
        json_decref(e);
    } else if (!csv) {
        buf_printf(&q->out, "],\"stats\":{\"rows\":%llu,\"elapsed_ms\":%.3f}}\n",
                   (unsigned long long)q->rows, (double)(time_mono_ns() - q->start_ns) / 1e6);
    }
    q->phase = 2;
}

static ssize_t reply_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sql_reply_t *q = cls;
    while (q->sent == q->out.len) {
        if (q->phase == 3)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (q->phase == 2)
            return MHD_CONTENT_READER_END_OF_STREAM;
        buf_reset(&q->out);
        q->sent = 0;
        produce(q);
    }
    size_t n = q->out.len - q->sent;
    if (n > max)
        n = max;
    memcpy(buf, q->out.data + q->sent, n);
    q->sent += n;
    q->bytes += n;
    return (ssize_t)n;
}

/* Sends the Parquet answer from its file, a piece at a time. The query keeps its slot
 * until the last byte, as a streamed one does, so a cancel or the time limit cuts it. */
static ssize_t file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sql_reply_t *q = cls;
    if (pos >= q->size)
        return MHD_CONTENT_READER_END_OF_STREAM;
    const char *why = query_interruption(q->query);
    if (why) {
        snprintf(q->error, sizeof q->error, "query %lld was %s while its answer was sent",
                 (long long)query_id(q->query),
                 !strcmp(why, "cancelled") ? "cancelled" : "stopped at its time limit");
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (max > q->size - pos)
        max = (size_t)(q->size - pos);
    ssize_t n = pread(q->fd, buf, max, (off_t)pos);
    if (n <= 0) {
        /* The Content-Length promised more: the client sees the answer cut short. */
        snprintf(q->error, sizeof q->error, "reading the Parquet answer: %s",
                 n ? strerror(errno) : "the file ended early");
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    q->bytes += (uint64_t)n;
    return n;
}

/* A name for the Parquet answer in <data>/tmp/sql; the query writes it. */
static int parquet_path(char *path, size_t cap, const char *dir, tarn_err_t *err)
{
    uint8_t rnd[8];
    char hex[2 * sizeof rnd + 1];
    if (hash_random(rnd, sizeof rnd))
        return TARN_ERR(err, TARN_EIO, "no randomness for the answer's file name");
    hash_hex(hex, rnd, sizeof rnd);
    snprintf(path, cap, "%s/%s.parquet", dir, hex);
    return 0;
}

/* Opens the Parquet answer the query wrote. The name is removed at once, whatever
 * happened: the open file lives until the response closes it, and nothing is left
 * behind even if the process dies mid-answer. */
static int open_parquet(sql_reply_t *q, const char *path, int rc, tarn_err_t *err)
{
    struct stat st;
    if (!rc && ((q->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(q->fd, &st)))
        rc = TARN_ERR(err, TARN_EIO, "cannot open the Parquet answer: %s", strerror(errno));
    if (!rc)
        q->size = (uint64_t)st.st_size;
    unlink(path); /* a failed COPY may have left part of a file */
    return rc;
}

static int rest_sql(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *sql = json_string_value(json_object_get(in, "sql"));
    const char *format = json_string_value(json_object_get(in, "format"));
    const json_t *params = json_object_get(in, "params");
    sql_reply_t *q = NULL;
    if (!sql) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "the body names the query: {\"sql\": \"SELECT ...\"}");
        goto done;
    }
    static const char *const formats[] = {"json", "csv", "parquet"};
    int fmt = format ? -1 : FORMAT_JSON;
    for (int i = 0; format && i < 3; i++)
        if (!strcmp(format, formats[i]))
            fmt = i;
    if (fmt < 0) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "format is json, csv or parquet (got '%s')", format);
        goto done;
    }
    if (params && !json_is_array(params)) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "params is an array of values for $1, $2, ...");
        goto done;
    }
    /* The engine binds lists too (PostgreSQL arrays); the REST API takes scalars. */
    for (size_t i = 0; i < json_array_size(params); i++) {
        const json_t *v = json_array_get(params, i);
        if (json_is_array(v) || json_is_object(v)) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                            "parameter $%zu must be a string, number, boolean or null", i + 1);
            goto done;
        }
    }
    if (pgsql_classify(sql, strlen(sql)) == PGSQL_GRANT) {
        /* GRANT and REVOKE change the lake's grants; they never reach the engine. */
        const char *tag;
        if (!(rc = grants_statement_run(r->srv->grants, &r->principal, sql, &tag, &r->err)))
            rc = rest_respond_json(r, 200,
                                   json_pack("{s:[], s:[], s:{s:i, s:s}}", "columns", "rows",
                                             "stats", "rows", 0, "command", tag));
        goto done;
    }
    if (!(q = calloc(1, sizeof *q))) {
        rc = TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    q->start_ns = time_mono_ns();
    q->format = fmt;
    q->fd = -1;
    char path[4200];
    query_opts_t qo = {.rows = fmt == FORMAT_CSV ? ROWENC_TEXT : ROWENC_JSON};
    if (fmt == FORMAT_PARQUET) {
        if ((rc = parquet_path(path, sizeof path, r->srv->sql_dir, &r->err)))
            goto done;
        qo.parquet_path = path;
    }
    rc = query_open(&q->query, &r->srv->queries, &r->principal, sql, params, &qo, &r->err);
    if (fmt == FORMAT_PARQUET && q->query && query_id(q->query))
        rc = open_parquet(q, path, rc, &r->err);
    if (q->query)
        r->audit_detail = arena_strdup(r->arena, query_decisions(q->query));
    if (rc)
        goto done;
    int64_t id = query_id(q->query);
    /* Parquet's length is known, so a cut answer is one shorter than its Content-Length. */
    struct MHD_Response *resp =
        fmt == FORMAT_PARQUET
            ? MHD_create_response_from_callback(q->size, 64 * 1024, file_read, q, reply_free)
            : MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reply_read, q,
                                                reply_free);
    if (!resp) {
        rc = TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    q = NULL; /* the response owns it now */
    static const char *const types[] = {"application/json", "text/csv; charset=utf-8",
                                        "application/vnd.apache.parquet"};
    req_respond(r, 200, resp);
    req_add_header(r, "Content-Type", types[fmt]);
    char text[64];
    snprintf(text, sizeof text, "%lld", (long long)id);
    req_add_header(r, "x-tarn-query-id", text);
    if (fmt == FORMAT_PARQUET) {
        snprintf(text, sizeof text, "attachment; filename=\"query-%lld.parquet\"", (long long)id);
        req_add_header(r, "Content-Disposition", text);
    }
done:
    if (q)
        reply_free(q);
    json_decref(in);
    return rc;
}

static int path_query_id(req_t *r, int64_t *id)
{
    char *end;
    long long v = strtoll(r->params[0], &end, 10);
    if (*end || v < 1)
        return TARN_ERR_R(&r->err, TARN_ENOTFOUND, NoSuchQuery, "no query '%s'", r->params[0]);
    *id = v;
    return 0;
}

static int rest_list_queries(req_t *r)
{
    return rest_respond_json(r, 200, workload_list(r->srv->workload, r->principal.name,
                                                   r->principal.admin));
}

static int rest_get_query(req_t *r)
{
    int64_t id;
    json_t *out = NULL;
    int rc = path_query_id(r, &id);
    if (!rc)
        rc = workload_get(r->srv->workload, id, r->principal.name, r->principal.admin, &out,
                          &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int rest_cancel_query(req_t *r)
{
    int64_t id;
    int rc = path_query_id(r, &id);
    if (!rc)
        rc = workload_cancel(r->srv->workload, id, r->principal.name, r->principal.admin,
                             &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

const op_t rest_sql_ops[] = {
    /* Each table a query names is checked again (sql:Select) as its view is made. */
    REST_OP("RunQuery", "sql:Select", "POST", "/v1/sql", "table/*", BODY_BUFFER, rest_sql),
    /* Everyone sees and cancels their own queries; the admin everyone's. */
    REST_OP("ListQueries", "sql:Select", "GET", "/v1/queries", "query/*", BODY_NONE,
            rest_list_queries),
    REST_OP("GetQuery", "sql:Select", "GET", "/v1/queries/{}", "query/{0}", BODY_NONE,
            rest_get_query),
    REST_OP("CancelQuery", "sql:Select", "DELETE", "/v1/queries/{}", "query/{0}", BODY_NONE,
            rest_cancel_query),
};
const size_t rest_sql_nops = sizeof rest_sql_ops / sizeof *rest_sql_ops;
