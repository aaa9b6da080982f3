/*
 * pl_pipeline: workers running the graph over stream partitions, and the
 * checkpoint writer. pl_pipeline.h has the model; this file has the parts:
 *
 *   create:   graph, partitions per worker, operator instances, restore
 *   worker:   read -> decode -> slices -> process -> watermarks -> advance,
 *             checkpoint packages at batch boundaries
 *   writer:   packages -> one LMDB transaction (results + checkpoints)
 *   stats:    workers publish a copy of their counters every 250 ms
 *
 * A worker's checkpoint (blob "PWCK", format version 1, little-endian):
 *   u32 magic, u32 version, u64 graph hash, u32 workers, u32 worker,
 *   u32 nparts, nparts x {u32 source, u32 partition, i64 next, i64 max_ts},
 *   u32 nnodes, nnodes x {i64 watermark, u32 len, len bytes of state}
 * kept under "<group>/w<worker>" in the result store.
 */
#include "pipeline/pl_pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pw_codec.h"
#include "core/pw_log.h"
#include "core/pw_time.h"
#include "pipeline/pl_graph.h"
#include "pipeline/pl_sink.h"
#include "store/st_log.h"
#include "store/st_results.h"

#define CKPT_MAGIC 0x4b435750u /* "PWCK" */
#define CKPT_VERSION 1u
#define MSGS_PER_READ 8
#define IDLE_SLEEP_NS (500 * PW_NS_PER_US)
#define STATS_EVERY_NS (250 * PW_NS_PER_MS)

typedef struct part {
    int source;
    const char *topic;
    int32_t partition;
    int64_t next;          /* next offset to read (or PW_STREAM_OFFSET_*) */
    int64_t max_ts;        /* newest event time seen; MIN = none */
    int64_t last_data_ns;  /* monotonic time data last arrived */
    bool at_end;
} part_t;

typedef struct pend_stream {
    char *topic;
    pl_results_t res;
} pend_stream_t;

/* What a worker hands the writer at a checkpoint. */
typedef struct package {
    bool busy;             /* filled, waiting for (or in) the writer */
    pl_buf_t blob;
    pl_results_t store;
    pend_stream_t *stream; /* [nstream], same order as the worker's */
    int nstream;
    int64_t oldest_ingest_ns;
} package_t;

struct pl_sink_io {
    struct worker *w;
};

typedef struct node_rt {
    pl_op_t op;
    int64_t wm;            /* the watermark the operator last saw */
} node_rt_t;

/* Counters a worker publishes for stats. */
typedef struct pub {
    uint64_t messages, records, malformed, skipped;
    int64_t watermark_ns;
    pw_hist_t e2e;
    pw_hist_t graph;
    pl_op_counters_t *cnt; /* [nnodes] */
    pw_hist_t *lat;        /* [nnodes] */
} pub_t;

typedef struct worker {
    pl_pipeline_t *p;
    int index;
    pthread_t thread;
    bool started;
    pw_stream_t *reader;
    pw_codec_decoder_t *dec;
    part_t *parts;
    int nparts;
    int64_t *src_wm;       /* [nsources] */
    node_rt_t *nodes;      /* [nnodes] */
    pl_batch_t src;        /* the decoded message */
    pl_batch_t view;       /* a slice of src handed to the graph */
    pl_sink_io_t io;
    int64_t cur_ingest_ns;
    pl_results_t pend_store;
    pend_stream_t *pend_stream;
    int nstream;
    int64_t pend_ingest_ns;
    size_t pend_bytes;
    pl_buf_t tmp;
    package_t pkg;         /* guarded by p->mu */
    pthread_cond_t cv;     /* package free again */
    bool finished;         /* guarded by p->mu */
    /* local counters, published into pub */
    uint64_t messages, records, malformed, skipped;
    pw_hist_t e2e;
    pw_hist_t graph;       /* stream append -> message through the graph */
    pw_log_ratelimit_t rl;
    pub_t pub;             /* guarded by p->mu */
} worker_t;

struct pl_pipeline {
    pl_pipeline_opts_t o;
    const pl_conf_t *c;
    pl_graph_t *g;
    int nworkers;
    worker_t *w;
    pl_names_t names;
    pthread_mutex_t mu;
    pthread_cond_t wcv;    /* writer: a package is ready, or a worker finished */
    pthread_t writer;
    bool writer_started;
    int64_t next_trim_ns;  /* writer only: monotonic time of the next
                              store retention trim */
    volatile int stop;     /* ask workers to stop */
    bool stopped;
    /* guarded by mu */
    int error;
    char error_msg[PW_ERR_MSG_MAX];
    uint64_t checkpoints, results_stored;
    pw_hist_t e2e_store;
};

/* ---- helpers ------------------------------------------------------------ */

static void fail(pl_pipeline_t *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(pl_pipeline_t *p, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&p->mu);
    if (p->error == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error_msg, sizeof p->error_msg, fmt, ap);
        va_end(ap);
        p->error = rc ? rc : PW_ESTORE;
    }
    p->stop = 1;
    pthread_cond_broadcast(&p->wcv);
    for (int i = 0; i < p->nworkers; i++)
        pthread_cond_broadcast(&p->w[i].cv);
    pthread_mutex_unlock(&p->mu);
}

static void ckpt_name(const pl_pipeline_t *p, int worker, char *buf, size_t len)
{
    snprintf(buf, len, "%s/w%d", p->c->group ? p->c->group : "pipeline", worker);
}

static pend_stream_t *pend_stream_find(worker_t *w, const char *topic)
{
    for (int i = 0; i < w->nstream; i++)
        if (!strcmp(w->pend_stream[i].topic, topic))
            return &w->pend_stream[i];
    return NULL;
}

/* ---- sink io (worker thread) --------------------------------------------- */

static void note_pending(worker_t *w)
{
    if (w->cur_ingest_ns && (!w->pend_ingest_ns || w->cur_ingest_ns < w->pend_ingest_ns))
        w->pend_ingest_ns = w->cur_ingest_ns;
}

int pl_sink_io_store(pl_sink_io_t *io, const pw_results_t *r)
{
    worker_t *w = io->w;
    size_t before = w->pend_store.len;
    if (pl_results_append(&w->pend_store, r))
        return -ENOMEM;
    w->pend_bytes += w->pend_store.len - before + r->n * sizeof(pw_result_t);
    note_pending(w);
    return 0;
}

