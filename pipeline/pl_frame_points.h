/*
 * pl_frame_points: the `frame_points` operator: tracking frames into
 * points, so the point operators (filter, key_by, windows) apply to
 * players and the ball.
 *
 * Input: frames (keyed or not); output: points, not keyed. For each frame,
 * in input order:
 * 1. markers: when `labels` names a channel and the frame carries event
 *    labels (pw_frames_t.label, 0 = none), for each label in order and for
 *    every object of the frame that `teams` keeps, one point on that
 *    channel, at the frame's time, value = the label id (an id of
 *    names->labels). They come before the frame's field points, so a
 *    segment window keyed by entity sees the marker first.
 * 2. fields: for every object `teams` keeps, in object order, one point per
 *    field of `fields`, in the order given, on channel <prefix><field>
 *    (interned at init), at the frame's time, entity = the object's:
 *      x, y         position (field unit: yards for NGS)
 *      speed        unit per second
 *      orientation  degrees
 *      direction    degrees
 *      dist         distance (unit of x, y) moved since the same entity's
 *                   previous frame, hypot(dx, dy).
 * The labels channel is taken as written (no prefix).
 *
 * dist is 0 for the first frame of an entity, on a change of session, after
 * a time gap larger than max_gap (default 1 s), and for a frame older than
 * the entity's last in the same session (which also leaves the state
 * alone). A NaN x or y gives a NaN dist and keeps the last known position,
 * so the distance covered while the object was missing is counted when it
 * reappears within max_gap. Sums of dist over a play are the naive
 * sum of hypot(dx, dy) over consecutive frames.
 *
 * State: the last (session, time, x, y) per entity, in an array indexed by
 * entity id that grows geometrically when a larger id appears; only kept
 * when `fields` has dist. cnt.keys is the number of entities held.
 * Snapshot/restore carry it. Runs on one worker thread (pl_op.h).
 */
#ifndef PL_FRAME_POINTS_H
#define PL_FRAME_POINTS_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/pl_op.h"

typedef struct pl_frame_points_conf {
    char **fields;       /* x, y, speed, orientation, direction, dist */
    size_t nfields;
    char *prefix;        /* channel name prefix; NULL = "" */
    char **teams;        /* home, away, ball, unknown */
    size_t nteams;
    char *labels;        /* marker channel; NULL or "" = no markers */
    int64_t max_gap_ms;  /* dist: a longer gap starts again at 0 */
} pl_frame_points_conf_t;

extern const pw_conf_section_t pl_frame_points_conf_section;
extern const pl_op_def_t pl_frame_points_def;

#endif
