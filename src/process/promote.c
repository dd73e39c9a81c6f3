/* The promoter thread: taking landings in from the event queue, checking each object
 * against its table's policy, moving it to cleaned or quarantine and removing the raw
 * copy, one explicit state at a time; see promote.h. Quarantine listing and release are
 * in quarantine.c. */
#include "process/promote.h"
#include "catalog/events.h"
#include "process/policy.h"
#include "process/promote_internal.h"
#include "util/killpoint.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define INTAKE_BATCH 512 /* events taken in per transaction */
#define WORK_BATCH 64    /* rows read per pass */
#define MAX_ATTEMPTS 5   /* failures (I/O, refused writes) before a row is left aside */

#define MAX_LANES 8

/* What checking and moving one object needs. The promoter works several objects side
 * by side, each lane (thread) with an engine connection of its own. */
typedef struct {
    promote_opts_t o;
    const char *objects_dir;
    engine_conn_t *conn;
} lane_t;

struct promoter {
    promote_opts_t o;
    char objects_dir[4096];
    lane_t lanes[MAX_LANES];
    int nlanes;
    worker_t *worker;
    int watches[2]; /* of the event queue and of proc_promotions (releases) */
};

/* One row of proc_promotions, strings in the pass's arena. */
typedef struct {
    int64_t id;
    const char *source; /* "raw", or "quarantine" for a release */
    const char *key;
    const char *etag;
    const char *state;   /* "pending", "moved" */
    const char *outcome; /* once moved: "cleaned" or "quarantined" */
} row_t;

/* What the checks found out about one object. */
typedef struct {
    bool gone;          /* the object is no longer the one the row names */
    bool unchanged;     /* cleaned already holds these bytes under this key (a re-upload) */
    bool pass;
    bool mapped, hidden;
    const char *check;  /* failing check */
    char detail[700];
    int64_t line, row;
    hive_key_t hk;
    classify_result_t cls;
    bool have_cls;
    json_t *policy;     /* owned */
    char table[300];    /* "cleaned.db.t" */
    store_object_t o;   /* the source object */
} verdict_t;

static const char *const process_schema[] = {
    /* One row per object on its way out of raw (or out of quarantine, for a release):
     * pending -> moved (copied to cleaned or quarantine, in the same transaction as the
     * copy's index row) -> kept (raw retention) -> gone (the row is deleted in the
     * transaction that removes the source). */
    "CREATE TABLE proc_promotions(id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
    " key TEXT NOT NULL, etag TEXT NOT NULL, event_id INTEGER, state TEXT NOT NULL,"
    " outcome TEXT, remove_after_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
    " error TEXT, created_ms INTEGER NOT NULL)",
    "CREATE INDEX proc_promotions_state ON proc_promotions(state, id)",
    "CREATE TABLE proc_quarantine(key TEXT PRIMARY KEY, db TEXT, tbl TEXT,"
    " check_name TEXT NOT NULL, detail TEXT NOT NULL, line INTEGER, row INTEGER,"
    " size INTEGER NOT NULL, sha256 TEXT, time_ms INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX proc_quarantine_table ON proc_quarantine(db, tbl)",
    "CREATE TABLE proc_outcomes(outcome TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
};

int promote_init(db_t *db, tarn_err_t *err)
{
    return db_migrate(db, "process", process_schema,
                      (int)(sizeof process_schema / sizeof *process_schema), err);
}

/* ---- small statements (inside whatever transaction is open) ---- */

int promote_sql(db_t *db, const char *sql, const char *t1, const char *t2, int64_t i3,
                tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, sql, err);
    if (rc)
        return rc;
    if (t1)
        sqlite3_bind_text(st, 1, t1, -1, SQLITE_STATIC);
    if (t2)
        sqlite3_bind_text(st, 2, t2, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, i3);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "promotion state");
}

static int row_set_moved(db_t *db, int64_t id, const char *outcome, tarn_err_t *err)
{
    int rc = promote_sql(db, "UPDATE proc_promotions SET state = 'moved', outcome = ?1 WHERE"
                             " id = ?3",
                         outcome, NULL, id, err);
    if (!rc)
        rc = promote_sql(db, "INSERT INTO proc_outcomes(outcome, n) VALUES(?1, 1)"
                             " ON CONFLICT(outcome) DO UPDATE SET n = n + 1",
                         outcome, NULL, 0, err);
    return rc;
}

static int row_delete(db_t *db, int64_t id, tarn_err_t *err)
{
    return promote_sql(db, "DELETE FROM proc_promotions WHERE id = ?3", NULL, NULL, id, err);
}

