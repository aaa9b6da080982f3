/*
 * kill -9 tests of the stream log.
 *
 * A writer child appends self-checking batches and reports, through a
 * pipe, every (partition, offset) once it is acknowledged (st_log_acked_seq
 * covers it). The parent kills it with SIGKILL at a random moment, reopens
 * the log and checks, for each partition:
 * - every acknowledged batch is there, intact (magic, partition, offset,
 *   length and checksum inside the payload agree), and offsets run from 0
 *   without a gap;
 * - nothing else, except batches after the last reported one that are
 *   themselves complete and in sequence: a commit can finish (and even its
 *   ack) before the child writes to the pipe, and in group mode the last
 *   committed group is acknowledged only by the next fsync. So the extra
 *   batches of all partitions together hold fewer than two groups' worth
 *   of bytes (2 * (max_pending_bytes + largest message)) in group mode,
 *   and at most one batch in sync mode;
 * - nothing seen in an earlier round has gone.
 * Several rounds run on the same directory; the seed is printed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/st_log.h"

#define PARTS 2
#define ROUNDS 6
#define MAX_PAYLOAD 3000
#define MAGIC 0x50495457414c4cull /* "PITWALL" */
#define MAX_PENDING (32 * 1024)

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw_crash_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(st_log_crash, .init = setup, .fini = teardown, .timeout = 30);

/* Payload: magic, partition, offset, body length, checksum, body. */
typedef struct batch_hdr {
    uint64_t magic;
    int64_t partition;
    int64_t offset;
    uint64_t body_len;
    uint64_t sum;
} batch_hdr_t;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static size_t make_batch(unsigned char *buf, int32_t part, int64_t off,
                         unsigned *rng)
{
    batch_hdr_t h = {MAGIC, part, off, 0, 0};
    h.body_len = (uint64_t)(rand_r(rng) % (MAX_PAYLOAD - sizeof h));
    unsigned char *body = buf + sizeof h;
    for (size_t i = 0; i < h.body_len; i++)
        body[i] = (unsigned char)rand_r(rng);
    h.sum = fnv1a(body, h.body_len);
    memcpy(buf, &h, sizeof h);
    return sizeof h + h.body_len;
}

/* 0 if m is the intact batch for its own partition and offset. */
static int check_batch(const pw_stream_msg_t *m)
{
    batch_hdr_t h;
    if (m->payload_len < sizeof h)
        return 1;
    memcpy(&h, m->payload, sizeof h);
    if (h.magic != MAGIC || h.partition != m->partition ||
        h.offset != m->offset || sizeof h + h.body_len != m->payload_len)
        return 2;
    if (fnv1a((const unsigned char *)m->payload + sizeof h, h.body_len) !=
        h.sum)
        return 3;
    return 0;
}

typedef struct ack {
    int64_t partition;
    int64_t offset;
} ack_t;

/* Child: append forever, report acknowledged batches. Never returns. */
static void writer(st_log_durability_t mode, int fd, unsigned seed)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.map_size_mb = 256;
    o.durability = mode;
    o.group_commit_ms = 2;
    o.max_pending_bytes = MAX_PENDING;
    st_log_t *log = NULL;
    if (st_log_open(&o, &log, NULL) != 0)
        _exit(10);
    int rc = st_log_topic_create(log, "crash", PARTS, NULL, NULL);
    if (rc != 0 && rc != PW_EEXIST)
        _exit(11);
    /* Each batch carries its own offset, so learn where each partition
     * goes on; a batch's partition comes from its key, as Kafka's. */
    int64_t next[PARTS];
    st_log_reader_t *rd;
    if (st_log_reader_create(log, &rd, NULL) != 0)
        _exit(12);
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t lo;
        if (st_log_bounds(rd, "crash", p, &lo, &next[p], NULL) != 0)
            _exit(13);
    }
    st_log_reader_destroy(rd);
    /* seq -> (partition, offset) of appends not yet reported. */
    static ack_t pending[1 << 16];
    uint64_t reported = st_log_acked_seq(log);
    unsigned rng = seed;
    static unsigned char buf[MAX_PAYLOAD];
    for (;;) {
        char key[16];
        snprintf(key, sizeof key, "car%u", (unsigned)rand_r(&rng) % 50);
        int32_t part = pw_stream_partition_for_key(key, strlen(key), PARTS);
        size_t len = make_batch(buf, part, next[part], &rng);
        pw_stream_pos_t pos;
        if (st_log_append(log, "crash", PW_STREAM_PARTITION_ANY, key,
                          strlen(key), buf, len,
                          st_log_now_ns(), &pos, NULL) != 0)
            _exit(14);
        if (pos.offset != next[part] || pos.partition != part)
            _exit(15);
        next[part]++;
        pending[pos.seq % (1 << 16)] = (ack_t){part, pos.offset};
        if (st_log_poll(log, st_log_now_ns(), NULL) != 0)
            _exit(16);
        uint64_t acked = st_log_acked_seq(log);
        if (acked - reported >= (1 << 16))
            _exit(17);
        ack_t out[256];
        size_t n = 0;
        while (reported < acked) {
            out[n++] = pending[++reported % (1 << 16)];
            if (n == 256 || reported == acked) {
                /* 4096 bytes at most: one atomic pipe write. */
                if (write(fd, out, n * sizeof out[0]) !=
                    (ssize_t)(n * sizeof out[0]))
                    _exit(18);
                n = 0;
            }
        }
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct state {
    int64_t acked[PARTS]; /* highest acknowledged offset, -1 if none */
    int64_t seen[PARTS];  /* next offset verified in an earlier round */
} state_t;

/* Read acks from fd until the deadline (or EOF when deadline < 0). */
static void drain(int fd, state_t *st, int64_t deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                return;
            timeout = (int)left;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, timeout);
        if (rc < 0 && errno == EINTR)
            continue;
        cr_assert_geq(rc, 0);
        if (rc == 0)
            return;
        ack_t a[256];
        ssize_t n = read(fd, a, sizeof a);
        if (n == 0)
            return; /* EOF: the child is gone and everything is read */
        cr_assert_gt(n, 0);
        cr_assert_eq(n % (ssize_t)sizeof a[0], 0, "torn ack record");
        for (ssize_t i = 0; i < n / (ssize_t)sizeof a[0]; i++) {
            cr_assert(a[i].partition >= 0 && a[i].partition < PARTS);
            /* A new writer goes on from the log's next offset, which may
             * be past the last ack (batches committed but not reported). */
            int64_t *hi = &st->acked[a[i].partition];
            int64_t want = *hi + 1;
            if (want < st->seen[a[i].partition])
                want = st->seen[a[i].partition];
            cr_assert_eq(a[i].offset, want,
                         "acks of partition %lld out of order: %lld after "
                         "%lld",
                         (long long)a[i].partition, (long long)a[i].offset,
                         (long long)*hi);
            *hi = a[i].offset;
        }
    }
}

