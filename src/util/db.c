/* SQLite connection helpers and per-layer schema migrations; see db.h. */
#include "util/db.h"

#include <stdio.h>
#include <stdlib.h>

int db_fail(db_t *db, int rc, tarn_err_t *err, const char *what)
{
    int code = TARN_EIO;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        code = TARN_EBUSY;
    else if (rc == SQLITE_NOMEM)
        code = TARN_ENOMEM;
    else if (rc == SQLITE_CONSTRAINT)
        code = TARN_ECONFLICT;
    return TARN_ERR(err, code, "%s: %s", what, db && db->h ? sqlite3_errmsg(db->h) : "sqlite");
}

int db_open(db_t **out, const char *path, tarn_err_t *err)
{
    db_t *db = calloc(1, sizeof *db);
    if (!db)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = sqlite3_open_v2(path, &db->h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        int r = db_fail(db, rc, err, path);
        db_close(db);
        return r;
    }
    sqlite3_busy_timeout(db->h, 10000);
    /* WAL with synchronous=NORMAL: a commit survives a process crash (kill -9); the WAL
     * is fsynced at checkpoints. */
    rc = db_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                 err);
    if (rc) {
        db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void db_close(db_t *db)
{
    if (!db)
        return;
    sqlite3_close_v2(db->h);
    free(db);
}

int db_exec(db_t *db, const char *sql, tarn_err_t *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = rc == SQLITE_BUSY ? TARN_EBUSY : TARN_EIO;
        TARN_ERR(err, code, "sql: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

int db_prepare(db_t *db, sqlite3_stmt **out, const char *sql, tarn_err_t *err)
{
    int rc = sqlite3_prepare_v2(db->h, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return db_fail(db, rc, err, "prepare");
    return 0;
}

int db_migrate(db_t *db, const char *name, const char *const *steps, int nsteps,
               tarn_err_t *err)
{
    int rc = db_exec(db,
                     "CREATE TABLE IF NOT EXISTS schema_versions("
                     " name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                     err);
    if (rc)
        return rc;
    rc = db_exec(db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    int have = 0;
    rc = db_prepare(db, &st, "SELECT version FROM schema_versions WHERE name = ?1", err);
    if (rc)
        goto done;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    for (int i = have; i < nsteps; i++) {
        rc = db_exec(db, steps[i], err);
        if (rc)
            goto done;
    }
    if (nsteps > have) {
        rc = db_prepare(db, &st,
                        "INSERT INTO schema_versions(name, version) VALUES (?1, ?2)"
                        " ON CONFLICT(name) DO UPDATE SET version = excluded.version",
                        err);
        if (rc)
            goto done;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, nsteps);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(db, SQLITE_ERROR, err, "record schema version");
        sqlite3_finalize(st);
    }
done:
    if (rc) {
        db_exec(db, "ROLLBACK", NULL);
        return rc;
    }
    return db_exec(db, "COMMIT", err);
}
