/* What the crawler writes: file registrations, schema evolution, partitions, table
 * counts and snapshots, all in one transaction per batch; see catalog_files_apply in
 * catalog.h. The snapshot, partition and count pieces (cat_* in catalog_internal.h) also
 * serve managed tables' commits in catalog_snapshot.c. */
#include "catalog/catalog_internal.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A table touched by the batch and what happened to it. */
typedef struct {
    cat_table_t t;
    schema_t declared; /* declared tables: the schema files must match */
    schema_t merged;   /* inferred tables: current schema merged with the new files */
    bool merged_loaded, recompute, created, meta_dirty;
    catalog_snap_file_t *adds;
    size_t nadds, capadds;
    const char **removes;
    size_t nremoves, capremoves;
    json_t *parts; /* spec -> {"values":..., "location":...} of touched partitions */
} touched_t;

typedef struct {
    catalog_t *c;
    touched_t *v;
    size_t n, cap;
    catalog_apply_stats_t *st;
    tarn_err_t *err;
} batch_t;

static void touched_free(touched_t *t)
{
    cat_table_release(&t->t);
    schema_free(&t->declared);
    schema_free(&t->merged);
    free(t->adds);
    free(t->removes);
    json_decref(t->parts);
}

int cat_step_done(catalog_t *c, sqlite3_stmt *st, const char *what, tarn_err_t *err)
{
    int step = sqlite3_step(st);
    db_done(c->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(c->db, step, err, what);
}

static touched_t *touch_slot(batch_t *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 8;
        touched_t *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return NULL;
        b->v = v;
        b->cap = cap;
    }
    touched_t *t = &b->v[b->n];
    memset(t, 0, sizeof *t);
    t->parts = json_object();
    return t;
}

static int touch_loaded(batch_t *b, touched_t **out)
{
    touched_t *t = &b->v[b->n];
    int rc = 0;
    if (t->t.declared)
        rc = cat_schema_load(b->c, t->t.id, t->t.schema_version, &t->declared, b->err);
    if (rc) {
        touched_free(t);
        return rc;
    }
    b->n++;
    *out = t;
    return 0;
}

/* The batch's entry for table zone.db.name, loading or creating the table. */
static int touch_by_name(batch_t *b, const char *zone, const char *db, const char *name,
                         touched_t **out)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->v[i].t.zone, zone) && !strcmp(b->v[i].t.db, db) &&
            !strcmp(b->v[i].t.name, name)) {
            *out = &b->v[i];
            return 0;
        }
    touched_t *t = touch_slot(b);
    if (!t)
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    int rc = cat_table_load(b->c, zone, db, name, &t->t, b->err);
    if (rc == TARN_ENOTFOUND) {
        rc = cat_table_insert(b->c, zone, db, name, NULL, NULL, NULL, false, NULL, &t->t, b->err);
        t->created = true;
    }
    if (rc) {
        touched_free(t);
        return rc;
    }
    return touch_loaded(b, out);
}

static int touch_by_id(batch_t *b, int64_t id, touched_t **out)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].t.id == id) {
            *out = &b->v[i];
            return 0;
        }
    sqlite3_stmt *st;
    char zone[16] = "", db[129] = "", name[129] = "";
    int rc = db_prepare(b->c->db, &st, "SELECT zone, db, name FROM cat_tables WHERE id = ?1",
                        b->err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(zone, sizeof zone, "%s", sqlite3_column_text(st, 0));
        snprintf(db, sizeof db, "%s", sqlite3_column_text(st, 1));
        snprintf(name, sizeof name, "%s", sqlite3_column_text(st, 2));
    }
    db_done(b->c->db, st);
    if (!*zone)
        return TARN_ERR(b->err, TARN_EIO, "file refers to missing table %lld", (long long)id);
    return touch_by_name(b, zone, db, name, out);
}

