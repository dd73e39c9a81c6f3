/* Unit tests of identities: user names, users by name and by id (ids never reused), the
 * last admin kept, access keys (create, resolve, deactivate, rotate, delete) with the key
 * cache emptied by every revocation, deletion taking keys, memberships, roles and grants
 * with it, secrets sealed to their key id, and passwords checked through the constant-time
 * comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "govern/password.h"
#include "govern_fixture.h"
#include "util/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef govern_fixture_t fixture_t;

static void make_user(fixture_t *f, const char *name, bool admin)
{
    tarn_err_t err = {0};
    if (iam_user_create(f->iam, name, admin, NULL, &err))
        fail_msg("create %s: %s", name, err.msg);
}

static int64_t id_of(fixture_t *f, const char *name)
{
    iam_user_t u = {0};
    tarn_err_t err = {0};
    return iam_user_get(f->iam, name, &u, f->a, &err) ? 0 : u.id;
}

/* Resolves a key as authentication does: 0 with the owner and secret, or the error. */
static int resolve(fixture_t *f, const char *key, iam_user_t *u, char *secret, size_t cap,
                   tarn_err_t *err)
{
    buf_t s = BUF_INIT;
    const char *cidr;
    int rc = iam_key_resolve(f->iam, key, u, &s, &cidr, f->a, err);
    if (!rc)
        snprintf(secret, cap, "%s", s.data);
    buf_free(&s);
    return rc;
}

static void test_user_names(void **state)
{
    fixture_t *f = *state;
    const char *good[] = {"a", "alice", "Bob_2", "x.y@z-w", "0day",
                          "a234567890123456789012345678901234567890123456789012345678901234"};
    const struct {
        const char *name, *says;
    } bad[] = {
        {"", "1 to 64"},
        {"a2345678901234567890123456789012345678901234567890123456789012345", "1 to 64"},
        {"_alice", "start with"},
        {".x", "start with"},
        {"al ice", "only letters"},
        {"al/ice", "only letters"},
        {"al:ice", "only letters"},
        {"al\xc3\xa9", "only letters"},
    };
    tarn_err_t err = {0};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (iam_check_user_name(good[i], &err))
            fail_msg("'%s' refused: %s", good[i], err.msg);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(iam_check_user_name(bad[i].name, &err), TARN_EINVAL);
        assert_string_equal(tarn_reason_name(err.reason), "InvalidArgument");
        if (!strstr(err.msg, bad[i].says))
            fail_msg("'%s': '%s' does not say '%s'", bad[i].name, err.msg, bad[i].says);
        assert_int_equal(iam_user_create(f->iam, bad[i].name, false, NULL, &err), TARN_EINVAL);
    }
    make_user(f, "alice", false);
    assert_int_equal(iam_user_create(f->iam, "alice", true, NULL, &err), TARN_EEXISTS);
    assert_string_equal(tarn_reason_name(err.reason), "EntityAlreadyExists");
}

