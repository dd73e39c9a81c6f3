/* The MySQL/MariaDB source (type mysql): a consistent snapshot of the configured tables,
 * then, in cdc mode, every change from the binlog (ROW format, full row images and full
 * metadata) as change files in raw/<target database>/<table>/. The snapshot is read inside
 * START TRANSACTION WITH CONSISTENT SNAPSHOT, which tells the binlog position it
 * corresponds to, and the stream starts exactly there: nothing is missed or doubled at the
 * seam. This file holds the plugin (configuration, checks, life) and the snapshot;
 * mysql_stream.c the binlog. */
#include "ingest/sources/mysql_internal.h"

#include "ingest/source_db.h"
#include "ingest/sources.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S(o, k) json_string_value(config_map_get((o), (k)))
#define I(o, k) json_integer_value(config_map_get((o), (k)))

enum { STOPPED = 2 }; /* a snapshot left off because the source is stopping */

/* ---- the configuration ---- */

static const char *const sslmodes[] = {"disable", "require", "verify-full", NULL};

static const config_entry_t connection[] = {
    {.name = "host", .type = CONFIG_STRING, .def = "127.0.0.1"},
    {.name = "port", .type = CONFIG_INT, .def = "3306", .min = 1, .max = 65535},
    {.name = "database", .type = CONFIG_STRING,
     .help = "the default database: its tables land under their own names, others' as "
             "<database>_<table>"},
    {.name = "user", .type = CONFIG_STRING, .required = true,
     .help = "for cdc a user with REPLICATION SLAVE, REPLICATION CLIENT and SELECT on the "
             "tables"},
    {.name = "password", .type = CONFIG_STRING, .secret = true},
    {.name = "password_file", .type = CONFIG_STRING,
     .help = "a file on the server holding the password (read at every start)"},
    {.name = "password_env", .type = CONFIG_STRING,
     .help = "an environment variable of the server holding the password"},
    {.name = "sslmode", .type = CONFIG_ENUM, .values = sslmodes, .def = "disable",
     .help = "require: TLS; verify-full: TLS with the server's certificate and name checked"},
    {.name = "sslrootcert", .type = CONFIG_STRING,
     .help = "CA certificates (a PEM file on the server) for verify-full"},
    {.name = "connect_timeout", .type = CONFIG_DURATION, .def = "10s", .min = 1000,
     .max = 600000},
    {0}};

static const config_entry_t mysql_config[] = {
    {.name = "connection", .type = CONFIG_MAP, .required = true, .fields = connection},
    {.name = "tables", .type = CONFIG_STRINGS, .required = true,
     .help = "database.table or database.* (every table of the database)"},
    {.name = "mode", .type = CONFIG_ENUM, .values = source_db_modes, .def = "cdc",
     .help = SOURCE_DB_MODE_HELP},
    SOURCE_DB_SCHEDULE_CONFIG("database"),
    {.name = "format", .type = CONFIG_ENUM, .values = source_db_formats, .def = "parquet"},
    {.name = "server_id", .type = CONFIG_INT, .min = 1, .max = 4294967295,
     .help = "the replica's server id, unique among the server's replicas (default: one "
             "derived from the source's name)"},
    {.name = "batch", .type = CONFIG_MAP, .def = "{}", .fields = source_db_batch_config},
    {.name = "target", .type = CONFIG_MAP, .def = "{}", .fields = source_db_target_config},
    {0}};

static int check(const json_t *cfg, tarn_err_t *err)
{
    return source_db_check(cfg, "database", "`\"'", err);
}

/* The configured server id, or one from the source's name (FNV-1a) in a range that
 * servers' own ids rarely use. */
