/* `tarn`: command-line dispatch. One table names each command, its one-line summary and
 * the help text `tarn help CMD` prints; a command named as an ingest plugin (stream) adds
 * the plugin's configuration keys, from its own config map. */
#include "cli/commands.h"
#include "ingest/plugin.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *help;
} command_t;

static const command_t commands[] = {
    {"init", cmd_init, "create a lake (catalog, zones, keyring, admin credentials)",
     "usage: tarn init [--data DIR] [--self-signed]\n\n"
     "Creates a lake in DIR (default ./tarn-data): the catalog database, the zones raw,\n"
     "cleaned, curated and quarantine, the keyring, and the admin user. The admin's access\n"
     "key, secret key and password are printed once and written to DIR/admin.credentials\n"
     "(mode 0600, AWS shared-credentials format, so AWS_SHARED_CREDENTIALS_FILE can use it).\n"
     "--self-signed also creates DIR/tls/cert.pem and DIR/tls/key.pem (mode 0600): an EC\n"
     "P-256 key and a self-signed certificate for localhost, 127.0.0.1, ::1 and this host's\n"
     "name, valid 365 days, for trying TLS (`tarn serve --tls-cert DIR/tls/cert.pem\n"
     "--tls-key DIR/tls/key.pem`; clients use cert.pem as their CA bundle). On an existing\n"
     "lake it only adds the certificate, and keeps one that is already there.\n"},
    {"serve", cmd_serve, "run the server (S3, REST, PostgreSQL, metrics) on a lake",
     "usage: tarn serve [--data DIR] [--listen ADDR:PORT] [--pg-listen ADDR:PORT|off]\n"
     "                  [--tls-cert PEM --tls-key PEM] [--query-slots N]\n"
     "                  [--query-timeout SECONDS] [--queue-wait SECONDS]\n"
     "                  [--query-memory SIZE] [--promotion on|off]\n"
     "                  [--raw-retention SECONDS] [--pipelines on|off]\n"
     "                  [--pipeline-runs N] [--compact-min-files N]\n"
     "                  [--auth-timeout SECONDS] [--idle-timeout SECONDS]\n"
     "                  [--max-unauthenticated N] [--max-unauthenticated-per-address N]\n"
     "                  [--http-max-connections N] [--pg-max-connections N]\n"
     "                  [--reserved-admin-connections N] [--metrics-public]\n"
     "                  [--allow-cidr CIDR[,CIDR...]] [--allow-cidr-http ...]\n"
     "                  [--allow-cidr-pg ...]\n\n"
     "Serves the lake in DIR (default ./tarn-data, created if missing) on ADDR:PORT\n"
     "(default 127.0.0.1:9470): the S3 API (path-style, SigV4), the REST API under /v1,\n"
     "/metrics (Prometheus) and /healthz; and the PostgreSQL wire protocol on\n"
     "--pg-listen (default 127.0.0.1:5470; `off` to not listen) for psql, drivers and BI\n"
     "tools, which log in with a tarn user's password (SCRAM-SHA-256). With --tls-cert and\n"
     "--tls-key (PEM; the certificate file may hold the chain) the HTTP port serves HTTPS\n"
     "only and PostgreSQL clients may ask for TLS (sslmode=require/verify-full); TLS 1.2 or\n"
     "later. `tarn init --self-signed` makes a certificate to try it; serve uses TLS only\n"
     "when given the flags. Listening beyond loopback without TLS logs a warning. Stops on\n"
     "SIGINT or SIGTERM after in-flight requests finish. Logs are JSON lines on stderr. SQL queries\n"
     "run N at a time (default: one per core), wait for a slot at most --queue-wait\n"
     "(default 30 s) and run at most --query-timeout (default 300 s). --query-memory\n"
     "(512MB, 2GB) is each slot's share of the engine's memory, whose limit is N times it\n"
     "(default: DuckDB's, 80% of the RAM, shared by the slots); what does not fit spills\n"
     "to DIR/tmp/duckdb. Objects landing in raw are promoted to cleaned or quarantine\n"
     "(see `tarn help quarantine`); --promotion off leaves raw as it is. --raw-retention\n"
     "keeps a promoted object in raw that long (default 0: removed at once) for tables\n"
     "whose policy does not say. Pipelines (see `tarn help pipeline`) run on their\n"
     "triggers, --pipeline-runs at once (default 2), each SQL step as its pipeline's\n"
     "owner; a run the server was in the middle of when it stopped runs again at the next\n"
     "start. --pipelines off runs none (specs can still be applied and read; runs and\n"
     "compaction are refused). --compact-min-files N compacts a partition of a table that\n"
     "pipelines write once it has more than N small files after a commit (default 0:\n"
     "never on its own; `tarn table compact` does it on demand).\n\n"
     "/metrics wants a metrics token (`tarn help metrics`) or an admin; --metrics-public\n"
     "(loopback only) opens it. --allow-cidr 10.0.0.0/8,fd00::/8 serves only those\n"
     "clients (-http/-pg: one port); others are closed at accept and audited.\n\n"
     "Connections: one that has not authenticated (no correctly signed HTTP request yet,\n"
     "or a PostgreSQL login not finished) is closed after --auth-timeout (default 10 s);\n"
     "an authenticated HTTP connection after --idle-timeout idle (default 300 s). Each\n"
     "port holds at most --max-unauthenticated unauthenticated connections (default 256),\n"
     "--max-unauthenticated-per-address from one client address (default 64): a new one\n"
     "over either closes the oldest unauthenticated one instead of being refused.\n"
     "Authenticated connections are capped by --http-max-connections (default 1000; idle\n"
     "keep-alive connections are closed first to make room) and --pg-max-connections\n"
     "(default 100 sessions); --reserved-admin-connections of each (default 3) only the\n"
     "admin may take (non-admins are refused: HTTP 503 SlowDown, SQLSTATE 53300). After 3\n"
     "wrong passwords from one address, that user's logins from that address wait 0.25 s,\n"
     "doubling to 8 s, until one succeeds; other addresses are not slowed.\n"},
    {"user", cmd_user, "create, list and delete users",
     "usage: tarn user create NAME [--admin] [--password PW] [--json]\n"
     "       tarn user list [--json]\n"
     "       tarn user delete NAME\n\n"
     "Manages users through the server (admin only). Without --password a password is\n"
     "generated and shown once. Give the user an access key with `tarn key create NAME`.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"whoami", cmd_whoami, "the user and access key the CLI's requests are signed with",
     "usage: tarn whoami [--json]\n\n"
     "Asks the server who the CLI's credentials belong to: the user, whether an admin, and\n"
     "the access key (TARN_ACCESS_KEY, TARN_CREDENTIALS_FILE or ./tarn-data/admin.credentials).\n"},
    {"metrics", cmd_metrics, "tokens with which Prometheus scrapes /metrics",
     "usage: tarn metrics token create [--name NAME] [--json]\n"
     "       tarn metrics token list [--json]\n"
     "       tarn metrics token delete NAME [--json]\n\n"
     "A metrics token is a bearer token that may read /metrics and nothing else, for a\n"
     "scraper such as Prometheus (`authorization: {type: Bearer, credentials: TOKEN}` in\n"
     "its scrape_config). `create` shows the token once (NAME defaults to prometheus; the\n"
     "catalog keeps only its SHA-256); `delete` refuses it from the next scrape on. Admins\n"
     "only, or holders of ALL on IAM; every change and every scrape is in the audit trail.\n"
     "On a loopback-only set-up, `tarn serve --metrics-public` serves /metrics without any\n"
     "authentication instead.\n"},
    {"key", cmd_key, "create, rotate, deactivate and delete access keys",
     "usage: tarn key create USER [--allow-cidr CIDR[,CIDR...]] [--json]\n"
     "       tarn key list USER [--json]\n"
     "       tarn key rotate USER [--delete-old] [--json]\n"
     "       tarn key deactivate|activate USER ACCESS_KEY [--json]\n"
     "       tarn key delete USER ACCESS_KEY\n\n"
     "Access keys sign requests (AWS Signature V4) for S3, Firehose, REST and the CLI. The\n"
     "secret is shown once, at creation. `list` shows each key's status (active or\n"
     "inactive), when it was created and when it was last used. `rotate` creates a new key\n"
     "(its secret shown once) and deactivates every other active key of the user; with\n"
     "--delete-old it deletes them instead. A deactivated key is refused from the next\n"
     "request on (InvalidAccessKeyId) until `activate` brings it back. Admins only, or\n"
     "holders of ALL on IAM; every change is in the audit trail. A key created with\n"
     "--allow-cidr 10.1.0.0/16 signs only requests from those addresses (AccessDenied\n"
     "from elsewhere); `list` shows them (FROM).\n"
     "Options: --endpoint URL (or TARN_ENDPOINT), --ca-bundle FILE.\n"},
    {"audit", cmd_audit, "show and verify the audit trail",
     "usage: tarn audit tail [-n N] [--json] [--data DIR]\n"
     "       tarn audit verify [--strict] [--json] [--data DIR]\n\n"
     "Every request, allowed or denied, is one audit record, hash-chained to the one\n"
     "before; each segment ends with a digest signed by the lake's audit key. `tail`\n"
     "prints the last N records (default 20); `verify` checks every hash and signature,\n"
     "exits 0 when the trail is intact, and otherwise names the first bad record.\n"
     "Records lost to a power failure are recovered at start-up: the server keeps every\n"
     "valid record and writes a signed recovery line naming the segment, the damaged\n"
     "byte range and the records lost. `verify` prints each such gap and still exits 0;\n"
     "with --strict any gap makes it exit 1. --json prints {ok, records, segments,\n"
     "gaps: [...]}. A missing segment or a changed record always fails.\n"},
    {"tables", cmd_tables, "list the catalog's tables",
     "usage: tarn tables [ZONE[.DATABASE]] [--json]\n\n"
     "Lists the tables you may see, with format, files, rows (where known), size, schema\n"
     "version, status and owner. Tables appear on their own when files land under\n"
     "<zone>/<database>/<table>/ (hive folders such as dt=2024-01-01/ become partitions).\n"},
    {"table", cmd_table, "show, create and describe a table",
     "usage: tarn table show ZONE.DB.TABLE [--json]\n"
     "       tarn table versions|files|partitions|snapshots ZONE.DB.TABLE [--json]\n"
     "       tarn table rollback ZONE.DB.TABLE --to SNAPSHOT [--json]\n"
     "       tarn table compact ZONE.DB.TABLE [--target-mb N] [--json]\n"
     "       tarn table create ZONE.DB.TABLE --format csv|tsv|jsonl|json|parquet\n"
     "                         --schema 'id BIGINT NOT NULL, name VARCHAR, ...'\n"
     "                         [--partition-keys 'dt DATE'] [--option delimiter=;]\n"
     "                         [--description D] [--owner O] [--steward S] [--tag T]...\n"
     "       tarn table set ZONE.DB.TABLE [--description D] [--owner O] [--steward S]\n"
     "                      [--tag T]... [--untag T]...\n"
     "                      [--column COL [--description D] [--sensitivity S] [--tag T]...]...\n"
     "                      [--promotion-mode additive|strict|any] [--required-columns A,B]\n"
     "                      [--not-null-keys ID] [--raw-retention SECONDS]\n\n"
     "`show` prints the table's metadata and columns; `versions` the schema history with what\n"
     "changed; `files` every file with its status and, for files that could not be\n"
     "registered, the reason; `snapshots` the versions of the table's file list, with the\n"
     "operation that made each and its lineage (pipeline@version, run, first input\n"
     "table@snapshot; or what a rollback or compaction did).\n"
     "`rollback` and `compact` work on tables that pipelines write: `rollback --to N`\n"
     "makes a new snapshot with the files of snapshot N (later snapshots stay, so it can be\n"
     "undone the same way); `compact` merges each partition's small Parquet files into\n"
     "files of about --target-mb (default 128) as a new snapshot, leaving query results\n"
     "as they were. Both need ALTER on the table (or its database) and the second a\n"
     "server with pipelines on.\n"
     "`create` declares a table with a fixed schema: files landing in its folder are then\n"
     "checked against it instead of changing it. `set` edits business metadata; options\n"
     "after --column COL apply to that column. Sensitivity is public, internal,\n"
     "confidential or restricted. A two-part name (db.table) means the curated zone.\n"
     "The promotion options set the policy objects landing in raw.DB.TABLE must pass to\n"
     "move to cleaned.DB.TABLE (set on the raw or the cleaned table alike): the schema mode\n"
     "(additive, the default: new columns allowed, no type change or removed column;\n"
     "strict: the same columns and types; any), columns every file must have, key columns\n"
     "that must never be NULL, and how long raw keeps a promoted object (empty: the\n"
     "server's --raw-retention).\n"},
    {"search", cmd_search, "find tables by words, tags, owners",
     "usage: tarn search [WORDS...] [--zone Z] [--database D] [--tag T] [--owner O]\n"
     "                   [--sensitivity S] [--limit N] [--json]\n\n"
     "Full-text search over table names, descriptions, column names and descriptions,\n"
     "tags, owners and stewards, best matches first. Words match as prefixes (cust finds\n"
     "customer). Only tables you may describe are listed.\n"},
    {"crawl", cmd_crawl, "register new, changed and removed files now",
     "usage: tarn crawl [ZONE[/PREFIX]] [--force] [--json]\n\n"
     "The catalog follows uploads on its own; a crawl re-checks a zone (raw, cleaned,\n"
     "curated; default all) or a key prefix against what is stored: it registers new or\n"
     "changed files, forgets removed ones, and evolves schemas. --force re-reads files\n"
     "that did not change (after a classifier upgrade, say). Shows progress on a terminal.\n"},
    {"sql", cmd_sql, "run a SQL query over the lake's tables",
     "usage: tarn sql \"SELECT ...\" [--format table|csv|json|parquet]\n"
     "       tarn sql -c \"SELECT ...\" | -f FILE.sql | -- \"-- a comment ...\"\n"
     "       tarn sql                 (a prompt; or statements from a pipe: tarn sql < q.sql)\n\n"
     "Runs one SELECT over the catalog's tables, named zone.database.table (database.table\n"
     "means the curated zone), and prints the result as an aligned table (default), CSV or\n"
     "JSON, or writes it as a Parquet file to stdout, which must then be a file or a pipe\n"
     "(tarn sql \"...\" --format parquet > answer.parquet). Tables read their files in their\n"
     "catalog schema. Only SELECT runs: table functions that read files, paths or URLs as\n"
     "tables, COPY, ATTACH, SET and the like are refused with the reason. Without a query it\n"
     "reads statements ended by ';' from a prompt with line editing and history\n"
     "(~/.tarn_history; \\q quits) or from a pipe.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"grant", cmd_grant, "give a user, group or role a permission",
     "usage: tarn grant PERMISSION[,PERMISSION] ON KIND NAME [(COLUMNS) | EXCLUDING (COLUMNS)]\n"
     "                  TO PRINCIPAL [WITH GRANT OPTION] [--json]\n\n"
     "Grants follow the Lake Formation model. KIND NAME is one of\n"
     "  TABLE zone.db.table (or zone.db.*)  SELECT, INSERT, DESCRIBE, ALTER, DROP, ALL\n"
     "  DATABASE zone.db                    CREATE_TABLE, DESCRIBE, ALTER, DROP, ALL\n"
     "  FILTER zone.db.table.filter         SELECT (the filter's rows and columns)\n"
     "  LOCATION bucket[/prefix]            READ, WRITE, ALL (the S3 API)\n"
     "  IAM                                 ALL (manage users, groups, roles, grants)\n"
     "PRINCIPAL is user:NAME, group:NAME or role:NAME. SELECT on a table may name its\n"
     "columns, or the columns it leaves out. WITH GRANT OPTION lets the grantee grant it on.\n"
     "Example: tarn grant SELECT ON TABLE curated.sales.orders (order_id, amount) TO user:alice\n"
     "Users other than the admin may do only what a grant to them, their groups or their\n"
     "roles allows; a change counts from their next request.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"revoke", cmd_revoke, "take a permission back",
     "usage: tarn revoke PERMISSION[,PERMISSION] ON KIND NAME FROM PRINCIPAL [--json]\n\n"
     "Removes grants made with `tarn grant` (see `tarn help grant`); the principal's next\n"
     "request is refused. Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"grants", cmd_grants, "list grants",
     "usage: tarn grants [PRINCIPAL | RESOURCE] [--json]\n\n"
     "Lists every grant (the admin, or a holder of ALL on IAM), or one principal's\n"
     "(user:alice) or one resource's (table:curated.sales.orders). Other users see their\n"
     "own. Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"group", cmd_group, "create groups and manage their members",
     "usage: tarn group create|delete NAME\n"
     "       tarn group add|remove NAME USER\n"
     "       tarn group list [--json]\n\n"
     "A group's grants apply to each of its members. Deleting a group deletes its grants.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"role", cmd_role, "create roles and give them to users or groups",
     "usage: tarn role create|delete NAME\n"
     "       tarn role assign|unassign NAME user:USER|group:GROUP\n"
     "       tarn role list [--json]\n\n"
     "A role is a named set of grants (grant to role:NAME) held by users and groups.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"filter", cmd_filter, "define data filters: rows and columns of a table",
     "usage: tarn filter create ZONE.DB.TABLE NAME [--row-filter SQL]\n"
     "                          [--columns a,b | --exclude c,d]\n"
     "       tarn filter delete ZONE.DB.TABLE NAME\n"
     "       tarn filter list [--json]\n\n"
     "A data filter is a row predicate (SQL over the table's columns) and a column set,\n"
     "granted with `tarn grant SELECT ON FILTER zone.db.table.NAME TO ...`. Its holders'\n"
     "queries see only those rows and columns, through aggregates and joins alike.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"quarantine", cmd_quarantine, "list and release objects that failed promotion",
     "usage: tarn quarantine list [ZONE.DB.TABLE] [--json]\n"
     "       tarn quarantine release KEY [--json]\n\n"
     "Objects landing in raw are checked by their table's promotion policy: they must read\n"
     "fully in their format, have a schema the table's mode allows, not be empty, and not\n"
     "repeat the bytes of a file already in cleaned (and have the required columns and no\n"
     "NULL keys, when the policy names them). Those that pass move to cleaned under the\n"
     "same key; the others move to the quarantine zone with KEY.reason.json beside them\n"
     "(the check, the detail, the line or row where known, the table and the policy).\n"
     "`list` prints them (key, table, check, line, detail, time); `release` sends KEY\n"
     "through promotion again once the table's policy or schema is fixed (`tarn table set\n"
     "... --promotion-mode any`): it moves to cleaned if it passes, else stays with a new\n"
     "reason. Admins only. Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"stream", cmd_stream, "create delivery streams and put records into them",
     "usage: tarn stream create NAME [--prefix P] [--error-prefix P] [--bucket ZONE]\n"
     "                          [--compression UNCOMPRESSED|GZIP|ZSTD] [--buffer-mb N]\n"
     "                          [--buffer-seconds N] [--partition-query JQ]\n"
     "                          [--transform SQL] [--parquet-table [ZONE.]DB.TABLE]\n"
     "                          | [--config FILE]\n"
     "       tarn stream list [--json] | describe NAME | delete NAME\n"
     "       tarn stream put NAME < records.ndjson\n\n"
     "A delivery stream takes records (Firehose's API on the HTTP port, POST\n"
     "/v1/streams/NAME/records, or `tarn stream put`), acknowledges each once it is on disk,\n"
     "and delivers them in files under the prefix in a zone (default raw) when SizeInMBs\n"
     "(--buffer-mb, 1-128, default 5) have gathered or the oldest record is\n"
     "IntervalInSeconds old (--buffer-seconds, 0-900, default 300). The prefix may use\n"
     "!{timestamp:yyyy-MM-dd} and !{partitionKeyFromQuery:KEY} with --partition-query\n"
     "'{KEY: .path.to.field}' (a jq 1.6 program). --parquet-table converts records to\n"
     "Parquet with a catalog table's schema. --transform runs one SELECT over each batch's\n"
     "records (the relation `records`: projection, filter, casts) before partitioning and\n"
     "conversion, e.g.\n"
     "--transform \"SELECT id, lower(page) AS page FROM records WHERE page IS NOT NULL\".\n"
     "Records that fail go to quarantine under --error-prefix with the\n"
     "reason. --config FILE takes an ExtendedS3DestinationConfiguration (or a whole\n"
     "CreateDeliveryStream request) as JSON. `put` reads one JSON record per line.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT). See docs/streams.md.\n"},
    {"source", cmd_source, "bring databases into the lake (snapshot, then every change)",
     "usage: tarn source create NAME --type postgres|mysql --config FILE [--json]\n"
     "       tarn source update NAME --config FILE [--json]\n"
     "       tarn source list [--json]\n"
     "       tarn source show NAME [--version N] [--json]\n"
     "       tarn source status NAME [--json]\n"
     "       tarn source pause|resume NAME [--json]\n"
     "       tarn source run NAME [--wait] [--resnapshot] [--json]\n"
     "       tarn source runs NAME [--limit N] [--json]\n"
     "       tarn source delete NAME [--json]\n\n"
     "A source reads a database's tables into raw/<target database>/<table>/ as change\n"
     "files: the tables' columns plus _op (r snapshot, c insert, u update, d delete,\n"
     "t truncate), _source_pos (sorts in commit order), _commit_ts, _txid and _old_key. In\n"
     "cdc mode it takes a consistent snapshot, then every change exactly once, also across\n"
     "restarts of tarn; in snapshot mode each run reads the tables whole (each table's\n"
     "image starts with a t row); in incremental mode each run reads the rows whose\n"
     "watermark column grew since the last run. Snapshot and incremental sources run on\n"
     "their schedule (a cron expression) and on `tarn source run`.\n\n"
     "  create   checks FILE (YAML or JSON; - for stdin) against the type's keys below, then\n"
     "           the database itself (reachable, password, privileges, wal_level, keys),\n"
     "           and records the source only when all is well; it starts at once\n"
     "  update   records FILE as the source's next version; the source restarts with it\n"
     "  list     every source with its state, rows, lag and cursor\n"
     "  show     the status and the configuration (secrets are never shown back)\n"
     "  status   state (snapshotting with progress per table, reading, streaming, idle,\n"
     "           paused, failed with the reason), cursor, lag, rows, rows per second, last\n"
     "           error; the schedule, the next run and the watermarks\n"
     "  pause    stops reading (the cursor keeps its place); resume goes on from it\n"
     "  run      queues a run now: a snapshot or an incremental read (their modes), or a\n"
     "           start after a failure; --resnapshot takes the snapshot again (incremental:\n"
     "           reads every row again); --wait follows it to its end\n"
     "  runs     the source's runs: trigger (create, manual, schedule), rows, files\n"
     "  delete   stops the source and drops its replication slot; its files stay\n\n"
     "Managing sources needs ALL or SOURCE on IAM (`tarn grant SOURCE ON IAM TO user:x`).\n"
     "Options: --endpoint URL (or TARN_ENDPOINT). See docs/sources.md.\n"},
    {"blueprint", cmd_blueprint, "a source and its current-state tables from one document",
     "usage: tarn blueprint apply FILE [--json]\n"
     "       tarn blueprint list [--json]\n"
     "       tarn blueprint show NAME [--json]\n"
     "       tarn blueprint delete NAME [--json]\n\n"
     "A blueprint names a source (type, connection, tables), a target database and format,\n"
     "per-table partitioning and the mode (cdc, or snapshot or incremental with a\n"
     "schedule). Applying it makes the source NAME, whose\n"
     "change files land in raw.<db>.<table>, and one pipeline NAME_<table> per table that\n"
     "keeps curated.<db>.<table> equal to the source table (mode apply_changes, run on new\n"
     "changes). Schema public is dropped from table names; others become <schema>_<table>.\n\n"
     "  apply    creates the blueprint, or applies a changed one (the source's next\n"
     "           version; pipelines added, changed, or removed with their tables' pipelines)\n"
     "  list     every blueprint with its source and pipelines\n"
     "  show     what it generated, and the blueprint as recorded (secrets sealed)\n"
     "  delete   removes the source and the pipelines it made; their tables and files stay\n\n"
     "Keys of the file:\n"
     "  blueprint             its name (a-z, 0-9, _; at most 40)\n"
     "  source                type, connection, tables and any other key of the source\n"
     "                        type (`tarn help source`) but mode, format and target\n"
     "  mode                  cdc (default)\n"
     "  target                {database (default: the name), format: parquet|jsonl}\n"
     "  tables                per schema.table: {partition_by, keys, sort_by}; keys default\n"
     "                        to the table's primary key\n"
     "  batch_window_seconds  changes landing within it make one pipeline run (default 5)\n\n"
     "Applying and deleting blueprints needs ALL or SOURCE on IAM; the pipelines are the\n"
     "applier's. Options: --endpoint URL (or TARN_ENDPOINT). See docs/sources.md and\n"
     "examples/blueprints/.\n"},
    {"pipeline", cmd_pipeline, "apply, run and follow pipelines (SQL steps, quality rules)",
     "usage: tarn pipeline apply FILE [--json]\n"
     "       tarn pipeline list [--json]\n"
     "       tarn pipeline show NAME [--version N] [--spec] [--json]\n"
     "       tarn pipeline run NAME [--wait] [--replay] [--json]\n"
     "       tarn pipeline replay NAME [--wait] [--json]\n"
     "       tarn pipeline runs NAME [--limit N] [--json]\n"
     "       tarn pipeline logs NAME [--run N|latest] [--json]\n"
     "       tarn pipeline delete NAME\n\n"
     "A pipeline is a YAML spec (docs/pipelines.md, examples/pipelines/): SQL steps that\n"
     "read lake tables and write curated tables, quality rules, and triggers (new data in\n"
     "a table, a cron schedule, another pipeline's success). Its SQL runs with its owner's\n"
     "permissions.\n"
     "  apply    records FILE (- for stdin) as the pipeline's next version, or says it is\n"
     "           unchanged; a mistake is refused with the path of the value at fault\n"
     "           (steps[1].target.mode: ...). The owner is the spec's `owner`, else you.\n"
     "  list     the pipelines you own (all of them for the admin and holders of ALL on\n"
     "           IAM) with their triggers, last and next run\n"
     "  show     owner, triggers, retries, the steps in the order a run takes them (kind,\n"
     "           target table, write mode, dependencies), bookmarks of incremental\n"
     "           pipelines and the versions; --version N an earlier one, --spec its YAML\n"
     "  run      queues a run (one queued run at a time: asking again names the queued\n"
     "           one). --wait follows it to its end, showing its steps on a terminal, and\n"
     "           exits 1 with the error when it fails. --replay rebuilds the outputs from\n"
     "           everything in cleaned, ignoring bookmarks\n"
     "  replay   the same as run --replay\n"
     "  runs     the latest runs (default 20, --limit up to 1000): status, trigger,\n"
     "           attempt, start, duration, rows written, rows quarantined, error\n"
     "  logs     the log of a run (default the latest)\n"
     "  delete   stops triggering and listing the pipeline (refused while it runs); its\n"
     "           tables, their snapshots and its run history stay\n"
     "A table a pipeline writes keeps every snapshot: `tarn table snapshots` shows each\n"
     "one's lineage and `tarn table rollback` restores an earlier one.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"version", cmd_version, "print tarn's and DuckDB's versions",
     "usage: tarn version [--json]\n"},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *out)
{
    fprintf(out, "tarn: a data lake in one binary\n\nusage: tarn COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-11s %s\n", "help", "show help for a command (tarn help CMD)");
    fprintf(out, "\nClient commands find the server in --endpoint or TARN_ENDPOINT (default\n"
                 "http://127.0.0.1:9470) and credentials in TARN_ACCESS_KEY/TARN_SECRET_KEY,\n"
                 "TARN_CREDENTIALS_FILE, or ./tarn-data/admin.credentials. An https://\n"
                 "endpoint is checked against the system's CAs, or those in the PEM file given\n"
                 "with --ca-bundle FILE or TARN_CA_BUNDLE (a self-signed certificate itself).\n");
}

