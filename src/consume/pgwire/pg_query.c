/* Running statements for the PostgreSQL protocol: session parameters (SET / SHOW), rows
 * as DataRow or COPY lines, portals whose queries run under the workload, cursors
 * (DECLARE / FETCH / CLOSE), transaction status, and the simple Query message. */
#include "consume/pgwire/pgcatalog_defs.h"
#include "consume/pgwire/pgsetting.h"
#include "consume/pgwire/pgtype.h"
#include "govern/grants_sql.h"
#include "consume/pgwire/pg_internal.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- settings ---- */

const pg_setting_t pg_settings_known[] = {
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
const size_t pg_settings_count = sizeof pg_settings_known / sizeof *pg_settings_known;

const char *pg_setting_get(pg_client_t *k, const char *name)
{
    if (!strcmp(name, "is_superuser"))
        return k->principal.admin ? "on" : "off";
    if (!strcmp(name, "session_authorization"))
        return k->user;
    const char *v = json_string_value(json_object_get(k->settings, name));
    if (v)
        return v;
    for (size_t i = 0; i < pg_settings_count; i++)
        if (!strcmp(pg_settings_known[i].name, name))
            return pg_settings_known[i].value;
    return NULL;
}

/* Applies SET name = value (NULL: RESET). Values tarn cannot honour are refused rather
 * than silently ignored; the rest only change what SHOW answers. */
int pg_setting_set(pg_client_t *k, const char *name, const char *value, tarn_err_t *err)
{
    static const char *const fixed[] = {
        "server_version", "server_encoding",       "integer_datetimes",
        "is_superuser",   "server_version_num",    "lc_collate",
        "lc_ctype",       "max_identifier_length", "in_hot_standby"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(name, fixed[i]))
            return TARN_ERR_R(err, TARN_EINVAL, CantChangeRuntimeParam,
                              "parameter \"%s\" cannot be changed", name);
    bool dflt = !value || !strcasecmp(value, "DEFAULT");
    /* Values are compared in PostgreSQL's normal form ('utf-8' is UTF8, "iso,dmy" is
     * "ISO, DMY"), and kept in it for SHOW and ParameterStatus. */
    char norm[256];
    int rc = dflt ? 0
                  : pgsetting_normalize(name, value, pg_setting_get(k, name), norm, sizeof norm,
                                        err);
    if (rc)
        return rc;
    if (!dflt)
        value = norm;
    if (!dflt && !strcmp(name, "standard_conforming_strings") && strcasecmp(value, "on"))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                          "standard_conforming_strings is always on");
    if (!dflt && !strcmp(name, "transaction") && strcasestr(value, "read write"))
        return TARN_ERR_R(err, TARN_EINVAL, ReadOnlySqlTransaction,
                          "the lake's SQL sessions are read-only");
    if (dflt)
        json_object_del(k->settings, name);
    else if (!strcmp(name, "timezone"))
        ; /* times are always shown in UTC, with their offset, so any zone reads right */
    else if (strcmp(name, "transaction"))
        json_object_set_new(k->settings, name, json_string(value));
    return 0;
}

/* ParameterStatus for a parameter drivers track (after the SET's CommandComplete, in the
 * order PostgreSQL sends them). */
static void report_setting(pg_client_t *k, const char *name)
{
    for (size_t i = 0; i < pg_settings_count; i++)
        if (!strcmp(pg_settings_known[i].name, name) && pg_settings_known[i].report)
            pgmsg_put_param_status(&k->out, pg_settings_known[i].report, pg_setting_get(k, name));
}

/* ---- rows ---- */

void pg_put_row_description(pg_client_t *k, const portal_t *p)
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
        /* A column straight from a lake table names it as pg_class and pg_attribute do. */
        const json_t *tid = json_object_get(c, "table_id");
        pgmsg_put_i32(&k->out, tid ? (int32_t)(PGCAT_TABLE_BASE + json_integer_value(tid)) : 0);
        pgmsg_put_i16(&k->out, (int16_t)json_integer_value(json_object_get(c, "attnum")));
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

static size_t cell_len(const portal_t *p, size_t j, const engine_cell_t *c)
{
    return pgtype_text_len(p->oids[j], c->data, c->len);
}

