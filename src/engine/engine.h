/* The embedded DuckDB engine. For now it only reports the library's version; query
 * sessions come with the SQL layer. */
#ifndef TARN_ENGINE_ENGINE_H
#define TARN_ENGINE_ENGINE_H

/* DuckDB's library version, e.g. "v1.4.4". Static string. */
const char *engine_version(void);

#endif
