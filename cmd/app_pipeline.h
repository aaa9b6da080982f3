/*
 * app_pipeline: the pipeline as `pitwall pipeline` and `pitwall run` host
 * it: the result store under data_dir/store, the pipeline over the stream,
 * and the queue that carries stream-sink batches from the checkpoint
 * writer's thread to the thread that owns the stream log (the host's).
 */
#ifndef APP_PIPELINE_H
#define APP_PIPELINE_H

#include <stdbool.h>
#include <stdio.h>

#include "cmd/app.h"
#include "pipeline/pl_pipeline.h"

typedef struct app_pipeline app_pipeline_t;

typedef struct app_pipeline_opts {
    int workers;        /* > 0 overrides pipeline.workers */
    bool exit_at_end;
    bool reset;
    pl_hook_fn hook;    /* NULL: hook sinks drop their results */
    void *hook_ctx;
} app_pipeline_opts_t;

/* The result store's directory for c, into buf. */
void app_store_dir(const app_conf_t *c, char *buf, size_t len);

/*
 * Open the store and build the pipeline over s (the stream log, whose
 * owner thread is the caller's); names must hold everything the graph
 * needs to intern. Returns 0 or an error in err.
 */
int app_pipeline_open(const app_conf_t *c, app_names_t *names, pw_stream_t *s,
                      const app_pipeline_opts_t *o, app_pipeline_t **out, pw_err_t *err);

int app_pipeline_start(app_pipeline_t *ap, pw_err_t *err);

/* How many workers the pipeline runs: hook sinks call opts.hook with a
 * worker index in [0, this). */
int app_pipeline_workers(app_pipeline_t *ap);

/* The result store the pipeline writes (readers may use it on any thread
 * until app_pipeline_close). */
struct st_results *app_pipeline_store(app_pipeline_t *ap);

/*
 * On the stream's owner thread, every few ms: append what stream sinks
 * queued, and read names other processes published. Returns 0 or an error.
 */
int app_pipeline_tick(app_pipeline_t *ap, pw_stream_t *s, app_names_t *names, pw_err_t *err);

/* Print the pipeline's statistics (rates since the last call): one line,
 * or with per_operator a line per operator too. */
void app_pipeline_print_stats(app_pipeline_t *ap, FILE *f, bool per_operator);

/* Copy the pipeline's statistics into s (pl_pipeline_stats; one pl_stats_t
 * per calling thread). Returns 0 or an error code. */
int app_pipeline_stats(app_pipeline_t *ap, struct pl_stats *s);

bool app_pipeline_done(app_pipeline_t *ap);

/* Stop the workers (each takes a last checkpoint); statistics stay
 * readable until close. Returns the pipeline's first error, if any. */
int app_pipeline_stop(app_pipeline_t *ap, pw_err_t *err);

/* Stop (last checkpoints), append what is queued, close the store.
 * Returns the pipeline's first error, if any. */
int app_pipeline_close(app_pipeline_t *ap, pw_stream_t *s, pw_err_t *err);

#endif
