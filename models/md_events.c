/*
 * md_events: frame summaries, features, gates, peak picking, fit, model
 * file, train and eval of the event classifier. See md_events.h and
 * docs/models-events.md.
 */
#include "models/md_events.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ing_format.h"
#include "models/md_file.h"
#include "models/md_logit.h"
#include "models/md_qb.h"
#include "models/md_split.h"

#define NS_PER_S 1e9
#define MAX_FILE_BYTES ((size_t)256 << 20)
#define FORMAT_VERSION 1
#define L2_LAMBDA 4.0
#define IRLS_MAX_ITER 50
#define FIELD_W_YD 53.3f
#define DEF_NEAR_YD 1.5f
#define DEF_NEAR3_YD 3.0f
#define HANDOFF_WINDOW_S 4.0
#define NT MD_EVENTS_NT
#define NF MD_EVENTS_NF
#define RMASK (MD_EVENTS_RING - 1)

const char *const md_events_type_names[NT] = {
    "ball_snap", "pass_forward", "pass_arrived", "handoff", "first_contact",
    "tackle", "qb_sack", "out_of_bounds", "touchdown",
};

const char *const md_events_feature_names[NF] = {
    "ball_speed", "ball_dspeed_c", "ball_dspeed_ahead", "ball_dspeed_behind",
    "near_dist", "near_dist_ahead", "near_dist_behind", "def_near", "def_near_change",
    "def_dist", "def_dist_ahead", "carrier_speed", "carrier_dspeed_ahead", "mean_speed",
    "mean_dspeed", "sideline_margin", "ball_out", "ball_went_out", "goal_margin",
    "ball_entered_endzone", "t_since_snap", "t_since_pass", "near_is_offense",
    "advance_yd", "carrier_changed", "near_gap", "carrier_dspeed_behind", "def_near_3yd",
    "t_since_arrival", "t_since_contact", "ball_entered_any_endzone", "ball_in_field_depth",
    "ball_deep_behind_los", "carrier_top", "carrier_frac", "carrier_frac_ahead",
};

static const char *const feature_desc[NF] = {
    "ball speed at frame c, yd/s, capped at 40",
    "ball speed at c+1 minus at c-1, yd/s",
    "ball speed at c+2 minus at c",
    "ball speed at c minus at c-2",
    "distance from the ball to the nearest player at c, yd, capped at 10",
    "near_dist at c+2 minus at c",
    "near_dist at c minus at c-2",
    "defenders (not the nearest player's team before the snap, not the offense after) "
    "within 1.5 yd of the ball at c, capped at 5",
    "def_near at c+1 minus at c-1",
    "distance from the ball to the nearest defender at c, yd, capped at 10",
    "def_dist at c+2 minus at c",
    "speed of the player nearest the ball at c, yd/s",
    "carrier_speed at c+2 minus at c",
    "mean speed of the players at c, yd/s",
    "mean_speed at c+2 minus at c-2",
    "ball distance inside the nearer sideline at c, yd, in [-5, 10]",
    "1 when the ball is outside the sidelines at c",
    "ball_out at c minus at c-2",
    "yards from the ball to the goal line the offense attacks at c, in [-5, 30] (30 before "
    "the snap)",
    "1 when the ball is in that end zone at c and was not at c-2 (after the snap)",
    "time since the snap, s, in [0, 10] (0 before)",
    "time since the pass, s, in [0, 10] (0 before)",
    "1 when the nearest player is on the offense",
    "ball position past the line of scrimmage along the attack, yd, in [-20, 60]",
    "1 when the nearest player at c+2 is not the one at c-2",
    "second nearest minus nearest player distance at c, yd, capped at 10",
    "carrier_speed at c minus at c-2 (the carrier slowing down is negative)",
    "defenders within 3 yd of the ball at c, capped at 8",
    "time since the detected pass arrival, s, in [0, 10] (0 before)",
    "time since the detected first contact, s, in [0, 10] (0 before)",
    "1 when the ball is in either end zone at c and was not at c-2 (after the snap)",
    "yards from the ball to the nearer end line of the field of play (x 10 or 110), in [-5, 30]",
    "yards the ball is more than 10 yd behind the line of scrimmage at c (a punter's depth), "
    "in [0, 10]",
    "decaying top speed of whoever is nearest the ball, at c: the larger of carrier_speed and "
    "the last frame's top less 0.15 yd/s, yd/s, capped at 15",
    "carrier_speed at c over carrier_top at c (at least 1 yd/s), in [0, 1.5]",
    "carrier_speed at c+2 over carrier_top at c (at least 1 yd/s), in [0, 1.5]: a tackle "
    "halves it",
};

/* ---- labels and split --------------------------------------------------- */

/* The second label name of each type (md_events_labels_t), NULL if none. */
static const char *const type_alias[NT] = {
    [MD_EV_SACK] = "qb_strip_sack",
    [MD_EV_TD] = "pass_outcome_touchdown",
};

/* The id of label name in labels (0 when absent and not added). */
static int resolve_one(pw_intern_t *labels, bool add, const char *name, uint32_t *out)
{
    uint32_t id = 0;
    int rc = add ? pw_intern_add(labels, name, strlen(name), &id)
                 : pw_intern_find(labels, name, strlen(name), &id);
    if (rc && (add || rc != PW_ENOTFOUND))
        return rc;
    *out = rc ? 0 : id;
    return 0;
}

