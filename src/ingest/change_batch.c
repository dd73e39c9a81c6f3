/* Change-file batches; see change_batch.h. Rows go to a staging file per group through a
 * small buffer; at commit, Parquet groups are converted by the engine (read_json with the
 * columns' types, or read_csv as text, then each column's conversion and cast) into a file
 * beside the staging one, and every file is adopted by the store, which renames it into
 * place. A background commit does the same on its own thread with the groups handed over;
 * the batch keeps the engine connection for it, used by one commit at a time. */
#include "ingest/change_batch.h"

#include "catalog/events.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
    size_t longest; /* the longest staged row, newline included */
    change_stage_t stage;
    bool sealed; /* another group of the table has taken its place */
} group_t;

/* A file made from a held batch, waiting for the commit that lands it. */
typedef struct {
    char *file; /* in the staging folder */
    char *key;
    uint64_t rows;
} held_t;

/* The background converter: one thread per batch, started at its first held batch and
 * kept (the engine's memory stays warm in it: a new thread each time paid for fresh pages),
 * and the groups it was handed, one set at a time. */
typedef struct {
    change_batch_t *b;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, busy, quit;
    bool handed; /* a commit was handed over and not yet waited for */
    group_t *groups;
    size_t ngroups;
    char tag[128];
    int rc;
    tarn_err_t err;
} flight_t;

struct change_batch {
    const ingest_env_t *env;
    char zone[16];
    char *database;
    bool parquet;
    engine_conn_t *conn;
    group_t *groups;
    size_t ngroups, cap;
    uint64_t rows, bytes, seq;
    held_t *held;
    size_t nheld, heldcap;
    flight_t flight;
};

static void flight_stop(change_batch_t *b);

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

static void held_free(held_t *h)
{
    if (h->file)
        unlink(h->file);
    free(h->file);
    free(h->key);
    *h = (held_t){0};
}

/* Forgets the held files, removing them from the staging folder unless a commit has
 * renamed them into the store (landed). */
static void held_reset(change_batch_t *b, bool landed)
{
    for (size_t i = 0; i < b->nheld; i++) {
        if (landed) {
            free(b->held[i].file);
            b->held[i].file = NULL;
        }
        held_free(&b->held[i]);
    }
    b->nheld = 0;
}

static void groups_free(group_t *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        group_free(&g[i]);
}

/* Empties the staged groups; the commit in flight is left alone. */
static void staged_reset(change_batch_t *b)
{
    groups_free(b->groups, b->ngroups);
    b->ngroups = 0;
    b->rows = b->bytes = 0;
}

