/*
 * pitwall run: Pitwall in one process on the embedded default: simulator
 * (or live listeners) -> embedded stream log -> pipeline -> result store,
 * and the API server, whose hub the pipeline's hook sinks feed, with a
 * line of rates every interval.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/app.h"
#include "cmd/app_feed.h"
#include "api/api_metrics.h"
#include "cmd/app_pipeline.h"
#include "cmd/cmd.h"
#include "ingest/ing_listen.h"
#include "core/pw_time.h"

static volatile sig_atomic_t stop_requested;

/*
 * Between the pipeline's workers and the API: the hub their hook sinks
 * offer to (NULL before the server starts and after it stops), and whether
 * the pipeline stopped (for /health). Static: it outlives both.
 */
static struct run_live {
    _Atomic(api_hub_t *) hub;
    atomic_int pipeline_stopped;
    pthread_mutex_t ap_lock; /* ap against its close while /metrics reads it */
    app_pipeline_t *ap;
    pl_stats_t stats;        /* the API thread's copy, for /metrics */
} run_live = {.ap_lock = PTHREAD_MUTEX_INITIALIZER};

/* Take the pipeline away from /metrics before it is closed. */
static void run_live_forget_pipeline(void)
{
    pthread_mutex_lock(&run_live.ap_lock);
    run_live.ap = NULL;
    pthread_mutex_unlock(&run_live.ap_lock);
}

/* A hook sink's results, on a worker thread: hand them to the hub. */
static void run_hook(void *ctx, const char *hook, int worker, const pw_results_t *r)
{
    (void)hook;
    struct run_live *l = ctx;
    api_hub_t *h = atomic_load(&l->hub);
    if (h)
        api_hub_offer(h, worker, r); /* never blocks; drops are counted there */
}

/* /health, on the API's thread. */
static int run_health(void *ctx, const char **reasons, int max)
{
    struct run_live *l = ctx;
    if (max > 0 && atomic_load(&l->pipeline_stopped)) {
        reasons[0] = "pipeline stopped";
        return 1;
    }
    return 0;
}

/* /metrics: the pipeline's families, on the API's thread. */
static void run_metrics(void *ctx, struct api_text *out)
{
    struct run_live *l = ctx;
    pthread_mutex_lock(&l->ap_lock);
    if (l->ap && app_pipeline_stats(l->ap, &l->stats) == 0)
        api_metrics_pipeline(out, &l->stats);
    pthread_mutex_unlock(&l->ap_lock);
}

/* What `pitwall run` does on the feed's thread besides feeding. */
typedef struct run_host {
    app_pipeline_t *ap;
    pw_stream_t *s;
    app_names_t *names;
    int64_t every_ns, next_ns;
    bool per_operator;
} run_host_t;

static int run_tick(void *ctx, pw_err_t *err)
{
    run_host_t *h = ctx;
    int rc = app_pipeline_tick(h->ap, h->s, h->names, err);
    int64_t now = pw_mono_ns();
    if (rc == 0 && h->every_ns && now >= h->next_ns) {
        app_pipeline_print_stats(h->ap, stdout, h->per_operator);
        h->next_ns = now + h->every_ns;
    }
    if (rc == 0 && app_pipeline_done(h->ap)) {
        atomic_store(&run_live.pipeline_stopped, 1);
        /* A worker stopped on an error: stop the run and report it. */
        run_live_forget_pipeline();
        rc = app_pipeline_close(h->ap, h->s, err);
        h->ap = NULL;
        if (rc == 0)
            rc = pw_err_set(err, PW_ESTORE, "the pipeline stopped");
    }
    return rc;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Parse seconds ("2", "0.5") into ns; 0 on success, -1 if malformed. */
static int parse_seconds(const char *s, int64_t *ns)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0 && v < 1e7))
        return -1;
    *ns = (int64_t)(v * PW_NS_PER_S);
    return 0;
}

