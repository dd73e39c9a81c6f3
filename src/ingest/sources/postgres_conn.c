/* The PostgreSQL source's connections and checks: connecting with errors that say what
 * to fix, the server's settings and the user's privileges, the tables and their keys,
 * the publication and the slot, and PostgreSQL's types and text values as change-file
 * columns and JSON values. */
#include "ingest/sources/postgres_internal.h"

#include "ingest/source_db.h"
#include "util/config_map.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S(o, k) json_string_value(config_map_get((o), (k)))

/* ---- connecting ---- */

/* The first line of a libpq message, without "FATAL:  " and the like. */
static void first_line(char *out, size_t cap, const char *m)
{
    for (const char *p; (p = strstr(m, ":  ")) && p - m < 16; m = p + 3)
        ;
    snprintf(out, cap, "%.*s", (int)strcspn(m, "\n"), m);
}

int pg_connect(PGconn **out, const json_t *cfg, const char *source, bool replication,
               tarn_err_t *err)
{
    char pw[1024], port[16], app[128], timeout[16];
    int rc = source_db_password(cfg, pw, sizeof pw, err);
    if (rc)
        return rc;
    const char *host = S(cfg, "connection.host"), *user = S(cfg, "connection.user");
    long long p = json_integer_value(config_map_get(cfg, "connection.port"));
    snprintf(port, sizeof port, "%lld", p);
    snprintf(app, sizeof app, "tarn source %s", source);
    snprintf(timeout, sizeof timeout, "%lld",
             (long long)json_integer_value(config_map_get(cfg, "connection.connect_timeout")) / 1000);
    const char *keys[16], *vals[16];
    int n = 0;
#define KV(k, v)                                                                                   \
    do {                                                                                           \
        const char *v_ = (v);                                                                      \
        if (v_) {                                                                                  \
            keys[n] = k;                                                                           \
            vals[n++] = v_;                                                                        \
        }                                                                                          \
    } while (0)
    KV("host", host);
    KV("port", port);
    KV("dbname", S(cfg, "connection.database"));
    KV("user", user);
    KV("password", *pw ? pw : NULL);
    KV("sslmode", S(cfg, "connection.sslmode"));
    KV("sslrootcert", S(cfg, "connection.sslrootcert"));
    KV("connect_timeout", timeout);
    KV("application_name", app);
    KV("client_encoding", "UTF8");
    /* Text values in the forms the change files read: UTC times, ISO dates, every digit. */
    KV("options", "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres "
                  "-c extra_float_digits=3");
    KV("replication", replication ? "database" : NULL);
#undef KV
    keys[n] = vals[n] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    OPENSSL_cleanse(pw, sizeof pw);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (PQstatus(c) == CONNECTION_OK) {
        *out = c;
        return 0;
    }
    char m[400];
    first_line(m, sizeof m, PQerrorMessage(c));
    PQfinish(c);
    if (strstr(m, "password authentication failed"))
        return TARN_ERR(err, TARN_EINVAL, "PostgreSQL at %s:%s refused the password of user %s "
                        "(%s): check connection.password, password_file or password_env",
                        host, port, user, m);
    if (strstr(m, "no password supplied"))
        return TARN_ERR(err, TARN_EINVAL, "PostgreSQL at %s:%s wants a password for user %s: "
                        "give connection.password, password_file or password_env", host, port,
                        user);
    if (strstr(m, "Connection refused") || strstr(m, "could not connect") ||
        strstr(m, "timeout expired") || strstr(m, "translate host name") ||
        strstr(m, "No route to host"))
        return TARN_ERR(err, TARN_EUPSTREAM, "cannot reach PostgreSQL at %s:%s (%s): check "
                        "connection.host and connection.port, and that the server listens there",
                        host, port, m);
    if (strstr(m, "pg_hba.conf"))
        return TARN_ERR(err, TARN_EINVAL, "PostgreSQL at %s:%s does not let user %s in (%s): add "
                        "a line for it to pg_hba.conf and reload", host, port, user, m);
    return TARN_ERR(err, TARN_EUPSTREAM, "cannot connect to PostgreSQL at %s:%s: %s", host, port,
                    m);
}

