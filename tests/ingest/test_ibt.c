/*
 * ing_ibt: the iRacing decoder on the real files of ../shared/data (or
 * $PITWALL_DATA) and on broken copies of them built here.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "ingest/ing_format.h"
#include "ingest/ing_ibt.h"

#define BRISTOL "racing/iracing/nascar-truck-bristol.ibt"
#define W13 "racing/iracing/mercedes-w13-live.ibt"

/* Facts of the Bristol file (checked against an independent reader). */
#define BRISTOL_SAMPLES 3446
#define BRISTOL_ELEMENTS 279 /* 274 variables, SteeringWheelTorque_ST has 6 */
#define BRISTOL_VARS 274
#define BRISTOL_ROW 1070
#define BRISTOL_DATA 51696      /* byte offset of sample 0 */
#define BRISTOL_YAML 39600      /* byte offset of the session YAML */
#define BRISTOL_DATE 1762472343 /* sessionStartDate, Unix s */

/* A private ing_stats_init: ing_format.c links decoders not built yet. */
static void stats_init(ing_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->first_ts_ns = INT64_MAX;
    st->last_ts_ns = INT64_MIN;
}

/* Read a data file into an exact-size heap buffer (so ASan sees overreads). */
static uint8_t *load(const char *rel, size_t *len)
{
    return tdata_load(rel, len, NULL, 0);
}

/* An exact-size copy of the first len bytes. */
static uint8_t *copy(const uint8_t *d, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    cr_assert_not_null(c);
    memcpy(c, d, len);
    return c;
}

static void put_i32(uint8_t *p, int32_t v) { memcpy(p, &v, sizeof v); }

/* Replace the first occurrence of from (same length as to) inside d. */
static void patch(uint8_t *d, size_t len, const char *from, const char *to)
{
    size_t n = strlen(from);
    cr_assert_eq(strlen(to), n);
    uint8_t *p = memmem(d, len, from, n);
    cr_assert_not_null(p, "'%s' not in the file", from);
    memcpy(p, to, n);
}

/* What the callbacks saw. */
typedef struct seen {
    pw_points_t all;    /* every point, in order */
    size_t batches;
    size_t max_batch;
    size_t sessions;
    int session_first;  /* the session came before any point */
    size_t npairs;
    char *keys[64];
    char *values[64];
    char sname[64];
    uint64_t sid;
    int stop_after;     /* return 99 from the points callback after this many batches */
    int count_only;     /* do not keep the points */
} seen_t;

static int on_points(void *ctx, const pw_points_t *b)
{
    seen_t *s = ctx;
    s->batches++;
    if (b->n > s->max_batch)
        s->max_batch = b->n;
    for (size_t i = 0; i < b->n && s->count_only; i++)
        cr_assert(b->ts_ns[i] >= b->ts_ns[0]);
    for (size_t i = 0; i < b->n && !s->count_only; i++) {
        pw_point_t p = {b->ts_ns[i], b->entity[i], b->channel[i], b->value[i]};
        cr_assert_eq(pw_points_push(&s->all, &p), 0);
    }
    if (s->stop_after && (int)s->batches >= s->stop_after)
        return 99;
    return 0;
}

static int on_session(void *ctx, const ing_session_t *ss)
{
    seen_t *s = ctx;
    if (!s->sessions && s->all.n == 0)
        s->session_first = 1;
    s->sessions++;
    snprintf(s->sname, sizeof s->sname, "%s", ss->name);
    s->sid = ss->id;
    for (size_t i = 0; i < ss->n && s->npairs < 64; i++) {
        s->keys[s->npairs] = strdup(ss->keys[i]);
        s->values[s->npairs] = strdup(ss->values[i]);
        s->npairs++;
    }
    return 0;
}

static const char *session_get(const seen_t *s, const char *key)
{
    for (size_t i = 0; i < s->npairs; i++)
        if (!strcmp(s->keys[i], key))
            return s->values[i];
    return NULL;
}

