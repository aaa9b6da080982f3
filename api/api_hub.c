/*
 * api_hub: rings in, latest table and per-client queues out.
 *
 * Data structures (every field below the rings belongs to the loop thread):
 * - ring_t, one per producer: a byte ring of records (a 32-byte header,
 *   then topic, key and body), head written by the producer, tail by the
 *   loop, each on its own cache line; a record that would cross the end
 *   leaves a wrap marker and starts again at byte 0.
 * - hub_entry_t: one result copied out of a ring (or publish), reference
 *   counted: the latest table holds one reference, each queue slot or
 *   pending value another. Entries come from size-class free lists, so the
 *   steady state allocates nothing. An entry caches its renderings: the
 *   envelope part per format and the "data" part per (format, field list).
 * - hub_name_t: one per "topic/key" (open-addressed hash of ids), with the
 *   latest entry and its fan-out: the links of the clients it goes to,
 *   sorted by client id. A link is one (client, name) pair and carries
 *   that pair's delivery state: the subscription that governs it (the
 *   newest of the client's matching ones), its newest queued slot, its
 *   pending value (conflated or held by a rate limit) and the time it last
 *   sent. Links are made at subscribe (for the names already known) and
 *   when a new name first arrives (for the clients whose patterns match
 *   it), so a result costs no pattern matching at all, only a walk of its
 *   name's links.
 * - api_client: a ring of client_queue slots (entry, link, kind, missed),
 *   a FIFO list of links with a conflated value, a min-heap (by due time)
 *   of links with a value held by a rate limit, its subscriptions and its
 *   links.
 */
#include "api/api_hub.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_hub_render.h"
#include "api/api_match.h"

#define CACHE_LINE 64
#define NEVER INT64_MIN          /* a link that has sent nothing yet */
#define RING_MIN 4096            /* smallest ring, bytes */
#define RING_MAX ((size_t)1 << 30)
#define RING_WRAP 0x80000000u    /* record size flag: skip to byte 0 */
#define RENDER_CACHE 4           /* cached "data" renderings per entry */
#define POOL_CLASSES 13          /* entry sizes 256 B .. 1 MiB pooled */
#define POOL_MIN_SHIFT 8
#define MAX_FIELDS 256           /* fields in one subscription */
#define MAX_FIELD_LEN 255        /* bytes in a field name */

/* ---- Rings ---------------------------------------------------------------- */

typedef struct ring_rec {
    uint32_t size; /* bytes of header + payload, multiple of 8; | RING_WRAP */
    uint32_t version;
    int64_t ts_ns;
    uint32_t topic_len, key_len, body_len, pad;
} ring_rec_t;

typedef struct ring {
    /* The producer's line. */
    alignas(CACHE_LINE) _Atomic size_t head; /* bytes ever written */
    size_t tail_seen;                        /* the producer's copy of tail */
    _Atomic uint64_t offered, dropped;       /* written by the producer only */
    /* The loop's line. */
    alignas(CACHE_LINE) _Atomic size_t tail; /* bytes ever consumed */
    uint8_t *buf;
    size_t mask;
} ring_t;

/* ---- Entries, names, links, clients --------------------------------------- */

typedef struct render_slot {
    uint32_t fields_id; /* 0: the whole body */
    uint8_t fmt;
    uint32_t off, len;  /* in the entry's render buffer */
} render_slot_t;

typedef struct hub_entry {
    uint32_t refs;
    uint32_t name_id;
    int8_t pool_class;  /* -1: allocated on its own */
    uint8_t ncache;
    bool envelope_done[2];
    uint32_t env_off[2], env_len[2]; /* "topic".."missed" per format */
    render_slot_t cache[RENDER_CACHE];
    api_buf_t render;   /* kept across reuse: rendering stops allocating */
    int64_t ts_ns;
    uint32_t version;
    uint32_t body_len;
    struct hub_entry *next_free;
    uint8_t body[];
} hub_entry_t;

typedef struct hub_fields {
    uint32_t id;    /* never reused: entries cache renderings by it */
    uint32_t refs;
    api_fields_t list;
    char **name;
    uint32_t *len;
    struct hub_fields *next;
} hub_fields_t;

typedef struct hub_sub {
    api_pattern_t pat;
    hub_fields_t *fields; /* NULL: the whole body */
    int64_t interval_ns;  /* 0: no rate limit */
    uint64_t seq;         /* newer subscriptions govern overlapping names */
} hub_sub_t;

typedef struct hub_link hub_link_t;

typedef struct hub_name {
    char *full;           /* "topic/key", NUL-terminated */
    uint32_t full_len, topic_len;
    uint64_t hash;
    hub_entry_t *latest;
    hub_link_t **fan;     /* sorted by client id */
    uint32_t nfan, capfan;
} hub_name_t;

struct hub_link {
    api_client_t *c;
    uint32_t name_id;
    hub_sub_t *sub;
    hub_link_t *lprev, *lnext;   /* the client's links */
    size_t slot;                 /* newest queued slot (valid when nqueued) */
    uint32_t nqueued;
    hub_entry_t *pending;        /* conflated or held value */
    uint8_t pending_kind;
    bool conflated;              /* pending sits in the conflated list */
    uint64_t pending_missed;
    hub_link_t *cprev, *cnext;   /* the conflated list */
    size_t heap_idx;             /* in the held heap, or SIZE_MAX */
    int64_t last_sent_ns;
    int64_t due_ns;              /* while held: when it may be sent */
};

typedef struct hub_slot {
    hub_entry_t *e;
    hub_link_t *link;
    uint64_t missed;
    uint8_t kind;
} hub_slot_t;

struct api_client {
    uint32_t id;
    api_fmt_t fmt;
    bool too_slow;
    hub_slot_t *q;                /* client_queue slots */
    size_t qhead, qlen;
    hub_link_t *chead, *ctail;    /* conflated list, oldest first */
    size_t nconflated;
    hub_link_t **heap;            /* held values, min due first */
    size_t nheap, capheap;        /* capheap >= nlinks: pushes never allocate */
    hub_sub_t **subs;
    size_t nsubs, capsubs;
    hub_link_t *links;
    size_t nlinks;
    api_client_t *prev, *next;    /* the hub's clients, by id */
};

typedef void (*wake_fn)(void *ctx);

