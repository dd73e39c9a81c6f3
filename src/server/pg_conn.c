/* One PostgreSQL client connection: startup (SSLRequest, CancelRequest, parameters),
 * SCRAM-SHA-256 authentication, then the simple and extended query protocols, COPY ... TO
 * STDOUT, transaction status and session settings. Queries run in the connection's query
 * session under the workload's slots and deadlines; everything else (SET, SHOW, BEGIN...)
 * is answered here without touching the engine's configuration. */
#include "consume/pgtype.h"
#include "govern/scram.h"
#include "server/pg_internal.h"
#include "server/pgmsg.h"
#include "server/pgsql.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum { READ_CHUNK = 64 * 1024, FLUSH_AT = 256 * 1024, CONN_EOF = 1 };

typedef struct stmt {
    char *name;
    char *sql;
    pgsql_kind_t kind;
    uint32_t *types; /* declared parameter types (0: unspecified) */
    int ntypes, nparams;
    struct stmt *next;
} stmt_t;

typedef struct portal {
    char *name;
    char *sql;
    pgsql_kind_t kind;
    json_t *params;
    int16_t *formats; /* result formats as Bind gave them */
    int nformats;
    /* running */
    bool started, done;
    int64_t qid;
    engine_stream_t *stream;
    json_t *columns;
    size_t ncols;
    uint32_t *oids;
    const engine_cell_t *cells; /* the current chunk */
    size_t chunk_rows, pos;
    uint64_t rows, bytes;
    pgsql_copy_t copy;
    bool cursor; /* made by DECLARE, read by FETCH */
    struct portal *next;
} portal_t;

typedef struct {
    pg_conn_t *c;
    server_t *srv;
    SSL *ssl; /* after a TLS handshake, every byte goes through it */
    buf_t in;
    size_t in_off;
    buf_t out;
    bool dead; /* the socket failed: stop writing */
    char user[65];
    char database[128];
    authz_principal_t principal;
    session_t *session;
    json_t *settings; /* SET values by lowercase name */
    char txn;         /* 'I' idle, 'T' in a block, 'E' failed block */
    bool skip_to_sync;
    stmt_t *stmts;
    portal_t *portals;
    arena_t *a; /* per message */
    tarn_err_t err;
} conn_t;

/* ---- socket ---- */

static int conn_flush(conn_t *k)
{
    size_t off = 0;
    while (!k->dead && off < k->out.len) {
        size_t want = k->out.len - off;
        ssize_t n = k->ssl ? SSL_write(k->ssl, k->out.data + off, want > INT32_MAX ? INT32_MAX : (int)want)
                           : send(k->c->fd, k->out.data + off, want, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            k->dead = true;
        else
            off += (size_t)n;
    }
    buf_reset(&k->out);
    return k->dead ? TARN_EIO : 0;
}

/* The next message (startup: an untyped startup-phase packet), valid until the next call.
 * CONN_EOF when the client went away; TARN_EINVAL for a framing error. */
static int conn_read(conn_t *k, bool startup, pgmsg_t *m)
{
    for (;;) {
        ssize_t used = pgmsg_frame(k->in.data ? k->in.data + k->in_off : "",
                                   k->in.len - k->in_off, startup, m, &k->err);
        if (used < 0)
            return (int)used;
        if (used > 0) {
            k->in_off += (size_t)used;
            return 0;
        }
        /* Everything answered so far goes out before waiting for the client. */
        if (k->out.len && conn_flush(k))
            return CONN_EOF;
        if (k->in_off) {
            memmove(k->in.data, k->in.data + k->in_off, k->in.len - k->in_off);
            k->in.len -= k->in_off;
            k->in_off = 0;
        }
        if (buf_reserve(&k->in, READ_CHUNK))
            return TARN_ERR(&k->err, TARN_ENOMEM, "out of memory");
        ssize_t n = k->ssl ? SSL_read(k->ssl, k->in.data + k->in.len, READ_CHUNK)
                           : recv(k->c->fd, k->in.data + k->in.len, READ_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CONN_EOF;
        k->in.len += (size_t)n;
    }
}

/* ---- errors ---- */

/* An error to the client in the protocol's own format, from err's code and reason. */
static void send_error(conn_t *k, const char *severity, const tarn_err_t *err)
{
    const char *state = errors_sqlstate(err->code, err->reason);
    const char *hint = NULL;
    if (!strcmp(state, "42501") && err->reason && !strcmp(err->reason, "AccessDenied"))
        hint = "ask an admin for access, or check the name with SHOW TABLES";
    pgmsg_put_error(&k->out, 'E', severity, state, err->msg[0] ? err->msg : "error", hint);
}

static void fatal(conn_t *k, const char *state, const char *fmt, const char *arg)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg);
    pgmsg_put_error(&k->out, 'E', "FATAL", state, msg, NULL);
    conn_flush(k);
}

static void audit_statement(conn_t *k, const char *action, const char *outcome,
                            const char *reason, uint64_t bytes_out, double secs)
{
    char id[24], res[200];
    snprintf(id, sizeof id, "pg-%d", k->c->pid);
    snprintf(res, sizeof res, "pg/%s", k->database);
    audit_record_t rec = {
        .request_id = id,
        .principal = k->principal.name,
        .source = k->c->source,
        .action = action,
        .resource = res,
        .outcome = outcome,
        .reason = reason,
        .status = strcmp(outcome, "allow") ? 400 : 200,
        .bytes_out = bytes_out,
    };
    tarn_err_t e = {0};
    if (k->srv->audit && audit_append(k->srv->audit, &rec, &e))
        log_error("audit append failed", "error", e.msg);
    metrics_observe(k->srv->metrics, "pg", action + 3, rec.status, secs, 0, bytes_out);
}

/* ---- settings ---- */

static const struct {
    const char *name;   /* lowercase, as SET and SHOW take it */
    const char *report; /* the name ParameterStatus reports it under, or NULL */
    const char *value;
} defaults[] = {
    {"application_name", "application_name", ""},
    {"client_encoding", "client_encoding", "UTF8"},
    {"datestyle", "DateStyle", "ISO, MDY"},
    {"default_transaction_read_only", "default_transaction_read_only", "on"},
    {"in_hot_standby", "in_hot_standby", "off"},
    {"integer_datetimes", "integer_datetimes", "on"},
    {"intervalstyle", "IntervalStyle", "postgres"},
    {"is_superuser", "is_superuser", "off"},
    {"server_encoding", "server_encoding", "UTF8"},
    {"server_version", "server_version", "15.0 (tarn " TARN_VERSION ")"},
    {"session_authorization", "session_authorization", ""},
    {"standard_conforming_strings", "standard_conforming_strings", "on"},
    {"timezone", "TimeZone", "UTC"},
    {"extra_float_digits", NULL, "1"},
    {"search_path", NULL, "\"$user\", public"},
    {"transaction_isolation", NULL, "read committed"},
    {"transaction_read_only", NULL, "on"},
    {"default_transaction_isolation", NULL, "read committed"},
    {"statement_timeout", NULL, "0"},
    {"lock_timeout", NULL, "0"},
    {"idle_in_transaction_session_timeout", NULL, "0"},
    {"max_identifier_length", NULL, "63"},
    {"server_version_num", NULL, "150000"},
    {"lc_collate", NULL, "C"},
    {"lc_ctype", NULL, "C"},
    {"bytea_output", NULL, "hex"},
    {"client_min_messages", NULL, "notice"},
    {"jit", NULL, "off"},
    {"row_security", NULL, "on"},
    {"geqo", NULL, "on"},
};

