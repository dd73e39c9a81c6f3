/* libmicrohttpd glue: one req_t per request, created when the request line arrives (so
 * the raw URI is kept for SigV4), routed to an operation, authenticated, authorized and
 * only then handed to the operation's handlers. Bodies stream through the handler's sink
 * (aws-chunked bodies are decoded and their chunk signatures checked on the way). Every
 * request ends in the completion callback, which writes its audit record and metrics. */
#include "server/firehose/firehose.h"
#include "server/http.h"
#include "server/metrics.h"
#include "govern/metrics_token.h"
#include "server/rest/rest.h"
#include "server/s3/s3.h"
#include "server/server_state.h"
#include "util/killpoint.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { BODY_BUFFER_LIMIT = 4 << 20 };

const char *req_header(const req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}

const char *req_query(const req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (!strcmp(r->query[i].name, name))
            return r->query[i].value;
    return NULL;
}

bool req_has_query(const req_t *r, const char *name)
{
    return req_query(r, name) != NULL;
}

void req_add_header(req_t *r, const char *name, const char *value)
{
    if (r->resp && value)
        MHD_add_response_header(r->resp, name, value);
}

void req_respond(req_t *r, int status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
    if (resp) {
        MHD_add_response_header(resp, "x-amz-request-id", r->id);
        MHD_add_response_header(resp, "Server", "tarn");
    }
}

void req_respond_bytes(req_t *r, int status, const char *content_type, const void *p, size_t n)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    req_respond(r, status, resp);
    if (content_type)
        req_add_header(r, "Content-Type", content_type);
    r->bytes_out = n;
}

void req_respond_buf(req_t *r, int status, const char *content_type, buf_t *b)
{
    size_t n = b->len;
    char *p = buf_steal(b);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(p);
    req_respond(r, status, resp);
    if (content_type)
        req_add_header(r, "Content-Type", content_type);
    r->bytes_out = n;
}

int req_body_json(req_t *r, json_t **out)
{
    json_error_t je;
    if (!r->body.len) {
        *out = json_object();
        return 0;
    }
    *out = json_loadb(r->body.data, r->body.len, 0, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        return TARN_ERR_R(&r->err, TARN_EINVAL, MalformedJSON,
                          "the request body is not a JSON object: %s (line %d, column %d)",
                          je.text[0] ? je.text : "expected an object", je.line, je.column);
    }
    return 0;
}

/* ---- headers ---- */

typedef struct {
    req_t *r;
    size_t cap;
    bool oom;
} hdr_ctx_t;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    hdr_ctx_t *c = cls;
    req_t *r = c->r;
    if (r->nheaders == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        sigv4_header_t *nh = arena_alloc(r->arena, ncap * sizeof *nh);
        if (!nh) {
            c->oom = true;
            return MHD_NO;
        }
        if (r->nheaders)
            memcpy(nh, r->headers, r->nheaders * sizeof *nh);
        r->headers = nh;
        c->cap = ncap;
    }
    r->headers[r->nheaders].name = key;
    r->headers[r->nheaders].value = value ? value : "";
    r->nheaders++;
    return MHD_YES;
}

