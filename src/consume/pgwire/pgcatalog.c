/* PostgreSQL's catalogs for a query session: the session's tables read from the lake's
 * catalog, the relations and functions over them; see pgcatalog.h. The lake's part is
 * loaded again only when the catalog has changed since the last load. */
#include "consume/pgwire/pgcatalog.h"
#include "consume/pgwire/pgcatalog_defs.h"
#include "consume/pgwire/pgtype.h"

#include "util/arena.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

struct pgcatalog {
    engine_conn_t *conn;
    catalog_t *cat;
    const authz_principal_t *p;
    arena_t *a;
    const char **names; /* each relation's name in temp.main, by index in pgcat_rels */
    bool *created;
    bool fresh;  /* the lake's tables were looked at during this statement */
    bool loaded; /* the tables hold the catalog as of generation */
    int64_t generation;
    uint64_t grants_generation; /* and the grants as of this one */
    buf_t system_rows[3]; /* pg_catalog's and information_schema's own rows */
};

enum { J_NS, J_REL, J_ATT };

/* The session's tables (PGCAT_*). */
static const char *const base_tables[] = {
    "CREATE TEMP TABLE " PGCAT_NS "(oid BIGINT, nspname VARCHAR, description VARCHAR)",
    "CREATE TEMP TABLE " PGCAT_REL "(oid BIGINT, relname VARCHAR, relnamespace BIGINT,"
    " relkind VARCHAR, relnatts SMALLINT, reltuples FLOAT, bytes BIGINT, description VARCHAR)",
    "CREATE TEMP TABLE " PGCAT_ATT "(attrelid BIGINT, attname VARCHAR, atttypid BIGINT,"
    " attlen SMALLINT, attnum SMALLINT, atttypmod INTEGER, description VARCHAR)",
    "CREATE TEMP TABLE " PGCAT_TYPE "(oid BIGINT, typname VARCHAR, typlen SMALLINT,"
    " typbyval BOOLEAN, typcategory VARCHAR, typispreferred BOOLEAN, typelem BIGINT,"
    " typarray BIGINT, typinput VARCHAR, typoutput VARCHAR, typreceive VARCHAR,"
    " typsend VARCHAR, typalign VARCHAR, typstorage VARCHAR, typcollation BIGINT)",
    "CREATE TEMP TABLE " PGCAT_SETTINGS "(name VARCHAR, setting VARCHAR, unit VARCHAR,"
    " category VARCHAR, short_desc VARCHAR, vartype VARCHAR)",
};

/* Each loaded table with the fields of its rows, in order, as the engine reads them. */
static const struct {
    const char *table, *fields;
} loads[] = {
    [J_NS] = {PGCAT_NS, "CAST(f[1] AS BIGINT), f[2], nullif(f[3], '')"},
    [J_REL] = {PGCAT_REL, "CAST(f[1] AS BIGINT), f[2], CAST(f[3] AS BIGINT), f[4], "
                          "CAST(f[5] AS SMALLINT), CAST(f[6] AS FLOAT), "
                          "CAST(nullif(f[7], '') AS BIGINT), nullif(f[8], '')"},
    [J_ATT] = {PGCAT_ATT, "CAST(f[1] AS BIGINT), f[2], CAST(f[3] AS BIGINT), "
                          "CAST(f[4] AS SMALLINT), CAST(f[5] AS SMALLINT), "
                          "CAST(f[6] AS INTEGER), nullif(f[7], '')"},
};

/* ---- rows as text inside a SQL string literal ---- */

/* Rows are loaded as one text of fields separated by FS and rows by RS, which the engine
 * splits (several times faster than parsing JSON or a statement of literals). */
#define FS '\x1f'
#define RS '\x1e'

/* s as a field (empty for NULL): ' doubled for the literal around the text, and control
 * characters, which no name or description needs, as blanks, so no value holds FS or RS. */
