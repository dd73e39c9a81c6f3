/* The catalog: databases and tables of the lake (zone.database.table), their versioned
 * schemas, partitions, files and snapshots, and business metadata, kept in the lake's
 * SQLite database. Reads return the JSON shapes the REST API serves (docs/catalog.md);
 * every write is one transaction. Listing and search show only what the principal may
 * DESCRIBE (authz_check, action catalog:Describe on "table/zone.db.table"). */
#ifndef TARN_CATALOG_CATALOG_H
#define TARN_CATALOG_CATALOG_H

#include "catalog/classify.h"
#include "catalog/hive.h"
#include "catalog/schema.h"
#include "govern/authz.h"
#include "util/db.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct catalog catalog_t;

/* Creates or upgrades the catalog tables in db (borrowed until catalog_close). */
int catalog_open(catalog_t **out, db_t *db, tarn_err_t *err);
void catalog_close(catalog_t *c);
db_t *catalog_db(catalog_t *c);

/* Whether zone holds tables (raw, cleaned, curated). */
bool catalog_zone_valid(const char *zone);

/* A table's name in its three parts. */
typedef struct {
    char zone[16], db[130], table[130];
} catalog_name_t;
/* Splits "zone.db.table"; false when text is not three dot-separated parts that fit. */
bool catalog_name_parse(catalog_name_t *out, const char *text);

/* ---- reading (caller frees the JSON) ---- */
int catalog_databases_list(catalog_t *c, const authz_principal_t *p, const char *zone,
                           json_t **out, tarn_err_t *err);
/* Summaries of the tables in zone and db (either may be NULL for all). */
int catalog_tables_list(catalog_t *c, const authz_principal_t *p, const char *zone,
                        const char *db, json_t **out, tarn_err_t *err);
/* One column of a table, as catalog_columns_each gives it (strings valid during the call;
 * descriptions may be NULL). */
typedef struct {
    int64_t table_id, database_id; /* stable, never reused */
    const char *zone, *database, *table, *table_description, *database_description;
    int64_t rows; /* -1 when unknown */
    int64_t bytes;
    const char *name, *type; /* NULL for a table without columns */
    const char *description;
    int position;       /* from 1: the schema's columns, then the partition keys */
    bool partition_key;
} catalog_column_t;
/* Calls fn for each column of every table the principal may describe, in one read (for
 * SQL clients' catalogs): table by table in name order (a table's columns in no set
 * order), a table without columns once with name NULL. Stops at fn's first nonzero
 * return, which it returns. */
int catalog_columns_each(catalog_t *c, const authz_principal_t *p,
                         int (*fn)(void *ctx, const catalog_column_t *col), void *ctx,
                         tarn_err_t *err);
/* A number that changes with every change to the catalog's tables, columns' metadata and
 * databases, so a reader keeping a copy of catalog_columns_each knows when to read again. */
int catalog_generation(catalog_t *c, int64_t *out, tarn_err_t *err);
/* The table with its columns and their metadata; TARN_ENOTFOUND (reason NoSuchTable). */
int catalog_table_get(catalog_t *c, const char *zone, const char *db, const char *name,
                      json_t **out, tarn_err_t *err);
/* The table's id, which never changes while the table exists (PostgreSQL clients see
 * it in pg_class's oid); TARN_ENOTFOUND (reason NoSuchTable). */
int catalog_table_id(catalog_t *c, const char *zone, const char *db, const char *name,
                     int64_t *id, tarn_err_t *err);
int catalog_table_versions(catalog_t *c, const char *zone, const char *db, const char *name,
                           json_t **out, tarn_err_t *err);
int catalog_table_partitions(catalog_t *c, const char *zone, const char *db, const char *name,
                             json_t **out, tarn_err_t *err);
/* Files in key order after `after` (NULL from the start), at most limit; "next" names the
 * key to continue after when more follow. The live files and those that could not be
 * registered; files a managed table's snapshots dropped are left out (see
 * catalog_snapshot_files for an earlier snapshot's). */
int catalog_table_files(catalog_t *c, const char *zone, const char *db, const char *name,
                        const char *after, size_t limit, json_t **out, tarn_err_t *err);
int catalog_table_snapshots(catalog_t *c, const char *zone, const char *db, const char *name,
                            json_t **out, tarn_err_t *err);
/* The live files of snapshot (0: the current one) as {"snapshot":N, "files":[{key,size,
 * rows, options, columns, types}...]}; options are the file's own (compression, encoding,
 * layout, and for delimited text the dialect and date formats the sniffer found),
 * columns the names its schema has and types their types. */
int catalog_snapshot_files(catalog_t *c, const char *zone, const char *db, const char *name,
                           int64_t snapshot, json_t **out, tarn_err_t *err);

