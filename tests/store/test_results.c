/*
 * Tests of the result store (store/st_results.h). Each test gets a fresh
 * directory under /tmp from the fixture, removed at the end. Nothing
 * sleeps: the reader-thread test waits on a flag with a bounded loop.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/pw_fs.h"
#include "store/st_results.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw_results_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    pw_fs_remove_tree(dir);
}

TestSuite(st_results, .init = setup, .fini = teardown, .timeout = 20);

/* ---- Helpers ------------------------------------------------------------ */

static st_results_t *open_at(const char *path, size_t map_mb, bool ro)
{
    st_results_opts_t o = st_results_opts_default();
    o.dir = path;
    o.map_size_mb = map_mb;
    o.read_only = ro;
    o.sync = false; /* tests need no power-loss safety */
    st_results_t *s = NULL;
    pw_err_t err = {0};
    int rc = st_results_open(&o, &s, &err);
    cr_assert_eq(rc, 0, "open %s: %s", path, err.msg);
    return s;
}

static st_results_t *open_store(void)
{
    return open_at(dir, 64, false);
}

static st_results_txn_t *begin(st_results_t *s)
{
    st_results_txn_t *t = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_begin(s, &t, &err), 0, "begin: %s", err.msg);
    return t;
}

static void commit(st_results_txn_t *t)
{
    pw_err_t err = {0};
    cr_assert_eq(st_results_commit(t, &err), 0, "commit: %s", err.msg);
}

static pw_result_t res(const char *topic, const char *key, int64_t ts_ns,
                       uint32_t version, const char *body)
{
    return (pw_result_t){
        .ts_ns = ts_ns,
        .version = version,
        .topic_len = (uint32_t)strlen(topic),
        .key_len = (uint32_t)strlen(key),
        .body_len = (uint32_t)strlen(body),
        .topic = topic,
        .key = key,
        .body = (const uint8_t *)body,
    };
}

static void put(st_results_txn_t *t, const char *topic, const char *key,
                int64_t ts_ns, uint32_t version, const char *body)
{
    pw_result_t r = res(topic, key, ts_ns, version, body);
    pw_err_t err = {0};
    cr_assert_eq(st_results_put(t, &r, &err), 0, "put: %s", err.msg);
}

/* Results rendered "topic|key|ts|vN|body" and joined with spaces. */
typedef struct text {
    size_t len;
    int n;
    int stop_after; /* 0 = never stop */
    char buf[8192];
} text_t;

static int render(void *ctx, const pw_result_t *r)
{
    text_t *x = ctx;
    int w = snprintf(x->buf + x->len, sizeof x->buf - x->len,
                     "%s%.*s|%.*s|%lld|v%u|%.*s", x->n ? " " : "",
                     (int)r->topic_len, r->topic, (int)r->key_len, r->key,
                     (long long)r->ts_ns, (unsigned)r->version,
                     (int)r->body_len, (const char *)r->body);
    cr_assert(w > 0 && (size_t)w < sizeof x->buf - x->len, "text overflow");
    x->len += (size_t)w;
    x->n++;
    return x->stop_after && x->n == x->stop_after ? 42 : 0;
}

static const char *scan_text(st_results_t *s, const char *topic,
                             const char *prefix, int64_t from, int64_t to)
{
    static text_t x;
    memset(&x, 0, sizeof x);
    pw_err_t err = {0};
    int rc = st_results_scan(s, topic, prefix, from, to, render, &x, &err);
    cr_assert_eq(rc, 0, "scan: %s", err.msg);
    return x.buf;
}

static const char *scan_all(st_results_t *s)
{
    return scan_text(s, NULL, NULL, INT64_MIN, INT64_MAX);
}

static const char *latest_text(st_results_t *s, const char *topic,
                               const char *prefix)
{
    static text_t x;
    memset(&x, 0, sizeof x);
    pw_err_t err = {0};
    int rc = st_results_latest(s, topic, prefix, render, &x, &err);
    cr_assert_eq(rc, 0, "latest: %s", err.msg);
    return x.buf;
}

static int count_one(void *ctx, const pw_result_t *r)
{
    (void)r;
    (*(uint64_t *)ctx)++;
    return 0;
}

static uint64_t scan_count(st_results_t *s)
{
    uint64_t n = 0;
    pw_err_t err = {0};
    int rc = st_results_scan(s, NULL, NULL, INT64_MIN, INT64_MAX, count_one,
                             &n, &err);
    cr_assert_eq(rc, 0, "scan: %s", err.msg);
    return n;
}

static st_results_stats_t stats(st_results_t *s)
{
    st_results_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(st_results_stats(s, &st, &err), 0, "stats: %s", err.msg);
    return st;
}

static void ckpt_put(st_results_txn_t *t, const char *name, const char *blob)
{
    pw_err_t err = {0};
    int rc = st_results_checkpoint_put(t, name, blob, strlen(blob), &err);
    cr_assert_eq(rc, 0, "checkpoint put: %s", err.msg);
}

/* Checkpoint name as a string, or "(none)". */
static const char *ckpt_text(st_results_t *s, const char *name)
{
    static char out[256];
    void *blob = NULL;
    size_t len = 0;
    pw_err_t err = {0};
    int rc = st_results_checkpoint_get(s, name, &blob, &len, &err);
    if (rc == PW_ENOTFOUND) {
        cr_assert(strstr(err.msg, "no checkpoint"), "%s", err.msg);
        return "(none)";
    }
    cr_assert_eq(rc, 0, "checkpoint get: %s", err.msg);
    cr_assert_lt(len, sizeof out);
    memcpy(out, blob, len);
    out[len] = '\0';
    free(blob);
    return out;
}

/* ---- Round trip --------------------------------------------------------- */

Test(st_results, stores_results_and_scans_them_back)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "speed_1s", "car/24/speed_mps", 2000, 1, "\x92\x01\x02");
    put(t, "speed_1s", "car/24/speed_mps", 1000, 1, "b1");
    put(t, "burn", "car/24", 1000, 3, "burn");
    commit(t);

    cr_assert_str_eq(scan_all(s),
                     "burn|car/24|1000|v3|burn "
                     "speed_1s|car/24/speed_mps|1000|v1|b1 "
                     "speed_1s|car/24/speed_mps|2000|v1|\x92\x01\x02");
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, 3);
    cr_assert_eq(st.keys, 2);
    cr_assert_eq(st.stale_ignored, 0);
    cr_assert_eq(st.commits, 1);
    st_results_close(s);

    /* And again after reopening, from another handle. */
    s = open_at(dir, 64, true);
    cr_assert_eq(stats(s).results, 3);
    cr_assert_str_eq(scan_text(s, "burn", NULL, INT64_MIN, INT64_MAX),
                     "burn|car/24|1000|v3|burn");
    st_results_close(s);
}