/* ---- life cycle ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    server_t *srv = cls;
    req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->arena = arena_create();
    if (!r->arena) {
        free(r);
        return NULL;
    }
    r->srv = srv;
    r->conn = conn;
    r->start_ns = time_mono_ns();
    r->time_ms = time_now_ms();
    uint64_t seq = atomic_fetch_add(&srv->next_request, 1);
    snprintf(r->id, sizeof r->id, "%08llX%08llX", (unsigned long long)(srv->boot_id & 0xffffffffu),
             (unsigned long long)seq);
    r->raw_uri = arena_strdup(r->arena, uri ? uri : "/");
    if (!r->raw_uri || http_target_split(r->arena, r->raw_uri, &r->raw_path, &r->raw_query)) {
        arena_free(r->arena);
        free(r);
        return NULL;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        char host[INET6_ADDRSTRLEN];
        int port;
        net_addr_text(ci->client_addr, host, sizeof host, &port);
        snprintf(r->source, sizeof r->source, "%s:%d", host, port);
    }
    atomic_fetch_add(&srv->inflight, 1);
    http_conn_busy(r, true);
    return r;
}

static const char *api_name(const req_t *r)
{
    return r->api == API_S3         ? "s3"
           : r->api == API_REST     ? "rest"
           : r->api == API_FIREHOSE ? "firehose"
                                    : "http";
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    server_t *srv = cls;
    req_t *r = *con_cls;
    if (!r)
        return;
    double secs = (double)(time_mono_ns() - r->start_ns) / 1e9;
    const char *outcome;
    if (!r->authenticated || !r->decision.allowed)
        outcome = "deny";
    else if (r->status >= 400 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        outcome = "error";
    else
        outcome = "allow";
    const char *reason = r->err.reason ? tarn_reason_name(r->err.reason) : r->decision.rule;
    if (r->audit_detail && *r->audit_detail) {
        const char *both = arena_sprintf(r->arena, "%s; %s", reason, r->audit_detail);
        reason = both ? both : reason;
    }
    audit_record_t rec = {
        .time_ms = r->time_ms,
        .request_id = r->id,
        .principal = r->authenticated ? r->principal.name : NULL,
        .source = r->source,
        .action = r->op ? r->op->action : "http:Unknown",
        .resource = r->resource ? r->resource : r->path ? r->path : r->raw_path,
        .outcome = outcome,
        .reason = reason,
        .status = r->status ? r->status : 500,
        .bytes_in = r->bytes_in,
        .bytes_out = r->bytes_out,
    };
    tarn_err_t aerr = {0};
    if (srv->audit && audit_append(srv->audit, &rec, &aerr))
        log_error("audit append failed", "error", aerr.msg, "request_id", r->id);
    metrics_observe(srv->metrics, api_name(r), r->op ? r->op->name : "Unknown",
                    r->status ? r->status : 500, secs, r->bytes_in, r->bytes_out);
    if (r->op && !r->op->public_)
        killpoint_hit("http-after-response");
    http_conn_busy(r, false);
    if (r->writer)
        store_writer_abort(r->writer);
    if (r->chunked)
        sigv4_chunked_free(r->chunked);
    if (r->resp)
        MHD_destroy_response(r->resp);
    buf_free(&r->body);
    arena_free(r->arena);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

/* ---- routing ---- */

static const op_t op_healthz = {.name = "Healthz", .action = "http:Healthz", .method = "GET",
                                .finish = http_healthz, .public_ = true};
static const op_t op_metrics = {.name = "Metrics", .action = "metrics:Read", .method = "GET",
                                .finish = http_metrics};

static int route(req_t *r)
{
    const char *p = r->path;
    /* Other methods on these paths are S3 requests on a reserved bucket name. */
    bool read = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (read && !strcmp(p, "/healthz")) {
        r->op = &op_healthz;
        return 0;
    }
    if (read && !strcmp(p, "/metrics")) {
        r->op = &op_metrics;
        r->resource = "metrics";
        return 0;
    }
    if (firehose_is_request(r))
        return firehose_route(r);
    if (!strncmp(p, "/v1/", 4) || !strcmp(p, "/v1")) {
        r->api = API_REST;
        return rest_route(r);
    }
    r->api = API_S3;
    return s3_route(r);
}

int http_route(req_t *r)
{
    r->path = http_unescape(r->arena, r->raw_path, strlen(r->raw_path), false);
    if (!r->path)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidURI, "the request path is malformed");
    int rc = http_query_parse(r->arena, r->raw_query, &r->query, &r->nquery, &r->err);
    return rc ? rc : route(r);
}

/* ---- authentication ---- */

static bool method_has_body(const req_t *r)
{
    const char *cl = req_header(r, "Content-Length");
    const char *te = req_header(r, "Transfer-Encoding");
    return (cl && strcmp(cl, "0")) || te;
}

static int http_chunk_sink(void *ctx, const void *p, size_t n)
{
    req_t *r = ctx;
    return r->sink ? r->sink(r, p, n) : 0;
}

/* S3 signs the path encoded once; other services (curl --aws-sigv4 for the REST API,
 * SDKs for Firehose) normalise and encode it twice. */