static uint32_t server_id_of(const json_t *cfg, const char *source)
{
    if (config_map_get(cfg, "server_id"))
        return (uint32_t)I(cfg, "server_id");
    uint32_t h = 2166136261u;
    for (const char *p = source; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return 0x40000000u | (h & 0x3fffffffu);
}

static int probe(const json_t *cfg, const char *source, tarn_err_t *err)
{
    (void)source;
    MYSQL *c = NULL;
    my_table_t *t = NULL;
    size_t n = 0;
    bool cdc = source_db_is_cdc(cfg);
    int rc = my_connect(&c, cfg, 30, err);
    if (!rc && cdc)
        rc = my_check_server(c, cfg, err);
    if (!rc)
        rc = my_tables_resolve(c, cfg, cdc, &t, &n, err);
    my_tables_free(t, n);
    if (c)
        mysql_close(c);
    return rc;
}

static int tables(const json_t *cfg, const char *source, json_t **out, tarn_err_t *err)
{
    (void)source;
    MYSQL *c = NULL;
    my_table_t *t = NULL;
    size_t n = 0;
    json_t *a = json_array();
    int rc = a ? my_connect(&c, cfg, 30, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc)
        rc = my_tables_resolve(c, cfg, false, &t, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *keys = json_array();
        for (size_t k = 0; keys && k < t[i].cols->ncols; k++)
            if (t[i].cols->cols[k].key)
                json_array_append_new(keys, json_string(t[i].cols->cols[k].name));
        char q[300];
        snprintf(q, sizeof q, "%s.%s", t[i].db, t[i].name);
        if (!keys || json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "table", q, "lake",
                                                        t[i].lake, "keys", keys)))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    my_tables_free(t, n);
    if (c)
        mysql_close(c);
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

/* ---- batches and the cursor ---- */

int my_batch_commit(my_source_t *s, const char *phase, const my_pos_t *end, const char *gtid,
                    const char *tag, tarn_err_t *err)
{
    char text[200];
    snprintf(text, sizeof text, "%s:%llu", end->file, (unsigned long long)end->pos);
    json_t *cursor = json_pack("{s:s, s:s, s:I, s:s}", "phase", phase, "file", end->file, "pos",
                               (json_int_t)end->pos, "gtid", gtid);
    if (cursor && s->watermarks &&
        (json_object_set(cursor, "watermarks", s->watermarks) ||
         json_object_set(cursor, "watermark_columns", s->wm_cols))) {
        json_decref(cursor);
        cursor = NULL;
    }
    if (!cursor)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = source_db_commit(s->env, s->batch, tag, cursor, text, err);
    json_decref(cursor);
    return rc;
}

/* ---- the snapshot ---- */

static void snapshot_tag(char *tag, size_t cap, const my_pos_t *p, int64_t started, uint64_t seq)
{
    snprintf(tag, cap, "%010u-%016llX-%013lld-s%06llu", p->seq, (unsigned long long)p->pos,
             (long long)started, (unsigned long long)seq);
}

/* Stages a row of group g with no values and _op op at pos: the `t` that starts each
 * table's image in snapshot mode and in a cdc source's --resnapshot, so the image replaces
 * what came before. */
static int add_marker(my_source_t *s, size_t g, const char *op, const char *pos, const char *ts,
                      tarn_err_t *err)
{
    static const char *const names[] = {"_op", "_source_pos", "_commit_ts"};
    const char *values[] = {op, pos, ts};
    return change_batch_add_strings(s->batch, g, names, values, 3, err);
}

static void put_ident(buf_t *b, const char *name)
{
    buf_putc(b, '`');
    for (const char *p = name; *p; p++)
        buf_printf(b, *p == '`' ? "``" : "%c", *p);
    buf_putc(b, '`');
}

/* The SELECT that reads t: every row, or in mode incremental the rows whose watermark is
 * above last (NULL: the first run), in the watermark's order. */
static void select_sql(my_source_t *s, const my_table_t *t, const char *last, buf_t *sql)
{
    const bl_table_t *bt = t->cols;
    buf_puts(sql, "SELECT ");
    for (size_t i = 0; i < bt->ncols; i++) {
        buf_puts(sql, i ? ", " : "");
        put_ident(sql, bt->cols[i].name);
    }
    buf_printf(sql, " FROM `%s`.`%s`", t->db, t->name);
    if (t->wm < 0)
        return;
    const bl_col_t *c = &bt->cols[t->wm];
    /* Rows without a watermark are never read: no run could tell they changed. */
    buf_puts(sql, " WHERE ");
    put_ident(sql, c->name);
    buf_puts(sql, " IS NOT NULL");
    if (last) {
        buf_puts(sql, " AND ");
        put_ident(sql, c->name);
        /* A number compared with a quoted string is compared as a double: a BIGINT
         * watermark past 2^53 would not be exact, so numbers go in as numbers. */
        size_t n = strlen(last);
        bool number = my_col_numeric(c) && n && strspn(last, "0123456789+-.eE") == n;
        if (number) {
            buf_printf(sql, " > %s", last);
        } else {
            char *esc = malloc(2 * n + 1);
            if (esc)
                mysql_real_escape_string(s->conn, esc, last, (unsigned long)n);
            buf_printf(sql, " > '%s'", esc ? esc : "");
            free(esc);
        }
    }
    buf_puts(sql, " ORDER BY ");
    put_ident(sql, c->name);
}

/* Reads table t in the snapshot's transaction into the batch. A snapshot (cdc's, or a run
 * of mode snapshot, whose tables each start with a `t` row) holds its full batches,
 * converted in the background while the next is read, to land them all at its end; an
 * incremental run lands a full batch where the watermark changes, with the watermark in
 * the cursor. */
static int snapshot_table(my_source_t *s, my_table_t *t, const my_pos_t *at, const char *ts,
                          int64_t started, uint64_t *seq, tarn_err_t *err)
{
    change_col_t *cols = NULL;
    size_t ncols = 0, g = 0;
    buf_t sql = BUF_INIT, line = BUF_INIT, last = BUF_INIT;
    MYSQL_RES *r = NULL;
    int64_t rows = 0;
    const bl_table_t *bt = t->cols;
    bool image = !s->bt.incremental && (!s->bt.cdc || s->env->resnapshot), cut = false;
    /* Parquet batches stage CSV (read typed, several times faster than JSON) and commit in
     * the background while the next batch is read. */
    bool csv = change_batch_parquet(s->batch);
    change_stage_t stage = csv ? CHANGE_STAGE_CSV : CHANGE_STAGE_JSON;
    char key[300];
    snprintf(key, sizeof key, "%s.%s", t->db, t->name);
    int rc = my_change_cols(bt, &cols, &ncols, err);
    if (rc || (rc = change_batch_group_as(s->batch, t->lake, cols, ncols, stage, &g, err)))
        goto done;
    select_sql(s, t, t->wm >= 0 ? json_string_value(json_object_get(s->watermarks, key)) : NULL,
               &sql);
    if (!sql.data || mysql_query(s->conn, sql.data) || !(r = mysql_use_result(s->conn))) {
        rc = TARN_ERR(err, TARN_EUPSTREAM, "read %s.%s: %s", t->db, t->name,
                      mysql_error(s->conn));
        goto done;
    }
    source_status_table(s->env->status, t->lake, 0, t->wm >= 0 ? -1 : t->estimate, false);
    if (image) {
        char pos[48];
        my_source_pos(pos, sizeof pos, at, 0);
        if ((rc = add_marker(s, g, "t", pos, ts, err)))
            goto done;
    }
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        unsigned long *len = mysql_fetch_lengths(r);
        buf_reset(&line);
        char pos[48];
        my_source_pos(pos, sizeof pos, at, (uint32_t)++rows);
        if (csv) {
            for (size_t i = 0; i < bt->ncols; i++) {
                my_text_value(&line, &bt->cols[i], row[i], row[i] ? len[i] : 0, true);
                buf_putc(&line, ',');
            }
            buf_printf(&line, "r,%s,%s,,", pos, ts); /* _txid, _old_key: NULL */
        } else {
            buf_putc(&line, '{');
            for (size_t i = 0; i < bt->ncols; i++) {
                buf_put_json_string(&line, bt->cols[i].name, strlen(bt->cols[i].name));
                buf_putc(&line, ':');
                my_text_value(&line, &bt->cols[i], row[i], row[i] ? len[i] : 0, false);
                buf_putc(&line, ',');
            }
            buf_printf(&line, "\"_op\":\"r\",\"_source_pos\":\"%s\",\"_commit_ts\":\"%s\","
                              "\"_txid\":null,\"_old_key\":null}", pos, ts);
        }
        if (!line.data) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        const char *wm = t->wm >= 0 && row[t->wm] ? row[t->wm] : "";
        size_t wlen = t->wm >= 0 && row[t->wm] ? len[t->wm] : 0;
        /* Mode incremental lands a full batch only where the watermark changes: the next
         * run reads above the cursor's watermark, so rows sharing it must land together. */
        if (cut && (wlen != last.len - 1 || memcmp(wm, last.data, wlen))) {
            char tag[64];
            snapshot_tag(tag, sizeof tag, at, started, ++*seq);
            json_object_set_new(s->watermarks, key, json_string(last.data));
            if ((rc = my_batch_commit(s, "incremental", at, "", tag, err)) ||
                (rc = change_batch_group_as(s->batch, t->lake, cols, ncols, stage, &g, err)))
                break;
            cut = false;
            source_status_table(s->env->status, t->lake, rows - 1, -1, false);
            if (atomic_load(s->env->stop)) {
                rc = STOPPED;
                break;
            }
        }
        if ((rc = change_batch_add(s->batch, g, line.data, line.len, err)))
            break;
        if (t->wm >= 0) {
            buf_reset(&last);
            buf_append(&last, wm, wlen);
            buf_putc(&last, '\0');
            if (!last.data) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                break;
            }
        }
        bool full = change_batch_rows(s->batch) >= s->bt.max_rows ||
                    change_batch_bytes(s->batch) >= s->bt.max_bytes;
        if (full && s->bt.incremental) {
            cut = true;
        } else if (full) {
            char tag[64];
            snapshot_tag(tag, sizeof tag, at, started, ++*seq);
            if ((rc = change_batch_hold(s->batch, tag, err)) ||
                (rc = change_batch_group_as(s->batch, t->lake, cols, ncols, stage, &g, err)))
                break;
            source_status_table(s->env->status, t->lake, rows, t->estimate, false);
            if (atomic_load(s->env->stop)) {
                rc = STOPPED;
                break;
            }
        }
    }
    if (rc) {
        /* Left mid-table: closing the connection spares reading the rest of the rows. */
        mysql_close(s->conn);
        s->conn = NULL;
        r = NULL;
        goto done;
    }
    if (mysql_errno(s->conn)) {
        rc = TARN_ERR(err, TARN_EUPSTREAM, "read %s.%s: %s", t->db, t->name,
                      mysql_error(s->conn));
        goto done;
    }
    if (t->wm >= 0 && rows)
        json_object_set_new(s->watermarks, key, json_string(last.data));
    source_status_table(s->env->status, t->lake, rows, rows, true);
