/* Audit log reading side: segment listing, the record-hash and digest formats (made here
 * too, so writer and verifier cannot drift apart), chain verification and tail.
 * The formats are specified in audit.h. */
#include "govern/audit.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AU_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define AU_HASH_MEMBER ",\"hash\":\""

typedef struct {
    uint32_t segment;
    uint64_t first_seq, last_seq, count;
    char last_hash[65];
} au_digest_t;

void audit_chain_init(audit_chain_t *c)
{
    c->next_seq = 1;
    memset(c->prev, '0', 64);
    c->prev[64] = '\0';
}

void audit_seg_name(char *out, size_t cap, uint32_t seg)
{
    snprintf(out, cap, "seg-%06" PRIu32 ".jsonl", seg);
}

static int au_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int audit_seg_list(const char *dir, uint32_t **segs, size_t *n, tarn_err_t *err)
{
    *segs = NULL;
    *n = 0;
    size_t cap = 0;
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d)
        return TARN_ERR(err, errno == ENOENT ? TARN_ENOTFOUND : TARN_EIO, "open %s: %s", dir,
                        strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end, canon[64];
        if (strncmp(e->d_name, "seg-", 4) != 0 || e->d_name[4] < '0' || e->d_name[4] > '9')
            continue;
        unsigned long k = strtoul(e->d_name + 4, &end, 10);
        if (strcmp(end, ".jsonl") != 0 || k == 0 || k > UINT32_MAX)
            continue;
        audit_seg_name(canon, sizeof canon, (uint32_t)k);
        if (strcmp(canon, e->d_name) != 0)
            continue; /* "seg-0000001.jsonl" is not ours */
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            uint32_t *p = realloc(*segs, ncap * sizeof *p);
            if (!p) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                goto done;
            }
            *segs = p;
            cap = ncap;
        }
        (*segs)[(*n)++] = (uint32_t)k;
    }
    if (*n)
        qsort(*segs, *n, sizeof **segs, au_cmp_u32);
done:
    closedir(d);
    if (rc) {
        free(*segs);
        *segs = NULL;
        *n = 0;
    }
    return rc;
}

void audit_line_hash(char out[65], const char *prev, const char *head, size_t n)
{
    uint8_t md[32];
    unsigned len = 32;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Only allocation can fail here; an all-zero digest then simply fails verification. */
    memset(md, 0, sizeof md);
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_DigestUpdate(ctx, prev, strlen(prev));
        EVP_DigestUpdate(ctx, "\n", 1);
        EVP_DigestUpdate(ctx, head, n);
        EVP_DigestUpdate(ctx, "}", 1);
        EVP_DigestFinal_ex(ctx, md, &len);
    }
    EVP_MD_CTX_free(ctx);
    hash_hex(out, md, sizeof md);
}

static bool au_is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int au_digest_canon(buf_t *b, const au_digest_t *d, const char *time)
{
    return buf_printf(b,
                      "tarn-audit-digest-v1\nsegment=%" PRIu32 "\nfirst_seq=%" PRIu64
                      "\nlast_seq=%" PRIu64 "\ncount=%" PRIu64 "\nlast_hash=%s\ntime=%s\n",
                      d->segment, d->first_seq, d->last_seq, d->count, d->last_hash, time);
}

/* The digest line without '\n'; caller frees. NULL when out of memory. */
static char *au_digest_json(const au_digest_t *d, const char *time, const char *sig)
{
    json_t *o = json_object();
    char *s = NULL;
    if (o && !json_object_set_new(o, "type", json_string("digest")) &&
        !json_object_set_new(o, "segment", json_integer(d->segment)) &&
        !json_object_set_new(o, "first_seq", json_integer((json_int_t)d->first_seq)) &&
        !json_object_set_new(o, "last_seq", json_integer((json_int_t)d->last_seq)) &&
        !json_object_set_new(o, "count", json_integer((json_int_t)d->count)) &&
        !json_object_set_new(o, "last_hash", json_string(d->last_hash)) &&
        !json_object_set_new(o, "time", json_string(time)) &&
        !json_object_set_new(o, "sig", json_string(sig)))
        s = json_dumps(o, AU_JSON_FLAGS);
    json_decref(o);
    return s;
}

