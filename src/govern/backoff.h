/* Password back-off: after a few failed logins by one user from one address, that pair's
 * next attempts wait a growing delay (doubling up to a ceiling) and reset on success.
 * Only the failing pair is slowed, never the user everywhere: a stranger cannot use it
 * to lock the real user out. Every door with passwords shares one table. */
#ifndef TARN_GOVERN_BACKOFF_H
#define TARN_GOVERN_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

typedef struct backoff backoff_t;

typedef struct {
    int free_failures; /* failures answered at once before delays start (0: 3) */
    int base_ms;       /* the first delay (0: 250) */
    int max_ms;        /* the longest delay (0: 8000) */
    size_t capacity;   /* pairs remembered; the stalest is forgotten first (0: 4096) */
    int forget_s;      /* a pair with no failure for this long starts afresh (0: 900) */
} backoff_opts_t;

/* One attempt's place in its pair's queue, from backoff_begin. */
typedef struct {
    int64_t check_at_ms;  /* check the password no earlier than this */
    int64_t answer_at_ms; /* if it is wrong, answer no earlier than this */
    int refused;          /* the queue is too long: refuse unchecked, answer now */
} backoff_turn_t;

/* NULL when out of memory. */
backoff_t *backoff_create(const backoff_opts_t *o);
void backoff_free(backoff_t *b);

/* Takes a turn for (user, addr) at now_ms (a monotonic clock). Attempts of one pair are
 * spaced by the delay their failure would earn, counting the attempts still in flight as
 * failures, so parallel connections guess no faster than one after another. Each turn
 * ends in exactly one of the three calls below, except a refused one, which took no
 * place in the queue and needs no ending. */
void backoff_begin(backoff_t *b, const char *user, const char *addr, int64_t now_ms,
                   backoff_turn_t *turn);
/* The attempt's password was wrong: the pair's failures grow. */
void backoff_failed(backoff_t *b, const char *user, const char *addr, int64_t now_ms);
/* The password was right: the pair starts afresh. */
void backoff_succeeded(backoff_t *b, const char *user, const char *addr);
/* The attempt ended unchecked (the client left before its password was checked). */
void backoff_abandoned(backoff_t *b, const char *user, const char *addr);
/* The delay the pair's next failure would earn, in ms (0 below the free failures). */
int64_t backoff_delay_ms(const backoff_t *b, int failures);
/* Pairs remembered now (for tests of the bound). */
size_t backoff_size(backoff_t *b);

#endif
