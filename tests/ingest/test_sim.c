#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_sim.h"

static pw_intern_t *channels, *entities;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1024, &channels), 0);
    cr_assert_eq(pw_intern_create(1024, &entities), 0);
}

static void teardown(void)
{
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
}

static ing_sim_t *make_sim(uint32_t cars, double rate_pps, uint64_t seed)
{
    ing_sim_opts_t o = {.cars = cars, .rate_pps = rate_pps, .seed = seed,
                        .start_ns = 1000 * PW_NS_PER_S};
    ing_sim_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_sim_create(&o, channels, entities, &s, &err), 0, "%s", err.msg);
    return s;
}

TestSuite(ing_sim, .init = setup, .fini = teardown, .timeout = 60);

Test(ing_sim, emits_every_channel_of_every_car_at_the_configured_rate)
{
    /* 4 cars x 11 channels at 4400 points/s: 100 ticks a second. */
    ing_sim_t *s = make_sim(4, 4400, 7);
    pw_points_t b;
    pw_points_init(&b);
    long n = ing_sim_next(s, 1001 * PW_NS_PER_S, 1000000, &b);
    cr_assert_eq(n, 4400);
    cr_assert_eq(b.n, 4400);
    cr_assert_eq(b.ts_ns[0], 1000 * PW_NS_PER_S);
    cr_assert_eq(b.ts_ns[44], 1000 * PW_NS_PER_S + 10 * PW_NS_PER_MS);
    uint32_t car1, rpm;
    cr_assert_eq(pw_intern_find(entities, "car/1", 5, &car1), 0);
    cr_assert_eq(pw_intern_find(channels, "rpm", 3, &rpm), 0);
    size_t seen = 0;
    for (size_t i = 0; i < b.n; i++) {
        cr_assert(b.ts_ns[i] < 1001 * PW_NS_PER_S);
        cr_assert(isfinite(b.value[i]));
        if (b.entity[i] == car1 && b.channel[i] == rpm) {
            cr_assert(b.value[i] > 1500 && b.value[i] < 12000, "rpm %f", b.value[i]);
            seen++;
        }
    }
    cr_assert_eq(seen, 100);
    pw_points_fini(&b);
    ing_sim_destroy(s);
}

Test(ing_sim, gives_the_same_points_whatever_the_batch_sizes)
{
    ing_sim_t *a = make_sim(3, 3300, 42), *b = make_sim(3, 3300, 42);
    pw_points_t pa, pb;
    pw_points_init(&pa);
    pw_points_init(&pb);
    ing_sim_next(a, 1003 * PW_NS_PER_S, SIZE_MAX, &pa);
    while (ing_sim_next(b, 1003 * PW_NS_PER_S, 33 * 7, &pb) > 0)
        ;
    cr_assert_eq(pa.n, pb.n);
    cr_assert_eq(memcmp(pa.value, pb.value, pa.n * sizeof *pa.value), 0);
    cr_assert_eq(memcmp(pa.ts_ns, pb.ts_ns, pa.n * sizeof *pa.ts_ns), 0);
    pw_points_fini(&pa);
    pw_points_fini(&pb);
    ing_sim_destroy(a);
    ing_sim_destroy(b);
}

Test(ing_sim, burns_fuel_by_its_own_fuel_law)
{
    ing_sim_t *s = make_sim(1, 1100, 3); /* 100 ticks a second: dt = 10 ms */
    pw_points_t b;
    pw_points_init(&b);
    ing_sim_next(s, 1060 * PW_NS_PER_S, SIZE_MAX, &b);
    uint32_t thr, rpm, fuel;
    cr_assert_eq(pw_intern_find(channels, "throttle", 8, &thr), 0);
    cr_assert_eq(pw_intern_find(channels, "rpm", 3, &rpm), 0);
    cr_assert_eq(pw_intern_find(channels, "fuel_level_l", 12, &fuel), 0);
    /* Each tick's fuel drop is flow(throttle, rpm of that tick) * dt. */
    double law_l = 0, first = NAN, last = NAN, t = NAN, r = NAN;
    for (size_t i = 0; i < b.n; i++) {
        if (b.channel[i] == thr)
            t = b.value[i];
        else if (b.channel[i] == rpm)
            r = b.value[i];
        else if (b.channel[i] == fuel) {
            if (isnan(first))
                first = b.value[i];
            else
                law_l += (ING_SIM_FUEL_IDLE + ING_SIM_FUEL_THROTTLE_RPM * t * r) * 0.01;
            last = b.value[i];
        }
    }
    double burned_l = first - last;
    cr_assert(burned_l > 0.5 && burned_l < 10, "a minute burned %f l", burned_l);
    cr_assert_float_eq(burned_l, law_l, 1e-9 * law_l, "burned %f, law %f", burned_l, law_l);
    pw_points_fini(&b);
    ing_sim_destroy(s);
}

