/*
 * pl_graph: the operator graph built from the `pipeline` section and
 * checked before anything runs.
 *
 * Building resolves every node's operator and inputs, orders the nodes so
 * that each comes after its inputs, and asks each operator to check the
 * types of what feeds it. Every mistake is reported with the file and line
 * of the node: an operator key missing or doubled, an unknown input or
 * port, a cycle, a type mismatch ("window needs keyed points"). The graph
 * is immutable once built and shared by every worker.
 */
#ifndef PL_GRAPH_H
#define PL_GRAPH_H

#include <stdint.h>

#include "core/pw_error.h"
#include "pipeline/pl_conf.h"

/* What feeds one input of a node: a source, or a node's output port. */
typedef struct pl_graph_input {
    int source; /* source index, or -1 */
    int node;   /* node index (topological order), or -1 */
    int port;
} pl_graph_input_t;

/* Where a batch goes: node `node`, as its input number `input`. */
typedef struct pl_graph_edge {
    int node;
    int input;
} pl_graph_edge_t;

typedef struct pl_graph_node {
    const pl_node_conf_t *conf;
    const pl_op_def_t *def;
    const void *op_conf;                    /* the operator's section */
    int line;                               /* the node's line, or 0 */
    int nin;
    pl_graph_input_t in[PL_OP_INPUTS];
    pl_port_type_t in_type[PL_OP_INPUTS];
    pl_port_type_t out_type[PL_OP_PORTS];
    int nchild[PL_OP_PORTS];
    pl_graph_edge_t *child[PL_OP_PORTS];    /* [nchild[p]] */
} pl_graph_node_t;

typedef struct pl_graph {
    const pl_conf_t *conf;                  /* borrowed */
    const char *path;                       /* for messages; borrowed */
    int nsources;
    int *nsrc_child;                        /* [nsources] */
    pl_graph_edge_t **src_child;            /* [nsources][nsrc_child[s]] */
    int nnodes;
    pl_graph_node_t *nodes;                 /* topological order */
    uint64_t hash;                          /* of everything that shapes state */
} pl_graph_t;

/*
 * Build and check the graph of c (borrowed until destroy; path names the
 * file in messages, e.g. "conf/pitwall.yaml"). Returns 0 with *out owned
 * by the caller, or PW_ECONF with "path:line: operator 'x': why" in err,
 * or -ENOMEM.
 */
int pl_graph_build(const pl_conf_t *c, const char *path, pl_graph_t **out,
                   pw_err_t *err);

void pl_graph_destroy(pl_graph_t *g);

#endif
