/*
 * md_pressure and the pressure operator: the split rule, the model file,
 * the live path on a hand-made play (alert once, window, degraded input)
 * training on the real plays (reproducible, fits the horizon label), the
 * operator's checkpoint (restore mid play, corrupt state refused) and a
 * simulated game feed (a window per snap, one alert per play at most,
 * restore mid game).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pw_body.h"
#include "core/pw_conf.h"
#include "core/pw_intern.h"
#include "ingest/ing_simgame.h"
#include "models/md_model.h"
#include "models/md_pressure.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_op.h"
#include "pipeline/pl_pressure.h"
#include "tests/ingest/data_util.h"

#define T0 INT64_C(1600000000000000000)
#define FRAME_NS INT64_C(100000000)
#define SESSION UINT64_C(20190908000051)

static pw_intern_t *entities, *labels, *channels;
static pl_names_t names;
static char model_path[64];

/* A model that only looks at closeness: p = sigmoid(-6 + 12 * near). */
static void write_model(double threshold)
{
    md_pressure_model_t m = {0};
    for (int k = 0; k < MD_PRESSURE_NF; k++)
        m.std[k] = 1.0;
    m.w[1] = 12.0;
    m.bias = -6.0;
    m.threshold = threshold;
    m.confirm = 2;
    pw_err_t err = {0};
    cr_assert_eq(md_pressure_model_save(&m, model_path, &err), 0, "%s", err.msg);
}

