/* DuckDB engine entry points; see engine.h. */
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "util/buf.h"

#include <duckdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct engine {
    duckdb_database db;
};


const char *engine_version(void)
{
    return duckdb_library_version();
}

static int run(duckdb_connection c, const char *sql, tarn_err_t *err)
{
    duckdb_result r;
    int rc = 0;
    if (duckdb_query(c, sql, &r) == DuckDBError)
        rc = TARN_ERR(err, TARN_EIO, "engine setup (%s): %s", sql, duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

/* SET allowed_directories = ['<dir>/', ...]: each folder with its trailing '/', so that a
 * sibling sharing its name as a prefix (objects-old/) is not allowed with it. */
static int allow_dirs(duckdb_connection c, const char *const *dirs, tarn_err_t *err)
{
    arena_t *a = arena_create();
    buf_t b = BUF_INIT;
    int rc = 0;
    buf_puts(&b, "SET allowed_directories = [");
    for (size_t i = 0; a && dirs[i]; i++) {
        size_t n = strlen(dirs[i]);
        char *dir = arena_sprintf(a, "%s%s", dirs[i], n && dirs[i][n - 1] == '/' ? "" : "/");
        char *lit = dir ? engine_quote(a, dir) : NULL;
        if (!lit) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        buf_printf(&b, "%s%s", i ? ", " : "", lit);
    }
    buf_putc(&b, ']');
    if (!a || !b.data)
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc)
        rc = run(c, b.data, err);
    buf_free(&b);
    arena_free(a);
    return rc;
}

int engine_open(engine_t **out, const engine_opts_t *o, tarn_err_t *err)
{
    *out = NULL;
    engine_t *e = calloc(1, sizeof *e);
    duckdb_config cfg = NULL;
    duckdb_connection c = NULL;
    char *open_err = NULL;
    int rc = 0;
    if (!e)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (duckdb_create_config(&cfg) == DuckDBError) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    /* Extensions the lake needs (parquet, json) are built in; nothing is fetched or
     * loaded from elsewhere. */
    duckdb_set_config(cfg, "autoinstall_known_extensions", "false");
    duckdb_set_config(cfg, "autoload_known_extensions", "false");
    char num[32];
    if (o->threads > 0) {
        snprintf(num, sizeof num, "%d", o->threads);
        duckdb_set_config(cfg, "threads", num);
    }
    if (o->memory_limit) {
        snprintf(num, sizeof num, "%lluB", (unsigned long long)o->memory_limit);
        duckdb_set_config(cfg, "memory_limit", num);
    }
    /* The spill folder needs no place in allowed_directories: DuckDB's own temporary
     * files are not subject to it. */
    if (o->spill_dir)
        duckdb_set_config(cfg, "temp_directory", o->spill_dir);
    if (duckdb_open_ext(":memory:", &e->db, cfg, &open_err) == DuckDBError) {
        rc = TARN_ERR(err, TARN_EIO, "cannot start the SQL engine: %s",
                      open_err ? open_err : "unknown error");
        goto done;
    }
    if (duckdb_connect(e->db, &c) == DuckDBError) {
        rc = TARN_ERR(err, TARN_EIO, "cannot connect to the SQL engine");
        goto done;
    }
    /* Order matters: the allowed folders are set while external access is on, then access
     * is narrowed to them and the configuration locked for every connection. */
    if ((rc = allow_dirs(c, o->dirs, err)) ||
        (rc = run(c, "SET enable_external_access = false", err)) ||
        (rc = run(c, "SET lock_configuration = true", err)))
        goto done;
done:
    if (c)
        duckdb_disconnect(&c);
    if (open_err)
        duckdb_free(open_err);
    if (cfg)
        duckdb_destroy_config(&cfg);
    if (rc) {
        engine_close(e);
        return rc;
    }
    *out = e;
    return 0;
}

uint64_t engine_memory_limit(engine_t *e)
{
    /* DuckDB spells the limit for people ("18.8 GiB", "61.0 MiB", "1000 bytes"). */
    static const struct {
        const char *unit;
        double bytes;
    } units[] = {{"bytes", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
                 {"TiB", 1099511627776.0}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}};
    duckdb_connection c = NULL;
    duckdb_result r;
    uint64_t bytes = 0;
    if (duckdb_connect(e->db, &c) == DuckDBError)
        return 0;
    if (duckdb_query(c, "SELECT current_setting('memory_limit')", &r) == DuckDBSuccess) {
        char *v = duckdb_value_varchar(&r, 0, 0);
        double n;
        char unit[16];
        if (v && sscanf(v, "%lf %15s", &n, unit) == 2)
            for (size_t i = 0; i < sizeof units / sizeof *units; i++)
                if (!strcmp(unit, units[i].unit))
                    bytes = (uint64_t)(n * units[i].bytes);
        duckdb_free(v);
    }
    duckdb_destroy_result(&r);
    duckdb_disconnect(&c);
    return bytes;
}

void engine_close(engine_t *e)
{
    if (!e)
        return;
    if (e->db)
        duckdb_close(&e->db);
    free(e);
}

int engine_connect(engine_t *e, engine_conn_t **out, tarn_err_t *err)
{
    engine_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (duckdb_connect(e->db, &c->c) == DuckDBError) {
        free(c);
        return TARN_ERR(err, TARN_EIO, "cannot connect to the SQL engine");
    }
    *out = c;
    return 0;
}

void engine_disconnect(engine_conn_t *c)
{
    if (!c)
        return;
    engine_conn_release(c);
    duckdb_disconnect(&c->c);
    free(c);
}

/* DuckDB messages carry the offending SQL and a caret on later lines; the first line
 * says what went wrong. */
/* DuckDB's error classes (the prefix of its messages) as protocol-neutral reasons, which
 * the edges turn into REST codes or SQLSTATEs. */
static tarn_reason_t error_reason(const char *msg)
{
    static const struct {
        const char *prefix, *within;
        tarn_reason_t reason;
    } classes[] = {
        {"Parser Error", NULL, TARN_R_SyntaxError},
        {"Catalog Error", "Table with name", TARN_R_UndefinedTable},
        {"Catalog Error", "Function with name", TARN_R_UndefinedFunction},
        {"Catalog Error", NULL, TARN_R_UndefinedObject},
        {"Binder Error", "column", TARN_R_UndefinedColumn},
        {"Binder Error", "function", TARN_R_UndefinedFunction},
        {"Binder Error", NULL, TARN_R_InvalidQuery},
        {"Conversion Error", NULL, TARN_R_InvalidTextRepresentation},
        {"Invalid Input Error", NULL, TARN_R_InvalidTextRepresentation},
        {"Out of Range Error", NULL, TARN_R_NumericValueOutOfRange},
        {"Out of Memory Error", NULL, TARN_R_QueryOutOfMemory},
    };
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
        size_t n = strlen(classes[i].prefix);
        const char *eol = strchr(msg, '\n');
        if (strncmp(msg, classes[i].prefix, n))
            continue;
        const char *hit = classes[i].within ? strstr(msg, classes[i].within) : msg;
        if (hit && (!eol || hit < eol))
            return classes[i].reason;
    }
    return TARN_R_NONE;
}