static int note_remove(touched_t *t, const char *key)
{
    if (t->nremoves == t->capremoves) {
        size_t cap = t->capremoves ? 2 * t->capremoves : 16;
        const char **v = realloc(t->removes, cap * sizeof *v);
        if (!v)
            return TARN_ENOMEM;
        t->removes = v;
        t->capremoves = cap;
    }
    t->removes[t->nremoves++] = key;
    t->recompute = true;
    return 0;
}

static int note_add(touched_t *t, const char *key, uint64_t size, int64_t rows)
{
    if (t->nadds == t->capadds) {
        size_t cap = t->capadds ? 2 * t->capadds : 16;
        catalog_snap_file_t *v = realloc(t->adds, cap * sizeof *v);
        if (!v)
            return TARN_ENOMEM;
        t->adds = v;
        t->capadds = cap;
    }
    t->adds[t->nadds++] = (catalog_snap_file_t){key, size, rows};
    return 0;
}

json_t *cat_part_values(const hive_key_t *hk)
{
    json_t *vals = json_object();
    for (size_t i = 0; vals && i < hk->nparts; i++)
        json_object_set_new(vals, hk->names[i],
                            hk->values[i] ? json_string(hk->values[i]) : json_null());
    return vals;
}

void cat_part_note(json_t *parts, const char *spec, json_t *values, const char *location)
{
    if (*spec && (values || !json_object_get(parts, spec)))
        json_object_set_new(parts, spec,
                            json_pack("{s:O, s:s}", "values", values ? values : json_null(),
                                      "location", location));
}

/* The registration of (zone, key) before this batch: its table (0 when none), whether it
 * was live, its partition, and the size and ETag it had. */
typedef struct {
    bool found, ok;
    int64_t table_id;
    uint64_t size;
    char etag[48];
    char partition[1100];
} prior_t;

static int prior_load(catalog_t *c, const char *zone, const char *key, prior_t *p,
                      tarn_err_t *err)
{
    memset(p, 0, sizeof *p);
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT table_id, status, partition, size, etag FROM cat_files"
                        " WHERE zone = ?1 AND key = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        p->found = true;
        p->table_id = sqlite3_column_int64(st, 0);
        p->ok = !strcmp((const char *)sqlite3_column_text(st, 1), "ok");
        const char *part = (const char *)sqlite3_column_text(st, 2);
        snprintf(p->partition, sizeof p->partition, "%s", part ? part : "");
        p->size = (uint64_t)sqlite3_column_int64(st, 3);
        const char *etag = (const char *)sqlite3_column_text(st, 4);
        snprintf(p->etag, sizeof p->etag, "%s", etag ? etag : "");
    }
    db_done(c->db, st);
    return 0;
}

/* Takes a prior live registration out of its table (snapshot removal, recount). */
static int unregister_prior(batch_t *b, const char *key, const prior_t *p)
{
    if (!p->found || !p->table_id)
        return 0;
    touched_t *t;
    int rc = touch_by_id(b, p->table_id, &t);
    if (rc)
        return rc;
    cat_part_note(t->parts, p->partition, NULL, "");
    if (p->ok && note_remove(t, key))
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    return 0;
}

/* Whether the file fits the table (format, layout, partitions, declared schema); on a
 * mismatch, why. May adopt the file's format and partitioning for a table without files. */
