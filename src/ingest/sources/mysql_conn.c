/* The MySQL/MariaDB source's connections and checks: connecting with errors that say what
 * to fix, the server's binlog settings and the user's privileges, the tables, their keys
 * and columns (typed as a TABLE_MAP types them, so that snapshot and stream files share
 * one shape), and the text protocol's values as JSON for the snapshot. */
#include "ingest/sources/mysql_internal.h"

#include "ingest/source_db.h"
#include "util/config_map.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S(o, k) json_string_value(config_map_get((o), (k)))

enum { ER_ACCESS_DENIED = 1045, ER_BAD_DB = 1049, ER_HOST_NOT_PRIVILEGED = 1130,
       ER_TABLEACCESS_DENIED = 1142, ER_SPECIFIC_ACCESS_DENIED = 1227 };

/* ---- connecting ---- */

int my_connect(MYSQL **out, const json_t *cfg, int read_timeout_s, tarn_err_t *err)
{
    char pw[1024];
    int rc = source_db_password(cfg, pw, sizeof pw, err);
    if (rc)
        return rc;
    const char *host = S(cfg, "connection.host"), *user = S(cfg, "connection.user"),
               *db = S(cfg, "connection.database"), *ssl = S(cfg, "connection.sslmode");
    unsigned port = (unsigned)json_integer_value(config_map_get(cfg, "connection.port"));
    unsigned timeout =
        (unsigned)(json_integer_value(config_map_get(cfg, "connection.connect_timeout")) / 1000);
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        OPENSSL_cleanse(pw, sizeof pw);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    unsigned rt = (unsigned)read_timeout_s;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (rt)
        mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* Session settings: UTC timestamps, and values as the change files read them. */
    mysql_optionsv(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (strcmp(ssl, "disable")) {
        my_bool on = 1, verify = !strcmp(ssl, "verify-full");
        mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        if (S(cfg, "connection.sslrootcert"))
            mysql_optionsv(m, MYSQL_OPT_SSL_CA, S(cfg, "connection.sslrootcert"));
    }
    MYSQL *ok = mysql_real_connect(m, host, user, *pw ? pw : NULL, db, port, NULL, 0);
    OPENSSL_cleanse(pw, sizeof pw);
    if (ok) {
        *out = m;
        return 0;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "%s", mysql_error(m));
    unsigned no = mysql_errno(m);
    mysql_close(m);
    if (no == ER_ACCESS_DENIED)
        return TARN_ERR(err, TARN_EINVAL, "MySQL/MariaDB at %s:%u refused the password of user %s "
                        "(%s): check connection.password, password_file or password_env", host,
                        port, user, msg);
    if (no == ER_BAD_DB)
        return TARN_ERR(err, TARN_EINVAL, "MySQL/MariaDB at %s:%u has no database %s: check "
                        "connection.database", host, port, db);
    if (no == ER_HOST_NOT_PRIVILEGED)
        return TARN_ERR(err, TARN_EINVAL, "MySQL/MariaDB at %s:%u does not let user %s in from "
                        "this host (%s): CREATE USER '%s'@'<this host>' ... and grant it there",
                        host, port, user, msg, user);
    if (no >= 2000 && no < 2100)
        return TARN_ERR(err, TARN_EUPSTREAM, "cannot reach MySQL/MariaDB at %s:%u (%s): check "
                        "connection.host and connection.port, and that the server listens there",
                        host, port, msg);
    return TARN_ERR(err, TARN_EUPSTREAM, "cannot connect to MySQL/MariaDB at %s:%u: %s", host,
                    port, msg);
}

int my_exec(MYSQL *c, const char *sql, const char *what, tarn_err_t *err)
{
    if (!mysql_query(c, sql)) {
        MYSQL_RES *r = mysql_store_result(c);
        mysql_free_result(r);
        return 0;
    }
    unsigned no = mysql_errno(c);
    return TARN_ERR(err, no >= 2000 && no < 2100 ? TARN_EUPSTREAM : TARN_EINVAL, "%s: %s", what,
                    mysql_error(c));
}

int my_query_row(MYSQL *c, const char *sql, char out[][128], int ncols, tarn_err_t *err)
{
    if (mysql_query(c, sql))
        return TARN_ERR(err, TARN_EUPSTREAM, "MySQL/MariaDB: %s", mysql_error(c));
    MYSQL_RES *r = mysql_store_result(c);
    if (!r)
        return TARN_ERR(err, TARN_EUPSTREAM, "MySQL/MariaDB: %s", mysql_error(c));
    MYSQL_ROW row = mysql_fetch_row(r);
    int n = (int)mysql_num_fields(r);
    for (int i = 0; i < ncols; i++)
        snprintf(out[i], 128, "%s", row && i < n && row[i] ? row[i] : "");
    mysql_free_result(r);
    return row ? 1 : 0;
}

int my_check_server(MYSQL *c, const json_t *cfg, tarn_err_t *err)
{
    char v[5][128];
    /* binlog_row_metadata is MariaDB 10.5's and MySQL 8's: older servers lack it. */
    int rc = my_query_row(c, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image,"
                             " @@binlog_row_metadata", v, 4, err);
    if (rc < 0)
        return rc;
    buf_t fix = BUF_INIT;
    if (strcmp(v[0], "1"))
        buf_puts(&fix, "log_bin is off: start the server with log_bin (log-bin under [mariadbd] "
                       "or [mysqld] in its configuration) and a server_id, and restart it; ");
    static const char *const want[3][2] = {{"binlog_format", "ROW"},
                                           {"binlog_row_image", "FULL"},
                                           {"binlog_row_metadata", "FULL"}};
    for (int i = 0; i < 3; i++)
        if (strcasecmp(v[i + 1], want[i][1]))
            buf_printf(&fix, "%s is %s, change capture needs %s: SET GLOBAL %s = '%s'; and "
                             "%s = %s in the server's configuration; ", want[i][0], v[i + 1],
                       want[i][1], want[i][0], want[i][1], want[i][0], want[i][1]);
    if (fix.len) {
        fix.data[fix.len - 2] = '\0';
        rc = TARN_ERR(err, TARN_EINVAL, "this server's binlog cannot be captured (mode: cdc), "
                      "change: %s (or use mode: snapshot)", fix.data);
        buf_free(&fix);
        return rc;
    }
    buf_free(&fix);
    const char *user = S(cfg, "connection.user");
    /* REPLICATION CLIENT (BINLOG MONITOR since MariaDB 10.5) lets it read the positions. */
    if (mysql_query(c, "SHOW BINARY LOGS")) {
        if (mysql_errno(c) == ER_SPECIFIC_ACCESS_DENIED)
            return TARN_ERR(err, TARN_EDENIED, "user %s lacks the REPLICATION CLIENT privilege "
                            "that change capture needs: run GRANT REPLICATION CLIENT ON *.* TO "
                            "'%s'@'%%';", user, user);
        return TARN_ERR(err, TARN_EUPSTREAM, "MySQL/MariaDB: %s", mysql_error(c));
    }
    mysql_free_result(mysql_store_result(c));
    rc = my_query_row(c, "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE"
                         " PRIVILEGE_TYPE = 'REPLICATION SLAVE' AND GRANTEE = CONCAT('''',"
                         " SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''',"
                         " SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')", v, 1, err);
    if (rc < 0)
        return rc;
    if (!strcmp(v[0], "0"))
        return TARN_ERR(err, TARN_EDENIED, "user %s lacks the REPLICATION SLAVE privilege that "
                        "reading the binlog needs: run GRANT REPLICATION SLAVE ON *.* TO '%s'@'%%';",
                        user, user);
    return 0;
}

/* ---- tables and columns ---- */

void my_tables_free(my_table_t *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].db);
        free(t[i].name);
        free(t[i].lake);
        bl_table_free(t[i].cols);
    }
    free(t);
}

