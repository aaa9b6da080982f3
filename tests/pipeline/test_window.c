/*
 * The window operator, driven the way the worker drives it: process each
 * batch with the current watermark, collect ports 0 and 1, move the
 * watermark to (max ts seen - disorder) and advance, collect again.
 *
 * Results are checked against naive reference implementations written
 * here (sort everything, group, compute each aggregate the obvious way) on
 * real NFL tracking data, on the race simulator and on random data.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "core/pw_conf.h"
#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "ingest/ing_format.h"
#include "ingest/ing_sim.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_keytab.h"
#include "pipeline/pl_op.h"
#include "pipeline/pl_window.h"

#define SEC INT64_C(1000000000)
#define MSEC INT64_C(1000000)
#define T0 (INT64_C(1700000000) * SEC) /* event times of synthetic data start here */

static pw_intern_t *g_ch, *g_ent, *g_lab;
static pl_names_t g_names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1 << 12, &g_ch), 0);
    cr_assert_eq(pw_intern_create(1 << 16, &g_ent), 0);
    cr_assert_eq(pw_intern_create(1 << 12, &g_lab), 0);
    g_names = (pl_names_t){.channels = g_ch, .entities = g_ent, .labels = g_lab};
}

static void teardown(void)
{
    pw_intern_destroy(g_ch);
    pw_intern_destroy(g_ent);
    pw_intern_destroy(g_lab);
}

TestSuite(pl_window, .init = setup, .fini = teardown, .timeout = 300);

static uint32_t intern(pw_intern_t *t, const char *name)
{
    uint32_t id;
    cr_assert_eq(pw_intern_add(t, name, strlen(name), &id), 0);
    return id;
}

/* A small deterministic generator. */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double rnd_unit(uint64_t *s)
{
    return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}

/* ---------------------------------------------------------------------------
 * Points, keyed as key_by [entity, channel] keys them.
 */

typedef struct pts {
    int64_t *ts;
    uint32_t *ent, *ch;
    double *v;
    size_t n, cap;
    int64_t *thr; /* optional, for the reference: the point counts only in
                     windows ending after thr (a late record's) */
    size_t thr_cap;
} pts_t;

static void pts_add(pts_t *p, int64_t ts, uint32_t ent, uint32_t ch, double v)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->ts = realloc(p->ts, p->cap * sizeof *p->ts);
        p->ent = realloc(p->ent, p->cap * sizeof *p->ent);
        p->ch = realloc(p->ch, p->cap * sizeof *p->ch);
        p->v = realloc(p->v, p->cap * sizeof *p->v);
        cr_assert(p->ts && p->ent && p->ch && p->v);
    }
    p->ts[p->n] = ts;
    p->ent[p->n] = ent;
    p->ch[p->n] = ch;
    p->v[p->n] = v;
    p->n++;
}

/* Set thr of point i (the array is made on first use). */
static void pts_set_thr(pts_t *p, size_t i, int64_t thr)
{
    if (p->thr_cap < p->cap) {
        p->thr_cap = p->cap;
        p->thr = realloc(p->thr, p->thr_cap * sizeof *p->thr);
        cr_assert_not_null(p->thr);
    }
    p->thr[i] = thr;
}

static void pts_free(pts_t *p)
{
    free(p->thr);
    free(p->ts);
    free(p->ent);
    free(p->ch);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* The points of p in the order of idx. */
static void pts_permute(pts_t *dst, const pts_t *p, const size_t *idx)
{
    for (size_t i = 0; i < p->n; i++)
        pts_add(dst, p->ts[idx[i]], p->ent[idx[i]], p->ch[idx[i]], p->v[idx[i]]);
}

/* ---------------------------------------------------------------------------
 * The harness: one operator instance and what came out of its ports.
 */

typedef struct res {
    int64_t ts;
    uint32_t version;
    char *topic, *key;
    uint8_t *body;
    size_t body_len;
} res_t;

typedef struct late_pt {
    int64_t ts;
    uint32_t ent, ch;
    double v;
    uint64_t key;
} late_pt_t;

typedef struct h {
    pl_window_conf_t conf;
    pl_op_t op;
    int64_t wm, max_ts, disorder;
    res_t *res;
    size_t nres, rcap;
    late_pt_t *late;
    size_t nlate, lcap;
    pl_batch_t in;
    int64_t *arr;   /* the watermark each point fed arrived at, by index */
    size_t arr_cap;
    bool corrected; /* res holds the last version of each window only */
} h_t;

static int h_try(h_t *h, const char *yaml, int64_t disorder, pw_err_t *err)
{
    memset(h, 0, sizeof *h);
    h->wm = PL_WATERMARK_MIN;
    h->max_ts = INT64_MIN;
    h->disorder = disorder;
    int rc = pw_conf_load_string("window.yaml", yaml, strlen(yaml), &pl_window_conf_section,
                                 &h->conf, err);
    if (rc)
        return rc;
    pl_port_type_t in = {PL_POINTS, true}, out[2];
    rc = pl_window_def.check(&h->conf, &in, 1, out, err);
    if (rc)
        return rc;
    h->op.def = &pl_window_def;
    h->op.name = "w";
    pl_batch_init(&h->op.out[0], out[0].kind);
    h->op.out[0].keyed = out[0].keyed;
    pl_batch_init(&h->op.out[1], out[1].kind);
    h->op.out[1].keyed = out[1].keyed;
    pl_batch_init(&h->in, PL_POINTS);
    h->in.keyed = true;
    pl_setup_t su = {.name = "w", .conf_path = "window.yaml", .names = &g_names,
                     .in = &in, .nin = 1, .workers = 1};
    return pl_window_def.init(&h->op, &h->conf, &su, err);
}

static void h_init(h_t *h, const char *yaml, int64_t disorder)
{
    pw_err_t err = {0};
    int rc = h_try(h, yaml, disorder, &err);
    cr_assert_eq(rc, 0, "%s: %s", yaml, err.msg);
}

static void h_fini(h_t *h)
{
    if (h->op.state)
        pl_window_def.close(&h->op);
    pl_batch_fini(&h->op.out[0]);
    pl_batch_fini(&h->op.out[1]);
    pl_batch_fini(&h->in);
    pw_conf_fini(&pl_window_conf_section, &h->conf);
    for (size_t i = 0; i < h->nres; i++) {
        free(h->res[i].topic);
        free(h->res[i].key);
        free(h->res[i].body);
    }
    free(h->res);
    free(h->late);
    free(h->arr);
    memset(h, 0, sizeof *h);
}

static char *dup_n(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    cr_assert_not_null(d);
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* Copy ports 0 and 1 out, then clear them, as the worker does. */
static void h_collect(h_t *h)
{
    const pw_results_t *r = &h->op.out[0].res.rec;
    for (size_t i = 0; i < r->n; i++) {
        if (h->nres == h->rcap) {
            h->rcap = h->rcap ? h->rcap * 2 : 256;
            h->res = realloc(h->res, h->rcap * sizeof *h->res);
            cr_assert_not_null(h->res);
        }
        const pw_result_t *x = &r->rec[i];
        h->res[h->nres++] = (res_t){x->ts_ns, x->version, dup_n(x->topic, x->topic_len),
                                    dup_n(x->key, x->key_len),
                                    (uint8_t *)dup_n(x->body, x->body_len), x->body_len};
    }
    const pl_batch_t *l = &h->op.out[1];
    for (size_t i = 0; i < l->pts.n; i++) {
        if (h->nlate == h->lcap) {
            h->lcap = h->lcap ? h->lcap * 2 : 64;
            h->late = realloc(h->late, h->lcap * sizeof *h->late);
            cr_assert_not_null(h->late);
        }
        h->late[h->nlate++] = (late_pt_t){l->pts.ts_ns[i], l->pts.entity[i], l->pts.channel[i],
                                          l->pts.value[i], l->keyed ? l->key[i] : 0};
    }
    h->op.cnt.out += r->n + l->pts.n;
    pl_batch_clear(&h->op.out[0]);
    pl_batch_clear(&h->op.out[1]);
}

static void h_advance(h_t *h, int64_t wm)
{
    if (wm <= h->wm)
        return;
    h->wm = wm;
    pl_ctx_t ctx = {.watermark_ns = wm, .names = &g_names};
    int rc = pl_window_def.advance(&h->op, &ctx);
    cr_assert_eq(rc, 0, "advance: %s", pw_strerror(rc));
    h_collect(h);
}

/* One batch of points [off, off + n), then the watermark the worker would give. */
static void h_batch(h_t *h, const pts_t *p, size_t off, size_t n)
{
    pl_batch_t *b = &h->in;
    pl_batch_clear(b);
    if (off + n > h->arr_cap) {
        h->arr_cap = (off + n) * 2;
        h->arr = realloc(h->arr, h->arr_cap * sizeof *h->arr);
        cr_assert_not_null(h->arr);
    }
    for (size_t i = off; i < off + n; i++)
        h->arr[i] = h->wm;
    for (size_t i = off; i < off + n; i++) {
        cr_assert_eq(pl_batch_add_point(b, p->ts[i], p->ent[i], p->ch[i], p->v[i],
                                        PL_KEY(p->ent[i], p->ch[i])), 0);
        if (p->ts[i] > h->max_ts)
            h->max_ts = p->ts[i];
    }
    pl_ctx_t ctx = {.watermark_ns = h->wm, .names = &g_names};
    int rc = pl_window_def.process(&h->op, 0, b, &ctx);
    cr_assert_eq(rc, 0, "process: %s", pw_strerror(rc));
    h->op.cnt.in += n;
    h_collect(h);
    if (h->max_ts != INT64_MIN)
        h_advance(h, h->max_ts - h->disorder);
}

/* Feed points [from, to) in batches of `batch`, or of random sizes 1..2000
 * when batch is 0 (seeded by *seed). */
static void h_feed_range(h_t *h, const pts_t *p, size_t from, size_t to, size_t batch,
                         uint64_t *seed)
{
    for (size_t off = from; off < to;) {
        size_t n = batch ? batch : 1 + (size_t)(rnd_next(seed) % 2000);
        if (n > to - off)
            n = to - off;
        h_batch(h, p, off, n);
        off += n;
    }
}

static void h_feed(h_t *h, const pts_t *p, size_t batch)
{
    uint64_t seed = 1;
    h_feed_range(h, p, 0, p->n, batch, &seed);
}

static void h_finish(h_t *h)
{
    h_advance(h, PL_WATERMARK_MAX);
}

/* Byte-identical outputs: same results (topic, key, ts, version, body) in order. */
static void assert_same_results(const h_t *a, const h_t *b, const char *what)
{
    cr_assert_eq(a->nres, b->nres, "%s: %zu results vs %zu", what, a->nres, b->nres);
    for (size_t i = 0; i < a->nres; i++) {
        const res_t *x = &a->res[i], *y = &b->res[i];
        cr_assert(x->ts == y->ts && x->version == y->version && !strcmp(x->topic, y->topic) &&
                      !strcmp(x->key, y->key) && x->body_len == y->body_len &&
                      !memcmp(x->body, y->body, x->body_len),
                  "%s: result %zu differs: %s@%" PRId64 " v%u vs %s@%" PRId64 " v%u", what, i,
                  x->key, x->ts, x->version, y->key, y->ts, y->version);
    }
}

/* The body of a result as JSON text (for exact checks and null fields). */
static const char *body_json(const res_t *r)
{
    static char buf[4096];
    cr_assert(pw_body_to_json(r->body, r->body_len, buf, sizeof buf) >= 0);
    return buf;
}

static double body_num(const res_t *r, const char *field)
{
    double v = NAN;
    cr_assert_eq(pw_body_get_f64(r->body, r->body_len, field, &v), 0,
                 "result %s@%" PRId64 " has no number '%s': %s", r->key, r->ts, field,
                 body_json(r));
    return v;
}

/* An integer field, exactly (through the JSON text: doubles lose ns). */
static int64_t body_i64(const res_t *r, const char *field)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", field);
    const char *j = body_json(r), *at = strstr(j, pat);
    cr_assert_not_null(at, "result %s@%" PRId64 " has no '%s': %s", r->key, r->ts, field, j);
    return strtoll(at + strlen(pat), NULL, 10);
}

/* The results of key, in order. */
static size_t results_of(const h_t *h, const char *key, const res_t **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nres; i++)
        if (!strcmp(h->res[i].key, key) && n < max)
            out[n++] = &h->res[i];
    return n;
}

