/*
 * md_fuel and the fuel operator: the fit recovers the simulator's fuel law,
 * the model trained on iRacing data meets its metrics on the validation
 * half, the file is reproducible, and the live operator emits, calibrates,
 * degrades and checkpoints as documented.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pw_body.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_sim.h"
#include "models/md_coef.h"
#include "models/md_fuel.h"
#include "models/md_model.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_fuel.h"
#include "pipeline/pl_op.h"
#include "tests/ingest/data_util.h"

#define BRISTOL "racing/iracing/nascar-truck-bristol.ibt"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_fuel_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    md_gsl_init();
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(md_fuel, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(pl_fuel, .init = setup, .fini = teardown, .timeout = 120);

/* ---- simulator helpers ---------------------------------------------------- */

typedef struct simrun {
    pw_intern_t *channels, *entities;
    pw_points_t pts;
} simrun_t;

/* secs of a race of cars at 60 Hz. */
static void sim_run(simrun_t *r, uint32_t cars, double secs)
{
    cr_assert_eq(pw_intern_create(256, &r->channels), 0);
    cr_assert_eq(pw_intern_create(256, &r->entities), 0);
    pw_points_init(&r->pts);
    ing_sim_opts_t o = {.cars = cars, .start_fuel_l = 50, .rate_pps = cars * 11 * 60.0,
                        .seed = 7, .start_ns = 1000 * PW_NS_PER_S};
    ing_sim_t *sim = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_sim_create(&o, r->channels, r->entities, &sim, &err), 0, "%s", err.msg);
    long got = ing_sim_next(sim, o.start_ns + (int64_t)(secs * PW_NS_PER_S), SIZE_MAX / 2,
                            &r->pts);
    cr_assert_gt(got, 0);
    ing_sim_destroy(sim);
}

static void sim_fini(simrun_t *r)
{
    pw_points_fini(&r->pts);
    pw_intern_destroy(r->channels);
    pw_intern_destroy(r->entities);
}

static uint32_t id_of(pw_intern_t *t, const char *n)
{
    uint32_t id = 0;
    cr_assert_eq(pw_intern_find(t, n, strlen(n), &id), 0, "no name '%s'", n);
    return id;
}

/* The samples of one car of a simulator run. */
static size_t sim_samples(simrun_t *r, const char *car, md_fuel_sample_t *out, size_t cap)
{
    uint32_t e = id_of(r->entities, car);
    uint32_t th = id_of(r->channels, "throttle"), rpm = id_of(r->channels, "rpm"),
             sp = id_of(r->channels, "speed_mps"), lap = id_of(r->channels, "lap"),
             fl = id_of(r->channels, "fuel_level_l");
    size_t n = 0;
    for (size_t i = 0; i < r->pts.n; i++) {
        if (r->pts.entity[i] != e)
            continue;
        if (n == 0 || out[n - 1].ts_ns != r->pts.ts_ns[i]) {
            cr_assert_lt(n, cap);
            out[n++] = (md_fuel_sample_t){r->pts.ts_ns[i], NAN, NAN, NAN, NAN, NAN, NAN, NAN};
        }
        md_fuel_sample_t *s = &out[n - 1];
        uint32_t c = r->pts.channel[i];
        double v = r->pts.value[i];
        if (c == th) s->throttle = v;
        else if (c == rpm) s->rpm = v;
        else if (c == sp) s->speed = v;
        else if (c == lap) s->lap = v;
        else if (c == fl) s->fuel_l = v;
    }
    return n;
}

static const int sim_feat[] = {MD_FUEL_F_ONE, MD_FUEL_F_THROTTLE_RPM, MD_FUEL_F_RPM,
                               MD_FUEL_F_THROTTLE};

static md_fuel_coef_t sim_law(void)
{
    md_fuel_coef_t c = {.nfeat = 2, .feat = {MD_FUEL_F_ONE, MD_FUEL_F_THROTTLE_RPM},
                        .beta = {ING_SIM_FUEL_IDLE, ING_SIM_FUEL_THROTTLE_RPM}};
    md_fuel_coef_stamp(&c);
    return c;
}

