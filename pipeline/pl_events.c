/*
 * pl_events: the live event classifier. See pl_events.h.
 */
#include "pipeline/pl_events.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "models/md_coef.h"
#include "models/md_events.h"
#include "pipeline/pl_plays.h"

static const pw_conf_key_t ev_keys[] = {
    {.name = "model", .type = PW_CONF_STRING, .offset = offsetof(pl_events_conf_t, model),
     .def = "conf/models/events.json",
     .desc = "the model file written by `pitwall train --model events`"},
    {.name = "flush", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_events_conf_t, flush_ms), .def = "2000ms", .min = "0ms",
     .max = "600000ms",
     .desc = "a play whose last frame is this far behind the watermark has ended: its "
             "pending events are emitted and its state freed"},
    {.name = "max_plays", .type = PW_CONF_INT, .offset = offsetof(pl_events_conf_t, max_plays),
     .def = "64", .min = "1", .max = "65536",
     .desc = "plays tracked at once; the least recently seen is flushed and dropped"},
};

const pw_conf_section_t pl_events_conf_section = {
    .name = "events",
    .desc = "football event classification",
    .keys = ev_keys,
    .nkeys = PW_CONF_NKEYS(ev_keys),
};

typedef struct ev {
    md_coef_slot_t *coef;
    int64_t flush_ns;
    pl_plays_t plays; /* md_events_play_t per session */
    md_events_event_t out[MD_EVENTS_MAXOUT];
    pw_body_t body;
} ev_t;

static int ev_check(const void *conf, const pl_port_type_t *in, int nin, pl_port_type_t *out,
                    pw_err_t *err)
{
    (void)conf;
    return pl_plays_check_frames("events", in, nin, out, err);
}

static void ev_close(pl_op_t *op)
{
    ev_t *s = op->state;
    if (s == NULL)
        return;
    md_coef_release(s->coef);
    pl_plays_fini(&s->plays);
    pw_body_fini(&s->body);
    free(s);
    op->state = NULL;
}

static int ev_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_events_conf_t *c = conf;
    (void)setup;
    ev_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "events: out of memory");
    op->state = s;
    pw_body_init(&s->body);
    s->flush_ns = c->flush_ms * 1000000;
    size_t nslots = c->max_plays > 0 ? (size_t)c->max_plays : 64;
    if (PL_PLAYS_INIT(&s->plays, nslots, md_events_play_t)) {
        ev_close(op);
        return pw_err_set(err, -ENOMEM, "events: out of memory");
    }
    const char *path = c->model ? c->model : "conf/models/events.json";
    int rc = md_coef_acquire(path, md_events_model_load, md_events_model_free, &s->coef, err);
    if (rc) {
        s->coef = NULL;
        ev_close(op);
        return rc;
    }
    return 0;
}

/* One result per event of s->out[0..n). 0 or -ENOMEM. */
static int emit(pl_op_t *op, ev_t *s, const md_events_model_t *m, uint64_t session, int n,
                const pl_ctx_t *ctx)
{
    char key[48];
    int klen = snprintf(key, sizeof key, "game/%" PRIu64, session);
    pl_results_t *res = &pl_op_port(op, 0)->res;
    for (int k = 0; k < n; k++) {
        const md_events_event_t *e = &s->out[k];
        pw_body_t *b = &s->body;
        const char *type = md_events_type_names[e->type];
        pw_body_clear(b);
        pw_body_map(b, 9);
        pw_body_key(b, "type");
        pw_body_str(b, type, strlen(type));
        pw_body_key(b, "play");
        pw_body_u64(b, e->play);
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
        pw_body_key(b, "gain_yd");
        pw_body_f64(b, e->gain_yd);
        pw_body_key(b, "version");
        pw_body_str(b, m->version, strlen(m->version));
        pw_body_key(b, "degraded");
        pw_body_bool(b, e->degraded);
        if (pw_body_ok(b))
            return -ENOMEM;
        /* The store keeps one result per (topic, key, time): events of one
         * instant (a catch and first contact) are told apart by the type's
         * index in ns on the result's time; the body's ts_ns stays exact. */
        if (pl_results_add(res, e->ts_ns + (int64_t)e->type, 1, "event", 5, key, (size_t)klen,
                           b->data, b->len))
            return -ENOMEM;
    }
    return 0;
}