static void put_field(buf_t *b, const char *s)
{
    const char *run = s;
    for (const char *p = s; p && *p; p++) {
        if (*p != '\'' && (unsigned char)*p >= 0x20)
            continue;
        buf_append(b, run, (size_t)(p - run));
        buf_puts(b, *p == '\'' ? "''" : " ");
        run = p + 1;
    }
    if (run)
        buf_puts(b, run);
}

/* A number and the field separator (printf is the slow part of writing many rows). */
static void put_num(buf_t *b, long long v)
{
    char d[24];
    size_t i = sizeof d;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    d[--i] = FS;
    do
        d[--i] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        d[--i] = '-';
    buf_append(b, d + i, sizeof d - i);
}

static void put_row_start(buf_t *b)
{
    if (b->len)
        buf_putc(b, RS);
}

static void put_ns(buf_t *b, long long oid, const char *name, const char *desc)
{
    put_row_start(b);
    put_num(b, oid);
    put_field(b, name);
    buf_putc(b, FS);
    put_field(b, desc);
}

/* A pg_class row (bytes < 0: unknown); *natts_at, when not NULL, gets where its column
 * count is: four digits to fill in once the table's columns are counted. */
static void put_rel(buf_t *b, long long oid, const char *name, long long nsp, char kind,
                    size_t natts, long long tuples, long long bytes, const char *desc,
                    size_t *natts_at)
{
    char n[8];
    put_row_start(b);
    put_num(b, oid);
    put_field(b, name);
    buf_putc(b, FS);
    put_num(b, nsp);
    buf_putc(b, kind);
    buf_putc(b, FS);
    if (natts_at)
        *natts_at = b->len;
    snprintf(n, sizeof n, "%04zu", natts);
    buf_puts(b, n);
    buf_putc(b, FS);
    put_num(b, tuples);
    if (bytes >= 0)
        put_num(b, bytes);
    else
        buf_putc(b, FS);
    put_field(b, desc);
}

static void put_att(buf_t *b, long long rel, const char *name, const char *duck_type, int num,
                    const char *desc)
{
    pgtype_t t = pgtype_of(duck_type ? duck_type : "VARCHAR");
    put_row_start(b);
    put_num(b, rel);
    put_field(b, name);
    buf_putc(b, FS);
    put_num(b, t.oid);
    put_num(b, t.len);
    put_num(b, num);
    put_num(b, t.typmod);
    put_field(b, desc);
}

/* ---- the relations ---- */

/* Calls each(ctx, name, type) for the columns of "name TYPE, name TYPE"; returns how many. */
static size_t columns_each(const char *cols, void (*each)(void *, const char *, const char *),
                           void *ctx)
{
    size_t n = 0;
    for (const char *p = cols; *p;) {
        char name[64], type[32];
        size_t nl = strcspn(p, " "), tl;
        const char *t = p + nl + (p[nl] == ' ');
        tl = strcspn(t, ",");
        snprintf(name, sizeof name, "%.*s", (int)nl, p);
        snprintf(type, sizeof type, "%.*s", (int)tl, t);
        if (each)
            each(ctx, name, type);
        n++;
        p = t + tl;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return n;
}

typedef struct {
    buf_t *b;
    size_t i;
    bool view;
} ddl_t;

static void ddl_column(void *ctx, const char *name, const char *type)
{
    ddl_t *d = ctx;
    if (d->i++)
        buf_puts(d->b, ", ");
    if (d->view)
        buf_printf(d->b, "CAST(c%zu AS %s) AS \"%s\"", d->i, type, name);
    else
        buf_printf(d->b, "\"%s\" %s", name, type);
}

/* A relation with no rows is a table with its columns; one with rows a view whose body's
 * columns are cast and named by position, so the declared columns are what clients see. */
static int create_rel(pgcatalog_t *g, size_t i, tarn_err_t *err)
{
    const pgcat_rel_t *r = &pgcat_rels[i];
    buf_t b = BUF_INIT;
    ddl_t d = {&b, 0, r->body != NULL};
    buf_printf(&b, "CREATE TEMP %s \"%s\"", r->body ? "VIEW" : "TABLE", g->names[i]);
    buf_puts(&b, r->body ? " AS SELECT " : "(");
    size_t n = columns_each(r->columns, ddl_column, &d);
    if (r->body) {
        buf_printf(&b, " FROM (%s) AS b(", r->body);
        for (size_t k = 1; k <= n; k++)
            buf_printf(&b, "%sc%zu", k > 1 ? ", " : "", k);
    }
    buf_putc(&b, ')');
    engine_rows_t out;
    int rc = b.data ? engine_query(g->conn, b.data, 0, &out, g->a, err)
                    : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&b);
    if (!rc)
        g->created[i] = true;
    return rc;
}

