/*
 * ing_sim: a deterministic race-telemetry simulator, so the embedded
 * default, the demos and every benchmark have data at any rate without
 * files.
 *
 * A field of cars laps an oval (Bristol-like: 858 m, two corners). Each
 * car's speed follows the track with a car-specific pace and noise; from
 * the speed come the throttle, brake, gear and RPM, and from throttle and
 * RPM the fuel flow, integrated into the fuel level. Cars start with
 * different fuel loads and pit when low: down pit road at 20 m/s, 8 s
 * stopped while the tank fills, back out; the race position follows the
 * distance run. Extra channels ("aux_1" ...) stand in for the hundreds of
 * sensors a real car sends (an F1 car: ~300), so benchmarks can ask for any
 * width. Every sample tick emits one point per car per channel, stamped
 * with event time (start_ns + tick * period). The fuel flow law is
 *     flow_lps = ING_SIM_FUEL_IDLE + ING_SIM_FUEL_THROTTLE_RPM * throttle * rpm
 * so a fuel-burn fit on simulator output can be checked against these
 * coefficients.
 *
 * Same options and seed -> same points, whatever the batch sizes asked.
 * Not thread-safe: one simulator per thread.
 */
#ifndef ING_SIM_H
#define ING_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_conf.h"
#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"

/* Named channels emitted per car per tick, in this order (then aux_1...). */
#define ING_SIM_CHANNELS 11
extern const char *const ing_sim_channel_names[ING_SIM_CHANNELS];

/* Most extra channels per car. */
#define ING_SIM_MAX_EXTRA 4096

/* Fuel tank, litres; a car pits below ING_SIM_PIT_FUEL_L. */
#define ING_SIM_TANK_L 68.0
#define ING_SIM_PIT_FUEL_L 4.0

/* Fuel law of the simulated engine: litres per second. */
#define ING_SIM_FUEL_IDLE 0.0025
#define ING_SIM_FUEL_THROTTLE_RPM 3.2e-6

/* Most cars a race simulator will hold. */
#define ING_SIM_MAX_CARS 256

typedef struct ing_sim_opts {
    uint32_t cars;      /* cars on track, 1..ING_SIM_MAX_CARS */
    uint32_t extra_channels; /* aux channels per car beyond the named ones */
    double start_fuel_l;     /* every car's fuel at the start; 0 = spread at random */
    double rate_pps;    /* points per second of event time, all cars */
    uint64_t seed;      /* noise seed */
    int64_t start_ns;   /* event time of the first tick */
} ing_sim_opts_t;

typedef struct ing_sim ing_sim_t;

/* The `sim` configuration section (see ing_sim_conf_section for keys). */
typedef struct ing_sim_conf {
    int64_t cars;          /* cars on track */
    double rate_pps;       /* points per second, all cars */
    int64_t seed;          /* noise seed */
    char *topic;           /* stream topic the simulator writes */
    int64_t batch_points;  /* most points per appended batch */
    int64_t extra_channels; /* aux channels per car */
    bool enabled;           /* `pitwall run` runs the simulator */
} ing_sim_conf_t;

/* Keys of the `sim` section: types, defaults, bounds, descriptions. */
extern const pw_conf_section_t ing_sim_conf_section;

/*
 * Create a simulator; names its channels ("speed_mps", ...) and entities
 * ("car/1", ...) in the given intern tables (borrowed; must outlive sim).
 * Returns 0, PW_EARG (bad option, message in err), PW_ECAPACITY (intern
 * table full) or -ENOMEM.
 */
int ing_sim_create(const ing_sim_opts_t *opts, pw_intern_t *channels,
                   pw_intern_t *entities, ing_sim_t **out, pw_err_t *err);

/*
 * Append to out every point whose event time is before until_ns, at most
 * max_points (whole ticks only; a tick is cars * ING_SIM_CHANNELS points,
 * so max_points must hold at least one). Returns the number appended, or
 * -ENOMEM if out could not grow.
 */
long ing_sim_next(ing_sim_t *sim, int64_t until_ns, size_t max_points,
                  pw_points_t *out);

/* Event time of the next tick not yet emitted. */
int64_t ing_sim_next_ts(const ing_sim_t *sim);

/* Points per tick (cars * (ING_SIM_CHANNELS + extra_channels)). */
size_t ing_sim_tick_points(const ing_sim_t *sim);

void ing_sim_destroy(ing_sim_t *sim);

#endif
