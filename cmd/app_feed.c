#include "cmd/app_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_codec.h"
#include "core/pw_hist.h"
#include "core/pw_record.h"
#include "core/pw_time.h"
#include "ingest/ing_listen.h"
#include "ingest/ing_sim.h"
#include "ingest/ing_simgame.h"

/* Longest a generated point waits before its batch is appended. */
#define LINGER_NS (10 * PW_NS_PER_MS)

typedef struct feed {
    pw_stream_t *s;
    const char *topic;
    int32_t partitions;
    int32_t *part_of;      /* partition of each entity id */
    size_t nent;
    pw_points_t all;       /* generated, not yet split */
    pw_points_t *part;     /* per partition */
    pw_codec_buf_t buf;
    ing_send_t *send;      /* send instead of append */
    uint64_t points, batches, bytes, acked_seq, last_seq;
    uint64_t live_points, live_batches; /* appended from listeners */
    uint64_t live_prev[ING_SRC_COUNT][2]; /* records, bytes at the last line */
    int64_t live_prev_ns;
    pw_hist_t append_lat;
} feed_t;

static int topic_partitions(feed_t *f, pw_err_t *err)
{
    int64_t e, n;
    int32_t p = 0;
    /* Probe partitions until one is out of range: works on every backend. */
    while (pw_stream_bounds(f->s, f->topic, p, &e, &n, NULL) == 0)
        p++;
    if (p == 0)
        return pw_err_set(err, PW_ENOTFOUND,
                          "topic '%s' does not exist (create it with `pitwall stream create` "
                          "or list it under stream.topics)", f->topic);
    f->partitions = p;
    return 0;
}

/* Split the generated points by partition and append one batch each. */
static int feed_flush(feed_t *f, pw_err_t *err)
{
    if (f->all.n == 0)
        return 0;
    for (int32_t p = 0; p < f->partitions; p++)
        pw_points_clear(&f->part[p]);
    for (size_t i = 0; i < f->all.n; i++) {
        uint32_t e = f->all.entity[i];
        int32_t p = e < f->nent ? f->part_of[e] : 0;
        pw_point_t pt = {f->all.ts_ns[i], e, f->all.channel[i], f->all.value[i]};
        if (pw_points_push(&f->part[p], &pt))
            return pw_err_set(err, PW_ENOMEM, "out of memory splitting a batch");
    }
    for (int32_t p = 0; p < f->partitions; p++) {
        if (f->part[p].n == 0)
            continue;
        int64_t t0 = pw_mono_ns();
        int rc;
        if (f->send) {
            rc = ing_send_points(f->send, &f->part[p], err);
            if (rc)
                return rc;
            f->bytes += f->send->buf.len;
        } else {
            rc = pw_codec_encode_points(&f->buf, &f->part[p], err);
            if (rc)
                return rc;
            pw_stream_pos_t pos;
            rc = pw_stream_append(f->s, f->topic, p, NULL, 0, f->buf.data, f->buf.len, &pos,
                                  err);
            if (rc)
                return rc;
            f->last_seq = pos.seq;
            f->bytes += f->buf.len;
        }
        pw_hist_record(&f->append_lat, (uint64_t)(pw_mono_ns() - t0));
        f->batches++;
    }
    f->points += f->all.n;
    pw_points_clear(&f->all);
    return f->s ? pw_stream_poll(f->s, &f->acked_seq, err) : 0;
}

/*
 * Append one batch a listener received to the listen topic, keyed by its
 * connection (TCP) or sender (UDP), so one sender's batches stay in order
 * in one partition. Names the listener added are published first.
 */
