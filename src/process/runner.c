/* The runner's threads: run threads claim queued runs and carry each through its owner
 * check, its steps and its commit (or its failure, retried with backoff); the scheduler
 * turns triggers into queued runs and stops runs past their timeout. See runner.h. */
#include "process/pipelines.h"
#include "process/runner_internal.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one run ---- */

static bool stopped(runner_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* The owner as a principal, checked now: the user exists, and may write every target
 * (INSERT on an existing table, CREATE_TABLE on the database of a new one). */
static int check_owner(run_ctx_t *ctx, tarn_err_t *err)
{
    iam_user_t u;
    arena_t *a = arena_create();
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    tarn_err_t e = {0};
    int rc = iam_user_get(ctx->r->o.iam, ctx->claim.owner, &u, a, &e);
    bool admin = !rc && u.admin;
    int64_t id = rc ? 0 : u.id;
    arena_free(a);
    if (rc)
        return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                          "the pipeline's owner '%s' is not a user any more; apply the spec"
                          " again with an owner who is",
                          ctx->claim.owner);
    if (id != ctx->claim.owner_id)
        return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                          "the pipeline's owner '%s' was deleted, and the user of that name now"
                          " is another principal; apply the spec again to make it theirs",
                          ctx->claim.owner);
    ctx->owner = (authz_principal_t){
        .name = ctx->claim.owner, .id = id, .admin = admin, .grants = ctx->r->o.grants};
    for (size_t i = 0; i < ctx->spec->n_steps; i++) {
        const pipeline_step_t *s = &ctx->spec->steps[i];
        if (s->is_quality)
            continue;
        catalog_name_t n;
        char managed[200], res[400];
        if (!catalog_name_parse(&n, s->target.table))
            continue;
        int64_t snap;
        bool exists = !catalog_table_state(ctx->r->o.catalog, n.zone, n.db, n.table, &snap,
                                           managed, sizeof managed, &e);
        snprintf(res, sizeof res, "table/%s", s->target.table);
        authz_decision_t d;
        if (authz_check(&ctx->owner, exists ? "catalog:Insert" : "catalog:CreateTable", res, &d))
            return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                              "the pipeline's owner '%s' may not write %s: %s (%s); grant it"
                              " with `tarn grant %s ON %s TO user:%s`",
                              ctx->claim.owner, s->target.table,
                              exists ? "no INSERT grant on the table"
                                     : "no CREATE_TABLE grant on its database",
                              d.rule, exists ? "INSERT" : "CREATE_TABLE",
                              exists ? s->target.table : "DATABASE", ctx->claim.owner);
    }
    return 0;
}

static void ctx_free(run_ctx_t *ctx)
{
    for (size_t i = 0; ctx->steps && i < ctx->spec->n_steps; i++) {
        step_run_t *sr = &ctx->steps[i];
        free(sr->staged);
        free(sr->quarantine);
        json_decref(sr->rules);
        output_files_free(&sr->out);
        free(sr->columns);
        free(sr->partition_keys);
        json_decref(sr->removes);
        pthread_mutex_destroy(&sr->cancel.mu);
    }
    free(ctx->steps);
    free(ctx->reach);
    pipeline_spec_free(ctx->spec);
    free(ctx->claim.spec);
    run_store_marks_free(ctx->marks);
    json_decref(ctx->read);
    if (ctx->conn) {
        tarn_err_t e = {0};
        run_watch_conn(&ctx->cancel, NULL, &e);
        engine_disconnect(ctx->conn);
    }
    pthread_mutex_destroy(&ctx->cancel.mu);
    if (ctx->dir[0])
        fs_remove_tree(ctx->dir);
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cv);
}

static void track(runner_t *r, run_ctx_t *ctx, bool add)
{
    pthread_mutex_lock(&r->mu);
    if (add) {
        ctx->next = r->active;
        r->active = ctx;
        worker_wake(r->sched); /* its timeout is a deadline of the scheduler's */
    } else {
        for (run_ctx_t **p = &r->active; *p; p = &(*p)->next)
            if (*p == ctx) {
                *p = ctx->next;
                break;
            }
    }
    pthread_mutex_unlock(&r->mu);
}

