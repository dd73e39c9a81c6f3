/* SQLite connection helpers and per-layer schema migrations; see db.h. */
#include "util/db.h"
#include "util/killpoint.h"
#include "util/timeutil.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Prepared statements are kept per connection, keyed by their SQL text: a request runs
 * the same few statements, and preparing them anew each time cost more than running
 * them. */
#define STMT_CACHE 64

typedef struct {
    char *sql; /* a copy of the statement's text (callers may pass a buffer of theirs) */
    uint32_t hash;
    sqlite3_stmt *st;
    bool busy; /* handed out and not yet given back with db_done */
} cached_t;

struct db_conn {
    sqlite3 *h;
    db_t *db;
    uint32_t changed; /* watches whose tables the open transaction changed, by bit */
    db_conn_t *prev, *next;
    cached_t cache[STMT_CACHE];
};

int db_fail(db_t *db, int rc, tarn_err_t *err, const char *what)
{
    int code = TARN_EIO;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        code = TARN_EBUSY;
    else if (rc == SQLITE_NOMEM)
        code = TARN_ENOMEM;
    else if (rc == SQLITE_CONSTRAINT)
        code = TARN_ECONFLICT;
    sqlite3 *h = db ? db_h(db) : NULL;
    return TARN_ERR(err, code, "%s: %s", what, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
}

static void conn_free(db_conn_t *c)
{
    for (int i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    sqlite3_close_v2(c->h);
    free(c);
}

/* Thread exit: the thread's connection goes away with it. */
static void conn_release(void *p)
{
    db_conn_t *c = p;
    db_t *db = c->db;
    pthread_mutex_lock(&db->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        db->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&db->mu);
    conn_free(c);
}

/* Writers on other threads hold SQLite's write lock only for the tens of microseconds a
 * small transaction takes; SQLite's own busy handler sleeps in milliseconds, which would
 * cap the server at a few hundred writes a second. Poll in microseconds instead, giving
 * up after about ten seconds. */
static int busy_wait(void *ud, int count)
{
    (void)ud;
    if (count > 60000)
        return 0;
    struct timespec ts = {0, count < 50 ? 20000 : 200000};
    nanosleep(&ts, NULL);
    return 1;
}

/* ---- group commit ---- */

/* SQLite calls this on the committing thread once a commit is in the WAL and the write
 * lock is released: the commit gets the next number, which becomes the thread's pending
 * one for db_sync, and the watches of what it changed are called. (It replaces SQLite's
 * automatic checkpoints, which are off anyway.) */
static int on_commit(void *ud, sqlite3 *h, const char *name, int pages)
{
    (void)h;
    (void)name;
    (void)pages;
    db_conn_t *c = ud;
    db_t *db = c->db;
    uint64_t n = atomic_fetch_add(&db->commits, 1) + 1;
    /* Numbers only grow: a thread's pending commit is always its latest, and a sync that
     * covers it covers every earlier one. */
    assert(n > (uintptr_t)pthread_getspecific(db->pending));
    pthread_setspecific(db->pending, (void *)(uintptr_t)n);
    uint32_t changed = c->changed;
    c->changed = 0;
    pthread_rwlock_rdlock(&db->watch_lock);
    for (int i = 0; i < DB_WATCH_MAX; i++) {
        const db_watch_t *w = &db->watches[i];
        if (w->fn && (!w->table[0] || (changed & (1u << i))))
            w->fn(w->ctx);
    }
    pthread_rwlock_unlock(&db->watch_lock);
    return SQLITE_OK;
}

/* SQLite's update hook, for every row changed: notes the watches of the row's table. */
static void on_change(void *ud, int op, const char *dbname, const char *table, sqlite3_int64 row)
{
    (void)op;
    (void)dbname;
    (void)row;
    db_conn_t *c = ud;
    db_t *db = c->db;
    pthread_rwlock_rdlock(&db->watch_lock);
    for (int i = 0; i < DB_WATCH_MAX; i++)
        if (db->watches[i].fn && !strcmp(db->watches[i].table, table))
            c->changed |= 1u << i;
    pthread_rwlock_unlock(&db->watch_lock);
}

/* A rolled-back transaction changed nothing. */
static void on_rollback(void *ud)
{
    ((db_conn_t *)ud)->changed = 0;
}

/* Whether table is a WITHOUT ROWID one, whose changes the update hook never reports. */
static bool without_rowid(db_t *db, const char *table)
{
    sqlite3_stmt *st;
    if (db_prepare(db, &st, "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
                   NULL))
        return false; /* an SQLite before 3.37 cannot say */
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    bool wr = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    db_done(db, st);
    return wr;
}

int db_watch(db_t *db, const char *table, void (*fn)(void *ctx), void *ctx)
{
    if (table && without_rowid(db, table))
        return TARN_EINVAL;
    int handle = TARN_ENOMEM;
    pthread_rwlock_wrlock(&db->watch_lock);
    for (int i = 0; i < DB_WATCH_MAX && handle < 0; i++) {
        db_watch_t *w = &db->watches[i];
        if (w->fn)
            continue;
        snprintf(w->table, sizeof w->table, "%s", table ? table : "");
        w->fn = fn;
        w->ctx = ctx;
        handle = i;
    }
    pthread_rwlock_unlock(&db->watch_lock);
    return handle;
}

void db_unwatch(db_t *db, int handle)
{
    if (handle < 0 || handle >= DB_WATCH_MAX)
        return;
    pthread_rwlock_wrlock(&db->watch_lock);
    db->watches[handle] = (db_watch_t){0};
    pthread_rwlock_unlock(&db->watch_lock);
}

/* fdatasync of the WAL through a descriptor of our own: fsync covers the file's pages
 * whichever descriptor wrote them. The WAL is created by the first connection and
 * removed only when the last one closes, so the descriptor is reopened only if the file
 * went away; the folder is synced then, so the WAL's own name is on disk too. Called by
 * one syncer at a time. 0 or an errno. */
static int wal_fsync(db_t *db)
{
    struct stat st;
    if (db->wal_fd >= 0 && (fstat(db->wal_fd, &st) || st.st_nlink == 0)) {
        close(db->wal_fd);
        db->wal_fd = -1;
    }
    if (db->wal_fd < 0) {
        char p[4096];
        if ((size_t)snprintf(p, sizeof p, "%s-wal", db->path) >= sizeof p)
            return ENAMETOOLONG;
        db->wal_fd = open(p, O_RDONLY | O_CLOEXEC);
        if (db->wal_fd < 0)
            return errno == ENOENT ? 0 : errno; /* no WAL: nothing committed in one */
        char *slash = strrchr(p, '/');
        if (slash)
            *slash = '\0';
        int dfd = open(slash ? (*p ? p : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int e = dfd < 0 || fsync(dfd) ? errno : 0;
        if (dfd >= 0)
            close(dfd);
        if (e)
            return e;
    }
    atomic_fetch_add(&db->syncs, 1);
    return fdatasync(db->wal_fd) ? errno : 0;
}

int db_sync(db_t *db, tarn_err_t *err)
{
    uint64_t want = (uintptr_t)pthread_getspecific(db->pending);
    if (!want)
        return 0;
    pthread_mutex_lock(&db->sync_mu);
    while (db->synced < want && !db->sync_errno) {
        if (db->syncing) {
            pthread_cond_wait(&db->sync_cv, &db->sync_mu);
            continue;
        }
        /* Lead a sync covering every commit numbered so far: each one's WAL frames were
         * written before it was numbered. */
        assert(!db->syncing);
        db->syncing = true;
        uint64_t target = atomic_load(&db->commits);
        /* Our commit was numbered before we got here, and the last sync's target was
         * read before this one: the sync covers ours and never moves synced back. */
        assert(target >= want && target >= db->synced);
        pthread_mutex_unlock(&db->sync_mu);
        int e = wal_fsync(db);
        pthread_mutex_lock(&db->sync_mu);
        db->syncing = false;
        if (e)
            db->sync_errno = e;
        else if (target > db->synced)
            db->synced = target;
        pthread_cond_broadcast(&db->sync_cv);
    }
    int e = db->sync_errno;
    assert(e || db->synced >= want); /* only a sync that covers our commit lets us answer */
    pthread_mutex_unlock(&db->sync_mu);
    if (e)
        return TARN_ERR(err, TARN_EIO,
                        "the catalog's write-ahead log could not be synced to disk (%s); "
                        "changes since cannot be confirmed: check the disk and restart tarn",
                        strerror(e));
    pthread_setspecific(db->pending, NULL);
    killpoint_hit("commit-synced");
    return 0;
}

void db_sync_stats(db_t *db, uint64_t *commits, uint64_t *syncs)
{
    *commits = atomic_load(&db->commits);
    *syncs = atomic_load(&db->syncs);
}

/* Opens c's SQLite connection on c->db (c->h); false when it cannot be opened. */
static bool conn_open(db_conn_t *c)
{
    db_t *db = c->db;
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(db->path, &h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sqlite3_close_v2(h);
        return false;
    }
    sqlite3_busy_handler(h, busy_wait, NULL);
    /* WAL with synchronous=NORMAL: a commit survives a process crash (kill -9) as soon as
     * it returns, and a power failure once db_sync has synced the WAL (group commit:
     * synchronous=FULL would cost one fsync per commit, under the write lock). */
    /* No automatic checkpoints on request threads: with many connections reading, a
     * checkpoint rarely completes, and every commit past the threshold would retry one
     * (with an fsync). The server checkpoints from a worker of its own (db_checkpoint). */
    if (sqlite3_exec(h,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                     " PRAGMA wal_autocheckpoint=0;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close_v2(h);
        return false;
    }
    sqlite3_wal_hook(h, on_commit, c); /* after the pragmas: wal_autocheckpoint resets it */
    sqlite3_update_hook(h, on_change, c);
    sqlite3_rollback_hook(h, on_rollback, c);
    c->h = h;
    return true;
}

/* The connection the calling thread's statements go to right now (NULL if none yet). */
static db_conn_t *current(db_t *db)
{
    if (db->writing && pthread_equal(db->writer_owner, pthread_self()))
        return db->writer;
    return pthread_getspecific(db->key);
}

int db_write_begin(db_t *db)
{
    pthread_mutex_lock(&db->wmu);
    if (!db->writer) {
        db_conn_t *c = calloc(1, sizeof *c);
        if (c)
            c->db = db;
        if (!c || !conn_open(c)) {
            free(c);
            pthread_mutex_unlock(&db->wmu);
            return TARN_EIO;
        }
        db->writer = c;
    }
    db->writer_owner = pthread_self();
    db->writing = true;
    return 0;
}

void db_write_end(db_t *db)
{
    /* Only the thread that began may end: it holds wmu. */
    assert(db->writing && pthread_equal(db->writer_owner, pthread_self()));
    db->writing = false;
    pthread_mutex_unlock(&db->wmu);
}

sqlite3 *db_h(db_t *db)
{
    db_conn_t *c = current(db);
    if (c)
        return c->h;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->db = db;
    if (!conn_open(c)) {
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&db->mu);
    c->next = db->conns;
    if (db->conns)
        db->conns->prev = c;
    db->conns = c;
    pthread_mutex_unlock(&db->mu);
    pthread_setspecific(db->key, c);
    return c->h;
}

int db_open(db_t **out, const char *path, tarn_err_t *err)
{
    db_t *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->wmu, NULL);
    pthread_mutex_init(&db->sync_mu, NULL);
    pthread_cond_init(&db->sync_cv, NULL);
    pthread_rwlock_init(&db->watch_lock, NULL);
    db->wal_fd = -1;
    if (pthread_key_create(&db->key, conn_release)) {
        pthread_mutex_destroy(&db->mu);
        free(db->path);
        free(db);
        return TARN_ERR(err, TARN_ENOMEM, "out of thread keys");
    }
    if (pthread_key_create(&db->pending, NULL)) {
        pthread_key_delete(db->key);
        pthread_mutex_destroy(&db->mu);
        free(db->path);
        free(db);
        return TARN_ERR(err, TARN_ENOMEM, "out of thread keys");
    }
    if (!db_h(db)) {
        db_close(db);
        return TARN_ERR(err, TARN_EIO, "cannot open the catalog database %s", path);
    }
    *out = db;
    return 0;
}

/* Call only when no other thread uses db any more. */
void db_close(db_t *db)
{
    if (!db)
        return;
    pthread_key_delete(db->key);
    pthread_key_delete(db->pending);
    if (db->wal_fd >= 0)
        close(db->wal_fd);
    pthread_mutex_destroy(&db->sync_mu);
    pthread_cond_destroy(&db->sync_cv);
    if (db->writer)
        conn_free(db->writer);
    pthread_mutex_destroy(&db->wmu);
    db_conn_t *c = db->conns;
    while (c) {
        db_conn_t *n = c->next;
        conn_free(c);
        c = n;
    }
    pthread_mutex_destroy(&db->mu);
    pthread_rwlock_destroy(&db->watch_lock);
    free(db->path);
    free(db);
}

int db_exec(db_t *db, const char *sql, tarn_err_t *err)
{
    char *msg = NULL;
    sqlite3 *h = db_h(db);
    if (!h)
        return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = rc == SQLITE_BUSY ? TARN_EBUSY : TARN_EIO;
        TARN_ERR(err, code, "sql: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

static uint32_t sql_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int db_prepare(db_t *db, sqlite3_stmt **out, const char *sql, tarn_err_t *err)
{
    sqlite3 *h = db_h(db);
    if (!h)
        return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
    db_conn_t *c = current(db);
    uint32_t hv = sql_hash(sql);
    cached_t *slot = &c->cache[hv % STMT_CACHE];
    if (slot->st && slot->hash == hv && !strcmp(slot->sql, sql)) {
        if (!slot->busy) {
            slot->busy = true;
            *out = slot->st;
            return 0;
        }
        slot = NULL; /* in use further up this thread's stack: prepare a private one */
    }
    int rc = sqlite3_prepare_v3(h, sql, -1, slot ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL);
    if (rc != SQLITE_OK)
        return db_fail(db, rc, err, "prepare");
    char *copy = slot && !slot->busy ? strdup(sql) : NULL;
    if (copy) {
        sqlite3_finalize(slot->st); /* evict whatever hashed here before */
        free(slot->sql);
        *slot = (cached_t){copy, hv, *out, true};
    }
    return 0;
}

void db_done(db_t *db, sqlite3_stmt *st)
{
    if (!st)
        return;
    db_conn_t *c = current(db);
    /* Back on the connection it came from: a statement prepared before db_write_begin
     * and given back after it would be finalized while its cache slot still names it. */
    assert(!c || sqlite3_db_handle(st) == c->h);
    for (int i = 0; c && i < STMT_CACHE; i++)
        if (c->cache[i].st == st) {
            assert(c->cache[i].busy); /* given back once: else two users would share it */
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->cache[i].busy = false;
            return;
        }
    sqlite3_finalize(st);
}
int db_migrate(db_t *db, const char *name, const char *const *steps, int nsteps, tarn_err_t *err)
{
    int rc = db_exec(db,
                     "CREATE TABLE IF NOT EXISTS schema_versions("
                     " name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
                     err);
    if (rc)
        return rc;
    /* Foreign keys are off while steps run (it cannot change inside a transaction), as
     * SQLite's way of changing a table's shape asks: a table is rebuilt by copying it,
     * dropping the old one and renaming the copy, and with foreign keys on, the drop
     * would cascade into every table that refers to it. The result is checked before
     * the commit instead. */
    rc = db_exec(db, "PRAGMA foreign_keys=OFF", err);
    if (!rc && (rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        db_exec(db, "PRAGMA foreign_keys=ON", NULL);
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
    db_done(db, st);
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
        db_done(db, st);
        st = NULL;
        if (!rc && !(rc = db_prepare(db, &st, "PRAGMA foreign_key_check", err))) {
            int step = sqlite3_step(st);
            if (step == SQLITE_ROW)
                rc = TARN_ERR(err, TARN_ECONFLICT,
                              "migrating %s to version %d would leave a row of %s referring"
                              " to a missing row of %s",
                              name, nsteps, (const char *)sqlite3_column_text(st, 0),
                              (const char *)sqlite3_column_text(st, 2));
            else if (step != SQLITE_DONE)
                rc = db_fail(db, step, err, "foreign key check");
            db_done(db, st);
        }
    }
done:
    if (!rc)
        rc = db_exec(db, "COMMIT", err);
    if (rc)
        db_exec(db, "ROLLBACK", NULL);
    db_exec(db, "PRAGMA foreign_keys=ON", NULL);
    return rc;
}

int db_checkpoint(db_t *db)
{
    sqlite3 *h = db_h(db);
    if (!h)
        return TARN_EIO;
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc == SQLITE_BUSY || (rc == SQLITE_OK && copied < log))
        return TARN_EBUSY;
    return rc == SQLITE_OK ? 0 : TARN_EIO;
}

json_t *db_col_text(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? json_string(t) : json_null();
}

json_t *db_col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int64(st, i));
}

json_t *db_col_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    char t[32];
    time_fmt_iso_ms(t, sqlite3_column_int64(st, i));
    return json_string(t);
}

json_t *db_col_json(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *j = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    return j ? j : json_null();
}
