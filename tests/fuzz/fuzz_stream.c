/* libFuzzer target: the stream configuration's parsers (prefix templates, the allow-list
 * walk of MetadataExtractionQuery, a whole CreateDeliveryStream request) and template
 * evaluation, on arbitrary bytes. */
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
    stream_jq_names_t names;
    stream_jq_check(s, &names, &err);
    stream_jq_names_free(&names);
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    stream_config_t cfg;
    if (req && !stream_config_parse(&cfg, req, &err))
        stream_config_free(&cfg);
    json_decref(req);
    free(s);
    return 0;
}
