/* Snapshots that tarn writes itself: a pipeline's commit of the Parquet files it wrote, a
 * rollback to an earlier file list, and a managed table's state; see catalog.h. The
 * pieces shared with the crawler (snapshot rows, partition and table recounts) are in
 * catalog_files.c. A file a snapshot drops keeps its cat_files row with status 'removed'
 * (the file stays on disk), so earlier snapshots can still be read and restored. */
#include "catalog/catalog_internal.h"
#include "util/arena.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void set_reason(tarn_err_t *err, tarn_reason_t reason)
{
    if (err)
        err->reason = reason;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted copy of n keys (caller frees), or NULL with *dup naming a key given twice. */
static const char **sorted_keys(const char *const *keys, size_t n, const char **dup)
{
    const char **v = malloc((n ? n : 1) * sizeof *v);
    *dup = NULL;
    if (!v)
        return NULL;
    if (n) {
        memcpy(v, keys, n * sizeof *v);
        qsort(v, n, sizeof *v, cmp_str);
    }
    for (size_t i = 1; i < n; i++)
        if (!strcmp(v[i - 1], v[i])) {
            *dup = v[i];
            free(v);
            return NULL;
        }
    return v;
}

static bool text_empty(const char *s)
{
    return !s || !s[strspn(s, " \t\r\n")];
}

/* "name TYPE, ..." as the crawler keeps partition keys: [{"name", "type"}]. */
static int partition_keys_json(const char *text, json_t **out, tarn_err_t *err)
{
    json_t *a = json_array();
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = a;
    if (text_empty(text))
        return 0;
    schema_t s;
    int rc = schema_parse_engine(&s, text, err);
    if (rc) {
        set_reason(err, TARN_R_InvalidArgument);
        return rc;
    }
    for (size_t i = 0; i < s.n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "name", s.cols[i].name, "type", s.cols[i].type));
    schema_free(&s);
    return 0;
}

/* Whether two [{name,type}] lists name the same keys in the same order. */
static bool same_key_names(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return false;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (strcasecmp(json_string_value(json_object_get(json_array_get(a, i), "name")),
                       json_string_value(json_object_get(json_array_get(b, i), "name"))))
            return false;
    return true;
}

/* "a, b" of a [{name,type}] list, for messages. */
static void key_names(char *out, size_t cap, const json_t *keys)
{
    *out = '\0';
    for (size_t i = 0; i < json_array_size(keys); i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? ", " : "",
                 json_string_value(json_object_get(json_array_get(keys, i), "name")));
    if (!*out)
        snprintf(out, cap, "none");
}

static int not_managed(const cat_table_t *t, tarn_err_t *err)
{
    return TARN_ERR_R(err, TARN_ECONFLICT, NotManaged,
                      "table %s.%s.%s is not managed: the crawler owns it (its files are what "
                      "it finds under s3://%s/%s/%s/)",
                      t->zone, t->db, t->name, t->zone, t->db, t->name);
}

/* Whether key is live in the table's current snapshot. */
static int key_live(catalog_t *c, int64_t table_id, const char *key, bool *live, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT 1 FROM cat_snapshot_files WHERE table_id = ?1 AND key = ?2"
                        " AND removed IS NULL",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, table_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    *live = step == SQLITE_ROW;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(c->db, step, err, "look up snapshot file");
    db_done(c->db, st);
    return rc;
}

/* Writes the recounted totals, snapshot, partition keys and manager into the table row.
 * Only commits register a managed table's files, always as status ok, so it never has
 * error files. */
static int table_finish(catalog_t *c, const cat_table_t *t, const char *pk, const char *managed_by,
                        const cat_totals_t *tot, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "UPDATE cat_tables SET partition_keys = ?2, managed_by = coalesce(?3,"
                        " managed_by), files = ?4, bytes = ?5, rows = ?6, error_files = 0,"
                        " status = 'ok', status_reason = NULL, snapshot = ?7, updated_ms = ?8"
                        " WHERE id = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, t->id);
    sqlite3_bind_text(st, 2, pk, -1, SQLITE_STATIC);
    if (!text_empty(managed_by))
        sqlite3_bind_text(st, 3, managed_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, tot->files);
    sqlite3_bind_int64(st, 5, tot->bytes);
    if (tot->rows >= 0)
        sqlite3_bind_int64(st, 6, tot->rows);
    sqlite3_bind_int64(st, 7, t->snapshot);
    sqlite3_bind_int64(st, 8, time_now_ms());
    return cat_step_done(c, st, "update table", err);
}