int promote_quarantine_recount(catalog_t *c, const char *db_name, const char *tbl,
                               tarn_err_t *err)
{
    if (!db_name || !tbl)
        return 0;
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc = db_prepare(db, &st, "SELECT count(*) FROM proc_quarantine WHERE db = ?1 AND tbl = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, db_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tbl, -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_done(db, st);
    return catalog_promotion_quarantined_set(c, db_name, tbl, n, err);
}

/* Records key in the quarantine registry with the verdict's reason. */
static int quarantine_record(lane_t *p, const char *key, const verdict_t *v,
                             tarn_err_t *err)
{
    db_t *db = catalog_db(p->o.catalog);
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "INSERT OR REPLACE INTO proc_quarantine(key, db, tbl, check_name, detail,"
                        " line, row, size, sha256, time_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                        " ?8, ?9, ?10)",
                        err);
    if (rc)
        return rc;
    char sha[65];
    hash_hex(sha, v->o.sha256, 32);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (v->mapped) {
        sqlite3_bind_text(st, 2, v->hk.db, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v->hk.table, -1, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 4, v->check, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, v->detail, -1, SQLITE_STATIC);
    if (v->line > 0)
        sqlite3_bind_int64(st, 6, v->line);
    if (v->row > 0)
        sqlite3_bind_int64(st, 7, v->row);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)v->o.size);
    sqlite3_bind_text(st, 9, sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, time_now_ms());
    int step = sqlite3_step(st);
    db_done(db, st);
    if (step != SQLITE_DONE)
        return db_fail(db, step, err, "record quarantine");
    return v->mapped ? promote_quarantine_recount(p->o.catalog, v->hk.db, v->hk.table, err) : 0;
}

/* ---- the checks ---- */

static void fail(verdict_t *v, const char *check, int64_t line, int64_t row, const char *fmt,
                 const char *detail)
{
    v->pass = false;
    v->check = check;
    v->line = line;
    v->row = row;
    snprintf(v->detail, sizeof v->detail, fmt, detail);
}

static void put_quoted_ident(char *out, size_t cap, const char *name)
{
    size_t n = 0;
    if (cap < 3)
        return;
    out[n++] = '"';
    for (const char *q = name; *q && n + 3 < cap; q++) {
        if (*q == '"')
            out[n++] = '"';
        out[n++] = *q;
    }
    out[n++] = '"';
    out[n] = '\0';
}

/* The reader call over one file with the options its classification found, as the
 * catalog's views read it (consume/session.c). */
static char *reader_sql(arena_t *a, const char *qpath, const classify_result_t *cls)
{
    const json_t *o = cls->options;
    const char *comp = json_string_value(json_object_get(o, "compression"));
    comp = comp ? comp : "none";
    if (!strcmp(cls->format, "parquet"))
        return arena_sprintf(a, "read_parquet(%s, hive_partitioning=false)", qpath);
    if (!strcmp(cls->format, "json") || !strcmp(cls->format, "jsonl")) {
        const char *layout = json_string_value(json_object_get(o, "layout"));
        return arena_sprintf(a, "read_json(%s, format=%s, compression=%s, "
                                "hive_partitioning=false)",
                             qpath, engine_quote(a, layout ? layout : "auto"),
                             engine_quote(a, strcmp(comp, "none") ? comp : "uncompressed"));
    }
    char *s = arena_sprintf(a, "read_csv(%s", qpath);
    static const char *const text_opts[][2] = {
        {"delimiter", "delim"}, {"quote", "quote"}, {"escape", "escape"}};
    for (int k = 0; s && k < 3; k++) {
        const char *v = json_string_value(json_object_get(o, text_opts[k][0]));
        if (v && *v)
            s = arena_sprintf(a, "%s, %s=%s", s, text_opts[k][1], engine_quote(a, v));
    }
    const char *enc = json_string_value(json_object_get(o, "encoding"));
    if (s)
        s = arena_sprintf(a, "%s, header=%s, skip=%lld, compression=%s, encoding=%s, "
                             "hive_partitioning=false)",
                          s, json_is_false(json_object_get(o, "header")) ? "false" : "true",
                          (long long)json_integer_value(json_object_get(o, "skip")),
                          engine_quote(a, comp), engine_quote(a, enc ? enc : "utf-8"));
    return s;
}

/* A CSV whose sniffed dialect is one column named like "a,b,c" is one the sniffer could
 * not read as comma- (or tab-) separated, most often because of a ragged line: reading it
 * with the header's columns names that line. */
static int check_ragged(lane_t *p, verdict_t *v, const char *path, arena_t *a,
                        tarn_err_t *err)
{
    const char *sep = !strcmp(v->cls.format, "tsv") ? "\t" : ",";
    if (strcmp(v->cls.format, "csv") && strcmp(v->cls.format, "tsv"))
        return 0;
    if (v->cls.schema.n != 1 || !strstr(v->cls.schema.cols[0].name, sep))
        return 0;
    const char *h = v->cls.schema.cols[0].name;
    char *cols = arena_strdup(a, "{");
    for (size_t i = 0; cols;) {
        size_t n = strcspn(h + i, sep);
        char *name = arena_strndup(a, h + i, n);
        cols = name ? arena_sprintf(a, "%s%s%s: 'VARCHAR'", cols, i ? ", " : "",
                                    engine_quote(a, name))
                    : NULL;
        i += n;
        if (!h[i])
            break;
        i++;
    }
    const char *comp = json_string_value(json_object_get(v->cls.options, "compression"));
    char *sql = cols ? arena_sprintf(a,
                                     "SELECT count(*) FROM read_csv(%s, delim=%s, quote='\"', "
                                     "header=true, auto_detect=false, columns=%s}, "
                                     "compression=%s)",
                                     engine_quote(a, path), !strcmp(sep, ",") ? "','" : "E'\\t'",
                                     cols, engine_quote(a, comp ? comp : "none"))
                     : NULL;
    if (!sql)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    engine_rows_t r;
    tarn_err_t e = {0};
    int rc = engine_query(p->conn, sql, 1, &r, a, &e);
    if (rc == TARN_EINVAL) {
        fail(v, "parse", policy_error_line(e.msg), 0, "does not read as csv: %s", e.msg);
        return 0;
    }
    if (rc)
        *err = e;
    return rc;
}