static int file_fits(batch_t *b, touched_t *t, const catalog_file_in_t *f, char *why, size_t cap)
{
    const classify_result_t *cls = f->cls;
    const hive_key_t *hk = f->hk;
    bool empty = !t->t.files && !t->nadds && !*t->t.format;
    if (empty) {
        snprintf(t->t.format, sizeof t->t.format, "%s", cls->format);
        json_decref(t->t.options);
        t->t.options = json_deep_copy(cls->options);
        json_object_del(t->t.options, "compression");
        json_object_del(t->t.options, "encoding");
        if (!t->t.declared) {
            json_decref(t->t.partition_keys);
            t->t.partition_keys = json_array();
            for (size_t i = 0; i < hk->nparts; i++)
                json_array_append_new(t->t.partition_keys,
                                      json_pack("{s:s, s:s}", "name", hk->names[i], "type",
                                                hk->values[i] ? hive_value_type(hk->values[i])
                                                              : "NULL"));
        }
        t->meta_dirty = true;
    }
    if (strcmp(cls->format, t->t.format)) {
        snprintf(why, cap, "the file is %s, the table is %s", cls->format, t->t.format);
        return 1;
    }
    static const char *const layout[] = {"delimiter", "header", "layout"};
    for (size_t i = 0; i < 3; i++) {
        json_t *want = json_object_get(t->t.options, layout[i]);
        json_t *got = json_object_get(cls->options, layout[i]);
        if (want && got && !json_equal(want, got)) {
            char *w = cat_json_text(want), *g = cat_json_text(got);
            snprintf(why, cap, "%s is %s in the file, %s in the table", layout[i], g ? g : "?",
                     w ? w : "?");
            free(w);
            free(g);
            return 1;
        }
    }
    size_t np = json_array_size(t->t.partition_keys);
    bool same = np == hk->nparts;
    for (size_t i = 0; same && i < np; i++)
        same = !strcasecmp(json_string_value(json_object_get(
                               json_array_get(t->t.partition_keys, i), "name")),
                           hk->names[i]);
    if (!same) {
        char want[300] = "", got[300] = "";
        for (size_t i = 0; i < np; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s=", i ? "/" : "",
                     json_string_value(json_object_get(json_array_get(t->t.partition_keys, i),
                                                       "name")));
        for (size_t i = 0; i < hk->nparts; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s=", i ? "/" : "",
                     hk->names[i]);
        snprintf(why, cap, "partition folders (%s) differ from the table's (%s)",
                 *got ? got : "none", *want ? want : "none");
        return 1;
    }
    /* Partition key types widen with the values seen; declared ones must hold them. */
    for (size_t i = 0; i < np; i++) {
        if (!hk->values[i])
            continue;
        json_t *k = json_array_get(t->t.partition_keys, i);
        const char *ty = json_string_value(json_object_get(k, "type"));
        const char *vt = hive_value_type(hk->values[i]);
        if (t->t.declared) {
            if (!schema_type_fits(vt, ty)) {
                snprintf(why, cap, "partition value %s=%s is not a %s", hk->names[i],
                         hk->values[i], ty);
                return 1;
            }
        } else if (strcmp(schema_widen_type(ty, vt), ty)) {
            json_object_set_new(k, "type", json_string(schema_widen_type(ty, vt)));
            t->meta_dirty = true;
        }
    }
    tarn_err_t e = {0};
    if (t->t.declared) {
        if (schema_check_file(&t->declared, &cls->schema, &e)) {
            snprintf(why, cap, "%s", e.msg);
            return 1;
        }
        return 0;
    }
    if (!t->merged_loaded) {
        if (cat_schema_load(b->c, t->t.id, t->t.schema_version, &t->merged, b->err))
            return -1;
        t->merged_loaded = true;
    }
    schema_t trial;
    if (schema_copy(&trial, &t->merged) || schema_merge(&trial, &cls->schema) < 0) {
        schema_free(&trial);
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory"), -1;
    }
    if (trial.n > SCHEMA_MAX_COLUMNS) {
        snprintf(why, cap, "with this file the table would have %zu columns (at most %d)",
                 trial.n, SCHEMA_MAX_COLUMNS);
        schema_free(&trial);
        return 1;
    }
    schema_free(&t->merged);
    t->merged = trial;
    return 0;
}

