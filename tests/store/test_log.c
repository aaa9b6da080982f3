/*
 * Tests of the embedded stream log (store/st_log.h). Each test gets a fresh
 * directory under /tmp from the fixture. Time is injected (now_ns); nothing
 * sleeps: waits are on conditions with deadlines.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/st_log.h"
#include "store/st_rawbench.h"

#define MS ((int64_t)1000000)
#define T0 ((int64_t)1700000000 * 1000000000) /* an injected "now" */

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
    snprintf(dir, sizeof dir, "/tmp/pw_log_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(st_log, .init = setup, .fini = teardown, .timeout = 10);

static st_log_opts_t opts_mode(st_log_durability_t mode)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.map_size_mb = 64;
    o.durability = mode;
    return o;
}

static st_log_t *open_mode(st_log_durability_t mode)
{
    st_log_opts_t o = opts_mode(mode);
    st_log_t *log = NULL;
    pw_err_t err = {0};
    int rc = st_log_open(&o, &log, &err);
    cr_assert_eq(rc, 0, "open: %s", err.msg);
    return log;
}

static void create(st_log_t *log, const char *topic, int32_t parts,
                   const pw_stream_retention_t *ret)
{
    pw_err_t err = {0};
    int rc = st_log_topic_create(log, topic, parts, ret, &err);
    cr_assert_eq(rc, 0, "create %s: %s", topic, err.msg);
}

static pw_stream_pos_t append_at(st_log_t *log, const char *topic,
                                 int32_t part, const char *key,
                                 const char *payload, int64_t now_ns)
{
    pw_stream_pos_t pos;
    pw_err_t err = {0};
    int rc = st_log_append(log, topic, part, key, key ? strlen(key) : 0,
                           payload, strlen(payload), now_ns, &pos, &err);
    cr_assert_eq(rc, 0, "append: %s", err.msg);
    return pos;
}

static pw_stream_pos_t append(st_log_t *log, const char *topic, int32_t part,
                              const char *key, const char *payload)
{
    return append_at(log, topic, part, key, payload, T0);
}

static st_log_reader_t *reader(st_log_t *log)
{
    st_log_reader_t *r = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_log_reader_create(log, &r, &err), 0, "%s", err.msg);
    return r;
}

static void bounds(st_log_reader_t *r, const char *topic, int32_t part,
                   int64_t *lo, int64_t *hi)
{
    pw_err_t err = {0};
    int rc = st_log_bounds(r, topic, part, lo, hi, &err);
    cr_assert_eq(rc, 0, "bounds: %s", err.msg);
}

static bool payload_is(const pw_stream_msg_t *m, const char *s)
{
    return m->payload_len == strlen(s) &&
           memcmp(m->payload, s, m->payload_len) == 0;
}

/* ---- Topics ------------------------------------------------------------- */

typedef struct listed {
    int n;
    char names[8][64];
    int32_t parts[8];
    pw_stream_part_info_t info[8][4];
    pw_stream_retention_t ret[8];
} listed_t;

static int collect(void *ctx, const pw_stream_topic_info_t *t)
{
    listed_t *l = ctx;
    cr_assert_lt(l->n, 8);
    snprintf(l->names[l->n], sizeof l->names[0], "%s", t->name);
    l->parts[l->n] = t->partitions;
    l->ret[l->n] = t->retention;
    for (int32_t p = 0; p < t->partitions && p < 4; p++)
        l->info[l->n][p] = t->parts[p];
    l->n++;
    return 0;
}

Test(st_log, creates_topics_and_lists_them_in_name_order)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    pw_stream_retention_t ret = {60000, 1 << 20};
    create(log, "telemetry.car", 4, &ret);
    create(log, "results", 1, NULL);
    st_log_reader_t *r = reader(log);
    listed_t l = {0};
    pw_err_t err = {0};
    cr_assert_eq(st_log_topics(r, collect, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.names[0], "results");
    cr_assert_eq(l.parts[0], 1);
    cr_assert_str_eq(l.names[1], "telemetry.car");
    cr_assert_eq(l.parts[1], 4);
    cr_assert_eq(l.ret[1].max_age_ms, 60000);
    cr_assert_eq(l.ret[1].max_bytes, 1 << 20);
    for (int p = 0; p < 4; p++) {
        cr_assert_eq(l.info[1][p].earliest, 0);
        cr_assert_eq(l.info[1][p].next, 0);
        cr_assert_eq(l.info[1][p].bytes, 0);
    }
    st_log_reader_destroy(r);
    cr_assert_eq(st_log_close(log, NULL), 0);
}