/* ---- commit ---- */

/* What a commit works with once its arguments are checked. */
typedef struct {
    const catalog_commit_t *cm;
    cat_table_t t;
    bool exists;
    schema_t cols;   /* the added files' columns (when there are adds or a new table) */
    json_t *pks;     /* their partition keys, [{name,type}] */
    const char **rm; /* removes, sorted */
    hive_key_t *hks; /* the adds' keys, parsed */
    arena_t *a;
} commit_t;

static void commit_free(commit_t *x)
{
    cat_table_release(&x->t);
    schema_free(&x->cols);
    json_decref(x->pks);
    free(x->rm);
    arena_free(x->a);
}

static int commit_check_args(catalog_t *c, const catalog_commit_t *cm, tarn_err_t *err)
{
    sqlite3 *h = db_h(c->db);
    if (!h)
        return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
    /* Each statement would commit on its own: half a snapshot after a crash. */
    if (sqlite3_get_autocommit(h))
        return TARN_ERR(err, TARN_EINVAL,
                        "catalog_snapshot_commit runs inside the caller's transaction");
    if (!catalog_zone_valid(cm->zone))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "tables live in the zones raw, cleaned and curated (got '%s')",
                          cm->zone ? cm->zone : "nothing");
    if (!cm->db || !cm->name || !hive_valid_name(cm->db) || !hive_valid_name(cm->name))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "database and table names are letters, digits, _ and -, starting "
                          "with a letter (got %s.%s)",
                          cm->db ? cm->db : "?", cm->name ? cm->name : "?");
    if (text_empty(cm->operation) || strlen(cm->operation) > 64)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a snapshot needs an operation (append, overwrite, ...)");
    if (cm->managed_by && strlen(cm->managed_by) >= sizeof((cat_table_t *)0)->managed_by)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "managed_by is too long: %.40s...",
                          cm->managed_by);
    if ((cm->nadds && !cm->adds) || (cm->nremoves && !cm->removes))
        return TARN_ERR(err, TARN_EINVAL, "commit: files counted but not given");
    for (size_t i = 0; i < cm->nadds; i++)
        if (!cm->adds[i].key)
            return TARN_ERR(err, TARN_EINVAL, "commit: added file %zu has no key", i);
    for (size_t i = 0; i < cm->nremoves; i++)
        if (!cm->removes[i])
            return TARN_ERR(err, TARN_EINVAL, "commit: removed file %zu has no key", i);
    return 0;
}

/* The schema and partition keys of the added files. */
static int commit_check_schema(commit_t *x, tarn_err_t *err)
{
    const catalog_commit_t *cm = x->cm;
    if (text_empty(cm->columns))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a commit that adds files (or creates %s.%s.%s) needs their columns: "
                          "\"id BIGINT, name VARCHAR\"",
                          cm->zone, cm->db, cm->name);
    int rc = schema_parse_engine(&x->cols, cm->columns, err);
    if (rc) {
        set_reason(err, TARN_R_InvalidArgument);
        return rc;
    }
    if ((rc = partition_keys_json(cm->partition_keys, &x->pks, err)))
        return rc;
    /* A partition key is a column of the table already, read from the folder names. */
    for (size_t i = 0; i < json_array_size(x->pks); i++) {
        const char *k = json_string_value(json_object_get(json_array_get(x->pks, i), "name"));
        if (schema_find(&x->cols, k) >= 0)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "%s is a partition key and a column of the files; partitioned "
                              "files leave the key out (it is in the folder name)",
                              k);
    }
    if (!x->exists || same_key_names(x->pks, x->t.partition_keys))
        return 0;
    /* Readers take the partition keys from the folder names of every file at once. */
    if (x->t.files > (int64_t)cm->nremoves) {
        char want[300], got[300];
        key_names(want, sizeof want, x->t.partition_keys);
        key_names(got, sizeof got, x->pks);
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "table %s.%s.%s is partitioned by (%s), the commit by (%s): new "
                          "partition keys need an overwrite of every file",
                          cm->zone, cm->db, cm->name, want, got);
    }
    return 0;
}