static void quote_str(MYSQL *c, buf_t *b, const char *s)
{
    size_t n = strlen(s);
    char *e = malloc(2 * n + 1);
    if (!e) {
        buf_puts(b, "''");
        return;
    }
    mysql_real_escape_string(c, e, s, (unsigned long)n);
    buf_printf(b, "'%s'", e);
    free(e);
}

static void quote_ident(buf_t *b, const char *s)
{
    buf_putc(b, '`');
    for (; *s; s++) {
        if (*s == '`')
            buf_putc(b, '`');
        buf_putc(b, *s);
    }
    buf_putc(b, '`');
}

/* A column's type as a TABLE_MAP would give it, from information_schema's words. */
static void col_type(bl_col_t *c, const char *dt, const char *ctype, const char *prec,
                     const char *scale, const char *dtprec, const char *cs)
{
    static const struct {
        const char *name;
        uint8_t type;
    } types[] = {
        {"tinyint", BL_TINY}, {"smallint", BL_SHORT}, {"mediumint", BL_INT24},
        {"int", BL_LONG}, {"integer", BL_LONG}, {"bigint", BL_LONGLONG}, {"float", BL_FLOAT},
        {"double", BL_DOUBLE}, {"real", BL_DOUBLE}, {"decimal", BL_NEWDECIMAL},
        {"numeric", BL_NEWDECIMAL}, {"date", BL_DATE}, {"time", BL_TIME2},
        {"datetime", BL_DATETIME2}, {"timestamp", BL_TIMESTAMP2}, {"year", BL_YEAR},
        {"bit", BL_BIT}, {"enum", BL_ENUM}, {"set", BL_SET}, {"binary", BL_BLOB},
        {"varbinary", BL_BLOB}, {"tinyblob", BL_BLOB}, {"blob", BL_BLOB},
        {"mediumblob", BL_BLOB}, {"longblob", BL_BLOB}, {"geometry", BL_GEOMETRY},
        {"point", BL_GEOMETRY}, {"linestring", BL_GEOMETRY}, {"polygon", BL_GEOMETRY},
        {"multipoint", BL_GEOMETRY}, {"multilinestring", BL_GEOMETRY},
        {"multipolygon", BL_GEOMETRY}, {"geometrycollection", BL_GEOMETRY},
    };
    c->type = BL_VARCHAR; /* char, varchar, the texts, json, and what is not listed */
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcasecmp(dt, types[i].name))
            c->type = types[i].type;
    c->is_unsigned = strstr(ctype, "unsigned") != NULL;
    switch (c->type) {
    case BL_NEWDECIMAL: c->meta = (uint32_t)atoi(prec) << 8 | (uint32_t)atoi(scale); break;
    case BL_BIT: c->meta = (uint32_t)atoi(prec); break;
    case BL_TIME2:
    case BL_DATETIME2:
    case BL_TIMESTAMP2: c->meta = (uint32_t)atoi(dtprec); break;
    default: break;
    }
    if (c->type == BL_BLOB || !strcasecmp(cs, "binary"))
        c->cs = BL_CS_BINARY;
    else if (!strcasecmp(cs, "latin1"))
        c->cs = BL_CS_LATIN1;
    else if (!*cs || !strncasecmp(cs, "utf8", 4) || !strcasecmp(cs, "ascii"))
        c->cs = BL_CS_UTF8;
    else
        c->cs = BL_CS_OTHER;
    if (*cs)
        c->charset = strdup(cs);
}