static int file_upsert(batch_t *b, const catalog_file_in_t *f, int64_t table_id,
                       const char *status, const char *reason)
{
    sqlite3_stmt *st;
    int rc = db_prepare(b->c->db, &st,
                        "INSERT OR REPLACE INTO cat_files(zone, key, table_id, partition, size,"
                        " etag, sha256, format, options, columns, rows, schema_version, status,"
                        " reason, crawled_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                        " NULL, ?12, ?13, ?14)",
                        b->err);
    if (rc)
        return rc;
    char *opts = NULL, *cols = NULL;
    sqlite3_bind_text(st, 1, f->zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->key, -1, SQLITE_STATIC);
    if (table_id)
        sqlite3_bind_int64(st, 3, table_id);
    if (f->hk)
        sqlite3_bind_text(st, 4, f->hk->spec, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)f->size);
    sqlite3_bind_text(st, 6, f->etag, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, f->sha256, -1, SQLITE_STATIC);
    if (f->cls && f->cls->format) {
        json_t *cj = schema_to_json(&f->cls->schema);
        opts = cat_json_text(f->cls->options);
        cols = cat_json_text(cj);
        json_decref(cj);
        sqlite3_bind_text(st, 8, f->cls->format, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, opts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, cols, -1, SQLITE_STATIC);
        if (f->cls->rows >= 0)
            sqlite3_bind_int64(st, 11, f->cls->rows);
    }
    sqlite3_bind_text(st, 12, status, -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(st, 13, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 14, time_now_ms());
    rc = cat_step_done(b->c, st, "register file", b->err);
    free(opts);
    free(cols);
    return rc;
}

static int file_delete(batch_t *b, const char *zone, const char *key)
{
    sqlite3_stmt *st;
    int rc = db_prepare(b->c->db, &st, "DELETE FROM cat_files WHERE zone = ?1 AND key = ?2",
                        b->err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    return cat_step_done(b->c, st, "forget file", b->err);
}

/* Whether key lies in a managed table (one a pipeline writes with
 * catalog_snapshot_commit). The crawler leaves those alone: their files are exactly what
 * their snapshots say, files dropped from a snapshot stay on disk on purpose, and files
 * written but not yet committed must not show. Checking here, where every crawl's
 * registrations and removals pass (event-driven and listing alike), covers all of them. */
static int key_managed(catalog_t *c, const char *zone, const char *key, bool *managed,
                       tarn_err_t *err)
{
    *managed = false;
    const char *s1 = strchr(key, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s2)
        return 0; /* not <database>/<table>/<file>: no table at all */
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT 1 FROM cat_tables WHERE zone = ?1 AND db = ?2 AND name = ?3"
                        " AND managed_by IS NOT NULL",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, (int)(s1 - key), SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s1 + 1, (int)(s2 - s1 - 1), SQLITE_STATIC);
    int step = sqlite3_step(st);
    *managed = step == SQLITE_ROW;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(c->db, step, err, "look up table");
    db_done(c->db, st);
    return rc;
}

