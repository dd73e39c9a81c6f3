/* The authorization part of bench/authz.py: builds a lake database with N principals (users
 * in groups) holding G grants in all, then times authz_check for a principal's allowed and
 * denied table reads and location reads, and prints the latencies as JSON (microseconds:
 * p50, p99, max) beside the same for the admin, whose check needs no grant lookup. */
#include "govern/authz.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *label, double *v, int n, int last)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("  \"%s\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}%s\n", label, v[n / 2],
           v[n * 99 / 100], v[n - 1], last ? "" : ",");
}

int main(int argc, char **argv)
{
    int principals = argc > 1 ? atoi(argv[1]) : 1000, ngrants = argc > 2 ? atoi(argv[2]) : 10000;
    int n = argc > 3 ? atoi(argv[3]) : 200000;
    char dir[] = "/tmp/tarn-authz-bench-XXXXXX", path[128];
    tarn_err_t err = {0};
    db_t *db;
    iam_t *iam;
    grants_t *g;
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/tarn.db", dir);
    if (db_open(&db, path, &err) || iam_open(&iam, db, NULL, &err) || grants_open(&g, db, &err)) {
        fprintf(stderr, "authz_check: %s\n", err.msg);
        return 1;
    }
    /* Users in groups of 10; each principal (users and groups alike) holds its share of
     * table SELECTs and location READs. */
    int users = principals * 10 / 11, groups = principals - users;
    db_exec(db, "BEGIN", &err);
    for (int i = 0; i < users; i++) {
        char u[32];
        snprintf(u, sizeof u, "u%05d", i);
        iam_user_create(iam, u, false, NULL, &err);
    }
    for (int k = 0; k < groups; k++) {
        char gr[32], u[32];
        snprintf(gr, sizeof gr, "g%04d", k);
        grants_group_create(g, gr, &err);
        for (int j = 0; j < 10 && k * 10 + j < users; j++) {
            snprintf(u, sizeof u, "u%05d", k * 10 + j);
            grants_group_add(g, gr, u, &err);
        }
    }
    for (int i = 0; i < ngrants; i++) {
        int who = i % principals;
        char p[40], r[96];
        if (who < users)
            snprintf(p, sizeof p, "user:u%05d", who);
        else
            snprintf(p, sizeof p, "group:g%04d", who - users);
        bool loc = (i / principals) % 4 == 3; /* every principal holds some of each */
        if (loc)
            snprintf(r, sizeof r, "location:raw/db%03d/t%05d/", i % 100, i);
        else
            snprintf(r, sizeof r, "table:curated.db%03d.t%05d", i % 100, i);
        grant_spec_t s = {p, loc ? "READ" : "SELECT", r, NULL, NULL, false};
        if (grants_grant(g, &s, "admin", NULL, &err)) {
            fprintf(stderr, "authz_check: %s\n", err.msg);
            return 1;
        }
    }
    db_exec(db, "COMMIT", &err);
    /* user u00050 holds grant 50 directly and its group g0005's (principal users + 5) */
    int target = 50;
    char allowed_table[96], allowed_loc[128];
    snprintf(allowed_table, sizeof allowed_table, "table/curated.db%03d.t%05d", target % 100, target);
    int loc_i = target + 3 * principals; /* a location grant of the same principal */
    snprintf(allowed_loc, sizeof allowed_loc, "raw/db%03d/t%05d/part-1.csv", loc_i % 100, loc_i);
    authz_principal_t p = {.name = "u00050", .grants = g}, admin = {.name = "admin", .admin = true};
    if (authz_check(&p, "sql:Select", allowed_table, NULL) ||
        authz_check(&p, "s3:GetObject", allowed_loc, NULL) ||
        !authz_check(&p, "sql:Select", "table/curated.db000.t00001", NULL)) {
        fprintf(stderr, "authz_check: the checks do not decide as expected\n");
        return 1;
    }
    double *v = malloc((size_t)n * sizeof *v);
    const struct {
        const char *label;
        const authz_principal_t *who;
        const char *action, *res;
    } cases[] = {
        {"select_allowed", &p, "sql:Select", allowed_table},
        {"select_denied", &p, "sql:Select", "table/curated.db000.t00001"},
        {"s3_get_allowed", &p, "s3:GetObject", allowed_loc},
        {"admin", &admin, "sql:Select", allowed_table},
    };
    printf("{\"principals\": %d, \"grants\": %d, \"checks\": %d,\n", principals, ngrants, n);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (int i = 0; i < n; i++) {
            double t0 = now_us();
            authz_check(cases[c].who, cases[c].action, cases[c].res, NULL);
            v[i] = now_us() - t0;
        }
        report(cases[c].label, v, n, c + 1 == sizeof cases / sizeof *cases);
    }
    printf("}\n");
    free(v);
    grants_close(g);
    iam_close(iam);
    db_close(db);
    fs_remove_tree(dir);
    return 0;
}