static int feed_live(feed_t *f, app_names_t *names, const app_feed_opts_t *o,
                     const ing_batch_t *b, pw_err_t *err)
{
    int rc = app_names_publish(names, f->s, err);
    if (rc == 0)
        rc = b->kind == PW_CODEC_POINTS ? pw_codec_encode_points(&f->buf, b->points, err)
                                        : pw_codec_encode_frames(&f->buf, b->frames, err);
    char key[128];
    if (b->source == ING_SRC_UDP)
        ing_addr_format(b->peer, b->peer_len, key, sizeof key);
    else
        snprintf(key, sizeof key, "tcp/%llu", (unsigned long long)b->conn);
    pw_stream_pos_t pos;
    if (rc == 0)
        rc = pw_stream_append(f->s, o->listen_topic, PW_STREAM_PARTITION_ANY, key, strlen(key),
                              f->buf.data, f->buf.len, &pos, err);
    if (rc == 0) {
        f->last_seq = pos.seq;
        f->live_batches++;
        f->live_points += b->kind == PW_CODEC_POINTS ? b->points->n : b->frames->n;
        f->bytes += f->buf.len;
    }
    return rc;
}

/* Append every batch waiting in the listener; wait up to timeout_ms for the
 * first. */
static int feed_drain(feed_t *f, app_names_t *names, const app_feed_opts_t *o, int timeout_ms,
                      pw_err_t *err)
{
    ing_batch_t b;
    int rc = 0;
    while (rc == 0 && ing_listen_pop(o->listen, &b, timeout_ms) == 0) {
        rc = feed_live(f, names, o, &b, err);
        ing_listen_release(o->listen);
        timeout_ms = 0;
    }
    if (rc == 0)
        rc = pw_stream_poll(f->s, &f->acked_seq, err);
    return rc;
}

/* One line per live source that has seen traffic: rates since the last
 * line, drops, malformed input, last event time and lag behind the wall
 * clock; then what went into the log. */
static void print_live_stats(feed_t *f, const app_feed_opts_t *o)
{
    static const char *const src_names[ING_SRC_COUNT] = {"udp", "tcp", "json"};
    int64_t now = pw_mono_ns();
    double secs = f->live_prev_ns ? (double)(now - f->live_prev_ns) / PW_NS_PER_S : 0;
    for (int src = 0; src < ING_SRC_COUNT; src++) {
        ing_listen_stats_t st;
        if (ing_listen_stats(o->listen, (enum ing_source)src, &st) != 0 || st.bytes == 0)
            continue;
        uint64_t recs = st.points + st.frames;
        double rps = secs > 0 ? (double)(recs - f->live_prev[src][0]) / secs : 0;
        double bps = secs > 0 ? (double)(st.bytes - f->live_prev[src][1]) / secs : 0;
        printf("pitwall %s: %s: %.0f points/s %.2f MB/s | %llu points/frames, %llu dropped "
               "(%llu by the kernel), %llu malformed | last event %.3f s, lag %.1f ms\n",
               o->label, src_names[src], rps, bps / 1e6, (unsigned long long)recs,
               (unsigned long long)st.drops, (unsigned long long)st.kernel_drops,
               (unsigned long long)st.malformed,
               st.last_ts_ns == INT64_MIN ? 0.0 : (double)st.last_ts_ns / 1e9,
               (double)st.lag_ns / 1e6);
        f->live_prev[src][0] = recs;
        f->live_prev[src][1] = st.bytes;
    }
    f->live_prev_ns = now;
    printf("pitwall %s: live: %llu points/frames appended in %llu batches to '%s'\n", o->label,
           (unsigned long long)f->live_points, (unsigned long long)f->live_batches,
           o->listen_topic);
}

static void print_stats(feed_t *f, const app_feed_opts_t *o, double secs,
                        uint64_t dpoints, uint64_t dbatches, uint64_t dbytes)
{
    if (o->listen)
        print_live_stats(f, o);
    if (o->no_sim) {
        fflush(stdout);
        return;
    }
    char acked[64] = "";
    if (!f->send) /* a sender gets no acknowledgements */
        snprintf(acked, sizeof acked, " | acked %llu/%llu", (unsigned long long)f->acked_seq,
                 (unsigned long long)f->last_seq);
    printf("pitwall %s: %8.0f points/s %6.0f batches/s %6.2f MB/s | total %llu points "
           "%llu batches%s | %s p50 %.1f us p99 %.1f us\n",
           o->label, (double)dpoints / secs, (double)dbatches / secs,
           (double)dbytes / secs / 1e6, (unsigned long long)f->points,
           (unsigned long long)f->batches, acked, f->send ? "send" : "append",
           pw_hist_quantile(&f->append_lat, 0.5) / 1e3,
           pw_hist_quantile(&f->append_lat, 0.99) / 1e3);
    fflush(stdout);
}

