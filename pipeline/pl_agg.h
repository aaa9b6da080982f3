/*
 * pl_agg: the aggregates a window computes over the values of its records,
 * and the accumulator that folds records into them.
 *
 * Aggregates, by the names the configuration uses:
 *   count      records folded
 *   sum        sum of the values, added in the order they were folded
 *   mean       sum / count
 *   min, max   smallest and largest value
 *   first      value of the earliest record (ties in time: the smallest
 *              value), last: value of the latest (ties: the largest), so
 *              they do not depend on the order records were folded in
 *   stddev     sample standard deviation (divisor n - 1), null for n < 2;
 *              Welford's running mean and sum of squares, merged with
 *              Chan's formula
 *   rate       (last - first) / (t_last - t_first), value units per second
 *              (a fuel level gives the burn rate, negative when it falls);
 *              null unless the records span at least two distinct times
 *   quantiles  exact quantiles of the values for each q asked, by linear
 *              interpolation between closest ranks (the "type 7" rule of R
 *              and numpy's default): sort the n values x[0..n), h = (n-1)q,
 *              x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 *              Written as "q50", "q90", "q99", "q99.9" (100 q, %g).
 * Every aggregate of an empty accumulator is null except count (0) and
 * sum (0).
 *
 * The accumulator keeps only what the asked aggregates need: values for
 * quantiles (grown geometrically, reused), the Welford pair for stddev.
 * Folding in a fixed order gives bit-identical results; the window fixes
 * that order (time, then value bits).
 *
 * Not thread-safe: an accumulator belongs to one operator instance.
 */
#ifndef PL_AGG_H
#define PL_AGG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_body.h"
#include "core/pw_error.h"
#include "pipeline/pl_batch.h"

/* The aggregates; bit (1 << kind) in a mask. */
enum pl_agg_kind {
    PL_AGG_COUNT = 0,
    PL_AGG_SUM,
    PL_AGG_MEAN,
    PL_AGG_MIN,
    PL_AGG_MAX,
    PL_AGG_FIRST,
    PL_AGG_LAST,
    PL_AGG_STDDEV,
    PL_AGG_RATE,
    PL_AGG_QUANTILES,
    PL_AGG_KINDS
};

/* Most quantiles one window computes. */
#define PL_AGG_MAX_QUANTILES 16

/* The name of an aggregate ("mean"), for messages and bodies. */
extern const char *const pl_agg_names[PL_AGG_KINDS];

/* What to compute, parsed from configuration. */
typedef struct pl_agg_spec {
    uint32_t mask;                  /* 1 << kind for each aggregate asked */
    int order[PL_AGG_KINDS];        /* aggregates in the configured order */
    int n;
    double q[PL_AGG_MAX_QUANTILES]; /* quantiles asked, in (0, 1) */
    char qname[PL_AGG_MAX_QUANTILES][16]; /* "q50" */
    int nq;
} pl_agg_spec_t;

/* Folded state. Zero-initialised memory is an empty accumulator. */
typedef struct pl_agg {
    uint64_t count;
    double sum;
    double min, max;
    int64_t first_ts, last_ts;
    double first, last;
    double mean, m2;    /* Welford: running mean, sum of squared deviations */
    double *values;     /* quantiles: every value folded, [nvalues] */
    uint32_t nvalues, cap;
} pl_agg_t;

/*
 * Parse aggregate names (e.g. a STRLIST: "mean", "max", "quantiles") and
 * quantiles given as text ("0.5", "0.99"). Fills *s. Returns 0 or PW_ECONF
 * with err naming the bad entry: an unknown or repeated aggregate,
 * quantiles asked without values or values without asking, a value that is
 * not a number in (0, 1), more than PL_AGG_MAX_QUANTILES.
 */
int pl_agg_spec_parse(pl_agg_spec_t *s, char *const *names, size_t n,
                      char *const *quantiles, size_t nq, pw_err_t *err);

/* Map entries pl_agg_write() adds to a body ("count" is the caller's). */
int pl_agg_spec_fields(const pl_agg_spec_t *s);

/* Empty a, keeping its value buffer. */
void pl_agg_reset(pl_agg_t *a);

/* Free a's value buffer; a is empty and reusable afterwards. */
void pl_agg_fini(pl_agg_t *a);

/* Grow the value buffer to hold n more values. 0 or -ENOMEM. */
int pl_agg_reserve(pl_agg_t *a, uint32_t n);

/*
 * Fold one record (time, finite value) into a. 0, or -ENOMEM when the
 * value buffer of a quantile accumulator cannot grow (a unchanged).
 */
static inline int pl_agg_add(pl_agg_t *a, uint32_t mask, int64_t ts, double v)
{
    if ((mask & (1u << PL_AGG_QUANTILES)) && a->nvalues == a->cap && pl_agg_reserve(a, 1))
        return -ENOMEM;
    if (a->count == 0) {
        a->min = a->max = v;
        a->first_ts = a->last_ts = ts;
        a->first = a->last = v;
    } else {
        if (v < a->min)
            a->min = v;
        if (v > a->max)
            a->max = v;
        if (mask & ((1u << PL_AGG_FIRST) | (1u << PL_AGG_LAST) | (1u << PL_AGG_RATE))) {
            /* Earliest (ties: smallest value) and latest (ties: largest). */
            if (ts < a->first_ts || (ts == a->first_ts && v < a->first)) {
                a->first_ts = ts;
                a->first = v;
            }
            if (ts > a->last_ts || (ts == a->last_ts && v > a->last)) {
                a->last_ts = ts;
                a->last = v;
            }
        }
    }
    a->count++;
    a->sum += v;
    if (mask & (1u << PL_AGG_STDDEV)) {
        double d = v - a->mean;
        a->mean += d / (double)a->count;
        a->m2 += d * (v - a->mean);
    }
    if (mask & (1u << PL_AGG_QUANTILES))
        a->values[a->nvalues++] = v;
    return 0;
}

/* Fold everything of src into dst (sliding windows combine panes). 0 or -ENOMEM. */
int pl_agg_merge(pl_agg_t *dst, const pl_agg_t *src, uint32_t mask);

/*
 * Append the asked aggregates (all but count) to body b as map entries, in
 * the configured order, null where undefined. Sorts a's values (quantiles);
 * a is otherwise unchanged.
 */
void pl_agg_write(pl_agg_t *a, const pl_agg_spec_t *s, pw_body_t *b);

/* The value of one aggregate (not quantiles); false when it is null. */
bool pl_agg_value(const pl_agg_t *a, int kind, double *out);

/* Quantile q of a's values (sorting them first); false when a is empty. */
bool pl_agg_quantile(pl_agg_t *a, double q, double *out);

/* Write a to a snapshot / read it back (a empty before). 0 or -ENOMEM /
 * -1 when r fails or holds nonsense. */
int pl_agg_save(pl_buf_t *b, const pl_agg_t *a);
int pl_agg_load(pl_rd_t *r, pl_agg_t *a);

#endif