static const char *setting_get(conn_t *k, const char *name)
{
    if (!strcmp(name, "is_superuser"))
        return k->principal.admin ? "on" : "off";
    if (!strcmp(name, "session_authorization"))
        return k->user;
    const char *v = json_string_value(json_object_get(k->settings, name));
    if (v)
        return v;
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (!strcmp(defaults[i].name, name))
            return defaults[i].value;
    return NULL;
}

/* Applies SET name = value (NULL: RESET). Values tarn cannot honour are refused rather
 * than silently ignored; the rest only change what SHOW answers. */
static int setting_set(conn_t *k, const char *name, const char *value, tarn_err_t *err)
{
    static const char *const fixed[] = {"server_version", "server_encoding", "integer_datetimes",
                                        "is_superuser", "server_version_num", "lc_collate",
                                        "lc_ctype", "max_identifier_length", "in_hot_standby"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(name, fixed[i]))
            return TARN_ERR_R(err, TARN_EINVAL, "CantChangeRuntimeParam",
                              "parameter \"%s\" cannot be changed", name);
    bool dflt = !value || !strcasecmp(value, "DEFAULT");
    if (!dflt && !strcmp(name, "client_encoding") && strcasecmp(value, "UTF8") &&
        strcasecmp(value, "UTF-8") && strcasecmp(value, "UNICODE"))
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidParameterValue",
                          "client_encoding must be UTF8 (tarn sends and receives UTF-8 only)");
    if (!dflt && !strcmp(name, "datestyle") && strncasecmp(value, "ISO", 3))
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidParameterValue",
                          "DateStyle must start with ISO (dates are always written in ISO 8601)");
    if (!dflt && !strcmp(name, "standard_conforming_strings") && strcasecmp(value, "on"))
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidParameterValue",
                          "standard_conforming_strings is always on");
    if (!dflt && !strcmp(name, "transaction") && strcasestr(value, "read write"))
        return TARN_ERR_R(err, TARN_EINVAL, "ReadOnlySqlTransaction",
                          "the lake's SQL sessions are read-only");
    /* Client encoding and DateStyle keep their canonical spelling. */
    if (dflt)
        json_object_del(k->settings, name);
    else if (!strcmp(name, "client_encoding"))
        json_object_set_new(k->settings, name, json_string("UTF8"));
    else if (!strcmp(name, "timezone"))
        ; /* times are always shown in UTC, with their offset, so any zone reads right */
    else if (strcmp(name, "transaction"))
        json_object_set_new(k->settings, name, json_string(value));
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (!strcmp(defaults[i].name, name) && defaults[i].report)
            pgmsg_put_param_status(&k->out, defaults[i].report, setting_get(k, name));
    return 0;
}

/* ---- rows ---- */

static void put_row_description(conn_t *k, const portal_t *p)
{
    size_t m = pgmsg_begin(&k->out, 'T');
    pgmsg_put_i16(&k->out, (int16_t)p->ncols);
    size_t i;
    json_t *c;
    json_array_foreach(p->columns, i, c)
    {
        pgtype_t t = pgtype_of(json_string_value(json_object_get(c, "type")));
        int16_t fmt = p->nformats == 1 ? p->formats[0] : (int)i < p->nformats ? p->formats[i] : 0;
        pgmsg_put_str(&k->out, json_string_value(json_object_get(c, "name")));
        pgmsg_put_i32(&k->out, 0);
        pgmsg_put_i16(&k->out, 0);
        pgmsg_put_i32(&k->out, (int32_t)t.oid);
        pgmsg_put_i16(&k->out, t.len);
        pgmsg_put_i32(&k->out, t.typmod);
        pgmsg_put_i16(&k->out, fmt);
    }
    pgmsg_end(&k->out, m);
}

static bool binary_col(const portal_t *p, size_t i)
{
    return p->nformats == 1 ? p->formats[0] == 1 : (int)i < p->nformats && p->formats[i] == 1;
}

/* The length of a cell's text as PostgreSQL writes it: floats drop DuckDB's ".0" on
 * whole numbers ("20", not "20.0"), as PostgreSQL's shortest-exact output does. */
static size_t cell_len(const portal_t *p, size_t j, const engine_cell_t *c)
{
    if ((p->oids[j] == PGTYPE_FLOAT8 || p->oids[j] == PGTYPE_FLOAT4) && c->len > 2 &&
        !memcmp(c->data + c->len - 2, ".0", 2))
        return c->len - 2;
    return c->len;
}

/* One DataRow from the current chunk's row r. */
static int put_data_row(conn_t *k, portal_t *p, const engine_cell_t *row, tarn_err_t *err)
{
    size_t need = 7;
    for (size_t j = 0; j < p->ncols; j++)
        need += 4 + row[j].len;
    /* Room for the whole row up front: the loop below appends without reallocating. */
    if (buf_reserve(&k->out, need))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    size_t m = pgmsg_begin(&k->out, 'D');
    pgmsg_put_i16(&k->out, (int16_t)p->ncols);
    for (size_t j = 0; j < p->ncols; j++) {
        if (!row[j].data) {
            pgmsg_put_i32(&k->out, -1);
        } else if (binary_col(p, j)) {
            size_t at = k->out.len;
            pgmsg_put_i32(&k->out, 0);
            int rc = pgtype_text_to_binary(p->oids[j], row[j].data, cell_len(p, j, &row[j]),
                                           &k->out, err);
            if (rc) {
                k->out.len = m; /* drop the half-written row */
                return rc;
            }
            uint32_t n = (uint32_t)(k->out.len - at - 4);
            unsigned char *q = (unsigned char *)k->out.data + at;
            q[0] = (unsigned char)(n >> 24), q[1] = (unsigned char)(n >> 16);
            q[2] = (unsigned char)(n >> 8), q[3] = (unsigned char)n;
        } else {
            size_t n = cell_len(p, j, &row[j]);
            pgmsg_put_i32(&k->out, (int32_t)n);
            buf_append(&k->out, row[j].data, n);
        }
    }
    pgmsg_end(&k->out, m);
    return 0;
}

