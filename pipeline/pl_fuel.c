/*
 * pl_fuel: the live fuel-burn operator. See pl_fuel.h.
 *
 * Snapshot (format 1, little-endian): u32 version, u32 n, then n cars
 * {u32 entity, i64 pending sample ts, i64 last emit ts, CH x (f64 value,
 * i64 ts), MD_FUEL_CAR_NSTATE x f64 tracker state}.
 */
#include "pipeline/pl_fuel.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "core/pw_time.h"
#include "models/md_coef.h"
#include "models/md_fuel.h"

static const pw_conf_key_t fuel_keys[] = {
    {.name = "model", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, model),
     .def = "conf/models/fuel.json", .desc = "the model file `pitwall train --model fuel` "
     "wrote; reloaded when it changes or on SIGHUP"},
    {.name = "topic", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, topic),
     .def = "burn", .desc = "topic of the results (key: the car's entity name)"},
    {.name = "throttle", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, throttle),
     .def = "throttle", .desc = "channel of the throttle, 0..1 (iRacing: Throttle)"},
    {.name = "rpm", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, rpm),
     .def = "rpm", .desc = "channel of the engine speed, rev/min (iRacing: RPM)"},
    {.name = "speed", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, speed),
     .def = "speed_mps", .desc = "channel of the car's speed, m/s, for plausibility "
     "checks (iRacing: Speed); empty = none"},
    {.name = "lap", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, lap),
     .def = "lap", .desc = "channel of the lap counter (iRacing: Lap); empty = none"},
    {.name = "lap_pct", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, lap_pct),
     .def = "lap_dist_pct", .desc = "channel of the position along the lap, 0..1 "
     "(iRacing: LapDistPct); empty = pro-rate by time"},
    {.name = "fuel", .type = PW_CONF_STRING, .offset = offsetof(pl_fuel_conf_t, fuel),
     .def = "fuel_level_l", .desc = "channel of the fuel level, litres, for the calibration "
     "and fuel left (iRacing: FuelLevel); empty = none"},
    {.name = "every", .type = PW_CONF_DURATION_MS, .offset = offsetof(pl_fuel_conf_t, every_ms),
     .def = "100ms", .min = "0ms", .max = "1h",
     .desc = "least event time between two results of one car (lap ends always emit)"},
    {.name = "calibration", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_fuel_conf_t, calibration_ms), .def = "20s", .min = "1s",
     .max = "1h", .desc = "window of fuel level readings that sets a car's scale factor"},
    {.name = "baseline_laps", .type = PW_CONF_INT,
     .offset = offsetof(pl_fuel_conf_t, baseline_laps), .def = "5", .min = "1", .max = "16",
     .desc = "complete laps in the rolling baseline"},
    {.name = "stale", .type = PW_CONF_DURATION_MS, .offset = offsetof(pl_fuel_conf_t, stale_ms),
     .def = "1s", .min = "1ms", .max = "1h",
     .desc = "a channel not heard from for this long is missing (output degraded)"},
    {.name = "start_fuel_l", .type = PW_CONF_DOUBLE,
     .offset = offsetof(pl_fuel_conf_t, start_fuel_l), .def = "0", .min = "0", .max = "1000",
     .desc = "fuel at the start when no fuel level is sent (0 = unknown: fuel_left_l nil)"},
};

const pw_conf_section_t pl_fuel_conf_section = {
    .name = "fuel",
    .desc = "live fuel burn per car",
    .keys = fuel_keys,
    .nkeys = PW_CONF_NKEYS(fuel_keys),
};

enum { C_THROTTLE, C_RPM, C_SPEED, C_LAP, C_LAPPCT, C_FUEL, CH };

#define NONE INT64_MIN
#define SNAP_VERSION 1u
#define SNAP_CAR_BYTES (4 + 8 + 8 + CH * 16 + MD_FUEL_CAR_NSTATE * 8)

typedef struct car {
    bool used;
    int64_t tick_ns;        /* the pending sample's time, NONE = none */
    int64_t last_emit_ns;   /* NONE = never */
    double v[CH];           /* latest value per channel */
    int64_t vts[CH];        /* and its time, NONE = never */
    md_fuel_car_t m;
} car_t;

typedef struct fuel {
    md_coef_slot_t *slot;
    const md_fuel_coef_t *coef; /* this batch's */
    uint32_t ch[CH];            /* channel ids, 0 = not read */
    md_fuel_car_opts_t o;
    int64_t every_ns, stale_ns;
    char *topic;
    size_t topic_len;
    car_t *car;                 /* [cap] by entity id */
    size_t cap;
    uint32_t *active;           /* entity ids with a car, [nactive] */
    size_t nactive, active_cap;
    pw_body_t body;
} fuel_t;

