#include "core/pw_intern.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of name storage the arena takes from malloc at a time. */
#define INTERN_BLOCK 65536u

/* Smallest slot table, so tiny tables still probe short runs. */
#define INTERN_MIN_SLOTS 16u

/* One block of the arena; blocks never move, so names never do. */
typedef struct intern_block {
    struct intern_block *next;
    size_t used;
    size_t cap;
    char data[];
} intern_block_t;

/* What an id stands for. Written once, before the id is published. */
typedef struct intern_entry {
    const char *name;
    uint32_t len;
    uint32_t hash; /* high half of the 64-bit hash, as kept in the slot */
} intern_entry_t;

struct pw_intern {
    /*
     * Slot = (hash high 32 bits << 32) | id, 0 = empty. Keeping the hash
     * in the slot rejects most collisions without touching the entry.
     */
    _Atomic uint64_t *slots;
    size_t mask;              /* number of slots - 1 (a power of two) */
    intern_entry_t *entries;  /* [max + 1]; entries[0] is unused */
    size_t max;
    _Atomic size_t count;     /* ids 1..count are published */
    intern_block_t *blocks;   /* newest first; the adder's alone */
};

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/*
 * A 64-bit hash reading eight bytes at a time, finished with the murmur3
 * avalanche so that the low bits (the slot index) depend on every byte.
 * Only used in memory, so byte order does not matter.
 */
static uint64_t intern_hash(const char *s, size_t len)
{
    const uint64_t k1 = 0x9e3779b97f4a7c15ull;
    const uint64_t k2 = 0xc2b2ae3d27d4eb4full;
    uint64_t h = k1 ^ ((uint64_t)len * k2);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = rotl64(h ^ (w * k2), 31) * k1;
        s += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, s, len);
        h = rotl64(h ^ (w * k2), 31) * k1;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

int pw_intern_create(size_t max_names, pw_intern_t **t)
{
    if (t == NULL || max_names == 0 || max_names > PW_INTERN_MAX_NAMES)
        return PW_EARG;
    size_t nslots = INTERN_MIN_SLOTS;
    while (nslots < 2 * max_names)
        nslots <<= 1;

    pw_intern_t *it = calloc(1, sizeof *it);
    if (it == NULL)
        return -ENOMEM;
    it->slots = calloc(nslots, sizeof *it->slots);
    it->entries = calloc(max_names + 1, sizeof *it->entries);
    if (it->slots == NULL || it->entries == NULL) {
        pw_intern_destroy(it);
        return -ENOMEM;
    }
    it->mask = nslots - 1;
    it->max = max_names;
    atomic_init(&it->count, 0);
    *t = it;
    return 0;
}

void pw_intern_destroy(pw_intern_t *t)
{
    if (t == NULL)
        return;
    intern_block_t *b = t->blocks;
    while (b != NULL) {
        intern_block_t *next = b->next;
        free(b);
        b = next;
    }
    free((void *)t->slots);
    free(t->entries);
    free(t);
}

/*
 * Probe for name. Returns true and the id if present; otherwise false and,
 * in *free_slot, the empty slot where it would go.
 */
static bool intern_probe(const pw_intern_t *t, const char *name, size_t len,
                         uint64_t h, uint32_t *id, size_t *free_slot)
{
    uint32_t hi = (uint32_t)(h >> 32);
    size_t i = (size_t)h & t->mask;
    for (;;) {
        uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (s == 0) {
            *free_slot = i;
            return false;
        }
        if ((uint32_t)(s >> 32) == hi) {
            const intern_entry_t *e = &t->entries[(uint32_t)s];
            if (e->len == len && memcmp(e->name, name, len) == 0) {
                *id = (uint32_t)s;
                return true;
            }
        }
        i = (i + 1) & t->mask;
    }
}

