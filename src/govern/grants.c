/* Groups, roles, data filters and grants in SQLite, and the in-memory snapshot that checks
 * read; see grants.h. Every change bumps a generation; the next check rebuilds the
 * snapshot from the database, so there is nothing to keep in step by hand. */
#include "govern/grants.h"
#include "util/buf.h"
#include "util/timeutil.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const grants_schema[] = {
    "CREATE TABLE iam_groups(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL)",
    "CREATE TABLE iam_group_members(grp TEXT NOT NULL REFERENCES iam_groups(name)"
    " ON DELETE CASCADE, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    " PRIMARY KEY(grp, user))",
    "CREATE TABLE iam_roles(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL)",
    "CREATE TABLE iam_role_holders(role TEXT NOT NULL REFERENCES iam_roles(name)"
    " ON DELETE CASCADE, holder TEXT NOT NULL, PRIMARY KEY(role, holder))",
    "CREATE TABLE data_filters(tbl TEXT NOT NULL, name TEXT NOT NULL, row_filter TEXT,"
    " columns TEXT, excluded TEXT, created_ms INTEGER NOT NULL, PRIMARY KEY(tbl, name))",
    "CREATE TABLE grants(id INTEGER PRIMARY KEY, principal TEXT NOT NULL,"
    " permission TEXT NOT NULL, resource TEXT NOT NULL, columns TEXT, excluded TEXT,"
    " grant_option INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
    " created_by TEXT NOT NULL, UNIQUE(principal, permission, resource))",
    /* Grants of a principal that is gone go with it. */
    "CREATE TRIGGER grants_user_gone AFTER DELETE ON users BEGIN"
    " DELETE FROM grants WHERE principal = 'user:' || old.name;"
    " DELETE FROM iam_role_holders WHERE holder = 'user:' || old.name; END",
    "CREATE TRIGGER grants_group_gone AFTER DELETE ON iam_groups BEGIN"
    " DELETE FROM grants WHERE principal = 'group:' || old.name;"
    " DELETE FROM iam_role_holders WHERE holder = 'group:' || old.name; END",
    "CREATE TRIGGER grants_role_gone AFTER DELETE ON iam_roles BEGIN"
    " DELETE FROM grants WHERE principal = 'role:' || old.name; END",
    /* Principals by id. Groups and roles get ids that are never reused, like users
     * (iam.c), and memberships, role holdings and grants refer to a principal by kind and
     * id: a name is a label, so what was recorded for a deleted principal cannot apply
     * to a new one that takes its name. Existing rows are mapped from names to the ids;
     * grants keep their ids (audit records name them). Rows naming no principal (none
     * should exist: the triggers removed them) are not carried over. */
    "DROP TRIGGER IF EXISTS grants_user_gone",
    "DROP TRIGGER IF EXISTS grants_group_gone",
    "DROP TRIGGER IF EXISTS grants_role_gone",
    "CREATE TABLE iam_groups_v2(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    " created_ms INTEGER NOT NULL)",
    "INSERT INTO iam_groups_v2(name, created_ms) SELECT name, created_ms FROM iam_groups"
    " ORDER BY created_ms, name",
    "CREATE TABLE iam_roles_v2(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    " created_ms INTEGER NOT NULL)",
    "INSERT INTO iam_roles_v2(name, created_ms) SELECT name, created_ms FROM iam_roles"
    " ORDER BY created_ms, name",
    "CREATE TABLE iam_group_members_v2("
    " group_id INTEGER NOT NULL REFERENCES iam_groups(id) ON DELETE CASCADE,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " PRIMARY KEY(group_id, user_id))",
    "INSERT INTO iam_group_members_v2 SELECT g.id, u.id FROM iam_group_members m"
    " JOIN iam_groups_v2 g ON g.name = m.grp JOIN users u ON u.name = m.user",
    "CREATE TABLE iam_role_holders_v2("
    " role_id INTEGER NOT NULL REFERENCES iam_roles(id) ON DELETE CASCADE,"
    " holder_kind TEXT NOT NULL CHECK(holder_kind IN ('user', 'group')),"
    " holder_id INTEGER NOT NULL, PRIMARY KEY(role_id, holder_kind, holder_id))",
    "INSERT INTO iam_role_holders_v2 SELECT r.id, 'user', u.id FROM iam_role_holders h"
    " JOIN iam_roles_v2 r ON r.name = h.role JOIN users u ON h.holder = 'user:' || u.name"
    " UNION ALL SELECT r.id, 'group', g.id FROM iam_role_holders h"
    " JOIN iam_roles_v2 r ON r.name = h.role JOIN iam_groups_v2 g ON h.holder = 'group:' || g.name",
    "CREATE TABLE grants_v2(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " principal_kind TEXT NOT NULL CHECK(principal_kind IN ('user', 'group', 'role')),"
    " principal_id INTEGER NOT NULL, permission TEXT NOT NULL, resource TEXT NOT NULL,"
    " columns TEXT, excluded TEXT, grant_option INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, created_by TEXT NOT NULL,"
    " UNIQUE(principal_kind, principal_id, permission, resource))",
    "INSERT INTO grants_v2 SELECT g.id, p.kind, p.id, g.permission, g.resource, g.columns,"
    " g.excluded, g.grant_option, g.created_ms, g.created_by FROM grants g JOIN ("
    " SELECT 'user' AS kind, id, name FROM users"
    " UNION ALL SELECT 'group', id, name FROM iam_groups_v2"
    " UNION ALL SELECT 'role', id, name FROM iam_roles_v2) p"
    " ON g.principal = p.kind || ':' || p.name",
    /* New grants number on from the highest id ever recorded, carried over or not. */
    "INSERT INTO sqlite_sequence(name, seq) SELECT 'grants_v2', 0"
    " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'grants_v2')",
    "UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(id), 0) FROM grants))"
    " WHERE name = 'grants_v2'",
    "DROP TABLE grants",
    "DROP TABLE iam_role_holders",
    "DROP TABLE iam_group_members",
    "DROP TABLE iam_roles",
    "DROP TABLE iam_groups",
    "ALTER TABLE iam_groups_v2 RENAME TO iam_groups",
    "ALTER TABLE iam_roles_v2 RENAME TO iam_roles",
    "ALTER TABLE iam_group_members_v2 RENAME TO iam_group_members",
    "ALTER TABLE iam_role_holders_v2 RENAME TO iam_role_holders",
    "ALTER TABLE grants_v2 RENAME TO grants",
    "CREATE INDEX iam_group_members_by_user ON iam_group_members(user_id)",
    "CREATE INDEX iam_role_holders_by_holder ON iam_role_holders(holder_kind, holder_id)",
    "CREATE INDEX grants_by_resource ON grants(resource)",
    /* Whatever names a principal goes in the statement that deletes it (the cascades do
     * the same where foreign keys are enforced). */
    "CREATE TRIGGER principal_user_gone AFTER DELETE ON users BEGIN"
    " DELETE FROM grants WHERE principal_kind = 'user' AND principal_id = old.id;"
    " DELETE FROM iam_group_members WHERE user_id = old.id;"
    " DELETE FROM iam_role_holders WHERE holder_kind = 'user' AND holder_id = old.id; END",
    "CREATE TRIGGER principal_group_gone AFTER DELETE ON iam_groups BEGIN"
    " DELETE FROM grants WHERE principal_kind = 'group' AND principal_id = old.id;"
    " DELETE FROM iam_group_members WHERE group_id = old.id;"
    " DELETE FROM iam_role_holders WHERE holder_kind = 'group' AND holder_id = old.id; END",
    "CREATE TRIGGER principal_role_gone AFTER DELETE ON iam_roles BEGIN"
    " DELETE FROM grants WHERE principal_kind = 'role' AND principal_id = old.id;"
    " DELETE FROM iam_role_holders WHERE role_id = old.id; END",
};