static int commit_check_files(catalog_t *c, commit_t *x, tarn_err_t *err)
{
    const catalog_commit_t *cm = x->cm;
    const char *dup = NULL;
    int rc = 0;
    x->rm = sorted_keys(cm->removes, cm->nremoves, &dup);
    if (!x->rm)
        return dup ? TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "commit removes %s twice", dup)
                   : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < cm->nremoves; i++) {
        bool live = false;
        if (x->exists && (rc = key_live(c, x->t.id, x->rm[i], &live, err)))
            return rc;
        /* Someone else's commit took it out since this one's base snapshot. */
        if (!live)
            return TARN_ERR_R(err, TARN_ECONFLICT, SnapshotConflict,
                              "file %s is not in the current snapshot (%lld) of %s.%s.%s", x->rm[i],
                              (long long)x->t.snapshot, cm->zone, cm->db, cm->name);
    }
    const char **adds = malloc((cm->nadds ? cm->nadds : 1) * sizeof *adds);
    if (!adds)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < cm->nadds; i++)
        adds[i] = cm->adds[i].key;
    const char **sorted = sorted_keys(adds, cm->nadds, &dup);
    bool ok = sorted != NULL;
    free(sorted);
    if (!ok) {
        /* dup points into the caller's keys, not into adds. */
        rc = dup ? TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "commit adds %s twice", dup)
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        free(adds);
        return rc;
    }
    free(adds);
    x->hks = arena_alloc(x->a, (cm->nadds ? cm->nadds : 1) * sizeof *x->hks);
    if (!x->hks)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < cm->nadds; i++) {
        const char *key = cm->adds[i].key;
        hive_key_t *hk = &x->hks[i];
        tarn_err_t e = {0};
        if (hive_parse_key(hk, key, x->a, &e))
            return TARN_ERR_R(err, e.code == TARN_ENOMEM ? TARN_ENOMEM : TARN_EINVAL,
                              InvalidArgument, "added file %s: %s", key, e.msg);
        if (strcmp(hk->db, cm->db) || strcmp(hk->table, cm->name) || hk->hidden)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "added file %s is not a file of %s.%s.%s (keys are %s/%s/"
                              "[k=v/...]file, with no hidden _ or . names)",
                              key, cm->zone, cm->db, cm->name, cm->db, cm->name);
        bool same = hk->nparts == json_array_size(x->pks);
        for (size_t k = 0; same && k < hk->nparts; k++)
            same =
                !strcasecmp(hk->names[k],
                            json_string_value(json_object_get(json_array_get(x->pks, k), "name")));
        if (!same) {
            char want[300];
            key_names(want, sizeof want, x->pks);
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "added file %s: its partition folders do not follow the "
                              "partition keys (%s)",
                              key, want);
        }
        bool live = false;
        if (x->exists && (rc = key_live(c, x->t.id, key, &live, err)))
            return rc;
        if (live && !bsearch(&key, x->rm, cm->nremoves, sizeof *x->rm, cmp_str))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "file %s is in %s.%s.%s already; a commit replacing it removes "
                              "it too",
                              key, cm->zone, cm->db, cm->name);
    }
    return 0;
}

/* New schema version when the added files' columns differ from the table's; then the
 * columns as the files' rows keep them (with the table's column ids). */
static int commit_schema(catalog_t *c, commit_t *x, bool *changed, char **cols_text,
                         tarn_err_t *err)
{
    schema_t cur;
    int rc = cat_schema_load(c, x->t.id, x->t.schema_version, &cur, err);
    if (rc)
        return rc;
    json_t *diff = schema_diff(&cur, &x->cols);
    if (diff) {
        rc = cat_version_add(c, &x->t, &x->cols, diff, err);
        *changed = true;
    } else {
        for (size_t i = 0; i < x->cols.n; i++) {
            long k = schema_find(&cur, x->cols.cols[i].name);
            x->cols.cols[i].id = k >= 0 ? cur.cols[k].id : 0;
        }
    }
    json_decref(diff);
    schema_free(&cur);
    json_t *j = rc ? NULL : schema_to_json(&x->cols);
    if (!rc && !(*cols_text = j ? cat_json_text(j) : NULL))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    json_decref(j);
    return rc;
}

