#include "ingest/ing_simgame.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Roles by object index: offense (home) 0..10, defense (away) 11..21, ball 22. */
enum {
    QB = 0, RB = 1, OL0 = 2, /* OL0..OL0+4 */ TE = 7, WR0 = 8, /* WR0..WR0+2 */
    DL0 = 11, /* DL0..DL0+3 */ LB0 = 15, /* LB0..LB0+2 */ CB0 = 18, S0 = 20, BALL = 22,
};
#define NOBJ ING_SIMGAME_OBJECTS
#define DT 0.1
#define MID_Y 26.65
#define PI 3.14159265358979

static const char *const role_names[NOBJ] = {
    "sim/home/qb", "sim/home/rb", "sim/home/lt", "sim/home/lg", "sim/home/c",
    "sim/home/rg", "sim/home/rt", "sim/home/te", "sim/home/wr1", "sim/home/wr2",
    "sim/home/wr3", "sim/away/de1", "sim/away/dt1", "sim/away/dt2", "sim/away/de2",
    "sim/away/lb1", "sim/away/lb2", "sim/away/lb3", "sim/away/cb1", "sim/away/cb2",
    "sim/away/s1", "sim/away/s2", "ball",
};

/* Formation spots relative to the line of scrimmage (dx, y). */
static const double formation[NOBJ][2] = {
    {-5, MID_Y}, {-7, MID_Y}, {-1, MID_Y - 3}, {-1, MID_Y - 1.5}, {-1, MID_Y},
    {-1, MID_Y + 1.5}, {-1, MID_Y + 3}, {-1, MID_Y + 5}, {-1, 6}, {-1, 47}, {-1.5, 12},
    {1, MID_Y - 4}, {1, MID_Y - 1}, {1, MID_Y + 1}, {1, MID_Y + 4},
    {5, MID_Y - 7}, {5, MID_Y}, {5, MID_Y + 7}, {7, 6}, {7, 47}, {14, 18}, {14, 35},
    {0, MID_Y},
};

enum label { L_SNAP, L_PASS, L_ARRIVED, L_CAUGHT, L_INCOMPLETE, L_HANDOFF, L_CONTACT,
             L_TACKLE, L_SACK, L_OUT, NLABELS };
static const char *const label_names[NLABELS] = {
    "ball_snap", "pass_forward", "pass_arrived", "pass_outcome_caught",
    "pass_outcome_incomplete", "handoff", "first_contact", "tackle", "qb_sack",
    "out_of_bounds",
};

enum phase { PRESNAP, LIVE, DEAD };

/* carrier values beyond object indices. */
enum { IN_AIR = -1, SNAP = -2 };

typedef struct obj {
    double x, y, vx, vy, o;
} obj_t;

struct ing_simgame {
    ing_simgame_opts_t opts;
    uint32_t entity[NOBJ];
    uint32_t label[NLABELS];
    obj_t ob[NOBJ];
    uint64_t frame, rng;
    int phase;
    double t;           /* seconds into the phase */
    double los;         /* line of scrimmage, x */
    int pass;           /* this play is a pass */
    double throw_t;     /* pass: seconds after the snap the QB throws */
    double win[4];      /* each rusher's speed while blocked, yd/s */
    int target;         /* pass: receiver index */
    int carrier;        /* who has the ball, or -1 in the air / loose */
    double bx, by;      /* pass: where the ball is going */
    double contact_t;   /* time of first contact, or -1 */
    uint32_t pending[2]; /* labels for the frame being built */
    ing_simgame_stats_t st;
};

