/* Audit log writing side: recovery of a crashed segment at open (a torn line, or crash
 * damage covered by a signed recovery line), chained appends under a mutex, rotation and
 * sealing with signed digests. Formats are specified in audit.h; hashing, digests and the
 * reading of damage live in audit_verify.c / audit_recovery.c so writer and checker share
 * them. */
#include "govern/audit.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define AU_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

enum { AU_FIELD_MAX = 4096 };
static const uint64_t AU_DEFAULT_LIMIT = 64ull << 20;
static const int64_t AU_SYNC_INTERVAL_NS = 1000000000;

struct audit {
    pthread_mutex_t mu;
    char *dir;
    keyring_t *kr;      /* borrowed */
    int dirfd;          /* holds the flock */
    int fd;             /* current segment, -1 until the first append after a seal */
    uint32_t seg;       /* number of the current (or next) segment */
    uint64_t seg_size, seg_count, seg_first_seq, limit;
    int64_t last_sync_ns;
    bool dirty;         /* written since the last fdatasync */
    bool broken;        /* a failed write could not be undone: refuse appends */
    audit_chain_t chain;
    void (*on_unsynced)(void *ctx);
    void *on_unsynced_ctx;
};

static int au_seg_path(char *out, size_t cap, const char *dir, uint32_t seg)
{
    char name[32];
    audit_seg_name(name, sizeof name, seg);
    return snprintf(out, cap, "%s/%s", dir, name) >= (int)cap ? TARN_EINVAL : 0;
}

/* Writes the digest for the current segment, fsyncs and closes it. An empty segment (its
 * only write failed and was undone) is removed instead; one holding only a recovery line
 * is sealed with count 0, since that line is the only record of the gap. */
static int au_seal(audit_t *a, tarn_err_t *err)
{
    buf_t line = BUF_INIT;
    char path[PATH_MAX];
    int rc = 0;
    if (a->fd < 0)
        return 0;
    if (a->seg_count == 0 && a->seg_size == 0) {
        close(a->fd);
        a->fd = -1;
        if (!au_seg_path(path, sizeof path, a->dir, a->seg))
            unlink(path);
        fsync(a->dirfd);
        return 0;
    }
    if ((rc = audit_digest_make(&line, a->kr, a->seg, a->seg_first_seq, a->seg_count,
                                &a->chain, time_now_ms(), err)))
        goto done;
    if (fs_write_full(a->fd, line.data, line.len) || fsync(a->fd)) {
        /* The segment's state is unknown now (a partial or unsynced digest): stop
         * appending; the next audit_open recovers and seals it. */
        rc = TARN_ERR(err, TARN_EIO, "audit: sealing segment %" PRIu32 ": %s", a->seg,
                      strerror(errno));
        if (ftruncate(a->fd, (off_t)a->seg_size) == 0)
            fsync(a->fd);
        a->broken = true;
        goto done;
    }
    close(a->fd);
    a->fd = -1;
    a->seg++;
    a->seg_size = a->seg_count = 0;
    a->dirty = false;
done:
    buf_free(&line);
    return rc;
}

/* Creates the next segment file (called under the mutex at the first append). */
static int au_start_segment(audit_t *a, tarn_err_t *err)
{
    char path[PATH_MAX];
    if (au_seg_path(path, sizeof path, a->dir, a->seg))
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    a->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (a->fd < 0)
        return TARN_ERR(err, TARN_EIO, "audit: create %s: %s", path, strerror(errno));
    if (fsync(a->dirfd)) {
        close(a->fd);
        a->fd = -1;
        unlink(path);
        return TARN_ERR(err, TARN_EIO, "audit: fsync %s: %s", a->dir, strerror(errno));
    }
    a->seg_size = a->seg_count = 0;
    a->seg_first_seq = a->chain.next_seq;
    a->last_sync_ns = time_mono_ns();
    return 0;
}

/* Starts segment r->segment + 1 with the recovery line and keeps it open for appends.
 * The line goes to a tmp file first: a crash before the rename leaves segment K as it was
 * (recovery runs again and overwrites the tmp), after it the line is complete. */
