/* Audit log crash recovery: reading a damaged segment into kept prefix, damaged range and
 * kept tail, and the signed recovery line that records it. Shared by audit_open (which
 * writes the line) and audit_verify (which recomputes it); the format is in audit.h. */
#include "govern/audit.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AU_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define AU_SEQ_START "{\"seq\":"

static int au_rec_canon(buf_t *b, const audit_recovery_t *r, const char *time)
{
    char lost[24];
    if (r->records_lost < 0)
        snprintf(lost, sizeof lost, "unknown");
    else
        snprintf(lost, sizeof lost, "%" PRId64, r->records_lost);
    return buf_printf(b,
                      "tarn-audit-recovery-v1\nsegment=%" PRIu32 "\nfirst_seq=%" PRIu64
                      "\nkept_before=%" PRIu64 "\nbyte_start=%" PRIu64 "\nbyte_end=%" PRIu64
                      "\nrecords_lost=%s\nkept_after=%" PRIu64 "\nresume_seq=%" PRIu64
                      "\nprev=%s\nsize=%" PRIu64 "\nsha256=%s\ntime=%s\n",
                      r->segment, r->first_seq, r->kept_before, r->byte_start, r->byte_end,
                      lost, r->kept_after, r->resume_seq, r->prev, r->size, r->sha256, time);
}

static json_t *au_rec_int(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* The recovery line without '\n'; caller frees. NULL when out of memory. */
static char *au_rec_json(const audit_recovery_t *r, const char *time, const char *sig)
{
    json_t *o = json_object();
    char *s = NULL;
    if (o && !json_object_set_new(o, "type", json_string("recovery")) &&
        !json_object_set_new(o, "segment", json_integer(r->segment)) &&
        !json_object_set_new(o, "first_seq", au_rec_int(r->first_seq)) &&
        !json_object_set_new(o, "kept_before", au_rec_int(r->kept_before)) &&
        !json_object_set_new(o, "byte_start", au_rec_int(r->byte_start)) &&
        !json_object_set_new(o, "byte_end", au_rec_int(r->byte_end)) &&
        !json_object_set_new(o, "records_lost", r->records_lost < 0
                                                    ? json_null()
                                                    : json_integer(r->records_lost)) &&
        !json_object_set_new(o, "kept_after", au_rec_int(r->kept_after)) &&
        !json_object_set_new(o, "resume_seq", au_rec_int(r->resume_seq)) &&
        !json_object_set_new(o, "prev", json_string(r->prev)) &&
        !json_object_set_new(o, "size", au_rec_int(r->size)) &&
        !json_object_set_new(o, "sha256", json_string(r->sha256)) &&
        !json_object_set_new(o, "time", json_string(time)) &&
        !json_object_set_new(o, "sig", json_string(sig)))
        s = json_dumps(o, AU_JSON_FLAGS);
    json_decref(o);
    return s;
}

int audit_recovery_make(buf_t *out, const keyring_t *kr, const audit_recovery_t *r,
                        int64_t time_ms, tarn_err_t *err)
{
    buf_t canon = BUF_INIT;
    char time[25], sig64[92];
    uint8_t sig[64];
    char *line = NULL;
    int rc = 0;
    time_fmt_iso_ms(time, time_ms);
    if (au_rec_canon(&canon, r, time)) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = keyring_sign(kr, canon.data, canon.len, sig, err)))
        goto done;
    hash_b64(sig64, sig, sizeof sig);
    if (!(line = au_rec_json(r, time, sig64)) || buf_puts(out, line) || buf_putc(out, '\n'))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    free(line);
    buf_free(&canon);
    return rc;
}

static bool au_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

