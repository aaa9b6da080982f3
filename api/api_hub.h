/*
 * api_hub: the live side of the API. Results come in from the pipeline's
 * workers through a bounded hand-off that never blocks them; the API's
 * event-loop thread moves them into the hub, which keeps the latest value
 * of every topic/key (the snapshot a new subscription gets) and, for each
 * WebSocket client, what that client is still owed.
 *
 * Names. A result's full name is "<topic>/<key>" (burn/car/24,
 * pressure/game/2019090500, event/game/2019090500). Patterns are matched
 * against full names segment by segment ('/' separates segments):
 *   "burn/car/24"  exactly that name
 *   "burn/car/ *"  (no space) '*' matches exactly one whole segment
 *   "event/#"      '#' as the last segment matches one or more segments
 * Anything else with '*' or '#' inside a segment is refused (PW_EARG with
 * the pattern and why).
 *
 * Per client: a bounded queue of updates (opts.client_queue). While it has
 * room every update is queued, in order. When it is full, an update for a
 * name already queued replaces that entry (the newest value; graphics want
 * the latest, not a backlog) and one for a name not queued goes into the
 * client's conflated set (newest value per name, sent after the queue;
 * while that set is not empty new names join it too, so every name's
 * values stay in order); each replaced value counts as missed, and the
 * message that finally carries the name's value says how many of that
 * name's values it replaced ("missed"). A client whose conflated set would pass
 * opts.max_behind names is "too far behind": api_hub_next() says so and
 * the server closes it. Nothing here ever waits; a slow client costs
 * memory bounded by client_queue + max_behind entries, never time of the
 * pipeline or of other clients.
 *
 * A subscription may list fields (only those keys of the body are sent)
 * and a maximum rate per name (updates in between are conflated to the
 * newest, and sent when the interval has passed; those count as missed
 * too). When several of a client's patterns match a name, the client
 * gets each value once, with the fields and rate of the newest of those
 * subscriptions.
 *
 * Threads: api_hub_offer() is called by pipeline workers, each with its own
 * producer index (a single-producer ring each, lock-free); everything else
 * runs on one thread (the API's event loop). Results are copied once into
 * the hub's own reference-counted entries and shared by every client queue
 * that holds them; no allocation per client per update.
 */
#ifndef API_HUB_H
#define API_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_record.h"

typedef struct api_hub api_hub_t;
typedef struct api_client api_client_t;

typedef struct api_hub_opts {
    int producers;          /* workers that call api_hub_offer (>= 1) */
    size_t ring_bytes;      /* hand-off ring per producer (e.g. 4 MiB) */
    size_t max_names;       /* topic/key names kept in the latest table */
    size_t client_queue;    /* updates queued per client before conflation */
    size_t max_behind;      /* conflated names before a client is dropped */
    size_t max_subscriptions; /* per client */
} api_hub_opts_t;

api_hub_opts_t api_hub_opts_default(void);

int api_hub_create(const api_hub_opts_t *o, api_hub_t **out, pw_err_t *err);
void api_hub_destroy(api_hub_t *h);

/* ---- Producers (pipeline workers) ---------------------------------------- */

/*
 * Copy r's results into producer's ring. Never blocks, never allocates:
 * results that do not fit are dropped and counted (api_hub_stats). Returns
 * how many were dropped. A result too large for the ring is dropped too.
 */
size_t api_hub_offer(api_hub_t *h, int producer, const pw_results_t *r);

/* Set a callback the producers call after putting results in a ring
 * (e.g. lws_cancel_service, to wake the event loop). Set before offers;
 * setting it again (NULL: no callback) is safe while producers offer, but
 * a producer may still be running the old callback when this returns. */
void api_hub_set_wake(api_hub_t *h, void (*wake)(void *ctx), void *ctx);

/* ---- The event-loop thread ------------------------------------------------ */

/*
 * Move everything waiting in the rings into the latest table and the
 * matching clients' queues. Returns how many results were taken (those
 * the loop could not keep, see api_hub_publish's errors, are counted in
 * dropped_full).
 */
