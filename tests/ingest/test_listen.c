#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/pw_codec.h"
#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_log.h"
#include "core/pw_time.h"
#include "ingest/ing_listen.h"

/* Every wait in these tests ends by this deadline at the latest. */
#define WAIT_MS 10000

static pw_intern_t *channels, *entities, *labels;
static ing_names_t names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1024, &channels), 0);
    cr_assert_eq(pw_intern_create(1024, &entities), 0);
    cr_assert_eq(pw_intern_create(64, &labels), 0);
    names = (ing_names_t){.channels = channels, .entities = entities, .labels = labels};
}

static void teardown(void)
{
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

TestSuite(ing_listen, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------------- */
/* Helpers.                                                                */

static ing_listen_t *start(ing_listen_opts_t o)
{
    ing_listen_t *l = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_listen_create(&o, &names, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(ing_listen_start(l), 0);
    return l;
}

static const char *addr_of(ing_listen_t *l, enum ing_proto p, char *buf)
{
    int port = ing_listen_port(l, p);
    cr_assert_gt(port, 0);
    snprintf(buf, 32, "127.0.0.1:%d", port);
    return buf;
}

static ing_listen_stats_t stats(ing_listen_t *l, enum ing_source src)
{
    ing_listen_stats_t st;
    cr_assert_eq(ing_listen_stats(l, src, &st), 0);
    return st;
}

/* Poll cond until it holds, failing after ms. Not a sleep: a deadline. */
#define WAIT_UNTIL(cond, ms)                                                  \
    do {                                                                      \
        int64_t dl_ = pw_mono_ns() + (int64_t)(ms) * PW_NS_PER_MS;            \
        while (!(cond)) {                                                     \
            cr_assert_lt(pw_mono_ns(), dl_, "timed out waiting for %s", #cond); \
            pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);                   \
        }                                                                     \
    } while (0)

/*
 * Batch number i with n points. Values cover the bit patterns a copy could
 * damage: NaN with a payload, -0.0, infinities, subnormals.
 */
static void make_batch(pw_points_t *b, uint64_t i, size_t n)
{
    cr_assert_eq(pw_points_reserve(b, n), 0);
    for (size_t j = 0; j < n; j++) {
        b->ts_ns[j] = (int64_t)(i * 1000000 + j);
        b->entity[j] = (uint32_t)((i * 7 + j) % 40 + 1);
        b->channel[j] = (uint32_t)(j % 8 + 1);
        double v = (double)(i * 1000 + j) + 0.25;
        if (j % 97 == 3) {
            uint64_t bits = 0x7ff8000000000000ull | (i + 1);
            memcpy(&v, &bits, sizeof v);
        } else if (j % 89 == 1) {
            v = -0.0;
        } else if (j % 83 == 2) {
            v = j % 2 ? INFINITY : -INFINITY;
        } else if (j % 79 == 5) {
            v = 4.9e-324 * (double)(j + 1);
        }
        b->value[j] = v;
    }
    b->n = n;
}

/* got must be batch i of n points, bit for bit. */
static void check_batch(const pw_points_t *got, uint64_t i, size_t n)
{
    pw_points_t want;
    pw_points_init(&want);
    make_batch(&want, i, n);
    cr_assert_eq(got->n, n, "batch %lu: %zu points, expected %zu", (unsigned long)i,
                 got->n, n);
    cr_assert_eq(memcmp(got->ts_ns, want.ts_ns, n * sizeof *got->ts_ns), 0, "batch %lu ts",
                 (unsigned long)i);
    cr_assert_eq(memcmp(got->entity, want.entity, n * sizeof *got->entity), 0);
    cr_assert_eq(memcmp(got->channel, want.channel, n * sizeof *got->channel), 0);
    cr_assert_eq(memcmp(got->value, want.value, n * sizeof *got->value), 0,
                 "batch %lu values", (unsigned long)i);
    pw_points_fini(&want);
}

/* Batch sizes vary from 1 to 1000 points. */
static size_t size_of(uint64_t i)
{
    return (size_t)(1 + (i * 389) % 1000);
}

/* Which batch a popped batch is: make_batch puts i in ts_ns. */
static uint64_t batch_no(const pw_points_t *b)
{
    return (uint64_t)b->ts_ns[0] / 1000000;
}

/* A sender thread: count batches, batch i of size(i) points, paced. */
typedef struct job {
    enum ing_proto proto;
    char addr[32];
    uint64_t count;
    size_t points;        /* fixed batch size; 0 = size_of(i) */
    int64_t interval_ns;  /* between batches; 0 = as fast as possible */
    _Atomic uint64_t sent;
    _Atomic int done;
    int rc;
    char msg[PW_ERR_MSG_MAX];
} job_t;

static void *sender_main(void *arg)
{
    job_t *j = arg;
    ing_send_t s;
    pw_points_t b;
    pw_err_t err = {0};
    pw_points_init(&b);
    j->rc = ing_send_open(&s, j->proto, j->addr, &err);
    int64_t next = pw_mono_ns();
    for (uint64_t i = 0; j->rc == 0 && i < j->count; i++) {
        make_batch(&b, i, j->points ? j->points : size_of(i));
        if (j->interval_ns) {
            pw_sleep_until_ns(next); /* pacing the sender, not waiting */
            next += j->interval_ns;
        }
        j->rc = ing_send_points(&s, &b, &err);
        if (j->rc == 0)
            atomic_store(&j->sent, i + 1);
    }
    if (j->rc)
        snprintf(j->msg, sizeof j->msg, "%s", err.msg);
    ing_send_close(&s);
    pw_points_fini(&b);
    atomic_store(&j->done, 1);
    return NULL;
}

static void job_start(job_t *j, pthread_t *t)
{
    cr_assert_eq(pthread_create(t, NULL, sender_main, j), 0);
}

static void send_open(ing_send_t *s, enum ing_proto p, const char *addr)
{
    pw_err_t err = {0};
    cr_assert_eq(ing_send_open(s, p, addr, &err), 0, "%s", err.msg);
}

static void send_bytes(ing_send_t *s, const void *data, size_t len)
{
    pw_err_t err = {0};
    cr_assert_eq(ing_send_bytes(s, data, len, &err), 0, "%s", err.msg);
}

static void send_batch(ing_send_t *s, uint64_t i, size_t n)
{
    pw_points_t b;
    pw_err_t err = {0};
    pw_points_init(&b);
    make_batch(&b, i, n);
    cr_assert_eq(ing_send_points(s, &b, &err), 0, "%s", err.msg);
    pw_points_fini(&b);
}

/* Encode batch i of n points into buf. */
static void encode_batch(pw_codec_buf_t *buf, uint64_t i, size_t n)
{
    pw_points_t b;
    pw_err_t err = {0};
    pw_points_init(&b);
    make_batch(&b, i, n);
    cr_assert_eq(pw_codec_encode_points(buf, &b, &err), 0, "%s", err.msg);
    pw_points_fini(&b);
}

static ing_batch_t pop(ing_listen_t *l)
{
    ing_batch_t b;
    int rc = ing_listen_pop(l, &b, WAIT_MS);
    cr_assert_eq(rc, 0, "pop: %s", pw_strerror(rc));
    return b;
}

/* The peer closed s's connection: poll says readable and recv gives 0 or
 * a reset, within the deadline. */
static void assert_closed_by_peer(ing_send_t *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "the listener did not close the connection");
    char c[256];
    ssize_t n;
    while ((n = recv(s->fd, c, sizeof c, MSG_DONTWAIT)) > 0)
        ;
    cr_assert(n == 0 || errno == ECONNRESET, "recv: %zd %s", n, strerror(errno));
}

/* ---------------------------------------------------------------------- */
/* TCP.                                                                    */

Test(ing_listen, tcp_delivers_every_batch_in_order_bit_identical)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0"});
    job_t j = {.proto = ING_PROTO_TCP, .count = 300};
    char a[32];
    snprintf(j.addr, sizeof j.addr, "%s", addr_of(l, ING_PROTO_TCP, a));
    pthread_t t;
    job_start(&j, &t);
    uint64_t points = 0;
    for (uint64_t i = 0; i < j.count; i++) {
        ing_batch_t b = pop(l);
        cr_assert_eq(b.kind, PW_CODEC_POINTS);
        cr_assert_eq(b.source, ING_SRC_TCP);
        cr_assert_eq(b.conn, 1);
        check_batch(b.points, i, size_of(i));
        points += b.points->n;
        ing_listen_release(l);
    }
    pthread_join(t, NULL);
    cr_assert_eq(j.rc, 0, "%s", j.msg);
    ing_listen_stats_t st = stats(l, ING_SRC_TCP);
    cr_assert_eq(st.batches, 300);
    cr_assert_eq(st.points, points);
    cr_assert_eq(st.malformed, 0);
    cr_assert_gt(st.bytes, points * 24);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).connections == 0, WAIT_MS);
    cr_assert_eq(stats(l, ING_SRC_TCP).truncated, 0);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_back_pressure_blocks_the_sender_and_loses_nothing)
{
    /* 1200 x 24 KB = 29 MB: far more than the queue (4 slots), the
     * connection buffer and the kernel's socket buffers hold together. */
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0",
                                                .queue_batches = 4});
    job_t j = {.proto = ING_PROTO_TCP, .count = 1200, .points = 1000};
    char a[32];
    snprintf(j.addr, sizeof j.addr, "%s", addr_of(l, ING_PROTO_TCP, a));
    pthread_t t;
    job_start(&j, &t);

    /* The consumer pauses: the queue fills and the connection stops. */
    WAIT_UNTIL(stats(l, ING_SRC_TCP).paused >= 1 && stats(l, ING_SRC_TCP).queued == 4,
               WAIT_MS);
    uint64_t sent_at_pause = atomic_load(&j.sent);
    /* The sender must now be blocked: it may not finish while we wait. */
    int64_t dl = pw_mono_ns() + 300 * PW_NS_PER_MS;
    while (pw_mono_ns() < dl && !atomic_load(&j.done))
        pw_sleep_until_ns(pw_mono_ns() + PW_NS_PER_MS);
    cr_assert_eq(atomic_load(&j.done), 0, "the sender finished: no back-pressure");
    uint64_t sent_blocked = atomic_load(&j.sent);
    cr_assert_lt(sent_blocked, j.count);
    cr_log_info("back-pressure: sender stopped after %lu of %lu batches (%lu at pause)",
                (unsigned long)sent_blocked, (unsigned long)j.count,
                (unsigned long)sent_at_pause);

    /* The consumer resumes: every batch arrives, in order, intact. */
    for (uint64_t i = 0; i < j.count; i++) {
        ing_batch_t b = pop(l);
        check_batch(b.points, i, 1000);
        ing_listen_release(l);
    }
    pthread_join(t, NULL);
    cr_assert_eq(j.rc, 0, "%s", j.msg);
    ing_listen_stats_t st = stats(l, ING_SRC_TCP);
    cr_assert_eq(st.batches, j.count);
    cr_assert_eq(st.points, j.count * 1000);
    cr_assert_eq(st.malformed, 0);
    cr_assert_eq(st.drops, 0);
    cr_assert_geq(st.paused, 1);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_connection_sending_garbage_is_closed_and_others_go_on)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0"});
    char a[32];
    ing_send_t s, good, http;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    send_batch(&s, 0, 10);
    send_bytes(&s, "\xc1\xc1garbage", 9);
    ing_batch_t b = pop(l);
    check_batch(b.points, 0, 10);
    ing_listen_release(l);
    assert_closed_by_peer(&s);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).malformed == 1, WAIT_MS);

    /* Not a batch and not JSON from the first byte: closed too. */
    send_open(&http, ING_PROTO_TCP, a);
    send_bytes(&http, "GET / HTTP/1.0\r\n\r\n", 18);
    assert_closed_by_peer(&http);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).malformed == 2, WAIT_MS);

    send_open(&good, ING_PROTO_TCP, a);
    send_batch(&good, 1, 20);
    b = pop(l);
    check_batch(b.points, 1, 20);
    ing_listen_release(l);
    ing_send_close(&good);
    ing_send_close(&http);
    ing_send_close(&s);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).connections == 0, WAIT_MS);
    cr_assert_eq(stats(l, ING_SRC_TCP).connections_total, 3);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_batch_that_fails_to_decode_is_skipped_and_the_stream_goes_on)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0"});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    /* A batch whose "n" says 3 while its columns hold 2 points. */
    pw_codec_buf_t bad;
    pw_codec_buf_init(&bad);
    encode_batch(&bad, 5, 2);
    uint8_t *n = memmem(bad.data, bad.len, "\xa1n\x02", 3);
    cr_assert_not_null(n);
    n[2] = 3;
    send_batch(&s, 0, 100);
    send_bytes(&s, bad.data, bad.len);
    send_batch(&s, 1, 200);
    ing_batch_t b = pop(l);
    check_batch(b.points, 0, 100);
    ing_listen_release(l);
    b = pop(l);
    check_batch(b.points, 1, 200);
    ing_listen_release(l);
    ing_listen_stats_t st = stats(l, ING_SRC_TCP);
    cr_assert_eq(st.malformed, 1);
    cr_assert_eq(st.batches, 2);
    cr_assert_eq(st.connections, 1, "a bad batch must not close the connection");
    pw_codec_buf_fini(&bad);
    ing_send_close(&s);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_partial_batch_at_connection_end_is_reported)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0"});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    pw_codec_buf_t half;
    pw_codec_buf_init(&half);
    encode_batch(&half, 1, 500);
    send_batch(&s, 0, 500);
    send_bytes(&s, half.data, half.len / 2);
    ing_send_close(&s);
    ing_batch_t b = pop(l);
    check_batch(b.points, 0, 500);
    ing_listen_release(l);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).truncated == 1, WAIT_MS);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).connections == 0, WAIT_MS);
    cr_assert_eq(stats(l, ING_SRC_TCP).batches, 1);
    cr_assert_eq(ing_listen_pop(l, &b, 0), -EAGAIN);
    pw_codec_buf_fini(&half);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_batch_over_max_batch_points_is_skipped)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0",
                                                .max_batch_points = 100});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    send_batch(&s, 0, 101);
    send_batch(&s, 1, 100);
    ing_batch_t b = pop(l);
    check_batch(b.points, 1, 100);
    ing_listen_release(l);
    cr_assert_eq(stats(l, ING_SRC_TCP).malformed, 1);
    ing_send_close(&s);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_batch_over_max_msg_bytes_closes_the_connection)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0",
                                                .max_msg_bytes = 4096});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    send_batch(&s, 0, 100);  /* 2.4 KB: fits */
    send_batch(&s, 1, 1000); /* 24 KB: cannot be framed in 4 KB */
    ing_batch_t b = pop(l);
    check_batch(b.points, 0, 100);
    ing_listen_release(l);
    assert_closed_by_peer(&s);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).malformed == 1, WAIT_MS);
    ing_send_close(&s);
    ing_listen_destroy(l);
}

