/*
 * model_fuel: the live fuel-burn operator on simulated race telemetry, 40
 * cars at 60 Hz with their 11 channels (throttle, rpm, speed, lap, fuel
 * level and six the operator skips), in batches of 1000 points, with the
 * watermark advanced after each batch the way a worker does.
 *
 * One latency sample is the time of one batch (process + advance +
 * clearing the results) divided by the car samples it completed: the cost
 * of one update of one car, which the issue budgets at 0.5 us. Batches
 * are generated before timing; the coefficients are the simulator's law
 * written to a scratch model file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_sim.h"
#include "models/md_fuel.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_fuel.h"
#include "pipeline/pl_op.h"

#define CARS 40
#define HZ 60
#define SIM_S 120 /* event time generated; replayed as often as the budget allows */

int bench_model_fuel(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    pw_intern_t *channels = NULL, *entities = NULL, *labels = NULL;
    ing_sim_t *sim = NULL;
    pw_points_t pts;
    pl_batch_t *batches = NULL;
    size_t nb = 0;
    pl_fuel_conf_t conf;
    pl_op_t op;
    int rc;
    memset(&conf, 0, sizeof conf);
    memset(&op, 0, sizeof op);
    pw_points_init(&pts);
    pl_batch_init(&op.out[0], PL_RESULTS);
    if ((rc = pw_intern_create(64, &channels)) != 0 ||
        (rc = pw_intern_create(CARS + 16, &entities)) != 0 ||
        (rc = pw_intern_create(16, &labels)) != 0) {
        pw_err_set(err, rc, "model_fuel: name tables: %s", pw_strerror(rc));
        goto out;
    }
    ing_sim_opts_t so = {.cars = CARS, .start_fuel_l = 60, .rate_pps = CARS * 11.0 * HZ,
                         .seed = 1, .start_ns = INT64_C(1700000000) * PW_NS_PER_S};
    if ((rc = ing_sim_create(&so, channels, entities, &sim, err)) != 0)
        goto out;
    if (ing_sim_next(sim, so.start_ns + SIM_S * PW_NS_PER_S, SIZE_MAX / 2, &pts) < 0) {
        rc = pw_err_set(err, -ENOMEM, "model_fuel: out of memory");
        goto out;
    }
    nb = (pts.n + BENCH_BATCH_POINTS - 1) / BENCH_BATCH_POINTS;
    batches = calloc(nb, sizeof *batches);
    if (batches == NULL) {
        rc = pw_err_set(err, -ENOMEM, "model_fuel: out of memory");
        nb = 0;
        goto out;
    }
    for (size_t b = 0; b < nb; b++) {
        pl_batch_init(&batches[b], PL_POINTS);
        for (size_t i = b * BENCH_BATCH_POINTS; i < pts.n && i < (b + 1) * BENCH_BATCH_POINTS;
             i++)
            if (pl_batch_add_point(&batches[b], pts.ts_ns[i], pts.entity[i], pts.channel[i],
                                   pts.value[i], 0)) {
                rc = pw_err_set(err, -ENOMEM, "model_fuel: out of memory");
                goto out;
            }
    }
    char model[4200];
    snprintf(model, sizeof model, "%.4000s/fuel-bench.json", o->dir);
    md_fuel_coef_t c = {.nfeat = 2, .feat = {MD_FUEL_F_ONE, MD_FUEL_F_THROTTLE_RPM},
                        .beta = {ING_SIM_FUEL_IDLE, ING_SIM_FUEL_THROTTLE_RPM}};
    md_fuel_coef_stamp(&c);
    if ((rc = md_fuel_coef_write(model, &c, err)) != 0)
        goto out;
    char yaml[4300];
    snprintf(yaml, sizeof yaml, "{model: '%.4200s'}", model);
    if ((rc = pw_conf_load_string("bench", yaml, strlen(yaml), &pl_fuel_conf_section, &conf,
                                  err)) != 0)
        goto out;
    pl_names_t names = {channels, entities, labels};
    pl_port_type_t itype = {PL_POINTS, false};
    pl_setup_t su = {.name = "burn", .names = &names, .in = &itype, .nin = 1, .workers = 1};
    op.def = &pl_fuel_def;
    op.name = "burn";
    if ((rc = pl_fuel_def.init(&op, &conf, &su, err)) != 0)
        goto out;
    pl_ctx_t ctx = {.watermark_ns = PL_WATERMARK_MIN, .names = &names};
    int64_t busy_ns = 0, stop = pw_mono_ns() + (int64_t)(o->seconds * PW_NS_PER_S);
    int64_t shift = 0, span = SIM_S * PW_NS_PER_S;
    uint64_t points = 0, samples = 0, results = 0;
    for (int pass = 0;; pass++) {
        for (size_t b = 0; b < nb; b++) {
            pl_batch_t *in = &batches[b];
            /* Later passes replay the race later in time, so cars go on. */
            if (pass > 0)
                for (size_t i = 0; i < in->pts.n; i++)
                    in->pts.ts_ns[i] += span;
            int64_t t0 = pw_mono_ns();
            rc = pl_fuel_def.process(&op, 0, in, &ctx);
            ctx.watermark_ns = in->pts.ts_ns[in->pts.n - 1];
            if (rc == 0)
                rc = pl_fuel_def.advance(&op, &ctx);
            size_t nres = op.out[0].res.rec.n;
            pl_batch_clear(&op.out[0]);
            int64_t t1 = pw_mono_ns();
            if (rc) {
                pw_err_set(err, rc, "model_fuel: %s", pw_strerror(rc));
                goto out;
            }
            /* Car samples completed here: every point's sample, 11 points each. */
            double per = (double)in->pts.n / 11.0;
            busy_ns += t1 - t0;
            if (pass > 0 || b > 0)
                pw_hist_record(&r->lat, (uint64_t)((double)(t1 - t0) / per));
            points += in->pts.n;
            samples += in->pts.n / 11;
            results += nres;
        }
        shift += span;
        if (pw_mono_ns() >= stop)
            break;
    }
    (void)shift;
    if (op.cnt.late || results == 0) {
        rc = pw_err_set(err, PW_ECORRUPT, "model_fuel: %llu late points, %llu results",
                        (unsigned long long)op.cnt.late, (unsigned long long)results);
        goto out;
    }
    double secs = (double)busy_ns / PW_NS_PER_S;
    r->points_per_s = (double)points / secs;
    snprintf(r->unit, sizeof r->unit, "car sample (11 points)");
    snprintf(r->note, sizeof r->note,
             "%d cars at %d Hz, batches of %d points; %.1f ns per car sample on average, "
             "%.0fk results/s (every 100 ms per car + lap ends)",
             CARS, HZ, BENCH_BATCH_POINTS, (double)busy_ns / (double)samples,
             (double)results / secs / 1e3);
    rc = 0;
out:
    if (op.state)
        pl_fuel_def.close(&op);
    pw_conf_fini(&pl_fuel_conf_section, &conf);
    for (size_t b = 0; b < nb; b++)
        pl_batch_fini(&batches[b]);
    free(batches);
    pl_batch_fini(&op.out[0]);
    pw_points_fini(&pts);
    ing_sim_destroy(sim);
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
    return rc;
}
