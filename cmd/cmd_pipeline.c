/*
 * pitwall pipeline: the operator graph over the configured streams, into
 * the result store. pitwall ops: the operator table.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/app.h"
#include "cmd/app_pipeline.h"
#include "cmd/cmd.h"
#include "core/pw_time.h"
#include "pipeline/pl_ops.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int cmd_pipeline_main(int argc, char **argv)
{
    app_conf_flags_t flags = {0};
    app_pipeline_opts_t po = {0};
    int stats = 0;
    double duration_s = 0;
    for (int i = 1; i < argc; i++) {
        int t = app_conf_take_flag(&flags, argc, argv, &i, "pipeline");
        if (t < 0)
            return 2;
        if (t > 0)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--stats")) {
            stats = 1;
        } else if (!strcmp(a, "--exit-at-end")) {
            po.exit_at_end = true;
        } else if (!strcmp(a, "--reset")) {
            po.reset = true;
        } else if (!strcmp(a, "--workers") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 256)
                return cmd_usage_error("pipeline", "--workers wants 1..256, got '%s'", argv[i]);
            po.workers = (int)v;
        } else if (!strcmp(a, "--duration") && i + 1 < argc) {
            char *end;
            duration_s = strtod(argv[++i], &end);
            if (*end || !(duration_s > 0))
                return cmd_usage_error("pipeline", "--duration wants seconds > 0, got '%s'",
                                       argv[i]);
        } else {
            return cmd_usage_error("pipeline", "unknown or incomplete argument '%s'", a);
        }
    }
    app_conf_t c;
    pw_err_t err = {0};
    if (app_conf_load(&flags, &c, &err)) {
        fprintf(stderr, "pitwall pipeline: %s\n", err.msg);
        return 1;
    }
    app_names_t names = {0};
    pw_stream_t *s = NULL;
    app_pipeline_t *ap = NULL;
    int rc = app_names_open(&c, &names, &err);
    if (rc == 0)
        rc = app_stream_open(&c, &names, 0, 1, &s, &err);
    if (rc == 0)
        rc = app_pipeline_open(&c, &names, s, &po, &ap, &err);
    if (rc == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        char dir[4096];
        app_store_dir(&c, dir, sizeof dir);
        printf("pitwall pipeline: %zu sources, %zu operators, results and checkpoints in %s%s\n",
               c.pipeline.nsources, c.pipeline.noperators, dir,
               po.exit_at_end ? "; stops at the end of the input" : "; Ctrl-C stops");
        fflush(stdout);
        rc = app_pipeline_start(ap, &err);
    }
    int64_t start = pw_mono_ns(), next_stats = start + c.run.stats_interval_ms * PW_NS_PER_MS;
    while (rc == 0 && !stop_requested && !app_pipeline_done(ap)) {
        if (duration_s > 0 && pw_mono_ns() - start >= (int64_t)(duration_s * PW_NS_PER_S))
            break;
        pw_sleep_until_ns(pw_mono_ns() + 5 * PW_NS_PER_MS);
        rc = app_pipeline_tick(ap, s, &names, &err);
        if (rc == 0)
            rc = pw_stream_poll(s, NULL, &err);
        if (stats && pw_mono_ns() >= next_stats) {
            app_pipeline_print_stats(ap, stdout, true);
            next_stats += c.run.stats_interval_ms * PW_NS_PER_MS;
        }
    }
    if (ap) {
        pw_err_t e2 = {0};
        int rc2 = app_pipeline_stop(ap, &e2);
        if (stats)
            app_pipeline_print_stats(ap, stdout, true); /* the last figures */
        if (rc2 == 0)
            rc2 = app_pipeline_close(ap, s, &e2);
        else
            app_pipeline_close(ap, s, &(pw_err_t){0});
        if (rc == 0 && rc2) {
            rc = rc2;
            err = e2;
        }
    }
    if (rc == 0 && s)
        rc = pw_stream_flush(s, 5000, NULL, &err);
    if (rc)
        fprintf(stderr, "pitwall pipeline: %s\n", err.msg[0] ? err.msg : pw_strerror(rc));
    else
        printf("pitwall pipeline: stopped\n");
    pw_stream_close(s);
    app_names_close(&names);
    app_conf_fini(&c);
    return rc ? 1 : 0;
}

int cmd_ops_main(int argc, char **argv)
{
    if (argc > 1)
        return cmd_usage_error("ops", "takes no arguments, got '%s'", argv[1]);
    return pl_ops_print(stdout) ? 1 : 0;
}