typedef struct {
    buf_t *b;
    long long rel;
    int num;
} sys_att_t;

static void sys_att(void *ctx, const char *name, const char *type)
{
    sys_att_t *s = ctx;
    put_att(s->b, s->rel, name, type, ++s->num, NULL);
}

/* The rows describing pg_catalog and information_schema themselves, the same for every
 * load. */
static void system_rows(pgcatalog_t *g)
{
    put_ns(&g->system_rows[J_NS], PGCAT_OID_PG_CATALOG, "pg_catalog", "system catalog schema");
    put_ns(&g->system_rows[J_NS], PGCAT_OID_INFORMATION_SCHEMA, "information_schema", NULL);
    for (size_t i = 0; i < pgcat_nrels; i++) {
        const pgcat_rel_t *r = &pgcat_rels[i];
        long long nsp =
            !strcmp(r->schema, "pg_catalog") ? PGCAT_OID_PG_CATALOG : PGCAT_OID_INFORMATION_SCHEMA;
        sys_att_t s = {&g->system_rows[J_ATT], r->oid, 0};
        size_t n = columns_each(r->columns, sys_att, &s);
        put_rel(&g->system_rows[J_REL], r->oid, r->name, nsp, r->kind, n, -1, -1, NULL, NULL);
    }
}

/* ---- the lake's part, per statement ---- */

typedef struct {
    pgcatalog_t *g;
    buf_t j[3];
    int64_t table;   /* the table being read */
    bool readable;   /* whether the principal may read it */
    grants_access_t access; /* and which of its columns */
    int natts;       /* its columns so far */
    size_t natts_at; /* where its pg_class row's column count goes */
    long long last_ns;
} reader_t;

/* Fills in the column count of the table read last. */
static void end_table(reader_t *r)
{
    char n[8];
    snprintf(n, sizeof n, "%04d", r->natts);
    if (r->readable && r->j[J_REL].data && r->natts_at + 4 <= r->j[J_REL].len)
        memcpy(r->j[J_REL].data + r->natts_at, n, 4);
}

/* One lake column; its table's row (and its schema's) come with the table's first. */
static int read_column(void *ctx, const catalog_column_t *c)
{
    reader_t *r = ctx;
    long long oid = PGCAT_TABLE_BASE + c->table_id;
    if (c->table_id != r->table) {
        end_table(r);
        char res[400];
        /* Exactly what the session's queries may read (session_map asks the same), and
         * which columns. */
        grants_access_free(&r->access);
        tarn_err_t e = {0};
        snprintf(res, sizeof res, "%s.%s.%s", c->zone, c->database, c->table);
        r->readable = !authz_table_access(r->g->p, res, &r->access, NULL, &e) && r->access.allowed;
        r->table = c->table_id;
        r->natts = 0;
        if (!r->readable)
            return 0;
        long long ns = PGCAT_NS_BASE + c->database_id;
        if (ns != r->last_ns) {
            char schema[300];
            /* The curated zone is the default one: its databases go by their own name. */
            bool curated = !strcmp(c->zone, "curated");
            snprintf(schema, sizeof schema, "%s%s%s", curated ? "" : c->zone, curated ? "" : ".",
                     c->database);
            put_ns(&r->j[J_NS], ns, schema, c->database_description);
            r->last_ns = ns;
        }
        put_rel(&r->j[J_REL], oid, c->table, ns, 'r', 0, c->rows, c->bytes, c->table_description,
                &r->natts_at);
    }
    if (r->readable && c->name && !grants_access_shows(&r->access, c->name)) {
        return 0; /* a column the user may not read is not listed either */
    }
    if (r->readable && c->name) {
        put_att(&r->j[J_ATT], oid, c->name, c->type, c->position, c->description);
        r->natts++;
    }
    return 0;
}

