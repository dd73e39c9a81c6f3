/* Private parts of the local object store shared by store.c, store_list.c and
 * multipart.c. Not for use outside src/storage/. */
#ifndef TARN_STORAGE_STORE_INTERNAL_H
#define TARN_STORAGE_STORE_INTERNAL_H

#include "storage/dirsync.h"
#include "storage/store.h"
#include "util/db.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define STORE_STRIPES 64

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
};

pthread_mutex_t *store_stripe(store_t *s, const char *bucket, const char *key);
/* For an anonymous writer, picks the hidden temporary name it will get in the folder of
 * final (into w->tmp_path); named writers already have theirs. */
void store_writer_pick_name(store_writer_t *w, const char *final);
/* Gives the writer's bytes the name w->tmp_path (anonymous writers are linked in) and
 * renames that to final. Returns 0 or -1 with errno. */
int store_writer_place(store_writer_t *w, const char *final);
/* Makes a unique temp path under dir (<dir>/<tag>-<pid>-<seq>). */
void store_tmp_name(store_t *s, char *out, size_t cap, const char *tag);
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