int pw_intern_find(const pw_intern_t *t, const char *name, size_t len,
                   uint32_t *id)
{
    if (t == NULL || id == NULL || (name == NULL && len > 0))
        return PW_EARG;
    if (len == 0 || len > PW_INTERN_NAME_MAX)
        return PW_ENOTFOUND;
    size_t unused;
    uint32_t found;
    if (!intern_probe(t, name, len, intern_hash(name, len), &found, &unused))
        return PW_ENOTFOUND;
    *id = found;
    return 0;
}

/* Copy len bytes plus a NUL into the arena; NULL when out of memory. */
static char *intern_store(pw_intern_t *t, const char *name, size_t len)
{
    intern_block_t *b = t->blocks;
    if (b == NULL || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > INTERN_BLOCK ? len + 1 : INTERN_BLOCK;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = t->blocks;
        b->used = 0;
        b->cap = cap;
        t->blocks = b;
    }
    char *p = b->data + b->used;
    memcpy(p, name, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

int pw_intern_add(pw_intern_t *t, const char *name, size_t len, uint32_t *id)
{
    if (t == NULL || id == NULL || name == NULL || len == 0 ||
        len > PW_INTERN_NAME_MAX)
        return PW_EARG;
    uint64_t h = intern_hash(name, len);
    size_t slot;
    uint32_t found;
    if (intern_probe(t, name, len, h, &found, &slot)) {
        *id = found;
        return 0;
    }
    size_t n = atomic_load_explicit(&t->count, memory_order_relaxed);
    if (n >= t->max)
        return PW_ECAPACITY;
    char *copy = intern_store(t, name, len);
    if (copy == NULL)
        return -ENOMEM;

    uint32_t nid = (uint32_t)(n + 1);
    t->entries[nid].name = copy;
    t->entries[nid].len = (uint32_t)len;
    t->entries[nid].hash = (uint32_t)(h >> 32);
    /*
     * Publish the count before the slot: a reader that finds the id in a
     * slot must also see it as valid in pw_intern_name().
     */
    atomic_store_explicit(&t->count, (size_t)nid, memory_order_release);
    atomic_store_explicit(&t->slots[slot], (h & 0xffffffff00000000ull) | nid,
                          memory_order_release);
    *id = nid;
    return 0;
}

const char *pw_intern_name(const pw_intern_t *t, uint32_t id)
{
    if (t == NULL || id == 0 ||
        id > atomic_load_explicit(&t->count, memory_order_acquire))
        return NULL;
    return t->entries[id].name;
}

size_t pw_intern_len(const pw_intern_t *t, uint32_t id)
{
    if (t == NULL || id == 0 ||
        id > atomic_load_explicit(&t->count, memory_order_acquire))
        return 0;
    return t->entries[id].len;
}

size_t pw_intern_count(const pw_intern_t *t)
{
    if (t == NULL)
        return 0;
    return atomic_load_explicit(&t->count, memory_order_acquire);
}

size_t pw_intern_capacity(const pw_intern_t *t)
{
    return t == NULL ? 0 : t->max;
}

int pw_intern_add_all(pw_intern_t *t, char *const *names, size_t n,
                      uint32_t *ids, pw_err_t *err)
{
    if (t == NULL || (names == NULL && n > 0))
        return pw_err_set(err, PW_EARG, "pw_intern_add_all: no table or names");
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL)
            return pw_err_set(err, PW_EARG, "cannot intern name %zu: NULL", i);
        uint32_t id;
        int rc = pw_intern_add(t, names[i], strlen(names[i]), &id);
        if (rc == PW_ECAPACITY)
            return pw_err_set(err, rc,
                              "cannot intern '%s': capacity of %zu names "
                              "exceeded", names[i], t->max);
        if (rc == PW_EARG)
            return pw_err_set(err, rc,
                              "cannot intern '%.64s': names must be 1 to %u "
                              "bytes", names[i], PW_INTERN_NAME_MAX);
        if (rc != 0)
            return pw_err_set(err, rc, "cannot intern '%s': %s", names[i],
                              pw_strerror(rc));
        if (ids != NULL)
            ids[i] = id;
    }
    return 0;
}