/* The cat_files side of a commit: removed files stay as status 'removed' (earlier
 * snapshots read their options and columns there), added ones are registered. */
static int commit_files(catalog_t *c, commit_t *x, const char *cols_text, json_t *parts,
                        tarn_err_t *err)
{
    const catalog_commit_t *cm = x->cm;
    sqlite3_stmt *st;
    int rc = 0;
    int64_t now = time_now_ms();
    for (size_t i = 0; !rc && i < cm->nremoves; i++) {
        hive_key_t hk;
        tarn_err_t e = {0};
        if (!hive_parse_key(&hk, cm->removes[i], x->a, &e))
            cat_part_note(parts, hk.spec, NULL, hk.part_location);
        if ((rc = db_prepare(c->db, &st,
                             "UPDATE cat_files SET status = 'removed' WHERE zone = ?1 AND"
                             " key = ?2 AND table_id = ?3",
                             err)))
            break;
        sqlite3_bind_text(st, 1, cm->zone, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, cm->removes[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, x->t.id);
        rc = cat_step_done(c, st, "drop file from snapshot", err);
    }
    for (size_t i = 0; !rc && i < cm->nadds; i++) {
        const catalog_snap_file_t *f = &cm->adds[i];
        const hive_key_t *hk = &x->hks[i];
        json_t *vals = cat_part_values(hk);
        if (!vals) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        cat_part_note(parts, hk->spec, vals, hk->part_location);
        json_decref(vals);
        if ((rc = db_prepare(c->db, &st,
                             "INSERT OR REPLACE INTO cat_files(zone, key, table_id, partition,"
                             " size, format, options, columns, rows, schema_version, status,"
                             " crawled_ms) VALUES(?1, ?2, ?3, ?4, ?5, 'parquet', '{}', ?6, ?7,"
                             " ?8, 'ok', ?9)",
                             err)))
            break;
        sqlite3_bind_text(st, 1, cm->zone, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, f->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, x->t.id);
        sqlite3_bind_text(st, 4, hk->spec, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)f->size);
        sqlite3_bind_text(st, 6, cols_text, -1, SQLITE_STATIC);
        if (f->rows >= 0)
            sqlite3_bind_int64(st, 7, f->rows);
        sqlite3_bind_int64(st, 8, x->t.schema_version);
        sqlite3_bind_int64(st, 9, now);
        rc = cat_step_done(c, st, "register file", err);
    }
    return rc;
}

