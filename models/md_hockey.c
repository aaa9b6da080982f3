/*
 * md_hockey: per-frame path, features, peak picking, fit, model file, train
 * and eval of the hockey event classifier. See md_hockey.h and
 * docs/models-hockey.md.
 */
#include "models/md_hockey.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ingest/ing_format.h"
#include "models/md_file.h"
#include "models/md_split.h"
#include "models/md_logit.h"

#define NS_PER_S 1e9
#define FORMAT_VERSION 1
#define L2_LAMBDA 1.0
#define IRLS_MAX_ITER 50
#define MAX_FILE_BYTES ((size_t)64 << 20)
#define NT MD_HOCKEY_NT
#define NF MD_HOCKEY_NF
#define L MD_HOCKEY_LOOKAHEAD
#define RMASK (MD_HOCKEY_RING - 1)
/* Frames back a player's previous position may be for a velocity. */
#define VEL_BACK 5
/* Longest time between two frames of one velocity (a cut lies between), ns. */
#define VEL_GAP_NS INT64_C(250000000)
/* Faster than this is a tracking glitch (track swap), ft/s. */
#define MAX_SPEED_FTPS 60.0f
/* Training target: a label of the type within this many ns of the frame. */
#define TARGET_NS INT64_C(500000000)
/* Players nearer the net than this are taken for the goalie, ft. */
#define GOALIE_FT 6.0
/* Frames before and after a frame for speed changes. */
#define DV_FRAMES 5
/* Frames per second of the tracking (for offsets and time features). */
#define FPS 30

const char *const md_hockey_type_names[NT] = {"zone_entry", "shot"};
const char *const md_hockey_type_labels[NT] = {"Zone Entry", "Shot"};

const char *const md_hockey_feature_names[NT][NF] = {
    {"cross_speed", "team_in_zone_after", "team_in_zone_before", "opp_in_zone",
     "mates_crossing", "opp_crossing", "depth_after", "team_vx", "recent_crossings",
     "players_visible"},
    {"zone_players", "near_net_ft", "mean_net_ft", "mean_net_change", "zone_speed",
     "zone_speed_change", "zone_max_speed", "near_net_count", "players_visible",
     "zone_time_s"},
};

static const char *const feature_desc[NT][NF] = {
    {"speed toward the zone of the fastest player crossing a blue line (x = 75 or 125 ft) "
     "from the neutral zone into an end zone at frame c, ft/s, in [0, 40]; the gate: the "
     "type is scored only on such frames",
     "players of the crosser's team in that zone at c+15, capped at 5",
     "players of the crosser's team in that zone at c-15, capped at 5",
     "players of the other team in that zone at c, capped at 5",
     "other crossings into that zone by the crosser's team in c-15..c+15, capped at 4",
     "crossings into that zone by the other team in c-15..c+15, capped at 4",
     "the crosser's distance past the blue line at c+15, ft, in [-20, 40] (0 when out of "
     "view)",
     "mean velocity toward the zone of the crosser's team at c, ft/s, in [-30, 30]",
     "crossings into that zone by anyone in c-90..c-16, capped at 10",
     "players in view at c, capped at 12"},
    {"players in the end zone that holds more players at c (the zone; gate: at least 2), "
     "capped at 10",
     "distance from that zone's net (x = 11 or 189 ft, y = 42.5 ft) to the nearest player "
     "not in the crease (>= 6 ft), ft, capped at 80",
     "mean distance of the zone's players to the net at c, ft, capped at 100",
     "mean_net_ft at c+15 minus at c-15",
     "mean speed of the zone's players at c, ft/s, capped at 40",
     "zone_speed at c+5 minus at c-5",
     "highest speed of a zone player at c, ft/s, capped at 40",
     "players within 25 ft of the net at c, capped at 6",
     "players in view at c, capped at 12",
     "time the zone has held at least 2 players up to c, s, capped at 3"},
};

/* ---- labels and split ------------------------------------------------------ */

int md_hockey_labels_resolve(pw_intern_t *labels, bool add, md_hockey_labels_t *out)
{
    memset(out, 0, sizeof *out);
    for (int t = 0; t < NT; t++) {
        const char *name = md_hockey_type_labels[t];
        uint32_t id = 0;
        int rc = add ? pw_intern_add(labels, name, strlen(name), &id)
                     : pw_intern_find(labels, name, strlen(name), &id);
        if (rc && (add || rc != PW_ENOTFOUND))
            return rc;
        out->id[t] = rc ? 0 : id;
    }
    return 0;
}

int md_hockey_is_validation(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return !strncmp(base, MD_HOCKEY_VALIDATION_GAME, strlen(MD_HOCKEY_VALIDATION_GAME));
}

/* ---- per-frame path --------------------------------------------------------- */

