/*
 * pl_compute: a value derived from an expression. See pl_compute.h.
 */
#include "pipeline/pl_compute.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pl_expr.h"
#include "pipeline/pl_match.h"

static const pw_conf_key_t compute_keys[] = {
    {.name = "expr", .type = PW_CONF_STRING, .offset = offsetof(pl_compute_conf_t, expr),
     .desc = "required: expression of value and t (seconds), e.g. 'value * 3.6'"},
    {.name = "from", .type = PW_CONF_STRLIST, .offset = offsetof(pl_compute_conf_t, from),
     .count_offset = offsetof(pl_compute_conf_t, nfrom),
     .desc = "channels to compute from (a trailing * matches a prefix); empty = every "
             "point; other points pass through unchanged"},
    {.name = "channel", .type = PW_CONF_STRING, .offset = offsetof(pl_compute_conf_t, channel),
     .desc = "channel of the computed points; empty = the input point's channel"},
    {.name = "keep", .type = PW_CONF_BOOL, .offset = offsetof(pl_compute_conf_t, keep),
     .def = "false",
     .desc = "also pass the input point through, before the computed one (needs channel); "
             "false: the computed point replaces it"},
};

const pw_conf_section_t pl_compute_conf_section = {
    .name = "compute",
    .desc = "derive a value from an expression",
    .keys = compute_keys,
    .nkeys = PW_CONF_NKEYS(compute_keys),
};

typedef struct compute {
    pl_expr_t expr;
    pl_match_t from;
    uint32_t channel; /* output channel, 0 = the input's */
    bool keep;
} compute_t;

static const char *kind_name(enum pl_kind k)
{
    return k == PL_POINTS ? "points" : k == PL_FRAMES ? "frames" : "results";
}

static bool has_channel(const pl_compute_conf_t *c)
{
    return c->channel != NULL && c->channel[0] != '\0';
}

/* Everything check and init both refuse. */
static int check_conf(const pl_compute_conf_t *c, pw_err_t *err)
{
    if (c->expr == NULL || c->expr[0] == '\0')
        return pw_err_set(err, PW_ECONF, "compute: expr is missing (e.g. expr: value * 3.6)");
    if (c->keep && !has_channel(c))
        return pw_err_set(err, PW_ECONF, "compute: keep: true needs a channel (the computed "
                          "point would repeat the input's channel)");
    int mrc = pl_match_check("compute", "from", c->from, c->nfrom, err);
    if (mrc)
        return mrc;
    pl_expr_t e;
    int rc = pl_expr_compile(c->expr, &e, err);
    if (rc)
        return pw_err_prefix(err, rc, "compute: expr: ");
    pl_expr_fini(&e);
    return 0;
}

static int compute_check(const void *conf, const pl_port_type_t *in, int nin,
                         pl_port_type_t *out, pw_err_t *err)
{
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "compute: takes 1 input, not %d", nin);
    if (in[0].kind != PL_POINTS)
        return pw_err_set(err, PW_ECONF, "compute: input 1 carries %s; compute takes points",
                          kind_name(in[0].kind));
    int rc = check_conf(conf, err);
    if (rc)
        return rc;
    out[0] = in[0];
    return 0;
}

static void compute_close(pl_op_t *op)
{
    compute_t *s = op->state;
    if (s == NULL)
        return;
    pl_expr_fini(&s->expr);
    free(s->from.verdict);
    free(s);
    op->state = NULL;
}

static int compute_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_compute_conf_t *c = conf;
    int rc = check_conf(c, err);
    if (rc)
        return rc;
    if ((c->nfrom || has_channel(c)) && (!setup->names || !setup->names->channels))
        return pw_err_set(err, PW_EARG, "compute: no channel table");
    compute_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return pw_err_set(err, -ENOMEM, "compute: out of memory");
    op->state = s;
    s->keep = c->keep;
    if (has_channel(c) &&
        (rc = pw_intern_add(setup->names->channels, c->channel, strlen(c->channel),
                            &s->channel)) != 0) {
        compute_close(op);
        return pw_err_set(err, rc, "compute: channel '%s': %s", c->channel, pw_strerror(rc));
    }
    if (pl_match_init(&s->from, c->from, c->nfrom, c->nfrom ? setup->names->channels : NULL)) {
        compute_close(op);
        return pw_err_set(err, -ENOMEM, "compute: out of memory");
    }
    if ((rc = pl_expr_compile(c->expr, &s->expr, err)) != 0) {
        compute_close(op);
        return pw_err_prefix(err, rc, "compute: expr: ");
    }
    return 0;
}

static int compute_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    compute_t *s = op->state;
    pl_batch_t *out = pl_op_port(op, 0);
    const pw_points_t *p = &in->pts;
    (void)input, (void)ctx;
    if (p->n == 0)
        return 0;
    if (pl_batch_reserve_points(out, s->keep ? 2 * p->n : p->n))
        return -ENOMEM;
    pw_points_t *o = &out->pts;
    size_t j = o->n;
    bool keyed = out->keyed, in_keyed = in->keyed, uses_t = s->expr.uses_t;
    for (size_t i = 0; i < p->n; i++) {
        uint64_t key = in_keyed ? in->key[i] : 0;
        int r = pl_match_id(&s->from, p->channel[i]);
        if (r < 0)
            return r;
        if (r == 0 || s->keep) {
            o->ts_ns[j] = p->ts_ns[i];
            o->entity[j] = p->entity[i];
            o->channel[j] = p->channel[i];
            o->value[j] = p->value[i];
            if (keyed)
                out->key[j] = key;
            j++;
            if (r == 0)
                continue;
        }
        double ts = uses_t ? (double)p->ts_ns[i] * 1e-9 : 0.0;
        o->ts_ns[j] = p->ts_ns[i];
        o->entity[j] = p->entity[i];
        o->channel[j] = s->channel ? s->channel : p->channel[i];
        o->value[j] = pl_expr_eval(&s->expr, p->value[i], ts);
        if (keyed)
            out->key[j] = s->channel && PL_KEY_CHANNEL(key)
                              ? PL_KEY(PL_KEY_ENTITY(key), s->channel) : key;
        j++;
    }
    o->n = j;
    pl_batch_note_ingest(out, in);
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_compute_def = {
    .name = "compute",
    .desc = "Emit an expression of each point's value and time, on the same or a new "
            "channel (speed_kph = value * 3.6 from speed_mps).",
    .conf = &pl_compute_conf_section,
    .conf_size = sizeof(pl_compute_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "points (keyed or not)",
    .output_desc = "points, of the input's type",
    .check = compute_check, .init = compute_init, .process = compute_process,
    .close = compute_close,
};
