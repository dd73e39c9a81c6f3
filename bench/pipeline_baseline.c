/* The baseline of the pipeline benchmark (bench/pipeline.py): DuckDB through its C API in
 * this process, as a user of the library would turn CSV extracts into partitioned Parquet
 * with one COPY statement. It also writes the benchmark's CSV files and reads a Parquet
 * output back for the correctness check, so one tool does everything that talks to
 * DuckDB directly. The database is in memory with DuckDB's default configuration (one
 * thread per core, as tarn's query engine).
 *
 *   gen OUT_DIR N_FILES ROWS
 *       writes ROWS order lines as N_FILES daily extracts OUT_DIR/orders-2024-03-DD.csv
 *       (with a header), deterministically (values are hashes of the row number); prints
 *       {"files": [...], "rows": N, "bytes": N, "seconds": S}
 *   copy OUT_DIR QUERY CSV_FILE...
 *       runs COPY (QUERY) TO OUT_DIR (FORMAT parquet, COMPRESSION zstd, PARTITION_BY
 *       (order_date)), where {src} in QUERY stands for read_csv([CSV_FILE, ...]); prints
 *       {"seconds": S, "rows": N, "files": N, "bytes": N, "threads": N, "version": "..."}
 *       (files and bytes: the Parquet files written)
 *   check DIR
 *       reads every Parquet file under DIR (hive partitions); prints
 *       {"rows": N, "sum_qty": N, "sum_amount": "N.NN", "partitions": N}
 *
 * The clock of copy (CLOCK_MONOTONIC) covers the one COPY statement. */
#include <duckdb.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growable string. */
typedef struct {
    char *data;
    size_t len, cap;
} str_t;