/* One COPY line (text or CSV) as a CopyData message; header: row holds column names. */
static void put_copy_row(conn_t *k, const portal_t *p, const engine_cell_t *row, bool header)
{
    const pgsql_copy_t *o = &p->copy;
    size_t m = pgmsg_begin(&k->out, 'd');
    for (size_t j = 0; j < p->ncols; j++) {
        if (j)
            buf_putc(&k->out, o->delimiter);
        const char *s = row[j].data;
        size_t n = s && !header ? cell_len(p, j, &row[j]) : row[j].len;
        if (!s) {
            buf_puts(&k->out, o->null);
            continue;
        }
        if (o->csv) {
            bool quote = !n && !*o->null ? false : (n == strlen(o->null) && !memcmp(s, o->null, n));
            for (size_t i = 0; !quote && i < n; i++)
                quote = s[i] == o->delimiter || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
            if (!n && !*o->null)
                quote = true; /* an empty string is "" so it differs from NULL */
            if (!quote) {
                buf_append(&k->out, s, n);
                continue;
            }
            buf_putc(&k->out, '"');
            for (size_t i = 0; i < n; i++) {
                if (s[i] == '"')
                    buf_putc(&k->out, '"');
                buf_putc(&k->out, s[i]);
            }
            buf_putc(&k->out, '"');
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            const char *esc = c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t" : NULL;
            if (esc)
                buf_puts(&k->out, esc);
            else if (c == o->delimiter)
                buf_putc(&k->out, '\\'), buf_putc(&k->out, c);
            else
                buf_putc(&k->out, c);
        }
    }
    buf_putc(&k->out, '\n');
    pgmsg_end(&k->out, m);
}

/* ---- running a query ---- */

static void portal_stop(conn_t *k, portal_t *p, const char *error)
{
    engine_stream_close(p->stream);
    p->stream = NULL;
    if (p->qid) {
        workload_finish(k->srv->workload, p->qid, p->rows, p->bytes, error);
        atomic_store(&k->c->query_id, 0);
        p->qid = 0;
    }
}

/* Ends the portal's query (if running) and frees what it owns, not p itself. */
static void portal_clear(conn_t *k, portal_t *p, const char *error)
{
    portal_stop(k, p, error);
    json_decref(p->columns);
    json_decref(p->params);
    free(p->oids);
    free(p->formats);
    free(p->name);
    free(p->sql);
}

static void portal_free(conn_t *k, portal_t *p)
{
    if (!p)
        return;
    portal_clear(k, p, NULL);
    free(p);
}

/* The error of a query that failed while running: a cancel or a timeout is 57014. */
static int query_failed(conn_t *k, portal_t *p, int rc, tarn_err_t *err)
{
    const char *why = p->qid ? workload_interruption(k->srv->workload, p->qid) : NULL;
    if (why && !strcmp(why, "cancelled"))
        rc = TARN_ERR_R(err, TARN_ECONFLICT, "QueryCancelled",
                        "canceling statement due to user request");
    else if (why)
        rc = TARN_ERR_R(err, TARN_EBUSY, "QueryTimeout",
                        "canceling statement due to statement timeout (the server's "
                        "--query-timeout)");
    return rc;
}

/* Admits the portal's query to the workload and starts it; its columns are then known. */
static int portal_start(conn_t *k, portal_t *p, tarn_err_t *err)
{
    const char *sql = p->kind == PGSQL_COPY ? p->copy.query : p->sql;
    int64_t id = 0;
    p->started = true;
    atomic_store(&k->c->cancel_requested, false);
    int rc = workload_admit(k->srv->workload, k->principal.name, sql, k->session, &id, err);
    if (rc) {
        if (id)
            workload_finish(k->srv->workload, id, 0, 0, err->msg);
        return rc;
    }
    p->qid = id;
    atomic_store(&k->c->query_id, id);
    rc = session_query(k->session, sql, p->params, SESSION_ROWS_PG, &p->columns, &p->stream, err);
    if (rc) {
        rc = query_failed(k, p, rc, err);
        portal_stop(k, p, err->msg);
        return rc;
    }
    p->ncols = json_array_size(p->columns);
    p->oids = calloc(p->ncols ? p->ncols : 1, sizeof *p->oids);
    if (!p->oids) {
        portal_stop(k, p, "out of memory");
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->ncols; i++)
        p->oids[i] = pgtype_of(json_string_value(json_object_get(json_array_get(p->columns, i),
                                                                  "type")))
                         .oid;
    return 0;
}

/* Streams up to max rows (0: all) of a started portal. 0 when the portal completed (its
 * CommandComplete written), 1 when suspended, or an error. A cursor's FETCH (fetch) always
 * completes, with "FETCH n", and keeps the rest for the next FETCH. */
static int portal_rows(conn_t *k, portal_t *p, long max, bool fetch, tarn_err_t *err)
{
    long sent = 0;
    int rc = 0;
    char tag[48];
    if (p->done && fetch) {
        pgmsg_put_command_complete(&k->out, "FETCH 0");
        return 0;
    }
    for (;;) {
        if (p->pos == p->chunk_rows) {
            if ((rc = engine_stream_next_cells(p->stream, &p->cells, &p->chunk_rows, err)))
                break;
            p->pos = 0;
            if (!p->chunk_rows) {
                p->done = true;
                break;
            }
        }
        if (max > 0 && sent == max) {
            if (!fetch)
                return 1;
            snprintf(tag, sizeof tag, "FETCH %ld", sent);
            pgmsg_put_command_complete(&k->out, tag);
            return 0;
        }
        size_t before = k->out.len;
        const engine_cell_t *row = p->cells + p->pos * p->ncols;
        if (p->kind == PGSQL_COPY)
            put_copy_row(k, p, row, false);
        else if ((rc = put_data_row(k, p, row, err)))
            break;
        p->bytes += k->out.len - before;
        p->pos++;
        p->rows++;
        sent++;
        if (k->out.len >= FLUSH_AT && conn_flush(k)) {
            rc = TARN_ERR_R(err, TARN_EIO, "ConnectionFailure", "the client went away");
            break;
        }
    }
    if (rc) {
        rc = query_failed(k, p, rc, err);
        portal_stop(k, p, err->msg);
        return rc;
    }
    if (fetch) {
        snprintf(tag, sizeof tag, "FETCH %ld", sent);
    } else if (p->kind == PGSQL_COPY) {
        size_t m = pgmsg_begin(&k->out, 'c');
        pgmsg_end(&k->out, m);
        snprintf(tag, sizeof tag, "COPY %llu", (unsigned long long)p->rows);
    } else {
        snprintf(tag, sizeof tag, "SELECT %llu", (unsigned long long)p->rows);
    }
    pgmsg_put_command_complete(&k->out, tag);
    portal_stop(k, p, NULL);
    return 0;
}

