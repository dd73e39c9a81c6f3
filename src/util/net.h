/* Socket addresses: what a listener needs to know of the address it binds or of a peer. */
#ifndef TARN_UTIL_NET_H
#define TARN_UTIL_NET_H

#include "util/err.h"

#include <netdb.h>
#include <stdbool.h>
#include <sys/socket.h>

/* True for 127.0.0.0/8 and ::1: listeners warn when they reach the network without TLS. */
bool net_addr_loopback(const struct sockaddr *sa);

/* The address to listen on for addr, "HOST:PORT" or "[V6]:PORT" (numeric port), named
 * in errors by the option that gave it ("--listen"): *out (caller frees with
 * freeaddrinfo). TARN_EINVAL when it is not one. */
int net_listen_addr(const char *addr, const char *option, struct addrinfo **out,
                    tarn_err_t *err);

#endif
