/* Unit tests of config maps on a connector-like map: defaults filled in (nested maps too),
 * unknown keys refused with the valid ones, wrong types named by their path in nested lists,
 * missing required keys, enums, bounds, sizes, durations, maps of any keys, and the help. */
#include "util/config_map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const modes[] = {"snapshot", "cdc", NULL};

static const config_entry_t table_fields[] = {
    {.name = "name", .type = CONFIG_STRING, .required = true, .help = "schema.table"},
    {.name = "key", .type = CONFIG_STRINGS, .def = "id", .help = "the key columns"},
    {.name = "mode", .type = CONFIG_ENUM, .values = modes, .def = "cdc"},
    {0}};

static const config_entry_t tls_fields[] = {
    {.name = "verify", .type = CONFIG_BOOL, .def = "true"},
    {.name = "ca", .type = CONFIG_STRING},
    {.name = "key_password", .type = CONFIG_STRING, .secret = true},
    {0}};

static const config_entry_t source_map[] = {
    {.name = "host", .type = CONFIG_STRING, .required = true, .help = "the server's name"},
    {.name = "port", .type = CONFIG_INT, .def = "5432", .min = 1, .max = 65535},
    {.name = "poll", .type = CONFIG_DURATION, .def = "30s", .min = 1000, .max = 3600000,
     .help = "how often to look for changes, a long help text that has to be wrapped over "
             "more than one line of the terminal to fit"},
    {.name = "batch", .type = CONFIG_SIZE, .def = "8MB", .min = 1024, .max = 1 << 30},
    {.name = "tls", .type = CONFIG_MAP, .def = "{}", .fields = tls_fields},
    {.name = "tables", .type = CONFIG_MAPS, .required = true, .fields = table_fields},
    {.name = "options", .type = CONFIG_MAP},
    {.name = "tags", .type = CONFIG_STRINGS},
    {0}};

/* Checks json against source_map: the filled-in config, or NULL with err set. */
static json_t *check(const char *json, tarn_err_t *err)
{
    json_error_t je;
    json_t *given = json_loads(json, JSON_DECODE_ANY, &je);
    if (!given)
        fail_msg("bad test JSON %s: %s", json, je.text);
    json_t *out = NULL;
    *err = (tarn_err_t){0};
    int rc = config_map_check(&out, source_map, given, err);
    json_decref(given);
    assert_true(rc == 0 ? out != NULL : out == NULL);
    return out;
}

static void refused(const char *json, const char *msg)
{
    tarn_err_t err;
    json_t *out = check(json, &err);
    if (out)
        fail_msg("%s: accepted", json);
    assert_int_equal(err.code, TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidArgument");
    if (!strstr(err.msg, msg))
        fail_msg("%s: '%s' not in '%s'", json, msg, err.msg);
}

static void test_defaults(void **state)
{
    (void)state;
    tarn_err_t err;
    json_t *c = check("{\"host\":\"db\",\"tables\":[{\"name\":\"public.orders\"},"
                      "{\"name\":\"t\",\"key\":[\"a\",\"b\"],\"mode\":\"snapshot\"}],"
                      "\"options\":{\"x\":{\"y\":[1]}}}", &err);
    assert_non_null(c);
    assert_int_equal(json_integer_value(config_map_get(c, "port")), 5432);
    assert_int_equal(json_integer_value(config_map_get(c, "poll")), 30000);
    assert_int_equal(json_integer_value(config_map_get(c, "batch")), 8000000);
    assert_true(json_is_true(config_map_get(c, "tls.verify")));
    assert_null(config_map_get(c, "tls.ca"));
    assert_null(config_map_get(c, "tags"));
    json_t *t0 = json_array_get(config_map_get(c, "tables"), 0);
    assert_string_equal(json_string_value(json_object_get(t0, "mode")), "cdc");
    assert_string_equal(json_string_value(json_array_get(json_object_get(t0, "key"), 0)), "id");
    json_t *t1 = json_array_get(config_map_get(c, "tables"), 1);
    assert_string_equal(json_string_value(json_object_get(t1, "mode")), "snapshot");
    assert_int_equal(json_array_size(json_object_get(t1, "key")), 2);
    /* A map of any keys is taken as it is. */
    assert_int_equal(json_integer_value(json_array_get(config_map_get(c, "options.x.y"), 0)), 1);
    json_decref(c);
}

static void test_sizes_and_durations(void **state)
{
    (void)state;
    tarn_err_t err;
    json_t *c = check("{\"host\":\"db\",\"tables\":[],\"poll\":\"5m\",\"batch\":\"64MiB\"}",
                      &err);
    assert_non_null(c);
    assert_int_equal(json_integer_value(config_map_get(c, "poll")), 300000);
    assert_int_equal(json_integer_value(config_map_get(c, "batch")), 67108864);
    json_decref(c);
    c = check("{\"host\":\"db\",\"tables\":[],\"poll\":\"1.5s\",\"batch\":2048}", &err);
    assert_non_null(c);
    assert_int_equal(json_integer_value(config_map_get(c, "poll")), 1500);
    assert_int_equal(json_integer_value(config_map_get(c, "batch")), 2048);
    json_decref(c);
    refused("{\"host\":\"db\",\"tables\":[],\"poll\":\"2h\"}", "poll must be between 1s and 1h");
    refused("{\"host\":\"db\",\"tables\":[],\"poll\":\"10ms\"}", "poll must be between 1s");
    refused("{\"host\":\"db\",\"tables\":[],\"poll\":30}", "poll must be a duration such as");
    refused("{\"host\":\"db\",\"tables\":[],\"poll\":\"30 parsecs\"}", "poll must be a duration");
    refused("{\"host\":\"db\",\"tables\":[],\"batch\":\"2GB\"}",
            "batch must be between 1KiB and 1GiB");
    refused("{\"host\":\"db\",\"tables\":[],\"batch\":\"lots\"}", "batch must be a size");
    refused("{\"host\":\"db\",\"tables\":[],\"batch\":-1}", "batch must be a size");
}

static void test_refusals(void **state)
{
    (void)state;
    refused("[]", "the configuration must be an object");
    refused("{\"hots\":\"db\"}", "hots is not supported (valid keys: host, port, poll, batch, "
                                "tls, tables, options, tags)");
    refused("{\"host\":\"db\",\"tables\":[{\"name\":\"a\"},{\"nmae\":\"b\"}]}",
            "tables[1].nmae is not supported (valid keys: name, key, mode)");
    refused("{\"host\":\"db\",\"tables\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":5}]}",
            "tables[2].name must be a string");
    refused("{\"host\":\"db\",\"tables\":[{\"name\":\"a\",\"key\":[\"id\",7]}]}",
            "tables[0].key[1] must be a string");
    refused("{\"host\":\"db\",\"tables\":{}}", "tables must be a list of objects");
    refused("{\"host\":\"db\",\"tables\":[\"orders\"]}", "tables[0] must be an object");
    refused("{}", "the configuration needs the keys host, tables");
    refused("{\"host\":\"db\"}", "tables is required");
    refused("{\"host\":\"db\",\"tables\":[{}]}", "tables[0].name is required");
    refused("{\"host\":\"db\",\"tables\":[{\"name\":\"a\",\"mode\":\"fast\"}]}",
            "tables[0].mode 'fast' is not supported (valid values: snapshot, cdc)");
    refused("{\"host\":\"db\",\"tables\":[{\"name\":\"a\",\"mode\":1}]}",
            "tables[0].mode must be one of snapshot, cdc");
    refused("{\"host\":\"db\",\"tables\":[],\"port\":70000}", "port must be between 1 and 65535");
    refused("{\"host\":\"db\",\"tables\":[],\"port\":\"5432\"}", "port must be an integer");
    refused("{\"host\":\"db\",\"tables\":[],\"port\":5432.0}", "port must be an integer");
    refused("{\"host\":\"db\",\"tables\":[],\"tls\":{\"verify\":\"yes\"}}",
            "tls.verify must be true or false");
    refused("{\"host\":\"db\",\"tables\":[],\"tls\":{\"cert\":\"x\"}}",
            "tls.cert is not supported (valid keys: verify, ca, key_password)");
    refused("{\"host\":\"db\",\"tables\":[],\"tls\":true}", "tls must be an object");
    refused("{\"host\":\"db\",\"tables\":[],\"options\":[]}", "options must be an object");
    refused("{\"host\":\"db\",\"tables\":[],\"tags\":[\"a\",1]}", "tags[1] must be a string");
    refused("{\"host\":null,\"tables\":[]}", "host must be a string");
}

