/* Shared by the PostgreSQL protocol's files: the listener (pg_listen.c), a connection's
 * startup, login and message loop (pg_conn.c), running statements and the simple query
 * protocol (pg_query.c), and the extended query protocol (pg_extended.c). */
#ifndef TARN_CONSUME_PGWIRE_PG_INTERNAL_H
#define TARN_CONSUME_PGWIRE_PG_INTERNAL_H

#include "consume/pgwire/pgmsg.h"
#include "consume/pgwire/pgsql.h"
#include "consume/pgwire/pgwire.h"
#include "consume/session.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/worker.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pg_conn pg_conn_t;

struct pgwire {
    pgwire_env_t env;
    int lfd;
    struct ssl_ctx_st *tls; /* SSL_CTX when a certificate is configured, else NULL */
    char addr[128];
    worker_t *acceptor; /* blocks in poll; pgwire_stop shuts lfd down to wake it */
    atomic_bool stopping;
    pthread_mutex_t mu; /* guards conns, nconns */
    pthread_cond_t cv;  /* signalled when a connection ends */
    pg_conn_t *conns;
    int nconns;
    int32_t next_pid;
};

/* A client connection's identity for CancelRequest, and what cancelling it needs. */
struct pg_conn {
    pgwire_t *pg;
    int fd;
    void *slot;        /* admission (env.conn_admit); left before fd is closed */
    char source[64];   /* "host:port" */
    char host[48];     /* the client's address alone: the password back-off's key */
    int32_t pid, key;
    atomic_llong query_id; /* the running query's workload id, 0 when none */
    atomic_bool cancel_requested;
    pg_conn_t *next;
};

typedef struct stmt {
    char *name;
    char *sql;
    pgsql_kind_t kind;
    uint32_t *types; /* parameter types: declared, else inferred (0: unspecified) */
    bool *open;      /* per parameter: the engine left its type open (SELECT $1) */
    int ntypes, nparams;
    struct stmt *next;
} stmt_t;

typedef struct portal {
    char *name;
    char *sql;
    pgsql_kind_t kind;
    json_t *params;
    int16_t *formats; /* result formats as Bind gave them */
    int nformats;
    /* running */
    bool started, done;
    query_t *query; /* while it runs */
    json_t *columns;
    size_t ncols;
    uint32_t *oids;
    const engine_cell_t *cells; /* the current chunk */
    size_t chunk_rows, pos;
    uint64_t rows, bytes;
    pgsql_copy_t copy;
    bool cursor; /* made by DECLARE, read by FETCH */
    struct portal *next;
} portal_t;

/* A connection's protocol state: its socket buffers, login, session, settings,
 * transaction status, prepared statements and portals. */
typedef struct {
    pg_conn_t *c;
    const pgwire_env_t *env;
    SSL *ssl; /* after a TLS handshake, every byte goes through it */
    buf_t in;
    size_t in_off;
    buf_t out;
    bool dead; /* the socket failed: stop writing */
    char user[65];
    char database[128];
    authz_principal_t principal;
    uint64_t iam_generation; /* iam_generation when principal.id was last found alive */
    session_t *session;
    json_t *settings; /* SET values by lowercase name */
    char txn;         /* 'I' idle, 'T' in a block, 'E' failed block */
    bool skip_to_sync;
    stmt_t *stmts;
    portal_t *portals;
    arena_t *a; /* per message */
    tarn_err_t err;
} pg_client_t;

enum {
    PG_READ_CHUNK = 64 * 1024, /* bytes asked of the socket at a time */
    PG_FLUSH_AT = 256 * 1024,  /* rows are sent once this much output is waiting */
    PG_CONN_EOF = 1,           /* the client went away */
};

/* A session parameter: its name as SET and SHOW take it (lowercase), the name
 * ParameterStatus reports it under (NULL when not reported), its default. */
typedef struct {
    const char *name;
    const char *report;
    const char *value;
} pg_setting_t;

extern const pg_setting_t pg_settings_known[];
extern const size_t pg_settings_count;

/* pg_conn.c */
int pg_flush(pg_client_t *k);
/* An ErrorResponse (severity "ERROR" or "FATAL") with err's SQLSTATE and message. */
void pg_send_error(pg_client_t *k, const char *severity, const tarn_err_t *err);
void pg_audit_statement(pg_client_t *k, const char *action, const char *outcome, const char *reason,
                        uint64_t bytes_out, double secs);

/* pg_query.c */
const char *pg_setting_get(pg_client_t *k, const char *name);
/* SET name = value (NULL: RESET); values tarn cannot honour are refused. */
int pg_setting_set(pg_client_t *k, const char *name, const char *value, tarn_err_t *err);
void pg_put_row_description(pg_client_t *k, const portal_t *p);
/* Admits a portal's query to the workload and starts it: its columns are then known. */
int pg_portal_start(pg_client_t *k, portal_t *p, tarn_err_t *err);
/* Runs a bound portal for up to max rows (0: all); simple: the simple protocol, whose
 * queries send their RowDescription first. 1 when suspended. */
int pg_portal_execute(pg_client_t *k, portal_t *p, int32_t max, bool simple, tarn_err_t *err);
void pg_portal_free(pg_client_t *k, portal_t *p);
portal_t **pg_portal_find(pg_client_t *k, const char *name);
/* Closes the cursors (cursors_only), or every portal. */
void pg_portals_close(pg_client_t *k, bool cursors_only);
int pg_run_show(pg_client_t *k, const char *sql, size_t len, bool describe, bool rows,
                tarn_err_t *err);
int pg_run_fetch(pg_client_t *k, const char *sql, bool describe, bool rows, tarn_err_t *err);
void pg_simple_query(pg_client_t *k, const pgmsg_t *m);

/* pg_extended.c: Parse, Bind, Describe, Execute, Close and Sync. */
int pg_ext_parse(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err);
int pg_ext_bind(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err);
int pg_ext_describe(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err);
int pg_ext_execute(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err);
int pg_ext_close(pg_client_t *k, const pgmsg_t *m, tarn_err_t *err);
void pg_ext_sync(pg_client_t *k);
void pg_stmt_free(stmt_t *s);

/* Serves one connection until it ends; frees nothing of c (the listener does). */
void pg_conn_serve(pg_conn_t *c);
/* Handles a CancelRequest for (pid, key): interrupts that connection's running query when
 * the key matches (compared in constant time). */
void pg_cancel(pgwire_t *pg, int32_t pid, int32_t key);

#endif
