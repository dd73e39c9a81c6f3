/* Config maps; see config_map.h. A default goes through the same checks as a given value,
 * so a map cannot fill in what it would refuse. */
#include "util/config_map.h"

#include "util/units.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PATH_CAP = 256 };

static int refuse(tarn_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(tarn_err_t *err, const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tarn_err_set(err, TARN_EINVAL, TARN_R_InvalidArgument, __FILE__, __LINE__, "%s", msg);
}

static int nomem(tarn_err_t *err)
{
    return TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

static void path_key(char out[PATH_CAP], const char *parent, const char *key)
{
    snprintf(out, PATH_CAP, "%s%s%s", parent, *parent ? "." : "", key);
}

static void path_item(char out[PATH_CAP], const char *parent, size_t i)
{
    snprintf(out, PATH_CAP, "%s[%zu]", parent, i);
}

/* "a, b, c" from a NULL-terminated list, or from the names of entries. */
static void join_values(buf_t *b, const char *const *values)
{
    for (size_t i = 0; values[i]; i++)
        buf_printf(b, "%s%s", i ? ", " : "", values[i]);
}

static void join_names(buf_t *b, const config_entry_t *fields)
{
    for (size_t i = 0; fields[i].name; i++)
        buf_printf(b, "%s%s", i ? ", " : "", fields[i].name);
}

/* "between 1MB and 1GB" in the entry's own unit. */
static void bounds_text(char *out, size_t cap, const config_entry_t *e)
{
    char lo[32], hi[32];
    if (e->type == CONFIG_SIZE) {
        units_size_format(lo, sizeof lo, (uint64_t)e->min);
        units_size_format(hi, sizeof hi, (uint64_t)e->max);
    } else if (e->type == CONFIG_DURATION) {
        units_duration_format(lo, sizeof lo, e->min);
        units_duration_format(hi, sizeof hi, e->max);
    } else {
        snprintf(lo, sizeof lo, "%" PRId64, e->min);
        snprintf(hi, sizeof hi, "%" PRId64, e->max);
    }
    snprintf(out, cap, "between %s and %s", lo, hi);
}

static int check_bounds(const config_entry_t *e, int64_t v, const char *path, tarn_err_t *err)
{
    if (e->max <= e->min || (v >= e->min && v <= e->max))
        return 0;
    char b[80];
    bounds_text(b, sizeof b, e);
    return refuse(err, "%s must be %s", path, b);
}

static int check_object(json_t **out, const config_entry_t *fields, const json_t *given,
                        const char *path, tarn_err_t *err);

static int check_enum(json_t **out, const config_entry_t *e, const json_t *v, const char *path,
                      tarn_err_t *err)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && e->values[i]; i++)
        if (!strcmp(s, e->values[i]))
            return (*out = json_string(s)) ? 0 : nomem(err);
    buf_t b = BUF_INIT;
    join_values(&b, e->values);
    int rc = s ? refuse(err, "%s '%s' is not supported (valid values: %s)", path, s,
                        b.data ? b.data : "")
               : refuse(err, "%s must be one of %s", path, b.data ? b.data : "");
    buf_free(&b);
    return rc;
}

static int check_list(json_t **out, const config_entry_t *e, const json_t *v, const char *path,
                      tarn_err_t *err)
{
    if (!json_is_array(v))
        return refuse(err, "%s must be a list of %s", path,
                      e->type == CONFIG_STRINGS ? "strings" : "objects");
    if (!(*out = json_array()))
        return nomem(err);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char p[PATH_CAP];
        path_item(p, path, i);
        json_t *c = NULL;
        int rc;
        if (e->type == CONFIG_STRINGS)
            rc = json_is_string(item)
                     ? ((c = json_string(json_string_value(item))) ? 0 : nomem(err))
                     : refuse(err, "%s must be a string", p);
        else
            rc = check_object(&c, e->fields, item, p, err);
        if (!rc && json_array_append_new(*out, c))
            rc = nomem(err);
        if (rc) {
            json_decref(*out);
            *out = NULL;
            return rc;
        }
    }
    return 0;
}

