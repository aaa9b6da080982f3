/*
 * pl_op: the shape of a pipeline operator, and what a running operator sees.
 *
 * An operator is a constant definition (pl_op_def_t): its name, a sentence,
 * the table of its configuration keys, how many inputs it takes, its output
 * ports, a type check, and the calls below. Definitions are rows of the
 * static table in pl_ops.c; `pitwall ops` prints that table.
 *
 * One instance (pl_op_t) of every operator of the graph lives on each worker
 * thread and is only ever touched by that thread. The worker calls:
 *   init      once, before the worker starts (on the main thread);
 *   process   with each input batch; emits into its output ports;
 *   advance   when the operator's input watermark has moved forward
 *             (ctx->watermark_ns): windows fire here;
 *   snapshot  at a checkpoint: append the keyed state to a buffer;
 *   restore   at start, from the last checkpoint's bytes;
 *   close     at the end.
 * process and advance never block, sleep, do I/O, read the clock or
 * allocate per record: time arrives in ctx, and output batches are reused.
 * They return 0, or a negative error (-ENOMEM) that stops the worker.
 *
 * Emitting: an operator appends records to pl_op_port(op, port) (an output
 * batch the worker owns for it, already of the port's kind); after each call
 * the worker passes every non-empty output batch to the operators downstream
 * and clears it. Port 0 is the main output; other ports are side outputs
 * ("late") that a graph refers to as "name.port".
 */
#ifndef PL_OP_H
#define PL_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_conf.h"
#include "core/pw_error.h"
#include "core/pw_hist.h"
#include "core/pw_intern.h"
#include "pipeline/pl_batch.h"

/* Most output ports an operator has (main + side outputs). */
#define PL_OP_PORTS 2

/* Most inputs an operator takes. */
#define PL_OP_INPUTS 4

/* Watermark before any input: nothing is complete yet. */
#define PL_WATERMARK_MIN INT64_MIN

/* Watermark at the end of every input: everything is complete. */
#define PL_WATERMARK_MAX INT64_MAX

typedef struct pl_op pl_op_t;

/* Where sink operators deliver (the worker's; see pl_sink.h). */
typedef struct pl_sink_io pl_sink_io_t;

/* What an edge carries, for the type check at graph build. */
typedef struct pl_port_type {
    enum pl_kind kind;
    bool keyed;
} pl_port_type_t;

/* Name tables shared by all workers (read-only while workers run). */
typedef struct pl_names {
    pw_intern_t *channels;
    pw_intern_t *entities;
    pw_intern_t *labels;
} pl_names_t;

/*
 * Counters every operator keeps; the worker counts in and out, the operator
 * counts the rest (late, dropped, and evicted when state limits bite).
 */
typedef struct pl_op_counters {
    uint64_t in;        /* records received */
    uint64_t out;       /* records emitted, all ports */
    uint64_t late;      /* records past allowed lateness (sent to "late") */
    uint64_t dropped;   /* records refused: bad value, state full */
    uint64_t outside;   /* records no window covers by design (between segments):
                           not lost, so not counted as dropped */
    uint64_t evicted;   /* keys removed by TTL */
    uint64_t keys;      /* keys held now (stateful operators) */
    uint64_t keys_refused; /* new keys refused because max_keys was reached */
} pl_op_counters_t;

/* What process and advance see besides their input. */
typedef struct pl_ctx {
    int64_t watermark_ns; /* the operator's input watermark */
    int64_t now_ns;       /* wall time at the start of this worker round */
    const pl_names_t *names;
    pl_sink_io_t *io;     /* sinks only */
} pl_ctx_t;

/* What init sees. */
typedef struct pl_setup {
    const char *name;           /* the operator's name in the graph */
    const char *conf_path;      /* for messages: "conf/pitwall.yaml" */
    int line;                   /* the operator's line in that file, or 0 */
    const pl_names_t *names;    /* may be added to during init only */
    int worker;                 /* this instance's worker, 0.. */
    int workers;
    const pl_port_type_t *in;   /* input types, [nin] */
    int nin;
} pl_setup_t;

typedef struct pl_op_def {
    const char *name;           /* as written in the graph: "window" */
    const char *desc;           /* one sentence for `pitwall ops` */
    const pw_conf_section_t *conf; /* its keys (a struct of conf_size) */
    size_t conf_size;
    int min_inputs, max_inputs;
    int nports;                 /* outputs: 0 for sinks */
    const char *const *port_names; /* [nports]: "out", "late" */
    const char *input_desc;     /* "points (keyed)", for `pitwall ops` */
    const char *output_desc;    /* "results; late: points" */
    /*
     * Check the inputs' types against the configuration and give the
     * output ports' types. 0, or PW_ECONF with a message that names the
     * offending input or key (the caller prefixes file:line and name).
     */
    int (*check)(const void *conf, const pl_port_type_t *in, int nin,
                 pl_port_type_t *out, pw_err_t *err);
    /* Build the instance's state into op->state. 0 or an error in err. */
    int (*init)(pl_op_t *op, const void *conf, const pl_setup_t *setup,
                pw_err_t *err);
    int (*process)(pl_op_t *op, int input, const pl_batch_t *in, pl_ctx_t *ctx);
    int (*advance)(pl_op_t *op, pl_ctx_t *ctx);   /* optional */
    int (*snapshot)(pl_op_t *op, pl_buf_t *out);  /* optional */
    int (*restore)(pl_op_t *op, pl_rd_t *in, pw_err_t *err); /* optional */
    void (*close)(pl_op_t *op);                   /* optional */
} pl_op_def_t;

/* An instance on one worker. */
struct pl_op {
    const pl_op_def_t *def;
    const char *name;           /* borrowed from the configuration */
    void *state;                /* the operator's own; freed by close */
    pl_batch_t out[PL_OP_PORTS];/* output batches, owned by the worker */
    pl_op_counters_t cnt;
    pw_hist_t latency;          /* time in process/advance per call, ns */
};

/* The output batch of port p (0 = main). */
static inline pl_batch_t *pl_op_port(pl_op_t *op, int p) { return &op->out[p]; }

#endif