/* Shared by run and sim: flags, configuration, stream, feed. */
static int feed_main(const char *label, int argc, char **argv)
{
    app_conf_flags_t flags = {0};
    app_feed_opts_t fo = {.label = label};
    const char *topic = NULL, *rate = NULL, *cars = NULL, *seed = NULL;
    int game = 0, pl_stats = 0, pl_reset = 0;
    const char *token = NULL;
    char port_set[64];
    const char *udp = NULL, *tcp = NULL;
    for (int i = 1; i < argc; i++) {
        int t = app_conf_take_flag(&flags, argc, argv, &i, label);
        if (t < 0)
            return 2;
        if (t > 0)
            continue;
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--duration") && has_value) {
            if (parse_seconds(argv[++i], &fo.duration_ns))
                return cmd_usage_error(label, "--duration wants seconds > 0, got '%s'",
                                       argv[i]);
        } else if (!strcmp(label, "run") && !strcmp(a, "--stats")) {
            pl_stats = 1;
        } else if (!strcmp(label, "run") && !strcmp(a, "--reset")) {
            pl_reset = 1;
        } else if (!strcmp(label, "run") && !strcmp(a, "--port") && has_value) {
            if (flags.nsets == sizeof flags.sets / sizeof flags.sets[0])
                return cmd_usage_error(label, "too many --set flags");
            snprintf(port_set, sizeof port_set, "api.port=%s", argv[++i]);
            flags.sets[flags.nsets++] = port_set;
        } else if (!strcmp(label, "run") && !strcmp(a, "--token") && has_value) {
            token = argv[++i];
            if (!*token)
                return cmd_usage_error(label, "--token is empty");
        } else if (!strcmp(label, "sim") && !strcmp(a, "--race")) {
            /* The only simulation so far. */
        } else if (!strcmp(label, "sim") && !strcmp(a, "--game")) {
            game = 1;
        } else if (!strcmp(label, "sim") && !strcmp(a, "--udp") && has_value) {
            udp = argv[++i];
        } else if (!strcmp(label, "sim") && !strcmp(a, "--tcp") && has_value) {
            tcp = argv[++i];
        } else if (!strcmp(label, "sim") && !strcmp(a, "--max")) {
            fo.max_speed = 1;
        } else if (!strcmp(label, "sim") && !strcmp(a, "--to") && has_value) {
            topic = argv[++i];
        } else if (!strcmp(label, "sim") && !strcmp(a, "--rate") && has_value) {
            rate = argv[++i];
        } else if (!strcmp(label, "sim") && !strcmp(a, "--cars") && has_value) {
            cars = argv[++i];
        } else if (!strcmp(label, "sim") && !strcmp(a, "--seed") && has_value) {
            seed = argv[++i];
        } else if (!strcmp(label, "sim") && !strcmp(a, "--count") && has_value) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v == 0 || argv[i][0] == '-')
                return cmd_usage_error(label, "--count wants a number of points, got '%s'",
                                       argv[i]);
            fo.max_points = v;
        } else {
            return cmd_usage_error(label, "unknown or incomplete argument '%s'", a);
        }
    }
    /* Simulator flags are overrides of the sim section, checked by its table. */
    char sets[4][300];
    const char *vals[4] = {rate, cars, seed, game ? NULL : topic};
    const char *keys[4] = {"sim.rate_pps", "sim.cars", "sim.seed", "sim.topic"};
    for (int k = 0; k < 4; k++) {
        if (!vals[k])
            continue;
        if (flags.nsets == sizeof flags.sets / sizeof flags.sets[0])
            return cmd_usage_error(label, "too many --set flags");
        snprintf(sets[k], sizeof sets[k], "%s=%s", keys[k], vals[k]);
        flags.sets[flags.nsets++] = sets[k];
    }
    app_conf_t c;
    pw_err_t err = {0};
    if (app_conf_load(&flags, &c, &err)) {
        fprintf(stderr, "pitwall %s: %s\n", label, err.msg);
        return 1;
    }
    app_names_t names = {0};
    pw_stream_t *s = NULL;
    ing_listen_t *listen = NULL;
    app_pipeline_t *ap = NULL;
    cmd_api_t *api = NULL;
    run_host_t host = {0};
    ing_send_t send;
    int sending = 0;
    int rc = app_names_open(&c, &names, &err);
    int live = !strcmp(label, "run") && ((c.listen.udp && *c.listen.udp) ||
                                         (c.listen.tcp && *c.listen.tcp));
    if (rc == 0 && (udp || tcp)) {
        if (udp && tcp) {
            fprintf(stderr, "pitwall sim: --udp or --tcp, not both\n");
            app_names_close(&names);
            app_conf_fini(&c);
            return 2;
        }
        rc = ing_send_open(&send, udp ? ING_PROTO_UDP : ING_PROTO_TCP, udp ? udp : tcp, &err);
        sending = rc == 0;
        /* A datagram holds at most 64 KiB: about 2,700 points (a game's
         * frames are sent one a datagram). */
        if (udp && c.sim.batch_points > 2000)
            c.sim.batch_points = 2000;
    } else if (rc == 0) {
        rc = app_stream_open(&c, &names, 0, 1, &s, &err);
    }
    if (rc == 0 && !strcmp(label, "run") && c.pipeline.enabled && c.pipeline.noperators > 0) {
        app_pipeline_opts_t po = {.reset = pl_reset != 0, .hook = run_hook,
                                  .hook_ctx = &run_live};
        rc = app_pipeline_open(&c, &names, s, &po, &ap, &err);
        /* The server before the workers, so that their first results reach it. */
        if (rc == 0)
        if (rc == 0) {
            static const cmd_api_host_t run_api_host = {run_health, run_metrics, &run_live};
            run_live.ap = ap;
            rc = cmd_api_start(&c, token, app_pipeline_workers(ap), app_pipeline_store(ap),
                               &run_api_host, &api, &err);
        }
        if (rc == 0) {
            atomic_store(&run_live.hub, cmd_api_hub(api));
            rc = app_pipeline_start(ap, &err);
        }
        if (rc == 0) {
            char sdir[4096];
            app_store_dir(&c, sdir, sizeof sdir);
            printf("pitwall run: pipeline of %zu operators over %zu sources; results in %s\n",
                   c.pipeline.noperators, c.pipeline.nsources, sdir);
            cmd_api_print(api, "run", stdout);
        }
        if (rc && ap) {
            pw_err_t e2 = {0};
            run_live_forget_pipeline();
            app_pipeline_close(ap, s, &e2);
            ap = NULL;
        }
        host = (run_host_t){ap, s, &names, c.run.stats_interval_ms * PW_NS_PER_MS,
                            pw_mono_ns() + c.run.stats_interval_ms * PW_NS_PER_MS,
                            pl_stats != 0};
    }
    if (rc == 0 && !strcmp(label, "run") && !c.sim.enabled && !live)
        rc = pw_err_set(&err, PW_ECONF, "nothing to run: sim.enabled is false and neither "
                        "listen.udp nor listen.tcp is set");
    if (rc == 0 && live) {
        ing_listen_opts_t lo = {
            .udp_addr = c.listen.udp && *c.listen.udp ? c.listen.udp : NULL,
            .tcp_addr = c.listen.tcp && *c.listen.tcp ? c.listen.tcp : NULL,
            .queue_batches = (size_t)c.listen.queue_batches,
            .add_names = 1,
        };
        ing_names_t in = {names.channels, names.entities, names.labels};
        rc = ing_listen_create(&lo, &in, &listen, &err);
        if (rc == 0)
            rc = ing_listen_start(listen);
        if (rc == 0) {
            printf("pitwall run: listening on");
            if (lo.udp_addr)
                printf(" udp %s (port %d)", lo.udp_addr, ing_listen_port(listen, ING_PROTO_UDP));
            if (lo.tcp_addr)
                printf(" tcp %s (port %d)", lo.tcp_addr, ing_listen_port(listen, ING_PROTO_TCP));
            printf(" into topic '%s'\n", c.listen.topic);
        }
    }
    if (rc == 0) {
        char dir[4096];
        app_log_dir(&c, dir, sizeof dir);
        fo.topic = game ? (topic ? topic : "tracking") : c.sim.topic;
        fo.rate_pps = c.sim.rate_pps;
        fo.stats_interval_ns = c.run.stats_interval_ms * PW_NS_PER_MS;
        fo.no_sim = !strcmp(label, "run") && !c.sim.enabled;
        fo.listen = listen;
        fo.listen_topic = c.listen.topic;
        fo.send = sending ? &send : NULL;
        if (!strcmp(label, "run") && c.run.game_topic && *c.run.game_topic && c.sim.enabled)
            fo.game_topic = c.run.game_topic;
        if (ap) {
            fo.tick = run_tick;
            fo.tick_ctx = &host;
        }
        if (sending)
            snprintf(dir, sizeof dir, "%s %s", udp ? "udp" : "tcp", udp ? udp : tcp);
        if (game)
            printf("pitwall %s: a football game at 10 frames/s%s into %s%s%s; Ctrl-C stops\n",
                   label, fo.max_speed ? " (no pacing: --max)" : "", sending ? "" : "topic '",
                   sending ? "" : fo.topic, sending ? "" : "'");
        else if (sending)
            printf("pitwall %s: %lld cars at %.0f points/s%s; Ctrl-C stops\n", label,
                   (long long)c.sim.cars, c.sim.rate_pps,
                   fo.max_speed ? " (no pacing: --max)" : "");
        else if (!fo.no_sim)
            printf("pitwall %s: %lld cars at %.0f points/s%s into topic '%s' (durability %s); "
                   "Ctrl-C stops\n",
                   label, (long long)c.sim.cars, c.sim.rate_pps,
                   fo.max_speed ? " (no pacing: --max)" : "", fo.topic,
                   c.log.durability == 0 ? "sync" : c.log.durability == 1 ? "group" : "none");
        if (!sending)
            printf("pitwall %s: stream log in %s\n", label, dir);
        else
            printf("pitwall %s: sending to %s\n", label, dir);
        fflush(stdout);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = game ? app_feed_game_run(&c, &names, s, &fo, &stop_requested, &err)
                  : app_feed_run(&c, &names, s, &fo, &stop_requested, &err);
    }
    if (sending)
        ing_send_close(&send);
    ing_listen_destroy(listen);
    if (host.ap) {
        pw_err_t e2 = {0};
        run_live_forget_pipeline();
        int rc2 = app_pipeline_close(host.ap, s, &e2);
        if (rc == 0 && rc2) {
            rc = rc2;
            err = e2;
        }
        if (rc == 0 && s)
            rc = pw_stream_flush(s, 5000, NULL, &err);
    }
    /* The workers have stopped offering: the server can go. */
    atomic_store(&run_live.hub, NULL);
    cmd_api_stop(api);
    pl_stats_fini(&run_live.stats);
    if (rc)
        fprintf(stderr, "pitwall %s: %s\n", label, err.msg[0] ? err.msg : pw_strerror(rc));
    pw_stream_close(s);
    app_names_close(&names);
    app_conf_fini(&c);
    return rc ? 1 : 0;
}

int cmd_run_main(int argc, char **argv)
{
    return feed_main("run", argc, argv);
}

int cmd_sim_main(int argc, char **argv)
{
    return feed_main("sim", argc, argv);
}
