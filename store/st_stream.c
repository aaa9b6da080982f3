/*
 * The embedded pw_stream backend: pw_stream_t on top of st_log.
 *
 * An owner handle owns the st_log_t and one reader; it is the log's owner
 * thread's handle. Reader handles (st_stream_open_embedded_reader) share
 * the owner's log for other threads of the same process, each with its
 * own st_log_reader_t, and cannot write.
 */
#include "store/st_log.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>

/* How often the owner's poll runs retention, in ns. */
#define RETAIN_EVERY_NS ((int64_t)1000000000)

typedef struct st_stream {
    pw_stream_t base;
    st_log_t *log;           /* owned by the owner handle */
    st_log_reader_t *reader; /* this handle's own */
    struct st_stream *owner; /* NULL on the owner handle */
    atomic_int nreaders;     /* owner: reader handles open */
    int64_t last_retain_ns;  /* owner: last retention run */
} st_stream_t;

static st_stream_t *ss(pw_stream_t *s)
{
    return (st_stream_t *)s;
}

static int not_owner(const st_stream_t *s, const char *what, pw_err_t *err)
{
    (void)s;
    return pw_err_set(err, PW_EUNSUPPORTED,
                      "embedded stream: %s on a reader handle; send it to "
                      "the thread that owns the log",
                      what);
}

static int emb_topic_create(pw_stream_t *s, const char *topic,
                            int32_t partitions,
                            const pw_stream_retention_t *retention,
                            pw_err_t *err)
{
    st_stream_t *e = ss(s);
    if (e->owner != NULL)
        return not_owner(e, "topic create", err);
    return st_log_topic_create(e->log, topic, partitions, retention, err);
}

static int emb_topic_list(pw_stream_t *s, pw_stream_topic_fn fn, void *ctx,
                          pw_err_t *err)
{
    return st_log_topics(ss(s)->reader, fn, ctx, err);
}

static int emb_append(pw_stream_t *s, const char *topic, int32_t partition,
                      const void *key, size_t key_len, const void *payload,
                      size_t payload_len, pw_stream_pos_t *out, pw_err_t *err)
{
    st_stream_t *e = ss(s);
    if (e->owner != NULL)
        return not_owner(e, "append", err);
    return st_log_append(e->log, topic, partition, key, key_len, payload,
                         payload_len, st_log_now_ns(), out, err);
}

static int emb_poll(pw_stream_t *s, uint64_t *acked_seq, pw_err_t *err)
{
    st_stream_t *e = ss(s);
    int rc = 0;
    if (e->owner == NULL) {
        int64_t now = st_log_now_ns();
        rc = st_log_poll(e->log, now, err);
        if (rc == 0 && (now - e->last_retain_ns >= RETAIN_EVERY_NS ||
                        now < e->last_retain_ns)) {
            e->last_retain_ns = now;
            rc = st_log_retain(e->log, now, NULL, err);
        }
    }
    if (acked_seq != NULL)
        *acked_seq = st_log_acked_seq(e->log);
    return rc;
}

static int emb_flush(pw_stream_t *s, int timeout_ms, uint64_t *acked_seq,
                     pw_err_t *err)
{
    (void)timeout_ms; /* a commit is bounded by the disk, not a timer */
    st_stream_t *e = ss(s);
    int rc = 0;
    if (e->owner == NULL)
        rc = st_log_flush(e->log, err);
    if (acked_seq != NULL)
        *acked_seq = st_log_acked_seq(e->log);
    return rc;
}

static int emb_read(pw_stream_t *s, const char *topic, int32_t partition,
                    int64_t from, pw_stream_msg_t *msgs, size_t max,
                    size_t *n, pw_err_t *err)
{
    return st_log_read(ss(s)->reader, topic, partition, from, msgs, max, n,
                       err);
}

static int emb_bounds(pw_stream_t *s, const char *topic, int32_t partition,
                      int64_t *earliest, int64_t *next, pw_err_t *err)
{
    return st_log_bounds(ss(s)->reader, topic, partition, earliest, next,
                         err);
}

static int emb_position_commit(pw_stream_t *s, const char *group,
                               const char *topic, int32_t partition,
                               int64_t next_offset, pw_err_t *err)
{
    st_stream_t *e = ss(s);
    if (e->owner != NULL)
        return not_owner(e, "position commit", err);
    return st_log_position_commit(e->log, group, topic, partition,
                                  next_offset, err);
}

static int emb_position_get(pw_stream_t *s, const char *group,
                            const char *topic, int32_t partition,
                            int64_t *next_offset, pw_err_t *err)
{
    return st_log_position_get(ss(s)->reader, group, topic, partition,
                               next_offset, err);
}

static void emb_close(pw_stream_t *s)
{
    st_stream_t *e = ss(s);
    st_log_reader_destroy(e->reader);
    if (e->owner != NULL) {
        atomic_fetch_sub(&e->owner->nreaders, 1);
    } else {
        assert(atomic_load(&e->nreaders) == 0 &&
               "close every reader handle before the owner");
        st_log_close(e->log, NULL);
    }
    free(e);
}

static const pw_stream_ops_t embedded_ops = {
    .name = "embedded",
    .topic_create = emb_topic_create,
    .topic_list = emb_topic_list,
    .append = emb_append,
    .poll = emb_poll,
    .flush = emb_flush,
    .read = emb_read,
    .bounds = emb_bounds,
    .position_commit = emb_position_commit,
    .position_get = emb_position_get,
    .close = emb_close,
};

int st_stream_open_embedded(const st_log_opts_t *opts, pw_stream_t **out,
                            pw_err_t *err)
{
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "embedded stream: out is NULL");
    st_stream_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return pw_err_set(err, PW_ENOMEM, "embedded stream: out of memory");
    e->base.ops = &embedded_ops;
    atomic_init(&e->nreaders, 0);
    e->last_retain_ns = st_log_now_ns();
    int rc = st_log_open(opts, &e->log, err);
    if (rc == 0 && (rc = st_log_reader_create(e->log, &e->reader, err)) != 0)
        st_log_close(e->log, NULL);
    if (rc != 0) {
        free(e);
        return rc;
    }
    *out = &e->base;
    return 0;
}

int st_stream_open_embedded_reader(pw_stream_t *owner, pw_stream_t **out,
                                   pw_err_t *err)
{
    if (owner == NULL || out == NULL || owner->ops != &embedded_ops ||
        ss(owner)->owner != NULL)
        return pw_err_set(err, PW_EARG,
                          "embedded stream reader: owner is not an embedded "
                          "stream opened with st_stream_open_embedded");
    st_stream_t *o = ss(owner);
    st_stream_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return pw_err_set(err, PW_ENOMEM, "embedded stream: out of memory");
    e->base.ops = &embedded_ops;
    e->log = o->log;
    e->owner = o;
    int rc = st_log_reader_create(e->log, &e->reader, err);
    if (rc != 0) {
        free(e);
        return rc;
    }
    atomic_fetch_add(&o->nreaders, 1);
    *out = &e->base;
    return 0;
}
