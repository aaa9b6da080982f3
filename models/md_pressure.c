/*
 * md_pressure: features, labels, fit, model file, train and eval of the
 * pressure alert. See md_pressure.h and docs/models-pressure.md.
 */
#include "models/md_pressure.h"

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

#define DEG2RAD (3.14159265358979323846 / 180.0)
#define NS_PER_S 1e9
#define MAX_FILE_BYTES ((size_t)256 << 20)
#define FORMAT_VERSION 1
#define L2_LAMBDA 1.0
#define IRLS_MAX_ITER 50

const char *const md_pressure_feature_names[MD_PRESSURE_NF] = {
    "dist_yd", "near", "closing_yps", "heading_cos", "blockers_in_path", "blocker_dist_yd",
    "t_since_snap_s", "qb_speed_yps", "kin_reach", "penetration_yd", "def_speed_yps",
    "ttr_s", "free_reach", "qb_depth_yd", "hold_reach",
};

static const char *const feature_desc[MD_PRESSURE_NF] = {
    "distance from the defender to the QB, yards, capped at 20",
    "exp(-dist_yd / 2): closeness, large when the defender is at the QB",
    "closing speed, yd/s: rate at which the defender-QB distance shrinks (relative velocity "
    "from speed and direction), clamped to [-10, 10]",
    "cosine of the angle between the defender's direction of motion and the bearing to the "
    "QB (0 when the defender moves slower than 0.5 yd/s)",
    "offensive players (not the QB) within 1 yard of the segment defender-QB and between "
    "them, capped at 3",
    "distance from the defender to the nearest offensive player other than the QB, yards, "
    "capped at 5",
    "time since the snap, seconds, capped at 6",
    "QB speed, yd/s",
    "exp(-t) of the kinematic time to reach t = (dist - 1.5) / max(closing, 0.3), s, in "
    "[0, 6]",
    "how far the defender is on the offense's side of the line of scrimmage, yards, in "
    "[-10, 10]",
    "defender speed, yd/s",
    "kinematic time to reach t, s, in [0, 6] (linear, beside kin_reach's exp(-t))",
    "exp(-t) when no offensive player is in the path (blockers_in_path = 0), else 0: an "
    "unblocked rusher on course",
    "how far the QB is behind the line of scrimmage, yards, in [0, 15] (drop-back depth)",
    "t_since_snap_s * kin_reach: a rusher on course counts more the longer the QB holds the "
    "ball",
};

/* ---- labels and split --------------------------------------------------- */

int md_pressure_labels_resolve(pw_intern_t *labels, bool add, md_pressure_labels_t *out)
{
    static const char *const names[] = {"ball_snap", "pass_forward", "qb_sack",
                                        "qb_strip_sack", "handoff", "run", "lateral",
                                        "pass_lateral"};
    uint32_t *ids[] = {&out->snap, &out->pass, &out->sack, &out->strip_sack,
                       &out->handoff, &out->run, &out->lateral, &out->pass_lateral};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        uint32_t id = 0;
        int rc = add ? pw_intern_add(labels, names[k], strlen(names[k]), &id)
                     : pw_intern_find(labels, names[k], strlen(names[k]), &id);
        if (rc && (add || rc != PW_ENOTFOUND))
            return rc;
        *ids[k] = rc ? 0 : id;
    }
    return 0;
}

/* ---- per-frame path ------------------------------------------------------ */

void md_pressure_play_init(md_pressure_play_t *p, uint64_t session)
{
    memset(p, 0, sizeof *p);
    p->session = session;
    p->last_ns = INT64_MIN;
    p->offense = p->defense = PW_TEAM_UNKNOWN;
}

/* Between frames a session waits for its first snap exactly when it has seen none. */
int md_pressure_play_check(const md_pressure_play_t *p)
{
    bool ok = p->phase >= MD_PRESSURE_WAIT && p->phase <= MD_PRESSURE_DONE &&
              p->end >= MD_PRESSURE_END_NONE && p->end <= MD_PRESSURE_END_NOQB &&
              p->last_n >= 0 && p->last_n <= MD_PRESSURE_TOP && p->above >= 0 &&
              (p->offense <= PW_TEAM_AWAY || p->offense == PW_TEAM_UNKNOWN) &&
              (p->defense <= PW_TEAM_AWAY || p->defense == PW_TEAM_UNKNOWN) &&
              isfinite(p->last_prob) && p->last_prob >= 0 && p->last_prob <= 1 &&
              isfinite(p->alert_prob) && isfinite(p->alert_eta_s) && isfinite(p->los_x) &&
              (p->phase == MD_PRESSURE_WAIT) == (p->play == 0);
    if (p->phase == MD_PRESSURE_RUSH)
        ok = ok && (p->dirx == 1.0f || p->dirx == -1.0f) && p->end == MD_PRESSURE_END_NONE &&
             p->offense != p->defense;
    for (int k = 0; ok && k < p->last_n; k++)
        ok = isfinite(p->last_p[k]) && p->last_p[k] >= 0 && p->last_p[k] <= 1 &&
             isfinite(p->last_eta[k]);
    return ok ? 0 : PW_ECORRUPT;
}

static bool has_label(const pw_frames_t *f, size_t i, uint32_t id)
{
    if (id == 0)
        return false;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        if (f->label[i * PW_FRAME_LABELS + l] == id)
            return true;
    return false;
}

static bool finite2(float x, float y)
{
    return isfinite(x) && isfinite(y);
}

