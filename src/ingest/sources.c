/* The source registry: versions, sealed secrets, state, cursors and runs in the lake's
 * catalog database; see sources.h. */
#include "ingest/sources.h"
#include "util/timeutil.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources_schema[] = {
    /* One row per source ever created; ids are never reused, so a source created again
     * under a deleted one's name starts with nothing of it (cursor, runs). */
    "CREATE TABLE src_state(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    " type TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
    " paused INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'starting', reason TEXT,"
    " cursor TEXT, updated_ms INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX src_state_name ON src_state(name) WHERE deleted = 0",
    /* Every applied configuration, secrets out of it and sealed apart. */
    "CREATE TABLE src_versions(source_id INTEGER NOT NULL, version INTEGER NOT NULL,"
    " config TEXT NOT NULL, secrets TEXT, applied_by TEXT, created_ms INTEGER NOT NULL,"
    " PRIMARY KEY(source_id, version)) WITHOUT ROWID",
    "CREATE TABLE src_runs(id INTEGER PRIMARY KEY AUTOINCREMENT, source_id INTEGER NOT NULL,"
    " source TEXT NOT NULL, trigger TEXT NOT NULL, resnapshot INTEGER NOT NULL DEFAULT 0,"
    " status TEXT NOT NULL, queued_ms INTEGER NOT NULL, started_ms INTEGER, finished_ms INTEGER,"
    " rows INTEGER NOT NULL DEFAULT 0, error TEXT, requested_by TEXT)",
    "CREATE INDEX src_runs_source ON src_runs(source_id, id)",
    /* Scheduled sources: when the next run is due (NULL: to be computed from the
     * schedule), kept so that a run missed while the server was down happens at start. */
    "ALTER TABLE src_state ADD COLUMN next_run_ms INTEGER",
    /* What each run delivered beyond its rows: files, and rows per table. */
    "ALTER TABLE src_runs ADD COLUMN files INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE src_runs ADD COLUMN tables TEXT",
};

#define RUN_COLS                                                                               \
    "id, source, trigger, resnapshot, status, queued_ms, started_ms, finished_ms, rows, error,"  \
    " requested_by, files, tables"

static json_t *run_json(sqlite3_stmt *st)
{
    json_t *tables = db_col_json(st, 12);
    if (!json_is_object(tables))
        json_decref(tables);
    return json_pack("{s:I, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:o}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "source", db_col_text(st, 1),
                     "trigger", db_col_text(st, 2), "resnapshot", sqlite3_column_int(st, 3),
                     "status", db_col_text(st, 4), "queued", db_col_time(st, 5), "started",
                     db_col_time(st, 6), "finished", db_col_time(st, 7), "rows",
                     (json_int_t)sqlite3_column_int64(st, 8), "error", db_col_text(st, 9),
                     "requested_by", db_col_text(st, 10), "files",
                     (json_int_t)sqlite3_column_int64(st, 11), "tables",
                     json_is_object(tables) ? tables : json_object());
}

int sources_init(db_t *db, tarn_err_t *err)
{
    int rc = db_migrate(db, "sources", sources_schema,
                        (int)(sizeof sources_schema / sizeof *sources_schema), err);
    return rc ? rc
              : db_exec(db, "UPDATE src_runs SET status = 'queued', started_ms = NULL WHERE"
                            " status = 'running'",
                        err);
}

int sources_check_name(const char *name, tarn_err_t *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= SOURCE_NAME_MAX && name[0] >= 'a' && name[0] <= 'z';
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_' || name[i] == '-';
    return ok ? 0
              : TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                           "a source name is 1-%d lowercase letters, digits, _ and -, starting "
                           "with a letter (got '%s'): it names the catalog database its "
                           "tables land in",
                           SOURCE_NAME_MAX, name);
}

static int no_such(tarn_err_t *err, const char *name)
{
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchSource,
                      "no source is named '%s' (see `tarn source list`)", name);
}

