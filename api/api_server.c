/*
 * api_server: the lws context, its service thread, HTTP (/health, JSON
 * 404s, the dashboards mount) and the WebSocket protocol of /v1/live.
 *
 * One lws protocol, "pitwall", serves both HTTP and WebSocket: lws binds a
 * WebSocket upgrade without a Sec-WebSocket-Protocol header to the first
 * protocol, and browsers send none. Callback mounts route /health and
 * /v1 to it; "/" is the dashboards folder (a file mount) when configured.
 *
 * Per WebSocket connection (conn_t, lws's per-session memory, touched on
 * the service thread only):
 * - rx: a message that arrives in one piece is parsed where lws holds it;
 *   one in pieces is gathered in a buffer of the connection's own (grown up
 *   to api.limits.max_message, kept for the next one).
 * - outbox: a small ring of the server's own replies (subscribed, pong,
 *   error), written before what the hub owes; a client that does not read
 *   them is closed.
 * - the hub client (api_hub_client_new), made at the first subscribe, in
 *   the format it (or ?format=) asks for.
 * Writes: one message per SERVER_WRITEABLE, from a send buffer shared by
 * every connection (single thread; lws copies what the kernel does not
 * take), so fan-out allocates nothing per message once the buffer has
 * reached the largest message.
 */
#include "api/api_server.h"

#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_auth.h"
#include "api/api_metrics.h"
#include "api/api_query.h"
#include "core/pw_log.h"
#include "core/pw_time.h"
#include "store/st_results.h"

/* Bad messages (malformed, unknown op, bad arguments) before a close. */
#define WS_MAX_BAD 3
/* Oversized messages before a close. */
#define WS_MAX_OVERSIZED 2
/* Replies of our own a connection may have unsent. */
#define OUTBOX_SLOTS 8
/* Most hub messages written in one writable callback. */
#define WRITES_PER_CALLBACK 16
/* Largest reply of our own, bytes (longer acks are shortened). */
#define OUTBOX_MSG_MAX 1024
/* How often rate-limited subscriptions are looked at, us. */
#define RATE_TICK_US 10000
/* How long stop waits for WebSockets to close, ns. */
#define STOP_GRACE_NS (500 * PW_NS_PER_MS)

/* Close codes (api/PROTOCOL.md). */
enum {
    CLOSE_GOING_AWAY = 1001,
    CLOSE_POLICY = 1008,
    CLOSE_TOO_BIG = 1009,
    CLOSE_TOO_SLOW = 4001,
    CLOSE_NOT_READING = 4002,
};

typedef struct conn conn_t;

typedef struct outmsg {
    size_t len;
    uint8_t buf[LWS_PRE + OUTBOX_MSG_MAX];
} outmsg_t;

/* A connection: HTTP request or WebSocket (lws per-session memory). */
struct conn {
    struct lws *wsi;
    conn_t *prev, *next;           /* the server's list of WebSockets */
    bool is_ws;
    unsigned scopes;
    api_fmt_t fmt;
    api_client_t *client;          /* NULL until the first subscribe */
    bool rated;                    /* a subscription has a max_rate */
    /* rx */
    bool in_msg, rx_over, rx_binary;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    int bad, oversized;
    /* outbox */
    outmsg_t *out;                 /* OUTBOX_SLOTS, allocated on establish */
    int out_head, out_n;
    /* close after the outbox is sent */
    int close_code;
    char close_reason[100];
    /* HTTP reply, between LWS_CALLBACK_HTTP and HTTP_WRITEABLE */
    int http_status;
    char *http_body;
    size_t http_len;
};

struct api_server {
    /* Set before start, read-only after. */
    api_hub_t *hub;
    api_auth_t *auth;
    struct st_results *store;
    api_health_fn health;
    void *health_ctx;
    api_metrics_fn metrics;
    void *metrics_ctx;
    char *iface;
    int port_conf;
    char *cert, *key;
    char *dashboards;
    char *conf_path;
    api_limits_conf_t lim;
    lws_retry_bo_t retry;
    struct lws_http_mount mounts[4];
    struct lws_protocols protocols[2];
    /* The owner's thread. */
    struct lws_context *ctx;
    pthread_t thread;
    bool thread_started;
    /* Any thread. */
    atomic_int port;
    atomic_int stop;
    /* The service thread only. */
    conn_t *conns;
    int nconns;
    bool stopping;
    uint8_t *sendbuf;
    size_t sendcap;
    lws_sorted_usec_list_t rate_sul;
    bool rate_scheduled;
};

static void rate_tick(lws_sorted_usec_list_t *sul);

/* ---- Small helpers ----------------------------------------------------- */

static api_server_t *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* Render j (stolen) compactly into dst[0..cap); returns the length or 0. */
static size_t dump_json(json_t *j, char *dst, size_t cap)
{
    if (j == NULL)
        return 0;
    size_t n = json_dumpb(j, dst, cap, JSON_COMPACT);
    json_decref(j);
    return n > 0 && n <= cap ? n : 0;
}