static double unit(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static void flag(ing_simgame_t *g, enum label l)
{
    if (g->pending[0] == PW_LABEL_NONE)
        g->pending[0] = g->label[l];
    else if (g->pending[1] == PW_LABEL_NONE)
        g->pending[1] = g->label[l];
}

/* Move object i toward (tx, ty) at most vmax yd/s, with bounded acceleration. */
static void steer(obj_t *o, double tx, double ty, double vmax)
{
    double dx = tx - o->x, dy = ty - o->y, d = hypot(dx, dy);
    double want_vx = 0, want_vy = 0;
    if (d > 0.05) {
        /* Slow down in time to stop on the spot (8 yd/s^2 of braking), so
         * a ball or player set on its mark comes to rest, not orbits it. */
        double v = fmin(vmax, fmin(d / DT, sqrt(2.0 * 8.0 * d)));
        want_vx = dx / d * v;
        want_vy = dy / d * v;
    }
    /* 8 yd/s^2: players cannot turn or stop at once. */
    double ax = (want_vx - o->vx) / DT, ay = (want_vy - o->vy) / DT, a = hypot(ax, ay);
    if (a > 8.0) {
        ax *= 8.0 / a;
        ay *= 8.0 / a;
    }
    o->vx += ax * DT;
    o->vy += ay * DT;
}

static double dist(const obj_t *a, const obj_t *b)
{
    return hypot(a->x - b->x, a->y - b->y);
}

static void start_play(ing_simgame_t *g)
{
    g->phase = PRESNAP;
    g->t = 0;
    g->pass = unit(&g->rng) < g->opts.pass_rate;
    g->throw_t = 2.4 + 1.2 * unit(&g->rng);
    for (int r = 0; r < 4; r++) {
        double u = unit(&g->rng);
        g->win[r] = 0.5 + 2.4 * pow(u, 6); /* most blocks hold; a few are beaten */
    }
    g->target = WR0 + (int)(unit(&g->rng) * 3) % 3;
    g->carrier = SNAP;
    g->contact_t = -1;
}

static void end_play(ing_simgame_t *g)
{
    g->phase = DEAD;
    g->t = 0;
    g->st.plays++;
    double x = g->ob[BALL].x;
    g->los = x < 15 || x > 95 ? 25 : x;
}

/* One frame of a live play at time g->t after the snap. */
static void live_step(ing_simgame_t *g)
{
    obj_t *ob = g->ob, *qb = &ob[QB];
    double t = g->t;
    int thrown = g->pass && t >= g->throw_t;
    /* Quarterback: drop back, then set. */
    if (!thrown || g->carrier == QB)
        steer(qb, g->los - 7, MID_Y, t < 1.4 ? 5.5 : 1.0);
    /* Rushers: at the quarterback; slowed to their win rate while blocked. */
    for (int r = 0; r < 4; r++) {
        obj_t *d = &ob[DL0 + r], *b = &ob[OL0 + (r < 2 ? r : r + 1)];
        int blocked = dist(d, b) < 1.4 && t > 0.3;
        const obj_t *goal = g->carrier >= 0 ? &ob[g->carrier] : &ob[BALL];
        steer(d, goal->x, goal->y, blocked ? g->win[r] : 7.0);
        /* The blocker stays between his rusher and the quarterback. */
        double dx = qb->x - d->x, dy = qb->y - d->y, n = hypot(dx, dy) + 1e-9;
        steer(b, d->x + dx / n * 1.0, d->y + dy / n * 1.0, 4.5);
        if (g->pass && !thrown && g->carrier == QB && dist(d, qb) < 1.0) {
            flag(g, L_SACK);
            g->st.sacks++;
            end_play(g);
            return;
        }
    }
    steer(&ob[OL0 + 2], qb->x + 2.5, qb->y, 3.0); /* the centre guards the middle */
    /* Receivers: routes downfield, then break. */
    for (int w = WR0; w < WR0 + 3; w++) {
        double depth = g->los + 12 + 2 * (w - WR0);
        double ty = ob[w].x < depth ? ob[w].y : (ob[w].y < MID_Y ? ob[w].y + 8 : ob[w].y - 8);
        if (w != g->carrier)
            steer(&ob[w], ob[w].x < depth ? depth + 3 : ob[w].x + 2, ty, 8.0);
    }
    steer(&ob[TE], g->los + 6, MID_Y + 8, 6.0);
    steer(&ob[RB], g->pass ? qb->x : g->los + 30, g->pass ? qb->y - 1.5 : MID_Y - 3,
          g->pass ? 3.0 : 7.0);
    /* Coverage: linebackers drop, backs shadow the receivers. */
    int ball_live = g->carrier >= 0 && g->carrier != QB;
    for (int d = LB0; d < BALL; d++) {
        if (ball_live || (g->pass && thrown)) {
            const obj_t *goal = g->carrier >= 0 ? &ob[g->carrier] : &ob[BALL];
            steer(&ob[d], goal->x, goal->y, 7.0);
            continue;
        }
        int mark = d < CB0 ? -1 : d < S0 ? WR0 + (d - CB0) : WR0 + 2;
        if (mark < 0)
            steer(&ob[d], g->los + 8, ob[d].y, 4.0);
        else
            steer(&ob[d], ob[mark].x + 1.5, ob[mark].y, 7.5);
    }
    /* The ball: with its carrier, or in the air. */
    if (!g->pass && g->carrier == QB && t >= 0.6) {
        g->carrier = RB;
        flag(g, L_HANDOFF);
    }
    if (g->pass && g->carrier == QB && t >= g->throw_t) {
        g->carrier = -1;
        g->bx = ob[g->target].x + ob[g->target].vx * 1.0;
        g->by = ob[g->target].y + ob[g->target].vy * 1.0;
        flag(g, L_PASS);
    }
    obj_t *ball = &ob[BALL];
    if (g->carrier == SNAP) {
        /* The snap: from the centre back to the quarterback. */
        double dx = qb->x - ball->x, dy = qb->y - ball->y, d = hypot(dx, dy);
        if (d < 1.2)
            g->carrier = QB;
        ball->vx = d > 0 ? dx / d * 15.0 : 0;
        ball->vy = d > 0 ? dy / d * 15.0 : 0;
    } else if (g->carrier >= 0) {
        ball->x = ob[g->carrier].x;
        ball->y = ob[g->carrier].y;
        ball->vx = ob[g->carrier].vx;
        ball->vy = ob[g->carrier].vy;
    } else {
        double dx = g->bx - ball->x, dy = g->by - ball->y, d = hypot(dx, dy);
        if (d < 1.9) {
            flag(g, L_ARRIVED);
            if (unit(&g->rng) < 0.68) {
                g->carrier = g->target;
                g->st.completions++;
                flag(g, L_CAUGHT);
            } else {
                flag(g, L_INCOMPLETE);
                end_play(g);
                return;
            }
        } else {
            ball->vx = dx / d * 19.0;
            ball->vy = dy / d * 19.0;
        }
    }
    /* Contact and tackle of a ball carrier past the quarterback. */
    if (g->carrier >= 0 && g->carrier != QB) {
        for (int d = DL0; d < BALL; d++) {
            if (dist(&ob[d], &ob[g->carrier]) < 1.0 && g->contact_t < 0) {
                g->contact_t = t;
                flag(g, L_CONTACT);
            }
        }
        if (g->contact_t >= 0 && t - g->contact_t >= 0.4) {
            flag(g, L_TACKLE);
            end_play(g);
            return;
        }
        double y = ob[g->carrier].y;
        if (y < 0.3 || y > 53.0) {
            flag(g, L_OUT);
            end_play(g);
            return;
        }
    }
    if (t > 12.0) { /* nobody caught him: the whistle, at last */
        flag(g, L_TACKLE);
        end_play(g);
    }
}

static void step(ing_simgame_t *g)
{
    obj_t *ob = g->ob;
    g->pending[0] = g->pending[1] = PW_LABEL_NONE;
    if (g->phase == PRESNAP) {
        /* Back to the huddle and the line: the snap comes once everyone is
         * set (at least 8 s, at most 30 s, as the play clock allows). */
        double off = 0;
        for (int i = 0; i < NOBJ; i++) {
            double tx = g->los + formation[i][0], ty = formation[i][1];
            steer(&ob[i], tx, ty, i == BALL ? 12.0 : 6.0);
            off = fmax(off, hypot(ob[i].x - tx, ob[i].y - ty));
        }
        if ((g->t >= 8.0 && off < 0.3) || g->t >= 30.0) {
            g->phase = LIVE;
            g->t = 0;
            g->st.passes += g->pass;
            g->st.runs += !g->pass;
            flag(g, L_SNAP);
        }
    } else if (g->phase == LIVE) {
        live_step(g);
    } else {
        for (int i = 0; i < NOBJ; i++)
            steer(&ob[i], ob[i].x, ob[i].y, 0.0);
        if (g->t >= 2.0)
            start_play(g);
    }
    for (int i = 0; i < NOBJ; i++) {
        ob[i].x = fmin(120, fmax(0, ob[i].x + ob[i].vx * DT));
        ob[i].y = fmin(53.3, fmax(0, ob[i].y + ob[i].vy * DT));
    }
    g->t += DT;
}

int ing_simgame_create(const ing_simgame_opts_t *o, pw_intern_t *entities,
                       pw_intern_t *labels, ing_simgame_t **out, pw_err_t *err)
{
    if (o->pass_rate < 0 || o->pass_rate > 1)
        return pw_err_set(err, PW_EARG, "sim game: pass_rate must be 0..1, got %g",
                          o->pass_rate);
    ing_simgame_t *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->opts = *o;
    if (g->opts.pass_rate == 0)
        g->opts.pass_rate = 0.65;
    g->rng = o->seed ? o->seed : 0x2545F4914F6CDD1DULL;
    int rc = 0;
    for (int i = 0; i < NOBJ && rc == 0; i++)
        rc = pw_intern_add(entities, role_names[i], strlen(role_names[i]), &g->entity[i]);
    for (int l = 0; l < NLABELS && rc == 0; l++)
        rc = pw_intern_add(labels, label_names[l], strlen(label_names[l]), &g->label[l]);
    if (rc) {
        free(g);
        return pw_err_set(err, rc, "sim game: cannot name players and events: %s",
                          pw_strerror(rc));
    }
    g->los = 25;
    for (int i = 0; i < NOBJ; i++) {
        g->ob[i].x = g->los + formation[i][0];
        g->ob[i].y = formation[i][1];
        g->ob[i].o = i < DL0 ? 90 : 270;
    }
    start_play(g);
    *out = g;
    return 0;
}

int64_t ing_simgame_next_ts(const ing_simgame_t *g)
{
    return g->opts.start_ns + (int64_t)g->frame * ING_SIMGAME_PERIOD_NS;
}

long ing_simgame_next(ing_simgame_t *g, int64_t until_ns, size_t max_frames, pw_frames_t *out)
{
    long n = 0;
    pw_object_t objs[NOBJ];
    while ((size_t)n < max_frames && ing_simgame_next_ts(g) < until_ns) {
        step(g);
        for (int i = 0; i < NOBJ; i++) {
            obj_t *o = &g->ob[i];
            double s = hypot(o->vx, o->vy);
            /* Directions clockwise from +y, as NGS reports them. */
            double dir = fmod(atan2(o->vx, o->vy) * 180.0 / PI + 360.0, 360.0);
            if (s > 0.5 && i != BALL)
                o->o = dir;
            objs[i] = (pw_object_t){
                .entity = g->entity[i],
                .team = i == BALL ? PW_TEAM_BALL : i < DL0 ? PW_TEAM_HOME : PW_TEAM_AWAY,
                .x = (float)o->x, .y = (float)o->y, .speed = (float)s,
                .orientation = i == BALL ? NAN : (float)o->o,
                .direction = s > 0.01 ? (float)dir : NAN,
            };
        }
        if (pw_frames_push(out, ing_simgame_next_ts(g), g->opts.session, g->pending, objs, NOBJ))
            return -ENOMEM;
        g->frame++;
        n++;
    }
    return n;
}

void ing_simgame_stats(const ing_simgame_t *g, ing_simgame_stats_t *st)
{
    *st = g->st;
}

void ing_simgame_destroy(ing_simgame_t *g)
{
    free(g);
}