/* Reopen the log and check it against what was acknowledged. */
static void verify(st_log_durability_t mode, state_t *st, int round)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.map_size_mb = 256;
    o.durability = mode;
    st_log_t *log = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_log_open(&o, &log, &err), 0, "round %d: reopen: %s",
                 round, err.msg);
    st_log_reader_t *r = NULL;
    cr_assert_eq(st_log_reader_create(log, &r, &err), 0);
    int64_t extra_bytes = 0, extra_msgs = 0;
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t lo = -1, hi = -1;
        int rc = st_log_bounds(r, "crash", p, &lo, &hi, &err);
        if (rc == PW_ENOTFOUND && st->acked[p] < 0 && st->seen[p] == 0)
            continue; /* killed before the topic was created */
        cr_assert_eq(rc, 0, "round %d: %s", round, err.msg);
        cr_assert_eq(lo, 0, "round %d partition %d", round, p);
        cr_assert_gt(hi, st->acked[p],
                     "round %d partition %d: acknowledged offset %lld "
                     "missing (next %lld)",
                     round, p, (long long)st->acked[p], (long long)hi);
        cr_assert_geq(hi, st->seen[p],
                      "round %d partition %d: offsets seen before are gone",
                      round, p);
        int64_t off = 0;
        while (off < hi) {
            pw_stream_msg_t m[128];
            size_t n = 0;
            cr_assert_eq(st_log_read(r, "crash", p, off, m, 128, &n, &err), 0,
                         "round %d: %s", round, err.msg);
            cr_assert_gt(n, 0);
            for (size_t i = 0; i < n; i++, off++) {
                cr_assert_eq(m[i].offset, off);
                cr_assert_eq(check_batch(&m[i]), 0,
                             "round %d partition %d offset %lld is torn",
                             round, p, (long long)off);
                if (off > st->acked[p] && off >= st->seen[p]) {
                    extra_msgs++;
                    extra_bytes += (int64_t)(ST_LOG_HEADER_BYTES +
                                             m[i].key_len + m[i].payload_len);
                }
            }
        }
        st->seen[p] = hi;
    }
    if (mode == ST_LOG_SYNC)
        cr_assert_leq(extra_msgs, 1,
                      "round %d: %lld unacknowledged batches in sync mode",
                      round, (long long)extra_msgs);
    else
        cr_assert_lt(extra_bytes,
                     2 * (MAX_PENDING + ST_LOG_HEADER_BYTES + 16 +
                          MAX_PAYLOAD),
                     "round %d: %lld unacknowledged bytes exceed two groups",
                     round, (long long)extra_bytes);
    st_log_reader_destroy(r);
    cr_assert_eq(st_log_close(log, &err), 0, "%s", err.msg);
}

static void crash_rounds(st_log_durability_t mode)
{
    unsigned seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 8);
    const char *env = getenv("PW_CRASH_SEED");
    if (env != NULL)
        seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "st_log_crash %s: seed %u (PW_CRASH_SEED=%u repeats)\n",
            mode == ST_LOG_SYNC ? "sync" : "group", seed, seed);
    unsigned rng = seed;
    state_t st;
    for (int p = 0; p < PARTS; p++) {
        st.acked[p] = -1;
        st.seen[p] = 0;
    }
    int64_t total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        unsigned child_seed = (unsigned)rand_r(&rng);
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            close(fds[0]);
            writer(mode, fds[1], child_seed);
        }
        close(fds[1]);
        /* Let it run a random 5..300 ms (reading acks meanwhile), kill it
         * at that moment, then read the rest of the pipe to EOF. */
        int64_t run_ms = 5 + rand_r(&rng) % 296;
        total += run_ms;
        drain(fds[0], &st, mono_ms() + run_ms);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %d: writer exited on its own (status %d)", round,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        drain(fds[0], &st, -1);
        close(fds[0]);
        verify(mode, &st, round);
    }
    fprintf(stderr, "st_log_crash %s: %d rounds in %lld ms, acked offsets "
            "%lld and %lld\n",
            mode == ST_LOG_SYNC ? "sync" : "group", ROUNDS, (long long)total,
            (long long)st.acked[0], (long long)st.acked[1]);
    cr_assert(st.acked[0] >= 0 || st.acked[1] >= 0,
              "no batch was ever acknowledged");
}

Test(st_log_crash, group_mode_keeps_every_acknowledged_batch_after_kill_9)
{
    crash_rounds(ST_LOG_GROUP);
}

Test(st_log_crash, sync_mode_keeps_every_acknowledged_batch_after_kill_9)
{
    crash_rounds(ST_LOG_SYNC);
}
