/*
 * pl_filter: keep the points that pass channels, entities, drop_nan and
 * where. See pl_filter.h.
 */
#include "pipeline/pl_filter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pl_expr.h"
#include "pipeline/pl_match.h"

static const pw_conf_key_t filter_keys[] = {
    {.name = "channels", .type = PW_CONF_STRLIST,
     .offset = offsetof(pl_filter_conf_t, channels),
     .count_offset = offsetof(pl_filter_conf_t, nchannels),
     .desc = "keep only points of these channels (a trailing * matches a prefix: "
             "tyre_*); empty keeps every channel"},
    {.name = "entities", .type = PW_CONF_STRLIST,
     .offset = offsetof(pl_filter_conf_t, entities),
     .count_offset = offsetof(pl_filter_conf_t, nentities),
     .desc = "keep only points of these entities (car/* matches every car); empty keeps "
             "every entity"},
    {.name = "where", .type = PW_CONF_STRING, .offset = offsetof(pl_filter_conf_t, where),
     .desc = "expression of value and t (seconds), e.g. 'value > 0 && value < 400'; keep "
             "points where it is non-zero and not NaN; empty keeps all"},
    {.name = "drop_nan", .type = PW_CONF_BOOL, .offset = offsetof(pl_filter_conf_t, drop_nan),
     .def = "true", .desc = "drop points whose value is NaN (counted as dropped)"},
};

const pw_conf_section_t pl_filter_conf_section = {
    .name = "filter",
    .desc = "keep the points that pass",
    .keys = filter_keys,
    .nkeys = PW_CONF_NKEYS(filter_keys),
};

/* ---- the operator ----------------------------------------------------------- */

typedef struct filter {
    pl_match_t ch, ent;
    pl_expr_t where;
    bool has_where;
    bool drop_nan;
} filter_t;

static const char *kind_name(enum pl_kind k)
{
    return k == PL_POINTS ? "points" : k == PL_FRAMES ? "frames" : "results";
}

static bool has_where(const pl_filter_conf_t *c)
{
    return c->where != NULL && c->where[0] != '\0';
}

static int filter_check(const void *conf, const pl_port_type_t *in, int nin,
                        pl_port_type_t *out, pw_err_t *err)
{
    const pl_filter_conf_t *c = conf;
    if (nin != 1)
        return pw_err_set(err, PW_ECONF, "filter: takes 1 input, not %d", nin);
    if (in[0].kind != PL_POINTS)
        return pw_err_set(err, PW_ECONF, "filter: input 1 carries %s; filter takes points",
                          kind_name(in[0].kind));
    int rc = pl_match_check("filter", "channels", c->channels, c->nchannels, err);
    if (rc == 0)
        rc = pl_match_check("filter", "entities", c->entities, c->nentities, err);
    if (rc)
        return rc;
    if (has_where(c)) {
        pl_expr_t e;
        if ((rc = pl_expr_compile(c->where, &e, err)) != 0)
            return pw_err_prefix(err, rc, "filter: where: ");
        pl_expr_fini(&e);
    }
    out[0] = in[0];
    return 0;
}

static void filter_close(pl_op_t *op)
{
    filter_t *f = op->state;
    if (f == NULL)
        return;
    pl_match_fini(&f->ch);
    pl_match_fini(&f->ent);
    pl_expr_fini(&f->where);
    free(f);
    op->state = NULL;
}

static int filter_init(pl_op_t *op, const void *conf, const pl_setup_t *setup, pw_err_t *err)
{
    const pl_filter_conf_t *c = conf;
    int rc = pl_match_check("filter", "channels", c->channels, c->nchannels, err);
    if (rc == 0)
        rc = pl_match_check("filter", "entities", c->entities, c->nentities, err);
    if (rc)
        return rc;
    if ((c->nchannels && (!setup->names || !setup->names->channels)) ||
        (c->nentities && (!setup->names || !setup->names->entities)))
        return pw_err_set(err, PW_EARG, "filter: no name tables to match names in");
    filter_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return pw_err_set(err, -ENOMEM, "filter: out of memory");
    op->state = f;
    f->drop_nan = c->drop_nan;
    if (pl_match_init(&f->ch, c->channels, c->nchannels,
                   c->nchannels ? setup->names->channels : NULL) ||
        pl_match_init(&f->ent, c->entities, c->nentities,
                   c->nentities ? setup->names->entities : NULL)) {
        filter_close(op);
        return pw_err_set(err, -ENOMEM, "filter: out of memory");
    }
    if (has_where(c)) {
        if ((rc = pl_expr_compile(c->where, &f->where, err)) != 0) {
            filter_close(op);
            return pw_err_prefix(err, rc, "filter: where: ");
        }
        f->has_where = true;
    }
    return 0;
}

static int filter_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    filter_t *f = op->state;
    pl_batch_t *out = pl_op_port(op, 0);
    const pw_points_t *p = &in->pts;
    (void)input, (void)ctx;
    if (p->n == 0)
        return 0;
    if (pl_batch_reserve_points(out, p->n))
        return -ENOMEM;
    pw_points_t *o = &out->pts;
    size_t j = o->n;
    bool keyed = out->keyed, in_keyed = in->keyed;
    for (size_t i = 0; i < p->n; i++) {
        int r = pl_match_id(&f->ch, p->channel[i]);
        if (r > 0)
            r = pl_match_id(&f->ent, p->entity[i]);
        if (r <= 0) {
            if (r < 0)
                return r;
            continue;
        }
        double v = p->value[i];
        if (isnan(v) && f->drop_nan) {
            op->cnt.dropped++;
            continue;
        }
        if (f->has_where) {
            double ts = f->where.uses_t ? (double)p->ts_ns[i] * 1e-9 : 0.0;
            if (!pl_expr_true(pl_expr_eval(&f->where, v, ts)))
                continue;
        }
        o->ts_ns[j] = p->ts_ns[i];
        o->entity[j] = p->entity[i];
        o->channel[j] = p->channel[i];
        o->value[j] = v;
        if (keyed)
            out->key[j] = in_keyed ? in->key[i] : 0;
        j++;
    }
    o->n = j;
    pl_batch_note_ingest(out, in);
    return 0;
}

static const char *const port_names[] = {"out"};

const pl_op_def_t pl_filter_def = {
    .name = "filter",
    .desc = "Keep the points of some channels and entities whose value passes an "
            "expression; drop NaN values.",
    .conf = &pl_filter_conf_section,
    .conf_size = sizeof(pl_filter_conf_t),
    .min_inputs = 1, .max_inputs = 1,
    .nports = 1, .port_names = port_names,
    .input_desc = "points (keyed or not)",
    .output_desc = "points, of the input's type",
    .check = filter_check, .init = filter_init, .process = filter_process,
    .close = filter_close,
};
