#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_codec.h"
#include "core/pw_error.h"
#include "core/pw_record.h"

/*
 * Every test starts with a decoder, one batch of each kind and an output
 * buffer; the fixture frees them.
 */
static pw_codec_decoder_t *dec;
static pw_points_t pts;
static pw_frames_t frs;
static pw_results_t res;
static pw_codec_buf_t buf;
static pw_err_t err;

static void setup(void)
{
    cr_assert_eq(pw_codec_decoder_create(&dec), 0);
    pw_points_init(&pts);
    pw_frames_init(&frs);
    pw_results_init(&res);
    pw_codec_buf_init(&buf);
    pw_err_clear(&err);
}

static void teardown(void)
{
    pw_codec_decoder_destroy(dec);
    pw_points_fini(&pts);
    pw_frames_fini(&frs);
    pw_results_fini(&res);
    pw_codec_buf_fini(&buf);
}

TestSuite(pw_codec, .init = setup, .fini = teardown, .timeout = 120);

/* ---------------------------------------------------------------------- */
/* Hand-built messages: written byte by byte with no help from the encoder, */
/* so the decoder is checked against the format, not against itself.       */

typedef struct mb {
    uint8_t *b;
    size_t len, cap;
} mb_t;

static void mb_put(mb_t *m, const void *p, size_t n)
{
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2 + 64;
        m->b = realloc(m->b, m->cap);
        cr_assert_not_null(m->b);
    }
    if (n)
        memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void mb_byte(mb_t *m, uint8_t c)
{
    mb_put(m, &c, 1);
}

static void mb_be(mb_t *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        mb_byte(m, (uint8_t)(v >> (8 * i)));
}

static void mb_map(mb_t *m, size_t n)
{
    if (n < 16) {
        mb_byte(m, (uint8_t)(0x80 | n));
    } else {
        mb_byte(m, 0xde);
        mb_be(m, n, 2);
    }
}

static void mb_str(mb_t *m, const void *s, size_t n)
{
    if (n < 32) {
        mb_byte(m, (uint8_t)(0xa0 | n));
    } else {
        mb_byte(m, 0xd9);
        mb_be(m, n, 1);
    }
    mb_put(m, s, n);
}

static void mb_uint(mb_t *m, uint64_t u)
{
    if (u < 128) {
        mb_byte(m, (uint8_t)u);
    } else if (u <= 0xff) {
        mb_byte(m, 0xcc);
        mb_be(m, u, 1);
    } else if (u <= 0xffff) {
        mb_byte(m, 0xcd);
        mb_be(m, u, 2);
    } else if (u <= 0xffffffffu) {
        mb_byte(m, 0xce);
        mb_be(m, u, 4);
    } else {
        mb_byte(m, 0xcf);
        mb_be(m, u, 8);
    }
}

static void mb_bin(mb_t *m, const void *p, size_t n)
{
    if (n < 256) {
        mb_byte(m, 0xc4);
        mb_be(m, n, 1);
    } else if (n < 65536) {
        mb_byte(m, 0xc5);
        mb_be(m, n, 2);
    } else {
        mb_byte(m, 0xc6);
        mb_be(m, n, 4);
    }
    mb_put(m, p, n);
}

/* One map entry: a str key and a value of type 'u' (uint u), 's' (str
 * p/len), 'b' (bin p/len) or 'r' (raw msgpack bytes p/len). */
typedef struct tf {
    const char *key;
    char type;
    uint64_t u;
    const void *p;
    size_t len;
} tf_t;

#define MAXF 24

/* A message from nf entries; key_off/val_off get each entry's offsets. */
typedef struct msg {
    mb_t m;
    size_t key_off[MAXF], val_off[MAXF];
} msg_t;

static void build(msg_t *g, const tf_t *f, size_t nf)
{
    cr_assert(nf <= MAXF);
    g->m.len = 0;
    mb_map(&g->m, nf);
    for (size_t i = 0; i < nf; i++) {
        g->key_off[i] = g->m.len;
        mb_str(&g->m, f[i].key, strlen(f[i].key));
        g->val_off[i] = g->m.len;
        switch (f[i].type) {
        case 'u': mb_uint(&g->m, f[i].u); break;
        case 's': mb_str(&g->m, f[i].p, f[i].len); break;
        case 'b': mb_bin(&g->m, f[i].p, f[i].len); break;
        case 'r': mb_put(&g->m, f[i].p, f[i].len); break;
        default: cr_assert_fail("bad field type");
        }
    }
}

/* Two points, two frames with three objects, two results: small valid
 * batches whose fields tests change one at a time. */
static const int64_t P_TS[2] = {1000, -1000};
static const uint32_t P_ENT[2] = {24, 48};
static const uint32_t P_CH[2] = {3, 4};
static const double P_VAL[2] = {9120.0, -0.5};

static size_t points_fields(tf_t *f)
{
    const tf_t base[] = {
        {"pw", 'u', 1, NULL, 0},         {"kind", 's', 0, "points", 6},
        {"n", 'u', 2, NULL, 0},          {"ts_ns", 'b', 0, P_TS, 16},
        {"entity", 'b', 0, P_ENT, 8},    {"channel", 'b', 0, P_CH, 8},
        {"value", 'b', 0, P_VAL, 16},
    };
    memcpy(f, base, sizeof base);
    return sizeof base / sizeof base[0];
}

static const int64_t F_TS[2] = {5, 6};
static const uint64_t F_SES[2] = {2019090500, 2019090500};
static const uint32_t F_LAB[4] = {1, 0, 2, 3};
static const uint16_t F_NOBJ[2] = {1, 2};
static const uint32_t F_ENT[3] = {7, 8, 9};
static const uint8_t F_TEAM[3] = {0, 1, 2};
static const float F_X[3] = {1.5f, 2.5f, 3.5f};
static const float F_Y[3] = {-1.0f, -2.0f, -3.0f};
static const float F_SPD[3] = {0.0f, 9.5f, 20.0f};
static const float F_ORI[3] = {90.0f, 180.0f, 270.0f};
static const float F_DIR[3] = {45.0f, 135.0f, 225.0f};

static size_t frames_fields(tf_t *f)
{
    const tf_t base[] = {
        {"pw", 'u', 1, NULL, 0},           {"kind", 's', 0, "frames", 6},
        {"n", 'u', 2, NULL, 0},            {"objects", 'u', 3, NULL, 0},
        {"ts_ns", 'b', 0, F_TS, 16},       {"session", 'b', 0, F_SES, 16},
        {"label", 'b', 0, F_LAB, 16},      {"nobj", 'b', 0, F_NOBJ, 4},
        {"entity", 'b', 0, F_ENT, 12},     {"team", 'b', 0, F_TEAM, 3},
        {"x", 'b', 0, F_X, 12},            {"y", 'b', 0, F_Y, 12},
        {"speed", 'b', 0, F_SPD, 12},      {"orientation", 'b', 0, F_ORI, 12},
        {"direction", 'b', 0, F_DIR, 12},
    };
    memcpy(f, base, sizeof base);
    return sizeof base / sizeof base[0];
}

static const int64_t R_TS[2] = {10, 20};
static const uint32_t R_VER[2] = {1, 2};
static const uint32_t R_TLEN[2] = {4, 1};
static const uint32_t R_KLEN[2] = {6, 0};
static const uint32_t R_BLEN[2] = {3, 0};

