/*
 * md_hockey: hockey event classification (zone entries and shots) from
 * player tracking frames (Big Data Cup 2022, ingest/ing_bdc.c).
 *
 * What the tracking supports (docs/models-hockey.md): players only, at 30
 * fps, from broadcast video (only those in view; track ids swap, speeds
 * glitch). There is no puck. The play-by-play clock is in whole seconds,
 * so a label's frame is known to about +-0.5 s at best, plus the error of
 * placing clock stoppages in the video. Which team attacks which end is
 * not reliably recoverable from the players alone, so the features are
 * symmetric in the two ends and the two teams.
 *
 * Method: each frame's players (at most MD_HOCKEY_MAXP) are kept in a ring
 * per session. Frame c is scored once frames c+1..c+MD_HOCKEY_LOOKAHEAD
 * have arrived (0.5 s at 30 fps):
 *   zone_entry: only on a frame where a player crosses a blue line
 *     (x = 75 or 125 ft) from the neutral zone into an end zone (the gate);
 *     features: crossing speed, the crosser's team in the zone before and
 *     after, opponents there, teammates crossing with her, how deep she
 *     goes, her team's motion toward the zone, recent crossings, players
 *     in view.
 *   shot: on a frame with at least two players in an end zone (the gate);
 *     features of the zone with more players: how many, how near the net,
 *     their speed and its change, their distances to the net and its
 *     change, time the play has been in the zone.
 * One logistic regression per type on its own features (fitted with GSL,
 * IRLS with gsl_multifit_wlinear and an L2 penalty). Peak picking: when
 * the probability reaches the type's threshold, the best frame of the next
 * MD_HOCKEY_PEAK_FRAMES frames is emitted once, and the type then
 * stays quiet for MD_HOCKEY_REFRACTORY_FRAMES (no flapping).
 *
 * The same code runs in `pitwall train`/`eval` (md_hockey_def) and in the
 * live operator (pipeline/pl_hockey.c): md_hockey_push() is the whole
 * per-frame path and allocates nothing.
 *
 * Data split: whole games. A tracking file whose name starts with
 * MD_HOCKEY_VALIDATION_GAME is a validation file; train skips it. Eval
 * scores every tracking file the model was not fitted on (its
 * training.files; models/md_split.h), so a new game is scored whole.
 * PITWALL_SPLIT=all makes both use every file; PITWALL_SPLIT=train makes
 * eval score the training files.
 *
 * Threads: md_hockey_push touches only its game state and output; a loaded
 * model is read-only and may be shared.
 */
#ifndef MD_HOCKEY_H
#define MD_HOCKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "models/md_model.h"

/* Event types, in model file order. */
enum md_hockey_type {
    MD_HK_ZONE_ENTRY = 0, /* play-by-play "Zone Entry" */
    MD_HK_SHOT,           /* play-by-play "Shot" */
    MD_HOCKEY_NT
};

/* Features per type (each type has its own list). */
#define MD_HOCKEY_NF 10
/* Players kept per frame (more are ignored, the frame is flagged degraded). */
#define MD_HOCKEY_MAXP 24
/* Frames per session kept (a power of two, > look-back + look-ahead). */
#define MD_HOCKEY_RING 128
/* Frames of look-ahead (0.5 s at 30 fps). */
#define MD_HOCKEY_LOOKAHEAD 15
/* Frames of look-back the features use (3 s at 30 fps). */
#define MD_HOCKEY_LOOKBACK 90
/* Frames after a threshold crossing in which the peak is looked for. */
#define MD_HOCKEY_PEAK_FRAMES 15
/* Frames after an emitted event in which its type cannot fire again (2 s). */
#define MD_HOCKEY_REFRACTORY_FRAMES 60
/* Players named with an event. */
#define MD_HOCKEY_PLAYERS 2
/* Most events one push or flush can emit. */
#define MD_HOCKEY_MAXOUT (2 * MD_HOCKEY_NT)
/* Model version string size ("hockey-1a2b3c4d"). */
#define MD_HOCKEY_VERSION_MAX 32
/* Tolerance of a match in eval (the issue's), ns. */
#define MD_HOCKEY_TOL_NS INT64_C(300000000)
/* Looser tolerance also reported: the play-by-play clock is in whole seconds. */
#define MD_HOCKEY_TOL_LOOSE_NS INT64_C(1000000000)
/* Rink geometry, ft: blue lines, goal lines (nets) and the rink's centre y. */
#define MD_HOCKEY_BLUE_LO 75.0f
#define MD_HOCKEY_BLUE_HI 125.0f
#define MD_HOCKEY_NET_LO 11.0f
#define MD_HOCKEY_NET_HI 189.0f
#define MD_HOCKEY_MID_Y 42.5f
/* The validation game (whole game kept aside). */
#define MD_HOCKEY_VALIDATION_GAME "2022-02-12 Switzerland at ROC"

extern const md_model_def_t md_hockey_def;

/* Names of the types ("zone_entry", "shot"), their play-by-play labels
 * ("Zone Entry", "Shot") and their features, in order. */
extern const char *const md_hockey_type_names[MD_HOCKEY_NT];
extern const char *const md_hockey_type_labels[MD_HOCKEY_NT];
extern const char *const md_hockey_feature_names[MD_HOCKEY_NT][MD_HOCKEY_NF];

