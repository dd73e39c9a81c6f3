/* Small objects held in the catalog until their files exist: the write-behind half of
 * store_writer_defer_small. A small PUT of a new key commits its bytes with its index row,
 * so concurrent PUTs share one synced WAL round instead of each paying a file, its fsync
 * and its folder's fsync on the request's path. This background writer then gives every
 * held object its file in batches (write, link, fsync each, one fsync per folder) and only
 * after that forgets the held bytes, in one synced transaction; a crash anywhere in
 * between leaves the bytes held and the batch is simply written again. Until then reads
 * are served from the catalog (a sealed memfd), and readers that go by path (the engine)
 * wait for the file with store_object_materialize. */
#include "storage/store_internal.h"
#include "util/arena.h"
#include "util/fs.h"
#include "util/killpoint.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BATCH 256

int store_pending_insert(store_t *s, const char *bucket, const char *key, const void *data,
                         size_t len, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = store_prepare_key(
        s, &st, "INSERT OR REPLACE INTO object_pending(bucket, key, data) VALUES(?1,?2,?3)", bucket,
        key, err);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 3, len ? data : "", (int)len, SQLITE_STATIC);
    int step = sqlite3_step(st);
    db_done(s->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(s->db, step, err, "hold small object");
}

int store_pending_forget(store_t *s, const char *bucket, const char *key, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = store_prepare_key(s, &st, "DELETE FROM object_pending WHERE bucket = ?1 AND key = ?2",
                               bucket, key, err);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    db_done(s->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(s->db, step, err, "forget small object");
}

/* A read-only in-memory file holding n bytes: sealed, so nobody can change what a reader
 * of the object sees. -1 with errno on failure. */
static int sealed_copy(const void *p, size_t n)
{
    int fd = memfd_create("tarn-object", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (fs_write_full(fd, p, n) ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) ||
        lseek(fd, 0, SEEK_SET) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int store_pending_open(store_t *s, const char *bucket, const char *key, int *fd, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    *fd = -1;
    /* Under the stripe, the held bytes cannot be forgotten (written out, overwritten or
     * deleted) between the reader's index lookup and this copy. */
    assert(store_stripe_held(s, bucket, key));
    int rc = store_prepare_key(
        s, &st, "SELECT data FROM object_pending WHERE bucket = ?1 AND key = ?2", bucket, key, err);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *fd = sealed_copy(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        if (*fd < 0)
            rc =
                TARN_ERR(err, TARN_EIO, "read held object %s/%s: %s", bucket, key, strerror(errno));
    } else if (step != SQLITE_DONE) {
        rc = db_fail(s->db, step, err, "held object lookup");
    }
    db_done(s->db, st);
    return rc;
}

void store_pending_kick(store_t *s)
{
    pthread_mutex_lock(&s->pending.mu);
    /* Bytes are held only while the writer runs (store_pending_room): someone writes them. */
    assert(s->pending.started);
    s->pending.held++;
    pthread_mutex_unlock(&s->pending.mu);
    worker_wake(s->pending.worker);
}

/* One held object being written out. */
typedef struct {
    int64_t id;
    const char *bucket, *key;
    store_writer_t *w; /* its file, linked at its name, until fsynced */
} item_t;

/* Records why an object cannot get its file (it stays readable from the catalog). */
static void mark_failed(store_t *s, const item_t *it, const char *why)
{
    log_warn("store.writeback", "bucket", it->bucket, "key", it->key, "error", why);
    sqlite3_stmt *st = NULL;
    if (db_write_begin(s->db))
        return;
    if (!db_prepare(s->db, &st, "UPDATE object_pending SET failed = ?2 WHERE id = ?1", NULL)) {
        sqlite3_bind_int64(st, 1, it->id);
        sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
        sqlite3_step(st);
        db_done(s->db, st);
    }
    db_write_end(s->db);
}

/* Gives one held object its file at its name, under the key's stripe so that it cannot
 * race a delete or an overwrite of the key: true when it now needs its fsync. */
static bool place_one(store_t *s, item_t *it)
{
    assert(!it->w); /* one writer per item: a batch places each held object once */
    tarn_err_t e = {0};
    char path[PATH_MAX];
    if (store_object_path(s, path, sizeof path, it->bucket, it->key, &e)) {
        mark_failed(s, it, e.msg);
        return false;
    }
    pthread_mutex_t *m = store_stripe(s, it->bucket, it->key);
    pthread_mutex_lock(m);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st, "SELECT data FROM object_pending WHERE id = ?1", &e);
    bool held = false;
    if (!rc) {
        sqlite3_bind_int64(st, 1, it->id);
        held = sqlite3_step(st) == SQLITE_ROW;
        if (held && (rc = store_writer_begin(&it->w, s, 0, &e)) == 0 &&
            (rc = store_writer_file(it->w, &e)) == 0 &&
            fs_write_full(it->w->fd, sqlite3_column_blob(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0)))
            rc = TARN_ERR(&e, TARN_EIO, "write %s: %s", path, strerror(errno));
        db_done(s->db, st);
    }
    /* Linked before its fsync: nobody reads the file while the catalog holds the bytes,
     * and a crash before the batch's end writes it again over whatever is there. */
    if (held && !rc)
        rc = store_place(s, it->w, path, true, it->key, &e);
    pthread_mutex_unlock(m);
    if (held && rc) {
        mark_failed(s, it, e.msg[0] ? e.msg : "cannot write the file");
        store_writer_abort(it->w);
        it->w = NULL;
    }
    return held && !rc;
}

/* fsyncs of one batch, spread over a few threads: a disk completes concurrent flushes
 * together, where one thread would wait for each in turn. */
typedef struct {
    item_t *items;
    size_t n, first, step;
    bool ok;
} fsync_part_t;

static void fsync_part(void *p)
{
    fsync_part_t *f = p;
    for (size_t i = f->first; i < f->n; i += f->step) {
        item_t *it = &f->items[i];
        if (it->w && fsync(it->w->fd)) {
            log_warn("store.writeback", "bucket", it->bucket, "key", it->key, "error",
                     strerror(errno));
            f->ok = false;
        }
    }
}

static bool fsync_all(item_t *items, size_t n)
{
    enum { THREADS = 4 };
    fsync_part_t parts[THREADS];
    size_t k = n < 16 ? 1 : THREADS;
    for (size_t i = 0; i < k; i++)
        parts[i] = (fsync_part_t){.items = items, .n = n, .first = i, .step = k, .ok = true};
    worker_fanout("object-fsync", fsync_part, parts, sizeof *parts, (int)k);
    bool ok = true;
    for (size_t i = 0; i < k; i++)
        ok = ok && parts[i].ok;
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes out up to BATCH held objects; returns how many were held (0: nothing to do). */
static size_t write_batch(store_t *s, arena_t *a)
{
    item_t *items = arena_alloc(a, BATCH * sizeof *items);
    size_t n = 0;
    sqlite3_stmt *st = NULL;
    if (!items || db_prepare(s->db, &st,
                             "SELECT id, bucket, key FROM object_pending WHERE failed IS NULL"
                             " ORDER BY id LIMIT 256", /* BATCH */
                             NULL))
        return 0;
    while (n < BATCH && sqlite3_step(st) == SQLITE_ROW) {
        items[n] = (item_t){.id = sqlite3_column_int64(st, 0),
                            .bucket = arena_strdup(a, (const char *)sqlite3_column_text(st, 1)),
                            .key = arena_strdup(a, (const char *)sqlite3_column_text(st, 2))};
        if (items[n].bucket && items[n].key)
            n++;
    }
    db_done(s->db, st);
    const char **dirs = arena_alloc(a, (n ? n : 1) * sizeof *dirs);
    size_t ndirs = 0;
    for (size_t i = 0; i < n; i++) {
        if (!place_one(s, &items[i]))
            continue;
        char *dir = arena_sprintf(a, "%s/%s/%s", s->objects_dir, items[i].bucket, items[i].key);
        if (dirs && dir) {
            *strrchr(dir, '/') = '\0';
            dirs[ndirs++] = dir;
        }
    }
    /* Every file's bytes, then every folder's names, are on disk before any held copy is
     * forgotten. */
    bool ok = dirs != NULL && fsync_all(items, n);
    if (ok)
        qsort(dirs, ndirs, sizeof *dirs, cmp_str);
    for (size_t i = 0; ok && i < ndirs; i++) {
        tarn_err_t e = {0};
        if ((i == 0 || strcmp(dirs[i], dirs[i - 1])) && dirsync_sync(s->dirsync, dirs[i], &e)) {
            log_warn("store.writeback", "folder", dirs[i], "error", e.msg);
            ok = false;
        }
    }
    killpoint_hit("writeback-synced");
    if (ok && !db_write_begin(s->db)) {
        bool done = !db_exec(s->db, "BEGIN IMMEDIATE", NULL);
        for (size_t i = 0; done && i < n; i++) {
            if (!items[i].w)
                continue;
            done = !db_prepare(s->db, &st, "DELETE FROM object_pending WHERE id = ?1", NULL);
            if (done) {
                sqlite3_bind_int64(st, 1, items[i].id);
                done = sqlite3_step(st) == SQLITE_DONE;
                db_done(s->db, st);
            }
        }
        done = done && !db_exec(s->db, "COMMIT", NULL);
        if (!done)
            db_exec(s->db, "ROLLBACK", NULL);
        db_write_end(s->db);
        tarn_err_t e = {0};
        if (done && !db_sync(s->db, &e)) {
            pthread_mutex_lock(&s->pending.mu);
            for (size_t i = 0; i < n; i++)
                s->pending.written += items[i].w != NULL;
            pthread_mutex_unlock(&s->pending.mu);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].w) {
            items[i].w->committed = 1; /* the file is in place: nothing to clean up */
            store_writer_abort(items[i].w);
        }
    }
    return ok ? n : 0;
}

/* Objects held; *unwritten (when not NULL) gets how many of them are still to be
 * written (not marked failed). */
static uint64_t count_held(store_t *s, uint64_t *unwritten)
{
    uint64_t n = 0;
    sqlite3_stmt *st = NULL;
    if (!db_prepare(s->db, &st,
                    "SELECT count(*), coalesce(sum(failed IS NULL), 0) FROM object_pending",
                    NULL)) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            n = (uint64_t)sqlite3_column_int64(st, 0);
            if (unwritten)
                *unwritten = (uint64_t)sqlite3_column_int64(st, 1);
        }
        db_done(s->db, st);
    }
    return n;
}

