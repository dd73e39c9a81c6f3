/* Statement splitting and session-command parsing for the PostgreSQL edge; see pgsql.h.
 * The text is read as PostgreSQL's own scanner reads it (pglex.h); the commands are read
 * from its tokens. */
#include "consume/pgwire/pgsql.h"
#include "consume/pgwire/pglex.h"
#include "consume/pgwire/pgtype.h"
#include "util/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    TOK_END,
    TOK_WORD,
    TOK_QIDENT,
    TOK_STRING,
    TOK_NUMBER,
    TOK_PARAM,
    TOK_OP
} tok_kind_t;

typedef struct {
    tok_kind_t kind;
    const char *s; /* the token's text in the statement */
    size_t len;
} tok_t;

/* A statement's tokens and the next one to read; copied to look ahead. */
typedef struct {
    const char *text, *end;
    const pglex_tok_t *toks;
    size_t n, i;
} scan_t;

static int scan_begin(scan_t *s, const char *stmt, size_t len, tarn_err_t *err)
{
    pglex_tok_t *toks;
    int rc = pglex_scan(stmt, len, &toks, &s->n, err);
    s->text = stmt;
    s->end = stmt + len;
    s->toks = toks;
    s->i = 0;
    return rc;
}

static void scan_end(scan_t *s)
{
    free((void *)s->toks);
}

static tok_t next_tok(scan_t *s)
{
    if (s->i == s->n)
        return (tok_t){TOK_END, s->end, 0};
    const pglex_tok_t *t = &s->toks[s->i++];
    static const tok_kind_t kinds[] = {
        [PGLEX_WORD] = TOK_WORD,     [PGLEX_QIDENT] = TOK_QIDENT, [PGLEX_STRING] = TOK_STRING,
        [PGLEX_NUMBER] = TOK_NUMBER, [PGLEX_PARAM] = TOK_PARAM,   [PGLEX_OP] = TOK_OP,
        [PGLEX_PUNCT] = TOK_OP,
    };
    return (tok_t){kinds[t->kind], s->text + t->at, t->len};
}

/* Where the next token starts (the end when none is left). */
static const char *scan_rest(const scan_t *s)
{
    return s->i < s->n ? s->text + s->toks[s->i].at : s->end;
}

static bool is_word(const tok_t *t, const char *w)
{
    return t->kind == TOK_WORD && strlen(w) == t->len && !strncasecmp(t->s, w, t->len);
}

static bool is_op(const tok_t *t, char c)
{
    return t->kind == TOK_OP && t->len == 1 && *t->s == c;
}

int pgsql_split(const char *sql, pgsql_stmt_t **out, size_t *n, tarn_err_t *err)
{
    size_t len = strlen(sql), count = 0, from = 0;
    pglex_tok_t *toks;
    size_t ntoks;
    *out = NULL;
    *n = 0;
    int rc = pglex_scan(sql, len, &toks, &ntoks, err);
    if (rc)
        return rc;
    size_t semis = 0;
    for (size_t i = 0; i < ntoks; i++)
        semis += toks[i].kind == PGLEX_PUNCT && toks[i].len == 1 && sql[toks[i].at] == ';';
    pgsql_stmt_t *st = malloc((semis + 1) * sizeof *st);
    if (!st) {
        free(toks);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ntoks; i++)
        if (toks[i].kind == PGLEX_PUNCT && toks[i].len == 1 && sql[toks[i].at] == ';') {
            st[count++] = (pgsql_stmt_t){sql + from, toks[i].at - from};
            from = toks[i].at + 1;
        }
    /* What follows the last ';' is a statement when anything (even a blank) is there. */
    if (from < len)
        st[count++] = (pgsql_stmt_t){sql + from, len - from};
    free(toks);
    *out = st;
    *n = count;
    return 0;
}