/* A loaded model: read-only once loaded. */
typedef struct md_hockey_model {
    double mean[MD_HOCKEY_NT][MD_HOCKEY_NF], std[MD_HOCKEY_NT][MD_HOCKEY_NF];
    double w[MD_HOCKEY_NT][MD_HOCKEY_NF]; /* on standardised features */
    double bias[MD_HOCKEY_NT];
    double threshold[MD_HOCKEY_NT];       /* probability that starts a peak */
    int64_t offset_ns[MD_HOCKEY_NT];      /* added to the peak's time */
    char version[MD_HOCKEY_VERSION_MAX];
} md_hockey_model_t;

/*
 * Load the model file at path (conf/models/hockey.json). Returns an owned
 * model (md_hockey_model_free) or NULL with err ("path: what"). Matches
 * md_coef_load_fn.
 */
void *md_hockey_model_load(const char *path, pw_err_t *err);
void md_hockey_model_free(void *model);

/* Set m->version from its numbers and write m alone to path (tests). */
int md_hockey_model_save(md_hockey_model_t *m, const char *path, pw_err_t *err);

/* Label ids of the types in a label table (0 = absent). */
typedef struct md_hockey_labels {
    uint32_t id[MD_HOCKEY_NT];
} md_hockey_labels_t;

/* Resolve (with add: intern) the label ids. 0 or an intern error. */
int md_hockey_labels_resolve(pw_intern_t *labels, bool add, md_hockey_labels_t *out);

/* One frame as the model keeps it: its players (NaN positions dropped). */
typedef struct md_hockey_frame {
    int64_t ts_ns;
    uint16_t n;             /* players kept */
    bool degraded;          /* players dropped (NaN, too many) or a gap before it */
    uint32_t label[PW_FRAME_LABELS];
    uint32_t ent[MD_HOCKEY_MAXP];
    uint8_t team[MD_HOCKEY_MAXP];
    float x[MD_HOCKEY_MAXP], y[MD_HOCKEY_MAXP];
} md_hockey_frame_t;

/* One detected event. */
typedef struct md_hockey_event {
    int type;               /* enum md_hockey_type */
    int64_t ts_ns;
    double confidence;      /* the peak probability */
    double importance;      /* 0..1 */
    int nplayers;
    uint32_t players[MD_HOCKEY_PLAYERS];
    bool degraded;          /* a frame around it was degraded */
} md_hockey_event_t;

/* A peak being confirmed. */
typedef struct md_hockey_peak {
    bool active;
    int left;               /* frames still to look at */
    double p;
    md_hockey_event_t ev;   /* the best frame's event (time before the offset) */
} md_hockey_peak_t;

/* One session's state (caller's memory; md_hockey_game_init). */
typedef struct md_hockey_game {
    uint64_t session;
    uint64_t n;             /* frames pushed */
    uint64_t c;             /* next frame to score */
    int64_t last_ns;
    md_hockey_peak_t peak[MD_HOCKEY_NT];
    uint64_t quiet_until[MD_HOCKEY_NT]; /* no new peak before this frame */
    md_hockey_frame_t ring[MD_HOCKEY_RING];
} md_hockey_game_t;

void md_hockey_game_init(md_hockey_game_t *g, uint64_t session);

/*
 * Push frame i of f into game g and score the frames that now have their
 * look-ahead, with model m (NULL: features only). Events go to out (room
 * for MD_HOCKEY_MAXOUT), their count is returned. Frames not newer than
 * the game's last are ignored. Allocates nothing. row (may be NULL)
 * receives each scored frame's features and gates (training).
 */
typedef void (*md_hockey_row_fn)(void *ctx, const md_hockey_game_t *g,
                                 const md_hockey_frame_t *fr,
                                 const double feat[MD_HOCKEY_NT][MD_HOCKEY_NF],
                                 const bool gate[MD_HOCKEY_NT]);
int md_hockey_push(md_hockey_game_t *g, const md_hockey_model_t *m, const pw_frames_t *f,
                   size_t i, md_hockey_event_t *out, md_hockey_row_fn row, void *row_ctx);

/*
 * The session has ended: score the frames still waiting for look-ahead
 * (the last frame stands in for the missing ones) and close open peaks.
 * Returns the events written to out (room for MD_HOCKEY_MAXOUT).
 */
int md_hockey_flush(md_hockey_game_t *g, const md_hockey_model_t *m, md_hockey_event_t *out,
                    md_hockey_row_fn row, void *row_ctx);

/*
 * Features and gates of frame c of g (c < g->n, its look-ahead clamped to
 * the frames pushed). For tests and the row callback.
 */
void md_hockey_features(const md_hockey_game_t *g, uint64_t c,
                        double feat[MD_HOCKEY_NT][MD_HOCKEY_NF], bool gate[MD_HOCKEY_NT]);

/* Probability of type t for raw features. */
double md_hockey_predict(const md_hockey_model_t *m, int t, const double *feat);

/*
 * Check a game state read back from a snapshot: counters, ring and peaks in
 * range. 0 or -1 with *why (a static text).
 */
int md_hockey_game_check(const md_hockey_game_t *g, const char **why);

/* Whether path is a file of the validation game; 0 otherwise. */
int md_hockey_is_validation(const char *path);

#endif
