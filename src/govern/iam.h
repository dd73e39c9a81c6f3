/* Identities: users and their access keys, kept in the lake's catalog database. Secret
 * keys are sealed under the keyring's master key (bound to their access key id); the
 * password is kept only as a slow salted hash and a SCRAM-SHA-256 verifier. */
#ifndef TARN_GOVERN_IAM_H
#define TARN_GOVERN_IAM_H

#include "govern/keyring.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/db.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct iam iam_t;

typedef struct {
    int64_t id; /* never reused: a user deleted and created again gets a new one */
    const char *name;
    bool admin;
    int64_t created_ms;
    int keys;
} iam_user_t;

typedef struct {
    const char *access_key;
    const char *user;
    const char *status; /* "active" or "inactive" */
    int64_t created_ms;
    int64_t last_used_ms; /* 0 if never */
    const char *allow_cidr; /* the addresses it may sign from ("10.1.0.0/16"), or NULL: any */
} iam_key_t;

/* Borrows db and kr for the life of the iam_t. */
int iam_open(iam_t **out, db_t *db, const keyring_t *kr, tarn_err_t *err);
void iam_close(iam_t *iam);

/* Valid user names: 1-64 of [A-Za-z0-9_.@-], starting with a letter or digit. */
int iam_check_user_name(const char *name, tarn_err_t *err);
/* Creates a user with password (NULL = none); TARN_EEXISTS when taken. */
int iam_user_create(iam_t *iam, const char *name, bool admin, const char *password,
                    tarn_err_t *err);
/* Deletes the user and, in the same transaction, everything that refers to it: its keys,
 * and (grants.h) its grants, group memberships and role holdings. Then empties the key
 * cache, bumps iam_generation and calls the on_user_deleted hook. The last admin cannot
 * be deleted. */
int iam_user_delete(iam_t *iam, const char *name, tarn_err_t *err);
int iam_user_get(iam_t *iam, const char *name, iam_user_t *out, arena_t *a, tarn_err_t *err);
/* The living user with this id; TARN_ENOTFOUND once it was deleted (even if another user
 * has its name since). */
int iam_user_get_by_id(iam_t *iam, int64_t id, iam_user_t *out, arena_t *a, tarn_err_t *err);
/* A number that changes whenever a user is deleted: holders of a user's id (a PostgreSQL
 * connection) check it before each statement and look the id up again when it moved. */
uint64_t iam_generation(iam_t *iam);
/* Called after each committed user deletion with the user's id (e.g. to rebuild what was
 * derived from grants); set once at start-up, before any deletion. */
typedef void (*iam_deleted_fn)(void *ctx, int64_t user_id);
void iam_on_user_deleted(iam_t *iam, iam_deleted_fn fn, void *ctx);
/* For the PostgreSQL protocol's SCRAM: the user and its SCRAM-SHA-256 verifier, appended to
 * verifier (nothing appended when the user has no password). TARN_ENOTFOUND when no such
 * user. */
int iam_user_scram(iam_t *iam, const char *name, iam_user_t *out, buf_t *verifier, arena_t *a,
                   tarn_err_t *err);
int iam_user_list(iam_t *iam, iam_user_t **out, size_t *n, arena_t *a, tarn_err_t *err);

/* Creates an access key for user; writes the new id and secret (shown once). allow_cidr
 * (NULL: any address) limits the client addresses requests signed with it may come from
 * ("10.1.0.0/16,fd00::/8"); TARN_EINVAL when it is not a list of ranges. */
int iam_key_create(iam_t *iam, const char *user, const char *allow_cidr, char access_key[21],
                   char secret[41], tarn_err_t *err);
/* Deletes a key of user; TARN_ENOTFOUND when user has no such key. */
int iam_key_delete(iam_t *iam, const char *user, const char *access_key, tarn_err_t *err);
/* Sets a key of user to "active" or "inactive"; an inactive key is refused at once
 * (InvalidAccessKeyId). TARN_ENOTFOUND when user has no such key, TARN_EINVAL for another
 * status. */
int iam_key_set_status(iam_t *iam, const char *user, const char *access_key, const char *status,
                       tarn_err_t *err);
/* Creates a new key for user (written as by iam_key_create, for any address), then
 * deactivates every other
 * active key of user, or deletes every other key when delete_old; *retired counts them. */
int iam_key_rotate(iam_t *iam, const char *user, bool delete_old, char access_key[21],
                   char secret[41], int *retired, tarn_err_t *err);
int iam_key_list(iam_t *iam, const char *user, iam_key_t **out, size_t *n, arena_t *a,
                 tarn_err_t *err);
/* For authentication: the user owning an active key and its secret (into secret, which
 * the caller wipes and frees), and the key's address ranges into *allow_cidr (in a; NULL:
 * any address). TARN_ENOTFOUND reason InvalidAccessKeyId otherwise. Records last-used
 * time (at most once a minute per key). */
int iam_key_resolve(iam_t *iam, const char *access_key, iam_user_t *user, buf_t *secret,
                    const char **allow_cidr, arena_t *a, tarn_err_t *err);

#endif