/* Every living principal as (kind, id, name): joined to turn ids back into the names the
 * API shows, and so that nothing of a principal that is gone is ever shown or loaded. */
#define PRINCIPALS_SQL                                                                             \
    "(SELECT 'user' AS kind, id, name FROM users"                                                  \
    " UNION ALL SELECT 'group', id, name FROM iam_groups"                                          \
    " UNION ALL SELECT 'role', id, name FROM iam_roles)"

enum { RES_TABLE, RES_DATABASE, RES_FILTER, RES_LOCATION, RES_IAM };

static const struct {
    const char *name;
    unsigned bit;
    unsigned kinds; /* 1 << RES_* it applies to */
} perms[] = {
    {"SELECT", GRANT_SELECT, 1 << RES_TABLE | 1 << RES_FILTER},
    {"INSERT", GRANT_INSERT, 1 << RES_TABLE},
    {"DESCRIBE", GRANT_DESCRIBE, 1 << RES_TABLE | 1 << RES_DATABASE},
    {"ALTER", GRANT_ALTER, 1 << RES_TABLE | 1 << RES_DATABASE},
    {"DROP", GRANT_DROP, 1 << RES_TABLE | 1 << RES_DATABASE},
    {"CREATE_TABLE", GRANT_CREATE_TABLE, 1 << RES_DATABASE},
    {"READ", GRANT_READ, 1 << RES_LOCATION},
    {"WRITE", GRANT_WRITE, 1 << RES_LOCATION},
    {"ALL", GRANT_ALL,
     1 << RES_TABLE | 1 << RES_DATABASE | 1 << RES_LOCATION | 1 << RES_IAM},
    {"SOURCE", GRANT_SOURCE, 1 << RES_IAM},
};

typedef struct {
    int64_t id;
    char *principal;
    int kind;
    char *name;  /* the resource without its kind; a filter's table */
    unsigned perm;
    bool option;
    json_t *columns, *excluded; /* SELECT's column sets (a filter's, for a filter grant) */
    char *row_filter;           /* a filter grant's predicate, or NULL */
} grant_rec_t;

typedef struct {
    char *member, *of; /* user -> group, or holder -> role */
} pair_t;

typedef struct {
    atomic_int refs;
    uint64_t generation;
    grant_rec_t *grants; /* sorted by principal */
    size_t ngrants;
    pair_t *groups; /* (user, group) sorted by user */
    size_t ngroups;
    pair_t *roles; /* (holder, role) sorted by holder */
    size_t nroles;
} snapshot_t;

struct grants {
    db_t *db;
    pthread_mutex_t mu;
    atomic_uint_fast64_t generation;
    snapshot_t *snap;
};

static void snap_release(snapshot_t *s)
{
    if (!s)
        return;
    int refs = atomic_fetch_sub(&s->refs, 1);
    assert(refs >= 1); /* released once per holder: below zero, a reader has it freed */
    if (refs != 1)
        return;
    for (size_t i = 0; i < s->ngrants; i++) {
        free(s->grants[i].principal);
        free(s->grants[i].name);
        free(s->grants[i].row_filter);
        json_decref(s->grants[i].columns);
        json_decref(s->grants[i].excluded);
    }
    for (size_t i = 0; i < s->ngroups; i++)
        free(s->groups[i].member), free(s->groups[i].of);
    for (size_t i = 0; i < s->nroles; i++)
        free(s->roles[i].member), free(s->roles[i].of);
    free(s->grants);
    free(s->groups);
    free(s->roles);
    free(s);
}

int grants_open(grants_t **out, db_t *db, tarn_err_t *err)
{
    int rc = db_migrate(db, "grants", grants_schema,
                        (int)(sizeof grants_schema / sizeof *grants_schema), err);
    if (rc)
        return rc;
    grants_t *g = calloc(1, sizeof *g);
    if (!g)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    g->db = db;
    pthread_mutex_init(&g->mu, NULL);
    atomic_store(&g->generation, 1);
    *out = g;
    return 0;
}

void grants_close(grants_t *g)
{
    if (!g)
        return;
    snap_release(g->snap);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

uint64_t grants_generation(grants_t *g)
{
    return atomic_load(&g->generation);
}

static void changed(grants_t *g)
{
    atomic_fetch_add(&g->generation, 1);
}

void grants_invalidate(grants_t *g)
{
    changed(g);
}

/* ---- names ---- */

static int check_name(const char *what, const char *name, tarn_err_t *err)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && strchr("_.@-", c));
    }
    return ok ? 0
              : TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                           "%s name '%s' must be 1-64 letters, digits or _ . @ -, starting with "
                           "a letter or digit",
                           what, name);
}