/* Queues the runs of pipelines that run after this one succeeded. */
static void trigger_after(runner_t *r, const char *name)
{
    db_t *db = catalog_db(r->o.catalog);
    sqlite3_stmt *st;
    tarn_err_t e = {0};
    if (db_prepare(db, &st,
                   "SELECT p.name, p.spec FROM proc_pipeline_state s JOIN proc_pipelines p ON"
                   " p.name = s.name AND p.version = s.version WHERE NOT s.deleted",
                   &e))
        return;
    json_t *names = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *yaml = (const char *)sqlite3_column_text(st, 1);
        pipeline_spec_t *spec = NULL;
        if (pipeline_spec_parse(yaml, strlen(yaml), &spec, &e))
            continue;
        for (size_t i = 0; i < spec->after.n; i++)
            if (!strcmp(spec->after.items[i], name))
                json_array_append_new(names, json_string(spec->name));
        pipeline_spec_free(spec);
    }
    db_done(db, st);
    size_t i;
    json_t *n;
    char trig[100];
    snprintf(trig, sizeof trig, "after:%s", name);
    json_array_foreach(names, i, n)
    {
        if (!pipelines_run_request(r->o.catalog, json_string_value(n), trig, false, NULL, NULL,
                                   NULL, &e))
            log_info("pipeline run queued", "pipeline", json_string_value(n), "trigger", trig);
    }
    json_decref(names);
}

/* A run read its new-data inputs at the snapshots it recorded: those count as seen, so
 * the data it processed does not trigger another run (a manual run right after the
 * pipeline was applied, say). Data landing since still does. */
