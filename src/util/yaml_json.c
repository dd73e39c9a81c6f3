/* YAML to JSON with libyaml's document loader; see yaml_json.h. */
#include "util/yaml_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* A plain scalar's JSON value: YAML 1.2's core schema, as configurations expect. */
static json_t *plain_scalar(const char *s, size_t n)
{
    if (!n || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if ((s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) && !*end && !errno)
        return json_integer(i);
    double d = strtod(s, &end);
    if ((s[0] == '-' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')) && !*end && !errno &&
        strpbrk(s, ".eE"))
        return json_real(d);
    return json_stringn(s, n);
}

static int convert(yaml_document_t *doc, yaml_node_t *n, int depth, json_t **out,
                   tarn_err_t *err)
{
    if (!n || depth > 64)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "the YAML nests too deeply");
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length;
        *out = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s, len)
                                                               : json_stringn(s, len);
        return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    case YAML_SEQUENCE_NODE:
        *out = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; *out && i < n->data.sequence.items.top;
             i++) {
            json_t *v;
            int rc = convert(doc, yaml_document_get_node(doc, *i), depth + 1, &v, err);
            if (rc) {
                json_decref(*out);
                return rc;
            }
            json_array_append_new(*out, v);
        }
        return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    case YAML_MAPPING_NODE:
        *out = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; *out && p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            json_t *v;
            if (!k || k->type != YAML_SCALAR_NODE) {
                json_decref(*out);
                return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                                  "line %zu: a key must be a plain name",
                                  k ? k->start_mark.line + 1 : 0);
            }
            int rc = convert(doc, yaml_document_get_node(doc, p->value), depth + 1, &v, err);
            if (rc) {
                json_decref(*out);
                return rc;
            }
            json_object_set_new(*out, (const char *)k->data.scalar.value, v);
        }
        return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    default:
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "an empty YAML node");
    }
}

int yaml_json_parse(json_t **out, const char *text, size_t len, tarn_err_t *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "YAML line %zu, column %zu: %s",
                        parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                        parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "the YAML document is empty");
    else
        rc = convert(&doc, root, 0, out, err);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}
