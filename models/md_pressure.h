/*
 * md_pressure: the pass-rush pressure model (football tracking).
 *
 * From the snap until the quarterback's drop-back ends (pass, sack,
 * handoff, scramble), every frame: for each defender, the probability that
 * he reaches the quarterback (within MD_PRESSURE_REACH_YD) within the next
 * MD_PRESSURE_HORIZON_S; the play's pressure probability (1 - prod(1 - p));
 * a predicted time to pressure per defender; and one alert per rush when
 * the play's probability stays above a threshold for confirm frames.
 *
 * The features come from tracking only (docs/models-pressure.md lists
 * them): distance, closing speed and angle to the QB, blockers in the path,
 * time since the snap, QB movement, defender penetration. The quarterback
 * is found at the snap from tracking alone: the offense is the team of the
 * player nearest the ball (the centre), the QB the offensive player nearest
 * the ball among those behind it and in line with it.
 *
 * The same code runs in `pitwall train`/`eval` (md_pressure_def) and in the
 * live operator (pipeline/pl_pressure.c): md_pressure_step() is the whole
 * per-frame path. Coefficients are a logistic regression fitted by
 * iteratively reweighted least squares (gsl_multifit_wlinear) with a small
 * L2 penalty on standardised features; the alert threshold and confirm
 * frames are chosen by 5-fold cross-validation over training games
 * (docs/models-pressure.md).
 *
 * Data split: models/md_split.h (shared with the events model): train
 * fits the training plays, eval scores the files the model was not fitted
 * on.
 *
 * Threads: md_pressure_step touches only its play state and output; a
 * loaded model is read-only and may be shared.
 */
#ifndef MD_PRESSURE_H
#define MD_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "models/md_model.h"

/* Distance that counts as reaching the QB, yards. */
#define MD_PRESSURE_REACH_YD 1.5
/* Horizon of the per-defender probability, seconds. */
#define MD_PRESSURE_HORIZON_S 1.5
/* Features per defender (standardised before the dot product). */
#define MD_PRESSURE_NF 15
/* Most defenders scored per frame (the rest are ignored and flagged). */
#define MD_PRESSURE_MAXDEF 16
/* Most offensive players considered as blockers per frame. */
#define MD_PRESSURE_MAXOFF 16
/* Longest rush window before it is closed without an end event, ns. */
#define MD_PRESSURE_MAX_RUSH_NS INT64_C(10000000000)
/* Model version string size ("pressure-1a2b3c4d"). */
#define MD_PRESSURE_VERSION_MAX 32

extern const md_model_def_t md_pressure_def;

/* Names of the features, in coefficient order. */
extern const char *const md_pressure_feature_names[MD_PRESSURE_NF];

/* Label ids the model reacts to (0 = not in the table: never matches). */
typedef struct md_pressure_labels {
    uint32_t snap, pass, sack, strip_sack, handoff, run, lateral, pass_lateral;
} md_pressure_labels_t;

/*
 * Resolve the label ids in labels; with add, intern the names that are
 * missing (init time only). Returns 0 or an intern error.
 */
int md_pressure_labels_resolve(pw_intern_t *labels, bool add, md_pressure_labels_t *out);

/* A loaded model: read-only once loaded. */
typedef struct md_pressure_model {
    double mean[MD_PRESSURE_NF], std[MD_PRESSURE_NF];
    double w[MD_PRESSURE_NF];  /* on standardised features */
    double bias;
    double threshold;          /* recommended alert threshold on the play prob */
    int confirm;               /* frames above the threshold before an alert */
    char version[MD_PRESSURE_VERSION_MAX];
} md_pressure_model_t;

/*
 * Load the model file at path (conf/models/pressure.json). Returns an
 * owned model (md_pressure_model_free) or NULL with err ("path: what").
 * Matches md_coef_load_fn.
 */
void *md_pressure_model_load(const char *path, pw_err_t *err);
void md_pressure_model_free(void *model);

/*
 * Set m->version from its numbers and write m alone (no training or fit
 * sections) to path, as train does. For tests and benchmarks. 0 or an
 * error in err.
 */
int md_pressure_model_save(md_pressure_model_t *m, const char *path, pw_err_t *err);

