/*
 * Tests of the Big Data Cup 2022 hockey tracking decoder. Facts about the
 * real files (hockey/bdc2022 under $PITWALL_DATA) were computed with
 * Python's csv module by a separate script following the rules in
 * ingest/ing_bdc.c (frames = distinct frame_id; time from pp_info.csv and
 * videoShotsInfo; events of pxp_womens_oly_2022_v2.csv by date, teams,
 * period and clock), e.g. for P1 PP1 of 2022-02-08 Canada at USA:
 *   rows = list(csv.DictReader(open(f))); len(rows) == 6424
 *   len({r['frame_id'] for r in rows}) == 768
 * A small synthetic game in a temporary directory checks the join rule
 * frame by frame. Inputs are copied into exact-size heap buffers so ASan
 * sees any overread.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "ingest/ing_csv.h"
#include "ingest/ing_format.h"

#define GAME1 "hockey/bdc2022/TrackingData/2022-02-08 Canada at USA/2022-02-08 Canada at USA"
#define GAME4 "hockey/bdc2022/TrackingData/2022-02-14 Finland at USA/2022-02-14 Finland at USA"

static pw_intern_t *channels, *entities, *labels;
static ing_names_t names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(4096, &channels), 0);
    cr_assert_eq(pw_intern_create(1 << 16, &entities), 0);
    cr_assert_eq(pw_intern_create(4096, &labels), 0);
    names = (ing_names_t){channels, entities, labels};
}

static void teardown(void)
{
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

/* Everything the callbacks saw, copied out of the borrowed batches. */
typedef struct got {
    size_t n, cap;
    int64_t *ts;
    uint64_t *session;
    uint32_t *label; /* PW_FRAME_LABELS per frame */
    uint16_t *nobj;
    size_t *first;
    size_t nobjs, ocap;
    pw_object_t *obj;
    size_t batches, max_batch;
    int sessions;
    uint64_t session_id;
    char session_name[256];
    size_t nmeta;
    char meta_key[32][64];
    char meta_val[32][1024];
    int stop_with;
} got_t;

static int on_frames(void *ctx, const pw_frames_t *b)
{
    got_t *g = ctx;
    g->batches++;
    if (b->n > g->max_batch)
        g->max_batch = b->n;
    for (size_t i = 0; i < b->n; i++) {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 1024;
            g->ts = realloc(g->ts, g->cap * sizeof *g->ts);
            g->session = realloc(g->session, g->cap * sizeof *g->session);
            g->label = realloc(g->label, g->cap * PW_FRAME_LABELS * sizeof *g->label);
            g->nobj = realloc(g->nobj, g->cap * sizeof *g->nobj);
            g->first = realloc(g->first, g->cap * sizeof *g->first);
            cr_assert(g->ts && g->session && g->label && g->nobj && g->first);
        }
        g->ts[g->n] = b->ts_ns[i];
        g->session[g->n] = b->session[i];
        memcpy(&g->label[g->n * PW_FRAME_LABELS], &b->label[i * PW_FRAME_LABELS],
               PW_FRAME_LABELS * sizeof *g->label);
        g->nobj[g->n] = b->nobj[i];
        g->first[g->n] = g->nobjs;
        for (uint16_t k = 0; k < b->nobj[i]; k++) {
            size_t o = b->first[i] + k;
            if (g->nobjs == g->ocap) {
                g->ocap = g->ocap ? g->ocap * 2 : 4096;
                g->obj = realloc(g->obj, g->ocap * sizeof *g->obj);
                cr_assert_not_null(g->obj);
            }
            g->obj[g->nobjs++] = (pw_object_t){b->entity[o], b->team[o], b->x[o], b->y[o],
                                                b->speed[o], b->orientation[o],
                                                b->direction[o]};
        }
        g->n++;
    }
    return g->stop_with;
}

static int on_session(void *ctx, const ing_session_t *s)
{
    got_t *g = ctx;
    g->sessions++;
    g->session_id = s->id;
    snprintf(g->session_name, sizeof g->session_name, "%s", s->name);
    g->nmeta = s->n < 32 ? s->n : 32;
    for (size_t i = 0; i < g->nmeta; i++) {
        snprintf(g->meta_key[i], sizeof g->meta_key[i], "%s", s->keys[i]);
        snprintf(g->meta_val[i], sizeof g->meta_val[i], "%s", s->values[i]);
    }
    return 0;
}

