/* Connection admission on the HTTP port: libmicrohttpd tells us when a connection starts
 * and ends, and the request code when one authenticates; the policy lives in conns.c.
 * Safe against descriptor reuse: libmicrohttpd sends the CLOSED notification before it
 * closes the socket (MHD_cleanup_connections; the connection's thread only shuts it
 * down), and eviction shuts the socket down under the lock conns_remove takes. */
#include "server/http.h"
#include "server/server_state.h"

#include <sys/socket.h>

void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    server_t *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!fi)
            return;
        conn_slot_t *s = conns_add(srv->http_conns, fi->connect_fd, ai ? ai->client_addr : NULL);
        /* Out of memory: refuse it rather than let it go uncounted. */
        if (!s)
            shutdown(fi->connect_fd, SHUT_RDWR);
        *socket_context = s;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conns_remove(srv->http_conns, *socket_context);
        *socket_context = NULL;
    }
}

static conn_slot_t *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

int http_conn_authenticated(req_t *r)
{
    if (!r->slot)
        return 0;
    int rc = conns_authenticate(r->srv->http_conns, r->slot, r->principal.admin);
    if (rc == 1) {
        /* Out of the short leash of the unauthenticated: the normal idle timeout. */
        MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)r->srv->idle_timeout_s);
        return 0;
    }
    if (rc < 0) {
        r->close_connection = true;
        return TARN_ERR_R(&r->err, TARN_EBUSY, SlowDown,
                          r->principal.admin
                              ? "too many connections; try again later"
                              : "too many connections: the remaining ones are kept for the "
                                "admin; try again later");
    }
    return 0;
}

void http_conn_busy(req_t *r, bool busy)
{
    if (busy)
        r->slot = slot_of(r->conn);
    conns_set_busy(r->srv->http_conns, r->slot, busy);
}