size_t api_hub_drain(api_hub_t *h);

/*
 * Put a result straight in (the event-loop thread only): to fill the
 * latest table from the store at start, and for tests. r's bytes are
 * copied. Returns 0 or an error (PW_ENOMEM; PW_ECAPACITY when r names a
 * new topic/key and the table already holds max_names).
 */
int api_hub_publish(api_hub_t *h, const pw_result_t *r, pw_err_t *err);

typedef enum { API_FMT_JSON = 0, API_FMT_MSGPACK = 1 } api_fmt_t;

/* A new client (a WebSocket connection). NULL on -ENOMEM. */
api_client_t *api_hub_client_new(api_hub_t *h, api_fmt_t fmt);
void api_hub_client_free(api_hub_t *h, api_client_t *c);

/*
 * Subscribe c to patterns[0..n) (each checked; nothing is subscribed if one
 * is bad or the client would pass max_subscriptions), with fields[0..nf)
 * (nf 0: the whole body) and max_rate updates per second per name (0: no
 * limit). The latest value of every matching name is queued first, as the
 * snapshot (api_hub_next gives those with kind API_MSG_SNAPSHOT), then
 * updates. Subscribing again to a pattern the client has replaces that
 * subscription (fields, rate) and queues its snapshot again. Fields: at
 * most 256, each 1..255 bytes. Returns 0 or PW_EARG (a bad pattern, field
 * or rate) / PW_ECAPACITY (too many subscriptions) with a message for the
 * client; PW_ENOMEM.
 */
int api_hub_subscribe(api_hub_t *h, api_client_t *c, const char *const *patterns, size_t n,
                      const char *const *fields, size_t nf, double max_rate, pw_err_t *err);

/* Drop c's subscriptions to exactly these patterns (unknown ones ignored).
 * Values still queued for names no other subscription of c matches are
 * dropped too. */
int api_hub_unsubscribe(api_hub_t *h, api_client_t *c, const char *const *patterns, size_t n,
                        pw_err_t *err);

typedef enum {
    API_MSG_NONE = 0,   /* nothing owed now */
    API_MSG_SNAPSHOT,   /* the latest value of a name at subscription */
    API_MSG_UPDATE,     /* a new value */
    API_MSG_TOO_SLOW,   /* the client is too far behind: close it */
} api_msg_kind_t;

/*
 * The next message owed to c, rendered in c's format into the hub's buffer
 * (valid until the next call on this hub): JSON
 *   {"op":"snapshot"|"update","topic":"burn","key":"car/24","ts_ns":...,
 *    "version":1,"missed":0,"data":{...body, or the subscribed fields...}}
 * or the same map in msgpack. now_ns drives the rate limits. Marks the
 * message sent. Order: the queue, then the conflated set, then values
 * held by a rate limit whose interval has passed. API_MSG_TOO_SLOW is
 * returned on every call from then on (with an empty message).
 */
api_msg_kind_t api_hub_next(api_hub_t *h, api_client_t *c, int64_t now_ns, const void **msg,
                            size_t *len);

/* Does c have a message owed now (without taking it)? */
bool api_hub_pending(const api_hub_t *h, const api_client_t *c, int64_t now_ns);

/* Counters since create (the "now" ones excepted). */
typedef struct api_hub_stats {
    uint64_t offered, dropped_full; /* hand-off; dropped_full also counts results
                                       drain could not keep (table full, no memory) */
    uint64_t published, names;      /* taken by the loop; distinct names now */
    uint64_t clients, subscriptions; /* now */
    uint64_t queued;                /* values given a client queue slot */
    uint64_t conflated;             /* values that replaced a waiting one or
                                       joined a conflated set */
    uint64_t missed;                /* values replaced before being sent */
    uint64_t too_slow;              /* clients found too far behind */
    uint64_t max_queue_depth;       /* the longest client queue now */
} api_hub_stats_t;

void api_hub_stats(const api_hub_t *h, api_hub_stats_t *out);

#endif