const char *audit_recovery_parse(const char *line, size_t n, const keyring_t *kr,
                                 audit_recovery_t *r)
{
    const char *why = NULL, *type, *prev, *sha, *time, *sig;
    json_int_t seg, first, before, start, end, after, resume, size;
    json_t *lost = NULL;
    json_error_t jerr;
    buf_t canon = BUF_INIT;
    char *again = NULL;
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        why = "not valid JSON";
        goto done;
    }
    if (json_unpack(o, "{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:s, s:I, s:s, s:s, s:s !}",
                    "type", &type, "segment", &seg, "first_seq", &first, "kept_before", &before,
                    "byte_start", &start, "byte_end", &end, "records_lost", &lost, "kept_after",
                    &after, "resume_seq", &resume, "prev", &prev, "size", &size, "sha256", &sha,
                    "time", &time, "sig", &sig) ||
        strcmp(type, "recovery") != 0 || seg <= 0 || seg > (json_int_t)UINT32_MAX ||
        first < 1 || before < 0 || start < 0 || end < start || after < 0 || resume < 1 ||
        size < end || !(json_is_null(lost) || (json_is_integer(lost) &&
                                              json_integer_value(lost) >= 0)) ||
        !au_hex64(prev) || !au_hex64(sha)) {
        why = "missing or mistyped fields";
        goto done;
    }
    r->segment = (uint32_t)seg;
    r->first_seq = (uint64_t)first;
    r->kept_before = (uint64_t)before;
    r->byte_start = (uint64_t)start;
    r->byte_end = (uint64_t)end;
    r->records_lost = json_is_null(lost) ? -1 : (int64_t)json_integer_value(lost);
    r->kept_after = (uint64_t)after;
    r->resume_seq = (uint64_t)resume;
    r->size = (uint64_t)size;
    memcpy(r->prev, prev, 65);
    memcpy(r->sha256, sha, 65);
    if (!(again = au_rec_json(r, time, sig)) || au_rec_canon(&canon, r, time)) {
        why = "out of memory";
        goto done;
    }
    why = audit_signed_line_check(kr, line, n, again, sig, &canon);
done:
    free(again);
    buf_free(&canon);
    json_decref(o);
    return why;
}

int audit_recovery_read(const char *dir, uint32_t seg, const keyring_t *kr,
                        audit_recovery_t *r, tarn_err_t *err)
{
    char name[32], path[PATH_MAX], head[4096];
    const char *bad;
    int rc = 0;
    audit_seg_name(name, sizeof name, seg);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : TARN_ERR(err, TARN_EIO, "open %s: %s", path, strerror(errno));
    ssize_t got = pread(fd, head, sizeof head, 0);
    if (got < 0) {
        rc = TARN_ERR(err, TARN_EIO, "read %s: %s", path, strerror(errno));
        goto done;
    }
    const char *nl = memchr(head, '\n', (size_t)got);
    static const char prefix[] = "{\"type\":\"recovery\"";
    if (!nl || (size_t)(nl - head) < strlen(prefix) || memcmp(head, prefix, strlen(prefix)))
        goto done;
    if ((bad = audit_recovery_parse(head, (size_t)(nl - head), kr, r))) {
        rc = TARN_ERR(err, TARN_ECONFLICT, "%s recovery line: %s", name, bad);
        goto done;
    }
    rc = 1;
done:
    close(fd);
    return rc;
}

/* Whether data[p0..] is a kept tail: complete record lines, each hashing correctly over
 * its own prev and linked to the one before, the first with seq >= min_seq, then at most
 * an incomplete final line. On success *t is the chain after it and *kept its records. On
 * failure *next is where the next candidate may start: lines it walked past cannot start
 * a tail either, since a walk from them reaches the same failing line in the same state. */
static bool au_tail_ok(const char *data, size_t len, size_t p0, uint64_t min_seq,
                       audit_chain_t *t, uint64_t *first_seq, uint64_t *kept, size_t *next)
{
    char why[128];
    size_t pos = p0;
    *kept = 0;
    *next = p0 + 1;
    const char *nl = memchr(data + p0, '\n', len - p0);
    if (!nl) {
        *next = len;
        return false;
    }
    json_error_t jerr;
    json_t *o = json_loadb(data + p0, (size_t)(nl - (data + p0)), 0, &jerr);
    json_t *seq = json_object_get(o, "seq");
    const char *prev = json_string_value(json_object_get(o, "prev"));
    bool ok = json_is_integer(seq) && json_integer_value(seq) >= 1 &&
              (uint64_t)json_integer_value(seq) >= min_seq && prev && au_hex64(prev);
    if (ok) {
        t->next_seq = (uint64_t)json_integer_value(seq);
        memcpy(t->prev, prev, 65);
        *first_seq = t->next_seq;
    }
    json_decref(o);
    if (!ok)
        return false;
    while (pos < len && (nl = memchr(data + pos, '\n', len - pos))) {
        if (audit_record_line_check(data + pos, (size_t)(nl - (data + pos)), t, why,
                                    sizeof why)) {
            if (pos > p0)
                *next = pos;
            return false;
        }
        (*kept)++;
        pos = (size_t)(nl - data) + 1;
    }
    return true;
}

