/* The HTTP listener (http.c): starting libmicrohttpd, the request helpers it shares with
 * the APIs (req.h), connection admission on its port (http_conns.c), and the small
 * built-in endpoints /healthz and /metrics (metrics.c). */
#ifndef TARN_SERVER_HTTP_H
#define TARN_SERVER_HTTP_H

#include "server/req.h"
#include "util/arena.h"
#include "util/err.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

int http_start(server_t *srv, const struct sockaddr *addr, tarn_err_t *err);
/* Decodes r's path and query and finds its operation: everything before authentication,
 * and what unit tests drive without a socket. Needs r->arena, method, raw_path, raw_query
 * and headers; sets path, query, api, op, resource and the API's own fields (bucket and
 * key, REST captures). */
int http_route(req_t *r);
int http_healthz(req_t *r);
int http_metrics(req_t *r);

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

#endif
