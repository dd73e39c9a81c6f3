/* One HTTP request's context and the operations it is routed to. Every API keeps a table
 * of operations (op_t); the dispatcher (http.c) finds the request's entry, then
 * authenticates, authorizes and audits with it before any of its handlers run. */
#ifndef TARN_SERVER_REQ_H
#define TARN_SERVER_REQ_H

#include "govern/authz.h"
#include "govern/sigv4.h"
#include "govern/sigv4_chunked.h"
#include "server/conns.h"
#include "server/http_parse.h"
#include "storage/store.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct server server_t; /* server_state.h */

enum { TARGET_SERVICE, TARGET_BUCKET, TARGET_OBJECT };
enum { BODY_NONE, BODY_BUFFER, BODY_STREAM };
enum { API_OTHER, API_S3, API_REST, API_FIREHOSE };

typedef struct req req_t;

typedef struct op {
    const char *name;     /* "PutObject": metrics label and audit action suffix */
    const char *action;   /* "s3:PutObject", "iam:CreateUser" */
    const char *method;
    int target;           /* S3: service, bucket or object; REST: unused */
    const char *query;    /* S3: a query parameter that must be present */
    const char *header;   /* S3: a header that must be present */
    const char *route;    /* REST: "/v1/users/{}/keys" ({} matches one segment) */
    const char *res;      /* REST: resource template, "{0}" etc. are the captures */
    int body;             /* BODY_* */
    int (*begin)(req_t *r);  /* after authorization, before the body (may set r->sink) */
    int (*finish)(req_t *r); /* after the whole body: produce the response */
    bool public_;         /* no authentication (only /healthz) */
    size_t body_max;      /* BODY_BUFFER: largest body (0: 4 MiB) */
} op_t;

struct req {
    server_t *srv;
    struct MHD_Connection *conn;
    arena_t *arena;
    char id[24];
    int64_t start_ns;
    int64_t time_ms;
    const char *method;
    const char *raw_uri;
    const char *raw_path;  /* still percent-encoded */
    const char *raw_query; /* after '?', or "" */
    const char *path;      /* decoded */
    char source[64];
    kv_t *query;           /* decoded query parameters */
    size_t nquery;
    sigv4_header_t *headers;
    size_t nheaders;
    int api;               /* API_S3, API_REST, API_OTHER */
    const op_t *op;
    const char *bucket;    /* S3 */
    const char *key;       /* S3 */
    const char **params;   /* REST {} captures */
    size_t nparams;
    /* identity and decision */
    sigv4_auth_t auth;
    authz_principal_t principal;
    authz_decision_t decision;
    const char *resource;
    const char *audit_detail; /* more of what decided, for the audit record (or NULL) */
    const char *payload_hash; /* what the body must hash to: hex, or a mode string */
    bool verify_after_body;
    char *deferred_secret; /* only while verify_after_body */
    bool authenticated;
    conn_slot_t *slot;     /* the connection's admission slot (NULL: untracked) */
    bool close_connection; /* answer with Connection: close */
    /* body */
    int phase;             /* 0 new, 1 receiving, 2 done */
    bool failed;           /* an error response is prepared; the rest of the body is discarded */
    buf_t body;
    size_t body_limit;
    sigv4_chunked_t *chunked;
    int (*sink)(req_t *r, const void *p, size_t n);
    store_writer_t *writer;
    void *handler_state;
    uint64_t bytes_in, bytes_out;
    /* response */
    struct MHD_Response *resp;
    int status;
    tarn_err_t err;
};

/* ---- http.c: request helpers ---- */
const char *req_header(const req_t *r, const char *name);   /* case-insensitive, first */
const char *req_query(const req_t *r, const char *name);    /* NULL if absent */
bool req_has_query(const req_t *r, const char *name);
/* Sets the response (takes ownership of resp). */
void req_respond(req_t *r, int status, struct MHD_Response *resp);
/* Response from bytes (copied); content_type may be NULL. */
void req_respond_bytes(req_t *r, int status, const char *content_type, const void *p, size_t n);
/* Response taking a malloc'd buffer (freed by the server). */
void req_respond_buf(req_t *r, int status, const char *content_type, buf_t *b);
void req_add_header(req_t *r, const char *name, const char *value);
/* The request body as a JSON object ({} when empty; MalformedJSON otherwise), for the
 * JSON APIs (REST, Firehose); caller decrefs. */
int req_body_json(req_t *r, json_t **out);
/* errors.c: an error in the request's API format (S3 XML, REST JSON, Firehose JSON) from
 * r->err / code. */
void req_respond_error(req_t *r, int code);

#endif
