/*
 * pl_frame_points: tracking frames into points (fields, distance run,
 * event markers). See pl_frame_points.h.
 *
 * Snapshot (format 1, little-endian): u32 version, u32 n, then n entities
 * {u32 id, u64 session, i64 ts_ns, f32 x, f32 y}.
 */
#include "pipeline/pl_frame_points.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_time.h"

static const pw_conf_key_t fp_keys[] = {
    {.name = "fields", .type = PW_CONF_STRLIST,
     .offset = offsetof(pl_frame_points_conf_t, fields),
     .count_offset = offsetof(pl_frame_points_conf_t, nfields), .def = "[speed, dist]",
     .desc = "a point per object for each of: x, y, speed, orientation, direction, dist "
             "(distance moved since the entity's previous frame)"},
    {.name = "prefix", .type = PW_CONF_STRING,
     .offset = offsetof(pl_frame_points_conf_t, prefix),
     .desc = "prefix of the field channels' names (prefix p_ gives p_speed)"},
    {.name = "teams", .type = PW_CONF_STRLIST,
     .offset = offsetof(pl_frame_points_conf_t, teams),
     .count_offset = offsetof(pl_frame_points_conf_t, nteams),
     .def = "[home, away, ball, unknown]",
     .desc = "objects of these teams: home, away, ball, unknown"},
    {.name = "labels", .type = PW_CONF_STRING,
     .offset = offsetof(pl_frame_points_conf_t, labels), .def = "event",
     .desc = "channel of event markers: per event label of a frame, a point per object "
             "(value = label id) before the frame's fields; empty = none"},
    {.name = "max_gap", .type = PW_CONF_DURATION_MS,
     .offset = offsetof(pl_frame_points_conf_t, max_gap_ms), .def = "1s", .min = "0ms",
     .max = "1h",
     .desc = "dist: after a longer gap in an entity's frames it starts again at 0"},
};

const pw_conf_section_t pl_frame_points_conf_section = {
    .name = "frame_points",
    .desc = "tracking frames into points",
    .keys = fp_keys,
    .nkeys = PW_CONF_NKEYS(fp_keys),
};

enum { F_X, F_Y, F_SPEED, F_ORIENTATION, F_DIRECTION, F_DIST, F_COUNT };
static const char *const field_names[F_COUNT] = {"x", "y", "speed", "orientation",
                                                 "direction", "dist"};

enum { T_HOME = 1, T_AWAY = 2, T_BALL = 4, T_UNKNOWN = 8 };

#define SNAP_VERSION 1u

/* The last position of an entity; ts_ns == NONE means none. */
typedef struct ent {
    uint64_t session;
    int64_t ts_ns;
    float x, y;
} ent_t;

#define NONE INT64_MIN

typedef struct fp {
    int nf;
    uint8_t field[F_COUNT];
    uint32_t ch[F_COUNT];   /* channel of each field */
    uint32_t label_ch;      /* 0 = no markers */
    uint8_t team_ok[256];   /* by pw_team code */
    bool dist;
    int64_t max_gap_ns;
    ent_t *ent;             /* [cap] by entity id */
    size_t cap;
} fp_t;

/* What the configuration means, checked. */
typedef struct parsed {
    int nf;
    uint8_t field[F_COUNT];
    int teams;
} parsed_t;

static const char *kind_name(enum pl_kind k)
{
    return k == PL_POINTS ? "points" : k == PL_FRAMES ? "frames" : "results";
}

static bool has_labels(const pl_frame_points_conf_t *c)
{
    return c->labels != NULL && c->labels[0] != '\0';
}