/* Splits "kind:name"; the kind as RES_*, or -1. */
static int resource_kind(const char *resource, const char **name)
{
    static const char *const kinds[] = {"table:", "database:", "filter:", "location:"};
    for (int k = 0; k < 4; k++) {
        size_t n = strlen(kinds[k]);
        if (!strncmp(resource, kinds[k], n)) {
            *name = resource + n;
            return k;
        }
    }
    if (!strcmp(resource, "iam")) {
        *name = "";
        return RES_IAM;
    }
    return -1;
}

static size_t count_dots(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '.';
    return n;
}

/* ---- small statements ---- */

static int exec1(grants_t *g, const char *sql, const char *a, const char *b, int *changes,
                 tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(g->db, &st, sql, err);
    if (rc)
        return rc;
    int64_t now = time_now_ms();
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, now);
    int step = sqlite3_step(st);
    if (changes)
        *changes = sqlite3_changes(sqlite3_db_handle(st));
    db_done(g->db, st);
    if (step == SQLITE_DONE)
        return 0;
    if (step == SQLITE_CONSTRAINT)
        return TARN_ERR_R(err, TARN_EEXISTS, EntityAlreadyExists, "'%s' already exists", a);
    return db_fail(g->db, step, err, "grants");
}

static bool exists(grants_t *g, const char *sql, const char *a)
{
    sqlite3_stmt *st = NULL;
    tarn_err_t e = {0};
    if (db_prepare(g->db, &st, sql, &e))
        return false;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    db_done(g->db, st);
    return found;
}

static int need(grants_t *g, const char *sql, const char *what, const char *name, tarn_err_t *err)
{
    return exists(g, sql, name) ? 0
                                : TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity,
                                             "the %s '%s' does not exist", what, name);
}

#define USER_EXISTS "SELECT 1 FROM users WHERE name = ?1"
#define GROUP_EXISTS "SELECT 1 FROM iam_groups WHERE name = ?1"
#define ROLE_EXISTS "SELECT 1 FROM iam_roles WHERE name = ?1"

/* A principal as the tables record it: its kind ("user", "group", "role") and id. */
typedef struct {
    const char *kind;
    int64_t id;
} principal_ref_t;

/* The living principal named by "user:x", "group:y" (or, with roles_too, "role:z").
 * TARN_EINVAL for another form, TARN_ENOTFOUND when there is no such principal now. */
static int principal_resolve(grants_t *g, const char *principal, bool roles_too,
                             principal_ref_t *out, tarn_err_t *err)
{
    static const struct {
        const char *prefix, *kind, *sql;
    } kinds[] = {
        {"user:", "user", "SELECT id FROM users WHERE name = ?1"},
        {"group:", "group", "SELECT id FROM iam_groups WHERE name = ?1"},
        {"role:", "role", "SELECT id FROM iam_roles WHERE name = ?1"},
    };
    for (size_t k = 0; k < (roles_too ? 3u : 2u); k++) {
        size_t n = strlen(kinds[k].prefix);
        if (strncmp(principal, kinds[k].prefix, n))
            continue;
        sqlite3_stmt *st = NULL;
        int rc = db_prepare(g->db, &st, kinds[k].sql, err);
        if (rc)
            return rc;
        sqlite3_bind_text(st, 1, principal + n, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        out->kind = kinds[k].kind;
        out->id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        db_done(g->db, st);
        if (step == SQLITE_ROW)
            return 0;
        if (step != SQLITE_DONE)
            return db_fail(g->db, step, err, "principal lookup");
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "the %s '%s' does not exist",
                          kinds[k].kind, principal + n);
    }
    return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                      "a principal is user:NAME, group:NAME%s (got '%s')",
                      roles_too ? " or role:NAME" : "", principal);
}

/* Runs sql (no rows) with ?1 = ref's kind, ?2 = ref's id, ?3 = text a, ?4 = text b. */
static int exec_ref(grants_t *g, const char *sql, const principal_ref_t *ref, const char *a,
                    const char *b, int *changes, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(g->db, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, ref->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ref->id);
    sqlite3_bind_text(st, 3, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, b, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (changes)
        *changes = sqlite3_changes(sqlite3_db_handle(st));
    db_done(g->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(g->db, step, err, "grants");
}

/* ---- groups and roles ---- */

int grants_group_create(grants_t *g, const char *name, tarn_err_t *err)
{
    int rc = check_name("group", name, err);
    if (!rc)
        rc = exec1(g, "INSERT INTO iam_groups(name, created_ms) VALUES (?1, ?2)", name, NULL,
                   NULL, err);
    return rc;
}

/* The triggers (grants_schema) remove the group's memberships, role holdings and grants
 * in this same statement. */
int grants_group_delete(grants_t *g, const char *name, tarn_err_t *err)
{
    int n = 0;
    int rc = exec1(g, "DELETE FROM iam_groups WHERE name = ?1", name, NULL, &n, err);
    if (!rc && !n)
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "the group '%s' does not exist", name);
    if (!rc)
        changed(g);
    return rc;
}

int grants_group_add(grants_t *g, const char *group, const char *user, tarn_err_t *err)
{
    int rc = need(g, GROUP_EXISTS, "group", group, err);
    if (!rc)
        rc = need(g, USER_EXISTS, "user", user, err);
    if (!rc)
        rc = exec1(g,
                   "INSERT OR IGNORE INTO iam_group_members(group_id, user_id)"
                   " SELECT g.id, u.id FROM iam_groups g, users u"
                   " WHERE g.name = ?1 AND u.name = ?2",
                   group, user, NULL, err);
    if (!rc)
        changed(g);
    return rc;
}

int grants_group_remove(grants_t *g, const char *group, const char *user, tarn_err_t *err)
{
    int n = 0;
    int rc = exec1(g,
                   "DELETE FROM iam_group_members"
                   " WHERE group_id = (SELECT id FROM iam_groups WHERE name = ?1)"
                   " AND user_id = (SELECT id FROM users WHERE name = ?2)",
                   group, user, &n, err);
    if (!rc && !n)
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "'%s' is not a member of '%s'",
                        user, group);
    if (!rc)
        changed(g);
    return rc;
}

int grants_role_create(grants_t *g, const char *name, tarn_err_t *err)
{
    int rc = check_name("role", name, err);
    if (!rc)
        rc = exec1(g, "INSERT INTO iam_roles(name, created_ms) VALUES (?1, ?2)", name, NULL,
                   NULL, err);
    return rc;
}

