/*
 * libFuzzer target for the batch decoder (not built by make). Build and
 * run by hand:
 *
 *   clang -std=c11 -g -O1 -D_GNU_SOURCE -I. \
 *       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *       core/pw_error.c core/pw_record.c core/pw_codec.c fuzz/fuzz_codec.c \
 *       -lmsgpackc -o /tmp/fuzz_codec
 *   /tmp/fuzz_codec -max_len=4096 -rss_limit_mb=512 CORPUS_DIR
 *
 * Any input goes to message_len, peek and the three decoders. Beyond "no
 * crash, no bad read, no leak", it checks the codec's promises: a failed
 * decode leaves n at 0 and says where; framing and peek agree with a
 * successful decode; and a decoded batch re-encodes to one that decodes
 * to the same records.
 * -rss_limit_mb catches msgpack-c allocating from an unchecked count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_codec.h"

static pw_codec_decoder_t *dec;
static pw_points_t pts, pts2;
static pw_frames_t frs, frs2;
static pw_results_t res, res2;
static pw_codec_buf_t buf;

#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c))                                                             \
            abort();                                                          \
    } while (0)

/* A failure must be one of the documented codes, leave the batch empty
 * and name a byte offset. */
static void check_failure(int rc, size_t n, const pw_err_t *err)
{
    CHECK(rc == PW_ETRUNC || rc == PW_ECORRUPT || rc == PW_EVERSION ||
          rc == PW_ECAPACITY);
    CHECK(n == 0);
    CHECK(err->code == rc);
    CHECK(strstr(err->msg, "at byte") != NULL);
}

static void check_peek(const uint8_t *data, size_t size,
                       enum pw_codec_kind want, size_t n)
{
    enum pw_codec_kind k;
    size_t count;
    CHECK(pw_codec_peek(data, size, &k, &count, NULL) == 0);
    CHECK(k == want && count == n);
}

static void points(const uint8_t *data, size_t size)
{
    pw_err_t err = {0};
    int rc = pw_codec_decode_points(dec, data, size, &pts, &err);
    if (rc) {
        check_failure(rc, pts.n, &err);
        return;
    }
    check_peek(data, size, PW_CODEC_POINTS, pts.n);
    CHECK(pw_codec_encode_points(&buf, &pts, NULL) == 0);
    CHECK(pw_codec_decode_points(dec, buf.data, buf.len, &pts2, NULL) == 0);
    CHECK(pts2.n == pts.n);
    size_t n = pts.n;
    if (n) {
        CHECK(memcmp(pts.ts_ns, pts2.ts_ns, 8 * n) == 0);
        CHECK(memcmp(pts.entity, pts2.entity, 4 * n) == 0);
        CHECK(memcmp(pts.channel, pts2.channel, 4 * n) == 0);
        CHECK(memcmp(pts.value, pts2.value, 8 * n) == 0);
    }
}

static void frames(const uint8_t *data, size_t size)
{
    pw_err_t err = {0};
    int rc = pw_codec_decode_frames(dec, data, size, &frs, &err);
    if (rc) {
        check_failure(rc, frs.n, &err);
        CHECK(frs.nobj_total == 0);
        return;
    }
    check_peek(data, size, PW_CODEC_FRAMES, frs.n);
    CHECK(pw_codec_encode_frames(&buf, &frs, NULL) == 0);
    CHECK(pw_codec_decode_frames(dec, buf.data, buf.len, &frs2, NULL) == 0);
    size_t n = frs.n, m = frs.nobj_total;
    CHECK(frs2.n == n && frs2.nobj_total == m);
    if (n) {
        CHECK(memcmp(frs.ts_ns, frs2.ts_ns, 8 * n) == 0);
        CHECK(memcmp(frs.session, frs2.session, 8 * n) == 0);
        CHECK(memcmp(frs.label, frs2.label, 4 * PW_FRAME_LABELS * n) == 0);
        CHECK(memcmp(frs.nobj, frs2.nobj, 2 * n) == 0);
        CHECK(memcmp(frs.first, frs2.first, 4 * n) == 0);
        for (size_t i = 0; i < n; i++)
            CHECK(frs.first[i] + frs.nobj[i] <= m);
    }
    if (m) {
        CHECK(memcmp(frs.entity, frs2.entity, 4 * m) == 0);
        CHECK(memcmp(frs.team, frs2.team, m) == 0);
        CHECK(memcmp(frs.x, frs2.x, 4 * m) == 0);
        CHECK(memcmp(frs.direction, frs2.direction, 4 * m) == 0);
    }
}

static void results(const uint8_t *data, size_t size)
{
    pw_err_t err = {0};
    int rc = pw_codec_decode_results(dec, data, size, &res, &err);
    if (rc) {
        check_failure(rc, res.n, &err);
        return;
    }
    check_peek(data, size, PW_CODEC_RESULTS, res.n);
    for (size_t i = 0; i < res.n; i++) {
        const pw_result_t *r = &res.rec[i];
        /* Borrowed ranges lie inside the input. */
        CHECK((const uint8_t *)r->topic >= data &&
              (const uint8_t *)r->topic + r->topic_len <= data + size);
        CHECK((const uint8_t *)r->key >= data &&
              (const uint8_t *)r->key + r->key_len <= data + size);
        CHECK(r->body >= data && r->body + r->body_len <= data + size);
    }
    CHECK(pw_codec_encode_results(&buf, &res, NULL) == 0);
    CHECK(pw_codec_decode_results(dec, buf.data, buf.len, &res2, NULL) == 0);
    CHECK(res2.n == res.n);
    for (size_t i = 0; i < res.n; i++) {
        const pw_result_t *a = &res.rec[i], *b = &res2.rec[i];
        CHECK(a->ts_ns == b->ts_ns && a->version == b->version);
        CHECK(a->topic_len == b->topic_len && a->key_len == b->key_len &&
              a->body_len == b->body_len);
        CHECK(memcmp(a->topic, b->topic, a->topic_len) == 0);
        CHECK(memcmp(a->key, b->key, a->key_len) == 0);
        CHECK(memcmp(a->body, b->body, a->body_len) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dec == NULL && pw_codec_decoder_create(&dec) != 0)
        abort();
    enum pw_codec_kind k;
    size_t n;
    pw_err_t err = {0};
    int prc = pw_codec_peek(data, size, &k, &n, &err);
    if (prc)
        check_failure(prc, 0, &err);
    /* Framing agrees with peek: a whole batch is one message. */
    size_t ml = 0;
    int mrc = pw_codec_message_len(data, size, &ml, NULL);
    CHECK(mrc != 0 || ml <= size);
    if (prc == 0)
        CHECK(mrc == 0 && ml == size);
    if (mrc == 0 && ml < size)
        CHECK(pw_codec_peek(data, ml, &k, &n, NULL) != PW_ETRUNC);
    points(data, size);
    frames(data, size);
    results(data, size);
    /* A batch that peek refuses, no decoder accepts. */
    if (prc)
        CHECK(pts.n == 0 && frs.n == 0 && res.n == 0);
    return 0;
}
