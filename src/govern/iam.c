/* Users and access keys in SQLite; see iam.h. */
#include "govern/iam.h"
#include "govern/password.h"
#include "util/hash.h"
#include "util/net.h"
#include "util/timeutil.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
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
    /* Users get an id that is never reused (AUTOINCREMENT), and keys belong to the id: a
     * user deleted and created again under the same name is a new principal, and nothing
     * recorded for the old one (keys here, grants and memberships in grants.c) can apply
     * to it. The name stays unique among living users, as a label. Existing users are
     * numbered in order of creation. */
    "CREATE TABLE users_v2(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    " admin INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, password_hash TEXT,"
    " scram_verifier TEXT)",
    "INSERT INTO users_v2(name, admin, created_ms, password_hash, scram_verifier)"
    " SELECT name, admin, created_ms, password_hash, scram_verifier FROM users"
    " ORDER BY created_ms, name",
    "CREATE TABLE access_keys_v2(access_key TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " secret_sealed TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',"
    " created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0)",
    "INSERT INTO access_keys_v2 SELECT k.access_key, u.id, k.secret_sealed, k.status,"
    " k.created_ms, k.last_used_ms FROM access_keys k JOIN users_v2 u ON u.name = k.user",
    "DROP TABLE access_keys",
    "DROP TABLE users",
    "ALTER TABLE users_v2 RENAME TO users",
    "ALTER TABLE access_keys_v2 RENAME TO access_keys",
    "CREATE INDEX access_keys_by_user ON access_keys(user_id)",
    /* The cascade already removes them; the trigger keeps it so on a connection that
     * does not enforce foreign keys. */
    "CREATE TRIGGER access_keys_user_gone AFTER DELETE ON users BEGIN"
    " DELETE FROM access_keys WHERE user_id = old.id; END",
    /* The client addresses a key may sign from (NULL: any). */
    "ALTER TABLE access_keys ADD COLUMN allow_cidr TEXT",
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
    int64_t user_id;
    bool admin;
    char allow_cidr[256]; /* "" for any address */
    char secret[129];
    int64_t expires_ms;
} cached_key_t;

struct iam {
    db_t *db;
    const keyring_t *kr;
    pthread_mutex_t mu;
    cached_key_t cache[KEY_CACHE];
    uint64_t cache_epoch;            /* under mu: bumped by each clear */
    atomic_uint_fast64_t generation; /* bumped by every user deletion */
    iam_deleted_fn on_deleted;       /* told of each deletion after its commit */
    void *on_deleted_ctx;
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
    iam->cache_epoch++;
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
    atomic_store(&iam->generation, 1);
    *out = iam;
    return 0;
}

void iam_on_user_deleted(iam_t *iam, iam_deleted_fn fn, void *ctx)
{
    iam->on_deleted = fn;
    iam->on_deleted_ctx = ctx;
}

uint64_t iam_generation(iam_t *iam)
{
    return atomic_load(&iam->generation);
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
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "user name must be 1 to 64 characters long");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (i == 0 && !alnum)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "user name must start with a letter or digit");
        if (!alnum && !strchr("_.@-", c))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "user name may contain only letters, digits and _ . @ -");
    }
    return 0;
}

/* The id of the user named ?1 (NULL when there is none, which matches no key). */
#define USER_ID "(SELECT id FROM users WHERE name = ?1)"

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
        rc = TARN_ERR_R(err, TARN_EEXISTS, EntityAlreadyExists, "the user '%s' already exists",
                        name);
    else if (step != SQLITE_DONE)
        rc = db_fail(iam->db, step, err, "create user");
done:
    buf_free(&hash);
    buf_free(&scram);
    return rc;
}

#define USER_COLS                                                                                  \
    "SELECT u.id, u.name, u.admin, u.created_ms,"                                                  \
    " (SELECT count(*) FROM access_keys k WHERE k.user_id = u.id) FROM users u"

/* One user by name (name != NULL) or by id. */
static int user_lookup(iam_t *iam, const char *name, int64_t id, iam_user_t *out, arena_t *a,
                       tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st,
                        name ? USER_COLS " WHERE u.name = ?1" : USER_COLS " WHERE u.id = ?2", err);
    if (rc)
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->name = arena_strdup(a, (const char *)sqlite3_column_text(st, 1));
        out->admin = sqlite3_column_int(st, 2);
        out->created_ms = sqlite3_column_int64(st, 3);
        out->keys = sqlite3_column_int(st, 4);
    }
    db_done(iam->db, st);
    if (step == SQLITE_ROW)
        return out->name ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (step != SQLITE_DONE)
        return db_fail(iam->db, step, err, "user lookup");
    if (name)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "the user '%s' does not exist",
                          name);
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "the user #%lld does not exist",
                      (long long)id);
}

int iam_user_get(iam_t *iam, const char *name, iam_user_t *out, arena_t *a, tarn_err_t *err)
{
    return user_lookup(iam, name, 0, out, a, err);
}

int iam_user_get_by_id(iam_t *iam, int64_t id, iam_user_t *out, arena_t *a, tarn_err_t *err)
{
    return user_lookup(iam, NULL, id, out, a, err);
}