int engine_fail(const char *msg, tarn_err_t *err)
{
    if (!msg)
        msg = "unknown engine error";
    size_t n = strcspn(msg, "\n");
    while (n && msg[n - 1] == ' ')
        n--;
    tarn_reason_t reason = error_reason(msg);
    /* Running out of memory is no fault of the statement's text: callers tell it apart. */
    int code = reason == TARN_R_QueryOutOfMemory ? TARN_ENOMEM : TARN_EINVAL;
    return TARN_ERR_RV(err, code, reason, "%.*s", (int)n, msg);
}

int engine_query(engine_conn_t *c, const char *sql, size_t max_rows, engine_rows_t *out,
                 arena_t *a, tarn_err_t *err)
{
    duckdb_result r;
    memset(out, 0, sizeof *out);
    engine_conn_claim(c);
    if (duckdb_query(c->c, sql, &r) == DuckDBError) {
        int rc = engine_fail(duckdb_result_error(&r), err);
        duckdb_destroy_result(&r);
        return rc;
    }
    size_t nc = (size_t)duckdb_column_count(&r), nr = (size_t)duckdb_row_count(&r);
    if (nr > max_rows)
        nr = max_rows;
    out->ncols = nc;
    out->nrows = nr;
    out->names = arena_alloc(a, (nc ? nc : 1) * sizeof *out->names);
    out->cells = arena_alloc(a, (nc * nr > 0 ? nc * nr : 1) * sizeof *out->cells);
    int rc = (!out->names || !out->cells) ? TARN_ERR(err, TARN_ENOMEM, "out of memory") : 0;
    for (size_t j = 0; !rc && j < nc; j++)
        out->names[j] = arena_strdup(a, duckdb_column_name(&r, (idx_t)j));
    for (size_t i = 0; !rc && i < nr; i++)
        for (size_t j = 0; !rc && j < nc; j++) {
            if (duckdb_value_is_null(&r, (idx_t)j, (idx_t)i))
                continue;
            char *v = duckdb_value_varchar(&r, (idx_t)j, (idx_t)i);
            if (!v || !(out->cells[i * nc + j] = arena_strdup(a, v)))
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            duckdb_free(v);
        }
    duckdb_destroy_result(&r);
    return rc;
}


