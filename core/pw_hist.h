/*
 * pw_hist: a latency histogram with fixed log-linear buckets.
 *
 * Values are nanoseconds (any uint64). Buckets are exact below 64 and
 * within 1/32 (about 3%) of the value above, in a fixed array, so recording
 * is a few instructions and never allocates: fit for the per-batch path.
 * Percentiles report the upper edge of the bucket that holds them, so a
 * reported p99 is never below the true one.
 *
 * Not thread-safe: one histogram per thread; merge to combine.
 */
#ifndef PW_HIST_H
#define PW_HIST_H

#include <stdint.h>

/* Sub-buckets per power of two (precision 1/PW_HIST_SUB). */
#define PW_HIST_SUB 32
/* Buckets needed to cover every uint64 value. */
#define PW_HIST_BUCKETS (PW_HIST_SUB * 60)

typedef struct pw_hist {
    uint64_t count;
    uint64_t min_ns;
    uint64_t max_ns;
    double sum_ns;
    uint64_t bucket[PW_HIST_BUCKETS];
} pw_hist_t;

/* Empty the histogram (caller's memory). */
void pw_hist_init(pw_hist_t *h);

/* Count one value, in ns. */
void pw_hist_record(pw_hist_t *h, uint64_t value_ns);

/* Add every count of src into dst. */
void pw_hist_merge(pw_hist_t *dst, const pw_hist_t *src);

/* Value at quantile q in [0, 1], in ns; 0 when empty. */
uint64_t pw_hist_quantile(const pw_hist_t *h, double q);

/* Mean in ns; 0 when empty. */
double pw_hist_mean(const pw_hist_t *h);

#endif
