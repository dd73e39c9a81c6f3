/* Connection admission for a listener (HTTP, PostgreSQL): connections that have not
 * authenticated are few, short-lived and evicted oldest first, so that any number of
 * idle or half-open sockets cannot keep the admin out; authenticated ones are capped
 * with slots kept for the admin. */
#ifndef TARN_SERVER_CONNS_H
#define TARN_SERVER_CONNS_H

#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct conns conns_t;
typedef struct conn_slot conn_slot_t;

typedef struct {
    const char *door;        /* "http", "postgres": logs and metrics (static string) */
    int max_unauth;          /* unauthenticated connections at once */
    int max_unauth_per_addr; /* unauthenticated connections at once from one address */
    int max_auth;            /* authenticated connections at once */
    int reserved_admin;      /* of max_auth, slots only the admin may take */
    int auth_timeout_s;      /* longest a connection may stay unauthenticated */
    bool evict_idle;         /* idle authenticated connections may be closed to admit a new
                              * one (HTTP keep-alive; never a PostgreSQL session) */
} conns_opts_t;

typedef struct {
    long long unauth, auth; /* now */
    long long evicted_cap, evicted_addr, evicted_timeout, evicted_idle;
    long long refused; /* authenticated, over the cap */
} conns_stats_t;

/* Starts the reaper that closes connections past the authentication timeout. */
int conns_create(conns_t **out, const conns_opts_t *o, tarn_err_t *err);
/* After every connection was removed. */
void conns_free(conns_t *c);

/* Registers a new connection's socket (before anything is read from it) as
 * unauthenticated. To make room it may shut down the oldest unauthenticated connection
 * of the same address, or of all; never refuses the new one. NULL when out of memory.
 * fd must stay open until conns_remove: eviction is shutdown(fd) under the table's lock,
 * so the descriptor cannot have been reused. */
conn_slot_t *conns_add(conns_t *c, int fd, const struct sockaddr *peer);
/* Unregisters; the caller closes the socket only after this returns. */
void conns_remove(conns_t *c, conn_slot_t *s);
/* The connection's client has proven who it is: 1 when this call moved it among the
 * authenticated, 0 when it already was. TARN_EBUSY when the authenticated cap is reached
 * (for a non-admin, when only the admin's reserved slots remain) and no idle connection
 * could be closed to make room, or when the connection is being closed already. */
int conns_authenticate(conns_t *c, conn_slot_t *s, bool admin);
/* With evict_idle, an authenticated non-admin connection between requests is idle: it is
 * closed, the longest idle first, when an authentication finds the cap reached. */
void conns_set_busy(conns_t *c, conn_slot_t *s, bool busy);
void conns_stats(conns_t *c, conns_stats_t *out);

#endif
