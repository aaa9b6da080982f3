/*
 * pl_hockey: the live hockey event classifier. See pl_hockey.h.
 */
#include "pipeline/pl_hockey.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "models/md_coef.h"
#include "models/md_hockey.h"
#include "pipeline/pl_plays.h"

/* Snapshot format: magic "HKY1" then version. */
#define SNAP_MAGIC 0x314b5948u
#define SNAP_VERSION 1u

static const pw_conf_key_t hk_keys[] = {
    {.name = "model", .type = PW_CONF_STRING, .offset = offsetof(pl_hockey_conf_t, model),
     .def = "conf/models/hockey.json",
     .desc = "the model file written by `pitwall train --model hockey`"},
    {.name = "flush", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_hockey_conf_t, flush_ms), .def = "2000ms", .min = "0ms",
     .max = "600000ms",
     .desc = "a session whose last frame is this far behind the watermark has ended: its "
             "pending events are emitted and its state freed"},
    {.name = "max_sessions", .type = PW_CONF_INT,
     .offset = offsetof(pl_hockey_conf_t, max_sessions), .def = "16", .min = "1",
     .max = "4096",
     .desc = "sessions tracked at once (about 80 KB each); the least recently seen is "
             "flushed and dropped"},
};

const pw_conf_section_t pl_hockey_conf_section = {
    .name = "hockey_events",
    .desc = "hockey event classification",
    .keys = hk_keys,
    .nkeys = PW_CONF_NKEYS(hk_keys),
};

typedef struct hk {
    md_coef_slot_t *coef;
    int64_t flush_ns;
    pl_plays_t plays; /* md_hockey_game_t per session */
    md_hockey_event_t out[MD_HOCKEY_MAXOUT];
    pw_body_t body;
} hk_t;

static int hk_check(const void *conf, const pl_port_type_t *in, int nin, pl_port_type_t *out,
                    pw_err_t *err)
{
    (void)conf;
    return pl_plays_check_frames("hockey_events", in, nin, out, err);
}

static void hk_close(pl_op_t *op)
{
    hk_t *s = op->state;
    if (s == NULL)
        return;
    md_coef_release(s->coef);
    pl_plays_fini(&s->plays);
    pw_body_fini(&s->body);
    free(s);
    op->state = NULL;
}

static int hk_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_hockey_conf_t *c = conf;
    (void)setup;
    hk_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "hockey_events: out of memory");
    op->state = s;
    pw_body_init(&s->body);
    s->flush_ns = c->flush_ms * 1000000;
    size_t nslots = c->max_sessions > 0 ? (size_t)c->max_sessions : 16;
    if (PL_PLAYS_INIT(&s->plays, nslots, md_hockey_game_t)) {
        hk_close(op);
        return pw_err_set(err, -ENOMEM, "hockey_events: out of memory");
    }
    const char *path = c->model ? c->model : "conf/models/hockey.json";
    int rc = md_coef_acquire(path, md_hockey_model_load, md_hockey_model_free, &s->coef, err);
    if (rc) {
        s->coef = NULL;
        hk_close(op);
        return rc;
    }
    return 0;
}

/* One result per event of s->out[0..n). 0 or -ENOMEM. */
static int emit(pl_op_t *op, hk_t *s, const md_hockey_model_t *m, uint64_t session, int n,
                const pl_ctx_t *ctx)
{
    char key[48];
    int klen = snprintf(key, sizeof key, "game/%" PRIu64, session);
    pl_results_t *res = &pl_op_port(op, 0)->res;
    for (int k = 0; k < n; k++) {
        const md_hockey_event_t *e = &s->out[k];
        pw_body_t *b = &s->body;
        const char *type = md_hockey_type_names[e->type];
        pw_body_clear(b);
        pw_body_map(b, 7);
        pw_body_key(b, "type");
        pw_body_str(b, type, strlen(type));
        pw_body_key(b, "ts_ns");
        pw_body_i64(b, e->ts_ns);
        pw_body_key(b, "confidence");
        pw_body_f64(b, e->confidence);
        pw_body_key(b, "players");
        pw_body_array(b, (uint32_t)e->nplayers);
        for (int j = 0; j < e->nplayers; j++) {
            const char *name = pl_plays_entity_name(ctx, e->players[j]);
            pw_body_str(b, name, strlen(name));
        }
        pw_body_key(b, "importance");
        pw_body_f64(b, e->importance);
        pw_body_key(b, "version");
        pw_body_str(b, m->version, strlen(m->version));
        pw_body_key(b, "degraded");
        pw_body_bool(b, e->degraded);
        if (pw_body_ok(b))
            return -ENOMEM;
        /* The store keeps one result per (topic, key, time): a shot and a
         * zone entry of one instant are told apart by the type's index in
         * ns on the result's time (the body's ts_ns stays exact). */
        if (pl_results_add(res, e->ts_ns + (int64_t)e->type, 1, "event", 5, key, (size_t)klen,
                           b->data, b->len))
            return -ENOMEM;
    }
    return 0;
}

