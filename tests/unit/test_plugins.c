/* Unit tests of the connector registry: finding plugins by name, configuring one (its map,
 * then its own check, on the filled-in configuration) and its help; the database sources'
 * checks of their modes, schedule and watermarks. */
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

/* The scheduled modes' keys against the mode, for both database sources (configure runs
 * the map and the check: no database is reached). */
static void test_db_modes(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *want; /* want NULL: accepted */
    } cases[] = {
        {"\"mode\":\"snapshot\",\"schedule\":\"0 2 * * *\"", NULL},
        {"\"mode\":\"snapshot\",\"schedule\":\"*/5 * * * * *\"", NULL},
        {"\"mode\":\"incremental\",\"watermark\":\"updated_at\"", NULL},
        {"\"mode\":\"incremental\",\"watermarks\":{\"%s.orders\":\"u\"}", NULL},
        {"\"mode\":\"incremental\",\"watermarks\":{\"%s.other\":\"u\"}",
         "watermarks.%s.other: is not one of the tables"},
        {"\"mode\":\"incremental\",\"watermarks\":{\"%s.orders\":5}",
         "watermarks.%s.orders: must be a column name"},
        {"\"mode\":\"cdc\",\"schedule\":\"0 2 * * *\"", "takes no schedule"},
        {"\"schedule\":\"0 2 * * *\"", "takes no schedule"}, /* cdc is the default */
        {"\"mode\":\"snapshot\",\"schedule\":\"0 25 * * *\"",
         "schedule: cron hour field: 25 is out of range"},
        {"\"mode\":\"incremental\"", "give watermark"},
        {"\"mode\":\"snapshot\",\"watermark\":\"u\"", "watermark: only mode incremental"},
        {"\"mode\":\"weekly\"", "mode"},
    };
    static const struct {
        const char *type, *container;
    } types[] = {{"postgres", "public"}, {"mysql", "shop"}};
    for (size_t t = 0; t < 2; t++) {
        const ingest_plugin_t *p = ingest_plugin_find(types[t].type);
        assert_non_null(p);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            char extra[300], json[600], want[200];
            snprintf(extra, sizeof extra, cases[i].extra, types[t].container);
            snprintf(json, sizeof json,
                     "{\"connection\":{\"database\":\"shop\",\"user\":\"u\"},"
                     "\"tables\":[\"%s.orders\"],%s}",
                     types[t].container, extra);
            json_t *given = json_loads(json, 0, NULL), *cfg = NULL;
            assert_non_null(given);
            tarn_err_t err = {0};
            int rc = ingest_plugin_configure(&cfg, p, given, &err);
            if (!cases[i].want) {
                if (rc)
                    fail_msg("%s %s: refused: %s", types[t].type, json, err.msg);
            } else {
                snprintf(want, sizeof want, cases[i].want, types[t].container);
                if (rc != TARN_EINVAL || !strstr(err.msg, want))
                    fail_msg("%s %s: got %d '%s', want '%s'", types[t].type, json, rc, err.msg,
                             want);
            }
            json_decref(cfg);
            json_decref(given);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_configure_and_help),
        cmocka_unit_test(test_db_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