/* Physical damage in p[0..n): a NUL byte, or a piece between newlines that is not a JSON
 * object. A final piece without '\n' at the end of the file (torn) counts only by NULs,
 * since a write cut by a crash leaves such a piece without any damage. */
static bool au_physical(const char *p, size_t n, bool last_torn)
{
    size_t pos = 0;
    if (memchr(p, '\0', n))
        return true;
    while (pos < n) {
        const char *nl = memchr(p + pos, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - (p + pos)) : n - pos;
        if (!nl && last_torn)
            break;
        json_error_t jerr;
        json_t *o = json_loadb(p + pos, len, 0, &jerr);
        bool obj = json_is_object(o);
        json_decref(o);
        if (!obj)
            return true;
        pos += len + 1;
    }
    return false;
}

int audit_recovery_analyze(const char *dir, uint32_t seg, const keyring_t *kr,
                           const audit_chain_t *chain, audit_recovery_t *r, bool *physical,
                           tarn_err_t *err)
{
    audit_recovery_t prior;
    char name[32], path[PATH_MAX], why[128];
    buf_t data = BUF_INIT;
    audit_chain_t c = *chain, t = *chain;
    uint8_t md[32];
    uint64_t tail_first = 0;
    size_t pos = 0;
    bool tail = false;
    int rc;
    memset(r, 0, sizeof *r);
    *physical = false;
    audit_seg_name(name, sizeof name, seg);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    if ((rc = fs_read_all(path, &data, err)))
        goto done;
    r->segment = seg;
    r->first_seq = chain->next_seq;
    r->size = data.len;
    hash_sha256(md, data.data, data.len);
    hash_hex(r->sha256, md, sizeof md);
    /* A segment that itself starts with a recovery line (damage again after a recovery)
     * continues the chain from that line. */
    const char *nl0 = memchr(data.data, '\n', data.len);
    if (nl0 && !audit_recovery_parse(data.data, (size_t)(nl0 - data.data), kr, &prior) &&
        prior.segment + 1 == seg) {
        c.next_seq = prior.resume_seq;
        memcpy(c.prev, prior.prev, sizeof c.prev);
        r->first_seq = prior.resume_seq;
        pos = (size_t)(nl0 - data.data) + 1;
    }
    while (pos < data.len) {
        const char *nl = memchr(data.data + pos, '\n', data.len - pos);
        if (!nl || audit_record_line_check(data.data + pos, (size_t)(nl - (data.data + pos)),
                                           &c, why, sizeof why))
            break;
        r->kept_before++;
        pos = (size_t)(nl - data.data) + 1;
    }
    r->byte_start = pos;
    r->byte_end = data.len;
    while (pos < data.len) {
        const char *hit = memmem(data.data + pos, data.len - pos, AU_SEQ_START,
                                 strlen(AU_SEQ_START));
        size_t p0, next;
        if (!hit)
            break;
        p0 = (size_t)(hit - data.data);
        if (au_tail_ok(data.data, data.len, p0, c.next_seq, &t, &tail_first, &r->kept_after,
                       &next)) {
            tail = true;
            r->byte_end = p0;
            break;
        }
        r->kept_after = 0;
        pos = next;
    }
    const audit_chain_t *end = tail ? &t : &c;
    r->records_lost = tail ? (int64_t)(tail_first - c.next_seq) : -1;
    r->resume_seq = end->next_seq;
    memcpy(r->prev, end->prev, sizeof r->prev);
    *physical = au_physical(data.data + r->byte_start, (size_t)(r->byte_end - r->byte_start),
                            !tail);
done:
    buf_free(&data);
    return rc;
}
