/* The pipeline registry: applied specs as numbered versions, run records and logs, in
 * the lake's catalog database; see pipelines.h. The runner's own statements on these
 * tables (claiming, finishing, bookmarks) are in run_store.c. */
#include "process/pipelines.h"
#include "process/run_store.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const pipelines_schema[] = {
    /* Every applied change of a spec is a new version; versions are never rewritten. */
    "CREATE TABLE proc_pipelines(name TEXT NOT NULL, version INTEGER NOT NULL,"
    " spec TEXT NOT NULL, owner TEXT NOT NULL, applied_by TEXT, created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(name, version)) WITHOUT ROWID",
    /* Per pipeline: its latest version, whether it was deleted, and the trigger state the
     * scheduler keeps (the next cron fire, input snapshots already seen, since when new
     * data waits in the batching window). */
    "CREATE TABLE proc_pipeline_state(name TEXT PRIMARY KEY, version INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0, next_cron_ms INTEGER, pending_since_ms INTEGER,"
    " seen TEXT NOT NULL DEFAULT '{}', updated_ms INTEGER NOT NULL) WITHOUT ROWID",
    /* Runs: queued -> running -> succeeded | failed | cancelled (a failed attempt with
     * attempts left goes back to queued with next_attempt_ms). staged lists the objects
     * a running attempt has put in the store before its commit, so recovery can remove
     * them. */
    "CREATE TABLE proc_runs(id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL,"
    " version INTEGER NOT NULL, trigger TEXT NOT NULL, replay INTEGER NOT NULL DEFAULT 0,"
    " status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,"
    " queued_ms INTEGER NOT NULL, started_ms INTEGER, finished_ms INTEGER,"
    " next_attempt_ms INTEGER NOT NULL DEFAULT 0, error TEXT, steps TEXT NOT NULL DEFAULT '[]',"
    " outputs TEXT NOT NULL DEFAULT '[]', staged TEXT NOT NULL DEFAULT '[]', requested_by TEXT)",
    "CREATE INDEX proc_runs_pipeline ON proc_runs(pipeline, id)",
    "CREATE INDEX proc_runs_status ON proc_runs(status, next_attempt_ms)",
    "CREATE TABLE proc_run_logs(seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL, level TEXT NOT NULL, step TEXT, message TEXT NOT NULL)",
    "CREATE INDEX proc_run_logs_run ON proc_run_logs(run_id, seq)",
    /* The input files an incremental pipeline has processed, per input table. */
    "CREATE TABLE proc_bookmarks(pipeline TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL,"
    " run_id INTEGER NOT NULL, PRIMARY KEY(pipeline, tbl, key)) WITHOUT ROWID",
    /* The owner's principal id: a user deleted and created again under the same name is
     * another principal, and owns none of the old one's pipelines. */
    "ALTER TABLE proc_pipelines ADD COLUMN owner_id INTEGER",
    /* Per apply_changes target: the highest change position applied, so that a change
     * file promoted after a later one is noticed (the table is then rebuilt). */
    "CREATE TABLE proc_apply_positions(pipeline TEXT NOT NULL, tbl TEXT NOT NULL,"
    " position TEXT NOT NULL, PRIMARY KEY(pipeline, tbl)) WITHOUT ROWID",
};

int pipelines_init(db_t *db, tarn_err_t *err)
{
    int rc = db_migrate(db, "pipelines", pipelines_schema,
                        (int)(sizeof pipelines_schema / sizeof *pipelines_schema), err);
    if (rc)
        return rc;
    /* Versions applied before owners had ids get the id their owner has now (once: the
     * next start finds none without one). Where there are no users (a registry alone),
     * there is nothing to bind. */
    sqlite3_stmt *st;
    if ((rc = db_prepare(db, &st, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
                                  " name = 'users'", err)))
        return rc;
    bool users = sqlite3_step(st) == SQLITE_ROW;
    db_done(db, st);
    return users ? db_exec(db,
                           "UPDATE proc_pipelines SET owner_id = (SELECT id FROM users WHERE"
                           " users.name = proc_pipelines.owner) WHERE owner_id IS NULL",
                           err)
                 : 0;
}