struct api_hub {
    api_hub_opts_t o;
    ring_t *rings;
    /* Atomic: a server may clear it while producers still offer. */
    _Atomic(wake_fn) wake;
    _Atomic(void *) wake_ctx;
    /* Loop thread only from here. */
    hub_name_t *names;
    uint32_t nnames;
    uint32_t *index;              /* name id + 1; 0 = empty */
    size_t index_mask;
    hub_entry_t *pool[POOL_CLASSES];
    hub_fields_t *fields;
    uint32_t next_fields_id;
    uint64_t next_seq;
    uint32_t next_client_id;
    api_client_t *chead, *ctail;
    uint64_t nclients, nsubs;
    uint64_t published, dropped_loop;
    uint64_t queued, conflated, missed, too_slow;
    api_buf_t out;                /* the message api_hub_next returns */
    api_buf_t scratch;            /* renderings that did not fit an entry's cache */
};

api_hub_opts_t api_hub_opts_default(void)
{
    return (api_hub_opts_t){
        .producers = 1,
        .ring_bytes = (size_t)4 << 20,
        .max_names = 65536,
        .client_queue = 256,
        .max_behind = 1024,
        .max_subscriptions = 64,
    };
}

/* ---- Create and destroy --------------------------------------------------- */

static void entry_free(hub_entry_t *e)
{
    api_buf_fini(&e->render);
    free(e);
}

