/*
 * The server under load with one stalled client (api/PROTOCOL.md, "Slow
 * clients and missed updates"): a real server on 127.0.0.1:0, 50 fast
 * libwebsockets clients serviced by their own thread, and a raw TCP client
 * that does the WebSocket handshake by hand, subscribes, reads the
 * acknowledgement and then never reads again (with a small receive
 * buffer). A producer thread offers updates of 104 names for a few
 * seconds (and large results of other names only the stalled client
 * subscribes to, to fill its socket soon), then a final value of every name.
 * Every fast client must get every final value promptly and never be
 * closed; no offer may drop or stall; the stalled client must end closed
 * as too slow (4001), counted by the hub.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_conf.h"
#include "api/api_hub.h"
#include "api/api_server.h"
#include "core/pw_body.h"
#include "core/pw_conf.h"
#include "core/pw_hist.h"
#include "core/pw_time.h"

#define LIVE_TOKEN "live-token-0123456789"
#define FAST 50
/*
 * Names: HOT of them updated every tick (the high rate: a lagging client
 * only conflates them), the rest in turn, one every COLD_EVERY ticks: a
 * client's set of names owed grows at that slow pace while it lags, so a
 * fast client that the loaded machine holds back for a while is not taken
 * for a stalled one, while the stalled client, which never reads again,
 * passes client_queue + max_behind names (16 + 64 < NAMES) and is closed.
 */
#define NAMES 104
#define HOT 2
#define COLD_EVERY 2
#define TICK_NS (10 * PW_NS_PER_MS)  /* 200 hot + 50 cold updates a second */
#define FINAL_TICK_NS (10 * PW_NS_PER_MS)
#define RUN_NS (4 * PW_NS_PER_S)
#define FINAL_BASE 1000000000LL      /* seq of a name's final value: FINAL_BASE + name */
/* Large results only the stalled client subscribes to: they fill its
 * socket's buffers (a few MB on loopback) within a second or two. */
#define BULK_NAMES 20
#define BULK_BYTES 16000

static api_conf_t conf;
static api_hub_t *hub;
static api_server_t *srv;

static void conf_set(const char *assignment)
{
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_set(&api_conf_section, &conf, assignment, &err), 0, "%s: %s",
                 assignment, err.msg);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&api_conf_section, &conf, &err), 0, "%s", err.msg);
    conf_set("listen=127.0.0.1");
    conf_set("port=0");
    conf_set("dashboards=");
    conf_set("tokens=[{token: " LIVE_TOKEN ", scopes: [read:live]}]");
    conf_set("limits.client_queue=16");
    conf_set("limits.max_behind=64");
    api_hub_opts_t ho = api_hub_opts_default();
    ho.producers = 1;
    ho.client_queue = (size_t)conf.limits.client_queue;
    ho.max_behind = (size_t)conf.limits.max_behind;
    ho.max_subscriptions = (size_t)conf.limits.max_subscriptions;
    cr_assert_eq(api_hub_create(&ho, &hub, &err), 0, "%s", err.msg);
    api_server_opts_t so = {.conf = &conf, .hub = hub};
    cr_assert_eq(api_server_create(&so, &srv, &err), 0, "%s", err.msg);
    cr_assert_eq(api_server_start(srv, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    api_server_destroy(srv);
    srv = NULL;
    api_hub_destroy(hub);
    hub = NULL;
    pw_conf_fini(&api_conf_section, &conf);
}

TestSuite(api_ws_load, .init = setup, .fini = teardown, .timeout = 30);

/* ---- The stalled client: a WebSocket by hand over a plain socket ---------- */

static int stalled_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    int small = 4096; /* before connect, so the window stays small */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)api_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s",
                 strerror(errno));
    static const char req[] =
        "GET /v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " LIVE_TOKEN "\r\n\r\n";
    cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    return fd;
}

/* Read exactly n bytes within the deadline. */
static void read_exact(int fd, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        int64_t left_ms = (deadline - pw_mono_ns()) / PW_NS_PER_MS;
        cr_assert_gt(left_ms, 0, "stalled client: timed out reading its first bytes");
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_geq(poll(&p, 1, (int)left_ms), 0);
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        cr_assert_gt(r, 0, "stalled client: connection ended early");
        got += (size_t)r;
    }
}

/* The handshake reply, byte by byte up to the blank line (nothing after it
 * is read: the server sends nothing before a subscribe). */
