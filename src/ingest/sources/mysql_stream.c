/* The MySQL/MariaDB source's change stream: the binlog from a position over a replica
 * connection (COM_BINLOG_DUMP through libmariadb's mariadb_rpl; packets read whole and
 * decoded here, rows by binlog_rows.c), each transaction's rows into its tables' change
 * files, batches landed with their cursor (the binlog file and position after their last
 * transaction, and its GTID) in one catalog transaction. After a crash or a restart of
 * either side the stream starts again at the cursor: each change is delivered once. The
 * server sends a heartbeat when idle, so a read returns at least that often and the
 * source looks at its stop flag and its batch's age. */
#include "ingest/sources/mysql_internal.h"

#include "ingest/source_db.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <mariadb_rpl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

enum { HEADER = 19, READ_TIMEOUT_S = 30, ER_MASTER_FATAL_READING_BINLOG = 1236 };
enum { EV_QUERY = 2, EV_STOP = 3, EV_ROTATE = 4, EV_FORMAT = 15, EV_XID = 16,
       EV_TABLE_MAP = 19, EV_HEARTBEAT = 27, EV_MYSQL_GTID = 33, EV_MYSQL_ANON_GTID = 34,
       EV_MARIA_GTID = 162, EV_ARTIFICIAL = 0x20 };

struct my_map {
    bl_table_t *t;
    const my_table_t *table; /* NULL: not one of the source's tables */
    change_col_t *cols;
    size_t ncols;
};

static void map_free(struct my_map *m)
{
    bl_table_free(m->t);
    my_cols_free(m->cols, m->ncols);
    memset(m, 0, sizeof *m);
}

void my_stream_free(my_source_t *s)
{
    for (size_t i = 0; i < s->nmaps; i++)
        map_free(&s->maps[i]);
    free(s->maps);
    s->maps = NULL;
    s->nmaps = 0;
    if (s->rpl)
        mariadb_rpl_close(s->rpl);
    s->rpl = NULL;
    if (s->repl)
        mysql_close(s->repl);
    s->repl = NULL;
    bl_image_free(&s->before);
    bl_image_free(&s->after);
    buf_free(&s->line);
    s->streaming = false;
}

int my_stream_start(my_source_t *s, const my_pos_t *p, tarn_err_t *err)
{
    char v[1][128], sql[200];
    int rc = my_connect(&s->repl, s->cfg, READ_TIMEOUT_S, err);
    if (rc)
        return rc;
    if ((rc = my_query_row(s->repl, "SELECT @@global.binlog_checksum", v, 1, err)) < 0)
        return rc;
    s->checksum = strcasecmp(v[0], "NONE") != 0;
    /* The server sends events as they are in its log (with their checksums) to a replica
     * that says it can check them, GTID events to one that knows them, and a heartbeat
     * when it has been idle this long (nanoseconds). */
    int64_t beat_ms = s->bt.max_ms < 1000 ? (s->bt.max_ms < 100 ? 100 : s->bt.max_ms) : 1000;
    snprintf(sql, sizeof sql, "SET @master_binlog_checksum = '%s', @mariadb_slave_capability = "
                              "4, @master_heartbeat_period = %lld",
             s->checksum ? "CRC32" : "NONE", (long long)beat_ms * 1000000);
    if ((rc = my_exec(s->repl, sql, "prepare the binlog stream", err)))
        return rc;
    MARIADB_RPL *rpl = mariadb_rpl_init(s->repl);
    if (!rpl)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->rpl = rpl;
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, p->file, strlen(p->file));
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)p->pos);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, s->server_id);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, 0);
    if (mariadb_rpl_open(rpl))
        return TARN_ERR(err, TARN_EUPSTREAM, "start the binlog stream at %s:%llu: %s", p->file,
                        (unsigned long long)p->pos, mysql_error(s->repl));
    s->at = *p;
    s->in_txn = false;
    s->batch_txns = 0;
    s->streaming = true;
    source_status_state(s->env->status, "streaming");
    return 0;
}

static bool pos_le(const my_pos_t *a, const my_pos_t *b)
{
    return a->seq < b->seq || (a->seq == b->seq && a->pos <= b->pos);
}