/* A JSON scalar as a value of the list element type id when one is built here exactly
 * (the engine rebinds a statement whose value types differ from the types it inferred);
 * NULL otherwise. */
static duckdb_value typed_scalar(const json_t *v, duckdb_type id)
{
    if (json_is_null(v))
        return duckdb_create_null_value();
    bool i = json_is_integer(v);
    json_int_t n = i ? json_integer_value(v) : 0;
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN:
        return json_is_boolean(v) ? duckdb_create_bool(json_is_true(v)) : NULL;
    case DUCKDB_TYPE_TINYINT:
        return i && n >= INT8_MIN && n <= INT8_MAX ? duckdb_create_int8((int8_t)n) : NULL;
    case DUCKDB_TYPE_SMALLINT:
        return i && n >= INT16_MIN && n <= INT16_MAX ? duckdb_create_int16((int16_t)n) : NULL;
    case DUCKDB_TYPE_INTEGER:
        return i && n >= INT32_MIN && n <= INT32_MAX ? duckdb_create_int32((int32_t)n) : NULL;
    case DUCKDB_TYPE_BIGINT:
        return i ? duckdb_create_int64((int64_t)n) : NULL;
    case DUCKDB_TYPE_DOUBLE:
        return json_is_number(v) ? duckdb_create_double(json_number_value(v)) : NULL;
    case DUCKDB_TYPE_FLOAT:
        return json_is_number(v) ? duckdb_create_float((float)json_number_value(v)) : NULL;
    case DUCKDB_TYPE_VARCHAR:
        return json_is_string(v) ? duckdb_create_varchar_length(json_string_value(v),
                                                                json_string_length(v))
                                 : NULL;
    default:
        return NULL;
    }
}

