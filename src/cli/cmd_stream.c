/* tarn stream: create, list, describe and delete delivery streams, and put NDJSON
 * records from stdin, through the REST API (/v1/streams), which takes the same
 * configuration as Firehose's CreateDeliveryStream. */
#include "cli/args.h"
#include "cli/commands.h"

#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: tarn stream create|list|describe|delete|put ... (see `tarn help "
                    "stream`)\n");
    return 2;
}

/* The processors of dynamic partitioning for a JQ query. */
static json_t *partitioning(const char *query)
{
    return json_pack("{s:b, s:[{s:s, s:[{s:s, s:s}, {s:s, s:s}]}]}", "Enabled", 1, "Processors",
                     "Type", "MetadataExtraction", "Parameters", "ParameterName",
                     "MetadataExtractionQuery", "ParameterValue", query, "ParameterName",
                     "JsonParsingEngine", "ParameterValue", "JQ-1.6");
}

static int create(args_t *a)
{
    if (a->npos != 2)
        return usage();
    const char *name = a->pos[1], *ep = args_get(a, "--endpoint");
    const char *config = args_get(a, "--config");
    json_t *req;
    if (config) {
        json_error_t je;
        json_t *d = json_load_file(config, 0, &je);
        if (!d)
            return cli_fail("stream", je.text);
        /* A whole CreateDeliveryStream request, or only its destination. */
        req = json_object_get(d, "ExtendedS3DestinationConfiguration")
                  ? d
                  : json_pack("{s:o}", "ExtendedS3DestinationConfiguration", d);
        json_object_set_new(req, "DeliveryStreamName", json_string(name));
    } else {
        const char *bucket = args_get(a, "--bucket") ? args_get(a, "--bucket") : "raw";
        char arn[300];
        snprintf(arn, sizeof arn, "arn:aws:s3:::%s", bucket);
        json_t *d = json_pack("{s:s, s:s, s:s, s:{s:i, s:i}, s:s}", "BucketARN", arn, "Prefix",
                              args_get(a, "--prefix") ? args_get(a, "--prefix") : "",
                              "ErrorOutputPrefix",
                              args_get(a, "--error-prefix") ? args_get(a, "--error-prefix") : "",
                              "BufferingHints", "SizeInMBs",
                              args_get(a, "--buffer-mb") ? atoi(args_get(a, "--buffer-mb")) : 5,
                              "IntervalInSeconds",
                              args_get(a, "--buffer-seconds")
                                  ? atoi(args_get(a, "--buffer-seconds"))
                                  : 300,
                              "CompressionFormat",
                              args_get(a, "--compression") ? args_get(a, "--compression")
                                                           : "UNCOMPRESSED");
        const char *q = args_get(a, "--partition-query");
        if (q) {
            json_object_set_new(d, "DynamicPartitioningConfiguration",
                                json_pack("{s:b}", "Enabled", 1));
            json_object_set_new(d, "ProcessingConfiguration", partitioning(q));
        }
        const char *tq = args_get(a, "--transform");
        if (tq) {
            /* The SQL processor runs first, so partition keys come from its rows. */
            json_t *pc = json_object_get(d, "ProcessingConfiguration");
            if (!pc) {
                pc = json_pack("{s:b, s:[]}", "Enabled", 1, "Processors");
                json_object_set_new(d, "ProcessingConfiguration", pc);
            }
            json_array_insert_new(json_object_get(pc, "Processors"), 0,
                                  json_pack("{s:s, s:[{s:s, s:s}]}", "Type", "SQL",
                                            "Parameters", "ParameterName", "Query",
                                            "ParameterValue", tq));
        }
        const char *t = args_get(a, "--parquet-table");
        if (t) {
            const char *dot = strrchr(t, '.');
            if (!dot)
                return cli_fail("stream", "--parquet-table wants DB.TABLE or ZONE.DB.TABLE");
            char *dbn = strndup(t, (size_t)(dot - t));
            json_object_set_new(d, "DataFormatConversionConfiguration",
                                json_pack("{s:b, s:{s:s, s:s}}", "Enabled", 1,
                                          "SchemaConfiguration", "DatabaseName", dbn,
                                          "TableName", dot + 1));
            free(dbn);
        }
        req = json_pack("{s:s, s:s, s:o}", "DeliveryStreamName", name, "DeliveryStreamType",
                        "DirectPut", "ExtendedS3DestinationConfiguration", d);
    }
    json_t *out = NULL;
    int rc = cli_call("stream", ep, "POST", "/v1/streams", req, &out);
    json_decref(req);
    if (!rc)
        printf("Created stream %s (%s)\n", name,
               json_string_value(json_object_get(out, "DeliveryStreamARN")));
    json_decref(out);
    return rc;
}