Test(ing_listen, tcp_connections_over_max_are_refused)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0",
                                                .max_connections = 2});
    char a[32];
    ing_send_t s[3];
    send_open(&s[0], ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    send_open(&s[1], ING_PROTO_TCP, a);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).connections == 2, WAIT_MS);
    send_open(&s[2], ING_PROTO_TCP, a);
    assert_closed_by_peer(&s[2]);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).connections_rejected == 1, WAIT_MS);
    /* The two accepted ones still work. */
    send_batch(&s[1], 7, 3);
    ing_batch_t b = pop(l);
    check_batch(b.points, 7, 3);
    cr_assert_eq(b.conn, 2);
    ing_listen_release(l);
    for (int i = 0; i < 3; i++)
        ing_send_close(&s[i]);
    ing_listen_destroy(l);
}

/* ---------------------------------------------------------------------- */
/* UDP.                                                                    */

Test(ing_listen, udp_at_a_moderate_rate_arrives_fully)
{
    /* 400 datagrams of 1000 points (24 KB), 2500/s: 2.5M points/s for
     * 160 ms. The queue holds them all, so the test's own checking (slow
     * under ASan) cannot make the listener drop: this is about the socket
     * path keeping up. */
    ing_listen_t *l = start((ing_listen_opts_t){.udp_addr = "127.0.0.1:0",
                                                .queue_batches = 400,
                                                .max_batch_points = 1000});
    job_t j = {.proto = ING_PROTO_UDP, .count = 400, .points = 1000,
               .interval_ns = 400 * PW_NS_PER_US};
    char a[32];
    snprintf(j.addr, sizeof j.addr, "%s", addr_of(l, ING_PROTO_UDP, a));
    pthread_t t;
    job_start(&j, &t);
    static uint8_t seen[400];
    memset(seen, 0, sizeof seen);
    for (uint64_t k = 0; k < j.count; k++) {
        ing_batch_t b;
        int rc = ing_listen_pop(l, &b, WAIT_MS);
        ing_listen_stats_t st = stats(l, ING_SRC_UDP);
        cr_assert_eq(rc, 0, "pop %lu: %s; %lu batches, %lu drops, %lu kernel drops, "
                     "%lu malformed", (unsigned long)k, pw_strerror(rc),
                     (unsigned long)st.batches, (unsigned long)st.drops,
                     (unsigned long)st.kernel_drops, (unsigned long)st.malformed);
        cr_assert_eq(b.source, ING_SRC_UDP);
        cr_assert_eq(b.conn, 0);
        uint64_t i = batch_no(b.points);
        cr_assert_lt(i, j.count);
        cr_assert_eq(seen[i], 0, "batch %lu twice", (unsigned long)i);
        seen[i] = 1;
        check_batch(b.points, i, 1000);
        ing_listen_release(l);
    }
    pthread_join(t, NULL);
    cr_assert_eq(j.rc, 0, "%s", j.msg);
    ing_listen_stats_t st = stats(l, ING_SRC_UDP);
    cr_assert_eq(st.batches, 400);
    cr_assert_eq(st.points, 400000);
    cr_assert_eq(st.drops + st.kernel_drops + st.malformed, 0);
    ing_listen_destroy(l);
}

