/*
 * The pipeline as a whole: graph checks with file:line, the graph over a
 * real embedded log into a real result store, compared with a naive
 * computation; determinism across worker counts and batch sizes; resuming
 * from a checkpoint; malformed input; idle partitions.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "core/pw_codec.h"
#include "core/pw_fs.h"
#include "core/pw_time.h"
#include "ingest/ing_sim.h"
#include "pipeline/pl_graph.h"
#include "pipeline/pl_pipeline.h"
#include "store/st_log.h"
#include "store/st_results.h"

static char dir[64];
static pw_intern_t *channels, *entities, *labels;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pitwall-pl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(pw_intern_create(1024, &channels), 0);
    cr_assert_eq(pw_intern_create(1024, &entities), 0);
    cr_assert_eq(pw_intern_create(1024, &labels), 0);
}

static void teardown(void)
{
    pw_fs_remove_tree(dir);
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

TestSuite(pl_graph, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(pl_pipeline, .init = setup, .fini = teardown, .timeout = 120);

/* ---- graph checks ---------------------------------------------------------- */

static const char *SOURCES =
    "sources:\n"                                                        /* 1 */
    "  - {name: telemetry, topic: telemetry, kind: points}\n"          /* 2 */
    "operators:\n";                                                     /* 3 */

/* Load "SOURCES + ops" as a pipeline section and build it; 0 or the error. */
static int build(const char *ops, pw_err_t *err)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", SOURCES, ops);
    pl_conf_t c;
    int rc = pw_conf_load_string("test.yaml", text, strlen(text), &pl_conf_section, &c, err);
    if (rc == 0) {
        pl_graph_t *g = NULL;
        rc = pl_graph_build(&c, "test.yaml", &g, err);
        pl_graph_destroy(g);
    }
    pw_conf_fini(&pl_conf_section, &c);
    return rc;
}

Test(pl_graph, builds_a_keyed_window_into_a_store)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: k, input: [telemetry], key_by: {by: [entity, channel]}}\n"
                       "  - {name: w, input: [k], window: {type: tumbling, size: 1s, "
                       "aggregates: [mean]}}\n"
                       "  - {name: s, input: [w], store: {}}\n"
                       "  - {name: l, input: [w.late], key_by: {by: [entity]}}\n", &err),
                 0, "%s", err.msg);
}

Test(pl_graph, names_an_unknown_input_with_file_and_line)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: k, input: [telemetry], key_by: {by: [entity]}}\n"
                       "  - {name: s, input: [nope], store: {}}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:5: operator 's': unknown input 'nope'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "telemetry, k, s"), "%s", err.msg);
}

Test(pl_graph, refuses_a_cycle)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: a, input: [b], filter: {}}\n"
                       "  - {name: b, input: [a], filter: {}}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:4:"), "%s", err.msg);
    cr_assert(strstr(err.msg, "cycle: 'a', 'b'"), "%s", err.msg);
}

Test(pl_graph, refuses_a_window_on_unkeyed_points)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: w, input: [telemetry], window: {type: tumbling, size: 1s, "
                       "aggregates: [mean]}}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:4: operator 'w':"), "%s", err.msg);
    cr_assert(strstr(err.msg, "key"), "%s", err.msg);
}

Test(pl_graph, refuses_a_sink_fed_with_points)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: s, input: [telemetry], store: {}}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:4: operator 's': store: input 1 carries points"),
              "%s", err.msg);
}

Test(pl_graph, wants_exactly_one_operator_per_node)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: a, input: [telemetry]}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:4: operator 'a' names no operator (give one key of: "
                              "filter, compute, key_by, window"), "%s", err.msg);
    cr_assert_eq(build("  - {name: a, input: [telemetry], filter: {}, key_by: {by: [entity]}}\n",
                       &err), PW_ECONF);
    cr_assert(strstr(err.msg, "names 2 operators"), "%s", err.msg);
}

Test(pl_graph, names_an_unknown_operator_where_it_is_written)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - name: a\n"
                       "    input: [telemetry]\n"
                       "    windw: {}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:6:5: unknown key 'windw'"), "%s", err.msg);
}