static void put_copy_out_response(conn_t *k, const portal_t *p)
{
    size_t m = pgmsg_begin(&k->out, 'H');
    buf_putc(&k->out, 0);
    pgmsg_put_i16(&k->out, (int16_t)p->ncols);
    for (size_t i = 0; i < p->ncols; i++)
        pgmsg_put_i16(&k->out, 0);
    pgmsg_end(&k->out, m);
    if (p->copy.header) {
        engine_cell_t *names = calloc(p->ncols ? p->ncols : 1, sizeof *names);
        for (size_t i = 0; names && i < p->ncols; i++) {
            names[i].data = json_string_value(json_object_get(json_array_get(p->columns, i), "name"));
            names[i].len = strlen(names[i].data);
        }
        if (names)
            put_copy_row(k, p, names, true);
        free(names);
    }
}

/* SHOW name: one row of one text column. describe: only its RowDescription; rows: only
 * the row and CommandComplete (the extended protocol's Execute); both for a simple Query. */
static int run_show(conn_t *k, const char *sql, size_t len, bool describe, bool rows,
                    tarn_err_t *err)
{
    const char *name;
    int rc = pgsql_parse_show(sql, len, &name, k->a, err);
    if (rc)
        return rc;
    if (!strcmp(name, "all"))
        return TARN_ERR_R(err, TARN_EINVAL, "FeatureNotSupported",
                          "SHOW ALL is not supported; SHOW one parameter by name");
    const char *v = setting_get(k, name);
    if (!v)
        return TARN_ERR_R(err, TARN_EINVAL, "UndefinedObject",
                          "unrecognized configuration parameter \"%s\"", name);
    if (describe) {
        size_t m = pgmsg_begin(&k->out, 'T');
        pgmsg_put_i16(&k->out, 1);
        pgmsg_put_str(&k->out, name);
        pgmsg_put_i32(&k->out, 0), pgmsg_put_i16(&k->out, 0);
        pgmsg_put_i32(&k->out, PGTYPE_TEXT), pgmsg_put_i16(&k->out, -1);
        pgmsg_put_i32(&k->out, -1), pgmsg_put_i16(&k->out, 0);
        pgmsg_end(&k->out, m);
    }
    if (!rows)
        return 0;
    size_t m = pgmsg_begin(&k->out, 'D');
    pgmsg_put_i16(&k->out, 1);
    pgmsg_put_i32(&k->out, (int32_t)strlen(v));
    buf_puts(&k->out, v);
    pgmsg_end(&k->out, m);
    pgmsg_put_command_complete(&k->out, "SHOW");
    return 0;
}

static portal_t **portal_find(conn_t *k, const char *name)
{
    portal_t **pp = &k->portals;
    while (*pp && strcmp((*pp)->name, name))
        pp = &(*pp)->next;
    return pp;
}

static void close_portals(conn_t *k, bool cursors_only)
{
    for (portal_t **pp = &k->portals; *pp;) {
        portal_t *p = *pp;
        if (cursors_only && !p->cursor) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        portal_free(k, p);
    }
}

/* DECLARE name CURSOR FOR query: a named portal that FETCH reads forward; it keeps the
 * parameters bound to the DECLARE. */
static int run_declare(conn_t *k, const char *sql, json_t *params, tarn_err_t *err)
{
    const char *name, *query;
    bool binary;
    int rc = pgsql_parse_declare(sql, strlen(sql), &name, &query, &binary, k->a, err);
    if (rc)
        return rc;
    if (k->txn == 'I')
        return TARN_ERR_R(err, TARN_EINVAL, "NoActiveSqlTransaction",
                          "DECLARE CURSOR can only be used in transaction blocks");
    if (*portal_find(k, name))
        return TARN_ERR_R(err, TARN_EINVAL, "DuplicateCursor", "cursor \"%s\" already exists",
                          name);
    portal_t *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name)) || !(p->sql = strdup(query)) ||
        !(p->formats = calloc(1, sizeof *p->formats))) {
        portal_free(k, p);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    p->kind = pgsql_classify(query, strlen(query)) == PGSQL_QUERY ? PGSQL_QUERY : PGSQL_EMPTY;
    if (p->kind != PGSQL_QUERY) {
        portal_free(k, p);
        return TARN_ERR_R(err, TARN_EINVAL, "SyntaxError", "DECLARE CURSOR needs a query");
    }
    p->cursor = true;
    p->params = json_incref(params);
    p->formats[0] = binary ? 1 : 0;
    p->nformats = 1;
    p->next = k->portals;
    k->portals = p;
    pgmsg_put_command_complete(&k->out, "DECLARE CURSOR");
    return 0;
}

/* FETCH n FROM cursor; rows: the rows and CommandComplete, describe: the RowDescription
 * (both in the simple protocol). */
static int run_fetch(conn_t *k, const char *sql, bool describe, bool rows, tarn_err_t *err)
{
    const char *name;
    long count;
    int rc = pgsql_parse_fetch(sql, strlen(sql), &name, &count, k->a, err);
    if (rc)
        return rc;
    portal_t *p = *portal_find(k, name);
    if (!p || !p->cursor)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidCursorName", "cursor \"%s\" does not exist",
                          name);
    if (!p->started && (rc = portal_start(k, p, err)))
        return rc;
    if (!p->columns)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidCursorState", "the cursor has failed");
    if (describe)
        put_row_description(k, p);
    if (!rows)
        return 0;
    if (count == 0)
        count = -1; /* FETCH 0 re-reads the current row in PostgreSQL; read the rest here */
    return portal_rows(k, p, count < 0 ? 0 : count, true, err);
}

static int run_close(conn_t *k, const char *sql, tarn_err_t *err)
{
    const char *name;
    int rc = pgsql_parse_close(sql, strlen(sql), &name, k->a, err);
    if (rc)
        return rc;
    if (!name) {
        close_portals(k, true);
    } else {
        portal_t **pp = portal_find(k, name), *p = *pp;
        if (!p || !p->cursor)
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidCursorName",
                              "cursor \"%s\" does not exist", name);
        *pp = p->next;
        portal_free(k, p);
    }
    pgmsg_put_command_complete(&k->out, "CLOSE CURSOR");
    return 0;
}

/* Runs a statement that is not a query (BEGIN, SET, SHOW...): writes its CommandComplete
 * (and SHOW's row). */
