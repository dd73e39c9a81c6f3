/* Unit tests of the durable event queue: appends get increasing ids, a consumer reads
 * after its position in order, and events survive reopening the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "catalog/events.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>

static void test_append_and_read_in_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/tarn-events-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tarn.db", dir);
    tarn_err_t err = {0};
    db_t *db;
    assert_int_equal(db_open(&db, path, &err), 0);
    assert_int_equal(catalog_events_init(db, &err), 0);
    int64_t ids[3];
    const char *keys[3] = {"a/1.csv", "a/2.csv", "b/1.json"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(catalog_event_append(db, "object.landed", "raw", keys[i], "{\"n\":1}",
                                              &ids[i], &err),
                         0);
    assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
    db_close(db);

    assert_int_equal(db_open(&db, path, &err), 0);
    assert_int_equal(catalog_events_init(db, &err), 0);
    arena_t *a = arena_create();
    catalog_event_t *ev;
    size_t n;
    assert_int_equal(catalog_events_list(db, ids[0], 10, &ev, &n, a, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].key, "a/2.csv");
    assert_string_equal(ev[1].key, "b/1.json");
    assert_string_equal(ev[1].type, "object.landed");
    assert_string_equal(ev[1].zone, "raw");
    assert_string_equal(ev[1].payload, "{\"n\":1}");
    assert_int_equal(catalog_events_list(db, 0, 1, &ev, &n, a, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].id, ids[0]);
    arena_free(a);
    db_close(db);
    fs_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_read_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
