/* The delivery thread: when a stream's buffered records reach its size hint or age past
 * its interval, one batch of them is read back from the log, run through the stream's SQL
 * transform if it has one, split into files by the
 * evaluated key prefix (records that fail parsing, partitioning or conversion go to the
 * error output in quarantine with their reason), and each file is landed atomically.
 * The transaction that lands a file also records it with its batch's log range, and the
 * last file's also moves the stream's delivered position: after a crash the batch is
 * rebuilt from the log with the same range and only its missing files are written. */
#include "catalog/events.h"
#include "ingest/stream_internal.h"
#include "ingest/stream_transform.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define MAX_GROUPS 32          /* data files open at once in a batch */
#define GROUP_BUF (256u << 10) /* bytes a file gathers before compressing and writing */

typedef struct {
    const char *bucket;
    char *prefix;
    const char *error_type; /* error output: its type; NULL for data */
    store_writer_t *w;
    buf_t buf;
    z_stream z;
    bool z_on;
    ZSTD_CStream *zs;
    int stage_fd; /* Parquet: the records as JSON lines, converted at the end */
    char stage_path[PATH_MAX];
    uint64_t records, bytes;
    int64_t first_ts;
    char *key;
} group_t;

typedef struct {
    const char *name, *type;
} column_t;

typedef struct {
    stream_mgr_t *m;
    stream_t *s;
    uint64_t first, last; /* the batch's log range */
    uint64_t bytes;       /* of record data */
    int64_t last_ts;
    group_t **groups;     /* each on its own: routing an error may add groups */
    size_t ngroups, cap;
    size_t ndata;         /* data groups among them */
    column_t *cols;       /* Parquet: the schema's columns */
    size_t ncols;
    json_t *table;        /* owns cols' strings */
    json_t *done;         /* {"bucket/key": true} of files an earlier attempt landed */
    /* The transform's input: the batch's JSON objects, staged as lines. Its output
     * records carry the batch's first arrival time (rows need not map to records). */
    int stage_fd;
    char stage_path[PATH_MAX];
    buf_t stage;
    uint64_t staged;
    int64_t first_ts;
    bool transformed;     /* routing the transform's output */
    const char *reason;   /* why the transform failed, for its error records */
    tarn_err_t *err;
} batch_t;

enum { STOP_BATCH = 1 };

/* ---- writing a group's bytes ---- */

static int group_flush(batch_t *b, group_t *g, bool end)
{
    tarn_err_t *err = b->err;
    int rc = 0;
    const stream_config_t *c = &b->s->cfg;
    int comp = g->error_type ? STREAM_COMPRESS_NONE : c->compression;
    if (comp == STREAM_COMPRESS_NONE) {
        rc = g->buf.len ? store_writer_write(g->w, g->buf.data, g->buf.len, err) : 0;
        buf_reset(&g->buf);
        return rc;
    }
    uint8_t out[64 << 10];
    if (comp == STREAM_COMPRESS_GZIP) {
        g->z.next_in = (Bytef *)(g->buf.data ? g->buf.data : "");
        g->z.avail_in = (uInt)g->buf.len;
        int zr;
        do {
            g->z.next_out = out;
            g->z.avail_out = sizeof out;
            zr = deflate(&g->z, end ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR)
                return TARN_ERR(err, TARN_EIO, "gzip failed");
            size_t n = sizeof out - g->z.avail_out;
            if (n && (rc = store_writer_write(g->w, out, n, err)))
                return rc;
        } while (g->z.avail_in || (end && zr != Z_STREAM_END));
    } else {
        ZSTD_inBuffer in = {g->buf.data ? g->buf.data : "", g->buf.len, 0};
        size_t left;
        do {
            ZSTD_outBuffer o = {out, sizeof out, 0};
            left = ZSTD_compressStream2(g->zs, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left))
                return TARN_ERR(err, TARN_EIO, "zstd failed: %s", ZSTD_getErrorName(left));
            if (o.pos && (rc = store_writer_write(g->w, out, o.pos, err)))
                return rc;
        } while (in.pos < in.size || (end && left));
    }
    buf_reset(&g->buf);
    return 0;
}

