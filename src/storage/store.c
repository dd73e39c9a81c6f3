/* Local-filesystem object store: buckets, atomic object writes, reads and deletes.
 * Listing is in store_list.c, multipart uploads in multipart.c. A commit first records
 * an intent row, then renames the temp file into place, then swaps the intent for the
 * index row; store_open finishes or forgets intents left by a crash, so an object is
 * either wholly visible or not at all. */
#include "storage/keys.h"
#include "storage/store_internal.h"
#include "util/fs.h"
#include "util/killpoint.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const store_schema[] = {
    "CREATE TABLE buckets(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL)",
    "CREATE TABLE objects(bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,"
    " etag TEXT NOT NULL, sha256 TEXT NOT NULL, mtime_ms INTEGER NOT NULL, content_type TEXT,"
    " content_encoding TEXT, content_disposition TEXT, content_language TEXT,"
    " cache_control TEXT, expires TEXT, user_meta TEXT, checksum_algo TEXT,"
    " checksum_value TEXT, parts INTEGER NOT NULL DEFAULT 0, part_sizes TEXT,"
    " PRIMARY KEY(bucket, key)) WITHOUT ROWID",
    /* A commit in flight: the same columns plus the temp file being renamed. */
    "CREATE TABLE object_intents(tmp TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,"
    " size INTEGER NOT NULL, etag TEXT NOT NULL, sha256 TEXT NOT NULL, mtime_ms INTEGER NOT NULL,"
    " content_type TEXT, content_encoding TEXT, content_disposition TEXT, content_language TEXT,"
    " cache_control TEXT, expires TEXT, user_meta TEXT, checksum_algo TEXT,"
    " checksum_value TEXT, parts INTEGER NOT NULL DEFAULT 0, part_sizes TEXT)",
    "CREATE TABLE uploads(upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, content_type TEXT, content_encoding TEXT,"
    " content_disposition TEXT, content_language TEXT, cache_control TEXT, expires TEXT,"
    " user_meta TEXT, checksum_algo TEXT)",
    "CREATE INDEX uploads_by_key ON uploads(bucket, key, upload_id)",
    "CREATE TABLE upload_parts(upload_id TEXT NOT NULL REFERENCES uploads ON DELETE CASCADE,"
    " part_number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    " mtime_ms INTEGER NOT NULL, PRIMARY KEY(upload_id, part_number))",
    /* Completed uploads are remembered for a day: a client that lost the answer to
     * CompleteMultipartUpload retries it and must get the same success. */
    ("CREATE TABLE completed_uploads(upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL,"
     " key TEXT NOT NULL, etag TEXT NOT NULL, completed_ms INTEGER NOT NULL)"),
    /* The MD5 of every object's bytes (a multipart ETag is not one). */
    "ALTER TABLE objects ADD COLUMN md5 TEXT",
    "ALTER TABLE object_intents ADD COLUMN md5 TEXT",
    /* Finding an object by its bytes (promotion refuses a byte-for-byte duplicate). */
    "CREATE INDEX objects_sha256 ON objects(bucket, sha256)",
    /* Small objects acknowledged from the catalog, until the background writer has put
     * their bytes in their files (pending.c); failed says why it could not. */
    "CREATE TABLE object_pending(id INTEGER PRIMARY KEY, bucket TEXT NOT NULL,"
    " key TEXT NOT NULL, data BLOB NOT NULL, failed TEXT, UNIQUE(bucket, key))",
    /* A removed object's held bytes go with it, in the same transaction. (An overwrite's
     * INSERT OR REPLACE fires no delete trigger: commit_row forgets those itself.) */
    "CREATE TRIGGER objects_forget_pending AFTER DELETE ON objects BEGIN"
    " DELETE FROM object_pending WHERE bucket = OLD.bucket AND key = OLD.key; END",
};

pthread_mutex_t *store_stripe(store_t *s, const char *bucket, const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = bucket; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &s->stripes[h % STORE_STRIPES];
}

void store_tmp_name(store_t *s, char *out, size_t cap, const char *tag)
{
    uint64_t n = atomic_fetch_add(&s->tmp_seq, 1);
    snprintf(out, cap, "%s/%s-%ld-%llu", s->tmp_dir, tag, (long)getpid(),
             (unsigned long long)n);
}

const char *store_col_text(sqlite3_stmt *st, int i, arena_t *a)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? arena_strdup(a, (const char *)t) : NULL;
}

void store_row_to_object(sqlite3_stmt *st, store_object_t *o, arena_t *a)
{
    memset(o, 0, sizeof *o);
    o->bucket = store_col_text(st, 0, a);
    o->key = store_col_text(st, 1, a);
    o->size = (uint64_t)sqlite3_column_int64(st, 2);
    const char *etag = (const char *)sqlite3_column_text(st, 3);
    snprintf(o->etag, sizeof o->etag, "%s", etag ? etag : "");
    const char *sha = (const char *)sqlite3_column_text(st, 4);
    if (sha)
        hash_unhex(o->sha256, 32, sha);
    o->mtime_ms = sqlite3_column_int64(st, 5);
    o->content_type = store_col_text(st, 6, a);
    o->content_encoding = store_col_text(st, 7, a);
    o->content_disposition = store_col_text(st, 8, a);
    o->content_language = store_col_text(st, 9, a);
    o->cache_control = store_col_text(st, 10, a);
    o->expires = store_col_text(st, 11, a);
    o->user_meta = store_col_text(st, 12, a);
    o->checksum_algo = store_col_text(st, 13, a);
    o->checksum_value = store_col_text(st, 14, a);
    o->parts = (unsigned)sqlite3_column_int(st, 15);
    o->part_sizes = store_col_text(st, 16, a);
    const char *md5 = (const char *)sqlite3_column_text(st, 17);
    if (md5)
        hash_unhex(o->md5, 16, md5);
}

int store_object_path(const store_t *s, char *out, size_t cap, const char *bucket,
                       const char *key, tarn_err_t *err)
{
    if ((size_t)snprintf(out, cap, "%s/%s/%s", s->objects_dir, bucket, key) >= cap)
        return TARN_ERR_R(err, TARN_EINVAL, KeyTooLongError, "object path too long");
    return 0;
}

/* ---- recovery ---- */

