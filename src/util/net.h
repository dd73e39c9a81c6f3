/* Socket addresses: what a listener needs to know of the address it binds or of a peer. */
#ifndef TARN_UTIL_NET_H
#define TARN_UTIL_NET_H

#include <stdbool.h>
#include <sys/socket.h>

/* True for 127.0.0.0/8 and ::1: listeners warn when they reach the network without TLS. */
bool net_addr_loopback(const struct sockaddr *sa);

#endif
