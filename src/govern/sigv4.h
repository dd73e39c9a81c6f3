/* AWS Signature Version 4 verification, server side: parses the Authorization header or a
 * presigned query string, rebuilds the canonical request from the request as received and
 * compares signatures in constant time. Streaming (aws-chunked) bodies: sigv4_chunked.h. */
#ifndef TARN_GOVERN_SIGV4_H
#define TARN_GOVERN_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"

/* How the canonical URI is built (the only difference between S3 and other services). */
enum {
    SIGV4_MODE_S3 = 0,      /* path not normalized; percent-decoded, then encoded once */
    SIGV4_MODE_DEFAULT = 1, /* dot segments and '//' removed; the raw path encoded again */
};

enum {
    SIGV4_MAX_SKEW = 15 * 60,          /* seconds between X-Amz-Date and the server clock */
    SIGV4_MAX_EXPIRES = 7 * 24 * 3600, /* presigned URLs live at most a week */
    SIGV4_SIGNED_HEADERS_MAX = 4096,   /* longer SignedHeaders lists are rejected */
};

/* Payload hash values with a meaning of their own (x-amz-content-sha256). */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_STREAMING_SIGNED "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define SIGV4_STREAMING_SIGNED_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One header as received: any case, duplicates allowed (they are joined with ','). */
typedef struct {
    const char *name;
    const char *value;
} sigv4_header_t;

/* The request as it arrived; all strings are borrowed for the duration of each call. */
typedef struct {
    const char *method;    /* "GET" */
    const char *raw_path;  /* exactly as on the request line, still percent-encoded, no '?' */
    const char *raw_query; /* after '?', as received; NULL or "" when there is none */
    const sigv4_header_t *headers;
    size_t nheaders;
} sigv4_request_t;

/* What sigv4_parse found; plain fixed-size fields, no ownership. */
typedef struct {
    char access_key[129];
    char date[9]; /* YYYYMMDD from the credential scope */
    char region[64];
    char service[64];
    char scope[160];   /* date/region/service/aws4_request */
    char amz_date[17]; /* YYYYMMDDTHHMMSSZ: X-Amz-Date header or parameter, else Date header */
    char signed_headers[SIGV4_SIGNED_HEADERS_MAX]; /* as sent, e.g. "host;x-amz-date" */
    char signature[65];                            /* lowercase hex */
    int presigned; /* 1 when the signature came in the query string */
    long expires;  /* presigned: X-Amz-Expires in seconds, else 0 */
    /* x-amz-content-sha256 header (64 hex digits or one of the SIGV4_* tokens above);
     * presigned: the X-Amz-Content-Sha256 parameter, else "UNSIGNED-PAYLOAD";
     * "" when a header-signed request has no such header. */
    char payload_hash[72];
} sigv4_auth_t;

/* First header named name (case-insensitive), or NULL. Borrowed from req. */
const char *sigv4_request_header(const sigv4_request_t *req, const char *name);

/* Extracts the credentials and signature. TARN_ENOTFOUND with reason "AccessDenied" when
 * the request carries neither an Authorization header nor X-Amz-Signature (anonymous);
 * TARN_EINVAL with reasons AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
 * InvalidRequest (another algorithm, e.g. SigV2) or InvalidArgument (both mechanisms, bad
 * x-amz-content-sha256); TARN_EDENIED "AccessDenied" when a header-signed request has no
 * valid X-Amz-Date or Date. The access key is not looked up here (the caller answers
 * InvalidAccessKeyId when it is unknown). */
int sigv4_parse(sigv4_auth_t *out, const sigv4_request_t *req, tarn_err_t *err);

/* Every x-amz-* header and Content-MD5 present must be listed in SignedHeaders (host
 * always is), as S3 requires: an unsigned one could change what a replayed request does
 * (x-amz-copy-source turns a PUT into a copy). TARN_EDENIED, reason AccessDenied, naming
 * the unsigned headers. sigv4_verify checks this first. */
int sigv4_check_signed_headers(const sigv4_request_t *req, const sigv4_auth_t *auth,
                               tarn_err_t *err);

/* The canonical request text (appended to out). payload_hash is the last line; NULL uses
 * auth->payload_hash. A header listed in SignedHeaders but absent from the request fails
 * with TARN_EDENIED, reason SignatureDoesNotMatch, naming it. */
int sigv4_canonical_request(buf_t *out, const sigv4_request_t *req, const sigv4_auth_t *auth,
                            const char *payload_hash, int mode, tarn_err_t *err);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>" appended to
 * out; 0 or TARN_ENOMEM. */
int sigv4_string_to_sign(buf_t *out, const sigv4_auth_t *auth, const char *canonical_request);

/* kSigning = HMAC chain over "AWS4"+secret, date, region, service, "aws4_request".
 * 0, or TARN_ENOMEM (possible only for secrets longer than 124 bytes). */
int sigv4_signing_key(uint8_t out[32], const char *secret, const char *date, const char *region,
                      const char *service);

/* Full check of a parsed request against the secret of auth->access_key. Header auth: the
 * request time must be within SIGV4_MAX_SKEW of now (RequestTimeTooSkewed). Presigned: not
 * expired and not dated in the future (AccessDenied). The credential date must be the date
 * of amz_date. payload_hash: the x-amz-content-sha256 value, or the hex SHA-256 of the
 * buffered body when that header is absent; NULL uses auth->payload_hash, and if that is
 * empty the call fails (InvalidRequest) rather than guess. Header auth also accepts a
 * signature over the query string exactly as received (curl before 8.x does not sort it).
 * Returns 0, or TARN_EDENIED with reason SignatureDoesNotMatch / RequestTimeTooSkewed /
 * AccessDenied, or TARN_EINVAL. */
int sigv4_verify(const sigv4_request_t *req, const sigv4_auth_t *auth, const char *secret,
                 const char *payload_hash, time_t now, int mode, tarn_err_t *err);

/* After the body was read: when auth->payload_hash is a hex digest it must equal
 * body_sha256 (else TARN_EINVAL, reason XAmzContentSHA256Mismatch). Token values
 * (UNSIGNED-PAYLOAD, STREAMING-...) and "" pass. */
int sigv4_verify_payload(const sigv4_auth_t *auth, const uint8_t body_sha256[32], tarn_err_t *err);

#endif