static void seen_fini(seen_t *s)
{
    pw_points_fini(&s->all);
    for (size_t i = 0; i < s->npairs; i++) {
        free(s->keys[i]);
        free(s->values[i]);
    }
}

static pw_intern_t *channels, *entities, *labels;
static ing_names_t names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(8192, &channels), 0);
    cr_assert_eq(pw_intern_create(64, &entities), 0);
    cr_assert_eq(pw_intern_create(64, &labels), 0);
    names = (ing_names_t){channels, entities, labels};
}

static void teardown(void)
{
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

TestSuite(ing_ibt, .init = setup, .fini = teardown, .timeout = 60);

/* Decode data[0..len) into s with options o (NULL = defaults). */
static int decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                  seen_t *s, ing_stats_t *st, pw_err_t *err)
{
    pw_points_init(&s->all);
    ing_emit_t emit = {on_points, NULL, on_session, s};
    stats_init(st);
    pw_err_clear(err);
    return ing_ibt_decode(name, data, len, o, &names, &emit, st, err);
}

static uint32_t chan_id(const char *n)
{
    uint32_t id = 0;
    cr_assert_eq(pw_intern_find(channels, n, strlen(n), &id), 0, "no channel '%s'", n);
    return id;
}

/* Values of one channel, in sample order. */
static size_t values_of(const seen_t *s, const char *channel, double *out, size_t cap)
{
    uint32_t id = chan_id(channel);
    size_t n = 0;
    for (size_t i = 0; i < s->all.n; i++)
        if (s->all.channel[i] == id && n < cap)
            out[n++] = s->all.value[i];
    return n;
}

