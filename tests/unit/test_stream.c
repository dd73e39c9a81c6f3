/* Unit tests of streams: the prefix template, configuration validation, the
 * SQL transform's check, and the write-ahead log's framing, group commit and recovery
 * from a torn tail. */
#include "ingest/stream.h"
#include "ingest/stream_transform.h"
#include "util/fs.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char *eval(const char *tmpl, int64_t ts, const char *k, const char *v)
{
    const char *names[] = {k}, *vals[] = {v};
    stream_template_ctx_t c = {.ts_ms = ts, .key_names = names, .key_values = vals,
                               .nkeys = k ? 1 : 0, .error_type = "partitioning-failed",
                               .random = 0xabc};
    buf_t b = BUF_INIT;
    tarn_err_t err = {0};
    if (stream_template_eval(tmpl, &c, &b, &err)) {
        buf_free(&b);
        return NULL;
    }
    return b.data ? buf_steal(&b) : strdup("");
}

static void test_template(void **state)
{
    (void)state;
    int64_t ts = 1764115200123; /* 2025-11-26T00:00:00.123Z */
    char *s = eval("clicks/dt=!{timestamp:yyyy-MM-dd}/h=!{timestamp:HH}/", ts, NULL, NULL);
    assert_string_equal(s, "clicks/dt=2025-11-26/h=00/");
    free(s);
    s = eval("x/!{timestamp:yyyy'-'MM'/'dd}/r=!{partitionKeyFromQuery:region}/", ts, "region",
             "eu");
    assert_string_equal(s, "x/2025-11/26/r=eu/");
    free(s);
    s = eval("e/!{firehose:error-output-type}/!{firehose:random-string}", ts, NULL, NULL);
    assert_string_equal(s, "e/partitioning-failed/00000000abc");
    free(s);
    assert_null(eval("r=!{partitionKeyFromQuery:region}/", ts, NULL, NULL));
    assert_null(eval("r=!{partitionKeyFromQuery:region}/", ts, "region", "a/b"));
    assert_null(eval("r=!{partitionKeyFromQuery:region}/", ts, "region", ""));
    tarn_err_t err = {0};
    bool keys = false, time_ = false;
    assert_int_equal(stream_template_check("a/!{partitionKeyFromQuery:x}/!{timestamp:yy}/",
                                           TEMPLATE_PREFIX, &keys, &time_, &err), 0);
    assert_true(keys && time_);
    assert_int_equal(stream_template_check("a/!{timestamp:yyyy-QQ}", TEMPLATE_PREFIX, NULL,
                                           NULL, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "'Q'"));
    assert_int_equal(stream_template_check("a/!{partitionKeyFromLambda:x}", TEMPLATE_PREFIX,
                                           NULL, NULL, &err), TARN_EINVAL);
    assert_int_equal(stream_template_check("a/!{firehose:error-output-type}", TEMPLATE_PREFIX,
                                           NULL, NULL, &err), TARN_EINVAL);
    assert_int_equal(stream_template_check("a/!{firehose:error-output-type}",
                                           TEMPLATE_ERROR_PREFIX, NULL, NULL, &err), 0);
    assert_int_equal(stream_template_check("a/!{timestamp:yyyy", TEMPLATE_PREFIX, NULL, NULL,
                                           &err), TARN_EINVAL);
    assert_int_equal(stream_template_check("a/!{nope:x}", TEMPLATE_PREFIX, NULL, NULL, &err),
                     TARN_EINVAL);
}

static int parse(const char *json, tarn_err_t *err)
{
    json_t *req = json_loads(json, 0, NULL);
    assert_non_null(req);
    stream_config_t c;
    int rc = stream_config_parse(&c, req, err);
    if (!rc)
        stream_config_free(&c);
    json_decref(req);
    return rc;
}

#define DEST(x) "{\"DeliveryStreamName\":\"s\",\"ExtendedS3DestinationConfiguration\":{" \
                "\"BucketARN\":\"arn:aws:s3:::raw\"" x "}}"
