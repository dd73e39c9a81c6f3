/* AWS Signature Version 4 verification: Authorization header and presigned URLs.
 * The canonical request is rebuilt from the raw request line and headers exactly as the
 * client's SDK builds it, then the signature is recomputed and compared in constant time. */
#include "govern/sigv4.h"

#include "util/hash.h"
#include "util/timeutil.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"

/* ---- small string helpers ---- */

static int lower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool ieq(const char *a, const char *b)
{
    while (*a && lower_ascii((unsigned char)*a) == lower_ascii((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

static bool ieqn(const char *a, size_t alen, const char *b)
{
    size_t i = 0;
    for (; i < alen && b[i]; i++)
        if (lower_ascii((unsigned char)a[i]) != lower_ascii((unsigned char)b[i]))
            return false;
    return i == alen && b[i] == '\0';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_hex_n(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hash_hexval(s[i]) < 0)
            return false;
    return s[n] == '\0';
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static const char *bstr(const buf_t *b)
{
    return b->data ? b->data : "";
}

/* Whether b holds exactly s (a decoded %00 must not end the comparison early). */
static bool buf_is(const buf_t *b, const char *s)
{
    size_t n = strlen(s);
    return b->len == n && memcmp(bstr(b), s, n) == 0;
}

/* Copies [s, s+n) into dst (cap bytes including NUL); false when it does not fit. */
static bool copy_bounded(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* Percent-decodes [s, s+n); a '%' not followed by two hex digits stays literal, as
 * botocore and curl leave it. '+' stays '+' (S3 semantics, not form encoding). */
static int pct_decode(buf_t *out, const char *s, size_t n)
{
    if (buf_reserve(out, n))
        return TARN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hash_hexval(s[i + 1]) >= 0 && hash_hexval(s[i + 2]) >= 0) {
            c = (char)(hash_hexval(s[i + 1]) << 4 | hash_hexval(s[i + 2]));
            i += 2;
        }
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
    return 0;
}

/* AWS UriEncode: every byte except unreserved characters (and '/' when keep_slash) becomes
 * %XX with uppercase hex. */
static int uri_encode(buf_t *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n > ((size_t)-1) / 3 || buf_reserve(out, 3 * n))
        return TARN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = hex[c >> 4];
            out->data[out->len++] = hex[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

const char *sigv4_request_header(const sigv4_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && ieq(req->headers[i].name, name))
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

static size_t header_count(const sigv4_request_t *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && ieq(req->headers[i].name, name))
            n++;
    return n;
}

/* ---- query string ---- */

/* Calls back for each '&'-separated parameter with its raw name and value spans. */
typedef int (*query_fn)(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen);

static int query_each(const char *q, query_fn fn, void *ctx)
{
    if (!q)
        return 0;
    while (*q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t nlen = eq ? (size_t)(eq - q) : len;
            const char *val = eq ? eq + 1 : q + len;
            size_t vlen = eq ? len - nlen - 1 : 0;
            int rc = fn(ctx, q, nlen, val, vlen);
            if (rc)
                return rc;
        }
        if (!end)
            break;
        q = end + 1;
    }
    return 0;
}

typedef struct {
    const char *want; /* decoded parameter name */
    buf_t *value;     /* decoded value of the first match */
    int count;
    buf_t scratch;
} query_find_t;

static int query_find_cb(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
    query_find_t *f = ctx;
    buf_reset(&f->scratch);
    if (pct_decode(&f->scratch, name, nlen))
        return TARN_ENOMEM;
    if (!buf_is(&f->scratch, f->want))
        return 0;
    if (f->count++ == 0 && f->value) {
        buf_reset(f->value);
        if (pct_decode(f->value, val, vlen))
            return TARN_ENOMEM;
    }
    return 0;
}

/* Number of parameters whose decoded name is exactly name (case-sensitive, as AWS does);
 * the decoded value of the first goes to value (may be NULL). Negative on out of memory. */
static int query_find(const char *q, const char *name, buf_t *value)
{
    query_find_t f = {name, value, 0, BUF_INIT};
    if (value)
        buf_reset(value);
    int rc = query_each(q, query_find_cb, &f);
    buf_free(&f.scratch);
    return rc ? rc : f.count;
}

typedef struct {
    size_t name_off, value_off;
    const char *name, *value;
} qpair_t;

typedef struct {
    buf_t store; /* encoded names and values, NUL-separated */
    qpair_t *pairs;
    size_t n, cap;
    buf_t scratch;
    bool skip_signature;
} qcanon_t;

static int qcanon_cb(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
    qcanon_t *c = ctx;
    buf_reset(&c->scratch);
    if (pct_decode(&c->scratch, name, nlen))
        return TARN_ENOMEM;
    if (c->skip_signature && buf_is(&c->scratch, "X-Amz-Signature"))
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        qpair_t *p = realloc(c->pairs, cap * sizeof *p);
        if (!p)
            return TARN_ENOMEM;
        c->pairs = p;
        c->cap = cap;
    }
    qpair_t *p = &c->pairs[c->n];
    p->name_off = c->store.len;
    if (uri_encode(&c->store, bstr(&c->scratch), c->scratch.len, false) ||
        buf_putc(&c->store, '\0'))
        return TARN_ENOMEM;
    buf_reset(&c->scratch);
    if (pct_decode(&c->scratch, val, vlen))
        return TARN_ENOMEM;
    p->value_off = c->store.len;
    if (uri_encode(&c->store, bstr(&c->scratch), c->scratch.len, false) ||
        buf_putc(&c->store, '\0'))
        return TARN_ENOMEM;
    c->n++;
    return 0;
}

static int qpair_cmp(const void *a, const void *b)
{
    const qpair_t *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : strcmp(x->value, y->value);
}

/* Decode then re-encode every name and value, sort by name then value (byte order). */
static int canonical_query(buf_t *out, const char *raw_query, bool presigned)
{
    qcanon_t c = {BUF_INIT, NULL, 0, 0, BUF_INIT, presigned};
    int rc = query_each(raw_query, qcanon_cb, &c);
    if (rc)
        goto done;
    for (size_t i = 0; i < c.n; i++) {
        c.pairs[i].name = c.store.data + c.pairs[i].name_off;
        c.pairs[i].value = c.store.data + c.pairs[i].value_off;
    }
    if (c.n > 1)
        qsort(c.pairs, c.n, sizeof *c.pairs, qpair_cmp);
    for (size_t i = 0; i < c.n && !rc; i++) {
        if (i && buf_putc(out, '&'))
            rc = TARN_ENOMEM;
        else if (buf_puts(out, c.pairs[i].name) || buf_putc(out, '=') ||
                 buf_puts(out, c.pairs[i].value))
            rc = TARN_ENOMEM;
    }
done:
    free(c.pairs);
    buf_free(&c.store);
    buf_free(&c.scratch);
    return rc;
}

/* ---- path ---- */

/* botocore's remove_dot_segments: drops empty and "." segments, ".." pops, keeps a trailing
 * slash when the input had one and something is left. */
static int normalize_path(buf_t *out, const char *p)
{
    size_t n = strlen(p);
    size_t *stack = NULL; /* start offsets in out of each kept segment */
    size_t depth = 0, cap = 0;
    int rc = 0;
    if (buf_reserve(out, n + 1))
        return TARN_ENOMEM;
    size_t base = out->len;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 1 && s[0] == '.') {
            /* skip */
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (depth) {
                out->len = stack[--depth];
                out->data[out->len] = '\0';
            }
        } else {
            if (depth == cap) {
                size_t ncap = cap ? 2 * cap : 16;
                size_t *ns = realloc(stack, ncap * sizeof *ns);
                if (!ns) {
                    rc = TARN_ENOMEM;
                    goto done;
                }
                stack = ns;
                cap = ncap;
            }
            stack[depth++] = out->len;
            if (buf_putc(out, '/') || buf_append(out, s, len)) {
                rc = TARN_ENOMEM;
                goto done;
            }
        }
        s += len;
    }
    if (out->len == base)
        rc = buf_putc(out, '/');
    else if (n && p[n - 1] == '/')
        rc = buf_putc(out, '/');
done:
    free(stack);
    return rc ? TARN_ENOMEM : 0;
}

static int canonical_uri(buf_t *out, const char *raw_path, int mode)
{
    buf_t tmp = BUF_INIT;
    int rc;
    if (!raw_path || !*raw_path)
        raw_path = "/";
    if (mode == SIGV4_MODE_DEFAULT)
        rc = normalize_path(&tmp, raw_path);
    else
        rc = pct_decode(&tmp, raw_path, strlen(raw_path));
    if (!rc)
        rc = uri_encode(out, bstr(&tmp), tmp.len, true);
    buf_free(&tmp);
    return rc;
}

/* ---- headers ---- */

/* Appends every value of header name, each trimmed with inner runs of blanks collapsed to
 * one space, joined with ','. Returns 1 if found, 0 if absent, negative on out of memory. */
static int canonical_header_value(buf_t *out, const sigv4_request_t *req, const char *name,
                                  size_t nlen)
{
    int found = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const sigv4_header_t *h = &req->headers[i];
        if (!h->name || !ieqn(name, nlen, h->name))
            continue;
        if (found++ && buf_putc(out, ','))
            return TARN_ENOMEM;
        const char *v = h->value ? h->value : "";
        while (is_space(*v))
            v++;
        bool pending_space = false;
        for (; *v; v++) {
            if (is_space(*v) || *v == '\r' || *v == '\n') {
                pending_space = true;
                continue;
            }
            if (pending_space && buf_putc(out, ' '))
                return TARN_ENOMEM;
            pending_space = false;
            if (buf_putc(out, *v))
                return TARN_ENOMEM;
        }
    }
    return found ? 1 : 0;
}