static const char *meta(const got_t *g, const char *key)
{
    for (size_t i = 0; i < g->nmeta; i++)
        if (!strcmp(g->meta_key[i], key))
            return g->meta_val[i];
    cr_assert_fail("no session pair '%s'", key);
    return NULL;
}

static void got_free(got_t *g)
{
    free(g->ts);
    free(g->session);
    free(g->label);
    free(g->nobj);
    free(g->first);
    free(g->obj);
    memset(g, 0, sizeof *g);
}

/* The path of a data file; skip (or fail under CI) when it is absent. */
static void data_path(const char *rel, char *path, size_t cap)
{
    const char *dir = getenv("PITWALL_DATA");
    snprintf(path, cap, "%s/%s", dir && dir[0] ? dir : "../shared/data", rel);
    if (access(path, R_OK) != 0) {
        if (getenv("CI"))
            cr_assert_fail("%s: %s (set PITWALL_DATA to the shared data folder)", path,
                           strerror(errno));
        cr_skip_test("%s: %s (set PITWALL_DATA to the shared data folder)", path,
                     strerror(errno));
    }
}

/* Decode data[0..len) (copied to an exact-size buffer) named name. */
static int decode(const char *name, const void *data, size_t len, const ing_opts_t *o, got_t *g,
                  ing_stats_t *st, pw_err_t *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    if (len)
        memcpy(copy, data, len);
    ing_emit_t emit = {NULL, on_frames, on_session, g};
    ing_stats_init(st);
    int rc = ing_bdc_decode(name, copy, len, o, &names, &emit, st, err);
    free(copy);
    return rc;
}