/* Reads the whole file (every column of every row, so a broken line anywhere fails),
 * counting rows and NULLs of the policy's key columns. */
static int read_fully(lane_t *p, verdict_t *v, const char *path, arena_t *a,
                      tarn_err_t *err)
{
    const json_t *keys = json_object_get(v->policy, "not_null_keys");
    char *qpath = engine_quote(a, path);
    char *reader = qpath ? reader_sql(a, qpath, &v->cls) : NULL;
    char *sql = reader ? arena_sprintf(a, "SELECT count(*)") : NULL;
    size_t i;
    json_t *k;
    size_t nkeys = 0;
    json_array_foreach(keys, i, k)
    {
        const char *name = json_string_value(k);
        if (!name || !sql)
            continue;
        if (schema_find(&v->cls.schema, name) < 0) {
            fail(v, "not_null_keys", 0, 0, "key column %s is missing from the file", name);
            return 0;
        }
        char ident[300];
        put_quoted_ident(ident, sizeof ident, name);
        sql = arena_sprintf(a, "%s, count(*) FILTER (WHERE %s IS NULL)", sql, ident);
        nkeys++;
    }
    if (sql)
        sql = arena_sprintf(a, "%s, bit_xor(hash(COLUMNS(*))) FROM %s", sql, reader);
    if (!sql)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    engine_rows_t r;
    tarn_err_t e = {0};
    int rc = engine_query(p->conn, sql, 1, &r, a, &e);
    if (rc == TARN_EINVAL) {
        fail(v, "parse", policy_error_line(e.msg), policy_error_record(e.msg),
             "does not read as %s: ", v->cls.format);
        size_t n = strlen(v->detail);
        snprintf(v->detail + n, sizeof v->detail - n, "%s", e.msg);
        return 0;
    }
    if (rc) {
        *err = e;
        return rc;
    }
    int64_t rows = r.nrows && r.cells[0] ? strtoll(r.cells[0], NULL, 10) : 0;
    if (!rows) {
        fail(v, "empty", 0, 0, "%s", "the file has no rows");
        return 0;
    }
    json_array_foreach(keys, i, k)
    {
        const char *cell = i + 1 < r.ncols ? r.cells[i + 1] : NULL;
        long long nulls = cell ? strtoll(cell, NULL, 10) : 0;
        if (nulls > 0) {
            char d[300];
            snprintf(d, sizeof d, "key column %s is NULL in %lld of %lld rows",
                     json_string_value(k), nulls, (long long)rows);
            fail(v, "not_null_keys", 0, 0, "%s", d);
            return 0;
        }
    }
    (void)nkeys;
    return 0;
}

/* Format and schema against the cleaned table the object would join. */
static int check_table(lane_t *p, verdict_t *v, tarn_err_t *err)
{
    json_t *t = NULL;
    tarn_err_t e = {0};
    int rc = catalog_table_get(p->o.catalog, "cleaned", v->hk.db, v->hk.table, &t, &e);
    if (rc == TARN_ENOTFOUND)
        return 0;
    if (rc) {
        *err = e;
        return rc;
    }
    const char *format = json_string_value(json_object_get(t, "format"));
    schema_t s = {0};
    policy_mode_t mode = POLICY_ADDITIVE;
    policy_mode_parse(&mode, json_string_value(json_object_get(v->policy, "mode")));
    if (format && *format && strcmp(format, v->cls.format)) {
        char d[200];
        snprintf(d, sizeof d, "the file is %s, the table %s is %s", v->cls.format, v->table,
                 format);
        fail(v, "format", 0, 0, "%s", d);
    } else if (!(rc = schema_from_json(&s, json_object_get(t, "columns"), err)) &&
               policy_check_schema(mode, &s, &v->cls.schema, &e)) {
        fail(v, "schema", 0, 0, "%s", e.msg);
    }
    schema_free(&s);
    json_decref(t);
    return rc;
}

/* Fills v for the row's object. Errors are for trouble that may pass (I/O, memory); a
 * file that fails a check is a verdict, not an error. */
