/* The catalog model: tables in SQLite, reads as the REST API's JSON, explicit tables and
 * business metadata; see catalog.h. Files and snapshots are in catalog_files.c (the
 * crawler's) and catalog_snapshot.c (managed tables'), search in search.c. */
#include "catalog/catalog_internal.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GENERATION_TRIGGER(table, event)                                                     \
    "CREATE TRIGGER " table "_" event "_generation AFTER " event " ON " table                 \
    " BEGIN UPDATE cat_generation SET n = n + 1; END"
#define GENERATION_TRIGGERS(table)                                                            \
    GENERATION_TRIGGER(table, "INSERT"), GENERATION_TRIGGER(table, "UPDATE"),                \
        GENERATION_TRIGGER(table, "DELETE")

static const char *const catalog_schema[] = {
    "CREATE TABLE cat_databases(zone TEXT NOT NULL, name TEXT NOT NULL, description TEXT,"
    " owner TEXT, created_ms INTEGER NOT NULL, PRIMARY KEY(zone, name)) WITHOUT ROWID",
    "CREATE TABLE cat_tables(id INTEGER PRIMARY KEY, zone TEXT NOT NULL, db TEXT NOT NULL,"
    " name TEXT NOT NULL, location TEXT NOT NULL, format TEXT NOT NULL DEFAULT '',"
    " options TEXT NOT NULL DEFAULT '{}', partition_keys TEXT NOT NULL DEFAULT '[]',"
    " schema_version INTEGER NOT NULL DEFAULT 0, declared INTEGER NOT NULL DEFAULT 0,"
    " next_column_id INTEGER NOT NULL DEFAULT 1, snapshot INTEGER NOT NULL DEFAULT 0,"
    " owner TEXT, steward TEXT, description TEXT, tags TEXT NOT NULL DEFAULT '[]',"
    " status TEXT NOT NULL DEFAULT 'ok', status_reason TEXT,"
    " files INTEGER NOT NULL DEFAULT 0, rows INTEGER, bytes INTEGER NOT NULL DEFAULT 0,"
    " error_files INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, UNIQUE(zone, db, name))",
    /* Versions are append-only: a schema change is a new row, never an update. */
    "CREATE TABLE cat_versions(table_id INTEGER NOT NULL, version INTEGER NOT NULL,"
    " columns TEXT NOT NULL, changes TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(table_id, version)) WITHOUT ROWID",
    /* Business metadata of columns, by name, outliving schema versions. */
    "CREATE TABLE cat_columns(table_id INTEGER NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
    " description TEXT, sensitivity TEXT NOT NULL DEFAULT 'internal',"
    " tags TEXT NOT NULL DEFAULT '[]', PRIMARY KEY(table_id, name)) WITHOUT ROWID",
    "CREATE TABLE cat_partitions(table_id INTEGER NOT NULL, spec TEXT NOT NULL,"
    " vals TEXT NOT NULL, location TEXT NOT NULL, files INTEGER NOT NULL DEFAULT 0,"
    " bytes INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(table_id, spec)) WITHOUT ROWID",
    "CREATE TABLE cat_files(zone TEXT NOT NULL, key TEXT NOT NULL, table_id INTEGER,"
    " partition TEXT, size INTEGER NOT NULL, etag TEXT, sha256 TEXT, format TEXT,"
    " options TEXT, columns TEXT, rows INTEGER, schema_version INTEGER, status TEXT NOT NULL,"
    " reason TEXT, crawled_ms INTEGER NOT NULL, PRIMARY KEY(zone, key)) WITHOUT ROWID",
    "CREATE INDEX cat_files_table ON cat_files(table_id, key)",
    "CREATE TABLE cat_snapshots(table_id INTEGER NOT NULL, id INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, operation TEXT NOT NULL, added INTEGER NOT NULL,"
    " removed INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,"
    " summary TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(table_id, id)) WITHOUT ROWID",
    /* A file is live in snapshot s when added <= s and (removed is NULL or removed > s). */
    "CREATE TABLE cat_snapshot_files(table_id INTEGER NOT NULL, key TEXT NOT NULL,"
    " added INTEGER NOT NULL, removed INTEGER, size INTEGER NOT NULL, rows INTEGER,"
    " PRIMARY KEY(table_id, key, added)) WITHOUT ROWID",
    "CREATE TABLE cat_cursors(name TEXT PRIMARY KEY, position INTEGER NOT NULL)",
    /* Prefix indexes serve short prefix words ("cu*", "cust*") without scanning terms. */
    "CREATE VIRTUAL TABLE cat_search USING fts5(name, description, columns, tags, owner,"
    " steward, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')",
    /* Databases get a stable number, never reused (SQL clients see it as a schema's oid). */
    "ALTER TABLE cat_databases ADD COLUMN id INTEGER",
    "UPDATE cat_databases SET id = (SELECT count(*) FROM cat_databases d WHERE d.zone < "
    "cat_databases.zone OR (d.zone = cat_databases.zone AND d.name <= cat_databases.name))",
    "CREATE UNIQUE INDEX cat_databases_id ON cat_databases(id)",
    /* A change counter for readers that keep a copy of tables, columns and databases. */
    "CREATE TABLE cat_generation(n INTEGER NOT NULL)",
    "INSERT INTO cat_generation(n) VALUES (0)",
    GENERATION_TRIGGERS("cat_tables"),
    GENERATION_TRIGGERS("cat_columns"),
    GENERATION_TRIGGERS("cat_databases"),
    /* Promotion (raw -> cleaned) per database.table: the policy the promoter applies and
     * how many of the table's objects sit in quarantine. */
    "CREATE TABLE cat_promotion(db TEXT NOT NULL, name TEXT NOT NULL,"
    " mode TEXT NOT NULL DEFAULT 'additive', required_columns TEXT NOT NULL DEFAULT '[]',"
    " not_null_keys TEXT NOT NULL DEFAULT '[]', raw_retention_s INTEGER,"
    " quarantined INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(db, name)) WITHOUT ROWID",
    /* Managed tables (written by pipelines through catalog_snapshot_commit) name who
     * writes them; the crawler leaves them alone. NULL: the crawler owns the table. */
    "ALTER TABLE cat_tables ADD COLUMN managed_by TEXT",
    /* What a snapshot was written with, so a rollback restores it along with the files
     * (NULL in snapshots recorded before). */
    "ALTER TABLE cat_snapshots ADD COLUMN schema_version INTEGER",
    "ALTER TABLE cat_snapshots ADD COLUMN partition_keys TEXT",
};