Test(st_results, keeps_empty_keys_and_empty_bodies)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "session", "", 5, 1, "");
    put(t, "session", "a", 5, 1, "x");
    commit(t);
    cr_assert_str_eq(scan_all(s), "session||5|v1| session|a|5|v1|x");
    cr_assert_str_eq(latest_text(s, "session", NULL),
                     "session||5|v1| session|a|5|v1|x");
    st_results_close(s);
}

Test(st_results, callback_stops_the_scan_with_its_value)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    for (int i = 0; i < 5; i++)
        put(t, "t", "k", i, 1, "b");
    commit(t);
    text_t x = {.stop_after = 2};
    int rc = st_results_scan(s, NULL, NULL, INT64_MIN, INT64_MAX, render, &x,
                             NULL);
    cr_assert_eq(rc, 42);
    cr_assert_str_eq(x.buf, "t|k|0|v1|b t|k|1|v1|b");
    st_results_close(s);
}

/* ---- Versions and latest ----------------------------------------------- */

Test(st_results, a_higher_version_replaces_and_a_lower_one_is_ignored)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "lap", "car/1", 100, 1, "first");
    commit(t);

    t = begin(s);
    put(t, "lap", "car/1", 100, 2, "corrected");
    commit(t);
    cr_assert_str_eq(scan_all(s), "lap|car/1|100|v2|corrected");

    t = begin(s);
    put(t, "lap", "car/1", 100, 1, "late first"); /* stale: ignored */
    put(t, "lap", "car/1", 100, 2, "again");      /* same version replaces */
    commit(t);
    cr_assert_str_eq(scan_all(s), "lap|car/1|100|v2|again");
    cr_assert_str_eq(latest_text(s, NULL, NULL), "lap|car/1|100|v2|again");
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, 1);
    cr_assert_eq(st.keys, 1);
    cr_assert_eq(st.stale_ignored, 1);
    cr_assert_eq(st.commits, 3);

    /* A stale put into an older time (not the latest) is ignored too. */
    t = begin(s);
    put(t, "lap", "car/1", 50, 4, "old v4");
    put(t, "lap", "car/1", 50, 3, "old v3");
    commit(t);
    cr_assert_str_eq(scan_all(s),
                     "lap|car/1|50|v4|old v4 lap|car/1|100|v2|again");
    cr_assert_eq(stats(s).stale_ignored, 2);
    st_results_close(s);
}

Test(st_results, stale_puts_of_an_aborted_transaction_are_not_counted)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "lap", "car/1", 100, 2, "v2");
    put(t, "lap", "car/1", 100, 1, "v1");
    st_results_abort(t);
    cr_assert_eq(stats(s).stale_ignored, 0);
    cr_assert_eq(stats(s).commits, 0);
    st_results_close(s);
}

Test(st_results, latest_is_the_highest_time_then_the_highest_version)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "speed", "car/2", 10, 1, "a10");
    put(t, "speed", "car/2", 30, 1, "a30");
    put(t, "speed", "car/2", 20, 5, "a20"); /* older time: not latest */
    put(t, "speed", "car/1", 7, 1, "b7");
    put(t, "gap", "car/1", 3, 1, "g3");
    commit(t);
    cr_assert_str_eq(latest_text(s, NULL, NULL),
                     "gap|car/1|3|v1|g3 speed|car/1|7|v1|b7 "
                     "speed|car/2|30|v1|a30");

    t = begin(s);
    put(t, "speed", "car/2", 30, 2, "a30v2"); /* tie on time: version wins */
    put(t, "speed", "car/2", 30, 1, "a30v1"); /* stale */
    put(t, "speed", "car/2", 10, 9, "a10v9"); /* correction of the past */
    commit(t);
    cr_assert_str_eq(latest_text(s, "speed", NULL),
                     "speed|car/1|7|v1|b7 speed|car/2|30|v2|a30v2");
    cr_assert_str_eq(latest_text(s, "speed", "car/2"),
                     "speed|car/2|30|v2|a30v2");
    cr_assert_str_eq(latest_text(s, NULL, "car/1"),
                     "gap|car/1|3|v1|g3 speed|car/1|7|v1|b7");
    cr_assert_str_eq(latest_text(s, "spee", NULL), "");
    cr_assert_str_eq(scan_text(s, "speed", "car/2", INT64_MIN, INT64_MAX),
                     "speed|car/2|10|v9|a10v9 speed|car/2|20|v5|a20 "
                     "speed|car/2|30|v2|a30v2");
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, 5);
    cr_assert_eq(st.keys, 3);
    cr_assert_eq(st.stale_ignored, 1);
    st_results_close(s);
}

/* ---- Scan filters and order -------------------------------------------- */

static st_results_t *filled(void)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    /* Out of order on purpose: the store sorts. */
    const char *topics[] = {"b", "ab", "a"};
    const char *keys[] = {"pit/1", "car/2", "car/10", "car/1", "car"};
    for (int ti = 0; ti < 3; ti++)
        for (int ki = 0; ki < 5; ki++)
            for (int64_t ts = 3; ts >= 1; ts--)
                put(t, topics[ti], keys[ki], ts * 10, 1, "x");
    commit(t);
    return s;
}