static int apply_file(batch_t *b, const catalog_file_in_t *f)
{
    prior_t p;
    bool managed;
    int rc = key_managed(b->c, f->zone, f->key, &managed, b->err);
    if (rc || managed)
        return rc;
    rc = prior_load(b->c, f->zone, f->key, &p, b->err);
    /* A re-read of the very bytes already live in the table (a forced crawl) leaves its
     * snapshots alone, unless the file no longer fits. */
    bool same = !rc && p.ok && f->status == CATALOG_FILE_OK && f->hk && f->etag &&
                p.size == f->size && !strcmp(p.etag, f->etag);
    if (rc || (!same && (rc = unregister_prior(b, f->key, &p))))
        return rc;
    if (!f->hk) {
        b->st->failed += f->status != CATALOG_FILE_IGNORED;
        return file_upsert(b, f, 0, f->status == CATALOG_FILE_IGNORED ? "ignored" : "unmapped",
                           f->reason);
    }
    touched_t *t;
    if ((rc = touch_by_name(b, f->zone, f->hk->db, f->hk->table, &t)))
        return rc;
    if (same && t->t.id != p.table_id) {
        same = false;
        if ((rc = unregister_prior(b, f->key, &p)))
            return rc;
    }
    cat_part_note(t->parts, f->hk->spec, NULL, f->hk->part_location);
    if (f->status != CATALOG_FILE_OK) {
        b->st->failed += f->status != CATALOG_FILE_IGNORED;
        return file_upsert(b, f, t->t.id, f->status == CATALOG_FILE_IGNORED ? "ignored" : "error",
                           f->reason);
    }
    char why[400];
    int fit = file_fits(b, t, f, why, sizeof why);
    if (fit < 0)
        return b->err->code ? b->err->code : TARN_EIO;
    if (fit) {
        if (same && (rc = unregister_prior(b, f->key, &p)))
            return rc;
        b->st->failed++;
        return file_upsert(b, f, t->t.id, "mismatch", why);
    }
    json_t *vals = cat_part_values(f->hk);
    cat_part_note(t->parts, f->hk->spec, vals, f->hk->part_location);
    json_decref(vals);
    b->st->registered++;
    if (!same && note_add(t, f->key, f->size, f->cls->rows))
        return TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
    return file_upsert(b, f, t->t.id, "ok", NULL);
}

static int apply_removal(batch_t *b, const catalog_file_ref_t *r)
{
    prior_t p;
    bool managed;
    int rc = key_managed(b->c, r->zone, r->key, &managed, b->err);
    if (rc || managed || (rc = prior_load(b->c, r->zone, r->key, &p, b->err)) || !p.found)
        return rc;
    b->st->removed++;
    if ((rc = unregister_prior(b, r->key, &p)))
        return rc;
    return file_delete(b, r->zone, r->key);
}

/* ---- finishing a touched table ---- */

/* Inferred tables after removals: the schema is the merge of the remaining files. */
static int schema_recompute(batch_t *b, touched_t *t)
{
    sqlite3_stmt *st;
    int rc = db_prepare(b->c->db, &st,
                        "SELECT columns FROM cat_files WHERE table_id = ?1 AND status = 'ok'"
                        " ORDER BY key",
                        b->err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, t->t.id);
    schema_free(&t->merged);
    t->merged_loaded = true;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        json_t *j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        schema_t fs;
        if (!(rc = schema_from_json(&fs, j, b->err)) && schema_merge(&t->merged, &fs) < 0)
            rc = TARN_ERR(b->err, TARN_ENOMEM, "out of memory");
        schema_free(&fs);
        json_decref(j);
    }
    db_done(b->c->db, st);
    return rc;
}

static int evolve_schema(batch_t *b, touched_t *t)
{
    if (t->t.declared)
        return 0;
    int rc = 0;
    if (t->recompute)
        rc = schema_recompute(b, t);
    if (rc || !t->merged_loaded)
        return rc;
    schema_t cur;
    if ((rc = cat_schema_load(b->c, t->t.id, t->t.schema_version, &cur, b->err)))
        return rc;
    json_t *diff = schema_diff(&cur, &t->merged);
    schema_free(&cur);
    /* A table whose last file went away keeps its last schema. */
    if (diff && t->merged.n) {
        rc = cat_version_add(b->c, &t->t, &t->merged, diff, b->err);
        b->st->versions_created += !rc;
        t->meta_dirty = true;
    }
    json_decref(diff);
    return rc;
}