Test(pl_graph, refuses_an_unknown_port_and_a_duplicate_name)
{
    pw_err_t err = {0};
    cr_assert_eq(build("  - {name: k, input: [telemetry], key_by: {by: [entity]}}\n"
                       "  - {name: f, input: [k.late], filter: {}}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "test.yaml:5: operator 'f': input 'k.late': 'k' has no port 'late'"),
              "%s", err.msg);
    cr_assert_eq(build("  - {name: telemetry, input: [telemetry], filter: {}}\n", &err), PW_ECONF);
    cr_assert(strstr(err.msg, "the name 'telemetry' is used twice"), "%s", err.msg);
}

/* ---- running over a real log ---------------------------------------------- */

#define CARS 4
#define SIM_RATE 4400.0 /* 4 cars x 11 channels x 100 ticks/s */
#define T0_NS 1700000000000000000LL

/* One result as text, for comparing runs. */
typedef struct rlist {
    char **line;
    size_t n, cap;
} rlist_t;

static int collect(void *ctx, const pw_result_t *r)
{
    rlist_t *l = ctx;
    char json[1024];
    cr_assert_geq(pw_body_to_json(r->body, r->body_len, json, sizeof json), 0);
    char *s = NULL;
    cr_assert_geq(asprintf(&s, "%.*s %.*s %lld v%u %s", (int)r->topic_len, r->topic,
                           (int)r->key_len, r->key, (long long)r->ts_ns, r->version, json), 0);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->line = realloc(l->line, l->cap * sizeof *l->line);
    }
    l->line[l->n++] = s;
    return 0;
}

static void rlist_free(rlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    free(l->line);
    memset(l, 0, sizeof *l);
}

static void rlist_expect_equal(const rlist_t *a, const rlist_t *b)
{
    cr_assert_eq(a->n, b->n, "%zu results vs %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        cr_assert_str_eq(a->line[i], b->line[i], "result %zu differs", i);
}

/* The log in dir/log with `telemetry` of 2 partitions. */
static pw_stream_t *open_log(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/log", dir);
    st_log_opts_t o = st_log_opts_default();
    o.dir = path;
    o.map_size_mb = 256;
    o.durability = ST_LOG_NONE;
    pw_stream_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_stream_open_embedded(&o, &s, &err), 0, "%s", err.msg);
    int rc = pw_stream_topic_create(s, "telemetry", 2, NULL, &err);
    cr_assert(rc == 0 || rc == PW_EEXIST, "%s", err.msg);
    return s;
}

/* Append `seconds` of simulated race, keyed by car, in batches of ~batch. */
static void append_sim(pw_stream_t *s, ing_sim_t *sim, double seconds, size_t batch,
                       pw_points_t *all)
{
    pw_points_t b, part[2];
    pw_points_init(&b);
    pw_points_init(&part[0]);
    pw_points_init(&part[1]);
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    pw_err_t err = {0};
    int64_t until = ing_sim_next_ts(sim) + (int64_t)(seconds * PW_NS_PER_S);
    for (;;) {
        pw_points_clear(&b);
        long got = ing_sim_next(sim, until, batch, &b);
        cr_assert_geq(got, 0);
        if (got == 0)
            break;
        pw_points_clear(&part[0]);
        pw_points_clear(&part[1]);
        for (size_t i = 0; i < b.n; i++) {
            const char *name = pw_intern_name(entities, b.entity[i]);
            int32_t p = pw_stream_partition_for_key(name, strlen(name), 2);
            pw_point_t pt = {b.ts_ns[i], b.entity[i], b.channel[i], b.value[i]};
            cr_assert_eq(pw_points_push(&part[p], &pt), 0);
            if (all)
                cr_assert_eq(pw_points_push(all, &pt), 0);
        }
        for (int p = 0; p < 2; p++) {
            if (part[p].n == 0)
                continue;
            pw_stream_pos_t pos;
            cr_assert_eq(pw_codec_encode_points(&buf, &part[p], &err), 0);
            cr_assert_eq(pw_stream_append(s, "telemetry", p, NULL, 0, buf.data, buf.len, &pos,
                                          &err), 0, "%s", err.msg);
        }
    }
    cr_assert_eq(pw_stream_flush(s, 1000, NULL, &err), 0);
    pw_codec_buf_fini(&buf);
    pw_points_fini(&b);
    pw_points_fini(&part[0]);
    pw_points_fini(&part[1]);
}

static ing_sim_t *make_sim(void)
{
    ing_sim_opts_t so = {.cars = CARS, .rate_pps = SIM_RATE, .seed = 7, .start_ns = T0_NS};
    ing_sim_t *sim = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_sim_create(&so, channels, entities, &sim, &err), 0, "%s", err.msg);
    return sim;
}

