/*
 * bench: the benchmarks behind `pitwall bench` and `make bench`.
 *
 * Each benchmark runs a real code path of the library on simulated data
 * (the race simulator) for a bounded time or volume and reports
 * throughput and the latency of one unit of work (one batch) as
 * percentiles. Benchmarks are registered in one table; later issues add
 * their rows.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdio.h>

#include "core/pw_error.h"
#include "core/pw_hist.h"

typedef struct bench_opts {
    const char *dir;   /* scratch directory for logs (exists, writable) */
    double seconds;    /* rough time budget per benchmark */
} bench_opts_t;

typedef struct bench_result {
    double points_per_s;  /* 0 when it does not apply */
    double mb_per_s;      /* payload megabytes (1e6) per second; 0 = n/a */
    pw_hist_t lat;        /* ns per unit of work; empty = n/a */
    double ratio;         /* vs a baseline (lmdb_raw); 0 = n/a */
    char unit[32];        /* what one latency sample is ("batch of 1000") */
    char note[160];       /* anything the reader must know */
} bench_result_t;

typedef int (*bench_fn)(const bench_opts_t *opts, bench_result_t *res,
                        pw_err_t *err);

typedef struct bench_def {
    const char *name;
    const char *desc;
    bench_fn fn;
} bench_def_t;

/* The table of every benchmark, in the order they run. */
extern const bench_def_t bench_table[];
extern const size_t bench_count;

/* Points per batch in every streaming benchmark (the unit). */
#define BENCH_BATCH_POINTS 1000

/* Benchmarks, one per row of the table. */
int bench_codec_encode(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_codec_decode(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_log_append(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_log_read(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_lmdb_raw(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_lmdb_raw_read(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_sim_race(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_decode_ibt(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_decode_ngs(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_udp_ingest(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_window_10k_keys(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_window_1m_keys(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_end_to_end(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_model_fuel(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_model_pressure(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_model_events(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_hub_fanout(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_ws_latency(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);
int bench_ws_fanout(const bench_opts_t *o, bench_result_t *r, pw_err_t *err);

/*
 * Fill b with exactly n simulated race points (40 cars, 8 channels).
 * Returns 0 or an error.
 */
struct pw_points;
int bench_sim_points(struct pw_points *b, size_t n, pw_err_t *err);

/* Print one result as a table row or as a JSON line. */
void bench_print_header(FILE *f);
void bench_print_row(FILE *f, const char *name, const bench_result_t *r);
void bench_print_json(FILE *f, const char *name, const bench_result_t *r);

#endif
