/* Hash-chained, signed audit log in <data>/audit/: one JSON line per request in segments
 * seg-000001.jsonl, seg-000002.jsonl, ..., each sealed by an Ed25519-signed digest line.
 * Any change to a sealed segment, and any change short of dropping whole trailing lines to
 * the segment being written, is detected by audit_verify. Not detected without an outside
 * anchor: removing whole segments at the end of the log, or rewriting by someone who can
 * read keys/ (the signing key lives beside the log).
 *
 * Format, precise enough for an external verifier:
 *   Record line: {"seq":N,"time":"2026-11-25T18:56:30.123Z","request_id":S,"principal":S,
 *     "source":S,"action":S,"resource":S,"outcome":S,"reason":S|null,"status":N,
 *     "bytes_in":N,"bytes_out":N,"prev":"<64 hex>","hash":"<64 hex>"}\n
 *   (compact JSON, no spaces, keys in that order; missing strings are null, a NULL
 *   principal is "anonymous"; strings are cut at 4096 bytes and invalid UTF-8 bytes become
 *   U+FFFD). A line always ends with the 75 bytes  ,"hash":"<64 lowercase hex>"}  and
 *   BODY is the line without them and without the '\n', followed by "}" (i.e. the object
 *   without its last member). hash = lowercase hex of SHA-256(prev + "\n" + BODY).
 *   seq starts at 1 and rises by 1 across segments; prev is the previous record's hash
 *   ("0"*64 for seq 1). The chain skips digest lines: the first record of segment k+1
 *   has prev = the last record hash of segment k (= that digest's last_hash).
 *   Digest line (last line of a sealed segment):
 *   {"type":"digest","segment":K,"first_seq":N,"last_seq":N,"count":N,"last_hash":"<hex>",
 *    "time":"<iso ms>","sig":"<base64 of 64 bytes>"}\n  (compact, this exact key order)
 *   sig = Ed25519 (keys/audit.pub) over the ASCII text
 *   "tarn-audit-digest-v1\nsegment=K\nfirst_seq=N\nlast_seq=N\ncount=N\nlast_hash=H\ntime=T\n"
 *   (decimal numbers, values exactly as in the JSON). Only the highest-numbered segment
 *   may lack a digest (it is being written, or the process died; audit_open seals it),
 *   or a segment whose damage a recovery line covers.
 *
 * Recovery. Appends are fdatasync'ed at most once a second, so a power failure can leave
 * zeros or stale bytes where unsynced lines were, with later lines intact. audit_open does
 * not touch such a segment K: it starts segment K+1 whose first line is a signed recovery
 * line (written to seg-<K+1>.jsonl.tmp, fsynced, renamed, directory fsynced, so a crash
 * during recovery leaves either no trace or the finished line; the tmp file is never a
 * segment and is overwritten by the next attempt). Segment K is read as
 *   [0, byte_start)        the kept prefix: complete record lines chained as usual
 *                          (kept_before of them, the first with seq first_seq)
 *   [byte_start, byte_end) the damaged range: not read as records
 *   [byte_end, last '\n']  the kept tail: record lines, the first starting with {"seq":
 *                          (kept_after of them), each with a valid hash over its own prev
 *                          and linked to the one before; its first record's prev cannot be
 *                          linked across the gap, so the tail is proven only as "unchanged
 *                          since recovery" (sha256 below), not as the chain's continuation
 *   rest                   an incomplete final line, ignored as after any crash.
 * byte_end is the lowest offset >= byte_start at which such a tail starts with a seq above
 * the prefix's last seq (the file size when there is none). Recovery happens only when the
 * damaged range holds physical damage: a NUL byte or a piece (between newlines) that is
 * not a JSON object. A break made only of well-formed lines (a rewritten, removed or
 * reordered record) is tampering, not a crash: audit_open refuses it (TARN_ECONFLICT).
 *   Recovery line (first line of segment K+1):
 *   {"type":"recovery","segment":K,"first_seq":N,"kept_before":N,"byte_start":N,
 *    "byte_end":N,"records_lost":N|null,"kept_after":N,"resume_seq":N,"prev":"<hex>",
 *    "size":N,"sha256":"<hex>","time":"<iso ms>","sig":"<base64 of 64 bytes>"}\n
 *   (compact, this exact key order). records_lost = seq of the first tail record minus the
 *   seq after the prefix, null ("unknown") without a tail. resume_seq and prev are the
 *   seq after, and the hash of, the last kept record (tail, else prefix, else the chain
 *   before K); records of segment K+1 continue from them (the chain skips recovery lines
 *   like digests; with records_lost null, seqs of lost records may be reused). size and
 *   sha256 are the length and SHA-256 (lowercase hex) of the whole of segment K as found,
 *   so any later change to it shows. sig = Ed25519 (keys/audit.pub) over
 *   "tarn-audit-recovery-v1\nsegment=K\nfirst_seq=N\nkept_before=N\nbyte_start=N\n"
 *   "byte_end=N\nrecords_lost=N|unknown\nkept_after=N\nresume_seq=N\nprev=H\nsize=N\n"
 *   "sha256=H\ntime=T\n". The digest sealing K+1 counts its records only (first_seq =
 *   resume_seq; count 0 if none). audit_verify recomputes every field from segment K and
 *   reports the range as a gap; it passes unless strict.
 * Sealed data is never recovered: a sealed segment was fsynced before its digest, so a
 * power failure cannot damage it, and damage there (or a missing segment) is media failure
 * or tampering that a signed recovery line would launder. audit_open then logs a warning
 * and continues the chain from the newest signed state it can read; audit_verify keeps
 * failing on it. */