int catalog_open(catalog_t **out, db_t *db, tarn_err_t *err)
{
    int rc = db_migrate(db, "catalog", catalog_schema,
                        (int)(sizeof catalog_schema / sizeof *catalog_schema), err);
    if (rc)
        return rc;
    catalog_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    c->db = db;
    *out = c;
    return 0;
}

void catalog_close(catalog_t *c)
{
    free(c);
}

db_t *catalog_db(catalog_t *c)
{
    return c->db;
}

bool catalog_name_parse(catalog_name_t *out, const char *text)
{
    return sscanf(text, "%15[^.].%129[^.].%129s", out->zone, out->db, out->table) == 3;
}

bool catalog_zone_valid(const char *zone)
{
    return zone && (!strcmp(zone, "raw") || !strcmp(zone, "cleaned") || !strcmp(zone, "curated"));
}

char *cat_json_text(const json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
             : strdup("null");
}

void cat_table_release(cat_table_t *t)
{
    json_decref(t->options);
    json_decref(t->partition_keys);
    t->options = t->partition_keys = NULL;
}

#define ROW_COLS "id, zone, db, name, format, options, partition_keys, schema_version, snapshot," \
                 " next_column_id, declared, files, coalesce(managed_by, '')"

static void table_from_row(cat_table_t *t, sqlite3_stmt *st)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    snprintf(t->zone, sizeof t->zone, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(t->db, sizeof t->db, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(t->format, sizeof t->format, "%s", (const char *)sqlite3_column_text(st, 4));
    t->options = db_col_json(st, 5);
    t->partition_keys = db_col_json(st, 6);
    t->schema_version = sqlite3_column_int64(st, 7);
    t->snapshot = sqlite3_column_int64(st, 8);
    t->next_column_id = sqlite3_column_int64(st, 9);
    t->declared = sqlite3_column_int(st, 10) != 0;
    t->files = sqlite3_column_int64(st, 11);
    snprintf(t->managed_by, sizeof t->managed_by, "%s", (const char *)sqlite3_column_text(st, 12));
}

int cat_table_load(catalog_t *c, const char *zone, const char *db, const char *name,
                   cat_table_t *t, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT " ROW_COLS " FROM cat_tables WHERE zone = ?1 AND db = ?2 AND name = ?3",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        table_from_row(t, st);
    else if (step == SQLITE_DONE)
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchTable,
                        "no table %s.%s.%s (see `tarn tables`)", zone, db, name);
    else
        rc = db_fail(c->db, step, err, "load table");
    db_done(c->db, st);
    return rc;
}