Test(ing_ibt, reads_the_bristol_fuel_level_from_70_75_to_69_29_litres)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, BRISTOL_SAMPLES);
    cr_assert_eq(st.points, (uint64_t)BRISTOL_SAMPLES * BRISTOL_ELEMENTS);
    cr_assert_eq(s.all.n, st.points);
    cr_assert_eq(st.bytes, len);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(st.skipped, 0);
    cr_assert_str_empty(st.first_problem);
    cr_assert_eq(pw_intern_count(channels), BRISTOL_ELEMENTS);

    static double fuel[BRISTOL_SAMPLES + 1];
    cr_assert_eq(values_of(&s, "FuelLevel", fuel, BRISTOL_SAMPLES + 1), BRISTOL_SAMPLES);
    cr_assert_float_eq(fuel[0], 70.75, 0.01);
    cr_assert_float_eq(fuel[BRISTOL_SAMPLES - 1], 69.29, 0.01);
    for (size_t i = 1; i < BRISTOL_SAMPLES; i++)
        cr_assert(fuel[i] <= fuel[i - 1] + 1e-6, "fuel rises at sample %zu", i);
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, stamps_bristol_samples_from_the_recording_start_date_over_57_seconds)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    /* The first sample is at sessionStartDate (2025-11-06 23:39:03 UTC). */
    cr_assert_eq(st.first_ts_ns, (int64_t)BRISTOL_DATE * 1000000000LL);
    double span_s = (double)(st.last_ts_ns - st.first_ts_ns) / 1e9;
    cr_assert_float_eq(span_s, 57.433, 0.01);
    /* Every point of a sample shares its stamp; samples are 1/60 s apart. */
    int64_t prev = 0;
    size_t long_gaps = 0;
    for (size_t i = 0; i < s.all.n; i += BRISTOL_ELEMENTS) {
        for (size_t k = 1; k < BRISTOL_ELEMENTS; k++)
            cr_assert_eq(s.all.ts_ns[i + k], s.all.ts_ns[i]);
        if (i) {
            int64_t gap = s.all.ts_ns[i] - prev;
            cr_assert(gap > 16600000 && gap < 33400000, "gap %lld ns at point %zu",
                      (long long)gap, i);
            long_gaps += gap > 20000000;
        }
        prev = s.all.ts_ns[i];
    }
    cr_assert_eq(long_gaps, 1); /* one tick is missing from the recording */
    /* SessionTime is in the points too, seconds since the session began. */
    static double t[BRISTOL_SAMPLES];
    cr_assert_eq(values_of(&s, "SessionTime", t, BRISTOL_SAMPLES), BRISTOL_SAMPLES);
    cr_assert_float_eq(t[0], 6097.033, 0.001);
    cr_assert_float_eq(t[BRISTOL_SAMPLES - 1] - t[0], span_s, 1e-6);
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, counts_the_bristol_laps_170_to_173)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    static double lap[BRISTOL_SAMPLES];
    cr_assert_eq(values_of(&s, "Lap", lap, BRISTOL_SAMPLES), BRISTOL_SAMPLES);
    /* The first sample reads lap 0 (the counter is not set yet), then 170..173. */
    size_t count[4] = {0};
    cr_assert_float_eq(lap[0], 0, 1e-9);
    for (size_t i = 1; i < BRISTOL_SAMPLES; i++) {
        cr_assert(lap[i] >= 170 && lap[i] <= 173, "lap %f at sample %zu", lap[i], i);
        cr_assert(lap[i] >= lap[i - 1]);
        count[(int)lap[i] - 170]++;
    }
    cr_assert_eq(count[0], 1247);
    cr_assert_eq(count[1], 913);
    cr_assert_eq(count[2], 904);
    cr_assert_eq(count[3], 381);
    static double pct[BRISTOL_SAMPLES];
    cr_assert_eq(values_of(&s, "LapDistPct", pct, BRISTOL_SAMPLES), BRISTOL_SAMPLES);
    /* iRacing reads a hair below 0 right at the line (sample 3065: -3.2e-5). */
    for (size_t i = 0; i < BRISTOL_SAMPLES; i++)
        cr_assert(pct[i] > -0.001 && pct[i] < 1, "LapDistPct %f at sample %zu", pct[i], i);
    static double v[BRISTOL_SAMPLES];
    values_of(&s, "Speed", v, BRISTOL_SAMPLES);
    double vmax = 0;
    for (size_t i = 0; i < BRISTOL_SAMPLES; i++)
        vmax = v[i] > vmax ? v[i] : vmax;
    cr_assert_float_eq(vmax, 61.49, 0.01); /* m/s */
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, names_the_bristol_truck_car_64_and_its_track_from_the_session_yaml)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(s.sessions, 1);
    cr_assert(s.session_first);
    cr_assert_str_eq(s.sname, "bristol");
    cr_assert_eq(s.sid, BRISTOL_DATE); /* offline test: no SubSessionID */
    cr_assert_str_eq(session_get(&s, "TrackName"), "bristol");
    cr_assert_str_eq(session_get(&s, "TrackDisplayName"), "Bristol Motor Speedway");
    cr_assert_str_eq(session_get(&s, "TrackLength"), "0.8282 km");
    cr_assert_str_eq(session_get(&s, "DriverCarFuelKgPerLtr"), "0.750");
    cr_assert_str_eq(session_get(&s, "DriverCarFuelMaxLtr"), "70.753");
    cr_assert_str_eq(session_get(&s, "DriverCarIdx"), "0");
    cr_assert_str_eq(session_get(&s, "CarNumber"), "64");
    cr_assert_str_eq(session_get(&s, "CarScreenName"), "Chevrolet Silverado");
    cr_assert_str_eq(session_get(&s, "Entity"), "car/64");
    cr_assert_str_eq(session_get(&s, "IbtLayout"), "disk");
    cr_assert_str_eq(session_get(&s, "IbtYaml"), "libyaml");
    cr_assert_str_eq(session_get(&s, "SessionStartDate"), "1762472343");
    cr_assert_str_eq(session_get(&s, "SessionRecordCount"), "3446");
    cr_assert_str_eq(session_get(&s, "SessionLapCount"), "5");
    cr_assert_str_eq(session_get(&s, "TickRate"), "60");
    /* Every point belongs to car/64. */
    uint32_t car;
    cr_assert_eq(pw_intern_find(entities, "car/64", 6, &car), 0);
    cr_assert_eq(pw_intern_count(entities), 1);
    for (size_t i = 0; i < s.all.n; i++)
        cr_assert_eq(s.all.entity[i], car);
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, names_array_elements_with_their_index)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    uint32_t id;
    for (int i = 0; i < 6; i++) {
        char n[64];
        snprintf(n, sizeof n, "SteeringWheelTorque_ST[%d]", i);
        cr_assert_eq(pw_intern_find(channels, n, strlen(n), &id), 0, "%s", n);
    }
    cr_assert_eq(pw_intern_find(channels, "SteeringWheelTorque_ST", 22, &id), PW_ENOTFOUND);
    cr_assert_eq(pw_intern_find(channels, "SteeringWheelTorque_ST[6]", 25, &id), PW_ENOTFOUND);
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, probe_describes_the_header_and_variables)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    ing_ibt_info_t info;
    pw_err_t err = {0};
    cr_assert_eq(ing_ibt_probe("bristol.ibt", d, len, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.live, 0);
    cr_assert_eq(info.nvars, BRISTOL_VARS);
    cr_assert_eq(info.elements, BRISTOL_ELEMENTS);
    cr_assert_eq(info.row_bytes, BRISTOL_ROW);
    cr_assert_eq(info.data_offset, BRISTOL_DATA);
    cr_assert_eq(info.yaml_offset, BRISTOL_YAML);
    cr_assert_eq(info.samples, BRISTOL_SAMPLES);
    cr_assert_eq(info.samples_promised, BRISTOL_SAMPLES);
    cr_assert_eq(info.start_date_s, BRISTOL_DATE);
    cr_assert_eq(info.tick_rate_hz, 60);
    int found = 0;
    for (uint32_t i = 0; i < info.nvars; i++) {
        ing_ibt_var_t v;
        cr_assert_eq(ing_ibt_var_get(d, len, &info, i, &v), 0);
        if (!strcmp(v.name, "FuelLevel")) {
            cr_assert_eq(v.type, ING_IBT_FLOAT);
            cr_assert_eq(v.count, 1);
            cr_assert_str_eq(v.unit, "l");
            found = 1;
        }
    }
    cr_assert(found);
    ing_ibt_var_t v;
    cr_assert_eq(ing_ibt_var_get(d, len, &info, info.nvars, &v), PW_ERANGE);
    free(d);
}

