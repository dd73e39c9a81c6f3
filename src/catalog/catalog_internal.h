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
    char managed_by[160]; /* "" when the crawler owns the table */
} cat_table_t;

void cat_table_release(cat_table_t *t);
/* Loads the table by name; TARN_ENOTFOUND (reason NoSuchTable) with a message naming it. */
int cat_table_load(catalog_t *c, const char *zone, const char *db, const char *name,
                   cat_table_t *t, tarn_err_t *err);
/* The schema of version v of table id (empty for version 0). */
int cat_schema_load(catalog_t *c, int64_t table_id, int64_t v, schema_t *s, tarn_err_t *err);
/* Records version current+1 of table t with schema s and changes. Columns without an id
 * get the current version's id of the same name, or a new one; a column whose id is set
 * keeps it (a rollback restoring an earlier version's columns). */
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
    " t.error_files, t.managed_by"
/* A table summary from a row whose first 17 columns are CAT_SUMMARY_COLS. */
json_t *cat_summary_row(sqlite3_stmt *st);
/* Applies a table patch's "promotion" object to the policy of db.name (zone raw or
 * cleaned), inside the caller's transaction. */
int cat_promotion_apply(catalog_t *c, const char *zone, const char *db, const char *name,
                        const json_t *patch, tarn_err_t *err);
/* Text of a JSON value (caller frees), "null" for NULL. */
char *cat_json_text(const json_t *j);

/* Steps a statement that returns no rows and gives it back; what names it in an error. */
int cat_step_done(catalog_t *c, sqlite3_stmt *st, const char *what, tarn_err_t *err);

/* ---- changing a table's file list (the crawler's batches and managed commits) ----
 * All of these run inside the caller's transaction. */

/* Notes in parts (spec -> {"values", "location"}) a partition that a change touched, for
 * cat_partitions_recount. values NULL: the partition lost a file (recounted, and dropped
 * when no file is left); an object of its values: it holds a live file (created when
 * missing). A note with values wins over one without; spec "" (no partitions) is skipped. */
void cat_part_note(json_t *parts, const char *spec, json_t *values, const char *location);
/* {"name": "value" or null, ...} of a key's partition folders (caller decrefs). */
json_t *cat_part_values(const hive_key_t *hk);
/* Recounts the files and bytes of each partition noted in parts from the table's live
 * (status 'ok') files. */
int cat_partitions_recount(catalog_t *c, int64_t table_id, const json_t *parts,
                           tarn_err_t *err);

/* A table's totals over its live files; rows is -1 unless every live file's count is
 * known; bad counts the files that could not be registered (error, mismatch). */
typedef struct {
    int64_t files, bytes, rows, bad;
} cat_totals_t;
int cat_table_totals(catalog_t *c, int64_t table_id, cat_totals_t *out, tarn_err_t *err);

/* Records in cat_snapshot_files that snapshot snap of the table drops the live entries of
 * removes and adds adds. */
int cat_snapshot_files_mark(catalog_t *c, int64_t table_id, int64_t snap,
                            const catalog_snap_file_t *adds, size_t nadds,
                            const char *const *removes, size_t nremoves, tarn_err_t *err);

/* One row of cat_snapshots. The schema version and partition keys the snapshot was
 * written with are kept so that a rollback can restore them. */
typedef struct {
    int64_t table_id, id;
    const char *operation;
    const char *summary; /* JSON text; NULL: {} */
    int64_t added, removed, files, bytes;
    int64_t schema_version;
    const char *partition_keys; /* JSON text */
} cat_snapshot_t;
int cat_snapshot_insert(catalog_t *c, const cat_snapshot_t *s, tarn_err_t *err);

#endif