/* ---- HTTP ---------------------------------------------------------------- */

/*
 * Write status, headers and body at once: used where lws gives no later
 * writable callback (a refused WebSocket upgrade, HTTP/1 only there).
 */
static int http_reply_now(struct lws *wsi, int status, const char *body, size_t len,
                          bool auth_header)
{
    uint8_t buf[LWS_PRE + 4096];
    uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", len, &p, end))
        return -1;
    if (auth_header &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                    (const unsigned char *)"Bearer", 6, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len > sizeof buf - LWS_PRE)
        return -1;
    memcpy(buf + LWS_PRE, body, len);
    if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        return -1;
    return 0;
}

/* Queue a reply for HTTP_WRITEABLE (body copied); headers go now. */
static int http_reply_typed(struct lws *wsi, conn_t *c, int status, const char *type,
                            const char *body, size_t len, const char *next_cursor)
{
    uint8_t buf[LWS_PRE + 1024];
    uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    free(c->http_body);
    c->http_body = malloc(LWS_PRE + len + 1);
    if (c->http_body == NULL)
        return -1;
    memcpy(c->http_body + LWS_PRE, body, len);
    c->http_len = len;
    c->http_status = status;
    if (lws_add_http_common_headers(wsi, (unsigned)status, type, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        (next_cursor &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"x-next-cursor:",
                                     (const unsigned char *)next_cursor,
                                     (int)strlen(next_cursor), &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int http_reply(struct lws *wsi, conn_t *c, int status, const char *body, size_t len)
{
    return http_reply_typed(wsi, c, status, "application/json", body, len, NULL);
}

static int http_error(struct lws *wsi, conn_t *c, int status, const char *code,
                      const char *message)
{
    char body[1024];
    size_t n = dump_json(json_pack("{s:s, s:s}", "error", code, "message", message), body,
                         sizeof body);
    if (n == 0)
        n = (size_t)snprintf(body, sizeof body, "{\"error\":\"%s\"}", code);
    return http_reply(wsi, c, status, body, n);
}

static int http_health(api_server_t *s, struct lws *wsi, conn_t *c)
{
    const char *reasons[API_HEALTH_REASONS_MAX + 1];
    int n = 0;
    if (s->stopping)
        reasons[n++] = "stopping";
    if (s->health) {
        int k = s->health(s->health_ctx, reasons + n, API_HEALTH_REASONS_MAX);
        n += k > 0 ? (k > API_HEALTH_REASONS_MAX ? API_HEALTH_REASONS_MAX : k) : 0;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(reasons[i]));
    char body[2048];
    size_t len = dump_json(json_pack("{s:b, s:b, s:o, s:i}", "live", 1, "ready", n == 0,
                                     "reasons", arr, "clients", s->nconns),
                           body, sizeof body);
    if (len == 0)
        return -1;
    return http_reply(wsi, c, n == 0 ? 200 : 503, body, len);
}

/*
 * Does the request carry a token with scope need? 0 if so; else the 401 or
 * 403 reply is queued and 1 returned.
 */
static int http_auth(api_server_t *s, struct lws *wsi, conn_t *c, unsigned need)
{
    char hdr[API_AUTH_TOKEN_MAX + 64] = "", q[API_AUTH_TOKEN_MAX + 8] = "", body[512];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        snprintf(hdr, sizeof hdr, "Bearer -"); /* too long to be a token */
    const char *qt = lws_get_urlarg_by_name(wsi, "token=", q, sizeof q);
    api_auth_result_t r = api_auth_check(s->auth, hdr[0] ? hdr : NULL, qt, need, NULL);
    if (r == API_AUTH_OK)
        return 0;
    int status = api_auth_reply(r, need, body, sizeof body);
    if (http_reply(wsi, c, status, body, strlen(body)))
        return -1;
    return 1;
}

static int http_metrics(api_server_t *s, struct lws *wsi, conn_t *c)
{
    api_text_t t;
    api_text_init(&t);
    if (s->metrics)
        s->metrics(s->metrics_ctx, &t);
    api_hub_stats_t hs;
    api_hub_stats(s->hub, &hs);
    api_metrics_hub(&t, &hs);
    api_text_printf(&t, "# HELP pitwall_api_connections WebSocket connections open now.\n"
                        "# TYPE pitwall_api_connections gauge\npitwall_api_connections %d\n",
                    s->nconns);
    int rc = t.oom ? http_error(wsi, c, 500, "out_of_memory", "cannot build the metrics")
                   : http_reply_typed(wsi, c, 200, "text/plain; version=0.0.4", t.s, t.len,
                                      NULL);
    api_text_fini(&t);
    return rc;
}

/*
 * The query string as the client sent it, rebuilt from lws's fragments
 * (one per name=value, joined with '&'), into buf. Returns its length, or
 * -1 when it does not fit.
 */
static int http_query_string(struct lws *wsi, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0;; i++) {
        char frag[2048];
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            return lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0 ? -1 : (int)len;
        if (n == 0)
            break;
        if (len + (len > 0) + (size_t)n + 1 > cap)
            return -1;
        if (len > 0)
            buf[len++] = '&';
        memcpy(buf + len, frag, (size_t)n);
        len += (size_t)n;
        buf[len] = '\0';
    }
    return (int)len;
}

static int http_query(api_server_t *s, struct lws *wsi, conn_t *c, const char *uri)
{
    if (s->store == NULL)
        return http_error(wsi, c, 503, "no_store", "this server has no result store");
    char q[8192];
    if (http_query_string(wsi, q, sizeof q) < 0)
        return http_error(wsi, c, 414, "query_too_long", "the query string is too long");
    api_resp_t r = {0};
    int rc = api_query_handle(s->store, uri, q, &r);
    if (rc < 0)
        return http_error(wsi, c, 500, "out_of_memory", "cannot build the answer");
    if (rc == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "no such path: %s", uri);
        return http_error(wsi, c, 404, "not_found", msg);
    }
    rc = http_reply_typed(wsi, c, r.status, r.content_type, r.body, r.body_len,
                          r.next_cursor);
    api_resp_free(&r);
    return rc;
}

static int on_http(api_server_t *s, struct lws *wsi, conn_t *c)
{
    char uri[512];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return http_error(wsi, c, 405, "method_not_allowed", "only GET is served");
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0)
        return http_error(wsi, c, 414, "uri_too_long", "the path is too long");
    if (!strcmp(uri, "/health"))
        return http_health(s, wsi, c);
    if (!strcmp(uri, "/metrics") || api_query_serves(uri)) {
        int a = http_auth(s, wsi, c, API_SCOPE_HISTORY);
        if (a)
            return a < 0 ? -1 : 0;
        return !strcmp(uri, "/metrics") ? http_metrics(s, wsi, c) : http_query(s, wsi, c, uri);
    }
    if (!strcmp(uri, "/v1/live"))
        return http_error(wsi, c, 400, "websocket_required",
                          "/v1/live is a WebSocket: connect with an Upgrade request");
    char msg[600];
    snprintf(msg, sizeof msg, "no such path: %s", uri);
    return http_error(wsi, c, 404, "not_found", msg);
}

static int on_http_writeable(struct lws *wsi, conn_t *c)
{
    if (c->http_body == NULL)
        return 0;
    uint8_t *b = (uint8_t *)c->http_body + LWS_PRE;
    int n = lws_write(wsi, b, c->http_len, LWS_WRITE_HTTP_FINAL);
    free(c->http_body);
    c->http_body = NULL;
    if (n != (int)c->http_len)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- WebSocket: admission ------------------------------------------------ */

/* Before the upgrade: the path, room for one more client, the token. */
static int ws_filter(api_server_t *s, struct lws *wsi, conn_t *c)
{
    char uri[512], body[512];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/v1/live")) {
        static const char nf[] = "{\"error\":\"not_found\",\"message\":\"the WebSocket is "
                                 "at /v1/live\"}";
        http_reply_now(wsi, 404, nf, sizeof nf - 1, false);
        return -1;
    }
    if (s->stopping || s->nconns >= s->lim.max_clients) {
        int n = snprintf(body, sizeof body, "{\"error\":\"too_many_clients\",\"message\":"
                         "\"the server has its most clients (%lld); try again later\"}",
                         (long long)s->lim.max_clients);
        if (s->stopping)
            n = snprintf(body, sizeof body, "{\"error\":\"stopping\",\"message\":"
                         "\"the server is stopping\"}");
        http_reply_now(wsi, 503, body, (size_t)n, false);
        return -1;
    }
    char hdr[API_AUTH_TOKEN_MAX + 64] = "", q[API_AUTH_TOKEN_MAX + 8] = "";
    const char *qt = NULL;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        snprintf(hdr, sizeof hdr, "Bearer -"); /* too long to be a token */
    qt = lws_get_urlarg_by_name(wsi, "token=", q, sizeof q);
    unsigned scopes = 0;
    api_auth_result_t r = api_auth_check(s->auth, hdr[0] ? hdr : NULL, qt, API_SCOPE_LIVE,
                                         &scopes);
    if (r != API_AUTH_OK) {
        int status = api_auth_reply(r, API_SCOPE_LIVE, body, sizeof body);
        http_reply_now(wsi, status, body, strlen(body), status == 401);
        return -1;
    }
    char f[32];
    const char *fmt = lws_get_urlarg_by_name(wsi, "format=", f, sizeof f);
    if (fmt && strcmp(fmt, "json") && strcmp(fmt, "msgpack")) {
        static const char bf[] = "{\"error\":\"bad_format\",\"message\":\"format is json or "
                                 "msgpack\"}";
        http_reply_now(wsi, 400, bf, sizeof bf - 1, false);
        return -1;
    }
    memset(c, 0, sizeof *c);
    c->scopes = scopes;
    c->fmt = fmt && !strcmp(fmt, "msgpack") ? API_FMT_MSGPACK : API_FMT_JSON;
    return 0;
}

static int ws_established(api_server_t *s, struct lws *wsi, conn_t *c)
{
    c->out = calloc(OUTBOX_SLOTS, sizeof *c->out);
    if (c->out == NULL)
        return -1;
    c->wsi = wsi;
    c->is_ws = true;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    return 0;
}

static void ws_closed(api_server_t *s, conn_t *c)
{
    if (!c->is_ws)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    api_hub_client_free(s->hub, c->client);
    free(c->rx);
    free(c->out);
    c->is_ws = false;
    c->client = NULL;
    c->rx = NULL;
    c->out = NULL;
}

/* ---- WebSocket: replies of our own --------------------------------------- */

/* Ask for a close with code and reason once the outbox is sent. */
static void ws_close_later(conn_t *c, int code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

/* Queue a reply (stolen); a full outbox means the client is not reading. */
static void ws_reply(conn_t *c, json_t *j)
{
    if (c->out_n == OUTBOX_SLOTS) {
        json_decref(j);
        ws_close_later(c, CLOSE_NOT_READING, "not reading replies");
        return;
    }
    outmsg_t *m = &c->out[(c->out_head + c->out_n) % OUTBOX_SLOTS];
    m->len = dump_json(j, (char *)m->buf + LWS_PRE, OUTBOX_MSG_MAX);
    if (m->len == 0) /* cannot happen for our small replies; say so rather than drop */
        m->len = (size_t)snprintf((char *)m->buf + LWS_PRE, OUTBOX_MSG_MAX,
                                  "{\"op\":\"error\",\"code\":\"internal\",\"message\":"
                                  "\"reply too long\"}");
    c->out_n++;
    lws_callback_on_writable(c->wsi);
}

/* Add "id" (echoed from the request) to a reply when there is one. */
static json_t *with_id(json_t *reply, json_t *id)
{
    if (reply && id)
        json_object_set(reply, "id", id);
    return reply;
}

/*
 * An error reply; kind says what it counts against: 0 nothing, 1 a bad
 * message, 2 an oversized one. Closes when the count passes its limit.
 */
static void ws_error(conn_t *c, json_t *id, const char *code, const char *message, int kind)
{
    ws_reply(c, with_id(json_pack("{s:s, s:s, s:s}", "op", "error", "code", code, "message",
                                  message),
                        id));
    if (kind == 1 && ++c->bad >= WS_MAX_BAD)
        ws_close_later(c, CLOSE_POLICY, "too many bad messages");
    else if (kind == 2 && ++c->oversized >= WS_MAX_OVERSIZED)
        ws_close_later(c, CLOSE_TOO_BIG, "messages too large");
}

/*
 * Acknowledge a subscribe or unsubscribe, echoing its topics, or only
 * their count when the list is too long for a reply of our own.
 */
static void ws_ack(conn_t *c, const char *op, json_t *topics, json_t *id)
{
    json_t *j = with_id(json_pack("{s:s, s:O}", "op", op, "topics", topics), id);
    if (j && json_dumpb(j, NULL, 0, JSON_COMPACT) > OUTBOX_MSG_MAX) {
        json_decref(j);
        j = with_id(json_pack("{s:s, s:I}", "op", op, "count",
                              (json_int_t)json_array_size(topics)),
                    id);
    }
    ws_reply(c, j);
}

/* ---- WebSocket: client messages ------------------------------------------ */

/* Keys a message of op may hold; anything else is a typo worth an error. */
static bool key_allowed(const char *op, const char *key)
{
    static const char *const common[] = {"op", "id", NULL};
    static const char *const sub[] = {"topics", "fields", "max_rate", "format", NULL};
    static const char *const unsub[] = {"topics", NULL};
    for (int i = 0; common[i]; i++)
        if (!strcmp(key, common[i]))
            return true;
    const char *const *extra = !strcmp(op, "subscribe")     ? sub
                               : !strcmp(op, "unsubscribe") ? unsub
                                                            : NULL;
    for (int i = 0; extra && extra[i]; i++)
        if (!strcmp(key, extra[i]))
            return true;
    return false;
}

/*
 * The strings of array j (a key of the message) into *out (malloc'd; the
 * strings stay j's). Returns the count, or -1 with msg set.
 */
static long string_array(json_t *j, const char *name, bool need_one, size_t max,
                         const char ***out, char *msg, size_t msglen)
{
    *out = NULL;
    if (!json_is_array(j)) {
        snprintf(msg, msglen, "\"%s\" must be an array of strings", name);
        return -1;
    }
    size_t n = json_array_size(j);
    if (need_one && n == 0) {
        snprintf(msg, msglen, "\"%s\" is empty", name);
        return -1;
    }
    if (n > max) {
        snprintf(msg, msglen, "\"%s\" holds %zu entries; at most %zu", name, n, max);
        return -1;
    }
    const char **v = calloc(n + 1, sizeof *v);
    if (v == NULL) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(j, i));
        if (v[i] == NULL || v[i][0] == '\0') {
            snprintf(msg, msglen, "\"%s\"[%zu] must be a non-empty string", name, i);
            free(v);
            return -1;
        }
    }
    *out = v;
    return (long)n;
}