static int sigv4_mode(const req_t *r)
{
    return strcmp(r->auth.service, "s3") ? SIGV4_MODE_DEFAULT : SIGV4_MODE_S3;
}

/* The service name a credential scope must carry to be used on this request's API, as
 * AWS scopes each signature to one service. */
static const char *api_service(const req_t *r)
{
    switch (r->api) {
    case API_S3:
        return "s3";
    case API_FIREHOSE:
        return "firehose";
    default:
        return "tarn"; /* the REST API, /metrics */
    }
}

/* What a signature must cover besides the request line and SignedHeaders: it is scoped to
 * this API's service, and a body of the REST and Firehose APIs (SQL, grants, users, keys,
 * pipelines, records) is covered by its hash. UNSIGNED-PAYLOAD and unsigned aws-chunked
 * bodies are S3 object-data conveniences only. */
static int check_scope(req_t *r)
{
    const char *want = api_service(r);
    if (strcmp(r->auth.service, want))
        return TARN_ERR_RV(&r->err, TARN_EINVAL,
                           r->auth.presigned ? TARN_R_AuthorizationQueryParametersError
                                             : TARN_R_AuthorizationHeaderMalformed,
                           "the credential is scoped to service '%s', but this endpoint belongs "
                           "to '%s': sign these requests for service '%s'",
                           r->auth.service, want, want);
    const char *ph = r->auth.payload_hash;
    if (r->api != API_S3 && *ph && strlen(ph) != 64 && method_has_body(r))
        return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                          "x-amz-content-sha256: %s leaves the body unsigned, which only S3 "
                          "object uploads allow; sign the body's SHA-256 (or leave the header "
                          "out and sign the body as any AWS SDK does)",
                          ph);
    return 0;
}

/* GET /metrics with "Authorization: Bearer <metrics token>": a principal that
 * authz_check lets read /metrics and nothing else. */
static int authenticate_bearer(req_t *r, const char *token)
{
    char name[65];
    int rc = metrics_token_check(r->srv->db, token, name, &r->err);
    if (rc)
        return rc;
    const char *label = arena_sprintf(r->arena, "metrics-token:%s", name);
    if (!label)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    r->principal = (authz_principal_t){.name = label, .metrics_only = true};
    r->authenticated = true;
    return 0;
}

/* A key limited to some client addresses (tarn key create --allow-cidr) signs only from
 * them. */
static int key_address_check(req_t *r, const char *allow_cidr)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    net_cidrs_t l;
    int rc = net_cidrs_parse(&l, allow_cidr, "the key's allow_cidr", &r->err);
    if (rc)
        return rc;
    bool ok = ci && net_cidrs_allow(&l, ci->client_addr);
    net_cidrs_free(&l);
    if (ok)
        return 0;
    return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                      "access key %s may sign requests only from %s, and this one comes from %s",
                      r->auth.access_key, allow_cidr, r->source);
}

static int authenticate(req_t *r)
{
    server_t *srv = r->srv;
    const char *bearer = req_header(r, "Authorization");
    if (r->op == &op_metrics && bearer && !strncasecmp(bearer, "Bearer ", 7))
        return authenticate_bearer(r, bearer + 7);
    sigv4_request_t sreq = {r->method, r->raw_path, r->raw_query, r->headers, r->nheaders};
    int rc = sigv4_parse(&r->auth, &sreq, &r->err);
    if (rc || (rc = check_scope(r)))
        return rc;
    iam_user_t user;
    buf_t secret = BUF_INIT;
    const char *allow_cidr = NULL;
    rc = iam_key_resolve(srv->iam, r->auth.access_key, &user, &secret, &allow_cidr, r->arena,
                         &r->err);
    if (rc) {
        if (rc == TARN_ENOTFOUND)
            rc = TARN_EDENIED;
        goto done;
    }
    if (allow_cidr && (rc = key_address_check(r, allow_cidr)))
        goto done;
    const char *ph = r->auth.payload_hash;
    if (!*ph) {
        if (!method_has_body(r)) {
            ph = SIGV4_EMPTY_SHA256;
        } else if (r->op->body == BODY_STREAM) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRequest,
                            "missing required header for this request: x-amz-content-sha256");
            goto done;
        } else {
            r->verify_after_body = true; /* hash the buffered body, then verify */
        }
    }
    r->payload_hash = ph;
    if (!r->verify_after_body) {
        rc = sigv4_verify(&sreq, &r->auth, secret.data, ph, time(NULL), sigv4_mode(r), &r->err);
        if (rc)
            goto done;
        r->authenticated = true;
    }
    if (!strncmp(ph, "STREAMING-", 10)) {
        /* An aws-chunked body: the decoder checks each chunk's signature, the declared
         * checksum trailers and the decoded length as the body arrives. */
        if (r->op->body != BODY_STREAM) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRequest,
                            "aws-chunked payloads are only accepted for uploads");
            goto done;
        }
        rc = sigv4_chunked_create_for_request(&r->chunked, &sreq, &r->auth, secret.data,
                                              http_chunk_sink, r, &r->err);
        if (rc)
            goto done;
    }
    r->principal.name = user.name;
    r->principal.id = user.id;
    r->principal.admin = user.admin;
    r->principal.grants = r->srv->grants;
    if (r->verify_after_body) {
        /* Keep the secret until the body is in; verify_deferred wipes it. */
        char *keep = arena_strdup(r->arena, secret.data);
        if (!keep)
            rc = TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
        r->deferred_secret = keep;
    }