static int table_cols(MYSQL *c, my_table_t *t, bool cdc, tarn_err_t *err)
{
    buf_t q = BUF_INIT;
    buf_puts(&q, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE,"
                 " DATETIME_PRECISION, CHARACTER_SET_NAME, COLUMN_KEY FROM"
                 " information_schema.COLUMNS WHERE TABLE_SCHEMA = ");
    quote_str(c, &q, t->db);
    buf_puts(&q, " AND TABLE_NAME = ");
    quote_str(c, &q, t->name);
    buf_puts(&q, " ORDER BY ORDINAL_POSITION");
    int rc = 0;
    MYSQL_RES *r = NULL;
    if (!q.data || mysql_query(c, q.data) || !(r = mysql_store_result(c))) {
        rc = TARN_ERR(err, TARN_EUPSTREAM, "MySQL/MariaDB: %s", mysql_error(c));
        goto done;
    }
    size_t n = (size_t)mysql_num_rows(r);
    if (!(t->cols = calloc(1, sizeof *t->cols)) ||
        !(t->cols->cols = calloc(n + 1, sizeof *t->cols->cols)) ||
        !(t->cols->db = strdup(t->db)) || !(t->cols->name = strdup(t->name))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    bool key = false;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        bl_col_t *col = &t->cols->cols[t->cols->ncols++];
        if (!(col->name = strdup(row[0]))) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            goto done;
        }
#define V(i) (row[i] ? row[i] : "")
        col_type(col, V(1), V(2), V(3), V(4), V(5), V(6));
        col->key = !strcmp(V(7), "PRI");
#undef V
        key = key || col->key;
        if (col->cs == BL_CS_OTHER) {
            rc = TARN_ERR(err, TARN_EINVAL, "column %s of %s.%s is in character set %s, which "
                          "tarn does not convert: run ALTER TABLE %s.%s CONVERT TO CHARACTER SET "
                          "utf8mb4;", col->name, t->db, t->name, col->charset, t->db, t->name);
            goto done;
        }
    }
    if (cdc && !key)
        rc = TARN_ERR(err, TARN_EINVAL, "table %s.%s has no primary key, so its updates and "
                      "deletes cannot be matched to rows: run ALTER TABLE %s.%s ADD PRIMARY KEY "
                      "(column, ...);", t->db, t->name, t->db, t->name);