/* One DataRow from the current chunk's row r. */
static int put_data_row(pg_client_t *k, portal_t *p, const engine_cell_t *row, tarn_err_t *err)
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
            /* From the typed value; a column the query converted to text, from its text. */
            const engine_vec_t *v = query_vectors(p->query, j);
            int rc = v ? pgtype_vec_to_binary(v, p->pos, &k->out, err)
                       : pgtype_text_to_binary(p->oids[j], row[j].data,
                                               cell_len(p, j, &row[j]), &k->out, err);
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

/* A CSV field needs quotes: it holds the delimiter, a quote or a line break, or it spells
 * the NULL string (an empty field when NULL is empty, so "" keeps the empty string). */
static bool csv_needs_quotes(const pgsql_copy_t *o, const char *s, size_t n, size_t nulllen)
{
    if (n == nulllen && !memcmp(s, o->null, n))
        return true;
    for (size_t i = 0; i < n; i++)
        if (s[i] == o->delimiter || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            return true;
    return false;
}

/* One COPY line (text or CSV) as a CopyData message; header: row holds column names.
 * Room for the worst case (every byte escaped or quoted) is reserved once, then the line
 * is written through a pointer: a call per byte or per cell was most of COPY's time. */
static int put_copy_row(pg_client_t *k, const portal_t *p, const engine_cell_t *row, bool header)
{
    const pgsql_copy_t *o = &p->copy;
    size_t nulllen = strlen(o->null), need = 8;
    for (size_t j = 0; j < p->ncols; j++)
        need += 3 + (row[j].data ? 2 * row[j].len : nulllen);
    if (buf_reserve(&k->out, need))
        return TARN_ENOMEM;
    size_t m = pgmsg_begin(&k->out, 'd');
    char *w = k->out.data + k->out.len;
    for (size_t j = 0; j < p->ncols; j++) {
        if (j)
            *w++ = o->delimiter;
        const char *s = row[j].data;
        if (!s) {
            memcpy(w, o->null, nulllen);
            w += nulllen;
            continue;
        }
        size_t n = !header ? cell_len(p, j, &row[j]) : row[j].len;
        if (o->csv) {
            if (!csv_needs_quotes(o, s, n, nulllen)) {
                memcpy(w, s, n);
                w += n;
                continue;
            }
            *w++ = '"';
            for (size_t i = 0; i < n; i++) {
                if (s[i] == '"')
                    *w++ = '"';
                *w++ = s[i];
            }
            *w++ = '"';
            continue;
        }
        /* Runs that need no escape are copied whole: most values have none. */
        size_t run = 0;
        for (size_t i = 0; i < n; i++) {
            char c = s[i], e;
            switch (c) {
            case '\\': e = '\\'; break;
            case '\n': e = 'n'; break;
            case '\r': e = 'r'; break;
            case '\t': e = 't'; break;
            default:
                if (c != o->delimiter)
                    continue;
                e = c;
            }
            memcpy(w, s + run, i - run);
            w += i - run;
            *w++ = '\\';
            *w++ = e;
            run = i + 1;
        }
        memcpy(w, s + run, n - run);
        w += n - run;
    }
    *w++ = '\n';
    k->out.len = (size_t)(w - k->out.data);
    k->out.data[k->out.len] = '\0';
    pgmsg_end(&k->out, m);
    return 0;
}

/* ---- running a query ---- */

static void portal_stop(pg_client_t *k, portal_t *p, const char *error)
{
    if (p->query) {
        atomic_store(&k->c->query_id, 0);
        query_close(p->query, p->bytes, error);
        p->query = NULL;
    }
}

/* Ends the portal's query (if running) and frees what it owns, not p itself. */
static void portal_clear(pg_client_t *k, portal_t *p, const char *error)
{
    portal_stop(k, p, error);
    json_decref(p->columns);
    json_decref(p->params);
    free(p->oids);
    free(p->formats);
    free(p->name);
    free(p->sql);
}

void pg_portal_free(pg_client_t *k, portal_t *p)
{
    if (!p)
        return;
    portal_clear(k, p, NULL);
    free(p);
}

/* A query that failed while running, in PostgreSQL's words for a cancel or a timeout
 * (57014). */
static int query_failed(int rc, tarn_err_t *err)
{
    if (err->reason == TARN_R_QueryCancelled)
        rc = TARN_ERR_R(err, TARN_ECONFLICT, QueryCancelled,
                        "canceling statement due to user request");
    else if (err->reason == TARN_R_QueryTimeout)
        rc = TARN_ERR_R(err, TARN_EBUSY, QueryTimeout,
                        "canceling statement due to statement timeout (the server's "
                        "--query-timeout)");
    return rc;
}

/* Admits the portal's query to the workload and starts it; its columns are then known. */
int pg_portal_start(pg_client_t *k, portal_t *p, tarn_err_t *err)
{
    const char *sql = p->kind == PGSQL_COPY ? p->copy.query : p->sql;
    p->started = true;
    atomic_store(&k->c->cancel_requested, false);
    query_opts_t o = {
        .session = k->session, .rows = ROWENC_PG, .admitted_id = &k->c->query_id};
    int rc = query_open(&p->query, k->env->queries, &k->principal, sql, p->params, &o, err);
    if (rc) {
        rc = query_failed(rc, err);
        portal_stop(k, p, err->msg);
        return rc;
    }
    p->columns = json_incref((json_t *)query_columns(p->query));
    p->ncols = json_array_size(p->columns);
    p->oids = calloc(p->ncols ? p->ncols : 1, sizeof *p->oids);
    if (!p->oids) {
        portal_stop(k, p, "out of memory");
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->ncols; i++) {
        p->oids[i] =
            pgtype_of(json_string_value(json_object_get(json_array_get(p->columns, i), "type")))
                .oid;
        if (binary_col(p, i) && p->kind != PGSQL_COPY)
            query_own_column(p->query, i);
    }
    return 0;
}

/* Streams up to max rows (0: all) of a started portal. 0 when the portal completed (its
 * CommandComplete written), 1 when suspended, or an error. A cursor's FETCH (fetch) always
 * completes, with "FETCH n", and keeps the rest for the next FETCH. */
static int portal_rows(pg_client_t *k, portal_t *p, long max, bool fetch, tarn_err_t *err)
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
            if ((rc = query_next(p->query, &p->cells, &p->chunk_rows, err)))
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
        if (p->kind == PGSQL_COPY) {
            if ((rc = put_copy_row(k, p, row, false))) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                break;
            }
        } else if ((rc = put_data_row(k, p, row, err))) {
            break;
        }
        p->bytes += k->out.len - before;
        p->pos++;
        p->rows++;
        sent++;
        if (k->out.len >= PG_FLUSH_AT && pg_flush(k)) {
            rc = TARN_ERR_R(err, TARN_EIO, ConnectionFailure, "the client went away");
            break;
        }
    }
    if (rc) {
        rc = query_failed(rc, err);
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
        snprintf(tag, sizeof tag, "SELECT %ld", sent); /* the rows of this Execute */
    }
    pgmsg_put_command_complete(&k->out, tag);
    portal_stop(k, p, NULL);
    return 0;
}

