/*
 * pl_pressure: the live pressure alert. See pl_pressure.h.
 */
#include "pipeline/pl_pressure.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_body.h"
#include "models/md_coef.h"
#include "models/md_pressure.h"
#include "pipeline/pl_plays.h"

static const pw_conf_key_t pr_keys[] = {
    {.name = "model", .type = PW_CONF_STRING, .offset = offsetof(pl_pressure_conf_t, model),
     .def = "conf/models/pressure.json",
     .desc = "the model file written by `pitwall train --model pressure`"},
    {.name = "threshold", .type = PW_CONF_DOUBLE,
     .offset = offsetof(pl_pressure_conf_t, threshold), .def = "0", .min = "0", .max = "1",
     .desc = "alert when the play's pressure probability reaches this; 0 = the threshold "
             "stored in the model file"},
    {.name = "top", .type = PW_CONF_INT, .offset = offsetof(pl_pressure_conf_t, top),
     .def = "3", .min = "1", .max = "3",
     .desc = "defenders listed in each result, most likely first"},
    {.name = "max_plays", .type = PW_CONF_INT,
     .offset = offsetof(pl_pressure_conf_t, max_plays), .def = "64", .min = "1",
     .max = "65536", .desc = "plays tracked at once; the least recently seen is dropped"},
};

const pw_conf_section_t pl_pressure_conf_section = {
    .name = "pressure",
    .desc = "pass-rush pressure alert",
    .keys = pr_keys,
    .nkeys = PW_CONF_NKEYS(pr_keys),
};

typedef struct pr {
    md_coef_slot_t *coef;
    md_pressure_labels_t labels;
    double threshold;     /* 0 = the model's */
    int top;
    pl_plays_t plays;     /* md_pressure_play_t per session */
    md_pressure_out_t out;
    pw_body_t body;
} pr_t;

static const char *const end_names[] = {"", "pass", "sack", "handoff", "scramble",
                                        "timeout", "no_qb"};

static int pr_check(const void *conf, const pl_port_type_t *in, int nin, pl_port_type_t *out,
                    pw_err_t *err)
{
    (void)conf;
    return pl_plays_check_frames("pressure", in, nin, out, err);
}

static void pr_close(pl_op_t *op)
{
    pr_t *s = op->state;
    if (s == NULL)
        return;
    md_coef_release(s->coef);
    pl_plays_fini(&s->plays);
    pw_body_fini(&s->body);
    free(s);
    op->state = NULL;
}

static int pr_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_pressure_conf_t *c = conf;
    if (!setup->names || !setup->names->labels || !setup->names->entities)
        return pw_err_set(err, PW_EARG, "pressure: no label or entity table");
    pr_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "pressure: out of memory");
    op->state = s;
    pw_body_init(&s->body);
    s->threshold = c->threshold;
    s->top = (int)c->top;
    if (PL_PLAYS_INIT(&s->plays, (size_t)c->max_plays, md_pressure_play_t)) {
        pr_close(op);
        return pw_err_set(err, -ENOMEM, "pressure: out of memory");
    }
    int rc = md_pressure_labels_resolve(setup->names->labels, true, &s->labels);
    if (rc) {
        pr_close(op);
        return pw_err_set(err, rc, "pressure: labels: %s", pw_strerror(rc));
    }
    const char *path = c->model ? c->model : "conf/models/pressure.json";
    rc = md_coef_acquire(path, md_pressure_model_load, md_pressure_model_free, &s->coef, err);
    if (rc) {
        s->coef = NULL;
        pr_close(op);
        return rc;
    }
    return 0;
}

/* The play of session, found or made (evicting the least recently seen). */
static md_pressure_play_t *play_of(pl_op_t *op, pr_t *s, uint64_t session)
{
    size_t k;
    int found = pl_plays_find(&s->plays, session, &k);
    if (found == PL_PLAYS_FOUND)
        return pl_plays_at(&s->plays, k);
    if (found == PL_PLAYS_FULL) {
        op->cnt.evicted++;
        op->cnt.keys--;
    }
    md_pressure_play_t *p = pl_plays_take(&s->plays, k);
    md_pressure_play_init(p, session);
    op->cnt.keys++;
    return p;
}

