/* The server: every long-lived object of a running lake, created at start-up (server.c)
 * and shared by the listeners and the handlers of every API, which reach it through their
 * request (req.h) or connection. */
#ifndef TARN_SERVER_SERVER_STATE_H
#define TARN_SERVER_SERVER_STATE_H

#include "catalog/catalog.h"
#include "catalog/crawler.h"
#include "consume/query.h"
#include "consume/workload.h"
#include "engine/engine.h"
#include "govern/audit.h"
#include "govern/backoff.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "govern/keyring.h"
#include "ingest/source_runner.h"
#include "ingest/stream.h"
#include "process/promote.h"
#include "process/runner.h"
#include "server/conns.h"
#include "storage/store.h"
#include "util/buf.h"
#include "util/db.h"
#include "util/err.h"
#include "util/net.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct metrics metrics_t;
typedef struct checkpointer checkpointer_t;

typedef struct server {
    char data_dir[4096];
    store_t *store;
    db_t *db; /* catalog database connection for events, identities */
    keyring_t *keyring;
    iam_t *iam;
    audit_t *audit;
    checkpointer_t *checkpointer; /* checkpoints db and syncs audit while they change */
    metrics_t *metrics;
    bool metrics_public; /* /metrics needs no authentication (tarn serve --metrics-public) */
    engine_t *engine; /* the crawler's, for schema inference */
    engine_t *sql_engine; /* query sessions' (parallel statements) */
    char objects_dir[4096]; /* absolute path of <data>/objects */
    char sql_dir[4096];     /* absolute path of <data>/tmp/sql: Parquet answers being made */
    workload_t *workload;   /* query slots, deadlines, history */
    uint64_t query_memory;  /* each slot's share of the query engine's memory, in bytes */
    query_env_t queries;    /* what every query runs on (consume/query.h) */
    catalog_t *catalog;
    crawler_t *crawler;
    grants_t *grants; /* groups, roles, filters and grants: what non-admins may do */
    promoter_t *promoter; /* NULL when promotion is off */
    runner_t *runner;     /* the pipeline runner; NULL when pipelines are off */
    char pipeline_dir[4200]; /* <sql_dir>/pipelines: outputs of runs in flight */
    engine_t *stream_engine; /* the stream delivery's, for Parquet conversion */
    stream_mgr_t *streams;
    engine_t *source_engine; /* the sources' Parquet conversion */
    source_runner_t *sources;
    struct MHD_Daemon *daemon;
    buf_t tls_cert_pem; /* the HTTPS certificate chain and key, kept while the daemon runs */
    buf_t tls_key_pem;
    struct pgwire *pg;    /* the PostgreSQL listener, when on */
    conns_t *http_conns;  /* admission of HTTP connections */
    conns_t *pg_conns;    /* admission of PostgreSQL connections */
    net_cidrs_t http_allow, pg_allow; /* client addresses each port serves (empty: all) */
    backoff_t *backoff;   /* password back-off, shared by every door with passwords */
    int auth_timeout_s;   /* both ports: until a connection authenticates */
    int idle_timeout_s;   /* HTTP, once a connection authenticated */
    int http_conn_limit;  /* libmicrohttpd's own cap: above ours, never reached first */
    atomic_int inflight;
    atomic_uint_fast64_t next_request;
    uint64_t boot_id;
} server_t;

/* checkpoint.c: starts the worker that checkpoints db and syncs audit after commits and
 * appends (both borrowed until checkpointer_stop, which comes before they close). */
/* A connection from an address the port's allow-list (--allow-cidr) does not hold: logged
 * and audited (net:Connect, deny) before it is closed, with no protocol work done. */
void server_refuse_address(server_t *s, const char *door, const struct sockaddr *peer);

int checkpointer_start(checkpointer_t **out, db_t *db, audit_t *audit, tarn_err_t *err);
void checkpointer_stop(checkpointer_t *c); /* NULL ok */

/* lake_init.c: opens <data>/tarn.db (owner-only: it holds sealed secrets and password
 * verifiers) with the event queue's tables. */
int server_open_db(db_t **db, const char *data_dir, tarn_err_t *err);

#endif