Test(ing_ibt, decodes_only_the_requested_channels_and_array_elements)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    const char *want[] = {"FuelLevel", "Lap", "SteeringWheelTorque_ST[2]", "FuelLevel"};
    ing_opts_t o = {.channels = want, .nchannels = 4};
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, &o, &s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, BRISTOL_SAMPLES);
    cr_assert_eq(st.points, BRISTOL_SAMPLES * 3);
    cr_assert_eq(pw_intern_count(channels), 3);
    static double fuel[BRISTOL_SAMPLES];
    cr_assert_eq(values_of(&s, "FuelLevel", fuel, BRISTOL_SAMPLES), BRISTOL_SAMPLES);
    cr_assert_float_eq(fuel[BRISTOL_SAMPLES - 1], 69.29, 0.01);
    chan_id("SteeringWheelTorque_ST[2]");
    /* Timestamps still come from SessionTime, which was not asked for. */
    cr_assert_eq(st.first_ts_ns, (int64_t)BRISTOL_DATE * 1000000000LL);
    seen_fini(&s);

    /* A bare array name selects all its elements. */
    const char *arr[] = {"SteeringWheelTorque_ST"};
    o = (ing_opts_t){.channels = arr, .nchannels = 1};
    seen_t s2 = {0};
    cr_assert_eq(decode("bristol.ibt", d, len, &o, &s2, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.points, BRISTOL_SAMPLES * 6);
    seen_fini(&s2);
    free(d);
}

