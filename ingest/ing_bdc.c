/*
 * ing_bdc: Stathletes Big Data Cup 2022 hockey tracking (women's Olympic
 * power plays, tracked from broadcast video at 30 fps) as frames, labelled
 * with the play-by-play events of the game.
 *
 * Input: one power play's tracking CSV,
 *   TrackingData/<game>/<game> P<period> PP<k>.csv, <game> = "2022-02-08
 *   Canada at USA": frame_id, period, track_id, team_id, team_name,
 *   jersey_number, x_ft, y_ft (frame_id, track_id, team_name, x_ft, y_ft
 *   required; period and jersey_number optional), rows grouped by frame in
 *   ascending frame_id.
 * Beside it, found from the input's name (decode reads them itself with
 * ing_file_load): ../pp_info.csv (game clock at the power play's start and
 * end), videoShotsInfo_<stem>.csv (the main-camera shots of the video) and
 * the play-by-play, opts->events_path or else the first pxp_*.csv in the
 * input's directory, its parent or grandparent. Each is optional; without
 * it the decode still gives every frame, with less precise time or no
 * labels (the session's "timing" and "events_*" pairs say what was used).
 *
 * Frames: one per distinct frame_id; objects are the rows of that frame:
 *   entity  "bdc/<team_name>/<jersey>" ("bdc/USA/21") when a jersey number
 *           was detected (0..99; 100 means none): the same player in every
 *           power play and game, as a player keeps her number through the
 *           tournament; else "bdc/<stem>/track/<track_id>"
 *           ("bdc/2022-02-08 Canada at USA P1 PP1/track/7"): track ids are
 *           per video, and restart after a camera cut.
 *   team    home or away: team_name against the game's home team (the "B"
 *           of "A at B" in pp_info.csv's game_name, which the play-by-play
 *           and rosters confirm where the folder name is swapped, else of
 *           the file's name); unknown when it is neither.
 *   x, y    x_ft, y_ft: feet on the 200 x 85 ft rink, as given.
 *   speed, direction
 *           derived from the same track's previous position when it was at
 *           most ING_BDC_SPEED_GAP frames earlier: ft/s, and degrees
 *           clockwise from +y (0 = +y, 90 = +x, the NGS convention); NaN
 *           otherwise. Raw frame-to-frame values, not smoothed: the video
 *           tracking jitters by a few tenths of a foot.
 *   orientation NaN (not in the data).
 *
 * Time: frame_id counts video frames from the power play's start (the
 * faceoff; frame 1), so video seconds since then are (frame_id - 1) / 30.
 * The game clock stops at whistles while the video runs on: when the
 * power play's video span (pp_info end - start video seconds) exceeds its
 * clock span, the difference is the time the clock stood still, and it is
 * put in the gaps between main-camera shots (videoShotsInfo: the broadcast
 * cuts away to replays at stoppages), earliest gap first, each gap holding
 * at most its own length. So a frame's game seconds since the power play
 * started are
 *     g(f) = ((f - 1) - sum over gaps before f of the clock stop put there) / 30
 * (checked on the data: in the power plays whose clock stopped, the
 * faceoffs of the play-by-play then fall within 3 s of the first frame of
 * a shot; with the plain video time they were up to 61 s off). The game
 * clock at frame f is start_clock - g(f), and
 *     ts = game date 00:00 UTC + (period - 1) * 20 min + (20 min - start_clock)
 *          + g(f)
 * i.e. game time on the day's axis: intermissions and stoppages take no
 * time. Without videoShotsInfo no stop is applied (the mapping of the data
 * set's tutorial, join_tracking_pbp.ipynb);
 * without a pp_info row, ts = date + (period - 1) * 20 min + video time;
 * without a date in the name, ns since the first video frame. A power
 * play that began in the period before the file's (pp_info start_period <
 * period) is taken to start at the period's opening faceoff (clock 20:00;
 * no such file in the shared data, so unverified).
 *
 * Labels: a play-by-play row belongs to the game when its game_date
 * (d/m/yyyy or yyyy-mm-dd) is the game's and its team_name and
 * opp_team_name are the game's two teams ("Olympic (Women) - United
 * States" is USA, "... - Olympic Athletes from Russia" is ROC). An event of
 * the file's period at clock c happened g = start_clock - c game seconds
 * into the power play; it labels the frame whose g(f) is nearest (the
 * earlier on a tie) if that is within ING_BDC_JOIN_TOL_FRAMES (1 s), else
 * it is off camera and not joined. When that frame's PW_FRAME_LABELS slots
 * are taken, the nearest frame within the tolerance with a free slot gets
 * it. The label is the event column as written, interned in names->labels
 * ("Shot", "Zone Entry", "Puck Recovery", "Faceoff Win", "Takeaway",
 * "Play", "Dump In/Out", "Penalty Taken"). st->events counts labels
 * emitted.
 *
 * Session: one per tracking file, emitted before its frames: name = the
 * file's stem ("2022-02-08 Canada at USA P1 PP1"), id = ing_csv_hash53(name)
 * (FNV-1a, 53 bits); pairs game, date, home, away, period, power_play, fps,
 * timing ("pp_info+shots", "pp_info", "video" or "relative"),
 * pp_start_clock_s, pp_end_clock_s, clock_stopped_s, events_path,
 * events_in_period (play-by-play rows of this game and period),
 * events_joined, events_bad_rows. Events are joined only when the
 * power play's pp_info row was found (without it the clock is unknown).
 *
 * Bad input: a tracking row with a wrong field count, a bad number, a
 * frame_id lower than the one before or a frame beyond 65535 objects is
 * skipped and counted (st->skipped, first in st->first_problem as
 * "name:LINE: ... (byte N)"); a frame all of whose rows have bad values
 * is still emitted, without objects (the frames come from the field
 * count and frame_id alone). A last line without a newline that does not
 * decode is truncation (st->truncated), not a skip. No header, or a
 * missing required column in the tracking or in a side file that exists,
 * is PW_ECORRUPT naming it; an events_path given but unreadable is its
 * -errno (events are looked for only when the input's name gives the
 * game). Bad rows of side files are ignored (for the play-by-play,
 * counted in the pair events_bad_rows).
 *
 * Memory: the input is split twice (the first pass reads only frame_id,
 * to find the frames, so the events can be placed before any frame is
 * emitted): per call a frame list
 * (24 bytes a frame), a track table, one frame batch; rows allocate nothing
 * but new names in the intern tables.
 */
