/* Private state of the HTTP server shared by its files: the server (every long-lived
 * object of a running lake), one request's context, and the operation tables through
 * which every request is authenticated, authorized and audited before its handler. */
#ifndef TARN_SERVER_INTERNAL_H
#define TARN_SERVER_INTERNAL_H

#include "catalog/catalog.h"
#include "catalog/crawler.h"
#include "consume/workload.h"
#include "process/promote.h"
#include "process/runner.h"
#include "engine/engine.h"
#include "govern/audit.h"
#include "govern/backoff.h"
#include "govern/authz.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "govern/keyring.h"
#include "govern/sigv4.h"
#include "govern/sigv4_chunked.h"
#include "ingest/stream.h"
#include "server/conns.h"
#include "storage/store.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/db.h"
#include "util/err.h"
#include "util/hash.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct metrics metrics_t;

typedef struct server {
    char data_dir[4096];
    store_t *store;
    db_t *db; /* catalog database connection for events, identities */
    keyring_t *keyring;
    iam_t *iam;
    audit_t *audit;
    metrics_t *metrics;
    engine_t *engine; /* the crawler's, for schema inference */
    engine_t *sql_engine; /* query sessions' (parallel statements) */
    char objects_dir[4096]; /* absolute path of <data>/objects */
    char sql_dir[4096];     /* absolute path of <data>/tmp/sql: Parquet answers being made */
    workload_t *workload;   /* query slots, deadlines, history */
    uint64_t query_memory;  /* each slot's share of the query engine's memory, in bytes */
    catalog_t *catalog;
    crawler_t *crawler;
    grants_t *grants; /* groups, roles, filters and grants: what non-admins may do */
    promoter_t *promoter; /* NULL when promotion is off */
    runner_t *runner;     /* the pipeline runner; NULL when pipelines are off */
    char pipeline_dir[4200]; /* <sql_dir>/pipelines: outputs of runs in flight */
    engine_t *stream_engine; /* the stream delivery's, for Parquet conversion */
    stream_mgr_t *streams;
    struct MHD_Daemon *daemon;
    buf_t tls_cert_pem; /* the HTTPS certificate chain and key, kept while the daemon runs */
    buf_t tls_key_pem;
    struct pg_server *pg; /* the PostgreSQL listener, when on */
    conns_t *http_conns;  /* admission of HTTP connections */
    conns_t *pg_conns;    /* admission of PostgreSQL connections */
    backoff_t *backoff;   /* password back-off, shared by every door with passwords */
    int auth_timeout_s;   /* both ports: until a connection authenticates */
    int idle_timeout_s;   /* HTTP, once a connection authenticated */
    int http_conn_limit;  /* libmicrohttpd's own cap: above ours, never reached first */
    atomic_int inflight;
    atomic_uint_fast64_t next_request;
    uint64_t boot_id;
} server_t;

/* True for 127.0.0.0/8 and ::1: listeners warn when they reach the network without TLS. */
bool server_addr_loopback(const struct sockaddr *sa);

/* lake_init.c: opens <data>/tarn.db (owner-only: it holds sealed secrets and password
 * verifiers) with the event queue's tables. */
int server_open_db(db_t **db, const char *data_dir, tarn_err_t *err);

enum { TARGET_SERVICE, TARGET_BUCKET, TARGET_OBJECT };
enum { BODY_NONE, BODY_BUFFER, BODY_STREAM };

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

typedef struct {
    const char *name;
    const char *value;
} kv_t;

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

enum { API_OTHER, API_S3, API_REST, API_FIREHOSE };

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
/* An error in the request's API format (S3 XML, REST JSON) from r->err / code. */
void req_respond_error(req_t *r, int code);
void req_add_header(req_t *r, const char *name, const char *value);

/* ---- http_conns.c: connection admission on the HTTP port (see conns.h) ---- */
/* libmicrohttpd's connection notification: registers and unregisters the socket. */
void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* r's request authenticated: its connection leaves the unauthenticated few (and gets the
 * idle timeout), or, over the cap, the request is refused (SlowDown) and the connection
 * closed. */