static pgsql_kind_t classify(scan_t s)
{
    tok_t t = next_tok(&s);
    if (t.kind == TOK_END)
        return PGSQL_EMPTY;
    static const struct {
        const char *word;
        pgsql_kind_t kind;
    } words[] = {
        {"begin", PGSQL_BEGIN},
        {"start", PGSQL_BEGIN},
        {"commit", PGSQL_COMMIT},
        {"end", PGSQL_COMMIT},
        {"rollback", PGSQL_ROLLBACK},
        {"abort", PGSQL_ROLLBACK},
        {"set", PGSQL_SET},
        {"reset", PGSQL_RESET},
        {"copy", PGSQL_COPY},
        {"discard", PGSQL_DISCARD},
        {"deallocate", PGSQL_DEALLOCATE},
        {"savepoint", PGSQL_SAVEPOINT},
        {"release", PGSQL_SAVEPOINT},
        {"declare", PGSQL_DECLARE},
        {"fetch", PGSQL_FETCH},
        {"close", PGSQL_CLOSE},
        {"grant", PGSQL_GRANT},
        {"revoke", PGSQL_GRANT},
    };
    if (is_word(&t, "show")) {
        tok_t n = next_tok(&s);
        if (is_word(&n, "all"))
            n = next_tok(&s);
        return is_word(&n, "tables") ? PGSQL_QUERY : PGSQL_SHOW;
    }
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (is_word(&t, words[i].word))
            return words[i].kind;
    return PGSQL_QUERY;
}

pgsql_kind_t pgsql_classify(const char *stmt, size_t len)
{
    scan_t s;
    tarn_err_t err = {0};
    /* Out of memory: a query, which the engine's own checks then meet. */
    pgsql_kind_t kind = scan_begin(&s, stmt, len, &err) ? PGSQL_QUERY : classify(s);
    scan_end(&s);
    return kind;
}

static char *dup_lower(arena_t *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = '\0';
    return d;
}

/* A token's value: a string or quoted identifier without its quotes (doubled quotes
 * undone), anything else as written. */
static char *tok_value(arena_t *a, const tok_t *t)
{
    if (t->kind != TOK_STRING && t->kind != TOK_QIDENT)
        return arena_strndup(a, t->s, t->len);
    const char *s = t->s;
    size_t n = t->len;
    bool esc = *s == 'E' || *s == 'e';
    if (esc)
        s++, n--;
    if (*s == '$') {
        const char *close = memchr(s + 1, '$', n - 1);
        size_t tl = close ? (size_t)(close - s + 1) : 1;
        return n >= 2 * tl ? arena_strndup(a, s + tl, n - 2 * tl) : arena_strdup(a, "");
    }
    char q = *s, *d = arena_alloc(a, n + 1), *o = d;
    if (!d)
        return NULL;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] == q && s[i + 1] == q)
            i++;
        else if (esc && s[i] == '\\' && i + 2 < n)
            i++;
        *o++ = s[i];
    }
    *o = '\0';
    return d;
}

/* The rest of the statement from s, trimmed; a lone string or word is unquoted. */
static const char *rest_value(scan_t *s, arena_t *a)
{
    scan_t probe = *s;
    tok_t first = next_tok(&probe), second = next_tok(&probe);
    if (first.kind == TOK_END)
        return NULL;
    if (second.kind == TOK_END)
        return is_word(&first, "default") ? "DEFAULT" : tok_value(a, &first);
    const char *b = first.s, *e = s->end;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    return arena_strndup(a, b, (size_t)(e - b));
}

