/*
 * api_server: Pitwall's WebSocket and HTTP server (libwebsockets), one
 * port for both:
 *   /v1/live   WebSocket: subscribe to topic patterns, get a snapshot of
 *              the latest values then every update (api/PROTOCOL.md)
 *   /health    GET: {"live":true,"ready":...,"reasons":[...]} (503 when
 *              not ready)
 *   /v1/series, /v1/events, /v1/moments, /v1/sessions
 *              GET: queries of the store (api_query.h, api/HTTP.md)
 *   /metrics   GET: Prometheus text (api_metrics.h)
 *   /...       the dashboards folder as static files
 * /v1/live needs a token with read:live (api_auth.h), the queries and
 * /metrics one with read:history; /health and the dashboards need none.
 *
 * Threads: one service thread owns the lws context and every socket, and
 * is the hub's event-loop thread (api_hub.h): it drains the hub when a
 * producer wakes it (api_hub_set_wake -> lws_cancel_service) and writes
 * each client what the hub says it is owed, one message per writable
 * callback. create, start, stop and destroy run on one other thread (the
 * owner's); api_server_port() may be called from any thread after start.
 * The hub and store are borrowed: they must outlive the server, and while
 * the server runs nothing but producers (api_hub_offer) may touch the hub.
 */
#ifndef API_SERVER_H
#define API_SERVER_H

#include <stdbool.h>

#include "api/api_conf.h"
#include "api/api_hub.h"
#include "core/pw_error.h"

struct st_results;
typedef struct api_server api_server_t;

/* Most reasons a health callback may give. */
#define API_HEALTH_REASONS_MAX 8

/*
 * Why the service is not ready, on the service thread, for GET /health:
 * store up to max static strings (e.g. "pipeline stopped") in reasons and
 * return how many; 0 means ready. Must not block.
 */
typedef int (*api_health_fn)(void *ctx, const char **reasons, int max);

struct api_text;

/*
 * Append the host's own metrics (e.g. the pipeline's, api_metrics.h) to
 * out for GET /metrics, on the service thread. Must not block for long.
 */
typedef void (*api_metrics_fn)(void *ctx, struct api_text *out);

typedef struct api_server_opts {
    const api_conf_t *conf;        /* borrowed during create (copied) */
    const char *admin_token;       /* one more token with every scope, or
                                      NULL; copied */
    api_hub_t *hub;                /* borrowed until destroy */
    struct st_results *store;      /* latest values loaded into the hub at
                                      start; NULL: none. Borrowed during start */
    api_health_fn health;          /* NULL: ready while serving */
    void *health_ctx;
    api_metrics_fn metrics;        /* NULL: /metrics has the hub's only */
    void *metrics_ctx;
    const char *conf_path;         /* for messages; may be NULL */
} api_server_opts_t;

/*
 * Check the configuration and build the token table. Nothing listens yet.
 * Returns 0, PW_ECONF (bad tokens, half a TLS pair), PW_EARG (no hub or
 * conf) or -ENOMEM. *out is the caller's until api_server_destroy().
 */
int api_server_create(const api_server_opts_t *o, api_server_t **out, pw_err_t *err);

/*
 * Load the store's latest values into the hub, bind the port and start the
 * service thread. Returns 0, or an error naming the address ("127.0.0.1:
 * 8080: cannot listen (in use?)"), a TLS file that cannot be read, or the
 * store's error. After a failure only destroy is allowed.
 */
int api_server_start(api_server_t *s, pw_err_t *err);

/* The bound port (the ephemeral one when api.port is 0); 0 before start. */
int api_server_port(const api_server_t *s);

/* True when TLS is on (the URL is https/wss). */
bool api_server_tls(const api_server_t *s);

/*
 * Close every WebSocket with 1001 (going away), waiting at most about half
 * a second for them, stop the service thread and release the port.
 * Idempotent.
 */
void api_server_stop(api_server_t *s);

/* Stop if running and free. NULL is a no-op. */
void api_server_destroy(api_server_t *s);

#endif