int md_events_labels_resolve(pw_intern_t *labels, bool add, md_events_labels_t *out)
{
    memset(out, 0, sizeof *out);
    for (int t = 0; t < NT; t++) {
        int rc = resolve_one(labels, add, md_events_type_names[t], &out->id[t]);
        if (rc == 0 && type_alias[t])
            rc = resolve_one(labels, add, type_alias[t], &out->alias[t]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Whether frame summary fr carries the label of type t. */
static bool fr_has(const md_events_frame_t *fr, const md_events_labels_t *L, int t)
{
    for (int l = 0; l < PW_FRAME_LABELS; l++) {
        uint32_t id = fr->label[l];
        if (id == PW_LABEL_NONE)
            continue;
        if (id == L->id[t] || (L->alias[t] && id == L->alias[t]))
            return true;
    }
    return false;
}

/* ---- per-frame path ------------------------------------------------------- */

void md_events_play_init(md_events_play_t *p, uint64_t session)
{
    memset(p, 0, sizeof *p);
    p->session = session;
    p->last_ns = INT64_MIN;
    p->offense = PW_TEAM_UNKNOWN;
    p->dirx = 1.0f;
    p->rest_ns = p->lined_ns = INT64_MIN;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/*
 * The quarterback's part of a frame summary. Before the snap: who would be
 * the QB (t1: the nearest player's team, e1: the nearest player, the
 * centre; dir: toward the other team). After it: the QB's distance to the
 * nearest defender, his depth behind the line and his distance to the ball.
 */
static void summarise_qb(const md_events_play_t *p, const pw_frames_t *f, size_t o0, size_t o1,
                         uint8_t t1, uint32_t e1, float dir, md_events_frame_t *fr)
{
    fr->qb_dd = 99.0f;
    if (!p->done[MD_EV_SNAP]) {
        size_t qb = md_qb_find(f, o0, o1, t1, e1, p->bx, p->by, dir);
        fr->qb_cand = qb < o1 ? f->entity[qb] : 0;
        return;
    }
    if (p->qb == 0)
        return;
    float qx = NAN, qy = NAN;
    for (size_t o = o0; o < o1; o++)
        if (f->entity[o] == p->qb && f->team[o] == p->offense) {
            qx = f->x[o];
            qy = f->y[o];
            break;
        }
    if (!isfinite(qx) || !isfinite(qy))
        return;
    float dd = 99.0f;
    for (size_t o = o0; o < o1; o++) {
        uint8_t tm = f->team[o];
        if ((tm != PW_TEAM_HOME && tm != PW_TEAM_AWAY) || tm == p->offense ||
            !isfinite(f->x[o]) || !isfinite(f->y[o]))
            continue;
        float d = hypotf(f->x[o] - qx, f->y[o] - qy);
        if (d < dd)
            dd = d;
    }
    fr->qb_dd = dd;
    fr->qb_depth = (p->los_x - qx) * p->dirx;
    fr->qb_ball = hypotf(p->bx - qx, p->by - qy);
}

/* Summarise frame i of f into fr (the play's ball is held when missing). */
/* This frame's carrier_top from the last frame's and this carrier speed. */
static float next_top(float last_top, float speed)
{
    float top = last_top - MD_EVENTS_TOP_DECAY_PER_FRAME;
    return speed > top ? speed : top;
}

void md_events_play_rebuild_tops(md_events_play_t *p)
{
    float top = 0.0f;
    for (uint64_t j = p->n > MD_EVENTS_RING ? p->n - MD_EVENTS_RING : 0; j < p->n; j++) {
        md_events_frame_t *f = &p->ring[j & RMASK];
        top = f->carrier_top = next_top(top, f->carrier_speed);
    }
}

static void summarise(md_events_play_t *p, const pw_frames_t *f, size_t i,
                      md_events_frame_t *fr)
{
    memset(fr, 0, sizeof *fr);
    fr->ts_ns = f->ts_ns[i];
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        fr->label[l] = f->label[i * PW_FRAME_LABELS + l];
    size_t o0 = f->first[i], o1 = o0 + f->nobj[i];
    bool ball = false;
    for (size_t o = o0; o < o1; o++)
        if (f->team[o] == PW_TEAM_BALL) {
            if (isfinite(f->x[o]) && isfinite(f->y[o])) {
                p->bx = f->x[o];
                p->by = f->y[o];
                p->bs = isfinite(f->speed[o]) && f->speed[o] >= 0 ? f->speed[o] : 0.0f;
                p->have_ball = ball = true;
            }
            break;
        }
    fr->degraded = !ball;
    fr->bx = p->bx;
    fr->by = p->by;
    fr->bs = p->bs;
    /* Nearest two players. */
    float d1 = 99.0f, d2 = 99.0f, s1 = 0.0f, ssum = 0.0f;
    uint32_t e1 = 0, e2 = 0;
    uint8_t t1 = PW_TEAM_UNKNOWN;
    int nval = 0, nspeed = 0;
    for (size_t o = o0; o < o1; o++) {
        if (f->team[o] == PW_TEAM_BALL || !isfinite(f->x[o]) || !isfinite(f->y[o]))
            continue;
        nval++;
        if (isfinite(f->speed[o])) {
            ssum += f->speed[o];
            nspeed++;
        }
        float d = hypotf(f->x[o] - p->bx, f->y[o] - p->by);
        if (d < d1) {
            d2 = d1;
            e2 = e1;
            d1 = d;
            e1 = f->entity[o];
            t1 = f->team[o];
            s1 = isfinite(f->speed[o]) ? f->speed[o] : 0.0f;
        } else if (d < d2) {
            d2 = d;
            e2 = f->entity[o];
        }
    }
    if (nval < 2 || !p->have_ball)
        fr->degraded = true;
    fr->d1 = d1 < 10.0f ? d1 : 10.0f;
    fr->d2 = d2 < 20.0f ? d2 : 20.0f;
    fr->near[0] = e1;
    fr->near[1] = e2;
    fr->near_team = t1;
    fr->carrier_speed = s1;
    fr->carrier_top = next_top(p->n ? p->ring[(p->n - 1) & RMASK].carrier_top : 0.0f, s1);
    fr->mean_speed = nspeed ? ssum / (float)nspeed : 0.0f;
    /* Defenders: the team that is not the offense (the carrier's before the snap). */
    uint8_t off = p->done[MD_EV_SNAP] ? p->offense : t1;
    float dd = 10.0f, offx = 0.0f;
    int ndef = 0, ndef3 = 0, noff = 0;
    for (size_t o = o0; o < o1; o++) {
        uint8_t tm = f->team[o];
        if ((tm != PW_TEAM_HOME && tm != PW_TEAM_AWAY) || !isfinite(f->x[o]) ||
            !isfinite(f->y[o]))
            continue;
        if (tm == off) {
            offx += f->x[o];
            noff++;
            continue;
        }
        float d = hypotf(f->x[o] - p->bx, f->y[o] - p->by);
        if (d < dd)
            dd = d;
        if (d <= DEF_NEAR_YD)
            ndef++;
        if (d <= DEF_NEAR3_YD)
            ndef3++;
    }
    fr->dd = dd;
    /*
     * Lined up for a snap: the two teams on either side of the ball, no
     * player more than MD_EVENTS_ONSIDE_YD into the other side (the neutral
     * zone), with the players of the nearest team (the centre's) as the
     * offense, and the ball between the hash marks (where every snap is
     * spotted). Used only to look for the next snap of a session.
     */
    float defx = 0.0f;
    int ndefx = 0, wrong = 0;
    for (size_t o = o0; o < o1; o++)
        if ((f->team[o] == PW_TEAM_HOME || f->team[o] == PW_TEAM_AWAY) && f->team[o] != t1 &&
            isfinite(f->x[o]) && isfinite(f->y[o])) {
            defx += f->x[o];
            ndefx++;
        }
    float side = ndefx && defx / (float)ndefx >= p->bx ? 1.0f : -1.0f;
    for (size_t o = o0; o < o1 && ndefx; o++) {
        uint8_t tm = f->team[o];
        if ((tm != PW_TEAM_HOME && tm != PW_TEAM_AWAY) || !isfinite(f->x[o]) ||
            !isfinite(f->y[o]))
            continue;
        float ahead = (f->x[o] - p->bx) * side;
        if (tm == t1 ? ahead > MD_EVENTS_ONSIDE_YD : ahead < -MD_EVENTS_ONSIDE_YD)
            wrong++;
    }
    fr->lined_up = ndefx > 0 && noff > 0 && wrong == 0 && !fr->degraded &&
                   p->by >= MD_EVENTS_HASH_Y_MIN && p->by <= MD_EVENTS_HASH_Y_MAX;
    fr->ndef = (float)(ndef < 5 ? ndef : 5);
    fr->ndef3 = (float)(ndef3 < 8 ? ndef3 : 8);
    /*
     * The attack direction at the snap: toward the other team. Both teams'
     * means, not the ball against the offense's mean: in a spread
     * formation the offense's mean can be within a yard of the ball, and
     * the ball moves back as it is snapped.
     */
    float offm = noff ? offx / (float)noff : p->bx;
    fr->team_dx = ndefx && noff ? defx / (float)ndefx - offm : p->bx - offm;
    float dir = fr->team_dx >= 0 ? 1.0f : -1.0f, back = 0.0f, deep = 0.0f;
    for (size_t o = o0; o < o1; o++) {
        uint8_t tm = f->team[o];
        if ((tm != PW_TEAM_HOME && tm != PW_TEAM_AWAY) || !isfinite(f->x[o]))
            continue;
        float ahead = (f->x[o] - p->bx) * dir;
        if (tm == t1 && -ahead > back)
            back = -ahead;
        else if (tm != t1 && ahead > deep)
            deep = ahead;
    }
    fr->kick_formation = back >= MD_EVENTS_KICK_BACK_YD && deep >= MD_EVENTS_KICK_DEEP_YD;
    summarise_qb(p, f, o0, o1, t1, e1, dir, fr);
}

/* Frame c+k of the ring, clamped to the frames pushed. */
static const md_events_frame_t *at(const md_events_play_t *p, uint64_t c, int k)
{
    int64_t j = (int64_t)c + k;
    if (j < 0)
        j = 0;
    if (j > (int64_t)p->n - 1)
        j = (int64_t)p->n - 1;
    if ((int64_t)p->n - j > MD_EVENTS_RING) /* cannot happen: ring holds the window */
        j = (int64_t)p->n - MD_EVENTS_RING;
    return &p->ring[(uint64_t)j & RMASK];
}

static double side_margin(const md_events_frame_t *f)
{
    double m = f->by < FIELD_W_YD - f->by ? f->by : FIELD_W_YD - f->by;
    return clampd(m, -5.0, 10.0);
}

static double goal_margin(const md_events_play_t *p, const md_events_frame_t *f)
{
    if (!p->done[MD_EV_SNAP])
        return 30.0;
    double g = p->dirx > 0 ? 110.0 - f->bx : f->bx - 10.0;
    return clampd(g, -5.0, 30.0);
}

/* Seconds since type t was marked at frame f (0 before), in [0, 10]. */
static double since(const md_events_play_t *p, int t, const md_events_frame_t *f)
{
    return p->done[t] ? clampd((double)(f->ts_ns - p->at_ns[t]) / NS_PER_S, 0, 10) : 0.0;
}

static bool in_endzone(const md_events_frame_t *f)
{
    return f->bx < 10.0f || f->bx > 110.0f;
}

static void features(const md_events_play_t *p, uint64_t c, double *x)
{
    const md_events_frame_t *m2 = at(p, c, -2), *m1 = at(p, c, -1), *f0 = at(p, c, 0),
                            *p1 = at(p, c, 1), *p2 = at(p, c, 2);
    x[0] = clampd(f0->bs, 0, 40);
    x[1] = clampd(p1->bs, 0, 40) - clampd(m1->bs, 0, 40);
    x[2] = clampd(p2->bs, 0, 40) - x[0];
    x[3] = x[0] - clampd(m2->bs, 0, 40);
    x[4] = f0->d1;
    x[5] = p2->d1 - f0->d1;
    x[6] = f0->d1 - m2->d1;
    x[7] = f0->ndef;
    x[8] = p1->ndef - m1->ndef;
    x[9] = f0->dd;
    x[10] = p2->dd - f0->dd;
    x[11] = clampd(f0->carrier_speed, 0, 15);
    x[12] = clampd(p2->carrier_speed, 0, 15) - x[11];
    x[13] = f0->mean_speed;
    x[14] = p2->mean_speed - m2->mean_speed;
    x[15] = side_margin(f0);
    x[16] = x[15] <= 0 ? 1.0 : 0.0;
    x[17] = x[16] - (side_margin(m2) <= 0 ? 1.0 : 0.0);
    x[18] = goal_margin(p, f0);
    bool snapped = p->done[MD_EV_SNAP];
    x[19] = snapped && x[18] <= 0 && goal_margin(p, m2) > 0 ? 1.0 : 0.0;
    x[20] = snapped ? clampd((double)(f0->ts_ns - p->at_ns[MD_EV_SNAP]) / NS_PER_S, 0, 10) : 0;
    x[21] = p->done[MD_EV_PASS]
                ? clampd((double)(f0->ts_ns - p->at_ns[MD_EV_PASS]) / NS_PER_S, 0, 10)
                : 0;
    x[22] = f0->near_team == (snapped ? p->offense : f0->near_team) ? 1.0 : 0.0;
    x[23] = snapped ? clampd((f0->bx - p->los_x) * p->dirx, -20, 60) : 0.0;
    x[24] = p2->near[0] != m2->near[0] ? 1.0 : 0.0;
    x[25] = clampd(f0->d2 - f0->d1, 0, 10);
    x[26] = x[11] - clampd(m2->carrier_speed, 0, 15);
    x[27] = f0->ndef3;
    x[28] = since(p, MD_EV_ARRIVED, f0);
    x[29] = since(p, MD_EV_CONTACT, f0);
    x[30] = snapped && in_endzone(f0) && !in_endzone(m2) ? 1.0 : 0.0;
    x[31] = clampd(f0->bx < 60.0f ? f0->bx - 10.0 : 110.0 - f0->bx, -5, 30);
    x[32] = snapped ? clampd(-x[23] - 10.0, 0, 10) : 0.0;
    double top = f0->carrier_top > 1.0f ? f0->carrier_top : 1.0;
    x[33] = clampd(f0->carrier_top, 0, 15);
    x[34] = clampd(f0->carrier_speed / top, 0, 1.5);
    x[35] = clampd(p2->carrier_speed / top, 0, 1.5);
}

/* The events that end a play (a touchdown is apart: see end_resolve). */
static bool ends_play(int t)
{
    return t == MD_EV_TACKLE || t == MD_EV_OOB || t == MD_EV_SACK;
}

/* A tackle, out of bounds or sack has ended the play. */
static bool has_ended(const md_events_play_t *p)
{
    for (int t = 0; t < NT; t++)
        if (ends_play(t) && p->done[t])
            return true;
    return false;
}

/* Which types may happen at frame c, from the play's state. */
static void gates(const md_events_play_t *p, const md_events_frame_t *f0, bool *g)
{
    const bool *d = p->done;
    bool snapped = d[MD_EV_SNAP];
    bool over = has_ended(p) || d[MD_EV_TD];
    /*
     * The pass is in the air from the first frame of its peak: it is marked
     * done only when the peak is emitted, frames later, and the passer
     * losing the ball must not read as a tackle meanwhile.
     */
    bool in_air = (d[MD_EV_PASS] || p->peak[MD_EV_PASS].active) && !d[MD_EV_ARRIVED];
    double since = snapped ? (double)(f0->ts_ns - p->at_ns[MD_EV_SNAP]) / NS_PER_S : 0;
    /* After a play of the session, the next snap comes from a lined-up formation. */
    g[MD_EV_SNAP] = !snapped && (!p->next || (p->lined_ns != INT64_MIN &&
                                              f0->ts_ns - p->lined_ns <= MD_EVENTS_LINED_GRACE_NS));
    /* Not closed by a tackle or sack: one false end would hide the pass. */
    g[MD_EV_PASS] = snapped && !d[MD_EV_PASS] && !p->kick;
    g[MD_EV_ARRIVED] = d[MD_EV_PASS] && !d[MD_EV_ARRIVED];
    g[MD_EV_HANDOFF] = snapped && !d[MD_EV_HANDOFF] && !d[MD_EV_PASS] &&
                       since < HANDOFF_WINDOW_S;
    /*
     * A hit on the quarterback behind the line, ball in hand, before a
     * pass, is a sack (scored by sack_score), not a first contact. A
     * handoff takes the ball from him; a fake one does not.
     */
    g[MD_EV_SACK] = snapped && !d[MD_EV_PASS] && !over && p->qb && f0->qb_dd < 99.0f &&
                    f0->qb_depth >= MD_EVENTS_SACK_DEPTH_YD &&
                    f0->qb_ball <= MD_EVENTS_SACK_BALL_YD &&
                    f0->ts_ns - p->at_ns[MD_EV_SNAP] <= MD_EVENTS_SACK_MAX_NS;
    g[MD_EV_CONTACT] = snapped && !d[MD_EV_CONTACT] && !in_air && !over && !g[MD_EV_SACK];
    /*
     * A carrier half a yard into the end zone he attacks has scored: he is
     * not tackled there (the NGS tackles lie at most 0.2 yd past the goal
     * line), however sharply he stops.
     */
    g[MD_EV_TACKLE] = snapped && !in_air && !over &&
                      goal_margin(p, f0) > -MD_EVENTS_SCORED_YD;
    g[MD_EV_OOB] = snapped && !in_air && !over;
    g[MD_EV_TD] = snapped && !in_air && !d[MD_EV_TD] && !d[MD_EV_TACKLE] && !d[MD_EV_SACK];
}

double md_events_predict(const md_events_model_t *m, int t, const double *feat)
{
    double eta = m->bias[t];
    for (int k = 0; k < NF; k++)
        eta += m->w[t][k] * (feat[k] - m->mean[t][k]) / m->std[t][k];
    return 1.0 / (1.0 + exp(-eta));
}

/* The state machine learns that type t happened at frame fr. */
static void mark(md_events_play_t *p, int t, const md_events_frame_t *fr)
{
    p->done[t] = true;
    p->at_ns[t] = fr->ts_ns;
    if (t == MD_EV_SNAP) {
        p->next = false;
        p->offense = fr->near_team;
        p->los_x = fr->bx;
        p->dirx = fr->team_dx >= 0 ? 1.0f : -1.0f;
        p->kick = fr->kick_formation;
        p->qb = fr->qb_cand;
    }
}

static double importance(const md_events_play_t *p, int t, const md_events_frame_t *fr,
                         double gain)
{
    switch (t) {
    case MD_EV_TD: return 1.0;
    case MD_EV_SACK: return 0.9;
    case MD_EV_ARRIVED: /* the nearest player is a defender: a likely interception */
        return fr->near_team != p->offense ? 0.8 : 0.4;
    case MD_EV_TACKLE:
    case MD_EV_OOB:
        return gain >= 20 ? 0.8 : gain >= 10 ? 0.5 : gain < 0 ? 0.4 : 0.3;
    case MD_EV_PASS: return 0.3;
    case MD_EV_CONTACT: return 0.3;
    case MD_EV_HANDOFF: return 0.2;
    default: return 0.1;
    }
}

static int emit_peak(md_events_play_t *p, const md_events_model_t *m, int t,
                     md_events_event_t *out, int n)
{
    md_events_peak_t *pk = &p->peak[t];
    pk->active = false;
    md_events_event_t *e = &out[n];
    memset(e, 0, sizeof *e);
    e->type = t;
    if (t == MD_EV_SNAP)
        p->play++;
    e->play = p->play;
    e->ts_ns = pk->at.ts_ns + m->offset_ns[t];
    e->confidence = pk->p;
    e->degraded = pk->degraded;
    e->gain_yd = p->done[MD_EV_SNAP] ? ((double)pk->at.bx - p->los_x) * p->dirx : 0.0;
    e->importance = importance(p, t, &pk->at, e->gain_yd);
    for (int k = 0; k < MD_EVENTS_PLAYERS; k++)
        if (pk->at.near[k])
            e->players[e->nplayers++] = pk->at.near[k];
    return n + 1;
}

/* Follow the ball's rest and the line-up up to frame f0 (scored frames, in order). */
static void rest_update(md_events_play_t *p, const md_events_frame_t *f0)
{
    if (f0->lined_up)
        p->lined_ns = f0->ts_ns;
    if (!(f0->bs < MD_EVENTS_REST_YPS)) {
        p->rest_ns = INT64_MIN;
        return;
    }
    if (p->rest_ns == INT64_MIN)
        p->rest_ns = f0->ts_ns;
}

/* Whether the current play has ended by frame f0 (see MD_EVENTS_REST_YPS). */
static bool play_over(const md_events_play_t *p, const md_events_frame_t *f0)
{
    const bool *d = p->done;
    if (!d[MD_EV_SNAP] || p->rest_ns == INT64_MIN)
        return false;
    int64_t end = INT64_MAX;
    static const int ends[] = {MD_EV_TACKLE, MD_EV_OOB, MD_EV_TD, MD_EV_SACK};
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++)
        if (d[ends[k]] && p->at_ns[ends[k]] < end)
            end = p->at_ns[ends[k]];
    int64_t snap = p->at_ns[MD_EV_SNAP];
    if (end != INT64_MAX && f0->ts_ns - (p->rest_ns > end ? p->rest_ns : end) >=
                                MD_EVENTS_END_REST_NS)
        return true;
    return f0->ts_ns - (p->rest_ns > snap ? p->rest_ns : snap) >= MD_EVENTS_DEAD_NS;
}

/* A peak over its type's threshold: how sure it is, comparable across types. */
static double peak_strength(const md_events_play_t *p, const md_events_model_t *m, int t)
{
    return m->threshold[t] > 0 ? p->peak[t].p / m->threshold[t] : p->peak[t].p;
}

/*
 * A play ends once, by a tackle, out of bounds or a sack (no NGS play
 * carries two of them). Called when t's peak is due: if another end's peak
 * is open and likelier (its peak over its own threshold, so a sack's
 * proximity score and a tackle's probability compare fairly), t's peak is
 * closed and true returned; else the other ends' peaks are closed and t
 * is to be emitted. A touchdown may still follow: a carrier who steps out
 * at the pylon has scored, and a missed touchdown costs a recap more than
 * a stray end.
 */
static bool end_resolve(md_events_play_t *p, const md_events_model_t *m, int t)
{
    if (!ends_play(t))
        return false;
    double mine = peak_strength(p, m, t);
    for (int u = 0; u < NT; u++)
        if (u != t && ends_play(u) && p->peak[u].active && peak_strength(p, m, u) > mine) {
            p->peak[t].active = false;
            return true;
        }
    for (int u = 0; u < NT; u++)
        if (u != t && ends_play(u))
            p->peak[u].active = false;
    return false;
}

/*
 * The play has ended: emit its open peaks (its own events) and reset the
 * play's part of the state; the session's part stays. Returns n plus the
 * events written to out.
 */
static int next_play(md_events_play_t *p, const md_events_model_t *m, md_events_event_t *out,
                     int n)
{
    for (int t = 0; m && t < NT; t++)
        if (p->peak[t].active && !end_resolve(p, m, t))
            n = emit_peak(p, m, t, out, n);
    memset(p->done, 0, sizeof p->done);
    memset(p->at_ns, 0, sizeof p->at_ns);
    memset(p->peak, 0, sizeof p->peak);
    p->offense = PW_TEAM_UNKNOWN;
    p->los_x = 0;
    p->dirx = 1.0f;
    p->kick = false;
    p->qb = 0;
    p->next = true;
    return n;
}

/* A sack's score: how close the nearest defender is to the QB (md_events.h). */
static double sack_score(const md_events_frame_t *f0)
{
    return clampd(1.0 - f0->qb_dd / MD_EVENTS_SACK_REACH_YD, 0.0, 1.0);
}

/* Score frame p->c (its look-ahead is in the ring, or the play has ended). */
static int score(md_events_play_t *p, const md_events_model_t *m, const md_events_labels_t *L,
                 md_events_event_t *out, int n, md_events_row_fn row, void *row_ctx)
{
    uint64_t c = p->c;
    const md_events_frame_t *f0 = at(p, c, 0);
    double x[NF];
    bool g[NT];
    rest_update(p, f0);
    if (L == NULL && play_over(p, f0))
        n = next_play(p, m, out, n);
    features(p, c, x);
    gates(p, f0, g);
    if (row)
        row(row_ctx, p, f0, x, g);
    bool degraded = at(p, c, -2)->degraded || f0->degraded || at(p, c, 2)->degraded;
    for (int t = 0; m && t < NT; t++) {
        md_events_peak_t *pk = &p->peak[t];
        if (!g[t] && !pk->active)
            continue;
        double pr = !g[t]              ? 0.0
                    : t == MD_EV_SACK ? sack_score(f0)
                                      : md_events_predict(m, t, x);
        if (!pk->active) {
            /* g[] was computed before this frame's emissions: an end emitted
             * just now closes the others. */
            if (pr >= m->threshold[t] && !(ends_play(t) && has_ended(p))) {
                pk->active = true;
                pk->left = MD_EVENTS_PEAK_FRAMES;
                pk->p = pr;
                pk->at = *f0;
                pk->degraded = degraded;
            }
        } else {
            if (pr > pk->p) {
                pk->p = pr;
                pk->at = *f0;
            }
            pk->degraded |= degraded;
            if (--pk->left <= 0 && !end_resolve(p, m, t)) {
                n = emit_peak(p, m, t, out, n);
                if (L == NULL)
                    mark(p, t, &pk->at);
            }
        }
    }
    if (L)
        for (int t = 0; t < NT; t++)
            if (fr_has(f0, L, t) && !(t != MD_EV_TACKLE && t != MD_EV_OOB && p->done[t]))
                mark(p, t, f0);
    p->c++;
    return n;
}

int md_events_push(md_events_play_t *p, const md_events_model_t *m, const md_events_labels_t *L,
                   const pw_frames_t *f, size_t i, md_events_event_t *out, md_events_row_fn row,
                   void *row_ctx)
{
    if (f->ts_ns[i] <= p->last_ns)
        return 0;
    p->last_ns = f->ts_ns[i];
    summarise(p, f, i, &p->ring[p->n & RMASK]);
    p->n++;
    int n = 0;
    while (p->c + MD_EVENTS_LOOKAHEAD < p->n)
        n = score(p, m, L, out, n, row, row_ctx);
    return n;
}

int md_events_flush(md_events_play_t *p, const md_events_model_t *m,
                    const md_events_labels_t *L, md_events_event_t *out, md_events_row_fn row,
                    void *row_ctx)
{
    int n = 0;
    while (p->c < p->n)
        n = score(p, m, L, out, n, row, row_ctx);
    for (int t = 0; t < NT; t++)
        if (p->peak[t].active && !end_resolve(p, m, t)) {
            n = emit_peak(p, m, t, out, n);
            if (L == NULL)
                mark(p, t, &p->peak[t].at);
        }
    return n;
}

/* ---- model file ---------------------------------------------------------- */

/* The version: a hash of the numbers as written (%.17g). */
static void model_version(md_events_model_t *m)
{
    uint32_t h = MD_FILE_FNV_BASIS;
    char buf[96];
    for (int t = 0; t < NT; t++) {
        h = md_file_hash_coefs(h, m->mean[t], m->std[t], m->w[t], NF);
        int n = snprintf(buf, sizeof buf, "%.17g %.17g %lld|", m->bias[t], m->threshold[t],
                         (long long)m->offset_ns[t]);
        h = md_file_fnv1a(h, buf, (size_t)n);
    }
    snprintf(m->version, sizeof m->version, "events-%08x", h);
}

void *md_events_model_load(const char *path, pw_err_t *err)
{
    json_t *root = md_file_open(path, "events", FORMAT_VERSION, err);
    if (root == NULL)
        return NULL;
    md_events_model_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        json_decref(root);
        pw_err_set(err, -ENOMEM, "%.300s: out of memory", path);
        return NULL;
    }
    const char *what = NULL;
    json_t *types = json_object_get(root, "types");
    json_t *fnames = json_object_get(root, "features");
    double la = 0;
    if (md_file_num(root, "lookahead_frames", &la) || la != MD_EVENTS_LOOKAHEAD)
        what = "'lookahead_frames' differs from this build's";
    else if (!json_is_array(fnames) || json_array_size(fnames) != NF)
        what = "'features' does not hold this build's number of features";
    else if (!json_is_object(types))
        what = "'types' is not an object";
    for (int k = 0; what == NULL && k < NF; k++) {
        const char *name =
            json_string_value(json_object_get(json_array_get(fnames, (size_t)k), "name"));
        if (name == NULL || strcmp(name, md_events_feature_names[k]))
            what = "a feature's name or order differs from this build's";
    }
    for (int t = 0; what == NULL && t < NT; t++) {
        json_t *to = json_object_get(types, md_events_type_names[t]);
        json_t *mean = json_object_get(to, "mean"), *sd = json_object_get(to, "std"),
               *coef = json_object_get(to, "coef");
        what = md_file_type_head(to, &m->bias[t], &m->threshold[t], &m->offset_ns[t]);
        if (what)
            break;
        if (json_array_size(mean) != NF || json_array_size(sd) != NF ||
            json_array_size(coef) != NF) {
            what = "a type's mean, std or coef does not hold one number per feature";
            break;
        }
        for (int k = 0; what == NULL && k < NF; k++)
            what = md_file_type_coef(mean, sd, coef, (size_t)k, &m->mean[t][k], &m->std[t][k],
                                     &m->w[t][k]);
    }
    if (what == NULL)
        model_version(m);
    return md_file_close(root, m, m->version, what, path, err);
}

void md_events_model_free(void *model)
{
    free(model);
}

/* The model's own part of the file (without training and fit). */
static json_t *model_json(const md_events_model_t *m)
{
    json_t *root = json_object();
    if (root == NULL)
        return NULL;
    json_t *feats = json_array();
    for (int k = 0; k < NF; k++) {
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(md_events_feature_names[k]));
        json_object_set_new(f, "desc", json_string(feature_desc[k]));
        json_array_append_new(feats, f);
    }
    json_t *types = json_object();
    for (int t = 0; t < NT; t++) {
        json_t *o = json_object();
        json_object_set_new(o, "intercept", json_real(m->bias[t]));
        json_object_set_new(o, "threshold", json_real(m->threshold[t]));
        json_object_set_new(o, "offset_s", json_real((double)m->offset_ns[t] / NS_PER_S));
        json_object_set_new(o, "mean", md_file_reals(m->mean[t], NF));
        json_object_set_new(o, "std", md_file_reals(m->std[t], NF));
        json_object_set_new(o, "coef", md_file_reals(m->w[t], NF));
        json_object_set_new(types, md_events_type_names[t], o);
    }
    json_object_set_new(root, "model", json_string("events"));
    json_object_set_new(root, "format", json_integer(FORMAT_VERSION));
    json_object_set_new(root, "version", json_string(m->version));
    json_object_set_new(root, "lookahead_frames", json_integer(MD_EVENTS_LOOKAHEAD));
    json_object_set_new(root, "peak_frames", json_integer(MD_EVENTS_PEAK_FRAMES));
    json_object_set_new(root, "features", feats);
    json_object_set_new(root, "types", types);
    return root;
}

int md_events_model_save(md_events_model_t *m, const char *path, pw_err_t *err)
{
    model_version(m);
    json_t *root = model_json(m);
    if (root == NULL)
        return pw_err_set(err, -ENOMEM, "events: out of memory");
    int rc = md_file_write(root, path, err);
    json_decref(root);
    return rc;
}

/* ---- reading plays ----------------------------------------------------------- */

typedef struct plays {
    pw_frames_t *fr;    /* one per play file used */
    char **name;
    size_t n, cap;
    pw_object_t *objs;
    size_t objs_cap;
    pw_intern_t *ent, *lab, *ch;
    md_events_labels_t L;
} plays_t;

static int on_frames(void *ctx, const pw_frames_t *b)
{
    plays_t *ps = ctx;
    pw_frames_t *dst = &ps->fr[ps->n];
    for (size_t i = 0; i < b->n; i++) {
        if (b->nobj[i] > ps->objs_cap) {
            pw_object_t *n = realloc(ps->objs, b->nobj[i] * sizeof *n);
            if (n == NULL)
                return -ENOMEM;
            ps->objs = n;
            ps->objs_cap = b->nobj[i];
        }
        for (uint16_t k = 0; k < b->nobj[i]; k++) {
            size_t o = b->first[i] + k;
            ps->objs[k] = (pw_object_t){b->entity[o], b->team[o], b->x[o], b->y[o],
                                        b->speed[o], b->orientation[o], b->direction[o]};
        }
        int rc = pw_frames_push(dst, b->ts_ns[i], b->session[i], &b->label[i * PW_FRAME_LABELS],
                                ps->objs, b->nobj[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static void plays_fini(plays_t *ps)
{
    for (size_t k = 0; k < ps->n; k++) {
        pw_frames_fini(&ps->fr[k]);
        free(ps->name[k]);
    }
    free(ps->fr);
    free(ps->name);
    free(ps->objs);
    pw_intern_destroy(ps->ent);
    pw_intern_destroy(ps->lab);
    pw_intern_destroy(ps->ch);
}

/*
 * Decode the files a run uses, one play each (in the order given): with
 * seen NULL the training plays (md_split_train_uses), else the files eval
 * scores (md_split_eval_uses).
 */
static int plays_load(plays_t *ps, const char *const *paths, size_t n,
                      const md_split_seen_t *seen, pw_err_t *err)
{
    memset(ps, 0, sizeof *ps);
    if (pw_intern_create(1 << 16, &ps->ent) || pw_intern_create(4096, &ps->lab) ||
        pw_intern_create(64, &ps->ch))
        return pw_err_set(err, -ENOMEM, "events: out of memory");
    int rc = md_events_labels_resolve(ps->lab, true, &ps->L);
    if (rc)
        return pw_err_set(err, rc, "events: labels: %s", pw_strerror(rc));
    ing_names_t names = {.channels = ps->ch, .entities = ps->ent, .labels = ps->lab};
    for (size_t k = 0; k < n; k++) {
        if (!md_split_is_play(paths[k]) || (seen && !md_split_eval_uses(seen, paths[k])))
            continue;
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            pw_frames_t *nf = realloc(ps->fr, cap * sizeof *nf);
            if (nf == NULL)
                return pw_err_set(err, -ENOMEM, "events: out of memory");
            ps->fr = nf;
            char **nn = realloc(ps->name, cap * sizeof *nn);
            if (nn == NULL)
                return pw_err_set(err, -ENOMEM, "events: out of memory");
            ps->name = nn;
            ps->cap = cap;
        }
        uint8_t *data = NULL;
        size_t len = 0;
        rc = ing_file_load(paths[k], MAX_FILE_BYTES, &data, &len, err);
        if (rc)
            return rc;
        pw_frames_init(&ps->fr[ps->n]);
        const char *b = strrchr(paths[k], '/');
        ps->name[ps->n] = strdup(b ? b + 1 : paths[k]);
        if (ps->name[ps->n] == NULL) {
            free(data);
            return pw_err_set(err, -ENOMEM, "events: out of memory");
        }
        ing_emit_t emit = {.frames = on_frames, .ctx = ps};
        ing_stats_t st;
        ing_stats_init(&st);
        rc = ing_ngs_decode(paths[k], data, len, NULL, &names, &emit, &st, err);
        free(data);
        ps->n++;
        if (rc < 0)
            return rc;
        if (rc > 0)
            return pw_err_set(err, rc, "%.400s: %s", paths[k], pw_strerror(rc));
        if (seen == NULL &&
            !md_split_train_uses(paths[k], md_split_has_label(&ps->fr[ps->n - 1],
                                                              ps->L.id[MD_EV_SACK],
                                                              ps->L.alias[MD_EV_SACK]))) {
            ps->n--;
            pw_frames_fini(&ps->fr[ps->n]);
            free(ps->name[ps->n]);
        }
    }
    return 0;
}

/* ---- running plays ------------------------------------------------------------ */

/* Detected events of a run, per play. */
typedef struct dets {
    md_events_event_t *e;
    size_t *play;
    size_t n, cap;
} dets_t;

static int dets_add(dets_t *d, size_t play, const md_events_event_t *ev, int n)
{
    for (int k = 0; k < n; k++) {
        if (d->n == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 1024;
            md_events_event_t *ne = realloc(d->e, cap * sizeof *ne);
            if (ne == NULL)
                return -ENOMEM;
            d->e = ne;
            size_t *np = realloc(d->play, cap * sizeof *np);
            if (np == NULL)
                return -ENOMEM;
            d->play = np;
            d->cap = cap;
        }
        d->e[d->n] = ev[k];
        d->play[d->n] = play;
        d->n++;
    }
    return 0;
}

/* Run one play live (m) or in teacher mode (L) with a row callback. */
static int run_play(const pw_frames_t *f, const md_events_model_t *m,
                    const md_events_labels_t *L, md_events_row_fn row, void *row_ctx,
                    dets_t *d, size_t play)
{
    md_events_play_t p;
    md_events_event_t ev[MD_EVENTS_MAXOUT];
    md_events_play_init(&p, f->n ? f->session[0] : 0);
    for (size_t i = 0; i < f->n; i++) {
        int n = md_events_push(&p, m, L, f, i, ev, row, row_ctx);
        if (d && dets_add(d, play, ev, n))
            return -ENOMEM;
    }
    int n = md_events_flush(&p, m, L, ev, row, row_ctx);
    if (d && dets_add(d, play, ev, n))
        return -ENOMEM;
    return 0;
}

/* Per-type counts of a run against the labels. */
typedef struct score_t {
    size_t tp[NT], ndet[NT], ngt[NT];
} counts_t;

static double prec(const counts_t *c, int t)
{
    return c->ndet[t] ? (double)c->tp[t] / (double)c->ndet[t] : (c->ngt[t] ? 0.0 : 1.0);
}

static double rec(const counts_t *c, int t)
{
    return c->ngt[t] ? (double)c->tp[t] / (double)c->ngt[t] : (c->ndet[t] ? 0.0 : 1.0);
}

static double f1(const counts_t *c, int t)
{
    double p = prec(c, t), r = rec(c, t);
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

/*
 * One-to-one matching within +-MD_EVENTS_TOL_NS, per play and type: pairs
 * are taken closest first (greedy), each label and detection at most once.
 */
static void match(const plays_t *ps, const dets_t *d, counts_t *c)
{
    memset(c, 0, sizeof *c);
    size_t di = 0;
    for (size_t k = 0; k < ps->n; k++) {
        const pw_frames_t *f = &ps->fr[k];
        size_t d0 = di;
        while (di < d->n && d->play[di] == k)
            di++;
        for (int t = 0; t < NT; t++) {
            int64_t gt[64];
            bool gused[64] = {false};
            size_t ng = 0;
            for (size_t i = 0; i < f->n; i++) {
                md_events_frame_t fr = {0};
                for (int l = 0; l < PW_FRAME_LABELS; l++)
                    fr.label[l] = f->label[i * PW_FRAME_LABELS + l];
                if (fr_has(&fr, &ps->L, t) && ng < 64)
                    gt[ng++] = f->ts_ns[i];
            }
            c->ngt[t] += ng;
            size_t nd = 0;
            bool dused[MD_EVENTS_MAXOUT * 4] = {false};
            size_t ids[MD_EVENTS_MAXOUT * 4];
            for (size_t j = d0; j < di; j++)
                if (d->e[j].type == t && nd < MD_EVENTS_MAXOUT * 4)
                    ids[nd++] = j;
            c->ndet[t] += nd;
            for (;;) {
                int64_t best = MD_EVENTS_TOL_NS + 1;
                size_t bg = 0, bd = 0;
                for (size_t g = 0; g < ng; g++)
                    for (size_t j = 0; j < nd; j++) {
                        if (gused[g] || dused[j])
                            continue;
                        int64_t dt = llabs(gt[g] - d->e[ids[j]].ts_ns);
                        if (dt < best) {
                            best = dt;
                            bg = g;
                            bd = j;
                        }
                    }
                if (best > MD_EVENTS_TOL_NS)
                    break;
                gused[bg] = dused[bd] = true;
                c->tp[t]++;
            }
        }
    }
}

static int run_live_dets(const plays_t *ps, const md_events_model_t *m, counts_t *c,
                         dets_t *keep, pw_err_t *err)
{
    dets_t d = {0};
    int rc = 0;
    for (size_t k = 0; k < ps->n && rc == 0; k++)
        rc = run_play(&ps->fr[k], m, NULL, NULL, NULL, &d, k);
    if (rc == 0)
        match(ps, &d, c);
    else
        pw_err_set(err, rc, "events: out of memory");
    /* Every detection, for a look at what eval matched (docs/models-events.md). */
    const char *dump = getenv("PITWALL_EVENTS_DETECTIONS");
    if (rc == 0 && dump && strcmp(dump, "") != 0 && strcmp(dump, "0") != 0)
        for (size_t j = 0; j < d.n; j++)
            fprintf(stderr, "%s %s %.3f p %.2f\n", ps->name[d.play[j]],
                    md_events_type_names[d.e[j].type],
                    (double)(d.e[j].ts_ns - ps->fr[d.play[j]].ts_ns[0]) / 1e9,
                    d.e[j].confidence);
    if (keep && rc == 0) {
        *keep = d;
        return 0;
    }
    free(d.e);
    free(d.play);
    return rc;
}

static int run_live(const plays_t *ps, const md_events_model_t *m, counts_t *c, pw_err_t *err)
{
    return run_live_dets(ps, m, c, NULL, err);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Detections near a label a type needs before its time offset is fitted (else 0). */
#define MIN_OFFSET_SAMPLES 5

/*
 * Per type, the median of (label time - detection time) over detections
 * with a label of their type within 1 s in the same play, rounded to a
 * frame (100 ms): the peak of a score can sit a frame or two from the
 * label, consistently.
 */
static int fit_offsets(const plays_t *ps, md_events_model_t *m, pw_err_t *err)
{
    memset(m->offset_ns, 0, sizeof m->offset_ns);
    dets_t d = {0};
    counts_t c;
    int rc = run_live_dets(ps, m, &c, &d, err);
    if (rc)
        return rc;
    int64_t *dt = malloc((d.n ? d.n : 1) * sizeof *dt);
    if (dt == NULL) {
        free(d.e);
        free(d.play);
        return pw_err_set(err, -ENOMEM, "events: out of memory");
    }
    for (int t = 0; t < NT; t++) {
        size_t n = 0;
        for (size_t j = 0; j < d.n; j++) {
            if (d.e[j].type != t)
                continue;
            const pw_frames_t *f = &ps->fr[d.play[j]];
            int64_t best = INT64_MAX;
            for (size_t i = 0; i < f->n; i++) {
                md_events_frame_t fr = {0};
                for (int l = 0; l < PW_FRAME_LABELS; l++)
                    fr.label[l] = f->label[i * PW_FRAME_LABELS + l];
                if (!fr_has(&fr, &ps->L, t))
                    continue;
                int64_t x = f->ts_ns[i] - d.e[j].ts_ns;
                if (llabs(x) < llabs(best))
                    best = x;
            }
            if (llabs(best) <= INT64_C(1000000000))
                dt[n++] = best;
        }
        if (n < MIN_OFFSET_SAMPLES)
            continue; /* one odd label would shift every event of the type */
        qsort(dt, n, sizeof *dt, cmp_i64);
        int64_t med = dt[n / 2];
        m->offset_ns[t] = (int64_t)llround((double)med / 1e8) * INT64_C(100000000);
    }
    free(dt);
    free(d.e);
    free(d.play);
    return 0;
}

/* ---- fit ------------------------------------------------------------------------ */

typedef struct rows {
    double *x;        /* [n][NF] */
    uint16_t *gate;   /* bit t: gate of type t open */
    uint16_t *y;      /* bit t: a label of type t within one frame */
    size_t n, cap;
    const md_events_labels_t *L;
    bool failed;
} rows_t;

static void on_row(void *ctx, const md_events_play_t *p, const md_events_frame_t *fr,
                   const double *feat, const bool *gate)
{
    rows_t *r = ctx;
    (void)fr;
    if (r->failed)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8192;
        double *nx = realloc(r->x, cap * NF * sizeof *nx);
        uint16_t *ng = nx ? realloc(r->gate, cap * sizeof *ng) : NULL;
        if (nx)
            r->x = nx;
        if (ng)
            r->gate = ng;
        uint16_t *ny = ng ? realloc(r->y, cap * sizeof *ny) : NULL;
        if (ny == NULL) {
            r->failed = true;
            return;
        }
        r->y = ny;
        r->cap = cap;
    }
    uint16_t gm = 0, ym = 0;
    for (int t = 0; t < NT; t++) {
        if (gate[t])
            gm |= (uint16_t)(1u << t);
        for (int k = -1; k <= 1; k++) {
            int64_t j = (int64_t)p->c + k;
            if (j < 0 || j >= (int64_t)p->n)
                continue;
            if (fr_has(at(p, p->c, k), r->L, t))
                ym |= (uint16_t)(1u << t);
        }
    }
    memcpy(r->x + r->n * NF, feat, NF * sizeof *feat);
    r->gate[r->n] = gm;
    r->y[r->n] = ym;
    r->n++;
}

/* Fit statistics of one type. */
typedef struct fitstat {
    size_t rows, pos;
    int iters;
    double loglik;
} fitstat_t;

/*
 * Logistic regression of type t on the rows whose gate is open
 * (md_logit, L2_LAMBDA on the standardised weights): the rows are packed
 * first, in their order.
 */
static int fit_type(const rows_t *r, int t, md_events_model_t *m, fitstat_t *fs, pw_err_t *err)
{
    size_t n = 0, npos = 0;
    uint16_t bit = (uint16_t)(1u << t);
    for (size_t i = 0; i < r->n; i++)
        if (r->gate[i] & bit) {
            n++;
            npos += (r->y[i] & bit) != 0;
        }
    fs->rows = n;
    fs->pos = npos;
    if (n < 50 || npos < 3)
        return pw_err_set(err, PW_EARG, "events: %s: %zu rows, %zu positive: too few to fit",
                          md_events_type_names[t], n, npos);
    double *x = malloc(n * NF * sizeof *x);
    uint8_t *y = malloc(n);
    int rc = 0;
    if (x == NULL || y == NULL) {
        rc = pw_err_set(err, -ENOMEM, "events: fit: out of memory");
        goto done;
    }
    size_t row = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!(r->gate[i] & bit))
            continue;
        memcpy(x + row * NF, r->x + i * NF, NF * sizeof *x);
        y[row] = (r->y[i] & bit) != 0;
        row++;
    }
    char who[64];
    snprintf(who, sizeof who, "events: fit %s", md_events_type_names[t]);
    const md_logit_opts_t o = {.lambda = L2_LAMBDA, .max_iter = IRLS_MAX_ITER, .tol = 1e-9};
    md_logit_result_t res;
    rc = md_logit_fit(x, y, n, NF, &o, who, m->mean[t], m->std[t], m->w[t], &res, err);
    if (rc == 0) {
        m->bias[t] = res.bias;
        fs->iters = res.iters;
        fs->loglik = res.loglik;
    }
done:
    free(x);
    free(y);
    return rc;
}

/* ---- train and eval ------------------------------------------------------------- */

static json_t *real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

#define NTH 17 /* thresholds tried: 0.10, 0.15, ..., 0.90 */

static int events_train(const char *const *paths, size_t n, const char *out_path, FILE *report,
                        pw_err_t *err)
{
    md_gsl_init();
    plays_t ps;
    rows_t rows = {0};
    json_t *root = NULL;
    md_events_model_t m;
    memset(&m, 0, sizeof m);
    fitstat_t fs[NT];
    memset(fs, 0, sizeof fs);
    int rc = plays_load(&ps, paths, n, NULL, err);
    if (rc)
        goto done;
    if (ps.n == 0) {
        rc = pw_err_set(err, PW_EARG, "events: none of the %zu files is a training play", n);
        goto done;
    }
    rows.L = &ps.L;
    size_t frames = 0;
    for (size_t k = 0; k < ps.n; k++) {
        frames += ps.fr[k].n;
        rc = run_play(&ps.fr[k], NULL, &ps.L, on_row, &rows, NULL, k);
        if (rc == 0 && rows.failed)
            rc = -ENOMEM;
        if (rc) {
            pw_err_set(err, rc, "events: out of memory");
            goto done;
        }
    }
    /*
     * Sacks are too rare to fit (7 in all the NGS plays): qb_sack is scored
     * by sack_score, from the QB; its coefficients stay zero and only its
     * threshold (the QB's distance to the defender) and offset are fitted.
     */
    for (int t = 0; t < NT; t++) {
        if (t == MD_EV_SACK) {
            for (int k = 0; k < NF; k++)
                m.std[t][k] = 1.0;
            for (size_t i = 0; i < rows.n; i++) {
                fs[t].rows += (rows.gate[i] & (1u << t)) != 0;
                fs[t].pos += (rows.gate[i] & rows.y[i] & (1u << t)) != 0;
            }
            m.threshold[t] = 0.5;
            continue;
        }
        rc = fit_type(&rows, t, &m, &fs[t], err);
        if (rc)
            goto done;
        m.threshold[t] = 0.5;
    }
    /*
     * Thresholds: coordinate ascent of each type's F1 on the training
     * plays, run live (gates follow the detections), two rounds in type
     * order; ties keep the lower threshold.
     */
    counts_t c;
    for (int round = 0; round < 2; round++)
        for (int t = 0; t < NT; t++) {
            if (round == 1 && t == 0 && (rc = fit_offsets(&ps, &m, err)))
                goto done;
            double best = -1, best_th = m.threshold[t];
            for (int k = 0; k < NTH; k++) {
                m.threshold[t] = 0.10 + 0.05 * k;
                rc = run_live(&ps, &m, &c, err);
                if (rc)
                    goto done;
                double v = f1(&c, t);
                if (v > best + 1e-12) {
                    best = v;
                    best_th = m.threshold[t];
                }
            }
            m.threshold[t] = best_th;
        }
    rc = run_live(&ps, &m, &c, err);
    if (rc)
        goto done;
    model_version(&m);
    root = model_json(&m);
    if (root == NULL) {
        rc = pw_err_set(err, -ENOMEM, "events: out of memory");
        goto done;
    }
    json_t *files = json_array();
    for (size_t k = 0; k < ps.n; k++)
        json_array_append_new(files, json_string(ps.name[k]));
    json_t *tr = json_object();
    json_object_set_new(tr, "split", json_string(md_split_train_desc()));
    json_object_set_new(tr, "files", files);
    json_object_set_new(tr, "plays", json_integer((json_int_t)ps.n));
    json_object_set_new(tr, "frames", json_integer((json_int_t)frames));
    json_t *lab = json_object();
    for (int t = 0; t < NT; t++)
        json_object_set_new(lab, md_events_type_names[t], json_integer((json_int_t)c.ngt[t]));
    json_object_set_new(tr, "labels", lab);
    json_object_set_new(root, "training", tr);
    json_t *fo = json_object();
    json_object_set_new(fo, "method", json_string("one-vs-rest logistic regression per type on "
                                                  "the frames its gate allows, IRLS with "
                                                  "gsl_multifit_wlinear, L2 on standardised "
                                                  "features; target: a label within one frame"));
    json_object_set_new(fo, "l2_lambda", json_real(L2_LAMBDA));
    json_t *per = json_object();
    for (int t = 0; t < NT; t++) {
        json_t *o = json_object();
        json_object_set_new(o, "rows", json_integer((json_int_t)fs[t].rows));
        json_object_set_new(o, "positives", json_integer((json_int_t)fs[t].pos));
        json_object_set_new(o, "iterations", json_integer(fs[t].iters));
        json_object_set_new(o, "log_likelihood", real(fs[t].loglik));
        json_object_set_new(o, "train_f1", real(f1(&c, t)));
        json_object_set_new(o, "train_precision", real(prec(&c, t)));
        json_object_set_new(o, "train_recall", real(rec(&c, t)));
        json_object_set_new(per, md_events_type_names[t], o);
    }
    json_object_set_new(fo, "types", per);
    json_object_set_new(fo, "qb_sack_coefficients",
                        json_string("none: scored from the quarterback, 1 - (QB to the nearest "
                                    "defender) / 2 yd; threshold and offset fitted"));
    json_object_set_new(root, "fit", fo);
    rc = md_file_write(root, out_path, err);
    if (rc)
        goto done;
    if (report) {
        fprintf(report, "events: %zu training plays (%s), %zu frames, %zu rows\n", ps.n,
                md_split_train_desc(), frames, rows.n);
        for (int t = 0; t < NT; t++)
            fprintf(report, "  %-14s rows %6zu pos %4zu thr %.2f  train P %.3f R %.3f F1 %.3f\n",
                    md_events_type_names[t], fs[t].rows, fs[t].pos, m.threshold[t],
                    prec(&c, t), rec(&c, t), f1(&c, t));
        fprintf(report, "wrote %s (%s)\n", out_path, m.version);
    }
done:
    json_decref(root);
    free(rows.x);
    free(rows.gate);
    free(rows.y);
    plays_fini(&ps);
    return rc;
}

static int events_eval(const char *model_path, const char *const *paths, size_t n, bool json,
                       FILE *out, pw_err_t *err)
{
    md_events_model_t *m = md_events_model_load(model_path, err);
    if (m == NULL)
        return err->code ? err->code : PW_ECORRUPT;
    plays_t ps = {0};
    counts_t c;
    md_split_seen_t seen;
    int rc = md_split_seen_load(model_path, &seen, err);
    if (rc == 0)
        rc = plays_load(&ps, paths, n, &seen, err);
    md_split_seen_fini(&seen);
    if (rc)
        goto done;
    if (ps.n == 0) {
        rc = pw_err_set(err, PW_EARG, "events: no play file among the %zu given that the "
                        "model was not fitted on; PITWALL_SPLIT=all scores them in sample", n);
        goto done;
    }
    rc = run_live(&ps, m, &c, err);
    if (rc)
        goto done;
    const char *split = md_split_eval_desc();
    if (json) {
        json_t *o = json_object(), *jf = json_object(), *jp = json_object(),
               *jr = json_object(), *js = json_object(), *jd = json_object();
        for (int t = 0; t < NT; t++) {
            const char *nm = md_events_type_names[t];
            json_object_set_new(jf, nm, json_real(f1(&c, t)));
            json_object_set_new(jp, nm, json_real(prec(&c, t)));
            json_object_set_new(jr, nm, json_real(rec(&c, t)));
            json_object_set_new(js, nm, json_integer((json_int_t)c.ngt[t]));
            json_object_set_new(jd, nm, json_integer((json_int_t)c.ndet[t]));
        }
        json_object_set_new(o, "model", json_string("events"));
        json_object_set_new(o, "version", json_string(m->version));
        json_object_set_new(o, "plays", json_integer((json_int_t)ps.n));
        json_object_set_new(o, "split", json_string(split));
        json_object_set_new(o, "tolerance_s", json_real((double)MD_EVENTS_TOL_NS / NS_PER_S));
        json_object_set_new(o, "f1", jf);
        json_object_set_new(o, "precision", jp);
        json_object_set_new(o, "recall", jr);
        json_object_set_new(o, "labels", js);
        json_object_set_new(o, "detections", jd);
        char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (s == NULL) {
            rc = pw_err_set(err, -ENOMEM, "events: out of memory");
            goto done;
        }
        fprintf(out, "%s\n", s);
        free(s);
    } else {
        fprintf(out, "events %s on %zu %s, +-%.1f s, one-to-one\n", m->version, ps.n, split,
                (double)MD_EVENTS_TOL_NS / NS_PER_S);
        fprintf(out, "  %-14s %6s %6s %6s %9s %9s %6s\n", "type", "labels", "found", "tp",
                "precision", "recall", "F1");
        for (int t = 0; t < NT; t++)
            fprintf(out, "  %-14s %6zu %6zu %6zu %9.3f %9.3f %6.3f\n", md_events_type_names[t],
                    c.ngt[t], c.ndet[t], c.tp[t], prec(&c, t), rec(&c, t), f1(&c, t));
    }
done:
    plays_fini(&ps);
    free(m);
    return rc;
}

const md_model_def_t md_events_def = {
    .name = "events",
    .desc = "football event classification (snap, pass, arrival, handoff, contact, tackle, "
            "sack, out of bounds, touchdown) from tracking frames",
    .default_out = "conf/models/events.json",
    .train = events_train,
    .eval = events_eval,
};