int cat_partitions_recount(catalog_t *c, int64_t table_id, const json_t *parts,
                           tarn_err_t *err)
{
    const char *spec;
    json_t *pj;
    int rc = 0;
    int64_t now = time_now_ms();
    json_object_foreach((json_t *)parts, spec, pj)
    {
        sqlite3_stmt *st;
        if ((rc = db_prepare(c->db, &st,
                             "SELECT count(*), coalesce(sum(size), 0) FROM cat_files WHERE"
                             " table_id = ?1 AND status = 'ok' AND partition = ?2",
                             err)))
            break;
        sqlite3_bind_int64(st, 1, table_id);
        sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
        int64_t files = 0, bytes = 0;
        if (sqlite3_step(st) == SQLITE_ROW) {
            files = sqlite3_column_int64(st, 0);
            bytes = sqlite3_column_int64(st, 1);
        }
        db_done(c->db, st);
        json_t *vals = json_object_get(pj, "values");
        if (!files || json_is_null(vals)) {
            if ((rc = db_prepare(c->db, &st,
                                 files ? "UPDATE cat_partitions SET files = ?3, bytes = ?4,"
                                         " updated_ms = ?5 WHERE table_id = ?1 AND spec = ?2"
                                       : "DELETE FROM cat_partitions WHERE table_id = ?1 AND"
                                         " spec = ?2",
                                 err)))
                break;
        } else {
            if ((rc = db_prepare(c->db, &st,
                                 "INSERT OR REPLACE INTO cat_partitions(table_id, spec, files,"
                                 " bytes, updated_ms, vals, location) VALUES(?1, ?2, ?3, ?4, ?5,"
                                 " ?6, ?7)",
                                 err)))
                break;
            char *vt = cat_json_text(vals);
            sqlite3_bind_text(st, 6, vt ? vt : "{}", -1, SQLITE_TRANSIENT);
            free(vt);
            sqlite3_bind_text(st, 7, json_string_value(json_object_get(pj, "location")), -1,
                              SQLITE_TRANSIENT);
        }
        sqlite3_bind_int64(st, 1, table_id);
        sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, files);
        sqlite3_bind_int64(st, 4, bytes);
        sqlite3_bind_int64(st, 5, now);
        if ((rc = cat_step_done(c, st, "update partition", err)))
            break;
    }
    return rc;
}

int cat_table_totals(catalog_t *c, int64_t table_id, cat_totals_t *out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT count(*) FILTER (WHERE status = 'ok'),"
                        " coalesce(sum(size) FILTER (WHERE status = 'ok'), 0),"
                        " sum(rows) FILTER (WHERE status = 'ok'),"
                        " count(rows) FILTER (WHERE status = 'ok'),"
                        " count(*) FILTER (WHERE status IN ('error', 'mismatch'))"
                        " FROM cat_files WHERE table_id = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, table_id);
    memset(out, 0, sizeof *out);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->files = sqlite3_column_int64(st, 0);
        out->bytes = sqlite3_column_int64(st, 1);
        /* A table's row count is known only when every file's is. */
        out->rows = out->files && sqlite3_column_int64(st, 3) == out->files
                        ? sqlite3_column_int64(st, 2)
                        : -1;
        out->bad = sqlite3_column_int64(st, 4);
    } else {
        rc = db_fail(c->db, step, err, "count table files");
    }
    db_done(c->db, st);
    return rc;
}

int cat_snapshot_files_mark(catalog_t *c, int64_t table_id, int64_t snap,
                            const catalog_snap_file_t *adds, size_t nadds,
                            const char *const *removes, size_t nremoves, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = 0;
    for (size_t i = 0; !rc && i < nremoves; i++) {
        if ((rc = db_prepare(c->db, &st,
                             "UPDATE cat_snapshot_files SET removed = ?3 WHERE table_id = ?1 AND"
                             " key = ?2 AND removed IS NULL",
                             err)))
            break;
        sqlite3_bind_int64(st, 1, table_id);
        sqlite3_bind_text(st, 2, removes[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, snap);
        rc = cat_step_done(c, st, "snapshot removal", err);
    }
    for (size_t i = 0; !rc && i < nadds; i++) {
        if ((rc = db_prepare(c->db, &st,
                             "INSERT OR REPLACE INTO cat_snapshot_files(table_id, key, added, size,"
                             " rows) VALUES(?1, ?2, ?3, ?4, ?5)",
                             err)))
            break;
        sqlite3_bind_int64(st, 1, table_id);
        sqlite3_bind_text(st, 2, adds[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, snap);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)adds[i].size);
        if (adds[i].rows >= 0)
            sqlite3_bind_int64(st, 5, adds[i].rows);
        rc = cat_step_done(c, st, "snapshot addition", err);
    }
    return rc;
}

