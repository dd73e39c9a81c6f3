/* aws-chunked body decoder: a byte-at-a-time-safe state machine over chunk header lines,
 * chunk data (hashed incrementally, never buffered) and trailer lines, with the chained
 * chunk signatures of SigV4 streaming uploads and the trailing checksum. */
#include "govern/sigv4_chunked.h"

#include "util/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum mode { MODE_SIGNED, MODE_SIGNED_TRAILER, MODE_UNSIGNED_TRAILER };
enum state { ST_SIZE, ST_DATA, ST_DATA_CR, ST_DATA_LF, ST_TRAILER, ST_DONE };
enum alg { ALG_NONE, ALG_CRC32, ALG_CRC32C, ALG_CRC64NVME, ALG_SHA1, ALG_SHA256 };

static const struct {
    const char *name;  /* trailer name */
    const char *label; /* as S3 spells it in messages */
} alg_names[] = {
    [ALG_NONE] = {"", ""},
    [ALG_CRC32] = {"x-amz-checksum-crc32", "CRC32"},
    [ALG_CRC32C] = {"x-amz-checksum-crc32c", "CRC32C"},
    [ALG_CRC64NVME] = {"x-amz-checksum-crc64nvme", "CRC64NVME"},
    [ALG_SHA1] = {"x-amz-checksum-sha1", "SHA1"},
    [ALG_SHA256] = {"x-amz-checksum-sha256", "SHA256"},
};

#define CHECKSUM_PREFIX "x-amz-checksum-"
#define TRAILER_SIG "x-amz-trailer-signature"

struct sigv4_chunked {
    enum mode mode;
    enum state st;
    int failed; /* first error code; the decoder refuses input afterwards */
    tarn_reason_t fail_reason;

    /* signing */
    uint8_t key[32];
    char amz_date[17];
    char scope[200];
    char prev_sig[65];
    char chunk_sig[65];   /* signature announced in the current chunk's header */
    EVP_MD_CTX *chunk_md; /* SHA-256 of the current chunk's data */

    sigv4_chunked_sink sink;
    void *ctx;

    /* framing */
    char line[SIGV4_TRAILER_MAX + 1];
    size_t line_len;
    uint64_t chunk_left;
    uint64_t chunk_size;
    uint64_t nchunks;
    uint64_t decoded;

    /* expectations */
    int64_t expect_len; /* -1 when unknown */
    bool expect_set;
    char declared[SIGV4_TRAILERS_MAX][64];
    size_t ndeclared;

    /* trailing checksum */
    enum alg alg;
    uLong crc32;
    uint32_t crc32c;
    uint64_t crc64;
    uint64_t *crc64_table; /* 256 entries, only for CRC64NVME */
    EVP_MD_CTX *sum_md;    /* SHA-1 or SHA-256 */

