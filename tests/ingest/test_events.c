/*
 * Event feeds: Metrica event CSV, NBA play-by-play, DEBS 2013 referee
 * events. Counts and times below were checked against the files with
 * Python's csv module and awk; the real data comes from PITWALL_DATA
 * (default ../shared/data).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "core/pw_time.h"
#include "ingest/ing_events.h"
#include "ingest/ing_format.h"

#define S PW_NS_PER_S
#define MS PW_NS_PER_MS

/* One emitted event, copied out of its batch. */
typedef struct got_ev {
    int64_t ts_ns;
    uint64_t session;
    uint32_t l0, l1;
    int has_obj;
    uint32_t entity;
    uint8_t team;
    float x, y, speed;
} got_ev_t;

/* What the callbacks saw. */
typedef struct got {
    got_ev_t *ev;
    size_t n, cap;
    size_t batches, max_batch;
    size_t sessions;
    uint64_t session_id;
    char session_name[128];
    size_t nmeta;
    char meta[16][2][128];
    int stop_with; /* frames callback returns this when not 0 */
} got_t;

static ing_names_t names;
static got_t got;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1 << 16, &names.channels), 0);
    cr_assert_eq(pw_intern_create(1 << 16, &names.entities), 0);
    cr_assert_eq(pw_intern_create(1 << 16, &names.labels), 0);
    memset(&got, 0, sizeof got);
}

static void teardown(void)
{
    free(got.ev);
    pw_intern_destroy(names.channels);
    pw_intern_destroy(names.entities);
    pw_intern_destroy(names.labels);
}

TestSuite(ing_events, .init = setup, .fini = teardown, .timeout = 60);

static int on_frames(void *ctx, const pw_frames_t *b)
{
    got_t *g = ctx;
    g->batches++;
    if (b->n > g->max_batch)
        g->max_batch = b->n;
    for (size_t i = 0; i < b->n; i++) {
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 4096;
            g->ev = realloc(g->ev, g->cap * sizeof *g->ev);
            cr_assert_not_null(g->ev);
        }
        got_ev_t *e = &g->ev[g->n++];
        e->ts_ns = b->ts_ns[i];
        e->session = b->session[i];
        e->l0 = b->label[i * PW_FRAME_LABELS];
        e->l1 = b->label[i * PW_FRAME_LABELS + 1];
        cr_assert(b->nobj[i] <= 1);
        e->has_obj = b->nobj[i];
        if (b->nobj[i]) {
            uint32_t o = b->first[i];
            e->entity = b->entity[o];
            e->team = b->team[o];
            e->x = b->x[o];
            e->y = b->y[o];
            e->speed = b->speed[o];
            cr_assert(isnan(b->orientation[o]) && isnan(b->direction[o]));
        }
    }
    return g->stop_with;
}

static int on_session(void *ctx, const ing_session_t *s)
{
    got_t *g = ctx;
    g->sessions++;
    g->session_id = s->id;
    snprintf(g->session_name, sizeof g->session_name, "%s", s->name);
    g->nmeta = s->n < 16 ? s->n : 16;
    for (size_t i = 0; i < g->nmeta; i++) {
        snprintf(g->meta[i][0], sizeof g->meta[i][0], "%s", s->keys[i]);
        snprintf(g->meta[i][1], sizeof g->meta[i][1], "%s", s->values[i]);
    }
    return 0;
}

static const char *meta(const char *key)
{
    for (size_t i = 0; i < got.nmeta; i++)
        if (!strcmp(got.meta[i][0], key))
            return got.meta[i][1];
    return "(absent)";
}

static uint32_t label_id(const char *name)
{
    uint32_t id = PW_LABEL_NONE;
    pw_intern_find(names.labels, name, strlen(name), &id);
    return id;
}

/* Events whose labels are l0 and l1 (NULL l1: any sub-type; "" none). */
static size_t count(const char *l0, const char *l1)
{
    uint32_t a = label_id(l0), b = l1 && *l1 ? label_id(l1) : PW_LABEL_NONE;
    size_t n = 0;
    for (size_t i = 0; i < got.n; i++)
        if (got.ev[i].l0 == a && (l1 == NULL || got.ev[i].l1 == b))
            n++;
    return a == PW_LABEL_NONE ? 0 : n;
}

static const char *entity_name(const got_ev_t *e)
{
    return e->has_obj ? pw_intern_name(names.entities, e->entity) : "(none)";
}

static const char *label_name(uint32_t id)
{
    const char *s = pw_intern_name(names.labels, id);
    return s ? s : "";
}

static int decode_opts(const char *name, const void *data, size_t len, const ing_opts_t *o,
                       ing_stats_t *st, pw_err_t *err)
{
    ing_emit_t emit = {.frames = on_frames, .session = on_session, .ctx = &got};
    ing_stats_init(st);
    memset(err, 0, sizeof *err);
    return ing_events_decode(name, data, len, o, &names, &emit, st, err);
}