/* ---------------------------------------------------------------------------
 * The naive reference: records of a key sorted by (ts, value bits), grouped
 * into windows, each aggregate computed the textbook way.
 */

typedef struct krec {
    uint64_t key;
    int64_t ts;
    double v;
    int64_t thr; /* counts only in windows ending after this */
} krec_t;

static uint64_t bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static int cmp_krec(const void *x, const void *y)
{
    const krec_t *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return (bits(a->v) > bits(b->v)) - (bits(a->v) < bits(b->v));
}

static int cmp_f64(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

#define MAXQ 4

typedef struct stats {
    uint64_t count;
    double sum, mean, min, max, first, last, stddev, rate;
    bool has_stddev, has_rate;
    double q[MAXQ];
} stats_t;

/* r[0..n) sorted by (ts, value bits); n > 0. */
static void ref_stats(const krec_t *r, size_t n, const double *q, int nq, stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->count = n;
    st->min = st->max = r[0].v;
    for (size_t i = 0; i < n; i++) {
        st->sum += r[i].v;
        if (r[i].v < st->min)
            st->min = r[i].v;
        if (r[i].v > st->max)
            st->max = r[i].v;
    }
    st->mean = st->sum / (double)n;
    /* Earliest (ties: smallest value) and latest (ties: largest value). */
    st->first = r[0].v;
    for (size_t i = 1; i < n && r[i].ts == r[0].ts; i++)
        if (r[i].v < st->first)
            st->first = r[i].v;
    st->last = r[n - 1].v;
    for (size_t i = n - 1; i-- > 0 && r[i].ts == r[n - 1].ts;)
        if (r[i].v > st->last)
            st->last = r[i].v;
    if (n >= 2) {
        double ss = 0;
        for (size_t i = 0; i < n; i++)
            ss += (r[i].v - st->mean) * (r[i].v - st->mean);
        st->stddev = sqrt(ss / (double)(n - 1));
        st->has_stddev = true;
    }
    if (r[n - 1].ts != r[0].ts) {
        st->rate = (st->last - st->first) / ((double)(r[n - 1].ts - r[0].ts) / 1e9);
        st->has_rate = true;
    }
    if (nq) {
        double *v = malloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++)
            v[i] = r[i].v;
        qsort(v, n, sizeof *v, cmp_f64);
        for (int j = 0; j < nq; j++) {
            double h = (double)(n - 1) * q[j];
            size_t lo = (size_t)floor(h);
            st->q[j] = lo + 1 < n ? v[lo] + (h - floor(h)) * (v[lo + 1] - v[lo]) : v[lo];
        }
        free(v);
    }
}

typedef struct expect {
    uint64_t key;
    int64_t ts, start, end;
    double duration_s; /* NAN when the window has none */
    stats_t st;
} expect_t;

typedef struct expects {
    expect_t *e;
    size_t n, cap;
} expects_t;

static void exp_add(expects_t *x, uint64_t key, int64_t ts, int64_t start, int64_t end,
                    double dur, const krec_t *r, size_t n, const double *q, int nq)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->e = realloc(x->e, x->cap * sizeof *x->e);
        cr_assert_not_null(x->e);
    }
    expect_t *e = &x->e[x->n++];
    *e = (expect_t){key, ts, start, end, dur, {0}};
    ref_stats(r, n, q, nq, &e->st);
}

/* Every record of p (channel ch, or all when ch is 0), sorted by key. */
static krec_t *ref_records(const pts_t *p, uint32_t ch, size_t *n)
{
    krec_t *r = malloc((p->n + 1) * sizeof *r);
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if ((ch == 0 || p->ch[i] == ch) && isfinite(p->v[i]))
            r[k++] = (krec_t){PL_KEY(p->ent[i], p->ch[i]), p->ts[i], p->v[i],
                              p->thr ? p->thr[i] : INT64_MIN};
    qsort(r, k, sizeof *r, cmp_krec);
    *n = k;
    return r;
}

static int64_t floor_to(int64_t ts, int64_t step)
{
    int64_t q = ts / step;
    if (ts % step != 0 && ts < 0)
        q--;
    return q * step;
}

/* Sliding windows of size every slide (tumbling: slide == size). */
static void ref_sliding(const pts_t *p, uint32_t ch, int64_t size, int64_t slide,
                        const double *q, int nq, expects_t *x)
{
    size_t n;
    krec_t *r = ref_records(p, ch, &n);
    krec_t *sel = malloc((n + 1) * sizeof *sel);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && r[b].key == r[a].key)
            b++;
        int64_t first_end = floor_to(r[a].ts, slide) + slide;
        int64_t last_end = floor_to(r[b - 1].ts, slide) + size;
        size_t lo = a, hi = a;
        for (int64_t e = first_end; e <= last_end; e += slide) {
            while (lo < b && r[lo].ts < e - size)
                lo++;
            if (lo < b && r[lo].ts >= e) { /* nothing until the window of r[lo] */
                e = floor_to(r[lo].ts, slide);
                continue;
            }
            while (hi < b && r[hi].ts < e)
                hi++;
            /* Late records count only in the windows still open to them. */
            size_t m = 0;
            for (size_t i = lo; i < hi; i++)
                if (r[i].thr < e)
                    sel[m++] = r[i];
            if (m > 0)
                exp_add(x, r[a].key, e, e - size, e, NAN, sel, m, q, nq);
        }
        a = b;
    }
    free(sel);
    free(r);
}

/* Sessions: a gap of `gap` or more between consecutive records starts a new one. */
static void ref_session(const pts_t *p, uint32_t ch, int64_t gap, const double *q, int nq,
                        expects_t *x)
{
    size_t n;
    krec_t *r = ref_records(p, ch, &n);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && r[b].key == r[a].key && r[b].ts - r[b - 1].ts < gap)
            b++;
        int64_t end = r[b - 1].ts + gap;
        exp_add(x, r[a].key, end, r[a].ts, end, (double)(r[b - 1].ts - r[a].ts) / 1e9, &r[a],
                b - a, q, nq);
        a = b;
    }
    free(r);
}

/* A segment [open, close) of a scope (an entity, or 0 for all). */
typedef struct seg {
    uint32_t scope;
    int64_t open, close;
} seg_t;

/* Segments of the records of key, from the scope's segments. */
static void ref_segment(const pts_t *p, uint32_t ch, const seg_t *segs, size_t nseg,
                        bool scope_all, const double *q, int nq, expects_t *x)
{
    size_t n;
    krec_t *r = ref_records(p, ch, &n);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && r[b].key == r[a].key)
            b++;
        uint32_t scope = scope_all ? 0 : PL_KEY_ENTITY(r[a].key);
        for (size_t s = 0; s < nseg; s++) {
            if (segs[s].scope != scope)
                continue;
            size_t lo = a;
            while (lo < b && r[lo].ts < segs[s].open)
                lo++;
            size_t hi = lo;
            while (hi < b && r[hi].ts < segs[s].close)
                hi++;
            if (hi > lo)
                exp_add(x, r[a].key, segs[s].close, segs[s].open, segs[s].close,
                        (double)(segs[s].close - segs[s].open) / 1e9, &r[lo], hi - lo, q, nq);
        }
        a = b;
    }
    free(r);
}

static void key_str(uint64_t key, char *out, size_t cap)
{
    uint32_t e = PL_KEY_ENTITY(key), c = PL_KEY_CHANNEL(key);
    snprintf(out, cap, "%s/%s", pw_intern_name(g_ent, e), pw_intern_name(g_ch, c));
}

static bool near(double a, double b)
{
    if (a == b)
        return true;
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= 1e-9 * m || fabs(a - b) <= 1e-12;
}

typedef struct rkey {
    const char *key;
    int64_t ts;
    const res_t *r;
} rkey_t;

static int cmp_rkey(const void *x, const void *y)
{
    const rkey_t *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return (a->ts > b->ts) - (a->ts < b->ts);
}

#define CHK(field, expect)                                                                \
    cr_assert(near(body_num(r, field), (expect)), "%s@%" PRId64 ": %s = %.17g, expected " \
              "%.17g", k, e->ts, field, body_num(r, field), (double)(expect))

/*
 * Every expected window has exactly one result (version 1) with the same
 * start, end, count and aggregates (1e-9 relative), and there is no other
 * result. aggs names the aggregates to compare ("mean max").
 */
static void check_expected(const h_t *h, const expects_t *x, const char *aggs, const double *q,
                           int nq)
{
    rkey_t *idx = malloc((h->nres + 1) * sizeof *idx);
    for (size_t i = 0; i < h->nres; i++)
        idx[i] = (rkey_t){h->res[i].key, h->res[i].ts, &h->res[i]};
    qsort(idx, h->nres, sizeof *idx, cmp_rkey);
    for (size_t i = 1; i < h->nres; i++)
        cr_assert(cmp_rkey(&idx[i - 1], &idx[i]) != 0, "two results for %s@%" PRId64,
                  idx[i].key, idx[i].ts);
    for (size_t i = 0; i < x->n; i++) {
        const expect_t *e = &x->e[i];
        char k[256];
        key_str(e->key, k, sizeof k);
        rkey_t probe = {k, e->ts, NULL};
        rkey_t *f = bsearch(&probe, idx, h->nres, sizeof *idx, cmp_rkey);
        cr_assert_not_null(f, "no result for %s at %" PRId64, k, e->ts);
        const res_t *r = f->r;
        cr_assert(r->version == 1 || h->corrected, "%s@%" PRId64 ": version %u", k, e->ts,
                  r->version);
        cr_assert_str_eq(r->topic, "w");
        cr_assert_eq(body_i64(r, "start_ns"), e->start, "%s@%" PRId64, k, e->ts);
        cr_assert_eq(body_i64(r, "end_ns"), e->end, "%s@%" PRId64, k, e->ts);
        cr_assert_eq((uint64_t)body_i64(r, "count"), e->st.count, "%s@%" PRId64 ": count",
                     k, e->ts);
        if (!isnan(e->duration_s))
            CHK("duration_s", e->duration_s);
        if (strstr(aggs, "sum"))
            CHK("sum", e->st.sum);
        if (strstr(aggs, "mean"))
            CHK("mean", e->st.mean);
        if (strstr(aggs, "min"))
            CHK("min", e->st.min);
        if (strstr(aggs, "max"))
            CHK("max", e->st.max);
        if (strstr(aggs, "first"))
            CHK("first", e->st.first);
        if (strstr(aggs, "last"))
            CHK("last", e->st.last);
        if (strstr(aggs, "stddev")) {
            if (e->st.has_stddev)
                CHK("stddev", e->st.stddev);
            else
                cr_assert(strstr(body_json(r), "\"stddev\":null"), "%s", body_json(r));
        }
        if (strstr(aggs, "rate")) {
            if (e->st.has_rate)
                CHK("rate", e->st.rate);
            else
                cr_assert(strstr(body_json(r), "\"rate\":null"), "%s", body_json(r));
        }
        for (int j = 0; j < nq; j++) {
            char qn[16];
            snprintf(qn, sizeof qn, "q%g", q[j] * 100);
            CHK(qn, e->st.q[j]);
        }
    }
    cr_assert_eq(h->nres, x->n, "%zu results, the reference has %zu windows", h->nres, x->n);
    free(idx);
}

