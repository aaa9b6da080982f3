/*
 * md_events and the events operator: the split rule, the model file, the
 * live path on a hand-made play (one event per type, look-ahead, flush,
 * degraded input), train/eval on the real plays (reproducible file,
 * eval JSON keys), the operator's checkpoint and a simulated game feed
 * (a snap found for nearly every play, each event once a play).
 */
#include <criterion/criterion.h>

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/pw_body.h"
#include "core/pw_conf.h"
#include "core/pw_intern.h"
#include "models/md_events.h"
#include "models/md_split.h"
#include "models/md_model.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_events.h"
#include "pipeline/pl_op.h"
#include "ingest/ing_format.h"
#include "ingest/ing_simgame.h"
#include "tests/ingest/data_util.h"

#define T0 INT64_C(1600000000000000000)
#define FRAME_NS INT64_C(100000000)
#define SESSION UINT64_C(20190908000051)
#define SNAP_FRAME 10

static pw_intern_t *entities, *labels, *channels;
static pl_names_t names;
static char model_path[64];

/*
 * A model where only the snap can fire: p = sigmoid(-6 + 3 * ball_dspeed_c)
 * (the ball speeding up around the frame); every other type has bias -40.
 */
static void write_model(void)
{
    md_events_model_t m;
    memset(&m, 0, sizeof m);
    for (int t = 0; t < MD_EVENTS_NT; t++) {
        for (int k = 0; k < MD_EVENTS_NF; k++)
            m.std[t][k] = 1.0;
        m.bias[t] = -40;
        m.threshold[t] = 0.5;
    }
    m.bias[MD_EV_SNAP] = -6;
    m.w[MD_EV_SNAP][1] = 3;
    pw_err_t err = {0};
    cr_assert_eq(md_events_model_save(&m, model_path, &err), 0, "%s", err.msg);
}

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1 << 12, &entities), 0);
    cr_assert_eq(pw_intern_create(256, &labels), 0);
    cr_assert_eq(pw_intern_create(16, &channels), 0);
    names = (pl_names_t){.channels = channels, .entities = entities, .labels = labels};
    snprintf(model_path, sizeof model_path, "/tmp/pitwall-events-XXXXXX");
    int fd = mkstemp(model_path);
    cr_assert_geq(fd, 0);
    close(fd);
    md_gsl_init();
}

static void teardown(void)
{
    unlink(model_path);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
    pw_intern_destroy(channels);
}

TestSuite(md_events, .init = setup, .fini = teardown, .timeout = 900);
TestSuite(pl_events, .init = setup, .fini = teardown, .timeout = 300);

static uint32_t intern(pw_intern_t *t, const char *s)
{
    uint32_t id;
    cr_assert_eq(pw_intern_add(t, s, strlen(s), &id), 0);
    return id;
}

/*
 * A play of nframes frames: the ball rests at (50, 25) by the centre
 * (nfl/1) until SNAP_FRAME, then moves back at 6 yd/s; 11 home and 11
 * away players. Frame no_ball (if >= 0) lacks the ball; frame nan_ball
 * has a NaN ball.
 */
static void make_play(pl_batch_t *b, uint64_t session, int nframes, int no_ball, int nan_ball)
{
    pl_batch_init(b, PL_FRAMES);
    float bx = 50;
    for (int i = 0; i < nframes; i++) {
        pw_object_t o[23];
        int n = 0;
        char name[32];
        bool moving = i >= SNAP_FRAME;
        if (moving)
            bx -= 0.6f;
        if (i != no_ball)
            o[n++] = (pw_object_t){intern(entities, "ball"), PW_TEAM_BALL,
                                   i == nan_ball ? NAN : bx, 25, moving ? 6.0f : 0.0f, NAN,
                                   NAN};
        for (int k = 0; k < 11; k++) {
            snprintf(name, sizeof name, "nfl/%d", 1 + k);
            o[n++] = (pw_object_t){intern(entities, name), PW_TEAM_HOME, 49.5f - (float)(k % 3),
                                   (float)(20 + k), moving ? 2.0f : 0.0f, 90, 90};
        }
        for (int k = 0; k < 11; k++) {
            snprintf(name, sizeof name, "nfl/%d", 100 + k);
            o[n++] = (pw_object_t){intern(entities, name), PW_TEAM_AWAY, 52, (float)(20 + k),
                                   moving ? 2.0f : 0.0f, 270, 270};
        }
        cr_assert_eq(pw_frames_push(&b->frames, T0 + i * FRAME_NS, session, NULL, o,
                                    (uint16_t)n), 0);
    }
}

typedef struct run {
    pl_op_t op;
    pl_events_conf_t conf;
} run_t;

