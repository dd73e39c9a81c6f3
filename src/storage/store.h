/* The object store: buckets (the four zones plus plain user buckets) holding objects by
 * key, with an index of their metadata and digests. This is the local-filesystem
 * backend: bytes at <data>/objects/<bucket>/<key>, index in the lake's SQLite database.
 * Writes are atomic and crash-safe (temp file, fsync, rename, directory fsync, with an
 * intent row so that recovery at open finishes or forgets an interrupted commit). */
#ifndef TARN_STORAGE_STORE_H
#define TARN_STORAGE_STORE_H

#include "util/arena.h"
#include "util/db.h"
#include "util/err.h"
#include "util/hash.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct store store_t;

/* Opens the store of the lake at data_dir (creating folders and tables in db, which it
 * borrows until store_close), runs recovery, and makes sure the zone buckets exist.
 * Caller frees with store_close. */
int store_open(store_t **out, const char *data_dir, db_t *db, tarn_err_t *err);
void store_close(store_t *s);

/* ---- buckets ---- */
typedef struct {
    const char *name;
    int64_t created_ms;
    bool zone;
} store_bucket_t;

/* TARN_EEXISTS (reason BucketAlreadyOwnedByYou) when it exists. */
int store_bucket_create(store_t *s, const char *name, tarn_err_t *err);
/* Zones cannot be deleted (TARN_EDENIED); TARN_ECONFLICT BucketNotEmpty; TARN_ENOTFOUND. */
int store_bucket_delete(store_t *s, const char *name, tarn_err_t *err);
/* 0 if the bucket exists, TARN_ENOTFOUND (reason NoSuchBucket) otherwise. */
int store_bucket_check(store_t *s, const char *name, tarn_err_t *err);
/* All buckets sorted by name; the array and strings live in arena a. */
int store_bucket_list(store_t *s, arena_t *a, store_bucket_t **out, size_t *n, tarn_err_t *err);

/* ---- objects ---- */
typedef struct {
    const char *bucket;
    const char *key;
    uint64_t size;
    char etag[48];            /* without quotes: hex MD5, or hex-md5-of-md5s "-N" for multipart */
    uint8_t sha256[32];
    uint8_t md5[16];          /* of the whole object (the ETag of a multipart one is not) */
    int64_t mtime_ms;
    const char *content_type; /* NULL when not given */
    const char *content_encoding;
    const char *content_disposition;
    const char *content_language;
    const char *cache_control;
    const char *expires;
    const char *user_meta;    /* JSON object of x-amz-meta-* (names lowercased, no prefix) */
    const char *checksum_algo;  /* "CRC32", "CRC32C", "SHA256" or NULL */
    const char *checksum_value; /* base64 value the client supplied */
    unsigned parts;           /* multipart part count, 0 for a single PUT */
    const char *part_sizes;   /* JSON array of part sizes when parts > 0 */
} store_object_t;

/* Metadata supplied with a write; NULL members are left unset. */
typedef struct {
    const char *content_type, *content_encoding, *content_disposition, *content_language,
        *cache_control, *expires, *user_meta, *checksum_algo, *checksum_value;
} store_meta_t;

/* A write in progress: bytes go to a temp file while every digest is computed. */
typedef struct store_writer store_writer_t;

/* hash_flags: HASH_* digests to compute besides SHA-256 and MD5 (always computed, and
 * kept for every object). */
int store_writer_begin(store_writer_t **out, store_t *s, unsigned hash_flags, tarn_err_t *err);
/* A writer over a finished file at path, which must be in the lake's folder tree (the
 * same filesystem as the objects, e.g. a staging folder under <data>/tmp): its bytes are
 * read once for their digests, and committing renames the file itself into place, so a
 * large file written by the engine becomes an object without being copied. Aborting
 * removes the file. */
int store_writer_adopt(store_writer_t **out, store_t *s, const char *path, tarn_err_t *err);
/* A writer whose commit gives the object behind fd (from store_object_open, with its
 * metadata in src) a second name, without copying a byte: objects are never changed in
 * place, so two names may share the bytes. The digests are src's. fd stays the
 * caller's; -1 (an empty object) is TARN_EIO, for the caller to copy instead. */
int store_writer_link(store_writer_t **out, store_t *s, int fd, const store_object_t *src,
                      tarn_err_t *err);
int store_writer_write(store_writer_t *w, const void *p, size_t n, tarn_err_t *err);
/* Digests of everything written so far; call once, after the last write. */
const hash_digests_t *store_writer_digests(store_writer_t *w);
/* Called inside the transaction that makes an object visible (on the store's database
 * connection of the calling thread), so what a layer above records about the object
 * commits together with it. A non-zero return aborts the commit. */
typedef struct {
    int (*fn)(void *ctx, const store_object_t *o, tarn_err_t *err);
    void *ctx;
} store_hook_t;

/* Makes the commit conditional, checked under the key's lock: if_none_match, only when
 * the key has no object; if_match (an ETag without quotes), only when its object has that
 * ETag. Otherwise the commit fails with TARN_ECONFLICT, reason PreconditionFailed (or
 * TARN_ENOTFOUND, NoSuchKey, for if_match on a missing key). if_match is copied. */