/* The triggers remove the role's holdings and grants in this same statement. */
int grants_role_delete(grants_t *g, const char *name, tarn_err_t *err)
{
    int n = 0;
    int rc = exec1(g, "DELETE FROM iam_roles WHERE name = ?1", name, NULL, &n, err);
    if (!rc && !n)
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "the role '%s' does not exist", name);
    if (!rc)
        changed(g);
    return rc;
}

int grants_role_assign(grants_t *g, const char *role, const char *holder, tarn_err_t *err)
{
    principal_ref_t h;
    int rc = need(g, ROLE_EXISTS, "role", role, err);
    if (!rc)
        rc = principal_resolve(g, holder, false, &h, err);
    if (!rc)
        rc = exec_ref(g,
                      "INSERT OR IGNORE INTO iam_role_holders(role_id, holder_kind, holder_id)"
                      " SELECT id, ?1, ?2 FROM iam_roles WHERE name = ?3",
                      &h, role, NULL, NULL, err);
    if (!rc)
        changed(g);
    return rc;
}

int grants_role_unassign(grants_t *g, const char *role, const char *holder, tarn_err_t *err)
{
    principal_ref_t h;
    int n = 0;
    int rc = principal_resolve(g, holder, false, &h, err);
    if (rc == TARN_ENOTFOUND)
        rc = 0; /* then it holds nothing: said below */
    else if (!rc)
        rc = exec_ref(g,
                      "DELETE FROM iam_role_holders WHERE holder_kind = ?1 AND holder_id = ?2"
                      " AND role_id = (SELECT id FROM iam_roles WHERE name = ?3)",
                      &h, role, NULL, &n, err);
    if (!rc && !n)
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "'%s' does not hold the role '%s'",
                        holder, role);
    if (!rc)
        changed(g);
    return rc;
}

/* {key: [{"name", member_key: [...]}]} from rows (name, member-or-NULL) ordered by name. */
static int list_pairs(grants_t *g, const char *sql, const char *key, const char *member_key,
                      json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(g->db, &st, sql, err);
    if (rc)
        return rc;
    json_t *list = json_array(), *cur = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *m = (const char *)sqlite3_column_text(st, 1);
        if (!cur || strcmp(json_string_value(json_object_get(cur, "name")), name)) {
            cur = json_pack("{s:s, s:[]}", "name", name, member_key);
            json_array_append_new(list, cur);
        }
        if (m)
            json_array_append_new(json_object_get(cur, member_key), json_string(m));
    }
    db_done(g->db, st);
    if (step != SQLITE_DONE) {
        json_decref(list);
        return db_fail(g->db, step, err, "listing");
    }
    *out = json_pack("{s:o}", key, list);
    return 0;
}

int grants_groups_list(grants_t *g, json_t **out, tarn_err_t *err)
{
    return list_pairs(g,
                      "SELECT g.name, u.name FROM iam_groups g"
                      " LEFT JOIN iam_group_members m ON m.group_id = g.id"
                      " LEFT JOIN users u ON u.id = m.user_id ORDER BY g.name, u.name",
                      "groups", "members", out, err);
}

int grants_roles_list(grants_t *g, json_t **out, tarn_err_t *err)
{
    return list_pairs(g,
                      "SELECT r.name, p.kind || ':' || p.name AS holder FROM iam_roles r"
                      " LEFT JOIN iam_role_holders h ON h.role_id = r.id"
                      " LEFT JOIN " PRINCIPALS_SQL " p"
                      " ON p.kind = h.holder_kind AND p.id = h.holder_id"
                      " ORDER BY r.name, holder",
                      "roles", "holders", out, err);
}

/* ---- data filters ---- */

static char *dump(const json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* A column list: an array of non-empty strings. */
static int check_columns(const char *what, const json_t *c, tarn_err_t *err)
{
    if (!c)
        return 0;
    size_t i;
    json_t *v;
    if (!json_is_array(c) || !json_array_size(c))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "%s is a list of column names", what);
    json_array_foreach(c, i, v) if (!json_is_string(v) || !json_string_length(v)) return TARN_ERR_R(
        err, TARN_EINVAL, InvalidArgument, "%s is a list of column names", what);
    return 0;
}

int grants_filter_create(grants_t *g, const char *table, const char *name,
                         const char *row_filter, const json_t *columns, const json_t *excluded,
                         tarn_err_t *err)
{
    int rc = check_name("filter", name, err);
    if (rc)
        return rc;
    if (count_dots(table) != 2 || strchr(table, '*'))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a filter is on one table, zone.database.table (got '%s')", table);
    if (strchr(name, '.'))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "a filter's name has no '.'");
    if ((rc = check_columns("columns", columns, err)) ||
        (rc = check_columns("excluded columns", excluded, err)))
        return rc;
    if (columns && excluded)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a filter names the columns it shows or those it hides, not both");
    sqlite3_stmt *st = NULL;
    if ((rc = db_prepare(g->db, &st,
                         "INSERT INTO data_filters(tbl, name, row_filter, columns, excluded,"
                         " created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         err)))
        return rc;
    char *c = dump(columns), *x = dump(excluded);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row_filter && *row_filter ? row_filter : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, x, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, time_now_ms());
    int step = sqlite3_step(st);
    db_done(g->db, st);
    free(c);
    free(x);
    if (step == SQLITE_CONSTRAINT)
        return TARN_ERR_R(err, TARN_EEXISTS, EntityAlreadyExists,
                          "the filter %s.%s already exists", table, name);
    if (step != SQLITE_DONE)
        return db_fail(g->db, step, err, "filter");
    changed(g);
    return 0;
}

int grants_filter_delete(grants_t *g, const char *table, const char *name, tarn_err_t *err)
{
    char res[600];
    snprintf(res, sizeof res, "filter:%s.%s", table, name);
    int n = 0;
    int rc = exec1(g, "DELETE FROM data_filters WHERE tbl = ?1 AND name = ?2", table, name, &n,
                   err);
    if (!rc && !n)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "no filter %s.%s", table, name);
    sqlite3_stmt *st = NULL;
    if (!rc && !(rc = db_prepare(g->db, &st, "DELETE FROM grants WHERE resource = ?1", err))) {
        sqlite3_bind_text(st, 1, res, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        db_done(g->db, st);
        if (step != SQLITE_DONE)
            rc = db_fail(g->db, step, err, "filter grants");
    }
    changed(g);
    return rc;
}

int grants_filters_list(grants_t *g, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(g->db, &st,
                        "SELECT tbl, name, row_filter, columns, excluded FROM data_filters"
                        " ORDER BY tbl, name",
                        err);
    if (rc)
        return rc;
    json_t *list = json_array();
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *f = json_pack("{s:s, s:s}", "table", sqlite3_column_text(st, 0), "name",
                              sqlite3_column_text(st, 1));
        const char *rf = (const char *)sqlite3_column_text(st, 2);
        json_object_set_new(f, "row_filter", rf ? json_string(rf) : json_null());
        for (int k = 0; k < 2; k++) {
            const char *t = (const char *)sqlite3_column_text(st, 3 + k);
            json_object_set_new(f, k ? "excluded" : "columns",
                                t ? json_loads(t, 0, NULL) : json_null());
        }
        json_array_append_new(list, f);
    }
    db_done(g->db, st);
    if (step != SQLITE_DONE) {
        json_decref(list);
        return db_fail(g->db, step, err, "filters");
    }
    *out = json_pack("{s:o}", "filters", list);
    return 0;
}