static int parse_set(scan_t s, const char **name, const char **value, arena_t *a, tarn_err_t *err)
{
    tok_t t = next_tok(&s);
    bool reset = is_word(&t, "reset");
    t = next_tok(&s);
    if (!reset && (is_word(&t, "session") || is_word(&t, "local"))) {
        scan_t probe = s;
        tok_t n = next_tok(&probe);
        if (is_word(&t, "session") && is_word(&n, "characteristics")) {
            *name = "transaction";
            *value = rest_value(&probe, a);
            return 0;
        }
        t = next_tok(&s);
    }
    if (!reset && is_word(&t, "transaction")) {
        *name = "transaction";
        *value = rest_value(&s, a);
        return 0;
    }
    if (!reset && is_word(&t, "time")) {
        tok_t z = next_tok(&s);
        if (!is_word(&z, "zone"))
            goto bad;
        *name = "timezone";
        *value = rest_value(&s, a);
        return *value ? 0
                      : TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "SET TIME ZONE needs a value");
    }
    if (t.kind != TOK_WORD && t.kind != TOK_QIDENT)
        goto bad;
    /* name, or a dotted custom name */
    buf_t nb = BUF_INIT;
    for (;;) {
        char *part = t.kind == TOK_QIDENT ? tok_value(a, &t) : dup_lower(a, t.s, t.len);
        buf_puts(&nb, part ? part : "");
        scan_t probe = s;
        tok_t dot = next_tok(&probe);
        if (!is_op(&dot, '.'))
            break;
        s = probe;
        t = next_tok(&s);
        buf_putc(&nb, '.');
    }
    *name = nb.data ? arena_strdup(a, nb.data) : NULL;
    buf_free(&nb);
    if (!*name)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (reset) {
        *value = NULL;
        return next_tok(&s).kind == TOK_END
                   ? 0
                   : TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "syntax error in RESET");
    }
    t = next_tok(&s);
    if (!is_word(&t, "to") && !is_op(&t, '='))
        goto bad;
    *value = rest_value(&s, a);
    if (!*value)
        goto bad;
    return 0;
bad:
    return TARN_ERR_R(err, TARN_EINVAL, SyntaxError,
                      "syntax error in SET: expected SET name TO value");
}

int pgsql_parse_set(const char *stmt, size_t len, const char **name, const char **value, arena_t *a,
                    tarn_err_t *err)
{
    scan_t s;
    int rc = scan_begin(&s, stmt, len, err);
    if (!rc)
        rc = parse_set(s, name, value, a, err);
    scan_end(&s);
    return rc;
}

static int parse_show(scan_t s, const char **name, arena_t *a, tarn_err_t *err)
{
    next_tok(&s); /* SHOW */
    tok_t t = next_tok(&s);
    if (is_word(&t, "transaction")) {
        *name = "transaction_isolation"; /* SHOW TRANSACTION ISOLATION LEVEL */
        return 0;
    }
    if (is_word(&t, "time")) {
        *name = "timezone";
        return 0;
    }
    if (t.kind != TOK_WORD && t.kind != TOK_QIDENT)
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError,
                          "syntax error in SHOW: expected SHOW name");
    *name = t.kind == TOK_QIDENT ? tok_value(a, &t) : dup_lower(a, t.s, t.len);
    return *name ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

int pgsql_parse_show(const char *stmt, size_t len, const char **name, arena_t *a, tarn_err_t *err)
{
    scan_t s;
    int rc = scan_begin(&s, stmt, len, err);
    if (!rc)
        rc = parse_show(s, name, a, err);
    scan_end(&s);
    return rc;
}

/* One COPY option (name already read) and its value, if it takes one. */
static int copy_option(scan_t *s, const tok_t *name, pgsql_copy_t *c, bool in_list, arena_t *a,
                       tarn_err_t *err)
{
    scan_t probe = *s;
    tok_t v = next_tok(&probe);
    bool has_value = v.kind != TOK_END && !is_op(&v, ',') && !is_op(&v, ')');
    if (has_value && is_word(&v, "as")) {
        *s = probe;
        v = next_tok(&probe);
    }
    char *val = has_value ? tok_value(a, &v) : NULL;
    if (is_word(name, "format")) {
        if (!val || (strcasecmp(val, "csv") && strcasecmp(val, "text")))
            return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                              "COPY FORMAT is text or csv (binary COPY is not supported)");
        c->csv = !strcasecmp(val, "csv");
    } else if (is_word(name, "csv")) {
        c->csv = true;
        has_value = false;
    } else if (is_word(name, "binary")) {
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "binary COPY is not supported; use FORMAT csv or text");
    } else if (is_word(name, "header")) {
        c->header = !val || !in_list ||
                    (strcasecmp(val, "false") && strcasecmp(val, "off") && strcmp(val, "0"));
        has_value = in_list && val;
    } else if (is_word(name, "delimiter")) {
        if (!val || strlen(val) != 1)
            return TARN_ERR_R(err, TARN_EINVAL, SyntaxError,
                              "COPY delimiter must be a single one-byte character");
        c->delimiter = val[0];
    } else if (is_word(name, "null")) {
        if (!val)
            return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY NULL needs a string");
        c->null = val;
    } else if (is_word(name, "encoding")) {
        if (!val || (strcasecmp(val, "utf8") && strcasecmp(val, "utf-8")))
            return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported, "COPY ENCODING is UTF8");
    } else {
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "COPY option \"%.*s\" is not supported (FORMAT, HEADER, DELIMITER, "
                          "NULL and ENCODING are)",
                          (int)name->len, name->s);
    }
    if (has_value)
        *s = probe;
    return 0;
}