/* The statement that replaces the session's tables' rows with those of j. */
static void load_sql(buf_t *b, const pgcatalog_t *g, buf_t *j)
{
    buf_puts(b, "BEGIN TRANSACTION");
    for (int k = J_NS; k <= J_ATT; k++) {
        buf_printf(b,
                   "; DELETE FROM %s; INSERT INTO %s SELECT %s FROM (SELECT string_split(r, "
                   "chr(31)) AS f FROM unnest(string_split('",
                   loads[k].table, loads[k].table, loads[k].fields);
        buf_append(b, g->system_rows[k].data, g->system_rows[k].len);
        if (j[k].len)
            buf_putc(b, RS);
        buf_append(b, j[k].data ? j[k].data : "", j[k].len);
        buf_puts(b, "', chr(30))) AS l(r))");
    }
    buf_puts(b, "; COMMIT");
}

/* Reads the tables the principal may read from the catalog into the session's tables,
 * unless the catalog has not changed since the last load. */
static int refresh(pgcatalog_t *g, tarn_err_t *err)
{
    reader_t r = {.g = g, .j = {BUF_INIT, BUF_INIT, BUF_INIT}, .last_ns = -1};
    buf_t sql = BUF_INIT;
    int64_t gen;
    int rc = catalog_generation(g->cat, &gen, err);
    /* Grants change what a session lists as much as the catalog does. */
    uint64_t ggen = g->p->grants ? grants_generation(g->p->grants) : 0;
    if (rc || (g->loaded && gen == g->generation && ggen == g->grants_generation))
        goto done;
    if ((rc = catalog_columns_each(g->cat, g->p, read_column, &r, err)))
        goto done;
    end_table(&r);
    load_sql(&sql, g, r.j);
    if (!sql.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    engine_rows_t out;
    g->loaded = false;
    if ((rc = engine_query(g->conn, sql.data, 0, &out, g->a, err))) {
        tarn_err_t ignored = {0};
        engine_query(g->conn, "ROLLBACK", 0, &out, g->a, &ignored);
        goto done;
    }
    g->generation = gen;
    g->grants_generation = ggen;
    g->loaded = true;
done:
    grants_access_free(&r.access);
    if (!rc)
        g->fresh = true;
    for (int k = 0; k < 3; k++)
        buf_free(&r.j[k]);
    buf_free(&sql);
    return rc;
}

/* ---- the session's functions and fixed tables ---- */

/* def with the session's values in place of @DB@, @USER@, @VERSION@ and @PID@. */
static void put_expanded(buf_t *b, const char *def, const char *const vals[4])
{
    static const char *const marks[] = {"@DB@", "@USER@", "@VERSION@", "@PID@"};
    for (const char *p = def; *p;) {
        int k = -1;
        for (int m = 0; m < 4 && k < 0; m++)
            if (!strncmp(p, marks[m], strlen(marks[m])))
                k = m;
        if (k < 0) {
            buf_putc(b, *p++);
            continue;
        }
        buf_puts(b, vals[k]);
        p += strlen(marks[k]);
    }
}

static void put_lit(buf_t *b, const char *s)
{
    buf_putc(b, '\'');
    for (const char *p = s; p && *p; p++) {
        if (*p == '\'')
            buf_putc(b, '\'');
        buf_putc(b, *p);
    }
    buf_putc(b, '\'');
}

/* pg_type's rows: each type pgtype.h knows, and its array type. */
static void type_rows(buf_t *b)
{
    buf_printf(b, "; INSERT INTO %s VALUES ", PGCAT_TYPE);
    size_t n = 0;
    for (size_t i = 0; pgtype_at(i); i++) {
        const pgtype_t *t = pgtype_at(i);
        const pgcat_type_t *f = NULL;
        for (size_t k = 0; k < pgcat_ntypes && !f; k++)
            if (pgcat_types[k].oid == t->oid)
                f = &pgcat_types[k];
        pgcat_type_t none = {t->oid, 0, 'U', 'i', 'x', false, false, 0, "textin"};
        if (!f)
            f = &none;
        /* The send/receive functions follow from the input function's name. */
        size_t il = strlen(f->input);
        int stem = (int)(il - (il > 3 && !strcmp(f->input + il - 3, "_in") ? 3 : 2));
        const char *us = f->input[stem] == '_' ? "_" : "";
        buf_printf(b,
                   "%s(%u, '%s', %d, %s, '%c', %s, 0, %u, '%s', '%.*s%sout', '%.*s%srecv', "
                   "'%.*s%ssend', '%c', '%c', %u)",
                   n++ ? ", " : "", t->oid, t->name, t->len, f->byval ? "true" : "false",
                   f->category, f->preferred ? "true" : "false", f->array, f->input, stem, f->input,
                   us, stem, f->input, us, stem, f->input, us, f->align, f->storage, f->collation);
        if (f->array)
            buf_printf(b,
                       ", (%u, '_%s', -1, false, 'A', false, %u, 0, 'array_in', "
                       "'array_out', 'array_recv', 'array_send', '%c', 'x', %u)",
                       f->array, t->name, t->oid, f->align == 'd' ? 'd' : 'i', f->collation);
    }
}

static void settings_rows(buf_t *b)
{
    buf_printf(b, "; INSERT INTO %s VALUES ", PGCAT_SETTINGS);
    for (size_t i = 0; i < pgcat_nsettings; i++) {
        buf_puts(b, i ? ", (" : "(");
        for (int k = 0; k < 6; k++) {
            if (k)
                buf_puts(b, ", ");
            if (pgcat_settings[i][k])
                put_lit(b, pgcat_settings[i][k]);
            else
                buf_puts(b, "NULL");
        }
        buf_putc(b, ')');
    }
}

/* The statement creating the session's tables and functions. */
static int setup_sql(buf_t *b, const char *database, const char *user)
{
    buf_t db = BUF_INIT, us = BUF_INIT, ver = BUF_INIT;
    struct utsname u;
    char version[300], pid[24];
    snprintf(version, sizeof version,
             "PostgreSQL 15.0 (tarn " TARN_VERSION ") on %s-pc-linux-gnu, compiled by cc, 64-bit",
             uname(&u) ? "x86_64" : u.machine);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    put_lit(&db, database);
    put_lit(&us, user);
    put_lit(&ver, version);
    const char *vals[4] = {db.data, us.data, ver.data, pid};
    int rc = db.data && us.data && ver.data ? 0 : TARN_ENOMEM;
    for (size_t i = 0; i < sizeof base_tables / sizeof *base_tables; i++)
        buf_printf(b, "%s%s", i ? "; " : "", base_tables[i]);
    type_rows(b);
    settings_rows(b);
    for (size_t i = 0; !rc && i < pgcat_nfns; i++) {
        buf_printf(b, "; CREATE TEMP MACRO %s", pgcat_fns[i].name);
        put_expanded(b, pgcat_fns[i].def, vals);
    }
    buf_free(&db);
    buf_free(&us);
    buf_free(&ver);
    return rc;
}

/* PostgreSQL's one-byte "char" (pg_type.typtype and the like), which clients such as
 * asyncpg read as bytes: an ENUM of the printable characters and '' (the engine names an
 * ENUM of single characters CHAR1, and pgtype.c shows it as "char"). The type is the
 * database's, shared by every session: created once; a session that loses the race to
 * create it finds it made. */
static int char_type(pgcatalog_t *g, tarn_err_t *err)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "CREATE TYPE IF NOT EXISTS " PGCAT_CHAR " AS ENUM ('', ");
    for (int c = 0x20; c < 0x7f; c++) {
        if (c == '\'')
            buf_puts(&b, "''''");
        else
            buf_printf(&b, "'%c'", c);
        buf_puts(&b, c < 0x7e ? ", " : ")");
    }
    engine_rows_t r;
    int rc = b.data ? TARN_EINVAL : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (int attempt = 0; b.data && rc && attempt < 5; attempt++)
        rc = engine_query(g->conn, b.data, 0, &r, g->a, err);
    buf_free(&b);
    return rc;
}

