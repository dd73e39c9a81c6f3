/* The tarn commands: each takes the words after its name and returns a process exit
 * status. main.c holds the table that names and documents them. */
#ifndef TARN_CLI_COMMANDS_H
#define TARN_CLI_COMMANDS_H

int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* Prints "tarn CMD: message" (and a hint) to stderr; returns 1. */
int cli_fail(const char *cmd, const char *msg);

#endif