int pg_exec(PGconn *c, const char *sql, ExecStatusType want, PGresult **res, const char *what,
            tarn_err_t *err)
{
    PGresult *r = PQexec(c, sql);
    if (r && PQresultStatus(r) == want) {
        if (res)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    char m[400];
    first_line(m, sizeof m, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    if (!*m)
        first_line(m, sizeof m, PQerrorMessage(c));
    PQclear(r);
    if (res)
        *res = NULL;
    return TARN_ERR(err, PQstatus(c) == CONNECTION_OK ? TARN_EINVAL : TARN_EUPSTREAM, "%s: %s",
                    what, m);
}

/* One value of a one-row answer to sql with up to two text parameters, copied into out. */
static int query1(PGconn *c, const char *sql, const char *p1, const char *p2, char *out,
                  size_t cap, tarn_err_t *err)
{
    const char *params[2] = {p1, p2};
    PGresult *r = PQexecParams(c, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        char m[400];
        first_line(m, sizeof m, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return TARN_ERR(err, TARN_EUPSTREAM, "PostgreSQL: %s", m);
    }
    snprintf(out, cap, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

int pg_check_server(PGconn *c, const json_t *cfg, tarn_err_t *err)
{
    char v[64];
    const char *user = S(cfg, "connection.user");
    int rc = query1(c, "SELECT current_setting('wal_level')", NULL, NULL, v, sizeof v, err);
    if (!rc && strcmp(v, "logical"))
        return TARN_ERR(err, TARN_EINVAL, "wal_level is %s on this PostgreSQL server; change "
                        "capture (mode: cdc) needs logical: run ALTER SYSTEM SET wal_level = "
                        "logical; and restart PostgreSQL (or use mode: snapshot)", v);
    if (!rc)
        rc = query1(c, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname ="
                       " current_user", NULL, NULL, v, sizeof v, err);
    if (!rc && strcmp(v, "t"))
        return TARN_ERR(err, TARN_EDENIED, "user %s lacks the REPLICATION privilege that change "
                        "capture (mode: cdc) needs: run ALTER ROLE %s REPLICATION; as a "
                        "superuser", user, user);
    return rc;
}

/* ---- tables ---- */

void pg_tables_free(pg_table_t *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].schema);
        free(t[i].name);
        free(t[i].lake);
        for (int k = 0; k < t[i].ncols; k++)
            free(t[i].cols[k].name);
        free(t[i].cols);
    }
    free(t);
}

int pg_query_oid(PGconn *c, const char *sql, uint32_t oid, PGresult **out, tarn_err_t *err)
{
    char id[16];
    snprintf(id, sizeof id, "%u", oid);
    const char *params[1] = {id};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return TARN_ERR(err, TARN_EUPSTREAM, "PostgreSQL: %s", PQerrorMessage(c));
    }
    *out = r;
    return 0;
}

static int table_cols(PGconn *c, pg_table_t *t, tarn_err_t *err)
{
    PGresult *r;
    int rc = pg_query_oid(c,
                          "SELECT attname, atttypid, atttypmod FROM pg_attribute WHERE"
                          " attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND"
                          " attgenerated = '' ORDER BY attnum",
                          t->oid, &r, err);
    if (rc)
        return rc;
    int n = PQntuples(r);
    t->cols = calloc((size_t)n + 1, sizeof *t->cols);
    for (int i = 0; t->cols && i < n; i++) {
        t->cols[i].name = strdup(PQgetvalue(r, i, 0));
        t->cols[i].type = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
        t->cols[i].typmod = (int32_t)strtol(PQgetvalue(r, i, 2), NULL, 10);
        t->ncols = i + 1;
    }
    PQclear(r);
    return t->cols ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

/* Types whose order grows with each change as a watermark's must: numbers, dates and
 * times, and text (ISO timestamps kept as text). Not json, bool, bytea, uuid, arrays: they
 * have no such order, or none at all. */
static bool orderable(uint32_t type)
{
    static const uint32_t ok[] = {20, 21, 23, 26, 700, 701, 1700, 1082, 1083, 1114, 1184,
                                  25, 1043, 1042};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (ok[i] == type)
            return true;
    return false;
}

/* Mode incremental: t->wm gets the index of table q's watermark column, or the refusal
 * names the column's absence or its type. */
static int watermark_col(PGconn *c, const json_t *cfg, pg_table_t *t, const char *q,
                         tarn_err_t *err)
{
    const char *col = source_db_watermark(cfg, q);
    if (!col)
        return source_db_watermark_refuse(cfg, q, NULL, NULL, err);
    for (int i = 0; i < t->ncols; i++) {
        if (strcmp(t->cols[i].name, col))
            continue;
        if (orderable(t->cols[i].type)) {
            t->wm = i;
            return 0;
        }
        char oid[16], mod[16];
        snprintf(oid, sizeof oid, "%u", t->cols[i].type);
        snprintf(mod, sizeof mod, "%d", t->cols[i].typmod);
        const char *params[2] = {oid, mod};
        PGresult *r = PQexecParams(c, "SELECT format_type($1::oid, $2::int)", 2, NULL, params,
                                   NULL, NULL, 0);
        char type[128];
        snprintf(type, sizeof type, "%s",
                 r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? PQgetvalue(r, 0, 0)
                                                                             : oid);
        PQclear(r);
        return source_db_watermark_refuse(cfg, q, col, type, err);
    }
    return source_db_watermark_refuse(cfg, q, col, NULL, err);
}

/* Why the table cannot be captured, with the SQL that fixes it; 0 when it can. */
static int check_key(const char *q, char ident, bool pk, tarn_err_t *err)
{
    if (ident == 'n')
        return TARN_ERR(err, TARN_EINVAL, "table %s has REPLICA IDENTITY NOTHING, so its updates "
                        "and deletes cannot be captured: run ALTER TABLE %s REPLICA IDENTITY "
                        "DEFAULT; (with a primary key) or ALTER TABLE %s REPLICA IDENTITY FULL;",
                        q, q, q);
    if (ident == 'd' && !pk)
        return TARN_ERR(err, TARN_EINVAL, "table %s has no primary key or replica identity, so its "
                        "updates and deletes cannot be captured: run ALTER TABLE %s ADD PRIMARY KEY "
                        "(column, ...); or ALTER TABLE %s REPLICA IDENTITY FULL;", q, q, q);
    return 0;
}

int pg_tables_resolve(PGconn *c, const json_t *cfg, bool cdc, pg_table_t **out, size_t *nout,
                      tarn_err_t *err)
{
    const json_t *list = config_map_get(cfg, "tables");
    const char *user = S(cfg, "connection.user");
    pg_table_t *t = NULL;
    size_t n = 0;
    int rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *pat = json_string_value(v), *dot = strchr(pat, '.');
        char schema[128];
        snprintf(schema, sizeof schema, "%.*s", (int)(dot - pat), pat);
        const char *params[2] = {schema, dot + 1};
        PGresult *r = PQexecParams(
            c,
            "SELECT c.oid, n.nspname, c.relname, c.relreplident, EXISTS (SELECT 1 FROM pg_index"
            " x WHERE x.indrelid = c.oid AND x.indisprimary), has_table_privilege(c.oid,"
            " 'SELECT'), greatest(c.reltuples, 0)::bigint FROM pg_class c JOIN pg_namespace n ON"
            " n.oid = c.relnamespace WHERE n.nspname = $1 AND ($2 = '*' OR c.relname = $2) AND"
            " c.relkind IN ('r', 'p') ORDER BY c.relname",
            2, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = TARN_ERR(err, TARN_EUPSTREAM, "PostgreSQL: %s", PQerrorMessage(c));
            PQclear(r);
            break;
        }
        int rows = PQntuples(r);
        if (!rows) {
            PQclear(r);
            rc = TARN_ERR(err, TARN_EINVAL, "tables[%zu]: %s %s in database %s (or user %s "
                          "cannot see it)", i, pat,
                          !strcmp(dot + 1, "*") ? "matches no table" : "does not exist",
                          S(cfg, "connection.database"), user);
            break;
        }
        pg_table_t *nt = realloc(t, (n + (size_t)rows) * sizeof *t);
        if (!nt) {
            PQclear(r);
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        t = nt;
        for (int k = 0; k < rows && !rc; k++) {
            char q[300];
            snprintf(q, sizeof q, "%s.%s", PQgetvalue(r, k, 1), PQgetvalue(r, k, 2));
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup = dup || t[j].oid == (uint32_t)strtoul(PQgetvalue(r, k, 0), NULL, 10);
            if (dup)
                continue;
            if (strcmp(PQgetvalue(r, k, 5), "t")) {
                rc = TARN_ERR(err, TARN_EDENIED, "user %s may not read %s: run GRANT SELECT ON "
                              "%s TO %s;", user, q, q, user);
                break;
            }
            if (cdc && (rc = check_key(q, PQgetvalue(r, k, 3)[0], !strcmp(PQgetvalue(r, k, 4), "t"),
                                       err)))
                break;
            pg_table_t *x = &t[n];
            memset(x, 0, sizeof *x);
            x->wm = -1;
            x->oid = (uint32_t)strtoul(PQgetvalue(r, k, 0), NULL, 10);
            x->schema = strdup(PQgetvalue(r, k, 1));
            x->name = strdup(PQgetvalue(r, k, 2));
            x->estimate = strtoll(PQgetvalue(r, k, 6), NULL, 10);
            if (!strcmp(x->schema, "public"))
                x->lake = strdup(x->name);
            else if (asprintf(&x->lake, "%s_%s", x->schema, x->name) < 0)
                x->lake = NULL;
            n++;
            if (!x->schema || !x->name || !x->lake)
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            else
                rc = table_cols(c, x, err);
            if (!rc && source_db_is_incremental(cfg))
                rc = watermark_col(c, cfg, x, q, err);
        }
        PQclear(r);
        if (rc)
            break;
    }
    if (rc) {
        pg_tables_free(t, n);
        return rc;
    }
    *out = t;
    *nout = n;
    return 0;
}

/* "public.a, public.b" as SQL names. */
static int table_list(PGconn *c, const pg_table_t *t, size_t n, buf_t *b)
{
    for (size_t i = 0; i < n; i++) {
        char *s = PQescapeIdentifier(c, t[i].schema, strlen(t[i].schema));
        char *r = PQescapeIdentifier(c, t[i].name, strlen(t[i].name));
        if (s && r)
            buf_printf(b, "%s%s.%s", i ? ", " : "", s, r);
        PQfreemem(s);
        PQfreemem(r);
        if (!s || !r)
            return -1;
    }
    return 0;
}

int pg_publication_ensure(PGconn *c, const char *pub, const pg_table_t *t, size_t n,
                          bool create, tarn_err_t *err)
{
    char v[16];
    int rc = query1(c, "SELECT count(*) FROM pg_publication WHERE pubname = $1", pub, NULL, v,
                    sizeof v, err);
    if (rc)
        return rc;
    buf_t list = BUF_INIT;
    if (table_list(c, t, n, &list)) {
        buf_free(&list);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    if (strcmp(v, "0")) {
        /* It exists: every table must be in it. */
        for (size_t i = 0; i < n && !rc; i++) {
            char q[300];
            snprintf(q, sizeof q, "%s.%s", t[i].schema, t[i].name);
            if ((rc = query1(c, "SELECT count(*) FROM pg_publication_tables WHERE pubname = $1"
                                " AND schemaname || '.' || tablename = $2",
                             pub, q, v, sizeof v, err)))
                break;
            if (!strcmp(v, "0"))
                rc = TARN_ERR(err, TARN_EINVAL, "publication %s does not publish %s: run ALTER "
                              "PUBLICATION %s ADD TABLE %s; (or name another publication)", pub, q,
                              pub, q);
        }
    } else if (create) {
        buf_t sql = BUF_INIT;
        buf_printf(&sql, "CREATE PUBLICATION \"%s\" FOR TABLE %s", pub, list.data);
        rc = pg_exec(c, sql.data, PGRES_COMMAND_OK, NULL, "create the publication", err);
        buf_free(&sql);
    } else {
        /* Whoever creates a publication of tables must own them, and may create in the
         * database. */
        char q[300] = "";
        if (!(rc = query1(c, "SELECT has_database_privilege(current_database(), 'CREATE')", NULL,
                          NULL, v, sizeof v, err)) &&
            strcmp(v, "t"))
            rc = TARN_ERR(err, TARN_EDENIED, "publication %s does not exist, and user %s may not "
                          "create it (it lacks CREATE on the database): run GRANT CREATE ON "
                          "DATABASE %s TO %s; or, as a superuser, CREATE PUBLICATION %s FOR TABLE "
                          "%s;", pub, PQuser(c), PQdb(c), PQuser(c), pub,
                          list.data);
        for (size_t i = 0; i < n && !rc; i++) {
            snprintf(q, sizeof q, "%s.%s", t[i].schema, t[i].name);
            char oid[16];
            snprintf(oid, sizeof oid, "%u", t[i].oid);
            if (!(rc = query1(c, "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid ="
                                 " $1::oid", oid, NULL, v, sizeof v, err)) &&
                strcmp(v, "t"))
                rc = TARN_ERR(err, TARN_EDENIED, "publication %s does not exist, and user %s may "
                              "not create it (it does not own %s): as the tables' owner or a "
                              "superuser, run CREATE PUBLICATION %s FOR TABLE %s;", pub, PQuser(c),
                              q, pub, list.data);
        }
    }
    buf_free(&list);
    return rc;
}

int pg_slot_check(PGconn *c, const char *slot, tarn_err_t *err)
{
    char v[64];
    int rc = query1(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot,
                    NULL, v, sizeof v, err);
    if (!rc && strcmp(v, "0"))
        return TARN_ERR(err, TARN_EEXISTS, "the replication slot %s exists already (another "
                        "source's, or an earlier one's): name another slot, or drop it with "
                        "SELECT pg_drop_replication_slot('%s');", slot, slot);
    if (!rc)
        rc = query1(c, "SELECT current_setting('max_replication_slots')::int - (SELECT count(*)"
                       " FROM pg_replication_slots)", NULL, NULL, v, sizeof v, err);
    if (!rc && atoi(v) <= 0)
        return TARN_ERR(err, TARN_EINVAL, "every replication slot of this PostgreSQL server is "
                        "taken (max_replication_slots): raise it with ALTER SYSTEM SET "
                        "max_replication_slots = ...; and restart, or drop an unused slot");
    return rc;
}

/* ---- types and values ---- */

enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_DATE = 1082, OID_TIME = 1083,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700, OID_UUID = 2950,
    OID_JSONB = 3802,
};

/* The change-file type of a PostgreSQL type; types without a faithful counterpart
 * (arrays, intervals, network addresses, ...) are kept as their text. */
static const char *duck_type(uint32_t type, int32_t typmod, char *buf, size_t cap)
{
    switch (type) {
    case OID_BOOL: return "BOOLEAN";
    case OID_BYTEA: return "BLOB";
    case OID_INT2: return "SMALLINT";
    case OID_INT4: return "INTEGER";
    case OID_INT8:
    case OID_OID: return "BIGINT";
    case OID_FLOAT4: return "FLOAT";
    case OID_FLOAT8: return "DOUBLE";
    case OID_DATE: return "DATE";
    case OID_TIME: return "TIME";
    case OID_TIMESTAMP: return "TIMESTAMP";
    case OID_TIMESTAMPTZ: return "TIMESTAMPTZ";
    case OID_UUID: return "UUID";
    case OID_JSON:
    case OID_JSONB: return "JSON";
    case OID_NUMERIC:
        if (typmod >= 4) {
            int p = ((typmod - 4) >> 16) & 0xffff, s = (typmod - 4) & 0xffff;
            if (p >= 1 && p <= 38 && s <= p) {
                snprintf(buf, cap, "DECIMAL(%d,%d)", p, s);
                return buf;
            }
        }
        return "VARCHAR"; /* unbounded numerics keep every digit as text */
    default: return "VARCHAR";
    }
}

void pg_cols_free(change_col_t *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        free((char *)c[i].type);
    free(c);
}

int pg_change_cols(const pg_col_t *cols, int n, change_col_t **out, size_t *nout,
                   tarn_err_t *err)
{
    static const change_col_t meta[] = {
        {"_op", "VARCHAR", NULL, NULL},        {"_source_pos", "VARCHAR", NULL, NULL},
        {"_commit_ts", "TIMESTAMPTZ", NULL, NULL}, {"_txid", "BIGINT", NULL, NULL},
        {"_old_key", "JSON", NULL, NULL},
    };
    size_t nm = sizeof meta / sizeof *meta;
    change_col_t *c = calloc((size_t)n + nm, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        char buf[32];
        c[i].name = cols[i].name;
        c[i].type = strdup(duck_type(cols[i].type, cols[i].typmod, buf, sizeof buf));
        if (cols[i].type == OID_BYTEA) {
            c[i].read_as = "VARCHAR";
            c[i].convert = "unhex(substr(%s, 3))"; /* "\x0a0b": PostgreSQL's hex output */
        }
        if (!c[i].type) {
            pg_cols_free(c, (size_t)i);
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < nm; i++) {
        c[(size_t)n + i] = meta[i];
        c[(size_t)n + i].type = strdup(meta[i].type);
    }
    *out = c;
    *nout = (size_t)n + nm;
    return 0;
}

int pg_value_json(buf_t *out, uint32_t type, const char *data, size_t len)
{
    if (!data)
        return buf_puts(out, "null");
    switch (type) {
    case OID_BOOL:
        return buf_puts(out, len && data[0] == 't' ? "true" : "false");
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_FLOAT4:
    case OID_FLOAT8:
        /* NaN and the infinities are not JSON numbers: as strings they still cast. (A
         * numeric is always a string: as a JSON number it would pass through a double.) */
        if (len && (data[len - 1] >= '0' && data[len - 1] <= '9'))
            return buf_append(out, data, len);
        break;
    case OID_JSON:
    case OID_JSONB:
        return buf_append(out, data, len);
    }
    buf_put_json_string(out, data, len);
    return 0;
}

void pg_source_pos(char *out, size_t cap, uint64_t lsn, uint32_t ordinal)
{
    snprintf(out, cap, "%016llX-%010u", (unsigned long long)lsn, ordinal);
}