static void test_help(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    assert_int_equal(config_map_help(&b, source_map), 0);
    const char *want[] = {
        "  host (string, required)\n      the server's name\n",
        "  port (integer between 1 and 65535, default 5432)\n",
        "  poll (duration between 1s and 1h, default 30s)\n      how often",
        "  batch (size between 1KiB and 1GiB, default 8MB)\n",
        "  tls (map)\n    verify (true or false, default true)\n    ca (string)\n",
        ("  tables (list of maps, required)\n    name (string, required)\n"
         "        schema.table\n    key (list of strings, default id)\n"),
        "    mode (one of snapshot, cdc, default cdc)\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(b.data, want[i]))
            fail_msg("'%s' not in:\n%s", want[i], b.data);
    /* Help is wrapped to the terminal. */
    for (const char *l = b.data; *l; l += strcspn(l, "\n") + 1)
        assert_true(strcspn(l, "\n") <= 79);
    buf_free(&b);
}

/* Secrets leave the configuration by path, a placeholder in their place, and come back. */
static void test_secrets(void **state)
{
    (void)state;
    json_t *given = json_loads("{\"host\": \"db\", \"tls\": {\"key_password\": \"s3cret\"},"
                               " \"tables\": [{\"name\": \"public.t\"}]}", 0, NULL);
    json_t *cfg = NULL, *secrets = json_object();
    tarn_err_t err = {0};
    assert_int_equal(config_map_check(&cfg, source_map, given, &err), 0);
    json_t *orig = json_deep_copy(cfg);
    assert_int_equal(config_map_take_secrets(cfg, source_map, secrets, &err), 0);
    assert_string_equal(json_string_value(config_map_get(cfg, "tls.key_password")), CONFIG_SEALED);
    assert_string_equal(json_string_value(json_object_get(secrets, "tls.key_password")), "s3cret");
    char *text = json_dumps(cfg, 0);
    assert_null(strstr(text, "s3cret"));
    free(text);
    assert_int_equal(config_map_put_secrets(cfg, secrets, &err), 0);
    assert_true(json_equal(cfg, orig));
    buf_t b = BUF_INIT;
    assert_int_equal(config_map_help(&b, source_map), 0);
    assert_non_null(strstr(b.data, "key_password (string, secret: stored sealed"));
    buf_free(&b);
    json_decref(given);
    json_decref(cfg);
    json_decref(orig);
    json_decref(secrets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sizes_and_durations),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