static void ws_subscribe(api_server_t *s, conn_t *c, json_t *m, json_t *id)
{
    char msg[256];
    const char **topics = NULL, **fields = NULL;
    long nt, nf = 0;
    double rate = 0;
    size_t max = (size_t)s->lim.max_subscriptions;
    if (!(c->scopes & API_SCOPE_LIVE)) {
        ws_error(c, id, "forbidden", "the token lacks the scope read:live", 0);
        return;
    }
    nt = string_array(json_object_get(m, "topics"), "topics", true, max, &topics, msg,
                      sizeof msg);
    json_t *jf = json_object_get(m, "fields");
    if (nt >= 0 && jf)
        nf = string_array(jf, "fields", false, 256, &fields, msg, sizeof msg);
    json_t *jr = json_object_get(m, "max_rate");
    if (nt >= 0 && nf >= 0 && jr) {
        rate = json_number_value(jr);
        if (!json_is_number(jr) || !(rate >= 0 && rate <= 1e6)) {
            snprintf(msg, sizeof msg, "\"max_rate\" must be a number of updates per second "
                                      "from 0 (no limit) to 1e6");
            nf = -1;
        }
    }
    json_t *jfmt = json_object_get(m, "format");
    api_fmt_t fmt = c->fmt;
    if (nt >= 0 && nf >= 0 && jfmt) {
        const char *f = json_string_value(jfmt);
        if (f && !strcmp(f, "json"))
            fmt = API_FMT_JSON;
        else if (f && !strcmp(f, "msgpack"))
            fmt = API_FMT_MSGPACK;
        else {
            snprintf(msg, sizeof msg, "\"format\" is \"json\" or \"msgpack\"");
            nf = -1;
        }
        if (nf >= 0 && c->client && fmt != c->fmt) {
            snprintf(msg, sizeof msg, "the format is set by the first subscribe (%s) and "
                                      "stays for the connection",
                     c->fmt == API_FMT_JSON ? "json" : "msgpack");
            nf = -1;
        }
    }
    if (nt < 0 || nf < 0) {
        ws_error(c, id, "bad_request", msg, 1);
        goto out;
    }
    if (c->client == NULL) {
        c->fmt = fmt;
        c->client = api_hub_client_new(s->hub, fmt);
        if (c->client == NULL) {
            ws_error(c, id, "internal", "out of memory", 0);
            goto out;
        }
    }
    pw_err_t err = {0};
    int rc = api_hub_subscribe(s->hub, c->client, topics, (size_t)nt, fields, (size_t)nf, rate,
                               &err);
    if (rc) {
        const char *code = rc == PW_ECAPACITY ? "too_many_subscriptions"
                           : rc == PW_EARG    ? "bad_pattern"
                                              : "internal";
        ws_error(c, id, code, err.msg[0] ? err.msg : pw_strerror(rc), rc == PW_EARG);
        goto out;
    }
    if (rate > 0 && !c->rated) {
        c->rated = true;
        if (!s->rate_scheduled) {
            s->rate_scheduled = true;
            lws_sul_schedule(s->ctx, 0, &s->rate_sul, rate_tick, RATE_TICK_US);
        }
    }
    ws_ack(c, "subscribed", json_object_get(m, "topics"), id);
out:
    free(topics);
    free(fields);
}

