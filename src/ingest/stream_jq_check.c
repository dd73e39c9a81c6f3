/* The allow-list of MetadataExtractionQuery, checked on the program's text before libjq
 * compiles it (compiling may already read modules): a walk over jq 1.6's tokens in which
 * every function called must be on the list with its arity, a few keywords and operators
 * are refused outright, and object keys and field names are free. The walk also notes the
 * key names of an object that ends the program. It is not a parser: jq reports the syntax
 * errors it lets through. */
#include "ingest/stream_jq.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NEST_MAX = 32, WORD_MAX = 64 };

/* Builtins that end in time bounded by their input, need no input, environment, clock or
 * regular expressions, and do not grow a value past a small multiple of their input. */
static const struct {
    const char *name;
    int arity;
} functions[] = {
    /* values and types */
    {"empty", 0}, {"error", 0}, {"error", 1}, {"not", 0}, {"select", 1}, {"type", 0},
    {"length", 0}, {"utf8bytelength", 0}, {"arrays", 0}, {"objects", 0}, {"iterables", 0},
    {"booleans", 0}, {"numbers", 0}, {"strings", 0}, {"nulls", 0}, {"values", 0},
    {"scalars", 0},
    /* objects and arrays */
    {"keys", 0}, {"keys_unsorted", 0}, {"has", 1}, {"in", 1}, {"map", 1}, {"add", 0},
    {"any", 0}, {"any", 1}, {"all", 0}, {"all", 1}, {"first", 0}, {"first", 1}, {"last", 0},
    {"last", 1}, {"nth", 1}, {"reverse", 0}, {"sort", 0}, {"sort_by", 1}, {"group_by", 1},
    {"unique", 0}, {"unique_by", 1}, {"min", 0}, {"max", 0}, {"min_by", 1}, {"max_by", 1},
    {"to_entries", 0}, {"from_entries", 0}, {"with_entries", 1},
    /* strings (split/1 splits on a string; split/2 would take a regular expression) */
    {"tostring", 0}, {"tonumber", 0}, {"tojson", 0}, {"fromjson", 0}, {"ascii_downcase", 0},
    {"ascii_upcase", 0}, {"ltrimstr", 1}, {"rtrimstr", 1}, {"startswith", 1},
    {"endswith", 1}, {"split", 1}, {"join", 1}, {"explode", 0}, {"implode", 0},
    /* numbers */
    {"floor", 0}, {"ceil", 0}, {"round", 0}, {"trunc", 0}, {"fabs", 0}, {"sqrt", 0},
    {"pow", 2}, {"log", 0}, {"log2", 0}, {"log10", 0}, {"exp", 0}, {"exp2", 0}, {"exp10", 0},
    /* dates, in UTC (not now, localtime or strflocaltime: a record must give the same keys
     * on every run) */
    {"todate", 0}, {"fromdate", 0}, {"todateiso8601", 0}, {"fromdateiso8601", 0},
    {"strftime", 1}, {"strptime", 1}, {"mktime", 0}, {"gmtime", 0},
};

static const char *const keywords[] = {"if", "then", "elif", "else", "end",  "and", "or",
                                       "as", "try",  "catch", "true", "false", "null", NULL};
static const char *const formats[] = {"text", "json", "html", "uri", "csv", "tsv",
                                      "base64", "base64d", "base32", "base32d", NULL};

typedef struct {
    const char *q, *p;
    int nest;
    tarn_err_t *err;
} walk_t;

/* The last stage of the top level (after its last `|`): whether it is one object, and its
 * keys. */
typedef struct {
    size_t tokens;
    bool object;
    stream_jq_names_t *names;
} stage_t;

