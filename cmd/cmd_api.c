/*
 * pitwall api: the result store (data_dir/store, read-only) and the live
 * hub served over WebSocket and HTTP, without a pipeline. Also the helper
 * `pitwall run` uses to host the same server next to its pipeline.
 *
 * Next to a separate `pitwall pipeline` process, `api.results_topic` makes
 * it follow that topic of the embedded log (data_dir/log), where the
 * pipeline's `stream` sink appends results batches once their checkpoint
 * commits: a follower thread of its own opens the log read-only, reads the
 * topic from its end at start (or from its beginning if the topic appears
 * later), and offers every result to the hub as a producer of its own, so
 * subscribers get live updates. HTTP queries read the store with a read
 * transaction per call, which sees every commit of the pipeline process.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_auth.h"
#include "api/api_hub.h"
#include "api/api_server.h"
#include "cmd/app_conf.h"
#include "cmd/app_pipeline.h"
#include "cmd/cmd.h"
#include "core/pw_codec.h"
#include "core/pw_log.h"
#include "core/pw_stream.h"
#include "core/pw_time.h"
#include "store/st_conf.h"
#include "store/st_log.h"
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
                  struct st_results *store, const cmd_api_host_t *host, cmd_api_t **out,
                  pw_err_t *err)
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
        .health = host ? host->health : NULL,
        .health_ctx = host ? host->ctx : NULL,
        .metrics = host ? host->metrics : NULL,
        .metrics_ctx = host ? host->ctx : NULL,
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

/* ---- Following a results topic ---------------------------------------------- */

/* Messages read from one partition at a time. */
#define FOLLOW_BATCH 64

/* Wait between looks when there is nothing new, ns. */
#define FOLLOW_IDLE_NS (20 * PW_NS_PER_MS)

/* Wait before retrying when the log or topic is missing or fails, ns. */
#define FOLLOW_RETRY_NS (100 * PW_NS_PER_MS)

/*
 * The follower of api.results_topic. The main thread sets the first
 * fields, starts and joins the thread; everything below `thread` belongs
 * to the follower thread (it owns the log handle: the embedded backend's
 * handle is used by the thread that opened it).
 */
typedef struct follow {
    const app_conf_t *c;      /* borrowed until join */
    const char *topic;
    api_hub_t *hub;
    int producer;             /* the hub ring this thread alone offers to */
    atomic_bool stop;
    pthread_t thread;
    bool started;
    /* Follower thread only. */
    pw_stream_t *s;
    pw_codec_decoder_t *dec;
    pw_results_t batch;
    bool looked;              /* the topic was looked for once: a topic
                                 found later is read from its beginning */
    int32_t nparts;           /* 0 until the topic is found */
    int64_t *next;            /* [nparts]: next offset to read */
    uint64_t results, dropped, malformed;
    char warned[PW_ERR_MSG_MAX]; /* the last warning, not repeated */
} follow_t;

static void follow_warn(follow_t *f, const char *msg)
{
    if (strcmp(f->warned, msg) == 0)
        return;
    snprintf(f->warned, sizeof f->warned, "%s", msg);
    pw_log(PW_LOG_WARN, "api: following '%s': %s", f->topic, msg);
}

typedef struct find_topic {
    const char *name;
    int32_t partitions;
} find_topic_t;

static int find_topic_cb(void *ctx, const pw_stream_topic_info_t *t)
{
    find_topic_t *ft = ctx;
    if (strcmp(t->name, ft->name) == 0) {
        ft->partitions = t->partitions;
        return 1;
    }
    return 0;
}

/* Open the log and find the topic; 0 when ready, 1 to retry later. */
static int follow_attach(follow_t *f)
{
    pw_err_t err = {0};
    if (f->s == NULL) {
        char dir[4096];
        app_log_dir(f->c, dir, sizeof dir);
        st_log_opts_t o = st_log_conf_opts(&f->c->log, dir);
        o.read_only = true;
        int rc = st_stream_open_embedded(&o, &f->s, &err);
        if (rc) {
            f->s = NULL;
            if (rc != PW_ENOTFOUND)
                follow_warn(f, err.msg);
            f->looked = true; /* no log yet: whatever comes is new */
            return 1;
        }
    }
    find_topic_t ft = {f->topic, 0};
    int rc = pw_stream_topic_list(f->s, find_topic_cb, &ft, &err);
    if (rc < 0) {
        follow_warn(f, err.msg);
        return 1;
    }
    if (ft.partitions <= 0) {
        f->looked = true;
        return 1;
    }
    int64_t *next = calloc((size_t)ft.partitions, sizeof *next);
    if (next == NULL)
        return 1;
    for (int32_t p = 0; p < ft.partitions; p++) {
        int64_t earliest = 0, end = 0;
        if (pw_stream_bounds(f->s, f->topic, p, &earliest, &end, &err) != 0) {
            follow_warn(f, err.msg);
            free(next);
            return 1;
        }
        /* At start, from the end (the store has the past); a topic made
         * while we watch, from its beginning. */
        next[p] = f->looked ? earliest : end;
    }
    f->next = next;
    f->nparts = ft.partitions;
    f->looked = true;
    pw_log(PW_LOG_INFO, "api: following results topic '%s' (%d partitions)", f->topic,
           (int)ft.partitions);
    return 0;
}