static int run_command(conn_t *k, portal_t *p, bool simple, tarn_err_t *err)
{
    size_t len = strlen(p->sql);
    const char *name, *value;
    int rc = 0;
    switch (p->kind) {
    case PGSQL_BEGIN:
        if (k->txn != 'I')
            pgmsg_put_error(&k->out, 'N', "WARNING", "25001",
                            "there is already a transaction in progress", NULL);
        k->txn = 'T';
        pgmsg_put_command_complete(&k->out, "BEGIN");
        break;
    case PGSQL_COMMIT:
        if (k->txn == 'I')
            pgmsg_put_error(&k->out, 'N', "WARNING", "25P01",
                            "there is no transaction in progress", NULL);
        pgmsg_put_command_complete(&k->out, k->txn == 'E' ? "ROLLBACK" : "COMMIT");
        k->txn = 'I';
        close_portals(k, true); /* cursors end with their transaction */
        break;
    case PGSQL_ROLLBACK:
        if (k->txn == 'I')
            pgmsg_put_error(&k->out, 'N', "WARNING", "25P01",
                            "there is no transaction in progress", NULL);
        pgmsg_put_command_complete(&k->out, "ROLLBACK");
        k->txn = 'I';
        close_portals(k, true);
        break;
    case PGSQL_SET:
    case PGSQL_RESET:
        if ((rc = pgsql_parse_set(p->sql, len, &name, &value, k->a, err)))
            break;
        if (p->kind == PGSQL_RESET && !strcmp(name, "all")) {
            json_object_clear(k->settings);
        } else if ((rc = setting_set(k, name, value, err))) {
            break;
        }
        pgmsg_put_command_complete(&k->out, p->kind == PGSQL_SET ? "SET" : "RESET");
        break;
    case PGSQL_SHOW:
        rc = run_show(k, p->sql, len, simple, true, err);
        break;
    case PGSQL_DECLARE:
        rc = run_declare(k, p->sql, p->params, err);
        break;
    case PGSQL_FETCH:
        rc = run_fetch(k, p->sql, simple, true, err);
        break;
    case PGSQL_CLOSE:
        rc = run_close(k, p->sql, err);
        break;
    case PGSQL_DISCARD:
        pgmsg_put_command_complete(&k->out, "DISCARD ALL");
        break;
    case PGSQL_DEALLOCATE:
        pgmsg_put_command_complete(&k->out, "DEALLOCATE");
        break;
    case PGSQL_SAVEPOINT:
        if (k->txn == 'I')
            rc = TARN_ERR_R(err, TARN_EINVAL, "NoActiveSqlTransaction",
                            "SAVEPOINT can only be used in transaction blocks");
        else
            pgmsg_put_command_complete(&k->out, strncasecmp(p->sql + strspn(p->sql, " \t\r\n"),
                                                            "release", 7)
                                                    ? "SAVEPOINT"
                                                    : "RELEASE");
        break;
    default:
        break;
    }
    return rc;
}

/* Executes a bound portal: up to max rows (0: all). In the simple protocol (simple), a
 * query's RowDescription goes first. 1 when suspended. */
static int portal_execute(conn_t *k, portal_t *p, int32_t max, bool simple, tarn_err_t *err)
{
    if (k->txn == 'E' && p->kind != PGSQL_COMMIT && p->kind != PGSQL_ROLLBACK)
        return TARN_ERR_R(err, TARN_EINVAL, "InFailedSqlTransaction",
                          "current transaction is aborted, commands ignored until end of "
                          "transaction block");
    if (p->kind == PGSQL_EMPTY) {
        size_t m = pgmsg_begin(&k->out, 'I');
        pgmsg_end(&k->out, m);
        return 0;
    }
    if (p->kind != PGSQL_QUERY && p->kind != PGSQL_COPY)
        return run_command(k, p, simple, err);
    if (p->done) {
        pgmsg_put_command_complete(&k->out, "SELECT 0");
        return 0;
    }
    int rc;
    if (!p->started) {
        if (p->kind == PGSQL_COPY &&
            (rc = pgsql_parse_copy(p->sql, strlen(p->sql), &p->copy, k->a, err)))
            return rc;
        if ((rc = portal_start(k, p, err)))
            return rc;
        if (p->kind == PGSQL_COPY)
            put_copy_out_response(k, p);
        else if (simple)
            put_row_description(k, p);
    } else if (!p->stream) {
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidCursorState", "the portal has failed");
    }
    return portal_rows(k, p, p->kind == PGSQL_COPY ? 0 : max, false, err);
}

/* ---- simple query ---- */

static void simple_query(conn_t *k, const pgmsg_t *m)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *sql = pgmsg_get_str(&r);
    if (!pgmsg_reader_done(&r)) {
        k->err = (tarn_err_t){0};
        TARN_ERR_R(&k->err, TARN_EINVAL, "ProtocolViolation", "malformed Query message");
        send_error(k, "ERROR", &k->err);
        pgmsg_put_ready(&k->out, k->txn);
        return;
    }
    const char *p = sql, *stmt;
    size_t len;
    int n = 0;
    while (pgsql_next(&p, &stmt, &len)) {
        pgsql_kind_t kind = pgsql_classify(stmt, len);
        if (kind == PGSQL_EMPTY)
            continue;
        n++;
        portal_t q = {.kind = kind, .sql = strndup(stmt, len)};
        int64_t start = time_mono_ns();
        tarn_err_t err = {0};
        int rc = q.sql ? portal_execute(k, &q, 0, true, &err)
                       : TARN_ERR(&err, TARN_ENOMEM, "out of memory");
        audit_statement(k, kind == PGSQL_QUERY || kind == PGSQL_COPY ? "pg:Query" : "pg:Command",
                        rc ? (err.code == TARN_EDENIED ? "deny" : "error") : "allow",
                        rc ? errors_sqlstate(err.code, err.reason) : NULL, q.bytes,
                        (double)(time_mono_ns() - start) / 1e9);
        portal_clear(k, &q, rc ? err.msg : NULL);
        if (rc) {
            send_error(k, "ERROR", &err);
            if (k->txn == 'T')
                k->txn = 'E';
            break;
        }
    }
    if (!n) {
        size_t e = pgmsg_begin(&k->out, 'I');
        pgmsg_end(&k->out, e);
    }
    pgmsg_put_ready(&k->out, k->txn);
}

/* ---- extended query ---- */

static stmt_t **stmt_find(conn_t *k, const char *name)
{
    stmt_t **pp = &k->stmts;
    while (*pp && strcmp((*pp)->name, name))
        pp = &(*pp)->next;
    return pp;
}

static void stmt_free(stmt_t *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->sql);
    free(s->types);
    free(s);
}

static int ext_parse(conn_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *name = pgmsg_get_str(&r), *sql = pgmsg_get_str(&r);
    int n = pgmsg_get_i16(&r);
    if (n < 0 || r.bad)
        return TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Parse message");
    stmt_t *s = calloc(1, sizeof *s);
    if (!s || !(s->types = calloc((size_t)n + 1, sizeof *s->types))) {
        free(s);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        s->types[i] = (uint32_t)pgmsg_get_i32(&r);
    s->ntypes = n;
    const char *p = sql, *one;
    size_t len = 0;
    int count = 0;
    while (pgsql_next(&p, &one, &len))
        if (pgsql_classify(one, len) != PGSQL_EMPTY)
            count++;
    int rc = 0;
    if (!pgmsg_reader_done(&r))
        rc = TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Parse message");
    else if (count > 1)
        rc = TARN_ERR_R(err, TARN_EINVAL, "SyntaxError",
                        "cannot insert multiple commands into a prepared statement");
    else if (*name && *stmt_find(k, name))
        rc = TARN_ERR_R(err, TARN_EINVAL, "DuplicatePreparedStatement",
                        "prepared statement \"%s\" already exists", name);
    if (!rc && (!(s->name = strdup(name)) || !(s->sql = strdup(sql))))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc) {
        stmt_free(s);
        return rc;
    }
    s->kind = pgsql_classify(sql, strlen(sql));
    s->nparams = pgsql_count_params(sql, strlen(sql));
    if (s->nparams < n)
        s->nparams = n;
    stmt_t **old = stmt_find(k, name);
    if (*old) { /* the unnamed statement is replaced */
        stmt_t *o = *old;
        *old = o->next;
        stmt_free(o);
    }
    s->next = k->stmts;
    k->stmts = s;
    size_t b = pgmsg_begin(&k->out, '1');
    pgmsg_end(&k->out, b);
    return 0;
}

