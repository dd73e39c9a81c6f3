/* libFuzzer target: the catalog's parsers of user input on arbitrary bytes — declared
 * schemas (`--schema 'id BIGINT, ...'`), object keys mapped to tables and partitions,
 * partition value types — and the schema merge and diff that follow from them. */
#include "catalog/hive.h"
#include "catalog/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    tarn_err_t err = {0};
    schema_t a = {0}, b = {0};
    if (!schema_parse(&a, s, &err) && !schema_parse(&b, "id BIGINT, x VARCHAR", &err)) {
        schema_merge(&b, &a);
        json_t *d = schema_diff(&a, &b);
        json_decref(d);
        schema_check_file(&b, &a, &err);
        json_t *j = schema_to_json(&a);
        schema_t c;
        if (!schema_from_json(&c, j, &err))
            schema_free(&c);
        json_decref(j);
    }
    schema_free(&a);
    schema_free(&b);
    arena_t *ar = arena_create();
    hive_key_t k;
    if (!hive_parse_key(&k, s, ar, &err))
        for (size_t i = 0; i < k.nparts; i++)
            hive_value_type(k.values[i]);
    hive_value_type(s);
    arena_free(ar);
    free(s);
    return 0;
}