void md_hockey_game_init(md_hockey_game_t *g, uint64_t session)
{
    memset(g, 0, sizeof *g);
    g->session = session;
    g->last_ns = INT64_MIN;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Frame j of the ring (j within the frames kept). */
static const md_hockey_frame_t *rf(const md_hockey_game_t *g, uint64_t j)
{
    return &g->ring[j & RMASK];
}

/* Frame c+k, clamped to the frames pushed and kept. */
static const md_hockey_frame_t *at(const md_hockey_game_t *g, uint64_t c, int k)
{
    int64_t j = (int64_t)c + k;
    int64_t lo = (int64_t)g->n > MD_HOCKEY_RING ? (int64_t)g->n - MD_HOCKEY_RING : 0;
    if (j < lo)
        j = lo;
    if (j > (int64_t)g->n - 1)
        j = (int64_t)g->n - 1;
    return rf(g, (uint64_t)j);
}

static int find_ent(const md_hockey_frame_t *fr, uint32_t e)
{
    for (int k = 0; k < fr->n; k++)
        if (fr->ent[k] == e)
            return k;
    return -1;
}

/*
 * Copy frame i of f into the ring as frame g->n, with each player's
 * velocity from her position in one of the VEL_BACK frames before (no
 * velocity across a cut or a glitch) and her blue-line crossing.
 */
static void take_frame(md_hockey_game_t *g, const pw_frames_t *f, size_t i)
{
    md_hockey_frame_t *fr = &g->ring[g->n & RMASK];
    fr->ts_ns = f->ts_ns[i];
    fr->n = 0;
    fr->degraded = false;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        fr->label[l] = f->label[i * PW_FRAME_LABELS + l];
    size_t o0 = f->first[i], o1 = o0 + f->nobj[i];
    for (size_t o = o0; o < o1; o++) {
        if (f->team[o] == PW_TEAM_BALL)
            continue; /* a puck, were one tracked, is not a player */
        if (!isfinite(f->x[o]) || !isfinite(f->y[o]) || fabsf(f->x[o]) > 1000.0f ||
            fabsf(f->y[o]) > 1000.0f || fr->n == MD_HOCKEY_MAXP) {
            fr->degraded = true;
            continue;
        }
        int k = fr->n++;
        fr->ent[k] = f->entity[o];
        fr->team[k] = f->team[o];
        fr->x[k] = f->x[o];
        fr->y[k] = f->y[o];
    }
    if (g->n > 0 && fr->ts_ns - rf(g, g->n - 1)->ts_ns > VEL_GAP_NS)
        fr->degraded = true;
}

/* Velocity of player k of frame j (NaN when unknown), ft/s. */
static void velocity(const md_hockey_game_t *g, uint64_t j, int k, float *vx, float *vy)
{
    const md_hockey_frame_t *fr = rf(g, j);
    *vx = *vy = NAN;
    uint64_t lo = g->n > MD_HOCKEY_RING ? g->n - MD_HOCKEY_RING : 0;
    for (int b = 1; b <= VEL_BACK && j >= lo + (uint64_t)b; b++) {
        const md_hockey_frame_t *pf = rf(g, j - (uint64_t)b);
        int64_t dt = fr->ts_ns - pf->ts_ns;
        if (dt <= 0 || dt > VEL_GAP_NS)
            return;
        int q = find_ent(pf, fr->ent[k]);
        if (q < 0)
            continue;
        float s = (float)(NS_PER_S / (double)dt);
        float ux = (fr->x[k] - pf->x[q]) * s, uy = (fr->y[k] - pf->y[q]) * s;
        if (hypotf(ux, uy) <= MAX_SPEED_FTPS) {
            *vx = ux;
            *vy = uy;
        }
        return;
    }
}

/* The zone (+1 beyond x = 125, -1 before x = 75, 0 neutral) of x. */
static int zone_of(float x)
{
    return x >= MD_HOCKEY_BLUE_HI ? 1 : x <= MD_HOCKEY_BLUE_LO ? -1 : 0;
}

/*
 * Whether player k of frame j has just crossed a blue line into an end
 * zone: +1 or -1 (the zone), 0 if not. *v gets her speed toward the zone.
 */
static int crossing(const md_hockey_game_t *g, uint64_t j, int k, float *v)
{
    const md_hockey_frame_t *fr = rf(g, j);
    int z = zone_of(fr->x[k]);
    *v = 0;
    if (z == 0)
        return 0;
    uint64_t lo = g->n > MD_HOCKEY_RING ? g->n - MD_HOCKEY_RING : 0;
    for (int b = 1; b <= VEL_BACK && j >= lo + (uint64_t)b; b++) {
        const md_hockey_frame_t *pf = rf(g, j - (uint64_t)b);
        int64_t dt = fr->ts_ns - pf->ts_ns;
        if (dt <= 0 || dt > VEL_GAP_NS)
            return 0;
        int q = find_ent(pf, fr->ent[k]);
        if (q < 0)
            continue;
        if (zone_of(pf->x[q]) != 0)
            return 0;
        float s = (fr->x[k] - pf->x[q]) * (float)z * (float)(NS_PER_S / (double)dt);
        if (s <= 0 || s > MAX_SPEED_FTPS)
            return 0;
        *v = s;
        return z;
    }
    return 0;
}

static bool in_zone(float x, int z)
{
    return z > 0 ? x >= MD_HOCKEY_BLUE_HI : x <= MD_HOCKEY_BLUE_LO;
}

/* Players of team tm (same: tm's, else the others') in zone z at frame fr. */
static int count_zone(const md_hockey_frame_t *fr, int z, uint8_t tm, bool same)
{
    int n = 0;
    for (int k = 0; k < fr->n; k++)
        if (in_zone(fr->x[k], z) && ((fr->team[k] == tm) == same))
            n++;
    return n;
}

/* Crossings into zone z in frames [a, b] (clamped) by team tm (same or
 * not), not counting entity skip. */
static int count_cross(const md_hockey_game_t *g, int64_t a, int64_t b, int z, uint8_t tm,
                       bool same, bool any_team, uint32_t skip)
{
    int64_t lo = (int64_t)g->n > MD_HOCKEY_RING ? (int64_t)g->n - MD_HOCKEY_RING : 0;
    if (a < lo + VEL_BACK)
        a = lo + VEL_BACK;
    if (b > (int64_t)g->n - 1)
        b = (int64_t)g->n - 1;
    int n = 0;
    for (int64_t j = a; j <= b; j++) {
        const md_hockey_frame_t *fr = rf(g, (uint64_t)j);
        for (int k = 0; k < fr->n; k++) {
            if (fr->ent[k] == skip || (!any_team && (fr->team[k] == tm) != same))
                continue;
            float v;
            if (crossing(g, (uint64_t)j, k, &v) == z)
                n++;
        }
    }
    return n;
}

static double net_dist(float x, float y, int z)
{
    double nx = z > 0 ? MD_HOCKEY_NET_HI : MD_HOCKEY_NET_LO;
    return hypot((double)x - nx, (double)y - MD_HOCKEY_MID_Y);
}

/* Mean distance to the net and mean speed of zone z's players at frame j. */
static void zone_stats(const md_hockey_game_t *g, uint64_t j, int z, double *dist,
                       double *speed)
{
    const md_hockey_frame_t *fr = rf(g, j);
    double sd = 0, ss = 0;
    int nd = 0, ns = 0;
    for (int k = 0; k < fr->n; k++) {
        if (!in_zone(fr->x[k], z))
            continue;
        sd += net_dist(fr->x[k], fr->y[k], z);
        nd++;
        float vx, vy;
        velocity(g, j, k, &vx, &vy);
        if (isfinite(vx)) {
            ss += hypot(vx, vy);
            ns++;
        }
    }
    *dist = nd ? sd / nd : 100.0;
    *speed = ns ? ss / ns : 0.0;
}

/* The frame index c+k clamped to the frames kept. */
static uint64_t idx(const md_hockey_game_t *g, uint64_t c, int k)
{
    int64_t j = (int64_t)c + k;
    int64_t lo = (int64_t)g->n > MD_HOCKEY_RING ? (int64_t)g->n - MD_HOCKEY_RING : 0;
    if (j < lo)
        j = lo;
    if (j > (int64_t)g->n - 1)
        j = (int64_t)g->n - 1;
    return (uint64_t)j;
}

/* What the features found, for the event's players and importance. */
typedef struct found {
    int zone[NT];
    uint32_t players[NT][MD_HOCKEY_PLAYERS];
    int nplayers[NT];
    double near_net;
} found_t;

static void features_found(const md_hockey_game_t *g, uint64_t c, double x[NT][NF],
                           bool gate[NT], found_t *fd)
{
    const md_hockey_frame_t *f0 = at(g, c, 0), *fa = at(g, c, L), *fb = at(g, c, -L);
    memset(x, 0, sizeof(double) * NT * NF);
    memset(fd, 0, sizeof *fd);
    double vis = clampd(f0->n, 0, 12);
    /* Zone entry: the fastest crossing at c. */
    int best = -1, bz = 0;
    float bv = 0;
    for (int k = 0; k < f0->n; k++) {
        float v;
        int z = crossing(g, c, k, &v);
        if (z && v > bv) {
            best = k;
            bz = z;
            bv = v;
        }
    }
    gate[MD_HK_ZONE_ENTRY] = best >= 0;
    if (best >= 0) {
        double *e = x[MD_HK_ZONE_ENTRY];
        uint8_t tm = f0->team[best];
        uint32_t who = f0->ent[best];
        e[0] = clampd(bv, 0, 40);
        e[1] = clampd(count_zone(fa, bz, tm, true), 0, 5);
        e[2] = clampd(count_zone(fb, bz, tm, true), 0, 5);
        e[3] = clampd(count_zone(f0, bz, tm, false), 0, 5);
        e[4] = clampd(count_cross(g, (int64_t)c - L, (int64_t)c + L, bz, tm, true, false, who),
                      0, 4);
        e[5] = clampd(count_cross(g, (int64_t)c - L, (int64_t)c + L, bz, tm, false, false, 0),
                      0, 4);
        int q = find_ent(fa, who);
        float blue = bz > 0 ? MD_HOCKEY_BLUE_HI : MD_HOCKEY_BLUE_LO;
        e[6] = q >= 0 ? clampd((fa->x[q] - blue) * (float)bz, -20, 40) : 0.0;
        double sv = 0;
        int nv = 0;
        for (int k = 0; k < f0->n; k++) {
            if (f0->team[k] != tm)
                continue;
            float vx, vy;
            velocity(g, c, k, &vx, &vy);
            if (isfinite(vx)) {
                sv += vx * (float)bz;
                nv++;
            }
        }
        e[7] = nv ? clampd(sv / nv, -30, 30) : 0.0;
        e[8] = clampd(count_cross(g, (int64_t)c - MD_HOCKEY_LOOKBACK, (int64_t)c - L - 1, bz, 0,
                                  true, true, 0),
                      0, 10);
        e[9] = vis;
        fd->zone[MD_HK_ZONE_ENTRY] = bz;
        fd->players[MD_HK_ZONE_ENTRY][0] = who;
        fd->nplayers[MD_HK_ZONE_ENTRY] = 1;
        /* The teammate nearest her. */
        double dn = 1e9;
        for (int k = 0; k < f0->n; k++)
            if (k != best && f0->team[k] == tm) {
                double d = hypot(f0->x[k] - f0->x[best], f0->y[k] - f0->y[best]);
                if (d < dn) {
                    dn = d;
                    fd->players[MD_HK_ZONE_ENTRY][1] = f0->ent[k];
                }
            }
        if (dn < 1e9)
            fd->nplayers[MD_HK_ZONE_ENTRY] = 2;
    }
    /* Shot: the end zone with more players. */
    int nr = 0, nl = 0;
    for (int k = 0; k < f0->n; k++) {
        int z = zone_of(f0->x[k]);
        nr += z > 0;
        nl += z < 0;
    }
    int sz = nr >= nl ? 1 : -1;
    int nz = sz > 0 ? nr : nl;
    gate[MD_HK_SHOT] = nz >= 2;
    if (nz >= 2) {
        double *s = x[MD_HK_SHOT];
        s[0] = clampd(nz, 0, 10);
        double near = 80, d1 = 1e9, d2 = 1e9, vmax = 0;
        int near25 = 0;
        for (int k = 0; k < f0->n; k++) {
            if (!in_zone(f0->x[k], sz))
                continue;
            double d = net_dist(f0->x[k], f0->y[k], sz);
            near25 += d <= 25.0;
            float vx, vy;
            velocity(g, c, k, &vx, &vy);
            if (isfinite(vx) && hypot(vx, vy) > vmax)
                vmax = hypot(vx, vy);
            if (d < GOALIE_FT)
                continue;
            if (d < near)
                near = d;
            if (d < d1) {
                d2 = d1;
                fd->players[MD_HK_SHOT][1] = fd->players[MD_HK_SHOT][0];
                d1 = d;
                fd->players[MD_HK_SHOT][0] = f0->ent[k];
            } else if (d < d2) {
                d2 = d;
                fd->players[MD_HK_SHOT][1] = f0->ent[k];
            }
        }
        fd->nplayers[MD_HK_SHOT] = d2 < 1e9 ? 2 : d1 < 1e9 ? 1 : 0;
        fd->near_net = near;
        fd->zone[MD_HK_SHOT] = sz;
        double dist0, sp0, dista, spa, distb, spb;
        zone_stats(g, c, sz, &dist0, &sp0);
        zone_stats(g, idx(g, c, L), sz, &dista, &spa);
        zone_stats(g, idx(g, c, -L), sz, &distb, &spb);
        double spp, spm, dd;
        zone_stats(g, idx(g, c, DV_FRAMES), sz, &dd, &spp);
        zone_stats(g, idx(g, c, -DV_FRAMES), sz, &dd, &spm);
        s[1] = near;
        s[2] = clampd(dist0, 0, 100);
        s[3] = clampd(dista, 0, 100) - clampd(distb, 0, 100);
        s[4] = clampd(sp0, 0, 40);
        s[5] = clampd(spp, 0, 40) - clampd(spm, 0, 40);
        s[6] = clampd(vmax, 0, 40);
        s[7] = clampd(near25, 0, 6);
        s[8] = vis;
        int back = 0;
        uint64_t lo = g->n > MD_HOCKEY_RING ? g->n - MD_HOCKEY_RING : 0;
        while (back < MD_HOCKEY_LOOKBACK && c >= lo + (uint64_t)back + 1) {
            const md_hockey_frame_t *pf = rf(g, c - (uint64_t)back - 1);
            int m = 0;
            for (int k = 0; k < pf->n; k++)
                m += in_zone(pf->x[k], sz);
            if (m < 2)
                break;
            back++;
        }
        s[9] = (double)back / FPS;
    }
}

void md_hockey_features(const md_hockey_game_t *g, uint64_t c, double feat[NT][NF],
                        bool gate[NT])
{
    found_t fd;
    if (g->n == 0 || c >= g->n) {
        memset(feat, 0, sizeof(double) * NT * NF);
        memset(gate, 0, sizeof(bool) * NT);
        return;
    }
    features_found(g, c, feat, gate, &fd);
}

double md_hockey_predict(const md_hockey_model_t *m, int t, const double *feat)
{
    double eta = m->bias[t];
    for (int k = 0; k < NF; k++)
        eta += m->w[t][k] * (feat[k] - m->mean[t][k]) / m->std[t][k];
    return 1.0 / (1.0 + exp(-eta));
}

/*
 * One frame's step of a type's peak picking (shared by the live path and
 * the training replay). Returns a bit set: 1 = the frame is the peak's new
 * best (the caller fills pk->ev), 2 = emit the peak now.
 */
static int peak_step(md_hockey_peak_t *pk, uint64_t *quiet, uint64_t c, bool gate, double pr,
                     double thr)
{
    if (pk->active) {
        int r = gate && pr > pk->p ? 1 : 0;
        if (r)
            pk->p = pr;
        if (--pk->left <= 0) {
            pk->active = false;
            *quiet = c + MD_HOCKEY_REFRACTORY_FRAMES;
            r |= 2;
        }
        return r;
    }
    if (gate && c >= *quiet && pr >= thr) {
        pk->active = true;
        pk->left = MD_HOCKEY_PEAK_FRAMES;
        pk->p = pr;
        return 1;
    }
    return 0;
}

static double importance(int t, const found_t *fd, const double *x)
{
    if (t == MD_HK_SHOT)
        return fd->near_net <= 25.0 ? 0.8 : 0.6;
    /* A zone entry with teammates following is a real attack. */
    return x[1] >= 2 ? 0.5 : 0.3;
}

/* Score frame g->c (its look-ahead is in the ring, or the session ended). */
static int score(md_hockey_game_t *g, const md_hockey_model_t *m, md_hockey_event_t *out, int n,
                 md_hockey_row_fn row, void *row_ctx)
{
    uint64_t c = g->c;
    double x[NT][NF];
    bool gate[NT];
    found_t fd;
    features_found(g, c, x, gate, &fd);
    const md_hockey_frame_t *f0 = at(g, c, 0);
    if (row)
        row(row_ctx, g, f0, (const double(*)[NF])x, gate);
    bool degraded = at(g, c, -L)->degraded || f0->degraded || at(g, c, L)->degraded;
    for (int t = 0; m && t < NT; t++) {
        md_hockey_peak_t *pk = &g->peak[t];
        if (!gate[t] && !pk->active)
            continue;
        double pr = gate[t] ? md_hockey_predict(m, t, x[t]) : 0.0;
        int r = peak_step(pk, &g->quiet_until[t], c, gate[t], pr, m->threshold[t]);
        if (r & 1) {
            md_hockey_event_t *e = &pk->ev;
            memset(e, 0, sizeof *e);
            e->type = t;
            e->ts_ns = f0->ts_ns;
            e->confidence = pr;
            e->importance = importance(t, &fd, x[t]);
            e->nplayers = fd.nplayers[t];
            for (int k = 0; k < fd.nplayers[t]; k++)
                e->players[k] = fd.players[t][k];
        }
        if (gate[t] || (r & 1))
            pk->ev.degraded |= degraded;
        if (r & 2) {
            out[n] = pk->ev;
            out[n].ts_ns += m->offset_ns[t];
            n++;
        }
    }
    g->c++;
    return n;
}

int md_hockey_push(md_hockey_game_t *g, const md_hockey_model_t *m, const pw_frames_t *f,
                   size_t i, md_hockey_event_t *out, md_hockey_row_fn row, void *row_ctx)
{
    if (f->ts_ns[i] <= g->last_ns)
        return 0;
    g->last_ns = f->ts_ns[i];
    take_frame(g, f, i);
    g->n++;
    int n = 0;
    while (g->c + L < g->n)
        n = score(g, m, out, n, row, row_ctx);
    return n;
}

int md_hockey_flush(md_hockey_game_t *g, const md_hockey_model_t *m, md_hockey_event_t *out,
                    md_hockey_row_fn row, void *row_ctx)
{
    int n = 0;
    while (g->c < g->n) {
        /* At most L frames wait; each emits at most NT events, and a peak
         * emitted here cannot restart for a while: out has room. */
        if (n > MD_HOCKEY_MAXOUT - NT)
            break;
        n = score(g, m, out, n, row, row_ctx);
    }
    for (int t = 0; m && t < NT && n < MD_HOCKEY_MAXOUT; t++)
        if (g->peak[t].active) {
            g->peak[t].active = false;
            out[n] = g->peak[t].ev;
            out[n].ts_ns += m->offset_ns[t];
            n++;
        }
    g->c = g->n;
    return n;
}

int md_hockey_game_check(const md_hockey_game_t *g, const char **why)
{
    if (g->c > g->n || g->n - g->c > L + 1) {
        *why = "frame counters out of range";
        return -1;
    }
    uint64_t kept = g->n < MD_HOCKEY_RING ? g->n : MD_HOCKEY_RING;
    for (uint64_t j = g->n - kept; j < g->n; j++) {
        const md_hockey_frame_t *fr = rf(g, j);
        if (fr->n > MD_HOCKEY_MAXP) {
            *why = "a frame holds too many players";
            return -1;
        }
        for (int k = 0; k < fr->n; k++)
            if (!isfinite(fr->x[k]) || !isfinite(fr->y[k]) || fabsf(fr->x[k]) > 1000.0f ||
                fabsf(fr->y[k]) > 1000.0f) {
                *why = "a player position is not finite";
                return -1;
            }
    }
    for (int t = 0; t < NT; t++) {
        const md_hockey_peak_t *pk = &g->peak[t];
        if (pk->active && (pk->left < 0 || pk->left > MD_HOCKEY_PEAK_FRAMES ||
                           !(pk->p >= 0 && pk->p <= 1) || pk->ev.type != t ||
                           pk->ev.nplayers < 0 || pk->ev.nplayers > MD_HOCKEY_PLAYERS)) {
            *why = "a pending event is malformed";
            return -1;
        }
    }
    return 0;
}

/* ---- model file ---------------------------------------------------------------- */

/* The version: a hash of the numbers as written (%.17g). */
static void model_version(md_hockey_model_t *m)
{
    uint32_t h = MD_FILE_FNV_BASIS;
    char buf[96];
    for (int t = 0; t < NT; t++) {
        h = md_file_hash_coefs(h, m->mean[t], m->std[t], m->w[t], NF);
        int n = snprintf(buf, sizeof buf, "%.17g %.17g %lld|", m->bias[t], m->threshold[t],
                         (long long)m->offset_ns[t]);
        h = md_file_fnv1a(h, buf, (size_t)n);
    }
    snprintf(m->version, sizeof m->version, "hockey-%08x", h);
}

void *md_hockey_model_load(const char *path, pw_err_t *err)
{
    json_t *root = md_file_open(path, "hockey", FORMAT_VERSION, err);
    if (root == NULL)
        return NULL;
    md_hockey_model_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        json_decref(root);
        pw_err_set(err, -ENOMEM, "%.300s: out of memory", path);
        return NULL;
    }
    const char *what = NULL;
    json_t *types = json_object_get(root, "types");
    double la = 0;
    if (md_file_num(root, "lookahead_frames", &la) || la != MD_HOCKEY_LOOKAHEAD)
        what = "'lookahead_frames' differs from this build's";
    else if (!json_is_object(types))
        what = "'types' is not an object";
    for (int t = 0; what == NULL && t < NT; t++) {
        json_t *to = json_object_get(types, md_hockey_type_names[t]);
        json_t *fn = json_object_get(to, "features"), *mean = json_object_get(to, "mean"),
               *sd = json_object_get(to, "std"), *coef = json_object_get(to, "coef");
        what = md_file_type_head(to, &m->bias[t], &m->threshold[t], &m->offset_ns[t]);
        if (what)
            break;
        if (json_array_size(fn) != NF || json_array_size(mean) != NF ||
            json_array_size(sd) != NF || json_array_size(coef) != NF) {
            what = "a type's features, mean, std or coef is not an array of 10";
            break;
        }
        for (int k = 0; what == NULL && k < NF; k++) {
            const char *name =
                json_string_value(json_object_get(json_array_get(fn, (size_t)k), "name"));
            if (name == NULL || strcmp(name, md_hockey_feature_names[t][k]))
                what = "a feature's name or order differs from this build's";
            else
                what = md_file_type_coef(mean, sd, coef, (size_t)k, &m->mean[t][k],
                                         &m->std[t][k], &m->w[t][k]);
        }
    }
    if (what == NULL)
        model_version(m);
    return md_file_close(root, m, m->version, what, path, err);
}