static int group_open(batch_t *b, group_t *g)
{
    const stream_config_t *c = &b->s->cfg;
    tarn_err_t *err = b->err;
    g->stage_fd = -1;
    if (!g->error_type && c->parquet) {
        snprintf(g->stage_path, sizeof g->stage_path, "%s/%" PRId64 "-%" PRIu64 "-%zu.json",
                 b->m->o.tmp_dir, b->s->id, b->first, b->ngroups);
        g->stage_fd = open(g->stage_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        return g->stage_fd < 0 ? TARN_ERR(err, TARN_EIO, "create %s: %s", g->stage_path,
                                          strerror(errno))
                               : 0;
    }
    int rc = store_writer_begin(&g->w, b->m->o.store, 0, err);
    if (rc || g->error_type)
        return rc;
    if (c->compression == STREAM_COMPRESS_GZIP) {
        if (deflateInit2(&g->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory for gzip");
        g->z_on = true;
    } else if (c->compression == STREAM_COMPRESS_ZSTD) {
        if (!(g->zs = ZSTD_createCStream()))
            return TARN_ERR(err, TARN_ENOMEM, "out of memory for zstd");
        ZSTD_CCtx_setParameter(g->zs, ZSTD_c_compressionLevel, 3);
    }
    return 0;
}

static int group_write(batch_t *b, group_t *g, const void *p, size_t n)
{
    if (buf_append(&g->buf, p, n))
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    /* Lines: files of JSON records need one per line to be read as JSON Lines. */
    if ((!n || ((const char *)p)[n - 1] != '\n') && buf_putc(&g->buf, '\n'))
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    if (g->buf.len < GROUP_BUF)
        return 0;
    if (g->stage_fd >= 0) {
        if (fs_write_full(g->stage_fd, g->buf.data, g->buf.len))
            return TARN_ERR(b->err, TARN_EIO, "write %s: %s", g->stage_path, strerror(errno));
        buf_reset(&g->buf);
        return 0;
    }
    return group_flush(b, g, false);
}

static void group_free(group_t *g)
{
    if (g->w)
        store_writer_abort(g->w);
    if (g->z_on)
        deflateEnd(&g->z);
    if (g->zs)
        ZSTD_freeCStream(g->zs);
    if (g->stage_fd >= 0)
        close(g->stage_fd);
    if (g->stage_path[0])
        unlink(g->stage_path);
    buf_free(&g->buf);
    free(g->prefix);
    free(g->key);
}

/* The group for (bucket, prefix), created when new; NULL with *full when a batch has as
 * many data files as it may. */
static group_t *group_get(batch_t *b, const char *bucket, const char *prefix,
                          const char *error_type, int64_t ts, bool *full)
{
    for (size_t i = 0; i < b->ngroups; i++) {
        group_t *g = b->groups[i];
        if (!strcmp(g->bucket, bucket) && !strcmp(g->prefix, prefix) &&
            !g->error_type == !error_type)
            return g;
    }
    if (!error_type && b->ndata == MAX_GROUPS) {
        *full = true;
        return NULL;
    }
    if (b->ngroups == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8;
        group_t **ng = realloc(b->groups, nc * sizeof *ng);
        if (!ng)
            return NULL;
        b->groups = ng;
        b->cap = nc;
    }
    group_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    *g = (group_t){.bucket = bucket, .error_type = error_type, .first_ts = ts, .stage_fd = -1};
    if (!(g->prefix = strdup(prefix)) || group_open(b, g)) {
        group_free(g);
        free(g);
        return NULL;
    }
    b->groups[b->ngroups++] = g;
    b->ndata += !error_type;
    return g;
}

/* ---- routing records ---- */

/* Whether a JSON value fits a column of DuckDB type t (NULL fits everything). */
static const char *type_mismatch(const char *t, const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (strstr(t, "INT") && !strstr(t, "INTERVAL"))
        return json_is_integer(v) ? NULL : "an integer";
    if (!strcmp(t, "DOUBLE") || !strcmp(t, "FLOAT") || !strcmp(t, "REAL") ||
        !strncmp(t, "DECIMAL", 7))
        return json_is_number(v) ? NULL : "a number";
    if (!strcmp(t, "BOOLEAN"))
        return json_is_boolean(v) ? NULL : "true or false";
    if (!strncmp(t, "DATE", 4) || !strncmp(t, "TIME", 4))
        return json_is_string(v) || json_is_integer(v) ? NULL : "a date or time string";
    if (!strcmp(t, "VARCHAR"))
        return json_is_object(v) || json_is_array(v) ? "a string or scalar" : NULL;
    return NULL;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int route_error(batch_t *b, const stream_wal_rec_t *r, const char *type,
                       const char *reason)
{
    const stream_config_t *c = &b->s->cfg;
    const char *tmpl = *c->error_prefix ? c->error_prefix
                                        : "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/";
    stream_template_ctx_t tc = {.ts_ms = r->ts_ms, .error_type = type};
    buf_t prefix = BUF_INIT;
    tarn_err_t e = {0};
    int rc = stream_template_eval(tmpl, &tc, &prefix, &e);
    if (rc) {
        buf_free(&prefix);
        return TARN_ERR(b->err, rc, "ErrorOutputPrefix: %s", e.msg);
    }
    bool full = false;
    group_t *g = group_get(b, "quarantine", prefix.data ? prefix.data : "", type, r->ts_ms, &full);
    buf_free(&prefix);
    if (!g)
        return b->err->code ? b->err->code : TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    char *raw = malloc(4 * ((r->len + 2) / 3) + 1);
    if (!raw)
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    hash_b64(raw, r->data, r->len);
    char rid[33];
    snprintf(rid, sizeof rid, "%016" PRIx64 "%016" PRIx64, (uint64_t)b->s->id, r->seq);
    json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:s}", "attemptsMade", 1,
                          "arrivalTimestamp", (json_int_t)r->ts_ms, "errorCode", type,
                          "errorMessage", reason, "rawData", raw, "deliveryStreamName",
                          c->name, "recordId", rid);
    free(raw);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!line)
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    rc = group_write(b, g, line, strlen(line));
    free(line);
    g->records++;
    g->bytes += r->len;
    return rc;
}

/* Routes one record to its file or the error output; the caller moves the batch's range. */
static int route_one(batch_t *b, const stream_wal_rec_t *r)
{
    const stream_config_t *c = &b->s->cfg;
    json_t *rec = NULL;
    stream_jq_keys_t keys = {0};
    char *line = NULL;
    buf_t prefix = BUF_INIT;
    int rc = 0;
    const void *data = r->data;
    size_t len = r->len;
    if (c->parquet || c->partitioning) {
        json_error_t je;
        const char *type = c->parquet ? "format-conversion-failed" : "partitioning-failed";
        rec = json_loadb(r->data, r->len, 0, &je);
        char reason[400];
        if (!rec || !json_is_object(rec)) {
            snprintf(reason, sizeof reason, "the record is not a JSON object: %s",
                     rec ? "it is another JSON value" : je.text);
            rc = route_error(b, r, type, reason);
            goto done;
        }
        if (c->parquet) {
            for (size_t i = 0; i < b->ncols; i++) {
                json_t *v = json_object_get(rec, b->cols[i].name);
                const char *want = type_mismatch(b->cols[i].type, v);
                if (want) {
                    snprintf(reason, sizeof reason,
                             "the column '%s' is %s, which wants %s; the record has %s",
                             b->cols[i].name, b->cols[i].type, want, json_kind(v));
                    rc = route_error(b, r, type, reason);
                    goto done;
                }
            }
            if (!(line = json_dumps(rec, JSON_COMPACT))) {
                rc = TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
                goto done;
            }
            data = line;
            len = strlen(line);
        }
        if (c->partitioning) {
            tarn_err_t e = {0};
            if (stream_jq_eval(c->jq, b->m->jq_guard, r->data, r->len, &keys, &e)) {
                rc = route_error(b, r, "partitioning-failed", e.msg);
                goto done;
            }
        }
    }
    stream_template_ctx_t tc = {.ts_ms = r->ts_ms,
                                .key_names = (const char *const *)keys.names,
                                .key_values = (const char *const *)keys.values,
                                .nkeys = keys.n};
    tarn_err_t e = {0};
    if (stream_template_eval(c->prefix, &tc, &prefix, &e)) {
        rc = route_error(b, r, "partitioning-failed", e.msg);
        goto done;
    }
    bool full = false;
    group_t *g = group_get(b, c->bucket, prefix.data ? prefix.data : "", NULL, r->ts_ms, &full);
    if (!g && full && b->transformed) {
        /* The batch's range is taken already: what does not fit is kept, as an error. */
        rc = route_error(b, r, "partitioning-failed",
                         "the transformed batch has more partitions than a batch may write "
                         "at once (32)");
        goto done;
    }
    if (!g) {
        rc = full ? STOP_BATCH
                  : b->err->code ? b->err->code : TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = group_write(b, g, data, len)))
        goto done;
    g->records++;
    g->bytes += r->len;
done:
    stream_jq_keys_free(&keys);
    free(line);
    buf_free(&prefix);
    json_decref(rec);
    return rc;
}