static void exp_free(expects_t *x)
{
    free(x->e);
    memset(x, 0, sizeof *x);
}

/* ---------------------------------------------------------------------------
 * Real data: NFL Next Gen Stats plays (gzipped TSV), decoded by ing_ngs.
 */

#define NGS_DIR "football/ngs"
#define MIRACLE "2017_MIN_2018011401_4497.tsv.gz"

static const char *data_dir(void)
{
    const char *d = getenv("PITWALL_DATA");
    return d && *d ? d : "../shared/data";
}

static void no_data(const char *path)
{
    if (getenv("CI"))
        cr_assert_fail("%s not found: set PITWALL_DATA to the shared data directory", path);
    cr_skip_test("%s not found: set PITWALL_DATA to the shared data directory", path);
}

static int on_frames(void *ctx, const pw_frames_t *b)
{
    pw_frames_t *f = ctx;
    pw_object_t objs[256];
    for (size_t i = 0; i < b->n; i++) {
        cr_assert(b->nobj[i] <= 256);
        for (uint16_t k = 0; k < b->nobj[i]; k++) {
            size_t o = b->first[i] + k;
            objs[k] = (pw_object_t){b->entity[o], b->team[o], b->x[o], b->y[o], b->speed[o],
                                    b->orientation[o], b->direction[o]};
        }
        cr_assert_eq(pw_frames_push(f, b->ts_ns[i], b->session[i],
                                    &b->label[i * PW_FRAME_LABELS], objs, b->nobj[i]), 0);
    }
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp_play(const void *x, const void *y)
{
    const pw_frames_t *a = x, *b = y;
    return (a->ts_ns[0] > b->ts_ns[0]) - (a->ts_ns[0] < b->ts_ns[0]);
}

/*
 * Decode every every-th play of the data set (and the Minneapolis miracle),
 * sorted by time. Returns the number of plays, or -1 after skipping.
 */
static int load_plays(int every, pw_frames_t **out)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", data_dir(), NGS_DIR);
    DIR *d = opendir(dir);
    if (d == NULL) {
        no_data(dir);
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 7, ".tsv.gz") || strstr(de->d_name, "index"))
            continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    if (nn == 0) {
        free(names);
        no_data(dir);
        return -1;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    pw_frames_t *plays = calloc(nn, sizeof *plays);
    int np = 0;
    ing_names_t in = {.channels = g_ch, .entities = g_ent, .labels = g_lab};
    for (size_t i = 0; i < nn; i++) {
        if (i % (size_t)every != 0 && strcmp(names[i], MIRACLE) != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        uint8_t *data = NULL;
        size_t len = 0;
        pw_err_t err = {0};
        cr_assert_eq(ing_file_load(path, (size_t)1 << 30, &data, &len, &err), 0, "%s", err.msg);
        pw_frames_init(&plays[np]);
        ing_opts_t o = {0};
        ing_emit_t e = {.frames = on_frames, .ctx = &plays[np]};
        ing_stats_t st;
        ing_stats_init(&st);
        cr_assert_eq(ing_ngs_decode(path, data, len, &o, &in, &e, &st, &err), 0, "%s", err.msg);
        free(data);
        if (plays[np].n == 0)
            pw_frames_fini(&plays[np]);
        else
            np++;
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    qsort(plays, (size_t)np, sizeof *plays, cmp_play);
    *out = plays;
    return np;
}

/* Labels that end a play (and the test's own end-of-play marker). */
static const char *const play_close[] = {
    "tackle", "out_of_bounds", "touchdown", "qb_sack", "qb_strip_sack",
    "pass_outcome_incomplete", "pass_outcome_touchdown", "play_end",
};
#define NCLOSE (sizeof play_close / sizeof play_close[0])
#define PLAY_YAML_CLOSE \
    "[tackle, out_of_bounds, touchdown, qb_sack, qb_strip_sack, pass_outcome_incomplete, " \
    "pass_outcome_touchdown, play_end]"

typedef struct ngs {
    pts_t p;           /* speed, dist and event points in time order */
    uint32_t speed, dist, event;
    seg_t *seg;        /* plays: ball_snap to the first closing label */
    size_t nseg;
    size_t plays;
    int64_t miracle_snap, miracle_td;
    uint32_t diggs;
} ngs_t;

static int cmp_marker(const void *x, const void *y)
{
    const krec_t *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return (a->v > b->v) - (a->v < b->v);
}

/*
 * Points from the frames of every other... every play: per player (ball
 * left out) "speed" (the tracked speed, yd/s) and "dist" (yards moved since
 * the player's previous frame of the play), and per labelled frame an
 * "event" point (entity 0, value the label id), plus "play_end" after the
 * last frame. The reference plays (segments) come from the same markers.
 */
static int ngs_build(ngs_t *g, int every)
{
    memset(g, 0, sizeof *g);
    pw_frames_t *plays;
    int np = load_plays(every, &plays);
    if (np < 0)
        return -1;
    g->speed = intern(g_ch, "speed");
    g->dist = intern(g_ch, "dist");
    g->event = intern(g_ch, "event");
    uint32_t play_end = intern(g_lab, "play_end"), snap = intern(g_lab, "ball_snap");
    uint32_t close_id[NCLOSE];
    for (size_t i = 0; i < NCLOSE; i++)
        close_id[i] = intern(g_lab, play_close[i]);
    g->diggs = intern(g_ent, "nfl/2552608");
    size_t nent = pw_intern_capacity(g_ent) + 1;
    float *px = calloc(nent, sizeof *px), *py = calloc(nent, sizeof *py);
    int *seen = calloc(nent, sizeof *seen);
    krec_t *mk = NULL;
    size_t nmk = 0;
    int64_t last = INT64_MIN;
    for (int pl = 0; pl < np; pl++) {
        pw_frames_t *f = &plays[pl];
        if (f->ts_ns[0] <= last) { /* overlaps the previous play: leave it out */
            pw_frames_fini(f);
            continue;
        }
        g->plays++;
        for (size_t i = 0; i < f->n; i++) {
            int64_t ts = f->ts_ns[i];
            for (int l = 0; l < PW_FRAME_LABELS; l++) {
                uint32_t lab = f->label[i * PW_FRAME_LABELS + l];
                if (lab == PW_LABEL_NONE)
                    continue;
                pts_add(&g->p, ts, 0, g->event, lab);
                mk = realloc(mk, (nmk + 1) * sizeof *mk);
                mk[nmk++] = (krec_t){0, ts, lab, 0};
            }
            for (uint16_t k = 0; k < f->nobj[i]; k++) {
                size_t o = f->first[i] + k;
                uint32_t e = f->entity[o];
                if (f->team[o] == PW_TEAM_BALL)
                    continue;
                if (isfinite(f->speed[o]))
                    pts_add(&g->p, ts, e, g->speed, f->speed[o]);
                if (seen[e] == pl + 1 && isfinite(f->x[o]) && isfinite(px[e])) {
                    double dx = (double)f->x[o] - px[e], dy = (double)f->y[o] - py[e];
                    pts_add(&g->p, ts, e, g->dist, sqrt(dx * dx + dy * dy));
                }
                seen[e] = pl + 1;
                px[e] = f->x[o];
                py[e] = f->y[o];
            }
        }
        last = f->ts_ns[f->n - 1] + 50 * MSEC;
        pts_add(&g->p, last, 0, g->event, play_end);
        mk = realloc(mk, (nmk + 1) * sizeof *mk);
        mk[nmk++] = (krec_t){0, last, play_end, 0};
        if (f->session[0] == UINT64_C(20180114014497))
            for (size_t i = 0; i < f->n; i++)
                for (int l = 0; l < PW_FRAME_LABELS; l++) {
                    const char *name = pw_intern_name(g_lab, f->label[i * PW_FRAME_LABELS + l]);
                    if (name && !strcmp(name, "ball_snap"))
                        g->miracle_snap = f->ts_ns[i];
                    if (name && !strcmp(name, "touchdown"))
                        g->miracle_td = f->ts_ns[i];
                }
        pw_frames_fini(f);
    }
    /* The reference plays: the same state machine, written out plainly. */
    qsort(mk, nmk, sizeof *mk, cmp_marker);
    bool open = false;
    int64_t open_ts = 0;
    for (size_t i = 0; i < nmk; i++) {
        uint32_t lab = (uint32_t)mk[i].v;
        bool is_close = false;
        for (size_t c = 0; c < NCLOSE; c++)
            is_close |= close_id[c] == lab;
        if (is_close && open) {
            g->seg = realloc(g->seg, (g->nseg + 1) * sizeof *g->seg);
            g->seg[g->nseg++] = (seg_t){0, open_ts, mk[i].ts};
            open = false;
        } else if (lab == snap && !open) {
            open = true;
            open_ts = mk[i].ts;
        }
    }
    free(mk);
    free(px);
    free(py);
    free(seen);
    free(plays);
    return 0;
}

static void ngs_free(ngs_t *g)
{
    pts_free(&g->p);
    free(g->seg);
}

Test(pl_window, mean_speed_per_player_per_second_matches_the_reference_on_ngs_plays)
{
    ngs_t g;
    if (ngs_build(&g, 3))
        return;
    cr_assert_gt(g.plays, 50);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, channel: speed, aggregates: [mean, max, count]}",
           200 * MSEC);
    h_feed(&h, &g.p, 700);
    h_finish(&h);
    expects_t x = {0};
    ref_sliding(&g.p, g.speed, SEC, SEC, NULL, 0, &x);
    cr_assert_gt(x.n, 10000);
    check_expected(&h, &x, "mean max", NULL, 0);
    /* Markers and the other channel were not aggregated: counted as dropped. */
    size_t other = 0;
    for (size_t i = 0; i < g.p.n; i++)
        other += g.p.ch[i] != g.speed;
    cr_assert_eq(h.op.cnt.dropped, other);
    cr_assert_eq(h.op.cnt.late, 0);
    cr_assert_eq(h.nlate, 0);
    cr_assert_eq(h.op.cnt.keys, 0, "every key is evicted when the input ends");
    exp_free(&x);
    h_fini(&h);
    ngs_free(&g);
}

Test(pl_window, distance_per_player_per_second_matches_the_reference_on_ngs_plays)
{
    ngs_t g;
    if (ngs_build(&g, 3))
        return;
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, channel: dist, aggregates: [sum]}", 200 * MSEC);
    h_feed(&h, &g.p, 500);
    h_finish(&h);
    expects_t x = {0};
    ref_sliding(&g.p, g.dist, SEC, SEC, NULL, 0, &x);
    cr_assert_gt(x.n, 10000);
    check_expected(&h, &x, "sum", NULL, 0);
    exp_free(&x);
    h_fini(&h);
    ngs_free(&g);
}

