/* The PostgreSQL source's change stream: START_REPLICATION from the slot with pgoutput
 * (protocol 1, the source's publication), each transaction's changes decoded into rows of
 * its tables' change files, batches landed with their cursor (the end of their last
 * transaction) in one catalog transaction, and only then the position confirmed to the
 * server as flushed, so its log is kept until the lake holds the changes and no longer.
 * After a restart the server resends from the last confirmed position; transactions that
 * end at or before the cursor were delivered already and are skipped: exactly once. */
#include "ingest/sources/postgres_internal.h"

#include "ingest/source_db.h"

#include "util/timeutil.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FEEDBACK_EVERY_MS = 10000 };

struct pg_rel_cols {
    const pgoutput_rel_t *rel; /* the announcement (alive as long as the relation map) */
    const pg_table_t *table;   /* NULL: not one of the source's tables */
    change_col_t *cols;
    size_t ncols;
};

static uint64_t be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

static void put64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

int pg_stream_start(pg_source_t *s, uint64_t lsn, tarn_err_t *err)
{
    char sql[400], text[32];
    pgoutput_lsn_format(text, sizeof text, lsn);
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT \"%s\" LOGICAL %s (proto_version '1', publication_names "
             "'\"%s\"')",
             s->slot, text, s->publication);
    PGresult *r = NULL;
    int rc = pg_exec(s->repl, sql, PGRES_COPY_BOTH, &r, "start the change stream", err);
    PQclear(r);
    if (rc) {
        if (strstr(err->msg, "does not exist"))
            return TARN_ERR(err, TARN_EINVAL, "the replication slot %s is gone, so changes since "
                            "the cursor %s are lost: re-snapshot needed (`tarn source run %s "
                            "--resnapshot`)", s->slot, text, s->env->source);
        return rc;
    }
    if (!s->arena && !(s->arena = arena_create()))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->streaming = true;
    s->last_feedback_ms = time_mono_ms();
    source_status_state(s->env->status, "streaming");
    return 0;
}

/* Tells the server how far the lake holds the changes. With nothing pending, everything
 * it sent is delivered or was empty, so its sent position is flushed too. */
static int feedback(pg_source_t *s, tarn_err_t *err)
{
    if (!s->in_txn && !s->batch_txns && s->server_end > s->confirmed)
        s->confirmed = s->server_end;
    char m[34];
    m[0] = 'r';
    put64(m + 1, s->received > s->confirmed ? s->received : s->confirmed);
    put64(m + 9, s->confirmed);
    put64(m + 17, s->confirmed);
    put64(m + 25, (uint64_t)(time_now_ms() * 1000 - PGOUTPUT_EPOCH_US));
    m[33] = 0;
    if (PQputCopyData(s->repl, m, sizeof m) != 1 || PQflush(s->repl))
        return TARN_ERR(err, TARN_EUPSTREAM, "send the flushed position to PostgreSQL: %s",
                        PQerrorMessage(s->repl));
    s->last_feedback_ms = time_mono_ms();
    return 0;
}

/* Lands the batch when it is due (or forced) and no transaction is open. */
static int flush(pg_source_t *s, bool force, tarn_err_t *err)
{
    if (!s->batch_txns || s->in_txn)
        return 0;
    if (!force && !source_db_batch_due(s->batch, &s->bt, s->batch_started_ms))
        return 0;
    int rc = 0;
    if (change_batch_rows(s->batch)) {
        char tag[32];
        snprintf(tag, sizeof tag, "%016llX", (unsigned long long)s->batch_first);
        if ((rc = pg_batch_commit(s, "streaming", s->batch_end, tag, err)))
            return rc;
        s->cursor_lsn = s->batch_end;
    }
    s->confirmed = s->batch_end;
    s->batch_txns = 0;
    return feedback(s, err);
}

