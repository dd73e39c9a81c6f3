/* The REST API under /v1 (JSON in, JSON out): identities and the audit trail. Routes are
 * a declarative table like S3's; the same SigV4 authentication, authorization and audit
 * happen before any handler runs. */
#include "govern/password.h"
#include "server/http.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static int respond_json(req_t *r, int status, json_t *o)
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

static int body_json(req_t *r, json_t **out)
{
    json_error_t je;
    if (!r->body.len) {
        *out = json_object();
        return 0;
    }
    *out = json_loadb(r->body.data, r->body.len, 0, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        return TARN_ERR_R(&r->err, TARN_EINVAL, "MalformedJSON",
                          "the request body is not a JSON object: %s (line %d, column %d)",
                          je.text[0] ? je.text : "expected an object", je.line, je.column);
    }
    return 0;
}

static json_t *user_json(const iam_user_t *u)
{
    char t[25];
    time_fmt_iso_ms(t, u->created_ms);
    return json_pack("{s:s, s:b, s:s, s:i}", "name", u->name, "admin", u->admin, "created", t,
                     "keys", u->keys);
}

static int list_users(req_t *r)
{
    iam_user_t *v;
    size_t n;
    int rc = iam_user_list(r->srv->iam, &v, &n, r->arena, &r->err);
    if (rc)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, user_json(&v[i]));
    return respond_json(r, 200, json_pack("{s:o}", "users", a));
}

static int create_user(req_t *r)
{
    json_t *in;
    int rc = body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "name"));
    const char *password = json_string_value(json_object_get(in, "password"));
    bool admin = json_is_true(json_object_get(in, "admin"));
    char generated[PASSWORD_GEN_LEN + 1];
    json_t *out = NULL;
    if (!name) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, "InvalidArgument",
                        "the body must name the user: {\"name\": \"alice\"}");
        goto done;
    }
    if (!password) {
        if (password_generate(generated, sizeof generated)) {
            rc = TARN_ERR(&r->err, TARN_EIO, "no randomness for a password");
            goto done;
        }
        password = generated;
    }
    if ((rc = iam_user_create(r->srv->iam, name, admin, password, &r->err)))
        goto done;
    r->resource = arena_sprintf(r->arena, "user/%s", name);
    iam_user_t u;
    if ((rc = iam_user_get(r->srv->iam, name, &u, r->arena, &r->err)))
        goto done;
    out = user_json(&u);
    if (password == generated)
        json_object_set_new(out, "password", json_string(generated));
    rc = respond_json(r, 201, out);
done:
    OPENSSL_cleanse(generated, sizeof generated);
    json_decref(in);
    return rc;
}

static int get_user(req_t *r)
{
    iam_user_t u;
    int rc = iam_user_get(r->srv->iam, r->params[0], &u, r->arena, &r->err);
    return rc ? rc : respond_json(r, 200, user_json(&u));
}

static int delete_user(req_t *r)
{
    int rc = iam_user_delete(r->srv->iam, r->params[0], &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

static int list_keys(req_t *r)
{
    iam_key_t *v;
    size_t n;
    int rc = iam_key_list(r->srv->iam, r->params[0], &v, &n, r->arena, &r->err);
    if (rc)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char c[25], u[25] = "";
        time_fmt_iso_ms(c, v[i].created_ms);
        if (v[i].last_used_ms)
            time_fmt_iso_ms(u, v[i].last_used_ms);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "access_key",
                                           v[i].access_key, "user", v[i].user, "status",
                                           v[i].status, "created", c, "last_used",
                                           v[i].last_used_ms ? u : NULL));
    }
    return respond_json(r, 200, json_pack("{s:o}", "keys", a));
}

static int create_key(req_t *r)
{
    char ak[21], sk[41];
    int rc = iam_key_create(r->srv->iam, r->params[0], ak, sk, &r->err);
    if (rc)
        return rc;
    rc = respond_json(r, 201, json_pack("{s:s, s:s, s:s}", "user", r->params[0], "access_key", ak,
                                        "secret_key", sk));
    OPENSSL_cleanse(sk, sizeof sk);
    return rc;
}