Test(pl_window, max_speed_per_player_per_play_matches_the_reference_on_ngs_plays)
{
    ngs_t g;
    if (ngs_build(&g, 3))
        return;
    h_t h;
    h_init(&h, "{type: segment, marker: event, scope: all, open: [ball_snap], close: "
               PLAY_YAML_CLOSE ", channel: speed, aggregates: [max, mean]}",
           200 * MSEC);
    h_feed(&h, &g.p, 1000);
    h_finish(&h);
    cr_assert_gt(g.nseg, g.plays / 2, "%zu plays closed of %zu", g.nseg, g.plays);
    expects_t x = {0};
    ref_segment(&g.p, g.speed, g.seg, g.nseg, true, NULL, 0, &x);
    check_expected(&h, &x, "max mean", NULL, 0);
    /* Stefon Diggs in the Minneapolis miracle: snap to touchdown, 10.1 s. */
    cr_assert(g.miracle_snap && g.miracle_td);
    char key[64];
    snprintf(key, sizeof key, "nfl/2552608/speed");
    const res_t *r[64];
    size_t n = results_of(&h, key, r, 64);
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i]->ts == g.miracle_td) {
            found++;
            cr_assert_eq(body_i64(r[i], "start_ns"), g.miracle_snap);
            cr_assert(fabs(body_num(r[i], "duration_s") - 10.1) < 1e-9);
            cr_assert_gt(body_num(r[i], "max"), 8.0, "he outran the defence");
        }
    cr_assert_eq(found, 1);
    exp_free(&x);
    h_fini(&h);
    ngs_free(&g);
}

/* ---------------------------------------------------------------------------
 * The race simulator: per car, one point per channel per tick (50 Hz).
 */

static void sim_points(pts_t *p, uint32_t cars, double seconds, uint64_t seed)
{
    ing_sim_opts_t o = {.cars = cars, .rate_pps = cars * ING_SIM_CHANNELS * 50.0,
                        .seed = seed, .start_ns = T0};
    ing_sim_t *sim = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_sim_create(&o, g_ch, g_ent, &sim, &err), 0, "%s", err.msg);
    pw_points_t b;
    pw_points_init(&b);
    int64_t until = T0 + (int64_t)(seconds * 1e9);
    long n;
    while ((n = ing_sim_next(sim, until, 1 << 16, &b)) > 0) {
        for (size_t i = 0; i < b.n; i++)
            pts_add(p, b.ts_ns[i], b.entity[i], b.channel[i], b.value[i]);
        pw_points_clear(&b);
    }
    cr_assert_geq(n, 0);
    pw_points_fini(&b);
    ing_sim_destroy(sim);
}

/* Laps per car, naively: from a lap point to the next point whose lap differs. */
static size_t sim_laps(const pts_t *p, seg_t **out)
{
    uint32_t lap = intern(g_ch, "lap");
    size_t n;
    krec_t *r = ref_records(p, lap, &n);
    seg_t *s = NULL;
    size_t ns = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && r[b].key == r[a].key)
            b++;
        int64_t open = r[a].ts;
        for (size_t i = a + 1; i < b; i++)
            if (r[i].v != r[i - 1].v) {
                s = realloc(s, (ns + 1) * sizeof *s);
                s[ns++] = (seg_t){PL_KEY_ENTITY(r[a].key), open, r[i].ts};
                open = r[i].ts;
            }
        a = b;
    }
    free(r);
    *out = s;
    return ns;
}

#define LAPS_YAML "{type: segment, marker: lap, channel: speed_mps, aggregates: [mean, max, count]}"

Test(pl_window, lap_segments_give_the_simulator_lap_times)
{
    pts_t p = {0};
    sim_points(&p, 8, 150.0, 3);
    seg_t *laps;
    size_t nlaps = sim_laps(&p, &laps);
    cr_assert_gt(nlaps, 8 * 4, "%zu laps", nlaps);
    h_t h;
    h_init(&h, LAPS_YAML, 100 * MSEC);
    h_feed(&h, &p, 1000);
    h_finish(&h);
    expects_t x = {0};
    ref_segment(&p, intern(g_ch, "speed_mps"), laps, nlaps, false, NULL, 0, &x);
    cr_assert_eq(x.n, nlaps);
    check_expected(&h, &x, "mean max", NULL, 0);
    /* A lap of car 1 as a user reads it: key, lap time, plausible speed. */
    const res_t *r[64];
    size_t n = results_of(&h, "car/1/speed_mps", r, 64);
    cr_assert_geq(n, 4);
    for (size_t i = 1; i < n; i++) {
        double lap_s = body_num(r[i], "duration_s");
        cr_assert(lap_s > 10 && lap_s < 60, "lap time %g s", lap_s);
        cr_assert_eq(body_i64(r[i], "start_ns"), body_i64(r[i - 1], "end_ns"),
                     "laps follow each other");
    }
    exp_free(&x);
    free(laps);
    h_fini(&h);
    pts_free(&p);
}

/* ---------------------------------------------------------------------------
 * Random data: keys with bursts and pauses, values with repeats, times on a
 * 10 ms grid (so some records of a key share a time).
 */

static void random_points(pts_t *p, int nkeys, int per_key, uint64_t seed)
{
    uint32_t ch = intern(g_ch, "x");
    pts_t tmp = {0};
    for (int k = 0; k < nkeys; k++) {
        char name[32];
        snprintf(name, sizeof name, "rnd/%d", k);
        uint32_t e = intern(g_ent, name);
        int64_t t = T0 + (int64_t)(rnd_next(&seed) % 5000) * MSEC;
        for (int i = 0; i < per_key; i++) {
            double u = rnd_unit(&seed);
            t += u < 0.05 ? (int64_t)(1000 + rnd_next(&seed) % 8000) * MSEC
                          : (int64_t)(rnd_next(&seed) % 30) * 10 * MSEC;
            double v = rnd_unit(&seed) < 0.1 ? 42.0 : floor(rnd_unit(&seed) * 1e4) / 7.0 - 500;
            pts_add(&tmp, t, e, ch, v);
        }
    }
    /* Arrival in time order. */
    size_t *idx = malloc(tmp.n * sizeof *idx);
    for (size_t i = 0; i < tmp.n; i++)
        idx[i] = i;
    for (size_t i = 1; i < tmp.n; i++) { /* insertion sort by (ts, index): stable */
        size_t j = i, x = idx[i];
        while (j > 0 && tmp.ts[idx[j - 1]] > tmp.ts[x]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
    pts_permute(p, &tmp, idx);
    free(idx);
    pts_free(&tmp);
}

static const double QS[] = {0.5, 0.9, 0.99};
#define ALL_AGGS "[count, sum, mean, min, max, first, last, stddev, rate, quantiles]"
#define ALL_NAMES "sum mean min max first last stddev rate"

Test(pl_window, every_aggregate_of_tumbling_windows_matches_the_reference)
{
    pts_t p = {0};
    random_points(&p, 40, 1500, 11);
    h_t h;
    h_init(&h, "{type: tumbling, size: 2s, aggregates: " ALL_AGGS ", quantiles: [0.5, 0.9, 0.99]}",
           300 * MSEC);
    h_feed(&h, &p, 333);
    h_finish(&h);
    expects_t x = {0};
    ref_sliding(&p, 0, 2 * SEC, 2 * SEC, QS, 3, &x);
    check_expected(&h, &x, ALL_NAMES, QS, 3);
    exp_free(&x);
    h_fini(&h);
    pts_free(&p);
}

Test(pl_window, sliding_windows_match_the_reference)
{
    pts_t p = {0};
    random_points(&p, 30, 1500, 12);
    h_t h;
    h_init(&h, "{type: sliding, size: 3s, slide: 500ms, aggregates: " ALL_AGGS
               ", quantiles: [0.5, 0.9, 0.99]}", 250 * MSEC);
    h_feed(&h, &p, 500);
    h_finish(&h);
    expects_t x = {0};
    ref_sliding(&p, 0, 3 * SEC, 500 * MSEC, QS, 3, &x);
    check_expected(&h, &x, ALL_NAMES, QS, 3);
    /* Each window's results come in time order. */
    for (size_t i = 1; i < h.nres; i++)
        cr_assert_geq(h.res[i].ts, h.res[i - 1].ts);
    exp_free(&x);
    h_fini(&h);
    pts_free(&p);
}

Test(pl_window, session_windows_match_the_reference)
{
    pts_t p = {0};
    random_points(&p, 30, 1500, 13);
    h_t h;
    h_init(&h, "{type: session, gap: 1s, aggregates: " ALL_AGGS ", quantiles: [0.5, 0.9, 0.99]}",
           200 * MSEC);
    h_feed(&h, &p, 400);
    h_finish(&h);
    expects_t x = {0};
    ref_session(&p, 0, SEC, QS, 3, &x);
    cr_assert_gt(x.n, 30 * 20, "sessions of every key");
    check_expected(&h, &x, ALL_NAMES, QS, 3);
    exp_free(&x);
    h_fini(&h);
    pts_free(&p);
}

/* Points of one key "car/24/speed_mps" at times (ms after T0) with values. */
static void known_points(pts_t *p, const int64_t *ms, const double *v, size_t n)
{
    uint32_t e = intern(g_ent, "car/24"), c = intern(g_ch, "speed_mps");
    for (size_t i = 0; i < n; i++)
        pts_add(p, T0 + ms[i] * MSEC, e, c, v[i]);
}

Test(pl_window, a_window_of_known_values_gives_the_expected_body)
{
    /* 1..10 at 100 ms steps, shuffled: order of arrival must not matter. */
    int64_t ms[] = {300, 0, 900, 100, 500, 200, 800, 400, 700, 600};
    double v[] = {4, 1, 10, 2, 6, 3, 9, 5, 8, 7};
    pts_t p = {0};
    known_points(&p, ms, v, 10);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, topic: speed, aggregates: " ALL_AGGS
               ", quantiles: [0.5, 0.9, 0.25]}", SEC);
    h_feed(&h, &p, 10);
    cr_assert_eq(h.nres, 0, "nothing fires before the watermark reaches the end");
    h_finish(&h);
    cr_assert_eq(h.nres, 1);
    const res_t *r = &h.res[0];
    cr_assert_eq(r->ts, T0 + SEC);
    cr_assert_eq(r->version, 1);
    cr_assert_str_eq(r->topic, "speed");
    cr_assert_str_eq(r->key, "car/24/speed_mps");
    /* mean 5.5; sample stddev sqrt(82.5/9); rate (10 - 1) / 0.9 s = 10 per s;
     * q50 = 5.5, q90 = 9.1, q25 = 3.25 by linear interpolation. */
    char want[1024];
    snprintf(want, sizeof want,
             "{\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64 ",\"count\":10,\"sum\":55,"
             "\"mean\":5.5,\"min\":1,\"max\":10,\"first\":1,\"last\":10,"
             "\"stddev\":%.17g,\"rate\":%.17g,\"q50\":5.5,\"q90\":%.17g,\"q25\":3.25}",
             T0, T0 + SEC, sqrt(82.5 / 9), 9.0 / 0.9, 9.1);
    cr_assert_str_eq(body_json(r), want);
    h_fini(&h);
    pts_free(&p);
}

Test(pl_window, undefined_aggregates_are_null)
{
    /* One record: no stddev, no rate; two at one time: still no rate. */
    int64_t ms[] = {100, 1500, 1500};
    double v[] = {3, 1, 2};
    pts_t p = {0};
    known_points(&p, ms, v, 3);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, aggregates: [first, last, stddev, rate]}", 0);
    h_feed(&h, &p, 3);
    h_finish(&h);
    cr_assert_eq(h.nres, 2);
    char want[512];
    snprintf(want, sizeof want, "{\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64 ",\"count\":1,"
             "\"first\":3,\"last\":3,\"stddev\":null,\"rate\":null}", T0, T0 + SEC);
    cr_assert_str_eq(body_json(&h.res[0]), want);
    /* Ties in time: first is the smallest value, last the largest. */
    snprintf(want, sizeof want, "{\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64 ",\"count\":2,"
             "\"first\":1,\"last\":2,\"stddev\":%.17g,\"rate\":null}", T0 + SEC,
             T0 + 2 * SEC, sqrt(0.5));
    cr_assert_str_eq(body_json(&h.res[1]), want);
    h_fini(&h);
    pts_free(&p);
}