int cat_snapshot_insert(catalog_t *c, const cat_snapshot_t *s, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "INSERT INTO cat_snapshots(table_id, id, created_ms, operation, added,"
                        " removed, files, bytes, summary, schema_version, partition_keys)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, s->table_id);
    sqlite3_bind_int64(st, 2, s->id);
    sqlite3_bind_int64(st, 3, time_now_ms());
    sqlite3_bind_text(st, 4, s->operation, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, s->added);
    sqlite3_bind_int64(st, 6, s->removed);
    sqlite3_bind_int64(st, 7, s->files);
    sqlite3_bind_int64(st, 8, s->bytes);
    sqlite3_bind_text(st, 9, s->summary ? s->summary : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, s->schema_version);
    sqlite3_bind_text(st, 11, s->partition_keys ? s->partition_keys : "[]", -1, SQLITE_STATIC);
    return cat_step_done(c, st, "add snapshot", err);
}

static int finish_table(batch_t *b, touched_t *t)
{
    int rc = evolve_schema(b, t);
    sqlite3_stmt *st;
    if (rc || (rc = db_prepare(b->c->db, &st,
                               "UPDATE cat_files SET schema_version = ?2 WHERE table_id = ?1"
                               " AND status = 'ok' AND schema_version IS NULL",
                               b->err)))
        return rc;
    sqlite3_bind_int64(st, 1, t->t.id);
    sqlite3_bind_int64(st, 2, t->t.schema_version);
    cat_totals_t tot;
    if ((rc = cat_step_done(b->c, st, "stamp schema version", b->err)) ||
        (rc = cat_partitions_recount(b->c, t->t.id, t->parts, b->err)) ||
        (rc = cat_table_totals(b->c, t->t.id, &tot, b->err)))
        return rc;
    char reason[300];
    snprintf(reason, sizeof reason,
             "%lld file%s could not be registered; see `tarn table files %s.%s.%s`",
             (long long)tot.bad, tot.bad == 1 ? "" : "s", t->t.zone, t->t.db, t->t.name);
    char *opts = t->t.options ? cat_json_text(t->t.options) : strdup("{}");
    char *pk = t->t.partition_keys ? cat_json_text(t->t.partition_keys) : strdup("[]");
    if (t->nadds || t->nremoves) {
        cat_snapshot_t snap = {.table_id = t->t.id, .id = t->t.snapshot + 1,
                               .operation = "crawl", .added = (int64_t)t->nadds,
                               .removed = (int64_t)t->nremoves, .files = tot.files,
                               .bytes = tot.bytes, .schema_version = t->t.schema_version,
                               .partition_keys = pk ? pk : "[]"};
        if ((rc = cat_snapshot_files_mark(b->c, t->t.id, snap.id, t->adds, t->nadds,
                                          t->removes, t->nremoves, b->err)) ||
            (rc = cat_snapshot_insert(b->c, &snap, b->err)))
            goto done;
        t->t.snapshot = snap.id;
    }
    if ((rc = db_prepare(b->c->db, &st,
                         "UPDATE cat_tables SET format = ?2, options = ?3, partition_keys = ?4,"
                         " files = ?5, bytes = ?6, rows = ?7, error_files = ?8, status = ?9,"
                         " status_reason = ?10, snapshot = ?11, updated_ms = ?12 WHERE id = ?1",
                         b->err)))
        goto done;
    sqlite3_bind_int64(st, 1, t->t.id);
    sqlite3_bind_text(st, 2, t->t.format, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, opts ? opts : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, pk ? pk : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, tot.files);
    sqlite3_bind_int64(st, 6, tot.bytes);
    if (tot.rows >= 0)
        sqlite3_bind_int64(st, 7, tot.rows);
    sqlite3_bind_int64(st, 8, tot.bad);
    sqlite3_bind_text(st, 9, tot.bad ? "error" : "ok", -1, SQLITE_STATIC);
    if (tot.bad)
        sqlite3_bind_text(st, 10, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, t->t.snapshot);
    sqlite3_bind_int64(st, 12, time_now_ms());
    if ((rc = cat_step_done(b->c, st, "update table", b->err)))
        goto done;
    if (t->created || t->meta_dirty)
        rc = cat_search_refresh(b->c, t->t.id, b->err);
done:
    free(opts);
    free(pk);
    return rc;
}
int catalog_files_apply(catalog_t *c, const catalog_file_in_t *files, size_t n,
                        const catalog_file_ref_t *removed, size_t nremoved, const char *cursor,
                        int64_t cursor_pos, catalog_apply_stats_t *st, tarn_err_t *err)
{
    catalog_apply_stats_t local = {0};
    batch_t b = {.c = c, .st = st ? st : &local, .err = err};
    memset(b.st, 0, sizeof *b.st);
    int rc = db_exec(c->db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < nremoved; i++)
        rc = apply_removal(&b, &removed[i]);
    for (size_t i = 0; !rc && i < n; i++)
        rc = apply_file(&b, &files[i]);
    for (size_t i = 0; !rc && i < b.n; i++)
        rc = finish_table(&b, &b.v[i]);
    b.st->tables_changed = b.n;
    if (!rc && cursor) {
        sqlite3_stmt *q;
        if (!(rc = db_prepare(c->db, &q,
                              "INSERT OR REPLACE INTO cat_cursors(name, position) VALUES(?1, ?2)",
                              err))) {
            sqlite3_bind_text(q, 1, cursor, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, cursor_pos);
            rc = cat_step_done(c, q, "record crawl position", err);
        }
    }
    rc = rc ? (db_exec(c->db, "ROLLBACK", NULL), rc) : db_exec(c->db, "COMMIT", err);
    for (size_t i = 0; i < b.n; i++)
        touched_free(&b.v[i]);
    free(b.v);
    return rc;
}

