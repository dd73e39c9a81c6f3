/* The PostgreSQL listener: accepts connections, runs each on its own thread, keeps the
 * registry CancelRequest looks connections up in, and ends them all on shutdown. */
#include "consume/pgwire/pg_internal.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_main(void *arg)
{
    pg_conn_t *c = arg;
    pgwire_t *pg = c->pg;
    pg_conn_serve(c);
    /* Out of the admission table before the descriptor can be reused. */
    pg->env.conn_leave(pg->env.ctx, c->slot);
    pthread_mutex_lock(&pg->mu);
    for (pg_conn_t **pp = &pg->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pg->nconns--;
    pthread_cond_broadcast(&pg->cv);
    pthread_mutex_unlock(&pg->mu);
    close(c->fd);
    free(c);
}

static void source_of(const struct sockaddr_storage *ss, char *out, size_t cap, char *host_out,
                      size_t host_cap)
{
    char host[INET6_ADDRSTRLEN];
    int port;
    net_addr_text((const struct sockaddr *)ss, host, sizeof host, &port);
    snprintf(out, cap, "%s:%d", host, port);
    snprintf(host_out, host_cap, "%s", host);
}

/* Accepts connections until pgwire_stop, which shuts the socket down: that ends the wait. */
static void accept_loop(worker_t *w, void *arg)
{
    (void)w;
    pgwire_t *pg = arg;
    while (!atomic_load(&pg->stopping)) {
        struct pollfd pfd = {.fd = pg->lfd, .events = POLLIN};
        if (poll(&pfd, 1, -1) <= 0 || atomic_load(&pg->stopping))
            continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(pg->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pg_conn_t *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->pg = pg;
        c->fd = fd;
        source_of(&ss, c->source, sizeof c->source, c->host, sizeof c->host);
        /* Registered before its thread reads a byte: it may evict an older
         * unauthenticated connection, and may itself be evicted or timed out. */
        if (!(c->slot = pg->env.conn_admit(pg->env.ctx, fd, (struct sockaddr *)&ss))) {
            free(c);
            close(fd);
            continue;
        }
        uint8_t rnd[4];
        hash_random(rnd, sizeof rnd);
        memcpy(&c->key, rnd, sizeof c->key);
        pthread_mutex_lock(&pg->mu);
        c->pid = pg->next_pid++;
        if (pg->next_pid <= 0)
            pg->next_pid = 1000;
        c->next = pg->conns;
        pg->conns = c;
        pg->nconns++;
        pthread_mutex_unlock(&pg->mu);
        if (worker_detach("pg-conn", conn_main, c, NULL)) {
            pthread_mutex_lock(&pg->mu);
            pg->conns = c->next;
            pg->nconns--;
            pthread_mutex_unlock(&pg->mu);
            pg->env.conn_leave(pg->env.ctx, c->slot);
            close(fd);
            free(c);
        }
    }
}

void pg_cancel(pgwire_t *pg, int32_t pid, int32_t key)
{
    pthread_mutex_lock(&pg->mu);
    for (pg_conn_t *c = pg->conns; c; c = c->next) {
        if (c->pid != pid || !hash_equal(&c->key, sizeof c->key, &key, sizeof key))
            continue;
        long long id = atomic_load(&c->query_id);
        if (id) {
            atomic_store(&c->cancel_requested, true);
            query_cancel(pg->env.queries->workload, id);
        }
        break;
    }
    pthread_mutex_unlock(&pg->mu);
}

/* A TLS context for the certificate chain and key (PEM), TLS 1.2 or later. */
static int tls_context(SSL_CTX **out, const char *cert, const char *key, tarn_err_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return TARN_ERR(err, TARN_ENOMEM, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    const char *what = NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        what = "read the certificate";
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        what = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                   ? "use the key: it does not match the certificate"
                   : "read the private key";
    else if (SSL_CTX_check_private_key(ctx) != 1)
        what = "use the key: it does not match the certificate";
    if (what) {
        char detail[256];
        ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
        SSL_CTX_free(ctx);
        return TARN_ERR(err, TARN_EINVAL, "TLS: cannot %s (%s, %s): %s", what, cert, key, detail);
    }
    *out = ctx;
    return 0;
}

int pgwire_start(pgwire_t **out, const pgwire_env_t *env, const char *addr, tarn_err_t *err)
{
    const char *tls_cert = env->tls_cert, *tls_key = env->tls_key;
    SSL_CTX *tls = NULL;
    if ((tls_cert || tls_key) && !(tls_cert && tls_key))
        return TARN_ERR(err, TARN_EINVAL, "TLS needs both --tls-cert and --tls-key");
    int trc = tls_cert ? tls_context(&tls, tls_cert, tls_key, err) : 0;
    if (trc)
        return trc;
    struct addrinfo *ai = NULL;
    int g = net_listen_addr(addr, "--pg-listen", &ai, err);
    if (g) {
        SSL_CTX_free(tls);
        return g;
    }
    if (!tls && !net_addr_loopback(ai->ai_addr))
        log_warn("PostgreSQL clients reach this server from the network without TLS: "
                 "passwords are protected by SCRAM but queries and results travel in plain text; "
                 "give --tls-cert and --tls-key",
                 "pg_listen", addr);
    /* A deep backlog: a burst of connections waits in the kernel for the accept loop,
     * whose admission evicts the oldest unauthenticated ones, instead of being dropped. */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        SSL_CTX_free(tls);
        return TARN_ERR(err, TARN_EIO, "cannot listen for PostgreSQL clients on %s: %s", addr,
                        strerror(e));
    }
    freeaddrinfo(ai);
    pgwire_t *pg = calloc(1, sizeof *pg);
    if (!pg) {
        close(fd);
        SSL_CTX_free(tls);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    pg->env = *env;
    pg->tls = tls;
    pg->lfd = fd;
    pg->next_pid = 1000 + (int32_t)(getpid() % 20000);
    snprintf(pg->addr, sizeof pg->addr, "%s", addr);
    pthread_mutex_init(&pg->mu, NULL);
    pthread_cond_init(&pg->cv, NULL);
    int rc = worker_start(&pg->acceptor, "pg-accept", accept_loop, pg, err);
    if (rc) {
        close(fd);
        SSL_CTX_free(tls);
        free(pg);
        return rc;
    }
    *out = pg;
    return 0;
}

void pgwire_stop(pgwire_t *pg)
{
    if (!pg)
        return;
    atomic_store(&pg->stopping, true);
    shutdown(pg->lfd, SHUT_RDWR);
    worker_stop(pg->acceptor);
    close(pg->lfd);
    /* Wake every connection: a blocked read returns, a running query is interrupted. */
    pthread_mutex_lock(&pg->mu);
    for (pg_conn_t *c = pg->conns; c; c = c->next) {
        long long id = atomic_load(&c->query_id);
        if (id)
            query_cancel(pg->env.queries->workload, id);
        shutdown(c->fd, SHUT_RDWR);
    }
    while (pg->nconns > 0)
        pthread_cond_wait(&pg->cv, &pg->mu);
    pthread_mutex_unlock(&pg->mu);
    pthread_mutex_destroy(&pg->mu);
    pthread_cond_destroy(&pg->cv);
    SSL_CTX_free(pg->tls);
    free(pg);
}
