/*
 * Window benchmarks: keyed points through a 1 s tumbling mean on one thread,
 * driven the way a worker drives the operator: process a batch of 1000
 * points (keys already set, as key_by leaves them), then advance the
 * watermark to the newest time seen minus 100 ms of disorder.
 *
 * Every key sends one point per tick, in time order; within a tick the keys
 * come in a fixed shuffled order, so a batch touches keys all over the table
 * (the hash table's working set is what is measured, not one hot key).
 * Batches are generated outside the timed region; the time counted is
 * process + advance + clearing the outputs, and one latency sample is that
 * time for one batch. Windows are aligned, so every key's window ends at the
 * same time: the advance that crosses a second fires one result per key, and
 * that batch is the p99.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_op.h"
#include "pipeline/pl_window.h"

#define CHANNELS 10                   /* channels per entity: keys = entities x 10 */
#define DISORDER_NS (100 * PW_NS_PER_MS)
#define T0 (INT64_C(1700000000) * PW_NS_PER_S)
#define WARMUP_NS (1500 * PW_NS_PER_MS) /* event time run before timing: every key exists */

typedef struct gen {
    uint32_t nkeys;
    uint32_t *perm;      /* key order within a tick */
    uint64_t *key;       /* [nkeys] */
    uint32_t *ent, *ch;  /* [nkeys] */
    int64_t period_ns;   /* between a key's points */
    uint64_t next;       /* points generated */
} gen_t;

/* The next BENCH_BATCH_POINTS points into b (keyed). 0 or -ENOMEM. */
static int gen_batch(gen_t *g, pl_batch_t *b, int64_t *max_ts)
{
    pl_batch_clear(b);
    for (int i = 0; i < BENCH_BATCH_POINTS; i++, g->next++) {
        uint64_t tick = g->next / g->nkeys;
        uint32_t pos = (uint32_t)(g->next % g->nkeys), k = g->perm[pos];
        int64_t ts = T0 + (int64_t)tick * g->period_ns +
                     (int64_t)((uint64_t)pos * (uint64_t)g->period_ns / g->nkeys);
        double v = (double)((g->next * 2654435761u) & 0xffff) / 100.0;
        if (pl_batch_add_point(b, ts, g->ent[k], g->ch[k], v, g->key[k]))
            return -ENOMEM;
        *max_ts = ts;
    }
    return 0;
}

