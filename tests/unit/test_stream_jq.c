/* Unit tests of MetadataExtractionQuery on libjq: what the allow-list takes (Firehose's
 * forms: paths, `| tostring`, `// "default"`, object construction) and refuses (loops,
 * recursion, definitions, input, environment, regular expressions, '*'), the key names a
 * query's text fixes, evaluation per record and its bounds (one object of short scalars,
 * and the guard that halts a query running too long). */
#include "ingest/stream_jq.h"

#include "util/buf.h"
#include "util/timeutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static stream_jq_guard_t *guard;

static int setup(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    return stream_jq_guard_create(&guard, &err);
}

static int teardown(void **state)
{
    (void)state;
    stream_jq_guard_free(guard);
    return 0;
}

static stream_jq_t *compile(const char *q)
{
    stream_jq_t *c = NULL;
    tarn_err_t err = {0};
    if (stream_jq_compile(&c, q, &err))
        fail_msg("%s: %s", q, err.msg);
    return c;
}

static void test_accepted(void **state)
{
    (void)state;
    struct {
        const char *q;
        const char *names; /* the fixed key names, comma-separated; NULL: not known */
    } good[] = {
        {" { region: .region, \"ts\" : .meta.\"t-s\" } ", "region,ts"},
        {"{region: .region | tostring}", "region"},
        {"{kind: (.kind // \"none\" | ascii_downcase)}", "kind"},
        {".meta | {day, kind: (.kind // \"none\")}", "day,kind"},
        {". as {a: $x} | {a: $x, $x}", "a,x"},
        {"{d: .ts | strftime(\"%Y/%m\"), t: (.tags | map(select(. != \"x\")) | join(\",\"))}",
         "d,t"},
        {"{k: \"\\(.a)-\\(.b)\", b64: @base64 \"\\(.a)\"}", "k,b64"},
        {"# a comment\n{\"if\": .if, end: .end, n: (.n | tostring | ltrimstr(\"0\"))}",
         "if,end,n"},
        {"{a: .a?, b: .b[0:2], c: (.c | first), d: .d[-1]}", "a,b,c,d"},
        {"{(.k): .v}", NULL},
        {"{\"\\(.k)\": .v}", NULL},
        {"if .a then {x: 1} else {x: 2} end", NULL},
        {"{a: 1} // {a: 2}", NULL},
        {"{a: (.a | fromdateiso8601 | todate), b: (.b | split(\"-\") | .[0])}", "a,b"},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        stream_jq_t *q = compile(good[i].q);
        const stream_jq_names_t *n = stream_jq_names(q);
        char got[200] = "";
        for (size_t j = 0; j < n->n; j++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", j ? "," : "",
                     n->names[j]);
        if (!good[i].names ? n->known : !n->known || strcmp(got, good[i].names))
            fail_msg("%s: names %s (%s), want %s", good[i].q, n->known ? "known" : "unknown",
                     got, good[i].names ? good[i].names : "unknown");
        stream_jq_free(q);
    }
}

static void test_refused(void **state)
{
    (void)state;
    char deep[200] = "{a: ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, ".");
    for (int i = 0; i < 40; i++)
        strcat(deep, ")");
    strcat(deep, "}");
    char many[400] = "{";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sk%d: .k%d", i ? ", " : "",
                 i, i);
    strcat(many, "}");
    /* Keys past the first one too many were once compared with names past the list's end. */
    char more[600] = "{";
    for (int i = 0; i < 24; i++)
        snprintf(more + strlen(more), sizeof more - strlen(more), "%sk%d: .k%d", i ? ", " : "",
                 i, i);
    strcat(more, "}");
    struct {
        const char *q, *word;
    } bad[] = {
        {"{r: .region | recurse}", "recurse/0"},
        {"{r: [limit(3; .[])]}", "limit/2"},
        {"{r: [range(10)]}", "range/1"},
        {"{r: ..}", "'..'"},
        {"def f: f; {r: f}", "'def'"},
        {"{r: reduce .[] as $x (0; . + $x)}", "'reduce'"},
        {"{r: [foreach .[] as $x (0; 1)]}", "'foreach'"},
        {"{r: (label $out | 1)}", "'label'"},
        {"{r: input}", "input/0"},
        {"{r: [inputs]}", "inputs/0"},
        {"{r: $ENV.HOME}", "$ENV"},
        {"{r: env.HOME}", "env/0"},
        {"{r: $__loc__}", "$__loc__"},
        {"{r: .a | @sh}", "@sh"},
        {"{r: .a | test(\"x\")}", "test/1"},
        {"{r: .a | sub(\"a\"; \"b\")}", "sub/2"},
        {"{r: .a | split(\"a\"; \"g\")}", "split/2"},
        {"{r: (.a * 1000)}", "'*'"},
        {"{r: (.a |= 1)}", "'|='"},
        {"{r: (.a = 1)}", "'='"},
        {"import \"a\" as a; {r: 1}", "modules"},
        {"{r: now}", "now/0"},
        {"{r: (.a | localtime)}", "localtime/0"},
        {"{r: until(. > 3; . + 1)}", "until/2"},
        {"{r: (.a | while(true; .))}", "while/2"},
        {"{r: (.a | repeat(.))}", "repeat/1"},
        {"{r: .a | format(\"sh\")}", "format/1"},
        {"{r: [paths]}", "paths/0"},
        {"{r: (.a | debug)}", "debug/0"},
        {"{r: (.a | halt_error)}", "halt_error/0"},
        {"  # nothing\n", "is empty"},
        {"{r: .a", "does not parse"},
        {"{r: \"abc}", "a string is not closed"},
        {"{r: .a)}", "unbalanced"},
        {deep, "nests deeper"},
        {many, "at most 16 keys"},
        {more, "at most 16 keys"},
        {"{r: .a + 1}", "does not compile: syntax error"},
        {"{r: .a | nosuch}", "nosuch/0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        stream_jq_t *q = NULL;
        tarn_err_t err = {0};
        if (stream_jq_compile(&q, bad[i].q, &err) != TARN_EINVAL)
            fail_msg("%s: accepted", bad[i].q);
        assert_null(q);
        if (!strstr(err.msg, bad[i].word) || !strstr(err.msg, "MetadataExtractionQuery"))
            fail_msg("%s: '%s' not in '%s'", bad[i].q, bad[i].word, err.msg);
        assert_string_equal(tarn_reason_name(err.reason), "InvalidArgument");
    }
}