/* ---- parsing ---- */

static bool valid_payload_hash(const char *v)
{
    return is_hex_n(v, 64) || strcmp(v, SIGV4_UNSIGNED_PAYLOAD) == 0 ||
           strcmp(v, SIGV4_STREAMING_SIGNED) == 0 ||
           strcmp(v, SIGV4_STREAMING_SIGNED_TRAILER) == 0 ||
           strcmp(v, SIGV4_STREAMING_UNSIGNED_TRAILER) == 0;
}

static int set_payload_hash(sigv4_auth_t *out, const char *v, tarn_err_t *err)
{
    if (!valid_payload_hash(v))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER or a SHA-256 hex digest; got "
                          "'%.80s'",
                          v);
    copy_bounded(out->payload_hash, sizeof out->payload_hash, v, strlen(v));
    return 0;
}

/* Credential = AK/YYYYMMDD/region/service/aws4_request */
static int parse_credential(sigv4_auth_t *out, const char *cred, tarn_reason_t reason,
                            tarn_err_t *err)
{
    const char *part[5];
    size_t len[5];
    const char *s = cred;
    for (int i = 0; i < 5; i++) {
        const char *slash = i < 4 ? strchr(s, '/') : NULL;
        if (i < 4 && !slash)
            return TARN_ERR_RV(err, TARN_EINVAL, reason,
                               "credential '%.200s' is malformed; expecting "
                               "\"<access-key>/YYYYMMDD/<region>/<service>/aws4_request\"",
                               cred);
        part[i] = s;
        len[i] = slash ? (size_t)(slash - s) : strlen(s);
        s = slash ? slash + 1 : s + len[i];
    }
    if (len[0] == 0 || !copy_bounded(out->access_key, sizeof out->access_key, part[0], len[0]))
        return TARN_ERR_RV(err, TARN_EINVAL, reason,
                           "credential access key must be 1 to %zu characters",
                           sizeof out->access_key - 1);
    bool date_ok = len[1] == 8;
    for (size_t i = 0; date_ok && i < 8; i++)
        date_ok = part[1][i] >= '0' && part[1][i] <= '9';
    if (!date_ok)
        return TARN_ERR_RV(err, TARN_EINVAL, reason,
                           "credential date '%.*s' is not in YYYYMMDD format",
                           (int)(len[1] > 64 ? 64 : len[1]), part[1]);
    copy_bounded(out->date, sizeof out->date, part[1], 8);
    if (len[2] == 0 || !copy_bounded(out->region, sizeof out->region, part[2], len[2]))
        return TARN_ERR_RV(err, TARN_EINVAL, reason,
                           "credential region must be 1 to %zu characters", sizeof out->region - 1);
    if (len[3] == 0 || !copy_bounded(out->service, sizeof out->service, part[3], len[3]))
        return TARN_ERR_RV(err, TARN_EINVAL, reason,
                           "credential service must be 1 to %zu characters",
                           sizeof out->service - 1);
    if (len[4] != strlen(TERMINATOR) || memcmp(part[4], TERMINATOR, len[4]) != 0)
        return TARN_ERR_RV(err, TARN_EINVAL, reason,
                           "credential must end with \"aws4_request\", not \"%.40s\"", part[4]);
    snprintf(out->scope, sizeof out->scope, "%s/%s/%s/" TERMINATOR, out->date, out->region,
             out->service);
    return 0;
}