static int decode(const char *name, const char *text, ing_stats_t *st, pw_err_t *err)
{
    return decode_opts(name, text, strlen(text), NULL, st, err);
}

static const char *data_root(void)
{
    const char *d = getenv("PITWALL_DATA");
    return d && *d ? d : "../shared/data";
}

/* Load a file of the shared data; skip (or fail under CI) without it. */
static void load(const char *rel, char *path, size_t cap, uint8_t **data, size_t *len)
{
    pw_err_t err = {0};
    snprintf(path, cap, "%s/%s", data_root(), rel);
    if (ing_file_load(path, 64 << 20, data, len, &err) == 0)
        return;
    if (getenv("CI"))
        cr_assert_fail("real data missing: %s (set PITWALL_DATA to the shared data folder)",
                 err.msg);
    cr_skip_test("real data missing: %s (set PITWALL_DATA to the shared data folder)",
                 err.msg);
}

/* Decode a file of the shared data into got; returns the stats. */
static ing_stats_t decode_file(const char *rel)
{
    char path[1024];
    uint8_t *data;
    size_t len;
    ing_stats_t st;
    pw_err_t err;
    load(rel, path, sizeof path, &data, &len);
    int rc = decode_opts(path, data, len, NULL, &st, &err);
    cr_assert_eq(rc, 0, "%s: %s", rel, err.msg);
    free(data);
    return st;
}

#define METRICA_1 "soccer/metrica/data/Sample_Game_1/Sample_Game_1_RawEventsData.csv"
#define METRICA_2 "soccer/metrica/data/Sample_Game_2/Sample_Game_2_RawEventsData.csv"
#define NBA_DIR "basketball/nba-2015-16-pbp/data/events"
#define DEBS_DIR "soccer/debs2013-referee/referee-events"

/* ---- Metrica ----------------------------------------------------------- */

Test(ing_events, reads_every_event_of_metrica_game_1)
{
    ing_stats_t st = decode_file(METRICA_1);
    cr_assert_eq(st.records, 1745);
    cr_assert_eq(st.events, 1745);
    cr_assert_eq(st.frames, 1745);
    cr_assert_eq(st.objects, 1745);
    cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(got.n, 1745);
    cr_assert_eq(count("PASS", NULL), 799);
    cr_assert_eq(count("RECOVERY", NULL), 278);
    cr_assert_eq(count("SHOT", NULL), 24);
    cr_assert_eq(count("CARD", NULL), 4);
    /* Three goals, all for the home side: Player9 twice, Player10 once. */
    cr_assert_eq(count("SHOT", "ON TARGET-GOAL"), 2);
    cr_assert_eq(count("SHOT", "HEAD-ON TARGET-GOAL"), 1);
    cr_assert_eq(count("SHOT", "OFF TARGET-OUT"), 9);
    /* 9 event types; Start Frame 1 -> 40 ms, last event frame 143622. */
    const char *types[] = {"PASS", "RECOVERY", "BALL LOST", "CHALLENGE", "SET PIECE",
                           "BALL OUT", "SHOT", "FAULT RECEIVED", "CARD"};
    size_t total = 0;
    for (size_t i = 0; i < 9; i++)
        total += count(types[i], NULL);
    cr_assert_eq(total, 1745);
    cr_assert_eq(st.first_ts_ns, 40 * MS);
    cr_assert_eq(st.last_ts_ns, 143622 * 40 * MS);
    cr_assert_eq(got.ev[0].ts_ns, 40 * MS);
    cr_assert_eq(got.ev[1744].ts_ns, 5744880 * MS);
    for (size_t i = 1; i < got.n; i++)
        cr_assert(got.ev[i].ts_ns >= got.ev[i - 1].ts_ns, "event %zu goes back in time", i);
    /* 28 players act, Player1..Player28. */
    cr_assert_eq(pw_intern_count(names.entities), 28);
    uint32_t id;
    cr_assert_eq(pw_intern_find(names.entities, "metrica/Player9", 15, &id), 0);
    cr_assert_eq(pw_intern_find(names.entities, "metrica/Player28", 16, &id), 0);
    cr_assert_eq(got.sessions, 1);
    cr_assert_eq(got.session_id, 1);
    cr_assert_str_eq(got.session_name, "metrica/Sample_Game_1");
    cr_assert_str_eq(meta("source"), "metrica");
    cr_assert_str_eq(meta("game"), "Sample_Game_1");
    for (size_t i = 0; i < got.n; i++)
        cr_assert_eq(got.ev[i].session, 1);
}