done:
    if (r)
        mysql_free_result(r);
    my_cols_free(cols, ncols);
    buf_free(&sql);
    buf_free(&line);
    buf_free(&last);
    return rc;
}

/* Binlog_snapshot_file and Binlog_snapshot_position of the open snapshot into v[0], v[1]. */
static int snapshot_position(MYSQL *c, char v[][128], tarn_err_t *err)
{
    MYSQL_RES *r = NULL;
    if (mysql_query(c, "SHOW STATUS LIKE 'binlog_snapshot_%'") || !(r = mysql_store_result(c)))
        return TARN_ERR(err, TARN_EUPSTREAM, "read the snapshot's binlog position: %s",
                        mysql_error(c));
    MYSQL_ROW row;
    v[0][0] = v[1][0] = '\0';
    while ((row = mysql_fetch_row(r)))
        if (row[0] && row[1] && !strcasecmp(row[0], "Binlog_snapshot_file"))
            snprintf(v[0], 128, "%s", row[1]);
        else if (row[0] && row[1] && !strcasecmp(row[0], "Binlog_snapshot_position"))
            snprintf(v[1], 128, "%s", row[1]);
    mysql_free_result(r);
    return 0;
}

static int snapshot(my_source_t *s, tarn_err_t *err)
{
    my_pos_t at = {0};
    char gtid[128] = "", v[2][128];
    source_status_state(s->env->status, s->bt.incremental ? "reading" : "snapshotting");
    source_status_tables_reset(s->env->status);
    if (!s->conn) {
        int rc = my_connect(&s->conn, s->cfg, 0, err);
        if (rc)
            return rc;
    }
    int64_t started = time_now_ms();
    char ts[48];
    source_db_timestamp(ts, sizeof ts, started * 1000);
    int rc = my_exec(s->conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                     "begin the snapshot", err);
    if (!rc)
        rc = my_exec(s->conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                     "begin the snapshot", err);
    /* MariaDB tells the binlog position the snapshot sees, without a lock. */
    if (!rc)
        rc = snapshot_position(s->conn, v, err);
    if (rc)
        return rc;
    if (s->bt.cdc && !*v[0])
        return TARN_ERR(err, TARN_EINVAL, "this server does not tell the binlog position of a "
                        "consistent snapshot (binlog_snapshot_file, as MariaDB does), so change "
                        "capture cannot start where the snapshot ends");
    snprintf(at.file, sizeof at.file, "%s", v[0]);
    at.seq = my_file_seq(at.file);
    at.pos = strtoull(v[1], NULL, 10);
    /* Each run's rows sort after the last run's, even when the binlog did not move (or is
     * off): the latest run's row of a key wins downstream. */
    if (!s->bt.cdc &&
        (at.seq < s->last.seq || (at.seq == s->last.seq && at.pos <= s->last.pos))) {
        at = s->last;
        at.pos++;
    }
    if (s->bt.cdc) {
        char q[300], g[1][128];
        snprintf(q, sizeof q, "SELECT BINLOG_GTID_POS('%s', %llu)", at.file,
                 (unsigned long long)at.pos);
        if (strchr(at.file, '\'') == NULL && my_query_row(s->conn, q, g, 1, err) > 0)
            snprintf(gtid, sizeof gtid, "%s", g[0]);
    }
    uint64_t seq = 0;
    for (size_t i = 0; !rc && i < s->ntables; i++)
        rc = snapshot_table(s, &s->tables[i], &at, ts, started, &seq, err);
    if (rc)
        return rc;
    if ((rc = my_exec(s->conn, "COMMIT", "end the snapshot", err)))
        return rc;
    char tag[64];
    snapshot_tag(tag, sizeof tag, &at, started, ++seq);
    /* The snapshot's last files and the cursor that starts the stream, together. */
    const char *phase = s->bt.cdc ? "streaming" : s->bt.incremental ? "incremental"
                                                                     : "snapshot-done";
    if ((rc = my_batch_commit(s, phase, &at, gtid, tag, err)))
        return rc;
    s->cursor = at;
    snprintf(s->cursor_gtid, sizeof s->cursor_gtid, "%s", gtid);
    return 0;
}