static void batch_take(batch_t *b, const stream_wal_rec_t *r)
{
    if (b->last < b->first)
        b->first_ts = r->ts_ms;
    b->last = r->seq;
    b->bytes += r->len;
    b->last_ts = r->ts_ms;
}

static int route(void *ctx, const stream_wal_rec_t *r)
{
    batch_t *b = ctx;
    int rc = route_one(b, r);
    if (!rc)
        batch_take(b, r);
    return rc;
}

/* ---- the SQL transform ---- */

static int stage_flush(batch_t *b)
{
    if (b->stage.len && fs_write_full(b->stage_fd, b->stage.data, b->stage.len))
        return TARN_ERR(b->err, TARN_EIO, "write %s: %s", b->stage_path, strerror(errno));
    buf_reset(&b->stage);
    return 0;
}

/* Stages a record for the transform; one that is not a JSON object cannot be a row of
 * `records`, so it goes to the error output alone. */
static int stage(void *ctx, const stream_wal_rec_t *r)
{
    batch_t *b = ctx;
    json_error_t je;
    json_t *rec = json_loadb(r->data, r->len, 0, &je);
    char *line = NULL;
    int rc = 0;
    if (!rec || !json_is_object(rec)) {
        char reason[300];
        snprintf(reason, sizeof reason, "the record is not a JSON object: %s",
                 rec ? "it is another JSON value" : je.text);
        rc = route_error(b, r, "processing-failed", reason);
        goto done;
    }
    if (b->stage_fd < 0) {
        snprintf(b->stage_path, sizeof b->stage_path, "%s/%" PRId64 "-%" PRIu64 "-in.json",
                 b->m->o.tmp_dir, b->s->id, b->first);
        b->stage_fd = open(b->stage_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (b->stage_fd < 0) {
            rc = TARN_ERR(b->err, TARN_EIO, "create %s: %s", b->stage_path, strerror(errno));
            goto done;
        }
    }
    /* One line each whatever the record's own layout, as read_json wants. */
    if (!(line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER)) ||
        buf_puts(&b->stage, line) || buf_putc(&b->stage, '\n')) {
        rc = TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    b->staged++;
    if (b->stage.len >= GROUP_BUF)
        rc = stage_flush(b);
done:
    if (!rc)
        batch_take(b, r);
    free(line);
    json_decref(rec);
    return rc;
}

/* After the transform failed: the batch's records (those staged) go to the error output
 * with the engine's reason, read again from the log so each keeps its id and time. */
static int quarantine_staged(void *ctx, const stream_wal_rec_t *r)
{
    batch_t *b = ctx;
    json_t *rec = json_loadb(r->data, r->len, 0, NULL);
    bool staged = json_is_object(rec);
    json_decref(rec);
    return staged ? route_error(b, r, "processing-failed", b->reason) : 0;
}

/* Runs the transform over the staged records and routes its rows like records. */
static int transform_run(batch_t *b)
{
    const stream_config_t *c = &b->s->cfg;
    char out[PATH_MAX + 16];
    buf_t q = BUF_INIT;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    if (!b->staged)
        return 0;
    if ((rc = stage_flush(b)))
        return rc;
    close(b->stage_fd);
    b->stage_fd = -1;
    snprintf(out, sizeof out, "%s.out", b->stage_path);
    if (stream_transform_statement(&q, c->transform, b->stage_path, out)) {
        rc = TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    tarn_err_t e = {0};
    int64_t n;
    int frc = engine_exec(b->m->conn, q.data, NULL, &n, &e);
    if (frc == TARN_EINVAL) {
        char reason[480];
        snprintf(reason, sizeof reason, "the SQL transform failed: %s", e.msg);
        b->reason = reason;
        rc = stream_wal_read(b->s->wal, b->first - 1, b->last, SIZE_MAX, quarantine_staged, b,
                             b->err);
        b->reason = NULL;
        goto done;
    }
    if (frc) {
        rc = TARN_ERR(b->err, frc, "SQL transform: %s", e.msg);
        goto done;
    }
    if (!(f = fopen(out, "r"))) {
        rc = TARN_ERR(b->err, TARN_EIO, "open %s: %s", out, strerror(errno));
        goto done;
    }
    b->transformed = true;
    ssize_t len;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        stream_wal_rec_t r = {.seq = b->first, .ts_ms = b->first_ts, .data = line,
                              .len = (size_t)len};
        rc = route_one(b, &r);
    }
    b->transformed = false;
done:
    if (f)
        fclose(f);
    free(line);
    buf_free(&q);
    unlink(out);
    return rc;
}

/* ---- landing the files ---- */

typedef struct {
    batch_t *b;
    const group_t *g;
    bool last;
} commit_t;

static int on_commit(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    commit_t *c = ctx;
    batch_t *b = c->b;
    db_t *db = b->m->o.db;
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st,
                        "INSERT INTO stream_files(stream_id, batch_first, batch_last, bucket,"
                        " key, records) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, b->s->id);
    sqlite3_bind_int64(st, 2, (int64_t)b->first);
    sqlite3_bind_int64(st, 3, (int64_t)b->last);
    sqlite3_bind_text(st, 4, o->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, o->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)c->g->records);
    int step = sqlite3_step(st);
    db_done(db, st);
    if (step != SQLITE_DONE)
        return db_fail(db, step, err, "record a delivered file");
    if (c->last) {
        if ((rc = db_prepare(db, &st, "UPDATE streams SET delivered_seq = ?2 WHERE id = ?1",
                             err)))
            return rc;
        sqlite3_bind_int64(st, 1, b->s->id);
        sqlite3_bind_int64(st, 2, (int64_t)b->last);
        step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE)
            return db_fail(db, step, err, "move the stream's position");
        if ((rc = db_prepare(db, &st,
                             "DELETE FROM stream_files WHERE stream_id = ?1 AND batch_first < ?2",
                             err)))
            return rc;
        sqlite3_bind_int64(st, 1, b->s->id);
        sqlite3_bind_int64(st, 2, (int64_t)b->first);
        step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE)
            return db_fail(db, step, err, "forget delivered batches");
    }
    char principal[96];
    snprintf(principal, sizeof principal, "stream:%s", b->s->cfg.name);
    return catalog_event_object_landed(db, o, principal, err);
}