static int delete_key(req_t *r)
{
    int rc = iam_key_delete(r->srv->iam, r->params[0], r->params[1], &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

static int whoami(req_t *r)
{
    return respond_json(r, 200, json_pack("{s:s, s:b, s:s}", "user", r->principal.name, "admin",
                                          r->principal.admin, "access_key", r->auth.access_key));
}

static int tail_cb(void *ctx, const char *line)
{
    json_t *rec = json_loads(line, 0, NULL);
    if (rec)
        json_array_append_new(ctx, rec);
    return 0;
}

static int get_audit(req_t *r)
{
    const char *nv = req_query(r, "n");
    long n = nv ? strtol(nv, NULL, 10) : 100;
    if (n < 1 || n > 10000)
        return TARN_ERR_R(&r->err, TARN_EINVAL, "InvalidArgument", "n must be between 1 and 10000");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/audit", r->srv->data_dir);
    json_t *a = json_array();
    int rc = audit_tail(dir, (size_t)n, tail_cb, a, &r->err);
    if (rc) {
        json_decref(a);
        return rc;
    }
    return respond_json(r, 200, json_pack("{s:o}", "records", a));
}

#define R(n, act, m, route_, b, fin) \
    {.name = n, .action = act, .method = m, .route = route_, .body = b, .finish = fin}

const op_t rest_ops[] = {
    R("WhoAmI", "iam:GetCallerIdentity", "GET", "/v1/whoami", BODY_NONE, whoami),
    R("ListUsers", "iam:ListUsers", "GET", "/v1/users", BODY_NONE, list_users),
    R("CreateUser", "iam:CreateUser", "POST", "/v1/users", BODY_BUFFER, create_user),
    R("GetUser", "iam:GetUser", "GET", "/v1/users/{}", BODY_NONE, get_user),
    R("DeleteUser", "iam:DeleteUser", "DELETE", "/v1/users/{}", BODY_NONE, delete_user),
    R("ListAccessKeys", "iam:ListAccessKeys", "GET", "/v1/users/{}/keys", BODY_NONE, list_keys),
    R("CreateAccessKey", "iam:CreateAccessKey", "POST", "/v1/users/{}/keys", BODY_BUFFER,
      create_key),
    R("DeleteAccessKey", "iam:DeleteAccessKey", "DELETE", "/v1/users/{}/keys/{}", BODY_NONE,
      delete_key),
    R("GetAuditRecords", "audit:Read", "GET", "/v1/audit", BODY_NONE, get_audit),
};
const size_t rest_nops = sizeof rest_ops / sizeof *rest_ops;

static int not_found(req_t *r)
{
    return TARN_ERR_R(&r->err, TARN_ENOTFOUND, "NotFound", "no such endpoint: %s %s", r->method,
                      r->path);
}

static const op_t op_not_found = {.name = "NotFound", .action = "rest:Unknown", .finish = not_found};

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

int rest_route(req_t *r)
{
    const char **caps = arena_alloc(r->arena, 4 * sizeof *caps);
    size_t n;
    bool path_known = false;
    if (!caps)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < rest_nops; i++) {
        if (!match(r, rest_ops[i].route, r->path, caps, &n))
            continue;
        path_known = true;
        if (strcmp(rest_ops[i].method, r->method))
            continue;
        r->op = &rest_ops[i];
        r->params = caps;
        r->nparams = n;
        r->resource = n ? arena_sprintf(r->arena, "user/%s", caps[0])
                        : arena_strdup(r->arena, r->path + 4);
        return 0;
    }
    r->op = &op_not_found;
    if (path_known)
        return TARN_ERR_R(&r->err, TARN_EINVAL, "MethodNotAllowed",
                          "%s is not allowed on %s", r->method, r->path);
    return 0;
}
