/* apply_changes targets: a curated table kept equal to a source table from its change rows
 * (_op, _source_pos, _old_key, ...; see docs/sources.md). Per key the latest change wins, a
 * delete removes the row, an update that changed the key removes the old one, and a
 * truncate empties the table before the changes after it. DuckDB does the work over the
 * table's current files and the run's staged changes; a partitioned table has only the
 * partitions holding touched keys rewritten. */
#include "process/quality.h"
#include "process/runner_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The change stream's own columns: never written to the target. */
static const char *const meta_cols[] = {"_op", "_source_pos", "_commit_ts", "_txid", "_old_key"};
#define NMETA (sizeof meta_cols / sizeof *meta_cols)

static const json_t *find_col(const json_t *cols, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c) if (!strcmp(json_string_value(json_object_get(c, "name")), name))
        return c;
    return NULL;
}

/* The columns of the staged rows ([{"name", "type"}]). */
static int staged_cols(engine_conn_t *conn, const char *staged, json_t **cols, tarn_err_t *err)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, "SELECT * FROM read_parquet(");
    quality_put_literal(&b, staged);
    buf_puts(&b, ")");
    int rc = b.data ? engine_describe(conn, b.data, NULL, cols, err)
                    : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&b);
    return rc;
}

/* Refuses rows that are not a change stream, or lack a key column. */
static int check_cols(const pipeline_step_t *s, const json_t *cols, tarn_err_t *err)
{
    for (size_t m = 0; m < 2; m++)
        if (!find_col(cols, meta_cols[m]))
            return TARN_ERR(err, TARN_EINVAL,
                            "apply_changes needs change rows: the step's rows have no column %s "
                            "(select the change columns of a source's table, such as SELECT * "
                            "FROM cleaned.db.table)",
                            meta_cols[m]);
    for (size_t k = 0; k < s->target.keys.n; k++)
        if (!find_col(cols, s->target.keys.items[k]))
            return TARN_ERR(err, TARN_EINVAL, "target.keys: the step's rows have no column %s",
                            s->target.keys.items[k]);
    return 0;
}

int apply_changes_check(run_ctx_t *ctx, size_t i, bool *late, tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    engine_conn_t *conn = NULL;
    json_t *cols = NULL;
    arena_t *a = arena_create();
    char applied[64];
    int rc = a ? engine_connect(ctx->r->o.engine, &conn, err)
               : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc || (rc = run_watch_conn(&sr->cancel, conn, err)) ||
        (rc = staged_cols(conn, sr->staged, &cols, err)) || (rc = check_cols(s, cols, err)) ||
        (rc = run_store_position_get(catalog_db(ctx->r->o.catalog), ctx->claim.pipeline,
                                     s->target.table, applied, sizeof applied, err)))
        goto done;
    engine_rows_t r;
    const char *sql = arena_sprintf(a, "SELECT min(_source_pos), max(_source_pos) FROM"
                                       " read_parquet(%s)",
                                    engine_quote(a, sr->staged));
    if ((rc = engine_query(conn, sql, 1, &r, a, err)))
        goto done;
    const char *lo = r.nrows ? r.cells[0] : NULL, *hi = r.nrows ? r.cells[1] : NULL;
    snprintf(sr->position, sizeof sr->position, "%s", hi ? hi : "");
    /* Positions sort as text in commit order. */
    *late = !*applied || (lo && strcmp(lo, applied) <= 0);
done:
    if (conn) {
        run_watch_conn(&sr->cancel, NULL, err);
        engine_disconnect(conn);
    }
    json_decref(cols);
    arena_free(a);
    return rc;
}

/* "s.k IS NOT DISTINCT FROM t.k AND ..." over names. */
static void put_match(buf_t *b, const pipeline_names_t *names, const char *l, const char *r)
{
    for (size_t k = 0; k < names->n; k++) {
        buf_printf(b, "%s%s.", k ? " AND " : "", l);
        quality_put_ident(b, names->items[k]);
        buf_printf(b, " IS NOT DISTINCT FROM %s.", r);
        quality_put_ident(b, names->items[k]);
    }
}

/* The key column k as the update's old key gave it (_old_key is JSON text). */
static void put_old_key(buf_t *b, const json_t *cols, const char *k)
{
    buf_puts(b, "TRY_CAST(_old_key ->> ");
    quality_put_literal(b, k);
    buf_printf(b, " AS %s)", json_string_value(json_object_get(find_col(cols, k), "type")));
}

/* The latest change per key of the staged rows after the last truncate, as temp table
 * _tarn_ac_last: the rows themselves (a delete's key taken from _old_key when it lacks
 * one), plus a delete of the old key of each update that changed it. */