/* A JSON scalar as VARCHAR, which the engine casts to the type the statement needs. */
static duckdb_value text_scalar(const json_t *v)
{
    char tmp[64];
    if (json_is_null(v))
        return duckdb_create_null_value();
    if (json_is_string(v))
        return duckdb_create_varchar_length(json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return duckdb_create_varchar(tmp);
}

/* LIST nested depth times around VARCHAR (depth 0: VARCHAR). */
static duckdb_logical_type varchar_lists(int depth)
{
    duckdb_logical_type t = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    for (int d = 0; d < depth; d++) {
        duckdb_logical_type up = duckdb_create_list_type(t);
        duckdb_destroy_logical_type(&t);
        t = up;
    }
    return t;
}

static bool same_type(duckdb_logical_type a, duckdb_logical_type b)
{
    buf_t x = BUF_INIT, y = BUF_INIT;
    engine_type_name(&x, a);
    engine_type_name(&y, b);
    bool same = x.data && y.data && !strcmp(x.data, y.data);
    buf_free(&x);
    buf_free(&y);
    return same;
}

/* A JSON array (nested for more dimensions, as deep everywhere) as a LIST value: of
 * want's element type when want is a list whose elements are built exactly here, else of
 * VARCHAR (nested: lists of VARCHAR), which casts to any element type. NULL when out of
 * memory. */
static duckdb_value list_value(const json_t *arr, duckdb_logical_type want)
{
    size_t n = json_array_size(arr);
    int depth = 0; /* list levels below this one */
    for (const json_t *a = arr; json_is_array(json_array_get(a, 0)); a = json_array_get(a, 0))
        depth++;
    duckdb_logical_type child = want && duckdb_get_type_id(want) == DUCKDB_TYPE_LIST
                                    ? duckdb_list_type_child_type(want)
                                    : NULL;
    duckdb_logical_type elem = NULL;
    duckdb_value out = NULL, *vals = calloc(n ? n : 1, sizeof *vals);
    bool exact = child != NULL, retry = false;
    for (size_t i = 0; vals && exact && i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        vals[i] = depth ? (json_is_array(v) ? list_value(v, child) : duckdb_create_null_value())
                        : typed_scalar(v, duckdb_get_type_id(child));
        exact = vals[i] && (json_is_null(v) || !depth ||
                            same_type(duckdb_get_value_type(vals[i]), child));
    }
    if (vals && exact) {
        elem = child;
        child = NULL;
    } else if (vals && depth && want) {
        retry = true; /* a sub-list did not fit want: all of it as VARCHAR instead */
    } else if (vals) {
        for (size_t i = 0; i < n; i++) {
            if (vals[i])
                duckdb_destroy_value(&vals[i]);
            const json_t *v = json_array_get(arr, i);
            if (!(vals[i] = json_is_array(v) ? list_value(v, NULL) : text_scalar(v)))
                goto done;
        }
        elem = varchar_lists(depth);
    }
    if (elem)
        out = duckdb_create_list_value(elem, vals, (idx_t)n);
done:
    for (size_t i = 0; vals && i < n; i++)
        if (vals[i])
            duckdb_destroy_value(&vals[i]);
    free(vals);
    if (child)
        duckdb_destroy_logical_type(&child);
    if (elem)
        duckdb_destroy_logical_type(&elem);
    return retry ? list_value(arr, NULL) : out;
}

int engine_bind(duckdb_prepared_statement ps, const json_t *params, tarn_err_t *err)
{
    size_t want = (size_t)duckdb_nparams(ps), got = json_array_size(params);
    if (want != got)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "the query has %zu parameter%s ($1...), %zu given", want,
                          want == 1 ? "" : "s", got);
    for (size_t i = 0; i < got; i++) {
        const json_t *v = json_array_get(params, i);
        idx_t k = (idx_t)i + 1;
        duckdb_state st;
        /* A value of exactly the type the statement infers for it binds without the
         * engine planning the statement again for another type. */
        duckdb_logical_type pt =
            json_is_array(v) || json_is_null(v) ? NULL : duckdb_param_logical_type(ps, k);
        duckdb_value tv = pt ? typed_scalar(v, duckdb_get_type_id(pt)) : NULL;
        if (pt)
            duckdb_destroy_logical_type(&pt);
        if (tv) {
            st = duckdb_bind_value(ps, k, tv);
            duckdb_destroy_value(&tv);
        } else if (json_is_string(v))
            st = duckdb_bind_varchar_length(ps, k, json_string_value(v), json_string_length(v));
        else if (json_is_integer(v))
            st = duckdb_bind_int64(ps, k, (int64_t)json_integer_value(v));
        else if (json_is_real(v))
            st = duckdb_bind_double(ps, k, json_real_value(v));
        else if (json_is_boolean(v))
            st = duckdb_bind_boolean(ps, k, json_is_true(v));
        else if (json_is_null(v))
            st = duckdb_bind_null(ps, k);
        else if (json_is_array(v)) {
            duckdb_logical_type want = duckdb_param_logical_type(ps, k);
            duckdb_value lv = list_value(v, want);
            if (want)
                duckdb_destroy_logical_type(&want);
            if (!lv)
                return TARN_ERR(err, TARN_ENOMEM, "out of memory");
            st = duckdb_bind_value(ps, k, lv);
            duckdb_destroy_value(&lv);
        } else
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "parameter $%zu must be a string, number, boolean or null", i + 1);
        if (st == DuckDBError)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "parameter $%zu does not fit where the query uses it", i + 1);
    }
    return 0;
}

