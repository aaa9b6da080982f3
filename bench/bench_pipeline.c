/*
 * end_to_end: the race simulator appends to the embedded log at full speed
 * while the pipeline (every worker) reads it, keys it by car and channel,
 * takes 1 s tumbling means and maxima and stores the results with its
 * checkpoints. Throughput is points appended / time until the pipeline has
 * read the last of them; latency is stream append -> the message through
 * the graph, per message (the note adds append -> sink and -> store).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/pw_codec.h"
#include "core/pw_fs.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_sim.h"
#include "pipeline/pl_pipeline.h"
#include "store/st_log.h"
#include "store/st_results.h"

/* Most points one run appends (~24 bytes each in the log). */
#define E2E_MAX_POINTS 40000000ull
#define E2E_PARTITIONS 4
#define E2E_CARS 20

static const char *E2E_GRAPH =
    "workers: 0\n"
    "checkpoint_interval: 500ms\n"
    "batch_records: 1024\n"
    "sources:\n"
    "  - {name: telemetry, topic: telemetry, disorder: 10ms, idle_timeout: 500ms}\n"
    "operators:\n"
    "  - {name: keyed, input: [telemetry], key_by: {by: [entity, channel]}}\n"
    "  - {name: w1s, input: [keyed], window: {type: tumbling, size: 1s, "
    "aggregates: [mean, max]}}\n"
    "  - {name: out, input: [w1s], store: {}}\n";

