/* Unit tests of PostgreSQL's dialect and catalogs in query sessions: the queries psql
 * (\dt, \dt+, \dn, \d, \d+, \l, \dv), pgJDBC's DatabaseMetaData and psycopg2 users send,
 * exactly as those clients send them, run against a real lake (catalog, engine, sessions)
 * for an admin and for a user denied a table; the sandbox's walls still stand; ~ searches
 * as PostgreSQL's does; the catalogs follow the lake from one statement to the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "consume/pgwire/pgcatalog_defs.h"
#include "consume/session.h"
#include "session_rows.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "util/buf.h"
#include "util/db.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char dir[64];
    db_t *db;
    catalog_t *cat;
    engine_t *e;
    session_t *admin, *user, *rest;
    iam_t *iam;
    grants_t *grants;
} fixture_t;

static const authz_principal_t admin = {.name = "admin", .admin = true};
/* alice may read the sales tables, not raw.hr. */
static authz_principal_t alice = {.name = "alice"};

static void create_table(catalog_t *cat, const char *zone, const char *db, const char *name,
                         const char *spec)
{
    tarn_err_t err = {0};
    json_error_t je;
    json_t *s = json_loads(spec, 0, &je), *out = NULL;
    if (!s)
        fail_msg("bad spec %s: %s", spec, je.text);
    if (catalog_table_create(cat, zone, db, name, s, "admin", &out, &err))
        fail_msg("cannot create %s.%s.%s: %s", zone, db, name, err.msg);
    json_decref(s);
    json_decref(out);
}

