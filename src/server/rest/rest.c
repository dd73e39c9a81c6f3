/* The REST API under /v1 (JSON in, JSON out): routing. Each resource family keeps a
 * declarative table of its operations in its own file, like S3's (s3_ops.c); a request
 * takes the first entry whose route and method match, and the dispatcher authenticates,
 * authorizes and audits with that entry before any handler runs. */
#include "server/rest/rest.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rest_respond_json(req_t *r, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    buf_t b = BUF_INIT;
    buf_puts(&b, text);
    buf_putc(&b, '\n');
    OPENSSL_cleanse(text, strlen(text)); /* may hold a secret shown once */
    free(text);
    req_respond_buf(r, status, "application/json", &b);
    return 0;
}

/* Every family's table, in the order routes are tried. */
static const struct {
    const op_t *ops;
    const size_t *n;
} families[] = {
    {rest_iam_ops, &rest_iam_nops},
    {rest_catalog_ops, &rest_catalog_nops},
    {rest_quarantine_ops, &rest_quarantine_nops},
    {rest_stream_ops, &rest_stream_nops},
    {rest_sql_ops, &rest_sql_nops},
    {rest_grant_ops, &rest_grant_nops},
    {rest_pipeline_ops, &rest_pipeline_nops},
    {rest_source_ops, &rest_source_nops},
    {rest_blueprint_ops, &rest_blueprint_nops},
};

static int not_found(req_t *r)
{
    return TARN_ERR_R(&r->err, TARN_ENOTFOUND, NotFound, "no such endpoint: %s %s", r->method,
                      r->path);
}

/* The body is read (and so verified against its signature) like any op's, so a POST to
 * an unknown route answers 404, not a signature mismatch over a body never read. */
static const op_t op_not_found = {.name = "NotFound", .action = "rest:Unknown",
                                  .body = BODY_BUFFER, .finish = not_found};

/* Matches path against a route with {} wildcards, capturing the segments. */
static bool match(req_t *r, const char *route, const char *path, const char **caps, size_t *n)
{
    *n = 0;
    while (*route && *path) {
        if (route[0] == '{' && route[1] == '}') {
            const char *e = strchr(path, '/');
            size_t len = e ? (size_t)(e - path) : strlen(path);
            if (!len || *n == 4)
                return false;
            caps[(*n)++] = arena_strndup(r->arena, path, len);
            path += len;
            route += 2;
            continue;
        }
        if (*route != *path)
            return false;
        route++;
        path++;
    }
    return !*route && (!*path || !strcmp(path, "/"));
}

/* The resource a route names: template with {0}, {1}, ... replaced by the captures. */
static const char *resource_of(req_t *r, const char *tmpl, const char **caps, size_t n)
{
    buf_t b = BUF_INIT;
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '{' && p[1] >= '0' && p[1] <= '9' && p[2] == '}' && (size_t)(p[1] - '0') < n) {
            buf_puts(&b, caps[p[1] - '0']);
            p += 2;
        } else {
            buf_putc(&b, *p);
        }
    }
    const char *out = b.data ? arena_strdup(r->arena, b.data) : NULL;
    buf_free(&b);
    return out;
}

int rest_route(req_t *r)
{
    const char **caps = arena_alloc(r->arena, 4 * sizeof *caps);
    size_t n;
    bool path_known = false;
    if (!caps)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    for (size_t t = 0; t < sizeof families / sizeof *families; t++)
        for (size_t i = 0; i < *families[t].n; i++) {
            const op_t *op = &families[t].ops[i];
            if (!match(r, op->route, r->path, caps, &n))
                continue;
            path_known = true;
            if (strcmp(op->method, r->method))
                continue;
            r->op = op;
            r->params = caps;
            r->nparams = n;
            r->resource = op->res ? resource_of(r, op->res, caps, n)
                                  : arena_strdup(r->arena, r->path + 4);
            return r->resource ? 0 : TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
        }
    r->op = &op_not_found;
    if (path_known)
        return TARN_ERR_R(&r->err, TARN_EINVAL, MethodNotAllowed,
                          "%s is not allowed on %s", r->method, r->path);
    return 0;
}

int rest_yaml_body(req_t *r, const char *what, json_t **in, const char **yaml, size_t *len)
{
    const char *ct = req_header(r, "Content-Type");
    *in = NULL;
    if (ct && !strncasecmp(ct, "application/json", 16)) {
        int rc = req_body_json(r, in);
        if (rc)
            return rc;
        const json_t *spec = json_object_get(*in, "spec");
        *yaml = json_string_value(spec);
        *len = json_string_length(spec);
    } else {
        *yaml = r->body.data;
        *len = r->body.len;
    }
    if (!*yaml || !*len)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "the body is the %s: its YAML text (Content-Type: application/yaml), "
                          "or {\"spec\": \"<yaml>\"} as JSON",
                          what);
    return 0;
}