/* The result of one frame. 0 or -ENOMEM. */
static int emit(pl_op_t *op, pr_t *s, const md_pressure_model_t *m,
                const md_pressure_play_t *p, int64_t ts, const pl_ctx_t *ctx)
{
    const md_pressure_out_t *o = &s->out;
    pw_body_t *b = &s->body;
    pw_body_clear(b);
    pw_body_map(b, p->alerted ? 13 : 10);
    pw_body_key(b, "ts");
    pw_body_i64(b, ts);
    pw_body_key(b, "play");
    pw_body_u64(b, p->play);
    pw_body_key(b, "t_s");
    pw_body_f64(b, (double)(ts - p->snap_ns) / 1e9);
    pw_body_key(b, "prob");
    pw_body_f64(b, o->play_prob);
    int n = p->last_n < s->top ? p->last_n : s->top;
    pw_body_key(b, "top");
    pw_body_array(b, (uint32_t)n);
    for (int k = 0; k < n; k++) {
        const char *name = pl_plays_entity_name(ctx, p->last_ent[k]);
        pw_body_map(b, 3);
        pw_body_key(b, "entity");
        pw_body_str(b, name, strlen(name));
        pw_body_key(b, "prob");
        pw_body_f64(b, p->last_p[k]);
        pw_body_key(b, "eta_s");
        pw_body_f64(b, p->last_eta[k]);
    }
    pw_body_key(b, "alert");
    pw_body_bool(b, o->alert);
    pw_body_key(b, "alerted");
    pw_body_bool(b, p->alerted);
    if (p->alerted) {
        const char *name = pl_plays_entity_name(ctx, p->alert_entity);
        pw_body_key(b, "alert_entity");
        pw_body_str(b, name, strlen(name));
        pw_body_key(b, "alert_prob");
        pw_body_f64(b, p->alert_prob);
        pw_body_key(b, "alert_eta_s");
        pw_body_f64(b, p->alert_eta_s);
    }
    const char *end = o->ended ? end_names[p->end] : "";
    pw_body_key(b, "end");
    pw_body_str(b, end, strlen(end));
    pw_body_key(b, "version");
    pw_body_str(b, m->version, strlen(m->version));
    pw_body_key(b, "degraded");
    pw_body_bool(b, o->degraded);
    if (pw_body_ok(b))
        return -ENOMEM;
    char key[48];
    int klen = snprintf(key, sizeof key, "game/%" PRIu64, p->session);
    pl_results_t *res = &pl_op_port(op, 0)->res;
    if (pl_results_add(res, ts, 1, "pressure", 8, key, (size_t)klen, b->data, b->len))
        return -ENOMEM;
    return 0;
}

static int pr_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    pr_t *s = op->state;
    const pw_frames_t *f = &in->frames;
    (void)input;
    if (f->n == 0)
        return 0;
    /* One version per batch: a reload takes effect at the next batch. */
    const md_pressure_model_t *m = md_coef_get(s->coef);
    double th = s->threshold > 0 ? s->threshold : m->threshold;
    for (size_t i = 0; i < f->n; i++) {
        md_pressure_play_t *p = play_of(op, s, f->session[i]);
        md_pressure_step(p, m, th, &s->labels, f, i, &s->out);
        if (!s->out.emit)
            continue;
        int rc = emit(op, s, m, p, f->ts_ns[i], ctx);
        if (rc)
            return rc;
    }
    pl_batch_note_ingest(pl_op_port(op, 0), in);
    return 0;
}


/*
 * Checkpoint format: u32 SNAP_VERSION, u32 plays, u32 max_plays, then per
 * session its slot and state (SNAP_PLAY_BYTES, as pl_buf_put_* write), then
 * u32 FNV-1a of everything before it. The slot is kept so that eviction
 * after a restore picks the same sessions as a run that went through.
 * Format 2 adds the session's snap count (u32, after last_ns); format 1
 * (one play per session) is still read, its count taken as 1 once the
 * snap was seen.
 */
#define SNAP_VERSION 2u
#define SNAP_PLAY_BYTES_V1 ((size_t)(4 + 8 + 4 + 4 + 8 * 3 + 4 * 3 + 8 * 2 + 4 + 8 + 4 + 8 + \
                                     4 + 8 * 3 + 4 + MD_PRESSURE_TOP * (4 + 8 + 8)))
#define SNAP_PLAY_BYTES (SNAP_PLAY_BYTES_V1 + 4)