/* Flood a paused consumer; every datagram sent is counted exactly once. */
static void udp_overload(int rcvbuf_bytes)
{
    ing_listen_t *l = start((ing_listen_opts_t){.udp_addr = "127.0.0.1:0",
                                                .queue_batches = 2,
                                                .rcvbuf_bytes = rcvbuf_bytes});
    job_t j = {.proto = ING_PROTO_UDP, .count = 3000, .points = 100};
    char a[32];
    snprintf(j.addr, sizeof j.addr, "%s", addr_of(l, ING_PROTO_UDP, a));
    pthread_t t;
    job_start(&j, &t);
    pthread_join(t, NULL);
    cr_assert_eq(j.rc, 0, "%s", j.msg);
    ing_listen_stats_t st;
    WAIT_UNTIL((st = stats(l, ING_SRC_UDP),
                st.batches + st.drops + st.malformed + st.kernel_drops >= j.count),
               WAIT_MS);
    cr_log_info("udp overload (rcvbuf %d): %lu sent, %lu queued, %lu dropped by us, "
                "%lu by the kernel", rcvbuf_bytes, (unsigned long)j.count,
                (unsigned long)st.batches, (unsigned long)st.drops,
                (unsigned long)st.kernel_drops);
    cr_assert_eq(st.batches + st.drops + st.malformed + st.kernel_drops, j.count);
    cr_assert_eq(st.malformed, 0);
    cr_assert_eq(st.batches, 2, "the queue holds 2 and the consumer took none");
    cr_assert_eq(st.queued, 2);
    cr_assert_eq(st.drop_points, st.drops * 100);
    /* The two queued are intact and in order (the first two sent, unless
     * the kernel dropped one); then the listener goes on. */
    ing_batch_t b = pop(l), b2 = pop(l);
    check_batch(b.points, batch_no(b.points), 100);
    check_batch(b2.points, batch_no(b2.points), 100);
    cr_assert_lt(batch_no(b.points), batch_no(b2.points));
    if (rcvbuf_bytes == 0)
        cr_assert_eq(batch_no(b2.points), 1);
    ing_listen_release(l);
    ing_listen_release(l);
    ing_send_t s;
    send_open(&s, ING_PROTO_UDP, a);
    send_batch(&s, 9999, 5);
    b = pop(l);
    check_batch(b.points, 9999, 5);
    ing_listen_release(l);
    ing_send_close(&s);
    ing_listen_destroy(l);
}

