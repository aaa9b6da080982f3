/*
 * pl_compute: the `compute` operator: derive a value from an expression.
 *
 * Input: points, keyed or not; output: points of the same type, in input
 * order. For each point whose channel is in `from` (empty = every point)
 * the operator evaluates `expr` (pl_expr.h: `value`, `t` in seconds) and
 * emits a point at the same time and entity with that value, on `channel`
 * (interned at init) or, when channel is empty, on the input's channel.
 * With keep: true the input point is emitted too, just before the computed
 * one; keep needs a channel (two points on one channel at one time would be
 * a duplicate). keep defaults to false: the computed point replaces its
 * input. Points not in `from` pass through unchanged. A NaN result is
 * emitted as NaN (a filter with drop_nan removes it).
 *
 *   compute: {expr: value * 3.6, from: [speed_mps], channel: speed_kph}
 *
 * Keys: a computed point keeps its input's key, except that a key holding a
 * channel (keyed by channel) gets the output channel, so downstream windows
 * see it as its own series.
 *
 * `from` names are matched lazily by id like filter's channels (a trailing
 * '*' matches a prefix; nothing is interned for them). Stateless: no
 * snapshot. Runs on one worker thread (pl_op.h).
 */
#ifndef PL_COMPUTE_H
#define PL_COMPUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/pl_op.h"

typedef struct pl_compute_conf {
    char *expr;     /* required */
    char **from;    /* channel names or prefix* patterns; NULL = every point */
    size_t nfrom;
    char *channel;  /* output channel; NULL or "" = the input's */
    bool keep;      /* also emit the input point (needs channel) */
} pl_compute_conf_t;

extern const pw_conf_section_t pl_compute_conf_section;
extern const pl_op_def_t pl_compute_def;

#endif