static const char *GRAPH =
    "checkpoint_interval: 5ms\n"
    "sources:\n"
    "  - {name: telemetry, topic: telemetry, kind: points, disorder: 50ms, idle_timeout: 0}\n"
    "operators:\n"
    "  - {name: speed, input: [telemetry], filter: {channels: [speed_mps]}}\n"
    "  - {name: keyed, input: [speed], key_by: {by: [entity, channel]}}\n"
    "  - {name: speed_1s, input: [keyed], window: {type: tumbling, size: 1s, "
    "aggregates: [count, mean, max]}}\n"
    "  - {name: laps, input: [telemetry], filter: {channels: [lap, speed_mps]}}\n"
    "  - {name: by_car, input: [laps], key_by: {by: [entity]}}\n"
    "  - {name: lap, input: [by_car], window: {type: segment, marker: lap, channel: speed_mps, "
    "aggregates: [count, max]}}\n"
    "  - {name: out, input: [speed_1s, lap], store: {}}\n";

typedef struct run_opts {
    int workers;
    int batch_records;
    bool exit_at_end;
    const char *store_name;
    const char *graph;       /* NULL: GRAPH */
    /* Without exit_at_end: stop once this many records were read, or once
     * operator until_op has emitted until_out records. */
    uint64_t until_records;
    const char *until_op;
    uint64_t until_out;
} run_opts_t;

/* Wait (10 s at most) for the condition of ro. */
static void wait_for(pl_pipeline_t *p, const run_opts_t *ro)
{
    pl_stats_t st = {0};
    int64_t deadline = pw_mono_ns() + 10 * PW_NS_PER_S;
    for (;;) {
        cr_assert_eq(pl_pipeline_stats(p, &st), 0);
        bool ok = ro->exit_at_end ? st.done : st.records >= ro->until_records;
        for (int j = 0; ro->until_op && j < st.nops; j++)
            if (!strcmp(st.ops[j].name, ro->until_op))
                ok = st.ops[j].cnt.out >= ro->until_out;
        if (ok || st.error)
            break;
        cr_assert_lt(pw_mono_ns(), deadline, "the pipeline did not get there in 10 s");
        pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
    }
    pl_stats_fini(&st);
}

/* Run the graph over the log into dir/<store_name>; wait for the end. */
static int run_pipeline(pw_stream_t *s, const run_opts_t *ro, pw_err_t *err)
{
    char text[4096], path[128];
    snprintf(text, sizeof text, "batch_records: %d\n%s", ro->batch_records,
             ro->graph ? ro->graph : GRAPH);
    pl_conf_t c;
    cr_assert_eq(pw_conf_load_string("graph.yaml", text, strlen(text), &pl_conf_section, &c, err),
                 0, "%s", err->msg);
    snprintf(path, sizeof path, "%s/%s", dir, ro->store_name);
    st_results_opts_t so = st_results_opts_default();
    so.dir = path;
    so.map_size_mb = 64;
    so.sync = false;
    st_results_t *store = NULL;
    cr_assert_eq(st_results_open(&so, &store, err), 0, "%s", err->msg);
    pl_pipeline_opts_t po = {
        .conf = &c, .conf_path = "graph.yaml",
        .names = {channels, entities, labels},
        .stream = s, .store = store, .workers = ro->workers, .exit_at_end = ro->exit_at_end,
    };
    pl_pipeline_t *p = NULL;
    int rc = pl_pipeline_create(&po, &p, err);
    if (rc == 0)
        rc = pl_pipeline_start(p, err);
    if (rc == 0)
        wait_for(p, ro); /* then stop: a last checkpoint */
    if (p) {
        pw_err_t e2 = {0};
        int rc2 = pl_pipeline_stop(p, &e2);
        if (rc == 0 && rc2) {
            rc = rc2;
            *err = e2;
        }
    }
    pl_pipeline_destroy(p);
    st_results_close(store);
    pw_conf_fini(&pl_conf_section, &c);
    return rc;
}

static void scan_store(const char *name, const char *topic, rlist_t *out)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st_results_opts_t so = st_results_opts_default();
    so.dir = path;
    so.read_only = true;
    st_results_t *store = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&so, &store, &err), 0, "%s", err.msg);
    cr_assert_eq(st_results_scan(store, topic, NULL, INT64_MIN, INT64_MAX, collect, out, &err),
                 0, "%s", err.msg);
    st_results_close(store);
}

