/* The PostgreSQL extended query protocol: Parse (named and unnamed prepared statements),
 * Bind (parameters in text or binary, result formats), Describe, Execute (with a row
 * limit: PortalSuspended), Close and Sync (the end of an implicit transaction). */
#include "consume/pgwire/pgtype.h"
#include "consume/pgwire/pg_internal.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- extended query ---- */

static stmt_t **stmt_find(pg_client_t *k, const char *name)
{
    stmt_t **pp = &k->stmts;
    while (*pp && strcmp((*pp)->name, name))
        pp = &(*pp)->next;
    return pp;
}

void pg_stmt_free(stmt_t *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->sql);
    free(s->types);
    free(s->open);
    free(s);
}

/* Fills the parameter types the client left unspecified with those the engine infers
 * from where the statement uses them, as PostgreSQL's Parse does. When the statement
 * cannot be mapped yet (a table it may not read, say), they stay unspecified (text) and
 * running it reports why. */
static void infer_param_types(pg_client_t *k, stmt_t *s)
{
    bool open = false;
    for (int i = 0; i < s->nparams; i++)
        open |= i >= s->ntypes || !s->types[i];
    if (!open)
        return;
    uint32_t *t = realloc(s->types, (size_t)s->nparams * sizeof *t);
    if (!t)
        return;
    for (int i = s->ntypes; i < s->nparams; i++)
        t[i] = 0;
    s->types = t;
    s->ntypes = s->nparams;
    /* A cast in the text names PostgreSQL's type exactly ($1::oid[] is oid[], where the
     * engine sees BIGINT[]); the engine infers the rest. */
    uint32_t *cast = calloc((size_t)s->nparams, sizeof *cast);
    if (!cast)
        return;
    pgsql_param_casts(s->sql, strlen(s->sql), cast, s->nparams);
    bool rest = false;
    for (int i = 0; i < s->nparams; i++) {
        if (!t[i])
            t[i] = cast[i];
        rest |= !t[i];
    }
    free(cast);
    json_t *inferred = NULL;
    tarn_err_t ignored = {0};
    if (!rest || session_param_types(k->session, s->sql, &inferred, &ignored))
        return;
    s->open = calloc((size_t)s->nparams, sizeof *s->open);
    for (int i = 0; i < s->nparams; i++) {
        const char *name = json_string_value(json_array_get(inferred, (size_t)i));
        if (!t[i])
            t[i] = pgtype_param_oid(name ? name : "");
        if (s->open)
            s->open[i] = !name || !*name;
    }
    json_decref(inferred);
}

int pg_ext_parse(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *name = pgmsg_get_str(&r), *sql = pgmsg_get_str(&r);
    int n = pgmsg_get_i16(&r);
    if (n < 0 || r.bad)
        return TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Parse message");
    stmt_t *s = calloc(1, sizeof *s);
    if (!s || !(s->types = calloc((size_t)n + 1, sizeof *s->types))) {
        free(s);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        s->types[i] = (uint32_t)pgmsg_get_i32(&r);
    s->ntypes = n;
    pgsql_stmt_t *stmts = NULL;
    size_t nstmts = 0;
    int count = 0;
    int rc = pgsql_split(sql, &stmts, &nstmts, err);
    for (size_t i = 0; !rc && i < nstmts; i++)
        if (pgsql_classify(stmts[i].sql, stmts[i].len) != PGSQL_EMPTY)
            count++;
    free(stmts);
    if (!rc && !pgmsg_reader_done(&r))
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Parse message");
    else if (!rc && count > 1)
        rc = TARN_ERR_R(err, TARN_EINVAL, SyntaxError,
                        "cannot insert multiple commands into a prepared statement");
    else if (!rc && *name && *stmt_find(k, name))
        rc = TARN_ERR_R(err, TARN_EINVAL, DuplicatePreparedStatement,
                        "prepared statement \"%s\" already exists", name);
    if (!rc && (!(s->name = strdup(name)) || !(s->sql = strdup(sql))))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc) {
        pg_stmt_free(s);
        return rc;
    }
    s->kind = pgsql_classify(sql, strlen(sql));
    if (s->kind == PGSQL_QUERY && (rc = session_check_syntax(k->session, sql, err))) {
        pg_stmt_free(s);
        return rc;
    }
    s->nparams = pgsql_count_params(sql, strlen(sql));
    if (s->nparams < n)
        s->nparams = n;
    if (s->kind == PGSQL_QUERY)
        infer_param_types(k, s);
    stmt_t **old = stmt_find(k, name);
    if (*old) { /* the unnamed statement is replaced */
        stmt_t *o = *old;
        *old = o->next;
        pg_stmt_free(o);
    }
    s->next = k->stmts;
    k->stmts = s;
    size_t b = pgmsg_begin(&k->out, '1');
    pgmsg_end(&k->out, b);
    return 0;
}

