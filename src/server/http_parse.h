/* What tarn parses of an HTTP request itself (libmicrohttpd reads the request line and the
 * headers off the socket): the request target split into path and query, percent-decoding,
 * and the query's parameters. Pure functions over an arena, so that unit tests and the
 * fuzzer reach them without a listener. */
#ifndef TARN_SERVER_HTTP_PARSE_H
#define TARN_SERVER_HTTP_PARSE_H

#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;
    const char *value;
} kv_t;

/* Splits a request target at its first '?': *path gets what precedes it (still
 * percent-encoded, as SigV4 signs it), *query what follows it ("" without a '?'). Both
 * live in a. 0 or TARN_ENOMEM. */
int http_target_split(arena_t *a, const char *target, const char **path, const char **query);
/* Percent-decodes s[0..n) into a; plus_is_space for query strings. NULL on a malformed
 * escape or an encoded NUL (or out of memory). */
char *http_unescape(arena_t *a, const char *s, size_t n, bool plus_is_space);
/* The parameters of a raw query string ("a=1&b&c=%20"), decoded, in order: a name without
 * '=' has the value "", empty items between '&'s are skipped, repeated names are kept.
 * *out lives in a. TARN_EINVAL (reason InvalidArgument) for a malformed escape, or
 * TARN_ENOMEM. */
int http_query_parse(arena_t *a, const char *raw, kv_t **out, size_t *n, tarn_err_t *err);

#endif