Test(pl_window, window_bounds_are_half_open)
{
    /* Tumbling: a record at exactly 1 s belongs to [1s, 2s). */
    int64_t ms[] = {0, 999, 1000};
    double v[] = {1, 2, 4};
    pts_t p = {0};
    known_points(&p, ms, v, 3);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, aggregates: [sum]}", 0);
    h_feed(&h, &p, 1);
    h_finish(&h);
    cr_assert_eq(h.nres, 2);
    cr_assert_eq(body_num(&h.res[0], "sum"), 3.0);
    cr_assert_eq(body_num(&h.res[1], "sum"), 4.0);
    h_fini(&h);

    /* Session: a gap of exactly `gap` starts a new session; 999 ms does not. */
    pts_free(&p);
    int64_t sms[] = {0, 999, 1999};
    known_points(&p, sms, v, 3);
    h_init(&h, "{type: session, gap: 1s, aggregates: [sum]}", 5 * SEC);
    h_feed(&h, &p, 1);
    h_finish(&h);
    cr_assert_eq(h.nres, 2);
    cr_assert_eq(h.res[0].ts, T0 + 1999 * MSEC);
    cr_assert_eq(body_num(&h.res[0], "sum"), 3.0);
    cr_assert_eq(body_num(&h.res[0], "duration_s"), 0.999);
    cr_assert_eq(h.res[1].ts, T0 + 2999 * MSEC);
    cr_assert_eq(body_num(&h.res[1], "duration_s"), 0.0);
    h_fini(&h);
    pts_free(&p);

    /* Segment: a value at the close time belongs to the next segment; with
     * open/close lists, values outside segments are dropped. */
    uint32_t e = intern(g_ent, "car/5"), lap = intern(g_ch, "lap"), spd = intern(g_ch, "speed_mps");
    pts_t s = {0};
    pts_add(&s, T0, e, lap, 1);
    pts_add(&s, T0, e, spd, 10);
    pts_add(&s, T0 + SEC, e, lap, 1); /* same lap: nothing happens */
    pts_add(&s, T0 + SEC, e, spd, 20);
    pts_add(&s, T0 + 2 * SEC, e, lap, 2);
    pts_add(&s, T0 + 2 * SEC, e, spd, 40);
    pts_add(&s, T0 + 3 * SEC, e, lap, 3);
    h_init(&h, "{type: segment, marker: lap, aggregates: [sum]}", 0);
    h_feed(&h, &s, 1);
    h_finish(&h);
    cr_assert_eq(h.nres, 2);
    cr_assert_str_eq(h.res[0].key, "car/5/speed_mps");
    cr_assert_eq(body_num(&h.res[0], "sum"), 30.0);
    cr_assert_eq(body_num(&h.res[0], "duration_s"), 2.0);
    cr_assert_eq(body_num(&h.res[1], "sum"), 40.0);
    cr_assert_eq(body_num(&h.res[1], "duration_s"), 1.0);
    cr_assert_eq(h.op.cnt.dropped, 0);
    h_fini(&h);
    pts_free(&s);

    uint32_t ev = intern(g_ch, "event"), snap = intern(g_lab, "ball_snap"),
             tackle = intern(g_lab, "tackle"), line = intern(g_lab, "line_set");
    uint32_t pl = intern(g_ent, "nfl/1");
    pts_t f = {0};
    pts_add(&f, T0, pl, spd, 1);            /* before the snap: outside */
    pts_add(&f, T0 + SEC, 0, ev, line);     /* neither opens nor closes */
    pts_add(&f, T0 + 2 * SEC, 0, ev, snap);
    pts_add(&f, T0 + 2 * SEC, pl, spd, 2);  /* at the snap: in */
    pts_add(&f, T0 + 3 * SEC, 0, ev, snap); /* already open: nothing */
    pts_add(&f, T0 + 3 * SEC, pl, spd, 3);
    pts_add(&f, T0 + 4 * SEC, 0, ev, tackle);
    pts_add(&f, T0 + 4 * SEC, pl, spd, 4);  /* at the tackle: out, outside */
    pts_add(&f, T0 + 5 * SEC, 0, ev, tackle); /* already closed: nothing */
    h_init(&h, "{type: segment, marker: event, scope: all, open: [ball_snap], close: [tackle], "
               "aggregates: [sum, first, last]}", 0);
    h_feed(&h, &f, 1);
    h_finish(&h);
    cr_assert_eq(h.nres, 1);
    cr_assert_str_eq(h.res[0].key, "nfl/1/speed_mps");
    cr_assert_eq(h.res[0].ts, T0 + 4 * SEC);
    cr_assert_eq(body_num(&h.res[0], "sum"), 5.0);
    cr_assert_eq(body_num(&h.res[0], "duration_s"), 2.0);
    cr_assert_eq(h.op.cnt.outside, 2, "between segments: not covered, not lost");
    cr_assert_eq(h.op.cnt.dropped, 0);
    h_fini(&h);
    pts_free(&f);
}

/* ---------------------------------------------------------------------------
 * Determinism: arrival order within the disorder and batch sizes change
 * nothing, to the byte.
 */

/*
 * p reordered as a source within `disorder` would deliver it: each record
 * delayed by a random fraction of disorder / 2, so none arrives after the
 * watermark (newest time seen - disorder) has passed it.
 */
static void jitter(pts_t *out, const pts_t *p, int64_t disorder, uint64_t seed)
{
    typedef struct ord {
        int64_t at;
        size_t i;
    } ord_t;
    ord_t *o = malloc(p->n * sizeof *o);
    for (size_t i = 0; i < p->n; i++)
        o[i] = (ord_t){p->ts[i] + (int64_t)(rnd_next(&seed) % (uint64_t)(disorder / 2)), i};
    /* Merge sort by (at, i): p is nearly sorted by at already. */
    ord_t *t = malloc(p->n * sizeof *t);
    for (size_t w = 1; w < p->n; w *= 2) {
        for (size_t lo = 0; lo < p->n; lo += 2 * w) {
            size_t mid = lo + w < p->n ? lo + w : p->n, hi = lo + 2 * w < p->n ? lo + 2 * w : p->n;
            size_t a = lo, b = mid, k = lo;
            while (a < mid || b < hi)
                if (b >= hi || (a < mid && (o[a].at < o[b].at ||
                                            (o[a].at == o[b].at && o[a].i < o[b].i))))
                    t[k++] = o[a++];
                else
                    t[k++] = o[b++];
        }
        ord_t *x = o;
        o = t;
        t = x;
    }
    size_t *idx = malloc(p->n * sizeof *idx);
    for (size_t i = 0; i < p->n; i++)
        idx[i] = o[i].i;
    pts_permute(out, p, idx);
    free(idx);
    free(o);
    free(t);
}

static void check_deterministic(const char *yaml, const pts_t *p, int64_t disorder)
{
    h_t base;
    h_init(&base, yaml, disorder);
    h_feed(&base, p, 1000);
    h_finish(&base);
    cr_assert_gt(base.nres, 10, "%s: %zu results", yaml, base.nres);
    cr_assert_eq(base.op.cnt.late, 0);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        pts_t q = {0};
        jitter(&q, p, disorder, seed * 77);
        h_t h;
        h_init(&h, yaml, disorder);
        uint64_t bs = seed;
        h_feed_range(&h, &q, 0, q.n, 0, &bs);
        h_finish(&h);
        cr_assert_eq(h.op.cnt.late, 0, "%s: nothing is late within the disorder", yaml);
        assert_same_results(&base, &h, yaml);
        h_fini(&h);
        pts_free(&q);
    }
    h_fini(&base);
}

Test(pl_window, results_are_byte_identical_whatever_the_batches_and_arrival_order)
{
    pts_t sim = {0}, rnd = {0};
    sim_points(&sim, 6, 70.0, 5);
    random_points(&rnd, 30, 800, 21);
    check_deterministic("{type: tumbling, size: 1s, aggregates: " ALL_AGGS
                        ", quantiles: [0.5, 0.99]}", &sim, 200 * MSEC);
    check_deterministic("{type: sliding, size: 2s, slide: 500ms, aggregates: [sum, mean, "
                        "stddev, first, last, rate]}", &sim, 200 * MSEC);
    check_deterministic("{type: session, gap: 1s, aggregates: [sum, mean, stddev, last]}",
                        &rnd, 300 * MSEC);
    check_deterministic(LAPS_YAML, &sim, 200 * MSEC);
    pts_free(&sim);
    pts_free(&rnd);
}

/* ---------------------------------------------------------------------------
 * Late records.
 */

Test(pl_window, a_late_record_within_allowed_lateness_corrects_the_window)
{
    int64_t ms[] = {100, 200, 300, 1600};
    double v[] = {10, 20, 30, 99};
    pts_t p = {0};
    known_points(&p, ms, v, 4);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, allowed_lateness: 2s, aggregates: [mean, count]}",
           100 * MSEC);
    h_feed(&h, &p, 4); /* watermark 1.5 s: [0, 1s) fired with mean 20 */
    cr_assert_eq(h.nres, 1);
    cr_assert_eq(h.res[0].version, 1);
    cr_assert_eq(body_num(&h.res[0], "mean"), 20.0);
    /* A record of [0, 1s) at watermark 1.5 s: the window fires again, version 2. */
    pts_t l = {0};
    int64_t lms[] = {900};
    double lv[] = {60};
    known_points(&l, lms, lv, 1);
    h_batch(&h, &l, 0, 1);
    cr_assert_eq(h.nres, 2, "the correction comes at the end of the call");
    const res_t *r = &h.res[1];
    cr_assert_eq(r->ts, T0 + SEC);
    cr_assert_eq(r->version, 2);
    cr_assert_str_eq(r->key, "car/24/speed_mps");
    cr_assert_eq(body_num(r, "mean"), 30.0);
    cr_assert_eq(body_i64(r, "count"), 4);
    cr_assert_eq(h.op.cnt.late, 0);
    cr_assert_eq(h.nlate, 0);
    /* Two more in one call: one more version. */
    pts_t l2 = {0};
    int64_t l2ms[] = {0, 999};
    double l2v[] = {0, 0};
    known_points(&l2, l2ms, l2v, 2);
    h_batch(&h, &l2, 0, 2);
    cr_assert_eq(h.nres, 3);
    cr_assert_eq(h.res[2].version, 3);
    cr_assert_eq(body_num(&h.res[2], "mean"), 20.0);
    h_finish(&h);
    /* [1s, 2s) fires once at the end. */
    cr_assert_eq(h.nres, 4);
    cr_assert_eq(h.res[3].ts, T0 + 2 * SEC);
    cr_assert_eq(h.res[3].version, 1);
    h_fini(&h);
    pts_free(&p);
    pts_free(&l);
    pts_free(&l2);
}