Test(ing_listen, udp_overload_counts_every_datagram_as_queued_or_dropped)
{
    udp_overload(0);
}

Test(ing_listen, udp_overload_with_a_tiny_socket_buffer_counts_kernel_drops)
{
    udp_overload(4096);
}

Test(ing_listen, udp_malformed_datagrams_are_counted_and_the_listener_goes_on)
{
    ing_listen_t *l = start((ing_listen_opts_t){.udp_addr = "127.0.0.1:0",
                                                .max_msg_bytes = 4096,
                                                .max_batch_points = 100});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_UDP, addr_of(l, ING_PROTO_UDP, a));
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    pw_err_t err = {0};

    send_bytes(&s, "hello", 5);                  /* garbage */
    encode_batch(&buf, 1, 50);
    send_bytes(&s, buf.data, buf.len / 2);       /* truncated batch */
    encode_batch(&buf, 2, 300);                  /* 7.2 KB: over the 4 KB buffer */
    cr_assert_gt(buf.len, 4096);
    send_bytes(&s, buf.data, buf.len);
    send_batch(&s, 3, 101);                      /* over max_batch_points */
    pw_results_t r;                              /* a kind listeners refuse */
    pw_results_init(&r);
    pw_result_t one = {.ts_ns = 1, .version = 1, .topic_len = 4, .key_len = 6,
                       .body_len = 1, .topic = "burn", .key = "car/24",
                       .body = (const uint8_t *)"\xc0"};
    cr_assert_eq(pw_results_push(&r, &one), 0);
    cr_assert_eq(pw_codec_encode_results(&buf, &r, &err), 0, "%s", err.msg);
    send_bytes(&s, buf.data, buf.len);
    send_bytes(&s, "", 0);                       /* empty datagram */

    /* Then good ones: a frames batch and a points batch. */
    pw_frames_t f;
    pw_frames_init(&f);
    pw_object_t objs[3] = {{.entity = 1, .team = PW_TEAM_HOME, .x = 1.5f, .y = 2},
                           {.entity = 2, .team = PW_TEAM_AWAY, .x = -0.0f, .speed = 7},
                           {.entity = 3, .team = PW_TEAM_BALL, .orientation = 90}};
    uint32_t lab[PW_FRAME_LABELS] = {4, PW_LABEL_NONE};
    cr_assert_eq(pw_frames_push(&f, 100, 42, lab, objs, 3), 0);
    cr_assert_eq(pw_frames_push(&f, 200, 42, NULL, objs, 2), 0);
    cr_assert_eq(ing_send_frames(&s, &f, &err), 0, "%s", err.msg);
    send_batch(&s, 4, 100);

    ing_batch_t b = pop(l);
    cr_assert_eq(b.kind, PW_CODEC_FRAMES);
    cr_assert_null(b.points);
    cr_assert_eq(b.frames->n, 2);
    cr_assert_eq(b.frames->nobj_total, 5);
    cr_assert_eq(b.frames->ts_ns[1], 200);
    cr_assert_eq(b.frames->session[0], 42);
    cr_assert_eq(b.frames->label[0], 4);
    cr_assert_eq(memcmp(b.frames->x, f.x, 5 * sizeof *f.x), 0);
    cr_assert_eq(memcmp(b.frames->team, f.team, 5), 0);
    ing_listen_release(l);
    b = pop(l);
    check_batch(b.points, 4, 100);
    ing_listen_release(l);

    ing_listen_stats_t st = stats(l, ING_SRC_UDP);
    cr_assert_eq(st.malformed, 6, "garbage, truncated, oversized, too many points, "
                 "results, empty: %lu", (unsigned long)st.malformed);
    cr_assert_eq(st.batches, 2);
    cr_assert_eq(st.frames, 2);
    cr_assert_eq(st.points, 100);
    pw_frames_fini(&f);
    pw_results_fini(&r);
    pw_codec_buf_fini(&buf);
    ing_send_close(&s);
    ing_listen_destroy(l);
}