static int decide(lane_t *p, const row_t *row, verdict_t *v, arena_t *a, tarn_err_t *err)
{
    tarn_err_t e = {0};
    int rc = store_object_head(p->o.store, row->source, row->key, &v->o, a, &e);
    if (rc == TARN_ENOTFOUND || (!rc && strcmp(v->o.etag, row->etag))) {
        v->gone = true;
        return 0;
    }
    if (rc) {
        *err = e;
        return rc;
    }
    v->pass = true;
    store_object_t c;
    if (!strcmp(row->source, "raw") &&
        !store_object_head(p->o.store, "cleaned", row->key, &c, a, &e) &&
        !memcmp(c.sha256, v->o.sha256, 32)) {
        v->unchanged = true; /* a client's retry of an upload that was promoted already */
        return 0;
    }
    e = (tarn_err_t){0};
    if (hive_parse_key(&v->hk, row->key, a, &e)) {
        fail(v, "table", 0, 0, "the key names no table: %s", e.msg);
        return 0;
    }
    v->mapped = true;
    snprintf(v->table, sizeof v->table, "cleaned.%s.%s", v->hk.db, v->hk.table);
    if ((rc = catalog_promotion_get(p->o.catalog, v->hk.db, v->hk.table, &v->policy, err)))
        return rc;
    json_object_del(v->policy, "quarantined");
    if (v->hk.hidden) {
        v->hidden = true; /* markers such as _SUCCESS follow their data unchecked */
        return 0;
    }
    if (!v->o.size) {
        fail(v, "empty", 0, 0, "%s", "the object has no bytes");
        return 0;
    }
    char *path = arena_sprintf(a, "%s/%s/%s", p->objects_dir, row->source, row->key);
    if (!path)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    e = (tarn_err_t){0};
    /* The engine reads the file: a small object may still be held in the catalog. */
    rc = store_object_materialize(p->o.store, row->source, row->key, &e);
    if (!rc)
        rc = classify_file(&v->cls, p->conn, path, a, &e);
    v->have_cls = true;
    if (rc == TARN_ENOTFOUND) {
        v->gone = true;
        return 0;
    }
    struct stat st;
    if (rc == TARN_EINVAL && (stat(path, &st) || (uint64_t)st.st_size != v->o.size))
        /* The bytes on disk are not the object's yet (a read racing recovery after a
         * crash, a failing disk): no verdict on the data; promotion tries again. */
        return TARN_ERR(err, TARN_EIO,
                        "%s/%s: the file holds other than the %llu bytes its index records;"
                        " will retry",
                        row->source, row->key, (unsigned long long)v->o.size);
    if (rc == TARN_EINVAL) {
        fail(v, "parse", policy_error_line(e.msg), policy_error_record(e.msg), "%s", e.msg);
        return 0;
    }
    if (rc) {
        *err = e;
        return rc;
    }
    if ((rc = check_ragged(p, v, path, a, err)) || !v->pass ||
        (rc = read_fully(p, v, path, a, err)) || !v->pass)
        return rc;
    if ((rc = check_table(p, v, err)) || !v->pass)
        return rc;
    if (policy_check_required(json_object_get(v->policy, "required_columns"), &v->cls.schema,
                              &e)) {
        fail(v, "required_columns", 0, 0, "%s", e.msg);
        return 0;
    }
    const char *dup = NULL;
    rc = store_object_find_sha256(p->o.store, "cleaned", v->o.sha256, &dup, a, err);
    if (rc == TARN_ENOTFOUND)
        return 0;
    if (!rc)
        fail(v, "duplicate", 0, 0, "the same bytes are already in cleaned as %s", dup);
    return rc;
}

static void verdict_free(verdict_t *v)
{
    if (v->have_cls)
        classify_result_free(&v->cls);
    json_decref(v->policy);
}

/* ---- moving ---- */

typedef struct {
    lane_t *p;
    const row_t *row;
    const verdict_t *v;
} hook_ctx_t;

static int on_cleaned(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    hook_ctx_t *h = ctx;
    db_t *db = catalog_db(h->p->o.catalog);
    int rc = catalog_event_object_landed(db, o, "promoter", err);
    return rc ? rc : row_set_moved(db, h->row->id, "cleaned", err);
}

static int on_quarantined(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    hook_ctx_t *h = ctx;
    (void)o;
    int rc = quarantine_record(h->p, h->row->key, h->v, err);
    return rc ? rc : row_set_moved(catalog_db(h->p->o.catalog), h->row->id, "quarantined", err);
}

static int on_raw_removed(void *ctx, const store_object_t *o, tarn_err_t *err)
{
    hook_ctx_t *h = ctx;
    db_t *db = catalog_db(h->p->o.catalog);
    int rc = catalog_event_object_removed(db, o, "promoter", err);
    return rc ? rc : row_delete(db, h->row->id, err);
}

/* Gives src/key (while its ETag is etag) the name dst/key, bytes unchanged, running hook
 * in the commit; *out gets the new object (strings in a). The very bytes that were
 * checked are linked by their open descriptor, not copied. TARN_ECONFLICT when the
 * source changed. */