static int fuel_check(const void *conf, const pl_port_type_t *in, int nin,
                      pl_port_type_t *out, pw_err_t *err)
{
    const pl_fuel_conf_t *c = conf;
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "fuel: takes 1 input, not %d", nin);
    if (in[0].kind != PL_POINTS)
        return pw_err_set(err, PW_ECONF, "fuel: input 1 carries %s; fuel takes points",
                          in[0].kind == PL_FRAMES ? "frames" : "results");
    if (c->model == NULL || c->model[0] == '\0')
        return pw_err_set(err, PW_ECONF, "fuel: model: a model file is needed");
    if (!c->throttle || !c->throttle[0] || !c->rpm || !c->rpm[0])
        return pw_err_set(err, PW_ECONF, "fuel: throttle and rpm channels are needed");
    out[0].kind = PL_RESULTS;
    out[0].keyed = false;
    return 0;
}

static void fuel_close(pl_op_t *op)
{
    fuel_t *s = op->state;
    if (s == NULL)
        return;
    md_coef_release(s->slot);
    pw_body_fini(&s->body);
    free(s->topic);
    free(s->car);
    free(s->active);
    free(s);
    op->state = NULL;
}

static int fuel_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_fuel_conf_t *c = conf;
    pl_port_type_t out;
    int rc = fuel_check(conf, setup->in, setup->nin, &out, err);
    if (rc)
        return rc;
    if (!setup->names || !setup->names->channels)
        return pw_err_set(err, PW_EARG, "fuel: no channel table");
    fuel_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "fuel: out of memory");
    op->state = s;
    pw_body_init(&s->body);
    const char *topic = c->topic && c->topic[0] ? c->topic : "burn";
    s->topic = strdup(topic);
    if (s->topic == NULL) {
        fuel_close(op);
        return pw_err_set(err, -ENOMEM, "fuel: out of memory");
    }
    s->topic_len = strlen(topic);
    const char *names[CH] = {c->throttle, c->rpm, c->speed, c->lap, c->lap_pct, c->fuel};
    for (int k = 0; k < CH; k++) {
        if (names[k] == NULL || names[k][0] == '\0')
            continue;
        rc = pw_intern_add(setup->names->channels, names[k], strlen(names[k]), &s->ch[k]);
        if (rc) {
            fuel_close(op);
            return pw_err_set(err, rc, "fuel: channel '%.200s': %s", names[k],
                              pw_strerror(rc));
        }
    }
    s->o = md_fuel_car_opts_default();
    s->o.calib_ns = c->calibration_ms * PW_NS_PER_MS;
    s->o.baseline_laps = (int)c->baseline_laps;
    s->o.start_fuel_l = c->start_fuel_l;
    s->every_ns = c->every_ms * PW_NS_PER_MS;
    s->stale_ns = c->stale_ms * PW_NS_PER_MS;
    s->o.max_gap_ns = s->stale_ns;
    rc = md_coef_acquire(c->model, md_fuel_coef_load, md_fuel_coef_free, &s->slot, err);
    if (rc) {
        s->slot = NULL;
        fuel_close(op);
        return rc;
    }
    s->coef = md_coef_get(s->slot);
    return 0;
}

/* Make room for entity e. 0 or -ENOMEM. */
static int grow(fuel_t *s, uint32_t e)
{
    if (e >= s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap <= e)
            cap *= 2;
        car_t *n = realloc(s->car, cap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        memset(n + s->cap, 0, (cap - s->cap) * sizeof *n);
        s->car = n;
        s->cap = cap;
    }
    if (s->nactive == s->active_cap) {
        size_t cap = s->active_cap ? s->active_cap * 2 : 16;
        uint32_t *a = realloc(s->active, cap * sizeof *a);
        if (a == NULL)
            return -ENOMEM;
        s->active = a;
        s->active_cap = cap;
    }
    return 0;
}

static void car_start(car_t *c)
{
    c->used = true;
    c->tick_ns = NONE;
    c->last_emit_ns = NONE;
    for (int k = 0; k < CH; k++) {
        c->v[k] = NAN;
        c->vts[k] = NONE;
    }
    md_fuel_car_init(&c->m);
}

static void put_num(pw_body_t *b, const char *key, double v)
{
    pw_body_key(b, key);
    if (isfinite(v))
        pw_body_f64(b, v);
    else
        pw_body_nil(b);
}

