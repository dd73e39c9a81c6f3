/* REST for identities and the audit trail: /v1/users (users and their access keys),
 * /v1/metrics/tokens (bearer tokens that only read /metrics), /v1/whoami and /v1/audit.
 * Managing users and tokens needs the admin or ALL on iam, which the dispatcher checks
 * before these run. */
#include "govern/metrics_token.h"
#include "govern/password.h"
#include "server/rest/rest.h"
#include "server/server_state.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return rest_respond_json(r, 200, json_pack("{s:o}", "users", a));
}

static int create_user(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "name"));
    const char *password = json_string_value(json_object_get(in, "password"));
    bool admin = json_is_true(json_object_get(in, "admin"));
    char generated[PASSWORD_GEN_LEN + 1];
    json_t *out = NULL;
    if (!name) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
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
    rc = rest_respond_json(r, 201, out);
done:
    OPENSSL_cleanse(generated, sizeof generated);
    json_decref(in);
    return rc;
}

static int get_user(req_t *r)
{
    iam_user_t u;
    int rc = iam_user_get(r->srv->iam, r->params[0], &u, r->arena, &r->err);
    return rc ? rc : rest_respond_json(r, 200, user_json(&u));
}

static int delete_user(req_t *r)
{
    int rc = iam_user_delete(r->srv->iam, r->params[0], &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

static json_t *key_json(const iam_key_t *k)
{
    char c[25], u[25] = "";
    time_fmt_iso_ms(c, k->created_ms);
    if (k->last_used_ms)
        time_fmt_iso_ms(u, k->last_used_ms);
    return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "access_key", k->access_key, "user",
                     k->user, "status", k->status, "created", c, "last_used",
                     k->last_used_ms ? u : NULL, "allow_cidr", k->allow_cidr);
}

static int list_keys(req_t *r)
{
    iam_key_t *v;
    size_t n;
    int rc = iam_key_list(r->srv->iam, r->params[0], &v, &n, r->arena, &r->err);
    if (rc)
        return rc;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, key_json(&v[i]));
    return rest_respond_json(r, 200, json_pack("{s:o}", "keys", a));
}

/* POST, optionally {"allow_cidr": "10.1.0.0/16"}: the addresses it may sign from. */
static int create_key(req_t *r)
{
    json_t *in = NULL;
    int rc = r->body.len ? req_body_json(r, &in) : 0;
    if (rc)
        return rc;
    json_t *cv = json_object_get(in, "allow_cidr");
    const char *cidr = json_string_value(cv);
    char ak[21], sk[41];
    if (cv && !cidr)
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "allow_cidr must be a string of ranges: \"10.1.0.0/16,fd00::/8\"");
    else
        rc = iam_key_create(r->srv->iam, r->params[0], cidr, ak, sk, &r->err);
    if (!rc) {
        json_t *out = json_pack("{s:s, s:s, s:s}", "user", r->params[0], "access_key", ak,
                                "secret_key", sk);
        if (out && cidr)
            json_object_set_new(out, "allow_cidr", json_string(cidr));
        rc = rest_respond_json(r, 201, out);
        OPENSSL_cleanse(sk, sizeof sk);
    }
    json_decref(in);
    return rc;
}

/* PATCH {"status": "active"|"inactive"}: the key's other fields never change. */
static int update_key(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *status = json_string_value(json_object_get(in, "status"));
    if (!status)
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "the body must give the key's status: {\"status\": \"inactive\"}");
    else
        rc = iam_key_set_status(r->srv->iam, r->params[0], r->params[1], status, &r->err);
    iam_key_t *v;
    size_t n;
    if (!rc)
        rc = iam_key_list(r->srv->iam, r->params[0], &v, &n, r->arena, &r->err);
    json_t *out = NULL;
    for (size_t i = 0; !rc && i < n; i++)
        if (!strcmp(v[i].access_key, r->params[1]))
            out = key_json(&v[i]);
    if (!rc)
        rc = rest_respond_json(r, 200, out);
    json_decref(in);
    return rc;
}

