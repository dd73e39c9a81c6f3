/* GRANT and REVOKE as statements, the way SQL writes them, for the SQL interfaces and the
 * CLI alike; see grants_sql.h. Words are case-insensitive; names may be "quoted"; the
 * resource kind defaults to TABLE, the principal kind to user. */
#include "govern/grants_sql.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *p;
    char word[600];
} lex_t;

/* The next word: a "quoted" name, a parenthesised list (kept whole), a ',' or a run of
 * anything else up to a blank, ',' or '('. False at the end. */
static bool next(lex_t *l)
{
    while (isspace((unsigned char)*l->p))
        l->p++;
    const char *b = l->p;
    if (!*b || *b == ';')
        return false;
    size_t n = 0;
    if (*b == '"') {
        const char *e = b + 1;
        while (*e && !(*e == '"' && e[1] != '"'))
            e += *e == '"' ? 2 : 1;
        for (const char *q = b + 1; q < e && n + 1 < sizeof l->word; q++) {
            l->word[n++] = *q;
            if (*q == '"')
                q++;
        }
        l->p = *e ? e + 1 : e;
    } else if (*b == '(') {
        const char *e = strchr(b, ')');
        e = e ? e + 1 : b + strlen(b);
        n = (size_t)(e - b) < sizeof l->word ? (size_t)(e - b) : sizeof l->word - 1;
        memcpy(l->word, b, n);
        l->p = e;
    } else if (*b == ',') {
        l->word[n++] = ',';
        l->p = b + 1;
    } else {
        const char *e = b;
        while (*e && !isspace((unsigned char)*e) && *e != ',' && *e != '(' && *e != ';')
            e++;
        n = (size_t)(e - b) < sizeof l->word ? (size_t)(e - b) : sizeof l->word - 1;
        memcpy(l->word, b, n);
        l->p = e;
    }
    l->word[n] = '\0';
    return true;
}

static bool is(const lex_t *l, const char *w)
{
    return !strcasecmp(l->word, w);
}

/* "(a, b)" as a JSON array of names. */
static json_t *names(const char *list)
{
    json_t *a = json_array();
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '(' || *p == ')' || *p == '"')
            p++;
        const char *b = p;
        while (*p && *p != ',' && *p != ')' && *p != ' ' && *p != '"')
            p++;
        if (p > b)
            json_array_append_new(a, json_stringn(b, (size_t)(p - b)));
    }
    return a;
}

int grants_parse(const char *sql, grant_statement_t *out, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    lex_t l = {.p = sql};
    if (!next(&l) || (!is(&l, "GRANT") && !is(&l, "REVOKE")))
        return TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "expected GRANT or REVOKE");
    out->revoke = is(&l, "REVOKE");
    out->permissions = json_array();
    /* permissions, separated by commas, up to ON */
    while (next(&l) && !is(&l, "ON")) {
        if (is(&l, ","))
            continue;
        char perm[64];
        snprintf(perm, sizeof perm, "%s", l.word);
        for (char *c = perm; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        /* CREATE_TABLE may be written CREATE TABLE */
        if (!strcmp(perm, "CREATE") && next(&l)) {
            if (!is(&l, "TABLE"))
                goto bad;
            snprintf(perm, sizeof perm, "CREATE_TABLE");
        }
        json_array_append_new(out->permissions, json_string(perm));
    }
    if (!is(&l, "ON") || !json_array_size(out->permissions) || !next(&l))
        goto bad;
    const char *kind = "table";
    if (is(&l, "TABLE") || is(&l, "DATABASE") || is(&l, "FILTER") || is(&l, "LOCATION")) {
        kind = is(&l, "TABLE") ? "table" : is(&l, "DATABASE") ? "database"
                                         : is(&l, "FILTER")   ? "filter"
                                                              : "location";
        if (!next(&l))
            goto bad;
    } else if (is(&l, "IAM")) {
        kind = NULL;
    }
    if (kind)
        snprintf(out->resource, sizeof out->resource, "%s:%s", kind, l.word);
    else
        snprintf(out->resource, sizeof out->resource, "iam");
    if (!next(&l))
        goto bad;
    if (is(&l, "EXCLUDING")) {
        if (!next(&l) || l.word[0] != '(')
            goto bad;
        out->excluded = names(l.word);
        if (!next(&l))
            goto bad;
    } else if (l.word[0] == '(') {
        out->columns = names(l.word);
        if (!next(&l))
            goto bad;
    }
    if (!is(&l, out->revoke ? "FROM" : "TO") || !next(&l))
        goto bad;
    /* user:x | USER x | GROUP x | ROLE x | x (a user) */
    if (strchr(l.word, ':')) {
        snprintf(out->principal, sizeof out->principal, "%s", l.word);
    } else if (is(&l, "USER") || is(&l, "GROUP") || is(&l, "ROLE")) {
        char k[8];
        snprintf(k, sizeof k, "%s", is(&l, "USER") ? "user" : is(&l, "GROUP") ? "group" : "role");
        if (!next(&l))
            goto bad;
        snprintf(out->principal, sizeof out->principal, "%s:%s", k, l.word);
    } else {
        snprintf(out->principal, sizeof out->principal, "user:%s", l.word);
    }
    if (next(&l)) {
        if (out->revoke || !is(&l, "WITH") || !next(&l) || !is(&l, "GRANT") || !next(&l) ||
            !is(&l, "OPTION") || next(&l))
            goto bad;
        out->grant_option = true;
    }
    return 0;
bad:
    grants_statement_free(out);
    return TARN_ERR_R(err, TARN_EINVAL, SyntaxError,
                      "expected %s PERMISSION[, ...] ON [TABLE|DATABASE|FILTER|LOCATION] NAME%s "
                      "%s PRINCIPAL%s (near \"%s\")",
                      out->revoke ? "REVOKE" : "GRANT",
                      out->revoke ? "" : " [(COLUMNS) | EXCLUDING (COLUMNS)]",
                      out->revoke ? "FROM" : "TO", out->revoke ? "" : " [WITH GRANT OPTION]",
                      l.word);
}

void grants_statement_free(grant_statement_t *s)
{
    json_decref(s->permissions);
    json_decref(s->columns);
    json_decref(s->excluded);
    s->permissions = s->columns = s->excluded = NULL;
}
