/*
 * sim_race: how fast the race simulator generates points, on an F1-like
 * grid (20 cars x 300 channels), in 1000-point batches: the ceiling for
 * every benchmark and demo that feeds on simulated data.
 */
#include <stdint.h>
#include <stdio.h>

#include "bench/bench.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "core/pw_time.h"
#include "ingest/ing_sim.h"

int bench_sim_race(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    pw_intern_t *ch = NULL, *ent = NULL;
    ing_sim_t *sim = NULL;
    pw_points_t b;
    pw_points_init(&b);
    int rc = pw_intern_create(4096, &ch);
    if (rc == 0)
        rc = pw_intern_create(1024, &ent);
    ing_sim_opts_t so = {.cars = 20, .extra_channels = 300 - ING_SIM_CHANNELS,
                         .rate_pps = 1e9, .seed = 1, .start_ns = 0};
    if (rc == 0)
        rc = ing_sim_create(&so, ch, ent, &sim, err);
    /* One tick (6000 points) per call: the simulator emits whole ticks. */
    size_t batch = sim ? ing_sim_tick_points(sim) : 0;
    uint64_t points = 0;
    int64_t start = pw_mono_ns(), stop = start + (int64_t)(o->seconds * PW_NS_PER_S);
    while (rc == 0) {
        int64_t t0 = pw_mono_ns();
        if (t0 >= stop)
            break;
        pw_points_clear(&b);
        long got = ing_sim_next(sim, INT64_MAX, batch, &b);
        if (got < 0)
            rc = (int)got;
        points += (uint64_t)b.n;
        pw_hist_record(&r->lat, (uint64_t)(pw_mono_ns() - t0));
    }
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    r->points_per_s = (double)points / secs;
    snprintf(r->unit, sizeof r->unit, "tick of %zu points", batch);
    snprintf(r->note, sizeof r->note, "20 cars x 300 channels, one core");
    pw_points_fini(&b);
    ing_sim_destroy(sim);
    pw_intern_destroy(ent);
    pw_intern_destroy(ch);
    return rc;
}
