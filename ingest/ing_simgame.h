/*
 * ing_simgame: a deterministic football game simulator, so pressure and
 * event classification can be shown live without recorded data.
 *
 * Plays at 10 Hz in Next Gen Stats coordinates (yards; x 0..120 along the
 * field, y 0..53.3 across; directions in degrees clockwise from +y). The
 * offense (home) lines up, the ball is snapped, the quarterback drops
 * back; four rushers go at him through five blockers, each rusher winning
 * his block at his own rate; receivers run routes. A pass play ends in a
 * sack when a rusher reaches the quarterback before the throw, else in a
 * pass (caught or incomplete) and a tackle; a run play in a handoff and a
 * tackle. Frames carry the NGS event labels (ball_snap, pass_forward,
 * pass_arrived, pass_outcome_caught, pass_outcome_incomplete, handoff,
 * first_contact, tackle, qb_sack). Between plays the players walk back to
 * the next line of scrimmage.
 *
 * Same options, same frames, whatever the batch sizes asked. Not
 * thread-safe: one simulator per thread.
 */
#ifndef ING_SIMGAME_H
#define ING_SIMGAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"

/* Players a side, and objects a frame (both sides and the ball). */
#define ING_SIMGAME_PLAYERS 11
#define ING_SIMGAME_OBJECTS (2 * ING_SIMGAME_PLAYERS + 1)
/* Frame period: 10 Hz, as NGS. */
#define ING_SIMGAME_PERIOD_NS 100000000LL

typedef struct ing_simgame_opts {
    uint64_t seed;
    int64_t start_ns;   /* event time of the first frame */
    uint64_t session;   /* the game id frames carry */
    double pass_rate;   /* share of pass plays, 0..1; default 0.65 */
} ing_simgame_opts_t;

typedef struct ing_simgame ing_simgame_t;

/* Running totals, for tests and the operator's curiosity. */
typedef struct ing_simgame_stats {
    uint64_t plays, passes, runs, sacks, completions;
} ing_simgame_stats_t;

/*
 * Create a game; names its players ("sim/home/qb", "sim/away/de1", ...,
 * "ball") in entities and its events in labels (both borrowed; they must
 * outlive the game). Returns 0, PW_EARG, PW_ECAPACITY or -ENOMEM.
 */
int ing_simgame_create(const ing_simgame_opts_t *opts, pw_intern_t *entities,
                       pw_intern_t *labels, ing_simgame_t **out, pw_err_t *err);

/*
 * Append every frame whose event time is before until_ns, at most
 * max_frames, to out. Returns the number appended or -ENOMEM.
 */
long ing_simgame_next(ing_simgame_t *g, int64_t until_ns, size_t max_frames,
                      pw_frames_t *out);

/* Event time of the next frame. */
int64_t ing_simgame_next_ts(const ing_simgame_t *g);

void ing_simgame_stats(const ing_simgame_t *g, ing_simgame_stats_t *st);

void ing_simgame_destroy(ing_simgame_t *g);

#endif