static bool is_token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static int parse_signed_headers(sigv4_auth_t *out, const char *v, tarn_reason_t reason,
                                tarn_err_t *err)
{
    size_t n = strlen(v);
    if (n == 0)
        return TARN_ERR_RV(err, TARN_EINVAL, reason, "SignedHeaders is empty");
    if (!copy_bounded(out->signed_headers, sizeof out->signed_headers, v, n))
        return TARN_ERR_RV(err, TARN_EINVAL, reason, "SignedHeaders is longer than %d bytes",
                           SIGV4_SIGNED_HEADERS_MAX - 1);
    bool has_host = false;
    const char *s = v;
    for (;;) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0)
            return TARN_ERR_RV(err, TARN_EINVAL, reason,
                               "SignedHeaders '%.200s' contains an empty header name", v);
        for (size_t i = 0; i < len; i++)
            if (!is_token_char((unsigned char)s[i]))
                return TARN_ERR_RV(err, TARN_EINVAL, reason,
                                   "SignedHeaders contains an invalid header name '%.*s'",
                                   (int)(len > 64 ? 64 : len), s);
        if (ieqn(s, len, "host"))
            has_host = true;
        if (!e)
            break;
        s = e + 1;
    }
    if (!has_host)
        return TARN_ERR_RV(err, TARN_EINVAL, reason, "SignedHeaders '%.200s' must include host", v);
    return 0;
}

