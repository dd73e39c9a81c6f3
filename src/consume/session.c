/* Query sessions and the views they are given; see session.h. */
#include "consume/session.h"
#include "consume/origin.h"
#include "consume/pgwire/pgcatalog.h"
#include "consume/pgwire/pgdialect.h"
#include "consume/sandbox.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct session {
    engine_conn_t *conn;
    catalog_t *cat;
    const char *objects_dir;
    const authz_principal_t *p;
    arena_t *a;
    json_t *views; /* the views built so far: name -> the columns it hides (not granted) */
    json_t *origins; /* PostgreSQL: view name -> {"id", "cols": {name: position}} */
    int rc;        /* the first failure while building a view, */
    tarn_err_t view_err; /* and its detail */
    pgcatalog_t *pg; /* PostgreSQL's dialect and catalogs, once enabled */
    buf_t decisions; /* the query's tables and what decided each: "t=grant:12, u=..." */
    /* What a pipeline step may read besides the lake (session_set_scope), or NULL. */
    const catalog_scope_t *scope;
};

int session_open(session_t **out, engine_t *e, catalog_t *cat, const char *objects_dir,
                 const authz_principal_t *p, tarn_err_t *err)
{
    session_t *s = calloc(1, sizeof *s);
    if (!s || !(s->a = arena_create()) || !(s->views = json_object()) ||
        !(s->origins = json_object())) {
        session_close(s);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    int rc = engine_connect(e, &s->conn, err);
    if (rc) {
        session_close(s);
        return rc;
    }
    s->cat = cat;
    s->objects_dir = objects_dir;
    s->p = p;
    *out = s;
    return 0;
}

void session_close(session_t *s)
{
    if (!s)
        return;
    pgcatalog_close(s->pg);
    engine_disconnect(s->conn);
    arena_free(s->a);
    json_decref(s->views);
    json_decref(s->origins);
    buf_free(&s->decisions);
    free(s);
}

void session_interrupt(session_t *s)
{
    engine_interrupt(s->conn);
}

/* Only remembered: views are built per query (session_map), so the next query sees the
 * new scope and none keeps an earlier one's. */
void session_set_scope(session_t *s, const catalog_scope_t *scope)
{
    s->scope = scope;
}

/* "name" quoted as an identifier. */
static void put_ident(buf_t *b, const char *name)
{
    buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            buf_putc(b, '"');
        buf_putc(b, *p);
    }
    buf_putc(b, '"');
}

static void put_literal(buf_t *b, arena_t *a, const char *s)
{
    char *q = engine_quote(a, s);
    buf_puts(b, q ? q : "''");
}

/* {'name': 'TYPE', ...} of an array of {"name","type"}. */
static void put_types(buf_t *b, arena_t *a, const json_t *cols)
{
    size_t i;
    json_t *c;
    buf_putc(b, '{');
    json_array_foreach(cols, i, c)
    {
        if (i)
            buf_puts(b, ", ");
        put_literal(b, a, json_string_value(json_object_get(c, "name")));
        buf_puts(b, ": ");
        put_literal(b, a, json_string_value(json_object_get(c, "type")));
    }
    buf_putc(b, '}');
}

/* The columns and date formats every file of a delimited group was classified with,
 * when they agree: then the reader is told them (auto_detect off) instead of sniffing
 * every file again at each query, which for large files is a good part of its time.
 * NULL when they differ or a file was classified before the formats were recorded. */
static json_t *csv_known_columns(const json_t *files, const char **datefmt, const char **tsfmt)
{
    const json_t *first = json_array_get(files, 0);
    const json_t *names = json_object_get(first, "columns"), *types = json_object_get(first, "types");
    const json_t *fo = json_object_get(first, "options");
    *datefmt = json_string_value(json_object_get(fo, "dateformat"));
    *tsfmt = json_string_value(json_object_get(fo, "timestampformat"));
    if (!*datefmt || !*tsfmt || !json_array_size(names) ||
        json_array_size(names) != json_array_size(types))
        return NULL;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const json_t *o = json_object_get(f, "options");
        if (!json_equal(json_object_get(f, "columns"), (json_t *)names) ||
            !json_equal(json_object_get(f, "types"), (json_t *)types) ||
            !json_equal(json_object_get(o, "dateformat"), json_object_get(fo, "dateformat")) ||
            !json_equal(json_object_get(o, "timestampformat"), json_object_get(fo, "timestampformat")))
            return NULL;
    }
    json_t *cols = json_array(), *n;
    json_array_foreach(names, i, n)
        json_array_append_new(cols, json_pack("{s:O, s:O}", "name", n, "type",
                                              json_array_get(types, i)));
    return cols;
}