#ifndef TARN_GOVERN_AUDIT_H
#define TARN_GOVERN_AUDIT_H

#include "govern/keyring.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t time_ms;        /* 0 means now */
    const char *request_id;
    const char *principal;  /* NULL -> "anonymous" */
    const char *source;     /* ip:port */
    const char *action;     /* "s3:PutObject", "iam:CreateUser" */
    const char *resource;   /* "raw/sales/orders.csv" */
    const char *outcome;    /* "allow", "deny", "error" */
    const char *reason;     /* deciding rule or error code; may be NULL */
    int status;
    uint64_t bytes_in, bytes_out;
} audit_record_t;

typedef struct audit audit_t;

/* Opens the log for appending: creates audit_dir (0700) if needed and takes an exclusive
 * flock on it (TARN_EBUSY if another process holds it). If the last segment is unsealed
 * (crash), a torn final line is truncated away, the rest of its chain is checked and it is
 * sealed; appends then go to a new segment, created at the first append. Crash damage in
 * it (see Recovery above) is covered by a recovery line starting the next segment, which
 * appends then continue. A damaged sealed segment, or a missing or damaged segment before
 * the last, is logged as a warning and the chain continues from the newest signed state.
 * TARN_ECONFLICT only when the unsealed last segment holds a rewritten or removed record
 * (tampering, not crash damage) or no chain state can be found at all. kr is borrowed and
 * must outlive the audit_t. */
int audit_open(audit_t **out, const char *audit_dir, keyring_t *kr, tarn_err_t *err);

/* Size after which a segment is sealed and a new one started (default 64 MiB). */
void audit_set_segment_limit(audit_t *a, uint64_t bytes);

/* Appends one record; thread-safe, one O_APPEND write() per record. The record is in the
 * page cache on return (survives kill -9) but is fdatasync'ed at most once per second by a
 * later append and at close, so a power loss can drop about the last second. If the write
 * fails the partial line is cut off again and TARN_EIO returned (the caller decides whether
 * to fail the request: fail closed). */
int audit_append(audit_t *a, const audit_record_t *rec, tarn_err_t *err);