static size_t results_fields(tf_t *f)
{
    const tf_t base[] = {
        {"pw", 'u', 1, NULL, 0},           {"kind", 's', 0, "results", 7},
        {"n", 'u', 2, NULL, 0},            {"ts_ns", 'b', 0, R_TS, 16},
        {"version", 'b', 0, R_VER, 8},     {"topic_len", 'b', 0, R_TLEN, 8},
        {"key_len", 'b', 0, R_KLEN, 8},    {"body_len", 'b', 0, R_BLEN, 8},
        {"topic", 'b', 0, "burnx", 5},     {"key", 'b', 0, "car/24", 6},
        {"body", 'b', 0, "\x81\x01\x02", 3},
    };
    memcpy(f, base, sizeof base);
    return sizeof base / sizeof base[0];
}

/* Decode a message of the given kind into the fixture's batch of it. */
static int decode(enum pw_codec_kind kind, const void *p, size_t len)
{
    switch (kind) {
    case PW_CODEC_POINTS: return pw_codec_decode_points(dec, p, len, &pts, &err);
    case PW_CODEC_FRAMES: return pw_codec_decode_frames(dec, p, len, &frs, &err);
    case PW_CODEC_RESULTS:
        return pw_codec_decode_results(dec, p, len, &res, &err);
    }
    return -1;
}

static size_t batch_n(enum pw_codec_kind kind)
{
    return kind == PW_CODEC_POINTS ? pts.n
         : kind == PW_CODEC_FRAMES ? frs.n
                                   : res.n;
}

/* Build fields and decode them; returns the code. */
static int decode_fields(msg_t *g, enum pw_codec_kind kind, const tf_t *f,
                         size_t nf)
{
    build(g, f, nf);
    pw_err_clear(&err);
    return decode(kind, g->m.b, g->m.len);
}

/* Assert a failure: its code, the batch left empty, and the exact text. */
static void expect_fail(int rc, enum pw_codec_kind kind, int code,
                        const char *want)
{
    cr_assert_eq(rc, code, "rc %d (%s), want %d (%s); msg: %s", rc,
                 pw_strerror(rc), code, pw_strerror(code), err.msg);
    cr_assert_eq(err.code, code);
    cr_assert_eq(batch_n(kind), 0, "a failed decode must leave n at 0");
    cr_assert_str_eq(err.msg, want);
}

/* ---------------------------------------------------------------------- */
/* Round trips.                                                            */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 11;
}