static void put_latest(buf_t *b, const pipeline_step_t *s, const json_t *cols, const char *staged)
{
    const pipeline_names_t *keys = &s->target.keys;
    bool old = find_col(cols, "_old_key") != NULL;
    buf_puts(b, "CREATE OR REPLACE TEMP TABLE _tarn_ac_last AS WITH ch AS (SELECT * FROM"
                " read_parquet(");
    quality_put_literal(b, staged);
    buf_puts(b, ")), cut AS (SELECT coalesce(max(_source_pos) FILTER (WHERE _op = 't'), '') AS p"
                " FROM ch), ev AS (SELECT * ");
    if (old) {
        buf_puts(b, "REPLACE (");
        for (size_t k = 0; k < keys->n; k++) {
            buf_puts(b, k ? ", CASE WHEN _op = 'd' THEN coalesce(" : "CASE WHEN _op = 'd' THEN coalesce(");
            quality_put_ident(b, keys->items[k]);
            buf_puts(b, ", ");
            put_old_key(b, cols, keys->items[k]);
            buf_puts(b, ") ELSE ");
            quality_put_ident(b, keys->items[k]);
            buf_puts(b, " END AS ");
            quality_put_ident(b, keys->items[k]);
        }
        buf_puts(b, ") ");
    }
    buf_puts(b, "FROM ch WHERE _op <> 't' AND _source_pos > (SELECT p FROM cut)");
    if (old) {
        buf_puts(b, " UNION ALL BY NAME SELECT ");
        for (size_t k = 0; k < keys->n; k++) {
            put_old_key(b, cols, keys->items[k]);
            buf_puts(b, " AS ");
            quality_put_ident(b, keys->items[k]);
            buf_puts(b, ", ");
        }
        buf_puts(b, "_source_pos, 'd' AS _op FROM ch WHERE _op = 'u' AND _old_key IS NOT NULL"
                    " AND _source_pos > (SELECT p FROM cut)");
        /* Whole old rows (REPLICA IDENTITY FULL) name the key even when it did not change. */
        for (size_t k = 0; k < keys->n; k++) {
            buf_puts(b, " AND ");
            put_old_key(b, cols, keys->items[k]);
            buf_puts(b, " IS NOT NULL");
        }
        buf_puts(b, " AND NOT (");
        for (size_t k = 0; k < keys->n; k++) {
            buf_puts(b, k ? " AND " : "");
            put_old_key(b, cols, keys->items[k]);
            buf_puts(b, " IS NOT DISTINCT FROM ");
            quality_put_ident(b, keys->items[k]);
        }
        buf_puts(b, ")");
    }
    buf_puts(b, ") SELECT * FROM ev QUALIFY row_number() OVER (PARTITION BY ");
    quality_put_idents(b, keys, NULL);
    buf_puts(b, " ORDER BY _source_pos DESC) = 1");
}

/* The rows that stay or arrive: the kept rows of the base (in the partitions given by
 * _tarn_ac_parts when parts), then every key's latest version that is not a delete. */
static void put_result(buf_t *b, const pipeline_step_t *s, const json_t *cols, const char *base,
                       bool parts)
{
    if (base) {
        buf_printf(b, "SELECT * FROM %s AS t WHERE ", base);
        if (parts) {
            buf_puts(b, "EXISTS (SELECT 1 FROM _tarn_ac_parts AS p WHERE ");
            put_match(b, &s->target.partition_by, "p", "t");
            buf_puts(b, ") AND ");
        }
        buf_puts(b, "NOT EXISTS (SELECT 1 FROM _tarn_ac_last AS s WHERE ");
        put_match(b, &s->target.keys, "s", "t");
        buf_puts(b, ") UNION ALL BY NAME ");
    }
    buf_puts(b, "SELECT * EXCLUDE (");
    size_t n = 0;
    for (size_t m = 0; m < NMETA; m++)
        if (find_col(cols, meta_cols[m])) {
            buf_puts(b, n++ ? ", " : "");
            quality_put_ident(b, meta_cols[m]);
        }
    buf_puts(b, ") FROM _tarn_ac_last WHERE _op <> 'd'");
}

/* Partitioned and updated in place: the partitions holding touched keys (where their
 * rows were, where their new versions go) as temp table _tarn_ac_parts, and the current
 * files in them, which the rewrite replaces, into removes. */
