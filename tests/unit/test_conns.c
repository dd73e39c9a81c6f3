/* Unit tests for connection admission: the oldest unauthenticated connection is shut
 * down to make room (overall and per address), the admin's reserved slots, idle
 * authenticated connections closed first, and the reaper past the authentication
 * timeout. Sockets are socketpairs: a shut-down end reads as end-of-file on the other. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/conns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fds[2]; /* [0] is the server's end */
    conn_slot_t *slot;
} pair_t;

static struct sockaddr_in addr(const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static void open_pair(conns_t *c, pair_t *p, const char *ip)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds), 0);
    fcntl(p->fds[1], F_SETFL, O_NONBLOCK);
    struct sockaddr_in a = addr(ip);
    p->slot = conns_add(c, p->fds[0], (struct sockaddr *)&a);
    assert_non_null(p->slot);
}

/* Was the server's end shut down (the client reads end-of-file)? */
static bool evicted(const pair_t *p)
{
    char ch;
    return recv(p->fds[1], &ch, 1, 0) == 0;
}

static void close_pair(conns_t *c, pair_t *p)
{
    conns_remove(c, p->slot);
    close(p->fds[0]);
    close(p->fds[1]);
}

static conns_t *make(int max_unauth, int per_addr, int max_auth, int reserved, bool idle)
{
    conns_t *c = NULL;
    tarn_err_t err = {0};
    conns_opts_t o = {.door = "test", .max_unauth = max_unauth, .max_unauth_per_addr = per_addr,
                      .max_auth = max_auth, .reserved_admin = reserved, .auth_timeout_s = 60,
                      .evict_idle = idle};
    assert_int_equal(conns_create(&c, &o, &err), 0);
    return c;
}

static void test_oldest_unauthenticated_is_evicted(void **state)
{
    (void)state;
    conns_t *c = make(3, 10, 10, 0, false);
    pair_t p[5];
    for (int i = 0; i < 3; i++)
        open_pair(c, &p[i], "10.0.0.1");
    assert_int_equal(conns_authenticate(c, p[1].slot, false), 1);
    open_pair(c, &p[3], "10.0.0.2");
    open_pair(c, &p[4], "10.0.0.3");
    /* p[1] authenticated, so p[3] fitted; p[4] took the oldest unauthenticated's place. */
    assert_true(evicted(&p[0]));
    assert_false(evicted(&p[1]) || evicted(&p[2]) || evicted(&p[3]) || evicted(&p[4]));
    /* An evicted connection cannot authenticate any more. */
    assert_int_equal(conns_authenticate(c, p[0].slot, true), TARN_EBUSY);
    conns_stats_t st;
    conns_stats(c, &st);
    assert_int_equal(st.unauth, 3);
    assert_int_equal(st.auth, 1);
    assert_int_equal(st.evicted_cap, 1);
    for (int i = 0; i < 5; i++)
        close_pair(c, &p[i]);
    conns_stats(c, &st);
    assert_int_equal(st.unauth + st.auth, 0);
    conns_free(c);
}

static void test_per_address_eviction_spares_others(void **state)
{
    (void)state;
    conns_t *c = make(100, 2, 10, 0, false);
    pair_t other, p[4];
    open_pair(c, &other, "10.0.0.9");
    for (int i = 0; i < 4; i++)
        open_pair(c, &p[i], "10.0.0.1");
    assert_false(evicted(&other)); /* the oldest overall, but of another address */
    assert_true(evicted(&p[0]) && evicted(&p[1]));
    assert_false(evicted(&p[2]) || evicted(&p[3]));
    conns_stats_t st;
    conns_stats(c, &st);
    assert_int_equal(st.evicted_addr, 2);
    close_pair(c, &other);
    for (int i = 0; i < 4; i++)
        close_pair(c, &p[i]);
    conns_free(c);
}

static void test_reserved_slots_and_idle(void **state)
{
    (void)state;
    conns_t *c = make(100, 100, 3, 1, false);
    pair_t p[5];
    for (int i = 0; i < 5; i++)
        open_pair(c, &p[i], "10.0.0.1");
    assert_int_equal(conns_authenticate(c, p[0].slot, false), 1);
    assert_int_equal(conns_authenticate(c, p[1].slot, false), 1);
    assert_int_equal(conns_authenticate(c, p[1].slot, false), 0); /* already */
    assert_int_equal(conns_authenticate(c, p[2].slot, false), TARN_EBUSY);
    assert_int_equal(conns_authenticate(c, p[3].slot, true), 1);
    assert_int_equal(conns_authenticate(c, p[4].slot, true), TARN_EBUSY);
    assert_false(evicted(&p[0]) || evicted(&p[1])); /* sessions are never closed here */
    for (int i = 0; i < 5; i++)
        close_pair(c, &p[i]);
    conns_free(c);

    /* With evict_idle (HTTP keep-alive) the longest idle non-admin makes room. */
    c = make(100, 100, 2, 1, true);
    for (int i = 0; i < 3; i++)
        open_pair(c, &p[i], "10.0.0.1");
    conns_set_busy(c, p[0].slot, true);
    assert_int_equal(conns_authenticate(c, p[0].slot, false), 1);
    conns_set_busy(c, p[1].slot, true);
    assert_int_equal(conns_authenticate(c, p[1].slot, true), 1);
    conns_set_busy(c, p[2].slot, true);
    assert_int_equal(conns_authenticate(c, p[2].slot, true), TARN_EBUSY); /* p[0] is busy */
    conns_set_busy(c, p[0].slot, false);
    assert_int_equal(conns_authenticate(c, p[2].slot, true), 1);
    assert_true(evicted(&p[0]));
    for (int i = 0; i < 3; i++)
        close_pair(c, &p[i]);
    conns_free(c);
}

static void test_reaper(void **state)
{
    (void)state;
    conns_t *c = NULL;
    tarn_err_t err = {0};
    conns_opts_t o = {.door = "test", .max_unauth = 10, .max_unauth_per_addr = 10,
                      .max_auth = 10, .auth_timeout_s = 1};
    assert_int_equal(conns_create(&c, &o, &err), 0);
    pair_t silent, ok;
    open_pair(c, &silent, "10.0.0.1");
    open_pair(c, &ok, "10.0.0.1");
    assert_int_equal(conns_authenticate(c, ok.slot, false), 1);
    usleep(300000);
    assert_false(evicted(&silent));
    usleep(1200000);
    assert_true(evicted(&silent));
    assert_false(evicted(&ok));
    conns_stats_t st;
    conns_stats(c, &st);
    assert_int_equal(st.evicted_timeout, 1);
    close_pair(c, &silent);
    close_pair(c, &ok);
    conns_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oldest_unauthenticated_is_evicted),
        cmocka_unit_test(test_per_address_eviction_spares_others),
        cmocka_unit_test(test_reserved_slots_and_idle),
        cmocka_unit_test(test_reaper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