int catalog_snapshot_commit(catalog_t *c, const catalog_commit_t *cm, int64_t *snapshot,
                            tarn_err_t *err)
{
    commit_t x = {.cm = cm, .a = arena_create()};
    json_t *parts = json_object();
    char *cols_text = NULL, *pk_text = NULL, *summary = NULL;
    bool schema_changed = false, created = false;
    int rc = commit_check_args(c, cm, err);
    if (rc)
        goto done;
    if (!x.a || !parts) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    rc = cat_table_load(c, cm->zone, cm->db, cm->name, &x.t, err);
    x.exists = !rc;
    if (rc && rc != TARN_ENOTFOUND)
        goto done;
    rc = 0;
    if (x.exists && !*x.t.managed_by) {
        rc = not_managed(&x.t, err);
        goto done;
    }
    int64_t current = x.exists ? x.t.snapshot : 0;
    if (cm->base_snapshot >= 0 && cm->base_snapshot != current) {
        rc = TARN_ERR_R(err, TARN_ECONFLICT, SnapshotConflict,
                        "%s.%s.%s is at snapshot %lld, the commit was computed from %lld", cm->zone,
                        cm->db, cm->name, (long long)current, (long long)cm->base_snapshot);
        goto done;
    }
    if (!x.exists && text_empty(cm->managed_by)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                        "a managed table needs managed_by (e.g. \"pipeline:NAME\")");
        goto done;
    }
    /* Columns and partition keys describe the added files; a commit that only removes
     * files leaves the table's as they are. */
    bool with_schema = cm->nadds || !x.exists;
    if ((with_schema && (rc = commit_check_schema(&x, err))) ||
        (rc = commit_check_files(c, &x, err)))
        goto done;
    if (x.exists && !cm->nadds && !cm->nremoves) {
        *snapshot = current;
        goto done;
    }
    if (!x.exists) {
        json_t *opts = json_object();
        cat_table_release(&x.t);
        rc = opts ? cat_table_insert(c, cm->zone, cm->db, cm->name, "parquet", opts, x.pks, true,
                                     text_empty(cm->owner) ? NULL : cm->owner, &x.t, err)
                  : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        json_decref(opts);
        if (rc)
            goto done;
        created = true;
    }
    pk_text = cat_json_text(with_schema ? x.pks : x.t.partition_keys);
    summary = cm->summary ? cat_json_text(cm->summary) : strdup("{}");
    if (!pk_text || !summary) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if (with_schema && (rc = commit_schema(c, &x, &schema_changed, &cols_text, err)))
        goto done;
    if (!cm->nadds && !cm->nremoves) {
        /* A new table with nothing in it yet: its schema, and snapshot 0. */
        cat_totals_t none = {.rows = -1};
        if (!(rc = table_finish(c, &x.t, pk_text, cm->managed_by, &none, err)) &&
            !(rc = cat_search_refresh(c, x.t.id, err)))
            *snapshot = 0;
        goto done;
    }
    cat_snapshot_t snap = {.table_id = x.t.id,
                           .id = x.t.snapshot + 1,
                           .operation = cm->operation,
                           .summary = summary,
                           .added = (int64_t)cm->nadds,
                           .removed = (int64_t)cm->nremoves,
                           .partition_keys = pk_text};
    cat_totals_t tot;
    if ((rc = cat_snapshot_files_mark(c, x.t.id, snap.id, cm->adds, cm->nadds, cm->removes,
                                      cm->nremoves, err)) ||
        (rc = commit_files(c, &x, cols_text, parts, err)) ||
        (rc = cat_partitions_recount(c, x.t.id, parts, err)) ||
        (rc = cat_table_totals(c, x.t.id, &tot, err)))
        goto done;
    snap.files = tot.files;
    snap.bytes = tot.bytes;
    snap.schema_version = x.t.schema_version;
    x.t.snapshot = snap.id;
    if ((rc = cat_snapshot_insert(c, &snap, err)) ||
        (rc = table_finish(c, &x.t, pk_text, cm->managed_by, &tot, err)))
        goto done;
    bool keys_changed = x.exists && with_schema && !json_equal(x.pks, x.t.partition_keys);
    if ((created || schema_changed || keys_changed) && (rc = cat_search_refresh(c, x.t.id, err)))
        goto done;
    *snapshot = snap.id;
done:
    commit_free(&x);
    json_decref(parts);
    free(cols_text);
    free(pk_text);
    free(summary);
    return rc;
}

/* ---- rollback ---- */

/* The schema version and partition keys snapshot `to` was written with (0 and NULL when
 * it was recorded before tarn kept them). */
static int snapshot_written_with(catalog_t *c, int64_t table_id, int64_t to, int64_t *version,
                                 char **pk, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT schema_version, partition_keys FROM cat_snapshots"
                        " WHERE table_id = ?1 AND id = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, table_id);
    sqlite3_bind_int64(st, 2, to);
    *version = 0;
    *pk = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        const char *t = (const char *)sqlite3_column_text(st, 1);
        if (t && !(*pk = strdup(t)))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    db_done(c->db, st);
    return rc;
}

/* Runs sql binding ?1 table id, ?2 `to`, ?3 the new snapshot and ?4 the zone; *changes
 * gets the number of rows it changed. */