/* Runs sql with ?1 = t and ?2 = i (when t is NULL, ?1 = i), expecting no rows. */
static int exec2(db_t *db, const char *sql, const char *t, int64_t i, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, sql, err);
    if (rc)
        return rc;
    if (t) {
        sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, i);
    } else {
        sqlite3_bind_int64(st, 1, i);
    }
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : db_fail(db, step, err, "sources");
}

/* The live source's id, version and type (id 0 when there is none). */
static int find(db_t *db, const char *name, int64_t *id, int64_t *version, char *type,
                size_t cap, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "SELECT id, version, type FROM src_state WHERE name = ?1 AND deleted = 0",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    *id = *version = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
        if (type)
            snprintf(type, cap, "%s", (const char *)sqlite3_column_text(st, 2));
    }
    db_done(db, st);
    return 0;
}

static void aad_of(char *out, size_t cap, int64_t id, int64_t version)
{
    snprintf(out, cap, "source:%lld:%lld", (long long)id, (long long)version);
}

static int queue_run(db_t *db, int64_t id, const char *name, const char *trigger,
                     bool resnapshot, const char *by, int64_t *run, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "SELECT id FROM src_runs WHERE source_id = ?1 AND status = 'queued' AND"
                        " resnapshot >= ?2 ORDER BY id LIMIT 1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, resnapshot);
    *run = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_done(db, st);
    if (*run)
        return 0;
    if ((rc = db_prepare(db, &st,
                         "INSERT INTO src_runs(source_id, source, trigger, resnapshot, status,"
                         " queued_ms, requested_by) VALUES(?1, ?2, ?3, ?4, 'queued', ?5, ?6)",
                         err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, trigger, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, resnapshot);
    sqlite3_bind_int64(st, 5, time_now_ms());
    if (by)
        sqlite3_bind_text(st, 6, by, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    db_done(db, st);
    if (step != SQLITE_DONE)
        return db_fail(db, step, err, "queue a source run");
    *run = sqlite3_last_insert_rowid(db_h(db));
    return 0;
}

int sources_apply(db_t *db, const keyring_t *kr, const ingest_plugin_t *p, const char *name,
                  const json_t *config, bool create, const char *by, json_t **out,
                  tarn_err_t *err)
{
    json_t *stored = json_deep_copy(config), *secrets = json_object();
    char *cfg_text = NULL, *sec_text = NULL;
    buf_t sealed = BUF_INIT;
    int64_t id = 0, version = 0, run = 0;
    bool changed = true;
    char type[32] = "";
    int rc = sources_check_name(name, err);
    if (rc)
        goto done;
    if (!stored || !secrets) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = config_map_take_secrets(stored, p->config, secrets, err)))
        goto done;
    if (!(cfg_text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS)) ||
        !(sec_text = json_dumps(secrets, JSON_COMPACT | JSON_SORT_KEYS))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        goto done;
    if ((rc = find(db, name, &id, &version, type, sizeof type, err)))
        goto rollback;
    if (create && id) {
        rc = TARN_ERR_R(err, TARN_EEXISTS, SourceExists,
                        "a source named '%s' exists already (change it with `tarn source "
                        "update %s --config FILE`, or delete it first)",
                        name, name);
        goto rollback;
    }
    if (!create && !id) {
        rc = no_such(err, name);
        goto rollback;
    }
    if (!create && strcmp(type, p->name)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                        "source '%s' is of type %s; its type cannot change (create another "
                        "source)",
                        name, type);
        goto rollback;
    }
    sqlite3_stmt *st;
    int64_t now = time_now_ms();
    if (create) {
        if ((rc = db_prepare(db, &st,
                             "INSERT INTO src_state(name, type, version, updated_ms) VALUES(?1,"
                             " ?2, 1, ?3)",
                             err)))
            goto rollback;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        int step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE) {
            rc = db_fail(db, step, err, "record the source");
            goto rollback;
        }
        id = sqlite3_last_insert_rowid(db_h(db));
        version = 1;
    } else {
        /* Unchanged when the configuration and the secrets are the same as now. */
        source_row_t cur;
        if ((rc = sources_load(db, kr, NULL, id, &cur, err)))
            goto rollback;
        changed = !json_equal(cur.config, config);
        source_row_free(&cur);
        if (changed)
            version++;
    }
    if (changed) {
        char aad[64];
        aad_of(aad, sizeof aad, id, version);
        if (json_object_size(secrets) &&
            (rc = keyring_seal(kr, aad, sec_text, strlen(sec_text), &sealed, err)))
            goto rollback;
        if ((rc = db_prepare(db, &st,
                             "INSERT INTO src_versions(source_id, version, config, secrets,"
                             " applied_by, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                             err)))
            goto rollback;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, version);
        sqlite3_bind_text(st, 3, cfg_text, -1, SQLITE_STATIC);
        if (sealed.data)
            sqlite3_bind_text(st, 4, sealed.data, (int)sealed.len, SQLITE_STATIC);
        if (by)
            sqlite3_bind_text(st, 5, by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, now);
        int step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE) {
            rc = db_fail(db, step, err, "record the source's configuration");
            goto rollback;
        }
        if ((rc = db_prepare(db, &st,
                             "UPDATE src_state SET version = ?2, updated_ms = ?3, next_run_ms ="
                             " NULL WHERE id = ?1",
                             err)))
            goto rollback;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, version);
        sqlite3_bind_int64(st, 3, now);
        step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE) {
            rc = db_fail(db, step, err, "record the source's version");
            goto rollback;
        }
    }
    if (create && (rc = queue_run(db, id, name, "create", false, by, &run, err)))
        goto rollback;
    if ((rc = db_exec(db, "COMMIT", err)))
        goto rollback;
    json_t *r = NULL;
    if (run)
        sources_run_get(db, run, &r, err);
    *out = json_pack("{s:s, s:I, s:s, s:I, s:b, s:b, s:o}", "name", name, "id", (json_int_t)id,
                     "type", p->name, "version", (json_int_t)version, "changed", changed,
                     "created", create, "run", r ? r : json_null());
    goto done;
