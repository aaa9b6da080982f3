/*
 * pl_match: name patterns matched by id, with a verdict cache.
 */
#include "pipeline/pl_match.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool pattern_matches(const char *pat, const char *name, size_t len)
{
    size_t pl = strlen(pat);
    if (pl > 0 && pat[pl - 1] == '*')
        return len >= pl - 1 && memcmp(name, pat, pl - 1) == 0;
    return len == pl && memcmp(name, pat, pl) == 0;
}

int pl_match_check(const char *op, const char *key, char *const *pat, size_t n,
                   pw_err_t *err)
{
    for (size_t k = 0; k < n; k++) {
        const char *s = pat[k];
        if (s == NULL || !s[0])
            return pw_err_set(err, PW_ECONF, "%s: %s: an empty name", op, key);
        const char *star = strchr(s, '*');
        if (star && star[1] != '\0')
            return pw_err_set(err, PW_ECONF, "%s: %s: '%s': '*' may only end a pattern", op,
                              key, s);
    }
    return 0;
}

int pl_match_slow(pl_match_t *m, uint32_t id)
{
    if (id >= m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap <= id)
            cap *= 2;
        uint8_t *v = realloc(m->verdict, cap);
        if (v == NULL)
            return -ENOMEM;
        memset(v + m->cap, PL_MATCH_UNKNOWN, cap - m->cap);
        m->verdict = v;
        m->cap = cap;
    }
    const char *name = pw_intern_name(m->tab, id);
    if (name == NULL)
        return 0; /* not named yet: ask again next time */
    size_t len = pw_intern_len(m->tab, id);
    bool keep = false;
    for (size_t k = 0; k < m->npat && !keep; k++)
        keep = pattern_matches(m->pat[k], name, len);
    m->verdict[id] = keep ? PL_MATCH_KEEP : PL_MATCH_SKIP;
    return keep;
}

int pl_match_init(pl_match_t *m, char *const *pat, size_t n, const pw_intern_t *tab)
{
    memset(m, 0, sizeof *m);
    m->pat = pat;
    m->npat = n;
    m->tab = tab;
    if (n == 0)
        return 0;
    size_t count = pw_intern_count(tab);
    for (size_t id = count; id >= 1; id--) /* the largest first: one allocation */
        if (pl_match_slow(m, (uint32_t)id) < 0)
            return -ENOMEM;
    return 0;
}

void pl_match_fini(pl_match_t *m)
{
    free(m->verdict);
    m->verdict = NULL;
    m->cap = 0;
}