/* CopyOutResponse, and the header line when asked: 0 or TARN_ENOMEM. */
static int put_copy_out_response(pg_client_t *k, const portal_t *p)
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
            names[i].data =
                json_string_value(json_object_get(json_array_get(p->columns, i), "name"));
            names[i].len = strlen(names[i].data);
        }
        int rc = names ? put_copy_row(k, p, names, true) : TARN_ENOMEM;
        free(names);
        return rc;
    }
    return 0;
}

/* SHOW name: one row of one text column. describe: only its RowDescription; rows: only
 * the row and CommandComplete (the extended protocol's Execute); both for a simple Query. */
int pg_run_show(pg_client_t *k, const char *sql, size_t len, bool describe, bool rows,
                tarn_err_t *err)
{
    const char *name;
    int rc = pgsql_parse_show(sql, len, &name, k->a, err);
    if (rc)
        return rc;
    if (!strcmp(name, "all"))
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "SHOW ALL is not supported; SHOW one parameter by name");
    const char *v = pg_setting_get(k, name);
    if (!v)
        return TARN_ERR_R(err, TARN_EINVAL, UndefinedObject,
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

portal_t **pg_portal_find(pg_client_t *k, const char *name)
{
    portal_t **pp = &k->portals;
    while (*pp && strcmp((*pp)->name, name))
        pp = &(*pp)->next;
    return pp;
}

void pg_portals_close(pg_client_t *k, bool cursors_only)
{
    for (portal_t **pp = &k->portals; *pp;) {
        portal_t *p = *pp;
        if (cursors_only && !p->cursor) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        pg_portal_free(k, p);
    }
}

/* DECLARE name CURSOR FOR query: a named portal that FETCH reads forward; it keeps the
 * parameters bound to the DECLARE. */
static int run_declare(pg_client_t *k, const char *sql, json_t *params, tarn_err_t *err)
{
    const char *name, *query;
    bool binary;
    int rc = pgsql_parse_declare(sql, strlen(sql), &name, &query, &binary, k->a, err);
    if (rc)
        return rc;
    if (k->txn == 'I')
        return TARN_ERR_R(err, TARN_EINVAL, NoActiveSqlTransaction,
                          "DECLARE CURSOR can only be used in transaction blocks");
    if (*pg_portal_find(k, name))
        return TARN_ERR_R(err, TARN_EINVAL, DuplicateCursor, "cursor \"%s\" already exists",
                          name);
    portal_t *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name)) || !(p->sql = strdup(query)) ||
        !(p->formats = calloc(1, sizeof *p->formats))) {
        pg_portal_free(k, p);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    p->kind = pgsql_classify(query, strlen(query)) == PGSQL_QUERY ? PGSQL_QUERY : PGSQL_EMPTY;
    if (p->kind != PGSQL_QUERY) {
        pg_portal_free(k, p);
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "DECLARE CURSOR needs a query");
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
int pg_run_fetch(pg_client_t *k, const char *sql, bool describe, bool rows, tarn_err_t *err)
{
    const char *name;
    long count;
    int rc = pgsql_parse_fetch(sql, strlen(sql), &name, &count, k->a, err);
    if (rc)
        return rc;
    portal_t *p = *pg_portal_find(k, name);
    if (!p || !p->cursor)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidCursorName, "cursor \"%s\" does not exist",
                          name);
    if (!p->started && (rc = pg_portal_start(k, p, err)))
        return rc;
    if (!p->columns)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidCursorState, "the cursor has failed");
    if (describe)
        pg_put_row_description(k, p);
    if (!rows)
        return 0;
    if (count == 0)
        count = -1; /* FETCH 0 re-reads the current row in PostgreSQL; read the rest here */
    return portal_rows(k, p, count < 0 ? 0 : count, true, err);
}