/* The keys q gives rec as "k=v,k=v", or the error's message. */
static char *eval(stream_jq_t *q, const char *rec)
{
    stream_jq_keys_t k;
    tarn_err_t err = {0};
    char out[600] = "";
    if (stream_jq_eval(q, guard, rec, strlen(rec), &k, &err)) {
        assert_int_equal(k.n, 0);
        return strdup(err.msg);
    }
    for (size_t i = 0; i < k.n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s=%s", i ? "," : "",
                 k.names[i], k.values[i]);
    stream_jq_keys_free(&k);
    return strdup(out);
}

static void expect(const char *query, const char *rec, const char *want)
{
    stream_jq_t *q = compile(query);
    char *got = eval(q, rec);
    if (!strstr(got, want))
        fail_msg("%s on %s: '%s', want '%s'", query, rec, got, want);
    free(got);
    stream_jq_free(q);
}

static void test_eval(void **state)
{
    (void)state;
    expect("{region: .region, ts: .meta.\"t-s\"}", "{\"region\":\"eu\",\"meta\":{\"t-s\":17}}",
           "region=eu,ts=17");
    expect("{kind: (.kind // \"none\"), n: (.n | tostring), big: .big, b: .b}",
           "{\"n\":1.5,\"big\":1e3,\"b\":true}", "kind=none,n=1.5,big=1000,b=true");
    expect("{k: \"\\(.a)-\\(.b | ascii_upcase)\"}", "{\"a\":1,\"b\":\"x\"}", "k=1-X");
    expect("{(.k): .v}", "{\"k\":\"zone\",\"v\":\"eu\"}", "zone=eu");
    expect("{d: .ts | strftime(\"%Y-%m-%d\")}", "{\"ts\":1764115200}", "d=2025-11-26");
    expect("{region: .region}", "{\"region\":null}",
           "the partition key 'region' is missing or null in the record");
    expect("{region: .region}", "{}", "'region' is missing or null");
    expect("{region: .region}", "{\"region\":{\"a\":1}}", "'region' is not a scalar");
    expect(".a", "{\"a\":\"x\"}", "yields string for the record, not an object");
    expect("{a: .a}, {a: .b}", "{\"a\":1,\"b\":2}", "yields more than one value");
    expect("empty", "{}", "yields nothing for the record");
    expect("{a: .a | error(\"boom\")}", "{\"a\":1}", "failed on the record: boom");
    expect("{a: (.a | tonumber)}", "{\"a\":\"x\"}", "failed on the record: Invalid numeric literal");
    expect("{a: .a}", "{\"a\":", "the record is not JSON");
    char big[1200] = "{\"a\":\"";
    memset(big + strlen(big), 'x', 1030);
    strcat(big, "\"}");
    expect("{a: .a}", big, "the partition key 'a' is longer than 1024 bytes");
}

static void test_guard_halts(void **state)
{
    (void)state;
    /* Three nested iterations over 400 elements: 64 million steps, far past the bound. */
    stream_jq_t *q = compile("{n: ([.a[] as $x | .a[] as $y | .a[] as $z | 1] | length)}");
    buf_t rec = BUF_INIT;
    buf_puts(&rec, "{\"a\":[0");
    for (int i = 1; i < 400; i++)
        buf_puts(&rec, ",0");
    buf_puts(&rec, "]}");
    int64_t t0 = time_mono_ms();
    char *got = eval(q, rec.data);
    int64_t took = time_mono_ms() - t0;
    assert_non_null(strstr(got, "ran longer than 100 ms"));
    assert_true(took < 2000);
    free(got);
    /* The same query goes on working on records it finishes in time. */
    got = eval(q, "{\"a\":[1,2,3]}");
    assert_string_equal(got, "n=27");
    free(got);
    buf_free(&rec);
    stream_jq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_guard_halts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