Test(st_results, scans_in_topic_key_time_order)
{
    st_results_t *s = filled();
    cr_assert_eq(scan_count(s), 45);
    cr_assert_str_eq(scan_text(s, "a", NULL, INT64_MIN, INT64_MAX),
                     "a|car|10|v1|x a|car|20|v1|x a|car|30|v1|x "
                     "a|car/1|10|v1|x a|car/1|20|v1|x a|car/1|30|v1|x "
                     "a|car/10|10|v1|x a|car/10|20|v1|x a|car/10|30|v1|x "
                     "a|car/2|10|v1|x a|car/2|20|v1|x a|car/2|30|v1|x "
                     "a|pit/1|10|v1|x a|pit/1|20|v1|x a|pit/1|30|v1|x");
    /* Topic "a" sorts before "ab", and the filter is exact. */
    cr_assert_str_eq(scan_text(s, NULL, "pit", INT64_MIN, INT64_MAX),
                     "a|pit/1|10|v1|x a|pit/1|20|v1|x a|pit/1|30|v1|x "
                     "ab|pit/1|10|v1|x ab|pit/1|20|v1|x ab|pit/1|30|v1|x "
                     "b|pit/1|10|v1|x b|pit/1|20|v1|x b|pit/1|30|v1|x");
    cr_assert_str_eq(latest_text(s, NULL, NULL),
                     "a|car|30|v1|x a|car/1|30|v1|x a|car/10|30|v1|x "
                     "a|car/2|30|v1|x a|pit/1|30|v1|x "
                     "ab|car|30|v1|x ab|car/1|30|v1|x ab|car/10|30|v1|x "
                     "ab|car/2|30|v1|x ab|pit/1|30|v1|x "
                     "b|car|30|v1|x b|car/1|30|v1|x b|car/10|30|v1|x "
                     "b|car/2|30|v1|x b|pit/1|30|v1|x");
    st_results_close(s);
}

Test(st_results, scan_filters_by_topic_key_prefix_and_time)
{
    st_results_t *s = filled();
    cr_assert_str_eq(scan_text(s, "ab", "car/1", 20, 30),
                     "ab|car/1|20|v1|x ab|car/10|20|v1|x");
    cr_assert_str_eq(scan_text(s, "b", "car/", INT64_MIN, 15),
                     "b|car/1|10|v1|x b|car/10|10|v1|x b|car/2|10|v1|x");
    cr_assert_str_eq(scan_text(s, NULL, "car/2", 25, INT64_MAX),
                     "a|car/2|30|v1|x ab|car/2|30|v1|x b|car/2|30|v1|x");
    cr_assert_str_eq(scan_text(s, NULL, NULL, 30, 31),
                     "a|car|30|v1|x a|car/1|30|v1|x a|car/10|30|v1|x "
                     "a|car/2|30|v1|x a|pit/1|30|v1|x "
                     "ab|car|30|v1|x ab|car/1|30|v1|x ab|car/10|30|v1|x "
                     "ab|car/2|30|v1|x ab|pit/1|30|v1|x "
                     "b|car|30|v1|x b|car/1|30|v1|x b|car/10|30|v1|x "
                     "b|car/2|30|v1|x b|pit/1|30|v1|x");
    /* Nothing: an unknown topic, a prefix no key has, an empty range. */
    cr_assert_str_eq(scan_text(s, "c", NULL, INT64_MIN, INT64_MAX), "");
    cr_assert_str_eq(scan_text(s, NULL, "car/3", INT64_MIN, INT64_MAX), "");
    cr_assert_str_eq(scan_text(s, "a", "zz", INT64_MIN, INT64_MAX), "");
    cr_assert_str_eq(scan_text(s, "a", NULL, 20, 20), "");
    cr_assert_str_eq(scan_text(s, "a", NULL, 31, 40), "");
    st_results_close(s);
}

Test(st_results, negative_times_sort_before_positive_ones)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    int64_t ts[] = {0, -1, INT64_MAX, 1, INT64_MIN, -5000000000LL,
                    5000000000LL};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        put(t, "t", "k", ts[i], 1, "b");
    commit(t);
    cr_assert_str_eq(scan_all(s),
                     "t|k|-9223372036854775808|v1|b t|k|-5000000000|v1|b "
                     "t|k|-1|v1|b t|k|0|v1|b t|k|1|v1|b "
                     "t|k|5000000000|v1|b t|k|9223372036854775807|v1|b");
    cr_assert_str_eq(scan_text(s, "t", NULL, -2, 1), "t|k|-1|v1|b t|k|0|v1|b");
    cr_assert_str_eq(scan_text(s, "t", "k", INT64_MIN, -1),
                     "t|k|-9223372036854775808|v1|b t|k|-5000000000|v1|b");
    cr_assert_str_eq(scan_text(s, NULL, NULL, 5000000000LL, INT64_MAX),
                     "t|k|5000000000|v1|b t|k|9223372036854775807|v1|b");
    cr_assert_str_eq(latest_text(s, NULL, NULL),
                     "t|k|9223372036854775807|v1|b");

    /* The latest of a key with only negative times is the least negative. */
    t = begin(s);
    put(t, "t", "neg", -300, 1, "a");
    put(t, "t", "neg", -200, 1, "b");
    put(t, "t", "neg", -250, 1, "c");
    commit(t);
    cr_assert_str_eq(latest_text(s, "t", "neg"), "t|neg|-200|v1|b");
    st_results_close(s);
}

/* ---- Long keys (beyond what an LMDB key holds) ------------------------- */

typedef struct keys_seen {
    int n;
    uint32_t key_len[16];
    char last[8][ST_RESULTS_KEY_MAX];
    int64_t ts[16];
    uint32_t topic_len[16];
} keys_seen_t;

static int see_key(void *ctx, const pw_result_t *r)
{
    keys_seen_t *k = ctx;
    cr_assert_lt(k->n, 16);
    k->key_len[k->n] = r->key_len;
    k->topic_len[k->n] = r->topic_len;
    k->ts[k->n] = r->ts_ns;
    if (r->key_len > 0)
        k->last[k->n % 8][0] = r->key[r->key_len - 1];
    k->n++;
    return 0;
}

