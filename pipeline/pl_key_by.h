/*
 * pl_key_by: the `key_by` operator: give every record the key that
 * partitions keyed state downstream (windows, models).
 *
 * Input: points or frames (keyed or not); output: the same records, in
 * order, keyed (pl_batch_t.keyed, key[] filled; pl_batch.h says how keys
 * are made).
 * - points: `by` is a non-empty subset of [entity, channel]; the key is
 *   PL_KEY(entity or 0, channel or 0). Columns are copied with memcpy and
 *   keys made in one branch-free loop: this runs at memory speed.
 * - frames: `by` is [session]; the key of a frame is its session.
 * A record that was keyed before is re-keyed.
 *
 * Stateless. Runs on one worker thread (pl_op.h).
 */
#ifndef PL_KEY_BY_H
#define PL_KEY_BY_H

#include <stddef.h>

#include "pipeline/pl_op.h"

typedef struct pl_key_by_conf {
    char **by;  /* entity, channel (points) or session (frames); required */
    size_t nby;
} pl_key_by_conf_t;

extern const pw_conf_section_t pl_key_by_conf_section;
extern const pl_op_def_t pl_key_by_def;

#endif
