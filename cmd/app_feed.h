/*
 * app_feed: the simulator -> stream loop behind `pitwall run` and
 * `pitwall sim`. Points are generated in event time (wall clock), spread
 * over the topic's partitions by car (Kafka's key partitioner on the car's
 * name, so one car's points stay in order in one partition), encoded as
 * msgpack batches and appended. Paced to the configured rate, or as fast
 * as possible. Optionally the same loop drains live listeners into the log
 * (it waits on their queue rather than sleeping, so a received batch is
 * appended at once), or sends the simulated batches over UDP/TCP instead.
 */
#ifndef APP_FEED_H
#define APP_FEED_H

#include <signal.h>
#include <stdint.h>

#include "cmd/app.h"

typedef struct app_feed_opts {
    const char *topic;       /* where the points go */
    double rate_pps;         /* pace; ignored when max_speed */
    int max_speed;           /* no pacing: as fast as the log takes it */
    int64_t duration_ns;     /* stop after this much wall time; 0 = never */
    uint64_t max_points;     /* stop after this many points; 0 = never */
    int64_t stats_interval_ns; /* print a line of rates this often; 0 = never */
    const char *label;       /* "run" or "sim", for the lines printed */
    int no_sim;              /* run without the simulator (listeners only) */
    struct ing_listen *listen; /* live batches to append to listen_topic; NULL = none */
    const char *listen_topic;
    struct ing_send *send;   /* send the simulated batches here instead of the log */
    const char *game_topic;  /* also play a football game into this topic; NULL = no */
    /* Called every loop (at least every 10 ms) on this thread, which owns
     * the stream: the pipeline's host work. Non-zero stops the feed. */
    int (*tick)(void *ctx, pw_err_t *err);
    void *tick_ctx;
} app_feed_opts_t;

/*
 * Run until *stop is set (by a signal handler), the duration or the count.
 * Everything appended is flushed before returning. Prints a summary line.
 * Returns 0 or an error in err.
 */
int app_feed_run(const app_conf_t *c, app_names_t *names, pw_stream_t *s,
                 const app_feed_opts_t *o, volatile sig_atomic_t *stop,
                 pw_err_t *err);

/*
 * The football game simulator into topic o->topic: frames at 10 Hz of
 * event time, appended one a batch when paced (so each reaches the stream
 * at once), 64 a batch with max_speed. max_points counts frames here.
 */
int app_feed_game_run(const app_conf_t *c, app_names_t *names, pw_stream_t *s,
                      const app_feed_opts_t *o, volatile sig_atomic_t *stop, pw_err_t *err);

#endif
