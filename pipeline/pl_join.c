/*
 * pl_join: points joined to the latest frame holding their entity, in
 * event time. See pl_join.h.
 *
 * Held frames live in one frames batch, rows [head, n) in time order (an
 * out-of-order frame's objects are appended and its row moved into place);
 * evicting moves head, and the batch is compacted into a spare one once
 * half of it is evicted, so memory is reused.
 *
 * Snapshot (format 1, little-endian): u32 version, u64 seq, u64 unmatched,
 * u64 npoints, npoints x {i64 ts, u64 seq, u64 key, u32 entity, u32
 * channel, f64 value}, u64 nframes, nframes x {i64 ts, u64 session, u32
 * labels[PW_FRAME_LABELS], u32 nobj, nobj x {u32 entity, u32 team, f32 x,
 * y, speed, orientation, direction}}.
 */
#include "pipeline/pl_join.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_time.h"

static const pw_conf_key_t join_keys[] = {
    {.name = "fields", .type = PW_CONF_STRLIST, .offset = offsetof(pl_join_conf_t, fields),
     .count_offset = offsetof(pl_join_conf_t, nfields), .def = "[x, y]",
     .desc = "what a matched point brings from its frame, a point each: x, y, speed, "
             "orientation, direction"},
    {.name = "prefix", .type = PW_CONF_STRING, .offset = offsetof(pl_join_conf_t, prefix),
     .def = "at_", .desc = "prefix of the joined channels' names (at_x, at_y)"},
    {.name = "max_gap", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_join_conf_t, max_gap_ms), .def = "200ms", .min = "0ms",
     .max = "1h", .desc = "a point matches frames at most this much older than itself"},
    {.name = "max_pending", .type = PW_CONF_INT,
     .offset = offsetof(pl_join_conf_t, max_pending), .def = "1000000", .min = "1",
     .max = "1000000000",
     .desc = "points held waiting for the watermark; beyond, the oldest is joined at once "
             "(counted as evicted)"},
    {.name = "max_frames", .type = PW_CONF_INT,
     .offset = offsetof(pl_join_conf_t, max_frames), .def = "100000", .min = "1",
     .max = "100000000",
     .desc = "frames held for matching; beyond, the oldest is let go (counted as evicted)"},
};

const pw_conf_section_t pl_join_conf_section = {
    .name = "join",
    .desc = "points joined to frames on time",
    .keys = join_keys,
    .nkeys = PW_CONF_NKEYS(join_keys),
};

enum { F_X, F_Y, F_SPEED, F_ORIENTATION, F_DIRECTION, F_COUNT };
static const char *const field_names[F_COUNT] = {"x", "y", "speed", "orientation",
                                                 "direction"};

#define SNAP_VERSION 1u

/* A held point. */
typedef struct pend {
    int64_t ts;
    uint64_t seq;   /* arrival order */
    uint64_t key;
    uint32_t entity, channel;
    double value;
} pend_t;

typedef struct join {
    int nf;
    uint8_t field[F_COUNT];
    uint32_t ch[F_COUNT];
    int64_t gap_ns;
    size_t max_pending, max_frames;
    pend_t *heap;       /* min-heap by (ts, seq) */
    size_t n, cap;
    uint64_t seq;
    pl_batch_t fr;      /* held frames: rows [head, fr.frames.n) by time */
    pl_batch_t spare;   /* compaction target, swapped with fr */
    size_t head;
    uint64_t unmatched;
} join_t;

static const char *kind_name(enum pl_kind k)
{
    return k == PL_POINTS ? "points" : k == PL_FRAMES ? "frames" : "results";
}

static int parse_fields(const pl_join_conf_t *c, int *nf, uint8_t *field, pw_err_t *err)
{
    *nf = 0;
    for (size_t k = 0; k < c->nfields; k++) {
        const char *s = c->fields[k] ? c->fields[k] : "";
        int f = 0;
        while (f < F_COUNT && strcmp(s, field_names[f]))
            f++;
        if (f == F_COUNT)
            return pw_err_set(err, PW_ECONF, "join: fields: '%s' is not one of x, y, speed, "
                              "orientation, direction", s);
        for (int j = 0; j < *nf; j++)
            if (field[j] == f)
                return pw_err_set(err, PW_ECONF, "join: fields: '%s' is given twice", s);
        field[(*nf)++] = (uint8_t)f;
    }
    size_t plen = c->prefix ? strlen(c->prefix) : 0;
    if (plen + sizeof "orientation" > PW_INTERN_NAME_MAX)
        return pw_err_set(err, PW_ECONF, "join: prefix is too long");
    return 0;
}