int cat_schema_load(catalog_t *c, int64_t table_id, int64_t v, schema_t *s, tarn_err_t *err)
{
    memset(s, 0, sizeof *s);
    if (v <= 0)
        return 0;
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT columns FROM cat_versions WHERE table_id = ?1 AND version = ?2", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, table_id);
    sqlite3_bind_int64(st, 2, v);
    if (sqlite3_step(st) == SQLITE_ROW) {
        json_t *j = db_col_json(st, 0);
        rc = schema_from_json(s, j, err);
        json_decref(j);
    } else {
        rc = TARN_ERR(err, TARN_EIO, "schema version %lld of table %lld is missing",
                      (long long)v, (long long)table_id);
    }
    db_done(c->db, st);
    return rc;
}

int cat_version_add(catalog_t *c, cat_table_t *t, schema_t *s, json_t *changes, tarn_err_t *err)
{
    schema_t old;
    int rc = cat_schema_load(c, t->id, t->schema_version, &old, err);
    if (rc)
        return rc;
    /* Columns keep their ids across versions; a new (or re-added) column gets a new one,
     * unless it comes with the id it had (a rollback restores an earlier version). */
    for (size_t i = 0; i < s->n; i++) {
        if (s->cols[i].id > 0)
            continue;
        long k = schema_find(&old, s->cols[i].name);
        s->cols[i].id = k >= 0 ? old.cols[k].id : t->next_column_id++;
    }
    schema_free(&old);
    json_t *cols = schema_to_json(s);
    char *ctext = cat_json_text(cols), *chtext = cat_json_text(changes);
    json_decref(cols);
    sqlite3_stmt *st = NULL;
    int64_t now = time_now_ms();
    if (!ctext || !chtext) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = db_prepare(c->db, &st,
                         "INSERT INTO cat_versions(table_id, version, columns, changes, created_ms)"
                         " VALUES(?1, ?2, ?3, ?4, ?5)",
                         err)))
        goto done;
    sqlite3_bind_int64(st, 1, t->id);
    sqlite3_bind_int64(st, 2, t->schema_version + 1);
    sqlite3_bind_text(st, 3, ctext, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, chtext, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    int step = sqlite3_step(st);
    db_done(c->db, st);
    if (step != SQLITE_DONE) {
        rc = db_fail(c->db, step, err, "add schema version");
        goto done;
    }
    if ((rc = db_prepare(c->db, &st,
                         "UPDATE cat_tables SET schema_version = ?2, next_column_id = ?3,"
                         " updated_ms = ?4 WHERE id = ?1",
                         err)))
        goto done;
    sqlite3_bind_int64(st, 1, t->id);
    sqlite3_bind_int64(st, 2, t->schema_version + 1);
    sqlite3_bind_int64(st, 3, t->next_column_id);
    sqlite3_bind_int64(st, 4, now);
    step = sqlite3_step(st);
    db_done(c->db, st);
    if (step != SQLITE_DONE) {
        rc = db_fail(c->db, step, err, "update table version");
        goto done;
    }
    t->schema_version++;
    for (size_t i = 0; !rc && i < s->n; i++) {
        if ((rc = db_prepare(c->db, &st,
                             "INSERT OR IGNORE INTO cat_columns(table_id, name) VALUES(?1, ?2)",
                             err)))
            break;
        sqlite3_bind_int64(st, 1, t->id);
        sqlite3_bind_text(st, 2, s->cols[i].name, -1, SQLITE_STATIC);
        step = sqlite3_step(st);
        db_done(c->db, st);
        if (step != SQLITE_DONE)
            rc = db_fail(c->db, step, err, "add column metadata");
    }
done:
    free(ctext);
    free(chtext);
    return rc;
}

static int cat_database_ensure(catalog_t *c, const char *zone, const char *db, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "INSERT OR IGNORE INTO cat_databases(zone, name, created_ms, id)"
                        " VALUES(?1, ?2, ?3, (SELECT coalesce(max(id), 0) + 1 FROM cat_databases))",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, db, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time_now_ms());
    int step = sqlite3_step(st);
    db_done(c->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(c->db, step, err, "add database");
}