static void ws_unsubscribe(api_server_t *s, conn_t *c, json_t *m, json_t *id)
{
    char msg[256];
    const char **topics = NULL;
    long nt = string_array(json_object_get(m, "topics"), "topics", true, 1u << 20, &topics,
                           msg, sizeof msg);
    if (nt < 0) {
        ws_error(c, id, "bad_request", msg, 1);
        return;
    }
    pw_err_t err = {0};
    int rc = c->client ? api_hub_unsubscribe(s->hub, c->client, topics, (size_t)nt, &err) : 0;
    if (rc)
        ws_error(c, id, "bad_request", err.msg[0] ? err.msg : pw_strerror(rc), 1);
    else
        ws_ack(c, "unsubscribed", json_object_get(m, "topics"), id);
    free(topics);
}

static void ws_message(api_server_t *s, conn_t *c, const void *data, size_t len, bool binary)
{
    char msg[300];
    if (binary) {
        ws_error(c, NULL, "bad_request", "messages to the server are JSON text", 1);
        return;
    }
    json_error_t je;
    json_t *m = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (m == NULL) {
        snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d: %s", je.line,
                 je.column, je.text);
        ws_error(c, NULL, "bad_json", msg, 1);
        return;
    }
    json_t *id = NULL;
    const char *op = NULL;
    if (!json_is_object(m)) {
        ws_error(c, NULL, "bad_request", "a message is a JSON object with an \"op\"", 1);
        goto out;
    }
    id = json_object_get(m, "id");
    if (id && !json_is_string(id) && !json_is_integer(id)) {
        ws_error(c, NULL, "bad_request", "\"id\" must be a string or an integer", 1);
        goto out;
    }
    if (id && json_is_string(id) && json_string_length(id) > 64) {
        ws_error(c, NULL, "bad_request", "\"id\" is longer than 64 bytes", 1);
        goto out;
    }
    op = json_string_value(json_object_get(m, "op"));
    if (op == NULL) {
        ws_error(c, id, "bad_request", "a message needs \"op\": subscribe, unsubscribe or "
                                       "ping", 1);
        goto out;
    }
    if (strcmp(op, "subscribe") && strcmp(op, "unsubscribe") && strcmp(op, "ping")) {
        snprintf(msg, sizeof msg, "unknown op '%.40s' (expected subscribe, unsubscribe or "
                                  "ping)", op);
        ws_error(c, id, "unknown_op", msg, 1);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        if (!key_allowed(op, key)) {
            snprintf(msg, sizeof msg, "unknown key '%.40s' in %s", key, op);
            ws_error(c, id, "bad_request", msg, 1);
            goto out;
        }
    }
    if (!strcmp(op, "subscribe"))
        ws_subscribe(s, c, m, id);
    else if (!strcmp(op, "unsubscribe"))
        ws_unsubscribe(s, c, m, id);
    else
        ws_reply(c, with_id(json_pack("{s:s}", "op", "pong"), id));