    /* trailers */
    size_t trailer_bytes;
    bool trailer_sig_ok;
    char tstore[SIGV4_TRAILER_MAX];
    size_t tstore_len;
    struct {
        size_t name, value; /* offsets into tstore */
    } trailers[SIGV4_TRAILERS_MAX];
    size_t ntrailers;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_lower_hex64(const char *s, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Records the first error (already written to err) so later calls repeat it. */
static int fail(sigv4_chunked_t *c, const tarn_err_t *err, int code)
{
    if (!c->failed) {
        c->failed = code;
        c->fail_reason = err ? err->reason : TARN_R_NONE;
    }
    return code;
}

/* CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones. */
static void crc64_init_table(uint64_t *t)
{
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x9A6C9329AC4BC9B5ull : c >> 1;
        t[i] = c;
    }
}

static void checksum_update(sigv4_chunked_t *c, const uint8_t *p, size_t n)
{
    switch (c->alg) {
    case ALG_NONE:
        break;
    case ALG_CRC32: {
        size_t left = n;
        const uint8_t *b = p;
        while (left) { /* zlib takes uInt lengths */
            uInt part = left > (1u << 30) ? (1u << 30) : (uInt)left;
            c->crc32 = crc32(c->crc32, b, part);
            b += part;
            left -= part;
        }
        break;
    }
    case ALG_CRC32C:
        c->crc32c = hash_crc32c_update(c->crc32c, p, n);
        break;
    case ALG_CRC64NVME: {
        uint64_t crc = c->crc64;
        for (size_t i = 0; i < n; i++)
            crc = c->crc64_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
        c->crc64 = crc;
        break;
    }
    case ALG_SHA1:
    case ALG_SHA256:
        EVP_DigestUpdate(c->sum_md, p, n);
        break;
    }
}

/* Base64 of the big-endian checksum of the decoded bytes; out holds 45 bytes. */
static void checksum_final(sigv4_chunked_t *c, char out[45])
{
    uint8_t d[32];
    size_t n = 0;
    unsigned len = 0;
    switch (c->alg) {
    case ALG_NONE:
        break;
    case ALG_CRC32:
    case ALG_CRC32C: {
        uint32_t v = c->alg == ALG_CRC32 ? (uint32_t)c->crc32 : c->crc32c;
        for (n = 0; n < 4; n++)
            d[n] = (uint8_t)(v >> (24 - 8 * n));
        break;
    }
    case ALG_CRC64NVME: {
        uint64_t v = ~c->crc64;
        for (n = 0; n < 8; n++)
            d[n] = (uint8_t)(v >> (56 - 8 * n));
        break;
    }
    case ALG_SHA1:
    case ALG_SHA256:
        EVP_DigestFinal_ex(c->sum_md, d, &len);
        n = len;
        break;
    }
    hash_b64(out, d, n);
}

static enum alg alg_of(const char *name, size_t len)
{
    for (int a = ALG_CRC32; a <= ALG_SHA256; a++)
        if (strlen(alg_names[a].name) == len && memcmp(alg_names[a].name, name, len) == 0)
            return (enum alg)a;
    return ALG_NONE;
}

int sigv4_chunked_create(sigv4_chunked_t **out, const char *payload_mode,
                         const uint8_t signing_key[32], const char *amz_date, const char *scope,
                         const char *seed_signature, sigv4_chunked_sink sink, void *ctx,
                         tarn_err_t *err)
{
    *out = NULL;
    enum mode mode;
    if (payload_mode && strcmp(payload_mode, SIGV4_STREAMING_SIGNED) == 0)
        mode = MODE_SIGNED;
    else if (payload_mode && strcmp(payload_mode, SIGV4_STREAMING_SIGNED_TRAILER) == 0)
        mode = MODE_SIGNED_TRAILER;
    else if (payload_mode && strcmp(payload_mode, SIGV4_STREAMING_UNSIGNED_TRAILER) == 0)
        mode = MODE_UNSIGNED_TRAILER;
    else
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "'%.80s' is not an aws-chunked payload mode; expected "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                          payload_mode ? payload_mode : "(none)");
    bool sign = mode != MODE_UNSIGNED_TRAILER;
    if (sign) {
        if (!signing_key || !amz_date || !scope || !seed_signature)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "signed aws-chunked decoding needs a signing key, date, scope "
                              "and seed signature");
        if (strlen(amz_date) != 16)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "request date '%.40s' is not in the form YYYYMMDDTHHMMSSZ", amz_date);
        if (strlen(scope) >= sizeof((sigv4_chunked_t *)0)->scope)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "credential scope is longer than %zu bytes",
                              sizeof((sigv4_chunked_t *)0)->scope - 1);
        if (!is_lower_hex64(seed_signature, strlen(seed_signature)))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "seed signature must be 64 lowercase hex digits");
    }
    sigv4_chunked_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory creating the aws-chunked decoder");
    c->mode = mode;
    c->st = ST_SIZE;
    c->sink = sink;
    c->ctx = ctx;
    c->expect_len = -1;
    if (sign) {
        memcpy(c->key, signing_key, 32);
        memcpy(c->amz_date, amz_date, 17);
        snprintf(c->scope, sizeof c->scope, "%s", scope);
        memcpy(c->prev_sig, seed_signature, 65);
        c->chunk_md = EVP_MD_CTX_new();
        if (!c->chunk_md) {
            sigv4_chunked_free(c);
            return TARN_ERR(err, TARN_ENOMEM, "out of memory creating the aws-chunked decoder");
        }
    }
    *out = c;
    return 0;
}