/* Decode a file of the shared data. */
static int decode_file(const char *rel, const ing_opts_t *o, got_t *g, ing_stats_t *st,
                       pw_err_t *err)
{
    char path[2048];
    data_path(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    rewind(f);
    uint8_t *d = malloc((size_t)n);
    cr_assert_not_null(d);
    cr_assert_eq(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    int rc = decode(path, d, (size_t)n, o, g, st, err);
    free(d);
    return rc;
}

static const char *entity_name(uint32_t id)
{
    const char *s = pw_intern_name(entities, id);
    return s ? s : "(none)";
}

/* How many labels named `name` the frames carry; the ts of each in ts_out. */
static size_t frames_labelled(const got_t *g, const char *name, int64_t *ts_out, size_t max)
{
    uint32_t id;
    if (pw_intern_find(labels, name, strlen(name), &id) != 0)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            if (g->label[i * PW_FRAME_LABELS + l] == id) {
                if (n < max)
                    ts_out[n] = g->ts[i];
                n++;
            }
    return n;
}

TestSuite(ing_bdc, .init = setup, .fini = teardown, .timeout = 120);

Test(ing_bdc, decodes_every_row_of_a_power_play_into_frames)
{
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    ing_opts_t o = {.batch_frames = 100};
    cr_assert_eq(decode_file(GAME1 " P1 PP1.csv", &o, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 6424);
    cr_assert_eq(st.frames, 768);
    cr_assert_eq(st.objects, 6424);
    cr_assert_eq(st.skipped, 0);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(st.points, 0);
    cr_assert_eq(g.n, 768);
    cr_assert_eq(g.max_batch, 100);
    uint16_t lo = UINT16_MAX, hi = 0;
    for (size_t i = 0; i < g.n; i++) {
        lo = g.nobj[i] < lo ? g.nobj[i] : lo;
        hi = g.nobj[i] > hi ? g.nobj[i] : hi;
        cr_assert(i == 0 || g.ts[i] > g.ts[i - 1]);
        cr_assert_eq(g.session[i], 5858668801880193ULL); /* FNV-1a of the stem, 53 bits */
    }
    cr_assert_eq(lo, 6);
    cr_assert_eq(hi, 11);
    /* Frames 301..1068. The power play starts at 6:26 of period 1 (pp_info)
     * and the main camera comes in 10 s later: 2022-02-08 00:13:44 UTC on
     * the game-time axis (20:00 - 6:26 = 13:34, + 10 s); the last frame is
     * 1067 frames after the start: 35.567 s. */
    cr_assert_eq(st.first_ts_ns, 1644279224000000000LL);
    cr_assert_eq(st.last_ts_ns, 1644279249566666667LL);
    cr_assert_eq(g.sessions, 1);
    cr_assert_eq(g.session_id, 5858668801880193ULL);
    cr_assert_str_eq(g.session_name, "2022-02-08 Canada at USA P1 PP1");
    cr_assert_str_eq(meta(&g, "game"), "2022-02-08 Canada at USA");
    cr_assert_str_eq(meta(&g, "home"), "USA");
    cr_assert_str_eq(meta(&g, "away"), "Canada");
    cr_assert_str_eq(meta(&g, "period"), "1");
    cr_assert_str_eq(meta(&g, "power_play"), "1");
    cr_assert_str_eq(meta(&g, "fps"), "30");
    cr_assert_str_eq(meta(&g, "timing"), "pp_info+shots");
    cr_assert_str_eq(meta(&g, "pp_start_clock_s"), "386");
    cr_assert_str_eq(meta(&g, "pp_end_clock_s"), "350");
    cr_assert_str_eq(meta(&g, "clock_stopped_s"), "0.00");
    got_free(&g);
}

Test(ing_bdc, names_players_by_team_and_jersey_and_tells_home_from_away)
{
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode_file(GAME1 " P1 PP1.csv", NULL, &g, &st, &err), 0, "%s", err.msg);
    /* Frame 301, first row: track 1, Canada #6 at (171.0717, 46.0723). */
    pw_object_t *o = &g.obj[0];
    cr_assert_str_eq(entity_name(o->entity), "bdc/Canada/6");
    cr_assert_eq(o->team, PW_TEAM_AWAY);
    cr_assert_float_eq(o->x, 171.0717f, 1e-3);
    cr_assert_float_eq(o->y, 46.0723f, 1e-3);
    cr_assert(isnan(o->orientation));
    cr_assert_str_eq(entity_name(g.obj[1].entity), "bdc/USA/2");
    cr_assert_eq(g.obj[1].team, PW_TEAM_HOME);
    /* 5608 rows have a jersey, 816 have none (100): those are named by track. */
    size_t jersey = 0, track = 0;
    for (size_t i = 0; i < g.nobjs; i++) {
        const char *e = entity_name(g.obj[i].entity);
        if (!strncmp(e, "bdc/2022-02-08 Canada at USA P1 PP1/track/", 42))
            track++;
        else if (!strncmp(e, "bdc/Canada/", 11) || !strncmp(e, "bdc/USA/", 8))
            jersey++;
        cr_assert(g.obj[i].team == PW_TEAM_HOME || g.obj[i].team == PW_TEAM_AWAY);
    }
    cr_assert_eq(jersey, 5608);
    cr_assert_eq(track, 816);
    uint32_t id;
    cr_assert_eq(pw_intern_find(entities, "bdc/2022-02-08 Canada at USA P1 PP1/track/11", 44,
                                &id), 0);
    got_free(&g);
}

Test(ing_bdc, takes_home_from_pp_info_when_the_folder_name_is_swapped)
{
    /* The folder says "Finland at USA"; pp_info, the play-by-play (venue)
     * and the roster all have Finland at home. */
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode_file(GAME4 " P3 PP6.csv", NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 3509);
    cr_assert_eq(st.frames, 464);
    cr_assert_str_eq(meta(&g, "home"), "Finland");
    cr_assert_str_eq(meta(&g, "away"), "USA");
    size_t fin = 0, usa = 0;
    for (size_t i = 0; i < g.nobjs; i++) {
        const char *e = entity_name(g.obj[i].entity);
        if (!strncmp(e, "bdc/Finland/", 12)) {
            cr_assert_eq(g.obj[i].team, PW_TEAM_HOME, "%s", e);
            fin++;
        } else if (!strncmp(e, "bdc/USA/", 8)) {
            cr_assert_eq(g.obj[i].team, PW_TEAM_AWAY, "%s", e);
            usa++;
        }
    }
    cr_assert(fin > 0 && usa > 0);
    cr_assert_eq(st.events, 12);
    got_free(&g);
}

Test(ing_bdc, derives_speed_and_direction_from_the_previous_position_of_the_track)
{
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode_file(GAME1 " P1 PP1.csv", NULL, &g, &st, &err), 0, "%s", err.msg);
    /* Track 1 (Canada #6): (171.0717, 46.0723) at frame 301, (171.4840,
     * 46.3178) at 302: 0.4798 ft in 1/30 s = 14.394 ft/s, heading 59.23
     * degrees clockwise from +y. */
    cr_assert(isnan(g.obj[0].speed) && isnan(g.obj[0].direction));
    pw_object_t *o = &g.obj[g.first[1]];
    cr_assert_str_eq(entity_name(o->entity), "bdc/Canada/6");
    cr_assert_float_eq(o->speed, 14.394f, 2e-3);
    cr_assert_float_eq(o->direction, 59.232f, 2e-2);
    got_free(&g);
}

Test(ing_bdc, stops_the_clock_in_camera_gaps_when_the_video_outlasts_the_power_play)
{
    /* P2 PP3: 153 s of video for 120 s of clock (991 -> 871); the main
     * camera is away for frames 474..616 and 3417..4292, so 33 s of
     * stopped clock go into those gaps (4.8 s, then 28.2 s). */
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode_file(GAME1 " P2 PP3.csv", NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 23423);
    cr_assert_eq(st.frames, 3545);
    cr_assert_str_eq(meta(&g, "clock_stopped_s"), "33.00");
    /* Period 2 starts at 00:20:00 of the game day; the power play at 16:31
     * on the clock (00:23:29); its last frame lands at clock 871.4, the
     * power play's end (871) within a frame's rounding. */
    cr_assert_eq(st.first_ts_ns, 1644279809000000000LL);
    cr_assert_eq(st.last_ts_ns, 1644279928600000000LL);
    /* Frames 3416 and 4293 are 877 video frames apart but 1 s of clock. */
    size_t k = 0;
    while (k < g.n && g.ts[k] < 1644279919000000000LL)
        k++;
    cr_assert_eq(g.ts[k - 1], 1644279918066666667LL);
    cr_assert_eq(g.ts[k], 1644279919066666667LL);
    got_free(&g);
}

Test(ing_bdc, labels_the_frame_nearest_each_shot)
{
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode_file(GAME1 " P2 PP3.csv", NULL, &g, &st, &err), 0, "%s", err.msg);
    /* The six shots of the play-by-play in this power play, at clock 979,
     * 925, 914, 894, 884 and 881: the frames at those game times (the last
     * is the first frame after the camera comes back, 2 frames off). */
    int64_t ts[8];
    cr_assert_eq(frames_labelled(&g, "Shot", ts, 8), 6);
    static const int64_t want[6] = {
        1644279821000000000LL, 1644279875000000000LL, 1644279886000000000LL,
        1644279906000000000LL, 1644279916000000000LL, 1644279919066666667LL,
    };
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ts[i], want[i], "shot %d", i);
    cr_assert_eq(frames_labelled(&g, "Play", ts, 0), 27);
    cr_assert_eq(frames_labelled(&g, "Puck Recovery", ts, 0), 20);
    cr_assert_eq(frames_labelled(&g, "Dump In/Out", ts, 0), 5);
    cr_assert_eq(frames_labelled(&g, "Zone Entry", ts, 0), 3);
    cr_assert_eq(frames_labelled(&g, "Faceoff Win", ts, 0), 2);
    cr_assert_eq(frames_labelled(&g, "Takeaway", ts, 0), 2);
    cr_assert_eq(frames_labelled(&g, "Penalty Taken", ts, 0), 1);
    cr_assert_eq(st.events, 66);
    cr_assert_str_eq(meta(&g, "events_joined"), "66");
    got_free(&g);
}