void change_batch_reset(change_batch_t *b)
{
    tarn_err_t ignored;
    change_batch_wait(b, &ignored);
    held_reset(b, false);
    staged_reset(b);
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
    flight_stop(b);
    free(b->held);
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

static bool same_cols(const group_t *g, const change_col_t *cols, size_t n,
                      change_stage_t stage)
{
    if (g->ncols != n || g->stage != stage)
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

bool change_batch_parquet(const change_batch_t *b)
{
    return b->parquet;
}

int change_batch_group(change_batch_t *b, const char *table, const change_col_t *cols,
                       size_t ncols, size_t *group, tarn_err_t *err)
{
    return change_batch_group_as(b, table, cols, ncols, CHANGE_STAGE_JSON, group, err);
}

int change_batch_group_as(change_batch_t *b, const char *table, const change_col_t *cols,
                          size_t ncols, change_stage_t stage, size_t *group, tarn_err_t *err)
{
    /* JSON Lines files are the staged JSON itself: CSV would need a conversion. */
    if (stage == CHANGE_STAGE_CSV && !b->parquet)
        return TARN_ERR(err, TARN_EINVAL, "CSV staging needs a batch that lands Parquet");
    for (size_t i = b->ngroups; i-- > 0;) {
        group_t *g = &b->groups[i];
        if (g->sealed || strcmp(g->table, table))
            continue;
        if (same_cols(g, cols, ncols, stage)) {
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
    g->stage = stage;
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
    snprintf(g->path, sizeof g->path, "%s/stage-%llu.%s", b->env->tmp_dir,
             (unsigned long long)b->seq++, stage == CHANGE_STAGE_CSV ? "csv" : "json");
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
    if (len + 1 > g->longest)
        g->longest = len + 1;
    b->rows++;
    b->bytes += len + 1;
    return g->buf.len >= STAGE_BUF ? group_flush(g, err) : 0;
}

int change_batch_add_strings(change_batch_t *b, size_t group, const char *const *names,
                             const char *const *values, size_t n, tarn_err_t *err)
{
    const group_t *g = &b->groups[group];
    bool csv = g->stage == CHANGE_STAGE_CSV;
    buf_t line = BUF_INIT;
    if (!csv)
        buf_putc(&line, '{');
    for (size_t i = 0; i < g->ncols; i++) {
        const char *v = NULL;
        for (size_t k = 0; k < n && !v; k++)
            if (!strcmp(names[k], g->cols[i].name))
                v = values[k];
        if (csv) {
            if (i)
                buf_putc(&line, ',');
            if (v)
                buf_put_csv_field(&line, v, strlen(v)); /* else empty: NULL */
            continue;
        }
        if (i)
            buf_putc(&line, ',');
        buf_put_json_string(&line, g->cols[i].name, strlen(g->cols[i].name));
        buf_putc(&line, ':');
        if (v)
            buf_put_json_string(&line, v, strlen(v));
        else
            buf_puts(&line, "null");
    }
    if (!csv)
        buf_putc(&line, '}');
    int rc = line.data ? change_batch_add(b, group, line.data, line.len, err)
                       : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&line);
    return rc;
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

/* Converts a group's staged rows to Parquet at out: read with the columns' types (read_as,
 * else type; DuckDB's CSV reader parses typed fields several times faster than casts of
 * text would), then each column's conversion and its type. */
static int to_parquet(change_batch_t *b, group_t *g, const char *out, tarn_err_t *err)
{
    bool csv = g->stage == CHANGE_STAGE_CSV;
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
        } else if (csv && !strcmp(c->type, "JSON")) {
            /* Minified, as read_json gives JSON values: snapshot rows (staged as CSV) and
             * change rows (as JSON) of one table spell a value the same way. */
            buf_printf(&q, "json(%s)", id.data);
        } else {
            buf_puts(&q, id.data);
        }
        buf_puts(&q, "::");
        buf_puts(&q, c->type);
        buf_puts(&q, " AS ");
        buf_puts(&q, id.data);
        buf_free(&id);
    }
    /* The readers size their buffers by the longest row allowed (the CSV reader's by 16
     * times it): the longest row staged, not a generous constant, keeps them small and
     * reused (fresh pages for every batch cost more than the conversion itself). */
    size_t longest = 2u << 20;
    while (longest < g->longest)
        longest *= 2;
    if (csv) {
        buf_puts(&q, " FROM read_csv(");
        sql_quote(&q, g->path);
        buf_printf(&q, ", header = false, auto_detect = false, delim = ',', quote = '\"', "
                       "escape = '\"', new_line = '\\n', allow_quoted_nulls = false, "
                       "max_line_size = %zu, columns = {", longest);
    } else {
        buf_puts(&q, " FROM read_json(");
        sql_quote(&q, g->path);
        buf_printf(&q, ", format = 'newline_delimited', maximum_object_size = %zu, "
                       "columns = {", longest < (16u << 20) ? (size_t)16u << 20 : longest);
    }
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

/* Turns groups[0..n)'s staged rows into their files (converted to Parquet, or the JSON
 * Lines renamed), appended to b->held with their keys; the groups keep their staging files,
 * which the caller frees. */
static int prepare(change_batch_t *b, group_t *groups, size_t ngroups, const char *tag,
                   tarn_err_t *err)
{
    int rc = 0;
    for (size_t i = 0, n = 0; i < ngroups && !rc; i++) {
        group_t *g = &groups[i];
        if (!g->rows)
            continue;
        if (b->nheld == b->heldcap) {
            size_t nc = b->heldcap ? b->heldcap * 2 : 8;
            held_t *nh = realloc(b->held, nc * sizeof *nh);
            if (!nh)
                return TARN_ERR(err, TARN_ENOMEM, "out of memory");
            b->held = nh;
            b->heldcap = nc;
        }
        if ((rc = group_flush(g, err)))
            break;
        close(g->fd);
        g->fd = -1;
        held_t *h = &b->held[b->nheld];
        *h = (held_t){.rows = g->rows};
        if (asprintf(&h->file, "%s.%s", g->path, b->parquet ? "parquet" : "jsonl") < 0 ||
            asprintf(&h->key, "%s/%s/%s-%s-%zu.%s", b->database, g->table, b->env->source, tag,
                     n, b->parquet ? "parquet" : "jsonl") < 0) {
            /* asprintf leaves its pointer undefined on failure */
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
        if (b->parquet)
            rc = to_parquet(b, g, h->file, err);
        else if (rename(g->path, h->file))
            rc = TARN_ERR(err, TARN_EIO, "rename %s: %s", g->path, strerror(errno));
        if (rc) {
            held_free(h);
            break;
        }
        b->nheld++;
        n++;
    }
    return rc;
}

/* Lands every held file in one catalog transaction with the cursor (see
 * change_batch_commit), then forgets them. */
static int publish(change_batch_t *b, int (*cursor)(void *ctx, tarn_err_t *err), void *ctx,
                   uint64_t *rows, uint64_t *files, tarn_err_t *err)
{
    size_t n = b->nheld;
    int rc = 0;
    store_writer_t **ws = calloc(n + 1, sizeof *ws);
    const char **keys = calloc(n + 1, sizeof *keys);
    const char **buckets = calloc(n + 1, sizeof *buckets);
    uint64_t landed = 0;
    bool committed = false;
    if (!ws || !keys || !buckets) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if ((rc = store_writer_adopt(&ws[i], b->env->store, b->held[i].file, err))) {
            for (size_t j = 0; j < i; j++)
                store_writer_abort(ws[j]);
            goto done;
        }
        keys[i] = b->held[i].key;
        buckets[i] = b->zone;
        landed += b->held[i].rows;
    }
    commit_ctx_t c = {.b = b, .cursor = cursor, .ctx = ctx};
    snprintf(c.principal, sizeof c.principal, "source:%s", b->env->source);
    store_hook_t each = {on_object, &c}, last = {on_last, &c};
    rc = store_writers_commit(b->env->store, ws, buckets, keys, n, &each, &last, err);
    committed = !rc;
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
    free(ws);
    free(keys);
    free(buckets);
    held_reset(b, committed);
    return rc;
}

int change_batch_commit(change_batch_t *b, const char *tag,
                        int (*cursor)(void *ctx, tarn_err_t *err), void *ctx, uint64_t *rows,
                        uint64_t *files, tarn_err_t *err)
{
    int rc = change_batch_wait(b, err);
    if (!rc)
        rc = prepare(b, b->groups, b->ngroups, tag, err);
    if (!rc)
        rc = publish(b, cursor, ctx, rows, files, err);
    held_reset(b, false);
    staged_reset(b);
    return rc;
}

static void *flight_run(void *arg)
{
    flight_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->busy && !f->quit)
            pthread_cond_wait(&f->cv, &f->mu);
        if (!f->busy)
            break;
        pthread_mutex_unlock(&f->mu);
        int rc = prepare(f->b, f->groups, f->ngroups, f->tag, &f->err);
        pthread_mutex_lock(&f->mu);
        f->rc = rc;
        f->busy = false;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Starts the converter thread once; false when no thread can be had. */
static bool flight_start(change_batch_t *b)
{
    flight_t *f = &b->flight;
    if (f->started)
        return true;
    f->b = b;
    if (pthread_mutex_init(&f->mu, NULL))
        return false;
    if (pthread_cond_init(&f->cv, NULL)) {
        pthread_mutex_destroy(&f->mu);
        return false;
    }
    if (pthread_create(&f->thread, NULL, flight_run, f)) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        return false;
    }
    f->started = true;
    return true;
}

static void flight_stop(change_batch_t *b)
{
    flight_t *f = &b->flight;
    if (!f->started)
        return;
    pthread_mutex_lock(&f->mu);
    f->quit = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    f->started = false;
}

int change_batch_hold(change_batch_t *b, const char *tag, tarn_err_t *err)
{
    int rc = change_batch_wait(b, err);
    if (rc || !flight_start(b)) {
        if (!rc) /* no thread to be had: convert it here */
            rc = prepare(b, b->groups, b->ngroups, tag, err);
        if (rc)
            held_reset(b, false);
        staged_reset(b);
        return rc;
    }
    flight_t *f = &b->flight;
    pthread_mutex_lock(&f->mu);
    f->groups = b->groups;
    f->ngroups = b->ngroups;
    f->rc = 0;
    snprintf(f->tag, sizeof f->tag, "%s", tag);
    f->busy = f->handed = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    b->groups = NULL;
    b->ngroups = b->cap = 0;
    b->rows = b->bytes = 0;
    return 0;
}

int change_batch_wait(change_batch_t *b, tarn_err_t *err)
{
    flight_t *f = &b->flight;
    if (!f->handed)
        return 0;
    pthread_mutex_lock(&f->mu);
    while (f->busy)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    int rc = f->rc;
    if (rc)
        *err = f->err;
    groups_free(f->groups, f->ngroups);
    free(f->groups);
    f->groups = NULL;
    f->ngroups = 0;
    f->handed = false;
    return rc;
}