int pg_ext_bind(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *pname = pgmsg_get_str(&r), *sname = pgmsg_get_str(&r);
    stmt_t *s = *stmt_find(k, sname);
    if (!s)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidSqlStatementName,
                          "prepared statement \"%s\" does not exist", sname);
    if (*pname && *pg_portal_find(k, pname))
        return TARN_ERR_R(err, TARN_EINVAL, DuplicateCursor, "portal \"%s\" already exists",
                          pname);
    int nf = pgmsg_get_i16(&r);
    if (nf < 0 || r.bad || (size_t)nf * 2 > (size_t)(r.end - r.p))
        return TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Bind message");
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
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation,
                        "Bind message has %d parameter formats but %d parameters", nf, np);
        goto done;
    }
    if (np != s->nparams) {
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation,
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
        if ((rc = pgtype_param_to_json(oid, fmt, data, (size_t)len, &v, err))) {
            if (err->reason == TARN_R_InvalidBinaryRepresentation)
                TARN_ERR_R(err, TARN_EINVAL, InvalidBinaryRepresentation,
                           "incorrect binary data format in bind parameter %d", i + 1);
            goto done;
        }
        json_array_append_new(params, v);
    }
    int nr = pgmsg_get_i16(&r);
    if (nr < 0 || r.bad || (size_t)nr * 2 != (size_t)(r.end - r.p)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Bind message");
        goto done;
    }
    if (!(p->formats = calloc((size_t)nr + 1, sizeof *p->formats)) || !(p->name = strdup(pname)) ||
        !(p->sql = strdup(s->sql))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nr; i++) {
        p->formats[i] = pgmsg_get_i16(&r);
        if (p->formats[i] != 0 && p->formats[i] != 1) {
            rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "unsupported format code: %d",
                            p->formats[i]);
            goto done;
        }
    }
    p->nformats = nr;
    p->kind = s->kind;
    p->params = params;
    params = NULL;
    portal_t **old = pg_portal_find(k, pname);
    if (*old) {
        portal_t *o = *old;
        *old = o->next;
        pg_portal_free(k, o);
    }
    p->next = k->portals;
    k->portals = p;
    p = NULL;
    size_t b = pgmsg_begin(&k->out, '2');
    pgmsg_end(&k->out, b);
done:
    free(pf);
    json_decref(params);
    pg_portal_free(k, p);
    return rc;
}

static void put_no_data(pg_client_t *k)
{
    size_t b = pgmsg_begin(&k->out, 'n');
    pgmsg_end(&k->out, b);
}

