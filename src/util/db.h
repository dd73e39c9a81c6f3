/* SQLite helpers shared by the layers that keep tables in the lake's catalog database
 * (<data>/tarn.db, WAL mode). Each layer owns its own tables and migrations; a db_t is
 * one connection, safe to share between threads (serialized). */
#ifndef TARN_UTIL_DB_H
#define TARN_UTIL_DB_H

#include "util/err.h"

#include <sqlite3.h>

typedef struct db {
    sqlite3 *h;
} db_t;

/* Opens (creating) path in WAL mode with synchronous=NORMAL, foreign keys on and a busy
 * timeout; caller closes with db_close. */
int db_open(db_t **out, const char *path, tarn_err_t *err);
void db_close(db_t *db);
/* Runs one or more statements without results. */
int db_exec(db_t *db, const char *sql, tarn_err_t *err);
/* Applies the statements of schema `name` whose index is at or above the recorded
 * version, in one transaction, and records the new version. */
int db_migrate(db_t *db, const char *name, const char *const *steps, int nsteps,
               tarn_err_t *err);
/* Prepares sql; on failure records the SQLite message. */
int db_prepare(db_t *db, sqlite3_stmt **out, const char *sql, tarn_err_t *err);
/* Maps a SQLite result code to a TARN_E* code with the connection's message. */
int db_fail(db_t *db, int rc, tarn_err_t *err, const char *what);

#endif