static uint32_t snap_hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) {
        h ^= p[k];
        h *= 16777619u;
    }
    return h;
}

static int pr_snapshot(pl_op_t *op, pl_buf_t *b)
{
    pr_t *s = op->state;
    size_t start = b->len;
    uint32_t n = pl_plays_count(&s->plays);
    if (pl_buf_reserve(b, 12 + (size_t)n * SNAP_PLAY_BYTES + 4))
        return -ENOMEM;
    int rc = pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u32(b, n);
    rc |= pl_buf_put_u32(b, (uint32_t)s->plays.nslots);
    for (size_t k = 0; k < s->plays.nslots && rc == 0; k++) {
        if (!s->plays.used[k])
            continue;
        const md_pressure_play_t *p = pl_plays_at(&s->plays, k);
        rc |= pl_buf_put_u32(b, (uint32_t)k);
        rc |= pl_buf_put_u64(b, p->session);
        rc |= pl_buf_put_u32(b, (uint32_t)p->phase);
        rc |= pl_buf_put_u32(b, (uint32_t)p->end);
        rc |= pl_buf_put_i64(b, p->snap_ns);
        rc |= pl_buf_put_i64(b, p->end_ns);
        rc |= pl_buf_put_i64(b, p->last_ns);
        rc |= pl_buf_put_u32(b, p->play);
        rc |= pl_buf_put_u32(b, p->qb);
        rc |= pl_buf_put_u32(b, p->offense);
        rc |= pl_buf_put_u32(b, p->defense);
        rc |= pl_buf_put_f64(b, p->dirx);
        rc |= pl_buf_put_f64(b, p->los_x);
        rc |= pl_buf_put_u32(b, (uint32_t)p->above);
        rc |= pl_buf_put_i64(b, p->handoff_ns);
        rc |= pl_buf_put_u32(b, p->alerted);
        rc |= pl_buf_put_i64(b, p->alert_ns);
        rc |= pl_buf_put_u32(b, p->alert_entity);
        rc |= pl_buf_put_f64(b, p->alert_prob);
        rc |= pl_buf_put_f64(b, p->alert_eta_s);
        rc |= pl_buf_put_f64(b, p->last_prob);
        rc |= pl_buf_put_u32(b, (uint32_t)p->last_n);
        for (int t = 0; t < MD_PRESSURE_TOP; t++) {
            rc |= pl_buf_put_u32(b, p->last_ent[t]);
            rc |= pl_buf_put_f64(b, p->last_p[t]);
            rc |= pl_buf_put_f64(b, p->last_eta[t]);
        }
    }
    assert(rc || b->len - start == 12 + (size_t)n * SNAP_PLAY_BYTES);
    if (rc == 0)
        rc = pl_buf_put_u32(b, snap_hash(b->data + start, b->len - start));
    return rc ? -ENOMEM : 0;
}

/* Read one session (after its slot, of format version) into p; false on overrun. */
static bool read_play(pl_rd_t *r, uint32_t version, md_pressure_play_t *p)
{
    uint32_t phase = 0, end = 0, off = 0, def = 0, above = 0, alerted = 0, last_n = 0;
    double dirx = 0;
    md_pressure_play_init(p, 0);
    pl_rd_u64(r, &p->session);
    pl_rd_u32(r, &phase);
    pl_rd_u32(r, &end);
    pl_rd_i64(r, &p->snap_ns);
    pl_rd_i64(r, &p->end_ns);
    pl_rd_i64(r, &p->last_ns);
    if (version >= 2)
        pl_rd_u32(r, &p->play);
    pl_rd_u32(r, &p->qb);
    pl_rd_u32(r, &off);
    pl_rd_u32(r, &def);
    pl_rd_f64(r, &dirx);
    double los = 0;
    pl_rd_f64(r, &los);
    pl_rd_u32(r, &above);
    pl_rd_i64(r, &p->handoff_ns);
    pl_rd_u32(r, &alerted);
    pl_rd_i64(r, &p->alert_ns);
    pl_rd_u32(r, &p->alert_entity);
    pl_rd_f64(r, &p->alert_prob);
    pl_rd_f64(r, &p->alert_eta_s);
    pl_rd_f64(r, &p->last_prob);
    pl_rd_u32(r, &last_n);
    for (int t = 0; t < MD_PRESSURE_TOP; t++) {
        pl_rd_u32(r, &p->last_ent[t]);
        pl_rd_f64(r, &p->last_p[t]);
        pl_rd_f64(r, &p->last_eta[t]);
    }
    if (r->failed || phase > MD_PRESSURE_DONE || end > MD_PRESSURE_END_NOQB || off > 255 ||
        def > 255 || above > 1000 || alerted > 1 || last_n > MD_PRESSURE_TOP)
        return false;
    p->phase = (int)phase;
    p->end = (int)end;
    p->offense = (uint8_t)off;
    p->defense = (uint8_t)def;
    p->dirx = (float)dirx;
    p->los_x = (float)los;
    p->above = (int)above;
    p->alerted = alerted != 0;
    p->last_n = (int)last_n;
    if (version < 2)
        p->play = p->phase != MD_PRESSURE_WAIT;
    return md_pressure_play_check(p) == 0;
}

