/* The PostgreSQL source (type postgres): a consistent snapshot of the configured tables,
 * then, in cdc mode, every change from a logical replication slot (the built-in pgoutput
 * plugin), as change files in raw/<target database>/<table>/. The slot is created
 * exporting its snapshot, and the tables are read inside that snapshot on a second
 * connection while the first waits, so the stream starts exactly where the snapshot ends:
 * nothing is missed or doubled at the seam. This file holds the plugin (configuration,
 * checks, life) and the snapshot; postgres_stream.c the stream. */
#include "ingest/sources/postgres_internal.h"

#include "ingest/source_db.h"
#include "ingest/sources.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S(o, k) json_string_value(config_map_get((o), (k)))

enum { STOPPED = 2 }; /* a snapshot left off because the source is stopping */

/* ---- the configuration ---- */

static const char *const sslmodes[] = {"disable", "allow", "prefer", "require", "verify-ca",
                                       "verify-full", NULL};

static const config_entry_t connection[] = {
    {.name = "host", .type = CONFIG_STRING, .def = "127.0.0.1"},
    {.name = "port", .type = CONFIG_INT, .def = "5432", .min = 1, .max = 65535},
    {.name = "database", .type = CONFIG_STRING, .required = true},
    {.name = "user", .type = CONFIG_STRING, .required = true,
     .help = "for cdc a role with REPLICATION, SELECT on the tables, and either ownership of "
             "the tables (to create the publication) or a publication made for it"},
    {.name = "password", .type = CONFIG_STRING, .secret = true},
    {.name = "password_file", .type = CONFIG_STRING,
     .help = "a file on the server holding the password (read at every start)"},
    {.name = "password_env", .type = CONFIG_STRING,
     .help = "an environment variable of the server holding the password"},
    {.name = "sslmode", .type = CONFIG_ENUM, .values = sslmodes, .def = "prefer"},
    {.name = "sslrootcert", .type = CONFIG_STRING,
     .help = "CA certificates (a PEM file on the server) for verify-ca and verify-full"},
    {.name = "connect_timeout", .type = CONFIG_DURATION, .def = "10s", .min = 1000,
     .max = 600000},
    {0}};

static const config_entry_t postgres_config[] = {
    {.name = "connection", .type = CONFIG_MAP, .required = true, .fields = connection},
    {.name = "tables", .type = CONFIG_STRINGS, .required = true,
     .help = "schema.table or schema.* (every table of the schema)"},
    {.name = "mode", .type = CONFIG_ENUM, .values = source_db_modes, .def = "cdc",
     .help = SOURCE_DB_MODE_HELP},
    SOURCE_DB_SCHEDULE_CONFIG("schema"),
    {.name = "format", .type = CONFIG_ENUM, .values = source_db_formats, .def = "parquet"},
    {.name = "publication", .type = CONFIG_STRING,
     .help = "default tarn_<source>; created when missing (the user must own the tables)"},
    {.name = "slot", .type = CONFIG_STRING,
     .help = "the logical replication slot, default tarn_<source>; created by tarn"},
    {.name = "batch", .type = CONFIG_MAP, .def = "{}", .fields = source_db_batch_config},
    {.name = "target", .type = CONFIG_MAP, .def = "{}", .fields = source_db_target_config},
    {0}};

static int check(const json_t *cfg, tarn_err_t *err)
{
    int rc = source_db_check(cfg, "schema", "\"'", err);
    if (rc)
        return rc;
    if (S(cfg, "slot") && !source_db_plain_name(S(cfg, "slot"), false))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "slot: a replication slot's name is 1-63 of a-z, 0-9 and _");
    if (S(cfg, "publication") && !source_db_plain_name(S(cfg, "publication"), true))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "publication: use 1-63 letters, digits and _");
    return 0;
}

/* The slot's and publication's names: configured, or tarn_<source>. */
static void names_of(const json_t *cfg, const char *source, char *slot, char *pub)
{
    char def[64];
    snprintf(def, sizeof def, "tarn_%s", source);
    for (char *p = def; *p; p++)
        if (*p == '-')
            *p = '_';
    snprintf(slot, 64, "%s", S(cfg, "slot") ? S(cfg, "slot") : def);
    snprintf(pub, 64, "%s", S(cfg, "publication") ? S(cfg, "publication") : def);
}