static int list(args_t *a)
{
    json_t *out = NULL;
    int rc = cli_call("stream", args_get(a, "--endpoint"), "GET", "/v1/streams", NULL, &out);
    if (rc)
        return rc;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else {
        size_t i;
        json_t *s;
        printf("%-32s %-40s %12s %12s %8s\n", "NAME", "DESTINATION", "RECORDS IN", "DELIVERED",
               "FAILED");
        json_array_foreach(json_object_get(out, "streams"), i, s)
        {
            json_t *ext = json_object_get(
                json_array_get(json_object_get(s, "Destinations"), 0),
                "ExtendedS3DestinationDescription");
            json_t *t = json_object_get(s, "Tarn");
            char where[512];
            const char *arn = json_string_value(json_object_get(ext, "BucketARN"));
            snprintf(where, sizeof where, "%s/%s", arn ? arn + 13 : "?",
                     json_string_value(json_object_get(ext, "Prefix"))
                         ? json_string_value(json_object_get(ext, "Prefix"))
                         : "");
            printf("%-32s %-40s %12lld %12lld %8lld\n",
                   json_string_value(json_object_get(s, "DeliveryStreamName")), where,
                   (long long)json_integer_value(json_object_get(t, "RecordsIn")),
                   (long long)json_integer_value(json_object_get(t, "RecordsDelivered")),
                   (long long)json_integer_value(json_object_get(t, "RecordsFailed")));
        }
    }
    json_decref(out);
    return 0;
}

static int by_name(args_t *a, const char *method)
{
    if (a->npos != 2)
        return usage();
    char *n = cli_escape(a->pos[1]);
    char path[600];
    snprintf(path, sizeof path, "/v1/streams/%s", n ? n : "");
    free(n);
    json_t *out = NULL;
    int rc = cli_call("stream", args_get(a, "--endpoint"), method, path, NULL, &out);
    if (!rc && out)
        cli_print_json(out);
    else if (!rc)
        printf("Deleted stream %s\n", a->pos[1]);
    json_decref(out);
    return rc;
}

/* Sends one call's records; adds to the counts. */
static int send_batch(client_t *c, const char *path, buf_t *b, long *ok, long *failed)
{
    json_t *out = NULL;
    tarn_err_t err = {0};
    int rc = client_send(c, "POST", path, "application/x-ndjson", b->data, b->len, &out, &err);
    buf_reset(b);
    if (rc)
        return cli_fail("stream", err.msg);
    long f = (long)json_integer_value(json_object_get(out, "FailedPutCount"));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(out, "RequestResponses"), i, x)
    {
        if (json_object_get(x, "ErrorMessage"))
            fprintf(stderr, "tarn stream: a record was refused: %s\n",
                    json_string_value(json_object_get(x, "ErrorMessage")));
    }
    *failed += f;
    *ok += (long)json_array_size(json_object_get(out, "RequestResponses")) - f;
    json_decref(out);
    return 0;
}

/* Reads NDJSON from stdin and sends it in calls of at most 500 records and 4 MiB. */
static int put(args_t *a)
{
    if (a->npos != 2)
        return usage();
    client_t c;
    tarn_err_t err = {0};
    if (client_init(&c, args_get(a, "--endpoint"), &err))
        return cli_fail("stream", err.msg);
    char *n = cli_escape(a->pos[1]);
    char path[600];
    snprintf(path, sizeof path, "/v1/streams/%s/records", n ? n : "");
    free(n);
    buf_t b = BUF_INIT;
    char *line = NULL;
    size_t cap = 0, count = 0;
    ssize_t len;
    long ok = 0, failed = 0;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, stdin)) > 0) {
        if (len == 1 && line[0] == '\n')
            continue;
        if (count && (count == 500 || b.len + (size_t)len > (4u << 20))) {
            rc = send_batch(&c, path, &b, &ok, &failed);
            count = 0;
        }
        buf_append(&b, line, (size_t)len);
        if (line[len - 1] != '\n')
            buf_putc(&b, '\n');
        count++;
    }
    if (!rc && count)
        rc = send_batch(&c, path, &b, &ok, &failed);
    free(line);
    buf_free(&b);
    client_wipe(&c);
    if (!rc)
        printf("%ld records acknowledged, %ld refused\n", ok, failed);
    return rc ? rc : failed ? 1 : 0;
}

int cmd_stream(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--config", "--bucket", "--prefix",
                                         "--error-prefix", "--buffer-mb", "--buffer-seconds",
                                         "--compression", "--partition-query", "--transform",
                                         "--parquet-table", NULL};
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "stream"))
        return 2;
    if (!a.npos)
        return usage();
    const char *sub = a.pos[0];
    if (!strcmp(sub, "create"))
        return create(&a);
    if (!strcmp(sub, "list"))
        return list(&a);
    if (!strcmp(sub, "describe"))
        return by_name(&a, "GET");
    if (!strcmp(sub, "delete"))
        return by_name(&a, "DELETE");
    if (!strcmp(sub, "put"))
        return put(&a);
    return usage();
}