/* ---- the model ------------------------------------------------------------- */

Test(md_fuel, fit_on_simulator_fuel_level_recovers_its_fuel_law_within_1_percent)
{
    simrun_t r;
    sim_run(&r, 3, 120);
    static md_fuel_sample_t s[3 * 8000];
    size_t n = 0;
    const char *cars[] = {"car/1", "car/2", "car/3"};
    for (int k = 0; k < 3; k++) {
        size_t m = sim_samples(&r, cars[k], s + n, 8000);
        md_fuel_truth_from_level(s + n, m); /* the level only: no flow channel */
        n += m;
    }
    md_fuel_coef_t c;
    md_fuel_fit_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(md_fuel_fit(s, n, sim_feat, 4, &c, &st, &err), 0, "%s", err.msg);
    cr_assert_gt(st.n, 15000);
    cr_assert_float_eq(c.beta[0], ING_SIM_FUEL_IDLE, 0.01 * ING_SIM_FUEL_IDLE, "idle %g",
                       c.beta[0]);
    cr_assert_float_eq(c.beta[1], ING_SIM_FUEL_THROTTLE_RPM, 0.01 * ING_SIM_FUEL_THROTTLE_RPM,
                       "throttle*rpm %g", c.beta[1]);
    /* The terms the law does not have stay below 1 % of the idle flow at 9000 rpm. */
    cr_assert_lt(fabs(c.beta[2]) * 9000, 0.01 * ING_SIM_FUEL_IDLE, "rpm %g", c.beta[2]);
    cr_assert_lt(fabs(c.beta[3]), 0.01 * ING_SIM_FUEL_IDLE, "throttle %g", c.beta[3]);
    cr_assert_gt(st.r2, 0.9999);
    cr_assert_str_eq(c.version, (md_fuel_coef_stamp(&c), c.version));
    sim_fini(&r);
}

Test(md_fuel, fit_refuses_too_few_samples)
{
    md_fuel_sample_t s[3] = {{0, 1, 5000, 40, 1, NAN, 50, 0.02}};
    md_fuel_coef_t c;
    pw_err_t err = {0};
    cr_assert_eq(md_fuel_fit(s, 3, sim_feat, 4, &c, NULL, &err), PW_EARG);
    cr_assert(strstr(err.msg, "usable samples"), "%s", err.msg);
}

Test(md_fuel, model_file_round_trips_and_refuses_edits)
{
    md_fuel_coef_t c = sim_law();
    char path[128];
    snprintf(path, sizeof path, "%s/m.json", dir);
    pw_err_t err = {0};
    cr_assert_eq(md_fuel_coef_write(path, &c, &err), 0, "%s", err.msg);
    md_fuel_coef_t *l = md_fuel_coef_load(path, &err);
    cr_assert_not_null(l, "%s", err.msg);
    cr_assert_eq(l->nfeat, 2);
    cr_assert_eq(l->beta[0], c.beta[0]);
    cr_assert_eq(l->beta[1], c.beta[1]);
    cr_assert_str_eq(l->version, c.version);
    md_fuel_coef_free(l);
    /* A coefficient changed by hand no longer matches the version. */
    FILE *f = fopen(path, "r");
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    char *p = strstr(text, "0.0025");
    cr_assert_not_null(p, "%s", text);
    p[5] = '6';
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    cr_assert_null(md_fuel_coef_load(path, &err));
    cr_assert(strstr(err.msg, "does not match"), "%s", err.msg);
    /* Not a file at all. */
    cr_assert_null(md_fuel_coef_load("/nonexistent/fuel.json", &err));
}

