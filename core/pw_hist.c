#include "core/pw_hist.h"

#include <string.h>

/* log2(PW_HIST_SUB): values below 2 * PW_HIST_SUB get a bucket each. */
#define SUB_BITS 5

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * PW_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SUB_BITS;
    return shift * PW_HIST_SUB + (unsigned)(v >> shift);
}

/* Largest value that falls in bucket i. */
static uint64_t bucket_upper(unsigned i)
{
    if (i < 2 * PW_HIST_SUB)
        return i;
    unsigned shift = i / PW_HIST_SUB - 1;
    uint64_t sub = i % PW_HIST_SUB + PW_HIST_SUB;
    return ((sub + 1) << shift) - 1;
}

void pw_hist_init(pw_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min_ns = UINT64_MAX;
}

void pw_hist_record(pw_hist_t *h, uint64_t v)
{
    h->bucket[bucket_of(v)]++;
    h->count++;
    h->sum_ns += (double)v;
    if (v < h->min_ns)
        h->min_ns = v;
    if (v > h->max_ns)
        h->max_ns = v;
}

void pw_hist_merge(pw_hist_t *dst, const pw_hist_t *src)
{
    for (unsigned i = 0; i < PW_HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

uint64_t pw_hist_quantile(const pw_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min_ns;
    if (q >= 1)
        return h->max_ns;
    /* The rank-th smallest value, 1-based, rounding up. */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PW_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t up = bucket_upper(i);
            return up > h->max_ns ? h->max_ns : up;
        }
    }
    return h->max_ns;
}

double pw_hist_mean(const pw_hist_t *h)
{
    return h->count ? h->sum_ns / (double)h->count : 0.0;
}