static void describe(catalog_t *cat, const char *zone, const char *db, const char *name,
                     const char *patch)
{
    tarn_err_t err = {0};
    json_t *p = json_loads(patch, 0, NULL), *out = NULL;
    if (!p || catalog_table_update(cat, zone, db, name, p, &out, &err))
        fail_msg("cannot describe %s.%s.%s: %s", zone, db, name, err.msg);
    json_decref(p);
    json_decref(out);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    char path[128];
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-pgcatalog-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(path, sizeof path, "%s/tarn.db", f->dir);
    const char *dirs[] = {f->dir, NULL};
    if (db_open(&f->db, path, &err) || catalog_open(&f->cat, f->db, &err) ||
        engine_open(&f->e, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err))
        return -1;
    create_table(f->cat, "curated", "sales", "orders",
                 "{\"format\": \"parquet\", \"schema\": \"id INTEGER, amount DECIMAL(10,2), "
                 "note VARCHAR, ts TIMESTAMP\", \"partition_keys\": \"region VARCHAR\", "
                 "\"description\": \"All orders\"}");
    describe(f->cat, "curated", "sales", "orders",
             "{\"columns\": {\"amount\": {\"description\": \"Amount in EUR, it's net\"}}}");
    create_table(f->cat, "raw", "sales", "orders",
                 "{\"format\": \"csv\", \"schema\": \"id BIGINT, amount DOUBLE, note VARCHAR\"}");
    create_table(f->cat, "raw", "hr", "salaries",
                 "{\"format\": \"csv\", \"schema\": \"name VARCHAR, salary DECIMAL(12,2)\"}");
    if (iam_open(&f->iam, f->db, NULL, &err) || grants_open(&f->grants, f->db, &err) ||
        iam_user_create(f->iam, "alice", false, NULL, &err))
        return -1;
    const char *tables[] = {"table:curated.sales.orders", "table:raw.sales.orders",
                            "table:curated.crm.*"};
    for (int i = 0; i < 3; i++)
        if (grants_grant(f->grants,
                         &(grant_spec_t){.principal = "user:alice", .permission = "SELECT",
                                         .resource = tables[i]},
                         "admin", NULL, &err))
            return -1;
    alice.grants = f->grants;
    if (!(alice.id = session_user_id(f->iam, "alice")))
        return -1;
    if (session_open(&f->admin, f->e, f->cat, f->dir, &admin, &err) ||
        session_enable_pg(f->admin, "lake", "admin", &err) ||
        session_open(&f->user, f->e, f->cat, f->dir, &alice, &err) ||
        session_enable_pg(f->user, "lake", "alice", &err) ||
        session_open(&f->rest, f->e, f->cat, f->dir, &admin, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    session_close(f->admin);
    session_close(f->user);
    session_close(f->rest);
    engine_close(f->e);
    grants_close(f->grants);
    iam_close(f->iam);
    catalog_close(f->cat);
    db_close(f->db);
    fs_remove_tree(f->dir);
    free(f);
    return 0;
}

static char *query(session_t *s, const char *sql, tarn_err_t *err)
{
    return session_rows_text(s, sql, ROWENC_PG, err);
}

/* The rows of sql, which must run. */
static char *rows(session_t *s, const char *sql)
{
    tarn_err_t err;
    char *out = query(s, sql, &err);
    if (!out)
        fail_msg("%s\nfailed: %s", sql, err.msg);
    return out;
}

static void expect_rows(session_t *s, const char *sql, const char *want)
{
    char *got = rows(s, sql);
    if (strcmp(got, want))
        fail_msg("%s\ngave:\n%s\nwanted:\n%s", sql, got, want);
    free(got);
}

static void expect_error(session_t *s, const char *sql, int code, const char *needle)
{
    tarn_err_t err;
    char *out = query(s, sql, &err);
    if (out)
        fail_msg("%s\nran, giving:\n%s", sql, out);
    if ((code && err.code != code) || !strstr(err.msg, needle))
        fail_msg("%s\nfailed with %d '%s', wanted %d '%s'", sql, err.code, err.msg, code, needle);
}

/* ---- what psql sends (psql -E, PostgreSQL 15) ---- */

#define PSQL_DT_SELECT                                                                             \
    "SELECT n.nspname as \"Schema\",\n"                                                            \
    "  c.relname as \"Name\",\n"                                                                   \
    "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized "     \
    "view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' "   \
    "THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' "    \
    "END as \"Type\",\n"                                                                           \
    "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
#define PSQL_DT_WHERE                                                                              \
    "      AND n.nspname <> 'pg_catalog'\n"                                                        \
    "      AND n.nspname !~ '^pg_toast'\n"                                                         \
    "      AND n.nspname <> 'information_schema'\n"                                                \
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"                                                \
    "ORDER BY 1,2;"

static const char *const psql_dt =
    PSQL_DT_SELECT "FROM pg_catalog.pg_class c\n"
                   "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
                   "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
                   "WHERE c.relkind IN ('r','p','')\n" PSQL_DT_WHERE;

static const char *const psql_dt_plus = PSQL_DT_SELECT
    ",\n"
    "  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN "
    "'unlogged' END as \"Persistence\",\n"
    "  am.amname as \"Access method\",\n"
    "  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as \"Size\",\n"
    "  pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\"\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
    "WHERE c.relkind IN ('r','p','')\n" PSQL_DT_WHERE;

static const char *const psql_dv =
    PSQL_DT_SELECT "FROM pg_catalog.pg_class c\n"
                   "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
                   "WHERE c.relkind IN ('v','')\n" PSQL_DT_WHERE;

static const char *const psql_dn =
    "SELECT n.nspname AS \"Name\",\n"
    "  pg_catalog.pg_get_userbyid(n.nspowner) AS \"Owner\"\n"
    "FROM pg_catalog.pg_namespace n\n"
    "WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'\n"
    "ORDER BY 1;";

static const char *const psql_l =
    "SELECT d.datname as \"Name\",\n"
    "       pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",\n"
    "       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",\n"
    "       d.datcollate as \"Collate\",\n"
    "       d.datctype as \"Ctype\",\n"
    "       d.daticulocale as \"ICU Locale\",\n"
    "       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Locale "
    "Provider\",\n"
    "       pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"\n"
    "FROM pg_catalog.pg_database d\n"
    "ORDER BY 1;";

/* \d TABLE's first query: the relation's oid from its (regular expression) name. */
static const char *const psql_d_find =
    "SELECT c.oid,\n"
    "  n.nspname,\n"
    "  c.relname\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default\n"
    "  AND n.nspname OPERATOR(pg_catalog.~) '^(sales)$' COLLATE pg_catalog.default\n"
    "ORDER BY 2, 3;";

static const char *const psql_d_find_unqualified =
    "SELECT c.oid,\n"
    "  n.nspname,\n"
    "  c.relname\n"
    "FROM pg_catalog.pg_class c\n"
    "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default\n"
    "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
    "ORDER BY 2, 3;";

/* The queries \d and \d+ send for the table found, with its oid as %1$s. */
static const char *const psql_d_table =
    "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, "
    "c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', "
    "c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE "
    "c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, "
    "am.amname\n"
    "FROM pg_catalog.pg_class c\n"
    " LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\n"
    "LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)\n"
    "WHERE c.oid = '%1$s';";

static const char *const psql_d_plus_table =
    "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, "
    "c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, "
    "pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from "
    "pg_catalog.unnest(tc.reloptions) x), ', ')\n"
    ", c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE "
    "c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, "
    "am.amname\n"
    "FROM pg_catalog.pg_class c\n"
    " LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\n"
    "LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)\n"
    "WHERE c.oid = '%1$s';";

static const char *const psql_d_columns =
    "SELECT a.attname,\n"
    "  pg_catalog.format_type(a.atttypid, a.atttypmod),\n"
    "  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n"
    "   FROM pg_catalog.pg_attrdef d\n"
    "   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n"
    "  a.attnotnull,\n"
    "  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n"
    "   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> "
    "t.typcollation) AS attcollation,\n"
    "  a.attidentity,\n"
    "  a.attgenerated\n"
    "FROM pg_catalog.pg_attribute a\n"
    "WHERE a.attrelid = '%1$s' AND a.attnum > 0 AND NOT a.attisdropped\n"
    "ORDER BY a.attnum;";

static const char *const psql_d_plus_columns =
    "SELECT a.attname,\n"
    "  pg_catalog.format_type(a.atttypid, a.atttypmod),\n"
    "  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n"
    "   FROM pg_catalog.pg_attrdef d\n"
    "   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n"
    "  a.attnotnull,\n"
    "  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n"
    "   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> "
    "t.typcollation) AS attcollation,\n"
    "  a.attidentity,\n"
    "  a.attgenerated,\n"
    "  a.attstorage,\n"
    "  a.attcompression AS attcompression,\n"
    "  CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END AS attstattarget,\n"
    "  pg_catalog.col_description(a.attrelid, a.attnum)\n"
    "FROM pg_catalog.pg_attribute a\n"
    "WHERE a.attrelid = '%1$s' AND a.attnum > 0 AND NOT a.attisdropped\n"
    "ORDER BY a.attnum;";

static const char *const psql_d_policies =
    "SELECT pol.polname, pol.polpermissive,\n"
    "  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE "
    "pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any "
    "(pol.polroles) order by 1),',') END,\n"
    "  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n"
    "  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n"
    "  CASE pol.polcmd\n"
    "    WHEN 'r' THEN 'SELECT'\n"
    "    WHEN 'a' THEN 'INSERT'\n"
    "    WHEN 'w' THEN 'UPDATE'\n"
    "    WHEN 'd' THEN 'DELETE'\n"
    "    END AS cmd\n"
    "FROM pg_catalog.pg_policy pol\n"
    "WHERE pol.polrelid = '%1$s' ORDER BY 1;";

static const char *const psql_d_statistics =
    "SELECT oid, stxrelid::pg_catalog.regclass, "
    "stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,\n"
    "pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,\n"
    "  'd' = any(stxkind) AS ndist_enabled,\n"
    "  'f' = any(stxkind) AS deps_enabled,\n"
    "  'm' = any(stxkind) AS mcv_enabled,\n"
    "stxstattarget\n"
    "FROM pg_catalog.pg_statistic_ext\n"
    "WHERE stxrelid = '%1$s'\n"
    "ORDER BY nsp, stxname;";

static const char *const psql_d_publications =
    "SELECT pubname\n"
    "     , NULL\n"
    "     , NULL\n"
    "FROM pg_catalog.pg_publication p\n"
    "     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid\n"
    "     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid\n"
    "WHERE pc.oid ='%1$s' and pg_catalog.pg_relation_is_publishable('%1$s')\n"
    "UNION\n"
    "SELECT pubname\n"
    "     , pg_get_expr(pr.prqual, c.oid)\n"
    "     , (CASE WHEN pr.prattrs IS NOT NULL THEN\n"
    "         (SELECT string_agg(attname, ', ')\n"
    "           FROM pg_catalog.generate_series(0, "
    "pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,\n"
    "                pg_catalog.pg_attribute\n"
    "          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])\n"
    "        ELSE NULL END) FROM pg_catalog.pg_publication p\n"
    "     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid\n"
    "     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid\n"
    "WHERE pr.prrelid = '%1$s'\n"
    "UNION\n"
    "SELECT pubname\n"
    "     , NULL\n"
    "     , NULL\n"
    "FROM pg_catalog.pg_publication p\n"
    "WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('%1$s')\n"
    "ORDER BY 1;";

static const char *const psql_d_inherits = "SELECT c.oid::pg_catalog.regclass\n"
                                           "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n"
                                           "WHERE c.oid = i.inhparent AND i.inhrelid = '%1$s'\n"
                                           "  AND c.relkind != 'p' AND c.relkind != 'I'\n"
                                           "ORDER BY inhseqno;";

static const char *const psql_d_partitions =
    "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, "
    "pg_catalog.pg_get_expr(c.relpartbound, c.oid)\n"
    "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n"
    "WHERE c.oid = i.inhrelid AND i.inhparent = '%1$s'\n"
    "ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', "
    "c.oid::pg_catalog.regclass::pg_catalog.text;";

/* ---- what pgJDBC 42.5 sends for DatabaseMetaData ---- */

static const char *const jdbc_get_tables =
    "SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,  CASE "
    "n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN "
    "n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN "
    "'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   "
    "ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM "
    "TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind  "
    " WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN "
    "'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   "
    "ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN "
    "'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' "
    "THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE' "
    " WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS TABLE_TYPE, "
    "d.description AS REMARKS,  '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS "
    "SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION  FROM pg_catalog.pg_namespace n, "
    "pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND "
    "d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND "
    "c.relname LIKE '%' AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname "
    "<> 'information_schema' ) )  ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME ";

static const char *const jdbc_get_columns =
    "SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype "
    "= 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER "
    "(PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as "
    "attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, "
    "def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace "
    "n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a "
    "ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN "
    "pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN "
    "pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN "
    "pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN "
    "pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE "
    "c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname "
    "LIKE 'sales' AND c.relname LIKE 'orders') c WHERE true  AND attname LIKE '%' ORDER BY "
    "nspname,c.relname,attnum ";

static const char *const jdbc_get_schemas =
    "SELECT nspname AS TABLE_SCHEM, NULL AS TABLE_CATALOG FROM pg_catalog.pg_namespace  WHERE "
    "nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = "
    "(pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = "
    "replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "
    "TABLE_SCHEM";

static const char *const jdbc_get_primary_keys =
    "SELECT        result.TABLE_CAT,        result.TABLE_SCHEM,        result.TABLE_NAME,   "
    "     result.COLUMN_NAME,        result.KEY_SEQ,        result.PK_NAME FROM      (SELECT"
    " NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS"
    " COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname"
    " AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS"
    " A_ATTNUM FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid ="
    " a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN"
    " pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON"
    " (ci.oid = i.indexrelid) WHERE true  AND n.nspname = 'sales' AND ct.relname = 'orders'"
    " AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY"
    " result.table_name, result.pk_name, result.key_seq";

static const char *const jdbc_get_index_info =
    "SELECT     tmp.TABLE_CAT,     tmp.TABLE_SCHEM,     tmp.TABLE_NAME,     tmp.NON_UNIQUE, "
    "    tmp.INDEX_QUALIFIER,     tmp.INDEX_NAME,     tmp.TYPE,     tmp.ORDINAL_POSITION,   "
    "  trim(both '\"' from pg_catalog.pg_get_indexdef(tmp.CI_OID, tmp.ORDINAL_POSITION,"
    " false)) AS COLUMN_NAME,   CASE tmp.AM_NAME     WHEN 'btree' THEN CASE"
    " tmp.I_INDOPTION[tmp.ORDINAL_POSITION - 1] & 1::smallint       WHEN 1 THEN 'D'      "
    " ELSE 'A'     END     ELSE NULL   END AS ASC_OR_DESC,     tmp.CARDINALITY,    "
    " tmp.PAGES,     tmp.FILTER_CONDITION FROM (SELECT NULL AS TABLE_CAT, n.nspname AS"
    " TABLE_SCHEM,   ct.relname AS TABLE_NAME, NOT i.indisunique AS NON_UNIQUE,   NULL AS"
    " INDEX_QUALIFIER, ci.relname AS INDEX_NAME,   CASE i.indisclustered     WHEN true THEN"
    " 1    ELSE CASE am.amname       WHEN 'hash' THEN 2      ELSE 3    END   END AS TYPE,  "
    " (information_schema._pg_expandarray(i.indkey)).n AS ORDINAL_POSITION,   ci.reltuples"
    " AS CARDINALITY,   ci.relpages AS PAGES,   pg_catalog.pg_get_expr(i.indpred,"
    " i.indrelid) AS FILTER_CONDITION,   ci.oid AS CI_OID,   i.indoption AS I_INDOPTION,  "
    " am.amname AS AM_NAME FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_namespace n ON"
    " (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON (ct.oid = i.indrelid)   JOIN"
    " pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)   JOIN pg_catalog.pg_am am ON"
    " (ci.relam = am.oid) WHERE true  AND n.nspname = 'sales' AND ct.relname = 'orders') AS"
    " tmp ORDER BY NON_UNIQUE, TYPE, INDEX_NAME, ORDINAL_POSITION ";

/* ---- what Python users send (psycopg2, SQLAlchemy) to list tables and columns ---- */

static const char *const py_tables =
    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN "
    "('pg_catalog', 'information_schema') ORDER BY 1, 2";
static const char *const py_columns =
    "SELECT column_name, data_type, is_nullable, ordinal_position, numeric_precision, "
    "numeric_scale, character_maximum_length FROM information_schema.columns WHERE "
    "table_schema = 'sales' AND table_name = 'orders' ORDER BY ordinal_position";
/* SQLAlchemy's has_table, which names columns with their relation's schema. */
static const char *const py_has_table =
    "SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace "
    "ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE "
    "pg_catalog.pg_class.relname = 'orders' AND pg_catalog.pg_class.relkind = ANY (ARRAY['r', "
    "'p', 'f', 'v', 'm']) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND "
    "pg_catalog.pg_namespace.nspname != 'pg_catalog'";
static const char *const py_schemata =
    "SELECT schema_name FROM information_schema.schemata ORDER BY 1";

/* More of psql's commands: \du, \di, \ds, \dT, \df, \dx, \dm, \dE, \d and \dt of a
 * zone's schema, \l+, \dp, \db; with what they list. */
static const struct {
    const char *command, *sql, *want;
} psql_more[] = {
    {"\\du",
     "SELECT r.rolname, r.rolsuper, r.rolinherit,\n"
     "  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,\n"
     "  r.rolconnlimit, r.rolvaliduntil,\n"
     "  ARRAY(SELECT b.rolname\n"
     "        FROM pg_catalog.pg_auth_members m\n"
     "        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)\n"
     "        WHERE m.member = r.oid) as memberof\n"
     ", r.rolreplication\n"
     ", r.rolbypassrls\n"
     "FROM pg_catalog.pg_roles r\n"
     "WHERE r.rolname !~ '^pg_'\n"
     "ORDER BY 1;",
     "alice|f|t|f|f|t|-1|-|[]|f|f\n"},
    {"\\di",
     "SELECT n.nspname as \"Schema\",\n"
     "  c.relname as \"Name\",\n"
     "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized"
     " view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN"
     " 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned"
     " index' END as \"Type\",\n"
     "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\",\n"
     "  c2.relname as \"Table\"\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
     "     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid\n"
     "     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid\n"
     "WHERE c.relkind IN ('i','I','')\n"
     "      AND n.nspname <> 'pg_catalog'\n"
     "      AND n.nspname !~ '^pg_toast'\n"
     "      AND n.nspname <> 'information_schema'\n"
     "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
     "ORDER BY 1,2;",
     ""},
    {"\\ds",
     "SELECT n.nspname as \"Schema\",\n"
     "  c.relname as \"Name\",\n"
     "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized"
     " view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN"
     " 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned"
     " index' END as \"Type\",\n"
     "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "WHERE c.relkind IN ('S','')\n"
     "      AND n.nspname <> 'pg_catalog'\n"
     "      AND n.nspname !~ '^pg_toast'\n"
     "      AND n.nspname <> 'information_schema'\n"
     "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
     "ORDER BY 1,2;",
     ""},
    {"\\dT",
     "SELECT n.nspname as \"Schema\",\n"
     "  pg_catalog.format_type(t.oid, NULL) AS \"Name\",\n"
     "  pg_catalog.obj_description(t.oid, 'pg_type') as \"Description\"\n"
     "FROM pg_catalog.pg_type t\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n"
     "WHERE (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid"
     " = t.typrelid))\n"
     "  AND NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND"
     " el.typarray = t.oid)\n"
     "      AND n.nspname <> 'pg_catalog'\n"
     "      AND n.nspname <> 'information_schema'\n"
     "  AND pg_catalog.pg_type_is_visible(t.oid)\n"
     "ORDER BY 1, 2;",
     ""},
    {"\\df",
     "SELECT n.nspname as \"Schema\",\n"
     "  p.proname as \"Name\",\n"
     "  pg_catalog.pg_get_function_result(p.oid) as \"Result data type\",\n"
     "  pg_catalog.pg_get_function_arguments(p.oid) as \"Argument data types\",\n"
     " CASE p.prokind\n"
     "  WHEN 'a' THEN 'agg'\n"
     "  WHEN 'w' THEN 'window'\n"
     "  WHEN 'p' THEN 'proc'\n"
     "  ELSE 'func'\n"
     " END as \"Type\"\n"
     "FROM pg_catalog.pg_proc p\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n"
     "WHERE pg_catalog.pg_function_is_visible(p.oid)\n"
     "      AND n.nspname <> 'pg_catalog'\n"
     "      AND n.nspname <> 'information_schema'\n"
     "ORDER BY 1, 2, 4;",
     ""},
    {"\\dx",
     "SELECT e.extname AS \"Name\", e.extversion AS \"Version\", n.nspname AS \"Schema\","
     " c.description AS \"Description\"\n"
     "FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid ="
     " e.extnamespace LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND"
     " c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass\n"
     "ORDER BY 1;",
     ""},
    {"\\dm",
     "SELECT n.nspname as \"Schema\",\n"
     "  c.relname as \"Name\",\n"
     "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized"
     " view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN"
     " 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned"
     " index' END as \"Type\",\n"
     "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
     "WHERE c.relkind IN ('m','')\n"
     "      AND n.nspname <> 'pg_catalog'\n"
     "      AND n.nspname !~ '^pg_toast'\n"
     "      AND n.nspname <> 'information_schema'\n"
     "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
     "ORDER BY 1,2;",
     ""},
    {"\\dE",
     "SELECT n.nspname as \"Schema\",\n"
     "  c.relname as \"Name\",\n"
     "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized"
     " view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN"
     " 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned"
     " index' END as \"Type\",\n"
     "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "WHERE c.relkind IN ('f','')\n"
     "      AND n.nspname <> 'pg_catalog'\n"
     "      AND n.nspname !~ '^pg_toast'\n"
     "      AND n.nspname <> 'information_schema'\n"
     "  AND pg_catalog.pg_table_is_visible(c.oid)\n"
     "ORDER BY 1,2;",
     ""},
    {"\\d \"raw.sales\".orders",
     "SELECT c.oid,\n"
     "  n.nspname,\n"
     "  c.relname\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default\n"
     "  AND n.nspname OPERATOR(pg_catalog.~) E'^(raw\\\\.sales)$' COLLATE pg_catalog.default\n"
     "ORDER BY 2, 3;",
     "16386|raw.sales|orders\n"},
    {"\\dt \"raw.sales\".*",
     "SELECT n.nspname as \"Schema\",\n"
     "  c.relname as \"Name\",\n"
     "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized"
     " view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN"
     " 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned"
     " index' END as \"Type\",\n"
     "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n"
     "WHERE c.relkind IN ('r','p','t','s','')\n"
     "  AND n.nspname OPERATOR(pg_catalog.~) E'^(raw\\\\.sales)$' COLLATE pg_catalog.default\n"
     "ORDER BY 1,2;",
     "raw.sales|orders|table|alice\n"},
    {"\\l+",
     "SELECT d.datname as \"Name\",\n"
     "       pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",\n"
     "       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",\n"
     "       d.datcollate as \"Collate\",\n"
     "       d.datctype as \"Ctype\",\n"
     "       d.daticulocale as \"ICU Locale\",\n"
     "       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Locale"
     " Provider\",\n"
     "       pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\",\n"
     "       CASE WHEN pg_catalog.has_database_privilege(d.datname, 'CONNECT')\n"
     "            THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.datname))\n"
     "            ELSE 'No Access'\n"
     "       END as \"Size\",\n"
     "       t.spcname as \"Tablespace\",\n"
     "       pg_catalog.shobj_description(d.oid, 'pg_database') as \"Description\"\n"
     "FROM pg_catalog.pg_database d\n"
     "  JOIN pg_catalog.pg_tablespace t on d.dattablespace = t.oid\n"
     "ORDER BY 1;",
     "lake|alice|UTF8|C|C|-|libc|-|0 bytes|pg_default|-\n"},
    {"\\dp",
     "SELECT n.nspname as \"Schema\",\n"
     "  c.relname as \"Name\",\n"
     "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized"
     " view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN"
     " 'partitioned table' END as \"Type\",\n"
     "  pg_catalog.array_to_string(c.relacl, E'\\n') AS \"Access privileges\",\n"
     "  pg_catalog.array_to_string(ARRAY(\n"
     "    SELECT attname || E':\\n  ' || pg_catalog.array_to_string(attacl, E'\\n  ')\n"
     "    FROM pg_catalog.pg_attribute a\n"
     "    WHERE attrelid = c.oid AND NOT attisdropped AND attacl IS NOT NULL\n"
     "  ), E'\\n') AS \"Column privileges\",\n"
     "  pg_catalog.array_to_string(ARRAY(\n"
     "    SELECT polname\n"
     "    || CASE WHEN NOT polpermissive THEN\n"
     "       E' (RESTRICTIVE)'\n"
     "       ELSE '' END\n"
     "    || CASE WHEN polcmd != '*' THEN\n"
     "           E' (' || polcmd::pg_catalog.text || E'):'\n"
     "       ELSE E':'\n"
     "       END\n"
     "    || CASE WHEN polqual IS NOT NULL THEN\n"
     "           E'\\n  (u): ' || pg_catalog.pg_get_expr(polqual, polrelid)\n"
     "       ELSE E''\n"
     "       END\n"
     "    || CASE WHEN polwithcheck IS NOT NULL THEN\n"
     "           E'\\n  (c): ' || pg_catalog.pg_get_expr(polwithcheck, polrelid)\n"
     "       ELSE E''\n"
     "       END    || CASE WHEN polroles <> '{0}' THEN\n"
     "           E'\\n  to: ' || pg_catalog.array_to_string(\n"
     "               ARRAY(\n"
     "                   SELECT rolname\n"
     "                   FROM pg_catalog.pg_roles\n"
     "                   WHERE oid = ANY (polroles)\n"
     "                   ORDER BY 1\n"
     "               ), E', ')\n"
     "       ELSE E''\n"
     "       END\n"
     "    FROM pg_catalog.pg_policy pol\n"
     "    WHERE polrelid = c.oid), E'\\n')\n"
     "    AS \"Policies\"\n"
     "FROM pg_catalog.pg_class c\n"
     "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
     "WHERE c.relkind IN ('r','v','m','S','f','p')\n"
     "  AND n.nspname !~ '^pg_' AND pg_catalog.pg_table_is_visible(c.oid)\n"
     "ORDER BY 1, 2;",
     "raw.sales|orders|table|-|-|-\nsales|orders|table|-|-|-\n"},
    {"\\db",
     "SELECT spcname AS \"Name\",\n"
     "  pg_catalog.pg_get_userbyid(spcowner) AS \"Owner\",\n"
     "  pg_catalog.pg_tablespace_location(oid) AS \"Location\"\n"
     "FROM pg_catalog.pg_tablespace\n"
     "ORDER BY 1;",
     "pg_default|alice|\npg_global|alice|\n"},
};

/* Runs a query given with %1$s for the oid. */
static char *rows_for(session_t *s, const char *fmt, const char *oid)
{
    char sql[8192];
    snprintf(sql, sizeof sql, fmt, oid);
    return rows(s, sql);
}

static void expect_rows_for(session_t *s, const char *fmt, const char *oid, const char *want)
{
    char *got = rows_for(s, fmt, oid);
    if (strcmp(got, want))
        fail_msg("%s\ngave:\n%s\nwanted:\n%s", fmt, got, want);
    free(got);
}

/* The oid \d finds for sales.orders (caller frees). */
static char *orders_oid(session_t *s)
{
    char *found = rows(s, psql_d_find);
    char *bar = strchr(found, '|');
    if (!bar || strcmp(bar, "|sales|orders\n"))
        fail_msg("\\d sales.orders found:\n%s", found);
    *bar = '\0';
    return found;
}

static void test_psql_lists(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->admin, psql_dt,
                "raw.hr|salaries|table|admin\nraw.sales|orders|table|admin\n"
                "sales|orders|table|admin\n");
    expect_rows(f->user, psql_dt, "raw.sales|orders|table|alice\nsales|orders|table|alice\n");
    expect_rows(f->admin, psql_dt_plus,
                "raw.hr|salaries|table|admin|permanent|heap|0 bytes|-\n"
                "raw.sales|orders|table|admin|permanent|heap|0 bytes|-\n"
                "sales|orders|table|admin|permanent|heap|0 bytes|All orders\n");
    expect_rows(f->admin, psql_dn, "raw.hr|admin\nraw.sales|admin\nsales|admin\n");
    expect_rows(f->user, psql_dn, "raw.sales|alice\nsales|alice\n");
    expect_rows(f->admin, psql_dv, "");
    expect_rows(f->user, psql_l, "lake|alice|UTF8|C|C|-|libc|-\n");
}

static void test_psql_describe(void **state)
{
    fixture_t *f = *state;
    char *oid = orders_oid(f->admin);
    expect_rows_for(f->admin, psql_d_table, oid, "0|r|f|f|f|f|f|f|f||0||p|d|heap\n");
    expect_rows_for(f->admin, psql_d_plus_table, oid, "0|r|f|f|f|f|f|f|f|-|0||p|d|heap\n");
    expect_rows_for(f->admin, psql_d_columns, oid,
                    "id|integer|-|f|-||\n"
                    "amount|numeric(10,2)|-|f|-||\n"
                    "note|text|-|f|-||\n"
                    "ts|timestamp without time zone|-|f|-||\n"
                    "region|text|-|f|-||\n");
    expect_rows_for(f->admin, psql_d_plus_columns, oid,
                    "id|integer|-|f|-|||p||-|-\n"
                    "amount|numeric(10,2)|-|f|-|||m||-|Amount in EUR, it's net\n"
                    "note|text|-|f|-|||x||-|-\n"
                    "ts|timestamp without time zone|-|f|-|||p||-|-\n"
                    "region|text|-|f|-|||x||-|-\n");
    const char *const empty[] = {psql_d_policies, psql_d_statistics, psql_d_publications,
                                 psql_d_inherits, psql_d_partitions};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++)
        expect_rows_for(f->admin, empty[i], oid, "");
    /* Every session gives the table the same oid. */
    char *again = orders_oid(f->user);
    assert_string_equal(oid, again);
    free(again);
    free(oid);
    /* \d orders finds it in every schema (every schema is on the search path). */
    char *both = rows(f->admin, psql_d_find_unqualified);
    char *bar = strchr(both, '|');
    assert_non_null(bar);
    assert_non_null(strstr(bar, "|raw.sales|orders\n"));
    assert_non_null(strstr(bar, "|sales|orders\n"));
    free(both);
}