/* Lands the batch when it is due (or forced) and no transaction is open. */
static int flush(my_source_t *s, bool force, tarn_err_t *err)
{
    if (!s->batch_txns || s->in_txn)
        return 0;
    if (!force && !source_db_batch_due(s->batch, &s->bt, s->batch_started_ms))
        return 0;
    if (change_batch_rows(s->batch)) {
        char tag[48];
        snprintf(tag, sizeof tag, "%010u-%016llX", s->batch_first.seq,
                 (unsigned long long)s->batch_first.pos);
        int rc = my_batch_commit(s, "streaming", &s->batch_end, s->batch_gtid, tag, err);
        if (rc)
            return rc;
    }
    /* A batch of other tables' transactions moves the cursor only in memory: it is
     * written with the next files, and reading those transactions again costs nothing. */
    s->cursor = s->batch_end;
    snprintf(s->cursor_gtid, sizeof s->cursor_gtid, "%s", s->batch_gtid);
    s->batch_txns = 0;
    return 0;
}

/* The map of table id, or NULL. */
static struct my_map *map_find(my_source_t *s, uint64_t id)
{
    for (size_t i = 0; i < s->nmaps; i++)
        if (s->maps[i].t->id == id)
            return &s->maps[i];
    return NULL;
}

static int on_table_map(my_source_t *s, const uint8_t *p, size_t n, tarn_err_t *err)
{
    bl_table_t *t = NULL;
    const my_table_t *table = NULL;
    /* Another table's map need not parse (it may hold what this source does not read):
     * the names come first. */
    if (n > 10) {
        size_t dl = p[8];
        const char *db = (const char *)p + 9;
        if (n > 11 + dl) {
            size_t tl = p[10 + dl];
            const char *tn = (const char *)p + 11 + dl;
            for (size_t i = 0; i < s->ntables && 11 + dl + tl <= n; i++)
                if (strlen(s->tables[i].db) == dl && !memcmp(s->tables[i].db, db, dl) &&
                    strlen(s->tables[i].name) == tl && !memcmp(s->tables[i].name, tn, tl))
                    table = &s->tables[i];
        }
    }
    if (!table) {
        /* A table id is another table's now: a map of it kept from before is stale. */
        for (size_t i = 0; n >= 6 && i < s->nmaps; i++)
            if (s->maps[i].t->id == bl_uint_le(p, 6)) {
                map_free(&s->maps[i]);
                s->maps[i--] = s->maps[--s->nmaps];
            }
        return 0;
    }
    int rc = bl_table_parse(&t, p, n, &s->charsets, err);
    if (rc)
        return rc;
    /* One map per table id, and per table: a table's new map (after DDL) replaces its old. */
    for (size_t i = 0; i < s->nmaps;)
        if (s->maps[i].t->id == t->id || s->maps[i].table == table) {
            map_free(&s->maps[i]);
            s->maps[i] = s->maps[--s->nmaps];
        } else {
            i++;
        }
    struct my_map *nm = realloc(s->maps, (s->nmaps + 1) * sizeof *nm);
    if (!nm) {
        bl_table_free(t);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    s->maps = nm;
    struct my_map *m = &nm[s->nmaps];
    memset(m, 0, sizeof *m);
    m->t = t;
    m->table = table;
    if ((rc = my_change_cols(t, &m->cols, &m->ncols, err))) {
        bl_table_free(t);
        return rc;
    }
    s->nmaps++;
    return 0;
}

/* One row of a change into its table's group. */
static int emit(my_source_t *s, const my_table_t *table, const bl_table_t *t,
                const change_col_t *cols, size_t ncols, char op, const bl_image_t *row,
                const bl_image_t *old, tarn_err_t *err)
{
    size_t g;
    int rc = change_batch_group(s->batch, table->lake, cols, ncols, &g, err);
    if (rc)
        return rc;
    buf_t *line = &s->line;
    buf_reset(line);
    buf_putc(line, '{');
    for (size_t i = 0; i < t->ncols; i++) {
        buf_put_json_string(line, t->cols[i].name, strlen(t->cols[i].name));
        buf_putc(line, ':');
        if (row)
            buf_append(line, row->text.data + row->off[i], row->len[i]);
        else
            buf_puts(line, "null");
        buf_putc(line, ',');
    }
    char pos[48], ts[48];
    my_source_pos(pos, sizeof pos, &s->txn, ++s->ordinal);
    source_db_timestamp(ts, sizeof ts, s->txn_ts_us);
    buf_printf(line, "\"_op\":\"%c\",\"_source_pos\":\"%s\",\"_commit_ts\":\"%s\",\"_txid\":",
               op, pos, ts);
    buf_put_json_string(line, s->txn_gtid, strlen(s->txn_gtid));
    buf_puts(line, ",\"_old_key\":");
    bool moved = false;
    for (size_t i = 0; op == 'u' && old && i < t->ncols; i++)
        moved = moved || (t->cols[i].key && (old->len[i] != row->len[i] ||
                                             memcmp(old->text.data + old->off[i],
                                                    row->text.data + row->off[i], row->len[i])));
    if (moved) {
        /* The key the row had: the update changed it. */
        buf_putc(line, '{');
        for (size_t i = 0, n = 0; i < t->ncols; i++) {
            if (!t->cols[i].key)
                continue;
            buf_puts(line, n++ ? "," : "");
            buf_put_json_string(line, t->cols[i].name, strlen(t->cols[i].name));
            buf_putc(line, ':');
            buf_append(line, old->text.data + old->off[i], old->len[i]);
        }
        buf_putc(line, '}');
    } else {
        buf_puts(line, "null");
    }
    buf_putc(line, '}');
    if (!line->data)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return change_batch_add(s->batch, g, line->data, line->len, err);
}

static int on_rows(my_source_t *s, int type, const uint8_t *p, size_t n, tarn_err_t *err)
{
    bl_rows_t r;
    int rc = bl_rows_open(&r, type, p, n, err);
    if (rc)
        return rc;
    struct my_map *m = map_find(s, r.table_id);
    if (!m || s->skip_txn)
        return 0; /* not one of the source's tables */
    if (!s->in_txn)
        return TARN_ERR(err, TARN_EUPSTREAM, "rows of %s.%s outside a transaction in the binlog",
                        m->t->db, m->t->name);
    while ((rc = bl_rows_next(&r, m->t, &s->before, &s->after, err)) == 1) {
        const bl_image_t *row = r.op == 'd' ? &s->before : &s->after;
        if ((rc = emit(s, m->table, m->t, m->cols, m->ncols, r.op, row,
                       r.op == 'u' ? &s->before : NULL, err)))
            return rc;
    }
    return rc;
}

/* The end of the open transaction, at the end of the event that ended it. */
static int end_txn(my_source_t *s, uint64_t log_pos, tarn_err_t *err)
{
    s->in_txn = false;
    if (s->skip_txn)
        return 0;
    if (!s->batch_txns) {
        s->batch_first = s->txn;
        s->batch_started_ms = time_mono_ms();
        s->oldest_us = s->txn_ts_us;
    }
    s->batch_end = s->at;
    s->batch_end.pos = log_pos;
    snprintf(s->batch_gtid, sizeof s->batch_gtid, "%s", s->txn_gtid);
    s->batch_txns++;
    return flush(s, false, err);
}

/* Skips spaces and comments of a statement. */
static const char *skip_space(const char *p, const char *end)
{
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            const char *c = p + 2;
            while (end - c >= 2 && !(c[0] == '*' && c[1] == '/'))
                c++;
            p = end - c >= 2 ? c + 2 : end;
            continue;
        }
        return p;
    }
}