/* ---- life ---- */

static void stop(void *state)
{
    my_source_t *s = state;
    if (!s)
        return;
    my_stream_free(s);
    if (s->conn)
        mysql_close(s->conn);
    change_batch_free(s->batch);
    json_decref(s->watermarks);
    json_decref(s->wm_cols);
    my_tables_free(s->tables, s->ntables);
    free((void *)s->charsets.kinds);
    free(s);
}

/* Mode incremental: the watermarks the cursor holds, each kept only while its table reads
 * by the same column (a new column reads the table from the start), none after a run asked
 * for a new snapshot. */
static int my_watermarks_load(my_source_t *s, const json_t *cursor, tarn_err_t *err)
{
    s->watermarks = json_object();
    s->wm_cols = json_object();
    if (!s->watermarks || !s->wm_cols)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    const json_t *had = json_object_get(cursor, "watermarks");
    const json_t *had_cols = json_object_get(cursor, "watermark_columns");
    for (size_t i = 0; i < s->ntables; i++) {
        const my_table_t *t = &s->tables[i];
        char key[300];
        snprintf(key, sizeof key, "%s.%s", t->db, t->name);
        const char *col = t->cols->cols[t->wm].name;
        json_object_set_new(s->wm_cols, key, json_string(col));
        const char *was = json_string_value(json_object_get(had_cols, key));
        json_t *v = json_object_get(had, key);
        if (v && was && !strcmp(was, col) && !s->env->resnapshot)
            json_object_set(s->watermarks, key, v);
    }
    return 0;
}