Test(st_log, refuses_a_duplicate_topic_with_a_clear_message)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "frames", 2, NULL);
    pw_err_t err = {0};
    cr_assert_eq(st_log_topic_create(log, "frames", 3, NULL, &err), PW_EEXIST);
    cr_assert(strstr(err.msg, "topic 'frames' already exists (2 partitions)"),
              "%s", err.msg);
    st_log_close(log, NULL);
}

Test(st_log, refuses_bad_topic_names_and_partition_counts)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    pw_err_t err = {0};
    cr_assert_eq(st_log_topic_create(log, "has space", 1, NULL, &err),
                 PW_EARG);
    cr_assert(strstr(err.msg, "character 4"), "%s", err.msg);
    cr_assert_eq(st_log_topic_create(log, "", 1, NULL, &err), PW_EARG);
    cr_assert_eq(st_log_topic_create(log, "ok", 0, NULL, &err), PW_EARG);
    cr_assert(strstr(err.msg, "0 partitions; expected 1..4096"), "%s",
              err.msg);
    pw_stream_retention_t neg = {-1, 0};
    cr_assert_eq(st_log_topic_create(log, "ok", 1, &neg, &err), PW_EARG);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(st_log_topic_create(log, longname, 1, NULL, &err), PW_EARG);
    cr_assert(strstr(err.msg, "longer than 249 bytes"), "%s", err.msg);
    st_log_close(log, NULL);
}

/* ---- Appends and partitioning ------------------------------------------ */

Test(st_log, append_returns_increasing_offsets_per_partition)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    create(log, "t", 3, NULL);
    for (int i = 0; i < 5; i++) {
        for (int32_t p = 0; p < 3; p++) {
            pw_stream_pos_t pos = append(log, "t", p, NULL, "x");
            cr_assert_eq(pos.partition, p);
            cr_assert_eq(pos.offset, i, "partition %d append %d got %lld",
                         p, i, (long long)pos.offset);
            cr_assert_eq(pos.seq, (uint64_t)(i * 3 + p + 1));
        }
    }
    st_log_close(log, NULL);
}

Test(st_log, a_key_maps_to_the_partition_kafka_gives_it)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "t", 7, NULL);
    /* Kafka's Java murmur2("21") is -973932308 (clients UtilsTest). */
    int32_t want = (int32_t)(((uint32_t)-973932308 & 0x7fffffffu) % 7u);
    for (int i = 0; i < 4; i++) {
        pw_stream_pos_t pos = append(log, "t", PW_STREAM_PARTITION_ANY, "21",
                                     "x");
        cr_assert_eq(pos.partition, want);
        cr_assert_eq(pos.offset, i);
    }
    pw_stream_pos_t a = append(log, "t", -1, "car/24", "x");
    pw_stream_pos_t b = append(log, "t", -1, "car/24", "y");
    cr_assert_eq(a.partition, b.partition);
    cr_assert_eq(a.partition, pw_stream_partition_for_key("car/24", 6, 7));
    st_log_close(log, NULL);
}

Test(st_log, unkeyed_appends_go_round_robin_from_partition_0)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "t", 3, NULL);
    int32_t got[6];
    for (int i = 0; i < 6; i++)
        got[i] = append(log, "t", PW_STREAM_PARTITION_ANY, NULL, "x").partition;
    int32_t want[6] = {0, 1, 2, 0, 1, 2};
    cr_assert_arr_eq(got, want, sizeof want);
    /* An empty key is no key. */
    pw_stream_pos_t pos = append(log, "t", -1, "", "x");
    cr_assert_eq(pos.partition, 0);
    st_log_close(log, NULL);
}

Test(st_log, unknown_topic_and_bad_partition_are_clear_errors)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    create(log, "t", 4, NULL);
    pw_stream_pos_t pos = {9, 9, 9};
    pw_err_t err = {0};
    cr_assert_eq(st_log_append(log, "nope", 0, NULL, 0, "x", 1, T0, &pos, &err),
                 PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "unknown topic 'nope'"), "%s", err.msg);
    cr_assert_eq(st_log_append(log, "t", 4, NULL, 0, "x", 1, T0, &pos, &err),
                 PW_EARG);
    cr_assert(strstr(err.msg, "topic 't' has 4 partitions (0..3); there is no "
                              "partition 4"),
              "%s", err.msg);
    cr_assert_eq(st_log_append(log, "t", -2, NULL, 0, "x", 1, T0, &pos, &err),
                 PW_EARG);
    cr_assert_eq(st_log_append(log, "t", 0, NULL, 5, "x", 1, T0, &pos, &err),
                 PW_EARG);
    cr_assert_eq(pos.offset, 9, "out is untouched on failure");

    st_log_reader_t *r = reader(log);
    int64_t lo, hi;
    size_t n;
    pw_stream_msg_t m[1];
    cr_assert_eq(st_log_bounds(r, "nope", 0, &lo, &hi, &err), PW_ENOTFOUND);
    cr_assert_eq(st_log_read(r, "t", 9, 0, m, 1, &n, &err), PW_EARG);
    cr_assert(strstr(err.msg, "no partition 9"), "%s", err.msg);
    cr_assert_eq(st_log_position_commit(log, "g", "t", 4, 0, &err), PW_EARG);
    cr_assert_eq(st_log_position_commit(log, "", "t", 0, 0, &err), PW_EARG);
    cr_assert_eq(st_log_position_commit(log, "g", "t", 0, -5, &err), PW_EARG);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* ---- Reading ------------------------------------------------------------ */