static void test_jdbc_metadata(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->user, jdbc_get_tables,
                "-|raw.sales|orders|TABLE|-|||||\n-|sales|orders|TABLE|All orders|||||\n");
    char *cols = rows(f->admin, jdbc_get_columns);
    /* nspname, relname, attname, atttypid, attnotnull, atttypmod, attlen, typtypmod,
     * attnum, attidentity, attgenerated, adsrc, description, typbasetype, typtype */
    assert_string_equal(cols, "sales|orders|id|23|f|-1|4|-1|1|-|-|-|-|0|b\n"
                              "sales|orders|amount|1700|f|655366|-1|-1|2|-|-|-|Amount in EUR, "
                              "it's net|0|b\n"
                              "sales|orders|note|25|f|-1|-1|-1|3|-|-|-|-|0|b\n"
                              "sales|orders|ts|1114|f|-1|8|-1|4|-|-|-|-|0|b\n"
                              "sales|orders|region|25|f|-1|-1|-1|5|-|-|-|-|0|b\n");
    free(cols);
    /* Tables have no keys or indexes: these only have to run. */
    expect_rows(f->user, jdbc_get_primary_keys, "");
    expect_rows(f->user, jdbc_get_index_info, "");
    expect_rows(f->user, jdbc_get_schemas,
                "information_schema|-\npg_catalog|-\nraw.sales|-\nsales|-\n");
}

