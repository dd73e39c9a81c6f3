/* Metrics tokens in the catalog; see metrics_token.h. Tokens are 256 random bits, so a
 * single SHA-256 (no salt, no stretching) is enough to keep them from a copy of the data
 * folder, and lets a presented token be found by its hash. */
#include "govern/metrics_token.h"

#include "util/hash.h"
#include "util/timeutil.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const schema[] = {
    "CREATE TABLE metrics_tokens(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE,"
    " created_ms INTEGER NOT NULL)",
};

int metrics_token_open(db_t *db, tarn_err_t *err)
{
    return db_migrate(db, "metrics_tokens", schema, (int)(sizeof schema / sizeof *schema), err);
}

static void token_hash(const char *token, char hex[65])
{
    uint8_t sha[32];
    hash_sha256(sha, token, strlen(token));
    hash_hex(hex, sha, 32);
}

static bool plain_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

int metrics_token_create(db_t *db, const char *name, char token[METRICS_TOKEN_LEN + 1],
                         tarn_err_t *err)
{
    if (!plain_name(name))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a metrics token's name is 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'");
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return TARN_ERR(err, TARN_EIO, "no randomness for a new token");
    memcpy(token, "tmt_", 4);
    hash_hex(token + 4, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    char hex[65];
    token_hash(token, hex);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st,
                        "INSERT INTO metrics_tokens(name, sha256, created_ms) VALUES(?1, ?2, ?3)",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time_now_ms());
    int step = sqlite3_step(st);
    db_done(db, st);
    if (step == SQLITE_CONSTRAINT)
        rc = TARN_ERR_R(err, TARN_EEXISTS, InvalidArgument,
                        "a metrics token called %s exists: delete it first, or pick another "
                        "name (--name)", name);
    else if (step != SQLITE_DONE)
        rc = db_fail(db, step, err, "create the metrics token");
    /* Shown to the caller only once it is on disk. */
    if (!rc)
        rc = db_sync(db, err);
    if (rc)
        OPENSSL_cleanse(token, METRICS_TOKEN_LEN + 1);
    return rc;
}

int metrics_token_delete(db_t *db, const char *name, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st, "DELETE FROM metrics_tokens WHERE name = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int changed = sqlite3_changes(sqlite3_db_handle(st));
    db_done(db, st);
    if (step != SQLITE_DONE)
        return db_fail(db, step, err, "delete the metrics token");
    if (!changed)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "no metrics token called %s", name);
    return db_sync(db, err);
}

int metrics_token_list(db_t *db, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st, "SELECT name, created_ms FROM metrics_tokens ORDER BY name", err);
    if (rc)
        return rc;
    json_t *a = json_array();
    int step;
    while (a && (step = sqlite3_step(st)) == SQLITE_ROW) {
        char when[25];
        time_fmt_iso_ms(when, sqlite3_column_int64(st, 1));
        json_array_append_new(a, json_pack("{s:s, s:s}", "name",
                                           (const char *)sqlite3_column_text(st, 0), "created",
                                           when));
    }
    db_done(db, st);
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (step != SQLITE_DONE) {
        json_decref(a);
        return db_fail(db, step, err, "list the metrics tokens");
    }
    *out = a;
    return 0;
}

int metrics_token_check(db_t *db, const char *token, char name[65], tarn_err_t *err)
{
    char hex[65];
    token_hash(token, hex);
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st, "SELECT name, sha256 FROM metrics_tokens WHERE sha256 = ?1", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    bool found = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        /* The lookup compares hashes of the secret; compared once more in constant time. */
        const char *stored = (const char *)sqlite3_column_text(st, 1);
        found = stored && strlen(stored) == 64 && !CRYPTO_memcmp(stored, hex, 64);
        if (found)
            snprintf(name, 65, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    db_done(db, st);
    if (!found)
        return TARN_ERR_R(err, TARN_EDENIED, InvalidToken,
                          "the bearer token is not a current metrics token (tarn metrics token "
                          "list shows them; create one with tarn metrics token create)");
    return 0;
}
