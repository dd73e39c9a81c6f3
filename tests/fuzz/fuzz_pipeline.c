/* libFuzzer target: pipeline spec and cron expression parsing on arbitrary bytes, and the
 * next-run search for every cron expression that parses. */
#include "util/cron.h"
#include "process/pipeline_spec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tarn_err_t err = {0};
    pipeline_spec_t *spec = NULL;
    if (pipeline_spec_parse((const char *)data, size, &spec, &err) == 0)
        pipeline_spec_free(spec);
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    cron_t c;
    if (cron_parse(&c, s, &err) == 0)
        cron_next(&c, 1767225600); /* 2026-01-01 */
    free(s);
    return 0;
}
