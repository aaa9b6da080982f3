/*
 * Stream log benchmarks: append 1000-point batches (encoded simulator
 * output, ~24 KB each) to the embedded LMDB log with group durability,
 * read them back, and do the same with plain LMDB puts and reads
 * (store/st_rawbench) so the log's overhead is a ratio measured in the
 * same run on the same disk.
 */
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "bench/bench.h"
#include "core/pw_codec.h"
#include "core/pw_fs.h"
#include "core/pw_record.h"
#include "core/pw_stream.h"
#include "core/pw_time.h"
#include "store/st_log.h"
#include "store/st_rawbench.h"

/* Most batches one run writes (50,000 x 24 KB = 1.2 GB on disk). */
#define MAX_BATCHES 50000
/* Batches read per read call. */
#define READ_BATCHES 64

/* What log_append measured, for log_read and the raw baselines. */
static struct {
    uint64_t batches;
    size_t batch_bytes;
    double append_pps;
    double read_pps;
} last;

static void path_join(char *out, size_t n, const char *dir, const char *leaf)
{
    snprintf(out, n, "%s/%s", dir, leaf);
}

/* The options of every log in this file: group commit, a map that fits. */
static st_log_opts_t bench_opts(const char *dir, size_t batch_bytes)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.durability = ST_LOG_GROUP;
    o.group_commit_ms = 10;
    o.map_size_mb = (size_t)((double)MAX_BATCHES * (batch_bytes + 256) * 1.3 / 1048576) + 64;
    return o;
}

static int encoded_batch(pw_codec_buf_t *buf, pw_err_t *err)
{
    pw_points_t b;
    pw_points_init(&b);
    int rc = bench_sim_points(&b, BENCH_BATCH_POINTS, err);
    if (rc == 0)
        rc = pw_codec_encode_points(buf, &b, err);
    pw_points_fini(&b);
    return rc;
}

int bench_log_append(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    char dir[4096];
    path_join(dir, sizeof dir, o->dir, "log");
    pw_fs_remove_tree(dir);
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    st_log_t *log = NULL;
    int rc = encoded_batch(&buf, err);
    st_log_opts_t lo = bench_opts(dir, buf.len);
    if (rc == 0)
        rc = st_log_open(&lo, &log, err);
    if (rc == 0)
        rc = st_log_topic_create(log, "bench", 1, NULL, err);
    uint64_t n = 0;
    int64_t start = pw_mono_ns(), stop = start + (int64_t)(o->seconds * PW_NS_PER_S);
    while (rc == 0 && n < MAX_BATCHES) {
        int64_t t0 = pw_mono_ns();
        if (t0 >= stop)
            break;
        pw_stream_pos_t pos;
        rc = st_log_append(log, "bench", 0, "race", 4, buf.data, buf.len,
                           st_log_now_ns(), &pos, err);
        pw_hist_record(&r->lat, (uint64_t)(pw_mono_ns() - t0));
        n++;
    }
    if (rc == 0)
        rc = st_log_flush(log, err);
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    int crc = st_log_close(log, rc ? NULL : err);
    if (rc == 0)
        rc = crc;
    last.batches = n;
    last.batch_bytes = buf.len;
    last.append_pps = (double)n * BENCH_BATCH_POINTS / secs;
    r->points_per_s = last.append_pps;
    r->mb_per_s = (double)n * (double)buf.len / secs / 1e6;
    snprintf(r->unit, sizeof r->unit, "append of %d points", BENCH_BATCH_POINTS);
    snprintf(r->note, sizeof r->note, "%llu batches, group commit 10 ms, fsync",
             (unsigned long long)n);
    pw_codec_buf_fini(&buf);
    return rc;
}

int bench_log_read(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    (void)o;
    if (last.batches == 0)
        return pw_err_set(err, PW_EARG, "log_read reads what log_append wrote: run both");
    char dir[4096];
    path_join(dir, sizeof dir, o->dir, "log");
    st_log_opts_t lo = bench_opts(dir, last.batch_bytes);
    lo.read_only = true;
    st_log_t *log = NULL;
    st_log_reader_t *rd = NULL;
    int rc = st_log_open(&lo, &log, err);
    if (rc == 0)
        rc = st_log_reader_create(log, &rd, err);
    pw_stream_msg_t msgs[READ_BATCHES];
    uint64_t n = 0, bytes = 0, sum = 0;
    int64_t start = pw_mono_ns();
    while (rc == 0) {
        size_t got = 0;
        int64_t t0 = pw_mono_ns();
        rc = st_log_read(rd, "bench", 0, (int64_t)n, msgs, READ_BATCHES, &got, err);
        if (rc || got == 0)
            break;
        for (size_t i = 0; i < got; i++) {
            const unsigned char *p = msgs[i].payload;
            sum += p[0] + p[msgs[i].payload_len - 1];
            bytes += msgs[i].payload_len;
        }
        pw_hist_record(&r->lat, (uint64_t)(pw_mono_ns() - t0) / got);
        n += got;
    }
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    st_log_reader_destroy(rd);
    st_log_close(log, NULL);
    if (rc == 0 && n != last.batches)
        rc = pw_err_set(err, PW_ECORRUPT, "log_read: read %llu batches, wrote %llu",
                        (unsigned long long)n, (unsigned long long)last.batches);
    last.read_pps = (double)n * BENCH_BATCH_POINTS / secs;
    r->points_per_s = last.read_pps;
    r->mb_per_s = (double)bytes / secs / 1e6;
    snprintf(r->unit, sizeof r->unit, "batch, read %d at a time", READ_BATCHES);
    snprintf(r->note, sizeof r->note, "zero-copy views, checksum %llu",
             (unsigned long long)(sum & 0xffff));
    return rc;
}