rollback:
    db_exec(db, "ROLLBACK", NULL);
done:
    if (sec_text) {
        OPENSSL_cleanse(sec_text, strlen(sec_text));
        free(sec_text);
    }
    free(cfg_text);
    json_decref(stored);
    json_decref(secrets);
    buf_free(&sealed);
    return rc;
}

void source_row_free(source_row_t *r)
{
    json_decref(r->config);
    r->config = NULL;
}

static int load_version(db_t *db, const keyring_t *kr, int64_t id, int64_t version,
                        json_t **config, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "SELECT config, secrets FROM src_versions WHERE source_id = ?1 AND"
                        " version = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, version);
    *config = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *config = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        const char *sealed = (const char *)sqlite3_column_text(st, 1);
        if (*config && kr && sealed) {
            char aad[64];
            buf_t plain = BUF_INIT;
            aad_of(aad, sizeof aad, id, version);
            json_t *secrets = NULL;
            if (!(rc = keyring_unseal(kr, aad, sealed, &plain, err))) {
                secrets = json_loadb(plain.data, plain.len, 0, NULL);
                rc = secrets ? config_map_put_secrets(*config, secrets, err)
                             : TARN_ERR(err, TARN_EINVAL, "the source's sealed secrets are damaged");
            }
            json_decref(secrets);
            if (plain.data)
                OPENSSL_cleanse(plain.data, plain.cap);
            buf_free(&plain);
        }
    }
    db_done(db, st);
    if (!rc && !*config)
        rc = TARN_ERR(err, TARN_EIO, "the source's configuration version %lld is missing",
                      (long long)version);
    if (rc) {
        json_decref(*config);
        *config = NULL;
    }
    return rc;
}