Test(pl_window, a_record_past_allowed_lateness_goes_to_the_late_port)
{
    int64_t ms[] = {100, 200, 4000};
    double v[] = {10, 20, 30};
    pts_t p = {0};
    known_points(&p, ms, v, 3);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, allowed_lateness: 2s, aggregates: [mean]}", 0);
    h_feed(&h, &p, 3); /* watermark 4 s: [0, 1s) is past 1 s + 2 s */
    cr_assert_eq(h.nres, 1);
    pts_t l = {0};
    int64_t lms[] = {500, 3500};
    double lv[] = {77, 5};
    known_points(&l, lms, lv, 2);
    h_batch(&h, &l, 0, 2);
    cr_assert_eq(h.op.cnt.late, 1);
    cr_assert_eq(h.nlate, 1);
    cr_assert_eq(h.late[0].ts, T0 + 500 * MSEC);
    cr_assert_eq(h.late[0].v, 77.0);
    cr_assert_eq(h.late[0].key, PL_KEY(intern(g_ent, "car/24"), intern(g_ch, "speed_mps")));
    /* 3.5 s is behind the watermark but its window [3s, 4s) had not fired:
     * it fires now with the record, as version 1. */
    cr_assert_eq(h.nres, 2);
    cr_assert_eq(h.res[1].ts, T0 + 4 * SEC);
    cr_assert_eq(h.res[1].version, 1);
    cr_assert_eq(body_num(&h.res[1], "mean"), 5.0);
    h_finish(&h);
    cr_assert_eq(h.nres, 3, "[4s, 5s) fires at the end");
    h_fini(&h);
    pts_free(&p);
    pts_free(&l);
}

Test(pl_window, late_records_of_sessions_and_segments)
{
    /* Session: a record inside a fired session corrects it; one that would
     * merge two fired sessions goes to late. */
    int64_t ms[] = {0, 500, 900, 2500, 3100, 9000};
    double v[] = {1, 2, 3, 4, 5, 6};
    pts_t p = {0};
    known_points(&p, ms, v, 6);
    h_t h;
    h_init(&h, "{type: session, gap: 1s, allowed_lateness: 10s, aggregates: [sum]}", 0);
    h_feed(&h, &p, 6);
    cr_assert_eq(h.nres, 2);
    cr_assert_eq(h.res[0].ts, T0 + 1900 * MSEC);
    cr_assert_eq(body_num(&h.res[0], "duration_s"), 0.9);
    pts_t l = {0};
    int64_t lms[] = {700, 1700};
    double lv[] = {10, 100};
    known_points(&l, lms, lv, 2);
    h_batch(&h, &l, 0, 2);
    cr_assert_eq(h.nres, 3);
    cr_assert_eq(h.res[2].ts, T0 + 1900 * MSEC);
    cr_assert_eq(h.res[2].version, 2);
    cr_assert_eq(body_num(&h.res[2], "sum"), 16.0);
    cr_assert_eq(h.op.cnt.late, 1, "1.7 s would join two fired sessions");
    cr_assert_eq(h.late[0].ts, T0 + 1700 * MSEC);
    h_fini(&h);
    pts_free(&p);
    pts_free(&l);

    /* Segment: a late value of a closed lap corrects it; a late marker is late. */
    uint32_t car = intern(g_ent, "car/7"), lap = intern(g_ch, "lap"),
             spd = intern(g_ch, "speed_mps");
    pts_t s = {0};
    pts_add(&s, T0, car, lap, 1);
    pts_add(&s, T0 + 100 * MSEC, car, spd, 40);
    pts_add(&s, T0 + 15 * SEC, car, lap, 2);
    pts_add(&s, T0 + 15 * SEC, car, spd, 50);
    pts_add(&s, T0 + 16 * SEC, car, spd, 50);
    h_init(&h, "{type: segment, marker: lap, channel: speed_mps, allowed_lateness: 5s, "
               "aggregates: [mean]}", 0);
    h_feed(&h, &s, 5);
    cr_assert_eq(h.nres, 1);
    cr_assert_str_eq(h.res[0].key, "car/7/speed_mps");
    cr_assert_eq(h.res[0].ts, T0 + 15 * SEC);
    cr_assert_eq(body_num(&h.res[0], "duration_s"), 15.0);
    cr_assert_eq(body_num(&h.res[0], "mean"), 40.0);
    pts_t sl = {0};
    pts_add(&sl, T0 + 14 * SEC, car, spd, 20);
    pts_add(&sl, T0 + 15500 * MSEC, car, lap, 3);
    h_batch(&h, &sl, 0, 2);
    cr_assert_eq(h.nres, 2);
    cr_assert_eq(h.res[1].version, 2);
    cr_assert_eq(body_num(&h.res[1], "mean"), 30.0);
    cr_assert_eq(h.op.cnt.late, 1);
    cr_assert_eq(h.late[0].ch, lap);
    h_finish(&h);
    cr_assert_eq(h.nres, 2, "the lap still open at the end gives no result");
    h_fini(&h);
    pts_free(&s);
    pts_free(&sl);
}

/*
 * The last version of every window, in a copy of h (results only): what a
 * store keyed by (topic, key, ts) keeps after the corrections.
 */
static int cmp_res_order(const void *x, const void *y)
{
    const res_t *a = *(res_t *const *)x, *b = *(res_t *const *)y;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    /* Same window: in emission order (pointers into one array). */
    return (a > b) - (a < b);
}

static void last_versions(const h_t *h, h_t *v)
{
    memset(v, 0, sizeof *v);
    v->corrected = true;
    v->res = calloc(h->nres + 1, sizeof *v->res);
    const res_t **o = malloc((h->nres + 1) * sizeof *o);
    for (size_t i = 0; i < h->nres; i++)
        o[i] = &h->res[i];
    qsort(o, h->nres, sizeof *o, cmp_res_order);
    for (size_t i = 0; i < h->nres; i++) {
        bool same = i > 0 && o[i]->ts == o[i - 1]->ts && !strcmp(o[i]->key, o[i - 1]->key);
        /* Versions of a window come in order, 1, 2, 3 ... */
        cr_assert_eq(o[i]->version, same ? o[i - 1]->version + 1 : 1,
                     "%s@%" PRId64 ": version %u", o[i]->key, o[i]->ts, o[i]->version);
        if (same)
            v->res[v->nres - 1] = *o[i];
        else
            v->res[v->nres++] = *o[i];
    }
    free(o);
}

static int cmp_late(const void *x, const void *y)
{
    const late_pt_t *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return (bits(a->v) > bits(b->v)) - (bits(a->v) < bits(b->v));
}

/*
 * The points of p that are not among the late ones, each with the oldest
 * window end that could still take it when it arrived (watermark - late_ns).
 */
static void without_late(const pts_t *p, const h_t *h, int64_t late_ns, pts_t *out)
{
    late_pt_t *l = malloc((h->nlate + 1) * sizeof *l);
    memcpy(l, h->late, h->nlate * sizeof *l);
    qsort(l, h->nlate, sizeof *l, cmp_late);
    bool *used = calloc(h->nlate + 1, sizeof *used);
    size_t removed = 0;
    for (size_t i = 0; i < p->n; i++) {
        late_pt_t probe = {p->ts[i], p->ent[i], p->ch[i], p->v[i], PL_KEY(p->ent[i], p->ch[i])};
        late_pt_t *f = bsearch(&probe, l, h->nlate, sizeof *l, cmp_late);
        if (f) { /* the first unused equal one */
            while (f > l && cmp_late(f - 1, &probe) == 0)
                f--;
            while (f < l + h->nlate && cmp_late(f, &probe) == 0 && used[f - l])
                f++;
            if (f < l + h->nlate && cmp_late(f, &probe) == 0) {
                used[f - l] = true;
                removed++;
                continue;
            }
        }
        pts_add(out, p->ts[i], p->ent[i], p->ch[i], p->v[i]);
        pts_set_thr(out, out->n - 1, h->arr[i] == INT64_MIN ? INT64_MIN : h->arr[i] - late_ns);
    }
    cr_assert_eq(removed, h->nlate);
    free(used);
    free(l);
}

typedef struct arrival {
    int64_t at;
    size_t i;
} arrival_t;

static int cmp_arrival(const void *x, const void *y)
{
    const arrival_t *a = x, *b = y;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* p with one record in ten delayed by 0.2 to 4 s (arrival order). */
static void delay_some(pts_t *out, const pts_t *p, uint64_t seed)
{
    arrival_t *a = malloc((p->n + 1) * sizeof *a);
    for (size_t i = 0; i < p->n; i++) {
        int64_t delay = rnd_unit(&seed) < 0.1 ? (int64_t)(200 + rnd_next(&seed) % 3800) * MSEC : 0;
        a[i] = (arrival_t){p->ts[i] + delay, i};
    }
    qsort(a, p->n, sizeof *a, cmp_arrival);
    size_t *idx = malloc((p->n + 1) * sizeof *idx);
    for (size_t i = 0; i < p->n; i++)
        idx[i] = a[i].i;
    pts_permute(out, p, idx);
    free(idx);
    free(a);
}

static void check_corrections(const char *yaml, const pts_t *p, int64_t late_ns, int kind,
                              int64_t a, int64_t b)
{
    pts_t q = {0}, kept = {0};
    delay_some(&q, p, 5);
    h_t h, v;
    h_init(&h, yaml, 100 * MSEC);
    h_feed(&h, &q, 200);
    h_finish(&h);
    cr_assert_gt(h.op.cnt.late, 10, "%s: some records are past the lateness", yaml);
    cr_assert_lt(h.op.cnt.late, q.n / 10, "%s", yaml);
    size_t corrections = 0;
    for (size_t i = 0; i < h.nres; i++)
        corrections += h.res[i].version > 1;
    cr_assert_gt(corrections, 10, "%s: %zu corrections", yaml, corrections);
    without_late(&q, &h, late_ns, &kept);
    expects_t x = {0};
    if (kind == 0) {
        ref_sliding(&kept, 0, a, b, QS, 3, &x);
    } else if (kind == 1) {
        ref_session(&kept, 0, a, QS, 3, &x);
    } else { /* laps, from the markers that were not late */
        seg_t *laps;
        size_t nlaps = sim_laps(&kept, &laps);
        ref_segment(&kept, intern(g_ch, "speed_mps"), laps, nlaps, false, QS, 3, &x);
        free(laps);
    }
    last_versions(&h, &v);
    check_expected(&v, &x, ALL_NAMES, QS, 3);
    free(v.res);
    exp_free(&x);
    h_fini(&h);
    pts_free(&q);
    pts_free(&kept);
}

Test(pl_window, the_last_versions_equal_the_reference_over_the_records_not_sent_to_late)
{
    pts_t p = {0};
    random_points(&p, 20, 1000, 51);
    check_corrections("{type: tumbling, size: 1s, allowed_lateness: 2s, aggregates: " ALL_AGGS
                      ", quantiles: [0.5, 0.9, 0.99]}", &p, 2 * SEC, 0, SEC, SEC);
    check_corrections("{type: sliding, size: 2s, slide: 500ms, allowed_lateness: 1500ms, "
                      "aggregates: " ALL_AGGS ", quantiles: [0.5, 0.9, 0.99]}", &p, 1500 * MSEC, 0,
                      2 * SEC, 500 * MSEC);
    check_corrections("{type: session, gap: 1s, allowed_lateness: 2s, aggregates: " ALL_AGGS
                      ", quantiles: [0.5, 0.9, 0.99]}", &p, 2 * SEC, 1, SEC, 0);
    pts_t sim = {0};
    sim_points(&sim, 4, 200.0, 17);
    check_corrections("{type: segment, marker: lap, channel: speed_mps, allowed_lateness: 2s, "
                      "aggregates: " ALL_AGGS ", quantiles: [0.5, 0.9, 0.99]}", &sim, 2 * SEC, 2,
                      0, 0);
    pts_free(&sim);
    pts_free(&p);
}

/* ---------------------------------------------------------------------------
 * State limits.
 */

Test(pl_window, idle_keys_are_evicted_after_their_ttl)
{
    uint32_t a = intern(g_ent, "car/1"), b = intern(g_ent, "car/2"), c = intern(g_ch, "rpm");
    pts_t p = {0};
    for (int i = 0; i < 20; i++)
        pts_add(&p, T0 + i * 100 * MSEC, a, c, i);
    for (int i = 0; i < 200; i++)
        pts_add(&p, T0 + i * 100 * MSEC, b, c, i);
    pts_t q = {0};
    jitter(&q, &p, 2, 1); /* time order */
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, ttl: 5s, aggregates: [count]}", 0);
    h_feed(&h, &q, 10);
    /* car/1's last record is at 1.9 s; the watermark is at 19.9 s. */
    cr_assert_eq(h.op.cnt.evicted, 1);
    cr_assert_eq(h.op.cnt.keys, 1);
    /* It comes back as a new key, with nothing lost. */
    pts_t r = {0};
    pts_add(&r, T0 + 20 * SEC, a, c, 1);
    h_batch(&h, &r, 0, 1);
    cr_assert_eq(h.op.cnt.keys, 2);
    h_finish(&h);
    cr_assert_eq(h.op.cnt.evicted, 3);
    cr_assert_eq(h.op.cnt.keys, 0);
    const res_t *res[64];
    cr_assert_eq(results_of(&h, "car/1/rpm", res, 64), 3);
    cr_assert_eq(results_of(&h, "car/2/rpm", res, 64), 20);
    h_fini(&h);
    pts_free(&p);
    pts_free(&q);
    pts_free(&r);
}

