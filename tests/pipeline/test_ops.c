/*
 * The point and frame operators (filter, compute, key_by, frame_points,
 * join) driven by hand as the worker drives them: init, process each input
 * batch, advance with a watermark, collect port 0 after every call and
 * clear it. Values, counts, order, keys, error text; frame_points on a
 * real NGS play against a naive distance; join independent of how its
 * inputs interleave; snapshot/restore equivalent to one run.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_format.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_compute.h"
#include "pipeline/pl_filter.h"
#include "pipeline/pl_frame_points.h"
#include "pipeline/pl_join.h"
#include "pipeline/pl_key_by.h"
#include "pipeline/pl_op.h"
#include "tests/ingest/data_util.h"

static pw_intern_t *channels, *entities, *labels;
static pl_names_t names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1 << 16, &channels), 0);
    cr_assert_eq(pw_intern_create(1 << 16, &entities), 0);
    cr_assert_eq(pw_intern_create(1024, &labels), 0);
    names = (pl_names_t){.channels = channels, .entities = entities, .labels = labels};
}

static void teardown(void)
{
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

TestSuite(pl_ops, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(pl_filter, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(pl_compute, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(pl_key_by, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(pl_frame_points, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(pl_join, .init = setup, .fini = teardown, .timeout = 60);

/* ---- names ----------------------------------------------------------------- */

static uint32_t intern(pw_intern_t *t, const char *name)
{
    uint32_t id;
    cr_assert_eq(pw_intern_add(t, name, strlen(name), &id), 0, "%s", name);
    return id;
}

static uint32_t CH(const char *n) { return intern(channels, n); }
static uint32_t ENT(const char *n) { return intern(entities, n); }
static uint32_t LAB(const char *n) { return intern(labels, n); }

/* ---- the harness ------------------------------------------------------------ */

/* One operator instance driven as the worker drives it. */
typedef struct harness {
    const pl_op_def_t *def;
    void *conf;
    pl_port_type_t in[2];
    int nin;
    pl_port_type_t out;
    pl_op_t op;
    bool running;
    pl_batch_t got;       /* everything port 0 emitted, in order */
    size_t calls_emitting;
    int64_t last_ingest;  /* ingest_ns of the last non-empty output */
} harness_t;

/* Load yaml into a fresh conf of def. 0 or the error. */
static int load_conf(harness_t *h, const pl_op_def_t *def, const char *yaml, pw_err_t *err)
{
    memset(h, 0, sizeof *h);
    h->def = def;
    h->conf = calloc(1, def->conf_size);
    cr_assert_not_null(h->conf);
    return pw_conf_load_string(def->name, yaml, strlen(yaml), def->conf, h->conf, err);
}

/* Load, check and (when check passes) init. Returns the first failure. */
static int start(harness_t *h, const pl_op_def_t *def, const char *yaml,
                 const pl_port_type_t *in, int nin, pw_err_t *err)
{
    memset(err, 0, sizeof *err);
    int rc = load_conf(h, def, yaml, err);
    if (rc)
        return rc;
    h->nin = nin;
    memcpy(h->in, in, (size_t)nin * sizeof *in);
    if ((rc = def->check(h->conf, h->in, nin, &h->out, err)) != 0)
        return rc;
    h->op.def = def;
    h->op.name = def->name;
    for (int p = 0; p < PL_OP_PORTS; p++) {
        pl_batch_init(&h->op.out[p], p == 0 ? h->out.kind : PL_RESULTS);
        h->op.out[p].keyed = p == 0 && h->out.keyed;
    }
    pl_batch_init(&h->got, h->out.kind);
    h->got.keyed = h->out.keyed;
    pl_setup_t su = {.name = def->name, .conf_path = "test.yaml", .line = 1, .names = &names,
                     .worker = 0, .workers = 1, .in = h->in, .nin = nin};
    h->running = true;
    if ((rc = def->init(&h->op, h->conf, &su, err)) != 0)
        h->running = false;
    return rc;
}

/* start() that must succeed. */
static void must_start(harness_t *h, const pl_op_def_t *def, const char *yaml,
                       const pl_port_type_t *in, int nin)
{
    pw_err_t err;
    int rc = start(h, def, yaml, in, nin, &err);
    cr_assert_eq(rc, 0, "%s: %s", def->name, err.msg);
}

static void stop(harness_t *h)
{
    if (h->running && h->def->close)
        h->def->close(&h->op);
    if (h->running)
        for (int p = 0; p < PL_OP_PORTS; p++)
            pl_batch_fini(&h->op.out[p]);
    pl_batch_fini(&h->got);
    pw_conf_fini(h->def->conf, h->conf);
    free(h->conf);
    h->running = false;
}

/* Move port 0's records into got and clear it, as the worker does. */
static void collect(harness_t *h)
{
    pl_batch_t *out = pl_op_port(&h->op, 0);
    size_t n = pl_batch_count(out);
    cr_assert(pl_batch_count(pl_op_port(&h->op, 1)) == 0, "nothing on port 1");
    if (n == 0)
        return;
    h->calls_emitting++;
    h->last_ingest = out->ingest_ns;
    h->op.cnt.out += n;
    for (size_t i = 0; i < n; i++) {
        if (out->kind == PL_POINTS)
            cr_assert_eq(pl_batch_push_point(&h->got, out, i), 0);
        else
            cr_assert_eq(pl_batch_push_frame(&h->got, out, i), 0);
    }
    pl_batch_clear(out);
}

static void process_wm(harness_t *h, int input, const pl_batch_t *b, int64_t wm)
{
    pl_ctx_t ctx = {.watermark_ns = wm, .names = &names};
    int rc = h->def->process(&h->op, input, b, &ctx);
    cr_assert_eq(rc, 0, "%s: process: %s", h->def->name, pw_strerror(rc));
    h->op.cnt.in += pl_batch_count(b);
    collect(h);
}

static void process(harness_t *h, const pl_batch_t *b)
{
    process_wm(h, 0, b, PL_WATERMARK_MIN);
}

static void advance(harness_t *h, int64_t wm)
{
    pl_ctx_t ctx = {.watermark_ns = wm, .names = &names};
    if (h->def->advance) {
        int rc = h->def->advance(&h->op, &ctx);
        cr_assert_eq(rc, 0, "%s: advance: %s", h->def->name, pw_strerror(rc));
    }
    collect(h);
}

/* Snapshot h, close it, and start a fresh instance restored from the bytes. */
static void restart(harness_t *h, const char *yaml)
{
    pl_buf_t b;
    pl_buf_init(&b);
    cr_assert_eq(h->def->snapshot(&h->op, &b), 0);
    pl_batch_t got = h->got;   /* keep what was collected */
    pl_batch_init(&h->got, got.kind);
    const pl_op_def_t *def = h->def;
    pl_port_type_t in[2];
    memcpy(in, h->in, sizeof in);
    int nin = h->nin;
    stop(h);
    must_start(h, def, yaml, in, nin);
    pl_batch_fini(&h->got);
    h->got = got;
    pl_rd_t r;
    pl_rd_init(&r, b.data, b.len);
    pw_err_t err = {0};
    cr_assert_eq(def->restore(&h->op, &r, &err), 0, "%s", err.msg);
    pl_buf_fini(&b);
}

/* Expect check() to refuse with exactly msg. */
static void refuses(const pl_op_def_t *def, const char *yaml, const pl_port_type_t *in, int nin,
                    const char *msg)
{
    harness_t h;
    pw_err_t err;
    int rc = start(&h, def, yaml, in, nin, &err);
    cr_expect_eq(rc, PW_ECONF, "%s %s: %d (%s)", def->name, yaml, rc, err.msg);
    cr_expect_str_eq(err.msg, msg, "%s %s", def->name, yaml);
    stop(&h);
}

static const pl_port_type_t POINTS[2] = {{PL_POINTS, false}, {PL_FRAMES, false}};
static const pl_port_type_t KEYED_POINTS[1] = {{PL_POINTS, true}};
static const pl_port_type_t FRAMES[1] = {{PL_FRAMES, false}};
static const pl_port_type_t RESULTS[1] = {{PL_RESULTS, false}};

/* ---- batches ----------------------------------------------------------------- */