static void note_seen(runner_t *r, const run_ctx_t *ctx)
{
    json_t *seen = json_object();
    for (size_t i = 0; i < ctx->spec->on_new_data.n; i++) {
        const char *in = ctx->spec->on_new_data.items[i];
        json_t *snap = json_object_get(json_object_get(ctx->read, in), "snapshot");
        if (snap)
            json_object_set(seen, in, snap);
    }
    char *text = json_object_size(seen) ? json_dumps(seen, JSON_COMPACT) : NULL;
    json_decref(seen);
    if (!text)
        return;
    db_t *db = catalog_db(r->o.catalog);
    sqlite3_stmt *st;
    tarn_err_t e = {0};
    if (!db_prepare(db, &st,
                    "UPDATE proc_pipeline_state SET seen = json_patch(seen, ?2),"
                    " pending_since_ms = NULL WHERE name = ?1",
                    &e)) {
        sqlite3_bind_text(st, 1, ctx->claim.pipeline, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        sqlite3_step(st);
        db_done(db, st);
    }
    free(text);
}

/* Compacts the run's targets whose partitions hold too many small files. */
static void compact_targets(runner_t *r, run_ctx_t *ctx)
{
    if (r->o.compact_min_files <= 0)
        return;
    for (size_t i = 0; i < ctx->spec->n_steps; i++) {
        const pipeline_step_t *s = &ctx->spec->steps[i];
        catalog_name_t n;
        if (s->is_quality || !catalog_name_parse(&n, s->target.table))
            continue;
        json_t *out = NULL;
        tarn_err_t e = {0};
        if (runner_compact_auto(r, n.zone, n.db, n.table, s->target.file_size_mb, &out, &e))
            run_store_log(catalog_db(r->o.catalog), ctx->claim.id, "warn", s->name,
                          "automatic compaction of %s failed: %s", s->target.table, e.msg);
        else if (out && json_integer_value(json_object_get(out, "partitions_compacted")))
            run_store_log(catalog_db(r->o.catalog), ctx->claim.id, "info", s->name,
                          "compacted %s: %lld files into %lld", s->target.table,
                          (long long)json_integer_value(json_object_get(out, "files_before")),
                          (long long)json_integer_value(json_object_get(out, "files_after")));
        json_decref(out);
    }
}

static void execute(runner_t *r, run_claim_t *claim)
{
    db_t *db = catalog_db(r->o.catalog);
    run_ctx_t ctx = {.r = r, .claim = *claim};
    pthread_mutex_init(&ctx.mu, NULL);
    pthread_cond_init(&ctx.cv, NULL);
    pthread_mutex_init(&ctx.cancel.mu, NULL);
    ctx.read = json_object();
    tarn_err_t err = {0};
    int rc = pipeline_spec_parse(claim->spec, strlen(claim->spec), &ctx.spec, &err);
    if (!rc && !(ctx.steps = calloc(ctx.spec->n_steps, sizeof *ctx.steps)))
        rc = TARN_ERR(&err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < ctx.spec->n_steps; i++)
        pthread_mutex_init(&ctx.steps[i].cancel.mu, NULL);
    ctx.deadline_ms = time_now_ms() + (ctx.spec ? ctx.spec->timeout_seconds : 3600) * 1000;
    track(r, &ctx, true);
    run_store_log(db, claim->id, "info", NULL, "attempt %lld of %lld started (version %lld, owner %s%s)",
                  (long long)claim->attempt, (long long)claim->max_attempts,
                  (long long)claim->version, claim->owner, claim->replay ? ", replay" : "");
    if (!rc)
        rc = check_owner(&ctx, &err);
    snprintf(ctx.dir, sizeof ctx.dir, "%s/run-%lld-a%lld", r->staging_dir, (long long)claim->id,
             (long long)claim->attempt);
    if (!rc) {
        fs_remove_tree(ctx.dir);
        rc = fs_mkdir_p(ctx.dir, 0700, &err);
    }
    if (!rc)
        rc = engine_connect(r->o.engine, &ctx.conn, &err);
    if (!rc)
        rc = run_watch_conn(&ctx.cancel, ctx.conn, &err);
    if (!rc && ctx.spec->incremental && !claim->replay)
        rc = run_store_marks_load(db, claim->pipeline, &ctx.marks, &err);
    if (!rc && (rc = run_exec_steps(&ctx)))
        snprintf(err.msg, sizeof err.msg, "%s", ctx.error);
    json_t *outputs = NULL;
    bool committed = false;
    if (!rc && !ctx.timed_out && !ctx.stopping)
        committed = !(rc = run_commit(&ctx, &outputs, &err));
    track(r, &ctx, false);
    bool stopping = stopped(r);
    if (committed) {
        char list[600] = "";
        size_t i;
        json_t *o;
        json_array_foreach(outputs, i, o)
        {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s snapshot %lld (%lld rows in %lld files)",
                     l ? ", " : "", json_string_value(json_object_get(o, "table")),
                     (long long)json_integer_value(json_object_get(o, "snapshot")),
                     (long long)json_integer_value(json_object_get(o, "rows")),
                     (long long)json_integer_value(json_object_get(o, "files")));
        }
        run_store_log(db, claim->id, "info", NULL, "committed: %s", *list ? list : "no outputs");
        log_info("pipeline run succeeded", "pipeline", claim->pipeline);
        json_decref(outputs);
        note_seen(r, &ctx);
        compact_targets(r, &ctx);
        trigger_after(r, claim->pipeline);
    } else if (stopping) {
        /* Left running: the next start queues it again and removes what it staged. */
        run_store_log(db, claim->id, "warn", NULL, "stopped with the server; it runs again at the next start");
    } else {
        if (ctx.timed_out)
            snprintf(err.msg, sizeof err.msg, "timed out after %lld seconds (timeout_seconds)",
                     (long long)ctx.spec->timeout_seconds);
        int64_t backoff = ctx.spec ? ctx.spec->backoff_seconds * 1000 : 10000;
        for (int64_t k = 1; k < claim->attempt && backoff < 86400000; k++)
            backoff *= 2;
        bool retry = claim->attempt < claim->max_attempts;
        run_store_log(db, claim->id, "error", NULL, "attempt %lld failed: %s%s",
                      (long long)claim->attempt, err.msg, retry ? "; retrying" : "");
        tarn_err_t e2 = {0};
        json_t *steps = ctx.spec && ctx.steps ? run_steps_json(&ctx) : NULL;
        if (steps)
            run_store_steps(db, claim->id, steps, &e2);
        json_decref(steps);
        run_store_fail(db, claim->id, err.msg, backoff, &e2);
        log_info("pipeline run failed", "pipeline", claim->pipeline, "error", err.msg);
    }
    claim->spec = NULL; /* ctx owns it now */
    ctx_free(&ctx);
}

