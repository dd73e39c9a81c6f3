/* Unit tests of Hive-style key parsing: database/table/partition/file segments, URL-decoded
 * partition names and values, hidden files, invalid keys, and partition value types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "catalog/hive.h"

#include <stdio.h>
#include <string.h>

static int setup(void **state)
{
    arena_t *a = arena_create();
    if (!a)
        return -1;
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static void test_parse_partitioned(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    assert_int_equal(
        hive_parse_key(&k, "sales/orders/dt=2024-01-01/region=eu/part-0.csv", a, &err), 0);
    assert_string_equal(k.db, "sales");
    assert_string_equal(k.table, "orders");
    assert_string_equal(k.location, "sales/orders/");
    assert_string_equal(k.file, "part-0.csv");
    assert_int_equal(k.nparts, 2);
    assert_string_equal(k.names[0], "dt");
    assert_string_equal(k.values[0], "2024-01-01");
    assert_string_equal(k.names[1], "region");
    assert_string_equal(k.values[1], "eu");
    assert_string_equal(k.spec, "dt=2024-01-01/region=eu");
    assert_string_equal(k.part_location, "sales/orders/dt=2024-01-01/region=eu/");
    assert_false(k.hidden);
}

static void test_parse_unpartitioned(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    assert_int_equal(hive_parse_key(&k, "raw_db/my-table/data.json", a, &err), 0);
    assert_string_equal(k.db, "raw_db");
    assert_string_equal(k.table, "my-table");
    assert_string_equal(k.location, "raw_db/my-table/");
    assert_string_equal(k.file, "data.json");
    assert_int_equal(k.nparts, 0);
    assert_string_equal(k.spec, "");
    assert_string_equal(k.part_location, "raw_db/my-table/");
    assert_false(k.hidden);
}

static void test_parse_url_encoded(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    assert_int_equal(hive_parse_key(&k, "db/t/k=a%2Fb%3Ac/f.csv", a, &err), 0);
    assert_int_equal(k.nparts, 1);
    assert_string_equal(k.names[0], "k");
    assert_string_equal(k.values[0], "a/b:c");
    /* The spec and location stay as written in the key. */
    assert_string_equal(k.spec, "k=a%2Fb%3Ac");
    assert_string_equal(k.part_location, "db/t/k=a%2Fb%3Ac/");

    /* Names are decoded too, hex digits in either case, up to the last byte. */
    assert_int_equal(hive_parse_key(&k, "db/t/my%20key=x%2f%3d/f.csv", a, &err), 0);
    assert_int_equal(k.nparts, 1);
    assert_string_equal(k.names[0], "my key");
    assert_string_equal(k.values[0], "x/=");
    assert_int_equal(hive_parse_key(&k, "db/t/k=%41/f.csv", a, &err), 0);
    assert_string_equal(k.values[0], "A");
}

static void test_parse_bad_percent_kept(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"db/t/k=100%/f.csv", "100%"},
        {"db/t/k=%zz/f.csv", "%zz"},
        {"db/t/k=a%2/f.csv", "a%2"},
        {"db/t/k=%g1x/f.csv", "%g1x"},
        {"db/t/k=%%41/f.csv", "%A"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(hive_parse_key(&k, cases[i].key, a, &err), 0);
        assert_int_equal(k.nparts, 1);
        assert_string_equal(k.values[0], cases[i].value);
    }
}

static void test_parse_default_partition(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    assert_int_equal(
        hive_parse_key(&k, "db/t/dt=__HIVE_DEFAULT_PARTITION__/region=eu/f.parquet", a, &err), 0);
    assert_int_equal(k.nparts, 2);
    assert_string_equal(k.names[0], "dt");
    assert_null(k.values[0]);
    assert_string_equal(k.values[1], "eu");
    assert_string_equal(k.spec, "dt=__HIVE_DEFAULT_PARTITION__/region=eu");
    /* An empty value is an empty string, not NULL. */
    assert_int_equal(hive_parse_key(&k, "db/t/dt=/f.csv", a, &err), 0);
    assert_int_equal(k.nparts, 1);
    assert_non_null(k.values[0]);
    assert_string_equal(k.values[0], "");
}

