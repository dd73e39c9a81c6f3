/* What the PostgreSQL edge must understand of SQL text before the engine sees it:
 * splitting a simple Query into statements (read by PostgreSQL's own scanner, pglex.h), telling session commands (BEGIN, SET, SHOW, COPY ... TO STDOUT, ...) from
 * queries, and reading their arguments. Queries themselves go to the session untouched. */
#ifndef TARN_CONSUME_PGWIRE_PGSQL_H
#define TARN_CONSUME_PGWIRE_PGSQL_H

#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PGSQL_EMPTY,      /* only blanks and comments */
    PGSQL_QUERY,      /* anything for the session (SELECT, WITH, EXPLAIN, ...) */
    PGSQL_BEGIN,      /* BEGIN, START TRANSACTION */
    PGSQL_COMMIT,     /* COMMIT, END */
    PGSQL_ROLLBACK,   /* ROLLBACK, ABORT */
    PGSQL_SET,        /* SET ... */
    PGSQL_RESET,      /* RESET name | ALL */
    PGSQL_SHOW,       /* SHOW name (SHOW TABLES is a query) */
    PGSQL_COPY,       /* COPY ... */
    PGSQL_DISCARD,    /* DISCARD ALL | PLANS | ... */
    PGSQL_DEALLOCATE, /* DEALLOCATE [PREPARE] name | ALL */
    PGSQL_SAVEPOINT,  /* SAVEPOINT / RELEASE */
    PGSQL_DECLARE,    /* DECLARE name CURSOR FOR query */
    PGSQL_FETCH,      /* FETCH [FORWARD] [n | ALL] [FROM] name */
    PGSQL_CLOSE,      /* CLOSE name | ALL */
    PGSQL_GRANT,      /* GRANT / REVOKE (the lake's grants) */
} pgsql_kind_t;

/* One statement of a simple Query: its text, without its ';'. */
typedef struct {
    const char *sql;
    size_t len;
} pgsql_stmt_t;

/* Splits sql at its semicolons (not those in quotes, dollar quotes or comments, as
 * PostgreSQL's scanner reads it): *out (caller frees) gets *n statements, empty ones too
 * (blanks and comments only), each pointing into sql. TARN_ENOMEM only. */
int pgsql_split(const char *sql, pgsql_stmt_t **out, size_t *n, tarn_err_t *err);

pgsql_kind_t pgsql_classify(const char *stmt, size_t len);

/* SET [SESSION|LOCAL] name {TO|=} value, SET TIME ZONE value, RESET name: the parameter's
 * name (lowercase) and value (quotes removed; "DEFAULT" for DEFAULT; NULL for RESET),
 * both in arena a. SET TRANSACTION / SESSION CHARACTERISTICS give name "transaction".
 * TARN_EINVAL (reason "SyntaxError") when it does not parse. */
int pgsql_parse_set(const char *stmt, size_t len, const char **name, const char **value, arena_t *a,
                    tarn_err_t *err);
/* SHOW name: the name, lowercase ("all" for SHOW ALL). */
int pgsql_parse_show(const char *stmt, size_t len, const char **name, arena_t *a, tarn_err_t *err);

typedef struct {
    const char *query; /* the SELECT to run: the inner query, or SELECT * FROM table */
    bool csv;
    bool header;
    char delimiter;
    const char *null; /* NULL's spelling: "\\N" in text, "" in CSV */
} pgsql_copy_t;

/* COPY (query) TO STDOUT [WITH] [(options)] and COPY table [(cols)] TO STDOUT, with
 * FORMAT text|csv, HEADER, DELIMITER, NULL (new and old option spellings). COPY FROM,
 * COPY to a file or program and binary COPY are refused: TARN_EINVAL with reason
 * "NotReadOnly", "InsufficientPrivilege" or "FeatureNotSupported". */
int pgsql_parse_copy(const char *stmt, size_t len, pgsql_copy_t *out, arena_t *a, tarn_err_t *err);

/* DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR query: the cursor's name
 * and its query (arena a). SCROLL and WITH HOLD are refused (reason FeatureNotSupported). */
int pgsql_parse_declare(const char *stmt, size_t len, const char **name, const char **query,
                        bool *binary, arena_t *a, tarn_err_t *err);
/* FETCH [NEXT | FORWARD [n | ALL] | n | ALL] [FROM | IN] name: *count is -1 for ALL. */
int pgsql_parse_fetch(const char *stmt, size_t len, const char **name, long *count, arena_t *a,
                      tarn_err_t *err);
/* CLOSE name | ALL: *name is NULL for ALL. */
int pgsql_parse_close(const char *stmt, size_t len, const char **name, arena_t *a, tarn_err_t *err);

/* The highest $n the statement uses (0 for none), outside quotes and comments. */
int pgsql_count_params(const char *stmt, size_t len);

/* The PostgreSQL types stmt casts its parameters to where they appear ($1::int4[],
 * $2::json, $3::double precision): oids[k - 1] for $k, 0 where $k is not cast or its
 * type is not one pgtype.h knows (the first cast of a parameter counts). */
void pgsql_param_casts(const char *stmt, size_t len, uint32_t *oids, int n);

#endif
