/* The baseline of the SQL benchmark (bench/sql.py): DuckDB through its C API in this
 * process, on the lake's Parquet files, as a user of the library would run the queries.
 * It also writes the benchmark's data (COPY ... TO '...parquet') and exports it as CSV
 * for PostgreSQL, so one tool does everything that talks to DuckDB directly.
 *
 * Opens an in-memory database (DuckDB's default configuration: one thread per core, as
 * tarn's query engine; THREADS overrides it), prints
 *   {"ready": true, "version": "v1.4.4", "threads": 2}
 * then reads commands from stdin, one per line, and answers each with one JSON line:
 *   EXEC <sql>    runs it once                -> {"ok": true}
 *   QUERY <sql>   runs it and fetches every chunk of its (materialized) result
 *                                             -> {"ok": true, "ms": 12.345, "rows": 100}
 * Failures answer {"ok": false, "error": "..."}. The clock (CLOCK_MONOTONIC) of QUERY
 * covers the statement, fetching every chunk and freeing the result.
 *
 * usage: sql_baseline [THREADS] */
#include <duckdb.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints s as a JSON string. */
static void put_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void answer_error(const char *msg)
{
    fputs("{\"ok\": false, \"error\": ", stdout);
    put_json_string(msg ? msg : "unknown error");
    fputs("}\n", stdout);
}

/* Runs sql; with timed, fetches every chunk and reports the time and row count. */
static void run(duckdb_connection con, const char *sql, bool timed)
{
    duckdb_result res;
    double t0 = now_ms();
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        answer_error(duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return;
    }
    unsigned long long rows = 0;
    duckdb_data_chunk chunk;
    while (timed && (chunk = duckdb_fetch_chunk(res)) != NULL) {
        rows += (unsigned long long)duckdb_data_chunk_get_size(chunk);
        duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_destroy_result(&res);
    double ms = now_ms() - t0;
    if (timed)
        printf("{\"ok\": true, \"ms\": %.3f, \"rows\": %llu}\n", ms, rows);
    else
        puts("{\"ok\": true}");
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (atoi(argv[1]) < 1 || atoi(argv[1]) > 256))) {
        fprintf(stderr, "usage: %s [THREADS]   (THREADS: 1 to 256; default one per core)\n",
                argv[0]);
        return 2;
    }
    duckdb_database db;
    duckdb_config cfg = NULL;
    char *open_err = NULL;
    if (duckdb_create_config(&cfg) == DuckDBError) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (argc == 2)
        duckdb_set_config(cfg, "threads", argv[1]);
    if (duckdb_open_ext(":memory:", &db, cfg, &open_err) == DuckDBError) {
        fprintf(stderr, "duckdb_open: %s\n", open_err ? open_err : "unknown error");
        return 1;
    }
    duckdb_destroy_config(&cfg);
    duckdb_connection con;
    if (duckdb_connect(db, &con) == DuckDBError) {
        fprintf(stderr, "duckdb_connect failed\n");
        return 1;
    }
    long long threads = 0;
    duckdb_result res;
    if (duckdb_query(con, "SELECT current_setting('threads')::BIGINT", &res) == DuckDBSuccess)
        threads = (long long)duckdb_value_int64(&res, 0, 0);
    duckdb_destroy_result(&res);
    printf("{\"ready\": true, \"version\": ");
    put_json_string(duckdb_library_version());
    printf(", \"threads\": %lld}\n", threads);
    fflush(stdout);

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n)
            continue;
        if (!strncmp(line, "EXEC ", 5))
            run(con, line + 5, false);
        else if (!strncmp(line, "QUERY ", 6))
            run(con, line + 6, true);
        else
            answer_error("commands are EXEC <sql> and QUERY <sql>, one per line");
        fflush(stdout);
    }
    free(line);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return 0;
}
