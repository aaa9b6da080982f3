/*
 * pw_intern: names (channels, entities, topics) interned to small integers.
 *
 * A decoder sees "rpm" or "car 24" on every record; the pipeline wants a
 * uint32_t it can index arrays with. An intern table maps each distinct
 * byte string to an id once: ids start at 1 and are dense (the n-th new
 * name gets id n), 0 means "no name", and an id never changes or goes
 * away for the table's lifetime.
 *
 * The table is sized up front for max_names: an open-addressing hash table
 * (linear probing, load factor at most 1/2) of 8-byte slots, an array of
 * (pointer, length) per id and the name bytes in an arena of blocks that
 * never move. pw_intern_find() allocates nothing, takes no lock and
 * touches one or two cache lines for a short name: it is meant for the
 * per-record path. pw_intern_add() allocates only when the arena needs a
 * new block (64 KiB at a time).
 *
 * Names are byte strings with a length: they may hold any bytes, NUL
 * included; an empty name is not a name.
 *
 * Threads: one thread at a time may add (adds from several threads need a
 * lock around pw_intern_add()). Any number of threads may call find, name,
 * len and count at the same time as that one adder, without a lock: an
 * entry is fully written before the slot that publishes it is stored with
 * release order, and readers load slots with acquire order. A reader
 * racing an add of the same name may miss it (PW_ENOTFOUND) but never sees
 * a half-written name. destroy must not race anything.
 */
#ifndef PW_INTERN_H
#define PW_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"

typedef struct pw_intern pw_intern_t;

/* Largest max_names a table accepts (memory: about 32 bytes per name). */
#define PW_INTERN_MAX_NAMES (1u << 28)

/* Longest name in bytes. */
#define PW_INTERN_NAME_MAX 65535u

/* The id that means "no name". */
#define PW_INTERN_NONE 0u

/*
 * Create an empty table that holds up to max_names names
 * (1..PW_INTERN_MAX_NAMES). On success *t is an owned table: free it with
 * pw_intern_destroy(). Returns 0, PW_EARG or -ENOMEM (*t untouched).
 */
int pw_intern_create(size_t max_names, pw_intern_t **t);

/* Free t and every name in it. NULL does nothing. */
void pw_intern_destroy(pw_intern_t *t);

/*
 * Intern len bytes at name (copied; the caller keeps its buffer) and put
 * its id in *id: the existing id if the name is already there, else the
 * next one. Returns 0; PW_EARG for an empty name or one longer than
 * PW_INTERN_NAME_MAX; PW_ECAPACITY when a new name would exceed
 * max_names; -ENOMEM. On failure *id and the table are unchanged.
 * One adder at a time (see above).
 */
int pw_intern_add(pw_intern_t *t, const char *name, size_t len, uint32_t *id);

/*
 * Look up len bytes at name and put its id in *id. Returns 0 or
 * PW_ENOTFOUND (also for an empty name); *id is untouched on failure.
 * Allocates nothing; safe to call from any thread alongside the adder.
 */
int pw_intern_find(const pw_intern_t *t, const char *name, size_t len,
                   uint32_t *id);

/*
 * The name of id, NUL-terminated (the NUL is not part of the name; a name
 * holding NUL bytes needs pw_intern_len()). Borrowed until t is destroyed.
 * NULL when id is 0 or was never given out. Thread-safe like find.
 */
const char *pw_intern_name(const pw_intern_t *t, uint32_t id);

/* Length in bytes of the name of id; 0 when id is unknown. */
size_t pw_intern_len(const pw_intern_t *t, uint32_t id);

/* Number of names interned: the largest id given out. Thread-safe. */
size_t pw_intern_count(const pw_intern_t *t);

/* Capacity: the max_names the table was created with. */
size_t pw_intern_capacity(const pw_intern_t *t);

/*
 * Intern every string of names[0..n) (NUL-terminated; e.g. a STRLIST from
 * pw_conf: `pw_intern_add_all(t, c.channels, c.nchannels, NULL, &err)`).
 * If ids is not NULL it receives n ids, ids[i] for names[i]. Stops at the
 * first failure, saying which name in err ("cannot intern 'x': capacity
 * of 1000 names exceeded"); names added before it stay (a table only grows).
 * Returns 0 or an error of pw_intern_add(); PW_EARG if a name is NULL.
 */
int pw_intern_add_all(pw_intern_t *t, char *const *names, size_t n,
                      uint32_t *ids, pw_err_t *err);

#endif