static void help(const command_t *c)
{
    fputs(c->help, stdout);
    const ingest_plugin_t *p = ingest_plugin_find(c->name);
    buf_t b = BUF_INIT;
    if (p && !ingest_plugin_help(&b, p))
        printf("\n%s", b.data);
    /* `tarn help source`: the keys of every type of source. */
    size_t n;
    const ingest_plugin_t *const *all = ingest_plugin_list(&n);
    for (size_t i = 0; !strcmp(c->name, "source") && i < n; i++) {
        buf_reset(&b);
        if (all[i]->start && !ingest_plugin_help(&b, all[i]))
            printf("\n%s", b.data);
    }
    buf_free(&b);
}

static const command_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int cli_usage(const char *cmd)
{
    const command_t *c = find(cmd);
    const char *end = c ? strstr(c->help, "\n\n") : NULL;
    if (c)
        fprintf(stderr, "%.*s\n", end ? (int)(end - c->help) : (int)strlen(c->help),
                c->help);
    fprintf(stderr, "(see `tarn help %s`)\n", cmd);
    return 2;
}

/* --ca-bundle FILE (or --ca-bundle=FILE) may come before or after any client command: it
 * is taken out of argv here and handed to the HTTP client as TARN_CA_BUNDLE, so every command's own
 * options stay as they are. */
static int take_ca_bundle(int *argc, char **argv)
{
    int j = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--ca-bundle")) {
            if (i + 1 == *argc) {
                fprintf(stderr, "tarn: --ca-bundle needs a file\n");
                return -1;
            }
            v = argv[++i];
        } else if (!strncmp(argv[i], "--ca-bundle=", 12)) {
            v = argv[i] + 12;
        } else {
            argv[j++] = argv[i];
            continue;
        }
        if (setenv("TARN_CA_BUNDLE", v, 1))
            return -1;
    }
    *argc = j;
    argv[j] = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    if (take_ca_bundle(&argc, argv))
        return 2;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2) {
            const command_t *c = find(argv[2]);
            if (!c) {
                fprintf(stderr, "tarn help: no command '%s'\n", argv[2]);
                return 2;
            }
            help(c);
            return 0;
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version"))
        name = "version";
    const command_t *c = find(name);
    if (!c) {
        fprintf(stderr, "tarn: unknown command '%s'\n\n", name);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            help(c);
            return 0;
        }

    umask(027); /* the lake's files are never world-readable */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = c->run(argc - 2, argv + 2);
    curl_global_cleanup();
    return rc;
}