Test(ing_ibt, rejects_an_unknown_channel_and_suggests_names_of_the_file)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    const char *want[] = {"FuelLevel", "Fuellevl"};
    ing_opts_t o = {.channels = want, .nchannels = 2};
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, &o, &s, &st, &err), PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "bristol.ibt: no channel 'Fuellevl'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "FuelLevel"), "%s", err.msg);
    cr_assert(strstr(err.msg, "274 variables"), "%s", err.msg);
    cr_assert_eq(s.sessions, 0);
    cr_assert_eq(s.all.n, 0);
    const char *bad[] = {"SteeringWheelTorque_ST[6]"};
    o = (ing_opts_t){.channels = bad, .nchannels = 1};
    cr_assert_eq(decode("bristol.ibt", d, len, &o, &s, &st, &err), PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "SteeringWheelTorque_ST[6]"), "%s", err.msg);
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, fills_batches_up_to_batch_points_whatever_the_sample_size)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t a = {0}, b = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &a, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(a.max_batch, 4096);
    ing_opts_t o = {.batch_points = 1000};
    cr_assert_eq(decode("bristol.ibt", d, len, &o, &b, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(b.max_batch, 1000);
    cr_assert_eq(b.batches, (BRISTOL_SAMPLES * BRISTOL_ELEMENTS + 999) / 1000);
    cr_assert_eq(a.all.n, b.all.n);
    cr_assert_eq(memcmp(a.all.ts_ns, b.all.ts_ns, a.all.n * sizeof(int64_t)), 0);
    cr_assert_eq(memcmp(a.all.channel, b.all.channel, a.all.n * sizeof(uint32_t)), 0);
    cr_assert_eq(memcmp(a.all.value, b.all.value, a.all.n * sizeof(double)), 0);
    seen_fini(&a);
    seen_fini(&b);
    free(d);
}

Test(ing_ibt, stops_when_the_points_callback_says_so)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    seen_t s = {.stop_after = 3};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("bristol.ibt", d, len, NULL, &s, &st, &err), 99);
    cr_assert_eq(s.batches, 3);
    cr_assert_eq(st.points, 2 * 4096); /* the refused batch is not counted */
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, reads_the_three_rotating_buffers_of_the_w13_live_snapshot)
{
    size_t len;
    uint8_t *d = load(W13, &len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("w13.ibt", d, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    /* A saved live memory map: 3 buffers (ticks 2003..2005), 323 variables,
     * 2204 elements (many CarIdx* arrays of 64), no disk sub-header. */
    cr_assert_eq(st.records, 3);
    cr_assert_eq(st.points, 3 * 2204);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(pw_intern_count(channels), 2204);
    chan_id("CarIdxLap[63]");
    cr_assert_str_eq(session_get(&s, "IbtLayout"), "live");
    cr_assert_null(session_get(&s, "SessionStartDate"));
    cr_assert_str_eq(session_get(&s, "TrackName"), "monza full");
    cr_assert_str_eq(session_get(&s, "CarScreenName"), "Mercedes-AMG W13 E Performance");
    cr_assert_str_eq(session_get(&s, "DriverCarFuelMaxLtr"), "146.667");
    cr_assert_str_eq(session_get(&s, "Entity"), "car/64");
    /* Session-relative time, in tick order. */
    double t[3];
    cr_assert_eq(values_of(&s, "SessionTime", t, 3), 3);
    cr_assert_float_eq(t[0], 53.1167, 1e-3);
    cr_assert(t[0] < t[1] && t[1] < t[2]);
    cr_assert_eq(st.first_ts_ns, llround(t[0] * 1e9));
    cr_assert_eq(st.last_ts_ns, llround(t[2] * 1e9));
    double tick[3];
    cr_assert_eq(values_of(&s, "SessionTick", tick, 3), 3);
    cr_assert_float_eq(tick[0], 3441, 1e-9);
    cr_assert_float_eq(tick[2], 3443, 1e-9);
    /* The car sits in the garage: no fuel, 300 rpm. */
    double fuel[3], rpm[3];
    values_of(&s, "FuelLevel", fuel, 3);
    values_of(&s, "RPM", rpm, 3);
    cr_assert_float_eq(fuel[0], 0, 1e-9);
    cr_assert_float_eq(rpm[0], 300, 1e-3);
    seen_fini(&s);
    free(d);
}

Test(ing_ibt, decodes_the_whole_samples_of_a_cut_recording_and_reports_the_cut)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    /* Cut in the middle of sample 1000, then exactly after sample 999. */
    size_t cuts[] = {BRISTOL_DATA + 1000 * BRISTOL_ROW + 500, BRISTOL_DATA + 1000 * BRISTOL_ROW};
    for (size_t c = 0; c < 2; c++) {
        uint8_t *t = copy(d, cuts[c]);
        seen_t s = {0};
        ing_stats_t st;
        pw_err_t err;
        cr_assert_eq(decode("cut.ibt", t, cuts[c], NULL, &s, &st, &err), 0, "%s", err.msg);
        cr_assert_eq(st.records, 1000);
        cr_assert_eq(st.points, 1000 * BRISTOL_ELEMENTS);
        cr_assert_eq(st.truncated, 1);
        char want[256];
        snprintf(want, sizeof want,
                 "cut.ibt: header promises 3446 samples, file holds 1000 (truncated at byte "
                 "%d of %zu)",
                 BRISTOL_DATA + 1000 * BRISTOL_ROW, cuts[c]);
        cr_assert_str_eq(st.first_problem, want);
        seen_fini(&s);
        free(t);
    }
    free(d);
}

Test(ing_ibt, decodes_every_whole_sample_when_the_count_was_never_written)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    uint8_t *t = copy(d, len - 300);
    put_i32(t + 140, 0); /* sessionRecordCount */
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("open.ibt", t, len - 300, NULL, &s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, BRISTOL_SAMPLES - 1);
    cr_assert_eq(st.truncated, 1);
    cr_assert(strstr(st.first_problem, "open.ibt: header gives no sample count"), "%s",
              st.first_problem);
    seen_fini(&s);
    free(t);
    free(d);
}