Test(ing_events, places_metrica_events_on_the_105_by_68_m_pitch)
{
    decode_file(METRICA_1);
    /* Away,SET PIECE,KICK OFF,1,1,0.04,0,0,Player19,,NaN,NaN,NaN,NaN */
    got_ev_t *e = &got.ev[0];
    cr_assert_str_eq(label_name(e->l0), "SET PIECE");
    cr_assert_str_eq(label_name(e->l1), "KICK OFF");
    cr_assert_str_eq(entity_name(e), "metrica/Player19");
    cr_assert_eq(e->team, PW_TEAM_AWAY);
    cr_assert(isnan(e->x) && isnan(e->y) && isnan(e->speed));
    /* Away,PASS,,1,1,0.04,3,0.12,Player19,Player21,0.45,0.39,... */
    e = &got.ev[1];
    cr_assert_str_eq(label_name(e->l0), "PASS");
    cr_assert_eq(e->l1, PW_LABEL_NONE);
    cr_assert_float_eq(e->x, 0.45 * 105, 1e-4);
    cr_assert_float_eq(e->y, 0.39 * 68, 1e-4);
    /* The first goal: Home,SHOT,HEAD-ON TARGET-GOAL at frame 2289 by Player9. */
    uint32_t goal = label_id("HEAD-ON TARGET-GOAL");
    size_t i = 0;
    while (i < got.n && got.ev[i].l1 != goal)
        i++;
    cr_assert(i < got.n);
    cr_assert_eq(got.ev[i].ts_ns, 2289 * 40 * MS);
    cr_assert_str_eq(entity_name(&got.ev[i]), "metrica/Player9");
    cr_assert_eq(got.ev[i].team, PW_TEAM_HOME);
}

Test(ing_events, reads_metrica_game_2_with_its_five_goals)
{
    ing_stats_t st = decode_file(METRICA_2);
    cr_assert_eq(st.events, 1935);
    cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
    cr_assert_eq(count("PASS", NULL), 964);
    cr_assert_eq(count("SHOT", NULL), 24);
    cr_assert_eq(count("SHOT", "ON TARGET-GOAL") + count("SHOT", "HEAD-ON TARGET-GOAL"), 5);
    cr_assert_eq(st.first_ts_ns, 2040 * MS); /* frame 51 */
    cr_assert_eq(st.last_ts_ns, 5610600 * MS); /* frame 140265 */
    cr_assert_eq(got.session_id, 2);
}

/* ---- NBA --------------------------------------------------------------- */

Test(ing_events, reads_every_nba_event_type_of_a_game)
{
    /* ATL (home) 94, DET 106: 0021500001, 2015-10-27. */
    ing_stats_t st = decode_file(NBA_DIR "/0021500001.csv");
    cr_assert_eq(st.events, 468);
    cr_assert_eq(st.objects, 458); /* period begin/end and official timeouts: none */
    cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
    cr_assert_eq(count("FIELD_GOAL", "MADE"), 74);
    cr_assert_eq(count("FIELD_GOAL", "MISSED"), 104);
    cr_assert_eq(count("FREE_THROW", "MADE"), 32);
    cr_assert_eq(count("FREE_THROW", "MISSED"), 9);
    cr_assert_eq(count("REBOUND", ""), 113);
    cr_assert_eq(count("TURNOVER", ""), 30);
    cr_assert_eq(count("FOUL", ""), 40);
    cr_assert_eq(count("VIOLATION", ""), 2);
    cr_assert_eq(count("SUBSTITUTION", ""), 41);
    cr_assert_eq(count("TIMEOUT", ""), 11);
    cr_assert_eq(count("JUMP_BALL", ""), 3);
    cr_assert_eq(count("PERIOD_BEGIN", ""), 4);
    cr_assert_eq(count("PERIOD_END", ""), 4);
    cr_assert_eq(count("INSTANT_REPLAY", ""), 1);
    cr_assert_eq(st.first_ts_ns, 0);
    cr_assert_eq(st.last_ts_ns, 48 * 60 * S);
    cr_assert_eq(got.session_id, 21500001);
    cr_assert_str_eq(got.session_name, "nba/0021500001");
    cr_assert_str_eq(meta("game"), "0021500001");
    cr_assert_str_eq(meta("home_team"), "ATL");
    cr_assert_str_eq(meta("home_team_name"), "Atlanta Hawks");
    cr_assert_str_eq(meta("home_team_id"), "1610612737");
    cr_assert_str_eq(meta("away_team"), "DET");
    cr_assert_str_eq(meta("away_team_name"), "Detroit Pistons");
}