/* Find offense, QB and line of scrimmage at the snap frame. */
static bool find_qb(md_pressure_play_t *p, const pw_frames_t *f, size_t i)
{
    size_t o0 = f->first[i], o1 = o0 + f->nobj[i];
    float bx = NAN, by = NAN;
    for (size_t o = o0; o < o1; o++)
        if (f->team[o] == PW_TEAM_BALL && finite2(f->x[o], f->y[o])) {
            bx = f->x[o];
            by = f->y[o];
        }
    /* The centre: the player nearest the ball (or, without a ball, give up). */
    if (!finite2(bx, by))
        return false;
    double best = INFINITY;
    size_t centre = o1;
    for (size_t o = o0; o < o1; o++) {
        if ((f->team[o] != PW_TEAM_HOME && f->team[o] != PW_TEAM_AWAY) ||
            !finite2(f->x[o], f->y[o]))
            continue;
        double d = hypot(f->x[o] - bx, f->y[o] - by);
        if (d < best) {
            best = d;
            centre = o;
        }
    }
    if (centre == o1)
        return false;
    uint8_t off = f->team[centre], def = off == PW_TEAM_HOME ? PW_TEAM_AWAY : PW_TEAM_HOME;
    double sx = 0;
    int nd = 0;
    for (size_t o = o0; o < o1; o++)
        if (f->team[o] == def && finite2(f->x[o], f->y[o])) {
            sx += f->x[o];
            nd++;
        }
    if (nd == 0)
        return false;
    float dirx = sx / nd >= bx ? 1.0f : -1.0f;
    size_t qb = md_qb_find(f, o0, o1, off, f->entity[centre], bx, by, dirx);
    if (qb == o1)
        return false;
    p->qb = f->entity[qb];
    p->offense = off;
    p->defense = def;
    p->dirx = dirx;
    p->los_x = bx;
    return true;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void velocity(float s, float dir, double *vx, double *vy)
{
    if (!isfinite(s) || !isfinite(dir)) {
        *vx = *vy = 0;
        return;
    }
    double a = dir * DEG2RAD;
    *vx = s * sin(a);
    *vy = s * cos(a);
}

double md_pressure_predict(const md_pressure_model_t *m, const double *feat)
{
    double z = m->bias;
    for (int k = 0; k < MD_PRESSURE_NF; k++)
        z += m->w[k] * (feat[k] - m->mean[k]) / m->std[k];
    if (z > 40)
        z = 40;
    if (z < -40)
        z = -40;
    return 1.0 / (1.0 + exp(-z));
}

/* Keep the top defenders of out in p as the last good output. */
static void keep_last(md_pressure_play_t *p, const md_pressure_out_t *out)
{
    int used[MD_PRESSURE_TOP] = {-1, -1, -1};
    p->last_prob = out->play_prob;
    p->last_n = 0;
    for (int t = 0; t < MD_PRESSURE_TOP && t < out->n; t++) {
        int best = -1;
        for (int d = 0; d < out->n; d++) {
            bool taken = false;
            for (int u = 0; u < t; u++)
                taken |= used[u] == d;
            if (!taken && (best < 0 || out->prob[d] > out->prob[best]))
                best = d;
        }
        used[t] = best;
        p->last_ent[t] = out->ent[best];
        p->last_p[t] = out->prob[best];
        p->last_eta[t] = out->eta_s[best];
        p->last_n++;
    }
}

static void features(md_pressure_play_t *p, const pw_frames_t *f, size_t i, size_t q,
                     md_pressure_out_t *out)
{
    size_t o0 = f->first[i], o1 = o0 + f->nobj[i];
    double qx = f->x[q], qy = f->y[q], qvx, qvy;
    velocity(f->speed[q], f->direction[q], &qvx, &qvy);
    double qs = isfinite(f->speed[q]) ? f->speed[q] : 0.0;
    double bxs[MD_PRESSURE_MAXOFF], bys[MD_PRESSURE_MAXOFF];
    int nb = 0, noff = 1, ndef = 0;
    for (size_t o = o0; o < o1; o++) {
        if (o == q || f->team[o] != p->offense)
            continue;
        if (!finite2(f->x[o], f->y[o])) {
            out->degraded = true;
            continue;
        }
        noff++;
        if (nb < MD_PRESSURE_MAXOFF) {
            bxs[nb] = f->x[o];
            bys[nb] = f->y[o];
            nb++;
        }
    }
    double t_snap = (double)(f->ts_ns[i] - p->snap_ns) / NS_PER_S;
    double qdepth = clampd((p->los_x - qx) * p->dirx, 0, 15);
    out->n = 0;
    for (size_t o = o0; o < o1; o++) {
        if (f->team[o] != p->defense)
            continue;
        ndef++;
        if (!finite2(f->x[o], f->y[o]) || out->n == MD_PRESSURE_MAXDEF) {
            out->degraded = true;
            continue;
        }
        if (!isfinite(f->speed[o]) || !isfinite(f->direction[o]))
            out->degraded = true;
        double dx = qx - f->x[o], dy = qy - f->y[o], d = hypot(dx, dy);
        double ux = d > 1e-6 ? dx / d : 0, uy = d > 1e-6 ? dy / d : 0;
        double vx, vy;
        velocity(f->speed[o], f->direction[o], &vx, &vy);
        double closing = (vx - qvx) * ux + (vy - qvy) * uy;
        double ds = isfinite(f->speed[o]) ? f->speed[o] : 0.0;
        double heading = ds > 0.5 ? (vx * ux + vy * uy) / ds : 0.0;
        int blockers = 0;
        double bdist = 5.0;
        for (int b = 0; b < nb; b++) {
            double rx = bxs[b] - f->x[o], ry = bys[b] - f->y[o];
            double bd = hypot(rx, ry);
            if (bd < bdist)
                bdist = bd;
            double along = rx * ux + ry * uy, perp = fabs(rx * uy - ry * ux);
            if (along > 0 && along < d && perp < 1.0)
                blockers++;
        }
        double cl = clampd(closing, -10, 10);
        double tt = clampd((d - MD_PRESSURE_REACH_YD) / (cl > 0.3 ? cl : 0.3), 0, 6);
        double ek = exp(-tt);
        double *x = out->feat[out->n];
        x[0] = clampd(d, 0, 20);
        x[1] = exp(-d / 2.0);
        x[2] = cl;
        x[3] = heading;
        x[4] = blockers > 3 ? 3 : blockers;
        x[5] = bdist;
        x[6] = clampd(t_snap, 0, 6);
        x[7] = qs;
        x[8] = ek;
        x[9] = clampd((p->los_x - f->x[o]) * p->dirx, -10, 10);
        x[10] = ds;
        x[11] = tt;
        x[12] = blockers == 0 ? ek : 0.0;
        x[13] = qdepth;
        x[14] = clampd(t_snap, 0, 6) * ek;
        out->ent[out->n] = f->entity[o];
        out->eta_s[out->n] = tt;
        out->n++;
    }
    if (noff < 11 || ndef < 11)
        out->degraded = true;
}

/*
 * A handoff label starts a check: the window ends when the ball is more
 * than 2 yd from the QB within 1 s (the runner has it); when the QB keeps
 * the ball for 1 s it was a fake (play action) and the rush goes on.
 */
static bool handoff_done(md_pressure_play_t *p, const pw_frames_t *f, size_t i, size_t q,
                         const md_pressure_labels_t *L)
{
    int64_t ts = f->ts_ns[i];
    if (has_label(f, i, L->handoff) || has_label(f, i, L->run))
        p->handoff_ns = ts;
    if (p->handoff_ns == 0)
        return false;
    if (ts - p->handoff_ns > INT64_C(1000000000)) {
        p->handoff_ns = 0;
        return false;
    }
    size_t o0 = f->first[i], o1 = o0 + f->nobj[i];
    if (q == o1 || !finite2(f->x[q], f->y[q]))
        return false;
    for (size_t o = o0; o < o1; o++)
        if (f->team[o] == PW_TEAM_BALL && finite2(f->x[o], f->y[o]))
            return hypot(f->x[o] - f->x[q], f->y[o] - f->y[q]) > 2.0;
    return false;
}

void md_pressure_step(md_pressure_play_t *p, const md_pressure_model_t *m, double threshold,
                      const md_pressure_labels_t *L, const pw_frames_t *f, size_t i,
                      md_pressure_out_t *out)
{
    out->emit = out->degraded = out->held = out->alert = out->ended = false;
    out->n = 0;
    out->play_prob = 0;
    int64_t ts = f->ts_ns[i];
    if (ts <= p->last_ns)
        return;
    p->last_ns = ts;
    bool snap = has_label(f, i, L->snap);
    if (p->phase == MD_PRESSURE_DONE && !snap)
        return;
    if (snap) {
        /*
         * Every snap starts a rush: the first of the session, the next play
         * of a game feed after the last rush ended, or (a missed end) a
         * snap during a rush. Fresh state; the session's count goes on.
         */
        if (p->play > 0) {
            uint64_t session = p->session;
            uint32_t play = p->play;
            md_pressure_play_init(p, session);
            p->play = play;
            p->last_ns = ts;
        }
        p->play++;
    }
    if (p->phase == MD_PRESSURE_WAIT) {
        if (!snap)
            return;
        if (!find_qb(p, f, i)) {
            p->phase = MD_PRESSURE_DONE;
            p->end = MD_PRESSURE_END_NOQB;
            p->end_ns = ts;
            return;
        }
        p->phase = MD_PRESSURE_RUSH;
        p->snap_ns = ts;
    }
    out->emit = true;
    size_t o0 = f->first[i], o1 = o0 + f->nobj[i], q = o1;
    for (size_t o = o0; o < o1; o++)
        if (f->entity[o] == p->qb) {
            q = o;
            break;
        }
    if (q == o1 || !finite2(f->x[q], f->y[q])) {
        out->degraded = out->held = true;
        out->play_prob = p->last_prob;
    } else {
        out->qb_x = f->x[q];
        out->qb_y = f->y[q];
        features(p, f, i, q, out);
        if (m != NULL) {
            double none = 1.0;
            for (int d = 0; d < out->n; d++) {
                out->prob[d] = md_pressure_predict(m, out->feat[d]);
                none *= 1.0 - out->prob[d];
            }
            out->play_prob = 1.0 - none;
        } else {
            for (int d = 0; d < out->n; d++)
                out->prob[d] = 0;
        }
        if (out->n == 0) {
            out->held = true;
            out->play_prob = p->last_prob;
        } else {
            keep_last(p, out);
        }
    }
    /* The alert: once per rush, after confirm frames at or above threshold. */
    if (m != NULL && !p->alerted) {
        p->above = out->play_prob >= threshold ? p->above + 1 : 0;
        if (p->above >= (m->confirm > 0 ? m->confirm : 1) && p->last_n > 0) {
            p->alerted = out->alert = true;
            p->alert_ns = ts;
            p->alert_entity = p->last_ent[0];
            p->alert_prob = p->last_p[0];
            p->alert_eta_s = p->last_eta[0];
        }
    }
    int end = MD_PRESSURE_END_NONE;
    if (has_label(f, i, L->sack) || has_label(f, i, L->strip_sack))
        end = MD_PRESSURE_END_SACK;
    else if (has_label(f, i, L->pass) || has_label(f, i, L->lateral) ||
             has_label(f, i, L->pass_lateral))
        end = MD_PRESSURE_END_PASS;
    else if (handoff_done(p, f, i, q, L))
        end = MD_PRESSURE_END_HANDOFF;
    else if (q != o1 && finite2(f->x[q], f->y[q]) && (f->x[q] - p->los_x) * p->dirx > 1.0)
        end = MD_PRESSURE_END_SCRAMBLE;
    else if (ts - p->snap_ns > MD_PRESSURE_MAX_RUSH_NS)
        end = MD_PRESSURE_END_TIMEOUT;
    if (end != MD_PRESSURE_END_NONE) {
        p->phase = MD_PRESSURE_DONE;
        p->end = end;
        p->end_ns = ts;
        out->ended = true;
    }
}

/* ---- model file ---------------------------------------------------------- */

/*
 * The version of a model: a hash of its numbers as written (%.17g). The
 * 64-byte buffer is part of the versions already written: a feature whose
 * text takes 64 characters is hashed as its first 63 and the NUL, and a
 * longer one as the buffer's 64 bytes (never past it).
 */
static size_t hashed_len(int n, size_t cap)
{
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap;
}

static void model_version(md_pressure_model_t *m)
{
    uint32_t h = MD_FILE_FNV_BASIS;
    char buf[64];
    for (int k = 0; k < MD_PRESSURE_NF; k++) {
        int n = snprintf(buf, sizeof buf, "%.17g %.17g %.17g;", m->mean[k], m->std[k], m->w[k]);
        h = md_file_fnv1a(h, buf, hashed_len(n, sizeof buf));
    }
    int n = snprintf(buf, sizeof buf, "%.17g %.17g %d", m->bias, m->threshold, m->confirm);
    h = md_file_fnv1a(h, buf, hashed_len(n, sizeof buf));
    snprintf(m->version, sizeof m->version, "pressure-%08x", h);
}

void *md_pressure_model_load(const char *path, pw_err_t *err)
{
    json_t *root = md_file_open(path, "pressure", FORMAT_VERSION, err);
    if (root == NULL)
        return NULL;
    md_pressure_model_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        json_decref(root);
        pw_err_set(err, -ENOMEM, "%.300s: out of memory", path);
        return NULL;
    }
    const char *what = NULL;
    json_t *feats = json_object_get(root, "features");
    json_t *alert = json_object_get(root, "alert");
    double confirm = 0;
    if (!json_is_array(feats) || json_array_size(feats) != MD_PRESSURE_NF)
        what = "'features' is not an array of 15 features";
    else if (md_file_num(root, "intercept", &m->bias))
        what = "'intercept' is not a number";
    else if (!json_is_object(alert) || md_file_num(alert, "threshold", &m->threshold) ||
             m->threshold < 0 || m->threshold > 1)
        what = "'alert.threshold' is not a probability";
    else if (md_file_num(alert, "confirm_frames", &confirm) || confirm < 1 || confirm > 50)
        what = "'alert.confirm_frames' is not 1..50";
    for (int k = 0; what == NULL && k < MD_PRESSURE_NF; k++) {
        json_t *fo = json_array_get(feats, (size_t)k);
        const char *name = json_string_value(json_object_get(fo, "name"));
        if (name == NULL || strcmp(name, md_pressure_feature_names[k]))
            what = "a feature's name or order differs from this build's";
        else if (md_file_num(fo, "mean", &m->mean[k]) || md_file_num(fo, "std", &m->std[k]) ||
                 md_file_num(fo, "coef", &m->w[k]) || !(m->std[k] > 0))
            what = "a feature lacks mean, std (> 0) or coef";
    }
    if (what == NULL) {
        m->confirm = (int)confirm;
        model_version(m);
    }
    return md_file_close(root, m, m->version, what, path, err);
}