static int join_check(const void *conf, const pl_port_type_t *in, int nin,
                      pl_port_type_t *out, pw_err_t *err)
{
    if (nin != 2)
        return pw_err_set(err, PW_ECONF, "join: takes 2 inputs (points, then frames), not %d",
                          nin);
    if (in[0].kind != PL_POINTS)
        return pw_err_set(err, PW_ECONF, "join: input 1 carries %s; join takes points as "
                          "input 1 and frames as input 2", kind_name(in[0].kind));
    if (in[1].kind != PL_FRAMES)
        return pw_err_set(err, PW_ECONF, "join: input 2 carries %s; join takes points as "
                          "input 1 and frames as input 2", kind_name(in[1].kind));
    int nf;
    uint8_t field[F_COUNT];
    int rc = parse_fields(conf, &nf, field, err);
    if (rc)
        return rc;
    out[0].kind = PL_POINTS;
    out[0].keyed = in[0].keyed;
    return 0;
}

static void join_close(pl_op_t *op)
{
    join_t *s = op->state;
    if (s == NULL)
        return;
    free(s->heap);
    pl_batch_fini(&s->fr);
    pl_batch_fini(&s->spare);
    free(s);
    op->state = NULL;
}

static int join_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_join_conf_t *c = conf;
    int nf;
    uint8_t field[F_COUNT];
    int rc = parse_fields(c, &nf, field, err);
    if (rc)
        return rc;
    if (nf && (!setup->names || !setup->names->channels))
        return pw_err_set(err, PW_EARG, "join: no channel table");
    join_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "join: out of memory");
    op->state = s;
    pl_batch_init(&s->fr, PL_FRAMES);
    pl_batch_init(&s->spare, PL_FRAMES);
    s->nf = nf;
    memcpy(s->field, field, sizeof s->field);
    s->gap_ns = c->max_gap_ms * PW_NS_PER_MS;
    s->max_pending = c->max_pending > 0 ? (size_t)c->max_pending : 1;
    s->max_frames = c->max_frames > 0 ? (size_t)c->max_frames : 1;
    const char *prefix = c->prefix ? c->prefix : "";
    for (int k = 0; k < nf; k++) {
        char name[PW_INTERN_NAME_MAX + 1];
        int len = snprintf(name, sizeof name, "%s%s", prefix, field_names[field[k]]);
        if ((rc = pw_intern_add(setup->names->channels, name, (size_t)len, &s->ch[k])) != 0) {
            join_close(op);
            return pw_err_set(err, rc, "join: channel '%.200s': %s", name, pw_strerror(rc));
        }
    }
    return 0;
}

uint64_t pl_join_unmatched(const pl_op_t *op)
{
    const join_t *s = op->state;
    return s ? s->unmatched : 0;
}

/* ---- held points: a min-heap by (ts, seq) --------------------------------- */

static inline bool before(const pend_t *a, const pend_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static int heap_push(join_t *s, const pend_t *p)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        pend_t *h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return -ENOMEM;
        s->heap = h;
        s->cap = cap;
    }
    size_t i = s->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(p, &s->heap[up]))
            break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = *p;
    return 0;
}