static void add(pl_batch_t *b, int64_t ts, uint32_t e, uint32_t c, double v)
{
    cr_assert_eq(pl_batch_add_point(b, ts, e, c, v, b->keyed ? PL_KEY(e, c) : 0), 0);
}

static bool same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Expect point i of b to be exactly this. */
static void expect_point(const pl_batch_t *b, size_t i, int64_t ts, uint32_t e, uint32_t c,
                         double v)
{
    cr_assert(i < b->pts.n, "point %zu of %zu", i, b->pts.n);
    cr_expect_eq(b->pts.ts_ns[i], ts, "point %zu ts", i);
    cr_expect_eq(b->pts.entity[i], e, "point %zu entity", i);
    cr_expect_eq(b->pts.channel[i], c, "point %zu channel %u, want %u", i, b->pts.channel[i], c);
    cr_expect(same_value(b->pts.value[i], v) || fabs(b->pts.value[i] - v) < 1e-9,
              "point %zu value %.17g, want %.17g", i, b->pts.value[i], v);
}

static void expect_same_points(const pl_batch_t *a, const pl_batch_t *b)
{
    cr_assert_eq(a->pts.n, b->pts.n, "%zu points, %zu points", a->pts.n, b->pts.n);
    cr_assert_eq(a->keyed, b->keyed);
    for (size_t i = 0; i < a->pts.n; i++) {
        cr_assert(a->pts.ts_ns[i] == b->pts.ts_ns[i] && a->pts.entity[i] == b->pts.entity[i] &&
                      a->pts.channel[i] == b->pts.channel[i] &&
                      same_value(a->pts.value[i], b->pts.value[i]) &&
                      (!a->keyed || a->key[i] == b->key[i]),
                  "point %zu differs: (%lld %u %u %g) vs (%lld %u %u %g)", i,
                  (long long)a->pts.ts_ns[i], a->pts.entity[i], a->pts.channel[i],
                  a->pts.value[i], (long long)b->pts.ts_ns[i], b->pts.entity[i],
                  b->pts.channel[i], b->pts.value[i]);
    }
}

/* A view of frames [off, off + n) of src, as the worker slices. */
static void frames_slice(pl_batch_t *view, const pl_batch_t *src, size_t off, size_t n)
{
    view->kind = PL_FRAMES;
    view->keyed = false;
    view->ingest_ns = src->ingest_ns;
    view->frames = src->frames;
    view->frames.n = view->frames.cap = n;
    view->frames.ts_ns = src->frames.ts_ns + off;
    view->frames.session = src->frames.session + off;
    view->frames.label = src->frames.label + off * PW_FRAME_LABELS;
    view->frames.nobj = src->frames.nobj + off;
    view->frames.first = src->frames.first + off;
}

static void points_slice(pl_batch_t *view, const pl_batch_t *src, size_t off, size_t n)
{
    view->kind = PL_POINTS;
    view->keyed = src->keyed;
    view->key = src->keyed ? src->key + off : NULL;
    view->ingest_ns = src->ingest_ns;
    view->pts.n = view->pts.cap = n;
    view->pts.ts_ns = src->pts.ts_ns + off;
    view->pts.entity = src->pts.entity + off;
    view->pts.channel = src->pts.channel + off;
    view->pts.value = src->pts.value + off;
}

static pw_object_t OBJ(uint32_t e, uint8_t team, float x, float y)
{
    return (pw_object_t){.entity = e, .team = team, .x = x, .y = y, .speed = x + y,
                         .orientation = 90, .direction = 180};
}

/* ---- every definition ------------------------------------------------------ */

Test(pl_ops, every_definition_is_complete_and_its_defaults_load)
{
    const pl_op_def_t *defs[] = {&pl_filter_def, &pl_compute_def, &pl_key_by_def,
                                 &pl_frame_points_def, &pl_join_def};
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        const pl_op_def_t *d = defs[i];
        cr_assert(d->name && d->desc && d->conf && d->conf_size && d->input_desc &&
                      d->output_desc && d->check && d->init && d->process && d->close,
                  "%s", d->name);
        cr_assert(d->min_inputs >= 1 && d->max_inputs >= d->min_inputs &&
                      d->max_inputs <= PL_OP_INPUTS, "%s", d->name);
        cr_assert_eq(d->nports, 1, "%s", d->name);
        cr_assert_str_eq(d->port_names[0], "out");
        cr_assert_eq(!!d->snapshot, !!d->restore, "%s", d->name);
        void *c = calloc(1, d->conf_size);
        pw_err_t err = {0};
        cr_assert_eq(pw_conf_defaults(d->conf, c, &err), 0, "%s: %s", d->name, err.msg);
        pw_conf_fini(d->conf, c);
        free(c);
    }
    cr_assert_eq(pl_join_def.min_inputs, 2);
    cr_assert_not_null(pl_frame_points_def.snapshot);
    cr_assert_not_null(pl_join_def.advance);
}

/* ---- filter ------------------------------------------------------------------ */

Test(pl_filter, keeps_only_the_named_channels_and_entities)
{
    uint32_t speed = CH("speed"), rpm = CH("rpm"), gear = CH("gear");
    uint32_t car1 = ENT("car/1"), car22 = ENT("car/22"), truck = ENT("truck/1");
    harness_t h;
    must_start(&h, &pl_filter_def, "{channels: [speed, rpm], entities: [car/*]}", POINTS, 1);
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    b.ingest_ns = 777;
    add(&b, 1, car1, speed, 10);
    add(&b, 2, car1, gear, 3);
    add(&b, 3, truck, speed, 20);
    add(&b, 4, car22, rpm, 9000);
    /* Names that appear while running are matched too. */
    uint32_t car99 = ENT("car/99"), tyre = CH("tyre_fl");
    add(&b, 5, car99, speed, 30);
    add(&b, 6, car99, tyre, 80);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 3);
    expect_point(&h.got, 0, 1, car1, speed, 10);
    expect_point(&h.got, 1, 4, car22, rpm, 9000);
    expect_point(&h.got, 2, 5, car99, speed, 30);
    cr_assert_eq(h.last_ingest, 777, "ingest_ns carried forward");
    cr_assert_eq(h.op.cnt.dropped, 0);
    cr_assert(!h.got.keyed);
    /* An id the table does not name yet is not kept, then kept once named. */
    pl_batch_clear(&b);
    add(&b, 7, 4242, speed, 1);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 3);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_filter, matches_channel_prefixes_and_exact_entities)
{
    uint32_t fl = CH("tyre_fl"), fr = CH("tyre_fr"), ty = CH("tyre"), rpm = CH("rpm");
    uint32_t a = ENT("car/1"), b1 = ENT("car/10");
    harness_t h;
    must_start(&h, &pl_filter_def, "{channels: [tyre_*], entities: [car/1]}", POINTS, 1);
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    add(&b, 1, a, fl, 1);
    add(&b, 2, a, fr, 2);
    add(&b, 3, a, ty, 3);   /* "tyre" is not "tyre_..." */
    add(&b, 4, a, rpm, 4);
    add(&b, 5, b1, fl, 5);  /* car/10 is not car/1 */
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 2);
    expect_point(&h.got, 0, 1, a, fl, 1);
    expect_point(&h.got, 1, 2, a, fr, 2);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_filter, drops_nan_values_and_counts_them)
{
    uint32_t speed = CH("speed"), rpm = CH("rpm"), e = ENT("car/1");
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    add(&b, 1, e, speed, NAN);
    add(&b, 2, e, speed, 5);
    add(&b, 3, e, rpm, NAN);   /* not a kept channel: not counted */
    add(&b, 4, e, speed, NAN);
    harness_t h;
    must_start(&h, &pl_filter_def, "{channels: [speed]}", POINTS, 1);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 1);
    expect_point(&h.got, 0, 2, e, speed, 5);
    cr_assert_eq(h.op.cnt.dropped, 2);
    stop(&h);

    must_start(&h, &pl_filter_def, "{channels: [speed], drop_nan: false}", POINTS, 1);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 3);
    expect_point(&h.got, 0, 1, e, speed, NAN);
    cr_assert_eq(h.op.cnt.dropped, 0);
    stop(&h);
    pl_batch_fini(&b);
}

