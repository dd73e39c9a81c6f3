/* Command-line arguments of one tarn command: positional words and --options. Options
 * that take a value are named by the command; anything else starting with '-' is a flag,
 * and an unknown one is an error that lists the valid ones. */
#ifndef TARN_CLI_ARGS_H
#define TARN_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define ARGS_MAX 32

typedef struct {
    const char *pos[ARGS_MAX];
    size_t npos;
    const char *names[ARGS_MAX];
    const char *values[ARGS_MAX]; /* NULL for flags */
    size_t nopts;
} args_t;

/* valued: options taking a value ("--data", "-n", ...); flags: options without one.
 * Both NULL-terminated; "--" ends the options (what follows is positional). Prints the
 * error and returns -1 on bad input. */
int args_parse(args_t *a, int argc, char **argv, const char *const *valued,
               const char *const *flags, const char *cmd);
const char *args_get(const args_t *a, const char *name); /* last value, or NULL */
bool args_flag(const args_t *a, const char *name);

#endif