static int copy_object(lane_t *p, const char *src, const char *key, const char *etag,
                       const char *dst, const store_hook_t *hook, store_object_t *out,
                       arena_t *a, tarn_err_t *err)
{
    store_object_t o;
    store_writer_t *w = NULL;
    int fd = -1;
    int rc = store_object_open(p->o.store, src, key, &o, &fd, a, err);
    if (rc)
        goto done;
    if (strcmp(o.etag, etag)) {
        rc = TARN_ECONFLICT;
        goto done;
    }
    /* An empty object has no descriptor to link: it is written afresh. */
    rc = fd >= 0 ? store_writer_link(&w, p->o.store, fd, &o, err)
                 : store_writer_begin(&w, p->o.store, 0, err);
    if (rc)
        goto done;
    store_meta_t meta = {.content_type = o.content_type, .content_encoding = o.content_encoding,
                         .content_disposition = o.content_disposition,
                         .content_language = o.content_language,
                         .cache_control = o.cache_control, .expires = o.expires,
                         .user_meta = o.user_meta};
    if (hook)
        store_writer_set_hook(w, hook);
    rc = store_writer_commit(w, dst, key, &meta, out, a, err);
    w = NULL;
    /* Bytes that lost their name since they were opened were replaced or removed. */
    struct stat st;
    if (rc == TARN_EIO && fd >= 0 && !fstat(fd, &st) && st.st_nlink == 0)
        rc = TARN_ECONFLICT;
done:
    store_writer_abort(w);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int write_reason(lane_t *p, const char *key, const verdict_t *v, arena_t *a,
                        tarn_err_t *err)
{
    json_t *doc = policy_reason(v->check, v->detail, v->line, v->row,
                                v->mapped ? v->table : NULL, v->policy, time_now_ms());
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    char *rkey = arena_sprintf(a, "%s.reason.json", key);
    store_writer_t *w = NULL;
    int rc = text && rkey ? store_writer_begin(&w, p->o.store, 0, err)
                          : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc)
        rc = store_writer_write(w, text, strlen(text), err);
    if (!rc) {
        store_meta_t meta = {.content_type = "application/json"};
        rc = store_writer_commit(w, "quarantine", rkey, &meta, NULL, a, err);
        w = NULL;
    }
    store_writer_abort(w);
    free(text);
    return rc;
}

static int register_cleaned(lane_t *p, const char *key, const hive_key_t *hk,
                            const classify_result_t *cls, const store_object_t *o,
                            tarn_err_t *err)
{
    char sha[65];
    hash_hex(sha, o->sha256, 32);
    catalog_file_in_t in = {.zone = "cleaned", .key = key, .size = o->size, .etag = o->etag,
                            .sha256 = sha, .status = CATALOG_FILE_OK, .hk = hk, .cls = cls};
    return catalog_files_apply(p->o.catalog, &in, 1, NULL, 0, NULL, 0, NULL, err);
}

/* pending -> moved: the object is copied to cleaned or quarantine, or (a release that
 * fails again) its reason is renewed; a vanished object's row is dropped. */
static int move(lane_t *p, const row_t *row, verdict_t *v, arena_t *a, tarn_err_t *err)
{
    db_t *db = catalog_db(p->o.catalog);
    hook_ctx_t h = {p, row, v};
    store_object_t copy;
    int rc;
    if (v->pass) {
        store_hook_t hook = {on_cleaned, &h};
        rc = copy_object(p, row->source, row->key, row->etag, "cleaned", &hook, &copy, a, err);
        if (!rc && v->mapped && !v->hidden && v->have_cls)
            rc = register_cleaned(p, row->key, &v->hk, &v->cls, &copy, err);
    } else if ((rc = write_reason(p, row->key, v, a, err))) {
        return rc;
    } else if (!strcmp(row->source, "quarantine")) {
        /* Still failing: the object stays where it is, with the new reason. */
        if ((rc = db_exec(db, "BEGIN IMMEDIATE", err)))
            return rc;
        if (!(rc = quarantine_record(p, row->key, v, err)) &&
            !(rc = row_set_moved(db, row->id, "quarantined", err)))
            rc = row_delete(db, row->id, err);
        return rc ? (db_exec(db, "ROLLBACK", NULL), rc) : db_exec(db, "COMMIT", err);
    } else {
        store_hook_t hook = {on_quarantined, &h};
        rc = copy_object(p, row->source, row->key, row->etag, "quarantine", &hook, &copy, a,
                         err);
    }
    if (rc == TARN_ECONFLICT || rc == TARN_ENOTFOUND) {
        v->gone = true; /* replaced or removed meanwhile: its own event takes over */
        return row_delete(db, row->id, err);
    }
    return rc;
}

static int64_t retention_ms(lane_t *p, const json_t *policy)
{
    json_t *r = json_object_get(policy, "raw_retention_s");
    int64_t s = json_is_integer(r) ? json_integer_value(r) : p->o.raw_retention_s;
    return s > 0 ? s * 1000 : 0;
}

/* moved -> gone (or kept): registers a promoted object that a crash left unregistered,
 * then removes the source. */