Test(st_results, keeps_long_keys_whole_and_filters_them_by_prefix)
{
    static char topic[ST_RESULTS_TOPIC_MAX + 1];
    static char k1[ST_RESULTS_KEY_MAX + 1], k2[ST_RESULTS_KEY_MAX + 1];
    memset(topic, 't', ST_RESULTS_TOPIC_MAX);
    memset(k1, 'k', ST_RESULTS_KEY_MAX);
    memcpy(k2, k1, sizeof k1);
    k1[ST_RESULTS_KEY_MAX - 1] = '1'; /* differ in the last byte only */
    k2[ST_RESULTS_KEY_MAX - 1] = '2';
    char kshort[300]; /* inline: topic + key = 255 + 1 + 200 */
    memset(kshort, 'k', 200);
    kshort[200] = '\0';

    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, topic, k2, 5, 1, "two@5");
    put(t, topic, k1, 5, 1, "one@5");
    put(t, topic, k1, 9, 1, "one@9");
    put(t, topic, k1, 9, 0, "stale"); /* stale: same key found again */
    put(t, topic, kshort, 1, 1, "short");
    commit(t);
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, 4);
    cr_assert_eq(st.keys, 3);
    cr_assert_eq(st.stale_ignored, 1);

    /* The short key (a prefix of both) first, then both long keys, each
     * in time order and whole. */
    keys_seen_t seen = {0};
    pw_err_t err = {0};
    cr_assert_eq(st_results_scan(s, topic, NULL, INT64_MIN, INT64_MAX,
                                 see_key, &seen, &err),
                 0, "%s", err.msg);
    cr_assert_eq(seen.n, 4);
    cr_assert_eq(seen.key_len[0], 200);
    for (int i = 1; i < 4; i++) {
        cr_assert_eq(seen.key_len[i], ST_RESULTS_KEY_MAX);
        cr_assert_eq(seen.topic_len[i], ST_RESULTS_TOPIC_MAX);
    }

    /* A prefix longer than the part kept in LMDB keys picks exactly one. */
    text_t x = {0};
    cr_assert_eq(st_results_scan(s, topic, k1, INT64_MIN, INT64_MAX, render,
                                 &x, &err),
                 0, "%s", err.msg);
    cr_assert_eq(x.n, 2);
    cr_assert(strstr(x.buf, "|5|v1|one@5 "), "%s", x.buf);
    cr_assert(strstr(x.buf, "|9|v1|one@9"), "%s", x.buf);
    memset(&x, 0, sizeof x);
    cr_assert_eq(st_results_scan(s, NULL, k2, INT64_MIN, INT64_MAX, render,
                                 &x, &err),
                 0, "%s", err.msg);
    cr_assert_eq(x.n, 1);
    cr_assert(strstr(x.buf, "|5|v1|two@5"), "%s", x.buf);
    memset(&x, 0, sizeof x);
    cr_assert_eq(st_results_scan(s, topic, k1, 6, INT64_MAX, render, &x,
                                 &err),
                 0, "%s", err.msg);
    cr_assert_eq(x.n, 1);
    cr_assert(strstr(x.buf, "|9|v1|one@9"), "%s", x.buf);

    /* Latest: one per key, the long ones whole. */
    memset(&seen, 0, sizeof seen);
    cr_assert_eq(st_results_latest(s, topic, NULL, see_key, &seen, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(seen.n, 3);
    cr_assert_eq(seen.key_len[0], 200);
    cr_assert_eq(seen.ts[0], 1);
    int one = seen.last[1][0] == '1' ? 1 : 2; /* long keys: hash order */
    cr_assert_eq(seen.last[one][0], '1');
    cr_assert_eq(seen.ts[one], 9);
    cr_assert_eq(seen.last[3 - one][0], '2');
    cr_assert_eq(seen.ts[3 - one], 5);
    memset(&x, 0, sizeof x);
    cr_assert_eq(st_results_latest(s, NULL, k2, render, &x, &err), 0);
    cr_assert_eq(x.n, 1);
    cr_assert(strstr(x.buf, "|5|v1|two@5"), "%s", x.buf);
    st_results_close(s);
}

/* ---- Argument errors ---------------------------------------------------- */

Test(st_results, refuses_bad_results_and_keeps_the_transaction)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "ok", "k", 1, 1, "b");
    pw_err_t err = {0};
    pw_result_t r = res("", "k", 1, 1, "b");
    cr_assert_eq(st_results_put(t, &r, &err), PW_EARG);
    cr_assert(strstr(err.msg, "empty topic"), "%s", err.msg);
    r = res("a\0b", "k", 1, 1, "b");
    r.topic_len = 3;
    cr_assert_eq(st_results_put(t, &r, &err), PW_EARG);
    cr_assert(strstr(err.msg, "topic of 3 bytes holds a NUL byte"), "%s",
              err.msg);
    r = res("t", "k\0x", 1, 1, "b");
    r.key_len = 3;
    cr_assert_eq(st_results_put(t, &r, &err), PW_EARG);
    cr_assert(strstr(err.msg, "put to 't': key holds a NUL byte"), "%s",
              err.msg);
    static char big[2000];
    memset(big, 'x', sizeof big - 1);
    r = res(big, "k", 1, 1, "b");
    r.topic_len = ST_RESULTS_TOPIC_MAX + 1;
    cr_assert_eq(st_results_put(t, &r, &err), PW_EARG);
    cr_assert(strstr(err.msg, "of 256 bytes; at most 255"), "%s", err.msg);
    r = res("t", big, 1, 1, "b");
    r.key_len = ST_RESULTS_KEY_MAX + 1;
    cr_assert_eq(st_results_put(t, &r, &err), PW_EARG);
    cr_assert(strstr(err.msg, "key of 1025 bytes; at most 1024"), "%s",
              err.msg);
    r = res("t", "k", 1, 1, "");
    r.body = NULL;
    r.body_len = 4;
    cr_assert_eq(st_results_put(t, &r, &err), PW_EARG);

    /* A batch with one bad result stores none of its results. */
    pw_results_t b;
    pw_results_init(&b);
    pw_result_t good = res("batch", "k", 1, 1, "b");
    pw_result_t bad = res("", "k", 1, 1, "b");
    cr_assert_eq(pw_results_push(&b, &good), 0);
    cr_assert_eq(pw_results_push(&b, &bad), 0);
    cr_assert_eq(st_results_put_batch(t, &b, &err), PW_EARG);
    cr_assert(strstr(err.msg, "empty topic (result 1 of the batch)"), "%s",
              err.msg);
    pw_results_fini(&b);

    cr_assert_eq(st_results_checkpoint_put(t, "", "x", 1, &err), PW_EARG);
    cr_assert(strstr(err.msg, "empty checkpoint name"), "%s", err.msg);
    big[300] = '\0';
    cr_assert_eq(st_results_checkpoint_put(t, big, "x", 1, &err), PW_EARG);
    cr_assert(strstr(err.msg, "longer than 255 bytes"), "%s", err.msg);
    big[300] = 'x';

    /* One write transaction at a time. */
    st_results_txn_t *t2 = NULL;
    cr_assert_eq(st_results_begin(s, &t2, &err), PW_EARG);
    cr_assert(strstr(err.msg, "already open"), "%s", err.msg);
    cr_assert_eq(st_results_checkpoint_clear(s, NULL, &err), PW_EARG);

    commit(t);
    cr_assert_str_eq(scan_all(s), "ok|k|1|v1|b");
    cr_assert_eq(st_results_scan(s, "", NULL, 0, 1, render, &(text_t){0},
                                 &err),
                 PW_EARG);
    cr_assert(strstr(err.msg, "empty topic"), "%s", err.msg);
    st_results_close(s);
}

