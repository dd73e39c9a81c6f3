/* Prefix templates and the JQ subset of dynamic partitioning; see stream_template.h.
 * Timestamps follow Java's DateTimeFormatter letters that make sense in a key (y, M, d,
 * H, m, s) with quoted literals, because that is what existing stream configurations
 * hold. */
#include "ingest/stream_template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- timestamp patterns ---- */

/* Renders (out != NULL) or checks a DateTimeFormatter pattern of n bytes. */
static int time_pattern(const char *p, size_t n, const struct tm *tm, buf_t *out, tarn_err_t *err)
{
    for (size_t i = 0; i < n;) {
        char c = p[i];
        if (c == '\'') {
            size_t j = i + 1;
            if (j < n && p[j] == '\'') { /* '' is one quote */
                if (out)
                    buf_putc(out, '\'');
                i = j + 1;
                continue;
            }
            while (j < n && p[j] != '\'')
                j++;
            if (j == n)
                return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                                  "the timestamp pattern '%.*s' has an unclosed quote", (int)n, p);
            if (out)
                buf_append(out, p + i + 1, j - i - 1);
            i = j + 1;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            if (out)
                buf_putc(out, c);
            i++;
            continue;
        }
        size_t run = 1;
        while (i + run < n && p[i + run] == c)
            run++;
        int v, width;
        switch (c) {
        case 'y':
        case 'u':
            v = tm ? tm->tm_year + 1900 : 0;
            if (run == 2)
                v %= 100;
            width = run == 2 ? 2 : (int)run;
            break;
        case 'M': v = tm ? tm->tm_mon + 1 : 0; width = (int)run; break;
        case 'd': v = tm ? tm->tm_mday : 0; width = (int)run; break;
        case 'H': v = tm ? tm->tm_hour : 0; width = (int)run; break;
        case 'm': v = tm ? tm->tm_min : 0; width = (int)run; break;
        case 's': v = tm ? tm->tm_sec : 0; width = (int)run; break;
        default:
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "the timestamp pattern '%.*s' uses '%c', which tarn does not "
                              "support (supported: y, M, d, H, m, s and quoted literals)",
                              (int)n, p, c);
        }
        if (run > 4)
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "the timestamp pattern '%.*s' has a field wider than 4 letters",
                              (int)n, p);
        if (out)
            buf_printf(out, "%0*d", width, v);
        i += run;
    }
    return 0;
}

/* ---- prefix templates ---- */

typedef struct {
    const char *ns, *val; /* not NUL-terminated */
    size_t nslen, vallen;
} expr_t;

/* Finds the next !{ns:value} at or after *pos; 1 found, 0 none, <0 error. lit gets the
 * literal text before it. */
static int next_expr(const char *t, size_t *pos, const char **lit, size_t *litlen, expr_t *e,
                     tarn_err_t *err)
{
    const char *s = t + *pos;
    const char *b = strstr(s, "!{");
    *lit = s;
    if (!b) {
        *litlen = strlen(s);
        *pos += *litlen;
        return 0;
    }
    *litlen = (size_t)(b - s);
    const char *end = strchr(b, '}');
    if (!end)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                          "the prefix '%s' has an expression without its closing '}'", t);
    const char *colon = memchr(b + 2, ':', (size_t)(end - b - 2));
    if (!colon)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                          "the prefix '%s' has an expression without a namespace "
                          "(expected !{namespace:value})", t);
    e->ns = b + 2;
    e->nslen = (size_t)(colon - e->ns);
    e->val = colon + 1;
    e->vallen = (size_t)(end - e->val);
    *pos = (size_t)(end + 1 - t);
    return 1;
}

static bool ns_is(const expr_t *e, const char *ns)
{
    return e->nslen == strlen(ns) && !memcmp(e->ns, ns, e->nslen);
}

static bool val_is(const expr_t *e, const char *v)
{
    return e->vallen == strlen(v) && !memcmp(e->val, v, e->vallen);
}