/* Whether the file at path holds exactly size bytes with this SHA-256. */
/* Feeds everything fd holds from its offset on to h: 0, or an errno (ENOMEM included). */
static int hash_fd(hash_multi_t *h, int fd)
{
    char *b = malloc(1 << 20);
    if (!b)
        return ENOMEM;
    int e = 0;
    for (ssize_t n; (n = read(fd, b, 1 << 20)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        hash_multi_update(h, b, (size_t)n);
    }
    free(b);
    return e;
}

/* Whether the file at path holds exactly size bytes with this SHA-256. */
static bool file_is(const char *path, uint64_t size, const uint8_t sha256[32])
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    hash_multi_t *h = NULL;
    bool ok = fd >= 0 && !fstat(fd, &st) && (uint64_t)st.st_size == size &&
              (h = hash_multi_create(HASH_SHA256)) && !hash_fd(h, fd);
    if (ok) {
        hash_digests_t d;
        hash_multi_final(h, &d);
        ok = d.size == size && !memcmp(d.sha256, sha256, 32);
    }
    hash_multi_free(h);
    if (fd >= 0)
        close(fd);
    return ok;
}

/* An overwrite the last process did not finish: its intent row names the hidden file
 * that was to be renamed over the object, with the new object's size and digest. */
static int recover_intents(store_t *s, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT tmp, bucket, key, size, sha256 FROM object_intents", err);
    if (rc)
        return rc;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *tmp = (const char *)sqlite3_column_text(st, 0);
        const char *bucket = (const char *)sqlite3_column_text(st, 1);
        const char *key = (const char *)sqlite3_column_text(st, 2);
        uint64_t size = (uint64_t)sqlite3_column_int64(st, 3);
        uint8_t sha[32] = {0};
        hash_unhex(sha, 32, (const char *)sqlite3_column_text(st, 4));
        char path[PATH_MAX];
        /* Finished only when the new bytes really are in place: after a power failure
         * the rename (and the hidden name) may both be gone, leaving the old object. */
        bool renamed = !fs_exists(tmp) &&
                       !store_object_path(s, path, sizeof path, bucket, key, NULL) &&
                       file_is(path, size, sha);
        log_info("store.recover", "tmp", tmp, "action", renamed ? "finish" : "discard");
        char *q;
        if (renamed)
            q = sqlite3_mprintf("BEGIN; INSERT OR REPLACE INTO objects(" STORE_OBJECT_COLS
                                ") SELECT " STORE_OBJECT_COLS
                                " FROM object_intents WHERE tmp = %Q;"
                                " DELETE FROM object_intents WHERE tmp = %Q;"
                                " DELETE FROM object_pending WHERE bucket = %Q AND key = %Q;"
                                " COMMIT;",
                                tmp, tmp, bucket, key);
        else /* never acknowledged: the old object stays as indexed */
            q = sqlite3_mprintf("DELETE FROM object_intents WHERE tmp = %Q", tmp);
        rc = q ? db_exec(s->db, q, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        sqlite3_free(q);
        if (rc) {
            db_exec(s->db, "ROLLBACK", NULL);
            break;
        }
        /* The hidden file goes once the intent's end is on disk. */
        if (!renamed && !(rc = db_sync(s->db, err)))
            unlink(tmp);
        if (rc)
            break;
    }
    db_done(s->db, st);
    return rc;
}

/* Temp files not named by an intent belong to writes that never committed. */
static void sweep_tmp(store_t *s)
{
    DIR *d = opendir(s->tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, "put-", 4)) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", s->tmp_dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