Test(md_fuel, tracker_holds_flow_and_flags_bad_inputs)
{
    md_fuel_coef_t c = sim_law();
    md_fuel_car_opts_t o = md_fuel_car_opts_default();
    md_fuel_car_t t;
    md_fuel_car_init(&t);
    md_fuel_sample_t s = {PW_NS_PER_S, 1.0, 8000, 50, 3, NAN, 40, NAN};
    md_fuel_car_step(&t, &c, &o, &s);
    double good = t.flow_lps;
    cr_assert_float_eq(good, 0.0025 + 3.2e-6 * 8000, 1e-12);
    cr_assert_eq(t.degraded, MD_FUEL_OK);
    s.ts_ns += 16 * PW_NS_PER_MS;
    s.rpm = NAN;
    md_fuel_car_step(&t, &c, &o, &s);
    cr_assert_eq(t.degraded, MD_FUEL_NO_RPM);
    cr_assert_str_eq(md_fuel_degraded_text(t.degraded), "rpm missing");
    cr_assert_eq(t.flow_lps, good);
    s.ts_ns += 16 * PW_NS_PER_MS;
    s.rpm = 8000;
    s.speed = 95; /* +45 m/s in 16 ms */
    md_fuel_car_step(&t, &c, &o, &s);
    cr_assert_eq(t.degraded, MD_FUEL_BAD_SPEED);
    s.ts_ns += 16 * PW_NS_PER_MS;
    s.speed = 50;
    s.throttle = 7;
    md_fuel_car_step(&t, &c, &o, &s);
    cr_assert_eq(t.degraded, MD_FUEL_BAD_THROTTLE);
    s.ts_ns -= PW_NS_PER_S;
    md_fuel_car_step(&t, &c, &o, &s);
    cr_assert_eq(t.degraded, MD_FUEL_TIME_BACK);
    cr_assert(isfinite(t.burn_l) && t.burn_l > 0);
    cr_assert_eq(t.degraded_samples, 4);
}

Test(md_fuel, tracker_baseline_fuel_left_and_laps_left_on_the_simulator)
{
    simrun_t r;
    sim_run(&r, 1, 200);
    static md_fuel_sample_t s[13000];
    size_t n = sim_samples(&r, "car/1", s, 13000);
    md_fuel_coef_t c = sim_law();
    md_fuel_car_opts_t o = md_fuel_car_opts_default();
    md_fuel_car_t t;
    md_fuel_car_init(&t);
    int laps = 0;
    for (size_t i = 0; i < n; i++)
        laps += (md_fuel_car_step(&t, &c, &o, &s[i]) & MD_FUEL_STEP_LAP_END) != 0;
    cr_assert_gt(laps, 5);
    cr_assert(t.calibrated);
    cr_assert_float_eq(t.scale, 1.0, 0.005, "scale %g", t.scale);
    /* The exact law integrates to the simulator's level drop. */
    double drop = s[0].fuel_l - s[n - 1].fuel_l;
    cr_assert_float_eq(t.raw_burn_l, drop, 0.001 * drop, "%g vs %g", t.raw_burn_l, drop);
    cr_assert_float_eq(t.burn_l, drop, 0.005 * drop, "%g vs %g", t.burn_l, drop);
    cr_assert(t.baseline_lap_l > 0);
    cr_assert_float_eq(t.fuel_left_l, s[n - 1].fuel_l, 1e-9);
    cr_assert_float_eq(t.laps_left, t.fuel_left_l / t.baseline_lap_l, 1e-9);
    /* Save and load give the same state. */
    double v[MD_FUEL_CAR_NSTATE], w[MD_FUEL_CAR_NSTATE];
    md_fuel_car_save(&t, v);
    md_fuel_car_t u;
    cr_assert_eq(md_fuel_car_load(&u, v), 0);
    md_fuel_car_save(&u, w);
    cr_assert_eq(memcmp(v, w, sizeof v), 0);
    v[21] = 99; /* lap_head out of range */
    cr_assert_eq(md_fuel_car_load(&u, v), -1);
    sim_fini(&r);
}

/*
 * A car the model knows badly (its law burns twice what the car does): the
 * scale is learned after 20 s, in the middle of the first laps, and the
 * bar must then read about 1.0 on laps like the baseline's, all along the
 * lap, not "saving half" because the baseline mixes two scales or because
 * burn is uneven along a lap.
 */