int sigv4_chunked_expect(sigv4_chunked_t *c, const char *declared_trailer, int64_t decoded_length,
                         tarn_err_t *err)
{
    if (c->nchunks || c->line_len || c->st != ST_SIZE)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                          "aws-chunked expectations must be set before the body is fed");
    c->expect_set = true;
    c->expect_len = decoded_length < 0 ? -1 : decoded_length;
    const char *s = declared_trailer ? declared_trailer : "";
    while (*s) {
        while (is_space(*s) || *s == ',')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, ",");
        size_t end = len;
        while (end && is_space(s[end - 1]))
            end--;
        if (c->mode == MODE_SIGNED)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "x-amz-trailer is set but x-amz-content-sha256 is "
                              "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, which carries no trailer");
        if (c->ndeclared == SIGV4_TRAILERS_MAX || end >= sizeof c->declared[0])
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "x-amz-trailer declares more than %d trailers or a name longer "
                              "than %zu bytes",
                              SIGV4_TRAILERS_MAX, sizeof c->declared[0] - 1);
        char *d = c->declared[c->ndeclared++];
        for (size_t i = 0; i < end; i++)
            d[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
        d[end] = '\0';
        enum alg a = alg_of(d, end);
        if (a == ALG_NONE)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "x-amz-trailer '%s' is not supported; expected one of "
                              "x-amz-checksum-crc32, x-amz-checksum-crc32c, "
                              "x-amz-checksum-crc64nvme, x-amz-checksum-sha1, "
                              "x-amz-checksum-sha256",
                              d);
        if (c->alg != ALG_NONE && c->alg != a)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                              "x-amz-trailer declares more than one checksum algorithm");
        c->alg = a;
        s += len;
    }
    if (c->alg == ALG_CRC32) {
        c->crc32 = crc32(0L, Z_NULL, 0);
    } else if (c->alg == ALG_CRC64NVME) {
        c->crc64_table = malloc(256 * sizeof *c->crc64_table);
        if (!c->crc64_table)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory creating the CRC64NVME table");
        crc64_init_table(c->crc64_table);
        c->crc64 = ~0ull;
    } else if (c->alg == ALG_SHA1 || c->alg == ALG_SHA256) {
        c->sum_md = EVP_MD_CTX_new();
        if (!c->sum_md ||
            !EVP_DigestInit_ex(c->sum_md, c->alg == ALG_SHA1 ? EVP_sha1() : EVP_sha256(), NULL))
            return TARN_ERR(err, TARN_ENOMEM, "out of memory creating the checksum context");
    }
    return 0;
}

int sigv4_chunked_create_for_request(sigv4_chunked_t **out, const sigv4_request_t *req,
                                     const sigv4_auth_t *auth, const char *secret,
                                     sigv4_chunked_sink sink, void *ctx, tarn_err_t *err)
{
    *out = NULL;
    uint8_t key[32];
    const char *mode = auth->payload_hash;
    bool unsigned_mode = strcmp(mode, SIGV4_STREAMING_UNSIGNED_TRAILER) == 0;
    if (auth->presigned)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                          "aws-chunked bodies cannot be sent with a presigned URL");
    int64_t dlen = -1;
    const char *dl = sigv4_request_header(req, "x-amz-decoded-content-length");
    if (dl) {
        while (is_space(*dl))
            dl++;
        const char *p = dl;
        dlen = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (dlen > (INT64_MAX - 9) / 10)
                break;
            dlen = dlen * 10 + (*p - '0');
        }
        while (is_space(*p))
            p++;
        if (p == dl || *p)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "x-amz-decoded-content-length '%.40s' is not a non-negative "
                              "integer",
                              dl);
    }
    if (!unsigned_mode && sigv4_signing_key(key, secret, auth->date, auth->region, auth->service))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory deriving the signing key");
    int rc = sigv4_chunked_create(out, mode, unsigned_mode ? NULL : key, auth->amz_date,
                                  auth->scope, auth->signature, sink, ctx, err);
    OPENSSL_cleanse(key, sizeof key);
    if (rc)
        return rc;
    rc = sigv4_chunked_expect(*out, sigv4_request_header(req, "x-amz-trailer"), dlen, err);
    if (rc) {
        sigv4_chunked_free(*out);
        *out = NULL;
    }
    return rc;
}