Test(ing_bdc, finds_each_event_of_the_game_in_its_period)
{
    /* 2022-02-08 USA v Canada has 1826 play-by-play rows: 633 in period 1,
     * 607 in period 2, 586 in period 3. One power play of each period
     * sees its period's events and joins those its video shows. */
    static const struct {
        const char *file;
        const char *in_period;
        uint64_t joined;
    } pp[] = {
        {GAME1 " P1 PP1.csv", "633", 15},
        {GAME1 " P2 PP3.csv", "607", 66},
        {GAME1 " P3 PP6.csv", "586", 13},
    };
    for (size_t i = 0; i < 3; i++) {
        got_t g = {0};
        ing_stats_t st;
        pw_err_t err = {0};
        cr_assert_eq(decode_file(pp[i].file, NULL, &g, &st, &err), 0, "%s", err.msg);
        cr_assert_str_eq(meta(&g, "events_in_period"), pp[i].in_period);
        cr_assert_eq(st.events, pp[i].joined, "%s: %llu", pp[i].file,
                     (unsigned long long)st.events);
        cr_assert_str_eq(meta(&g, "events_bad_rows"), "0");
        const char *ep = meta(&g, "events_path");
        cr_assert(strstr(ep, "pxp_womens_oly_2022_v2.csv") != NULL, "%s", ep);
        got_free(&g);
    }
}

