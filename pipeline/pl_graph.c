/*
 * pl_graph: resolve, order and type-check the configured graph.
 */
#include "pipeline/pl_graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_stream.h"
#include "pipeline/pl_ops.h"

/* "path:line: " or "path: " into buf. */
static const char *where(const pl_graph_t *g, int line, char *buf, size_t len)
{
    if (line > 0)
        snprintf(buf, len, "%s:%d: ", g->path, line);
    else
        snprintf(buf, len, "%s: ", g->path);
    return buf;
}

static int find_source(const pl_conf_t *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->nsources; i++)
        if (c->sources[i].name && strlen(c->sources[i].name) == len &&
            !memcmp(c->sources[i].name, name, len))
            return (int)i;
    return -1;
}

static int find_node(const pl_conf_t *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->noperators; i++)
        if (c->operators[i].name && strlen(c->operators[i].name) == len &&
            !memcmp(c->operators[i].name, name, len))
            return (int)i;
    return -1;
}

/* Names of every source and node, for "expected one of". */
static void names_text(const pl_conf_t *c, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nsources + c->noperators && off < len; i++) {
        const char *n = i < c->nsources ? c->sources[i].name
                                        : c->operators[i - c->nsources].name;
        int w = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", n ? n : "?");
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* FNV-1a, 64 bit. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Hash of what shapes the state and the offsets: sources and nodes as text. */
static int graph_hash(const pl_conf_t *c, uint64_t *out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < c->nsources; i++)
        fprintf(f, "source %s %s %d\n", c->sources[i].name, c->sources[i].topic,
                c->sources[i].kind);
    for (size_t i = 0; i < c->noperators; i++)
        pw_conf_dump(f, &pl_node_conf_section, &c->operators[i]);
    if (fclose(f) != 0) {
        free(text);
        return -ENOMEM;
    }
    *out = fnv(0xcbf29ce484222325ull, text, len);
    free(text);
    return 0;
}

void pl_graph_destroy(pl_graph_t *g)
{
    if (g == NULL)
        return;
    for (int i = 0; i < g->nnodes; i++)
        for (int p = 0; p < PL_OP_PORTS; p++)
            free(g->nodes[i].child[p]);
    for (int s = 0; s < g->nsources; s++)
        free(g->src_child ? g->src_child[s] : NULL);
    free(g->src_child);
    free(g->nsrc_child);
    free(g->nodes);
    free(g);
}

/* Append edge e to the list *list of *n. */
static int edge_add(pl_graph_edge_t **list, int *n, pl_graph_edge_t e)
{
    pl_graph_edge_t *l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (l == NULL)
        return -ENOMEM;
    l[(*n)++] = e;
    *list = l;
    return 0;
}

/* One node: its operator and its inputs (by configuration index). */
typedef struct raw_node {
    const pl_op_row_t *row;
    int nin;
    int in_src[PL_OP_INPUTS];  /* source index or -1 */
    int in_node[PL_OP_INPUTS]; /* configuration index or -1 */
    int in_port[PL_OP_INPUTS];
} raw_node_t;