int stream_template_check(const char *tmpl, int kind, bool *uses_keys, bool *uses_time,
                          tarn_err_t *err)
{
    bool keys = false, time_ = false;
    size_t pos = 0;
    const char *lit;
    size_t litlen;
    expr_t e;
    int rc;
    while ((rc = next_expr(tmpl, &pos, &lit, &litlen, &e, err)) == 1) {
        if (ns_is(&e, "timestamp")) {
            if (!e.vallen)
                return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                                  "!{timestamp:} needs a pattern, e.g. !{timestamp:yyyy-MM-dd}");
            if ((rc = time_pattern(e.val, e.vallen, NULL, NULL, err)))
                return rc;
            time_ = true;
        } else if (ns_is(&e, "partitionKeyFromQuery")) {
            if (kind == TEMPLATE_ERROR_PREFIX)
                return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                                  "ErrorOutputPrefix cannot use partitionKeyFromQuery: records "
                                  "that failed may have no keys");
            if (!e.vallen)
                return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                                  "!{partitionKeyFromQuery:} needs a key name");
            keys = true;
        } else if (ns_is(&e, "firehose")) {
            if (val_is(&e, "random-string"))
                continue;
            if (val_is(&e, "error-output-type") && kind == TEMPLATE_ERROR_PREFIX)
                continue;
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "!{firehose:%.*s} is not supported here (supported: "
                              "random-string%s)", (int)e.vallen, e.val,
                              kind == TEMPLATE_ERROR_PREFIX ? ", error-output-type" : "");
        } else if (ns_is(&e, "partitionKeyFromLambda")) {
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "partitionKeyFromLambda is not supported: tarn runs no Lambda "
                              "functions; use partitionKeyFromQuery");
        } else {
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "unknown namespace '%.*s' in the prefix (supported: timestamp, "
                              "partitionKeyFromQuery, firehose)", (int)e.nslen, e.ns);
        }
    }
    if (rc < 0)
        return rc;
    if (uses_keys)
        *uses_keys = keys;
    if (uses_time)
        *uses_time = time_;
    return 0;
}

/* A key value must make one valid key segment. */
static int check_segment_value(const char *name, const char *v, tarn_err_t *err)
{
    if (!*v)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                          "the partition key '%s' is empty", name);
    if (!strcmp(v, ".") || !strcmp(v, "..") || strlen(v) > 255)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                          "the partition key '%s' cannot be a folder name", name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/')
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "the partition key '%s' holds '/' or a control character", name);
    return 0;
}

int stream_template_eval(const char *tmpl, const stream_template_ctx_t *c, buf_t *out,
                         tarn_err_t *err)
{
    size_t pos = 0;
    const char *lit;
    size_t litlen;
    expr_t e;
    int rc;
    time_t secs = (time_t)(c->ts_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    while ((rc = next_expr(tmpl, &pos, &lit, &litlen, &e, err)) >= 0) {
        buf_append(out, lit, litlen);
        if (rc == 0)
            return 0;
        if (ns_is(&e, "timestamp")) {
            if ((rc = time_pattern(e.val, e.vallen, &tm, out, err)))
                return rc;
        } else if (ns_is(&e, "partitionKeyFromQuery")) {
            size_t i;
            for (i = 0; i < c->nkeys; i++)
                if (strlen(c->key_names[i]) == e.vallen &&
                    !memcmp(c->key_names[i], e.val, e.vallen))
                    break;
            if (i == c->nkeys || !c->key_values[i])
                return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                                  "the record has no partition key '%.*s'", (int)e.vallen, e.val);
            if ((rc = check_segment_value(c->key_names[i], c->key_values[i], err)))
                return rc;
            buf_puts(out, c->key_values[i]);
        } else if (ns_is(&e, "firehose") && val_is(&e, "error-output-type")) {
            buf_puts(out, c->error_type ? c->error_type : "processing-failed");
        } else if (ns_is(&e, "firehose") && val_is(&e, "random-string")) {
            buf_printf(out, "%011llx", (unsigned long long)(c->random & 0xfffffffffffull));
        } else {
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "the prefix has an unsupported expression");
        }
    }
    return rc;
}

/* ---- JQ ---- */