/* ---- grants ---- */

static int perm_of(const char *name, unsigned *bit, unsigned *kinds)
{
    for (size_t i = 0; i < sizeof perms / sizeof *perms; i++)
        if (!strcasecmp(perms[i].name, name)) {
            *bit = perms[i].bit;
            *kinds = perms[i].kinds;
            return (int)i;
        }
    return -1;
}

unsigned grants_permission_bit(const char *name)
{
    unsigned bit = 0, kinds;
    return perm_of(name, &bit, &kinds) >= 0 ? bit : 0;
}

int grants_grant(grants_t *g, const grant_spec_t *s, const char *by, int64_t *id,
                 tarn_err_t *err)
{
    const char *name;
    int kind = resource_kind(s->resource, &name);
    unsigned bit = 0, kinds = 0;
    int p = perm_of(s->permission, &bit, &kinds);
    principal_ref_t who;
    int rc = principal_resolve(g, s->principal, true, &who, err);
    if (rc)
        return rc;
    if (kind < 0)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a resource is table:ZONE.DB.TABLE, database:ZONE.DB, "
                          "filter:ZONE.DB.TABLE.FILTER, location:BUCKET/PREFIX or iam (got '%s')",
                          s->resource);
    static const size_t dots[] = {[RES_TABLE] = 2, [RES_DATABASE] = 1, [RES_FILTER] = 3};
    if ((kind == RES_TABLE || kind == RES_DATABASE || kind == RES_FILTER) &&
        (count_dots(name) != dots[kind] || strstr(name, "..") || name[0] == '.' ||
         (strchr(name, '*') && (kind != RES_TABLE || strcmp(strrchr(name, '.'), ".*")))))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "'%s' is not a %s name", s->resource,
                          kind == RES_TABLE ? "zone.database.table (or zone.database.*)"
                          : kind == RES_DATABASE ? "zone.database"
                                                 : "zone.database.table.filter");
    if (kind == RES_LOCATION && (!*name || *name == '/'))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a location is BUCKET or BUCKET/PREFIX (got '%s')", name);
    if (p < 0 || !(kinds & (1u << kind)))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "%s cannot be granted on %s", s->permission, s->resource);
    if ((s->columns || s->excluded) && !(bit == GRANT_SELECT && kind == RES_TABLE))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "columns can be named only with SELECT on a table");
    if (s->columns && s->excluded)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "name the columns granted or the columns excluded, not both");
    if ((rc = check_columns("columns", s->columns, err)) ||
        (rc = check_columns("excluded columns", s->excluded, err)))
        return rc;
    if (kind == RES_FILTER) {
        char table[512];
        snprintf(table, sizeof table, "%.*s", (int)(strrchr(name, '.') - name), name);
        sqlite3_stmt *st = NULL;
        if ((rc = db_prepare(g->db, &st,
                             "SELECT 1 FROM data_filters WHERE tbl = ?1 AND name = ?2", err)))
            return rc;
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, strrchr(name, '.') + 1, -1, SQLITE_STATIC);
        bool found = sqlite3_step(st) == SQLITE_ROW;
        db_done(g->db, st);
        if (!found)
            return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchEntity, "no filter %s", name);
    }
    sqlite3_stmt *st = NULL;
    if ((rc = db_prepare(g->db, &st,
                         "INSERT INTO grants(principal_kind, principal_id, permission, resource,"
                         " columns, excluded, grant_option, created_ms, created_by)"
                         " VALUES (?1, ?9, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                         " ON CONFLICT(principal_kind, principal_id, permission, resource)"
                         " DO UPDATE SET columns = excluded.columns, excluded = excluded.excluded,"
                         " grant_option = excluded.grant_option RETURNING id",
                         err)))
        return rc;
    char *c = dump(s->columns), *x = dump(s->excluded);
    sqlite3_bind_text(st, 1, who.kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, who.id);
    sqlite3_bind_text(st, 2, perms[p].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s->resource, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, x, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, s->grant_option);
    sqlite3_bind_int64(st, 7, time_now_ms());
    sqlite3_bind_text(st, 8, by, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && id)
        *id = sqlite3_column_int64(st, 0);
    if (step == SQLITE_ROW)
        step = sqlite3_step(st);
    db_done(g->db, st);
    free(c);
    free(x);
    if (step != SQLITE_DONE)
        return db_fail(g->db, step, err, "grant");
    changed(g);
    return 0;
}

int grants_revoke(grants_t *g, const char *principal, const char *permission,
                  const char *resource, tarn_err_t *err)
{
    unsigned bit = 0, kinds = 0;
    int p = perm_of(permission, &bit, &kinds);
    principal_ref_t who;
    tarn_err_t ignored = {0};
    int n = 0, rc = principal_resolve(g, principal, true, &who, &ignored);
    /* A principal that does not exist (any more) holds nothing: "no such grant". */
    if (!rc && (rc = exec_ref(g,
                              "DELETE FROM grants WHERE principal_kind = ?1 AND principal_id = ?2"
                              " AND permission = ?3 AND resource = ?4",
                              &who, p >= 0 ? perms[p].name : permission, resource, &n, err)))
        return rc;
    if (!n)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchGrant, "%s holds no %s on %s", principal,
                          permission, resource);
    changed(g);
    return 0;
}

