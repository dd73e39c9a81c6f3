/* The REST API under /v1 (JSON in, JSON out): identities and the audit trail. Routes are
 * a declarative table like S3's; the same SigV4 authentication, authorization and audit
 * happen before any handler runs. */
#include "govern/password.h"
#include "server/rest/rest.h"
#include "server/server_state.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

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
    return json_pack("{s:s, s:s, s:s, s:s, s:s?}", "access_key", k->access_key, "user", k->user,
                     "status", k->status, "created", c, "last_used",
                     k->last_used_ms ? u : NULL);
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

static int create_key(req_t *r)
{
    char ak[21], sk[41];
    int rc = iam_key_create(r->srv->iam, r->params[0], ak, sk, &r->err);
    if (rc)
        return rc;
    rc = rest_respond_json(r, 201, json_pack("{s:s, s:s, s:s}", "user", r->params[0], "access_key", ak,
                                        "secret_key", sk));
    OPENSSL_cleanse(sk, sizeof sk);
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
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, "InvalidArgument",
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
        return TARN_ERR_R(&r->err, TARN_EINVAL, "InvalidArgument", "n must be between 1 and 10000");
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

#define R(n, act, m, route_, res_, b, fin) \
    {.name = n, .action = act, .method = m, .route = route_, .res = res_, .body = b, .finish = fin}
#define TABLE "/v1/tables/{}/{}/{}"
#define TABLE_RES "table/{0}.{1}.{2}"

const op_t rest_ops[] = {
    R("WhoAmI", "iam:GetCallerIdentity", "GET", "/v1/whoami", NULL, BODY_NONE, whoami),
    R("ListUsers", "iam:ListUsers", "GET", "/v1/users", NULL, BODY_NONE, list_users),
    R("CreateUser", "iam:CreateUser", "POST", "/v1/users", NULL, BODY_BUFFER, create_user),
    R("GetUser", "iam:GetUser", "GET", "/v1/users/{}", "user/{0}", BODY_NONE, get_user),
    R("DeleteUser", "iam:DeleteUser", "DELETE", "/v1/users/{}", "user/{0}", BODY_NONE,
      delete_user),
    R("ListAccessKeys", "iam:ListAccessKeys", "GET", "/v1/users/{}/keys", "user/{0}", BODY_NONE,
      list_keys),
    R("CreateAccessKey", "iam:CreateAccessKey", "POST", "/v1/users/{}/keys", "user/{0}",
      BODY_BUFFER, create_key),
    R("RotateAccessKeys", "iam:RotateAccessKeys", "POST", "/v1/users/{}/keys/rotate", "user/{0}",
      BODY_BUFFER, rotate_keys),
    R("UpdateAccessKey", "iam:UpdateAccessKey", "PATCH", "/v1/users/{}/keys/{}", "user/{0}",
      BODY_BUFFER, update_key),
    R("DeleteAccessKey", "iam:DeleteAccessKey", "DELETE", "/v1/users/{}/keys/{}", "user/{0}",
      BODY_NONE, delete_key),
    R("GetAuditRecords", "audit:Read", "GET", "/v1/audit", NULL, BODY_NONE, get_audit),
    /* The catalog. Listing and search are filtered table by table inside. */
    R("ListDatabases", "catalog:Describe", "GET", "/v1/databases", "database/*", BODY_NONE,
      rest_list_databases),
    R("ListTables", "catalog:Describe", "GET", "/v1/tables", "table/*", BODY_NONE,
      rest_list_tables),
    R("GetTable", "catalog:Describe", "GET", TABLE, TABLE_RES, BODY_NONE, rest_get_table),
    R("CreateTable", "catalog:CreateTable", "POST", TABLE, TABLE_RES, BODY_BUFFER,
      rest_create_table),
    R("UpdateTable", "catalog:Alter", "PATCH", TABLE, TABLE_RES, BODY_BUFFER, rest_update_table),
    R("GetTableVersions", "catalog:Describe", "GET", TABLE "/versions", TABLE_RES, BODY_NONE,
      rest_table_versions),
    R("GetTablePartitions", "catalog:Describe", "GET", TABLE "/partitions", TABLE_RES,
      BODY_NONE, rest_table_partitions),
    R("GetTableFiles", "catalog:Describe", "GET", TABLE "/files", TABLE_RES, BODY_NONE,
      rest_table_files),
    R("GetTableSnapshots", "catalog:Describe", "GET", TABLE "/snapshots", TABLE_RES, BODY_NONE,
      rest_table_snapshots),
    R("GetSnapshotFiles", "catalog:Describe", "GET", TABLE "/snapshots/{}", TABLE_RES,
      BODY_NONE, rest_snapshot_files),
    R("StartCrawl", "catalog:Crawl", "POST", "/v1/crawl", "*", BODY_BUFFER, rest_start_crawl),
    R("GetCrawl", "catalog:Crawl", "GET", "/v1/crawl/{}", "crawl/{0}", BODY_NONE, rest_get_crawl),
    R("SearchCatalog", "catalog:Describe", "GET", "/v1/search", "table/*", BODY_NONE,
      rest_search),
    /* Promotion's quarantine: the admin's (objects there may hold any table's data). */
    R("ListQuarantine", "process:ListQuarantine", "GET", "/v1/quarantine", "quarantine/*",
      BODY_NONE, rest_list_quarantine),
    R("ReleaseQuarantine", "process:ReleaseQuarantine", "POST", "/v1/quarantine/release",
      "quarantine/*", BODY_BUFFER, rest_release_quarantine),
    /* Delivery streams (the Firehose API's operations, for clients without an SDK). */
    R("ListDeliveryStreams", "firehose:ListDeliveryStreams", "GET", "/v1/streams",
      "deliverystream/*", BODY_NONE, rest_list_streams),
    R("CreateDeliveryStream", "firehose:CreateDeliveryStream", "POST", "/v1/streams",
      "deliverystream/*", BODY_BUFFER, rest_create_stream),
    R("DescribeDeliveryStream", "firehose:DescribeDeliveryStream", "GET", "/v1/streams/{}",
      "deliverystream/{0}", BODY_NONE, rest_get_stream),
    R("DeleteDeliveryStream", "firehose:DeleteDeliveryStream", "DELETE", "/v1/streams/{}",
      "deliverystream/{0}", BODY_NONE, rest_delete_stream),
    {.name = "PutRecordBatch", .action = "firehose:PutRecordBatch", .method = "POST",
     .route = "/v1/streams/{}/records", .res = "deliverystream/{0}", .body = BODY_BUFFER,
     .finish = rest_put_stream_records, .body_max = STREAM_BATCH_BYTES + (64u << 10)},
    /* Queries; each table a query names is checked again (sql:Select) as its view is made. */
    R("RunQuery", "sql:Select", "POST", "/v1/sql", "table/*", BODY_BUFFER, rest_sql),
    /* Everyone sees and cancels their own queries; the admin everyone's. */
    R("ListQueries", "sql:Select", "GET", "/v1/queries", "query/*", BODY_NONE,
      rest_list_queries),
    R("GetQuery", "sql:Select", "GET", "/v1/queries/{}", "query/{0}", BODY_NONE, rest_get_query),
    R("CancelQuery", "sql:Select", "DELETE", "/v1/queries/{}", "query/{0}", BODY_NONE,
      rest_cancel_query),
};
const size_t rest_nops = sizeof rest_ops / sizeof *rest_ops;

static int not_found(req_t *r)
{
    return TARN_ERR_R(&r->err, TARN_ENOTFOUND, "NotFound", "no such endpoint: %s %s", r->method,
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
    /* Every table of REST operations, in order. */
    const struct {
        const op_t *ops;
        size_t n;
    } tables[] = {{rest_ops, rest_nops},
                  {rest_grant_ops, rest_grant_nops},
                  {rest_pipeline_ops, rest_pipeline_nops}};
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (size_t i = 0; i < tables[t].n; i++) {
            const op_t *op = &tables[t].ops[i];
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
        return TARN_ERR_R(&r->err, TARN_EINVAL, "MethodNotAllowed",
                          "%s is not allowed on %s", r->method, r->path);
    return 0;
}
