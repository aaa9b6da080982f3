#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_simgame.h"

static pw_intern_t *entities, *labels;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1024, &entities), 0);
    cr_assert_eq(pw_intern_create(1024, &labels), 0);
}

static void teardown(void)
{
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

TestSuite(ing_simgame, .init = setup, .fini = teardown, .timeout = 60);

static uint32_t label(const char *name)
{
    uint32_t id = 0;
    cr_assert_eq(pw_intern_find(labels, name, strlen(name), &id), 0, "no label %s", name);
    return id;
}

static int has(const pw_frames_t *f, size_t i, uint32_t l)
{
    return f->label[i * PW_FRAME_LABELS] == l || f->label[i * PW_FRAME_LABELS + 1] == l;
}

/* An hour of game: 36,000 frames. */
static void play_an_hour(uint64_t seed, pw_frames_t *f, ing_simgame_stats_t *st)
{
    ing_simgame_opts_t o = {.seed = seed, .start_ns = 0, .session = 2026112301};
    ing_simgame_t *g = NULL;
    cr_assert_eq(ing_simgame_create(&o, entities, labels, &g, NULL), 0);
    cr_assert_eq(ing_simgame_next(g, 3600 * PW_NS_PER_S, SIZE_MAX, f), 36000);
    ing_simgame_stats(g, st);
    ing_simgame_destroy(g);
}

Test(ing_simgame, plays_at_ten_hertz_with_every_player_and_the_ball)
{
    pw_frames_t f;
    pw_frames_init(&f);
    ing_simgame_stats_t st;
    play_an_hour(1, &f, &st);
    for (size_t i = 0; i < f.n; i++) {
        cr_assert_eq(f.nobj[i], 23);
        cr_assert_eq(f.ts_ns[i], (int64_t)i * 100 * PW_NS_PER_MS);
        cr_assert_eq(f.session[i], 2026112301);
    }
    for (size_t k = 0; k < f.nobj_total; k++) {
        cr_assert(f.x[k] >= 0 && f.x[k] <= 120 && f.y[k] >= 0 && f.y[k] <= 53.3);
        if (f.team[k] != PW_TEAM_BALL)
            cr_assert(f.speed[k] < 11.0, "a player at %f yd/s", f.speed[k]);
    }
    cr_assert(st.plays > 150, "%llu plays in an hour", (unsigned long long)st.plays);
    pw_frames_fini(&f);
}

Test(ing_simgame, ends_every_play_in_a_sack_an_incompletion_a_tackle_or_out_of_bounds)
{
    pw_frames_t f;
    pw_frames_init(&f);
    ing_simgame_stats_t st;
    play_an_hour(2, &f, &st);
    uint32_t snap = label("ball_snap"), sack = label("qb_sack"), tackle = label("tackle");
    uint32_t inc = label("pass_outcome_incomplete"), pass = label("pass_forward");
    uint32_t arrived = label("pass_arrived"), out = label("out_of_bounds");
    int live = 0, passes_thrown = 0, sacks = 0, snaps = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (has(&f, i, snap)) {
            cr_assert(!live, "frame %zu: a snap during a live play", i);
            live = 1;
            snaps++;
        }
        if (has(&f, i, pass)) {
            cr_assert(live);
            passes_thrown++;
        }
        if (has(&f, i, arrived))
            cr_assert(live);
        if (has(&f, i, sack)) {
            sacks++;
            /* A defender is on the quarterback (object 0) when he is sacked. */
            uint32_t first = f.first[i];
            double best = 1e9;
            for (uint32_t k = first + 11; k < first + 22; k++)
                best = fmin(best, hypot(f.x[k] - f.x[first], f.y[k] - f.y[first]));
            cr_assert(best < 1.5, "frame %zu: sack with the nearest rusher %f yd away", i, best);
        }
        if (has(&f, i, sack) || has(&f, i, tackle) || has(&f, i, inc) || has(&f, i, out))
            live = 0;
    }
    cr_assert_eq((unsigned long long)sacks, st.sacks);
    cr_assert(snaps >= 150);
    /* Sacks are rare but happen: a few in a hundred dropbacks. */
    double rate = (double)st.sacks / (double)st.passes;
    cr_assert(rate > 0.01 && rate < 0.2, "sack rate %f (%llu of %llu)", rate,
              (unsigned long long)st.sacks, (unsigned long long)st.passes);
    cr_assert(passes_thrown > 50);
    cr_assert(st.runs > 20);
    pw_frames_fini(&f);
}

Test(ing_simgame, gives_the_same_game_for_the_same_seed)
{
    pw_frames_t a, b;
    pw_frames_init(&a);
    pw_frames_init(&b);
    ing_simgame_stats_t st;
    play_an_hour(9, &a, &st);
    ing_simgame_opts_t o = {.seed = 9, .start_ns = 0, .session = 2026112301};
    ing_simgame_t *g = NULL;
    cr_assert_eq(ing_simgame_create(&o, entities, labels, &g, NULL), 0);
    while (ing_simgame_next(g, 3600 * PW_NS_PER_S, 7, &b) > 0)
        ;
    ing_simgame_destroy(g);
    cr_assert_eq(a.n, b.n);
    cr_assert_eq(memcmp(a.x, b.x, a.nobj_total * sizeof *a.x), 0);
    cr_assert_eq(memcmp(a.label, b.label, a.n * PW_FRAME_LABELS * sizeof *a.label), 0);
    pw_frames_fini(&a);
    pw_frames_fini(&b);
}