static int parse_conf(const pl_frame_points_conf_t *c, parsed_t *p, pw_err_t *err)
{
    memset(p, 0, sizeof *p);
    for (size_t k = 0; k < c->nfields; k++) {
        const char *s = c->fields[k] ? c->fields[k] : "";
        int f = 0;
        while (f < F_COUNT && strcmp(s, field_names[f]))
            f++;
        if (f == F_COUNT)
            return pw_err_set(err, PW_ECONF, "frame_points: fields: '%s' is not one of x, y, "
                              "speed, orientation, direction, dist", s);
        for (int j = 0; j < p->nf; j++)
            if (p->field[j] == f)
                return pw_err_set(err, PW_ECONF, "frame_points: fields: '%s' is given twice",
                                  s);
        p->field[p->nf++] = (uint8_t)f;
    }
    for (size_t k = 0; k < c->nteams; k++) {
        const char *s = c->teams[k] ? c->teams[k] : "";
        int t = !strcmp(s, "home") ? T_HOME : !strcmp(s, "away") ? T_AWAY
                : !strcmp(s, "ball") ? T_BALL : !strcmp(s, "unknown") ? T_UNKNOWN : 0;
        if (t == 0)
            return pw_err_set(err, PW_ECONF, "frame_points: teams: '%s' is not one of home, "
                              "away, ball, unknown", s);
        p->teams |= t;
    }
    if (p->teams == 0)
        return pw_err_set(err, PW_ECONF, "frame_points: teams is empty: no object would be "
                          "kept");
    if (p->nf == 0 && !has_labels(c))
        return pw_err_set(err, PW_ECONF, "frame_points: fields and labels are both empty: "
                          "nothing to emit");
    size_t plen = c->prefix ? strlen(c->prefix) : 0;
    if (plen + sizeof "orientation" > PW_INTERN_NAME_MAX)
        return pw_err_set(err, PW_ECONF, "frame_points: prefix is too long");
    return 0;
}

static int fp_check(const void *conf, const pl_port_type_t *in, int nin,
                    pl_port_type_t *out, pw_err_t *err)
{
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "frame_points: takes 1 input, not %d", nin);
    if (in[0].kind != PL_FRAMES)
        return pw_err_set(err, PW_ECONF, "frame_points: input 1 carries %s; frame_points "
                          "takes frames", kind_name(in[0].kind));
    parsed_t p;
    int rc = parse_conf(conf, &p, err);
    if (rc)
        return rc;
    out[0].kind = PL_POINTS;
    out[0].keyed = false;
    return 0;
}

static void fp_close(pl_op_t *op)
{
    fp_t *s = op->state;
    if (s == NULL)
        return;
    free(s->ent);
    free(s);
    op->state = NULL;
}

static int fp_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_frame_points_conf_t *c = conf;
    parsed_t p;
    int rc = parse_conf(c, &p, err);
    if (rc)
        return rc;
    if (!setup->names || !setup->names->channels)
        return pw_err_set(err, PW_EARG, "frame_points: no channel table");
    fp_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "frame_points: out of memory");
    op->state = s;
    s->nf = p.nf;
    memcpy(s->field, p.field, sizeof s->field);
    s->max_gap_ns = c->max_gap_ms * PW_NS_PER_MS;
    const char *prefix = c->prefix ? c->prefix : "";
    for (int k = 0; k < s->nf; k++) {
        char name[PW_INTERN_NAME_MAX + 1];
        int len = snprintf(name, sizeof name, "%s%s", prefix, field_names[s->field[k]]);
        rc = pw_intern_add(setup->names->channels, name, (size_t)len, &s->ch[k]);
        if (rc) {
            fp_close(op);
            return pw_err_set(err, rc, "frame_points: channel '%.200s': %s", name,
                              pw_strerror(rc));
        }
        if (s->field[k] == F_DIST)
            s->dist = true;
    }
    if (has_labels(c) && (rc = pw_intern_add(setup->names->channels, c->labels,
                                             strlen(c->labels), &s->label_ch)) != 0) {
        fp_close(op);
        return pw_err_set(err, rc, "frame_points: labels channel '%.200s': %s", c->labels,
                          pw_strerror(rc));
    }
    for (int t = 0; t < 256; t++) {
        int bit = t == PW_TEAM_HOME ? T_HOME : t == PW_TEAM_AWAY ? T_AWAY
                  : t == PW_TEAM_BALL ? T_BALL : T_UNKNOWN;
        s->team_ok[t] = (p.teams & bit) != 0;
    }
    return 0;
}

