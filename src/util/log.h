/* Structured logging: one JSON object per line on stderr.
 * Never pass a secret (secret key, password, signature, session token) as a field. */
#ifndef TARN_UTIL_LOG_H
#define TARN_UTIL_LOG_H

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Writes {"ts":..., "level":..., "msg": msg, k1: v1, ...}; the varargs are string
 * key/value pairs ended by NULL. Values are JSON-escaped; a NULL value becomes null. */
void log_write(int level, const char *msg, ...) __attribute__((sentinel));

#define log_info(...) log_write(LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__, (const char *)NULL)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__, (const char *)NULL)

#endif
