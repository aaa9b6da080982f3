/*
 * pl_ops: the operator table and the keys of a graph node.
 */
#include "pipeline/pl_ops.h"

#include <errno.h>
#include <string.h>

#define ROW(def, field) \
    {&(def), offsetof(pl_node_conf_t, field), offsetof(pl_node_conf_t, field##_line)}

const pl_op_row_t pl_op_table[] = {
    ROW(pl_filter_def, filter),
    ROW(pl_compute_def, compute),
    ROW(pl_key_by_def, key_by),
    ROW(pl_window_def, window),
    ROW(pl_frame_points_def, frame_points),
    ROW(pl_join_def, join),
    ROW(pl_fuel_def, fuel),
    ROW(pl_pressure_def, pressure),
    ROW(pl_events_def, events),
    ROW(pl_hockey_def, hockey_events),
    ROW(pl_sink_store_def, store),
    ROW(pl_sink_stream_def, stream),
    ROW(pl_sink_hook_def, hook),
};
const size_t pl_op_count = sizeof pl_op_table / sizeof pl_op_table[0];

#define OPKEY(field, section, text)                                              \
    {.name = #field, .type = PW_CONF_SECTION, .offset = offsetof(pl_node_conf_t, field), \
     .line_offset = offsetof(pl_node_conf_t, field##_line), .sub = &(section),    \
     .desc = text}

static const pw_conf_key_t node_keys[] = {
    {.name = "name", .type = PW_CONF_STRING, .offset = offsetof(pl_node_conf_t, name),
     .desc = "the node's name, unique among sources and operators; results use it as "
             "their default topic"},
    {.name = "input", .type = PW_CONF_STRLIST, .offset = offsetof(pl_node_conf_t, input),
     .count_offset = offsetof(pl_node_conf_t, ninput),
     .desc = "what feeds it: sources, operators, or an operator's side output "
             "as name.port (e.g. speed_1s.late)"},
    OPKEY(filter, pl_filter_conf_section, "keep the points that pass"),
    OPKEY(compute, pl_compute_conf_section, "derive a value from an expression"),
    OPKEY(key_by, pl_key_by_conf_section, "key points or frames"),
    OPKEY(window, pl_window_conf_section, "event-time windows and aggregates"),
    OPKEY(frame_points, pl_frame_points_conf_section, "tracking frames into points"),
    OPKEY(join, pl_join_conf_section, "points joined to frames on time"),
    OPKEY(fuel, pl_fuel_conf_section, "model: fuel burn per car (the Burn Bar)"),
    OPKEY(pressure, pl_pressure_conf_section, "model: pressure on the quarterback"),
    OPKEY(events, pl_events_conf_section, "model: football event classification"),
    OPKEY(hockey_events, pl_hockey_conf_section, "model: hockey event classification"),
    OPKEY(store, pl_sink_store_conf_section, "sink: the result store"),
    OPKEY(stream, pl_sink_stream_conf_section, "sink: a stream topic"),
    OPKEY(hook, pl_sink_hook_conf_section, "sink: the host's live hook"),
};

const pw_conf_section_t pl_node_conf_section = {
    .name = "operator",
    .desc = "a node of the graph: name, input and one operator key",
    .keys = node_keys,
    .nkeys = PW_CONF_NKEYS(node_keys),
};

const pl_op_row_t *pl_ops_of(const pl_node_conf_t *n)
{
    const pl_op_row_t *found = NULL;
    for (size_t i = 0; i < pl_op_count; i++) {
        int line = *(const int *)((const char *)n + pl_op_table[i].line_offset);
        if (line != 0) {
            if (found)
                return NULL;
            found = &pl_op_table[i];
        }
    }
    return found;
}

const pl_op_row_t *pl_ops_find(const char *name)
{
    for (size_t i = 0; i < pl_op_count; i++)
        if (!strcmp(pl_op_table[i].def->name, name))
            return &pl_op_table[i];
    return NULL;
}

int pl_ops_print(FILE *f)
{
    fprintf(f, "Operators of the pipeline graph (pipeline.operators in the configuration).\n"
               "Each node is {name, input: [...], <operator>: {keys}}.\n");
    for (size_t i = 0; i < pl_op_count; i++) {
        const pl_op_def_t *d = pl_op_table[i].def;
        fprintf(f, "\n%s\n  %s\n", d->name, d->desc);
        fprintf(f, "  inputs: %d", d->min_inputs);
        if (d->max_inputs != d->min_inputs)
            fprintf(f, "..%d", d->max_inputs);
        fprintf(f, " (%s)\n  output: %s\n", d->input_desc, d->output_desc);
        if (d->nports > 1) {
            fprintf(f, "  ports:");
            for (int p = 0; p < d->nports; p++)
                fprintf(f, " %s%s", d->port_names[p], p ? "" : " (main)");
            fprintf(f, "\n");
        }
        if (d->conf->nkeys == 0) {
            fprintf(f, "  keys: none\n");
            continue;
        }
        fprintf(f, "  keys:\n");
        fflush(f);
        if (pw_conf_print_help(f, d->conf) != 0)
            return -errno;
    }
    return ferror(f) ? -EIO : 0;
}
