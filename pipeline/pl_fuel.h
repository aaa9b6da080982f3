/*
 * pl_fuel: the `fuel` operator: the live fuel-burn model ("Burn Bar") per
 * car, behind models/md_fuel.h.
 *
 *   - {name: burn, input: [sim], fuel: {model: conf/models/fuel.json}}
 *
 * Input: points of cars (keyed by entity or not; the point's entity is the
 * car). The channels named by the keys below are read; others are ignored.
 * A car's points with one timestamp form a sample, complete when a point
 * with a later timestamp arrives for that car or when the watermark passes
 * it. A channel whose last value is older than `stale` is missing.
 *
 * Output port 0 "out": results, topic `topic` ("burn"), key the entity's
 * name ("car/24"), ts the sample's time, at most one per car every `every`
 * of event time, plus one at every lap end. Body (msgpack map):
 *   flow_lps, used_lap_l, last_lap_l, baseline_lap_l, burn_vs_baseline
 *   (a ratio: this lap's burn so far over the baseline pro-rated to the
 *   same point of the lap; > 1 burns more, < 1 saves), fuel_left_l,
 *   laps_left, scale, calibrated, lap_end, degraded, reason, model (the
 *   coefficients' version). Unknown values are nil. While degraded (a
 *   channel missing or NaN, a value out of range, a speed jump) the last
 *   good flow is held and reason says why.
 *
 * Coefficients: loaded at init through md_coef (one slot per file, shared
 * by the workers); a reload by the host takes effect at the next batch.
 *
 * State: a md_fuel_car_t and the latest channel values per car, in an
 * array indexed by entity id; snapshot/restore write and read it.
 *
 * Threads: an instance belongs to one worker thread.
 */
#ifndef PL_FUEL_H
#define PL_FUEL_H

#include <stdint.h>

#include "core/pw_conf.h"
#include "pipeline/pl_op.h"

/* The `fuel` operator's keys (see pl_fuel_conf_section). */
typedef struct pl_fuel_conf {
    char *model;            /* model file */
    char *topic;            /* results' topic */
    char *throttle;         /* channel names; "" or NULL = not sent */
    char *rpm;
    char *speed;
    char *lap;
    char *lap_pct;
    char *fuel;
    int64_t every_ms;       /* least event time between two results of a car */
    int64_t calibration_ms; /* calibration window from the first fuel reading */
    int64_t baseline_laps;
    int64_t stale_ms;       /* a channel older than this is missing */
    double start_fuel_l;    /* fuel at the start when no gauge is sent; 0 = unknown */
} pl_fuel_conf_t;

extern const pw_conf_section_t pl_fuel_conf_section;
extern const pl_op_def_t pl_fuel_def;

#endif