Test(ing_listen, stats_report_last_event_time_and_lag)
{
    ing_listen_t *l = start((ing_listen_opts_t){.udp_addr = "127.0.0.1:0"});
    cr_assert_eq(stats(l, ING_SRC_UDP).last_ts_ns, INT64_MIN);
    cr_assert_eq(stats(l, ING_SRC_UDP).lag_ns, 0);
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_UDP, addr_of(l, ING_PROTO_UDP, a));
    pw_points_t p;
    pw_points_init(&p);
    int64_t ts = pw_wall_ns() - 2 * PW_NS_PER_S;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pw_points_push(&p, &(pw_point_t){.ts_ns = ts - i, .entity = 1,
                                                      .channel = 1, .value = i}), 0);
    pw_err_t err = {0};
    cr_assert_eq(ing_send_points(&s, &p, &err), 0, "%s", err.msg);
    ing_batch_t b = pop(l);
    cr_assert_geq(b.recv_ns, ts);
    char from[64];
    ing_addr_format(b.peer, b.peer_len, from, sizeof from);
    cr_assert_eq(strncmp(from, "127.0.0.1:", 10), 0, "%s", from);
    ing_listen_release(l);
    ing_listen_stats_t st = stats(l, ING_SRC_UDP);
    cr_assert_eq(st.last_ts_ns, ts);
    cr_assert(st.lag_ns >= 2 * PW_NS_PER_S && st.lag_ns < 30 * PW_NS_PER_S, "lag %ld",
              (long)st.lag_ns);
    cr_assert_eq(st.bytes, s.bytes);
    pw_points_fini(&p);
    ing_send_close(&s);
    ing_listen_destroy(l);
}