/* fdatasyncs the current segment if records were appended since the last sync; for a
 * background worker, so a quiet server also gets its last records onto disk. */
int audit_sync(audit_t *a, tarn_err_t *err);

/* Calls fn(ctx) after each append that leaves records unsynced, so a worker can sleep
 * until there is something for audit_sync; NULL fn: no more calls (once this returns).
 * fn runs under the log's lock: it must be quick and must not use a (a worker_wake). */
void audit_on_unsynced(audit_t *a, void (*fn)(void *ctx), void *ctx);

/* Seals the current segment with a digest, fsyncs, releases the lock and frees. NULL ok. */
void audit_close(audit_t *a);

/* A damaged range covered by a valid recovery line. */
typedef struct {
    uint32_t segment;      /* the damaged segment; its recovery line starts segment + 1 */
    uint64_t byte_start, byte_end;
    int64_t records_lost;  /* -1: unknown */
    uint64_t lost_from;    /* seq of the first lost record */
    uint64_t kept_before, kept_after;
} audit_gap_t;

enum { AUDIT_GAPS_MAX = 32 };

typedef struct {
    uint64_t records;    /* records verified, kept records of damaged segments included */
    uint64_t segments;
    size_t ngaps;        /* gaps found; the first AUDIT_GAPS_MAX are in gaps[] */
    audit_gap_t gaps[AUDIT_GAPS_MAX];
    char first_bad[512]; /* "" when intact */
} audit_verify_report_t;

/* Checks every segment: JSON, seq continuity, prev links, hashes, digests (values and
 * signature), and that each recovery line matches the segment it covers exactly. 0 if
 * intact apart from the gaps listed in rep (each covered by a signed recovery line);
 * TARN_ECONFLICT naming the first problem in rep->first_bad and err->msg, e.g.
 * "seg-000001.jsonl line 42 (seq 42): hash mismatch", "seg-000001.jsonl digest: signature
 * invalid", "seg-000002.jsonl: missing ..."; TARN_ENOTFOUND if audit_dir is missing.
 * Safe while a writer appends (a record being written at that very instant can show as an
 * "incomplete final line"; re-run). rep may be NULL. */
int audit_verify(const char *audit_dir, const keyring_t *kr, audit_verify_report_t *rep,
                 tarn_err_t *err);

enum { AUDIT_VERIFY_STRICT = 1 }; /* any gap is a failure (TARN_ECONFLICT naming it) */
int audit_verify_flags(const char *audit_dir, const keyring_t *kr, unsigned flags,
                       audit_verify_report_t *rep, tarn_err_t *err);

/* One line describing a gap, e.g. "seg-000003.jsonl bytes 1200-1650: 3 records lost (seq
 * 40-42), 5 kept after; recovered in seg-000004.jsonl". */
void audit_gap_describe(char *out, size_t cap, const audit_gap_t *g);

/* Calls cb with the last n record lines (no digests, no '\n'), oldest first; stops early and
 * returns cb's value if it is not 0. The line is borrowed for the call only. */
typedef int (*audit_tail_cb)(void *ctx, const char *json_line);
int audit_tail(const char *audit_dir, size_t n, audit_tail_cb cb, void *ctx, tarn_err_t *err);

/* ---- Internal: shared by audit.c and audit_verify.c only; not for other modules. ---- */

enum { AUDIT_HASH_SUFFIX_LEN = 75 }; /* ,"hash":"<64 hex>"} */

typedef struct {
    uint64_t next_seq;
    char prev[65]; /* hash of the last record, "0"*64 before the first */
} audit_chain_t;

typedef struct {
    uint64_t records;   /* record lines in the segment */
    uint64_t first_seq; /* seq of its first record (the chain's next_seq if none) */
    size_t valid_len;   /* bytes up to the end of the last complete line */
    bool sealed;        /* ends with a valid digest */
    bool torn;          /* a final line without '\n' follows valid_len */
    bool recovered;     /* starts with a recovery line (covering segment seg - 1) */
} audit_seg_info_t;

