/* libFuzzer target: a delivery stream's configuration as JSON (a CreateDeliveryStream
 * request, or only its ExtendedS3DestinationConfiguration, which the target wraps), on
 * arbitrary bytes. A configuration that is accepted must hold what delivery relies on
 * (bounded buffering, the partition keys its prefix names, no compression around
 * Parquet), and its prefixes must evaluate for a record with those keys. The query itself
 * is compiled, not run: fuzz_stream and the unit tests run queries. */
#include "ingest/stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const stream_config_t *c)
{
    if (!c->bucket[0] || !c->prefix || !c->error_prefix || strlen(c->name) > STREAM_NAME_MAX)
        abort();
    if (c->buffer_bytes < 1u << 20 || c->buffer_bytes > 128u << 20 || c->interval_s < 0 ||
        c->interval_s > 900)
        abort();
    if (c->compression < STREAM_COMPRESS_NONE || c->compression > STREAM_COMPRESS_ZSTD)
        abort();
    if (c->parquet && (c->compression != STREAM_COMPRESS_NONE || !c->parquet_compression ||
                       !c->schema_zone || !c->schema_db || !c->schema_table))
        abort();
    if (c->partitioning && !c->jq)
        abort();
    /* The prefix evaluates for a record that has every key the query names (when its text
     * fixes them; otherwise only records tell). */
    const stream_jq_names_t *names = c->jq ? stream_jq_names(c->jq) : NULL;
    if (names && names->n > STREAM_JQ_KEYS)
        abort();
    if (c->partitioning && !names->known)
        return;
    const char *values[STREAM_JQ_KEYS];
    size_t n = names ? names->n : 0;
    for (size_t i = 0; i < n; i++)
        values[i] = "v";
    stream_template_ctx_t ctx = {.ts_ms = 1764115200123,
                                 .key_names = names ? (const char *const *)names->names : NULL,
                                 .key_values = values,
                                 .nkeys = n,
                                 .error_type = "processing-failed",
                                 .random = 42};
    tarn_err_t err = {0};
    buf_t b = BUF_INIT;
    if (stream_template_eval(c->prefix, &ctx, &b, &err))
        abort();
    buf_reset(&b);
    if (stream_template_eval(c->error_prefix, &ctx, &b, &err))
        abort();
    buf_free(&b);
}

static void parse(json_t *req)
{
    stream_config_t c;
    tarn_err_t err = {0};
    if (stream_config_parse(&c, req, &err)) {
        if (err.code != TARN_EINVAL && err.code != TARN_ENOMEM)
            abort();
        return;
    }
    check(&c);
    stream_config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    /* Anything but a request is taken as a destination alone, so that mutations spend
     * themselves inside it (compiling a query is slow: each input is parsed once). */
    json_t *req =
        json_object_get(j, "DeliveryStreamName")
            ? json_incref(j)
            : json_pack("{s:s, s:s, s:O}", "DeliveryStreamName", "fuzz", "DeliveryStreamType",
                        "DirectPut", "ExtendedS3DestinationConfiguration", j);
    if (req)
        parse(req);
    json_decref(req);
    json_decref(j);
    return 0;
}