static int resolve(pl_graph_t *g, const pl_conf_t *c, raw_node_t *raw, pw_err_t *err)
{
    char at[300], names[256];
    for (size_t i = 0; i < c->nsources; i++) {
        const pl_source_conf_t *s = &c->sources[i];
        where(g, s->line, at, sizeof at);
        if (s->name == NULL || !s->name[0])
            return pw_err_set(err, PW_ECONF, "%ssource %zu has no name", at, i + 1);
        if (s->topic == NULL || pw_stream_topic_check(s->topic, err) != 0)
            return pw_err_set(err, PW_ECONF, "%ssource '%s': topic %s", at, s->name,
                              s->topic ? "is not a valid topic name" : "is missing");
        if (find_source(c, s->name, strlen(s->name)) != (int)i)
            return pw_err_set(err, PW_ECONF, "%ssource '%s' is defined twice", at, s->name);
    }
    for (size_t i = 0; i < c->noperators; i++) {
        const pl_node_conf_t *n = &c->operators[i];
        raw_node_t *r = &raw[i];
        where(g, n->line, at, sizeof at);
        if (n->name == NULL || !n->name[0])
            return pw_err_set(err, PW_ECONF, "%soperator %zu has no name", at, i + 1);
        if (find_source(c, n->name, strlen(n->name)) >= 0 ||
            find_node(c, n->name, strlen(n->name)) != (int)i)
            return pw_err_set(err, PW_ECONF, "%sthe name '%s' is used twice", at, n->name);
        int count = 0;
        char ops[256] = "";
        for (size_t k = 0; k < pl_op_count; k++) {
            int line = *(const int *)((const char *)n + pl_op_table[k].line_offset);
            size_t o = strlen(ops);
            snprintf(ops + o, sizeof ops - o, "%s%s", o ? ", " : "", pl_op_table[k].def->name);
            if (line) {
                count++;
                r->row = &pl_op_table[k];
            }
        }
        if (count == 0)
            return pw_err_set(err, PW_ECONF,
                              "%soperator '%s' names no operator (give one key of: %s)", at,
                              n->name, ops);
        if (count > 1)
            return pw_err_set(err, PW_ECONF,
                              "%soperator '%s' names %d operators; a node runs exactly one",
                              at, n->name, count);
        const pl_op_def_t *d = r->row->def;
        if ((int)n->ninput < d->min_inputs || (int)n->ninput > d->max_inputs) {
            if (d->min_inputs == d->max_inputs)
                return pw_err_set(err, PW_ECONF, "%soperator '%s': %s takes %d input%s, got %zu",
                                  at, n->name, d->name, d->min_inputs,
                                  d->min_inputs == 1 ? "" : "s", n->ninput);
            return pw_err_set(err, PW_ECONF, "%soperator '%s': %s takes %d to %d inputs, got %zu",
                              at, n->name, d->name, d->min_inputs, d->max_inputs, n->ninput);
        }
        r->nin = (int)n->ninput;
        for (size_t k = 0; k < n->ninput; k++) {
            const char *in = n->input[k];
            const char *dot = strchr(in, '.');
            size_t len = dot ? (size_t)(dot - in) : strlen(in);
            r->in_src[k] = find_source(c, in, len);
            r->in_node[k] = r->in_src[k] >= 0 ? -1 : find_node(c, in, len);
            r->in_port[k] = 0;
            if (r->in_src[k] < 0 && r->in_node[k] < 0) {
                names_text(c, names, sizeof names);
                return pw_err_set(err, PW_ECONF,
                                  "%soperator '%s': unknown input '%.*s' (sources and operators: %s)",
                                  at, n->name, (int)len, in, names);
            }
            if (dot && r->in_src[k] >= 0)
                return pw_err_set(err, PW_ECONF, "%soperator '%s': source '%.*s' has no ports",
                                  at, n->name, (int)len, in);
            if (dot) {
                /* The upstream row may not be resolved yet: look it up here. */
                const pl_op_row_t *up = pl_ops_of(&c->operators[r->in_node[k]]);
                int port = -1;
                for (int p = 0; up && p < up->def->nports; p++)
                    if (!strcmp(up->def->port_names[p], dot + 1))
                        port = p;
                if (port < 0)
                    return pw_err_set(err, PW_ECONF,
                                      "%soperator '%s': input '%s': '%.*s' has no port '%s'",
                                      at, n->name, in, (int)len, in, dot + 1);
                r->in_port[k] = port;
            }
            if (r->in_node[k] == (int)i)
                return pw_err_set(err, PW_ECONF, "%soperator '%s' is its own input", at, n->name);
        }
    }
    return 0;
}