static int ensure_bucket_row(store_t *s, const char *name, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "INSERT OR IGNORE INTO buckets(name, created_ms) VALUES(?1, ?2)", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, time_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(s->db, SQLITE_ERROR, err, "create bucket");
    db_done(s->db, st);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reloads the in-memory bucket list from the index. */
static int load_buckets(store_t *s, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st, "SELECT name FROM buckets ORDER BY name", err);
    if (rc)
        return rc;
    size_t cap = 16, n = 0;
    char **v = malloc(cap * sizeof *v);
    while (v && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            char **nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
        v[n] = strdup((const char *)sqlite3_column_text(st, 0));
        if (!v[n])
            break;
        n++;
    }
    db_done(s->db, st);
    if (!v || (n < cap && sqlite3_errcode(db_h(s->db)) == SQLITE_NOMEM)) {
        for (size_t i = 0; v && i < n; i++)
            free(v[i]);
        free(v);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    pthread_rwlock_wrlock(&s->buckets_lock);
    char **old = s->buckets;
    size_t oldn = s->nbuckets;
    s->buckets = v;
    s->nbuckets = n;
    pthread_rwlock_unlock(&s->buckets_lock);
    for (size_t i = 0; i < oldn; i++)
        free(old[i]);
    free(old);
    return 0;
}

int store_open(store_t **out, const char *data_dir, db_t *db, tarn_err_t *err)
{
    store_t *s = calloc(1, sizeof *s);
    int rc = 0;
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (strlen(data_dir) > 2048) {
        free(s);
        return TARN_ERR(err, TARN_EINVAL, "the data folder path is too long (over 2048 bytes)");
    }
    for (int i = 0; i < STORE_STRIPES; i++)
        pthread_mutex_init(&s->stripes[i], NULL);
    pthread_rwlock_init(&s->buckets_lock, NULL);
    if (!(s->dirsync = dirsync_create())) {
        free(s);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    snprintf(s->data_dir, sizeof s->data_dir, "%s", data_dir);
    snprintf(s->objects_dir, sizeof s->objects_dir, "%s/objects", data_dir);
    snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/tmp", data_dir);
    snprintf(s->uploads_dir, sizeof s->uploads_dir, "%s/tmp/uploads", data_dir);
    if ((rc = fs_mkdir_p(s->objects_dir, 0750, err)) || (rc = fs_mkdir_p(s->uploads_dir, 0750, err)))
        goto done;
    s->db = db;
    if ((rc = db_migrate(s->db, "storage", store_schema,
                         (int)(sizeof store_schema / sizeof *store_schema), err)))
        goto done;
    if ((rc = recover_intents(s, err)))
        goto done;
    if ((rc = store_pending_start(s, err)))
        goto done;
    char *prune = sqlite3_mprintf("DELETE FROM completed_uploads WHERE completed_ms < %lld",
                                  (long long)(time_now_ms() - 86400000LL));
    if (prune)
        db_exec(s->db, prune, NULL);
    sqlite3_free(prune);
    sweep_tmp(s);
    for (size_t i = 0; i < 4; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", s->objects_dir, store_zones[i]);
        if ((rc = fs_mkdir_p(p, 0750, err)) || (rc = ensure_bucket_row(s, store_zones[i], err)))
            goto done;
    }
    rc = load_buckets(s, err);
done:
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(store_t *s)
{
    if (!s)
        return;
    store_pending_stop(s);
    dirsync_free(s->dirsync);
    for (size_t i = 0; i < s->nbuckets; i++)
        free(s->buckets[i]);
    free(s->buckets);
    pthread_rwlock_destroy(&s->buckets_lock);
    for (int i = 0; i < STORE_STRIPES; i++)
        pthread_mutex_destroy(&s->stripes[i]);
    free(s);
}

/* ---- buckets ---- */

int store_bucket_check(store_t *s, const char *name, tarn_err_t *err)
{
    pthread_rwlock_rdlock(&s->buckets_lock);
    bool found = s->nbuckets &&
                 bsearch(&name, s->buckets, s->nbuckets, sizeof *s->buckets, cmp_name) != NULL;
    pthread_rwlock_unlock(&s->buckets_lock);
    if (found)
        return 0;
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchBucket, "the bucket '%s' does not exist", name);
}

int store_bucket_create(store_t *s, const char *name, tarn_err_t *err)
{
    int rc = store_check_bucket_name(name, err);
    if (rc)
        return rc;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", s->objects_dir, name);
    sqlite3_stmt *st = NULL;
    if ((rc = db_prepare(s->db, &st, "INSERT INTO buckets(name, created_ms) VALUES(?1, ?2)", err)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, time_now_ms());
    int step = sqlite3_step(st);
    db_done(s->db, st);
    if (step == SQLITE_CONSTRAINT)
        return TARN_ERR_R(err, TARN_EEXISTS, BucketAlreadyOwnedByYou,
                          "the bucket '%s' already exists and is yours", name);
    if (step != SQLITE_DONE)
        return db_fail(s->db, step, err, "create bucket");
    if ((rc = fs_mkdir_p(p, 0750, err)) || (rc = fs_fsync_dir(s->objects_dir, err)))
        return rc;
    return load_buckets(s, err);
}

int store_bucket_delete(store_t *s, const char *name, tarn_err_t *err)
{
    if (store_is_zone(name))
        return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                          "'%s' is a zone of the lake and cannot be deleted", name);
    int rc = store_bucket_check(s, name, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    /* Uploads in progress go with the bucket, and so do their parts in tmp/uploads/<id>/:
     * their ids are read in the same transaction that deletes their rows. The emptiness
     * check is in that transaction too, and object commits check their bucket inside
     * theirs, so no object can land in a bucket being deleted. */
    buf_t ids = BUF_INIT; /* NUL-separated upload ids */
    char *q = sqlite3_mprintf("DELETE FROM uploads WHERE bucket = %Q;"
                              " DELETE FROM buckets WHERE name = %Q;",
                              name, name);
    if (!q)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    rc = db_exec(s->db, "BEGIN IMMEDIATE", err);
    if (!rc && !(rc = db_prepare(s->db, &st, "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
                                 err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = TARN_ERR_R(err, TARN_ECONFLICT, BucketNotEmpty,
                            "the bucket '%s' is not empty; delete its objects first", name);
        db_done(s->db, st);
    }
    if (!rc && !(rc = db_prepare(s->db, &st, "SELECT upload_id FROM uploads WHERE bucket = ?1",
                                 err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (!rc && sqlite3_step(st) == SQLITE_ROW)
            if (buf_append(&ids, sqlite3_column_text(st, 0),
                           (size_t)sqlite3_column_bytes(st, 0) + 1))
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        db_done(s->db, st);
    }
    if (!rc)
        rc = db_exec(s->db, q, err);
    if (!rc)
        rc = db_exec(s->db, "COMMIT", err);
    sqlite3_free(q);
    if (rc) {
        db_exec(s->db, "ROLLBACK", NULL);
        buf_free(&ids);
        return rc;
    }
    char p[PATH_MAX];
    for (size_t i = 0; i < ids.len; i += strlen(ids.data + i) + 1) {
        snprintf(p, sizeof p, "%s/%s", s->uploads_dir, ids.data + i);
        fs_remove_tree(p);
    }
    buf_free(&ids);
    snprintf(p, sizeof p, "%s/%s", s->objects_dir, name);
    fs_remove_tree(p);
    return load_buckets(s, err);
}

int store_bucket_list(store_t *s, arena_t *a, store_bucket_t **out, size_t *n, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st, "SELECT name, created_ms FROM buckets ORDER BY name", err);
    if (rc)
        return rc;
    size_t cap = 16, cnt = 0;
    store_bucket_t *v = arena_alloc(a, cap * sizeof *v);
    while (v && sqlite3_step(st) == SQLITE_ROW) {
        if (cnt == cap) {
            store_bucket_t *nv = arena_alloc(a, 2 * cap * sizeof *v);
            if (!nv) {
                v = NULL;
                break;
            }
            memcpy(nv, v, cnt * sizeof *v);
            v = nv;
            cap *= 2;
        }
        v[cnt].name = arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
        v[cnt].created_ms = sqlite3_column_int64(st, 1);
        v[cnt].zone = store_is_zone(v[cnt].name);
        cnt++;
    }
    db_done(s->db, st);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- writes ---- */

int store_writer_begin(store_writer_t **out, store_t *s, unsigned hash_flags, tarn_err_t *err)
{
    store_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    w->s = s;
    w->fd = -1; /* the file is made when the bytes outgrow memory, or at commit */
    w->h = hash_multi_create(hash_flags | HASH_SHA256 | HASH_MD5);
    if (!w->h) {
        free(w);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    *out = w;
    return 0;
}

int store_writer_file(store_writer_t *w, tarn_err_t *err)
{
    if (w->fd >= 0)
        return 0;
    /* An unnamed file: creating it touches no folder, and if the process dies the kernel
     * reclaims it. Filesystems without O_TMPFILE get a named file in tmp/. */
    w->fd = open(w->s->tmp_dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640);
    if (w->fd >= 0) {
        w->anon = 1;
    } else {
        store_tmp_name(w->s, w->tmp_path, sizeof w->tmp_path, "put");
        w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    }
    if (w->fd < 0)
        return TARN_ERR(err, TARN_EIO, "create temp file: %s", strerror(errno));
    if (w->mem_len && fs_write_full(w->fd, w->mem, w->mem_len))
        return TARN_ERR(err, TARN_EIO, "write object: %s", strerror(errno));
    free(w->mem);
    w->mem = NULL;
    w->mem_len = w->mem_cap = 0;
    return 0;
}

void store_writer_defer_small(store_writer_t *w)
{
    w->defer = true;
}

/* Appends to the in-memory bytes of a writer without a file; false when they would
 * outgrow STORE_SMALL_MAX (or memory), and the bytes belong in a file. */
static bool mem_append(store_writer_t *w, const void *p, size_t n)
{
    if (w->mem_len + n > STORE_SMALL_MAX)
        return false;
    if (w->mem_len + n > w->mem_cap) {
        size_t cap = w->mem_cap ? w->mem_cap : 4096;
        while (cap < w->mem_len + n)
            cap *= 2;
        uint8_t *m = realloc(w->mem, cap);
        if (!m)
            return false;
        w->mem = m;
        w->mem_cap = cap;
    }
    memcpy(w->mem + w->mem_len, p, n);
    w->mem_len += n;
    return true;
}

int store_writer_adopt(store_writer_t **out, store_t *s, const char *path, tarn_err_t *err)
{
    store_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    w->s = s;
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s", path);
    w->h = hash_multi_create(HASH_SHA256 | HASH_MD5);
    w->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0, e;
    if (!w->h) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    } else if (w->fd < 0) {
        rc = TARN_ERR(err, TARN_EIO, "open %s: %s", path, strerror(errno));
    } else if ((e = hash_fd(w->h, w->fd))) {
        rc = e == ENOMEM ? TARN_ERR(err, TARN_ENOMEM, "out of memory")
                         : TARN_ERR(err, TARN_EIO, "read %s: %s", path, strerror(e));
    }
    if (rc) {
        if (w->fd >= 0)
            close(w->fd);
        hash_multi_free(w->h);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int store_writer_link(store_writer_t **out, store_t *s, int fd, const store_object_t *src,
                      tarn_err_t *err)
{
    store_writer_t *w = calloc(1, sizeof *w);
    if (!w || !(w->h = hash_multi_create(HASH_SHA256))) {
        free(w);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    w->s = s;
    /* Bytes held in the catalog come as a sealed in-memory descriptor, which has no
     * inode to link: they are small, and are copied instead. */
    if (fd >= 0 && fcntl(fd, F_GET_SEALS) >= 0 && src->size <= STORE_SMALL_MAX &&
        (w->mem = malloc(src->size ? src->size : 1)) &&
        pread(fd, w->mem, src->size, 0) == (ssize_t)src->size) {
        w->fd = -1;
        w->mem_len = w->mem_cap = src->size;
        memcpy(w->d.sha256, src->sha256, 32);
        memcpy(w->d.md5, src->md5, 16);
        w->d.size = src->size;
        w->finished = 1;
        *out = w;
        return 0;
    }
    free(w->mem);
    w->mem = NULL;
    w->fd = fd >= 0 ? dup(fd) : -1;
    if (w->fd < 0) {
        int e = errno;
        hash_multi_free(w->h);
        free(w);
        return TARN_ERR(err, TARN_EIO, "link object: %s", fd < 0 ? "empty object" : strerror(e));
    }
    /* Linked by its descriptor like an anonymous file: the very inode that was opened. */
    w->anon = 1;
    memcpy(w->d.sha256, src->sha256, 32);
    memcpy(w->d.md5, src->md5, 16);
    w->d.size = src->size;
    w->finished = 1;
    *out = w;
    return 0;
}

int store_writer_write(store_writer_t *w, const void *p, size_t n, tarn_err_t *err)
{
    if (w->finished)
        return TARN_ERR(err, TARN_EINVAL, "write after digests were taken");
    hash_multi_update(w->h, p, n);
    if (w->fd < 0 && mem_append(w, p, n))
        return 0;
    int rc = store_writer_file(w, err);
    if (rc)
        return rc;
    if (fs_write_full(w->fd, p, n))
        return TARN_ERR(err, TARN_EIO, "write object: %s", strerror(errno));
    return 0;
}

const hash_digests_t *store_writer_digests(store_writer_t *w)
{
    if (!w->finished) {
        hash_multi_final(w->h, &w->d);
        w->finished = 1;
    }
    return &w->d;
}

void store_writer_abort(store_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (!w->committed && w->tmp_path[0] && (!w->anon || w->linked))
        unlink(w->tmp_path);
    free(w->mem);
    free(w->if_match);
    hash_multi_free(w->h);
    free(w);
}

int store_writer_set_condition(store_writer_t *w, bool if_none_match, const char *if_match)
{
    w->if_none_match = if_none_match;
    free(w->if_match);
    w->if_match = if_match ? strdup(if_match) : NULL;
    return if_match && !w->if_match ? TARN_ENOMEM : 0;
}

void store_writer_set_hook(store_writer_t *w, const store_hook_t *hook)
{
    w->hook = *hook;
}

void store_writer_pick_name(store_writer_t *w, const char *final)
{
    if (!w->anon)
        return;
    const char *slash = strrchr(final, '/');
    int dirlen = (int)(slash - final);
    uint64_t n = atomic_fetch_add(&w->s->tmp_seq, 1);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%.*s/.tarn-%ld-%llu.tmp", dirlen, final,
             (long)getpid(), (unsigned long long)n);
}

int store_writer_place(store_writer_t *w, const char *final)
{
    if (w->anon && !w->linked) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp_path, AT_SYMLINK_FOLLOW))
            return -1;
        w->linked = 1;
    }
    return rename(w->tmp_path, final);
}

/* Creates the parent folders of path below base, fsyncing each new folder's parent so
 * the folders survive a crash. A key segment that is already an object (a file) makes
 * the key unusable on this store: TARN_ECONFLICT. A folder just made can be pruned again
 * by a concurrent delete that emptied it (promotion moving a table's last object on)
 * before its child is made: then it starts over, a few times. */
static int make_parents(const char *base, const char *path, tarn_err_t *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t blen = strlen(base);
    int pruned = 0;
    for (char *p = tmp + blen + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0750) == 0) {
            int rc = fs_fsync_parent(tmp, err);
            if (rc)
                return rc;
        } else if (errno == EEXIST) {
            struct stat st;
            if (stat(tmp, &st) == 0 && !S_ISDIR(st.st_mode))
                return TARN_ERR_R(err, TARN_ECONFLICT, InvalidArgument,
                                  "the key cannot be stored: its prefix '%s' is an existing "
                                  "object, and an object cannot also be a folder here",
                                  tmp + blen + 1);
        } else if (errno == ENOENT && pruned++ < 8) {
            *p = '/';
            p = tmp + blen; /* a parent went meanwhile: from the top again */
            continue;
        } else {
            return TARN_ERR(err, TARN_EIO, "mkdir %s: %s", tmp, strerror(errno));
        }
        *p = '/';
    }
    return 0;
}

int store_prepare_key(store_t *s, sqlite3_stmt **st, const char *sql, const char *bucket,
                      const char *key, tarn_err_t *err)
{
    int rc = db_prepare(s->db, st, sql, err);
    if (!rc) {
        sqlite3_bind_text(*st, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(*st, 2, key, -1, SQLITE_STATIC);
    }
    return rc;
}

void store_bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Binds the object columns (STORE_OBJECT_COLS order) starting at parameter first. */
static void bind_object(sqlite3_stmt *st, int first, const store_object_t *o)
{
    char sha[65];
    hash_hex(sha, o->sha256, 32);
    sqlite3_bind_text(st, first, o->bucket, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 1, o->key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, first + 2, (sqlite3_int64)o->size);
    sqlite3_bind_text(st, first + 3, o->etag, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 4, sha, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, first + 5, o->mtime_ms);
    store_bind_opt(st, first + 6, o->content_type);
    store_bind_opt(st, first + 7, o->content_encoding);
    store_bind_opt(st, first + 8, o->content_disposition);
    store_bind_opt(st, first + 9, o->content_language);
    store_bind_opt(st, first + 10, o->cache_control);
    store_bind_opt(st, first + 11, o->expires);
    store_bind_opt(st, first + 12, o->user_meta);
    store_bind_opt(st, first + 13, o->checksum_algo);
    store_bind_opt(st, first + 14, o->checksum_value);
    sqlite3_bind_int(st, first + 15, (int)o->parts);
    store_bind_opt(st, first + 16, o->part_sizes);
    char md5[33];
    hash_hex(md5, o->md5, 16);
    sqlite3_bind_text(st, first + 17, md5, -1, SQLITE_TRANSIENT);
}

static int run_bound(store_t *s, const char *sql, const char *tmp, const store_object_t *o,
                     tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st, sql, err);
    if (rc)
        return rc;
    int first = 1;
    if (tmp) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_TRANSIENT);
        first = 2;
    }
    if (o)
        bind_object(st, first, o);
    int step = sqlite3_step(st);
    db_done(s->db, st);
    if (step != SQLITE_DONE)
        return db_fail(s->db, step, err, "store index");
    return 0;
}

/* Whether the key has an object (its ETag into etag); when unsure, says it does, which
 * takes the path that is safe for an overwrite. */
static bool row_etag(store_t *s, const char *bucket, const char *key, char etag[48])
{
    sqlite3_stmt *st = NULL;
    etag[0] = '\0';
    if (db_prepare(s->db, &st, "SELECT etag FROM objects WHERE bucket = ?1 AND key = ?2", NULL))
        return true;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        snprintf(etag, 48, "%s", (const char *)sqlite3_column_text(st, 0));
    db_done(s->db, st);
    return step != SQLITE_DONE;
}

static int check_condition(const store_writer_t *w, bool exists, const char *etag,
                           const char *key, tarn_err_t *err)
{
    if (w->if_none_match && exists)
        return TARN_ERR_R(err, TARN_ECONFLICT, PreconditionFailed,
                          "at least one of the pre-conditions you specified did not hold "
                          "(If-None-Match: the key '%s' already exists)",
                          key);
    if (w->if_match && !exists)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchKey, "the key '%s' does not exist", key);
    if (w->if_match && strcmp(w->if_match, etag) && strcmp(w->if_match, "*"))
        return TARN_ERR_R(err, TARN_ECONFLICT, PreconditionFailed,
                          "at least one of the pre-conditions you specified did not hold "
                          "(If-Match: the object's ETag is \"%s\")",
                          etag);
    return 0;
}

/* Puts the writer's bytes at path. fast: the key has no object, so an anonymous file is
 * linked straight to its name (a crash before the index row leaves at worst an unindexed
 * file, invisible, which the next write of the key replaces). Otherwise the bytes get the
 * hidden name recorded in the intent row, then are renamed over the old object. */
int store_place(store_t *s, store_writer_t *w, const char *path, bool fast, const char *key,
                tarn_err_t *err)
{
    assert(!w->committed); /* placed once: a second rename would move other bytes */
    for (int attempt = 0;; attempt++) {
        int r;
        if (fast && w->anon) {
            char proc[64];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
            r = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
        } else {
            r = store_writer_place(w, path);
        }
        if (r == 0)
            return 0;
        int e = errno;
        struct stat st;
        if ((e == ENOENT || e == ENOTDIR) && attempt < 4) {
            int rc = make_parents(s->objects_dir, path, err);
            if (rc)
                return rc;
            continue; /* folders made (or a concurrent delete pruned one): again */
        }
        if ((e == EEXIST || e == EISDIR || e == ENOTEMPTY) && attempt < 4 && !lstat(path, &st)) {
            if (!S_ISDIR(st.st_mode) && fast && !unlink(path))
                continue; /* an unindexed file left by a crashed write */
            if (S_ISDIR(st.st_mode) && !rmdir(path))
                continue; /* an empty folder left where the key goes */
        }
        if (e == EISDIR || e == ENOTEMPTY || e == EEXIST)
            return TARN_ERR_R(err, TARN_ECONFLICT, InvalidArgument,
                              "the key cannot be stored: other objects use '%s/' as a prefix, "
                              "and an object cannot also be a folder here",
                              key);
        return TARN_ERR(err, TARN_EIO, "rename into place: %s", strerror(e));
    }
}

/* Whether the key clashes in the index as a file and a folder would on disk: a prefix of
 * it (ending before a '/') is an object, or objects (not folder markers) lie under key/.
 * The files themselves say so too, but a small object may not have its file yet. */
static int index_conflict(store_t *s, const char *bucket, const char *key, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st, "SELECT 1 FROM objects WHERE bucket = ?1 AND key = ?2", err);
    for (const char *p = strchr(key, '/'); !rc && p; p = strchr(p + 1, '/')) {
        if (p == key || p[-1] == '/')
            continue; /* an empty segment: the prefix would be a folder marker */
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, (int)(p - key), SQLITE_STATIC);
        int step = sqlite3_step(st);
        sqlite3_reset(st);
        if (step == SQLITE_ROW)
            rc = TARN_ERR_R(err, TARN_ECONFLICT, InvalidArgument,
                            "the key cannot be stored: its prefix '%.*s' is an existing object, "
                            "and an object cannot also be a folder here",
                            (int)(p - key), key);
    }
    if (st)
        db_done(s->db, st);
    if (rc || (rc = db_prepare(s->db, &st,
                               "SELECT 1 FROM objects WHERE bucket = ?1 AND key > ?2 || '/'"
                               " AND key < ?2 || '0' AND substr(key, -1) <> '/' LIMIT 1",
                               err)))
        return rc;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        rc = TARN_ERR_R(err, TARN_ECONFLICT, InvalidArgument,
                        "the key cannot be stored: other objects use '%s/' as a prefix, "
                        "and an object cannot also be a folder here",
                        key);
    db_done(s->db, st);
    return rc;
}