static void stalled_handshake(int fd)
{
    char reply[2048];
    size_t len = 0;
    int64_t deadline = pw_mono_ns() + 5 * PW_NS_PER_S;
    while (len < sizeof reply - 1 && (len < 4 || memcmp(reply + len - 4, "\r\n\r\n", 4)))
        read_exact(fd, reply + len++, 1, deadline);
    reply[len] = '\0';
    cr_assert(!strncmp(reply, "HTTP/1.1 101", 12), "handshake refused: %s", reply);
}

/* Send one masked text frame (client frames must be masked). */
static void stalled_send(int fd, const char *text)
{
    size_t n = strlen(text);
    cr_assert_lt(n, 126);
    unsigned char f[256];
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f[0] = 0x81;
    f[1] = (unsigned char)(0x80 | n);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = (unsigned char)text[i] ^ mask[i % 4];
    cr_assert_eq(write(fd, f, 6 + n), (ssize_t)(6 + n));
}

/* One frame header: opcode and payload length. */
static size_t frame_header(const unsigned char *b, size_t avail, int *opcode, size_t *plen)
{
    if (avail < 2)
        return 0;
    size_t h = 2, len = b[1] & 0x7f;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (size_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        h = 10;
    }
    *opcode = b[0] & 0x0f;
    *plen = len;
    return h;
}

/* Read the next whole frame (the subscribe acknowledgement). */
static char *stalled_read_frame(int fd)
{
    unsigned char h[10];
    int64_t deadline = pw_mono_ns() + 5 * PW_NS_PER_S;
    read_exact(fd, h, 2, deadline);
    size_t more = (h[1] & 0x7f) == 126 ? 2 : (h[1] & 0x7f) == 127 ? 8 : 0;
    read_exact(fd, h + 2, more, deadline);
    int op;
    size_t len;
    cr_assert_gt(frame_header(h, 2 + more, &op, &len), 0);
    char *p = calloc(1, len + 1);
    read_exact(fd, p, len, deadline);
    return p;
}

typedef struct stalled_end {
    bool eof;            /* the server hung up (EOF or reset) */
    int close_code;      /* from a close frame, if one got through */
    int updates;
    long max_missed;
} stalled_end_t;

/* Read what the stalled client was sent until the server's hang-up. */
static stalled_end_t stalled_drain(int fd, int timeout_ms)
{
    stalled_end_t e = {0};
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    int64_t deadline = pw_mono_ns() + (int64_t)timeout_ms * PW_NS_PER_MS;
    while (!e.eof) {
        int64_t left_ms = (deadline - pw_mono_ns()) / PW_NS_PER_MS;
        if (left_ms <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left_ms) <= 0)
            continue;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            e.eof = r == 0 || errno == ECONNRESET;
        else
            len += (size_t)r;
    }
    size_t off = 0;
    for (;;) {
        int op;
        size_t plen, h = frame_header(buf + off, len - off, &op, &plen);
        if (h == 0 || off + h + plen > len)
            break;
        const char *payload = (const char *)buf + off + h;
        if (op == 0x8 && plen >= 2)
            e.close_code = (unsigned char)payload[0] << 8 | (unsigned char)payload[1];
        if (op == 0x1 && plen > 15 && !strncmp(payload, "{\"op\":\"update\"", 14)) {
            e.updates++;
            const char *m = memmem(payload, plen, "\"missed\":", 9);
            long missed = m ? strtol(m + 9, NULL, 10) : 0;
            e.max_missed = missed > e.max_missed ? missed : e.max_missed;
        }
        off += h + plen;
    }
    free(buf);
    return e;
}

/* ---- The fast clients: one lws context, its own thread --------------------- */

typedef struct fconn {
    struct lws *wsi;
    bool sent_sub, subscribed, closed;
    int close_code;
    int nfinal;                    /* names whose final value arrived */
    bool final[NAMES];
    uint64_t updates, missed, bad;
    int64_t max_lat_ns;
    char *rx;
    size_t rx_len;
} fconn_t;

typedef struct fast {
    struct lws_context *ctx;
    lws_sorted_usec_list_t sul;
    pthread_t thread;
    atomic_int stop, nsubscribed, ndone, nclosed;
    bool stopping;                 /* closes from here on are ours */
    fconn_t c[FAST];
    pw_hist_t lat;                 /* offer -> arrival, every update */
} fast_t;