/* The football game `pitwall run` plays beside the race. */
typedef struct game_feed {
    ing_simgame_t *g;
    pw_frames_t frames;
    pw_codec_buf_t buf;
    char key[64];
    uint64_t frames_sent;
} game_feed_t;

/* Append the frames due by event time `until` (a few at most). */
static int game_step(game_feed_t *gf, pw_stream_t *s, const char *topic, int64_t until,
                     pw_err_t *err)
{
    pw_frames_clear(&gf->frames);
    long got = ing_simgame_next(gf->g, until, 16, &gf->frames);
    if (got < 0)
        return pw_err_set(err, PW_ENOMEM, "game simulator: out of memory");
    if (got == 0)
        return 0;
    pw_stream_pos_t pos;
    int rc = pw_codec_encode_frames(&gf->buf, &gf->frames, err);
    if (rc == 0)
        rc = pw_stream_append(s, topic, PW_STREAM_PARTITION_ANY, gf->key, strlen(gf->key),
                              gf->buf.data, gf->buf.len, &pos, err);
    gf->frames_sent += (uint64_t)got;
    return rc;
}

int app_feed_run(const app_conf_t *c, app_names_t *names, pw_stream_t *s,
                 const app_feed_opts_t *o, volatile sig_atomic_t *stop, pw_err_t *err)
{
    feed_t f;
    memset(&f, 0, sizeof f);
    f.s = s;
    f.send = o->send;
    f.topic = o->topic;
    pw_points_init(&f.all);
    pw_codec_buf_init(&f.buf);
    pw_hist_init(&f.append_lat);
    ing_sim_t *sim = NULL;
    int64_t start_wall = pw_wall_ns(), start = pw_mono_ns();
    ing_sim_opts_t so = {.cars = (uint32_t)c->sim.cars,
                         .extra_channels = (uint32_t)c->sim.extra_channels,
                         .rate_pps = o->rate_pps,
                         .seed = (uint64_t)c->sim.seed,
                         .start_ns = start_wall};
    int rc = 0;
    if (!o->no_sim) {
        if (f.send)
            f.partitions = 1; /* one sender: one ordered stream */
        else
            rc = topic_partitions(&f, err);
        if (rc == 0)
            rc = ing_sim_create(&so, names->channels, names->entities, &sim, err);
        if (rc == 0 && s) /* the cars' names, before any batch that uses them */
            rc = app_names_publish(names, s, err);
    }
    game_feed_t gf;
    memset(&gf, 0, sizeof gf);
    pw_frames_init(&gf.frames);
    pw_codec_buf_init(&gf.buf);
    if (rc == 0 && o->game_topic && s) {
        ing_simgame_opts_t go = {.seed = (uint64_t)c->sim.seed, .start_ns = start_wall,
                                 .session = (uint64_t)(start_wall / PW_NS_PER_S)};
        snprintf(gf.key, sizeof gf.key, "game/%llu", (unsigned long long)go.session);
        rc = ing_simgame_create(&go, names->entities, names->labels, &gf.g, err);
        if (rc == 0)
            rc = app_names_publish(names, s, err);
    }
    if (rc == 0 && sim) {
        f.nent = pw_intern_count(names->entities) + 1;
        f.part_of = calloc(f.nent, sizeof *f.part_of);
        f.part = calloc((size_t)f.partitions, sizeof *f.part);
        if (!f.part_of || !f.part)
            rc = pw_err_set(err, PW_ENOMEM, "out of memory");
    }
    for (size_t e = 1; rc == 0 && e < f.nent; e++) {
        const char *name = pw_intern_name(names->entities, (uint32_t)e);
        f.part_of[e] = pw_stream_partition_for_key(name, strlen(name), f.partitions);
    }
    size_t tick = sim ? ing_sim_tick_points(sim) : 1;
    size_t batch = (size_t)c->sim.batch_points;
    if (batch < tick)
        batch = tick; /* the simulator emits whole ticks */
    int64_t next_stats = start + o->stats_interval_ns;
    int64_t last_flush = start, stats_t0 = start;
    uint64_t sp = 0, sb = 0, sby = 0;
    while (rc == 0 && !*stop) {
        int64_t now = pw_mono_ns();
        if (o->duration_ns && now - start >= o->duration_ns)
            break;
        long got = 0;
        if (sim) {
            uint64_t made = f.points + f.all.n;
            /* A count stops at the last whole tick that fits. */
            if (o->max_points && o->max_points - made < tick)
                break;
            int64_t until = o->max_speed ? INT64_MAX : start_wall + (now - start);
            size_t room = batch - f.all.n;
            if (o->max_points && o->max_points - made < room)
                room = (size_t)(o->max_points - made);
            got = ing_sim_next(sim, until, room, &f.all);
            if (got < 0) {
                rc = pw_err_set(err, (int)got, "simulator: out of memory");
                break;
            }
            if (f.all.n + tick > batch || (f.all.n && now - last_flush >= LINGER_NS)) {
                rc = feed_flush(&f, err);
                last_flush = now;
            }
        }
        if (rc == 0 && got == 0 && !o->max_speed) {
            /* Nothing due: wait until the next tick, a stats line or the
             * linger ends: on the listener's queue when there is one, so a
             * received batch is appended at once. */
            int64_t wake = sim ? start + (ing_sim_next_ts(sim) - start_wall) : INT64_MAX;
            if (wake > now + LINGER_NS)
                wake = now + LINGER_NS;
            if (o->stats_interval_ns && wake > next_stats)
                wake = next_stats;
            if (o->listen) {
                int64_t ms = (wake - now) / PW_NS_PER_MS;
                rc = feed_drain(&f, names, o, ms < 0 ? 0 : (int)ms, err);
            } else {
                pw_sleep_until_ns(wake);
                if (s)
                    rc = pw_stream_poll(s, &f.acked_seq, err);
            }
        } else if (rc == 0 && o->listen) {
            rc = feed_drain(&f, names, o, 0, err);
        }
        if (rc == 0 && gf.g)
            rc = game_step(&gf, s, o->game_topic, start_wall + (pw_mono_ns() - start), err);
        if (rc == 0 && o->tick)
            rc = o->tick(o->tick_ctx, err);
        now = pw_mono_ns();
        if (rc == 0 && o->stats_interval_ns && now >= next_stats) {
            print_stats(&f, o, (double)(now - stats_t0) / PW_NS_PER_S, f.points - sp,
                        f.batches - sb, f.bytes - sby);
            sp = f.points, sb = f.batches, sby = f.bytes, stats_t0 = now;
            pw_hist_init(&f.append_lat); /* percentiles per interval */
            next_stats += o->stats_interval_ns;
            if (next_stats < now)
                next_stats = now + o->stats_interval_ns;
        }
    }
    if (rc == 0 && sim)
        rc = feed_flush(&f, err);
    if (rc == 0 && o->listen) {
        /* What the listener already accepted is not lost: stop it, then
         * append everything still queued. */
        ing_listen_stop(o->listen);
        rc = feed_drain(&f, names, o, 0, err);
    }
    if (rc == 0 && s)
        rc = pw_stream_flush(s, 5000, &f.acked_seq, err);
    double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
    if (o->listen)
        print_live_stats(&f, o);
    if (sim && f.send)
        printf("pitwall %s: stopped after %.1f s: %llu points in %llu batches sent "
               "(%.0f points/s)\n", o->label, secs, (unsigned long long)f.points,
               (unsigned long long)f.batches, (double)f.points / secs);
    else if (sim)
        printf("pitwall %s: stopped after %.1f s: %llu points in %llu batches to '%s' "
               "(%.0f points/s), %llu of %llu appends acknowledged\n",
               o->label, secs, (unsigned long long)f.points, (unsigned long long)f.batches,
               o->topic, (double)f.points / secs, (unsigned long long)f.acked_seq,
               (unsigned long long)f.last_seq);
    else
        printf("pitwall %s: stopped after %.1f s, %llu of %llu appends acknowledged\n",
               o->label, secs, (unsigned long long)f.acked_seq, (unsigned long long)f.last_seq);
    if (gf.g)
        printf("pitwall %s: %llu football frames to '%s'\n", o->label,
               (unsigned long long)gf.frames_sent, o->game_topic);
    ing_simgame_destroy(gf.g);
    pw_frames_fini(&gf.frames);
    pw_codec_buf_fini(&gf.buf);
    for (int32_t p = 0; f.part && p < f.partitions; p++)
        pw_points_fini(&f.part[p]);
    free(f.part);
    free(f.part_of);
    pw_points_fini(&f.all);
    pw_codec_buf_fini(&f.buf);
    ing_sim_destroy(sim);
    return rc;
}