int pl_sink_io_stream(pl_sink_io_t *io, const char *topic, const pw_results_t *r)
{
    worker_t *w = io->w;
    pend_stream_t *s = pend_stream_find(w, topic);
    if (s == NULL)
        return -ENOENT; /* every stream sink's topic is registered at create */
    size_t before = s->res.len;
    if (pl_results_append(&s->res, r))
        return -ENOMEM;
    w->pend_bytes += s->res.len - before + r->n * sizeof(pw_result_t);
    note_pending(w);
    return 0;
}

void pl_sink_io_hook(pl_sink_io_t *io, const char *name, const pw_results_t *r)
{
    worker_t *w = io->w;
    if (w->p->o.hook)
        w->p->o.hook(w->p->o.hook_ctx, name, w->index, r);
}

/* ---- running the graph (worker thread) ----------------------------------- */

static int run_node(worker_t *w, int j, int input, const pl_batch_t *b);

/* Hand every non-empty output of node j downstream, then clear it. */
static int forward(worker_t *w, int j)
{
    const pl_graph_node_t *gn = &w->p->g->nodes[j];
    pl_op_t *op = &w->nodes[j].op;
    for (int port = 0; port < gn->def->nports; port++) {
        pl_batch_t *out = &op->out[port];
        size_t n = pl_batch_count(out);
        if (n == 0)
            continue;
        op->cnt.out += n;
        if (!out->ingest_ns)
            out->ingest_ns = w->cur_ingest_ns;
        for (int e = 0; e < gn->nchild[port]; e++) {
            int rc = run_node(w, gn->child[port][e].node, gn->child[port][e].input, out);
            if (rc)
                return rc;
        }
        pl_batch_clear(out);
    }
    return 0;
}

static int run_node(worker_t *w, int j, int input, const pl_batch_t *b)
{
    const pl_graph_node_t *gn = &w->p->g->nodes[j];
    node_rt_t *nr = &w->nodes[j];
    pl_ctx_t ctx = {
        .watermark_ns = nr->wm,
        .now_ns = 0,
        .names = &w->p->names,
        .io = &w->io,
    };
    int64_t t0 = pw_mono_ns();
    int rc = gn->def->process(&nr->op, input, b, &ctx);
    int64_t t1 = pw_mono_ns();
    pw_hist_record(&nr->op.latency, (uint64_t)(t1 - t0));
    nr->op.cnt.in += pl_batch_count(b);
    if (rc)
        return rc;
    if (gn->def->nports == 0 && b->ingest_ns) {
        int64_t lat = pw_wall_ns() - b->ingest_ns;
        pw_hist_record(&w->e2e, lat > 0 ? (uint64_t)lat : 0);
    }
    return forward(w, j);
}

static bool part_idle(const worker_t *w, const part_t *pt, int64_t mono)
{
    int64_t idle_ms = w->p->c->sources[pt->source].idle_timeout_ms;
    return idle_ms > 0 && mono - pt->last_data_ns > idle_ms * PW_NS_PER_MS;
}

/* Recompute the sources' watermarks on this worker (they never go back). */
static void source_watermarks(worker_t *w, int64_t mono, bool all_max)
{
    const pl_conf_t *c = w->p->c;
    for (int s = 0; s < (int)c->nsources; s++) {
        if (all_max) {
            w->src_wm[s] = PL_WATERMARK_MAX;
            continue;
        }
        int64_t disorder = c->sources[s].disorder_ms * PW_NS_PER_MS;
        int64_t wm = PL_WATERMARK_MAX, idle_max = PL_WATERMARK_MIN;
        int active = 0, parts = 0;
        for (int i = 0; i < w->nparts; i++) {
            const part_t *pt = &w->parts[i];
            if (pt->source != s)
                continue;
            parts++;
            int64_t pw = pt->max_ts == PL_WATERMARK_MIN ? PL_WATERMARK_MIN
                                                         : pt->max_ts - disorder;
            if (part_idle(w, pt, mono)) {
                if (pw > idle_max)
                    idle_max = pw;
                continue;
            }
            active++;
            if (pw < wm)
                wm = pw;
        }
        if (parts == 0)
            wm = PL_WATERMARK_MAX; /* nothing of this source here */
        else if (active == 0)
            wm = idle_max;         /* all idle: what was seen is complete */
        if (wm > w->src_wm[s])
            w->src_wm[s] = wm;
    }
}

/* Move every node's watermark to the minimum of its inputs; fire. */
static int advance_nodes(worker_t *w)
{
    const pl_graph_t *g = w->p->g;
    for (int j = 0; j < g->nnodes; j++) {
        const pl_graph_node_t *gn = &g->nodes[j];
        int64_t wm = PL_WATERMARK_MAX;
        for (int k = 0; k < gn->nin; k++) {
            int64_t in = gn->in[k].source >= 0 ? w->src_wm[gn->in[k].source]
                                               : w->nodes[gn->in[k].node].wm;
            if (in < wm)
                wm = in;
        }
        node_rt_t *nr = &w->nodes[j];
        if (wm <= nr->wm)
            continue;
        nr->wm = wm;
        if (gn->def->advance == NULL)
            continue;
        pl_ctx_t ctx = {.watermark_ns = wm, .names = &w->p->names, .io = &w->io};
        int64_t t0 = pw_mono_ns();
        int rc = gn->def->advance(&nr->op, &ctx);
        pw_hist_record(&nr->op.latency, (uint64_t)(pw_mono_ns() - t0));
        if (rc == 0)
            rc = forward(w, j);
        if (rc)
            return rc;
    }
    return 0;
}

/* Point view at records [off, off + n) of src, without copying. */
static void slice(pl_batch_t *view, const pl_batch_t *src, size_t off, size_t n)
{
    view->kind = src->kind;
    view->keyed = false;
    view->ingest_ns = src->ingest_ns;
    if (src->kind == PL_POINTS) {
        view->pts.n = view->pts.cap = n;
        view->pts.ts_ns = src->pts.ts_ns + off;
        view->pts.entity = src->pts.entity + off;
        view->pts.channel = src->pts.channel + off;
        view->pts.value = src->pts.value + off;
    } else {
        /* Objects stay where they are: first[] indexes the whole arrays. */
        view->frames = src->frames;
        view->frames.n = view->frames.cap = n;
        view->frames.ts_ns = src->frames.ts_ns + off;
        view->frames.session = src->frames.session + off;
        view->frames.label = src->frames.label + off * PW_FRAME_LABELS;
        view->frames.nobj = src->frames.nobj + off;
        view->frames.first = src->frames.first + off;
    }
}