static int emit(fuel_t *s, pl_op_t *op, const pl_ctx_t *ctx, uint32_t e, const car_t *c,
                bool lap_end)
{
    const md_fuel_car_t *m = &c->m;
    pw_body_t *b = &s->body;
    pw_body_clear(b);
    pw_body_map(b, 14);
    put_num(b, "flow_lps", m->flow_lps);
    put_num(b, "used_lap_l", m->used_lap_l);
    put_num(b, "last_lap_l", m->last_lap_l);
    put_num(b, "baseline_lap_l", m->baseline_lap_l);
    put_num(b, "burn_vs_baseline", m->burn_ratio);
    put_num(b, "fuel_left_l", m->fuel_left_l);
    put_num(b, "laps_left", m->laps_left);
    put_num(b, "scale", m->scale);
    pw_body_key(b, "calibrated");
    pw_body_bool(b, m->calibrated != 0);
    pw_body_key(b, "lap_end");
    pw_body_bool(b, lap_end);
    pw_body_key(b, "degraded");
    pw_body_bool(b, m->degraded != MD_FUEL_OK);
    pw_body_key(b, "reason");
    if (m->degraded != MD_FUEL_OK) {
        const char *r = md_fuel_degraded_text(m->degraded);
        pw_body_str(b, r, strlen(r));
    } else {
        pw_body_nil(b);
    }
    pw_body_key(b, "lap");
    if (isfinite(m->lap))
        pw_body_f64(b, m->lap);
    else
        pw_body_nil(b);
    pw_body_key(b, "version");
    pw_body_str(b, s->coef->version, strlen(s->coef->version));
    if (pw_body_ok(b))
        return -ENOMEM;
    char fallback[32];
    const char *key = ctx->names && ctx->names->entities
                          ? pw_intern_name(ctx->names->entities, e) : NULL;
    if (key == NULL) {
        snprintf(fallback, sizeof fallback, "entity/%u", e);
        key = fallback;
    }
    if (pl_results_add(&pl_op_port(op, 0)->res, c->tick_ns, 1, s->topic, s->topic_len, key,
                       strlen(key), b->data, b->len))
        return -ENOMEM;
    return 0;
}

/* The pending sample of car e is complete: run the model, maybe emit. */
static int close_tick(fuel_t *s, pl_op_t *op, const pl_ctx_t *ctx, uint32_t e, car_t *c)
{
    double x[CH];
    for (int k = 0; k < CH; k++)
        x[k] = c->vts[k] != NONE && c->tick_ns - c->vts[k] <= s->stale_ns ? c->v[k] : NAN;
    md_fuel_sample_t smp = {c->tick_ns, x[C_THROTTLE], x[C_RPM], x[C_SPEED], x[C_LAP],
                            x[C_LAPPCT], x[C_FUEL], NAN};
    int flags = md_fuel_car_step(&c->m, s->coef, &s->o, &smp);
    bool lap_end = (flags & MD_FUEL_STEP_LAP_END) != 0;
    int rc = 0;
    if (lap_end || c->last_emit_ns == NONE || c->tick_ns - c->last_emit_ns >= s->every_ns) {
        rc = emit(s, op, ctx, e, c, lap_end);
        c->last_emit_ns = c->tick_ns;
    }
    c->tick_ns = NONE;
    return rc;
}

static int fuel_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    fuel_t *s = op->state;
    const pw_points_t *p = &in->pts;
    (void)input;
    s->coef = md_coef_get(s->slot); /* a reload takes effect here, between batches */
    for (size_t i = 0; i < p->n; i++) {
        uint32_t ch = p->channel[i];
        int k = 0;
        while (k < CH && (s->ch[k] == 0 || s->ch[k] != ch))
            k++;
        if (k == CH)
            continue;
        uint32_t e = p->entity[i];
        if (e >= s->cap || !s->car[e].used) {
            if (grow(s, e))
                return -ENOMEM;
            car_start(&s->car[e]);
            s->active[s->nactive++] = e;
            op->cnt.keys++;
        }
        car_t *c = &s->car[e];
        int64_t ts = p->ts_ns[i];
        if (c->tick_ns != NONE && ts > c->tick_ns) {
            int rc = close_tick(s, op, ctx, e, c);
            if (rc)
                return rc;
        }
        if (c->tick_ns == NONE) {
            if (c->m.last_ts_ns != NONE && ts <= c->m.last_ts_ns) {
                op->cnt.late++; /* its sample was already computed */
                continue;
            }
            c->tick_ns = ts;
        } else if (ts < c->tick_ns) {
            op->cnt.late++;
            continue;
        }
        c->v[k] = p->value[i];
        c->vts[k] = ts;
    }
    pl_batch_note_ingest(pl_op_port(op, 0), in);
    return 0;
}

