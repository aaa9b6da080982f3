/*
 * Helpers for tests that run the pitwall binary: spawn it with arguments
 * and input, collect its output with a deadline, and give each test a
 * scratch directory with a small configuration.
 */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stddef.h>

typedef struct cli_result {
    int status;   /* exit code, or 128 + signal, or -1 on timeout */
    char *out;    /* stdout, NUL-terminated, owned */
    char *err;    /* stderr, NUL-terminated, owned */
} cli_result_t;

/* The binary under test: $PITWALL_BIN or build/release/pitwall. */
const char *cli_bin(void);

/*
 * Run pitwall with args (NULL-terminated, without argv[0]), feeding input
 * (may be NULL) on stdin, killing it after timeout_ms. Returns the result;
 * free it with cli_result_free.
 */
cli_result_t cli_run(const char *const *args, const char *input, size_t input_len,
                     int timeout_ms);

void cli_result_free(cli_result_t *r);

/*
 * A scratch directory with conf.yaml: data_dir inside it, a 64 MiB map,
 * topic 'telemetry' (2 partitions) and the simulator's names. Paths are
 * static until cli_scratch_remove.
 */
const char *cli_scratch_make(void);
const char *cli_scratch_conf(void);
void cli_scratch_remove(void);

#endif