/* One reader call over files that share their reader options; group is
 * "compression|encoding". */
static void put_reader(session_t *s, buf_t *b, const char *format, const char *zone,
                       const json_t *files, const char *group, const json_t *opts,
                       const json_t *pks)
{
    bool csv = !strcmp(format, "csv") || !strcmp(format, "tsv");
    size_t i;
    json_t *c;
    buf_printf(b, "%s([", !strcmp(format, "parquet") ? "read_parquet"
                          : csv                      ? "read_csv"
                                                     : "read_json");
    json_array_foreach(files, i, c)
    {
        char *path = arena_sprintf(s->a, "%s/%s/%s", s->objects_dir, zone,
                                   json_string_value(json_object_get(c, "key")));
        if (i)
            buf_puts(b, ", ");
        put_literal(b, s->a, path ? path : "");
    }
    const char *datefmt = NULL, *tsfmt = NULL;
    json_t *known = csv ? csv_known_columns(files, &datefmt, &tsfmt) : NULL;
    /* Files of one known layout need no matching by name. */
    buf_puts(b, known ? "]" : "], union_by_name = true");
    char comp[16] = "none", enc[16] = "utf-8";
    sscanf(group, "%15[^|]|%15s", comp, enc);
    if (csv) {
        static const char *const text_opts[][2] = {
            {"delimiter", "delim"}, {"quote", "quote"}, {"escape", "escape"}};
        for (int k = 0; k < 3; k++) {
            const char *v = json_string_value(json_object_get(opts, text_opts[k][0]));
            /* "No quote" and "no escape" must be said when the reader does not sniff. */
            if (!v || (!*v && (!known || k == 0)))
                continue;
            buf_printf(b, ", %s = ", text_opts[k][1]);
            put_literal(b, s->a, v);
        }
        buf_printf(b, ", header = %s, skip = %lld, compression = ",
                   json_is_false(json_object_get(opts, "header")) ? "false" : "true",
                   (long long)json_integer_value(json_object_get(opts, "skip")));
        put_literal(b, s->a, comp);
        buf_puts(b, ", encoding = ");
        put_literal(b, s->a, enc);
        if (known) {
            buf_puts(b, ", auto_detect = false, columns = ");
            put_types(b, s->a, known);
            if (*datefmt) {
                buf_puts(b, ", dateformat = ");
                put_literal(b, s->a, datefmt);
            }
            if (*tsfmt) {
                buf_puts(b, ", timestampformat = ");
                put_literal(b, s->a, tsfmt);
            }
        }

    } else if (strcmp(format, "parquet")) {
        const char *layout = json_string_value(json_object_get(opts, "layout"));
        buf_puts(b, ", format = ");
        put_literal(b, s->a, layout ? layout : "auto");
        buf_puts(b, ", compression = ");
        put_literal(b, s->a, strcmp(comp, "none") ? comp : "uncompressed");
    }
    json_decref(known);
    if (json_array_size(pks)) {
        buf_puts(b, ", hive_partitioning = true, hive_types = ");
        put_types(b, s->a, pks);
    } else {
        buf_puts(b, ", hive_partitioning = false");
    }
    buf_puts(b, ")");
}

/* Whether one of the files has a column of this name (names compare without case). */
static bool in_some_file(const json_t *files, const char *name)
{
    size_t i, j;
    json_t *f, *n;
    json_array_foreach(files, i, f)
        json_array_foreach(json_object_get(f, "columns"), j, n)
            if (!strcasecmp(json_string_value(n), name))
                return true;
    return false;
}

