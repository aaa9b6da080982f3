/*
 * bench_model_events: the cost of the live event classifier (the `events`
 * operator: frame summary, features, nine gated logistic scores, peak
 * picking, result bodies) per 10 Hz tracking frame of 23 objects.
 *
 * Simulated plays of 100 frames (22 players and the ball; the ball rests,
 * is snapped, travels and stops), one frame per batch as a live feed
 * delivers them, a new play every 100 frames, the watermark advanced with
 * every frame so ended plays are flushed. The model is written to the
 * scratch folder with coefficients that make the snap fire once per play.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "core/pw_conf.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "models/md_events.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_events.h"
#include "pipeline/pl_op.h"

#define FRAMES_PER_PLAY 100
#define FRAME_NS INT64_C(100000000)
#define T0 INT64_C(1600000000000000000)

/* Frame i of play `play` into b (cleared first). */
static int make_frame(pl_batch_t *b, const uint32_t *ent, uint64_t play, int i)
{
    pw_object_t o[23];
    int64_t ts = T0 + (int64_t)(play * FRAMES_PER_PLAY + (uint64_t)i) * FRAME_NS;
    bool moving = i >= 20;
    float t = moving ? (float)(i - 20) * 0.1f : 0.0f;
    float bx = 50.0f - (i < 40 ? 6.0f * t : 12.0f) + (i >= 40 ? 15.0f * (t - 2.0f) : 0.0f);
    if (i >= 60)
        bx = 50.0f - 12.0f + 30.0f;
    o[0] = (pw_object_t){ent[0], PW_TEAM_BALL, bx, 25.0f, moving && i < 60 ? 10.0f : 0.0f, NAN,
                         NAN};
    for (int k = 0; k < 22; k++) {
        float px = (k < 11 ? 49.0f : 52.0f) + (moving ? (float)(k % 5) * 0.3f * t : 0.0f);
        o[1 + k] = (pw_object_t){ent[1 + k], k < 11 ? PW_TEAM_HOME : PW_TEAM_AWAY, px,
                                 (float)(15 + k), moving ? 3.0f : 0.0f, 90, 90};
    }
    pl_batch_clear(b);
    return pw_frames_push(&b->frames, ts, play + 1, NULL, o, 23);
}

int bench_model_events(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    char path[512];
    snprintf(path, sizeof path, "%.400s/bench-events.json", o->dir);
    md_events_model_t m;
    memset(&m, 0, sizeof m);
    for (int t = 0; t < MD_EVENTS_NT; t++) {
        for (int k = 0; k < MD_EVENTS_NF; k++) {
            m.std[t][k] = 1.0;
            m.w[t][k] = 0.01 * (k + 1);
        }
        m.bias[t] = -8;
        m.threshold[t] = 0.5;
    }
    m.bias[MD_EV_SNAP] = -6;
    m.w[MD_EV_SNAP][1] = 3;
    int rc = md_events_model_save(&m, path, err);
    if (rc)
        return rc;
    pw_intern_t *ents = NULL, *labs = NULL, *chans = NULL;
    pl_events_conf_t conf;
    memset(&conf, 0, sizeof conf);
    pl_op_t op;
    memset(&op, 0, sizeof op);
    pl_batch_t in;
    pl_batch_init(&in, PL_FRAMES);
    pl_batch_init(&op.out[0], PL_RESULTS);
    bool inited = false;
    if (pw_intern_create(1024, &ents) || pw_intern_create(64, &labs) ||
        pw_intern_create(16, &chans)) {
        rc = pw_err_set(err, -ENOMEM, "events bench: out of memory");
        goto out;
    }
    uint32_t ent[23];
    for (int k = 0; k < 23; k++) {
        char name[32];
        int n = k ? snprintf(name, sizeof name, "nfl/%d", 1000 + k)
                  : snprintf(name, sizeof name, "ball");
        if ((rc = pw_intern_add(ents, name, (size_t)n, &ent[k]))) {
            pw_err_set(err, rc, "events bench: intern: %s", pw_strerror(rc));
            goto out;
        }
    }
    pl_names_t names = {.channels = chans, .entities = ents, .labels = labs};
    if ((rc = pw_conf_defaults(&pl_events_conf_section, &conf, err)))
        goto out;
    char set[600];
    snprintf(set, sizeof set, "model=%.520s", path);
    if ((rc = pw_conf_set(&pl_events_conf_section, &conf, set, err)))
        goto out;
    pl_port_type_t pin = {PL_FRAMES, false};
    pl_setup_t su = {.name = "events", .names = &names, .in = &pin, .nin = 1};
    op.def = &pl_events_def;
    if ((rc = pl_events_def.init(&op, &conf, &su, err)))
        goto out;
    inited = true;
    pl_ctx_t ctx = {.names = &names, .watermark_ns = PL_WATERMARK_MIN};
    int64_t stop = 0, busy = 0;
    uint64_t frames = 0, results = 0;
    const uint64_t warm = 2 * FRAMES_PER_PLAY;
    for (uint64_t f = 0;; f++) {
        uint64_t play = f / FRAMES_PER_PLAY;
        if ((rc = make_frame(&in, ent, play, (int)(f % FRAMES_PER_PLAY)))) {
            pw_err_set(err, rc, "events bench: out of memory");
            goto out;
        }
        if (f == warm)
            stop = pw_mono_ns() + (int64_t)(o->seconds * PW_NS_PER_S);
        int64_t t0 = pw_mono_ns();
        rc = pl_events_def.process(&op, 0, &in, &ctx);
        ctx.watermark_ns = in.frames.ts_ns[0] - FRAME_NS;
        if (rc == 0)
            rc = pl_events_def.advance(&op, &ctx);
        int64_t t1 = pw_mono_ns();
        if (rc) {
            pw_err_set(err, rc, "events bench: %s", pw_strerror(rc));
            goto out;
        }
        results += op.out[0].res.rec.n;
        pl_batch_clear(&op.out[0]);
        if (f < warm)
            continue;
        busy += t1 - t0;
        frames++;
        pw_hist_record(&r->lat, (uint64_t)(t1 - t0));
        if (t1 >= stop)
            break;
    }
    if (results == 0) {
        rc = pw_err_set(err, PW_ECORRUPT, "events bench: no event detected");
        goto out;
    }
    r->points_per_s = (double)frames * 23.0 / ((double)busy / PW_NS_PER_S);
    snprintf(r->unit, sizeof r->unit, "frame of 23 objects");
    snprintf(r->note, sizeof r->note,
             "events operator, one 10 Hz frame per batch, plays of %d frames; %.2f events "
             "per play; budget 20 us",
             FRAMES_PER_PLAY, (double)results / (double)(frames / FRAMES_PER_PLAY + 2));
    rc = 0;
out:
    if (inited)
        pl_events_def.close(&op);
    pl_batch_fini(&in);
    pl_batch_fini(&op.out[0]);
    pw_conf_fini(&pl_events_conf_section, &conf);
    pw_intern_destroy(ents);
    pw_intern_destroy(labs);
    pw_intern_destroy(chans);
    remove(path);
    return rc;
}