int grants_list(grants_t *g, const char *principal, const char *resource, json_t **out,
                tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(g->db, &st,
                        "SELECT g.id, p.kind || ':' || p.name AS principal, g.permission,"
                        " g.resource, g.columns, g.excluded, g.grant_option, g.created_ms,"
                        " g.created_by FROM grants g JOIN " PRINCIPALS_SQL " p"
                        " ON p.kind = g.principal_kind AND p.id = g.principal_id"
                        " WHERE (?1 IS NULL OR principal = ?1) AND (?2 IS NULL OR g.resource = ?2)"
                        " ORDER BY g.resource, principal, g.permission",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, resource, -1, SQLITE_STATIC);
    json_t *list = json_array();
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char when[25];
        time_fmt_iso_ms(when, sqlite3_column_int64(st, 7));
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:s, s:s}", "id",
                              (json_int_t)sqlite3_column_int64(st, 0), "principal",
                              sqlite3_column_text(st, 1), "permission", sqlite3_column_text(st, 2),
                              "resource", sqlite3_column_text(st, 3), "grant_option",
                              sqlite3_column_int(st, 6), "created", when, "created_by",
                              sqlite3_column_text(st, 8));
        for (int k = 0; k < 2; k++) {
            const char *t = (const char *)sqlite3_column_text(st, 4 + k);
            json_object_set_new(o, k ? "excluded" : "columns",
                                t ? json_loads(t, 0, NULL) : json_null());
        }
        json_array_append_new(list, o);
    }
    db_done(g->db, st);
    if (step != SQLITE_DONE) {
        json_decref(list);
        return db_fail(g->db, step, err, "grants");
    }
    *out = json_pack("{s:o}", "grants", list);
    return 0;
}

/* ---- the snapshot ---- */

/* Grants sort by principal, then resource name, so a table's grants are found by search. */
static int cmp_grant(const void *a, const void *b)
{
    const grant_rec_t *x = a, *y = b;
    int c = strcmp(x->principal, y->principal);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const pair_t *)a)->member, ((const pair_t *)b)->member);
}

/* Whether the n elements of size bytes at v are in cmp's order (for asserts). */
__attribute__((unused)) static bool sorted_by(const void *v, size_t n, size_t size,
                                              int (*cmp)(const void *, const void *))
{
    const char *p = v;
    for (size_t i = 1; i < n; i++)
        if (cmp(p + (i - 1) * size, p + i * size) > 0)
            return false;
    return true;
}

static int load_pairs(grants_t *g, const char *sql, pair_t **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    tarn_err_t e = {0};
    if (db_prepare(g->db, &st, sql, &e))
        return -1;
    size_t cap = 0;
    int step, rc = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            pair_t *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                rc = -1;
                break;
            }
            *out = p;
        }
        (*out)[*n].member = strdup((const char *)sqlite3_column_text(st, 0));
        (*out)[*n].of = strdup((const char *)sqlite3_column_text(st, 1));
        (*n)++;
    }
    db_done(g->db, st);
    if (!rc && step != SQLITE_DONE)
        rc = -1;
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_pair);
    assert(rc || sorted_by(*out, *n, sizeof **out, cmp_pair)); /* pair_first searches */
    return rc;
}

static snapshot_t *load(grants_t *g, uint64_t generation)
{
    snapshot_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    atomic_store(&s->refs, 1);
    s->generation = generation;
    sqlite3_stmt *st = NULL;
    tarn_err_t e = {0};
    int rc = db_prepare(g->db, &st,
                        "SELECT g.id, substr(g.principal_kind, 1, 1) || g.principal_id,"
                        " g.permission, g.resource, g.columns, g.excluded, g.grant_option,"
                        " f.row_filter, f.columns, f.excluded FROM grants g"
                        " JOIN " PRINCIPALS_SQL " p"
                        " ON p.kind = g.principal_kind AND p.id = g.principal_id"
                        " LEFT JOIN data_filters f"
                        " ON g.resource = 'filter:' || f.tbl || '.' || f.name",
                        &e);
    size_t cap = 0;
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->ngrants == cap) {
            cap = cap ? cap * 2 : 64;
            grant_rec_t *p = realloc(s->grants, cap * sizeof *p);
            if (!p) {
                rc = -1;
                break;
            }
            s->grants = p;
        }
        grant_rec_t *r = &s->grants[s->ngrants++];
        memset(r, 0, sizeof *r);
        const char *res = (const char *)sqlite3_column_text(st, 3), *name;
        unsigned kinds;
        r->id = sqlite3_column_int64(st, 0);
        r->principal = strdup((const char *)sqlite3_column_text(st, 1));
        int known = perm_of((const char *)sqlite3_column_text(st, 2), &r->perm, &kinds);
        r->kind = resource_kind(res, &name);
        /* grants_grant records only permissions and resources it validated. */
        assert(known >= 0 && r->kind >= 0);
        (void)known;
        r->name = strdup(name);
        if (r->kind == RES_FILTER && strrchr(r->name, '.'))
            *strrchr(r->name, '.') = '\0'; /* the filter's table */
        r->option = sqlite3_column_int(st, 6);
        int base = r->kind == RES_FILTER ? 8 : 4;
        for (int k = 0; k < 2; k++) {
            const char *t = (const char *)sqlite3_column_text(st, base + k);
            json_t *v = t ? json_loads(t, 0, NULL) : NULL;
            if (k)
                r->excluded = v;
            else
                r->columns = v;
        }
        const char *rf = (const char *)sqlite3_column_text(st, 7);
        if (r->kind == RES_FILTER && rf)
            r->row_filter = strdup(rf);
    }
    if (st)
        db_done(g->db, st);
    if (!rc && step != SQLITE_DONE)
        rc = -1;
    if (!rc && s->ngrants)
        qsort(s->grants, s->ngrants, sizeof *s->grants, cmp_grant);
    /* grant_first and grant_find search by principal, then name. */
    assert(rc || sorted_by(s->grants, s->ngrants, sizeof *s->grants, cmp_grant));
    if (!rc)
        rc = load_pairs(g, "SELECT 'u' || user_id, 'g' || group_id FROM iam_group_members",
                        &s->groups, &s->ngroups);
    if (!rc)
        rc = load_pairs(g,
                        "SELECT substr(holder_kind, 1, 1) || holder_id, 'r' || role_id"
                        " FROM iam_role_holders",
                        &s->roles, &s->nroles);
    if (rc) {
        snap_release(s);
        return NULL;
    }
    return s;
}