out:
    json_decref(m);
}

static void ws_oversized(api_server_t *s, conn_t *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "message larger than %llu bytes",
             (unsigned long long)s->lim.max_message);
    ws_error(c, NULL, "too_large", msg, 2);
}

/* A piece of a message; whole messages are handled when their last piece is in. */
static int ws_receive(api_server_t *s, struct lws *wsi, conn_t *c, const void *in, size_t len)
{
    bool last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (c->close_code)
        return 0; /* closing: ignore the rest */
    if (!c->in_msg) {
        c->in_msg = true;
        c->rx_len = 0;
        c->rx_over = false;
        c->rx_binary = lws_frame_is_binary(wsi) != 0;
        if (last) { /* the common case: the whole message in one piece */
            c->in_msg = false;
            if (len > s->lim.max_message)
                ws_oversized(s, c);
            else
                ws_message(s, c, in, len, c->rx_binary);
            return 0;
        }
    }
    if (!c->rx_over && c->rx_len + len > s->lim.max_message) {
        c->rx_over = true;
        c->rx_len = 0;
    }
    if (!c->rx_over) {
        if (c->rx_len + len > c->rx_cap) {
            size_t cap = c->rx_cap ? c->rx_cap : 4096;
            while (cap < c->rx_len + len)
                cap *= 2;
            if (cap > s->lim.max_message)
                cap = (size_t)s->lim.max_message;
            uint8_t *b = realloc(c->rx, cap);
            if (b == NULL)
                return -1;
            c->rx = b;
            c->rx_cap = cap;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (last) {
        c->in_msg = false;
        if (c->rx_over)
            ws_oversized(s, c);
        else
            ws_message(s, c, c->rx, c->rx_len, c->rx_binary);
    }
    return 0;
}

/* ---- WebSocket: writes ----------------------------------------------------- */

static bool ws_owed(api_server_t *s, conn_t *c, int64_t now)
{
    return c->out_n > 0 || c->close_code ||
           (c->client && api_hub_pending(s->hub, c->client, now));
}

static int ws_writeable(api_server_t *s, struct lws *wsi, conn_t *c)
{
    int64_t now = pw_mono_ns();
    if (c->out_n > 0) {
        outmsg_t *m = &c->out[c->out_head];
        c->out_head = (c->out_head + 1) % OUTBOX_SLOTS;
        c->out_n--;
        if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
            return -1;
    } else if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    } else if (c->client) {
        /* Several owed messages per callback while the socket takes them:
         * a client with a backlog catches up without a poll per message. */
        for (int sent = 0; sent < WRITES_PER_CALLBACK; sent++) {
            if (sent > 0 && lws_send_pipe_choked(wsi))
                break;
            const void *msg;
            size_t len;
            api_msg_kind_t k = api_hub_next(s->hub, c->client, now, &msg, &len);
            if (k == API_MSG_NONE)
                break;
            if (k == API_MSG_TOO_SLOW) {
                c->close_code = CLOSE_TOO_SLOW;
                snprintf(c->close_reason, sizeof c->close_reason,
                         "too slow: fell too far behind");
                lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                                 (unsigned char *)c->close_reason, strlen(c->close_reason));
                return -1;
            }
            if (LWS_PRE + len > s->sendcap) {
                size_t cap = s->sendcap ? s->sendcap : 64 * 1024;
                while (cap < LWS_PRE + len)
                    cap *= 2;
                uint8_t *b = realloc(s->sendbuf, cap);
                if (b == NULL)
                    return -1;
                s->sendbuf = b;
                s->sendcap = cap;
            }
            memcpy(s->sendbuf + LWS_PRE, msg, len);
            enum lws_write_protocol wp = c->fmt == API_FMT_MSGPACK ? LWS_WRITE_BINARY
                                                                    : LWS_WRITE_TEXT;
            if (lws_write(wsi, s->sendbuf + LWS_PRE, len, wp) < (int)len)
                return -1;
        }
    }
    if (ws_owed(s, c, now))
        lws_callback_on_writable(wsi);
    return 0;
}