int app_feed_game_run(const app_conf_t *c, app_names_t *names, pw_stream_t *s,
                      const app_feed_opts_t *o, volatile sig_atomic_t *stop, pw_err_t *err)
{
    int64_t start_wall = pw_wall_ns(), start = pw_mono_ns();
    ing_simgame_opts_t go = {.seed = (uint64_t)c->sim.seed, .start_ns = start_wall,
                             .session = (uint64_t)(start_wall / PW_NS_PER_S)};
    ing_simgame_t *g = NULL;
    pw_frames_t frames;
    pw_codec_buf_t buf;
    pw_frames_init(&frames);
    pw_codec_buf_init(&buf);
    int rc = ing_simgame_create(&go, names->entities, names->labels, &g, err);
    if (rc == 0 && s)
        rc = app_names_publish(names, s, err);
    char key[64];
    snprintf(key, sizeof key, "game/%llu", (unsigned long long)go.session);
    uint64_t sent = 0, batches = 0;
    size_t batch = o->max_speed ? 64 : 1;
    int64_t next_stats = start + o->stats_interval_ns;
    while (rc == 0 && !*stop) {
        int64_t now = pw_mono_ns();
        if (o->duration_ns && now - start >= o->duration_ns)
            break;
        if (o->max_points && sent >= o->max_points)
            break;
        size_t room = batch;
        if (o->max_points && o->max_points - sent < room)
            room = (size_t)(o->max_points - sent);
        int64_t until = o->max_speed ? INT64_MAX : start_wall + (now - start);
        pw_frames_clear(&frames);
        long got = ing_simgame_next(g, until, room, &frames);
        if (got < 0) {
            rc = pw_err_set(err, PW_ENOMEM, "game simulator: out of memory");
            break;
        }
        if (got > 0 && o->send) {
            rc = ing_send_frames(o->send, &frames, err);
            sent += (uint64_t)got;
            batches++;
        } else if (got > 0) {
            pw_stream_pos_t pos;
            rc = pw_codec_encode_frames(&buf, &frames, err);
            if (rc == 0)
                rc = pw_stream_append(s, o->topic, PW_STREAM_PARTITION_ANY, key, strlen(key),
                                      buf.data, buf.len, &pos, err);
            sent += (uint64_t)got;
            batches++;
        } else {
            pw_sleep_until_ns(start + (ing_simgame_next_ts(g) - start_wall));
        }
        if (rc == 0 && s)
            rc = pw_stream_poll(s, NULL, err);
        if (rc == 0 && o->stats_interval_ns && pw_mono_ns() >= next_stats) {
            ing_simgame_stats_t st;
            ing_simgame_stats(g, &st);
            printf("pitwall %s: %llu frames, %llu plays (%llu passes, %llu runs, %llu sacks)\n",
                   o->label, (unsigned long long)sent, (unsigned long long)st.plays,
                   (unsigned long long)st.passes, (unsigned long long)st.runs,
                   (unsigned long long)st.sacks);
            fflush(stdout);
            next_stats += o->stats_interval_ns;
        }
    }
    uint64_t acked = 0;
    if (rc == 0 && s)
        rc = pw_stream_flush(s, 5000, &acked, err);
    printf("pitwall %s: stopped after %.1f s: %llu frames in %llu batches to '%s'\n", o->label,
           (double)(pw_mono_ns() - start) / PW_NS_PER_S, (unsigned long long)sent,
           (unsigned long long)batches, o->topic);
    pw_codec_buf_fini(&buf);
    pw_frames_fini(&frames);
    ing_simgame_destroy(g);
    return rc;
}