Test(ing_events, stamps_nba_events_with_the_game_clock_since_tipoff)
{
    decode_file(NBA_DIR "/0021500001.csv");
    /* EVENTNUM 2: period 1, 11:41, MISS Drummond 2' Driving Layup. */
    got_ev_t *e = &got.ev[2];
    cr_assert_str_eq(label_name(e->l0), "FIELD_GOAL");
    cr_assert_str_eq(label_name(e->l1), "MISSED");
    cr_assert_eq(e->ts_ns, 19 * S);
    cr_assert_str_eq(entity_name(e), "nba/203083");
    cr_assert_eq(e->team, PW_TEAM_AWAY);
    cr_assert(isnan(e->x) && isnan(e->y));
    /* EVENTNUM 3: Bazemore (ATL, home) rebound at 11:39. */
    cr_assert_str_eq(entity_name(&got.ev[3]), "nba/203145");
    cr_assert_eq(got.ev[3].team, PW_TEAM_HOME);
    cr_assert_eq(got.ev[3].ts_ns, 21 * S);
    /* The first event of the second period begins at 12:00 of play. */
    uint32_t begin = label_id("PERIOD_BEGIN");
    size_t seen = 0;
    for (size_t i = 0; i < got.n; i++)
        if (got.ev[i].l0 == begin) {
            cr_assert_eq(got.ev[i].ts_ns, (int64_t)seen * 12 * 60 * S);
            cr_assert_eq(got.ev[i].has_obj, 0);
            seen++;
        }
    cr_assert_eq(seen, 4);
    /* Team events are the team's: first a HAWKS Timeout at 7:30, then a
     * HAWKS Rebound at 1:21 of period 1. */
    size_t i = 0;
    uint32_t hawks, rebound = label_id("REBOUND");
    cr_assert_eq(pw_intern_find(names.entities, "nba/1610612737", 14, &hawks), 0);
    while (i < got.n && !(got.ev[i].has_obj && got.ev[i].entity == hawks))
        i++;
    cr_assert(i < got.n);
    cr_assert_str_eq(label_name(got.ev[i].l0), "TIMEOUT");
    cr_assert_eq(got.ev[i].ts_ns, (12 * 60 - 450) * S);
    while (i < got.n && !(got.ev[i].has_obj && got.ev[i].entity == hawks &&
                          got.ev[i].l0 == rebound))
        i++;
    cr_assert(i < got.n);
    cr_assert_eq(got.ev[i].ts_ns, (12 * 60 - 81) * S);
    cr_assert_eq(got.ev[i].team, PW_TEAM_HOME);
}

Test(ing_events, reads_sixty_nba_games_with_three_overtimes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/" NBA_DIR, data_root());
    DIR *dir = opendir(path);
    if (!dir) {
        if (getenv("CI"))
            cr_assert_fail("real data missing: %s (set PITWALL_DATA)", path);
        cr_skip_test("real data missing: %s (set PITWALL_DATA)", path);
    }
    struct dirent *de;
    size_t files = 0, events = 0, overtime = 0;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".csv"))
            continue;
        char rel[512];
        snprintf(rel, sizeof rel, NBA_DIR "/%s", de->d_name);
        got.sessions = 0;
        ing_stats_t st = decode_file(rel);
        cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
        cr_assert_eq(got.sessions, 1);
        cr_assert_eq(got.session_id, strtoull(de->d_name, NULL, 10));
        files++;
        events += st.events;
        overtime += st.last_ts_ns > 48 * 60 * S;
    }
    closedir(dir);
    cr_assert_eq(files, 60);
    cr_assert_eq(events, 28842);
    cr_assert_eq(got.n, 28842);
    cr_assert_eq(count("FIELD_GOAL", "MADE"), 4470);
    cr_assert_eq(count("FIELD_GOAL", "MISSED"), 5838);
    cr_assert_eq(count("PERIOD_BEGIN", NULL), 244);
    cr_assert_eq(overtime, 3);
}

/* ---- DEBS -------------------------------------------------------------- */

Test(ing_events, reads_debs_game_interruptions_of_the_first_half)
{
    ing_stats_t st = decode_file(DEBS_DIR "/Game Interruption/1st Half.csv");
    /* 68 rows before the "Statistic:" block, which is not events. */
    cr_assert_eq(st.records, 68);
    cr_assert_eq(st.events, 68);
    cr_assert_eq(st.objects, 0);
    cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
    cr_assert_eq(count("GAME INTERRUPTION", "BEGIN"), 34);
    cr_assert_eq(count("GAME INTERRUPTION", "END"), 34);
    /* 2010;Game Interruption Begin;0;... is the kick-off of the half. */
    cr_assert_eq(st.first_ts_ns, ING_EVENTS_DEBS_HALF1_NS);
    cr_assert_eq(got.ev[1].ts_ns, ING_EVENTS_DEBS_HALF1_NS + 3092 * MS);
    cr_assert_eq(st.last_ts_ns, ING_EVENTS_DEBS_HALF1_NS + (29 * 60 + 32) * S + 757 * MS);
    cr_assert_eq(got.session_id, ING_EVENTS_DEBS_SESSION);
    cr_assert_str_eq(meta("half"), "1st Half");
}