/* ---- Checkpoints -------------------------------------------------------- */

Test(st_results, checkpoints_commit_with_the_results_of_their_transaction)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "speed", "car/1", 10, 1, "r1");
    ckpt_put(t, "pipeline/0", "offsets@1");
    ckpt_put(t, "pipeline/1", "offsets@2");
    /* Readers see nothing of an open transaction. */
    cr_assert_str_eq(ckpt_text(s, "pipeline/0"), "(none)");
    cr_assert_str_eq(scan_all(s), "");
    commit(t);
    cr_assert_str_eq(ckpt_text(s, "pipeline/0"), "offsets@1");
    cr_assert_str_eq(ckpt_text(s, "pipeline/1"), "offsets@2");
    cr_assert_str_eq(scan_all(s), "speed|car/1|10|v1|r1");

    t = begin(s);
    put(t, "speed", "car/1", 20, 1, "r2");
    ckpt_put(t, "pipeline/0", "offsets@3"); /* replaces */
    pw_err_t err = {0};
    cr_assert_eq(st_results_checkpoint_del(t, "pipeline/1", &err), 0);
    cr_assert_eq(st_results_checkpoint_del(t, "never/was", &err), 0);
    cr_assert_eq(st_results_checkpoint_put(t, "empty", NULL, 0, &err), 0);
    commit(t);
    cr_assert_str_eq(ckpt_text(s, "pipeline/0"), "offsets@3");
    cr_assert_str_eq(ckpt_text(s, "pipeline/1"), "(none)");
    void *blob = NULL;
    size_t len = 99;
    cr_assert_eq(st_results_checkpoint_get(s, "empty", &blob, &len, &err), 0);
    cr_assert_not_null(blob);
    cr_assert_eq(len, 0);
    free(blob);
    cr_assert_eq(st_results_checkpoint_get(s, "nope", &blob, &len, &err),
                 PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "no checkpoint 'nope'"), "%s", err.msg);
    cr_assert(strstr(err.msg, dir), "%s", err.msg);
    cr_assert_str_eq(scan_all(s),
                     "speed|car/1|10|v1|r1 speed|car/1|20|v1|r2");
    st_results_close(s);
}

Test(st_results, clear_deletes_the_checkpoints_of_a_prefix_only)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    char name[64];
    /* Enough to span several LMDB pages. */
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "grp/%03d", i);
        ckpt_put(t, name, "blob of a worker, some bytes long to fill pages");
    }
    ckpt_put(t, "grp", "no slash");
    ckpt_put(t, "grp0", "after the prefix");
    ckpt_put(t, "gro", "before the prefix");
    ckpt_put(t, "other/1", "kept");
    put(t, "r", "k", 1, 1, "kept too");
    commit(t);

    pw_err_t err = {0};
    cr_assert_eq(st_results_checkpoint_clear(s, "grp/", &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(ckpt_text(s, "grp/000"), "(none)");
    cr_assert_str_eq(ckpt_text(s, "grp/200"), "(none)");
    cr_assert_str_eq(ckpt_text(s, "grp/399"), "(none)");
    cr_assert_str_eq(ckpt_text(s, "grp"), "no slash");
    cr_assert_str_eq(ckpt_text(s, "grp0"), "after the prefix");
    cr_assert_str_eq(ckpt_text(s, "gro"), "before the prefix");
    cr_assert_str_eq(ckpt_text(s, "other/1"), "kept");
    cr_assert_eq(stats(s).commits, 2);

    cr_assert_eq(st_results_checkpoint_clear(s, "nothing/", &err), 0);
    cr_assert_eq(st_results_checkpoint_clear(s, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(ckpt_text(s, "grp"), "(none)");
    cr_assert_str_eq(ckpt_text(s, "other/1"), "(none)");
    cr_assert_str_eq(scan_all(s), "r|k|1|v1|kept too");
    st_results_close(s);
}

Test(st_results, abort_stores_nothing)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "speed", "car/1", 10, 1, "r1");
    ckpt_put(t, "pipeline/0", "offsets");
    st_results_abort(t);
    cr_assert_str_eq(scan_all(s), "");
    cr_assert_str_eq(latest_text(s, NULL, NULL), "");
    cr_assert_str_eq(ckpt_text(s, "pipeline/0"), "(none)");
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, 0);
    cr_assert_eq(st.keys, 0);
    cr_assert_eq(st.commits, 0);
    /* The handle takes a new transaction afterwards. */
    t = begin(s);
    put(t, "speed", "car/1", 11, 1, "r2");
    commit(t);
    cr_assert_str_eq(scan_all(s), "speed|car/1|11|v1|r2");
    st_results_abort(NULL);
    st_results_close(s);
}

/* ---- Map full ----------------------------------------------------------- */

Test(st_results, a_full_map_fails_the_transaction_and_keeps_earlier_commits)
{
    st_results_t *s = open_at(dir, 1, false);
    static char body[2048];
    memset(body, 'b', sizeof body - 1);
    char key[32];
    uint64_t committed = 0;
    int rc = 0;
    pw_err_t err = {0};
    for (int round = 0; round < 1000 && rc == 0; round++) {
        st_results_txn_t *t = begin(s);
        uint64_t n = 0;
        for (int i = 0; i < 20 && rc == 0; i++, n++) {
            snprintf(key, sizeof key, "car/%d", i);
            pw_result_t r = res("speed", key, round, 1, body);
            rc = st_results_put(t, &r, &err);
        }
        if (rc == 0) {
            ckpt_put(t, "pipeline/0", "round");
            rc = st_results_commit(t, &err);
            if (rc == 0)
                committed += n;
        } else {
            /* The transaction is over: later calls say so; commit too. */
            pw_err_t e2 = {0};
            pw_result_t r = res("speed", "x", 0, 1, "b");
            cr_assert_eq(st_results_put(t, &r, &e2), PW_ECLOSED);
            cr_assert(strstr(e2.msg, "failed earlier"), "%s", e2.msg);
            cr_assert_eq(st_results_commit(t, &e2), PW_EFULL);
        }
    }
    cr_assert_eq(rc, PW_EFULL, "rc %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, dir), "%s", err.msg);
    cr_assert(strstr(err.msg, "result store full: map size 1 MiB reached; "
                              "raise store.map_size"),
              "%s", err.msg);
    cr_assert_gt(committed, 0);
    cr_assert_eq(committed % 20, 0);

    /* Exactly the earlier commits, readable. */
    cr_assert_eq(scan_count(s), committed);
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, committed);
    cr_assert_eq(st.keys, 20);
    cr_assert_str_eq(ckpt_text(s, "pipeline/0"), "round");
    st_results_close(s);

    s = open_at(dir, 1, true);
    cr_assert_eq(scan_count(s), committed);
    st_results_close(s);
}