static void test_psycopg_information_schema(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->user, py_tables, "raw.sales|orders\nsales|orders\n");
    expect_rows(f->admin, py_columns,
                "id|integer|YES|1|32|0|-\n"
                "amount|numeric|YES|2|10|2|-\n"
                "note|text|YES|3|-|-|-\n"
                "ts|timestamp without time zone|YES|4|-|-|-\n"
                "region|text|YES|5|-|-|-\n");
    expect_rows(f->user, py_schemata, "information_schema\npg_catalog\nraw.sales\nsales\n");
    expect_rows(f->user, py_has_table, "orders\norders\n");
}

static void test_psql_more_commands(void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < sizeof psql_more / sizeof *psql_more; i++) {
        char *got = rows(f->user, psql_more[i].sql);
        if (strcmp(got, psql_more[i].want))
            fail_msg("%s gave:\n%s\nwanted:\n%s", psql_more[i].command, got, psql_more[i].want);
        free(got);
    }
}

/* A table the principal may not read is nowhere in its catalogs. */
static void test_denied_table_is_hidden(void **state)
{
    fixture_t *f = *state;
    const char *const none[] = {
        "SELECT relname FROM pg_class WHERE relname = 'salaries'",
        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname LIKE '%hr%'",
        "SELECT attname FROM pg_attribute WHERE attname = 'salary'",
        "SELECT column_name FROM information_schema.columns WHERE column_name = 'salary'",
        "SELECT table_name FROM information_schema.tables WHERE table_name = 'salaries'",
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'raw.hr'",
        "SELECT tablename FROM pg_tables WHERE tablename = 'salaries'",
        "SELECT relname FROM pg_stat_user_tables WHERE relname = 'salaries'",
        "SELECT x FROM (SELECT '\"raw.hr\".salaries'::regclass AS x) WHERE x IS NOT NULL",
    };
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        expect_rows(f->user, none[i], "");
    expect_rows(f->admin, "SELECT tablename FROM pg_tables WHERE schemaname = 'raw.hr'",
                "salaries\n");
    expect_error(f->user, "SELECT * FROM \"raw.hr\".salaries", TARN_EDENIED, "raw.hr.salaries");
}