#include "ingest/ing_format.h"

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_time.h"
#include "ingest/ing_csv.h"

/* Video frame rate of the tracking. */
#define ING_BDC_FPS 30

/* Length of a regulation period, s. */
#define ING_BDC_PERIOD_S 1200

/* An event joins a frame at most this many frames (1 s) from its time. */
#define ING_BDC_JOIN_TOL_FRAMES 30

/* Speed and direction need the track's previous position within this
 * many frames. */
#define ING_BDC_SPEED_GAP 5

/* Jersey number meaning "not detected". */
#define ING_BDC_NO_JERSEY 100

/* Track ids at or above this get no speed and no entity cache. */
#define ING_BDC_MAX_TRACKS (1u << 16)

/* Largest side file (pp_info, shots, play-by-play) read. */
#define ING_BDC_SIDE_MAX (256u << 20)

/* Team names remembered per file (for the entity cache). */
#define BDC_TEAMS 16

/* Columns of a side file we look at, at most. */
#define BDC_MAX_COLS 64

/* Per track: entity cache and last position. */
typedef struct bdc_track {
    int64_t last_frame; /* 0 = never seen */
    float lx, ly;
    int32_t jersey;     /* jersey of the cached entity; -1 = none */
    uint8_t team;       /* team index of the cached entity */
    uint32_t entity;    /* 0 = not cached */
} bdc_track_t;

/* A parsed tracking row. */
typedef struct bdc_row {
    int64_t frame, track, period, jersey; /* jersey -1 = none */
    double x, y;
    const ing_csv_field_t *team;
} bdc_row_t;

/* A frame found by the first pass. */
typedef struct bdc_frame {
    int64_t id;  /* frame_id */
    int64_t gf;  /* game frames since the power play's start */
    uint32_t label[PW_FRAME_LABELS];
} bdc_frame_t;

/* A clock stop put in the gap after video frame `after`. */
typedef struct bdc_stop {
    int64_t after, frames;
} bdc_stop_t;

/* A main-camera shot: video frames start..end. */
typedef struct bdc_shot {
    int64_t start, end;
} bdc_shot_t;

typedef struct bdc {
    const char *name;
    const uint8_t *data;
    ing_names_t *names;
    const ing_emit_t *emit;
    ing_stats_t *st;
    pw_err_t *err;

    /* From the input's name. */
    char dir[PATH_MAX];
    char stem[256];
    char game[200];
    int have_date, year, month, day;
    char team_a[64], team_b[64]; /* "A at B" of the file's name */
    int name_period, pp;

    /* Tracking columns. */
    size_t ncols;
    int c_frame, c_period, c_track, c_team, c_jersey, c_x, c_y;
    ing_csv_field_t f[BDC_MAX_COLS + 1];

    /* First pass. */
    bdc_frame_t *frames;
    size_t nframes, frames_cap;
    int period; /* the session's period */

    /* Timing. */
    int have_pp, have_shots;
    int64_t clock0_s, end_clock_s;
    int64_t stop_budget, stopped; /* frames */
    bdc_stop_t *stops;
    size_t nstops;
    int64_t base_ns;
    char home[64], away[64];

    /* Events. */
    char events_path[PATH_MAX];
    uint64_t events_in_period, events_joined, events_bad;

    /* Second pass. */
    bdc_track_t *tracks;
    size_t ntracks;
    char team_names[BDC_TEAMS][64];
    size_t team_len[BDC_TEAMS];
    uint8_t team_code[BDC_TEAMS]; /* enum pw_team of each */
    size_t nteams;
    pw_object_t *objs;
    size_t objs_cap;
    pw_frames_t batch;
    size_t batch_frames;
    uint64_t session;
} bdc_t;

