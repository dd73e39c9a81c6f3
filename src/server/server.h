/* `tarn serve`: the HTTP listener for S3, REST /v1 and /metrics on one port, the
 * PostgreSQL protocol listener on another, and the background work of a lake (crawler,
 * promotion, stream delivery, the pipeline runner). */
#ifndef TARN_SERVER_SERVER_H
#define TARN_SERVER_SERVER_H

#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *data_dir; /* the lake; initialised when missing */
    const char *listen;   /* "127.0.0.1:9470" */
    int query_slots;      /* queries running at once; 0: one per core */
    int query_timeout_s;  /* longest a query may run */
    int queue_wait_s;     /* longest a query may wait for a slot */
    const char *pg_listen; /* PostgreSQL protocol: "127.0.0.1:5470", or "off" */
    const char *tls_cert;  /* PEM certificate chain and key for TLS, or NULL */
    const char *tls_key;
    /* Memory per query slot, in bytes; the engine's limit is this times the slots.
     * 0: DuckDB's default limit (80% of the RAM) shared by the slots. */
    uint64_t query_memory;
    bool promotion_off;      /* no promotion raw -> cleaned: raw keeps what lands */
    int64_t raw_retention_s; /* how long raw keeps a promoted object (0: removed at once) */
    bool pipelines_off;      /* no pipeline runner: specs are kept, nothing runs */
    int pipeline_runs;       /* pipeline runs at once (0: 2) */
    /* Compact a managed table's partition after a commit once it has more small files
     * than this (0: never on its own; `tarn table compact` still does it). */
    int compact_min_files;
    /* Connections (0: the default in docs/server.md). A connection is unauthenticated
     * until an HTTP request on it is signed right or a PostgreSQL login succeeds. */
    int auth_timeout_s;      /* longest a connection stays unauthenticated (10) */
    int idle_timeout_s;      /* HTTP: longest an authenticated connection idles (300) */
    int max_unauth;          /* each port: unauthenticated connections at once (256) */
    int max_unauth_per_addr; /* each port: the same from one client address (64) */
    int http_max_connections; /* authenticated HTTP connections (1000) */
    int pg_max_connections;   /* PostgreSQL sessions (100) */
    int reserved_admin;      /* each port: of the above, kept for the admin (3) */
    /* /metrics without authentication: only with a loopback --listen (else refused). */
    bool metrics_public;
    /* Client address ranges served ("10.0.0.0/8,::1"), on both ports unless the port's
     * own list is given; NULL: every address. Others are closed at accept, audited. */
    const char *allow_cidr, *allow_cidr_http, *allow_cidr_pg;
} server_opts_t;

/* Creates a lake at data_dir: folders, catalog database, keyring, admin user with a key
 * and password written to <data>/admin.credentials (0600). Prints the credentials once
 * to out when not NULL. TARN_EEXISTS if a lake is already there. */
int server_init_lake(const char *data_dir, void *out_file, tarn_err_t *err);

/* Creates <data>/tls/key.pem (0600) and cert.pem, a self-signed certificate for localhost,
 * 127.0.0.1, ::1 and this host's name, unless both are there already; prints where they
 * are and how servers and clients use them to out when not NULL. */
int server_init_tls(const char *data_dir, void *out_file, tarn_err_t *err);

/* Serves until SIGINT/SIGTERM, then lets in-flight requests finish. */
int server_run(const server_opts_t *o, tarn_err_t *err);

#endif