static int parse_copy(scan_t s, pgsql_copy_t *c, arena_t *a, tarn_err_t *err)
{
    memset(c, 0, sizeof *c);
    next_tok(&s); /* COPY */
    tok_t t = next_tok(&s);
    if (is_op(&t, '(')) {
        const char *q = scan_rest(&s);
        int depth = 1;
        tok_t u;
        do {
            u = next_tok(&s);
            depth += is_op(&u, '(') - is_op(&u, ')');
        } while (u.kind != TOK_END && depth > 0);
        if (u.kind == TOK_END)
            return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: unbalanced parentheses");
        c->query = arena_strndup(a, q, (size_t)(u.s - q));
    } else if (t.kind == TOK_WORD || t.kind == TOK_QIDENT) {
        /* COPY table [(columns)] TO STDOUT */
        const char *b = t.s, *e = t.s + t.len, *cols = "*";
        for (;;) {
            scan_t probe = s;
            tok_t d = next_tok(&probe);
            if (!is_op(&d, '.'))
                break;
            tok_t n = next_tok(&probe);
            if (n.kind != TOK_WORD && n.kind != TOK_QIDENT)
                return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: bad table name");
            e = n.s + n.len;
            s = probe;
        }
        scan_t probe = s;
        tok_t p = next_tok(&probe);
        if (is_op(&p, '(')) {
            const char *cb = scan_rest(&probe);
            tok_t u;
            do
                u = next_tok(&probe);
            while (u.kind != TOK_END && !is_op(&u, ')'));
            cols = arena_strndup(a, cb, (size_t)(u.s - cb));
            s = probe;
        }
        c->query = arena_sprintf(a, "SELECT %s FROM %.*s", cols, (int)(e - b), b);
    } else {
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: expected (query) or a table");
    }
    if (!c->query)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    t = next_tok(&s);
    if (is_word(&t, "from"))
        return TARN_ERR_R(err, TARN_EINVAL, NotReadOnly,
                          "COPY FROM cannot run here: the lake's SQL is read-only; land files "
                          "with the S3 API instead");
    if (!is_word(&t, "to"))
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: expected TO STDOUT");
    t = next_tok(&s);
    if (!is_word(&t, "stdout"))
        return TARN_ERR_R(err, TARN_EINVAL, InsufficientPrivilege,
                          "COPY to a file or program is not allowed; use COPY ... TO STDOUT");
    t = next_tok(&s);
    if (is_word(&t, "with"))
        t = next_tok(&s);
    if (is_op(&t, '(')) {
        for (;;) {
            t = next_tok(&s);
            if (t.kind != TOK_WORD)
                return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: bad option list");
            int rc = copy_option(&s, &t, c, true, a, err);
            if (rc)
                return rc;
            t = next_tok(&s);
            if (is_op(&t, ')'))
                break;
            if (!is_op(&t, ','))
                return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: bad option list");
        }
        t = next_tok(&s);
    } else {
        while (t.kind == TOK_WORD) {
            int rc = copy_option(&s, &t, c, false, a, err);
            if (rc)
                return rc;
            t = next_tok(&s);
        }
    }
    if (t.kind != TOK_END)
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "COPY: unexpected \"%.*s\"", (int)t.len,
                          t.s);
    if (!c->delimiter)
        c->delimiter = c->csv ? ',' : '\t';
    if (!c->null)
        c->null = c->csv ? "" : "\\N";
    return 0;
}

int pgsql_parse_copy(const char *stmt, size_t len, pgsql_copy_t *c, arena_t *a, tarn_err_t *err)
{
    scan_t s;
    int rc = scan_begin(&s, stmt, len, err);
    if (!rc)
        rc = parse_copy(s, c, a, err);
    scan_end(&s);
    return rc;
}