/* HMAC over the chunk string-to-sign; hex result in out (65 bytes). */
static void chunk_signature(const sigv4_chunked_t *c, const char *prefix, const char *tail,
                            char out[65])
{
    char sts[512];
    uint8_t mac[32];
    int n = snprintf(sts, sizeof sts, "%s\n%s\n%s\n%s\n%s", prefix, c->amz_date, c->scope,
                     c->prev_sig, tail);
    /* every field is bounded at create time, so this cannot truncate */
    hash_hmac_sha256(mac, c->key, 32, sts, (size_t)n);
    hash_hex(out, mac, 32);
}

static int verify_chunk(sigv4_chunked_t *c, const char *given, tarn_err_t *err)
{
    uint8_t d[32];
    unsigned len = 32;
    char tail[64 + 1 + 64 + 1], hex[65], want[65];
    EVP_DigestFinal_ex(c->chunk_md, d, &len);
    hash_hex(hex, d, 32);
    snprintf(tail, sizeof tail, "%s\n%s", SIGV4_EMPTY_SHA256, hex);
    chunk_signature(c, "AWS4-HMAC-SHA256-PAYLOAD", tail, want);
    if (!hash_equal(want, 64, given, 64))
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EDENIED, SignatureDoesNotMatch,
                               "the signature of chunk %llu (%llu bytes, ending at decoded "
                               "offset %llu) does not match",
                               (unsigned long long)c->nchunks, (unsigned long long)c->chunk_size,
                               (unsigned long long)c->decoded));
    memcpy(c->prev_sig, want, 65);
    return 0;
}

static int begin_chunk(sigv4_chunked_t *c, tarn_err_t *err)
{
    if (c->chunk_md && !EVP_DigestInit_ex(c->chunk_md, EVP_sha256(), NULL))
        return fail(c, err, TARN_ERR(err, TARN_ENOMEM, "out of memory hashing a chunk"));
    return 0;
}

/* "<hex-size>;chunk-signature=<64 hex>" (signed) or "<hex-size>[;ext]" (unsigned). */
static int parse_size_line(sigv4_chunked_t *c, tarn_err_t *err)
{
    const char *s = c->line;
    size_t digits = 0;
    uint64_t size = 0;
    while (hash_hexval(s[digits]) >= 0) {
        if (digits == 16)
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                   "chunk size '%.40s' has more than 16 hex digits", s));
        size = size << 4 | (uint64_t)hash_hexval(s[digits]);
        digits++;
    }
    if (!digits)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "chunk header '%.60s' does not start with a hex chunk size", s));
    const char *rest = s + digits;
    if (c->mode == MODE_UNSIGNED_TRAILER) {
        if (*rest && *rest != ';')
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                   "malformed chunk header '%.60s'", s));
    } else {
        static const char ext[] = ";chunk-signature=";
        if (strncmp(rest, ext, sizeof ext - 1) != 0 ||
            !is_lower_hex64(rest + sizeof ext - 1, strlen(rest + sizeof ext - 1)))
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                   "chunk header '%.100s' is not "
                                   "\"<hex-size>;chunk-signature=<64 hex digits>\"",
                                   s));
        memcpy(c->chunk_sig, rest + sizeof ext - 1, 65);
    }
    if (c->expect_len >= 0 && size > (uint64_t)c->expect_len - c->decoded)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "chunk %llu of %llu bytes goes past x-amz-decoded-content-length "
                               "(%lld)",
                               (unsigned long long)c->nchunks + 1, (unsigned long long)size,
                               (long long)c->expect_len));
    if (size > UINT64_MAX - c->decoded)
        return fail(
            c, err,
            TARN_ERR_R(err, TARN_EINVAL, InvalidRequest, "chunk sizes overflow a 64-bit length"));
    c->nchunks++;
    c->chunk_size = size;
    c->chunk_left = size;
    int rc = begin_chunk(c, err);
    if (rc)
        return rc;
    if (size) {
        c->st = ST_DATA;
        return 0;
    }
    /* The zero-length chunk ends the payload; trailers (or just an empty line) follow. */
    if (c->mode != MODE_UNSIGNED_TRAILER && (rc = verify_chunk(c, c->chunk_sig, err)))
        return rc;
    c->st = ST_TRAILER;
    return 0;
}

