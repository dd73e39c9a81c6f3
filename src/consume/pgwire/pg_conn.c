/* One PostgreSQL client connection: startup (SSLRequest with TLS when configured,
 * CancelRequest, parameters), SCRAM-SHA-256 authentication, the session and its reported
 * parameters, and the message loop that hands queries to pg_query.c and pg_extended.c. */
#include "govern/scram.h"
#include "consume/pgwire/pg_internal.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- socket ---- */

int pg_flush(pg_client_t *k)
{
    size_t off = 0;
    /* What goes out may confirm a change (a CommandComplete, a GRANT): its commit is
     * synced first. A failed sync ends the connection unanswered rather than confirm. */
    tarn_err_t err = {0};
    if (k->out.len && db_sync(k->env->db, &err)) {
        log_error("pg: cannot confirm a change", "error", err.msg);
        k->dead = true;
    }
    while (!k->dead && off < k->out.len) {
        size_t want = k->out.len - off;
        ssize_t n =
            k->ssl ? SSL_write(k->ssl, k->out.data + off, want > INT32_MAX ? INT32_MAX : (int)want)
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
 * PG_CONN_EOF when the client went away; TARN_EINVAL for a framing error. */
static int conn_read(pg_client_t *k, bool startup, pgmsg_t *m)
{
    for (;;) {
        ssize_t used = pgmsg_frame(k->in.data ? k->in.data + k->in_off : "", k->in.len - k->in_off,
                                   startup, m, &k->err);
        if (used < 0)
            return (int)used;
        if (used > 0) {
            k->in_off += (size_t)used;
            return 0;
        }
        /* Everything answered so far goes out before waiting for the client. */
        if (k->out.len && pg_flush(k))
            return PG_CONN_EOF;
        if (k->in_off) {
            memmove(k->in.data, k->in.data + k->in_off, k->in.len - k->in_off);
            k->in.len -= k->in_off;
            k->in_off = 0;
        }
        if (buf_reserve(&k->in, PG_READ_CHUNK))
            return TARN_ERR(&k->err, TARN_ENOMEM, "out of memory");
        ssize_t n = k->ssl ? SSL_read(k->ssl, k->in.data + k->in.len, PG_READ_CHUNK)
                           : recv(k->c->fd, k->in.data + k->in.len, PG_READ_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return PG_CONN_EOF;
        k->in.len += (size_t)n;
    }
}

/* ---- errors ---- */

/* An error to the client in the protocol's own format, from err's code and reason. */
void pg_send_error(pg_client_t *k, const char *severity, const tarn_err_t *err)
{
    const char *state = k->env->sqlstate(err->code, err->reason);
    const char *hint = NULL;
    if (!strcmp(state, "42501") && err->reason == TARN_R_AccessDenied)
        hint = "ask an admin for access, or check the name with SHOW TABLES";
    pgmsg_put_error(&k->out, 'E', severity, state, err->msg[0] ? err->msg : "error", hint);
}

static void fatal(pg_client_t *k, const char *state, const char *fmt, const char *arg)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg);
    pgmsg_put_error(&k->out, 'E', "FATAL", state, msg, NULL);
    pg_flush(k);
}

void pg_audit_statement(pg_client_t *k, const char *action, const char *outcome, const char *reason,
                        uint64_t bytes_out, double secs)
{
    char id[24], res[200], why[1024];
    snprintf(id, sizeof id, "pg-%d", k->c->pid);
    snprintf(res, sizeof res, "pg/%s", k->database);
    /* A query's record also names its tables and what decided each. */
    const char *tables = k->session && !strcmp(action, "pg:Query") ? session_decisions(k->session)
                                                                   : "";
    if (*tables) {
        snprintf(why, sizeof why, "%s%s%s", reason ? reason : "", reason ? "; " : "", tables);
        reason = why;
    }
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
    if (k->env->audit && audit_append(k->env->audit, &rec, &e))
        log_error("audit append failed", "error", e.msg);
    k->env->observe(k->env->ctx, action + 3, rec.status, secs, bytes_out);
}

/* ---- startup and authentication ---- */

/* Holds the login until until_ms (monotonic). False when the client left or the
 * connection was evicted or timed out meanwhile (the socket turns readable: a client
 * waiting for the server's answer sends nothing). */
static bool hold_until(pg_client_t *k, int64_t until_ms)
{
    int64_t start = time_mono_ms(), left;
    bool ok = true;
    while (ok && (left = until_ms - time_mono_ms()) > 0) {
        struct pollfd p = {.fd = k->c->fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(left < 1000 ? left : 1000));
        if (n < 0 && errno != EINTR)
            ok = false;
        if (n > 0)
            ok = false;
    }
    int64_t held = time_mono_ms() - start;
    if (held > 0)
        k->env->auth_held(k->env->ctx, (double)held / 1000.0);
    return ok;
}

/* SCRAM-SHA-256 against the user's stored verifier. 0 when authenticated. The password
 * back-off of (user, client address) spaces the checks of the proofs and delays the
 * answer to a wrong one (govern/backoff.h). */
static int authenticate(pg_client_t *k)
{
    buf_t verifier = BUF_INIT, msg = BUF_INIT;
    iam_user_t u = {0};
    scram_t sc = {0};
    bool started = false, turn_taken = false;
    backoff_turn_t turn;
    /* Read before the lookup: a deletion that races with the login is seen at the first
     * statement. */
    k->iam_generation = iam_generation(k->env->iam);
    int rc = iam_user_scram(k->env->iam, k->user, &u, &verifier, k->a, &k->err);
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
    backoff_begin(k->env->backoff, k->user, k->c->host, time_mono_ms(), &turn);
    if (turn.refused) {
        /* Too many guesses in flight for this pair: refused without checking, so it
         * tells nothing about the password. */
        k->env->auth_failed(k->env->ctx);
        fatal(k, "28P01", "password authentication failed for user \"%s\"", k->user);
        rc = TARN_EDENIED;
        goto done;
    }
    turn_taken = true;
    if (!hold_until(k, turn.check_at_ms)) {
        rc = PG_CONN_EOF;
        goto done;
    }
    if ((rc = scram_finish(&sc, m.body, m.len, &msg, &k->err))) {
        if (rc == TARN_EDENIED) {
            backoff_failed(k->env->backoff, k->user, k->c->host, time_mono_ms());
            turn_taken = false;
            k->env->auth_failed(k->env->ctx);
            if (!hold_until(k, turn.answer_at_ms))
                goto done;
            fatal(k, "28P01", "password authentication failed for user \"%s\"", k->user);
        } else {
            fatal(k, "08P01", "%s", k->err.msg);
        }
        goto done;
    }
    backoff_succeeded(k->env->backoff, k->user, k->c->host);
    turn_taken = false;
    b = pgmsg_begin(&k->out, 'R');
    pgmsg_put_i32(&k->out, 12);
    buf_append(&k->out, msg.data, msg.len);
    pgmsg_end(&k->out, b);
    k->principal.name = k->user;
    k->principal.id = u.id;
    k->principal.admin = u.admin;
    k->principal.grants = k->env->grants;
done:
    if (turn_taken)
        backoff_abandoned(k->env->backoff, k->user, k->c->host);
    if (started)
        scram_done(&sc);
    buf_free(&verifier);
    buf_free(&msg);
    return rc;
}

/* Reads startup-phase packets until the StartupMessage: answers SSLRequest and
 * GSSENCRequest with 'N' and serves a CancelRequest (then ends). PG_CONN_EOF to close. */
static int startup(pg_client_t *k, json_t *params)
{
    for (;;) {
        pgmsg_t m;
        int rc = conn_read(k, true, &m);
        if (rc < 0)
            fatal(k, "08P01", "%s", k->err.msg);
        if (rc)
            return PG_CONN_EOF;
        pgmsg_reader_t r;
        pgmsg_reader_init(&r, &m);
        int32_t code = pgmsg_get_i32(&r);
        if (code == PGMSG_SSL_REQUEST && k->c->pg->tls && !k->ssl) {
            /* Bytes sent before the handshake could be injected by a man in the middle
             * (CVE-2021-23214): refuse them. */
            if (k->in.len > k->in_off) {
                fatal(k, "08P01", "received unencrypted data after SSL request%s", "");
                return PG_CONN_EOF;
            }
            buf_putc(&k->out, 'S');
            if (pg_flush(k) || !(k->ssl = SSL_new(k->c->pg->tls)) ||
                SSL_set_fd(k->ssl, k->c->fd) != 1 || SSL_accept(k->ssl) != 1)
                return PG_CONN_EOF;
            continue;
        }
        if (code == PGMSG_SSL_REQUEST || code == PGMSG_GSSENC_REQUEST) {
            /* No TLS certificate is configured (or TLS is already on; GSSAPI never is):
             * the client may go on as it is. */
            buf_putc(&k->out, 'N');
            if (pg_flush(k))
                return PG_CONN_EOF;
            continue;
        }
        if (code == PGMSG_CANCEL_REQUEST) {
            int32_t pid = pgmsg_get_i32(&r), key = pgmsg_get_i32(&r);
            if (pgmsg_reader_done(&r))
                pg_cancel(k->c->pg, pid, key);
            return PG_CONN_EOF;
        }
        if (code >> 16 != 3) {
            char v[32];
            snprintf(v, sizeof v, "%d.%d", code >> 16, code & 0xffff);
            fatal(k, "0A000", "unsupported frontend protocol %s: server supports 3.0", v);
            return PG_CONN_EOF;
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
            return PG_CONN_EOF;
        }
        if ((code & 0xffff) > 0 || json_array_size(unknown)) {
            /* NegotiateProtocolVersion: 3.0, and the protocol options not recognized. */
            size_t b = pgmsg_begin(&k->out, 'v');
            pgmsg_put_i32(&k->out, PGMSG_PROTOCOL_3);
            pgmsg_put_i32(&k->out, (int32_t)json_array_size(unknown));
            size_t i;
            json_t *u;
            json_array_foreach(unknown, i, u) pgmsg_put_str(&k->out, json_string_value(u));
            pgmsg_end(&k->out, b);
        }
        json_decref(unknown);
        return 0;
    }
}

/* The session and its settings after a successful login. */
static int begin_session(pg_client_t *k, json_t *params)
{
    const pgwire_env_t *env = k->env;
    int rc = session_open(&k->session, env->queries->engine, env->queries->catalog,
                          env->queries->objects_dir,
                          &k->principal, &k->err);
    /* PostgreSQL's dialect and catalogs, for psql's \d and drivers' introspection. */
    if (!rc)
        rc = session_enable_pg(k->session, k->database, k->user, &k->err);
    if (rc) {
        fatal(k, "53000", "cannot open a query session: %s", k->err.msg);
        return rc;
    }
    /* Startup parameters are applied like SETs; every reported value is sent below. */
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        char lower[64];
        size_t i = 0;
        for (; key[i] && i + 1 < sizeof lower; i++)
            lower[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
        lower[i] = '\0';
        static const char *const settable[] = {
            "application_name",   "client_encoding", "datestyle",    "timezone",
            "extra_float_digits", "search_path",     "intervalstyle"};
        for (size_t j = 0; j < sizeof settable / sizeof *settable; j++)
            if (!strcmp(lower, settable[j]) &&
                pg_setting_set(k, lower, json_string_value(v), &k->err)) {
                fatal(k, k->env->sqlstate(k->err.code, k->err.reason), "%s", k->err.msg);
                return TARN_EINVAL;
            }
    }
    /* What every driver expects to hear about before the first query. */
    size_t b = pgmsg_begin(&k->out, 'R');
    pgmsg_put_i32(&k->out, 0);
    pgmsg_end(&k->out, b);
    for (size_t i = 0; i < pg_settings_count; i++)
        if (pg_settings_known[i].report)
            pgmsg_put_param_status(&k->out, pg_settings_known[i].report,
                                   pg_setting_get(k, pg_settings_known[i].name));
    b = pgmsg_begin(&k->out, 'K');
    pgmsg_put_i32(&k->out, k->c->pid);
    pgmsg_put_i32(&k->out, k->c->key);
    pgmsg_end(&k->out, b);
    pgmsg_put_ready(&k->out, 'I');
    return 0;
}

/* A connection acts for the user id it logged in as, never for a name: once that user is
 * deleted the connection ends at its next message that could run a statement, and a user
 * created since under the same name (another id) never inherits it. The id is looked up
 * again only when a user was deleted since the last look (iam_generation). The admin
 * flag is refreshed with it. 0 to go on; otherwise the client was told and the
 * connection must end. */
static int principal_check(pg_client_t *k)
{
    uint64_t gen = iam_generation(k->env->iam);
    if (gen == k->iam_generation)
        return 0;
    iam_user_t u;
    tarn_err_t e = {0};
    int rc = iam_user_get_by_id(k->env->iam, k->principal.id, &u, k->a, &e);
    if (rc == TARN_ENOTFOUND) {
        pg_audit_statement(k, "pg:Query", "deny", "PrincipalDeleted", 0, 0);
        fatal(k, "28000", "the user \"%s\" no longer exists", k->user);
        return rc;
    }
    if (rc) {
        fatal(k, "58000", "%s", e.msg);
        return rc;
    }
    k->principal.admin = u.admin;
    k->iam_generation = gen;
    return 0;
}

static void serve(pg_client_t *k)
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
    int64_t start = time_mono_ns();
    if (authenticate(k)) {
        k->principal.name = k->user;
        pg_audit_statement(k, "pg:Connect", "deny", "InvalidPassword", 0,
                           (double)(time_mono_ns() - start) / 1e9);
        goto done;
    }
    /* Sessions are counted once logged in, as PostgreSQL checks its reserved slots after
     * authentication: a client that never answers the challenge takes no session. */
    if (k->env->conn_login(k->env->ctx, k->c->slot, k->principal.admin) < 0) {
        if (k->principal.admin)
            fatal(k, "53300", "sorry, too many clients already%s", "");
        else
            fatal(k, "53300", "remaining connection slots are reserved for the admin%s", "");
        pg_audit_statement(k, "pg:Connect", "deny", "TooManyConnections", 0,
                           (double)(time_mono_ns() - start) / 1e9);
        goto done;
    }
    pg_audit_statement(k, "pg:Connect", "allow", "password", 0,
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
        if (m.type && strchr("QPBDE", m.type) && principal_check(k))
            break;
        tarn_err_t err = {0};
        switch (m.type) {
        case 'Q':
            pg_simple_query(k, &m);
            continue;
        case 'P':
            rc = pg_ext_parse(k, &m, &err);
            break;
        case 'B':
            rc = pg_ext_bind(k, &m, &err);
            break;
        case 'D':
            rc = pg_ext_describe(k, &m, &err);
            break;
        case 'E':
            rc = pg_ext_execute(k, &m, &err);
            break;
        case 'C':
            rc = pg_ext_close(k, &m, &err);
            break;
        case 'S':
            pg_ext_sync(k);
            continue;
        case 'H':
            pg_flush(k);
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
            pg_send_error(k, "ERROR", &err);
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
    pg_client_t k = {.c = c, .env = &c->pg->env, .txn = 'I'};
    if (!(k.a = arena_create()) || !(k.settings = json_object())) {
        arena_free(k.a);
        return;
    }
    serve(&k);
    pg_flush(&k);
    pg_portals_close(&k, false);
    while (k.stmts) {
        stmt_t *s = k.stmts;
        k.stmts = s->next;
        pg_stmt_free(s);
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