static int au_write_recovery(audit_t *a, const audit_recovery_t *r, tarn_err_t *err)
{
    buf_t line = BUF_INIT;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int fd = -1, rc;
    if ((rc = audit_recovery_make(&line, a->kr, r, time_now_ms(), err)))
        goto done;
    if (au_seg_path(path, sizeof path, a->dir, r->segment + 1) ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        rc = TARN_ERR(err, TARN_EINVAL, "audit path too long");
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fs_write_full(fd, line.data, line.len) || fsync(fd) || close(fd)) {
        rc = TARN_ERR(err, TARN_EIO, "audit: write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
        unlink(tmp);
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) || fsync(a->dirfd)) {
        rc = TARN_ERR(err, TARN_EIO, "audit: rename %s: %s", tmp, strerror(errno));
        goto done;
    }
    a->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (a->fd < 0) {
        rc = TARN_ERR(err, TARN_EIO, "audit: open %s: %s", path, strerror(errno));
        goto done;
    }
    a->seg = r->segment + 1;
    a->seg_size = line.len;
    a->seg_count = 0;
    a->seg_first_seq = r->resume_seq;
    a->chain.next_seq = r->resume_seq;
    memcpy(a->chain.prev, r->prev, sizeof a->chain.prev);
    a->last_sync_ns = time_mono_ns();
done:
    buf_free(&line);
    return rc;
}

/* The unsealed last segment seg (chain: the state before it) failed its check with the
 * message in err. Crash damage is covered by a recovery line; a break made of well-formed
 * lines is tampering and stays an error, since a signed recovery line would launder it. */
static int au_recover_damaged(audit_t *a, uint32_t seg, const audit_chain_t *chain,
                              tarn_err_t *err)
{
    audit_recovery_t r;
    char name[32], range[64], lost[24];
    char why[sizeof err->msg];
    bool physical;
    int rc;
    snprintf(why, sizeof why, "%s", err ? err->msg : "damaged");
    if ((rc = audit_recovery_analyze(a->dir, seg, a->kr, chain, &r, &physical, err)))
        return rc;
    if (!physical)
        return TARN_ERR(err, TARN_ECONFLICT, "%s", why);
    audit_seg_name(name, sizeof name, seg);
    snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, r.byte_start, r.byte_end);
    if (r.records_lost < 0)
        snprintf(lost, sizeof lost, "unknown");
    else
        snprintf(lost, sizeof lost, "%" PRId64, r.records_lost);
    log_warn("audit: crash damage in the last segment; its valid records are kept and the "
             "gap is recorded in a signed recovery line starting the next segment",
             "file", name, "bytes", range, "records_lost", lost, "first_problem", why);
    return au_write_recovery(a, &r, err);
}

/* Sets the chain from the first line of segment seg when the state before it cannot be
 * read (segment missing, or its digest damaged); verify reports that problem itself. */
static int au_anchor_first(audit_t *a, uint32_t seg, tarn_err_t *err)
{
    char path[PATH_MAX], head[8192];
    int rc = 0;
    if (au_seg_path(path, sizeof path, a->dir, seg))
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "audit: open %s: %s", path, strerror(errno));
    ssize_t got = pread(fd, head, sizeof head, 0);
    close(fd);
    const char *nl = got > 0 ? memchr(head, '\n', (size_t)got) : NULL;
    json_error_t jerr;
    json_t *o = nl ? json_loadb(head, (size_t)(nl - head), 0, &jerr) : NULL;
    json_t *seq = json_object_get(o, "seq");
    const char *prev = json_string_value(json_object_get(o, "prev"));
    if (json_is_integer(seq) && json_integer_value(seq) >= 1 && prev && strlen(prev) == 64) {
        a->chain.next_seq = (uint64_t)json_integer_value(seq);
        memcpy(a->chain.prev, prev, sizeof a->chain.prev);
    } else {
        rc = TARN_ERR(err, TARN_ECONFLICT, "seg-%06" PRIu32 ".jsonl: no first record to "
                      "continue the chain from, and the segment before it is missing or "
                      "damaged", seg);
    }
    json_decref(o);
    return rc;
}