/* ---- Opening ------------------------------------------------------------ */

Test(st_results, read_only_open_of_a_missing_store_is_not_found)
{
    char missing[128];
    snprintf(missing, sizeof missing, "%s/not/there", dir);
    st_results_opts_t o = st_results_opts_default();
    o.dir = missing;
    o.read_only = true;
    st_results_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&o, &s, &err), PW_ENOTFOUND);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "not/there: no result store here"), "%s",
              err.msg);
    struct stat sb;
    cr_assert_neq(stat(missing, &sb), 0, "read-only open made the dir");

    /* An existing but empty directory: no store either. */
    o.dir = dir;
    cr_assert_eq(st_results_open(&o, &s, &err), PW_ENOTFOUND);
    cr_assert(strstr(err.msg, "no result store here"), "%s", err.msg);
}

Test(st_results, creates_missing_parents_and_refuses_writes_when_read_only)
{
    char deep[128];
    snprintf(deep, sizeof deep, "%s/a/b/store", dir);
    st_results_t *s = open_at(deep, 8, false);
    st_results_txn_t *t = begin(s);
    put(t, "t", "k", 1, 1, "b");
    commit(t);
    st_results_close(s);

    s = open_at(deep, 8, true);
    pw_err_t err = {0};
    st_results_txn_t *t2 = NULL;
    cr_assert_eq(st_results_begin(s, &t2, &err), PW_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "open read-only"), "%s", err.msg);
    cr_assert_eq(st_results_checkpoint_clear(s, NULL, &err), PW_EUNSUPPORTED);
    cr_assert_str_eq(scan_all(s), "t|k|1|v1|b");
    st_results_close(s);
}

Test(st_results, refuses_bad_options)
{
    st_results_opts_t o = st_results_opts_default();
    cr_assert_eq(o.map_size_mb, 1024);
    cr_assert(o.sync);
    cr_assert(!o.read_only);
    st_results_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&o, &s, &err), PW_EARG);
    cr_assert(strstr(err.msg, "no directory"), "%s", err.msg);
    o.dir = dir;
    o.map_size_mb = 0;
    cr_assert_eq(st_results_open(&o, &s, &err), PW_EARG);
    cr_assert(strstr(err.msg, "map_size_mb 0"), "%s", err.msg);
    st_results_close(NULL);
}

/* Rewrite every stored format version 1 of the store in dir as 2. */
static void bump_format(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)size);
    cr_assert_eq(fread(b, 1, (size_t)size, f), (size_t)size);
    static const char pat[] = "results_format\x01\0\0\0";
    size_t plen = sizeof pat - 1, hits = 0;
    for (size_t i = 0; i + plen <= (size_t)size; i++) {
        if (memcmp(b + i, pat, plen) == 0) {
            b[i + 14] = 2;
            hits++;
        }
    }
    cr_assert_gt(hits, 0);
    rewind(f);
    cr_assert_eq(fwrite(b, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    free(b);
}

Test(st_results, refuses_another_format_version)
{
    st_results_t *s = open_store();
    st_results_close(s);
    bump_format();
    st_results_opts_t o = st_results_opts_default();
    o.dir = dir;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&o, &s, &err), PW_EVERSION);
    cr_assert(strstr(err.msg, "result store format 2; this build reads "
                              "format 1"),
              "%s", err.msg);
    o.read_only = true;
    cr_assert_eq(st_results_open(&o, &s, &err), PW_EVERSION);
}

/* ---- A reader thread while the writer commits -------------------------- */

#define ROUNDS 200
#define PER_ROUND 5

typedef struct race {
    st_results_t *s;
    atomic_bool done;
    int scans;
    uint64_t last;
    char failure[PW_ERR_MSG_MAX + 64];
} race_t;

typedef struct race_scan {
    uint64_t n;
    int64_t prev_ts;
    bool ordered;
} race_scan_t;

static int race_count(void *ctx, const pw_result_t *r)
{
    race_scan_t *x = ctx;
    if (x->n > 0 && r->ts_ns <= x->prev_ts)
        x->ordered = false;
    x->prev_ts = r->ts_ns;
    x->n++;
    return 0;
}

/* Reads until the writer is done, then once more; records the first
 * inconsistency (Criterion asserts belong to the test's thread). */
static void *race_reader(void *arg)
{
    race_t *rc = arg;
    for (int i = 0; i < 1000000; i++) {
        bool last_round = atomic_load(&rc->done);
        race_scan_t x = {.ordered = true};
        pw_err_t err = {0};
        if (st_results_scan(rc->s, "lap", NULL, INT64_MIN, INT64_MAX,
                            race_count, &x, &err) != 0) {
            snprintf(rc->failure, sizeof rc->failure, "scan: %s", err.msg);
            return NULL;
        }
        if (x.n % PER_ROUND != 0 || x.n < rc->last || !x.ordered) {
            snprintf(rc->failure, sizeof rc->failure,
                     "scan %d saw %llu results after %llu (ordered %d)", i,
                     (unsigned long long)x.n, (unsigned long long)rc->last,
                     (int)x.ordered);
            return NULL;
        }
        rc->last = x.n;
        rc->scans++;
        if (last_round)
            break;
    }
    return NULL;
}

Test(st_results, a_reader_thread_sees_whole_commits_while_the_writer_writes)
{
    race_t rc = {.s = open_store()};
    atomic_init(&rc.done, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, race_reader, &rc), 0);
    char key[16];
    for (int round = 0; round < ROUNDS; round++) {
        st_results_txn_t *t = begin(rc.s);
        for (int i = 0; i < PER_ROUND; i++) {
            int64_t ts = (int64_t)round * PER_ROUND + i;
            snprintf(key, sizeof key, "car/%d", 0);
            put(t, "lap", key, ts, 1, "b");
        }
        ckpt_put(t, "pipeline/0", "x");
        commit(t);
    }
    atomic_store(&rc.done, true);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_str_eq(rc.failure, "");
    cr_assert_gt(rc.scans, 0);
    cr_assert_eq(rc.last, (uint64_t)ROUNDS * PER_ROUND);
    cr_assert_eq(stats(rc.s).commits, ROUNDS);
    st_results_close(rc.s);
}

