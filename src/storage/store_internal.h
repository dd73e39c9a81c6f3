/* Private parts of the local object store shared by store.c, store_list.c and
 * multipart.c. Not for use outside src/storage/. */
#ifndef TARN_STORAGE_STORE_INTERNAL_H
#define TARN_STORAGE_STORE_INTERNAL_H

#include "storage/dirsync.h"
#include "storage/store.h"
#include "util/db.h"
#include "util/worker.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define STORE_STRIPES 64
/* Bodies up to this size are buffered in memory while they arrive, and a deferred write
 * (store_writer_defer_small) of a new key keeps them in the catalog until written out. */
#define STORE_SMALL_MAX (64 * 1024)
/* Past this many held objects, small writes take the file path until the background
 * writer catches up: the catalog is a buffer, not a second store. */
#define STORE_HELD_MAX 20000

/* The background writer of small objects held in the catalog (pending.c). */
typedef struct {
    worker_t *worker; /* woken by each held object and by readers that wait */
    pthread_mutex_t mu;
    pthread_cond_t done; /* a batch was written */
    bool started, stop, asked; /* asked: a reader by path waits */
    uint64_t held;    /* objects held (counted after each batch, plus commits since) */
    uint64_t written; /* objects written out, for metrics */
} store_pending_t;

struct store {
    char data_dir[PATH_MAX];
    char objects_dir[PATH_MAX];
    char tmp_dir[PATH_MAX];
    char uploads_dir[PATH_MAX];
    db_t *db;
    /* Per-key commit locks, striped by hash: the rename and the index update of one
     * key happen together, and readers of that key see both or neither. */
    pthread_mutex_t stripes[STORE_STRIPES];
    atomic_uint_fast64_t tmp_seq;
    dirsync_t *dirsync;
    /* Bucket names, sorted, kept in memory: every request checks its bucket, and buckets
     * change rarely (reloaded from the index after each create or delete). */
    pthread_rwlock_t buckets_lock;
    char **buckets;
    size_t nbuckets;
    store_pending_t pending;
};

struct store_writer {
    store_t *s;
    int fd;
    char tmp_path[PATH_MAX];
    hash_multi_t *h;
    hash_digests_t d;
    int finished;  /* digests computed */
    int committed; /* the temp file was renamed into place */
    int anon;      /* an O_TMPFILE: nameless until linked (a crash leaves nothing behind) */
    int linked;    /* the anonymous file got its temporary name (tmp_path) */
    unsigned parts;
    const char *part_sizes;
    const char *etag_override; /* multipart ETag */
    store_hook_t hook;
    bool if_none_match;
    char *if_match;
    /* Bytes written while there is no file yet (fd < 0): a small body never needs one
     * when it is kept in the catalog. */
    uint8_t *mem;
    size_t mem_len, mem_cap;
    bool defer; /* a small new object may be kept in the catalog (pending.c) */
};

pthread_mutex_t *store_stripe(store_t *s, const char *bucket, const char *key);
/* For asserts where the caller must hold the key's stripe: whether anyone holds it (a
 * mutex cannot say who). Not for decisions: it takes the lock for a moment when free. */
static inline bool store_stripe_held(store_t *s, const char *bucket, const char *key)
{
    pthread_mutex_t *m = store_stripe(s, bucket, key);
    if (pthread_mutex_trylock(m))
        return true;
    pthread_mutex_unlock(m);
    return false;
}
/* For an anonymous writer, picks the hidden temporary name it will get in the folder of
 * final (into w->tmp_path); named writers already have theirs. */
void store_writer_pick_name(store_writer_t *w, const char *final);
/* Gives the writer's bytes the name w->tmp_path (anonymous writers are linked in) and
 * renames that to final. Returns 0 or -1 with errno. */
int store_writer_place(store_writer_t *w, const char *final);
/* Gives a writer whose bytes are still in memory its (anonymous) file, holding them. */
int store_writer_file(store_writer_t *w, tarn_err_t *err);
/* Puts the writer's bytes at path (its parents made as needed); fast: the key has no
 * object, so the file is linked straight to its name. Called under the key's stripe. */
int store_place(store_t *s, store_writer_t *w, const char *path, bool fast, const char *key,
                tarn_err_t *err);
/* <objects>/<bucket>/<key> into out. */
int store_object_path(const store_t *s, char *out, size_t cap, const char *bucket,
                      const char *key, tarn_err_t *err);

/* ---- small objects held in the catalog until written out (pending.c) ---- */
/* Starts and stops the background writer. */
int store_pending_start(store_t *s, tarn_err_t *err);
void store_pending_stop(store_t *s);
/* Inside the commit of a new small object: its bytes into the catalog. */
int store_pending_insert(store_t *s, const char *bucket, const char *key, const void *data,
                         size_t len, tarn_err_t *err);
/* Inside a commit that replaces or removes the object of a key: forgets its held bytes. */
int store_pending_forget(store_t *s, const char *bucket, const char *key, tarn_err_t *err);
/* When the key's object is held in the catalog, a sealed in-memory descriptor on its bytes
 * in *fd; otherwise *fd stays -1. Called under the key's stripe. */
int store_pending_open(store_t *s, const char *bucket, const char *key, int *fd,
                       tarn_err_t *err);
/* Whether a new small object may be held (the background writer is not too far behind). */
bool store_pending_room(store_t *s);
/* Wakes the background writer (after a commit that held bytes). */
void store_pending_kick(store_t *s);

/* Makes a unique temp path under dir (<dir>/<tag>-<pid>-<seq>). */
void store_tmp_name(store_t *s, char *out, size_t cap, const char *tag);
/* Prepares sql (db_prepare) with bucket and key bound to ?1 and ?2. */
int store_prepare_key(store_t *s, sqlite3_stmt **st, const char *sql, const char *bucket,
                      const char *key, tarn_err_t *err);
/* Binds v, or NULL when v is NULL. */
void store_bind_opt(sqlite3_stmt *st, int i, const char *v);
/* Column i as a string copied into a, or NULL. */
const char *store_col_text(sqlite3_stmt *st, int i, arena_t *a);
/* Fills an object from a row whose columns are STORE_OBJECT_COLS starting at col 0. */
void store_row_to_object(sqlite3_stmt *st, store_object_t *o, arena_t *a);

#define STORE_OBJECT_COLS                                                                  \
    "bucket, key, size, etag, sha256, mtime_ms, content_type, content_encoding,"          \
    " content_disposition, content_language, cache_control, expires, user_meta,"          \
    " checksum_algo, checksum_value, parts, part_sizes, md5"

#endif