Test(pl_window, keys_beyond_max_keys_are_refused)
{
    uint32_t c = intern(g_ch, "rpm");
    pts_t p = {0};
    for (int i = 0; i < 10; i++)
        for (int k = 1; k <= 3; k++) {
            char name[16];
            snprintf(name, sizeof name, "car/%d", k);
            pts_add(&p, T0 + i * 100 * MSEC, intern(g_ent, name), c, k);
        }
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, max_keys: 2, aggregates: [count]}", 0);
    h_feed(&h, &p, 7);
    cr_assert_eq(h.op.cnt.keys, 2);
    cr_assert_eq(h.op.cnt.keys_refused, 10, "every record of the third key");
    cr_assert_eq(h.op.cnt.dropped, 10);
    h_finish(&h);
    const res_t *res[8];
    cr_assert_eq(results_of(&h, "car/1/rpm", res, 8), 1);
    cr_assert_eq(body_i64(res[0], "count"), 10);
    cr_assert_eq(results_of(&h, "car/2/rpm", res, 8), 1);
    cr_assert_eq(results_of(&h, "car/3/rpm", res, 8), 0);
    h_fini(&h);
    pts_free(&p);
}

Test(pl_window, other_channels_and_missing_values_are_dropped)
{
    uint32_t e = intern(g_ent, "car/9"), s = intern(g_ch, "speed_mps"),
             r = intern(g_ch, "rpm");
    pts_t p = {0};
    pts_add(&p, T0, e, s, 10);
    pts_add(&p, T0 + 1, e, r, 9000);
    pts_add(&p, T0 + 2, e, s, NAN);
    pts_add(&p, T0 + 3, e, s, INFINITY);
    pts_add(&p, T0 + 4, e, s, 20);
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, channel: speed_mps, aggregates: [mean]}", 0);
    h_feed(&h, &p, 5);
    h_finish(&h);
    cr_assert_eq(h.op.cnt.dropped, 3);
    cr_assert_eq(h.nres, 1);
    cr_assert_eq(body_num(&h.res[0], "mean"), 15.0);
    h_fini(&h);
    pts_free(&p);
}

Test(pl_window, result_keys_name_entity_and_channel)
{
    uint32_t e = intern(g_ent, "car/24"), c = intern(g_ch, "speed_mps");
    h_t h;
    h_init(&h, "{type: tumbling, size: 1s, aggregates: [count]}", 0);
    pl_batch_t *b = &h.in;
    /* entity + channel, entity only, channel only, an unknown entity id. */
    cr_assert_eq(pl_batch_add_point(b, T0, e, c, 1, PL_KEY(e, c)), 0);
    cr_assert_eq(pl_batch_add_point(b, T0, e, c, 1, PL_KEY(e, 0)), 0);
    cr_assert_eq(pl_batch_add_point(b, T0, e, c, 1, PL_KEY(0, c)), 0);
    cr_assert_eq(pl_batch_add_point(b, T0, 60000, c, 1, PL_KEY(60000, 0)), 0);
    pl_ctx_t ctx = {.watermark_ns = PL_WATERMARK_MIN, .names = &g_names};
    cr_assert_eq(pl_window_def.process(&h.op, 0, b, &ctx), 0);
    h_finish(&h);
    cr_assert_eq(h.nres, 4);
    const char *want[] = {"speed_mps", "entity/60000", "car/24", "car/24/speed_mps"};
    uint64_t order[] = {PL_KEY(0, c), PL_KEY(60000, 0), PL_KEY(e, 0), PL_KEY(e, c)};
    /* Sorted by key number at equal times: check by name, whatever the ids. */
    for (int i = 0; i < 4; i++) {
        int at = 0;
        for (int j = 0; j < 4; j++)
            at += order[j] < order[i];
        cr_assert_str_eq(h.res[at].key, want[i]);
    }
    h_fini(&h);
}

/* ---------------------------------------------------------------------------
 * Snapshots.
 */

/* Run p through yaml with a snapshot and a fresh instance at `cut`. */
static void run_with_restore(const char *yaml, const pts_t *p, int64_t disorder, size_t cut,
                             h_t *out)
{
    h_t a;
    h_init(&a, yaml, disorder);
    uint64_t seed = 9;
    h_feed_range(&a, p, 0, cut, 700, &seed);
    pl_buf_t snap;
    pl_buf_init(&snap);
    cr_assert_eq(pl_window_def.snapshot(&a.op, &snap), 0);
    h_init(out, yaml, disorder);
    pl_rd_t rd;
    pl_rd_init(&rd, snap.data, snap.len);
    pw_err_t err = {0};
    cr_assert_eq(pl_window_def.restore(&out->op, &rd, &err), 0, "%s", err.msg);
    cr_assert_eq(out->op.cnt.keys, a.op.cnt.keys);
    /* The worker restores the watermark and the sources' newest times. */
    out->wm = a.wm;
    out->max_ts = a.max_ts;
    /* What the first instance emitted comes first. */
    for (size_t i = 0; i < a.nres; i++) {
        if (out->nres == out->rcap) {
            out->rcap = out->rcap ? out->rcap * 2 : 256;
            out->res = realloc(out->res, out->rcap * sizeof *out->res);
        }
        out->res[out->nres++] = a.res[i];
    }
    a.nres = 0;
    h_feed_range(out, p, cut, p->n, 700, &seed);
    h_finish(out);
    pl_buf_fini(&snap);
    h_fini(&a);
}

static void check_restore(const char *yaml, const pts_t *p, int64_t disorder)
{
    h_t base;
    h_init(&base, yaml, disorder);
    uint64_t seed = 9;
    h_feed_range(&base, p, 0, p->n, 700, &seed);
    h_finish(&base);
    cr_assert_gt(base.nres, 5, "%s", yaml);
    for (int part = 1; part <= 3; part++) {
        size_t cut = p->n * (size_t)part / 4 / 700 * 700; /* at a batch boundary */
        h_t h;
        run_with_restore(yaml, p, disorder, cut, &h);
        assert_same_results(&base, &h, yaml);
        cr_assert_eq(h.nlate, base.nlate);
        h_fini(&h);
    }
    h_fini(&base);
}

Test(pl_window, a_restored_snapshot_continues_like_an_uninterrupted_run)
{
    pts_t sim = {0}, rnd = {0}, late = {0};
    sim_points(&sim, 5, 60.0, 8);
    random_points(&rnd, 20, 600, 31);
    /* Late records: every 50th record delayed by 1.5 s. */
    pts_t tmp = {0};
    for (size_t i = 0; i < rnd.n; i++)
        if (i % 50 != 7)
            pts_add(&tmp, rnd.ts[i], rnd.ent[i], rnd.ch[i], rnd.v[i]);
        else
            pts_add(&late, rnd.ts[i], rnd.ent[i], rnd.ch[i], rnd.v[i]);
    size_t li = 0;
    pts_t mixed = {0};
    for (size_t i = 0; i < tmp.n; i++) {
        while (li < late.n && late.ts[li] + 1500 * MSEC <= tmp.ts[i]) {
            pts_add(&mixed, late.ts[li], late.ent[li], late.ch[li], late.v[li]);
            li++;
        }
        pts_add(&mixed, tmp.ts[i], tmp.ent[i], tmp.ch[i], tmp.v[i]);
    }
    check_restore("{type: tumbling, size: 1s, allowed_lateness: 3s, aggregates: " ALL_AGGS
                  ", quantiles: [0.5]}", &mixed, 100 * MSEC);
    check_restore("{type: sliding, size: 2s, slide: 500ms, allowed_lateness: 1s, aggregates: "
                  "[mean, quantiles], quantiles: [0.9]}", &mixed, 100 * MSEC);
    check_restore("{type: session, gap: 1s, allowed_lateness: 2s, aggregates: [sum, stddev]}",
                  &mixed, 100 * MSEC);
    check_restore(LAPS_YAML, &sim, 100 * MSEC);
    check_restore("{type: segment, marker: lap, scope: all, aggregates: [max]}", &sim,
                  100 * MSEC);
    pts_free(&sim);
    pts_free(&rnd);
    pts_free(&late);
    pts_free(&tmp);
    pts_free(&mixed);
}

Test(pl_window, restore_rejects_garbage_truncation_and_other_configurations)
{
    pts_t p = {0};
    random_points(&p, 5, 100, 41);
    h_t a;
    const char *yaml = "{type: session, gap: 1s, aggregates: [sum, quantiles], quantiles: [0.5]}";
    h_init(&a, yaml, 100 * MSEC);
    h_feed_range(&a, &p, 0, p.n / 2, 50, &(uint64_t){1});
    pl_buf_t snap;
    pl_buf_init(&snap);
    cr_assert_eq(pl_window_def.snapshot(&a.op, &snap), 0);
    cr_assert_gt(a.op.cnt.keys, 0);
    size_t n0 = a.nres;
    h_t b;
    h_init(&b, yaml, 100 * MSEC);
    pw_err_t err;
    pl_rd_t rd;
    /* Every truncation. */
    for (size_t len = 0; len < snap.len; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exact size: ASan sees an overread */
        memcpy(cut, snap.data, len);
        pl_rd_init(&rd, cut, len);
        memset(&err, 0, sizeof err);
        cr_assert_eq(pl_window_def.restore(&b.op, &rd, &err), PW_ECORRUPT, "length %zu", len);
        cr_assert(strstr(err.msg, "window: ") == err.msg, "%s", err.msg);
        cr_assert_eq(b.op.cnt.keys, 0);
        free(cut);
    }
    /* Garbage, and a corrupted count. */
    uint64_t seed = 5;
    uint8_t junk[512];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rnd_next(&seed);
    pl_rd_init(&rd, junk, sizeof junk);
    cr_assert_eq(pl_window_def.restore(&b.op, &rd, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "not a window's state"), "%s", err.msg);
    uint8_t *bad = malloc(snap.len);
    memcpy(bad, snap.data, snap.len);
    memset(bad + 24, 0xff, 4); /* the scope count */
    pl_rd_init(&rd, bad, snap.len);
    cr_assert_eq(pl_window_def.restore(&b.op, &rd, &err), PW_ECORRUPT);
    free(bad);
    /* Another configuration. */
    h_t c;
    h_init(&c, "{type: session, gap: 2s, aggregates: [sum, quantiles], quantiles: [0.5]}",
           100 * MSEC);
    pl_rd_init(&rd, snap.data, snap.len);
    cr_assert_eq(pl_window_def.restore(&c.op, &rd, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "another window configuration"), "%s", err.msg);
    /* After all that, the whole snapshot still restores and the run goes on. */
    pl_rd_init(&rd, snap.data, snap.len);
    cr_assert_eq(pl_window_def.restore(&b.op, &rd, &err), 0, "%s", err.msg);
    cr_assert_eq(b.op.cnt.keys, a.op.cnt.keys);
    b.wm = a.wm;
    b.max_ts = a.max_ts;
    h_feed_range(&b, &p, p.n / 2, p.n, 50, &(uint64_t){1});
    h_feed_range(&a, &p, p.n / 2, p.n, 50, &(uint64_t){1});
    h_finish(&a);
    h_finish(&b);
    cr_assert_gt(b.nres, 0);
    cr_assert_eq(b.nres, a.nres - n0);
    for (size_t i = 0; i < b.nres; i++)
        cr_assert(a.res[n0 + i].ts == b.res[i].ts && !strcmp(a.res[n0 + i].key, b.res[i].key) &&
                  a.res[n0 + i].body_len == b.res[i].body_len &&
                  !memcmp(a.res[n0 + i].body, b.res[i].body, b.res[i].body_len));
    pl_buf_fini(&snap);
    h_fini(&a);
    h_fini(&b);
    h_fini(&c);
    pts_free(&p);
}