/* A cursor name token's value: a quoted name as written inside its quotes, a bare one in
 * lowercase (PostgreSQL folds unquoted names). */
static const char *cursor_name(const tok_t *t, arena_t *a)
{
    if (t->kind == TOK_QIDENT)
        return tok_value(a, t);
    return t->kind == TOK_WORD ? dup_lower(a, t->s, t->len) : NULL;
}

static int parse_declare(scan_t s, const char **name, const char **query, bool *binary, arena_t *a,
                         tarn_err_t *err)
{
    next_tok(&s); /* DECLARE */
    tok_t t = next_tok(&s);
    if (!(*name = cursor_name(&t, a)))
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "DECLARE: expected a cursor name");
    *binary = false;
    tok_t prev = {TOK_END, "", 0};
    for (t = next_tok(&s); t.kind == TOK_WORD && !is_word(&t, "for"); prev = t, t = next_tok(&s)) {
        if (is_word(&t, "binary"))
            *binary = true;
        else if ((is_word(&t, "scroll") && !is_word(&prev, "no")) ||
                 (is_word(&t, "hold") && !is_word(&prev, "without")))
            return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                              "only NO SCROLL, WITHOUT HOLD cursors are supported");
        else if (!is_word(&t, "no") && !is_word(&t, "cursor") && !is_word(&t, "with") &&
                 !is_word(&t, "without") && !is_word(&t, "asensitive") &&
                 !is_word(&t, "insensitive") && !is_word(&t, "scroll") && !is_word(&t, "hold"))
            return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "DECLARE: unexpected \"%.*s\"",
                              (int)t.len, t.s);
    }
    if (!is_word(&t, "for"))
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "DECLARE: expected CURSOR FOR query");
    const char *rest = scan_rest(&s);
    *query = arena_strndup(a, rest, (size_t)(s.end - rest));
    return *query ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

int pgsql_parse_declare(const char *stmt, size_t len, const char **name, const char **query,
                        bool *binary, arena_t *a, tarn_err_t *err)
{
    scan_t s;
    int rc = scan_begin(&s, stmt, len, err);
    if (!rc)
        rc = parse_declare(s, name, query, binary, a, err);
    scan_end(&s);
    return rc;
}

static int parse_fetch(scan_t s, const char **name, long *count, arena_t *a, tarn_err_t *err)
{
    next_tok(&s); /* FETCH */
    tok_t t = next_tok(&s);
    *count = 1;
    if (is_word(&t, "next")) {
        t = next_tok(&s);
    } else if (is_word(&t, "forward")) {
        t = next_tok(&s);
        if (t.kind == TOK_NUMBER || is_word(&t, "all")) {
            *count = t.kind == TOK_NUMBER ? strtol(t.s, NULL, 10) : -1;
            t = next_tok(&s);
        }
    } else if (t.kind == TOK_NUMBER || is_word(&t, "all")) {
        *count = t.kind == TOK_NUMBER ? strtol(t.s, NULL, 10) : -1;
        t = next_tok(&s);
    } else if (is_word(&t, "prior") || is_word(&t, "backward") || is_word(&t, "first") ||
               is_word(&t, "last") || is_word(&t, "absolute") || is_word(&t, "relative")) {
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "cursors only move forward: FETCH [FORWARD] n | ALL");
    }
    if (is_word(&t, "from") || is_word(&t, "in"))
        t = next_tok(&s);
    if (!(*name = cursor_name(&t, a)) || next_tok(&s).kind != TOK_END)
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "FETCH: expected FETCH n FROM cursor");
    return 0;
}

int pgsql_parse_fetch(const char *stmt, size_t len, const char **name, long *count, arena_t *a,
                      tarn_err_t *err)
{
    scan_t s;
    int rc = scan_begin(&s, stmt, len, err);
    if (!rc)
        rc = parse_fetch(s, name, count, a, err);
    scan_end(&s);
    return rc;
}

