/* The stream write-ahead log and its group commit; see stream_wal.h. A frame is
 * [u32 length][u32 CRC-32C of the bytes then of seq and time][u64 seq][i64 ms][bytes],
 * little-endian. Appenders copy their frames into one buffer outside the lock, then
 * write it under the lock; the first appender that finds no fsync running becomes the
 * leader and fsyncs for everyone written so far, the others wait for it. */
#include "ingest/stream_wal.h"
#include "util/fs.h"
#include "util/hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FRAME (16u << 20)

struct stream_wal {
    char dir[PATH_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;              /* the last segment, written at its end */
    uint64_t seg_bytes;  /* of the last segment */
    uint64_t seg_limit;
    uint64_t next_seq;
    uint64_t written;    /* last seq written */
    uint64_t durable;    /* last seq fsynced */
    bool syncing;
    bool broken;         /* a failed write could not be undone: refuse appends */
    uint64_t disk_bytes;
    uint64_t *segs;      /* first seq of each segment, ascending */
    size_t nsegs, capsegs;
    /* where the reader stopped: the frame of cur_seq starts at cur_off in cur_seg */
    uint64_t cur_seq, cur_seg;
    uint64_t cur_off;
};

static void seg_path(const stream_wal_t *w, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020" PRIu64 ".wal", w->dir, first);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int add_seg(stream_wal_t *w, uint64_t first)
{
    if (w->nsegs == w->capsegs) {
        size_t nc = w->capsegs ? w->capsegs * 2 : 8;
        uint64_t *ns = realloc(w->segs, nc * sizeof *ns);
        if (!ns)
            return TARN_ENOMEM;
        w->segs = ns;
        w->capsegs = nc;
    }
    w->segs[w->nsegs++] = first;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A buffered sequential reader over one segment. */
typedef struct {
    int fd;
    uint8_t *buf;
    size_t cap, len, pos;
    uint64_t off; /* file offset of buf[pos] */
} reader_t;

/* Makes n bytes available at r->buf + r->pos; 1 when they are, 0 at a short end. */
static int reader_need(reader_t *r, size_t n)
{
    if (r->len - r->pos >= n)
        return 1;
    if (n > r->cap) {
        uint8_t *nb = malloc(n);
        if (!nb)
            return -1;
        memcpy(nb, r->buf + r->pos, r->len - r->pos);
        free(r->buf);
        r->buf = nb;
        r->cap = n;
    } else {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    }
    r->len -= r->pos;
    r->pos = 0;
    while (r->len < n) {
        ssize_t got = pread(r->fd, r->buf + r->len, r->cap - r->len, (off_t)(r->off + r->len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            return 0;
        r->len += (size_t)got;
    }
    return 1;
}

/* Parses the frame at the reader's position: 1 a valid frame (rec filled, reader not
 * advanced), 0 end or a torn/corrupt frame, -1 read error. */
static int reader_frame(reader_t *r, stream_wal_rec_t *rec, size_t *flen)
{
    int k = reader_need(r, STREAM_WAL_FRAME);
    if (k <= 0)
        return k;
    const uint8_t *h = r->buf + r->pos;
    uint32_t len = get32(h), crc = get32(h + 4);
    if (len > MAX_FRAME)
        return 0;
    if ((k = reader_need(r, STREAM_WAL_FRAME + len)) <= 0)
        return k;
    h = r->buf + r->pos;
    uint32_t c = hash_crc32c_update(0, h + STREAM_WAL_FRAME, len);
    c = hash_crc32c_update(c, h + 8, 16);
    if (c != crc)
        return 0;
    rec->seq = get64(h + 8);
    rec->ts_ms = (int64_t)get64(h + 16);
    rec->data = h + STREAM_WAL_FRAME;
    rec->len = len;
    *flen = STREAM_WAL_FRAME + len;
    return 1;
}

static void reader_skip(reader_t *r, size_t n)
{
    r->pos += n;
    r->off += n;
}

/* Scans the last segment, cutting it after its last valid frame. */
static int recover_last(stream_wal_t *w, uint64_t first, uint64_t *last_seq, tarn_err_t *err)
{
    char p[PATH_MAX + 32];
    seg_path(w, first, p, sizeof p);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "open %s: %s", p, strerror(errno));
    reader_t r = {.fd = fd, .cap = 1 << 20};
    r.buf = malloc(r.cap);
    int rc = 0;
    if (!r.buf) {
        close(fd);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    uint64_t expect = first;
    stream_wal_rec_t rec;
    size_t fl;
    int k;
    while ((k = reader_frame(&r, &rec, &fl)) == 1 && rec.seq == expect) {
        reader_skip(&r, fl);
        expect++;
    }
    struct stat st;
    if (k < 0 || fstat(fd, &st)) {
        rc = TARN_ERR(err, TARN_EIO, "read %s: %s", p, strerror(errno));
    } else if ((uint64_t)st.st_size != r.off) {
        /* A torn or never-acknowledged tail: nothing in it was fsynced for a client. */
        if (ftruncate(fd, (off_t)r.off) || fsync(fd))
            rc = TARN_ERR(err, TARN_EIO, "truncate %s: %s", p, strerror(errno));
    }
    w->seg_bytes = r.off;
    *last_seq = expect - 1;
    free(r.buf);
    close(fd);
    return rc;
}

static int open_segment(stream_wal_t *w, uint64_t first, bool create, tarn_err_t *err)
{
    char p[PATH_MAX + 32];
    seg_path(w, first, p, sizeof p);
    int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "open %s: %s", p, strerror(errno));
    if (create) {
        int rc = fs_fsync_dir(w->dir, err);
        if (!rc && add_seg(w, first))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        if (rc) {
            close(fd);
            return rc;
        }
        w->seg_bytes = 0;
    }
    w->fd = fd;
    return 0;
}

int stream_wal_open(stream_wal_t **out, const char *dir, uint64_t delivered, tarn_err_t *err)
{
    stream_wal_t *w = calloc(1, sizeof *w);
    DIR *d = NULL;
    int rc = 0;
    if (!w)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    w->fd = -1;
    w->seg_limit = 64u << 20;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    if ((rc = fs_mkdir_p(dir, 0700, err)))
        goto done;
    if (!(d = opendir(dir))) {
        rc = TARN_ERR(err, TARN_EIO, "opendir %s: %s", dir, strerror(errno));
        goto done;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        unsigned long long first = strtoull(de->d_name, &end, 10);
        if (end == de->d_name || strcmp(end, ".wal") || !first)
            continue;
        if (add_seg(w, first)) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (w->nsegs)
        qsort(w->segs, w->nsegs, sizeof *w->segs, cmp_u64);
    uint64_t last = delivered, ls = 0;
    if (w->nsegs) {
        if ((rc = recover_last(w, w->segs[w->nsegs - 1], &ls, err)))
            goto done;
        if (ls > last)
            last = ls;
    }
    w->next_seq = last + 1;
    w->written = w->durable = last;
    if ((rc = stream_wal_trim(w, delivered, err)))
        goto done;
    /* Appends go to the last segment unless it ends below what was delivered (its records
     * were all delivered and the numbers must go on from there). */
    if (w->nsegs && ls + 1 == w->next_seq) {
        rc = open_segment(w, w->segs[w->nsegs - 1], false, err);
    } else {
        rc = open_segment(w, w->next_seq, true, err);
    }
    if (rc)
        goto done;
    char p[PATH_MAX + 32];
    for (size_t i = 0; i < w->nsegs; i++) {
        struct stat st;
        seg_path(w, w->segs[i], p, sizeof p);
        if (!stat(p, &st))
            w->disk_bytes += (uint64_t)st.st_size;
    }
    w->cur_seq = 0;
done:
    if (d)
        closedir(d);
    if (rc) {
        stream_wal_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

void stream_wal_close(stream_wal_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->segs);
    free(w);
}

void stream_wal_set_segment_size(stream_wal_t *w, uint64_t bytes)
{
    pthread_mutex_lock(&w->mu);
    w->seg_limit = bytes;
    pthread_mutex_unlock(&w->mu);
}

/* Starts a new segment; called with the lock held and no fsync running. */
static int roll(stream_wal_t *w, tarn_err_t *err)
{
    if (fdatasync(w->fd))
        return TARN_ERR(err, TARN_EIO, "fsync the stream log: %s", strerror(errno));
    w->durable = w->written;
    int old = w->fd;
    int rc = open_segment(w, w->next_seq, true, err);
    if (rc)
        return rc;
    close(old);
    return 0;
}

int stream_wal_append(stream_wal_t *w, const stream_record_t *recs, size_t n, int64_t ts_ms,
                      uint64_t *first_seq, tarn_err_t *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > MAX_FRAME)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "a record is too large");
        total += STREAM_WAL_FRAME + recs[i].len;
    }
    uint8_t *buf = malloc(total ? total : 1);
    uint32_t *crcs = malloc((n ? n : 1) * sizeof *crcs);
    int rc = 0;
    if (!buf || !crcs) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* Everything but the sequence numbers is prepared before taking the lock. */
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        put32(buf + off, (uint32_t)recs[i].len);
        put64(buf + off + 16, (uint64_t)ts_ms);
        memcpy(buf + off + STREAM_WAL_FRAME, recs[i].data, recs[i].len);
        crcs[i] = hash_crc32c_update(0, recs[i].data, recs[i].len);
        off += STREAM_WAL_FRAME + recs[i].len;
    }
    pthread_mutex_lock(&w->mu);
    if (w->broken) {
        rc = TARN_ERR(err, TARN_EIO, "the stream log could not be written earlier");
        goto unlock;
    }
    while (w->seg_bytes >= w->seg_limit && w->syncing)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->seg_bytes >= w->seg_limit && (rc = roll(w, err)))
        goto unlock;
    uint64_t seq = w->next_seq;
    off = 0;
    for (size_t i = 0; i < n; i++) {
        put64(buf + off + 8, seq + i);
        put32(buf + off + 4, hash_crc32c_update(crcs[i], buf + off + 8, 16));
        off += STREAM_WAL_FRAME + recs[i].len;
    }
    if (fs_write_full(w->fd, buf, total)) {
        int e = errno;
        /* Cut what was written, or later frames would sit behind garbage. */
        if (ftruncate(w->fd, (off_t)w->seg_bytes))
            w->broken = true;
        rc = TARN_ERR(err, TARN_EIO, "write the stream log: %s", strerror(e));
        goto unlock;
    }
    w->seg_bytes += total;
    w->disk_bytes += total;
    w->next_seq += n;
    w->written = w->next_seq - 1;
    uint64_t mine = w->written;
    *first_seq = seq;
    while (w->durable < mine && !rc) {
        if (w->syncing) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        /* Lead: one fsync covers every frame written until now. */
        w->syncing = true;
        uint64_t target = w->written;
        int fd = w->fd;
        pthread_mutex_unlock(&w->mu);
        int s = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&w->mu);
        w->syncing = false;
        if (s) {
            w->broken = true; /* after a failed fsync the page cache cannot be trusted */
            rc = TARN_ERR(err, TARN_EIO, "fsync the stream log: %s", strerror(e));
        } else if (target > w->durable) {
            w->durable = target;
        }
        pthread_cond_broadcast(&w->cv);
    }
    if (!rc && w->broken && w->durable < mine)
        rc = TARN_ERR(err, TARN_EIO, "the stream log could not be fsynced");
unlock:
    pthread_mutex_unlock(&w->mu);
done:
    free(buf);
    free(crcs);
    return rc;
}