static void test_lake_tables_by_schema(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->admin, "SELECT count(*) FROM \"raw.sales\".orders", "0\n");
    expect_rows(f->admin, "SELECT count(*) FROM sales.orders", "0\n");
    expect_rows(f->admin, "SELECT count(*) FROM \"curated.sales\".orders", "0\n");
    expect_rows(f->admin, "SELECT region FROM raw.sales.orders r JOIN sales.orders USING (id)", "");
    expect_error(f->admin, "SELECT * FROM \"nozone.sales\".orders", TARN_EDENIED, "orders");
    /* The REST session (DuckDB's dialect) has none of this. */
    expect_error(f->rest, "SELECT * FROM pg_catalog.pg_class", TARN_EDENIED, "pg_class");
    expect_error(f->rest, "SELECT * FROM information_schema.tables", TARN_EDENIED, "tables");
}

static void test_unknown_catalog_relation(void **state)
{
    fixture_t *f = *state;
    expect_error(f->admin, "SELECT * FROM pg_catalog.pg_nothing", TARN_ENOTFOUND,
                 "pg_catalog.pg_nothing");
    expect_error(f->admin, "SELECT * FROM information_schema.routines", TARN_ENOTFOUND,
                 "information_schema.routines");
    /* An unqualified unknown name is a lake name: refused as any unknown table is. */
    expect_error(f->admin, "SELECT * FROM pg_nothing", TARN_EDENIED, "pg_nothing");
}

