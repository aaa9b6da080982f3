/*
 * pl_window: the window operator. pl_window.h has the semantics; this file
 * has the machinery:
 *
 *   keys     a pl_keytab of wkey_t: the key's staged records (a sorted
 *            ring), its panes (pane_t, sorted by start) and timer links.
 *   panes    tumbling: one per window; sliding: one per slide, a window
 *            merges size/slide of them; session, segment: one per session
 *            or segment. A pane keeps its aggregate until every window it
 *            belongs to is past end + allowed_lateness.
 *   scopes   segment only: a pl_keytab of scope_t (by entity, or one for
 *            all keys): the staged markers, whether a segment is open, and
 *            the list of the scope's keys.
 *   timers   a hashed timer wheel per table: a key (scope) is linked in the
 *            slot of the earliest time it may have work (a window to fire,
 *            a pane to free, its ttl; a marker to apply); advance visits
 *            only the keys that are due. Due times are lower bounds: a
 *            visit that finds nothing to do reschedules.
 *   output   results go to port 0 as they fire; when one call fired them out
 *            of (ts, key, start) order (keys are visited in timer order),
 *            flush() reorders that call's result views with a radix sort
 *            (the bytes stay put).
 *
 * Records ahead of the watermark are staged; records behind it are folded
 * at once (staged records behind it are folded first), which keeps every
 * key's fold order (ts, value bits) for records that arrive in time. A key
 * is folded up to the watermark whenever it is touched, so stages hold
 * about the allowed disorder's worth of records.
 *
 * Allocation failure inside the helpers is sticky (s->err) and returned by
 * the call; the worker stops on it.
 */
#include "pipeline/pl_window.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "pipeline/pl_agg.h"
#include "pipeline/pl_keytab.h"

#define NONE UINT32_MAX
#define NS_PER_MS INT64_C(1000000)
#define SNAP_MAGIC 0x4e575750u     /* "PWWN" */
#define SNAP_END 0x444e4557u       /* "WEND" */
#define SNAP_VERSION 1u
#define WHEEL_SLOTS 4096u
#define KEYS_INITIAL 1024u
#define AHEAD 8u                   /* records a key is looked up before its turn */

/* pane_t.flags */
#define P_FIRED 1u /* emitted at least once (session, segment) */
#define P_DIRTY 2u /* took a late record in this process call */

/* ---- configuration ------------------------------------------------------- */

static const char *const type_choices[] = {"tumbling", "sliding", "session", "segment", NULL};
static const char *const scope_choices[] = {"entity", "all", NULL};

static const pw_conf_key_t window_keys[] = {
    {.name = "type", .type = PW_CONF_ENUM, .offset = offsetof(pl_window_conf_t, type),
     .def = "tumbling", .choices = type_choices,
     .desc = "tumbling: fixed windows aligned to multiples of size; sliding: windows of "
             "size every slide; session: records closer than gap; segment: from marker to "
             "marker (laps, plays)"},
    {.name = "size", .type = PW_CONF_DURATION_MS, .offset = offsetof(pl_window_conf_t, size_ms),
     .min = "0ms", .max = "8760h", .desc = "tumbling, sliding: the window's length"},
    {.name = "slide", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_window_conf_t, slide_ms), .min = "0ms", .max = "8760h",
     .desc = "sliding: time between window ends; size must be a multiple of it"},
    {.name = "gap", .type = PW_CONF_DURATION_MS, .offset = offsetof(pl_window_conf_t, gap_ms),
     .min = "0ms", .max = "8760h",
     .desc = "session: a gap this long or longer between a key's records ends its session"},
    {.name = "marker", .type = PW_CONF_STRING, .offset = offsetof(pl_window_conf_t, marker),
     .desc = "segment: the channel whose points are boundaries (their value: a label id, "
             "or a lap number), never values"},
    {.name = "open", .type = PW_CONF_STRLIST, .offset = offsetof(pl_window_conf_t, open),
     .count_offset = offsetof(pl_window_conf_t, nopen),
     .desc = "segment: labels that open a segment (e.g. [ball_snap]); with close empty too, "
             "every change of the marker's value cuts"},
    {.name = "close", .type = PW_CONF_STRLIST, .offset = offsetof(pl_window_conf_t, close),
     .count_offset = offsetof(pl_window_conf_t, nclose),
     .desc = "segment: labels that close the open segment (e.g. [tackle, out_of_bounds, "
             "touchdown])"},
    {.name = "scope", .type = PW_CONF_ENUM, .offset = offsetof(pl_window_conf_t, scope),
     .def = "entity", .choices = scope_choices,
     .desc = "segment: a marker bounds the segments of the keys of its own entity "
             "(entity), or of every key (all)"},
    {.name = "channel", .type = PW_CONF_STRING, .offset = offsetof(pl_window_conf_t, channel),
     .desc = "aggregate only this channel's points (others are counted as dropped); "
             "default all"},
    {.name = "aggregates", .type = PW_CONF_STRLIST,
     .offset = offsetof(pl_window_conf_t, aggregates),
     .count_offset = offsetof(pl_window_conf_t, naggregates), .def = "[mean, min, max]",
     .desc = "any of count, sum, mean, min, max, first, last, stddev (sample), rate "
             "((last - first) per second), quantiles"},
    {.name = "quantiles", .type = PW_CONF_STRLIST,
     .offset = offsetof(pl_window_conf_t, quantiles),
     .count_offset = offsetof(pl_window_conf_t, nquantiles),
     .desc = "with the quantiles aggregate: numbers in (0, 1), e.g. [0.5, 0.9, 0.99]; "
             "exact, linear interpolation between closest ranks"},
    {.name = "allowed_lateness", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_window_conf_t, allowed_lateness_ms), .def = "0", .min = "0ms",
     .max = "8760h",
     .desc = "a record this far behind its window's end still corrects it (a new "
             "version); later ones go to the late port"},
    {.name = "topic", .type = PW_CONF_STRING, .offset = offsetof(pl_window_conf_t, topic),
     .desc = "topic of the results; default the operator's name"},
    {.name = "ttl", .type = PW_CONF_DURATION_MS, .offset = offsetof(pl_window_conf_t, ttl_ms),
     .def = "10m", .min = "1ms", .max = "8760h",
     .desc = "forget a key whose newest record is this far behind the watermark"},
    {.name = "max_keys", .type = PW_CONF_INT, .offset = offsetof(pl_window_conf_t, max_keys),
     .def = "1000000", .min = "1", .max = "100000000",
     .desc = "most keys held; records of new keys beyond it are dropped"},
};

const pw_conf_section_t pl_window_conf_section = {
    .name = "window",
    .desc = "event-time windows over keyed points, with aggregates",
    .keys = window_keys,
    .nkeys = PW_CONF_NKEYS(window_keys),
};

/* Check the keys together; fills spec. 0 or PW_ECONF. */
static int conf_validate(const pl_window_conf_t *c, pl_agg_spec_t *spec, pw_err_t *err)
{
    static const char *const tname[] = {"tumbling", "sliding", "session", "segment"};
    if (c->type < 0 || c->type > PL_WINDOW_SEGMENT)
        return pw_err_set(err, PW_ECONF, "window: unknown type %d", c->type);
    const char *t = tname[c->type];
    bool seg = c->type == PL_WINDOW_SEGMENT;
    bool sized = c->type == PL_WINDOW_TUMBLING || c->type == PL_WINDOW_SLIDING;
    if (sized && c->size_ms <= 0)
        return pw_err_set(err, PW_ECONF, "window: a %s window needs size (e.g. size: 1s)", t);
    if (!sized && c->size_ms > 0)
        return pw_err_set(err, PW_ECONF, "window: size is for tumbling and sliding windows, "
                          "not %s", t);
    if (c->type == PL_WINDOW_SLIDING) {
        if (c->slide_ms <= 0)
            return pw_err_set(err, PW_ECONF, "window: a sliding window needs slide "
                              "(e.g. size: 10s, slide: 1s)");
        if (c->size_ms % c->slide_ms != 0)
            return pw_err_set(err, PW_ECONF, "window: size (%" PRId64 "ms) must be a "
                              "multiple of slide (%" PRId64 "ms)", c->size_ms, c->slide_ms);
    } else if (c->slide_ms > 0) {
        return pw_err_set(err, PW_ECONF, "window: slide is for sliding windows, not %s%s", t,
                          c->type == PL_WINDOW_TUMBLING ? " (use type: sliding)" : "");
    }
    if (c->type == PL_WINDOW_SESSION && c->gap_ms <= 0)
        return pw_err_set(err, PW_ECONF, "window: a session window needs gap (e.g. gap: 30s)");
    if (c->type != PL_WINDOW_SESSION && c->gap_ms > 0)
        return pw_err_set(err, PW_ECONF, "window: gap is for session windows, not %s", t);
    if (seg && (c->marker == NULL || c->marker[0] == '\0'))
        return pw_err_set(err, PW_ECONF, "window: a segment window needs marker (the channel "
                          "whose points are boundaries, e.g. marker: lap)");
    if (!seg && c->marker)
        return pw_err_set(err, PW_ECONF, "window: marker is for segment windows, not %s", t);
    if (!seg && (c->nopen || c->nclose))
        return pw_err_set(err, PW_ECONF, "window: %s is for segment windows, not %s",
                          c->nopen ? "open" : "close", t);
    if (!seg && c->scope != PL_WINDOW_SCOPE_ENTITY)
        return pw_err_set(err, PW_ECONF, "window: scope is for segment windows, not %s", t);
    if (seg && (c->nopen == 0) != (c->nclose == 0))
        return pw_err_set(err, PW_ECONF, "window: %s is given without %s: give both, or "
                          "neither to cut at every change of the marker's value",
                          c->nopen ? "open" : "close", c->nopen ? "close" : "open");
    for (size_t i = 0; i < c->nopen; i++)
        if (c->open[i] == NULL || c->open[i][0] == '\0')
            return pw_err_set(err, PW_ECONF, "window: open[%zu] is empty", i);
    for (size_t i = 0; i < c->nclose; i++)
        if (c->close[i] == NULL || c->close[i][0] == '\0')
            return pw_err_set(err, PW_ECONF, "window: close[%zu] is empty", i);
    if (c->channel && c->channel[0] == '\0')
        return pw_err_set(err, PW_ECONF, "window: channel is empty");
    if (seg && c->channel && !strcmp(c->channel, c->marker))
        return pw_err_set(err, PW_ECONF, "window: channel '%.64s' is the marker: markers are "
                          "boundaries, not values", c->channel);
    if (c->topic && c->topic[0] == '\0')
        return pw_err_set(err, PW_ECONF, "window: topic is empty");
    int rc = pl_agg_spec_parse(spec, c->aggregates, c->naggregates, c->quantiles,
                               c->nquantiles, err);
    if (rc) {
        pw_err_t e2 = err ? *err : (pw_err_t){0};
        return pw_err_set(err, rc, "window: %s", e2.msg);
    }
    int64_t span = sized ? c->size_ms : c->type == PL_WINDOW_SESSION ? c->gap_ms : 0;
    if (c->ttl_ms < span + c->allowed_lateness_ms)
        return pw_err_set(err, PW_ECONF, "window: ttl (%" PRId64 "ms) must be at least %s"
                          "allowed_lateness (%" PRId64 "ms): a key would be forgotten before "
                          "its windows are done", c->ttl_ms,
                          sized ? "size + " : c->type == PL_WINDOW_SESSION ? "gap + " : "",
                          span + c->allowed_lateness_ms);
    return 0;
}