static int handle_message(worker_t *w, part_t *pt, const pw_stream_msg_t *m, int64_t mono)
{
    pl_pipeline_t *p = w->p;
    const pl_source_conf_t *sc = &p->c->sources[pt->source];
    pw_err_t err = {0};
    int rc = sc->kind == PL_SOURCE_FRAMES
                 ? pw_codec_decode_frames(w->dec, m->payload, m->payload_len, &w->src.frames, &err)
                 : pw_codec_decode_points(w->dec, m->payload, m->payload_len, &w->src.pts, &err);
    w->messages++;
    pt->next = m->offset + 1;
    pt->last_data_ns = mono;
    if (rc == -ENOMEM)
        return rc;
    if (rc) {
        uint64_t supp;
        w->malformed++;
        if (pw_log_ratelimit_ok(&w->rl, mono, &supp))
            pw_log(PW_LOG_WARN, "pipeline: source '%s': %s partition %d offset %" PRId64
                   ": skipped: %s (%" PRIu64 " more skipped since the last line)",
                   sc->name, sc->topic, pt->partition, m->offset, err.msg, supp);
        return 0;
    }
    w->src.kind = sc->kind == PL_SOURCE_FRAMES ? PL_FRAMES : PL_POINTS;
    w->src.ingest_ns = m->ts_ns;
    w->cur_ingest_ns = m->ts_ns;
    size_t n = pl_batch_count(&w->src);
    w->records += n;
    const int64_t *ts = sc->kind == PL_SOURCE_FRAMES ? w->src.frames.ts_ns : w->src.pts.ts_ns;
    size_t step = (size_t)p->c->batch_records;
    const pl_graph_t *g = p->g;
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        slice(&w->view, &w->src, off, k);
        for (int e = 0; e < g->nsrc_child[pt->source]; e++) {
            rc = run_node(w, g->src_child[pt->source][e].node, g->src_child[pt->source][e].input,
                          &w->view);
            if (rc)
                return rc;
        }
        int64_t mx = pt->max_ts;
        for (size_t i = off; i < off + k; i++)
            if (ts[i] > mx)
                mx = ts[i];
        pt->max_ts = mx;
        source_watermarks(w, mono, false);
        if ((rc = advance_nodes(w)) != 0)
            return rc;
    }
    int64_t lat = pw_wall_ns() - m->ts_ns;
    pw_hist_record(&w->graph, lat > 0 ? (uint64_t)lat : 0);
    return 0;
}

/* ---- checkpoints --------------------------------------------------------- */

static int build_blob(worker_t *w, pl_buf_t *b)
{
    const pl_pipeline_t *p = w->p;
    int rc = 0;
    pl_buf_clear(b);
    rc |= pl_buf_put_u32(b, CKPT_MAGIC);
    rc |= pl_buf_put_u32(b, CKPT_VERSION);
    rc |= pl_buf_put_u64(b, p->g->hash);
    rc |= pl_buf_put_u32(b, (uint32_t)p->nworkers);
    rc |= pl_buf_put_u32(b, (uint32_t)w->index);
    rc |= pl_buf_put_u32(b, (uint32_t)w->nparts);
    for (int i = 0; i < w->nparts; i++) {
        rc |= pl_buf_put_u32(b, (uint32_t)w->parts[i].source);
        rc |= pl_buf_put_u32(b, (uint32_t)w->parts[i].partition);
        rc |= pl_buf_put_i64(b, w->parts[i].next);
        rc |= pl_buf_put_i64(b, w->parts[i].max_ts);
    }
    rc |= pl_buf_put_u32(b, (uint32_t)p->g->nnodes);
    for (int j = 0; j < p->g->nnodes; j++) {
        node_rt_t *nr = &w->nodes[j];
        rc |= pl_buf_put_i64(b, nr->wm);
        pl_buf_clear(&w->tmp);
        if (p->g->nodes[j].def->snapshot && p->g->nodes[j].def->snapshot(&nr->op, &w->tmp))
            return -ENOMEM;
        rc |= pl_buf_put_u32(b, (uint32_t)w->tmp.len);
        rc |= pl_buf_put(b, w->tmp.data, w->tmp.len);
    }
    return rc ? -ENOMEM : 0;
}