/* The checked form of v, a value given for e. */
static int check_value(json_t **out, const config_entry_t *e, const json_t *v, const char *path,
                       tarn_err_t *err)
{
    *out = NULL;
    switch (e->type) {
    case CONFIG_STRING:
        if (!json_is_string(v))
            return refuse(err, "%s must be a string", path);
        return (*out = json_string(json_string_value(v))) ? 0 : nomem(err);
    case CONFIG_INT: {
        if (!json_is_integer(v))
            return refuse(err, "%s must be an integer", path);
        int rc = check_bounds(e, json_integer_value(v), path, err);
        return rc ? rc : (*out = json_integer(json_integer_value(v))) ? 0 : nomem(err);
    }
    case CONFIG_BOOL:
        if (!json_is_boolean(v))
            return refuse(err, "%s must be true or false", path);
        return (*out = json_boolean(json_is_true(v))) ? 0 : nomem(err);
    case CONFIG_SIZE: {
        uint64_t n = 0;
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            n = (uint64_t)json_integer_value(v);
        else if (!json_is_string(v) || units_size_parse(&n, json_string_value(v)))
            return refuse(err, "%s must be a size such as 512KB, 64MB or 1GiB", path);
        int rc = check_bounds(e, (int64_t)n, path, err);
        return rc ? rc : (*out = json_integer((json_int_t)n)) ? 0 : nomem(err);
    }
    case CONFIG_DURATION: {
        int64_t ms = 0;
        if (!json_is_string(v) || units_duration_parse(&ms, json_string_value(v)))
            return refuse(err, "%s must be a duration such as 500ms, 30s, 5m or 1h", path);
        int rc = check_bounds(e, ms, path, err);
        return rc ? rc : (*out = json_integer(ms)) ? 0 : nomem(err);
    }
    case CONFIG_ENUM:
        return check_enum(out, e, v, path, err);
    case CONFIG_MAP:
        if (!e->fields) {
            if (!json_is_object(v))
                return refuse(err, "%s must be an object", path);
            return (*out = json_deep_copy(v)) ? 0 : nomem(err);
        }
        return check_object(out, e->fields, v, path, err);
    case CONFIG_STRINGS:
    case CONFIG_MAPS:
        return check_list(out, e, v, path, err);
    }
    return refuse(err, "%s has a type this build does not know", path);
}

/* e's default, as if the user had written it. */
static int default_value(json_t **out, const config_entry_t *e, const char *path, tarn_err_t *err)
{
    json_t *given = NULL;
    switch (e->type) {
    case CONFIG_INT:
        given = json_integer(strtoll(e->def, NULL, 10));
        break;
    case CONFIG_BOOL:
        given = json_boolean(!strcmp(e->def, "true"));
        break;
    case CONFIG_STRINGS:
        given = json_array();
        for (const char *p = e->def; given && *p;) {
            size_t n = strcspn(p, ",");
            json_array_append_new(given, json_stringn(p, n));
            p += n + (p[n] == ',');
        }
        break;
    case CONFIG_MAP:
        assert(!strcmp(e->def, "{}"));
        given = json_object();
        break;
    case CONFIG_MAPS:
        assert(!strcmp(e->def, "[]"));
        given = json_array();
        break;
    default:
        given = json_string(e->def);
    }
    if (!given)
        return nomem(err);
    int rc = check_value(out, e, given, path, err);
    json_decref(given);
    assert(rc != TARN_EINVAL); /* a map's default must pass its own checks */
    return rc;
}