int iam_user_scram(iam_t *iam, const char *name, iam_user_t *out, buf_t *verifier, arena_t *a,
                   tarn_err_t *err)
{
    int rc = iam_user_get(iam, name, out, a, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    /* By id: the verifier is the one of the user just looked up, even if the name
     * changed hands in between. */
    if ((rc = db_prepare(iam->db, &st, "SELECT scram_verifier FROM users WHERE id = ?1", err)))
        return rc;
    sqlite3_bind_int64(st, 1, out->id);
    int step = sqlite3_step(st);
    const char *v = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (v && buf_puts(verifier, v))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    db_done(iam->db, st);
    return rc;
}

/* One transaction: the last-admin check, and the user's row with everything that refers to
 * its id (access keys by cascade; grants, group memberships and role holdings by the
 * triggers of grants.c), so no reader ever sees the user gone but its grants still there,
 * nor a second admin deleted past the check. Caches are emptied after the commit. */
int iam_user_delete(iam_t *iam, const char *name, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    bool in_txn = false;
    int rc = db_exec(iam->db, "BEGIN IMMEDIATE", err);
    if (rc)
        goto done;
    in_txn = true;
    if ((rc = db_prepare(iam->db, &st,
                         "SELECT id, admin, (SELECT count(*) FROM users WHERE admin = 1)"
                         " FROM users WHERE name = ?1",
                         err)))
        goto done;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    bool admin = false;
    int admins = 0;
    if (step == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        admin = sqlite3_column_int(st, 1);
        admins = sqlite3_column_int(st, 2);
    }
    db_done(iam->db, st);
    if (step == SQLITE_DONE)
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "the user '%s' does not exist", name);
    else if (step != SQLITE_ROW)
        rc = db_fail(iam->db, step, err, "user lookup");
    else if (admin && admins <= 1)
        rc = TARN_ERR_R(err, TARN_ECONFLICT, DeleteConflict,
                        "'%s' is the last admin and cannot be deleted", name);
    if (rc)
        goto done;
    if ((rc = db_prepare(iam->db, &st, "DELETE FROM users WHERE id = ?1", err)))
        goto done;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = step_done(iam, st, err, "delete user")))
        goto done;
    rc = db_exec(iam->db, "COMMIT", err);
    in_txn = rc != 0;
done:
    if (in_txn)
        db_exec(iam->db, "ROLLBACK", NULL);
    if (!rc) {
        cache_clear(iam);
        atomic_fetch_add(&iam->generation, 1);
        if (iam->on_deleted)
            iam->on_deleted(iam->on_deleted_ctx, id);
    }
    return rc;
}

int iam_user_list(iam_t *iam, iam_user_t **out, size_t *n, arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st, USER_COLS " ORDER BY u.name", err);
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
        v[cnt].id = sqlite3_column_int64(st, 0);
        v[cnt].name = arena_strdup(a, (const char *)sqlite3_column_text(st, 1));
        v[cnt].admin = sqlite3_column_int(st, 2);
        v[cnt].created_ms = sqlite3_column_int64(st, 3);
        v[cnt].keys = sqlite3_column_int(st, 4);
        cnt++;
    }
    db_done(iam->db, st);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = v;
    *n = cnt;
    return 0;
}

int iam_key_create(iam_t *iam, const char *user, const char *allow_cidr, char access_key[21],
                   char secret[41], tarn_err_t *err)
{
    if (allow_cidr) {
        net_cidrs_t l;
        int rc = net_cidrs_parse(&l, allow_cidr, "allow_cidr", err);
        if (rc)
            return rc;
        net_cidrs_free(&l);
        if (strlen(allow_cidr) >= sizeof ((cached_key_t *)0)->allow_cidr)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "allow_cidr: at most 255 characters of ranges per key");
    }
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
                         "INSERT INTO access_keys(access_key, user_id, secret_sealed, created_ms,"
                         " allow_cidr) VALUES(?1, ?2, ?3, ?4, ?5)",
                         err)))
        goto done;
    sqlite3_bind_text(st, 1, access_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, u.id);
    sqlite3_bind_text(st, 3, sealed.data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms());
    if (allow_cidr)
        sqlite3_bind_text(st, 5, allow_cidr, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    rc = step_done(iam, st, err, "create key");
done:
    buf_free(&sealed);
    arena_free(a);
    return rc;
}

int iam_key_delete(iam_t *iam, const char *user, const char *access_key, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc =
        db_prepare(iam->db, &st,
                   "DELETE FROM access_keys WHERE user_id = " USER_ID " AND access_key = ?2", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, access_key, -1, SQLITE_STATIC);
    rc = step_done(iam, st, err, "delete key");
    cache_clear(iam);
    if (rc)
        return rc;
    if (sqlite3_changes(db_h(iam->db)) == 0)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity,
                          "the user '%s' has no access key '%s'", user, access_key);
    return 0;
}

