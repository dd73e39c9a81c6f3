/* Internal entry points between the server's files: starting the listener, routing into
 * the S3 and REST tables, and the small built-in endpoints. */
#ifndef TARN_SERVER_HTTP_H
#define TARN_SERVER_HTTP_H

#include "server/server_internal.h"

#include <sys/socket.h>

int http_start(server_t *srv, const struct sockaddr *addr, tarn_err_t *err);
char *http_unescape(arena_t *a, const char *s, size_t n, bool plus_is_space);
int http_healthz(req_t *r);
int http_metrics(req_t *r);
/* Find the operation for r (sets r->op, r->resource and API-specific fields). */
int s3_route(req_t *r);
int rest_route(req_t *r);

#endif
