/* Bump allocator in chained blocks; see arena.h. */
#include "util/arena.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block_t;

struct arena {
    block_t *head;
};

arena_t *arena_create(void)
{
    return calloc(1, sizeof(arena_t));
}

void *arena_alloc(arena_t *a, size_t n)
{
    assert(a);
    /* A size this close to SIZE_MAX would wrap to a tiny block below: out of memory. */
    if (n > SIZE_MAX - sizeof(block_t) - 15)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    block_t *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = malloc(sizeof(block_t) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    /* Every size is rounded to 16 and blocks start 16-aligned: so is every pointer. */
    assert(b->used <= b->cap && ((uintptr_t)p & 15) == 0);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    assert(s || !n);
    char *p = arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_sprintf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    int m = vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    assert(m == n); /* the same format and arguments print the same length twice */
    (void)m;
    return p;
}

void arena_reset(arena_t *a)
{
    block_t *b = a->head;
    while (b) {
        block_t *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}

void arena_free(arena_t *a)
{
    if (!a)
        return;
    arena_reset(a);
    free(a);
}
