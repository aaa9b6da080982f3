#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "ingest/ing_format.h"
#include "ingest/ing_ngs.h"

/*
 * The facts checked against the real files below were read from the files
 * themselves (zcat | awk): distinct `time` values, rows per time, events.
 */

#define NGS_DIR "/football/ngs"
#define MIRACLE "2017_MIN_2018011401_4497.tsv.gz"

static pw_intern_t *entities, *labels;
static ing_names_t names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1 << 16, &entities), 0);
    cr_assert_eq(pw_intern_create(1024, &labels), 0);
    names = (ing_names_t){.channels = NULL, .entities = entities, .labels = labels};
}

static void teardown(void)
{
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

TestSuite(ing_ngs, .init = setup, .fini = teardown, .timeout = 120);

/* ---------------------------------------------------------------------------
 * What a decode emitted, copied out of the borrowed batches.
 */

#define MAX_SESS 8
#define MAX_KV 32

typedef struct got {
    pw_frames_t fr;      /* every frame */
    size_t batches;
    size_t max_batch;    /* largest batch seen */
    int stop_at;         /* return 7 from this batch (1-based); 0 = never */
    int nsess;
    uint64_t sess_id[MAX_SESS];
    char sess_name[MAX_SESS][64];
    size_t sess_at[MAX_SESS]; /* frames received before the session */
    size_t nkv[MAX_SESS];
    char *key[MAX_SESS][MAX_KV], *val[MAX_SESS][MAX_KV];
} got_t;

static int on_frames(void *ctx, const pw_frames_t *b)
{
    got_t *g = ctx;
    pw_object_t objs[256];
    for (size_t i = 0; i < b->n; i++) {
        cr_assert(b->nobj[i] <= 256);
        for (uint16_t k = 0; k < b->nobj[i]; k++) {
            size_t o = b->first[i] + k;
            objs[k] = (pw_object_t){b->entity[o], b->team[o], b->x[o], b->y[o], b->speed[o],
                                    b->orientation[o], b->direction[o]};
        }
        cr_assert_eq(pw_frames_push(&g->fr, b->ts_ns[i], b->session[i],
                                    &b->label[i * PW_FRAME_LABELS], objs, b->nobj[i]), 0);
    }
    g->batches++;
    if (b->n > g->max_batch)
        g->max_batch = b->n;
    return g->stop_at && (int)g->batches == g->stop_at ? 7 : 0;
}

static int on_session(void *ctx, const ing_session_t *s)
{
    got_t *g = ctx;
    int i = g->nsess++;
    if (i >= MAX_SESS)
        return 0; /* counted, not kept */
    g->sess_id[i] = s->id;
    snprintf(g->sess_name[i], sizeof g->sess_name[i], "%s", s->name);
    g->sess_at[i] = g->fr.n;
    cr_assert(s->n <= MAX_KV);
    g->nkv[i] = s->n;
    for (size_t k = 0; k < s->n; k++) {
        g->key[i][k] = strdup(s->keys[k]);
        g->val[i][k] = strdup(s->values[k]);
    }
    return 0;
}

static void got_init(got_t *g)
{
    memset(g, 0, sizeof *g);
    pw_frames_init(&g->fr);
}

static void got_fini(got_t *g)
{
    pw_frames_fini(&g->fr);
    for (int i = 0; i < g->nsess && i < MAX_SESS; i++)
        for (size_t k = 0; k < g->nkv[i]; k++) {
            free(g->key[i][k]);
            free(g->val[i][k]);
        }
}

static const char *kv(const got_t *g, int s, const char *key)
{
    for (size_t k = 0; k < g->nkv[s]; k++)
        if (!strcmp(g->key[s][k], key))
            return g->val[s][k];
    return NULL;
}

static int decode(const char *name, const void *data, size_t len, size_t batch, got_t *g,
                  ing_stats_t *st, pw_err_t *err)
{
    ing_opts_t o = {.batch_frames = batch};
    ing_emit_t e = {.frames = on_frames, .session = on_session, .ctx = g};
    ing_stats_init(st);
    memset(err, 0, sizeof *err);
    return ing_ngs_decode(name, data, len, &o, &names, &e, st, err);
}

static int decode_str(const char *text, got_t *g, ing_stats_t *st, pw_err_t *err)
{
    return decode("t.tsv", text, strlen(text), 0, g, st, err);
}

static int has_label(const pw_frames_t *f, size_t i, const char *label)
{
    uint32_t id;
    if (pw_intern_find(labels, label, strlen(label), &id))
        return 0;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        if (f->label[i * PW_FRAME_LABELS + l] == id)
            return 1;
    return 0;
}

static size_t nlabels(const pw_frames_t *f, size_t i)
{
    size_t n = 0;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        n += f->label[i * PW_FRAME_LABELS + l] != PW_LABEL_NONE;
    return n;
}

/* The index of the only frame labelled label; fails when not exactly one. */
static size_t only_frame_with(const pw_frames_t *f, const char *label)
{
    size_t at = SIZE_MAX, n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (has_label(f, i, label)) {
            at = i;
            n++;
        }
    cr_assert_eq(n, 1, "%zu frames labelled %s", n, label);
    return at;
}

/* The object of entity name in frame i, or SIZE_MAX. */
static size_t object_of(const pw_frames_t *f, size_t i, const char *name)
{
    uint32_t id;
    if (pw_intern_find(entities, name, strlen(name), &id))
        return SIZE_MAX;
    for (uint16_t k = 0; k < f->nobj[i]; k++)
        if (f->entity[f->first[i] + k] == id)
            return f->first[i] + k;
    return SIZE_MAX;
}

/* ---------------------------------------------------------------------------
 * The data set: PITWALL_DATA, else ../shared/data from the repository root.
 */

static const char *data_dir(void)
{
    const char *d = getenv("PITWALL_DATA");
    return d && *d ? d : "../shared/data";
}

static void no_data(const char *path)
{
    if (getenv("CI"))
        cr_assert_fail("%s not found: set PITWALL_DATA to the shared data directory", path);
    else
        cr_skip_test("%s not found: set PITWALL_DATA to the shared data directory", path);
}

/* Load a play file; skips (or fails under CI) when the data is not there. */
static int load_play(const char *file, uint8_t **data, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s" NGS_DIR "/%s", data_dir(), file);
    pw_err_t err = {0};
    int rc = ing_file_load(path, (size_t)1 << 30, data, len, &err);
    if (rc == -ENOENT) {
        no_data(path);
        return -1;
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    return 0;
}

/* The play files of the data set, sorted; NULL (after skip/fail) if none. */
static int list_plays(char ***out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s" NGS_DIR, data_dir());
    DIR *dir = opendir(path);
    if (!dir) {
        no_data(path);
        return -1;
    }
    char **v = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 7, ".tsv.gz") || strstr(de->d_name, "index"))
            continue;
        v = realloc(v, (size_t)(n + 1) * sizeof *v);
        v[n++] = strdup(de->d_name);
    }
    closedir(dir);
    *out = v;
    return n;
}

