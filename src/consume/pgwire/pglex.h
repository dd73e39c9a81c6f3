/* PostgreSQL's lexical rules, from PostgreSQL 15's own scanner (libpg_query): what the
 * protocol's statement splitting and session commands (pgsql.c) and the dialect's text
 * rewrite (pgdialect.c) read SQL text as, so quotes, dollar quotes, escapes and nested
 * comments are never told apart by hand. */
#ifndef TARN_CONSUME_PGWIRE_PGLEX_H
#define TARN_CONSUME_PGWIRE_PGLEX_H

#include "util/err.h"

#include <stddef.h>

typedef enum {
    PGLEX_WORD,   /* a keyword or an unquoted name */
    PGLEX_QIDENT, /* a "quoted name" */
    PGLEX_STRING, /* '...', E'...', $tag$...$tag$, B'...', X'...' */
    PGLEX_NUMBER,
    PGLEX_PARAM, /* $1 */
    PGLEX_OP,    /* an operator: + = ~ !~* ... */
    PGLEX_PUNCT, /* ( ) [ ] , ; . : :: .. := */
} pglex_kind_t;

typedef struct {
    pglex_kind_t kind;
    size_t at, len; /* the token's bytes in the text */
} pglex_tok_t;

/* The tokens of sql[0..len), comments left out: *toks (caller frees) gets *n of them. Text
 * the scanner refuses (an unterminated quote or comment) is scanned up to the fault, and
 * the rest is one last STRING token (QIDENT when it opens with '"'), as the engine refuses
 * it anyway. TARN_ENOMEM only. */
int pglex_scan(const char *sql, size_t len, pglex_tok_t **toks, size_t *n, tarn_err_t *err);

#endif