Test(md_fuel, the_bar_reads_one_on_steady_laps_after_a_mid_lap_calibration)
{
    simrun_t r;
    sim_run(&r, 1, 200);
    static md_fuel_sample_t s[13000];
    size_t n = sim_samples(&r, "car/1", s, 13000);
    md_fuel_coef_t c = sim_law();
    c.beta[0] *= 2;
    c.beta[1] *= 2;
    md_fuel_coef_stamp(&c);
    md_fuel_car_opts_t o = md_fuel_car_opts_default();
    md_fuel_car_t t;
    md_fuel_car_init(&t);
    int laps = 0;
    size_t checked = 0, near_one = 0;
    for (size_t i = 0; i < n; i++) {
        laps += (md_fuel_car_step(&t, &c, &o, &s[i]) & MD_FUEL_STEP_LAP_END) != 0;
        /* Laps 3 to 5: the baseline still holds the laps of the calibration. */
        if (laps >= 3 && laps <= 5 && isfinite(t.burn_ratio)) {
            checked++;
            near_one += t.burn_ratio > 0.94 && t.burn_ratio < 1.06;
        }
    }
    cr_assert(t.calibrated);
    cr_assert_float_eq(t.scale, 0.5, 0.01, "scale %g", t.scale);
    cr_assert_gt(checked, 500);
    cr_assert_geq((double)near_one / (double)checked, 0.8, "%zu of %zu samples near 1.0",
                  near_one, checked);
    sim_fini(&r);
}

/* ---- training and evaluation on iRacing data -------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static double json_num(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    cr_assert_not_null(p, "no %s in %s", key, text);
    return strtod(p + strlen(pat), NULL);
}

Test(md_fuel, trained_on_bristol_first_half_meets_the_goals_on_the_second_and_an_unseen_car_whole)
{
    char path[512];
    size_t len;
    uint8_t *d = tdata_load(BRISTOL, &len, path, sizeof path);
    free(d);
    const char *paths[] = {path};
    char m1[128], m2[128], ev[128];
    snprintf(m1, sizeof m1, "%s/a.json", dir);
    snprintf(m2, sizeof m2, "%s/sub/b.json", dir);
    snprintf(ev, sizeof ev, "%s/eval.json", dir);
    pw_err_t err = {0};
    cr_assert_eq(md_fuel_def.train(paths, 1, m1, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(md_fuel_def.train(paths, 1, m2, NULL, &err), 0, "%s", err.msg);
    char *a = slurp(m1), *b = slurp(m2);
    cr_assert_str_eq(a, b, "training is not reproducible");
    cr_assert(strstr(a, "\"FuelUsePerHour\""));
    FILE *out = fopen(ev, "w");
    cr_assert_eq(md_fuel_def.eval(m1, paths, 1, true, out, &err), 0, "%s", err.msg);
    fclose(out);
    char *e = slurp(ev);
    cr_assert(strstr(e, "\"model\":\"fuel\""), "%s", e);
    cr_assert_lt(json_num(e, "cum_burn_error_pct"), 2.0, "%s", e);
    cr_assert_gt(json_num(e, "flow_r2"), 0.95, "%s", e);
    double half = json_num(e, "samples");

    /* The same run under another name is a car the model was not fitted on: scored whole. */
    char other[160];
    snprintf(other, sizeof other, "%s/other-car.ibt", dir);
    FILE *src = fopen(path, "rb"), *dst = fopen(other, "wb");
    cr_assert(src && dst);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, src)) > 0)
        cr_assert_eq(fwrite(buf, 1, got, dst), got);
    fclose(src);
    fclose(dst);
    const char *others[] = {other};
    out = fopen(ev, "w");
    cr_assert_eq(md_fuel_def.eval(m1, others, 1, true, out, &err), 0, "%s", err.msg);
    fclose(out);
    free(e);
    e = slurp(ev);
    cr_assert_gt(json_num(e, "samples"), 1.9 * half, "%s", e);
    cr_assert_lt(json_num(e, "cum_burn_error_pct"), 2.0, "%s", e);
    free(a);
    free(b);
    free(e);
}