int sources_load(db_t *db, const keyring_t *kr, const char *name, int64_t id, source_row_t *out,
                 tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        name ? "SELECT id, name, type, version, paused FROM src_state WHERE"
                               " name = ?1 AND deleted = 0"
                             : "SELECT id, name, type, version, paused FROM src_state WHERE"
                               " id = ?2 AND deleted = 0",
                        err);
    if (rc)
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(out->type, sizeof out->type, "%s", (const char *)sqlite3_column_text(st, 2));
        out->version = sqlite3_column_int64(st, 3);
        out->paused = sqlite3_column_int(st, 4) != 0;
    }
    db_done(db, st);
    if (!found)
        return name ? no_such(err, name)
                    : TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchSource, "source %lld is gone",
                                 (long long)id);
    return load_version(db, kr, out->id, out->version, &out->config, err);
}

/* The summary of a source from a row of SUMMARY_COLS. */
#define SUMMARY_COLS "s.id, s.name, s.type, s.version, s.paused, s.state, s.reason, s.cursor," \
                     " s.updated_ms, v.config, s.next_run_ms"
#define SUMMARY_FROM " FROM src_state s JOIN src_versions v ON v.source_id = s.id AND"         \
                     " v.version = s.version WHERE s.deleted = 0"

static json_t *summary(sqlite3_stmt *st, const char *name)
{
    json_t *cfg = db_col_json(st, 9);
    json_t *target = json_deep_copy(json_object_get(cfg, "target"));
    json_t *mode = json_object_get(cfg, "mode");
    if (json_is_object(target) && !json_object_get(target, "database"))
        json_object_set_new(target, "database", json_string(name));
    json_t *o = json_pack("{s:s, s:I, s:o, s:I, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                          name, "id", (json_int_t)sqlite3_column_int64(st, 0), "type",
                          db_col_text(st, 2), "version", (json_int_t)sqlite3_column_int64(st, 3),
                          "paused", sqlite3_column_int(st, 4), "state", db_col_text(st, 5),
                          "reason", db_col_text(st, 6), "cursor", db_col_json(st, 7), "mode",
                          mode ? json_incref(mode) : json_null(),
                          "target", target ? target : json_null(), "updated", db_col_time(st, 8));
    /* The scheduled modes: when the next run is due, and how far each table was read. */
    json_t *sched = json_object_get(cfg, "schedule");
    json_object_set_new(o, "schedule", sched ? json_incref(sched) : json_null());
    json_object_set_new(o, "next_run", sched ? db_col_time(st, 10) : json_null());
    json_t *wm = json_object_get(json_object_get(o, "cursor"), "watermarks");
    if (wm)
        json_object_set(o, "watermarks", wm);
    json_decref(cfg);
    return o;
}

int sources_list(db_t *db, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT " SUMMARY_COLS SUMMARY_FROM " ORDER BY s.name", err);
    if (rc)
        return rc;
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, summary(st, (const char *)sqlite3_column_text(st, 1)));
    db_done(db, st);
    *out = json_pack("{s:o}", "sources", a);
    return 0;
}