int cat_table_insert(catalog_t *c, const char *zone, const char *db, const char *name,
                     const char *format, const json_t *options, const json_t *partition_keys,
                     bool declared, const char *owner, cat_table_t *t, tarn_err_t *err)
{
    int rc = cat_database_ensure(c, zone, db, err);
    if (rc)
        return rc;
    char *opts = options ? cat_json_text(options) : strdup("{}");
    char *pk = partition_keys ? cat_json_text(partition_keys) : strdup("[]");
    char *loc = NULL;
    if (!opts || !pk || asprintf(&loc, "%s/%s/", db, name) < 0) {
        loc = NULL;
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    sqlite3_stmt *st;
    if ((rc = db_prepare(c->db, &st,
                         "INSERT INTO cat_tables(zone, db, name, location, format, options,"
                         " partition_keys, declared, owner, created_ms, updated_ms)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                         err)))
        goto done;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, loc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, format ? format : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, opts, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, pk, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, declared);
    if (owner)
        sqlite3_bind_text(st, 9, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, time_now_ms());
    int step = sqlite3_step(st);
    db_done(c->db, st);
    if (step == SQLITE_CONSTRAINT)
        rc = TARN_ERR_R(err, TARN_EEXISTS, TableExists, "table %s.%s.%s already exists", zone,
                        db, name);
    else if (step != SQLITE_DONE)
        rc = db_fail(c->db, step, err, "add table");
    else
        rc = cat_table_load(c, zone, db, name, t, err);
done:
    free(opts);
    free(pk);
    free(loc);
    return rc;
}

/* ---- reading ---- */

#define SUMMARY_COLS CAT_SUMMARY_COLS

json_t *cat_summary_row(sqlite3_stmt *st)
{
    const char *zone = (const char *)sqlite3_column_text(st, 1);
    const char *db = (const char *)sqlite3_column_text(st, 2);
    const char *name = (const char *)sqlite3_column_text(st, 3);
    const char *loc = (const char *)sqlite3_column_text(st, 4);
    const char *fmt = (const char *)sqlite3_column_text(st, 5);
    char full[300], url[600];
    snprintf(full, sizeof full, "%s.%s.%s", zone, db, name);
    snprintf(url, sizeof url, "s3://%s/%s", zone, loc);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "name", full, "zone", zone,
                          "database", db, "table", name, "location", url, "format",
                          fmt && *fmt ? json_string(fmt) : json_null());
    json_object_set_new(o, "files", db_col_int(st, 6));
    json_object_set_new(o, "rows", db_col_int(st, 7));
    json_object_set_new(o, "bytes", db_col_int(st, 8));
    json_object_set_new(o, "schema_version", db_col_int(st, 9));
    json_object_set_new(o, "status", db_col_text(st, 10));
    json_object_set_new(o, "error_files", db_col_int(st, 15));
    json_object_set_new(o, "owner", db_col_text(st, 11));
    json_object_set_new(o, "description", db_col_text(st, 12));
    json_object_set_new(o, "tags", db_col_json(st, 13));
    json_object_set_new(o, "updated", db_col_time(st, 14));
    json_object_set_new(o, "managed_by", db_col_text(st, 16));
    return o;
}

static bool may_describe(const authz_principal_t *p, const char *zone, const char *db,
                         const char *name)
{
    char res[400];
    snprintf(res, sizeof res, "table/%s.%s.%s", zone, db, name);
    return authz_check(p, "catalog:Describe", res, NULL) == 0;
}

int catalog_tables_list(catalog_t *c, const authz_principal_t *p, const char *zone,
                        const char *db, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT " SUMMARY_COLS " FROM cat_tables t WHERE (?1 IS NULL OR zone = ?1)"
                        " AND (?2 IS NULL OR db = ?2) ORDER BY zone, db, name",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, db, -1, SQLITE_STATIC);
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        if (may_describe(p, (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2),
                         (const char *)sqlite3_column_text(st, 3)))
            json_array_append_new(a, cat_summary_row(st));
    db_done(c->db, st);
    *out = json_pack("{s:o}", "tables", a);
    return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

/* A database whose tables are all hidden from the caller is hidden too. */
static void flush_hidden(json_t *a, json_t *cur, size_t hidden)
{
    if (cur && hidden && !json_integer_value(json_object_get(cur, "tables")))
        json_array_remove(a, json_array_size(a) - 1);
}

int catalog_databases_list(catalog_t *c, const authz_principal_t *p, const char *zone,
                           json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT d.zone, d.name, d.description, d.owner, d.created_ms, t.name,"
                        " t.files, t.bytes FROM cat_databases d LEFT JOIN cat_tables t"
                        " ON t.zone = d.zone AND t.db = d.name WHERE (?1 IS NULL OR d.zone = ?1)"
                        " ORDER BY d.zone, d.name",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    json_t *a = json_array(), *cur = NULL;
    char last[300] = "";
    size_t hidden = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *z = (const char *)sqlite3_column_text(st, 0);
        const char *d = (const char *)sqlite3_column_text(st, 1);
        char full[300];
        snprintf(full, sizeof full, "%s.%s", z, d);
        if (strcmp(full, last)) {
            flush_hidden(a, cur, hidden);
            hidden = 0;
            snprintf(last, sizeof last, "%s", full);
            cur = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:i, s:i}", "name", full, "zone",
                            z, "database", d, "description", db_col_text(st, 2), "owner",
                            db_col_text(st, 3), "created", db_col_time(st, 4), "tables", 0, "files", 0,
                            "bytes", 0);
            json_array_append_new(a, cur);
        }
        const char *tn = (const char *)sqlite3_column_text(st, 5);
        if (!tn)
            continue;
        if (!may_describe(p, z, d, tn)) {
            hidden++;
            continue;
        }
#define BUMP(k, v) json_object_set_new(cur, k, json_integer(json_integer_value(json_object_get(cur, k)) + (v)))
        BUMP("tables", 1);
        BUMP("files", sqlite3_column_int64(st, 6));
        BUMP("bytes", sqlite3_column_int64(st, 7));
#undef BUMP
    }
    db_done(c->db, st);
    flush_hidden(a, cur, hidden);
    *out = json_pack("{s:o}", "databases", a);
    return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

