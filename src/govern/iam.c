/* Users and access keys in SQLite; see iam.h. */
#include "govern/iam.h"
#include "govern/password.h"
#include "util/hash.h"
#include "util/timeutil.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const iam_schema[] = {
    "CREATE TABLE users(name TEXT PRIMARY KEY, admin INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, password_hash TEXT, scram_verifier TEXT)",
    "CREATE TABLE access_keys(access_key TEXT PRIMARY KEY,"
    " user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    " secret_sealed TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',"
    " created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX access_keys_by_user ON access_keys(user)",
};

/* Resolved keys are kept for a short while: every request resolves its key, and a
 * lookup plus an AES-GCM unseal per request is most of an authenticated request's cost.
 * Deleting or deactivating a key, or deleting a user, empties the cache, so revocation
 * takes effect at once. */
#define KEY_CACHE 256
#define KEY_CACHE_TTL_MS 30000

typedef struct {
    char access_key[129];
    char user[65];
    bool admin;
    char secret[129];
    int64_t expires_ms;
} cached_key_t;

struct iam {
    db_t *db;
    const keyring_t *kr;
    pthread_mutex_t mu;
    cached_key_t cache[KEY_CACHE];
};

static cached_key_t *cache_slot(iam_t *iam, const char *access_key)
{
    uint32_t h = 2166136261u;
    for (const char *p = access_key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &iam->cache[h % KEY_CACHE];
}

static void cache_clear(iam_t *iam)
{
    pthread_mutex_lock(&iam->mu);
    OPENSSL_cleanse(iam->cache, sizeof iam->cache);
    pthread_mutex_unlock(&iam->mu);
}

int iam_open(iam_t **out, db_t *db, const keyring_t *kr, tarn_err_t *err)
{
    int rc = db_migrate(db, "iam", iam_schema, (int)(sizeof iam_schema / sizeof *iam_schema), err);
    if (rc)
        return rc;
    iam_t *iam = calloc(1, sizeof *iam);
    if (!iam)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    iam->db = db;
    iam->kr = kr;
    pthread_mutex_init(&iam->mu, NULL);
    *out = iam;
    return 0;
}

void iam_close(iam_t *iam)
{
    if (!iam)
        return;
    OPENSSL_cleanse(iam->cache, sizeof iam->cache);
    pthread_mutex_destroy(&iam->mu);
    free(iam);
}

int iam_check_user_name(const char *name, tarn_err_t *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                          "user name must be 1 to 64 characters long");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (i == 0 && !alnum)
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "user name must start with a letter or digit");
        if (!alnum && !strchr("_.@-", c))
            return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                              "user name may contain only letters, digits and _ . @ -");
    }
    return 0;
}

static int step_done(iam_t *iam, sqlite3_stmt *st, tarn_err_t *err, const char *what)
{
    int step = sqlite3_step(st);
    db_done(iam->db, st);
    if (step == SQLITE_DONE)
        return 0;
    return db_fail(iam->db, step, err, what);
}

int iam_user_create(iam_t *iam, const char *name, bool admin, const char *password,
                    tarn_err_t *err)
{
    buf_t hash = BUF_INIT, scram = BUF_INIT;
    sqlite3_stmt *st = NULL;
    int rc = iam_check_user_name(name, err);
    if (rc)
        goto done;
    if (password && ((rc = password_hash(&hash, password, err)) ||
                     (rc = password_scram_verifier(&scram, password, err))))
        goto done;
    if ((rc = db_prepare(iam->db, &st,
                         "INSERT INTO users(name, admin, created_ms, password_hash, scram_verifier)"
                         " VALUES(?1, ?2, ?3, ?4, ?5)",
                         err)))
        goto done;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, admin);
    sqlite3_bind_int64(st, 3, time_now_ms());
    if (password) {
        sqlite3_bind_text(st, 4, hash.data, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, scram.data, -1, SQLITE_STATIC);
    }
    int step = sqlite3_step(st);
    db_done(iam->db, st);
    if (step == SQLITE_CONSTRAINT)
        rc = TARN_ERR_R(err, TARN_EEXISTS, "EntityAlreadyExists", "the user '%s' already exists",
                        name);
    else if (step != SQLITE_DONE)
        rc = db_fail(iam->db, step, err, "create user");
done:
    buf_free(&hash);
    buf_free(&scram);
    return rc;
}

int iam_user_get(iam_t *iam, const char *name, iam_user_t *out, arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st,
                        "SELECT u.name, u.admin, u.created_ms,"
                        " (SELECT count(*) FROM access_keys k WHERE k.user = u.name)"
                        " FROM users u WHERE u.name = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->name = arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
        out->admin = sqlite3_column_int(st, 1);
        out->created_ms = sqlite3_column_int64(st, 2);
        out->keys = sqlite3_column_int(st, 3);
    }
    db_done(iam->db, st);
    if (step == SQLITE_ROW)
        return 0;
    if (step != SQLITE_DONE)
        return db_fail(iam->db, step, err, "user lookup");
    return TARN_ERR_R(err, TARN_ENOTFOUND, "NoSuchEntity", "the user '%s' does not exist", name);
}

