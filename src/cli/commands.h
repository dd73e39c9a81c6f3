/* The tarn commands: each takes the words after its name and returns a process exit
 * status. main.c holds the table that names and documents them. */
#ifndef TARN_CLI_COMMANDS_H
#define TARN_CLI_COMMANDS_H

#include "cli/args.h"
#include "cli/client.h"

#include <jansson.h>

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_audit(int argc, char **argv);

int cmd_tables(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_crawl(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_source(int argc, char **argv);
int cmd_blueprint(int argc, char **argv);

int cmd_grant(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_grants(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_role(int argc, char **argv);
int cmd_filter(int argc, char **argv);

/* ---- main.c ---- */
/* Prints cmd's usage lines (the opening paragraph of its `tarn help` text, so the two
 * never differ) and where to read more, to stderr; returns 2, the exit status of a
 * misused command. */
int cli_usage(const char *cmd);

/* ---- common.c ---- */
/* Prints "tarn CMD: message" (and a hint) to stderr; returns 1. */
int cli_fail(const char *cmd, const char *msg);
/* Calls the REST API (endpoint NULL: TARN_ENDPOINT or the default); on failure prints
 * the server's message as `tarn CMD: ...` and returns 1. *out is the JSON reply. */
int cli_call(const char *cmd, const char *endpoint, const char *method, const char *path,
             json_t *body, json_t **out);
void cli_print_json(json_t *j);
/* s percent-encoded for a URL (caller frees), NULL when out of memory. */
char *cli_escape(const char *s);
/* base + name percent-encoded + suffix (NULL: none) into out; -1 when out of memory. */
int cli_resource_path(char *out, size_t cap, const char *base, const char *name,
                      const char *suffix);
/* A YAML (or JSON) file of a map ("-": stdin) as JSON into *out (caller decrefs); the
 * bytes read are wiped (they may hold a password). On failure prints why, pointing at
 * `tarn help <help>`, and returns 1. */
int cli_read_yaml(const char *cmd, const char *file, const char *help, json_t **out);
/* A subcommand: its word and what runs it with the parsed arguments (pos[0] is the word). */
typedef struct {
    const char *name;
    int (*run)(const args_t *a);
} cli_sub_t;
/* Parses argv (valued and flags as args_parse takes them) and runs the subcommand subs
 * (ended by {NULL}) names; usage's answer when none does. */
int cli_dispatch(int argc, char **argv, const char *cmd, const char *const *valued,
                 const char *const *flags, const cli_sub_t *subs, int (*usage)(void));
/* "1.2 MiB" into buf. */
const char *cli_size(char *buf, size_t cap, long long bytes);

#endif