/* ---- the live operator --------------------------------------------------------- */

typedef struct opfix {
    pw_intern_t *labels;
    pl_names_t names;
    pl_fuel_conf_t conf;
    pl_op_t op;
    pl_ctx_t ctx;
    char model[128];
} opfix_t;

static void op_open(opfix_t *f, simrun_t *r, const char *yaml_extra)
{
    memset(f, 0, sizeof *f);
    cr_assert_eq(pw_intern_create(16, &f->labels), 0);
    f->names = (pl_names_t){r->channels, r->entities, f->labels};
    snprintf(f->model, sizeof f->model, "%s/fuel.json", dir);
    md_fuel_coef_t c = sim_law();
    pw_err_t err = {0};
    cr_assert_eq(md_fuel_coef_write(f->model, &c, &err), 0, "%s", err.msg);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "{model: %s%s}", f->model, yaml_extra ? yaml_extra : "");
    cr_assert_eq(pw_conf_load_string("t", yaml, strlen(yaml), &pl_fuel_conf_section, &f->conf,
                                     &err), 0, "%s", err.msg);
    pl_port_type_t in = {PL_POINTS, false};
    pl_setup_t su = {.name = "burn", .names = &f->names, .in = &in, .nin = 1, .workers = 1};
    f->op.def = &pl_fuel_def;
    f->op.name = "burn";
    pl_batch_init(&f->op.out[0], PL_RESULTS);
    cr_assert_eq(pl_fuel_def.init(&f->op, &f->conf, &su, &err), 0, "%s", err.msg);
    f->ctx = (pl_ctx_t){.watermark_ns = PL_WATERMARK_MIN, .names = &f->names};
}

static void op_close(opfix_t *f)
{
    pl_fuel_def.close(&f->op);
    pl_batch_fini(&f->op.out[0]);
    pw_conf_fini(&pl_fuel_conf_section, &f->conf);
    pw_intern_destroy(f->labels);
}

/* Feed pts[a, b) in batches of 1000, advancing the watermark. */
static void feed(opfix_t *f, const pw_points_t *pts, size_t a, size_t b)
{
    pl_batch_t in;
    pl_batch_init(&in, PL_POINTS);
    for (size_t i = a; i < b;) {
        pl_batch_clear(&in);
        for (size_t j = 0; j < 1000 && i < b; j++, i++)
            cr_assert_eq(pl_batch_add_point(&in, pts->ts_ns[i], pts->entity[i],
                                            pts->channel[i], pts->value[i], 0), 0);
        cr_assert_eq(pl_fuel_def.process(&f->op, 0, &in, &f->ctx), 0);
        f->ctx.watermark_ns = in.pts.ts_ns[in.pts.n - 1];
        cr_assert_eq(pl_fuel_def.advance(&f->op, &f->ctx), 0);
    }
    pl_batch_fini(&in);
}

static double body_num(const pw_result_t *r, const char *key)
{
    double v = NAN;
    pw_body_get_f64(r->body, r->body_len, key, &v);
    return v;
}