static const char *trailer_get(const sigv4_chunked_t *c, const char *name)
{
    for (size_t i = 0; i < c->ntrailers; i++)
        if (strcmp(c->tstore + c->trailers[i].name, name) == 0)
            return c->tstore + c->trailers[i].value;
    return NULL;
}

static int verify_trailer_signature(sigv4_chunked_t *c, const char *given, tarn_err_t *err)
{
    if (c->mode != MODE_SIGNED_TRAILER)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "x-amz-trailer-signature is only allowed with "
                               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"));
    if (!is_lower_hex64(given, strlen(given)))
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "x-amz-trailer-signature must be 64 lowercase hex digits"));
    /* The signed text is each trailer as "name:value\n", in the order received. */
    EVP_MD_CTX *md = c->chunk_md;
    uint8_t d[32];
    unsigned len = 32;
    char hex[65], want[65];
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
        return fail(c, err, TARN_ERR(err, TARN_ENOMEM, "out of memory hashing the trailer"));
    for (size_t i = 0; i < c->ntrailers; i++) {
        const char *n = c->tstore + c->trailers[i].name, *v = c->tstore + c->trailers[i].value;
        EVP_DigestUpdate(md, n, strlen(n));
        EVP_DigestUpdate(md, ":", 1);
        EVP_DigestUpdate(md, v, strlen(v));
        EVP_DigestUpdate(md, "\n", 1);
    }
    EVP_DigestFinal_ex(md, d, &len);
    hash_hex(hex, d, 32);
    chunk_signature(c, "AWS4-HMAC-SHA256-TRAILER", hex, want);
    if (!hash_equal(want, 64, given, 64))
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EDENIED, SignatureDoesNotMatch,
                               "the x-amz-trailer-signature does not match the trailing "
                               "headers"));
    c->trailer_sig_ok = true;
    return 0;
}

/* All input is in: trailer signature, declared trailers, checksum, decoded length. */
static int finish_checks(sigv4_chunked_t *c, tarn_err_t *err)
{
    if (c->mode == MODE_SIGNED_TRAILER && !c->trailer_sig_ok)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EDENIED, SignatureDoesNotMatch,
                               "the trailing headers carry no x-amz-trailer-signature"));
    if (c->expect_len >= 0 && c->decoded != (uint64_t)c->expect_len)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, IncompleteBody,
                               "the body decoded to %llu bytes but "
                               "x-amz-decoded-content-length is %lld",
                               (unsigned long long)c->decoded, (long long)c->expect_len));
    if (!c->expect_set)
        return 0;
    for (size_t i = 0; i < c->ndeclared; i++)
        if (!trailer_get(c, c->declared[i]))
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                   "x-amz-trailer declares %s but the body carries no such "
                                   "trailer",
                                   c->declared[i]));
    for (size_t i = 0; i < c->ntrailers; i++) {
        const char *name = c->tstore + c->trailers[i].name;
        bool declared = false;
        for (size_t j = 0; j < c->ndeclared && !declared; j++)
            declared = strcmp(c->declared[j], name) == 0;
        if (!declared)
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                   "trailer %.64s was not declared in x-amz-trailer", name));
    }
    if (c->alg != ALG_NONE) {
        char want[45];
        const char *got = trailer_get(c, alg_names[c->alg].name);
        checksum_final(c, want);
        if (strcmp(want, got) != 0)
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, BadDigest,
                                   "the %s you specified (%.48s) did not match the "
                                   "calculated checksum (%s)",
                                   alg_names[c->alg].label, got, want));
    }
    return 0;
}

