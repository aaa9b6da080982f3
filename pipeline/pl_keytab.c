/*
 * pl_keytab: open addressing (linear probing, backward-shift deletion) over
 * an array of dense, fixed-size entries.
 */
#include "pipeline/pl_keytab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_error.h"

/* Slots for cap entries: a power of two at least 2 * cap. */
static size_t slots_for(size_t cap)
{
    size_t n = 16;
    while (n < 2 * cap)
        n *= 2;
    return n;
}

/* Put (key, idx) in a slot table known not to hold key. */
static void slot_put(pl_keytab_slot_t *slots, size_t mask, uint64_t key, uint32_t idx)
{
    size_t i = (size_t)pl_keytab_hash(key) & mask;
    while (slots[i].idx != 0)
        i = (i + 1) & mask;
    slots[i].key = key;
    slots[i].idx = idx + 1;
}

/* Grow entries (and slots, when the load would pass 1/2) to hold cap. */
static int grow(pl_keytab_t *t, size_t cap)
{
    if (cap > t->max)
        cap = t->max;
    if (cap <= t->cap)
        return 0;
    size_t nslots = slots_for(cap);
    pl_keytab_slot_t *slots = NULL;
    if (nslots != t->mask + 1 || t->slots == NULL) {
        slots = calloc(nslots, sizeof *slots);
        if (slots == NULL)
            return -ENOMEM;
    }
    uint8_t *ent = realloc(t->ent, cap * t->elem_size);
    if (ent == NULL) {
        free(slots);
        return -ENOMEM;
    }
    t->ent = ent;
    uint64_t *keys = realloc(t->keys, cap * sizeof *keys);
    if (keys == NULL) {
        free(slots);
        return -ENOMEM;
    }
    t->keys = keys;
    uint8_t *live = realloc(t->live, cap);
    if (live == NULL) {
        free(slots);
        return -ENOMEM;
    }
    t->live = live;
    uint32_t *fr = realloc(t->free_idx, cap * sizeof *fr);
    if (fr == NULL) {
        free(slots);
        return -ENOMEM;
    }
    t->free_idx = fr;
    memset(t->live + t->cap, 0, cap - t->cap);
    if (slots) {
        for (size_t i = 0; i < t->end; i++)
            if (t->live[i])
                slot_put(slots, nslots - 1, t->keys[i], (uint32_t)i);
        free(t->slots);
        t->slots = slots;
        t->mask = nslots - 1;
    }
    t->cap = cap;
    return 0;
}

int pl_keytab_init(pl_keytab_t *t, size_t elem_size, size_t initial, size_t max_keys)
{
    memset(t, 0, sizeof *t);
    if (elem_size == 0 || max_keys == 0 || max_keys > PL_KEYTAB_MAX)
        return PW_EARG;
    t->elem_size = elem_size;
    t->max = max_keys;
    if (initial < 16)
        initial = 16;
    int rc = grow(t, initial);
    if (rc)
        pl_keytab_fini(t);
    return rc;
}

void pl_keytab_fini(pl_keytab_t *t)
{
    free(t->slots);
    free(t->ent);
    free(t->keys);
    free(t->live);
    free(t->free_idx);
    size_t elem = t->elem_size, max = t->max;
    memset(t, 0, sizeof *t);
    t->elem_size = elem;
    t->max = max;
}

int pl_keytab_insert(pl_keytab_t *t, uint64_t key, uint32_t *idx)
{
    if (t->n >= t->max)
        return PW_ECAPACITY;
    uint32_t i;
    if (t->nfree) {
        i = t->free_idx[t->nfree - 1];
    } else {
        if (t->end == t->cap) {
            int rc = grow(t, t->cap * 2);
            if (rc)
                return rc;
        }
        i = (uint32_t)t->end;
    }
    if (t->nfree)
        t->nfree--;
    else
        t->end++;
    slot_put(t->slots, t->mask, key, i);
    t->keys[i] = key;
    t->live[i] = 1;
    memset(pl_keytab_at(t, i), 0, t->elem_size);
    t->n++;
    *idx = i;
    return 0;
}

void pl_keytab_remove(pl_keytab_t *t, uint32_t idx)
{
    uint64_t key = t->keys[idx];
    size_t i = (size_t)pl_keytab_hash(key) & t->mask;
    while (t->slots[i].idx != idx + 1)
        i = (i + 1) & t->mask;
    /* Backward shift: pull later members of the run into the hole. */
    size_t hole = i;
    for (size_t j = (hole + 1) & t->mask; t->slots[j].idx != 0; j = (j + 1) & t->mask) {
        size_t home = (size_t)pl_keytab_hash(t->slots[j].key) & t->mask;
        /* j may move to hole if its home is not in (hole, j] cyclically. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        t->slots[hole] = t->slots[j];
        hole = j;
    }
    t->slots[hole].idx = 0;
    t->slots[hole].key = 0;
    t->live[idx] = 0;
    t->free_idx[t->nfree++] = idx;
    t->n--;
}
