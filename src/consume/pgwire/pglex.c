/* SQL text as PostgreSQL's scanner reads it; see pglex.h. */
#include "consume/pgwire/pglex.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>

static pglex_kind_t kind_of(const PgQuery__ScanToken *t, const char *text)
{
    if (t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD)
        return PGLEX_WORD;
    switch (t->token) {
    case PG_QUERY__TOKEN__IDENT:
        return text[t->start] == '"' ? PGLEX_QIDENT : PGLEX_WORD;
    case PG_QUERY__TOKEN__UIDENT: /* U&"..." */
        return PGLEX_QIDENT;
    case PG_QUERY__TOKEN__SCONST:
    case PG_QUERY__TOKEN__USCONST:
    case PG_QUERY__TOKEN__BCONST:
    case PG_QUERY__TOKEN__XCONST:
        return PGLEX_STRING;
    case PG_QUERY__TOKEN__ICONST:
    case PG_QUERY__TOKEN__FCONST:
        return PGLEX_NUMBER;
    case PG_QUERY__TOKEN__PARAM:
        return PGLEX_PARAM;
    case PG_QUERY__TOKEN__TYPECAST:
    case PG_QUERY__TOKEN__DOT_DOT:
    case PG_QUERY__TOKEN__COLON_EQUALS:
        return PGLEX_PUNCT;
    default:
        /* Single characters are their own tokens: the operator characters among them
         * are operators, the others punctuation. */
        if (t->token < 256)
            return strchr("+-*/<>=%^", (char)t->token) ? PGLEX_OP : PGLEX_PUNCT;
        return PGLEX_OP;
    }
}

/* Appends the tokens of text (NUL-terminated), from offset base in the caller's text.
 * *fault gets where the scanner gave up, or -1. */
static int scan_into(const char *text, size_t base, pglex_tok_t **toks, size_t *n, size_t *cap,
                     long *fault, tarn_err_t *err)
{
    PgQueryScanResult r = pg_query_scan(text);
    int rc = 0;
    *fault = -1;
    if (r.error) {
        /* cursorpos counts from 1; 0 means nowhere in particular. */
        *fault = r.error->cursorpos > 0 ? r.error->cursorpos - 1 : 0;
        pg_query_free_scan_result(r);
        return 0;
    }
    PgQuery__ScanResult *s =
        pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
    if (!s) {
        pg_query_free_scan_result(r);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_tokens; i++) {
        const PgQuery__ScanToken *t = s->tokens[i];
        if (t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT)
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 32;
            pglex_tok_t *more = realloc(*toks, c * sizeof *more);
            if (!more) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                break;
            }
            *toks = more;
            *cap = c;
        }
        (*toks)[(*n)++] = (pglex_tok_t){kind_of(t, text), base + (size_t)t->start,
                                        (size_t)(t->end - t->start)};
    }
    pg_query__scan_result__free_unpacked(s, NULL);
    pg_query_free_scan_result(r);
    return rc;
}

int pglex_scan(const char *sql, size_t len, pglex_tok_t **toks, size_t *n, tarn_err_t *err)
{
    size_t cap = 0;
    long fault;
    *toks = NULL;
    *n = 0;
    /* The scanner reads NUL-terminated text; a statement is a span of a longer one. */
    char *text = malloc(len + 1);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    memcpy(text, sql, len);
    text[len] = '\0';
    int rc = scan_into(text, 0, toks, n, &cap, &fault, err);
    if (!rc && fault >= 0) {
        /* The text up to the fault scans; the fault's token runs to the end. */
        size_t at = (size_t)fault < len ? (size_t)fault : len;
        text[at] = '\0';
        long again;
        rc = scan_into(text, 0, toks, n, &cap, &again, err);
        if (!rc && again >= 0)
            *n = 0, at = 0; /* cannot happen: a prefix before a fault scans */
        while (at < len && (sql[at] == ' ' || sql[at] == '\t' || sql[at] == '\n' || sql[at] == '\r'))
            at++;
        if (!rc && at < len) {
            pglex_tok_t *more = realloc(*toks, (*n + 1) * sizeof *more);
            if (!more) {
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            } else {
                *toks = more;
                more[(*n)++] = (pglex_tok_t){sql[at] == '"' ? PGLEX_QIDENT : PGLEX_STRING, at,
                                             len - at};
            }
        }
    }
    free(text);
    if (rc) {
        free(*toks);
        *toks = NULL;
        *n = 0;
    }
    return rc;
}
