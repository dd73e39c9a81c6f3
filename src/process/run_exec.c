/* Executing a run's steps: a small pool of threads takes the steps in the spec's order as
 * their dependencies finish. A SQL step runs as the pipeline's owner through the query
 * function (the owner's session, narrowed to unprocessed files for incremental runs,
 * with earlier steps' outputs as relations named after them) into a staged Parquet file;
 * a quality step flags rows with the rules they fail, then counts, splits off the
 * quarantined rows and checks table-wide rules. Nothing here touches the lake's tables:
 * run_commit.c does, once every step has passed. */
#include "process/quality.h"
#include "process/runner_internal.h"
#include "util/fs.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const rule_kinds[] = {"not_null", "unique",    "accepted_values", "range",
                                         "regex",    "row_count", "freshness",       "sql"};

json_t *run_steps_json(const run_ctx_t *ctx)
{
    static const char *const states[] = {"pending", "running", "succeeded", "failed", "skipped"};
    json_t *a = json_array();
    for (size_t k = 0; k < ctx->spec->n_steps; k++) {
        size_t i = ctx->spec->order[k];
        const pipeline_step_t *s = &ctx->spec->steps[i];
        const step_run_t *sr = &ctx->steps[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "name", s->name, "kind",
                              s->is_quality ? "quality" : "sql", "status", states[sr->state],
                              "rows_in",
                              sr->rows_in >= 0 ? json_integer((json_int_t)sr->rows_in) : json_null(),
                              "rows_out",
                              (json_int_t)sr->rows_out, "bytes", (json_int_t)sr->bytes,
                              "quarantined", (json_int_t)sr->quarantined);
        char t[25];
        if (sr->started_ms) {
            time_fmt_iso_ms(t, sr->started_ms);
            json_object_set_new(o, "started", json_string(t));
        }
        if (sr->finished_ms) {
            time_fmt_iso_ms(t, sr->finished_ms);
            json_object_set_new(o, "finished", json_string(t));
        }
        json_object_set_new(o, "error", sr->error[0] ? json_string(sr->error) : json_null());
        if (sr->rules)
            json_object_set(o, "rules", sr->rules);
        json_array_append_new(a, o);
    }
    return a;
}

static void cancel_one(runner_cancel_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->cancelled = true;
    if (c->fn)
        c->fn(c->arg);
    pthread_mutex_unlock(&c->mu);
}

void run_cancel(run_ctx_t *ctx)
{
    for (size_t i = 0; ctx->spec && ctx->steps && i < ctx->spec->n_steps; i++)
        cancel_one(&ctx->steps[i].cancel);
    cancel_one(&ctx->cancel);
}

int run_watch_conn(runner_cancel_t *c, engine_conn_t *conn, tarn_err_t *err)
{
    pthread_mutex_lock(&c->mu);
    bool cancelled = c->cancelled;
    c->fn = conn ? (void (*)(void *))engine_interrupt : NULL;
    c->arg = conn;
    pthread_mutex_unlock(&c->mu);
    return cancelled && conn ? TARN_ERR(err, TARN_EBUSY, "the run was stopped") : 0;
}

/* ---- a SQL step ---- */

typedef struct {
    run_ctx_t *ctx;
    int64_t rows_in; /* -1 once a file's row count is unknown */
} read_ctx_t;

static bool scope_include(void *p, const char *table, const char *key)
{
    read_ctx_t *rc = p;
    return !run_store_marks_has(rc->ctx->marks, table, key);
}

