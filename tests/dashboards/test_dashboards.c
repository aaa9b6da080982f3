/*
 * The dashboards in a real browser: runs tests/dashboards/e2e.js (Node,
 * playwright-core driving Debian's chromium) against `pitwall run` on the
 * simulator (PITWALL_BIN) and asserts on the JSON summary it prints: every
 * page loaded with no console errors and its values changed, the pressure
 * alert appeared on the page and the on-air bug when the simulated game
 * produced a sack, the overlays render on a transparent background, a
 * page without the chart library still loads with a note, and the pages
 * reconnected after the server restarted. Screenshots land in
 * build/screenshots/.
 *
 * Without node, chromium or node_modules/playwright-core the test is
 * skipped with the reason (as root, `make deps` installs them; otherwise
 * it says what to install), unless CI is set: then it fails. Tests run
 * from the repository's root (make test).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define E2E "tests/dashboards/e2e.js"
#define CHROMIUM "/usr/bin/chromium"

TestSuite(dashboards, .timeout = 170);

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return false;
    char buf[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
        if (n > 0 && access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

static void need_browser(void)
{
    const char *why = NULL;
    if (!on_path("node"))
        why = "node is not installed";
    else if (access(CHROMIUM, X_OK) != 0)
        why = CHROMIUM " is not installed (Debian package chromium)";
    else if (access("node_modules/playwright-core/package.json", R_OK) != 0)
        why = "node_modules/playwright-core is missing (npm ci), or the tests do not run from "
              "the repository root";
    else if (access("node_modules/uplot/dist/uPlot.iife.min.js", R_OK) != 0)
        why = "node_modules/uplot is missing (npm ci)";
    else if (access(E2E, R_OK) != 0)
        why = E2E " is missing (the tests must run from the repository root)";
    if (why == NULL)
        return;
    if (getenv("CI") && *getenv("CI"))
        cr_assert_fail("dashboards in chromium: %s; run `make deps`", why);
    if (geteuid() != 0)
        cr_skip_test("dashboards in chromium skipped: %s; as root, run `make deps` "
                     "(apt-get install chromium nodejs npm; npm ci)", why);
    cr_skip_test("dashboards in chromium skipped: %s; run `make deps`", why);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *get(json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

Test(dashboards, pages_alert_overlays_and_reconnect_in_chromium)
{
    need_browser();
    signal(SIGPIPE, SIG_IGN);
    const char *bin = getenv("PITWALL_BIN");
    if (bin == NULL || *bin == '\0')
        bin = "bin/pitwall";
    cr_assert_eq(access(bin, X_OK), 0, "no pitwall binary at %s (PITWALL_BIN)", bin);
    setenv("PITWALL_BIN", bin, 1);

    int out[2];
    cr_assert_eq(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {"node", E2E, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "node", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    cr_assert_eq(rc, 0, "cannot run node: %s", strerror(rc));
    fcntl(out[0], F_SETFL, O_NONBLOCK);

    /* e2e.js cuts itself at 120 s; give it 140 before killing it. */
    static char buf[1 << 16];
    size_t len = 0;
    bool eof = false;
    double deadline = mono_s() + 140;
    while (!eof && mono_s() < deadline && len < sizeof buf - 1) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 200) > 0) {
            ssize_t n = read(out[0], buf + len, sizeof buf - 1 - len);
            if (n > 0)
                len += (size_t)n;
            else if (n == 0 || errno != EAGAIN)
                eof = true;
        }
    }
    close(out[0]);
    buf[len] = '\0';
    int status = 0;
    if (!eof)
        kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    cr_assert(eof, "e2e.js did not finish in 140 s; it printed: %s", buf);
    cr_log_info("e2e.js: %s", buf);

    json_error_t je;
    json_t *s = json_loads(buf, 0, &je);
    cr_assert_not_null(s, "e2e.js's summary is not JSON (%s): %s", je.text, buf);

    /* Every page: loaded, no console errors, values changed. */
    const char *pages[] = {"index", "burn", "pressure", "moments", "system", "overlay-burn",
                           "overlay-pressure"};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        json_t *pg = json_object_get(json_object_get(s, "pages"), pages[i]);
        cr_assert_not_null(pg, "page %s was not tested: %s", pages[i], buf);
        cr_assert(json_is_true(json_object_get(pg, "loaded")), "%s did not load: %s", pages[i], buf);
        cr_assert_eq(json_array_size(json_object_get(pg, "console_errors")), 0,
                     "%s logged console errors: %s", pages[i], buf);
        cr_assert(json_is_true(json_object_get(pg, "changed")), "%s: values did not change: %s",
                  pages[i], buf);
    }
    /* The charts drew (the library was there). */
    cr_assert(json_is_true(get(s, "pages.pressure.chart")), "%s", buf);
    cr_assert_eq(json_integer_value(get(s, "pages.system.charts")), 2, "%s", buf);
    /* Key moments: events listed; one opened shows its frames with 22 players. */
    cr_assert_gt(json_integer_value(get(s, "pages.moments.events")), 0, "%s", buf);
    cr_assert_gt(json_integer_value(get(s, "pages.moments.frames")), 10, "%s", buf);
    cr_assert_eq(json_integer_value(get(s, "pages.moments.players_drawn")), 22, "%s", buf);
    /* The sack's pressure alert, on the page and on air. */
    cr_assert(json_is_number(get(s, "alert.page_at_s")), "no alert on pressure.html: %s", buf);
    cr_assert(json_is_number(get(s, "alert.overlay_at_s")), "no alert bug on the overlay: %s", buf);
    cr_assert(json_is_true(get(s, "alert.overlay_transparent")), "%s", buf);
    /* The burn lower third: three cars on a transparent background. */
    cr_assert_eq(json_integer_value(get(s, "pages.overlay-burn.rows")), 3, "%s", buf);
    cr_assert(json_is_true(get(s, "overlay.transparent")), "%s", buf);
    /* Without the chart library: a note, no script error. */
    cr_assert(json_is_true(get(s, "no_vendor.note")), "%s", buf);
    cr_assert_eq(json_integer_value(get(s, "no_vendor.page_errors")), 0, "%s", buf);
    /* Down while the server is stopped, live again after it restarts. */
    cr_assert(json_is_true(get(s, "reconnect.saw_down")), "%s", buf);
    cr_assert(json_is_true(get(s, "reconnect.live_again")), "%s", buf);
    cr_assert_eq(json_array_size(json_object_get(s, "screenshots")), 7, "%s", buf);
    cr_assert(json_is_true(json_object_get(s, "ok")), "%s", buf);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "e2e.js failed: %s", buf);
    json_decref(s);
}