Test(ing_bdc, fails_when_the_events_file_it_is_given_is_missing)
{
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    ing_opts_t o = {.events_path = "/nonexistent/pxp.csv"};
    cr_assert_eq(decode_file(GAME1 " P1 PP1.csv", &o, &g, &st, &err), -ENOENT);
    cr_assert_str_eq(err.msg, "/nonexistent/pxp.csv: No such file or directory");
    cr_assert_eq(g.n, 0);
    cr_assert_eq(g.sessions, 0);
    got_free(&g);
}

/* A synthetic game in a temporary directory. */

static char tmp_root[64];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_root, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

#define SYN_DIR "TrackingData/2022-01-01 Bb at Aa"
#define SYN_STEM "2022-01-01 Bb at Aa P1 PP1"

static void make_game(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/pw_bdc_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
    char path[512];
    snprintf(path, sizeof path, "%s/TrackingData", tmp_root);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/" SYN_DIR, tmp_root);
    cr_assert_eq(mkdir(path, 0700), 0);
    /* 14 s of video for 10 s of clock (600 -> 590): 4 s stopped. The
     * folder name has the teams the wrong way round; pp_info is right. */
    put("TrackingData/pp_info.csv",
        "game_name,penalty_number,start_video_clock_seconds,end_video_clock_seconds,"
        "start_period,end_period,start_game_clock_seconds,end_game_clock_seconds\n"
        "2022-01-01 Aa at Bb,2,0,10,1,1,300,290\n"
        "2022-01-02 Aa at Bb,1,0,10,1,1,100,90\n"
        "2022-01-01 Aa at Bb,1,100,114,1,1,600,590\n");
    /* Two shots with a 60-frame gap: 2 s of the stop go there. */
    put(SYN_DIR "/videoShotsInfo_" SYN_STEM ".csv",
        "shot_ind,frame_start_shot,frame_end_shot,time_start_shot(sec),time_end_shot(sec)\n"
        "2,121,180,4.0,6.0\n"
        "1,1,60,0.0,2.0\n");
    /* Frames 1..60 and 121..180: Aa #7 moving +x at 3 ft/s, Bb (no
     * jersey) moving +y at 6 ft/s. */
    size_t cap = 64 * 1024, n = 0;
    char *t = malloc(cap);
    cr_assert_not_null(t);
    n += (size_t)snprintf(t + n, cap - n,
                          "frame_id,period,track_id,team_id,team_name,jersey_number,x_ft,y_ft\n");
    for (int f = 1; f <= 180; f++) {
        if (f > 60 && f < 121)
            continue;
        n += (size_t)snprintf(t + n, cap - n,
                              "%d,1,1,Light,Aa,7,%.1f,40\n%d,1,2,Dark,Bb,100,50,%.1f\n", f,
                              100 + f * 0.1, f, 20 + f * 0.2);
    }
    put(SYN_DIR "/" SYN_STEM ".csv", t);
    free(t);
    /* Play-by-play, quoted, CRLF, at the root (two levels up). */
#define PXP(date, team, opp, period, clock, event)                                         \
    "\"" date "\",\"Olympic (Women) - " team "\",\"Olympic (Women) - " opp "\",\"x\",\"" period \
    "\",\"" clock "\",\"" event "\"\r\n"
    put("pxp_test.csv",
        "\"game_date\",\"team_name\",\"opp_team_name\",\"venue\",\"period\","
        "\"clock_seconds\",\"event\"\r\n"
        PXP("1/1/2022", "Aa", "Bb", "1", "600", "Shot")
        PXP("1/1/2022", "Bb", "Aa", "1", "599", "Play")
        PXP("1/1/2022", "Aa", "Bb", "1", "599", "Play")
        PXP("1/1/2022", "Aa", "Bb", "1", "599", "Takeaway")
        PXP("1/1/2022", "Bb", "Aa", "1", "598", "Faceoff Win")
        PXP("1/1/2022", "Aa", "Bb", "1", "597", "Zone \"\"Entry\"\"")
        PXP("1/1/2022", "Aa", "Bb", "1", "590", "Shot")  /* past the last frame */
        PXP("1/1/2022", "Aa", "Bb", "2", "599", "Shot")  /* another period */
        PXP("2/1/2022", "Aa", "Bb", "1", "599", "Shot")  /* another day */
        PXP("1/1/2022", "Aa", "Cc", "1", "599", "Shot")  /* another game */
        PXP("1/1/2022", "Aa", "Bb", "1", "abc", "Shot")); /* a bad row */
#undef PXP
    put("zz_no_clock.csv", "\"game_date\",\"team_name\",\"opp_team_name\",\"period\",\"event\"\n");
}