/* ---- explicit tables and business metadata ---- */
/* Creates a table with a declared schema; the crawler then registers its files and flags
 * those that do not match. spec: {"format": "csv"|"tsv"|"jsonl"|"json"|"parquet",
 * "schema": "id BIGINT, ...", "options": {...}, "partition_keys": "dt DATE, ...",
 * "description", "owner", "steward", "tags": [...]}. */
int catalog_table_create(catalog_t *c, const char *zone, const char *db, const char *name,
                         const json_t *spec, const char *creator, json_t **out, tarn_err_t *err);
/* Applies {"description", "owner", "steward", "tags": [...], "add_tags", "remove_tags",
 * "columns": {"col": {"description", "sensitivity", "tags", ...}}}. */
int catalog_table_update(catalog_t *c, const char *zone, const char *db, const char *name,
                         const json_t *patch, json_t **out, tarn_err_t *err);

/* ---- snapshots that tarn writes (pipelines, compaction, rollback) ----
 * A table written by a pipeline is "managed": its files are exactly what its snapshots
 * say. The crawler leaves managed tables alone (a crawl neither registers nor forgets
 * their files), and files dropped from the current snapshot stay on disk so that earlier
 * snapshots can be read and restored. */
typedef struct {
    const char *key; /* the object key in the table's zone: db/table/[k=v/...]file */
    uint64_t size;
    int64_t rows;    /* -1 when unknown */
} catalog_snap_file_t;

typedef struct {
    const char *zone, *db, *name;
    /* The columns of the added files, "name TYPE, ..." in DuckDB's types (as DESCRIBE
     * gives them; a name that is not an identifier in double quotes), without the
     * partition keys; a table whose schema differs gets a new schema version. The
     * table's schema is always the last commit's columns. */
    const char *columns;
    /* The hive partition keys, "name TYPE, ..." ("" or NULL: none). */
    const char *partition_keys;
    /* The snapshot the change was computed from: when the table's current snapshot is
     * another one the commit fails with TARN_ECONFLICT (reason SnapshotConflict); -1
     * skips the check. A missing table counts as snapshot 0. */
    int64_t base_snapshot;
    const catalog_snap_file_t *adds;
    size_t nadds;
    const char *const *removes; /* keys live in the base snapshot */
    size_t nremoves;
    const char *operation; /* "append", "overwrite", "overwrite_partitions", "merge",
                            * "replay", "compact" */
    const json_t *summary; /* stored with the snapshot (lineage: pipeline, version, run,
                            * inputs with their snapshots and files); may be NULL */
    const char *managed_by; /* recorded on the table, e.g. "pipeline:daily_sales" */
    const char *owner;      /* owner of a table created by this commit */
} catalog_commit_t;

/* Commits one new snapshot of a managed table: registers the added files (status ok,
 * Parquet, with their partitions), drops the removed ones from the snapshot (their
 * files stay), evolves the schema, recounts partitions and the table's totals, and
 * creates the table (and its database) when it does not exist. Runs inside the caller's
 * transaction, so a caller commits its own records (run status, bookmarks) together with
 * the snapshot: the caller runs BEGIN IMMEDIATE ... COMMIT with db_exec(catalog_db(c), ...)
 * on the calling thread (TARN_EINVAL outside a transaction), and rolls back on an error
 * (some of the commit's statements may have run). *snapshot gets the new snapshot's
 * number; a commit with no adds and no removes records nothing and gives the current one
 * (0 for a table it created, with its schema and no files).
 * columns and partition_keys are read only when files are added or the table created.
 * Errors: TARN_ECONFLICT NotManaged when the table exists and is not managed (the crawler
 * owns it); TARN_ECONFLICT SnapshotConflict on a base_snapshot mismatch or a removed key
 * not live now; TARN_EINVAL InvalidArgument for a key outside db/name/, partition folders
 * that do not follow partition_keys, a key given twice, an added key already live (a
 * replacement also removes it), new partition keys while older files stay live, or
 * managed_by missing when the table is created. */
int catalog_snapshot_commit(catalog_t *c, const catalog_commit_t *cm, int64_t *snapshot,
                            tarn_err_t *err);
/* In its own transaction: a new snapshot of managed table zone.db.name whose files are
 * those of snapshot `to` (operation "rollback", summary {"rollback_to": to}); the schema
 * and partition keys `to` was written with come back too (the schema as a new version with
 * that version's columns and ids). *snapshot gets its number. TARN_ENOTFOUND NoSuchTable,
 * NoSuchSnapshot (to outside 1..current); TARN_ECONFLICT NotManaged. */
int catalog_table_rollback(catalog_t *c, const char *zone, const char *db, const char *name,
                           int64_t to, int64_t *snapshot, tarn_err_t *err);
/* The table's current snapshot number and, when managed, who manages it (copied into
 * managed_by, "" when not managed). TARN_ENOTFOUND (NoSuchTable). */
int catalog_table_state(catalog_t *c, const char *zone, const char *db, const char *name,
                        int64_t *snapshot, char *managed_by, size_t cap, tarn_err_t *err);