Test(pl_filter, keeps_points_where_the_expression_holds)
{
    uint32_t c = CH("speed"), e = ENT("car/1");
    harness_t h;
    must_start(&h, &pl_filter_def,
               "{where: 'value > 10 && value < 100 && t >= 1000', drop_nan: false}", POINTS, 1);
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    int64_t s = PW_NS_PER_S;
    add(&b, 999 * s, e, c, 50);   /* t < 1000 */
    add(&b, 1000 * s, e, c, 50);
    add(&b, 1001 * s, e, c, 5);
    add(&b, 1002 * s, e, c, 150);
    add(&b, 1003 * s, e, c, NAN); /* NaN > 10 is NaN: not kept */
    add(&b, 1004 * s, e, c, 99.5);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 2);
    expect_point(&h.got, 0, 1000 * s, e, c, 50);
    expect_point(&h.got, 1, 1004 * s, e, c, 99.5);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_filter, keeps_the_keys_of_keyed_points)
{
    uint32_t c = CH("speed"), d = CH("rpm"), e = ENT("car/1");
    harness_t h;
    must_start(&h, &pl_filter_def, "{channels: [rpm]}", KEYED_POINTS, 1);
    cr_assert(h.out.keyed);
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    b.keyed = true;
    add(&b, 1, e, c, 1);
    add(&b, 2, e, d, 2);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 1);
    cr_assert_eq(h.got.key[0], PL_KEY(e, d));
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_filter, refuses_wrong_inputs_and_bad_keys)
{
    refuses(&pl_filter_def, "{}", FRAMES, 1, "filter: input 1 carries frames; filter takes points");
    refuses(&pl_filter_def, "{}", RESULTS, 1,
            "filter: input 1 carries results; filter takes points");
    refuses(&pl_filter_def, "{where: 'value >> 2'}", POINTS, 1,
            "filter: where: expr 'value >> 2': column 8: expected a number, a name or '('");
    refuses(&pl_filter_def, "{where: 'speed > 2'}", POINTS, 1,
            "filter: where: expr 'speed > 2': column 1: unknown name 'speed' (names: value, t, "
            "pi, e, nan, inf)");
    refuses(&pl_filter_def, "{entities: ['c*r']}", POINTS, 1,
            "filter: entities: 'c*r': '*' may only end a pattern");
    refuses(&pl_filter_def, "{channels: ['']}", POINTS, 1, "filter: channels: an empty name");
    harness_t h;
    pw_err_t err;
    cr_assert_eq(start(&h, &pl_filter_def, "{wher: 'value > 1'}", POINTS, 1, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "unknown key 'wher'"), "%s", err.msg);
    stop(&h);
}

/* ---- compute ------------------------------------------------------------------ */

Test(pl_compute, derives_kph_from_mps_and_passes_other_points)
{
    uint32_t mps = CH("speed_mps"), rpm = CH("rpm"), e = ENT("car/1");
    harness_t h;
    must_start(&h, &pl_compute_def, "{expr: value * 3.6, from: [speed_mps], channel: speed_kph}",
               POINTS, 1);
    uint32_t kph;
    cr_assert_eq(pw_intern_find(channels, "speed_kph", 9, &kph), 0, "interned at init");
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    b.ingest_ns = 5;
    add(&b, 1, e, mps, 10);
    add(&b, 2, e, rpm, 5000);
    add(&b, 3, e, mps, NAN);
    add(&b, 4, e, mps, 50);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 4);
    expect_point(&h.got, 0, 1, e, kph, 36);
    expect_point(&h.got, 1, 2, e, rpm, 5000);
    expect_point(&h.got, 2, 3, e, kph, NAN);
    expect_point(&h.got, 3, 4, e, kph, 180);
    cr_assert_eq(h.last_ingest, 5);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_compute, keeps_the_input_before_the_computed_point_when_asked)
{
    uint32_t mps = CH("speed_mps"), e = ENT("car/1");
    harness_t h;
    must_start(&h, &pl_compute_def,
               "{expr: 'value * 3.6', from: [speed_mps], channel: speed_kph, keep: true}", POINTS,
               1);
    uint32_t kph = CH("speed_kph");
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    add(&b, 1, e, mps, 10);
    add(&b, 2, e, mps, 20);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 4);
    expect_point(&h.got, 0, 1, e, mps, 10);
    expect_point(&h.got, 1, 1, e, kph, 36);
    expect_point(&h.got, 2, 2, e, mps, 20);
    expect_point(&h.got, 3, 2, e, kph, 72);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_compute, replaces_the_value_in_place_without_a_channel_and_reads_time)
{
    uint32_t c = CH("lap_time"), d = CH("gear"), e = ENT("car/1");
    harness_t h;
    must_start(&h, &pl_compute_def, "{expr: 't - 100 + value'}", POINTS, 1);
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    add(&b, 101 * PW_NS_PER_S + 500 * PW_NS_PER_MS, e, c, 1);
    add(&b, 102 * PW_NS_PER_S, e, d, 2);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 2);
    expect_point(&h.got, 0, 101 * PW_NS_PER_S + 500 * PW_NS_PER_MS, e, c, 2.5);
    expect_point(&h.got, 1, 102 * PW_NS_PER_S, e, d, 4);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_compute, gives_the_output_channel_to_keys_that_hold_a_channel)
{
    uint32_t mps = CH("speed_mps"), e = ENT("car/7");
    harness_t h;
    must_start(&h, &pl_compute_def, "{expr: value * 2, channel: double}", KEYED_POINTS, 1);
    uint32_t dbl = CH("double");
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    b.keyed = true;
    cr_assert_eq(pl_batch_add_point(&b, 1, e, mps, 1, PL_KEY(e, mps)), 0);
    cr_assert_eq(pl_batch_add_point(&b, 2, e, mps, 2, PL_KEY(e, 0)), 0);
    cr_assert_eq(pl_batch_add_point(&b, 3, e, mps, 3, PL_KEY(0, mps)), 0);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 3);
    cr_assert_eq(h.got.key[0], PL_KEY(e, dbl));
    cr_assert_eq(h.got.key[1], PL_KEY(e, 0));
    cr_assert_eq(h.got.key[2], PL_KEY(0, dbl));
    expect_point(&h.got, 2, 3, e, dbl, 6);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_compute, refuses_wrong_inputs_and_bad_keys)
{
    refuses(&pl_compute_def, "{expr: value}", FRAMES, 1,
            "compute: input 1 carries frames; compute takes points");
    refuses(&pl_compute_def, "{}", POINTS, 1,
            "compute: expr is missing (e.g. expr: value * 3.6)");
    refuses(&pl_compute_def, "{expr: 'value *'}", POINTS, 1,
            "compute: expr: expr 'value *': column 8: expected a number, a name or '('");
    refuses(&pl_compute_def, "{expr: 'clamp(value)'}", POINTS, 1,
            "compute: expr: expr 'clamp(value)': column 1: clamp takes 3 arguments, not 1");
    refuses(&pl_compute_def, "{expr: value, keep: true}", POINTS, 1,
            "compute: keep: true needs a channel (the computed point would repeat the input's "
            "channel)");
    refuses(&pl_compute_def, "{expr: value, from: ['a*b']}", POINTS, 1,
            "compute: from: 'a*b': '*' may only end a pattern");
}

/* ---- key_by -------------------------------------------------------------------- */

Test(pl_key_by, keys_points_by_entity_channel_or_both)
{
    enum { N = 10000 };
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    b.ingest_ns = 99;
    for (int i = 0; i < N; i++)
        add(&b, i, (uint32_t)(i % 7 + 1), (uint32_t)(i % 13 + 1), i * 0.5);
    const char *by[] = {"{by: [entity, channel]}", "{by: [entity]}", "{by: [channel]}",
                        "{by: [channel, entity]}"};
    for (int v = 0; v < 4; v++) {
        harness_t h;
        must_start(&h, &pl_key_by_def, by[v], POINTS, 1);
        cr_assert(h.out.keyed);
        cr_assert_eq(h.out.kind, PL_POINTS);
        /* In two batches, like two slices of a message. */
        pl_batch_t view;
        points_slice(&view, &b, 0, 4000);
        process(&h, &view);
        points_slice(&view, &b, 4000, N - 4000);
        process(&h, &view);
        cr_assert_eq(h.got.pts.n, N);
        cr_assert_eq(h.last_ingest, 99);
        for (int i = 0; i < N; i++) {
            uint32_t e = (uint32_t)(i % 7 + 1), c = (uint32_t)(i % 13 + 1);
            uint64_t want = v == 1 ? PL_KEY(e, 0) : v == 2 ? PL_KEY(0, c) : PL_KEY(e, c);
            cr_assert_eq(h.got.key[i], want, "%s: point %d", by[v], i);
            cr_assert(h.got.pts.ts_ns[i] == i && h.got.pts.entity[i] == e &&
                      h.got.pts.channel[i] == c && h.got.pts.value[i] == i * 0.5);
        }
        stop(&h);
    }
    pl_batch_fini(&b);
}