/* Recovers the highest segment after a crash: cuts a torn line, checks the chain, seals it
 * (or removes it when it holds nothing); covers crash damage with a recovery line. Sets
 * a->seg to the segment to write next. */
static int au_recover(audit_t *a, const uint32_t *segs, size_t n, tarn_err_t *err)
{
    char path[PATH_MAX], name[32];
    audit_seg_info_t info;
    audit_recovery_t rec;
    audit_chain_t before;
    uint32_t last = segs[n - 1];
    buf_t data = BUF_INIT;
    int rc = audit_recovery_read(a->dir, last, a->kr, &rec, err);
    if (rc < 0)
        return rc;
    if (rc == 0 && n >= 2) {
        tarn_err_t e2 = {0};
        audit_seg_name(name, sizeof name, last - 1);
        if (segs[n - 2] != last - 1)
            snprintf(e2.msg, sizeof e2.msg, "%s is missing", name);
        else
            audit_seg_read_digest(a->dir, segs[n - 2], a->kr, &a->chain, &e2);
        if (e2.msg[0]) {
            log_warn("audit: the segment before the last is missing or damaged; continuing "
                     "the chain from the last segment (`tarn audit verify` reports it)",
                     "error", e2.msg);
            if ((rc = au_anchor_first(a, last, err)))
                return rc;
        }
    }
    before = a->chain;
    audit_seg_name(name, sizeof name, last);
    if (au_seg_path(path, sizeof path, a->dir, last))
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    rc = audit_seg_check(a->dir, last, a->kr, true, &a->chain, &info, err);
    if (rc == TARN_ECONFLICT) {
        tarn_err_t e2 = {0};
        if (audit_seg_read_digest(a->dir, last, a->kr, &a->chain, &e2) == 0) {
            /* Sealed data cannot be crash damage: leave it for verify to report, and go on
             * from the signed digest. */
            log_warn("audit: the last segment is sealed but does not match its records; "
                     "continuing after its digest (`tarn audit verify` reports it)",
                     "file", name, "error", err ? err->msg : "");
            a->seg = last + 1;
            return 0;
        }
        a->chain = before;
        return au_recover_damaged(a, last, &before, err);
    }
    if (rc)
        return rc;
    if (info.sealed) {
        a->seg = last + 1;
        return 0;
    }
    if (info.torn) {
        /* Zeros after the last line mean the size reached the disk but the data did not:
         * lost records, not a write cut short. */
        if ((rc = fs_read_all(path, &data, err)))
            goto done;
        if (memchr(data.data + info.valid_len, '\0', data.len - info.valid_len)) {
            TARN_ERR(err, TARN_ECONFLICT, "%s: zeros after its last complete line", name);
            rc = au_recover_damaged(a, last, &before, err);
            goto done;
        }
        log_warn("audit: removing a torn final line left by a crash", "file", path);
        if (truncate(path, (off_t)info.valid_len)) {
            rc = TARN_ERR(err, TARN_EIO, "audit: truncate %s: %s", path, strerror(errno));
            goto done;
        }
    }
    a->seg = last;
    if (info.records == 0 && !info.recovered) {
        if (unlink(path) || fsync(a->dirfd))
            rc = TARN_ERR(err, TARN_EIO, "audit: remove empty %s: %s", path, strerror(errno));
        goto done;
    }
    a->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (a->fd < 0) {
        rc = TARN_ERR(err, TARN_EIO, "audit: open %s: %s", path, strerror(errno));
        goto done;
    }
    a->seg_count = info.records;
    a->seg_first_seq = info.first_seq;
    a->seg_size = info.valid_len;
    log_info("audit: sealing a segment left open by a crash", "file", path);
    rc = au_seal(a, err);
done:
    buf_free(&data);
    return rc;
}