static fast_t fast;

static void fast_message(fconn_t *c, const char *m, size_t len, int64_t arrival)
{
    json_error_t je;
    json_t *j = json_loadb(m, len, 0, &je);
    const char *op = json_string_value(json_object_get(j, "op"));
    if (op && !strcmp(op, "subscribed")) {
        c->subscribed = true;
        atomic_fetch_add(&fast.nsubscribed, 1);
    } else if (op && (!strcmp(op, "update") || !strcmp(op, "snapshot"))) {
        c->updates++;
        c->missed += (uint64_t)json_integer_value(json_object_get(j, "missed"));
        int64_t ts = json_integer_value(json_object_get(j, "ts_ns"));
        int64_t seq = json_integer_value(json_object_get(json_object_get(j, "data"), "seq"));
        const char *key = json_string_value(json_object_get(j, "key"));
        int name = key && key[0] == 'n' ? atoi(key + 1) : -1;
        if (arrival - ts > c->max_lat_ns)
            c->max_lat_ns = arrival - ts;
        pw_hist_record(&fast.lat, (uint64_t)(arrival > ts ? arrival - ts : 0));
        if (name >= 0 && name < NAMES && seq == FINAL_BASE + name && !c->final[name]) {
            c->final[name] = true;
            if (++c->nfinal == NAMES)
                atomic_fetch_add(&fast.ndone, 1);
        }
    } else {
        c->bad++;
    }
    json_decref(j);
}

static int fast_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    fconn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        static const char auth[] = "Bearer " LIVE_TOKEN;
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
            static const char sub[] = "{\"op\":\"subscribe\",\"topics\":[\"load/#\"]}";
            unsigned char buf[LWS_PRE + sizeof sub];
            memcpy(buf + LWS_PRE, sub, sizeof sub - 1);
            if (lws_write(wsi, buf + LWS_PRE, sizeof sub - 1, LWS_WRITE_TEXT) <
                (int)sizeof sub - 1)
                return -1;
            c->sent_sub = true;
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        int64_t now = pw_wall_ns();
        c->rx = realloc(c->rx, c->rx_len + len + 1);
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            fast_message(c, c->rx, c->rx_len, now);
            c->rx_len = 0;
        }
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2)
            c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c && !c->closed && !fast.stopping) {
            c->closed = true;
            atomic_fetch_add(&fast.nclosed, 1);
        }
        if (c)
            c->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols fast_protocols[] = {
    {.name = "load-client", .callback = fast_callback, .rx_buffer_size = 65536},
    {0},
};

static void fast_tick(lws_sorted_usec_list_t *sul)
{
    lws_sul_schedule(fast.ctx, 0, sul, fast_tick, 10000);
}

static void *fast_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&fast.stop))
        if (lws_service(fast.ctx, 0) < 0)
            break;
    return NULL;
}

static void fast_start(void)
{
    memset(&fast, 0, sizeof fast);
    pw_hist_init(&fast.lat);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = fast_protocols;
    fast.ctx = lws_create_context(&info);
    cr_assert_not_null(fast.ctx);
    lws_sul_schedule(fast.ctx, 0, &fast.sul, fast_tick, 10000);
    for (int i = 0; i < FAST; i++) {
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = fast.ctx;
        ci.address = "127.0.0.1";
        ci.port = api_server_port(srv);
        ci.path = "/v1/live";
        ci.host = "127.0.0.1";
        ci.origin = "127.0.0.1";
        ci.local_protocol_name = "load-client";
        ci.userdata = &fast.c[i];
        ci.pwsi = &fast.c[i].wsi;
        cr_assert_not_null(lws_client_connect_via_info(&ci), "client %d: cannot connect", i);
    }
    cr_assert_eq(pthread_create(&fast.thread, NULL, fast_thread, NULL), 0);
}

static void fast_stop(void)
{
    atomic_store(&fast.stop, 1);
    lws_cancel_service(fast.ctx);
    pthread_join(fast.thread, NULL);
    fast.stopping = true;
    lws_context_destroy(fast.ctx);
    for (int i = 0; i < FAST; i++)
        free(fast.c[i].rx);
}