/* Flush the play in slot k (emitting what is pending) and free the slot. */
static int flush_slot(pl_op_t *op, ev_t *s, const md_events_model_t *m, size_t k,
                      const pl_ctx_t *ctx)
{
    md_events_play_t *p = pl_plays_at(&s->plays, k);
    int n = md_events_flush(p, m, NULL, s->out, NULL, NULL);
    int rc = emit(op, s, m, p->session, n, ctx);
    pl_plays_drop(&s->plays, k);
    op->cnt.keys--;
    return rc;
}

/* The play of session, found or made (flushing the least recently seen). */
static int play_of(pl_op_t *op, ev_t *s, const md_events_model_t *m, uint64_t session,
                   const pl_ctx_t *ctx, md_events_play_t **out)
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
    md_events_play_t *p = pl_plays_take(&s->plays, k);
    md_events_play_init(p, session);
    op->cnt.keys++;
    *out = p;
    return 0;
}

static int ev_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    ev_t *s = op->state;
    const pw_frames_t *f = &in->frames;
    (void)input;
    if (f->n == 0)
        return 0;
    /* One version per batch: a reload takes effect at the next batch. */
    const md_events_model_t *m = md_coef_get(s->coef);
    for (size_t i = 0; i < f->n; i++) {
        md_events_play_t *p;
        int rc = play_of(op, s, m, f->session[i], ctx, &p);
        if (rc)
            return rc;
        if (f->ts_ns[i] <= p->last_ns) {
            op->cnt.dropped++;
            continue;
        }
        int n = md_events_push(p, m, NULL, f, i, s->out, NULL, NULL);
        rc = emit(op, s, m, p->session, n, ctx);
        if (rc)
            return rc;
    }
    pl_batch_note_ingest(pl_op_port(op, 0), in);
    return 0;
}

static int ev_advance(pl_op_t *op, pl_ctx_t *ctx)
{
    ev_t *s = op->state;
    const md_events_model_t *m = md_coef_get(s->coef);
    for (size_t k = 0; k < s->plays.nslots; k++) {
        if (!pl_plays_ended(&s->plays, k, s->flush_ns, ctx->watermark_ns))
            continue;
        int rc = flush_slot(op, s, m, k, ctx);
        if (rc)
            return rc;
    }
    return 0;
}


/*
 * Snapshot: SNAP_VERSION (u32), the number of sessions (u32), then per
 * session its slot index (u32) and its whole state, field by field in
 * fixed-width little-endian values (pl_buf_put_*), so every session takes
 * SNAP_PLAY_BYTES. Floats are written as f64 (exact for float). Format 2
 * adds what plays in a row need: each frame's lined-up flag (u32, after
 * its labels) and, after the held ball, the play count (u32), waiting for
 * the next snap (u32), and the ball's rest and lined-up times (i64).
 * Format 3: a frame's eleventh value is team_dx where format 2 had the
 * offense's mean x (read back as the ball's x minus it, which gives the
 * same attack direction as before); each frame ends with its kick
 * formation flag (u32), QB candidate (u32) and the QB's distance to the
 * nearest defender, depth and distance to the ball (f64), and the session
 * with the play's kick flag and QB (u32). Format 2 is read as frames and
 * plays without a kick formation or a QB (no sack can be scored in a play
 * restored from it).
 * Format 4: each frame ends with its carrier_top (f64); formats 3 and
 * older are read with the tops rebuilt over the ring's frames (the history
 * before them is lost, so a tackle in the next seconds may be scored
 * differently from an uninterrupted run).
 * Format 1 (one play per session) is still read, as a session that has
 * seen its one snap or none.
 */
