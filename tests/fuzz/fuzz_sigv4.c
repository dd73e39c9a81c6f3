/* libFuzzer target: SigV4 parsing and verification of arbitrary requests (Authorization
 * header, query string, path), and the aws-chunked decoder on arbitrary bodies split at
 * arbitrary points. Nothing may crash, leak or read out of bounds. */
#include "govern/sigv4.h"
#include "govern/sigv4_chunked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int sink(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 0;
}

/* Splits data into NUL-terminated fields at 0xFF bytes. */
static size_t fields(const uint8_t *data, size_t size, char **out, size_t max, char *buf)
{
    size_t n = 0, j = 0;
    out[n++] = buf;
    for (size_t i = 0; i < size && n < max; i++) {
        if (data[i] == 0xFF) {
            buf[j++] = '\0';
            out[n++] = buf + j;
        } else {
            buf[j++] = data[i] ? (char)data[i] : ' ';
        }
    }
    buf[j] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *buf = malloc(size + 1);
    char *f[8] = {0};
    size_t n = fields(data + 1, size - 1, f, 8, buf);
    for (size_t i = n; i < 8; i++)
        f[i] = "";
    sigv4_header_t hdrs[] = {
        {"Authorization", f[0]}, {"Host", "127.0.0.1:9470"}, {"X-Amz-Date", f[1]},
        {"x-amz-content-sha256", f[2]}, {"X-Amz-Meta-A", f[3]},
    };
    sigv4_request_t req = {"PUT", f[4][0] ? f[4] : "/raw/k", f[5], hdrs, 5};
    sigv4_auth_t auth;
    tarn_err_t err = {0};
    if (!sigv4_parse(&auth, &req, &err))
        sigv4_verify(&req, &auth, "secret", NULL, 1700000000, data[0] & 1, &err);

    /* The chunked decoder, in signed and unsigned-trailer modes, fed in pieces. */
    uint8_t key[32] = {1};
    const char *mode = data[0] & 2 ? SIGV4_STREAMING_UNSIGNED_TRAILER : SIGV4_STREAMING_SIGNED_TRAILER;
    sigv4_chunked_t *c = NULL;
    if (!sigv4_chunked_create(&c, mode, key, "20261125T000000Z", "20261125/us-east-1/s3/aws4_request",
                              "0000000000000000000000000000000000000000000000000000000000000000",
                              sink, NULL, &err)) {
        sigv4_chunked_expect(c, data[0] & 4 ? "x-amz-checksum-crc32" : NULL, -1, &err);
        size_t step = (size_t)(data[0] >> 3) + 1;
        int rc = 0;
        for (size_t i = 1; i < size && !rc; i += step)
            rc = sigv4_chunked_feed(c, data + i, size - i < step ? size - i : step, &err);
        if (!rc)
            sigv4_chunked_finish(c, &err);
        sigv4_chunked_free(c);
    }
    free(buf);
    return 0;
}