/* Why a rush window ended. */
enum md_pressure_end {
    MD_PRESSURE_END_NONE = 0,
    MD_PRESSURE_END_PASS,     /* pass_forward, lateral */
    MD_PRESSURE_END_SACK,     /* qb_sack, qb_strip_sack */
    MD_PRESSURE_END_HANDOFF,  /* handoff, run: the ball left the QB within 1 s */
    MD_PRESSURE_END_SCRAMBLE, /* the QB crossed the line of scrimmage */
    MD_PRESSURE_END_TIMEOUT,  /* MD_PRESSURE_MAX_RUSH_NS without an end */
    MD_PRESSURE_END_NOQB,     /* no QB could be found at the snap */
};

enum md_pressure_phase { MD_PRESSURE_WAIT = 0, MD_PRESSURE_RUSH, MD_PRESSURE_DONE };

/* Top defenders kept as the last good output. */
#define MD_PRESSURE_TOP 3

/*
 * One session's rush state (caller's memory; md_pressure_play_init). A
 * session may hold any number of plays (a live game feed): a snap starts
 * a new rush with fresh state (md_pressure_step), keeping the session,
 * the last frame's time and the count of snaps.
 */
typedef struct md_pressure_play {
    uint64_t session;
    uint32_t play;            /* snaps seen in the session: the rush's number, 1, 2, ... */
    int phase;                /* enum md_pressure_phase */
    int end;                  /* enum md_pressure_end */
    int64_t snap_ns, end_ns, last_ns;
    uint32_t qb;              /* QB entity */
    uint8_t offense, defense; /* pw_team codes */
    float dirx;               /* +1 or -1: the offense attacks toward dirx */
    float los_x;              /* ball x at the snap */
    int above;                /* consecutive frames above the threshold */
    int64_t handoff_ns;       /* a handoff label not yet confirmed; 0 = none */
    bool alerted;
    int64_t alert_ns;
    uint32_t alert_entity;
    double alert_prob, alert_eta_s;
    /* Last good output, held on degraded frames. */
    double last_prob;
    int last_n;
    uint32_t last_ent[MD_PRESSURE_TOP];
    double last_p[MD_PRESSURE_TOP], last_eta[MD_PRESSURE_TOP];
} md_pressure_play_t;

/* One frame's output. */
typedef struct md_pressure_out {
    bool emit;        /* the frame is in a rush window (snap..end inclusive) */
    bool degraded;    /* QB or players missing or NaN this frame */
    bool held;        /* probabilities are the last good ones (QB missing) */
    bool alert;       /* the alert fired on this frame */
    bool ended;       /* the window ended on this frame (play->end says why) */
    int n;            /* defenders scored */
    uint32_t ent[MD_PRESSURE_MAXDEF];
    double feat[MD_PRESSURE_MAXDEF][MD_PRESSURE_NF];
    double prob[MD_PRESSURE_MAXDEF];  /* 0 without a model */
    double eta_s[MD_PRESSURE_MAXDEF]; /* kinematic time to reach, s */
    double play_prob;
    float qb_x, qb_y;
} md_pressure_out_t;

void md_pressure_play_init(md_pressure_play_t *p, uint64_t session);

/*
 * Whether a play state read back from a checkpoint is consistent (phase,
 * end, counts and probabilities in range, finite numbers). 0 or
 * PW_ECORRUPT. Thread-safe.
 */
int md_pressure_play_check(const md_pressure_play_t *p);

/*
 * Run frame i of f through play p: find the QB at the snap, compute the
 * features of every defender while the rush lasts, score them with m (NULL
 * = features only), fire the alert once when the play's probability has
 * been >= threshold for m->confirm frames, and close the window on an end
 * event. A snap label on a frame after the rush's snap (the rush ended, or
 * not) starts the next rush of the session with fresh state and p->play
 * one higher, so the alert can fire once per rush. Allocates nothing.
 * Frames older than the play's last are ignored (out->emit false).
 */
void md_pressure_step(md_pressure_play_t *p, const md_pressure_model_t *m, double threshold,
                      const md_pressure_labels_t *L, const pw_frames_t *f, size_t i,
                      md_pressure_out_t *out);

/* The probability of one standardised feature row (raw features in). */
double md_pressure_predict(const md_pressure_model_t *m, const double *feat);

#endif