/* <prefix><stream>-1-yyyy-MM-dd-HH-mm-ss-<uuid><ext>, as the service names files; the
 * uuid comes from the batch and prefix, so a rebuilt batch names its files the same. */
static int group_key(batch_t *b, group_t *g)
{
    const stream_config_t *c = &b->s->cfg;
    char seed[64];
    uint8_t h[32];
    char hex[65];
    snprintf(seed, sizeof seed, "%" PRId64 ":%" PRIu64 ":", b->s->id, b->first);
    buf_t s = BUF_INIT;
    buf_puts(&s, seed);
    buf_puts(&s, g->bucket);
    buf_putc(&s, '/');
    buf_puts(&s, g->prefix);
    hash_sha256(h, s.data, s.len);
    buf_free(&s);
    hash_hex(hex, h, 16);
    time_t t = (time_t)(g->first_ts / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    const char *ext = g->error_type ? ""
                      : c->extension ? c->extension
                      : c->parquet ? ".parquet"
                      : c->compression == STREAM_COMPRESS_GZIP ? ".gz"
                      : c->compression == STREAM_COMPRESS_ZSTD ? ".zst"
                                                               : "";
    buf_t k = BUF_INIT;
    buf_printf(&k, "%s%s-1-%04d-%02d-%02d-%02d-%02d-%02d-%.8s-%.4s-%.4s-%.4s-%.12s%s", g->prefix,
               c->name, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
               tm.tm_sec, hex, hex + 8, hex + 12, hex + 16, hex + 20, ext);
    g->key = buf_steal(&k);
    return g->key ? 0 : TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
}

static void sql_quote(buf_t *b, const char *s)
{
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_putc(b, '\'');
        buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

/* Converts a Parquet group's staged lines into its store writer. On a conversion
 * failure its records move to the error output and *moved is set. */
static int group_convert(batch_t *b, group_t *g, bool *moved)
{
    tarn_err_t *err = b->err;
    const stream_config_t *c = &b->s->cfg;
    int rc = 0;
    *moved = false;
    if (g->buf.len && fs_write_full(g->stage_fd, g->buf.data, g->buf.len))
        return TARN_ERR(err, TARN_EIO, "write %s: %s", g->stage_path, strerror(errno));
    buf_reset(&g->buf);
    close(g->stage_fd);
    g->stage_fd = -1;
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s.parquet", g->stage_path);
    buf_t q = BUF_INIT;
    buf_puts(&q, "COPY (SELECT * FROM read_json(");
    sql_quote(&q, g->stage_path);
    buf_puts(&q, ", format='newline_delimited', columns={");
    for (size_t i = 0; i < b->ncols; i++) {
        if (i)
            buf_puts(&q, ", ");
        sql_quote(&q, b->cols[i].name);
        buf_puts(&q, ": ");
        sql_quote(&q, b->cols[i].type);
    }
    buf_puts(&q, "})) TO ");
    sql_quote(&q, out);
    buf_printf(&q, " (FORMAT parquet, COMPRESSION %s)", c->parquet_compression);
    tarn_err_t e = {0};
    int64_t n;
    int frc = engine_exec(b->m->conn, q.data, NULL, &n, &e);
    buf_free(&q);
    if (frc == TARN_EINVAL) {
        /* The engine refused the records as a whole: each goes to the error output with
         * its reason, so nothing is dropped. */
        *moved = true;
        FILE *f = fopen(g->stage_path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        char reason[480];
        snprintf(reason, sizeof reason, "Parquet conversion failed: %s", e.msg);
        uint64_t seq = 0;
        while (f && (len = getline(&line, &cap, f)) > 0 && !rc) {
            stream_wal_rec_t r = {.seq = b->first + seq++, .ts_ms = g->first_ts, .data = line,
                                  .len = (size_t)len};
            rc = route_error(b, &r, "format-conversion-failed", reason);
        }
        free(line);
        if (f)
            fclose(f);
        unlink(out);
        return rc;
    }
    if (frc) {
        unlink(out);
        return TARN_ERR(err, frc, "Parquet conversion: %s", e.msg);
    }
    if ((rc = store_writer_begin(&g->w, b->m->o.store, 0, err)))
        goto done;
    int fd = open(out, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = TARN_ERR(err, TARN_EIO, "open %s: %s", out, strerror(errno));
        goto done;
    }
    char chunk[1 << 16];
    ssize_t got;
    while (!rc && (got = read(fd, chunk, sizeof chunk)) > 0)
        rc = store_writer_write(g->w, chunk, (size_t)got, err);
    close(fd);
done:
    unlink(out);
    return rc;
}

static int load_schema(batch_t *b)
{
    const stream_config_t *c = &b->s->cfg;
    int rc = catalog_table_get(b->m->o.catalog, c->schema_zone, c->schema_db, c->schema_table,
                               &b->table, b->err);
    if (rc)
        return rc;
    json_t *cols = json_object_get(b->table, "columns");
    b->cols = calloc(json_array_size(cols) + 1, sizeof *b->cols);
    if (!b->cols)
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    size_t i;
    json_t *col;
    json_array_foreach(cols, i, col)
    {
        const char *n = json_string_value(json_object_get(col, "name"));
        const char *t = json_string_value(json_object_get(col, "type"));
        if (!n || !t)
            continue;
        for (const char *p = t; *p; p++)
            if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_(), []",
                        *p))
                return TARN_ERR(b->err, TARN_EINVAL, "the column %s has an unusual type %s", n, t);
        b->cols[b->ncols++] = (column_t){n, t};
    }
    if (!b->ncols)
        return TARN_ERR(b->err, TARN_EINVAL, "the table %s.%s.%s has no columns", c->schema_zone,
                        c->schema_db, c->schema_table);
    return 0;
}

/* What an earlier attempt at the batch starting at first landed: its range and files. */
static int load_done(batch_t *b, uint64_t *upto)
{
    db_t *db = b->m->o.db;
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st,
                        "SELECT batch_last, bucket, key FROM stream_files"
                        " WHERE stream_id = ?1 AND batch_first = ?2", b->err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, b->s->id);
    sqlite3_bind_int64(st, 2, (int64_t)b->first);
    b->done = json_object();
    while (sqlite3_step(st) == SQLITE_ROW) {
        *upto = (uint64_t)sqlite3_column_int64(st, 0);
        char *k = sqlite3_mprintf("%s/%s", sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
        if (k)
            json_object_set_new(b->done, k, json_true());
        sqlite3_free(k);
    }
    db_done(db, st);
    return 0;
}

/* Moves the position by itself: only when the batch's last file was landed by an
 * attempt that could not move it, which the shared transaction rules out. */
static int set_position(batch_t *b)
{
    char *q = sqlite3_mprintf("UPDATE streams SET delivered_seq = %lld WHERE id = %lld",
                              (long long)b->last, (long long)b->s->id);
    int rc = q ? db_exec(b->m->o.db, q, b->err) : TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    sqlite3_free(q);
    return rc;
}

/* Lands one group's file; last carries the batch's position. *skipped when an earlier
 * attempt already landed it. */
static int group_land(batch_t *b, group_t *g, bool last)
{
    int rc;
    if ((rc = group_key(b, g)))
        return rc;
    char *full = NULL;
    if (asprintf(&full, "%s/%s", g->bucket, g->key) < 0)
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    bool landed = json_object_get(b->done, full) != NULL;
    free(full);
    if (landed)
        return last ? set_position(b) : 0;
    if ((rc = group_flush(b, g, true)))
        return rc;
    commit_t cc = {b, g, last};
    store_hook_t hook = {on_commit, &cc};
    store_writer_set_hook(g->w, &hook);
    store_writer_t *w = g->w;
    g->w = NULL;
    rc = store_writer_commit(w, g->bucket, g->key, NULL, NULL, NULL, b->err);
    if (!rc) {
        stream_t *s = b->s;
        atomic_fetch_add(&s->files_delivered, 1);
        if (g->error_type) {
            atomic_fetch_add(&s->records_failed, g->records);
        } else {
            atomic_fetch_add(&s->records_delivered, g->records);
            atomic_fetch_add(&s->bytes_delivered, g->bytes);
        }
    }
    return rc;
}

int stream_deliver_batch(stream_mgr_t *m, stream_t *s, tarn_err_t *err)
{
    batch_t b = {.m = m, .s = s, .err = err, .stage_fd = -1};
    b.first = atomic_load(&s->delivered) + 1;
    b.last = b.first - 1;
    uint64_t upto = stream_wal_durable(s->wal);
    int rc = load_done(&b, &upto);
    if (!rc && s->cfg.parquet)
        rc = load_schema(&b);
    if (rc)
        goto done;
    rc = stream_wal_read(s->wal, b.first - 1, upto, s->cfg.buffer_bytes,
                         s->cfg.transform ? stage : route, &b, err);
    if (rc == STOP_BATCH)
        rc = 0;
    if (rc || b.last < b.first)
        goto done;
    if (s->cfg.transform && (rc = transform_run(&b)))
        goto done;
    /* Parquet files are converted first, since a refused one moves to the error output
     * (which may add groups: count them after). */
    size_t ndata = b.ngroups;
    for (size_t i = 0; i < ndata && s->cfg.parquet; i++) {
        bool moved;
        if (!b.groups[i]->error_type && (rc = group_convert(&b, b.groups[i], &moved)))
            goto done;
    }
    /* Data files first, then error outputs; the last one landed moves the position. */
    size_t nland = 0, k = 0;
    for (size_t i = 0; i < b.ngroups; i++)
        nland += b.groups[i]->w != NULL;
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t i = 0; i < b.ngroups && !rc; i++) {
            group_t *g = b.groups[i];
            if ((g->error_type != NULL) != (pass == 1) || !g->w)
                continue;
            k++;
            rc = group_land(&b, g, k == nland);
        }
    if (rc)
        goto done;
    /* A transform may filter out every record: the position moves without a file. */
    if (!nland && (rc = s->cfg.transform ? set_position(&b)
                                         : TARN_ERR(err, TARN_EIO, "a batch produced no file")))
        goto done;
    atomic_store(&s->delivered, b.last);
    atomic_fetch_sub(&s->pending, (int64_t)b.bytes);
    atomic_store(&s->oldest_ms, stream_wal_durable(s->wal) > b.last ? b.last_ts : 0);
    /* The log's records are trimmed only once the commit that delivered them (files and
     * position together) is on disk: a power failure before that finds them undelivered
     * and still in the log. */
    if (!(rc = db_sync(m->o.db, err)))
        rc = stream_wal_trim(s->wal, b.last, err);
done:
    for (size_t i = 0; i < b.ngroups; i++) {
        group_free(b.groups[i]);
        free(b.groups[i]);
    }
    free(b.groups);
    if (b.stage_fd >= 0)
        close(b.stage_fd);
    if (b.stage_path[0])
        unlink(b.stage_path);
    buf_free(&b.stage);
    free(b.cols);
    json_decref(b.table);
    json_decref(b.done);
    return rc;
}

