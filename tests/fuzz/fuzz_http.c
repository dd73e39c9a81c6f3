/* libFuzzer target: a request head as a client sends it ("METHOD target HTTP/1.1", then
 * "Name: value" lines), cut as libmicrohttpd hands it over, through what tarn parses
 * itself: the target split, path and query decoding, the query's parameters, and SigV4's
 * reading of the whole request (credentials, then the canonical request in both modes).
 * Checks: the split loses nothing, decoding shrinks by two bytes per escape and undoes
 * percent-encoding, no more parameters than items, every header found by its name. */
#include "govern/sigv4.h"
#include "server/http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_HEADERS = 32 };

/* Cuts the next line (ending in "\n" or "\r\n") off *p, NUL-terminating it in place. */
static char *line(char **p)
{
    if (!*p)
        return NULL;
    char *s = *p, *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    size_t n = strlen(s);
    if (n && s[n - 1] == '\r')
        s[n - 1] = '\0';
    return s;
}

static size_t count(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void check_decoding(arena_t *a, const char *s)
{
    size_t n = strlen(s);
    for (int plus = 0; plus < 2; plus++) {
        const char *d = http_unescape(a, s, n, plus);
        if (d && strlen(d) != n - 2 * count(s, '%'))
            abort(); /* each escape is three bytes in, one out, and none of them a NUL */
    }
    /* Encoding every byte and decoding gives the bytes back. */
    static const char hex[] = "0123456789ABCDEF";
    char *enc = arena_alloc(a, 3 * n + 1);
    for (size_t i = 0; enc && i < n; i++) {
        enc[3 * i] = '%';
        enc[3 * i + 1] = hex[(unsigned char)s[i] >> 4];
        enc[3 * i + 2] = hex[(unsigned char)s[i] & 15];
    }
    const char *back = enc ? http_unescape(a, enc, 3 * n, false) : NULL;
    if (enc && (!back || strcmp(back, s)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    arena_t *a = arena_create();
    char *p = text;
    /* The request line: method, target and version, separated by single spaces. */
    char *req = line(&p), *target = strchr(req, ' ');
    if (!target)
        goto done;
    *target++ = '\0';
    char *version = strchr(target, ' ');
    if (version)
        *version = '\0';
    sigv4_header_t h[MAX_HEADERS];
    size_t nh = 0;
    for (char *l; nh < MAX_HEADERS && (l = line(&p)) && *l;) {
        char *colon = strchr(l, ':');
        if (!colon)
            continue; /* libmicrohttpd refuses such a line; skip it */
        *colon = '\0';
        char *v = colon + 1;
        v += strspn(v, " \t");
        h[nh++] = (sigv4_header_t){l, v};
    }

    const char *path, *query;
    if (http_target_split(a, target, &path, &query))
        goto done;
    if (strchr(path, '?') ||
        strlen(path) + (strchr(target, '?') ? 1 + strlen(query) : 0) != strlen(target))
        abort(); /* split at the first '?', nothing lost */
    check_decoding(a, path);
    check_decoding(a, query);
    kv_t *q;
    size_t nq;
    tarn_err_t err = {0};
    if (!http_query_parse(a, query, &q, &nq, &err)) {
        if (nq > count(query, '&') + 1)
            abort();
        for (size_t i = 0; i < nq; i++)
            if (!q[i].name || !q[i].value)
                abort();
    }

    sigv4_request_t sr = {req, path, query, h, nh};
    for (size_t i = 0; i < nh; i++)
        if (!sigv4_request_header(&sr, h[i].name))
            abort();
    sigv4_auth_t auth;
    if (!sigv4_parse(&auth, &sr, &err)) {
        for (int mode = 0; mode < 2; mode++) {
            buf_t cr = BUF_INIT;
            sigv4_canonical_request(&cr, &sr, &auth, SIGV4_EMPTY_SHA256, mode, &err);
            buf_free(&cr);
        }
    }
done:
    arena_free(a);
    free(text);
    return 0;
}