static void test_parse_plain_subfolder(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    /* A folder without '=' (or starting with '=') is not a partition. */
    assert_int_equal(hive_parse_key(&k, "db/t/2024/01/f.csv", a, &err), 0);
    assert_int_equal(k.nparts, 0);
    assert_string_equal(k.spec, "");
    assert_string_equal(k.location, "db/t/");
    assert_string_equal(k.file, "f.csv");
    assert_false(k.hidden);
    assert_int_equal(hive_parse_key(&k, "db/t/=x/f.csv", a, &err), 0);
    assert_int_equal(k.nparts, 0);

    /* Plain folders before a partition folder belong to the partition's location. */
    assert_int_equal(hive_parse_key(&k, "db/t/sub/dt=1/f.csv", a, &err), 0);
    assert_int_equal(k.nparts, 1);
    assert_string_equal(k.names[0], "dt");
    assert_string_equal(k.values[0], "1");
    assert_string_equal(k.spec, "dt=1");
    assert_string_equal(k.part_location, "db/t/sub/dt=1/");

    /* The file name itself is never a partition, even with '='. */
    assert_int_equal(hive_parse_key(&k, "db/t/a=b.csv", a, &err), 0);
    assert_int_equal(k.nparts, 0);
    assert_string_equal(k.file, "a=b.csv");
}

static void test_parse_hidden(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    assert_int_equal(hive_parse_key(&k, "db/t/dt=1/_SUCCESS", a, &err), 0);
    assert_true(k.hidden);
    assert_string_equal(k.file, "_SUCCESS");
    assert_int_equal(hive_parse_key(&k, "db/t/dt=1/.part-0.csv.crc", a, &err), 0);
    assert_true(k.hidden);
    assert_int_equal(hive_parse_key(&k, "db/t/.crc", a, &err), 0);
    assert_true(k.hidden);
    assert_int_equal(hive_parse_key(&k, "db/t/_tmp/part-0.csv", a, &err), 0);
    assert_true(k.hidden);
    assert_int_equal(k.nparts, 0);
    assert_int_equal(hive_parse_key(&k, "db/t/dt=1/_temporary/0/part-0.csv", a, &err), 0);
    assert_true(k.hidden);
    /* '_' or '.' inside a name does not hide it, nor do the database and table folders. */
    assert_int_equal(hive_parse_key(&k, "db/t/dt=1/part_0.v1.csv", a, &err), 0);
    assert_false(k.hidden);
    assert_int_equal(hive_parse_key(&k, "_db/_t/f.csv", a, &err), 0);
    assert_false(k.hidden);
}

static void expect_einval(arena_t *a, const char *key, const char *needle)
{
    hive_key_t k;
    tarn_err_t err = {0};
    assert_int_equal(hive_parse_key(&k, key, a, &err), TARN_EINVAL);
    assert_int_equal(err.code, TARN_EINVAL);
    assert_true(err.msg[0] != '\0');
    if (needle && !strstr(err.msg, needle))
        fail_msg("hive_parse_key(\"%s\"): message '%s' lacks '%s'", key, err.msg, needle);
}

static void test_parse_invalid(void **state)
{
    arena_t *a = *state;
    /* Fewer than three segments, or no file name. */
    expect_einval(a, "", "<database>/<table>/<file>");
    expect_einval(a, "f.csv", "<database>/<table>/<file>");
    expect_einval(a, "db/f.csv", "<database>/<table>/<file>");
    expect_einval(a, "db/t/", "<database>/<table>/<file>");
    expect_einval(a, "db/t/dt=1/", "<database>/<table>/<file>");
    /* Database or table folders that are not names. */
    expect_einval(a, "1db/t/f.csv", "database folder '1db'");
    expect_einval(a, "/t/f.csv", "database folder ''");
    expect_einval(a, "my db/t/f.csv", "database folder");
    expect_einval(a, "db/t.x/f.csv", "table folder 't.x'");
    expect_einval(a, "db/-t/f.csv", "table folder");
    expect_einval(a, "db//f.csv", "table folder");
    /* The same partition key twice, in any case. */
    expect_einval(a, "db/t/dt=1/dt=2/f.csv", "appears twice");
    expect_einval(a, "db/t/dt=1/x/DT=2/f.csv", "appears twice");
    expect_einval(a, "db/t/a%62=1/ab=2/f.csv", "appears twice");
}

