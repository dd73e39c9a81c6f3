/* Multipart uploads for the local store; see multipart.h. Parts are whole files in the
 * upload's folder, recorded in upload_parts; Complete streams them in order through a
 * store writer (so the object gets its SHA-256) and commits it like a single PUT. */
#include "storage/multipart.h"
#include "storage/keys.h"
#include "storage/store_internal.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int store_mpu_create(store_t *s, const char *bucket, const char *key, const store_meta_t *meta,
                     const char **upload_id, arena_t *a, tarn_err_t *err)
{
    int rc = store_check_key(key, err);
    if (!rc)
        rc = store_bucket_check(s, bucket, err);
    if (rc)
        return rc;
    uint8_t rnd[24];
    char *id = arena_alloc(a, 49);
    if (!id)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (hash_random(rnd, sizeof rnd))
        return TARN_ERR(err, TARN_EIO, "no randomness for the upload id");
    hash_hex(id, rnd, sizeof rnd);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", s->uploads_dir, id);
    /* The upload's folder is on disk before its row can be: an acknowledged upload must
     * still take parts after a power failure. */
    if ((rc = fs_mkdir_p(dir, 0750, err)) || (rc = fs_fsync_dir(s->uploads_dir, err)))
        return rc;
    sqlite3_stmt *st = NULL;
    rc = db_prepare(s->db, &st,
                    "INSERT INTO uploads(upload_id, bucket, key, created_ms, content_type,"
                    " content_encoding, content_disposition, content_language, cache_control,"
                    " expires, user_meta, checksum_algo) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                    err);
    if (rc)
        return rc;
    store_meta_t none = {0};
    if (!meta)
        meta = &none;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms());
    store_bind_opt(st, 5, meta->content_type);
    store_bind_opt(st, 6, meta->content_encoding);
    store_bind_opt(st, 7, meta->content_disposition);
    store_bind_opt(st, 8, meta->content_language);
    store_bind_opt(st, 9, meta->cache_control);
    store_bind_opt(st, 10, meta->expires);
    store_bind_opt(st, 11, meta->user_meta);
    store_bind_opt(st, 12, meta->checksum_algo);
    int step = sqlite3_step(st);
    db_done(s->db, st);
    if (step != SQLITE_DONE)
        return db_fail(s->db, step, err, "create upload");
    *upload_id = id;
    return 0;
}

static int get_upload(store_t *s, const char *upload_id, store_upload_t *out, store_meta_t *meta,
                      arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT upload_id, bucket, key, created_ms, content_type, content_encoding,"
                        " content_disposition, content_language, cache_control, expires,"
                        " user_meta, checksum_algo FROM uploads WHERE upload_id = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->upload_id = store_col_text(st, 0, a);
        out->bucket = store_col_text(st, 1, a);
        out->key = store_col_text(st, 2, a);
        out->created_ms = sqlite3_column_int64(st, 3);
        if (meta) {
            meta->content_type = store_col_text(st, 4, a);
            meta->content_encoding = store_col_text(st, 5, a);
            meta->content_disposition = store_col_text(st, 6, a);
            meta->content_language = store_col_text(st, 7, a);
            meta->cache_control = store_col_text(st, 8, a);
            meta->expires = store_col_text(st, 9, a);
            meta->user_meta = store_col_text(st, 10, a);
            meta->checksum_algo = store_col_text(st, 11, a);
        }
    }
    db_done(s->db, st);
    if (step == SQLITE_ROW)
        return 0;
    if (step != SQLITE_DONE)
        return db_fail(s->db, step, err, "upload lookup");
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchUpload,
                      "the upload '%s' does not exist; it may have been aborted or completed",
                      upload_id);
}

int store_mpu_get(store_t *s, const char *bucket, const char *key, const char *upload_id,
                  store_upload_t *out, arena_t *a, tarn_err_t *err)
{
    int rc = get_upload(s, upload_id, out, NULL, a, err);
    if (rc)
        return rc;
    if (strcmp(out->bucket, bucket) || strcmp(out->key, key))
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchUpload,
                          "the upload '%s' does not belong to %s/%s", upload_id, bucket, key);
    return 0;
}