/* Append exactly n copies of payload to a fresh log in dir; seconds in *secs. */
static int log_write_n(const char *dir, const pw_codec_buf_t *buf, uint64_t n, double *secs,
                       pw_err_t *err)
{
    pw_fs_remove_tree(dir);
    st_log_opts_t lo = bench_opts(dir, buf->len);
    st_log_t *log = NULL;
    int rc = st_log_open(&lo, &log, err);
    if (rc == 0)
        rc = st_log_topic_create(log, "bench", 1, NULL, err);
    int64_t start = pw_mono_ns();
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        pw_stream_pos_t pos;
        rc = st_log_append(log, "bench", 0, "race", 4, buf->data, buf->len, st_log_now_ns(),
                           &pos, err);
    }
    if (rc == 0)
        rc = st_log_flush(log, err);
    *secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    int crc = st_log_close(log, rc ? NULL : err);
    pw_fs_remove_tree(dir);
    return rc ? rc : crc;
}

/*
 * Plain LMDB puts of the same batches with the same commit cadence. The
 * ratio compares the log with them fairly: the disk is slower for whoever
 * writes second (write-back of the first), so both run twice in the order
 * raw, log, log, raw, each after a sync, and the ratio is of the sums.
 */
int bench_lmdb_raw(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    char dir[4096], logdir[4096];
    path_join(dir, sizeof dir, o->dir, "raw");
    path_join(logdir, sizeof logdir, o->dir, "ratio-log");
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    int rc = encoded_batch(&buf, err);
    uint64_t n = last.batches ? last.batches : 20000;
    st_log_opts_t lo = bench_opts(dir, buf.len);
    double raw[2] = {0, 0}, logt[2] = {0, 0};
    for (int round = 0; rc == 0 && round < 2; round++) {
        sync();
        if (round == 0) {
            pw_fs_remove_tree(dir);
            rc = st_rawbench_write(&lo, buf.data, buf.len, n, &raw[0], err);
            sync();
        }
        if (rc == 0)
            rc = log_write_n(logdir, &buf, n, &logt[round], err);
        if (rc == 0 && round == 1) {
            sync();
            pw_fs_remove_tree(dir);
            rc = st_rawbench_write(&lo, buf.data, buf.len, n, &raw[1], err);
        }
    }
    double pps = 2.0 * (double)n * BENCH_BATCH_POINTS / (raw[0] + raw[1]);
    r->points_per_s = pps;
    r->mb_per_s = 2.0 * (double)n * (double)buf.len / (raw[0] + raw[1]) / 1e6;
    r->ratio = (raw[0] + raw[1]) / (logt[0] + logt[1]);
    snprintf(r->note, sizeof r->note,
             "%llu plain puts, same cadence; ratio = log / raw throughput, "
             "runs raw-log-log-raw", (unsigned long long)n);
    pw_codec_buf_fini(&buf);
    return rc;
}

int bench_lmdb_raw_read(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    char dir[4096];
    path_join(dir, sizeof dir, o->dir, "raw");
    uint64_t n = 0, bytes = 0, sum = 0;
    double secs = 0;
    int rc = st_rawbench_read(dir, &n, &bytes, &secs, &sum, err);
    if (rc == 0 && n == 0)
        rc = pw_err_set(err, PW_EARG, "lmdb_raw_read reads what lmdb_raw wrote: run both");
    if (rc)
        return rc;
    double pps = (double)n * BENCH_BATCH_POINTS / secs;
    r->points_per_s = pps;
    r->mb_per_s = (double)bytes / secs / 1e6;
    if (last.read_pps > 0)
        r->ratio = last.read_pps / pps;
    snprintf(r->note, sizeof r->note, "one cursor; ratio = log_read / lmdb_raw_read");
    pw_fs_remove_tree(dir);
    return 0;
}