#define SNAP_VERSION 4u
#define SNAP_FRAME_F64 11
#define SNAP_FRAME_BYTES_V(v) \
    (8 + 8 * SNAP_FRAME_F64 + 4 + 4 + 4 * MD_EVENTS_PLAYERS + 4 * PW_FRAME_LABELS + \
     ((v) >= 2 ? 4 : 0) + ((v) >= 3 ? 4 + 4 + 3 * 8 : 0) + ((v) >= 4 ? 8 : 0))
#define SNAP_PEAK_BYTES_V(v) (4 + 4 + 8 + SNAP_FRAME_BYTES_V(v) + 4)
#define SNAP_PLAY_BYTES_V(v)                                                              \
    ((size_t)(4 + 8 + 8 + 8 + 8 + MD_EVENTS_RING * SNAP_FRAME_BYTES_V(v) +                \
              MD_EVENTS_NT * (4 + 8) + 4 + 8 + 8 + MD_EVENTS_NT * SNAP_PEAK_BYTES_V(v) + 4 + \
              8 + 8 + 8 + ((v) >= 2 ? 4 + 4 + 8 + 8 : 0) + ((v) >= 3 ? 4 + 4 : 0)))
#define SNAP_PLAY_BYTES SNAP_PLAY_BYTES_V(SNAP_VERSION)

static int put_frame(pl_buf_t *b, const md_events_frame_t *f)
{
    const float v[SNAP_FRAME_F64] = {f->bx, f->by, f->bs, f->d1, f->d2, f->dd,
                                     f->carrier_speed, f->mean_speed, f->ndef, f->ndef3,
                                     f->team_dx};
    int rc = pl_buf_put_i64(b, f->ts_ns);
    for (int k = 0; k < SNAP_FRAME_F64; k++)
        rc |= pl_buf_put_f64(b, v[k]);
    rc |= pl_buf_put_u32(b, f->near_team);
    rc |= pl_buf_put_u32(b, f->degraded);
    for (int k = 0; k < MD_EVENTS_PLAYERS; k++)
        rc |= pl_buf_put_u32(b, f->near[k]);
    for (int k = 0; k < PW_FRAME_LABELS; k++)
        rc |= pl_buf_put_u32(b, f->label[k]);
    rc |= pl_buf_put_u32(b, f->lined_up);
    rc |= pl_buf_put_u32(b, f->kick_formation);
    rc |= pl_buf_put_u32(b, f->qb_cand);
    rc |= pl_buf_put_f64(b, f->qb_dd);
    rc |= pl_buf_put_f64(b, f->qb_depth);
    rc |= pl_buf_put_f64(b, f->qb_ball);
    rc |= pl_buf_put_f64(b, f->carrier_top);
    return rc;
}

static int put_play(pl_buf_t *b, uint32_t slot, const md_events_play_t *p)
{
    int rc = pl_buf_put_u32(b, slot);
    rc |= pl_buf_put_u64(b, p->session);
    rc |= pl_buf_put_u64(b, p->n);
    rc |= pl_buf_put_u64(b, p->c);
    rc |= pl_buf_put_i64(b, p->last_ns);
    for (int k = 0; k < MD_EVENTS_RING; k++)
        rc |= put_frame(b, &p->ring[k]);
    for (int t = 0; t < MD_EVENTS_NT; t++) {
        rc |= pl_buf_put_u32(b, p->done[t]);
        rc |= pl_buf_put_i64(b, p->at_ns[t]);
    }
    rc |= pl_buf_put_u32(b, p->offense);
    rc |= pl_buf_put_f64(b, p->los_x);
    rc |= pl_buf_put_f64(b, p->dirx);
    for (int t = 0; t < MD_EVENTS_NT; t++) {
        const md_events_peak_t *pk = &p->peak[t];
        rc |= pl_buf_put_u32(b, pk->active);
        rc |= pl_buf_put_u32(b, (uint32_t)pk->left);
        rc |= pl_buf_put_f64(b, pk->p);
        rc |= put_frame(b, &pk->at);
        rc |= pl_buf_put_u32(b, pk->degraded);
    }
    rc |= pl_buf_put_u32(b, p->have_ball);
    rc |= pl_buf_put_f64(b, p->bx);
    rc |= pl_buf_put_f64(b, p->by);
    rc |= pl_buf_put_f64(b, p->bs);
    rc |= pl_buf_put_u32(b, p->play);
    rc |= pl_buf_put_u32(b, p->next);
    rc |= pl_buf_put_i64(b, p->rest_ns);
    rc |= pl_buf_put_i64(b, p->lined_ns);
    rc |= pl_buf_put_u32(b, p->kick);
    rc |= pl_buf_put_u32(b, p->qb);
    return rc;
}

