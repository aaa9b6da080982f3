/*
 * The models as a user runs them: `pitwall run` with the fuel model in its
 * graph picks up a new model file without a restart, both when the file is
 * replaced (noticed within a second) and on SIGHUP, and stamps the version
 * that made each result.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "core/pw_body.h"
#include "store/st_results.h"

TestSuite(cli_models, .fini = cli_scratch_remove, .timeout = 120);

/* The Bristol truck telemetry, or skip (fail under CI) without the data. */
static const char *bristol(char *path, size_t cap)
{
    const char *root = getenv("PITWALL_DATA");
    snprintf(path, cap, "%s/racing/iracing/nascar-truck-bristol.ibt",
             root && *root ? root : "../shared/data");
    if (access(path, R_OK) != 0) {
        if (getenv("CI"))
            cr_assert_fail("%s is missing (CI must run on the data)", path);
        cr_skip_test("%s is missing: set PITWALL_DATA", path);
    }
    return path;
}

/* Train the fuel model on file into out with the given split; its version. */
static char *train(const char *file, const char *out, const char *split)
{
    setenv("PITWALL_FUEL_SPLIT", split, 1);
    const char *args[] = {"train", "--model", "fuel", "--data", file, "--out", out, NULL};
    cli_result_t r = cli_run(args, NULL, 0, 60000);
    unsetenv("PITWALL_FUEL_SPLIT");
    cr_assert_eq(r.status, 0, "train: %s", r.err);
    cli_result_free(&r);
    json_error_t jerr;
    json_t *root = json_load_file(out, 0, &jerr);
    cr_assert_not_null(root, "%s: %s", out, jerr.text);
    const char *v = json_string_value(json_object_get(root, "version"));
    cr_assert_not_null(v, "%s has no version", out);
    char *copy = strdup(v);
    json_decref(root);
    return copy;
}

/* Replace dst by src the way an engineer deploys a file: write, rename. */
static void deploy(const char *src, const char *dst)
{
    char tmp[600], cmd[1400];
    snprintf(tmp, sizeof tmp, "%s.new", dst);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv '%s' '%s'", src, tmp, tmp, dst);
    cr_assert_eq(system(cmd), 0);
}

typedef struct seen {
    char versions[8][64]; /* in the order car/1's results first show them */
    int n;
    long results;
} seen_t;

static int note_version(void *ctx, const pw_result_t *r)
{
    seen_t *s = ctx;
    if (r->key_len != 5 || memcmp(r->key, "car/1", 5) != 0)
        return 0;
    char json[2048];
    cr_assert_gt(pw_body_to_json(r->body, r->body_len, json, sizeof json), 0);
    const char *v = strstr(json, "\"version\":\"");
    cr_assert_not_null(v, "a result without its model version: %s", json);
    v += strlen("\"version\":\"");
    size_t len = strcspn(v, "\"");
    cr_assert_lt(len, sizeof s->versions[0]);
    s->results++;
    if (s->n == 0 || strncmp(s->versions[s->n - 1], v, len) != 0 ||
        s->versions[s->n - 1][len] != '\0') {
        cr_assert_lt(s->n, 8, "versions flap");
        memcpy(s->versions[s->n], v, len);
        s->versions[s->n][len] = '\0';
        s->n++;
    }
    return 0;
}

Test(cli_models, run_reloads_the_model_when_its_file_changes_and_on_sighup)
{
    char data[512];
    bristol(data, sizeof data);
    const char *dir = cli_scratch_make();
    char a[512], b[512], model[512], datadir[512];
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    snprintf(model, sizeof model, "%s/fuel.json", dir);
    snprintf(datadir, sizeof datadir, "%s/data", dir);
    /* Two honest fits of the same car: first half and second half. */
    char *va = train(data, a, "half");
    char *vb = train(data, b, "swap");
    cr_assert_str_neq(va, vb);
    deploy(a, model);

    FILE *f = fopen(cli_scratch_conf(), "a");
    cr_assert_not_null(f);
    fprintf(f,
            "store: {sync: false}\n"
            "pipeline:\n"
            "  checkpoint_interval: 50ms\n"
            "  sources:\n"
            "    - {name: telemetry, topic: telemetry, disorder: 50ms, idle_timeout: 0}\n"
            "  operators:\n"
            "    - {name: car, input: [telemetry],\n"
            "       filter: {channels: [throttle, rpm, speed_mps, lap, lap_dist_pct,"
            " fuel_level_l]}}\n"
            "    - {name: burn, input: [car], fuel: {model: '%s'}}\n"
            "    - {name: out, input: [burn], store: {}}\n",
            model);
    fclose(f);

    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(cli_bin(), "pitwall", "run", "--conf", cli_scratch_conf(), "--duration", "7",
              (char *)NULL);
        _exit(127);
    }
    sleep(2);
    deploy(b, model); /* noticed by the once-a-second poll */
    sleep(2);
    /* Back to a, with SIGHUP (a forced reload of every model file): the run
     * must take it as a reload, not die of it. */
    deploy(a, model);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pitwall run ended with %d",
              status);

    char store[600];
    snprintf(store, sizeof store, "%s/store", datadir);
    st_results_opts_t so = st_results_opts_default();
    so.dir = store;
    so.read_only = true;
    st_results_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&so, &s, &err), 0, "%s", err.msg);
    seen_t seen = {0};
    cr_assert_eq(st_results_scan(s, "burn", "car/1", INT64_MIN, INT64_MAX, note_version, &seen,
                                 &err),
                 0, "%s", err.msg);
    st_results_close(s);
    cr_assert_gt(seen.results, 30, "only %ld results for car/1", seen.results);
    /* car/1's results in time order: a, then b, then a again. */
    cr_assert_eq(seen.n, 3, "versions seen: %d (first %s)", seen.n, seen.versions[0]);
    cr_assert_str_eq(seen.versions[0], va);
    cr_assert_str_eq(seen.versions[1], vb);
    cr_assert_str_eq(seen.versions[2], va);
    free(va);
    free(vb);
}
