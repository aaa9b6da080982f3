/*
 * pl_keytab: a hash table from 64-bit keys to fixed-size entries, for the
 * keyed state of operators (a window's per-key panes, a join's buffers).
 *
 * Keys are the 64-bit keys of keyed points ((entity << 32) | channel, see
 * pl_batch.h) or any other 64-bit id. Each key owns one entry of
 * elem_size bytes, stored densely in one array and named by a small index
 * (0 .. pl_keytab_end() - 1) that stays the same while the key is held, so
 * operators can link entries to each other by index (lists, timers). A
 * removed key's index is reused by a later insert.
 *
 * Lookup is open addressing with linear probing over 16-byte slots that
 * hold the key and its index (one cache line for a hit, no entry touched
 * until it is found); the load factor stays at most 1/2. The table starts
 * at a capacity given up front and doubles as keys are inserted, up to
 * max_keys: growth moves the entries (pointers from pl_keytab_at() are
 * valid until the next insert), never their indices. Nothing is allocated
 * on a lookup, and nothing on an insert while the capacity suffices.
 *
 * Not thread-safe: a table belongs to one thread (an operator instance).
 */
#ifndef PL_KEYTAB_H
#define PL_KEYTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What pl_keytab_find() returns for a key that is not held. */
#define PL_KEYTAB_NONE UINT32_MAX

/* Most keys a table can hold (indices are 32-bit). */
#define PL_KEYTAB_MAX ((size_t)1 << 30)

/* A slot of the hash index: idx is the entry index + 1, 0 = empty. */
typedef struct pl_keytab_slot {
    uint64_t key;
    uint32_t idx;
    uint32_t pad_;
} pl_keytab_slot_t;

/* Caller's memory; fields are read-only outside pl_keytab.c. */
typedef struct pl_keytab {
    pl_keytab_slot_t *slots; /* [mask + 1] */
    size_t mask;
    uint8_t *ent;            /* [cap * elem_size] */
    uint64_t *keys;          /* [cap]: the key of each entry index */
    uint8_t *live;           /* [cap]: 1 when the index holds a key */
    uint32_t *free_idx;      /* removed indices to reuse, a stack */
    size_t nfree;
    size_t elem_size;
    size_t cap;              /* entries allocated */
    size_t end;              /* indices handed out: 0 .. end - 1 */
    size_t n;                /* keys held */
    size_t max;              /* most keys held at once */
} pl_keytab_t;

/*
 * Make an empty table of elem_size-byte entries with room for initial keys
 * before its first growth, holding at most max_keys (1..PL_KEYTAB_MAX;
 * initial is clamped to it). Returns 0, PW_EARG or -ENOMEM (t then holds
 * nothing and is safe to fini).
 */
int pl_keytab_init(pl_keytab_t *t, size_t elem_size, size_t initial, size_t max_keys);

/* Free everything; the table is empty afterwards. Entries are not looked at:
 * free what they point to first (iterate 0..pl_keytab_end, pl_keytab_live). */
void pl_keytab_fini(pl_keytab_t *t);

/* The hash of a key (a full 64-bit mix: keys are small integers). */
static inline uint64_t pl_keytab_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    k ^= k >> 33;
    return k;
}

/* The index of key, or PL_KEYTAB_NONE. Allocates nothing. */
static inline uint32_t pl_keytab_find(const pl_keytab_t *t, uint64_t key)
{
    if (t->slots == NULL)
        return PL_KEYTAB_NONE;
    size_t i = (size_t)pl_keytab_hash(key) & t->mask;
    for (;;) {
        const pl_keytab_slot_t *s = &t->slots[i];
        if (s->idx == 0)
            return PL_KEYTAB_NONE;
        if (s->key == key)
            return s->idx - 1;
        i = (i + 1) & t->mask;
    }
}

/* The slot a lookup of key starts at, for prefetching ahead of a find. */
static inline const void *pl_keytab_slot_of(const pl_keytab_t *t, uint64_t key)
{
    return t->slots ? &t->slots[(size_t)pl_keytab_hash(key) & t->mask] : NULL;
}

/* The entry at index idx (borrowed until the next insert). */
static inline void *pl_keytab_at(const pl_keytab_t *t, uint32_t idx)
{
    return t->ent + (size_t)idx * t->elem_size;
}

/* The key held at index idx. */
static inline uint64_t pl_keytab_key(const pl_keytab_t *t, uint32_t idx)
{
    return t->keys[idx];
}

/* Whether index idx (< pl_keytab_end()) holds a key now. */
static inline bool pl_keytab_live(const pl_keytab_t *t, uint32_t idx)
{
    return t->live[idx] != 0;
}

/* Keys held. */
static inline size_t pl_keytab_count(const pl_keytab_t *t) { return t->n; }

/* One past the largest index handed out (iterate 0..end, skip dead ones). */
static inline size_t pl_keytab_end(const pl_keytab_t *t) { return t->end; }

/*
 * Insert key, which must not be held, and put its index in *idx; its entry
 * is zeroed. May grow the table (entries move). Returns 0, PW_ECAPACITY
 * when max_keys are held, or -ENOMEM; on failure the table is unchanged.
 */
int pl_keytab_insert(pl_keytab_t *t, uint64_t key, uint32_t *idx);

/*
 * Remove the key at index idx (which must be live); its index may be
 * handed out again by a later insert. The entry's memory is the caller's
 * to free before. Never fails, never allocates.
 */
void pl_keytab_remove(pl_keytab_t *t, uint32_t idx);

#endif