Test(pl_pipeline, computes_each_cars_mean_speed_per_second_as_a_naive_loop_does)
{
    pw_stream_t *s = open_log();
    ing_sim_t *sim = make_sim();
    pw_points_t all;
    pw_points_init(&all);
    append_sim(s, sim, 20.0, 440, &all);
    pw_err_t err = {0};
    run_opts_t ro = {.workers = 2, .batch_records = 100, .exit_at_end = true, .store_name = "a"};
    cr_assert_eq(run_pipeline(s, &ro, &err), 0, "%s", err.msg);

    /* The naive reference: every (car, second) of speed_mps. */
    uint32_t speed;
    cr_assert_eq(pw_intern_find(channels, "speed_mps", 9, &speed), 0);
    int checked = 0;
    for (uint32_t car = 1; car <= CARS; car++) {
        const char *name = pw_intern_name(entities, car);
        for (int64_t w = T0_NS / PW_NS_PER_S; w < T0_NS / PW_NS_PER_S + 20; w++) {
            double sum = 0, mx = -INFINITY;
            int n = 0;
            for (size_t i = 0; i < all.n; i++) {
                if (all.entity[i] != car || all.channel[i] != speed ||
                    all.ts_ns[i] / PW_NS_PER_S != w)
                    continue;
                sum += all.value[i];
                if (all.value[i] > mx)
                    mx = all.value[i];
                n++;
            }
            if (n == 0)
                continue;
            char key[64];
            snprintf(key, sizeof key, "%s/speed_mps", name);
            rlist_t got = {0};
            char path[128];
            snprintf(path, sizeof path, "%s/a", dir);
            st_results_opts_t so = st_results_opts_default();
            so.dir = path;
            so.read_only = true;
            st_results_t *store = NULL;
            cr_assert_eq(st_results_open(&so, &store, &err), 0);
            cr_assert_eq(st_results_scan(store, "speed_1s", key, (w + 1) * PW_NS_PER_S,
                                         (w + 1) * PW_NS_PER_S + 1, collect, &got, &err), 0);
            st_results_close(store);
            cr_assert_eq(got.n, 1, "%s second %lld: %zu results", key, (long long)w, got.n);
            double count = 0, mean = 0, max = 0;
            const char *body = strchr(got.line[0], '{');
            cr_assert(sscanf(strstr(body, "\"count\":"), "\"count\":%lf", &count) == 1);
            cr_assert(sscanf(strstr(body, "\"mean\":"), "\"mean\":%lf", &mean) == 1);
            cr_assert(sscanf(strstr(body, "\"max\":"), "\"max\":%lf", &max) == 1);
            cr_assert_eq((int)count, n);
            cr_assert_float_eq(mean, sum / n, 1e-9 * fabs(sum / n) + 1e-12);
            cr_assert_float_eq(max, mx, 1e-12);
            rlist_free(&got);
            checked++;
        }
    }
    cr_assert_geq(checked, CARS * 20);
    rlist_t laps = {0};
    scan_store("a", "lap", &laps);
    cr_assert_gt(laps.n, 0, "no lap results");
    rlist_free(&laps);
    pw_points_fini(&all);
    ing_sim_destroy(sim);
    pw_stream_close(s);
}