static int ext_bind(conn_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *pname = pgmsg_get_str(&r), *sname = pgmsg_get_str(&r);
    stmt_t *s = *stmt_find(k, sname);
    if (!s)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidSqlStatementName",
                          "prepared statement \"%s\" does not exist", sname);
    if (*pname && *portal_find(k, pname))
        return TARN_ERR_R(err, TARN_EINVAL, "DuplicateCursor", "portal \"%s\" already exists",
                          pname);
    int nf = pgmsg_get_i16(&r);
    if (nf < 0 || r.bad || (size_t)nf * 2 > (size_t)(r.end - r.p))
        return TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Bind message");
    int16_t *pf = calloc((size_t)nf + 1, sizeof *pf);
    if (!pf)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (int i = 0; i < nf; i++)
        pf[i] = pgmsg_get_i16(&r);
    int np = pgmsg_get_i16(&r), rc = 0;
    json_t *params = json_array();
    portal_t *p = calloc(1, sizeof *p);
    if (!params || !p) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if (np < 0 || (nf != 0 && nf != 1 && nf != np)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation",
                        "Bind message has %d parameter formats but %d parameters", nf, np);
        goto done;
    }
    if (np != s->nparams) {
        rc = TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation",
                        "bind message supplies %d parameters, but prepared statement \"%s\" "
                        "requires %d",
                        np, sname, s->nparams);
        goto done;
    }
    for (int i = 0; i < np && !r.bad; i++) {
        int32_t len = pgmsg_get_i32(&r);
        int fmt = nf == 0 ? 0 : nf == 1 ? pf[0] : pf[i];
        uint32_t oid = i < s->ntypes ? s->types[i] : 0;
        if (len == -1) {
            json_array_append_new(params, json_null());
            continue;
        }
        const char *data = len >= 0 ? pgmsg_get_bytes(&r, (size_t)len) : NULL;
        if (!data) {
            r.bad = true;
            break;
        }
        json_t *v;
        if ((rc = pgtype_param_to_json(oid, fmt, data, (size_t)len, &v, err)))
            goto done;
        json_array_append_new(params, v);
    }
    int nr = pgmsg_get_i16(&r);
    if (nr < 0 || r.bad || (size_t)nr * 2 != (size_t)(r.end - r.p)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Bind message");
        goto done;
    }
    if (!(p->formats = calloc((size_t)nr + 1, sizeof *p->formats)) ||
        !(p->name = strdup(pname)) || !(p->sql = strdup(s->sql))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nr; i++) {
        p->formats[i] = pgmsg_get_i16(&r);
        if (p->formats[i] != 0 && p->formats[i] != 1) {
            rc = TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "unsupported format code: %d",
                            p->formats[i]);
            goto done;
        }
    }
    p->nformats = nr;
    p->kind = s->kind;
    p->params = params;
    params = NULL;
    portal_t **old = portal_find(k, pname);
    if (*old) {
        portal_t *o = *old;
        *old = o->next;
        portal_free(k, o);
    }
    p->next = k->portals;
    k->portals = p;
    p = NULL;
    size_t b = pgmsg_begin(&k->out, '2');
    pgmsg_end(&k->out, b);
done:
    free(pf);
    json_decref(params);
    portal_free(k, p);
    return rc;
}

static void put_no_data(conn_t *k)
{
    size_t b = pgmsg_begin(&k->out, 'n');
    pgmsg_end(&k->out, b);
}

static int ext_describe(conn_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    char what = (char)pgmsg_get_u8(&r);
    const char *name = pgmsg_get_str(&r);
    if (!pgmsg_reader_done(&r) || (what != 'S' && what != 'P'))
        return TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Describe message");
    if (what == 'S') {
        stmt_t *s = *stmt_find(k, name);
        if (!s)
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidSqlStatementName",
                              "prepared statement \"%s\" does not exist", name);
        /* Parameters the client left unspecified are described as text, which every
         * driver can send. */
        size_t b = pgmsg_begin(&k->out, 't');
        pgmsg_put_i16(&k->out, (int16_t)s->nparams);
        for (int i = 0; i < s->nparams; i++)
            pgmsg_put_i32(&k->out, (int32_t)(i < s->ntypes && s->types[i] ? s->types[i]
                                                                         : PGTYPE_TEXT));
        pgmsg_end(&k->out, b);
        if (s->kind == PGSQL_SHOW)
            return run_show(k, s->sql, strlen(s->sql), true, false, err);
        if (s->kind == PGSQL_FETCH)
            return run_fetch(k, s->sql, true, false, err);
        if (s->kind != PGSQL_QUERY) {
            put_no_data(k);
            return 0;
        }
        json_t *params = json_array();
        for (int i = 0; i < s->nparams; i++)
            json_array_append_new(params, json_null());
        portal_t tmp = {0};
        int rc = session_query(k->session, s->sql, params, SESSION_ROWS_PG, &tmp.columns, NULL, err);
        json_decref(params);
        if (rc)
            return rc;
        tmp.ncols = json_array_size(tmp.columns);
        put_row_description(k, &tmp);
        json_decref(tmp.columns);
        return 0;
    }
    portal_t *p = *portal_find(k, name);
    if (!p)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidCursorName", "portal \"%s\" does not exist",
                          name);
    if (p->kind == PGSQL_SHOW)
        return run_show(k, p->sql, strlen(p->sql), true, false, err);
    if (p->kind == PGSQL_FETCH)
        return run_fetch(k, p->sql, true, false, err);
    if (p->kind != PGSQL_QUERY) {
        put_no_data(k);
        return 0;
    }
    if (k->txn == 'E')
        return TARN_ERR_R(err, TARN_EINVAL, "InFailedSqlTransaction",
                          "current transaction is aborted, commands ignored until end of "
                          "transaction block");
    /* The query starts here, so its columns are the ones Execute will send. */
    int rc = p->started ? 0 : portal_start(k, p, err);
    if (rc)
        return rc;
    put_row_description(k, p);
    return 0;
}