/* The SELECT a view runs: the reader over the snapshot's files with the catalog's schema. */
static int view_sql(session_t *s, buf_t *b, const json_t *t, const json_t *files)
{
    const char *zone = json_string_value(json_object_get(t, "zone"));
    const char *format = json_string_value(json_object_get(t, "format"));
    const json_t *cols = json_object_get(t, "columns");
    const json_t *pks = json_object_get(t, "partition_keys");
    const json_t *opts = json_object_get(t, "format_options");
    size_t i;
    json_t *c;
    if (!json_array_size(files) || !format) {
        /* No files yet: the columns, and no rows. */
        buf_puts(b, "SELECT ");
        const json_t *lists[] = {cols, pks};
        size_t n = 0;
        for (int l = 0; l < 2; l++)
            json_array_foreach(lists[l], i, c)
            {
                buf_printf(b, "%sCAST(NULL AS %s) AS ", n++ ? ", " : "",
                           json_string_value(json_object_get(c, "type")));
                put_ident(b, json_string_value(json_object_get(c, "name")));
            }
        if (!n)
            buf_puts(b, "NULL AS empty");
        buf_puts(b, " WHERE false");
        return 0;
    }
    /* Files are read by name (union_by_name: a file without a later column gives NULLs)
     * and every column cast to the catalog's type, so every reader sees one schema. */
    buf_puts(b, "SELECT ");
    json_array_foreach(cols, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        buf_printf(b, "%sCAST(", i ? ", " : "");
        /* A declared column no file has yet is NULL, not an error. */
        if (in_some_file(files, name))
            put_ident(b, name);
        else
            buf_puts(b, "NULL");
        buf_printf(b, " AS %s) AS ", json_string_value(json_object_get(c, "type")));
        put_ident(b, name);
    }
    json_array_foreach(pks, i, c)
    {
        buf_puts(b, ", ");
        put_ident(b, json_string_value(json_object_get(c, "name")));
    }
    /* Files that need other reader options (compression, encoding) are read apart and
     * united by name. */
    json_t *groups = json_object();
    json_array_foreach(files, i, c)
    {
        const json_t *fo = json_object_get(c, "options");
        const char *comp = json_string_value(json_object_get(fo, "compression"));
        const char *enc = json_string_value(json_object_get(fo, "encoding"));
        char *gk = arena_sprintf(s->a, "%s|%s", comp ? comp : "none", enc ? enc : "utf-8");
        if (!gk)
            continue;
        if (!json_object_get(groups, gk))
            json_object_set_new(groups, gk, json_array());
        json_array_append(json_object_get(groups, gk), (json_t *)c);
    }
    bool many = json_object_size(groups) > 1;
    buf_puts(b, many ? " FROM (" : " FROM ");
    const char *gk;
    json_t *g;
    size_t ng = 0;
    json_object_foreach(groups, gk, g)
    {
        if (many)
            buf_puts(b, ng++ ? " UNION ALL BY NAME SELECT * FROM " : "SELECT * FROM ");
        put_reader(s, b, format, zone, g, gk, opts, pks);
    }
    if (many)
        buf_puts(b, ") AS f");
    json_decref(groups);
    return 0;
}

/* A view showing only what acc grants: the granted columns of the table's view, and the
 * rows its row filter keeps; the names of the columns left out go to hidden. */
static void restricted_view_sql(session_t *s, buf_t *b, const json_t *t, const json_t *files,
                                const grants_access_t *acc, json_t *hidden)
{
    const json_t *lists[] = {json_object_get(t, "columns"), json_object_get(t, "partition_keys")};
    size_t i, n = 0;
    json_t *c;
    buf_puts(b, "SELECT ");
    for (int l = 0; l < 2; l++)
        json_array_foreach(lists[l], i, c)
        {
            const char *name = json_string_value(json_object_get(c, "name"));
            if (!grants_access_shows(acc, name)) {
                json_array_append_new(hidden, json_string(name));
                continue;
            }
            if (n++)
                buf_puts(b, ", ");
            put_ident(b, name);
        }
    if (!n)
        buf_puts(b, "NULL AS no_granted_columns");
    buf_puts(b, " FROM (");
    view_sql(s, b, t, files);
    buf_puts(b, ") AS granted");
    if (acc->row_filter)
        buf_printf(b, " WHERE %s", acc->row_filter);
}

/* A query failed on a column it could not find: when that column is one a view hid, the
 * error says so (permission, not a typo). */
static int hidden_column_error(session_t *s, int rc, tarn_err_t *err)
{
    const char *q = err->reason == TARN_R_UndefinedColumn
                        ? strstr(err->msg, "column \"")
                        : NULL;
    if (!q)
        return rc;
    q += 8;
    const char *end = strchr(q, '"');
    if (!end)
        return rc;
    char col[256];
    snprintf(col, sizeof col, "%.*s", (int)(end - q), q);
    const char *view;
    json_t *hidden;
    json_object_foreach(s->views, view, hidden)
    {
        size_t i;
        json_t *h;
        json_array_foreach(hidden, i, h) if (!strcasecmp(json_string_value(h), col)) return TARN_ERR_R(
            err, TARN_EDENIED, AccessDenied, "you may not read the column %s of %s", col,
            view);
    }
    return rc;
}

