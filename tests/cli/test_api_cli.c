/*
 * pitwall api next to a separate pitwall pipeline process: the api follows
 * the results topic the pipeline's `stream` sink appends to, and a
 * WebSocket subscriber gets the pipeline's results live. A real api
 * process (loopback, port 0, stopped at the end), a real pipeline process
 * and a minimal WebSocket client on a raw socket (RFC 6455: handshake,
 * masked text frames out, unmasked frames in). Every wait has a deadline.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "core/pw_time.h"

TestSuite(cli_api, .fini = cli_scratch_remove, .timeout = 120);

static const char *TOKEN = "test-token-follow-0123456789";

static const char *GRAPH =
    "store: {sync: false}\n"
    "api: {results_topic: results, dashboards: \"\"}\n"
    "pipeline:\n"
    "  checkpoint_interval: 10ms\n"
    "  sources:\n"
    "    - {name: telemetry, topic: telemetry, disorder: 50ms, idle_timeout: 0}\n"
    "  operators:\n"
    "    - {name: speed, input: [telemetry], filter: {channels: [speed_mps]}}\n"
    "    - {name: keyed, input: [speed], key_by: {by: [entity, channel]}}\n"
    "    - {name: speed_1s, input: [keyed], window: {type: tumbling, size: 1s,\n"
    "       aggregates: [count, mean, max]}}\n"
    "    - {name: out, input: [speed_1s], store: {}}\n"
    "    - {name: pub, input: [speed_1s], stream: {topic: results}}\n";

/* A child pitwall with its stdout on a pipe. */
typedef struct child {
    pid_t pid;
    int out; /* read end of its stdout */
    char buf[8192];
    size_t len;
} child_t;

static void child_spawn(child_t *c, const char *const *args)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    memset(c, 0, sizeof *c);
    c->pid = fork();
    cr_assert_geq(c->pid, 0);
    if (c->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        const char *argv[32] = {cli_bin()};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        execv(cli_bin(), (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    c->out = fds[0];
}

/* Wait for `want` in the child's stdout; returns where it starts or NULL. */
static const char *child_wait_for(child_t *c, const char *want, int timeout_ms)
{
    int64_t end = pw_mono_ns() + (int64_t)timeout_ms * PW_NS_PER_MS;
    for (;;) {
        c->buf[c->len] = '\0';
        const char *at = strstr(c->buf, want);
        if (at)
            return at;
        int64_t left = (end - pw_mono_ns()) / PW_NS_PER_MS;
        if (left <= 0 || c->len + 1 >= sizeof c->buf)
            return NULL;
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(c->out, c->buf + c->len, sizeof c->buf - 1 - c->len);
        if (n <= 0)
            return NULL; /* it exited */
        c->len += (size_t)n;
    }
}

/* SIGTERM, then SIGKILL if it is not gone within 10 s; returns its status. */
static int child_stop(child_t *c)
{
    kill(c->pid, SIGTERM);
    int st = 0;
    int64_t end = pw_mono_ns() + 10 * PW_NS_PER_S;
    while (waitpid(c->pid, &st, WNOHANG) == 0) {
        if (pw_mono_ns() > end) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &st, 0);
            break;
        }
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        char tmp[512];
        if (poll(&p, 1, 20) > 0 && read(c->out, tmp, sizeof tmp) <= 0)
            p.fd = -1; /* end of its output: waitpid tells the rest */
    }
    close(c->out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- A minimal WebSocket client --------------------------------------- */

static int ws_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s",
                 strerror(errno));
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /v1/live?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     TOKEN, port);
    cr_assert_eq(write(fd, req, (size_t)n), n);
    /* The answer's header, byte by byte up to the blank line, so no frame
     * byte after it is taken. */
    char hdr[2048];
    size_t len = 0;
    int64_t end = pw_mono_ns() + 10 * PW_NS_PER_S;
    while (len < 4 || memcmp(hdr + len - 4, "\r\n\r\n", 4) != 0) {
        cr_assert_lt(len + 1, sizeof hdr, "handshake answer too long");
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 1000), -1);
        cr_assert_lt(pw_mono_ns(), end, "no handshake answer");
        if (!(p.revents & POLLIN))
            continue;
        cr_assert_eq(read(fd, hdr + len, 1), 1, "connection closed in the handshake");
        len++;
    }
    hdr[len] = '\0';
    cr_assert(strstr(hdr, " 101 ") != NULL, "handshake refused: %s", hdr);
    return fd;
}

static void ws_send_text(int fd, const char *text)
{
    size_t n = strlen(text);
    cr_assert_lt(n, 126);
    unsigned char f[256];
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f[0] = 0x81; /* FIN, text */
    f[1] = 0x80 | (unsigned char)n;
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = (unsigned char)text[i] ^ mask[i % 4];
    cr_assert_eq(write(fd, f, 6 + n), (ssize_t)(6 + n));
}