/* ASCII lower case, as the NOCASE collation of cat_columns.name compares. */
static void lower_ascii(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    out[i] = '\0';
}

int catalog_generation(catalog_t *c, int64_t *out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st, "SELECT n FROM cat_generation", err);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = db_fail(c->db, step, err, "read the catalog's generation");
    db_done(c->db, st);
    return rc;
}

/* {"<table id>": {"<lower-case column>": "description"}} of every described column. */
static int column_descriptions(catalog_t *c, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT table_id, name, description FROM cat_columns"
                        " WHERE description IS NOT NULL",
                        err);
    if (rc)
        return rc;
    json_t *all = json_object();
    while (all && sqlite3_step(st) == SQLITE_ROW) {
        char id[24], key[512];
        snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(st, 0));
        lower_ascii(key, sizeof key, (const char *)sqlite3_column_text(st, 1));
        json_t *t = json_object_get(all, id);
        if (!t)
            json_object_set_new(all, id, t = json_object());
        json_object_set_new(t, key, db_col_text(st, 2));
    }
    db_done(c->db, st);
    *out = all;
    return all ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

/* Calls fn for each partition key of the table in col (a row of the schema's columns). */
static int partition_keys_each(const char *text, int ncols, catalog_column_t col,
                               int (*fn)(void *ctx, const catalog_column_t *col), void *ctx)
{
    json_t *pks = text && strcmp(text, "[]") ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *k;
    int rc = 0;
    json_array_foreach(pks, i, k)
    {
        col.position = ncols + (int)i + 1;
        col.name = json_string_value(json_object_get(k, "name"));
        col.type = json_string_value(json_object_get(k, "type"));
        col.description = NULL;
        col.partition_key = true;
        if (col.name && col.type && (rc = fn(ctx, &col)))
            break;
    }
    json_decref(pks);
    return rc;
}

int catalog_columns_each(catalog_t *c, const authz_principal_t *p,
                         int (*fn)(void *ctx, const catalog_column_t *col), void *ctx,
                         tarn_err_t *err)
{
    json_t *descs = NULL;
    sqlite3_stmt *st = NULL;
    int rc = column_descriptions(c, &descs, err);
    /* One query over every table's current schema, taken apart by SQLite: a thousand
     * tables cost one statement (in the index's order, so nothing is sorted) and no JSON
     * parsed here. */
    if (rc || (rc = db_prepare(c->db, &st,
                               "SELECT t.id, t.zone, t.db, t.name, t.description, t.rows,"
                               " t.bytes, t.partition_keys, d.id, d.description,"
                               " json_array_length(v.columns), j.key,"
                               " json_extract(j.value, '$.name'), json_extract(j.value, '$.type')"
                               " FROM cat_tables t JOIN cat_databases d ON d.zone = t.zone"
                               " AND d.name = t.db LEFT JOIN cat_versions v ON v.table_id = t.id"
                               " AND v.version = t.schema_version LEFT JOIN json_each(v.columns) j"
                               " ORDER BY t.zone, t.db, t.name",
                               err)))
        goto done;
    int64_t last = 0;
    bool may = false;
    const json_t *td = NULL;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        catalog_column_t col = {
            .table_id = sqlite3_column_int64(st, 0),
            .zone = (const char *)sqlite3_column_text(st, 1),
            .database = (const char *)sqlite3_column_text(st, 2),
            .table = (const char *)sqlite3_column_text(st, 3),
            .table_description = (const char *)sqlite3_column_text(st, 4),
            .rows = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5),
            .bytes = sqlite3_column_int64(st, 6),
            .database_id = sqlite3_column_int64(st, 8),
            .database_description = (const char *)sqlite3_column_text(st, 9),
            .name = (const char *)sqlite3_column_text(st, 12),
            .type = (const char *)sqlite3_column_text(st, 13),
        };
        if (col.table_id != last) {
            char id[24];
            snprintf(id, sizeof id, "%lld", (long long)col.table_id);
            td = json_object_get(descs, id);
            last = col.table_id;
            may = may_describe(p, col.zone, col.database, col.table);
            /* The partition keys come after the schema's columns (by position). */
            if (may && (rc = partition_keys_each((const char *)sqlite3_column_text(st, 7),
                                                 sqlite3_column_int(st, 10), col, fn, ctx)))
                break;
        }
        if (!may)
            continue;
        if (col.name) {
            char key[512];
            lower_ascii(key, sizeof key, col.name);
            col.description = json_string_value(json_object_get(td, key));
            col.position = sqlite3_column_int(st, 11) + 1;
        }
        rc = fn(ctx, &col);
    }