void md_hockey_model_free(void *model)
{
    free(model);
}

/* The model's own part of the file (without training and fit). */
static json_t *model_json(const md_hockey_model_t *m)
{
    json_t *root = json_object();
    if (root == NULL)
        return NULL;
    json_t *types = json_object();
    for (int t = 0; t < NT; t++) {
        json_t *o = json_object(), *feats = json_array();
        for (int k = 0; k < NF; k++) {
            json_t *f = json_object();
            json_object_set_new(f, "name", json_string(md_hockey_feature_names[t][k]));
            json_object_set_new(f, "desc", json_string(feature_desc[t][k]));
            json_array_append_new(feats, f);
        }
        json_object_set_new(o, "label", json_string(md_hockey_type_labels[t]));
        json_object_set_new(o, "features", feats);
        json_object_set_new(o, "intercept", json_real(m->bias[t]));
        json_object_set_new(o, "threshold", json_real(m->threshold[t]));
        json_object_set_new(o, "offset_s", json_real((double)m->offset_ns[t] / NS_PER_S));
        json_object_set_new(o, "mean", md_file_reals(m->mean[t], NF));
        json_object_set_new(o, "std", md_file_reals(m->std[t], NF));
        json_object_set_new(o, "coef", md_file_reals(m->w[t], NF));
        json_object_set_new(types, md_hockey_type_names[t], o);
    }
    json_object_set_new(root, "model", json_string("hockey"));
    json_object_set_new(root, "format", json_integer(FORMAT_VERSION));
    json_object_set_new(root, "version", json_string(m->version));
    json_object_set_new(root, "lookahead_frames", json_integer(MD_HOCKEY_LOOKAHEAD));
    json_object_set_new(root, "peak_frames", json_integer(MD_HOCKEY_PEAK_FRAMES));
    json_object_set_new(root, "refractory_frames", json_integer(MD_HOCKEY_REFRACTORY_FRAMES));
    json_object_set_new(root, "types", types);
    return root;
}