static void setup(void)
{
    cr_assert_eq(pw_intern_create(1 << 12, &entities), 0);
    cr_assert_eq(pw_intern_create(256, &labels), 0);
    cr_assert_eq(pw_intern_create(16, &channels), 0);
    names = (pl_names_t){.channels = channels, .entities = entities, .labels = labels};
    snprintf(model_path, sizeof model_path, "/tmp/pitwall-pressure-XXXXXX");
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

TestSuite(md_pressure, .init = setup, .fini = teardown, .timeout = 600);
TestSuite(pl_pressure, .init = setup, .fini = teardown, .timeout = 60);

static uint32_t intern(pw_intern_t *t, const char *s)
{
    uint32_t id;
    cr_assert_eq(pw_intern_add(t, s, strlen(s), &id), 0);
    return id;
}

/*
 * A shotgun drop-back, offense attacking +x: ball at (50, 25), centre at
 * (49.5, 25), QB at (45, 25), eight linemen and a back; ten defenders held
 * at the line and one edge rusher from (51, 31) straight at the QB at
 * 4 yd/s, stopping 0.5 yd short. Snap at frame 5, pass at frame `pass`.
 * Frame `no_qb` (if >= 0) lacks the QB; frame `nan_def` has a NaN defender.
 */
static void make_play(pl_batch_t *b, int nframes, int pass, int no_qb, int nan_def)
{
    uint32_t snap = intern(labels, "ball_snap"), fwd = intern(labels, "pass_forward");
    pl_batch_init(b, PL_FRAMES);
    double rx = 51, ry = 31;
    for (int i = 0; i < nframes; i++) {
        pw_object_t o[23];
        int n = 0;
        char name[32];
        o[n++] = (pw_object_t){intern(entities, "ball"), PW_TEAM_BALL, 50, 25, 0, NAN, NAN};
        o[n++] = (pw_object_t){intern(entities, "nfl/1"), PW_TEAM_HOME, 49.5f, 25, 0, 90, 90};
        if (i != no_qb)
            o[n++] = (pw_object_t){intern(entities, "nfl/2"), PW_TEAM_HOME, 45, 25, 0, 90, 90};
        for (int k = 0; k < 8; k++) {
            snprintf(name, sizeof name, "nfl/%d", 3 + k);
            o[n++] = (pw_object_t){intern(entities, name), PW_TEAM_HOME, 49,
                                   (float)(21 + k + (k >= 4)), 0, 90, 90};
        }
        o[n++] = (pw_object_t){intern(entities, "nfl/11"), PW_TEAM_HOME, 44, 28, 0, 90, 90};
        for (int k = 0; k < 10; k++) {
            snprintf(name, sizeof name, "nfl/%d", 100 + k);
            float x = i == nan_def && k == 0 ? NAN : 51;
            o[n++] = (pw_object_t){intern(entities, name), PW_TEAM_AWAY, x,
                                   (float)(20 + k), 0, 270, 270};
        }
        double dx = 45 - rx, dy = 25 - ry, d = hypot(dx, dy);
        bool moving = i >= 5 && d > 0.5;
        double dir = atan2(dx, dy) * 180 / 3.14159265358979323846;
        if (dir < 0)
            dir += 360;
        o[n++] = (pw_object_t){intern(entities, "nfl/200"), PW_TEAM_AWAY, (float)rx, (float)ry,
                               moving ? 4.0f : 0.0f, (float)dir, (float)dir};
        if (moving) {
            double step = d - 0.5 < 0.4 ? d - 0.5 : 0.4;
            rx += dx / d * step;
            ry += dy / d * step;
        }
        uint32_t lab[PW_FRAME_LABELS] = {i == 5 ? snap : i == pass ? fwd : 0, 0};
        cr_assert_eq(pw_frames_push(&b->frames, T0 + i * FRAME_NS, SESSION, lab, o,
                                    (uint16_t)n), 0);
    }
}

typedef struct run {
    pl_op_t op;
    pl_pressure_conf_t conf;
} run_t;

static void op_open(run_t *r)
{
    memset(r, 0, sizeof *r);
    pw_err_t err = {0};
    cr_assert_eq(pw_conf_defaults(&pl_pressure_conf_section, &r->conf, &err), 0, "%s",
                 err.msg);
    char set[128];
    snprintf(set, sizeof set, "model=%s", model_path);
    cr_assert_eq(pw_conf_set(&pl_pressure_conf_section, &r->conf, set, &err), 0, "%s",
                 err.msg);
    pl_port_type_t in = {PL_FRAMES, false}, out;
    cr_assert_eq(pl_pressure_def.check(&r->conf, &in, 1, &out, &err), 0);
    cr_assert_eq(out.kind, PL_RESULTS);
    r->op.def = &pl_pressure_def;
    pl_batch_init(&r->op.out[0], PL_RESULTS);
    pl_setup_t su = {.name = "pressure", .names = &names, .in = &in, .nin = 1};
    cr_assert_eq(pl_pressure_def.init(&r->op, &r->conf, &su, &err), 0, "%s", err.msg);
}

static void op_close(run_t *r)
{
    pl_pressure_def.close(&r->op);
    pl_batch_fini(&r->op.out[0]);
    pw_conf_fini(&pl_pressure_conf_section, &r->conf);
}

/* Feed frames [from, to) one per batch, as a live feed does. */
static void feed_range(run_t *r, const pl_batch_t *b, size_t from, size_t to)
{
    pl_ctx_t ctx = {.names = &names};
    for (size_t i = from; i < to && i < b->frames.n; i++) {
        pl_batch_t one;
        pl_batch_init(&one, PL_FRAMES);
        cr_assert_eq(pl_batch_push_frame(&one, b, i), 0);
        cr_assert_eq(pl_pressure_def.process(&r->op, 0, &one, &ctx), 0);
        pl_batch_fini(&one);
    }
}

static void feed(run_t *r, const pl_batch_t *b)
{
    feed_range(r, b, 0, b->frames.n);
}

static const char *json_of(const pw_result_t *res, char *buf, size_t cap)
{
    cr_assert_gt(pw_body_to_json(res->body, res->body_len, buf, cap), 0);
    return buf;
}

Test(md_pressure, model_file_round_trips_and_rejects_a_hand_edit)
{
    write_model(0.5);
    pw_err_t err = {0};
    md_pressure_model_t *m = md_pressure_model_load(model_path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_float_eq(m->w[1], 12.0, 0);
    cr_assert_float_eq(m->threshold, 0.5, 0);
    cr_assert_eq(strncmp(m->version, "pressure-", 9), 0);
    double feat[MD_PRESSURE_NF] = {0};
    feat[1] = 0.5;
    cr_assert_float_eq(md_pressure_predict(m, feat), 0.5, 1e-12);
    md_pressure_model_free(m);

    /* Change a coefficient without the version: refused, with the reason. */
    FILE *f = fopen(model_path, "r");
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, "-6.0");
    cr_assert_not_null(at, "%s", text);
    at[1] = '5';
    f = fopen(model_path, "w");
    fputs(text, f);
    fclose(f);
    cr_assert_null(md_pressure_model_load(model_path, &err));
    cr_assert(strstr(err.msg, "'version' does not match"), "%s", err.msg);
    cr_assert_null(md_pressure_model_load("/nonexistent/pressure.json", &err));
    cr_assert(strstr(err.msg, "/nonexistent/pressure.json"), "%s", err.msg);
}

Test(md_pressure, alerts_once_on_the_free_rusher_from_snap_to_pass)
{
    write_model(0.5);
    pl_batch_t b;
    make_play(&b, 40, 32, -1, -1);
    run_t r;
    op_open(&r);
    feed(&r, &b);
    const pw_results_t *res = &r.op.out[0].res.rec;
    cr_assert_eq(res->n, 28, "one result per frame from the snap (5) to the pass (32)");
    int alerts = 0, alert_at = -1;
    char buf[2048];
    for (size_t k = 0; k < res->n; k++) {
        const pw_result_t *x = &res->rec[k];
        cr_assert_eq(x->ts_ns, T0 + (int64_t)(k + 5) * FRAME_NS);
        cr_assert_eq(x->topic_len, 8);
        cr_assert_eq(memcmp(x->topic, "pressure", 8), 0);
        cr_assert_eq(x->key_len, strlen("game/20190908000051"));
        cr_assert_eq(memcmp(x->key, "game/20190908000051", x->key_len), 0);
        const char *j = json_of(x, buf, sizeof buf);
        cr_assert(strstr(j, "\"version\":\"pressure-"), "%s", j);
        cr_assert(strstr(j, "\"degraded\":false"), "%s", j);
        double p;
        cr_assert_eq(pw_body_get_f64(x->body, x->body_len, "prob", &p), 0);
        cr_assert(p >= 0 && p <= 1);
        if (strstr(j, "\"alert\":true")) {
            alerts++;
            alert_at = (int)k + 5;
            cr_assert(strstr(j, "\"alert_entity\":\"nfl/200\""), "%s", j);
            double eta;
            cr_assert_eq(pw_body_get_f64(x->body, x->body_len, "alert_eta_s", &eta), 0);
            cr_assert(eta >= 0 && eta < 1.5, "eta %f", eta);
        }
    }
    cr_assert_eq(alerts, 1);
    /* The rusher is 1.5 yd from the QB at about frame 25: the alert comes before. */
    cr_assert(alert_at > 5 && alert_at < 25, "alert at frame %d", alert_at);
    const char *last = json_of(&res->rec[res->n - 1], buf, sizeof buf);
    cr_assert(strstr(last, "\"end\":\"pass\""), "%s", last);
    op_close(&r);
    pl_batch_fini(&b);
}

Test(md_pressure, holds_the_last_value_and_flags_a_missing_qb_or_nan_player)
{
    write_model(0.5);
    pl_batch_t b;
    make_play(&b, 30, 28, 15, 17);
    run_t r;
    op_open(&r);
    feed(&r, &b);
    const pw_results_t *res = &r.op.out[0].res.rec;
    cr_assert_eq(res->n, 24);
    char buf[2048];
    double before, held, p17;
    cr_assert_eq(pw_body_get_f64(res->rec[9].body, res->rec[9].body_len, "prob", &before), 0);
    cr_assert_eq(pw_body_get_f64(res->rec[10].body, res->rec[10].body_len, "prob", &held), 0);
    cr_assert_float_eq(held, before, 1e-12);
    cr_assert(strstr(json_of(&res->rec[10], buf, sizeof buf), "\"degraded\":true"), "%s",
              buf);
    cr_assert(strstr(json_of(&res->rec[11], buf, sizeof buf), "\"degraded\":false"), "%s",
              buf);
    cr_assert(strstr(json_of(&res->rec[12], buf, sizeof buf), "\"degraded\":true"), "%s",
              buf);
    cr_assert_eq(pw_body_get_f64(res->rec[12].body, res->rec[12].body_len, "prob", &p17), 0);
    cr_assert(isfinite(p17) && p17 >= 0 && p17 <= 1);
    op_close(&r);
    pl_batch_fini(&b);
}

Test(md_pressure, emits_nothing_without_a_snap_and_rejects_points)
{
    write_model(0.5);
    pl_batch_t b;
    make_play(&b, 30, 28, -1, -1);
    for (size_t i = 0; i < b.frames.n * PW_FRAME_LABELS; i++)
        b.frames.label[i] = 0;
    run_t r;
    op_open(&r);
    feed(&r, &b);
    cr_assert_eq(r.op.out[0].res.rec.n, 0);
    op_close(&r);
    pl_batch_fini(&b);
    pl_port_type_t in = {PL_POINTS, false}, out;
    pw_err_t err = {0};
    cr_assert_eq(pl_pressure_def.check(NULL, &in, 1, &out, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "takes frames"), "%s", err.msg);
}

/* The first n training-split plays of the real data, or 0 when it is missing. */
static size_t real_paths(char **paths, size_t max)
{
    size_t len = 0;
    char full[4096];
    uint8_t *probe = tdata_load("/football/ngs/2017_MIN_2018011401_4497.tsv.gz", &len, full,
                                sizeof full);
    if (probe == NULL)
        return 0;
    free(probe);
    char *slash = strrchr(full, '/');
    *slash = '\0';
    static const char *const names_[] = {
        "2017_MIN_2018011401_4497.tsv.gz", "2018_ATL_2018100707_1113.tsv.gz",
        "2018_BUF_2018091601_1811.tsv.gz", "2018_CAR_2018121700_3239.tsv.gz",
        "2018_CHI_2018102102_2560.tsv.gz", "2018_CHI_2018102102_4750.tsv.gz",
        "2018_CAR_2018112502_3206.tsv.gz", "2019_TB_2019092909_5000.tsv.gz",
    };
    size_t n = 0;
    for (size_t k = 0; k < sizeof names_ / sizeof names_[0] && n < max; k++) {
        paths[n] = malloc(strlen(full) + strlen(names_[k]) + 2);
        sprintf(paths[n], "%s/%s", full, names_[k]);
        if (access(paths[n], R_OK) == 0)
            n++;
        else
            free(paths[n]);
    }
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

Test(md_pressure, trains_reproducibly_on_real_plays)
{
    char *paths[8];
    size_t n = real_paths(paths, 8);
    if (n == 0)
        return;
    char out2[80];
    snprintf(out2, sizeof out2, "%.60s.2", model_path);
    pw_err_t err = {0};
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_eq(md_pressure_def.train((const char *const *)paths, n, model_path, devnull,
                                       &err), 0, "%s", err.msg);
    cr_assert_eq(md_pressure_def.train((const char *const *)paths, n, out2, devnull, &err), 0,
                 "%s", err.msg);
    fclose(devnull);
    char *a = slurp(model_path), *b = slurp(out2);
    cr_assert_str_eq(a, b);
    cr_assert(strstr(a, "\"skipped_no_dropback\""));
    /* The alert was chosen by cross-validation over training games. */
    cr_assert(strstr(a, "\"cv\""), "%s", a);
    cr_assert(strstr(a, "\"false_alert_budget_per_10_clean\""));
    md_pressure_model_t *m = md_pressure_model_load(model_path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    /* Closer and faster-closing defenders are more likely to get there. */
    cr_assert_lt(m->w[0], 0.0);
    cr_assert_gt(m->w[2], 0.0);
    md_pressure_model_free(m);
    free(a);
    free(b);
    unlink(out2);
    for (size_t k = 0; k < n; k++)
        free(paths[k]);
}

static int count_alerts(const pw_results_t *res, size_t from)
{
    int n = 0;
    char buf[2048];
    for (size_t k = from; k < res->n; k++)
        n += strstr(json_of(&res->rec[k], buf, sizeof buf), "\"alert\":true") != NULL;
    return n;
}

/* Snapshot the operator r into buf (cleared first). */
static void snapshot(run_t *r, pl_buf_t *buf)
{
    pl_buf_clear(buf);
    cr_assert_eq(pl_pressure_def.snapshot(&r->op, buf), 0);
    cr_assert_gt(buf->len, 0);
}

static int restore(run_t *r, const void *p, size_t len, pw_err_t *err)
{
    pl_rd_t rd;
    pl_rd_init(&rd, p, len);
    return pl_pressure_def.restore(&r->op, &rd, err);
}

Test(pl_pressure, restored_mid_play_emits_what_an_uninterrupted_run_emits)
{
    write_model(0.5);
    pl_batch_t b;
    make_play(&b, 40, 32, 15, -1);
    run_t whole;
    op_open(&whole);
    feed(&whole, &b);
    const pw_results_t *all = &whole.op.out[0].res.rec;
    cr_assert_eq(all->n, 28);
    cr_assert_eq(count_alerts(all, 0), 1);
    /* Cut before the snap, in the rush before the alert, after it, and at the end. */
    static const size_t cuts[] = {3, 10, 16, 24, 33};
    pl_buf_t state;
    pl_buf_init(&state);
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        size_t cut = cuts[c];
        run_t first, second;
        op_open(&first);
        feed_range(&first, &b, 0, cut);
        snapshot(&first, &state);
        int before = count_alerts(&first.op.out[0].res.rec, 0);
        op_close(&first);
        op_open(&second);
        pw_err_t err = {0};
        cr_assert_eq(restore(&second, state.data, state.len, &err), 0, "%s", err.msg);
        cr_assert_eq(second.op.cnt.keys, cut > 0 ? 1u : 0u);
        feed_range(&second, &b, cut, b.frames.n);
        const pw_results_t *rest = &second.op.out[0].res.rec;
        size_t skip = cut > 5 ? cut - 5 : 0;
        cr_assert_eq(rest->n, all->n - skip, "cut %zu", cut);
        for (size_t k = 0; k < rest->n; k++) {
            const pw_result_t *x = &rest->rec[k], *y = &all->rec[skip + k];
            cr_assert_eq(x->ts_ns, y->ts_ns);
            cr_assert_eq(x->key_len, y->key_len);
            cr_assert_eq(memcmp(x->key, y->key, x->key_len), 0);
            cr_assert_eq(x->body_len, y->body_len, "cut %zu frame %zu", cut, k);
            cr_assert_eq(memcmp(x->body, y->body, x->body_len), 0, "cut %zu frame %zu", cut, k);
        }
        /* One alert for the rush, whichever side of the cut it fell on. */
        cr_assert_eq(before + count_alerts(rest, 0), 1, "cut %zu", cut);
        op_close(&second);
    }
    pl_buf_fini(&state);
    op_close(&whole);
    pl_batch_fini(&b);
}

/* FNV-1a as the operator's checksum, to forge a blob with a bad field. */
static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) {
        h ^= p[k];
        h *= 16777619u;
    }
    return h;
}

