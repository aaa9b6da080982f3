/*
 * Tests of the stream interface (core/pw_stream.h) through the embedded
 * backend (st_stream_open_embedded), and of Kafka's partitioner.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pw_stream.h"
#include "store/st_log.h"

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
    snprintf(dir, sizeof dir, "/tmp/pw_stream_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(pw_stream, .init = setup, .fini = teardown, .timeout = 10);

static pw_stream_t *open_embedded(st_log_durability_t mode)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.map_size_mb = 64;
    o.durability = mode;
    o.group_commit_ms = 60000; /* groups commit at flush, not by the clock */
    pw_stream_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_stream_open_embedded(&o, &s, &err), 0, "%s", err.msg);
    return s;
}

/* ---- Kafka's murmur2 partitioner ---------------------------------------- */

/*
 * Vectors: Kafka's Java client (UtilsTest.testMurmur2: "21" -> -973932308,
 * "foobar" -> -790332482, ...) and librdkafka's rdmurmur2.c unit test
 * ("kafka" -> 0xd067cf64, "" -> 0x106e08d9, ...), which agree with each
 * other.
 */
Test(pw_stream, murmur2_matches_kafkas_java_client)
{
    static const struct {
        const char *key;
        int32_t want;
    } java[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < sizeof java / sizeof java[0]; i++)
        cr_assert_eq((int32_t)pw_stream_murmur2(java[i].key,
                                                strlen(java[i].key)),
                     java[i].want, "murmur2(\"%s\")", java[i].key);
}