static int ev_snapshot(pl_op_t *op, pl_buf_t *b)
{
    ev_t *s = op->state;
    uint32_t n = pl_plays_count(&s->plays);
    size_t start = b->len;
    int rc = pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u32(b, n);
    if (rc || pl_buf_reserve(b, (size_t)n * SNAP_PLAY_BYTES))
        return -ENOMEM;
    for (size_t k = 0; k < s->plays.nslots && rc == 0; k++)
        if (s->plays.used[k])
            rc = put_play(b, (uint32_t)k, pl_plays_at(&s->plays, k));
    if (rc)
        return -ENOMEM;
    assert(b->len - start == 8 + (size_t)n * SNAP_PLAY_BYTES);
    (void)start;
    return 0;
}

/* Read a value written as f64 from a float field; false if not finite. */
static bool get_f(pl_rd_t *r, float *v)
{
    double d = 0;
    pl_rd_f64(r, &d);
    *v = (float)d;
    return isfinite(d);
}

static bool get_bool(pl_rd_t *r, bool *v)
{
    uint32_t u = 0;
    pl_rd_u32(r, &u);
    *v = u != 0;
    return u <= 1;
}

static bool team_ok(uint32_t t)
{
    return t == PW_TEAM_HOME || t == PW_TEAM_AWAY || t == PW_TEAM_BALL ||
           t == PW_TEAM_UNKNOWN;
}

/* One frame summary; false (what set) if a value is out of range. */
static bool get_frame(pl_rd_t *r, uint32_t version, md_events_frame_t *f, const char **what)
{
    float *v[SNAP_FRAME_F64] = {&f->bx, &f->by, &f->bs, &f->d1, &f->d2, &f->dd,
                                &f->carrier_speed, &f->mean_speed, &f->ndef, &f->ndef3,
                                &f->team_dx};
    bool ok = true;
    uint32_t team = 0;
    pl_rd_i64(r, &f->ts_ns);
    for (int k = 0; k < SNAP_FRAME_F64; k++)
        ok &= get_f(r, v[k]);
    if (!ok)
        *what = "a frame value is not finite";
    pl_rd_u32(r, &team);
    if (ok && !team_ok(team)) {
        *what = "a frame's team is unknown";
        ok = false;
    }
    f->near_team = (uint8_t)team;
    if (!get_bool(r, &f->degraded) && ok) {
        *what = "a frame's degraded flag is not 0 or 1";
        ok = false;
    }
    for (int k = 0; k < MD_EVENTS_PLAYERS; k++)
        pl_rd_u32(r, &f->near[k]);
    for (int k = 0; k < PW_FRAME_LABELS; k++)
        pl_rd_u32(r, &f->label[k]);
    if (version >= 2 && !get_bool(r, &f->lined_up) && ok) {
        *what = "a frame's lined-up flag is not 0 or 1";
        ok = false;
    }
    if (version >= 3 && !get_bool(r, &f->kick_formation) && ok) {
        *what = "a frame's kick formation flag is not 0 or 1";
        ok = false;
    }
    if (version >= 3) {
        pl_rd_u32(r, &f->qb_cand);
        bool qok = get_f(r, &f->qb_dd) && get_f(r, &f->qb_depth) && get_f(r, &f->qb_ball);
        if (!qok && ok) {
            *what = "a frame's quarterback values are not finite";
            ok = false;
        }
    } else {
        f->team_dx = f->bx - f->team_dx; /* was the offense's mean x */
        f->qb_dd = 99.0f;
    }
    if (version >= 4) {
        if (!get_f(r, &f->carrier_top) && ok) {
            *what = "a frame's carrier top speed is not finite";
            ok = false;
        }
    } else {
        f->carrier_top = f->carrier_speed; /* the ring's are rebuilt by get_play */
    }
    return ok;
}