Test(pl_fuel, emits_per_car_every_100_ms_and_at_lap_ends_with_the_version)
{
    simrun_t r;
    sim_run(&r, 2, 60);
    opfix_t f;
    op_open(&f, &r, NULL);
    feed(&f, &r.pts, 0, r.pts.n);
    f.ctx.watermark_ns = PL_WATERMARK_MAX;
    cr_assert_eq(pl_fuel_def.advance(&f.op, &f.ctx), 0);
    const pw_results_t *res = &f.op.out[0].res.rec;
    size_t per_car[3] = {0}, lap_ends = 0;
    int64_t last[3] = {0, 0, 0};
    md_fuel_coef_t c = sim_law();
    for (size_t i = 0; i < res->n; i++) {
        const pw_result_t *x = &res->rec[i];
        cr_assert_eq(x->topic_len, 4);
        cr_assert_eq(memcmp(x->topic, "burn", 4), 0);
        int car = x->key_len == 5 && !memcmp(x->key, "car/1", 5) ? 1
                  : x->key_len == 5 && !memcmp(x->key, "car/2", 5) ? 2 : 0;
        cr_assert_neq(car, 0);
        char json[1024];
        cr_assert_gt(pw_body_to_json(x->body, x->body_len, json, sizeof json), 0);
        char stamp[96];
        snprintf(stamp, sizeof stamp, "\"version\":\"%s\"", c.version);
        cr_assert(strstr(json, stamp), "%s", json);
        cr_assert(strstr(json, "\"degraded\":false"), "%s", json);
        bool lap_end = strstr(json, "\"lap_end\":true") != NULL;
        lap_ends += lap_end;
        if (per_car[car] && !lap_end)
            cr_assert_geq(x->ts_ns - last[car], 100 * PW_NS_PER_MS);
        last[car] = x->ts_ns;
        per_car[car]++;
        cr_assert_geq(body_num(x, "flow_lps"), ING_SIM_FUEL_IDLE - 1e-12);
    }
    /*
     * 60 s of 60 Hz samples: the first sample 100 ms after the last result
     * comes 116.7 ms later, so about 514 results a car, plus lap ends.
     */
    cr_assert(per_car[1] >= 510 && per_car[1] <= 600, "%zu", per_car[1]);
    cr_assert(per_car[2] >= 510 && per_car[2] <= 600, "%zu", per_car[2]);
    cr_assert_geq(lap_ends, 4, "%zu", lap_ends); /* about 17 s a lap */
    const pw_result_t *lastr = &res->rec[res->n - 1];
    cr_assert_float_eq(body_num(lastr, "scale"), 1.0, 0.005);
    cr_assert_gt(body_num(lastr, "baseline_lap_l"), 0);
    cr_assert_gt(body_num(lastr, "laps_left"), 0);
    double ratio = body_num(lastr, "burn_vs_baseline");
    cr_assert(ratio > 0.5 && ratio < 1.5, "%g", ratio);
    op_close(&f);
    sim_fini(&r);
}

Test(pl_fuel, a_dropped_rpm_sensor_degrades_and_holds_the_last_flow)
{
    simrun_t r;
    sim_run(&r, 1, 10);
    uint32_t rpm = id_of(r.channels, "rpm");
    /* From 5 s on, no rpm. */
    pw_points_t cut;
    pw_points_init(&cut);
    int64_t t5 = r.pts.ts_ns[0] + 5 * PW_NS_PER_S;
    for (size_t i = 0; i < r.pts.n; i++) {
        if (r.pts.channel[i] == rpm && r.pts.ts_ns[i] >= t5)
            continue;
        pw_point_t p = {r.pts.ts_ns[i], r.pts.entity[i], r.pts.channel[i], r.pts.value[i]};
        cr_assert_eq(pw_points_push(&cut, &p), 0);
    }
    opfix_t f;
    op_open(&f, &r, ", every: 0ms");
    feed(&f, &cut, 0, cut.n);
    const pw_results_t *res = &f.op.out[0].res.rec;
    double held = NAN;
    size_t degraded = 0;
    for (size_t i = 0; i < res->n; i++) {
        const pw_result_t *x = &res->rec[i];
        char json[1024];
        cr_assert_gt(pw_body_to_json(x->body, x->body_len, json, sizeof json), 0);
        bool deg = strstr(json, "\"degraded\":true") != NULL;
        /* stale is 1 s: the old rpm still counts for a second. */
        if (x->ts_ns < t5 + PW_NS_PER_S) {
            cr_assert(!deg, "%s", json);
            held = body_num(x, "flow_lps");
        } else {
            cr_assert(deg, "%s", json);
            cr_assert(strstr(json, "\"reason\":\"rpm missing\""), "%s", json);
            cr_assert_eq(body_num(x, "flow_lps"), held);
            degraded++;
        }
    }
    cr_assert_gt(degraded, 200);
    op_close(&f);
    pw_points_fini(&cut);
    sim_fini(&r);
}