bool store_pending_room(store_t *s)
{
    pthread_mutex_lock(&s->pending.mu);
    bool room = s->pending.started && s->pending.held < STORE_HELD_MAX;
    pthread_mutex_unlock(&s->pending.mu);
    return room;
}

/* Test builds: TARN_WRITEBACK_HOLD=1 writes files only when a reader by path asks
 * (store_object_materialize), so tests can see objects while they are held. */
static bool hold_for_tests(void)
{
#ifdef TARN_KILLPOINTS
    const char *v = getenv("TARN_WRITEBACK_HOLD");
    return v && *v == '1';
#else
    return false;
#endif
}

/* Sleeps until an object is held (store_pending_kick) or a reader waits for one, then
 * writes a batch; again at once while batches come full, and a second after a batch that
 * left objects unwritten (an I/O error), until they are written or marked failed. */
static void writeback_main(worker_t *w, void *ctx)
{
    store_t *s = ctx;
    store_pending_t *q = &s->pending;
    bool hold = hold_for_tests();
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(w, next)) {
        pthread_mutex_lock(&q->mu);
        bool asked = q->asked;
        q->asked = false;
        pthread_mutex_unlock(&q->mu);
        next = WORKER_FOREVER;
        if (hold && !asked)
            continue;
        arena_t *a = arena_create();
        if (!a) {
            next = time_mono_ms() + 1000;
            continue;
        }
        size_t n = write_batch(s, a);
        arena_free(a);
        uint64_t unwritten = 0, held = count_held(s, &unwritten);
        pthread_mutex_lock(&q->mu);
        q->held = held;
        pthread_cond_broadcast(&q->done);
        pthread_mutex_unlock(&q->mu);
        if (n == BATCH)
            next = 0; /* more are waiting */
        else if (unwritten && !hold)
            next = time_mono_ms() + 1000;
    }
}