Test(pl_pressure, rejects_a_truncated_or_corrupt_state_and_keeps_its_own)
{
    write_model(0.5);
    pl_batch_t b;
    make_play(&b, 40, 32, -1, -1);
    run_t r;
    op_open(&r);
    feed_range(&r, &b, 0, 12);
    pl_buf_t st;
    pl_buf_init(&st);
    snapshot(&r, &st);
    op_close(&r);
    uint8_t *bad = malloc(st.len + 8);
    pw_err_t err = {0};
    run_t fresh;
    op_open(&fresh);
    /* Empty: nothing to restore. */
    cr_assert_eq(restore(&fresh, st.data, 0, &err), 0);
    /* Every truncation is refused with the length. */
    for (size_t n = 1; n < st.len; n++) {
        err = (pw_err_t){0};
        cr_assert_eq(restore(&fresh, st.data, n, &err), PW_ECORRUPT, "len %zu", n);
        cr_assert(strstr(err.msg, "pressure: state"), "%s", err.msg);
    }
    /* A byte too many. */
    memcpy(bad, st.data, st.len);
    bad[st.len] = 0;
    cr_assert_eq(restore(&fresh, bad, st.len + 1, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "bytes"), "%s", err.msg);
    /* Any flipped bit after the header fails the checksum. */
    for (size_t k = 12; k < st.len; k += 7) {
        memcpy(bad, st.data, st.len);
        bad[k] ^= 0x10;
        cr_assert_eq(restore(&fresh, bad, st.len, &err), PW_ECORRUPT, "byte %zu", k);
    }
    memcpy(bad, st.data, st.len);
    bad[40] ^= 0x01;
    cr_assert_eq(restore(&fresh, bad, st.len, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "checksum"), "%s", err.msg);
    /* Another format version. */
    memcpy(bad, st.data, st.len);
    bad[0] = 99;
    cr_assert_eq(restore(&fresh, bad, st.len, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "format 99"), "%s", err.msg);
    /* A consistent checksum over an impossible phase: malformed play. */
    memcpy(bad, st.data, st.len);
    uint32_t phase = 7, sum;
    memcpy(bad + 12 + 4 + 8, &phase, 4);
    sum = fnv(bad, st.len - 4);
    memcpy(bad + st.len - 4, &sum, 4);
    cr_assert_eq(restore(&fresh, bad, st.len, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "malformed"), "%s", err.msg);
    /* A NaN probability, likewise. */
    memcpy(bad, st.data, st.len);
    double nan_ = NAN;
    memcpy(bad + st.len - 4 - 3 * 20 - 4 - 8, &nan_, 8); /* last_prob, before last_n */
    sum = fnv(bad, st.len - 4);
    memcpy(bad + st.len - 4, &sum, 4);
    cr_assert_eq(restore(&fresh, bad, st.len, &err), PW_ECORRUPT);
    /* Random bytes never crash. */
    srand(7);
    for (int t = 0; t < 200; t++) {
        size_t n = (size_t)rand() % (st.len + 8);
        for (size_t k = 0; k < n; k++)
            bad[k] = (uint8_t)rand();
        restore(&fresh, bad, n, &err);
    }
    /* A different max_plays is a configuration error, said so. */
    run_t small;
    op_open(&small);
    memcpy(bad, st.data, st.len);
    uint32_t slots = 8;
    memcpy(bad + 8, &slots, 4);
    sum = fnv(bad, st.len - 4);
    memcpy(bad + st.len - 4, &sum, 4);
    cr_assert_eq(restore(&small, bad, st.len, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "max_plays"), "%s", err.msg);
    op_close(&small);
    /* After all that the operator still has no play and runs the play from the start. */
    cr_assert_eq(fresh.op.cnt.keys, 0);
    feed(&fresh, &b);
    cr_assert_eq(fresh.op.out[0].res.rec.n, 28);
    cr_assert_eq(count_alerts(&fresh.op.out[0].res.rec, 0), 1);
    op_close(&fresh);
    free(bad);
    pl_buf_fini(&st);
    pl_batch_fini(&b);
}