/* ---------------------------------------------------------------------- */
/* JSON lines.                                                             */

static const char json_lines[] =
    "{\"ts_ns\":1,\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":9000}\n"
    "\n"
    "{\"ts_ns\":2,\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":9100.5}\r\n"
    "{\"entity\":\"car/2\",\"channel\":\"speed_mps\",\"value\":null}\n"
    "{\"ts_ns\":3,\"entity\":7,\"channel\":\"rpm\",\"value\":1}\n"
    "{bad json\n"
    "{\"ts_ns\":4,\"entity\":\"car/1\",\"channel\":\"rpm\",\"vlaue\":1}\n"
    "{\"ts_ns\":5,\"entity\":\"car/1\",\"channel\":\"rpm\"}\n"
    "[1,2]\n"
    "{\"ts_ns\":6,\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":\"x\"}\n"
    "{\"ts_ns\":7,\"entity\":\"car/3\",\"channel\":\"rpm\",\"value\":-3}";

Test(ing_listen, json_lines_over_tcp_become_points_and_bad_lines_are_counted)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0",
                                                .add_names = 1});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    int64_t before = pw_wall_ns();
    send_bytes(&s, json_lines, sizeof json_lines - 1);
    ing_send_close(&s); /* the last line has no newline: EOF ends it */

    pw_points_t got;
    pw_points_init(&got);
    while (got.n < 5) {
        ing_batch_t b = pop(l);
        cr_assert_eq(b.source, ING_SRC_JSON);
        for (size_t i = 0; i < b.points->n; i++)
            cr_assert_eq(pw_points_push(&got, &(pw_point_t){
                             .ts_ns = b.points->ts_ns[i], .entity = b.points->entity[i],
                             .channel = b.points->channel[i],
                             .value = b.points->value[i]}), 0);
        ing_listen_release(l);
    }
    cr_assert_eq(got.n, 5);
    uint32_t car1, car2, car3, rpm, speed;
    cr_assert_eq(pw_intern_find(entities, "car/1", 5, &car1), 0);
    cr_assert_eq(pw_intern_find(entities, "car/2", 5, &car2), 0);
    cr_assert_eq(pw_intern_find(entities, "car/3", 5, &car3), 0);
    cr_assert_eq(pw_intern_find(channels, "rpm", 3, &rpm), 0);
    cr_assert_eq(pw_intern_find(channels, "speed_mps", 9, &speed), 0);
    cr_assert_eq(got.ts_ns[0], 1);
    cr_assert_eq(got.entity[0], car1);
    cr_assert_eq(got.channel[0], rpm);
    cr_assert_float_eq(got.value[0], 9000.0, 1e-9);
    cr_assert_eq(got.ts_ns[1], 2);
    cr_assert_float_eq(got.value[1], 9100.5, 1e-9);
    cr_assert_geq(got.ts_ns[2], before, "no ts_ns: stamped with the wall clock");
    cr_assert_eq(got.entity[2], car2);
    cr_assert_eq(got.channel[2], speed);
    cr_assert(isnan(got.value[2]), "null is a missing reading");
    cr_assert_eq(got.entity[3], 7, "a numeric entity is an id");
    cr_assert_eq(got.ts_ns[4], 7);
    cr_assert_eq(got.entity[4], car3);
    cr_assert_float_eq(got.value[4], -3.0, 1e-9);

    WAIT_UNTIL(stats(l, ING_SRC_TCP).connections == 0, WAIT_MS);
    ing_listen_stats_t st = stats(l, ING_SRC_JSON);
    cr_assert_eq(st.malformed, 5, "malformed %lu", (unsigned long)st.malformed);
    cr_assert_eq(st.points, 5);
    cr_assert_eq(st.last_ts_ns >= before, 1);
    cr_assert_eq(st.bytes, sizeof json_lines - 1);
    cr_assert_eq(stats(l, ING_SRC_TCP).malformed, 0);
    pw_points_fini(&got);
    ing_listen_destroy(l);
}