/* Ask for writes for every client the hub owes something. */
static void ws_kick_all(api_server_t *s)
{
    int64_t now = pw_mono_ns();
    for (conn_t *c = s->conns; c; c = c->next)
        if (ws_owed(s, c, now))
            lws_callback_on_writable(c->wsi);
}

/* Rate-limited subscriptions come due with time, not with a drain. */
static void rate_tick(lws_sorted_usec_list_t *sul)
{
    api_server_t *s = lws_container_of(sul, api_server_t, rate_sul);
    bool any = false;
    for (conn_t *c = s->conns; c; c = c->next)
        any |= c->rated;
    s->rate_scheduled = any;
    if (!any)
        return;
    ws_kick_all(s);
    lws_sul_schedule(s->ctx, 0, &s->rate_sul, rate_tick, RATE_TICK_US);
}

/* The loop was woken: by producers (drain) or by stop. */
static void on_wake(api_server_t *s)
{
    api_hub_drain(s->hub);
    if (atomic_load(&s->stop) && !s->stopping) {
        s->stopping = true;
        for (conn_t *c = s->conns; c; c = c->next)
            ws_close_later(c, CLOSE_GOING_AWAY, "server stopping");
    }
    ws_kick_all(s);
}

/* ---- The one protocol -------------------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    api_server_t *s = server_of(wsi);
    conn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        on_wake(s);
        return 0;
    case LWS_CALLBACK_HTTP:
        return on_http(s, wsi, c) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_http_writeable(wsi, c);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c) {
            free(c->http_body);
            c->http_body = NULL;
        }
        break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return ws_filter(s, wsi, c);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(s, wsi, c);
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(s, wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable(s, wsi, c);
    case LWS_CALLBACK_CLOSED:
        ws_closed(s, c);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- Lifecycle ------------------------------------------------------------------ */

