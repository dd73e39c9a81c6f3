/* Change-file batches; see change_batch.h. Rows go to a staging file per group through a
 * small buffer; at commit, Parquet groups are converted by the engine (read_json with the
 * columns' types, then each column's conversion) into a file beside the staging one, and
 * every file is adopted by the store, which renames it into place. */
#include "ingest/change_batch.h"

#include "catalog/events.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { STAGE_BUF = 256u << 10 };

typedef struct {
    char *table;
    change_col_t *cols;
    size_t ncols;
    char path[4200];
    int fd;
    buf_t buf;
    uint64_t rows;
    bool sealed; /* another group of the table has taken its place */
} group_t;

struct change_batch {
    const ingest_env_t *env;
    char zone[16];
    char *database;
    bool parquet;
    engine_conn_t *conn;
    group_t *groups;
    size_t ngroups, cap;
    uint64_t rows, bytes, seq;
};

static void cols_free(change_col_t *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free((char *)c[i].name);
        free((char *)c[i].type);
        free((char *)c[i].read_as);
        free((char *)c[i].convert);
    }
    free(c);
}

static void group_free(group_t *g)
{
    if (g->fd >= 0)
        close(g->fd);
    if (g->path[0])
        unlink(g->path);
    buf_free(&g->buf);
    free(g->table);
    cols_free(g->cols, g->ncols);
}

void change_batch_reset(change_batch_t *b)
{
    for (size_t i = 0; i < b->ngroups; i++)
        group_free(&b->groups[i]);
    b->ngroups = 0;
    b->rows = b->bytes = 0;
}

