/* Socket address helpers; see net.h. */
#include "util/net.h"

#include <arpa/inet.h>
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