/* Wait for a counter with a deadline; returns its value. */
static int wait_count(atomic_int *v, int want, int timeout_ms)
{
    int64_t deadline = pw_mono_ns() + (int64_t)timeout_ms * PW_NS_PER_MS;
    while (atomic_load(v) < want && pw_mono_ns() < deadline)
        pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
    return atomic_load(v);
}

/* ---- The producer ----------------------------------------------------------- */

typedef struct producer {
    pthread_t thread;
    uint64_t offers, results, dropped;
    int64_t max_offer_ns;
} producer_t;

static void offer_one(producer_t *p, pw_result_t *rec, size_t n)
{
    pw_results_t batch = {.n = n, .cap = n, .rec = rec};
    int64_t t0 = pw_mono_ns();
    p->dropped += api_hub_offer(hub, 0, &batch);
    int64_t dt = pw_mono_ns() - t0;
    p->max_offer_ns = dt > p->max_offer_ns ? dt : p->max_offer_ns;
    p->offers++;
    p->results += n;
}

static void fill(pw_body_t *b, pw_result_t *r, const char *topic, const char *key, int64_t seq,
                 size_t pad_len)
{
    static char pad[BULK_BYTES];
    if (!pad[0])
        memset(pad, 'x', sizeof pad);
    pw_body_clear(b);
    pw_body_map(b, pad_len ? 2 : 1);
    pw_body_key(b, "seq");
    pw_body_i64(b, seq);
    if (pad_len) {
        pw_body_key(b, "pad");
        pw_body_str(b, pad, pad_len);
    }
    *r = (pw_result_t){.ts_ns = pw_wall_ns(), .version = 1, .topic = topic, .key = key,
                       .topic_len = (uint32_t)strlen(topic), .key_len = (uint32_t)strlen(key),
                       .body = b->data, .body_len = (uint32_t)b->len};
}

static void *producer_thread(void *arg)
{
    producer_t *p = arg;
    static char keys[NAMES][16], bulk[BULK_NAMES][16];
    pw_body_t bodies[HOT + 2];
    pw_result_t rec[HOT + 2];
    for (int k = 0; k < NAMES; k++)
        snprintf(keys[k], sizeof keys[k], "n%d", k);
    for (int k = 0; k < BULK_NAMES; k++)
        snprintf(bulk[k], sizeof bulk[k], "b%d", k);
    for (int i = 0; i < HOT + 2; i++)
        pw_body_init(&bodies[i]);
    int64_t t = pw_mono_ns(), end = t + RUN_NS, seq = 0;
    for (int tick = 0, cold = HOT; t < end; tick++) {
        size_t n = 0;
        for (; n < HOT; n++)
            fill(&bodies[n], &rec[n], "load", keys[n], seq++, 0);
        if (tick % COLD_EVERY == 0) {
            fill(&bodies[n], &rec[n], "load", keys[cold], seq++, 0);
            n++;
            cold = cold + 1 < NAMES ? cold + 1 : HOT;
        }
        fill(&bodies[n], &rec[n], "bulk", bulk[tick % BULK_NAMES], seq++, BULK_BYTES);
        n++;
        offer_one(p, rec, n);
        t += TICK_NS;
        pw_sleep_until_ns(t);
    }
    /* The final value of every name, one at a time. */
    for (int k = 0; k < NAMES; k++) {
        fill(&bodies[0], &rec[0], "load", keys[k], FINAL_BASE + k, 0);
        offer_one(p, rec, 1);
        t += FINAL_TICK_NS;
        pw_sleep_until_ns(t);
    }
    for (int i = 0; i < HOT + 2; i++)
        pw_body_fini(&bodies[i]);
    return NULL;
}

/* ---- The test --------------------------------------------------------------- */