int iam_key_set_status(iam_t *iam, const char *user, const char *access_key, const char *status,
                       tarn_err_t *err)
{
    if (strcmp(status, "active") && strcmp(status, "inactive"))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a key's status is \"active\" or \"inactive\" (got \"%s\")", status);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(
        iam->db, &st,
        "UPDATE access_keys SET status = ?3 WHERE user_id = " USER_ID " AND access_key = ?2", err);
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
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity,
                          "the user '%s' has no access key '%s'", user, access_key);
    return 0;
}

int iam_key_rotate(iam_t *iam, const char *user, bool delete_old, char access_key[21],
                   char secret[41], int *retired, tarn_err_t *err)
{
    *retired = 0;
    /* The new key exists before the old ones go: a failure in between leaves the user
     * with one more working key, never with none. */
    int rc = iam_key_create(iam, user, NULL, access_key, secret, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = db_prepare(iam->db, &st,
                    delete_old
                        ? "DELETE FROM access_keys WHERE user_id = " USER_ID " AND access_key <> ?2"
                        : "UPDATE access_keys SET status = 'inactive' WHERE user_id = " USER_ID
                          " AND access_key <> ?2 AND status = 'active'",
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
                         "SELECT access_key, ?2, status, created_ms, last_used_ms, allow_cidr"
                         " FROM access_keys"
                         " WHERE user_id = ?1 ORDER BY created_ms, access_key",
                         err)))
        return rc;
    sqlite3_bind_int64(st, 1, u.id);
    sqlite3_bind_text(st, 2, u.name, -1, SQLITE_STATIC);
    size_t cap = (size_t)u.keys + 1, cnt = 0;
    iam_key_t *v = arena_alloc(a, cap * sizeof *v);
    while (v && cnt < cap && sqlite3_step(st) == SQLITE_ROW) {
        v[cnt].access_key = arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
        v[cnt].user = arena_strdup(a, (const char *)sqlite3_column_text(st, 1));
        v[cnt].status = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
        v[cnt].created_ms = sqlite3_column_int64(st, 3);
        v[cnt].last_used_ms = sqlite3_column_int64(st, 4);
        const char *cidr = (const char *)sqlite3_column_text(st, 5);
        v[cnt].allow_cidr = cidr ? arena_strdup(a, cidr) : NULL;
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
                    const char **allow_cidr, arena_t *a, tarn_err_t *err)
{
    int64_t now = time_now_ms();
    *allow_cidr = NULL;
    cached_key_t *slot = cache_slot(iam, access_key);
    pthread_mutex_lock(&iam->mu);
    if (slot->expires_ms > now && !strcmp(slot->access_key, access_key)) {
        user->name = arena_strdup(a, slot->user);
        user->id = slot->user_id;
        user->admin = slot->admin;
        user->created_ms = 0;
        user->keys = 0;
        int bad = buf_puts(secret, slot->secret);
        if (slot->allow_cidr[0] && !(*allow_cidr = arena_strdup(a, slot->allow_cidr)))
            bad = TARN_ENOMEM;
        pthread_mutex_unlock(&iam->mu);
        if (bad || !user->name)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        return 0;
    }
    /* A lookup that raced with a clear (a key or user deleted meanwhile) must not put
     * what it read back into the cache. */
    uint64_t epoch = iam->cache_epoch;
    pthread_mutex_unlock(&iam->mu);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(iam->db, &st,
                        "SELECT k.secret_sealed, k.last_used_ms, u.name, u.admin, u.created_ms,"
                        " u.id, k.allow_cidr FROM access_keys k JOIN users u ON u.id = k.user_id"
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
        return TARN_ERR_R(err, TARN_ENOTFOUND, InvalidAccessKeyId,
                          "the access key id you provided does not exist in our records");
    }
    int64_t last_used = sqlite3_column_int64(st, 1);
    user->name = arena_strdup(a, (const char *)sqlite3_column_text(st, 2));
    user->admin = sqlite3_column_int(st, 3);
    user->created_ms = sqlite3_column_int64(st, 4);
    user->id = sqlite3_column_int64(st, 5);
    user->keys = 0;
    const char *cidr = (const char *)sqlite3_column_text(st, 6);
    if (cidr && !(*allow_cidr = arena_strdup(a, cidr))) {
        db_done(iam->db, st);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    rc = keyring_unseal(iam->kr, access_key, (const char *)sqlite3_column_text(st, 0), secret, err);
    db_done(iam->db, st);
    if (rc)
        return rc;
    if (strlen(access_key) < sizeof slot->access_key && strlen(user->name) < sizeof slot->user &&
        secret->len < sizeof slot->secret) {
        pthread_mutex_lock(&iam->mu);
        if (iam->cache_epoch == epoch) {
            snprintf(slot->access_key, sizeof slot->access_key, "%s", access_key);
            snprintf(slot->user, sizeof slot->user, "%s", user->name);
            slot->user_id = user->id;
            slot->admin = user->admin;
            snprintf(slot->allow_cidr, sizeof slot->allow_cidr, "%s",
                     *allow_cidr ? *allow_cidr : "");
            memcpy(slot->secret, secret->data, secret->len + 1);
            slot->expires_ms = now + KEY_CACHE_TTL_MS;
        }
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