static int run_close(pg_client_t *k, const char *sql, tarn_err_t *err)
{
    const char *name;
    int rc = pgsql_parse_close(sql, strlen(sql), &name, k->a, err);
    if (rc)
        return rc;
    if (!name) {
        pg_portals_close(k, true);
    } else {
        portal_t **pp = pg_portal_find(k, name), *p = *pp;
        if (!p || !p->cursor)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidCursorName, "cursor \"%s\" does not exist",
                              name);
        *pp = p->next;
        pg_portal_free(k, p);
    }
    pgmsg_put_command_complete(&k->out, "CLOSE CURSOR");
    return 0;
}

/* Runs a statement that is not a query (BEGIN, SET, SHOW...): writes its CommandComplete
 * (and SHOW's row). */
static int run_command(pg_client_t *k, portal_t *p, bool simple, tarn_err_t *err)
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
            pgmsg_put_error(&k->out, 'N', "WARNING", "25P01", "there is no transaction in progress",
                            NULL);
        pgmsg_put_command_complete(&k->out, k->txn == 'E' ? "ROLLBACK" : "COMMIT");
        k->txn = 'I';
        pg_portals_close(k, true); /* cursors end with their transaction */
        break;
    case PGSQL_ROLLBACK:
        if (k->txn == 'I')
            pgmsg_put_error(&k->out, 'N', "WARNING", "25P01", "there is no transaction in progress",
                            NULL);
        pgmsg_put_command_complete(&k->out, "ROLLBACK");
        k->txn = 'I';
        pg_portals_close(k, true);
        break;
    case PGSQL_SET:
    case PGSQL_RESET:
        if ((rc = pgsql_parse_set(p->sql, len, &name, &value, k->a, err)))
            break;
        if (p->kind == PGSQL_RESET && !strcmp(name, "all")) {
            json_object_clear(k->settings);
            pgmsg_put_command_complete(&k->out, "RESET");
            for (size_t i = 0; i < pg_settings_count; i++)
                report_setting(k, pg_settings_known[i].name);
            break;
        }
        if ((rc = pg_setting_set(k, name, value, err)))
            break;
        pgmsg_put_command_complete(&k->out, p->kind == PGSQL_SET ? "SET" : "RESET");
        report_setting(k, name);
        break;
    case PGSQL_SHOW:
        rc = pg_run_show(k, p->sql, len, simple, true, err);
        break;
    case PGSQL_DECLARE:
        rc = run_declare(k, p->sql, p->params, err);
        break;
    case PGSQL_GRANT: {
        const char *tag;
        if (!(rc = grants_statement_run(k->env->grants, &k->principal, p->sql, &tag, err)))
            pgmsg_put_command_complete(&k->out, tag);
        break;
    }
    case PGSQL_FETCH:
        rc = pg_run_fetch(k, p->sql, simple, true, err);
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
            rc = TARN_ERR_R(err, TARN_EINVAL, NoActiveSqlTransaction,
                            "SAVEPOINT can only be used in transaction blocks");
        else
            pgmsg_put_command_complete(
                &k->out, strncasecmp(p->sql + strspn(p->sql, " \t\r\n"), "release", 7) ? "SAVEPOINT"
                                                                                       : "RELEASE");
        break;
    default:
        break;
    }
    return rc;
}