/* How commit_row records the object's bytes. */
typedef enum {
    ROW_NEW,     /* a new key, its file in place */
    ROW_REPLACE, /* an overwrite, its file renamed in place under an intent row */
    ROW_HELD,    /* a new small key whose bytes the catalog holds until written out */
} row_kind_t;

/* The index row, the end of the intent (if any), held bytes (if any) and the hook's
 * records, in one transaction. */
static int commit_row(store_t *s, store_writer_t *w, const store_object_t *o, row_kind_t kind,
                      tarn_err_t *err)
{
    int rc = db_exec(s->db, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = db_prepare(s->db, &st, "SELECT 1 FROM buckets WHERE name = ?1", err))) {
        sqlite3_bind_text(st, 1, o->bucket, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) /* deleted while the object was being written */
            rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchBucket, "the bucket '%s' does not exist",
                            o->bucket);
        db_done(s->db, st);
    }
    /* Under the transaction, so that two new keys cannot both pass (file and folder). */
    if (!rc && kind == ROW_HELD)
        rc = index_conflict(s, o->bucket, o->key, err);
    if (!rc)
        rc = run_bound(s, "INSERT OR REPLACE INTO objects(" STORE_OBJECT_COLS ") VALUES(?1,?2,?3,"
                          "?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
                       NULL, o, err);
    if (!rc && kind == ROW_REPLACE)
        rc = run_bound(s, "DELETE FROM object_intents WHERE tmp = ?1", w->tmp_path, NULL, err);
    if (!rc && kind == ROW_REPLACE)
        rc = store_pending_forget(s, o->bucket, o->key, err);
    if (!rc && kind == ROW_HELD)
        rc = store_pending_insert(s, o->bucket, o->key, w->mem, w->mem_len, err);
    if (!rc && w->hook.fn)
        rc = w->hook.fn(w->hook.ctx, o, err);
    if (!rc)
        rc = db_exec(s->db, "COMMIT", err);
    if (rc)
        db_exec(s->db, "ROLLBACK", NULL);
    return rc;
}