static pend_t heap_pop(join_t *s)
{
    pend_t top = s->heap[0];
    pend_t last = s->heap[--s->n];
    size_t i = 0, n = s->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

/* ---- held frames ------------------------------------------------------------ */

/* a - b, saturated at the int64 range (watermarks start at INT64_MIN). */
static int64_t sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* First held row in [lo, hi) whose time is > ts. */
static size_t upper_bound(const pw_frames_t *f, size_t lo, size_t hi, int64_t ts)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->ts_ns[mid] <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Keep frame i of in, in time order (after frames of equal time). */
static int frame_add(join_t *s, const pl_batch_t *in, size_t i)
{
    if (pl_batch_push_frame(&s->fr, in, i))
        return -ENOMEM;
    pw_frames_t *f = &s->fr.frames;
    size_t last = f->n - 1;
    int64_t ts = f->ts_ns[last];
    if (last == s->head || f->ts_ns[last - 1] <= ts)
        return 0;
    /* Out of order: move the new row into place; its objects stay put. */
    size_t at = upper_bound(f, s->head, last, ts);
    uint64_t session = f->session[last];
    uint32_t label[PW_FRAME_LABELS];
    memcpy(label, &f->label[last * PW_FRAME_LABELS], sizeof label);
    uint16_t nobj = f->nobj[last];
    uint32_t first = f->first[last];
    size_t m = last - at;
    memmove(&f->ts_ns[at + 1], &f->ts_ns[at], m * sizeof *f->ts_ns);
    memmove(&f->session[at + 1], &f->session[at], m * sizeof *f->session);
    memmove(&f->label[(at + 1) * PW_FRAME_LABELS], &f->label[at * PW_FRAME_LABELS],
            m * PW_FRAME_LABELS * sizeof *f->label);
    memmove(&f->nobj[at + 1], &f->nobj[at], m * sizeof *f->nobj);
    memmove(&f->first[at + 1], &f->first[at], m * sizeof *f->first);
    f->ts_ns[at] = ts;
    f->session[at] = session;
    memcpy(&f->label[at * PW_FRAME_LABELS], label, sizeof label);
    f->nobj[at] = nobj;
    f->first[at] = first;
    return 0;
}

/* Drop evicted rows for good once they are half the batch (or all of it). */
static int frames_compact(join_t *s)
{
    pw_frames_t *f = &s->fr.frames;
    if (s->head == f->n) {
        pl_batch_clear(&s->fr);
        s->head = 0;
        return 0;
    }
    if (s->head < 256 || s->head * 2 < f->n)
        return 0;
    pl_batch_clear(&s->spare);
    for (size_t k = s->head; k < f->n; k++)
        if (pl_batch_push_frame(&s->spare, &s->fr, k))
            return -ENOMEM;
    pl_batch_t t = s->fr;
    s->fr = s->spare;
    s->spare = t;
    pl_batch_clear(&s->spare);
    s->head = 0;
    return 0;
}

/* The object index of the match of (entity, ts), or SIZE_MAX. */
static size_t find_match(const join_t *s, uint32_t entity, int64_t ts)
{
    const pw_frames_t *f = &s->fr.frames;
    int64_t lo = sat_sub(ts, s->gap_ns);
    size_t k = upper_bound(f, s->head, f->n, ts);
    while (k > s->head) {
        k--;
        if (f->ts_ns[k] < lo)
            break;
        const uint32_t *e = &f->entity[f->first[k]];
        for (size_t o = 0, n = f->nobj[k]; o < n; o++)
            if (e[o] == entity)
                return f->first[k] + o;
    }
    return SIZE_MAX;
}

/* ---- emitting --------------------------------------------------------------- */

static inline void put(pl_batch_t *b, int64_t ts, uint32_t entity, uint32_t channel,
                       double value, uint64_t key)
{
    size_t j = b->pts.n++;
    b->pts.ts_ns[j] = ts;
    b->pts.entity[j] = entity;
    b->pts.channel[j] = channel;
    b->pts.value[j] = value;
    if (b->keyed)
        b->key[j] = key;
}

/* Emit p and what it joins. */
static int emit(join_t *s, pl_batch_t *out, const pend_t *p)
{
    if (pl_batch_reserve_points(out, 1 + (size_t)s->nf))
        return -ENOMEM;
    put(out, p->ts, p->entity, p->channel, p->value, p->key);
    size_t o = find_match(s, p->entity, p->ts);
    if (o == SIZE_MAX) {
        s->unmatched++;
        return 0;
    }
    const pw_frames_t *f = &s->fr.frames;
    for (int k = 0; k < s->nf; k++) {
        double v;
        switch (s->field[k]) {
        case F_X: v = f->x[o]; break;
        case F_Y: v = f->y[o]; break;
        case F_SPEED: v = f->speed[o]; break;
        case F_ORIENTATION: v = f->orientation[o]; break;
        default: v = f->direction[o]; break;
        }
        uint64_t key = PL_KEY_CHANNEL(p->key) ? PL_KEY(PL_KEY_ENTITY(p->key), s->ch[k]) : p->key;
        put(out, p->ts, p->entity, s->ch[k], v, key);
    }
    return 0;
}

static int take_points(pl_op_t *op, join_t *s, const pl_batch_t *in, int64_t wm)
{
    pl_batch_t *out = pl_op_port(op, 0);
    const pw_points_t *p = &in->pts;
    for (size_t i = 0; i < p->n; i++) {
        pend_t x = {.ts = p->ts_ns[i], .seq = s->seq++, .key = in->keyed ? in->key[i] : 0,
                    .entity = p->entity[i], .channel = p->channel[i], .value = p->value[i]};
        int rc;
        if (x.ts <= wm) {
            op->cnt.late++;
            if ((rc = emit(s, out, &x)) != 0)
                return rc;
            continue;
        }
        if (s->n >= s->max_pending) {
            pend_t old = heap_pop(s);
            op->cnt.evicted++;
            if ((rc = emit(s, out, &old)) != 0)
                return rc;
        }
        if ((rc = heap_push(s, &x)) != 0)
            return rc;
    }
    op->cnt.keys = s->n;
    return 0;
}

static int take_frames(pl_op_t *op, join_t *s, const pl_batch_t *in, int64_t wm)
{
    int64_t keep_from = sat_sub(wm, s->gap_ns);
    const pw_frames_t *f = &in->frames;
    for (size_t i = 0; i < f->n; i++) {
        if (wm != PL_WATERMARK_MIN && f->ts_ns[i] < keep_from) {
            op->cnt.dropped++;
            continue;
        }
        if (frame_add(s, in, i))
            return -ENOMEM;
        if (s->fr.frames.n - s->head > s->max_frames) {
            s->head++;
            op->cnt.evicted++;
        }
    }
    return frames_compact(s);
}

static int join_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    join_t *s = op->state;
    int rc = input == 0 ? take_points(op, s, in, ctx->watermark_ns)
                        : take_frames(op, s, in, ctx->watermark_ns);
    if (rc == 0)
        pl_batch_note_ingest(pl_op_port(op, 0), in);
    return rc;
}

