/*
 * pl_plays: the per-session slot table. See pl_plays.h.
 */
#include "pipeline/pl_plays.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_intern.h"

static uint64_t session_of(const pl_plays_t *t, size_t k)
{
    uint64_t v;
    memcpy(&v, (const unsigned char *)pl_plays_at(t, k) + t->session_off, sizeof v);
    return v;
}

static int64_t last_ns_of(const pl_plays_t *t, size_t k)
{
    int64_t v;
    memcpy(&v, (const unsigned char *)pl_plays_at(t, k) + t->last_ns_off, sizeof v);
    return v;
}

int pl_plays_init(pl_plays_t *t, size_t nslots, size_t size, size_t session_off,
                  size_t last_ns_off)
{
    assert(nslots > 0 && session_off + 8 <= size && last_ns_off + 8 <= size);
    memset(t, 0, sizeof *t);
    t->state = calloc(nslots, size);
    t->used = calloc(nslots, sizeof *t->used);
    if (t->state == NULL || t->used == NULL) {
        pl_plays_fini(t);
        return -ENOMEM;
    }
    t->nslots = nslots;
    t->size = size;
    t->session_off = session_off;
    t->last_ns_off = last_ns_off;
    return 0;
}

int pl_plays_init_like(pl_plays_t *t, const pl_plays_t *like)
{
    return pl_plays_init(t, like->nslots, like->size, like->session_off, like->last_ns_off);
}

void pl_plays_fini(pl_plays_t *t)
{
    free(t->state);
    free(t->used);
    memset(t, 0, sizeof *t);
}

int pl_plays_find(pl_plays_t *t, uint64_t session, size_t *k)
{
    if (t->used[t->last] && session_of(t, t->last) == session) {
        *k = t->last;
        return PL_PLAYS_FOUND;
    }
    size_t free_at = t->nslots, oldest = t->nslots;
    for (size_t j = 0; j < t->nslots; j++) {
        if (!t->used[j]) {
            if (free_at == t->nslots)
                free_at = j;
            continue;
        }
        if (session_of(t, j) == session) {
            t->last = j;
            *k = j;
            return PL_PLAYS_FOUND;
        }
        if (oldest == t->nslots || last_ns_of(t, j) < last_ns_of(t, oldest))
            oldest = j;
    }
    if (free_at < t->nslots) {
        *k = free_at;
        return PL_PLAYS_FREE;
    }
    *k = oldest;
    return PL_PLAYS_FULL;
}

bool pl_plays_holds(const pl_plays_t *t, uint64_t session)
{
    for (size_t k = 0; k < t->nslots; k++)
        if (t->used[k] && session_of(t, k) == session)
            return true;
    return false;
}

void *pl_plays_take(pl_plays_t *t, size_t k)
{
    t->used[k] = true;
    t->last = k;
    return pl_plays_at(t, k);
}

void pl_plays_drop(pl_plays_t *t, size_t k)
{
    t->used[k] = false;
}

void pl_plays_clear(pl_plays_t *t)
{
    for (size_t k = 0; k < t->nslots; k++)
        t->used[k] = false;
    t->last = 0;
}

uint32_t pl_plays_count(const pl_plays_t *t)
{
    uint32_t n = 0;
    for (size_t k = 0; k < t->nslots; k++)
        n += t->used[k];
    return n;
}

bool pl_plays_ended(const pl_plays_t *t, size_t k, int64_t flush_ns, int64_t watermark_ns)
{
    if (!t->used[k])
        return false;
    int64_t last_ns = last_ns_of(t, k);
    return watermark_ns == PL_WATERMARK_MAX ||
           (last_ns <= INT64_MAX - flush_ns && last_ns + flush_ns <= watermark_ns);
}

int pl_plays_check_frames(const char *op, const pl_port_type_t *in, int nin,
                          pl_port_type_t *out, pw_err_t *err)
{
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "%s: takes 1 input, not %d", op, nin);
    if (in[0].kind != PL_FRAMES)
        return pw_err_set(err, PW_ECONF, "%s: input 1 carries %s; %s takes frames", op,
                          in[0].kind == PL_POINTS ? "points" : "results", op);
    out[0].kind = PL_RESULTS;
    out[0].keyed = false;
    return 0;
}

const char *pl_plays_entity_name(const pl_ctx_t *ctx, uint32_t e)
{
    const char *n = ctx->names && ctx->names->entities ? pw_intern_name(ctx->names->entities, e)
                                                       : NULL;
    return n ? n : "?";
}
