/*
 * pl_pipeline: the operator graph running on worker threads over stream
 * partitions, with event-time watermarks and exactly-once checkpoints.
 *
 * Threads:
 * - Workers (pipeline.workers, one per core by default). Partition p of
 *   every source belongs to worker p % workers, so a key (which a producer
 *   puts on one partition) is always handled by the same worker. Each
 *   worker has its own stream reader and its own instance of every
 *   operator; workers share no mutable state. A worker reads a message,
 *   decodes it, hands it to the graph in batches of at most batch_records,
 *   moves the watermarks and lets the operators whose watermark moved fire.
 * - The checkpoint writer (one thread, the result store's only writer).
 *   Every checkpoint_interval each worker, between two batches, packs its
 *   operators' state, its input offsets and watermarks, and the results its
 *   store sinks made since the last checkpoint, and hands the package over;
 *   the writer puts them in ONE LMDB transaction. After kill -9 a restart
 *   loads each worker's checkpoint and reads on from its offsets, so the
 *   store ends up holding exactly what an uninterrupted run would have put
 *   there. A worker waits only if its previous package is still being
 *   written (back-pressure from the disk).
 * - The host thread calls create/start/stats/stop.
 *
 * Watermarks: per partition, the newest event time seen minus the source's
 * disorder; a partition that has delivered nothing for idle_timeout (wall
 * time) stops holding it back; a source's watermark on a worker is the
 * minimum over its partitions there; a node's is the minimum over its
 * inputs. With exit_at_end, reaching the end of every partition sets every
 * watermark to PL_WATERMARK_MAX, so every window fires, then the workers
 * checkpoint and stop.
 */
#ifndef PL_PIPELINE_H
#define PL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/pw_error.h"
#include "core/pw_hist.h"
#include "core/pw_stream.h"
#include "pipeline/pl_conf.h"
#include "pipeline/pl_op.h"

struct st_results;
typedef struct pl_pipeline pl_pipeline_t;

/*
 * Results for a hook sink, on a worker thread; must not block. The
 * results are borrowed for the call.
 */
typedef void (*pl_hook_fn)(void *ctx, const char *hook, int worker,
                           const pw_results_t *r);

/*
 * Append an encoded results batch to topic, on the checkpoint writer's
 * thread, after the checkpoint covering it committed. Return 0 or an error
 * (logged; the results stay in the store).
 */
typedef int (*pl_stream_append_fn)(void *ctx, const char *topic,
                                   const void *payload, size_t len,
                                   pw_err_t *err);

typedef struct pl_pipeline_opts {
    const pl_conf_t *conf;        /* borrowed until destroy */
    const char *conf_path;        /* for messages */
    pl_names_t names;             /* borrowed; add names only before start */
    pw_stream_t *stream;          /* the embedded log's owner handle: workers
                                     open reader handles from it */
    struct st_results *store;     /* borrowed; this pipeline is its writer */
    int workers;                  /* overrides conf->workers when > 0 */
    bool exit_at_end;             /* stop when every partition is read */
    bool reset;                   /* drop this group's checkpoints first */
    pl_hook_fn hook;              /* NULL: hook sinks drop results */
    void *hook_ctx;
    pl_stream_append_fn stream_append; /* NULL: stream sinks are an error */
    void *host;                   /* ctx of stream_append */
} pl_pipeline_opts_t;

/* Counters of one operator, summed over the workers. */
typedef struct pl_op_stats {
    const char *name;
    const char *op;
    pl_op_counters_t cnt;
    pw_hist_t latency;            /* per process/advance call, ns */
} pl_op_stats_t;

typedef struct pl_stats {
    int workers;
    uint64_t messages;            /* stream messages read */
    uint64_t records;             /* records read from the sources */
    uint64_t malformed;           /* messages that did not decode (skipped) */
    uint64_t skipped_retention;   /* messages lost to retention before read */
    uint64_t checkpoints;         /* checkpoints committed */
    uint64_t results_stored;      /* results committed to the store */
    int64_t watermark_ns;         /* minimum over workers of the sources' */
    int64_t watermark_lag_ns;     /* wall now - watermark at the last round */
    pw_hist_t graph;              /* stream append -> message through the graph, ns */
    pw_hist_t e2e;                /* stream append -> sink, ns */
    pw_hist_t e2e_store;          /* stream append -> store commit, ns */
    int nops;
    pl_op_stats_t *ops;           /* [nops], in graph order */
    bool done;                    /* every worker stopped (end or error) */
    int error;                    /* first worker error, 0 if none */
    char error_msg[PW_ERR_MSG_MAX];
} pl_stats_t;

/*
 * Build the graph, an instance of it per worker, and restore each worker
 * from its checkpoint (or place it at the sources' start). Returns 0 with
 * *out, or an error in err: PW_ECONF (graph, or a checkpoint taken with
 * another graph or worker count: "run with --reset to start over"),
 * PW_ECORRUPT (a checkpoint that does not decode), stream and store errors.
 */
int pl_pipeline_create(const pl_pipeline_opts_t *o, pl_pipeline_t **out,
                       pw_err_t *err);

/* Start the workers and the writer. */
int pl_pipeline_start(pl_pipeline_t *p, pw_err_t *err);

/*
 * Copy the current statistics into s (allocating s->ops on first use;
 * free with pl_stats_fini). Any thread but a worker's.
 */
int pl_pipeline_stats(pl_pipeline_t *p, pl_stats_t *s);
void pl_stats_fini(pl_stats_t *s);

/* True once every worker has stopped (exit_at_end reached, or an error). */
bool pl_pipeline_done(pl_pipeline_t *p);

/*
 * Stop: each worker finishes its batch, takes a last checkpoint and ends;
 * the writer commits what is pending. Returns the first error of any
 * thread (err says which), else 0.
 */
int pl_pipeline_stop(pl_pipeline_t *p, pw_err_t *err);

/* Free everything (stops first if needed). NULL is a no-op. */
void pl_pipeline_destroy(pl_pipeline_t *p);

/*
 * Print s as the lines `pitwall pipeline --stats` shows: totals, and rates
 * over interval_s since prev when prev is not NULL.
 */
void pl_stats_print(FILE *f, const pl_stats_t *s, const pl_stats_t *prev,
                    double interval_s);

#endif