static int check_object(json_t **out, const config_entry_t *fields, const json_t *given,
                        const char *path, tarn_err_t *err)
{
    *out = NULL;
    if (!json_is_object(given))
        return refuse(err, "%s must be an object", *path ? path : "the configuration");
    const char *k;
    json_t *v;
    char p[PATH_CAP];
    buf_t b = BUF_INIT;
    int rc = 0;
    json_object_foreach((json_t *)given, k, v)
    {
        size_t i = 0;
        while (fields[i].name && strcmp(fields[i].name, k))
            i++;
        if (!fields[i].name) {
            path_key(p, path, k);
            join_names(&b, fields);
            rc = refuse(err, "%s is not supported (valid keys: %s)", p, b.data ? b.data : "");
            goto done;
        }
    }
    size_t missing = 0;
    for (size_t i = 0; fields[i].name; i++)
        if (fields[i].required && !json_object_get(given, fields[i].name))
            buf_printf(&b, "%s%s", missing++ ? ", " : "", fields[i].name);
    if (missing == 1) {
        path_key(p, path, b.data);
        rc = refuse(err, "%s is required", p);
    } else if (missing) {
        rc = refuse(err, "%s needs the keys %s", *path ? path : "the configuration", b.data);
    }
    if (rc)
        goto done;
    if (!(*out = json_object())) {
        rc = nomem(err);
        goto done;
    }
    for (size_t i = 0; fields[i].name && !rc; i++) {
        const config_entry_t *e = &fields[i];
        json_t *c = NULL;
        path_key(p, path, e->name);
        if ((v = json_object_get(given, e->name)))
            rc = check_value(&c, e, v, p, err);
        else if (e->def)
            rc = default_value(&c, e, p, err);
        if (!rc && c && json_object_set_new(*out, e->name, c))
            rc = nomem(err);
    }
done:
    buf_free(&b);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int config_map_check(json_t **out, const config_entry_t *map, const json_t *given, tarn_err_t *err)
{
    return check_object(out, map, given, "", err);
}

json_t *config_map_get(const json_t *cfg, const char *path)
{
    json_t *v = (json_t *)cfg;
    while (v && *path) {
        size_t n = strcspn(path, ".");
        char key[128];
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        path += n + (path[n] == '.');
    }
    return v;
}

/* ---- secrets ---- */

static int take_secrets(json_t *cfg, const config_entry_t *map, const char *path,
                        json_t *secrets, tarn_err_t *err)
{
    for (size_t i = 0; map[i].name; i++) {
        const config_entry_t *e = &map[i];
        json_t *v = json_object_get(cfg, e->name);
        char p[PATH_CAP];
        path_key(p, path, e->name);
        if (!v)
            continue;
        if (e->type == CONFIG_MAP && e->fields) {
            int rc = take_secrets(v, e->fields, p, secrets, err);
            if (rc)
                return rc;
        } else if (e->secret && json_is_string(v) && strcmp(json_string_value(v), CONFIG_SEALED)) {
            if (json_object_set(secrets, p, v) ||
                json_object_set_new(cfg, e->name, json_string(CONFIG_SEALED)))
                return nomem(err);
        }
    }
    return 0;
}

int config_map_take_secrets(json_t *cfg, const config_entry_t *map, json_t *secrets,
                            tarn_err_t *err)
{
    return take_secrets(cfg, map, "", secrets, err);
}

int config_map_put_secrets(json_t *cfg, const json_t *secrets, tarn_err_t *err)
{
    const char *path;
    json_t *v;
    json_object_foreach((json_t *)secrets, path, v)
    {
        const char *dot = strrchr(path, '.');
        char parent[PATH_CAP];
        snprintf(parent, sizeof parent, "%.*s", dot ? (int)(dot - path) : 0, path);
        json_t *o = *parent ? config_map_get(cfg, parent) : cfg;
        if (!json_is_object(o))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "the sealed secret %s has no place in the configuration", path);
        if (json_object_set(o, dot ? dot + 1 : path, v))
            return nomem(err);
    }
    return 0;
}

/* ---- help ---- */

static void type_text(buf_t *b, const config_entry_t *e)
{
    static const char *const names[] = {
        [CONFIG_STRING] = "string",           [CONFIG_INT] = "integer",
        [CONFIG_BOOL] = "true or false",      [CONFIG_SIZE] = "size",
        [CONFIG_DURATION] = "duration",       [CONFIG_ENUM] = "one of ",
        [CONFIG_STRINGS] = "list of strings", [CONFIG_MAP] = "map",
        [CONFIG_MAPS] = "list of maps"};
    buf_puts(b, names[e->type]);
    if (e->type == CONFIG_ENUM)
        join_values(b, e->values);
    if (e->max > e->min) {
        char bounds[80];
        bounds_text(bounds, sizeof bounds, e);
        buf_printf(b, " %s", bounds);
    }
    if (e->required)
        buf_puts(b, ", required");
    if (e->def && e->type != CONFIG_MAP && e->type != CONFIG_MAPS)
        buf_printf(b, ", default %s", *e->def ? e->def : "\"\"");
    if (e->secret)
        buf_puts(b, ", secret: stored sealed, never shown");
}

/* text wrapped at 79 columns: its first line indented by first, the others by rest. */
static void wrapped(buf_t *b, const char *text, int first, int rest)
{
    for (int indent = first; *text; indent = rest) {
        const int width = 79 - indent;
        size_t n = strlen(text), cut = n;
        if ((int)n > width) {
            cut = (size_t)width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (!cut)
                cut = strcspn(text, " ");
        }
        buf_printf(b, "%*s%.*s\n", indent, "", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

static void help_entries(buf_t *b, const config_entry_t *map, int indent)
{
    for (size_t i = 0; map[i].name; i++) {
        const config_entry_t *e = &map[i];
        buf_t head = BUF_INIT;
        buf_printf(&head, "%s (", e->name);
        type_text(&head, e);
        buf_putc(&head, ')');
        if (head.data)
            wrapped(b, head.data, indent, indent + (int)strlen(e->name) + 2);
        buf_free(&head);
        if (e->help)
            wrapped(b, e->help, indent + 4, indent + 4);
        if ((e->type == CONFIG_MAP || e->type == CONFIG_MAPS) && e->fields)
            help_entries(b, e->fields, indent + 2);
    }
}

int config_map_help(buf_t *out, const config_entry_t *map)
{
    buf_t b = BUF_INIT;
    help_entries(&b, map, 2);
    int rc = b.data ? buf_append(out, b.data, b.len) : 0;
    buf_free(&b);
    return rc;
}