Test(pl_key_by, rekeys_keyed_points)
{
    harness_t h;
    must_start(&h, &pl_key_by_def, "{by: [channel]}", KEYED_POINTS, 1);
    pl_batch_t b;
    pl_batch_init(&b, PL_POINTS);
    b.keyed = true;
    cr_assert_eq(pl_batch_add_point(&b, 1, 5, 6, 1, PL_KEY(5, 0)), 0);
    process(&h, &b);
    cr_assert_eq(h.got.key[0], PL_KEY(0, 6));
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_key_by, keys_frames_by_session)
{
    pl_batch_t b;
    pl_batch_init(&b, PL_FRAMES);
    pw_object_t o[2] = {OBJ(1, PW_TEAM_HOME, 1, 2), OBJ(2, PW_TEAM_BALL, 3, 4)};
    uint32_t lab[PW_FRAME_LABELS] = {7, 0};
    cr_assert_eq(pw_frames_push(&b.frames, 100, 11, lab, o, 2), 0);
    cr_assert_eq(pw_frames_push(&b.frames, 200, 22, NULL, o, 1), 0);
    harness_t h;
    must_start(&h, &pl_key_by_def, "{by: [session]}", FRAMES, 1);
    cr_assert(h.out.keyed);
    cr_assert_eq(h.out.kind, PL_FRAMES);
    process(&h, &b);
    const pw_frames_t *f = &h.got.frames;
    cr_assert_eq(f->n, 2);
    cr_assert_eq(h.got.key[0], 11);
    cr_assert_eq(h.got.key[1], 22);
    cr_assert_eq(f->nobj[0], 2);
    cr_assert_eq(f->nobj[1], 1);
    cr_assert_eq(f->label[0], 7);
    cr_assert_eq(f->entity[f->first[0] + 1], 2);
    cr_assert_float_eq(f->y[f->first[0] + 1], 4.0f, 1e-6);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_key_by, refuses_wrong_inputs_and_bad_keys)
{
    refuses(&pl_key_by_def, "{by: [entity]}", RESULTS, 1,
            "key_by: input 1 carries results; key_by takes points or frames");
    refuses(&pl_key_by_def, "{}", POINTS, 1,
            "key_by: by is empty; give entity and/or channel (points) or session (frames)");
    refuses(&pl_key_by_def, "{by: [car]}", POINTS, 1,
            "key_by: by: 'car' is not one of entity, channel, session");
    refuses(&pl_key_by_def, "{by: [entity, entity]}", POINTS, 1,
            "key_by: by: 'entity' is given twice");
    refuses(&pl_key_by_def, "{by: [session]}", POINTS, 1,
            "key_by: by: points have no session; key them by entity and/or channel");
    refuses(&pl_key_by_def, "{by: [entity]}", FRAMES, 1,
            "key_by: by: frames are keyed by session only, not by entity");
    refuses(&pl_key_by_def, "{by: [session, channel]}", FRAMES, 1,
            "key_by: by: frames are keyed by session only, not by channel");
}

/* ---- frame_points ----------------------------------------------------------------- */