/* Puts the bytes in place and records the index row; called under the key's stripe. An
 * overwrite records an intent first, so that recovery can finish or forget it. */
static int commit_locked(store_t *s, store_writer_t *w, const char *path, const store_object_t *o,
                         tarn_err_t *err)
{
    /* A writer commits at most once (store_writer_commit frees it after), and under its
     * key's stripe: the condition check, the rename and the index row are one step for
     * readers and other writers of the key. */
    assert(!w->committed && store_stripe_held(s, o->bucket, o->key));
    char etag[48];
    if (db_write_begin(s->db))
        return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
    bool exists = row_etag(s, o->bucket, o->key, etag);
    db_write_end(s->db);
    int rc = check_condition(w, exists, etag, o->key, err);
    if (rc)
        return rc;
    if (o->key[strlen(o->key) - 1] == '/') {
        /* Folder markers ("dir/") live only in the index; they hold no bytes. */
        if (w->fd >= 0 && !w->anon)
            unlink(w->tmp_path);
        w->committed = 1;
        if (db_write_begin(s->db))
            return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
        rc = commit_row(s, w, o, ROW_NEW, err);
        db_write_end(s->db);
        return rc;
    }
    bool fast = !exists;
    if (fast && w->fd < 0 && w->defer && store_pending_room(s)) {
        /* Durable with the row's commit; the file follows in the background. */
        w->committed = 1;
        if (db_write_begin(s->db))
            return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
        rc = commit_row(s, w, o, ROW_HELD, err);
        db_write_end(s->db);
        if (!rc) {
            store_pending_kick(s);
            killpoint_hit("object-committed");
        }
        return rc;
    }
    if (w->fd < 0) { /* bytes still in memory: they get their file now */
        if ((rc = store_writer_file(w, err)))
            return rc;
        if (fsync(w->fd))
            return TARN_ERR(err, TARN_EIO, "fsync object: %s", strerror(errno));
    }
    if (fast && (rc = index_conflict(s, o->bucket, o->key, err)))
        return rc;
    if (!fast) {
        /* The old bytes are replaced before the new index row commits: the intent that
         * lets recovery finish the row must be on disk before the rename. */
        store_writer_pick_name(w, path);
        rc = run_bound(s, "INSERT INTO object_intents(tmp, " STORE_OBJECT_COLS ") VALUES(?1,?2,?3,"
                          "?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
                       w->tmp_path, o, err);
        if (!rc)
            rc = db_sync(s->db, err);
        if (rc)
            return rc;
        killpoint_hit("overwrite-intent-synced"); /* as if the rename were lost */
    }
    if ((rc = store_place(s, w, path, fast, o->key, err))) {
        if (w->linked) { /* the hidden name exists but was never renamed: remove it now */
            unlink(w->tmp_path);
            w->linked = 0;
        }
        if (!fast)
            run_bound(s, "DELETE FROM object_intents WHERE tmp = ?1", w->tmp_path, NULL, NULL);
        return rc;
    }
    w->committed = 1;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    rc = dirsync_sync(s->dirsync, path, err);
    *slash = '/';
    if (rc)
        return rc; /* bytes are in place; recovery completes an overwrite's index row */
    if (db_write_begin(s->db))
        return TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
    rc = commit_row(s, w, o, fast ? ROW_NEW : ROW_REPLACE, err);
    db_write_end(s->db);
    if (!rc)
        killpoint_hit("object-committed");
    return rc;
}