Test(ing_events, reads_debs_shots_and_latin1_player_names)
{
    ing_stats_t st = decode_file(DEBS_DIR "/Shot on Goal/2nd Half.csv");
    cr_assert_eq(st.events, 24);
    cr_assert_eq(count("SHOT ON GOAL", ""), 24);
    /* 8013;Dennis Dotterweich;00:00:26.078;1;empty */
    cr_assert_eq(got.ev[0].ts_ns, ING_EVENTS_DEBS_HALF2_NS + 26078 * MS);
    cr_assert_str_eq(entity_name(&got.ev[0]), "debs/Dennis Dotterweich");
    cr_assert_eq(got.ev[0].team, PW_TEAM_HOME);
    cr_assert_str_eq(meta("half"), "2nd Half");

    got.n = 0;
    st = decode_file(DEBS_DIR "/Ball Possession/1st Half/Ben M\xc3\xbcller.csv");
    cr_assert_eq(st.events, 64);
    cr_assert_eq(count("BALL POSSESSION", "BEGIN"), 32);
    cr_assert_eq(count("BALL POSSESSION", "END"), 32);
    /* The file spells him in Latin-1 (0xfc); the entity is UTF-8. */
    cr_assert_str_eq(entity_name(&got.ev[0]), "debs/Ben M\xc3\xbcller");
    cr_assert_eq(got.ev[0].team, PW_TEAM_AWAY);
}

/* Decode every .csv under DEBS_DIR/sub; returns events. */
static size_t debs_dir(const char *sub, size_t *files)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/" DEBS_DIR "/%s", data_root(), sub);
    DIR *dir = opendir(path);
    if (!dir) {
        if (getenv("CI"))
            cr_assert_fail("real data missing: %s (set PITWALL_DATA)", path);
        cr_skip_test("real data missing: %s (set PITWALL_DATA)", path);
    }
    struct dirent *de;
    size_t events = 0;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".csv"))
            continue;
        char rel[1024];
        snprintf(rel, sizeof rel, DEBS_DIR "/%s/%s", sub, de->d_name);
        ing_stats_t st = decode_file(rel);
        cr_assert_eq(st.skipped, 0, "%s", st.first_problem);
        cr_assert_eq(got.session_id, ING_EVENTS_DEBS_SESSION);
        events += st.events;
        (*files)++;
    }
    closedir(dir);
    return events;
}

Test(ing_events, reads_every_debs_referee_file)
{
    size_t files = 0, events = 0;
    events += debs_dir("Ball Possession/1st Half", &files);
    events += debs_dir("Ball Possession/2nd Half", &files);
    events += debs_dir("Game Interruption", &files);
    events += debs_dir("Shot on Goal", &files);
    cr_assert_eq(files, 36);
    cr_assert_eq(events, 1978);
    cr_assert_eq(count("BALL POSSESSION", "BEGIN"), 896);
    cr_assert_eq(count("BALL POSSESSION", "END"), 896);
    cr_assert_eq(count("GAME INTERRUPTION", "BEGIN"), 72);
    cr_assert_eq(count("GAME INTERRUPTION", "END"), 71);
    cr_assert_eq(count("SHOT ON GOAL", NULL), 43);
    /* 16 players, each with a team from metadata.txt. */
    cr_assert_eq(pw_intern_count(names.entities), 16);
    for (size_t i = 0; i < got.n; i++)
        if (got.ev[i].has_obj)
            cr_assert_neq(got.ev[i].team, PW_TEAM_UNKNOWN, "%s", entity_name(&got.ev[i]));
    /* The halves do not overlap on the sensor clock. */
    for (size_t i = 0; i < got.n; i++)
        cr_assert((got.ev[i].ts_ns >= ING_EVENTS_DEBS_HALF1_NS &&
                   got.ev[i].ts_ns < ING_EVENTS_DEBS_HALF1_NS + 40 * 60 * S) ||
                      (got.ev[i].ts_ns >= ING_EVENTS_DEBS_HALF2_NS &&
                       got.ev[i].ts_ns < ING_EVENTS_DEBS_HALF2_NS + 40 * 60 * S));
}

/* ---- small inputs: formats, batching, problems ------------------------- */

#define M_HDR "Team,Type,Subtype,Period,Start Frame,Start Time [s],End Frame,End Time [s]," \
              "From,To,Start X,Start Y,End X,End Y\n"
#define M_ROW1 "Away,SET PIECE,KICK OFF,1,1,0.04,0,0,Player19,,NaN,NaN,NaN,NaN\n"
#define M_ROW2 "Away,PASS,,1,1,0.04,3,0.12,Player19,Player21,0.45,0.39,0.55,0.43\n"
#define M_ROW3 "Home,SHOT,ON TARGET-GOAL,2,90005,3600.2,90020,3600.8,Player10,,0.9,0.5,1,0.5\n"

#define N_HDR "GAME_ID,EVENTNUM,EVENTMSGTYPE,EVENTMSGACTIONTYPE,PERIOD,WCTIMESTRING," \
    "PCTIMESTRING,HOMEDESCRIPTION,NEUTRALDESCRIPTION,VISITORDESCRIPTION,SCORE," \
    "SCOREMARGIN,PERSON1TYPE,PLAYER1_ID,PLAYER1_NAME,PLAYER1_TEAM_ID,PLAYER1_TEAM_CITY," \
    "PLAYER1_TEAM_NICKNAME,PLAYER1_TEAM_ABBREVIATION,PERSON2TYPE,PLAYER2_ID,PLAYER2_NAME," \
    "PLAYER2_TEAM_ID,PLAYER2_TEAM_CITY,PLAYER2_TEAM_NICKNAME,PLAYER2_TEAM_ABBREVIATION," \
    "PERSON3TYPE,PLAYER3_ID,PLAYER3_NAME,PLAYER3_TEAM_ID,PLAYER3_TEAM_CITY," \
    "PLAYER3_TEAM_NICKNAME,PLAYER3_TEAM_ABBREVIATION\n"