static int touched_partitions(run_ctx_t *ctx, const pipeline_step_t *s, const char *zdir,
                              const json_t *cur_keys, const char *parts, const char *base,
                              json_t *removes, arena_t *a, tarn_err_t *err)
{
    const pipeline_names_t *pb = &s->target.partition_by;
    buf_t b = BUF_INIT;
    buf_puts(&b, "CREATE OR REPLACE TEMP TABLE _tarn_ac_parts AS SELECT DISTINCT ");
    quality_put_idents(&b, pb, NULL);
    buf_puts(&b, " FROM _tarn_ac_last WHERE _op <> 'd' UNION SELECT DISTINCT ");
    quality_put_idents(&b, pb, "t.");
    buf_printf(&b, " FROM %s AS t WHERE EXISTS (SELECT 1 FROM _tarn_ac_last AS s WHERE ", base);
    put_match(&b, &s->target.keys, "s", "t");
    buf_puts(&b, ")");
    int64_t n;
    int rc = b.data ? engine_exec(ctx->conn, b.data, NULL, &n, err)
                    : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc)
        goto done;
    buf_reset(&b);
    buf_puts(&b, "SELECT DISTINCT _tarn_file FROM ");
    output_reader_file_sql(&b, zdir, cur_keys, parts, "_tarn_file");
    buf_puts(&b, " AS t WHERE EXISTS (SELECT 1 FROM _tarn_ac_parts AS p WHERE ");
    put_match(&b, pb, "p", "t");
    buf_puts(&b, ")");
    engine_rows_t r;
    if (!b.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = engine_query(ctx->conn, b.data, SIZE_MAX, &r, a, err)))
        goto done;
    size_t dl = strlen(zdir) + 1;
    for (size_t f = 0; f < r.nrows; f++)
        if (r.cells[f] && strlen(r.cells[f]) > dl && !strncmp(r.cells[f], zdir, dl - 1))
            json_array_append_new(removes, json_string(r.cells[f] + dl));
done:
    buf_free(&b);
    return rc;
}

int apply_changes_write(run_ctx_t *ctx, size_t i, const catalog_name_t *n, const json_t *cur_keys,
                        tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    arena_t *a = arena_create();
    buf_t b = BUF_INIT, base = BUF_INIT;
    json_t *cols = NULL;
    char *cols0 = NULL, *parts0 = NULL;
    int rc = a ? staged_cols(ctx->conn, sr->staged, &cols, err)
               : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc || (rc = check_cols(s, cols, err)))
        goto done;
    const char *staged_q = engine_quote(a, sr->staged);
    engine_rows_t r;
    const char *sql = arena_sprintf(a, "SELECT count(*), count(*) FILTER (WHERE _op = 't') FROM"
                                       " read_parquet(%s)",
                                    staged_q);
    if ((rc = engine_query(ctx->conn, sql, 1, &r, a, err)))
        goto done;
    bool none = r.nrows && r.cells[0] && !strcmp(r.cells[0], "0");
    bool truncated = r.nrows && r.cells[1] && strcmp(r.cells[1], "0");
    sr->removes = json_array();
    if (none && !sr->rebuild)
        goto done; /* nothing changed: the commit records nothing */
    /* The staged rows' partition key types read back the table's hive folders. */
    const char *src = arena_sprintf(a, "SELECT * FROM read_parquet(%s)", staged_q);
    if ((rc = output_columns(ctx->conn, src, &s->target.partition_by, &cols0, &parts0, err)))
        goto done;
    char zdir[PATH_MAX + 20];
    snprintf(zdir, sizeof zdir, "%s/%s", ctx->r->objects_dir, n->zone);
    /* The current rows count unless the table is rebuilt or was truncated. */
    bool keep = !sr->rebuild && !truncated && json_array_size(cur_keys);
    bool parts = keep && s->target.partition_by.n;
    if (keep)
        output_reader_sql(&base, zdir, cur_keys, parts0);
    put_latest(&b, s, cols, sr->staged);
    int64_t cnt;
    if (!b.data || (keep && !base.data)) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = engine_exec(ctx->conn, b.data, NULL, &cnt, err)))
        goto done;
    if (parts) {
        if ((rc = touched_partitions(ctx, s, zdir, cur_keys, parts0, base.data, sr->removes, a,
                                     err)))
            goto done;
    } else {
        json_array_extend(sr->removes, (json_t *)cur_keys);
    }
    buf_reset(&b);
    put_result(&b, s, cols, keep ? base.data : NULL, parts);
    char dir[PATH_MAX + 300], prefix[300], tag[64];
    output_opts_t oo;
    run_output_opts(ctx, i, &oo, dir, sizeof dir, prefix, sizeof prefix, tag, sizeof tag);
    if (!b.data)
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    else if (!(rc = output_columns(ctx->conn, b.data, &s->target.partition_by, &sr->columns,
                                   &sr->partition_keys, err)))
        rc = output_write(ctx->conn, b.data, &oo, &sr->out, err);
done:
    if (a) {
        int64_t ign;
        tarn_err_t e = {0};
        engine_exec(ctx->conn, "DROP TABLE IF EXISTS _tarn_ac_last", NULL, &ign, &e);
        engine_exec(ctx->conn, "DROP TABLE IF EXISTS _tarn_ac_parts", NULL, &ign, &e);
    }
    json_decref(cols);
    free(cols0);
    free(parts0);
    buf_free(&b);
    buf_free(&base);
    arena_free(a);
    return rc;
}