int md_hockey_model_save(md_hockey_model_t *m, const char *path, pw_err_t *err)
{
    model_version(m);
    json_t *root = model_json(m);
    if (root == NULL)
        return pw_err_set(err, -ENOMEM, "hockey: out of memory");
    int rc = md_file_write(root, path, err);
    json_decref(root);
    return rc;
}

/* ---- finding and reading the tracking files ------------------------------------ */

typedef struct strs {
    char **s;
    size_t n, cap;
} strs_t;

static int strs_add(strs_t *v, const char *s)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 32;
        char **p = realloc(v->s, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        v->s = p;
        v->cap = cap;
    }
    if ((v->s[v->n] = strdup(s)) == NULL)
        return -ENOMEM;
    v->n++;
    return 0;
}

static void strs_free(strs_t *v)
{
    for (size_t k = 0; k < v->n; k++)
        free(v->s[k]);
    free(v->s);
    memset(v, 0, sizeof *v);
}

/* A power play's tracking file: "<game> P<n> PP<k>.csv", not a side file. */
static bool is_tracking(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const ing_format_t *f = ing_format_find("bdc");
    return n > 4 && !strcmp(base + n - 4, ".csv") && strstr(base, " PP") &&
           (!f || !f->wants || f->wants(base));
}

/* Tracking files under dir, depth levels down. */
static int walk(const char *dir, int depth, strs_t *out)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char full[4096];
        int n = snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof full)
            continue;
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0)
            rc = walk(full, depth - 1, out);
        else if (S_ISREG(st.st_mode) && is_tracking(full))
            rc = strs_add(out, full);
    }
    closedir(dp);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The tracking files of paths: a tracking file itself, or for any other
 * file (the play-by-play, SOURCE.txt: what `--data DIR` expands to) or
 * folder, the tracking files in its folder down to three levels
 * (TrackingData/<game>/). Sorted by name, without repeats.
 */