int http_conn_authenticated(req_t *r);
/* A request began (busy) or ended on r's connection. */
void http_conn_busy(req_t *r, bool busy);

/* ---- errors.c: the edge table ---- */
typedef struct {
    const char *code; /* S3 error code / REST error code */
    int status;
} err_map_t;
err_map_t errors_map(int code, const char *reason);
/* The PostgreSQL SQLSTATE for a code and reason ("42P01", ...). Static string. */
const char *errors_sqlstate(int code, const char *reason);
/* Maps code for r and returns the message to send: r's own, or for a server fault a
 * generic one (the fault is logged with the request id). */
const char *errors_describe(req_t *r, int code, err_map_t *m);

/* ---- s3 ---- */
extern const op_t s3_ops[];
extern const size_t s3_nops;
/* Checks x-amz-content-sha256 (literal), Content-MD5 and x-amz-checksum-* (header or
 * aws-chunked trailer) against the digests of the received payload. */
int s3_check_payload(req_t *r, const hash_digests_t *d);
unsigned s3_wanted_hashes(const req_t *r);
int s3_xml_error(req_t *r, int code);

/* ---- rest ---- */
extern const op_t rest_ops[];
extern const size_t rest_nops;
extern const op_t rest_grant_ops[]; /* groups, roles, data filters, grants */
extern const size_t rest_grant_nops;
/* Responds with o (taking it) as JSON. */
int rest_respond_json(req_t *r, int status, json_t *o);
/* The request body as a JSON object ({} when empty); caller decrefs. */
int rest_body_json(req_t *r, json_t **out);
/* rest_catalog.c: handlers of /v1/databases, /v1/tables, /v1/crawl, /v1/search */
int rest_list_databases(req_t *r);
int rest_list_tables(req_t *r);
int rest_get_table(req_t *r);
int rest_create_table(req_t *r);
int rest_update_table(req_t *r);
int rest_table_versions(req_t *r);
int rest_table_partitions(req_t *r);
int rest_table_files(req_t *r);
int rest_table_snapshots(req_t *r);
int rest_snapshot_files(req_t *r);
int rest_start_crawl(req_t *r);
int rest_get_crawl(req_t *r);
int rest_search(req_t *r);
/* rest_quarantine.c */
int rest_list_quarantine(req_t *r);
int rest_release_quarantine(req_t *r);
/* rest_pipelines.c: /v1/pipelines and the managed tables' rollback and compaction */
extern const op_t rest_pipeline_ops[];
extern const size_t rest_pipeline_nops;
/* rest_sql.c */
int rest_sql(req_t *r);
int rest_list_queries(req_t *r);
int rest_get_query(req_t *r);
int rest_cancel_query(req_t *r);

/* ---- firehose.c: the Firehose JSON 1.1 API and /v1/streams ---- */
bool firehose_is_request(const req_t *r);
int firehose_route(req_t *r);
/* Maps a code and reason to Firehose's error type and HTTP status. */
err_map_t errors_firehose(int code, const char *reason);
int rest_list_streams(req_t *r);
int rest_create_stream(req_t *r);
int rest_get_stream(req_t *r);
int rest_delete_stream(req_t *r);
int rest_put_stream_records(req_t *r);

/* ---- metrics.c ---- */
metrics_t *metrics_create(void);
void metrics_free(metrics_t *m);
void metrics_observe(metrics_t *m, const char *api, const char *op, int status, double seconds,
                     uint64_t bytes_in, uint64_t bytes_out);
int metrics_render(metrics_t *m, store_t *store, catalog_t *catalog, buf_t *out);
/* A failed password login at door ("postgres"; a static string). */
void metrics_auth_failure(metrics_t *m, const char *door);
/* Seconds a login attempt at door was held back by the password back-off. */
void metrics_auth_backoff(metrics_t *m, const char *door, double seconds);

#endif
