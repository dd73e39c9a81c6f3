/* The PostgreSQL catalogs' definitions: each relation with PostgreSQL's name, oid and
 * columns (the ones clients read, in the engine's types) over the session's tables, the
 * functions clients call, and the facts pg_type lists; see pgcatalog_defs.h. Relations
 * tarn has nothing for are empty, with their columns, so clients' joins still bind. */
#include "consume/pgwire/pgcatalog_defs.h"

const pgcat_rel_t pgcat_rels[] = {
    {"information_schema", "columns", 13295, 'v', true,
     "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, "
     "ordinal_position INTEGER, column_default VARCHAR, is_nullable VARCHAR, data_type "
     "VARCHAR, character_maximum_length INTEGER, character_octet_length INTEGER, "
     "numeric_precision INTEGER, numeric_precision_radix INTEGER, numeric_scale INTEGER, "
     "datetime_precision INTEGER, interval_type VARCHAR, interval_precision INTEGER, "
     "character_set_catalog VARCHAR, character_set_schema VARCHAR, character_set_name "
     "VARCHAR, collation_catalog VARCHAR, collation_schema VARCHAR, collation_name VARCHAR, "
     "domain_catalog VARCHAR, domain_schema VARCHAR, domain_name VARCHAR, udt_catalog "
     "VARCHAR, udt_schema VARCHAR, udt_name VARCHAR, scope_catalog VARCHAR, scope_schema "
     "VARCHAR, scope_name VARCHAR, maximum_cardinality INTEGER, dtd_identifier VARCHAR, "
     "is_self_referencing VARCHAR, is_identity VARCHAR, identity_generation VARCHAR, "
     "identity_start VARCHAR, identity_increment VARCHAR, identity_maximum VARCHAR, "
     "identity_minimum VARCHAR, identity_cycle VARCHAR, is_generated VARCHAR, "
     "generation_expression VARCHAR, is_updatable VARCHAR",
     "SELECT current_database(), n.nspname, c.relname, a.attname, a.attnum, NULL, "
     "'YES', CASE WHEN t.typcategory = 'A' THEN 'ARRAY' ELSE format_type(a.atttypid, "
     "NULL) END, CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN "
     "a.atttypmod - 4 END, CASE WHEN a.atttypid IN (25, 1042, 1043) THEN 1073741824 "
     "END, CASE a.atttypid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN 64 WHEN 700 "
     "THEN 24 WHEN 701 THEN 53 WHEN 1700 THEN CASE WHEN a.atttypmod >= 4 THEN "
     "(a.atttypmod - 4) >> 16 END END, CASE WHEN a.atttypid IN (20, 21, 23, 700, 701) "
     "THEN 2 WHEN a.atttypid = 1700 THEN 10 END, CASE WHEN a.atttypid IN (20, 21, 23) "
     "THEN 0 WHEN a.atttypid = 1700 AND a.atttypmod >= 4 THEN (a.atttypmod - 4) & "
     "65535 END, CASE WHEN a.atttypid = 1082 THEN 0 WHEN a.atttypid IN (1083, 1114, "
     "1184, 1186, 1266) THEN 6 END, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
     "NULL, NULL, NULL, current_database(), 'pg_catalog', t.typname, NULL, NULL, NULL,"
     " NULL, CAST(a.attnum AS VARCHAR), 'NO', 'NO', NULL, NULL, NULL, NULL, NULL, "
     "'NO', 'NEVER', NULL, 'NO' FROM " PGCAT_ATT " a JOIN " PGCAT_REL
     " c ON c.oid = a.attrelid JOIN " PGCAT_NS " n ON n.oid = c.relnamespace LEFT JOIN " PGCAT_TYPE
     " t ON t.oid = a.atttypid"},
    {"information_schema", "schemata", 13382, 'v', true,
     "catalog_name VARCHAR, schema_name VARCHAR, schema_owner VARCHAR, "
     "default_character_set_catalog VARCHAR, default_character_set_schema VARCHAR, "
     "default_character_set_name VARCHAR, sql_path VARCHAR",
     "SELECT current_database(), nspname, current_user, NULL, NULL, NULL, NULL FROM " PGCAT_NS},
    {"information_schema", "tables", 13425, 'v', true,
     "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR, "
     "self_referencing_column_name VARCHAR, reference_generation VARCHAR, "
     "user_defined_type_catalog VARCHAR, user_defined_type_schema VARCHAR, "
     "user_defined_type_name VARCHAR, is_insertable_into VARCHAR, is_typed VARCHAR, "
     "commit_action VARCHAR",
     "SELECT current_database(), n.nspname, c.relname, CASE c.relkind WHEN 'v' THEN "
     "'VIEW' ELSE 'BASE TABLE' END, NULL, NULL, NULL, NULL, NULL, 'NO', 'NO', NULL "
     "FROM " PGCAT_REL " c JOIN " PGCAT_NS " n ON n.oid = c.relnamespace"},
    {"information_schema", "views", 13483, 'v', false,
     "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, view_definition "
     "VARCHAR, check_option VARCHAR, is_updatable VARCHAR, is_insertable_into VARCHAR, "
     "is_trigger_updatable VARCHAR, is_trigger_deletable VARCHAR, is_trigger_insertable_into "
     "VARCHAR",
     NULL},
    {"pg_catalog", "pg_am", 2601, 'r', false,
     "oid BIGINT, amname VARCHAR, amhandler VARCHAR, amtype VARCHAR",
     "VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', "
     "'i')"},
    {"pg_catalog", "pg_attrdef", 2604, 'r', false,
     "oid BIGINT, adrelid BIGINT, adnum SMALLINT, adbin VARCHAR", NULL},
    {"pg_catalog", "pg_attribute", 1249, 'r', true,
     "attrelid BIGINT, attname VARCHAR, atttypid BIGINT, attstattarget INTEGER, attlen "
     "SMALLINT, attnum SMALLINT, attndims INTEGER, attcacheoff INTEGER, atttypmod INTEGER, "
     "attbyval BOOLEAN, attalign VARCHAR, attstorage VARCHAR, attcompression VARCHAR, "
     "attnotnull BOOLEAN, atthasdef BOOLEAN, atthasmissing BOOLEAN, attidentity VARCHAR, "
     "attgenerated VARCHAR, attisdropped BOOLEAN, attislocal BOOLEAN, attinhcount INTEGER, "
     "attcollation BIGINT, attacl VARCHAR[], attoptions VARCHAR[], attfdwoptions VARCHAR[], "
     "attmissingval VARCHAR",
     "SELECT a.attrelid, a.attname, a.atttypid, -1, a.attlen, a.attnum, 0, -1, "
     "a.atttypmod, coalesce(t.typbyval, false), coalesce(t.typalign, 'i'), "
     "coalesce(t.typstorage, 'x'), '', false, false, false, '', '', false, true, 0, "
     "coalesce(t.typcollation, 0), NULL, NULL, NULL, NULL FROM " PGCAT_ATT
     " a LEFT JOIN " PGCAT_TYPE " t ON t.oid = a.atttypid"},
    {"pg_catalog", "pg_auth_members", 1261, 'r', false,
     "roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN", NULL},
    {"pg_catalog", "pg_cast", 2605, 'r', false,
     "oid BIGINT, castsource BIGINT, casttarget BIGINT, castfunc BIGINT, castcontext "
     "VARCHAR, castmethod VARCHAR",
     NULL},
    {"pg_catalog", "pg_class", 1259, 'r', true,
     "oid BIGINT, relname VARCHAR, relnamespace BIGINT, reltype BIGINT, reloftype BIGINT, "
     "relowner BIGINT, relam BIGINT, relfilenode BIGINT, reltablespace BIGINT, relpages "
     "INTEGER, reltuples FLOAT, relallvisible INTEGER, reltoastrelid BIGINT, relhasindex "
     "BOOLEAN, relisshared BOOLEAN, relpersistence VARCHAR, relkind VARCHAR, relnatts "
     "SMALLINT, relchecks SMALLINT, relhasrules BOOLEAN, relhastriggers BOOLEAN, "
     "relhassubclass BOOLEAN, relrowsecurity BOOLEAN, relforcerowsecurity BOOLEAN, "
     "relispopulated BOOLEAN, relreplident VARCHAR, relispartition BOOLEAN, relrewrite "
     "BIGINT, relfrozenxid BIGINT, relminmxid BIGINT, relacl VARCHAR[], reloptions "
     "VARCHAR[], relpartbound VARCHAR",
     "SELECT oid, relname, relnamespace, 0, 0, 10, CASE relkind WHEN 'r' THEN 2 ELSE 0"
     " END, CASE relkind WHEN 'r' THEN oid ELSE 0 END, 0, (coalesce(bytes, 0) + 8191) "
     "// 8192, reltuples, 0, 0, false, false, 'p', relkind, relnatts, 0, false, false,"
     " false, false, false, true, 'd', false, 0, 0, 0, NULL, NULL, NULL FROM " PGCAT_REL},
    {"pg_catalog", "pg_collation", 3456, 'r', false,
     "oid BIGINT, collname VARCHAR, collnamespace BIGINT, collowner BIGINT, collprovider "
     "VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER, collcollate VARCHAR, "
     "collctype VARCHAR, colliculocale VARCHAR, collversion VARCHAR",
     "VALUES (100, 'default', 11, 10, 'd', true, -1, NULL, NULL, NULL, NULL), (950, "
     "'C', 11, 10, 'c', true, -1, 'C', 'C', NULL, NULL), (951, 'POSIX', 11, 10, 'c', "
     "true, -1, 'POSIX', 'POSIX', NULL, NULL)"},
    {"pg_catalog", "pg_constraint", 2606, 'r', false,
     "oid BIGINT, conname VARCHAR, connamespace BIGINT, contype VARCHAR, condeferrable "
     "BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN, conrelid BIGINT, contypid BIGINT, "
     "conindid BIGINT, conparentid BIGINT, confrelid BIGINT, confupdtype VARCHAR, "
     "confdeltype VARCHAR, confmatchtype VARCHAR, conislocal BOOLEAN, coninhcount INTEGER, "
     "connoinherit BOOLEAN, conkey SMALLINT[], confkey SMALLINT[], conpfeqop BIGINT[], "
     "conppeqop BIGINT[], conffeqop BIGINT[], confdelsetcols SMALLINT[], conexclop BIGINT[], "
     "conbin VARCHAR",
     NULL},
    {"pg_catalog", "pg_database", 1262, 'r', false,
     "oid BIGINT, datname VARCHAR, datdba BIGINT, encoding INTEGER, datlocprovider VARCHAR, "
     "datistemplate BOOLEAN, datallowconn BOOLEAN, datconnlimit INTEGER, datfrozenxid "
     "BIGINT, datminmxid BIGINT, dattablespace BIGINT, datcollate VARCHAR, datctype VARCHAR, "
     "daticulocale VARCHAR, datcollversion VARCHAR, datacl VARCHAR[]",
     "SELECT 16384, current_database(), 10, 6, 'c', false, true, -1, 0, 0, 1663, 'C', "
     "'C', NULL, NULL, NULL"},
    {"pg_catalog", "pg_depend", 2608, 'r', false,
     "classid BIGINT, objid BIGINT, objsubid INTEGER, refclassid BIGINT, refobjid BIGINT, "
     "refobjsubid INTEGER, deptype VARCHAR",
     NULL},
    {"pg_catalog", "pg_description", 2609, 'r', true,
     "objoid BIGINT, classoid BIGINT, objsubid INTEGER, description VARCHAR",
     "SELECT oid, 1259, 0, description FROM " PGCAT_REL
     " WHERE description IS NOT NULL UNION ALL SELECT attrelid, 1259, attnum, "
     "description FROM " PGCAT_ATT
     " WHERE description IS NOT NULL UNION ALL SELECT oid, 2615, 0, description FROM " PGCAT_NS
     " WHERE description IS NOT NULL"},
    {"pg_catalog", "pg_enum", 3501, 'r', false,
     "oid BIGINT, enumtypid BIGINT, enumsortorder FLOAT, enumlabel VARCHAR", NULL},
    {"pg_catalog", "pg_event_trigger", 3466, 'r', false,
     "oid BIGINT, evtname VARCHAR, evtevent VARCHAR, evtowner BIGINT, evtfoid BIGINT, "
     "evtenabled VARCHAR, evttags VARCHAR[]",
     NULL},
    {"pg_catalog", "pg_extension", 3079, 'r', false,
     "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, extrelocatable "
     "BOOLEAN, extversion VARCHAR, extconfig BIGINT[], extcondition VARCHAR[]",
     NULL},
    {"pg_catalog", "pg_foreign_table", 3118, 'r', false,
     "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]", NULL},
    {"pg_catalog", "pg_index", 2610, 'r', false,
     "indexrelid BIGINT, indrelid BIGINT, indnatts SMALLINT, indnkeyatts SMALLINT, "
     "indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, indisexclusion "
     "BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN, indisvalid BOOLEAN, "
     "indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, indisreplident BOOLEAN, "
     "indkey SMALLINT[], indcollation BIGINT[], indclass BIGINT[], indoption SMALLINT[], "
     "indexprs VARCHAR, indpred VARCHAR",
     NULL},
    {"pg_catalog", "pg_indexes", 12043, 'v', false,
     "schemaname VARCHAR, tablename VARCHAR, indexname VARCHAR, tablespace VARCHAR, indexdef "
     "VARCHAR",
     NULL},
    {"pg_catalog", "pg_inherits", 2611, 'r', false,
     "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN", NULL},
    {"pg_catalog", "pg_language", 2612, 'r', false,
     "oid BIGINT, lanname VARCHAR, lanowner BIGINT, lanispl BOOLEAN, lanpltrusted BOOLEAN, "
     "lanplcallfoid BIGINT, laninline BIGINT, lanvalidator BIGINT, lanacl VARCHAR[]",
     NULL},
    {"pg_catalog", "pg_matviews", 12038, 'v', false,
     "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, tablespace VARCHAR, "
     "hasindexes BOOLEAN, ispopulated BOOLEAN, definition VARCHAR",
     NULL},
    {"pg_catalog", "pg_namespace", 2615, 'r', true,
     "oid BIGINT, nspname VARCHAR, nspowner BIGINT, nspacl VARCHAR[]",
     "SELECT oid, nspname, 10, NULL FROM " PGCAT_NS},
    {"pg_catalog", "pg_operator", 2617, 'r', false,
     "oid BIGINT, oprname VARCHAR, oprnamespace BIGINT, oprowner BIGINT, oprkind VARCHAR, "
     "oprcanmerge BOOLEAN, oprcanhash BOOLEAN, oprleft BIGINT, oprright BIGINT, oprresult "
     "BIGINT, oprcom BIGINT, oprnegate BIGINT, oprcode VARCHAR, oprrest VARCHAR, oprjoin "
     "VARCHAR",
     NULL},
    {"pg_catalog", "pg_partitioned_table", 3350, 'r', false,
     "partrelid BIGINT, partstrat VARCHAR, partnatts SMALLINT, partdefid BIGINT, partattrs "
     "SMALLINT[], partclass BIGINT[], partcollation BIGINT[], partexprs VARCHAR",
     NULL},
    {"pg_catalog", "pg_policy", 3256, 'r', false,
     "oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, polpermissive BOOLEAN, "
     "polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR",
     NULL},
    {"pg_catalog", "pg_proc", 1255, 'r', false,
     "oid BIGINT, proname VARCHAR, pronamespace BIGINT, proowner BIGINT, prolang BIGINT, "
     "procost FLOAT, prorows FLOAT, provariadic BIGINT, prosupport VARCHAR, prokind VARCHAR, "
     "prosecdef BOOLEAN, proleakproof BOOLEAN, proisstrict BOOLEAN, proretset BOOLEAN, "
     "provolatile VARCHAR, proparallel VARCHAR, pronargs SMALLINT, pronargdefaults SMALLINT, "
     "prorettype BIGINT, proargtypes BIGINT[], proallargtypes BIGINT[], proargmodes "
     "VARCHAR[], proargnames VARCHAR[], proargdefaults VARCHAR, protrftypes BIGINT[], prosrc "
     "VARCHAR, probin VARCHAR, prosqlbody VARCHAR, proconfig VARCHAR[], proacl VARCHAR[]",
     NULL},
    {"pg_catalog", "pg_publication", 6104, 'r', false,
     "oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN, pubinsert BOOLEAN, "
     "pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
     NULL},
    {"pg_catalog", "pg_publication_namespace", 6237, 'r', false,
     "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT", NULL},
    {"pg_catalog", "pg_publication_rel", 6106, 'r', false,
     "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs SMALLINT[]", NULL},
    {"pg_catalog", "pg_range", 3541, 'r', false,
     "rngtypid BIGINT, rngsubtype BIGINT, rngmultitypid BIGINT, rngcollation BIGINT, "
     "rngsubopc BIGINT, rngcanonical VARCHAR, rngsubdiff VARCHAR",
     NULL},
    {"pg_catalog", "pg_rewrite", 2618, 'r', false,
     "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR, "
     "is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR",
     NULL},
    {"pg_catalog", "pg_roles", 12000, 'v', false,
     "rolname VARCHAR, rolsuper BOOLEAN, rolinherit BOOLEAN, rolcreaterole BOOLEAN, "
     "rolcreatedb BOOLEAN, rolcanlogin BOOLEAN, rolreplication BOOLEAN, rolconnlimit "
     "INTEGER, rolpassword VARCHAR, rolvaliduntil TIMESTAMPTZ, rolbypassrls BOOLEAN, "
     "rolconfig VARCHAR[], oid BIGINT",
     "SELECT current_user, false, true, false, false, true, false, -1, '********', "
     "NULL, false, NULL, 10"},
    {"pg_catalog", "pg_sequence", 2224, 'r', false,
     "seqrelid BIGINT, seqtypid BIGINT, seqstart BIGINT, seqincrement BIGINT, seqmax BIGINT, "
     "seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN",
     NULL},
    {"pg_catalog", "pg_settings", 12104, 'v', false,
     "name VARCHAR, setting VARCHAR, unit VARCHAR, category VARCHAR, short_desc VARCHAR, "
     "extra_desc VARCHAR, context VARCHAR, vartype VARCHAR, source VARCHAR, min_val VARCHAR, "
     "max_val VARCHAR, enumvals VARCHAR[], boot_val VARCHAR, reset_val VARCHAR, sourcefile "
     "VARCHAR, sourceline INTEGER, pending_restart BOOLEAN",
     "SELECT name, setting, unit, category, short_desc, NULL, 'user', vartype, "
     "'default', NULL, NULL, NULL, setting, setting, NULL, NULL, false FROM " PGCAT_SETTINGS},
    {"pg_catalog", "pg_shdescription", 2396, 'r', false,
     "objoid BIGINT, classoid BIGINT, description VARCHAR", NULL},
    {"pg_catalog", "pg_stat_user_tables", 12161, 'v', true,
     "relid BIGINT, schemaname VARCHAR, relname VARCHAR, seq_scan BIGINT, seq_tup_read "
     "BIGINT, idx_scan BIGINT, idx_tup_fetch BIGINT, n_tup_ins BIGINT, n_tup_upd BIGINT, "
     "n_tup_del BIGINT, n_tup_hot_upd BIGINT, n_live_tup BIGINT, n_dead_tup BIGINT, "
     "n_mod_since_analyze BIGINT, n_ins_since_vacuum BIGINT, last_vacuum TIMESTAMPTZ, "
     "last_autovacuum TIMESTAMPTZ, last_analyze TIMESTAMPTZ, last_autoanalyze TIMESTAMPTZ, "
     "vacuum_count BIGINT, autovacuum_count BIGINT, analyze_count BIGINT, autoanalyze_count "
     "BIGINT",
     "SELECT c.oid, n.nspname, c.relname, 0, 0, NULL, NULL, 0, 0, 0, 0, "
     "CAST(greatest(c.reltuples, 0) AS BIGINT), 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0,"
     " 0, 0 FROM " PGCAT_REL " c JOIN " PGCAT_NS
     " n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.oid NOT IN (11, 13207)"},
    {"pg_catalog", "pg_statistic_ext", 3381, 'r', false,
     "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, stxowner BIGINT, "
     "stxstattarget INTEGER, stxkeys SMALLINT[], stxkind VARCHAR[], stxexprs VARCHAR",
     NULL},
    {"pg_catalog", "pg_tables", 12033, 'v', true,
     "schemaname VARCHAR, tablename VARCHAR, tableowner VARCHAR, tablespace VARCHAR, "
     "hasindexes BOOLEAN, hasrules BOOLEAN, hastriggers BOOLEAN, rowsecurity BOOLEAN",
     "SELECT n.nspname, c.relname, current_user, NULL, false, false, false, false FROM " PGCAT_REL
     " c JOIN " PGCAT_NS " n ON n.oid = c.relnamespace WHERE c.relkind = 'r'"},
    {"pg_catalog", "pg_tablespace", 1213, 'r', false,
     "oid BIGINT, spcname VARCHAR, spcowner BIGINT, spcacl VARCHAR[], spcoptions VARCHAR[]",
     "VALUES (1663, 'pg_default', 10, NULL, NULL), (1664, 'pg_global', 10, NULL, NULL)"},
    {"pg_catalog", "pg_trigger", 2620, 'r', false,
     "oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT, tgtype "
     "SMALLINT, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid BIGINT, tgconstrindid "
     "BIGINT, tgconstraint BIGINT, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN, tgnargs "
     "SMALLINT, tgattr SMALLINT[], tgargs BLOB, tgqual VARCHAR, tgoldtable VARCHAR, "
     "tgnewtable VARCHAR",
     NULL},
    {"pg_catalog", "pg_type", 1247, 'r', false,
     "oid BIGINT, typname VARCHAR, typnamespace BIGINT, typowner BIGINT, typlen SMALLINT, "
     "typbyval BOOLEAN, typtype " PGCAT_CHAR ", typcategory " PGCAT_CHAR ", typispreferred "
     "BOOLEAN, typisdefined BOOLEAN, typdelim " PGCAT_CHAR ", typrelid BIGINT, typsubscript VARCHAR, typelem "
     "BIGINT, typarray BIGINT, typinput VARCHAR, typoutput VARCHAR, typreceive VARCHAR, "
     "typsend VARCHAR, typmodin VARCHAR, typmodout VARCHAR, typanalyze VARCHAR, typalign "
     "VARCHAR, typstorage VARCHAR, typnotnull BOOLEAN, typbasetype BIGINT, typtypmod "
     "INTEGER, typndims INTEGER, typcollation BIGINT, typdefaultbin VARCHAR, typdefault "
     "VARCHAR, typacl VARCHAR[]",
     "SELECT oid, typname, 11, 10, typlen, typbyval, CASE WHEN oid = 705 THEN 'p' ELSE"
     " 'b' END, typcategory, typispreferred, true, ',', 0, CASE typcategory WHEN 'A' "
     "THEN 'array_subscript_handler' ELSE '-' END, typelem, typarray, typinput, "
     "typoutput, typreceive, typsend, '-', '-', '-', typalign, typstorage, false, 0, "
     "-1, 0, typcollation, NULL, NULL, NULL FROM " PGCAT_TYPE},
    {"pg_catalog", "pg_user", 12014, 'v', false,
     "usename VARCHAR, usesysid BIGINT, usecreatedb BOOLEAN, usesuper BOOLEAN, userepl "
     "BOOLEAN, usebypassrls BOOLEAN, passwd VARCHAR, valuntil TIMESTAMPTZ, useconfig "
     "VARCHAR[]",
     "SELECT current_user, 10, false, false, false, false, '********', NULL, NULL"},
    {"pg_catalog", "pg_views", 12028, 'v', true,
     "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
     "SELECT n.nspname, c.relname, current_user, NULL FROM " PGCAT_REL " c JOIN " PGCAT_NS
     " n ON n.oid = c.relnamespace WHERE c.relkind = 'v'"},
};
const size_t pgcat_nrels = sizeof pgcat_rels / sizeof *pgcat_rels;