done:
    mysql_free_result(r);
    buf_free(&q);
    return rc;
}

/* Whether the user may read the table: a query of no rows says. */
static int check_select(MYSQL *c, const json_t *cfg, const my_table_t *t, tarn_err_t *err)
{
    buf_t q = BUF_INIT;
    buf_puts(&q, "SELECT * FROM ");
    quote_ident(&q, t->db);
    buf_putc(&q, '.');
    quote_ident(&q, t->name);
    buf_puts(&q, " LIMIT 0");
    int rc = 0;
    if (!q.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    } else if (mysql_query(c, q.data)) {
        const char *user = S(cfg, "connection.user");
        if (mysql_errno(c) == ER_TABLEACCESS_DENIED)
            rc = TARN_ERR(err, TARN_EDENIED, "user %s may not read %s.%s: run GRANT SELECT ON "
                          "%s.%s TO '%s'@'%%';", user, t->db, t->name, t->db, t->name, user);
        else
            rc = TARN_ERR(err, TARN_EUPSTREAM, "read %s.%s: %s", t->db, t->name, mysql_error(c));
    } else {
        mysql_free_result(mysql_store_result(c));
    }
    buf_free(&q);
    return rc;
}

/* Types whose order grows with each change as a watermark's must: numbers, dates and
 * times, and short strings, by information_schema's DATA_TYPE. Not the TEXTs and BLOBs
 * (MariaDB's JSON is a LONGTEXT), ENUM, SET, BIT or the geometries. */
static bool orderable(const char *dt)
{
    static const char *const ok[] = {"tinyint", "smallint", "mediumint", "int", "integer",
                                     "bigint", "float", "double", "real", "decimal",
                                     "numeric", "date", "time", "datetime", "timestamp",
                                     "year", "char", "varchar", "binary", "varbinary"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcasecmp(dt, ok[i]))
            return true;
    return false;
}

bool my_col_numeric(const bl_col_t *c)
{
    switch (c->type) {
    case BL_TINY: case BL_SHORT: case BL_INT24: case BL_LONG: case BL_LONGLONG:
    case BL_DECIMAL: case BL_NEWDECIMAL: case BL_FLOAT: case BL_DOUBLE: case BL_YEAR:
        return true;
    default:
        return false;
    }
}

/* Mode incremental: t->wm gets the index of table q's watermark column, or the refusal
 * names the column's absence or its type. */
static int watermark_col(MYSQL *c, const json_t *cfg, my_table_t *t, const char *q,
                         tarn_err_t *err)
{
    const char *col = source_db_watermark(cfg, q);
    if (!col)
        return source_db_watermark_refuse(cfg, q, NULL, NULL, err);
    for (size_t i = 0; i < t->cols->ncols; i++) {
        if (strcmp(t->cols->cols[i].name, col))
            continue;
        /* The column's own type word: the TEXTs are VARCHARs to the rest of the source. */
        buf_t b = BUF_INIT;
        buf_puts(&b, "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ");
        quote_str(c, &b, t->db);
        buf_puts(&b, " AND TABLE_NAME = ");
        quote_str(c, &b, t->name);
        buf_puts(&b, " AND COLUMN_NAME = ");
        quote_str(c, &b, col);
        char dt[1][128];
        int found = b.data ? my_query_row(c, b.data, dt, 1, err)
                           : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        buf_free(&b);
        if (found < 0)
            return found;
        if (found && !orderable(dt[0]))
            return source_db_watermark_refuse(cfg, q, col, dt[0], err);
        t->wm = (int)i;
        return 0;
    }
    return source_db_watermark_refuse(cfg, q, col, NULL, err);
}