static void test_parse_limits(void **state)
{
    arena_t *a = *state;
    hive_key_t k;
    tarn_err_t err = {0};
    char key[1024], *p = key;
    p += sprintf(p, "db/t/");
    for (int i = 0; i < HIVE_MAX_PARTS; i++)
        p += sprintf(p, "p%d=%d/", i, i);
    sprintf(p, "f.csv");
    assert_int_equal(hive_parse_key(&k, key, a, &err), 0);
    assert_int_equal(k.nparts, HIVE_MAX_PARTS);
    assert_string_equal(k.names[HIVE_MAX_PARTS - 1], "p15");
    assert_string_equal(k.values[HIVE_MAX_PARTS - 1], "15");
    /* One more partition folder is refused. */
    sprintf(p, "p99=1/f.csv");
    assert_int_equal(hive_parse_key(&k, key, a, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "more than 16 partition folders"));

    /* More than 64 segments. */
    p = key;
    p += sprintf(p, "db/t/");
    for (int i = 0; i < 70; i++)
        p += sprintf(p, "d/");
    sprintf(p, "f.csv");
    assert_int_equal(hive_parse_key(&k, key, a, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "64"));
}

static void test_valid_name(void **state)
{
    (void)state;
    assert_true(hive_valid_name("sales"));
    assert_true(hive_valid_name("Sales_2024"));
    assert_true(hive_valid_name("_staging"));
    assert_true(hive_valid_name("my-table"));
    assert_true(hive_valid_name("a"));
    assert_false(hive_valid_name(""));
    assert_false(hive_valid_name("1abc"));
    assert_false(hive_valid_name("-abc"));
    assert_false(hive_valid_name("a b"));
    assert_false(hive_valid_name("a.b"));
    assert_false(hive_valid_name("a/b"));
    assert_false(hive_valid_name("dt=1"));
    assert_false(hive_valid_name("caf\xc3\xa9"));
    char name[200];
    memset(name, 'x', sizeof name);
    name[128] = '\0';
    assert_true(hive_valid_name(name));
    name[128] = 'x';
    name[129] = '\0';
    assert_false(hive_valid_name(name));
}

static void test_value_type(void **state)
{
    (void)state;
    assert_string_equal(hive_value_type("42"), "BIGINT");
    assert_string_equal(hive_value_type("0"), "BIGINT");
    assert_string_equal(hive_value_type("-7"), "BIGINT");
    assert_string_equal(hive_value_type("9223372036854775807"), "BIGINT");
    assert_string_equal(hive_value_type("3.5"), "DOUBLE");
    assert_string_equal(hive_value_type("-0.25"), "DOUBLE");
    assert_string_equal(hive_value_type("1e5"), "DOUBLE");
    assert_string_equal(hive_value_type("2024-02-29"), "DATE");
    assert_string_equal(hive_value_type("2000-02-29"), "DATE");
    assert_string_equal(hive_value_type("2024-12-31"), "DATE");
    assert_string_equal(hive_value_type("2023-02-29"), "VARCHAR");
    assert_string_equal(hive_value_type("1900-02-29"), "VARCHAR");
    assert_string_equal(hive_value_type("2024-13-01"), "VARCHAR");
    assert_string_equal(hive_value_type("2024-04-31"), "VARCHAR");
    assert_string_equal(hive_value_type("2024-1-1"), "VARCHAR");
    assert_string_equal(hive_value_type("true"), "BOOLEAN");
    assert_string_equal(hive_value_type("FALSE"), "BOOLEAN");
    assert_string_equal(hive_value_type("eu"), "VARCHAR");
    assert_string_equal(hive_value_type("12abc"), "VARCHAR");
    assert_string_equal(hive_value_type("0x1A"), "VARCHAR");
    assert_string_equal(hive_value_type("nan"), "VARCHAR");
    assert_string_equal(hive_value_type("inf"), "VARCHAR");
    assert_string_equal(hive_value_type(" 42"), "VARCHAR");
    assert_string_equal(hive_value_type("+42"), "VARCHAR");
    assert_string_equal(hive_value_type(NULL), "NULL");
    assert_string_equal(hive_value_type(""), "VARCHAR");
    /* A leading zero keeps the value as text, like zip codes. */
    assert_string_equal(hive_value_type("007"), "VARCHAR");
    assert_string_equal(hive_value_type("-07"), "VARCHAR");
    assert_string_equal(hive_value_type("0.5"), "DOUBLE");
    assert_string_equal(hive_value_type("0"), "BIGINT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_partitioned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_unpartitioned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_url_encoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_bad_percent_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_default_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_plain_subfolder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_hidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
        cmocka_unit_test(test_valid_name),
        cmocka_unit_test(test_value_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