static void op_open(run_t *r, const char *path)
{
    memset(r, 0, sizeof *r);
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&pl_events_conf_section, &r->conf, &err), 0, "%s", err.msg);
    char set[128];
    snprintf(set, sizeof set, "model=%s", path);
    cr_assert_eq(pw_conf_set(&pl_events_conf_section, &r->conf, set, &err), 0, "%s", err.msg);
    pl_port_type_t in = {PL_FRAMES, false}, out;
    cr_assert_eq(pl_events_def.check(&r->conf, &in, 1, &out, &err), 0);
    cr_assert_eq(out.kind, PL_RESULTS);
    pl_port_type_t bad = {PL_POINTS, false};
    cr_assert_neq(pl_events_def.check(&r->conf, &bad, 1, &out, &err), 0);
    r->op.def = &pl_events_def;
    pl_batch_init(&r->op.out[0], PL_RESULTS);
    pl_setup_t su = {.name = "events", .names = &names, .in = &in, .nin = 1};
    cr_assert_eq(pl_events_def.init(&r->op, &r->conf, &su, &err), 0, "%s", err.msg);
}

static void op_close(run_t *r)
{
    pl_events_def.close(&r->op);
    pl_batch_fini(&r->op.out[0]);
    pw_conf_fini(&pl_events_conf_section, &r->conf);
}

/* Feed frames one per batch; return the index of the frame after which
 * the first result appeared (or -1). */
static int feed(run_t *r, const pl_batch_t *b)
{
    pl_ctx_t ctx = {.names = &names, .watermark_ns = PL_WATERMARK_MIN};
    int first = -1;
    for (size_t i = 0; i < b->frames.n; i++) {
        pl_batch_t one;
        pl_batch_init(&one, PL_FRAMES);
        cr_assert_eq(pl_batch_push_frame(&one, b, i), 0);
        cr_assert_eq(pl_events_def.process(&r->op, 0, &one, &ctx), 0);
        if (first < 0 && r->op.out[0].res.rec.n)
            first = (int)i;
        pl_batch_fini(&one);
    }
    return first;
}

static void end_input(run_t *r)
{
    pl_ctx_t ctx = {.names = &names, .watermark_ns = PL_WATERMARK_MAX};
    cr_assert_eq(pl_events_def.advance(&r->op, &ctx), 0);
}

static const char *json_of(const pw_result_t *res, char *buf, size_t cap)
{
    cr_assert_gt(pw_body_to_json(res->body, res->body_len, buf, cap), 0);
    return buf;
}

