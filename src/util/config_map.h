/* Typed configuration maps, in the manner of Fluent Bit's: a plugin declares each key it
 * takes (name, type, default, whether it is required, help), and one function checks a JSON
 * configuration against the declaration, refusing a mistake with the path of the value at
 * fault (`tables[2].name`), and fills in the defaults; the same declaration prints the help. */
#ifndef TARN_UTIL_CONFIG_MAP_H
#define TARN_UTIL_CONFIG_MAP_H

#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CONFIG_STRING,
    CONFIG_INT,      /* a JSON integer */
    CONFIG_BOOL,     /* true or false */
    CONFIG_SIZE,     /* "64MB", "1GiB" or a number of bytes; filled in as bytes */
    CONFIG_DURATION, /* "250ms", "30s", "5m"; filled in as milliseconds */
    CONFIG_ENUM,     /* a string among `values` */
    CONFIG_STRINGS,  /* a list of strings */
    CONFIG_MAP,      /* an object of `fields` */
    CONFIG_MAPS,     /* a list of objects of `fields` */
} config_type_t;

typedef struct config_entry {
    const char *name; /* NULL ends a list of entries */
    config_type_t type;
    /* The default as a user writes it ("5", "true", "30s", "GZIP"; a list of strings as
     * "a,b"). For a map, "{}" makes an absent map one of its entries' defaults, and for a
     * list of maps "[]" an empty list. NULL: no default (an absent key stays absent). */
    const char *def;
    bool required;
    const char *help;
    const char *const *values;         /* CONFIG_ENUM: the allowed values, NULL-terminated */
    int64_t min, max;                  /* CONFIG_INT, SIZE (bytes), DURATION (ms): bounds,
                                          checked when max > min */
    const struct config_entry *fields; /* CONFIG_MAP(S): the entries; NULL for a map of any
                                          keys, which is taken as it is */
    bool secret;                       /* CONFIG_STRING: a secret (a password), which the
                                          owner of the configuration keeps sealed, never
                                          shows back and never logs */
} config_entry_t;

/* Checks given (a JSON object) against map: an unknown key is refused listing the valid
 * ones, a value of the wrong type or out of bounds names its path, and missing required keys
 * are named. *out gets a new object with the defaults filled in and sizes and durations as
 * numbers (caller decrefs). Refusals are TARN_EINVAL with reason "InvalidArgument". */
int config_map_check(json_t **out, const config_entry_t *map, const json_t *given, tarn_err_t *err);

/* A value of a checked configuration by its dotted path ("BufferingHints.SizeInMBs");
 * NULL when absent. Borrowed from cfg. */
json_t *config_map_get(const json_t *cfg, const char *path);

/* The placeholder a secret's value is shown as once it is taken out. */
#define CONFIG_SEALED "(sealed)"

/* Moves the values of map's secret keys (in maps, not in lists of maps) out of cfg, a
 * checked configuration, into secrets (an object by dotted path: "connection.password"),
 * leaving CONFIG_SEALED in their place, so that the configuration can be stored and shown
 * and the secrets sealed apart. */
int config_map_take_secrets(json_t *cfg, const config_entry_t *map, json_t *secrets,
                            tarn_err_t *err);
/* Puts secrets (as config_map_take_secrets made them) back into cfg. */
int config_map_put_secrets(json_t *cfg, const json_t *secrets, tarn_err_t *err);

/* Appends map's keys to out: one line per key with its type, default and whether it is
 * required, its help below, and the keys of a map indented under it. */
int config_map_help(buf_t *out, const config_entry_t *map);

#endif