/* The view for a bare name of the scope (a pipeline step's earlier output): its one
 * Parquet file as it is, named "rel:<name>" so that it never meets a lake view
 * (zone.db.table) or a PostgreSQL catalog's. No grant applies, as the file is the
 * reader's own staged data, not a lake table; the engine still reads only its allowed
 * folders. NULL when the scope has no such name, or with s->rc set when the view cannot
 * be built. */
static const char *scope_rel_map(session_t *s, const char *table)
{
    const catalog_scope_t *sc = s->scope;
    size_t i = 0;
    while (i < sc->nrels && strcasecmp(sc->rel_names[i], table))
        i++;
    if (i == sc->nrels)
        return NULL;
    char *name = arena_sprintf(s->a, "rel:%s", sc->rel_names[i]);
    if (!name) {
        s->rc = TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
        return NULL;
    }
    if (json_object_get(s->views, name))
        return name;
    const char *path = sc->rel_paths[i];
    if (!path || path[0] != '/') {
        s->rc = TARN_ERR_R(&s->view_err, TARN_EINVAL, InvalidArgument,
                           "relation %s stands for %s, which is not an absolute path",
                           sc->rel_names[i], path ? path : "nothing");
        return NULL;
    }
    buf_t b = BUF_INIT;
    buf_puts(&b, "CREATE OR REPLACE TEMP VIEW ");
    put_ident(&b, name);
    /* Folders named k=v on the staging path are not columns of the file. */
    buf_puts(&b, " AS SELECT * FROM read_parquet(");
    put_literal(&b, s->a, path);
    buf_puts(&b, ", hive_partitioning = false)");
    engine_rows_t r;
    int rc = b.data ? engine_query(s->conn, b.data, 0, &r, s->a, &s->view_err)
                    : TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
    buf_free(&b);
    if (rc) {
        s->rc = rc;
        return NULL;
    }
    json_object_set_new(s->views, name, json_array());
    return name;
}

/* The files of table ("zone.db.table") that the scope lets a query read: those its
 * include accepts, all of them without one. *out gets a new reference. */
static int scope_files(session_t *s, const char *table, json_t *files, json_t **out)
{
    const catalog_scope_t *sc = s->scope;
    if (!sc || !sc->include) {
        *out = json_incref(files);
        return 0;
    }
    json_t *kept = json_array(), *f;
    size_t i;
    if (!kept)
        return TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
    json_array_foreach(files, i, f)
    {
        if (sc->include(sc->ctx, table, json_string_value(json_object_get(f, "key"))) &&
            json_array_append(kept, f)) {
            json_decref(kept);
            return TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
        }
    }
    *out = kept;
    return 0;
}

/* Tells the scope what the query reads of table: the snapshot and the files its view
 * reads, {"files": [{"key", "size", "rows"}]} with rows -1 when unknown. */
