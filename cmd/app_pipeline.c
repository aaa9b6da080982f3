/*
 * app_pipeline: store + pipeline + the stream-sink queue for a host.
 */
#include "cmd/app_pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_fs.h"
#include "core/pw_log.h"
#include "core/pw_time.h"
#include "models/md_coef.h"
#include "store/st_results.h"

/* Most bytes of stream-sink batches waiting for the owner thread. */
#define QUEUE_MAX_BYTES ((size_t)64 << 20)

typedef struct queued {
    struct queued *next;
    char *topic;
    size_t len;
    uint8_t data[];
} queued_t;

/* Set by SIGHUP: reload every model's coefficients now. */
static volatile sig_atomic_t reload_requested;

static void on_sighup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

struct app_pipeline {
    st_results_t *store;
    pl_pipeline_t *pl;
    pthread_mutex_t mu;
    queued_t *head, *tail; /* guarded by mu */
    size_t queued_bytes;   /* guarded by mu */
    uint64_t queue_refused;
    pl_stats_t prev;
    int64_t prev_ns;
    bool have_prev;
    int64_t next_reload_ns;
};

void app_store_dir(const app_conf_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s/store", c->data_dir ? c->data_dir : ".");
}

/* Checkpoint writer thread: copy the batch for the owner thread. */
static int queue_append(void *ctx, const char *topic, const void *payload, size_t len,
                        pw_err_t *err)
{
    app_pipeline_t *ap = ctx;
    pthread_mutex_lock(&ap->mu);
    bool full = ap->queued_bytes + len > QUEUE_MAX_BYTES;
    if (full)
        ap->queue_refused++;
    pthread_mutex_unlock(&ap->mu);
    if (full)
        return pw_err_set(err, PW_EFULL, "the stream log's owner is %zu MiB behind",
                          QUEUE_MAX_BYTES >> 20);
    queued_t *q = malloc(sizeof *q + len);
    char *t = strdup(topic);
    if (q == NULL || t == NULL) {
        free(q);
        free(t);
        return pw_err_set(err, -ENOMEM, "out of memory");
    }
    q->next = NULL;
    q->topic = t;
    q->len = len;
    memcpy(q->data, payload, len);
    pthread_mutex_lock(&ap->mu);
    if (ap->tail)
        ap->tail->next = q;
    else
        ap->head = q;
    ap->tail = q;
    ap->queued_bytes += len;
    pthread_mutex_unlock(&ap->mu);
    return 0;
}

/* Create the topics stream sinks write to, so appends cannot fail later. */
static int create_sink_topics(const app_conf_t *c, pw_stream_t *s, pw_err_t *err)
{
    for (size_t i = 0; i < c->pipeline.noperators; i++) {
        const pl_node_conf_t *n = &c->pipeline.operators[i];
        if (!n->stream_line || n->stream.topic == NULL)
            continue;
        int rc = pw_stream_topic_create(s, n->stream.topic, 1, NULL, err);
        if (rc == PW_EEXIST)
            continue;
        if (rc)
            return rc;
    }
    return 0;
}