static int parse_close(scan_t s, const char **name, arena_t *a, tarn_err_t *err)
{
    next_tok(&s); /* CLOSE */
    tok_t t = next_tok(&s);
    *name = is_word(&t, "all") ? NULL : cursor_name(&t, a);
    if ((!*name && !is_word(&t, "all")) || next_tok(&s).kind != TOK_END)
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "CLOSE: expected CLOSE cursor | ALL");
    return 0;
}

int pgsql_parse_close(const char *stmt, size_t len, const char **name, arena_t *a, tarn_err_t *err)
{
    scan_t s;
    int rc = scan_begin(&s, stmt, len, err);
    if (!rc)
        rc = parse_close(s, name, a, err);
    scan_end(&s);
    return rc;
}

int pgsql_count_params(const char *stmt, size_t len)
{
    scan_t s;
    tarn_err_t err = {0};
    int max = 0;
    if (scan_begin(&s, stmt, len, &err))
        return 0;
    for (tok_t t = next_tok(&s); t.kind != TOK_END; t = next_tok(&s))
        if (t.kind == TOK_PARAM) {
            int n = atoi(t.s + 1);
            if (n > max)
                max = n;
        }
    scan_end(&s);
    return max;
}

/* The type named at s (after "::"): its OID, 0 when this table does not know it. Reads
 * pg_catalog-qualified names, the multi-word names, a type modifier and array brackets. */
static uint32_t cast_type(scan_t *s)
{
    tok_t t = next_tok(s);
    if (is_word(&t, "pg_catalog")) {
        tok_t dot = next_tok(s);
        if (!is_op(&dot, '.'))
            return 0;
        t = next_tok(s);
    }
    if (t.kind != TOK_WORD && t.kind != TOK_QIDENT)
        return 0;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(t.len < 40 ? t.len : 40), t.s);
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    /* double precision, character varying, timestamp/time with(out) time zone */
    static const char *const more[][4] = {{"double", "precision", NULL, NULL},
                                          {"character", "varying", NULL, NULL},
                                          {"timestamp", "with", "time", "zone"},
                                          {"timestamp", "without", "time", "zone"},
                                          {"time", "with", "time", "zone"},
                                          {"time", "without", "time", "zone"}};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        if (strcmp(name, more[i][0]))
            continue;
        scan_t ahead = *s;
        size_t k = 1;
        for (; k < 4 && more[i][k]; k++) {
            tok_t w = next_tok(&ahead);
            if (!is_word(&w, more[i][k]))
                break;
        }
        if (k < 4 && more[i][k])
            continue;
        *s = ahead;
        for (size_t j = 1; j < k; j++)
            snprintf(name + strlen(name), sizeof name - strlen(name), " %s", more[i][j]);
        break;
    }
    scan_t ahead = *s;
    tok_t u = next_tok(&ahead);
    if (is_op(&u, '(')) { /* numeric(10,2), varchar(20) */
        int depth = 1;
        while (depth > 0 && (u = next_tok(&ahead)).kind != TOK_END)
            depth += is_op(&u, '(') - is_op(&u, ')');
        *s = ahead;
        u = next_tok(&ahead);
    }
    bool array = false;
    while (is_op(&u, '[')) {
        while ((u = next_tok(&ahead)).kind != TOK_END && !is_op(&u, ']'))
            ;
        array = true;
        *s = ahead;
        u = next_tok(&ahead);
    }
    uint32_t oid = pgtype_by_sql_name(name);
    return array ? pgtype_array_of(oid) : oid;
}

void pgsql_param_casts(const char *stmt, size_t len, uint32_t *oids, int n)
{
    scan_t s;
    tarn_err_t err = {0};
    for (int i = 0; i < n; i++)
        oids[i] = 0;
    if (scan_begin(&s, stmt, len, &err))
        return;
    for (tok_t t = next_tok(&s); t.kind != TOK_END; t = next_tok(&s)) {
        if (t.kind != TOK_PARAM)
            continue;
        int k = atoi(t.s + 1);
        scan_t ahead = s;
        tok_t c = next_tok(&ahead);
        if (c.kind != TOK_OP || c.len != 2 || memcmp(c.s, "::", 2))
            continue;
        uint32_t oid = cast_type(&ahead);
        if (k >= 1 && k <= n && !oids[k - 1])
            oids[k - 1] = oid;
    }
    scan_end(&s);
}