static int run_change(catalog_t *c, const char *sql, int64_t id, int64_t to, int64_t snap,
                      const char *zone, int64_t *changes, const char *what, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, snap);
    sqlite3_bind_text(st, 4, zone, -1, SQLITE_STATIC);
    if (!(rc = cat_step_done(c, st, what, err)) && changes)
        *changes = sqlite3_changes(db_h(c->db));
    return rc;
}

/* The live file list becomes that of snapshot `to`: files live now but not then are
 * dropped, files live then but not now come back (their cat_files rows were kept). */
static int rollback_files(catalog_t *c, const cat_table_t *t, int64_t to, int64_t snap,
                          int64_t *added, int64_t *removed, tarn_err_t *err)
{
#define LIVE_AT_TO                                                                                 \
    "SELECT key FROM cat_snapshot_files WHERE table_id = ?1 AND added <= ?2"                       \
    " AND (removed IS NULL OR removed > ?2)"
    int64_t back = 0;
    int rc = run_change(c,
                        "UPDATE cat_snapshot_files SET removed = ?3 WHERE table_id = ?1 AND"
                        " removed IS NULL AND key NOT IN (" LIVE_AT_TO ")",
                        t->id, to, snap, t->zone, removed, "drop files", err);
    if (!rc)
        rc = run_change(c,
                        "INSERT INTO cat_snapshot_files(table_id, key, added, size, rows)"
                        " SELECT table_id, key, ?3, size, rows FROM cat_snapshot_files s"
                        " WHERE s.table_id = ?1 AND s.added <= ?2 AND (s.removed IS NULL OR"
                        " s.removed > ?2) AND NOT EXISTS (SELECT 1 FROM cat_snapshot_files l"
                        " WHERE l.table_id = ?1 AND l.key = s.key AND l.removed IS NULL)",
                        t->id, to, snap, t->zone, added, "restore files", err);
    if (!rc)
        rc = run_change(c,
                        "UPDATE cat_files SET status = 'removed' WHERE zone = ?4 AND"
                        " table_id = ?1 AND key IN (SELECT key FROM cat_snapshot_files"
                        " WHERE table_id = ?1 AND removed = ?3)",
                        t->id, to, snap, t->zone, NULL, "drop files", err);
    if (!rc)
        rc = run_change(c,
                        "UPDATE cat_files SET status = 'ok' WHERE zone = ?4 AND table_id = ?1"
                        " AND key IN (SELECT key FROM cat_snapshot_files WHERE table_id = ?1"
                        " AND added = ?3)",
                        t->id, to, snap, t->zone, &back, "restore files", err);
    if (!rc && back != *added)
        rc = TARN_ERR(err, TARN_EIO,
                      "%lld of the %lld files of snapshot %lld of %s.%s.%s are missing from "
                      "the catalog",
                      (long long)(*added - back), (long long)*added, (long long)to, t->zone, t->db,
                      t->name);
    return rc;
#undef LIVE_AT_TO
}

/* Notes the partitions of the files snapshot snap changed. */
static int rollback_parts(catalog_t *c, int64_t table_id, int64_t snap, json_t *parts,
                          tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT key, added = ?2 FROM cat_snapshot_files WHERE table_id = ?1"
                        " AND (added = ?2 OR removed = ?2)",
                        err);
    if (rc)
        return rc;
    arena_t *a = arena_create();
    sqlite3_bind_int64(st, 1, table_id);
    sqlite3_bind_int64(st, 2, snap);
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        hive_key_t hk;
        tarn_err_t e = {0};
        if (!a || hive_parse_key(&hk, (const char *)sqlite3_column_text(st, 0), a, &e)) {
            rc = !a || e.code == TARN_ENOMEM ? TARN_ERR(err, TARN_ENOMEM, "out of memory") : 0;
            continue;
        }
        json_t *vals = sqlite3_column_int(st, 1) ? cat_part_values(&hk) : NULL;
        cat_part_note(parts, hk.spec, vals, hk.part_location);
        json_decref(vals);
    }
    db_done(c->db, st);
    arena_free(a);
    return rc;
}

/* The table's schema becomes version v's again (as a new version: versions are
 * append-only), keeping that version's column ids. */