static void remove_game(void)
{
    static const char *const files[] = {
        SYN_DIR "/" SYN_STEM ".csv", SYN_DIR "/videoShotsInfo_" SYN_STEM ".csv",
        "TrackingData/pp_info.csv", "pxp_test.csv", "zz_no_clock.csv",
    };
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp_root, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/" SYN_DIR, tmp_root);
    rmdir(path);
    snprintf(path, sizeof path, "%s/TrackingData", tmp_root);
    rmdir(path);
    rmdir(tmp_root);
}

/* Decode the synthetic power play from its file. */
static int decode_game(const ing_opts_t *o, got_t *g, ing_stats_t *st, pw_err_t *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/" SYN_DIR "/" SYN_STEM ".csv", tmp_root);
    uint8_t *d = NULL;
    size_t len = 0;
    cr_assert_eq(ing_file_load(path, 1 << 20, &d, &len, err), 0, "%s", err->msg);
    int rc = decode(path, d, len, o, g, st, err);
    free(d);
    return rc;
}

/* Index of the frame at ts, or -1. */
static long frame_at(const got_t *g, int64_t ts)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->ts[i] == ts)
            return (long)i;
    return -1;
}

static const char *label_of(const got_t *g, long i, int slot)
{
    uint32_t id = g->label[(size_t)i * PW_FRAME_LABELS + (size_t)slot];
    return id ? pw_intern_name(labels, id) : "";
}