/* A JSON array column (an empty array when it holds none). */
static json_t *array_col(sqlite3_stmt *st, int col)
{
    json_t *j = db_col_json(st, col);
    return json_is_array(j) ? j : (json_decref(j), json_array());
}

json_t *run_store_row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "pipeline", db_col_text(st, 1));
    json_object_set_new(o, "version", json_integer(sqlite3_column_int64(st, 2)));
    json_object_set_new(o, "trigger", db_col_text(st, 3));
    json_object_set_new(o, "replay", json_boolean(sqlite3_column_int(st, 4)));
    json_object_set_new(o, "status", db_col_text(st, 5));
    json_object_set_new(o, "attempt", json_integer(sqlite3_column_int64(st, 6)));
    json_object_set_new(o, "max_attempts", json_integer(sqlite3_column_int64(st, 7)));
    json_object_set_new(o, "queued", db_col_time(st, 8));
    json_object_set_new(o, "started", db_col_time(st, 9));
    json_object_set_new(o, "finished", db_col_time(st, 10));
    const unsigned char *status = sqlite3_column_text(st, 5);
    bool waiting =
        status && !strcmp((const char *)status, "queued") && sqlite3_column_int64(st, 11) > 0;
    json_object_set_new(o, "next_attempt", waiting ? db_col_time(st, 11) : json_null());
    json_object_set_new(o, "error", db_col_text(st, 12));
    json_object_set_new(o, "steps", array_col(st, 13));
    json_object_set_new(o, "outputs", array_col(st, 14));
    json_object_set_new(o, "requested_by", db_col_text(st, 15));
    return o;
}

/* ---- specs ---- */

static int latest(catalog_t *c, const char *name, int64_t *version, bool *deleted, tarn_err_t *err)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc = db_prepare(db, &st, "SELECT version, deleted FROM proc_pipeline_state WHERE name = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    *version = 0;
    *deleted = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *deleted = sqlite3_column_int(st, 1) != 0;
    }
    db_done(db, st);
    return 0;
}

static int no_such(tarn_err_t *err, const char *name)
{
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchPipeline,
                      "no pipeline is named '%s' (see `tarn pipeline list`)", name);
}

int pipelines_apply(catalog_t *c, const char *yaml, size_t len, const char *applier,
                    int64_t owner_id, json_t **out, tarn_err_t *err)
{
    pipeline_spec_t *spec = NULL;
    int rc = pipeline_spec_parse(yaml, len, &spec, err);
    if (rc) {
        if (rc == TARN_EINVAL)
            err->reason = TARN_R_InvalidPipelineSpec;
        return rc;
    }
    db_t *db = catalog_db(c);
    const char *owner = spec->owner ? spec->owner : applier;
    int64_t version = 0;
    bool deleted = false, changed = true;
    if ((rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        goto done;
    if ((rc = latest(c, spec->name, &version, &deleted, err)))
        goto rollback;
    sqlite3_stmt *st;
    if (version) {
        if ((rc = db_prepare(db, &st,
                             "SELECT spec = ?3 AND owner = ?4 AND owner_id IS ?5 FROM"
                             " proc_pipelines WHERE name = ?1 AND version = ?2",
                             err)))
            goto rollback;
        sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, version);
        sqlite3_bind_text(st, 3, yaml, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, owner_id);
        changed = sqlite3_step(st) != SQLITE_ROW || !sqlite3_column_int(st, 0);
        db_done(db, st);
    }
    int64_t now = time_now_ms();
    if (changed || deleted) {
        if (changed)
            version++;
        if (changed && (rc = db_prepare(db, &st,
                                        "INSERT INTO proc_pipelines(name, version, spec, owner,"
                                        " applied_by, created_ms, owner_id) VALUES(?1, ?2, ?3,"
                                        " ?4, ?5, ?6, ?7)",
                                        err)))
            goto rollback;
        if (changed) {
            sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, version);
            sqlite3_bind_text(st, 3, yaml, (int)len, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 5, applier, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 6, now);
            sqlite3_bind_int64(st, 7, owner_id);
            int step = sqlite3_step(st);
            db_done(db, st);
            if (step != SQLITE_DONE) {
                rc = db_fail(db, step, err, "record pipeline");
                goto rollback;
            }
        }
        /* A new version starts its schedule afresh; the inputs' seen snapshots stay, so
         * re-applying does not re-trigger on data already seen. */
        if ((rc = db_prepare(db, &st,
                             "INSERT INTO proc_pipeline_state(name, version, deleted, updated_ms)"
                             " VALUES(?1, ?2, 0, ?3) ON CONFLICT(name) DO UPDATE SET"
                             " version = ?2, deleted = 0, next_cron_ms = NULL, updated_ms = ?3",
                             err)))
            goto rollback;
        sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, version);
        sqlite3_bind_int64(st, 3, now);
        int step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE) {
            rc = db_fail(db, step, err, "record pipeline state");
            goto rollback;
        }
    }
    if ((rc = db_exec(db, "COMMIT", err)))
        goto rollback;
    *out = json_pack("{s:s, s:I, s:s, s:b, s:b}", "name", spec->name, "version",
                     (json_int_t)version, "owner", owner, "changed", changed || deleted, "created",
                     version == 1 && changed);
    goto done;