static bool word(const char **p, const char *end, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - *p) < n || strncasecmp(*p, w, n) ||
        (*p + n < end && (isalnum((unsigned char)(*p)[n]) || (*p)[n] == '_')))
        return false;
    *p = skip_space(*p + n, end);
    return true;
}

/* One name of a statement (`quoted` or bare) into out. */
static void name_of(const char **p, const char *end, char *out, size_t cap)
{
    size_t k = 0;
    const char *s = *p;
    if (s < end && *s == '`') {
        for (s++; s < end && k + 1 < cap; s++) {
            if (*s == '`' && (s + 1 >= end || s[1] != '`'))
                break;
            if (*s == '`')
                s++;
            out[k++] = *s;
        }
        s += s < end;
    } else {
        while (s < end && k + 1 < cap && (isalnum((unsigned char)*s) || *s == '_' || *s == '$'))
            out[k++] = *s++;
    }
    out[k] = '\0';
    *p = s;
}

/* A TRUNCATE of one of the source's tables becomes one 't' row of it. */
static int on_statement(my_source_t *s, const char *db, const char *q, size_t n,
                        tarn_err_t *err)
{
    const char *p = skip_space(q, q + n), *end = q + n;
    if (!word(&p, end, "TRUNCATE"))
        return 0;
    word(&p, end, "TABLE");
    char a[130], b[130];
    name_of(&p, end, a, sizeof a);
    const char *tdb = db, *tn = a;
    if (p < end && *p == '.') {
        p++;
        name_of(&p, end, b, sizeof b);
        tdb = a;
        tn = b;
    }
    for (size_t i = 0; i < s->ntables; i++) {
        const my_table_t *t = &s->tables[i];
        if (strcmp(t->db, tdb) || strcmp(t->name, tn))
            continue;
        /* The columns of its latest map, else those it had when the source started. */
        const bl_table_t *cols = t->cols;
        change_col_t *cc = NULL;
        size_t ncc = 0;
        for (size_t k = 0; k < s->nmaps; k++)
            if (s->maps[k].table == t)
                cols = s->maps[k].t;
        int rc = my_change_cols(cols, &cc, &ncc, err);
        if (!rc)
            rc = emit(s, t, cols, cc, ncc, 't', NULL, NULL, err);
        my_cols_free(cc, ncc);
        return rc;
    }
    return 0;
}

