/* The PostgreSQL wire protocol listener (v3): psql, psycopg, JDBC and BI tools query the
 * lake through it. One thread per client connection; queries go through the same query
 * sessions, sandbox and workload as REST SQL. */
#ifndef TARN_SERVER_PG_H
#define TARN_SERVER_PG_H

#include "util/err.h"

struct server;
typedef struct pg_server pg_server_t;

/* Listens on addr ("127.0.0.1:5470") and serves until pg_stop. With tls_cert and tls_key
 * (PEM files; NULL for none) an SSLRequest is answered 'S' and the connection goes on in
 * TLS; without, it is answered 'N'. */
int pg_start(pg_server_t **out, struct server *srv, const char *addr, const char *tls_cert,
             const char *tls_key, tarn_err_t *err);
/* Stops accepting, ends every connection (their running queries are interrupted) and
 * waits for their threads. */
void pg_stop(pg_server_t *pg);

#endif