/* Executes a bound portal: up to max rows (0: all). In the simple protocol (simple), a
 * query's RowDescription goes first. 1 when suspended. */
int pg_portal_execute(pg_client_t *k, portal_t *p, int32_t max, bool simple, tarn_err_t *err)
{
    if (k->txn == 'E' && p->kind != PGSQL_COMMIT && p->kind != PGSQL_ROLLBACK)
        return TARN_ERR_R(err, TARN_EINVAL, InFailedSqlTransaction,
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
        if ((rc = pg_portal_start(k, p, err)))
            return rc;
        if (p->kind == PGSQL_COPY) {
            if (put_copy_out_response(k, p))
                return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        } else if (simple) {
            pg_put_row_description(k, p);
        }
    } else if (!p->query) {
        return TARN_ERR_R(err, TARN_EINVAL, InvalidCursorState, "the portal has failed");
    }
    return portal_rows(k, p, p->kind == PGSQL_COPY ? 0 : max, false, err);
}

/* ---- simple query ---- */

void pg_simple_query(pg_client_t *k, const pgmsg_t *m)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *sql = pgmsg_get_str(&r);
    if (!pgmsg_reader_done(&r)) {
        k->err = (tarn_err_t){0};
        TARN_ERR_R(&k->err, TARN_EINVAL, ProtocolViolation, "malformed Query message");
        pg_send_error(k, "ERROR", &k->err);
        pgmsg_put_ready(&k->out, k->txn);
        return;
    }
    pgsql_stmt_t *stmts = NULL;
    size_t nstmts = 0;
    int n = 0;
    if (pgsql_split(sql, &stmts, &nstmts, &k->err)) {
        pg_send_error(k, "ERROR", &k->err);
        pgmsg_put_ready(&k->out, k->txn);
        return;
    }
    for (size_t i = 0; i < nstmts; i++) {
        const char *stmt = stmts[i].sql;
        size_t len = stmts[i].len;
        pgsql_kind_t kind = pgsql_classify(stmt, len);
        if (kind == PGSQL_EMPTY)
            continue;
        n++;
        portal_t q = {.kind = kind, .sql = strndup(stmt, len)};
        int64_t start = time_mono_ns();
        tarn_err_t err = {0};
        int rc = q.sql ? pg_portal_execute(k, &q, 0, true, &err)
                       : TARN_ERR(&err, TARN_ENOMEM, "out of memory");
        pg_audit_statement(k, kind == PGSQL_QUERY || kind == PGSQL_COPY ? "pg:Query" : "pg:Command",
                           rc ? (err.code == TARN_EDENIED ? "deny" : "error") : "allow",
                           rc ? k->env->sqlstate(err.code, err.reason) : NULL, q.bytes,
                           (double)(time_mono_ns() - start) / 1e9);
        portal_clear(k, &q, rc ? err.msg : NULL);
        if (rc) {
            pg_send_error(k, "ERROR", &err);
            if (k->txn == 'T')
                k->txn = 'E';
            break;
        }
    }
    free(stmts);
    if (!n) {
        size_t e = pgmsg_begin(&k->out, 'I');
        pgmsg_end(&k->out, e);
    }
    pgmsg_put_ready(&k->out, k->txn);
}
