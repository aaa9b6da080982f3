#include "cli_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/pw_fs.h"
#include "core/pw_time.h"

static char scratch[256], conf_path[300];

const char *cli_bin(void)
{
    const char *b = getenv("PITWALL_BIN");
    return b && *b ? b : "build/release/pitwall";
}

/* Append what fd has to a growing buffer; returns 0 at EOF, 1 if more. */
static int drain(int fd, char **buf, size_t *len, size_t *cap)
{
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0)
        return 0;
    if (*len + (size_t)n + 1 > *cap) {
        while (*len + (size_t)n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 65536;
        *buf = realloc(*buf, *cap);
        cr_assert_not_null(*buf);
    }
    memcpy(*buf + *len, tmp, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return 1;
}

cli_result_t cli_run(const char *const *args, const char *input, size_t input_len,
                     int timeout_ms)
{
    int in[2], out[2], err[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    cr_assert_eq(pipe(err), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(err[0]),
            close(err[1]);
        const char *argv[64];
        size_t n = 0;
        argv[n++] = cli_bin();
        for (size_t i = 0; args[i] && n < 63; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]), close(out[1]), close(err[1]);
    signal(SIGPIPE, SIG_IGN);
    if (input && input_len) {
        size_t off = 0;
        while (off < input_len) {
            ssize_t w = write(in[1], input + off, input_len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    close(in[1]);
    cli_result_t r = {.status = -1};
    size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
    r.out = calloc(1, 1);
    r.err = calloc(1, 1);
    ocap = ecap = 1;
    int64_t deadline = pw_mono_ns() + (int64_t)timeout_ms * PW_NS_PER_MS;
    int open_out = 1, open_err = 1, timed_out = 0;
    while (open_out || open_err) {
        int64_t left = (deadline - pw_mono_ns()) / PW_NS_PER_MS;
        if (left <= 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd p[2] = {{open_out ? out[0] : -1, POLLIN, 0},
                              {open_err ? err[0] : -1, POLLIN, 0}};
        if (poll(p, 2, (int)left) <= 0)
            continue;
        if (open_out && p[0].revents)
            open_out = drain(out[0], &r.out, &olen, &ocap);
        if (open_err && p[1].revents)
            open_err = drain(err[0], &r.err, &elen, &ecap);
    }
    close(out[0]), close(err[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (timed_out)
        r.status = -1;
    else if (WIFEXITED(st))
        r.status = WEXITSTATUS(st);
    else
        r.status = 128 + WTERMSIG(st);
    return r;
}

void cli_result_free(cli_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *cli_scratch_make(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/pitwall-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(scratch));
    snprintf(conf_path, sizeof conf_path, "%s/conf.yaml", scratch);
    FILE *f = fopen(conf_path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "data_dir: %s/data\n"
            "channels: [speed_mps, throttle, brake, gear, rpm, lap_dist_pct, lap, fuel_level_l,"
            " fuel_flow_lps, position, pit]\n"
            "entities: [car/1, car/2, car/3, car/4]\n"
            "log: {durability: group, group_commit_ms: 5ms, map_size: 64MiB}\n"
            "stream:\n"
            "  topics:\n"
            "    - {name: telemetry, partitions: 2}\n"
            "sim: {cars: 4, rate_pps: 4400, topic: telemetry, batch_points: 440}\n"
            "run: {stats_interval: 200ms}\n",
            scratch);
    fclose(f);
    return scratch;
}

const char *cli_scratch_conf(void)
{
    return conf_path;
}

void cli_scratch_remove(void)
{
    if (scratch[0])
        pw_fs_remove_tree(scratch);
    scratch[0] = '\0';
}
