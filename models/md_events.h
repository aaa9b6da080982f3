/*
 * md_events: football event classification from tracking frames.
 *
 * Every frame, the model decides whether one of nine play events happens
 * on it: ball_snap, pass_forward, pass_arrived, handoff, first_contact,
 * tackle, qb_sack (qb_sack and qb_strip_sack labels), out_of_bounds and
 * touchdown (touchdown and pass_outcome_touchdown labels). Each event is
 * emitted once per play, with its time, the players nearest the ball, a
 * confidence and an importance score.
 *
 * Method (docs/models-events.md): a summary of each frame (ball speed and
 * position, distances from the ball to the nearest players and defenders,
 * defenders within 1.5 and 3 yd, the ball carrier's speed, the players'
 * mean speed, margins to the sideline, the goal line and the end lines)
 * is kept in a small ring; the features of
 * frame c use frames c-2..c+2 (MD_EVENTS_LOOKAHEAD frames of look-ahead,
 * counted in frames, so the result is deterministic). One logistic
 * regression per event type (one-vs-rest, fitted with GSL by IRLS) scores
 * the frame, but only while the type's gate is open: a play's state
 * machine says what may happen next (no pass before the snap, no arrival
 * before a pass, one of each per play, and one end of a play: a tackle,
 * out of bounds or sack). Peak picking: when the
 * probability reaches the type's threshold, the best frame of the next
 * MD_EVENTS_PEAK_FRAMES frames is emitted, once.
 *
 * The same code runs in `pitwall train`/`eval` (md_events_def) and in the
 * live operator (pipeline/pl_events.c): md_events_push() is the whole
 * per-frame path. Training uses the frames' labels for the state machine
 * (teacher forcing); eval and the operator use the detected events.
 *
 * Data split: models/md_split.h (shared with the pressure model): train
 * fits the training plays, eval scores the files the model was not fitted
 * on.
 *
 * Threads: md_events_push touches only its play state and output; a
 * loaded model is read-only and may be shared.
 */
#ifndef MD_EVENTS_H
#define MD_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "models/md_model.h"

/* Event types, in model file order. */
enum md_events_type {
    MD_EV_SNAP = 0,
    MD_EV_PASS,      /* pass_forward */
    MD_EV_ARRIVED,   /* pass_arrived */
    MD_EV_HANDOFF,
    MD_EV_CONTACT,   /* first_contact */
    MD_EV_TACKLE,
    MD_EV_SACK,      /* qb_sack, qb_strip_sack */
    MD_EV_OOB,       /* out_of_bounds */
    MD_EV_TD,        /* touchdown, pass_outcome_touchdown */
    MD_EVENTS_NT
};

/* Features per frame (the same for every type). */
#define MD_EVENTS_NF 36
/* Frames of look-ahead in the features (100 ms each at 10 Hz). */
#define MD_EVENTS_LOOKAHEAD 2
/* Frames after a threshold crossing in which the peak is looked for. */
#define MD_EVENTS_PEAK_FRAMES 3
/* Frame summaries kept per play (a power of two). */
#define MD_EVENTS_RING 16
/* Players named with an event. */
#define MD_EVENTS_PLAYERS 2
/* Most events one push or flush can emit. */
#define MD_EVENTS_MAXOUT (2 * MD_EVENTS_NT)
/* Model version string size ("events-1a2b3c4d"). */
#define MD_EVENTS_VERSION_MAX 32
/* Tolerance of a match in eval, ns. */
#define MD_EVENTS_TOL_NS INT64_C(300000000)
/*
 * Plays in a row (live only; docs/models-events.md "Many plays in one
 * session"). The ball is at rest below MD_EVENTS_REST_YPS (yd/s). A play
 * has ended once the ball has rested MD_EVENTS_END_REST_NS after a
 * detected end (tackle, out_of_bounds, touchdown, qb_sack), or
 * MD_EVENTS_DEAD_NS after the snap whatever was detected (an incomplete
 * pass: the ball on the ground or in an official's hands; a missed end;
 * long enough that a quarterback holding the ball never ends a play).
 * The next snap is looked for only while the teams are lined up for it
 * (the ball between the hash marks, y in MD_EVENTS_HASH_Y_MIN..MAX yd, and
 * no player more than MD_EVENTS_ONSIDE_YD on the wrong side of it), or
 * within MD_EVENTS_LINED_GRACE_NS after the last frame that was.
 */
#define MD_EVENTS_REST_YPS 0.5
#define MD_EVENTS_END_REST_NS INT64_C(1000000000)
#define MD_EVENTS_DEAD_NS INT64_C(6000000000)
#define MD_EVENTS_LINED_GRACE_NS INT64_C(500000000)
#define MD_EVENTS_ONSIDE_YD 0.5f
#define MD_EVENTS_HASH_Y_MIN 22.5f
#define MD_EVENTS_HASH_Y_MAX 30.8f
/*
 * A kick formation at the snap (a punt): a player of the snapping team at
 * least MD_EVENTS_KICK_BACK_YD behind the ball (the punter, 13.5-14.6 yd
 * in the NGS punts; passers at most 9 yd but for two trick plays) and an
 * opponent at least MD_EVENTS_KICK_DEEP_YD beyond it (the returner, 43+
 * yd; a Hail Mary's deep safety stands as deep, but its passer is not 12
 * yd back). The kick is not a forward pass. Checked on the NGS plays,
 * not fitted.
 */