done:
    if (secret.data)
        OPENSSL_cleanse(secret.data, secret.cap);
    buf_free(&secret);
    return rc;
}

static int verify_deferred(req_t *r)
{
    uint8_t sha[32];
    char hex[65];
    hash_sha256(sha, r->body.data ? r->body.data : "", r->body.len);
    hash_hex(hex, sha, 32);
    sigv4_request_t sreq = {r->method, r->raw_path, r->raw_query, r->headers, r->nheaders};
    int rc = sigv4_verify(&sreq, &r->auth, r->deferred_secret, hex, time(NULL), sigv4_mode(r),
                          &r->err);
    OPENSSL_cleanse(r->deferred_secret, strlen(r->deferred_secret));
    if (rc)
        return rc;
    r->authenticated = true;
    return 0;
}

static int authorize(req_t *r)
{
    if (authz_check(&r->principal, r->op->action, r->resource ? r->resource : "*", &r->decision))
        return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                          "%s is not allowed to perform %s on %s", r->principal.name, r->op->action,
                          r->resource ? r->resource : "*");
    return 0;
}

/* Everything that happens before the body: parse, route, authenticate, authorize, begin. */
static int start_request(req_t *r)
{
    hdr_ctx_t hc = {r, 0, false};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, &hc);
    if (hc.oom)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory reading the request headers");
    int rc = http_route(r);
    if (rc)
        return rc;
    r->body_limit = r->op->body_max ? r->op->body_max : BODY_BUFFER_LIMIT;
    if (r->op->public_ || (r->op == &op_metrics && r->srv->metrics_public)) {
        r->authenticated = true;
        r->decision.allowed = true;
        snprintf(r->decision.rule, sizeof r->decision.rule, "public");
    } else {
        if ((rc = authenticate(r)))
            return rc;
        if (r->authenticated && (rc = http_conn_authenticated(r)))
            return rc;
        if (!r->verify_after_body && (rc = authorize(r)))
            return rc;
    }
    if (!r->verify_after_body && r->op->begin && (rc = r->op->begin(r)))
        return rc;
    return 0;
}