uint64_t stream_wal_durable(stream_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t d = w->durable;
    pthread_mutex_unlock(&w->mu);
    return d;
}

uint64_t stream_wal_disk_bytes(stream_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t d = w->disk_bytes;
    pthread_mutex_unlock(&w->mu);
    return d;
}

int stream_wal_read(stream_wal_t *w, uint64_t after, uint64_t upto, size_t max_bytes,
                    int (*fn)(void *ctx, const stream_wal_rec_t *r), void *ctx, tarn_err_t *err)
{
    pthread_mutex_lock(&w->mu);
    if (upto > w->durable)
        upto = w->durable;
    size_t nsegs = w->nsegs;
    uint64_t *segs = malloc((nsegs ? nsegs : 1) * sizeof *segs);
    if (segs)
        memcpy(segs, w->segs, nsegs * sizeof *segs);
    uint64_t cseq = w->cur_seq, cseg = w->cur_seg, coff = w->cur_off;
    pthread_mutex_unlock(&w->mu);
    reader_t r = {.fd = -1, .cap = 1 << 20};
    r.buf = malloc(r.cap);
    int rc = 0;
    if (!segs || !r.buf) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if (after >= upto)
        goto done;
    size_t si = 0;
    for (size_t i = 0; i < nsegs; i++)
        if (segs[i] <= after + 1)
            si = i;
    uint64_t start_off = 0;
    if (cseq == after + 1 && cseg == segs[si])
        start_off = coff; /* go on where the last read stopped */
    size_t passed = 0;
    uint64_t next = after + 1;
    for (; si < nsegs && next <= upto; si++, start_off = 0) {
        char p[PATH_MAX + 32];
        seg_path(w, segs[si], p, sizeof p);
        if (r.fd >= 0)
            close(r.fd);
        r.fd = open(p, O_RDONLY | O_CLOEXEC);
        if (r.fd < 0) {
            rc = TARN_ERR(err, TARN_EIO, "open %s: %s", p, strerror(errno));
            goto done;
        }
        r.len = r.pos = 0;
        r.off = start_off;
        stream_wal_rec_t rec;
        size_t fl;
        int k;
        while (next <= upto && (k = reader_frame(&r, &rec, &fl)) == 1) {
            if (rec.seq > upto)
                break;
            if (rec.seq >= next) {
                if (rec.seq != next) {
                    rc = TARN_ERR(err, TARN_EIO, "the stream log %s skips from %" PRIu64
                                  " to %" PRIu64, p, next, rec.seq);
                    goto done;
                }
                if (passed && passed + rec.len > max_bytes)
                    goto stop;
                if ((rc = fn(ctx, &rec)))
                    goto done;
                passed += rec.len;
                next = rec.seq + 1;
            }
            reader_skip(&r, fl);
        }
        if (k < 0) {
            rc = TARN_ERR(err, TARN_EIO, "read %s: %s", p, strerror(errno));
            goto done;
        }
        if (next > upto)
            break;
    }
stop:
    if (next <= upto && si >= nsegs) {
        rc = TARN_ERR(err, TARN_EIO, "the stream log in %s ends before record %" PRIu64, w->dir,
                      next);
        goto done;
    }
    pthread_mutex_lock(&w->mu);
    w->cur_seq = next;
    w->cur_seg = si < nsegs ? segs[si] : 0;
    w->cur_off = r.off;
    pthread_mutex_unlock(&w->mu);
done:
    if (r.fd >= 0)
        close(r.fd);
    free(r.buf);
    free(segs);
    return rc;
}

int stream_wal_trim(stream_wal_t *w, uint64_t delivered, tarn_err_t *err)
{
    (void)err;
    pthread_mutex_lock(&w->mu);
    size_t keep = 0;
    /* A segment goes when the next one starts at or below delivered + 1; the last stays
     * (appends continue in it). */
    while (keep + 1 < w->nsegs && w->segs[keep + 1] <= delivered + 1) {
        char p[PATH_MAX + 32];
        struct stat st;
        seg_path(w, w->segs[keep], p, sizeof p);
        if (!stat(p, &st))
            w->disk_bytes -= (uint64_t)st.st_size < w->disk_bytes ? (uint64_t)st.st_size
                                                                   : w->disk_bytes;
        unlink(p);
        keep++;
    }
    if (keep) {
        memmove(w->segs, w->segs + keep, (w->nsegs - keep) * sizeof *w->segs);
        w->nsegs -= keep;
    }
    pthread_mutex_unlock(&w->mu);
    return 0;
}
