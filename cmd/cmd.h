/*
 * cmd: the pitwall command line. main.c dispatches argv[1] to one of the
 * subcommands below; each parses its own flags (getopt_long), prints its
 * usage on --help, returns the process exit code (0 ok, 1 failure, 2 bad
 * usage) and reports errors on stderr as "pitwall <cmd>: what: why".
 */
#ifndef CMD_H
#define CMD_H

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

/* Print a usage error for cmd and return exit code 2. */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when argv holds -h or --help. */
int cmd_wants_help(int argc, char **argv);

#endif