int audit_digest_make(buf_t *out, const keyring_t *kr, uint32_t seg, uint64_t first_seq,
                      uint64_t count, const audit_chain_t *chain, int64_t time_ms,
                      tarn_err_t *err)
{
    au_digest_t d = {seg, first_seq, chain->next_seq - 1, count, {0}};
    buf_t canon = BUF_INIT;
    char time[25], sig64[92];
    uint8_t sig[64];
    char *line = NULL;
    int rc = 0;
    memcpy(d.last_hash, chain->prev, sizeof d.last_hash);
    time_fmt_iso_ms(time, time_ms);
    if (au_digest_canon(&canon, &d, time)) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = keyring_sign(kr, canon.data, canon.len, sig, err)))
        goto done;
    hash_b64(sig64, sig, sizeof sig);
    if (!(line = au_digest_json(&d, time, sig64)) || buf_puts(out, line) || buf_putc(out, '\n'))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    free(line);
    buf_free(&canon);
    return rc;
}

/* Parses and authenticates a digest line (no '\n'): exact canonical JSON, signature valid.
 * Returns NULL when good, else what is wrong. */
static const char *au_digest_parse(const char *line, size_t n, const keyring_t *kr,
                                   au_digest_t *d)
{
    const char *why = NULL, *type, *last_hash, *time, *sig;
    json_int_t seg, first, last, count;
    json_error_t jerr;
    buf_t canon = BUF_INIT;
    char *again = NULL;
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        why = "not valid JSON";
        goto done;
    }
    if (json_unpack(o, "{s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s !}", "type", &type, "segment",
                    &seg, "first_seq", &first, "last_seq", &last, "count", &count, "last_hash",
                    &last_hash, "time", &time, "sig", &sig) ||
        strcmp(type, "digest") != 0 || seg <= 0 || seg > (json_int_t)UINT32_MAX || first < 0 ||
        last < 0 || count < 0 || !au_is_hex64(last_hash, strlen(last_hash))) {
        why = "missing or mistyped fields";
        goto done;
    }
    d->segment = (uint32_t)seg;
    d->first_seq = (uint64_t)first;
    d->last_seq = (uint64_t)last;
    d->count = (uint64_t)count;
    memcpy(d->last_hash, last_hash, 65);
    if (!(again = au_digest_json(d, time, sig)) || au_digest_canon(&canon, d, time)) {
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

/* Checks one record line (no '\n') against the chain and advances it. NULL when good. */
static const char *au_record_check(const char *p, size_t n, json_t *o, audit_chain_t *c,
                                   char *why, size_t cap)
{
    json_t *seq = json_object_get(o, "seq");
    const char *prev = json_string_value(json_object_get(o, "prev"));
    if (!json_is_integer(seq))
        return "seq missing";
    if (json_integer_value(seq) != (json_int_t)c->next_seq) {
        snprintf(why, cap, "seq gap (found seq %" JSON_INTEGER_FORMAT ")",
                 json_integer_value(seq));
        return why;
    }
    if (!prev || strcmp(prev, c->prev) != 0)
        return "prev does not match the previous record";
    if (n < AUDIT_HASH_SUFFIX_LEN + 2 ||
        memcmp(p + n - AUDIT_HASH_SUFFIX_LEN, AU_HASH_MEMBER, strlen(AU_HASH_MEMBER)) != 0 ||
        !au_is_hex64(p + n - 66, 64) || p[n - 2] != '"' || p[n - 1] != '}')
        return "line does not end with the hash member";
    char h[65];
    audit_line_hash(h, c->prev, p, n - AUDIT_HASH_SUFFIX_LEN);
    if (memcmp(h, p + n - 66, 64) != 0)
        return "hash mismatch";
    memcpy(c->prev, h, sizeof h);
    c->next_seq++;
    return NULL;
}

const char *audit_record_line_check(const char *p, size_t n, audit_chain_t *chain, char *why,
                                    size_t cap)
{
    json_error_t jerr;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    const char *bad = !json_is_object(o)               ? "not valid JSON"
                      : json_object_get(o, "type")     ? "not a record"
                                                       : au_record_check(p, n, o, chain, why, cap);
    json_decref(o);
    return bad;
}

int audit_seg_check(const char *dir, uint32_t seg, const keyring_t *kr, bool allow_torn,
                    audit_chain_t *chain, audit_seg_info_t *info, tarn_err_t *err)
{
    char name[32], path[PATH_MAX], why[128];
    buf_t data = BUF_INIT;
    const char *bad = NULL;
    uint64_t line = 0;
    size_t pos = 0;
    int rc;
    memset(info, 0, sizeof *info);
    info->first_seq = chain->next_seq;
    audit_seg_name(name, sizeof name, seg);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    if ((rc = fs_read_all(path, &data, err)))
        goto done;
    while (pos < data.len) {
        const char *p = data.data + pos;
        const char *nl = memchr(p, '\n', data.len - pos);
        line++;
        if (!nl && allow_torn && !info->sealed) {
            info->torn = true;
            break;
        }
        if (!nl) {
            rc = TARN_ERR(err, TARN_ECONFLICT, "%s line %" PRIu64 ": incomplete final line "
                          "(no newline: truncated, or a write in progress)", name, line);
            goto done;
        }
        if (info->sealed) {
            rc = TARN_ERR(err, TARN_ECONFLICT, "%s line %" PRIu64 ": data after the digest",
                          name, line);
            goto done;
        }
        size_t n = (size_t)(nl - p);
        json_error_t jerr;
        json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
            json_decref(o);
            rc = TARN_ERR(err, TARN_ECONFLICT, "%s line %" PRIu64 " (seq %" PRIu64
                          "): not valid JSON", name, line, chain->next_seq);
            goto done;
        }
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, "recovery")) {
            json_decref(o);
            audit_recovery_t r;
            /* A recovery line re-anchors the chain; audit_verify has already matched it
             * against the segment it covers. */
            if (line != 1 || seg < 2) {
                rc = TARN_ERR(err, TARN_ECONFLICT, "%s line %" PRIu64 ": a recovery line "
                              "may only start a segment after the first", name, line);
                goto done;
            }
            if ((bad = audit_recovery_parse(p, n, kr, &r)) ||
                (r.segment != seg - 1 && (bad = "it names another segment"))) {
                rc = TARN_ERR(err, TARN_ECONFLICT, "%s recovery line: %s", name, bad);
                goto done;
            }
            chain->next_seq = r.resume_seq;
            memcpy(chain->prev, r.prev, sizeof chain->prev);
            info->first_seq = r.resume_seq;
            info->recovered = true;
        } else if (json_object_get(o, "type")) {
            json_decref(o);
            au_digest_t d;
            if ((bad = au_digest_parse(p, n, kr, &d))) {
                rc = TARN_ERR(err, TARN_ECONFLICT, "%s digest: %s", name, bad);
                goto done;
            }
            bad = d.segment != seg                         ? "segment number"
                  : d.count != info->records               ? "count"
                  : d.first_seq != info->first_seq         ? "first_seq"
                  : d.last_seq != chain->next_seq - 1      ? "last_seq"
                  : strcmp(d.last_hash, chain->prev) != 0  ? "last_hash"
                                                           : NULL;
            if (bad) {
                rc = TARN_ERR(err, TARN_ECONFLICT, "%s digest: %s does not match the records",
                              name, bad);
                goto done;
            }
            info->sealed = true;
        } else {
            uint64_t seq = chain->next_seq;
            bad = au_record_check(p, n, o, chain, why, sizeof why);
            json_decref(o);
            if (bad) {
                rc = TARN_ERR(err, TARN_ECONFLICT, "%s line %" PRIu64 " (seq %" PRIu64 "): %s",
                              name, line, seq, bad);
                goto done;
            }
            info->records++;
        }
        pos = (size_t)(nl - data.data) + 1;
        info->valid_len = pos;
    }