static void fields_unref(api_hub_t *h, hub_fields_t *f)
{
    if (f == NULL || --f->refs)
        return;
    for (hub_fields_t **p = &h->fields; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    for (size_t k = 0; k < f->list.n; k++)
        free(f->name[k]);
    free(f->name);
    free(f->len);
    free(f);
}

int api_hub_create(const api_hub_opts_t *o, api_hub_t **out, pw_err_t *err)
{
    if (o == NULL || out == NULL)
        return pw_err_set(err, PW_EARG, "api_hub_create: NULL argument");
    if (o->producers < 1 || o->producers > 4096)
        return pw_err_set(err, PW_EARG, "api hub: producers %d, expected 1..4096", o->producers);
    if (o->ring_bytes < RING_MIN || o->ring_bytes > RING_MAX)
        return pw_err_set(err, PW_EARG, "api hub: ring_bytes %zu, expected %d..%zu",
                          o->ring_bytes, RING_MIN, RING_MAX);
    if (o->max_names < 1 || o->max_names > (size_t)1 << 28)
        return pw_err_set(err, PW_EARG, "api hub: max_names %zu, expected 1..%zu", o->max_names,
                          (size_t)1 << 28);
    if (o->client_queue < 1 || o->client_queue > (size_t)1 << 24)
        return pw_err_set(err, PW_EARG, "api hub: client_queue %zu, expected 1..%zu",
                          o->client_queue, (size_t)1 << 24);
    if (o->max_subscriptions < 1 || o->max_subscriptions > 65536)
        return pw_err_set(err, PW_EARG, "api hub: max_subscriptions %zu, expected 1..65536",
                          o->max_subscriptions);
    api_hub_t *h = calloc(1, sizeof *h);
    if (h == NULL)
        return pw_err_set(err, PW_ENOMEM, "api hub: out of memory");
    h->o = *o;
    size_t ring_size = RING_MIN;
    while (ring_size < o->ring_bytes)
        ring_size <<= 1;
    h->rings = aligned_alloc(CACHE_LINE, (size_t)o->producers * sizeof *h->rings);
    size_t slots = 16;
    while (slots < o->max_names * 2)
        slots <<= 1;
    h->index = calloc(slots, sizeof *h->index);
    h->index_mask = slots - 1;
    h->names = calloc(o->max_names, sizeof *h->names);
    if (h->rings == NULL || h->index == NULL || h->names == NULL)
        goto nomem;
    memset(h->rings, 0, (size_t)o->producers * sizeof *h->rings);
    for (int p = 0; p < o->producers; p++) {
        ring_t *g = &h->rings[p];
        atomic_init(&g->head, 0);
        atomic_init(&g->tail, 0);
        atomic_init(&g->offered, 0);
        atomic_init(&g->dropped, 0);
        g->mask = ring_size - 1;
        g->buf = aligned_alloc(CACHE_LINE, ring_size);
        if (g->buf == NULL)
            goto nomem;
    }
    atomic_init(&h->wake, NULL);
    atomic_init(&h->wake_ctx, NULL);
    api_buf_init(&h->out);
    api_buf_init(&h->scratch);
    *out = h;
    return 0;
nomem:
    api_hub_destroy(h);
    return pw_err_set(err, PW_ENOMEM, "api hub: out of memory (%d rings of %zu bytes)",
                      o->producers, ring_size);
}

void api_hub_destroy(api_hub_t *h)
{
    if (h == NULL)
        return;
    while (h->chead)
        api_hub_client_free(h, h->chead);
    for (uint32_t k = 0; h->names && k < h->nnames; k++) {
        hub_entry_t *e = h->names[k].latest;
        if (e && --e->refs == 0)
            entry_free(e);
        free(h->names[k].full);
        free(h->names[k].fan);
    }
    for (int c = 0; c < POOL_CLASSES; c++)
        while (h->pool[c]) {
            hub_entry_t *e = h->pool[c];
            h->pool[c] = e->next_free;
            entry_free(e);
        }
    for (int p = 0; h->rings && p < h->o.producers; p++)
        free(h->rings[p].buf);
    free(h->rings);
    free(h->names);
    free(h->index);
    api_buf_fini(&h->out);
    api_buf_fini(&h->scratch);
    free(h);
}

void api_hub_set_wake(api_hub_t *h, void (*wake)(void *ctx), void *ctx)
{
    if (h == NULL)
        return;
    atomic_store_explicit(&h->wake, NULL, memory_order_release);
    atomic_store_explicit(&h->wake_ctx, ctx, memory_order_release);
    atomic_store_explicit(&h->wake, wake, memory_order_release);
}

/* ---- Producers ------------------------------------------------------------ */

size_t api_hub_offer(api_hub_t *h, int producer, const pw_results_t *r)
{
    if (r == NULL)
        return 0;
    if (h == NULL || producer < 0 || producer >= h->o.producers)
        return r->n; /* a caller bug: there is no ring of its own to count in */
    ring_t *g = &h->rings[producer];
    size_t cap = g->mask + 1;
    size_t head = atomic_load_explicit(&g->head, memory_order_relaxed);
    size_t put = 0, dropped = 0;
    for (size_t k = 0; k < r->n; k++) {
        const pw_result_t *res = &r->rec[k];
        uint64_t payload = (uint64_t)res->topic_len + res->key_len + res->body_len;
        uint64_t need = (sizeof(ring_rec_t) + payload + 7) & ~(uint64_t)7;
        if (need > cap || (res->topic_len && !res->topic) || (res->key_len && !res->key) ||
            (res->body_len && !res->body)) {
            dropped++;
            continue;
        }
        size_t pos = head & g->mask, contig = cap - pos;
        size_t total = need <= contig ? (size_t)need : contig + (size_t)need;
        if (cap - (head - g->tail_seen) < total) {
            g->tail_seen = atomic_load_explicit(&g->tail, memory_order_acquire);
            if (cap - (head - g->tail_seen) < total) {
                dropped++;
                continue;
            }
        }
        if (need > contig) { /* the rest of the buffer is skipped */
            ring_rec_t wrap = {.size = (uint32_t)contig | RING_WRAP};
            memcpy(g->buf + pos, &wrap, sizeof wrap.size);
            head += contig;
            pos = 0;
        }
        ring_rec_t rec = {
            .size = (uint32_t)need,
            .version = res->version,
            .ts_ns = res->ts_ns,
            .topic_len = res->topic_len,
            .key_len = res->key_len,
            .body_len = res->body_len,
        };
        uint8_t *p = g->buf + pos;
        memcpy(p, &rec, sizeof rec);
        p += sizeof rec;
        if (res->topic_len)
            memcpy(p, res->topic, res->topic_len);
        p += res->topic_len;
        if (res->key_len)
            memcpy(p, res->key, res->key_len);
        p += res->key_len;
        if (res->body_len)
            memcpy(p, res->body, res->body_len);
        head += (size_t)need;
        put++;
    }
    atomic_store_explicit(&g->head, head, memory_order_release);
    /* Single writer: a relaxed load and store are enough. */
    atomic_store_explicit(&g->offered,
                          atomic_load_explicit(&g->offered, memory_order_relaxed) + r->n,
                          memory_order_relaxed);
    if (dropped)
        atomic_store_explicit(&g->dropped,
                              atomic_load_explicit(&g->dropped, memory_order_relaxed) + dropped,
                              memory_order_relaxed);
    wake_fn wake = put ? atomic_load_explicit(&h->wake, memory_order_acquire) : NULL;
    if (wake)
        wake(atomic_load_explicit(&h->wake_ctx, memory_order_acquire));
    return dropped;
}

/* ---- Entries -------------------------------------------------------------- */

static void entry_unref(api_hub_t *h, hub_entry_t *e)
{
    if (e == NULL || --e->refs)
        return;
    if (e->pool_class < 0) {
        entry_free(e);
        return;
    }
    e->next_free = h->pool[e->pool_class];
    h->pool[e->pool_class] = e;
}

static hub_entry_t *entry_new(api_hub_t *h, uint32_t name_id, const pw_result_t *r,
                              const uint8_t *body, uint32_t body_len)
{
    size_t size = sizeof(hub_entry_t) + body_len;
    int cls = -1;
    for (int c = 0; c < POOL_CLASSES; c++)
        if (size <= (size_t)1 << (POOL_MIN_SHIFT + c)) {
            cls = c;
            break;
        }
    hub_entry_t *e = NULL;
    if (cls >= 0 && h->pool[cls]) {
        e = h->pool[cls];
        h->pool[cls] = e->next_free;
    } else {
        e = malloc(cls >= 0 ? (size_t)1 << (POOL_MIN_SHIFT + cls) : size);
        if (e == NULL)
            return NULL;
        api_buf_init(&e->render);
    }
    e->refs = 1;
    e->name_id = name_id;
    e->pool_class = (int8_t)cls;
    e->ncache = 0;
    e->envelope_done[0] = e->envelope_done[1] = false;
    api_buf_reset(&e->render);
    e->ts_ns = r->ts_ns;
    e->version = r->version;
    e->body_len = body_len;
    e->next_free = NULL;
    memcpy(e->body, body, body_len);
    return e;
}

/* ---- Names ---------------------------------------------------------------- */

static uint64_t name_hash(const char *topic, size_t tl, const char *key, size_t kl)
{
    uint64_t x = 1469598103934665603u ^ tl; /* FNV-1a; the topic length splits "a/b"+"c" */
    for (size_t k = 0; k < tl; k++)
        x = (x ^ (uint8_t)topic[k]) * 1099511628211u;
    x = (x ^ '/') * 1099511628211u;
    for (size_t k = 0; k < kl; k++)
        x = (x ^ (uint8_t)key[k]) * 1099511628211u;
    return x ^ (x >> 29);
}

/* The id of topic/key, or UINT32_MAX when unknown; *slot is where it goes. */
static uint32_t name_find(const api_hub_t *h, const pw_result_t *r, uint64_t hash, size_t *slot)
{
    size_t s = hash & h->index_mask;
    for (;; s = (s + 1) & h->index_mask) {
        uint32_t v = h->index[s];
        if (v == 0) {
            *slot = s;
            return UINT32_MAX;
        }
        const hub_name_t *n = &h->names[v - 1];
        if (n->hash == hash && n->topic_len == r->topic_len &&
            n->full_len == (uint64_t)r->topic_len + 1 + r->key_len &&
            memcmp(n->full, r->topic, r->topic_len) == 0 &&
            memcmp(n->full + r->topic_len + 1, r->key, r->key_len) == 0)
            return v - 1;
    }
}

static int link_new(api_hub_t *h, api_client_t *c, uint32_t name_id, hub_sub_t *sub,
                    uint32_t at, hub_link_t **out);

/* A new name: its links to every client with a matching subscription. */
static int name_add(api_hub_t *h, const pw_result_t *r, uint64_t hash, size_t slot,
                    uint32_t *id, pw_err_t *err)
{
    if (h->nnames >= h->o.max_names)
        return pw_err_set(err, PW_ECAPACITY, "api hub: %zu names already, '%.*s/%.*s' not kept",
                          h->o.max_names, (int)r->topic_len, r->topic, (int)r->key_len, r->key);
    uint32_t nid = h->nnames;
    hub_name_t *n = &h->names[nid];
    size_t full_len = (size_t)r->topic_len + 1 + r->key_len;
    memset(n, 0, sizeof *n);
    n->full = malloc(full_len + 1);
    if (n->full == NULL)
        return pw_err_set(err, PW_ENOMEM, "api hub: out of memory");
    memcpy(n->full, r->topic, r->topic_len);
    n->full[r->topic_len] = '/';
    memcpy(n->full + r->topic_len + 1, r->key, r->key_len);
    n->full[full_len] = '\0';
    n->full_len = (uint32_t)full_len;
    n->topic_len = r->topic_len;
    n->hash = hash;
    h->nnames++;
    h->index[slot] = nid + 1;
    /* Clients are in id order, so appending keeps the fan-out sorted. */
    for (api_client_t *c = h->chead; c; c = c->next)
        for (size_t k = c->nsubs; k-- > 0;)
            if (api_pattern_match(&c->subs[k]->pat, n->full, n->full_len)) {
                hub_link_t *l;
                if (link_new(h, c, nid, c->subs[k], n->nfan, &l))
                    return pw_err_set(err, PW_ENOMEM, "api hub: out of memory");
                break;
            }
    *id = nid;
    return 0;
}

/* ---- Client queues -------------------------------------------------------- */

static void heap_swap(api_client_t *c, size_t a, size_t b)
{
    hub_link_t *t = c->heap[a];
    c->heap[a] = c->heap[b];
    c->heap[b] = t;
    c->heap[a]->heap_idx = a;
    c->heap[b]->heap_idx = b;
}

static void heap_fix(api_client_t *c, size_t k)
{
    while (k > 0 && c->heap[(k - 1) / 2]->due_ns > c->heap[k]->due_ns) {
        heap_swap(c, k, (k - 1) / 2);
        k = (k - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < c->nheap && c->heap[l]->due_ns < c->heap[m]->due_ns)
            m = l;
        if (l + 1 < c->nheap && c->heap[l + 1]->due_ns < c->heap[m]->due_ns)
            m = l + 1;
        if (m == k)
            return;
        heap_swap(c, k, m);
        k = m;
    }
}

static void heap_remove(api_client_t *c, hub_link_t *l)
{
    size_t k = l->heap_idx;
    l->heap_idx = SIZE_MAX;
    if (k != --c->nheap) {
        c->heap[k] = c->heap[c->nheap];
        c->heap[k]->heap_idx = k;
        heap_fix(c, k);
    }
}

static int64_t link_due(const hub_link_t *l)
{
    if (l->last_sent_ns == NEVER)
        return NEVER;
    int64_t iv = l->sub->interval_ns;
    return l->last_sent_ns > INT64_MAX - iv ? INT64_MAX : l->last_sent_ns + iv;
}

static void conflated_remove(api_client_t *c, hub_link_t *l)
{
    if (l->cprev)
        l->cprev->cnext = l->cnext;
    else
        c->chead = l->cnext;
    if (l->cnext)
        l->cnext->cprev = l->cprev;
    else
        c->ctail = l->cprev;
    l->cprev = l->cnext = NULL;
    c->nconflated--;
}

/* Drop l's pending value, wherever it waits. */
static void link_drop_pending(api_hub_t *h, hub_link_t *l)
{
    if (l->pending == NULL)
        return;
    if (l->conflated)
        conflated_remove(l->c, l);
    else
        heap_remove(l->c, l);
    entry_unref(h, l->pending);
    l->pending = NULL;
    l->conflated = false;
}

/* Everything c is owed is dropped (too slow, or being freed). */
static void client_purge(api_hub_t *h, api_client_t *c)
{
    size_t cap = h->o.client_queue;
    for (size_t k = 0; k < c->qlen; k++) {
        hub_slot_t *s = &c->q[(c->qhead + k) % cap];
        entry_unref(h, s->e);
        s->link->nqueued = 0;
    }
    c->qhead = c->qlen = 0;
    for (hub_link_t *l = c->links; l; l = l->lnext)
        link_drop_pending(h, l);
}

/* Remove l's queued slots, keeping the order of the others. */
static void queue_remove_link(api_hub_t *h, api_client_t *c, hub_link_t *l)
{
    size_t cap = h->o.client_queue, kept = 0;
    for (size_t k = 0; k < c->qlen; k++) {
        hub_slot_t s = c->q[(c->qhead + k) % cap];
        if (s.link == l) {
            entry_unref(h, s.e);
            continue;
        }
        size_t to = (c->qhead + kept++) % cap;
        c->q[to] = s;
        s.link->slot = to; /* the last one written is the newest */
    }
    c->qlen = kept;
    l->nqueued = 0;
}

static uint8_t kind_merge(uint8_t older, uint8_t newer)
{
    /* A value replacing a snapshot is still the client's first of the name. */
    return older == API_MSG_SNAPSHOT || newer == API_MSG_SNAPSHOT ? API_MSG_SNAPSHOT
                                                                  : API_MSG_UPDATE;
}

/*
 * Give e to link l. The order of the rules keeps every name's values in
 * order: a value already waiting outside the queue is replaced; a rate
 * limit holds updates; the queue takes it while it has room and nothing is
 * conflated; a full queue replaces the name's newest slot; else the name
 * joins the conflated set, which may make the client too slow.
 */
static void link_offer(api_hub_t *h, hub_link_t *l, hub_entry_t *e, uint8_t kind)
{
    api_client_t *c = l->c;
    if (c->too_slow)
        return;
    if (l->pending) {
        e->refs++; /* before the unref: e may be the value it replaces */
        entry_unref(h, l->pending);
        l->pending = e;
        l->pending_kind = kind_merge(l->pending_kind, kind);
        l->pending_missed++;
        h->conflated++;
        h->missed++;
        return;
    }
    if (kind == API_MSG_UPDATE && l->sub->interval_ns > 0) {
        e->refs++;
        l->pending = e;
        l->pending_kind = kind;
        l->pending_missed = 0;
        l->conflated = false;
        l->due_ns = link_due(l);
        l->heap_idx = c->nheap;
        c->heap[c->nheap++] = l; /* capheap >= nlinks */
        heap_fix(c, l->heap_idx);
        return;
    }
    size_t cap = h->o.client_queue;
    if (c->nconflated == 0 && c->qlen < cap) {
        size_t at = (c->qhead + c->qlen++) % cap;
        e->refs++;
        c->q[at] = (hub_slot_t){.e = e, .link = l, .missed = 0, .kind = kind};
        l->slot = at;
        l->nqueued++;
        h->queued++;
        return;
    }
    if (l->nqueued) {
        hub_slot_t *s = &c->q[l->slot];
        e->refs++;
        entry_unref(h, s->e);
        s->e = e;
        s->kind = kind_merge(s->kind, kind);
        s->missed++;
        h->conflated++;
        h->missed++;
        return;
    }
    if (c->nconflated + 1 > h->o.max_behind) {
        c->too_slow = true;
        h->too_slow++;
        client_purge(h, c);
        return;
    }
    e->refs++;
    l->pending = e;
    l->pending_kind = kind;
    l->pending_missed = 0;
    l->conflated = true;
    h->conflated++;
    l->cnext = NULL;
    l->cprev = c->ctail;
    if (c->ctail)
        c->ctail->cnext = l;
    else
        c->chead = l;
    c->ctail = l;
    c->nconflated++;
}

/* ---- Links ---------------------------------------------------------------- */

/* Position of client id in name n's fan-out (or where it would go). */
static uint32_t fan_search(const hub_name_t *n, uint32_t client_id, bool *found)
{
    uint32_t lo = 0, hi = n->nfan;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (n->fan[mid]->c->id < client_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n->nfan && n->fan[lo]->c->id == client_id;
    return lo;
}

/* A link of c to name_id governed by sub, at position at of the fan-out. */
static int link_new(api_hub_t *h, api_client_t *c, uint32_t name_id, hub_sub_t *sub,
                    uint32_t at, hub_link_t **out)
{
    hub_name_t *n = &h->names[name_id];
    if (c->nheap >= c->capheap || c->nlinks + 1 > c->capheap) {
        size_t cap = c->capheap ? c->capheap * 2 : 16;
        hub_link_t **heap = realloc(c->heap, cap * sizeof *heap);
        if (heap == NULL)
            return -ENOMEM;
        c->heap = heap;
        c->capheap = cap;
    }
    if (n->nfan == n->capfan) {
        uint32_t cap = n->capfan ? n->capfan * 2 : 8;
        hub_link_t **fan = realloc(n->fan, cap * sizeof *fan);
        if (fan == NULL)
            return -ENOMEM;
        n->fan = fan;
        n->capfan = cap;
    }
    hub_link_t *l = calloc(1, sizeof *l);
    if (l == NULL)
        return -ENOMEM;
    l->c = c;
    l->name_id = name_id;
    l->sub = sub;
    l->heap_idx = SIZE_MAX;
    l->last_sent_ns = NEVER;
    l->lnext = c->links;
    if (c->links)
        c->links->lprev = l;
    c->links = l;
    c->nlinks++;
    memmove(n->fan + at + 1, n->fan + at, (n->nfan - at) * sizeof *n->fan);
    n->fan[at] = l;
    n->nfan++;
    *out = l;
    return 0;
}

static void link_destroy(api_hub_t *h, hub_link_t *l)
{
    api_client_t *c = l->c;
    hub_name_t *n = &h->names[l->name_id];
    if (l->nqueued)
        queue_remove_link(h, c, l);
    link_drop_pending(h, l);
    bool found;
    uint32_t at = fan_search(n, c->id, &found);
    if (found) {
        memmove(n->fan + at, n->fan + at + 1, (n->nfan - at - 1) * sizeof *n->fan);
        n->nfan--;
    }
    if (l->lprev)
        l->lprev->lnext = l->lnext;
    else
        c->links = l->lnext;
    if (l->lnext)
        l->lnext->lprev = l->lprev;
    c->nlinks--;
    free(l);
}

/* ---- The event-loop thread ------------------------------------------------ */

static int hub_take(api_hub_t *h, const pw_result_t *r, pw_err_t *err)
{
    static const uint8_t nil = 0xc0;
    const uint8_t *body = r->body;
    uint32_t body_len = r->body_len;
    size_t off = 0;
    /* A body that is not exactly one msgpack object is sent as null. */
    if (body_len == 0 || body == NULL || api_mp_skip(body, body_len, &off) || off != body_len) {
        body = &nil;
        body_len = 1;
    }
    uint64_t hash = name_hash(r->topic, r->topic_len, r->key, r->key_len);
    size_t slot = 0;
    uint32_t id = name_find(h, r, hash, &slot);
    int rc;
    if (id == UINT32_MAX && (rc = name_add(h, r, hash, slot, &id, err)) != 0)
        return rc;
    hub_entry_t *e = entry_new(h, id, r, body, body_len);
    if (e == NULL)
        return pw_err_set(err, PW_ENOMEM, "api hub: out of memory");
    hub_name_t *n = &h->names[id];
    entry_unref(h, n->latest);
    n->latest = e; /* the table's reference */
    h->published++;
    for (uint32_t k = 0; k < n->nfan; k++)
        link_offer(h, n->fan[k], e, API_MSG_UPDATE);
    return 0;
}

int api_hub_publish(api_hub_t *h, const pw_result_t *r, pw_err_t *err)
{
    if (h == NULL || r == NULL || (r->topic_len && !r->topic) || (r->key_len && !r->key))
        return pw_err_set(err, PW_EARG, "api_hub_publish: NULL argument");
    pw_result_t copy = *r; /* empty ranges may come as NULL; memcmp wants a pointer */
    if (copy.topic == NULL)
        copy.topic = "";
    if (copy.key == NULL)
        copy.key = "";
    return hub_take(h, &copy, err);
}

size_t api_hub_drain(api_hub_t *h)
{
    if (h == NULL)
        return 0;
    size_t taken = 0;
    for (int p = 0; p < h->o.producers; p++) {
        ring_t *g = &h->rings[p];
        size_t head = atomic_load_explicit(&g->head, memory_order_acquire);
        size_t tail = atomic_load_explicit(&g->tail, memory_order_relaxed);
        while (tail != head) {
            const uint8_t *at = g->buf + (tail & g->mask);
            ring_rec_t rec;
            memcpy(&rec.size, at, sizeof rec.size);
            if (rec.size & RING_WRAP) {
                tail += rec.size & ~RING_WRAP;
                continue;
            }
            memcpy(&rec, at, sizeof rec);
            const char *p0 = (const char *)at + sizeof rec;
            pw_result_t r = {
                .ts_ns = rec.ts_ns,
                .version = rec.version,
                .topic_len = rec.topic_len,
                .key_len = rec.key_len,
                .body_len = rec.body_len,
                .topic = p0,
                .key = p0 + rec.topic_len,
                .body = (const uint8_t *)p0 + rec.topic_len + rec.key_len,
            };
            if (hub_take(h, &r, NULL)) /* the latest table is full, or out of memory */
                h->dropped_loop++;
            taken++;
            tail += rec.size;
            atomic_store_explicit(&g->tail, tail, memory_order_release);
        }
        atomic_store_explicit(&g->tail, tail, memory_order_release);
    }
    return taken;
}

/* ---- Clients and subscriptions -------------------------------------------- */

api_client_t *api_hub_client_new(api_hub_t *h, api_fmt_t fmt)
{
    if (h == NULL || (fmt != API_FMT_JSON && fmt != API_FMT_MSGPACK))
        return NULL;
    api_client_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->q = malloc(h->o.client_queue * sizeof *c->q);
    if (c->q == NULL) {
        free(c);
        return NULL;
    }
    c->id = h->next_client_id++;
    c->fmt = fmt;
    c->prev = h->ctail;
    if (h->ctail)
        h->ctail->next = c;
    else
        h->chead = c;
    h->ctail = c;
    h->nclients++;
    return c;
}

static void sub_free(api_hub_t *h, hub_sub_t *s)
{
    fields_unref(h, s->fields);
    free(s);
}

/* Remove c's subscription k: its links go to the next newest matching one. */
static void sub_remove(api_hub_t *h, api_client_t *c, size_t k)
{
    hub_sub_t *s = c->subs[k];
    memmove(c->subs + k, c->subs + k + 1, (c->nsubs - k - 1) * sizeof *c->subs);
    c->nsubs--;
    h->nsubs--;
    for (hub_link_t *l = c->links, *next; l; l = next) {
        next = l->lnext;
        if (l->sub != s)
            continue;
        const hub_name_t *n = &h->names[l->name_id];
        hub_sub_t *best = NULL;
        for (size_t j = c->nsubs; j-- > 0 && !best;)
            if (api_pattern_match(&c->subs[j]->pat, n->full, n->full_len))
                best = c->subs[j];
        if (best == NULL) {
            link_destroy(h, l);
            continue;
        }
        l->sub = best;
        if (l->heap_idx != SIZE_MAX) { /* held under the old rate */
            l->due_ns = link_due(l);
            heap_fix(c, l->heap_idx);
        }
    }
    sub_free(h, s);
}

void api_hub_client_free(api_hub_t *h, api_client_t *c)
{
    if (h == NULL || c == NULL)
        return;
    client_purge(h, c);
    while (c->links)
        link_destroy(h, c->links);
    for (size_t k = 0; k < c->nsubs; k++)
        sub_free(h, c->subs[k]);
    h->nsubs -= c->nsubs;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->chead = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->ctail = c->prev;
    h->nclients--;
    free(c->q);
    free(c->heap);
    free(c->subs);
    free(c);
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The shared, sorted and deduplicated copy of a field list (a reference). */
static int fields_get(api_hub_t *h, const char *const *fields, size_t nf, hub_fields_t **out,
                      pw_err_t *err)
{
    *out = NULL;
    if (nf == 0)
        return 0;
    if (fields == NULL)
        return pw_err_set(err, PW_EARG, "subscribe: NULL field list");
    if (nf > MAX_FIELDS)
        return pw_err_set(err, PW_EARG, "subscribe: %zu fields, at most %d", nf, MAX_FIELDS);
    for (size_t k = 0; k < nf; k++) {
        if (fields[k] == NULL || fields[k][0] == '\0')
            return pw_err_set(err, PW_EARG, "subscribe: field %zu is empty", k);
        if (strnlen(fields[k], MAX_FIELD_LEN + 1) > MAX_FIELD_LEN)
            return pw_err_set(err, PW_EARG, "subscribe: field '%.32s...' is longer than %d bytes",
                              fields[k], MAX_FIELD_LEN);
    }
    hub_fields_t *f = calloc(1, sizeof *f);
    char **name = f ? calloc(nf, sizeof *name) : NULL;
    uint32_t *len = f ? calloc(nf, sizeof *len) : NULL;
    if (f == NULL || name == NULL || len == NULL)
        goto nomem;
    f->name = name;
    f->len = len;
    for (size_t k = 0; k < nf; k++) {
        if ((name[k] = strdup(fields[k])) == NULL)
            goto nomem;
        f->list.n++;
    }
    qsort(name, nf, sizeof *name, cmp_field);
    size_t n = 0;
    for (size_t k = 0; k < nf; k++) {
        if (n && strcmp(name[n - 1], name[k]) == 0) {
            free(name[k]);
            continue;
        }
        name[n] = name[k];
        len[n++] = (uint32_t)strlen(name[k]);
    }
    f->list.n = n;
    f->list.name = (const char *const *)name;
    f->list.len = len;
    for (hub_fields_t *g = h->fields; g; g = g->next) {
        if (g->list.n != n)
            continue;
        size_t k = 0;
        while (k < n && strcmp(g->name[k], name[k]) == 0)
            k++;
        if (k == n) {
            f->refs = 1;
            fields_unref(h, f);
            g->refs++;
            *out = g;
            return 0;
        }
    }
    f->id = ++h->next_fields_id;
    f->refs = 1;
    f->next = h->fields;
    h->fields = f;
    *out = f;
    return 0;
nomem:
    if (f) {
        for (size_t k = 0; k < f->list.n; k++)
            free(name[k]);
    }
    free(name);
    free(len);
    free(f);
    return pw_err_set(err, PW_ENOMEM, "subscribe: out of memory");
}

static size_t sub_find(const api_client_t *c, const char *pattern)
{
    for (size_t k = 0; k < c->nsubs; k++)
        if (strcmp(c->subs[k]->pat.text, pattern) == 0)
            return k;
    return SIZE_MAX;
}

/* Links for sub to every known name it matches, each with its snapshot. */
static int sub_attach(api_hub_t *h, api_client_t *c, hub_sub_t *s)
{
    for (uint32_t id = 0; id < h->nnames; id++) {
        hub_name_t *n = &h->names[id];
        if (!api_pattern_match(&s->pat, n->full, n->full_len))
            continue;
        bool found;
        uint32_t at = fan_search(n, c->id, &found);
        hub_link_t *l;
        if (found) {
            l = n->fan[at];
            l->sub = s; /* the newest subscription governs */
            if (l->heap_idx != SIZE_MAX) {
                l->due_ns = link_due(l);
                heap_fix(c, l->heap_idx);
            }
        } else if (link_new(h, c, id, s, at, &l)) {
            return -ENOMEM;
        }
        if (n->latest)
            link_offer(h, l, n->latest, API_MSG_SNAPSHOT);
    }
    return 0;
}

int api_hub_subscribe(api_hub_t *h, api_client_t *c, const char *const *patterns, size_t n,
                      const char *const *fields, size_t nf, double max_rate, pw_err_t *err)
{
    if (h == NULL || c == NULL || (n && patterns == NULL))
        return pw_err_set(err, PW_EARG, "subscribe: NULL argument");
    if (n == 0)
        return pw_err_set(err, PW_EARG, "subscribe: no pattern");
    if (!(max_rate >= 0) || !isfinite(max_rate))
        return pw_err_set(err, PW_EARG, "subscribe: max_rate %g, expected a number >= 0",
                          max_rate);
    hub_sub_t **news = calloc(n, sizeof *news);
    if (news == NULL)
        return pw_err_set(err, PW_ENOMEM, "subscribe: out of memory");
    size_t fresh = 0, added = 0;
    hub_fields_t *f = NULL;
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        if ((news[k] = malloc(sizeof **news)) == NULL) {
            rc = pw_err_set(err, PW_ENOMEM, "subscribe: out of memory");
            goto fail;
        }
        news[k]->fields = NULL;
        if ((rc = api_pattern_parse(&news[k]->pat, patterns[k], err)) != 0)
            goto fail;
        bool repeat = sub_find(c, news[k]->pat.text) != SIZE_MAX;
        for (size_t j = 0; j < k && !repeat; j++)
            repeat = strcmp(news[j]->pat.text, news[k]->pat.text) == 0;
        fresh += !repeat;
    }
    if (c->nsubs + fresh > h->o.max_subscriptions) {
        rc = pw_err_set(err, PW_ECAPACITY,
                        "subscribe: %zu subscriptions and %zu new would pass the limit of %zu",
                        c->nsubs, fresh, h->o.max_subscriptions);
        goto fail;
    }
    if ((rc = fields_get(h, fields, nf, &f, err)) != 0)
        goto fail;
    if (c->nsubs + n > c->capsubs) {
        size_t cap = c->nsubs + n + 8;
        hub_sub_t **subs = realloc(c->subs, cap * sizeof *subs);
        if (subs == NULL) {
            rc = pw_err_set(err, PW_ENOMEM, "subscribe: out of memory");
            goto fail;
        }
        c->subs = subs;
        c->capsubs = cap;
    }
    int64_t interval_ns = max_rate > 0 ? (int64_t)fmin(1e9 / max_rate, 1e18) : 0;
    for (size_t k = 0; k < n; k++) {
        hub_sub_t *s = news[k];
        if (f)
            f->refs++;
        s->fields = f;
        s->interval_ns = interval_ns;
        s->seq = ++h->next_seq;
        c->subs[c->nsubs++] = s;
        h->nsubs++;
        added++;
        if (sub_attach(h, c, s)) {
            rc = pw_err_set(err, PW_ENOMEM, "subscribe: out of memory");
            goto fail;
        }
    }
    /* Only now drop the older subscriptions to the same patterns (and the
     * earlier copies of a pattern repeated in this call). */
    for (size_t k = 0; k < c->nsubs; k++) {
        for (size_t j = k + 1; j < c->nsubs; j++)
            if (strcmp(c->subs[k]->pat.text, c->subs[j]->pat.text) == 0) {
                sub_remove(h, c, k--);
                break;
            }
    }
    fields_unref(h, f);
    free(news);
    return 0;
fail:
    /* Undo what was added: the newest first, so links fall back in order. */
    while (added > 0) {
        hub_sub_t *s = news[--added];
        size_t k = c->nsubs;
        while (k-- > 0 && c->subs[k] != s)
            ;
        sub_remove(h, c, k);
        news[added] = NULL;
    }
    for (size_t k = 0; k < n; k++)
        if (news[k])
            free(news[k]);
    fields_unref(h, f);
    free(news);
    return rc;
}

int api_hub_unsubscribe(api_hub_t *h, api_client_t *c, const char *const *patterns, size_t n,
                        pw_err_t *err)
{
    if (h == NULL || c == NULL || (n && patterns == NULL))
        return pw_err_set(err, PW_EARG, "unsubscribe: NULL argument");
    for (size_t k = 0; k < n; k++) {
        if (patterns[k] == NULL)
            continue;
        size_t at = sub_find(c, patterns[k]);
        if (at != SIZE_MAX)
            sub_remove(h, c, at);
    }
    return 0;
}

/* ---- Messages ------------------------------------------------------------- */

/* Envelope from "topic" to the "missed" key, rendered once per format. */
static int entry_envelope(api_hub_t *h, hub_entry_t *e, api_fmt_t fmt)
{
    if (e->envelope_done[fmt])
        return 0;
    const hub_name_t *n = &h->names[e->name_id];
    const char *key = n->full + n->topic_len + 1;
    size_t key_len = n->full_len - n->topic_len - 1;
    api_buf_t *b = &e->render;
    size_t start = b->len;
    if (fmt == API_FMT_JSON) {
        api_buf_puts(b, "\"topic\":");
        api_json_str(b, n->full, n->topic_len);
        api_buf_puts(b, ",\"key\":");
        api_json_str(b, key, key_len);
        api_buf_puts(b, ",\"ts_ns\":");
        api_json_i64(b, e->ts_ns);
        api_buf_puts(b, ",\"version\":");
        api_json_u64(b, e->version);
        api_buf_puts(b, ",\"missed\":");
    } else {
        api_mp_str(b, "topic", 5);
        api_mp_str(b, n->full, n->topic_len);
        api_mp_str(b, "key", 3);
        api_mp_str(b, key, key_len);
        api_mp_str(b, "ts_ns", 5);
        api_mp_i64(b, e->ts_ns);
        api_mp_str(b, "version", 7);
        api_mp_u64(b, e->version);
        api_mp_str(b, "missed", 6);
    }
    if (b->failed || b->len > UINT32_MAX) {
        b->len = start;
        b->failed = false;
        return -1;
    }
    e->env_off[fmt] = (uint32_t)start;
    e->env_len[fmt] = (uint32_t)(b->len - start);
    e->envelope_done[fmt] = true;
    return 0;
}

/* The "data" part, through the entry's cache; *from is where it lives. */
static int entry_data(api_hub_t *h, hub_entry_t *e, api_fmt_t fmt, const hub_fields_t *f,
                      const char **p, size_t *len)
{
    uint32_t fid = f ? f->id : 0;
    for (uint8_t k = 0; k < e->ncache; k++)
        if (e->cache[k].fields_id == fid && e->cache[k].fmt == fmt) {
            *p = e->render.p + e->cache[k].off;
            *len = e->cache[k].len;
            return 0;
        }
    bool cached = e->ncache < RENDER_CACHE;
    api_buf_t *b = cached ? &e->render : &h->scratch;
    if (!cached)
        api_buf_reset(b);
    size_t start = b->len;
    const api_fields_t *list = f ? &f->list : NULL;
    int rc;
    if (fmt == API_FMT_JSON) {
        api_buf_puts(b, ",\"data\":");
        rc = api_render_json(b, e->body, e->body_len, list);
        api_buf_put(b, "}", 1);
    } else {
        api_mp_str(b, "data", 4);
        rc = api_render_msgpack(b, e->body, e->body_len, list);
    }
    if (rc || b->failed || b->len > UINT32_MAX) {
        b->len = start;
        b->failed = false;
        return -1;
    }
    if (cached)
        e->cache[e->ncache++] = (render_slot_t){fid, (uint8_t)fmt, (uint32_t)start,
                                                (uint32_t)(b->len - start)};
    *p = b->p + start;
    *len = b->len - start;
    return 0;
}

static int render(api_hub_t *h, const api_client_t *c, const hub_link_t *l, hub_entry_t *e,
                  uint8_t kind, uint64_t missed)
{
    const char *data;
    size_t data_len;
    /* The envelope first: the data part may move the render buffer. */
    if (entry_envelope(h, e, c->fmt) || entry_data(h, e, c->fmt, l->sub->fields, &data, &data_len))
        return -1;
    const char *env = e->render.p + e->env_off[c->fmt];
    api_buf_t *o = &h->out;
    api_buf_reset(o);
    bool snap = kind == API_MSG_SNAPSHOT;
    if (c->fmt == API_FMT_JSON) {
        api_buf_puts(o, snap ? "{\"op\":\"snapshot\"," : "{\"op\":\"update\",");
        api_buf_put(o, env, e->env_len[c->fmt]);
        api_json_u64(o, missed);
    } else {
        api_mp_map(o, 7);
        api_mp_str(o, "op", 2);
        api_mp_str(o, snap ? "snapshot" : "update", snap ? 8 : 6);
        api_buf_put(o, env, e->env_len[c->fmt]);
        api_mp_u64(o, missed);
    }
    api_buf_put(o, data, data_len);
    return o->failed ? -1 : 0;
}

api_msg_kind_t api_hub_next(api_hub_t *h, api_client_t *c, int64_t now_ns, const void **msg,
                            size_t *len)
{
    if (h == NULL || c == NULL || msg == NULL || len == NULL)
        return API_MSG_NONE;
    if (c->too_slow) {
        *msg = "";
        *len = 0;
        return API_MSG_TOO_SLOW;
    }
    for (;;) {
        hub_link_t *l;
        hub_entry_t *e;
        uint8_t kind;
        uint64_t missed;
        if (c->qlen) {
            size_t at = c->qhead;
            hub_slot_t *s = &c->q[at];
            c->qhead = (c->qhead + 1) % h->o.client_queue;
            c->qlen--;
            l = s->link;
            e = s->e;
            kind = s->kind;
            missed = s->missed;
            l->nqueued--;
        } else if (c->chead) {
            l = c->chead;
            conflated_remove(c, l);
            goto take_pending;
        } else if (c->nheap && c->heap[0]->due_ns <= now_ns) {
            l = c->heap[0];
            heap_remove(c, l);
        take_pending:
            e = l->pending;
            kind = l->pending_kind;
            missed = l->pending_missed;
            l->pending = NULL;
            l->conflated = false;
        } else {
            return API_MSG_NONE;
        }
        int rc = render(h, c, l, e, kind, missed);
        entry_unref(h, e);
        if (rc) {
            h->missed++; /* out of memory: this value is lost, the next one may fit */
            continue;
        }
        l->last_sent_ns = now_ns;
        if (l->heap_idx != SIZE_MAX) { /* a held value now waits a full interval */
            l->due_ns = link_due(l);
            heap_fix(c, l->heap_idx);
        }
        *msg = h->out.p;
        *len = h->out.len;
        return (api_msg_kind_t)kind;
    }
}

bool api_hub_pending(const api_hub_t *h, const api_client_t *c, int64_t now_ns)
{
    if (h == NULL || c == NULL)
        return false;
    return c->too_slow || c->qlen || c->chead || (c->nheap && c->heap[0]->due_ns <= now_ns);
}

void api_hub_stats(const api_hub_t *h, api_hub_stats_t *out)
{
    if (h == NULL || out == NULL)
        return;
    memset(out, 0, sizeof *out);
    for (int p = 0; p < h->o.producers; p++) {
        out->offered += atomic_load_explicit(&h->rings[p].offered, memory_order_relaxed);
        out->dropped_full += atomic_load_explicit(&h->rings[p].dropped, memory_order_relaxed);
    }
    out->dropped_full += h->dropped_loop;
    out->published = h->published;
    out->names = h->nnames;
    out->clients = h->nclients;
    out->subscriptions = h->nsubs;
    out->queued = h->queued;
    out->conflated = h->conflated;
    out->missed = h->missed;
    out->too_slow = h->too_slow;
    for (const api_client_t *c = h->chead; c; c = c->next)
        if (c->qlen > out->max_queue_depth)
            out->max_queue_depth = c->qlen;
}