/* ---- state --------------------------------------------------------------- */

typedef struct rec {
    int64_t ts;
    double v;
} rec_t;

/* Staged records sorted by (ts, value bits), in a ring of cap (a power of 2). */
typedef struct ring {
    rec_t *r;
    uint32_t head, n, cap;
} ring_t;

/* Timer links; the first member of wkey_t and scope_t. */
typedef struct tnode {
    int64_t due;         /* INT64_MAX: not scheduled */
    uint32_t prev, next; /* in the wheel slot's list */
} tnode_t;

typedef struct pane {
    int64_t start;     /* tumbling, sliding: pane start; session: first ts; segment: open */
    int64_t end;       /* session: last ts; segment: close (INT64_MAX while open) */
    uint64_t seq;      /* segment: the scope's segment number */
    uint32_t version;  /* results emitted (sliding: of the window ending at start + slide) */
    uint32_t flags;    /* P_* */
    pl_agg_t agg;
} pane_t;

typedef struct wkey {
    tnode_t t;
    int64_t stage_min; /* ts of the first staged record; INT64_MAX when none */
    int64_t last_ts;   /* newest record (ttl) */
    int64_t fired_to;  /* tumbling, sliding: every window ending here or before fired;
                          session: last ts of the newest session forgotten (expired) */
    int64_t cur_end;   /* tumbling, sliding: end of the pane of the newest record */
    ring_t st;
    pane_t *pane;
    uint32_t npane, pane_cap;
    uint32_t scope;    /* segment: its scope's index */
    uint32_t sprev, snext;
    uint32_t dnext;    /* dirty list */
    uint32_t dirty;
} wkey_t;

typedef struct scope {
    tnode_t t;
    int64_t stage_min;
    ring_t st;          /* staged markers */
    int64_t applied_ts; /* the last boundary applied (open or close) */
    int64_t open_ts;
    int64_t last_ts;    /* newest marker (ttl) */
    uint64_t seq;       /* segments opened */
    double value;       /* change mode: the marker's current value */
    uint32_t head;      /* the scope's keys */
    uint32_t nkeys;
    uint8_t open, has_value;
} scope_t;

typedef struct wheel {
    uint32_t *head;  /* [WHEEL_SLOTS] */
    uint32_t mask;
    int64_t gran;    /* ns per slot */
    int64_t slot;    /* the last slot collected */
    bool started;
} wheel_t;

/* A result fired in this call, for sorting. */
typedef struct pend {
    int64_t ts;
    uint64_t key;
    int64_t start;
    uint32_t i; /* its index in port 0's results */
} pend_t;

typedef struct win {
    int type;
    int64_t size, slide, gap, late, ttl; /* ns */
    uint32_t channel, marker;            /* ids; 0 = none */
    uint32_t *open_id, *close_id;
    size_t nopen, nclose;
    bool scope_all;
    pl_agg_spec_t spec;
    uint32_t mask;
    int nfields;
    char *topic;
    size_t topic_len;
    uint64_t fp;          /* configuration fingerprint (snapshots) */
    pl_keytab_t keys;
    pl_keytab_t scopes;
    wheel_t kw, sw;
    int64_t wm;
    uint32_t dirty;       /* first key of the dirty list */
    uint32_t *due;
    size_t ndue, due_cap;
    pw_result_t *rtmp;    /* flush's reordering buffer, [rtmp_cap] */
    size_t rtmp_cap;
    pend_t *pend;
    pend_t *ptmp;         /* sort_pend's other buffer, [pend_cap] */
    size_t npend, pend_cap;
    pw_body_t body;
    pl_agg_t tmp;
    char *kbuf;
    size_t kcap;
    int64_t *ebuf;
    size_t ecap;
    pl_op_t *op;
    const pl_names_t *names;
    int err;              /* sticky allocation failure */
} win_t;

/* ---- arithmetic ---------------------------------------------------------- */

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static inline int64_t floor_to(int64_t ts, int64_t step)
{
    return floor_div(ts, step) * step;
}

/* a + b for b >= 0, INT64_MAX when it would overflow. */
static inline int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/*
 * Times the operator takes: within +-2^62 ns of the epoch (years 1824 to
 * 2116), so that window arithmetic (a time plus sizes and lateness of at
 * most a year) never overflows. Points outside are dropped.
 */
#define TS_LIMIT (INT64_C(1) << 62)

static inline bool ts_ok(int64_t ts)
{
    return ts > -TS_LIMIT && ts < TS_LIMIT;
}

/* (ts, value bits) order of staged records. */
static inline bool rec_before(int64_t ta, double a, int64_t tb, double b)
{
    if (ta != tb)
        return ta < tb;
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return x < y;
}

/* ---- rings --------------------------------------------------------------- */

static int ring_grow(ring_t *q)
{
    if (q->cap >= UINT32_C(1) << 30)
        return -ENOMEM;
    uint32_t cap = q->cap ? q->cap * 2 : 2;
    rec_t *r = malloc(cap * sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < q->n; i++)
        r[i] = q->r[(q->head + i) & (q->cap - 1)];
    free(q->r);
    q->r = r;
    q->head = 0;
    q->cap = cap;
    return 0;
}

/* Insert in order (from the tail: input is nearly sorted). 0 or -ENOMEM. */
static inline int ring_push(ring_t *q, int64_t ts, double v)
{
    if (q->n == q->cap && ring_grow(q))
        return -ENOMEM;
    uint32_t m = q->cap - 1, j = q->n;
    while (j > 0) {
        const rec_t *p = &q->r[(q->head + j - 1) & m];
        if (!rec_before(ts, v, p->ts, p->v))
            break;
        q->r[(q->head + j) & m] = *p;
        j--;
    }
    q->r[(q->head + j) & m] = (rec_t){ts, v};
    q->n++;
    return 0;
}

static void ring_fini(ring_t *q)
{
    free(q->r);
    memset(q, 0, sizeof *q);
}

/* ---- timer wheel ---------------------------------------------------------- */

static inline tnode_t *tn(const pl_keytab_t *t, uint32_t i)
{
    return (tnode_t *)pl_keytab_at(t, i);
}

static inline uint32_t wheel_slot(const wheel_t *w, int64_t due)
{
    return (uint32_t)((uint64_t)floor_div(due, w->gran) & w->mask);
}

static int wheel_init(wheel_t *w, int64_t gran)
{
    memset(w, 0, sizeof *w);
    w->head = malloc(WHEEL_SLOTS * sizeof *w->head);
    if (w->head == NULL)
        return -ENOMEM;
    memset(w->head, 0xff, WHEEL_SLOTS * sizeof *w->head);
    w->mask = WHEEL_SLOTS - 1;
    w->gran = gran > 0 ? gran : 1;
    return 0;
}

static void wheel_reset(wheel_t *w)
{
    memset(w->head, 0xff, WHEEL_SLOTS * sizeof *w->head);
    w->started = false;
    w->slot = 0;
}

static void wheel_add(wheel_t *w, pl_keytab_t *t, uint32_t i, int64_t due)
{
    if (due == INT64_MAX)
        due = INT64_MAX - 1; /* INT64_MAX means "not scheduled" */
    tnode_t *n = tn(t, i);
    uint32_t s = wheel_slot(w, due);
    n->due = due;
    n->prev = NONE;
    n->next = w->head[s];
    if (n->next != NONE)
        tn(t, n->next)->prev = i;
    w->head[s] = i;
}

static void wheel_del(wheel_t *w, pl_keytab_t *t, uint32_t i)
{
    tnode_t *n = tn(t, i);
    if (n->due == INT64_MAX)
        return;
    if (n->prev != NONE)
        tn(t, n->prev)->next = n->next;
    else
        w->head[wheel_slot(w, n->due)] = n->next;
    if (n->next != NONE)
        tn(t, n->next)->prev = n->prev;
    n->due = INT64_MAX;
    n->prev = n->next = NONE;
}

static int due_push(win_t *s, uint32_t i)
{
    if (s->ndue == s->due_cap) {
        size_t cap = s->due_cap ? s->due_cap * 2 : 1024;
        uint32_t *d = realloc(s->due, cap * sizeof *d);
        if (d == NULL)
            return -ENOMEM;
        s->due = d;
        s->due_cap = cap;
    }
    s->due[s->ndue++] = i;
    return 0;
}