static int parse_signature(sigv4_auth_t *out, const char *v, tarn_reason_t reason, tarn_err_t *err)
{
    if (!is_hex_n(v, 64))
        return TARN_ERR_RV(err, TARN_EINVAL, reason,
                           "signature must be 64 hexadecimal characters, got '%.80s'", v);
    for (int i = 0; i < 64; i++)
        out->signature[i] = (char)lower_ascii((unsigned char)v[i]);
    out->signature[64] = '\0';
    return 0;
}

static int parse_authorization(sigv4_auth_t *out, const sigv4_request_t *req, const char *hdr,
                               tarn_err_t *err)
{
    static const tarn_reason_t R = TARN_R_AuthorizationHeaderMalformed;
    buf_t tmp = BUF_INIT;
    int rc = 0;
    const char *p = hdr;
    while (is_space(*p))
        p++;
    size_t alen = strcspn(p, " \t,");
    if (alen != strlen(ALGORITHM) || memcmp(p, ALGORITHM, alen) != 0) {
        if (alen == 3 && memcmp(p, "AWS", 3) == 0)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "the authorization mechanism you have provided (AWS Signature "
                              "Version 2) is not supported; please use AWS4-HMAC-SHA256");
        return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                          "the authorization mechanism '%.*s' is not supported; please use "
                          "AWS4-HMAC-SHA256",
                          (int)(alen > 48 ? 48 : alen), p);
    }
    p += alen;
    bool seen_cred = false, seen_sh = false, seen_sig = false;
    while (*p) {
        while (is_space(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end && is_space(p[end - 1]))
            end--;
        const char *eq = memchr(p, '=', end);
        if (!eq) {
            rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                             "Authorization component '%.*s' is not of the form Key=Value",
                             (int)(end > 64 ? 64 : end), p);
            goto done;
        }
        size_t klen = (size_t)(eq - p);
        while (klen && is_space(p[klen - 1]))
            klen--;
        const char *v = eq + 1;
        while (v < p + end && is_space(*v))
            v++;
        buf_reset(&tmp);
        if (buf_append(&tmp, v, (size_t)(p + end - v))) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory parsing Authorization");
            goto done;
        }
        bool *seen = NULL;
        if (klen == 10 && memcmp(p, "Credential", 10) == 0)
            seen = &seen_cred;
        else if (klen == 13 && memcmp(p, "SignedHeaders", 13) == 0)
            seen = &seen_sh;
        else if (klen == 9 && memcmp(p, "Signature", 9) == 0)
            seen = &seen_sig;
        if (!seen) {
            rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                             "unknown Authorization component '%.*s' (expected Credential, "
                             "SignedHeaders and Signature)",
                             (int)(klen > 64 ? 64 : klen), p);
            goto done;
        }
        if (*seen) {
            rc = TARN_ERR_RV(err, TARN_EINVAL, R, "Authorization component '%.*s' appears twice",
                             (int)klen, p);
            goto done;
        }
        *seen = true;
        if (seen == &seen_cred)
            rc = parse_credential(out, bstr(&tmp), R, err);
        else if (seen == &seen_sh)
            rc = parse_signed_headers(out, bstr(&tmp), R, err);
        else
            rc = parse_signature(out, bstr(&tmp), R, err);
        if (rc)
            goto done;
        p += len;
    }
    if (!seen_cred || !seen_sh || !seen_sig) {
        rc = TARN_ERR_RV(err, TARN_EINVAL, R, "Authorization header is missing %s",
                         !seen_cred ? "Credential"
                         : !seen_sh ? "SignedHeaders"
                                    : "Signature");
        goto done;
    }

    /* Request time: X-Amz-Date wins over Date. */
    const char *xd = sigv4_request_header(req, "x-amz-date");
    time_t t;
    if (xd) {
        while (is_space(*xd))
            xd++;
        size_t xl = strlen(xd);
        while (xl && is_space(xd[xl - 1]))
            xl--;
        if (xl != 16 || !copy_bounded(out->amz_date, sizeof out->amz_date, xd, xl) ||
            time_parse_amz(&t, out->amz_date)) {
            rc = TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                            "X-Amz-Date '%.40s' is not in the form YYYYMMDDTHHMMSSZ", xd);
            goto done;
        }
    } else {
        const char *d = sigv4_request_header(req, "date");
        if (!d) {
            rc = TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                            "AWS authentication requires a valid Date or x-amz-date header");
            goto done;
        }
        while (is_space(*d))
            d++;
        if (time_parse_http(&t, d)) {
            rc = TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                            "Date header '%.60s' is not a valid HTTP date", d);
            goto done;
        }
        time_fmt_amz(out->amz_date, t);
    }

    const char *ph = sigv4_request_header(req, "x-amz-content-sha256");
    if (ph)
        rc = set_payload_hash(out, ph, err);