/* Lineage and bookmarks: every file a step read, per table. */
static void scope_on_read(void *p, const char *table, int64_t snapshot, const json_t *files)
{
    read_ctx_t *rd = p;
    run_ctx_t *ctx = rd->ctx;
    pthread_mutex_lock(&ctx->mu);
    json_t *t = json_object_get(ctx->read, table);
    if (!t) {
        t = json_pack("{s:I, s:[]}", "snapshot", (json_int_t)snapshot, "files");
        json_object_set_new(ctx->read, table, t);
    }
    json_t *keys = json_object_get(t, "files");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(files, "files"), i, f)
    {
        json_t *rows = json_object_get(f, "rows");
        if (rd->rows_in >= 0)
            rd->rows_in = json_integer_value(rows) >= 0 && json_is_integer(rows)
                              ? rd->rows_in + json_integer_value(rows)
                              : -1;
        /* A table read by two steps lists its files once. */
        const char *key = json_string_value(json_object_get(f, "key"));
        bool seen = false;
        size_t j;
        json_t *k;
        json_array_foreach(keys, j, k) if (!strcmp(json_string_value(k), key))
        {
            seen = true;
            break;
        }
        if (!seen)
            json_array_append_new(keys, json_string(key));
    }
    pthread_mutex_unlock(&ctx->mu);
}

/* Whether step j is step i or something i depends on, directly or not. */
static bool depends(const run_ctx_t *ctx, size_t i, size_t j)
{
    return i == j || ctx->reach[i * ctx->spec->n_steps + j];
}

/* Runs sql as the owner into out, with the outputs of the SQL steps step i depends on
 * as relations (plus `extra` named extra_name when not NULL). */
static int owner_query(run_ctx_t *ctx, size_t i, const char *sql, const char *extra_name,
                       const char *extra_path, bool incremental, runner_output_t *out,
                       int64_t *rows_in, tarn_err_t *err)
{
    const pipeline_spec_t *s = ctx->spec;
    const char **names = calloc(s->n_steps + 1, sizeof *names);
    const char **paths = calloc(s->n_steps + 1, sizeof *paths);
    if (!names || !paths) {
        free(names);
        free(paths);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    size_t n = 0;
    int64_t rel_rows = 0; /* rows of the earlier steps' outputs it may read */
    pthread_mutex_lock(&ctx->mu);
    for (size_t j = 0; j < s->n_steps; j++)
        if (j != i && !s->steps[j].is_quality && ctx->steps[j].state == STEP_DONE &&
            depends(ctx, i, j)) {
            names[n] = s->steps[j].name;
            paths[n++] = ctx->steps[j].staged;
            rel_rows += ctx->steps[j].rows_out;
        }
    pthread_mutex_unlock(&ctx->mu);
    if (extra_name) {
        names[n] = extra_name;
        paths[n++] = extra_path;
    }
    read_ctx_t rd = {ctx, 0};
    catalog_scope_t scope = {.rel_names = names, .rel_paths = paths, .nrels = n,
                             .include = incremental ? scope_include : NULL,
                             .on_read = incremental || rows_in ? scope_on_read : NULL,
                             .ctx = &rd};
    int rc = ctx->r->o.query(ctx->r->o.query_ctx, ctx->claim.owner, sql, &scope, out,
                             &ctx->steps[i].cancel, err);
    if (rows_in)
        *rows_in = rd.rows_in < 0 ? -1 : rd.rows_in + rel_rows;
    free(names);
    free(paths);
    return rc;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (int64_t)st.st_size;
}

/* Whether step i may write its target's files itself, in one pass: nothing else in the
 * run reads its rows (no step depends on it or checks them), and its mode needs no read
 * of the table's current rows (merge and apply_changes do). */
static bool step_direct(const run_ctx_t *ctx, size_t i)
{
    const pipeline_spec_t *s = ctx->spec;
    const pipeline_step_t *st = &s->steps[i];
    if (st->is_quality || st->target.mode == PIPELINE_MODE_MERGE ||
        st->target.mode == PIPELINE_MODE_APPLY_CHANGES)
        return false;
    for (size_t k = 0; k < s->n_steps; k++) {
        const pipeline_step_t *o = &s->steps[k];
        if (k != i && (s->needs[k * s->n_steps + i] ||
                       (o->is_quality && o->quality_table &&
                        !strcmp(o->quality_table, st->target.table))))
            return false;
    }
    return true;
}

/* The step's SQL, ordered by its sort keys when it has some. */
static char *sorted_sql(const pipeline_step_t *s)
{
    buf_t b = BUF_INIT;
    if (!s->target.sort_by.n)
        return strdup(s->sql);
    /* The SELECT as a subquery: without a trailing ';'. */
    size_t len = strlen(s->sql);
    while (len && (s->sql[len - 1] == ';' || s->sql[len - 1] == ' ' || s->sql[len - 1] == '\n' ||
                   s->sql[len - 1] == '\t' || s->sql[len - 1] == '\r'))
        len--;
    buf_printf(&b, "SELECT * FROM (%.*s) AS _tarn_step ORDER BY ", (int)len, s->sql);
    quality_put_idents(&b, &s->target.sort_by, NULL);
    char *out = buf_steal(&b);
    buf_free(&b);
    return out;
}

void run_output_opts(const run_ctx_t *ctx, size_t i, output_opts_t *o, char *dir, size_t dcap,
                     char *prefix, size_t pcap, char *tag, size_t tcap)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    catalog_name_t n = {0};
    catalog_name_parse(&n, s->target.table); /* the spec's parser checked it */
    snprintf(dir, dcap, "%s/%s.out", ctx->dir, s->name);
    snprintf(prefix, pcap, "%s/%s/", n.db, n.table);
    snprintf(tag, tcap, "r%llda%lld", (long long)ctx->claim.id, (long long)ctx->claim.attempt);
    *o = (output_opts_t){.partition_by = &s->target.partition_by, .sort_by = &s->target.sort_by,
                         .file_size_mb = s->target.file_size_mb, .dir = dir, .key_prefix = prefix,
                         .file_tag = tag};
}

