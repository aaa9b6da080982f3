/*
 * Codec benchmarks: encode and decode 1000-point batches of simulated race
 * telemetry, one batch at a time, the way a source and a consumer do.
 */
#include <string.h>

#include "bench/bench.h"
#include "core/pw_codec.h"
#include "core/pw_record.h"
#include "core/pw_time.h"

/* Batches timed together per latency sample: one batch is ~1 us, close to
 * the clock's own cost, so time 16 and record the mean per batch. */
#define GROUP 16

/*
 * Distinct batches cycled through: 256 x 24 KB = 6 MB, more than the
 * caches of the machines we run on, so inputs come from memory as they do
 * from a network buffer or the log, not from L1.
 */
#define RING 256

int bench_codec_encode(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    pw_points_t b;
    static pw_codec_buf_t buf[RING];
    pw_points_init(&b);
    for (int i = 0; i < RING; i++)
        pw_codec_buf_init(&buf[i]);
    int rc = bench_sim_points(&b, BENCH_BATCH_POINTS, err);
    uint64_t batches = 0;
    int64_t start = pw_mono_ns(), stop = start + (int64_t)(o->seconds * PW_NS_PER_S);
    while (rc == 0) {
        int64_t t0 = pw_mono_ns();
        if (t0 >= stop)
            break;
        for (int i = 0; i < GROUP && rc == 0; i++)
            rc = pw_codec_encode_points(&buf[(batches + (uint64_t)i) % RING], &b, err);
        pw_hist_record(&r->lat, (uint64_t)(pw_mono_ns() - t0) / GROUP);
        batches += GROUP;
    }
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    r->points_per_s = (double)batches * BENCH_BATCH_POINTS / secs;
    r->mb_per_s = (double)batches * (double)buf[0].len / secs / 1e6;
    snprintf(r->unit, sizeof r->unit, "batch of %d", BENCH_BATCH_POINTS);
    snprintf(r->note, sizeof r->note, "%zu bytes a batch; outputs cycle through %d MB",
             buf[0].len, RING * 24 / 1000);
    for (int i = 0; i < RING; i++)
        pw_codec_buf_fini(&buf[i]);
    pw_points_fini(&b);
    return rc;
}

int bench_codec_decode(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    pw_points_t b, out;
    static pw_codec_buf_t buf[RING];
    pw_codec_decoder_t *dec = NULL;
    pw_points_init(&b);
    pw_points_init(&out);
    int rc = bench_sim_points(&b, BENCH_BATCH_POINTS, err);
    for (int i = 0; i < RING; i++) {
        pw_codec_buf_init(&buf[i]);
        if (rc == 0)
            rc = pw_codec_encode_points(&buf[i], &b, err);
    }
    if (rc == 0)
        rc = pw_codec_decoder_create(&dec);
    uint64_t batches = 0;
    int64_t start = pw_mono_ns(), stop = start + (int64_t)(o->seconds * PW_NS_PER_S);
    while (rc == 0) {
        int64_t t0 = pw_mono_ns();
        if (t0 >= stop)
            break;
        for (int i = 0; i < GROUP && rc == 0; i++) {
            const pw_codec_buf_t *in = &buf[(batches + (uint64_t)i) % RING];
            rc = pw_codec_decode_points(dec, in->data, in->len, &out, err);
        }
        pw_hist_record(&r->lat, (uint64_t)(pw_mono_ns() - t0) / GROUP);
        batches += GROUP;
    }
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    if (rc == 0 && (out.n != b.n || memcmp(out.value, b.value, b.n * sizeof *b.value)))
        rc = pw_err_set(err, PW_ECORRUPT, "codec_decode: decoded batch differs");
    r->points_per_s = (double)batches * BENCH_BATCH_POINTS / secs;
    r->mb_per_s = (double)batches * (double)buf[0].len / secs / 1e6;
    snprintf(r->unit, sizeof r->unit, "batch of %d", BENCH_BATCH_POINTS);
    snprintf(r->note, sizeof r->note, "one core; inputs cycle through %d MB", RING * 24 / 1000);
    pw_codec_decoder_destroy(dec);
    for (int i = 0; i < RING; i++)
        pw_codec_buf_fini(&buf[i]);
    pw_points_fini(&out);
    pw_points_fini(&b);
    return rc;
}
