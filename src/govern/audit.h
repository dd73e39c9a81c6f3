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
 *   may lack a digest (it is being written, or the process died; audit_open seals it). */
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
 * sealed; appends then go to a new segment, created at the first append. TARN_ECONFLICT if
 * that segment or the previous digest is damaged (run audit_verify; move the damaged file
 * aside to start a new chain). kr is borrowed and must outlive the audit_t. */
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
 * periodic timer, so a quiet server also gets its last records onto disk. */
int audit_sync(audit_t *a, tarn_err_t *err);

/* Seals the current segment with a digest, fsyncs, releases the lock and frees. NULL ok. */
void audit_close(audit_t *a);

typedef struct {
    uint64_t records;
    uint64_t segments;
    char first_bad[512]; /* "" when intact */
} audit_verify_report_t;

/* Checks every segment: JSON, seq continuity, prev links, hashes, digests (values and
 * signature). 0 if intact; TARN_ECONFLICT naming the first problem in rep->first_bad and
 * err->msg, e.g. "seg-000001.jsonl line 42 (seq 42): hash mismatch",
 * "seg-000001.jsonl digest: signature invalid"; TARN_ENOTFOUND if audit_dir is missing.
 * Safe while a writer appends (a record being written at that very instant can show as an
 * "incomplete final line"; re-run). rep may be NULL. */
int audit_verify(const char *audit_dir, const keyring_t *kr, audit_verify_report_t *rep,
                 tarn_err_t *err);

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
} audit_seg_info_t;

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
/* Appends the signed digest line (with '\n') sealing segment seg, whose records are
 * first_seq..chain->next_seq-1. */
int audit_digest_make(buf_t *out, const keyring_t *kr, uint32_t seg, uint64_t first_seq,
                      uint64_t count, const audit_chain_t *chain, int64_t time_ms,
                      tarn_err_t *err);

#endif
