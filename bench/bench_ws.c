/*
 * WebSocket benchmarks: the API server (api/api_server.h) on 127.0.0.1
 * with real libwebsockets clients in a thread of the bench.
 *
 * ws_latency: sensor -> WebSocket. Points are made at 1M/s (one a
 * microsecond, sent as a batch of 100 every 100 us, each stamped with the
 * wall-clock time its sensor made it), appended to the embedded log, read by the pipeline (one
 * worker) through filter -> key_by -> 1 ms tumbling window (max) -> hook;
 * the hook offers the results into the hub, the server's loop drains them
 * and one subscribed client stamps each update when it arrives. A window
 * result's ts_ns is its end, a wall-clock instant: every point of the
 * window was made before it, and the result cannot exist before a point
 * past it is read (the watermark), so arrival - ts_ns is the sensor ->
 * screen delay of the window's data. It is measured twice: with the log's
 * default durability (group commit, 10 ms: the reported percentiles) and
 * with durability none (commit per append) in the note, with the
 * hook -> socket leg on its own, so the reader sees what dominates.
 *
 * ws_fanout: 1,000 WebSocket connections from one client context (one
 * thread) subscribed to fan/#; the bench offers one result 60 times a
 * second (ten names in turn), stamped with the wall clock when offered.
 * One latency sample is offer -> arrival at one client. Every client must
 * account for every update: received, or conflated into a newer value
 * with a missed count; the note gives the fewest and most received.
 */
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api_conf.h"
#include "api/api_hub.h"
#include "api/api_server.h"
#include "bench/bench.h"
#include "core/pw_body.h"
#include "core/pw_codec.h"
#include "core/pw_conf.h"
#include "core/pw_fs.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "pipeline/pl_pipeline.h"
#include "store/st_log.h"
#include "store/st_results.h"

#define WS_TOKEN "bench-ws-token-0123456789abcdef"
#define WS_RX_MAX 2048           /* largest message a bench client keeps */

/* ---- A client context of many connections, serviced by its own thread ---- */

typedef struct wsconn {
    struct lws *wsi;
    struct wsbench *b;
    bool sent_sub, subscribed, closed;
    uint64_t updates, missed, snapshots;
    int64_t last_seq;            /* ws_fanout: seq of the newest update */
    size_t rx_len;
    char rx[WS_RX_MAX + 1];
} wsconn_t;

typedef struct wsbench {
    struct lws_context *ctx;
    lws_sorted_usec_list_t sul;
    pthread_t thread;
    bool thread_started;
    atomic_int stop;
    const char *sub_msg;         /* the subscribe message every connection sends */
    wsconn_t *conns;
    int nconns;
    int port;
    atomic_int nsubscribed, nclosed;
    int64_t final_seq;           /* ws_fanout: the last update's seq (set before start) */
    atomic_int nfinal;           /* connections that received it */
    /* Owned by the client thread while it runs. */
    atomic_int measuring;        /* record latencies into lat */
    int64_t measure_from_ns;     /* ws_latency: only windows ending after this */
    pw_hist_t lat;               /* arrival - ts_ns */
    pw_hist_t leg;               /* ws_latency: arrival - hook */
    const _Atomic int64_t *hook_ts, *hook_at; /* ws_latency: hook times by window */
    size_t hook_slots;
    int64_t window_ns;
    uint64_t bad;                /* messages that were not understood */
    int64_t seq_max_ns[4096];    /* ws_fanout, verbose: slowest arrival per seq */
} wsbench_t;