int sources_show(db_t *db, const char *name, int64_t version, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT " SUMMARY_COLS SUMMARY_FROM " AND s.name = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        o = summary(st, name);
    db_done(db, st);
    if (!o)
        return no_such(err, name);
    int64_t id = json_integer_value(json_object_get(o, "id"));
    json_t *config = NULL;
    if (!version)
        version = json_integer_value(json_object_get(o, "version"));
    if ((rc = load_version(db, NULL, id, version, &config, err))) {
        json_decref(o);
        return rc == TARN_EIO ? TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchSource,
                                           "source '%s' has no version %lld", name,
                                           (long long)version)
                              : rc;
    }
    json_object_set_new(o, "config", config);
    json_object_set_new(o, "shown_version", json_integer((json_int_t)version));
    json_t *versions = json_array();
    if (!(rc = db_prepare(db, &st,
                          "SELECT version, created_ms, applied_by FROM src_versions WHERE"
                          " source_id = ?1 ORDER BY version",
                          err))) {
        sqlite3_bind_int64(st, 1, id);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(versions,
                                  json_pack("{s:I, s:o, s:o}", "version",
                                            (json_int_t)sqlite3_column_int64(st, 0), "created",
                                            db_col_time(st, 1), "applied_by", db_col_text(st, 2)));
        db_done(db, st);
    }
    json_object_set_new(o, "versions", versions);
    json_t *runs = NULL;
    if (!rc)
        rc = sources_runs_list(db, name, 1, &runs, err);
    json_t *last = json_array_get(json_object_get(runs, "runs"), 0);
    json_object_set(o, "last_run", last ? last : json_null());
    json_decref(runs);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int sources_active(db_t *db, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "SELECT s.id, s.name, s.type, s.version, s.paused, json_extract(v.config,"
                        " '$.mode'), (SELECT count(*) FROM src_runs r WHERE r.source_id = s.id"
                        " AND r.status = 'queued'), (SELECT count(*) FROM src_runs r WHERE"
                        " r.source_id = s.id AND r.status = 'queued' AND r.resnapshot),"
                        " json_extract(v.config, '$.schedule'), s.next_run_ms" SUMMARY_FROM,
                        err);
    if (rc)
        return rc;
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(
            a, json_pack("{s:I, s:o, s:o, s:I, s:b, s:o, s:I, s:b, s:o, s:I}", "id",
                         (json_int_t)sqlite3_column_int64(st, 0), "name", db_col_text(st, 1),
                         "type", db_col_text(st, 2), "version",
                         (json_int_t)sqlite3_column_int64(st, 3), "paused",
                         sqlite3_column_int(st, 4), "mode", db_col_text(st, 5), "queued",
                         (json_int_t)sqlite3_column_int64(st, 6), "resnapshot",
                         sqlite3_column_int64(st, 7) > 0, "schedule", db_col_text(st, 8),
                         "next_run", (json_int_t)sqlite3_column_int64(st, 9)));
    db_done(db, st);
    *out = a;
    return 0;
}

int sources_set_paused(db_t *db, const char *name, bool paused, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "UPDATE src_state SET paused = ?2, updated_ms = ?3 WHERE name = ?1 AND"
                        " deleted = 0",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, paused);
    sqlite3_bind_int64(st, 3, time_now_ms());
    int step = sqlite3_step(st);
    int changes = sqlite3_changes(db_h(db));
    db_done(db, st);
    if (step != SQLITE_DONE)
        return db_fail(db, step, err, "pause or resume the source");
    return changes ? 0 : no_such(err, name);
}