/* Make the state array hold entity id e. 0 or -ENOMEM. */
static int grow_ent(fp_t *s, uint32_t e)
{
    size_t cap = s->cap ? s->cap : 256;
    while (cap <= e)
        cap *= 2;
    ent_t *n = realloc(s->ent, cap * sizeof *n);
    if (n == NULL)
        return -ENOMEM;
    for (size_t i = s->cap; i < cap; i++)
        n[i] = (ent_t){.ts_ns = NONE};
    s->ent = n;
    s->cap = cap;
    return 0;
}

/* Distance moved by entity e to (x, y) at ts in session; updates the state. */
static double step(fp_t *s, pl_op_t *op, uint32_t e, uint64_t session, int64_t ts,
                   float x, float y)
{
    ent_t *p = &s->ent[e];
    if (isnan(x) || isnan(y))
        return NAN;
    bool have = p->ts_ns != NONE;
    if (have && p->session == session) {
        if (ts < p->ts_ns)
            return 0.0; /* older than what we have: leave the state alone */
        if ((uint64_t)ts - (uint64_t)p->ts_ns <= (uint64_t)s->max_gap_ns) {
            double d = hypot((double)x - (double)p->x, (double)y - (double)p->y);
            p->ts_ns = ts;
            p->x = x;
            p->y = y;
            return d;
        }
    }
    if (!have)
        op->cnt.keys++;
    *p = (ent_t){.session = session, .ts_ns = ts, .x = x, .y = y};
    return 0.0;
}

static int fp_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    fp_t *s = op->state;
    pl_batch_t *out = pl_op_port(op, 0);
    const pw_frames_t *f = &in->frames;
    (void)input, (void)ctx;
    if (f->n == 0)
        return 0;
    /* An upper bound of what this batch emits, reserved once. */
    size_t most = 0;
    uint32_t max_e = 0;
    for (size_t i = 0; i < f->n; i++) {
        size_t per = (size_t)s->nf;
        for (int l = 0; s->label_ch && l < PW_FRAME_LABELS; l++)
            per += f->label[i * PW_FRAME_LABELS + l] != PW_LABEL_NONE;
        most += per * f->nobj[i];
        if (s->dist)
            for (size_t o = f->first[i], end = o + f->nobj[i]; o < end; o++)
                if (f->entity[o] > max_e)
                    max_e = f->entity[o];
    }
    pw_points_t *p = &out->pts;
    if (p->n + most > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->n + most)
            cap *= 2;
        if (pw_points_reserve(p, cap))
            return -ENOMEM;
    }
    if (s->dist && max_e >= s->cap && grow_ent(s, max_e))
        return -ENOMEM;
    size_t j = p->n;
    for (size_t i = 0; i < f->n; i++) {
        int64_t ts = f->ts_ns[i];
        size_t o0 = f->first[i], o1 = o0 + f->nobj[i];
        for (int l = 0; s->label_ch && l < PW_FRAME_LABELS; l++) {
            uint32_t lab = f->label[i * PW_FRAME_LABELS + l];
            if (lab == PW_LABEL_NONE)
                continue;
            for (size_t o = o0; o < o1; o++) {
                if (!s->team_ok[f->team[o]])
                    continue;
                p->ts_ns[j] = ts;
                p->entity[j] = f->entity[o];
                p->channel[j] = s->label_ch;
                p->value[j] = (double)lab;
                j++;
            }
        }
        for (size_t o = o0; o < o1; o++) {
            if (!s->team_ok[f->team[o]])
                continue;
            uint32_t e = f->entity[o];
            double dist = s->dist ? step(s, op, e, f->session[i], ts, f->x[o], f->y[o]) : 0.0;
            for (int k = 0; k < s->nf; k++) {
                double v;
                switch (s->field[k]) {
                case F_X: v = f->x[o]; break;
                case F_Y: v = f->y[o]; break;
                case F_SPEED: v = f->speed[o]; break;
                case F_ORIENTATION: v = f->orientation[o]; break;
                case F_DIRECTION: v = f->direction[o]; break;
                default: v = dist; break;
                }
                p->ts_ns[j] = ts;
                p->entity[j] = e;
                p->channel[j] = s->ch[k];
                p->value[j] = v;
                j++;
            }
        }
    }
    p->n = j;
    pl_batch_note_ingest(out, in);
    return 0;
}

