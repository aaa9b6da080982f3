/*
 * pl_key_by: key points by entity and/or channel, frames by session. See
 * pl_key_by.h.
 */
#include "pipeline/pl_key_by.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const pw_conf_key_t key_by_keys[] = {
    {.name = "by", .type = PW_CONF_STRLIST, .offset = offsetof(pl_key_by_conf_t, by),
     .count_offset = offsetof(pl_key_by_conf_t, nby),
     .desc = "required: what the key is made of: entity and/or channel for points, "
             "session for frames"},
};

const pw_conf_section_t pl_key_by_conf_section = {
    .name = "key_by",
    .desc = "key points or frames",
    .keys = key_by_keys,
    .nkeys = PW_CONF_NKEYS(key_by_keys),
};

enum { BY_ENTITY = 1, BY_CHANNEL = 2, BY_SESSION = 4 };

static const char *kind_name(enum pl_kind k)
{
    return k == PL_POINTS ? "points" : k == PL_FRAMES ? "frames" : "results";
}

/* The BY_* set `by` names for input kind, or an error. */
static int parse_by(const pl_key_by_conf_t *c, enum pl_kind kind, int *out, pw_err_t *err)
{
    int set = 0;
    if (c->nby == 0)
        return pw_err_set(err, PW_ECONF, "key_by: by is empty; give entity and/or channel "
                          "(points) or session (frames)");
    for (size_t k = 0; k < c->nby; k++) {
        const char *s = c->by[k] ? c->by[k] : "";
        int bit = !strcmp(s, "entity") ? BY_ENTITY : !strcmp(s, "channel") ? BY_CHANNEL
                  : !strcmp(s, "session") ? BY_SESSION : 0;
        if (bit == 0)
            return pw_err_set(err, PW_ECONF, "key_by: by: '%s' is not one of entity, channel, "
                              "session", s);
        if (set & bit)
            return pw_err_set(err, PW_ECONF, "key_by: by: '%s' is given twice", s);
        set |= bit;
    }
    if (kind == PL_POINTS && (set & BY_SESSION))
        return pw_err_set(err, PW_ECONF, "key_by: by: points have no session; key them by "
                          "entity and/or channel");
    if (kind == PL_FRAMES && set != BY_SESSION)
        return pw_err_set(err, PW_ECONF, "key_by: by: frames are keyed by session only, not "
                          "by %s", (set & BY_ENTITY) ? "entity" : "channel");
    *out = set;
    return 0;
}

static int key_by_check(const void *conf, const pl_port_type_t *in, int nin,
                        pl_port_type_t *out, pw_err_t *err)
{
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "key_by: takes 1 input, not %d", nin);
    if (in[0].kind != PL_POINTS && in[0].kind != PL_FRAMES)
        return pw_err_set(err, PW_ECONF, "key_by: input 1 carries %s; key_by takes points or "
                          "frames", kind_name(in[0].kind));
    int set;
    int rc = parse_by(conf, in[0].kind, &set, err);
    if (rc)
        return rc;
    out[0].kind = in[0].kind;
    out[0].keyed = true;
    return 0;
}

typedef struct key_by {
    uint64_t mask; /* points: the key bits kept of (entity << 32 | channel) */
} key_by_t;

static int key_by_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    if (setup->nin != 1 || (setup->in[0].kind != PL_POINTS && setup->in[0].kind != PL_FRAMES))
        return pw_err_set(err, PW_EARG, "key_by: takes one input of points or frames");
    int set;
    int rc = parse_by(conf, setup->in[0].kind, &set, err);
    if (rc)
        return rc;
    key_by_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "key_by: out of memory");
    s->mask = ((set & BY_ENTITY) ? 0xffffffff00000000ull : 0) |
              ((set & BY_CHANNEL) ? 0x00000000ffffffffull : 0);
    op->state = s;
    return 0;
}

static void key_by_close(pl_op_t *op)
{
    free(op->state);
    op->state = NULL;
}

static int key_points(const key_by_t *s, pl_batch_t *out, const pl_batch_t *in)
{
    const pw_points_t *p = &in->pts;
    pw_points_t *o = &out->pts;
    size_t n = p->n, at = o->n;
    if (at + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < at + n)
            cap *= 2;
        if (pw_points_reserve(o, cap))
            return -ENOMEM;
    }
    if (pl_batch_reserve_keys(out, o->cap))
        return -ENOMEM;
    memcpy(o->ts_ns + at, p->ts_ns, n * sizeof *p->ts_ns);
    memcpy(o->entity + at, p->entity, n * sizeof *p->entity);
    memcpy(o->channel + at, p->channel, n * sizeof *p->channel);
    memcpy(o->value + at, p->value, n * sizeof *p->value);
    const uint32_t *restrict e = p->entity, *restrict c = p->channel;
    uint64_t *restrict k = out->key + at;
    uint64_t mask = s->mask;
    for (size_t i = 0; i < n; i++)
        k[i] = (((uint64_t)e[i] << 32) | c[i]) & mask;
    o->n = at + n;
    return 0;
}

static int key_frames(pl_batch_t *out, const pl_batch_t *in)
{
    for (size_t i = 0; i < in->frames.n; i++) {
        if (pl_batch_push_frame(out, in, i))
            return -ENOMEM;
        out->key[out->frames.n - 1] = in->frames.session[i];
    }
    return 0;
}

static int key_by_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    key_by_t *s = op->state;
    pl_batch_t *out = pl_op_port(op, 0);
    (void)input, (void)ctx;
    out->keyed = true;
    int rc = in->kind == PL_POINTS ? key_points(s, out, in) : key_frames(out, in);
    if (rc == 0)
        pl_batch_note_ingest(out, in);
    return rc;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_key_by_def = {
    .name = "key_by",
    .desc = "Key points by entity and/or channel, or frames by session, for the keyed "
            "operators downstream.",
    .conf = &pl_key_by_conf_section,
    .conf_size = sizeof(pl_key_by_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "points or frames",
    .output_desc = "the same records, keyed",
    .check = key_by_check, .init = key_by_init, .process = key_by_process,
    .close = key_by_close,
};