/* ---------------------------------------------------------------------------
 * Configuration.
 */

static void check_refuses(const char *yaml, const pl_port_type_t *in, const char *msg)
{
    pl_window_conf_t c;
    pw_err_t err = {0};
    int rc = pw_conf_load_string("w.yaml", yaml, strlen(yaml), &pl_window_conf_section, &c, &err);
    cr_assert_eq(rc, 0, "%s: %s", yaml, err.msg);
    pl_port_type_t keyed = {PL_POINTS, true}, out[2];
    rc = pl_window_def.check(&c, in ? in : &keyed, 1, out, &err);
    cr_assert_eq(rc, PW_ECONF, "%s: accepted", yaml);
    cr_assert(strstr(err.msg, msg), "%s: message '%s' lacks '%s'", yaml, err.msg, msg);
    pw_conf_fini(&pl_window_conf_section, &c);
}

Test(pl_window, check_refuses_bad_inputs_and_key_combinations)
{
    pl_port_type_t unkeyed = {PL_POINTS, false}, frames = {PL_FRAMES, true};
    const char *ok = "{type: tumbling, size: 1s}";
    check_refuses(ok, &unkeyed, "window needs keyed points: put a key_by before it");
    check_refuses(ok, &frames, "window needs keyed points: put a key_by before it");
    check_refuses("{type: tumbling}", NULL, "a tumbling window needs size");
    check_refuses("{type: sliding, size: 10s}", NULL, "a sliding window needs slide");
    check_refuses("{type: sliding, size: 10s, slide: 3s}", NULL,
                  "size (10000ms) must be a multiple of slide (3000ms)");
    check_refuses("{type: tumbling, size: 1s, slide: 1s}", NULL, "slide is for sliding windows");
    check_refuses("{type: session}", NULL, "a session window needs gap");
    check_refuses("{type: tumbling, size: 1s, gap: 5s}", NULL, "gap is for session windows");
    check_refuses("{type: session, gap: 5s, size: 1s}", NULL,
                  "size is for tumbling and sliding windows");
    check_refuses("{type: segment}", NULL, "a segment window needs marker");
    check_refuses("{type: tumbling, size: 1s, marker: lap}", NULL,
                  "marker is for segment windows");
    check_refuses("{type: segment, marker: event, open: [ball_snap]}", NULL,
                  "open is given without close");
    check_refuses("{type: segment, marker: event, close: [tackle]}", NULL,
                  "close is given without open");
    check_refuses("{type: segment, marker: lap, channel: lap}", NULL, "is the marker");
    check_refuses("{type: tumbling, size: 1s, scope: all}", NULL,
                  "scope is for segment windows");
    check_refuses("{type: tumbling, size: 1s, aggregates: [mean, median]}", NULL,
                  "'median' is not one of count, sum, mean");
    check_refuses("{type: tumbling, size: 1s, aggregates: [mean, mean]}", NULL,
                  "'mean' is listed twice");
    check_refuses("{type: tumbling, size: 1s, aggregates: [quantiles]}", NULL,
                  "'quantiles' needs the key quantiles");
    check_refuses("{type: tumbling, size: 1s, aggregates: [quantiles], quantiles: [0.5, 1.5]}",
                  NULL, "'1.5' is not a number between 0 and 1");
    check_refuses("{type: tumbling, size: 1s, aggregates: [quantiles], quantiles: [median]}",
                  NULL, "'median' is not a number");
    check_refuses("{type: tumbling, size: 1s, quantiles: [0.5]}", NULL,
                  "quantiles are given but 'quantiles' is not among the aggregates");
    check_refuses("{type: tumbling, size: 10m, ttl: 1m}", NULL,
                  "ttl (60000ms) must be at least size + allowed_lateness (600000ms)");
    check_refuses("{type: session, gap: 1m, allowed_lateness: 1m, ttl: 90s}", NULL,
                  "ttl (90000ms) must be at least gap + allowed_lateness (120000ms)");

    /* Typos and bad values are the loader's: never silently accepted. */
    pl_window_conf_t c;
    pw_err_t err = {0};
    const char *typo = "{type: tumbling, size: 1s, aggregate: [mean]}";
    cr_assert_eq(pw_conf_load_string("w.yaml", typo, strlen(typo), &pl_window_conf_section, &c,
                                      &err), PW_ECONF);
    cr_assert(strstr(err.msg, "aggregate"), "%s", err.msg);
    pw_conf_fini(&pl_window_conf_section, &c);
    const char *badtype = "{type: hopping, size: 1s}";
    cr_assert_eq(pw_conf_load_string("w.yaml", badtype, strlen(badtype),
                                      &pl_window_conf_section, &c, &err), PW_ECONF);
    pw_conf_fini(&pl_window_conf_section, &c);

    /* A good one: results out, keyed points on late. */
    const char *good = "{type: sliding, size: 10s, slide: 2s, aggregates: [mean, quantiles], "
                       "quantiles: [0.5, 0.99]}";
    cr_assert_eq(pw_conf_load_string("w.yaml", good, strlen(good), &pl_window_conf_section, &c,
                                      &err), 0, "%s", err.msg);
    pl_port_type_t in = {PL_POINTS, true}, out[2];
    cr_assert_eq(pl_window_def.check(&c, &in, 1, out, &err), 0, "%s", err.msg);
    cr_assert(out[0].kind == PL_RESULTS && !out[0].keyed);
    cr_assert(out[1].kind == PL_POINTS && out[1].keyed);
    pw_conf_fini(&pl_window_conf_section, &c);
}

Test(pl_window, the_definition_describes_the_operator)
{
    cr_assert_str_eq(pl_window_def.name, "window");
    cr_assert_eq(pl_window_def.min_inputs, 1);
    cr_assert_eq(pl_window_def.max_inputs, 1);
    cr_assert_eq(pl_window_def.nports, 2);
    cr_assert_str_eq(pl_window_def.port_names[0], "out");
    cr_assert_str_eq(pl_window_def.port_names[1], "late");
    cr_assert_eq(pl_window_def.conf, &pl_window_conf_section);
    cr_assert_eq(pl_window_def.conf_size, sizeof(pl_window_conf_t));
    cr_assert(pl_window_def.desc && pl_window_def.input_desc && pl_window_def.output_desc);
    /* The table's defaults are well formed. */
    pl_window_conf_t c;
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&pl_window_conf_section, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.ttl_ms, 600000);
    cr_assert_eq(c.max_keys, 1000000);
    cr_assert_eq(c.allowed_lateness_ms, 0);
    cr_assert_eq(c.naggregates, 3);
    pw_conf_fini(&pl_window_conf_section, &c);
}

/* ---------------------------------------------------------------------------
 * The key table the window keeps its state in (other operators reuse it).
 */

/*
 * Random inserts and removals of keys 0..n-1 (shaped like keyed points':
 * small entity and channel ids) in a table of at most max, against a plain
 * array.
 */
static void keytab_against_reference(uint32_t n, uint32_t max, int rounds, uint64_t seed)
{
    pl_keytab_t t;
    cr_assert_eq(pl_keytab_init(&t, 24, 4, max), 0);
    uint32_t *idx_of = calloc(n, sizeof *idx_of);
    bool *held = calloc(n, sizeof *held);
#define TKEY(i) PL_KEY((uint32_t)(i) / 7 + 1, (uint32_t)(i) % 7 + 1)
    for (int round = 0; round < rounds; round++) {
        uint32_t i = (uint32_t)(rnd_next(&seed) % n);
        uint32_t f = pl_keytab_find(&t, TKEY(i));
        if (held[i]) {
            cr_assert_eq(f, idx_of[i], "key %u moved", i);
            cr_assert_eq(pl_keytab_key(&t, f), TKEY(i));
            cr_assert_eq(*(uint32_t *)pl_keytab_at(&t, f), i, "entry of key %u", i);
            if (rnd_next(&seed) % 3 == 0) {
                pl_keytab_remove(&t, f);
                held[i] = false;
            }
        } else {
            cr_assert_eq(f, PL_KEYTAB_NONE, "key %u found after removal", i);
            uint32_t x;
            if (pl_keytab_count(&t) == max) {
                cr_assert_eq(pl_keytab_insert(&t, TKEY(i), &x), PW_ECAPACITY);
                continue;
            }
            cr_assert_eq(pl_keytab_insert(&t, TKEY(i), &x), 0);
            cr_assert(pl_keytab_live(&t, x));
            cr_assert_eq(*(uint32_t *)pl_keytab_at(&t, x), 0, "a new entry is zeroed");
            *(uint32_t *)pl_keytab_at(&t, x) = i;
            idx_of[i] = x;
            held[i] = true;
        }
    }
    size_t nheld = 0;
    for (uint32_t i = 0; i < n; i++) {
        nheld += held[i];
        if (held[i])
            cr_assert_eq(pl_keytab_find(&t, TKEY(i)), idx_of[i]);
    }
    cr_assert_eq(pl_keytab_count(&t), nheld);
    cr_assert_leq(pl_keytab_end(&t), max, "removed indices are reused");
    pl_keytab_fini(&t);
    free(idx_of);
    free(held);
#undef TKEY
}

Test(pl_keytab, holds_finds_and_forgets_keys_like_a_reference)
{
    keytab_against_reference(20000, 20000, 200000, 3); /* growth */
    keytab_against_reference(300, 16, 200000, 4);      /* small and full: runs wrap around */
    pl_keytab_t t;

    /* Full at max_keys: refused, table unchanged. */
    cr_assert_eq(pl_keytab_init(&t, 8, 1, 3), 0);
    uint32_t x;
    for (uint64_t k = 1; k <= 3; k++)
        cr_assert_eq(pl_keytab_insert(&t, k, &x), 0);
    cr_assert_eq(pl_keytab_insert(&t, 4, &x), PW_ECAPACITY);
    cr_assert_eq(pl_keytab_count(&t), 3);
    cr_assert_eq(pl_keytab_find(&t, 4), PL_KEYTAB_NONE);
    pl_keytab_remove(&t, pl_keytab_find(&t, 2));
    cr_assert_eq(pl_keytab_insert(&t, 4, &x), 0);
    cr_assert_neq(pl_keytab_find(&t, 1), PL_KEYTAB_NONE);
    cr_assert_neq(pl_keytab_find(&t, 3), PL_KEYTAB_NONE);
    pl_keytab_fini(&t);
    cr_assert_eq(pl_keytab_init(&t, 0, 1, 3), PW_EARG);
}
