/*
 * pl_events: the `events` operator: live football event classification
 * (models/md_events.h) on tracking frames.
 *
 * Input: frames (keyed or not). A session is one play (NGS files) or a
 * whole game of plays in a row (a live feed, `pitwall sim --game`): once a
 * play has ended (an end detected and the ball at rest 1 s, or the ball at
 * rest 6 s after the snap, models/md_events.h MD_EVENTS_REST_YPS), its open
 * events are emitted and the next snap, looked for while the teams are
 * lined up on either side of a ball between the hash marks, starts a play
 * with fresh state. Output: results, not keyed, one per detected event,
 * each emitted once (once per play for each type):
 *   topic "event", key "game/<session>", ts = the event's time plus the
 *   type's index in ns (so two events of one instant stay two results),
 *   body {play: the play's number in the session (1, 2, ...: snaps
 *         detected so far); type: "ball_snap", "pass_forward",
 *         "pass_arrived", "handoff", "first_contact", "tackle", "qb_sack", "out_of_bounds" or
 *         "touchdown"; ts_ns; confidence: the peak probability; players:
 *         the entities nearest the ball (names); importance: 0..1 (sack,
 *         touchdown, long gain, likely interception high); gain_yd: ball
 *         past the line of scrimmage; version: the model version;
 *         degraded: the ball or players were missing or NaN around it}.
 *
 * Timing, in event time only: a frame is scored once the next
 * MD_EVENTS_LOOKAHEAD frames of its play have arrived, and an event is
 * emitted after its peak has been confirmed over MD_EVENTS_PEAK_FRAMES
 * more frames (about 0.5 s after the event at 10 Hz). A play whose last
 * frame is `flush_ms` or more behind the watermark (or at the end of the
 * input) is flushed: its last frames are scored with the last frame
 * standing in for the missing ones, and its slot is freed. Frames older
 * than a play's last are ignored, so replays give the same events.
 *
 * Coefficients: the model file is loaded at init through md_coef and read
 * once per batch (a reload takes effect at a batch boundary); every body
 * carries the version that produced it.
 *
 * State: up to max_plays sessions in flight (the least recently seen is
 * flushed and dropped for a new one, counted in cnt.evicted; a session
 * that comes back starts counting plays from 1 again). snapshot writes
 * every session in flight (frame ring, play count, ball rest, state
 * machine, open peaks; format 4, formats 3, 2 and 1 still read) and
 * restore puts each back in its slot, so a pipeline restored mid-play
 * emits the same events as one that ran through; restore refuses a state
 * of another format, length or max_plays, or with a value out of range
 * (PW_ECORRUPT, "events: ..."), leaving the operator's state as it was.
 * One worker thread.
 */
#ifndef PL_EVENTS_H
#define PL_EVENTS_H

#include <stdint.h>

#include "pipeline/pl_op.h"

typedef struct pl_events_conf {
    char *model;          /* model file; default conf/models/events.json */
    int64_t flush_ms;     /* watermark lag after which a quiet play is flushed */
    int64_t max_plays;    /* plays tracked at once */
} pl_events_conf_t;

extern const pw_conf_section_t pl_events_conf_section;
extern const pl_op_def_t pl_events_def;

#endif