/* Unlink every entry due at or before W into s->due. */
static int wheel_collect(win_t *s, wheel_t *w, pl_keytab_t *t, int64_t W)
{
    int64_t cur = floor_div(W, w->gran);
    int64_t from = cur;
    uint64_t nscan = (uint64_t)w->mask + 1;
    if (w->started && cur >= w->slot) {
        uint64_t d = (uint64_t)cur - (uint64_t)w->slot;
        from = w->slot;
        if (d < w->mask)
            nscan = d + 1;
    }
    s->ndue = 0;
    for (uint64_t k = 0; k < nscan; k++) {
        uint32_t sl = (uint32_t)(((uint64_t)from + k) & w->mask);
        uint32_t i = w->head[sl];
        while (i != NONE) {
            tnode_t *n = tn(t, i);
            uint32_t nx = n->next;
            if (n->due <= W) {
                wheel_del(w, t, i);
                if (due_push(s, i))
                    return -ENOMEM;
            }
            i = nx;
        }
    }
    w->slot = cur;
    w->started = true;
    return 0;
}

/* Schedule key idx no later than d (never at or before the watermark). */
static void key_due_min(win_t *s, uint32_t idx, int64_t d)
{
    if (s->wm == INT64_MAX)
        return;
    if (d <= s->wm)
        d = s->wm + 1;
    tnode_t *n = tn(&s->keys, idx);
    if (d < n->due) {
        wheel_del(&s->kw, &s->keys, idx);
        wheel_add(&s->kw, &s->keys, idx, d);
    }
}

static void scope_due_min(win_t *s, uint32_t idx, int64_t d)
{
    if (s->wm == INT64_MAX)
        return;
    if (d <= s->wm)
        d = s->wm + 1;
    tnode_t *n = tn(&s->scopes, idx);
    if (d < n->due) {
        wheel_del(&s->sw, &s->scopes, idx);
        wheel_add(&s->sw, &s->scopes, idx, d);
    }
}

/* ---- panes --------------------------------------------------------------- */

/* A fresh pane at position pos (reusing a spare pane's value buffer). */
static pane_t *pane_insert(win_t *s, wkey_t *k, uint32_t pos)
{
    if (k->npane == k->pane_cap) {
        uint32_t cap = k->pane_cap ? k->pane_cap * 2 : 1;
        pane_t *p = realloc(k->pane, cap * sizeof *p);
        if (p == NULL) {
            s->err = -ENOMEM;
            return NULL;
        }
        memset(p + k->pane_cap, 0, (cap - k->pane_cap) * sizeof *p);
        k->pane = p;
        k->pane_cap = cap;
    }
    pl_agg_t spare = k->pane[k->npane].agg;
    memmove(&k->pane[pos + 1], &k->pane[pos], (k->npane - pos) * sizeof *k->pane);
    pl_agg_reset(&spare);
    k->pane[pos] = (pane_t){.agg = spare};
    k->npane++;
    return &k->pane[pos];
}

/* Drop the pane at pos, keeping its value buffer as a spare. */
static void pane_remove(wkey_t *k, uint32_t pos)
{
    pane_t spare = k->pane[pos];
    memmove(&k->pane[pos], &k->pane[pos + 1], (k->npane - pos - 1) * sizeof *k->pane);
    k->pane[k->npane - 1] = spare;
    k->npane--;
}

/* The tumbling/sliding pane starting at start, made if missing. */
static pane_t *pane_at(win_t *s, wkey_t *k, int64_t start)
{
    uint32_t j = k->npane;
    while (j > 0 && k->pane[j - 1].start > start)
        j--;
    if (j > 0 && k->pane[j - 1].start == start)
        return &k->pane[j - 1];
    pane_t *p = pane_insert(s, k, j);
    if (p)
        p->start = start;
    return p;
}

static void key_free(wkey_t *k)
{
    ring_fini(&k->st);
    for (uint32_t i = 0; i < k->pane_cap; i++)
        pl_agg_fini(&k->pane[i].agg);
    free(k->pane);
    k->pane = NULL;
    k->npane = k->pane_cap = 0;
}

/* ---- results ------------------------------------------------------------- */

/* The key's names into s->kbuf: "car/24/speed_mps". NULL on -ENOMEM. */
static const char *key_name(win_t *s, uint64_t key, size_t *len)
{
    uint32_t e = PL_KEY_ENTITY(key), c = PL_KEY_CHANNEL(key);
    char ne[32], nc[32];
    const char *en = NULL, *cn = NULL;
    size_t el = 0, cl = 0;
    if (e) {
        en = s->names && s->names->entities ? pw_intern_name(s->names->entities, e) : NULL;
        if (en)
            el = pw_intern_len(s->names->entities, e);
        else {
            el = (size_t)snprintf(ne, sizeof ne, "entity/%" PRIu32, e);
            en = ne;
        }
    }
    if (c) {
        cn = s->names && s->names->channels ? pw_intern_name(s->names->channels, c) : NULL;
        if (cn)
            cl = pw_intern_len(s->names->channels, c);
        else {
            cl = (size_t)snprintf(nc, sizeof nc, "channel/%" PRIu32, c);
            cn = nc;
        }
    }
    if (!e && !c) {
        en = "all";
        el = 3;
    }
    size_t need = el + 1 + cl + 1;
    if (need > s->kcap) {
        char *b = realloc(s->kbuf, need);
        if (b == NULL)
            return NULL;
        s->kbuf = b;
        s->kcap = need;
    }
    size_t n = 0;
    if (el) {
        memcpy(s->kbuf, en, el);
        n = el;
    }
    if (cl) {
        if (n)
            s->kbuf[n++] = '/';
        memcpy(s->kbuf + n, cn, cl);
        n += cl;
    }
    s->kbuf[n] = '\0';
    *len = n;
    return s->kbuf;
}

/* One result into the scratch batch; sorted and copied out by flush(). */
static void emit(win_t *s, uint64_t key, int64_t ts, int64_t start, int64_t end,
                 pl_agg_t *a, uint32_t version, bool with_duration, int64_t duration_ns)
{
    pw_body_t *b = &s->body;
    pw_body_clear(b);
    pw_body_map(b, (uint32_t)(3 + s->nfields + (with_duration ? 1 : 0)));
    pw_body_key(b, "start_ns");
    pw_body_i64(b, start);
    pw_body_key(b, "end_ns");
    pw_body_i64(b, end);
    pw_body_key(b, "count");
    pw_body_u64(b, a->count);
    pl_agg_write(a, &s->spec, b);
    if (with_duration) {
        pw_body_key(b, "duration_s");
        pw_body_f64(b, (double)duration_ns / 1e9);
    }
    size_t klen = 0;
    const char *kn = key_name(s, key, &klen);
    if (pw_body_ok(b) || kn == NULL) {
        s->err = -ENOMEM;
        return;
    }
    if (s->npend == s->pend_cap) {
        size_t cap = s->pend_cap ? s->pend_cap * 2 : 256;
        pend_t *p = realloc(s->pend, cap * sizeof *p);
        if (p == NULL) {
            s->err = -ENOMEM;
            return;
        }
        s->pend = p;
        p = realloc(s->ptmp, cap * sizeof *p);
        if (p == NULL) {
            s->err = -ENOMEM;
            return;
        }
        s->ptmp = p;
        s->pend_cap = cap;
    }
    pl_results_t *out = &pl_op_port(s->op, 0)->res;
    if (pl_results_add(out, ts, version, s->topic, s->topic_len, kn, klen, b->data,
                       b->len)) {
        s->err = -ENOMEM;
        return;
    }
    s->pend[s->npend++] = (pend_t){ts, key, start, (uint32_t)(out->rec.n - 1)};
}

static inline bool pend_before(const pend_t *a, const pend_t *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts;
    if (a->key != b->key)
        return a->key < b->key;
    return a->start < b->start;
}

#define SIGN64 (UINT64_C(1) << 63)

/* Byte d of the sort key (ts, key, start), least significant first (d 0..23). */
static inline unsigned pend_digit(const pend_t *e, int d)
{
    uint64_t v = d < 8 ? (uint64_t)e->start ^ SIGN64
                 : d < 16 ? e->key : (uint64_t)e->ts ^ SIGN64;
    return (unsigned)(v >> (8 * (d & 7))) & 255u;
}

/*
 * Sort the results of this call by (ts, key, start): an LSD radix sort over
 * the bytes that differ between entries (when every key's window ends at
 * once, only a few bytes of the key do), stable, in s->ptmp. Firing a
 * million windows sorts in tens of milliseconds and allocates nothing once
 * the buffers have grown.
 */
static void sort_pend(win_t *s)
{
    size_t n = s->npend;
    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            pend_t x = s->pend[i];
            size_t j = i;
            while (j > 0 && pend_before(&x, &s->pend[j - 1])) {
                s->pend[j] = s->pend[j - 1];
                j--;
            }
            s->pend[j] = x;
        }
        return;
    }
    uint64_t or_[3] = {0, 0, 0}, and_[3] = {~UINT64_C(0), ~UINT64_C(0), ~UINT64_C(0)};
    for (size_t i = 0; i < n; i++) {
        const pend_t *e = &s->pend[i];
        or_[0] |= (uint64_t)e->start;
        and_[0] &= (uint64_t)e->start;
        or_[1] |= e->key;
        and_[1] &= e->key;
        or_[2] |= (uint64_t)e->ts;
        and_[2] &= (uint64_t)e->ts;
    }
    pend_t *src = s->pend, *dst = s->ptmp;
    size_t count[256];
    for (int d = 0; d < 24; d++) {
        if ((((or_[d / 8] ^ and_[d / 8]) >> (8 * (d & 7))) & 255u) == 0)
            continue; /* every entry has the same byte here */
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[pend_digit(&src[i], d)]++;
        size_t at = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[pend_digit(&src[i], d)]++] = src[i];
        pend_t *t = src;
        src = dst;
        dst = t;
    }
    s->pend = src;
    s->ptmp = dst;
}

/*
 * Put the results of this call (the last npend of port 0, written by emit)
 * in (ts, key, start) order. Only the result views move: their bytes stay
 * where they are in the port's arena.
 */