int iam_user_scram(iam_t *iam, const char *name, iam_user_t *out, buf_t *verifier, arena_t *a,
                   tarn_err_t *err)
{
    int rc = iam_user_get(iam, name, out, a, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = db_prepare(iam->db, &st, "SELECT scram_verifier FROM users WHERE name = ?1", err)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    const char *v = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (v && buf_puts(verifier, v))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    db_done(iam->db, st);
    return rc;
}

int iam_user_delete(iam_t *iam, const char *name, tarn_err_t *err)
{
    arena_t *a = arena_create();
    iam_user_t u;
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = iam_user_get(iam, name, &u, a, err);
    arena_free(a);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (u.admin) {
        if ((rc = db_prepare(iam->db, &st, "SELECT count(*) FROM users WHERE admin = 1", err)))
            return rc;
        int admins = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        db_done(iam->db, st);
        if (admins <= 1)
            return TARN_ERR_R(err, TARN_ECONFLICT, "DeleteConflict",
                              "'%s' is the last admin and cannot be deleted", name);
    }
    if ((rc = db_prepare(iam->db, &st, "DELETE FROM users WHERE name = ?1", err)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = step_done(iam, st, err, "delete user");
    cache_clear(iam);
    return rc;
}

int iam_user_list(iam_t *iam, iam_user_t **out, size_t *n, arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st,
                        "SELECT u.name, u.admin, u.created_ms,"
                        " (SELECT count(*) FROM access_keys k WHERE k.user = u.name)"
                        " FROM users u ORDER BY u.name",
                        err);
    if (rc)
        return rc;
    size_t cap = 16, cnt = 0;
    iam_user_t *v = arena_alloc(a, cap * sizeof *v);
    while (v && sqlite3_step(st) == SQLITE_ROW) {
        if (cnt == cap) {
            iam_user_t *nv = arena_alloc(a, 2 * cap * sizeof *v);
            if (nv)
                memcpy(nv, v, cnt * sizeof *v);
            v = nv;
            cap *= 2;
            if (!v)
                break;
        }
        v[cnt].name = arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
        v[cnt].admin = sqlite3_column_int(st, 1);
        v[cnt].created_ms = sqlite3_column_int64(st, 2);
        v[cnt].keys = sqlite3_column_int(st, 3);
        cnt++;
    }
    db_done(iam->db, st);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = v;
    *n = cnt;
    return 0;
}

int iam_key_create(iam_t *iam, const char *user, char access_key[21], char secret[41],
                   tarn_err_t *err)
{
    arena_t *a = arena_create();
    iam_user_t u;
    buf_t sealed = BUF_INIT;
    sqlite3_stmt *st = NULL;
    int rc = a ? iam_user_get(iam, user, &u, a, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc)
        goto done;
    if (key_generate_access_key(access_key) || key_generate_secret(secret)) {
        rc = TARN_ERR(err, TARN_EIO, "no randomness for a new key");
        goto done;
    }
    if ((rc = keyring_seal(iam->kr, access_key, secret, strlen(secret), &sealed, err)))
        goto done;
    if ((rc = db_prepare(iam->db, &st,
                         "INSERT INTO access_keys(access_key, user, secret_sealed, created_ms)"
                         " VALUES(?1, ?2, ?3, ?4)",
                         err)))
        goto done;
    sqlite3_bind_text(st, 1, access_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sealed.data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms());
    rc = step_done(iam, st, err, "create key");
done:
    buf_free(&sealed);
    arena_free(a);
    return rc;
}

int iam_key_delete(iam_t *iam, const char *user, const char *access_key, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st, "DELETE FROM access_keys WHERE user = ?1 AND access_key = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, access_key, -1, SQLITE_STATIC);
    rc = step_done(iam, st, err, "delete key");
    cache_clear(iam);
    if (rc)
        return rc;
    if (sqlite3_changes(db_h(iam->db)) == 0)
        return TARN_ERR_R(err, TARN_ENOTFOUND, "NoSuchEntity",
                          "the user '%s' has no access key '%s'", user, access_key);
    return 0;
}

int iam_key_set_status(iam_t *iam, const char *user, const char *access_key, const char *status,
                       tarn_err_t *err)
{
    if (strcmp(status, "active") && strcmp(status, "inactive"))
        return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument",
                          "a key's status is \"active\" or \"inactive\" (got \"%s\")", status);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st,
                        "UPDATE access_keys SET status = ?3 WHERE user = ?1 AND access_key = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, access_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    rc = step_done(iam, st, err, "update key");
    int changed = rc ? 0 : sqlite3_changes(db_h(iam->db));
    cache_clear(iam);
    if (rc)
        return rc;
    if (changed == 0)
        return TARN_ERR_R(err, TARN_ENOTFOUND, "NoSuchEntity",
                          "the user '%s' has no access key '%s'", user, access_key);
    return 0;
}

int iam_key_rotate(iam_t *iam, const char *user, bool delete_old, char access_key[21],
                   char secret[41], int *retired, tarn_err_t *err)
{
    *retired = 0;
    /* The new key exists before the old ones go: a failure in between leaves the user
     * with one more working key, never with none. */
    int rc = iam_key_create(iam, user, access_key, secret, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = db_prepare(iam->db, &st,
                    delete_old ? "DELETE FROM access_keys WHERE user = ?1 AND access_key <> ?2"
                               : "UPDATE access_keys SET status = 'inactive'"
                                 " WHERE user = ?1 AND access_key <> ?2 AND status = 'active'",
                    err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, access_key, -1, SQLITE_STATIC);
    rc = step_done(iam, st, err, "retire old keys");
    if (!rc)
        *retired = sqlite3_changes(db_h(iam->db));
    cache_clear(iam);
    return rc;
}

int iam_key_list(iam_t *iam, const char *user, iam_key_t **out, size_t *n, arena_t *a,
                 tarn_err_t *err)
{
    iam_user_t u;
    int rc = iam_user_get(iam, user, &u, a, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = db_prepare(iam->db, &st,
                         "SELECT access_key, user, status, created_ms, last_used_ms FROM access_keys"
                         " WHERE user = ?1 ORDER BY created_ms, access_key",
                         err)))
        return rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    size_t cap = (size_t)u.keys + 1, cnt = 0;
    iam_key_t *v = arena_alloc(a, cap * sizeof *v);
    while (v && cnt < cap && sqlite3_step(st) == SQLITE_ROW) {
        v[cnt].access_key = arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
        v[cnt].user = arena_strdup(a, (const char *)sqlite3_column_text(st, 1));
        v[cnt].status = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
        v[cnt].created_ms = sqlite3_column_int64(st, 3);
        v[cnt].last_used_ms = sqlite3_column_int64(st, 4);
        cnt++;
    }
    db_done(iam->db, st);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = v;
    *n = cnt;
    return 0;
}

int iam_key_resolve(iam_t *iam, const char *access_key, iam_user_t *user, buf_t *secret,
                    arena_t *a, tarn_err_t *err)
{
    int64_t now = time_now_ms();
    cached_key_t *slot = cache_slot(iam, access_key);
    pthread_mutex_lock(&iam->mu);
    if (slot->expires_ms > now && !strcmp(slot->access_key, access_key)) {
        user->name = arena_strdup(a, slot->user);
        user->admin = slot->admin;
        user->created_ms = 0;
        user->keys = 0;
        int bad = buf_puts(secret, slot->secret);
        pthread_mutex_unlock(&iam->mu);
        if (bad || !user->name)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        return 0;
    }
    pthread_mutex_unlock(&iam->mu);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st,
                        "SELECT k.secret_sealed, k.last_used_ms, u.name, u.admin, u.created_ms"
                        " FROM access_keys k JOIN users u ON u.name = k.user"
                        " WHERE k.access_key = ?1 AND k.status = 'active'",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, access_key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        db_done(iam->db, st);
        if (step != SQLITE_DONE)
            return db_fail(iam->db, step, err, "key lookup");
        return TARN_ERR_R(err, TARN_ENOTFOUND, "InvalidAccessKeyId",
                          "the access key id you provided does not exist in our records");
    }
    int64_t last_used = sqlite3_column_int64(st, 1);
    user->name = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
    user->admin = sqlite3_column_int(st, 3);
    user->created_ms = sqlite3_column_int64(st, 4);
    user->keys = 0;
    rc = keyring_unseal(iam->kr, access_key, (const char *)sqlite3_column_text(st, 0), secret, err);
    db_done(iam->db, st);
    if (rc)
        return rc;
    if (strlen(access_key) < sizeof slot->access_key && strlen(user->name) < sizeof slot->user &&
        secret->len < sizeof slot->secret) {
        pthread_mutex_lock(&iam->mu);
        snprintf(slot->access_key, sizeof slot->access_key, "%s", access_key);
        snprintf(slot->user, sizeof slot->user, "%s", user->name);
        slot->admin = user->admin;
        memcpy(slot->secret, secret->data, secret->len + 1);
        slot->expires_ms = now + KEY_CACHE_TTL_MS;
        pthread_mutex_unlock(&iam->mu);
    }
    if (now - last_used > 60000) {
        if (!db_prepare(iam->db, &st, "UPDATE access_keys SET last_used_ms = ?1 WHERE access_key = ?2",
                        NULL)) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_text(st, 2, access_key, -1, SQLITE_STATIC);
            sqlite3_step(st);
            db_done(iam->db, st);
        }
    }
    return 0;
}