/* The current snapshot, rebuilt when something changed; caller releases it. */
static snapshot_t *current(grants_t *g)
{
    uint64_t gen = atomic_load(&g->generation);
    pthread_mutex_lock(&g->mu);
    if (!g->snap || g->snap->generation != gen) {
        snapshot_t *s = load(g, gen);
        if (s) {
            snap_release(g->snap);
            g->snap = s;
        }
    }
    snapshot_t *s = g->snap;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    /* Ours and the grants' own: a rebuild may drop the latter, never the former. */
    assert(!s || atomic_load(&s->refs) >= 2);
    pthread_mutex_unlock(&g->mu);
    return s;
}

/* The first index of member in a sorted pair array, or n. */
static size_t pair_first(const pair_t *p, size_t n, const char *member)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(p[mid].member, member) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t grant_first(const snapshot_t *s, const char *principal)
{
    size_t lo = 0, hi = s->ngrants;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->grants[mid].principal, principal) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first grant of principal on resource name (any kind), or s->ngrants. */
static size_t grant_find(const snapshot_t *s, const char *principal, const char *name)
{
    size_t lo = 0, hi = s->ngrants;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const grant_rec_t *g = &s->grants[mid];
        int c = strcmp(g->principal, principal);
        if (c < 0 || (!c && strcmp(g->name, name) < 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

enum { MAX_PRINCIPALS = 256 };

/* Everyone user acts as, by id: the user, its groups, and the roles those hold. The
 * snapshot's keys are a kind letter and an id ("u17", "g3", "r5"): ids are never reused,
 * so nothing of a deleted principal can match anyone living. */
static size_t principals_of(const snapshot_t *s, int64_t user, char out[][80])
{
    size_t n = 0;
    snprintf(out[n++], 80, "u%lld", (long long)user);
    for (size_t i = pair_first(s->groups, s->ngroups, out[0]);
         i < s->ngroups && !strcmp(s->groups[i].member, out[0]) && n < MAX_PRINCIPALS; i++)
        snprintf(out[n++], 80, "%s", s->groups[i].of);
    size_t holders = n;
    for (size_t h = 0; h < holders; h++)
        for (size_t i = pair_first(s->roles, s->nroles, out[h]);
             i < s->nroles && !strcmp(s->roles[i].member, out[h]) && n < MAX_PRINCIPALS; i++)
            snprintf(out[n++], 80, "%s", s->roles[i].of);
    assert(n >= 1 && n <= MAX_PRINCIPALS); /* the user itself, and no more than out holds */
    return n;
}

/* Whether the grant's table name (maybe "zone.db.*") covers table. */
static bool covers_table(const char *grant, const char *table)
{
    size_t n = strlen(grant);
    if (n >= 2 && !strcmp(grant + n - 2, ".*"))
        return !strncmp(grant, table, n - 1) && !strchr(table + n - 1, '.');
    return !strcmp(grant, table);
}

/* Whether location prefix p covers location l ("raw/sales/" covers "raw/sales/x.csv";
 * "raw" covers everything in raw). */
static bool covers_location(const char *p, const char *l)
{
    size_t n = strlen(p);
    if (strncmp(p, l, n))
        return false;
    return p[n - 1] == '/' || l[n] == '\0' || l[n] == '/' || n == strlen(l);
}

static bool matches(const grant_rec_t *r, unsigned perm, int kind, const char *name)
{
    bool perm_ok = (r->perm & perm) || (r->perm & GRANT_ALL);
    switch (kind) {
    case RES_TABLE:
        if (r->kind == RES_TABLE && covers_table(r->name, name)) {
            /* DESCRIBE comes with any permission on the table. */
            return perm_ok || perm == GRANT_DESCRIBE;
        }
        if (r->kind == RES_FILTER && !strcmp(r->name, name))
            return perm == GRANT_DESCRIBE;
        if (r->kind == RES_DATABASE && perm == GRANT_DESCRIBE && (r->perm & (GRANT_DESCRIBE | GRANT_ALL))) {
            size_t n = strlen(r->name);
            return !strncmp(r->name, name, n) && name[n] == '.';
        }
        return false;
    case RES_DATABASE:
        if (r->kind == RES_DATABASE && !strcmp(r->name, name))
            return perm_ok;
        /* DESCRIBE of a database comes with a grant on one of its tables. */
        if (perm == GRANT_DESCRIBE && (r->kind == RES_TABLE || r->kind == RES_FILTER)) {
            size_t n = strlen(name);
            return !strncmp(r->name, name, n) && r->name[n] == '.';
        }
        return false;
    case RES_LOCATION:
        return r->kind == RES_LOCATION && perm_ok && covers_location(r->name, name);
    case RES_IAM:
        return r->kind == RES_IAM;
    default:
        return false;
    }
}

static bool scan_one(const grant_rec_t *r, unsigned perm, int kind, const char *name,
                     bool with_option, int64_t *id)
{
    if ((with_option && !r->option) || !matches(r, perm, kind, name))
        return false;
    if (id)
        *id = r->id;
    return true;
}

bool grants_any_under(grants_t *g, int64_t user, const char *top)
{
    snapshot_t *s = current(g);
    if (!s)
        return false;
    static _Thread_local char ps[MAX_PRINCIPALS][80];
    size_t np = principals_of(s, user, ps);
    size_t n = strlen(top);
    bool found = false;
    for (size_t k = 0; k < np && !found; k++)
        for (size_t i = grant_first(s, ps[k]);
             i < s->ngrants && !strcmp(s->grants[i].principal, ps[k]) && !found; i++) {
            const grant_rec_t *r = &s->grants[i];
            char sep = r->kind == RES_LOCATION ? '/' : '.';
            found = r->kind != RES_IAM && !strncmp(r->name, top, n) &&
                    (r->name[n] == '\0' || r->name[n] == sep);
        }
    snap_release(s);
    return found;
}

bool grants_allows(grants_t *g, int64_t user, unsigned perm, const char *resource, bool with_option,
                   int64_t *id)
{
    const char *name;
    int kind = resource_kind(resource, &name);
    snapshot_t *s = kind >= 0 && user > 0 ? current(g) : NULL;
    if (!s)
        return false;
    static _Thread_local char ps[MAX_PRINCIPALS][80];
    size_t np = principals_of(s, user, ps);
    /* Tables and databases: only grants on a few names can match, found by search (a
     * principal may hold thousands). Locations match by prefix: all of the principal's. */
    char wild[600] = "", db[600] = "", prefix[600] = "";
    const char *dot = strrchr(name, '.');
    if (kind == RES_TABLE && dot) {
        snprintf(wild, sizeof wild, "%.*s.*", (int)(dot - name), name);
        snprintf(db, sizeof db, "%.*s", (int)(dot - name), name);
    } else if (kind == RES_DATABASE) {
        snprintf(prefix, sizeof prefix, "%s.", name);
    }
    const char *exact[] = {name, wild, db};
    bool ok = false;
    for (size_t k = 0; k < np && !ok; k++) {
        if (kind != RES_TABLE && kind != RES_DATABASE) {
            for (size_t i = grant_first(s, ps[k]);
                 i < s->ngrants && !strcmp(s->grants[i].principal, ps[k]) && !ok; i++)
                ok = scan_one(&s->grants[i], perm, kind, name, with_option, id);
            continue;
        }
        for (int e = 0; e < 3 && !ok; e++) {
            if (!*exact[e] || (kind == RES_DATABASE && e))
                continue;
            for (size_t i = grant_find(s, ps[k], exact[e]);
                 i < s->ngrants && !strcmp(s->grants[i].principal, ps[k]) &&
                 !strcmp(s->grants[i].name, exact[e]) && !ok;
                 i++)
                ok = scan_one(&s->grants[i], perm, kind, name, with_option, id);
        }
        /* a database is described through any grant on one of its tables */
        size_t n = strlen(prefix);
        for (size_t i = *prefix ? grant_find(s, ps[k], prefix) : s->ngrants;
             i < s->ngrants && !strcmp(s->grants[i].principal, ps[k]) &&
             !strncmp(s->grants[i].name, prefix, n) && !ok;
             i++)
            ok = scan_one(&s->grants[i], perm, kind, name, with_option, id);
    }
    snap_release(s);
    return ok;
}

static void add_all(json_t *set, const json_t *names)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) json_object_set(set, json_string_value(v), json_true());
}

int grants_table_access(grants_t *g, int64_t user, const char *table, grants_access_t *out,
                        tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (user <= 0)
        return 0; /* no user: nothing granted */
    snapshot_t *s = current(g);
    if (!s)
        return TARN_ERR(err, TARN_EIO, "cannot read the grants");
    static _Thread_local char ps[MAX_PRINCIPALS][80];
    size_t np = principals_of(s, user, ps);
    /* Union of what each grant shows: columns named anywhere, all but the columns hidden
     * by every exclusion, all columns if one grant has no restriction; rows of any filter,
     * all rows if one grant has none. */
    json_t *named = json_object(), *hidden = NULL;
    bool every_row = false;
    buf_t rows = BUF_INIT;
    /* Only two names can hold grants on the table: itself (tables and its filters) and
     * its database's wildcard. */
    char wild[600];
    const char *dot = strrchr(table, '.');
    snprintf(wild, sizeof wild, "%.*s.*", dot ? (int)(dot - table) : 0, table);
    const char *names[] = {table, wild};
    for (size_t k = 0; k < np; k++)
        for (int w = 0; w < 2; w++)
        for (size_t i = grant_find(s, ps[k], names[w]);
             i < s->ngrants && !strcmp(s->grants[i].principal, ps[k]) &&
             !strcmp(s->grants[i].name, names[w]);
             i++) {
            const grant_rec_t *r = &s->grants[i];
            bool sel = (r->perm & (GRANT_SELECT | GRANT_ALL)) != 0;
            if (!sel || !((r->kind == RES_TABLE && covers_table(r->name, table)) ||
                          (r->kind == RES_FILTER && !strcmp(r->name, table))))
                continue;
            out->allowed = true;
            out->grant_id = out->grant_id ? out->grant_id : r->id;
            if (!r->columns && !r->excluded) {
                out->all_columns = true;
            } else if (r->columns) {
                add_all(named, r->columns);
            } else if (!hidden) {
                hidden = json_object();
                add_all(hidden, r->excluded);
            } else { /* hidden by every exclusion: the intersection */
                json_t *keep = json_object();
                size_t j;
                json_t *v;
                json_array_foreach(r->excluded, j, v) if (json_object_get(
                    hidden, json_string_value(v))) json_object_set(keep, json_string_value(v),
                                                                    json_true());
                json_decref(hidden);
                hidden = keep;
            }
            if (!r->row_filter) {
                every_row = true;
            } else {
                buf_printf(&rows, "%s(%s)", rows.len ? " OR " : "", r->row_filter);
            }
        }
    snap_release(s);
    if (out->allowed && !out->all_columns) {
        const char *k;
        json_t *v;
        if (hidden) {
            json_object_foreach(named, k, v) json_object_del(hidden, k);
            out->excluded = json_array();
            json_object_foreach(hidden, k, v) json_array_append_new(out->excluded, json_string(k));
            if (!json_array_size(out->excluded))
                out->all_columns = true;
        } else {
            out->columns = json_array();
            json_object_foreach(named, k, v) json_array_append_new(out->columns, json_string(k));
        }
    }
    json_decref(named);
    json_decref(hidden);
    if (out->allowed && !every_row && rows.data)
        out->row_filter = buf_steal(&rows);
    buf_free(&rows);
    return 0;
}

bool grants_access_shows(const grants_access_t *a, const char *name)
{
    if (a->all_columns)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(a->columns ? a->columns : a->excluded, i, v)
    {
        if (!strcasecmp(json_string_value(v), name))
            return a->columns != NULL;
    }
    return a->columns == NULL;
}

void grants_access_free(grants_access_t *a)
{
    json_decref(a->columns);
    json_decref(a->excluded);
    free(a->row_filter);
    memset(a, 0, sizeof *a);
}