static int flush(win_t *s, pl_op_t *op)
{
    size_t n = s->npend;
    s->npend = 0;
    if (n < 2)
        return 0;
    size_t j = 1;
    while (j < n && !pend_before(&s->pend[j], &s->pend[j - 1]))
        j++;
    if (j == n)
        return 0; /* fired in order already */
    if (s->rtmp_cap < n) {
        pw_result_t *t = realloc(s->rtmp, n * sizeof *t);
        if (t == NULL)
            return -ENOMEM;
        s->rtmp = t;
        s->rtmp_cap = n;
    }
    s->npend = n;
    sort_pend(s);
    s->npend = 0;
    pw_result_t *rec = pl_op_port(op, 0)->res.rec.rec;
    size_t first = pl_op_port(op, 0)->res.rec.n - n;
    for (j = 0; j < n; j++)
        s->rtmp[j] = rec[s->pend[j].i];
    memcpy(rec + first, s->rtmp, n * sizeof *rec);
    return 0;
}

/* Fire window [e - size, e) of a tumbling/sliding key, bumping its version. */
static void emit_window(win_t *s, uint64_t key, wkey_t *k, int64_t e)
{
    int64_t lo = e - s->size;
    if (s->slide == s->size) {
        uint32_t j = k->npane;
        while (j > 0 && k->pane[j - 1].start > lo)
            j--;
        if (j == 0 || k->pane[j - 1].start != lo || k->pane[j - 1].agg.count == 0)
            return;
        pane_t *p = &k->pane[j - 1];
        p->version++;
        emit(s, key, e, lo, e, &p->agg, p->version, false, 0);
        return;
    }
    pl_agg_reset(&s->tmp);
    for (uint32_t j = 0; j < k->npane; j++)
        if (k->pane[j].start >= lo && k->pane[j].start < e &&
            pl_agg_merge(&s->tmp, &k->pane[j].agg, s->mask)) {
            s->err = -ENOMEM;
            return;
        }
    if (s->tmp.count == 0)
        return;
    uint32_t version = 1;
    if (s->late > 0) {
        /* The window's version lives in its last pane (made if empty). */
        pane_t *c = pane_at(s, k, e - s->slide);
        if (c == NULL)
            return;
        version = ++c->version;
    }
    emit(s, key, e, lo, e, &s->tmp, version, false, 0);
}

static void emit_session(win_t *s, uint64_t key, pane_t *p)
{
    p->version++;
    p->flags |= P_FIRED;
    int64_t end = sat_add(p->end, s->gap);
    emit(s, key, end, p->start, end, &p->agg, p->version, true, p->end - p->start);
}

static void emit_segment(win_t *s, uint64_t key, pane_t *p)
{
    p->version++;
    p->flags |= P_FIRED;
    emit(s, key, p->end, p->start, p->end, &p->agg, p->version, true, p->end - p->start);
}

/* ---- folding ------------------------------------------------------------- */

static inline scope_t *scope_of(const win_t *s, const wkey_t *k)
{
    return pl_keytab_at(&s->scopes, k->scope);
}

/* Fold one record in time order (the stage's, or a late one of the current segment). */
static void fold_one(win_t *s, wkey_t *k, int64_t ts, double v)
{
    pane_t *p = k->npane ? &k->pane[k->npane - 1] : NULL;
    switch (s->type) {
    case PL_WINDOW_TUMBLING:
    case PL_WINDOW_SLIDING:
        if (!(p && ts >= p->start && ts - p->start < s->slide))
            p = pane_at(s, k, floor_to(ts, s->slide));
        break;
    case PL_WINDOW_SESSION:
        if (p && !(p->flags & P_FIRED) && ts >= p->start && ts - p->end < s->gap) {
            if (ts > p->end)
                p->end = ts;
        } else {
            p = pane_insert(s, k, k->npane);
            if (p)
                p->start = p->end = ts;
        }
        break;
    default: {
        const scope_t *sc = scope_of(s, k);
        if (!sc->open) {
            s->op->cnt.outside++; /* between segments */
            return;
        }
        if (!(p && !(p->flags & P_FIRED) && p->seq == sc->seq)) {
            p = pane_insert(s, k, k->npane);
            if (p) {
                p->start = sc->open_ts;
                p->end = INT64_MAX;
                p->seq = sc->seq;
            }
        }
        break;
    }
    }
    if (p && pl_agg_add(&p->agg, s->mask, ts, v))
        s->err = -ENOMEM;
}

/* Fold the staged records with ts < upto, in order. */
static void fold_stage(win_t *s, wkey_t *k, int64_t upto)
{
    ring_t *q = &k->st;
    while (q->n) {
        const rec_t *r = &q->r[q->head];
        if (r->ts >= upto) {
            k->stage_min = r->ts;
            return;
        }
        int64_t ts = r->ts;
        double v = r->v;
        q->head = (q->head + 1) & (q->cap - 1);
        q->n--;
        fold_one(s, k, ts, v);
    }
    k->stage_min = INT64_MAX;
}

static void mark_dirty(win_t *s, uint32_t idx, wkey_t *k)
{
    if (k->dirty)
        return;
    k->dirty = 1;
    k->dnext = s->dirty;
    s->dirty = idx;
}

/* ---- late records --------------------------------------------------------- */

static bool late_sized(win_t *s, uint32_t idx, wkey_t *k, int64_t ts, double v, int64_t W)
{
    int64_t p = floor_to(ts, s->slide);
    if (sat_add(p, s->size + s->late) <= W)
        return false;
    /* Windows ending by W without records never fired, but are done: say so. */
    int64_t ft = floor_to(W, s->slide);
    if (ft > k->fired_to)
        k->fired_to = ft;
    pane_t *pn = pane_at(s, k, p);
    if (pn == NULL)
        return true;
    if (pl_agg_add(&pn->agg, s->mask, ts, v)) {
        s->err = -ENOMEM;
        return true;
    }
    if (sat_add(p, s->slide) <= k->fired_to) {
        pn->flags |= P_DIRTY;
        mark_dirty(s, idx, k);
    }
    if (sat_add(p, s->size) > k->fired_to) {
        int64_t e = sat_add(p, s->slide), f = sat_add(k->fired_to, s->slide);
        key_due_min(s, idx, e > f ? e : f);
    }
    return true;
}

static bool late_session(win_t *s, uint32_t idx, wkey_t *k, int64_t ts, double v, int64_t W)
{
    if (ts < sat_add(k->fired_to, s->gap))
        return false; /* it belongs to, or would join, a session already forgotten */
    uint32_t j = k->npane;
    while (j > 0 && k->pane[j - 1].start > ts)
        j--;
    pane_t *prev = j > 0 ? &k->pane[j - 1] : NULL;
    pane_t *next = j < k->npane ? &k->pane[j] : NULL;
    pane_t *to = NULL;
    if (prev && ts <= prev->end) {
        if ((prev->flags & P_FIRED) && sat_add(prev->end, s->gap + s->late) <= W)
            return false;
        to = prev;
    } else {
        bool near_prev = prev && ts - prev->end < s->gap;
        bool near_next = next && next->start - ts < s->gap;
        if (near_prev && near_next)
            return false; /* would merge two sessions */
        if (near_prev) {
            if (prev->flags & P_FIRED)
                return false; /* would move a fired session's end */
            prev->end = ts;
            to = prev;
        } else if (near_next) {
            if (next->flags & P_FIRED)
                return false;
            next->start = ts;
            to = next;
        } else {
            if (sat_add(ts, s->gap + s->late) <= W)
                return false;
            to = pane_insert(s, k, j);
            if (to == NULL)
                return true;
            to->start = to->end = ts;
            if (sat_add(ts, s->gap) <= W)
                to->flags = P_FIRED; /* complete already: first emitted as a correction */
            else
                key_due_min(s, idx, sat_add(ts, s->gap));
        }
    }
    if (pl_agg_add(&to->agg, s->mask, ts, v)) {
        s->err = -ENOMEM;
        return true;
    }
    if (to->flags & P_FIRED) {
        to->flags |= P_DIRTY;
        mark_dirty(s, idx, k);
    }
    return true;
}

static bool late_segment(win_t *s, uint32_t idx, wkey_t *k, int64_t ts, double v, int64_t W)
{
    const scope_t *sc = scope_of(s, k);
    if (ts >= sc->applied_ts) {
        fold_one(s, k, ts, v); /* the scope's state has not changed since ts */
        return true;
    }
    for (uint32_t j = k->npane; j-- > 0;) {
        pane_t *p = &k->pane[j];
        if (!(p->flags & P_FIRED) || ts < p->start || ts >= p->end)
            continue;
        if (sat_add(p->end, s->late) <= W)
            return false;
        if (pl_agg_add(&p->agg, s->mask, ts, v)) {
            s->err = -ENOMEM;
            return true;
        }
        p->flags |= P_DIRTY;
        mark_dirty(s, idx, k);
        return true;
    }
    return false;
}

static void to_late(win_t *s, pl_op_t *op, const pl_batch_t *in, size_t i)
{
    if (pl_batch_push_point(pl_op_port(op, 1), in, i))
        s->err = -ENOMEM;
    op->cnt.late++;
}