int engine_exec(engine_conn_t *c, const char *sql, const json_t *params, int64_t *count,
                tarn_err_t *err)
{
    duckdb_prepared_statement ps = NULL;
    duckdb_result r;
    bool have_result = false;
    int rc = 0;
    *count = 0;
    engine_conn_claim(c);
    if (duckdb_prepare(c->c, sql, &ps) == DuckDBError) {
        rc = engine_fail(duckdb_prepare_error(ps), err);
        goto done;
    }
    if ((rc = engine_bind(ps, params, err)))
        goto done;
    have_result = true;
    if (duckdb_execute_prepared(ps, &r) == DuckDBError) {
        rc = engine_fail(duckdb_result_error(&r), err);
        goto done;
    }
    if (duckdb_column_count(&r) && duckdb_row_count(&r))
        *count = duckdb_value_int64(&r, 0, 0);
done:
    if (have_result)
        duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&ps);
    return rc;
}

char *engine_quote(arena_t *a, const char *s)
{
    size_t n = 2, i = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 2 : 1;
    char *q = arena_alloc(a, n + 1);
    if (!q)
        return NULL;
    q[i++] = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            q[i++] = '\'';
        q[i++] = *p;
    }
    q[i++] = '\'';
    q[i] = '\0';
    return q;
}

void engine_interrupt(engine_conn_t *c)
{
    duckdb_interrupt(c->c);
}

void engine_type_name(buf_t *b, duckdb_logical_type t)
{
    static const char *const names[] = {
        [DUCKDB_TYPE_BOOLEAN] = "BOOLEAN",   [DUCKDB_TYPE_TINYINT] = "TINYINT",
        [DUCKDB_TYPE_SMALLINT] = "SMALLINT", [DUCKDB_TYPE_INTEGER] = "INTEGER",
        [DUCKDB_TYPE_BIGINT] = "BIGINT",     [DUCKDB_TYPE_UTINYINT] = "UTINYINT",
        [DUCKDB_TYPE_USMALLINT] = "USMALLINT", [DUCKDB_TYPE_UINTEGER] = "UINTEGER",
        [DUCKDB_TYPE_UBIGINT] = "UBIGINT",   [DUCKDB_TYPE_FLOAT] = "FLOAT",
        [DUCKDB_TYPE_DOUBLE] = "DOUBLE",     [DUCKDB_TYPE_TIMESTAMP] = "TIMESTAMP",
        [DUCKDB_TYPE_DATE] = "DATE",         [DUCKDB_TYPE_TIME] = "TIME",
        [DUCKDB_TYPE_INTERVAL] = "INTERVAL", [DUCKDB_TYPE_HUGEINT] = "HUGEINT",
        [DUCKDB_TYPE_UHUGEINT] = "UHUGEINT", [DUCKDB_TYPE_VARCHAR] = "VARCHAR",
        [DUCKDB_TYPE_BLOB] = "BLOB",         [DUCKDB_TYPE_TIMESTAMP_S] = "TIMESTAMP_S",
        [DUCKDB_TYPE_TIMESTAMP_MS] = "TIMESTAMP_MS", [DUCKDB_TYPE_TIMESTAMP_NS] = "TIMESTAMP_NS",
        [DUCKDB_TYPE_ENUM] = "ENUM",         [DUCKDB_TYPE_UUID] = "UUID",
        [DUCKDB_TYPE_BIT] = "BIT",           [DUCKDB_TYPE_TIME_TZ] = "TIME WITH TIME ZONE",
        [DUCKDB_TYPE_TIMESTAMP_TZ] = "TIMESTAMP WITH TIME ZONE",
        [DUCKDB_TYPE_BIGNUM] = "BIGNUM",     [DUCKDB_TYPE_SQLNULL] = "NULL",
        [DUCKDB_TYPE_TIME_NS] = "TIME_NS",
    };
    duckdb_type id = duckdb_get_type_id(t);
    duckdb_logical_type child = NULL, key = NULL;
    /* JSON is VARCHAR under an alias; PostgreSQL clients tell it apart (json, OID 114). */
    char *alias = id == DUCKDB_TYPE_VARCHAR ? duckdb_logical_type_get_alias(t) : NULL;
    bool json = alias && !strcmp(alias, "JSON");
    if (alias)
        duckdb_free(alias);
    if (json) {
        buf_puts(b, "JSON");
        return;
    }
    switch (id) {
    case DUCKDB_TYPE_ENUM: {
        /* An enum of single characters holds one-character codes (a session's catalogs
         * keep PostgreSQL's "char" so): CHAR1. */
        idx_t n = duckdb_enum_dictionary_size(t);
        bool one = n > 0;
        for (idx_t i = 0; one && i < n; i++) {
            char *v = duckdb_enum_dictionary_value(t, i);
            one = v && strlen(v) <= 1;
            duckdb_free(v);
        }
        buf_puts(b, one ? "CHAR1" : "ENUM");
        return;
    }
    case DUCKDB_TYPE_DECIMAL:
        buf_printf(b, "DECIMAL(%u,%u)", duckdb_decimal_width(t), duckdb_decimal_scale(t));
        return;
    case DUCKDB_TYPE_LIST:
        child = duckdb_list_type_child_type(t);
        engine_type_name(b, child);
        buf_puts(b, "[]");
        break;
    case DUCKDB_TYPE_ARRAY:
        child = duckdb_array_type_child_type(t);
        engine_type_name(b, child);
        buf_printf(b, "[%llu]", (unsigned long long)duckdb_array_type_array_size(t));
        break;
    case DUCKDB_TYPE_MAP:
        key = duckdb_map_type_key_type(t);
        child = duckdb_map_type_value_type(t);
        buf_puts(b, "MAP(");
        engine_type_name(b, key);
        buf_puts(b, ", ");
        engine_type_name(b, child);
        buf_putc(b, ')');
        break;
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_UNION: {
        bool uni = id == DUCKDB_TYPE_UNION;
        idx_t n = uni ? duckdb_union_type_member_count(t) : duckdb_struct_type_child_count(t);
        buf_puts(b, uni ? "UNION(" : "STRUCT(");
        for (idx_t i = 0; i < n; i++) {
            char *name = uni ? duckdb_union_type_member_name(t, i)
                             : duckdb_struct_type_child_name(t, i);
            duckdb_logical_type ct = uni ? duckdb_union_type_member_type(t, i)
                                         : duckdb_struct_type_child_type(t, i);
            buf_printf(b, "%s\"%s\" ", i ? ", " : "", name ? name : "");
            engine_type_name(b, ct);
            duckdb_free(name);
            duckdb_destroy_logical_type(&ct);
        }
        buf_putc(b, ')');
        break;
    }
    default:
        buf_puts(b, (size_t)id < sizeof names / sizeof *names && names[id] ? names[id]
                                                                         : "UNKNOWN");
    }
    if (child)
        duckdb_destroy_logical_type(&child);
    if (key)
        duckdb_destroy_logical_type(&key);
}

