/* Named kill points for crash tests: in debug and test builds, a process started with
 * TARN_KILLPOINT=NAME (or NAME:N, the Nth time it is reached) ends at once with _exit(137)
 * when it reaches killpoint_hit("NAME"), as kill -9 would end it there. Release builds
 * compile every kill point to nothing. The points are listed in docs/storage.md. */
#ifndef TARN_UTIL_KILLPOINT_H
#define TARN_UTIL_KILLPOINT_H

#ifdef TARN_KILLPOINTS
void killpoint_hit(const char *name);
#else
static inline void killpoint_hit(const char *name)
{
    (void)name;
}
#endif

#endif
