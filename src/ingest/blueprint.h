/* Blueprints: one YAML document naming a source (type, connection, tables), a target
 * database and format, per-table partitioning and a mode, from which the server makes the
 * source and one apply_changes pipeline per table keeping curated.<db>.<table> equal to
 * the source table. This module checks the document, writes what it generates (the
 * source's configuration, each pipeline's spec) and keeps the blueprints' versions with
 * the names of what they generated; the server applies those through the source and
 * pipeline registries (ingest and process are peers: neither calls the other).
 * docs/sources.md documents the shape. */
#ifndef TARN_INGEST_BLUEPRINT_H
#define TARN_INGEST_BLUEPRINT_H

#include "util/buf.h"
#include "util/db.h"
#include "util/err.h"

#include <jansson.h>

/* Creates the registry's table in db if needed. */
int blueprints_init(db_t *db, tarn_err_t *err);

/* Parses and checks a blueprint (YAML or JSON): *out (caller decrefs) gets it with its
 * defaults filled in. TARN_EINVAL (InvalidArgument) names the value at fault. */
int blueprint_parse(const char *text, size_t len, json_t **out, tarn_err_t *err);
/* The blueprint's name ("blueprint"). Borrowed from bp. */
const char *blueprint_name(const json_t *bp);
/* The source's type and its configuration as the blueprint gives it (without type; the
 * mode, format and target database filled in), for the plugin's config map: *cfg caller
 * decrefs. */
int blueprint_source_config(const json_t *bp, const char **type, json_t **cfg, tarn_err_t *err);
/* The spec (YAML, caller frees) of the pipeline keeping table t current, t one entry of the
 * plugin's tables ({"table", "lake", "keys"}); *name (caller frees) gets the pipeline's
 * name. TARN_EINVAL when the table has no key and the blueprint names none. */
int blueprint_pipeline_spec(const json_t *bp, const json_t *t, char **name, char **spec,
                            tarn_err_t *err);

/* Records a new version of blueprint name: its text and what it generated
 * ({"source", "pipelines": [...], "tables": [...]}). *version gets its number. */
int blueprints_record(db_t *db, const char *name, const char *text, const json_t *generated,
                      const char *by, int64_t *version, tarn_err_t *err);
/* {"blueprints": [{"name", "version", "source", "pipelines", "applied_by", "updated"}]}. */
int blueprints_list(db_t *db, json_t **out, tarn_err_t *err);
/* The live blueprint name: the list's fields plus "text" and "generated".
 * TARN_ENOTFOUND (NoSuchBlueprint). */
int blueprints_show(db_t *db, const char *name, json_t **out, tarn_err_t *err);
/* Marks it deleted (its versions stay); *generated (caller decrefs) gets what its latest
 * version generated, for the caller to remove. TARN_ENOTFOUND (NoSuchBlueprint). */
int blueprints_delete(db_t *db, const char *name, json_t **generated, tarn_err_t *err);

#endif