Test(ing_ibt, skips_a_sample_whose_session_time_is_not_a_number)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    uint8_t *t = copy(d, len);
    double nan_v = NAN;
    memcpy(t + BRISTOL_DATA + 7 * BRISTOL_ROW, &nan_v, sizeof nan_v); /* SessionTime at 0 */
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("nan.ibt", t, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, BRISTOL_SAMPLES);
    cr_assert_eq(st.skipped, 1);
    cr_assert_eq(st.points, (BRISTOL_SAMPLES - 1) * BRISTOL_ELEMENTS);
    char want[128];
    snprintf(want, sizeof want, "nan.ibt: sample 7 at byte %d: SessionTime",
             BRISTOL_DATA + 7 * BRISTOL_ROW);
    cr_assert(strstr(st.first_problem, want), "%s", st.first_problem);
    seen_fini(&s);
    free(t);
    free(d);
}

/* Decode a broken copy; expect code and a message containing what. */
static void expect_error(const uint8_t *d, size_t len, int code, const char *what)
{
    uint8_t *t = copy(d, len);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    int rc = decode("bad.ibt", t, len, NULL, &s, &st, &err);
    cr_assert_eq(rc, code, "rc %d (%s), expected %d; %s", rc, pw_strerror(rc), code, err.msg);
    cr_assert(strstr(err.msg, what), "message '%s' lacks '%s'", err.msg, what);
    cr_assert(!strncmp(err.msg, "bad.ibt: ", 9), "%s", err.msg);
    cr_assert_eq(s.all.n, 0);
    cr_assert_eq(s.sessions, 0);
    seen_fini(&s);
    free(t);
}