done:
    buf_free(&tmp);
    return rc;
}

static int parse_presigned(sigv4_auth_t *out, const sigv4_request_t *req, tarn_err_t *err)
{
    static const tarn_reason_t R = TARN_R_AuthorizationQueryParametersError;
    static const char *names[] = {"X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
                                  "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature"};
    buf_t v[6] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    buf_t ph = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < 6; i++) {
        int n = query_find(req->raw_query, names[i], &v[i]);
        if (n < 0) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory parsing the query string");
            goto done;
        }
        if (n == 0) {
            rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                             "query-string authentication version 4 requires the "
                             "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                             "X-Amz-SignedHeaders, and X-Amz-Expires parameters; %s is missing",
                             names[i]);
            goto done;
        }
        if (n > 1) {
            rc = TARN_ERR_RV(err, TARN_EINVAL, R, "query parameter %s appears %d times", names[i],
                             n);
            goto done;
        }
    }
    if (strcmp(bstr(&v[0]), ALGORITHM) != 0) {
        rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                         "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\", got '%.48s'",
                         bstr(&v[0]));
        goto done;
    }
    if ((rc = parse_credential(out, bstr(&v[1]), R, err)))
        goto done;
    time_t t;
    if (v[2].len != 16 || !copy_bounded(out->amz_date, sizeof out->amz_date, v[2].data, 16) ||
        time_parse_amz(&t, out->amz_date)) {
        rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                         "X-Amz-Date must be in the ISO8601 long format YYYYMMDDTHHMMSSZ, got "
                         "'%.40s'",
                         bstr(&v[2]));
        goto done;
    }
    const char *e = bstr(&v[3]);
    long expires = 0;
    bool digits = *e != '\0';
    for (const char *c = e; *c && digits; c++) {
        digits = *c >= '0' && *c <= '9';
        if (digits && expires <= SIGV4_MAX_EXPIRES)
            expires = expires * 10 + (*c - '0');
    }
    if (!digits || expires < 1) {
        rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                         "X-Amz-Expires must be a positive number of seconds, got '%.40s'", e);
        goto done;
    }
    if (expires > SIGV4_MAX_EXPIRES) {
        rc = TARN_ERR_RV(err, TARN_EINVAL, R,
                         "X-Amz-Expires must be less than a week (in seconds) that is %d",
                         SIGV4_MAX_EXPIRES);
        goto done;
    }
    out->expires = expires;
    if ((rc = parse_signed_headers(out, bstr(&v[4]), R, err)) ||
        (rc = parse_signature(out, bstr(&v[5]), R, err)))
        goto done;
    int n = query_find(req->raw_query, "X-Amz-Content-Sha256", &ph);
    if (n < 0) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory parsing the query string");
        goto done;
    }
    rc = set_payload_hash(out, n ? bstr(&ph) : SIGV4_UNSIGNED_PAYLOAD, err);
    out->presigned = 1;
