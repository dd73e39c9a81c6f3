/* Unit tests of the connector registry: finding plugins by name, configuring one (its map,
 * then its own check, on the filled-in configuration) and its help. */
#include "ingest/plugin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const config_entry_t dir_map[] = {
    {.name = "path", .type = CONFIG_STRING, .required = true, .help = "the folder to sync"},
    {.name = "every", .type = CONFIG_DURATION, .def = "1m"},
    {0}};

/* What a map cannot say: here, that the path is absolute. */
static int dir_check(const json_t *cfg, tarn_err_t *err)
{
    const char *p = json_string_value(json_object_get(cfg, "path"));
    assert_int_equal(json_integer_value(json_object_get(cfg, "every")), 60000);
    return *p == '/' ? 0 : TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                      "path must be absolute");
}

static const ingest_plugin_t dir_plugin = {
    .name = "directory", .description = "files of a folder", .config = dir_map,
    .check = dir_check};

static int configure(const char *json, tarn_err_t *err)
{
    json_t *given = json_loads(json, 0, NULL), *cfg = NULL;
    assert_non_null(given);
    int rc = ingest_plugin_configure(&cfg, &dir_plugin, given, err);
    assert_true(rc ? !cfg : cfg != NULL);
    json_decref(cfg);
    json_decref(given);
    return rc;
}

static void test_registry(void **state)
{
    (void)state;
    size_t n = 0;
    const ingest_plugin_t *const *all = ingest_plugin_list(&n);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(ingest_plugin_find(all[i]->name), all[i]);
        assert_non_null(all[i]->config);
        assert_non_null(all[i]->description);
        /* A pull source has its whole life or none of it. */
        assert_true(!all[i]->start == !all[i]->run && !all[i]->run == !all[i]->stop);
    }
    assert_non_null(ingest_plugin_find("stream"));
    assert_null(ingest_plugin_find("nosuch"));
}

static void test_configure_and_help(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    assert_int_equal(configure("{\"path\":\"/srv/drop\"}", &err), 0);
    assert_int_equal(configure("{\"path\":\"drop\"}", &err), TARN_EINVAL);
    assert_string_equal(err.msg, "path must be absolute");
    assert_int_equal(configure("{\"path\":\"/x\",\"evry\":\"1s\"}", &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "evry is not supported (valid keys: path, every)"));
    buf_t b = BUF_INIT;
    assert_int_equal(ingest_plugin_help(&b, &dir_plugin), 0);
    assert_non_null(strstr(b.data, "Plugin directory: files of a folder\n"));
    assert_non_null(strstr(b.data, "  path (string, required)\n      the folder to sync\n"));
    buf_reset(&b);
    assert_int_equal(ingest_plugin_help(&b, ingest_plugin_find("stream")), 0);
    assert_non_null(strstr(b.data, "    BucketARN (string, required)\n"));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_configure_and_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
