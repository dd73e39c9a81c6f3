/* Committing a run: each SQL step's staged rows become the target table's new files
 * (appended, replacing the table or the partitions written, or merged on keys), written
 * as Parquet, published into the store under keys unique to the attempt, and then ONE
 * catalog transaction commits every target's snapshot with its lineage, the run's status
 * and its bookmarks. Readers see the old snapshots or the new ones. The published keys
 * are recorded first, so an attempt that dies before its commit leaves nothing that
 * recovery cannot remove. */
#include "process/quality.h"
#include "process/runner_internal.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int append_key(json_t *a, const char *key)
{
    return json_array_append_new(a, json_string(key)) ? -1 : 0;
}

/* The keys of the files of the table's snapshot (an empty array for snapshot 0). */
static int snapshot_keys(run_ctx_t *ctx, const catalog_name_t *n, int64_t snapshot,
                         json_t **keys, tarn_err_t *err)
{
    *keys = json_array();
    json_t *snap = NULL;
    int rc = snapshot ? catalog_snapshot_files(ctx->r->o.catalog, n->zone, n->db, n->table,
                                               snapshot, &snap, err)
                      : 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(snap, "files"), i, f)
        append_key(*keys, json_string_value(json_object_get(f, "key")));
    json_decref(snap);
    return rc;
}

static void put_keys_match(buf_t *b, const pipeline_names_t *keys)
{
    for (size_t k = 0; k < keys->n; k++) {
        buf_puts(b, k ? " AND s." : "s.");
        quality_put_ident(b, keys->items[k]);
        buf_puts(b, " IS NOT DISTINCT FROM t.");
        quality_put_ident(b, keys->items[k]);
    }
}

/* Writes the staged rows of step i as its target's files: the query that gives the
 * table's new rows for the step's mode (merge reads cur_keys, the current files), then
 * output_write; fills the step's out and columns. */
