/*
 * pl_plays: the per-session slot table of the sports operators (pressure,
 * events, hockey_events).
 *
 * A fixed number of slots, each holding one session's model state (a
 * md_pressure_play_t, md_events_play_t or md_hockey_game_t: any struct
 * with a uint64_t session and an int64_t last_ns, the time of its last
 * frame). A frame's session is found in the table, or given the first free
 * slot, or, when every slot is taken, the least recently seen session
 * (smallest last_ns, the first such slot on a tie) is named for eviction;
 * what eviction means (drop, or flush pending events first) is the
 * operator's. The slot of the previous lookup is tried first, as frames of
 * one session come in runs. Slot numbers are stable, so an operator may
 * write them into its checkpoint.
 *
 * Threads: a table belongs to one operator instance and is touched only by
 * its worker thread.
 */
#ifndef PL_PLAYS_H
#define PL_PLAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/pl_op.h"

/* What pl_plays_find found. */
#define PL_PLAYS_FOUND 0 /* the session's slot */
#define PL_PLAYS_FREE 1  /* no slot for the session; a free one */
#define PL_PLAYS_FULL 2  /* no slot for the session, none free; the one to evict */

typedef struct pl_plays {
    unsigned char *state; /* nslots states of size bytes, zeroed at init; owned */
    bool *used;           /* [nslots]: slot k holds a session; owned */
    size_t nslots;
    size_t size;          /* bytes of one state */
    size_t session_off;   /* offset of the state's uint64_t session */
    size_t last_ns_off;   /* offset of the state's int64_t last_ns */
    size_t last;          /* slot of the previous lookup */
} pl_plays_t;

/*
 * Make t a table of nslots (>= 1) free slots for states of size bytes
 * whose session and last_ns are at the offsets given. 0 or -ENOMEM (t
 * then needs no fini). PL_PLAYS_INIT(t, nslots, type) fills in the rest.
 */
int pl_plays_init(pl_plays_t *t, size_t nslots, size_t size, size_t session_off,
                  size_t last_ns_off);
#define PL_PLAYS_INIT(t, nslots, type) \
    pl_plays_init((t), (nslots), sizeof(type), offsetof(type, session), offsetof(type, last_ns))

/* Make t an empty table shaped as like (a restore's scratch). 0 or -ENOMEM. */
int pl_plays_init_like(pl_plays_t *t, const pl_plays_t *like);

/* Free t's memory. A zeroed t is fine. */
void pl_plays_fini(pl_plays_t *t);

/* The state in slot k (k < nslots), used or not. */
static inline void *pl_plays_at(const pl_plays_t *t, size_t k)
{
    return t->state + k * t->size;
}

/*
 * Look session up: PL_PLAYS_FOUND with *k its slot (remembered for the
 * next lookup), PL_PLAYS_FREE with *k the first free slot, or
 * PL_PLAYS_FULL with *k the least recently seen session's slot. Changes
 * nothing else: the caller takes the slot (pl_plays_take) or not.
 */
int pl_plays_find(pl_plays_t *t, uint64_t session, size_t *k);

/* Whether a used slot holds session (a restore's duplicate check). */
bool pl_plays_holds(const pl_plays_t *t, uint64_t session);

/* Mark slot k used and remembered; its state, for the caller to initialise. */
void *pl_plays_take(pl_plays_t *t, size_t k);

/* Mark slot k free. */
void pl_plays_drop(pl_plays_t *t, size_t k);

/* Mark every slot free. */
void pl_plays_clear(pl_plays_t *t);

/* Sessions held. */
uint32_t pl_plays_count(const pl_plays_t *t);

/*
 * Whether slot k holds a session that has ended: its last frame is
 * flush_ns or more behind the watermark, or the input has ended
 * (PL_WATERMARK_MAX).
 */
bool pl_plays_ended(const pl_plays_t *t, size_t k, int64_t flush_ns, int64_t watermark_ns);

/*
 * The graph check of a per-play operator called op: one input of frames,
 * one output of results (not keyed). 0, or PW_ECONF naming op and why.
 */
int pl_plays_check_frames(const char *op, const pl_port_type_t *in, int nin,
                          pl_port_type_t *out, pw_err_t *err);

/* The name of entity e for a result, "?" when unknown. Borrowed from ctx. */
const char *pl_plays_entity_name(const pl_ctx_t *ctx, uint32_t e);

#endif