static int ext_execute(conn_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *name = pgmsg_get_str(&r);
    int32_t max = pgmsg_get_i32(&r);
    if (!pgmsg_reader_done(&r))
        return TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Execute message");
    portal_t *p = *portal_find(k, name);
    if (!p)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidCursorName", "portal \"%s\" does not exist",
                          name);
    int64_t start = time_mono_ns();
    uint64_t before = p->bytes;
    int rc = portal_execute(k, p, max, false, err);
    if (rc == 1) {
        size_t b = pgmsg_begin(&k->out, 's');
        pgmsg_end(&k->out, b);
        return 0;
    }
    audit_statement(k, p->kind == PGSQL_QUERY || p->kind == PGSQL_COPY ? "pg:Query" : "pg:Command",
                    rc ? (err->code == TARN_EDENIED ? "deny" : "error") : "allow",
                    rc ? errors_sqlstate(err->code, err->reason) : NULL,
                    p->bytes - before, (double)(time_mono_ns() - start) / 1e9);
    return rc;
}

static int ext_close(conn_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    char what = (char)pgmsg_get_u8(&r);
    const char *name = pgmsg_get_str(&r);
    if (!pgmsg_reader_done(&r) || (what != 'S' && what != 'P'))
        return TARN_ERR_R(err, TARN_EINVAL, "ProtocolViolation", "malformed Close message");
    if (what == 'S') {
        stmt_t **pp = stmt_find(k, name), *s = *pp;
        if (s) {
            *pp = s->next;
            stmt_free(s);
        }
    } else {
        portal_t **pp = portal_find(k, name), *p = *pp;
        if (p) {
            *pp = p->next;
            portal_free(k, p);
        }
    }
    size_t b = pgmsg_begin(&k->out, '3');
    pgmsg_end(&k->out, b);
    return 0;
}

/* Sync ends the implicit transaction: outside a block, every portal closes. */
static void ext_sync(conn_t *k)
{
    k->skip_to_sync = false;
    if (k->txn != 'T')
        close_portals(k, false);
    pgmsg_put_ready(&k->out, k->txn);
}

/* ---- startup and authentication ---- */

/* SCRAM-SHA-256 against the user's stored verifier. 0 when authenticated. */
static int authenticate(conn_t *k)
{
    buf_t verifier = BUF_INIT, msg = BUF_INIT;
    iam_user_t u = {0};
    scram_t sc = {0};
    bool started = false;
    int rc = iam_user_scram(k->srv->iam, k->user, &u, &verifier, k->a, &k->err);
    bool known = rc == 0 && verifier.data;
    size_t b = pgmsg_begin(&k->out, 'R');
    pgmsg_put_i32(&k->out, 10);
    pgmsg_put_str(&k->out, "SCRAM-SHA-256");
    buf_putc(&k->out, '\0');
    pgmsg_end(&k->out, b);
    pgmsg_t m;
    rc = conn_read(k, false, &m);
    if (rc)
        goto done;
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, &m);
    const char *mech = pgmsg_get_str(&r);
    int32_t n = pgmsg_get_i32(&r);
    const char *data = n >= 0 ? pgmsg_get_bytes(&r, (size_t)n) : NULL;
    if (m.type != 'p' || !pgmsg_reader_done(&r) || !data) {
        fatal(k, "08P01", "expected a SASL initial response%s", "");
        rc = TARN_EINVAL;
        goto done;
    }
    if (strcmp(mech, "SCRAM-SHA-256")) {
        fatal(k, "28000", "SASL mechanism \"%s\" is not supported; use SCRAM-SHA-256", mech);
        rc = TARN_EINVAL;
        goto done;
    }
    if ((rc = scram_start(&sc, known ? verifier.data : NULL, data, (size_t)n, NULL, &msg,
                          &k->err))) {
        fatal(k, "08P01", "%s", k->err.msg);
        goto done;
    }
    started = true;
    b = pgmsg_begin(&k->out, 'R');
    pgmsg_put_i32(&k->out, 11);
    buf_append(&k->out, msg.data, msg.len);
    pgmsg_end(&k->out, b);
    if ((rc = conn_read(k, false, &m)))
        goto done;
    if (m.type != 'p') {
        fatal(k, "08P01", "expected a SASL response%s", "");
        rc = TARN_EINVAL;
        goto done;
    }
    buf_reset(&msg);
    if ((rc = scram_finish(&sc, m.body, m.len, &msg, &k->err))) {
        if (rc == TARN_EDENIED)
            fatal(k, "28P01", "password authentication failed for user \"%s\"", k->user);
        else
            fatal(k, "08P01", "%s", k->err.msg);
        goto done;
    }
    b = pgmsg_begin(&k->out, 'R');
    pgmsg_put_i32(&k->out, 12);
    buf_append(&k->out, msg.data, msg.len);
    pgmsg_end(&k->out, b);
    k->principal.name = k->user;
    k->principal.admin = u.admin;
    k->principal.deny = k->srv->deny_rules;
done:
    if (started)
        scram_done(&sc);
    buf_free(&verifier);
    buf_free(&msg);
    return rc;
}

/* Reads startup-phase packets until the StartupMessage: answers SSLRequest and
 * GSSENCRequest with 'N' and serves a CancelRequest (then ends). CONN_EOF to close. */
static int startup(conn_t *k, json_t *params)
{
    for (;;) {
        pgmsg_t m;
        int rc = conn_read(k, true, &m);
        if (rc < 0)
            fatal(k, "08P01", "%s", k->err.msg);
        if (rc)
            return CONN_EOF;
        pgmsg_reader_t r;
        pgmsg_reader_init(&r, &m);
        int32_t code = pgmsg_get_i32(&r);
        if (code == PGMSG_SSL_REQUEST && k->c->pg->tls && !k->ssl) {
            /* Bytes sent before the handshake could be injected by a man in the middle
             * (CVE-2021-23214): refuse them. */
            if (k->in.len > k->in_off) {
                fatal(k, "08P01", "received unencrypted data after SSL request%s", "");
                return CONN_EOF;
            }
            buf_putc(&k->out, 'S');
            if (conn_flush(k) || !(k->ssl = SSL_new(k->c->pg->tls)) ||
                SSL_set_fd(k->ssl, k->c->fd) != 1 || SSL_accept(k->ssl) != 1)
                return CONN_EOF;
            continue;
        }
        if (code == PGMSG_SSL_REQUEST || code == PGMSG_GSSENC_REQUEST) {
            /* No TLS certificate is configured (or TLS is already on; GSSAPI never is):
             * the client may go on as it is. */
            buf_putc(&k->out, 'N');
            if (conn_flush(k))
                return CONN_EOF;
            continue;
        }
        if (code == PGMSG_CANCEL_REQUEST) {
            int32_t pid = pgmsg_get_i32(&r), key = pgmsg_get_i32(&r);
            if (pgmsg_reader_done(&r))
                pg_cancel(k->c->pg, pid, key);
            return CONN_EOF;
        }
        if (code >> 16 != 3) {
            char v[32];
            snprintf(v, sizeof v, "%d.%d", code >> 16, code & 0xffff);
            fatal(k, "0A000", "unsupported frontend protocol %s: server supports 3.0", v);
            return CONN_EOF;
        }
        json_t *unknown = json_array();
        for (;;) {
            const char *key = pgmsg_get_str(&r);
            if (r.bad || !*key)
                break;
            const char *val = pgmsg_get_str(&r);
            if (!strncmp(key, "_pq_.", 5))
                json_array_append_new(unknown, json_string(key));
            else
                json_object_set_new(params, key, json_string(val));
        }
        if (r.bad) {
            json_decref(unknown);
            fatal(k, "08P01", "invalid startup packet layout%s", "");
            return CONN_EOF;
        }
        if ((code & 0xffff) > 0 || json_array_size(unknown)) {
            /* NegotiateProtocolVersion: 3.0, and the protocol options not recognized. */
            size_t b = pgmsg_begin(&k->out, 'v');
            pgmsg_put_i32(&k->out, PGMSG_PROTOCOL_3);
            pgmsg_put_i32(&k->out, (int32_t)json_array_size(unknown));
            size_t i;
            json_t *u;
            json_array_foreach(unknown, i, u)
                pgmsg_put_str(&k->out, json_string_value(u));
            pgmsg_end(&k->out, b);
        }
        json_decref(unknown);
        return 0;
    }
}