static int finish(lane_t *p, const row_t *row, verdict_t *v, bool resumed, arena_t *a,
                  tarn_err_t *err)
{
    db_t *db = catalog_db(p->o.catalog);
    tarn_err_t e = {0};
    bool mapped = v->mapped || !hive_parse_key(&v->hk, row->key, a, &e);
    int rc = 0;
    if (mapped && !v->policy &&
        (rc = catalog_promotion_get(p->o.catalog, v->hk.db, v->hk.table, &v->policy, err)))
        return rc;
    if (resumed && mapped && !v->hk.hidden && !strcmp(row->outcome, "cleaned")) {
        store_object_t o;
        char *path = arena_sprintf(a, "%s/cleaned/%s", p->objects_dir, row->key);
        if (path && !store_object_head(p->o.store, "cleaned", row->key, &o, a, &e) &&
            !classify_file(&v->cls, p->conn, path, a, &e)) {
            v->have_cls = true;
            if ((rc = register_cleaned(p, row->key, &v->hk, &v->cls, &o, err)))
                return rc;
        }
    }
    if (!strcmp(row->source, "quarantine")) {
        /* A released object now in cleaned: drop it and its reason from quarantine. */
        char *rkey = arena_sprintf(a, "%s.reason.json", row->key);
        if (!rkey)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        if ((rc = store_object_delete(p->o.store, "quarantine", rkey, NULL, err)) ||
            (rc = store_object_delete_if(p->o.store, "quarantine", row->key, row->etag, NULL,
                                         err)) ||
            (rc = db_exec(db, "BEGIN IMMEDIATE", err)))
            return rc;
        if (!(rc = promote_sql(db, "DELETE FROM proc_quarantine WHERE key = ?1", row->key, NULL,
                               0, err)) &&
            !(rc = promote_quarantine_recount(p->o.catalog, mapped ? v->hk.db : NULL,
                                              mapped ? v->hk.table : NULL, err)))
            rc = row_delete(db, row->id, err);
        return rc ? (db_exec(db, "ROLLBACK", NULL), rc) : db_exec(db, "COMMIT", err);
    }
    int64_t keep = retention_ms(p, v->policy);
    if (keep > 0) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)row->id);
        return promote_sql(db, "UPDATE proc_promotions SET state = 'kept', remove_after_ms = ?3"
                               " WHERE id = CAST(?1 AS INTEGER)",
                           id, NULL, time_now_ms() + keep, err);
    }
    killpoint_hit("promote-linked"); /* in cleaned or quarantine, not yet gone from raw */
    hook_ctx_t h = {p, row, v};
    store_hook_t hook = {on_raw_removed, &h};
    if ((rc = store_object_delete_if(p->o.store, "raw", row->key, row->etag, &hook, err)))
        return rc;
    return row_delete(db, row->id, err); /* when the raw object was already gone */
}

static int process_row(lane_t *p, const row_t *row, arena_t *a, tarn_err_t *err)
{
    verdict_t v = {0};
    bool resumed = strcmp(row->state, "pending") != 0;
    int rc = 0;
    if (!resumed) {
        if ((rc = decide(p, row, &v, a, err)))
            goto done;
        if (v.gone) {
            rc = row_delete(catalog_db(p->o.catalog), row->id, err);
            goto done;
        }
        if (v.unchanged) {
            db_t *db = catalog_db(p->o.catalog);
            if ((rc = db_exec(db, "BEGIN IMMEDIATE", err)))
                goto done;
            rc = row_set_moved(db, row->id, "unchanged", err);
            if ((rc = rc ? (db_exec(db, "ROLLBACK", NULL), rc) : db_exec(db, "COMMIT", err)))
                goto done;
        }
        /* A release that fails again has renewed its reason and is through. */
        if ((!v.unchanged && (rc = move(p, row, &v, a, err))) || v.gone ||
            (!v.pass && !strcmp(row->source, "quarantine")))
            goto done;
        row_t moved = *row;
        moved.state = "moved";
        moved.outcome = v.unchanged ? "unchanged" : v.pass ? "cleaned" : "quarantined";
        rc = finish(p, &moved, &v, false, a, err);
        goto done;
    }
    rc = finish(p, row, &v, true, a, err);
done:
    verdict_free(&v);
    return rc;
}

/* ---- the thread ---- */

/* Takes landings in raw from the event queue into rows, with the cursor, in one
 * transaction. Returns how many events were read (0: none pending). */