void md_pressure_model_free(void *model)
{
    free(model);
}

/* ---- reading plays --------------------------------------------------------- */

typedef struct play_data {
    pw_frames_t fr;
    pw_object_t *objs;
    size_t objs_cap;
} play_data_t;

static int on_frames(void *ctx, const pw_frames_t *b)
{
    play_data_t *pd = ctx;
    for (size_t i = 0; i < b->n; i++) {
        if (b->nobj[i] > pd->objs_cap) {
            size_t cap = b->nobj[i];
            pw_object_t *n = realloc(pd->objs, cap * sizeof *n);
            if (n == NULL)
                return -ENOMEM;
            pd->objs = n;
            pd->objs_cap = cap;
        }
        for (uint16_t k = 0; k < b->nobj[i]; k++) {
            size_t o = b->first[i] + k;
            pd->objs[k] = (pw_object_t){b->entity[o], b->team[o], b->x[o], b->y[o],
                                        b->speed[o], b->orientation[o], b->direction[o]};
        }
        int rc = pw_frames_push(&pd->fr, b->ts_ns[i], b->session[i],
                                &b->label[i * PW_FRAME_LABELS], pd->objs, b->nobj[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* What one play gave. */
typedef struct play_result {
    int end;
    bool dropback;     /* ended by a pass, sack or scramble */
    bool pressured;    /* a defender came within 1.5 yd during the window */
    bool alerted;
    int64_t alert_ns, sack_ns;
    int64_t contact_ns; /* first frame a defender is within 1.5 yd; 0 = none */
    size_t frames;     /* frames in the window */
    /* The play's probability per window frame (cross-validation), or NULL. */
    int64_t *ts;
    float *pp;
    size_t npp, cap_pp;
} play_result_t;

/* Rows of the design: features, label, prediction. */
typedef struct rows {
    double *x;  /* [n][NF] */
    uint8_t *y;
    double *p;
    uint8_t *fold; /* cross-validation fold of the row's game */
    size_t n, cap;
} rows_t;

static int rows_push(rows_t *r, const double *x, int y, double p, int fold)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        double *nx = realloc(r->x, cap * MD_PRESSURE_NF * sizeof *nx);
        if (nx == NULL)
            return -ENOMEM;
        r->x = nx;
        uint8_t *ny = realloc(r->y, cap);
        if (ny == NULL)
            return -ENOMEM;
        r->y = ny;
        double *np = realloc(r->p, cap * sizeof *np);
        if (np == NULL)
            return -ENOMEM;
        r->p = np;
        uint8_t *nf = realloc(r->fold, cap);
        if (nf == NULL)
            return -ENOMEM;
        r->fold = nf;
        r->cap = cap;
    }
    r->fold[r->n] = (uint8_t)fold;
    memcpy(r->x + r->n * MD_PRESSURE_NF, x, MD_PRESSURE_NF * sizeof *x);
    r->y[r->n] = (uint8_t)y;
    r->p[r->n] = p;
    r->n++;
    return 0;
}

static void rows_fini(rows_t *r)
{
    free(r->x);
    free(r->y);
    free(r->p);
    free(r->fold);
}

/* Position of entity e in frame k, or false. */
static bool find_pos(const pw_frames_t *f, size_t k, uint32_t e, double *x, double *y)
{
    for (size_t o = f->first[k], end = o + f->nobj[k]; o < end; o++)
        if (f->entity[o] == e) {
            if (!finite2(f->x[o], f->y[o]))
                return false;
            *x = f->x[o];
            *y = f->y[o];
            return true;
        }
    return false;
}

/*
 * Horizon label of defender e at window frame i: within 1.5 yd of the QB
 * at some frame k with ts in (ts_i, ts_i + 1.5 s] and k <= last (the
 * window's last frame).
 */
static int horizon_label(const pw_frames_t *f, size_t i, size_t last, uint32_t qb, uint32_t e)
{
    int64_t lim = f->ts_ns[i] + (int64_t)(MD_PRESSURE_HORIZON_S * NS_PER_S + 0.5);
    for (size_t k = i + 1; k <= last && k < f->n && f->ts_ns[k] <= lim; k++) {
        double qx, qy, dx, dy;
        if (find_pos(f, k, qb, &qx, &qy) && find_pos(f, k, e, &dx, &dy) &&
            hypot(qx - dx, qy - dy) <= MD_PRESSURE_REACH_YD)
            return 1;
    }
    return 0;
}

/*
 * Run every session of fr through the model (m NULL = features only),
 * append a labelled row per defender per window frame to rows, and count
 * the play's outcome into res (the first session with a snap).
 */
static int run_play(const pw_frames_t *f, const md_pressure_model_t *m, double threshold,
                    const md_pressure_labels_t *L, rows_t *rows, int fold, play_result_t *res)
{
    int64_t *keep_ts = res->ts;
    float *keep_pp = res->pp;
    size_t keep_cap = res->cap_pp;
    memset(res, 0, sizeof *res);
    res->ts = keep_ts;
    res->pp = keep_pp;
    res->cap_pp = keep_cap;
    md_pressure_play_t p;
    md_pressure_play_init(&p, f->n ? f->session[0] : 0);
    static md_pressure_out_t out; /* large; train/eval run on one thread */
    size_t first = f->n, last = f->n;
    for (size_t i = 0; i < f->n && p.phase != MD_PRESSURE_DONE; i++) {
        md_pressure_step(&p, m, threshold, L, f, i, &out);
        if (out.emit && first == f->n)
            first = i;
        if (out.emit)
            last = i;
        if (out.ended)
            break;
    }
    res->end = p.end;
    if (first == f->n || p.end == MD_PRESSURE_END_NOQB)
        return 1; /* no drop-back */
    if (p.phase != MD_PRESSURE_DONE)
        res->end = MD_PRESSURE_END_TIMEOUT;
    res->dropback = res->end == MD_PRESSURE_END_PASS || res->end == MD_PRESSURE_END_SACK ||
                    res->end == MD_PRESSURE_END_SCRAMBLE;
    res->alerted = p.alerted;
    res->alert_ns = p.alert_ns;
    res->sack_ns = res->end == MD_PRESSURE_END_SACK ? p.end_ns : 0;
    res->frames = last - first + 1;
    /* Replay the window for rows and labels. */
    md_pressure_play_init(&p, f->session[0]);
    for (size_t i = 0; i <= last; i++) {
        md_pressure_step(&p, m, threshold, L, f, i, &out);
        if (!out.emit)
            continue;
        if (res->pp && res->npp < res->cap_pp) {
            res->ts[res->npp] = f->ts_ns[i];
            res->pp[res->npp++] = (float)out.play_prob;
        }
        for (int d = 0; d < out.n; d++) {
            double qx, qy, dx, dy;
            if (find_pos(f, i, p.qb, &qx, &qy) && find_pos(f, i, out.ent[d], &dx, &dy) &&
                hypot(qx - dx, qy - dy) <= MD_PRESSURE_REACH_YD) {
                if (!res->pressured)
                    res->contact_ns = f->ts_ns[i];
                res->pressured = true;
            }
            int y = horizon_label(f, i, last, p.qb, out.ent[d]);
            if (rows && rows_push(rows, out.feat[d], y, out.prob[d], fold))
                return -ENOMEM;
        }
    }
    return 0;
}

/* Decode one file into pd->fr (cleared first). */
static int load_play(const char *path, ing_names_t *names, play_data_t *pd, pw_err_t *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = ing_file_load(path, MAX_FILE_BYTES, &data, &len, err);
    if (rc)
        return rc;
    pw_frames_clear(&pd->fr);
    ing_emit_t emit = {.frames = on_frames, .ctx = pd};
    ing_stats_t st;
    ing_stats_init(&st);
    rc = ing_ngs_decode(path, data, len, NULL, names, &emit, &st, err);
    free(data);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return pw_err_set(err, rc, "%.400s: %s", path, pw_strerror(rc));
    return 0;
}

/* Counts of one pass over files. */
typedef struct tally {
    size_t files, plays, skipped, frames, sacks, sacks_alerted, clean, false_alerts;
    size_t dropbacks, handoffs, pressured, pressured_alerted, handoff_alerts;
    double min_lead_s;
    double leads[64];  /* per sack, in file order (first 64); 0 = not alerted */
} tally_t;

/* Folds of the cross-validation over training games. */
#define CV_FOLDS 5
/* Window frames kept per play for the cross-validation (10 s at 10 Hz fits). */
#define CV_MAXF 128

/* One held-out play of the cross-validation: its outcome and probability series. */
typedef struct cv_play {
    int end;
    bool dropback, pressured;
    int64_t contact_ns, sack_ns;
    size_t n;
    int64_t ts[CV_MAXF];
    float pp[CV_MAXF];
} cv_play_t;

typedef struct cv_set {
    cv_play_t *play;
    size_t n, cap;
} cv_set_t;

typedef struct run_env {
    pw_intern_t *ent, *lab, *ch;
    ing_names_t names;
    play_data_t pd;
    md_pressure_labels_t L;
    int fold_only;     /* -1: every file of the split; else only that fold's games */
    int fold_skip;     /* -1: none; else skip that fold's games */
    cv_set_t *cv;      /* when set, each play's series is appended */
    int64_t ts[CV_MAXF];
    float pp[CV_MAXF];
} run_env_t;

/* The cross-validation fold of a play file's game, from its gameId; 0 if unnamed. */
static int game_fold(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *q = strchr(base, '_');
    q = q ? strchr(q + 1, '_') : NULL;
    if (q == NULL)
        return 0;
    unsigned long long g = strtoull(q + 1, NULL, 10);
    return (int)((g / 5) % CV_FOLDS);
}

static void env_fini(run_env_t *e)
{
    pw_intern_destroy(e->ent);
    pw_intern_destroy(e->lab);
    pw_intern_destroy(e->ch);
    pw_frames_fini(&e->pd.fr);
    free(e->pd.objs);
}

static int env_init(run_env_t *e, pw_err_t *err)
{
    memset(e, 0, sizeof *e);
    e->fold_only = e->fold_skip = -1;
    pw_frames_init(&e->pd.fr);
    if (pw_intern_create(1 << 16, &e->ent) || pw_intern_create(4096, &e->lab) ||
        pw_intern_create(64, &e->ch)) {
        env_fini(e);
        return pw_err_set(err, -ENOMEM, "pressure: out of memory");
    }
    e->names = (ing_names_t){.channels = e->ch, .entities = e->ent, .labels = e->lab};
    int rc = md_pressure_labels_resolve(e->lab, true, &e->L);
    if (rc) {
        env_fini(e);
        return pw_err_set(err, rc, "pressure: labels: %s", pw_strerror(rc));
    }
    return 0;
}

/*
 * Run the files a pass uses through the model, appending rows and
 * tallying outcomes: with seen NULL the training plays
 * (md_split_train_uses), else the files eval scores (md_split_eval_uses).
 * used (may be NULL) gets the basenames of the files used, as a JSON array.
 */
static int run_files(run_env_t *e, const char *const *paths, size_t n,
                     const md_split_seen_t *seen,
                     const md_pressure_model_t *m, double threshold, rows_t *rows, tally_t *t,
                     json_t *used, pw_err_t *err)
{
    memset(t, 0, sizeof *t);
    t->min_lead_s = INFINITY;
    for (size_t k = 0; k < n; k++) {
        if (!md_split_is_play(paths[k]) || (seen && !md_split_eval_uses(seen, paths[k])))
            continue;
        int fold = game_fold(paths[k]);
        if ((e->fold_only >= 0 && fold != e->fold_only) || fold == e->fold_skip)
            continue;
        int rc = load_play(paths[k], &e->names, &e->pd, err);
        if (rc)
            return rc;
        if (seen == NULL &&
            !md_split_train_uses(paths[k],
                                 md_split_has_label(&e->pd.fr, e->L.sack, e->L.strip_sack)))
            continue;
        t->files++;
        if (used) {
            const char *b = strrchr(paths[k], '/');
            json_array_append_new(used, json_string(b ? b + 1 : paths[k]));
        }
        play_result_t r = {0};
        if (e->cv) {
            r.ts = e->ts;
            r.pp = e->pp;
            r.cap_pp = CV_MAXF;
        }
        rc = run_play(&e->pd.fr, m, threshold, &e->L, rows, fold, &r);
        if (rc < 0)
            return pw_err_set(err, rc, "pressure: out of memory");
        if (rc == 1) {
            t->skipped++;
            continue;
        }
        if (e->cv) {
            cv_set_t *c = e->cv;
            if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 64;
                cv_play_t *np = realloc(c->play, cap * sizeof *np);
                if (np == NULL)
                    return pw_err_set(err, -ENOMEM, "pressure: out of memory");
                c->play = np;
                c->cap = cap;
            }
            cv_play_t *cp = &c->play[c->n++];
            cp->end = r.end;
            cp->dropback = r.dropback;
            cp->pressured = r.pressured;
            cp->contact_ns = r.contact_ns;
            cp->sack_ns = r.sack_ns;
            cp->n = r.npp;
            memcpy(cp->ts, r.ts, r.npp * sizeof *r.ts);
            memcpy(cp->pp, r.pp, r.npp * sizeof *r.pp);
        }
        t->plays++;
        t->frames += r.frames;
        if (r.end == MD_PRESSURE_END_HANDOFF) {
            t->handoffs++;
            t->handoff_alerts += r.alerted;
        }
        if (r.end == MD_PRESSURE_END_SACK) {
            t->sacks++;
            double lead = r.alerted ? (double)(r.sack_ns - r.alert_ns) / NS_PER_S : 0.0;
            t->sacks_alerted += r.alerted;
            if (t->sacks <= 64)
                t->leads[t->sacks - 1] = lead;
            if (lead < t->min_lead_s)
                t->min_lead_s = lead;
        } else if (r.dropback) {
            t->dropbacks++;
            if (r.pressured) {
                t->pressured++;
                t->pressured_alerted += r.alerted;
            } else {
                t->clean++;
                t->false_alerts += r.alerted;
            }
        }
    }
    return 0;
}

/* Frame-level ROC AUC (ties count half). NaN when one class is empty. */
static int cmp_idx_p(const void *a, const void *b, void *ctx)
{
    const double *p = ctx;
    double x = p[*(const size_t *)a], y = p[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

static double auc(const rows_t *r)
{
    size_t *idx = malloc((r->n ? r->n : 1) * sizeof *idx);
    if (idx == NULL)
        return NAN;
    for (size_t i = 0; i < r->n; i++)
        idx[i] = i;
    qsort_r(idx, r->n, sizeof *idx, cmp_idx_p, r->p);
    double rank_sum = 0, npos = 0;
    for (size_t i = 0; i < r->n;) {
        size_t j = i;
        while (j < r->n && r->p[idx[j]] == r->p[idx[i]])
            j++;
        double rank = (double)(i + j + 1) / 2.0; /* 1-based mean rank */
        for (size_t k = i; k < j; k++)
            if (r->y[idx[k]]) {
                rank_sum += rank;
                npos++;
            }
        i = j;
    }
    free(idx);
    double nneg = (double)r->n - npos;
    if (npos == 0 || nneg == 0)
        return NAN;
    return (rank_sum - npos * (npos + 1) / 2.0) / (npos * nneg);
}

/* ---- fit ------------------------------------------------------------------- */

/* Logistic regression of the rows (md_logit), L2_LAMBDA on the standardised weights. */
static int fit(const rows_t *r, md_pressure_model_t *m, int *iters, double *loglik,
               pw_err_t *err)
{
    const md_logit_opts_t o = {.lambda = L2_LAMBDA, .max_iter = IRLS_MAX_ITER, .tol = 1e-9};
    md_logit_result_t res;
    int rc = md_logit_fit(r->x, r->y, r->n, MD_PRESSURE_NF, &o, "pressure: fit", m->mean,
                          m->std, m->w, &res, err);
    if (rc)
        return rc;
    m->bias = res.bias;
    *iters = res.iters;
    *loglik = res.loglik;
    return 0;
}

/* The model's own part of the file (without training and fit). NULL on ENOMEM. */
static json_t *model_json(const md_pressure_model_t *mm)
{
    const md_pressure_model_t m = *mm;
    json_t *root;
    root = json_object();
    if (root == NULL)
        return NULL;
    json_t *feats = json_array();
    for (int k = 0; k < MD_PRESSURE_NF; k++) {
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(md_pressure_feature_names[k]));
        json_object_set_new(f, "desc", json_string(feature_desc[k]));
        json_object_set_new(f, "mean", json_real(m.mean[k]));
        json_object_set_new(f, "std", json_real(m.std[k]));
        json_object_set_new(f, "coef", json_real(m.w[k]));
        json_array_append_new(feats, f);
    }
    json_object_set_new(root, "model", json_string("pressure"));
    json_object_set_new(root, "format", json_integer(FORMAT_VERSION));
    json_object_set_new(root, "version", json_string(m.version));
    json_object_set_new(root, "horizon_s", json_real(MD_PRESSURE_HORIZON_S));
    json_object_set_new(root, "reach_yd", json_real(MD_PRESSURE_REACH_YD));
    json_object_set_new(root, "intercept", json_real(m.bias));
    json_object_set_new(root, "features", feats);
    json_t *alert = json_object();
    json_object_set_new(alert, "threshold", json_real(m.threshold));
    json_object_set_new(alert, "confirm_frames", json_integer(m.confirm));
    json_object_set_new(root, "alert", alert);
    return root;
}

int md_pressure_model_save(md_pressure_model_t *m, const char *path, pw_err_t *err)
{
    model_version(m);
    json_t *root = model_json(m);
    if (root == NULL)
        return pw_err_set(err, -ENOMEM, "pressure: out of memory");
    int rc = md_file_write(root, path, err);
    json_decref(root);
    return rc;
}

/* ---- train and eval -------------------------------------------------------- */

static double per10(size_t a, size_t b)
{
    return b ? 10.0 * (double)a / (double)b : 0.0;
}

static json_t *real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}


/* ---- cross-validation of the alert ------------------------------------------ */

/* Alert thresholds tried: CV_TH_LO, + CV_TH_STEP, ... CV_TH_HI; confirm 1..CV_CONFIRM_MAX. */
#define CV_TH_LO 0.10
#define CV_TH_STEP 0.05
#define CV_NTH 18
#define CV_CONFIRM_MAX 4
/*
 * Out-of-fold false alerts allowed per 10 clean drop-backs when choosing
 * the alert: the goal is <= 1; 0.75 keeps a margin for unseen plays.
 */
#define CV_FA_BUDGET 0.75

/* Copy the rows whose fold is not skip into dst (empty). 0 or -ENOMEM. */
static int rows_without(const rows_t *src, int skip, rows_t *dst)
{
    for (size_t i = 0; i < src->n; i++)
        if (src->fold[i] != skip &&
            rows_push(dst, src->x + i * MD_PRESSURE_NF, src->y[i], 0, src->fold[i]))
            return -ENOMEM;
    return 0;
}

/* When the alert (th, confirm) fires on a held-out play; 0 = never. */
static int64_t cv_alert_ns(const cv_play_t *c, double th, int confirm)
{
    int above = 0;
    for (size_t k = 0; k < c->n; k++) {
        above = c->pp[k] >= th ? above + 1 : 0;
        if (above >= confirm)
            return c->ts[k];
    }
    return 0;
}

/* One point of the cross-validated curve. */
typedef struct cv_point {
    double th;
    int confirm;
    double fa10;        /* false alerts per 10 clean drop-backs */
    double mean_lead_s; /* mean lead before the pressure onset, clamped to [-1, 2] */
    double share_1s;    /* pressure onsets alerted >= 1 s ahead */
    double share_05s;   /* ... >= 0.5 s ahead */
    size_t events;      /* pressure onsets (pressured drop-backs and sacks) */
} cv_point_t;

/*
 * Score (th, confirm) on the held-out plays: false alerts on clean
 * drop-backs, and the lead of the alert before the pressure onset (the
 * first frame a defender is within 1.5 yd of the QB, or the sack) on the
 * pressured ones; a missed onset counts as -1 s.
 */
static cv_point_t cv_score(const cv_set_t *cv, double th, int confirm)
{
    cv_point_t pt = {.th = th, .confirm = confirm};
    size_t clean = 0, fa = 0, n1 = 0, n05 = 0;
    double sum = 0;
    for (size_t k = 0; k < cv->n; k++) {
        const cv_play_t *c = &cv->play[k];
        if (!c->dropback)
            continue;
        int64_t a = cv_alert_ns(c, th, confirm);
        if (c->end != MD_PRESSURE_END_SACK && !c->pressured) {
            clean++;
            fa += a != 0;
            continue;
        }
        int64_t onset = c->pressured ? c->contact_ns : c->sack_ns;
        double lead = a ? (double)(onset - a) / NS_PER_S : -1.0;
        lead = clampd(lead, -1.0, 2.0);
        sum += lead;
        n1 += lead >= 1.0 - 1e-9;
        n05 += lead >= 0.5 - 1e-9;
        pt.events++;
    }
    pt.fa10 = per10(fa, clean);
    pt.mean_lead_s = pt.events ? sum / (double)pt.events : 0;
    pt.share_1s = pt.events ? (double)n1 / (double)pt.events : 0;
    pt.share_05s = pt.events ? (double)n05 / (double)pt.events : 0;
    return pt;
}

/*
 * Choose the alert by cross-validation over training games: fit on the
 * other folds, run the held-out fold's plays, and over the grid of
 * thresholds and confirm frames keep the earliest alert (largest mean lead)
 * whose out-of-fold false alerts stay within CV_FA_BUDGET. curve gets the
 * chosen confirm's points [CV_NTH]. 0 or an error.
 */
static int cross_validate(run_env_t *e, const char *const *paths, size_t n, const rows_t *rows,
                          cv_point_t *best, cv_point_t *curve, pw_err_t *err)
{
    cv_set_t cv = {0};
    rows_t sub = {0};
    tally_t t;
    int rc = 0;
    for (int k = 0; k < CV_FOLDS; k++) {
        md_pressure_model_t mk = {0};
        int iters;
        double ll;
        sub.n = 0;
        if ((rc = rows_without(rows, k, &sub)) != 0) {
            rc = pw_err_set(err, rc, "pressure: out of memory");
            goto done;
        }
        if ((rc = fit(&sub, &mk, &iters, &ll, err)) != 0)
            goto done;
        e->fold_only = k;
        e->cv = &cv;
        rc = run_files(e, paths, n, NULL, &mk, 1.0, NULL, &t, NULL, err);
        e->fold_only = -1;
        e->cv = NULL;
        if (rc)
            goto done;
    }
    bool found = false;
    for (int c = 1; c <= CV_CONFIRM_MAX; c++)
        for (int j = 0; j < CV_NTH; j++) {
            cv_point_t pt = cv_score(&cv, CV_TH_LO + CV_TH_STEP * j, c);
            if (pt.fa10 > CV_FA_BUDGET + 1e-9)
                continue;
            if (!found || pt.mean_lead_s > best->mean_lead_s + 1e-9 ||
                (fabs(pt.mean_lead_s - best->mean_lead_s) <= 1e-9 && pt.fa10 < best->fa10)) {
                *best = pt;
                found = true;
            }
        }
    if (!found) /* nothing within the budget: the strictest alert */
        *best = cv_score(&cv, CV_TH_LO + CV_TH_STEP * (CV_NTH - 1), CV_CONFIRM_MAX);
    for (int j = 0; j < CV_NTH; j++)
        curve[j] = cv_score(&cv, CV_TH_LO + CV_TH_STEP * j, best->confirm);
done:
    free(cv.play);
    rows_fini(&sub);
    return rc;
}

static int pressure_train(const char *const *paths, size_t n, const char *out_path,
                          FILE *report, pw_err_t *err)
{
    md_gsl_init();
    run_env_t e;
    int rc = env_init(&e, err);
    if (rc)
        return rc;
    rows_t rows = {0};
    json_t *files = json_array(), *root = NULL;
    tally_t t;
    md_pressure_model_t m = {0};
    rc = run_files(&e, paths, n, NULL, NULL, 1.0, &rows, &t, files, err);
    if (rc)
        goto done;
    size_t npos = 0;
    for (size_t i = 0; i < rows.n; i++)
        npos += rows.y[i];
    if (rows.n < 100 || npos < 10) {
        rc = pw_err_set(err, PW_EARG, "pressure: %zu training rows (%zu reaching the QB) "
                        "from %zu files: too few to fit", rows.n, npos, t.files);
        goto done;
    }
    int iters = 0;
    double ll = 0;
    rc = fit(&rows, &m, &iters, &ll, err);
    if (rc)
        goto done;
    for (size_t i = 0; i < rows.n; i++)
        rows.p[i] = md_pressure_predict(&m, rows.x + i * MD_PRESSURE_NF);
    double train_auc = auc(&rows);
    /* The alert threshold and confirm frames: cross-validated over training games. */
    cv_point_t best = {0}, curve[CV_NTH];
    rc = cross_validate(&e, paths, n, &rows, &best, curve, err);
    if (rc)
        goto done;
    m.threshold = best.th;
    m.confirm = best.confirm;
    tally_t tt = {0};
    rc = run_files(&e, paths, n, NULL, &m, m.threshold, NULL, &tt, NULL, err);
    if (rc)
        goto done;
    model_version(&m);

    root = model_json(&m);
    if (root == NULL) {
        rc = pw_err_set(err, -ENOMEM, "pressure: out of memory");
        goto done;
    }
    json_t *tr = json_object();
    json_object_set_new(tr, "split", json_string(md_split_train_desc()));
    json_object_set_new(tr, "files", files);
    files = NULL;
    json_object_set_new(tr, "plays", json_integer((json_int_t)t.plays));
    json_object_set_new(tr, "skipped_no_dropback", json_integer((json_int_t)t.skipped));
    json_object_set_new(tr, "frames", json_integer((json_int_t)t.frames));
    json_object_set_new(tr, "rows", json_integer((json_int_t)rows.n));
    json_object_set_new(tr, "positives", json_integer((json_int_t)npos));
    json_object_set_new(tr, "sacks", json_integer((json_int_t)t.sacks));
    json_object_set_new(tr, "clean_dropbacks", json_integer((json_int_t)t.clean));
    json_object_set_new(root, "training", tr);
    json_t *fs = json_object();
    json_object_set_new(fs, "method", json_string("logistic regression, IRLS with "
                                                  "gsl_multifit_wlinear, L2 on standardised "
                                                  "features"));
    json_object_set_new(fs, "l2_lambda", json_real(L2_LAMBDA));
    json_object_set_new(fs, "iterations", json_integer(iters));
    json_object_set_new(fs, "log_likelihood", json_real(ll));
    json_object_set_new(fs, "train_auc", real(train_auc));
    json_object_set_new(fs, "train_false_alerts_per_10_clean",
                        json_real(per10(tt.false_alerts, tt.clean)));
    json_object_set_new(fs, "train_sacks_alerted", json_integer((json_int_t)tt.sacks_alerted));
    json_t *cvj = json_object(), *cur = json_array();
    json_object_set_new(cvj, "folds", json_integer(CV_FOLDS));
    json_object_set_new(cvj, "fold_of_game", json_string("(gameId / 5) % 5"));
    json_object_set_new(cvj, "false_alert_budget_per_10_clean", json_real(CV_FA_BUDGET));
    json_object_set_new(cvj, "false_alerts_per_10_clean", json_real(best.fa10));
    json_object_set_new(cvj, "mean_onset_lead_s", json_real(best.mean_lead_s));
    json_object_set_new(cvj, "onsets_alerted_1s_ahead", json_real(best.share_1s));
    json_object_set_new(cvj, "onsets", json_integer((json_int_t)best.events));
    for (int j = 0; j < CV_NTH; j++) {
        json_t *pt = json_object();
        json_object_set_new(pt, "threshold", json_real(curve[j].th));
        json_object_set_new(pt, "false_alerts_per_10_clean", json_real(curve[j].fa10));
        json_object_set_new(pt, "mean_onset_lead_s", json_real(curve[j].mean_lead_s));
        json_object_set_new(pt, "onsets_alerted_0_5s_ahead", json_real(curve[j].share_05s));
        json_object_set_new(pt, "onsets_alerted_1s_ahead", json_real(curve[j].share_1s));
        json_array_append_new(cur, pt);
    }
    json_object_set_new(cvj, "curve", cur);
    json_object_set_new(fs, "cv", cvj);
    json_object_set_new(root, "fit", fs);
    if ((rc = md_file_write(root, out_path, err)) != 0)
        goto done;
    if (report)
        fprintf(report, "pressure: %zu files (train split), %zu plays, %zu skipped without a "
                "drop-back, %zu window frames, %zu defender rows (%zu reach the QB)\n"
                "fit: %d IRLS iterations, log-likelihood %.3f, train AUC %.4f\n"
                "alert threshold %.2f (%d frames): train false alerts %.2f per 10 clean "
                "drop-backs, sacks alerted %zu/%zu\nwrote %s (%s)\n",
                t.files, t.plays, t.skipped, t.frames, rows.n, npos, iters, ll, train_auc,
                m.threshold, m.confirm, per10(tt.false_alerts, tt.clean), tt.sacks_alerted,
                tt.sacks, out_path, m.version);
    if (report) {
        fprintf(report, "cross-validation (%d folds by game, confirm %d): threshold, false "
                "alerts per 10 clean, mean lead before the pressure onset (s), onsets "
                "alerted >= 0.5 s / >= 1 s ahead (of %zu)\n", CV_FOLDS, best.confirm,
                best.events);
        for (int j = 0; j < CV_NTH; j++)
            fprintf(report, "  %.2f  %5.2f  %5.2f  %4.0f%%  %4.0f%%%s\n", curve[j].th,
                    curve[j].fa10, curve[j].mean_lead_s, 100 * curve[j].share_05s,
                    100 * curve[j].share_1s, curve[j].th == best.th ? "  <- chosen" : "");
    }
done:
    json_decref(files);
    json_decref(root);
    rows_fini(&rows);
    env_fini(&e);
    return rc;
}

static int pressure_eval(const char *model_path, const char *const *paths, size_t n,
                         bool json, FILE *out, pw_err_t *err)
{
    md_pressure_model_t *m = md_pressure_model_load(model_path, err);
    if (m == NULL)
        return err->code ? err->code : PW_ECORRUPT;
    run_env_t e;
    int rc = env_init(&e, err);
    if (rc) {
        free(m);
        return rc;
    }
    rows_t rows = {0};
    tally_t t;
    md_split_seen_t seen;
    rc = md_split_seen_load(model_path, &seen, err);
    if (rc == 0)
        rc = run_files(&e, paths, n, &seen, m, m->threshold, &rows, &t, NULL, err);
    md_split_seen_fini(&seen);
    if (rc)
        goto done;
    if (t.files == 0) {
        rc = pw_err_set(err, PW_EARG, "pressure: no play file among the %zu given that the "
                        "model was not fitted on; PITWALL_SPLIT=all scores them in sample", n);
        goto done;
    }
    double a = auc(&rows);
    double lead = t.sacks ? t.min_lead_s : NAN;
    double fa = per10(t.false_alerts, t.clean);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string("pressure"));
        json_object_set_new(o, "version", json_string(m->version));
        json_object_set_new(o, "plays", json_integer((json_int_t)t.plays));
        json_object_set_new(o, "split", json_string(md_split_eval_desc()));
        json_object_set_new(o, "frames", json_integer((json_int_t)t.frames));
        json_object_set_new(o, "auc", real(a));
        json_object_set_new(o, "sacks", json_integer((json_int_t)t.sacks));
        json_object_set_new(o, "sacks_alerted", json_integer((json_int_t)t.sacks_alerted));
        json_object_set_new(o, "min_sack_lead_s", real(lead));
        json_object_set_new(o, "false_alerts_per_10_clean", json_real(fa));
        json_object_set_new(o, "clean_dropbacks", json_integer((json_int_t)t.clean));
        json_object_set_new(o, "false_alerts", json_integer((json_int_t)t.false_alerts));
        json_object_set_new(o, "skipped_no_dropback", json_integer((json_int_t)t.skipped));
        json_t *leads = json_array();
        for (size_t k = 0; k < t.sacks && k < 64; k++)
            json_array_append_new(leads, json_real(t.leads[k]));
        json_object_set_new(o, "sack_leads_s", leads);
        char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (s == NULL) {
            rc = pw_err_set(err, -ENOMEM, "pressure: out of memory");
            goto done;
        }
        fprintf(out, "%s\n", s);
        free(s);
    } else {
        fprintf(out, "pressure %s on %zu files, %s: %zu plays, %zu "
                "skipped without a drop-back, %zu window frames, %zu defender rows\n"
                "  AUC (1.5 s horizon, per defender per frame): %.4f\n"
                "  sacks: %zu, alerted %zu, smallest lead %.1f s\n"
                "  clean drop-backs: %zu, false alerts %zu (%.2f per 10)\n"
                "  pressured drop-backs (no sack): %zu, alerted %zu; handoffs %zu, alerted "
                "%zu\n",
                m->version, t.files, md_split_eval_desc(), t.plays, t.skipped, t.frames, rows.n, a, t.sacks,
                t.sacks_alerted, lead, t.clean, t.false_alerts, fa, t.pressured,
                t.pressured_alerted, t.handoffs, t.handoff_alerts);
    }
done:
    rows_fini(&rows);
    env_fini(&e);
    free(m);
    return rc;
}

const md_model_def_t md_pressure_def = {
    .name = "pressure",
    .desc = "pass-rush pressure alert: per defender, the probability of reaching the QB "
            "within 1.5 s (football tracking)",
    .default_out = "conf/models/pressure.json",
    .train = pressure_train,
    .eval = pressure_eval,
};
