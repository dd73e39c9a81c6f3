/* Decoder of PostgreSQL's logical replication messages (the built-in pgoutput plugin,
 * protocol version 1): what a walsender sends inside XLogData for a slot started with
 * proto_version '1'. Pure parsing, no I/O: the PostgreSQL source feeds it each message
 * and turns the decoded changes into change-file rows. Relations are announced before
 * the first change that uses them (and again after a schema change), so the decoder keeps
 * them in a map the caller owns (pgoutput_rels_t). Every malformed message is refused
 * with the offset and what was expected; nothing is guessed. */
#ifndef TARN_INGEST_SOURCES_PGOUTPUT_H
#define TARN_INGEST_SOURCES_PGOUTPUT_H

#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
#define PGOUTPUT_EPOCH_US INT64_C(946684800000000)

typedef struct {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    bool key; /* part of the replica identity (the key an update or delete names) */
} pgoutput_col_t;

typedef struct {
    uint32_t oid;
    char *nspname; /* "" for pg_catalog */
    char *relname;
    char replident; /* 'd' default (primary key), 'n' nothing, 'f' full, 'i' index */
    int ncols;
    pgoutput_col_t *cols;
} pgoutput_rel_t;

/* One column value of a tuple. */
typedef enum {
    PGOUTPUT_NULL,      /* 'n' */
    PGOUTPUT_UNCHANGED, /* 'u': an unchanged TOASTed value the message leaves out */
    PGOUTPUT_TEXT,      /* 't': the value in PostgreSQL's text output format */
    PGOUTPUT_BINARY,    /* 'b': the value in its binary send format */
} pgoutput_kind_t;

typedef struct {
    pgoutput_kind_t kind;
    const char *data; /* TEXT and BINARY: len bytes (text is also NUL-terminated) */
    uint32_t len;
} pgoutput_value_t;

typedef struct {
    int ncols;
    pgoutput_value_t *values;
} pgoutput_tuple_t;

typedef enum {
    PGOUTPUT_BEGIN = 'B',
    PGOUTPUT_COMMIT = 'C',
    PGOUTPUT_ORIGIN = 'O',
    PGOUTPUT_RELATION = 'R',
    PGOUTPUT_TYPE = 'Y',
    PGOUTPUT_INSERT = 'I',
    PGOUTPUT_UPDATE = 'U',
    PGOUTPUT_DELETE = 'D',
    PGOUTPUT_TRUNCATE = 'T',
    PGOUTPUT_MESSAGE = 'M',
} pgoutput_tag_t;

/* One decoded message; pointers live in the arena given to pgoutput_decode (and, for
 * rel, in the relation map). */
typedef struct {
    pgoutput_tag_t tag;
    /* BEGIN: final_lsn, commit_ts_us (Unix microseconds), xid.
     * COMMIT: commit_lsn, end_lsn, commit_ts_us. */
    uint64_t final_lsn, commit_lsn, end_lsn;
    int64_t commit_ts_us;
    uint32_t xid;
    /* RELATION (the relation as now announced), INSERT, UPDATE, DELETE. */
    const pgoutput_rel_t *rel;
    /* INSERT and UPDATE: the new row. UPDATE: old is the old key ('K') or the whole old
     * row ('O', REPLICA IDENTITY FULL), or ncols 0 when the key did not change.
     * DELETE: old is the key or the whole old row. */
    pgoutput_tuple_t newtup, old;
    char old_kind; /* 'K', 'O' or 0 */
    /* TRUNCATE: the relations, and options (1 CASCADE, 2 RESTART IDENTITY). */
    int nrels;
    const pgoutput_rel_t **rels;
    uint8_t truncate_options;
    /* ORIGIN: name. TYPE: type oid, namespace and name. MESSAGE: prefix and content. */
    const char *name, *nspname;
    uint32_t type_oid;
    const char *content;
    uint32_t content_len;
    bool transactional;
} pgoutput_msg_t;

/* The relations announced so far, by oid. */
typedef struct pgoutput_rels pgoutput_rels_t;
pgoutput_rels_t *pgoutput_rels_create(void); /* NULL on out of memory */
void pgoutput_rels_free(pgoutput_rels_t *r);
const pgoutput_rel_t *pgoutput_rels_get(const pgoutput_rels_t *r, uint32_t oid);

/* Decodes one message of n bytes. A RELATION message replaces the map's entry for its
 * oid; a change naming a relation that was never announced is TARN_EINVAL. */
int pgoutput_decode(pgoutput_rels_t *rels, const uint8_t *p, size_t n, pgoutput_msg_t *out,
                    arena_t *a, tarn_err_t *err);

/* "16/B374D848": an LSN as PostgreSQL prints it (out holds at least 18 bytes). */
void pgoutput_lsn_format(char *out, size_t cap, uint64_t lsn);
/* Parses that form; false when s is not one. */
bool pgoutput_lsn_parse(const char *s, uint64_t *lsn);

#endif
