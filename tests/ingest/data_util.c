#include "data_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *tdata_load(const char *rel, size_t *len, char *path_out, size_t cap)
{
    const char *dir = getenv("PITWALL_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "../shared/data", rel);
    if (path_out)
        snprintf(path_out, cap, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (getenv("CI"))
            cr_assert_fail("%s: %s (set PITWALL_DATA to the shared data folder)", path,
                           strerror(errno));
        cr_skip_test("%s: %s (set PITWALL_DATA to the shared data folder)", path,
                     strerror(errno));
    }
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n > 0);
    rewind(f);
    uint8_t *d = malloc((size_t)n);
    cr_assert_not_null(d);
    cr_assert_eq(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return d;
}
