/* Unit tests for the password back-off: the delay curve, a queue of parallel attempts,
 * pairs kept apart (another address or user is not slowed), reset on success, forgetting
 * after a quiet time, and the bound on the table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "govern/backoff.h"

#include <stdio.h>

/* One failed attempt at now: the wait before its answer. */
static int64_t fail_at(backoff_t *b, const char *user, const char *addr, int64_t now)
{
    backoff_turn_t t;
    backoff_begin(b, user, addr, now, &t);
    assert_false(t.refused);
    assert_true(t.check_at_ms == now);
    backoff_failed(b, user, addr, now);
    return t.answer_at_ms - now;
}

static void test_curve(void **state)
{
    (void)state;
    backoff_t *b = backoff_create(NULL);
    assert_non_null(b);
    const int64_t want[] = {0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 8000, 8000};
    int64_t now = 1000000;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int64_t d = fail_at(b, "carol", "10.0.0.1", now);
        assert_int_equal(d, want[i]);
        now += d + 10; /* the next attempt comes after the answer */
    }
    backoff_free(b);
}

static void test_pairs_are_apart_and_success_resets(void **state)
{
    (void)state;
    backoff_t *b = backoff_create(NULL);
    int64_t now = 5000;
    for (int i = 0; i < 6; i++)
        now += fail_at(b, "carol", "10.0.0.1", now) + 1;
    /* Another address, another user: no delay. */
    assert_int_equal(fail_at(b, "carol", "10.0.0.2", now), 0);
    assert_int_equal(fail_at(b, "dave", "10.0.0.1", now), 0);
    /* The right password from the failing pair, after its last answer: at once. */
    backoff_turn_t t;
    backoff_begin(b, "carol", "10.0.0.1", now, &t);
    assert_true(t.check_at_ms == now);
    backoff_succeeded(b, "carol", "10.0.0.1");
    assert_int_equal(fail_at(b, "carol", "10.0.0.1", now), 0);
    backoff_free(b);
}

static void test_parallel_attempts_queue(void **state)
{
    (void)state;
    backoff_t *b = backoff_create(NULL);
    int64_t now = 0;
    for (int i = 0; i < 3; i++)
        fail_at(b, "u", "a", now);
    /* Three at once: each checked only after the one before would have been answered,
     * each counted as a failure in advance. */
    backoff_turn_t t1, t2, t3, t4;
    backoff_begin(b, "u", "a", now, &t1);
    backoff_begin(b, "u", "a", now, &t2);
    backoff_begin(b, "u", "a", now, &t3);
    assert_true(t1.check_at_ms == 0 && t1.answer_at_ms == 250);
    assert_true(t2.check_at_ms == 250 && t2.answer_at_ms == 750);
    assert_true(t3.check_at_ms == 750 && t3.answer_at_ms == 1750);
    /* Many more: the queue is bounded; those are refused unchecked. */
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        backoff_begin(b, "u", "a", now, &t4);
        if (t4.refused)
            refused++;
        else
            backoff_abandoned(b, "u", "a");
    }
    assert_true(refused > 0);
    backoff_failed(b, "u", "a", 250);
    backoff_failed(b, "u", "a", 750);
    backoff_abandoned(b, "u", "a");
    backoff_free(b);
}

static void test_forgets_and_stays_bounded(void **state)
{
    (void)state;
    backoff_t *b = backoff_create(&(backoff_opts_t){.capacity = 8, .forget_s = 60});
    int64_t now = 0;
    for (int i = 0; i < 5; i++)
        now += fail_at(b, "u", "a", now);
    /* A quiet hour: the pair starts afresh. */
    now += 3600 * 1000;
    assert_int_equal(fail_at(b, "u", "a", now), 0);
    char addr[32];
    for (int i = 0; i < 100; i++) {
        snprintf(addr, sizeof addr, "10.0.%d.%d", i / 250, i % 250);
        fail_at(b, "spray", addr, now + i);
    }
    assert_true(backoff_size(b) <= 8);
    backoff_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_pairs_are_apart_and_success_resets),
        cmocka_unit_test(test_parallel_attempts_queue),
        cmocka_unit_test(test_forgets_and_stays_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