/* Every relation can be read and has the columns it declares. */
static void test_every_relation(void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < pgcat_nrels; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM %s.%s", pgcat_rels[i].schema, pgcat_rels[i].name);
        json_t *cols = NULL;
        rowenc_t *st = NULL;
        tarn_err_t err = {0};
        if (session_query(f->user, sql, NULL, ROWENC_PG, &cols, &st, &err))
            fail_msg("%s: %s", sql, err.msg);
        size_t want = 1;
        for (const char *p = pgcat_rels[i].columns; *p; p++)
            want += *p == ',';
        if (json_array_size(cols) != want)
            fail_msg("%s has %zu columns, declares %zu", sql, json_array_size(cols), want);
        rowenc_close(st);
        json_decref(cols);
    }
    expect_rows(f->user, "SELECT count(*) > 40 FROM pg_class WHERE relnamespace = 11", "t\n");
    expect_rows(f->user,
                "SELECT typname, typlen, typcategory, typarray FROM pg_type WHERE oid IN (23, "
                "1007, 1700) ORDER BY oid",
                "int4|4|N|1007\n_int4|-1|A|0\nnumeric|-1|N|1231\n");
    expect_rows(f->user, "SELECT setting FROM pg_settings WHERE name = 'server_version_num'",
                "150000\n");
}