static int find_tracking(const char *const *paths, size_t n, strs_t *out)
{
    int rc = 0;
    strs_t dirs = {0};
    for (size_t k = 0; k < n && rc == 0; k++) {
        struct stat st;
        if (stat(paths[k], &st) != 0)
            continue;
        if (S_ISREG(st.st_mode) && is_tracking(paths[k])) {
            rc = strs_add(out, paths[k]);
            continue;
        }
        char d[4096];
        snprintf(d, sizeof d, "%s", paths[k]);
        if (!S_ISDIR(st.st_mode)) {
            char *sl = strrchr(d, '/');
            if (sl)
                *sl = '\0';
            else
                snprintf(d, sizeof d, ".");
        }
        bool seen = false;
        for (size_t j = 0; j < dirs.n; j++)
            seen |= !strcmp(dirs.s[j], d);
        if (!seen && (rc = strs_add(&dirs, d)) == 0)
            rc = walk(d, 3, out);
    }
    strs_free(&dirs);
    if (rc)
        return rc;
    qsort(out->s, out->n, sizeof *out->s, cmp_str);
    size_t m = 0;
    for (size_t k = 0; k < out->n; k++) {
        if (m && !strcmp(out->s[m - 1], out->s[k])) {
            free(out->s[k]);
            continue;
        }
        out->s[m++] = out->s[k];
    }
    out->n = m;
    return 0;
}

typedef struct games {
    pw_frames_t *fr;        /* one per tracking file (session) */
    char **name;
    size_t n;
    pw_object_t *objs;
    size_t objs_cap;
    pw_intern_t *ent, *lab, *ch;
    md_hockey_labels_t Lb;
    pw_frames_t *cur;
} games_t;