Test(api_ws_load, a_stalled_client_slows_no_one_and_is_closed_as_too_slow, .timeout = 40)
{
    int stalled = stalled_open();
    stalled_handshake(stalled);
    stalled_send(stalled, "{\"op\":\"subscribe\",\"topics\":[\"load/#\",\"bulk/#\"]}");
    char *ack = stalled_read_frame(stalled);
    cr_assert(strstr(ack, "\"subscribed\""), "stalled client's ack: %s", ack);
    free(ack);
    /* From here on the stalled client reads nothing until the end. */

    fast_start();
    cr_assert_eq(wait_count(&fast.nsubscribed, FAST, 10000), FAST,
                 "only %d of %d fast clients subscribed", atomic_load(&fast.nsubscribed), FAST);

    producer_t prod = {0};
    int64_t t0 = pw_mono_ns();
    cr_assert_eq(pthread_create(&prod.thread, NULL, producer_thread, &prod), 0);
    pthread_join(prod.thread, NULL);
    int64_t published_ns = pw_mono_ns() - t0;

    /* Every fast client holds every final value within 8 s of the last offer. */
    int done = wait_count(&fast.ndone, FAST, 8000);
    int64_t final_wait_ns = pw_mono_ns() - t0 - published_ns;
    fast_stop();
    stalled_end_t se = stalled_drain(stalled, 5000);
    close(stalled);
    api_server_stop(srv);
    api_hub_stats_t hs;
    api_hub_stats(hub, &hs);

    uint64_t min_rx = UINT64_MAX, max_rx = 0;
    int64_t max_lat = 0;
    for (int i = 0; i < FAST; i++) {
        fconn_t *c = &fast.c[i];
        cr_expect(!c->closed, "fast client %d was closed (code %d)", i, c->close_code);
        cr_expect_eq(c->nfinal, NAMES, "fast client %d has %d of %d final values", i,
                     c->nfinal, NAMES);
        cr_expect_eq(c->bad, 0, "fast client %d got %llu messages it did not understand", i,
                     (unsigned long long)c->bad);
        min_rx = c->updates < min_rx ? c->updates : min_rx;
        max_rx = c->updates > max_rx ? c->updates : max_rx;
        max_lat = c->max_lat_ns > max_lat ? c->max_lat_ns : max_lat;
    }
    cr_log_info("load: %llu results in %llu offers over %.1f s; fast clients got %llu..%llu "
                "messages, offer->arrival p50 %.2f ms p99 %.2f ms max %.1f ms; final values "
                "in %.0f ms; slowest offer %.2f ms; stalled client: %d updates, most missed "
                "%ld, close code %d, hung up %d; hub: too_slow %llu conflated %llu missed %llu",
                (unsigned long long)prod.results, (unsigned long long)prod.offers,
                (double)published_ns / 1e9, (unsigned long long)min_rx,
                (unsigned long long)max_rx, (double)pw_hist_quantile(&fast.lat, 0.5) / 1e6,
                (double)pw_hist_quantile(&fast.lat, 0.99) / 1e6, (double)max_lat / 1e6,
                (double)final_wait_ns / 1e6, (double)prod.max_offer_ns / 1e6, se.updates,
                se.max_missed, se.close_code, se.eof, (unsigned long long)hs.too_slow,
                (unsigned long long)hs.conflated, (unsigned long long)hs.missed);
    cr_assert_eq(done, FAST, "%d of %d fast clients got every final value in 8 s", done, FAST);
    /* Bounds loose enough for a loaded machine under ASan; a client held up
     * by the stalled one would wait for the whole run. */
    cr_assert_lt(pw_hist_quantile(&fast.lat, 0.99), PW_NS_PER_S,
                 "fast clients' p99 offer->arrival is %.0f ms",
                 (double)pw_hist_quantile(&fast.lat, 0.99) / 1e6);
    cr_assert_lt(max_lat, 5 * PW_NS_PER_S, "a fast client waited %.0f ms for an update",
                 (double)max_lat / 1e6);
    /* The producer: nothing dropped, never held up (the offer is a ring copy). */
    cr_assert_eq(prod.dropped, 0, "%llu results dropped by the hand-off",
                 (unsigned long long)prod.dropped);
    cr_assert_eq(hs.dropped_full, 0);
    cr_assert_eq(hs.offered, prod.results);
    cr_assert_lt(prod.max_offer_ns, 100 * PW_NS_PER_MS, "an offer took %.1f ms",
                 (double)prod.max_offer_ns / 1e6);
    cr_assert_lt(published_ns, RUN_NS + NAMES * FINAL_TICK_NS + 2 * PW_NS_PER_S, "the producer fell behind its pace");
    /* The stalled client: conflated, then closed as too slow. */
    cr_assert_eq(hs.too_slow, 1, "hub too_slow = %llu (want the stalled client only)",
                 (unsigned long long)hs.too_slow);
    cr_assert(se.eof, "the stalled client was never hung up on");
    if (se.close_code)
        cr_assert_eq(se.close_code, 4001);
    cr_assert_lt(se.updates, (int)prod.results, "the stalled client got everything");
}
