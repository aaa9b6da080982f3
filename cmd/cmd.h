/*
 * cmd: the pitwall command line. main.c dispatches argv[1] to one of the
 * subcommands below; each parses its own flags (getopt_long), prints its
 * usage on --help, returns the process exit code (0 ok, 1 failure, 2 bad
 * usage) and reports errors on stderr as "pitwall <cmd>: what: why".
 */
#ifndef CMD_H
#define CMD_H

#include <stdio.h>

#include "api/api_server.h"

#define PITWALL_VERSION "0.1.0"

typedef struct cmd {
    const char *name;
    const char *summary;  /* one line for `pitwall --help` */
    const char *usage;    /* full text for `pitwall <name> --help` */
    int (*main)(int argc, char **argv);  /* NULL: not built yet */
    const char *issue;    /* for commands not built yet: where they are planned */
} cmd_t;

int cmd_run_main(int argc, char **argv);
int cmd_sim_main(int argc, char **argv);
int cmd_stream_main(int argc, char **argv);
int cmd_ingest_main(int argc, char **argv);
int cmd_bench_main(int argc, char **argv);
int cmd_config_main(int argc, char **argv);
int cmd_pipeline_main(int argc, char **argv);
int cmd_ops_main(int argc, char **argv);
int cmd_train_main(int argc, char **argv);
int cmd_eval_main(int argc, char **argv);
int cmd_api_main(int argc, char **argv);
int cmd_recap_main(int argc, char **argv);

/*
 * The API server as `pitwall api` and `pitwall run` host it (cmd_api.c):
 * the hub (producers: pipeline workers), the server from the `api`
 * section, and the admin token of token_flag, else PITWALL_TOKEN, else
 * (with no api.tokens) a generated one. store (may be NULL) fills the
 * latest values; host (may be NULL) says why the host is not ready and
 * adds its metrics.
 * Returns 0 or an error in err; stop frees everything.
 */
struct app_conf;
typedef struct cmd_api cmd_api_t;
typedef struct cmd_api_host {
    api_health_fn health;   /* NULL: ready while serving */
    api_metrics_fn metrics; /* NULL: /metrics has the API's own only */
    void *ctx;              /* of both */
} cmd_api_host_t;
int cmd_api_start(const struct app_conf *c, const char *token_flag, int producers,
                  struct st_results *store, const cmd_api_host_t *host, cmd_api_t **out,
                  pw_err_t *err);
/* The hub, for producers (api_hub_offer). */
api_hub_t *cmd_api_hub(cmd_api_t *a);
/* Print the dashboard and WebSocket URLs (and a generated token) to f. */
void cmd_api_print(const cmd_api_t *a, const char *label, FILE *f);
/* Stop the server (producers must have stopped offering) and free. NULL: no-op. */
void cmd_api_stop(cmd_api_t *a);

/* Print a usage error for cmd and return exit code 2. */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when argv holds -h or --help. */
int cmd_wants_help(int argc, char **argv);

#endif