/* ---- a game feed: many plays in one session ------------------------------------ */

#define GAME_FRAMES 6000

/* Open r on the trained model (skips without it: run from the repository root). */
static void op_open_real(run_t *r)
{
    if (access("conf/models/pressure.json", R_OK) != 0)
        cr_skip_test("no conf/models/pressure.json (run from the repository root)");
    char keep[sizeof model_path];
    memcpy(keep, model_path, sizeof keep);
    snprintf(model_path, sizeof model_path, "conf/models/pressure.json");
    op_open(r);
    memcpy(model_path, keep, sizeof keep); /* teardown removes the scratch file */
}

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

static bool frame_has(const pw_frames_t *f, size_t i, const char *label)
{
    uint32_t id;
    if (pw_intern_find(labels, label, strlen(label), &id))
        return false;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        if (f->label[i * PW_FRAME_LABELS + l] == id)
            return true;
    return false;
}

static double body_num(const pw_result_t *x, const char *key)
{
    double v = NAN;
    cr_assert_eq(pw_body_get_f64(x->body, x->body_len, key, &v), 0, "no %s", key);
    return v;
}

Test(pl_pressure, a_game_feed_gets_a_rush_window_for_every_snap_and_one_alert_at_most)
{
    pl_batch_t b;
    ing_simgame_stats_t st;
    sim_game(&b, GAME_FRAMES, &st);
    run_t r;
    op_open_real(&r);
    feed(&r, &b);
    const pw_results_t *res = &r.op.out[0].res.rec;
    /* The simulator's snaps: by label, and its own count. */
    const pw_frames_t *f = &b.frames;
    int snaps = 0;
    for (size_t i = 0; i < f->n; i++)
        snaps += frame_has(f, i, "ball_snap");
    cr_assert_eq((uint64_t)snaps, st.passes + st.runs);
    cr_assert_geq(snaps, 10, "a game of %d frames has %d snaps", GAME_FRAMES, snaps);
    /* One window per snap, numbered 1, 2, ..., each starting at its snap. */
    static int alerts[1024];
    memset(alerts, 0, sizeof alerts);
    int windows = 0, prev = 0;
    char buf[2048];
    for (size_t k = 0; k < res->n; k++) {
        int play = (int)body_num(&res->rec[k], "play");
        cr_assert(play == prev || play == prev + 1, "play %d after %d", play, prev);
        if (play != prev) {
            windows++;
            cr_assert_float_eq(body_num(&res->rec[k], "t_s"), 0.0, 1e-9, "play %d", play);
            prev = play;
        }
        cr_assert_lt(play, 1024);
        alerts[play] += strstr(json_of(&res->rec[k], buf, sizeof buf), "\"alert\":true") != NULL;
    }
    cr_assert_eq(windows, snaps, "%d windows for %d snaps", windows, snaps);
    int nalerts = 0;
    for (int p = 1; p <= windows; p++) {
        cr_assert_leq(alerts[p], 1, "play %d alerted %d times", p, alerts[p]);
        nalerts += alerts[p];
    }
    /* Sacks: whether the play alerted before the sack, and how far ahead (reported). */
    int play = 0, sacks = 0, sacks_alerted = 0;
    size_t k = 0;
    int64_t alert_ns = 0;
    int alert_play = 0;
    for (size_t i = 0; i < f->n; i++) {
        play += frame_has(f, i, "ball_snap");
        for (; k < res->n && res->rec[k].ts_ns <= f->ts_ns[i]; k++)
            if (strstr(json_of(&res->rec[k], buf, sizeof buf), "\"alert\":true")) {
                alert_ns = res->rec[k].ts_ns;
                alert_play = (int)body_num(&res->rec[k], "play");
            }
        if (frame_has(f, i, "qb_sack")) {
            sacks++;
            if (alert_play == play) {
                sacks_alerted++;
                cr_log_info("sim sack in play %d: alert %.1f s ahead", play,
                            (double)(f->ts_ns[i] - alert_ns) / 1e9);
            }
        }
    }
    cr_assert_eq((uint64_t)sacks, st.sacks);
    cr_log_info("sim game: %d snaps, %d windows, %d alerts, %d of %d sacks alerted", snaps,
                windows, nalerts, sacks_alerted, sacks);
    op_close(&r);
    pl_batch_fini(&b);
}