Test(ing_ibt, rejects_inputs_cut_inside_the_header_variables_or_yaml)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    expect_error(d, 0, PW_ETRUNC, "0 bytes, shorter than the 112-byte iRacing header");
    expect_error(d, 50, PW_ETRUNC, "50 bytes, shorter than the 112-byte");
    expect_error(d, 111, PW_ETRUNC, "111 bytes");
    expect_error(d, 130, PW_ETRUNC, "274 variable headers at byte 144 end at byte 39600");
    expect_error(d, 144 + 144 * 10 + 7, PW_ETRUNC, "past the end of the file (1591 bytes)");
    expect_error(d, BRISTOL_YAML + 100, PW_ETRUNC,
                 "session info YAML at byte 39600, 12096 bytes, ends at byte 51696");
    free(d);
}

Test(ing_ibt, rejects_a_wrong_version_absurd_counts_and_variables_outside_the_sample)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    uint8_t *t = copy(d, len);
    put_i32(t, 3);
    expect_error(t, len, PW_ECORRUPT, "not an iRacing .ibt file: header version 3 (expected 2)");
    memcpy(t, "PK\3\4", 4);
    expect_error(t, len, PW_ECORRUPT, "not an iRacing .ibt file: header version");
    memcpy(t, d, len);

    put_i32(t + 24, 2000000000); /* numVars */
    expect_error(t, len, PW_ECORRUPT, "numVars 2000000000 at byte 24 (expected 1..8192)");
    put_i32(t + 24, -1);
    expect_error(t, len, PW_ECORRUPT, "numVars -1");
    put_i32(t + 24, 0);
    expect_error(t, len, PW_ECORRUPT, "numVars 0");
    memcpy(t, d, len);

    put_i32(t + 36, 0); /* bufLen */
    expect_error(t, len, PW_ECORRUPT, "bufLen 0");
    memcpy(t, d, len);
    put_i32(t + 36, 1000); /* shorter than the variables need */
    expect_error(t, len, PW_ECORRUPT, "past the 1000-byte sample");
    memcpy(t, d, len);
    put_i32(t + 32, 9); /* numBuf */
    expect_error(t, len, PW_ECORRUPT, "numBuf 9");
    memcpy(t, d, len);
    put_i32(t + 28, 40); /* varHeaderOffset inside the header */
    expect_error(t, len, PW_ECORRUPT, "varHeaderOffset 40 at byte 28");
    memcpy(t, d, len);
    put_i32(t + 28, 0x7fffff00);
    expect_error(t, len, PW_ETRUNC, "variable headers at byte 2147483392");
    memcpy(t, d, len);
    put_i32(t + 20, 0x7fffff00); /* sessionInfoOffset */
    expect_error(t, len, PW_ETRUNC, "session info YAML at byte 2147483392");
    memcpy(t, d, len);
    put_i32(t + 16, -5); /* sessionInfoLen */
    expect_error(t, len, PW_ECORRUPT, "session info at byte 39600, -5 bytes");
    memcpy(t, d, len);
    put_i32(t + 52, 100); /* varBuf[0].bufOffset inside the headers */
    expect_error(t, len, PW_ECORRUPT, "sample offset 100");
    memcpy(t, d, len);

    /* Variable #0 is SessionTime (a double at 0); variable #1 SessionTick. */
    put_i32(t + 144 + 4, 1066); /* 1066 + 8 > 1070 */
    expect_error(t, len, PW_ECORRUPT,
                 "variable 'SessionTime' (#0, byte 144) spans sample bytes 1066..1074, past the "
                 "1070-byte sample");
    memcpy(t, d, len);
    put_i32(t + 144 + 144 + 8, 0x40000000); /* count */
    expect_error(t, len, PW_ECORRUPT, "variable 'SessionTick' (#1, byte 288) spans");
    memcpy(t, d, len);
    put_i32(t + 144 + 144 + 8, 0);
    expect_error(t, len, PW_ECORRUPT, "'SessionTick' (#1, byte 288) has offset 8 and count 0");
    memcpy(t, d, len);
    put_i32(t + 144 + 144, 9); /* type */
    expect_error(t, len, PW_ECORRUPT, "variable 'SessionTick' (#1, byte 288) has type 9");
    memcpy(t, d, len);
    memset(t + 144 + 144 + 16, 0, 32); /* name */
    expect_error(t, len, PW_ECORRUPT, "variable #1 (byte 288) has no name");
    free(t);
    free(d);
}