int sources_delete(db_t *db, const keyring_t *kr, const char *name, source_row_t *row,
                   tarn_err_t *err)
{
    int rc = sources_load(db, kr, name, 0, row, err);
    if (rc)
        return rc;
    if ((rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        goto fail;
    int64_t now = time_now_ms();
    sqlite3_stmt *st;
    if ((rc = db_prepare(db, &st,
                         "UPDATE src_runs SET status = 'cancelled', finished_ms = ?2, error ="
                         " 'the source was deleted' WHERE source_id = ?1 AND status IN"
                         " ('queued', 'running')",
                         err)))
        goto rollback;
    sqlite3_bind_int64(st, 1, row->id);
    sqlite3_bind_int64(st, 2, now);
    int step = sqlite3_step(st);
    db_done(db, st);
    if (step != SQLITE_DONE) {
        rc = db_fail(db, step, err, "cancel the source's runs");
        goto rollback;
    }
    if ((rc = exec2(db, "UPDATE src_state SET deleted = 1 WHERE id = ?1", NULL, row->id, err)) ||
        (rc = db_exec(db, "COMMIT", err)))
        goto rollback;
    return 0;
rollback:
    db_exec(db, "ROLLBACK", NULL);
fail:
    source_row_free(row);
    return rc;
}

/* ---- runs ---- */

int sources_run_request(db_t *db, const char *name, const char *trigger, bool resnapshot,
                        const char *by, json_t **out, tarn_err_t *err)
{
    int64_t id, version, run = 0;
    int rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if ((rc = find(db, name, &id, &version, NULL, 0, err)))
        goto rollback;
    if (!id) {
        rc = no_such(err, name);
        goto rollback;
    }
    if ((rc = queue_run(db, id, name, trigger, resnapshot, by, &run, err)) ||
        (rc = db_exec(db, "COMMIT", err)))
        goto rollback;
    return sources_run_get(db, run, out, err);
rollback:
    db_exec(db, "ROLLBACK", NULL);
    return rc;
}

int sources_runs_list(db_t *db, const char *name, size_t limit, json_t **out, tarn_err_t *err)
{
    int64_t id, version;
    int rc = find(db, name, &id, &version, NULL, 0, err);
    if (rc)
        return rc;
    if (!id)
        return no_such(err, name);
    sqlite3_stmt *st;
    if ((rc = db_prepare(db, &st,
                         "SELECT " RUN_COLS " FROM src_runs WHERE source_id = ?1 ORDER BY id DESC"
                         " LIMIT ?2",
                         err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : 20);
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, run_json(st));
    db_done(db, st);
    *out = json_pack("{s:o}", "runs", a);
    return 0;
}

int sources_run_get(db_t *db, int64_t id, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT " RUN_COLS " FROM src_runs WHERE id = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    *out = sqlite3_step(st) == SQLITE_ROW ? run_json(st) : NULL;
    db_done(db, st);
    return *out ? 0
                : TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun, "there is no run %lld",
                             (long long)id);
}

int sources_run_claim(db_t *db, int64_t source_id, int64_t *run, bool *resnapshot,
                      tarn_err_t *err)
{
    /* Every run queued now is served by what starts now: they run, and end, together. */
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "UPDATE src_runs SET status = 'running', started_ms = ?2 WHERE"
                        " source_id = ?1 AND status = 'queued' RETURNING id, resnapshot",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, source_id);
    sqlite3_bind_int64(st, 2, time_now_ms());
    *run = 0;
    *resnapshot = false;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (!*run || id < *run)
            *run = id;
        *resnapshot = *resnapshot || sqlite3_column_int(st, 1);
    }
    db_done(db, st);
    if (step != SQLITE_DONE)
        return db_fail(db, step, err, "claim a source run");
    return *run ? 1 : 0;
}

int sources_run_finish(db_t *db, int64_t run, const char *status, uint64_t rows,
                       uint64_t files, const json_t *tables, const char *error, tarn_err_t *err)
{
    sqlite3_stmt *st;
    char *tables_text = tables ? json_dumps(tables, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = db_prepare(db, &st,
                        "UPDATE src_runs SET status = ?2, finished_ms = ?3, rows = ?4, error = ?5,"
                        " files = ?6, tables = ?7 WHERE source_id = (SELECT source_id FROM"
                        " src_runs WHERE id = ?1) AND status = 'running'",
                        err);
    if (rc) {
        free(tables_text);
        return rc;
    }
    sqlite3_bind_int64(st, 6, (int64_t)files);
    if (tables_text)
        sqlite3_bind_text(st, 7, tables_text, -1, SQLITE_TRANSIENT);
    free(tables_text);
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time_now_ms());
    sqlite3_bind_int64(st, 4, (int64_t)rows);
    if (error)
        sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "finish a source run");
}

/* ---- state and cursor ---- */

int sources_next_run_set(db_t *db, int64_t id, int64_t next_ms, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "UPDATE src_state SET next_run_ms = ?2 WHERE id = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (next_ms > 0)
        sqlite3_bind_int64(st, 2, next_ms);
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "record the source's next run");
}

int sources_state_set(db_t *db, int64_t id, const char *state, const char *reason,
                      tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "UPDATE src_state SET state = ?2, reason = ?3, updated_ms = ?4 WHERE"
                        " id = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms());
    int step = sqlite3_step(st);
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "record the source's state");
}

int sources_cursor_get(db_t *db, int64_t id, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "SELECT cursor FROM src_state WHERE id = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    db_done(db, st);
    return 0;
}

int sources_cursor_set(db_t *db, int64_t id, const json_t *cursor, tarn_err_t *err)
{
    char *text = json_dumps(cursor, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, "UPDATE src_state SET cursor = ?2 WHERE id = ?1", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE)
            rc = db_fail(db, step, err, "record the source's cursor");
    }
    free(text);
    return rc;
}