/* Fields after PCTIMESTRING: desc x3, score x2, then person 1..3. */
#define N_P1_DET ",5.0,203083,Andre Drummond,1610612765.0,Detroit,Pistons,DET," \
                 "0,0,,,,,,0,0,,,,,\n"

Test(ing_events, keeps_metrica_events_in_order_across_batch_sizes)
{
    const char *text = M_HDR M_ROW1 M_ROW2 M_ROW3 M_ROW1 M_ROW2 M_ROW3 M_ROW1;
    ing_stats_t st;
    pw_err_t err;
    size_t sizes[] = {1, 2, 3, 7, 1000};
    for (size_t k = 0; k < 5; k++) {
        got.n = got.batches = got.max_batch = 0;
        ing_opts_t o = {.batch_frames = sizes[k]};
        cr_assert_eq(decode_opts("g.csv", text, strlen(text), &o, &st, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(got.n, 7);
        cr_assert_eq(got.batches, (7 + sizes[k] - 1) / sizes[k]);
        cr_assert_leq(got.max_batch, sizes[k]);
        cr_assert_eq(got.ev[2].ts_ns, 90005 * 40 * MS);
        cr_assert_str_eq(label_name(got.ev[6].l0), "SET PIECE");
    }
    /* No number in the name: the session id is a hash of it. */
    cr_assert_neq(got.session_id, 0);
    cr_assert_str_eq(got.session_name, "metrica/g");
}

Test(ing_events, stops_when_a_callback_says_so)
{
    const char *text = M_HDR M_ROW1 M_ROW2 M_ROW3 M_ROW1 M_ROW2;
    ing_stats_t st;
    pw_err_t err;
    got.stop_with = 42;
    ing_opts_t o = {.batch_frames = 2};
    cr_assert_eq(decode_opts("g.csv", text, strlen(text), &o, &st, &err), 42);
    cr_assert_eq(got.batches, 1);
    cr_assert_eq(got.n, 2);
}

Test(ing_events, counts_events_without_callbacks)
{
    const char *text = M_HDR M_ROW1 M_ROW2 M_ROW3;
    ing_emit_t none = {0};
    ing_stats_t st;
    ing_stats_init(&st);
    cr_assert_eq(ing_events_decode("g.csv", (const uint8_t *)text, strlen(text), NULL, &names,
                                   &none, &st, NULL), 0);
    cr_assert_eq(st.events, 3);
    cr_assert_eq(st.objects, 3);
    cr_assert_eq(st.bytes, strlen(text));
}

Test(ing_events, rejects_an_unknown_header)
{
    ing_stats_t st;
    pw_err_t err;
    int rc = decode("x.csv", "time,speed\n1,2\n", &st, &err);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert(strstr(err.msg, "x.csv:1: unknown header 'time,speed'") == err.msg, "%s", err.msg);
    cr_assert_eq(got.sessions, 0);
    cr_assert_eq(got.n, 0);
    cr_assert_eq(st.events, 0);
}

Test(ing_events, rejects_an_empty_input)
{
    ing_stats_t st;
    pw_err_t err;
    const char *empties[] = {"", "\n", " \r\n\n", "\xef\xbb\xbf"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(decode("e.csv", empties[i], &st, &err), PW_ECORRUPT);
        cr_assert_str_eq(err.msg, "e.csv: empty input: expected a header line");
    }
    cr_assert_eq(decode("u.csv", "\xff\xfeT\0y\0", &st, &err), PW_ECORRUPT);
    cr_assert_eq(got.sessions, 0);
}

Test(ing_events, rejects_a_known_header_without_a_needed_column)
{
    ing_stats_t st;
    pw_err_t err;
    int rc = decode("m.csv", "Team,Type,Subtype,Start Frame,From,Start Y\n", &st, &err);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "m.csv:1: Metrica event CSV header lacks column 'Start X'");
    rc = decode("d.csv", "event_id;event_name;event_time_real\n", &st, &err);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert_str_eq(err.msg,
                     "d.csv:1: DEBS 2013 referee events header lacks column 'event_counter'");
}

Test(ing_events, skips_a_row_with_a_bad_number_and_names_its_line)
{
    ing_stats_t st;
    pw_err_t err;
    const char *text = M_HDR M_ROW1 "Away,PASS,,1,12a,0.04,3,0.12,Player19,,0.45,0.39,0,0\n"
                       "Away,PASS,,1,5,0.2,3,0.12,Player19,,0.4x,0.39,0,0\n"
                       "Away,PASS,,1,5\n" M_ROW3;
    cr_assert_eq(decode("bad.csv", text, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 5);
    cr_assert_eq(st.events, 2);
    cr_assert_eq(st.skipped, 3);
    cr_assert_eq(st.truncated, 0);
    cr_assert_str_eq(st.first_problem, "bad.csv:3: Start Frame '12a' is not a frame number");
    /* The other two say why too. */
    got.n = 0;
    decode("bad.csv", M_HDR "Away,PASS,,1,5,0.2,3,0.12,Player19,,0.4x,0.39,0,0\n", &st, &err);
    cr_assert_str_eq(st.first_problem, "bad.csv:2: Start X '0.4x' is not a number");
    decode("bad.csv", M_HDR "Away,PASS,,1,5\n", &st, &err);
    cr_assert_str_eq(st.first_problem, "bad.csv:2: expected 14 fields, found 5");
}

Test(ing_events, reports_a_truncated_last_line_and_keeps_the_rest)
{
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("cut.csv", M_HDR M_ROW1 M_ROW2 "Home,SHOT,ON TAR", &st, &err), 0);
    cr_assert_eq(st.events, 2);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.skipped, 0);
    cr_assert_str_eq(st.first_problem,
                     "cut.csv:4: truncated last line (no newline): expected 14 fields, found 3");
    /* A last line without a newline that decodes is an event. */
    size_t n = strlen(M_HDR M_ROW1 M_ROW3) - 1;
    cr_assert_eq(decode_opts("end.csv", M_HDR M_ROW1 M_ROW3, n, NULL, &st, &err), 0);
    cr_assert_eq(st.events, 2);
    cr_assert_eq(st.truncated, 0);
    /* An unclosed quote at the end is truncation as well. */
    cr_assert_eq(decode("q.csv", M_HDR M_ROW1 "Home,\"SHOT,", &st, &err), 0);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.events, 1);
}