static int on_query(my_source_t *s, const uint8_t *p, size_t n, uint64_t log_pos,
                    tarn_err_t *err)
{
    if (n < 13)
        return TARN_ERR(err, TARN_EUPSTREAM, "a short QUERY event in the binlog");
    size_t dblen = p[8], vars = (size_t)bl_uint_le(p + 11, 2);
    if (13 + vars + dblen + 1 > n)
        return TARN_ERR(err, TARN_EUPSTREAM, "a short QUERY event in the binlog");
    char db[256];
    snprintf(db, sizeof db, "%.*s", (int)dblen, (const char *)p + 13 + vars);
    const char *q = (const char *)p + 13 + vars + dblen + 1;
    size_t qn = n - (13 + vars + dblen + 1);
    const char *w = skip_space(q, q + qn);
    if (word(&w, q + qn, "BEGIN") || word(&w, q + qn, "XA"))
        return 0;
    if (word(&w, q + qn, "COMMIT") || word(&w, q + qn, "ROLLBACK"))
        return s->in_txn ? end_txn(s, log_pos, err) : 0;
    int rc = s->in_txn && !s->skip_txn ? on_statement(s, db, q, qn, err) : 0;
    if (!rc && s->in_txn && s->standalone)
        rc = end_txn(s, log_pos, err); /* DDL is a transaction of its own */
    return rc;
}

static void begin_txn(my_source_t *s, uint32_t ts, uint64_t log_pos, bool standalone)
{
    s->in_txn = true;
    s->standalone = standalone;
    s->txn = s->at;
    s->txn.pos = log_pos;
    s->txn_ts_us = (int64_t)ts * 1000000;
    s->ordinal = 0;
    /* Delivered before a restart: it begins before the cursor's end. */
    s->skip_txn = pos_le(&s->txn, &s->cursor);
}