/* Append the next ~max simulated points, spread by car over the partitions. */
static int append_chunk(pw_stream_t *s, ing_sim_t *sim, const int32_t *part_of,
                        pw_points_t *all, pw_points_t *part, pw_codec_buf_t *buf, size_t max,
                        uint64_t *appended, pw_err_t *err)
{
    pw_points_clear(all);
    long got = ing_sim_next(sim, INT64_MAX, max, all);
    if (got <= 0)
        return got < 0 ? pw_err_set(err, (int)got, "simulator: out of memory") : 0;
    for (int i = 0; i < E2E_PARTITIONS; i++)
        pw_points_clear(&part[i]);
    for (size_t i = 0; i < all->n; i++) {
        pw_point_t pt = {all->ts_ns[i], all->entity[i], all->channel[i], all->value[i]};
        if (pw_points_push(&part[part_of[all->entity[i] <= E2E_CARS ? all->entity[i] : 0]], &pt))
            return pw_err_set(err, PW_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < E2E_PARTITIONS && rc == 0; i++) {
        if (part[i].n == 0)
            continue;
        pw_stream_pos_t pos;
        rc = pw_codec_encode_points(buf, &part[i], err);
        if (rc == 0)
            rc = pw_stream_append(s, "telemetry", i, NULL, 0, buf->data, buf->len, &pos, err);
    }
    if (rc == 0)
        rc = pw_stream_poll(s, NULL, err);
    *appended += all->n;
    return rc;
}

/* Wait (30 s at most) until the pipeline has read `appended` records. */
static int wait_read(pl_pipeline_t *p, pl_stats_t *st, uint64_t appended, pw_err_t *err)
{
    int64_t deadline = pw_mono_ns() + 30 * PW_NS_PER_S;
    for (;;) {
        pl_pipeline_stats(p, st);
        if (st->error)
            return pw_err_set(err, st->error, "%s", st->error_msg);
        if (st->records >= appended)
            return 0;
        if (pw_mono_ns() > deadline)
            return pw_err_set(err, PW_ECAPACITY, "the pipeline read %llu of %llu points in 30 s",
                              (unsigned long long)st->records, (unsigned long long)appended);
        pw_sleep_until_ns(pw_mono_ns() + 200 * PW_NS_PER_US);
    }
}

int bench_end_to_end(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    char logdir[4096], storedir[4096];
    snprintf(logdir, sizeof logdir, "%s/e2e_log", o->dir);
    snprintf(storedir, sizeof storedir, "%s/e2e_store", o->dir);
    pw_fs_remove_tree(logdir);
    pw_fs_remove_tree(storedir);
    pw_intern_t *ch = NULL, *ent = NULL, *lab = NULL;
    pw_stream_t *s = NULL;
    st_results_t *store = NULL;
    ing_sim_t *sim = NULL;
    pl_pipeline_t *p = NULL;
    pl_conf_t c;
    pw_points_t all, part[E2E_PARTITIONS];
    pw_codec_buf_t buf;
    pl_stats_t st = {0};
    memset(&c, 0, sizeof c);
    pw_points_init(&all);
    for (int i = 0; i < E2E_PARTITIONS; i++)
        pw_points_init(&part[i]);
    pw_codec_buf_init(&buf);
    int rc = 0;
    if (pw_intern_create(4096, &ch) || pw_intern_create(4096, &ent) ||
        pw_intern_create(64, &lab))
        rc = pw_err_set(err, -12, "out of memory");
    st_log_opts_t lo = st_log_opts_default();
    lo.dir = logdir;
    lo.map_size_mb = (size_t)(E2E_MAX_POINTS * 26 / 1048576) + 256;
    if (rc == 0)
        rc = st_stream_open_embedded(&lo, &s, err);
    if (rc == 0)
        rc = pw_stream_topic_create(s, "telemetry", E2E_PARTITIONS, NULL, err);
    st_results_opts_t so = st_results_opts_default();
    so.dir = storedir;
    so.map_size_mb = 512;
    so.sync = true;
    if (rc == 0)
        rc = st_results_open(&so, &store, err);
    ing_sim_opts_t sim_o = {.cars = E2E_CARS, .rate_pps = 22e6, .seed = 1,
                            .start_ns = pw_wall_ns()};
    if (rc == 0)
        rc = ing_sim_create(&sim_o, ch, ent, &sim, err);
    if (rc == 0)
        rc = pw_conf_load_string("end_to_end", E2E_GRAPH, strlen(E2E_GRAPH), &pl_conf_section,
                                 &c, err);
    pl_pipeline_opts_t po = {.conf = &c, .conf_path = "end_to_end", .names = {ch, ent, lab},
                             .stream = s, .store = store};
    if (rc == 0)
        rc = pl_pipeline_create(&po, &p, err);
    int32_t part_of[E2E_CARS + 1] = {0};
    for (uint32_t e = 1; rc == 0 && e <= E2E_CARS; e++) {
        const char *name = pw_intern_name(ent, e);
        part_of[e] = pw_stream_partition_for_key(name, strlen(name), E2E_PARTITIONS);
    }
    if (rc == 0)
        rc = pl_pipeline_start(p, err);
    uint64_t appended = 0;
    int64_t start = pw_mono_ns(), stop = start + (int64_t)(o->seconds * PW_NS_PER_S);
    /* Phase 1, throughput: append as fast as possible, wait for the graph. */
    while (rc == 0 && appended < E2E_MAX_POINTS && pw_mono_ns() < stop)
        rc = append_chunk(s, sim, part_of, &all, part, &buf, 4 * BENCH_BATCH_POINTS, &appended,
                          err);
    if (rc == 0)
        rc = pw_stream_flush(s, 5000, NULL, err);
    if (rc == 0)
        rc = wait_read(p, &st, appended, err);
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    /* Phase 2, latency: 1 s paced at 1M points/s with the graph caught up. */
    pw_hist_t before = st.graph;
    int64_t t = pw_mono_ns(), t_end = t + PW_NS_PER_S;
    while (rc == 0 && t < t_end) {
        rc = append_chunk(s, sim, part_of, &all, part, &buf, BENCH_BATCH_POINTS, &appended, err);
        t += PW_NS_PER_MS; /* ~1000 points a ms */
        pw_sleep_until_ns(t);
    }
    if (rc == 0)
        rc = pw_stream_flush(s, 5000, NULL, err);
    if (rc == 0)
        rc = wait_read(p, &st, appended, err);
    pw_hist_t paced = st.graph;
    for (int i = 0; i < PW_HIST_BUCKETS; i++)
        paced.bucket[i] -= before.bucket[i];
    paced.count -= before.count;
    if (p) {
        pw_err_t e2 = {0};
        int rc2 = pl_pipeline_stop(p, &e2);
        if (rc == 0 && rc2) {
            rc = rc2;
            *err = e2;
        }
        pl_pipeline_stats(p, &st);
    }
    if (rc == 0 && st.records < appended)
        rc = pw_err_set(err, PW_ECAPACITY, "the pipeline read %llu of %llu points in time",
                        (unsigned long long)st.records, (unsigned long long)appended);
    if (rc == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        r->points_per_s = (double)appended / secs;
        r->lat = paced;
        snprintf(r->unit, sizeof r->unit, "append->graph at 1M/s");
        snprintf(r->note, sizeof r->note,
                 "%d workers + appender on %ld cores; %llu results stored; append->sink "
                 "p99 %.1f ms; append->store p99 %.0f ms", st.workers, cores,
                 (unsigned long long)st.results_stored,
                 (double)pw_hist_quantile(&st.e2e, 0.99) / 1e6,
                 (double)pw_hist_quantile(&st.e2e_store, 0.99) / 1e6);
    }
    pl_stats_fini(&st);
    pl_pipeline_destroy(p);
    pw_conf_fini(&pl_conf_section, &c);
    ing_sim_destroy(sim);
    st_results_close(store);
    pw_stream_close(s);
    pw_fs_remove_tree(logdir);
    pw_fs_remove_tree(storedir);
    pw_codec_buf_fini(&buf);
    pw_points_fini(&all);
    for (int i = 0; i < E2E_PARTITIONS; i++)
        pw_points_fini(&part[i]);
    pw_intern_destroy(ch);
    pw_intern_destroy(ent);
    pw_intern_destroy(lab);
    return rc;
}
