/*
 * model_pressure: the cost of the pressure operator per 10 Hz tracking
 * frame of 23 objects (22 players and the ball), the live path end to end:
 * find the play, features for 11 defenders against 10 blockers, score,
 * alert, build and append the msgpack result.
 *
 * Simulated drop-backs (the same shape every 40 frames: snap at frame 2,
 * an edge rusher closing on the QB, the pass at frame 35, so most frames
 * are inside the rush window and emit). The model file is written to the
 * scratch directory with fixed coefficients (the cost does not depend on
 * their values). One latency sample is one frame through process, and the
 * output batch is cleared every 64 frames outside the timed region.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/pw_conf.h"
#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "models/md_pressure.h"
#include "pipeline/pl_batch.h"
#include "pipeline/pl_op.h"
#include "pipeline/pl_pressure.h"

#define PLAY_FRAMES 40
#define FRAME_NS INT64_C(100000000)

/* Frame i of a simulated play into b (cleared first). 0 or -ENOMEM. */
static int gen_frame(pl_batch_t *b, uint64_t session, int i, const uint32_t *ent,
                     uint32_t snap, uint32_t pass)
{
    pl_batch_clear(b);
    pw_object_t o[23];
    int n = 0;
    o[n++] = (pw_object_t){ent[0], PW_TEAM_BALL, 50, 25, 0, NAN, NAN};
    o[n++] = (pw_object_t){ent[1], PW_TEAM_HOME, 49.5f, 25, 0, 90, 90};
    o[n++] = (pw_object_t){ent[2], PW_TEAM_HOME, 45.0f - 0.1f * (float)i, 25, 1, 270, 270};
    for (int k = 0; k < 9; k++)
        o[n++] = (pw_object_t){ent[3 + k], PW_TEAM_HOME, 48.5f - 0.05f * (float)i,
                               (float)(20 + k + (k >= 4)), 0.5f, 270, 270};
    for (int k = 0; k < 11; k++) {
        float t = (float)i * 0.1f;
        float x = 51 - (k == 10 ? 2.5f * t : 0.5f * t), y = (float)(19 + k);
        o[n++] = (pw_object_t){ent[12 + k], PW_TEAM_AWAY, x, y, k == 10 ? 2.5f : 0.5f, 250,
                               250};
    }
    uint32_t lab[PW_FRAME_LABELS] = {i == 2 ? snap : i == 35 ? pass : 0, 0};
    int64_t ts = INT64_C(1700000000) * PW_NS_PER_S + (int64_t)session * 10 * PW_NS_PER_S +
                 i * FRAME_NS;
    return pw_frames_push(&b->frames, ts, session, lab, o, (uint16_t)n) ? -ENOMEM : 0;
}

int bench_model_pressure(const bench_opts_t *o, bench_result_t *r, pw_err_t *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%.1000s/pressure-bench.json", o->dir);
    md_pressure_model_t m = {0};
    for (int k = 0; k < MD_PRESSURE_NF; k++) {
        m.std[k] = 1.0;
        m.w[k] = 0.1 * (k + 1);
    }
    m.w[1] = 12;
    m.bias = -6;
    m.threshold = 0.6;
    m.confirm = 2;
    int rc = md_pressure_model_save(&m, path, err);
    if (rc)
        return rc;
    pw_intern_t *ents = NULL, *labs = NULL, *chans = NULL;
    pl_batch_t in;
    pl_batch_init(&in, PL_FRAMES);
    pl_op_t op = {.def = &pl_pressure_def};
    pl_batch_init(&op.out[0], PL_RESULTS);
    pl_pressure_conf_t conf;
    bool conf_ok = false, op_ok = false;
    if (pw_intern_create(256, &ents) || pw_intern_create(64, &labs) ||
        pw_intern_create(8, &chans)) {
        rc = pw_err_set(err, -ENOMEM, "model_pressure: out of memory");
        goto done;
    }
    uint32_t ent[23], snap, pass;
    for (int k = 0; k < 23; k++) {
        char name[32];
        int len = k ? snprintf(name, sizeof name, "nfl/%d", 1000 + k)
                    : snprintf(name, sizeof name, "ball");
        if ((rc = pw_intern_add(ents, name, (size_t)len, &ent[k])) != 0)
            goto done;
    }
    if ((rc = pw_intern_add(labs, "ball_snap", 9, &snap)) != 0 ||
        (rc = pw_intern_add(labs, "pass_forward", 12, &pass)) != 0) {
        pw_err_set(err, rc, "model_pressure: labels: %s", pw_strerror(rc));
        goto done;
    }
    pl_names_t names = {.channels = chans, .entities = ents, .labels = labs};
    if ((rc = pw_conf_defaults(&pl_pressure_conf_section, &conf, err)) != 0)
        goto done;
    conf_ok = true;
    char set[1100];
    snprintf(set, sizeof set, "model=%.1050s", path);
    if ((rc = pw_conf_set(&pl_pressure_conf_section, &conf, set, err)) != 0)
        goto done;
    pl_port_type_t pin = {PL_FRAMES, false};
    pl_setup_t su = {.name = "pressure", .names = &names, .in = &pin, .nin = 1};
    if ((rc = pl_pressure_def.init(&op, &conf, &su, err)) != 0)
        goto done;
    op_ok = true;
    pl_ctx_t ctx = {.names = &names};
    int64_t deadline = pw_mono_ns() + (int64_t)(o->seconds * 1e9);
    uint64_t frames = 0, emitted = 0;
    int64_t busy = 0;
    for (uint64_t play = 1; pw_mono_ns() < deadline || frames < 1000; play++) {
        for (int i = 0; i < PLAY_FRAMES; i++) {
            if ((rc = gen_frame(&in, play, i, ent, snap, pass)) != 0) {
                pw_err_set(err, rc, "model_pressure: out of memory");
                goto done;
            }
            int64_t t0 = pw_mono_ns();
            rc = pl_pressure_def.process(&op, 0, &in, &ctx);
            int64_t dt = pw_mono_ns() - t0;
            if (rc) {
                pw_err_set(err, rc, "model_pressure: process: %s", pw_strerror(rc));
                goto done;
            }
            pw_hist_record(&r->lat, (uint64_t)dt);
            busy += dt;
            frames++;
            if (frames % 64 == 0) {
                emitted += op.out[0].res.rec.n;
                pl_batch_clear(&op.out[0]);
            }
        }
    }
    emitted += op.out[0].res.rec.n;
    r->points_per_s = busy > 0 ? (double)frames * 23 / ((double)busy / 1e9) : 0;
    snprintf(r->unit, sizeof r->unit, "frame of 23 objects");
    snprintf(r->note, sizeof r->note, "%llu frames, %llu results; points/s = objects/s",
             (unsigned long long)frames, (unsigned long long)emitted);
    rc = 0;
done:
    if (op_ok)
        pl_pressure_def.close(&op);
    if (conf_ok)
        pw_conf_fini(&pl_pressure_conf_section, &conf);
    pl_batch_fini(&op.out[0]);
    pl_batch_fini(&in);
    pw_intern_destroy(ents);
    pw_intern_destroy(labs);
    pw_intern_destroy(chans);
    unlink(path);
    return rc;
}