static int run(const bench_opts_t *o, bench_result_t *r, uint32_t nkeys, int64_t period_ns,
               pw_err_t *err)
{
    pw_intern_t *channels = NULL, *entities = NULL, *labels = NULL;
    pl_window_conf_t conf;
    pl_op_t op;
    pl_batch_t in;
    gen_t g = {.nkeys = nkeys, .period_ns = period_ns};
    int rc;
    memset(&conf, 0, sizeof conf);
    memset(&op, 0, sizeof op);
    pl_batch_init(&in, PL_POINTS);
    in.keyed = true;
    pl_batch_init(&op.out[0], PL_RESULTS);
    pl_batch_init(&op.out[1], PL_POINTS);
    op.out[1].keyed = true;
    g.perm = malloc(nkeys * sizeof *g.perm);
    g.key = malloc(nkeys * sizeof *g.key);
    g.ent = malloc(nkeys * sizeof *g.ent);
    g.ch = malloc(nkeys * sizeof *g.ch);
    if (!g.perm || !g.key || !g.ent || !g.ch) {
        rc = pw_err_set(err, -ENOMEM, "window bench: out of memory");
        goto out;
    }
    if ((rc = pw_intern_create(64, &channels)) != 0 ||
        (rc = pw_intern_create(nkeys / CHANNELS + 16, &entities)) != 0 ||
        (rc = pw_intern_create(16, &labels)) != 0) {
        pw_err_set(err, rc, "window bench: name tables: %s", pw_strerror(rc));
        goto out;
    }
    uint32_t ch_id[CHANNELS];
    for (int c = 0; c < CHANNELS; c++) {
        char name[16];
        snprintf(name, sizeof name, "ch%d", c);
        if ((rc = pw_intern_add(channels, name, strlen(name), &ch_id[c])) != 0)
            goto names;
    }
    for (uint32_t k = 0; k < nkeys; k++) {
        uint32_t e;
        if (k % CHANNELS == 0) {
            char name[32];
            int n = snprintf(name, sizeof name, "unit/%u", k / CHANNELS);
            if ((rc = pw_intern_add(entities, name, (size_t)n, &e)) != 0)
                goto names;
        } else {
            e = g.ent[k - 1];
        }
        g.ent[k] = e;
        g.ch[k] = ch_id[k % CHANNELS];
        g.key[k] = PL_KEY(e, g.ch[k]); /* key_by [entity, channel] */
        g.perm[k] = k;
    }
    uint64_t seed = 42;
    for (uint32_t i = nkeys - 1; i > 0; i--) { /* Fisher-Yates */
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint32_t j = (uint32_t)((seed >> 33) % (i + 1));
        uint32_t t = g.perm[i];
        g.perm[i] = g.perm[j];
        g.perm[j] = t;
    }
    char yaml[128];
    snprintf(yaml, sizeof yaml, "{type: tumbling, size: 1s, aggregates: [mean], max_keys: %u}",
             nkeys + 16);
    if ((rc = pw_conf_load_string("bench", yaml, strlen(yaml), &pl_window_conf_section, &conf,
                                  err)) != 0)
        goto out;
    pl_names_t names = {channels, entities, labels};
    pl_port_type_t itype = {PL_POINTS, true};
    pl_setup_t su = {.name = "mean_1s", .names = &names, .in = &itype, .nin = 1, .workers = 1};
    op.def = &pl_window_def;
    op.name = "mean_1s";
    if ((rc = pl_window_def.init(&op, &conf, &su, err)) != 0)
        goto out;
    pl_ctx_t ctx = {.watermark_ns = PL_WATERMARK_MIN, .names = &names};
    int64_t max_ts = INT64_MIN, busy_ns = 0;
    uint64_t points = 0, results = 0, batches = 0;
    bool timing = false;
    int64_t stop = 0;
    for (;;) {
        if ((rc = gen_batch(&g, &in, &max_ts)) != 0) {
            pw_err_set(err, rc, "window bench: out of memory");
            goto out;
        }
        if (!timing && max_ts - T0 >= WARMUP_NS) {
            timing = true;
            stop = pw_mono_ns() + (int64_t)(o->seconds * PW_NS_PER_S);
        }
        int64_t t0 = pw_mono_ns();
        rc = pl_window_def.process(&op, 0, &in, &ctx);
        int64_t wm = max_ts - DISORDER_NS;
        if (rc == 0 && wm > ctx.watermark_ns) {
            ctx.watermark_ns = wm;
            rc = pl_window_def.advance(&op, &ctx);
        }
        size_t nres = op.out[0].res.rec.n;
        pl_batch_clear(&op.out[0]);
        pl_batch_clear(&op.out[1]);
        int64_t t1 = pw_mono_ns();
        if (rc) {
            pw_err_set(err, rc, "window bench: %s", pw_strerror(rc));
            goto out;
        }
        if (!timing)
            continue;
        busy_ns += t1 - t0;
        pw_hist_record(&r->lat, (uint64_t)(t1 - t0));
        points += BENCH_BATCH_POINTS;
        results += nres;
        batches++;
        if (t1 >= stop)
            break;
    }
    if (op.cnt.late || op.cnt.dropped || results == 0) {
        rc = pw_err_set(err, PW_ECORRUPT, "window bench: %llu late, %llu dropped, %llu results",
                        (unsigned long long)op.cnt.late, (unsigned long long)op.cnt.dropped,
                        (unsigned long long)results);
        goto out;
    }
    double secs = (double)busy_ns / PW_NS_PER_S;
    r->points_per_s = (double)points / secs;
    snprintf(r->unit, sizeof r->unit, "batch of %d", BENCH_BATCH_POINTS);
    snprintf(r->note, sizeof r->note,
             "%u keys at %.0f Hz each, in time order, 100 ms disorder; %.2fM results/s; "
             "max %.2f ms: the batch that fires every key's window",
             nkeys, (double)PW_NS_PER_S / (double)period_ns, (double)results / secs / 1e6,
             (double)r->lat.max_ns / 1e6);
    rc = 0;
    goto out;
names:
    pw_err_set(err, rc, "window bench: cannot intern names: %s", pw_strerror(rc));
out:
    if (op.state)
        pl_window_def.close(&op);
    pw_conf_fini(&pl_window_conf_section, &conf);
    pl_batch_fini(&in);
    pl_batch_fini(&op.out[0]);
    pl_batch_fini(&op.out[1]);
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
    free(g.perm);
    free(g.key);
    free(g.ent);
    free(g.ch);
    return rc;
}

/* 10k keys (1000 entities x 10 channels), each at 100 Hz. */
int bench_window_10k_keys(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    return run(o, r, 10000, 10 * PW_NS_PER_MS, err);
}

/* 1M keys (100k entities x 10 channels), each at 10 Hz. */
int bench_window_1m_keys(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    return run(o, r, 1000000, 100 * PW_NS_PER_MS, err);
}
