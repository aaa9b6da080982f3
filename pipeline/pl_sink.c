/*
 * pl_sink: the store, stream and hook sink operators.
 */
#include "pipeline/pl_sink.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/pw_stream.h"

const pw_conf_section_t pl_sink_store_conf_section = {
    .name = "store",
    .desc = "results into the result store, exactly once with the checkpoints",
    .keys = NULL,
    .nkeys = 0,
};

static const pw_conf_key_t stream_keys[] = {
    {.name = "topic", .type = PW_CONF_STRING,
     .offset = offsetof(pl_sink_stream_conf_t, topic),
     .desc = "stream topic the results are appended to (created with one "
             "partition if missing)"},
};

const pw_conf_section_t pl_sink_stream_conf_section = {
    .name = "stream",
    .desc = "results appended to a stream topic, at least once",
    .keys = stream_keys,
    .nkeys = PW_CONF_NKEYS(stream_keys),
};

static const pw_conf_key_t hook_keys[] = {
    {.name = "name", .type = PW_CONF_STRING,
     .offset = offsetof(pl_sink_hook_conf_t, name), .def = "live",
     .desc = "the host hook that receives the results (the API's live feed is 'live')"},
};

const pw_conf_section_t pl_sink_hook_conf_section = {
    .name = "hook",
    .desc = "results handed to the host as they are made",
    .keys = hook_keys,
    .nkeys = PW_CONF_NKEYS(hook_keys),
};

/* Every sink takes results, from any number of inputs. */
static int check_results(const char *what, const pl_port_type_t *in, int nin,
                         pw_err_t *err)
{
    for (int i = 0; i < nin; i++)
        if (in[i].kind != PL_RESULTS)
            return pw_err_set(err, PW_ECONF,
                              "%s: input %d carries %s; a sink takes results", what,
                              i + 1, in[i].kind == PL_POINTS ? "points" : "frames");
    return 0;
}

static int store_check(const void *conf, const pl_port_type_t *in, int nin,
                       pl_port_type_t *out, pw_err_t *err)
{
    (void)conf, (void)out;
    return check_results("store", in, nin, err);
}

static int stream_check(const void *conf, const pl_port_type_t *in, int nin,
                        pl_port_type_t *out, pw_err_t *err)
{
    const pl_sink_stream_conf_t *c = conf;
    (void)out;
    if (c->topic == NULL || pw_stream_topic_check(c->topic, err) != 0)
        return pw_err_set(err, PW_ECONF, "stream: topic %s%s%s",
                          c->topic ? "'" : "is missing", c->topic ? c->topic : "",
                          c->topic ? "' is not a valid topic name" : "");
    return check_results("stream", in, nin, err);
}

static int hook_check(const void *conf, const pl_port_type_t *in, int nin,
                      pl_port_type_t *out, pw_err_t *err)
{
    const pl_sink_hook_conf_t *c = conf;
    (void)out;
    if (c->name == NULL || !c->name[0])
        return pw_err_set(err, PW_ECONF, "hook: name is missing");
    return check_results("hook", in, nin, err);
}

/* The sinks keep a pointer to their configuration (it outlives them). */
static int keep_conf(pl_op_t *op, const void *conf, const pl_setup_t *setup,
                     pw_err_t *err)
{
    (void)setup, (void)err;
    op->state = (void *)conf;
    return 0;
}

static int store_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    (void)op, (void)input;
    return pl_sink_io_store(ctx->io, &in->res.rec);
}

static int stream_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    const pl_sink_stream_conf_t *c = op->state;
    (void)input;
    return pl_sink_io_stream(ctx->io, c->topic, &in->res.rec);
}

static int hook_process(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx)
{
    const pl_sink_hook_conf_t *c = op->state;
    (void)input;
    pl_sink_io_hook(ctx->io, c->name, &in->res.rec);
    return 0;
}

const pl_op_def_t pl_sink_store_def = {
    .name = "store",
    .desc = "Keep results in the result store, written with each checkpoint "
            "in one transaction: exactly once across crashes.",
    .conf = &pl_sink_store_conf_section,
    .conf_size = sizeof(pl_sink_store_conf_t),
    .min_inputs = 1, .max_inputs = PL_OP_INPUTS,
    .nports = 0, .port_names = NULL,
    .input_desc = "results", .output_desc = "none (sink)",
    .check = store_check, .init = keep_conf, .process = store_process,
};

const pl_op_def_t pl_sink_stream_def = {
    .name = "stream",
    .desc = "Append results to a stream topic as msgpack results batches once "
            "the checkpoint that covers them commits: at least once.",
    .conf = &pl_sink_stream_conf_section,
    .conf_size = sizeof(pl_sink_stream_conf_t),
    .min_inputs = 1, .max_inputs = PL_OP_INPUTS,
    .nports = 0, .port_names = NULL,
    .input_desc = "results", .output_desc = "none (sink)",
    .check = stream_check, .init = keep_conf, .process = stream_process,
};

const pl_op_def_t pl_sink_hook_def = {
    .name = "hook",
    .desc = "Hand results to the host as they are made (the API's live "
            "feed), without waiting for a checkpoint.",
    .conf = &pl_sink_hook_conf_section,
    .conf_size = sizeof(pl_sink_hook_conf_t),
    .min_inputs = 1, .max_inputs = PL_OP_INPUTS,
    .nports = 0, .port_names = NULL,
    .input_desc = "results", .output_desc = "none (sink)",
    .check = hook_check, .init = keep_conf, .process = hook_process,
};