int pgcatalog_open(pgcatalog_t **out, engine_conn_t *c, catalog_t *cat, const authz_principal_t *p,
                   const char *database, const char *user, tarn_err_t *err)
{
    pgcatalog_t *g = calloc(1, sizeof *g);
    buf_t sql = BUF_INIT;
    int rc = 0;
    if (!g || !(g->a = arena_create()) ||
        !(g->names = arena_alloc(g->a, pgcat_nrels * sizeof *g->names)) ||
        !(g->created = arena_alloc(g->a, pgcat_nrels * sizeof *g->created))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    g->conn = c;
    g->cat = cat;
    g->p = p;
    for (size_t i = 0; i < pgcat_nrels; i++)
        if (!(g->names[i] =
                  arena_sprintf(g->a, "%s.%s", pgcat_rels[i].schema, pgcat_rels[i].name))) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            goto done;
        }
    system_rows(g);
    engine_rows_t r;
    if ((rc = char_type(g, err)))
        goto done;
    if (setup_sql(&sql, database, user) || !sql.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    rc = engine_query(c, sql.data, 0, &r, g->a, err);
done:
    buf_free(&sql);
    if (rc) {
        pgcatalog_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void pgcatalog_close(pgcatalog_t *g)
{
    if (!g)
        return;
    for (int k = 0; k < 3; k++)
        buf_free(&g->system_rows[k]);
    arena_free(g->a);
    free(g);
}

void pgcatalog_statement(pgcatalog_t *g)
{
    g->fresh = false;
}

int pgcatalog_map(pgcatalog_t *g, const char *schema, const char *name, const char **out,
                  tarn_err_t *err)
{
    *out = NULL;
    bool info = !strcasecmp(schema, "information_schema");
    if (*schema && !info && strcasecmp(schema, "pg_catalog"))
        return 0;
    const char *want = info ? "information_schema" : "pg_catalog";
    size_t i = 0;
    while (i < pgcat_nrels &&
           (strcmp(pgcat_rels[i].schema, want) || strcasecmp(pgcat_rels[i].name, name)))
        i++;
    if (i == pgcat_nrels)
        return *schema ? TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchTable,
                                    "relation %s.%s does not exist (tarn's catalogs for "
                                    "PostgreSQL clients do not have it)",
                                    want, name)
                       : 0;
    int rc = 0;
    if (pgcat_rels[i].lake && !g->fresh && (rc = refresh(g, err)))
        return rc;
    if (!g->created[i] && (rc = create_rel(g, i, err)))
        return rc;
    *out = g->names[i];
    return 0;
}

const char *pgcatalog_function_reads(const char *name)
{
    for (size_t i = 0; i < pgcat_nfns; i++)
        if (!strcasecmp(pgcat_fns[i].name, name))
            return pgcat_fns[i].reads;
    return NULL;
}