int app_pipeline_open(const app_conf_t *c, app_names_t *names, pw_stream_t *s,
                      const app_pipeline_opts_t *o, app_pipeline_t **out, pw_err_t *err)
{
    app_pipeline_t *ap = calloc(1, sizeof *ap);
    if (ap == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&ap->mu, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sighup;
    sigaction(SIGHUP, &sa, NULL);
    char dir[4096];
    app_store_dir(c, dir, sizeof dir);
    st_results_opts_t so = st_results_opts_default();
    so.dir = dir;
    so.map_size_mb = (size_t)(c->store.map_size >> 20);
    so.sync = c->store.sync;
    so.retention_age_ns = c->store.retention_age_ms * PW_NS_PER_MS;
    so.retention_bytes = c->store.retention_bytes;
    int rc = create_sink_topics(c, s, err);
    if (rc == 0)
        rc = st_results_open(&so, &ap->store, err);
    if (rc == 0) {
        pl_pipeline_opts_t po = {
            .conf = &c->pipeline,
            .conf_path = c->path ? c->path : "configuration",
            .names = {names->channels, names->entities, names->labels},
            .stream = s,
            .store = ap->store,
            .workers = o->workers,
            .exit_at_end = o->exit_at_end,
            .reset = o->reset,
            .hook = o->hook,
            .hook_ctx = o->hook_ctx,
            .stream_append = queue_append,
            .host = ap,
        };
        rc = pl_pipeline_create(&po, &ap->pl, err);
    }
    if (rc == 0)
        rc = app_names_publish(names, s, err); /* names the graph interned */
    if (rc) {
        pw_err_t e2;
        app_pipeline_close(ap, s, &e2);
        return rc;
    }
    *out = ap;
    return 0;
}

int app_pipeline_start(app_pipeline_t *ap, pw_err_t *err)
{
    return pl_pipeline_start(ap->pl, err);
}

int app_pipeline_workers(app_pipeline_t *ap)
{
    pl_stats_t st = {0};
    int n = pl_pipeline_stats(ap->pl, &st) == 0 ? st.workers : 0;
    pl_stats_fini(&st);
    return n > 0 ? n : 1;
}

struct st_results *app_pipeline_store(app_pipeline_t *ap)
{
    return ap->store;
}

static int drain(app_pipeline_t *ap, pw_stream_t *s, pw_err_t *err)
{
    pthread_mutex_lock(&ap->mu);
    queued_t *q = ap->head;
    ap->head = ap->tail = NULL;
    ap->queued_bytes = 0;
    pthread_mutex_unlock(&ap->mu);
    int rc = 0;
    while (q) {
        queued_t *next = q->next;
        pw_stream_pos_t pos;
        if (rc == 0) {
            rc = pw_stream_append(s, q->topic, PW_STREAM_PARTITION_ANY, NULL, 0, q->data,
                                  q->len, &pos, err);
            if (rc)
                pw_log(PW_LOG_WARN, "pipeline: stream sink to '%s': %s", q->topic, err->msg);
        }
        free(q->topic);
        free(q);
        q = next;
    }
    return rc;
}

/* Model files that changed (every second) or all of them (SIGHUP). */
static void reload_models(app_pipeline_t *ap)
{
    int64_t now = pw_mono_ns();
    bool force = reload_requested != 0;
    if (!force && now < ap->next_reload_ns)
        return;
    reload_requested = 0;
    ap->next_reload_ns = now + PW_NS_PER_S;
    int n = 0;
    pw_err_t err = {0};
    if (md_coef_poll(force, &n, &err) != 0)
        pw_log(PW_LOG_WARN, "models: %s", err.msg);
    if (n > 0)
        pw_log(PW_LOG_INFO, "models: %d model file%s reloaded%s", n, n == 1 ? "" : "s",
               force ? " (SIGHUP)" : "");
}

int app_pipeline_tick(app_pipeline_t *ap, pw_stream_t *s, app_names_t *names, pw_err_t *err)
{
    reload_models(ap);
    int rc = drain(ap, s, err);
    if (rc == 0)
        rc = app_names_load(names, s, err);
    return rc;
}

int app_pipeline_stats(app_pipeline_t *ap, pl_stats_t *s)
{
    return pl_pipeline_stats(ap->pl, s);
}

void app_pipeline_print_stats(app_pipeline_t *ap, FILE *f, bool per_operator)
{
    pl_stats_t cur = {0};
    if (pl_pipeline_stats(ap->pl, &cur) != 0)
        return;
    int64_t now = pw_mono_ns();
    double dt = ap->have_prev ? (double)(now - ap->prev_ns) / PW_NS_PER_S : 0;
    int nops = cur.nops;
    if (!per_operator)
        cur.nops = 0; /* the summary line only */
    pl_stats_print(f, &cur, ap->have_prev ? &ap->prev : NULL, dt);
    cur.nops = nops;
    if (cur.error)
        fprintf(f, "pipeline: stopped: %s\n", cur.error_msg);
    fflush(f);
    pl_stats_fini(&ap->prev);
    ap->prev = cur;
    ap->prev_ns = now;
    ap->have_prev = true;
}

bool app_pipeline_done(app_pipeline_t *ap)
{
    return pl_pipeline_done(ap->pl);
}

int app_pipeline_stop(app_pipeline_t *ap, pw_err_t *err)
{
    return pl_pipeline_stop(ap->pl, err);
}

int app_pipeline_close(app_pipeline_t *ap, pw_stream_t *s, pw_err_t *err)
{
    if (ap == NULL)
        return 0;
    int rc = pl_pipeline_stop(ap->pl, err);
    pw_err_t e2 = {0};
    if (s)
        drain(ap, s, &e2);
    pl_pipeline_destroy(ap->pl);
    st_results_close(ap->store);
    pl_stats_fini(&ap->prev);
    pthread_mutex_destroy(&ap->mu);
    free(ap);
    return rc;
}