static int join_advance(pl_op_t *op, pl_ctx_t *ctx)
{
    join_t *s = op->state;
    pl_batch_t *out = pl_op_port(op, 0);
    int64_t wm = ctx->watermark_ns;
    while (s->n > 0 && s->heap[0].ts <= wm) {
        pend_t p = heap_pop(s);
        int rc = emit(s, out, &p);
        if (rc)
            return rc;
    }
    op->cnt.keys = s->n;
    /* Frames no point that can still come may match. */
    int64_t keep_from = sat_sub(wm, s->gap_ns);
    const pw_frames_t *f = &s->fr.frames;
    while (s->head < f->n && (wm == PL_WATERMARK_MAX || f->ts_ns[s->head] < keep_from))
        s->head++;
    return frames_compact(s);
}

/* ---- snapshot ---------------------------------------------------------------- */

static int join_snapshot(pl_op_t *op, pl_buf_t *b)
{
    join_t *s = op->state;
    const pw_frames_t *f = &s->fr.frames;
    int rc = pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u64(b, s->seq);
    rc |= pl_buf_put_u64(b, s->unmatched);
    rc |= pl_buf_put_u64(b, s->n);
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        const pend_t *p = &s->heap[i];
        rc |= pl_buf_put_i64(b, p->ts);
        rc |= pl_buf_put_u64(b, p->seq);
        rc |= pl_buf_put_u64(b, p->key);
        rc |= pl_buf_put_u32(b, p->entity);
        rc |= pl_buf_put_u32(b, p->channel);
        rc |= pl_buf_put_f64(b, p->value);
    }
    rc |= pl_buf_put_u64(b, f->n - s->head);
    for (size_t k = s->head; k < f->n && rc == 0; k++) {
        rc |= pl_buf_put_i64(b, f->ts_ns[k]);
        rc |= pl_buf_put_u64(b, f->session[k]);
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            rc |= pl_buf_put_u32(b, f->label[k * PW_FRAME_LABELS + l]);
        rc |= pl_buf_put_u32(b, f->nobj[k]);
        for (size_t o = f->first[k], end = o + f->nobj[k]; o < end; o++) {
            rc |= pl_buf_put_u32(b, f->entity[o]);
            rc |= pl_buf_put_u32(b, f->team[o]);
            rc |= pl_buf_put(b, &f->x[o], 4);
            rc |= pl_buf_put(b, &f->y[o], 4);
            rc |= pl_buf_put(b, &f->speed[o], 4);
            rc |= pl_buf_put(b, &f->orientation[o], 4);
            rc |= pl_buf_put(b, &f->direction[o], 4);
        }
    }
    return rc ? -ENOMEM : 0;
}