static int take_body(req_t *r, const char *data, size_t n)
{
    r->bytes_in += n;
    if (r->chunked)
        return sigv4_chunked_feed(r->chunked, data, n, &r->err);
    switch (r->op->body) {
    case BODY_STREAM:
        return r->sink ? r->sink(r, data, n) : 0;
    case BODY_BUFFER:
        if (r->body.len + n > r->body_limit)
            return TARN_ERR_R(&r->err, TARN_EINVAL, MaxMessageLengthExceeded,
                              "the request body is larger than %zu bytes", r->body_limit);
        if (buf_append(&r->body, data, n))
            return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
        return 0;
    default:
        /* A body where none is expected: an S3 PUT or POST that carries one (bytes meant
         * for an object, say) is refused rather than answered as if they were stored;
         * other requests' bodies are ignored, as S3 does for GET and DELETE. */
        if (n && !strncmp(r->op->action, "s3:", 3) &&
            (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")))
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidRequest,
                              "%s takes no request body", r->op->name);
        return 0;
    }
}

static int finish_request(req_t *r)
{
    int rc = 0;
    if (r->chunked && (rc = sigv4_chunked_finish(r->chunked, &r->err)))
        return rc;
    if (r->verify_after_body) {
        if ((rc = verify_deferred(r)) || (rc = http_conn_authenticated(r)) ||
            (rc = authorize(r)))
            return rc;
        if (r->op->begin && (rc = r->op->begin(r)))
            return rc;
    } else if (r->op->body == BODY_BUFFER && !r->op->public_) {
        /* The signature covers the hash the client declared: the body must have it. */
        uint8_t sha[32];
        hash_sha256(sha, r->body.data ? r->body.data : "", r->body.len);
        if ((rc = sigv4_verify_payload(&r->auth, sha, &r->err)))
            return rc;
    }
    return r->op->finish(r);
}

static enum MHD_Result queue(req_t *r)
{
    /* An answer that reports a change goes out only once the commit holding it is on
     * disk; requests that committed nothing pass straight through. */
    if (db_sync(r->srv->db, &r->err)) {
        r->failed = true;
        req_respond_error(r, TARN_EIO);
    }
    if (r->op && !r->op->public_) /* health checks do not count */
        killpoint_hit("http-before-response");
    if (!r->resp) {
        r->status = r->status ? r->status : 500;
        r->resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (r->close_connection)
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    req_t *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory when the request line arrived */
    r->conn = conn;
    if (r->phase == 0) {
        r->method = method;
        r->phase = 1;
        int rc = start_request(r);
        if (rc) {
            r->failed = true;
            req_respond_error(r, rc);
            /* Answer at once: no 100-continue, the body is not read. */
            return queue(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->failed) {
            int rc = take_body(r, upload_data, *upload_data_size);
            if (rc) {
                r->failed = true;
                req_respond_error(r, rc);
            }
        } else {
            r->bytes_in += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->phase == 2)
        return MHD_YES;
    r->phase = 2;
    if (!r->failed) {
        int rc = finish_request(r);
        if (rc)
            req_respond_error(r, rc);
    }
    return queue(r);
}

/* libmicrohttpd's own messages (a failed TLS handshake, say) as JSON log lines like ours. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("http listener", "detail", msg);
}

/* Before anything is read: a client outside the allow-list is closed at once. */
static enum MHD_Result http_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    server_t *srv = cls;
    if (net_cidrs_allow(&srv->http_allow, addr))
        return MHD_YES;
    server_refuse_address(srv, "http", addr);
    return MHD_NO;
}

int http_start(server_t *srv, const struct sockaddr *addr, tarn_err_t *err)
{
    bool tls = srv->tls_cert_pem.data != NULL;
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return TARN_ERR(err, TARN_EINVAL,
                        "TLS: this build's libmicrohttpd has no TLS support, so it cannot serve "
                        "HTTPS; use a libmicrohttpd built with GnuTLS, or serve without "
                        "--tls-cert");
    /* The same floor as the PostgreSQL port: TLS 1.2 or later. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert_pem.data},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key_pem.data},
        {MHD_OPTION_HTTPS_PRIORITIES, 0,
         (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_TURBO | (tls ? MHD_USE_TLS : 0),
        0, http_accept, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 << 10),
        /* A new connection has the authentication timeout; one that authenticates gets the
         * idle timeout (http_conn_authenticated). Our admission (conns.c) keeps the count
         * below libmicrohttpd's cap, which would refuse the admin along with the rest. */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->auth_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->http_conn_limit,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_ARRAY,
        tls ? tls_opts : tls_opts + 3, MHD_OPTION_END);
    if (!srv->daemon && tls)
        return TARN_ERR(err, TARN_EINVAL,
                        "cannot serve HTTPS: the certificate or key is not valid PEM, they do not "
                        "match, or the address is in use (see the log above)");
    if (!srv->daemon)
        return TARN_ERR(err, TARN_EIO,
                        "cannot listen: the address is in use or not available (try --listen)");
    return 0;
}
