/* What the PostgreSQL catalogs of a query session are made of: the relations (with
 * PostgreSQL's names, oids and columns), the functions clients call, and the facts about
 * each type pg_type lists. Private to pgcatalog.c and pgdialect.c. */
#ifndef TARN_CONSUME_PGWIRE_PGCATALOG_DEFS_H
#define TARN_CONSUME_PGWIRE_PGCATALOG_DEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The session's own tables the relations are views over (in temp.main): the lake's
 * schemas, relations and columns as the session's principal sees them, rebuilt when the
 * catalog changes, and the types and settings, filled once. */
#define PGCAT_NS "\"tarn_pg.ns\""
#define PGCAT_REL "\"tarn_pg.rel\""
#define PGCAT_ATT "\"tarn_pg.att\""
#define PGCAT_TYPE "\"tarn_pg.type\""
/* PostgreSQL's "char": an engine ENUM of single characters (created by pgcatalog_open). */
#define PGCAT_CHAR "tarn_pg_char"
#define PGCAT_SETTINGS "\"tarn_pg.settings\""

/* Oids: PostgreSQL's for its own schemas and relations; a lake table is 16384 + its
 * catalog id, a lake database PGCAT_NS_BASE + its catalog id (both stable, never reused). */
enum {
    PGCAT_OID_PG_CATALOG = 11,
    PGCAT_OID_INFORMATION_SCHEMA = 13207,
    PGCAT_OID_USER = 10, /* the one role: the session's user */
    PGCAT_OID_DATABASE = 16384,
    PGCAT_TABLE_BASE = 16384,
};
#define PGCAT_NS_BASE 1000000000LL

typedef struct {
    const char *schema, *name; /* "pg_catalog" or "information_schema", "pg_class" */
    uint32_t oid;
    char kind;           /* 'r' (a catalog table) or 'v' (a view), as pg_class shows it */
    bool lake;           /* reads the lake's tables: brought up to date per statement */
    const char *columns; /* "name TYPE, ..." in the engine's types */
    const char *body;    /* a SELECT of the columns in order; NULL: no rows */
} pgcat_rel_t;

extern const pgcat_rel_t pgcat_rels[];
extern const size_t pgcat_nrels;

/* A function as a TEMP MACRO: def is "(params) AS body" (overloads separated by ", "), in
 * which @DB@, @USER@, @VERSION@ and @PID@ stand for the session's values. */
typedef struct {
    const char *name;
    const char *reads; /* the pg_catalog relation it reads (NULL: none), built before use */
    const char *def;
} pgcat_fn_t;

extern const pgcat_fn_t pgcat_fns[];
extern const size_t pgcat_nfns;

/* What pg_type says of a type beyond pgtype.h's oid, name and length. */
typedef struct {
    uint32_t oid, array; /* array: the oid of its array type */
    char category, align, storage;
    bool byval, preferred;
    uint32_t collation;
    const char *input; /* typinput's name; output, receive and send follow from it */
} pgcat_type_t;

extern const pgcat_type_t pgcat_types[];
extern const size_t pgcat_ntypes;

/* The settings current_setting() and pg_settings show: {name, setting, unit, category,
 * short description, vartype}. */
extern const char *const pgcat_settings[][6];
extern const size_t pgcat_nsettings;

#endif
