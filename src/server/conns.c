/* The connection table of one listener: a FIFO of unauthenticated connections (evicted
 * from its head, reaped past the authentication timeout), an LRU of idle authenticated
 * ones, and counts. Eviction shuts the socket down under the lock; the connection's own
 * thread then sees end-of-file and closes it, after removing it here. */
#include "server/conns.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/worker.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_UNAUTH, SLOT_AUTH, SLOT_EVICTED };

struct conn_slot {
    int fd;
    int state;
    bool admin, busy, listed;
    uint8_t addr[16]; /* IPv4 addresses (also v4-mapped v6) in the first 4 bytes */
    int64_t since_ms; /* accepted (unauthenticated), or idle since (authenticated) */
    conn_slot_t *prev, *next;
};

typedef struct {
    conn_slot_t *head, *tail;
} list_t;

struct conns {
    conns_opts_t o;
    pthread_mutex_t mu;
    worker_t *reaper; /* woken by a new head of unauth */
    list_t unauth; /* oldest first */
    list_t idle;   /* authenticated non-admin connections between requests, oldest first */
    conns_stats_t st;
    int64_t warned_ms;
};

static void list_push(list_t *l, conn_slot_t *s)
{
    s->prev = l->tail;
    s->next = NULL;
    if (l->tail)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
    s->listed = true;
}

static void list_unlink(list_t *l, conn_slot_t *s)
{
    if (!s->listed)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        l->tail = s->prev;
    s->prev = s->next = NULL;
    s->listed = false;
}

/* Under c->mu: takes s out of its list and count; false when it was in none. */
static bool slot_leave(conns_t *c, conn_slot_t *s)
{
    if (s->state == SLOT_UNAUTH) {
        list_unlink(&c->unauth, s);
        c->st.unauth--;
    } else if (s->state == SLOT_AUTH) {
        list_unlink(&c->idle, s);
        c->st.auth--;
    } else {
        return false;
    }
    return true;
}

/* Under c->mu. The socket is still open: its owner closes it only after conns_remove,
 * which takes the same lock, so fd names this connection and no other. */
static void evict(conns_t *c, conn_slot_t *s, long long *reason)
{
    if (!slot_leave(c, s))
        return;
    s->state = SLOT_EVICTED;
    shutdown(s->fd, SHUT_RDWR);
    (*reason)++;
    int64_t now = time_mono_ms();
    if (now - c->warned_ms > 60000) {
        c->warned_ms = now;
        log_warn("closing connections that have not authenticated or are idle, to make room "
                 "(see tarn_connections_evicted_total in /metrics)",
                 "door", c->o.door);
    }
}

/* Closes unauthenticated connections past the timeout, oldest first, sleeping until
 * the oldest one's time is up or a connection arrives to an empty list. */
static void reap(worker_t *w, void *arg)
{
    conns_t *c = arg;
    int64_t next = WORKER_FOREVER;
    while (!worker_wait(w, next)) {
        next = WORKER_FOREVER;
        pthread_mutex_lock(&c->mu);
        for (conn_slot_t *h; (h = c->unauth.head);) {
            int64_t at = h->since_ms + (int64_t)c->o.auth_timeout_s * 1000;
            if (at > time_mono_ms()) {
                next = at;
                break;
            }
            evict(c, h, &c->st.evicted_timeout);
        }
        pthread_mutex_unlock(&c->mu);
    }
}

int conns_create(conns_t **out, const conns_opts_t *o, tarn_err_t *err)
{
    conns_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    c->o = *o;
    if (c->o.max_unauth < 1)
        c->o.max_unauth = 1;
    if (c->o.max_unauth_per_addr < 1)
        c->o.max_unauth_per_addr = 1;
    if (c->o.auth_timeout_s < 1)
        c->o.auth_timeout_s = 1;
    c->warned_ms = -60001;
    pthread_mutex_init(&c->mu, NULL);
    char name[32];
    snprintf(name, sizeof name, "reap-%s", o->door);
    int rc = worker_start(&c->reaper, name, reap, c, err);
    if (rc) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void conns_free(conns_t *c)
{
    if (!c)
        return;
    worker_stop(c->reaper);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void addr_of(uint8_t out[16], const struct sockaddr *sa)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, 16);
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (!memcmp(a, v4mapped, 12))
            memcpy(out, a + 12, 4);
        else
            memcpy(out, a, 16);
    }
}

conn_slot_t *conns_add(conns_t *c, int fd, const struct sockaddr *peer)
{
    conn_slot_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    s->state = SLOT_UNAUTH;
    addr_of(s->addr, peer);
    pthread_mutex_lock(&c->mu);
    s->since_ms = time_mono_ms();
    /* Make room by evicting rather than refusing: a refusal would let whoever holds the
     * slots keep everyone else out, an eviction costs the holder its oldest socket. */
    int same = 0;
    conn_slot_t *oldest_same = NULL;
    for (conn_slot_t *u = c->unauth.head; u; u = u->next)
        if (!memcmp(u->addr, s->addr, 16) && same++ == 0)
            oldest_same = u;
    if (same >= c->o.max_unauth_per_addr)
        evict(c, oldest_same, &c->st.evicted_addr);
    else if (c->st.unauth >= c->o.max_unauth)
        evict(c, c->unauth.head, &c->st.evicted_cap);
    bool was_empty = !c->unauth.head;
    list_push(&c->unauth, s);
    c->st.unauth++;
    pthread_mutex_unlock(&c->mu);
    if (was_empty)
        worker_wake(c->reaper);
    return s;
}

void conns_remove(conns_t *c, conn_slot_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&c->mu);
    slot_leave(c, s);
    pthread_mutex_unlock(&c->mu);
    free(s);
}

int conns_authenticate(conns_t *c, conn_slot_t *s, bool admin)
{
    if (!s)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (s->state == SLOT_AUTH)
        goto done;
    if (s->state == SLOT_EVICTED) {
        rc = TARN_EBUSY; /* already being closed */
        goto done;
    }
    long long limit = admin ? c->o.max_auth : c->o.max_auth - c->o.reserved_admin;
    if (c->st.auth >= limit && c->idle.head)
        evict(c, c->idle.head, &c->st.evicted_idle);
    if (c->st.auth >= limit) {
        c->st.refused++;
        rc = TARN_EBUSY;
        goto done;
    }
    list_unlink(&c->unauth, s);
    c->st.unauth--;
    s->state = SLOT_AUTH;
    s->admin = admin;
    c->st.auth++;
    s->since_ms = time_mono_ms();
    if (c->o.evict_idle && !s->busy && !admin)
        list_push(&c->idle, s);
    rc = 1;
done:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void conns_set_busy(conns_t *c, conn_slot_t *s, bool busy)
{
    if (!s)
        return;
    pthread_mutex_lock(&c->mu);
    s->busy = busy;
    if (c->o.evict_idle && s->state == SLOT_AUTH && !s->admin) {
        list_unlink(&c->idle, s);
        if (!busy) {
            s->since_ms = time_mono_ms();
            list_push(&c->idle, s);
        }
    }
    pthread_mutex_unlock(&c->mu);
}

void conns_stats(conns_t *c, conns_stats_t *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