/* A run thread: sleeps until proc_runs changes (a run queued, a run of the same pipeline
 * ended) or a queued run's backoff ends, then claims and executes runs while any is due. */
static void run_main(worker_t *w, void *arg)
{
    runner_t *r = arg;
    db_t *db = catalog_db(r->o.catalog);
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(w, next)) {
        next = WORKER_FOREVER;
        while (!stopped(r)) {
            run_claim_t claim;
            tarn_err_t err = {0};
            int got = run_store_claim(db, time_now_ms(), &claim, &err);
            if (got > 0) {
                execute(r, &claim);
                continue;
            }
            int64_t due = INT64_MAX, now = time_now_ms();
            if (got < 0 || run_store_next_due(db, &due, &err)) {
                log_info("pipeline runner retrying", "error", err.msg);
                next = time_mono_ms() + 1000;
            } else if (due != INT64_MAX) {
                next = time_mono_ms() + (due > now ? due - now : 0);
            }
            break;
        }
    }
}

/* ---- the scheduler ---- */

typedef struct {
    char name[64];
    int64_t version, next_cron_ms, pending_since_ms;
    char *seen;
} sched_row_t;

struct sched_spec {
    char name[64];
    int64_t version;
    pipeline_spec_t *spec; /* NULL: the text did not parse */
    bool used;             /* by the current pass */
};

/* The parsed spec of row's pipeline version, read and parsed on first use. */
static const pipeline_spec_t *sched_spec(runner_t *r, const sched_row_t *row)
{
    for (size_t i = 0; i < r->nspecs; i++)
        if (r->specs[i].version == row->version && !strcmp(r->specs[i].name, row->name)) {
            r->specs[i].used = true;
            return r->specs[i].spec;
        }
    struct sched_spec *v = realloc(r->specs, (r->nspecs + 1) * sizeof *v);
    if (!v)
        return NULL;
    r->specs = v;
    struct sched_spec *c = &v[r->nspecs++];
    *c = (struct sched_spec){.version = row->version, .used = true};
    snprintf(c->name, sizeof c->name, "%s", row->name);
    db_t *db = catalog_db(r->o.catalog);
    sqlite3_stmt *st;
    tarn_err_t e = {0};
    if (db_prepare(db, &st, "SELECT spec FROM proc_pipelines WHERE name = ?1 AND version = ?2",
                   &e))
        return NULL;
    sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row->version);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *yaml = (const char *)sqlite3_column_text(st, 0);
        if (pipeline_spec_parse(yaml, strlen(yaml), &c->spec, &e))
            c->spec = NULL;
    }
    db_done(db, st);
    return c->spec;
}

/* Forgets the specs the last pass did not use (versions replaced, pipelines deleted). */
static void sched_specs_sweep(runner_t *r, bool all)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nspecs; i++) {
        if (r->specs[i].used && !all) {
            r->specs[i].used = false;
            r->specs[k++] = r->specs[i];
        } else {
            pipeline_spec_free(r->specs[i].spec);
        }
    }
    r->nspecs = k;
}

/* One pipeline's triggers: cron, and new snapshots of its inputs after the window.
 * Returns when they are next to be looked at (wall clock; INT64_MAX: when a snapshot or
 * the pipeline changes). */