/* The session and its settings after a successful login. */
static int begin_session(conn_t *k, json_t *params)
{
    server_t *srv = k->srv;
    int rc = session_open(&k->session, srv->sql_engine, srv->catalog, srv->objects_dir,
                          &k->principal, &k->err);
    if (rc) {
        fatal(k, "53000", "cannot open a query session: %s", k->err.msg);
        return rc;
    }
    /* Startup parameters are applied like SETs, but their ParameterStatus messages are
     * dropped: every reported value is sent below, once. */
    size_t mark = k->out.len;
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        char lower[64];
        size_t i = 0;
        for (; key[i] && i + 1 < sizeof lower; i++)
            lower[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
        lower[i] = '\0';
        static const char *const settable[] = {"application_name", "client_encoding",
                                               "datestyle", "timezone", "extra_float_digits",
                                               "search_path", "intervalstyle"};
        for (size_t j = 0; j < sizeof settable / sizeof *settable; j++)
            if (!strcmp(lower, settable[j]) &&
                setting_set(k, lower, json_string_value(v), &k->err)) {
                fatal(k, "22023", "%s", k->err.msg);
                return TARN_EINVAL;
            }
    }
    k->out.len = mark;
    /* What every driver expects to hear about before the first query. */
    size_t b = pgmsg_begin(&k->out, 'R');
    pgmsg_put_i32(&k->out, 0);
    pgmsg_end(&k->out, b);
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (defaults[i].report)
            pgmsg_put_param_status(&k->out, defaults[i].report, setting_get(k, defaults[i].name));
    b = pgmsg_begin(&k->out, 'K');
    pgmsg_put_i32(&k->out, k->c->pid);
    pgmsg_put_i32(&k->out, k->c->key);
    pgmsg_end(&k->out, b);
    pgmsg_put_ready(&k->out, 'I');
    return 0;
}

static void serve(conn_t *k)
{
    json_t *params = json_object();
    if (!params || startup(k, params))
        goto done;
    const char *user = json_string_value(json_object_get(params, "user"));
    const char *db = json_string_value(json_object_get(params, "database"));
    if (!user || !*user) {
        fatal(k, "28000", "no PostgreSQL user name specified in startup packet%s", "");
        goto done;
    }
    if (json_object_get(params, "replication")) {
        const char *rep = json_string_value(json_object_get(params, "replication"));
        if (rep && strcasecmp(rep, "false") && strcasecmp(rep, "off") && strcmp(rep, "0")) {
            fatal(k, "0A000", "replication connections are not supported%s", "");
            goto done;
        }
    }
    snprintf(k->user, sizeof k->user, "%s", user);
    snprintf(k->database, sizeof k->database, "%s", db && *db ? db : user);
    pthread_mutex_lock(&k->c->pg->mu);
    int n = k->c->pg->nconns;
    pthread_mutex_unlock(&k->c->pg->mu);
    if (n > PG_MAX_CONNECTIONS) {
        fatal(k, "53300", "sorry, too many clients already%s", "");
        goto done;
    }
    int64_t start = time_mono_ns();
    if (authenticate(k)) {
        k->principal.name = k->user;
        audit_statement(k, "pg:Connect", "deny", "InvalidPassword", 0,
                        (double)(time_mono_ns() - start) / 1e9);
        goto done;
    }
    audit_statement(k, "pg:Connect", "allow", "password", 0,
                    (double)(time_mono_ns() - start) / 1e9);
    if (begin_session(k, params))
        goto done;
    k->txn = 'I';
    for (;;) {
        arena_reset(k->a);
        pgmsg_t m;
        int rc = conn_read(k, false, &m);
        if (rc < 0) {
            fatal(k, "08P01", "%s", k->err.msg);
            break;
        }
        if (rc || m.type == 'X')
            break;
        if (k->skip_to_sync && m.type != 'S')
            continue; /* after an error, the extended protocol discards until Sync */
        tarn_err_t err = {0};
        switch (m.type) {
        case 'Q':
            simple_query(k, &m);
            continue;
        case 'P':
            rc = ext_parse(k, &m, &err);
            break;
        case 'B':
            rc = ext_bind(k, &m, &err);
            break;
        case 'D':
            rc = ext_describe(k, &m, &err);
            break;
        case 'E':
            rc = ext_execute(k, &m, &err);
            break;
        case 'C':
            rc = ext_close(k, &m, &err);
            break;
        case 'S':
            ext_sync(k);
            continue;
        case 'H':
            conn_flush(k);
            continue;
        case 'd':
        case 'c':
        case 'f':
            continue; /* COPY data outside COPY FROM: ignored, as PostgreSQL does */
        default: {
            char t[8];
            snprintf(t, sizeof t, "%d", (unsigned char)m.type);
            fatal(k, "08P01", "invalid frontend message type %s", t);
            goto done;
        }
        }
        if (rc) {
            send_error(k, "ERROR", &err);
            k->skip_to_sync = true;
            if (k->txn == 'T')
                k->txn = 'E';
        }
        if (k->dead)
            break;
    }
done:
    json_decref(params);
}

void pg_conn_serve(pg_conn_t *c)
{
    conn_t k = {.c = c, .srv = c->pg->srv, .txn = 'I'};
    if (!(k.a = arena_create()) || !(k.settings = json_object())) {
        arena_free(k.a);
        return;
    }
    serve(&k);
    conn_flush(&k);
    close_portals(&k, false);
    while (k.stmts) {
        stmt_t *s = k.stmts;
        k.stmts = s->next;
        stmt_free(s);
    }
    if (k.ssl) {
        SSL_shutdown(k.ssl);
        SSL_free(k.ssl);
    }
    session_close(k.session);
    json_decref(k.settings);
    buf_free(&k.in);
    buf_free(&k.out);
    arena_free(k.a);
}