int change_batch_create(change_batch_t **out, const ingest_env_t *env,
                        const change_batch_opts_t *o, tarn_err_t *err)
{
    change_batch_t *b = calloc(1, sizeof *b);
    if (!b || !(b->database = strdup(o->database))) {
        free(b);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    b->env = env;
    snprintf(b->zone, sizeof b->zone, "%s", o->zone);
    b->parquet = o->parquet;
    int rc = b->parquet ? engine_connect(env->engine, &b->conn, err) : 0;
    if (rc) {
        change_batch_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void change_batch_free(change_batch_t *b)
{
    if (!b)
        return;
    change_batch_reset(b);
    free(b->groups);
    free(b->database);
    if (b->conn)
        engine_disconnect(b->conn);
    free(b);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool same_cols(const group_t *g, const change_col_t *cols, size_t n)
{
    if (g->ncols != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(g->cols[i].name, cols[i].name) || strcmp(g->cols[i].type, cols[i].type) ||
            !same_str(g->cols[i].read_as, cols[i].read_as) ||
            !same_str(g->cols[i].convert, cols[i].convert))
            return false;
    return true;
}

static char *dup_opt(const char *s, bool *oom)
{
    char *d = s ? strdup(s) : NULL;
    *oom = *oom || (s && !d);
    return d;
}

int change_batch_group(change_batch_t *b, const char *table, const change_col_t *cols,
                       size_t ncols, size_t *group, tarn_err_t *err)
{
    for (size_t i = b->ngroups; i-- > 0;) {
        group_t *g = &b->groups[i];
        if (g->sealed || strcmp(g->table, table))
            continue;
        if (same_cols(g, cols, ncols)) {
            *group = i;
            return 0;
        }
        g->sealed = true;
    }
    if (b->ngroups == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8;
        group_t *ng = realloc(b->groups, nc * sizeof *ng);
        if (!ng)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        b->groups = ng;
        b->cap = nc;
    }
    group_t *g = &b->groups[b->ngroups];
    memset(g, 0, sizeof *g);
    g->fd = -1;
    bool oom = !(g->table = strdup(table)) || !(g->cols = calloc(ncols + 1, sizeof *g->cols));
    for (size_t i = 0; !oom && i < ncols; i++) {
        g->cols[i].name = dup_opt(cols[i].name, &oom);
        g->cols[i].type = dup_opt(cols[i].type, &oom);
        g->cols[i].read_as = dup_opt(cols[i].read_as, &oom);
        g->cols[i].convert = dup_opt(cols[i].convert, &oom);
        g->ncols = i + 1;
    }
    if (oom) {
        group_free(g);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    snprintf(g->path, sizeof g->path, "%s/stage-%llu.json", b->env->tmp_dir,
             (unsigned long long)b->seq++);
    g->fd = open(g->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (g->fd < 0) {
        int rc = TARN_ERR(err, TARN_EIO, "create %s: %s", g->path, strerror(errno));
        g->path[0] = '\0';
        group_free(g);
        return rc;
    }
    *group = b->ngroups++;
    return 0;
}

static int group_flush(group_t *g, tarn_err_t *err)
{
    if (g->buf.len && fs_write_full(g->fd, g->buf.data, g->buf.len))
        return TARN_ERR(err, TARN_EIO, "write %s: %s", g->path, strerror(errno));
    buf_reset(&g->buf);
    return 0;
}

int change_batch_add(change_batch_t *b, size_t group, const char *json, size_t len,
                     tarn_err_t *err)
{
    group_t *g = &b->groups[group];
    if (buf_append(&g->buf, json, len) || buf_putc(&g->buf, '\n'))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    g->rows++;
    b->rows++;
    b->bytes += len + 1;
    return g->buf.len >= STAGE_BUF ? group_flush(g, err) : 0;
}

uint64_t change_batch_rows(const change_batch_t *b)
{
    return b->rows;
}

uint64_t change_batch_bytes(const change_batch_t *b)
{
    return b->bytes;
}

static void sql_quote(buf_t *q, const char *s)
{
    buf_putc(q, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_putc(q, '\'');
        buf_putc(q, *s);
    }
    buf_putc(q, '\'');
}

static void ident_quote(buf_t *q, const char *s)
{
    buf_putc(q, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_putc(q, '"');
        buf_putc(q, *s);
    }
    buf_putc(q, '"');
}

/* Converts a group's staged lines to Parquet at out. */
static int to_parquet(change_batch_t *b, group_t *g, const char *out, tarn_err_t *err)
{
    buf_t q = BUF_INIT;
    buf_puts(&q, "COPY (SELECT ");
    for (size_t i = 0; i < g->ncols; i++) {
        const change_col_t *c = &g->cols[i];
        if (i)
            buf_puts(&q, ", ");
        buf_t id = BUF_INIT;
        ident_quote(&id, c->name);
        if (c->convert) {
            /* The conversion names the column once, as %s. */
            const char *at = strstr(c->convert, "%s");
            buf_printf(&q, "%.*s%s%s", at ? (int)(at - c->convert) : (int)strlen(c->convert),
                       c->convert, at ? id.data : "", at ? at + 2 : "");
        } else {
            buf_puts(&q, id.data);
        }
        buf_puts(&q, "::");
        buf_puts(&q, c->type);
        buf_puts(&q, " AS ");
        buf_puts(&q, id.data);
        buf_free(&id);
    }
    buf_puts(&q, " FROM read_json(");
    sql_quote(&q, g->path);
    buf_puts(&q, ", format = 'newline_delimited', maximum_object_size = 134217728, columns = {");
    for (size_t i = 0; i < g->ncols; i++) {
        if (i)
            buf_puts(&q, ", ");
        sql_quote(&q, g->cols[i].name);
        buf_puts(&q, ": ");
        sql_quote(&q, g->cols[i].read_as ? g->cols[i].read_as : g->cols[i].type);
    }
    buf_puts(&q, "})) TO ");
    sql_quote(&q, out);
    buf_puts(&q, " (FORMAT parquet, COMPRESSION zstd)");
    int64_t n = 0;
    int rc = q.data ? engine_exec(b->conn, q.data, NULL, &n, err)
                    : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&q);
    if (rc)
        unlink(out);
    return rc;
}

typedef struct {
    change_batch_t *b;
    int (*cursor)(void *ctx, tarn_err_t *err);
    void *ctx;
    char principal[96];
} commit_ctx_t;

static int on_object(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    commit_ctx_t *c = ctx;
    return catalog_event_object_landed(c->b->env->db, o, c->principal, err);
}

static int on_last(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    (void)o;
    commit_ctx_t *c = ctx;
    return c->cursor ? c->cursor(c->ctx, err) : 0;
}

int change_batch_commit(change_batch_t *b, const char *tag,
                        int (*cursor)(void *ctx, tarn_err_t *err), void *ctx, uint64_t *rows,
                        uint64_t *files, tarn_err_t *err)
{
    size_t n = 0;
    int rc = 0;
    store_writer_t **ws = calloc(b->ngroups + 1, sizeof *ws);
    char **keys = calloc(b->ngroups + 1, sizeof *keys);
    const char **buckets = calloc(b->ngroups + 1, sizeof *buckets);
    uint64_t landed = 0;
    if (!ws || !keys || !buckets) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->ngroups && !rc; i++) {
        group_t *g = &b->groups[i];
        if (!g->rows)
            continue;
        if ((rc = group_flush(g, err)))
            break;
        close(g->fd);
        g->fd = -1;
        char file[4300];
        snprintf(file, sizeof file, "%s.%s", g->path, b->parquet ? "parquet" : "jsonl");
        if (b->parquet)
            rc = to_parquet(b, g, file, err);
        else if (rename(g->path, file))
            rc = TARN_ERR(err, TARN_EIO, "rename %s: %s", g->path, strerror(errno));
        if (rc || (rc = store_writer_adopt(&ws[n], b->env->store, file, err))) {
            unlink(file);
            break;
        }
        if (asprintf(&keys[n], "%s/%s/%s-%s-%zu.%s", b->database, g->table, b->env->source, tag,
                     n, b->parquet ? "parquet" : "jsonl") < 0) {
            keys[n] = NULL;
            store_writer_abort(ws[n]);
            ws[n] = NULL;
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        buckets[n] = b->zone;
        landed += g->rows;
        n++;
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            store_writer_abort(ws[i]);
        goto done;
    }
    commit_ctx_t c = {.b = b, .cursor = cursor, .ctx = ctx};
    snprintf(c.principal, sizeof c.principal, "source:%s", b->env->source);
    store_hook_t each = {on_object, &c}, last = {on_last, &c};
    rc = store_writers_commit(b->env->store, ws, buckets, (const char *const *)keys, n, &each,
                              &last, err);
    /* Confirmed to the source only once on disk: a power failure must not lose a batch
     * the source has been told it may forget. */
    if (!rc)
        rc = db_sync(b->env->db, err);
    if (!rc) {
        if (rows)
            *rows = landed;
        if (files)
            *files = n;
    }
done:
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(ws);
    free(keys);
    free(buckets);
    change_batch_reset(b);
    return rc;
}