/* One session of format version; NULL or what is wrong with it. */
static const char *get_play(pl_rd_t *r, uint32_t version, md_events_play_t *p)
{
    const char *what = NULL;
    uint32_t u = 0;
    pl_rd_u64(r, &p->session);
    pl_rd_u64(r, &p->n);
    pl_rd_u64(r, &p->c);
    pl_rd_i64(r, &p->last_ns);
    for (int k = 0; k < MD_EVENTS_RING; k++)
        if (!get_frame(r, version, &p->ring[k], &what) && what == NULL)
            what = "a frame is malformed";
    for (int t = 0; t < MD_EVENTS_NT; t++) {
        if (!get_bool(r, &p->done[t]) && what == NULL)
            what = "a done flag is not 0 or 1";
        pl_rd_i64(r, &p->at_ns[t]);
    }
    pl_rd_u32(r, &u);
    p->offense = (uint8_t)u;
    if (!team_ok(u) && what == NULL)
        what = "the offense is not a team";
    if ((!get_f(r, &p->los_x) || !get_f(r, &p->dirx) ||
         (p->dirx != 1.0f && p->dirx != -1.0f)) && what == NULL)
        what = "the line of scrimmage or direction is malformed";
    for (int t = 0; t < MD_EVENTS_NT; t++) {
        md_events_peak_t *pk = &p->peak[t];
        if (!get_bool(r, &pk->active) && what == NULL)
            what = "a peak's active flag is not 0 or 1";
        pl_rd_u32(r, &u);
        pk->left = (int)(u <= MD_EVENTS_PEAK_FRAMES ? u : 0);
        if (u > MD_EVENTS_PEAK_FRAMES && what == NULL)
            what = "a peak's frames left is out of range";
        pl_rd_f64(r, &pk->p);
        if (!(pk->p >= 0 && pk->p <= 1) && what == NULL)
            what = "a peak's probability is not in [0, 1]";
        if (!get_frame(r, version, &pk->at, &what) && what == NULL)
            what = "a peak's frame is malformed";
        if (!get_bool(r, &pk->degraded) && what == NULL)
            what = "a peak's degraded flag is not 0 or 1";
    }
    if (!get_bool(r, &p->have_ball) && what == NULL)
        what = "the ball flag is not 0 or 1";
    if ((!get_f(r, &p->bx) || !get_f(r, &p->by) || !get_f(r, &p->bs)) && what == NULL)
        what = "the held ball is not finite";
    if (version >= 2) {
        pl_rd_u32(r, &p->play);
        if (!get_bool(r, &p->next) && what == NULL)
            what = "the next-play flag is not 0 or 1";
        pl_rd_i64(r, &p->rest_ns);
        pl_rd_i64(r, &p->lined_ns);
        if (version >= 3 && !get_bool(r, &p->kick) && what == NULL)
            what = "the kick flag is not 0 or 1";
        if (version >= 3)
            pl_rd_u32(r, &p->qb);
    } else {
        p->play = p->done[MD_EV_SNAP];
    }
    if (version < 4)
        md_events_play_rebuild_tops(p);
    /* A snapped play has a number; a session waiting for its next snap has had one. */
    if (what == NULL && ((p->done[MD_EV_SNAP] && p->play == 0) ||
                         (p->next && (p->done[MD_EV_SNAP] || p->play == 0))))
        what = "the play count disagrees with the state machine";
    if (what == NULL && ((p->rest_ns != INT64_MIN && p->rest_ns > p->last_ns) ||
                         (p->lined_ns != INT64_MIN && p->lined_ns > p->last_ns)))
        what = "the ball's rest is after the last frame";
    /* The scoring cursor trails the frames by at most the look-ahead. */
    if (what == NULL && (p->c > p->n || p->n - p->c > MD_EVENTS_LOOKAHEAD ||
                         (p->n == 0 && p->last_ns != INT64_MIN)))
        what = "the frame counters are inconsistent";
    return what;
}