/* The integer after "key": in a rendered message, or def. */
static int64_t json_int_after(const char *msg, const char *key, int64_t def)
{
    const char *p = strstr(msg, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : def;
}

static void on_message(wsbench_t *b, wsconn_t *c, int64_t arrival_ns)
{
    const char *m = c->rx;
    if (strncmp(m, "{\"op\":\"update\"", 14) == 0) {
        c->updates++;
        int64_t missed = json_int_after(m, "\"missed\":", 0);
        c->missed += missed > 0 ? (uint64_t)missed : 0;
        c->last_seq = json_int_after(m, "\"seq\":", -1);
        if (c->last_seq == b->final_seq)
            atomic_fetch_add(&b->nfinal, 1);
        int64_t ts = json_int_after(m, "\"ts_ns\":", 0);
        if (!atomic_load_explicit(&b->measuring, memory_order_relaxed) ||
            ts < b->measure_from_ns)
            return;
        pw_hist_record(&b->lat, (uint64_t)(arrival_ns > ts ? arrival_ns - ts : 0));
        if (c->last_seq >= 0 && c->last_seq < 4096 && arrival_ns - ts > b->seq_max_ns[c->last_seq])
            b->seq_max_ns[c->last_seq] = arrival_ns - ts;
        if (b->hook_ts) {
            size_t slot = (size_t)(ts / b->window_ns) % b->hook_slots;
            if (atomic_load_explicit(&b->hook_ts[slot], memory_order_acquire) == ts) {
                int64_t at = atomic_load_explicit(&b->hook_at[slot], memory_order_relaxed);
                pw_hist_record(&b->leg, (uint64_t)(arrival_ns > at ? arrival_ns - at : 0));
            }
        }
    } else if (strncmp(m, "{\"op\":\"snapshot\"", 16) == 0) {
        c->snapshots++;
    } else if (strncmp(m, "{\"op\":\"subscribed\"", 18) == 0) {
        if (!c->subscribed)
            atomic_fetch_add(&b->nsubscribed, 1);
        c->subscribed = true;
    } else {
        b->bad++;
    }
}

static int wsb_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    wsconn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        static const char auth[] = "Bearer " WS_TOKEN;
        unsigned char **p = in, *end = (*p) + len;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                         (const unsigned char *)auth, (int)strlen(auth), p, end))
            return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c && !c->sent_sub) {
            unsigned char buf[LWS_PRE + 256];
            size_t n = strlen(c->b->sub_msg);
            memcpy(buf + LWS_PRE, c->b->sub_msg, n);
            if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
                return -1;
            c->sent_sub = true;
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        int64_t now = pw_wall_ns();
        if (c == NULL)
            break;
        if (c->rx_len + len <= WS_RX_MAX) {
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        } else {
            c->rx_len = WS_RX_MAX + 1; /* too long: not ours to understand */
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            if (c->rx_len <= WS_RX_MAX) {
                c->rx[c->rx_len] = '\0';
                on_message(c->b, c, now);
            } else {
                c->b->bad++;
            }
            c->rx_len = 0;
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c && !c->closed) {
            c->closed = true;
            c->wsi = NULL;
            atomic_fetch_add(&c->b->nclosed, 1);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols wsb_protocols[] = {
    {.name = "bench-client", .callback = wsb_callback, .rx_buffer_size = 4096},
    {0},
};

/* Wake the client loop every 10 ms so it sees the stop flag. */
static void wsb_tick(lws_sorted_usec_list_t *sul)
{
    wsbench_t *b = lws_container_of(sul, wsbench_t, sul);
    lws_sul_schedule(b->ctx, 0, &b->sul, wsb_tick, 10000);
}

static void *wsb_thread(void *arg)
{
    wsbench_t *b = arg;
    while (!atomic_load(&b->stop))
        if (lws_service(b->ctx, 0) < 0)
            break;
    return NULL;
}

/* Connect conns [from, to) (on the client thread's context; before the
 * thread runs, or from it). */
static void wsb_connect(wsbench_t *b, int from, int to)
{
    for (int i = from; i < to; i++) {
        wsconn_t *c = &b->conns[i];
        c->b = b;
        c->last_seq = -1;
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = b->ctx;
        ci.address = "127.0.0.1";
        ci.port = b->port;
        ci.path = "/v1/live";
        ci.host = "127.0.0.1";
        ci.origin = "127.0.0.1";
        ci.local_protocol_name = "bench-client";
        ci.userdata = c;
        ci.pwsi = &c->wsi;
        if (lws_client_connect_via_info(&ci) == NULL && !c->closed) {
            c->closed = true;
            atomic_fetch_add(&b->nclosed, 1);
        }
    }
}

static int wsb_open(wsbench_t *b, int port, int nconns, const char *sub_msg, pw_err_t *err)
{
    b->port = port;
    b->nconns = nconns;
    b->sub_msg = sub_msg;
    b->final_seq = -2;
    pw_hist_init(&b->lat);
    pw_hist_init(&b->leg);
    b->conns = calloc((size_t)nconns, sizeof *b->conns);
    if (b->conns == NULL)
        return pw_err_set(err, PW_ENOMEM, "out of memory");
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = wsb_protocols;
    info.user = b;
    b->ctx = lws_create_context(&info);
    if (b->ctx == NULL)
        return pw_err_set(err, PW_ENOMEM, "ws bench: cannot make the client context");
    lws_sul_schedule(b->ctx, 0, &b->sul, wsb_tick, 10000);
    return 0;
}

static int wsb_start(wsbench_t *b, pw_err_t *err)
{
    int rc = pthread_create(&b->thread, NULL, wsb_thread, b);
    if (rc)
        return pw_err_set(err, -rc, "ws bench: cannot start the client thread");
    b->thread_started = true;
    return 0;
}

/* Wait until every connection subscribed (or closed), or timeout_ms. */
static int wsb_wait_subscribed(wsbench_t *b, int timeout_ms, pw_err_t *err)
{
    int64_t deadline = pw_mono_ns() + (int64_t)timeout_ms * PW_NS_PER_MS;
    while (atomic_load(&b->nsubscribed) + atomic_load(&b->nclosed) < b->nconns &&
           pw_mono_ns() < deadline)
        pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
    int sub = atomic_load(&b->nsubscribed);
    if (sub < b->nconns)
        return pw_err_set(err, PW_ECAPACITY,
                          "ws bench: %d of %d clients subscribed in %d ms (%d closed)", sub,
                          b->nconns, timeout_ms, atomic_load(&b->nclosed));
    return 0;
}

static void wsb_stop(wsbench_t *b)
{
    if (b->thread_started) {
        atomic_store(&b->stop, 1);
        lws_cancel_service(b->ctx);
        pthread_join(b->thread, NULL);
        b->thread_started = false;
    }
}

static void wsb_close(wsbench_t *b)
{
    wsb_stop(b);
    if (b->ctx)
        lws_context_destroy(b->ctx);
    b->ctx = NULL;
    free(b->conns);
    b->conns = NULL;
}

/* ---- A server on 127.0.0.1:0 with a hub ---------------------------------- */

typedef struct wssrv {
    api_conf_t conf;
    bool conf_ok;
    api_hub_t *hub;
    api_server_t *srv;
} wssrv_t;

static int wssrv_start(wssrv_t *w, int producers, int max_clients, pw_err_t *err)
{
    int rc = pw_conf_defaults(&api_conf_section, &w->conf, err);
    if (rc)
        return rc;
    w->conf_ok = true;
    char set[64];
    snprintf(set, sizeof set, "limits.max_clients=%d", max_clients);
    const char *sets[] = {"listen=127.0.0.1", "port=0", "dashboards=", set};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if ((rc = pw_conf_set(&api_conf_section, &w->conf, sets[i], err)) != 0)
            return rc;
    api_hub_opts_t ho = api_hub_opts_default();
    ho.producers = producers;
    ho.client_queue = (size_t)w->conf.limits.client_queue;
    ho.max_behind = (size_t)w->conf.limits.max_behind;
    ho.max_subscriptions = (size_t)w->conf.limits.max_subscriptions;
    if ((rc = api_hub_create(&ho, &w->hub, err)) != 0)
        return rc;
    api_server_opts_t so = {.conf = &w->conf, .admin_token = WS_TOKEN, .hub = w->hub,
                            .conf_path = "bench"};
    if ((rc = api_server_create(&so, &w->srv, err)) != 0)
        return rc;
    return api_server_start(w->srv, err);
}

static void wssrv_stop(wssrv_t *w)
{
    api_server_destroy(w->srv);
    w->srv = NULL;
    api_hub_destroy(w->hub);
    w->hub = NULL;
    if (w->conf_ok)
        pw_conf_fini(&api_conf_section, &w->conf);
    w->conf_ok = false;
}

/* ---- ws_latency ------------------------------------------------------------- */

#define LAT_CARS 40
#define LAT_CHANNELS 8
#define LAT_TICK_NS (100 * PW_NS_PER_US)   /* a batch every 100 us ... */
#define LAT_TICK_POINTS 100                /* ... of 100 points: 1M points/s */
#define LAT_WINDOW_NS PW_NS_PER_MS
#define LAT_HOOK_SLOTS 16384               /* windows remembered for the hook leg */
#define LAT_WARMUP_NS (500 * PW_NS_PER_MS)

static const char *const lat_channels[LAT_CHANNELS] = {
    "speed_mps", "rpm", "throttle", "brake", "gear", "fuel_l", "steer", "lap_dist_m"};

/* Four cars' speed, by car, in 1 ms windows: 4,000 results a second. */
static const char *LAT_GRAPH =
    "workers: 1\n"
    "checkpoint_interval: 500ms\n"
    "batch_records: 1024\n"
    "sources:\n"
    "  - {name: telemetry, topic: telemetry, disorder: 0ms, idle_timeout: 500ms}\n"
    "operators:\n"
    "  - {name: speed, input: [telemetry], filter: {channels: [speed_mps], "
    "entities: [car/1, car/2, car/3, car/4]}}\n"
    "  - {name: keyed, input: [speed], key_by: {by: [entity]}}\n"
    "  - {name: lat, input: [keyed], window: {type: tumbling, size: 1ms, aggregates: [max]}}\n"
    "  - {name: live, input: [lat], hook: {name: live}}\n";

typedef struct lat_run {
    api_hub_t *hub;
    _Atomic int64_t hook_ts[LAT_HOOK_SLOTS], hook_at[LAT_HOOK_SLOTS];
    atomic_ullong offered, dropped;
} lat_run_t;

/* The pipeline's hook (worker thread): into the hub, remembering when. */
static void lat_hook(void *ctx, const char *hook, int worker, const pw_results_t *r)
{
    (void)hook;
    lat_run_t *lr = ctx;
    int64_t now = pw_wall_ns();
    for (size_t i = 0; i < r->n; i++) {
        size_t slot = (size_t)(r->rec[i].ts_ns / LAT_WINDOW_NS) % LAT_HOOK_SLOTS;
        atomic_store_explicit(&lr->hook_at[slot], now, memory_order_relaxed);
        atomic_store_explicit(&lr->hook_ts[slot], r->rec[i].ts_ns, memory_order_release);
    }
    size_t dropped = api_hub_offer(lr->hub, worker, r);
    atomic_fetch_add(&lr->offered, r->n);
    atomic_fetch_add(&lr->dropped, dropped);
}

typedef struct lat_out {
    pw_hist_t lat, leg, log_graph;
    double points_per_s;
    uint64_t dropped, bad, results, missed, updates;
} lat_out_t;

/* One run: a fresh log with this durability, measured for secs. */
static int lat_run(const bench_opts_t *o, st_log_durability_t durability, double secs,
                   lat_out_t *out, pw_err_t *err)
{
    char logdir[4096], storedir[4096];
    snprintf(logdir, sizeof logdir, "%s/ws_lat_log", o->dir);
    snprintf(storedir, sizeof storedir, "%s/ws_lat_store", o->dir);
    pw_fs_remove_tree(logdir);
    pw_fs_remove_tree(storedir);
    pw_intern_t *ch = NULL, *ent = NULL, *lab = NULL;
    pw_stream_t *s = NULL;
    st_results_t *store = NULL;
    pl_pipeline_t *p = NULL;
    pl_conf_t c;
    pl_stats_t st = {0};
    wssrv_t w = {0};
    wsbench_t b = {0};
    pw_points_t pts;
    pw_codec_buf_t buf;
    lat_run_t *lr = calloc(1, sizeof *lr);
    memset(&c, 0, sizeof c);
    pw_points_init(&pts);
    pw_codec_buf_init(&buf);
    uint32_t ent_id[LAT_CARS], ch_id[LAT_CHANNELS];
    int rc = lr ? 0 : pw_err_set(err, PW_ENOMEM, "out of memory");
    if (rc == 0 && (pw_intern_create(64, &ch) || pw_intern_create(256, &ent) ||
                    pw_intern_create(64, &lab)))
        rc = pw_err_set(err, PW_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < LAT_CARS; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "car/%d", i + 1);
        if (pw_intern_add(ent, name, (size_t)n, &ent_id[i]))
            rc = pw_err_set(err, PW_ENOMEM, "out of memory");
    }
    for (int i = 0; rc == 0 && i < LAT_CHANNELS; i++)
        if (pw_intern_add(ch, lat_channels[i], strlen(lat_channels[i]), &ch_id[i]))
            rc = pw_err_set(err, PW_ENOMEM, "out of memory");
    st_log_opts_t lo = st_log_opts_default();
    lo.dir = logdir;
    lo.durability = durability;
    /* A 100-point batch is about 2.5 KB: an LMDB overflow page each, and
     * commits per append (durability none) copy leaf and branch pages
     * that a reader's snapshot may keep from reuse: room for 4x that. */
    lo.map_size_mb = (size_t)((secs + 2) * (PW_NS_PER_S / LAT_TICK_NS) * 16384 / 1048576) + 256;
    if (rc == 0)
        rc = st_stream_open_embedded(&lo, &s, err);
    if (rc == 0)
        rc = pw_stream_topic_create(s, "telemetry", 1, NULL, err);
    st_results_opts_t so = st_results_opts_default();
    so.dir = storedir;
    so.map_size_mb = 256;
    if (rc == 0)
        rc = st_results_open(&so, &store, err);
    if (rc == 0)
        rc = pw_conf_load_string("ws_latency", LAT_GRAPH, strlen(LAT_GRAPH), &pl_conf_section,
                                 &c, err);
    if (rc == 0)
        rc = wssrv_start(&w, 1, 16, err);
    if (rc == 0) {
        lr->hub = w.hub;
        rc = wsb_open(&b, api_server_port(w.srv), 1,
                      "{\"op\":\"subscribe\",\"topics\":[\"lat/#\"]}", err);
    }
    if (rc == 0) {
        b.hook_ts = lr->hook_ts;
        b.hook_at = lr->hook_at;
        b.hook_slots = LAT_HOOK_SLOTS;
        b.window_ns = LAT_WINDOW_NS;
        wsb_connect(&b, 0, 1);
        rc = wsb_start(&b, err);
    }
    if (rc == 0)
        rc = wsb_wait_subscribed(&b, 5000, err);
    pl_pipeline_opts_t po = {.conf = &c, .conf_path = "ws_latency", .names = {ch, ent, lab},
                             .stream = s, .store = store, .hook = lat_hook, .hook_ctx = lr};
    if (rc == 0)
        rc = pl_pipeline_create(&po, &p, err);
    if (rc == 0)
        rc = pl_pipeline_start(p, err);
    /*
     * Pace: a sensor makes a point every 1 us; every LAT_TICK_NS the points
     * of the last tick go out as one batch. A point's time is when the
     * schedule says the sensor made it (wall clock), not when this loop got
     * round to it: a stall of the appender (a group commit's fsync runs on
     * its thread) then counts in the latency instead of hiding it.
     */
    uint64_t made = 0, combo = 0;
    int64_t t = pw_mono_ns(), t0 = t, measure_at = t + LAT_WARMUP_NS;
    int64_t wall0 = pw_wall_ns() - t0;
    int64_t t_end = measure_at + (int64_t)(secs * PW_NS_PER_S);
    pw_hist_t graph_before;
    pw_hist_init(&graph_before);
    bool measuring = false;
    while (rc == 0 && t < t_end) {
        if (!measuring && t >= measure_at) {
            b.measure_from_ns = pw_wall_ns() + LAT_WINDOW_NS; /* read by the client thread
                                                                 after the atomic below */
            atomic_store(&b.measuring, 1);
            measuring = true;
            if (pl_pipeline_stats(p, &st) == 0)
                graph_before = st.graph;
        }
        pw_points_clear(&pts);
        for (int i = 0; i < LAT_TICK_POINTS && rc == 0; i++, combo++) {
            int64_t made_ns = wall0 + t - LAT_TICK_NS + i * (LAT_TICK_NS / LAT_TICK_POINTS);
            pw_point_t pt = {made_ns, ent_id[combo / LAT_CHANNELS % LAT_CARS],
                             ch_id[combo % LAT_CHANNELS], (double)(combo % 97)};
            if (pw_points_push(&pts, &pt))
                rc = pw_err_set(err, PW_ENOMEM, "out of memory");
        }
        pw_stream_pos_t pos;
        if (rc == 0)
            rc = pw_codec_encode_points(&buf, &pts, err);
        if (rc == 0)
            rc = pw_stream_append(s, "telemetry", 0, NULL, 0, buf.data, buf.len, &pos, err);
        if (rc == 0)
            rc = pw_stream_poll(s, NULL, err);
        made += pts.n;
        t += LAT_TICK_NS;
        if (pw_mono_ns() < t)
            pw_sleep_until_ns(t);
    }
    double elapsed = (double)(pw_mono_ns() - t0) / PW_NS_PER_S;
    if (rc == 0)
        rc = pw_stream_flush(s, 5000, NULL, err);
    /* Let the last windows reach the client. */
    if (rc == 0)
        pw_sleep_until_ns(pw_mono_ns() + 100 * PW_NS_PER_MS);
    atomic_store(&b.measuring, 0);
    if (p) {
        pw_err_t e2 = {0};
        int rc2 = pl_pipeline_stop(p, &e2);
        if (rc == 0 && rc2) {
            rc = rc2;
            *err = e2;
        }
        pl_pipeline_stats(p, &st);
    }
    wsb_stop(&b);
    if (rc == 0) {
        out->lat = b.lat;
        out->leg = b.leg;
        out->log_graph = st.graph;
        for (int i = 0; i < PW_HIST_BUCKETS; i++)
            out->log_graph.bucket[i] -= graph_before.bucket[i];
        out->log_graph.count -= graph_before.count;
        out->points_per_s = (double)made / elapsed;
        out->dropped = atomic_load(&lr->dropped);
        out->results = atomic_load(&lr->offered);
        out->bad = b.bad;
        out->missed = b.conns[0].missed;
        out->updates = b.conns[0].updates;
        if (b.lat.count == 0)
            rc = pw_err_set(err, PW_ECAPACITY, "ws_latency: no update reached the client "
                            "(%llu results offered)", (unsigned long long)out->results);
    }
    wsb_close(&b);
    pl_stats_fini(&st);
    pl_pipeline_destroy(p);
    wssrv_stop(&w);
    pw_conf_fini(&pl_conf_section, &c);
    st_results_close(store);
    pw_stream_close(s);
    pw_fs_remove_tree(logdir);
    pw_fs_remove_tree(storedir);
    pw_codec_buf_fini(&buf);
    pw_points_fini(&pts);
    pw_intern_destroy(ch);
    pw_intern_destroy(ent);
    pw_intern_destroy(lab);
    free(lr);
    return rc;
}

static double ms_q(const pw_hist_t *h, double q)
{
    return h->count ? (double)pw_hist_quantile(h, q) / 1e6 : 0;
}

int bench_ws_latency(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    signal(SIGPIPE, SIG_IGN);
    double secs = o->seconds > 5 ? o->seconds : 5;
    lat_out_t grp = {0}, none = {0};
    int rc = lat_run(o, ST_LOG_GROUP, secs, &grp, err);
    if (rc == 0 && (rc = lat_run(o, ST_LOG_NONE, secs / 2.5, &none, err)) != 0)
        pw_err_prefix(err, rc, "durability none: ");
    if (rc)
        return rc;
    r->points_per_s = grp.points_per_s;
    r->lat = grp.lat;
    snprintf(r->unit, sizeof r->unit, "sensor->WS, log group 10ms");
    snprintf(r->note, sizeof r->note,
             "p50/p99 ms: log+graph %.2f/%.2f, hook->WS %.2f/%.2f; durability none: "
             "sensor->WS %.2f/%.2f, hook->WS %.2f/%.2f; %llu dropped",
             ms_q(&grp.log_graph, 0.5), ms_q(&grp.log_graph, 0.99), ms_q(&grp.leg, 0.5),
             ms_q(&grp.leg, 0.99), ms_q(&none.lat, 0.5), ms_q(&none.lat, 0.99),
             ms_q(&none.leg, 0.5), ms_q(&none.leg, 0.99),
             (unsigned long long)(grp.dropped + none.dropped));
    if (getenv("PITWALL_BENCH_VERBOSE"))
        fprintf(stderr,
                "ws_latency: group: %llu samples p50 %.3f p99 %.3f max %.3f ms; log+graph "
                "p50 %.3f p99 %.3f; hook->WS p50 %.3f p99 %.3f; none: %llu samples p50 %.3f "
                "p99 %.3f max %.3f; log+graph p50 %.3f p99 %.3f; hook->WS p50 %.3f p99 %.3f; "
                "bad %llu; updates %llu+%llu missed of %llu+%llu offered\n",
                (unsigned long long)grp.lat.count, ms_q(&grp.lat, 0.5), ms_q(&grp.lat, 0.99),
                (double)grp.lat.max_ns / 1e6, ms_q(&grp.log_graph, 0.5),
                ms_q(&grp.log_graph, 0.99), ms_q(&grp.leg, 0.5), ms_q(&grp.leg, 0.99),
                (unsigned long long)none.lat.count, ms_q(&none.lat, 0.5),
                ms_q(&none.lat, 0.99), (double)none.lat.max_ns / 1e6,
                ms_q(&none.log_graph, 0.5), ms_q(&none.log_graph, 0.99), ms_q(&none.leg, 0.5),
                ms_q(&none.leg, 0.99), (unsigned long long)(grp.bad + none.bad),
                (unsigned long long)grp.updates, (unsigned long long)grp.missed,
                (unsigned long long)grp.results, (unsigned long long)none.results);
    return 0;
}

/* ---- ws_fanout -------------------------------------------------------------- */

#ifndef FAN_CLIENTS
#define FAN_CLIENTS 1000
#endif
#define FAN_RATE 60
#define FAN_NAMES 10
#define FAN_WARMUP 30            /* updates before measuring */
#define FAN_CONNECT_BATCH 100    /* connections opened at once */

/* Raise the soft open-file limit to what two ends of every connection need. */
static int fan_nofile(pw_err_t *err)
{
    struct rlimit rl;
    rlim_t want = 2 * FAN_CLIENTS + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
            return pw_err_set(err, PW_ECAPACITY, "ws_fanout: needs %llu open files, the hard "
                              "limit is %llu (ulimit -Hn)", (unsigned long long)want,
                              (unsigned long long)rl.rlim_max);
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl))
            return pw_err_set(err, PW_ECAPACITY, "ws_fanout: cannot raise the open-file limit");
    }
    return 0;
}