static int probe(const json_t *cfg, const char *source, tarn_err_t *err)
{
    PGconn *c = NULL;
    pg_table_t *t = NULL;
    size_t n = 0;
    char slot[64], pub[64];
    names_of(cfg, source, slot, pub);
    bool cdc = source_db_is_cdc(cfg);
    int rc = pg_connect(&c, cfg, source, false, err);
    if (!rc && cdc)
        rc = pg_check_server(c, cfg, err);
    if (!rc)
        rc = pg_tables_resolve(c, cfg, cdc, &t, &n, err);
    if (!rc && cdc)
        rc = pg_publication_ensure(c, pub, t, n, false, err);
    if (!rc && cdc)
        rc = pg_slot_check(c, slot, err);
    pg_tables_free(t, n);
    if (c)
        PQfinish(c);
    return rc;
}

/* The key columns of table oid in key order: the primary key, else the replica
 * identity's index. */
static int table_keys(PGconn *c, uint32_t oid, json_t *keys, tarn_err_t *err)
{
    PGresult *r;
    int rc = pg_query_oid(
        c,
        "SELECT a.attname FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND"
        " a.attnum = ANY(x.indkey) WHERE x.indrelid = $1::oid AND x.indexrelid = (SELECT"
        " indexrelid FROM pg_index WHERE indrelid = $1::oid AND (indisprimary OR"
        " indisreplident) ORDER BY indisprimary DESC LIMIT 1) ORDER BY"
        " array_position(x.indkey::int2[], a.attnum)",
        oid, &r, err);
    if (rc)
        return rc;
    for (int k = 0; k < PQntuples(r); k++)
        json_array_append_new(keys, json_string(PQgetvalue(r, k, 0)));
    PQclear(r);
    return 0;
}

static int tables(const json_t *cfg, const char *source, json_t **out, tarn_err_t *err)
{
    PGconn *c = NULL;
    pg_table_t *t = NULL;
    size_t n = 0;
    json_t *a = json_array();
    int rc = pg_connect(&c, cfg, source, false, err);
    if (!rc)
        rc = pg_tables_resolve(c, cfg, false, &t, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *keys = json_array();
        char q[300];
        snprintf(q, sizeof q, "%s.%s", t[i].schema, t[i].name);
        json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "table", q, "lake", t[i].lake,
                                           "keys", keys));
        rc = table_keys(c, t[i].oid, keys, err);
    }
    pg_tables_free(t, n);
    if (c)
        PQfinish(c);
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

/* ---- batches and the cursor ---- */