static int intake(promoter_t *p, tarn_err_t *err)
{
    db_t *db = catalog_db(p->o.catalog);
    int64_t pos;
    int rc = catalog_cursor_get(p->o.catalog, "promoter", &pos, err);
    if (rc)
        return rc;
    arena_t *a = arena_create();
    catalog_event_t *ev;
    size_t n = 0;
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if ((rc = catalog_events_list(db, pos, INTAKE_BATCH, &ev, &n, a, err)) || !n ||
        (rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        goto done;
    int64_t now = time_now_ms();
    for (size_t i = 0; !rc && i < n; i++) {
        const catalog_event_t *e = &ev[i];
        if (!e->zone || strcmp(e->zone, "raw") || strcmp(e->type, "object.landed") || !e->key ||
            !*e->key || e->key[strlen(e->key) - 1] == '/')
            continue;
        json_t *pl = json_loads(e->payload, 0, NULL);
        const char *etag = json_string_value(json_object_get(pl, "etag"));
        sqlite3_stmt *st;
        if (!(rc = db_prepare(db, &st,
                              "INSERT INTO proc_promotions(source, key, etag, event_id, state,"
                              " created_ms) VALUES('raw', ?1, ?2, ?3, 'pending', ?4)",
                              err))) {
            sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, etag ? etag : "", -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, e->id);
            sqlite3_bind_int64(st, 4, now);
            int step = sqlite3_step(st);
            db_done(db, st);
            if (step != SQLITE_DONE)
                rc = db_fail(db, step, err, "take a landing in");
        }
        json_decref(pl);
    }
    if (!rc)
        rc = catalog_cursor_set(p->o.catalog, "promoter", ev[n - 1].id, err);
    rc = rc ? (db_exec(db, "ROLLBACK", NULL), rc) : db_exec(db, "COMMIT", err);
done:
    arena_free(a);
    return rc ? rc : (int)n;
}

/* Counts a failed attempt at a row; after MAX_ATTEMPTS the row is left aside ("stuck",
 * its object untouched where it is) so the rows behind it move on. */
static void note_failure(lane_t *p, const row_t *row, const tarn_err_t *e)
{
    db_t *db = catalog_db(p->o.catalog);
    sqlite3_stmt *st;
    if (db_prepare(db, &st,
                   "UPDATE proc_promotions SET attempts = attempts + 1, error = ?2,"
                   " state = CASE WHEN attempts + 1 >= ?3 THEN 'stuck' ELSE state END"
                   " WHERE id = ?1",
                   NULL))
        return;
    sqlite3_bind_int64(st, 1, row->id);
    sqlite3_bind_text(st, 2, e->msg, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, MAX_ATTEMPTS);
    sqlite3_step(st);
    db_done(db, st);
    log_warn("promotion failed", "key", row->key, "source", row->source, "error", e->msg);
}

/* Reads up to WORK_BATCH rows in the given states, oldest first, into arena a. */
static int rows_load(promoter_t *p, const char *where, int64_t now, row_t **out, size_t *n,
                     arena_t *a, tarn_err_t *err)
{
    db_t *db = catalog_db(p->o.catalog);
    sqlite3_stmt *st;
    char *sql = arena_sprintf(a,
                              "SELECT id, source, key, etag, state, coalesce(outcome, '') FROM"
                              " proc_promotions WHERE %s ORDER BY id LIMIT %d",
                              where, WORK_BATCH);
    row_t *v = arena_alloc(a, WORK_BATCH * sizeof *v);
    if (!sql || !v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = db_prepare(db, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    size_t k = 0;
    while (k < WORK_BATCH && sqlite3_step(st) == SQLITE_ROW) {
#define T(i) arena_strdup(a, (const char *)sqlite3_column_text(st, i))
        v[k] = (row_t){sqlite3_column_int64(st, 0), T(1), T(2), T(3), T(4), T(5)};
#undef T
        if (!v[k].source || !v[k].key || !v[k].etag || !v[k].state || !v[k].outcome) {
            db_done(db, st);
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
        k++;
    }
    db_done(db, st);
    *out = v;
    *n = k;
    return 0;
}

/* The rows of one lane in a pass: those of the groups given to it, in id order. */
typedef struct {
    promoter_t *p;
    lane_t *lane;
    row_t *rows;
    const int *lane_of; /* per row */
    int index;
    size_t n, handled;
} lane_job_t;

static void lane_main(void *arg)
{
    lane_job_t *j = arg;
    arena_t *a = arena_create();
    for (size_t i = 0; a && i < j->n; i++) {
        if (j->lane_of[i] != j->index)
            continue;
        if (worker_stopping(j->p->worker))
            break;
        tarn_err_t e = {0};
        if (process_row(j->lane, &j->rows[i], a, &e))
            note_failure(j->lane, &j->rows[i], &e);
        j->handled++;
    }
    arena_free(a);
}

/* Which lane takes each row: rows sharing a key (the same object landed again) or an
 * ETag (maybe the same bytes, which the duplicate check must see one after the other)
 * form one group, taken by one lane in id order; groups are dealt out in turn. */
static void deal_rows(const row_t *rows, size_t n, int nlanes, int *lane_of)
{
    size_t root[WORK_BATCH];
    for (size_t i = 0; i < n; i++) {
        root[i] = i;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rows[i].key, rows[j].key) || !strcmp(rows[i].etag, rows[j].etag)) {
                size_t ri = root[i], rj = root[j];
                size_t lo = ri < rj ? ri : rj, hi = ri < rj ? rj : ri;
                for (size_t k = 0; k <= i; k++)
                    if (root[k] == hi)
                        root[k] = lo;
            }
    }
    int next = 0;
    for (size_t i = 0; i < n; i++)
        lane_of[i] = root[i] == i ? next++ % nlanes : lane_of[root[i]];
}

/* One pass over open rows, then over kept ones whose time is up. Returns rows handled. */
static int work(promoter_t *p, tarn_err_t *err)
{
    arena_t *a = arena_create();
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    row_t *rows;
    size_t n = 0, handled = 0;
    int rc = rows_load(p, "state IN ('pending', 'moved') AND ?1 >= 0", 0, &rows, &n, a, err);
    if (!rc && n) {
        int lane_of[WORK_BATCH];
        int nl = p->nlanes < (int)n ? p->nlanes : (int)n;
        deal_rows(rows, n, nl, lane_of);
        lane_job_t jobs[MAX_LANES];
        for (int k = 0; k < nl; k++)
            jobs[k] = (lane_job_t){p, &p->lanes[k], rows, lane_of, k, n, 0};
        worker_fanout("promote-lane", lane_main, jobs, sizeof *jobs, nl);
        for (int k = 0; k < nl; k++)
            handled += jobs[k].handled;
    }
    size_t nk = 0;
    if (!rc)
        rc = rows_load(p, "state = 'kept' AND remove_after_ms <= ?1", time_now_ms(), &rows, &nk,
                       a, err);
    lane_t *l = &p->lanes[0];
    for (size_t i = 0; !rc && i < nk; i++) {
        hook_ctx_t h = {l, &rows[i], NULL};
        store_hook_t hook = {on_raw_removed, &h};
        tarn_err_t e = {0};
        if (store_object_delete_if(p->o.store, "raw", rows[i].key, rows[i].etag, &hook, &e) ||
            row_delete(catalog_db(p->o.catalog), rows[i].id, &e))
            note_failure(l, &rows[i], &e);
        handled++;
    }
    arena_free(a);
    return rc ? rc : (int)handled;
}

/* When the next object kept in raw (raw retention) is due to leave it, on
 * time_mono_ms's clock; WORKER_FOREVER when none is kept. */
static int64_t next_removal(promoter_t *p)
{
    db_t *db = catalog_db(p->o.catalog);
    sqlite3_stmt *st;
    int64_t now = time_mono_ms(), due = now + 1000; /* a failed look: look again */
    if (db_prepare(db, &st, "SELECT min(remove_after_ms) FROM proc_promotions WHERE"
                            " state = 'kept'", NULL))
        return due;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            due = WORKER_FOREVER;
        } else {
            int64_t left = sqlite3_column_int64(st, 0) - time_now_ms();
            due = now + (left > 0 ? left : 0);
        }
    }
    db_done(db, st);
    return due;
}