/* The columns of rel's change files, and its table (NULL when not the source's). */
static int rel_cols(pg_source_t *s, const pgoutput_rel_t *rel, struct pg_rel_cols **out,
                    tarn_err_t *err)
{
    for (size_t i = 0; i < s->nrelcols; i++)
        if (s->relcols[i].rel == rel) {
            *out = &s->relcols[i];
            return 0;
        }
    struct pg_rel_cols *n = realloc(s->relcols, (s->nrelcols + 1) * sizeof *n);
    if (!n)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    s->relcols = n;
    struct pg_rel_cols *rc = &n[s->nrelcols];
    memset(rc, 0, sizeof *rc);
    rc->rel = rel;
    for (size_t i = 0; i < s->ntables; i++)
        if (!strcmp(s->tables[i].schema, *rel->nspname ? rel->nspname : "pg_catalog") &&
            !strcmp(s->tables[i].name, rel->relname))
            rc->table = &s->tables[i];
    pg_col_t *cols = calloc((size_t)rel->ncols + 1, sizeof *cols);
    if (!cols)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (int i = 0; i < rel->ncols; i++)
        cols[i] = (pg_col_t){rel->cols[i].name, rel->cols[i].type_oid, rel->cols[i].typmod};
    int r = pg_change_cols(cols, rel->ncols, &rc->cols, &rc->ncols, err);
    free(cols);
    if (r)
        return r;
    s->nrelcols++;
    *out = rc;
    return 0;
}

static void rel_cols_free(pg_source_t *s)
{
    for (size_t i = 0; i < s->nrelcols; i++)
        pg_cols_free(s->relcols[i].cols, s->relcols[i].ncols);
    free(s->relcols);
    s->relcols = NULL;
    s->nrelcols = 0;
}

/* The value of column i of tup as JSON into line; an unchanged (TOASTed) value comes from
 * the old row when it was sent whole. */
static void value(buf_t *line, const pgoutput_rel_t *rel, int i, const pgoutput_tuple_t *tup,
                  const pgoutput_tuple_t *old, char old_kind)
{
    const pgoutput_value_t *v = tup && i < tup->ncols ? &tup->values[i] : NULL;
    if (v && v->kind == PGOUTPUT_UNCHANGED && old_kind == 'O' && i < old->ncols)
        v = &old->values[i];
    if (!v || v->kind != PGOUTPUT_TEXT)
        buf_puts(line, "null");
    else
        pg_value_json(line, rel->cols[i].type_oid, v->data, v->len);
}

/* One row of a change: op 'c', 'u', 'd' or 't'; tup the row (for a delete, the old key
 * or row; NULL for a truncate). */
static int emit(pg_source_t *s, const pgoutput_rel_t *rel, char op, const pgoutput_tuple_t *tup,
                const pgoutput_tuple_t *old, char old_kind, tarn_err_t *err)
{
    struct pg_rel_cols *rc = NULL;
    int r = rel_cols(s, rel, &rc, err);
    if (r || !rc->table)
        return r;
    size_t g;
    if ((r = change_batch_group(s->batch, rc->table->lake, rc->cols, rc->ncols, &g, err)))
        return r;
    buf_t *line = &s->line;
    buf_reset(line);
    buf_putc(line, '{');
    for (int i = 0; i < rel->ncols; i++) {
        buf_put_json_string(line, rel->cols[i].name, strlen(rel->cols[i].name));
        buf_putc(line, ':');
        value(line, rel, i, tup, old, old_kind);
        buf_putc(line, ',');
    }
    char pos[40], ts[48];
    pg_source_pos(pos, sizeof pos, s->txn_lsn, ++s->ordinal);
    source_db_timestamp(ts, sizeof ts, s->txn_ts_us);
    buf_printf(line, "\"_op\":\"%c\",\"_source_pos\":\"%s\",\"_commit_ts\":\"%s\",\"_txid\":%u,"
                     "\"_old_key\":",
               op, pos, ts, s->xid);
    if (op == 'u' && old_kind && old && old->ncols) {
        /* The key the row had: it changed (or the table sends whole old rows). */
        buf_t key = BUF_INIT;
        buf_putc(&key, '{');
        for (int i = 0, n = 0; i < rel->ncols && i < old->ncols; i++) {
            if (!rel->cols[i].key)
                continue;
            buf_puts(&key, n++ ? "," : "");
            buf_put_json_string(&key, rel->cols[i].name, strlen(rel->cols[i].name));
            buf_putc(&key, ':');
            value(&key, rel, i, old, NULL, 0);
        }
        buf_putc(&key, '}');
        buf_append(line, key.data, key.len);
        buf_free(&key);
    } else {
        buf_puts(line, "null");
    }
    buf_putc(line, '}');
    if (!line->data)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return change_batch_add(s->batch, g, line->data, line->len, err);
}

