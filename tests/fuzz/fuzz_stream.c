/* libFuzzer target: the stream configuration's parsers (prefix templates, the JQ subset,
 * a whole CreateDeliveryStream request) and template evaluation, on arbitrary bytes. */
#include "ingest/stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    tarn_err_t err = {0};
    bool keys, time_;
    if (!stream_template_check(s, TEMPLATE_ERROR_PREFIX, &keys, &time_, &err)) {
        const char *n[] = {"k"}, *v[] = {"v"};
        stream_template_ctx_t c = {.ts_ms = 1764115200123, .key_names = n, .key_values = v,
                                   .nkeys = 1};
        buf_t b = BUF_INIT;
        stream_template_eval(s, &c, &b, &err);
        buf_free(&b);
    }
    stream_jq_t q;
    if (!stream_jq_parse(&q, s, &err)) {
        json_t *rec = json_loads("{\"a\":{\"b\":1},\"k\":\"x\"}", 0, NULL);
        char *vals[64];
        if (q.n <= 64 && !stream_jq_eval(&q, rec, vals, &err))
            for (size_t i = 0; i < q.n; i++)
                free(vals[i]);
        json_decref(rec);
        stream_jq_free(&q);
    }
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    stream_config_t cfg;
    if (req && !stream_config_parse(&cfg, req, &err))
        stream_config_free(&cfg);
    json_decref(req);
    free(s);
    return 0;
}