static int parse_trailer_line(sigv4_chunked_t *c, tarn_err_t *err)
{
    if (c->line_len == 0) {
        int rc = finish_checks(c, err);
        if (!rc)
            c->st = ST_DONE;
        return rc;
    }
    if (c->mode == MODE_SIGNED)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "trailing headers are not allowed with "
                               "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));
    if (c->trailer_sig_ok)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "trailing header after x-amz-trailer-signature"));
    char *colon = memchr(c->line, ':', c->line_len);
    if (!colon || colon == c->line)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "malformed trailing header line '%.60s'", c->line));
    char *name = c->line, *value = colon + 1;
    size_t nlen = (size_t)(colon - name);
    while (nlen && is_space(name[nlen - 1]))
        nlen--;
    for (size_t i = 0; i < nlen; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            name[i] = (char)(name[i] + 32);
    name[nlen] = '\0';
    while (is_space(*value))
        value++;
    size_t vlen = strlen(value);
    while (vlen && is_space(value[vlen - 1]))
        value[--vlen] = '\0';
    if (strcmp(name, TRAILER_SIG) == 0)
        return verify_trailer_signature(c, value, err);
    if (c->ntrailers == SIGV4_TRAILERS_MAX)
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest, "more than %d trailing headers",
                               SIGV4_TRAILERS_MAX));
    if (trailer_get(c, name))
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "trailing header %.64s appears twice", name));
    /* The line (with ':' and CRLF) is longer than name+value+2 NULs, and all lines together
     * fit SIGV4_TRAILER_MAX, so the store cannot overflow. */
    c->trailers[c->ntrailers].name = c->tstore_len;
    memcpy(c->tstore + c->tstore_len, name, nlen + 1);
    c->tstore_len += nlen + 1;
    c->trailers[c->ntrailers].value = c->tstore_len;
    memcpy(c->tstore + c->tstore_len, value, vlen + 1);
    c->tstore_len += vlen + 1;
    c->ntrailers++;
    return 0;
}

/* Accumulates a CRLF-terminated line; returns bytes consumed, or a negative error. Sets
 * *done when the line is complete (in c->line, NUL-terminated, without CRLF). */
static long take_line(sigv4_chunked_t *c, const char *p, size_t n, bool *done, tarn_err_t *err)
{
    bool trailer = c->st == ST_TRAILER;
    size_t limit = trailer ? SIGV4_TRAILER_MAX - c->trailer_bytes : SIGV4_CHUNK_LINE_MAX + 2;
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) + 1 : n;
    *done = false;
    if (c->line_len + take > limit)
        return fail(c, err,
                    trailer
                        ? TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                     "trailing headers are longer than %d bytes", SIGV4_TRAILER_MAX)
                        : TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                     "chunk header line is longer than %d bytes",
                                     SIGV4_CHUNK_LINE_MAX));
    memcpy(c->line + c->line_len, p, take);
    c->line_len += take;
    if (!nl)
        return (long)take;
    if (c->line_len < 2 || c->line[c->line_len - 2] != '\r')
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "%s line is terminated by a bare LF instead of CRLF",
                               trailer ? "trailing header" : "chunk header"));
    if (trailer)
        c->trailer_bytes += c->line_len;
    c->line_len -= 2;
    c->line[c->line_len] = '\0';
    if (memchr(c->line, '\0', c->line_len) || memchr(c->line, '\r', c->line_len))
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                               "%s line contains a NUL or a bare CR",
                               trailer ? "trailing header" : "chunk header"));
    *done = true;
    return (long)take;
}

static int feed_data(sigv4_chunked_t *c, const uint8_t *p, size_t take, tarn_err_t *err)
{
    if (c->chunk_md)
        EVP_DigestUpdate(c->chunk_md, p, take);
    checksum_update(c, p, take);
    c->decoded += take;
    c->chunk_left -= take;
    if (c->sink) {
        int rc = c->sink(c->ctx, p, take);
        if (rc)
            return fail(c, err,
                        TARN_ERR(err, rc < 0 ? rc : TARN_EIO,
                                 "the consumer of the decoded body failed (%s)",
                                 tarn_err_name(rc)));
    }
    return 0;
}

