#include "bench/bench.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "ingest/ing_sim.h"

const bench_def_t bench_table[] = {
    {"codec_encode", "encode 1000-point batches to msgpack", bench_codec_encode},
    {"codec_decode", "decode 1000-point msgpack batches", bench_codec_decode},
    {"log_append", "append 1000-point batches to the LMDB log, group durability",
     bench_log_append},
    {"log_read", "read back the batches log_append wrote", bench_log_read},
    {"lmdb_raw", "plain LMDB puts of the same batches, same commit cadence",
     bench_lmdb_raw},
    {"lmdb_raw_read", "plain LMDB cursor reads of the lmdb_raw batches",
     bench_lmdb_raw_read},
    {"sim_race", "race simulator, 20 cars x 300 channels", bench_sim_race},
    {"decode_ibt", "iRacing .ibt decoder, file in memory", bench_decode_ibt},
    {"decode_ngs", "NGS tracking decoder, files in memory", bench_decode_ngs},
    {"udp_ingest", "highest rate held with zero loss, UDP on loopback", bench_udp_ingest},
    {"window_10k_keys", "key_by + 1 s tumbling mean over 10k keys, one worker",
     bench_window_10k_keys},
    {"window_1m_keys", "key_by + 1 s tumbling mean over 1M keys, one worker",
     bench_window_1m_keys},
    {"end_to_end", "simulator -> log -> graph -> store, every worker", bench_end_to_end},
    {"model_fuel", "fuel burn operator, cost per telemetry sample", bench_model_fuel},
    {"model_pressure", "pressure alert operator, cost per 23-object frame",
     bench_model_pressure},
    {"model_events", "event classifier operator, cost per 23-object frame",
     bench_model_events},
    {"hub_fanout", "live hub: one update to 1,000 subscribed clients, rendered and taken",
     bench_hub_fanout},
    {"ws_latency", "sensor -> log -> graph -> hub -> WebSocket client at 1M points/s",
     bench_ws_latency},
    {"ws_fanout", "60 updates/s to 1,000 WebSocket clients on loopback", bench_ws_fanout},
};
const size_t bench_count = sizeof bench_table / sizeof bench_table[0];

int bench_sim_points(pw_points_t *b, size_t n, pw_err_t *err)
{
    pw_intern_t *ch = NULL, *ent = NULL;
    ing_sim_t *sim = NULL;
    int rc = pw_intern_create(64, &ch);
    if (rc == 0)
        rc = pw_intern_create(1024, &ent);
    ing_sim_opts_t o = {.cars = 40, .rate_pps = 1e6, .seed = 1, .start_ns = 0};
    if (rc == 0)
        rc = ing_sim_create(&o, ch, ent, &sim, err);
    pw_points_clear(b);
    while (rc == 0 && b->n < n) {
        long got = ing_sim_next(sim, INT64_MAX, ing_sim_tick_points(sim), b);
        if (got < 0)
            rc = (int)got;
    }
    if (rc == 0)
        b->n = n; /* whole ticks may overshoot; keep exactly n */
    ing_sim_destroy(sim);
    pw_intern_destroy(ent);
    pw_intern_destroy(ch);
    return rc;
}

void bench_print_header(FILE *f)
{
    fprintf(f, "%-14s %14s %10s %10s %10s %8s  %s\n", "name", "points/s", "MB/s",
            "p50_us", "p99_us", "ratio", "unit / note");
}

void bench_print_row(FILE *f, const char *name, const bench_result_t *r)
{
    char pps[32] = "-", mbs[32] = "-", p50[32] = "-", p99[32] = "-", ratio[32] = "-";
    if (r->points_per_s > 0)
        snprintf(pps, sizeof pps, r->points_per_s >= 1e8 ? "%.0fM" : "%.1fM",
                 r->points_per_s / 1e6);
    if (r->mb_per_s > 0)
        snprintf(mbs, sizeof mbs, "%.0f", r->mb_per_s);
    if (r->lat.count) {
        snprintf(p50, sizeof p50, "%.2f", pw_hist_quantile(&r->lat, 0.5) / 1e3);
        snprintf(p99, sizeof p99, "%.2f", pw_hist_quantile(&r->lat, 0.99) / 1e3);
    }
    if (r->ratio > 0)
        snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
    fprintf(f, "%-14s %14s %10s %10s %10s %8s  %s%s%s\n", name, pps, mbs, p50, p99,
            ratio, r->unit, r->unit[0] && r->note[0] ? "; " : "", r->note);
}

void bench_print_json(FILE *f, const char *name, const bench_result_t *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    if (r->points_per_s > 0)
        json_object_set_new(o, "points_per_s", json_integer((json_int_t)llround(r->points_per_s)));
    if (r->mb_per_s > 0)
        json_object_set_new(o, "mb_per_s", json_real(r->mb_per_s));
    if (r->lat.count) {
        json_object_set_new(o, "p50_us", json_real(pw_hist_quantile(&r->lat, 0.5) / 1e3));
        json_object_set_new(o, "p99_us", json_real(pw_hist_quantile(&r->lat, 0.99) / 1e3));
    }
    if (r->ratio > 0)
        json_object_set_new(o, "ratio", json_real(r->ratio));
    if (r->unit[0])
        json_object_set_new(o, "unit", json_string(r->unit));
    if (r->note[0])
        json_object_set_new(o, "note", json_string(r->note));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (s)
        fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
}
