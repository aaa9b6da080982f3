#include "ingest/ing_sim.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_error.h"
#include "core/pw_time.h"

const char *const ing_sim_channel_names[ING_SIM_CHANNELS] = {
    "speed_mps", "throttle", "brake", "gear", "rpm", "lap_dist_pct",
    "lap", "fuel_level_l", "fuel_flow_lps", "position", "pit",
};

static const pw_conf_key_t sim_keys[] = {
    {.name = "enabled", .type = PW_CONF_BOOL, .offset = offsetof(ing_sim_conf_t, enabled),
     .def = "true", .desc = "`pitwall run` feeds the simulator into the log (turn off to "
                            "take only live listeners)"},
    {.name = "cars", .type = PW_CONF_INT, .offset = offsetof(ing_sim_conf_t, cars),
     .def = "40", .min = "1", .max = "256", .desc = "cars on track"},
    {.name = "rate_pps", .type = PW_CONF_DOUBLE,
     .offset = offsetof(ing_sim_conf_t, rate_pps), .def = "100000", .min = "1",
     .max = "10000000000",
     .desc = "points per second of all cars together (at least one tick: cars * channels)"},
    {.name = "seed", .type = PW_CONF_INT, .offset = offsetof(ing_sim_conf_t, seed),
     .def = "1", .min = "0", .desc = "seed of the simulator's noise; same seed, same race"},
    {.name = "topic", .type = PW_CONF_STRING, .offset = offsetof(ing_sim_conf_t, topic),
     .def = "telemetry", .desc = "stream topic the simulated points are appended to"},
    {.name = "extra_channels", .type = PW_CONF_INT,
     .offset = offsetof(ing_sim_conf_t, extra_channels), .def = "0", .min = "0",
     .max = "4096", .desc = "aux channels per car beyond the 11 named ones (an F1 car sends ~300)"},
    {.name = "batch_points", .type = PW_CONF_INT,
     .offset = offsetof(ing_sim_conf_t, batch_points), .def = "1000", .min = "8",
     .max = "1048576", .desc = "most points in one appended batch"},
};

const pw_conf_section_t ing_sim_conf_section = {
    .name = "sim",
    .desc = "the race simulator behind `pitwall run` and `pitwall sim`",
    .keys = sim_keys,
    .nkeys = PW_CONF_NKEYS(sim_keys),
};

enum { CH_SPEED, CH_THROTTLE, CH_BRAKE, CH_GEAR, CH_RPM, CH_DIST, CH_LAP,
       CH_FUEL, CH_FLOW, CH_POSITION, CH_PIT };

#define TRACK_M 858.0
#define TWO_PI 6.283185307179586
/* Pit road: length each way, speed limit, time stopped. */
#define PIT_ROAD_M 150.0
#define PIT_SPEED_MPS 20.0
#define PIT_STOP_S 8.0

/* Where a car is in a pit stop. */
enum { PIT_NONE, PIT_IN, PIT_STOPPED, PIT_OUT };

typedef struct sim_car {
    uint32_t entity;
    int pit;         /* PIT_* */
    double pace;     /* fraction of the reference speed this car runs */
    double dist_m;   /* distance along the lap */
    double lap;
    double speed_mps;
    double fuel_l;
    double pit_left; /* metres of pit road, or seconds stopped, left */
    double position; /* 1 = leading */
} sim_car_t;

struct ing_sim {
    ing_sim_opts_t opts;
    uint32_t nchannels; /* named + extra */
    uint32_t *channel;  /* ids of all channels, in emission order */
    int64_t period_ns;  /* event time between ticks */
    uint64_t tick;
    uint64_t rng;
    sim_car_t car[];
};