int catalog_cursor_get(catalog_t *c, const char *cursor, int64_t *pos, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st, "SELECT position FROM cat_cursors WHERE name = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, cursor, -1, SQLITE_STATIC);
    *pos = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_done(c->db, st);
    return 0;
}

bool catalog_file_unchanged(catalog_t *c, const char *zone, const char *key, uint64_t size,
                            const char *etag)
{
    sqlite3_stmt *st;
    if (db_prepare(c->db, &st,
                   "SELECT 1 FROM cat_files WHERE zone = ?1 AND key = ?2 AND size = ?3 AND etag = ?4",
                   NULL))
        return false;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
    sqlite3_bind_text(st, 4, etag, -1, SQLITE_STATIC);
    bool same = sqlite3_step(st) == SQLITE_ROW;
    db_done(c->db, st);
    /* Files of managed tables are skipped by catalog_files_apply anyway; saying so here
     * spares the crawl reading them. */
    bool managed = false;
    if (!same && key_managed(c, zone, key, &managed, NULL))
        managed = false;
    return same || managed;
}

int catalog_files_each(catalog_t *c, const char *zone, const char *prefix,
                       int (*cb)(void *ctx, const char *key), void *ctx, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        /* A key range the primary key serves: every key starting with the
                         * prefix sorts below the prefix followed by U+10FFFF. */
                        "SELECT key FROM cat_files WHERE zone = ?1 AND key >= ?2"
                        " AND key < ?2 || char(1114111) ORDER BY key",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = cb(ctx, (const char *)sqlite3_column_text(st, 0));
    db_done(c->db, st);
    return rc;
}