rollback:
    db_exec(db, "ROLLBACK", NULL);
done:
    pipeline_spec_free(spec);
    return rc;
}

int pipelines_owner(catalog_t *c, const char *name, char *owner, size_t cap, int64_t *owner_id,
                    tarn_err_t *err)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc = db_prepare(db, &st,
                        "SELECT p.owner, p.owner_id FROM proc_pipeline_state s JOIN"
                        " proc_pipelines p ON"
                        " p.name = s.name AND p.version = s.version WHERE s.name = ?1 AND"
                        " NOT s.deleted",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(owner, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        *owner_id = sqlite3_column_int64(st, 1); /* 0: its owner was gone when ids came */
    } else {
        rc = no_such(err, name);
    }
    db_done(db, st);
    return rc;
}

/* The summary of a pipeline from its spec text (a spec that no longer parses, after an
 * upgrade tightened the rules, still lists with what the row says). */
static json_t *summary(const char *name, int64_t version, const char *owner, int64_t owner_id,
                       const char *yaml, int64_t updated_ms, int64_t next_cron_ms)
{
    char t[25];
    time_fmt_iso_ms(t, updated_ms);
    json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:s}", "name", name, "version",
                          (json_int_t)version, "owner", owner, "owner_id", (json_int_t)owner_id,
                          "updated", t);
    pipeline_spec_t *spec = NULL;
    tarn_err_t e = {0};
    if (!pipeline_spec_parse(yaml, strlen(yaml), &spec, &e)) {
        json_object_set_new(o, "description",
                            spec->description ? json_string(spec->description) : json_null());
        json_t *nd = json_array(), *after = json_array(), *steps = json_array();
        for (size_t i = 0; i < spec->on_new_data.n; i++)
            json_array_append_new(nd, json_string(spec->on_new_data.items[i]));
        for (size_t i = 0; i < spec->after.n; i++)
            json_array_append_new(after, json_string(spec->after.items[i]));
        for (size_t k = 0; k < spec->n_steps; k++) {
            const pipeline_step_t *s = &spec->steps[spec->order[k]];
            json_t *so =
                json_pack("{s:s, s:s}", "name", s->name, "kind", s->is_quality ? "quality" : "sql");
            if (!s->is_quality) {
                json_object_set_new(so, "target", json_string(s->target.table));
                json_object_set_new(so, "mode", json_string(pipeline_mode_name(s->target.mode)));
            } else {
                json_object_set_new(
                    so, "checks",
                    json_string(s->quality_input ? s->quality_input : s->quality_table));
                json_object_set_new(so, "rules", json_integer((json_int_t)s->n_rules));
            }
            json_t *deps = json_array();
            for (size_t d = 0; d < s->depends_on.n; d++)
                json_array_append_new(deps, json_string(s->depends_on.items[d]));
            json_object_set_new(so, "depends_on", deps);
            json_array_append_new(steps, so);
        }
        json_object_set_new(o, "triggers",
                            json_pack("{s:o, s:o, s:o}", "on_new_data", nd, "schedule",
                                      spec->schedule ? json_string(spec->schedule) : json_null(),
                                      "after", after));
        json_object_set_new(o, "steps", steps);
        json_object_set_new(o, "incremental", json_boolean(spec->incremental));
        if (spec->schedule) {
            /* Before the scheduler's first pass, the time it will compute. */
            if (next_cron_ms <= 0)
                next_cron_ms = (int64_t)cron_next(&spec->cron, time(NULL)) * 1000;
            time_fmt_iso_ms(t, next_cron_ms);
            json_object_set_new(o, "next_run", json_string(t));
        }
        pipeline_spec_free(spec);
    }
    if (!json_object_get(o, "next_run"))
        json_object_set_new(o, "next_run", json_null());
    return o;
}