static int64_t check_triggers(runner_t *r, const sched_row_t *row, const pipeline_spec_t *spec,
                              int64_t now)
{
    db_t *db = catalog_db(r->o.catalog);
    tarn_err_t e = {0};
    int64_t next = row->next_cron_ms, pending = row->pending_since_ms;
    bool fire_cron = false, fire_data = false;
    if (spec->schedule) {
        if (next <= 0) {
            next = (int64_t)cron_next(&spec->cron, (time_t)(now / 1000)) * 1000;
        } else if (now >= next) {
            fire_cron = true;
            next = (int64_t)cron_next(&spec->cron, (time_t)(now / 1000)) * 1000;
        }
    }
    json_t *seen = json_loads(row->seen ? row->seen : "{}", 0, NULL);
    if (!json_is_object(seen)) {
        json_decref(seen);
        seen = json_object();
    }
    json_t *cur = json_object();
    bool changed = false;
    for (size_t i = 0; i < spec->on_new_data.n; i++) {
        const char *in = spec->on_new_data.items[i];
        catalog_name_t n;
        char managed[200];
        int64_t snap = 0;
        if (catalog_name_parse(&n, in) &&
            catalog_table_state(r->o.catalog, n.zone, n.db, n.table, &snap, managed,
                                sizeof managed, &e))
            snap = 0;
        json_object_set_new(cur, in, json_integer((json_int_t)snap));
        if (snap && json_integer_value(json_object_get(seen, in)) != snap)
            changed = true;
    }
    if (changed && pending <= 0)
        pending = now;
    if (changed && now - pending >= spec->batch_window_seconds * 1000) {
        fire_data = true;
        pending = 0;
    }
    if (fire_cron && !pipelines_run_request(r->o.catalog, spec->name, "schedule", false, NULL,
                                            NULL, NULL, &e))
        log_info("pipeline run queued", "pipeline", spec->name, "trigger", "schedule");
    if (fire_data && !pipelines_run_request(r->o.catalog, spec->name, "new_data", false, NULL,
                                            NULL, NULL, &e))
        log_info("pipeline run queued", "pipeline", spec->name, "trigger", "new_data");
    if (next != row->next_cron_ms || pending != row->pending_since_ms || fire_data) {
        sqlite3_stmt *st;
        char *text = json_dumps(fire_data ? cur : seen, JSON_COMPACT);
        if (text && !db_prepare(db, &st,
                                "UPDATE proc_pipeline_state SET next_cron_ms = ?2,"
                                " pending_since_ms = ?3, seen = ?4 WHERE name = ?1",
                                &e)) {
            sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
            if (next > 0)
                sqlite3_bind_int64(st, 2, next);
            if (pending > 0)
                sqlite3_bind_int64(st, 3, pending);
            sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
            sqlite3_step(st);
            db_done(db, st);
        }
        free(text);
    }
    json_decref(seen);
    json_decref(cur);
    int64_t due = spec->schedule && next > now ? next : INT64_MAX;
    if (changed && !fire_data && pending + spec->batch_window_seconds * 1000 < due)
        due = pending + spec->batch_window_seconds * 1000;
    return due;
}

/* Queues the runs whose triggers fired and times out runs past their deadline; returns
 * when the next trigger or deadline is due (wall clock; INT64_MAX: none). */
static int64_t sched_pass(runner_t *r)
{
    db_t *db = catalog_db(r->o.catalog);
    sqlite3_stmt *st;
    tarn_err_t e = {0};
    int64_t due = INT64_MAX;
    if (db_prepare(db, &st,
                   "SELECT name, version, next_cron_ms, pending_since_ms, seen FROM"
                   " proc_pipeline_state WHERE NOT deleted ORDER BY name",
                   &e))
        return time_now_ms() + 1000; /* look again soon */
    sched_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            sched_row_t *v = realloc(rows, cap * sizeof *v);
            if (!v)
                break;
            rows = v;
        }
        sched_row_t *row = &rows[n++];
        snprintf(row->name, sizeof row->name, "%s", sqlite3_column_text(st, 0));
        row->version = sqlite3_column_int64(st, 1);
        row->next_cron_ms = sqlite3_column_int64(st, 2);
        row->pending_since_ms = sqlite3_column_int64(st, 3);
        row->seen = strdup((const char *)sqlite3_column_text(st, 4));
    }
    db_done(db, st);
    int64_t now = time_now_ms();
    for (size_t i = 0; i < n; i++) {
        const pipeline_spec_t *spec = sched_spec(r, &rows[i]);
        int64_t at = spec ? check_triggers(r, &rows[i], spec, now) : INT64_MAX;
        due = at < due ? at : due;
        free(rows[i].seen);
    }
    free(rows);
    sched_specs_sweep(r, false);
    /* Timeouts. */
    pthread_mutex_lock(&r->mu);
    for (run_ctx_t *c = r->active; c; c = c->next)
        if (!c->timed_out && now > c->deadline_ms) {
            c->timed_out = true;
            pthread_mutex_lock(&c->mu);
            c->failed = true;
            snprintf(c->error, sizeof c->error, "timed out");
            pthread_mutex_unlock(&c->mu);
            run_cancel(c);
        } else if (!c->timed_out && c->deadline_ms + 1 < due) {
            due = c->deadline_ms + 1;
        }
    pthread_mutex_unlock(&r->mu);
    return due;
}