/* Rounds half away from zero after a division by two, as pg_size_pretty does. */
#define HALF(x) "((" x ") + CASE WHEN (" x ") < 0 THEN -1 ELSE 1 END) // 2"
#define SIZE_UNIT(div, unit)                                                                       \
    "WHEN abs(size // " div ") < 20479 THEN CAST(" HALF("size // " div) " AS VARCHAR) || ' " unit  \
                                                                        "' "
#define NO_TEXT "CAST(NULL AS VARCHAR)"
/* Names PostgreSQL's quote_ident quotes although they are lower-case words. */
#define RESERVED                                                                                   \
    "'all', 'analyse', 'analyze', 'and', 'any', 'array', 'as', 'asc', 'asymmetric', 'both', "      \
    "'case', 'cast', 'check', 'collate', 'column', 'constraint', 'create', "                       \
    "'current_catalog', 'current_date', 'current_role', 'current_time', "                          \
    "'current_timestamp', 'current_user', 'default', 'deferrable', 'desc', 'distinct', 'do', "     \
    "'else', 'end', 'except', 'false', 'fetch', 'for', 'foreign', 'from', 'grant', 'group', "      \
    "'having', 'in', 'initially', 'intersect', 'into', 'lateral', 'leading', 'limit', "            \
    "'localtime', 'localtimestamp', 'not', 'null', 'offset', 'on', 'only', 'or', 'order', "        \
    "'placing', 'primary', 'references', 'returning', 'select', 'session_user', 'some', "          \
    "'symmetric', 'table', 'then', 'to', 'trailing', 'true', 'union', 'unique', 'user', "          \
    "'using', 'variadic', 'when', 'where', 'window', 'with'"
