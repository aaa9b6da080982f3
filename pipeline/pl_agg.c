/*
 * pl_agg: aggregate specs, accumulators, and their bodies and snapshots.
 */
#include "pipeline/pl_agg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pl_agg_names[PL_AGG_KINDS] = {
    "count", "sum", "mean", "min", "max", "first", "last", "stddev", "rate", "quantiles",
};

int pl_agg_spec_parse(pl_agg_spec_t *s, char *const *names, size_t n,
                      char *const *quantiles, size_t nq, pw_err_t *err)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < PL_AGG_KINDS && strcmp(names[i], pl_agg_names[k]) != 0)
            k++;
        if (k == PL_AGG_KINDS)
            return pw_err_set(err, PW_ECONF,
                              "aggregates: '%.64s' is not one of count, sum, mean, min, max, "
                              "first, last, stddev, rate, quantiles", names[i]);
        if (s->mask & (1u << k))
            return pw_err_set(err, PW_ECONF, "aggregates: '%s' is listed twice",
                              pl_agg_names[k]);
        s->mask |= 1u << k;
        s->order[s->n++] = k;
    }
    bool want_q = (s->mask & (1u << PL_AGG_QUANTILES)) != 0;
    if (want_q && nq == 0)
        return pw_err_set(err, PW_ECONF, "aggregates: 'quantiles' needs the key quantiles "
                          "(e.g. quantiles: [0.5, 0.9, 0.99])");
    if (!want_q && nq > 0)
        return pw_err_set(err, PW_ECONF, "quantiles are given but 'quantiles' is not among "
                          "the aggregates");
    if (nq > PL_AGG_MAX_QUANTILES)
        return pw_err_set(err, PW_ECONF, "quantiles: %zu values, at most %d", nq,
                          PL_AGG_MAX_QUANTILES);
    for (size_t i = 0; i < nq; i++) {
        const char *t = quantiles[i];
        char *end = NULL;
        errno = 0;
        double q = strtod(t, &end);
        if (end == t || *end != '\0' || errno != 0 || !(q > 0.0 && q < 1.0))
            return pw_err_set(err, PW_ECONF, "quantiles: '%.64s' is not a number between 0 "
                              "and 1 (exclusive)", t);
        for (int j = 0; j < s->nq; j++)
            if (s->q[j] == q)
                return pw_err_set(err, PW_ECONF, "quantiles: %g is listed twice", q);
        s->q[s->nq] = q;
        snprintf(s->qname[s->nq], sizeof s->qname[s->nq], "q%g", q * 100.0);
        s->nq++;
    }
    return 0;
}

int pl_agg_spec_fields(const pl_agg_spec_t *s)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->order[i] == PL_AGG_COUNT)
            continue;
        n += s->order[i] == PL_AGG_QUANTILES ? s->nq : 1;
    }
    return n;
}

void pl_agg_reset(pl_agg_t *a)
{
    double *v = a->values;
    uint32_t cap = a->cap;
    memset(a, 0, sizeof *a);
    a->values = v;
    a->cap = cap;
}

void pl_agg_fini(pl_agg_t *a)
{
    free(a->values);
    memset(a, 0, sizeof *a);
}