int sigv4_chunked_feed(sigv4_chunked_t *c, const void *data, size_t n, tarn_err_t *err)
{
    const uint8_t *p = data;
    if (c->failed)
        return TARN_ERR_RV(err, c->failed, c->fail_reason,
                           "the aws-chunked decoder already failed on earlier input");
    while (n) {
        int rc = 0;
        switch (c->st) {
        case ST_SIZE:
        case ST_TRAILER: {
            bool done;
            long used = take_line(c, (const char *)p, n, &done, err);
            if (used < 0)
                return (int)used;
            p += used;
            n -= (size_t)used;
            if (done) {
                rc = c->st == ST_SIZE ? parse_size_line(c, err) : parse_trailer_line(c, err);
                c->line_len = 0;
            }
            break;
        }
        case ST_DATA: {
            size_t take = c->chunk_left < n ? (size_t)c->chunk_left : n;
            rc = feed_data(c, p, take, err);
            p += take;
            n -= take;
            if (!rc && c->chunk_left == 0)
                c->st = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
        case ST_DATA_LF:
            if (*p != (c->st == ST_DATA_CR ? '\r' : '\n'))
                return fail(c, err,
                            TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                       "chunk %llu data (%llu bytes) is not followed by "
                                       "CRLF; the chunk size does not match its data",
                                       (unsigned long long)c->nchunks,
                                       (unsigned long long)c->chunk_size));
            p++;
            n--;
            if (c->st == ST_DATA_CR) {
                c->st = ST_DATA_LF;
            } else {
                c->st = ST_SIZE;
                if (c->mode != MODE_UNSIGNED_TRAILER)
                    rc = verify_chunk(c, c->chunk_sig, err);
            }
            break;
        case ST_DONE:
            return fail(c, err,
                        TARN_ERR_R(err, TARN_EINVAL, InvalidRequest,
                                   "%zu unexpected bytes after the end of the aws-chunked "
                                   "body",
                                   n));
        }
        if (rc)
            return rc;
    }
    return 0;
}

int sigv4_chunked_finish(sigv4_chunked_t *c, tarn_err_t *err)
{
    if (c->failed)
        return TARN_ERR_RV(err, c->failed, c->fail_reason,
                           "the aws-chunked decoder already failed on earlier input");
    switch (c->st) {
    case ST_DONE:
        return 0;
    case ST_TRAILER:
        /* Some clients omit the empty line after the last trailer; everything it would
         * terminate has arrived and been checked, so accept that. */
        if (c->line_len == 0 && (c->ntrailers > 0 || c->trailer_sig_ok)) {
            int rc = finish_checks(c, err);
            if (!rc)
                c->st = ST_DONE;
            return rc;
        }
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, IncompleteBody,
                               "the body ended inside the trailing headers"));
    case ST_SIZE:
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, IncompleteBody,
                               c->line_len ? "the body ended inside a chunk header"
                                           : "the body ended before the final "
                                             "zero-length chunk"));
    case ST_DATA:
        return fail(c, err,
                    TARN_ERR_R(err, TARN_EINVAL, IncompleteBody,
                               "the body ended inside chunk %llu: %llu of %llu bytes "
                               "received",
                               (unsigned long long)c->nchunks,
                               (unsigned long long)(c->chunk_size - c->chunk_left),
                               (unsigned long long)c->chunk_size));
    case ST_DATA_CR:
    case ST_DATA_LF:
        break;
    }
    return fail(c, err,
                TARN_ERR_R(err, TARN_EINVAL, IncompleteBody,
                           "the body ended before the CRLF closing chunk %llu",
                           (unsigned long long)c->nchunks));
}

const char *sigv4_chunked_trailer(const sigv4_chunked_t *c, const char *name)
{
    return trailer_get(c, name);
}

uint64_t sigv4_chunked_decoded_length(const sigv4_chunked_t *c)
{
    return c->decoded;
}

void sigv4_chunked_free(sigv4_chunked_t *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->chunk_md);
    EVP_MD_CTX_free(c->sum_md);
    free(c->crc64_table);
    OPENSSL_cleanse(c->key, sizeof c->key);
    free(c);
}