static json_t *last_run(catalog_t *c, const char *name)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    tarn_err_t e = {0};
    if (db_prepare(db, &st,
                   "SELECT id, status, finished_ms FROM proc_runs WHERE pipeline = ?1 ORDER BY"
                   " id DESC LIMIT 1",
                   &e))
        return json_null();
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    json_t *o = json_null();
    if (sqlite3_step(st) == SQLITE_ROW)
        o = json_pack("{s:I, s:o, s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "status",
                      db_col_text(st, 1), "finished", db_col_time(st, 2));
    db_done(db, st);
    return o;
}

#define SPEC_JOIN                                                                                  \
    " FROM proc_pipeline_state s JOIN proc_pipelines p ON p.name = s.name AND p.version ="         \
    " s.version WHERE NOT s.deleted"

int pipelines_list(catalog_t *c, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc = db_prepare(db, &st,
                        "SELECT p.name, p.version, p.owner, p.spec, p.created_ms,"
                        " s.next_cron_ms, p.owner_id" SPEC_JOIN " ORDER BY p.name",
                        err);
    if (rc)
        return rc;
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        json_t *o =
            summary(name, sqlite3_column_int64(st, 1), (const char *)sqlite3_column_text(st, 2),
                    sqlite3_column_int64(st, 6), (const char *)sqlite3_column_text(st, 3),
                    sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5));
        json_object_set_new(o, "last_run", last_run(c, name));
        json_array_append_new(a, o);
    }
    db_done(db, st);
    *out = json_pack("{s:o}", "pipelines", a);
    return 0;
}

