/* Request target parsing; see http_parse.h. */
#include "server/http_parse.h"
#include "util/hash.h"

#include <string.h>

int http_target_split(arena_t *a, const char *target, const char **path, const char **query)
{
    char *copy = arena_strdup(a, target);
    if (!copy)
        return TARN_ENOMEM;
    char *qm = strchr(copy, '?');
    if (qm)
        *qm = '\0';
    *path = copy;
    *query = qm ? qm + 1 : "";
    return 0;
}

char *http_unescape(arena_t *a, const char *s, size_t n, bool plus_is_space)
{
    char *out = arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return NULL;
            int h = hash_hexval(s[i + 1]), l = hash_hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return NULL;
            out[j++] = (char)(h << 4 | l);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[j++] = ' ';
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

int http_query_parse(arena_t *a, const char *raw, kv_t **out, size_t *n, tarn_err_t *err)
{
    const char *q = raw;
    size_t count = 0;
    if (*q) {
        count = 1;
        for (const char *p = q; *p; p++)
            count += *p == '&';
    }
    kv_t *v = arena_alloc(a, (count ? count : 1) * sizeof *v);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    size_t got = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t nlen = eq ? (size_t)(eq - q) : len;
            char *name = http_unescape(a, q, nlen, true);
            char *value = eq ? http_unescape(a, eq + 1, len - nlen - 1, true) : arena_strdup(a, "");
            if (!name || !value)
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                  "the query string has a malformed percent-escape");
            v[got].name = name;
            v[got].value = value;
            got++;
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    *out = v;
    *n = got;
    return 0;
}
