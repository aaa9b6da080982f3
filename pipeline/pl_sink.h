/*
 * pl_sink: the operators where results leave the graph, and the calls they
 * deliver through.
 *
 * - store:  results go to the result store (store/st_results.h), written
 *           by the checkpoint writer in the same LMDB transaction as the
 *           checkpoint that covers them: exactly once, even across kill -9.
 *           Until then they wait in the worker (pl_sink_io_store).
 * - stream: results are appended to a stream topic as msgpack results
 *           batches after the checkpoint that covers them commits: at least
 *           once (a crash between the commit and the append repeats it).
 * - hook:   results are handed at once, on the worker thread, to a callback
 *           of the host (the API's live hand-off); it must not block. Live
 *           consumers may see a result again after a restart.
 *
 * The worker implements pl_sink_io_t (pl_worker.c); a sink calls it from
 * process on the worker's thread.
 */
#ifndef PL_SINK_H
#define PL_SINK_H

#include "pipeline/pl_op.h"

typedef struct pl_sink_store_conf {
    int unused_; /* the store sink has no keys yet */
} pl_sink_store_conf_t;

typedef struct pl_sink_stream_conf {
    char *topic; /* stream topic the results are appended to */
} pl_sink_stream_conf_t;

typedef struct pl_sink_hook_conf {
    char *name; /* which host hook receives the results ("live") */
} pl_sink_hook_conf_t;

extern const pw_conf_section_t pl_sink_store_conf_section;
extern const pw_conf_section_t pl_sink_stream_conf_section;
extern const pw_conf_section_t pl_sink_hook_conf_section;
extern const pl_op_def_t pl_sink_store_def;
extern const pl_op_def_t pl_sink_stream_def;
extern const pl_op_def_t pl_sink_hook_def;

/* Keep results for the store until the next checkpoint. 0 or -ENOMEM. */
int pl_sink_io_store(pl_sink_io_t *io, const pw_results_t *r);

/* Keep results for topic until the next checkpoint commits. 0 or -ENOMEM. */
int pl_sink_io_stream(pl_sink_io_t *io, const char *topic, const pw_results_t *r);

/* Hand results to the host's hook `name` now. Never blocks. */
void pl_sink_io_hook(pl_sink_io_t *io, const char *name, const pw_results_t *r);

#endif