static int scope_report(session_t *s, const char *table, const json_t *snap, const json_t *files)
{
    const catalog_scope_t *sc = s->scope;
    if (!sc || !sc->on_read)
        return 0;
    json_t *list = json_array(), *report = json_object(), *f;
    size_t i;
    int rc = 0;
    if (!list || !report || json_object_set(report, "files", list)) {
        rc = TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    json_array_foreach(files, i, f)
    {
        const json_t *r = json_object_get(f, "rows");
        json_int_t rows = json_is_integer(r) ? json_integer_value(r) : -1;
        json_t *one = json_pack("{s:O, s:O, s:I}", "key", json_object_get(f, "key"), "size",
                                json_object_get(f, "size"), "rows", rows);
        if (!one || json_array_append_new(list, one)) {
            rc = TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
            goto done;
        }
    }
    sc->on_read(sc->ctx, table, json_integer_value(json_object_get(snap, "snapshot")), report);
done:
    json_decref(list);
    json_decref(report);
    return rc;
}

static void put_position(json_t *cols, const json_t *name, size_t pos)
{
    const char *n = json_string_value(name);
    char lower[256];
    size_t len = n ? strlen(n) : sizeof lower;
    if (len >= sizeof lower)
        return;
    for (size_t i = 0; i <= len; i++)
        lower[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
    json_object_set_new(cols, lower, json_integer((json_int_t)pos));
}

/* For PostgreSQL clients' RowDescription: the table's id and where each of its columns
 * sits (the schema's columns from 1, then the partition keys), as pg_attribute has them.
 * Best effort: a table it cannot note is reported without an origin. */
static void note_origin(session_t *s, const char *name, const char *zone, const char *db,
                        const char *table, const json_t *t)
{
    int64_t id;
    tarn_err_t e = {0};
    json_t *cols = json_object();
    if (!cols || catalog_table_id(s->cat, zone, db, table, &id, &e)) {
        json_decref(cols);
        return;
    }
    const json_t *schema = json_object_get(t, "columns");
    size_t n = json_array_size(schema), i;
    const json_t *c;
    json_array_foreach(schema, i, c) put_position(cols, json_object_get(c, "name"), i + 1);
    json_array_foreach(json_object_get(t, "partition_keys"), i, c)
        put_position(cols, json_object_get(c, "name"), n + i + 1);
    json_object_set_new(s->origins, name, json_pack("{s:I, s:o}", "id", (json_int_t)id, "cols",
                                                    cols));
}

/* Builds the view of lake table name (zone.db.table), which the principal may read as acc
 * says: the files of its current snapshot that the scope lets the query read, with only
 * the granted columns and rows. TARN_ENOTFOUND when there is no such table (the sandbox
 * names it); other failures also go to s->rc and s->view_err. */
static int lake_view(session_t *s, const char *name, const char *zone, const char *db,
                     const char *table, const grants_access_t *acc)
{
    json_t *t = NULL, *snap = NULL, *files = NULL, *hidden = NULL;
    buf_t b = BUF_INIT;
    tarn_err_t e = {0};
    engine_rows_t r;
    int rc;
    if (catalog_table_get(s->cat, zone, db, table, &t, &e) ||
        catalog_snapshot_files(s->cat, zone, db, table, 0, &snap, &e)) {
        json_decref(t);
        return TARN_ENOTFOUND; /* no such table: the sandbox names it */
    }
    if ((rc = scope_files(s, name, json_object_get(snap, "files"), &files)))
        goto done;
    if (!(hidden = json_array())) {
        rc = TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    buf_puts(&b, "CREATE OR REPLACE TEMP VIEW ");
    put_ident(&b, name);
    buf_puts(&b, " AS ");
    if (acc->all_columns && !acc->row_filter) {
        view_sql(s, &b, t, files);
    } else {
        /* Only the granted columns, only the rows of the filter: applied inside the view,
         * so no query over it (aggregates, joins) can see past them. */
        restricted_view_sql(s, &b, t, files, acc, hidden);
    }
    rc = b.data ? engine_query(s->conn, b.data, 0, &r, s->a, &s->view_err)
                : TARN_ERR(&s->view_err, TARN_ENOMEM, "out of memory");
    /* Reported once the view stands, so a view that could not be built reads nothing. */
    if (!rc)
        rc = scope_report(s, name, snap, files);
    if (!rc) {
        json_object_set_new(s->views, name, hidden);
        hidden = NULL;
    }
    if (!rc && s->pg)
        note_origin(s, name, zone, db, table, t);
done:
    if (rc)
        s->rc = rc;
    buf_free(&b);
    json_decref(t);
    json_decref(snap);
    json_decref(files);
    json_decref(hidden);
    return rc;
}

/* The sandbox's map: the view for what the query names, built on first use. A bare name
 * (catalog and schema "") may be one of the scope's relations. */
static const char *session_map(void *ctx, const char *catalog, const char *schema,
                               const char *table)
{
    session_t *s = ctx;
    if (s->rc)
        return NULL;
    if (s->scope && !*catalog && !*schema) {
        const char *rel = scope_rel_map(s, table);
        if (rel || s->rc)
            return rel;
    }
    if (s->pg && !*catalog) {
        const char *rel;
        s->rc = pgcatalog_map(s->pg, schema, table, &rel, &s->view_err);
        if (s->rc || rel)
            return rel;
    }
    /* "raw.sales" as a schema is the zone and the database (PostgreSQL clients' name). */
    const char *dot = *catalog ? NULL : strchr(schema, '.');
    if (dot && (catalog = arena_strndup(s->a, schema, (size_t)(dot - schema))))
        schema = dot + 1;
    if (!catalog || !*schema)
        return NULL;
    const char *zone = *catalog ? catalog : "curated";
    if (!catalog_zone_valid(zone))
        return NULL;
    char *name = arena_sprintf(s->a, "%s.%s.%s", zone, schema, table);
    if (!name)
        return NULL;
    if (json_object_get(s->views, name))
        return name;
    /* What sql:Select on the table allows (and which columns and rows), asked once; each
     * table's decision, allowed or denied, goes into the query's audit record. The scope
     * only narrows the files read afterwards: it never stands in for a grant. */
    tarn_err_t e = {0};
    grants_access_t acc;
    authz_decision_t d;
    int rc = authz_table_access(s->p, name, &acc, &d, &e);
    buf_printf(&s->decisions, "%s%s=%s", s->decisions.len ? ", " : "", name, d.rule);
    bool ok = !rc && acc.allowed && !lake_view(s, name, zone, schema, table, &acc);
    grants_access_free(&acc);
    return ok ? name : NULL;
}

/* Whether sql is SHOW [ALL] TABLES (any case, blanks, an optional ';'). */
static bool is_show_tables(const char *sql)
{
    char words[3][16] = {"", "", ""};
    int n = sscanf(sql, " %15[A-Za-z] %15[A-Za-z] %15[A-Za-z;]", words[0], words[1], words[2]);
    if (n < 2 || strcasecmp(words[0], "SHOW"))
        return false;
    int k = !strcasecmp(words[1], "ALL") ? 2 : 1;
    if (n <= k || strncasecmp(words[k], "TABLES", 6))
        return false;
    const char *rest = strcasestr(sql, "TABLES") + 6;
    while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == ';')
        rest++;
    return !*rest;
}

/* SHOW TABLES: the catalog tables this session may read, from the catalog, as a
 * relation's SQL in *inner. */
static int show_tables(session_t *s, json_t **columns, const char **inner, tarn_err_t *err)
{
    json_t *list = NULL;
    int rc = catalog_tables_list(s->cat, s->p, NULL, NULL, &list, err);
    if (rc)
        return rc;
    buf_t b = BUF_INIT;
    size_t i, n = 0;
    json_t *t;
    buf_puts(&b, "SELECT * FROM (VALUES ");
    json_array_foreach(json_object_get(list, "tables"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        char *res = arena_sprintf(s->a, "table/%s", name);
        if (!res || authz_check(s->p, "sql:Select", res, NULL))
            continue;
        const char *fmt = json_string_value(json_object_get(t, "format"));
        buf_puts(&b, n++ ? ", (" : "(");
        put_literal(&b, s->a, name);
        buf_puts(&b, ", ");
        if (fmt)
            put_literal(&b, s->a, fmt);
        else
            buf_puts(&b, "NULL");
        buf_printf(&b, ", %lld, %lld)", (long long)json_integer_value(json_object_get(t, "files")),
                   (long long)json_integer_value(json_object_get(t, "bytes")));
    }
    if (!n)
        buf_puts(&b, "(NULL, NULL, 0, 0)");
    buf_printf(&b, ") AS t(name, format, files, bytes)%s ORDER BY name", n ? "" : " WHERE false");
    json_decref(list);
    if (!b.data || !(*inner = arena_strdup(s->a, b.data)))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&b);
    if (!rc)
        *columns = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", "name",
                             "type", "VARCHAR", "name", "format", "type", "VARCHAR", "name",
                             "files", "type", "BIGINT", "name", "bytes", "type", "BIGINT");
    return rc;
}

/* EXPLAIN cannot be a subquery: its few rows are read whole and served as VALUES. */
static int explain(session_t *s, const char *mapped, json_t **columns, const char **inner,
                   tarn_err_t *err)
{
    engine_rows_t e;
    int rc = engine_query(s->conn, mapped, 100000, &e, s->a, err);
    if (rc)
        return rc;
    buf_t b = BUF_INIT;
    buf_puts(&b, "SELECT * FROM (VALUES ");
    for (size_t i = 0; i < e.nrows && e.ncols >= 2; i++) {
        buf_puts(&b, i ? ", (" : "(");
        put_literal(&b, s->a, e.cells[i * e.ncols] ? e.cells[i * e.ncols] : "");
        buf_puts(&b, ", ");
        put_literal(&b, s->a, e.cells[i * e.ncols + 1] ? e.cells[i * e.ncols + 1] : "");
        buf_putc(&b, ')');
    }
    if (!e.nrows)
        buf_puts(&b, "('', '')");
    buf_puts(&b, ") AS t(explain_key, explain_value)");
    if (!b.data || !(*inner = arena_strdup(s->a, b.data)))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&b);
    if (!rc)
        *columns = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "explain_key", "type",
                             "VARCHAR", "name", "explain_value", "type", "VARCHAR");
    return rc;
}