/* Hand state, offsets and pending results to the writer. */
static int checkpoint(worker_t *w)
{
    pl_pipeline_t *p = w->p;
    pthread_mutex_lock(&p->mu);
    while (w->pkg.busy && !p->error)
        pthread_cond_wait(&w->cv, &p->mu);
    int failed = p->error;
    pthread_mutex_unlock(&p->mu);
    if (failed)
        return 0; /* the pipeline is stopping with the writer's error */
    package_t *k = &w->pkg;
    int rc = build_blob(w, &k->blob);
    if (rc)
        return rc;
    pl_results_t t = k->store;
    k->store = w->pend_store;
    w->pend_store = t;
    pl_results_clear(&w->pend_store);
    for (int i = 0; i < w->nstream; i++) {
        t = k->stream[i].res;
        k->stream[i].res = w->pend_stream[i].res;
        w->pend_stream[i].res = t;
        pl_results_clear(&w->pend_stream[i].res);
    }
    k->oldest_ingest_ns = w->pend_ingest_ns;
    w->pend_ingest_ns = 0;
    w->pend_bytes = 0;
    pthread_mutex_lock(&p->mu);
    k->busy = true;
    pthread_cond_broadcast(&p->wcv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void publish(worker_t *w, int64_t watermark)
{
    pl_pipeline_t *p = w->p;
    pthread_mutex_lock(&p->mu);
    w->pub.messages = w->messages;
    w->pub.records = w->records;
    w->pub.malformed = w->malformed;
    w->pub.skipped = w->skipped;
    w->pub.watermark_ns = watermark;
    w->pub.e2e = w->e2e;
    w->pub.graph = w->graph;
    for (int j = 0; j < p->g->nnodes; j++) {
        w->pub.cnt[j] = w->nodes[j].op.cnt;
        w->pub.lat[j] = w->nodes[j].op.latency;
    }
    pthread_mutex_unlock(&p->mu);
}

static int64_t worker_watermark(const worker_t *w)
{
    int64_t wm = PL_WATERMARK_MAX;
    for (int s = 0; s < (int)w->p->c->nsources; s++)
        if (w->src_wm[s] < wm)
            wm = w->src_wm[s];
    return wm;
}

/* Read one round of every partition; *got = messages handled. */
/*
 * Watermark alignment: a partition whose event time runs more than its
 * source's disorder + ALIGN_NS ahead of the slowest partition of that
 * source that still has data waits a round. Without it a backlog read
 * round-robin lets a partition of few cars run minutes ahead in event time
 * while the watermark waits for the busiest one, and every record between
 * them sits staged in the windows (state and checkpoints grow without bound).
 */
#define ALIGN_NS (100 * PW_NS_PER_MS)

static bool part_ahead(const worker_t *w, const part_t *pt, int64_t mono)
{
    if (pt->max_ts == PL_WATERMARK_MIN)
        return false;
    int64_t slowest = PL_WATERMARK_MAX;
    for (int i = 0; i < w->nparts; i++) {
        const part_t *q = &w->parts[i];
        if (q->source != pt->source || q->at_end || part_idle(w, q, mono))
            continue;
        if (q->max_ts < slowest)
            slowest = q->max_ts;
    }
    if (slowest == PL_WATERMARK_MIN || slowest == PL_WATERMARK_MAX)
        return false;
    int64_t lead = w->p->c->sources[pt->source].disorder_ms * PW_NS_PER_MS + ALIGN_NS;
    return pt->max_ts - slowest > lead;
}

static int read_round(worker_t *w, int64_t mono, size_t *got)
{
    pw_stream_msg_t msgs[MSGS_PER_READ];
    *got = 0;
    for (int i = 0; i < w->nparts && !w->p->stop; i++) {
        part_t *pt = &w->parts[i];
        if (part_ahead(w, pt, mono))
            continue;
        size_t n = 0;
        pw_err_t err = {0};
        int rc = pw_stream_read(w->reader, pt->topic, pt->partition, pt->next, msgs,
                                MSGS_PER_READ, &n, &err);
        if (rc == PW_ERANGE) {
            /* Retention removed what we had not read: go on from what is left. */
            int64_t earliest, next;
            if (pw_stream_bounds(w->reader, pt->topic, pt->partition, &earliest, &next, &err))
                return rc;
            if (pt->next >= 0 && pt->next < earliest)
                w->skipped += (uint64_t)(earliest - pt->next);
            pw_log(PW_LOG_WARN, "pipeline: %s partition %d: offset %" PRId64
                   " was removed by retention before it was read; going on from %" PRId64,
                   pt->topic, pt->partition, pt->next, earliest);
            pt->next = earliest;
            continue;
        }
        if (rc) {
            fail(w->p, rc, "worker %d: reading %s partition %d: %s", w->index, pt->topic,
                 pt->partition, err.msg);
            return rc;
        }
        pt->at_end = n == 0;
        for (size_t m = 0; m < n; m++) {
            rc = handle_message(w, pt, &msgs[m], mono);
            if (rc) {
                fail(w->p, rc, "worker %d: %s partition %d offset %" PRId64 ": operator error: %s",
                     w->index, pt->topic, pt->partition, msgs[m].offset, pw_strerror(rc));
                return rc;
            }
        }
        *got += n;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    pl_pipeline_t *p = w->p;
    int64_t interval = p->c->checkpoint_interval_ms * PW_NS_PER_MS;
    int64_t mono = pw_mono_ns();
    int64_t next_ckpt = mono + interval, next_pub = mono;
    for (int i = 0; i < w->nparts; i++)
        w->parts[i].last_data_ns = mono;
    int rc = 0;
    bool ended = false;
    while (!p->stop) {
        size_t got = 0;
        mono = pw_mono_ns();
        if ((rc = read_round(w, mono, &got)) != 0)
            break;
        bool all_end = p->o.exit_at_end;
        for (int i = 0; i < w->nparts && all_end; i++)
            all_end = w->parts[i].at_end;
        source_watermarks(w, mono, all_end);
        if ((rc = advance_nodes(w)) != 0) {
            fail(p, rc, "worker %d: operator error: %s", w->index, pw_strerror(rc));
            break;
        }
        if (all_end) {
            ended = true;
            break;
        }
        if (mono >= next_ckpt || w->pend_bytes > p->c->max_pending_bytes) {
            if ((rc = checkpoint(w)) != 0) {
                fail(p, rc, "worker %d: checkpoint: %s", w->index, pw_strerror(rc));
                break;
            }
            next_ckpt = mono + interval;
        }
        if (mono >= next_pub) {
            publish(w, worker_watermark(w));
            next_pub = mono + STATS_EVERY_NS;
        }
        if (got == 0)
            pw_sleep_until_ns(pw_mono_ns() + IDLE_SLEEP_NS);
    }
    /* A last checkpoint keeps everything done so far (not after a failure). */
    if (!p->error && (rc = checkpoint(w)) != 0)
        fail(p, rc, "worker %d: checkpoint: %s", w->index, pw_strerror(rc));
    publish(w, worker_watermark(w));
    (void)ended;
    pthread_mutex_lock(&p->mu);
    w->finished = true;
    pthread_cond_broadcast(&p->wcv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the writer ----------------------------------------------------------- */

static int write_packages(pl_pipeline_t *p, worker_t **ready, int n, pw_err_t *err)
{
    st_results_txn_t *txn;
    int rc = st_results_begin(p->o.store, &txn, err);
    if (rc)
        return rc;
    uint64_t stored = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        package_t *k = &ready[i]->pkg;
        char name[300];
        ckpt_name(p, ready[i]->index, name, sizeof name);
        rc = st_results_put_batch(txn, &k->store.rec, err);
        if (rc == 0)
            rc = st_results_checkpoint_put(txn, name, k->blob.data, k->blob.len, err);
        stored += k->store.rec.n;
    }
    /* The store's retention (store.retention_*; a no-op when unset), in
     * this transaction: at most once a second, a bounded batch each time;
     * while a batch stops at its bound, the next commit trims again, so
     * trimming keeps up with any rate of results. */
    int64_t mono = pw_mono_ns();
    if (rc == 0 && mono >= p->next_trim_ns) {
        st_results_trim_t tr;
        rc = st_results_trim(txn, pw_wall_ns(), ST_RESULTS_TRIM_BATCH, &tr, err);
        if (rc == 0)
            p->next_trim_ns = tr.more ? mono : mono + PW_NS_PER_S;
    }
    if (rc) {
        st_results_abort(txn);
        return rc;
    }
    if ((rc = st_results_commit(txn, err)) != 0)
        return rc;
    int64_t now = pw_wall_ns();
    pthread_mutex_lock(&p->mu);
    p->checkpoints++;
    p->results_stored += stored;
    for (int i = 0; i < n; i++) {
        int64_t t = ready[i]->pkg.oldest_ingest_ns;
        if (t && ready[i]->pkg.store.rec.n)
            pw_hist_record(&p->e2e_store, now > t ? (uint64_t)(now - t) : 0);
    }
    pthread_mutex_unlock(&p->mu);
    /* Stream sinks: after the commit, so a crash can only repeat them. */
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    for (int i = 0; i < n; i++) {
        package_t *k = &ready[i]->pkg;
        for (int s = 0; s < k->nstream; s++) {
            if (k->stream[s].res.rec.n == 0)
                continue;
            pw_err_t e2 = {0};
            int r2 = pw_codec_encode_results(&buf, &k->stream[s].res.rec, &e2);
            if (r2 == 0)
                r2 = p->o.stream_append(p->o.host, k->stream[s].topic, buf.data, buf.len, &e2);
            if (r2)
                pw_log(PW_LOG_WARN, "pipeline: stream sink to '%s': %zu results not appended: %s",
                       k->stream[s].topic, k->stream[s].res.rec.n, e2.msg);
        }
    }
    pw_codec_buf_fini(&buf);
    return 0;
}

static void *writer_main(void *arg)
{
    pl_pipeline_t *p = arg;
    worker_t **ready = calloc((size_t)p->nworkers, sizeof *ready);
    if (ready == NULL) {
        fail(p, -ENOMEM, "checkpoint writer: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int n = 0, finished = 0;
        for (int i = 0; i < p->nworkers; i++) {
            if (p->w[i].pkg.busy)
                ready[n++] = &p->w[i];
            finished += p->w[i].finished;
        }
        if (n == 0) {
            if (finished == p->nworkers)
                break;
            pthread_cond_wait(&p->wcv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        pw_err_t err = {0};
        int rc = p->error ? 0 : write_packages(p, ready, n, &err);
        if (rc)
            fail(p, rc, "checkpoint writer: %s", err.msg[0] ? err.msg : pw_strerror(rc));
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < n; i++) {
            package_t *k = &ready[i]->pkg;
            pl_results_clear(&k->store);
            for (int s = 0; s < k->nstream; s++)
                pl_results_clear(&k->stream[s].res);
            k->busy = false;
            pthread_cond_broadcast(&ready[i]->cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    free(ready);
    return NULL;
}

/* ---- create / restore ---------------------------------------------------- */

typedef struct topic_parts {
    const char *topic;
    int32_t partitions;
} topic_parts_t;

static int count_topic(void *ctx, const pw_stream_topic_info_t *t)
{
    topic_parts_t *tp = ctx;
    if (!strcmp(t->name, tp->topic))
        tp->partitions = t->partitions;
    return 0;
}

static int restore_worker(pl_pipeline_t *p, worker_t *w, pw_err_t *err)
{
    char name[300];
    ckpt_name(p, w->index, name, sizeof name);
    void *blob = NULL;
    size_t len = 0;
    int rc = st_results_checkpoint_get(p->o.store, name, &blob, &len, err);
    if (rc == PW_ENOTFOUND) {
        memset(err, 0, sizeof *err);
        return 0;
    }
    if (rc)
        return rc;
    pl_rd_t r;
    pl_rd_init(&r, blob, len);
    uint32_t magic = 0, version = 0, workers = 0, index = 0, nparts = 0, nnodes = 0;
    uint64_t hash = 0;
    pl_rd_u32(&r, &magic);
    pl_rd_u32(&r, &version);
    pl_rd_u64(&r, &hash);
    pl_rd_u32(&r, &workers);
    pl_rd_u32(&r, &index);
    if (r.failed || magic != CKPT_MAGIC || version != CKPT_VERSION) {
        rc = pw_err_set(err, PW_ECORRUPT, "checkpoint '%s' is not a pipeline checkpoint of "
                        "version %u", name, CKPT_VERSION);
        goto out;
    }
    if (hash != p->g->hash || (int)workers != p->nworkers || (int)index != w->index) {
        rc = pw_err_set(err, PW_ECONF,
                        "checkpoint '%s' was taken with %s (%u workers); its state does not fit "
                        "this graph: run with --reset to start the group over, or give the "
                        "graph another pipeline.group", name,
                        hash != p->g->hash ? "another graph" : "another worker count", workers);
        goto out;
    }
    pl_rd_u32(&r, &nparts);
    if (r.failed || (int)nparts != w->nparts) {
        rc = pw_err_set(err, PW_ECONF, "checkpoint '%s' holds %u partitions, the worker reads "
                        "%d: did a topic's partition count change? run with --reset",
                        name, nparts, w->nparts);
        goto out;
    }
    for (int i = 0; i < w->nparts; i++) {
        uint32_t src = 0, part = 0;
        int64_t next = 0, max_ts = 0;
        pl_rd_u32(&r, &src);
        pl_rd_u32(&r, &part);
        pl_rd_i64(&r, &next);
        pl_rd_i64(&r, &max_ts);
        if (r.failed || (int)src != w->parts[i].source || (int32_t)part != w->parts[i].partition) {
            rc = pw_err_set(err, PW_ECORRUPT, "checkpoint '%s': partition %d does not match", name, i);
            goto out;
        }
        w->parts[i].next = next;
        w->parts[i].max_ts = max_ts;
    }
    pl_rd_u32(&r, &nnodes);
    if (r.failed || (int)nnodes != p->g->nnodes) {
        rc = pw_err_set(err, PW_ECORRUPT, "checkpoint '%s': %u operators, the graph has %d", name,
                        nnodes, p->g->nnodes);
        goto out;
    }
    for (int j = 0; j < p->g->nnodes; j++) {
        uint32_t slen = 0;
        pl_rd_i64(&r, &w->nodes[j].wm);
        pl_rd_u32(&r, &slen);
        if (r.failed || slen > pl_rd_left(&r)) {
            rc = pw_err_set(err, PW_ECORRUPT, "checkpoint '%s' is truncated", name);
            goto out;
        }
        const pl_graph_node_t *gn = &p->g->nodes[j];
        pl_rd_t sr;
        pl_rd_init(&sr, r.p + r.pos, slen);
        r.pos += slen;
        if (gn->def->restore && (rc = gn->def->restore(&w->nodes[j].op, &sr, err)) != 0) {
            pw_err_t e2 = *err;
            rc = pw_err_set(err, rc, "checkpoint '%s': operator '%s': %s", name, gn->conf->name,
                            e2.msg);
            goto out;
        }
    }
    for (int s = 0; s < (int)p->c->nsources; s++)
        w->src_wm[s] = PL_WATERMARK_MIN;
out:
    free(blob);
    return rc;
}

static int setup_worker(pl_pipeline_t *p, worker_t *w, const int32_t *partitions, pw_err_t *err)
{
    const pl_conf_t *c = p->c;
    const pl_graph_t *g = p->g;
    int rc;
    w->p = p;
    w->io.w = w;
    w->rl.interval_ns = PW_NS_PER_S;
    pthread_cond_init(&w->cv, NULL);
    pl_batch_init(&w->src, PL_POINTS);
    pl_batch_init(&w->view, PL_POINTS);
    pl_results_init(&w->pend_store);
    pl_results_init(&w->pkg.store);
    pl_buf_init(&w->pkg.blob);
    pl_buf_init(&w->tmp);
    pw_hist_init(&w->e2e);
    pw_hist_init(&w->pub.e2e);
    pw_hist_init(&w->graph);
    pw_hist_init(&w->pub.graph);
    if ((rc = st_stream_open_embedded_reader(p->o.stream, &w->reader, err)) != 0)
        return rc;
    if (pw_codec_decoder_create(&w->dec))
        return pw_err_set(err, -ENOMEM, "out of memory");
    /* Partitions p % workers == index of every source. */
    for (size_t s = 0; s < c->nsources; s++)
        for (int32_t k = 0; k < partitions[s]; k++)
            if (k % p->nworkers == w->index)
                w->nparts++;
    w->parts = calloc((size_t)w->nparts + 1, sizeof *w->parts);
    w->src_wm = calloc(c->nsources, sizeof *w->src_wm);
    w->nodes = calloc((size_t)g->nnodes, sizeof *w->nodes);
    w->pub.cnt = calloc((size_t)g->nnodes, sizeof *w->pub.cnt);
    w->pub.lat = calloc((size_t)g->nnodes, sizeof *w->pub.lat);
    if (!w->parts || !w->src_wm || !w->nodes || !w->pub.cnt || !w->pub.lat)
        return pw_err_set(err, -ENOMEM, "out of memory");
    int n = 0;
    for (size_t s = 0; s < c->nsources; s++) {
        w->src_wm[s] = PL_WATERMARK_MIN;
        for (int32_t k = 0; k < partitions[s]; k++) {
            if (k % p->nworkers != w->index)
                continue;
            part_t *pt = &w->parts[n++];
            pt->source = (int)s;
            pt->topic = c->sources[s].topic;
            pt->partition = k;
            pt->max_ts = PL_WATERMARK_MIN;
            pt->next = PW_STREAM_OFFSET_BEGINNING;
            if (c->sources[s].start == PL_START_LATEST) {
                int64_t earliest, next;
                if ((rc = pw_stream_bounds(w->reader, pt->topic, k, &earliest, &next, err)) != 0)
                    return rc;
                pt->next = next;
            }
        }
    }
    /* Stream sinks' topics, in graph order. */
    for (int j = 0; j < g->nnodes; j++) {
        if (g->nodes[j].def != &pl_sink_stream_def)
            continue;
        const pl_sink_stream_conf_t *sc = g->nodes[j].op_conf;
        if (pend_stream_find(w, sc->topic))
            continue;
        pend_stream_t *ps = realloc(w->pend_stream, (size_t)(w->nstream + 1) * sizeof *ps);
        if (ps == NULL)
            return pw_err_set(err, -ENOMEM, "out of memory");
        w->pend_stream = ps;
        pend_stream_t *ks = realloc(w->pkg.stream, (size_t)(w->nstream + 1) * sizeof *ks);
        if (ks == NULL)
            return pw_err_set(err, -ENOMEM, "out of memory");
        w->pkg.stream = ks;
        ps[w->nstream].topic = sc->topic;
        ks[w->nstream].topic = sc->topic;
        pl_results_init(&ps[w->nstream].res);
        pl_results_init(&ks[w->nstream].res);
        w->nstream++;
        w->pkg.nstream = w->nstream;
    }
    for (int j = 0; j < g->nnodes; j++) {
        const pl_graph_node_t *gn = &g->nodes[j];
        node_rt_t *nr = &w->nodes[j];
        nr->wm = PL_WATERMARK_MIN;
        nr->op.def = gn->def;
        nr->op.name = gn->conf->name;
        pw_hist_init(&nr->op.latency);
        for (int port = 0; port < PL_OP_PORTS; port++) {
            pl_batch_init(&nr->op.out[port], port < gn->def->nports ? gn->out_type[port].kind
                                                                    : PL_RESULTS);
            nr->op.out[port].keyed = port < gn->def->nports && gn->out_type[port].keyed;
        }
        pl_setup_t su = {
            .name = gn->conf->name, .conf_path = p->o.conf_path, .line = gn->line,
            .names = &p->names, .worker = w->index, .workers = p->nworkers,
            .in = gn->in_type, .nin = gn->nin,
        };
        pw_err_t e2 = {0};
        if ((rc = gn->def->init(&nr->op, gn->op_conf, &su, &e2)) != 0)
            return pw_err_set(err, rc, "%s:%d: operator '%s': %s", p->o.conf_path, gn->line,
                              gn->conf->name, e2.msg);
    }
    return 0;
}

static void destroy_worker(pl_pipeline_t *p, worker_t *w)
{
    if (w->p == NULL)
        return;
    for (int j = 0; w->nodes && j < p->g->nnodes; j++) {
        node_rt_t *nr = &w->nodes[j];
        if (nr->op.def && nr->op.def->close)
            nr->op.def->close(&nr->op);
        for (int port = 0; port < PL_OP_PORTS; port++)
            pl_batch_fini(&nr->op.out[port]);
    }
    for (int i = 0; i < w->nstream; i++) {
        pl_results_fini(&w->pend_stream[i].res);
        pl_results_fini(&w->pkg.stream[i].res);
    }
    free(w->pend_stream);
    free(w->pkg.stream);
    free(w->nodes);
    free(w->parts);
    free(w->src_wm);
    free(w->pub.cnt);
    free(w->pub.lat);
    /* The view borrows src's columns: never free them twice. */
    memset(&w->view, 0, sizeof w->view);
    pl_batch_fini(&w->src);
    pl_results_fini(&w->pend_store);
    pl_results_fini(&w->pkg.store);
    pl_buf_fini(&w->pkg.blob);
    pl_buf_fini(&w->tmp);
    pw_codec_decoder_destroy(w->dec);
    pw_stream_close(w->reader);
    pthread_cond_destroy(&w->cv);
}

int pl_pipeline_create(const pl_pipeline_opts_t *o, pl_pipeline_t **out, pw_err_t *err)
{
    if (o == NULL || o->conf == NULL || o->stream == NULL || o->store == NULL || out == NULL)
        return pw_err_set(err, PW_EARG, "pipeline: conf, stream and store are required");
    pl_pipeline_t *p = calloc(1, sizeof *p);
    int32_t *partitions = NULL;
    if (p == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory");
    p->o = *o;
    p->c = o->conf;
    p->names = o->names;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wcv, NULL);
    pw_hist_init(&p->e2e_store);
    int rc = pl_graph_build(p->c, o->conf_path, &p->g, err);
    if (rc)
        goto fail;
    for (int j = 0; j < p->g->nnodes; j++)
        if (p->g->nodes[j].def == &pl_sink_stream_def && o->stream_append == NULL) {
            rc = pw_err_set(err, PW_ECONF, "%s:%d: operator '%s': stream sinks are not "
                            "available here", o->conf_path, p->g->nodes[j].line,
                            p->g->nodes[j].conf->name);
            goto fail;
        }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->nworkers = o->workers > 0 ? o->workers
                  : p->c->workers > 0 ? (int)p->c->workers : (cores > 0 ? (int)cores : 1);
    partitions = calloc(p->c->nsources, sizeof *partitions);
    if (partitions == NULL) {
        rc = pw_err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t s = 0; s < p->c->nsources; s++) {
        topic_parts_t tp = {p->c->sources[s].topic, 0};
        if ((rc = pw_stream_topic_list(o->stream, count_topic, &tp, err)) != 0)
            goto fail;
        if (tp.partitions == 0) {
            rc = pw_err_set(err, PW_ECONF, "%s:%d: source '%s': topic '%s' does not exist "
                            "(list it under stream.topics, or `pitwall stream create`)",
                            o->conf_path, p->c->sources[s].line, p->c->sources[s].name,
                            tp.topic);
            goto fail;
        }
        partitions[s] = tp.partitions;
    }
    if (o->reset) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s/", p->c->group ? p->c->group : "pipeline");
        if ((rc = st_results_checkpoint_clear(o->store, prefix, err)) != 0)
            goto fail;
    }
    p->w = calloc((size_t)p->nworkers, sizeof *p->w);
    if (p->w == NULL) {
        rc = pw_err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < p->nworkers; i++) {
        p->w[i].index = i;
        if ((rc = setup_worker(p, &p->w[i], partitions, err)) != 0)
            goto fail;
        if ((rc = restore_worker(p, &p->w[i], err)) != 0)
            goto fail;
    }
    /* A checkpoint of a run with more workers would be left behind silently. */
    {
        char name[300];
        void *blob = NULL;
        size_t len = 0;
        pw_err_t e2 = {0};
        ckpt_name(p, p->nworkers, name, sizeof name);
        if (st_results_checkpoint_get(o->store, name, &blob, &len, &e2) == 0) {
            free(blob);
            rc = pw_err_set(err, PW_ECONF, "checkpoint '%s' exists: the group ran with more "
                            "than %d workers; run with that many, or --reset", name,
                            p->nworkers);
            goto fail;
        }
    }
    free(partitions);
    *out = p;
    return 0;
fail:
    free(partitions);
    pl_pipeline_destroy(p);
    return rc;
}

int pl_pipeline_start(pl_pipeline_t *p, pw_err_t *err)
{
    if (pthread_create(&p->writer, NULL, writer_main, p) != 0)
        return pw_err_set(err, -EAGAIN, "cannot start the checkpoint writer thread");
    p->writer_started = true;
    for (int i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) != 0) {
            fail(p, -EAGAIN, "cannot start worker thread %d", i);
            /* Workers never started count as finished for the writer. */
            pthread_mutex_lock(&p->mu);
            for (int k = i; k < p->nworkers; k++)
                p->w[k].finished = true;
            pthread_cond_broadcast(&p->wcv);
            pthread_mutex_unlock(&p->mu);
            return pw_err_set(err, -EAGAIN, "cannot start worker thread %d", i);
        }
        p->w[i].started = true;
    }
    return 0;
}

bool pl_pipeline_done(pl_pipeline_t *p)
{
    pthread_mutex_lock(&p->mu);
    int finished = 0;
    for (int i = 0; i < p->nworkers; i++)
        finished += p->w[i].finished;
    pthread_mutex_unlock(&p->mu);
    return finished == p->nworkers;
}

int pl_pipeline_stop(pl_pipeline_t *p, pw_err_t *err)
{
    if (p == NULL)
        return 0;
    if (p->stopped)
        return p->error ? pw_err_set(err, p->error, "%s", p->error_msg) : 0;
    p->stopped = true;
    p->stop = 1;
    for (int i = 0; i < p->nworkers; i++)
        if (p->w[i].started)
            pthread_join(p->w[i].thread, NULL);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        p->w[i].finished = true;
    pthread_cond_broadcast(&p->wcv);
    pthread_mutex_unlock(&p->mu);
    if (p->writer_started)
        pthread_join(p->writer, NULL);
    if (p->error)
        return pw_err_set(err, p->error, "%s", p->error_msg);
    return 0;
}

void pl_pipeline_destroy(pl_pipeline_t *p)
{
    if (p == NULL)
        return;
    pw_err_t err = {0};
    if (p->writer_started)
        pl_pipeline_stop(p, &err);
    for (int i = 0; p->w && i < p->nworkers; i++)
        destroy_worker(p, &p->w[i]);
    free(p->w);
    pl_graph_destroy(p->g);
    pthread_cond_destroy(&p->wcv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- stats ---------------------------------------------------------------- */

int pl_pipeline_stats(pl_pipeline_t *p, pl_stats_t *s)
{
    int nn = p->g->nnodes;
    if (s->ops == NULL || s->nops != nn) {
        free(s->ops);
        s->ops = calloc((size_t)nn, sizeof *s->ops);
        if (s->ops == NULL)
            return -ENOMEM;
        s->nops = nn;
    }
    pl_op_stats_t *ops = s->ops;
    memset(s, 0, sizeof *s);
    s->ops = ops;
    s->nops = nn;
    s->workers = p->nworkers;
    pw_hist_init(&s->e2e);
    pw_hist_init(&s->graph);
    for (int j = 0; j < nn; j++) {
        memset(&ops[j], 0, sizeof ops[j]);
        ops[j].name = p->g->nodes[j].conf->name;
        ops[j].op = p->g->nodes[j].def->name;
        pw_hist_init(&ops[j].latency);
    }
    s->watermark_ns = PL_WATERMARK_MAX;
    pthread_mutex_lock(&p->mu);
    int finished = 0;
    for (int i = 0; i < p->nworkers; i++) {
        const worker_t *w = &p->w[i];
        s->messages += w->pub.messages;
        s->records += w->pub.records;
        s->malformed += w->pub.malformed;
        s->skipped_retention += w->pub.skipped;
        if (w->pub.watermark_ns < s->watermark_ns)
            s->watermark_ns = w->pub.watermark_ns;
        pw_hist_merge(&s->e2e, &w->pub.e2e);
        pw_hist_merge(&s->graph, &w->pub.graph);
        for (int j = 0; j < nn; j++) {
            pl_op_counters_t *d = &ops[j].cnt;
            const pl_op_counters_t *c = &w->pub.cnt[j];
            d->in += c->in;
            d->out += c->out;
            d->late += c->late;
            d->dropped += c->dropped;
            d->evicted += c->evicted;
            d->keys += c->keys;
            d->keys_refused += c->keys_refused;
            d->outside += c->outside;
            pw_hist_merge(&ops[j].latency, &w->pub.lat[j]);
        }
        finished += w->finished;
    }
    s->checkpoints = p->checkpoints;
    s->results_stored = p->results_stored;
    s->e2e_store = p->e2e_store;
    s->done = finished == p->nworkers;
    s->error = p->error;
    snprintf(s->error_msg, sizeof s->error_msg, "%s", p->error_msg);
    pthread_mutex_unlock(&p->mu);
    int64_t now = pw_wall_ns();
    s->watermark_lag_ns = (s->watermark_ns > PL_WATERMARK_MIN && s->watermark_ns < now)
                              ? now - s->watermark_ns : 0;
    return 0;
}

void pl_stats_fini(pl_stats_t *s)
{
    free(s->ops);
    s->ops = NULL;
    s->nops = 0;
}

static double per_s(uint64_t cur, uint64_t prev, double dt)
{
    return dt > 0 && cur >= prev ? (double)(cur - prev) / dt : 0;
}

void pl_stats_print(FILE *f, const pl_stats_t *s, const pl_stats_t *prev, double dt)
{
    double us = 1e-3;
    fprintf(f, "pipeline: %d workers, %" PRIu64 " records (%.0f/s), %" PRIu64
            " malformed, watermark lag %.0f ms, %" PRIu64 " checkpoints, %" PRIu64
            " results stored; ingest->graph p50 %.0f us p99 %.0f us; ingest->sink p99 %.0f us; "
            "ingest->store p99 %.1f ms\n",
            s->workers, s->records, prev ? per_s(s->records, prev->records, dt) : 0.0,
            s->malformed, (double)s->watermark_lag_ns / 1e6, s->checkpoints, s->results_stored,
            (double)pw_hist_quantile(&s->graph, 0.5) * us,
            (double)pw_hist_quantile(&s->graph, 0.99) * us,
            (double)pw_hist_quantile(&s->e2e, 0.99) * us,
            (double)pw_hist_quantile(&s->e2e_store, 0.99) / 1e6);
    if (s->nops > 0)
        fprintf(f, "  %-20s %-12s %12s %12s %8s %8s %8s %8s %8s %8s\n", "operator", "op", "in/s",
            "out/s", "late", "dropped", "keys", "p50_us", "p99_us", "p999_us");
    for (int j = 0; j < s->nops; j++) {
        const pl_op_stats_t *o = &s->ops[j];
        const pl_op_stats_t *q = prev && prev->nops == s->nops ? &prev->ops[j] : NULL;
        fprintf(f, "  %-20.20s %-12.12s %12.0f %12.0f %8" PRIu64 " %8" PRIu64 " %8" PRIu64
                " %8.1f %8.1f %8.1f\n", o->name, o->op,
                q ? per_s(o->cnt.in, q->cnt.in, dt) : (double)o->cnt.in,
                q ? per_s(o->cnt.out, q->cnt.out, dt) : (double)o->cnt.out,
                o->cnt.late, o->cnt.dropped + o->cnt.keys_refused, o->cnt.keys,
                (double)pw_hist_quantile(&o->latency, 0.5) * us,
                (double)pw_hist_quantile(&o->latency, 0.99) * us,
                (double)pw_hist_quantile(&o->latency, 0.999) * us);
    }
}
