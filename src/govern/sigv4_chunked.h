/* Streaming decoder for "Content-Encoding: aws-chunked" request bodies: strips the chunk
 * framing, checks each chunk signature (and the trailer signature) chained from the seed
 * signature, and verifies a trailing x-amz-checksum-* against the decoded bytes. */
#ifndef TARN_GOVERN_SIGV4_CHUNKED_H
#define TARN_GOVERN_SIGV4_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "govern/sigv4.h"
#include "util/err.h"

enum {
    SIGV4_CHUNK_LINE_MAX = 4096, /* a chunk header line, without its CRLF */
    SIGV4_TRAILER_MAX = 16384,   /* all trailer lines together, CRLFs included */
    SIGV4_TRAILERS_MAX = 16,     /* number of trailing headers */
};

typedef struct sigv4_chunked sigv4_chunked_t;

/* Receives decoded payload bytes in order, as they arrive. A chunk's signature is known
 * only at its end, so bytes of a chunk reach the sink before that chunk is verified: the
 * consumer must discard everything unless sigv4_chunked_finish returns 0. Return 0, or a
 * negative TARN_E* to stop decoding (sigv4_chunked_feed then returns that code). */
typedef int (*sigv4_chunked_sink)(void *ctx, const void *data, size_t n);

/* payload_mode: the x-amz-content-sha256 value, one of SIGV4_STREAMING_SIGNED,
 * SIGV4_STREAMING_SIGNED_TRAILER, SIGV4_STREAMING_UNSIGNED_TRAILER. For the signed modes,
 * signing_key (sigv4_signing_key), amz_date, scope ("date/region/service/aws4_request") and
 * seed_signature (the Signature of the Authorization header, 64 hex) are required; for the
 * unsigned mode they are ignored and may be NULL. Strings are copied. Caller frees *out
 * with sigv4_chunked_free. */
int sigv4_chunked_create(sigv4_chunked_t **out, const char *payload_mode,
                         const uint8_t signing_key[32], const char *amz_date, const char *scope,
                         const char *seed_signature, sigv4_chunked_sink sink, void *ctx,
                         tarn_err_t *err);

/* Optional checks, call before the first feed. declared_trailer: the x-amz-trailer header
 * value (comma-separated names) or NULL; a declared x-amz-checksum-{crc32,crc32c,crc64nvme,
 * sha1,sha256} is computed over the decoded bytes and must match the trailer (BadDigest),
 * a declared trailer must arrive, an undeclared one is refused. decoded_length: the
 * x-amz-decoded-content-length value, or -1; the body must decode to exactly that many
 * bytes. Without this call trailers are only recorded, never checked. */
int sigv4_chunked_expect(sigv4_chunked_t *c, const char *declared_trailer, int64_t decoded_length,
                         tarn_err_t *err);

/* Convenience for a request already accepted by sigv4_verify: takes the mode from
 * auth->payload_hash, derives the signing key from secret, the seed from auth->signature,
 * and the expectations from the x-amz-trailer and x-amz-decoded-content-length headers. */
int sigv4_chunked_create_for_request(sigv4_chunked_t **out, const sigv4_request_t *req,
                                     const sigv4_auth_t *auth, const char *secret,
                                     sigv4_chunked_sink sink, void *ctx, tarn_err_t *err);

/* Decodes the next n body bytes; any split of the body works, down to one byte per call.
 * Nothing is buffered but one header or trailer line. Errors (the decoder then refuses
 * further input): InvalidRequest (bad framing), SignatureDoesNotMatch (chunk or trailer
 * signature), BadDigest (checksum trailer), IncompleteBody, or the sink's own code. */
int sigv4_chunked_feed(sigv4_chunked_t *c, const void *data, size_t n, tarn_err_t *err);

/* The body has ended: 0 only if the final chunk, the trailers and every check are complete;
 * IncompleteBody (TARN_EINVAL) if the stream stopped early. */
int sigv4_chunked_finish(sigv4_chunked_t *c, tarn_err_t *err);

/* A trailing header received so far (name lowercase, e.g. "x-amz-checksum-crc32"), or
 * NULL. Borrowed until sigv4_chunked_free. x-amz-trailer-signature is not listed. */
const char *sigv4_chunked_trailer(const sigv4_chunked_t *c, const char *name);

/* Payload bytes passed to the sink so far. */
uint64_t sigv4_chunked_decoded_length(const sigv4_chunked_t *c);

void sigv4_chunked_free(sigv4_chunked_t *c);

#endif