/* A qualified name's parts, as PostgreSQL reads 'schema.name' or '"raw.sales".orders':
 * quoted parts as written, others in lower case. */
#define NAME_PARTS(x) "tarn_pg_name_parts(CAST(" x " AS VARCHAR))"
/* x itself when it is a number (an oid), else `lookup`. */
#define OID_OR(x, lookup)                                                                          \
    "CASE WHEN TRY_CAST(" x " AS BIGINT) IS NOT NULL THEN TRY_CAST(" x " AS BIGINT) ELSE (" lookup \
    ") END"

const pgcat_fn_t pgcat_fns[] = {
    {"current_database", NULL, "() AS @DB@"},
    {"current_catalog", NULL, "() AS @DB@"},
    {"current_user", NULL, "() AS @USER@"},
    {"session_user", NULL, "() AS @USER@"},
    {"current_role", NULL, "() AS @USER@"},
    {"getpgusername", NULL, "() AS @USER@"},
    /* No schema holds new objects: there are none to create. */
    {"current_schema", NULL, "() AS " NO_TEXT},
    {"current_schemas", NULL,
     "(implicit) AS CASE WHEN implicit THEN ['pg_catalog'] ELSE CAST([] AS VARCHAR[]) END"},
    {"version", NULL, "() AS @VERSION@"},
    {"pg_backend_pid", NULL, "() AS @PID@"},
    {"pg_is_in_recovery", NULL, "() AS false"},
    {"current_setting", NULL,
     "(setting_name) AS (SELECT tarn_s.setting FROM " PGCAT_SETTINGS
     " tarn_s WHERE lower(tarn_s.name) = "
     "lower(setting_name)), (setting_name, missing_ok) AS (SELECT tarn_s.setting "
     "FROM " PGCAT_SETTINGS " tarn_s WHERE lower(tarn_s.name) = lower(setting_name))"},
    /* PostgreSQL's names for its own oids and type modifiers (the engine's format_type
     * knows its own oids). */
    {"format_type", NULL,
     "(type_oid, typemod) AS CASE type_oid WHEN 16 THEN 'boolean' WHEN 17 THEN 'bytea' "
     "WHEN 18 THEN '\"char\"' WHEN 19 THEN 'name' WHEN 20 THEN 'bigint' WHEN 21 THEN "
     "'smallint' WHEN 23 THEN 'integer' WHEN 25 THEN 'text' WHEN 26 THEN 'oid' WHEN 114 THEN "
     "'json' WHEN 700 THEN 'real' WHEN 701 THEN 'double precision' WHEN 705 THEN 'unknown' "
     "WHEN 1042 THEN 'character' || CASE WHEN typemod > 4 THEN '(' || CAST(typemod - 4 AS "
     "VARCHAR) || ')' ELSE '' END WHEN 1043 THEN 'character varying' || CASE WHEN typemod > 4 "
     "THEN '(' || CAST(typemod - 4 AS VARCHAR) || ')' ELSE '' END WHEN 1082 THEN 'date' WHEN "
     "1083 THEN 'time without time zone' WHEN 1114 THEN 'timestamp without time zone' WHEN "
     "1184 THEN 'timestamp with time zone' WHEN 1186 THEN 'interval' WHEN 1266 THEN 'time "
     "with time zone' WHEN 1700 THEN 'numeric' || CASE WHEN typemod >= 4 THEN '(' || "
     "CAST((typemod - 4) >> 16 AS VARCHAR) || ',' || CAST((typemod - 4) & 65535 AS VARCHAR) "
     "|| ')' ELSE '' END WHEN 2950 THEN 'uuid' WHEN 1000 THEN 'boolean[]' WHEN 1001 THEN "
     "'bytea[]' WHEN 1003 THEN 'name[]' WHEN 1005 THEN 'smallint[]' WHEN 1007 THEN "
     "'integer[]' WHEN 1009 THEN 'text[]' WHEN 1014 THEN 'character[]' WHEN 1015 THEN "
     "'character varying[]' WHEN 1016 THEN 'bigint[]' WHEN 1021 THEN 'real[]' WHEN 1022 THEN "
     "'double precision[]' WHEN 1028 THEN 'oid[]' WHEN 199 THEN 'json[]' WHEN 1115 THEN "
     "'timestamp without time zone[]' WHEN 1182 THEN 'date[]' WHEN 1183 THEN 'time without "
     "time zone[]' WHEN 1185 THEN 'timestamp with time zone[]' WHEN 1187 THEN 'interval[]' "
     "WHEN 1231 THEN 'numeric[]' WHEN 1270 THEN 'time with time zone[]' WHEN 2951 THEN "
     "'uuid[]' ELSE CASE WHEN type_oid IS NOT NULL THEN '?\?\?' END END"},
    {"pg_get_userbyid", NULL,
     "(role_oid) AS CASE WHEN role_oid = 10 THEN @USER@ ELSE 'unknown (OID=' || "
     "CAST(role_oid AS VARCHAR) || ')' END"},
    /* Every schema but information_schema is on the search path, so \dt lists every
     * table. */
    {"pg_table_is_visible", "pg_class",
     "(rel_oid) AS coalesce((SELECT tarn_r.relnamespace <> 13207 FROM " PGCAT_REL
     " tarn_r WHERE tarn_r.oid = rel_oid), true)"},
    {"pg_type_is_visible", NULL, "(type_oid) AS true"},
    {"pg_function_is_visible", NULL, "(fn_oid) AS true"},
    {"pg_get_indexdef", NULL, "(index_oid) AS " NO_TEXT ", (index_oid, col, pretty) AS " NO_TEXT},
    {"pg_get_constraintdef", NULL, "(con_oid) AS " NO_TEXT ", (con_oid, pretty) AS " NO_TEXT},
    {"pg_get_expr", NULL, "(expr, rel_oid) AS " NO_TEXT ", (expr, rel_oid, pretty) AS " NO_TEXT},
    {"pg_get_viewdef", NULL, "(view_oid) AS " NO_TEXT ", (view_oid, pretty) AS " NO_TEXT},
    {"pg_get_statisticsobjdef_columns", NULL, "(stat_oid) AS " NO_TEXT},
    {"pg_get_function_result", NULL, "(fn_oid) AS " NO_TEXT},
    {"pg_get_function_arguments", NULL, "(fn_oid) AS " NO_TEXT},
    {"pg_get_function_identity_arguments", NULL, "(fn_oid) AS " NO_TEXT},
    {"pg_relation_is_publishable", NULL, "(rel_oid) AS false"},
    /* information_schema's: an array's elements and their positions, a row each. */
    {"_pg_expandarray", NULL,
     "(arr) AS unnest(list_transform(range(1, len(arr) + 1), lambda i: {'x': arr[i], 'n': "
     "i}))"},
    {"array_upper", NULL, "(arr, dim) AS CASE WHEN dim = 1 AND len(arr) > 0 THEN len(arr) END"},
    {"array_lower", NULL, "(arr, dim) AS CASE WHEN dim = 1 AND len(arr) > 0 THEN 1 END"},
    {"pg_encoding_to_char", NULL,
     "(enc) AS CASE enc WHEN 6 THEN 'UTF8' WHEN 0 THEN 'SQL_ASCII' ELSE '' END"},
    {"obj_description", "pg_description",
     "(obj_oid) AS coalesce((SELECT tarn_r.description FROM " PGCAT_REL
     " tarn_r WHERE tarn_r.oid = obj_oid), "
     "(SELECT tarn_n.description FROM " PGCAT_NS " tarn_n WHERE tarn_n.oid = obj_oid)), (obj_oid, "
     "catalog_name) AS CASE catalog_name WHEN 'pg_class' THEN (SELECT tarn_r.description "
     "FROM " PGCAT_REL " tarn_r WHERE tarn_r.oid = obj_oid) WHEN 'pg_namespace' THEN (SELECT "
     "tarn_n.description FROM " PGCAT_NS " tarn_n WHERE tarn_n.oid = obj_oid) END"},
    {"col_description", "pg_description",
     "(rel_oid, col_num) AS (SELECT tarn_a.description FROM " PGCAT_ATT
     " tarn_a WHERE tarn_a.attrelid = "
     "rel_oid AND tarn_a.attnum = col_num)"},
    {"shobj_description", NULL, "(obj_oid, catalog_name) AS " NO_TEXT},
    /* What a session may read is decided when a query names a table; asking is allowed. */
    {"has_table_privilege", NULL, "(tbl, priv) AS true, (usr, tbl, priv) AS true"},
    {"has_schema_privilege", NULL, "(sch, priv) AS true, (usr, sch, priv) AS true"},
    {"has_database_privilege", NULL, "(db, priv) AS true, (usr, db, priv) AS true"},
    {"has_column_privilege", NULL, "(tbl, col, priv) AS true, (usr, tbl, col, priv) AS true"},
    {"has_any_column_privilege", NULL, "(tbl, priv) AS true, (usr, tbl, priv) AS true"},
    {"pg_size_pretty", NULL,
     "(size) AS CASE WHEN size IS NULL THEN NULL WHEN abs(size) < 10240 THEN CAST(size AS "
     "VARCHAR) || ' bytes' " SIZE_UNIT("512", "kB") SIZE_UNIT("524288", "MB")
         SIZE_UNIT("536870912", "GB") SIZE_UNIT("549755813888", "TB") "ELSE CAST(" HALF(
             "size // 562949953421312") " AS VARCHAR) || ' PB' END"},
    {"pg_total_relation_size", "pg_class",
     "(rel_oid) AS (SELECT tarn_r.bytes FROM " PGCAT_REL " tarn_r WHERE tarn_r.oid = rel_oid)"},
    {"pg_table_size", "pg_class",
     "(rel_oid) AS (SELECT tarn_r.bytes FROM " PGCAT_REL " tarn_r WHERE tarn_r.oid = rel_oid)"},
    {"pg_relation_size", "pg_class",
     "(rel_oid) AS (SELECT tarn_r.bytes FROM " PGCAT_REL
     " tarn_r WHERE tarn_r.oid = rel_oid), (rel_oid, "
     "fork) AS CASE WHEN fork = 'main' THEN (SELECT tarn_r.bytes FROM " PGCAT_REL
     " tarn_r WHERE tarn_r.oid = rel_oid) ELSE 0 END"},
    {"pg_indexes_size", NULL, "(rel_oid) AS CAST(0 AS BIGINT)"},
    /* The lake's bytes the session may read. */
    {"pg_database_size", "pg_class",
     "(db) AS (SELECT CAST(coalesce(sum(tarn_r.bytes), 0) AS BIGINT) FROM " PGCAT_REL " tarn_r)"},
    {"pg_tablespace_location", NULL, "(spc_oid) AS ''"},
    {"quote_ident", NULL,
     "(ident) AS CASE WHEN regexp_full_match(ident, '[a-z_][a-z0-9_$]*') AND ident NOT IN "
     "(" RESERVED ") THEN ident ELSE '\"' || replace(ident, '\"', '\"\"') || '\"' END"},
    {"tarn_pg_name_parts", NULL,
     "(qualified) AS list_transform(regexp_extract_all(qualified, "
     "'\"(?:[^\"]|\"\")*\"|[^.\"]+'), lambda p: CASE WHEN p[1] = '\"' THEN "
     "replace(p[2:-2], '\"\"', '\"') ELSE lower(p) END)"},
    /* reg* casts: an oid as it is, a name looked up (PostgreSQL's search path puts
     * pg_catalog first). */
    {"regclass", "pg_class",
     "(rel) AS " OID_OR("rel", "SELECT tarn_c.oid FROM " PGCAT_REL " tarn_c JOIN " PGCAT_NS
                               " tarn_n ON tarn_n.oid = tarn_c.relnamespace WHERE tarn_c.relname "
                               "= " NAME_PARTS("rel") "[-1] AND (len(" NAME_PARTS(
                                   "rel") ") = 1 OR "
                                          "tarn_n.nspname = " NAME_PARTS(
                                              "rel") "[-2]) ORDER BY tarn_c.relnamespace <> 11 "
                                                     "LIMIT 1")},
    {"to_regclass", "pg_class", "(rel) AS regclass(rel)"},
    {"regnamespace", "pg_namespace",
     "(nsp) AS " OID_OR("nsp", "SELECT tarn_n.oid FROM " PGCAT_NS
                               " tarn_n WHERE tarn_n.nspname = " NAME_PARTS("nsp") "[1]")},
    {"to_regnamespace", "pg_namespace", "(nsp) AS regnamespace(nsp)"},
    {"regtype", NULL,
     "(typ) AS " OID_OR("typ",
                        "SELECT tarn_t.oid FROM " PGCAT_TYPE " tarn_t WHERE lower(regexp_replace("
                        "CAST(typ AS VARCHAR), '^pg_catalog\\.', '')) IN (tarn_t.typname, "
                        "format_type(tarn_t.oid, NULL)) ORDER BY tarn_t.oid LIMIT 1")},
    {"to_regtype", NULL, "(typ) AS regtype(typ)"},
    {"regrole", NULL,
     "(rol) AS " OID_OR("rol", "SELECT CASE WHEN CAST(rol AS VARCHAR) = @USER@ THEN 10 END")},
    {"to_regrole", NULL, "(rol) AS regrole(rol)"},
    /* Functions are shown by name. */
    {"regproc", NULL, "(fn) AS regexp_replace(CAST(fn AS VARCHAR), '^pg_catalog\\.', '')"},
    {"regprocedure", NULL, "(fn) AS regexp_replace(CAST(fn AS VARCHAR), '^pg_catalog\\.', '')"},
};
const size_t pgcat_nfns = sizeof pgcat_fns / sizeof *pgcat_fns;