static void skip_ws(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

/* An identifier or a "quoted" name; malloc'd, NULL on error (the caller reports). */
static char *parse_name(const char **p)
{
    const char *s = *p;
    if (*s == '"') {
        const char *e = strchr(s + 1, '"');
        if (!e || e == s + 1)
            return NULL;
        *p = e + 1;
        return strndup(s + 1, (size_t)(e - s - 1));
    }
    const char *e = s;
    while (isalnum((unsigned char)*e) || *e == '_' || *e == '-')
        e++;
    if (e == s)
        return NULL;
    *p = e;
    return strndup(s, (size_t)(e - s));
}

void stream_jq_free(stream_jq_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->keys[i].name);
        for (size_t j = 0; j < q->keys[i].depth; j++)
            free(q->keys[i].path[j]);
        free(q->keys[i].path);
    }
    free(q->keys);
    q->keys = NULL;
    q->n = 0;
}

static int jq_unsupported(const char *q, const char *p, tarn_err_t *err)
{
    return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                      "MetadataExtractionQuery '%s' is not supported at '%.20s': tarn's JQ "
                      "maps key names to simple paths, like {region: .region, ts: .meta.ts}",
                      q, p);
}

int stream_jq_parse(stream_jq_t *out, const char *q, tarn_err_t *err)
{
    *out = (stream_jq_t){0};
    const char *p = q;
    int rc = 0;
    skip_ws(&p);
    if (*p++ != '{')
        return jq_unsupported(q, p - 1, err);
    for (;;) {
        skip_ws(&p);
        if (*p == '}' && out->n)
            break;
        stream_jq_key_t k = {0};
        stream_jq_key_t *nk = realloc(out->keys, (out->n + 1) * sizeof *nk);
        if (!nk) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            goto fail;
        }
        out->keys = nk;
        if (!(k.name = parse_name(&p))) {
            rc = jq_unsupported(q, p, err);
            goto fail;
        }
        out->keys[out->n++] = k;
        stream_jq_key_t *cur = &out->keys[out->n - 1];
        for (size_t i = 0; i + 1 < out->n; i++)
            if (!strcmp(out->keys[i].name, cur->name)) {
                rc = TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                                "MetadataExtractionQuery names the key '%s' twice", cur->name);
                goto fail;
            }
        skip_ws(&p);
        if (*p++ != ':') {
            rc = jq_unsupported(q, p - 1, err);
            goto fail;
        }
        skip_ws(&p);
        if (*p != '.') {
            rc = jq_unsupported(q, p, err);
            goto fail;
        }
        while (*p == '.') {
            p++;
            char *f = parse_name(&p);
            char **np = f ? realloc(cur->path, (cur->depth + 1) * sizeof *np) : NULL;
            if (!np) {
                free(f);
                rc = f ? TARN_ERR(err, TARN_ENOMEM, "out of memory") : jq_unsupported(q, p, err);
                goto fail;
            }
            cur->path = np;
            cur->path[cur->depth++] = f;
        }
        skip_ws(&p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}')
            break;
        rc = jq_unsupported(q, p, err);
        goto fail;
    }
    p++;
    skip_ws(&p);
    if (*p) {
        rc = jq_unsupported(q, p, err);
        goto fail;
    }
    return 0;
fail:
    stream_jq_free(out);
    return rc;
}

int stream_jq_eval(const stream_jq_t *q, const json_t *rec, char **vals, tarn_err_t *err)
{
    for (size_t i = 0; i < q->n; i++)
        vals[i] = NULL;
    for (size_t i = 0; i < q->n; i++) {
        const stream_jq_key_t *k = &q->keys[i];
        const json_t *v = rec;
        for (size_t j = 0; j < k->depth && v; j++)
            v = json_is_object(v) ? json_object_get(v, k->path[j]) : NULL;
        char *s = NULL;
        if (json_is_string(v))
            s = strdup(json_string_value(v));
        else if (json_is_number(v) || json_is_boolean(v))
            s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        else {
            for (size_t j = 0; j < i; j++) {
                free(vals[j]);
                vals[j] = NULL;
            }
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "the partition key '%s' is %s in the record", k->name,
                              !v || json_is_null(v) ? "missing or null" : "not a scalar");
        }
        if (!s) {
            for (size_t j = 0; j < i; j++) {
                free(vals[j]);
                vals[j] = NULL;
            }
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
        vals[i] = s;
    }
    return 0;
}