done:
    if (st)
        db_done(c->db, st);
    json_decref(descs);
    return rc;
}

int cat_columns_json(catalog_t *c, int64_t table_id, int64_t version, json_t **out,
                     tarn_err_t *err)
{
    schema_t s;
    int rc = cat_schema_load(c, table_id, version, &s, err);
    if (rc)
        return rc;
    /* The metadata of every column in one query, matched to the schema by name. */
    sqlite3_stmt *st = NULL;
    json_t *meta = json_object();
    if ((rc = db_prepare(c->db, &st,
                         "SELECT name, description, sensitivity, tags FROM cat_columns"
                         " WHERE table_id = ?1",
                         err))) {
        json_decref(meta);
        schema_free(&s);
        return rc;
    }
    sqlite3_bind_int64(st, 1, table_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char key[512];
        lower_ascii(key, sizeof key, (const char *)sqlite3_column_text(st, 0));
        json_object_set_new(meta, key, json_pack("{s:o, s:o, s:o}", "description",
                                                 db_col_text(st, 1), "sensitivity", db_col_text(st, 2),
                                                 "tags", db_col_json(st, 3)));
    }
    db_done(c->db, st);
    json_t *a = json_array();
    for (size_t i = 0; i < s.n; i++) {
        const schema_col_t *col = &s.cols[i];
        char key[512];
        lower_ascii(key, sizeof key, col->name);
        json_t *m = json_object_get(meta, key);
        json_t *desc = m ? json_incref(json_object_get(m, "description")) : json_null();
        json_t *sens = m ? json_incref(json_object_get(m, "sensitivity")) : json_string("internal");
        json_t *tags = m ? json_incref(json_object_get(m, "tags")) : json_array();
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:b, s:o, s:o, s:o}", "id",
                                           (json_int_t)col->id, "name", col->name, "type",
                                           col->type, "nullable", col->nullable, "description",
                                           desc, "sensitivity", sens, "tags", tags));
    }
    json_decref(meta);
    schema_free(&s);
    *out = a;
    return 0;
}

int catalog_table_get(catalog_t *c, const char *zone, const char *db, const char *name,
                      json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT " SUMMARY_COLS ", t.options, t.partition_keys, t.steward,"
                        " t.status_reason, t.created_ms, t.snapshot, t.declared"
                        " FROM cat_tables t WHERE zone = ?1 AND db = ?2 AND name = ?3",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    json_t *o = NULL;
    int64_t id = 0, version = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        o = cat_summary_row(st);
        id = sqlite3_column_int64(st, 0);
        version = sqlite3_column_int64(st, 9);
        json_object_set_new(o, "format_options", db_col_json(st, 17));
        json_object_set_new(o, "partition_keys", db_col_json(st, 18));
        json_object_set_new(o, "steward", db_col_text(st, 19));
        json_object_set_new(o, "status_reason", db_col_text(st, 20));
        json_object_set_new(o, "created", db_col_time(st, 21));
        json_object_set_new(o, "snapshot", db_col_int(st, 22));
        json_object_set_new(o, "schema_source",
                            json_string(sqlite3_column_int(st, 23) ? "declared" : "inferred"));
    }
    db_done(c->db, st);
    if (!o)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchTable,
                          "no table %s.%s.%s (see `tarn tables`)", zone, db, name);
    json_t *cols;
    if ((rc = cat_columns_json(c, id, version, &cols, err))) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "columns", cols);
    json_t *promo = NULL;
    if ((!strcmp(zone, "raw") || !strcmp(zone, "cleaned")) &&
        !(rc = catalog_promotion_get(c, db, name, &promo, err))) {
        json_object_set(o, "quarantined", json_object_get(promo, "quarantined"));
        json_object_del(promo, "quarantined");
        json_object_set_new(o, "promotion", promo);
    }
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int table_id(catalog_t *c, const char *zone, const char *db, const char *name,
                    int64_t *id, int64_t *snapshot, tarn_err_t *err)
{
    cat_table_t t;
    int rc = cat_table_load(c, zone, db, name, &t, err);
    if (rc)
        return rc;
    *id = t.id;
    if (snapshot)
        *snapshot = t.snapshot;
    cat_table_release(&t);
    return 0;
}

