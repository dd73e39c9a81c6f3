/* REST for promotion's quarantine: GET /v1/quarantine[?table=zone.db.t] lists what
 * failed and why, POST /v1/quarantine/release {"key"} sends an object through promotion
 * again. Shapes are in docs/processing.md. */
#include "server/rest/rest.h"
#include "server/server_state.h"

#include <string.h>

static int rest_list_quarantine(req_t *r)
{
    const char *t = req_query(r, "table");
    catalog_name_t n = {0};
    if (t && (!catalog_name_parse(&n, t) || (strcmp(n.zone, "raw") && strcmp(n.zone, "cleaned"))))
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "table is raw.db.t or cleaned.db.t (got '%s')", t);
    json_t *out = NULL;
    int rc = promote_quarantine_list(r->srv->catalog, t ? n.db : NULL, t ? n.table : NULL, &out,
                                     &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int rest_release_quarantine(req_t *r)
{
    json_t *in, *out = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *key = json_string_value(json_object_get(in, "key"));
    if (!key || json_object_size(in) != 1)
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "the body names the quarantined object: {\"key\": \"db/table/file.csv\"}");
    else if (!r->srv->promoter)
        rc = TARN_ERR_R(&r->err, TARN_ECONFLICT, PromotionOff,
                        "promotion is off on this server (tarn serve --promotion on)");
    else
        rc = promote_quarantine_release(r->srv->catalog, r->srv->store, key, &out, &r->err);
    json_decref(in);
    return rc ? rc : rest_respond_json(r, 202, out);
}

/* The admin's: objects there may hold any table's data. */
const op_t rest_quarantine_ops[] = {
    REST_OP("ListQuarantine", "process:ListQuarantine", "GET", "/v1/quarantine", "quarantine/*",
            BODY_NONE, rest_list_quarantine),
    REST_OP("ReleaseQuarantine", "process:ReleaseQuarantine", "POST", "/v1/quarantine/release",
            "quarantine/*", BODY_BUFFER, rest_release_quarantine),
};
const size_t rest_quarantine_nops = sizeof rest_quarantine_ops / sizeof *rest_quarantine_ops;