/* A step that writes its target's files itself: its query, as the owner, COPYs them
 * into the step's output folder, cut and counted as the commit needs them. */
static int run_direct_step(run_ctx_t *ctx, size_t i, bool incremental, int64_t *rows_in,
                           tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    char dir[PATH_MAX + 300], prefix[300], tag[64];
    output_opts_t oo;
    run_output_opts(ctx, i, &oo, dir, sizeof dir, prefix, sizeof prefix, tag, sizeof tag);
    char *options = NULL, *sql = sorted_sql(s);
    engine_conn_t *conn = NULL;
    runner_output_t out = {.path = dir};
    int rc = sql ? output_copy_options(&oo, &options, err)
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    out.copy_options = options;
    if (rc || (rc = fs_mkdir_p(dir, 0700, err)) ||
        (rc = owner_query(ctx, i, sql, NULL, NULL, incremental, &out, rows_in, err)) ||
        (rc = engine_connect(ctx->r->o.engine, &conn, err)) ||
        (rc = output_columns_json(out.columns, &s->target.partition_by, &sr->columns,
                                  &sr->partition_keys, err)) ||
        (rc = output_collect(conn, &oo, &sr->out, err)))
        goto done;
    sr->direct = true;
    sr->rows_out = (int64_t)out.rows;
    for (size_t f = 0; f < sr->out.n; f++)
        sr->bytes += (int64_t)sr->out.v[f].size;
done:
    if (conn)
        engine_disconnect(conn);
    json_decref(out.columns);
    free(options);
    free(sql);
    return rc;
}

/* A step whose rows the commit writes (or later steps read): its query, as the owner,
 * into <step><suffix>.parquet in the run's folder, which becomes the step's staged rows. */