/* The query that gives inner's rows with each column the encoders do not write (conv)
 * converted to text; columns are renamed by position, so duplicate or odd names do not
 * matter. */
static char *convert_rows(session_t *s, const char *inner, const json_t *cols, const bool *conv,
                          rowenc_style_t style)
{
    buf_t b = BUF_INIT, alias = BUF_INIT;
    size_t i;
    json_t *c;
    buf_puts(&b, "SELECT ");
    json_array_foreach(cols, i, c)
    {
        char ident[32];
        snprintf(ident, sizeof ident, "\"c%zu\"", i);
        if (i) {
            buf_puts(&b, ", ");
            buf_putc(&alias, ',');
        }
        if (conv[i])
            rowenc_put_convert(&b, json_string_value(json_object_get(c, "type")), ident, style);
        else
            buf_puts(&b, ident);
        buf_puts(&alias, ident);
    }
    buf_printf(&b, " FROM (%s) AS q(%s)", inner, alias.data ? alias.data : "");
    char *q = b.data ? arena_strdup(s->a, b.data) : NULL;
    buf_free(&b);
    buf_free(&alias);
    return q;
}

/* Checks sql and builds the views it names: *inner gets a relation's SQL that answers it
 * (in the session's arena), *cols its columns (caller decrefs), and *params what to bind
 * to it (NULL for SHOW TABLES and EXPLAIN, whose rows are already values). */