Test(ing_listen, json_names_the_tables_lack_are_refused_unless_add_names)
{
    uint32_t car1, rpm;
    cr_assert_eq(pw_intern_add(entities, "car/1", 5, &car1), 0);
    cr_assert_eq(pw_intern_add(channels, "rpm", 3, &rpm), 0);
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0"});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    const char *lines =
        "  {\"ts_ns\":1,\"entity\":\"car/9\",\"channel\":\"rpm\",\"value\":1}\n"
        "{\"ts_ns\":2,\"entity\":\"car/1\",\"channel\":\"oil\",\"value\":1}\n"
        "{\"ts_ns\":3,\"entity\":\"car/1\",\"channel\":\"rpm\",\"value\":3}\n";
    send_bytes(&s, lines, strlen(lines));
    ing_batch_t b = pop(l);
    cr_assert_eq(b.points->n, 1);
    cr_assert_eq(b.points->ts_ns[0], 3);
    cr_assert_eq(b.points->entity[0], car1);
    cr_assert_eq(b.points->channel[0], rpm);
    ing_listen_release(l);
    cr_assert_eq(stats(l, ING_SRC_JSON).malformed, 2);
    cr_assert_eq(pw_intern_count(entities), 1, "nothing was added");
    ing_send_close(&s);
    ing_listen_destroy(l);
}

Test(ing_listen, json_many_lines_fill_batches_of_max_batch_points)
{
    ing_listen_t *l = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0",
                                                .max_batch_points = 64,
                                                .queue_batches = 2, .add_names = 1});
    char a[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_TCP, addr_of(l, ING_PROTO_TCP, a));
    enum { LINES = 5000 };
    static char text[LINES * 80];
    size_t len = 0;
    for (int i = 0; i < LINES; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "{\"ts_ns\":%d,\"entity\":\"car/%d\",\"channel\":\"rpm\","
                                "\"value\":%d}\n", i, i % 40, i * 2);
    send_bytes(&s, text, len); /* 300 KB: the queue of 2 pauses it */
    ing_send_close(&s);
    WAIT_UNTIL(stats(l, ING_SRC_JSON).paused >= 1, WAIT_MS);
    int64_t next = 0;
    while (next < LINES) {
        ing_batch_t b = pop(l);
        cr_assert_leq(b.points->n, 64);
        for (size_t i = 0; i < b.points->n; i++, next++) {
            cr_assert_eq(b.points->ts_ns[i], next);
            cr_assert_float_eq(b.points->value[i], 2.0 * (double)next, 1e-9);
        }
        ing_listen_release(l);
    }
    ing_listen_stats_t st = stats(l, ING_SRC_JSON);
    cr_assert_eq(st.points, LINES);
    cr_assert_eq(st.malformed, 0);
    cr_assert_geq(st.paused, 1);
    ing_listen_destroy(l);
}

/* ---------------------------------------------------------------------- */
/* Lifecycle.                                                              */

Test(ing_listen, stop_and_destroy_with_clients_connected_are_clean)
{
    ing_listen_t *l = start((ing_listen_opts_t){.udp_addr = "127.0.0.1:0",
                                                .tcp_addr = "127.0.0.1:0",
                                                .queue_batches = 2});
    char a[32], u[32];
    addr_of(l, ING_PROTO_UDP, u);
    /* A sender blocked by back-pressure, a connection inside a batch, one
     * inside a JSON line, an idle one, and UDP traffic. */
    job_t j = {.proto = ING_PROTO_TCP, .count = 400, .points = 1000};
    snprintf(j.addr, sizeof j.addr, "%s", addr_of(l, ING_PROTO_TCP, a));
    pthread_t t;
    job_start(&j, &t);
    ing_send_t half, json, idle, udp;
    pw_codec_buf_t buf;
    pw_codec_buf_init(&buf);
    encode_batch(&buf, 0, 100);
    send_open(&half, ING_PROTO_TCP, a);
    send_bytes(&half, buf.data, buf.len - 10);
    send_open(&json, ING_PROTO_TCP, a);
    send_bytes(&json, "{\"ts_ns\":1,\"ent", 15);
    send_open(&idle, ING_PROTO_TCP, a);
    send_open(&udp, ING_PROTO_UDP, u);
    send_batch(&udp, 1, 10);
    WAIT_UNTIL(stats(l, ING_SRC_TCP).paused >= 1 && stats(l, ING_SRC_TCP).connections == 4,
               WAIT_MS);

    cr_assert_eq(ing_listen_stop(l), 0);
    cr_assert_eq(stats(l, ING_SRC_TCP).connections, 0);
    cr_assert_geq(stats(l, ING_SRC_TCP).truncated, 1, "bytes left unprocessed are counted");
    /* The queued batches stay for the consumer, then the queue says closed. */
    ing_batch_t b;
    int n = 0;
    while (ing_listen_pop(l, &b, WAIT_MS) == 0) {
        ing_listen_release(l);
        n++;
    }
    cr_assert_eq(n, 2);
    cr_assert_eq(ing_listen_pop(l, &b, 0), PW_ECLOSED);
    pthread_join(t, NULL); /* its connection was closed under it */
    cr_assert_neq(j.rc, 0, "the blocked sender sees its connection end");
    ing_listen_destroy(l);
    ing_send_close(&half);
    ing_send_close(&json);
    ing_send_close(&idle);
    ing_send_close(&udp);
    pw_codec_buf_fini(&buf);
}

