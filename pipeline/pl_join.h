/*
 * pl_join: the `join` operator: points joined, as of their event time, to
 * the tracking frames (a heart rate or a sensor reading with where the
 * player was).
 *
 * Inputs: 1 = points (keyed or not), 2 = frames. For each point, the match
 * is the latest frame with point.ts - max_gap <= frame.ts <= point.ts
 * (default max_gap 200 ms) that holds an object whose entity is the point's
 * entity (of equal times, the frame that arrived last). The operator emits
 * the point, then, when it matched, one point per field of `fields` (x, y,
 * speed, orientation, direction; default [x, y]) with that object's value,
 * at the point's time and entity, on channel <prefix><field> (prefix
 * default "at_"; channels interned at init). Output: points, keyed when
 * input 1 is: joined points keep the point's key, except that a key
 * holding a channel gets the field's channel.
 *
 * Event time, whatever input arrives first: points are held until the
 * operator's watermark (ctx->watermark_ns, the minimum of both inputs')
 * reaches their time, and emitted from advance() in (time, arrival) order;
 * frames are kept while a point that can still come may match them
 * (frame.ts >= watermark - max_gap). So the output does not depend on how
 * the two inputs interleave.
 *
 * Counters (besides in/out, which the worker keeps):
 *   cnt.late      points that arrived with time <= watermark: joined at
 *                 once with the frames still held, emitted from process();
 *   cnt.dropped   frames that arrived too late to match any point that can
 *                 still come (frame.ts < watermark - max_gap): not kept;
 *   cnt.evicted   state limits biting: points joined early because
 *                 max_pending points were held (the oldest goes at once
 *                 with what is there), and frames let go early because
 *                 max_frames were held;
 *   cnt.keys      points held now;
 *   unmatched     points emitted without a match (no frame in the window
 *                 holds their entity): pl_join_unmatched(); they are not
 *                 dropped.
 *
 * State: the held points (a binary heap by (time, arrival)) and frames (in
 * time order); snapshot/restore carry both. Lookups scan the frames of the
 * window [ts - max_gap, ts] from the latest, and their objects: cheap for
 * tracking rates (10-25 Hz, 23 objects) and gaps of a few hundred ms.
 * Runs on one worker thread (pl_op.h).
 */
#ifndef PL_JOIN_H
#define PL_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/pl_op.h"

typedef struct pl_join_conf {
    char **fields;       /* x, y, speed, orientation, direction */
    size_t nfields;
    char *prefix;        /* of the joined channels; NULL = "" */
    int64_t max_gap_ms;  /* oldest frame a point matches, before its time */
    int64_t max_pending; /* points held at most */
    int64_t max_frames;  /* frames held at most */
} pl_join_conf_t;

extern const pw_conf_section_t pl_join_conf_section;
extern const pl_op_def_t pl_join_def;

/* Points of an instance emitted without a match, since init or restore. */
uint64_t pl_join_unmatched(const pl_op_t *op);

#endif