Test(ing_bdc, joins_events_by_game_period_and_clock_to_the_nearest_frame)
{
    make_game();
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    int rc = decode_game(NULL, &g, &st, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(st.frames, 120);
    cr_assert_eq(st.objects, 240);
    cr_assert_str_eq(meta(&g, "home"), "Bb");
    cr_assert_str_eq(meta(&g, "away"), "Aa");
    cr_assert_str_eq(meta(&g, "timing"), "pp_info+shots");
    cr_assert_str_eq(meta(&g, "clock_stopped_s"), "2.00");
    cr_assert_str_eq(meta(&g, "events_in_period"), "7");
    cr_assert_str_eq(meta(&g, "events_joined"), "6");
    cr_assert_str_eq(meta(&g, "events_bad_rows"), "1");
    cr_assert(strstr(meta(&g, "events_path"), "/pxp_test.csv") != NULL);
    cr_assert_eq(st.events, 6);
    /* 2022-01-01 00:00 UTC + (20:00 - 10:00 on the clock) = 1640995800 s;
     * frame f at (f - 1) / 30 s, less 2 s after the gap. */
    const int64_t t0 = 1640995800LL * 1000000000LL;
    cr_assert_eq(g.ts[0], t0);
    cr_assert_eq(st.last_ts_ns, t0 + 3966666667LL); /* frame 180: 119 frames */
    long f1 = frame_at(&g, t0), f31 = frame_at(&g, t0 + 1000000000LL),
         f32 = frame_at(&g, t0 + 1033333333LL), f121 = frame_at(&g, t0 + 2000000000LL),
         f151 = frame_at(&g, t0 + 3000000000LL);
    cr_assert(f1 == 0 && f31 == 30 && f32 == 31 && f121 == 60 && f151 == 90);
    cr_assert_str_eq(label_of(&g, f1, 0), "Shot");           /* clock 600: the start */
    cr_assert_str_eq(label_of(&g, f31, 0), "Play");          /* clock 599: 1 s in */
    cr_assert_str_eq(label_of(&g, f31, 1), "Play");
    cr_assert_str_eq(label_of(&g, f32, 0), "Takeaway");      /* a third event: next frame */
    cr_assert_str_eq(label_of(&g, f121, 0), "Faceoff Win");  /* clock 598: after the gap */
    cr_assert_str_eq(label_of(&g, f151, 0), "Zone \"Entry\""); /* clock 597 */
    size_t labelled = 0;
    for (size_t i = 0; i < g.n * PW_FRAME_LABELS; i++)
        labelled += g.label[i] != PW_LABEL_NONE;
    cr_assert_eq(labelled, 6); /* the shot at 590 is 6 s past the last frame */
    /* Objects: Aa #7 away at 3 ft/s heading +x; Bb (track 2) home at
     * 6 ft/s heading +y. */
    pw_object_t *a = &g.obj[g.first[1]], *b = &g.obj[g.first[1] + 1];
    cr_assert_str_eq(entity_name(a->entity), "bdc/Aa/7");
    cr_assert_eq(a->team, PW_TEAM_AWAY);
    cr_assert_float_eq(a->speed, 3.0f, 1e-3);
    cr_assert_float_eq(a->direction, 90.0f, 1e-2);
    cr_assert_str_eq(entity_name(b->entity), "bdc/" SYN_STEM "/track/2");
    cr_assert_eq(b->team, PW_TEAM_HOME);
    cr_assert_float_eq(b->speed, 6.0f, 1e-3);
    cr_assert_float_eq(b->direction, 0.0f, 1e-2);
    cr_assert(isnan(g.obj[g.first[f121]].speed)); /* 61 frames since: too old */
    got_free(&g);

    /* Without videoShotsInfo the clock runs through the gap. */
    char path[512];
    snprintf(path, sizeof path, "%s/" SYN_DIR "/videoShotsInfo_" SYN_STEM ".csv", tmp_root);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(decode_game(NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_str_eq(meta(&g, "timing"), "pp_info");
    cr_assert_eq(g.ts[60], t0 + 4000000000LL);
    cr_assert_eq(st.events, 6);
    cr_assert_str_eq(label_of(&g, 59, 0), "Faceoff Win"); /* clock 598: frame 60, 1 frame off */
    cr_assert_str_eq(label_of(&g, 60, 0), "Zone \"Entry\""); /* clock 597: frame 121, 1 s off */
    got_free(&g);

    /* An events file without clock_seconds is refused by name. */
    snprintf(path, sizeof path, "%s/zz_no_clock.csv", tmp_root);
    ing_opts_t o = {.events_path = path};
    cr_assert_eq(decode_game(&o, &g, &st, &err), PW_ECORRUPT);
    char want[600];
    snprintf(want, sizeof want, "%s:1: missing required column 'clock_seconds'", path);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(g.n, 0);
    got_free(&g);
    remove_game();
}

/* Synthetic inputs named without a game: no side files, relative time. */

Test(ing_bdc, places_frames_without_a_game_name_from_the_first_video_frame)
{
    const char *csv = "frame_id,track_id,team_name,x_ft,y_ft\n"
                      "1,1,A,10,20\n"
                      "2,1,A,10.5,20\n"
                      "31,1,A,11,20\n";
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(g.n, 3);
    cr_assert_eq(g.ts[0], 0);
    cr_assert_eq(g.ts[1], 33333333);
    cr_assert_eq(g.ts[2], 1000000000);
    cr_assert_str_eq(meta(&g, "timing"), "relative");
    cr_assert_eq(g.session_id, ing_csv_hash53("mem", 3));
    cr_assert_str_eq(entity_name(g.obj[0].entity), "bdc/mem/track/1"); /* no jersey column */
    cr_assert_eq(g.obj[0].team, PW_TEAM_UNKNOWN);
    cr_assert_float_eq(g.obj[1].speed, 15.0f, 1e-4);
    got_free(&g);
}

Test(ing_bdc, rejects_a_header_without_a_required_column)
{
    const char *csv = "frame_id,track_id,team_name,x_ft\n1,1,A,2\n";
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "mem.csv:1: missing required column 'y_ft'");
    cr_assert_eq(g.n, 0);
    cr_assert_eq(g.sessions, 0);
    cr_assert_eq(decode("mem.csv", "", 0, NULL, &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "mem.csv: empty input: no header line");
    cr_assert_eq(decode("mem.csv", "\xEF\xBB\xBF\n", 4, NULL, &g, &st, &err), PW_ECORRUPT);
    cr_assert_eq(ing_bdc_decode("mem.csv", NULL, 0, NULL, NULL, NULL, &st, &err), PW_EARG);
}

Test(ing_bdc, skips_and_counts_bad_rows)
{
    const char *csv = "frame_id,track_id,team_name,x_ft,y_ft\n"
                      "1,1,A,10,20\n"
                      "1,2,A,abc,20\n"   /* bad number */
                      "2,1,A,10,20,7\n"  /* a field too many */
                      "2,1,A,11,20\n"
                      "1,3,A,12,20\n"    /* goes back in frames */
                      "3,1,A,12,\n"      /* empty y */
                      "3,2,B,12,21\n";
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 7);
    cr_assert_eq(st.skipped, 4);
    cr_assert_eq(st.frames, 3);
    cr_assert_eq(st.objects, 3);
    cr_assert_eq(st.truncated, 0);
    cr_assert_str_eq(st.first_problem, "mem.csv:3: bad x_ft 'abc' (byte 56): row skipped");
    got_free(&g);
}

Test(ing_bdc, reports_a_cut_last_line_as_truncation_not_a_skip)
{
    const char *csv = "frame_id,track_id,team_name,x_ft,y_ft\n"
                      "1,1,A,10,20\n"
                      "2,1,A,10";
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.skipped, 0);
    cr_assert_eq(st.frames, 1);
    cr_assert_str_eq(st.first_problem, "mem.csv:3: last line cut short (wrong number of fields)");
    got_free(&g);
}

Test(ing_bdc, stops_when_a_callback_says_so)
{
    const char *csv = "frame_id,track_id,team_name,x_ft,y_ft\n1,1,A,1,1\n2,1,A,1,1\n3,1,A,1,1\n";
    got_t g = {.stop_with = 9};
    ing_stats_t st;
    pw_err_t err = {0};
    ing_opts_t o = {.batch_frames = 2};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), &o, &g, &st, &err), 9);
    cr_assert_eq(g.n, 2);
    got_free(&g);
}