int my_tables_resolve(MYSQL *c, const json_t *cfg, bool cdc, my_table_t **out, size_t *nout,
                      tarn_err_t *err)
{
    const char *home = S(cfg, "connection.database");
    my_table_t *t = NULL;
    size_t n = 0, i;
    int rc = 0;
    json_t *v;
    json_array_foreach(config_map_get(cfg, "tables"), i, v)
    {
        const char *pat = json_string_value(v), *dot = strchr(pat, '.');
        char db[128];
        snprintf(db, sizeof db, "%.*s", (int)(dot - pat), pat);
        buf_t q = BUF_INIT;
        buf_puts(&q, "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, -1) FROM"
                     " information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND"
                     " TABLE_SCHEMA = ");
        quote_str(c, &q, db);
        if (strcmp(dot + 1, "*")) {
            buf_puts(&q, " AND TABLE_NAME = ");
            quote_str(c, &q, dot + 1);
        }
        buf_puts(&q, " ORDER BY TABLE_NAME");
        MYSQL_RES *r = NULL;
        if (!q.data || mysql_query(c, q.data) || !(r = mysql_store_result(c))) {
            rc = TARN_ERR(err, TARN_EUPSTREAM, "MySQL/MariaDB: %s", mysql_error(c));
            buf_free(&q);
            break;
        }
        buf_free(&q);
        size_t rows = (size_t)mysql_num_rows(r);
        my_table_t *nt = rows ? realloc(t, (n + rows) * sizeof *t) : t;
        if (!rows)
            rc = TARN_ERR(err, TARN_EINVAL, "tables[%zu]: %s %s (or user %s cannot see it)", i,
                          pat, !strcmp(dot + 1, "*") ? "matches no table" : "does not exist",
                          S(cfg, "connection.user"));
        else if (!nt)
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        else
            t = nt;
        MYSQL_ROW row;
        while (!rc && (row = mysql_fetch_row(r))) {
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup = dup || (!strcmp(t[j].db, row[0]) && !strcmp(t[j].name, row[1]));
            if (dup)
                continue;
            my_table_t *x = &t[n];
            memset(x, 0, sizeof *x);
            x->wm = -1;
            x->db = strdup(row[0]);
            x->name = strdup(row[1]);
            x->estimate = strtoll(row[2], NULL, 10);
            if (home && !strcmp(row[0], home))
                x->lake = strdup(row[1]);
            else if (asprintf(&x->lake, "%s_%s", row[0], row[1]) < 0)
                x->lake = NULL;
            n++;
            if (!x->db || !x->name || !x->lake)
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            else if (!(rc = check_select(c, cfg, x, err)))
                rc = table_cols(c, x, cdc, err);
            if (!rc && source_db_is_incremental(cfg)) {
                char q[300];
                snprintf(q, sizeof q, "%s.%s", x->db, x->name);
                rc = watermark_col(c, cfg, x, q, err);
            }
        }
        mysql_free_result(r);
        if (rc)
            break;
    }
    if (rc) {
        my_tables_free(t, n);
        return rc;
    }
    *out = t;
    *nout = n;
    return 0;
}

int my_charsets_load(MYSQL *c, bl_charsets_t *cs, tarn_err_t *err)
{
    MYSQL_RES *r = NULL;
    if (mysql_query(c, "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS") ||
        !(r = mysql_store_result(c)))
        return TARN_ERR(err, TARN_EUPSTREAM, "MySQL/MariaDB: read the collations: %s",
                        mysql_error(c));
    size_t cap = 0;
    uint8_t *k = NULL;
    MYSQL_ROW row;
    int rc = 0;
    while ((row = mysql_fetch_row(r))) {
        unsigned long id = strtoul(row[0] ? row[0] : "0", NULL, 10);
        if (id > 65535)
            continue;
        if (id >= cap) {
            size_t nc = id + 256;
            uint8_t *nk = realloc(k, nc);
            if (!nk) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                break;
            }
            memset(nk + cap, BL_CS_OTHER, nc - cap);
            k = nk;
            cap = nc;
        }
        const char *name = row[1] ? row[1] : "";
        k[id] = !strcasecmp(name, "binary")   ? BL_CS_BINARY
                : !strcasecmp(name, "latin1") ? BL_CS_LATIN1
                : !strncasecmp(name, "utf8", 4) || !strcasecmp(name, "ascii") ? BL_CS_UTF8
                                                                              : BL_CS_OTHER;
    }
    mysql_free_result(r);
    if (rc) {
        free(k);
        return rc;
    }
    cs->kinds = k;
    cs->n = cap;
    return 0;
}

/* ---- change-file columns and values ---- */

void my_cols_free(change_col_t *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        free((char *)c[i].type);
    free(c);
}