/* A new key for the user, then the old ones deactivated ({"delete_old": true}: deleted). */
static int rotate_keys(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    bool del = json_is_true(json_object_get(in, "delete_old"));
    json_decref(in);
    char ak[21], sk[41];
    int retired = 0;
    if ((rc = iam_key_rotate(r->srv->iam, r->params[0], del, ak, sk, &retired, &r->err)))
        return rc;
    rc = rest_respond_json(r, 201,
                           json_pack("{s:s, s:s, s:s, s:s, s:i}", "user", r->params[0],
                                     "access_key", ak, "secret_key", sk, "old_keys",
                                     del ? "deleted" : "deactivated", "retired", retired));
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

/* POST {"name": "prometheus"} (the default name): the token, shown this once. */
static int create_metrics_token(req_t *r)
{
    json_t *in = NULL;
    int rc = r->body.len ? req_body_json(r, &in) : 0;
    if (rc)
        return rc;
    json_t *nv = json_object_get(in, "name");
    const char *name = nv ? json_string_value(nv) : "prometheus";
    char token[METRICS_TOKEN_LEN + 1];
    if (!name)
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "name must be a string: {\"name\": \"prometheus\"}");
    else if (!(rc = metrics_token_create(r->srv->db, name, token, &r->err))) {
        r->resource = arena_sprintf(r->arena, "metrics-token/%s", name);
        rc = rest_respond_json(r, 201, json_pack("{s:s, s:s}", "name", name, "token", token));
        OPENSSL_cleanse(token, sizeof token);
    }
    json_decref(in);
    return rc;
}

static int list_metrics_tokens(req_t *r)
{
    json_t *a;
    int rc = metrics_token_list(r->srv->db, &a, &r->err);
    return rc ? rc : rest_respond_json(r, 200, json_pack("{s:o}", "tokens", a));
}

static int delete_metrics_token(req_t *r)
{
    int rc = metrics_token_delete(r->srv->db, r->params[0], &r->err);
    if (rc)
        return rc;
    req_respond_bytes(r, 204, NULL, "", 0);
    return 0;
}

static int whoami(req_t *r)
{
    return rest_respond_json(r, 200, json_pack("{s:s, s:b, s:s}", "user", r->principal.name, "admin",
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
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument, "n must be between 1 and 10000");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/audit", r->srv->data_dir);
    json_t *a = json_array();
    int rc = audit_tail(dir, (size_t)n, tail_cb, a, &r->err);
    if (rc) {
        json_decref(a);
        return rc;
    }
    return rest_respond_json(r, 200, json_pack("{s:o}", "records", a));
}

const op_t rest_iam_ops[] = {
    REST_OP("WhoAmI", "iam:GetCallerIdentity", "GET", "/v1/whoami", NULL, BODY_NONE, whoami),
    REST_OP("ListUsers", "iam:ListUsers", "GET", "/v1/users", NULL, BODY_NONE, list_users),
    REST_OP("CreateUser", "iam:CreateUser", "POST", "/v1/users", NULL, BODY_BUFFER, create_user),
    REST_OP("GetUser", "iam:GetUser", "GET", "/v1/users/{}", "user/{0}", BODY_NONE, get_user),
    REST_OP("DeleteUser", "iam:DeleteUser", "DELETE", "/v1/users/{}", "user/{0}", BODY_NONE,
            delete_user),
    REST_OP("ListAccessKeys", "iam:ListAccessKeys", "GET", "/v1/users/{}/keys", "user/{0}",
            BODY_NONE, list_keys),
    REST_OP("CreateAccessKey", "iam:CreateAccessKey", "POST", "/v1/users/{}/keys", "user/{0}",
            BODY_BUFFER, create_key),
    REST_OP("RotateAccessKeys", "iam:RotateAccessKeys", "POST", "/v1/users/{}/keys/rotate",
            "user/{0}", BODY_BUFFER, rotate_keys),
    REST_OP("UpdateAccessKey", "iam:UpdateAccessKey", "PATCH", "/v1/users/{}/keys/{}", "user/{0}",
            BODY_BUFFER, update_key),
    REST_OP("DeleteAccessKey", "iam:DeleteAccessKey", "DELETE", "/v1/users/{}/keys/{}", "user/{0}",
            BODY_NONE, delete_key),
    REST_OP("GetAuditRecords", "audit:Read", "GET", "/v1/audit", NULL, BODY_NONE, get_audit),
    REST_OP("CreateMetricsToken", "iam:CreateMetricsToken", "POST", "/v1/metrics/tokens", NULL,
            BODY_BUFFER, create_metrics_token),
    REST_OP("ListMetricsTokens", "iam:ListMetricsTokens", "GET", "/v1/metrics/tokens", NULL,
            BODY_NONE, list_metrics_tokens),
    REST_OP("DeleteMetricsToken", "iam:DeleteMetricsToken", "DELETE", "/v1/metrics/tokens/{}",
            "metrics-token/{0}", BODY_NONE, delete_metrics_token),
};
const size_t rest_iam_nops = sizeof rest_iam_ops / sizeof *rest_iam_ops;
