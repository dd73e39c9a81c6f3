/* The tarn commands: each takes the words after its name and returns a process exit
 * status. main.c holds the table that names and documents them. */
#ifndef TARN_CLI_COMMANDS_H
#define TARN_CLI_COMMANDS_H

#include "cli/client.h"

#include <jansson.h>

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_key(int argc, char **argv);
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

int cmd_grant(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_grants(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_role(int argc, char **argv);
int cmd_filter(int argc, char **argv);

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
/* "1.2 MiB" into buf. */
const char *cli_size(char *buf, size_t cap, long long bytes);

#endif