/* Read exactly n bytes by the deadline; false on timeout or close. */
static bool read_full(int fd, void *buf, size_t n, int64_t end)
{
    size_t got = 0;
    while (got < n) {
        int left = (int)((end - pw_mono_ns()) / PW_NS_PER_MS);
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* The next text message (NUL-terminated, malloc'd), or NULL by the deadline. */
static char *ws_next_text(int fd, int64_t end)
{
    for (;;) {
        unsigned char h[2];
        if (!read_full(fd, h, 2, end))
            return NULL;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            unsigned char e[2];
            if (!read_full(fd, e, 2, end))
                return NULL;
            len = (uint64_t)e[0] << 8 | e[1];
        } else if (len == 127) {
            unsigned char e[8];
            if (!read_full(fd, e, 8, end))
                return NULL;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | e[i];
        }
        cr_assert_lt(len, 1u << 24, "frame of %llu bytes", (unsigned long long)len);
        char *p = malloc(len + 1);
        cr_assert_not_null(p);
        if (!read_full(fd, p, len, end)) {
            free(p);
            return NULL;
        }
        p[len] = '\0';
        int op = h[0] & 0x0f;
        if (op == 0x8) { /* close */
            free(p);
            return NULL;
        }
        if (op == 0x1 && (h[0] & 0x80))
            return p;
        free(p); /* ping, pong, binary, fragments: not used here */
    }
}

Test(cli_api, a_subscriber_gets_results_of_a_separate_pipeline_process)
{
    const char *dir = cli_scratch_make();
    FILE *f = fopen(cli_scratch_conf(), "a");
    cr_assert_not_null(f);
    fputs(GRAPH, f);
    fclose(f);

    /* A recorded race (~23 s of event time) in the scratch log. */
    const char *sim[] = {"sim", "--race", "--conf", cli_scratch_conf(), "--max", "--count",
                         "100000", NULL};
    cli_result_t r = cli_run(sim, NULL, 0, 60000);
    cr_assert_eq(r.status, 0, "sim: %s", r.err);
    cli_result_free(&r);

    /* The api first: no results topic and no store exist yet. */
    const char *api_args[] = {"api", "--conf", cli_scratch_conf(), "--port", "0", "--token",
                              TOKEN, "--duration", "100", NULL};
    child_t api;
    child_spawn(&api, api_args);
    const char *url = child_wait_for(&api, "/v1/live\n", 20000);
    cr_assert_not_null(url, "api printed no URL: %s", api.buf);
    cr_assert(strstr(api.buf, "following results topic 'results'"), "%s", api.buf);
    const char *ws = strstr(api.buf, "ws://127.0.0.1:");
    cr_assert_not_null(ws, "%s", api.buf);
    int port = atoi(ws + strlen("ws://127.0.0.1:"));
    cr_assert_gt(port, 0, "%s", api.buf);

    int fd = ws_connect(port);
    ws_send_text(fd, "{\"op\":\"subscribe\",\"topics\":[\"speed_1s/#\"],\"id\":1}");
    int64_t end = pw_mono_ns() + 10 * PW_NS_PER_S;
    char *m = ws_next_text(fd, end);
    cr_assert_not_null(m, "no answer to subscribe");
    cr_assert(strstr(m, "\"op\":\"subscribed\""), "%s", m);
    free(m);

    /* The pipeline, a process of its own, over the recorded race. */
    const char *pl[] = {"pipeline", "--conf", cli_scratch_conf(), "--exit-at-end", NULL};
    r = cli_run(pl, NULL, 0, 60000);
    cr_assert_eq(r.status, 0, "pipeline: %s", r.err);
    cli_result_free(&r);

    /* Every car's 1 s speed reaches the subscriber, live, as updates. */
    int updates = 0;
    bool car[5] = {false};
    end = pw_mono_ns() + 20 * PW_NS_PER_S;
    while (updates < 4 * 20 && (m = ws_next_text(fd, end)) != NULL) {
        if (strstr(m, "\"op\":\"update\"")) {
            cr_assert(strstr(m, "\"topic\":\"speed_1s\""), "%s", m);
            const char *k = strstr(m, "\"key\":\"car/");
            cr_assert_not_null(k, "%s", m);
            int c = atoi(k + strlen("\"key\":\"car/"));
            if (c >= 1 && c <= 4)
                car[c] = true;
            updates++;
        }
        free(m);
    }
    cr_assert_geq(updates, 4 * 20, "%d updates", updates);
    for (int c = 1; c <= 4; c++)
        cr_assert(car[c], "no update of car/%d", c);
    close(fd);

    cr_assert_eq(child_stop(&api), 0, "api exit status");
    (void)dir;
}
