/* Hive-style key parsing and partition value types; see hive.h. */
#include "catalog/hive.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HIVE_DEFAULT "__HIVE_DEFAULT_PARTITION__"

bool hive_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > 128 || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-'))
            return false;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hive escapes partition names and values with %XX; a '%' not followed by two hex digits
 * stays as it is. */
static char *url_decode(arena_t *a, const char *s, size_t n)
{
    char *o = arena_alloc(a, n + 1);
    size_t j = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            o[j++] = (char)(h * 16 + l);
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

int hive_parse_key(hive_key_t *out, const char *key, arena_t *a, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *seg[64];
    size_t len[64], n = 0;
    for (const char *p = key;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n == 64)
            return TARN_ERR(err, TARN_EINVAL, "key is nested more than 64 folders deep");
        seg[n] = p;
        len[n++] = l;
        if (!e)
            break;
        p = e + 1;
    }
    if (n < 3 || !len[n - 1])
        return TARN_ERR(err, TARN_EINVAL,
                        "key is not <database>/<table>/<file>: tables are folders two levels "
                        "below the zone");
    out->db = arena_strndup(a, seg[0], len[0]);
    out->table = arena_strndup(a, seg[1], len[1]);
    out->file = arena_strndup(a, seg[n - 1], len[n - 1]);
    out->location = arena_strndup(a, key, (size_t)(seg[2] - key));
    if (!out->db || !out->table || !out->file || !out->location)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!hive_valid_name(out->db))
        return TARN_ERR(err, TARN_EINVAL,
                        "database folder '%s' is not a valid name (letters, digits, _ and -, "
                        "starting with a letter)", out->db);
    if (!hive_valid_name(out->table))
        return TARN_ERR(err, TARN_EINVAL,
                        "table folder '%s' is not a valid name (letters, digits, _ and -, "
                        "starting with a letter)", out->table);
    size_t spec_start = 0, spec_end = 0;
    for (size_t i = 2; i < n; i++) {
        if (len[i] && (seg[i][0] == '_' || seg[i][0] == '.'))
            out->hidden = true;
        if (i == n - 1)
            break;
        const char *eq = memchr(seg[i], '=', len[i]);
        if (!eq || eq == seg[i])
            continue;
        if (out->nparts == HIVE_MAX_PARTS)
            return TARN_ERR(err, TARN_EINVAL, "more than %d partition folders", HIVE_MAX_PARTS);
        size_t nl = (size_t)(eq - seg[i]), vl = len[i] - nl - 1;
        const char *name = url_decode(a, seg[i], nl);
        const char *value = url_decode(a, eq + 1, vl);
        if (!name || !value)
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        for (size_t k = 0; k < out->nparts; k++)
            if (!strcasecmp(out->names[k], name))
                return TARN_ERR(err, TARN_EINVAL, "partition key %s appears twice in the key",
                                name);
        out->names[out->nparts] = name;
        out->values[out->nparts] = strcmp(value, HIVE_DEFAULT) ? value : NULL;
        out->nparts++;
        if (!spec_start)
            spec_start = (size_t)(seg[i] - key);
        spec_end = (size_t)(seg[i] - key) + len[i];
    }
    out->spec = spec_start ? arena_strndup(a, key + spec_start, spec_end - spec_start) : "";
    out->part_location = spec_start ? arena_strndup(a, key, spec_end + 1)
                                    : arena_strdup(a, out->location);
    if (!out->spec || !out->part_location)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return 0;
}

static bool is_date(const char *v)
{
    int y, m, d, used = 0;
    if (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10)
        return false;
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] &&
           (m != 2 || d < 29 || (y % 4 == 0 && (y % 100 || y % 400 == 0)));
}

const char *hive_value_type(const char *v)
{
    if (!v)
        return "NULL";
    if (!*v)
        return "VARCHAR";
    char *end;
    errno = 0;
    (void)strtoll(v, &end, 10);
    bool digits = isdigit((unsigned char)v[v[0] == '-']);
    if (digits && !*end && !errno && !(v[0] == '0' && v[1]) && !(v[0] == '-' && v[1] == '0'))
        return "BIGINT";
    if (is_date(v))
        return "DATE";
    if (!strcasecmp(v, "true") || !strcasecmp(v, "false"))
        return "BOOLEAN";
    /* A leading zero before another digit is an identifier (a zip code, "007"): text. */
    const char *m = v + (v[0] == '-');
    if (m[0] == '0' && isdigit((unsigned char)m[1]))
        return "VARCHAR";
    (void)strtod(v, &end);
    if (digits && !*end && !strpbrk(v, "xXpPnN"))
        return "DOUBLE";
    return "VARCHAR";
}