static int session_inner(session_t *s, const char *sql, const json_t **params, json_t **cols,
                         bool describe, const char **inner, tarn_err_t *err)
{
    const char *mapped;
    int rc;
    /* A long-lived session (a PostgreSQL connection) runs many queries: each starts from
     * an empty arena and rebuilds its views, so they read the tables' current snapshots. */
    arena_reset(s->a);
    json_object_clear(s->views);
    json_object_clear(s->origins);
    buf_reset(&s->decisions);
    s->rc = 0;
    if (s->pg)
        pgcatalog_statement(s->pg);
    if (is_show_tables(sql)) {
        rc = show_tables(s, cols, inner, err);
        *params = NULL;
    } else {
        rc = (s->pg ? sandbox_map_pg_statement : sandbox_map_statement)(
            s->conn, sql, session_map, s, &mapped, s->a, err);
        if (s->rc) {
            /* A view could not be built: its error, not "no such table". */
            *err = s->view_err;
            return s->rc;
        }
        if (rc)
            return rc;
        if (!strncmp(mapped, "EXPLAIN", 7)) {
            rc = explain(s, mapped, cols, inner, err);
            *params = NULL;
        } else {
            *inner = mapped;
            rc = describe ? engine_describe(s->conn, mapped, *params, cols, err) : 0;
        }
    }
    return rc ? hidden_column_error(s, rc, err) : 0;
}

/* Starts inner: the encoder for its rows in style, converting in the query the columns the
 * encoders do not write; *cols (NULL: the run's own) gets the columns. */