/* Read what is new in partition p and offer it; *got counts messages. */
static void follow_partition(follow_t *f, int32_t p, size_t *got)
{
    pw_stream_msg_t msgs[FOLLOW_BATCH];
    size_t n = 0;
    pw_err_t err = {0};
    int rc = pw_stream_read(f->s, f->topic, p, f->next[p], msgs, FOLLOW_BATCH, &n, &err);
    if (rc == PW_ERANGE) {
        /* Retention went past us, or the topic was made again: go on from
         * what is there. */
        int64_t earliest, end;
        if (pw_stream_bounds(f->s, f->topic, p, &earliest, &end, NULL) == 0)
            f->next[p] = f->next[p] < earliest ? earliest : end;
        return;
    }
    if (rc) {
        follow_warn(f, err.msg);
        return;
    }
    for (size_t m = 0; m < n; m++) {
        f->next[p] = msgs[m].offset + 1;
        rc = pw_codec_decode_results(f->dec, msgs[m].payload, msgs[m].payload_len, &f->batch,
                                     &err);
        if (rc) {
            f->malformed++;
            follow_warn(f, err.msg);
            continue;
        }
        /* The hub copies the results (the views into the log end at the
         * next read); what does not fit its ring is dropped and counted. */
        size_t dropped = api_hub_offer(f->hub, f->producer, &f->batch);
        f->results += f->batch.n - dropped;
        f->dropped += dropped;
        if (dropped)
            follow_warn(f, "the hub's hand-off ring is full: results dropped");
    }
    *got += n;
}

static void *follow_main(void *arg)
{
    follow_t *f = arg;
    while (!atomic_load(&f->stop)) {
        if (f->nparts == 0 && follow_attach(f) != 0) {
            pw_sleep_until_ns(pw_mono_ns() + FOLLOW_RETRY_NS);
            continue;
        }
        size_t got = 0;
        for (int32_t p = 0; p < f->nparts; p++)
            follow_partition(f, p, &got);
        if (got == 0)
            pw_sleep_until_ns(pw_mono_ns() + FOLLOW_IDLE_NS);
    }
    return NULL;
}

/* Start following c->api.results_topic as hub producer `producer`. */
static int follow_start(follow_t *f, const app_conf_t *c, api_hub_t *hub, int producer,
                        pw_err_t *err)
{
    memset(f, 0, sizeof *f);
    f->c = c;
    f->topic = c->api.results_topic;
    f->hub = hub;
    f->producer = producer;
    atomic_init(&f->stop, false);
    pw_results_init(&f->batch);
    int rc = pw_codec_decoder_create(&f->dec);
    if (rc)
        return pw_err_set(err, rc, "api.results_topic: cannot make a decoder: %s",
                          pw_strerror(rc));
    rc = pthread_create(&f->thread, NULL, follow_main, f);
    if (rc) {
        pw_codec_decoder_destroy(f->dec);
        f->dec = NULL;
        return pw_err_set(err, -rc, "api.results_topic: cannot start a thread: %s",
                          strerror(rc));
    }
    f->started = true;
    return 0;
}

static void follow_stop(follow_t *f)
{
    if (!f->started)
        return;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    f->started = false;
    pw_log(PW_LOG_INFO, "api: followed '%s': %llu results to the hub, %llu dropped, "
                        "%llu malformed messages",
           f->topic, (unsigned long long)f->results, (unsigned long long)f->dropped,
           (unsigned long long)f->malformed);
    if (f->s)
        pw_stream_close(f->s);
    free(f->next);
    pw_codec_decoder_destroy(f->dec);
    pw_results_fini(&f->batch);
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
    const char *topic = c.api.results_topic;
    bool follow = topic != NULL && topic[0] != '\0';
    int rc = 0;
    if (follow && (rc = pw_stream_topic_check(topic, &err)) != 0) {
        fprintf(stderr, "pitwall api: api.results_topic: %s\n", err.msg);
        app_conf_fini(&c);
        return 1;
    }
    char dir[4096];
    app_store_dir(&c, dir, sizeof dir);
    st_results_opts_t so = st_results_opts_default();
    so.dir = dir;
    so.map_size_mb = (size_t)(c.store.map_size >> 20);
    so.read_only = true;
    st_results_t *store = NULL;
    rc = st_results_open(&so, &store, &err);
    if (rc == PW_ENOTFOUND && follow) {
        /* A pipeline will write here: make the (empty) store now, so this
         * read-only view sees its commits as they come. */
        so.read_only = false;
        rc = st_results_open(&so, &store, &err);
        st_results_close(store);
        store = NULL;
        so.read_only = true;
        if (rc == 0)
            rc = st_results_open(&so, &store, &err);
    }
    if (rc == PW_ENOTFOUND) {
        fprintf(stderr, "pitwall api: no result store in %s yet: serving live results "
                        "only\n", dir);
        rc = 0;
    }
    cmd_api_t *api = NULL;
    follow_t fol = {0};
    /* The follower offers as a producer of its own: one more ring. */
    if (rc == 0)
        rc = cmd_api_start(&c, token, follow ? 2 : 1, store, NULL, &api, &err);
    if (rc == 0 && follow)
        rc = follow_start(&fol, &c, cmd_api_hub(api), 1, &err);
    if (rc == 0) {
        if (store)
            printf("pitwall api: serving the result store in %s (read-only)\n", dir);
        if (follow)
            printf("pitwall api: following results topic '%s' of the log\n", topic);
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
    follow_stop(&fol); /* before the hub it offers to goes */
    cmd_api_stop(api);
    st_results_close(store);
    app_conf_fini(&c);
    return rc ? 1 : 0;
}