Test(pl_pressure, restored_mid_game_emits_what_an_uninterrupted_run_emits)
{
    pl_batch_t b;
    ing_simgame_stats_t st;
    sim_game(&b, GAME_FRAMES, &st);
    run_t whole;
    op_open_real(&whole);
    feed(&whole, &b);
    const pw_results_t *all = &whole.op.out[0].res.rec;
    pl_buf_t state;
    pl_buf_init(&state);
    /* Cuts between plays and inside later plays' rushes. */
    static const size_t cuts[] = {GAME_FRAMES / 3, GAME_FRAMES / 2 + 7, 2 * GAME_FRAMES / 3 + 3};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        run_t first, second;
        op_open_real(&first);
        feed_range(&first, &b, 0, cuts[c]);
        size_t before = first.op.out[0].res.rec.n;
        snapshot(&first, &state);
        op_close(&first);
        op_open_real(&second);
        pw_err_t err = {0};
        cr_assert_eq(restore(&second, state.data, state.len, &err), 0, "%s", err.msg);
        feed_range(&second, &b, cuts[c], b.frames.n);
        const pw_results_t *rest = &second.op.out[0].res.rec;
        cr_assert_eq(before + rest->n, all->n, "cut %zu", cuts[c]);
        for (size_t k = 0; k < rest->n; k++) {
            const pw_result_t *x = &rest->rec[k], *y = &all->rec[before + k];
            cr_assert_eq(x->ts_ns, y->ts_ns);
            cr_assert_eq(x->body_len, y->body_len, "cut %zu result %zu", cuts[c], k);
            cr_assert_eq(memcmp(x->body, y->body, x->body_len), 0, "cut %zu result %zu",
                         cuts[c], k);
        }
        op_close(&second);
    }
    pl_buf_fini(&state);
    op_close(&whole);
    pl_batch_fini(&b);
}