#define PART ",\"DynamicPartitioningConfiguration\":{\"Enabled\":true}," \
             "\"ProcessingConfiguration\":{\"Enabled\":true,\"Processors\":[{\"Type\":" \
             "\"MetadataExtraction\",\"Parameters\":[{\"ParameterName\":" \
             "\"MetadataExtractionQuery\",\"ParameterValue\":\"{region: .region}\"}]}]}"

static void test_config(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    assert_int_equal(parse(DEST(""), &err), 0);
    assert_int_equal(parse(DEST(",\"Prefix\":\"a/r=!{partitionKeyFromQuery:region}/\","
                                "\"ErrorOutputPrefix\":\"e/\"" PART), &err), 0);
    struct {
        const char *json, *word;
    } bad[] = {
        {DEST(",\"Foo\":1"), "ExtendedS3DestinationConfiguration.Foo is not supported (valid "
                              "keys: BucketARN, Prefix, ErrorOutputPrefix, BufferingHints"},
        {DEST(",\"BufferingHints\":{\"SizeInMBs\":\"5\"}"),
         "ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs must be an integer"},
        {DEST(",\"ProcessingConfiguration\":{\"Enabled\":true,\"Processors\":[{\"Type\":"
              "\"SQL\",\"Parameters\":[{\"ParameterName\":\"Query\"}]}]}"),
         "ProcessingConfiguration.Processors[0].Parameters[0].ParameterValue is required"},
        {"{\"DeliveryStreamName\":\"s\"}", "ExtendedS3DestinationConfiguration is required"},
        {"{\"DeliveryStreamName\":\"s\",\"KinesisStreamSourceConfiguration\":{}}",
         "KinesisStreamSourceConfiguration"},
        {"{\"DeliveryStreamName\":\"bad name\",\"ExtendedS3DestinationConfiguration\":{}}",
         "DeliveryStreamName"},
        {DEST(",\"BufferingHints\":{\"SizeInMBs\":0}"), "SizeInMBs"},
        {DEST(",\"BufferingHints\":{\"IntervalInSeconds\":901}"), "IntervalInSeconds"},
        {DEST(",\"CompressionFormat\":\"Snappy\""), "CompressionFormat"},
        {DEST(",\"S3BackupMode\":\"Enabled\""), "S3BackupMode"},
        {DEST(",\"Prefix\":\"a/!{timestamp:yyyy}/\""), "ErrorOutputPrefix"},
        {DEST(",\"Prefix\":\"a/r=!{partitionKeyFromQuery:region}/\",\"ErrorOutputPrefix\":\"e/\""),
         "DynamicPartitioningConfiguration"},
        {DEST(",\"Prefix\":\"a/\"" PART), "partitionKeyFromQuery"},
        {DEST(",\"CompressionFormat\":\"GZIP\",\"DataFormatConversionConfiguration\":{"
              "\"SchemaConfiguration\":{\"DatabaseName\":\"d\",\"TableName\":\"t\"}}"),
         "UNCOMPRESSED"},
        {DEST(",\"DataFormatConversionConfiguration\":{\"SchemaConfiguration\":{"
              "\"DatabaseName\":\"d\",\"TableName\":\"t\"},\"OutputFormatConfiguration\":{"
              "\"Serializer\":{\"OrcSerDe\":{}}}}"), "OrcSerDe"},
        {DEST(",\"DataFormatConversionConfiguration\":{\"SchemaConfiguration\":{"
              "\"DatabaseName\":\"d\",\"TableName\":\"t\"},\"OutputFormatConfiguration\":{"
              "\"Serializer\":{\"ParquetSerDe\":{\"Compression\":\"LZO\"}}}}"), "LZO"},
        {DEST(",\"BucketARN\":\"arn:aws:s3:::quarantine\""), "quarantine"},
        {DEST(",\"ProcessingConfiguration\":{\"Enabled\":true,\"Processors\":[{\"Type\":"
              "\"SQL\",\"Parameters\":[]}]}"), "Query"},
        {DEST(",\"ProcessingConfiguration\":{\"Enabled\":true,\"Processors\":[{\"Type\":"
              "\"SQL\",\"Parameters\":[{\"ParameterName\":\"Sql\",\"ParameterValue\":\"x\"}]}]}"),
         "Sql"},
        {DEST(",\"ProcessingConfiguration\":{\"Enabled\":true,\"Processors\":[{\"Type\":"
              "\"Lambda\",\"Parameters\":[]}]}"), "SQL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = (tarn_err_t){0};
        assert_int_equal(parse(bad[i].json, &err), TARN_EINVAL);
        if (!strstr(err.msg, bad[i].word))
            fail_msg("%s: '%s' not in '%s'", bad[i].json, bad[i].word, err.msg);
    }
}

static void test_transform_check(void **state)
{
    (void)state;
    char dir[] = "/tmp/tarn-transform-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *dirs[] = {dir, NULL};
    engine_opts_t o = {.dirs = dirs, .threads = 1};
    engine_t *e = NULL;
    engine_conn_t *c = NULL;
    tarn_err_t err = {0};
    assert_int_equal(engine_open(&e, &o, &err), 0);
    assert_int_equal(engine_connect(e, &c, &err), 0);
    const char *good[] = {
        ("SELECT user_id, lower(page) AS page, ts::TIMESTAMP AS ts FROM records "
         "WHERE page IS NOT NULL"),
        "select * from RECORDS",
        "WITH r AS (SELECT * FROM records) SELECT * FROM r UNION ALL SELECT * FROM records",
        "SELECT x.*, g FROM records x, unnest([1, 2]) u(g) -- trailing comment\n",
        "SELECT 123456789012345678901234567890 AS big FROM records -- no newline",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        err = (tarn_err_t){0};
        if (stream_transform_check(c, good[i], &err))
            fail_msg("%s: %s", good[i], err.msg);
    }
    struct {
        const char *sql, *word;
    } bad[] = {
        {"SELECT FROM WHERE", "does not parse"},
        {"SELECT 1; SELECT 2", "exactly one"},
        {"INSERT INTO records VALUES (1)", "SELECT"},
        {"SELECT * FROM main.records", "records"},
        {"SELECT * FROM read_parquet('x.parquet')", "read_parquet"},
        {"SELECT * FROM 'x.csv'", "x.csv"},
        {"SELECT (SELECT count(*) FROM t) FROM records", "t"},
        {"SELECT * FROM records;", "semicolon"},
        {"SELECT * FROM records) TO 'x' (FORMAT csv); COPY (SELECT 1", "Query"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = (tarn_err_t){0};
        if (stream_transform_check(c, bad[i].sql, &err) != TARN_EINVAL)
            fail_msg("%s: accepted (%s)", bad[i].sql, err.msg);
        if (!strstr(err.msg, bad[i].word) || !strstr(err.msg, STREAM_TRANSFORM_FIELD))
            fail_msg("%s: '%s' not in '%s'", bad[i].sql, bad[i].word, err.msg);
    }
    buf_t b = BUF_INIT;
    assert_int_equal(stream_transform_statement(&b, "SELECT 1 FROM records", "/a'b", "/o"), 0);
    assert_non_null(strstr(b.data, "read_json('/a''b'"));
    buf_free(&b);
    engine_disconnect(c);
    engine_close(e);
    rmdir(dir);
}

/* ---- the log ---- */

typedef struct {
    uint64_t seqs[4096];
    size_t n;
    size_t bytes;
} seen_t;

static int collect(void *ctx, const stream_wal_rec_t *r)
{
    seen_t *s = ctx;
    s->seqs[s->n++] = r->seq;
    s->bytes += r->len;
    return 0;
}

static void tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/tarn-test-wal-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void test_wal_recovery(void **state)
{
    (void)state;
    char dir[64];
    tmpdir(dir, sizeof dir);
    tarn_err_t err = {0};
    stream_wal_t *w;
    assert_int_equal(stream_wal_open(&w, dir, 0, &err), 0);
    stream_wal_set_segment_size(w, 200); /* several segments */
    stream_record_t recs[3] = {{"alpha", 5}, {"", 0}, {"gamma", 5}};
    uint64_t first;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(stream_wal_append(w, recs, 3, 1000 + i, &first, &err), 0);
        assert_int_equal(first, 1 + 3 * i);
    }
    assert_int_equal(stream_wal_durable(w), 30);
    seen_t s = {0};
    assert_int_equal(stream_wal_read(w, 4, 30, SIZE_MAX, collect, &s, &err), 0);
    assert_int_equal(s.n, 26);
    assert_int_equal(s.seqs[0], 5);
    /* max_bytes stops a read (after at least one record) */
    s = (seen_t){0};
    assert_int_equal(stream_wal_read(w, 0, 30, 12, collect, &s, &err), 0);
    assert_int_equal(s.n, 3);
    stream_wal_close(w);
    /* A torn tail: half a frame after the last, and garbage after that. */
    char last[128] = "";
    for (uint64_t f = 1; f <= 30; f++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%020llu.wal", dir, (unsigned long long)f);
        if (access(p, F_OK) == 0)
            snprintf(last, sizeof last, "%s", p);
    }
    assert_true(last[0]);
    int fd = open(last, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x10\x00\x00\x00garbagegarbage", 18), 18);
    close(fd);
    assert_int_equal(stream_wal_open(&w, dir, 0, &err), 0);
    assert_int_equal(stream_wal_durable(w), 30);
    s = (seen_t){0};
    assert_int_equal(stream_wal_read(w, 0, UINT64_MAX, SIZE_MAX, collect, &s, &err), 0);
    assert_int_equal(s.n, 30);
    assert_int_equal(stream_wal_append(w, recs, 1, 1, &first, &err), 0);
    assert_int_equal(first, 31); /* numbering goes on after the cut */
    /* Trimming drops whole segments at or below the delivered position. */
    uint64_t before = stream_wal_disk_bytes(w);
    assert_int_equal(stream_wal_trim(w, 20, &err), 0);
    assert_true(stream_wal_disk_bytes(w) < before);
    s = (seen_t){0};
    assert_int_equal(stream_wal_read(w, 20, UINT64_MAX, SIZE_MAX, collect, &s, &err), 0);
    assert_int_equal(s.n, 11);
    stream_wal_close(w);
    /* Reopened with everything delivered: numbering continues from the position. */
    assert_int_equal(stream_wal_open(&w, dir, 40, &err), 0);
    assert_int_equal(stream_wal_append(w, recs, 1, 1, &first, &err), 0);
    assert_int_equal(first, 41);
    stream_wal_close(w);
    assert_int_equal(stream_wal_open(&w, dir, 40, &err), 0);
    assert_int_equal(stream_wal_durable(w), 41);
    stream_wal_close(w);
    fs_remove_tree(dir);
}

typedef struct {
    stream_wal_t *w;
    int fails;
} writer_arg_t;

static void *writer(void *p)
{
    writer_arg_t *a = p;
    stream_record_t r = {"0123456789", 10};
    for (int i = 0; i < 200; i++) {
        uint64_t first;
        tarn_err_t err = {0};
        if (stream_wal_append(a->w, &r, 1, 1, &first, &err))
            a->fails++;
    }
    return NULL;
}

static void test_wal_group_commit(void **state)
{
    (void)state;
    char dir[64];
    tmpdir(dir, sizeof dir);
    tarn_err_t err = {0};
    stream_wal_t *w;
    assert_int_equal(stream_wal_open(&w, dir, 0, &err), 0);
    pthread_t th[8];
    writer_arg_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (writer_arg_t){w, 0};
        pthread_create(&th[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].fails, 0);
    }
    assert_int_equal(stream_wal_durable(w), 1600);
    seen_t s = {0};
    assert_int_equal(stream_wal_read(w, 0, UINT64_MAX, SIZE_MAX, collect, &s, &err), 0);
    assert_int_equal(s.n, 1600);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.seqs[i], i + 1);
    stream_wal_close(w);
    fs_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_config),           cmocka_unit_test(test_wal_recovery),
        cmocka_unit_test(test_wal_group_commit), cmocka_unit_test(test_transform_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