#define MD_EVENTS_KICK_BACK_YD 12.0f
/*
 * A tackle shows as the carrier losing half his speed within a few frames,
 * whatever that speed was. carrier_top is a decaying top of the speed of
 * whoever is nearest the ball (not tied to one player: a receiver inherits
 * it at the catch): each frame it is the larger of that speed and the last
 * frame's top less this many yd/s (1.5 yd/s per second at 10 Hz), so a
 * run's pace is kept while a sudden stop stands out against it.
 */
#define MD_EVENTS_TOP_DECAY_PER_FRAME 0.15f
/* Past the attacked goal line by this much, the carrier has scored: no tackle. */
#define MD_EVENTS_SCORED_YD 0.5f
/*
 * Sacks are scored from the quarterback, not fitted coefficients (the NGS
 * plays hold 7 sacks, too few to fit a classifier): the QB is found at the
 * snap as in the pressure model (models/md_qb.h); a sack may happen while
 * he is MD_EVENTS_SACK_DEPTH_YD or more behind the line with the ball
 * within MD_EVENTS_SACK_BALL_YD of him,
 * before a pass and within MD_EVENTS_SACK_MAX_NS of the snap. Its score is
 * 1 - (QB to the nearest defender) / MD_EVENTS_SACK_REACH_YD, in [0, 1];
 * training fits its threshold (so the distance) and time offset.
 */
#define MD_EVENTS_SACK_DEPTH_YD 1.0f
#define MD_EVENTS_SACK_BALL_YD 2.0f
#define MD_EVENTS_SACK_MAX_NS INT64_C(8000000000)
#define MD_EVENTS_SACK_REACH_YD 2.0f
#define MD_EVENTS_KICK_DEEP_YD 35.0f

extern const md_model_def_t md_events_def;

/* Names of the types ("ball_snap") and of the features, in order. */
extern const char *const md_events_type_names[MD_EVENTS_NT];
extern const char *const md_events_feature_names[MD_EVENTS_NF];

/* A loaded model: read-only once loaded. */
typedef struct md_events_model {
    double mean[MD_EVENTS_NT][MD_EVENTS_NF], std[MD_EVENTS_NT][MD_EVENTS_NF];
    double w[MD_EVENTS_NT][MD_EVENTS_NF]; /* on standardised features */
    double bias[MD_EVENTS_NT];
    double threshold[MD_EVENTS_NT];       /* probability that starts a peak */
    int64_t offset_ns[MD_EVENTS_NT];      /* added to the peak's time (fitted bias) */
    char version[MD_EVENTS_VERSION_MAX];
} md_events_model_t;

/*
 * Load the model file at path (conf/models/events.json). Returns an owned
 * model (md_events_model_free) or NULL with err ("path: what"). Matches
 * md_coef_load_fn.
 */
void *md_events_model_load(const char *path, pw_err_t *err);
void md_events_model_free(void *model);

/* Set m->version from its numbers and write m alone to path (tests, bench). */
int md_events_model_save(md_events_model_t *m, const char *path, pw_err_t *err);

/*
 * Label ids of the types in a label table (0 = absent); for training and
 * eval. NGS names some events two ways: a strip sack is qb_strip_sack, and
 * a touchdown caught in the end zone is pass_outcome_touchdown (those 29
 * plays carry no touchdown label), so a type may have a second name.
 */
typedef struct md_events_labels {
    uint32_t id[MD_EVENTS_NT];
    uint32_t alias[MD_EVENTS_NT];   /* the type's second label name; 0 = none */
} md_events_labels_t;

/* Resolve (with add: intern) the label ids. 0 or an intern error. */
int md_events_labels_resolve(pw_intern_t *labels, bool add, md_events_labels_t *out);