int my_change_cols(const bl_table_t *t, change_col_t **out, size_t *nout, tarn_err_t *err)
{
    static const change_col_t meta[] = {
        {"_op", "VARCHAR", NULL, NULL},           {"_source_pos", "VARCHAR", NULL, NULL},
        {"_commit_ts", "TIMESTAMPTZ", NULL, NULL}, {"_txid", "VARCHAR", NULL, NULL},
        {"_old_key", "JSON", NULL, NULL},
    };
    size_t nm = sizeof meta / sizeof *meta, n = t->ncols;
    change_col_t *c = calloc(n + nm, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        c[i].name = t->cols[i].name;
        c[i].type = strdup(bl_col_type(&t->cols[i], buf, sizeof buf, &c[i].read_as,
                                       &c[i].convert));
        if (!c[i].type) {
            my_cols_free(c, i);
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < nm; i++) {
        c[n + i] = meta[i];
        c[n + i].type = strdup(meta[i].type);
    }
    *out = c;
    *nout = n + nm;
    return 0;
}

static bool zero_date(const char *d, size_t len)
{
    /* '0000-00-00', or a month or day of 0, which DATE and TIMESTAMP cannot hold. */
    return len >= 10 && (!strncmp(d + 5, "00", 2) || !strncmp(d + 8, "00", 2));
}

/* A text the staged row holds as a string: a JSON string, or a CSV field. */
static void put_text(buf_t *out, const char *s, size_t n, bool csv)
{
    if (csv)
        buf_put_csv_field(out, s, n);
    else
        buf_put_json_string(out, s, n);
}

int my_text_value(buf_t *out, const bl_col_t *c, const char *data, size_t len, bool csv)
{
    if (!data)
        return csv ? 0 : buf_puts(out, "null");
    char tmp[96];
    switch (c->type) {
    case BL_TINY:
    case BL_SHORT:
    case BL_INT24:
    case BL_LONG:
    case BL_LONGLONG:
    case BL_YEAR:
    case BL_FLOAT:
    case BL_DOUBLE:
        if (len && data[len - 1] >= '0' && data[len - 1] <= '9')
            return buf_append(out, data, len);
        break; /* inf, nan: as strings they still cast */
    case BL_TIME2: {
        /* As the binlog's are written: six fractional digits. */
        const char *dot = memchr(data, '.', len);
        size_t frac = dot ? len - (size_t)(dot + 1 - data) : 0;
        int n = snprintf(tmp, sizeof tmp, "%.*s%s%.*s", (int)len, data, dot ? "" : ".",
                         (int)(frac < 6 ? 6 - frac : 0), "000000");
        if (n > 0 && (size_t)n < sizeof tmp)
            put_text(out, tmp, (size_t)n, csv);
        else
            put_text(out, data, len, csv);
        return 0;
    }
    case BL_BIT: {
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++)
            v = v << 8 | (uint8_t)data[i];
        return buf_printf(out, "%llu", (unsigned long long)v);
    }
    case BL_DATE:
    case BL_DATETIME2:
    case BL_TIMESTAMP2:
        if (zero_date(data, len))
            return csv ? 0 : buf_puts(out, "null");
        if (c->type == BL_TIMESTAMP2) {
            int n = snprintf(tmp, sizeof tmp, "%.*s+00", (int)len, data);
            if (n > 0 && (size_t)n < sizeof tmp)
                put_text(out, tmp, (size_t)n, csv);
            else
                put_text(out, data, len, csv);
            return 0;
        }
        break;
    case BL_BLOB:
    case BL_STRING:
    case BL_VARCHAR:
    case BL_GEOMETRY:
        if (c->cs == BL_CS_BINARY || c->type == BL_GEOMETRY) {
            if (!csv)
                bl_hex_json(out, (const uint8_t *)data, len, 0);
            else if (len)
                bl_hex(out, (const uint8_t *)data, len, 0);
            else
                buf_puts(out, "\"\""); /* empty, not NULL */
            return 0;
        }
        break;
    default:
        break;
    }
    put_text(out, data, len, csv); /* the connection's utf8mb4 */
    return 0;
}

void my_source_pos(char *out, size_t cap, const my_pos_t *p, uint32_t ordinal)
{
    snprintf(out, cap, "%010u-%016llX-%010u", p->seq, (unsigned long long)p->pos, ordinal);
}

uint32_t my_file_seq(const char *file)
{
    const char *dot = strrchr(file, '.');
    return dot ? (uint32_t)strtoul(dot + 1, NULL, 10) : 0;
}