static void test_users_by_name_and_id(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    make_user(f, "bob", false);
    make_user(f, "alice", true);
    iam_user_t u;
    assert_int_equal(iam_user_get(f->iam, "alice", &u, f->a, &err), 0);
    assert_string_equal(u.name, "alice");
    assert_true(u.admin);
    assert_int_equal(u.keys, 0);
    assert_true(u.created_ms > 0);
    int64_t alice = u.id;
    assert_int_equal(iam_user_get_by_id(f->iam, alice, &u, f->a, &err), 0);
    assert_string_equal(u.name, "alice");
    assert_int_equal(iam_user_get(f->iam, "carol", &u, f->a, &err), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "NoSuchEntity");
    assert_int_equal(iam_user_get_by_id(f->iam, 424242, &u, f->a, &err), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "NoSuchEntity");
    /* Listed by name, with their key counts. */
    char ak[21], sk[41];
    assert_int_equal(iam_key_create(f->iam, "bob", NULL, ak, sk, &err), 0);
    iam_user_t *list;
    size_t n;
    assert_int_equal(iam_user_list(f->iam, &list, &n, f->a, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alice");
    assert_string_equal(list[1].name, "bob");
    assert_int_equal(list[0].keys, 0);
    assert_int_equal(list[1].keys, 1);
    assert_false(list[1].admin);
}

/* Deleted and created again under the same name, a user is someone else: a new id, and
 * the old id resolves to no one. */
static void test_ids_are_never_reused(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    make_user(f, "root", true);
    make_user(f, "bob", false);
    int64_t old = id_of(f, "bob");
    uint64_t gen = iam_generation(f->iam);
    assert_int_equal(iam_user_delete(f->iam, "bob", &err), 0);
    assert_int_equal(f->deleted, 1);
    assert_int_equal(f->deleted_id, old);
    assert_true(iam_generation(f->iam) > gen);
    assert_int_equal(iam_user_delete(f->iam, "bob", &err), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "NoSuchEntity");
    assert_int_equal(f->deleted, 1); /* a failed deletion tells no one */
    make_user(f, "bob", false);
    assert_true(id_of(f, "bob") > old);
    iam_user_t u;
    assert_int_equal(iam_user_get_by_id(f->iam, old, &u, f->a, &err), TARN_ENOTFOUND);
}

static void test_last_admin_stays(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    make_user(f, "root", true);
    make_user(f, "bob", false);
    assert_int_equal(iam_user_delete(f->iam, "root", &err), TARN_ECONFLICT);
    assert_string_equal(tarn_reason_name(err.reason), "DeleteConflict");
    assert_int_not_equal(id_of(f, "root"), 0);
    assert_int_equal(f->deleted, 0);
    make_user(f, "root2", true);
    assert_int_equal(iam_user_delete(f->iam, "root", &err), 0);
    assert_int_equal(iam_user_delete(f->iam, "root2", &err), TARN_ECONFLICT);
    assert_int_equal(iam_user_delete(f->iam, "bob", &err), 0);
}

static void test_keys_resolve_and_revoke(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    make_user(f, "alice", true);
    char ak[21], sk[41], got[129];
    assert_int_equal(iam_key_create(f->iam, "alice", NULL, ak, sk, &err), 0);
    assert_int_equal(strlen(ak), KEY_ACCESS_KEY_LEN);
    assert_int_equal(strncmp(ak, "TK", 2), 0);
    assert_int_equal(strlen(sk), KEY_SECRET_LEN);
    iam_user_t u;
    /* Twice: from the catalog, then from the cache; the same answer. */
    for (int i = 0; i < 2; i++) {
        memset(got, 0, sizeof got);
        assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), 0);
        assert_string_equal(u.name, "alice");
        assert_int_equal(u.id, id_of(f, "alice"));
        assert_true(u.admin);
        assert_true(hash_equal(got, strlen(got), sk, strlen(sk)));
    }
    iam_key_t *keys;
    size_t n;
    assert_int_equal(iam_key_list(f->iam, "alice", &keys, &n, f->a, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].access_key, ak);
    assert_string_equal(keys[0].user, "alice");
    assert_string_equal(keys[0].status, "active");
    assert_true(keys[0].last_used_ms > 0); /* the first use was recorded */
    /* Deactivated: refused at once, though the cache held it. */
    assert_int_equal(iam_key_set_status(f->iam, "alice", ak, "inactive", &err), 0);
    assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidAccessKeyId");
    assert_int_equal(iam_key_set_status(f->iam, "alice", ak, "active", &err), 0);
    assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), 0);
    assert_int_equal(iam_key_set_status(f->iam, "alice", ak, "paused", &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidArgument");
    /* Another user's key, or a key that does not exist, is not found for this user. */
    make_user(f, "bob", false);
    assert_int_equal(iam_key_set_status(f->iam, "bob", ak, "inactive", &err), TARN_ENOTFOUND);
    assert_int_equal(iam_key_delete(f->iam, "bob", ak, &err), TARN_ENOTFOUND);
    assert_int_equal(iam_key_delete(f->iam, "alice", "TKNOSUCHKEY", &err), TARN_ENOTFOUND);
    assert_int_equal(resolve(f, "TKNOSUCHKEY", &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidAccessKeyId");
    assert_int_equal(iam_key_create(f->iam, "nobody", NULL, ak, sk, &err), TARN_ENOTFOUND);
    assert_int_equal(iam_key_list(f->iam, "nobody", &keys, &n, f->a, &err), TARN_ENOTFOUND);
    /* Deleted: refused at once, and gone from the list. */
    assert_int_equal(iam_key_create(f->iam, "alice", NULL, ak, sk, &err), 0);
    assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), 0);
    assert_int_equal(iam_key_delete(f->iam, "alice", ak, &err), 0);
    assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_int_equal(iam_key_delete(f->iam, "alice", ak, &err), TARN_ENOTFOUND);
    assert_int_equal(iam_key_list(f->iam, "alice", &keys, &n, f->a, &err), 0);
    assert_int_equal(n, 1);
}

static void test_rotation(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    make_user(f, "alice", false);
    char k1[21], k2[21], k3[21], k4[21], sk[41], got[129];
    assert_int_equal(iam_key_create(f->iam, "alice", NULL, k1, sk, &err), 0);
    assert_int_equal(iam_key_create(f->iam, "alice", NULL, k2, sk, &err), 0);
    iam_user_t u;
    assert_int_equal(resolve(f, k1, &u, got, sizeof got, &err), 0); /* cached */
    int retired = -1;
    assert_int_equal(iam_key_rotate(f->iam, "alice", false, k3, sk, &retired, &err), 0);
    assert_int_equal(retired, 2);
    assert_int_equal(resolve(f, k1, &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_int_equal(resolve(f, k2, &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_int_equal(resolve(f, k3, &u, got, sizeof got, &err), 0);
    assert_string_equal(got, sk);
    iam_key_t *keys;
    size_t n;
    assert_int_equal(iam_key_list(f->iam, "alice", &keys, &n, f->a, &err), 0);
    assert_int_equal(n, 3);
    /* Deleting the old ones leaves only the new key. */
    assert_int_equal(iam_key_rotate(f->iam, "alice", true, k4, sk, &retired, &err), 0);
    assert_int_equal(retired, 3);
    assert_int_equal(iam_key_list(f->iam, "alice", &keys, &n, f->a, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].access_key, k4);
    assert_int_equal(resolve(f, k3, &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_int_equal(iam_key_rotate(f->iam, "nobody", true, k4, sk, &retired, &err),
                     TARN_ENOTFOUND);
    assert_int_equal(retired, 0);
}

/* A user's deletion takes its keys (cached or not), memberships, role holdings and grants
 * with it; a namesake created after starts with nothing. */
static void test_delete_cascades(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    make_user(f, "root", true);
    make_user(f, "dan", false);
    char ak[21], sk[41], got[129];
    assert_int_equal(iam_key_create(f->iam, "dan", NULL, ak, sk, &err), 0);
    iam_user_t u;
    assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), 0);
    assert_int_equal(grants_group_create(f->g, "analysts", &err), 0);
    assert_int_equal(grants_group_add(f->g, "analysts", "dan", &err), 0);
    assert_int_equal(grants_role_create(f->g, "reader", &err), 0);
    assert_int_equal(grants_role_assign(f->g, "reader", "user:dan", &err), 0);
    grant_spec_t s = {"user:dan", "SELECT", "table:curated.a.b", NULL, NULL, false};
    assert_int_equal(grants_grant(f->g, &s, "root", NULL, &err), 0);
    int64_t old = id_of(f, "dan");
    assert_true(grants_allows(f->g, old, GRANT_SELECT, "table:curated.a.b", false, NULL));

    assert_int_equal(iam_user_delete(f->iam, "dan", &err), 0);
    assert_int_equal(resolve(f, ak, &u, got, sizeof got, &err), TARN_ENOTFOUND);
    assert_false(grants_allows(f->g, old, GRANT_SELECT, "table:curated.a.b", false, NULL));
    json_t *j;
    assert_int_equal(grants_list(f->g, NULL, NULL, &j, &err), 0);
    assert_int_equal(json_array_size(json_object_get(j, "grants")), 0);
    json_decref(j);
    assert_int_equal(grants_groups_list(f->g, &j, &err), 0);
    json_t *members = json_object_get(json_array_get(json_object_get(j, "groups"), 0), "members");
    assert_int_equal(json_array_size(members), 0);
    json_decref(j);
    assert_int_equal(grants_roles_list(f->g, &j, &err), 0);
    json_t *holders = json_object_get(json_array_get(json_object_get(j, "roles"), 0), "holders");
    assert_int_equal(json_array_size(holders), 0);
    json_decref(j);

    make_user(f, "dan", false);
    assert_false(grants_allows(f->g, id_of(f, "dan"), GRANT_SELECT, "table:curated.a.b", false,
                               NULL));
    iam_key_t *keys;
    size_t n = 9;
    assert_int_equal(iam_key_list(f->iam, "dan", &keys, &n, f->a, &err), 0);
    assert_int_equal(n, 0);
}

/* The catalog keeps neither secret in the clear: the secret key is sealed to its access key
 * id (moved to another key's row it does not open), the password kept as a salted hash
 * that password_check compares in constant time, and as a SCRAM verifier. */
static void test_secrets_at_rest(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(iam_user_create(f->iam, "alice", false, "correct horse", &err), 0);
    make_user(f, "bob", false);
    char a1[21], s1[41], b1[21], s2[41], got[129];
    assert_int_equal(iam_key_create(f->iam, "alice", NULL, a1, s1, &err), 0);
    assert_int_equal(iam_key_create(f->iam, "bob", NULL, b1, s2, &err), 0);

    sqlite3_stmt *st = NULL;
    assert_int_equal(db_prepare(f->db, &st, "SELECT secret_sealed FROM access_keys"
                                            " WHERE access_key = ?1", &err), 0);
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char sealed[512];
    snprintf(sealed, sizeof sealed, "%s", (const char *)sqlite3_column_text(st, 0));
    db_done(f->db, st);
    assert_null(strstr(sealed, s1));
    assert_int_equal(strncmp(sealed, "v1:", 3), 0);
    /* alice's sealed secret in bob's row: bob's key no longer resolves. */
    char *q = sqlite3_mprintf("UPDATE access_keys SET secret_sealed = %Q WHERE access_key = %Q",
                              sealed, b1);
    assert_int_equal(db_exec(f->db, q, &err), 0);
    sqlite3_free(q);
    iam_user_t u;
    assert_int_equal(resolve(f, b1, &u, got, sizeof got, &err), TARN_EINVAL);
    assert_int_equal(resolve(f, a1, &u, got, sizeof got, &err), 0);
    assert_string_equal(got, s1);

    assert_int_equal(db_prepare(f->db, &st, "SELECT password_hash FROM users WHERE name = ?1",
                                &err), 0);
    sqlite3_bind_text(st, 1, "alice", -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char stored[256];
    snprintf(stored, sizeof stored, "%s", (const char *)sqlite3_column_text(st, 0));
    db_done(f->db, st);
    assert_null(strstr(stored, "correct horse"));
    assert_int_equal(password_check(stored, "correct horse"), 0);
    const char *wrong[] = {"", "correct", "correct horse ", "Correct horse", "correct hors"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        assert_int_equal(password_check(stored, wrong[i]), TARN_EDENIED);
    assert_int_equal(password_check("pbkdf2-sha256$1$AAAA$AAAA", "x"), TARN_EDENIED);

    buf_t v = BUF_INIT;
    assert_int_equal(iam_user_scram(f->iam, "alice", &u, &v, f->a, &err), 0);
    assert_int_equal(strncmp(v.data, "SCRAM-SHA-256$4096:", 19), 0);
    assert_null(strstr(v.data, "correct horse"));
    buf_free(&v);
    /* Without a password there is no verifier; without a user, an error. */
    assert_int_equal(iam_user_scram(f->iam, "bob", &u, &v, f->a, &err), 0);
    assert_int_equal(v.len, 0);
    assert_int_equal(iam_user_scram(f->iam, "nobody", &u, &v, f->a, &err), TARN_ENOTFOUND);
    buf_free(&v);
}

/* A key's address ranges are kept, listed, and given back by every resolve, the cached
 * ones too; a list that is not one is refused. */
static void test_key_address_ranges(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    char ak[21], sk[41];
    assert_int_equal(iam_user_create(f->iam, "erin", false, "pw-erin-123", &err), 0);
    assert_int_equal(iam_key_create(f->iam, "erin", "10.0.0.0/8, fd00::/8", ak, sk, &err), 0);
    for (int i = 0; i < 2; i++) { /* from the catalog, then from the cache */
        iam_user_t u;
        buf_t s = BUF_INIT;
        const char *cidr = NULL;
        assert_int_equal(iam_key_resolve(f->iam, ak, &u, &s, &cidr, f->a, &err), 0);
        assert_non_null(cidr);
        assert_string_equal(cidr, "10.0.0.0/8, fd00::/8");
        buf_free(&s);
    }
    iam_key_t *keys;
    size_t n;
    assert_int_equal(iam_key_list(f->iam, "erin", &keys, &n, f->a, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].allow_cidr, "10.0.0.0/8, fd00::/8");
    assert_int_equal(iam_key_create(f->iam, "erin", "10.0.0.0/99", ak, sk, &err), TARN_EINVAL);
    assert_int_equal(iam_key_create(f->iam, "erin", NULL, ak, sk, &err), 0);
    iam_user_t u;
    buf_t s = BUF_INIT;
    const char *cidr = "x";
    assert_int_equal(iam_key_resolve(f->iam, ak, &u, &s, &cidr, f->a, &err), 0);
    assert_null(cidr);
    buf_free(&s);
}

int main(void)
{
#define T(test) cmocka_unit_test_setup_teardown(test, govern_fixture_setup_keys, \
                                                govern_fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_user_names),        T(test_users_by_name_and_id), T(test_ids_are_never_reused),
        T(test_last_admin_stays),  T(test_keys_resolve_and_revoke), T(test_rotation),
        T(test_delete_cascades),   T(test_secrets_at_rest), T(test_key_address_ranges),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
