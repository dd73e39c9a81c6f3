/* PostgreSQL array literals and binary arrays read into nested JSON arrays; see pgarray.h.
 * The text rules are array_in's: optional dimension decoration, braces per dimension,
 * elements quoted ("...") or bare, backslash escapes in both, bare NULL for a null, space
 * around elements ignored, every sub-array of one level the same length. */
#include "consume/pgwire/pgarray.h"
#include "util/buf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- text ---- */

typedef struct {
    const char *s, *p, *end;
    pgarray_elem_fn elem;
    void *ctx;
    int dims[PGARRAY_MAX_DIMS]; /* the length of each level, 0 until one is complete */
    int leaf;                   /* the level elements sit at, -1 until one is read */
    buf_t b;                    /* the current element, unescaped */
    tarn_err_t *err;
} text_reader_t;

static int malformed(text_reader_t *r)
{
    int n = (int)(r->end - r->s);
    return TARN_ERR_R(r->err, TARN_EINVAL, InvalidTextRepresentation,
                      "malformed array literal: \"%.*s\"", n > 200 ? 200 : n, r->s);
}

static void skip_space(text_reader_t *r)
{
    while (r->p < r->end && isspace((unsigned char)*r->p))
        r->p++;
}

/* One element at r->p (quoted or bare) into *out. */
static int read_element(text_reader_t *r, json_t **out)
{
    buf_reset(&r->b);
    bool quoted = *r->p == '"', escaped = false;
    size_t keep = 0; /* a bare element's length without its trailing space */
    if (quoted) {
        r->p++;
        for (;;) {
            if (r->p >= r->end)
                return malformed(r);
            char c = *r->p++;
            if (c == '"')
                break;
            if (c == '\\') {
                if (r->p >= r->end)
                    return malformed(r);
                c = *r->p++;
            }
            buf_putc(&r->b, c);
        }
    } else {
        while (r->p < r->end && *r->p != ',' && *r->p != '}') {
            char c = *r->p++;
            if (c == '{' || c == '"')
                return malformed(r);
            if (c == '\\') {
                if (r->p >= r->end)
                    return malformed(r);
                buf_putc(&r->b, *r->p++);
                escaped = true;
                keep = r->b.len;
                continue;
            }
            buf_putc(&r->b, c);
            if (!isspace((unsigned char)c))
                keep = r->b.len;
        }
        r->b.len = keep;
    }
    if (r->b.len == 0 && !quoted)
        return malformed(r); /* "{1,,2}" */
    if (buf_reserve(&r->b, 1))
        return TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    if (!quoted && !escaped && r->b.len == 4 && !strncasecmp(r->b.data, "NULL", 4)) {
        *out = json_null();
        return 0;
    }
    return r->elem(r->ctx, r->b.data, r->b.len, out, r->err);
}

/* The level that starts at r->p ('{') at depth, into *out. */
static int read_level(text_reader_t *r, int depth, json_t **out)
{
    if (depth >= PGARRAY_MAX_DIMS)
        return TARN_ERR_R(r->err, TARN_EINVAL, InvalidParameterValue,
                          "number of array dimensions (%d) exceeds the maximum allowed (%d)",
                          depth + 1, PGARRAY_MAX_DIMS);
    r->p++;
    json_t *arr = json_array();
    int rc = arr ? 0 : TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    int n = 0;
    skip_space(r);
    if (!rc && r->p < r->end && *r->p == '}') {
        /* '{}' is the empty array, and only at the top. */
        r->p++;
        if (depth)
            rc = malformed(r);
        goto done;
    }
    while (!rc) {
        skip_space(r);
        if (r->p >= r->end) {
            rc = malformed(r);
            break;
        }
        json_t *v = NULL;
        if (*r->p == '{') {
            if (r->leaf >= 0 && r->leaf <= depth)
                rc = malformed(r);
            else
                rc = read_level(r, depth + 1, &v);
        } else if (*r->p == ',' || *r->p == '}') {
            rc = malformed(r);
        } else if (r->leaf >= 0 && r->leaf != depth) {
            rc = malformed(r);
        } else {
            r->leaf = depth;
            rc = read_element(r, &v);
        }
        if (!rc && json_array_append_new(arr, v))
            rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
        if (rc)
            break;
        n++;
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            break;
        }
        rc = malformed(r);
    }
    if (!rc && r->dims[depth] && r->dims[depth] != n)
        rc = malformed(r); /* sub-arrays of one level must match */
    if (!rc)
        r->dims[depth] = n;
done:
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* A bounded decimal integer at r->p. */
static bool read_int(text_reader_t *r, long *v)
{
    const char *q = r->p;
    if (q < r->end && (*q == '-' || *q == '+'))
        q++;
    if (q >= r->end || !isdigit((unsigned char)*q))
        return false;
    long x = 0;
    while (q < r->end && isdigit((unsigned char)*q)) {
        if (x > 100000000)
            return false;
        x = x * 10 + (*q++ - '0');
    }
    *v = *r->p == '-' ? -x : x;
    r->p = q;
    return true;
}

