/*
 * pl_hockey: the `hockey_events` operator: live hockey event classification
 * (models/md_hockey.h: zone entries and shots) on player tracking frames.
 *
 * Input: frames (keyed or not); one session is one tracked stretch of a
 * game (a Big Data Cup power play). Output: results, not keyed, one per
 * detected event, each emitted once:
 *   topic "event", key "game/<session>", ts = the event's time plus the
 *   type's index in ns (so two events of one instant stay two results),
 *   body {type: "zone_entry" or "shot"; ts_ns; confidence: the peak
 *         probability; players: entity names (zone entry: the player
 *         crossing the blue line and her nearest teammate; shot: the two
 *         players nearest the net outside the crease); importance: 0..1;
 *         version: the model version; degraded: players were missing, NaN
 *         or cut away around it}.
 *
 * Timing, in event time only: a frame is scored once the next
 * MD_HOCKEY_LOOKAHEAD frames of its session have arrived; an event is
 * emitted after its peak has been confirmed over MD_HOCKEY_PEAK_FRAMES more
 * frames (about 1 s after it at 30 fps), and its type then stays quiet for
 * MD_HOCKEY_REFRACTORY_FRAMES. A session whose last frame is `flush_ms` or
 * more behind the watermark (or at the end of the input) is flushed: its
 * last frames are scored and pending events emitted. Frames not newer than
 * a session's last are dropped (counted), so a replay adds nothing.
 *
 * Coefficients: the model file is loaded at init through md_coef and read
 * once per batch (a reload takes effect at a batch boundary); every body
 * carries the version that produced it.
 *
 * State: up to max_sessions sessions (about 80 KB each; the least recently
 * seen is flushed and dropped for a new one, counted in cnt.evicted).
 * Checkpointed: snapshot writes every session's frames and pending peaks;
 * restore checks every length and value and refuses a malformed blob with
 * PW_ECORRUPT, leaving the operator empty. One worker thread.
 */
#ifndef PL_HOCKEY_H
#define PL_HOCKEY_H

#include <stdint.h>

#include "pipeline/pl_op.h"

typedef struct pl_hockey_conf {
    char *model;          /* model file; default conf/models/hockey.json */
    int64_t flush_ms;     /* watermark lag after which a quiet session is flushed */
    int64_t max_sessions; /* sessions tracked at once */
} pl_hockey_conf_t;

extern const pw_conf_section_t pl_hockey_conf_section;
extern const pl_op_def_t pl_hockey_def;

#endif