static int run_staged_step(run_ctx_t *ctx, size_t i, bool incremental, const char *suffix,
                           int64_t *rows_in, tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s%s.parquet", ctx->dir, s->name, suffix);
    runner_output_t out = {.path = path};
    int rc = owner_query(ctx, i, s->sql, NULL, NULL, incremental, &out, rows_in, err);
    if (rc)
        return rc;
    json_decref(out.columns);
    char *staged = strdup(path);
    if (!staged)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    pthread_mutex_lock(&ctx->mu);
    free(sr->staged);
    sr->staged = staged;
    sr->rows_in = *rows_in;
    sr->rows_out = (int64_t)out.rows;
    sr->bytes = file_size(path);
    pthread_mutex_unlock(&ctx->mu);
    return 0;
}

static int run_sql_step(run_ctx_t *ctx, size_t i, tarn_err_t *err)
{
    const pipeline_step_t *s = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    bool incremental = ctx->spec->incremental && !ctx->claim.replay;
    int64_t rows_in = 0;
    int rc;
    /* Every SQL step reports what it read, for the snapshot's lineage. */
    if (step_direct(ctx, i)) {
        if ((rc = run_direct_step(ctx, i, incremental, &rows_in, err)))
            return rc;
        pthread_mutex_lock(&ctx->mu);
        sr->rows_in = rows_in;
        pthread_mutex_unlock(&ctx->mu);
    } else if ((rc = run_staged_step(ctx, i, incremental, "", &rows_in, err))) {
        return rc;
    }
    if (s->target.mode == PIPELINE_MODE_APPLY_CHANGES) {
        /* Changes are applied over the table only in order; otherwise (and for a full
         * read) the table is rebuilt from every change of its input. */
        bool late = false;
        if ((rc = apply_changes_check(ctx, i, &late, err)))
            return rc;
        if (late && incremental) {
            run_store_log(catalog_db(ctx->r->o.catalog), ctx->claim.id, "info", s->name,
                          "no change applied yet, or a change older than one applied: "
                          "rebuilding %s from all of its input", s->target.table);
            bool again;
            if ((rc = run_staged_step(ctx, i, false, ".all", &rows_in, err)) ||
                (rc = apply_changes_check(ctx, i, &again, err)))
                return rc;
        }
        sr->rebuild = late || !incremental;
    }
    if (rows_in >= 0)
        run_store_log(catalog_db(ctx->r->o.catalog), ctx->claim.id, "info", s->name,
                      "read %lld rows, wrote %lld rows", (long long)rows_in,
                      (long long)sr->rows_out);
    else
        run_store_log(catalog_db(ctx->r->o.catalog), ctx->claim.id, "info", s->name,
                      "wrote %lld rows", (long long)sr->rows_out);
    return 0;
}

/* ---- a quality step ---- */

/* The SQL step whose output a quality step checks: its input, or the step that writes
 * its table in this pipeline (and that it depends on); -1 for a lake table. */
static int quality_source(const run_ctx_t *ctx, size_t i)
{
    const pipeline_spec_t *s = ctx->spec;
    const pipeline_step_t *q = &s->steps[i];
    for (size_t j = 0; j < s->n_steps; j++) {
        const pipeline_step_t *st = &s->steps[j];
        if (st->is_quality)
            continue;
        if (q->quality_input ? !strcmp(st->name, q->quality_input)
                             : !strcmp(st->target.table, q->quality_table) && depends(ctx, i, j))
            return (int)j;
    }
    return -1;
}

static void put_names_list(buf_t *b, const pipeline_step_t *q, bool quarantine)
{
    size_t n = 0;
    buf_putc(b, '[');
    for (size_t k = 0; k < q->n_rules; k++)
        if (q->rules[k].quarantine == quarantine && !quality_rule_is_table(&q->rules[k])) {
            buf_puts(b, n++ ? ", " : "");
            quality_put_literal(b, q->rules[k].name);
        }
    buf_puts(b, n ? "]" : "]::VARCHAR[]");
}

/* Runs one statement of the runner's own (steps run side by side: each has its own
 * connection). */
static int own_query(engine_conn_t *conn, const char *sql, engine_rows_t *r, arena_t *a,
                     tarn_err_t *err)
{
    return engine_query(conn, sql, 100000, r, a, err);
}