static int on_frames(void *ctx, const pw_frames_t *b)
{
    games_t *gs = ctx;
    for (size_t i = 0; i < b->n; i++) {
        if (b->nobj[i] > gs->objs_cap) {
            pw_object_t *p = realloc(gs->objs, b->nobj[i] * sizeof *p);
            if (p == NULL)
                return -ENOMEM;
            gs->objs = p;
            gs->objs_cap = b->nobj[i];
        }
        for (uint16_t k = 0; k < b->nobj[i]; k++) {
            size_t o = b->first[i] + k;
            gs->objs[k] = (pw_object_t){b->entity[o], b->team[o], b->x[o], b->y[o],
                                        b->speed[o], b->orientation[o], b->direction[o]};
        }
        int rc = pw_frames_push(gs->cur, b->ts_ns[i], b->session[i],
                                &b->label[i * PW_FRAME_LABELS], gs->objs, b->nobj[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static void games_fini(games_t *gs)
{
    for (size_t k = 0; k < gs->n; k++) {
        pw_frames_fini(&gs->fr[k]);
        free(gs->name[k]);
    }
    free(gs->fr);
    free(gs->name);
    free(gs->objs);
    pw_intern_destroy(gs->ent);
    pw_intern_destroy(gs->lab);
    pw_intern_destroy(gs->ch);
    memset(gs, 0, sizeof *gs);
}

/* Whether train fits this file: not the validation game (PITWALL_SPLIT=all: every file). */
static bool trains_on(const char *path)
{
    const char *s = getenv("PITWALL_SPLIT");
    return (s && !strcmp(s, "all")) || md_hockey_is_validation(path) == 0;
}

static const char *split_name(void)
{
    const char *s = getenv("PITWALL_SPLIT");
    if (s && !strcmp(s, "all"))
        return "all games";
    return "training games (all but " MD_HOCKEY_VALIDATION_GAME ")";
}

/*
 * Decode the tracking files a run uses with ing_bdc, one session each:
 * with seen NULL the training games, else the files eval scores (those
 * the model was not fitted on, md_split_eval_uses).
 */
static int games_load(games_t *gs, const char *const *paths, size_t n,
                      const md_split_seen_t *seen, pw_err_t *err)
{
    memset(gs, 0, sizeof *gs);
    strs_t files = {0};
    int rc;
    if (pw_intern_create(1 << 16, &gs->ent) || pw_intern_create(4096, &gs->lab) ||
        pw_intern_create(64, &gs->ch))
        return pw_err_set(err, -ENOMEM, "hockey: out of memory");
    if ((rc = md_hockey_labels_resolve(gs->lab, true, &gs->Lb)) != 0)
        return pw_err_set(err, rc, "hockey: labels: %s", pw_strerror(rc));
    if ((rc = find_tracking(paths, n, &files)) != 0)
        return pw_err_set(err, rc, "hockey: out of memory");
    gs->fr = calloc(files.n ? files.n : 1, sizeof *gs->fr);
    gs->name = calloc(files.n ? files.n : 1, sizeof *gs->name);
    if (gs->fr == NULL || gs->name == NULL) {
        strs_free(&files);
        return pw_err_set(err, -ENOMEM, "hockey: out of memory");
    }
    ing_names_t names = {.channels = gs->ch, .entities = gs->ent, .labels = gs->lab};
    const ing_format_t *fmt = ing_format_find("bdc");
    for (size_t k = 0; k < files.n && rc == 0; k++) {
        if (seen ? !md_split_eval_uses(seen, files.s[k]) : !trains_on(files.s[k]))
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        if ((rc = ing_file_load(files.s[k], MAX_FILE_BYTES, &data, &len, err)) != 0)
            break;
        pw_frames_init(&gs->fr[gs->n]);
        const char *b = strrchr(files.s[k], '/');
        gs->name[gs->n] = strdup(b ? b + 1 : files.s[k]);
        gs->cur = &gs->fr[gs->n];
        gs->n++;
        if (gs->name[gs->n - 1] == NULL) {
            free(data);
            rc = pw_err_set(err, -ENOMEM, "hockey: out of memory");
            break;
        }
        ing_emit_t emit = {.frames = on_frames, .ctx = gs};
        ing_stats_t st;
        ing_stats_init(&st);
        rc = fmt ? fmt->decode(files.s[k], data, len, NULL, &names, &emit, &st, err)
                 : ing_bdc_decode(files.s[k], data, len, NULL, &names, &emit, &st, err);
        free(data);
        if (rc > 0)
            rc = pw_err_set(err, rc, "%.400s: %s", files.s[k], pw_strerror(rc));
    }
    strs_free(&files);
    return rc;
}

/* ---- running games ----------------------------------------------------------------- */

/* Everything a run needs per frame, computed once: gates and features. */
typedef struct cache {
    size_t nframes;
    int64_t *ts;          /* per frame of every game, in game order */
    uint8_t *gate;        /* bit t: type t gated */
    uint8_t *target;      /* bit t: a label of type t within TARGET_NS */
    double *x;            /* NT * NF per frame */
    size_t *game_end;     /* frames before the end of game k (exclusive prefix) */
    size_t ngames;
    bool failed;
    size_t fill;
} cache_t;

static void on_row(void *ctx, const md_hockey_game_t *g, const md_hockey_frame_t *fr,
                   const double feat[NT][NF], const bool gate[NT])
{
    cache_t *cc = ctx;
    (void)g;
    if (cc->fill >= cc->nframes) {
        cc->failed = true;
        return;
    }
    size_t i = cc->fill++;
    cc->ts[i] = fr->ts_ns;
    uint8_t gm = 0;
    for (int t = 0; t < NT; t++)
        if (gate[t])
            gm |= (uint8_t)(1u << t);
    cc->gate[i] = gm;
    memcpy(cc->x + i * NT * NF, feat, sizeof(double) * NT * NF);
}

static void cache_free(cache_t *cc)
{
    free(cc->ts);
    free(cc->gate);
    free(cc->target);
    free(cc->x);
    free(cc->game_end);
    memset(cc, 0, sizeof *cc);
}

/* Label times of type t in game k (sorted, as the frames are). */
static size_t labels_of(const games_t *gs, size_t k, int t, int64_t *out, size_t cap)
{
    const pw_frames_t *f = &gs->fr[k];
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        for (int l = 0; l < PW_FRAME_LABELS; l++) {
            uint32_t id = f->label[i * PW_FRAME_LABELS + l];
            if (id != PW_LABEL_NONE && id == gs->Lb.id[t]) {
                if (n < cap)
                    out[n] = f->ts_ns[i];
                n++;
                break;
            }
        }
    return n;
}

#define MAX_LABELS 4096

/* Run every game once through the per-frame path (no model): the cache. */
static int cache_build(const games_t *gs, cache_t *cc, pw_err_t *err)
{
    memset(cc, 0, sizeof *cc);
    size_t total = 0;
    for (size_t k = 0; k < gs->n; k++)
        total += gs->fr[k].n;
    cc->nframes = total;
    cc->ngames = gs->n;
    cc->ts = malloc((total ? total : 1) * sizeof *cc->ts);
    cc->gate = calloc(total ? total : 1, 1);
    cc->target = calloc(total ? total : 1, 1);
    cc->x = malloc((total ? total : 1) * NT * NF * sizeof *cc->x);
    cc->game_end = calloc(gs->n ? gs->n : 1, sizeof *cc->game_end);
    md_hockey_game_t *g = malloc(sizeof *g);
    md_hockey_event_t ev[MD_HOCKEY_MAXOUT];
    int64_t *lt = malloc(MAX_LABELS * sizeof *lt);
    int rc = 0;
    if (!cc->ts || !cc->gate || !cc->target || !cc->x || !cc->game_end || !g || !lt) {
        rc = pw_err_set(err, -ENOMEM, "hockey: out of memory");
        goto done;
    }
    for (size_t k = 0; k < gs->n; k++) {
        const pw_frames_t *f = &gs->fr[k];
        size_t start = cc->fill;
        md_hockey_game_init(g, f->n ? f->session[0] : 0);
        for (size_t i = 0; i < f->n; i++)
            md_hockey_push(g, NULL, f, i, ev, on_row, cc);
        md_hockey_flush(g, NULL, ev, on_row, cc);
        cc->game_end[k] = cc->fill;
        /* Targets: a label of the type within TARGET_NS. */
        for (int t = 0; t < NT; t++) {
            size_t nl = labels_of(gs, k, t, lt, MAX_LABELS);
            if (nl > MAX_LABELS)
                nl = MAX_LABELS;
            size_t a = 0;
            for (size_t i = start; i < cc->fill; i++) {
                while (a < nl && lt[a] < cc->ts[i] - TARGET_NS)
                    a++;
                if (a < nl && lt[a] <= cc->ts[i] + TARGET_NS)
                    cc->target[i] |= (uint8_t)(1u << t);
            }
        }
    }
    if (cc->failed)
        rc = pw_err_set(err, -ENOMEM, "hockey: frame count changed while caching");
done:
    free(g);
    free(lt);
    return rc;
}

/* Detections of one type: times per game. */
typedef struct dets {
    int64_t *ts;
    size_t *game;
    size_t n, cap;
} dets_t;

static int dets_add(dets_t *d, size_t game, int64_t ts)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        int64_t *a = realloc(d->ts, cap * sizeof *a);
        if (a == NULL)
            return -ENOMEM;
        d->ts = a;
        size_t *b = realloc(d->game, cap * sizeof *b);
        if (b == NULL)
            return -ENOMEM;
        d->game = b;
        d->cap = cap;
    }
    d->ts[d->n] = ts;
    d->game[d->n] = game;
    d->n++;
    return 0;
}

/*
 * Replay the cached frames with model m for type t: the same peak picking
 * as the live path (peak_step), detections into d (cleared first).
 */
static int replay(const cache_t *cc, const md_hockey_model_t *m, int t, dets_t *d)
{
    d->n = 0;
    size_t i = 0;
    for (size_t k = 0; k < cc->ngames; k++) {
        md_hockey_peak_t pk;
        memset(&pk, 0, sizeof pk);
        uint64_t quiet = 0;
        size_t start = i;
        for (; i < cc->game_end[k]; i++) {
            bool gt = (cc->gate[i] >> t) & 1;
            if (!gt && !pk.active)
                continue;
            double pr = gt ? md_hockey_predict(m, t, cc->x + i * NT * NF + t * NF) : 0.0;
            int r = peak_step(&pk, &quiet, (uint64_t)(i - start), gt, pr, m->threshold[t]);
            if (r & 1)
                pk.ev.ts_ns = cc->ts[i];
            if ((r & 2) && dets_add(d, k, pk.ev.ts_ns + m->offset_ns[t]))
                return -ENOMEM;
        }
        if (pk.active && dets_add(d, k, pk.ev.ts_ns + m->offset_ns[t]))
            return -ENOMEM;
    }
    return 0;
}

/*
 * Run every game through the live path (md_hockey_push/flush with m): the
 * detections of type t, as the operator would emit them.
 */
static int run_live(const games_t *gs, const md_hockey_model_t *m, dets_t d[NT])
{
    md_hockey_game_t *g = malloc(sizeof *g);
    md_hockey_event_t ev[MD_HOCKEY_MAXOUT];
    if (g == NULL)
        return -ENOMEM;
    int rc = 0;
    for (size_t k = 0; k < gs->n && rc == 0; k++) {
        const pw_frames_t *f = &gs->fr[k];
        md_hockey_game_init(g, f->n ? f->session[0] : 0);
        for (size_t i = 0; i <= f->n && rc == 0; i++) {
            int n = i < f->n ? md_hockey_push(g, m, f, i, ev, NULL, NULL)
                             : md_hockey_flush(g, m, ev, NULL, NULL);
            for (int j = 0; j < n && rc == 0; j++)
                rc = dets_add(&d[ev[j].type], k, ev[j].ts_ns);
        }
    }
    free(g);
    return rc;
}

typedef struct counts {
    size_t tp, ndet, ngt;
} counts_t;

static double prec(const counts_t *c)
{
    return c->ndet ? (double)c->tp / (double)c->ndet : (c->ngt ? 0.0 : 1.0);
}

static double rec(const counts_t *c)
{
    return c->ngt ? (double)c->tp / (double)c->ngt : (c->ndet ? 0.0 : 1.0);
}

static double f1(const counts_t *c)
{
    double p = prec(c), r = rec(c);
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

/*
 * One-to-one matching within +-tol, per game: pairs are taken closest
 * first (greedy), each label and detection at most once.
 */
static int match(const games_t *gs, int t, const dets_t *d, int64_t tol, counts_t *c)
{
    memset(c, 0, sizeof *c);
    int64_t *lt = malloc(MAX_LABELS * sizeof *lt);
    bool *lu = malloc(MAX_LABELS), *du = malloc(d->n ? d->n : 1);
    if (!lt || !lu || !du) {
        free(lt);
        free(lu);
        free(du);
        return -ENOMEM;
    }
    memset(du, 0, d->n ? d->n : 1);
    size_t j0 = 0;
    for (size_t k = 0; k < gs->n; k++) {
        size_t ng = labels_of(gs, k, t, lt, MAX_LABELS);
        if (ng > MAX_LABELS)
            ng = MAX_LABELS;
        memset(lu, 0, MAX_LABELS);
        size_t j1 = j0;
        while (j1 < d->n && d->game[j1] == k)
            j1++;
        c->ngt += ng;
        c->ndet += j1 - j0;
        for (;;) {
            int64_t best = tol + 1;
            size_t bg = 0, bd = 0;
            for (size_t a = 0; a < ng; a++)
                for (size_t j = j0; j < j1; j++) {
                    if (lu[a] || du[j])
                        continue;
                    int64_t dt = llabs(lt[a] - d->ts[j]);
                    if (dt < best) {
                        best = dt;
                        bg = a;
                        bd = j;
                    }
                }
            if (best > tol)
                break;
            lu[bg] = du[bd] = true;
            c->tp++;
        }
        j0 = j1;
    }
    free(lt);
    free(lu);
    free(du);
    return 0;
}

/* ---- fit ------------------------------------------------------------------------------ */

typedef struct fitstat {
    size_t rows, pos;
    int iters;
    double loglik;
} fitstat_t;

/*
 * Logistic regression of type t on the gated frames (md_logit, L2_LAMBDA
 * on the standardised weights): the frames are packed first, in order.
 */
static int fit_type(const cache_t *cc, int t, md_hockey_model_t *m, fitstat_t *fs, pw_err_t *err)
{
    size_t n = 0, npos = 0;
    for (size_t i = 0; i < cc->nframes; i++)
        if ((cc->gate[i] >> t) & 1) {
            n++;
            npos += (cc->target[i] >> t) & 1;
        }
    fs->rows = n;
    fs->pos = npos;
    if (n < 50 || npos < 3)
        return pw_err_set(err, PW_EARG, "hockey: %s: %zu rows, %zu positive: too few to fit",
                          md_hockey_type_names[t], n, npos);
    double *x = malloc(n * NF * sizeof *x);
    uint8_t *y = malloc(n);
    int rc = 0;
    if (x == NULL || y == NULL) {
        rc = pw_err_set(err, -ENOMEM, "hockey: fit: out of memory");
        goto done;
    }
    size_t row = 0;
    for (size_t i = 0; i < cc->nframes; i++) {
        if (!((cc->gate[i] >> t) & 1))
            continue;
        memcpy(x + row * NF, cc->x + i * NT * NF + (size_t)t * NF, NF * sizeof *x);
        y[row] = (cc->target[i] >> t) & 1;
        row++;
    }
    char who[64];
    snprintf(who, sizeof who, "hockey: fit %s", md_hockey_type_names[t]);
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

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * The type's offset: the median of (label - detection) over detections
 * with a label within 1 s in the same game, rounded to a frame.
 */
static int fit_offset(const games_t *gs, const cache_t *cc, md_hockey_model_t *m, int t)
{
    m->offset_ns[t] = 0;
    dets_t d = {0};
    int64_t *lt = malloc(MAX_LABELS * sizeof *lt);
    int rc = lt ? replay(cc, m, t, &d) : -ENOMEM;
    int64_t *dt = rc == 0 ? malloc((d.n ? d.n : 1) * sizeof *dt) : NULL;
    if (rc == 0 && dt == NULL)
        rc = -ENOMEM;
    size_t nd = 0;
    for (size_t j = 0; rc == 0 && j < d.n; j++) {
        size_t nl = labels_of(gs, d.game[j], t, lt, MAX_LABELS);
        int64_t best = INT64_MAX;
        for (size_t a = 0; a < nl && a < MAX_LABELS; a++)
            if (llabs(lt[a] - d.ts[j]) < llabs(best))
                best = lt[a] - d.ts[j];
        if (llabs(best) <= INT64_C(1000000000))
            dt[nd++] = best;
    }
    if (rc == 0 && nd) {
        qsort(dt, nd, sizeof *dt, cmp_i64);
        int64_t med = dt[nd / 2];
        int64_t fr = (int64_t)llround((double)med * FPS / NS_PER_S);
        m->offset_ns[t] = (int64_t)llround((double)fr * NS_PER_S / FPS);
    }
    free(dt);
    free(lt);
    free(d.ts);
    free(d.game);
    return rc;
}

/* Evaluate type t of m on the cache: counts at tolerance tol. */
static int eval_type(const games_t *gs, const cache_t *cc, const md_hockey_model_t *m, int t,
                     int64_t tol, counts_t *c)
{
    dets_t d = {0};
    int rc = replay(cc, m, t, &d);
    if (rc == 0)
        rc = match(gs, t, &d, tol, c);
    free(d.ts);
    free(d.game);
    return rc;
}

/* Thresholds tried: 0.05, 0.10, ..., 0.95. */
#define NTH 19

/* The threshold of type t that maximises its F1 at the loose tolerance on
 * the training games (ties keep the lower). */
static int fit_threshold(const games_t *gs, const cache_t *cc, md_hockey_model_t *m, int t)
{
    double best = -1, best_th = 0.5;
    for (int k = 0; k < NTH; k++) {
        m->threshold[t] = 0.05 * (k + 1);
        counts_t c;
        int rc = eval_type(gs, cc, m, t, MD_HOCKEY_TOL_LOOSE_NS, &c);
        if (rc)
            return rc;
        if (f1(&c) > best + 1e-12) {
            best = f1(&c);
            best_th = m->threshold[t];
        }
    }
    m->threshold[t] = best_th;
    return 0;
}

/* ---- train and eval ------------------------------------------------------------------- */

static json_t *real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int hockey_train(const char *const *paths, size_t n, const char *out_path, FILE *report,
                        pw_err_t *err)
{
    md_gsl_init();
    games_t gs;
    cache_t cc;
    memset(&cc, 0, sizeof cc);
    json_t *root = NULL;
    md_hockey_model_t m;
    memset(&m, 0, sizeof m);
    fitstat_t fs[NT];
    memset(fs, 0, sizeof fs);
    counts_t ct[NT], cl[NT];
    int rc = games_load(&gs, paths, n, NULL, err);
    if (rc)
        goto done;
    if (gs.n == 0) {
        rc = pw_err_set(err, PW_EARG,
                        "hockey: no training tracking file (<game> P<n> PP<k>.csv) found from "
                        "the %zu paths given",
                        n);
        goto done;
    }
    if ((rc = cache_build(&gs, &cc, err)) != 0)
        goto done;
    for (int t = 0; t < NT; t++) {
        if ((rc = fit_type(&cc, t, &m, &fs[t], err)) != 0)
            goto done;
        m.threshold[t] = 0.5;
        /* Threshold, then the offset at that threshold, then the threshold again. */
        if ((rc = fit_threshold(&gs, &cc, &m, t)) != 0 || (rc = fit_offset(&gs, &cc, &m, t)) != 0 ||
            (rc = fit_threshold(&gs, &cc, &m, t)) != 0 ||
            (rc = eval_type(&gs, &cc, &m, t, MD_HOCKEY_TOL_NS, &ct[t])) != 0 ||
            (rc = eval_type(&gs, &cc, &m, t, MD_HOCKEY_TOL_LOOSE_NS, &cl[t])) != 0) {
            pw_err_set(err, rc, "hockey: out of memory");
            goto done;
        }
    }
    model_version(&m);
    if ((root = model_json(&m)) == NULL) {
        rc = pw_err_set(err, -ENOMEM, "hockey: out of memory");
        goto done;
    }
    json_t *files = json_array(), *lab = json_object();
    for (size_t k = 0; k < gs.n; k++)
        json_array_append_new(files, json_string(gs.name[k]));
    json_t *tr = json_object();
    json_object_set_new(tr, "split", json_string(split_name()));
    json_object_set_new(tr, "validation_game", json_string(MD_HOCKEY_VALIDATION_GAME));
    json_object_set_new(tr, "files", files);
    json_object_set_new(tr, "sessions", json_integer((json_int_t)gs.n));
    json_object_set_new(tr, "frames", json_integer((json_int_t)cc.nframes));
    for (int t = 0; t < NT; t++)
        json_object_set_new(lab, md_hockey_type_names[t], json_integer((json_int_t)ct[t].ngt));
    json_object_set_new(tr, "labels", lab);
    json_object_set_new(tr, "source", json_string("Big Data Cup 2022 (hockey/bdc2022): tracking "
                                                  "decoded by ingest/ing_bdc.c, labels from "
                                                  "pxp_womens_oly_2022_v2.csv joined there"));
    json_object_set_new(root, "training", tr);
    json_t *fo = json_object(), *per = json_object();
    json_object_set_new(fo, "method",
                        json_string("logistic regression per type on the frames its gate "
                                    "allows, IRLS with gsl_multifit_wlinear, L2 on standardised "
                                    "features; target: a label of the type within 0.5 s; "
                                    "threshold maximises training F1 at +-1 s"));
    json_object_set_new(fo, "l2_lambda", json_real(L2_LAMBDA));
    for (int t = 0; t < NT; t++) {
        json_t *o = json_object();
        json_object_set_new(o, "rows", json_integer((json_int_t)fs[t].rows));
        json_object_set_new(o, "positives", json_integer((json_int_t)fs[t].pos));
        json_object_set_new(o, "iterations", json_integer(fs[t].iters));
        json_object_set_new(o, "log_likelihood", real(fs[t].loglik));
        json_object_set_new(o, "train_f1", real(f1(&ct[t])));
        json_object_set_new(o, "train_precision", real(prec(&ct[t])));
        json_object_set_new(o, "train_recall", real(rec(&ct[t])));
        json_object_set_new(o, "train_f1_1s", real(f1(&cl[t])));
        json_object_set_new(o, "train_precision_1s", real(prec(&cl[t])));
        json_object_set_new(o, "train_recall_1s", real(rec(&cl[t])));
        json_object_set_new(per, md_hockey_type_names[t], o);
    }
    json_object_set_new(fo, "types", per);
    json_object_set_new(root, "fit", fo);
    if ((rc = md_file_write(root, out_path, err)) != 0)
        goto done;
    if (report) {
        fprintf(report, "hockey: %zu training sessions (%s), %zu frames\n", gs.n,
                split_name(), cc.nframes);
        for (int t = 0; t < NT; t++)
            fprintf(report,
                    "  %-10s rows %6zu pos %4zu labels %3zu thr %.2f off %+.2fs  train +-0.3s "
                    "P %.3f R %.3f F1 %.3f  +-1s F1 %.3f\n",
                    md_hockey_type_names[t], fs[t].rows, fs[t].pos, ct[t].ngt, m.threshold[t],
                    (double)m.offset_ns[t] / NS_PER_S, prec(&ct[t]), rec(&ct[t]), f1(&ct[t]),
                    f1(&cl[t]));
        fprintf(report, "wrote %s (%s)\n", out_path, m.version);
    }
done:
    json_decref(root);
    cache_free(&cc);
    games_fini(&gs);
    return rc;
}

static void metrics_json(json_t *o, const counts_t *c)
{
    json_t *jf = json_object(), *jp = json_object(), *jr = json_object();
    for (int t = 0; t < NT; t++) {
        json_object_set_new(jf, md_hockey_type_names[t], json_real(f1(&c[t])));
        json_object_set_new(jp, md_hockey_type_names[t], json_real(prec(&c[t])));
        json_object_set_new(jr, md_hockey_type_names[t], json_real(rec(&c[t])));
    }
    json_object_set_new(o, "f1", jf);
    json_object_set_new(o, "precision", jp);
    json_object_set_new(o, "recall", jr);
}

static int hockey_eval(const char *model_path, const char *const *paths, size_t n, bool json,
                       FILE *out, pw_err_t *err)
{
    md_hockey_model_t *m = md_hockey_model_load(model_path, err);
    if (m == NULL)
        return err->code ? err->code : PW_ECORRUPT;
    games_t gs;
    dets_t d[NT];
    memset(d, 0, sizeof d);
    size_t nframes = 0;
    counts_t ct[NT], cl[NT];
    md_split_seen_t seen;
    memset(&gs, 0, sizeof gs);
    int rc = md_split_seen_load(model_path, &seen, err);
    if (rc == 0)
        rc = games_load(&gs, paths, n, &seen, err);
    md_split_seen_fini(&seen);
    if (rc)
        goto done;
    if (gs.n == 0) {
        rc = pw_err_set(err, PW_EARG,
                        "hockey: the model was fitted on every tracking file found from the "
                        "%zu paths given; set PITWALL_SPLIT=all to score them anyway (in "
                        "sample)", n);
        goto done;
    }
    if ((rc = run_live(&gs, m, d)) != 0) {
        pw_err_set(err, rc, "hockey: out of memory");
        goto done;
    }
    for (size_t k = 0; k < gs.n; k++)
        nframes += gs.fr[k].n;
    for (int t = 0; t < NT; t++) {
        if ((rc = match(&gs, t, &d[t], MD_HOCKEY_TOL_NS, &ct[t])) != 0 ||
            (rc = match(&gs, t, &d[t], MD_HOCKEY_TOL_LOOSE_NS, &cl[t])) != 0) {
            pw_err_set(err, rc, "hockey: out of memory");
            goto done;
        }
    }
    if (json) {
        json_t *o = json_object(), *loose = json_object(), *js = json_object(),
               *jd = json_object();
        metrics_json(o, ct);
        metrics_json(loose, cl);
        json_object_set_new(loose, "tolerance_s",
                            json_real((double)MD_HOCKEY_TOL_LOOSE_NS / NS_PER_S));
        for (int t = 0; t < NT; t++) {
            json_object_set_new(js, md_hockey_type_names[t], json_integer((json_int_t)ct[t].ngt));
            json_object_set_new(jd, md_hockey_type_names[t],
                                json_integer((json_int_t)ct[t].ndet));
        }
        json_object_set_new(o, "model", json_string("hockey"));
        json_object_set_new(o, "version", json_string(m->version));
        json_object_set_new(o, "sessions", json_integer((json_int_t)gs.n));
        json_object_set_new(o, "frames", json_integer((json_int_t)nframes));
        json_object_set_new(o, "split", json_string(md_split_eval_desc()));
        json_object_set_new(o, "tolerance_s", json_real((double)MD_HOCKEY_TOL_NS / NS_PER_S));
        json_object_set_new(o, "labels", js);
        json_object_set_new(o, "detections", jd);
        json_object_set_new(o, "loose", loose);
        char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (s == NULL) {
            rc = pw_err_set(err, -ENOMEM, "hockey: out of memory");
            goto done;
        }
        fprintf(out, "%s\n", s);
        free(s);
    } else {
        fprintf(out, "hockey %s on %zu sessions of the %s, %zu frames, one-to-one\n",
                m->version, gs.n, md_split_eval_desc(), nframes);
        fprintf(out, "  %-10s %6s %6s | %-26s | %-26s\n", "type", "labels", "found",
                "+-0.3 s: P R F1", "+-1 s: P R F1");
        for (int t = 0; t < NT; t++)
            fprintf(out, "  %-10s %6zu %6zu | %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f\n",
                    md_hockey_type_names[t], ct[t].ngt, ct[t].ndet, prec(&ct[t]), rec(&ct[t]),
                    f1(&ct[t]), prec(&cl[t]), rec(&cl[t]), f1(&cl[t]));
    }
done:
    for (int t = 0; t < NT; t++) {
        free(d[t].ts);
        free(d[t].game);
    }
    games_fini(&gs);
    free(m);
    return rc;
}

const md_model_def_t md_hockey_def = {
    .name = "hockey",
    .desc = "hockey event classification (zone entries, shots) from player tracking frames",
    .default_out = "conf/models/hockey.json",
    .train = hockey_train,
    .eval = hockey_eval,
};