static int fp_snapshot(pl_op_t *op, pl_buf_t *b)
{
    fp_t *s = op->state;
    uint32_t n = 0;
    for (size_t e = 0; e < s->cap; e++)
        n += s->ent[e].ts_ns != NONE;
    int rc = pl_buf_put_u32(b, SNAP_VERSION);
    rc |= pl_buf_put_u32(b, n);
    if (rc == 0 && pl_buf_reserve(b, (size_t)n * 32))
        return -ENOMEM;
    for (size_t e = 0; e < s->cap && rc == 0; e++) {
        const ent_t *x = &s->ent[e];
        if (x->ts_ns == NONE)
            continue;
        rc |= pl_buf_put_u32(b, (uint32_t)e);
        rc |= pl_buf_put_u64(b, x->session);
        rc |= pl_buf_put_i64(b, x->ts_ns);
        rc |= pl_buf_put(b, &x->x, sizeof x->x);
        rc |= pl_buf_put(b, &x->y, sizeof x->y);
    }
    return rc ? -ENOMEM : 0;
}

static int fp_restore(pl_op_t *op, pl_rd_t *r, pw_err_t *err)
{
    fp_t *s = op->state;
    uint32_t version = 0, n = 0;
    if (pl_rd_left(r) == 0)
        return 0; /* no state was kept */
    pl_rd_u32(r, &version);
    pl_rd_u32(r, &n);
    if (r->failed || version != SNAP_VERSION)
        return pw_err_set(err, PW_ECORRUPT, "frame_points: state of format %u, expected %u",
                          version, SNAP_VERSION);
    if ((size_t)n > pl_rd_left(r) / 28)
        return pw_err_set(err, PW_ECORRUPT, "frame_points: state of %u entities is truncated",
                          n);
    for (size_t e = 0; e < s->cap; e++)
        s->ent[e] = (ent_t){.ts_ns = NONE};
    op->cnt.keys = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t id;
        ent_t x;
        pl_rd_u32(r, &id);
        pl_rd_u64(r, &x.session);
        pl_rd_i64(r, &x.ts_ns);
        pl_rd_get(r, &x.x, sizeof x.x);
        pl_rd_get(r, &x.y, sizeof x.y);
        if (r->failed || id > PW_INTERN_MAX_NAMES || x.ts_ns == NONE)
            return pw_err_set(err, PW_ECORRUPT, "frame_points: entity %u of the state is "
                              "malformed", k);
        if (id >= s->cap && grow_ent(s, id))
            return pw_err_set(err, -ENOMEM, "frame_points: out of memory");
        if (s->ent[id].ts_ns == NONE)
            op->cnt.keys++;
        s->ent[id] = x;
    }
    if (pl_rd_left(r) != 0)
        return pw_err_set(err, PW_ECORRUPT, "frame_points: %zu bytes after the state",
                          pl_rd_left(r));
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_frame_points_def = {
    .name = "frame_points",
    .desc = "Turn tracking frames into points per object (position, speed, angles, "
            "distance run) with event markers before each labelled frame.",
    .conf = &pl_frame_points_conf_section,
    .conf_size = sizeof(pl_frame_points_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "frames",
    .output_desc = "points (not keyed)",
    .check = fp_check, .init = fp_init, .process = fp_process,
    .snapshot = fp_snapshot, .restore = fp_restore, .close = fp_close,
};