int store_writer_commit(store_writer_t *w, const char *bucket, const char *key,
                        const store_meta_t *meta, store_object_t *out, arena_t *a,
                        tarn_err_t *err)
{
    store_t *s = w->s;
    store_object_t o;
    char path[PATH_MAX];
    int rc = store_check_key(key, err);
    if (!rc)
        rc = store_bucket_check(s, bucket, err);
    if (!rc)
        rc = store_object_path(s, path, sizeof path, bucket, key, err);
    if (rc)
        goto done;
    const hash_digests_t *d = store_writer_digests(w);
    if (key[strlen(key) - 1] == '/' && d->size > 0) {
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                        "a key ending in '/' is a folder marker and must be empty");
        goto done;
    }
    /* fsync before taking the key lock: the slow part runs in parallel across writers.
     * Bytes still in memory are fsynced (or held in the catalog) under the lock. */
    if (w->fd >= 0 && fsync(w->fd)) {
        rc = TARN_ERR(err, TARN_EIO, "fsync object: %s", strerror(errno));
        goto done;
    }
    killpoint_hit("object-fsynced");
    memset(&o, 0, sizeof o); /* the descriptor stays open: an anonymous file is linked by it */
    o.bucket = bucket;
    o.key = key;
    o.size = d->size;
    if (w->etag_override)
        snprintf(o.etag, sizeof o.etag, "%s", w->etag_override);
    else
        hash_hex(o.etag, d->md5, 16);
    memcpy(o.sha256, d->sha256, 32);
    memcpy(o.md5, d->md5, 16);
    o.mtime_ms = time_now_ms();
    if (meta) {
        o.content_type = meta->content_type;
        o.content_encoding = meta->content_encoding;
        o.content_disposition = meta->content_disposition;
        o.content_language = meta->content_language;
        o.cache_control = meta->cache_control;
        o.expires = meta->expires;
        o.user_meta = meta->user_meta;
        o.checksum_algo = meta->checksum_algo;
        o.checksum_value = meta->checksum_value;
    }
    o.parts = w->parts;
    o.part_sizes = w->part_sizes;
    pthread_mutex_t *m = store_stripe(s, bucket, key);
    pthread_mutex_lock(m);
    rc = commit_locked(s, w, path, &o, err);
    pthread_mutex_unlock(m);
    if (!rc && out) {
        *out = o;
        out->bucket = arena_strdup(a, bucket);
        out->key = arena_strdup(a, key);
        /* Metadata strings belong to the caller's meta; copy them into the arena. */
#define DUP(f) out->f = o.f ? arena_strdup(a, o.f) : NULL
        DUP(content_type);
        DUP(content_encoding);
        DUP(content_disposition);
        DUP(content_language);
        DUP(cache_control);
        DUP(expires);
        DUP(user_meta);
        DUP(checksum_algo);
        DUP(checksum_value);
        DUP(part_sizes);
#undef DUP
    }