static int join_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    join_t *s = op->state;
    if (pl_rd_left(r) == 0)
        return 0; /* no state was kept */
    uint32_t version = 0;
    uint64_t n = 0, nframes = 0;
    pl_rd_u32(r, &version);
    if (r->failed || version != SNAP_VERSION)
        return pw_err_set(err, PW_ECORRUPT, "join: state of format %u, expected %u", version,
                          SNAP_VERSION);
    s->n = 0;
    s->head = 0;
    pl_batch_clear(&s->fr);
    pl_rd_u64(r, &s->seq);
    pl_rd_u64(r, &s->unmatched);
    pl_rd_u64(r, &n);
    if (r->failed || n > pl_rd_left(r) / 40)
        return pw_err_set(err, PW_ECORRUPT, "join: state of %llu points is truncated",
                          (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        pend_t p;
        pl_rd_i64(r, &p.ts);
        pl_rd_u64(r, &p.seq);
        pl_rd_u64(r, &p.key);
        pl_rd_u32(r, &p.entity);
        pl_rd_u32(r, &p.channel);
        pl_rd_f64(r, &p.value);
        if (heap_push(s, &p))
            return pw_err_set(err, -ENOMEM, "join: out of memory");
    }
    pl_rd_u64(r, &nframes);
    if (r->failed || nframes > pl_rd_left(r) / 20)
        return pw_err_set(err, PW_ECORRUPT, "join: state of %llu frames is truncated",
                          (unsigned long long)nframes);
    pw_object_t *objs = NULL;
    size_t objs_cap = 0;
    int rc = 0;
    for (uint64_t k = 0; k < nframes && rc == 0; k++) {
        int64_t ts;
        uint64_t session;
        uint32_t label[PW_FRAME_LABELS], nobj = 0;
        pl_rd_i64(r, &ts);
        pl_rd_u64(r, &session);
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            pl_rd_u32(r, &label[l]);
        pl_rd_u32(r, &nobj);
        if (!r->failed && nobj > UINT16_MAX) {
            rc = pw_err_set(err, PW_ECORRUPT, "join: frame %llu of the state has %u objects",
                            (unsigned long long)k, nobj);
            break;
        }
        if (r->failed || nobj > pl_rd_left(r) / 28) {
            rc = pw_err_set(err, PW_ECORRUPT, "join: frame %llu of the state is truncated",
                            (unsigned long long)k);
            break;
        }
        if (nobj > objs_cap) {
            pw_object_t *no = realloc(objs, nobj * sizeof *no);
            if (no == NULL) {
                rc = pw_err_set(err, -ENOMEM, "join: out of memory");
                break;
            }
            objs = no;
            objs_cap = nobj;
        }
        for (uint32_t o = 0; o < nobj; o++) {
            uint32_t team = 0;
            pl_rd_u32(r, &objs[o].entity);
            pl_rd_u32(r, &team);
            objs[o].team = (uint8_t)team;
            pl_rd_get(r, &objs[o].x, 4);
            pl_rd_get(r, &objs[o].y, 4);
            pl_rd_get(r, &objs[o].speed, 4);
            pl_rd_get(r, &objs[o].orientation, 4);
            pl_rd_get(r, &objs[o].direction, 4);
        }
        if (r->failed) {
            rc = pw_err_set(err, PW_ECORRUPT, "join: frame %llu of the state is truncated",
                            (unsigned long long)k);
            break;
        }
        if (pw_frames_push(&s->fr.frames, ts, session, label, objs, (uint16_t)nobj))
            rc = pw_err_set(err, -ENOMEM, "join: out of memory");
    }
    free(objs);
    if (rc == 0 && pl_rd_left(r) != 0)
        rc = pw_err_set(err, PW_ECORRUPT, "join: %zu bytes after the state", pl_rd_left(r));
    op->cnt.keys = s->n;
    return rc;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_join_def = {
    .name = "join",
    .desc = "Join each point, as of its event time, to the latest tracking frame that "
            "holds its entity: the point, then the object's fields as points.",
    .conf = &pl_join_conf_section,
    .conf_size = sizeof(pl_join_conf_t),
    .min_inputs = 2, .max_inputs = 2,
    .nports = 1, .port_names = port_names,
    .input_desc = "1: points (keyed or not), 2: frames",
    .output_desc = "points, keyed when input 1 is",
    .check = join_check, .init = join_init, .process = join_process,
    .advance = join_advance, .snapshot = join_snapshot, .restore = join_restore,
    .close = join_close,
};