int store_mpu_put_part(store_t *s, const char *upload_id, int number, store_writer_t *w,
                       store_part_t *out, tarn_err_t *err)
{
    int rc = 0;
    char path[PATH_MAX];
    if (number < 1 || number > STORE_PART_MAX_NUMBER) {
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                        "part number must be an integer between 1 and %d", STORE_PART_MAX_NUMBER);
        goto done;
    }
    snprintf(path, sizeof path, "%s/%s/%d", s->uploads_dir, upload_id, number);
    const hash_digests_t *d = store_writer_digests(w);
    if ((rc = store_writer_file(w, err)))
        goto done;
    if (fsync(w->fd)) {
        rc = TARN_ERR(err, TARN_EIO, "fsync part: %s", strerror(errno));
        goto done;
    }
    store_writer_pick_name(w, path);
    if (store_writer_place(w, path) == 0) {
        w->committed = 1;
        /* The part's name is on disk before its row can be (concurrent parts of one
         * upload share the folder's fsync). */
        char *slash = strrchr(path, '/');
        *slash = '\0';
        rc = dirsync_sync(s->dirsync, path, err);
        *slash = '/';
        if (rc)
            goto done;
    } else {
        int e = errno;
        rc = TARN_ERR(err, e == ENOENT ? TARN_ENOTFOUND : TARN_EIO, "store part: %s", strerror(e));
        if (e == ENOENT)
            err->reason = TARN_R_NoSuchUpload;
        goto done;
    }
    memset(out, 0, sizeof *out);
    out->number = number;
    out->size = d->size;
    hash_hex(out->etag, d->md5, 16);
    out->mtime_ms = time_now_ms();
    sqlite3_stmt *st = NULL;
    rc = db_prepare(s->db, &st,
                    "INSERT OR REPLACE INTO upload_parts(upload_id, part_number, size, etag, mtime_ms)"
                    " VALUES(?1,?2,?3,?4,?5)",
                    err);
    if (rc)
        goto done;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, number);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)out->size);
    sqlite3_bind_text(st, 4, out->etag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, out->mtime_ms);
    int step = sqlite3_step(st);
    db_done(s->db, st);
    if (step != SQLITE_DONE) {
        /* The upload was aborted meanwhile (foreign key) or the index failed. */
        unlink(path);
        rc = step == SQLITE_CONSTRAINT
                 ? TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchUpload, "the upload no longer exists")
                 : db_fail(s->db, step, err, "record part");
    }
done:
    store_writer_abort(w);
    return rc;
}

int store_mpu_list_parts(store_t *s, const char *upload_id, int after, size_t max,
                         store_part_t **out, size_t *n, bool *truncated, arena_t *a,
                         tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT part_number, size, etag, mtime_ms FROM upload_parts"
                        " WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max + 1);
    store_part_t *v = arena_alloc(a, (max + 1) * sizeof *v);
    size_t cnt = 0;
    if (!v) {
        db_done(s->db, st);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        v[cnt].number = sqlite3_column_int(st, 0);
        v[cnt].size = (uint64_t)sqlite3_column_int64(st, 1);
        snprintf(v[cnt].etag, sizeof v[cnt].etag, "%s", (const char *)sqlite3_column_text(st, 2));
        v[cnt].mtime_ms = sqlite3_column_int64(st, 3);
        cnt++;
    }
    db_done(s->db, st);
    *truncated = cnt > max;
    *n = cnt > max ? max : cnt;
    *out = v;
    return 0;
}

/* Drops an upload and its parts; completed (etag not NULL) ones are remembered. */
static void remove_upload(store_t *s, const char *upload_id, const store_object_t *done)
{
    char *q = done ? sqlite3_mprintf("BEGIN; DELETE FROM uploads WHERE upload_id = %Q;"
                                     " INSERT OR REPLACE INTO completed_uploads VALUES"
                                     " (%Q, %Q, %Q, %Q, %lld); COMMIT;",
                                     upload_id, upload_id, done->bucket, done->key, done->etag,
                                     (long long)done->mtime_ms)
                   : sqlite3_mprintf("DELETE FROM uploads WHERE upload_id = %Q", upload_id);
    if (q && db_exec(s->db, q, NULL))
        db_exec(s->db, "ROLLBACK", NULL);
    sqlite3_free(q);
    /* The parts go only once the commits that made them unneeded (the completed object,
     * the upload's removal) are on disk: a power failure before that finds the upload
     * still open, with its parts. */
    if (db_sync(s->db, NULL))
        return;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", s->uploads_dir, upload_id);
    fs_remove_tree(dir);
}

int store_mpu_abort(store_t *s, const char *bucket, const char *key, const char *upload_id,
                    tarn_err_t *err)
{
    arena_t *a = arena_create();
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    store_upload_t u;
    int rc = store_mpu_get(s, bucket, key, upload_id, &u, a, err);
    if (!rc)
        remove_upload(s, upload_id, NULL);
    arena_free(a);
    return rc;
}