Test(pl_frame_points, emits_markers_then_fields_per_object)
{
    uint32_t home = ENT("p/1"), away = ENT("p/2"), ball = ENT("ball");
    uint32_t snap = LAB("ball_snap"), flag = LAB("penalty_flag");
    harness_t h;
    must_start(&h, &pl_frame_points_def, "{fields: [x, dist, speed], prefix: 'p_'}", FRAMES, 1);
    uint32_t cx = CH("p_x"), cd = CH("p_dist"), cs = CH("p_speed"), ev = CH("event");
    pl_batch_t b;
    pl_batch_init(&b, PL_FRAMES);
    b.ingest_ns = 1234;
    pw_object_t o1[3] = {OBJ(home, PW_TEAM_HOME, 0, 0), OBJ(away, PW_TEAM_AWAY, 10, 10),
                         OBJ(ball, PW_TEAM_BALL, 5, 5)};
    pw_object_t o2[3] = {OBJ(home, PW_TEAM_HOME, 3, 4), OBJ(away, PW_TEAM_AWAY, 10, 11),
                         OBJ(ball, PW_TEAM_BALL, 5, 5)};
    uint32_t labs[PW_FRAME_LABELS] = {snap, flag};
    cr_assert_eq(pw_frames_push(&b.frames, 1000, 9, NULL, o1, 3), 0);
    cr_assert_eq(pw_frames_push(&b.frames, 1100, 9, labs, o2, 3), 0);
    process(&h, &b);
    const pl_batch_t *g = &h.got;
    cr_assert_eq(g->pts.n, 9 + 6 + 9);
    cr_assert(!g->keyed);
    cr_assert_eq(h.last_ingest, 1234);
    /* Frame 1: x, dist (0: first frame), speed per object. */
    expect_point(g, 0, 1000, home, cx, 0);
    expect_point(g, 1, 1000, home, cd, 0);
    expect_point(g, 2, 1000, home, cs, 0);
    expect_point(g, 3, 1000, away, cx, 10);
    expect_point(g, 5, 1000, away, cs, 20);
    expect_point(g, 8, 1000, ball, cs, 10);
    /* Frame 2: markers of both labels for every object, first. */
    expect_point(g, 9, 1100, home, ev, snap);
    expect_point(g, 10, 1100, away, ev, snap);
    expect_point(g, 11, 1100, ball, ev, snap);
    expect_point(g, 12, 1100, home, ev, flag);
    expect_point(g, 14, 1100, ball, ev, flag);
    expect_point(g, 15, 1100, home, cx, 3);
    expect_point(g, 16, 1100, home, cd, 5);
    expect_point(g, 19, 1100, away, cd, 1);
    expect_point(g, 22, 1100, ball, cd, 0);
    cr_assert_eq(h.op.cnt.keys, 3);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_frame_points, keeps_only_the_teams_asked_for)
{
    uint32_t home = ENT("p/1"), away = ENT("p/2"), ball = ENT("ball");
    uint32_t snap = LAB("ball_snap");
    harness_t h;
    must_start(&h, &pl_frame_points_def, "{fields: [y], teams: [away, ball], labels: mark}",
               FRAMES, 1);
    uint32_t cy = CH("y"), mark = CH("mark");
    pl_batch_t b;
    pl_batch_init(&b, PL_FRAMES);
    pw_object_t o[4] = {OBJ(home, PW_TEAM_HOME, 0, 1), OBJ(away, PW_TEAM_AWAY, 0, 2),
                        OBJ(ball, PW_TEAM_BALL, 0, 3), OBJ(ENT("ref"), PW_TEAM_UNKNOWN, 0, 4)};
    uint32_t labs[PW_FRAME_LABELS] = {snap, 0};
    cr_assert_eq(pw_frames_push(&b.frames, 5, 1, labs, o, 4), 0);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 4);
    expect_point(&h.got, 0, 5, away, mark, snap);
    expect_point(&h.got, 1, 5, ball, mark, snap);
    expect_point(&h.got, 2, 5, away, cy, 2);
    expect_point(&h.got, 3, 5, ball, cy, 3);
    stop(&h);

    /* No markers when labels is empty; unknown team kept when asked. */
    must_start(&h, &pl_frame_points_def, "{fields: [y], teams: [unknown], labels: ''}", FRAMES,
               1);
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, 1);
    expect_point(&h.got, 0, 5, ENT("ref"), cy, 4);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_frame_points, restarts_distance_on_gaps_sessions_and_survives_nan)
{
    uint32_t p = ENT("p/1");
    harness_t h;
    must_start(&h, &pl_frame_points_def, "{fields: [dist], max_gap: 500ms, labels: ''}", FRAMES,
               1);
    uint32_t cd = CH("dist");
    pl_batch_t b;
    pl_batch_init(&b, PL_FRAMES);
    int64_t ms = PW_NS_PER_MS;
    struct { int64_t ts; uint64_t session; float x, y; double want; } f[] = {
        {0, 1, 0, 0, 0},            /* first frame */
        {100 * ms, 1, 3, 4, 5},
        {200 * ms, 1, NAN, 4, NAN}, /* missing: NaN, the state keeps (3, 4) */
        {300 * ms, 1, 6, 8, 5},     /* from (3, 4) */
        {900 * ms, 1, 6, 9, 0},     /* a 600 ms gap > 500 ms */
        {1400 * ms, 1, 6, 10, 1},   /* exactly 500 ms: counted */
        {1300 * ms, 1, 0, 0, 0},    /* older than the last: 0, state kept */
        {1500 * ms, 1, 6, 12, 2},   /* from (6, 10) */
        {1600 * ms, 2, 100, 100, 0}, /* new session */
        {1700 * ms, 2, 100, 101, 1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        pw_object_t o = OBJ(p, PW_TEAM_HOME, f[i].x, f[i].y);
        cr_assert_eq(pw_frames_push(&b.frames, f[i].ts, f[i].session, NULL, &o, 1), 0);
    }
    process(&h, &b);
    cr_assert_eq(h.got.pts.n, sizeof f / sizeof f[0]);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        expect_point(&h.got, i, f[i].ts, p, cd, f[i].want);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_frame_points, grows_its_state_for_large_entity_ids)
{
    harness_t h;
    must_start(&h, &pl_frame_points_def, "{fields: [dist]}", FRAMES, 1);
    pl_batch_t b;
    pl_batch_init(&b, PL_FRAMES);
    pw_object_t o[2] = {OBJ(3, PW_TEAM_HOME, 0, 0), OBJ(50000, PW_TEAM_HOME, 0, 0)};
    cr_assert_eq(pw_frames_push(&b.frames, 0, 1, NULL, o, 2), 0);
    o[0].x = 1;
    o[1].y = 2;
    cr_assert_eq(pw_frames_push(&b.frames, 100, 1, NULL, o, 2), 0);
    process(&h, &b);
    uint32_t cd = CH("dist");
    cr_assert_eq(h.got.pts.n, 4);
    expect_point(&h.got, 2, 100, 3, cd, 1);
    expect_point(&h.got, 3, 100, 50000, cd, 2);
    cr_assert_eq(h.op.cnt.keys, 2);
    pl_batch_fini(&b);
    stop(&h);
}

Test(pl_frame_points, refuses_wrong_inputs_and_bad_keys)
{
    refuses(&pl_frame_points_def, "{}", POINTS, 1,
            "frame_points: input 1 carries points; frame_points takes frames");
    refuses(&pl_frame_points_def, "{fields: [x, spd]}", FRAMES, 1,
            "frame_points: fields: 'spd' is not one of x, y, speed, orientation, direction, dist");
    refuses(&pl_frame_points_def, "{fields: [x, x]}", FRAMES, 1,
            "frame_points: fields: 'x' is given twice");
    refuses(&pl_frame_points_def, "{teams: [home, refs]}", FRAMES, 1,
            "frame_points: teams: 'refs' is not one of home, away, ball, unknown");
    refuses(&pl_frame_points_def, "{teams: []}", FRAMES, 1,
            "frame_points: teams is empty: no object would be kept");
    refuses(&pl_frame_points_def, "{fields: [], labels: ''}", FRAMES, 1,
            "frame_points: fields and labels are both empty: nothing to emit");
}

/* Frames of two sessions with some players missing now and then. */
static void make_play(pl_batch_t *b, int nframes)
{
    pl_batch_init(b, PL_FRAMES);
    uint32_t snap = LAB("ball_snap");
    for (int i = 0; i < nframes; i++) {
        pw_object_t o[6];
        int n = 0;
        for (int p = 0; p < 6; p++) {
            if ((i + p) % 11 == 0)
                continue; /* player p is missing from this frame */
            char name[16];
            snprintf(name, sizeof name, "p/%d", p);
            o[n++] = OBJ(ENT(name), (uint8_t)(p % 3), (float)(i * 0.3 + p),
                         (float)(sin(i * 0.1 + p) * 5));
        }
        uint32_t labs[PW_FRAME_LABELS] = {i % 17 == 3 ? snap : 0, 0};
        int64_t ts = (int64_t)i * 100 * PW_NS_PER_MS + (i > 40 ? 2 * PW_NS_PER_S : 0);
        cr_assert_eq(pw_frames_push(&b->frames, ts, i < 60 ? 1 : 2, labs, o, (uint16_t)n), 0);
    }
}

Test(pl_frame_points, restores_to_the_same_output_as_one_run)
{
    const char *conf = "{fields: [x, y, dist]}";
    pl_batch_t b, view;
    make_play(&b, 100);
    harness_t one, two;
    must_start(&one, &pl_frame_points_def, conf, FRAMES, 1);
    for (size_t off = 0; off < 100; off += 7) {
        frames_slice(&view, &b, off, off + 7 <= 100 ? 7 : 100 - off);
        process(&one, &view);
    }
    must_start(&two, &pl_frame_points_def, conf, FRAMES, 1);
    frames_slice(&view, &b, 0, 50);
    process(&two, &view);
    restart(&two, conf);
    cr_assert_eq(two.op.cnt.keys, 6);
    frames_slice(&view, &b, 50, 50);
    process(&two, &view);
    expect_same_points(&one.got, &two.got);

    /* A truncated snapshot is refused, not read past its end. */
    pl_buf_t s;
    pl_buf_init(&s);
    cr_assert_eq(pl_frame_points_def.snapshot(&two.op, &s), 0);
    pl_rd_t r;
    pl_rd_init(&r, s.data, s.len - 3);
    pw_err_t err = {0};
    cr_assert_eq(pl_frame_points_def.restore(&two.op, &r, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "frame_points: state of 6 entities is truncated"), "%s", err.msg);
    pl_buf_fini(&s);
    stop(&one);
    stop(&two);
    pl_batch_fini(&b);
}

/* ---- frame_points on a real NGS play -------------------------------------------- */

#define PLAY "football/ngs/2017_MIN_2018011401_4497.tsv.gz"

static int on_frames(void *ctx, const pw_frames_t *f)
{
    pl_batch_t *all = ctx;
    pl_batch_t view = {.kind = PL_FRAMES, .frames = *f};
    for (size_t i = 0; i < f->n; i++)
        cr_assert_eq(pl_batch_push_frame(all, &view, i), 0);
    return 0;
}

/* Decode a real play into frames; false (test skipped) when data is missing. */
static bool load_play(const char *rel, pl_batch_t *all)
{
    char path[1024];
    size_t rawlen;
    uint8_t *raw = tdata_load(rel, &rawlen, path, sizeof path);
    free(raw);
    uint8_t *data;
    size_t len;
    pw_err_t err = {0};
    cr_assert_eq(ing_file_load(path, (size_t)1 << 30, &data, &len, &err), 0, "%s", err.msg);
    ing_names_t in = {.channels = channels, .entities = entities, .labels = labels};
    ing_opts_t o = {.batch_frames = 64};
    ing_emit_t e = {.frames = on_frames, .ctx = all};
    ing_stats_t st;
    ing_stats_init(&st);
    pl_batch_init(all, PL_FRAMES);
    cr_assert_eq(ing_ngs_decode(rel, data, len, &o, &in, &e, &st, &err), 0, "%s", err.msg);
    free(data);
    cr_assert(all->frames.n > 50, "%zu frames", all->frames.n);
    return true;
}

Test(pl_frame_points, measures_a_real_players_distance_like_a_naive_sum)
{
    pl_batch_t all, view;
    load_play(PLAY, &all);
    const pw_frames_t *f = &all.frames;
    harness_t h;
    must_start(&h, &pl_frame_points_def, "{fields: [x, y, dist]}", FRAMES, 1);
    for (size_t off = 0; off < f->n; off += 64) {
        frames_slice(&view, &all, off, f->n - off < 64 ? f->n - off : 64);
        process(&h, &view);
    }
    uint32_t cd = CH("dist"), ev = CH("event"), cx = CH("x");

    /* Every entity of the play: the operator's sum of dist against the
     * naive sum of hypot(dx, dy) over its consecutive frames (1 s at most
     * apart, positions known). */
    size_t checked = 0;
    double most = 0;
    for (uint32_t e = 1; e <= pw_intern_count(entities); e++) {
        double naive = 0, px = NAN, py = NAN;
        int64_t pts = INT64_MIN;
        bool seen = false;
        for (size_t i = 0; i < f->n; i++)
            for (size_t o = f->first[i]; o < f->first[i] + f->nobj[i]; o++) {
                if (f->entity[o] != e || isnan(f->x[o]) || isnan(f->y[o]))
                    continue;
                seen = true;
                if (pts != INT64_MIN && f->ts_ns[i] - pts <= PW_NS_PER_S)
                    naive += hypot((double)f->x[o] - px, (double)f->y[o] - py);
                px = f->x[o], py = f->y[o], pts = f->ts_ns[i];
            }
        if (!seen)
            continue;
        double sum = 0;
        for (size_t i = 0; i < h.got.pts.n; i++)
            if (h.got.pts.entity[i] == e && h.got.pts.channel[i] == cd && !isnan(h.got.pts.value[i]))
                sum += h.got.pts.value[i];
        cr_assert_float_eq(sum, naive, 1e-9 * fmax(1, naive), "entity %s: %.6f vs naive %.6f",
                           pw_intern_name(entities, e), sum, naive);
        checked++;
        if (naive > most)
            most = naive;
    }
    cr_assert(checked >= 20, "%zu entities checked", checked);
    cr_assert(most > 20, "someone ran %.1f yd on the Minneapolis Miracle", most);

    /* Labels become markers: one per object and label, before the frame's
     * fields, with the label's id. */
    uint32_t snap;
    cr_assert_eq(pw_intern_find(labels, "ball_snap", 9, &snap), 0);
    size_t want_markers = 0, snap_frame = SIZE_MAX;
    for (size_t i = 0; i < f->n; i++)
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            if (f->label[i * PW_FRAME_LABELS + l] != PW_LABEL_NONE) {
                want_markers += f->nobj[i];
                if (f->label[i * PW_FRAME_LABELS + l] == snap)
                    snap_frame = i;
            }
    cr_assert(snap_frame != SIZE_MAX);
    size_t markers = 0, snap_markers = 0, first_marker = SIZE_MAX, first_field = SIZE_MAX;
    for (size_t i = 0; i < h.got.pts.n; i++) {
        bool at_snap = h.got.pts.ts_ns[i] == f->ts_ns[snap_frame];
        if (h.got.pts.channel[i] == ev) {
            markers++;
            if (h.got.pts.value[i] == snap) {
                snap_markers++;
                cr_assert(at_snap);
            }
            if (at_snap && first_marker == SIZE_MAX)
                first_marker = i;
        } else if (at_snap && h.got.pts.channel[i] == cx && first_field == SIZE_MAX) {
            first_field = i;
        }
    }
    cr_assert_eq(markers, want_markers);
    cr_assert_eq(snap_markers, f->nobj[snap_frame]);
    cr_assert(first_marker < first_field, "markers come before the frame's fields");
    pl_batch_fini(&all);
    stop(&h);
}

/* ---- join ------------------------------------------------------------------------ */

#define MS PW_NS_PER_MS

Test(pl_join, joins_each_point_to_the_latest_frame_holding_its_entity)
{
    uint32_t a = ENT("p/a"), bb = ENT("p/b"), ghost = ENT("p/ghost"), hr = CH("heart_rate");
    harness_t h;
    must_start(&h, &pl_join_def, "{fields: [x, y, speed]}", POINTS, 2);
    uint32_t ax = CH("at_x"), ay = CH("at_y"), as = CH("at_speed");
    pl_batch_t fr, pt;
    pl_batch_init(&fr, PL_FRAMES);
    pl_batch_init(&pt, PL_POINTS);
    pw_object_t o0[2] = {OBJ(a, PW_TEAM_HOME, 1, 1), OBJ(bb, PW_TEAM_AWAY, 9, 9)};
    pw_object_t o1[1] = {OBJ(bb, PW_TEAM_AWAY, 8, 8)};           /* a is missing */
    pw_object_t o2[2] = {OBJ(a, PW_TEAM_HOME, 3, 3), OBJ(bb, PW_TEAM_AWAY, 7, 7)};
    cr_assert_eq(pw_frames_push(&fr.frames, 0, 1, NULL, o0, 2), 0);
    cr_assert_eq(pw_frames_push(&fr.frames, 100 * MS, 1, NULL, o1, 1), 0);
    cr_assert_eq(pw_frames_push(&fr.frames, 200 * MS, 1, NULL, o2, 2), 0);
    add(&pt, 150 * MS, a, hr, 120);   /* a is not at 100 ms: the frame at 0 */
    add(&pt, 150 * MS, bb, hr, 130);  /* the frame at 100 ms */
    add(&pt, 50 * MS, a, hr, 110);    /* the frame at 0 */
    add(&pt, 200 * MS, a, hr, 125);   /* equal times match */
    add(&pt, 500 * MS, a, hr, 140);   /* 300 ms after the last frame: no match */
    add(&pt, 210 * MS, ghost, hr, 1); /* in no frame */
    add(&pt, 250 * MS, a, hr, 131);   /* stays held: after the watermark */
    process_wm(&h, 0, &pt, PL_WATERMARK_MIN);
    cr_assert_eq(h.got.pts.n, 0, "points wait for the watermark");
    cr_assert_eq(h.op.cnt.keys, 7);
    process_wm(&h, 1, &fr, PL_WATERMARK_MIN);
    cr_assert_eq(h.got.pts.n, 0);
    advance(&h, 220 * MS);
    /* In (time, arrival) order: 50 a, 150 a, 150 b, 200 a, 210 ghost. */
    const pl_batch_t *g = &h.got;
    cr_assert_eq(g->pts.n, 4 * 4 + 1);
    expect_point(g, 0, 50 * MS, a, hr, 110);
    expect_point(g, 1, 50 * MS, a, ax, 1);
    expect_point(g, 2, 50 * MS, a, ay, 1);
    expect_point(g, 3, 50 * MS, a, as, 2);
    expect_point(g, 4, 150 * MS, a, hr, 120);
    expect_point(g, 5, 150 * MS, a, ax, 1);
    expect_point(g, 8, 150 * MS, bb, hr, 130);
    expect_point(g, 9, 150 * MS, bb, ax, 8);
    expect_point(g, 11, 150 * MS, bb, as, 16);
    expect_point(g, 12, 200 * MS, a, hr, 125);
    expect_point(g, 13, 200 * MS, a, ax, 3);
    expect_point(g, 16, 210 * MS, ghost, hr, 1);
    cr_assert_eq(pl_join_unmatched(&h.op), 1);
    cr_assert_eq(h.op.cnt.keys, 2);
    advance(&h, PL_WATERMARK_MAX);
    cr_assert_eq(g->pts.n, 17 + 4 + 1);
    expect_point(g, 17, 250 * MS, a, hr, 131);
    expect_point(g, 18, 250 * MS, a, ax, 3);
    expect_point(g, 21, 500 * MS, a, hr, 140);
    cr_assert_eq(pl_join_unmatched(&h.op), 2);
    cr_assert_eq(h.op.cnt.keys, 0);
    cr_assert_eq(h.op.cnt.dropped, 0);
    cr_assert_eq(h.op.cnt.late, 0);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
    stop(&h);
}

Test(pl_join, joins_late_points_at_once_and_drops_late_frames)
{
    uint32_t a = ENT("p/a"), hr = CH("hr");
    harness_t h;
    must_start(&h, &pl_join_def, "{fields: [x], max_gap: 100ms}", POINTS, 2);
    uint32_t ax = CH("at_x");
    pl_batch_t fr, pt;
    pl_batch_init(&fr, PL_FRAMES);
    pl_batch_init(&pt, PL_POINTS);
    pw_object_t o = OBJ(a, PW_TEAM_HOME, 4, 0);
    cr_assert_eq(pw_frames_push(&fr.frames, 1000 * MS, 1, NULL, &o, 1), 0);
    o.x = 5;
    cr_assert_eq(pw_frames_push(&fr.frames, 850 * MS, 1, NULL, &o, 1), 0); /* < 1000 - 100 */
    process_wm(&h, 1, &fr, 1000 * MS);
    cr_assert_eq(h.op.cnt.dropped, 1);
    add(&pt, 1000 * MS, a, hr, 60);  /* at the watermark: late, joined now */
    process_wm(&h, 0, &pt, 1000 * MS);
    cr_assert_eq(h.op.cnt.late, 1);
    cr_assert_eq(h.got.pts.n, 2);
    expect_point(&h.got, 0, 1000 * MS, a, hr, 60);
    expect_point(&h.got, 1, 1000 * MS, a, ax, 4);
    /* Once the watermark passes, the frame is let go: a late point finds nothing. */
    advance(&h, 1200 * MS);
    pl_batch_clear(&pt);
    add(&pt, 1050 * MS, a, hr, 61);
    process_wm(&h, 0, &pt, 1200 * MS);
    cr_assert_eq(h.got.pts.n, 3);
    expect_point(&h.got, 2, 1050 * MS, a, hr, 61);
    cr_assert_eq(pl_join_unmatched(&h.op), 1);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
    stop(&h);
}

Test(pl_join, joins_the_oldest_at_once_beyond_max_pending)
{
    uint32_t a = ENT("p/a"), hr = CH("hr");
    harness_t h;
    must_start(&h, &pl_join_def, "{fields: [x], max_pending: 2}", POINTS, 2);
    pl_batch_t pt;
    pl_batch_init(&pt, PL_POINTS);
    add(&pt, 30, a, hr, 3);
    add(&pt, 10, a, hr, 1);
    add(&pt, 20, a, hr, 2);
    add(&pt, 40, a, hr, 4);
    process_wm(&h, 0, &pt, PL_WATERMARK_MIN);
    cr_assert_eq(h.op.cnt.evicted, 2);
    cr_assert_eq(h.op.cnt.keys, 2);
    cr_assert_eq(h.got.pts.n, 2);
    expect_point(&h.got, 0, 10, a, hr, 1);
    expect_point(&h.got, 1, 20, a, hr, 2);
    advance(&h, PL_WATERMARK_MAX);
    cr_assert_eq(h.got.pts.n, 4);
    expect_point(&h.got, 2, 30, a, hr, 3);
    expect_point(&h.got, 3, 40, a, hr, 4);
    pl_batch_fini(&pt);
    stop(&h);
}

Test(pl_join, carries_keys_and_gives_joined_points_their_channel)
{
    uint32_t a = ENT("p/a"), hr = CH("hr");
    harness_t h;
    pl_port_type_t in[2] = {{PL_POINTS, true}, {PL_FRAMES, false}};
    must_start(&h, &pl_join_def, "{fields: [y], prefix: ''}", in, 2);
    cr_assert(h.out.keyed);
    uint32_t cy = CH("y");
    pl_batch_t fr, pt;
    pl_batch_init(&fr, PL_FRAMES);
    pl_batch_init(&pt, PL_POINTS);
    pt.keyed = true;
    pw_object_t o = OBJ(a, PW_TEAM_HOME, 1, 2);
    cr_assert_eq(pw_frames_push(&fr.frames, 0, 1, NULL, &o, 1), 0);
    cr_assert_eq(pl_batch_add_point(&pt, 5, a, hr, 1, PL_KEY(a, hr)), 0);
    cr_assert_eq(pl_batch_add_point(&pt, 6, a, hr, 1, PL_KEY(a, 0)), 0);
    process_wm(&h, 1, &fr, PL_WATERMARK_MIN);
    process_wm(&h, 0, &pt, PL_WATERMARK_MIN);
    advance(&h, 10);
    cr_assert_eq(h.got.pts.n, 4);
    cr_assert_eq(h.got.key[0], PL_KEY(a, hr));
    cr_assert_eq(h.got.key[1], PL_KEY(a, cy));
    cr_assert_eq(h.got.key[2], PL_KEY(a, 0));
    cr_assert_eq(h.got.key[3], PL_KEY(a, 0));
    expect_point(&h.got, 1, 5, a, cy, 2);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
    stop(&h);
}

/* A game: 10 Hz frames of 8 players over 60 s, points at 37 Hz per player. */
static void make_game(pl_batch_t *fr, pl_batch_t *pt)
{
    pl_batch_init(fr, PL_FRAMES);
    pl_batch_init(pt, PL_POINTS);
    uint32_t hr = CH("hr"), e[8];
    for (int p = 0; p < 8; p++) {
        char name[16];
        snprintf(name, sizeof name, "g/%d", p);
        e[p] = ENT(name);
    }
    for (int i = 0; i < 600; i++) {
        pw_object_t o[8];
        int n = 0;
        for (int p = 0; p < 8; p++)
            if ((i / 7 + p) % 9 != 0) /* players go missing for a while */
                o[n++] = OBJ(e[p], PW_TEAM_HOME, (float)(i + p), (float)(p * 10));
        cr_assert_eq(pw_frames_push(&fr->frames, (int64_t)i * 100 * MS, 1, NULL, o,
                                    (uint16_t)n), 0);
    }
    for (int i = 0; i < 60 * 37; i++)
        for (int p = 0; p < 8; p++)
            add(pt, (int64_t)i * 27 * MS + p, e[p], hr, i + p * 0.01);
}

/* Run the join over the game, the two inputs arriving in chunks of the given
 * sizes, interleaved as `order` says (0: points first, 1: frames first, 2:
 * alternating), the watermark following both inputs (minus disorder). */
static void run_game_d(harness_t *h, const pl_batch_t *fr, const pl_batch_t *pt, size_t fchunk,
                       size_t pchunk, int order, size_t restart_at, int64_t disorder)
{
    size_t fo = 0, po = 0, calls = 0;
    int64_t fmax = PL_WATERMARK_MIN, pmax = PL_WATERMARK_MIN;
    while (fo < fr->frames.n || po < pt->pts.n) {
        bool frames_now = po >= pt->pts.n ||
                          (fo < fr->frames.n && (order == 1 || (order == 2 && calls % 2)));
        if (order == 0 && po < pt->pts.n)
            frames_now = false;
        pl_batch_t view;
        int64_t wm = fmax == PL_WATERMARK_MIN || pmax == PL_WATERMARK_MIN
                         ? PL_WATERMARK_MIN
                         : (fmax < pmax ? fmax : pmax) - disorder;
        if (frames_now) {
            size_t n = fr->frames.n - fo < fchunk ? fr->frames.n - fo : fchunk;
            frames_slice(&view, fr, fo, n);
            process_wm(h, 1, &view, wm);
            for (size_t k = fo; k < fo + n; k++)
                if (fr->frames.ts_ns[k] > fmax)
                    fmax = fr->frames.ts_ns[k];
            fo += n;
        } else {
            size_t n = pt->pts.n - po < pchunk ? pt->pts.n - po : pchunk;
            points_slice(&view, pt, po, n);
            process_wm(h, 0, &view, wm);
            pmax = pt->pts.ts_ns[po + n - 1];
            po += n;
        }
        if (fo >= fr->frames.n)
            fmax = PL_WATERMARK_MAX;
        if (po >= pt->pts.n)
            pmax = PL_WATERMARK_MAX;
        int64_t wm2 = fmax == PL_WATERMARK_MIN || pmax == PL_WATERMARK_MIN
                          ? PL_WATERMARK_MIN
                          : (fmax < pmax ? fmax : pmax);
        if (wm2 != PL_WATERMARK_MIN && wm2 != PL_WATERMARK_MAX)
            wm2 -= disorder;
        advance(h, wm2);
        if (++calls == restart_at)
            restart(h, "{fields: [x, y]}");
    }
    advance(h, PL_WATERMARK_MAX);
}

static void run_game(harness_t *h, const pl_batch_t *fr, const pl_batch_t *pt, size_t fchunk,
                     size_t pchunk, int order, size_t restart_at)
{
    run_game_d(h, fr, pt, fchunk, pchunk, order, restart_at, 50 * MS);
}

Test(pl_join, gives_the_same_output_whichever_input_arrives_first)
{
    pl_batch_t fr, pt;
    make_game(&fr, &pt);
    harness_t ref, h;
    must_start(&ref, &pl_join_def, "{fields: [x, y]}", POINTS, 2);
    run_game(&ref, &fr, &pt, 600, 1000000, 1, 0); /* all frames, then all points */
    uint32_t ax = CH("at_x");
    size_t matched = 0;
    for (size_t i = 0; i < ref.got.pts.n; i++)
        matched += ref.got.pts.channel[i] == ax;
    cr_assert_eq(ref.got.pts.n, pt.pts.n + 2 * matched);
    cr_assert_eq(pl_join_unmatched(&ref.op), pt.pts.n - matched);
    cr_assert(matched > pt.pts.n / 2 && matched < pt.pts.n, "%zu of %zu matched", matched,
              pt.pts.n);
    /* Check one against the frames: the point at 27 ms * 100 + 3 of g/3. */
    for (size_t i = 0; i < ref.got.pts.n; i++)
        if (ref.got.pts.channel[i] == ax) {
            int64_t ts = ref.got.pts.ts_ns[i];
            int64_t frame = ts / (100 * MS); /* the latest frame, if it holds the player */
            int p = (int)(ref.got.pts.entity[i] - ENT("g/0"));
            while ((frame / 7 + p) % 9 == 0)
                frame--;
            cr_assert(ts - frame * 100 * MS <= 200 * MS);
            cr_assert_eq(ref.got.pts.value[i], (double)(frame + p), "point %zu", i);
        }
    cr_assert_eq(ref.op.cnt.late + ref.op.cnt.dropped + ref.op.cnt.evicted, 0);

    struct { size_t fchunk, pchunk; int order; } runs[] = {
        {600, 1000000, 0}, /* all points, then all frames */
        {5, 300, 2},
        {1, 64, 2},
        {50, 7, 2},
        {13, 4096, 0},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        must_start(&h, &pl_join_def, "{fields: [x, y]}", POINTS, 2);
        run_game(&h, &fr, &pt, runs[r].fchunk, runs[r].pchunk, runs[r].order, 0);
        cr_assert_eq(h.op.cnt.late + h.op.cnt.dropped + h.op.cnt.evicted, 0, "run %zu", r);
        expect_same_points(&ref.got, &h.got);
        stop(&h);
    }
    stop(&ref);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
}

Test(pl_join, restores_to_the_same_output_as_one_run)
{
    pl_batch_t fr, pt;
    make_game(&fr, &pt);
    harness_t ref, h;
    must_start(&ref, &pl_join_def, "{fields: [x, y]}", POINTS, 2);
    run_game(&ref, &fr, &pt, 5, 300, 2, 0);
    for (size_t at = 1; at < 200; at += 37) {
        must_start(&h, &pl_join_def, "{fields: [x, y]}", POINTS, 2);
        run_game(&h, &fr, &pt, 5, 300, 2, at);
        expect_same_points(&ref.got, &h.got);
        cr_assert_eq(pl_join_unmatched(&h.op), pl_join_unmatched(&ref.op));
        stop(&h);
    }
    /* A truncated snapshot is refused. */
    pl_batch_t view;
    must_start(&h, &pl_join_def, "{}", POINTS, 2);
    frames_slice(&view, &fr, 0, 10);
    process_wm(&h, 1, &view, PL_WATERMARK_MIN);
    pl_buf_t s;
    pl_buf_init(&s);
    cr_assert_eq(pl_join_def.snapshot(&h.op, &s), 0);
    pl_rd_t r;
    pl_rd_init(&r, s.data, s.len - 1);
    pw_err_t err = {0};
    cr_assert_eq(pl_join_def.restore(&h.op, &r, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "join: frame 9 of the state is truncated"), "%s", err.msg);
    pl_buf_fini(&s);
    stop(&h);
    stop(&ref);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
}

Test(pl_join, puts_frames_that_arrive_out_of_order_in_their_place)
{
    pl_batch_t fr, pt, rev;
    make_game(&fr, &pt);
    /* The same frames, every group of four reversed (up to 300 ms early). */
    pl_batch_init(&rev, PL_FRAMES);
    for (size_t g = 0; g < fr.frames.n; g += 4)
        for (size_t k = g + 4 > fr.frames.n ? fr.frames.n : g + 4; k-- > g;)
            cr_assert_eq(pl_batch_push_frame(&rev, &fr, k), 0);
    harness_t ref, h;
    must_start(&ref, &pl_join_def, "{fields: [x, y]}", POINTS, 2);
    run_game(&ref, &fr, &pt, 5, 300, 2, 0);
    size_t chunks[] = {1, 3, 8, 600};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        must_start(&h, &pl_join_def, "{fields: [x, y]}", POINTS, 2);
        run_game_d(&h, &rev, &pt, chunks[c], 300, 2, 0, 400 * MS);
        cr_assert_eq(h.op.cnt.late + h.op.cnt.dropped + h.op.cnt.evicted, 0);
        expect_same_points(&ref.got, &h.got);
        stop(&h);
    }
    stop(&ref);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
    pl_batch_fini(&rev);
}