/* xorshift64*: small, fast and deterministic across platforms. */
static double rng_unit(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

int ing_sim_create(const ing_sim_opts_t *o, pw_intern_t *channels,
                   pw_intern_t *entities, ing_sim_t **out, pw_err_t *err)
{
    if (o->cars < 1 || o->cars > ING_SIM_MAX_CARS)
        return pw_err_set(err, PW_EARG, "sim: cars must be 1..%d, got %u",
                          ING_SIM_MAX_CARS, o->cars);
    if (o->extra_channels > ING_SIM_MAX_EXTRA)
        return pw_err_set(err, PW_EARG, "sim: extra_channels must be 0..%d, got %u",
                          ING_SIM_MAX_EXTRA, o->extra_channels);
    uint32_t nch = ING_SIM_CHANNELS + o->extra_channels;
    double tick_points = (double)o->cars * nch;
    if (!(o->rate_pps >= tick_points) || o->rate_pps > 1e10)
        return pw_err_set(err, PW_EARG,
                          "sim: rate_pps %.0f must be at least one tick, cars * "
                          "channels = %.0f, and at most 1e10", o->rate_pps, tick_points);
    ing_sim_t *s = calloc(1, sizeof *s + o->cars * sizeof s->car[0]);
    if (s == NULL)
        return -ENOMEM;
    s->nchannels = nch;
    s->channel = calloc(nch, sizeof *s->channel);
    if (s->channel == NULL) {
        free(s);
        return -ENOMEM;
    }
    s->opts = *o;
    s->period_ns = (int64_t)(tick_points / o->rate_pps * PW_NS_PER_S);
    if (s->period_ns < 1)
        s->period_ns = 1;
    s->rng = o->seed ? o->seed : 0x9E3779B97F4A7C15ULL;
    int rc = 0;
    for (uint32_t c = 0; c < nch && rc == 0; c++) {
        char aux[32];
        const char *cname = c < ING_SIM_CHANNELS ? ing_sim_channel_names[c] : aux;
        if (c >= ING_SIM_CHANNELS)
            snprintf(aux, sizeof aux, "aux_%u", c - ING_SIM_CHANNELS + 1);
        rc = pw_intern_add(channels, cname, strlen(cname), &s->channel[c]);
    }
    for (uint32_t i = 0; i < o->cars && rc == 0; i++) {
        char name[32];
        int len = snprintf(name, sizeof name, "car/%u", i + 1);
        rc = pw_intern_add(entities, name, (size_t)len, &s->car[i].entity);
        s->car[i].pace = 0.97 + 0.03 * rng_unit(&s->rng);
        s->car[i].dist_m = TRACK_M * (double)i / o->cars;
        /* Different fuel loads, so pit stops spread over the race. */
        s->car[i].fuel_l = o->start_fuel_l > 0 ? fmin(o->start_fuel_l, ING_SIM_TANK_L)
                                               : ING_SIM_TANK_L * (0.12 + 0.88 * rng_unit(&s->rng));
        s->car[i].position = i + 1;
    }
    if (rc) {
        free(s->channel);
        free(s);
        return pw_err_set(err, rc, "sim: cannot name channels and cars: %s",
                          pw_strerror(rc));
    }
    *out = s;
    return 0;
}

/* Speed the car aims for now: the racing line, or pit road. */
static double target_speed(ing_sim_t *s, const sim_car_t *c)
{
    if (c->pit == PIT_STOPPED)
        return 0.0;
    if (c->pit != PIT_NONE)
        return PIT_SPEED_MPS;
    /* Two corners per lap: speed dips at 1/4 and 3/4 of the lap. */
    double phase = c->dist_m / TRACK_M;
    double t = c->pace * (58.0 - 14.0 * (0.5 + 0.5 * cos(2 * TWO_PI * phase)));
    return t + 0.4 * (rng_unit(&s->rng) - 0.5);
}

/* Move a car through its pit stop; dist_m is what it moved this step. */
static void pit_step(sim_car_t *c, double dt, double moved_m)
{
    switch (c->pit) {
    case PIT_IN:
    case PIT_OUT:
        c->pit_left -= moved_m;
        if (c->pit_left <= 0) {
            c->pit = c->pit == PIT_IN ? PIT_STOPPED : PIT_NONE;
            c->pit_left = PIT_STOP_S;
        }
        break;
    case PIT_STOPPED:
        /* The tank fills over the stop. */
        c->fuel_l = fmin(ING_SIM_TANK_L, c->fuel_l + ING_SIM_TANK_L / PIT_STOP_S * dt);
        c->pit_left -= dt;
        if (c->pit_left <= 0) {
            c->pit = PIT_OUT;
            c->pit_left = PIT_ROAD_M;
        }
        break;
    default:
        break;
    }
}

/* Advance one car by dt seconds and write its named channel values. */
static void car_step(ing_sim_t *s, sim_car_t *c, double dt, double v[])
{
    double accel = (target_speed(s, c) - c->speed_mps) / 0.6;
    c->speed_mps += accel * dt;
    if (c->speed_mps < 0 || c->pit == PIT_STOPPED)
        c->speed_mps = 0; /* stopped in the box */
    double throttle = accel > 0 ? fmin(1.0, 0.35 + accel / 12.0)
                                : fmax(0.0, 0.35 + accel / 6.0);
    if (c->pit == PIT_STOPPED)
        throttle = 0.0;
    double brake = accel < -4.0 ? fmin(1.0, -accel / 25.0) : 0.0;
    double gear = c->speed_mps < 1 ? 1 : c->speed_mps < 20 ? 2 : c->speed_mps < 35 ? 3 : 4;
    double ratio = gear <= 2 ? 210.0 : gear == 3 ? 160.0 : 135.0;
    double rpm = 1800.0 + c->speed_mps * ratio;
    double flow = ING_SIM_FUEL_IDLE + ING_SIM_FUEL_THROTTLE_RPM * throttle * rpm;
    c->fuel_l = fmax(0.0, c->fuel_l - flow * dt);
    double moved = c->speed_mps * dt;
    c->dist_m += moved;
    pit_step(c, dt, moved);
    while (c->dist_m >= TRACK_M) {
        c->dist_m -= TRACK_M;
        c->lap += 1;
        /* Low on fuel at the line: take the next pit road. */
        if (c->pit == PIT_NONE && c->fuel_l < ING_SIM_PIT_FUEL_L) {
            c->pit = PIT_IN;
            c->pit_left = PIT_ROAD_M;
        }
    }
    v[CH_SPEED] = c->speed_mps;
    v[CH_THROTTLE] = throttle;
    v[CH_BRAKE] = brake;
    v[CH_GEAR] = gear;
    v[CH_RPM] = rpm;
    v[CH_DIST] = c->dist_m / TRACK_M;
    v[CH_LAP] = c->lap;
    v[CH_FUEL] = c->fuel_l;
    v[CH_FLOW] = flow;
    v[CH_POSITION] = c->position;
    v[CH_PIT] = c->pit != PIT_NONE;
}

/* Race positions by distance run (cars are few: O(n^2) per tick is fine). */
static void rank_cars(ing_sim_t *s)
{
    uint32_t n = s->opts.cars;
    for (uint32_t i = 0; i < n; i++) {
        double di = s->car[i].lap * TRACK_M + s->car[i].dist_m;
        uint32_t ahead = 0;
        for (uint32_t j = 0; j < n; j++) {
            double dj = s->car[j].lap * TRACK_M + s->car[j].dist_m;
            ahead += dj > di || (dj == di && j < i);
        }
        s->car[i].position = ahead + 1;
    }
}

long ing_sim_next(ing_sim_t *s, int64_t until_ns, size_t max_points,
                  pw_points_t *out)
{
    size_t per_tick = ing_sim_tick_points(s);
    long emitted = 0;
    double dt = (double)s->period_ns / PW_NS_PER_S;
    while (ing_sim_next_ts(s) < until_ns &&
           (size_t)emitted + per_tick <= max_points) {
        /* Grow geometrically: a long run must not copy the batch per tick. */
        if (out->n + per_tick > out->cap &&
            pw_points_reserve(out, out->cap * 2 > out->n + per_tick ? out->cap * 2
                                                                    : out->n + per_tick))
            return -ENOMEM;
        int64_t ts = ing_sim_next_ts(s);
        for (uint32_t i = 0; i < s->opts.cars; i++) {
            double v[ING_SIM_CHANNELS];
            car_step(s, &s->car[i], dt, v);
            size_t k = out->n;
            for (uint32_t c = 0; c < s->nchannels; c++, k++) {
                out->ts_ns[k] = ts;
                out->entity[k] = s->car[i].entity;
                out->channel[k] = s->channel[c];
                /* aux channels: a sensor's slow value plus noise */
                out->value[k] = c < ING_SIM_CHANNELS ? v[c]
                                                     : c + rng_unit(&s->rng) * 0.01;
            }
            out->n = k;
        }
        if (s->tick % 16 == 0)
            rank_cars(s);
        s->tick++;
        emitted += (long)per_tick;
    }
    return emitted;
}

int64_t ing_sim_next_ts(const ing_sim_t *s)
{
    return s->opts.start_ns + (int64_t)s->tick * s->period_ns;
}

size_t ing_sim_tick_points(const ing_sim_t *s)
{
    return (size_t)s->opts.cars * s->nchannels;
}

void ing_sim_destroy(ing_sim_t *s)
{
    if (s)
        free(s->channel);
    free(s);
}