/* Flush the session in slot k (emitting what is pending) and free the slot. */
static int flush_slot(pl_op_t *op, hk_t *s, const md_hockey_model_t *m, size_t k,
                      const pl_ctx_t *ctx)
{
    md_hockey_game_t *g = pl_plays_at(&s->plays, k);
    int n = md_hockey_flush(g, m, s->out, NULL, NULL);
    int rc = emit(op, s, m, g->session, n, ctx);
    pl_plays_drop(&s->plays, k);
    op->cnt.keys--;
    return rc;
}

/* The session's game, found or made (flushing the least recently seen). */
static int game_of(pl_op_t *op, hk_t *s, const md_hockey_model_t *m, uint64_t session,
                   const pl_ctx_t *ctx, md_hockey_game_t **out)
{
    size_t k;
    int found = pl_plays_find(&s->plays, session, &k);
    if (found == PL_PLAYS_FOUND) {
        *out = pl_plays_at(&s->plays, k);
        return 0;
    }
    if (found == PL_PLAYS_FULL) {
        op->cnt.evicted++;
        int rc = flush_slot(op, s, m, k, ctx);
        if (rc)
            return rc;
    }
    md_hockey_game_t *g = pl_plays_take(&s->plays, k);
    md_hockey_game_init(g, session);
    op->cnt.keys++;
    *out = g;
    return 0;
}

static int hk_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    hk_t *s = op->state;
    const pw_frames_t *f = &in->frames;
    (void)input;
    if (f->n == 0)
        return 0;
    /* One version per batch: a reload takes effect at the next batch. */
    const md_hockey_model_t *m = md_coef_get(s->coef);
    for (size_t i = 0; i < f->n; i++) {
        md_hockey_game_t *g;
        int rc = game_of(op, s, m, f->session[i], ctx, &g);
        if (rc)
            return rc;
        if (f->ts_ns[i] <= g->last_ns) {
            op->cnt.dropped++;
            continue;
        }
        int n = md_hockey_push(g, m, f, i, s->out, NULL, NULL);
        if ((rc = emit(op, s, m, g->session, n, ctx)) != 0)
            return rc;
    }
    pl_batch_note_ingest(pl_op_port(op, 0), in);
    return 0;
}