done:
    buf_free(&data);
    return rc;
}

const char *audit_signed_line_check(const keyring_t *kr, const char *line, size_t n,
                                    const char *again, const char *sig, const buf_t *canon)
{
    char sig64[92];
    uint8_t sigbin[64];
    if (strlen(again) != n || memcmp(again, line, n) != 0)
        return "not in canonical form";
    /* Re-encoding must give the same text: base64 has spare bits a flip could hide in. */
    if (strlen(sig) != 88 || hash_unb64(sigbin, sizeof sigbin, sig) != 64 ||
        (hash_b64(sig64, sigbin, sizeof sigbin), strcmp(sig64, sig) != 0))
        return "signature invalid";
    return keyring_verify(kr, canon->data, canon->len, sigbin) ? "signature invalid" : NULL;
}

int audit_seg_read_digest(const char *dir, uint32_t seg, const keyring_t *kr,
                          audit_chain_t *chain, tarn_err_t *err)
{
    char name[32], path[PATH_MAX], tail[4096];
    const char *bad = NULL;
    au_digest_t d;
    struct stat st;
    int rc = 0;
    audit_seg_name(name, sizeof name, seg);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return TARN_ERR(err, TARN_EINVAL, "audit path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "open %s: %s", path, strerror(errno));
    if (fstat(fd, &st)) {
        rc = TARN_ERR(err, TARN_EIO, "stat %s: %s", path, strerror(errno));
        goto done;
    }
    size_t n = st.st_size < (off_t)sizeof tail ? (size_t)st.st_size : sizeof tail;
    ssize_t r = pread(fd, tail, n, st.st_size - (off_t)n);
    if (r != (ssize_t)n) {
        rc = TARN_ERR(err, TARN_EIO, "read %s: %s", path, r < 0 ? strerror(errno) : "short");
        goto done;
    }
    if (n == 0 || tail[n - 1] != '\n') {
        rc = TARN_ERR(err, TARN_ECONFLICT, "%s: no digest at its end", name);
        goto done;
    }
    size_t start = n - 1;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    if ((bad = au_digest_parse(tail + start, n - 1 - start, kr, &d)) ||
        (d.segment != seg && (bad = "segment number does not match"))) {
        rc = TARN_ERR(err, TARN_ECONFLICT, "%s digest: %s", name, bad);
        goto done;
    }
    chain->next_seq = d.last_seq + 1;
    memcpy(chain->prev, d.last_hash, sizeof chain->prev);
done:
    close(fd);
    return rc;
}

void audit_gap_describe(char *out, size_t cap, const audit_gap_t *g)
{
    char name[32], rname[32], lost[96];
    audit_seg_name(name, sizeof name, g->segment);
    audit_seg_name(rname, sizeof rname, g->segment + 1);
    if (g->records_lost < 0)
        snprintf(lost, sizeof lost, "an unknown number of records lost (from seq %" PRIu64 ")",
                 g->lost_from);
    else if (g->records_lost == 0)
        snprintf(lost, sizeof lost, "no record lost");
    else
        snprintf(lost, sizeof lost, "%" PRId64 " record%s lost (seq %" PRIu64 "-%" PRIu64 ")",
                 g->records_lost, g->records_lost == 1 ? "" : "s", g->lost_from,
                 g->lost_from + (uint64_t)g->records_lost - 1);
    snprintf(out, cap, "%s bytes %" PRIu64 "-%" PRIu64 ": %s, %" PRIu64 " kept before, %" PRIu64
             " after; recovered in %s", name, g->byte_start, g->byte_end, lost, g->kept_before,
             g->kept_after, rname);
}

/* Segment seg is covered by recovery line want (from segment seg + 1): recomputes the
 * reading of seg from chain and requires every field to match. */
static int au_verify_recovered(const char *dir, uint32_t seg, const keyring_t *kr,
                               const audit_chain_t *chain, const audit_recovery_t *want,
                               tarn_err_t *err)
{
    audit_recovery_t got;
    audit_chain_t c = *chain;
    audit_seg_info_t info;
    char name[32];
    bool physical;
    int rc;
    audit_seg_name(name, sizeof name, seg);
    if ((rc = audit_recovery_analyze(dir, seg, kr, chain, &got, &physical, err)))
        return rc;
    if (got.byte_start != want->byte_start) {
        /* The kept prefix changed: the plain check names the first bad line. */
        if (audit_seg_check(dir, seg, kr, true, &c, &info, err) == TARN_ECONFLICT)
            return TARN_ECONFLICT;
        return TARN_ERR(err, TARN_ECONFLICT, "%s: damage now starts at byte %" PRIu64 ", the "
                        "recovery line says %" PRIu64, name, got.byte_start, want->byte_start);
    }
    if (got.size != want->size || strcmp(got.sha256, want->sha256) != 0)
        return TARN_ERR(err, TARN_ECONFLICT, "%s: changed since its recovery (size or sha256 "
                        "differs from the recovery line)", name);
    const char *bad = got.first_seq != want->first_seq             ? "first_seq"
                      : got.kept_before != want->kept_before       ? "kept_before"
                      : got.byte_end != want->byte_end             ? "byte_end"
                      : got.records_lost != want->records_lost     ? "records_lost"
                      : got.kept_after != want->kept_after         ? "kept_after"
                      : got.resume_seq != want->resume_seq         ? "resume_seq"
                      : strcmp(got.prev, want->prev) != 0          ? "prev"
                      : !physical                                  ? "damage"
                                                                   : NULL;
    if (bad)
        return TARN_ERR(err, TARN_ECONFLICT, "%s: recovery line %s does not match the segment",
                        name, bad);
    return 0;
}

int audit_verify_flags(const char *audit_dir, const keyring_t *kr, unsigned flags,
                       audit_verify_report_t *rep, tarn_err_t *err)
{
    audit_verify_report_t *local = NULL;
    uint32_t *segs = NULL;
    size_t n = 0;
    audit_chain_t chain;
    audit_seg_info_t info;
    audit_recovery_t rec;
    char name[32], gap[256];
    int rc;
    if (!rep && !(rep = local = malloc(sizeof *rep)))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    memset(rep, 0, sizeof *rep);
    audit_chain_init(&chain);
    if ((rc = audit_seg_list(audit_dir, &segs, &n, err)))
        goto done;
    /* A missing segment first: no recovery line ever covers one, and it explains the
     * damage it leaves around it (an uncovered segment before it). */
    for (size_t i = 0; i < n; i++) {
        if (segs[i] != i + 1) {
            audit_seg_name(name, sizeof name, (uint32_t)(i + 1));
            rc = TARN_ERR(err, TARN_ECONFLICT, "%s: missing (segments must run from 1 without "
                          "gaps)", name);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        rc = i + 1 < n ? audit_recovery_read(audit_dir, segs[i] + 1, kr, &rec, err) : 0;
        if (rc < 0)
            goto done;
        if (rc == 1) {
            if ((rc = au_verify_recovered(audit_dir, segs[i], kr, &chain, &rec, err)))
                goto done;
            audit_gap_t g = {segs[i], rec.byte_start, rec.byte_end, rec.records_lost,
                             rec.first_seq + rec.kept_before, rec.kept_before, rec.kept_after};
            if (rep->ngaps < AUDIT_GAPS_MAX)
                rep->gaps[rep->ngaps] = g;
            rep->ngaps++;
            rep->records += rec.kept_before + rec.kept_after;
            rep->segments++;
            chain.next_seq = rec.resume_seq; /* as the recovery line sets it */
            memcpy(chain.prev, rec.prev, sizeof chain.prev);
            continue;
        }
        if ((rc = audit_seg_check(audit_dir, segs[i], kr, false, &chain, &info, err)))
            goto done;
        rep->records += info.records;
        rep->segments++;
        if (!info.sealed && i + 1 != n) {
            audit_seg_name(name, sizeof name, segs[i]);
            rc = TARN_ERR(err, TARN_ECONFLICT, "%s: no digest (only the last segment may be "
                          "unsealed)", name);
            goto done;
        }
    }
    if ((flags & AUDIT_VERIFY_STRICT) && rep->ngaps) {
        audit_gap_describe(gap, sizeof gap, &rep->gaps[0]);
        rc = TARN_ERR(err, TARN_ECONFLICT, "%zu gap%s (strict): %s", rep->ngaps,
                      rep->ngaps == 1 ? "" : "s", gap);
    }
done:
    if (rc == TARN_ECONFLICT && err)
        snprintf(rep->first_bad, sizeof rep->first_bad, "%s", err->msg);
    else if (rc == TARN_ECONFLICT)
        snprintf(rep->first_bad, sizeof rep->first_bad, "audit log damaged");
    free(segs);
    free(local);
    return rc;
}

int audit_verify(const char *audit_dir, const keyring_t *kr, audit_verify_report_t *rep,
                 tarn_err_t *err)
{
    return audit_verify_flags(audit_dir, kr, 0, rep, err);
}

int audit_tail(const char *audit_dir, size_t n, audit_tail_cb cb, void *ctx, tarn_err_t *err)
{
    uint32_t *segs = NULL;
    size_t nseg = 0, have = 0, cap = 0;
    char **lines = NULL; /* newest first */
    buf_t data = BUF_INIT;
    char path[PATH_MAX], name[32];
    int rc = audit_seg_list(audit_dir, &segs, &nseg, err);
    if (rc)
        goto done;
    for (size_t i = nseg; i-- > 0 && have < n;) {
        audit_seg_name(name, sizeof name, segs[i]);
        snprintf(path, sizeof path, "%s/%s", audit_dir, name);
        buf_reset(&data);
        if ((rc = fs_read_all(path, &data, err)))
            goto done;
        size_t end = data.len;
        while (end && data.data[end - 1] != '\n')
            end--; /* a torn line being written is not a record yet */
        while (end && have < n) {
            size_t start = end - 1;
            while (start && data.data[start - 1] != '\n')
                start--;
            size_t len = end - 1 - start;
            const char *p = data.data + start;
            end = start;
            if (len < 8 || memcmp(p, "{\"seq\":", 7) != 0 || memchr(p, '\0', len))
                continue; /* digests, recovery lines, and the debris of crash damage */
            json_error_t jerr;
            json_t *o = json_loadb(p, len, 0, &jerr);
            json_decref(o);
            if (!o)
                continue;
            if (have == cap) {
                size_t ncap = cap ? 2 * cap : 64;
                char **q = realloc(lines, ncap * sizeof *q);
                if (!q) {
                    rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                    goto done;
                }
                lines = q;
                cap = ncap;
            }
            if (!(lines[have] = strndup(p, len))) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                goto done;
            }
            have++;
        }
    }
    for (size_t i = have; i-- > 0;)
        if ((rc = cb(ctx, lines[i])))
            break;
done:
    for (size_t i = 0; i < have; i++)
        free(lines[i]);
    free(lines);
    free(segs);
    buf_free(&data);
    return rc;
}