static int refuse(walk_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(walk_t *w, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return TARN_ERR_R(w->err, TARN_EINVAL, InvalidArgument,
                      "MetadataExtractionQuery %s (at '%.24s')", why, w->p);
}

static bool listed(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

static bool word_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void skip_space(walk_t *w)
{
    for (;;) {
        while (isspace((unsigned char)*w->p))
            w->p++;
        if (*w->p != '#')
            return;
        w->p += strcspn(w->p, "\n");
    }
}

/* A name at w->p (with jq's module:: parts) into out, truncated; false when there is
 * none. */
static bool take_word(walk_t *w, char out[WORD_MAX])
{
    const char *s = w->p;
    if (!word_start(*s))
        return false;
    while (word_char(*w->p) || (w->p[0] == ':' && w->p[1] == ':' && word_start(w->p[2])))
        w->p += *w->p == ':' ? 2 : 1;
    size_t n = (size_t)(w->p - s);
    snprintf(out, WORD_MAX, "%.*s", (int)(n < WORD_MAX ? n : WORD_MAX - 1), s);
    return true;
}

static int walk_expr(walk_t *w, const char *stops, stage_t *stage);

static int enter(walk_t *w)
{
    return ++w->nest > NEST_MAX ? refuse(w, "nests deeper than %d", NEST_MAX) : 0;
}

/* ( ... ) or [ ... ] at w->p. */
static int walk_group(walk_t *w, char close)
{
    const char stops[2] = {close, '\0'};
    int rc;
    w->p++;
    if ((rc = enter(w)) || (rc = walk_expr(w, stops, NULL)))
        return rc;
    if (*w->p != close)
        return refuse(w, "does not parse: '%c' expected", close);
    w->p++;
    w->nest--;
    return 0;
}

/* A string at w->p, its interpolations walked; *plain (may be NULL) tells whether it has
 * neither escapes nor interpolations, and *text, *len give its content. */
static int walk_string(walk_t *w, bool *plain, const char **text, size_t *len)
{
    const char *s = ++w->p;
    bool simple = true;
    int rc;
    for (;;) {
        if (!*w->p)
            return refuse(w, "does not parse: a string is not closed");
        if (*w->p == '"')
            break;
        if (*w->p != '\\') {
            w->p++;
            continue;
        }
        simple = false;
        if (w->p[1] != '(') {
            w->p += w->p[1] ? 2 : 1;
            continue;
        }
        w->p++;
        if ((rc = walk_group(w, ')')))
            return rc;
    }
    if (plain) {
        *plain = simple;
        *text = s;
        *len = (size_t)(w->p - s);
    }
    w->p++;
    return 0;
}

static int walk_variable(walk_t *w, char name[WORD_MAX])
{
    w->p++;
    skip_space(w);
    if (!take_word(w, name))
        return refuse(w, "does not parse: a variable name is expected after '$'");
    if (!strcmp(name, "ENV") || !strcmp(name, "__loc__"))
        return refuse(w, "reads $%s, which tarn does not give queries", name);
    return 0;
}

static int walk_format(walk_t *w)
{
    const char *s = ++w->p;
    while (word_char(*w->p))
        w->p++;
    char name[WORD_MAX];
    size_t n = (size_t)(w->p - s);
    snprintf(name, sizeof name, "%.*s", (int)(n < WORD_MAX ? n : WORD_MAX - 1), s);
    if (!listed(formats, name))
        return refuse(w, "uses @%s (formats tarn runs: @text, @json, @html, @uri, @csv, @tsv, "
                         "@base64, @base64d, @base32, @base32d)", name);
    return 0;
}

static void note_key(stream_jq_names_t *names, const char *s, size_t n)
{
    if (names->n > STREAM_JQ_KEYS)
        return; /* already too many (n is one past the array): the check below refuses */
    for (size_t i = 0; i < names->n; i++)
        if (strlen(names->names[i]) == n && !memcmp(names->names[i], s, n))
            return;
    if (names->n == STREAM_JQ_KEYS) {
        names->known = false; /* too many: the check below refuses the query */
        names->n++;
        return;
    }
    char *name = names->n < STREAM_JQ_KEYS ? strndup(s, n) : NULL;
    if (name)
        names->names[names->n++] = name;
    else
        names->known = false; /* out of memory: the names show at run time */
}

/* { key: value, ... } at w->p; keys go to names when it is not NULL. */
static int walk_object(walk_t *w, stream_jq_names_t *names)
{
    int rc;
    w->p++;
    if ((rc = enter(w)))
        return rc;
    for (;;) {
        skip_space(w);
        if (*w->p == '}')
            break;
        char word[WORD_MAX];
        const char *start = w->p;
        bool fixed = true, plain;
        const char *text;
        size_t len;
        if (take_word(w, word)) { /* any name, keywords too, is a key here */
            text = start;
            len = (size_t)(w->p - start);
        } else if (*w->p == '$') {
            if ((rc = walk_variable(w, word)))
                return rc;
            text = word;
            len = strlen(word);
        } else if (*w->p == '"') {
            if ((rc = walk_string(w, &plain, &text, &len)))
                return rc;
            fixed = plain;
        } else if (*w->p == '(') {
            if ((rc = walk_group(w, ')')))
                return rc;
            fixed = false;
        } else if (*w->p == '@') {
            if ((rc = walk_format(w)))
                return rc;
            fixed = false;
        } else {
            return refuse(w, "does not parse: an object key is expected");
        }
        if (names && fixed)
            note_key(names, text, len);
        else if (names)
            names->known = false;
        skip_space(w);
        if (*w->p == ':') {
            w->p++;
            if ((rc = walk_expr(w, ",}", NULL)))
                return rc;
        }
        if (*w->p == ',')
            w->p++;
        else if (*w->p != '}')
            return refuse(w, "does not parse: ',' or '}' expected in an object");
    }
    w->p++;
    w->nest--;
    return 0;
}

/* A name: a keyword, or a function call checked with its arguments' count. */
static int walk_word(walk_t *w)
{
    char name[WORD_MAX];
    const char *start = w->p;
    take_word(w, name);
    if (listed(keywords, name))
        return 0;
    if (strstr(name, "::") || !strcmp(name, "import") || !strcmp(name, "include") ||
        !strcmp(name, "module"))
        return refuse(w, "uses modules (%s), which tarn does not load", name);
    if (!strcmp(name, "def") || !strcmp(name, "reduce") || !strcmp(name, "foreach") ||
        !strcmp(name, "label") || !strcmp(name, "break") || !strcmp(name, "__loc__"))
        return refuse(w, "uses '%s': tarn runs queries without definitions, loops or "
                         "recursion, so that each record takes bounded time", name);
    int arity = 0, rc;
    skip_space(w);
    if (*w->p == '(') {
        w->p++;
        if ((rc = enter(w)))
            return rc;
        for (arity = 1;; arity++) {
            if ((rc = walk_expr(w, ";)", NULL)))
                return rc;
            if (*w->p != ';')
                break;
            w->p++;
        }
        if (*w->p != ')')
            return refuse(w, "does not parse: ')' expected after the arguments of %s", name);
        w->p++;
        w->nest--;
    }
    for (size_t i = 0; i < sizeof functions / sizeof *functions; i++)
        if (functions[i].arity == arity && !strcmp(functions[i].name, name))
            return 0;
    w->p = start;
    return refuse(w, "uses %s/%d, which tarn does not run: its queries may not loop, recurse, "
                     "read input or the environment, use regular expressions or the clock "
                     "(see docs/streams.md for the functions they may use)", name, arity);
}

/* Operators: the assignments, alternative destructuring and '*' (which repeats a string
 * as many times as a number in the record says) are refused; '..' recurses. */
static int walk_operator(walk_t *w)
{
    static const char *const refused[] = {"?//", "//=", "|=", "+=", "-=", "*=", "/=", "%=",
                                          NULL};
    static const char *const ok[] = {"==", "!=", "<=", ">=", "//", NULL};
    for (size_t i = 0; refused[i]; i++)
        if (!strncmp(w->p, refused[i], strlen(refused[i])))
            return refuse(w, "uses '%s'; build the keys as an object, {key: value, ...}",
                          refused[i]);
    for (size_t i = 0; ok[i]; i++)
        if (!strncmp(w->p, ok[i], strlen(ok[i]))) {
            w->p += strlen(ok[i]);
            return 0;
        }
    if (*w->p == '*')
        return refuse(w, "uses '*', which can repeat a string as often as a record says");
    if (*w->p == '=')
        return refuse(w, "uses '=' (assignment); compare with '=='");
    if (!strchr("|,+-/%<>?:;", *w->p))
        return refuse(w, "does not parse: unexpected '%c'", *w->p);
    w->p++;
    return 0;
}

/* ., .name, .., numbers. */
static int walk_dot_or_number(walk_t *w)
{
    if (w->p[0] == '.' && w->p[1] == '.')
        return refuse(w, "uses '..', which recurses through the whole record");
    if (w->p[0] == '.' && word_start(w->p[1])) { /* a field: any name */
        w->p++;
        while (word_char(*w->p))
            w->p++;
        return 0;
    }
    if (w->p[0] == '.' && !isdigit((unsigned char)w->p[1])) {
        w->p++;
        return 0;
    }
    while (isdigit((unsigned char)*w->p) || *w->p == '.')
        w->p++;
    if (*w->p == 'e' || *w->p == 'E') {
        w->p++;
        if (*w->p == '+' || *w->p == '-')
            w->p++;
        while (isdigit((unsigned char)*w->p))
            w->p++;
    }
    return 0;
}

static int walk_token(walk_t *w, stage_t *stage)
{
    char c = *w->p, name[WORD_MAX];
    if (c == '"')
        return walk_string(w, NULL, NULL, NULL);
    if (c == '{')
        return walk_object(w, stage && !stage->tokens ? stage->names : NULL);
    if (c == '(')
        return walk_group(w, ')');
    if (c == '[')
        return walk_group(w, ']');
    if (c == ')' || c == ']' || c == '}')
        return refuse(w, "does not parse: unbalanced '%c'", c);
    if (c == '$')
        return walk_variable(w, name);
    if (c == '@')
        return walk_format(w);
    if (c == '.' || isdigit((unsigned char)c))
        return walk_dot_or_number(w);
    if (word_start(c))
        return walk_word(w);
    return walk_operator(w);
}

/* Tokens up to one of stops (not taken) or the end. stage follows the top level. */
static int walk_expr(walk_t *w, const char *stops, stage_t *stage)
{
    for (;;) {
        skip_space(w);
        if (!*w->p || strchr(stops, *w->p))
            return 0;
        if (stage && w->p[0] == '|' && w->p[1] != '=') {
            w->p++;
            stream_jq_names_free(stage->names);
            stage->names->known = true;
            stage->tokens = 0;
            continue;
        }
        if (stage) {
            stage->object = !stage->tokens && *w->p == '{';
            if (!stage->object)
                stage->names->known = false;
        }
        int rc = walk_token(w, stage);
        if (rc)
            return rc;
        if (stage)
            stage->tokens++;
    }
}

int stream_jq_check(const char *query, stream_jq_names_t *names, tarn_err_t *err)
{
    *names = (stream_jq_names_t){.known = true};
    walk_t w = {.q = query, .p = query, .err = err};
    if (strlen(query) > STREAM_JQ_QUERY_MAX)
        return refuse(&w, "is longer than %d bytes", STREAM_JQ_QUERY_MAX);
    skip_space(&w);
    if (!*w.p)
        return refuse(&w, "is empty");
    stage_t stage = {.names = names};
    int rc = walk_expr(&w, "", &stage);
    if (rc)
        return rc;
    names->known = names->known && stage.object;
    if (names->n > STREAM_JQ_KEYS)
        return refuse(&w, "may define at most %d keys", STREAM_JQ_KEYS);
    if (!names->known)
        stream_jq_names_free(names);
    return 0;
}

void stream_jq_names_free(stream_jq_names_t *names)
{
    for (size_t i = 0; i < names->n && i < STREAM_JQ_KEYS; i++)
        free(names->names[i]);
    names->n = 0;
}