/* Passes at most this often, however many snapshots are committed. */
#define SCHED_PACE_MS 200

/* The scheduler: sleeps until a snapshot is committed (a watch), a pipeline is applied
 * (runner_wake), a run starts or its next trigger or deadline is due, then makes a pass. */
static void sched_main(worker_t *w, void *arg)
{
    runner_t *r = arg;
    int64_t next = WORKER_FOREVER, last = 0;
    while (!worker_wait(w, next) && !worker_sleep(w, last + SCHED_PACE_MS)) {
        int64_t due = sched_pass(r), now = time_now_ms();
        last = time_mono_ms();
        next = due == INT64_MAX ? WORKER_FOREVER : last + (due > now ? due - now : 0);
    }
}

/* ---- start and stop ---- */

/* Runs the last server left running: remove what they staged, queue them again. */
static int recover(runner_t *r, tarn_err_t *err)
{
    db_t *db = catalog_db(r->o.catalog);
    json_t *keys = NULL;
    int rc = run_store_recover(db, &keys, err);
    if (rc)
        return rc;
    run_remove_staged(r->o.store, keys);
    if (json_array_size(keys))
        log_info("pipeline runs recovered", "objects_removed", "yes");
    json_decref(keys);
    return run_store_requeue(db, err);
}

/* A watch of proc_runs: every run thread looks for a run to claim. */
static void wake_runs(void *arg)
{
    runner_t *r = arg;
    for (int i = 0; i < r->nworkers; i++)
        worker_wake(r->workers[i]);
}

int runner_start(runner_t **out, const runner_opts_t *o, tarn_err_t *err)
{
    runner_t *r = calloc(1, sizeof *r);
    if (!r)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    r->o = *o;
    snprintf(r->objects_dir, sizeof r->objects_dir, "%s", o->objects_dir);
    snprintf(r->staging_dir, sizeof r->staging_dir, "%s", o->staging_dir);
    r->o.objects_dir = r->objects_dir;
    r->o.staging_dir = r->staging_dir;
    pthread_mutex_init(&r->mu, NULL);
    r->watches[0] = r->watches[1] = -1;
    int rc = fs_mkdir_p(r->staging_dir, 0700, err);
    if (!rc)
        rc = recover(r, err);
    /* The scheduler first: run threads wake it as runs start. */
    if (!rc)
        rc = worker_start(&r->sched, "pipe-sched", sched_main, r, err);
    int n = o->max_runs > 0 ? o->max_runs : 2;
    if (!rc && !(r->workers = calloc((size_t)n, sizeof *r->workers)))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (; !rc && r->nworkers < n; r->nworkers++)
        rc = worker_start(&r->workers[r->nworkers], "pipe-run", run_main, r, err);
    db_t *db = catalog_db(o->catalog);
    if (!rc && ((r->watches[0] = db_watch(db, "proc_runs", wake_runs, r)) < 0 ||
                (r->watches[1] = db_watch(db, "cat_tables", worker_wake_cb, r->sched)) < 0))
        rc = TARN_ERR(err, TARN_ENOMEM, "cannot watch the catalog for changes");
    if (rc) {
        runner_stop(r);
        return rc;
    }
    *out = r;
    return 0;
}

void runner_wake(runner_t *r)
{
    if (r)
        worker_wake(r->sched);
}

void runner_stop(runner_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    for (run_ctx_t *c = r->active; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        c->stopping = c->failed = true;
        snprintf(c->error, sizeof c->error, "the server is stopping");
        pthread_mutex_unlock(&c->mu);
        run_cancel(c);
    }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < 2; i++)
        db_unwatch(catalog_db(r->o.catalog), r->watches[i]);
    /* The run threads before the scheduler, which a run starting wakes. */
    for (int i = 0; i < r->nworkers; i++)
        worker_stop(r->workers[i]);
    worker_stop(r->sched);
    sched_specs_sweep(r, true);
    free(r->specs);
    free(r->workers);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