int store_writer_set_condition(store_writer_t *w, bool if_none_match, const char *if_match);

/* Lets a small object (up to 64 KiB) written to a key that has none be acknowledged from
 * the catalog: its bytes commit with its index row (one synced WAL round for many
 * concurrent writes, rather than a file, its fsync and its folder's fsync each) and a
 * background writer gives it its file soon after. Reads are served from the catalog
 * until then; readers by path call store_object_materialize first. */
void store_writer_defer_small(store_writer_t *w);

/* Runs hook (not NULL) inside the commit of this writer. */
void store_writer_set_hook(store_writer_t *w, const store_hook_t *hook);

/* Makes the object visible under bucket/key atomically, replacing any previous one;
 * fills out (strings in arena a) when out is not NULL. Frees the writer either way. */
int store_writer_commit(store_writer_t *w, const char *bucket, const char *key,
                        const store_meta_t *meta, store_object_t *out, arena_t *a,
                        tarn_err_t *err);
/* Makes n new objects visible at once: ws[i] under buckets[i]/keys[i], in one catalog
 * transaction, inside which each runs for every object and then last once (with a NULL
 * object), so that what a layer above records of the whole set (a source's cursor)
 * commits with it. Keys must hold no object (TARN_ECONFLICT, reason KeyExists); a crash
 * before the commit leaves at most unindexed files, which a later write of the same keys
 * replaces. Frees every writer either way. */
int store_writers_commit(store_t *s, store_writer_t **ws, const char *const *buckets,
                         const char *const *keys, size_t n, const store_hook_t *each,
                         const store_hook_t *last, tarn_err_t *err);
/* Drops the temp file and frees the writer. */
void store_writer_abort(store_writer_t *w);

/* Metadata of one object (strings in arena a); TARN_ENOTFOUND reason NoSuchKey. */
int store_object_head(store_t *s, const char *bucket, const char *key, store_object_t *out,
                      arena_t *a, tarn_err_t *err);
/* Metadata plus an open read-only descriptor on exactly those bytes (caller closes it;
 * -1 for an empty object). A concurrent overwrite does not change what fd reads. */
int store_object_open(store_t *s, const char *bucket, const char *key, store_object_t *out,
                      int *fd, arena_t *a, tarn_err_t *err);
/* Returns once the object's bytes are in their file at <objects>/<bucket>/<key> and on
 * disk (at once for an object that has its file, or none): for readers that go by path,
 * such as the engine. TARN_EIO when the file cannot be made (the object stays readable
 * through store_object_open). */
int store_object_materialize(store_t *s, const char *bucket, const char *key, tarn_err_t *err);
/* Small objects held in the catalog now, and written out to files since open. */
void store_pending_stats(store_t *s, uint64_t *held, uint64_t *written);

/* Removes an object; deleting a missing key is not an error (S3 semantics). When hook is
 * not NULL and an object was removed, the hook runs inside the removal's transaction
 * (with only bucket and key set in its object). */
int store_object_delete(store_t *s, const char *bucket, const char *key,
                        const store_hook_t *hook, tarn_err_t *err);

/* Removes an object only while its ETag is if_etag (NULL: any), checked under the key's
 * lock, so a newer object written meanwhile is never removed; otherwise as
 * store_object_delete (nothing removed is not an error; the hook then does not run). */
int store_object_delete_if(store_t *s, const char *bucket, const char *key, const char *if_etag,
                           const store_hook_t *hook, tarn_err_t *err);
/* The key of some object of bucket whose bytes have this SHA-256 (in arena a), or
 * TARN_ENOTFOUND (without a message) when none has. */
int store_object_find_sha256(store_t *s, const char *bucket, const uint8_t sha256[32],
                             const char **key, arena_t *a, tarn_err_t *err);

/* ---- listing ---- */
typedef struct {
    const char *key;      /* the key, or the common prefix when is_prefix */
    bool is_prefix;
    uint64_t size;
    const char *etag;
    int64_t mtime_ms;
} store_entry_t;

typedef struct {
    const char *prefix;       /* NULL or "" for all */
    const char *delimiter;    /* NULL or "" for none */
    const char *start_after;  /* list keys strictly after this (marker / continuation) */
    size_t max_keys;          /* 0 returns nothing but still reports truncation */
} store_list_opts_t;

typedef int (*store_list_cb)(void *ctx, const store_entry_t *e);
/* Calls cb in key order for up to max_keys keys and common prefixes; *truncated tells
 * whether more follow, *last is the last key or prefix emitted (arena a). */
int store_list(store_t *s, const char *bucket, const store_list_opts_t *o, store_list_cb cb,
               void *ctx, bool *truncated, const char **last, arena_t *a, tarn_err_t *err);

/* Objects and bytes per bucket, for metrics. cb is called once per bucket. */
typedef int (*store_usage_cb)(void *ctx, const char *bucket, uint64_t objects, uint64_t bytes);
int store_usage(store_t *s, store_usage_cb cb, void *ctx, tarn_err_t *err);

#endif