Test(pl_pipeline, gives_identical_results_whatever_the_workers_and_batch_sizes)
{
    pw_stream_t *s = open_log();
    ing_sim_t *sim = make_sim();
    append_sim(s, sim, 30.0, 440, NULL);
    pw_err_t err = {0};
    run_opts_t a = {.workers = 1, .batch_records = 37, .exit_at_end = true, .store_name = "a"};
    run_opts_t b = {.workers = 2, .batch_records = 4096, .exit_at_end = true, .store_name = "b"};
    cr_assert_eq(run_pipeline(s, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(run_pipeline(s, &b, &err), 0, "%s", err.msg);
    rlist_t ra = {0}, rb = {0};
    scan_store("a", NULL, &ra);
    scan_store("b", NULL, &rb);
    cr_assert_gt(ra.n, CARS * 25);
    rlist_expect_equal(&ra, &rb);
    rlist_free(&ra);
    rlist_free(&rb);
    ing_sim_destroy(sim);
    pw_stream_close(s);
}

Test(pl_pipeline, resumes_from_its_checkpoint_with_nothing_lost_or_doubled)
{
    pw_stream_t *s = open_log();
    ing_sim_t *sim = make_sim();
    pw_err_t err = {0};
    /* Run over the first part, stop mid-stream; more arrives; run to the end. */
    append_sim(s, sim, 15.0, 440, NULL);
    run_opts_t part = {.workers = 2, .batch_records = 64, .store_name = "resumed",
                       .until_records = 30000};
    cr_assert_eq(run_pipeline(s, &part, &err), 0, "%s", err.msg);
    append_sim(s, sim, 15.0, 440, NULL);
    part.exit_at_end = true;
    cr_assert_eq(run_pipeline(s, &part, &err), 0, "%s", err.msg);
    run_opts_t clean = {.workers = 2, .batch_records = 64, .exit_at_end = true,
                        .store_name = "clean"};
    cr_assert_eq(run_pipeline(s, &clean, &err), 0, "%s", err.msg);
    rlist_t ra = {0}, rb = {0};
    scan_store("resumed", NULL, &ra);
    scan_store("clean", NULL, &rb);
    cr_assert_gt(ra.n, CARS * 25);
    rlist_expect_equal(&ra, &rb);
    rlist_free(&ra);
    rlist_free(&rb);
    ing_sim_destroy(sim);
    pw_stream_close(s);
}

Test(pl_pipeline, refuses_a_checkpoint_of_another_graph_until_reset)
{
    pw_stream_t *s = open_log();
    ing_sim_t *sim = make_sim();
    append_sim(s, sim, 3.0, 440, NULL);
    pw_err_t err = {0};
    run_opts_t ro = {.workers = 1, .batch_records = 64, .exit_at_end = true, .store_name = "a"};
    cr_assert_eq(run_pipeline(s, &ro, &err), 0, "%s", err.msg);
    ro.workers = 2;
    cr_assert_eq(run_pipeline(s, &ro, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "--reset"), "%s", err.msg);
    ing_sim_destroy(sim);
    pw_stream_close(s);
}

Test(pl_pipeline, skips_and_counts_a_malformed_message_and_goes_on)
{
    pw_stream_t *s = open_log();
    ing_sim_t *sim = make_sim();
    append_sim(s, sim, 2.0, 440, NULL);
    pw_stream_pos_t pos;
    pw_err_t err = {0};
    cr_assert_eq(pw_stream_append(s, "telemetry", 0, NULL, 0, "\x81\xa2pw\x07", 5, &pos, &err), 0);
    append_sim(s, sim, 2.0, 440, NULL);
    run_opts_t ro = {.workers = 1, .batch_records = 64, .exit_at_end = true, .store_name = "a"};
    cr_assert_eq(run_pipeline(s, &ro, &err), 0, "%s", err.msg);
    rlist_t r = {0};
    scan_store("a", "speed_1s", &r);
    cr_assert_geq(r.n, CARS * 3, "%zu", r.n); /* the seconds after the bad message too */
    rlist_free(&r);
    ing_sim_destroy(sim);
    pw_stream_close(s);
}

/* Live: one partition silent, idle_timeout lets the other's windows fire. */
Test(pl_pipeline, an_idle_partition_stops_holding_the_watermark_back)
{
    pw_stream_t *s = open_log();
    pw_err_t err = {0};
    /* Car 1 only, all in partition 0: partition 1 stays empty. */
    uint32_t car, speed;
    cr_assert_eq(pw_intern_add(entities, "car/1", 5, &car), 0);
    cr_assert_eq(pw_intern_add(channels, "speed_mps", 9, &speed), 0);
    pw_points_t b;
    pw_points_init(&b);
    for (int i = 0; i < 300; i++) {
        pw_point_t pt = {T0_NS + i * 10 * PW_NS_PER_MS, car, speed, 50.0 + i % 7};
        cr_assert_eq(pw_points_push(&b, &pt), 0);
    }
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    cr_assert_eq(pw_codec_encode_points(&buf, &b, &err), 0);
    pw_stream_pos_t pos;
    cr_assert_eq(pw_stream_append(s, "telemetry", 0, NULL, 0, buf.data, buf.len, &pos, &err), 0);
    cr_assert_eq(pw_stream_flush(s, 1000, NULL, &err), 0);
    const char *graph =
        "checkpoint_interval: 5ms\n"
            "sources:\n"
        "  - {name: telemetry, topic: telemetry, disorder: 10ms, idle_timeout: 20ms}\n"
        "operators:\n"
        "  - {name: keyed, input: [telemetry], key_by: {by: [entity, channel]}}\n"
        "  - {name: speed_1s, input: [keyed], window: {type: tumbling, size: 1s, "
        "aggregates: [count]}}\n"
        "  - {name: out, input: [speed_1s], store: {}}\n";
    run_opts_t ro = {.workers = 1, .batch_records = 64, .exit_at_end = false,
                     .store_name = "a", .graph = graph, .until_op = "speed_1s", .until_out = 2};
    cr_assert_eq(run_pipeline(s, &ro, &err), 0, "%s", err.msg);
    rlist_t r = {0};
    scan_store("a", "speed_1s", &r);
    /* 3 s of data, watermark at 2.98 s: seconds 0 and 1 complete, not 2. */
    cr_assert_eq(r.n, 2, "%zu results", r.n);
    rlist_free(&r);
    pw_codec_buf_fini(&buf);
    pw_points_fini(&b);
    pw_stream_close(s);
}