static int on_event(my_source_t *s, const uint8_t *ev, size_t n, tarn_err_t *err)
{
    if (n < HEADER)
        return TARN_ERR(err, TARN_EUPSTREAM, "a short event in the binlog stream");
    uint32_t ts = (uint32_t)bl_uint_le(ev, 4), size = (uint32_t)bl_uint_le(ev + 9, 4);
    int type = ev[4];
    uint64_t log_pos = bl_uint_le(ev + 13, 4);
    uint16_t flags = (uint16_t)bl_uint_le(ev + 17, 2);
    if (size != n)
        return TARN_ERR(err, TARN_EUPSTREAM, "a binlog event of %u bytes came in a packet of %zu",
                        size, n);
    /* Events carry a CRC32 when the server's binlog_checksum is on; the rotate the server
     * makes up at the start may not: it is checked when it seems to. */
    bool crc = s->checksum && n >= HEADER + 4 &&
               (uint32_t)crc32(0, ev, (uInt)(n - 4)) == (uint32_t)bl_uint_le(ev + n - 4, 4);
    if (s->checksum && !crc && !(type == EV_ROTATE && (flags & EV_ARTIFICIAL)))
        return TARN_ERR(err, TARN_EUPSTREAM, "a binlog event (type %d at %s:%llu) fails its "
                        "checksum", type, s->at.file, (unsigned long long)log_pos);
    const uint8_t *p = ev + HEADER;
    size_t len = n - HEADER - (crc ? 4 : 0);
    switch (type) {
    case EV_ROTATE:
        if (len < 8)
            return TARN_ERR(err, TARN_EUPSTREAM, "a short ROTATE event in the binlog");
        snprintf(s->at.file, sizeof s->at.file, "%.*s", (int)(len - 8), (const char *)p + 8);
        s->at.seq = my_file_seq(s->at.file);
        s->at.pos = bl_uint_le(p, 8);
        return 0;
    case EV_MARIA_GTID: {
        if (len < 13)
            return TARN_ERR(err, TARN_EUPSTREAM, "a short GTID event in the binlog");
        begin_txn(s, ts, log_pos, p[12] & 1);
        snprintf(s->txn_gtid, sizeof s->txn_gtid, "%u-%u-%llu", (unsigned)bl_uint_le(p + 8, 4),
                 (unsigned)bl_uint_le(ev + 5, 4), (unsigned long long)bl_uint_le(p, 8));
        return 0;
    }
    case EV_MYSQL_GTID:
    case EV_MYSQL_ANON_GTID: {
        if (len < 25)
            return TARN_ERR(err, TARN_EUPSTREAM, "a short GTID event in the binlog");
        begin_txn(s, ts, log_pos, false);
        char *g = s->txn_gtid;
        for (int i = 0; i < 16; i++)
            g += sprintf(g, "%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", p[1 + i]);
        sprintf(g, ":%llu", (unsigned long long)bl_uint_le(p + 17, 8));
        return 0;
    }
    case EV_QUERY: return on_query(s, p, len, log_pos, err);
    case EV_XID: return s->in_txn ? end_txn(s, log_pos, err) : 0;
    case EV_TABLE_MAP: return s->skip_txn ? 0 : on_table_map(s, p, len, err);
    case 23: case 24: case 25: case 30: case 31: case 32:
        return on_rows(s, type, p, len, err);
    case 166: case 167: case 168: case 169: case 170: case 171:
        return TARN_ERR(err, TARN_EINVAL, "the binlog holds compressed row events, which tarn "
                        "does not read: SET GLOBAL log_bin_compress = OFF; (and in the server's "
                        "configuration), then `tarn source run %s --resnapshot`", s->env->source);
    case EV_HEARTBEAT:
        if (log_pos)
            s->server_pos = log_pos;
        return 0;
    default:
        return 0; /* format description, annotations, checkpoints, GTID lists, ... */
    }
}

int my_stream_poll(my_source_t *s, int64_t wait_ms, tarn_err_t *err)
{
    int64_t deadline = time_mono_ms() + wait_ms;
    int rc = 0;
    while (!rc && !atomic_load(s->env->stop)) {
        unsigned long n = mysql_net_read_packet(s->repl);
        if (n == packet_error || n == 0) {
            unsigned no = mysql_errno(s->repl);
            if (no == ER_MASTER_FATAL_READING_BINLOG)
                rc = TARN_ERR(err, TARN_EINVAL, "the server cannot send the binlog from the cursor "
                              "%s:%llu (%s): re-snapshot needed (`tarn source run %s "
                              "--resnapshot`)", s->cursor.file,
                              (unsigned long long)s->cursor.pos, mysql_error(s->repl),
                              s->env->source);
            else
                rc = TARN_ERR(err, TARN_EUPSTREAM, "the binlog stream broke: %s",
                              mysql_error(s->repl));
            break;
        }
        const uint8_t *p = s->repl->net.read_pos;
        if (p[0] == 0xfe && n < 9) {
            rc = TARN_ERR(err, TARN_EUPSTREAM, "the server ended the binlog stream");
            break;
        }
        if (p[0] != 0) {
            rc = TARN_ERR(err, TARN_EUPSTREAM, "an unexpected packet in the binlog stream");
            break;
        }
        if ((rc = on_event(s, p + 1, n - 1, err)) || (rc = flush(s, false, err)))
            break;
        if (time_mono_ms() >= deadline)
            break;
    }
    int64_t now_us = time_now_ms() * 1000;
    int64_t behind = s->server_pos > s->cursor.pos && !strcmp(s->at.file, s->cursor.file)
                         ? (int64_t)(s->server_pos - s->cursor.pos)
                         : 0;
    source_status_lag(s->env->status, s->batch_txns ? (double)(now_us - s->oldest_us) / 1e6 : 0,
                      behind);
    return rc;
}
