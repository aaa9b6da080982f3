/*
 * pl_ops: the table of every operator, and the configuration of one node
 * of a graph (an element of `pipeline.operators`).
 *
 * A node is written as its name, its inputs and exactly one operator key
 * whose map holds that operator's keys:
 *
 *   - name: speed_1s
 *     input: [by_car]
 *     window: {type: tumbling, size: 1s, aggregates: [mean, max]}
 *
 * This is also the plug-in point: an operator (the models are operators)
 * joins the graph language by adding a row to the table and its section to
 * pl_node_conf_t. `pitwall ops` prints the table.
 */
#ifndef PL_OPS_H
#define PL_OPS_H

#include <stddef.h>
#include <stdio.h>

#include "pipeline/pl_compute.h"
#include "pipeline/pl_events.h"
#include "pipeline/pl_filter.h"
#include "pipeline/pl_frame_points.h"
#include "pipeline/pl_fuel.h"
#include "pipeline/pl_hockey.h"
#include "pipeline/pl_join.h"
#include "pipeline/pl_key_by.h"
#include "pipeline/pl_op.h"
#include "pipeline/pl_pressure.h"
#include "pipeline/pl_sink.h"
#include "pipeline/pl_window.h"

/* One node of the graph as configured. */
typedef struct pl_node_conf {
    char *name;
    int line;              /* its line in the file (0 when set by --set) */
    char **input;          /* names of its inputs: sources, nodes, "node.port" */
    size_t ninput;
    /* One section per operator; exactly one appears (its line is not 0). */
    pl_filter_conf_t filter;
    int filter_line;
    pl_compute_conf_t compute;
    int compute_line;
    pl_key_by_conf_t key_by;
    int key_by_line;
    pl_window_conf_t window;
    int window_line;
    pl_frame_points_conf_t frame_points;
    int frame_points_line;
    pl_join_conf_t join;
    int join_line;
    pl_fuel_conf_t fuel;
    int fuel_line;
    pl_pressure_conf_t pressure;
    int pressure_line;
    pl_events_conf_t events;
    int events_line;
    pl_hockey_conf_t hockey_events;
    int hockey_events_line;
    pl_sink_store_conf_t store;
    int store_line;
    pl_sink_stream_conf_t stream;
    int stream_line;
    pl_sink_hook_conf_t hook;
    int hook_line;
} pl_node_conf_t;

/* A row of the operator table. */
typedef struct pl_op_row {
    const pl_op_def_t *def;
    size_t conf_offset; /* its section in pl_node_conf_t */
    size_t line_offset; /* its line in pl_node_conf_t */
} pl_op_row_t;

extern const pl_op_row_t pl_op_table[];
extern const size_t pl_op_count;

/* The keys of one node (an element of `pipeline.operators`). */
extern const pw_conf_section_t pl_node_conf_section;

/* The row of the operator a node uses (its one operator key), or NULL. */
const pl_op_row_t *pl_ops_of(const pl_node_conf_t *n);

/* The row named name, or NULL. */
const pl_op_row_t *pl_ops_find(const char *name);

/* Print the table for people (`pitwall ops`): every operator, its inputs,
 * outputs and keys. Returns 0 or -errno. */
int pl_ops_print(FILE *f);

#endif