static int run_quality_step(run_ctx_t *ctx, size_t i, tarn_err_t *err)
{
    const pipeline_step_t *q = &ctx->spec->steps[i];
    step_run_t *sr = &ctx->steps[i];
    db_t *db = catalog_db(ctx->r->o.catalog);
    int src = quality_source(ctx, i);
    char *input = NULL;
    if (src >= 0) {
        pthread_mutex_lock(&ctx->mu);
        input = strdup(ctx->steps[src].staged ? ctx->steps[src].staged : "");
        pthread_mutex_unlock(&ctx->mu);
        if (!input)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    char flagged[PATH_MAX + 300], kept[PATH_MAX + 300], quar[PATH_MAX + 300];
    snprintf(flagged, sizeof flagged, "%s/%s.flagged.parquet", ctx->dir, q->name);
    snprintf(kept, sizeof kept, "%s/%s.kept.parquet", ctx->dir, q->name);
    snprintf(quar, sizeof quar, "%s/%s.quarantine.jsonl", ctx->dir, q->name);
    buf_t b = BUF_INIT;
    arena_t *a = arena_create();
    json_t *results = json_array();
    engine_conn_t *conn = NULL;
    int rc = 0;
    if (!a) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* 1. Flag each row with the row rules it fails, as the owner (rules may hold SQL). */
    quality_flag_sql(&b, q, src >= 0 ? "_tarn_input" : q->quality_table);
    uint64_t total = 0;
    if (!b.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    runner_output_t fo = {.path = flagged};
    rc = owner_query(ctx, i, b.data, src >= 0 ? "_tarn_input" : NULL, input, false, &fo, NULL, err);
    json_decref(fo.columns);
    total = fo.rows;
    if (rc ||
        (rc = engine_connect(ctx->r->o.engine, &conn, err)) ||
        (rc = run_watch_conn(&sr->cancel, conn, err)))
        goto done;
    /* 2. Count failures per rule over the flagged rows. */
    const char *from = arena_sprintf(a, "read_parquet(%s)", engine_quote(a, flagged));
    buf_reset(&b);
    buf_printf(&b,
               "SELECT r, count(*) FROM (SELECT unnest(" QUALITY_FAILED_COL ") AS r FROM %s)"
               " GROUP BY r",
               from);
    engine_rows_t counts;
    if ((rc = own_query(conn, b.data, &counts, a, err)))
        goto done;
    int64_t quarantined = 0;
    bool fail = false;
    char why[1024] = "";
    for (size_t k = 0; k < q->n_rules; k++) {
        const pipeline_rule_t *r = &q->rules[k];
        int64_t failed = 0;
        char detail[300] = "";
        bool passed;
        if (quality_rule_is_table(r)) {
            buf_reset(&b);
            quality_table_sql(&b, r, from);
            engine_rows_t v;
            if ((rc = own_query(conn, b.data, &v, a, err)))
                goto done;
            passed = quality_table_passes(r, v.nrows ? v.cells[0] : NULL, detail, sizeof detail);
        } else {
            for (size_t c = 0; c < counts.nrows; c++)
                if (counts.cells[c * 2] && !strcmp(counts.cells[c * 2], r->name))
                    failed = strtoll(counts.cells[c * 2 + 1], NULL, 10);
            passed = failed == 0;
            if (!passed)
                snprintf(detail, sizeof detail, "%lld of %llu rows fail", (long long)failed,
                         (unsigned long long)total);
        }
        const char *outcome = passed ? "passed" : r->warn ? "warned" : r->quarantine ? "quarantined" : "failed";
        json_array_append_new(results,
                              json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "name", r->name, "check",
                                        rule_kinds[r->kind], "severity", r->warn ? "warn" : "error",
                                        "outcome", outcome, "failed_rows", (json_int_t)failed,
                                        "detail", passed ? "" : detail));
        if (passed)
            continue;
        run_store_log(db, ctx->claim.id, r->warn ? "warn" : "error", q->name, "rule %s: %s",
                      r->name, detail);
        if (!r->warn && !r->quarantine && !fail) {
            fail = true;
            snprintf(why, sizeof why, "quality rule %s failed: %s", r->name, detail);
        }
    }
    /* 3. Quarantine: the rows failing quarantine rules leave the checked output. */
    buf_reset(&b);
    buf_printf(&b, "SELECT count(*) FROM %s WHERE list_has_any(" QUALITY_FAILED_COL ", ", from);
    put_names_list(&b, q, true);
    buf_puts(&b, ")");
    engine_rows_t qn;
    if (!fail && (rc = own_query(conn, b.data, &qn, a, err)))
        goto done;
    quarantined = !fail && qn.nrows && qn.cells[0] ? strtoll(qn.cells[0], NULL, 10) : 0;
    if (quarantined > 0) {
        buf_reset(&b);
        buf_puts(&b, "COPY (SELECT array_to_string(list_intersect(" QUALITY_FAILED_COL ", ");
        put_names_list(&b, q, true);
        buf_printf(&b, "), ',') AS _rule, * EXCLUDE (" QUALITY_FAILED_COL ") FROM %s WHERE"
                       " list_has_any(" QUALITY_FAILED_COL ", ",
                   from);
        put_names_list(&b, q, true);
        buf_printf(&b, ")) TO %s (FORMAT json)", engine_quote(a, quar));
        int64_t n;
        if ((rc = engine_exec(conn, b.data, NULL, &n, err)))
            goto done;
        if (src >= 0) {
            buf_reset(&b);
            buf_printf(&b, "COPY (SELECT * EXCLUDE (" QUALITY_FAILED_COL ") FROM %s WHERE NOT"
                           " list_has_any(" QUALITY_FAILED_COL ", ",
                       from);
            put_names_list(&b, q, true);
            buf_printf(&b, ")) TO %s (FORMAT parquet, COMPRESSION zstd)", engine_quote(a, kept));
            if ((rc = engine_exec(conn, b.data, NULL, &n, err)))
                goto done;
            pthread_mutex_lock(&ctx->mu);
            char *k = strdup(kept);
            if (k) {
                free(ctx->steps[src].staged);
                ctx->steps[src].staged = k;
                ctx->steps[src].rows_out -= quarantined;
            }
            pthread_mutex_unlock(&ctx->mu);
        }
        run_store_log(db, ctx->claim.id, "warn", q->name,
                      "%lld rows quarantined%s", (long long)quarantined,
                      src >= 0 ? "" : " (copied; the checked table is not this pipeline's to change)");
        if (!(sr->quarantine = strdup(quar))) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            goto done;
        }
    }
    pthread_mutex_lock(&ctx->mu);
    sr->rows_in = (int64_t)total;
    sr->rows_out = (int64_t)total - quarantined;
    sr->quarantined = quarantined;
    sr->rules = json_incref(results);
    pthread_mutex_unlock(&ctx->mu);
    if (fail)
        rc = TARN_ERR_R(err, TARN_EINVAL, QualityCheckFailed, "%s", why);
    else
        run_store_log(db, ctx->claim.id, "info", q->name, "%zu rules over %llu rows: %lld quarantined",
                      q->n_rules, (unsigned long long)total, (long long)quarantined);
done:
    if (conn) {
        run_watch_conn(&sr->cancel, NULL, err);
        engine_disconnect(conn);
    }
    json_decref(results);
    buf_free(&b);
    arena_free(a);
    free(input);
    return rc;
}