int pipelines_show(catalog_t *c, const char *name, int64_t version, json_t **out, tarn_err_t *err)
{
    int64_t cur;
    bool deleted;
    int rc = latest(c, name, &cur, &deleted, err);
    if (rc)
        return rc;
    if (!cur || deleted)
        return no_such(err, name);
    if (version <= 0)
        version = cur;
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    if ((rc = db_prepare(db, &st,
                         "SELECT p.owner, p.spec, p.created_ms, s.next_cron_ms, p.owner_id FROM"
                         " proc_pipelines"
                         " p JOIN proc_pipeline_state s ON s.name = p.name WHERE p.name = ?1 AND"
                         " p.version = ?2",
                         err)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, version);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *yaml = (const char *)sqlite3_column_text(st, 1);
        o = summary(name, version, (const char *)sqlite3_column_text(st, 0),
                    sqlite3_column_int64(st, 4), yaml, sqlite3_column_int64(st, 2),
                    sqlite3_column_int64(st, 3));
        json_object_set_new(o, "spec", json_string(yaml));
        json_object_set_new(o, "latest_version", json_integer((json_int_t)cur));
    }
    db_done(db, st);
    if (!o)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchPipeline,
                          "pipeline '%s' has no version %lld (the latest is %lld)", name,
                          (long long)version, (long long)cur);
    json_t *versions = json_array(), *marks = json_array();
    if (!(rc = db_prepare(db, &st,
                          "SELECT version, created_ms, applied_by, owner FROM proc_pipelines WHERE"
                          " name = ?1 ORDER BY version",
                          err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(versions,
                                  json_pack("{s:I, s:o, s:o, s:o}", "version",
                                            (json_int_t)sqlite3_column_int64(st, 0), "created",
                                            db_col_time(st, 1), "applied_by", db_col_text(st, 2),
                                            "owner", db_col_text(st, 3)));
        db_done(db, st);
    }
    if (!rc && !(rc = db_prepare(db, &st,
                                 "SELECT tbl, count(*) FROM proc_bookmarks WHERE pipeline = ?1"
                                 " GROUP BY tbl ORDER BY tbl",
                                 err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(marks,
                                  json_pack("{s:o, s:I}", "table", db_col_text(st, 0), "files",
                                            (json_int_t)sqlite3_column_int64(st, 1)));
        db_done(db, st);
    }
    json_object_set_new(o, "versions", versions);
    json_object_set_new(o, "bookmarks", marks);
    json_object_set_new(o, "last_run", last_run(c, name));
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int pipelines_delete(catalog_t *c, const char *name, tarn_err_t *err)
{
    db_t *db = catalog_db(c);
    int64_t cur;
    bool deleted;
    int rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if ((rc = latest(c, name, &cur, &deleted, err)))
        goto rollback;
    if (!cur || deleted) {
        rc = no_such(err, name);
        goto rollback;
    }
    sqlite3_stmt *st;
    if ((rc = db_prepare(
             db, &st, "SELECT count(*) FROM proc_runs WHERE pipeline = ?1 AND status = 'running'",
             err)))
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool running = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
    db_done(db, st);
    if (running) {
        rc = TARN_ERR_R(err, TARN_ECONFLICT, PipelineRunning,
                        "pipeline '%s' has a run in progress; wait for it (`tarn pipeline runs %s`)"
                        " and delete it then",
                        name, name);
        goto rollback;
    }
    if ((rc =
             run_store_exec(db,
                            "UPDATE proc_runs SET status = 'cancelled', finished_ms = ?2, error ="
                            " 'the pipeline was deleted' WHERE pipeline = ?1 AND status = 'queued'",
                            name, time_now_ms(), err)) ||
        (rc = run_store_exec(db,
                             "UPDATE proc_pipeline_state SET deleted = 1, updated_ms = ?2 WHERE"
                             " name = ?1",
                             name, time_now_ms(), err)) ||
        (rc = run_store_exec(db, "DELETE FROM proc_bookmarks WHERE pipeline = ?1", name, 0, err)) ||
        (rc = run_store_exec(db, "DELETE FROM proc_apply_positions WHERE pipeline = ?1", name, 0,
                             err)))
        goto rollback;
    return db_exec(db, "COMMIT", err);
rollback:
    db_exec(db, "ROLLBACK", NULL);
    return rc;
}

/* ---- runs ---- */

int pipelines_run_request(catalog_t *c, const char *name, const char *trigger, bool replay,
                          const char *requested_by, int64_t *run_id, json_t **out, tarn_err_t *err)
{
    db_t *db = catalog_db(c);
    int rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    int64_t id = 0;
    sqlite3_stmt *st;
    if ((rc = db_prepare(db, &st, "SELECT p.version, p.spec" SPEC_JOIN " AND s.name = ?1", err)))
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t version = 0, max_attempts = 1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
        const char *yaml = (const char *)sqlite3_column_text(st, 1);
        pipeline_spec_t *spec = NULL;
        tarn_err_t e = {0};
        if (!pipeline_spec_parse(yaml, strlen(yaml), &spec, &e))
            max_attempts = spec->max_attempts;
        pipeline_spec_free(spec);
    }
    db_done(db, st);
    if (!version) {
        rc = no_such(err, name);
        goto rollback;
    }
    /* One waiting run of a kind is enough: it will read everything there is by then. */
    if ((rc = db_prepare(db, &st,
                         "SELECT id FROM proc_runs WHERE pipeline = ?1 AND status = 'queued' AND"
                         " replay = ?2 AND attempt = 0 ORDER BY id LIMIT 1",
                         err)))
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, replay);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    db_done(db, st);
    if (!id) {
        if ((rc = db_prepare(db, &st,
                             "INSERT INTO proc_runs(pipeline, version, trigger, replay, status,"
                             " max_attempts, queued_ms, requested_by) VALUES(?1, ?2, ?3, ?4,"
                             " 'queued', ?5, ?6, ?7)",
                             err)))
            goto rollback;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, version);
        sqlite3_bind_text(st, 3, trigger, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, replay);
        sqlite3_bind_int64(st, 5, max_attempts);
        sqlite3_bind_int64(st, 6, time_now_ms());
        if (requested_by)
            sqlite3_bind_text(st, 7, requested_by, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE) {
            rc = db_fail(db, step, err, "queue run");
            goto rollback;
        }
        id = sqlite3_last_insert_rowid(db_h(db));
    }
    if ((rc = db_exec(db, "COMMIT", err)))
        goto rollback;
    if (run_id)
        *run_id = id;
    return out ? pipelines_run_get(c, id, out, err) : 0;
rollback:
    db_exec(db, "ROLLBACK", NULL);
    return rc;
}

int pipelines_runs_list(catalog_t *c, const char *name, size_t limit, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc = db_prepare(db, &st,
                        name ? "SELECT " RUN_STORE_COLS " FROM proc_runs WHERE pipeline = ?1"
                               " ORDER BY id DESC LIMIT ?2"
                             : "SELECT " RUN_STORE_COLS " FROM proc_runs ORDER BY id DESC LIMIT ?2",
                        err);
    if (rc)
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : 20);
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, run_store_row_json(st));
    db_done(db, st);
    *out = json_pack("{s:o}", "runs", a);
    return 0;
}