int pg_ext_describe(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    char what = (char)pgmsg_get_u8(&r);
    const char *name = pgmsg_get_str(&r);
    if (!pgmsg_reader_done(&r) || (what != 'S' && what != 'P'))
        return TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Describe message");
    if (what == 'S') {
        stmt_t *s = *stmt_find(k, name);
        if (!s)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidSqlStatementName,
                              "prepared statement \"%s\" does not exist", name);
        /* Parameters the client left unspecified are described as text, which every
         * driver can send. */
        size_t b = pgmsg_begin(&k->out, 't');
        pgmsg_put_i16(&k->out, (int16_t)s->nparams);
        for (int i = 0; i < s->nparams; i++)
            pgmsg_put_i32(&k->out,
                          (int32_t)(i < s->ntypes && s->types[i] ? s->types[i] : PGTYPE_TEXT));
        pgmsg_end(&k->out, b);
        if (s->kind == PGSQL_SHOW)
            return pg_run_show(k, s->sql, strlen(s->sql), true, false, err);
        if (s->kind == PGSQL_FETCH)
            return pg_run_fetch(k, s->sql, true, false, err);
        if (s->kind != PGSQL_QUERY) {
            put_no_data(k);
            return 0;
        }
        /* NULLs describe the columns, but that a parameter whose type is open is text
         * (a NULL there would make SELECT $1 an integer column). */
        json_t *params = json_array();
        for (int i = 0; i < s->nparams; i++)
            json_array_append_new(params, s->open && s->open[i] ? json_string("") : json_null());
        portal_t tmp = {0};
        int rc =
            session_query(k->session, s->sql, params, ROWENC_PG, &tmp.columns, NULL, err);
        json_decref(params);
        if (rc)
            return rc;
        tmp.ncols = json_array_size(tmp.columns);
        pg_put_row_description(k, &tmp);
        json_decref(tmp.columns);
        return 0;
    }
    portal_t *p = *pg_portal_find(k, name);
    if (!p)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidCursorName, "portal \"%s\" does not exist",
                          name);
    if (p->kind == PGSQL_SHOW)
        return pg_run_show(k, p->sql, strlen(p->sql), true, false, err);
    if (p->kind == PGSQL_FETCH)
        return pg_run_fetch(k, p->sql, true, false, err);
    if (p->kind != PGSQL_QUERY) {
        put_no_data(k);
        return 0;
    }
    if (k->txn == 'E')
        return TARN_ERR_R(err, TARN_EINVAL, InFailedSqlTransaction,
                          "current transaction is aborted, commands ignored until end of "
                          "transaction block");
    /* The query starts here, so its columns are the ones Execute will send. */
    int rc = p->started ? 0 : pg_portal_start(k, p, err);
    if (rc)
        return rc;
    pg_put_row_description(k, p);
    return 0;
}

int pg_ext_execute(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    const char *name = pgmsg_get_str(&r);
    int32_t max = pgmsg_get_i32(&r);
    if (!pgmsg_reader_done(&r))
        return TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Execute message");
    portal_t *p = *pg_portal_find(k, name);
    if (!p)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidCursorName, "portal \"%s\" does not exist",
                          name);
    int64_t start = time_mono_ns();
    uint64_t before = p->bytes;
    int rc = pg_portal_execute(k, p, max, false, err);
    if (rc == 1) {
        size_t b = pgmsg_begin(&k->out, 's');
        pgmsg_end(&k->out, b);
        return 0;
    }
    pg_audit_statement(k,
                       p->kind == PGSQL_QUERY || p->kind == PGSQL_COPY ? "pg:Query" : "pg:Command",
                       rc ? (err->code == TARN_EDENIED ? "deny" : "error") : "allow",
                       rc ? k->env->sqlstate(err->code, err->reason) : NULL, p->bytes - before,
                       (double)(time_mono_ns() - start) / 1e9);
    return rc;
}

int pg_ext_close(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err)
{
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, m);
    char what = (char)pgmsg_get_u8(&r);
    const char *name = pgmsg_get_str(&r);
    if (!pgmsg_reader_done(&r) || (what != 'S' && what != 'P'))
        return TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "malformed Close message");
    if (what == 'S') {
        stmt_t **pp = stmt_find(k, name), *s = *pp;
        if (s) {
            *pp = s->next;
            pg_stmt_free(s);
        }
    } else {
        portal_t **pp = pg_portal_find(k, name), *p = *pp;
        if (p) {
            *pp = p->next;
            pg_portal_free(k, p);
        }
    }
    size_t b = pgmsg_begin(&k->out, '3');
    pgmsg_end(&k->out, b);
    return 0;
}

/* Sync ends the implicit transaction: outside a block, every portal closes. */
void pg_ext_sync(pg_client_t *k)
{
    k->skip_to_sync = false;
    if (k->txn != 'T')
        pg_portals_close(k, false);
    pgmsg_put_ready(&k->out, k->txn);
}
