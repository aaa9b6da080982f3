/*
 * pl_events: the live event classifier. See pl_events.h.
 */
#include "pipeline/pl_events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "models/md_coef.h"
#include "models/md_events.h"

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

typedef struct slot {
    bool used;
    md_events_play_t play;
} slot_t;

typedef struct ev {
    md_coef_slot_t *coef;
    int64_t flush_ns;
    slot_t *slots;
    size_t nslots;
    size_t last;
    md_events_event_t out[MD_EVENTS_MAXOUT];
    pw_body_t body;
} ev_t;

static int ev_check(const void *conf, const pl_port_type_t *in, int nin, pl_port_type_t *out,
                    pw_err_t *err)
{
    (void)conf;
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "events: takes 1 input, not %d", nin);
    if (in[0].kind != PL_FRAMES)
        return pw_err_set(err, PW_ECONF, "events: input 1 carries %s; events takes frames",
                          in[0].kind == PL_POINTS ? "points" : "results");
    out[0].kind = PL_RESULTS;
    out[0].keyed = false;
    return 0;
}

static void ev_close(pl_op_t *op)
{
    ev_t *s = op->state;
    if (s == NULL)
        return;
    if (s->coef)
        md_coef_release(s->coef);
    free(s->slots);
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
    s->nslots = c->max_plays > 0 ? (size_t)c->max_plays : 64;
    s->slots = calloc(s->nslots, sizeof *s->slots);
    if (s->slots == NULL) {
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

static const char *entity_name(const pl_ctx_t *ctx, uint32_t e)
{
    const char *n = ctx->names && ctx->names->entities ? pw_intern_name(ctx->names->entities, e)
                                                       : NULL;
    return n ? n : "?";
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
        pw_body_map(b, 8);
        pw_body_key(b, "type");
        pw_body_str(b, type, strlen(type));
        pw_body_key(b, "ts_ns");
        pw_body_i64(b, e->ts_ns);
        pw_body_key(b, "confidence");
        pw_body_f64(b, e->confidence);
        pw_body_key(b, "players");
        pw_body_array(b, (uint32_t)e->nplayers);
        for (int j = 0; j < e->nplayers; j++) {
            const char *name = entity_name(ctx, e->players[j]);
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
        if (pl_results_add(res, e->ts_ns, 1, "event", 5, key, (size_t)klen, b->data, b->len))
            return -ENOMEM;
    }
    return 0;
}

/* Flush the play in slot k (emitting what is pending) and free the slot. */
static int flush_slot(pl_op_t *op, ev_t *s, const md_events_model_t *m, size_t k,
                      const pl_ctx_t *ctx)
{
    md_events_play_t *p = &s->slots[k].play;
    int n = md_events_flush(p, m, NULL, s->out, NULL, NULL);
    int rc = emit(op, s, m, p->session, n, ctx);
    s->slots[k].used = false;
    op->cnt.keys--;
    return rc;
}

/* The play of session, found or made (flushing the least recently seen). */
static int play_of(pl_op_t *op, ev_t *s, const md_events_model_t *m, uint64_t session,
                   const pl_ctx_t *ctx, md_events_play_t **out)
{
    if (s->slots[s->last].used && s->slots[s->last].play.session == session) {
        *out = &s->slots[s->last].play;
        return 0;
    }
    size_t free_at = s->nslots, oldest = s->nslots;
    for (size_t k = 0; k < s->nslots; k++) {
        slot_t *x = &s->slots[k];
        if (!x->used) {
            if (free_at == s->nslots)
                free_at = k;
            continue;
        }
        if (x->play.session == session) {
            s->last = k;
            *out = &x->play;
            return 0;
        }
        if (oldest == s->nslots || x->play.last_ns < s->slots[oldest].play.last_ns)
            oldest = k;
    }
    size_t k = free_at;
    if (k == s->nslots) {
        k = oldest;
        op->cnt.evicted++;
        int rc = flush_slot(op, s, m, k, ctx);
        if (rc)
            return rc;
    }
    s->slots[k].used = true;
    md_events_play_init(&s->slots[k].play, session);
    op->cnt.keys++;
    s->last = k;
    *out = &s->slots[k].play;
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
    for (size_t k = 0; k < s->nslots; k++) {
        if (!s->slots[k].used)
            continue;
        const md_events_play_t *p = &s->slots[k].play;
        bool ended = ctx->watermark_ns == PL_WATERMARK_MAX ||
                     (p->last_ns <= INT64_MAX - s->flush_ns &&
                      p->last_ns + s->flush_ns <= ctx->watermark_ns);
        if (!ended)
            continue;
        int rc = flush_slot(op, s, m, k, ctx);
        if (rc)
            return rc;
    }
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
    .input_desc = "frames (one session per play)",
    .output_desc = "results: topic event, key game/<session>, one per event",
    .check = ev_check, .init = ev_init, .process = ev_process, .advance = ev_advance,
    .close = ev_close,
};
