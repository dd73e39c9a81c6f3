/* Socket address helpers; see net.h. */
#include "util/net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>

bool net_addr_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

int net_listen_addr(const char *addr, const char *option, struct addrinfo **out,
                    tarn_err_t *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1] || (size_t)(colon - addr) >= sizeof host)
        return TARN_ERR(err, TARN_EINVAL, "%s wants ADDR:PORT (got '%s')",
                        option, addr);
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    int g = getaddrinfo(h, colon + 1, &hints, out);
    if (g)
        return TARN_ERR(err, TARN_EINVAL, "cannot use %s address '%s': %s", option, addr,
                        gai_strerror(g));
    return 0;
}

/* One range "ADDR[/BITS]" of n bytes at s. */
static bool cidr_parse(struct net_cidr *c, const char *s, size_t n)
{
    char text[64];
    if (!n || n >= sizeof text)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, text, c->addr) == 1)
        c->family = AF_INET;
    else if (inet_pton(AF_INET6, text, c->addr) == 1)
        c->family = AF_INET6;
    else
        return false;
    int max = c->family == AF_INET ? 32 : 128;
    c->bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > max)
            return false;
        c->bits = (int)b;
    }
    return true;
}

int net_cidrs_parse(net_cidrs_t *out, const char *list, const char *option, tarn_err_t *err)
{
    *out = (net_cidrs_t){0};
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    if (!(out->v = calloc(cap, sizeof *out->v)))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (!cidr_parse(&out->v[out->n], p, n)) {
            int rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                "%s: '%.*s' is not an address range; give ranges such as "
                                "10.0.0.0/8, 192.168.1.7 or fd00::/8, separated by commas",
                                option, (int)n, p);
            net_cidrs_free(out);
            return rc;
        }
        out->n++;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void net_cidrs_free(net_cidrs_t *l)
{
    free(l->v);
    *l = (net_cidrs_t){0};
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes))
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool net_cidrs_allow(const net_cidrs_t *l, const struct sockaddr *sa)
{
    if (!l->n)
        return true;
    if (!sa)
        return false;
    unsigned char addr[16];
    int family = sa->sa_family;
    if (family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            memcpy(addr, a6->s6_addr, 16);
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == family && prefix_match(addr, l->v[i].addr, l->v[i].bits))
            return true;
    return false;
}

void net_addr_text(const struct sockaddr *sa, char *host, size_t cap, int *port)
{
    int p = 0;
    snprintf(host, cap, "?");
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)cap);
        p = ntohs(s4->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)cap);
        p = ntohs(s6->sin6_port);
    }
    if (port)
        *port = p;
}