int pl_graph_build(const pl_conf_t *c, const char *path, pl_graph_t **out, pw_err_t *err)
{
    pl_graph_t *g = calloc(1, sizeof *g);
    raw_node_t *raw = calloc(c->noperators + 1, sizeof *raw);
    int *order = calloc(c->noperators + 1, sizeof *order);
    int *pos = calloc(c->noperators + 1, sizeof *pos);
    int *done = calloc(c->noperators + 1, sizeof *done);
    int rc = -ENOMEM;
    char at[300];
    if (!g || !raw || !order || !pos || !done)
        goto fail;
    g->conf = c;
    g->path = path ? path : "configuration";
    g->nsources = (int)c->nsources;
    if (c->nsources == 0) {
        rc = pw_err_set(err, PW_ECONF, "%spipeline.sources is empty: the graph reads nothing",
                        where(g, 0, at, sizeof at));
        goto fail;
    }
    if (c->noperators == 0) {
        rc = pw_err_set(err, PW_ECONF, "%spipeline.operators is empty: the graph does nothing",
                        where(g, 0, at, sizeof at));
        goto fail;
    }
    if ((rc = resolve(g, c, raw, err)) != 0)
        goto fail;
    /* Order: repeatedly take a node whose node inputs are all placed. */
    int placed = 0;
    while (placed < (int)c->noperators) {
        int progress = 0;
        for (int i = 0; i < (int)c->noperators; i++) {
            if (done[i])
                continue;
            int ready = 1;
            for (int k = 0; k < raw[i].nin; k++)
                if (raw[i].in_node[k] >= 0 && !done[raw[i].in_node[k]])
                    ready = 0;
            if (ready) {
                done[i] = 1;
                pos[i] = placed;
                order[placed++] = i;
                progress = 1;
            }
        }
        if (!progress) {
            char cyc[256] = "";
            int first = -1;
            for (int i = 0; i < (int)c->noperators; i++) {
                if (done[i])
                    continue;
                if (first < 0)
                    first = i;
                size_t o = strlen(cyc);
                snprintf(cyc + o, sizeof cyc - o, "%s'%s'", o ? ", " : "", c->operators[i].name);
            }
            rc = pw_err_set(err, PW_ECONF, "%soperators feed each other in a cycle: %s",
                            where(g, c->operators[first].line, at, sizeof at), cyc);
            goto fail;
        }
    }
    g->nnodes = (int)c->noperators;
    g->nodes = calloc((size_t)g->nnodes, sizeof *g->nodes);
    g->nsrc_child = calloc((size_t)g->nsources, sizeof *g->nsrc_child);
    g->src_child = calloc((size_t)g->nsources, sizeof *g->src_child);
    rc = -ENOMEM;
    if (!g->nodes || !g->nsrc_child || !g->src_child)
        goto fail;
    for (int j = 0; j < g->nnodes; j++) {
        int i = order[j];
        const pl_node_conf_t *n = &c->operators[i];
        pl_graph_node_t *gn = &g->nodes[j];
        gn->conf = n;
        gn->def = raw[i].row->def;
        gn->op_conf = (const char *)n + raw[i].row->conf_offset;
        gn->line = n->line;
        gn->nin = raw[i].nin;
        for (int k = 0; k < gn->nin; k++) {
            pl_graph_input_t *in = &gn->in[k];
            pl_graph_edge_t e = {j, k};
            in->source = raw[i].in_src[k];
            in->node = in->source >= 0 ? -1 : pos[raw[i].in_node[k]];
            in->port = raw[i].in_port[k];
            if (in->source >= 0) {
                const pl_source_conf_t *s = &c->sources[in->source];
                gn->in_type[k].kind = s->kind == PL_SOURCE_FRAMES ? PL_FRAMES : PL_POINTS;
                gn->in_type[k].keyed = false;
                if (edge_add(&g->src_child[in->source], &g->nsrc_child[in->source], e))
                    goto fail;
            } else {
                pl_graph_node_t *up = &g->nodes[in->node];
                gn->in_type[k] = up->out_type[in->port];
                if (edge_add(&up->child[in->port], &up->nchild[in->port], e))
                    goto fail;
            }
        }
        pw_err_t e2 = {0};
        if (gn->def->check(gn->op_conf, gn->in_type, gn->nin, gn->out_type, &e2) != 0) {
            rc = pw_err_set(err, PW_ECONF, "%soperator '%s': %s",
                            where(g, n->line, at, sizeof at), n->name, e2.msg);
            goto fail;
        }
    }
    if ((rc = graph_hash(c, &g->hash)) != 0)
        goto fail;
    free(raw);
    free(order);
    free(pos);
    free(done);
    *out = g;
    return 0;
fail:
    if (rc == -ENOMEM && err && !err->msg[0])
        pw_err_set(err, -ENOMEM, "out of memory building the graph");
    free(raw);
    free(order);
    free(pos);
    free(done);
    pl_graph_destroy(g);
    return rc;
}