static int fuel_advance(pl_op_t *op, pl_ctx_t *ctx)
{
    fuel_t *s = op->state;
    s->coef = md_coef_get(s->slot);
    for (size_t i = 0; i < s->nactive; i++) {
        uint32_t e = s->active[i];
        car_t *c = &s->car[e];
        if (c->tick_ns != NONE && c->tick_ns < ctx->watermark_ns) {
            int rc = close_tick(s, op, ctx, e, c);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int fuel_snapshot(pl_op_t *op, pl_buf_t *b)
{
    fuel_t *s = op->state;
    int rc = pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u32(b, (uint32_t)s->nactive);
    if (rc == 0 && pl_buf_reserve(b, s->nactive * SNAP_CAR_BYTES))
        return -ENOMEM;
    double st[MD_FUEL_CAR_NSTATE];
    for (size_t i = 0; i < s->nactive && rc == 0; i++) {
        uint32_t e = s->active[i];
        const car_t *c = &s->car[e];
        rc |= pl_buf_put_u32(b, e);
        rc |= pl_buf_put_i64(b, c->tick_ns);
        rc |= pl_buf_put_i64(b, c->last_emit_ns);
        for (int k = 0; k < CH; k++) {
            rc |= pl_buf_put_f64(b, c->v[k]);
            rc |= pl_buf_put_i64(b, c->vts[k]);
        }
        md_fuel_car_save(&c->m, st);
        for (int k = 0; k < MD_FUEL_CAR_NSTATE; k++)
            rc |= pl_buf_put_f64(b, st[k]);
    }
    return rc ? -ENOMEM : 0;
}

static int fuel_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    fuel_t *s = op->state;
    uint32_t version = 0, n = 0;
    if (pl_rd_left(r) == 0)
        return 0;
    pl_rd_u32(r, &version);
    pl_rd_u32(r, &n);
    if (r->failed || version != SNAP_VERSION)
        return pw_err_set(err, PW_ECORRUPT, "fuel: state of format %u, expected %u", version,
                          SNAP_VERSION);
    if ((size_t)n * SNAP_CAR_BYTES != pl_rd_left(r))
        return pw_err_set(err, PW_ECORRUPT, "fuel: state of %u cars has %zu bytes", n,
                          pl_rd_left(r));
    for (size_t i = 0; i < s->nactive; i++)
        s->car[s->active[i]].used = false;
    s->nactive = 0;
    op->cnt.keys = 0;
    double st[MD_FUEL_CAR_NSTATE];
    for (uint32_t j = 0; j < n; j++) {
        uint32_t e = 0;
        car_t c;
        car_start(&c);
        pl_rd_u32(r, &e);
        pl_rd_i64(r, &c.tick_ns);
        pl_rd_i64(r, &c.last_emit_ns);
        for (int k = 0; k < CH; k++) {
            pl_rd_f64(r, &c.v[k]);
            pl_rd_i64(r, &c.vts[k]);
        }
        for (int k = 0; k < MD_FUEL_CAR_NSTATE; k++)
            pl_rd_f64(r, &st[k]);
        if (r->failed || e > PW_INTERN_MAX_NAMES || md_fuel_car_load(&c.m, st) != 0)
            return pw_err_set(err, PW_ECORRUPT, "fuel: car %u of the state is malformed", j);
        if ((e < s->cap && s->car[e].used))
            return pw_err_set(err, PW_ECORRUPT, "fuel: entity %u twice in the state", e);
        if (grow(s, e))
            return pw_err_set(err, -ENOMEM, "fuel: out of memory");
        s->car[e] = c;
        s->active[s->nactive++] = e;
        op->cnt.keys++;
    }
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_fuel_def = {
    .name = "fuel",
    .desc = "Live fuel burn per car (Burn Bar): flow from throttle and RPM, fuel used this "
            "lap vs the car's baseline, fuel and laps left, calibrated from the fuel level.",
    .conf = &pl_fuel_conf_section,
    .conf_size = sizeof(pl_fuel_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "points (keyed by entity or not)",
    .output_desc = "results: topic burn, key car/N",
    .check = fuel_check, .init = fuel_init, .process = fuel_process,
    .advance = fuel_advance, .snapshot = fuel_snapshot, .restore = fuel_restore,
    .close = fuel_close,
};