/* Sleeps until an event is committed, a release is asked for (both watched) or a kept
 * object is due, then works until nothing is left. */
static void promote_main(worker_t *w, void *ctx)
{
    promoter_t *p = ctx;
    int backoff_ms = 0;
    int64_t due = WORKER_FOREVER;
    while (!worker_wait(w, due)) {
        while (!worker_stopping(w)) {
            tarn_err_t err = {0};
            int got = intake(p, &err);
            int done = got < 0 ? got : work(p, &err);
            if (got < 0 || done < 0) {
                /* Keep every position and retry: a busy database or a full disk passes. */
                log_info("promoter retrying", "error", err.msg);
                if (worker_backoff(w, &backoff_ms))
                    return;
                continue;
            }
            backoff_ms = 0;
            if (got == 0 && done == 0)
                break;
        }
        due = next_removal(p);
    }
}

int promote_start(promoter_t **out, const promote_opts_t *o, tarn_err_t *err)
{
    promoter_t *p = calloc(1, sizeof *p);
    if (!p)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    p->o = *o;
    snprintf(p->objects_dir, sizeof p->objects_dir, "%s", o->objects_dir);
    p->o.objects_dir = p->objects_dir;
    p->watches[0] = p->watches[1] = -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = o->workers > 0 ? o->workers : cores > 0 ? (int)cores : 1;
    p->nlanes = want < MAX_LANES ? want : MAX_LANES;
    int rc = 0;
    for (int k = 0; !rc && k < p->nlanes; k++) {
        p->lanes[k] = (lane_t){.o = p->o, .objects_dir = p->objects_dir};
        rc = engine_connect(o->engine, &p->lanes[k].conn, err);
    }
    if (!rc)
        rc = worker_start(&p->worker, "promoter", promote_main, p, err);
    db_t *db = catalog_db(o->catalog);
    if (!rc && ((p->watches[0] = db_watch(db, "events", worker_wake_cb, p->worker)) < 0 ||
                (p->watches[1] = db_watch(db, "proc_promotions", worker_wake_cb, p->worker)) < 0))
        rc = TARN_ERR(err, TARN_ENOMEM, "cannot watch the catalog for changes");
    if (rc) {
        promote_stop(p);
        return rc;
    }
    *out = p;
    return 0;
}

void promote_stop(promoter_t *p)
{
    if (!p)
        return;
    for (int k = 0; k < 2; k++)
        db_unwatch(catalog_db(p->o.catalog), p->watches[k]);
    worker_stop(p->worker);
    for (int k = 0; k < p->nlanes; k++)
        if (p->lanes[k].conn)
            engine_disconnect(p->lanes[k].conn);
    free(p);
}
