/* The PostgreSQL wire protocol listener (v3): psql, psycopg, JDBC and BI tools query the
 * lake through it. One thread per client connection; queries go through the same query
 * sessions, sandbox and workload as REST SQL. What it needs of the server that runs it
 * comes in through pgwire_env_t, filled in at start-up, so this layer never reaches up. */
#ifndef TARN_CONSUME_PGWIRE_PGWIRE_H
#define TARN_CONSUME_PGWIRE_PGWIRE_H

#include "consume/query.h"
#include "govern/audit.h"
#include "govern/backoff.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "util/db.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct pgwire pgwire_t;

/* The server's objects the protocol shares with the other APIs, and its own pieces as
 * hooks (each called with ctx). Everything is borrowed until pgwire_stop. */
typedef struct {
    const query_env_t *queries; /* the engine, catalog and workload queries run on */
    iam_t *iam;              /* users and their SCRAM verifiers */
    grants_t *grants;        /* what non-admins may do; GRANT and REVOKE change it */
    backoff_t *backoff;      /* password back-off, shared with every door with passwords */
    audit_t *audit;          /* NULL: no audit trail */
    db_t *db;                /* the catalog database: synced before an answer confirms */
    const char *tls_cert;    /* PEM files for TLS, or both NULL */
    const char *tls_key;
    void *ctx;
    /* The SQLSTATE for an error code and reason (the server's edge table). Static. */
    const char *(*sqlstate)(int code, tarn_reason_t reason);
    /* A login or statement ended: op is "Connect", "Query" or "Command". */
    void (*observe)(void *ctx, const char *op, int status, double seconds, uint64_t bytes_out);
    /* A wrong password; a login held back this long by the password back-off. */
    void (*auth_failed)(void *ctx);
    void (*auth_held)(void *ctx, double seconds);
    /* Connection admission: a new socket before anything is read from it (NULL when it
     * cannot be registered), its login (< 0 when over the caps), its end (before the
     * socket is closed). */
    void *(*conn_admit)(void *ctx, int fd, const struct sockaddr *peer);
    int (*conn_login)(void *ctx, void *slot, bool admin);
    void (*conn_leave)(void *ctx, void *slot);
} pgwire_env_t;

/* Listens on addr ("127.0.0.1:5470") and serves until pgwire_stop. With env->tls_cert and
 * env->tls_key an SSLRequest is answered 'S' and the connection goes on in TLS; without,
 * it is answered 'N'. env is copied. */
int pgwire_start(pgwire_t **out, const pgwire_env_t *env, const char *addr, tarn_err_t *err);
/* Stops accepting, ends every connection (their running queries are interrupted) and
 * waits for their threads. */
void pgwire_stop(pgwire_t *pg);

#endif
