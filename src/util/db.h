/* SQLite helpers shared by the layers that keep tables in the lake's catalog database
 * (<data>/tarn.db, WAL mode). Each layer owns its own tables and migrations. A db_t is
 * shared by all threads, and each thread gets its own SQLite connection from it (opened
 * on first use, closed when the thread exits), so one thread's transaction never takes
 * in another thread's statements; concurrent writers wait on SQLite's lock. */
#ifndef TARN_UTIL_DB_H
#define TARN_UTIL_DB_H

#include "util/err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>
#include <sqlite3.h>

typedef struct db_conn db_conn_t;

#define DB_WATCH_MAX 32

/* A watch (db_watch): fn(ctx) after commits that changed table ("" for any commit). */
typedef struct {
    char table[48];
    void (*fn)(void *ctx); /* NULL: a free slot */
    void *ctx;
} db_watch_t;

typedef struct db {
    char *path;
    pthread_key_t key;
    pthread_mutex_t mu;
    db_conn_t *conns; /* every open connection, closed by db_close */
    /* One connection shared by the hot write paths, one thread at a time: SQLite writes
     * one transaction at a time anyway, and a connection that made the last changes
     * keeps its page cache, where each thread's own would re-read the pages others
     * changed. */
    pthread_mutex_t wmu;
    db_conn_t *writer;
    pthread_t writer_owner;
    bool writing;
    /* Group commit (db.c): connections write commits to the WAL without syncing
     * (synchronous=NORMAL); the WAL hook numbers each commit and notes the number as the
     * committing thread's pending one, and db_sync makes it durable, one fdatasync of the
     * WAL serving every commit made before it began. */
    pthread_key_t pending;   /* the calling thread's last unsynced commit number */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    _Atomic uint64_t commits; /* commits numbered so far */
    uint64_t synced;          /* every commit numbered up to this one is on disk */
    bool syncing;             /* a sync is running (one at a time) */
    int sync_errno;           /* a failed WAL sync: sticky, see db_sync */
    int wal_fd;               /* our own descriptor on <path>-wal, opened by the syncer */
    _Atomic uint64_t syncs;   /* WAL syncs done, for metrics */
    /* Watches: read (shared) by every row change and commit, written by db_watch and
     * db_unwatch, so a watch being removed is never running once db_unwatch returns. */
    pthread_rwlock_t watch_lock;
    db_watch_t watches[DB_WATCH_MAX];
} db_t;

/* Routes the calling thread's statements on db to the shared writer connection until
 * db_write_end. Not re-entrant. */
int db_write_begin(db_t *db);
void db_write_end(db_t *db);

/* The calling thread's connection, or NULL when it cannot be opened. */
sqlite3 *db_h(db_t *db);

/* Opens (creating) path in WAL mode with synchronous=NORMAL, foreign keys on and a busy
 * timeout; caller closes with db_close. A commit is in the WAL (it survives kill -9) when
 * its statement returns, and on disk (it survives a power failure) after db_sync. */
int db_open(db_t **out, const char *path, tarn_err_t *err);
void db_close(db_t *db);
/* Runs one or more statements without results. */
int db_exec(db_t *db, const char *sql, tarn_err_t *err);
/* Applies the statements of schema `name` whose index is at or above the recorded
 * version, in one transaction, and records the new version. Foreign keys are not
 * enforced while the steps run (so a step may rebuild a table that others refer to:
 * create the new one, copy, drop the old, rename); the transaction commits only if every
 * reference holds at its end (TARN_ECONFLICT otherwise). */
int db_migrate(db_t *db, const char *name, const char *const *steps, int nsteps,
               tarn_err_t *err);
/* Prepares sql, or hands out this thread's cached statement for the same text; on
 * failure records the SQLite message. Give every statement back with db_done. */
int db_prepare(db_t *db, sqlite3_stmt **out, const char *sql, tarn_err_t *err);
/* Resets a statement from db_prepare for reuse (or finalizes it if it was not cached).
 * Call on the thread that prepared it. */
void db_done(db_t *db, sqlite3_stmt *st);
/* Makes every commit the calling thread has made on db durable: returns once an fdatasync
 * of the WAL that began after the thread's last commit has finished. Commits of
 * concurrent threads share one sync (group commit); a thread with nothing pending returns
 * at once. Call it before any answer that reports a change, and before removing anything
 * that a commit made unnecessary (an unlinked file, a trimmed log). A failed sync is
 * sticky (TARN_EIO from then on): after fsync fails, the kernel may have dropped the
 * unwritten pages, so nothing committed since can be acknowledged until a restart. */
int db_sync(db_t *db, tarn_err_t *err);
/* Commits numbered and WAL syncs done since open, for metrics. */
void db_sync_stats(db_t *db, uint64_t *commits, uint64_t *syncs);

/* Calls fn(ctx) on the committing thread after each commit that inserted, updated or
 * deleted rows of table (NULL: after every commit), so a background worker can sleep until
 * the catalog holds news for it instead of polling. fn runs after the commit is in the WAL
 * (its changes are visible), must be quick and must not use db: a worker_wake. Built on
 * SQLite's update hook, it misses what that misses: rows a REPLACE removes and a DELETE
 * without WHERE; and it cannot watch a WITHOUT ROWID table at all (TARN_EINVAL). Returns
 * a handle for db_unwatch, or TARN_ENOMEM when DB_WATCH_MAX watches are in place. */
int db_watch(db_t *db, const char *table, void (*fn)(void *ctx), void *ctx);
/* Removes a watch (a handle from db_watch; a negative one is ignored): once this returns,
 * its fn is not running and will not run. */
void db_unwatch(db_t *db, int handle);

/* Copies committed WAL pages into the database file (passive: never waits for readers);
 * TARN_EBUSY when readers or a writer held some back (try again later). Connections do
 * not checkpoint on their own; a long-running process calls this from a background
 * worker, woken by a db_watch of every commit. */
int db_checkpoint(db_t *db);
/* A column of the current row as JSON for an API answer (JSON null for SQL NULL): its
 * text, its integer, its milliseconds as an ISO 8601 time, or the JSON its text holds
 * (null when it holds none). Caller decrefs. */
json_t *db_col_text(sqlite3_stmt *st, int i);
json_t *db_col_int(sqlite3_stmt *st, int i);
json_t *db_col_time(sqlite3_stmt *st, int i);
json_t *db_col_json(sqlite3_stmt *st, int i);

/* Maps a SQLite result code to a TARN_E* code with the connection's message. */
int db_fail(db_t *db, int rc, tarn_err_t *err, const char *what);

#endif