const pgcat_type_t pgcat_types[] = {
    {16, 1000, 'B', 'c', 'p', true, true, 0, "boolin"},
    {18, 1002, 'Z', 'c', 'p', true, false, 0, "charin"},
    {17, 1001, 'U', 'i', 'x', false, false, 0, "byteain"},
    {19, 1003, 'S', 'c', 'p', false, false, 950, "namein"},
    {20, 1016, 'N', 'd', 'p', true, false, 0, "int8in"},
    {21, 1005, 'N', 's', 'p', true, false, 0, "int2in"},
    {23, 1007, 'N', 'i', 'p', true, false, 0, "int4in"},
    {25, 1009, 'S', 'i', 'x', false, true, 100, "textin"},
    {26, 1028, 'N', 'i', 'p', true, true, 0, "oidin"},
    {114, 199, 'U', 'i', 'x', false, false, 0, "json_in"},
    {700, 1021, 'N', 'i', 'p', true, false, 0, "float4in"},
    {701, 1022, 'N', 'd', 'p', true, true, 0, "float8in"},
    {705, 0, 'X', 'c', 'p', false, false, 0, "unknownin"},
    {1042, 1014, 'S', 'i', 'x', false, false, 100, "bpcharin"},
    {1043, 1015, 'S', 'i', 'x', false, false, 100, "varcharin"},
    {1082, 1182, 'D', 'i', 'p', true, false, 0, "date_in"},
    {1083, 1183, 'D', 'd', 'p', true, false, 0, "time_in"},
    {1114, 1115, 'D', 'd', 'p', true, false, 0, "timestamp_in"},
    {1184, 1185, 'D', 'd', 'p', true, true, 0, "timestamptz_in"},
    {1186, 1187, 'T', 'd', 'p', false, true, 0, "interval_in"},
    {1266, 1270, 'D', 'd', 'p', false, false, 0, "timetz_in"},
    {1700, 1231, 'N', 'i', 'm', false, false, 0, "numeric_in"},
    {2950, 2951, 'U', 'c', 'p', false, false, 0, "uuid_in"},
};
const size_t pgcat_ntypes = sizeof pgcat_types / sizeof *pgcat_types;