static void str_put(str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void str_put(str_t *s, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(s->data ? s->data + s->len : NULL, s->data ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            fprintf(stderr, "formatting failed\n");
            exit(1);
        }
        if (s->data && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = (s->cap ? s->cap : 256);
        while (cap <= s->len + (size_t)n)
            cap *= 2;
        char *d = realloc(s->data, cap);
        if (!d) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        s->data = d;
        s->cap = cap;
    }
}

/* s as a SQL string literal. */
static void str_put_literal(str_t *s, const char *v)
{
    str_put(s, "'");
    for (const char *p = v; *p; p++)
        str_put(s, *p == '\'' ? "''" : "%c", *p);
    str_put(s, "'");
}

/* Prints s as a JSON string. */
static void put_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static duckdb_database db;
static duckdb_connection con;

static void open_db(void)
{
    char *err = NULL;
    if (duckdb_open_ext(":memory:", &db, NULL, &err) == DuckDBError) {
        fprintf(stderr, "duckdb_open: %s\n", err ? err : "unknown error");
        exit(1);
    }
    if (duckdb_connect(db, &con) == DuckDBError) {
        fprintf(stderr, "duckdb_connect failed\n");
        exit(1);
    }
}

/* Runs sql; the result stays in *res (the caller destroys it). Exits on failure. */
static void query(const char *sql, duckdb_result *res)
{
    if (duckdb_query(con, sql, res) == DuckDBError) {
        fprintf(stderr, "%s\n-- in: %.2000s\n", duckdb_result_error(res), sql);
        duckdb_destroy_result(res);
        exit(1);
    }
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (int64_t)st.st_size;
}

/* ---- gen ---- */

/* Each value is drawn from hash(i * 64 + salt), one salt per column: hash(i, salt) would
 * be shorter, but its low bits move together across salts (every row of one region would
 * have the same product), which a modulo keeps. */

/* One of a constant list of n values (a SQL list literal). */
static void put_pick(str_t *s, const char *list, int salt, int n)
{
    str_put(s, "(%s)[CAST(hash(i * 64 + %d) %% %d AS BIGINT) + 1]", list, salt, n);
}

/* Rows lo..hi-1, of the extract of day `day` (0-based) of March 2024. About 3% of a day's
 * lines are late orders of one of the 7 days before; 0.1% have no order id, 0.5% a
 * quantity of 0 or less (returns); e-mails and statuses come in mixed case and spacing. */
static void gen_sql(str_t *s, long long lo, long long hi, int day)
{
    str_put(s, "SELECT CASE WHEN hash(i * 64 + 1) %% 1000 = 0 THEN NULL ELSE 100000000 + i END"
               " AS order_id, ");
    str_put(s,
            "TIMESTAMP '2024-03-01 00:00:00' + to_days(%d - CASE WHEN hash(i * 64 + 2) %% 100 < 3"
            " THEN 1 + CAST(hash(i * 64 + 3) %% 7 AS INTEGER) ELSE 0 END)"
            " + to_seconds(CAST(hash(i * 64 + 4) %% 86400 AS BIGINT)) AS ordered_at, ",
            day);
    str_put(s, "'CUST' || lpad(CAST(hash(i * 64 + 5) %% 500000 AS VARCHAR), 7, '0') AS customer, ");
    str_put(s, "CASE hash(i * 64 + 6) %% 10 WHEN 0 THEN ' ' || e || ' ' WHEN 1 THEN upper(e)"
               " ELSE e END AS email, ");
    put_pick(s,
             "['north', 'south', 'east', 'west', 'central', 'northeast', 'southwest', "
             "'overseas']",
             7, 8);
    str_put(s, " AS region, ");
    put_pick(s,
             "['Widget', 'Widget Pro', 'Gadget', 'Gadget Mini', 'Sprocket', 'Gizmo XL', "
             "'Doohickey', 'Thingamajig', 'Whatsit', 'Contraption', 'Apparatus', "
             "'Device 3000']",
             8, 12);
    str_put(s, " AS product, ");
    str_put(s, "CASE WHEN hash(i * 64 + 9) %% 200 = 0 THEN -CAST(hash(i * 64 + 10) %% 3 AS INTEGER)"
               " ELSE 1 + CAST(hash(i * 64 + 10) %% 20 AS INTEGER) END AS qty, ");
    str_put(s, "CAST((99 + hash(i * 64 + 11) %% 99900) / 100.0 AS DECIMAL(10,2)) AS price, ");
    put_pick(s,
             "['shipped', 'SHIPPED', 'Pending', 'pending', 'delivered', 'Delivered', "
             "'cancelled', 'returned']",
             12, 8);
    str_put(s, " AS status FROM (SELECT i, ");
    put_pick(s,
             "['anna', 'ben', 'carla', 'dev', 'emma', 'felix', 'gita', 'hugo', 'ines', "
             "'jon', 'kai', 'lena', 'mo', 'nora', 'omar', 'pia']",
             13, 16);
    str_put(s, " || '.' || ");
    put_pick(s, "['smith', 'jones', 'garcia', 'muller', 'rossi', 'kim', 'nguyen', 'silva']", 14, 8);
    str_put(s, " || CAST(hash(i * 64 + 15) %% 1000 AS VARCHAR) || '@' || ");
    put_pick(s, "['example.com', 'mail.test', 'shop.example', 'corp.test']", 16, 4);
    str_put(s, " AS e FROM range(%lld, %lld) AS t(i)) AS r", lo, hi);
}

static int cmd_gen(const char *dir, int nfiles, long long rows)
{
    if (mkdir(dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    open_db();
    double t0 = now_s();
    long long bytes = 0;
    str_t files = {0};
    for (int d = 0; d < nfiles; d++) {
        long long lo = rows * d / nfiles, hi = rows * (d + 1) / nfiles;
        char path[4200];
        snprintf(path, sizeof path, "%s/orders-2024-03-%02d.csv", dir, d + 1);
        str_t sql = {0};
        str_put(&sql, "COPY (");
        gen_sql(&sql, lo, hi, d);
        str_put(&sql, ") TO ");
        str_put_literal(&sql, path);
        str_put(&sql, " (FORMAT csv, HEADER true)");
        duckdb_result res;
        query(sql.data, &res);
        duckdb_destroy_result(&res);
        free(sql.data);
        bytes += file_size(path);
        str_put(&files, "%s\"orders-2024-03-%02d.csv\"", d ? ", " : "", d + 1);
    }
    printf("{\"files\": [%s], \"rows\": %lld, \"bytes\": %lld, \"seconds\": %.3f}\n",
           files.data ? files.data : "", rows, bytes, now_s() - t0);
    free(files.data);
    return 0;
}

/* ---- copy ---- */

/* The Parquet files under dir: *n files, *bytes bytes. */
static void count_files(const char *dir, long long *n, long long *bytes)
{
    str_t sql = {0};
    str_put(&sql, "SELECT count(*), coalesce(sum(size), 0) FROM read_blob(");
    str_t glob = {0};
    str_put(&glob, "%s/**/*.parquet", dir);
    str_put_literal(&sql, glob.data);
    str_put(&sql, ")");
    duckdb_result res;
    query(sql.data, &res);
    *n = (long long)duckdb_value_int64(&res, 0, 0);
    *bytes = (long long)duckdb_value_int64(&res, 1, 0);
    duckdb_destroy_result(&res);
    free(sql.data);
    free(glob.data);
}

static int cmd_copy(const char *dir, const char *q, char **files, int nfiles)
{
    open_db();
    str_t src = {0};
    str_put(&src, "read_csv([");
    for (int k = 0; k < nfiles; k++) {
        str_put(&src, "%s", k ? ", " : "");
        str_put_literal(&src, files[k]);
    }
    str_put(&src, "])");
    str_t sql = {0};
    str_put(&sql, "COPY (");
    const char *mark = "{src}";
    for (const char *p = q; *p;) {
        const char *m = strstr(p, mark);
        if (!m) {
            str_put(&sql, "%s", p);
            break;
        }
        str_put(&sql, "%.*s%s", (int)(m - p), p, src.data);
        p = m + strlen(mark);
    }
    str_put(&sql, ") TO ");
    str_put_literal(&sql, dir);
    str_put(&sql, " (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (order_date))");
    duckdb_result res;
    long long threads = 0;
    query("SELECT current_setting('threads')::BIGINT", &res);
    threads = (long long)duckdb_value_int64(&res, 0, 0);
    duckdb_destroy_result(&res);
    double t0 = now_s();
    query(sql.data, &res);
    double secs = now_s() - t0;
    long long rows = (long long)duckdb_rows_changed(&res);
    duckdb_destroy_result(&res);
    long long n, bytes;
    count_files(dir, &n, &bytes);
    printf("{\"seconds\": %.3f, \"rows\": %lld, \"files\": %lld, \"bytes\": %lld, "
           "\"threads\": %lld, \"version\": ",
           secs, rows, n, bytes, threads);
    put_json_string(duckdb_library_version());
    puts("}");
    free(sql.data);
    free(src.data);
    return 0;
}

/* ---- check ---- */

static int cmd_check(const char *dir)
{
    open_db();
    str_t glob = {0}, sql = {0};
    str_put(&glob, "%s/**/*.parquet", dir);
    str_put(&sql, "SELECT count(*), sum(qty), CAST(sum(amount) AS VARCHAR), "
                  "count(DISTINCT order_date) FROM read_parquet(");
    str_put_literal(&sql, glob.data);
    str_put(&sql, ", hive_partitioning = true)");
    duckdb_result res;
    query(sql.data, &res);
    char *sum = duckdb_value_varchar(&res, 2, 0);
    printf("{\"rows\": %lld, \"sum_qty\": %lld, \"sum_amount\": ",
           (long long)duckdb_value_int64(&res, 0, 0), (long long)duckdb_value_int64(&res, 1, 0));
    put_json_string(sum ? sum : "");
    printf(", \"partitions\": %lld}\n", (long long)duckdb_value_int64(&res, 3, 0));
    duckdb_free(sum);
    duckdb_destroy_result(&res);
    free(sql.data);
    free(glob.data);
    return 0;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s gen OUT_DIR N_FILES ROWS\n"
            "       %s copy OUT_DIR QUERY CSV_FILE...   ({src} in QUERY: the CSV files)\n"
            "       %s check DIR\n",
            argv0, argv0, argv0);
    return 2;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc == 5 && !strcmp(argv[1], "gen") && atoi(argv[3]) > 0 && atoi(argv[3]) <= 31 &&
        atoll(argv[4]) > 0)
        rc = cmd_gen(argv[2], atoi(argv[3]), atoll(argv[4]));
    else if (argc >= 5 && !strcmp(argv[1], "copy"))
        rc = cmd_copy(argv[2], argv[3], argv + 4, argc - 4);
    else if (argc == 3 && !strcmp(argv[1], "check"))
        rc = cmd_check(argv[2]);
    else
        return usage(argv[0]);
    if (db) {
        duckdb_disconnect(&con);
        duckdb_close(&db);
    }
    return rc;
}