/* ---- the thread ---- */

static bool due(stream_t *s, int64_t now)
{
    if (atomic_load(&s->retry_at_ms) > now)
        return false;
    if (stream_wal_durable(s->wal) <= atomic_load(&s->delivered))
        return false;
    int64_t oldest = atomic_load(&s->oldest_ms);
    if (!oldest) {
        /* Records raced in while the last batch finished: their age starts now. */
        int64_t zero = 0;
        atomic_compare_exchange_strong(&s->oldest_ms, &zero, now);
        oldest = now;
    }
    return atomic_load(&s->pending) >= (int64_t)s->cfg.buffer_bytes ||
           now - oldest >= (int64_t)s->cfg.interval_s * 1000;
}

/* When s is next due (wall clock), INT64_MAX when it holds nothing to deliver. Caller
 * holds s->lock shared. */
static int64_t due_at(stream_t *s, int64_t now)
{
    if (s->deleted || stream_wal_durable(s->wal) <= atomic_load(&s->delivered))
        return INT64_MAX;
    int64_t oldest = atomic_load(&s->oldest_ms), retry = atomic_load(&s->retry_at_ms);
    int64_t at = atomic_load(&s->pending) >= (int64_t)s->cfg.buffer_bytes
                     ? now
                     : (oldest ? oldest : now) + (int64_t)s->cfg.interval_s * 1000;
    return at > retry ? at : retry;
}

