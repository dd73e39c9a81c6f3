/* Compaction of managed tables: per partition folder, the files under the target size
 * are read together and written again as files of about the target size, committed as
 * one snapshot ("compact") that removes the small files; the rows do not change. The old
 * files stay on disk for earlier snapshots. */
#include "process/quality.h"
#include "process/runner_internal.h"
#include "util/fs.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *folder;   /* "db/t/k=v/" */
    size_t small;   /* files under the target size */
} folder_t;

/* The folders of files (json array of {key,size}) with how many small files each has. */
static folder_t *folders_of(const json_t *files, uint64_t target, size_t *n)
{
    folder_t *v = calloc(json_array_size(files) + 1, sizeof *v);
    *n = 0;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *key = json_string_value(json_object_get(f, "key"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(f, "size"));
        if (!v || !key || size >= target)
            continue;
        size_t fl = output_folder_len(key), k;
        for (k = 0; k < *n; k++)
            if (strlen(v[k].folder) == fl && !strncmp(v[k].folder, key, fl))
                break;
        if (k == *n && !(v[(*n)++].folder = strndup(key, fl)))
            continue;
        v[k].small++;
    }
    return v;
}

static void folders_free(folder_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].folder);
    free(v);
}

static int compact(runner_t *r, const char *zone, const char *db, const char *name,
                   int64_t target_mb, size_t min_small, json_t **out, tarn_err_t *err)
{
    char managed[200];
    int64_t base;
    int rc = catalog_table_state(r->o.catalog, zone, db, name, &base, managed, sizeof managed,
                                 err);
    if (rc)
        return rc;
    if (!*managed)
        return TARN_ERR_R(err, TARN_ECONFLICT, NotManaged,
                          "%s.%s.%s is kept by the crawler from the files under its folder;"
                          " only tables that pipelines write can be compacted",
                          zone, db, name);
    if (target_mb <= 0)
        target_mb = 128;
    uint64_t target = (uint64_t)target_mb * 1024 * 1024;
    json_t *table = NULL, *snap = NULL, *removes = json_array();
    folder_t *folders = NULL;
    size_t nfolders = 0, before = 0, compacted = 0;
    engine_conn_t *conn = NULL;
    buf_t sel = BUF_INIT;
    char *columns = NULL, *pkeys = NULL;
    pipeline_names_t parts = {0};
    output_files_t files = {0};
    bool published = false;
    char dir[PATH_MAX + 300] = "";
    if ((rc = catalog_table_get(r->o.catalog, zone, db, name, &table, err)) ||
        (rc = catalog_snapshot_files(r->o.catalog, zone, db, name, base, &snap, err)))
        goto done;
    json_t *list = json_object_get(snap, "files");
    before = json_array_size(list);
    folders = folders_of(list, target, &nfolders);
    /* Partition keys as the table records them, "k TYPE, ...", for reading the folders. */
    json_t *pk = json_object_get(table, "partition_keys");
    buf_t pkt = BUF_INIT;
    parts.items = calloc(json_array_size(pk) + 1, sizeof *parts.items);
    size_t i;
    json_t *p;
    json_array_foreach(pk, i, p)
    {
        const char *pn = json_string_value(json_object_get(p, "name"));
        buf_printf(&pkt, "%s%s %s", i ? ", " : "", pn,
                   json_string_value(json_object_get(p, "type")));
        if (parts.items)
            parts.items[parts.n++] = (char *)pn;
    }
    json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *key = json_string_value(json_object_get(f, "key"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(f, "size"));
        size_t fl = output_folder_len(key);
        for (size_t k = 0; k < nfolders && size < target; k++)
            if (strlen(folders[k].folder) == fl && !strncmp(folders[k].folder, key, fl) &&
                folders[k].small >= min_small) {
                json_array_append_new(removes, json_string(key));
                break;
            }
    }
    size_t nremoved = json_array_size(removes);
    for (size_t k = 0; k < nfolders; k++)
        compacted += folders[k].small >= min_small;
    if (!nremoved) {
        buf_free(&pkt);
        *out = json_pack("{s:s++++, s:I, s:I, s:I, s:i}", "table", zone, ".", db, ".", name,
                         "snapshot", (json_int_t)base, "files_before", (json_int_t)before,
                         "files_after", (json_int_t)before, "partitions_compacted", 0);
        goto done;
    }
    buf_puts(&sel, "SELECT * FROM ");
    char zdir[PATH_MAX + 20];
    snprintf(zdir, sizeof zdir, "%s/%s", r->objects_dir, zone);
    output_reader_sql(&sel, zdir, removes, pkt.data ? pkt.data : "");
    buf_free(&pkt);
    snprintf(dir, sizeof dir, "%s/compact-%s-%s-%lld", r->staging_dir, db, name,
             (long long)time_now_ms());
    char prefix[300], tag[64];
    snprintf(prefix, sizeof prefix, "%s/%s/", db, name);
    snprintf(tag, sizeof tag, "c%lld", (long long)time_now_ms());
    output_opts_t oo = {.partition_by = &parts, .file_size_mb = target_mb, .dir = dir,
                        .key_prefix = prefix, .file_tag = tag};
    if (!sel.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = engine_connect(r->o.engine, &conn, err)) ||
        (rc = output_columns(conn, sel.data, &parts, &columns, &pkeys, err)) ||
        (rc = output_write(conn, sel.data, &oo, &files, err)) ||
        (rc = output_publish(r->o.store, zone, &files, err)))
        goto done;
    published = true;
    catalog_snap_file_t *adds = calloc(files.n + 1, sizeof *adds);
    const char **rm = calloc(nremoved + 1, sizeof *rm);
    if (!adds || !rm) {
        free(adds);
        free(rm);
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < files.n; k++)
        adds[k] = (catalog_snap_file_t){files.v[k].key, files.v[k].size, files.v[k].rows};
    json_array_foreach(removes, i, f) rm[i] = json_string_value(f);
    json_t *summary = json_pack("{s:I, s:I, s:I}", "compacted_files", (json_int_t)nremoved,
                                "written_files", (json_int_t)files.n, "target_mb",
                                (json_int_t)target_mb);
    catalog_commit_t cm = {.zone = zone, .db = db, .name = name, .columns = columns,
                           .partition_keys = pkeys, .base_snapshot = base, .adds = adds,
                           .nadds = files.n, .removes = rm, .nremoves = nremoved,
                           .operation = "compact", .summary = summary, .managed_by = managed};
    db_t *cdb = catalog_db(r->o.catalog);
    int64_t snapshot = 0;
    if (!(rc = db_exec(cdb, "BEGIN IMMEDIATE", err))) {
        rc = catalog_snapshot_commit(r->o.catalog, &cm, &snapshot, err);
        rc = rc ? (db_exec(cdb, "ROLLBACK", NULL), rc) : db_exec(cdb, "COMMIT", err);
    }
    free(adds);
    free(rm);
    json_decref(summary);
    if (!rc) {
        published = false; /* committed: the files are the table's now */
        rc = db_sync(cdb, err); /* on disk before the staging folder goes or anyone is told */
    }
    if (!rc) {
        *out = json_pack("{s:s++++, s:I, s:I, s:I, s:I}", "table", zone, ".", db, ".", name,
                         "snapshot", (json_int_t)snapshot, "files_before", (json_int_t)before,
                         "files_after", (json_int_t)(before - nremoved + files.n),
                         "partitions_compacted", (json_int_t)compacted);
    }
done:
    if (published)
        for (size_t k = 0; k < files.n; k++) {
            tarn_err_t e = {0};
            store_object_delete(r->o.store, zone, files.v[k].key, NULL, &e);
        }
    output_files_free(&files);
    if (*dir)
        fs_remove_tree(dir);
    if (conn)
        engine_disconnect(conn);
    free(parts.items);
    free(columns);
    free(pkeys);
    buf_free(&sel);
    folders_free(folders, nfolders);
    json_decref(table);
    json_decref(snap);
    json_decref(removes);
    return rc;
}

int runner_compact(runner_t *r, const char *zone, const char *db, const char *name,
                   int64_t target_mb, json_t **out, tarn_err_t *err)
{
    /* A folder with a single small file gains nothing from a rewrite. */
    return compact(r, zone, db, name, target_mb, 2, out, err);
}

int runner_compact_auto(runner_t *r, const char *zone, const char *db, const char *name,
                        int64_t target_mb, json_t **out, tarn_err_t *err)
{
    return compact(r, zone, db, name, target_mb, (size_t)r->o.compact_min_files + 1, out, err);
}