done:
    store_writer_abort(w); /* the temp file is gone after a rename; abort just frees */
    return rc;
}

/* ---- several new objects in one transaction ---- */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(pthread_mutex_t *const *)a;
    uintptr_t y = (uintptr_t)*(pthread_mutex_t *const *)b;
    return x < y ? -1 : x > y;
}

int store_writers_commit(store_t *s, store_writer_t **ws, const char *const *buckets,
                         const char *const *keys, size_t n, const store_hook_t *each,
                         const store_hook_t *last, tarn_err_t *err)
{
    int rc = 0;
    size_t nlocks = 0;
    pthread_mutex_t **locks = calloc(n ? n : 1, sizeof *locks);
    store_object_t *objs = calloc(n ? n : 1, sizeof *objs);
    char(*paths)[PATH_MAX] = calloc(n ? n : 1, sizeof *paths);
    if (!locks || !objs || !paths) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* Bytes on disk first, outside any lock. */
    for (size_t i = 0; i < n && !rc; i++) {
        store_writer_t *w = ws[i];
        if (!(rc = store_check_key(keys[i], err)) && !(rc = store_bucket_check(s, buckets[i], err)))
            rc = store_object_path(s, paths[i], sizeof paths[i], buckets[i], keys[i], err);
        if (!rc && w->fd < 0)
            rc = store_writer_file(w, err);
        if (!rc && fsync(w->fd))
            rc = TARN_ERR(err, TARN_EIO, "fsync object: %s", strerror(errno));
        if (rc)
            break;
        const hash_digests_t *d = store_writer_digests(w);
        store_object_t *o = &objs[i];
        o->bucket = buckets[i];
        o->key = keys[i];
        o->size = d->size;
        hash_hex(o->etag, d->md5, 16);
        memcpy(o->sha256, d->sha256, 32);
        memcpy(o->md5, d->md5, 16);
        o->mtime_ms = time_now_ms();
        locks[nlocks++] = store_stripe(s, buckets[i], keys[i]);
    }
    if (rc)
        goto done;
    /* Stripes in one order, each once, so two batches never wait on each other. */
    qsort(locks, nlocks, sizeof *locks, cmp_ptr);
    size_t u = 0;
    for (size_t i = 0; i < nlocks; i++)
        if (!u || locks[u - 1] != locks[i])
            locks[u++] = locks[i];
    nlocks = u;
    for (size_t i = 0; i < nlocks; i++)
        pthread_mutex_lock(locks[i]);
    char etag[48];
    size_t placed = 0;
    if (db_write_begin(s->db)) {
        rc = TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
        goto unlock;
    }
    for (size_t i = 0; i < n && !rc; i++)
        if (row_etag(s, buckets[i], keys[i], etag))
            rc = TARN_ERR_R(err, TARN_ECONFLICT, KeyExists,
                            "the key %s/%s already holds an object", buckets[i], keys[i]);
    db_write_end(s->db);
    /* New keys only: an unindexed file at a key is a crashed write's, replaced. */
    for (size_t i = 0; i < n && !rc; i++)
        if (!(rc = store_place(s, ws[i], paths[i], true, keys[i], err)))
            ws[i]->committed = 1, placed++;
    for (size_t i = 0; i < n && !rc; i++) {
        char *slash = strrchr(paths[i], '/');
        *slash = '\0';
        rc = dirsync_sync(s->dirsync, paths[i], err);
        *slash = '/';
    }
    if (rc)
        goto unlock;
    if (db_write_begin(s->db)) {
        rc = TARN_ERR(err, TARN_EIO, "cannot open the catalog database");
        goto unlock;
    }
    rc = db_exec(s->db, "BEGIN IMMEDIATE", err);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = run_bound(s, "INSERT INTO objects(" STORE_OBJECT_COLS ") VALUES(?1,?2,?3,"
                          "?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
                       NULL, &objs[i], err);
        if (!rc && each && each->fn)
            rc = each->fn(each->ctx, &objs[i], err);
    }
    if (!rc && last && last->fn)
        rc = last->fn(last->ctx, NULL, err);
    if (!rc)
        rc = db_exec(s->db, "COMMIT", err);
    if (rc)
        db_exec(s->db, "ROLLBACK", NULL);
    db_write_end(s->db);
    if (!rc)
        killpoint_hit("objects-committed");