/* Re-emit the windows late records changed in this call (one version each). */
static void correct(win_t *s)
{
    const int64_t W = s->wm;
    for (uint32_t idx = s->dirty; idx != NONE && s->err == 0;) {
        wkey_t *k = pl_keytab_at(&s->keys, idx);
        uint32_t next = k->dnext;
        uint64_t key = pl_keytab_key(&s->keys, idx);
        k->dnext = NONE;
        k->dirty = 0;
        if (s->type == PL_WINDOW_TUMBLING || s->type == PL_WINDOW_SLIDING) {
            size_t ne = 0;
            for (uint32_t j = 0; j < k->npane; j++) {
                pane_t *p = &k->pane[j];
                if (!(p->flags & P_DIRTY))
                    continue;
                p->flags &= ~P_DIRTY;
                for (int64_t e = p->start + s->slide; e <= p->start + s->size && e <= k->fired_to;
                     e += s->slide) {
                    if (sat_add(e, s->late) <= W)
                        continue;
                    if (ne == s->ecap) {
                        size_t cap = s->ecap ? s->ecap * 2 : 64;
                        int64_t *b = realloc(s->ebuf, cap * sizeof *b);
                        if (b == NULL) {
                            s->err = -ENOMEM;
                            return;
                        }
                        s->ebuf = b;
                        s->ecap = cap;
                    }
                    size_t at = ne;
                    while (at > 0 && s->ebuf[at - 1] > e)
                        at--;
                    if (at > 0 && s->ebuf[at - 1] == e)
                        continue;
                    memmove(&s->ebuf[at + 1], &s->ebuf[at], (ne - at) * sizeof *s->ebuf);
                    s->ebuf[at] = e;
                    ne++;
                }
            }
            for (size_t x = 0; x < ne; x++)
                emit_window(s, key, pl_keytab_at(&s->keys, idx), s->ebuf[x]);
        } else {
            for (uint32_t j = 0; j < k->npane; j++) {
                pane_t *p = &k->pane[j];
                if (!(p->flags & P_DIRTY))
                    continue;
                p->flags &= ~P_DIRTY;
                if (s->type == PL_WINDOW_SESSION)
                    emit_session(s, key, p);
                else
                    emit_segment(s, key, p);
            }
        }
        idx = next;
    }
    s->dirty = NONE;
}

/* ---- keys and scopes ------------------------------------------------------ */

static inline uint64_t scope_id(const win_t *s, uint64_t key)
{
    return s->scope_all ? 0 : PL_KEY_ENTITY(key);
}

/* The scope of id, made if missing; NONE when refused (counted) or on -ENOMEM. */
static uint32_t scope_get(win_t *s, pl_op_t *op, uint64_t id)
{
    uint32_t i = pl_keytab_find(&s->scopes, id);
    if (i != NONE)
        return i;
    int rc = pl_keytab_insert(&s->scopes, id, &i);
    if (rc == PW_ECAPACITY) {
        op->cnt.keys_refused++;
        op->cnt.dropped++;
        return NONE;
    }
    if (rc) {
        s->err = rc;
        return NONE;
    }
    scope_t *sc = pl_keytab_at(&s->scopes, i);
    sc->t = (tnode_t){INT64_MAX, NONE, NONE};
    sc->stage_min = INT64_MAX;
    sc->applied_ts = INT64_MIN;
    sc->last_ts = INT64_MIN;
    sc->head = NONE;
    return i;
}

static void scope_remove(win_t *s, uint32_t i)
{
    scope_t *sc = pl_keytab_at(&s->scopes, i);
    wheel_del(&s->sw, &s->scopes, i);
    ring_fini(&sc->st);
    pl_keytab_remove(&s->scopes, i);
}

/* A new key's state; NONE when refused (counted) or on -ENOMEM. */
static uint32_t key_new(win_t *s, pl_op_t *op, uint64_t key, int64_t W)
{
    uint32_t idx, sidx = NONE;
    if (pl_keytab_count(&s->keys) >= s->keys.max) {
        op->cnt.keys_refused++;
        op->cnt.dropped++;
        return NONE;
    }
    if (s->type == PL_WINDOW_SEGMENT && (sidx = scope_get(s, op, scope_id(s, key))) == NONE)
        return NONE;
    int rc = pl_keytab_insert(&s->keys, key, &idx);
    if (rc) {
        s->err = rc;
        return NONE;
    }
    wkey_t *k = pl_keytab_at(&s->keys, idx);
    k->t = (tnode_t){INT64_MAX, NONE, NONE};
    k->stage_min = INT64_MAX;
    k->last_ts = INT64_MIN;
    k->fired_to = W == INT64_MIN || s->type == PL_WINDOW_SESSION ? INT64_MIN
                  : floor_to(W, s->slide);
    k->scope = sidx;
    k->sprev = k->snext = NONE;
    k->dnext = NONE;
    if (sidx != NONE) {
        scope_t *sc = pl_keytab_at(&s->scopes, sidx);
        k->snext = sc->head;
        if (sc->head != NONE)
            ((wkey_t *)pl_keytab_at(&s->keys, sc->head))->sprev = idx;
        sc->head = idx;
        sc->nkeys++;
        wheel_del(&s->sw, &s->scopes, sidx); /* a scope with keys has no ttl */
        if (sc->st.n)
            scope_due_min(s, sidx, sat_add(sc->stage_min, 1));
    }
    op->cnt.keys = pl_keytab_count(&s->keys);
    return idx;
}

static void key_evict(win_t *s, pl_op_t *op, uint32_t idx)
{
    wkey_t *k = pl_keytab_at(&s->keys, idx);
    wheel_del(&s->kw, &s->keys, idx);
    if (k->scope != NONE) {
        scope_t *sc = pl_keytab_at(&s->scopes, k->scope);
        if (k->sprev != NONE)
            ((wkey_t *)pl_keytab_at(&s->keys, k->sprev))->snext = k->snext;
        else
            sc->head = k->snext;
        if (k->snext != NONE)
            ((wkey_t *)pl_keytab_at(&s->keys, k->snext))->sprev = k->sprev;
        if (--sc->nkeys == 0 && sc->st.n == 0)
            scope_due_min(s, k->scope, sat_add(sat_add(sc->last_ts, s->ttl), 1));
    }
    key_free(k);
    pl_keytab_remove(&s->keys, idx);
    op->cnt.evicted++;
    op->cnt.keys = pl_keytab_count(&s->keys);
}

/* The earliest time key k may have work. */
static int64_t key_due(const win_t *s, const wkey_t *k)
{
    int64_t d = sat_add(sat_add(k->last_ts, s->ttl), 1);
    for (uint32_t j = 0; j < k->npane; j++) {
        const pane_t *p = &k->pane[j];
        switch (s->type) {
        case PL_WINDOW_TUMBLING:
        case PL_WINDOW_SLIDING:
            if (p->agg.count) {
                int64_t e = sat_add(p->start, s->slide), f = sat_add(k->fired_to, s->slide);
                if (f > e)
                    e = f;
                if (e <= sat_add(p->start, s->size))
                    d = min64(d, e);
            }
            d = min64(d, sat_add(p->start, s->size + s->late));
            break;
        case PL_WINDOW_SESSION:
            d = min64(d, sat_add(p->end, (p->flags & P_FIRED) ? s->gap + s->late : s->gap));
            break;
        default:
            if (p->flags & P_FIRED)
                d = min64(d, sat_add(p->end, s->late));
            break;
        }
    }
    if (k->st.n) {
        if (s->type == PL_WINDOW_SESSION)
            d = min64(d, sat_add(k->stage_min, s->gap));
        else if (s->type != PL_WINDOW_SEGMENT)
            d = min64(d, sat_add(floor_to(k->stage_min, s->slide), s->slide));
    }
    return d;
}

/* Fire what is due for key idx at W, free what is done, evict or reschedule. */
static void visit_key(win_t *s, pl_op_t *op, uint32_t idx, int64_t W)
{
    wkey_t *k = pl_keytab_at(&s->keys, idx);
    uint64_t key = pl_keytab_key(&s->keys, idx);
    if (k->stage_min < W)
        fold_stage(s, k, W);
    switch (s->type) {
    case PL_WINDOW_TUMBLING:
    case PL_WINDOW_SLIDING: {
        int64_t e = k->fired_to == INT64_MIN ? INT64_MIN : sat_add(k->fired_to, s->slide);
        uint32_t j = 0;
        for (;;) {
            while (j < k->npane &&
                   (k->pane[j].agg.count == 0 || sat_add(k->pane[j].start, s->size) < e))
                j++;
            if (j == k->npane)
                break;
            int64_t e0 = sat_add(k->pane[j].start, s->slide);
            if (e < e0)
                e = e0;
            if (e > W || s->err)
                break;
            emit_window(s, key, k, e);
            e = sat_add(e, s->slide);
        }
        int64_t ft = floor_to(W, s->slide);
        if (ft > k->fired_to)
            k->fired_to = ft;
        while (k->npane && sat_add(k->pane[0].start, s->size + s->late) <= W)
            pane_remove(k, 0);
        break;
    }
    case PL_WINDOW_SESSION:
        for (uint32_t j = 0; j < k->npane; j++) {
            pane_t *p = &k->pane[j];
            if (!(p->flags & P_FIRED) && sat_add(p->end, s->gap) <= W)
                emit_session(s, key, p);
        }
        while (k->npane && (k->pane[0].flags & P_FIRED) &&
               sat_add(k->pane[0].end, s->gap + s->late) <= W) {
            if (k->pane[0].end > k->fired_to)
                k->fired_to = k->pane[0].end;
            pane_remove(k, 0);
        }
        break;
    default:
        while (k->npane && (k->pane[0].flags & P_FIRED) &&
               sat_add(k->pane[0].end, s->late) <= W)
            pane_remove(k, 0);
        break;
    }
    bool idle = W > sat_add(k->last_ts, s->ttl) &&
                (k->npane == 0 || (s->type == PL_WINDOW_SEGMENT && k->npane == 1 &&
                                   !(k->pane[0].flags & P_FIRED)));
    if (W == INT64_MAX || idle) {
        key_evict(s, op, idx);
        return;
    }
    int64_t d = key_due(s, k);
    if (d <= W)
        d = W + 1;
    wheel_add(&s->kw, &s->keys, idx, d);
}