Test(ing_listen, pop_waits_up_to_its_timeout_and_reports_a_stopped_listener)
{
    ing_listen_t *l = NULL;
    pw_err_t err = {0};
    ing_listen_opts_t o = {.udp_addr = "127.0.0.1:0"};
    cr_assert_eq(ing_listen_create(&o, &names, &l, &err), 0, "%s", err.msg);
    ing_batch_t b;
    cr_assert_eq(ing_listen_pop(l, &b, 100), PW_ECLOSED, "not started");
    cr_assert_eq(ing_listen_start(l), 0);
    cr_assert_eq(ing_listen_start(l), PW_EARG);
    int64_t t0 = pw_mono_ns();
    cr_assert_eq(ing_listen_pop(l, &b, 50), -EAGAIN);
    cr_assert_geq(pw_mono_ns() - t0, 45 * PW_NS_PER_MS);
    cr_assert_eq(ing_listen_pop(l, &b, 0), -EAGAIN);
    cr_assert_eq(ing_listen_stop(l), 0);
    cr_assert_eq(ing_listen_stop(l), 0);
    cr_assert_eq(ing_listen_pop(l, &b, -1), PW_ECLOSED);
    /* It starts again and still receives. */
    cr_assert_eq(ing_listen_start(l), 0);
    char u[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_UDP, addr_of(l, ING_PROTO_UDP, u));
    send_batch(&s, 3, 3);
    b = pop(l);
    check_batch(b.points, 3, 3);
    /* Several held at once, released in order. */
    send_batch(&s, 4, 4);
    send_batch(&s, 5, 5);
    ing_batch_t b4 = pop(l), b5 = pop(l);
    check_batch(b4.points, 4, 4);
    check_batch(b5.points, 5, 5);
    check_batch(b.points, 3, 3);
    ing_listen_release(l);
    ing_listen_release(l);
    ing_listen_release(l);
    cr_assert_eq(stats(l, ING_SRC_UDP).queued, 0);
    ing_send_close(&s);
    ing_listen_destroy(l);
    ing_listen_destroy(NULL);
}

Test(ing_listen, create_rejects_bad_options_with_a_clear_message)
{
    ing_listen_t *l = NULL;
    pw_err_t err = {0};
    ing_listen_opts_t o = {0};
    cr_assert_eq(ing_listen_create(&o, &names, &l, &err), PW_EARG);
    cr_assert_not_null(strstr(err.msg, "neither"), "%s", err.msg);
    o.udp_addr = "localhost";
    cr_assert_eq(ing_listen_create(&o, &names, &l, &err), PW_EARG);
    cr_assert_not_null(strstr(err.msg, "expected HOST:PORT"), "%s", err.msg);
    o.udp_addr = "127.0.0.1:70000";
    cr_assert_eq(ing_listen_create(&o, &names, &l, &err), PW_EARG);
    cr_assert_not_null(strstr(err.msg, "70000"), "%s", err.msg);
    o.udp_addr = "127.0.0.1:0";
    o.max_msg_bytes = 10;
    cr_assert_eq(ing_listen_create(&o, &names, &l, &err), PW_EARG);
    cr_assert_null(l);

    /* A port in use. */
    ing_listen_t *first = start((ing_listen_opts_t){.tcp_addr = "127.0.0.1:0"});
    char a[32];
    ing_listen_opts_t taken = {.tcp_addr = addr_of(first, ING_PROTO_TCP, a)};
    cr_assert_eq(ing_listen_create(&taken, &names, &l, &err), -EADDRINUSE);
    cr_assert_not_null(strstr(err.msg, "cannot bind"), "%s", err.msg);
    cr_assert_null(l);
    ing_listen_destroy(first);
}

Test(ing_listen, sender_refuses_a_batch_too_big_for_one_datagram)
{
    ing_listen_t *l = start((ing_listen_opts_t){.udp_addr = "127.0.0.1:0"});
    char u[32];
    ing_send_t s;
    send_open(&s, ING_PROTO_UDP, addr_of(l, ING_PROTO_UDP, u));
    pw_points_t b;
    pw_points_init(&b);
    make_batch(&b, 0, 3000); /* 72 KB */
    pw_err_t err = {0};
    cr_assert_eq(ing_send_points(&s, &b, &err), PW_ECAPACITY);
    cr_assert_not_null(strstr(err.msg, "datagram limit"), "%s", err.msg);
    cr_assert_eq(s.batches, 0);
    pw_err_t err2 = {0};
    ing_send_t bad;
    cr_assert_eq(ing_send_open(&bad, ING_PROTO_TCP, "127.0.0.1:1", &err2), -ECONNREFUSED);
    cr_assert_not_null(strstr(err2.msg, "cannot connect"), "%s", err2.msg);
    ing_send_close(&bad);
    pw_points_fini(&b);
    ing_send_close(&s);
    ing_listen_destroy(l);
}