/* A recovery line's fields (see Recovery above); records_lost -1 is null. */
typedef struct {
    uint32_t segment;
    uint64_t first_seq, kept_before, byte_start, byte_end;
    int64_t records_lost;
    uint64_t kept_after, resume_seq, size;
    char prev[65], sha256[65];
} audit_recovery_t;

void audit_chain_init(audit_chain_t *c);
void audit_seg_name(char *out, size_t cap, uint32_t seg);
/* Segment numbers present in dir, ascending; *segs is caller-freed. */
int audit_seg_list(const char *dir, uint32_t **segs, size_t *n, tarn_err_t *err);
/* Checks segment seg against chain (advanced past its records). A torn final line is an
 * error unless allow_torn (then info->torn is set). A missing digest is not an error here:
 * info->sealed tells. TARN_ECONFLICT with the precise problem in err->msg. */
int audit_seg_check(const char *dir, uint32_t seg, const keyring_t *kr, bool allow_torn,
                    audit_chain_t *chain, audit_seg_info_t *info, tarn_err_t *err);
/* Reads the digest that ends segment seg and sets chain to continue after it. */
int audit_seg_read_digest(const char *dir, uint32_t seg, const keyring_t *kr,
                          audit_chain_t *chain, tarn_err_t *err);
/* hex SHA-256(prev + "\n" + head + "}"): head is the record JSON minus its final "}". */
void audit_line_hash(char out[65], const char *prev, const char *head, size_t n);
/* The last checks of a signed line (a digest, a recovery line) of n bytes whose fields
 * were read back into `again` (the line as this code writes it) and `canon` (the text
 * its signature covers): the line is exactly `again`, sig is the canonical base64 of 64
 * bytes, and it verifies over canon. NULL when all hold, else what failed. */
const char *audit_signed_line_check(const keyring_t *kr, const char *line, size_t n,
                                    const char *again, const char *sig, const buf_t *canon);
/* Appends the signed digest line (with '\n') sealing segment seg, whose records are
 * first_seq..chain->next_seq-1. */
int audit_digest_make(buf_t *out, const keyring_t *kr, uint32_t seg, uint64_t first_seq,
                      uint64_t count, const audit_chain_t *chain, int64_t time_ms,
                      tarn_err_t *err);
/* Checks one record line (no '\n') against chain and advances it; NULL when good, else
 * what is wrong (possibly written into why). */
const char *audit_record_line_check(const char *p, size_t n, audit_chain_t *chain, char *why,
                                    size_t cap);

/* audit_recovery.c. Reads segment seg (chain: the state before it, unless seg starts with
 * a recovery line) as the Recovery rules say and fills r (time and sig aside). *physical tells whether the damaged range holds
 * physical damage. 0, or TARN_EIO / TARN_ENOMEM. */
int audit_recovery_analyze(const char *dir, uint32_t seg, const keyring_t *kr,
                           const audit_chain_t *chain, audit_recovery_t *r, bool *physical,
                           tarn_err_t *err);
/* Appends the signed recovery line (with '\n'). */
int audit_recovery_make(buf_t *out, const keyring_t *kr, const audit_recovery_t *r,
                        int64_t time_ms, tarn_err_t *err);
/* Parses and authenticates a recovery line (no '\n'); NULL when good, else what is wrong. */
const char *audit_recovery_parse(const char *line, size_t n, const keyring_t *kr,
                                 audit_recovery_t *r);
/* Whether segment seg starts with a recovery line: 1 (r filled), 0 (no, or no complete
 * first line, or no such file), TARN_ECONFLICT if it is one but does not authenticate. */
int audit_recovery_read(const char *dir, uint32_t seg, const keyring_t *kr,
                        audit_recovery_t *r, tarn_err_t *err);

#endif
