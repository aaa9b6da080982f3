/*
 * udp_ingest: the highest rate of points a UDP listener holds with zero
 * loss on loopback.
 *
 * A sender (this thread) paces 1000-point batches of simulated race
 * telemetry (~24 KB datagrams) at rates that double from 0.5M points/s;
 * the listener thread decodes them into its queue and a consumer thread
 * pops them, reads every value and releases them. After each step the
 * benchmark waits for the listener to account for every datagram sent
 * (queued + dropped + kernel drops) and stops at the first step that lost
 * any, or where the sender could not hold the pace. The result is the
 * highest zero-loss rate actually achieved; the latency is send to pop of
 * one batch at that rate (the sender stamps the wall clock into the first
 * point's ts_ns).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/pw_record.h"
#include "core/pw_time.h"
#include "ingest/ing_listen.h"

/* First rate and the most doublings tried, points per second. */
#define FIRST_RATE_PPS 500000.0
#define MAX_STEPS 8

/* A step counts as held when the sender achieved this share of its pace. */
#define PACE_HELD 0.9

typedef struct consumer {
    ing_listen_t *l;
    /* Latency of this step. The sender resets and reads it only when the
     * queue is empty, after the consumer's last release: release and the
     * sender's read of the queue length order the accesses. */
    pw_hist_t *lat;
    _Atomic int stop;
    _Atomic uint64_t batches;
    double sink;          /* keeps the reads of every value */
} consumer_t;

static void *consumer_main(void *arg)
{
    consumer_t *c = arg;
    ing_batch_t b;
    for (;;) {
        int rc = ing_listen_pop(c->l, &b, 50);
        if (rc == -EAGAIN) {
            if (atomic_load(&c->stop))
                break;
            continue;
        }
        if (rc != 0)
            break;
        int64_t now = pw_wall_ns();
        const pw_points_t *p = b.points;
        double s = 0;
        for (size_t i = 0; p != NULL && i < p->n; i++)
            s += p->value[i];
        c->sink += s;
        if (p != NULL && p->n > 0 && now > p->ts_ns[0])
            pw_hist_record(c->lat, (uint64_t)(now - p->ts_ns[0]));
        ing_listen_release(c->l);
        atomic_fetch_add(&c->batches, 1);
    }
    return NULL;
}

/* Datagrams the listener has accounted for, and how many of them it lost. */
static void accounted(ing_listen_t *l, uint64_t *seen, uint64_t *lost)
{
    ing_listen_stats_t st;
    ing_listen_stats(l, ING_SRC_UDP, &st);
    *seen = st.batches + st.drops + st.kernel_drops + st.malformed;
    *lost = st.drops + st.kernel_drops + st.malformed;
}

int bench_udp_ingest(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    ing_listen_t *l = NULL;
    ing_send_t s = {.fd = -1};
    pw_points_t b;
    pthread_t thr;
    int have_thread = 0;
    pw_hist_t *hist = calloc(2, sizeof *hist); /* this step, best step */
    consumer_t c = {0};
    pw_points_init(&b);
    int rc = hist ? bench_sim_points(&b, BENCH_BATCH_POINTS, err)
                  : pw_err_set(err, -ENOMEM, "udp_ingest: out of memory");
    ing_listen_opts_t lo = {.udp_addr = "127.0.0.1:0", .queue_batches = 256,
                            .max_batch_points = BENCH_BATCH_POINTS};
    if (rc == 0)
        rc = ing_listen_create(&lo, NULL, &l, err);
    if (rc == 0)
        rc = ing_listen_start(l);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ing_listen_port(l, ING_PROTO_UDP));
    if (rc == 0)
        rc = ing_send_open(&s, ING_PROTO_UDP, addr, err);
    if (rc == 0) {
        c.l = l;
        pw_hist_init(&hist[0]);
        pw_hist_init(&hist[1]);
        c.lat = &hist[0];
        rc = -pthread_create(&thr, NULL, consumer_main, &c);
        have_thread = rc == 0;
    }

    double step_s = o->seconds / 5;
    if (step_s < 0.1)
        step_s = 0.1;
    if (step_s > 1.0)
        step_s = 1.0;
    double best_pps = 0, rate = FIRST_RATE_PPS;
    size_t bytes = 0;
    char why[96] = "";
    for (int step = 0; rc == 0 && step < MAX_STEPS; step++, rate *= 2) {
        uint64_t seen0, lost0;
        accounted(l, &seen0, &lost0);
        uint64_t sent0 = s.batches;
        pw_hist_init(&hist[0]);
        int64_t interval = (int64_t)(BENCH_BATCH_POINTS * (double)PW_NS_PER_S / rate);
        uint64_t n = (uint64_t)(rate * step_s / BENCH_BATCH_POINTS);
        int64_t start = pw_mono_ns(), next = start;
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
            if (pw_mono_ns() < next)
                pw_sleep_until_ns(next);
            next += interval;
            b.ts_ns[0] = pw_wall_ns();
            rc = ing_send_points(&s, &b, err);
        }
        double secs = (double)(pw_mono_ns() - start) / PW_NS_PER_S;
        bytes = s.buf.len;
        /* Wait (1 s at most) until every datagram of the step is accounted. */
        uint64_t sent = s.batches - sent0, seen, lost;
        int64_t deadline = pw_mono_ns() + PW_NS_PER_S;
        do {
            accounted(l, &seen, &lost);
            if (seen - seen0 >= sent)
                break;
            pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
        } while (pw_mono_ns() < deadline);
        /* And until the consumer has taken what was queued. */
        ing_listen_stats_t st;
        for (;;) {
            ing_listen_stats(l, ING_SRC_UDP, &st);
            if (st.queued == 0 || pw_mono_ns() > deadline + PW_NS_PER_S)
                break;
            pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
        }
        double achieved = (double)sent * BENCH_BATCH_POINTS / secs;
        uint64_t step_lost = (lost - lost0) + (sent - (seen - seen0));
        if (rc != 0)
            break;
        if (step_lost > 0) {
            snprintf(why, sizeof why, "lost %llu of %llu datagrams at %.1fM/s",
                     (unsigned long long)step_lost, (unsigned long long)sent,
                     achieved / 1e6);
            break;
        }
        if (achieved > best_pps) {
            best_pps = achieved;
            hist[1] = hist[0];
        }
        if (achieved < PACE_HELD * rate) {
            snprintf(why, sizeof why, "sender-bound at %.1fM/s", achieved / 1e6);
            break;
        }
    }
    if (have_thread) {
        atomic_store(&c.stop, 1);
        pthread_join(thr, NULL);
    }
    if (rc == 0) {
        r->points_per_s = best_pps;
        r->mb_per_s = best_pps / BENCH_BATCH_POINTS * (double)bytes / 1e6;
        r->lat = hist[1];
        snprintf(r->unit, sizeof r->unit, "batch of %d, send to pop", BENCH_BATCH_POINTS);
        snprintf(r->note, sizeof r->note, "zero loss; %zu-byte datagrams; %s",
                 bytes, why[0] ? why : "every rate tried held");
    }
    ing_send_close(&s);
    ing_listen_destroy(l);
    pw_points_fini(&b);
    free(hist);
    return rc;
}
