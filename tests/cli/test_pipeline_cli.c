/*
 * pitwall pipeline and pitwall ops as a user runs them, and the
 * exactly-once promise: a real pitwall process killed with SIGKILL at
 * random moments, restarted each time, ends with the same store as a run
 * that was never interrupted.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "core/pw_body.h"
#include "core/pw_time.h"
#include "store/st_results.h"

TestSuite(cli_pipeline, .fini = cli_scratch_remove, .timeout = 300);

static const char *GRAPH =
    "store: {sync: false}\n"
    "pipeline:\n"
    "  checkpoint_interval: 2ms\n"
    "  sources:\n"
    "    - {name: telemetry, topic: telemetry, disorder: 50ms, idle_timeout: 0}\n"
    "  operators:\n"
    "    - {name: speed, input: [telemetry], filter: {channels: [speed_mps]}}\n"
    "    - {name: keyed, input: [speed], key_by: {by: [entity, channel]}}\n"
    "    - {name: speed_1s, input: [keyed], window: {type: tumbling, size: 1s,\n"
    "       aggregates: [count, mean, max, stddev]}}\n"
    "    - {name: laps, input: [telemetry], filter: {channels: [lap, speed_mps]}}\n"
    "    - {name: by_car, input: [laps], key_by: {by: [entity]}}\n"
    "    - {name: lap, input: [by_car], window: {type: segment, marker: lap,\n"
    "       channel: speed_mps, aggregates: [count, mean, max]}}\n"
    "    - {name: out, input: [speed_1s, lap], store: {}}\n";

/* The scratch configuration plus the graph above. */
static void add_graph(void)
{
    FILE *f = fopen(cli_scratch_conf(), "a");
    cr_assert_not_null(f);
    fputs(GRAPH, f);
    fclose(f);
}

typedef struct lines {
    char **v;
    size_t n, cap;
} lines_t;

static int collect(void *ctx, const pw_result_t *r)
{
    lines_t *l = ctx;
    char json[1024];
    cr_assert_geq(pw_body_to_json(r->body, r->body_len, json, sizeof json), 0);
    char *s = NULL;
    cr_assert_geq(asprintf(&s, "%.*s %.*s %lld v%u %s", (int)r->topic_len, r->topic,
                           (int)r->key_len, r->key, (long long)r->ts_ns, r->version, json), 0);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
    return 0;
}

static void scan(const char *data_dir, lines_t *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store", data_dir);
    st_results_opts_t so = st_results_opts_default();
    so.dir = path;
    so.read_only = true;
    st_results_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&so, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(st_results_scan(s, NULL, NULL, INT64_MIN, INT64_MAX, collect, out, &err), 0,
                 "%s", err.msg);
    st_results_close(s);
}

static void lines_free(lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static cli_result_t run_pipeline(const char *data_dir, int timeout_ms)
{
    const char *args[] = {"pipeline", "--conf", cli_scratch_conf(), "--data-dir", data_dir,
                          "--exit-at-end", "--workers", "2", NULL};
    return cli_run(args, NULL, 0, timeout_ms);
}

Test(cli_pipeline, keeps_exactly_the_results_of_a_clean_run_across_kill_9)
{
    const char *dir = cli_scratch_make();
    add_graph();
    char clean[512], killed[512], cmd[2048];
    snprintf(clean, sizeof clean, "%s/clean", dir);
    snprintf(killed, sizeof killed, "%s/killed", dir);
    /* One recorded race (1M points, ~4 minutes of event time), two copies. */
    const char *sim[] = {"sim", "--conf", cli_scratch_conf(), "--data-dir", clean, "--max",
                         "--count", "1000000", NULL};
    cli_result_t r = cli_run(sim, NULL, 0, 60000);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cli_result_free(&r);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp -r '%s/log' '%s/log'", killed, clean, killed);
    cr_assert_eq(system(cmd), 0);

    int64_t t0 = pw_mono_ns();
    r = run_pipeline(clean, 120000);
    cr_assert_eq(r.status, 0, "clean run: %s", r.err);
    cli_result_free(&r);
    int clean_ms = (int)((pw_mono_ns() - t0) / PW_NS_PER_MS);

    /* Kill -9 at random moments of a run, restarting from the checkpoint. */
    srand((unsigned)time(NULL));
    int kills = 0;
    for (int i = 0; i < 6; i++) {
        int at = 5 + rand() % (clean_ms / 3 + 1);
        r = run_pipeline(killed, at);
        cr_assert(r.status == -1 || r.status == 0, "run %d: status %d: %s", i, r.status, r.err);
        kills += r.status == -1;
        cli_result_free(&r);
    }
    r = run_pipeline(killed, 120000);
    cr_assert_eq(r.status, 0, "last run: %s", r.err);
    cli_result_free(&r);
    cr_assert_geq(kills, 3, "only %d of 6 runs were killed before they ended (clean run %d ms)",
                  kills, clean_ms);

    lines_t a = {0}, b = {0};
    scan(clean, &a);
    scan(killed, &b);
    cr_assert_gt(a.n, 4 * 200, "%zu results", a.n);
    cr_assert_eq(a.n, b.n, "clean run stored %zu results, killed runs %zu", a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        cr_assert_str_eq(a.v[i], b.v[i], "result %zu", i);
    lines_free(&a);
    lines_free(&b);
}

Test(cli_pipeline, names_a_bad_graph_with_file_and_line)
{
    cli_scratch_make();
    FILE *f = fopen(cli_scratch_conf(), "a");
    cr_assert_not_null(f);
    fputs("pipeline:\n"
          "  sources:\n"
          "    - {name: telemetry, topic: telemetry}\n"
          "  operators:\n"
          "    - {name: w, input: [telemetry], window: {type: tumbling, size: 1s}}\n", f);
    fclose(f);
    const char *args[] = {"pipeline", "--conf", cli_scratch_conf(), NULL};
    cli_result_t r = cli_run(args, NULL, 0, 20000);
    cr_assert_eq(r.status, 1, "%s", r.err);
    char want[600];
    snprintf(want, sizeof want, "pitwall pipeline: %s:14: operator 'w':", cli_scratch_conf());
    cr_assert(strstr(r.err, want), "%s", r.err);
    cli_result_free(&r);
}

Test(cli_pipeline, ops_lists_every_operator_with_its_keys)
{
    const char *args[] = {"ops", NULL};
    cli_result_t r = cli_run(args, NULL, 0, 20000);
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *want[] = {"filter", "compute", "key_by", "window", "frame_points", "join",
                          "store", "stream", "hook", "allowed_lateness", "aggregates", "late"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "no '%s' in:\n%s", want[i], r.out);
    cli_result_free(&r);
}