unlock:
    /* Nothing names the files of a batch that did not commit. */
    for (size_t i = 0; rc && i < placed; i++)
        unlink(paths[i]);
    for (size_t i = nlocks; i-- > 0;)
        pthread_mutex_unlock(locks[i]);
done:
    for (size_t i = 0; i < n; i++)
        store_writer_abort(ws[i]);
    free(locks);
    free(objs);
    free(paths);
    return rc;
}

/* ---- reads and deletes ---- */

static int lookup(store_t *s, const char *bucket, const char *key, store_object_t *out,
                  arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT " STORE_OBJECT_COLS " FROM objects WHERE bucket = ?1 AND key = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        store_row_to_object(st, out, a);
    db_done(s->db, st);
    if (step == SQLITE_ROW)
        return 0;
    if (step != SQLITE_DONE)
        return db_fail(s->db, step, err, "object lookup");
    if ((rc = store_bucket_check(s, bucket, err)))
        return rc;
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchKey, "the key '%s' does not exist", key);
}

int store_object_head(store_t *s, const char *bucket, const char *key, store_object_t *out,
                      arena_t *a, tarn_err_t *err)
{
    return lookup(s, bucket, key, out, a, err);
}

int store_object_open(store_t *s, const char *bucket, const char *key, store_object_t *out,
                      int *fd, arena_t *a, tarn_err_t *err)
{
    char path[PATH_MAX];
    *fd = -1;
    int rc = store_object_path(s, path, sizeof path, bucket, key, err);
    if (rc)
        return rc;
    pthread_mutex_t *m = store_stripe(s, bucket, key);
    pthread_mutex_lock(m);
    rc = lookup(s, bucket, key, out, a, err);
    if (!rc && out->size > 0)
        rc = store_pending_open(s, bucket, key, fd, err);
    if (!rc && out->size > 0 && *fd < 0) {
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0)
            rc = TARN_ERR(err, TARN_EIO, "open object %s/%s: %s", bucket, key, strerror(errno));
        else /* objects are read front to back: a wider read-ahead window (as cat asks) */
            posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    pthread_mutex_unlock(m);
    return rc;
}

/* Removes now-empty folders from the object's folder up to (not including) the bucket. */
static void prune_parents(const char *bucket_dir, char *path)
{
    size_t blen = strlen(bucket_dir);
    for (;;) {
        char *slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) <= blen)
            return;
        *slash = '\0';
        if (rmdir(path))
            return;
    }
}

int store_object_delete(store_t *s, const char *bucket, const char *key,
                        const store_hook_t *hook, tarn_err_t *err)
{
    return store_object_delete_if(s, bucket, key, NULL, hook, err);
}

int store_object_delete_if(store_t *s, const char *bucket, const char *key, const char *if_etag,
                           const store_hook_t *hook, tarn_err_t *err)
{
    char path[PATH_MAX];
    int rc = store_bucket_check(s, bucket, err);
    if (!rc)
        rc = store_object_path(s, path, sizeof path, bucket, key, err);
    if (rc)
        return rc;
    pthread_mutex_t *m = store_stripe(s, bucket, key);
    pthread_mutex_lock(m);
    bool hooked = hook && hook->fn;
    if (hooked && db_write_begin(s->db))
        hooked = false, rc = TARN_ERR(err, TARN_EIO, "cannot reach the object index");
    if (hooked)
        rc = db_exec(s->db, "BEGIN IMMEDIATE", err);
    sqlite3_stmt *st = NULL;
    bool gone = false;
    if (!rc)
        rc = db_prepare(s->db, &st,
                        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2"
                        " AND (?3 IS NULL OR etag = ?3)",
                        err);
    if (!rc) {
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (if_etag)
            sqlite3_bind_text(st, 3, if_etag, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step != SQLITE_DONE)
            rc = db_fail(s->db, step, err, "delete object");
        else
            gone = sqlite3_changes(db_h(s->db)) > 0;
        db_done(s->db, st);
    }
    /* The removal and what the layers above record about it commit together. */
    if (!rc && gone && hooked) {
        store_object_t o = {.bucket = bucket, .key = key};
        rc = hook->fn(hook->ctx, &o, err);
    }
    if (hooked) {
        if (!rc)
            rc = db_exec(s->db, "COMMIT", err);
        if (rc)
            db_exec(s->db, "ROLLBACK", NULL);
        db_write_end(s->db);
    }
    if (!rc && gone && key[strlen(key) - 1] != '/' && !(rc = db_sync(s->db, err))) {
        /* The index row is gone first, and durably (a power failure must not find a row
         * whose file is gone): a crash here leaves an invisible file that the next write
         * of this key replaces. */
        killpoint_hit("delete-synced");
        unlink(path);
        char bdir[PATH_MAX];
        snprintf(bdir, sizeof bdir, "%s/%s", s->objects_dir, bucket);
        prune_parents(bdir, path);
    }
    pthread_mutex_unlock(m);
    return rc;
}

int store_object_find_sha256(store_t *s, const char *bucket, const uint8_t sha256[32],
                             const char **key, arena_t *a, tarn_err_t *err)
{
    char sha[65];
    hash_hex(sha, sha256, 32);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT key FROM objects WHERE bucket = ?1 AND sha256 = ?2 LIMIT 1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    *key = step == SQLITE_ROW ? arena_strdup(a, (const char *)sqlite3_column_text(st, 0)) : NULL;
    db_done(s->db, st);
    if (step == SQLITE_ROW)
        return *key ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return step == SQLITE_DONE ? TARN_ENOTFOUND : db_fail(s->db, step, err, "object by digest");
}

int store_usage(store_t *s, store_usage_cb cb, void *ctx, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT b.name, count(o.key), coalesce(sum(o.size), 0) FROM buckets b"
                        " LEFT JOIN objects o ON o.bucket = b.name GROUP BY b.name ORDER BY b.name",
                        err);
    if (rc)
        return rc;
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = cb(ctx, (const char *)sqlite3_column_text(st, 0),
                (uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2));
    db_done(s->db, st);
    return rc;
}