static int start_rows(session_t *s, const char *inner, const json_t *params, rowenc_style_t style,
                      json_t **cols, rowenc_t **rows, tarn_err_t *err)
{
    engine_stream_t *st = NULL;
    const json_t *run_cols;
    const engine_kind_t *kinds;
    int rc = engine_stream_open(s->conn, inner, params, &st, err);
    if (!rc)
        rc = engine_stream_columns(st, &run_cols, &kinds, err);
    if (rc) {
        engine_stream_close(st);
        return rc;
    }
    if (!*cols)
        *cols = json_incref((json_t *)run_cols);
    size_t n = engine_stream_ncols(st);
    bool conv[n ? n : 1], any = false;
    for (size_t j = 0; j < n; j++)
        any |= conv[j] = !rowenc_native(kinds[j], style);
    if (any) {
        /* Only a result with a column of a rarer type runs a converting query. */
        engine_stream_close(st);
        st = NULL;
        char *q = convert_rows(s, inner, *cols, conv, style);
        rc = q ? engine_stream_open(s->conn, q, params, &st, err)
               : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = engine_stream_start(st, err);
    if (!rc)
        return rowenc_open(rows, st, style, conv, err);
    engine_stream_close(st);
    return rc;
}

int session_query(session_t *s, const char *sql, const json_t *params, rowenc_style_t style,
                  json_t **columns, rowenc_t **rows, tarn_err_t *err)
{
    const char *inner;
    json_t *cols = NULL;
    int rc = session_inner(s, sql, &params, &cols, !rows, &inner, err);
    /* Which lake table and column each result column is, read before the rows stream. */
    json_t *plan = !rc && s->pg && json_object_size(s->origins) ? origin_read(s->conn, inner, s->a)
                                                                 : NULL;
    if (!rc && rows)
        rc = start_rows(s, inner, params, style, &cols, rows, err);
    if (rc) {
        json_decref(plan);
        json_decref(cols);
        return rows ? hidden_column_error(s, rc, err) : rc;
    }
    if (plan) {
        /* A copy: the run's columns are the stream's. */
        json_t *copy = json_deep_copy(cols);
        if (copy) {
            origin_apply(plan, s->origins, copy);
            json_decref(cols);
            cols = copy;
        }
        json_decref(plan);
    }
    *columns = cols;
    return 0;
}

int session_param_types(session_t *s, const char *sql, json_t **types, tarn_err_t *err)
{
    const char *inner;
    json_t *cols = NULL, *none = json_array();
    const json_t *params = none;
    int rc = none ? session_inner(s, sql, &params, &cols, false, &inner, err)
                  : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    json_decref(cols);
    json_decref(none);
    if (rc)
        return rc;
    /* SHOW TABLES and EXPLAIN are answered as values: no parameter of theirs is used. */
    if (!params) {
        *types = json_array();
        return *types ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    return engine_param_types(s->conn, inner, types, err);
}

int session_check_syntax(session_t *s, const char *sql, tarn_err_t *err)
{
    arena_reset(s->a);
    /* PostgreSQL's syntax that the engine's parser lacks is rewritten first, as it is
     * before a query runs. */
    int rc = s->pg ? pgdialect_rewrite_text(sql, &sql, s->a, err) : 0;
    return rc ? rc : sandbox_check_syntax(s->conn, sql, s->a, err);
}

int session_query_parquet(session_t *s, const char *sql, const json_t *params, const char *path,
                          const char *options, uint64_t *rows, json_t **columns,
                          tarn_err_t *err)
{
    const char *inner;
    json_t *cols = NULL;
    buf_t b = BUF_INIT;
    int64_t n = 0;
    int rc = session_inner(s, sql, &params, &cols, true, &inner, err);
    if (rc)
        goto done;
    /* Columns keep their DuckDB types in the file, but for the 128-bit integers (what
     * sum() of BIGINT gives), which DuckDB would write as DOUBLE: as DECIMAL(38,0) they
     * stay exact. Columns go by position, as names may repeat. */
    buf_puts(&b, "COPY (SELECT ");
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        bool wide = !strcmp(type, "HUGEINT") || !strcmp(type, "UHUGEINT");
        buf_printf(&b, wide ? "%sCAST(#%zu AS DECIMAL(38,0)) AS " : "%s#%zu AS ", i ? ", " : "",
                   i + 1);
        put_ident(&b, json_string_value(json_object_get(c, "name")));
    }
    buf_printf(&b, " FROM (%s) AS q) TO ", inner);
    put_literal(&b, s->a, path);
    buf_printf(&b, " (FORMAT parquet, COMPRESSION zstd%s%s)", options ? ", " : "",
               options ? options : "");
    rc = b.data ? engine_exec(s->conn, b.data, params, &n, err)
                : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc)
        *rows = (uint64_t)n;
    if (!rc && columns) {
        /* The types as written: the widened integers are DECIMAL(38,0) in the file. */
        json_array_foreach(cols, i, c)
        {
            const char *type = json_string_value(json_object_get(c, "type"));
            if (!strcmp(type, "HUGEINT") || !strcmp(type, "UHUGEINT"))
                json_object_set_new(c, "type", json_string("DECIMAL(38,0)"));
        }
        *columns = json_incref(cols);
    }
done:
    buf_free(&b);
    json_decref(cols);
    return rc;
}

int session_enable_pg(session_t *s, const char *database, const char *user, tarn_err_t *err)
{
    return s->pg ? 0 : pgcatalog_open(&s->pg, s->conn, s->cat, s->p, database, user, err);
}

const char *session_decisions(const session_t *s)
{
    return s->decisions.data ? s->decisions.data : "";
}