Test(ing_events, reads_quoted_nba_fields_and_checks_the_clock)
{
    ing_stats_t st;
    pw_err_t err;
    const char *text =
        N_HDR
        "0021500001,0,12,0,1,8:12 PM,12:00,,,,,,0.0,0,,,,,,0,0,,,,,,0,0,,,,,\n"
        "0021500001,17,3,12,1,8:15 PM,9:42,,,\"MISS Drummond, Free Throw 2 of 2\",,"
        N_P1_DET
        "0021500001,18,3,11,1,8:15 PM,9:42,,,\"Drummond Free Throw 1 of 2 \"\"and\"\"\","
        "\"5 - 4\",-1" N_P1_DET
        "0021500001,19,2,1,1,8:15 PM,13:00,,,MISS Drummond,," N_P1_DET
        "0021500002,20,2,1,1,8:15 PM,9:00,,,MISS Drummond,," N_P1_DET
        "0021500001,21,2,1,5,8:15 PM,4:00,,,MISS Drummond,," N_P1_DET
        "0021500001,22,99,1,1,8:15 PM,1:00,,,?,," N_P1_DET;
    cr_assert_eq(decode("0021500001.csv", text, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 7);
    cr_assert_eq(st.skipped, 2);
    cr_assert_str_eq(st.first_problem, "0021500001.csv:5: PCTIMESTRING '13:00' is not a clock "
                                       "within the period (m:ss)");
    cr_assert_eq(got.n, 5);
    cr_assert_str_eq(label_name(got.ev[1].l1), "MISSED");
    cr_assert_str_eq(label_name(got.ev[2].l1), "MADE");
    cr_assert_eq(got.ev[1].ts_ns, (2 * 60 + 18) * S);
    cr_assert_eq(got.ev[3].ts_ns, (48 + 1) * 60 * S); /* first overtime, 4:00 left */
    cr_assert_str_eq(label_name(got.ev[4].l0), "EVENTMSGTYPE_99");
    cr_assert_str_eq(meta("away_team"), "DET");
    cr_assert_str_eq(meta("home_team"), "(absent)");

    got.n = 0;
    decode("g.csv", N_HDR "0021500002,20,2,1,1,8:15 PM,9:00,,,MISS Drummond,," N_P1_DET
                          "0021500001,20,2,1,1,8:15 PM,9:00,,,MISS Drummond,," N_P1_DET,
           &st, &err);
    cr_assert_eq(st.skipped, 1);
    cr_assert_str_eq(st.first_problem, "g.csv:3: GAME_ID '0021500001' in a file of game "
                                       "0021500002");
}

Test(ing_events, reads_debs_rows_with_crlf_and_stops_at_the_summary)
{
    ing_stats_t st;
    pw_err_t err;
    const char *text = "event_id;event_name;event_time_real;event_counter;comment\r\n"
                       "6014;Nick Gertje Begin;00:01:20.365;1;empty\r\n"
                       "6015;Nick Gertje End;00:01:21.807;1;empty\r\n"
                       "6016;Zoe Unknown;00:02:00;1;empty\r\n"
                       "6017;Nick Gertje Begin;00:61:00;1;empty\r\n"
                       "\r\n;;;;\r\n"
                       "Statistic:;\r\nType:;Count:;\r\nNick Gertje Begin;1;\r\n;0;\r\n";
    cr_assert_eq(decode("Ball Possession/1st Half/x.csv", text, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 4);
    cr_assert_eq(st.events, 3);
    cr_assert_eq(st.skipped, 1);
    cr_assert_str_eq(st.first_problem, "Ball Possession/1st Half/x.csv:5: event_time_real "
                                       "'00:61:00' is not a time (hh:mm:ss.fff)");
    cr_assert_eq(got.ev[0].ts_ns, ING_EVENTS_DEBS_HALF1_NS + 80365 * MS);
    cr_assert_str_eq(label_name(got.ev[1].l1), "END");
    cr_assert_str_eq(entity_name(&got.ev[2]), "debs/Zoe Unknown");
    cr_assert_str_eq(label_name(got.ev[2].l0), "SHOT ON GOAL");
    cr_assert_eq(got.ev[2].team, PW_TEAM_UNKNOWN);
    /* Without a half in the name, time runs from the half's start. */
    got.n = 0;
    cr_assert_eq(decode("x.csv", text, &st, &err), 0);
    cr_assert_eq(got.ev[0].ts_ns, 80365 * MS);
    cr_assert_str_eq(meta("half"), "unknown");
}

Test(ing_events, fails_cleanly_when_the_label_table_is_full)
{
    pw_intern_destroy(names.labels);
    cr_assert_eq(pw_intern_create(2, &names.labels), 0);
    ing_stats_t st;
    pw_err_t err;
    int rc = decode("full.csv", M_HDR M_ROW1 M_ROW2 M_ROW3, &st, &err);
    cr_assert_eq(rc, PW_ECAPACITY);
    cr_assert(strstr(err.msg, "full.csv:3: cannot intern 'PASS'"), "%s", err.msg);
}

/* xorshift64: deterministic noise. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every decode of mangled input returns, and its counts add up. */
static void check_mangled(const char *name, const uint8_t *buf, size_t len)
{
    ing_stats_t st;
    pw_err_t err;
    got.n = 0;
    int rc = decode_opts(name, buf, len, NULL, &st, &err);
    if (rc == 0)
        cr_assert_eq(st.events + st.skipped + (uint64_t)st.truncated, st.records);
    else
        cr_assert(rc == PW_ECORRUPT && err.msg[0], "rc %d: %s", rc, err.msg);
    cr_assert_eq(got.n, st.events);
}

Test(ing_events, survives_garbage_bytes_and_every_cut)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t buf[4096];
    /* Pure noise. */
    for (int k = 0; k < 300; k++) {
        size_t len = rnd(&seed) % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd(&seed);
        check_mangled("noise.csv", buf, len);
    }
    /* A valid header, then noise biased to separators and quotes. */
    const char *heads[] = {M_HDR, N_HDR,
                           "event_id;event_name;event_time_real;event_counter;comment\n"};
    const char alpha[] = ",;\"\n\r0123456789.:-eNa \xfc\xc3";
    for (int k = 0; k < 600; k++) {
        const char *h = heads[k % 3];
        size_t hl = strlen(h), len = hl + rnd(&seed) % (sizeof buf - hl);
        memcpy(buf, h, hl);
        for (size_t i = hl; i < len; i++)
            buf[i] = (uint8_t)alpha[rnd(&seed) % (sizeof alpha - 1)];
        check_mangled("Ball Possession/2nd Half/noise.csv", buf, len);
    }
    /* Every prefix of small valid inputs. */
    const char *texts[] = {M_HDR M_ROW1 M_ROW2 M_ROW3,
                           N_HDR "0021500001,17,3,12,1,8:15 PM,9:42,,,\"MISS, x\",," N_P1_DET};
    for (int t = 0; t < 2; t++)
        for (size_t n = 0; n <= strlen(texts[t]); n++)
            check_mangled("cut.csv", (const uint8_t *)texts[t], n);
}

Test(ing_events, survives_mangled_real_files)
{
    char path[1024];
    uint8_t *data;
    size_t len;
    load(NBA_DIR "/0021500001.csv", path, sizeof path, &data, &len);
    uint8_t *copy = malloc(len);
    cr_assert_not_null(copy);
    uint64_t seed = 12345;
    for (int k = 0; k < 150; k++) {
        memcpy(copy, data, len);
        for (int j = 0; j < 30; j++)
            copy[rnd(&seed) % len] = (uint8_t)rnd(&seed);
        size_t n = k % 5 == 0 ? rnd(&seed) % len : len;
        check_mangled(path, copy, n);
    }
    free(copy);
    free(data);
}
