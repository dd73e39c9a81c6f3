/* Bump allocator owned by one request or batch; everything is released at once by
 * arena_free (or reused after arena_reset). Allocation failure returns NULL. */
#ifndef TARN_UTIL_ARENA_H
#define TARN_UTIL_ARENA_H

#include <stddef.h>

typedef struct arena arena_t;

arena_t *arena_create(void);
void *arena_alloc(arena_t *a, size_t n);           /* 16-byte aligned, zeroed */
char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_sprintf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_reset(arena_t *a);
void arena_free(arena_t *a);

#endif
