/*
 * Interoperability of /v1/live with another WebSocket implementation: the
 * Node.js `ws` package (package.json, installed by `make deps` with npm
 * ci). A real server on 127.0.0.1:0 holds the latest values of a few names
 * and publishes updates of one of them every 20 ms while
 * tests/api/interop_client.js subscribes, checks the snapshot, the
 * updates, ping, error replies, the query-string token with msgpack, and a
 * 401, then prints a JSON summary that this test asserts on.
 *
 * Without node or node_modules/ws the test is skipped with the reason
 * (run `make deps`), unless CI is set: then it fails. Tests run from the
 * repository's root (make test), where the script and node_modules are.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api_conf.h"
#include "api/api_hub.h"
#include "api/api_server.h"
#include "core/pw_body.h"
#include "core/pw_conf.h"
#include "core/pw_time.h"

extern char **environ;

#define LIVE_TOKEN "interop-token-0123456789"
#define SCRIPT "tests/api/interop_client.js"

static api_conf_t conf;
static api_hub_t *hub;
static api_server_t *srv;

static void conf_set(const char *assignment)
{
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_set(&api_conf_section, &conf, assignment, &err), 0, "%s: %s",
                 assignment, err.msg);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&api_conf_section, &conf, &err), 0, "%s", err.msg);
    conf_set("listen=127.0.0.1");
    conf_set("port=0");
    conf_set("dashboards=");
    conf_set("tokens=[{token: " LIVE_TOKEN ", scopes: [read:live]}]");
    api_hub_opts_t ho = api_hub_opts_default();
    ho.producers = 1;
    cr_assert_eq(api_hub_create(&ho, &hub, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    api_server_destroy(srv);
    srv = NULL;
    api_hub_destroy(hub);
    hub = NULL;
    pw_conf_fini(&api_conf_section, &conf);
}

TestSuite(api_interop, .init = setup, .fini = teardown, .timeout = 40);

/* Is prog an executable file in a folder of PATH? */
static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return false;
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, prog);
        if (n > 0 && access(dir, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* Skip (or, under CI, fail) when what the test needs is not installed. */
static void need_node(void)
{
    const char *why = NULL;
    if (!in_path("node"))
        why = "node is not installed";
    else if (access("node_modules/ws/package.json", R_OK) != 0)
        why = "node_modules/ws is missing (or the tests do not run from the repository root)";
    else if (access(SCRIPT, R_OK) != 0)
        why = SCRIPT " is missing (the tests must run from the repository root)";
    if (why == NULL)
        return;
    if (getenv("CI") && *getenv("CI"))
        cr_assert_fail("interop with Node.js ws: %s; run `make deps`", why);
    cr_skip_test("interop with Node.js ws skipped: %s; run `make deps`", why);
}

static void publish(const char *topic, const char *key, int64_t seq, double fuel)
{
    pw_body_t b;
    pw_body_init(&b);
    pw_body_map(&b, 2);
    pw_body_key(&b, "seq");
    pw_body_i64(&b, seq);
    pw_body_key(&b, "fuel_left_l");
    pw_body_f64(&b, fuel);
    cr_assert_eq(pw_body_ok(&b), 0);
    pw_result_t r = {.ts_ns = 1700000000000000000LL + seq, .version = 1, .topic = topic,
                     .key = key, .topic_len = (uint32_t)strlen(topic),
                     .key_len = (uint32_t)strlen(key), .body = b.data,
                     .body_len = (uint32_t)b.len};
    if (srv == NULL) {
        pw_err_t err = {0};
        cr_assert_eq(api_hub_publish(hub, &r, &err), 0, "%s", err.msg);
    } else {
        pw_results_t batch = {.n = 1, .cap = 1, .rec = &r};
        cr_assert_eq(api_hub_offer(hub, 0, &batch), 0, "the hand-off dropped an update");
    }
    pw_body_fini(&b);
}

Test(api_interop, node_ws_client_subscribes_gets_snapshot_updates_and_errors)
{
    need_node();
    /* The latest values, before the server starts (the hub is ours then). */
    publish("burn", "car/1", 1, 41.5);
    publish("burn", "car/2", 2, 38.25);
    publish("pressure", "game/7", 3, 0.5);
    pw_err_t err = {0};
    api_server_opts_t so = {.conf = &conf, .hub = hub};
    cr_assert_eq(api_server_create(&so, &srv, &err), 0, "%s", err.msg);
    cr_assert_eq(api_server_start(srv, &err), 0, "%s", err.msg);

    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/v1/live", api_server_port(srv));
    int out[2];
    cr_assert_eq(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {"node", SCRIPT, url, LIVE_TOKEN, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "node", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    cr_assert_eq(rc, 0, "cannot run node: %s", strerror(rc));
    fcntl(out[0], F_SETFL, O_NONBLOCK);

    /* Publish burn/car/1 every 20 ms while reading what node prints. */
    char buf[16384];
    size_t len = 0;
    int64_t seq = 10, deadline = pw_mono_ns() + 30 * PW_NS_PER_S;
    bool eof = false;
    while (!eof && pw_mono_ns() < deadline) {
        publish("burn", "car/1", seq, 41.5 - 0.01 * (double)seq);
        seq++;
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
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
        kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert(eof, "node did not finish in 30 s; it printed: %s", buf);
    cr_log_info("interop_client.js: %s", buf);

    json_error_t je;
    json_t *s = json_loads(buf, 0, &je);
    cr_assert_not_null(s, "node's summary is not JSON (%s): %s", je.text, buf);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "node failed: %s",
              json_string_value(json_object_get(s, "error")));
    /* The ack names the patterns and echoes the id. */
    json_t *sub = json_object_get(s, "subscribed");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(sub, "topics"), 0)),
                     "burn/car/*");
    cr_assert_eq(json_integer_value(json_object_get(sub, "id")), 1);
    /* A snapshot of each matching name, with its latest body; none other. */
    json_t *snap = json_object_get(s, "snapshots");
    cr_assert_eq(json_object_size(snap), 2, "snapshots: %s", buf);
    json_t *c1 = json_object_get(snap, "burn/car/1"), *c2 = json_object_get(snap, "burn/car/2");
    cr_assert_not_null(c1);
    cr_assert_not_null(c2);
    cr_assert_eq(json_integer_value(json_object_get(c2, "seq")), 2);
    cr_assert_float_eq(json_real_value(json_object_get(c2, "fuel_left_l")), 38.25, 1e-9);
    /* Updates, in order. */
    cr_assert_eq(json_integer_value(json_object_get(s, "updates")), 3);
    cr_assert(json_is_true(json_object_get(s, "seq_increasing")), "%s", buf);
    cr_assert_str_eq(json_string_value(json_object_get(s, "pong_id")), "p1");
    /* Clear errors for bad messages. */
    json_t *bj = json_object_get(s, "bad_json");
    cr_assert_str_eq(json_string_value(json_object_get(bj, "code")), "bad_json");
    cr_assert(strstr(json_string_value(json_object_get(bj, "message")), "JSON"), "%s", buf);
    json_t *bp = json_object_get(s, "bad_pattern");
    cr_assert_str_eq(json_string_value(json_object_get(bp, "code")), "bad_pattern");
    cr_assert_str_eq(json_string_value(json_object_get(bp, "id")), "b");
    cr_assert(strstr(json_string_value(json_object_get(bp, "message")), "burn/*x"), "%s", buf);
    /* msgpack snapshot as a binary frame, token in the query string. */
    json_t *mp = json_object_get(s, "msgpack");
    cr_assert(json_is_true(json_object_get(mp, "binary")), "%s", buf);
    cr_assert(json_is_true(json_object_get(mp, "map")), "%s", buf);
    cr_assert(json_is_true(json_object_get(mp, "has_snapshot")), "%s", buf);
    /* An unknown token: 401 with {"error":"unauthorized"}. */
    json_t *ua = json_object_get(s, "unauthorized");
    cr_assert_eq(json_integer_value(json_object_get(ua, "status")), 401, "%s", buf);
    cr_assert_str_eq(json_string_value(json_object_get(ua, "error")), "unauthorized");
    cr_assert(json_is_true(json_object_get(s, "ok")), "%s", buf);
    json_decref(s);
}