Test(st_log, reads_from_the_start_the_middle_and_the_end)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    create(log, "t", 2, NULL);
    char buf[32];
    for (int i = 0; i < 10; i++) {
        snprintf(buf, sizeof buf, "batch-%d", i);
        append_at(log, "t", 1, "k1", buf, T0 + i * MS);
    }
    append(log, "t", 0, NULL, "other partition");
    st_log_reader_t *r = reader(log);
    pw_stream_msg_t m[16];
    size_t n = 99;
    pw_err_t err = {0};

    cr_assert_eq(st_log_read(r, "t", 1, 0, m, 16, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 10);
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, "batch-%zu", i);
        cr_assert_eq(m[i].offset, (int64_t)i);
        cr_assert_eq(m[i].partition, 1);
        cr_assert_eq(m[i].ts_ns, T0 + (int64_t)i * MS);
        cr_assert_eq(m[i].key_len, 2);
        cr_assert_eq(memcmp(m[i].key, "k1", 2), 0);
        cr_assert(payload_is(&m[i], buf), "offset %zu", i);
    }

    cr_assert_eq(st_log_read(r, "t", 1, 6, m, 3, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3, "at most max messages");
    cr_assert(payload_is(&m[0], "batch-6"));
    cr_assert(payload_is(&m[2], "batch-8"));

    cr_assert_eq(st_log_read(r, "t", 1, PW_STREAM_OFFSET_BEGINNING, m, 1, &n,
                             &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(m[0].offset, 0);

    cr_assert_eq(st_log_read(r, "t", 1, 10, m, 16, &n, &err), 0);
    cr_assert_eq(n, 0, "nothing at the next offset yet");
    cr_assert_eq(st_log_read(r, "t", 1, PW_STREAM_OFFSET_END, m, 16, &n, &err),
                 0);
    cr_assert_eq(n, 0);

    size_t before = n;
    cr_assert_eq(st_log_read(r, "t", 1, 11, m, 16, &n, &err), PW_ERANGE);
    cr_assert_eq(n, before, "count untouched on failure");
    cr_assert(strstr(err.msg, "topic 't' partition 1: offset 11 is past the "
                              "next offset 10"),
              "%s", err.msg);

    cr_assert_eq(st_log_read(r, "t", 0, 0, m, 16, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_null(m[0].key);
    cr_assert_eq(m[0].key_len, 0);
    cr_assert(payload_is(&m[0], "other partition"));
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

Test(st_log, bounds_are_earliest_and_next_offset)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    create(log, "t", 2, NULL);
    st_log_reader_t *r = reader(log);
    int64_t lo = -1, hi = -1;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 0);
    for (int i = 0; i < 3; i++)
        append(log, "t", 0, NULL, "x");
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 3);
    bounds(r, "t", 1, &lo, &hi);
    cr_assert_eq(hi, 0);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* ---- Positions ---------------------------------------------------------- */

Test(st_log, positions_survive_close_and_reopen)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "t", 2, NULL);
    pw_err_t err = {0};
    cr_assert_eq(st_log_position_commit(log, "pipeline", "t", 1, 42, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(st_log_position_commit(log, "api", "t", 1, 7, &err), 0);
    cr_assert_eq(st_log_position_commit(log, "pipeline", "t", 1, 43, &err), 0);
    cr_assert_eq(st_log_close(log, &err), 0, "%s", err.msg);

    log = open_mode(ST_LOG_GROUP);
    st_log_reader_t *r = reader(log);
    int64_t pos = -1;
    cr_assert_eq(st_log_position_get(r, "pipeline", "t", 1, &pos, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pos, 43);
    cr_assert_eq(st_log_position_get(r, "api", "t", 1, &pos, &err), 0);
    cr_assert_eq(pos, 7);
    cr_assert_eq(st_log_position_get(r, "pipeline", "t", 0, &pos, &err),
                 PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "group 'pipeline' has no position in topic 't' "
                              "partition 0"),
              "%s", err.msg);
    cr_assert_eq(st_log_position_get(r, "nobody", "t", 1, &pos, &err),
                 PW_ENOTFOUND);
    cr_assert_eq(pos, 7, "untouched on failure");
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* ---- Retention ---------------------------------------------------------- */

Test(st_log, retention_by_age_deletes_old_messages_from_the_front)
{
    st_log_t *log = open_mode(ST_LOG_SYNC);
    pw_stream_retention_t ret = {.max_age_ms = 1000};
    create(log, "t", 2, &ret);
    create(log, "keep", 1, NULL);
    for (int i = 0; i < 10; i++) {
        append_at(log, "t", 0, NULL, "x", T0 + i * 200 * MS);
        append_at(log, "keep", 0, NULL, "x", T0);
    }
    append_at(log, "t", 1, NULL, "x", T0);
    pw_err_t err = {0};
    uint64_t deleted = 0;
    /* At T0 + 2000 ms, messages appended before T0 + 1000 ms are too old. */
    cr_assert_eq(st_log_retain(log, T0 + 2000 * MS, &deleted, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(deleted, 5 + 1);
    st_log_reader_t *r = reader(log);
    int64_t lo, hi;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(lo, 5);
    cr_assert_eq(hi, 10);
    bounds(r, "t", 1, &lo, &hi);
    cr_assert_eq(lo, 1, "a partition may be emptied");
    cr_assert_eq(hi, 1, "its next offset never goes back");
    bounds(r, "keep", 0, &lo, &hi);
    cr_assert_eq(lo, 0, "a topic without retention keeps everything");

    pw_stream_msg_t m[4];
    size_t n;
    cr_assert_eq(st_log_read(r, "t", 0, 2, m, 4, &n, &err), PW_ERANGE);
    cr_assert(strstr(err.msg, "offset 2 is before the earliest offset 5"),
              "%s", err.msg);
    cr_assert_eq(st_log_read(r, "t", 0, PW_STREAM_OFFSET_BEGINNING, m, 4, &n,
                             &err), 0);
    cr_assert_eq(m[0].offset, 5);

    /* Nothing more is old at the same time; appends continue. */
    cr_assert_eq(st_log_retain(log, T0 + 2000 * MS, &deleted, &err), 0);
    cr_assert_eq(deleted, 0);
    cr_assert_eq(append(log, "t", 1, NULL, "x").offset, 1);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

Test(st_log, retention_by_size_keeps_each_partition_under_its_limit)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    /* Each message: 16-byte header + 1-byte key + 83-byte payload = 100. */
    pw_stream_retention_t ret = {.max_bytes = 450};
    create(log, "t", 2, &ret);
    char payload[84];
    memset(payload, 'p', 83);
    payload[83] = '\0';
    for (int i = 0; i < 10; i++)
        append(log, "t", 0, "k", payload);
    for (int i = 0; i < 3; i++)
        append(log, "t", 1, "k", payload);
    pw_err_t err = {0};
    uint64_t deleted = 0;
    cr_assert_eq(st_log_retain(log, T0, &deleted, &err), 0, "%s", err.msg);
    cr_assert_eq(deleted, 6);
    cr_assert_eq(st_log_flush(log, &err), 0);
    st_log_reader_t *r = reader(log);
    listed_t l = {0};
    cr_assert_eq(st_log_topics(r, collect, &l, &err), 0);
    cr_assert_eq(l.info[0][0].earliest, 6);
    cr_assert_eq(l.info[0][0].next, 10);
    cr_assert_eq(l.info[0][0].bytes, 400);
    cr_assert_eq(l.info[0][1].earliest, 0);
    cr_assert_eq(l.info[0][1].bytes, 300);
    st_log_reader_destroy(r);

    /* Lowering the limit applies at the next run. */
    ret.max_bytes = 100;
    cr_assert_eq(st_log_topic_set_retention(log, "t", &ret, &err), 0);
    cr_assert_eq(st_log_retain(log, T0, &deleted, &err), 0);
    cr_assert_eq(deleted, 3 + 2);
    st_log_close(log, NULL);
}

/* ---- Durability modes --------------------------------------------------- */

Test(st_log, group_appends_are_invisible_until_their_group_commits)
{
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    o.group_commit_ms = 1000;
    st_log_t *log = NULL;
    cr_assert_eq(st_log_open(&o, &log, NULL), 0);
    create(log, "t", 1, NULL);
    st_log_reader_t *r = reader(log);

    pw_stream_pos_t a = append_at(log, "t", 0, NULL, "a", T0);
    pw_stream_pos_t b = append_at(log, "t", 0, NULL, "b", T0 + 400 * MS);
    cr_assert_eq(b.seq, a.seq + 1);
    cr_assert_eq(st_log_last_seq(log), b.seq);
    cr_assert_lt(st_log_acked_seq(log), a.seq, "nothing acknowledged yet");
    cr_assert_eq(st_log_due_ns(log), T0 + 1000 * MS);

    int64_t lo, hi;
    pw_stream_msg_t m[4];
    size_t n;
    pw_err_t err = {0};
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 0, "a reader sees no uncommitted append");
    cr_assert_eq(st_log_read(r, "t", 0, 0, m, 4, &n, &err), 0);
    cr_assert_eq(n, 0);

    cr_assert_eq(st_log_poll(log, T0 + 999 * MS, &err), 0);
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 0, "not due before the bound");

    cr_assert_eq(st_log_poll(log, T0 + 1000 * MS, &err), 0, "%s", err.msg);
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 2, "visible once the group commits");

    /* Durable (and acknowledged) by the next commit's fsync or, when no
     * commit comes, by the poll that finds the sync due. */
    if (st_log_acked_seq(log) < b.seq) {
        cr_assert_eq(st_log_due_ns(log), T0 + 2000 * MS);
        cr_assert_eq(st_log_poll(log, T0 + 2000 * MS, &err), 0);
    }
    cr_assert_eq(st_log_acked_seq(log), b.seq);
    cr_assert_eq(st_log_due_ns(log), INT64_MAX);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* In a child process: open the log read-only and exit with the next offset
 * of t/0 (or 100 + a failure code). */
static int next_seen_by_another_process(void)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        st_log_opts_t o = opts_mode(ST_LOG_GROUP);
        o.read_only = true;
        st_log_t *ro = NULL;
        st_log_reader_t *r = NULL;
        int64_t lo, hi;
        if (st_log_open(&o, &ro, NULL) != 0)
            _exit(101);
        if (st_log_reader_create(ro, &r, NULL) != 0 ||
            st_log_bounds(r, "t", 0, &lo, &hi, NULL) != 0)
            _exit(102);
        st_log_reader_destroy(r);
        st_log_close(ro, NULL);
        _exit((int)hi);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(st_log, group_appends_are_invisible_to_another_process_until_commit)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "t", 1, NULL);
    append(log, "t", 0, NULL, "a");
    append(log, "t", 0, NULL, "b");
    cr_assert_eq(next_seen_by_another_process(), 0);
    cr_assert_eq(st_log_flush(log, NULL), 0);
    cr_assert_eq(next_seen_by_another_process(), 2);
    st_log_close(log, NULL);
}

Test(st_log, group_commits_when_max_pending_bytes_is_reached)
{
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    o.group_commit_ms = 60000;
    o.max_pending_bytes = 1000;
    st_log_t *log = NULL;
    cr_assert_eq(st_log_open(&o, &log, NULL), 0);
    create(log, "t", 1, NULL);
    st_log_reader_t *r = reader(log);
    char payload[185];
    memset(payload, 'x', 184);
    payload[184] = '\0'; /* 200 bytes a message with its header */
    for (int i = 0; i < 4; i++)
        append(log, "t", 0, NULL, payload);
    int64_t lo, hi;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 0);
    append(log, "t", 0, NULL, payload); /* 1000 bytes pending: commit */
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 5);
    pw_err_t err = {0};
    cr_assert_eq(st_log_flush(log, &err), 0);
    cr_assert_eq(st_log_acked_seq(log), 5);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

Test(st_log, sync_and_none_modes_commit_each_append_before_returning)
{
    st_log_durability_t modes[] = {ST_LOG_SYNC, ST_LOG_NONE};
    for (size_t i = 0; i < 2; i++) {
        st_log_t *log = open_mode(modes[i]);
        char topic[8];
        snprintf(topic, sizeof topic, "t%zu", i);
        create(log, topic, 1, NULL);
        st_log_reader_t *r = reader(log);
        for (int k = 0; k < 3; k++) {
            pw_stream_pos_t pos = append(log, topic, 0, NULL, "x");
            cr_assert_eq(st_log_acked_seq(log), pos.seq);
            int64_t lo, hi;
            bounds(r, topic, 0, &lo, &hi);
            cr_assert_eq(hi, k + 1);
        }
        cr_assert_eq(st_log_due_ns(log), INT64_MAX);
        cr_assert_eq(st_log_flush(log, NULL), 0);
        st_log_reader_destroy(r);
        st_log_close(log, NULL);
    }
}

Test(st_log, argument_errors_do_not_discard_a_pending_group)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "t", 1, NULL);
    pw_stream_pos_t a = append(log, "t", 0, NULL, "kept");
    pw_stream_pos_t pos;
    pw_err_t err = {0};
    cr_assert_eq(st_log_append(log, "nope", 0, NULL, 0, "x", 1, T0, &pos, &err),
                 PW_ENOTFOUND);
    cr_assert_eq(st_log_append(log, "t", 3, NULL, 0, "x", 1, T0, &pos, &err),
                 PW_EARG);
    cr_assert_eq(st_log_last_seq(log), a.seq);
    cr_assert_eq(st_log_flush(log, &err), 0);
    cr_assert_eq(st_log_acked_seq(log), a.seq);
    st_log_reader_t *r = reader(log);
    int64_t lo, hi;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 1);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* ---- Map full ----------------------------------------------------------- */