static int rollback_schema(catalog_t *c, cat_table_t *t, int64_t v, bool *changed, tarn_err_t *err)
{
    schema_t cur, old;
    int rc = cat_schema_load(c, t->id, t->schema_version, &cur, err);
    if (rc)
        return rc;
    if ((rc = cat_schema_load(c, t->id, v, &old, err))) {
        schema_free(&cur);
        return rc;
    }
    json_t *diff = schema_diff(&cur, &old);
    if (diff && old.n) {
        rc = cat_version_add(c, t, &old, diff, err);
        *changed = true;
    }
    json_decref(diff);
    schema_free(&cur);
    schema_free(&old);
    return rc;
}

int catalog_table_rollback(catalog_t *c, const char *zone, const char *db, const char *name,
                           int64_t to, int64_t *snapshot, tarn_err_t *err)
{
    cat_table_t t = {0};
    json_t *parts = json_object(), *sum = json_pack("{s:I}", "rollback_to", (json_int_t)to);
    char *pk_then = NULL, *pk_text = NULL, *sum_text = sum ? cat_json_text(sum) : NULL;
    bool meta_changed = false;
    if (!parts || !sum_text) {
        json_decref(parts);
        json_decref(sum);
        free(sum_text);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    int rc = db_exec(c->db, "BEGIN IMMEDIATE", err);
    if (rc)
        goto out;
    int64_t version = 0;
    if ((rc = cat_table_load(c, zone, db, name, &t, err)))
        goto done;
    if (!*t.managed_by) {
        rc = not_managed(&t, err);
        goto done;
    }
    if (to < 1 || to > t.snapshot) {
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchSnapshot,
                        "table %s.%s.%s has no snapshot %lld (the latest is %lld)", zone, db, name,
                        (long long)to, (long long)t.snapshot);
        goto done;
    }
    if ((rc = snapshot_written_with(c, t.id, to, &version, &pk_then, err)))
        goto done;
    cat_snapshot_t snap = {
        .table_id = t.id, .id = t.snapshot + 1, .operation = "rollback", .summary = sum_text};
    cat_totals_t tot;
    if ((rc = rollback_files(c, &t, to, snap.id, &snap.added, &snap.removed, err)) ||
        (rc = rollback_parts(c, t.id, snap.id, parts, err)) ||
        (version > 0 && (rc = rollback_schema(c, &t, version, &meta_changed, err))) ||
        (rc = cat_partitions_recount(c, t.id, parts, err)) ||
        (rc = cat_table_totals(c, t.id, &tot, err)))
        goto done;
    if (pk_then) {
        json_t *now = json_loads(pk_then, 0, NULL);
        meta_changed |= now && !json_equal(now, t.partition_keys);
        json_decref(now);
    }
    if (!(pk_text = pk_then ? strdup(pk_then) : cat_json_text(t.partition_keys))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    snap.files = tot.files;
    snap.bytes = tot.bytes;
    snap.schema_version = t.schema_version;
    snap.partition_keys = pk_text;
    t.snapshot = snap.id;
    if ((rc = cat_snapshot_insert(c, &snap, err)) ||
        (rc = table_finish(c, &t, pk_text, NULL, &tot, err)) ||
        (meta_changed && (rc = cat_search_refresh(c, t.id, err))))
        goto done;
    *snapshot = snap.id;
done:
    rc = rc ? (db_exec(c->db, "ROLLBACK", NULL), rc) : db_exec(c->db, "COMMIT", err);
out:
    cat_table_release(&t);
    json_decref(parts);
    json_decref(sum);
    free(sum_text);
    free(pk_then);
    free(pk_text);
    return rc;
}

/* ---- state ---- */

int catalog_table_state(catalog_t *c, const char *zone, const char *db, const char *name,
                        int64_t *snapshot, char *managed_by, size_t cap, tarn_err_t *err)
{
    cat_table_t t;
    int rc = cat_table_load(c, zone, db, name, &t, err);
    if (rc)
        return rc;
    *snapshot = t.snapshot;
    if (managed_by && cap)
        snprintf(managed_by, cap, "%s", t.managed_by);
    cat_table_release(&t);
    return 0;
}