static void test_functions(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->user,
                "SELECT current_database(), current_user, session_user, user, "
                "pg_catalog.current_schemas(true)::text, current_schema() IS NULL",
                "lake|alice|alice|alice|[pg_catalog]|t\n");
    expect_rows(f->user, "SELECT substr(version(), 1, 16), pg_backend_pid() > 0",
                "PostgreSQL 15.0 |t\n");
    expect_rows(f->user,
                "SELECT current_setting('server_version'), "
                "pg_catalog.current_setting('server_version_num'), "
                "current_setting('standard_conforming_strings'), current_setting('DateStyle'), "
                "current_setting('TimeZone'), current_setting('client_encoding'), "
                "current_setting('max_identifier_length'), "
                "current_setting('default_transaction_read_only')",
                "15.0|150000|on|ISO, MDY|UTC|UTF8|63|on\n");
    expect_rows(f->user,
                "SELECT format_type(23, -1), pg_catalog.format_type(1700, 655366), "
                "format_type(1043, 36), format_type(1184, NULL), format_type(1009, -1), "
                "format_type(701, -1), format_type(16, NULL), format_type(99999, -1)",
                "integer|numeric(10,2)|character varying(32)|timestamp with time zone|text[]|"
                "double precision|boolean|???\n");
    expect_rows(f->user,
                "SELECT pg_size_pretty(10239), pg_size_pretty(10240), "
                "pg_catalog.pg_size_pretty(1000000), pg_size_pretty(123456789012), "
                "pg_size_pretty(NULL::bigint)",
                "10239 bytes|10 kB|977 kB|115 GB|-\n");
    expect_rows(f->user,
                "SELECT quote_ident('orders'), quote_ident('Orders'), quote_ident('select'), "
                "quote_ident('a\"b')",
                "orders|\"Orders\"|\"select\"|\"a\"\"b\"\n");
    expect_rows(f->user,
                "SELECT has_table_privilege('sales.orders', 'SELECT'), "
                "pg_catalog.has_schema_privilege('alice', 'sales', 'USAGE'), "
                "has_database_privilege('lake', 'CONNECT'), pg_get_userbyid(10), "
                "pg_get_userbyid(5), pg_encoding_to_char(6), array_upper([4, 5, 6], 1), "
                "pg_table_is_visible(1259)",
                "t|t|t|alice|unknown (OID=5)|UTF8|3|t\n");
    /* The functions that read the catalogs get them built, named in FROM or not. */
    expect_rows(f->user,
                "SELECT obj_description('sales.orders'::regclass, 'pg_class'), "
                "col_description('sales.orders'::regclass, 2), "
                "pg_total_relation_size('sales.orders'::regclass), "
                "'pg_class'::regclass, 'pg_catalog.pg_class'::pg_catalog.regclass, "
                "'\"raw.sales\".orders'::regclass = 'raw.sales.orders'::regclass, "
                "'16384'::regclass, 'int4'::regtype, 'integer'::regtype, "
                "'sales'::regnamespace > 0",
                "All orders|Amount in EUR, it's net|0|1259|1259|f|16384|23|23|t\n");
    expect_rows(f->user,
                "SELECT 'x'::name || 'y'::pg_catalog.text, '1'::oid + 1, "
                "'a'::\"char\", 'int4in'::regproc",
                "xy|2|a|int4in\n");
}

static void test_regex_operators(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->user,
                "SELECT 'abc' ~ 'b', 'abc' ~ '^b', 'ABC' ~* 'b', 'abc' !~ 'b', 'abc' !~ 'x', "
                "'ABC' !~* 'b', 'abc' OPERATOR(pg_catalog.~) 'c$', 'abc' ~~ 'a%', NOT 'abc' ~ "
                "'z', regexp_full_match('abc', 'b')",
                "t|f|t|f|t|f|t|t|t|f\n");
    /* In DuckDB's dialect ~ keeps its meaning (a whole-string match). */
    tarn_err_t err;
    char *full = query(f->rest, "SELECT 'abc' ~ 'b'", &err);
    assert_non_null(full);
    assert_string_equal(full, "f\n");
    free(full);
}