static int fill_until_full(st_log_t *log, const char *topic, size_t len,
                           int max, pw_err_t *err)
{
    static char payload[8192];
    memset(payload, 'f', sizeof payload);
    for (int i = 0; i < max; i++) {
        pw_stream_pos_t pos;
        int rc = st_log_append(log, topic, 0, NULL, 0, payload, len, T0, &pos,
                               err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

Test(st_log, map_full_is_reported_and_the_log_stays_usable)
{
    st_log_opts_t o = opts_mode(ST_LOG_SYNC);
    o.map_size_mb = 1;
    st_log_t *log = NULL;
    cr_assert_eq(st_log_open(&o, &log, NULL), 0);
    pw_stream_retention_t ret = {0};
    create(log, "t", 1, &ret);
    pw_err_t err = {0};
    cr_assert_eq(fill_until_full(log, "t", 8000, 1000, &err), PW_EFULL);
    cr_assert(strstr(err.msg, "log full: map size 1 MiB reached; raise "
                              "log.map_size_mb or lower retention"),
              "%s", err.msg);
    cr_assert(strstr(err.msg, dir), "says where: %s", err.msg);
    uint64_t acked = st_log_acked_seq(log);
    cr_assert_gt(acked, 10);
    cr_assert_eq(st_log_last_seq(log), acked);

    /* Every acknowledged append is there. */
    st_log_reader_t *r = reader(log);
    int64_t lo, hi;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, (int64_t)acked);
    pw_stream_msg_t m[1];
    size_t n;
    cr_assert_eq(st_log_read(r, "t", 0, hi - 1, m, 1, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(m[0].payload_len, 8000);
    st_log_reader_release(r);

    /* Lower retention, and appends work again at the next offset. */
    ret.max_bytes = 8016 * 4;
    cr_assert_eq(st_log_topic_set_retention(log, "t", &ret, &err), 0, "%s",
                 err.msg);
    uint64_t deleted = 0;
    cr_assert_eq(st_log_retain(log, T0, &deleted, &err), 0, "%s", err.msg);
    cr_assert_gt(deleted, 0);
    cr_assert_eq(fill_until_full(log, "t", 8000, 5, &err), 0, "%s", err.msg);
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, (int64_t)acked + 5);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

Test(st_log, map_full_in_group_mode_discards_only_unacknowledged_appends)
{
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    o.map_size_mb = 1;
    o.group_commit_ms = 60000;
    o.max_pending_bytes = 64 * 1024;
    st_log_t *log = NULL;
    cr_assert_eq(st_log_open(&o, &log, NULL), 0);
    create(log, "t", 1, NULL);
    pw_err_t err = {0};
    cr_assert_eq(fill_until_full(log, "t", 4000, 1000, &err), PW_EFULL);
    cr_assert(strstr(err.msg, "log full"), "%s", err.msg);
    uint64_t acked = st_log_acked_seq(log);
    cr_assert_gt(acked, 0);
    cr_assert_eq(st_log_last_seq(log), acked,
                 "the sequence restarts after the last acknowledged append");
    st_log_reader_t *r = reader(log);
    int64_t lo, hi;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, (int64_t)acked, "acknowledged appends all kept");

    /* Small appends still fit; they take the discarded offsets. */
    pw_stream_pos_t pos = append(log, "t", 0, NULL, "small");
    cr_assert_eq(pos.offset, (int64_t)acked);
    cr_assert_eq(pos.seq, acked + 1);
    cr_assert_eq(st_log_flush(log, &err), 0, "%s", err.msg);
    cr_assert_eq(st_log_acked_seq(log), acked + 1);
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* ---- Open modes --------------------------------------------------------- */

Test(st_log, read_only_open_needs_a_log_and_refuses_writes)
{
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    o.read_only = true;
    st_log_t *log = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_log_open(&o, &log, &err), PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "no stream log here"), "%s", err.msg);

    st_log_t *w = open_mode(ST_LOG_GROUP);
    create(w, "t", 1, NULL);
    append(w, "t", 0, NULL, "x");
    cr_assert_eq(st_log_close(w, NULL), 0);

    cr_assert_eq(st_log_open(&o, &log, &err), 0, "%s", err.msg);
    pw_stream_pos_t pos;
    cr_assert_eq(st_log_append(log, "t", 0, NULL, 0, "x", 1, T0, &pos, &err),
                 PW_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "read-only"), "%s", err.msg);
    st_log_reader_t *r = reader(log);
    int64_t lo, hi;
    bounds(r, "t", 0, &lo, &hi);
    cr_assert_eq(hi, 1);
    st_log_reader_destroy(r);
    cr_assert_eq(st_log_close(log, NULL), 0);
}

Test(st_log, rejects_bad_options_with_the_reason)
{
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    st_log_t *log = NULL;
    pw_err_t err = {0};
    o.map_size_mb = 0;
    cr_assert_eq(st_log_open(&o, &log, &err), PW_EARG);
    cr_assert(strstr(err.msg, "map_size_mb"), "%s", err.msg);
    o = opts_mode(ST_LOG_GROUP);
    o.durability = (st_log_durability_t)7;
    cr_assert_eq(st_log_open(&o, &log, &err), PW_EARG);
    cr_assert(strstr(err.msg, "durability"), "%s", err.msg);
    o = opts_mode(ST_LOG_GROUP);
    o.dir = NULL;
    cr_assert_eq(st_log_open(&o, &log, &err), PW_EARG);
    cr_assert_null(log);
    st_log_opts_t d = st_log_opts_default();
    cr_assert_eq(d.map_size_mb, 1024);
    cr_assert_eq(d.durability, ST_LOG_GROUP);
    cr_assert_eq(d.group_commit_ms, 10);
}

/* ---- Concurrency: threads and processes --------------------------------- */

#define CONC_N 2000

typedef struct rd_arg {
    st_log_t *log;
    int64_t got;
    int bad;
    char msg[PW_ERR_MSG_MAX];
} rd_arg_t;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read CONC_N messages in order, whatever the writer's pace, or time out. */
static void *read_all(void *p)
{
    rd_arg_t *a = p;
    st_log_reader_t *r = NULL;
    if (st_log_reader_create(a->log, &r, NULL) != 0) {
        a->bad = 1;
        return NULL;
    }
    pw_stream_msg_t m[64];
    int64_t deadline = mono_ms() + 8000;
    while (a->got < CONC_N && mono_ms() < deadline) {
        size_t n = 0;
        pw_err_t err = {0};
        if (st_log_read(r, "t", 0, a->got, m, 64, &n, &err) != 0) {
            snprintf(a->msg, sizeof a->msg, "%s", err.msg);
            a->bad = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            if (m[i].offset != a->got || m[i].payload_len != sizeof v) {
                a->bad = 1;
                break;
            }
            memcpy(&v, m[i].payload, sizeof v);
            if (v != a->got) {
                a->bad = 1;
                break;
            }
            a->got++;
        }
        if (a->bad)
            break;
        if (n == 0)
            sched_yield();
    }
    st_log_reader_destroy(r);
    return NULL;
}

Test(st_log, a_reader_thread_reads_while_the_writer_appends)
{
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    o.group_commit_ms = 1;
    st_log_t *log = NULL;
    cr_assert_eq(st_log_open(&o, &log, NULL), 0);
    create(log, "t", 1, NULL);
    rd_arg_t a = {.log = log};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, read_all, &a), 0);
    pw_err_t err = {0};
    for (int64_t i = 0; i < CONC_N; i++) {
        pw_stream_pos_t pos;
        cr_assert_eq(st_log_append(log, "t", 0, NULL, 0, &i, sizeof i,
                                   st_log_now_ns(), &pos, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(pos.offset, i);
        cr_assert_eq(st_log_poll(log, st_log_now_ns(), &err), 0);
    }
    cr_assert_eq(st_log_flush(log, &err), 0);
    pthread_join(th, NULL);
    cr_assert_eq(a.bad, 0, "reader saw a gap or bad payload at %lld: %s",
                 (long long)a.got, a.msg);
    cr_assert_eq(a.got, CONC_N);
    st_log_close(log, NULL);
}

Test(st_log, another_process_reads_while_this_one_writes)
{
    st_log_t *log = open_mode(ST_LOG_NONE);
    create(log, "t", 1, NULL);
    cr_assert_eq(st_log_close(log, NULL), 0);

    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* Child: its own read-only log on the same directory. */
        st_log_opts_t o = opts_mode(ST_LOG_GROUP);
        o.read_only = true;
        st_log_t *ro = NULL;
        if (st_log_open(&o, &ro, NULL) != 0)
            _exit(2);
        rd_arg_t a = {.log = ro};
        read_all(&a);
        st_log_close(ro, NULL);
        _exit(a.bad ? 3 : a.got == CONC_N ? 0 : 4);
    }
    log = open_mode(ST_LOG_NONE);
    pw_err_t err = {0};
    for (int64_t i = 0; i < CONC_N; i++) {
        pw_stream_pos_t pos;
        cr_assert_eq(st_log_append(log, "t", 0, NULL, 0, &i, sizeof i,
                                   st_log_now_ns(), &pos, &err), 0,
                     "%s", err.msg);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "reader process died");
    cr_assert_eq(WEXITSTATUS(status), 0,
                 "reader process: 2 open failed, 3 bad data, 4 timed out");
    st_log_close(log, NULL);
}