static int ev_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    ev_t *s = op->state;
    uint32_t version = 0, n = 0;
    if (pl_rd_left(r) == 0)
        return 0;
    pl_rd_u32(r, &version);
    pl_rd_u32(r, &n);
    if (r->failed || version < 1 || version > SNAP_VERSION)
        return pw_err_set(err, PW_ECORRUPT, "events: state of format %u, expected 1..%u",
                          version, SNAP_VERSION);
    uint64_t play_bytes = SNAP_PLAY_BYTES_V(version);
    if ((uint64_t)n * play_bytes != pl_rd_left(r))
        return pw_err_set(err, PW_ECORRUPT,
                          "events: state of %u plays has %zu bytes, expected %llu", n,
                          pl_rd_left(r), (unsigned long long)n * play_bytes);
    if (n > s->plays.nslots)
        return pw_err_set(err, PW_ECORRUPT, "events: state of %u plays, max_plays is %zu", n,
                          s->plays.nslots);
    /* Read into the slots only once the whole state is known to be good. */
    pl_plays_t tmp;
    if (pl_plays_init_like(&tmp, &s->plays))
        return pw_err_set(err, -ENOMEM, "events: out of memory");
    int rc = 0;
    for (uint32_t j = 0; j < n && rc == 0; j++) {
        uint32_t k = 0;
        pl_rd_u32(r, &k);
        if (k >= tmp.nslots) {
            rc = pw_err_set(err, PW_ECORRUPT,
                            "events: play %u of the state is in slot %u, max_plays is %zu", j,
                            k, tmp.nslots);
            break;
        }
        if (tmp.used[k]) {
            rc = pw_err_set(err, PW_ECORRUPT, "events: slot %u twice in the state", k);
            break;
        }
        md_events_play_t p;
        md_events_play_init(&p, 0);
        const char *what = get_play(r, version, &p);
        if (r->failed)
            what = "truncated";
        if (what == NULL && pl_plays_holds(&tmp, p.session))
            what = "its session is in the state twice";
        if (what) {
            rc = pw_err_set(err, PW_ECORRUPT, "events: play %u of the state is malformed: %s",
                            j, what);
            break;
        }
        *(md_events_play_t *)pl_plays_take(&tmp, k) = p;
    }
    if (rc) {
        pl_plays_fini(&tmp);
        return rc;
    }
    pl_plays_fini(&s->plays);
    s->plays = tmp;
    s->plays.last = 0;
    op->cnt.keys = n;
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_events_def = {
    .name = "events",
    .desc = "Football event classification on tracking frames: snap, pass, arrival, handoff, "
            "first contact, tackle, sack, out of bounds and touchdown, each emitted once with "
            "its time, players, confidence and importance.",
    .conf = &pl_events_conf_section,
    .conf_size = sizeof(pl_events_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "frames (a session holds one play or a whole game of plays)",
    .output_desc = "results: topic event, key game/<session>, one per event",
    .check = ev_check, .init = ev_init, .process = ev_process, .advance = ev_advance,
    .snapshot = ev_snapshot, .restore = ev_restore, .close = ev_close,
};