static int hk_advance(pl_op_t *op, pl_ctx_t *ctx)
{
    hk_t *s = op->state;
    const md_hockey_model_t *m = md_coef_get(s->coef);
    for (size_t k = 0; k < s->plays.nslots; k++) {
        if (!pl_plays_ended(&s->plays, k, s->flush_ns, ctx->watermark_ns))
            continue;
        int rc = flush_slot(op, s, m, k, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- snapshot / restore ----------------------------------------------------------- */

static int put_event(pl_buf_t *b, const md_hockey_event_t *e)
{
    int rc = pl_buf_put_u32(b, (uint32_t)e->type);
    rc |= pl_buf_put_i64(b, e->ts_ns);
    rc |= pl_buf_put_f64(b, e->confidence);
    rc |= pl_buf_put_f64(b, e->importance);
    rc |= pl_buf_put_u32(b, (uint32_t)e->nplayers);
    for (int k = 0; k < MD_HOCKEY_PLAYERS; k++)
        rc |= pl_buf_put_u32(b, e->players[k]);
    rc |= pl_buf_put_u32(b, e->degraded);
    return rc;
}

static int hk_snapshot(pl_op_t *op, pl_buf_t *b)
{
    hk_t *s = op->state;
    uint32_t n = pl_plays_count(&s->plays);
    int rc = pl_buf_put_u32(b, SNAP_MAGIC);
    rc |= pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u32(b, n);
    for (size_t k = 0; k < s->plays.nslots && rc == 0; k++) {
        if (!s->plays.used[k])
            continue;
        const md_hockey_game_t *g = pl_plays_at(&s->plays, k);
        rc |= pl_buf_put_u64(b, g->session);
        rc |= pl_buf_put_u64(b, g->n);
        rc |= pl_buf_put_u64(b, g->c);
        rc |= pl_buf_put_i64(b, g->last_ns);
        for (int t = 0; t < MD_HOCKEY_NT; t++) {
            const md_hockey_peak_t *pk = &g->peak[t];
            rc |= pl_buf_put_u32(b, pk->active);
            rc |= pl_buf_put_u32(b, (uint32_t)pk->left);
            rc |= pl_buf_put_f64(b, pk->p);
            rc |= put_event(b, &pk->ev);
            rc |= pl_buf_put_u64(b, g->quiet_until[t]);
        }
        uint64_t kept = g->n < MD_HOCKEY_RING ? g->n : MD_HOCKEY_RING;
        for (uint64_t j = g->n - kept; j < g->n; j++) {
            const md_hockey_frame_t *fr = &g->ring[j & (MD_HOCKEY_RING - 1)];
            rc |= pl_buf_put_i64(b, fr->ts_ns);
            rc |= pl_buf_put_u32(b, fr->n);
            rc |= pl_buf_put_u32(b, fr->degraded);
            for (int l = 0; l < PW_FRAME_LABELS; l++)
                rc |= pl_buf_put_u32(b, fr->label[l]);
            for (int p = 0; p < fr->n; p++) {
                rc |= pl_buf_put_u32(b, fr->ent[p]);
                rc |= pl_buf_put_u32(b, fr->team[p]);
                rc |= pl_buf_put_f64(b, fr->x[p]);
                rc |= pl_buf_put_f64(b, fr->y[p]);
            }
        }
    }
    return rc ? -ENOMEM : 0;
}

/* Read one event; false when the bytes are short or a value is out of range. */
static bool get_event(pl_rd_t *r, md_hockey_event_t *e, int t)
{
    uint32_t type = 0, np = 0, deg = 0;
    pl_rd_u32(r, &type);
    pl_rd_i64(r, &e->ts_ns);
    pl_rd_f64(r, &e->confidence);
    pl_rd_f64(r, &e->importance);
    pl_rd_u32(r, &np);
    for (int k = 0; k < MD_HOCKEY_PLAYERS; k++)
        pl_rd_u32(r, &e->players[k]);
    pl_rd_u32(r, &deg);
    if (r->failed || np > MD_HOCKEY_PLAYERS || deg > 1 ||
        (type != (uint32_t)t && type != 0) || !isfinite(e->confidence) ||
        !isfinite(e->importance))
        return false;
    e->type = (int)type;
    e->nplayers = (int)np;
    e->degraded = deg;
    return true;
}

/* Read one game into g; NULL, or what is wrong. */
static const char *get_game(pl_rd_t *r, md_hockey_game_t *g)
{
    uint64_t session = 0, n = 0, c = 0;
    int64_t last = 0;
    pl_rd_u64(r, &session);
    pl_rd_u64(r, &n);
    pl_rd_u64(r, &c);
    pl_rd_i64(r, &last);
    if (r->failed)
        return "truncated in a session's header";
    md_hockey_game_init(g, session);
    g->n = n;
    g->c = c;
    g->last_ns = last;
    if (c > n || n - c > MD_HOCKEY_LOOKAHEAD + 1 || n > (UINT64_C(1) << 48))
        return "a session's frame counters are out of range";
    for (int t = 0; t < MD_HOCKEY_NT; t++) {
        md_hockey_peak_t *pk = &g->peak[t];
        uint32_t active = 0, left = 0;
        pl_rd_u32(r, &active);
        pl_rd_u32(r, &left);
        pl_rd_f64(r, &pk->p);
        if (!get_event(r, &pk->ev, t))
            return "a pending event is truncated or malformed";
        pl_rd_u64(r, &g->quiet_until[t]);
        if (r->failed || active > 1 || left > MD_HOCKEY_PEAK_FRAMES)
            return "a pending event is truncated or malformed";
        pk->active = active;
        pk->left = (int)left;
    }
    uint64_t kept = n < MD_HOCKEY_RING ? n : MD_HOCKEY_RING;
    for (uint64_t j = n - kept; j < n; j++) {
        md_hockey_frame_t *fr = &g->ring[j & (MD_HOCKEY_RING - 1)];
        uint32_t np = 0, deg = 0;
        pl_rd_i64(r, &fr->ts_ns);
        pl_rd_u32(r, &np);
        pl_rd_u32(r, &deg);
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            pl_rd_u32(r, &fr->label[l]);
        if (r->failed || np > MD_HOCKEY_MAXP || deg > 1)
            return "a frame is truncated or holds too many players";
        fr->n = (uint16_t)np;
        fr->degraded = deg;
        for (uint32_t p = 0; p < np; p++) {
            uint32_t team = 0;
            double x = 0, y = 0;
            pl_rd_u32(r, &fr->ent[p]);
            pl_rd_u32(r, &team);
            pl_rd_f64(r, &x);
            pl_rd_f64(r, &y);
            if (r->failed || team > 255 || !isfinite(x) || !isfinite(y) || fabs(x) > 1000 ||
                fabs(y) > 1000)
                return "a player of a frame is truncated or malformed";
            fr->team[p] = (uint8_t)team;
            fr->x[p] = (float)x;
            fr->y[p] = (float)y;
        }
    }
    const char *why = NULL;
    if (md_hockey_game_check(g, &why))
        return why;
    return NULL;
}

/* Empty every slot. */
static void clear_slots(pl_op_t *op, hk_t *s)
{
    pl_plays_clear(&s->plays);
    op->cnt.keys = 0;
}

static int hk_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    hk_t *s = op->state;
    clear_slots(op, s);
    if (pl_rd_left(r) == 0)
        return 0; /* no state */
    uint32_t magic = 0, version = 0, n = 0;
    pl_rd_u32(r, &magic);
    pl_rd_u32(r, &version);
    pl_rd_u32(r, &n);
    if (r->failed || magic != SNAP_MAGIC)
        return pw_err_set(err, PW_ECORRUPT, "hockey_events: the state is not this operator's");
    if (version != SNAP_VERSION)
        return pw_err_set(err, PW_ECORRUPT, "hockey_events: state of format %u, expected %u",
                          version, SNAP_VERSION);
    if (n > s->plays.nslots)
        return pw_err_set(err, PW_ECORRUPT,
                          "hockey_events: the state holds %u sessions, max_sessions is %zu", n,
                          s->plays.nslots);
    for (uint32_t k = 0; k < n; k++) {
        md_hockey_game_t *g = pl_plays_at(&s->plays, k);
        const char *why = get_game(r, g);
        if (why == NULL && pl_plays_holds(&s->plays, g->session))
            why = "a session appears twice"; /* slots 0..k-1 are the used ones */
        if (why) {
            clear_slots(op, s);
            return pw_err_set(err, PW_ECORRUPT, "hockey_events: session %u of the state: %s", k,
                              why);
        }
        s->plays.used[k] = true;
        op->cnt.keys++;
    }
    if (pl_rd_left(r) != 0) {
        size_t left = pl_rd_left(r);
        clear_slots(op, s);
        return pw_err_set(err, PW_ECORRUPT, "hockey_events: %zu bytes after the state", left);
    }
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_hockey_def = {
    .name = "hockey_events",
    .desc = "Hockey event classification on player tracking frames: zone entries (blue-line "
            "crossings) and shots, each emitted once with its time, players, confidence and "
            "importance.",
    .conf = &pl_hockey_conf_section,
    .conf_size = sizeof(pl_hockey_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "frames (one session per tracked stretch of a game)",
    .output_desc = "results: topic event, key game/<session>, one per event",
    .check = hk_check, .init = hk_init, .process = hk_process, .advance = hk_advance,
    .snapshot = hk_snapshot, .restore = hk_restore, .close = hk_close,
};
