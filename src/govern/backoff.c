/* The back-off table: one small record per (user, address) pair that failed recently,
 * in a fixed array found by a digest of the pair. Bounded: when full, the pair idle the
 * longest is forgotten, which can only shorten someone's delay, never lengthen it. */
#include "govern/backoff.h"
#include "util/hash.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t key[16]; /* the start of SHA-256("user\0addr"); all zero when free */
    int failures;
    int pending;           /* turns taken and not yet ended */
    int64_t last_ms;       /* the latest failure or turn */
    int64_t busy_until_ms; /* the next turn's check waits for this */
} pair_t;

struct backoff {
    pthread_mutex_t mu;
    backoff_opts_t o;
    pair_t *pairs;
    size_t used;
};

static const uint8_t free_key[16];

backoff_t *backoff_create(const backoff_opts_t *o)
{
    backoff_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->o = o ? *o : (backoff_opts_t){0};
    if (b->o.free_failures <= 0)
        b->o.free_failures = 3;
    if (b->o.base_ms <= 0)
        b->o.base_ms = 250;
    if (b->o.max_ms <= 0)
        b->o.max_ms = 8000;
    if (b->o.max_ms < b->o.base_ms)
        b->o.max_ms = b->o.base_ms;
    if (!b->o.capacity)
        b->o.capacity = 4096;
    if (b->o.forget_s <= 0)
        b->o.forget_s = 900;
    b->pairs = calloc(b->o.capacity, sizeof *b->pairs);
    if (!b->pairs) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

void backoff_free(backoff_t *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b->pairs);
    free(b);
}

int64_t backoff_delay_ms(const backoff_t *b, int failures)
{
    if (failures <= b->o.free_failures)
        return 0;
    int64_t d = b->o.base_ms;
    for (int i = failures - b->o.free_failures - 1; i > 0 && d < b->o.max_ms; i--)
        d *= 2;
    return d < b->o.max_ms ? d : b->o.max_ms;
}

static void pair_key(uint8_t out[16], const char *user, const char *addr)
{
    /* The user name cannot hold a NUL, so "user\0addr" names one pair only. */
    size_t un = strlen(user), an = strlen(addr);
    char tmp[512];
    if (un > 255)
        un = 255;
    if (an > 255)
        an = 255;
    memcpy(tmp, user, un);
    tmp[un] = '\0';
    memcpy(tmp + un + 1, addr, an);
    uint8_t sha[32];
    hash_sha256(sha, tmp, un + 1 + an);
    memcpy(out, sha, 16);
}

static bool stale(const backoff_t *b, const pair_t *p, int64_t now_ms)
{
    return !p->pending && p->busy_until_ms <= now_ms &&
           now_ms - p->last_ms > (int64_t)b->o.forget_s * 1000;
}

static void forget(backoff_t *b, pair_t *p)
{
    memset(p, 0, sizeof *p);
    b->used--;
}

static pair_t *find(backoff_t *b, const uint8_t key[16], int64_t now_ms)
{
    for (size_t i = 0; i < b->o.capacity; i++) {
        pair_t *p = &b->pairs[i];
        if (memcmp(p->key, key, 16))
            continue;
        if (now_ms >= 0 && stale(b, p, now_ms)) {
            forget(b, p);
            return NULL;
        }
        return p;
    }
    return NULL;
}

/* A free record for key, forgetting the pair idle the longest when the table is full;
 * NULL when every record has a turn in flight. */
static pair_t *add(backoff_t *b, const uint8_t key[16], int64_t now_ms)
{
    pair_t *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < b->o.capacity && !slot; i++) {
        pair_t *p = &b->pairs[i];
        if (!memcmp(p->key, free_key, 16))
            slot = p;
        else if (!p->pending && (!oldest || p->last_ms < oldest->last_ms))
            oldest = p;
    }
    if (!slot && oldest) {
        forget(b, oldest);
        slot = oldest;
    }
    if (!slot)
        return NULL;
    memcpy(slot->key, key, 16);
    slot->last_ms = now_ms;
    b->used++;
    return slot;
}

void backoff_begin(backoff_t *b, const char *user, const char *addr, int64_t now_ms,
                   backoff_turn_t *turn)
{
    uint8_t key[16];
    pair_key(key, user, addr);
    *turn = (backoff_turn_t){now_ms, now_ms, 0};
    pthread_mutex_lock(&b->mu);
    pair_t *p = find(b, key, now_ms);
    if (!p)
        p = add(b, key, now_ms);
    if (p) {
        int64_t check = p->busy_until_ms > now_ms ? p->busy_until_ms : now_ms;
        if (check - now_ms > b->o.max_ms) {
            /* A queue longer than the longest delay comes only from many parallel
             * guesses: refuse this one unchecked rather than lengthen it. */
            turn->refused = 1;
        } else {
            turn->check_at_ms = check;
            turn->answer_at_ms = check + backoff_delay_ms(b, p->failures + p->pending + 1);
            p->busy_until_ms = turn->answer_at_ms;
            p->last_ms = now_ms;
            p->pending++;
        }
    }
    pthread_mutex_unlock(&b->mu);
}

/* Ends a turn: the pair's record, or NULL when it was forgotten meanwhile. */
static pair_t *end_turn(backoff_t *b, const char *user, const char *addr)
{
    uint8_t key[16];
    pair_key(key, user, addr);
    pair_t *p = find(b, key, -1);
    if (p && p->pending > 0)
        p->pending--;
    return p;
}

void backoff_failed(backoff_t *b, const char *user, const char *addr, int64_t now_ms)
{
    pthread_mutex_lock(&b->mu);
    pair_t *p = end_turn(b, user, addr);
    if (!p) {
        uint8_t key[16];
        pair_key(key, user, addr);
        p = add(b, key, now_ms);
    }
    if (p) {
        p->failures++;
        p->last_ms = now_ms;
    }
    pthread_mutex_unlock(&b->mu);
}

void backoff_succeeded(backoff_t *b, const char *user, const char *addr)
{
    pthread_mutex_lock(&b->mu);
    pair_t *p = end_turn(b, user, addr);
    if (p && !p->pending)
        forget(b, p);
    else if (p)
        p->failures = 0; /* other turns are in flight: they end the record */
    pthread_mutex_unlock(&b->mu);
}

void backoff_abandoned(backoff_t *b, const char *user, const char *addr)
{
    pthread_mutex_lock(&b->mu);
    pair_t *p = end_turn(b, user, addr);
    if (p && !p->pending && !p->failures)
        forget(b, p);
    pthread_mutex_unlock(&b->mu);
}

size_t backoff_size(backoff_t *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->used;
    pthread_mutex_unlock(&b->mu);
    return n;
}
