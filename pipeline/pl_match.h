/*
 * pl_match: "is this channel (or entity) one of these names?" per record,
 * for operators configured with name lists such as [speed_mps, tyre_*].
 *
 * Patterns are names, or prefixes ending in '*' (car/ followed by a star). Ids are matched,
 * not strings: the verdict for each id is worked out once from its name and
 * cached in an array indexed by id, which grows geometrically when a larger
 * id appears (a name table grows while the pipeline runs). An id whose name
 * is not known yet is asked again next time. Nothing is interned, so a typo
 * in a configuration never makes a name.
 *
 * Not thread-safe: one matcher per operator instance (worker).
 */
#ifndef PL_MATCH_H
#define PL_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"

enum { PL_MATCH_UNKNOWN = 0, PL_MATCH_KEEP = 1, PL_MATCH_SKIP = 2 };

typedef struct pl_match {
    char *const *pat;        /* borrowed from the configuration */
    size_t npat;             /* 0: everything matches */
    const pw_intern_t *tab;  /* the name table the ids come from */
    uint8_t *verdict;        /* [cap], PL_MATCH_* per id */
    size_t cap;
} pl_match_t;

/*
 * Check patterns for an operator's key: no empty name, '*' only at the end.
 * PW_ECONF names the operator, the key and the pattern.
 */
int pl_match_check(const char *op, const char *key, char *const *pat, size_t n,
                   pw_err_t *err);

/* Start matching pat[0..n) (borrowed) against ids of tab, resolving the names
 * tab holds now. 0 or -ENOMEM. */
int pl_match_init(pl_match_t *m, char *const *pat, size_t n, const pw_intern_t *tab);

void pl_match_fini(pl_match_t *m);

/* The verdict of an id not cached yet. 1, 0 or -ENOMEM. */
int pl_match_slow(pl_match_t *m, uint32_t id);

/* 1 when id matches, 0 when not, -ENOMEM. */
static inline int pl_match_id(pl_match_t *m, uint32_t id)
{
    if (m->npat == 0)
        return 1;
    if (id < m->cap && m->verdict[id] != PL_MATCH_UNKNOWN)
        return m->verdict[id] == PL_MATCH_KEEP;
    return pl_match_slow(m, id);
}

#endif