/* What the model keeps of one frame. */
typedef struct md_events_frame {
    int64_t ts_ns;
    float bx, by, bs;       /* ball position (yd) and speed (yd/s), held when missing */
    float d1, d2;           /* nearest and second nearest player to the ball, yd */
    float dd;               /* nearest defender to the ball, yd */
    float carrier_speed;    /* speed of the nearest player, yd/s */
    float carrier_top;      /* decaying top of carrier_speed, yd/s: max(it, the last
                               frame's top - MD_EVENTS_TOP_DECAY_PER_FRAME) */
    float mean_speed;       /* mean speed of the players, yd/s */
    float ndef;             /* defenders within 1.5 yd of the ball */
    float ndef3;            /* defenders within 3 yd of the ball */
    float team_dx;          /* the other team's mean x minus the nearest player's team's
                               (at the snap: the attack direction's sign) */
    uint8_t near_team;      /* team of the nearest player */
    bool degraded;          /* ball missing/NaN or fewer than 2 valid players */
    bool lined_up;          /* the teams are on either side of the ball (a snap formation) */
    bool kick_formation;    /* a punter and a returner deep (MD_EVENTS_KICK_*) */
    uint32_t qb_cand;       /* before the snap: who would be the QB (0 = nobody) */
    float qb_dd;            /* after the snap: the QB to the nearest defender, yd (99: no QB) */
    float qb_depth;         /* the QB behind the line of scrimmage, yd */
    float qb_ball;          /* the QB to the ball, yd */
    uint32_t near[MD_EVENTS_PLAYERS];
    uint32_t label[PW_FRAME_LABELS];
} md_events_frame_t;

/* One detected event. */
typedef struct md_events_event {
    int type;               /* enum md_events_type */
    uint32_t play;          /* the session's play: snaps detected so far, 1, 2, ... */
    int64_t ts_ns;
    double confidence;      /* the peak probability */
    double importance;      /* 0..1: sack, touchdown, long gain, turnover high */
    double gain_yd;         /* ball position past the line of scrimmage, yd */
    int nplayers;
    uint32_t players[MD_EVENTS_PLAYERS]; /* entities nearest the ball */
    bool degraded;          /* a frame around it was degraded */
} md_events_event_t;

/* A peak being confirmed. */
typedef struct md_events_peak {
    bool active;
    int left;               /* frames still to look at */
    double p;
    md_events_frame_t at;
    bool degraded;
} md_events_peak_t;

/*
 * One session's state (caller's memory; md_events_play_init). The frame
 * ring, the held ball, the ball's rest and the play count belong to the
 * session; the state machine and the peaks to its current play, and are
 * reset when the play has ended (live only, see MD_EVENTS_REST_YPS).
 */
typedef struct md_events_play {
    uint64_t session;
    uint64_t n;             /* frames pushed */
    uint64_t c;             /* next frame to score */
    int64_t last_ns;
    md_events_frame_t ring[MD_EVENTS_RING];
    /* State machine. */
    bool done[MD_EVENTS_NT];
    int64_t at_ns[MD_EVENTS_NT];
    uint8_t offense;        /* team of the ball carrier at the snap */
    float los_x;            /* ball x at the snap */
    float dirx;             /* +1 or -1: the offense attacks toward dirx */
    bool kick;              /* snapped from a kick formation: no forward pass */
    uint32_t qb;            /* the quarterback found at the snap; 0 = none */
    md_events_peak_t peak[MD_EVENTS_NT];
    /* Last good ball, held when the ball is missing. */
    bool have_ball;
    float bx, by, bs;
    /* Plays in a row. */
    uint32_t play;          /* snaps detected in the session */
    bool next;              /* the last play ended: waiting for the next snap */
    int64_t rest_ns;        /* scored frame the ball's current rest began; INT64_MIN moving */
    int64_t lined_ns;       /* last scored frame the teams were lined up; INT64_MIN never */
} md_events_play_t;

void md_events_play_init(md_events_play_t *p, uint64_t session);

/*
 * Recompute the ring's carrier_top values from its oldest frame, for a
 * play restored from a checkpoint that did not keep them (the top before
 * the ring's oldest frame is lost).
 */
void md_events_play_rebuild_tops(md_events_play_t *p);

/*
 * Push frame i of f into play p and score the frames that now have their
 * look-ahead, with model m. Detected events are written to out (room for
 * MD_EVENTS_MAXOUT) and counted in the return value. L non-NULL: training
 * (the state machine follows the labels; one play per session); NULL: live
 * (it follows the detections, and a session may hold many plays: once a
 * play has ended, its open peaks are emitted and the next snap starts a
 * fresh play). Frames older than the play's last are ignored. Allocates
 * nothing. feat (may be NULL) receives, per scored frame, its features
 * and gates through the callback (training).
 */
typedef void (*md_events_row_fn)(void *ctx, const md_events_play_t *p,
                                 const md_events_frame_t *fr, const double *feat,
                                 const bool *gate);
int md_events_push(md_events_play_t *p, const md_events_model_t *m,
                   const md_events_labels_t *L, const pw_frames_t *f, size_t i,
                   md_events_event_t *out, md_events_row_fn row, void *row_ctx);

/*
 * The play has ended: score the frames still waiting for look-ahead (the
 * last frame stands in for the missing ones) and close open peaks.
 * Returns the events written to out (room for MD_EVENTS_MAXOUT).
 */
int md_events_flush(md_events_play_t *p, const md_events_model_t *m,
                    const md_events_labels_t *L, md_events_event_t *out,
                    md_events_row_fn row, void *row_ctx);

/* Probability of type t for raw features. */
double md_events_predict(const md_events_model_t *m, int t, const double *feat);

#endif
