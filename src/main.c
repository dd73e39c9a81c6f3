/* `tarn`: command-line dispatch. One table names each command, its one-line summary and
 * the help text `tarn help CMD` prints. */
#include "cli/commands.h"

#include <curl/curl.h>
#include <stdio.h>
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
     "usage: tarn init [--data DIR]\n\n"
     "Creates a lake in DIR (default ./tarn-data): the catalog database, the zones raw,\n"
     "cleaned, curated and quarantine, the keyring, and the admin user. The admin's access\n"
     "key, secret key and password are printed once and written to DIR/admin.credentials\n"
     "(mode 0600, AWS shared-credentials format, so AWS_SHARED_CREDENTIALS_FILE can use it).\n"},
    {"serve", cmd_serve, "run the server (S3, REST, metrics) on a lake",
     "usage: tarn serve [--data DIR] [--listen ADDR:PORT]\n\n"
     "Serves the lake in DIR (default ./tarn-data, created if missing) on ADDR:PORT\n"
     "(default 127.0.0.1:9470): the S3 API (path-style, SigV4), the REST API under /v1,\n"
     "/metrics (Prometheus) and /healthz. Stops on SIGINT or SIGTERM after in-flight\n"
     "requests finish. Logs are JSON lines on stderr.\n"},
    {"user", cmd_user, "create, list and delete users",
     "usage: tarn user create NAME [--admin] [--password PW] [--json]\n"
     "       tarn user list [--json]\n"
     "       tarn user delete NAME\n\n"
     "Manages users through the server (admin only). Without --password a password is\n"
     "generated and shown once. Give the user an access key with `tarn key create NAME`.\n"
     "Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"key", cmd_key, "create, list and delete access keys",
     "usage: tarn key create USER [--json]\n"
     "       tarn key list USER [--json]\n"
     "       tarn key delete USER ACCESS_KEY\n\n"
     "Access keys sign requests (AWS Signature V4) for S3, REST and the CLI. The secret is\n"
     "shown once, at creation. Options: --endpoint URL (or TARN_ENDPOINT).\n"},
    {"audit", cmd_audit, "show and verify the audit trail",
     "usage: tarn audit tail [-n N] [--json] [--data DIR]\n"
     "       tarn audit verify [--data DIR]\n\n"
     "Every request, allowed or denied, is one audit record, hash-chained to the one\n"
     "before; each segment ends with a digest signed by the lake's audit key. `tail`\n"
     "prints the last N records (default 20); `verify` checks every hash and signature,\n"
     "exits 0 when the trail is intact, and otherwise names the first bad record.\n"},
    {"version", cmd_version, "print tarn's and DuckDB's versions",
     "usage: tarn version [--json]\n"},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *out)
{
    fprintf(out, "tarn: a data lake in one binary\n\nusage: tarn COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-8s %s\n", "help", "show help for a command (tarn help CMD)");
    fprintf(out, "\nClient commands find the server in --endpoint or TARN_ENDPOINT (default\n"
                 "http://127.0.0.1:9470) and credentials in TARN_ACCESS_KEY/TARN_SECRET_KEY,\n"
                 "TARN_CREDENTIALS_FILE, or ./tarn-data/admin.credentials.\n");
}

static const command_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
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
            fputs(c->help, stdout);
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
            fputs(c->help, stdout);
            return 0;
        }
    umask(027); /* the lake's files are never world-readable */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = c->run(argc - 2, argv + 2);
    curl_global_cleanup();
    return rc;
}
