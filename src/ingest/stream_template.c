/* Prefix templates; see stream_template.h.
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
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
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
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "the timestamp pattern '%.*s' uses '%c', which tarn does not "
                              "support (supported: y, M, d, H, m, s and quoted literals)",
                              (int)n, p, c);
        }
        if (run > 4)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
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
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "the prefix '%s' has an expression without its closing '}'", t);
    const char *colon = memchr(b + 2, ':', (size_t)(end - b - 2));
    if (!colon)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
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
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                  "!{timestamp:} needs a pattern, e.g. !{timestamp:yyyy-MM-dd}");
            if ((rc = time_pattern(e.val, e.vallen, NULL, NULL, err)))
                return rc;
            time_ = true;
        } else if (ns_is(&e, "partitionKeyFromQuery")) {
            if (kind == TEMPLATE_ERROR_PREFIX)
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                  "ErrorOutputPrefix cannot use partitionKeyFromQuery: records "
                                  "that failed may have no keys");
            if (!e.vallen)
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                  "!{partitionKeyFromQuery:} needs a key name");
            keys = true;
        } else if (ns_is(&e, "firehose")) {
            if (val_is(&e, "random-string"))
                continue;
            if (val_is(&e, "error-output-type") && kind == TEMPLATE_ERROR_PREFIX)
                continue;
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "!{firehose:%.*s} is not supported here (supported: "
                              "random-string%s)", (int)e.vallen, e.val,
                              kind == TEMPLATE_ERROR_PREFIX ? ", error-output-type" : "");
        } else if (ns_is(&e, "partitionKeyFromLambda")) {
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "partitionKeyFromLambda is not supported: tarn runs no Lambda "
                              "functions; use partitionKeyFromQuery");
        } else {
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
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
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "the partition key '%s' is empty", name);
    if (!strcmp(v, ".") || !strcmp(v, "..") || strlen(v) > 255)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "the partition key '%s' cannot be a folder name", name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/')
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
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
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                  "the record has no partition key '%.*s'", (int)e.vallen, e.val);
            if ((rc = check_segment_value(c->key_names[i], c->key_values[i], err)))
                return rc;
            buf_puts(out, c->key_values[i]);
        } else if (ns_is(&e, "firehose") && val_is(&e, "error-output-type")) {
            buf_puts(out, c->error_type ? c->error_type : "processing-failed");
        } else if (ns_is(&e, "firehose") && val_is(&e, "random-string")) {
            buf_printf(out, "%011llx", (unsigned long long)(c->random & 0xfffffffffffull));
        } else {
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "the prefix has an unsupported expression");
        }
    }
    return rc;
}