/* Apply one marker of scope sidx at ts (every marker before it is applied). */
static void apply_marker(win_t *s, uint32_t sidx, int64_t ts, double v)
{
    scope_t *sc = pl_keytab_at(&s->scopes, sidx);
    bool cut = false, open = false;
    if (s->nopen == 0 && s->nclose == 0) {
        if (!sc->has_value)
            open = true;
        else if (v != sc->value)
            cut = open = true;
        sc->value = v;
        sc->has_value = 1;
    } else {
        uint32_t id = v >= 1.0 && v < 4294967296.0 && v == floor(v) ? (uint32_t)v : 0;
        bool is_close = false, is_open = false;
        for (size_t i = 0; i < s->nclose; i++)
            is_close |= s->close_id[i] == id;
        for (size_t i = 0; i < s->nopen; i++)
            is_open |= s->open_id[i] == id;
        cut = is_close && sc->open;
        open = is_open && (!sc->open || cut);
    }
    if (!cut && !open)
        return;
    /* Every key of the scope takes its records before ts under the old state. */
    for (uint32_t i = sc->head; i != NONE;) {
        wkey_t *k = pl_keytab_at(&s->keys, i);
        if (k->stage_min < ts)
            fold_stage(s, k, ts);
        if (cut && k->npane) {
            pane_t *p = &k->pane[k->npane - 1];
            if (!(p->flags & P_FIRED) && p->seq == sc->seq) {
                p->end = ts;
                emit_segment(s, pl_keytab_key(&s->keys, i), p);
                key_due_min(s, i, sat_add(ts, s->late));
            }
        }
        i = k->snext;
    }
    if (cut)
        sc->open = 0;
    if (open) {
        sc->open = 1;
        sc->open_ts = ts;
        sc->seq++;
    }
    sc->applied_ts = ts;
}

static void visit_scope(win_t *s, uint32_t sidx, int64_t W)
{
    scope_t *sc = pl_keytab_at(&s->scopes, sidx);
    while (sc->st.n && sc->st.r[sc->st.head].ts < W && s->err == 0) {
        rec_t m = sc->st.r[sc->st.head];
        sc->st.head = (sc->st.head + 1) & (sc->st.cap - 1);
        sc->st.n--;
        apply_marker(s, sidx, m.ts, m.v);
    }
    sc->stage_min = sc->st.n ? sc->st.r[sc->st.head].ts : INT64_MAX;
    if (sc->nkeys == 0 && sc->st.n == 0 &&
        (W == INT64_MAX || W > sat_add(sc->last_ts, s->ttl))) {
        scope_remove(s, sidx);
        return;
    }
    if (W == INT64_MAX)
        return;
    int64_t d = sc->st.n ? sat_add(sc->stage_min, 1)
                : sc->nkeys == 0 ? sat_add(sat_add(sc->last_ts, s->ttl), 1) : INT64_MAX;
    if (d == INT64_MAX)
        return;
    if (d <= W)
        d = W + 1;
    wheel_add(&s->sw, &s->scopes, sidx, d);
}

/* ---- process / advance ---------------------------------------------------- */

static void marker_in(win_t *s, pl_op_t *op, const pl_batch_t *in, size_t i, int64_t W)
{
    int64_t ts = in->pts.ts_ns[i];
    double v = in->pts.value[i];
    if (!isfinite(v) || !ts_ok(ts)) {
        op->cnt.dropped++;
        return;
    }
    if (ts < W) {
        to_late(s, op, in, i); /* a boundary is never moved behind the watermark */
        return;
    }
    uint32_t sidx = scope_get(s, op, scope_id(s, in->key[i]));
    if (sidx == NONE)
        return;
    scope_t *sc = pl_keytab_at(&s->scopes, sidx);
    if (ring_push(&sc->st, ts, v)) {
        s->err = -ENOMEM;
        return;
    }
    if (ts > sc->last_ts)
        sc->last_ts = ts;
    if (ts < sc->stage_min) {
        sc->stage_min = ts;
        scope_due_min(s, sidx, sat_add(ts, 1));
    }
}

static void late_in(win_t *s, pl_op_t *op, uint32_t idx, const pl_batch_t *in, size_t i,
                    int64_t W)
{
    wkey_t *k = pl_keytab_at(&s->keys, idx);
    int64_t ts = in->pts.ts_ns[i];
    double v = in->pts.value[i];
    if (k->stage_min < W)
        fold_stage(s, k, W);
    bool ok;
    switch (s->type) {
    case PL_WINDOW_TUMBLING:
    case PL_WINDOW_SLIDING:
        ok = late_sized(s, idx, k, ts, v, W);
        break;
    case PL_WINDOW_SESSION:
        ok = late_session(s, idx, k, ts, v, W);
        break;
    default:
        ok = late_segment(s, idx, k, ts, v, W);
        break;
    }
    if (!ok) {
        to_late(s, op, in, i);
        return;
    }
    k = pl_keytab_at(&s->keys, idx);
    if (ts > k->last_ts)
        k->last_ts = ts;
    key_due_min(s, idx, sat_add(sat_add(k->last_ts, s->ttl), 1));
}

static int window_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    win_t *s = op->state;
    (void)input;
    if (in->kind != PL_POINTS || !in->keyed)
        return PW_EARG;
    const int64_t W = ctx->watermark_ns;
    s->wm = W;
    s->op = op;
    s->npend = 0;
    if (ctx->names)
        s->names = ctx->names;
    const pw_points_t *pt = &in->pts;
    const size_t n = pt->n;
    const bool sized = s->type == PL_WINDOW_TUMBLING || s->type == PL_WINDOW_SLIDING;
    /*
     * Keys are looked up AHEAD records early and their state prefetched in
     * stages (hash slot, then the key, then its stage and pane), so the
     * cache misses of a batch spread over many keys overlap.
     */
    uint32_t ahead[2 * AHEAD];
    for (size_t j = 0; j < n && j < 2 * AHEAD; j++) {
        if (j < AHEAD)
            ahead[j] = pl_keytab_find(&s->keys, in->key[j]);
        else
            __builtin_prefetch(pl_keytab_slot_of(&s->keys, in->key[j]));
    }
    for (size_t i = 0; i < n; i++) {
        const int64_t ts = pt->ts_ns[i];
        const uint32_t ch = pt->channel[i];
        const double v = pt->value[i];
        const uint64_t key = in->key[i];
        if (i + 2 * AHEAD < n)
            __builtin_prefetch(pl_keytab_slot_of(&s->keys, in->key[i + 2 * AHEAD]));
        if (i + AHEAD < n) {
            uint32_t x = pl_keytab_find(&s->keys, in->key[i + AHEAD]);
            ahead[(i + AHEAD) % (2 * AHEAD)] = x;
            if (x != NONE) {
                const char *e = pl_keytab_at(&s->keys, x);
                __builtin_prefetch(e);
                __builtin_prefetch(e + 64);
            }
        }
        if (i + AHEAD / 2 < n) {
            uint32_t x = ahead[(i + AHEAD / 2) % (2 * AHEAD)];
            if (x != NONE) {
                const wkey_t *kx = pl_keytab_at(&s->keys, x);
                if (kx->st.cap)
                    __builtin_prefetch(&kx->st.r[(kx->st.head + kx->st.n) & (kx->st.cap - 1)]);
                if (kx->npane)
                    __builtin_prefetch(&kx->pane[kx->npane - 1]);
            }
        }
        if (ch == s->marker && s->marker) {
            marker_in(s, op, in, i, W);
            continue;
        }
        if ((s->channel && ch != s->channel) || !isfinite(v) || !ts_ok(ts)) {
            op->cnt.dropped++;
            continue;
        }
        uint32_t idx = ahead[i % (2 * AHEAD)];
        if (idx == NONE) { /* new, or made since it was looked up */
            idx = pl_keytab_find(&s->keys, key);
            if (idx == NONE && (idx = key_new(s, op, key, W)) == NONE) {
                if (s->err)
                    return s->err;
                continue;
            }
        }
        wkey_t *k = pl_keytab_at(&s->keys, idx);
        if (ts < W) {
            late_in(s, op, idx, in, i, W);
            continue;
        }
        if (k->stage_min < W)
            fold_stage(s, k, W);
        if (ring_push(&k->st, ts, v))
            return -ENOMEM;
        if (ts < k->stage_min)
            k->stage_min = ts;
        if (ts > k->last_ts)
            k->last_ts = ts;
        int64_t due;
        if (sized) {
            if (!(ts < k->cur_end && ts >= k->cur_end - s->slide))
                k->cur_end = sat_add(floor_to(ts, s->slide), s->slide);
            due = k->cur_end;
        } else if (s->type == PL_WINDOW_SESSION) {
            due = sat_add(ts, s->gap);
        } else {
            due = sat_add(sat_add(ts, s->ttl), 1);
        }
        if (due < k->t.due)
            key_due_min(s, idx, due);
    }
    if (s->dirty != NONE)
        correct(s);
    if (s->err)
        return s->err;
    for (int p = 0; p < 2; p++)
        if (pl_batch_count(pl_op_port(op, p)))
            pl_batch_note_ingest(pl_op_port(op, p), in);
    return flush(s, op);
}

static int window_advance(pl_op_t *op, pl_ctx_t *ctx)
{
    win_t *s = op->state;
    const int64_t W = ctx->watermark_ns;
    if (W <= s->wm)
        return 0;
    s->wm = W;
    s->op = op;
    s->npend = 0;
    if (ctx->names)
        s->names = ctx->names;
    int rc;
    if (s->type == PL_WINDOW_SEGMENT) {
        if ((rc = wheel_collect(s, &s->sw, &s->scopes, W)) != 0)
            return rc;
        /* Markers first: a key's segments depend only on its own scope, so
         * the order scopes are visited in changes nothing. */
        for (size_t j = 0; j < s->ndue && s->err == 0; j++)
            visit_scope(s, s->due[j], W);
    }
    if ((rc = wheel_collect(s, &s->kw, &s->keys, W)) != 0)
        return rc;
    for (size_t j = 0; j < s->ndue && s->err == 0; j++)
        visit_key(s, op, s->due[j], W);
    if (s->err)
        return s->err;
    op->cnt.keys = pl_keytab_count(&s->keys);
    return flush(s, op);
}

/* ---- check / init / close ------------------------------------------------- */