/* Delivers what of s is due; returns when s is next due (wall clock, as due_at). */
static int64_t deliver_due(stream_mgr_t *m, stream_t *s)
{
    pthread_rwlock_rdlock(&s->lock);
    for (int i = 0; i < 64 && !s->deleted && due(s, time_now_ms()); i++) {
        tarn_err_t err = {0};
        if (stream_deliver_batch(m, s, &err)) {
            log_error("stream delivery failed; retrying", "stream", s->cfg.name, "error",
                      err.msg);
            atomic_store(&s->retry_at_ms, time_now_ms() + 1000);
            break;
        }
        if (worker_stopping(m->worker))
            break;
    }
    int64_t at = due_at(s, time_now_ms());
    pthread_rwlock_unlock(&s->lock);
    return at;
}

/* Sleeps until a put wakes it or the first buffer comes due, delivers what is due. */
void stream_deliver_main(worker_t *w, void *arg)
{
    stream_mgr_t *m = arg;
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(w, next)) {
        /* New streams are added at the head and none is freed while this runs, so the
         * rest of the list can be walked without the lock. */
        pthread_mutex_lock(&m->mu);
        stream_t *head = m->list;
        pthread_mutex_unlock(&m->mu);
        int64_t first = INT64_MAX;
        for (stream_t *s = head; s && !worker_stopping(w); s = s->next) {
            int64_t at = deliver_due(m, s);
            first = at < first ? at : first;
        }
        int64_t now = time_now_ms();
        next = first == INT64_MAX ? WORKER_FOREVER
                                  : time_mono_ms() + (first > now ? first - now : 0);
    }
}