int pipelines_run_get(catalog_t *c, int64_t id, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc = db_prepare(db, &st, "SELECT " RUN_STORE_COLS " FROM proc_runs WHERE id = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    *out = sqlite3_step(st) == SQLITE_ROW ? run_store_row_json(st) : NULL;
    db_done(db, st);
    return *out ? 0
                : TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun, "there is no run %lld",
                             (long long)id);
}

int pipelines_run_logs(catalog_t *c, const char *name, int64_t id, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    db_t *db = catalog_db(c);
    int rc;
    if (!id) {
        if ((rc = db_prepare(db, &st, "SELECT max(id) FROM proc_runs WHERE pipeline = ?1", err)))
            return rc;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        db_done(db, st);
        if (!id)
            return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun, "pipeline '%s' has not run yet",
                              name);
    }
    json_t *run;
    if ((rc = pipelines_run_get(c, id, &run, err)))
        return rc;
    if (name && strcmp(json_string_value(json_object_get(run, "pipeline")), name)) {
        json_decref(run);
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun, "run %lld is not a run of '%s'",
                          (long long)id, name);
    }
    if ((rc = db_prepare(db, &st,
                         "SELECT time_ms, level, step, message FROM proc_run_logs WHERE run_id = ?1"
                         " ORDER BY seq",
                         err))) {
        json_decref(run);
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    json_t *logs = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(logs, json_pack("{s:o, s:o, s:o, s:o}", "time", db_col_time(st, 0),
                                              "level", db_col_text(st, 1), "step",
                                              db_col_text(st, 2), "message", db_col_text(st, 3)));
    db_done(db, st);
    *out = json_pack("{s:o, s:o}", "run", run, "logs", logs);
    return 0;
}