Test(ing_bdc, survives_garbage_and_every_cut_of_a_real_file)
{
    char path[2048];
    data_path(GAME1 " P1 PP1.csv", path, sizeof path);
    uint8_t *d = NULL;
    size_t len = 0;
    pw_err_t err = {0};
    cr_assert_eq(ing_file_load(path, 1 << 24, &d, &len, &err), 0, "%s", err.msg);
    got_t g = {0};
    ing_stats_t st;
    /* Every prefix of the first 2 KB (named without a game, so no side
     * files), and every 61st with the real name: the header or nothing is
     * an error, else truncation at most. */
    for (size_t n = 0; n <= 2048; n++) {
        got_free(&g);
        int rc = decode(n % 61 ? "cut.csv" : path, d, n, NULL, &g, &st, &err);
        cr_assert(rc == 0 || rc == PW_ECORRUPT, "cut at %zu: %d %s", n, rc, err.msg);
        cr_assert_eq(st.skipped, 0, "cut at %zu: %s", n, st.first_problem);
    }
    free(d);
    uint64_t x = 99;
    uint8_t junk[1024], with[1100];
    static const char hdr[] = "frame_id,track_id,team_name,x_ft,y_ft\n";
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(round * 13) % sizeof junk;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            junk[i] = round % 2 ? (uint8_t)x : (uint8_t)",\n\"0123456789.-AB"[x % 16];
        }
        got_free(&g);
        int rc = decode("junk.csv", junk, n, NULL, &g, &st, &err);
        cr_assert(rc == 0 || rc == PW_ECORRUPT, "round %d: %d", round, rc);
        memcpy(with, hdr, sizeof hdr - 1);
        memcpy(with + sizeof hdr - 1, junk, n);
        got_free(&g);
        cr_assert_eq(decode("junk.csv", with, n + sizeof hdr - 1, NULL, &g, &st, &err), 0,
                     "round %d: %s", round, err.msg);
    }
    got_free(&g);
}