Test(st_log, appends_of_another_process_are_never_overwritten)
{
    st_log_t *log = open_mode(ST_LOG_GROUP);
    create(log, "t", 2, NULL);
    for (int i = 0; i < 3; i++)
        append(log, "t", 1, NULL, "parent");
    /* Release the write lock (a pending group holds it) before the child
     * writes; the parent keeps its log open meanwhile. */
    cr_assert_eq(st_log_flush(log, NULL), 0);

    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        st_log_opts_t o = opts_mode(ST_LOG_SYNC);
        st_log_t *c = NULL;
        if (st_log_open(&o, &c, NULL) != 0)
            _exit(2);
        for (int i = 0; i < 4; i++) {
            pw_stream_pos_t pos;
            if (st_log_append(c, "t", 1, NULL, 0, "child", 5, T0, &pos,
                              NULL) != 0 ||
                pos.offset != 3 + i)
                _exit(3);
        }
        _exit(st_log_close(c, NULL) == 0 ? 0 : 4);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child writer failed (%d)", WEXITSTATUS(status));
    pw_stream_pos_t pos = append(log, "t", 1, NULL, "parent again");
    cr_assert_eq(pos.offset, 7, "the parent saw the child's appends");
    cr_assert_eq(st_log_flush(log, NULL), 0);
    st_log_reader_t *r = reader(log);
    pw_stream_msg_t m[8];
    size_t n;
    cr_assert_eq(st_log_read(r, "t", 1, 0, m, 8, &n, NULL), 0);
    cr_assert_eq(n, 8);
    cr_assert(payload_is(&m[2], "parent"));
    cr_assert(payload_is(&m[3], "child"));
    cr_assert(payload_is(&m[6], "child"));
    cr_assert(payload_is(&m[7], "parent again"));
    st_log_reader_destroy(r);
    st_log_close(log, NULL);
}

/* ---- Raw LMDB baseline for `pitwall bench` ------------------------------ */

Test(st_log, raw_bench_writes_and_reads_back_every_value)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/raw", dir);
    st_log_opts_t o = opts_mode(ST_LOG_GROUP);
    o.dir = sub;
    o.max_pending_bytes = 10000; /* several commits */
    static char payload[1000];
    memset(payload, 7, sizeof payload);
    double w = -1, r = -1;
    uint64_t count = 0, bytes = 0, sum = 0;
    pw_err_t err = {0};
    cr_assert_eq(st_rawbench_write(&o, payload, sizeof payload, 100, &w,
                                   &err), 0, "%s", err.msg);
    cr_assert_geq(w, 0.0);
    cr_assert_eq(st_rawbench_read(sub, &count, &bytes, &r, &sum, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(count, 100);
    cr_assert_eq(bytes, 100 * sizeof payload);
    cr_assert_eq(sum, 100 * 14);
    cr_assert_eq(st_rawbench_write(&o, payload, sizeof payload, 1, &w, &err),
                 PW_EARG, "a used directory is refused");
    cr_assert(strstr(err.msg, "fresh directory"), "%s", err.msg);
}