static int on_message(pg_source_t *s, const uint8_t *p, size_t n, tarn_err_t *err)
{
    pgoutput_msg_t m;
    arena_reset(s->arena);
    int rc = pgoutput_decode(s->rels, p, n, &m, s->arena, err);
    if (rc)
        return rc;
    switch (m.tag) {
    case PGOUTPUT_BEGIN:
        s->in_txn = true;
        s->txn_lsn = m.final_lsn;
        s->txn_ts_us = m.commit_ts_us;
        s->xid = m.xid;
        s->ordinal = 0;
        /* Delivered before a restart: its commit lies before the cursor's end. */
        s->skip_txn = m.final_lsn < s->cursor_lsn;
        return 0;
    case PGOUTPUT_COMMIT:
        s->in_txn = false;
        if (s->skip_txn)
            return 0;
        if (!s->batch_txns) {
            s->batch_first = m.commit_lsn;
            s->batch_started_ms = time_mono_ms();
            s->oldest_us = m.commit_ts_us;
        }
        s->batch_end = m.end_lsn;
        s->batch_txns++;
        return flush(s, false, err);
    case PGOUTPUT_RELATION:
        return 0; /* the next change's rows take the new columns (a new file) */
    case PGOUTPUT_INSERT:
        return s->skip_txn ? 0 : emit(s, m.rel, 'c', &m.newtup, NULL, 0, err);
    case PGOUTPUT_UPDATE:
        return s->skip_txn ? 0 : emit(s, m.rel, 'u', &m.newtup, &m.old, m.old_kind, err);
    case PGOUTPUT_DELETE:
        return s->skip_txn ? 0 : emit(s, m.rel, 'd', &m.old, NULL, 0, err);
    case PGOUTPUT_TRUNCATE:
        for (int i = 0; !s->skip_txn && !rc && i < m.nrels; i++)
            rc = emit(s, m.rels[i], 't', NULL, NULL, 0, err);
        return rc;
    default:
        return 0;
    }
}

static int on_copy_data(pg_source_t *s, const char *buf, int n, tarn_err_t *err)
{
    if (n >= 18 && buf[0] == 'k') {
        uint64_t end = be64(buf + 1);
        if (end > s->server_end)
            s->server_end = end;
        return buf[17] ? feedback(s, err) : 0;
    }
    if (n >= 25 && buf[0] == 'w') {
        uint64_t start = be64(buf + 1), end = be64(buf + 9);
        if (start > s->received)
            s->received = start;
        if (end > s->server_end)
            s->server_end = end;
        return on_message(s, (const uint8_t *)buf + 25, (size_t)n - 25, err);
    }
    return TARN_ERR(err, TARN_EUPSTREAM, "an unexpected message in the change stream ('%c')",
                    n ? buf[0] : '?');
}

int pg_stream_poll(pg_source_t *s, int64_t wait_ms, tarn_err_t *err)
{
    int64_t deadline = time_mono_ms() + wait_ms;
    int rc = 0;
    while (!rc) {
        char *buf = NULL;
        int n = PQgetCopyData(s->repl, &buf, 1);
        if (n > 0) {
            rc = on_copy_data(s, buf, n, err);
            PQfreemem(buf);
            if (time_mono_ms() >= deadline)
                break;
            continue;
        }
        if (n == -1) {
            PGresult *r = PQgetResult(s->repl);
            rc = TARN_ERR(err, TARN_EUPSTREAM, "PostgreSQL ended the change stream: %s",
                          r ? PQresultErrorMessage(r) : PQerrorMessage(s->repl));
            PQclear(r);
            break;
        }
        if (n == -2) {
            rc = TARN_ERR(err, TARN_EUPSTREAM, "the change stream broke: %s",
                          PQerrorMessage(s->repl));
            break;
        }
        /* Nothing buffered: a batch that aged is landed; then wait for the socket. */
        if ((rc = flush(s, false, err)))
            break;
        if (time_mono_ms() - s->last_feedback_ms >= FEEDBACK_EVERY_MS && (rc = feedback(s, err)))
            break;
        int64_t left = deadline - time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = PQsocket(s->repl), .events = POLLIN};
        int wait = (int)(left < 100 ? left : 100);
        if (poll(&pfd, 1, wait) > 0 && !PQconsumeInput(s->repl))
            rc = TARN_ERR(err, TARN_EUPSTREAM, "the change stream broke: %s",
                          PQerrorMessage(s->repl));
    }
    int64_t now_us = time_now_ms() * 1000;
    source_status_lag(s->env->status, s->batch_txns ? (double)(now_us - s->oldest_us) / 1e6 : 0,
                      (int64_t)(s->server_end > s->confirmed ? s->server_end - s->confirmed : 0));
    return rc;
}

void pg_stream_free(pg_source_t *s)
{
    rel_cols_free(s);
    arena_free(s->arena);
    s->arena = NULL;
    buf_free(&s->line);
}