/* '[lo:hi][lo:hi]=' before the braces: the lengths each dimension must have. */
static int read_decoration(text_reader_t *r, int *ndims, long *lens)
{
    *ndims = 0;
    while (r->p < r->end && *r->p == '[') {
        if (*ndims == PGARRAY_MAX_DIMS)
            return malformed(r);
        r->p++;
        skip_space(r);
        long lo = 1, hi;
        if (!read_int(r, &hi))
            return malformed(r);
        skip_space(r);
        if (r->p < r->end && *r->p == ':') {
            r->p++;
            skip_space(r);
            lo = hi;
            if (!read_int(r, &hi))
                return malformed(r);
            skip_space(r);
        }
        if (r->p >= r->end || *r->p != ']' || hi < lo - 1)
            return malformed(r);
        r->p++;
        lens[(*ndims)++] = hi - lo + 1;
        skip_space(r);
    }
    if (*ndims) {
        if (r->p >= r->end || *r->p != '=')
            return malformed(r);
        r->p++;
        skip_space(r);
    }
    return 0;
}

int pgarray_from_text(const char *s, size_t len, pgarray_elem_fn elem, void *ctx, json_t **out,
                      tarn_err_t *err)
{
    text_reader_t r = {.s = s, .p = s, .end = s + len, .elem = elem, .ctx = ctx, .leaf = -1,
                       .b = BUF_INIT, .err = err};
    json_t *arr = NULL;
    int ndecl;
    long lens[PGARRAY_MAX_DIMS];
    skip_space(&r);
    int rc = read_decoration(&r, &ndecl, lens);
    if (!rc && (r.p >= r.end || *r.p != '{'))
        rc = malformed(&r);
    if (!rc)
        rc = read_level(&r, 0, &arr);
    skip_space(&r);
    if (!rc && r.p != r.end)
        rc = malformed(&r); /* junk after the closing brace */
    if (!rc && ndecl) {
        /* The decoration must describe what the braces hold. */
        int ndims = r.leaf + 1;
        bool same = ndims == ndecl || (ndims == 0 && ndecl == 1 && lens[0] == 0);
        for (int i = 0; same && ndims && i < ndecl; i++)
            same = lens[i] == r.dims[i];
        if (!same)
            rc = malformed(&r);
    }
    buf_free(&r.b);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* ---- binary ---- */

typedef struct {
    const unsigned char *p, *end;
    pgarray_elem_fn elem;
    void *ctx;
    int ndims;
    int32_t dims[PGARRAY_MAX_DIMS];
    tarn_err_t *err;
} bin_reader_t;

static bool get_i32(bin_reader_t *r, int32_t *v)
{
    if (r->end - r->p < 4)
        return false;
    *v = (int32_t)((uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
                   r->p[3]);
    r->p += 4;
    return true;
}

static int short_data(bin_reader_t *r)
{
    return TARN_ERR_R(r->err, TARN_EINVAL, ProtocolViolation,
                      "insufficient data left in message");
}

static int read_bin_level(bin_reader_t *r, int depth, json_t **out)
{
    json_t *arr = json_array();
    int rc = arr ? 0 : TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    for (int32_t i = 0; !rc && i < r->dims[depth]; i++) {
        json_t *v = NULL;
        if (depth + 1 < r->ndims) {
            rc = read_bin_level(r, depth + 1, &v);
        } else {
            int32_t n;
            if (!get_i32(r, &n) || n < -1 || n > r->end - r->p)
                rc = short_data(r);
            else if (n == -1)
                v = json_null();
            else if (!(rc = r->elem(r->ctx, (const char *)r->p, (size_t)n, &v, r->err)))
                r->p += n;
        }
        if (!rc && json_array_append_new(arr, v))
            rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    }
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int pgarray_from_binary(const char *d, size_t len, uint32_t elem_oid, pgarray_elem_fn elem,
                        void *ctx, json_t **out, tarn_err_t *err)
{
    bin_reader_t r = {.p = (const unsigned char *)d, .end = (const unsigned char *)d + len,
                      .elem = elem, .ctx = ctx, .err = err};
    int32_t ndims, flags, oid;
    if (!get_i32(&r, &ndims) || !get_i32(&r, &flags) || !get_i32(&r, &oid))
        return short_data(&r);
    if (ndims < 0 || ndims > PGARRAY_MAX_DIMS)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                          "invalid number of dimensions: %d", (int)ndims);
    if (flags != 0 && flags != 1)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue, "invalid array flags");
    if ((uint32_t)oid != elem_oid)
        return TARN_ERR_R(err, TARN_EINVAL, DatatypeMismatch,
                          "binary data has array element type %u instead of expected %u",
                          (unsigned)oid, (unsigned)elem_oid);
    r.ndims = ndims;
    int64_t total = ndims ? 1 : 0;
    for (int i = 0; i < ndims; i++) {
        int32_t lb;
        if (!get_i32(&r, &r.dims[i]) || !get_i32(&r, &lb))
            return short_data(&r);
        if (r.dims[i] < 0)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                              "array dimension %d has a negative length", i + 1);
        total *= r.dims[i];
        /* Each element takes at least its 4-byte length: more than fit is a lie. */
        if (total > (r.end - r.p) / 4 + 1)
            return short_data(&r);
    }
    json_t *arr = NULL;
    int rc = ndims == 0 || total == 0 ? ((arr = json_array())
                                             ? 0
                                             : TARN_ERR(err, TARN_ENOMEM, "out of memory"))
                                      : read_bin_level(&r, 0, &arr);
    if (!rc && r.p != r.end)
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidBinaryRepresentation,
                        "incorrect binary data format in array");
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