int audit_open(audit_t **out, const char *audit_dir, keyring_t *kr, tarn_err_t *err)
{
    audit_t *a = calloc(1, sizeof *a);
    uint32_t *segs = NULL;
    size_t n = 0;
    int rc = 0;
    *out = NULL;
    if (!a || !(a->dir = strdup(audit_dir))) {
        free(a);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    a->kr = kr;
    a->fd = -1;
    a->dirfd = -1;
    a->seg = 1;
    a->limit = AU_DEFAULT_LIMIT;
    audit_chain_init(&a->chain);
    if ((rc = fs_mkdir_p(audit_dir, 0700, err)))
        goto done;
    a->dirfd = open(audit_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->dirfd < 0) {
        rc = TARN_ERR(err, TARN_EIO, "open %s: %s", audit_dir, strerror(errno));
        goto done;
    }
    if (flock(a->dirfd, LOCK_EX | LOCK_NB)) {
        rc = errno == EWOULDBLOCK
                 ? TARN_ERR(err, TARN_EBUSY, "%s is in use by another tarn process", audit_dir)
                 : TARN_ERR(err, TARN_EIO, "flock %s: %s", audit_dir, strerror(errno));
        goto done;
    }
    if ((rc = audit_seg_list(audit_dir, &segs, &n, err)))
        goto done;
    if (n && (rc = au_recover(a, segs, n, err))) {
        if (rc == TARN_ECONFLICT && err) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            TARN_ERR(err, TARN_ECONFLICT, "audit log damaged: %.300s (a rewritten or removed "
                     "record, which a crash cannot cause: see `tarn audit verify`; to start "
                     "anyway, move that segment out of the audit folder as evidence)", why);
        }
        goto done;
    }
done:
    free(segs);
    if (rc) {
        if (a->fd >= 0)
            close(a->fd);
        a->fd = -1;
        if (a->dirfd >= 0)
            close(a->dirfd);
        pthread_mutex_destroy(&a->mu);
        free(a->dir);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void audit_set_segment_limit(audit_t *a, uint64_t bytes)
{
    pthread_mutex_lock(&a->mu);
    a->limit = bytes ? bytes : AU_DEFAULT_LIMIT;
    pthread_mutex_unlock(&a->mu);
}

/* A JSON string for an untrusted C string: cut at AU_FIELD_MAX, invalid UTF-8 bytes
 * replaced by U+FFFD so the line always parses. NULL s gives null (or dflt). */
static json_t *au_str(const char *s, const char *dflt)
{
    if (!s)
        return dflt ? json_string(dflt) : json_null();
    size_t n = strnlen(s, AU_FIELD_MAX);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *fixed = malloc(3 * n + 1), *o = fixed;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    if (!fixed)
        return NULL;
    while (p < end) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                   : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (len && (size_t)(end - p) >= len && (j = json_stringn((const char *)p, len))) {
            json_decref(j);
            memcpy(o, p, len);
            o += len;
            p += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    j = json_stringn(fixed, (size_t)(o - fixed));
    free(fixed);
    return j;
}

static json_int_t au_int(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

/* The record's members between seq and prev, as compact JSON without the braces; these do
 * not depend on the chain, so they are built outside the mutex. Caller frees. */
static char *au_record_middle(const audit_record_t *rec)
{
    char time[25];
    time_fmt_iso_ms(time, rec->time_ms ? rec->time_ms : time_now_ms());
    json_t *o = json_object();
    char *s = NULL;
    if (o && !json_object_set_new(o, "time", json_string(time)) &&
        !json_object_set_new(o, "request_id", au_str(rec->request_id, NULL)) &&
        !json_object_set_new(o, "principal", au_str(rec->principal, "anonymous")) &&
        !json_object_set_new(o, "source", au_str(rec->source, NULL)) &&
        !json_object_set_new(o, "action", au_str(rec->action, NULL)) &&
        !json_object_set_new(o, "resource", au_str(rec->resource, NULL)) &&
        !json_object_set_new(o, "outcome", au_str(rec->outcome, NULL)) &&
        !json_object_set_new(o, "reason", au_str(rec->reason, NULL)) &&
        !json_object_set_new(o, "status", json_integer(rec->status)) &&
        !json_object_set_new(o, "bytes_in", json_integer(au_int(rec->bytes_in))) &&
        !json_object_set_new(o, "bytes_out", json_integer(au_int(rec->bytes_out))))
        s = json_dumps(o, AU_JSON_FLAGS);
    json_decref(o);
    if (s) { /* strip the braces: "{...}" -> "..." */
        size_t n = strlen(s);
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
    return s;
}

int audit_append(audit_t *a, const audit_record_t *rec, tarn_err_t *err)
{
    char *middle = au_record_middle(rec);
    buf_t line = BUF_INIT;
    char hash[65];
    int rc = 0;
    if (!middle)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory building an audit record");
    pthread_mutex_lock(&a->mu);
    if (a->broken) {
        rc = TARN_ERR(err, TARN_EIO, "audit log unwritable after an earlier I/O error");
        goto done;
    }
    if (a->fd < 0 && (rc = au_start_segment(a, err)))
        goto done;
    /* Compact JSON of {"seq":..,<middle>,"prev":".."} is exactly what jansson would print
     * for the whole object; BODY is that text, head it without the final '}'. */
    if (buf_printf(&line, "{\"seq\":%" PRIu64 ",%s,\"prev\":\"%s\"", a->chain.next_seq, middle,
                   a->chain.prev)) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory building an audit record");
        goto done;
    }
    audit_line_hash(hash, a->chain.prev, line.data, line.len);
    if (buf_printf(&line, ",\"hash\":\"%s\"}\n", hash)) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory building an audit record");
        goto done;
    }
    if (fs_write_full(a->fd, line.data, line.len)) {
        int e = errno;
        /* Cut a partial line so the chain stays readable; if even that fails, stop. */
        if (ftruncate(a->fd, (off_t)a->seg_size))
            a->broken = true;
        rc = TARN_ERR(err, TARN_EIO, "audit: write segment %" PRIu32 ": %s", a->seg,
                      strerror(e));
        goto done;
    }
    memcpy(a->chain.prev, hash, sizeof hash);
    a->chain.next_seq++;
    a->seg_size += line.len;
    a->seg_count++;
    a->dirty = true;
    if (a->seg_size >= a->limit) {
        rc = au_seal(a, err);
        goto done;
    }
    int64_t now = time_mono_ns();
    if (now - a->last_sync_ns >= AU_SYNC_INTERVAL_NS) {
        if (fdatasync(a->fd)) {
            rc = TARN_ERR(err, TARN_EIO, "audit: fdatasync: %s", strerror(errno));
            goto done;
        }
        a->last_sync_ns = now;
        a->dirty = false;
    }
    if (a->dirty && a->on_unsynced)
        a->on_unsynced(a->on_unsynced_ctx);
done:
    pthread_mutex_unlock(&a->mu);
    buf_free(&line);
    free(middle);
    return rc;
}

int audit_sync(audit_t *a, tarn_err_t *err)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    if (a->fd >= 0 && a->dirty) {
        if (fdatasync(a->fd))
            rc = TARN_ERR(err, TARN_EIO, "audit: fdatasync: %s", strerror(errno));
        else
            a->dirty = false;
        a->last_sync_ns = time_mono_ns();
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void audit_on_unsynced(audit_t *a, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&a->mu);
    a->on_unsynced = fn;
    a->on_unsynced_ctx = ctx;
    pthread_mutex_unlock(&a->mu);
}

void audit_close(audit_t *a)
{
    tarn_err_t err = {0};
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    if (a->fd >= 0 && !a->broken && au_seal(a, &err))
        log_error("audit: could not seal the segment at close", "error", err.msg);
    if (a->fd >= 0) {
        fsync(a->fd);
        close(a->fd);
    }
    pthread_mutex_unlock(&a->mu);
    if (a->dirfd >= 0)
        close(a->dirfd);
    pthread_mutex_destroy(&a->mu);
    free(a->dir);
    free(a);
}