const char *const pgcat_settings[][6] = {
    {"server_version", "15.0", NULL, "Preset Options", "Shows the server version.", "string"},
    {"server_version_num", "150000", NULL, "Preset Options",
     "Shows the server version as an integer.", "integer"},
    {"server_encoding", "UTF8", NULL, "Preset Options",
     "Shows the server (database) character set encoding.", "string"},
    {"client_encoding", "UTF8", NULL, "Client Connection Defaults / Locale and Formatting",
     "Sets the client's character set encoding.", "string"},
    {"standard_conforming_strings", "on", NULL, "Version and Platform Compatibility",
     "Causes '...' strings to treat backslashes literally.", "bool"},
    {"DateStyle", "ISO, MDY", NULL, "Client Connection Defaults / Locale and Formatting",
     "Sets the display format for date and time values.", "string"},
    {"IntervalStyle", "postgres", NULL, "Client Connection Defaults / Locale and Formatting",
     "Sets the display format for interval values.", "enum"},
    {"TimeZone", "UTC", NULL, "Client Connection Defaults / Locale and Formatting",
     "Sets the time zone for displaying and interpreting time stamps.", "string"},
    {"integer_datetimes", "on", NULL, "Preset Options",
     "Shows whether datetimes are integer based.", "bool"},
    {"search_path", "\"$user\", public", NULL, "Client Connection Defaults / Statement Behavior",
     "Sets the schema search order for names that are not schema-qualified.", "string"},
    {"transaction_isolation", "read committed", NULL,
     "Client Connection Defaults / Statement Behavior",
     "Sets the current transaction's isolation level.", "enum"},
    {"default_transaction_isolation", "read committed", NULL,
     "Client Connection Defaults / Statement Behavior",
     "Sets the transaction isolation level of each new transaction.", "enum"},
    {"transaction_read_only", "on", NULL, "Client Connection Defaults / Statement Behavior",
     "Sets the current transaction's read-only status.", "bool"},
    {"default_transaction_read_only", "on", NULL, "Client Connection Defaults / Statement Behavior",
     "Sets the default read-only status of new transactions.", "bool"},
    {"max_identifier_length", "63", NULL, "Preset Options", "Shows the maximum identifier length.",
     "integer"},
    {"max_index_keys", "32", NULL, "Preset Options", "Shows the maximum number of index keys.",
     "integer"},
    {"block_size", "8192", NULL, "Preset Options", "Shows the size of a disk block.", "integer"},
    {"is_superuser", "off", NULL, "Preset Options",
     "Shows whether the current user is a superuser.", "bool"},
    {"application_name", "", NULL, "Reporting and Logging / What to Log",
     "Sets the application name to be reported in statistics and logs.", "string"},
    {"lc_collate", "C", NULL, "Preset Options", "Shows the collation order locale.", "string"},
    {"lc_ctype", "C", NULL, "Preset Options",
     "Shows the character classification and case conversion locale.", "string"},
    {"extra_float_digits", "1", NULL, "Client Connection Defaults / Locale and Formatting",
     "Sets the number of digits displayed for floating-point values.", "integer"},
    {"bytea_output", "hex", NULL, "Client Connection Defaults / Statement Behavior",
     "Sets the output format for bytea.", "enum"},
    {"statement_timeout", "0", "ms", "Client Connection Defaults / Statement Behavior",
     "Sets the maximum allowed duration of any statement.", "integer"},
    {"lock_timeout", "0", "ms", "Client Connection Defaults / Statement Behavior",
     "Sets the maximum allowed duration of any wait for a lock.", "integer"},
    {"max_connections", "100", NULL, "Connections and Authentication / Connection Settings",
     "Sets the maximum number of concurrent connections.", "integer"},
};
const size_t pgcat_nsettings = sizeof pgcat_settings / sizeof *pgcat_settings;