static int window_check(const void *conf, const pl_port_type_t *in, int nin,
                        pl_port_type_t *out, pw_err_t *err)
{
    pl_agg_spec_t spec;
    if (nin != 1 || in == NULL || in[0].kind != PL_POINTS || !in[0].keyed)
        return pw_err_set(err, PW_ECONF, "window needs keyed points: put a key_by before it%s",
                          nin == 1 && in && in[0].kind == PL_POINTS ? " (its input is not keyed)"
                          : nin == 1 && in && in[0].kind == PL_FRAMES ? " (its input carries frames)"
                          : nin == 1 && in && in[0].kind == PL_RESULTS ? " (its input carries results)"
                          : "");
    int rc = conf_validate(conf, &spec, err);
    if (rc)
        return rc;
    if (out) {
        out[0] = (pl_port_type_t){PL_RESULTS, false};
        out[1] = (pl_port_type_t){PL_POINTS, true};
    }
    return 0;
}

static void fp_mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= UINT64_C(0x100000001b3);
    }
}

static void fp_str(uint64_t *h, const char *str)
{
    if (str)
        fp_mix(h, str, strlen(str) + 1);
    else
        fp_mix(h, "", 1);
}

static uint64_t fingerprint(const win_t *s, const pl_window_conf_t *c)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    int64_t v[] = {s->type, s->size, s->slide, s->gap, s->late, s->mask, s->spec.nq,
                   s->scope_all};
    fp_mix(&h, v, sizeof v);
    fp_mix(&h, s->spec.q, sizeof s->spec.q[0] * (size_t)s->spec.nq);
    fp_str(&h, c->marker);
    fp_str(&h, c->channel);
    for (size_t i = 0; i < c->nopen; i++)
        fp_str(&h, c->open[i]);
    fp_mix(&h, "|", 1);
    for (size_t i = 0; i < c->nclose; i++)
        fp_str(&h, c->close[i]);
    return h;
}

static void window_free(win_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < pl_keytab_end(&s->keys); i++)
        if (pl_keytab_live(&s->keys, (uint32_t)i))
            key_free(pl_keytab_at(&s->keys, (uint32_t)i));
    for (size_t i = 0; i < pl_keytab_end(&s->scopes); i++)
        if (pl_keytab_live(&s->scopes, (uint32_t)i))
            ring_fini(&((scope_t *)pl_keytab_at(&s->scopes, (uint32_t)i))->st);
    pl_keytab_fini(&s->keys);
    pl_keytab_fini(&s->scopes);
    free(s->kw.head);
    free(s->sw.head);
    free(s->open_id);
    free(s->close_id);
    free(s->topic);
    free(s->due);
    free(s->pend);
    free(s->ptmp);
    free(s->kbuf);
    free(s->ebuf);
    free(s->rtmp);
    pw_body_fini(&s->body);
    pl_agg_fini(&s->tmp);
    free(s);
}

static int intern_one(pw_intern_t *t, const char *what, const char *name, uint32_t *id,
                      pw_err_t *err)
{
    if (t == NULL)
        return pw_err_set(err, PW_EARG, "window: no %s name table", what);
    int rc = pw_intern_add(t, name, strlen(name), id);
    if (rc)
        return pw_err_set(err, rc, "window: cannot intern %s '%.64s': %s", what, name,
                          pw_strerror(rc));
    return 0;
}

static int window_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_window_conf_t *c = conf;
    pl_agg_spec_t spec;
    int rc = conf_validate(c, &spec, err);
    if (rc)
        return rc;
    win_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory");
    s->type = c->type;
    s->size = c->size_ms * NS_PER_MS;
    s->slide = c->type == PL_WINDOW_SLIDING ? c->slide_ms * NS_PER_MS : s->size;
    if (s->slide <= 0)
        s->slide = 1; /* unused by sessions and segments; keeps floor_to defined */
    s->gap = c->gap_ms * NS_PER_MS;
    s->late = c->allowed_lateness_ms * NS_PER_MS;
    s->ttl = c->ttl_ms * NS_PER_MS;
    s->scope_all = c->scope == PL_WINDOW_SCOPE_ALL;
    s->spec = spec;
    s->mask = spec.mask;
    s->nfields = pl_agg_spec_fields(&spec);
    s->wm = INT64_MIN;
    s->dirty = NONE;
    s->names = setup ? setup->names : NULL;
    s->op = op;
    pw_body_init(&s->body);
    const pl_names_t *nm = s->names;
    if (c->channel && (rc = intern_one(nm ? nm->channels : NULL, "channel", c->channel,
                                       &s->channel, err)) != 0)
        goto fail;
    if (c->marker && (rc = intern_one(nm ? nm->channels : NULL, "channel", c->marker,
                                      &s->marker, err)) != 0)
        goto fail;
    if (c->nopen + c->nclose) {
        s->open_id = calloc(c->nopen + 1, sizeof *s->open_id);
        s->close_id = calloc(c->nclose + 1, sizeof *s->close_id);
        if (s->open_id == NULL || s->close_id == NULL) {
            rc = pw_err_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        if (nm == NULL || nm->labels == NULL) {
            rc = pw_err_set(err, PW_EARG, "window: no label name table");
            goto fail;
        }
        if ((rc = pw_intern_add_all(nm->labels, c->open, c->nopen, s->open_id, err)) != 0 ||
            (rc = pw_intern_add_all(nm->labels, c->close, c->nclose, s->close_id, err)) != 0)
            goto fail;
        s->nopen = c->nopen;
        s->nclose = c->nclose;
    }
    const char *topic = c->topic ? c->topic : setup && setup->name ? setup->name : "window";
    s->topic = strdup(topic);
    if (s->topic == NULL) {
        rc = pw_err_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    s->topic_len = strlen(s->topic);
    size_t maxk = (size_t)c->max_keys;
    /* Timer slots: a window end per slot for tumbling and sliding windows;
     * sessions' ends spread over the gap; segments' keys only wait for
     * lateness and ttl. */
    int64_t kgran = s->slide;
    if (s->type == PL_WINDOW_SESSION)
        kgran = s->gap / 64 > 1000 ? s->gap / 64 : 1000;
    else if (s->type == PL_WINDOW_SEGMENT)
        kgran = 10 * NS_PER_MS;
    if ((rc = pl_keytab_init(&s->keys, sizeof(wkey_t), maxk < KEYS_INITIAL ? maxk : KEYS_INITIAL,
                             maxk)) != 0 ||
        (rc = pl_keytab_init(&s->scopes, sizeof(scope_t), 16, maxk)) != 0 ||
        (rc = wheel_init(&s->kw, kgran)) != 0 || (rc = wheel_init(&s->sw, NS_PER_MS)) != 0) {
        rc = pw_err_set(err, rc == PW_EARG ? PW_EARG : -ENOMEM, "window: cannot allocate "
                        "its key table: %s", pw_strerror(rc));
        goto fail;
    }
    s->fp = fingerprint(s, c);
    op->state = s;
    return 0;
fail:
    window_free(s);
    return rc;
}

static void window_close(pl_op_t *op)
{
    window_free(op->state);
    op->state = NULL;
}

/* ---- snapshot / restore --------------------------------------------------- */

static int ring_save(pl_buf_t *b, const ring_t *q)
{
    int rc = pl_buf_put_u32(b, q->n);
    for (uint32_t i = 0; i < q->n; i++) {
        const rec_t *r = &q->r[(q->head + i) & (q->cap - 1)];
        rc |= pl_buf_put_i64(b, r->ts);
        rc |= pl_buf_put_f64(b, r->v);
    }
    return rc;
}

static int window_snapshot(pl_op_t *op, pl_buf_t *b)
{
    win_t *s = op->state;
    int rc = 0;
    rc |= pl_buf_put_u32(b, SNAP_MAGIC);
    rc |= pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u64(b, s->fp);
    rc |= pl_buf_put_i64(b, s->wm);
    rc |= pl_buf_put_u32(b, (uint32_t)pl_keytab_count(&s->scopes));
    for (uint32_t i = 0; i < pl_keytab_end(&s->scopes); i++) {
        if (!pl_keytab_live(&s->scopes, i))
            continue;
        const scope_t *sc = pl_keytab_at(&s->scopes, i);
        rc |= pl_buf_put_u64(b, pl_keytab_key(&s->scopes, i));
        rc |= pl_buf_put_i64(b, sc->applied_ts);
        rc |= pl_buf_put_i64(b, sc->open_ts);
        rc |= pl_buf_put_i64(b, sc->last_ts);
        rc |= pl_buf_put_u64(b, sc->seq);
        rc |= pl_buf_put_f64(b, sc->value);
        rc |= pl_buf_put_u32(b, (uint32_t)sc->open | (uint32_t)sc->has_value << 1);
        rc |= ring_save(b, &sc->st);
    }
    rc |= pl_buf_put_u32(b, (uint32_t)pl_keytab_count(&s->keys));
    for (uint32_t i = 0; i < pl_keytab_end(&s->keys); i++) {
        if (!pl_keytab_live(&s->keys, i))
            continue;
        const wkey_t *k = pl_keytab_at(&s->keys, i);
        rc |= pl_buf_put_u64(b, pl_keytab_key(&s->keys, i));
        rc |= pl_buf_put_i64(b, k->last_ts);
        rc |= pl_buf_put_i64(b, k->fired_to);
        rc |= ring_save(b, &k->st);
        rc |= pl_buf_put_u32(b, k->npane);
        for (uint32_t j = 0; j < k->npane; j++) {
            const pane_t *p = &k->pane[j];
            rc |= pl_buf_put_i64(b, p->start);
            rc |= pl_buf_put_i64(b, p->end);
            rc |= pl_buf_put_u64(b, p->seq);
            rc |= pl_buf_put_u32(b, p->version);
            rc |= pl_buf_put_u32(b, p->flags & P_FIRED);
            rc |= pl_agg_save(b, &p->agg);
        }
    }
    rc |= pl_buf_put_u32(b, SNAP_END);
    return rc ? -ENOMEM : 0;
}

/* Empty every key and scope (restore starts from nothing). */
static void window_clear(win_t *s)
{
    for (uint32_t i = 0; i < pl_keytab_end(&s->keys); i++)
        if (pl_keytab_live(&s->keys, i)) {
            key_free(pl_keytab_at(&s->keys, i));
            pl_keytab_remove(&s->keys, i);
        }
    for (uint32_t i = 0; i < pl_keytab_end(&s->scopes); i++)
        if (pl_keytab_live(&s->scopes, i)) {
            ring_fini(&((scope_t *)pl_keytab_at(&s->scopes, i))->st);
            pl_keytab_remove(&s->scopes, i);
        }
    wheel_reset(&s->kw);
    wheel_reset(&s->sw);
    s->dirty = NONE;
    s->npend = 0;
    s->wm = INT64_MIN;
}

/* Read a ring of staged records; -1 when r fails or the records are not sorted. */
static int ring_load(pl_rd_t *r, ring_t *q)
{
    uint32_t n = 0;
    if (pl_rd_u32(r, &n) || (uint64_t)n * 16 > pl_rd_left(r))
        return -1;
    while (q->cap < n)
        if (ring_grow(q))
            return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        rec_t x;
        pl_rd_i64(r, &x.ts);
        pl_rd_f64(r, &x.v);
        if (i > 0 && rec_before(x.ts, x.v, q->r[i - 1].ts, q->r[i - 1].v))
            return -1;
        q->r[i] = x;
    }
    q->head = 0;
    q->n = n;
    return r->failed ? -1 : 0;
}