Test(ing_sim, rejects_impossible_options_with_a_reason)
{
    ing_sim_opts_t o = {.cars = 0, .rate_pps = 1000};
    ing_sim_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_sim_create(&o, channels, entities, &s, &err), PW_EARG);
    cr_assert(strstr(err.msg, "cars") != NULL, "%s", err.msg);
    o.cars = 10;
    o.rate_pps = 5; /* below one tick of 110 points a second */
    cr_assert_eq(ing_sim_create(&o, channels, entities, &s, &err), PW_EARG);
    cr_assert(strstr(err.msg, "rate_pps") != NULL, "%s", err.msg);
    cr_assert_null(s);
}

Test(ing_sim, pits_when_low_on_fuel_and_leaves_with_a_full_tank)
{
    ing_sim_opts_t o = {.cars = 1, .rate_pps = 1100, .seed = 5, .start_fuel_l = 4.3};
    ing_sim_t *s = NULL;
    cr_assert_eq(ing_sim_create(&o, channels, entities, &s, NULL), 0);
    pw_points_t b;
    pw_points_init(&b);
    ing_sim_next(s, 240 * PW_NS_PER_S, SIZE_MAX, &b);
    uint32_t pit, fuel, speed;
    cr_assert_eq(pw_intern_find(channels, "pit", 3, &pit), 0);
    cr_assert_eq(pw_intern_find(channels, "fuel_level_l", 12, &fuel), 0);
    cr_assert_eq(pw_intern_find(channels, "speed_mps", 9, &speed), 0);
    double min_fuel = 1e9, max_after = 0, v_min_in_pit = 1e9;
    int in_pit = 0, entered = 0, left = 0;
    double v = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (b.channel[i] == speed)
            v = b.value[i];
        else if (b.channel[i] == fuel) {
            if (!entered && b.value[i] < min_fuel)
                min_fuel = b.value[i];
            if (left && b.value[i] > max_after)
                max_after = b.value[i];
        } else if (b.channel[i] == pit) {
            if (b.value[i] == 1 && !in_pit)
                entered++;
            if (b.value[i] == 0 && in_pit)
                left++;
            in_pit = b.value[i] == 1;
            if (in_pit && v < v_min_in_pit)
                v_min_in_pit = v;
        }
    }
    cr_assert_eq(entered, 1, "pit stops: %d", entered);
    cr_assert_eq(left, 1);
    cr_assert(min_fuel < ING_SIM_PIT_FUEL_L, "pitted with %f l", min_fuel);
    cr_assert(max_after > ING_SIM_TANK_L - 1, "left with %f l", max_after);
    cr_assert_float_eq(v_min_in_pit, 0.0, 1e-9, "the car stops in its box");
    pw_points_fini(&b);
    ing_sim_destroy(s);
}

Test(ing_sim, ranks_every_car_once)
{
    ing_sim_t *s = make_sim(6, 6600, 11);
    pw_points_t b;
    pw_points_init(&b);
    ing_sim_next(s, 1030 * PW_NS_PER_S, SIZE_MAX, &b);
    uint32_t pos;
    cr_assert_eq(pw_intern_find(channels, "position", 8, &pos), 0);
    /* The last tick's positions are a permutation of 1..6. */
    int seen[7] = {0};
    for (size_t i = b.n - 66; i < b.n; i++)
        if (b.channel[i] == pos) {
            cr_assert(b.value[i] >= 1 && b.value[i] <= 6, "position %f", b.value[i]);
            seen[(int)b.value[i]]++;
        }
    for (int p = 1; p <= 6; p++)
        cr_assert_eq(seen[p], 1, "position %d seen %d times", p, seen[p]);
    pw_points_fini(&b);
    ing_sim_destroy(s);
}

Test(ing_sim, emits_as_many_aux_channels_as_asked)
{
    ing_sim_opts_t o = {.cars = 2, .extra_channels = 289, .rate_pps = 60000, .seed = 1};
    ing_sim_t *s = NULL;
    cr_assert_eq(ing_sim_create(&o, channels, entities, &s, NULL), 0);
    cr_assert_eq(ing_sim_tick_points(s), 2 * 300);
    uint32_t id;
    cr_assert_eq(pw_intern_find(channels, "aux_289", 7, &id), 0);
    ing_sim_destroy(s);
}