static void bdc_problem(bdc_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keep the first problem's text: "name:LINE: what". */
static void bdc_problem(bdc_t *b, const char *fmt, ...)
{
    if (b->st->first_problem[0])
        return;
    int n = snprintf(b->st->first_problem, sizeof b->st->first_problem, "%.200s:", b->name);
    if (n < 0 || (size_t)n >= sizeof b->st->first_problem)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->st->first_problem + n, sizeof b->st->first_problem - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t bdc_days(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Exactly k decimal digits at s as a number, or -1. */
static int bdc_digits(const char *s, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parse "YYYY-MM-DD" from the first 10 of the n bytes at s. */
static int bdc_iso_date(const char *s, size_t n, int *y, int *m, int *d)
{
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int a = bdc_digits(s, 4), b = bdc_digits(s + 5, 2), c = bdc_digits(s + 8, 2);
    if (a < 0 || b < 1 || b > 12 || c < 1 || c > 31)
        return -1;
    *y = a;
    *m = b;
    *d = c;
    return 0;
}

/* Split "YYYY-MM-DD A at B" into its date and teams. */
static int bdc_game_parse(const char *g, size_t n, int *y, int *m, int *d, char *a, char *h,
                          size_t cap)
{
    if (bdc_iso_date(g, n, y, m, d) || n < 12 || g[10] != ' ')
        return -1;
    const char *t = g + 11, *end = g + n;
    const char *at = NULL;
    for (const char *p = t; p + 4 <= end; p++)
        if (!memcmp(p, " at ", 4))
            at = p;
    if (!at || at == t || at + 4 == end)
        return -1;
    size_t la = (size_t)(at - t), lh = (size_t)(end - at - 4);
    if (la >= cap || lh >= cap)
        return -1;
    memcpy(a, t, la);
    a[la] = '\0';
    memcpy(h, at + 4, lh);
    h[lh] = '\0';
    return 0;
}

/* Take the input's name apart: directory, stem, game, period, power play. */
static void bdc_name_parse(bdc_t *b)
{
    const char *slash = strrchr(b->name, '/');
    const char *base = slash ? slash + 1 : b->name;
    if (slash) {
        size_t dl = (size_t)(slash - b->name);
        if (dl >= sizeof b->dir)
            dl = sizeof b->dir - 1;
        memcpy(b->dir, b->name, dl);
        b->dir[dl] = '\0';
        if (dl == 0)
            snprintf(b->dir, sizeof b->dir, "/");
    } else {
        snprintf(b->dir, sizeof b->dir, ".");
    }
    size_t n = strlen(base);
    static const char *const exts[] = {".csv.gz", ".csv", ".gz"};
    for (size_t i = 0; i < 3; i++) {
        size_t el = strlen(exts[i]);
        if (n > el && !strcmp(base + n - el, exts[i])) {
            n -= el;
            break;
        }
    }
    if (n >= sizeof b->stem)
        n = sizeof b->stem - 1;
    memcpy(b->stem, base, n);
    b->stem[n] = '\0';
    if (n == 0)
        snprintf(b->stem, sizeof b->stem, "bdc");

    /* "<game> P<n> PP<k>" */
    const char *s = b->stem;
    const char *pp = NULL;
    for (const char *p = s; (p = strstr(p, " PP")) != NULL; p++)
        pp = p;
    int64_t k, per;
    if (!pp || ing_csv_parse_i64(pp + 3, strlen(pp + 3), &k) || k < 1 || k > 999)
        return;
    const char *pe = NULL;
    for (const char *p = s; p < pp && (p = strstr(p, " P")) != NULL && p < pp; p++)
        pe = p;
    if (!pe || ing_csv_parse_i64(pe + 2, (size_t)(pp - pe - 2), &per) || per < 1 || per > 9)
        return;
    b->pp = (int)k;
    b->name_period = (int)per;
    size_t gl = (size_t)(pe - s);
    if (gl >= sizeof b->game)
        return;
    memcpy(b->game, s, gl);
    b->game[gl] = '\0';
    b->have_date = !bdc_game_parse(b->game, gl, &b->year, &b->month, &b->day, b->team_a,
                                   b->team_b, sizeof b->team_a);
}

/* Load a side file; 0, or -errno / PW_E* (err filled). */
static int bdc_load(const char *path, uint8_t **data, size_t *len, pw_err_t *err)
{
    return ing_file_load(path, ING_BDC_SIDE_MAX, data, len, err);
}

/* Read a side file's header and find the columns named in want[0..n): idx[i]
 * or -1. Missing required ones (req[i]) are PW_ECORRUPT naming them. */
static int bdc_side_header(const char *path, ing_csv_t *csv, ing_csv_field_t *f,
                           const char *const *want, const int *req, int *idx, size_t n,
                           size_t *ncols, pw_err_t *err)
{
    ing_csv_row_t row;
    int rc = ing_csv_next(csv, f, BDC_MAX_COLS + 1, &row);
    if (rc <= 0)
        return pw_err_set(err, PW_ECORRUPT, "%s: %s", path,
                          rc == 0 ? "empty input: no header line" : "malformed header");
    size_t nc = row.nfields < BDC_MAX_COLS ? row.nfields : BDC_MAX_COLS;
    for (size_t i = 0; i < n; i++) {
        idx[i] = ing_csv_find(f, nc, want[i]);
        if (idx[i] < 0 && req[i])
            return pw_err_set(err, PW_ECORRUPT, "%s:%llu: missing required column '%s'",
                              path, (unsigned long long)row.line, want[i]);
    }
    *ncols = row.nfields;
    return 0;
}

/* Field i of a side row as an integer (the field unquoted), or -1. */
static int bdc_field_i64(const ing_csv_field_t *f, int i, int64_t *v)
{
    return i < 0 ? -1 : ing_csv_parse_i64(f[i].p, f[i].len, v);
}

/* The pp_info row of this power play: clock at start and end, stop budget. */
static int bdc_pp_info(bdc_t *b)
{
    if (!b->pp || !b->have_date)
        return 0;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/../pp_info.csv", b->dir);
    uint8_t *data = NULL;
    size_t len = 0;
    pw_err_t e2 = {0};
    if (bdc_load(path, &data, &len, &e2))
        return 0; /* no pp_info: video time */
    enum { GAME, PEN, VS, VE, SP, EP, SC, EC, NW };
    static const char *const want[NW] = {
        "game_name", "penalty_number", "start_video_clock_seconds", "end_video_clock_seconds",
        "start_period", "end_period", "start_game_clock_seconds", "end_game_clock_seconds"};
    static const int req[NW] = {1, 1, 0, 0, 1, 1, 1, 1};
    int idx[NW];
    ing_csv_field_t f[BDC_MAX_COLS + 1];
    ing_csv_t csv;
    ing_csv_init(&csv, data, len, ',');
    size_t nc;
    int rc = bdc_side_header(path, &csv, f, want, req, idx, NW, &nc, b->err);
    ing_csv_row_t row;
    while (rc == 0) {
        int r = ing_csv_next(&csv, f, BDC_MAX_COLS + 1, &row);
        if (r == 0 || r == PW_ETRUNC)
            break;
        if (r < 0 || row.nfields != nc)
            continue;
        int64_t pen, sp, ep, sc, ec, vs, ve;
        if (bdc_field_i64(f, idx[PEN], &pen) || pen != b->pp)
            continue;
        int y, m, d;
        char a[64], h[64];
        const ing_csv_field_t *g = &f[idx[GAME]];
        if (bdc_game_parse(g->p, g->len, &y, &m, &d, a, h, sizeof a) || y != b->year ||
            m != b->month || d != b->day)
            continue;
        if (!((!strcmp(a, b->team_a) && !strcmp(h, b->team_b)) ||
              (!strcmp(a, b->team_b) && !strcmp(h, b->team_a))))
            continue;
        if (bdc_field_i64(f, idx[SP], &sp) || bdc_field_i64(f, idx[EP], &ep) ||
            bdc_field_i64(f, idx[SC], &sc) || bdc_field_i64(f, idx[EC], &ec) || sc < 0 ||
            sc > 100000 || ec < 0 || ec > 100000 || sp > b->period || ep < b->period)
            continue; /* not a power play of this file's period */
        /* pp_info's game name says who is home (the folder's may be swapped). */
        snprintf(b->home, sizeof b->home, "%s", h);
        snprintf(b->away, sizeof b->away, "%s", a);
        b->have_pp = 1;
        b->clock0_s = sp == b->period ? sc : ING_BDC_PERIOD_S;
        b->end_clock_s = ep == b->period ? ec : 0;
        if (sp == b->period && ep == b->period && !bdc_field_i64(f, idx[VS], &vs) &&
            !bdc_field_i64(f, idx[VE], &ve) && vs >= 0 && ve <= 1000000 &&
            ve - vs > sc - ec)
            b->stop_budget = ((ve - vs) - (sc - ec)) * ING_BDC_FPS;
        break;
    }
    free(data);
    return rc;
}

/* The main-camera shots: where the clock stops go. */
static int bdc_shots(bdc_t *b)
{
    if (!b->have_pp)
        return 0;
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/videoShotsInfo_%s.csv", b->dir, b->stem);
    uint8_t *data = NULL;
    size_t len = 0;
    pw_err_t e2 = {0};
    if (bdc_load(path, &data, &len, &e2))
        return 0;
    static const char *const want[2] = {"frame_start_shot", "frame_end_shot"};
    static const int req[2] = {1, 1};
    int idx[2];
    ing_csv_field_t f[BDC_MAX_COLS + 1];
    ing_csv_t csv;
    ing_csv_init(&csv, data, len, ',');
    size_t nc, n = 0, cap = 0;
    bdc_shot_t *shots = NULL;
    int rc = bdc_side_header(path, &csv, f, want, req, idx, 2, &nc, b->err);
    ing_csv_row_t row;
    while (rc == 0) {
        int r = ing_csv_next(&csv, f, BDC_MAX_COLS + 1, &row);
        if (r == 0 || r == PW_ETRUNC)
            break;
        int64_t s, e;
        if (r < 0 || row.nfields != nc || bdc_field_i64(f, idx[0], &s) ||
            bdc_field_i64(f, idx[1], &e) || s < 1 || e < s || e > 1000000000)
            continue;
        if (n == cap) {
            size_t c2 = cap ? cap * 2 : 16;
            bdc_shot_t *p = realloc(shots, c2 * sizeof *p);
            if (!p) {
                rc = pw_err_set(b->err, PW_ENOMEM, "%s: out of memory", path);
                break;
            }
            shots = p;
            cap = c2;
        }
        shots[n].start = s;
        shots[n].end = e;
        n++;
    }
    free(data);
    if (rc == 0 && n > 1 && !(b->stops = calloc(n - 1, sizeof *b->stops)))
        rc = pw_err_set(b->err, PW_ENOMEM, "%s: out of memory", path);
    if (rc == 0) {
        b->have_shots = 1;
        /* Sort by start (a handful of shots: insertion sort). */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && shots[j].start < shots[j - 1].start; j--) {
                bdc_shot_t t = shots[j];
                shots[j] = shots[j - 1];
                shots[j - 1] = t;
            }
        /* Gaps in order take the clock stop, each at most its length. */
        int64_t left = b->stop_budget;
        for (size_t i = 1; i < n; i++) {
            int64_t end_prev = shots[i - 1].end, gap = shots[i].start - end_prev - 1;
            if (gap <= 0 || left <= 0)
                continue;
            int64_t z = gap < left ? gap : left;
            left -= z;
            b->stops[b->nstops].after = end_prev;
            b->stops[b->nstops].frames = z;
            b->nstops++;
            b->stopped += z;
        }
    }
    free(shots);
    return rc;
}

/* Game frames since the power play's start of video frame f. */
static int64_t bdc_game_frames(const bdc_t *b, int64_t f)
{
    int64_t g = f - 1;
    for (size_t i = 0; i < b->nstops; i++) {
        int64_t in = f - 1 - b->stops[i].after;
        if (in > 0)
            g -= in < b->stops[i].frames ? in : b->stops[i].frames;
    }
    return g;
}

/* Game frames to ns: g * 1e9 / 30, rounded. */
static int64_t bdc_frames_ns(int64_t g)
{
    int64_t s = g / ING_BDC_FPS, r = g % ING_BDC_FPS;
    return s * PW_NS_PER_S + (r * PW_NS_PER_S + ING_BDC_FPS / 2) / ING_BDC_FPS;
}

/* "Olympic (Women) - United States" -> "USA": the tracking's team name. */
static int bdc_team_is(const ing_csv_field_t *f, const char *team)
{
    const char *p = f->p, *end = f->p + f->len;
    for (const char *q = p; q + 3 <= end; q++)
        if (!memcmp(q, " - ", 3))
            p = q + 3;
    size_t n = (size_t)(end - p);
    static const char *const alias[][2] = {
        {"United States", "USA"},
        {"Olympic Athletes from Russia", "ROC"},
        {"Russian Olympic Committee", "ROC"},
    };
    if (strlen(team) == n && !memcmp(p, team, n))
        return 1;
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strlen(alias[i][0]) == n && !memcmp(p, alias[i][0], n) && !strcmp(alias[i][1], team))
            return 1;
    return 0;
}

/* A play-by-play date: "8/2/2022" (d/m/yyyy) or "2022-02-08". */
static int bdc_pxp_date(const ing_csv_field_t *f, int *y, int *m, int *d)
{
    if (!bdc_iso_date(f->p, f->len, y, m, d) && f->len == 10)
        return 0;
    const char *p = f->p, *end = f->p + f->len;
    int64_t v[3];
    for (int i = 0; i < 3; i++) {
        const char *q = p;
        while (q < end && *q != '/')
            q++;
        if ((i < 2) != (q < end) || ing_csv_parse_i64(p, (size_t)(q - p), &v[i]))
            return -1;
        p = q + 1;
    }
    if (v[0] < 1 || v[0] > 31 || v[1] < 1 || v[1] > 12 || v[2] < 1900 || v[2] > 9999)
        return -1;
    *d = (int)v[0];
    *m = (int)v[1];
    *y = (int)v[2];
    return 0;
}

/* The free label slot for an event at game frame t (see the header): on the
 * nearest frame, else the nearest within the tolerance; NULL if none. */
static uint32_t *bdc_slot(bdc_t *b, int64_t t)
{
    if (b->nframes == 0)
        return NULL;
    size_t lo = 0, hi = b->nframes;
    while (lo < hi) { /* first frame with gf >= t */
        size_t mid = lo + (hi - lo) / 2;
        if (b->frames[mid].gf < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t j;
    if (lo == b->nframes)
        j = lo - 1;
    else if (lo == 0)
        j = 0;
    else
        j = t - b->frames[lo - 1].gf <= b->frames[lo].gf - t ? lo - 1 : lo;
    /* Outward from j: j, j+1, j-1, j+2, ... while within the tolerance
     * (g(f) never decreases, so once both sides are out, all are). */
    for (size_t off = 0;; off++) {
        int within = 0;
        for (int side = 0; side < 2 && !(off == 0 && side == 1); side++) {
            if (side == 0 ? j + off >= b->nframes : off > j)
                continue;
            bdc_frame_t *fr = &b->frames[side == 0 ? j + off : j - off];
            if (llabs(fr->gf - t) > ING_BDC_JOIN_TOL_FRAMES)
                continue;
            within = 1;
            for (int s = 0; s < PW_FRAME_LABELS; s++)
                if (fr->label[s] == PW_LABEL_NONE)
                    return &fr->label[s];
        }
        if (!within)
            return NULL;
    }
}

/* Find the play-by-play: events_path, else the first (by name) pxp_*.csv
 * in the input's directory, its parent or its grandparent. */
static int bdc_find_events(bdc_t *b, const ing_opts_t *o)
{
    if (o && o->events_path) {
        snprintf(b->events_path, sizeof b->events_path, "%s", o->events_path);
        return 1;
    }
    static const char *const rel[] = {"", "/..", "/../.."};
    for (size_t i = 0; i < 3; i++) {
        char dir[PATH_MAX + 8], best[256] = "";
        snprintf(dir, sizeof dir, "%s%s", b->dir, rel[i]);
        DIR *dp = opendir(dir);
        if (!dp)
            continue;
        struct dirent *de;
        while ((de = readdir(dp)) != NULL) {
            size_t n = strlen(de->d_name);
            if (n > 8 && n < sizeof best && !strncmp(de->d_name, "pxp_", 4) &&
                !strcmp(de->d_name + n - 4, ".csv") && (!best[0] || strcmp(de->d_name, best) < 0))
                memcpy(best, de->d_name, n + 1);
        }
        closedir(dp);
        int n = snprintf(b->events_path, sizeof b->events_path, "%s/%s", dir, best);
        if (best[0] && n > 0 && (size_t)n < sizeof b->events_path)
            return 1;
        b->events_path[0] = '\0';
    }
    return 0;
}

/* Join the play-by-play's events of this game and period to the frames. */
static int bdc_events(bdc_t *b, const ing_opts_t *o)
{
    if (!b->have_date || !bdc_find_events(b, o))
        return 0;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = bdc_load(b->events_path, &data, &len, b->err);
    if (rc) {
        if (o && o->events_path)
            return rc; /* asked for by name: its absence is an error */
        b->events_path[0] = '\0';
        pw_err_clear(b->err);
        return 0;
    }
    enum { DATE, TEAM, OPP, PER, CLOCK, EVENT, NW };
    static const char *const want[NW] = {"game_date", "team_name",     "opp_team_name",
                                         "period",    "clock_seconds", "event"};
    static const int req[NW] = {1, 1, 1, 1, 1, 1};
    int idx[NW];
    ing_csv_field_t f[BDC_MAX_COLS + 1];
    ing_csv_t csv;
    ing_csv_init(&csv, data, len, ',');
    size_t nc;
    rc = bdc_side_header(b->events_path, &csv, f, want, req, idx, NW, &nc, b->err);
    ing_csv_row_t row;
    while (rc == 0) {
        int r = ing_csv_next(&csv, f, BDC_MAX_COLS + 1, &row);
        if (r == 0 || r == PW_ETRUNC)
            break;
        if (r < 0 || row.nfields != nc) {
            b->events_bad++;
            continue;
        }
        int y, m, d;
        int64_t per;
        double clock;
        const ing_csv_field_t *ev = &f[idx[EVENT]];
        if (bdc_pxp_date(&f[idx[DATE]], &y, &m, &d) ||
            ing_csv_parse_i64(f[idx[PER]].p, f[idx[PER]].len, &per) ||
            ing_csv_parse_double(f[idx[CLOCK]].p, f[idx[CLOCK]].len, &clock) ||
            !isfinite(clock) || fabs(clock) > 1e6 || ev->len == 0) {
            b->events_bad++;
            continue;
        }
        if (y != b->year || m != b->month || d != b->day || per != b->period)
            continue;
        const ing_csv_field_t *t1 = &f[idx[TEAM]], *t2 = &f[idx[OPP]];
        if (!((bdc_team_is(t1, b->team_a) && bdc_team_is(t2, b->team_b)) ||
              (bdc_team_is(t1, b->team_b) && bdc_team_is(t2, b->team_a))))
            continue;
        b->events_in_period++;
        if (!b->have_pp)
            continue;
        uint32_t *slot = bdc_slot(b, llround(((double)b->clock0_s - clock) * ING_BDC_FPS));
        if (!slot)
            continue; /* off camera */
        char text[256];
        size_t tl = ing_csv_unescape(ev, text, sizeof text);
        if (tl >= sizeof text)
            tl = sizeof text - 1;
        rc = pw_intern_add(b->names->labels, text, tl, slot);
        if (rc) {
            rc = pw_err_set(b->err, rc, "%s: cannot intern label '%s': %s", b->events_path,
                            text, pw_strerror(rc));
            break;
        }
        b->events_joined++;
    }
    free(data);
    return rc;
}

/* A row's place: the field count and frame_id; 0, or -1 with *why, *col. */
static int bdc_row_frame(const bdc_t *b, const ing_csv_row_t *row, int64_t *frame,
                         const char **why, int *col)
{
    const ing_csv_field_t *f = &b->f[b->c_frame];
    *col = -1;
    if (row->nfields != b->ncols) {
        *why = "wrong number of fields";
        return -1;
    }
    *col = b->c_frame;
    if (ing_csv_parse_i64(f->p, f->len, frame)) {
        *why = "bad frame_id";
        return -1;
    }
    if (*frame < 1 || *frame > 1000000000) {
        *why = "frame_id out of range";
        return -1;
    }
    return 0;
}

/* The rest of a row; 0, or -1 with *why (a static text) and *col. */
static int bdc_row_values(const bdc_t *b, bdc_row_t *v, const char **why, int *col)
{
    const ing_csv_field_t *f = b->f;
    *col = b->c_track;
    *why = "bad track_id";
    if (ing_csv_parse_i64(f[b->c_track].p, f[b->c_track].len, &v->track))
        return -1;
    v->period = 0;
    *col = b->c_period;
    *why = "bad period";
    if (b->c_period >= 0 && ing_csv_parse_i64(f[b->c_period].p, f[b->c_period].len, &v->period))
        return -1;
    v->jersey = -1;
    if (b->c_jersey >= 0 && f[b->c_jersey].len) {
        *col = b->c_jersey;
        *why = "bad jersey_number";
        if (ing_csv_parse_i64(f[b->c_jersey].p, f[b->c_jersey].len, &v->jersey))
            return -1;
        if (v->jersey < 0 || v->jersey >= ING_BDC_NO_JERSEY)
            v->jersey = -1;
    }
    *col = b->c_x;
    *why = "bad x_ft";
    if (ing_csv_parse_double(f[b->c_x].p, f[b->c_x].len, &v->x) || !isfinite(v->x) ||
        fabs(v->x) > 1e6)
        return -1;
    *col = b->c_y;
    *why = "bad y_ft";
    if (ing_csv_parse_double(f[b->c_y].p, f[b->c_y].len, &v->y) || !isfinite(v->y) ||
        fabs(v->y) > 1e6)
        return -1;
    v->team = &f[b->c_team];
    return 0;
}

/* Read the tracking header: column indexes. */
static int bdc_header(bdc_t *b, ing_csv_t *csv)
{
    ing_csv_row_t row;
    int rc = ing_csv_next(csv, b->f, BDC_MAX_COLS + 1, &row);
    if (rc == 0)
        return pw_err_set(b->err, PW_ECORRUPT, "%s: empty input: no header line", b->name);
    if (rc < 0)
        return pw_err_set(b->err, PW_ECORRUPT, "%s:%llu: malformed header (bad quoting)",
                          b->name, (unsigned long long)row.line);
    if (row.nfields > BDC_MAX_COLS)
        return pw_err_set(b->err, PW_ECORRUPT, "%s:%llu: %zu columns, at most %d supported",
                          b->name, (unsigned long long)row.line, row.nfields, BDC_MAX_COLS);
    b->ncols = row.nfields;
    static const char *const req[] = {"frame_id", "track_id", "team_name", "x_ft", "y_ft"};
    int *const at[] = {&b->c_frame, &b->c_track, &b->c_team, &b->c_x, &b->c_y};
    for (size_t i = 0; i < 5; i++) {
        *at[i] = ing_csv_find(b->f, b->ncols, req[i]);
        if (*at[i] < 0)
            return pw_err_set(b->err, PW_ECORRUPT, "%s:%llu: missing required column '%s'",
                              b->name, (unsigned long long)row.line, req[i]);
    }
    b->c_period = ing_csv_find(b->f, b->ncols, "period");
    b->c_jersey = ing_csv_find(b->f, b->ncols, "jersey_number");
    return 0;
}

/* Home, away or unknown: a team name against the game's teams. */
static uint8_t bdc_team_code(const bdc_t *b, const ing_csv_field_t *t)
{
    if (!b->home[0])
        return PW_TEAM_UNKNOWN;
    return ing_csv_eq(t, b->home) ? PW_TEAM_HOME
           : ing_csv_eq(t, b->away) ? PW_TEAM_AWAY
                                    : PW_TEAM_UNKNOWN;
}

/* Index of a team name in this file's table (BDC_TEAMS = not kept). */
static uint8_t bdc_team_index(bdc_t *b, const ing_csv_field_t *t)
{
    for (size_t i = 0; i < b->nteams; i++)
        if (t->len == b->team_len[i] && !memcmp(t->p, b->team_names[i], t->len))
            return (uint8_t)i;
    if (b->nteams == BDC_TEAMS || t->len >= sizeof b->team_names[0] || memchr(t->p, 0, t->len))
        return BDC_TEAMS;
    memcpy(b->team_names[b->nteams], t->p, t->len);
    b->team_names[b->nteams][t->len] = '\0';
    b->team_len[b->nteams] = t->len;
    b->team_code[b->nteams] = bdc_team_code(b, t);
    return (uint8_t)b->nteams++;
}

/* The entity of a row (see the header for the naming). */
static int bdc_entity(bdc_t *b, const bdc_row_t *v, uint8_t team, uint32_t *id)
{
    bdc_track_t *tr = v->track >= 0 && (uint64_t)v->track < b->ntracks ? &b->tracks[v->track]
                                                                        : NULL;
    int32_t j = (int32_t)v->jersey;
    if (tr && tr->entity && tr->jersey == j && tr->team == team) {
        *id = tr->entity;
        return 0;
    }
    char name[400];
    int n;
    if (j >= 0 && v->team->len)
        n = snprintf(name, sizeof name, "bdc/%.*s/%d",
                     (int)(v->team->len > 100 ? 100 : v->team->len), v->team->p, (int)j);
    else
        n = snprintf(name, sizeof name, "bdc/%s/track/%lld", b->stem, (long long)v->track);
    if (n < 0 || (size_t)n >= sizeof name)
        n = (int)sizeof name - 1;
    int rc = pw_intern_add(b->names->entities, name, (size_t)n, id);
    if (rc)
        return pw_err_set(b->err, rc, "%s: cannot intern entity '%s': %s", b->name, name,
                          pw_strerror(rc));
    if (tr) {
        tr->entity = *id;
        tr->jersey = j;
        tr->team = team;
    }
    return 0;
}

/* Grow the track table to hold track id t (ids past the cap get none). */
static bdc_track_t *bdc_track(bdc_t *b, int64_t t)
{
    if (t < 0 || t >= (int64_t)ING_BDC_MAX_TRACKS)
        return NULL;
    if ((size_t)t >= b->ntracks) {
        size_t n = b->ntracks ? b->ntracks : 256;
        while (n <= (size_t)t)
            n *= 2;
        bdc_track_t *p = realloc(b->tracks, n * sizeof *p);
        if (!p)
            return NULL; /* no cache, no speed: still a valid object */
        memset(p + b->ntracks, 0, (n - b->ntracks) * sizeof *p);
        b->tracks = p;
        b->ntracks = n;
    }
    return &b->tracks[t];
}

static int bdc_flush(bdc_t *b)
{
    if (b->batch.n == 0)
        return 0;
    int rc = b->emit->frames ? b->emit->frames(b->emit->ctx, &b->batch) : 0;
    pw_frames_clear(&b->batch);
    return rc;
}

/* Emit the frame at index fi of the first pass with the objects gathered. */
static int bdc_push(bdc_t *b, size_t fi, size_t nobj)
{
    const bdc_frame_t *fr = &b->frames[fi];
    int64_t ts = b->base_ns + bdc_frames_ns(fr->gf);
    int rc = pw_frames_push(&b->batch, ts, b->session, fr->label, b->objs, (uint16_t)nobj);
    if (rc)
        return pw_err_set(b->err, PW_ENOMEM, "%s: out of memory", b->name);
    ing_stats_t *st = b->st;
    st->frames++;
    st->objects += nobj;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        st->events += fr->label[l] != PW_LABEL_NONE;
    if (ts < st->first_ts_ns)
        st->first_ts_ns = ts;
    if (ts > st->last_ts_ns)
        st->last_ts_ns = ts;
    return b->batch.n >= b->batch_frames ? bdc_flush(b) : 0;
}

/* Count a bad row of pass 2 and describe the first. */
static void bdc_bad_row(bdc_t *b, const ing_csv_row_t *row, int r, const char *why, int col)
{
    unsigned long long line = (unsigned long long)row->line;
    if (row->unterminated) {
        b->st->truncated = 1;
        bdc_problem(b, "%llu: last line cut short (%s)", line, why);
        return;
    }
    b->st->skipped++;
    if (col >= 0 && (size_t)col < row->nfields && r >= 0)
        bdc_problem(b, "%llu: %s '%.*s' (byte %zu): row skipped", line, why,
                    (int)(b->f[col].len > 40 ? 40 : b->f[col].len), b->f[col].p,
                    (size_t)((const uint8_t *)b->f[col].p - b->data));
    else
        bdc_problem(b, "%llu: %s (%zu fields, expected %zu; byte %zu): row skipped", line, why,
                    row->nfields, b->ncols, row->offset);
}

/*
 * Walk the tracking rows. Pass 1 lists the frames (and finds the period)
 * from the field count and frame_id alone; pass 2 emits them, and skips
 * rows whose other fields are bad without changing the frames: frame i of
 * pass 2 is frame i of pass 1 (a frame whose rows are all bad is emitted
 * without objects).
 */
static int bdc_scan(bdc_t *b, size_t len, int pass)
{
    ing_csv_t csv;
    ing_csv_init(&csv, b->data, len, ',');
    int rc = bdc_header(b, &csv);
    if (rc)
        return rc;
    ing_csv_row_t row;
    bdc_row_t v;
    int64_t cur = 0;
    size_t nobj = 0, fi = 0;
    int have_period = 0;
    for (;;) {
        int r = ing_csv_next(&csv, b->f, BDC_MAX_COLS + 1, &row);
        if (r == 0)
            break;
        if (pass == 2)
            b->st->records++;
        if (r == PW_ETRUNC) {
            if (pass == 2) {
                b->st->truncated = 1;
                bdc_problem(b, "%llu: input ends inside a quoted field",
                            (unsigned long long)row.line);
            }
            break;
        }
        const char *why = "bad quoting";
        int col = -1;
        int bad = r < 0 || bdc_row_frame(b, &row, &v.frame, &why, &col);
        if (!bad && v.frame < cur) {
            why = "frame_id lower than the row before (rows go by frame, ascending)";
            col = b->c_frame;
            bad = 1;
        }
        if (bad) {
            if (pass == 2)
                bdc_bad_row(b, &row, r, why, col);
            continue;
        }
        if (v.frame != cur) {
            if (pass == 1) {
                if (b->nframes == b->frames_cap) {
                    size_t c2 = b->frames_cap ? b->frames_cap * 2 : 1024;
                    bdc_frame_t *p = realloc(b->frames, c2 * sizeof *p);
                    if (!p)
                        return pw_err_set(b->err, PW_ENOMEM, "%s: out of memory", b->name);
                    b->frames = p;
                    b->frames_cap = c2;
                }
                bdc_frame_t *fr = &b->frames[b->nframes++];
                memset(fr, 0, sizeof *fr);
                fr->id = v.frame;
            } else if (cur) {
                rc = bdc_push(b, fi++, nobj);
                if (rc)
                    return rc;
            }
            cur = v.frame;
            nobj = 0;
        }
        if (pass == 1) {
            int64_t per;
            if (!have_period && b->c_period >= 0 &&
                !ing_csv_parse_i64(b->f[b->c_period].p, b->f[b->c_period].len, &per) &&
                per > 0 && per < 100) {
                have_period = 1;
                b->period = (int)per;
            }
            continue;
        }
        /* Pass 2: the object. */
        if (bdc_row_values(b, &v, &why, &col)) {
            bdc_bad_row(b, &row, r, why, col);
            continue;
        }
        if (nobj == UINT16_MAX) {
            bdc_bad_row(b, &row, r, "more than 65535 objects in the frame", -1);
            continue;
        }
        if (nobj == b->objs_cap) {
            size_t c2 = b->objs_cap ? b->objs_cap * 2 : 64;
            pw_object_t *p = realloc(b->objs, c2 * sizeof *p);
            if (!p)
                return pw_err_set(b->err, PW_ENOMEM, "%s: out of memory", b->name);
            b->objs = p;
            b->objs_cap = c2;
        }
        pw_object_t *o = &b->objs[nobj++];
        uint8_t ti = bdc_team_index(b, v.team);
        rc = bdc_entity(b, &v, ti, &o->entity);
        if (rc)
            return rc;
        o->team = ti < BDC_TEAMS ? b->team_code[ti] : bdc_team_code(b, v.team);
        o->x = (float)v.x;
        o->y = (float)v.y;
        o->speed = o->orientation = o->direction = NAN;
        bdc_track_t *tr = bdc_track(b, v.track);
        if (tr) {
            int64_t df = v.frame - tr->last_frame;
            if (tr->last_frame && df > 0 && df <= ING_BDC_SPEED_GAP) {
                double dx = (double)o->x - tr->lx, dy = (double)o->y - tr->ly;
                double dist = sqrt(dx * dx + dy * dy);
                o->speed = (float)(dist * ING_BDC_FPS / (double)df);
                if (dist > 0) {
                    double deg = atan2(dx, dy) * (180.0 / M_PI);
                    o->direction = (float)(deg < 0 ? deg + 360.0 : deg);
                }
            }
            tr->last_frame = v.frame;
            tr->lx = o->x;
            tr->ly = o->y;
        }
    }
    if (pass == 2 && cur)
        return bdc_push(b, fi, nobj);
    return 0;
}

/* Announce the session with its metadata. */
static int bdc_session(bdc_t *b)
{
    if (!b->emit->session)
        return 0;
    char date[16] = "", period[16], pp[16], clk0[24] = "", clk1[24] = "", stop[32] = "",
         inper[24], joined[24], bad[24];
    if (b->have_date)
        snprintf(date, sizeof date, "%04d-%02d-%02d", b->year, b->month, b->day);
    snprintf(period, sizeof period, "%d", b->period);
    snprintf(pp, sizeof pp, "%d", b->pp);
    if (b->have_pp) {
        snprintf(clk0, sizeof clk0, "%lld", (long long)b->clock0_s);
        snprintf(clk1, sizeof clk1, "%lld", (long long)b->end_clock_s);
        snprintf(stop, sizeof stop, "%.2f", (double)b->stopped / ING_BDC_FPS);
    }
    snprintf(inper, sizeof inper, "%llu", (unsigned long long)b->events_in_period);
    snprintf(joined, sizeof joined, "%llu", (unsigned long long)b->events_joined);
    snprintf(bad, sizeof bad, "%llu", (unsigned long long)b->events_bad);
    const char *timing = b->have_pp ? (b->have_shots ? "pp_info+shots" : "pp_info")
                         : b->have_date ? "video"
                                        : "relative";
    static const char *const keys[] = {
        "format",           "game",           "date",           "home",
        "away",             "period",         "power_play",     "fps",
        "timing",           "pp_start_clock_s", "pp_end_clock_s", "clock_stopped_s",
        "events_path",      "events_in_period", "events_joined", "events_bad_rows",
    };
    const char *values[] = {
        "bdc", b->game,  date,   b->home,        b->away,
        period, pp,      "30",   timing,         clk0,
        clk1,  stop,     b->events_path, inper, joined,
        bad,
    };
    ing_session_t s = {
        .id = b->session,
        .name = b->stem,
        .n = sizeof keys / sizeof keys[0],
        .keys = keys,
        .values = values,
    };
    return b->emit->session(b->emit->ctx, &s);
}

int ing_bdc_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                   ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err)
{
    if (!name || (!data && len) || !names || !names->channels || !names->entities ||
        !names->labels || !emit || !st)
        return pw_err_set(err, PW_EARG, "bdc: missing argument");
    bdc_t *b = calloc(1, sizeof *b);
    if (!b)
        return pw_err_set(err, PW_ENOMEM, "%s: out of memory", name);
    b->name = name;
    b->data = data;
    b->names = names;
    b->emit = emit;
    b->st = st;
    b->err = err;
    pw_frames_init(&b->batch);
    st->bytes += len;
    bdc_name_parse(b);
    b->session = ing_csv_hash53(b->stem, strlen(b->stem));
    if (b->have_date) { /* until pp_info says otherwise */
        snprintf(b->home, sizeof b->home, "%s", b->team_b);
        snprintf(b->away, sizeof b->away, "%s", b->team_a);
    }

    int rc = bdc_scan(b, len, 1);
    if (rc)
        goto out;
    if (!b->period)
        b->period = b->name_period ? b->name_period : 1;
    if ((rc = bdc_pp_info(b)) != 0 || (rc = bdc_shots(b)) != 0)
        goto out;
    for (size_t i = 0; i < b->nframes; i++)
        b->frames[i].gf = b->have_pp ? bdc_game_frames(b, b->frames[i].id)
                                     : b->frames[i].id - 1;
    if (b->have_date) {
        b->base_ns = (bdc_days(b->year, b->month, b->day) * 86400 +
                      (int64_t)(b->period - 1) * ING_BDC_PERIOD_S) * PW_NS_PER_S;
        if (b->have_pp)
            b->base_ns += (ING_BDC_PERIOD_S - b->clock0_s) * PW_NS_PER_S;
    }
    if ((rc = bdc_events(b, o)) != 0 || (rc = bdc_session(b)) != 0)
        goto out;

    b->batch_frames = o && o->batch_frames ? o->batch_frames : 64;
    if (pw_frames_reserve(&b->batch, b->batch_frames, b->batch_frames * 16)) {
        rc = pw_err_set(err, PW_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    rc = bdc_scan(b, len, 2);
    if (rc == 0)
        rc = bdc_flush(b);
out:
    pw_frames_fini(&b->batch);
    free(b->frames);
    free(b->stops);
    free(b->tracks);
    free(b->objs);
    free(b);
    return rc;
}