/* What a reader of lake tables (a pipeline's SQL step) sees besides the tables' current
 * snapshots: extra relations standing for Parquet files (earlier steps' outputs), a
 * filter over each table's files (a pipeline's bookmarks), and a report of what was read
 * (its lineage). Borrowed by the reader while it uses it. */
typedef struct {
    const char *const *rel_names; /* bare names a query may use as tables */
    const char *const *rel_paths; /* absolute path of the one Parquet file each stands for */
    size_t nrels;
    /* Whether the live file key of table ("zone.db.table") is read; NULL reads all. */
    bool (*include)(void *ctx, const char *table, const char *key);
    /* Called once per table a query reads, with its snapshot and the files read
     * ({"files": [{"key", "size", "rows"}]}, borrowed during the call). */
    void (*on_read)(void *ctx, const char *table, int64_t snapshot, const json_t *files);
    void *ctx;
} catalog_scope_t;

/* ---- promotion policies (raw -> cleaned), one per database.table ---- */
/* {"mode": "additive"|"strict"|"any", "required_columns": [...], "not_null_keys": [...],
 * "raw_retention_s": N or null (the server's default), "quarantined": N}; the defaults
 * when none was set. PATCH of a raw or cleaned table changes it ("promotion": {...}). */
int catalog_promotion_get(catalog_t *c, const char *db, const char *name, json_t **out,
                          tarn_err_t *err);
/* Records how many objects of db.name sit in quarantine. Runs inside the caller's
 * transaction (the promoter's, together with the quarantine change itself). */
int catalog_promotion_quarantined_set(catalog_t *c, const char *db, const char *name,
                                      int64_t n, tarn_err_t *err);

/* ---- search ---- */
typedef struct {
    const char *zone, *db, *tag, *owner, *sensitivity; /* NULL: any */
    size_t limit;                                       /* 0: 20 */
} catalog_search_opts_t;
/* Full-text search ranked by bm25: {"results": [summary + "score"], "query": q}. */
int catalog_search(catalog_t *c, const authz_principal_t *p, const char *q,
                   const catalog_search_opts_t *o, json_t **out, tarn_err_t *err);

/* ---- for /metrics ---- */
/* Calls line(ctx, name, labels, value) for each gauge: tarn_catalog_tables{zone},
 * tarn_catalog_files{zone,status}, and tarn_crawler_lag_events (events not yet crawled). */
int catalog_metrics(catalog_t *c, void (*line)(void *ctx, const char *name, const char *labels,
                                               long long value),
                    void *ctx, tarn_err_t *err);

/* ---- what the crawler writes ---- */
enum { CATALOG_FILE_OK, CATALOG_FILE_ERROR, CATALOG_FILE_UNMAPPED, CATALOG_FILE_IGNORED };

typedef struct {
    const char *zone, *key;
    uint64_t size;
    const char *etag, *sha256;     /* hex */
    int status;                    /* CATALOG_FILE_*: what the crawler found */
    const char *reason;            /* when not OK */
    const hive_key_t *hk;          /* when the key names a table */
    const classify_result_t *cls;  /* when OK */
} catalog_file_in_t;

typedef struct {
    const char *zone, *key;
} catalog_file_ref_t;

typedef struct {
    size_t registered, failed, removed, tables_changed, versions_created;
} catalog_apply_stats_t;

/* In one transaction: registers files (replacing earlier registrations of the same
 * keys), forgets removed ones, evolves schemas, recounts partitions and tables, commits
 * one snapshot per changed table, and when cursor is not NULL records cursor_pos under
 * that name (so a crash never applies an event twice or skips one). Files and removals
 * whose keys lie in a managed table are skipped and not counted. */
int catalog_files_apply(catalog_t *c, const catalog_file_in_t *files, size_t n,
                        const catalog_file_ref_t *removed, size_t nremoved, const char *cursor,
                        int64_t cursor_pos, catalog_apply_stats_t *st, tarn_err_t *err);
/* Records pos as the position of cursor, inside the caller's transaction (so a consumer
 * of the event queue commits its work and its position together). */
int catalog_cursor_set(catalog_t *c, const char *cursor, int64_t pos, tarn_err_t *err);
/* The recorded position of cursor (0 when none). */
int catalog_cursor_get(catalog_t *c, const char *cursor, int64_t *pos, tarn_err_t *err);
/* Whether (zone, key) is registered with this size and ETag, or lies in a managed table
 * (so a crawl may skip it). */
bool catalog_file_unchanged(catalog_t *c, const char *zone, const char *key, uint64_t size,
                            const char *etag);
/* Calls cb for each registered key of zone starting with prefix, in key order. */
int catalog_files_each(catalog_t *c, const char *zone, const char *prefix,
                       int (*cb)(void *ctx, const char *key), void *ctx, tarn_err_t *err);

#endif