/* ---- Retention ---------------------------------------------------------- */

#define S_NS 1000000000LL

static st_results_t *open_retained(int64_t age_ns, uint64_t bytes)
{
    st_results_opts_t o = st_results_opts_default();
    o.dir = dir;
    o.map_size_mb = 64;
    o.sync = false;
    o.retention_age_ns = age_ns;
    o.retention_bytes = bytes;
    st_results_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&o, &s, &err), 0, "open: %s", err.msg);
    return s;
}

/* One trim call in a transaction of its own. */
static st_results_trim_t trim(st_results_t *s, int64_t now_ns, size_t max)
{
    st_results_txn_t *t = begin(s);
    st_results_trim_t tr;
    pw_err_t err = {0};
    cr_assert_eq(st_results_trim(t, now_ns, max, &tr, &err), 0, "trim: %s",
                 err.msg);
    commit(t);
    return tr;
}

/* The smallest ts_ns stored (INT64_MAX when empty). */
static int min_ts(void *ctx, const pw_result_t *r)
{
    int64_t *m = ctx;
    if (r->ts_ns < *m)
        *m = r->ts_ns;
    return 0;
}

static int64_t oldest_stored(st_results_t *s)
{
    int64_t m = INT64_MAX;
    pw_err_t err = {0};
    cr_assert_eq(st_results_scan(s, NULL, NULL, INT64_MIN, INT64_MAX, min_ts,
                                 &m, &err), 0, "scan: %s", err.msg);
    return m;
}

Test(st_results, trim_deletes_results_older_than_the_age_across_topics)
{
    st_results_t *s = open_retained(10 * S_NS, 0);
    st_results_txn_t *t = begin(s);
    put(t, "speed_1s", "car/1", 100 * S_NS, 1, "a");
    put(t, "speed_1s", "car/1", 105 * S_NS, 1, "b");
    put(t, "speed_1s", "car/1", 111 * S_NS, 1, "c");
    put(t, "lap", "car/2", 95 * S_NS, 1, "d");
    put(t, "lap", "car/2", 120 * S_NS, 1, "e");
    commit(t);
    /* now = 120 s: results before 110 s go, whatever their topic. */
    st_results_trim_t tr = trim(s, 120 * S_NS, ST_RESULTS_TRIM_BATCH);
    cr_assert_eq(tr.results, 3);
    cr_assert_eq(tr.keys, 0);
    cr_assert(!tr.more);
    cr_assert_str_eq(scan_all(s), "lap|car/2|120000000000|v1|e "
                                  "speed_1s|car/1|111000000000|v1|c");
    cr_assert_str_eq(latest_text(s, NULL, NULL),
                     "lap|car/2|120000000000|v1|e "
                     "speed_1s|car/1|111000000000|v1|c");
    st_results_stats_t st = stats(s);
    cr_assert_eq(st.results, 2);
    cr_assert_eq(st.trimmed, 3);
    /* Nothing more is old enough: a second call deletes nothing. */
    cr_assert_eq(trim(s, 120 * S_NS, ST_RESULTS_TRIM_BATCH).results, 0);
    st_results_close(s);
}

Test(st_results, trim_measures_age_from_the_newest_result_not_a_later_clock)
{
    /* A replay of an old game: its results are years behind the clock. */
    st_results_t *s = open_retained(10 * S_NS, 0);
    st_results_txn_t *t = begin(s);
    for (int i = 0; i < 30; i++)
        put(t, "speed_1s", "car/1", (1000 + i) * S_NS, 1, "x");
    commit(t);
    int64_t years_later = 1000 * S_NS + 5LL * 365 * 86400 * S_NS;
    st_results_trim_t tr = trim(s, years_later, ST_RESULTS_TRIM_BATCH);
    cr_assert_eq(tr.results, 19, "kept [1019 s, 1029 s]: %llu trimmed",
                 (unsigned long long)tr.results);
    cr_assert_eq(oldest_stored(s), 1019 * S_NS);
    /* A clock behind the results counts instead (one result stamped in
     * the future cannot trim the rest). */
    cr_assert_eq(trim(s, 1025 * S_NS, ST_RESULTS_TRIM_BATCH).results, 0);
    st_results_close(s);
}