int pg_batch_commit(pg_source_t *s, const char *phase, uint64_t lsn, const char *tag,
                    tarn_err_t *err)
{
    char text[32];
    pgoutput_lsn_format(text, sizeof text, lsn);
    json_t *cursor = json_pack("{s:s, s:s, s:s}", "phase", phase, "slot", s->slot, "lsn", text);
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

/* COPY's text format: the field at *p (up to a tab or the end) unescaped into out; false
 * for \N (NULL). Moves *p past the field and its tab. */
static bool copy_field(const char **p, const char *end, buf_t *out)
{
    const char *s = *p;
    buf_reset(out);
    if (end - s >= 2 && s[0] == '\\' && s[1] == 'N' && (s + 2 == end || s[2] == '\t')) {
        *p = s + 2 + (s + 2 < end);
        return false;
    }
    while (s < end && *s != '\t') {
        if (*s != '\\' || s + 1 == end) {
            buf_putc(out, *s++);
            continue;
        }
        char c = s[1];
        s += 2;
        switch (c) {
        case 'b': buf_putc(out, '\b'); break;
        case 'f': buf_putc(out, '\f'); break;
        case 'n': buf_putc(out, '\n'); break;
        case 'r': buf_putc(out, '\r'); break;
        case 't': buf_putc(out, '\t'); break;
        case 'v': buf_putc(out, '\v'); break;
        default: buf_putc(out, c);
        }
    }
    *p = s + (s < end);
    return true;
}

/* One snapshot row of the CSV kind: PostgreSQL's CSV record (its newline dropped) and the
 * change columns, the position's ordinal written without printf (it is per row). */
static void csv_row(buf_t *line, const char *row, int n, const char *pos_prefix,
                    uint32_t ordinal, const char *ts)
{
    char digits[10];
    for (int i = 9; i >= 0; i--, ordinal /= 10)
        digits[i] = (char)('0' + ordinal % 10);
    buf_reset(line);
    buf_append(line, row, (size_t)n - (n && row[n - 1] == '\n'));
    buf_puts(line, ",r,");
    buf_puts(line, pos_prefix);
    buf_append(line, digits, sizeof digits);
    buf_putc(line, ',');
    buf_puts(line, ts);
    buf_puts(line, ",,"); /* _txid and _old_key: NULL */
}

static void json_row(buf_t *line, const pg_table_t *t, const char *row, int n, buf_t *field,
                     uint64_t lsn, uint32_t ordinal, const char *ts)
{
    const char *p = row, *end = row + n - (n && row[n - 1] == '\n');
    buf_reset(line);
    buf_putc(line, '{');
    for (int i = 0; i < t->ncols; i++) {
        bool has = copy_field(&p, end, field);
        buf_put_json_string(line, t->cols[i].name, strlen(t->cols[i].name));
        buf_putc(line, ':');
        pg_value_json(line, t->cols[i].type, has ? (field->data ? field->data : "") : NULL,
                      field->len);
        buf_putc(line, ',');
    }
    char pos[40];
    pg_source_pos(pos, sizeof pos, lsn, ordinal);
    buf_printf(line, "\"_op\":\"r\",\"_source_pos\":\"%s\",\"_commit_ts\":\"%s\","
                     "\"_txid\":null,\"_old_key\":null}",
               pos, ts);
}

/* Field idx of a COPY row (its newline dropped) into out, in COPY's text format or CSV;
 * false when it is NULL. The watermark's value, as the next run compares it. */
static bool row_field(const char *row, int n, bool csv, int idx, buf_t *field, buf_t *out)
{
    const char *p = row, *end = row + n - (n && row[n - 1] == '\n');
    buf_reset(out);
    if (!csv) {
        bool has = true;
        for (int i = 0; i <= idx; i++)
            has = copy_field(&p, end, field);
        if (has)
            buf_append(out, field->data ? field->data : "", field->len);
        buf_putc(out, '\0');
        return has;
    }
    for (int i = 0;; i++) {
        bool quoted = p < end && *p == '"', has = quoted || (p < end && *p != ',');
        if (quoted) {
            for (p++; p < end; p++) {
                if (*p == '"' && (p + 1 == end || p[1] != '"')) {
                    p++;
                    break;
                }
                if (*p == '"')
                    p++; /* "" inside quotes is one " */
                if (i == idx)
                    buf_putc(out, *p);
            }
        } else {
            for (; p < end && *p != ','; p++)
                if (i == idx)
                    buf_putc(out, *p);
        }
        if (i == idx) {
            buf_putc(out, '\0');
            return has;
        }
        if (p < end)
            p++; /* the comma */
    }
}

/* Stages a row of group g with no values and _op op at position (lsn, 0): the `t` that
 * starts each table's image in snapshot mode and in a cdc source's --resnapshot (keys that
 * vanished while the stream was lost must go), so the image replaces what came before. */
static int add_marker(pg_source_t *s, size_t g, const char *op, uint64_t lsn, const char *ts,
                      tarn_err_t *err)
{
    char pos[40];
    pg_source_pos(pos, sizeof pos, lsn, 0);
    static const char *const names[] = {"_op", "_source_pos", "_commit_ts"};
    const char *values[] = {op, pos, ts};
    return change_batch_add_strings(s->batch, g, names, values, 3, err);
}

/* The COPY that reads t: every row, or in mode incremental the rows whose watermark is
 * above last (NULL: the first run), in the watermark's order. */
static void select_sql(pg_source_t *s, const pg_table_t *t, const char *last, bool csv,
                       buf_t *sql)
{
    buf_puts(sql, "COPY (SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        char *id = PQescapeIdentifier(s->conn, t->cols[i].name, strlen(t->cols[i].name));
        buf_printf(sql, "%s%s", i ? ", " : "", id ? id : "\"?\"");
        PQfreemem(id);
    }
    char *sc = PQescapeIdentifier(s->conn, t->schema, strlen(t->schema));
    char *tn = PQescapeIdentifier(s->conn, t->name, strlen(t->name));
    buf_printf(sql, " FROM %s.%s", sc ? sc : "", tn ? tn : "");
    PQfreemem(sc);
    PQfreemem(tn);
    if (t->wm >= 0) {
        const char *c = t->cols[t->wm].name;
        char *wm = PQescapeIdentifier(s->conn, c, strlen(c));
        /* Rows without a watermark are never read: no run could tell they changed. The
         * literal takes the column's type, so the order is the column's own. */
        buf_printf(sql, " WHERE %s IS NOT NULL", wm ? wm : "");
        if (last) {
            char *lit = PQescapeLiteral(s->conn, last, strlen(last));
            buf_printf(sql, " AND %s > %s", wm ? wm : "", lit ? lit : "NULL");
            PQfreemem(lit);
        }
        buf_printf(sql, " ORDER BY %s", wm ? wm : "");
        PQfreemem(wm);
    }
    buf_printf(sql, ") TO STDOUT%s", csv ? " (FORMAT csv)" : "");
}

/* Reads table t in the snapshot's transaction into the batch. Parquet batches stage
 * PostgreSQL's own CSV (no per-field work here), JSON Lines batches JSON objects built from
 * COPY's text. A snapshot (cdc's, or a run of mode snapshot, whose tables each start with
 * a `t` row) holds its full batches, converted in the background while the next is read,
 * to land them all at its end; an incremental run lands a full batch where the watermark
 * changes, with the watermark in the cursor. */
static int snapshot_table(pg_source_t *s, pg_table_t *t, uint64_t lsn, const char *ts,
                          int64_t started, uint64_t *seq, tarn_err_t *err)
{
    change_col_t *cols = NULL;
    size_t ncols = 0, g = 0;
    buf_t sql = BUF_INIT, line = BUF_INIT, field = BUF_INIT, wm = BUF_INIT, last = BUF_INIT;
    PGresult *r = NULL;
    int64_t rows = 0;
    bool csv = change_batch_parquet(s->batch);
    bool image = !s->bt.incremental && (!s->bt.cdc || s->env->resnapshot), cut = false;
    change_stage_t stage = csv ? CHANGE_STAGE_CSV : CHANGE_STAGE_JSON;
    char pos_prefix[24], key[300];
    snprintf(pos_prefix, sizeof pos_prefix, "%016llX-", (unsigned long long)lsn);
    snprintf(key, sizeof key, "%s.%s", t->schema, t->name);
    int rc = pg_change_cols(t->cols, t->ncols, &cols, &ncols, err);
    if (rc || (rc = change_batch_group_as(s->batch, t->lake, cols, ncols, stage, &g, err)))
        goto done;
    select_sql(s, t, t->wm >= 0 ? json_string_value(json_object_get(s->watermarks, key)) : NULL,
               csv, &sql);
    char what[300];
    snprintf(what, sizeof what, "read %s.%s", t->schema, t->name);
    if (!sql.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = pg_exec(s->conn, sql.data, PGRES_COPY_OUT, &r, what, err)))
        goto done;
    PQclear(r);
    r = NULL;
    source_status_table(s->env->status, t->lake, 0, t->wm >= 0 ? -1 : t->estimate, false);
    if (image && (rc = add_marker(s, g, "t", lsn, ts, err)))
        goto done;
    char *row;
    int n;
    while ((n = PQgetCopyData(s->conn, &row, 0)) > 0) {
        if (t->wm >= 0)
            row_field(row, n, csv, t->wm, &field, &wm);
        if (csv)
            csv_row(&line, row, n, pos_prefix, (uint32_t)++rows, ts);
        else
            json_row(&line, t, row, n, &field, lsn, (uint32_t)++rows, ts);
        PQfreemem(row);
        if (!line.data || (t->wm >= 0 && !wm.data)) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        /* Mode incremental lands a full batch only where the watermark changes: the next
         * run reads above the cursor's watermark, so rows sharing it must land together. */
        if (cut && strcmp(wm.data, last.data)) {
            char tag[48];
            snprintf(tag, sizeof tag, "%016llX-%013lld-s%06llu", (unsigned long long)lsn,
                     (long long)started, (unsigned long long)++*seq);
            json_object_set_new(s->watermarks, key, json_string(last.data));
            if ((rc = pg_batch_commit(s, "incremental", lsn, tag, err)) ||
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
            buf_append(&last, wm.data, wm.len);
        }
        bool full = change_batch_rows(s->batch) >= s->bt.max_rows ||
                    change_batch_bytes(s->batch) >= s->bt.max_bytes;
        if (full && s->bt.incremental) {
            cut = true;
        } else if (full) {
            char tag[48];
            snprintf(tag, sizeof tag, "%016llX-%013lld-s%06llu", (unsigned long long)lsn,
                     (long long)started, (unsigned long long)++*seq);
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
    if (rc)
        goto done; /* the connection is closed by stop: COPY need not be drained */
    if (n == -2) {
        rc = TARN_ERR(err, TARN_EUPSTREAM, "%s: %s", what, PQerrorMessage(s->conn));
        goto done;
    }
    r = PQgetResult(s->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = TARN_ERR(err, TARN_EUPSTREAM, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    r = NULL;
    while ((r = PQgetResult(s->conn)))
        PQclear(r);
    if (!rc && t->wm >= 0 && rows)
        json_object_set_new(s->watermarks, key, json_string(last.data));
    source_status_table(s->env->status, t->lake, rows, rows, true);
done:
    PQclear(r);
    pg_cols_free(cols, ncols);
    buf_free(&sql);
    buf_free(&line);
    buf_free(&field);
    buf_free(&wm);
    buf_free(&last);
    return rc;
}

/* Drops the slot when it exists (an interrupted snapshot's, or before a new one). */
static int drop_slot(PGconn *c, const char *slot, tarn_err_t *err)
{
    const char *params[1] = {slot};
    for (int attempt = 0;; attempt++) {
        PGresult *r = PQexecParams(c,
                                   "SELECT pg_drop_replication_slot(slot_name) FROM"
                                   " pg_replication_slots WHERE slot_name = $1",
                                   1, NULL, params, NULL, NULL, 0);
        bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
        char m[300];
        snprintf(m, sizeof m, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        if (ok)
            return 0;
        /* The walsender of a connection just closed may not have let go yet. */
        if (!strstr(m, "is active") || attempt >= 50)
            return TARN_ERR(err, TARN_EUPSTREAM, "drop the replication slot %s: %s", slot, m);
        usleep(100000);
    }
}

static int snapshot(pg_source_t *s, tarn_err_t *err)
{
    PGresult *r = NULL;
    uint64_t lsn = 0, seq = 0;
    char ts[48], snap[128] = "";
    int rc = 0;
    source_status_state(s->env->status, s->bt.incremental ? "reading" : "snapshotting");
    source_status_tables_reset(s->env->status);
    /* Files are named by the position and the snapshot's start, so two snapshots at one
     * position (nothing written in between) never take each other's names. */
    int64_t started = time_now_ms();
    source_db_timestamp(ts, sizeof ts, started * 1000);
    if (s->bt.cdc) {
        char sql[200];
        snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput (SNAPSHOT "
                                  "'export')", s->slot);
        if ((rc = drop_slot(s->conn, s->slot, err)) ||
            (rc = pg_exec(s->repl, sql, PGRES_TUPLES_OK, &r, "create the replication slot", err)))
            return rc;
        if (!pgoutput_lsn_parse(PQgetvalue(r, 0, 1), &lsn)) {
            PQclear(r);
            return TARN_ERR(err, TARN_EUPSTREAM, "the new slot's consistent point is unreadable");
        }
        snprintf(snap, sizeof snap, "%s", PQgetvalue(r, 0, 2));
        PQclear(r);
    }
    if ((rc = pg_exec(s->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                      PGRES_COMMAND_OK, NULL, "begin the snapshot", err)))
        return rc;
    if (s->bt.cdc) {
        char sql[200];
        snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT '%s'", snap);
        rc = pg_exec(s->conn, sql, PGRES_COMMAND_OK, NULL, "use the slot's snapshot", err);
    } else if (!(rc = pg_exec(s->conn, "SELECT pg_current_wal_lsn()", PGRES_TUPLES_OK, &r,
                              "read the log position", err))) {
        pgoutput_lsn_parse(PQgetvalue(r, 0, 0), &lsn);
        PQclear(r);
        /* Each run's rows sort after the last run's, even when nothing was written to the
         * log in between: the latest run's row of a key wins downstream. */
        if (lsn <= s->last_lsn)
            lsn = s->last_lsn + 1;
    }
    /* Snapshot rows sort just before every change the slot streams (those commit at or
     * after its consistent point). */
    uint64_t pos = s->bt.cdc && lsn ? lsn - 1 : lsn;
    for (size_t i = 0; !rc && i < s->ntables; i++)
        rc = snapshot_table(s, &s->tables[i], pos, ts, started, &seq, err);
    if (rc)
        return rc;
    if ((rc = pg_exec(s->conn, "COMMIT", PGRES_COMMAND_OK, NULL, "end the snapshot", err)))
        return rc;
    char tag[48];
    snprintf(tag, sizeof tag, "%016llX-%013lld-s%06llu", (unsigned long long)pos,
             (long long)started, (unsigned long long)++seq);
    /* The snapshot's last files and the cursor that starts the stream, together. */
    const char *phase = s->bt.cdc ? "streaming" : s->bt.incremental ? "incremental"
                                                                     : "snapshot-done";
    if ((rc = pg_batch_commit(s, phase, lsn, tag, err)))
        return rc;
    s->cursor_lsn = s->confirmed = lsn;
    return 0;
}

/* ---- life ---- */

static void stop(void *state)
{
    pg_source_t *s = state;
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    if (s->repl)
        PQfinish(s->repl);
    pg_stream_free(s);
    change_batch_free(s->batch);
    json_decref(s->watermarks);
    json_decref(s->wm_cols);
    pgoutput_rels_free(s->rels);
    pg_tables_free(s->tables, s->ntables);
    free(s);
}

/* Mode incremental: the watermarks the cursor holds, each kept only while its table reads
 * by the same column (a new column reads the table from the start), none after a run asked
 * for a new snapshot. */
static int pg_watermarks_load(pg_source_t *s, const json_t *cursor, tarn_err_t *err)
{
    s->watermarks = json_object();
    s->wm_cols = json_object();
    if (!s->watermarks || !s->wm_cols)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    const json_t *had = json_object_get(cursor, "watermarks");
    const json_t *had_cols = json_object_get(cursor, "watermark_columns");
    for (size_t i = 0; i < s->ntables; i++) {
        const pg_table_t *t = &s->tables[i];
        char key[300];
        snprintf(key, sizeof key, "%s.%s", t->schema, t->name);
        const char *col = t->cols[t->wm].name;
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
    pg_source_t *s = calloc(1, sizeof *s);
    json_t *cursor = NULL;
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->env = env;
    s->cfg = cfg;
    names_of(cfg, env->source, s->slot, s->publication);
    int rc = source_db_batch_open(cfg, env, &s->bt, &s->batch, err);
    if (!rc && !(s->rels = pgoutput_rels_create()))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc)
        rc = pg_connect(&s->conn, cfg, env->source, false, err);
    if (!rc)
        rc = pg_tables_resolve(s->conn, cfg, s->bt.cdc, &s->tables, &s->ntables, err);
    if (!rc)
        rc = sources_cursor_get(env->db, env->source_id, &cursor, err);
    if (!rc && s->bt.cdc && !(rc = pg_check_server(s->conn, cfg, err)) &&
        !(rc = pg_publication_ensure(s->conn, s->publication, s->tables, s->ntables, true, err)))
        rc = pg_connect(&s->repl, cfg, env->source, true, err);
    const char *phase = json_string_value(json_object_get(cursor, "phase"));
    const char *slot = json_string_value(json_object_get(cursor, "slot"));
    uint64_t lsn = 0;
    const char *last = json_string_value(json_object_get(cursor, "lsn"));
    if (!rc && !s->bt.cdc && last)
        pgoutput_lsn_parse(last, &s->last_lsn);
    if (!rc && s->bt.incremental)
        rc = pg_watermarks_load(s, cursor, err);
    if (!rc && s->bt.cdc && phase && !strcmp(phase, "streaming") && slot &&
        !strcmp(slot, s->slot) && !env->resnapshot &&
        pgoutput_lsn_parse(json_string_value(json_object_get(cursor, "lsn")), &lsn)) {
        /* Streamed before: on from the cursor, skipping what was delivered. */
        s->cursor_lsn = s->confirmed = lsn;
        char text[32];
        pgoutput_lsn_format(text, sizeof text, lsn);
        source_status_cursor(env->status, text);
        rc = pg_stream_start(s, lsn, err);
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
    pg_source_t *s = state;
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
        return pg_stream_start(s, s->cursor_lsn, err);
    }
    return s->done ? INGEST_DONE : pg_stream_poll(s, 1000, err);
}

static int forget(const json_t *cfg, const char *source, tarn_err_t *err)
{
    if (!source_db_is_cdc(cfg))
        return 0;
    char slot[64], pub[64];
    names_of(cfg, source, slot, pub);
    PGconn *c = NULL;
    int rc = pg_connect(&c, cfg, source, false, err);
    if (!rc)
        rc = drop_slot(c, slot, err);
    if (c)
        PQfinish(c);
    return rc;
}

const ingest_plugin_t postgres_plugin = {
    .name = "postgres",
    .description = "PostgreSQL tables: a consistent snapshot, then every change through "
                   "logical replication (pgoutput), as change files in raw",
    .config = postgres_config,
    .check = check,
    .probe = probe,
    .tables = tables,
    .start = start,
    .run = run,
    .stop = stop,
    .forget = forget,
};