done:
    for (int i = 0; i < 6; i++)
        buf_free(&v[i]);
    buf_free(&ph);
    return rc;
}

int sigv4_parse(sigv4_auth_t *out, const sigv4_request_t *req, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t nauth = header_count(req, "authorization");
    int qsig = query_find(req->raw_query, "X-Amz-Signature", NULL);
    int qalg = query_find(req->raw_query, "X-Amz-Algorithm", NULL);
    int qcred = query_find(req->raw_query, "X-Amz-Credential", NULL);
    if (qsig < 0 || qalg < 0 || qcred < 0)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory parsing the query string");
    bool query_auth = qsig || qalg || qcred;
    if (nauth > 1)
        return TARN_ERR_R(err, TARN_EINVAL, AuthorizationHeaderMalformed,
                          "the request carries %zu Authorization headers", nauth);
    if (nauth && query_auth)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "only one auth mechanism allowed; only the X-Amz-Algorithm query "
                          "parameter or the Authorization header should be specified");
    if (nauth)
        return parse_authorization(out, req, sigv4_request_header(req, "authorization"), err);
    if (query_auth)
        return parse_presigned(out, req, err);
    int v2 = query_find(req->raw_query, "AWSAccessKeyId", NULL);
    if (v2 < 0)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory parsing the query string");
    if (v2)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                          "the authorization mechanism you have provided (AWS Signature Version "
                          "2 query string) is not supported; please use AWS4-HMAC-SHA256");
    return TARN_ERR_R(err, TARN_ENOTFOUND, AccessDenied, "anonymous requests are not allowed");
}

/* ---- canonical request, string to sign, signature ---- */

/* query_verbatim: the query exactly as received instead of its canonical form (the
 * fallback for curl before 8.x, see sigv4_verify). */
static int build_canonical(buf_t *out, const sigv4_request_t *req, const sigv4_auth_t *auth,
                           const char *payload_hash, int mode, bool query_verbatim, tarn_err_t *err)
{
    if (!payload_hash)
        payload_hash = auth->payload_hash;
    if (buf_puts(out, req->method ? req->method : "") || buf_putc(out, '\n') ||
        canonical_uri(out, req->raw_path, mode) || buf_putc(out, '\n'))
        goto nomem;
    if (query_verbatim ? buf_puts(out, req->raw_query ? req->raw_query : "")
                       : canonical_query(out, req->raw_query, auth->presigned))
        goto nomem;
    if (buf_putc(out, '\n'))
        goto nomem;
    const char *s = auth->signed_headers;
    while (*s) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        for (size_t i = 0; i < len; i++)
            if (buf_putc(out, (char)lower_ascii((unsigned char)s[i])))
                goto nomem;
        if (buf_putc(out, ':'))
            goto nomem;
        int found = canonical_header_value(out, req, s, len);
        if (found < 0)
            goto nomem;
        if (!found)
            return TARN_ERR_R(err, TARN_EDENIED, SignatureDoesNotMatch,
                              "header '%.*s' is listed in SignedHeaders but is not present in "
                              "the request",
                              (int)(len > 128 ? 128 : len), s);
        if (buf_putc(out, '\n'))
            goto nomem;
        if (!e)
            break;
        s = e + 1;
    }
    if (buf_putc(out, '\n') || buf_puts(out, auth->signed_headers) || buf_putc(out, '\n') ||
        buf_puts(out, payload_hash))
        goto nomem;
    return 0;