/* What is inside strings, quoted names and comments is never rewritten. */
static void test_text_rewrite_leaves_literals(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->user,
                "SELECT 'OPERATOR(pg_catalog.~)', 'x::pg_catalog.text', E'it\\'s "
                "COLLATE \"C\"', $$::pg_catalog.name$$, 'a' /* OPERATOR(pg_catalog.~) */ "
                "-- COLLATE pg_catalog.default\n",
                "OPERATOR(pg_catalog.~)|x::pg_catalog.text|it's COLLATE \"C\"|"
                "::pg_catalog.name|a\n");
    expect_rows(f->user, "SELECT 'b' COLLATE \"default\" < 'c' COLLATE pg_catalog.\"C\"", "t\n");
    expect_rows(f->user, "SELECT x FROM pg_catalog.unnest(['p', 'q']) x ORDER BY x DESC", "q\np\n");
    expect_rows(f->user, "SELECT [1, 2] = '{1,2}', CAST([] AS BIGINT[]) <> '{0}'", "t|t\n");
    /* Half-written text is the parser's to refuse. */
    const char *const broken[] = {"SELECT 'abc",
                                  "SELECT 1 OPERATOR(",
                                  "SELECT 'a' COLLATE",
                                  "SELECT 1::pg_catalog",
                                  "SELECT 1::pg_catalog.",
                                  "SELECT $$x",
                                  "SELECT \"x",
                                  "SELECT 1 /* OPERATOR(pg_catalog.~)"};
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++)
        expect_error(f->user, broken[i], TARN_EINVAL, "");
}

/* PostgreSQL's dialect opens no door the sandbox closes. */
static void test_sandbox_still_holds(void **state)
{
    fixture_t *f = *state;
    expect_error(f->user, "SELECT * FROM read_csv('/etc/passwd')", TARN_EDENIED, "read_csv");
    expect_error(f->user, "SELECT * FROM pg_catalog.read_csv('/etc/passwd')", TARN_EDENIED,
                 "read_csv");
    expect_error(f->user, "SELECT * FROM '/etc/passwd'", TARN_EDENIED, "/etc/passwd");
    expect_error(f->user, "ATTACH '/tmp/x.db'", TARN_EINVAL, "only a SELECT");
    expect_error(f->user, "COPY (SELECT 1) TO '/tmp/out.csv'", TARN_EINVAL, "only a SELECT");
    expect_error(f->user, "SELECT 1; SELECT 2", TARN_EINVAL, "exactly one statement");
    expect_error(f->user, "SELECT * FROM glob('/*')", TARN_EDENIED, "glob");
    expect_error(f->user, "SELECT * FROM temp.main.\"tarn_pg.rel\"", TARN_EDENIED, "tarn_pg.rel");
    expect_error(f->user, "SELECT * FROM \"tarn_pg.rel\"", TARN_EDENIED, "tarn_pg.rel");
    expect_error(f->user, "SELECT * FROM temp.main.\"pg_catalog.pg_class\"", TARN_EDENIED,
                 "pg_catalog.pg_class");
    expect_error(f->user, "SELECT * FROM system.pg_catalog.pg_class", TARN_EDENIED, "pg_class");
    expect_error(f->user, "SELECT * FROM duckdb_tables()", TARN_EDENIED, "duckdb_tables");
    expect_error(f->user, "SELECT * FROM raw.hr.salaries", TARN_EDENIED, "raw.hr.salaries");
}

/* The catalogs follow the lake: a table created or described after the session started
 * shows up in the next statement. */
static void test_catalogs_follow_the_lake(void **state)
{
    fixture_t *f = *state;
    expect_rows(f->user, "SELECT count(*) FROM pg_class WHERE relname = 'customers'", "0\n");
    create_table(f->cat, "curated", "crm", "customers",
                 "{\"format\": \"jsonl\", \"schema\": \"id UUID, since DATE\"}");
    expect_rows(f->user,
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE relname = 'customers'",
                "crm|customers\n");
    expect_rows(f->user,
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_name = 'customers' ORDER BY ordinal_position",
                "id|uuid\nsince|date\n");
    describe(f->cat, "curated", "crm", "customers", "{\"description\": \"Who buys\"}");
    expect_rows(f->user,
                "SELECT obj_description(oid, 'pg_class') FROM pg_class WHERE relname = "
                "'customers'",
                "Who buys\n");
}

/* The cost of bringing the catalogs up to date with about a thousand tables. */
static void test_cost_with_many_tables(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%04d", i);
        create_table(f->cat, i % 2 ? "curated" : "raw", i % 20 < 10 ? "big" : "wide", name,
                     "{\"format\": \"parquet\", \"schema\": \"id BIGINT, a VARCHAR, b DOUBLE, "
                     "c DATE, d TIMESTAMP, e DECIMAL(18,3), f INTEGER, g BOOLEAN, h VARCHAR, "
                     "i BIGINT\", \"description\": \"one of many\"}");
    }
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_rows(f->admin, "SELECT count(*) >= 1003 FROM pg_class WHERE relnamespace <> 11", "t\n");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int i = 0; i < 10; i++)
        expect_rows(f->admin, "SELECT count(*) >= 10000 FROM pg_attribute", "t\n");
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double first = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    double next =
        ((double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6) / 10;
    /* What a new session pays before its first query: its functions and tables. */
    session_t *s;
    tarn_err_t err = {0};
    assert_int_equal(session_open(&s, f->e, f->cat, f->dir, &admin, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(session_enable_pg(s, "lake", "admin", &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    session_close(s);
    double setup = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("catalogs of ~1,000 tables: %.1f ms for a statement that loads them, %.1f ms for "
           "one that finds them unchanged; %.1f ms to enable a session\n",
           first, next, setup);
    char *all = rows(f->admin, psql_dt_plus), *p = all;
    size_t lines = 0;
    while ((p = strchr(p, '\n')))
        lines++, p++;
    assert_int_equal(lines, 1003);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_psql_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psql_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psql_more_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jdbc_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psycopg_information_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_table_is_hidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lake_tables_by_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_catalog_relation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_relation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regex_operators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_rewrite_leaves_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_still_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalogs_follow_the_lake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cost_with_many_tables, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
