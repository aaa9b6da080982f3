/*
 * pitwall api: the result store (data_dir/store, read-only) and the live
 * hub served over WebSocket and HTTP, without a pipeline. Also the helper
 * `pitwall run` uses to host the same server next to its pipeline.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_auth.h"
#include "api/api_hub.h"
#include "api/api_server.h"
#include "cmd/app_conf.h"
#include "cmd/app_pipeline.h"
#include "cmd/cmd.h"
#include "core/pw_log.h"
#include "core/pw_time.h"
#include "store/st_results.h"

struct cmd_api {
    api_hub_t *hub;
    api_server_t *srv;
    char token[API_AUTH_TOKEN_MAX + 1]; /* the admin token of flag, env or generated */
    bool generated;
    bool tls;
    char host[256];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int cmd_api_start(const struct app_conf *c, const char *token_flag, int producers,
                  struct st_results *store, api_health_fn health, void *health_ctx,
                  cmd_api_t **out, pw_err_t *err)
{
    cmd_api_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory");
    const char *tok = token_flag ? token_flag : getenv("PITWALL_TOKEN");
    int rc = 0;
    if (tok && *tok) {
        if (strlen(tok) > API_AUTH_TOKEN_MAX)
            rc = pw_err_set(err, PW_EUSAGE, "the token is longer than %d bytes",
                            API_AUTH_TOKEN_MAX);
        else
            snprintf(a->token, sizeof a->token, "%s", tok);
    } else if (c->api.ntokens == 0) {
        /* No token anywhere: make one, so the server is never open. */
        rc = api_auth_generate(a->token, sizeof a->token);
        if (rc)
            pw_err_set(err, rc, "cannot generate a token: %s", pw_strerror(rc));
        a->generated = rc == 0;
    }
    api_hub_opts_t ho = api_hub_opts_default();
    ho.producers = producers > 0 ? producers : 1;
    ho.client_queue = (size_t)c->api.limits.client_queue;
    ho.max_behind = (size_t)c->api.limits.max_behind;
    ho.max_subscriptions = (size_t)c->api.limits.max_subscriptions;
    if (rc == 0)
        rc = api_hub_create(&ho, &a->hub, err);
    api_server_opts_t so = {
        .conf = &c->api,
        .admin_token = a->token[0] ? a->token : NULL,
        .hub = a->hub,
        .store = store,
        .health = health,
        .health_ctx = health_ctx,
        .conf_path = c->path,
    };
    if (rc == 0)
        rc = api_server_create(&so, &a->srv, err);
    if (rc == 0)
        rc = api_server_start(a->srv, err);
    if (rc) {
        cmd_api_stop(a);
        return rc;
    }
    a->tls = api_server_tls(a->srv);
    const char *l = c->api.listen && *c->api.listen ? c->api.listen : "127.0.0.1";
    if (!strcmp(l, "0.0.0.0") || !strcmp(l, "::"))
        l = "127.0.0.1"; /* every interface: this machine's is one of them */
    snprintf(a->host, sizeof a->host, strchr(l, ':') ? "[%s]" : "%s", l);
    *out = a;
    return 0;
}

api_hub_t *cmd_api_hub(cmd_api_t *a)
{
    return a ? a->hub : NULL;
}

void cmd_api_print(const cmd_api_t *a, const char *label, FILE *f)
{
    int port = api_server_port(a->srv);
    const char *s = a->tls ? "s" : "";
    /* A secret is printed only when it was made here: nobody else knows it. */
    if (a->generated) {
        fprintf(f, "pitwall %s: dashboards at http%s://%s:%d/?token=%s\n", label, s, a->host,
                port, a->token);
        fprintf(f, "pitwall %s: live WebSocket ws%s://%s:%d/v1/live (admin token %s, "
                   "generated; set PITWALL_TOKEN or --token to choose it)\n",
                label, s, a->host, port, a->token);
    } else {
        fprintf(f, "pitwall %s: dashboards at http%s://%s:%d/ (add ?token=<your token>)\n",
                label, s, a->host, port);
        fprintf(f, "pitwall %s: live WebSocket ws%s://%s:%d/v1/live\n", label, s, a->host,
                port);
    }
    fflush(f);
}

void cmd_api_stop(cmd_api_t *a)
{
    if (a == NULL)
        return;
    api_server_destroy(a->srv);
    api_hub_destroy(a->hub);
    volatile char *p = a->token;
    for (size_t i = 0; i < sizeof a->token; i++)
        p[i] = 0;
    free(a);
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

int cmd_api_main(int argc, char **argv)
{
    app_conf_flags_t flags = {0};
    const char *token = NULL;
    char port_set[64];
    int64_t duration_ns = 0;
    for (int i = 1; i < argc; i++) {
        int t = app_conf_take_flag(&flags, argc, argv, &i, "api");
        if (t < 0)
            return 2;
        if (t > 0)
            continue;
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--port") && has_value) {
            if (flags.nsets == sizeof flags.sets / sizeof flags.sets[0])
                return cmd_usage_error("api", "too many --set flags");
            snprintf(port_set, sizeof port_set, "api.port=%s", argv[++i]);
            flags.sets[flags.nsets++] = port_set;
        } else if (!strcmp(a, "--token") && has_value) {
            token = argv[++i];
            if (!*token)
                return cmd_usage_error("api", "--token is empty");
        } else if (!strcmp(a, "--duration") && has_value) {
            if (parse_seconds(argv[++i], &duration_ns))
                return cmd_usage_error("api", "--duration wants seconds > 0, got '%s'",
                                       argv[i]);
        } else {
            return cmd_usage_error("api", "unknown or incomplete argument '%s'", a);
        }
    }
    app_conf_t c;
    pw_err_t err = {0};
    if (app_conf_load(&flags, &c, &err)) {
        fprintf(stderr, "pitwall api: %s\n", err.msg);
        return 1;
    }
    char dir[4096];
    app_store_dir(&c, dir, sizeof dir);
    st_results_opts_t so = st_results_opts_default();
    so.dir = dir;
    so.map_size_mb = (size_t)(c.store.map_size >> 20);
    so.read_only = true;
    st_results_t *store = NULL;
    int rc = st_results_open(&so, &store, &err);
    if (rc == PW_ENOTFOUND) {
        fprintf(stderr, "pitwall api: no result store in %s yet: serving live results "
                        "only\n", dir);
        rc = 0;
    }
    cmd_api_t *api = NULL;
    if (rc == 0)
        rc = cmd_api_start(&c, token, 1, store, NULL, NULL, &api, &err);
    if (rc == 0) {
        if (store)
            printf("pitwall api: serving the result store in %s (read-only)\n", dir);
        cmd_api_print(api, "api", stdout);
        printf("pitwall api: Ctrl-C stops\n");
        fflush(stdout);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* The server runs on its own thread; this one only waits for a stop. */
        int64_t end = duration_ns ? pw_mono_ns() + duration_ns : INT64_MAX;
        while (!stop_requested && pw_mono_ns() < end)
            pw_sleep_until_ns(pw_mono_ns() + 50 * PW_NS_PER_MS);
    }
    if (rc)
        fprintf(stderr, "pitwall api: %s\n", err.msg[0] ? err.msg : pw_strerror(rc));
    cmd_api_stop(api);
    st_results_close(store);
    app_conf_fini(&c);
    return rc ? 1 : 0;
}