/* Checks the client's list against the stored parts; fills sizes and the ETag. The whole
 * list's order is checked first, then that every part exists with its ETag, then sizes:
 * the error names the list's first problem, as S3 does, whatever the parts' sizes. */
static int check_parts(store_t *s, const char *upload_id, const store_part_ref_t *parts,
                       size_t nparts, uint64_t *sizes, buf_t *md5s, tarn_err_t *err)
{
    if (nparts == 0)
        return TARN_ERR_R(err, TARN_EINVAL, MalformedXML,
                          "CompleteMultipartUpload must list at least one part");
    for (size_t i = 1; i < nparts; i++)
        if (parts[i].number <= parts[i - 1].number)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidPartOrder,
                              "the list of parts was not in ascending order (part %d after %d)",
                              parts[i].number, parts[i - 1].number);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT size, etag FROM upload_parts WHERE upload_id = ?1 AND part_number = ?2",
                        err);
    if (rc)
        return rc;
    for (size_t i = 0; i < nparts && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, parts[i].number);
        if (sqlite3_step(st) != SQLITE_ROW ||
            strcasecmp((const char *)sqlite3_column_text(st, 1), parts[i].etag)) {
            rc = TARN_ERR_R(err, TARN_EINVAL, InvalidPart,
                            "part %d was not uploaded or its ETag does not match", parts[i].number);
            break;
        }
        sizes[i] = (uint64_t)sqlite3_column_int64(st, 0);
        uint8_t md5[16];
        hash_unhex(md5, 16, (const char *)sqlite3_column_text(st, 1));
        if (buf_append(md5s, md5, 16))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    db_done(s->db, st);
    for (size_t i = 0; !rc && i + 1 < nparts; i++)
        if (sizes[i] < STORE_PART_MIN)
            rc = TARN_ERR_R(err, TARN_EINVAL, EntityTooSmall,
                            "part %d is %llu bytes; every part but the last must be at least 5 MiB",
                            parts[i].number, (unsigned long long)sizes[i]);
    return rc;
}

/* Appends part number to w, checking its bytes against the MD5 and size its row records:
 * a part uploaded again replaces the old file before its row commits, so after a power
 * failure the two may disagree, and the object must not be built from bytes its ETag does
 * not describe. */
static int append_part(store_t *s, store_writer_t *w, const char *upload_id, int number,
                       const uint8_t want_md5[16], uint64_t want_size, uint64_t *done,
                       store_progress_cb progress, void *pctx, tarn_err_t *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/%d", s->uploads_dir, upload_id, number);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "open part %d: %s", number, strerror(errno));
    enum { CHUNK = 1 << 20 };
    char *b = malloc(CHUNK);
    hash_multi_t *h = hash_multi_create(HASH_MD5);
    int rc = b && h ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    while (!rc) {
        ssize_t r = read(fd, b, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = TARN_ERR(err, TARN_EIO, "read part %d: %s", number, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        hash_multi_update(h, b, (size_t)r);
        rc = store_writer_write(w, b, (size_t)r, err);
        *done += (uint64_t)r;
        if (progress)
            progress(pctx, *done);
    }
    if (!rc) {
        hash_digests_t d;
        hash_multi_final(h, &d);
        if (d.size != want_size || memcmp(d.md5, want_md5, 16))
            rc = TARN_ERR_R(err, TARN_EINVAL, InvalidPart,
                            "part %d's stored bytes do not match its ETag (it was being "
                            "uploaded again when the server stopped); upload part %d again",
                            number, number);
    }
    hash_multi_free(h);
    free(b);
    close(fd);
    return rc;
}

int store_mpu_complete(store_t *s, const char *bucket, const char *key, const char *upload_id,
                       const store_part_ref_t *parts, size_t nparts, const store_hook_t *hook,
                       store_object_t *out, store_progress_cb progress, void *pctx, arena_t *a,
                       tarn_err_t *err)
{
    store_upload_t u;
    store_meta_t meta = {0};
    buf_t md5s = BUF_INIT, sizes_json = BUF_INIT;
    store_writer_t *w = NULL;
    uint64_t *sizes = NULL;
    int rc = get_upload(s, upload_id, &u, &meta, a, err);
    if (!rc && (strcmp(u.bucket, bucket) || strcmp(u.key, key)))
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchUpload,
                        "the upload '%s' does not belong to %s/%s", upload_id, bucket, key);
    if (rc)
        goto done;
    sizes = calloc(nparts ? nparts : 1, sizeof *sizes);
    if (!sizes) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = check_parts(s, upload_id, parts, nparts, sizes, &md5s, err)))
        goto done;
    if ((rc = store_writer_begin(&w, s, 0, err)))
        goto done;
    uint64_t copied = 0;
    buf_putc(&sizes_json, '[');
    for (size_t i = 0; i < nparts && !rc; i++) {
        rc = append_part(s, w, upload_id, parts[i].number, (const uint8_t *)md5s.data + 16 * i,
                         sizes[i], &copied, progress, pctx, err);
        buf_printf(&sizes_json, "%s%llu", i ? "," : "", (unsigned long long)sizes[i]);
    }
    if (rc || buf_putc(&sizes_json, ']')) {
        rc = rc ? rc : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    uint8_t md5[16];
    char hex[33];
    hash_md5(md5, md5s.data, md5s.len);
    hash_hex(hex, md5, 16);
    w->etag_override = arena_sprintf(a, "%s-%zu", hex, nparts);
    w->parts = (unsigned)nparts;
    if (hook)
        store_writer_set_hook(w, hook);
    w->part_sizes = sizes_json.data;
    rc = store_writer_commit(w, bucket, key, &meta, out, a, err);
    w = NULL;
    if (!rc)
        remove_upload(s, upload_id, out);
done:
    store_writer_abort(w);
    free(sizes);
    buf_free(&md5s);
    buf_free(&sizes_json);
    return rc;
}