nomem:
    return TARN_ERR(err, TARN_ENOMEM, "out of memory building the canonical request");
}

/* Whether name (any case) is one of the SignedHeaders. */
static bool is_signed(const sigv4_auth_t *auth, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = auth->signed_headers; *s;) {
        const char *e = strchr(s, ';');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && !strncasecmp(s, name, n))
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

int sigv4_check_signed_headers(const sigv4_request_t *req, const sigv4_auth_t *auth,
                               tarn_err_t *err)
{
    char missing[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *h = req->headers[i].name;
        if (strncasecmp(h, "x-amz-", 6) && strcasecmp(h, "content-md5"))
            continue;
        bool again = false; /* a repeated header is named once */
        for (size_t j = 0; j < i && !again; j++)
            again = !strcasecmp(req->headers[j].name, h);
        if (again || is_signed(auth, h))
            continue;
        int w = snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "", h);
        if (w > 0 && (size_t)w < sizeof missing - used)
            used += (size_t)w;
    }
    if (!used)
        return 0;
    return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                      "There were headers present in the request which were not signed: %s "
                      "(every x-amz-* header and Content-MD5 must be in SignedHeaders)",
                      missing);
}

int sigv4_canonical_request(buf_t *out, const sigv4_request_t *req, const sigv4_auth_t *auth,
                            const char *payload_hash, int mode, tarn_err_t *err)
{
    return build_canonical(out, req, auth, payload_hash, mode, false, err);
}

int sigv4_string_to_sign(buf_t *out, const sigv4_auth_t *auth, const char *canonical_request)
{
    uint8_t digest[32];
    char hex[65];
    hash_sha256(digest, canonical_request, strlen(canonical_request));
    hash_hex(hex, digest, 32);
    return buf_printf(out, ALGORITHM "\n%s\n%s\n%s", auth->amz_date, auth->scope, hex) ? TARN_ENOMEM
                                                                                       : 0;
}

int sigv4_signing_key(uint8_t out[32], const char *secret, const char *date, const char *region,
                      const char *service)
{
    unsigned char kbuf[128];
    uint8_t k1[32], k2[32];
    size_t slen = strlen(secret);
    size_t klen;
    if (slen <= sizeof kbuf - 4) {
        memcpy(kbuf, "AWS4", 4);
        memcpy(kbuf + 4, secret, slen);
        klen = slen + 4;
    } else {
        /* HMAC replaces a key longer than its block by the key's digest; doing that here
         * avoids copying a secret of unbounded length. */
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned dlen = 32;
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, "AWS4", 4) ||
            !EVP_DigestUpdate(md, secret, slen) || !EVP_DigestFinal_ex(md, kbuf, &dlen)) {
            EVP_MD_CTX_free(md);
            return TARN_ENOMEM;
        }
        EVP_MD_CTX_free(md);
        klen = 32;
    }
    hash_hmac_sha256(k1, kbuf, klen, date, strlen(date));
    hash_hmac_sha256(k2, k1, 32, region, strlen(region));
    hash_hmac_sha256(k1, k2, 32, service, strlen(service));
    hash_hmac_sha256(out, k1, 32, TERMINATOR, strlen(TERMINATOR));
    OPENSSL_cleanse(kbuf, sizeof kbuf);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    return 0;
}

/* Signs canonical request creq with key (sts is scratch): 0 when the signature matches
 * auth's, 1 when it does not, TARN_ENOMEM. */
static int signature_matches(const sigv4_auth_t *auth, const uint8_t key[32], const buf_t *creq,
                             buf_t *sts, tarn_err_t *err)
{
    uint8_t mac[32];
    char hex[65];
    buf_reset(sts);
    if (sigv4_string_to_sign(sts, auth, bstr(creq)))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory computing the signature");
    hash_hmac_sha256(mac, key, 32, sts->data, sts->len);
    hash_hex(hex, mac, 32);
    return hash_equal(hex, 64, auth->signature, strlen(auth->signature)) ? 0 : 1;
}