/* ---- the pool ---- */

static bool step_ready(const run_ctx_t *ctx, size_t i)
{
    size_t n = ctx->spec->n_steps;
    for (size_t j = 0; j < n; j++)
        if (ctx->spec->needs[i * n + j] && ctx->steps[j].state != STEP_DONE)
            return false;
    return true;
}

static void step_worker(void *arg)
{
    run_ctx_t *ctx = arg;
    db_t *db = catalog_db(ctx->r->o.catalog);
    pthread_mutex_lock(&ctx->mu);
    for (;;) {
        size_t pick = SIZE_MAX;
        bool pending = false;
        for (size_t k = 0; k < ctx->spec->n_steps && !ctx->failed; k++) {
            size_t i = ctx->spec->order[k];
            if (ctx->steps[i].state != STEP_PENDING)
                continue;
            pending = true;
            if (step_ready(ctx, i)) {
                pick = i;
                break;
            }
        }
        if (pick == SIZE_MAX) {
            if (ctx->failed || !pending || !ctx->running)
                break; /* nothing left that can ever become ready */
            pthread_cond_wait(&ctx->cv, &ctx->mu);
            continue;
        }
        step_run_t *sr = &ctx->steps[pick];
        sr->state = STEP_RUNNING;
        sr->started_ms = time_now_ms();
        ctx->running++;
        json_t *steps = run_steps_json(ctx);
        pthread_mutex_unlock(&ctx->mu);
        tarn_err_t err = {0};
        run_store_steps(db, ctx->claim.id, steps, &err);
        json_decref(steps);
        const pipeline_step_t *st = &ctx->spec->steps[pick];
        int rc = st->is_quality ? run_quality_step(ctx, pick, &err) : run_sql_step(ctx, pick, &err);
        pthread_mutex_lock(&ctx->mu);
        ctx->running--;
        sr->finished_ms = time_now_ms();
        sr->state = rc ? STEP_FAILED : STEP_DONE;
        if (rc) {
            snprintf(sr->error, sizeof sr->error, "%s", err.msg[0] ? err.msg : "failed");
            if (!ctx->failed) {
                ctx->failed = true;
                snprintf(ctx->error, sizeof ctx->error, "step %s: %s", st->name, sr->error);
            }
        }
        steps = run_steps_json(ctx);
        pthread_cond_broadcast(&ctx->cv);
        pthread_mutex_unlock(&ctx->mu);
        run_store_steps(db, ctx->claim.id, steps, &err);
        json_decref(steps);
        if (rc)
            run_store_log(db, ctx->claim.id, "error", st->name, "%s", sr->error);
        pthread_mutex_lock(&ctx->mu);
    }
    pthread_cond_broadcast(&ctx->cv);
    pthread_mutex_unlock(&ctx->mu);
}