int store_mpu_completed(store_t *s, const char *bucket, const char *key, const char *upload_id,
                        store_object_t *out, arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(s->db, &st,
                        "SELECT etag FROM completed_uploads WHERE upload_id = ?1 AND bucket = ?2"
                        " AND key = ?3",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    char etag[48] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(etag, sizeof etag, "%s", (const char *)sqlite3_column_text(st, 0));
    db_done(s->db, st);
    /* Only while the object is still the one that upload made. */
    if (!etag[0] || store_object_head(s, bucket, key, out, a, err) || strcmp(out->etag, etag))
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchUpload,
                          "the upload '%s' does not exist; it may have been aborted or completed",
                          upload_id);
    return 0;
}

int store_mpu_list(store_t *s, const char *bucket, const char *prefix, const char *key_marker,
                   const char *upload_id_marker, size_t max, store_upload_t **out, size_t *n,
                   bool *truncated, arena_t *a, tarn_err_t *err)
{
    int rc = store_bucket_check(s, bucket, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = db_prepare(s->db, &st,
                    "SELECT upload_id, key, created_ms FROM uploads WHERE bucket = ?1"
                    " AND substr(key, 1, length(?2)) = ?2"
                    /* Without an upload-id-marker, S3 lists keys strictly after key-marker. */
                    " AND (key > ?3 OR (?4 <> '' AND key = ?3 AND upload_id > ?4))"
                    " ORDER BY key, upload_id LIMIT ?5",
                    err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key_marker ? key_marker : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, upload_id_marker ? upload_id_marker : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)max + 1);
    store_upload_t *v = arena_alloc(a, (max + 1) * sizeof *v);
    size_t cnt = 0;
    while (v && sqlite3_step(st) == SQLITE_ROW) {
        v[cnt].upload_id = store_col_text(st, 0, a);
        v[cnt].key = store_col_text(st, 1, a);
        v[cnt].bucket = bucket;
        v[cnt].created_ms = sqlite3_column_int64(st, 2);
        cnt++;
    }
    db_done(s->db, st);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *truncated = cnt > max;
    *n = cnt > max ? max : cnt;
    *out = v;
    return 0;
}

int store_object_part_range(const store_object_t *o, int number, uint64_t *offset,
                            uint64_t *length, tarn_err_t *err)
{
    if (o->parts == 0) {
        if (number != 1)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidPartNumber,
                              "the object was not uploaded in parts; only part 1 exists");
        *offset = 0;
        *length = o->size;
        return 0;
    }
    if (number < 1 || (unsigned)number > o->parts || !o->part_sizes)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidPartNumber,
                          "the object has %u parts; part %d does not exist", o->parts, number);
    const char *p = o->part_sizes + 1; /* "[n,n,...]" */
    uint64_t off = 0;
    for (int i = 1;; i++) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            return TARN_ERR(err, TARN_EIO, "corrupt part sizes");
        if (i == number) {
            *offset = off;
            *length = v;
            return 0;
        }
        off += v;
        p = end + 1;
    }
}