/* Whether preparing gave every parameter of ps a type (none is used as SELECT $1 is). */
static bool params_typed(duckdb_prepared_statement ps)
{
    idx_t n = duckdb_nparams(ps);
    bool typed = true;
    for (idx_t i = 1; typed && i <= n; i++) {
        duckdb_logical_type t = duckdb_param_logical_type(ps, i);
        duckdb_type id = t ? duckdb_get_type_id(t) : DUCKDB_TYPE_INVALID;
        typed = id != DUCKDB_TYPE_INVALID && id != DUCKDB_TYPE_ANY && id != DUCKDB_TYPE_SQLNULL;
        if (t)
            duckdb_destroy_logical_type(&t);
    }
    return typed;
}

/* The columns of a statement as preparing it binds them: no run, so no file is opened
 * for it. NULL (and the caller runs it for no rows) when a parameter's or a column's
 * type is left open, or two columns share a name, which a subquery would rename. */
static json_t *prepared_columns(engine_conn_t *c, const char *sql)
{
    duckdb_prepared_statement ps = NULL;
    json_t *cols = NULL;
    engine_conn_claim(c);
    if (duckdb_prepare(c->c, sql, &ps) == DuckDBError || !params_typed(ps) ||
        duckdb_prepared_statement_type(ps) != DUCKDB_STATEMENT_TYPE_SELECT)
        goto done;
    idx_t nc = duckdb_prepared_statement_column_count(ps);
    if (!nc || !(cols = json_array()))
        goto done;
    for (idx_t i = 0; i < nc && cols; i++) {
        duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(ps, i);
        duckdb_type id = duckdb_get_type_id(t);
        buf_t b = BUF_INIT;
        engine_type_name(&b, t);
        duckdb_destroy_logical_type(&t);
        /* A copy that the caller frees (duckdb_free), unlike a result's column names. */
        char *name = (char *)duckdb_prepared_statement_column_name(ps, i);
        bool open = id == DUCKDB_TYPE_INVALID || id == DUCKDB_TYPE_ANY ||
                    id == DUCKDB_TYPE_SQLNULL || !b.data || !strcmp(b.data, "UNKNOWN");
        for (idx_t j = 0; !open && name && j < i; j++)
            open = !strcasecmp(name, json_string_value(json_object_get(json_array_get(cols, j),
                                                                       "name")));
        if (open || !name ||
            json_array_append_new(cols, json_pack("{s:s, s:s}", "name", name, "type", b.data))) {
            json_decref(cols);
            cols = NULL;
        }
        if (name)
            duckdb_free(name);
        buf_free(&b);
    }
done:
    duckdb_destroy_prepare(&ps);
    return cols;
}

