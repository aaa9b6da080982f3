/*
 * pl_pressure: the `pressure` operator: the live pass-rush pressure alert
 * (models/md_pressure.h) on football tracking frames.
 *
 * Input: frames (keyed or not). A session is one play (NGS files) or a
 * whole game of plays in a row (a live feed, `pitwall sim --game`): every
 * ball_snap label starts a rush with fresh state, the first of the session
 * or any later one (after the last rush ended, or during it when its end
 * was missed). Output: results, not keyed, one per frame from the snap
 * until the drop-back ends (pass_forward, qb_sack/qb_strip_sack, a handoff
 * the ball confirms, or the QB crossing the line of scrimmage), both
 * included:
 *   topic "pressure", key "game/<session>", ts = the frame's time,
 *   body {ts: ns, play: the rush's number in the session (1, 2, ...: the
 *         snaps seen so far), prob: the play's pressure probability,
 *         top: [{entity, prob, eta_s}] the most likely defenders (up to
 *              `top`), alert: true on the one frame the alert fires,
 *         alerted: the alert has fired in this rush, alert_entity,
 *         alert_prob, alert_eta_s (when alerted), t_s: time since the snap,
 *         end: "" or why the window ended on this frame (pass, sack,
 *         handoff, scramble, timeout), version: the model version,
 *         degraded: the QB or players are missing or NaN on this frame}.
 * When the QB is missing the probabilities are the last good ones (held)
 * and degraded is true; NaN players are left out and flagged.
 *
 * The alert fires once per rush: when the play's probability has been at
 * or above the threshold for the model's confirm_frames frames; it never
 * fires again in that rush, so it cannot flap; the next snap's rush may
 * alert again.
 *
 * Coefficients: the model file is loaded at init through md_coef (one
 * copy per process) and read once per batch, so a reload (file changed or
 * SIGHUP, polled by the host) takes effect at a batch boundary. Every
 * body carries the version that produced it.
 *
 * State: up to max_plays sessions in flight (the least recently seen is
 * dropped for a new one and counted in cnt.evicted). Checkpointed: snapshot
 * writes every session's rush state (snaps seen, phase, QB, line of
 * scrimmage, frames above the threshold, whether and whom it alerted, the
 * last good output) with its slot and a checksum (format 2; format 1, one
 * play per session, is still read); restore checks version, length, checksum
 * and every field before it replaces anything (PW_ECORRUPT with the reason
 * otherwise, PW_ECONF when max_plays differs), so a pipeline restored mid
 * play emits the same results as one that ran through, and a rush that
 * already alerted does not alert again. Runs on one worker thread
 * (pl_op.h).
 */
#ifndef PL_PRESSURE_H
#define PL_PRESSURE_H

#include <stdint.h>

#include "pipeline/pl_op.h"

typedef struct pl_pressure_conf {
    char *model;          /* model file; default conf/models/pressure.json */
    double threshold;     /* alert on the play probability; 0 = the model file's */
    int64_t top;          /* defenders in each result, 1..3 */
    int64_t max_plays;    /* plays tracked at once */
} pl_pressure_conf_t;

extern const pw_conf_section_t pl_pressure_conf_section;
extern const pl_op_def_t pl_pressure_def;

#endif