#define CORRUPT(...) do { rc = pw_err_set(err, PW_ECORRUPT, __VA_ARGS__); goto fail; } while (0)

static int window_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    win_t *s = op->state;
    int rc = 0;
    uint32_t magic = 0, version = 0, n = 0;
    uint64_t fp = 0;
    window_clear(s);
    s->op = op;
    pl_rd_u32(r, &magic);
    pl_rd_u32(r, &version);
    if (r->failed || magic != SNAP_MAGIC)
        CORRUPT("window: the snapshot is not a window's state");
    if (version != SNAP_VERSION)
        CORRUPT("window: snapshot format version %" PRIu32 ", this build reads %u", version,
                SNAP_VERSION);
    pl_rd_u64(r, &fp);
    int64_t wm = INT64_MIN;
    pl_rd_i64(r, &wm);
    if (r->failed)
        CORRUPT("window: the snapshot is truncated in its header");
    if (fp != s->fp)
        CORRUPT("window: the snapshot was taken with another window configuration");
    s->wm = wm;
    /* Scopes. */
    pl_rd_u32(r, &n);
    if (r->failed || (uint64_t)n * 52 > pl_rd_left(r))
        CORRUPT("window: the snapshot is truncated in its scopes");
    for (uint32_t x = 0; x < n; x++) {
        uint64_t id = 0;
        uint32_t flags = 0, i;
        pl_rd_u64(r, &id);
        if (r->failed || pl_keytab_find(&s->scopes, id) != NONE)
            CORRUPT("window: snapshot scope %" PRIu32 " is truncated or repeated", x);
        if ((rc = pl_keytab_insert(&s->scopes, id, &i)) != 0) {
            rc = pw_err_set(err, rc == PW_ECAPACITY ? PW_ECORRUPT : rc,
                            "window: the snapshot holds more scopes than max_keys");
            goto fail;
        }
        scope_t *sc = pl_keytab_at(&s->scopes, i);
        sc->t = (tnode_t){INT64_MAX, NONE, NONE};
        sc->head = NONE;
        pl_rd_i64(r, &sc->applied_ts);
        pl_rd_i64(r, &sc->open_ts);
        pl_rd_i64(r, &sc->last_ts);
        pl_rd_u64(r, &sc->seq);
        pl_rd_f64(r, &sc->value);
        pl_rd_u32(r, &flags);
        sc->open = flags & 1;
        sc->has_value = (flags >> 1) & 1;
        if ((rc = ring_load(r, &sc->st)) != 0 || flags > 3) {
            if (rc == -ENOMEM)
                goto nomem;
            CORRUPT("window: snapshot scope %" PRIu32 " is truncated or malformed", x);
        }
        sc->stage_min = sc->st.n ? sc->st.r[0].ts : INT64_MAX;
    }
    /* Keys. */
    pl_rd_u32(r, &n);
    if (r->failed || (uint64_t)n * 32 > pl_rd_left(r))
        CORRUPT("window: the snapshot is truncated in its keys");
    if (n > s->keys.max)
        CORRUPT("window: the snapshot holds %" PRIu32 " keys, more than max_keys (%zu)", n,
                s->keys.max);
    for (uint32_t x = 0; x < n; x++) {
        uint64_t key = 0;
        uint32_t idx, np = 0;
        pl_rd_u64(r, &key);
        if (r->failed || pl_keytab_find(&s->keys, key) != NONE)
            CORRUPT("window: snapshot key %" PRIu32 " is truncated or repeated", x);
        if ((rc = pl_keytab_insert(&s->keys, key, &idx)) != 0)
            goto nomem;
        wkey_t *k = pl_keytab_at(&s->keys, idx);
        k->t = (tnode_t){INT64_MAX, NONE, NONE};
        k->scope = k->sprev = k->snext = k->dnext = NONE;
        pl_rd_i64(r, &k->last_ts);
        pl_rd_i64(r, &k->fired_to);
        if ((rc = ring_load(r, &k->st)) != 0) {
            if (rc == -ENOMEM)
                goto nomem;
            CORRUPT("window: snapshot key %" PRIu32 " has truncated or unsorted records", x);
        }
        k->stage_min = k->st.n ? k->st.r[0].ts : INT64_MAX;
        pl_rd_u32(r, &np);
        if (r->failed || (uint64_t)np * 112 > pl_rd_left(r))
            CORRUPT("window: snapshot key %" PRIu32 " is truncated in its windows", x);
        if (np) {
            k->pane = calloc(np, sizeof *k->pane);
            if (k->pane == NULL)
                goto nomem;
            k->pane_cap = np;
        }
        for (uint32_t j = 0; j < np; j++) {
            pane_t *p = &k->pane[j];
            uint32_t flags = 0;
            pl_rd_i64(r, &p->start);
            pl_rd_i64(r, &p->end);
            pl_rd_u64(r, &p->seq);
            pl_rd_u32(r, &p->version);
            pl_rd_u32(r, &flags);
            k->npane = j + 1;
            if ((rc = pl_agg_load(r, &p->agg)) != 0) {
                if (rc == -ENOMEM)
                    goto nomem;
                CORRUPT("window: snapshot key %" PRIu32 " has a truncated window", x);
            }
            if (flags & ~P_FIRED || (j > 0 && p->start < k->pane[j - 1].start))
                CORRUPT("window: snapshot key %" PRIu32 " has malformed windows", x);
            p->flags = flags;
        }
        if (s->type == PL_WINDOW_SEGMENT) {
            uint32_t sidx = scope_get(s, op, scope_id(s, key));
            if (sidx == NONE) {
                if (s->err)
                    goto nomem;
                CORRUPT("window: the snapshot holds more scopes than max_keys");
            }
            k = pl_keytab_at(&s->keys, idx);
            scope_t *sc = pl_keytab_at(&s->scopes, sidx);
            k->scope = sidx;
            k->snext = sc->head;
            if (sc->head != NONE)
                ((wkey_t *)pl_keytab_at(&s->keys, sc->head))->sprev = idx;
            sc->head = idx;
            sc->nkeys++;
        }
    }
    uint32_t end = 0;
    pl_rd_u32(r, &end);
    if (r->failed || end != SNAP_END || pl_rd_left(r) != 0)
        CORRUPT("window: the snapshot is truncated or has %zu trailing bytes", pl_rd_left(r));
    /* Timers from the state. */
    if (s->wm != INT64_MAX) {
        for (uint32_t i = 0; i < pl_keytab_end(&s->keys); i++) {
            if (!pl_keytab_live(&s->keys, i))
                continue;
            int64_t d = key_due(s, pl_keytab_at(&s->keys, i));
            wheel_add(&s->kw, &s->keys, i, d <= s->wm ? s->wm + 1 : d);
        }
        for (uint32_t i = 0; i < pl_keytab_end(&s->scopes); i++) {
            if (!pl_keytab_live(&s->scopes, i))
                continue;
            const scope_t *sc = pl_keytab_at(&s->scopes, i);
            int64_t d = sc->st.n ? sat_add(sc->stage_min, 1)
                        : sc->nkeys == 0 ? sat_add(sat_add(sc->last_ts, s->ttl), 1) : INT64_MAX;
            if (d != INT64_MAX)
                wheel_add(&s->sw, &s->scopes, i, d <= s->wm ? s->wm + 1 : d);
        }
    }
    op->cnt.keys = pl_keytab_count(&s->keys);
    return 0;
nomem:
    rc = pw_err_set(err, -ENOMEM, "window: out of memory restoring the snapshot");
fail:
    window_clear(s);
    op->cnt.keys = 0;
    return rc;
}

/* ---- definition ------------------------------------------------------------ */

static const char *const window_ports[] = {"out", "late"};

const pl_op_def_t pl_window_def = {
    .name = "window",
    .desc = "Event-time windows (tumbling, sliding, session, segment) over keyed points, "
            "with aggregates; fires when the watermark passes a window's end, corrects "
            "it for records within allowed_lateness, sends later ones to late.",
    .conf = &pl_window_conf_section,
    .conf_size = sizeof(pl_window_conf_t),
    .min_inputs = 1,
    .max_inputs = 1,
    .nports = 2,
    .port_names = window_ports,
    .input_desc = "points (keyed)",
    .output_desc = "results, one per key and window; late: points (keyed)",
    .check = window_check,
    .init = window_init,
    .process = window_process,
    .advance = window_advance,
    .snapshot = window_snapshot,
    .restore = window_restore,
    .close = window_close,
};
