/* libFuzzer target: object key and bucket name validation, and the base64 and hex decoding
 * of digests, on arbitrary bytes (fuzz_http has the request's percent-decoding). */
#include "storage/keys.h"
#include "util/hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    tarn_err_t err = {0};
    store_check_key(s, &err);
    store_check_bucket_name(s, &err);
    uint8_t out[64];
    hash_unb64(out, sizeof out, s);
    hash_unhex(out, 32, s);
    free(s);
    return 0;
}