Test(md_events, model_file_round_trips_and_rejects_a_hand_edit)
{
    write_model();
    pw_err_t err = {0};
    md_events_model_t *m = md_events_model_load(model_path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_float_eq(m->w[MD_EV_SNAP][1], 3.0, 0);
    cr_assert_eq(strncmp(m->version, "events-", 7), 0);
    double feat[MD_EVENTS_NF] = {0};
    feat[1] = 2.0;
    cr_assert_float_eq(md_events_predict(m, MD_EV_SNAP, feat), 0.5, 1e-12);
    md_events_model_free(m);

    FILE *f = fopen(model_path, "r");
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strstr(text, "\"intercept\": -6");
    cr_assert_not_null(p);
    p[14] = '5';
    f = fopen(model_path, "w");
    fputs(text, f);
    fclose(f);
    m = md_events_model_load(model_path, &err);
    cr_assert_null(m);
    cr_assert_not_null(strstr(err.msg, "'version' does not match"), "%s", err.msg);

    m = md_events_model_load("/nonexistent/events.json", &err);
    cr_assert_null(m);
}

Test(md_events, operator_emits_the_snap_once_after_its_look_ahead)
{
    write_model();
    run_t r;
    op_open(&r, model_path);
    pl_batch_t b;
    make_play(&b, SESSION, 40, -1, -1);
    int first = feed(&r, &b);
    /* The peak needs 2 frames of look-ahead and 3 of confirmation. */
    cr_assert_geq(first, SNAP_FRAME);
    cr_assert_leq(first, SNAP_FRAME + MD_EVENTS_LOOKAHEAD + MD_EVENTS_PEAK_FRAMES + 1);
    /* Replaying the same frames (older than the play's last) adds nothing. */
    size_t before = r.op.out[0].res.rec.n;
    feed(&r, &b);
    cr_assert_eq(r.op.out[0].res.rec.n, before);
    cr_assert_eq(r.op.cnt.dropped, b.frames.n);
    end_input(&r);
    const pw_results_t *res = &r.op.out[0].res.rec;
    cr_assert_eq(res->n, 1, "%zu results", res->n);
    char buf[1024];
    const char *js = json_of(&res->rec[0], buf, sizeof buf);
    cr_assert_eq(res->rec[0].topic_len, 5);
    cr_assert_eq(memcmp(res->rec[0].topic, "event", 5), 0);
    char key[64];
    int kl = snprintf(key, sizeof key, "game/%llu", (unsigned long long)SESSION);
    cr_assert_eq(res->rec[0].key_len, (uint32_t)kl);
    cr_assert_eq(memcmp(res->rec[0].key, key, (size_t)kl), 0);
    cr_assert_not_null(strstr(js, "\"type\":\"ball_snap\""), "%s", js);
    cr_assert_not_null(strstr(js, "\"version\":\"events-"), "%s", js);
    cr_assert_not_null(strstr(js, "\"degraded\":false"), "%s", js);
    cr_assert_not_null(strstr(js, "\"players\":[\"nfl/"), "%s", js);
    int64_t dt = res->rec[0].ts_ns - (T0 + SNAP_FRAME * FRAME_NS);
    cr_assert(dt >= -MD_EVENTS_TOL_NS && dt <= MD_EVENTS_TOL_NS, "dt %lld", (long long)dt);
    double conf;
    cr_assert_eq(pw_body_get_f64(res->rec[0].body, res->rec[0].body_len, "confidence", &conf),
                 0);
    cr_assert_geq(conf, 0.5);
    op_close(&r);
    pl_batch_fini(&b);
}

Test(md_events, missing_or_nan_ball_degrades_without_garbage)
{
    write_model();
    run_t r;
    op_open(&r, model_path);
    pl_batch_t b;
    make_play(&b, SESSION, 30, SNAP_FRAME - 1, SNAP_FRAME + 1);
    feed(&r, &b);
    end_input(&r);
    const pw_results_t *res = &r.op.out[0].res.rec;
    cr_assert_leq(res->n, 1);
    for (size_t k = 0; k < res->n; k++) {
        char buf[1024];
        const char *js = json_of(&res->rec[k], buf, sizeof buf);
        cr_assert_not_null(strstr(js, "\"degraded\":true"), "%s", js);
        cr_assert_null(strstr(js, "null"), "%s", js);
    }
    op_close(&r);
    pl_batch_fini(&b);
}

Test(md_events, a_quiet_play_is_flushed_when_the_watermark_passes)
{
    write_model();
    run_t r;
    op_open(&r, model_path);
    pl_batch_t b;
    /* The play ends just after the snap: its event waits for the flush. */
    make_play(&b, SESSION, SNAP_FRAME + 2, -1, -1);
    feed(&r, &b);
    cr_assert_eq(r.op.out[0].res.rec.n, 0);
    int64_t last = T0 + (SNAP_FRAME + 1) * FRAME_NS;
    pl_ctx_t ctx = {.names = &names, .watermark_ns = last + 1000 * INT64_C(1000000)};
    cr_assert_eq(pl_events_def.advance(&r.op, &ctx), 0);
    cr_assert_eq(r.op.out[0].res.rec.n, 0, "flushed before flush_ms");
    ctx.watermark_ns = last + 2000 * INT64_C(1000000);
    cr_assert_eq(pl_events_def.advance(&r.op, &ctx), 0);
    cr_assert_eq(r.op.out[0].res.rec.n, 1);
    cr_assert_eq(r.op.cnt.keys, 0);
    op_close(&r);
    pl_batch_fini(&b);
}

Test(md_events, operator_refuses_a_missing_model)
{
    pl_events_conf_t conf;
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&pl_events_conf_section, &conf, &err), 0);
    cr_assert_eq(pw_conf_set(&pl_events_conf_section, &conf, "model=/nonexistent/e.json", &err),
                 0);
    pl_op_t op;
    memset(&op, 0, sizeof op);
    op.def = &pl_events_def;
    pl_port_type_t in = {PL_FRAMES, false};
    pl_setup_t su = {.name = "events", .names = &names, .in = &in, .nin = 1};
    cr_assert_neq(pl_events_def.init(&op, &conf, &su, &err), 0);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/e.json"), "%s", err.msg);
    cr_assert_null(op.state);
    pw_conf_fini(&pl_events_conf_section, &conf);
}