int engine_describe(engine_conn_t *c, const char *sql, const json_t *params, json_t **out,
                    tarn_err_t *err)
{
    /* With every parameter's type known, values do not change the columns' types. */
    if ((*out = prepared_columns(c, sql)))
        return 0;
    /* A statement's column types can depend on its parameters' values (SELECT $1), so the
     * types are read from running it, bound, with no rows. */
    size_t n = strlen(sql);
    char *q = malloc(n + 64);
    duckdb_prepared_statement ps = NULL;
    duckdb_result res;
    bool have_res = false;
    int rc = 0;
    if (!q)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    snprintf(q, n + 64, "SELECT * FROM (%s) AS q LIMIT 0", sql);
    engine_conn_claim(c);
    if (duckdb_prepare(c->c, q, &ps) == DuckDBError)
        rc = engine_fail(duckdb_prepare_error(ps), err);
    else if (!(rc = engine_bind(ps, params, err))) {
        have_res = true;
        if (duckdb_execute_prepared(ps, &res) == DuckDBError)
            rc = engine_fail(duckdb_result_error(&res), err);
    }
    free(q);
    json_t *cols = json_array();
    idx_t nc = rc ? 0 : duckdb_column_count(&res);
    for (idx_t i = 0; i < nc; i++) {
        duckdb_logical_type t = duckdb_column_logical_type(&res, i);
        buf_t b = BUF_INIT;
        engine_type_name(&b, t);
        duckdb_destroy_logical_type(&t);
        const char *name = duckdb_column_name(&res, i);
        json_array_append_new(cols, json_pack("{s:s, s:s}", "name", name ? name : "", "type",
                                              b.data ? b.data : "UNKNOWN"));
        buf_free(&b);
    }
    if (have_res)
        duckdb_destroy_result(&res);
    duckdb_destroy_prepare(&ps);
    if (rc) {
        json_decref(cols);
        return rc;
    }
    *out = cols;
    return 0;
}

int engine_param_types(engine_conn_t *c, const char *sql, json_t **types, tarn_err_t *err)
{
    duckdb_prepared_statement ps = NULL;
    json_t *list = json_array();
    int rc = list ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    engine_conn_claim(c);
    if (!rc && duckdb_prepare(c->c, sql, &ps) == DuckDBError)
        rc = engine_fail(duckdb_prepare_error(ps), err);
    idx_t n = rc ? 0 : duckdb_nparams(ps);
    for (idx_t i = 1; !rc && i <= n; i++) {
        duckdb_logical_type t = duckdb_param_logical_type(ps, i);
        duckdb_type id = t ? duckdb_get_type_id(t) : DUCKDB_TYPE_INVALID;
        buf_t b = BUF_INIT;
        /* A parameter whose use leaves its type open (SELECT $1) is ANY or unknown. */
        if (id != DUCKDB_TYPE_INVALID && id != DUCKDB_TYPE_ANY && id != DUCKDB_TYPE_SQLNULL)
            engine_type_name(&b, t);
        if (t)
            duckdb_destroy_logical_type(&t);
        if (json_array_append_new(list, json_string(b.data ? b.data : "")))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        buf_free(&b);
    }
    duckdb_destroy_prepare(&ps);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *types = list;
    return 0;
}