int catalog_table_id(catalog_t *c, const char *zone, const char *db, const char *name,
                     int64_t *id, tarn_err_t *err)
{
    return table_id(c, zone, db, name, id, NULL, err);
}

/* One row of a per-table listing as JSON; ctx is the listing's. */
typedef json_t *(*row_json_fn)(sqlite3_stmt *st, const void *ctx);

/* Runs sql with ?1 the table's id, ?2 and ?3 the given values (text2 may be NULL), and
 * collects the rows as JSON, at most max of them (*more tells whether one more exists). */
static int collect_rows(catalog_t *c, const char *sql, int64_t id, const char *text2,
                        int64_t int3, size_t max, row_json_fn fn, const void *ctx, json_t **out,
                        bool *more, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (text2)
        sqlite3_bind_text(st, 2, text2, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, int3);
    json_t *a = json_array();
    bool extra = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (json_array_size(a) == max) {
            extra = true;
            break;
        }
        json_array_append_new(a, fn(st, ctx));
    }
    db_done(c->db, st);
    if (more)
        *more = extra;
    *out = a;
    return 0;
}

static json_t *version_row(sqlite3_stmt *st, const void *ctx)
{
    (void)ctx;
    return json_pack("{s:o, s:o, s:o, s:o}", "version", db_col_int(st, 0), "created",
                     db_col_time(st, 1), "changes", db_col_json(st, 2), "columns", db_col_json(st, 3));
}

static json_t *partition_row(sqlite3_stmt *st, const void *zone)
{
    char loc[1200];
    snprintf(loc, sizeof loc, "s3://%s/%s", (const char *)zone,
             (const char *)sqlite3_column_text(st, 2));
    return json_pack("{s:o, s:o, s:s, s:o, s:o, s:o}", "spec", db_col_text(st, 0), "values",
                     db_col_json(st, 1), "location", loc, "files", db_col_int(st, 3), "bytes",
                     db_col_int(st, 4), "updated", db_col_time(st, 5));
}

static json_t *file_row(sqlite3_stmt *st, const void *ctx)
{
    (void)ctx;
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "key",
                     db_col_text(st, 0), "size", db_col_int(st, 1), "sha256", db_col_text(st, 2), "etag",
                     db_col_text(st, 10), "format", db_col_text(st, 3), "rows", db_col_int(st, 4),
                     "schema_version", db_col_int(st, 5), "partition", db_col_text(st, 6), "status",
                     db_col_text(st, 7), "reason", db_col_text(st, 8), "crawled", db_col_time(st, 9));
}

static json_t *snapshot_row(sqlite3_stmt *st, const void *current)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "snapshot",
                     db_col_int(st, 0), "created", db_col_time(st, 1), "operation", db_col_text(st, 2),
                     "added_files", db_col_int(st, 3), "removed_files", db_col_int(st, 4), "files",
                     db_col_int(st, 5), "bytes", db_col_int(st, 6), "summary", db_col_json(st, 7),
                     "schema_version", db_col_int(st, 8), "current",
                     sqlite3_column_int64(st, 0) == *(const int64_t *)current);
}

static json_t *snapshot_file_row(sqlite3_stmt *st, const void *ctx)
{
    (void)ctx;
    json_t *opts = db_col_json(st, 3), *cols = db_col_json(st, 4), *names = json_array(),
           *types = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        json_array_append(names, json_object_get(c, "name"));
        json_array_append(types, json_object_get(c, "type"));
    }
    json_decref(cols);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "key", db_col_text(st, 0), "size",
                     db_col_int(st, 1), "rows", db_col_int(st, 2), "options",
                     json_is_object(opts) ? opts : (json_decref(opts), json_object()), "columns",
                     names, "types", types);
}

int catalog_table_versions(catalog_t *c, const char *zone, const char *db, const char *name,
                           json_t **out, tarn_err_t *err)
{
    int64_t id;
    json_t *a;
    int rc = table_id(c, zone, db, name, &id, NULL, err);
    if (rc || (rc = collect_rows(c,
                                 "SELECT version, created_ms, changes, columns FROM cat_versions"
                                 " WHERE table_id = ?1 ORDER BY version",
                                 id, NULL, 0, SIZE_MAX, version_row, NULL, &a, NULL, err)))
        return rc;
    *out = json_pack("{s:o}", "versions", a);
    return 0;
}

int catalog_table_partitions(catalog_t *c, const char *zone, const char *db, const char *name,
                             json_t **out, tarn_err_t *err)
{
    int64_t id;
    json_t *a;
    int rc = table_id(c, zone, db, name, &id, NULL, err);
    if (rc || (rc = collect_rows(c,
                                 "SELECT spec, vals, location, files, bytes, updated_ms FROM"
                                 " cat_partitions WHERE table_id = ?1 ORDER BY spec",
                                 id, NULL, 0, SIZE_MAX, partition_row, zone, &a, NULL, err)))
        return rc;
    *out = json_pack("{s:o}", "partitions", a);
    return 0;
}

