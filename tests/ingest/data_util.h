/*
 * Real data for ingest tests: files under $PITWALL_DATA (default
 * ../shared/data). A missing file skips the test with a message, or fails
 * it when CI is set (CI must run on the data).
 */
#ifndef DATA_UTIL_H
#define DATA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read data file rel into an exact-size heap buffer (so ASan sees any
 * overread); free() it. path (may be NULL) receives the full path.
 */
uint8_t *tdata_load(const char *rel, size_t *len, char *path, size_t cap);

#endif