/*
 * Restore the plays of a checkpoint. The whole blob is checked (version,
 * length, checksum, every play) before any state is replaced, so a
 * rejected blob leaves the operator as it was.
 */
static int pr_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    pr_t *s = op->state;
    if (pl_rd_left(r) == 0)
        return 0;
    size_t total = pl_rd_left(r);
    const uint8_t *base = r->p + r->pos;
    uint32_t version = 0, n = 0, nslots = 0, sum = 0;
    pl_rd_u32(r, &version);
    pl_rd_u32(r, &n);
    pl_rd_u32(r, &nslots);
    if (r->failed || version < 1 || version > SNAP_VERSION)
        return pw_err_set(err, PW_ECORRUPT, "pressure: state of format %u, expected 1..%u "
                          "(%zu bytes)", version, SNAP_VERSION, total);
    size_t play_bytes = version >= 2 ? SNAP_PLAY_BYTES : SNAP_PLAY_BYTES_V1;
    if ((size_t)n * play_bytes + 4 != pl_rd_left(r))
        return pw_err_set(err, PW_ECORRUPT, "pressure: state of %u plays has %zu bytes, "
                          "expected %zu", n, total, 12 + (size_t)n * play_bytes + 4);
    memcpy(&sum, base + total - 4, 4); /* as pl_buf_put_u32 wrote it */
    if (sum != snap_hash(base, total - 4))
        return pw_err_set(err, PW_ECORRUPT, "pressure: state checksum mismatch (%zu bytes): "
                          "corrupt checkpoint", total);
    if (n > s->plays.nslots || nslots != s->plays.nslots)
        return pw_err_set(err, PW_ECONF, "pressure: state has %u plays in %u slots; this "
                          "operator has max_plays %zu", n, nslots, s->plays.nslots);
    pl_plays_t tmp;
    if (pl_plays_init_like(&tmp, &s->plays))
        return pw_err_set(err, -ENOMEM, "pressure: out of memory");
    for (uint32_t j = 0; j < n; j++) {
        uint32_t k = 0;
        pl_rd_u32(r, &k);
        md_pressure_play_t p;
        bool ok = read_play(r, version, &p);
        if (!ok || k >= tmp.nslots || tmp.used[k]) {
            pl_plays_fini(&tmp);
            return pw_err_set(err, PW_ECORRUPT, "pressure: play %u of the state is "
                              "malformed (slot %u)", j, k);
        }
        if (pl_plays_holds(&tmp, p.session)) {
            pl_plays_fini(&tmp);
            return pw_err_set(err, PW_ECORRUPT, "pressure: session %" PRIu64
                              " twice in the state", p.session);
        }
        *(md_pressure_play_t *)pl_plays_take(&tmp, k) = p;
    }
    pl_plays_fini(&s->plays);
    s->plays = tmp;
    s->plays.last = 0;
    op->cnt.keys = n;
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_pressure_def = {
    .name = "pressure",
    .desc = "Pass-rush pressure alert on football tracking: per defender the probability of "
            "reaching the QB within 1.5 s, the play's pressure probability and one alert per "
            "rush.",
    .conf = &pl_pressure_conf_section,
    .conf_size = sizeof(pl_pressure_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "frames (a session holds one play or a whole game of plays)",
    .output_desc = "results: topic pressure, key game/<session>",
    .check = pr_check, .init = pr_init, .process = pr_process, .snapshot = pr_snapshot,
    .restore = pr_restore, .close = pr_close,
};
