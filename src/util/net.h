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

/* An allow-list of address ranges, "10.0.0.0/8,192.168.1.7,::1/128" (a bare address is
 * itself alone), IPv4 and IPv6. */
typedef struct {
    struct net_cidr {
        int family; /* AF_INET or AF_INET6 */
        unsigned char addr[16];
        int bits;
    } *v;
    size_t n;
} net_cidrs_t;

/* Parses list into *out (caller frees with net_cidrs_free); TARN_EINVAL names option and
 * the range at fault. */
int net_cidrs_parse(net_cidrs_t *out, const char *list, const char *option, tarn_err_t *err);
void net_cidrs_free(net_cidrs_t *l);
/* Whether sa is in one of l's ranges (an IPv4-mapped IPv6 peer as its IPv4 address); an
 * empty list allows every address. */
bool net_cidrs_allow(const net_cidrs_t *l, const struct sockaddr *sa);
/* The numeric host of sa ("127.0.0.1", "::1"; "?" when sa is not IPv4 or IPv6) into host,
 * and its port into *port (when not NULL; 0 for "?"). */
void net_addr_text(const struct sockaddr *sa, char *host, size_t cap, int *port);

#endif