static int start(void **state, const json_t *cfg, const ingest_env_t *env, tarn_err_t *err)
{
    my_source_t *s = calloc(1, sizeof *s);
    json_t *cursor = NULL;
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->env = env;
    s->cfg = cfg;
    s->server_id = server_id_of(cfg, env->source);
    int rc = source_db_batch_open(cfg, env, &s->bt, &s->batch, err);
    if (!rc)
        rc = my_connect(&s->conn, cfg, 0, err);
    if (!rc)
        rc = my_tables_resolve(s->conn, cfg, s->bt.cdc, &s->tables, &s->ntables, err);
    if (!rc)
        rc = my_charsets_load(s->conn, &s->charsets, err);
    if (!rc && s->bt.cdc)
        rc = my_check_server(s->conn, cfg, err);
    if (!rc)
        rc = sources_cursor_get(env->db, env->source_id, &cursor, err);
    const char *phase = json_string_value(json_object_get(cursor, "phase"));
    const char *file = json_string_value(json_object_get(cursor, "file"));
    if (!rc && !s->bt.cdc && file) {
        snprintf(s->last.file, sizeof s->last.file, "%s", file);
        s->last.seq = my_file_seq(file);
        s->last.pos = (uint64_t)json_integer_value(json_object_get(cursor, "pos"));
    }
    if (!rc && s->bt.incremental)
        rc = my_watermarks_load(s, cursor, err);
    if (!rc && s->bt.cdc && phase && !strcmp(phase, "streaming") && file && !env->resnapshot) {
        /* Streamed before: on from the end of the last delivered transaction. */
        my_pos_t at = {0};
        snprintf(at.file, sizeof at.file, "%s", file);
        at.seq = my_file_seq(file);
        at.pos = (uint64_t)json_integer_value(json_object_get(cursor, "pos"));
        const char *g = json_string_value(json_object_get(cursor, "gtid"));
        snprintf(s->cursor_gtid, sizeof s->cursor_gtid, "%s", g ? g : "");
        s->cursor = at;
        char text[200];
        snprintf(text, sizeof text, "%s:%llu", at.file, (unsigned long long)at.pos);
        source_status_cursor(env->status, text);
        rc = my_stream_start(s, &at, err);
    }
    json_decref(cursor);
    if (rc) {
        stop(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int run(void *state, tarn_err_t *err)
{
    my_source_t *s = state;
    if (!s->streaming && !s->done) {
        int rc = snapshot(s, err);
        if (rc == STOPPED)
            return 0;
        if (rc)
            return rc;
        if (!s->bt.cdc) {
            s->done = true;
            return INGEST_DONE;
        }
        return my_stream_start(s, &s->cursor, err);
    }
    return s->done ? INGEST_DONE : my_stream_poll(s, 1000, err);
}

const ingest_plugin_t mysql_plugin = {
    .name = "mysql",
    .description = "MySQL and MariaDB tables: a consistent snapshot, then every change from "
                   "the binlog (ROW format), as change files in raw",
    .config = mysql_config,
    .check = check,
    .probe = probe,
    .start = start,
    .run = run,
    .stop = stop,
    .tables = tables,
};