int store_pending_start(store_t *s, tarn_err_t *err)
{
    store_pending_t *q = &s->pending;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->done, NULL);
    q->held = count_held(s, NULL);
    q->started = true;
    /* The worker's first pass writes whatever the last run left held. */
    int rc = worker_start(&q->worker, "object-writer", writeback_main, s, err);
    if (rc) {
        q->started = false;
        pthread_cond_destroy(&q->done);
        pthread_mutex_destroy(&q->mu);
    }
    return rc;
}

void store_pending_stop(store_t *s)
{
    store_pending_t *q = &s->pending;
    if (!q->started)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->mu);
    worker_stop(q->worker);
    q->started = false;
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
}

int store_object_materialize(store_t *s, const char *bucket, const char *key, tarn_err_t *err)
{
    store_pending_t *q = &s->pending;
    for (;;) {
        sqlite3_stmt *st = NULL;
        int rc = store_prepare_key(
            s, &st, "SELECT failed FROM object_pending WHERE bucket = ?1 AND key = ?2", bucket, key,
            err);
        if (rc)
            return rc;
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            rc = TARN_ERR(err, TARN_EIO, "%s/%s has no file: %s", bucket, key,
                          (const char *)sqlite3_column_text(st, 0));
        else if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = db_fail(s->db, step, err, "held object lookup");
        db_done(s->db, st);
        if (rc || step == SQLITE_DONE)
            return rc;
        pthread_mutex_lock(&q->mu);
        if (q->stop || !q->started) {
            pthread_mutex_unlock(&q->mu);
            return TARN_ERR(err, TARN_EIO, "%s/%s has no file yet and the store is closing", bucket,
                            key);
        }
        q->asked = true;
        worker_wake(q->worker);
        struct timespec t = time_after_ms(200);
        pthread_cond_timedwait(&q->done, &q->mu, &t);
        pthread_mutex_unlock(&q->mu);
    }
}

void store_pending_stats(store_t *s, uint64_t *held, uint64_t *written)
{
    *held = count_held(s, NULL);
    *written = 0;
    if (!s->pending.started)
        return;
    pthread_mutex_lock(&s->pending.mu);
    *written = s->pending.written;
    pthread_mutex_unlock(&s->pending.mu);
}