Test(pl_fuel, restore_from_a_snapshot_continues_with_the_same_results)
{
    simrun_t r;
    sim_run(&r, 2, 30);
    size_t half = r.pts.n / 2;
    opfix_t a, b;
    op_open(&a, &r, NULL);
    feed(&a, &r.pts, 0, half);
    pl_buf_t snap;
    pl_buf_init(&snap);
    cr_assert_eq(pl_fuel_def.snapshot(&a.op, &snap), 0);
    pl_batch_clear(&a.op.out[0]);
    feed(&a, &r.pts, half, r.pts.n);
    op_open(&b, &r, NULL);
    pl_rd_t rd;
    pl_rd_init(&rd, snap.data, snap.len);
    pw_err_t err = {0};
    cr_assert_eq(pl_fuel_def.restore(&b.op, &rd, &err), 0, "%s", err.msg);
    b.ctx.watermark_ns = a.ctx.watermark_ns; /* not needed by fuel, kept realistic */
    feed(&b, &r.pts, half, r.pts.n);
    const pw_results_t *x = &a.op.out[0].res.rec, *y = &b.op.out[0].res.rec;
    cr_assert_eq(x->n, y->n);
    cr_assert_gt(x->n, 100);
    for (size_t i = 0; i < x->n; i++) {
        cr_assert_eq(x->rec[i].ts_ns, y->rec[i].ts_ns);
        cr_assert_eq(x->rec[i].body_len, y->rec[i].body_len);
        cr_assert_eq(memcmp(x->rec[i].body, y->rec[i].body, x->rec[i].body_len), 0);
    }
    /* A truncated snapshot is refused. */
    pl_rd_init(&rd, snap.data, snap.len - 3);
    cr_assert_eq(pl_fuel_def.restore(&b.op, &rd, &err), PW_ECORRUPT);
    pl_buf_fini(&snap);
    op_close(&a);
    op_close(&b);
    sim_fini(&r);
}

Test(pl_fuel, reloaded_coefficients_change_the_version_at_the_next_batch)
{
    simrun_t r;
    sim_run(&r, 1, 4);
    opfix_t f;
    op_open(&f, &r, ", every: 0ms");
    size_t half = r.pts.n / 2;
    feed(&f, &r.pts, 0, half);
    md_fuel_coef_t c = sim_law();
    c.beta[0] *= 2;
    md_fuel_coef_stamp(&c);
    pw_err_t err = {0};
    usleep(20000); /* a different modification time */
    cr_assert_eq(md_fuel_coef_write(f.model, &c, &err), 0);
    int n = 0;
    cr_assert_eq(md_coef_poll(true, &n, &err), 0, "%s", err.msg);
    cr_assert_geq(n, 1);
    pl_batch_clear(&f.op.out[0]);
    feed(&f, &r.pts, half, r.pts.n);
    const pw_result_t *x = &f.op.out[0].res.rec.rec[f.op.out[0].res.rec.n - 1];
    char json[1024];
    cr_assert_gt(pw_body_to_json(x->body, x->body_len, json, sizeof json), 0);
    cr_assert(strstr(json, c.version), "%s", json);
    op_close(&f);
    sim_fini(&r);
}

Test(pl_fuel, check_refuses_frames_and_a_missing_model)
{
    pl_fuel_conf_t conf;
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&pl_fuel_conf_section, &conf, &err), 0, "%s", err.msg);
    pl_port_type_t in = {PL_FRAMES, false}, out;
    cr_assert_eq(pl_fuel_def.check(&conf, &in, 1, &out, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "frames"), "%s", err.msg);
    in.kind = PL_POINTS;
    cr_assert_eq(pl_fuel_def.check(&conf, &in, 1, &out, &err), 0);
    cr_assert_eq(out.kind, PL_RESULTS);
    pw_conf_fini(&pl_fuel_conf_section, &conf);
}