static int write_target(run_ctx_t *ctx, size_t i, const catalog_name_t *n, const json_t *cur_keys,
                        tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    if (s->target.mode == PIPELINE_MODE_APPLY_CHANGES)
        return apply_changes_write(ctx, i, n, cur_keys, err);
    arena_t *a = arena_create();
    buf_t sel = BUF_INIT;
    char *cols0 = NULL, *parts0 = NULL;
    int rc = 0;
    if (!a) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    const char *staged = arena_sprintf(a, "read_parquet(%s)", engine_quote(a, sr->staged));
    char src[PATH_MAX + 64];
    snprintf(src, sizeof src, "SELECT * FROM %s", staged);
    if (ctx->claim.replay && s->target.mode == PIPELINE_MODE_MERGE) {
        /* A rebuild of a merged table keeps one row per key. */
        buf_printf(&sel, "SELECT * FROM %s QUALIFY row_number() OVER (PARTITION BY ", staged);
        quality_put_idents(&sel, &s->target.keys, NULL);
        buf_puts(&sel, ") = 1");
    } else if (s->target.mode == PIPELINE_MODE_MERGE && json_array_size(cur_keys)) {
        /* The staged rows' partition key types read back the table's hive folders. */
        if ((rc = output_columns(ctx->conn, src, &s->target.partition_by, &cols0, &parts0, err)))
            goto done;
        char dir[PATH_MAX + 20];
        snprintf(dir, sizeof dir, "%s/%s", ctx->r->objects_dir, n->zone);
        buf_puts(&sel, "SELECT * FROM ");
        output_reader_sql(&sel, dir, cur_keys, parts0);
        buf_printf(&sel, " AS t WHERE NOT EXISTS (SELECT 1 FROM %s AS s WHERE ", staged);
        put_keys_match(&sel, &s->target.keys);
        buf_printf(&sel, ") UNION ALL BY NAME SELECT * FROM %s", staged);
    } else {
        buf_puts(&sel, src);
    }
    if (!sel.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    char dir[PATH_MAX + 300], prefix[300], tag[64];
    output_opts_t oo;
    run_output_opts(ctx, i, &oo, dir, sizeof dir, prefix, sizeof prefix, tag, sizeof tag);
    if (!(rc = output_columns(ctx->conn, sel.data, &s->target.partition_by, &sr->columns,
                              &sr->partition_keys, err)))
        rc = output_write(ctx->conn, sel.data, &oo, &sr->out, err);
done:
    free(cols0);
    free(parts0);
    buf_free(&sel);
    arena_free(a);
    return rc;
}

/* The keys of cur_keys that a write in mode replaces: all, none (append) or those of the
 * partitions the step wrote. NULL when out of memory. */
static json_t *removed_keys(const step_run_t *sr, pipeline_mode_t mode, const json_t *cur_keys)
{
    json_t *removes = json_array();
    if (!removes || mode == PIPELINE_MODE_APPEND)
        return removes;
    if (mode != PIPELINE_MODE_OVERWRITE_PARTITIONS) {
        json_array_extend(removes, (json_t *)cur_keys);
        return removes;
    }
    size_t k;
    json_t *key;
    json_array_foreach(cur_keys, k, key)
    {
        const char *ck = json_string_value(key);
        size_t fl = output_folder_len(ck);
        for (size_t f = 0; f < sr->out.n; f++)
            if (output_folder_len(sr->out.v[f].key) == fl && !strncmp(ck, sr->out.v[f].key, fl)) {
                append_key(removes, ck);
                break;
            }
    }
    return removes;
}

/* Prepares step i's target for the commit: its base snapshot, its operation, its files
 * (written here unless the step wrote them) and the keys that leave the snapshot. */
static int prepare_target(run_ctx_t *ctx, size_t i, tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    catalog_name_t n;
    char managed[200];
    if (!catalog_name_parse(&n, s->target.table))
        return TARN_ERR(err, TARN_EINVAL, "'%s' is not zone.database.table", s->target.table);
    int64_t base = 0;
    int rc = catalog_table_state(ctx->r->o.catalog, n.zone, n.db, n.table, &base, managed,
                                 sizeof managed, err);
    if (rc == TARN_ENOTFOUND) {
        base = 0;
        rc = 0;
        memset(err, 0, sizeof *err);
    } else if (!rc && !*managed) {
        return TARN_ERR_R(err, TARN_ECONFLICT, NotManaged,
                          "%s holds files the crawler registered; a pipeline writes only tables"
                          " it manages (choose another target table)",
                          s->target.table);
    }
    if (rc)
        return rc;
    sr->base_snapshot = base;
    pipeline_mode_t mode = s->target.mode;
    bool replay = ctx->claim.replay;
    sr->operation = replay ? "replay" : pipeline_mode_name(mode);
    /* Every mode but append replaces files of the current snapshot (and merge reads them). */
    json_t *cur_keys = NULL;
    if ((replay || mode != PIPELINE_MODE_APPEND) && (rc = snapshot_keys(ctx, &n, base, &cur_keys, err)))
        return rc;
    if (!sr->direct && (rc = write_target(ctx, i, &n, cur_keys, err))) {
        json_decref(cur_keys);
        return rc;
    }
    /* What leaves the snapshot (apply_changes chose it while writing). */
    if (mode != PIPELINE_MODE_APPLY_CHANGES &&
        !(sr->removes = removed_keys(sr, replay ? PIPELINE_MODE_OVERWRITE : mode, cur_keys))) {
        json_decref(cur_keys);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    json_decref(cur_keys);
    return 0;
}

/* The lineage a snapshot records. */
static json_t *lineage(const run_ctx_t *ctx, const pipeline_step_t *s)
{
    json_t *inputs = json_array();
    const char *table;
    json_t *t;
    json_object_foreach(ctx->read, table, t)
        json_array_append_new(inputs, json_pack("{s:s, s:O, s:O}", "table", table, "snapshot",
                                                json_object_get(t, "snapshot"), "files",
                                                json_object_get(t, "files")));
    return json_pack("{s:s, s:I, s:I, s:I, s:s, s:b, s:o}", "pipeline", ctx->claim.pipeline,
                     "version", (json_int_t)ctx->claim.version, "run", (json_int_t)ctx->claim.id,
                     "attempt", (json_int_t)ctx->claim.attempt, "step", s->name, "replay",
                     ctx->claim.replay, "inputs", inputs);
}

/* Quarantined rows go to quarantine/_pipelines/<pipeline>/run-<id>/<step>.jsonl with a
 * reason file beside them. */
static int quarantine_key(char *out, size_t cap, const run_ctx_t *ctx, const char *step)
{
    return snprintf(out, cap, "_pipelines/%s/run-%lld/%s.jsonl", ctx->claim.pipeline,
                    (long long)ctx->claim.id, step) >= (int)cap;
}

static int publish_quarantine(run_ctx_t *ctx, size_t i, tarn_err_t *err)
{
    const pipeline_step_t *q = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    char key[600], rkey[700];
    quarantine_key(key, sizeof key, ctx, q->name);
    snprintf(rkey, sizeof rkey, "%s.reason.json", key);
    store_writer_t *w;
    int rc = store_writer_adopt(&w, ctx->r->o.store, sr->quarantine, err);
    store_meta_t meta = {.content_type = "application/x-ndjson"};
    if (rc || (rc = store_writer_commit(w, "quarantine", key, &meta, NULL, NULL, err)))
        return rc;
    json_t *doc = json_pack("{s:s, s:s, s:I, s:s, s:I, s:O}", "check", "quality", "pipeline",
                            ctx->claim.pipeline, "run", (json_int_t)ctx->claim.id, "step", q->name,
                            "rows", (json_int_t)sr->quarantined, "rules", sr->rules);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    rc = store_writer_begin(&w, ctx->r->o.store, 0, err);
    if (!rc && (rc = store_writer_write(w, text, strlen(text), err)))
        store_writer_abort(w);
    free(text);
    store_meta_t jm = {.content_type = "application/json"};
    return rc ? rc : store_writer_commit(w, "quarantine", rkey, &jm, NULL, NULL, err);
}

void run_remove_staged(store_t *store, const json_t *staged)
{
    size_t i;
    json_t *k;
    json_array_foreach(staged, i, k)
    {
        const char *bk = json_string_value(k);
        const char *slash = bk ? strchr(bk, '/') : NULL;
        if (!slash)
            continue;
        char bucket[32];
        snprintf(bucket, sizeof bucket, "%.*s", (int)(slash - bk), bk);
        tarn_err_t e = {0};
        store_object_delete(store, bucket, slash + 1, NULL, &e);
    }
}

int run_commit(run_ctx_t *ctx, json_t **outputs, tarn_err_t *err)
{
    const pipeline_spec_t *spec = ctx->spec;
    db_t *db = catalog_db(ctx->r->o.catalog);
    json_t *staged = json_array(), *outs = json_array(), *steps = NULL;
    int rc = 0;
    bool tx = false;
    for (size_t k = 0; !rc && k < spec->n_steps; k++) {
        size_t i = spec->order[k];
        if (!spec->steps[i].is_quality)
            rc = prepare_target(ctx, i, err);
    }
    for (size_t i = 0; !rc && i < spec->n_steps; i++) {
        const step_run_t *sr = &ctx->steps[i];
        for (size_t f = 0; f < sr->out.n; f++) {
            char bk[1200];
            snprintf(bk, sizeof bk, "curated/%s", sr->out.v[f].key);
            append_key(staged, bk);
        }
        if (sr->quarantine) {
            char key[600], bk[1400];
            quarantine_key(key, sizeof key, ctx, spec->steps[i].name);
            snprintf(bk, sizeof bk, "quarantine/%s", key);
            append_key(staged, bk);
            snprintf(bk, sizeof bk, "quarantine/%s.reason.json", key);
            append_key(staged, bk);
        }
    }
    /* Intent first, then the files. */
    if (rc || (rc = run_store_stage(db, ctx->claim.id, staged, err)))
        goto done;
    for (size_t i = 0; !rc && i < spec->n_steps; i++) {
        rc = output_publish(ctx->r->o.store, "curated", &ctx->steps[i].out, err);
        if (!rc && ctx->steps[i].quarantine)
            rc = publish_quarantine(ctx, i, err);
    }
    if (rc || (rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        goto done;
    tx = true;
    char managed[100];
    snprintf(managed, sizeof managed, "pipeline:%s", ctx->claim.pipeline);
    for (size_t k = 0; !rc && k < spec->n_steps; k++) {
        size_t i = spec->order[k];
        const pipeline_step_t *s = &spec->steps[i];
        step_run_t *sr = &ctx->steps[i];
        if (s->is_quality)
            continue;
        catalog_name_t n;
        if (!catalog_name_parse(&n, s->target.table)) {
            rc = TARN_ERR(err, TARN_EINVAL, "'%s' is not zone.database.table", s->target.table);
            break;
        }
        catalog_snap_file_t *adds = calloc(sr->out.n + 1, sizeof *adds);
        const char **removes = calloc(json_array_size(sr->removes) + 1, sizeof *removes);
        json_t *summary = lineage(ctx, s);
        int64_t rows = 0;
        if (!adds || !removes || !summary) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        } else {
            for (size_t f = 0; f < sr->out.n; f++) {
                adds[f] = (catalog_snap_file_t){sr->out.v[f].key, sr->out.v[f].size,
                                                sr->out.v[f].rows};
                rows += sr->out.v[f].rows;
            }
            size_t r;
            json_t *key;
            json_array_foreach(sr->removes, r, key) removes[r] = json_string_value(key);
            catalog_commit_t cm = {.zone = n.zone, .db = n.db, .name = n.table,
                                   .columns = sr->columns,
                                   .partition_keys = sr->partition_keys,
                                   .base_snapshot = sr->base_snapshot, .adds = adds,
                                   .nadds = sr->out.n, .removes = removes,
                                   .nremoves = json_array_size(sr->removes),
                                   .operation = sr->operation, .summary = summary,
                                   .managed_by = managed, .owner = ctx->claim.owner};
            int64_t snap = 0;
            rc = catalog_snapshot_commit(ctx->r->o.catalog, &cm, &snap, err);
            if (!rc)
                json_array_append_new(outs, json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "table",
                                                      s->target.table, "snapshot", (json_int_t)snap,
                                                      "files", (json_int_t)sr->out.n, "rows",
                                                      (json_int_t)rows, "removed",
                                                      (json_int_t)json_array_size(sr->removes),
                                                      "operation", sr->operation));
        }
        free(adds);
        free(removes);
        json_decref(summary);
        if (!rc && s->target.mode == PIPELINE_MODE_APPLY_CHANGES && sr->position[0])
            rc = run_store_position_set(db, ctx->claim.pipeline, s->target.table, sr->position,
                                        err);
    }
    if (!rc && (spec->incremental || ctx->claim.replay)) {
        json_t *read = json_object();
        const char *table;
        json_t *tj;
        json_object_foreach(ctx->read, table, tj)
            json_object_set(read, table, json_object_get(tj, "files"));
        rc = run_store_marks_add(db, ctx->claim.pipeline, ctx->claim.id, read, ctx->claim.replay,
                                 err);
        json_decref(read);
    }
    steps = run_steps_json(ctx);
    if (!rc)
        rc = run_store_succeed(db, ctx->claim.id, outs, steps, err);
    int sync_rc = 0;
    /* Committed: the files are the tables' now, whatever the sync says, and the run's
     * staging folder goes (and its success is told) only once the commit is on disk. */
    if (!rc && !(rc = db_exec(db, "COMMIT", err)))
        sync_rc = db_sync(db, err);
done:
    if (rc && tx)
        db_exec(db, "ROLLBACK", NULL);
    if (rc)
        run_remove_staged(ctx->r->o.store, staged);
    json_decref(staged);
    json_decref(steps);
    if (!rc && !sync_rc)
        *outputs = outs;
    else
        json_decref(outs);
    return rc ? rc : sync_rc;
}