int bench_ws_fanout(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    signal(SIGPIPE, SIG_IGN);
    wssrv_t w = {0};
    wsbench_t b = {0};
    pw_body_t body;
    pw_body_init(&body);
    int rc = fan_nofile(err);
    if (rc == 0)
        rc = wssrv_start(&w, 1, FAN_CLIENTS + 100, err);
    if (rc == 0)
        rc = wsb_open(&b, api_server_port(w.srv), FAN_CLIENTS,
                      "{\"op\":\"subscribe\",\"topics\":[\"fan/#\"]}", err);
    /* Connect in batches so the listen backlog never overflows. */
    for (int i = 0; rc == 0 && i < FAN_CLIENTS; i += FAN_CONNECT_BATCH) {
        int to = i + FAN_CONNECT_BATCH < FAN_CLIENTS ? i + FAN_CONNECT_BATCH : FAN_CLIENTS;
        wsb_connect(&b, i, to);
        int64_t deadline = pw_mono_ns() + 10 * PW_NS_PER_S;
        while (atomic_load(&b.nsubscribed) + atomic_load(&b.nclosed) < to &&
               pw_mono_ns() < deadline)
            lws_service(b.ctx, 0);
    }
    double secs = o->seconds > 5 ? o->seconds : 5;
    int total = FAN_WARMUP + (int)(secs * FAN_RATE);
    b.final_seq = total - 1;
    if (rc == 0)
        rc = wsb_start(&b, err);
    if (rc == 0)
        rc = wsb_wait_subscribed(&b, 10000, err);
    char keys[FAN_NAMES][16];
    for (int k = 0; k < FAN_NAMES; k++)
        snprintf(keys[k], sizeof keys[k], "n%d", k);
    int64_t t = pw_mono_ns(), busy_from = 0;
    uint64_t dropped = 0;
    for (int seq = 0; rc == 0 && seq < total; seq++) {
        if (seq == FAN_WARMUP) {
            atomic_store(&b.measuring, 1);
            busy_from = t;
        }
        pw_body_clear(&body);
        pw_body_map(&body, 2);
        pw_body_key(&body, "seq");
        pw_body_i64(&body, seq);
        pw_body_key(&body, "fuel_l");
        pw_body_f64(&body, 100.0 - seq * 0.01);
        if (pw_body_ok(&body)) {
            rc = pw_err_set(err, PW_ENOMEM, "out of memory");
            break;
        }
        const char *key = keys[seq % FAN_NAMES];
        pw_result_t res = {.ts_ns = pw_wall_ns(), .version = 1, .topic = "fan", .key = key,
                           .topic_len = 3, .key_len = (uint32_t)strlen(key),
                           .body = body.data, .body_len = (uint32_t)body.len};
        pw_results_t batch = {.n = 1, .cap = 1, .rec = &res};
        dropped += api_hub_offer(w.hub, 0, &batch);
        t += PW_NS_PER_S / FAN_RATE;
        pw_sleep_until_ns(t);
    }
    /* Every client should hold the last update soon; give a loaded machine 5 s. */
    int64_t deadline = pw_mono_ns() + 5 * PW_NS_PER_S;
    while (rc == 0 && atomic_load(&b.nfinal) < FAN_CLIENTS && pw_mono_ns() < deadline)
        pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
    double elapsed = (double)(pw_mono_ns() - busy_from) / PW_NS_PER_S;
    wsb_stop(&b);
    if (rc == 0) {
        uint64_t min_rx = UINT64_MAX, max_rx = 0, missed = 0, total_rx = 0;
        int starved = 0, closed = 0, stale = 0;
        for (int i = 0; i < FAN_CLIENTS; i++) {
            wsconn_t *c = &b.conns[i];
            /* Updates sent after this client subscribed: all of them (it
             * subscribed before the first offer). */
            uint64_t seen = c->updates + c->missed;
            min_rx = c->updates < min_rx ? c->updates : min_rx;
            max_rx = c->updates > max_rx ? c->updates : max_rx;
            missed += c->missed;
            total_rx += c->updates;
            starved += seen < (uint64_t)total;
            stale += c->last_seq != total - 1;
            closed += c->closed;
        }
        if (b.lat.count == 0)
            rc = pw_err_set(err, PW_ECAPACITY, "ws_fanout: no update reached a client");
        if (rc == 0) {
            r->lat = b.lat;
            r->points_per_s = (double)total_rx / elapsed;
            snprintf(r->unit, sizeof r->unit, "offer->arrival, msgs/s");
            /* Starved: neither received nor told it missed some; stale: no
             * last update 5 s after it was offered; both should be 0. */
            snprintf(r->note, sizeof r->note,
                     "%d clients, %d/s, %d names; rx per client min %llu max %llu of %d, "
                     "missed %llu; starved %d stale %d closed %d dropped %llu; max %.1f ms",
                     FAN_CLIENTS, FAN_RATE, FAN_NAMES, (unsigned long long)min_rx,
                     (unsigned long long)max_rx, total, (unsigned long long)missed, starved,
                     stale, closed, (unsigned long long)dropped, (double)b.lat.max_ns / 1e6);
        }
    }
    if (getenv("PITWALL_BENCH_VERBOSE"))
        for (int i = 0; i < total && i < 4096; i++)
            if (b.seq_max_ns[i] > 10 * PW_NS_PER_MS)
                fprintf(stderr, "seq %d: slowest %.1f ms\n", i, (double)b.seq_max_ns[i] / 1e6);
    wsb_close(&b);
    wssrv_stop(&w);
    pw_body_fini(&body);
    return rc;
}