/* The real plays: paths of the NGS folder (skips without data). */
static size_t ngs_files(glob_t *g, char *dir, size_t cap)
{
    size_t len;
    char one[1024];
    uint8_t *d = tdata_load("football/ngs/2019_TB_2019092909_5000.tsv.gz", &len, one,
                            sizeof one);
    free(d);
    char *slash = strrchr(one, '/');
    *slash = 0;
    snprintf(dir, cap, "%s", one);
    char pat[1100];
    snprintf(pat, sizeof pat, "%s/*.tsv.gz", dir);
    cr_assert_eq(glob(pat, 0, NULL, g), 0);
    return g->gl_pathc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

Test(md_events, training_is_reproducible_and_eval_prints_the_metrics)
{
    glob_t g;
    char dir[1024];
    size_t n = ngs_files(&g, dir, sizeof dir);
    cr_assert_gt(n, 100);
    /* A third of the files, to keep the test short under ASan. */
    const char *sub[200];
    size_t ns = 0;
    for (size_t k = 0; k < n && ns < 200; k += 2)
        sub[ns++] = g.gl_pathv[k];
    char a[] = "/tmp/pitwall-ev-a-XXXXXX", b[] = "/tmp/pitwall-ev-b-XXXXXX";
    close(mkstemp(a));
    close(mkstemp(b));
    pw_err_t err = {0};
    cr_assert_eq(md_events_def.train(sub, ns, a, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(md_events_def.train(sub, ns, b, NULL, &err), 0, "%s", err.msg);
    char *ta = slurp(a), *tb = slurp(b);
    cr_assert_str_eq(ta, tb);
    /* Only sack plays with an odd playId come from the games kept aside. */
    json_t *model = json_loads(ta, 0, NULL);
    json_t *files = json_object_get(json_object_get(model, "training"), "files");
    cr_assert_gt(json_array_size(files), 50);
    for (size_t k = 0; k < json_array_size(files); k++) {
        const char *nm = json_string_value(json_array_get(files, k));
        const char *play = strrchr(nm, '_');
        cr_assert(md_split_held_out(nm, false) == 0 || (play && atoi(play + 1) % 2 == 1),
                  "a play kept aside was used for training: %s", nm);
    }
    json_decref(model);
    free(ta);
    free(tb);

    char o[] = "/tmp/pitwall-ev-o-XXXXXX";
    close(mkstemp(o));
    FILE *out = fopen(o, "w");
    cr_assert_eq(md_events_def.eval(a, sub, ns, true, out, &err), 0, "%s", err.msg);
    fclose(out);
    char *js = slurp(o);
    json_error_t je;
    json_t *root = json_loads(js, 0, &je);
    cr_assert_not_null(root, "%s", js);
    cr_assert_str_eq(json_string_value(json_object_get(root, "model")), "events");
    cr_assert_gt(json_integer_value(json_object_get(root, "plays")), 10);
    const char *keys[] = {"f1", "precision", "recall"};
    for (int k = 0; k < 3; k++) {
        json_t *o2 = json_object_get(root, keys[k]);
        for (int t = 0; t < MD_EVENTS_NT; t++) {
            json_t *v = json_object_get(o2, md_events_type_names[t]);
            cr_assert(json_is_number(v), "%s.%s", keys[k], md_events_type_names[t]);
            cr_assert(json_number_value(v) >= 0 && json_number_value(v) <= 1);
        }
    }
    /* The snap is easy: it must be found on unseen plays. */
    cr_assert_geq(json_number_value(json_object_get(json_object_get(root, "f1"), "ball_snap")),
                  0.8, "%s", js);
    json_decref(root);
    free(js);
    unlink(a);
    unlink(b);
    unlink(o);
    globfree(&g);
}

/* ---- snapshot and restore ---------------------------------------------------- */

static int on_play_frames(void *ctx, const pw_frames_t *b)
{
    pl_batch_t *dst = ctx;
    pw_object_t o[64];
    for (size_t i = 0; i < b->n; i++) {
        uint16_t n = b->nobj[i] < 64 ? b->nobj[i] : 64;
        for (uint16_t k = 0; k < n; k++) {
            size_t j = b->first[i] + k;
            o[k] = (pw_object_t){b->entity[j], b->team[j], b->x[j], b->y[j], b->speed[j],
                                 b->orientation[j], b->direction[j]};
        }
        cr_assert_eq(pw_frames_push(&dst->frames, b->ts_ns[i], b->session[i],
                                    &b->label[i * PW_FRAME_LABELS], o, n), 0);
    }
    return 0;
}

/* Decode a real play into b (frames); false (test skipped) without the data. */
static bool load_play(const char *rel, pl_batch_t *b)
{
    char path[1024];
    size_t len;
    uint8_t *raw = tdata_load(rel, &len, path, sizeof path);
    free(raw);
    uint8_t *data = NULL;
    pw_err_t err = {0};
    cr_assert_eq(ing_file_load(path, (size_t)64 << 20, &data, &len, &err), 0, "%s", err.msg);
    pl_batch_init(b, PL_FRAMES);
    ing_names_t nm = {.channels = channels, .entities = entities, .labels = labels};
    ing_emit_t emit = {.frames = on_play_frames, .ctx = b};
    ing_stats_t st;
    ing_stats_init(&st);
    cr_assert_geq(ing_ngs_decode(path, data, len, NULL, &nm, &emit, &st, &err), 0, "%s",
                  err.msg);
    free(data);
    cr_assert_gt(b->frames.n, 50);
    return true;
}

/* Frames of a and b in one batch, interleaved by time (two plays at once). */
static void interleave(const pl_batch_t *a, const pl_batch_t *b, pl_batch_t *out)
{
    pl_batch_init(out, PL_FRAMES);
    size_t i = 0, j = 0;
    int64_t a0 = a->frames.ts_ns[0], b0 = b->frames.ts_ns[0];
    while (i < a->frames.n || j < b->frames.n) {
        bool take_a = j >= b->frames.n ||
                      (i < a->frames.n && a->frames.ts_ns[i] - a0 <= b->frames.ts_ns[j] - b0);
        cr_assert_eq(pl_batch_push_frame(out, take_a ? a : b, take_a ? i++ : j++), 0);
    }
}

/* Every result of r as "ts|topic|key|body-json\n" appended to acc. */
static void collect(run_t *r, char *acc, size_t cap)
{
    const pw_results_t *res = &r->op.out[0].res.rec;
    for (size_t k = 0; k < res->n; k++) {
        char js[2048];
        json_of(&res->rec[k], js, sizeof js);
        size_t len = strlen(acc);
        snprintf(acc + len, cap - len, "%lld|%.*s|%.*s|%s\n", (long long)res->rec[k].ts_ns,
                 (int)res->rec[k].topic_len, res->rec[k].topic, (int)res->rec[k].key_len,
                 res->rec[k].key, js);
    }
    pl_batch_clear(&r->op.out[0]);
}

/* Feed frames [from, to) of b, one per batch, collecting the results. */
static void feed_range(run_t *r, const pl_batch_t *b, size_t from, size_t to, char *acc,
                       size_t cap)
{
    pl_ctx_t ctx = {.names = &names, .watermark_ns = PL_WATERMARK_MIN};
    for (size_t i = from; i < to; i++) {
        pl_batch_t one;
        pl_batch_init(&one, PL_FRAMES);
        cr_assert_eq(pl_batch_push_frame(&one, b, i), 0);
        cr_assert_eq(pl_events_def.process(&r->op, 0, &one, &ctx), 0);
        pl_batch_fini(&one);
        collect(r, acc, cap);
    }
}

static const char *real_model(void)
{
    const char *path = "conf/models/events.json";
    if (access(path, R_OK) != 0)
        cr_skip_test("no %s (run from the repository root)", path);
    return path;
}

#define ACC_CAP (1 << 16)

Test(pl_events, restored_midway_emits_the_same_events_as_an_uninterrupted_run)
{
    const char *model = real_model();
    pl_batch_t a, b, both;
    load_play("football/ngs/2019_TB_2019092909_5000.tsv.gz", &a);
    load_play("football/ngs/2018_LA_2018111900_137.tsv.gz", &b);
    interleave(&a, &b, &both);
    size_t n = both.frames.n;

    static char whole[ACC_CAP], split[ACC_CAP];
    whole[0] = 0;
    run_t r;
    op_open(&r, model);
    feed_range(&r, &both, 0, n, whole, ACC_CAP);
    end_input(&r);
    collect(&r, whole, ACC_CAP);
    op_close(&r);
    cr_assert_gt(strlen(whole), 0, "the plays gave no events");
    cr_assert_not_null(strstr(whole, "ball_snap"), "%s", whole);

    /* Cut at a handful of places, including inside the look-ahead of the snap. */
    size_t cuts[] = {1, 3, n / 5, n / 3, n / 2, 2 * n / 3, n - 2, n};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        split[0] = 0;
        run_t r1, r2;
        op_open(&r1, model);
        feed_range(&r1, &both, 0, cuts[c], split, ACC_CAP);
        pl_buf_t snap;
        pl_buf_init(&snap);
        cr_assert_eq(pl_events_def.snapshot(&r1.op, &snap), 0);
        uint64_t keys = r1.op.cnt.keys;
        op_close(&r1);

        op_open(&r2, model);
        pl_rd_t rd;
        pl_rd_init(&rd, snap.data, snap.len);
        pw_err_t err = {0};
        cr_assert_eq(pl_events_def.restore(&r2.op, &rd, &err), 0, "%s", err.msg);
        cr_assert_eq(r2.op.cnt.keys, keys);
        feed_range(&r2, &both, cuts[c], n, split, ACC_CAP);
        end_input(&r2);
        collect(&r2, split, ACC_CAP);
        op_close(&r2);
        pl_buf_fini(&snap);
        cr_assert_str_eq(split, whole, "cut at frame %zu of %zu", cuts[c], n);
    }
    pl_batch_fini(&a);
    pl_batch_fini(&b);
    pl_batch_fini(&both);
}

Test(pl_events, restore_rejects_a_truncated_or_corrupt_state)
{
    const char *model = real_model();
    pl_batch_t a;
    load_play("football/ngs/2019_TB_2019092909_5000.tsv.gz", &a);
    static char acc[ACC_CAP];
    acc[0] = 0;
    run_t r;
    op_open(&r, model);
    feed_range(&r, &a, 0, a.frames.n / 2, acc, ACC_CAP);
    pl_buf_t snap;
    pl_buf_init(&snap);
    cr_assert_eq(pl_events_def.snapshot(&r.op, &snap), 0);
    op_close(&r);
    cr_assert_gt(snap.len, 8);

    run_t f;
    op_open(&f, model);
    pw_err_t err = {0};
    uint8_t *bad = malloc(snap.len + 16);
    cr_assert_not_null(bad);
    /* Every truncation (but the empty state, which means no plays) fails. */
    for (size_t len = 1; len < snap.len; len++) {
        memcpy(bad, snap.data, len);
        pl_rd_t rd;
        pl_rd_init(&rd, bad, len);
        cr_assert_neq(pl_events_def.restore(&f.op, &rd, &err), 0, "length %zu", len);
        cr_assert_not_null(strstr(err.msg, "events: "), "%s", err.msg);
    }
    /* Trailing bytes. */
    memcpy(bad, snap.data, snap.len);
    memset(bad + snap.len, 0, 16);
    pl_rd_t rd;
    pl_rd_init(&rd, bad, snap.len + 16);
    cr_assert_neq(pl_events_def.restore(&f.op, &rd, &err), 0);
    cr_assert_not_null(strstr(err.msg, "bytes"), "%s", err.msg);
    /* A version from the future. */
    memcpy(bad, snap.data, snap.len);
    bad[0] ^= 0x40;
    pl_rd_init(&rd, bad, snap.len);
    cr_assert_neq(pl_events_def.restore(&f.op, &rd, &err), 0);
    cr_assert_not_null(strstr(err.msg, "format"), "%s", err.msg);
    /* A NaN where the first frame's ball x is (after version, count, slot and counters). */
    memcpy(bad, snap.data, snap.len);
    double nan_v = NAN;
    memcpy(bad + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 8, &nan_v, 8);
    pl_rd_init(&rd, bad, snap.len);
    cr_assert_neq(pl_events_def.restore(&f.op, &rd, &err), 0);
    cr_assert_not_null(strstr(err.msg, "malformed"), "%s", err.msg);
    /* A slot beyond max_plays. */
    memcpy(bad, snap.data, snap.len);
    uint32_t slot = 1u << 30;
    memcpy(bad + 8, &slot, 4);
    pl_rd_init(&rd, bad, snap.len);
    cr_assert_neq(pl_events_def.restore(&f.op, &rd, &err), 0);
    cr_assert_not_null(strstr(err.msg, "slot"), "%s", err.msg);
    /* Any single corrupt byte: an error or a state that still runs, never a crash. */
    for (size_t k = 0; k < snap.len; k += 7) {
        memcpy(bad, snap.data, snap.len);
        bad[k] ^= 0xA5;
        pl_rd_init(&rd, bad, snap.len);
        run_t g;
        op_open(&g, model);
        if (pl_events_def.restore(&g.op, &rd, &err) == 0) {
            static char junk[ACC_CAP];
            junk[0] = 0;
            feed_range(&g, &a, a.frames.n / 2, a.frames.n / 2 + 20, junk, ACC_CAP);
            end_input(&g);
        }
        op_close(&g);
    }
    /* After the failures the operator is still empty and works. */
    cr_assert_eq(f.op.cnt.keys, 0);
    pl_rd_init(&rd, snap.data, snap.len);
    cr_assert_eq(pl_events_def.restore(&f.op, &rd, &err), 0, "%s", err.msg);
    cr_assert_eq(f.op.cnt.keys, 1);
    feed_range(&f, &a, a.frames.n / 2, a.frames.n, acc, ACC_CAP);
    end_input(&f);
    op_close(&f);
    free(bad);
    pl_buf_fini(&snap);
    pl_batch_fini(&a);
}

/* ---- a game feed: many plays in one session ------------------------------------ */

#define GAME_FRAMES 3000

/* A simulated game of n frames in b (one session); its stats in st. */
static void sim_game(pl_batch_t *b, size_t n, ing_simgame_stats_t *st)
{
    ing_simgame_opts_t o = {.start_ns = T0, .session = SESSION};
    ing_simgame_t *g;
    pw_err_t err = {0};
    cr_assert_eq(ing_simgame_create(&o, entities, labels, &g, &err), 0, "%s", err.msg);
    pl_batch_init(b, PL_FRAMES);
    cr_assert_eq(ing_simgame_next(g, INT64_MAX, n, &b->frames), (long)n);
    ing_simgame_stats(g, st);
    ing_simgame_destroy(g);
}

/*
 * Measured on this game (3000 frames, 18 snaps, seed 0): 15 of 18 snaps
 * found within MD_EVENTS_TOL_NS, no false snap; 30000 frames: 132 of 165,
 * 5 false. The three missed here follow plays whose end was never
 * recognised: the simulator's ball swings around its next spot and never
 * rests (docs/models-events.md). Before plays in a row, 1 of 18 was found.
 */
#define GAME_SNAPS_FOUND_MIN 0.9
#define GAME_FALSE_SNAPS_MAX 1

Test(pl_events, a_game_feed_finds_nearly_every_snap_and_each_event_once_a_play_that_ends_once)
{
    const char *model = real_model();
    pl_batch_t b;
    ing_simgame_stats_t st;
    sim_game(&b, GAME_FRAMES, &st);
    run_t r;
    op_open(&r, model);
    pl_ctx_t ctx = {.names = &names, .watermark_ns = PL_WATERMARK_MIN};
    /* Batches of 25 frames, as a live feed at 10 Hz flushed every 2.5 s. */
    for (size_t i = 0; i < b.frames.n; i += 25) {
        pl_batch_t some;
        pl_batch_init(&some, PL_FRAMES);
        for (size_t j = i; j < i + 25 && j < b.frames.n; j++)
            cr_assert_eq(pl_batch_push_frame(&some, &b, j), 0);
        cr_assert_eq(pl_events_def.process(&r.op, 0, &some, &ctx), 0);
        pl_batch_fini(&some);
    }
    end_input(&r);
    const pw_results_t *res = &r.op.out[0].res.rec;
    uint32_t snap_id;
    cr_assert_eq(pw_intern_find(labels, "ball_snap", 9, &snap_id), 0);
    static int64_t snaps[512];
    int nsnaps = 0;
    for (size_t i = 0; i < b.frames.n; i++)
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            if (b.frames.label[i * PW_FRAME_LABELS + l] == snap_id && nsnaps < 512)
                snaps[nsnaps++] = b.frames.ts_ns[i];
    cr_assert_eq((uint64_t)nsnaps, st.passes + st.runs);
    /* Plays numbered 1, 2, ... each opened by its snap; no type twice in a play. */
    static bool seen[512][MD_EVENTS_NT];
    memset(seen, 0, sizeof seen);
    int found = 0, false_snaps = 0, prev = 0;
    char buf[2048];
    for (size_t k = 0; k < res->n; k++) {
        const char *js = json_of(&res->rec[k], buf, sizeof buf);
        double v = 0;
        cr_assert_eq(pw_body_get_f64(res->rec[k].body, res->rec[k].body_len, "play", &v), 0);
        int play = (int)v, type = -1;
        for (int t = 0; t < MD_EVENTS_NT; t++) {
            char want[64];
            snprintf(want, sizeof want, "\"type\":\"%s\"", md_events_type_names[t]);
            if (strstr(js, want))
                type = t;
        }
        cr_assert_geq(type, 0, "%s", js);
        cr_assert(play >= 1 && play < 512, "%s", js);
        cr_assert(!seen[play][type], "%s twice in play %d", md_events_type_names[type], play);
        seen[play][type] = true;
        /* A play ends once: by a tackle, out of bounds or a sack. */
        int ends = seen[play][MD_EV_TACKLE] + seen[play][MD_EV_OOB] + seen[play][MD_EV_SACK];
        cr_assert_leq(ends, 1, "play %d ends twice: %s", play, js);
        if (play != prev) {
            cr_assert_eq(play, prev + 1, "%s", js);
            cr_assert_eq(type, MD_EV_SNAP, "play %d opens with %s", play, js);
            prev = play;
        }
        if (type != MD_EV_SNAP)
            continue;
        bool match = false;
        for (int s = 0; s < nsnaps && !match; s++)
            match = llabs(snaps[s] - res->rec[k].ts_ns) <= MD_EVENTS_TOL_NS;
        found += match;
        false_snaps += !match;
    }
    cr_log_info("sim game: %d snaps, %d found, %d false, %d plays detected", nsnaps, found,
                false_snaps, prev);
    cr_assert_geq(found, (int)(GAME_SNAPS_FOUND_MIN * nsnaps + 0.999), "%d of %d snaps found",
                  found, nsnaps);
    cr_assert_leq(false_snaps, GAME_FALSE_SNAPS_MAX);
    op_close(&r);
    pl_batch_fini(&b);
}

Test(pl_events, restored_mid_game_emits_the_same_events_as_an_uninterrupted_run)
{
    const char *model = real_model();
    pl_batch_t b;
    ing_simgame_stats_t st;
    sim_game(&b, GAME_FRAMES, &st);
    size_t n = b.frames.n;
    static char whole[ACC_CAP], split[ACC_CAP];
    whole[0] = 0;
    run_t r;
    op_open(&r, model);
    feed_range(&r, &b, 0, n, whole, ACC_CAP);
    end_input(&r);
    collect(&r, whole, ACC_CAP);
    op_close(&r);
    cr_assert_not_null(strstr(whole, "\"play\":3"), "%s", whole);
    size_t cuts[] = {n / 3, n / 2 + 7, 2 * n / 3 + 3};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        split[0] = 0;
        run_t r1, r2;
        op_open(&r1, model);
        feed_range(&r1, &b, 0, cuts[c], split, ACC_CAP);
        pl_buf_t snap;
        pl_buf_init(&snap);
        cr_assert_eq(pl_events_def.snapshot(&r1.op, &snap), 0);
        op_close(&r1);
        op_open(&r2, model);
        pl_rd_t rd;
        pl_rd_init(&rd, snap.data, snap.len);
        pw_err_t err = {0};
        cr_assert_eq(pl_events_def.restore(&r2.op, &rd, &err), 0, "%s", err.msg);
        feed_range(&r2, &b, cuts[c], n, split, ACC_CAP);
        end_input(&r2);
        collect(&r2, split, ACC_CAP);
        op_close(&r2);
        pl_buf_fini(&snap);
        cr_assert_str_eq(split, whole, "cut at frame %zu of %zu", cuts[c], n);
    }
    pl_batch_fini(&b);
}

/* Every event of a real play through the operator, as collect() lines. */
static void run_real_play(const char *rel, char *acc, size_t cap, pl_batch_t *b)
{
    load_play(rel, b);
    acc[0] = 0;
    run_t r;
    op_open(&r, real_model());
    feed_range(&r, b, 0, b->frames.n, acc, cap);
    end_input(&r);
    collect(&r, acc, cap);
    op_close(&r);
}

/* The time of the first frame of b labelled name; INT64_MIN if none. */
static int64_t label_ns(const pl_batch_t *b, const char *name)
{
    uint32_t id = 0;
    if (pw_intern_find(labels, name, strlen(name), &id))
        return INT64_MIN;
    for (size_t i = 0; i < b->frames.n; i++)
        for (int l = 0; l < PW_FRAME_LABELS; l++)
            if (b->frames.label[i * PW_FRAME_LABELS + l] == id)
                return b->frames.ts_ns[i];
    return INT64_MIN;
}

/* The ts_ns of the first event of type in acc; INT64_MIN if none. */
static int64_t event_ns(const char *acc, const char *type)
{
    char key[64];
    snprintf(key, sizeof key, "\"type\":\"%s\"", type);
    const char *p = strstr(acc, key);
    if (p == NULL)
        return INT64_MIN;
    const char *t = strstr(p, "\"ts_ns\":");
    return t ? strtoll(t + 8, NULL, 10) : INT64_MIN;
}

/*
 * Run the real play and check that its event of type is emitted within the
 * tolerance of the play's label; the play's output stays in acc and b.
 */
static void run_play_expecting(const char *play, const char *label, const char *type, char *acc,
                               pl_batch_t *b)
{
    run_real_play(play, acc, ACC_CAP, b);
    int64_t want = label_ns(b, label), got = event_ns(acc, type);
    cr_assert_neq(want, INT64_MIN, "no %s label in %s", label, play);
    cr_assert_neq(got, INT64_MIN, "no %s in %s", type, acc);
    cr_assert_leq(llabs(got - want), MD_EVENTS_TOL_NS, "%s at %lld, label at %lld", type,
                  (long long)got, (long long)want);
}

Test(pl_events, a_punt_from_a_kick_formation_is_not_a_forward_pass)
{
    static char acc[ACC_CAP];
    pl_batch_t b;
    /* A punt of a game kept aside: the punter 14 yd back, the returner 55 yd deep. */
    run_real_play("football/ngs/2019_PIT_2019120810_653.tsv.gz", acc, ACC_CAP, &b);
    cr_assert_not_null(strstr(acc, "\"type\":\"ball_snap\""), "%s", acc);
    cr_assert_null(strstr(acc, "\"type\":\"pass_forward\""), "%s", acc);
    pl_batch_fini(&b);
}

Test(pl_events, a_sack_kept_aside_is_found_at_its_time_and_a_pass_play_has_none)
{
    static char acc[ACC_CAP];
    pl_batch_t b;
    /* Strip sack of a game kept aside (playId even: never fitted on). */
    run_play_expecting("football/ngs/2019_SEA_2019111100_1618.tsv.gz", "qb_strip_sack", "qb_sack",
                       acc, &b);
    pl_batch_fini(&b);

    /* A completed pass of a game kept aside: no sack. */
    run_real_play("football/ngs/2018_LA_2018111900_137.tsv.gz", acc, ACC_CAP, &b);
    cr_assert_not_null(strstr(acc, "\"type\":\"pass_forward\""), "%s", acc);
    cr_assert_null(strstr(acc, "\"type\":\"qb_sack\""), "%s", acc);
    pl_batch_fini(&b);
}

Test(pl_events, a_touchdown_caught_in_the_end_zone_is_a_touchdown_not_a_tackle)
{
    static char acc[ACC_CAP];
    pl_batch_t b;
    /*
     * Catches in the end zone of a game kept aside: NGS labels them only
     * pass_outcome_touchdown. The first is found at its time.
     */
    run_play_expecting("football/ngs/2018_LA_2018092700_1600.tsv.gz", "pass_outcome_touchdown",
                       "touchdown", acc, &b);
    cr_assert_null(strstr(acc, "\"type\":\"tackle\""), "%s", acc);
    pl_batch_fini(&b);

    /*
     * In the second the receiver pulls up sharply in the end zone after the
     * catch; that stop is not a tackle (before the end-zone gate, one was
     * emitted 6 s after the catch).
     */
    run_real_play("football/ngs/2019_DAL_2019111010_2757.tsv.gz", acc, ACC_CAP, &b);
    cr_assert_neq(label_ns(&b, "pass_outcome_touchdown"), INT64_MIN);
    cr_assert_null(strstr(acc, "\"type\":\"tackle\""), "%s", acc);
    pl_batch_fini(&b);
}

Test(md_events, a_type_answers_to_both_of_its_label_names)
{
    pw_intern_t *t = NULL;
    cr_assert_eq(pw_intern_create(64, &t), 0);
    uint32_t td = 0, pot = 0, sack = 0, strip = 0;
    cr_assert_eq(pw_intern_add(t, "pass_outcome_touchdown", 22, &pot), 0);
    cr_assert_eq(pw_intern_add(t, "qb_strip_sack", 13, &strip), 0);
    md_events_labels_t L;
    /* Lookup only: names the table lacks resolve to 0, which no label matches. */
    cr_assert_eq(md_events_labels_resolve(t, false, &L), 0);
    cr_assert_eq(L.id[MD_EV_TD], 0);
    cr_assert_eq(L.alias[MD_EV_TD], pot);
    cr_assert_eq(L.alias[MD_EV_SACK], strip);
    cr_assert_eq(L.alias[MD_EV_TACKLE], 0);
    cr_assert_eq(md_events_labels_resolve(t, true, &L), 0);
    cr_assert_eq(pw_intern_find(t, "touchdown", 9, &td), 0);
    cr_assert_eq(pw_intern_find(t, "qb_sack", 7, &sack), 0);
    cr_assert_eq(L.id[MD_EV_TD], td);
    cr_assert_eq(L.id[MD_EV_SACK], sack);
    cr_assert_eq(L.alias[MD_EV_TD], pot);
    pw_intern_destroy(t);
}
