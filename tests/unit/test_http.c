/* Unit tests of what the HTTP server parses itself: the request target split into path
 * and query, percent-decoding (plus as space only in queries, no encoded NUL), query
 * parameters, header lookup, and the routing of a request to the health check, metrics,
 * Firehose, the REST API or S3 (bucket, key and sub-resources), without a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "server/http.h"
#include "server/http_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    *state = arena_create();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static void test_target_split(void **state)
{
    arena_t *a = *state;
    const struct {
        const char *target, *path, *query;
    } cases[] = {
        {"/raw/k", "/raw/k", ""},
        {"/raw/k?uploads", "/raw/k", "uploads"},
        {"/a?b?c", "/a", "b?c"}, /* the first '?' splits */
        {"/a?", "/a", ""},
        {"?x=1", "", "x=1"},
        {"", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = NULL, *query = NULL;
        assert_int_equal(http_target_split(a, cases[i].target, &path, &query), 0);
        assert_string_equal(path, cases[i].path);
        assert_string_equal(query, cases[i].query);
    }
}

static void test_unescape(void **state)
{
    arena_t *a = *state;
    const struct {
        const char *in;
        bool plus;
        const char *out; /* NULL: refused */
    } cases[] = {
        {"plain", false, "plain"},
        {"a%20b", false, "a b"},
        {"%7e%7E%2f", false, "~~/"},
        {"a+b", false, "a+b"},
        {"a+b", true, "a b"},
        {"%2B", true, "+"},
        {"%C3%A9", false, "\xc3\xa9"},
        {"", false, ""},
        {"%", false, NULL},
        {"a%4", false, NULL},
        {"%4g", false, NULL},
        {"%g4", false, NULL},
        {"a%00b", false, NULL}, /* an encoded NUL would cut the string short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = http_unescape(a, cases[i].in, strlen(cases[i].in), cases[i].plus);
        if (!cases[i].out && got)
            fail_msg("'%s' decoded as '%s'", cases[i].in, got);
        if (cases[i].out && (!got || strcmp(got, cases[i].out)))
            fail_msg("'%s' decoded as '%s', not '%s'", cases[i].in, got ? got : "(refused)",
                     cases[i].out);
    }
    /* Only the n bytes given are read: no NUL is needed after them. */
    assert_string_equal(http_unescape(a, "ab%41", 2, false), "ab");
    assert_null(http_unescape(a, "ab%41", 4, false));
    assert_string_equal(http_unescape(a, "ab%41zz", 5, false), "abA");
}

static void test_query_parse(void **state)
{
    arena_t *a = *state;
    tarn_err_t err = {0};
    kv_t *q;
    size_t n;
    assert_int_equal(http_query_parse(a, "a=1&b&&c=%20x+y&a=2&=v&d=e=f", &q, &n, &err), 0);
    const char *want[][2] = {{"a", "1"}, {"b", ""},  {"c", " x y"},
                             {"a", "2"}, {"", "v"}, {"d", "e=f"}};
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(q[i].name, want[i][0]);
        assert_string_equal(q[i].value, want[i][1]);
    }
    assert_int_equal(http_query_parse(a, "", &q, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(http_query_parse(a, "&&&", &q, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(http_query_parse(a, "%41=%42", &q, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(q[0].name, "A");
    assert_string_equal(q[0].value, "B");
    const char *bad[] = {"x=%", "x=%0", "x=%00", "%zz=1", "ok=1&x=%G0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(http_query_parse(a, bad[i], &q, &n, &err), TARN_EINVAL);
        assert_string_equal(tarn_reason_name(err.reason), "InvalidArgument");
    }
}

/* ---- routing ---- */

/* A request as libmicrohttpd would hand it over: a method, a target, one optional header. */
static req_t *request(arena_t *a, const char *method, const char *target, const char *hname,
                      const char *hvalue)
{
    req_t *r = arena_alloc(a, sizeof *r);
    assert_non_null(r);
    r->arena = a;
    r->method = method;
    r->raw_uri = target;
    assert_int_equal(http_target_split(a, target, &r->raw_path, &r->raw_query), 0);
    sigv4_header_t *h = arena_alloc(a, 2 * sizeof *h);
    h[0] = (sigv4_header_t){"Host", "127.0.0.1:9470"};
    r->headers = h;
    r->nheaders = 1;
    if (hname) {
        h[1] = (sigv4_header_t){hname, hvalue};
        r->nheaders = 2;
    }
    return r;
}

static const char *api_name(int api)
{
    return api == API_S3 ? "s3" : api == API_REST ? "rest" : api == API_FIREHOSE ? "firehose"
                                                                                   : "other";
}

static void test_routing(void **state)
{
    arena_t *a = *state;
    const char *fh = "X-Amz-Target", *cs = "x-amz-copy-source";
    const struct {
        const char *method, *target, *hname, *hvalue;
        int rc;
        const char *api, *op, *bucket, *key, *resource, *reason;
    } cases[] = {
        /* Built-in endpoints; other methods on their paths are S3 on a bucket of that name. */
        {"GET", "/healthz", NULL, NULL, 0, "other", "Healthz", NULL, NULL, NULL, NULL},
        {"HEAD", "/healthz", NULL, NULL, 0, "other", "Healthz", NULL, NULL, NULL, NULL},
        {"PUT", "/healthz", NULL, NULL, 0, "s3", "CreateBucket", "healthz", NULL, "healthz", NULL},
        {"GET", "/metrics", NULL, NULL, 0, "other", "Metrics", NULL, NULL, "metrics", NULL},
        /* Firehose: POST / with its target header (any case), whatever the operation. */
        {"POST", "/", fh, "Firehose_20150804.PutRecordBatch", 0, "firehose", "PutRecordBatch",
         NULL, NULL, "deliverystream/*", NULL},
        {"POST", "/", "x-amz-target", "Firehose_20150804.ListDeliveryStreams", 0, "firehose",
         "ListDeliveryStreams", NULL, NULL, "deliverystream/*", NULL},
        {"POST", "/", fh, "Firehose_20150804.Nope", 0, "firehose", "Unknown", NULL, NULL,
         "deliverystream/*", NULL},
        {"POST", "/", fh, "DynamoDB_20120810.GetItem", 0, "s3", "MethodNotAllowed", NULL, NULL,
         "*", NULL},
        {"GET", "/", fh, "Firehose_20150804.PutRecord", 0, "s3", "ListBuckets", NULL, NULL, "*",
         NULL},
        /* REST under /v1/: captures, resources, known paths with other methods. */
        {"GET", "/v1/users", NULL, NULL, 0, "rest", "ListUsers", NULL, NULL, "users", NULL},
        {"GET", "/v1/users/", NULL, NULL, 0, "rest", "ListUsers", NULL, NULL, "users/", NULL},
        {"GET", "/v1/users/alice/keys", NULL, NULL, 0, "rest", "ListAccessKeys", NULL, NULL,
         "user/alice", NULL},
        {"DELETE", "/v1/users/al%69ce", NULL, NULL, 0, "rest", "DeleteUser", NULL, NULL,
         "user/alice", NULL},
        {"PUT", "/v1/users", NULL, NULL, TARN_EINVAL, "rest", NULL, NULL, NULL, NULL,
         "MethodNotAllowed"},
        {"GET", "/v1/nothing", NULL, NULL, 0, "rest", "NotFound", NULL, NULL, NULL, NULL},
        {"GET", "/v1", NULL, NULL, 0, "rest", "NotFound", NULL, NULL, NULL, NULL},
        {"GET", "/v1x", NULL, NULL, 0, "s3", "ListObjects", "v1x", NULL, "v1x", NULL},
        /* S3, path style: the service, a bucket, an object; sub-resources pick the operation. */
        {"GET", "/", NULL, NULL, 0, "s3", "ListBuckets", NULL, NULL, "*", NULL},
        {"GET", "/raw", NULL, NULL, 0, "s3", "ListObjects", "raw", NULL, "raw", NULL},
        {"GET", "/raw/", NULL, NULL, 0, "s3", "ListObjects", "raw", NULL, "raw", NULL},
        {"GET", "/raw?list-type=2&prefix=sales/", NULL, NULL, 0, "s3", "ListObjectsV2", "raw",
         NULL, "raw/sales/", NULL},
        {"GET", "/raw?location", NULL, NULL, 0, "s3", "GetBucketLocation", "raw", NULL, "raw",
         NULL},
        {"HEAD", "/raw", NULL, NULL, 0, "s3", "HeadBucket", "raw", NULL, "raw", NULL},
        {"POST", "/raw?delete", NULL, NULL, 0, "s3", "DeleteObjects", "raw", NULL, "raw", NULL},
        {"GET", "/raw?acl", NULL, NULL, TARN_EINVAL, "s3", "MethodNotAllowed", "raw", NULL, "raw",
         "NotImplemented"},
        {"GET", "/raw/sales/2024/a%20b.csv", NULL, NULL, 0, "s3", "GetObject", "raw",
         "sales/2024/a b.csv", "raw/sales/2024/a b.csv", NULL},
        {"GET", "/raw/a+b", NULL, NULL, 0, "s3", "GetObject", "raw", "a+b", "raw/a+b", NULL},
        {"GET", "/raw/a%2Fb", NULL, NULL, 0, "s3", "GetObject", "raw", "a/b", "raw/a/b", NULL},
        {"HEAD", "/raw/k", NULL, NULL, 0, "s3", "HeadObject", "raw", "k", "raw/k", NULL},
        {"PUT", "/raw/k", NULL, NULL, 0, "s3", "PutObject", "raw", "k", "raw/k", NULL},
        {"PUT", "/raw/k", cs, "/raw/src", 0, "s3", "CopyObject", "raw", "k", "raw/k", NULL},
        {"PUT", "/raw/k?partNumber=1&uploadId=u", cs, "/raw/src", 0, "s3", "UploadPartCopy",
         "raw", "k", "raw/k", NULL},
        {"PUT", "/raw/k?uploadId=u&partNumber=2", NULL, NULL, 0, "s3", "UploadPart", "raw", "k",
         "raw/k", NULL},
        {"POST", "/raw/k?uploads", NULL, NULL, 0, "s3", "CreateMultipartUpload", "raw", "k",
         "raw/k", NULL},
        {"POST", "/raw/k?uploadId=u", NULL, NULL, 0, "s3", "CompleteMultipartUpload", "raw", "k",
         "raw/k", NULL},
        {"GET", "/raw/k?uploadId=u", NULL, NULL, 0, "s3", "ListParts", "raw", "k", "raw/k", NULL},
        {"DELETE", "/raw/k?uploadId=u", NULL, NULL, 0, "s3", "AbortMultipartUpload", "raw", "k",
         "raw/k", NULL},
        {"DELETE", "/raw/k", NULL, NULL, 0, "s3", "DeleteObject", "raw", "k", "raw/k", NULL},
        {"PATCH", "/raw/k", NULL, NULL, 0, "s3", "MethodNotAllowed", "raw", "k", "raw/k", NULL},
        /* Malformed targets. */
        {"GET", "/raw/%zz", NULL, NULL, TARN_EINVAL, "other", NULL, NULL, NULL, NULL,
         "InvalidURI"},
        {"GET", "/raw/a%00b", NULL, NULL, TARN_EINVAL, "other", NULL, NULL, NULL, NULL,
         "InvalidURI"},
        {"GET", "/raw/a%4", NULL, NULL, TARN_EINVAL, "other", NULL, NULL, NULL, NULL,
         "InvalidURI"},
        {"GET", "/raw?prefix=%zz", NULL, NULL, TARN_EINVAL, "other", NULL, NULL, NULL, NULL,
         "InvalidArgument"},
        {"GET", "raw/k", NULL, NULL, TARN_EINVAL, "s3", NULL, NULL, NULL, NULL, "InvalidURI"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        req_t *r = request(a, cases[i].method, cases[i].target, cases[i].hname, cases[i].hvalue);
        int rc = http_route(r);
        const char *what = cases[i].target;
        if (rc != cases[i].rc)
            fail_msg("%s %s: rc %d (%s), expected %d", cases[i].method, what, rc, r->err.msg,
                     cases[i].rc);
        if (strcmp(api_name(r->api), cases[i].api))
            fail_msg("%s %s: api %s, expected %s", cases[i].method, what, api_name(r->api),
                     cases[i].api);
        if (cases[i].op && (!r->op || strcmp(r->op->name, cases[i].op)))
            fail_msg("%s %s: op %s, expected %s", cases[i].method, what,
                     r->op ? r->op->name : "(none)", cases[i].op);
        if (cases[i].bucket && (!r->bucket || strcmp(r->bucket, cases[i].bucket)))
            fail_msg("%s %s: bucket %s", cases[i].method, what, r->bucket);
        if (!cases[i].bucket && r->bucket)
            fail_msg("%s %s: a bucket %s", cases[i].method, what, r->bucket);
        if ((cases[i].key == NULL) != (r->key == NULL) ||
            (cases[i].key && strcmp(r->key, cases[i].key)))
            fail_msg("%s %s: key %s", cases[i].method, what, r->key ? r->key : "(none)");
        if (cases[i].resource && (!r->resource || strcmp(r->resource, cases[i].resource)))
            fail_msg("%s %s: resource %s, expected %s", cases[i].method, what,
                     r->resource ? r->resource : "(none)", cases[i].resource);
        const char *reason = tarn_reason_name(r->err.reason);
        if (cases[i].reason && (!reason || strcmp(reason, cases[i].reason)))
            fail_msg("%s %s: reason %s, expected %s", cases[i].method, what,
                     reason ? reason : "(none)", cases[i].reason);
    }
}

static void test_request_lookups(void **state)
{
    arena_t *a = *state;
    req_t *r = request(a, "GET", "/v1/users/bob/keys?a=1&b&a=2", "HOST", "other");
    assert_int_equal(http_route(r), 0);
    assert_string_equal(r->path, "/v1/users/bob/keys");
    assert_int_equal(r->nparams, 1);
    assert_string_equal(r->params[0], "bob");
    /* Headers in any case, the first of several; query names exactly, the first too. */
    assert_string_equal(req_header(r, "host"), "127.0.0.1:9470");
    assert_string_equal(req_header(r, "HOST"), "127.0.0.1:9470");
    assert_null(req_header(r, "Hos"));
    assert_string_equal(req_query(r, "a"), "1");
    assert_string_equal(req_query(r, "b"), "");
    assert_true(req_has_query(r, "b"));
    assert_false(req_has_query(r, "A"));
    assert_null(req_query(r, "c"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_target_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unescape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_lookups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