int pl_agg_reserve(pl_agg_t *a, uint32_t n)
{
    if ((uint64_t)a->nvalues + n <= a->cap)
        return 0;
    uint64_t cap = a->cap ? a->cap : 16;
    while (cap < (uint64_t)a->nvalues + n)
        cap *= 2;
    if (cap > UINT32_MAX)
        return -ENOMEM;
    double *v = realloc(a->values, (size_t)cap * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    a->values = v;
    a->cap = (uint32_t)cap;
    return 0;
}

int pl_agg_merge(pl_agg_t *dst, const pl_agg_t *src, uint32_t mask)
{
    if (src->count == 0)
        return 0;
    if ((mask & (1u << PL_AGG_QUANTILES)) && pl_agg_reserve(dst, src->nvalues))
        return -ENOMEM;
    if (dst->count == 0) {
        double *v = dst->values;
        uint32_t cap = dst->cap;
        *dst = *src;
        dst->values = v;
        dst->cap = cap;
        dst->nvalues = 0;
    } else {
        if (src->min < dst->min)
            dst->min = src->min;
        if (src->max > dst->max)
            dst->max = src->max;
        if (src->first_ts < dst->first_ts ||
            (src->first_ts == dst->first_ts && src->first < dst->first)) {
            dst->first_ts = src->first_ts;
            dst->first = src->first;
        }
        if (src->last_ts > dst->last_ts ||
            (src->last_ts == dst->last_ts && src->last > dst->last)) {
            dst->last_ts = src->last_ts;
            dst->last = src->last;
        }
        double na = (double)dst->count, nb = (double)src->count, n = na + nb;
        double delta = src->mean - dst->mean;
        dst->mean += delta * nb / n;
        dst->m2 += src->m2 + delta * delta * na * nb / n;
        dst->count += src->count;
        dst->sum += src->sum;
    }
    if (mask & (1u << PL_AGG_QUANTILES)) {
        memcpy(dst->values + dst->nvalues, src->values, src->nvalues * sizeof *src->values);
        dst->nvalues += src->nvalues;
    }
    return 0;
}

bool pl_agg_value(const pl_agg_t *a, int kind, double *out)
{
    switch (kind) {
    case PL_AGG_COUNT:
        *out = (double)a->count;
        return true;
    case PL_AGG_SUM:
        *out = a->sum;
        return true;
    case PL_AGG_MEAN:
        *out = a->count ? a->sum / (double)a->count : 0.0;
        return a->count > 0;
    case PL_AGG_MIN:
        *out = a->min;
        return a->count > 0;
    case PL_AGG_MAX:
        *out = a->max;
        return a->count > 0;
    case PL_AGG_FIRST:
        *out = a->first;
        return a->count > 0;
    case PL_AGG_LAST:
        *out = a->last;
        return a->count > 0;
    case PL_AGG_STDDEV:
        if (a->count < 2)
            return false;
        *out = sqrt(a->m2 / (double)(a->count - 1));
        return true;
    case PL_AGG_RATE:
        if (a->count < 2 || a->last_ts == a->first_ts)
            return false;
        *out = (a->last - a->first) / ((double)(a->last_ts - a->first_ts) / 1e9);
        return true;
    }
    return false;
}

static int cmp_f64(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Sort the values if they are not sorted already (a sort is order-free). */
static void sort_values(pl_agg_t *a)
{
    for (uint32_t i = 1; i < a->nvalues; i++)
        if (a->values[i] < a->values[i - 1]) {
            qsort(a->values, a->nvalues, sizeof *a->values, cmp_f64);
            return;
        }
}

bool pl_agg_quantile(pl_agg_t *a, double q, double *out)
{
    if (a->nvalues == 0)
        return false;
    sort_values(a);
    double h = (double)(a->nvalues - 1) * q;
    double lo = floor(h);
    uint32_t i = (uint32_t)lo;
    double v = a->values[i];
    if (i + 1 < a->nvalues)
        v += (h - lo) * (a->values[i + 1] - a->values[i]);
    *out = v;
    return true;
}

void pl_agg_write(pl_agg_t *a, const pl_agg_spec_t *s, pw_body_t *b)
{
    for (int i = 0; i < s->n; i++) {
        int k = s->order[i];
        double v;
        if (k == PL_AGG_COUNT)
            continue;
        if (k == PL_AGG_QUANTILES) {
            for (int j = 0; j < s->nq; j++) {
                pw_body_key(b, s->qname[j]);
                if (pl_agg_quantile(a, s->q[j], &v))
                    pw_body_f64(b, v);
                else
                    pw_body_nil(b);
            }
            continue;
        }
        pw_body_key(b, pl_agg_names[k]);
        if (pl_agg_value(a, k, &v))
            pw_body_f64(b, v);
        else
            pw_body_nil(b);
    }
}

int pl_agg_save(pl_buf_t *b, const pl_agg_t *a)
{
    int rc = 0;
    rc |= pl_buf_put_u64(b, a->count);
    rc |= pl_buf_put_f64(b, a->sum);
    rc |= pl_buf_put_f64(b, a->min);
    rc |= pl_buf_put_f64(b, a->max);
    rc |= pl_buf_put_i64(b, a->first_ts);
    rc |= pl_buf_put_i64(b, a->last_ts);
    rc |= pl_buf_put_f64(b, a->first);
    rc |= pl_buf_put_f64(b, a->last);
    rc |= pl_buf_put_f64(b, a->mean);
    rc |= pl_buf_put_f64(b, a->m2);
    rc |= pl_buf_put_u32(b, a->nvalues);
    if (a->nvalues)
        rc |= pl_buf_put(b, a->values, a->nvalues * sizeof *a->values);
    return rc ? -ENOMEM : 0;
}

int pl_agg_load(pl_rd_t *r, pl_agg_t *a)
{
    uint32_t nv = 0;
    pl_rd_u64(r, &a->count);
    pl_rd_f64(r, &a->sum);
    pl_rd_f64(r, &a->min);
    pl_rd_f64(r, &a->max);
    pl_rd_i64(r, &a->first_ts);
    pl_rd_i64(r, &a->last_ts);
    pl_rd_f64(r, &a->first);
    pl_rd_f64(r, &a->last);
    pl_rd_f64(r, &a->mean);
    pl_rd_f64(r, &a->m2);
    pl_rd_u32(r, &nv);
    if (r->failed || (uint64_t)nv * sizeof(double) > pl_rd_left(r) || nv > a->count)
        return -1;
    if (nv) {
        if (pl_agg_reserve(a, nv))
            return -ENOMEM;
        pl_rd_get(r, a->values, nv * sizeof *a->values);
        a->nvalues = nv;
    }
    return r->failed ? -1 : 0;
}