static void free_plays(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------------------------------------------------------------------
 * Real plays.
 */

Test(ing_ngs, decodes_the_minneapolis_miracle_frame_by_frame)
{
    uint8_t *data;
    size_t len;
    if (load_play(MIRACLE, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(MIRACLE, data, len, 0, &g, &st, &err), 0, "%s", err.msg);
    const pw_frames_t *f = &g.fr;

    /* 299 distinct times (and frame numbers 0..298), 23 rows each. */
    cr_assert_eq(f->n, 299);
    cr_assert_eq(st.records, 6877);
    cr_assert_eq(st.frames, 299);
    cr_assert_eq(st.objects, 6877);
    cr_assert_eq(st.skipped, 0);
    cr_assert_eq(st.truncated, 0);
    cr_assert_str_empty(st.first_problem);
    cr_assert_eq(st.bytes, len);
    for (size_t i = 0; i < f->n; i++) {
        cr_assert_eq(f->nobj[i], 23, "frame %zu has %u objects", i, f->nobj[i]);
        cr_assert_eq(f->session[i], UINT64_C(20180114014497));
        cr_assert_eq(f->ts_ns[i], INT64_C(1515978398800000000) + (int64_t)i * 100000000);
    }
    cr_assert_eq(st.first_ts_ns, INT64_C(1515978398800000000)); /* 01:06:38.800 UTC */
    cr_assert_eq(st.last_ts_ns, INT64_C(1515978398800000000) + 298 * INT64_C(100000000));

    /* Nine events, one a frame. */
    size_t labelled = 0;
    for (size_t i = 0; i < f->n; i++)
        labelled += nlabels(f, i);
    cr_assert_eq(labelled, 9);
    cr_assert_eq(st.events, 9);
    size_t snap = only_frame_with(f, "ball_snap"), pass = only_frame_with(f, "pass_forward");
    cr_assert_eq(snap, 132);
    cr_assert_eq(f->ts_ns[snap], INT64_C(1515978412000000000)); /* 01:06:52.000 */
    cr_assert_eq(pass, 166);
    cr_assert_eq(f->ts_ns[pass], INT64_C(1515978415400000000)); /* 01:06:55.400 */
    cr_assert_eq(only_frame_with(f, "pass_arrived"), 183);
    cr_assert_eq(only_frame_with(f, "pass_outcome_caught"), 184);
    cr_assert_eq(only_frame_with(f, "touchdown"), 233);

    /* The ball at the snap: moving, no orientation or direction. */
    size_t ball = object_of(f, snap, "ball");
    cr_assert_neq(ball, SIZE_MAX);
    cr_assert_eq(f->team[ball], PW_TEAM_BALL);
    cr_assert_float_eq(f->x[ball], 48.38f, 1e-5);
    cr_assert_float_eq(f->y[ball], 23.86f, 1e-5);
    cr_assert_float_eq(f->speed[ball], 3.89f, 1e-5);
    cr_assert(isnan(f->orientation[ball]) && isnan(f->direction[ball]));

    /* Stefon Diggs (nflId 2552608.0, Minnesota at home) at the touchdown. */
    size_t diggs = object_of(f, 233, "nfl/2552608");
    cr_assert_neq(diggs, SIZE_MAX);
    cr_assert_eq(f->team[diggs], PW_TEAM_HOME);
    cr_assert_float_eq(f->x[diggs], 109.96f, 1e-5);
    cr_assert_float_eq(f->y[diggs], 5.6f, 1e-5);
    cr_assert_float_eq(f->speed[diggs], 8.19f, 1e-5);
    cr_assert_float_eq(f->orientation[diggs], 171.4f, 1e-5);
    cr_assert_float_eq(f->direction[diggs], 77.3f, 1e-5);

    /* 11 home players, 11 away, the ball, in every frame. */
    int teams[3] = {0};
    for (uint16_t k = 0; k < f->nobj[0]; k++)
        teams[f->team[k] < 3 ? f->team[k] : 0]++;
    cr_assert(teams[PW_TEAM_HOME] == 11 && teams[PW_TEAM_AWAY] == 11 && teams[PW_TEAM_BALL] == 1);
    got_fini(&g);
    free(data);
}

Test(ing_ngs, emits_the_play_metadata_once_before_its_frames)
{
    uint8_t *data;
    size_t len;
    if (load_play(MIRACLE, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(MIRACLE, data, len, 0, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(g.nsess, 1);
    cr_assert_eq(g.sess_at[0], 0);
    cr_assert_eq(g.sess_id[0], UINT64_C(20180114014497));
    cr_assert_str_eq(g.sess_name[0], "2018011401/4497");
    static const char *const want[][2] = {
        {"gameId", "2018011401"}, {"playId", "4497"}, {"playType", "play_type_pass"},
        {"season", "2017"}, {"seasonType", "POST"}, {"week", "19"}, {"quarter", "4"},
        {"gameClock", "00:10"}, {"down", "3"}, {"yardsToGo", "10"}, {"yardline", "MIN 39"},
        {"yardlineSide", "MIN"}, {"yardlineNumber", "39"}, {"absoluteYardlineNumber", "49"},
        {"playDirection", "right"}, {"preSnapHomeScore", "23"}, {"preSnapVisitorScore", "24"},
        {"homeTeam", "MIN"}, {"awayTeam", "NO"}, {"possessionTeam", "MIN"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = kv(&g, 0, want[i][0]);
        cr_assert_not_null(v, "no %s", want[i][0]);
        cr_assert_str_eq(v, want[i][1], "%s", want[i][0]);
    }
    const char *desc = kv(&g, 0, "playDescription");
    cr_assert_not_null(desc);
    cr_assert(!strncmp(desc, "(:10) (Shotgun) C.Keenum pass deep right to S.Diggs for 61 "
                             "yards, TOUCHDOWN.", 73), "%s", desc);
    cr_assert_eq(g.nkv[0], 21);
    got_fini(&g);
    free(data);
}

Test(ing_ngs, merges_a_repeated_frame_into_one_with_both_labels)
{
    /* Frame 163 is written twice (46 rows): pass_outcome_caught, first_contact. */
    const char *file = "2018_BUF_2018091601_1811.tsv.gz";
    uint8_t *data;
    size_t len;
    if (load_play(file, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(file, data, len, 0, &g, &st, &err), 0, "%s", err.msg);
    const pw_frames_t *f = &g.fr;
    cr_assert_eq(f->n, 217);
    cr_assert_eq(st.records, 5014);
    cr_assert_eq(st.objects, 5014 - 23);
    cr_assert_eq(st.skipped, 0);
    size_t i = only_frame_with(f, "pass_outcome_caught");
    cr_assert_eq(i, 163);
    cr_assert_eq(only_frame_with(f, "first_contact"), 163);
    cr_assert_eq(nlabels(f, i), 2);
    cr_assert_eq(f->nobj[i], 23);
    cr_assert_eq(f->ts_ns[i], INT64_C(1537121969300000000)); /* 18:19:29.300 */
    cr_assert_eq(f->ts_ns[i + 1] - f->ts_ns[i], 100000000);
    for (uint16_t a = 0; a < f->nobj[i]; a++)
        for (uint16_t b = 0; b < a; b++)
            cr_assert_neq(f->entity[f->first[i] + a], f->entity[f->first[i] + b]);
    cr_assert_eq(only_frame_with(f, "ball_snap"), 66);
    cr_assert_eq(only_frame_with(f, "pass_forward"), 122);
    got_fini(&g);
    free(data);
}

Test(ing_ngs, keeps_the_first_two_of_three_events_and_says_so)
{
    /* Frame 113 is written three times: ball_snap, penalty_flag, penalty_declined. */
    const char *file = "2019_DAL_2019111010_1826.tsv.gz";
    uint8_t *data;
    size_t len;
    if (load_play(file, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(file, data, len, 0, &g, &st, &err), 0, "%s", err.msg);
    const pw_frames_t *f = &g.fr;
    cr_assert_eq(f->n, 246);
    cr_assert_eq(st.skipped, 0);
    size_t i = only_frame_with(f, "ball_snap");
    cr_assert_eq(i, 113);
    cr_assert(has_label(f, i, "penalty_flag"));
    cr_assert_eq(f->nobj[i], 23);
    cr_assert_eq(f->ts_ns[i], INT64_C(1573439787700000000));
    cr_assert_str_eq(st.first_problem, "2019_DAL_2019111010_1826.tsv.gz:117: a frame carries "
                     "more than 2 events; kept 'ball_snap' and 'penalty_flag', dropped "
                     "'penalty_declined'");
    cr_assert_eq(f->nobj[245], 1); /* the ball alone at the end */
    got_fini(&g);
    free(data);
}

Test(ing_ngs, keeps_short_frames_with_their_object_counts)
{
    /* Players leave the tracking after the play: 55 of 299 frames are short. */
    const char *file = "2019_NO_2019120806_4471.tsv.gz";
    uint8_t *data;
    size_t len;
    if (load_play(file, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(file, data, len, 0, &g, &st, &err), 0, "%s", err.msg);
    const pw_frames_t *f = &g.fr;
    cr_assert_eq(f->n, 299);
    cr_assert_eq(st.objects, 6370);
    cr_assert_eq(st.records, 6370);
    size_t count[24] = {0};
    for (size_t i = 0; i < f->n; i++) {
        cr_assert(f->nobj[i] >= 1 && f->nobj[i] <= 23);
        count[f->nobj[i]]++;
        if (f->nobj[i] == 1)
            cr_assert_eq(f->team[f->first[i]], PW_TEAM_BALL);
        if (i)
            cr_assert_eq(f->ts_ns[i] - f->ts_ns[i - 1], 100000000);
    }
    size_t want[24] = {[1] = 18, [18] = 9, [19] = 2, [20] = 8, [21] = 16, [22] = 2, [23] = 244};
    for (int n = 0; n < 24; n++)
        cr_assert_eq(count[n], want[n], "%zu frames of %d objects, expected %zu", count[n], n,
                     want[n]);
    cr_assert_eq(f->nobj[243], 23);
    cr_assert_eq(f->nobj[244], 22);
    got_fini(&g);
    free(data);
}

Test(ing_ngs, lines_up_rows_by_time_when_frame_numbers_disagree)
{
    /*
     * Here the ball's frame numbers run 18 ahead of the players' (its
     * line_set, ball_snap... rows carry frame n + 18 at the players' time
     * of frame n): by time, the ball starts 1.8 s before the players and
     * each event falls on one frame of 23 objects.
     */
    const char *file = "2018_DAL_2019011201_531.tsv.gz";
    uint8_t *data;
    size_t len;
    if (load_play(file, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(file, data, len, 0, &g, &st, &err), 0, "%s", err.msg);
    const pw_frames_t *f = &g.fr;
    cr_assert_eq(f->n, 275);
    cr_assert_eq(st.records, 5923);
    cr_assert_eq(st.skipped, 0);
    for (size_t i = 0; i < 18; i++) {
        cr_assert_eq(f->nobj[i], 1);
        cr_assert_eq(f->team[f->first[i]], PW_TEAM_BALL);
    }
    size_t snap = only_frame_with(f, "ball_snap");
    cr_assert_eq(snap, 82);
    cr_assert_eq(f->ts_ns[snap], INT64_C(1547343174900000000)); /* 01:32:54.900 */
    cr_assert_eq(f->nobj[snap], 23);
    cr_assert_neq(object_of(f, snap, "ball"), SIZE_MAX);
    cr_assert_eq(only_frame_with(f, "pass_forward"), 108);
    cr_assert_eq(only_frame_with(f, "touchdown"), 154);
    got_fini(&g);
    free(data);
}

/* Per-file totals for the whole-set test, without copying frames. */
typedef struct tally {
    uint64_t frames, snaps, batches, max_batch, over23, sessions;
    uint64_t session;
    int64_t prev_ts;
    int order_ok;
} tally_t;

static int tally_frames(void *ctx, const pw_frames_t *b)
{
    tally_t *t = ctx;
    uint32_t snap = 0;
    pw_intern_find(labels, "ball_snap", 9, &snap);
    for (size_t i = 0; i < b->n; i++) {
        t->frames++;
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            t->snaps += snap && b->label[i * PW_FRAME_LABELS + l] == snap;
        t->over23 += b->nobj[i] > 23;
        if (b->ts_ns[i] <= t->prev_ts || b->session[i] != t->session)
            t->order_ok = 0;
        t->prev_ts = b->ts_ns[i];
    }
    t->batches++;
    if (b->n > t->max_batch)
        t->max_batch = b->n;
    return 0;
}

static int tally_session(void *ctx, const ing_session_t *s)
{
    tally_t *t = ctx;
    t->sessions++;
    t->session = s->id;
    t->prev_ts = INT64_MIN;
    return 0;
}

Test(ing_ngs, decodes_every_file_with_no_skipped_rows, .timeout = 600)
{
    char **files;
    int n = list_plays(&files);
    if (n < 0)
        return;
    cr_assert_eq(n, 235);
    tally_t t = {.order_ok = 1};
    uint64_t rows = 0, objects = 0, events = 0, snap_plays = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *data;
        size_t len;
        if (load_play(files[i], &data, &len))
            break;
        uint64_t snaps = t.snaps;
        ing_opts_t o = {.batch_frames = 50};
        ing_emit_t e = {.frames = tally_frames, .session = tally_session, .ctx = &t};
        ing_stats_t st;
        ing_stats_init(&st);
        pw_err_t err = {0};
        cr_assert_eq(ing_ngs_decode(files[i], data, len, &o, &names, &e, &st, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(st.skipped, 0, "%s: %s", files[i], st.first_problem);
        cr_assert_eq(st.truncated, 0, "%s", files[i]);
        cr_assert(t.snaps - snaps <= 1, "%s: %llu ball_snap frames", files[i],
                  (unsigned long long)(t.snaps - snaps));
        snap_plays += t.snaps - snaps;
        rows += st.records;
        objects += st.objects;
        events += st.events;
        free(data);
    }
    free_plays(files, n);
    cr_assert_eq(t.sessions, 235);
    cr_assert_eq(rows, 1804946);
    /* Frames are distinct times: 15 more than SOURCE.txt's 80,805 frame numbers. */
    cr_assert_eq(t.frames, 80820);
    cr_assert_eq(objects, 1804946 - 21 * 23 - 1 * 46); /* 22 repeated frames */
    cr_assert_eq(events, 2110);
    cr_assert_eq(snap_plays, 231); /* every play but the 4 kickoffs */
    cr_assert_eq(t.over23, 0);
    cr_assert(t.order_ok, "frames out of time order or without their session");
    cr_assert(t.max_batch <= 50);
}

/* The index of the frame at ts_ns, or SIZE_MAX. */
static size_t frame_at(const pw_frames_t *f, int64_t ts_ns)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->ts_ns[mid] < ts_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n && f->ts_ns[lo] == ts_ns ? lo : SIZE_MAX;
}

static int same_float(float a, float b)
{
    return !memcmp(&a, &b, sizeof a);
}

Test(ing_ngs, gives_every_value_of_every_file_as_strtod_does, .timeout = 600)
{
    /*
     * Each row of each file, read here with strtod(), against the object
     * the decoder put in the frame of its time: x, y, s, o, dir bit for bit
     * (as floats), team and entity.
     */
    char **files;
    int n = list_plays(&files);
    if (n < 0)
        return;
    uint64_t values = 0, empty = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *data;
        size_t len;
        if (load_play(files[i], &data, &len))
            break;
        got_t g;
        got_init(&g);
        ing_stats_t st;
        pw_err_t err;
        cr_assert_eq(decode(files[i], data, len, 0, &g, &st, &err), 0, "%s", err.msg);
        char *text = malloc(len + 1);
        memcpy(text, data, len);
        text[len] = '\0';
        char *save = NULL, *line = strtok_r(text, "\n", &save); /* the header */
        while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
            char *col[36];
            int nc = 0;
            for (char *p = line; nc < 36; p++) {
                col[nc++] = p;
                p = strchr(p, '\t');
                if (!p)
                    break;
                *p = '\0';
            }
            cr_assert_eq(nc, 36);
            int64_t ts;
            cr_assert_eq(ing_ngs_parse_time(col[28], strlen(col[28]), &ts), 0);
            size_t fi = frame_at(&g.fr, ts);
            cr_assert_neq(fi, SIZE_MAX, "%s: no frame at %s", files[i], col[28]);
            char ent[64];
            size_t idl = strcspn(col[25], ".");
            if (idl)
                snprintf(ent, sizeof ent, "nfl/%.*s", (int)idl, col[25]);
            else
                snprintf(ent, sizeof ent, "ball");
            size_t o = object_of(&g.fr, fi, ent);
            cr_assert_neq(o, SIZE_MAX, "%s: no %s at %s", files[i], ent, col[28]);
            int team = !idl ? PW_TEAM_BALL : !strcmp(col[18], "1.0") ? PW_TEAM_HOME
                                                                      : PW_TEAM_AWAY;
            cr_assert_eq(g.fr.team[o], team);
            const float got[5] = {g.fr.x[o], g.fr.y[o], g.fr.speed[o], g.fr.orientation[o],
                                  g.fr.direction[o]};
            for (int c = 0; c < 5; c++) {
                const char *v = col[29 + c];
                if (!*v) {
                    cr_assert(isnan(got[c]));
                    empty++;
                } else {
                    float want = (float)strtod(v, NULL);
                    cr_assert(same_float(got[c], want), "%s: %s '%s' gives %.9g, strtod %.9g",
                              files[i], ent, v, got[c], want);
                }
                values++;
            }
        }
        free(text);
        got_fini(&g);
        free(data);
    }
    free_plays(files, n);
    cr_assert_eq(values, UINT64_C(1804946) * 5);
    cr_assert_eq(empty, UINT64_C(80586) * 2); /* the ball's o and dir */
}

/* ---------------------------------------------------------------------------
 * Helpers of the header.
 */

Test(ing_ngs, wants_the_plays_of_a_folder_not_its_indexes)
{
    cr_assert(ing_ngs_wants("2017_MIN_2018011401_4497.tsv.gz"));
    cr_assert(ing_ngs_wants("play.tsv"));
    cr_assert(!ing_ngs_wants("ngs_highlights_index.tsv"));
    cr_assert(!ing_ngs_wants("nfl_ngs_highlights_index.tsv"));
}

Test(ing_ngs, reads_times_as_utc_without_the_time_zone)
{
    setenv("TZ", "America/Chicago", 1); /* must make no difference */
    static const struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        {"2018-01-15 01:06:38.800", INT64_C(1515978398800000000)},
        {"1970-01-01 00:00:00", 0},
        {"1969-12-31 23:59:59.9", INT64_C(-100000000)},
        {"2020-02-29T23:59:59.999999999Z", INT64_C(1583020799999999999)},
        {"2000-03-01 00:00:00.5", INT64_C(951868800500000000)},
        {"1900-01-01 00:00:00", INT64_C(-2208988800000000000)},
        {"2200-12-31 23:59:59", INT64_C(7289654399000000000)},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ns = 1;
        cr_assert_eq(ing_ngs_parse_time(ok[i].s, strlen(ok[i].s), &ns), 0, "%s", ok[i].s);
        cr_assert_eq(ns, ok[i].ns, "%s: %lld", ok[i].s, (long long)ns);
    }
    static const char *const bad[] = {
        "2019-02-29 00:00:00",  "2018-13-01 00:00:00",   "2018-01-15 24:00:00",
        "2018-01-15 01:06:38.", "2018-01-15 01:06:38.8000000001", "2018/01/15 01:06:38",
        "2018-01-15 1:06:38",   "2018-01-15",            "1899-12-31 23:59:59",
        "2018-01-15 01:06:38x", "2018-01-32 00:00:00",   "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = 1;
        cr_assert_eq(ing_ngs_parse_time(bad[i], strlen(bad[i]), &ns), -1, "'%s'", bad[i]);
        cr_assert_eq(ns, 1);
    }
    unsetenv("TZ");
}

/* ---------------------------------------------------------------------------
 * Made-up inputs: the contract for bad ones.
 */

#define HDR "gameId\tplayId\tframe\ttime\tnflId\thomeTeamFlag\tteamAbbr\tpossessionFlag\t" \
            "x\ty\ts\to\tdir\tevent\tplayDescription\n"
#define T0 "2019-09-08 17:00:00"
/* Two players and the ball over two frames of play 2019090800/51. */
#define ROW(frame, t, id, flag, abbr, poss, x, ev) \
    "2019090800\t51\t" frame "\t" T0 t "\t" id "\t" flag "\t" abbr "\t" poss "\t" x \
    "\t20.0\t1.5\t90.0\t180.0\t" ev "\tA play.\n"
#define P1(x0) ROW("1", ".000", "100.0", "1.0", "KC", "1.0", x0, "ball_snap")
#define P1b ROW("2", ".100", "100.0", "1.0", "KC", "1.0", "11.0", "")
#define P2 ROW("1", ".000", "200.0", "0.0", "JAX", "0.0", "30.0", "ball_snap") \
    ROW("2", ".100", "200.0", "0.0", "JAX", "0.0", "31.0", "")
#define BALL "2019090800\t51\t1\t" T0 ".000\t\t\t\t\t50.0\t25.0\t0.0\t\t\tball_snap\tA play.\n" \
    "2019090800\t51\t2\t" T0 ".100\t\t\t\t\t50.5\t25.0\t5.0\t\t\t\tA play.\n"

Test(ing_ngs, decodes_a_small_play_with_every_kind_of_object)
{
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode_str(HDR P1("10.0") P1b P2 BALL, &g, &st, &err), 0, "%s", err.msg);
    const pw_frames_t *f = &g.fr;
    cr_assert_eq(f->n, 2);
    cr_assert_eq(f->nobj[0], 3);
    cr_assert_eq(f->nobj[1], 3);
    cr_assert_eq(f->session[0], UINT64_C(20190908000051));
    cr_assert_eq(f->ts_ns[1] - f->ts_ns[0], 100000000);
    cr_assert(has_label(f, 0, "ball_snap") && nlabels(f, 0) == 1 && nlabels(f, 1) == 0);
    /* Input order within a frame: nfl/100, nfl/200, ball. */
    size_t o = f->first[1];
    cr_assert_str_eq(pw_intern_name(entities, f->entity[o]), "nfl/100");
    cr_assert_str_eq(pw_intern_name(entities, f->entity[o + 1]), "nfl/200");
    cr_assert_str_eq(pw_intern_name(entities, f->entity[o + 2]), "ball");
    cr_assert_eq(f->team[o], PW_TEAM_HOME);
    cr_assert_eq(f->team[o + 1], PW_TEAM_AWAY);
    cr_assert_eq(f->team[o + 2], PW_TEAM_BALL);
    cr_assert_float_eq(f->x[o], 11.0f, 0);
    cr_assert_float_eq(f->x[o + 1], 31.0f, 0);
    cr_assert_float_eq(f->speed[o + 2], 5.0f, 0);
    cr_assert(isnan(f->direction[o + 2]));
    cr_assert_eq(g.nsess, 1);
    cr_assert_str_eq(kv(&g, 0, "homeTeam"), "KC");
    cr_assert_str_eq(kv(&g, 0, "awayTeam"), "JAX");
    cr_assert_str_eq(kv(&g, 0, "possessionTeam"), "KC");
    cr_assert_str_eq(kv(&g, 0, "playDescription"), "A play.");
    cr_assert_null(kv(&g, 0, "playType")); /* no such column */
    cr_assert_eq(g.nkv[0], 6);
    got_fini(&g);
}

Test(ing_ngs, reads_crlf_lines_and_a_last_line_without_newline)
{
    char text[4096];
    const char *src = HDR P1("10.0") P1b P2 BALL;
    size_t k = 0;
    for (const char *p = src; *p; p++) {
        if (*p == '\n')
            text[k++] = '\r';
        text[k++] = *p;
    }
    k -= 2; /* no CR LF after the last row */
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("crlf.tsv", text, k, 0, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(g.fr.n, 2);
    cr_assert_eq(st.objects, 6);
    cr_assert_eq(st.skipped, 0);
    cr_assert_eq(st.truncated, 0);
    cr_assert_str_eq(kv(&g, 0, "playDescription"), "A play.");
    got_fini(&g);
}

Test(ing_ngs, rejects_an_empty_input)
{
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("empty.tsv", "", 0, 0, &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "empty.tsv: empty input: no header line naming the NGS columns");
    cr_assert_eq(g.fr.n + (size_t)g.nsess, 0);
    got_fini(&g);
}

Test(ing_ngs, names_the_missing_columns_of_a_header)
{
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    const char *text = "gameId\tplayId\tframe\ttime\tnflId\thomeTeamFlag\tx\ty\ts\to\tevent\n"
                       "2019090800\t51\t1\t" T0 "\t1.0\t1.0\t1\t2\t3\t4\t\n";
    cr_assert_eq(decode_str(text, &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "t.tsv:1: not an NGS tracking TSV: the header has no 'dir' column");
    cr_assert_eq(decode_str("gameId\tplayId\n1\t2\n", &g, &st, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "no 'frame', 'time', 'nflId', 'homeTeamFlag', 'x', 'y', 's', "
                              "'o', 'dir', 'event' columns"), "%s", err.msg);
    cr_assert_eq(decode_str("gameId\tgameId\n", &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "t.tsv:1: column 'gameId' appears twice (columns 1 and 2)");
    cr_assert_eq(g.fr.n + (size_t)g.nsess, 0);
    got_fini(&g);
}

Test(ing_ngs, rejects_text_that_is_not_tsv_and_binary_garbage)
{
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode_str("gameId,playId,frame\n1,2,3\n", &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "t.tsv:1: not an NGS tracking TSV: the first line has no "
                     "tab-separated column names");
    /* Random bytes, with and without tabs and newlines: an error, never a crash. */
    unsigned long long seed = 99;
    uint8_t buf[4096];
    for (int i = 0; i < 500; i++) {
        size_t n = 1 + (size_t)(i * 37 % (int)sizeof buf);
        for (size_t k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[k] = (uint8_t)(seed >> 56);
            if (i % 2 && (seed >> 20) % 7 == 0)
                buf[k] = (seed >> 24) % 2 ? '\t' : '\n';
        }
        int rc = decode("junk.bin", buf, n, 0, &g, &st, &err);
        cr_assert_eq(rc, PW_ECORRUPT, "input %d: %d", i, rc);
        cr_assert_neq(err.msg[0], '\0');
    }
    cr_assert_eq(g.fr.n + (size_t)g.nsess, 0);
    got_fini(&g);
}

Test(ing_ngs, skips_rows_with_a_bad_number_and_says_where)
{
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode_str(HDR P1("4x.2") P1b P2 BALL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.skipped, 1);
    cr_assert_eq(st.records, 6);
    cr_assert_str_eq(st.first_problem, "t.tsv:2: x '4x.2' is not a number");
    cr_assert_eq(g.fr.n, 2);
    cr_assert_eq(g.fr.nobj[0], 2); /* nfl/200 and the ball; its event still arrives */
    cr_assert(has_label(&g.fr, 0, "ball_snap"));
    cr_assert_eq(g.fr.nobj[1], 3);
    got_fini(&g);
}

Test(ing_ngs, skips_rows_of_the_wrong_width_bad_ids_and_times)
{
    static const struct {
        const char *row;
        const char *problem;
    } cases[] = {
        {"2019090800\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\n",
         "t.tsv:2: 7 columns, the header has 15"},
        {"2019090800\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\textra\n",
         "t.tsv:2: 16 columns, the header has 15"},
        {"2019090800\t5x\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: playId '5x' is not a number"},
        {"2019090800\t10000\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: playId 10000 does not fit the session id gameId * 10000 + playId"},
        {"900719925475\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: gameId 900719925475 makes a session id past 2^53"},
        {"2019090800\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\tinf\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: x 'inf' is not a number"},
        {"2019090800\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t1e39\t\td\n",
         "t.tsv:2: dir '1e39' is not a number"},
        {"2019090800\t51\t1\t2019-09-08 25:00:00\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: time '2019-09-08 25:00:00' is not YYYY-MM-DD HH:MM:SS.fff"},
        {"2019090800\t51\t1\t" T0 ".000\t3a0.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: nflId '3a0.0' is not a number"},
        {"2019090800\t51\t1\t" T0 ".000\t300.5\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: nflId '300.5' is not a number"},
        {"2019090800\t51\t1\t" T0 ".000\t300.0\tyes\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: homeTeamFlag 'yes' is not 1, 0 or empty"},
        {"2019090800\t51\t-1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t5\t\td\n",
         "t.tsv:2: frame '-1' is not a number"},
        {"2019090800\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1\t2\t3\t4\t\x01\x02\t\td\n",
         "t.tsv:2: dir '?\?' is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[4096];
        snprintf(text, sizeof text, HDR "%s" P2 BALL, cases[i].row);
        got_t g;
        got_init(&g);
        ing_stats_t st;
        pw_err_t err;
        cr_assert_eq(decode_str(text, &g, &st, &err), 0, "%s", err.msg);
        cr_assert_eq(st.skipped, 1, "case %zu", i);
        cr_assert_str_eq(st.first_problem, cases[i].problem, "case %zu", i);
        cr_assert_eq(g.fr.n, 2, "case %zu", i);
        cr_assert_eq(st.objects, 4, "case %zu", i);
        got_fini(&g);
    }
}

Test(ing_ngs, reads_na_nan_and_empty_values_as_missing)
{
    const char *text = HDR "2019090800\t51\t1\t" T0 ".000\t300.0\t1.0\tKC\t1.0\t1.5\t2\t"
                           "\tNA\tnan\t\td\n";
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode_str(text, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
    cr_assert_eq(g.fr.n, 1);
    cr_assert_float_eq(g.fr.x[0], 1.5f, 0);
    cr_assert(isnan(g.fr.speed[0]) && isnan(g.fr.orientation[0]) && isnan(g.fr.direction[0]));
    got_fini(&g);
}

Test(ing_ngs, skips_a_row_whose_frame_goes_backwards)
{
    const char *text = HDR P1("10.0") P1b ROW("1", ".200", "100.0", "1.0", "KC", "1.0", "12.0",
                                              "") P2 BALL;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode_str(text, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.skipped, 1);
    cr_assert_str_eq(st.first_problem, "t.tsv:4: frame 1 goes backwards (after 2) for nflId "
                     "'100.0'");
    cr_assert_eq(g.fr.n, 2); /* no frame at .200 */
    got_fini(&g);
}

Test(ing_ngs, reports_a_truncated_last_line_and_keeps_the_rows_before_it)
{
    char text[4096];
    snprintf(text, sizeof text, "%s", HDR P1("10.0") P1b P2 BALL);
    size_t n = strlen(text) - 30; /* inside the ball's last row */
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("cut.tsv", text, n, 0, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.skipped, 0);
    cr_assert_str_eq(st.first_problem, "cut.tsv:7: input ends inside a row (4 of 15 columns); "
                     "row dropped");
    cr_assert_eq(g.fr.n, 2);
    cr_assert_eq(g.fr.nobj[1], 2);

    /* A real play cut anywhere decodes what is there, never more. */
    uint8_t *data;
    size_t len;
    if (load_play(MIRACLE, &data, &len)) {
        got_fini(&g);
        return;
    }
    for (size_t cut = 0; cut < len; cut += len / 97 + 1) {
        got_t h;
        got_init(&h);
        int rc = decode(MIRACLE, data, cut, 0, &h, &st, &err);
        if (cut == 0) {
            cr_assert_eq(rc, PW_ECORRUPT);
        } else {
            cr_assert_eq(rc, 0, "cut at %zu: %s", cut, err.msg);
            cr_assert_eq(st.skipped, 0);
            cr_assert(st.objects <= st.records && h.fr.n <= 299);
        }
        got_fini(&h);
    }
    free(data);
    got_fini(&g);
}

Test(ing_ngs, starts_a_session_for_each_play_of_a_concatenated_input)
{
    const char *text = HDR P1("10.0") P1b ROW("1", ".000", "100.0", "1.0", "KC", "1.0", "10.0",
                                              "") "2019090800\t52\t1\t" T0
                           ".500\t100.0\t0.0\tKC\t1.0\t1\t2\t3\t4\t5\tkickoff\tKick.\n";
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode_str(text, &g, &st, &err), 0, "%s", err.msg);
    /* The third row goes back to frame 1 for the same entity: skipped. */
    cr_assert_eq(st.skipped, 1);
    cr_assert_eq(g.nsess, 2);
    cr_assert_eq(g.sess_id[0], UINT64_C(20190908000051));
    cr_assert_eq(g.sess_id[1], UINT64_C(20190908000052));
    cr_assert_eq(g.sess_at[1], 2);
    cr_assert_eq(g.fr.n, 3);
    cr_assert_eq(g.fr.session[2], UINT64_C(20190908000052));
    cr_assert(has_label(&g.fr, 2, "kickoff"));
    cr_assert_eq(g.fr.team[g.fr.first[2]], PW_TEAM_AWAY);
    cr_assert_str_eq(kv(&g, 1, "playDescription"), "Kick.");
    cr_assert_str_eq(kv(&g, 1, "awayTeam"), "KC");
    cr_assert_str_eq(kv(&g, 1, "homeTeam"), "");
    got_fini(&g);
}

Test(ing_ngs, emits_batches_of_batch_frames_and_stops_when_asked)
{
    uint8_t *data;
    size_t len;
    if (load_play(MIRACLE, &data, &len))
        return;
    got_t g;
    got_init(&g);
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode(MIRACLE, data, len, 7, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(g.batches, 43); /* 42 of 7 and one of 5 */
    cr_assert_eq(g.max_batch, 7);
    cr_assert_eq(g.fr.n, 299);
    got_fini(&g);

    got_init(&g);
    g.stop_at = 3;
    cr_assert_eq(decode(MIRACLE, data, len, 7, &g, &st, &err), 7);
    cr_assert_eq(g.batches, 3);
    cr_assert_eq(g.fr.n, 21);
    got_fini(&g);

    /* No callbacks at all: counted the same. */
    ing_stats_init(&st);
    cr_assert_eq(ing_ngs_decode(MIRACLE, data, len, NULL, &names, NULL, &st, &err), 0);
    cr_assert_eq(st.frames, 299);
    cr_assert_eq(st.objects, 6877);
    free(data);
}

Test(ing_ngs, survives_random_damage_to_a_real_play)
{
    uint8_t *data;
    size_t len;
    if (load_play(MIRACLE, &data, &len))
        return;
    const uint8_t *nl = memchr(data, '\n', len);
    size_t head = (size_t)(nl - data) + 1, n = head + 40000;
    uint8_t *buf = malloc(n);
    static const char alphabet[] = "\t\n\r.-0123456789e x";
    unsigned long long seed = 7;
    for (int round = 0; round < 300; round++) {
        memcpy(buf, data, n);
        for (int k = 0; k < 1 + round % 40; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = head + (size_t)(seed >> 20) % (n - head);
            buf[at] = (seed >> 8) % 4 ? (uint8_t)alphabet[(seed >> 12) % (sizeof alphabet - 1)]
                                      : (uint8_t)(seed >> 40);
        }
        size_t cut = round % 3 ? n : n - (size_t)(seed >> 33) % 500;
        got_t g;
        got_init(&g);
        ing_stats_t st;
        pw_err_t err;
        int rc = decode(MIRACLE, buf, cut, 16, &g, &st, &err);
        cr_assert_eq(rc, 0, "round %d: %s", round, err.msg);
        cr_assert(st.objects <= st.records);
        cr_assert(st.skipped + st.truncated <= st.records);
        cr_assert_eq(st.frames, g.fr.n);
        for (size_t i = 1; i < g.fr.n; i++)
            cr_assert(g.fr.session[i] != g.fr.session[i - 1] ||
                      g.fr.ts_ns[i] > g.fr.ts_ns[i - 1]);
        got_fini(&g);
    }
    free(buf);
    free(data);
}
