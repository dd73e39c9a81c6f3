/* Pieces the promoter's files share: small statements on its tables and the quarantine
 * count the catalog keeps per table. */
#ifndef TARN_PROCESS_PROMOTE_INTERNAL_H
#define TARN_PROCESS_PROMOTE_INTERNAL_H

#include "catalog/catalog.h"

/* Runs sql with text t1, t2 (bound when not NULL) as ?1, ?2 and i3 as ?3. */
int promote_sql(db_t *db, const char *sql, const char *t1, const char *t2, int64_t i3,
                tarn_err_t *err);
/* Rewrites the catalog's quarantine count of db.tbl from the registry (no-op for NULL). */
int promote_quarantine_recount(catalog_t *c, const char *db, const char *tbl, tarn_err_t *err);

#endif