static void lws_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    pw_log(level == LLL_ERR ? PW_LOG_ERROR : PW_LOG_WARN, "api: lws: %.*s", (int)n, line);
}

int api_server_create(const api_server_opts_t *o, api_server_t **out, pw_err_t *err)
{
    if (o == NULL || o->conf == NULL || o->hub == NULL)
        return pw_err_set(err, PW_EARG, "api server: no configuration or hub");
    const api_conf_t *cf = o->conf;
    int rc = api_conf_check(cf, o->conf_path, err);
    if (rc)
        return rc;
    api_server_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory");
    s->hub = o->hub;
    s->store = o->store;
    s->health = o->health;
    s->health_ctx = o->health_ctx;
    s->metrics = o->metrics;
    s->metrics_ctx = o->metrics_ctx;
    s->port_conf = (int)cf->port;
    s->lim = cf->limits;
    s->iface = dup_or_null(cf->listen);
    s->cert = dup_or_null(cf->tls.cert);
    s->key = dup_or_null(cf->tls.key);
    s->dashboards = dup_or_null(cf->dashboards);
    s->conf_path = dup_or_null(o->conf_path);
    if ((cf->listen && *cf->listen && !s->iface) || (cf->tls.cert && *cf->tls.cert && !s->cert) ||
        (cf->tls.key && *cf->tls.key && !s->key) ||
        (cf->dashboards && *cf->dashboards && !s->dashboards)) {
        api_server_destroy(s);
        return pw_err_set(err, -ENOMEM, "out of memory");
    }
    rc = api_auth_create(cf->tokens, cf->ntokens, o->admin_token, &s->auth, err);
    if (rc) {
        api_server_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int load_latest(void *ctx, const pw_result_t *r)
{
    pw_err_t err = {0};
    api_server_t *s = ctx;
    int rc = api_hub_publish(s->hub, r, &err);
    if (rc)
        pw_log(PW_LOG_WARN, "api: loading the latest values: %s",
               err.msg[0] ? err.msg : pw_strerror(rc));
    return rc ? 1 : 0;
}

static void wake(void *ctx)
{
    api_server_t *s = ctx;
    lws_cancel_service(s->ctx);
}

static void *service(void *arg)
{
    api_server_t *s = arg;
    int64_t deadline = 0;
    for (;;) {
        if (lws_service(s->ctx, 0) < 0)
            break;
        if (s->stopping) {
            /* Let the 1001 closes out, then go. */
            int64_t now = pw_mono_ns();
            if (deadline == 0)
                deadline = now + STOP_GRACE_NS;
            if (s->nconns == 0 || now >= deadline)
                break;
            /* Wake again soon to look at the clock. */
            lws_cancel_service(s->ctx);
            usleep(1000);
        }
    }
    return NULL;
}

static int check_readable(const char *what, const char *path, pw_err_t *err)
{
    if (access(path, R_OK) != 0)
        return pw_err_set(err, -errno, "api.tls.%s: %s: %s", what, path, strerror(errno));
    return 0;
}

int api_server_start(api_server_t *s, pw_err_t *err)
{
    if (s == NULL || s->ctx)
        return pw_err_set(err, PW_EARG, "api server: not created, or already started");
    if (s->cert) {
        int rc = check_readable("cert", s->cert, err);
        if (rc == 0)
            rc = check_readable("key", s->key, err);
        if (rc)
            return rc;
    }
    if (s->store) {
        int rc = st_results_latest(s->store, NULL, NULL, load_latest, s, err);
        if (rc < 0)
            return pw_err_prefix(err, rc, "api: loading the latest values from the store: ");
    }
    lws_set_log_level(LLL_ERR, lws_emit); /* its warnings name every refused client */

    s->protocols[0] = (struct lws_protocols){
        .name = "pitwall",
        .callback = callback,
        .per_session_data_size = sizeof(conn_t),
        .rx_buffer_size = 4096,
    };
    /* The mounts: longest mountpoint wins. */
    struct lws_http_mount *m = s->mounts;
    m[0] = (struct lws_http_mount){.mountpoint = "/health", .mountpoint_len = 7,
                                   .origin = "pitwall", .origin_protocol = LWSMPRO_CALLBACK};
    m[1] = (struct lws_http_mount){.mountpoint = "/v1", .mountpoint_len = 3,
                                   .origin = "pitwall", .origin_protocol = LWSMPRO_CALLBACK};
    m[3] = (struct lws_http_mount){.mountpoint = "/metrics", .mountpoint_len = 8,
                                   .origin = "pitwall", .origin_protocol = LWSMPRO_CALLBACK};
    m[2] = (struct lws_http_mount){.mountpoint = "/", .mountpoint_len = 1};
    if (s->dashboards) {
        m[2].origin = s->dashboards;
        m[2].def = "index.html";
        m[2].origin_protocol = LWSMPRO_FILE;
        if (access(s->dashboards, R_OK | X_OK) != 0)
            pw_log(PW_LOG_WARN, "api: dashboards folder %s: %s (static files will be 404)",
                   s->dashboards, strerror(errno));
    } else {
        m[2].origin = "pitwall";
        m[2].origin_protocol = LWSMPRO_CALLBACK;
    }
    m[0].mount_next = &m[1];
    m[1].mount_next = &m[3];
    m[3].mount_next = &m[2];

    s->retry.secs_since_valid_ping = (uint16_t)((s->lim.ping_interval_ms + 999) / 1000);
    s->retry.secs_since_valid_hangup = (uint16_t)((s->lim.idle_timeout_ms + 999) / 1000);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = s->port_conf;
    info.iface = s->iface;
    info.protocols = s->protocols;
    info.mounts = s->mounts;
    info.user = s;
    info.retry_and_idle_policy = &s->retry;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.vhost_name = "pitwall";
    if (s->cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = s->cert;
        info.ssl_private_key_filepath = s->key;
    }
    s->ctx = lws_create_context(&info);
    if (s->ctx == NULL)
        return pw_err_set(err, PW_ECONF, "api: cannot listen on %s:%d%s (address in use or "
                          "not local?)", s->iface ? s->iface : "*", s->port_conf,
                          s->cert ? " with TLS (check api.tls.cert and key)" : "");
    struct lws_vhost *vh = lws_get_vhost_by_name(s->ctx, "pitwall");
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (port <= 0) {
        lws_context_destroy(s->ctx);
        s->ctx = NULL;
        return pw_err_set(err, PW_ECONF, "api: cannot listen on %s:%d",
                          s->iface ? s->iface : "*", s->port_conf);
    }
    atomic_store(&s->port, port);
    api_hub_set_wake(s->hub, wake, s);
    int rc = pthread_create(&s->thread, NULL, service, s);
    if (rc) {
        api_hub_set_wake(s->hub, NULL, NULL);
        lws_context_destroy(s->ctx);
        s->ctx = NULL;
        return pw_err_set(err, -rc, "api: cannot start the service thread: %s", strerror(rc));
    }
    s->thread_started = true;
    return 0;
}

int api_server_port(const api_server_t *s)
{
    return s ? atomic_load(&s->port) : 0;
}

bool api_server_tls(const api_server_t *s)
{
    return s && s->cert;
}

void api_server_stop(api_server_t *s)
{
    if (s == NULL || s->ctx == NULL)
        return;
    atomic_store(&s->stop, 1);
    if (s->thread_started) {
        lws_cancel_service(s->ctx);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    api_hub_set_wake(s->hub, NULL, NULL);
    lws_context_destroy(s->ctx);
    s->ctx = NULL;
    atomic_store(&s->port, 0);
}

void api_server_destroy(api_server_t *s)
{
    if (s == NULL)
        return;
    api_server_stop(s);
    api_auth_destroy(s->auth);
    free(s->sendbuf);
    free(s->iface);
    free(s->cert);
    free(s->key);
    free(s->dashboards);
    free(s->conf_path);
    free(s);
}