Test(st_results, trim_keeps_the_store_below_its_size_deleting_the_oldest)
{
    st_results_t *s = open_retained(0, 0);
    /* About 6 MB of results over 50 keys, in time order. */
    char body[200];
    memset(body, 'b', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    for (int c = 0; c < 30; c++) {
        st_results_txn_t *t = begin(s);
        for (int i = 0; i < 1000; i++) {
            int n = c * 1000 + i;
            char key[32];
            snprintf(key, sizeof key, "car/%d", n % 50);
            put(t, "speed_1s", key, (int64_t)n * S_NS, 1, body);
        }
        commit(t);
    }
    uint64_t before = stats(s).used_bytes;
    cr_assert_gt(before, 4u << 20, "used %llu", (unsigned long long)before);
    st_results_close(s);

    const uint64_t limit = 2u << 20;
    s = open_retained(0, limit);
    int calls = 0;
    st_results_trim_t tr;
    uint64_t trimmed = 0;
    do {
        tr = trim(s, INT64_MAX, 5000);
        trimmed += tr.results;
        cr_assert_lt(++calls, 100, "trim never finished");
    } while (tr.more);
    st_results_stats_t st = stats(s);
    cr_assert_leq(st.used_bytes, limit, "used %llu",
                  (unsigned long long)st.used_bytes);
    cr_assert_eq(st.results + trimmed, 30000);
    /* Not much more than needed (pages free as they empty, so a little
     * more goes): at least 60% of what fits in the limit stays. */
    uint64_t fits = 30000 * limit / before;
    cr_assert_gt(st.results, fits * 6 / 10, "kept %llu of %llu bytes %llu",
                 (unsigned long long)st.results, (unsigned long long)before,
                 (unsigned long long)st.used_bytes);
    /* The oldest went: what stays is the newest, in one piece. */
    cr_assert_eq(oldest_stored(s), (int64_t)trimmed * S_NS);
    cr_assert_eq(scan_count(s), st.results);
    cr_assert_eq(st.keys, 50);
    st_results_close(s);
}

Test(st_results, trim_keeps_latest_true_and_drops_keys_left_empty)
{
    st_results_t *s = open_retained(10 * S_NS, 0);
    st_results_txn_t *t = begin(s);
    put(t, "t", "gone", 1 * S_NS, 1, "g1");
    put(t, "t", "gone", 2 * S_NS, 3, "g2");
    put(t, "t", "kept", 3 * S_NS, 1, "k3");
    put(t, "t", "kept", 40 * S_NS, 2, "k40");
    /* A correction of an old result: the latest must not change. */
    put(t, "t", "kept", 3 * S_NS, 2, "k3b");
    put(t, "u", "new", 50 * S_NS, 1, "n50");
    commit(t);
    st_results_trim_t tr = trim(s, 50 * S_NS, ST_RESULTS_TRIM_BATCH);
    cr_assert_eq(tr.results, 3);
    cr_assert_eq(tr.keys, 1);
    cr_assert_str_eq(latest_text(s, NULL, NULL),
                     "t|kept|40000000000|v2|k40 u|new|50000000000|v1|n50");
    cr_assert_eq(stats(s).keys, 2);
    /* A later put of a trimmed key starts it again. */
    t = begin(s);
    put(t, "t", "gone", 45 * S_NS, 1, "g45");
    commit(t);
    cr_assert_str_eq(latest_text(s, "t", "gone"), "t|gone|45000000000|v1|g45");
    st_results_close(s);
}

Test(st_results, trim_falls_back_to_an_older_result_when_the_latest_goes)
{
    /* Sizes trim may delete a key's latest while older results of it
     * remain only when the index and data disagree; here: the latest's
     * ts is the oldest of its key, which happens when a key's newest
     * result came first and corrections of the past followed. */
    st_results_t *s = open_retained(0, 1);
    st_results_txn_t *t = begin(s);
    put(t, "t", "k", 5 * S_NS, 1, "five");
    put(t, "t", "k", 9 * S_NS, 1, "nine");
    commit(t);
    /* One step at a time: the first deletes ts 5, the latest stays 9. */
    st_results_trim_t tr = trim(s, INT64_MAX, 1);
    cr_assert_eq(tr.results, 1);
    cr_assert(tr.more);
    cr_assert_str_eq(latest_text(s, NULL, NULL), "t|k|9000000000|v1|nine");
    tr = trim(s, INT64_MAX, 1);
    cr_assert_eq(tr.results, 1);
    cr_assert_eq(tr.keys, 1);
    cr_assert_str_eq(latest_text(s, NULL, NULL), "");
    cr_assert_eq(stats(s).keys, 0);
    st_results_close(s);
}

Test(st_results, trim_never_deletes_checkpoints)
{
    st_results_t *s = open_retained(1 * S_NS, 1); /* 1 byte: delete all */
    st_results_txn_t *t = begin(s);
    put(t, "t", "k", 1 * S_NS, 1, "a");
    put(t, "t", "k", 100 * S_NS, 1, "b");
    ckpt_put(t, "pipeline/0", "offsets");
    commit(t);
    st_results_trim_t tr = trim(s, 100 * S_NS, ST_RESULTS_TRIM_BATCH);
    cr_assert_eq(tr.results, 2);
    cr_assert(!tr.more);
    cr_assert_eq(stats(s).results, 0);
    cr_assert_str_eq(ckpt_text(s, "pipeline/0"), "offsets");
    st_results_close(s);
}

Test(st_results, trim_is_bounded_per_call_and_commits_with_its_transaction)
{
    st_results_t *s = open_retained(10 * S_NS, 0);
    st_results_txn_t *t = begin(s);
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 7);
        put(t, "t", key, (int64_t)i * S_NS, 1, "x");
    }
    commit(t);
    /* 989 are too old (before 989 s); 100 a call. */
    st_results_trim_t tr = trim(s, 999 * S_NS, 100);
    cr_assert_eq(tr.results, 100);
    cr_assert(tr.more);
    cr_assert_eq(oldest_stored(s), 100 * S_NS);
    /* An aborted trim deletes nothing. */
    t = begin(s);
    pw_err_t err = {0};
    cr_assert_eq(st_results_trim(t, 999 * S_NS, 100, &tr, &err), 0, "%s",
                 err.msg);
    st_results_abort(t);
    cr_assert_eq(stats(s).results, 900);
    int calls = 1;
    do {
        tr = trim(s, 999 * S_NS, 100);
        calls++;
    } while (tr.more && calls < 50);
    cr_assert_eq(calls, 10);
    cr_assert_eq(stats(s).results, 11);
    cr_assert_eq(oldest_stored(s), 989 * S_NS);
    cr_assert_eq(stats(s).keys, 7);
    st_results_close(s);
}

Test(st_results, trim_without_retention_does_nothing_and_checks_its_bound)
{
    st_results_t *s = open_store();
    st_results_txn_t *t = begin(s);
    put(t, "t", "k", 1, 1, "a");
    st_results_trim_t tr = {1, 1, true};
    pw_err_t err = {0};
    cr_assert_eq(st_results_trim(t, INT64_MAX, 10, &tr, &err), 0);
    cr_assert_eq(tr.results, 0);
    cr_assert(!tr.more);
    cr_assert_eq(st_results_trim(t, INT64_MAX, 0, &tr, &err), PW_EARG);
    cr_assert(strstr(err.msg, "max_results"), "%s", err.msg);
    commit(t); /* an argument error leaves the transaction usable */
    cr_assert_eq(stats(s).results, 1);
    st_results_close(s);

    st_results_opts_t o = st_results_opts_default();
    o.dir = dir;
    o.retention_age_ns = -1;
    cr_assert_eq(st_results_open(&o, &s, &err), PW_EARG);
    cr_assert(strstr(err.msg, "retention_age_ns"), "%s", err.msg);
}

Test(st_results, trims_long_keys_like_short_ones)
{
    st_results_t *s = open_retained(10 * S_NS, 0);
    char key[800];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    st_results_txn_t *t = begin(s);
    put(t, "t", key, 1 * S_NS, 1, "old");
    put(t, "t", key, 50 * S_NS, 1, "new");
    commit(t);
    cr_assert_eq(trim(s, 50 * S_NS, 100).results, 1);
    cr_assert_eq(stats(s).results, 1);
    cr_assert_eq(stats(s).keys, 1);
    cr_assert_eq(oldest_stored(s), 50 * S_NS);
    st_results_close(s);
}