Test(pw_stream, murmur2_matches_librdkafka)
{
    static const struct {
        const char *key;
        uint32_t want;
    } rd[] = {
        {"kafka", 0xd067cf64u},
        {"giberish123456789", 0x8f552b0cu},
        {"1234", 0x9fc97b14u},
        {"234", 0xe7c009cau},
        {"34", 0x873930dau},
        {"4", 0x5a4b5ca1u},
        {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1cu},
        {"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377u},
        {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09eu},
        {"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43fu},
        {"", 0x106e08d9u},
    };
    for (size_t i = 0; i < sizeof rd / sizeof rd[0]; i++)
        cr_assert_eq(pw_stream_murmur2(rd[i].key, strlen(rd[i].key)),
                     rd[i].want, "murmur2(\"%s\")", rd[i].key);
    cr_assert_eq(pw_stream_murmur2(NULL, 0), 0x106e08d9u);
}

Test(pw_stream, partition_for_key_is_kafkas_formula)
{
    /* "kafka": 0xd067cf64 & 0x7fffffff = 1348980580. */
    cr_assert_eq(pw_stream_partition_for_key("kafka", 5, 10), 0);
    cr_assert_eq(pw_stream_partition_for_key("kafka", 5, 7),
                 (int32_t)(1348980580u % 7u));
    /* "21": a negative Java hash; the sign bit is masked, not negated. */
    cr_assert_eq(pw_stream_partition_for_key("21", 2, 100),
                 (int32_t)(((uint32_t)-973932308 & 0x7fffffffu) % 100u));
    for (int32_t n = 1; n < 50; n++) {
        int32_t p = pw_stream_partition_for_key("car/24", 6, n);
        cr_assert(p >= 0 && p < n);
    }
}

/* ---- The interface over the embedded log -------------------------------- */

static int count_topics(void *ctx, const pw_stream_topic_info_t *t)
{
    int *n = ctx;
    cr_assert_str_eq(t->name, "telemetry");
    cr_assert_eq(t->partitions, 3);
    cr_assert_eq(t->parts[1].next, 2);
    cr_assert_gt(t->parts[1].bytes, 0);
    (*n)++;
    return 0;
}

Test(pw_stream, embedded_appends_reads_and_lists)
{
    pw_stream_t *s = open_embedded(ST_LOG_GROUP);
    pw_err_t err = {0};
    cr_assert_eq(pw_stream_topic_create(s, "telemetry", 3, NULL, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pw_stream_topic_create(s, "telemetry", 3, NULL, &err),
                 PW_EEXIST);
    pw_stream_pos_t a, b;
    cr_assert_eq(pw_stream_append(s, "telemetry", 1, "car/24", 6, "one", 3, &a,
                                  &err), 0, "%s", err.msg);
    cr_assert_eq(pw_stream_append(s, "telemetry", 1, "car/24", 6, "two", 3, &b,
                                  &err), 0);
    cr_assert_eq(a.partition, 1);
    cr_assert_eq(a.offset, 0);
    cr_assert_eq(b.offset, 1);
    cr_assert_eq(b.seq, a.seq + 1);

    int64_t lo, hi;
    cr_assert_eq(pw_stream_bounds(s, "telemetry", 1, &lo, &hi, &err), 0);
    cr_assert_eq(hi, 0, "group mode: not visible before the commit");
    uint64_t acked = 0;
    cr_assert_eq(pw_stream_flush(s, 1000, &acked, &err), 0, "%s", err.msg);
    cr_assert_eq(acked, b.seq);
    cr_assert_eq(pw_stream_bounds(s, "telemetry", 1, &lo, &hi, &err), 0);
    cr_assert_eq(lo, 0);
    cr_assert_eq(hi, 2);

    pw_stream_msg_t m[4];
    size_t n = 0;
    cr_assert_eq(pw_stream_read(s, "telemetry", 1, PW_STREAM_OFFSET_BEGINNING,
                                m, 4, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(m[1].offset, 1);
    cr_assert_eq(m[1].payload_len, 3);
    cr_assert_eq(memcmp(m[1].payload, "two", 3), 0);
    cr_assert_eq(memcmp(m[1].key, "car/24", 6), 0);
    cr_assert_gt(m[1].ts_ns, 0);

    int topics = 0;
    cr_assert_eq(pw_stream_topic_list(s, count_topics, &topics, &err), 0);
    cr_assert_eq(topics, 1);

    cr_assert_eq(pw_stream_read(s, "telemetry", 1, 5, m, 4, &n, &err),
                 PW_ERANGE);
    cr_assert_eq(pw_stream_read(s, "nope", 0, 0, m, 4, &n, &err),
                 PW_ENOTFOUND);
    cr_assert_eq(pw_stream_append(s, "telemetry", 3, NULL, 0, "x", 1, &a, &err),
                 PW_EARG);
    cr_assert(strstr(err.msg, "has 3 partitions (0..2)"), "%s", err.msg);
    cr_assert_eq(pw_stream_append(s, "bad name", 0, NULL, 0, "x", 1, &a, &err),
                 PW_EARG);
    pw_stream_close(s);
}

Test(pw_stream, embedded_key_partitioning_matches_kafka)
{
    pw_stream_t *s = open_embedded(ST_LOG_NONE);
    cr_assert_eq(pw_stream_topic_create(s, "t", 12, NULL, NULL), 0);
    const char *keys[] = {"21", "foobar", "kafka", "car/24", "2019090500"};
    for (size_t i = 0; i < 5; i++) {
        pw_stream_pos_t pos;
        size_t len = strlen(keys[i]);
        cr_assert_eq(pw_stream_append(s, "t", PW_STREAM_PARTITION_ANY, keys[i],
                                      len, "x", 1, &pos, NULL), 0);
        cr_assert_eq(pos.partition,
                     (int32_t)((pw_stream_murmur2(keys[i], len) &
                                0x7fffffffu) % 12u),
                     "key %s", keys[i]);
    }
    pw_stream_close(s);
}

Test(pw_stream, embedded_positions_persist_and_follow_kafka_semantics)
{
    pw_stream_t *s = open_embedded(ST_LOG_GROUP);
    pw_err_t err = {0};
    cr_assert_eq(pw_stream_topic_create(s, "t", 2, NULL, &err), 0);
    int64_t pos = -1;
    cr_assert_eq(pw_stream_position_get(s, "pipeline", "t", 0, &pos, &err),
                 PW_ENOTFOUND);
    cr_assert_eq(pw_stream_position_commit(s, "pipeline", "t", 0, 17, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pw_stream_position_commit(s, "pipeline", "t", 0, -1, &err),
                 PW_EARG);
    cr_assert_eq(pw_stream_flush(s, 1000, NULL, &err), 0);
    cr_assert_eq(pw_stream_position_get(s, "pipeline", "t", 0, &pos, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pos, 17, "the next offset to read, as Kafka stores it");
    pw_stream_close(s);

    s = open_embedded(ST_LOG_SYNC);
    pos = -1;
    cr_assert_eq(pw_stream_position_get(s, "pipeline", "t", 0, &pos, &err), 0);
    cr_assert_eq(pos, 17);
    pw_stream_close(s);
}

Test(pw_stream, poll_commits_a_group_once_its_bound_passes)
{
    st_log_opts_t o = st_log_opts_default();
    o.dir = dir;
    o.map_size_mb = 64;
    o.group_commit_ms = 1;
    pw_stream_t *s = NULL;
    cr_assert_eq(st_stream_open_embedded(&o, &s, NULL), 0);
    cr_assert_eq(pw_stream_topic_create(s, "t", 1, NULL, NULL), 0);
    pw_stream_pos_t pos;
    cr_assert_eq(pw_stream_append(s, "t", 0, NULL, 0, "x", 1, &pos, NULL), 0);
    /* Poll until acknowledged: a commit, then the fsync that makes it
     * durable, each at most a bound away. */
    uint64_t acked = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        cr_assert_eq(pw_stream_poll(s, &acked, NULL), 0);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (acked < pos.seq && t.tv_sec - t0.tv_sec < 5);
    cr_assert_eq(acked, pos.seq);
    pw_stream_close(s);
}

typedef struct rd_arg {
    pw_stream_t *r;
    int64_t got;
    int rc;
} rd_arg_t;

static void *read_until_20(void *p)
{
    rd_arg_t *a = p;
    pw_stream_msg_t m[8];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        size_t n = 0;
        a->rc = pw_stream_read(a->r, "t", 0, a->got, m, 8, &n, NULL);
        if (a->rc != 0)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if (m[i].offset == a->got)
                a->got++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (a->got < 20 && t.tv_sec - t0.tv_sec < 5);
    return NULL;
}

Test(pw_stream, a_reader_handle_serves_another_thread_and_cannot_write)
{
    pw_stream_t *s = open_embedded(ST_LOG_NONE);
    cr_assert_eq(pw_stream_topic_create(s, "t", 1, NULL, NULL), 0);
    pw_stream_t *r = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_stream_open_embedded_reader(s, &r, &err), 0, "%s",
                 err.msg);
    pw_stream_pos_t pos;
    cr_assert_eq(pw_stream_append(r, "t", 0, NULL, 0, "x", 1, &pos, &err),
                 PW_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "reader handle"), "%s", err.msg);
    cr_assert_eq(pw_stream_position_commit(r, "g", "t", 0, 1, &err),
                 PW_EUNSUPPORTED);
    cr_assert_eq(st_stream_open_embedded_reader(r, &r, &err), PW_EARG);

    rd_arg_t a = {.r = r};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, read_until_20, &a), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(pw_stream_append(s, "t", 0, NULL, 0, "x", 1, &pos, NULL),
                     0);
    pthread_join(th, NULL);
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.got, 20);
    pw_stream_close(r);
    pw_stream_close(s);
}

Test(pw_stream, null_handles_and_arguments_are_refused)
{
    pw_err_t err = {0};
    pw_stream_pos_t pos;
    cr_assert_eq(pw_stream_append(NULL, "t", 0, NULL, 0, "x", 1, &pos, &err),
                 PW_EARG);
    pw_stream_close(NULL);
    pw_stream_t *s = open_embedded(ST_LOG_SYNC);
    cr_assert_eq(pw_stream_topic_create(s, "t", 1, NULL, NULL), 0);
    cr_assert_eq(pw_stream_append(s, "t", 0, NULL, 0, NULL, 3, &pos, &err),
                 PW_EARG);
    cr_assert_eq(pw_stream_read(s, "t", 0, -3, NULL, 0, NULL, &err), PW_EARG);
    cr_assert_eq(pw_stream_topic_create(s, "u", 0, NULL, &err), PW_EARG);
    cr_assert_eq(pw_stream_topic_list(s, NULL, NULL, &err), PW_EARG);
    pw_stream_close(s);
}