Test(pw_codec, round_trips_points)
{
    pw_points_t in;
    pw_points_init(&in);
    uint64_t s = 42;
    for (int i = 0; i < 1000; i++) {
        pw_point_t p = {(int64_t)lcg(&s) - (1ll << 52), (uint32_t)lcg(&s),
                        (uint32_t)lcg(&s), (double)lcg(&s) / 1e6 - 1e6};
        cr_assert_eq(pw_points_push(&in, &p), 0);
    }
    cr_assert_eq(pw_codec_encode_points(&buf, &in, &err), 0, "%s", err.msg);
    /* Exactly 24 bytes a point plus the map's keys and headers. */
    cr_assert_eq(buf.len, 24000 + 61, "len %zu", buf.len);
    cr_assert_eq(pw_codec_decode_points(dec, buf.data, buf.len, &pts, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pts.n, 1000);
    for (size_t i = 0; i < 1000; i++) {
        cr_assert_eq(pts.ts_ns[i], in.ts_ns[i]);
        cr_assert_eq(pts.entity[i], in.entity[i]);
        cr_assert_eq(pts.channel[i], in.channel[i]);
        cr_assert_eq(memcmp(&pts.value[i], &in.value[i], 8), 0);
    }
    pw_points_fini(&in);
}

/* Three frames of 0, 2 and 22 objects. */
static void make_frames(pw_frames_t *in)
{
    pw_object_t objs[22];
    for (int k = 0; k < 22; k++)
        objs[k] = (pw_object_t){(uint32_t)(1000 + k), (uint8_t)(k % 3),
                                (float)k * 1.5f, 53.3f - (float)k,
                                (float)k / 7.0f, (float)(k * 15),
                                (float)(360 - k)};
    uint32_t lab[2] = {7, PW_LABEL_NONE};
    cr_assert_eq(pw_frames_push(in, 100, 2019090500, NULL, NULL, 0), 0);
    cr_assert_eq(pw_frames_push(in, 200, 2019090500, lab, objs, 2), 0);
    cr_assert_eq(pw_frames_push(in, 300, 2019090501, lab, objs, 22), 0);
}

Test(pw_codec, round_trips_frames)
{
    pw_frames_t in;
    pw_frames_init(&in);
    make_frames(&in);
    cr_assert_eq(pw_codec_encode_frames(&buf, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(pw_codec_decode_frames(dec, buf.data, buf.len, &frs, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(frs.n, 3);
    cr_assert_eq(frs.nobj_total, 24);
    const uint32_t first[3] = {0, 0, 2};
    const uint16_t nobj[3] = {0, 2, 22};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(frs.ts_ns[i], (int64_t)(100 * (i + 1)));
        cr_assert_eq(frs.session[i], in.session[i]);
        cr_assert_eq(frs.nobj[i], nobj[i]);
        cr_assert_eq(frs.first[i], first[i]);
        cr_assert_eq(frs.label[2 * i], in.label[2 * i]);
        cr_assert_eq(frs.label[2 * i + 1], in.label[2 * i + 1]);
    }
    cr_assert_eq(frs.label[2], 7);
    for (size_t k = 0; k < 24; k++) {
        cr_assert_eq(frs.entity[k], in.entity[k]);
        cr_assert_eq(frs.team[k], in.team[k]);
        cr_assert_float_eq(frs.x[k], in.x[k], 0.0f);
        cr_assert_float_eq(frs.y[k], in.y[k], 0.0f);
        cr_assert_float_eq(frs.speed[k], in.speed[k], 0.0f);
        cr_assert_float_eq(frs.orientation[k], in.orientation[k], 0.0f);
        cr_assert_float_eq(frs.direction[k], in.direction[k], 0.0f);
    }
    /* The third frame's objects are the 22 pushed, in order. */
    cr_assert_eq(frs.entity[frs.first[2] + 21], 1021);
    cr_assert_float_eq(frs.x[frs.first[2] + 21], 31.5f, 1e-6);
    pw_frames_fini(&in);
}

Test(pw_codec, round_trips_results_pointing_into_the_input)
{
    pw_result_t r[3] = {
        {.ts_ns = 1, .version = 1, .topic = "burn", .topic_len = 4,
         .key = "car/24", .key_len = 6, .body = (const uint8_t *)"\x81\xa1x\x01",
         .body_len = 4},
        {.ts_ns = 2, .version = 3, .topic = "pressure", .topic_len = 8,
         .key = "game/2019090500", .key_len = 15,
         .body = (const uint8_t *)"\xc3", .body_len = 1},
        {.ts_ns = 3, .version = 1, .topic = "event", .topic_len = 5,
         .key = "", .key_len = 0, .body = NULL, .body_len = 0},
    };
    pw_results_t in;
    pw_results_init(&in);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pw_results_push(&in, &r[i]), 0);
    cr_assert_eq(pw_codec_encode_results(&buf, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(pw_codec_decode_results(dec, buf.data, buf.len, &res, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(res.n, 3);
    for (size_t i = 0; i < 3; i++) {
        const pw_result_t *a = &res.rec[i], *b = &r[i];
        cr_assert_eq(a->ts_ns, b->ts_ns);
        cr_assert_eq(a->version, b->version);
        cr_assert_eq(a->topic_len, b->topic_len);
        cr_assert_eq(a->key_len, b->key_len);
        cr_assert_eq(a->body_len, b->body_len);
        cr_assert_eq(memcmp(a->topic, b->topic, b->topic_len), 0);
        cr_assert_eq(memcmp(a->key, b->key, b->key_len), 0);
        if (b->body_len)
            cr_assert_eq(memcmp(a->body, b->body, b->body_len), 0);
        /* Borrowed from the input buffer, not copied. */
        const uint8_t *lo = buf.data, *hi = buf.data + buf.len;
        cr_assert((const uint8_t *)a->topic >= lo &&
                  (const uint8_t *)a->topic + a->topic_len <= hi);
        cr_assert((const uint8_t *)a->key >= lo &&
                  (const uint8_t *)a->key + a->key_len <= hi);
        cr_assert(a->body >= lo && a->body + a->body_len <= hi);
    }
    cr_assert_eq(memcmp(res.rec[1].key, "game/2019090500", 15), 0);
    pw_results_fini(&in);
}

/* ---------------------------------------------------------------------- */
/* Limits.                                                                 */

static double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

Test(pw_codec, keeps_points_at_their_limits_bit_for_bit)
{
    const double vals[] = {
        bits_to_double(0x7ff8000000000001u), /* quiet NaN with a payload */
        bits_to_double(0xfff0000000000002u), /* signalling NaN, sign set */
        INFINITY, -INFINITY, -0.0, 0.0, DBL_MAX, -DBL_MAX,
        bits_to_double(1),                   /* smallest subnormal */
    };
    const int64_t ts[] = {INT64_MIN, INT64_MAX, 0, -1};
    const uint32_t ids[] = {0, UINT32_MAX, 1, UINT32_MAX - 1};
    pw_points_t in;
    pw_points_init(&in);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        pw_point_t p = {ts[i % 4], ids[i % 4], ids[(i + 1) % 4], vals[i]};
        cr_assert_eq(pw_points_push(&in, &p), 0);
    }
    cr_assert_eq(pw_codec_encode_points(&buf, &in, &err), 0);
    cr_assert_eq(pw_codec_decode_points(dec, buf.data, buf.len, &pts, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pts.n, in.n);
    cr_assert_eq(pts.ts_ns[0], INT64_MIN);
    cr_assert_eq(pts.ts_ns[1], INT64_MAX);
    cr_assert_eq(pts.entity[1], UINT32_MAX);
    cr_assert_eq(pts.channel[0], UINT32_MAX);
    for (size_t i = 0; i < in.n; i++)
        cr_assert_eq(memcmp(&pts.value[i], &in.value[i], 8), 0,
                     "value %zu changed bits", i);
    cr_assert(signbit(pts.value[4]) && pts.value[4] == 0.0);
    pw_points_fini(&in);
}

Test(pw_codec, keeps_a_frame_of_65535_objects_and_float_limits)
{
    enum { M = 65535 };
    pw_object_t *objs = calloc(M, sizeof *objs);
    cr_assert_not_null(objs);
    const float odd[] = {bits_to_float(0x7fc00001u), -INFINITY, INFINITY,
                         -0.0f, FLT_MAX, bits_to_float(1)};
    for (uint32_t k = 0; k < M; k++)
        objs[k] = (pw_object_t){UINT32_MAX - k, (uint8_t)(k % 256),
                                odd[k % 6], odd[(k + 1) % 6],
                                odd[(k + 2) % 6], odd[(k + 3) % 6],
                                odd[(k + 4) % 6]};
    uint32_t lab[2] = {UINT32_MAX, UINT32_MAX - 1};
    pw_frames_t in;
    pw_frames_init(&in);
    cr_assert_eq(pw_frames_push(&in, INT64_MIN, UINT64_MAX, lab, objs, M), 0);
    cr_assert_eq(pw_frames_push(&in, INT64_MAX, 0, NULL, objs, 1), 0);
    cr_assert_eq(pw_codec_encode_frames(&buf, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(pw_codec_decode_frames(dec, buf.data, buf.len, &frs, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(frs.n, 2);
    cr_assert_eq(frs.nobj[0], 65535);
    cr_assert_eq(frs.nobj_total, M + 1);
    cr_assert_eq(frs.first[1], M);
    cr_assert_eq(frs.ts_ns[0], INT64_MIN);
    cr_assert_eq(frs.ts_ns[1], INT64_MAX);
    cr_assert_eq(frs.session[0], UINT64_MAX);
    cr_assert_eq(frs.label[0], UINT32_MAX);
    cr_assert_eq(frs.label[1], UINT32_MAX - 1);
    cr_assert_eq(frs.label[2], PW_LABEL_NONE);
    cr_assert_eq(frs.entity[M - 1], UINT32_MAX - (M - 1));
    cr_assert_eq(frs.team[255], 255);
    size_t fb = (size_t)(M + 1) * 4;
    cr_assert_eq(memcmp(frs.x, in.x, fb), 0);
    cr_assert_eq(memcmp(frs.y, in.y, fb), 0);
    cr_assert_eq(memcmp(frs.speed, in.speed, fb), 0);
    cr_assert_eq(memcmp(frs.orientation, in.orientation, fb), 0);
    cr_assert_eq(memcmp(frs.direction, in.direction, fb), 0);
    pw_frames_fini(&in);
    free(objs);
}

Test(pw_codec, keeps_results_at_their_limits)
{
    static uint8_t body[300];
    for (int i = 0; i < 300; i++)
        body[i] = (uint8_t)(255 - i % 256);
    pw_result_t r[2] = {
        {.ts_ns = INT64_MIN, .version = UINT32_MAX, .topic = "",
         .key = "", .body = body, .body_len = 300},
        {.ts_ns = INT64_MAX, .version = 0, .topic = "t", .topic_len = 1,
         .key = "k", .key_len = 1, .body = NULL, .body_len = 0},
    };
    pw_results_t in;
    pw_results_init(&in);
    cr_assert_eq(pw_results_push(&in, &r[0]), 0);
    cr_assert_eq(pw_results_push(&in, &r[1]), 0);
    cr_assert_eq(pw_codec_encode_results(&buf, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(pw_codec_decode_results(dec, buf.data, buf.len, &res, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(res.n, 2);
    cr_assert_eq(res.rec[0].ts_ns, INT64_MIN);
    cr_assert_eq(res.rec[1].ts_ns, INT64_MAX);
    cr_assert_eq(res.rec[0].version, UINT32_MAX);
    cr_assert_eq(res.rec[0].topic_len, 0);
    cr_assert_eq(res.rec[0].key_len, 0);
    cr_assert_eq(res.rec[0].body_len, 300);
    cr_assert_eq(memcmp(res.rec[0].body, body, 300), 0);
    cr_assert_eq(res.rec[1].body_len, 0);
    cr_assert_eq(res.rec[1].topic[0], 't');
    cr_assert_eq(res.rec[1].key[0], 'k');
    pw_results_fini(&in);
}

Test(pw_codec, round_trips_empty_batches_of_every_kind)
{
    pw_points_t p;
    pw_frames_t f;
    pw_results_t r;
    pw_points_init(&p);
    pw_frames_init(&f);
    pw_results_init(&r);
    enum pw_codec_kind k;
    size_t n = 99;

    cr_assert_eq(pw_codec_encode_points(&buf, &p, &err), 0);
    cr_assert_eq(pw_codec_peek(buf.data, buf.len, &k, &n, &err), 0);
    cr_assert_eq(k, PW_CODEC_POINTS);
    cr_assert_eq(n, 0);
    pts.n = 5;
    cr_assert_eq(pw_codec_decode_points(dec, buf.data, buf.len, &pts, &err), 0);
    cr_assert_eq(pts.n, 0);

    cr_assert_eq(pw_codec_encode_frames(&buf, &f, &err), 0);
    cr_assert_eq(pw_codec_peek(buf.data, buf.len, &k, &n, &err), 0);
    cr_assert_eq(k, PW_CODEC_FRAMES);
    cr_assert_eq(pw_codec_decode_frames(dec, buf.data, buf.len, &frs, &err), 0);
    cr_assert_eq(frs.n, 0);
    cr_assert_eq(frs.nobj_total, 0);

    cr_assert_eq(pw_codec_encode_results(&buf, &r, &err), 0);
    cr_assert_eq(pw_codec_peek(buf.data, buf.len, &k, &n, &err), 0);
    cr_assert_eq(k, PW_CODEC_RESULTS);
    cr_assert_eq(pw_codec_decode_results(dec, buf.data, buf.len, &res, &err), 0);
    cr_assert_eq(res.n, 0);
    /* Nothing was allocated for empty batches. */
    cr_assert_null(pts.ts_ns);
    cr_assert_null(res.rec);
}

Test(pw_codec, accepts_n_at_the_maximum_and_frames_of_empty_objects)
{
    pw_points_t in;
    pw_points_init(&in);
    cr_assert_eq(pw_points_reserve(&in, PW_CODEC_MAX_RECORDS), 0);
    in.n = PW_CODEC_MAX_RECORDS;
    for (size_t i = 0; i < in.n; i++) {
        in.ts_ns[i] = (int64_t)i;
        in.entity[i] = (uint32_t)i;
        in.channel[i] = (uint32_t)(i * 3);
        in.value[i] = (double)i / 4;
    }
    cr_assert_eq(pw_codec_encode_points(&buf, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(pw_codec_decode_points(dec, buf.data, buf.len, &pts, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(pts.n, PW_CODEC_MAX_RECORDS);
    cr_assert_eq(pts.channel[in.n - 1], (uint32_t)((in.n - 1) * 3));
    cr_assert_float_eq(pts.value[in.n - 1], (double)(in.n - 1) / 4, 0.0);
    pw_points_fini(&in);

    /* Frames with no objects at all. */
    pw_frames_t f;
    pw_frames_init(&f);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(pw_frames_push(&f, i, 1, NULL, NULL, 0), 0);
    cr_assert_eq(pw_codec_encode_frames(&buf, &f, &err), 0);
    cr_assert_eq(pw_codec_decode_frames(dec, buf.data, buf.len, &frs, &err), 0);
    cr_assert_eq(frs.n, 10);
    cr_assert_eq(frs.nobj_total, 0);
    cr_assert_eq(frs.first[9], 0);
    pw_frames_fini(&f);
}

/* ---------------------------------------------------------------------- */
/* The wire format itself.                                                 */

/* The example in docs/codec.md: two points. */
static const uint8_t doc_example[] = {
    0x87, 0xa2, 0x70, 0x77, 0x01, 0xa4, 0x6b, 0x69, 0x6e, 0x64, 0xa6, 0x70,
    0x6f, 0x69, 0x6e, 0x74, 0x73, 0xa1, 0x6e, 0x02, 0xa5, 0x74, 0x73, 0x5f,
    0x6e, 0x73, 0xc4, 0x10, 0x00, 0x00, 0x2a, 0x36, 0xfe, 0x9c, 0x97, 0x17,
    0x40, 0x42, 0x39, 0x36, 0xfe, 0x9c, 0x97, 0x17, 0xa6, 0x65, 0x6e, 0x74,
    0x69, 0x74, 0x79, 0xc4, 0x08, 0x18, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00,
    0x00, 0xa7, 0x63, 0x68, 0x61, 0x6e, 0x6e, 0x65, 0x6c, 0xc4, 0x08, 0x03,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xa5, 0x76, 0x61, 0x6c, 0x75,
    0x65, 0xc4, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xc1, 0x40, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f,
};

Test(pw_codec, writes_the_documented_example_byte_for_byte)
{
    pw_points_t in;
    pw_points_init(&in);
    pw_point_t a = {1700000000000000000, 24, 3, 9120.0};
    pw_point_t b = {1700000000001000000, 24, 4, 0.5};
    cr_assert_eq(pw_points_push(&in, &a), 0);
    cr_assert_eq(pw_points_push(&in, &b), 0);
    cr_assert_eq(pw_codec_encode_points(&buf, &in, &err), 0);
    cr_assert_eq(buf.len, sizeof doc_example);
    cr_assert_eq(memcmp(buf.data, doc_example, buf.len), 0);
    cr_assert_eq(pw_codec_decode_points(dec, doc_example, sizeof doc_example,
                                        &pts, &err), 0);
    cr_assert_eq(pts.ts_ns[1], 1700000000001000000);
    cr_assert_float_eq(pts.value[0], 9120.0, 0.0);
    pw_points_fini(&in);
}

Test(pw_codec, decodes_keys_in_any_order_and_any_integer_width)
{
    /* Reversed key order, n as uint64, pw as int8, columns in bin32: what
     * another language's msgpack library might write. */
    static const uint8_t n_u64[] = {0xcf, 0, 0, 0, 0, 0, 0, 0, 2};
    static const uint8_t pw_i8[] = {0xd0, 0x01};
    uint8_t val32[5 + 16] = {0xc6, 0, 0, 0, 16};
    memcpy(val32 + 5, P_VAL, 16);
    tf_t f[] = {
        {"value", 'r', 0, val32, sizeof val32},
        {"channel", 'b', 0, P_CH, 8},
        {"entity", 'b', 0, P_ENT, 8},
        {"ts_ns", 'b', 0, P_TS, 16},
        {"n", 'r', 0, n_u64, sizeof n_u64},
        {"kind", 's', 0, "points", 6},
        {"pw", 'r', 0, pw_i8, sizeof pw_i8},
    };
    msg_t g = {0};
    int rc = decode_fields(&g, PW_CODEC_POINTS, f, 7);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(pts.n, 2);
    cr_assert_eq(pts.ts_ns[1], -1000);
    cr_assert_eq(pts.entity[1], 48);
    cr_assert_eq(pts.channel[0], 3);
    cr_assert_float_eq(pts.value[0], 9120.0, 0.0);
    cr_assert_float_eq(pts.value[1], -0.5, 0.0);
    enum pw_codec_kind k;
    size_t n;
    cr_assert_eq(pw_codec_peek(g.m.b, g.m.len, &k, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(k, PW_CODEC_POINTS);
    cr_assert_eq(n, 2);
    free(g.m.b);
}

Test(pw_codec, hand_built_frames_and_results_decode)
{
    tf_t f[MAXF];
    msg_t g = {0};
    size_t nf = frames_fields(f);
    cr_assert_eq(decode_fields(&g, PW_CODEC_FRAMES, f, nf), 0, "%s", err.msg);
    cr_assert_eq(frs.n, 2);
    cr_assert_eq(frs.nobj_total, 3);
    cr_assert_eq(frs.first[1], 1);
    cr_assert_eq(frs.label[3], 3);
    cr_assert_eq(frs.team[2], 2);
    cr_assert_float_eq(frs.direction[2], 225.0f, 0.0f);

    nf = results_fields(f);
    cr_assert_eq(decode_fields(&g, PW_CODEC_RESULTS, f, nf), 0, "%s", err.msg);
    cr_assert_eq(res.n, 2);
    cr_assert_eq(memcmp(res.rec[0].topic, "burn", 4), 0);
    cr_assert_eq(res.rec[1].topic[0], 'x');
    cr_assert_eq(memcmp(res.rec[0].key, "car/24", 6), 0);
    cr_assert_eq(res.rec[1].key_len, 0);
    cr_assert_eq(res.rec[0].body[0], 0x81);
    cr_assert_eq(res.rec[1].version, 2);
    free(g.m.b);
}

/* ---------------------------------------------------------------------- */
/* Damaged input.                                                          */

/* One valid encoded batch of each kind, in a buffer the caller frees. */
static uint8_t *valid_batch(enum pw_codec_kind kind, size_t *len)
{
    pw_codec_buf_t b;
    pw_codec_buf_init(&b);
    if (kind == PW_CODEC_POINTS) {
        pw_points_t in;
        pw_points_init(&in);
        for (int i = 0; i < 3; i++) {
            pw_point_t p = {i * 1000, (uint32_t)i, 7, i * 0.25};
            cr_assert_eq(pw_points_push(&in, &p), 0);
        }
        cr_assert_eq(pw_codec_encode_points(&b, &in, NULL), 0);
        pw_points_fini(&in);
    } else if (kind == PW_CODEC_FRAMES) {
        pw_frames_t in;
        pw_frames_init(&in);
        make_frames(&in);
        cr_assert_eq(pw_codec_encode_frames(&b, &in, NULL), 0);
        pw_frames_fini(&in);
    } else {
        pw_results_t in;
        pw_results_init(&in);
        pw_result_t r = {.ts_ns = 5, .version = 1, .topic = "burn",
                         .topic_len = 4, .key = "car/24", .key_len = 6,
                         .body = (const uint8_t *)"\x90", .body_len = 1};
        cr_assert_eq(pw_results_push(&in, &r), 0);
        cr_assert_eq(pw_results_push(&in, &r), 0);
        cr_assert_eq(pw_codec_encode_results(&b, &in, NULL), 0);
        pw_results_fini(&in);
    }
    *len = b.len;
    return b.data; /* taken from the buffer */
}

/* Decode exactly len bytes from a heap block of exactly that size, so
 * AddressSanitizer sees any read past the end. Batches start non-empty. */
static int decode_exact(enum pw_codec_kind kind, const uint8_t *p, size_t len)
{
    uint8_t *copy = len ? malloc(len) : NULL;
    if (len)
        memcpy(copy, p, len);
    pts.n = 9;
    frs.n = 9;
    res.n = 9;
    pw_err_clear(&err);
    int rc = decode(kind, copy, len);
    free(copy);
    return rc;
}

static void truncate_everywhere(enum pw_codec_kind kind)
{
    size_t len;
    uint8_t *b = valid_batch(kind, &len);
    cr_assert_eq(decode_exact(kind, b, len), 0, "%s", err.msg);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = decode_exact(kind, b, cut);
        cr_assert_eq(rc, PW_ETRUNC, "prefix %zu of %zu: rc %d: %s", cut, len,
                     rc, err.msg);
        cr_assert_eq(batch_n(kind), 0);
        cr_assert_not_null(strstr(err.msg, "at byte"), "prefix %zu: %s", cut,
                           err.msg);
        enum pw_codec_kind k;
        size_t n;
        cr_assert_eq(pw_codec_peek(b, cut, &k, &n, NULL), PW_ETRUNC);
    }
    free(b);
}

Test(pw_codec, fails_cleanly_on_every_prefix_of_points)
{
    truncate_everywhere(PW_CODEC_POINTS);
}

Test(pw_codec, fails_cleanly_on_every_prefix_of_frames)
{
    truncate_everywhere(PW_CODEC_FRAMES);
}

Test(pw_codec, fails_cleanly_on_every_prefix_of_results)
{
    truncate_everywhere(PW_CODEC_RESULTS);
}

Test(pw_codec, names_where_the_input_ends)
{
    size_t len;
    uint8_t *b = valid_batch(PW_CODEC_POINTS, &len);
    /* Cut inside the last column's payload: 'value' is the last key. */
    int rc = decode_exact(PW_CODEC_POINTS, b, len - 1);
    char want[200];
    snprintf(want, sizeof want,
             "batch: key 'value': truncated bin at byte %zu: needs 26 bytes, "
             "25 left",
             len - 26);
    expect_fail(rc, PW_CODEC_POINTS, PW_ETRUNC, want);
    rc = decode_exact(PW_CODEC_POINTS, b, 0);
    expect_fail(rc, PW_CODEC_POINTS, PW_ETRUNC, "batch: empty input (at byte 0)");
    rc = decode_exact(PW_CODEC_POINTS, b, 1);
    expect_fail(rc, PW_CODEC_POINTS, PW_ETRUNC,
                "batch: input ends at byte 1 where a value should start");
    free(b);
}

static void flip_everywhere(enum pw_codec_kind kind)
{
    static const uint8_t masks[] = {0x01, 0x10, 0x80, 0xff};
    size_t len;
    uint8_t *b = valid_batch(kind, &len);
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            b[i] ^= masks[k];
            int rc = decode_exact(kind, b, len);
            enum pw_codec_kind pk;
            size_t pn;
            int prc = pw_codec_peek(b, len, &pk, &pn, NULL);
            b[i] ^= masks[k];
            if (rc == 0) {
                /* A flip inside a payload changes values, not shape. */
                ok++;
                cr_assert_eq(prc, 0, "byte %zu ^ 0x%02x: decode ok, peek %d", i,
                             masks[k], prc);
                cr_assert_eq(pk, kind);
                cr_assert_eq(pn, batch_n(kind));
                continue;
            }
            failed++;
            cr_assert(rc == PW_ETRUNC || rc == PW_ECORRUPT ||
                          rc == PW_EVERSION || rc == PW_ECAPACITY,
                      "byte %zu ^ 0x%02x: rc %d: %s", i, masks[k], rc, err.msg);
            cr_assert_eq(batch_n(kind), 0);
            cr_assert_eq(err.code, rc);
            cr_assert_not_null(strstr(err.msg, "at byte"),
                               "byte %zu ^ 0x%02x: %s", i, masks[k], err.msg);
        }
    }
    cr_assert_gt(ok, 0);
    cr_assert_gt(failed, 0);
    free(b);
}

Test(pw_codec, survives_every_flipped_byte_of_points)
{
    flip_everywhere(PW_CODEC_POINTS);
}

Test(pw_codec, survives_every_flipped_byte_of_frames)
{
    flip_everywhere(PW_CODEC_FRAMES);
}

Test(pw_codec, survives_every_flipped_byte_of_results)
{
    flip_everywhere(PW_CODEC_RESULTS);
}

Test(pw_codec, rejects_another_version)
{
    tf_t f[MAXF];
    msg_t g = {0};
    size_t nf = points_fields(f);
    f[0].u = 2;
    int rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    expect_fail(rc, PW_CODEC_POINTS, PW_EVERSION,
                "batch: format version 2, this build reads version 1 (at "
                "byte 4)");
    /* The version is judged before anything else, even unknown keys. */
    f[3].key = "ts_ms";
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    cr_assert_eq(rc, PW_EVERSION);
    enum pw_codec_kind k;
    size_t n;
    cr_assert_eq(pw_codec_peek(g.m.b, g.m.len, &k, &n, &err), PW_EVERSION);
    free(g.m.b);
}

Test(pw_codec, rejects_a_batch_of_another_kind)
{
    size_t len;
    uint8_t *b = valid_batch(PW_CODEC_FRAMES, &len);
    int rc = decode_exact(PW_CODEC_POINTS, b, len);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: kind 'frames', expected 'points' (at byte 10)");
    free(b);

    tf_t f[MAXF];
    msg_t g = {0};
    size_t nf = points_fields(f);
    f[1].p = "point\x01";
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: unknown kind 'point?', expected 'points', 'frames' or "
                "'results' (at byte 10)");
    free(g.m.b);
}

Test(pw_codec, rejects_a_column_of_the_wrong_size)
{
    tf_t f[MAXF];
    msg_t g = {0};
    size_t nf = points_fields(f);
    f[6].len = 8;
    int rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    char want[200];
    snprintf(want, sizeof want,
             "batch: column 'value' holds 8 bytes, expected 16 for n=2 (at "
             "byte %zu)",
             g.val_off[6]);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT, want);

    nf = frames_fields(f);
    f[13].len = 8; /* orientation: 4 bytes per object, 3 objects */
    rc = decode_fields(&g, PW_CODEC_FRAMES, f, nf);
    snprintf(want, sizeof want,
             "batch: column 'orientation' holds 8 bytes, expected 12 for "
             "objects=3 (at byte %zu)",
             g.val_off[13]);
    expect_fail(rc, PW_CODEC_FRAMES, PW_ECORRUPT, want);

    static const uint32_t ver3[3] = {1, 2, 3};
    nf = results_fields(f);
    f[4].p = ver3; /* version: 4 bytes per record, 3 records' worth */
    f[4].len = 12;
    rc = decode_fields(&g, PW_CODEC_RESULTS, f, nf);
    snprintf(want, sizeof want,
             "batch: column 'version' holds 12 bytes, expected 8 for n=2 (at "
             "byte %zu)",
             g.val_off[4]);
    expect_fail(rc, PW_CODEC_RESULTS, PW_ECORRUPT, want);
    free(g.m.b);
}

Test(pw_codec, rejects_duplicate_unknown_and_missing_keys)
{
    tf_t f[MAXF];
    msg_t g = {0};
    char want[200];
    size_t nf = points_fields(f);
    f[nf] = f[4]; /* a second 'entity' */
    int rc = decode_fields(&g, PW_CODEC_POINTS, f, nf + 1);
    snprintf(want, sizeof want,
             "batch: duplicate key 'entity' (at byte %zu, first at byte %zu)",
             g.key_off[7], g.key_off[4]);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT, want);

    nf = points_fields(f);
    f[nf] = (tf_t){"colour", 'u', 1, NULL, 0};
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf + 1);
    snprintf(want, sizeof want,
             "batch: unknown key 'colour' in a points batch (at byte %zu)",
             g.key_off[7]);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT, want);

    /* A frames key is unknown in a points batch. */
    f[nf] = (tf_t){"objects", 'u', 0, NULL, 0};
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf + 1);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert_not_null(strstr(err.msg, "unknown key 'objects'"));

    nf = points_fields(f);
    f[5] = f[6]; /* drop 'channel' */
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf - 1);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: missing key 'channel' in a points batch (map at byte "
                "0)");

    nf = points_fields(f);
    rc = decode_fields(&g, PW_CODEC_POINTS, f + 1, nf - 1); /* no 'pw' */
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: missing key 'pw' (format version) in the map at byte "
                "0");

    nf = frames_fields(f);
    f[3] = f[14]; /* frames without 'objects' */
    rc = decode_fields(&g, PW_CODEC_FRAMES, f, nf - 1);
    expect_fail(rc, PW_CODEC_FRAMES, PW_ECORRUPT,
                "batch: missing key 'objects' in a frames batch (map at byte "
                "0)");
    free(g.m.b);
}

Test(pw_codec, rejects_a_key_that_is_not_a_string)
{
    /* { "pw": 1, 7: "x" } */
    static const uint8_t b[] = {0x82, 0xa2, 'p', 'w', 0x01, 0x07, 0xa1, 'x'};
    pw_err_clear(&err);
    int rc = pw_codec_decode_points(dec, b, sizeof b, &pts, &err);
    /* The kind is missing too, but keys are only judged once version and
     * kind are known. */
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: missing key 'kind' in the map at byte 0");
    /* A valid points batch whose third key, "n", is the boolean true. */
    tf_t f[MAXF];
    size_t nf = points_fields(f);
    mb_t m = {0};
    mb_map(&m, nf);
    size_t bad_off = 0;
    for (size_t i = 0; i < nf; i++) {
        if (i == 2) {
            bad_off = m.len;
            mb_byte(&m, 0xc3); /* true as a key */
        } else {
            mb_str(&m, f[i].key, strlen(f[i].key));
        }
        if (f[i].type == 'u')
            mb_uint(&m, f[i].u);
        else if (f[i].type == 's')
            mb_str(&m, f[i].p, f[i].len);
        else
            mb_bin(&m, f[i].p, f[i].len);
    }
    pw_err_clear(&err);
    rc = pw_codec_decode_points(dec, m.b, m.len, &pts, &err);
    char want[200];
    snprintf(want, sizeof want,
             "batch: key at byte %zu must be a str, got bool", bad_off);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT, want);
    free(m.b);
}

Test(pw_codec, rejects_wrong_msgpack_types)
{
    tf_t f[MAXF];
    msg_t g = {0};
    char want[200];
    size_t nf = points_fields(f);
    f[2] = (tf_t){"n", 's', 0, "2", 1};
    int rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    snprintf(want, sizeof want,
             "batch: key 'n' must be a uint, got str (at byte %zu)",
             g.val_off[2]);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT, want);

    nf = points_fields(f);
    f[2] = (tf_t){"n", 'r', 0, "\xff", 1}; /* -1 */
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert_not_null(strstr(err.msg, "got negative int"), "%s", err.msg);

    nf = points_fields(f);
    f[3].type = 's'; /* ts_ns as a str of the right size */
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    snprintf(want, sizeof want,
             "batch: column 'ts_ns' must be a bin, got str (at byte %zu)",
             g.val_off[3]);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT, want);

    nf = points_fields(f);
    f[1] = (tf_t){"kind", 'b', 0, "points", 6};
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: key 'kind' must be a str, got bin (at byte 10)");

    nf = points_fields(f);
    f[6] = (tf_t){"value", 'r', 0, "\x92\xcb\0\0\0\0\0\0\0\0\xc0", 11};
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert_not_null(strstr(err.msg, "column 'value' must be a bin, got array"),
                       "%s", err.msg);
    free(g.m.b);
}

Test(pw_codec, rejects_trailing_bytes)
{
    size_t len;
    uint8_t *b = valid_batch(PW_CODEC_RESULTS, &len);
    uint8_t *longer = malloc(len + 2);
    memcpy(longer, b, len);
    longer[len] = 0xc0;
    longer[len + 1] = 0xc0;
    int rc = decode_exact(PW_CODEC_RESULTS, longer, len + 2);
    char want[200];
    snprintf(want, sizeof want,
             "batch: 2 trailing byte(s) after the map (at byte %zu)", len);
    expect_fail(rc, PW_CODEC_RESULTS, PW_ECORRUPT, want);
    enum pw_codec_kind k;
    size_t n;
    cr_assert_eq(pw_codec_peek(longer, len + 2, &k, &n, NULL), PW_ECORRUPT);
    free(longer);
    free(b);
}

Test(pw_codec, rejects_counts_over_the_maximum)
{
    tf_t f[MAXF];
    msg_t g = {0};
    char want[200];
    size_t nf = points_fields(f);
    f[2].u = PW_CODEC_MAX_RECORDS + 1u;
    int rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    snprintf(want, sizeof want,
             "batch: n=%u exceeds the maximum of %u (at byte 19)",
             PW_CODEC_MAX_RECORDS + 1u, PW_CODEC_MAX_RECORDS);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECAPACITY, want);
    enum pw_codec_kind k;
    size_t n;
    cr_assert_eq(pw_codec_peek(g.m.b, g.m.len, &k, &n, &err), PW_ECAPACITY);

    f[2].u = UINT64_MAX;
    rc = decode_fields(&g, PW_CODEC_POINTS, f, nf);
    cr_assert_eq(rc, PW_ECAPACITY);
    cr_assert_not_null(strstr(err.msg, "n=18446744073709551615"), "%s",
                       err.msg);

    nf = frames_fields(f);
    f[3].u = PW_CODEC_MAX_OBJECTS + 1u;
    rc = decode_fields(&g, PW_CODEC_FRAMES, f, nf);
    snprintf(want, sizeof want,
             "batch: objects=%u exceeds the maximum of %u (at byte %zu)",
             PW_CODEC_MAX_OBJECTS + 1u, PW_CODEC_MAX_OBJECTS, g.val_off[3]);
    expect_fail(rc, PW_CODEC_FRAMES, PW_ECAPACITY, want);
    free(g.m.b);
}

Test(pw_codec, rejects_nobj_that_do_not_sum_to_objects)
{
    tf_t f[MAXF];
    msg_t g = {0};
    char want[200];
    static const uint16_t nobj[2] = {2, 2};
    size_t nf = frames_fields(f);
    f[7].p = nobj;
    int rc = decode_fields(&g, PW_CODEC_FRAMES, f, nf);
    snprintf(want, sizeof want,
             "batch: column 'nobj' sums to 4 objects, 'objects' is 3 (at byte "
             "%zu)",
             g.val_off[7]);
    expect_fail(rc, PW_CODEC_FRAMES, PW_ECORRUPT, want);
    cr_assert_eq(frs.nobj_total, 0);
    free(g.m.b);
}

Test(pw_codec, rejects_result_lengths_that_do_not_sum_to_their_blob)
{
    tf_t f[MAXF];
    msg_t g = {0};
    char want[200];
    /* 2^31 + 2^31 wraps to 0 in 32 bits: it must not match an empty blob. */
    static const uint32_t wrap[2] = {0x80000000u, 0x80000000u};
    size_t nf = results_fields(f);
    f[5].p = wrap;
    f[8].len = 0;
    int rc = decode_fields(&g, PW_CODEC_RESULTS, f, nf);
    snprintf(want, sizeof want,
             "batch: column 'topic_len' sums to 4294967296 bytes, column "
             "'topic' holds 0 (at byte %zu)",
             g.val_off[8]);
    expect_fail(rc, PW_CODEC_RESULTS, PW_ECORRUPT, want);

    static const uint32_t maxes[2] = {UINT32_MAX, UINT32_MAX};
    nf = results_fields(f);
    f[7].p = maxes;
    rc = decode_fields(&g, PW_CODEC_RESULTS, f, nf);
    cr_assert_eq(rc, PW_ECORRUPT);
    cr_assert_not_null(strstr(err.msg, "'body_len' sums to 8589934590 bytes"),
                       "%s", err.msg);

    static const uint32_t shortk[2] = {5, 0};
    nf = results_fields(f);
    f[6].p = shortk;
    rc = decode_fields(&g, PW_CODEC_RESULTS, f, nf);
    snprintf(want, sizeof want,
             "batch: column 'key_len' sums to 5 bytes, column 'key' holds 6 "
             "(at byte %zu)",
             g.val_off[9]);
    expect_fail(rc, PW_CODEC_RESULTS, PW_ECORRUPT, want);
    free(g.m.b);
}

Test(pw_codec, rejects_what_is_not_a_batch_map)
{
    static const uint8_t arr[] = {0x91, 0x01};
    pw_err_clear(&err);
    int rc = pw_codec_decode_points(dec, arr, sizeof arr, &pts, &err);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: expected a map, got array (at byte 0)");

    static const uint8_t c1[] = {0x81, 0xa2, 'p', 'w', 0xc1};
    rc = pw_codec_decode_points(dec, c1, sizeof c1, &pts, &err);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: key 'pw': byte 0xc1 is not msgpack (at byte 4)");

    /* 40 keys: more than any version-1 batch may have. */
    static const uint8_t big[] = {0xde, 0x00, 0x28};
    rc = pw_codec_decode_points(dec, big, sizeof big, &pts, &err);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: map has 40 keys, at most 32 allowed (at byte 0)");
}

Test(pw_codec, rejects_huge_containers_before_allocating)
{
    /* "x": array32 of 100M elements in a 10-byte message: msgpack-c alone
     * would malloc 4 GiB for it; the codec must refuse first. */
    static const uint8_t b[] = {0x81, 0xa1, 'x', 0xdd, 0x05, 0xf5, 0xe1, 0x00,
                                0xc0, 0xc0};
    pw_err_clear(&err);
    int rc = pw_codec_decode_points(dec, b, sizeof b, &pts, &err);
    expect_fail(rc, PW_CODEC_POINTS, PW_ETRUNC,
                "batch: key 'x': truncated array at byte 3: 100000000 "
                "elements need at least as many bytes, 2 left");
    /* map32 of 2^32-1 keys at the top. */
    static const uint8_t m[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    rc = pw_codec_decode_points(dec, m, sizeof m, &pts, &err);
    expect_fail(rc, PW_CODEC_POINTS, PW_ECORRUPT,
                "batch: map has 4294967295 keys, at most 32 allowed (at byte "
                "0)");
}

Test(pw_codec, rejects_deep_nesting)
{
    uint8_t b[64] = {0x81, 0xa1, 'x'};
    size_t len = 3;
    for (int i = 0; i < 40; i++)
        b[len++] = 0x91;
    b[len++] = 0xc0;
    pw_err_clear(&err);
    int rc = pw_codec_decode_points(dec, b, len, &pts, &err);
    cr_assert_eq(rc, PW_ECORRUPT, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "nested deeper than 16 levels (at byte "
                                       "18)"),
                       "%s", err.msg);
}

Test(pw_codec, keeps_working_after_a_failure_and_reports_with_null_err)
{
    size_t len;
    uint8_t *b = valid_batch(PW_CODEC_POINTS, &len);
    cr_assert_eq(pw_codec_decode_points(dec, b, len - 3, &pts, NULL), PW_ETRUNC);
    cr_assert_eq(pw_codec_decode_frames(dec, b, len, &frs, NULL), PW_ECORRUPT);
    cr_assert_eq(pw_codec_decode_points(dec, b, len, &pts, NULL), 0);
    cr_assert_eq(pts.n, 3);
    cr_assert_float_eq(pts.value[2], 0.5, 0.0);
    cr_assert_eq(pw_codec_decode_points(NULL, b, len, &pts, &err), PW_EARG);
    cr_assert_eq(pts.n, 0);
    cr_assert_eq(pw_codec_decode_points(dec, NULL, 5, &pts, &err), PW_EARG);
    cr_assert_eq(pw_codec_decode_points(dec, b, len, NULL, &err), PW_EARG);
    free(b);
}

/* ---------------------------------------------------------------------- */
/* Peek, memory reuse, encoder checks.                                     */

Test(pw_codec, peeks_kind_and_count_of_every_kind)
{
    const enum pw_codec_kind ks[] = {PW_CODEC_POINTS, PW_CODEC_FRAMES,
                                     PW_CODEC_RESULTS};
    const size_t ns[] = {3, 3, 2};
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *b = valid_batch(ks[i], &len);
        enum pw_codec_kind k = 0;
        size_t n = 0;
        cr_assert_eq(pw_codec_peek(b, len, &k, &n, &err), 0, "%s", err.msg);
        cr_assert_eq(k, ks[i]);
        cr_assert_eq(n, ns[i]);
        cr_assert_str_eq(pw_codec_kind_name(k),
                         i == 0 ? "points" : i == 1 ? "frames" : "results");
        free(b);
    }
    cr_assert_str_eq(pw_codec_kind_name(0), "unknown");
    cr_assert_str_eq(pw_codec_kind_name(7), "unknown");
    /* Peek leaves its outputs alone on failure. */
    enum pw_codec_kind k = PW_CODEC_FRAMES;
    size_t n = 77;
    cr_assert_eq(pw_codec_peek("\x80", 1, &k, &n, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg,
                     "batch: missing key 'pw' (format version) in the map at "
                     "byte 0");
    cr_assert_eq(k, PW_CODEC_FRAMES);
    cr_assert_eq(n, 77);
}

Test(pw_codec, reuses_memory_once_warm)
{
    pw_points_t in;
    pw_points_init(&in);
    for (int i = 0; i < 1000; i++) {
        pw_point_t p = {i, 1, 2, i};
        cr_assert_eq(pw_points_push(&in, &p), 0);
    }
    cr_assert_eq(pw_codec_encode_points(&buf, &in, &err), 0);
    uint8_t *data = buf.data;
    size_t cap = buf.cap;
    cr_assert_eq(pw_codec_decode_points(dec, buf.data, buf.len, &pts, &err), 0);
    int64_t *ts = pts.ts_ns;
    size_t pcap = pts.cap;
    cr_assert_geq(pcap, 1000);
    for (int round = 0; round < 5; round++) {
        in.n = 1000 - (size_t)round * 100; /* smaller batches fit too */
        cr_assert_eq(pw_codec_encode_points(&buf, &in, &err), 0);
        cr_assert_eq(buf.data, data, "the output buffer was reallocated");
        cr_assert_eq(buf.cap, cap);
        cr_assert_eq(pw_codec_decode_points(dec, buf.data, buf.len, &pts, &err),
                     0);
        cr_assert_eq(pts.ts_ns, ts, "the batch was reallocated");
        cr_assert_eq(pts.cap, pcap);
        cr_assert_eq(pts.n, in.n);
        cr_assert_eq(pts.ts_ns[in.n - 1], (int64_t)in.n - 1);
    }
    pw_points_fini(&in);
}

Test(pw_codec, encoder_refuses_what_the_decoder_would)
{
    /* Over the maximum: refused before the columns are read. */
    pw_points_t big = {.n = PW_CODEC_MAX_RECORDS + 1u};
    int rc = pw_codec_encode_points(&buf, &big, &err);
    cr_assert_eq(rc, PW_ECAPACITY);
    cr_assert_eq(buf.len, 0);
    cr_assert_str_eq(err.msg,
                     "points batch: n=1048577 exceeds the maximum of 1048576");

    /* Frames whose objects are not stored in frame order. */
    pw_frames_t in;
    pw_frames_init(&in);
    make_frames(&in);
    in.first[2] = 1;
    rc = pw_codec_encode_frames(&buf, &in, &err);
    cr_assert_eq(rc, PW_EARG);
    cr_assert_str_eq(err.msg,
                     "frames batch: frame 2 starts at object 1, expected 2 "
                     "(objects must follow frame order)");
    in.first[2] = 2;
    in.nobj_total = 23;
    rc = pw_codec_encode_frames(&buf, &in, &err);
    cr_assert_eq(rc, PW_EARG);
    cr_assert_str_eq(err.msg, "frames batch: nobj sums to 24, nobj_total is 23");
    pw_frames_fini(&in);

    /* Results: NULL bytes, and blobs past what a msgpack bin holds
     * (checked before any byte is read). */
    pw_results_t r;
    pw_results_init(&r);
    pw_result_t one = {.topic = NULL, .topic_len = 3};
    cr_assert_eq(pw_results_push(&r, &one), 0);
    rc = pw_codec_encode_results(&buf, &r, &err);
    cr_assert_eq(rc, PW_EARG);
    cr_assert_not_null(strstr(err.msg, "record 0 has a NULL byte range"));
    pw_results_clear(&r);
    one = (pw_result_t){.topic = "t", .topic_len = UINT32_MAX};
    cr_assert_eq(pw_results_push(&r, &one), 0);
    cr_assert_eq(pw_results_push(&r, &one), 0);
    rc = pw_codec_encode_results(&buf, &r, &err);
    cr_assert_eq(rc, PW_ECAPACITY);
    cr_assert_eq(buf.len, 0);
    pw_results_fini(&r);
}

Test(pw_codec, splits_batches_stored_back_to_back)
{
    const enum pw_codec_kind ks[] = {PW_CODEC_POINTS, PW_CODEC_FRAMES,
                                     PW_CODEC_RESULTS};
    uint8_t *part[3];
    size_t plen[3], total = 0;
    for (int i = 0; i < 3; i++) {
        part[i] = valid_batch(ks[i], &plen[i]);
        total += plen[i];
    }
    uint8_t *all = malloc(total);
    for (size_t i = 0, off = 0; i < 3; off += plen[i], i++)
        memcpy(all + off, part[i], plen[i]);

    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        size_t ml = 0;
        cr_assert_eq(pw_codec_message_len(all + off, total - off, &ml, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(ml, plen[i]);
        cr_assert_eq(decode(ks[i], all + off, ml), 0, "%s", err.msg);
        off += ml;
    }
    cr_assert_eq(off, total);
    cr_assert_eq(res.n, 2);

    /* The last batch cut short, then garbage where a batch should start. */
    size_t ml = 12345;
    size_t last = total - plen[2];
    cr_assert_eq(pw_codec_message_len(all + last, plen[2] - 1, &ml, &err),
                 PW_ETRUNC);
    cr_assert_eq(ml, 12345, "left untouched on failure");
    cr_assert_eq(pw_codec_message_len("\xc1\x80", 2, &ml, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "batch: byte 0xc1 is not msgpack (at byte 0)");
    cr_assert_eq(pw_codec_message_len("\x93\x01\x02\x03", 4, &ml, &err),
                 PW_ECORRUPT);
    cr_assert_eq(pw_codec_message_len(NULL, 0, &ml, &err), PW_ETRUNC);
    /* Only the map's own bytes count: an empty map is one byte. */
    cr_assert_eq(pw_codec_message_len("\x80\x80", 2, &ml, &err), 0);
    cr_assert_eq(ml, 1);
    for (int i = 0; i < 3; i++)
        free(part[i]);
    free(all);
}