Test(pl_join, lets_the_oldest_frame_go_beyond_max_frames)
{
    uint32_t a = ENT("p/a"), hr = CH("hr");
    harness_t h;
    must_start(&h, &pl_join_def, "{fields: [orientation, direction], max_frames: 2, max_gap: 1s}",
               POINTS, 2);
    uint32_t co = CH("at_orientation"), cd = CH("at_direction");
    pl_batch_t fr, pt;
    pl_batch_init(&fr, PL_FRAMES);
    pl_batch_init(&pt, PL_POINTS);
    pw_object_t o = OBJ(a, PW_TEAM_HOME, 0, 0);
    cr_assert_eq(pw_frames_push(&fr.frames, 100 * MS, 1, NULL, &o, 1), 0);
    o.orientation = 45;
    o.direction = 270;
    cr_assert_eq(pw_frames_push(&fr.frames, 300 * MS, 1, NULL, &o, 1), 0);
    /* Arrives last but is the oldest: it is the one let go. */
    cr_assert_eq(pw_frames_push(&fr.frames, 0, 1, NULL, &o, 1), 0);
    process_wm(&h, 1, &fr, PL_WATERMARK_MIN);
    cr_assert_eq(h.op.cnt.evicted, 1);
    add(&pt, 50 * MS, a, hr, 1);   /* its frame (0) is gone */
    add(&pt, 150 * MS, a, hr, 2);  /* the frame at 100 ms */
    add(&pt, 350 * MS, a, hr, 3);  /* the frame at 300 ms */
    process_wm(&h, 0, &pt, PL_WATERMARK_MIN);
    advance(&h, PL_WATERMARK_MAX);
    cr_assert_eq(h.got.pts.n, 1 + 3 + 3);
    expect_point(&h.got, 0, 50 * MS, a, hr, 1);
    expect_point(&h.got, 1, 150 * MS, a, hr, 2);
    expect_point(&h.got, 2, 150 * MS, a, co, 90);
    expect_point(&h.got, 3, 150 * MS, a, cd, 180);
    expect_point(&h.got, 5, 350 * MS, a, co, 45);
    expect_point(&h.got, 6, 350 * MS, a, cd, 270);
    cr_assert_eq(pl_join_unmatched(&h.op), 1);
    pl_batch_fini(&fr);
    pl_batch_fini(&pt);
    stop(&h);
}

Test(pl_join, refuses_wrong_inputs_and_bad_keys)
{
    pl_port_type_t swapped[2] = {{PL_FRAMES, false}, {PL_POINTS, false}};
    pl_port_type_t two_points[2] = {{PL_POINTS, false}, {PL_POINTS, false}};
    refuses(&pl_join_def, "{}", swapped, 2,
            "join: input 1 carries frames; join takes points as input 1 and frames as input 2");
    refuses(&pl_join_def, "{}", two_points, 2,
            "join: input 2 carries points; join takes points as input 1 and frames as input 2");
    refuses(&pl_join_def, "{}", POINTS, 1, "join: takes 2 inputs (points, then frames), not 1");
    refuses(&pl_join_def, "{fields: [x, dist]}", POINTS, 2,
            "join: fields: 'dist' is not one of x, y, speed, orientation, direction");
    harness_t h;
    pw_err_t err;
    cr_assert_eq(start(&h, &pl_join_def, "{max_pending: 0}", POINTS, 2, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "max_pending"), "%s", err.msg);
    stop(&h);
}