int run_exec_steps(run_ctx_t *ctx)
{
    /* What each step depends on, directly or not, once for the run. */
    size_t ns = ctx->spec->n_steps;
    if (!(ctx->reach = calloc(ns * ns, sizeof *ctx->reach))) {
        snprintf(ctx->error, sizeof ctx->error, "out of memory");
        return TARN_ENOMEM;
    }
    for (size_t k = 0; k < ns; k++) {
        size_t i = ctx->spec->order[k];
        for (size_t j = 0; j < ns; j++)
            if (ctx->spec->needs[i * ns + j]) {
                ctx->reach[i * ns + j] = true;
                for (size_t m = 0; m < ns; m++)
                    ctx->reach[i * ns + m] |= ctx->reach[j * ns + m];
            }
    }
    int n = ctx->r->o.step_workers > 0 ? ctx->r->o.step_workers : 2;
    if ((size_t)n > ctx->spec->n_steps)
        n = (int)ctx->spec->n_steps;
    if (n > 16)
        n = 16;
    worker_fanout("pipe-step", step_worker, ctx, 0, n);
    for (size_t i = 0; i < ctx->spec->n_steps; i++)
        if (ctx->steps[i].state == STEP_PENDING)
            ctx->steps[i].state = STEP_SKIPPED;
    if (!ctx->failed)
        return 0;
    return TARN_EINVAL;
}