Test(ing_ibt, never_reads_past_the_end_of_any_prefix_of_the_file)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    /* Every prefix through the headers, then strides through the rest. */
    for (size_t n = 0; n < len; n += n < 400 ? 1 : n < BRISTOL_DATA + 4000 ? 97 : 40009) {
        uint8_t *t = copy(d, n);
        seen_t s = {.count_only = 1};
        ing_stats_t st;
        pw_err_t err;
        int rc = decode("prefix.ibt", t, n, NULL, &s, &st, &err);
        if (n < BRISTOL_DATA) {
            cr_assert_eq(rc, PW_ETRUNC, "prefix %zu: rc %d %s", n, rc, err.msg);
        } else {
            cr_assert_eq(rc, 0, "prefix %zu: %s", n, err.msg);
            cr_assert_eq(st.records, (n - BRISTOL_DATA) / BRISTOL_ROW);
            cr_assert_eq(st.truncated, 1);
        }
        seen_fini(&s);
        free(t);
    }
    free(d);
}

Test(ing_ibt, reads_session_yaml_that_libyaml_rejects_by_quoting_its_values)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    uint8_t *t = copy(d, len);
    /* iRacing writes names unquoted: ": " and a leading '@' break YAML,
     * and Windows-1252 letters are not UTF-8. */
    patch(t, len, "TrackDisplayName: Bristol Motor Speedway",
          "TrackDisplayName: Bristol: MotorSpeedway");
    patch(t, len, "UserName: Jackson Grimm", "UserName: @ackson Gr\xefmm");
    patch(t, len, "TeamName: Jackson Grimm", "TeamName: Jackson 'Grm'");
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("quirky.ibt", t, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    const char *how = session_get(&s, "IbtYaml");
    cr_assert(!strncmp(how, "libyaml after quoting values (as written: line ", 47), "%s", how);
    cr_assert_str_eq(session_get(&s, "TrackDisplayName"), "Bristol: MotorSpeedway");
    cr_assert_str_eq(session_get(&s, "UserName"), "@ackson Gr\xc3\xafmm");
    cr_assert_str_eq(session_get(&s, "TeamName"), "Jackson 'Grm'");
    cr_assert_str_eq(session_get(&s, "DriverCarFuelKgPerLtr"), "0.750");
    cr_assert_str_eq(session_get(&s, "CarNumber"), "64");
    cr_assert_str_eq(session_get(&s, "Entity"), "car/64");
    cr_assert_str_empty(st.first_problem);
    cr_assert_eq(st.points, (uint64_t)BRISTOL_SAMPLES * BRISTOL_ELEMENTS);
    seen_fini(&s);
    free(t);
    free(d);
}

Test(ing_ibt, decodes_the_samples_when_the_session_yaml_is_unreadable)
{
    size_t len;
    uint8_t *d = load(BRISTOL, &len);
    uint8_t *t = copy(d, len);
    memcpy(t + BRISTOL_YAML, "---\n[{ : ]\x01\n", 12);
    seen_t s = {0};
    ing_stats_t st;
    pw_err_t err;
    cr_assert_eq(decode("noyaml.ibt", t, len, NULL, &s, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.points, (uint64_t)BRISTOL_SAMPLES * BRISTOL_ELEMENTS);
    cr_assert_eq(st.skipped, 0);
    cr_assert(strstr(st.first_problem, "noyaml.ibt: session YAML at byte 39600 (12096 bytes) "
                                       "unreadable (line "),
              "%s", st.first_problem);
    cr_assert_str_eq(session_get(&s, "Entity"), "car/0");
    cr_assert_null(session_get(&s, "TrackName"));
    cr_assert_str_eq(s.sname, "noyaml.ibt");
    seen_fini(&s);
    free(t);
    free(d);
}
