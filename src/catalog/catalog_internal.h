/* Private pieces shared by the catalog's files: the handle, a table's row, and helpers
 * that run inside the caller's transaction. */
#ifndef TARN_CATALOG_INTERNAL_H
#define TARN_CATALOG_INTERNAL_H

#include "catalog/catalog.h"

struct catalog {
    db_t *db;
};

typedef struct {
    int64_t id;
    char zone[16], db[129], name[129];
    char format[16];
    json_t *options;        /* owned */
    json_t *partition_keys; /* owned: [{name,type}] */
    int64_t schema_version, snapshot, next_column_id, files;
    bool declared;
} cat_table_t;

void cat_table_release(cat_table_t *t);
/* Loads the table by name; TARN_ENOTFOUND (reason NoSuchTable) with a message naming it. */
int cat_table_load(catalog_t *c, const char *zone, const char *db, const char *name,
                   cat_table_t *t, tarn_err_t *err);
/* The schema of version v of table id (empty for version 0). */
int cat_schema_load(catalog_t *c, int64_t table_id, int64_t v, schema_t *s, tarn_err_t *err);
/* Records version current+1 of table t with schema s (ids assigned here) and changes. */
int cat_version_add(catalog_t *c, cat_table_t *t, schema_t *s, json_t *changes, tarn_err_t *err);
/* Inserts a table row and fills t. */
int cat_table_insert(catalog_t *c, const char *zone, const char *db, const char *name,
                     const char *format, const json_t *options, const json_t *partition_keys,
                     bool declared, const char *owner, cat_table_t *t, tarn_err_t *err);
/* The columns of version v of table id with their business metadata:
 * [{"id", "name", "type", "nullable", "description", "sensitivity", "tags"}]. */
int cat_columns_json(catalog_t *c, int64_t table_id, int64_t version, json_t **out,
                     tarn_err_t *err);
/* Rewrites the table's search entry from its current metadata and schema. */
int cat_search_refresh(catalog_t *c, int64_t table_id, tarn_err_t *err);
/* The columns (of cat_tables t) a table summary is made of, in cat_summary_row's order. */
#define CAT_SUMMARY_COLS                                                                     \
    "t.id, t.zone, t.db, t.name, t.location, t.format, t.files, t.rows, t.bytes,"          \
    " t.schema_version, t.status, t.owner, t.description, t.tags, t.updated_ms,"            \
    " t.error_files"
/* A table summary from a row whose first 16 columns are CAT_SUMMARY_COLS. */
json_t *cat_summary_row(sqlite3_stmt *st);
/* Applies a table patch's "promotion" object to the policy of db.name (zone raw or
 * cleaned), inside the caller's transaction. */
int cat_promotion_apply(catalog_t *c, const char *zone, const char *db, const char *name,
                        const json_t *patch, tarn_err_t *err);
/* Text of a JSON value (caller frees), "null" for NULL. */
char *cat_json_text(const json_t *j);

#endif
