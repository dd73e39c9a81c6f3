/* Shared between the PostgreSQL listener (pg_listen.c) and the per-connection protocol
 * (pg_conn.c). */
#ifndef TARN_SERVER_PG_INTERNAL_H
#define TARN_SERVER_PG_INTERNAL_H

#include "server/pg.h"
#include "server/server_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum { PG_MAX_CONNECTIONS = 100 };

typedef struct pg_conn pg_conn_t;

struct pg_server {
    server_t *srv;
    int lfd;
    struct ssl_ctx_st *tls; /* SSL_CTX when a certificate is configured, else NULL */
    char addr[128];
    pthread_t accept_thread;
    atomic_bool stopping;
    pthread_mutex_t mu; /* guards conns, nconns */
    pthread_cond_t cv;  /* signalled when a connection ends */
    pg_conn_t *conns;
    int nconns;
    int32_t next_pid;
};

/* A client connection's identity for CancelRequest, and what cancelling it needs. */
struct pg_conn {
    pg_server_t *pg;
    int fd;
    char source[64];
    int32_t pid, key;
    atomic_llong query_id; /* the running query's workload id, 0 when none */
    atomic_bool cancel_requested;
    pg_conn_t *next;
};

/* Serves one connection until it ends; frees nothing of c (the listener does). */
void pg_conn_serve(pg_conn_t *c);
/* Handles a CancelRequest for (pid, key): interrupts that connection's running query when
 * the key matches (compared in constant time). */
void pg_cancel(pg_server_t *pg, int32_t pid, int32_t key);

#endif