int sigv4_verify(const sigv4_request_t *req, const sigv4_auth_t *auth, const char *secret,
                 const char *payload_hash, time_t now, int mode, tarn_err_t *err)
{
    tarn_reason_t R = auth->presigned ? TARN_R_AuthorizationQueryParametersError
                                      : TARN_R_AuthorizationHeaderMalformed;
    buf_t creq = BUF_INIT, sts = BUF_INIT;
    uint8_t key[32], mac[32];
    char cdigest[65];
    int rc = 0;
    time_t t;

    if (!payload_hash)
        payload_hash = auth->payload_hash;
    if (!*payload_hash)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                          "missing required header for this request: x-amz-content-sha256");
    if ((rc = sigv4_check_signed_headers(req, auth, err)))
        return rc;
    if (time_parse_amz(&t, auth->amz_date))
        return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                          "request date '%s' is not in the form YYYYMMDDTHHMMSSZ", auth->amz_date);
    if (memcmp(auth->date, auth->amz_date, 8) != 0)
        return TARN_ERR_RV(err, TARN_EINVAL, R,
                           "credential date %s is not the same as the request date %.8s",
                           auth->date, auth->amz_date);
    if (auth->presigned) {
        if (t - now > SIGV4_MAX_SKEW)
            return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                              "request is not valid yet: X-Amz-Date %s is %lld seconds in the "
                              "future",
                              auth->amz_date, (long long)(t - now));
        if (now - t > auth->expires)
            return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                              "Request has expired: X-Amz-Date %s plus X-Amz-Expires %ld "
                              "seconds is %lld seconds ago",
                              auth->amz_date, auth->expires, (long long)(now - t - auth->expires));
    } else if (t - now > SIGV4_MAX_SKEW || now - t > SIGV4_MAX_SKEW) {
        return TARN_ERR_R(err, TARN_EDENIED, RequestTimeTooSkewed,
                          "the difference between the request time (%s) and the server's time "
                          "is too large: %lld seconds, at most %d allowed",
                          auth->amz_date, (long long)(t > now ? t - now : now - t), SIGV4_MAX_SKEW);
    }

    if (sigv4_signing_key(key, secret, auth->date, auth->region, auth->service)) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory computing the signature");
        goto done;
    }
    if ((rc = sigv4_canonical_request(&creq, req, auth, payload_hash, mode, err)) ||
        (rc = signature_matches(auth, key, &creq, &sts, err)) != 1)
        goto done;
    hash_sha256(mac, creq.data, creq.len);
    hash_hex(cdigest, mac, 32);

    /* curl before 8.x (--aws-sigv4) signs the query string as sent, unsorted and not
     * re-encoded. Accepting a signature over the exact received bytes cannot be abused: the
     * canonical form decodes to the same parameters as the query it came from. */
    if (!auth->presigned && req->raw_query && *req->raw_query) {
        buf_reset(&creq);
        buf_reset(&sts);
        if ((rc = build_canonical(&creq, req, auth, payload_hash, mode, true, err)) ||
            (rc = signature_matches(auth, key, &creq, &sts, err)) != 1)
            goto done;
    }
    rc = TARN_ERR_R(err, TARN_EDENIED, SignatureDoesNotMatch,
                    "the request signature we calculated does not match the signature you "
                    "provided; check your key and signing method (server canonical request "
                    "SHA-256 %s)",
                    cdigest);
done:
    OPENSSL_cleanse(key, sizeof key);
    buf_free(&creq);
    buf_free(&sts);
    return rc;
}

int sigv4_verify_payload(const sigv4_auth_t *auth, const uint8_t body_sha256[32], tarn_err_t *err)
{
    if (!is_hex_n(auth->payload_hash, 64))
        return 0;
    char hex[65], want[65];
    hash_hex(hex, body_sha256, 32);
    for (int i = 0; i < 65; i++)
        want[i] = (char)lower_ascii((unsigned char)auth->payload_hash[i]);
    if (memcmp(hex, want, 64) != 0)
        return TARN_ERR_R(err, TARN_EINVAL, XAmzContentSHA256Mismatch,
                          "the provided x-amz-content-sha256 header %s does not match what was "
                          "computed: %s",
                          auth->payload_hash, hex);
    return 0;
}