int catalog_table_files(catalog_t *c, const char *zone, const char *db, const char *name,
                        const char *after, size_t limit, json_t **out, tarn_err_t *err)
{
    int64_t id;
    json_t *a;
    bool more;
    int rc = table_id(c, zone, db, name, &id, NULL, err);
    if (rc || (rc = collect_rows(c,
                                 "SELECT key, size, sha256, format, rows, schema_version,"
                                 " partition, status, reason, crawled_ms, etag FROM cat_files"
                                 /* Files a managed table's snapshots dropped are kept
                                  * for its earlier snapshots, not listed as its files. */
                                 " WHERE table_id = ?1 AND key > ?2 AND status <> 'removed'"
                                 " ORDER BY key LIMIT ?3",
                                 id, after ? after : "", (int64_t)limit + 1, limit, file_row,
                                 NULL, &a, &more, err)))
        return rc;
    json_t *next = more ? json_string(json_string_value(
                              json_object_get(json_array_get(a, limit - 1), "key")))
                        : json_null();
    *out = json_pack("{s:o, s:o}", "files", a, "next", next);
    return 0;
}

int catalog_table_snapshots(catalog_t *c, const char *zone, const char *db, const char *name,
                            json_t **out, tarn_err_t *err)
{
    int64_t id, cur;
    json_t *a;
    int rc = table_id(c, zone, db, name, &id, &cur, err);
    if (rc || (rc = collect_rows(c,
                                 "SELECT id, created_ms, operation, added, removed, files, bytes,"
                                 " summary, schema_version FROM cat_snapshots WHERE"
                                 " table_id = ?1 ORDER BY id",
                                 id, NULL, 0, SIZE_MAX, snapshot_row, &cur, &a, NULL, err)))
        return rc;
    *out = json_pack("{s:o, s:I}", "snapshots", a, "current", (json_int_t)cur);
    return 0;
}

int catalog_snapshot_files(catalog_t *c, const char *zone, const char *db, const char *name,
                           int64_t snapshot, json_t **out, tarn_err_t *err)
{
    int64_t id, cur;
    json_t *a;
    int rc = table_id(c, zone, db, name, &id, &cur, err);
    if (rc)
        return rc;
    if (snapshot <= 0)
        snapshot = cur;
    if (snapshot > cur)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchSnapshot,
                          "table %s.%s.%s has no snapshot %lld (the latest is %lld)", zone, db,
                          name, (long long)snapshot, (long long)cur);
    if ((rc = collect_rows(c,
                           "SELECT s.key, s.size, s.rows, f.options, f.columns FROM cat_snapshot_files s"
                           " LEFT JOIN cat_files f ON f.zone = ?2 AND f.key = s.key"
                           " WHERE s.table_id = ?1 AND s.added <= ?3"
                           " AND (s.removed IS NULL OR s.removed > ?3) ORDER BY s.key",
                           id, zone, snapshot, SIZE_MAX, snapshot_file_row, NULL, &a, NULL, err)))
        return rc;
    *out = json_pack("{s:I, s:o}", "snapshot", (json_int_t)snapshot, "files", a);
    return 0;
}

int catalog_metrics(catalog_t *c, void (*line)(void *ctx, const char *name, const char *labels,
                                               long long value),
                    void *ctx, tarn_err_t *err)
{
    static const struct {
        const char *name, *sql;
    } gauges[] = {
        {"tarn_catalog_tables", "SELECT 'zone=\"' || zone || '\"', count(*) FROM cat_tables"
                                " GROUP BY zone ORDER BY zone"},
        {"tarn_catalog_files", "SELECT 'zone=\"' || zone || '\",status=\"' || status || '\"',"
                               " count(*) FROM cat_files GROUP BY zone, status ORDER BY 1"},
        {"tarn_crawler_lag_events", "SELECT '', (SELECT coalesce(max(id), 0) FROM events) -"
                                    " coalesce((SELECT position FROM cat_cursors WHERE name ="
                                    " 'crawler'), 0)"},
    };
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++) {
        sqlite3_stmt *st;
        int rc = db_prepare(c->db, &st, gauges[i].sql, err);
        if (rc)
            return rc;
        while (sqlite3_step(st) == SQLITE_ROW)
            line(ctx, gauges[i].name, (const char *)sqlite3_column_text(st, 0),
                 sqlite3_column_int64(st, 1));
        db_done(c->db, st);
    }
    return 0;
}
