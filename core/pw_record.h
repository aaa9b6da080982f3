/*
 * pw_record: the three kinds of record Pitwall moves, held in batches.
 *
 * Records travel in batches, never one by one: a batch is a set of columns
 * (structure of arrays) so that decoding, windowing and models touch
 * contiguous memory. A batch owns its columns; it grows only when a
 * reserve asks for more than its capacity, so a batch reused on a hot path
 * allocates nothing once it has reached its working size.
 *
 * - point:  one sensor reading (ts_ns, entity, channel, value); entity and
 *           channel are small integers interned from names (pw_intern).
 * - frame:  a tracking frame (ts_ns, session, up to PW_FRAME_LABELS event
 *           labels) with its objects (entity, team, x, y, speed,
 *           orientation, direction); the ball is an object.
 * - result: what an operator emits (ts_ns, topic, key, version, body);
 *           topic, key and body are borrowed byte ranges, so a decoded
 *           result batch points into the buffer it was decoded from.
 *
 * Not thread-safe: a batch belongs to one thread at a time.
 */
#ifndef PW_RECORD_H
#define PW_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Event labels a frame can carry (two events can fall on one frame). */
#define PW_FRAME_LABELS 2

/* Label id meaning "no event on this frame". */
#define PW_LABEL_NONE 0u

/* Team codes of a tracked object. */
enum pw_team {
    PW_TEAM_HOME = 0,
    PW_TEAM_AWAY = 1,
    PW_TEAM_BALL = 2,
    PW_TEAM_UNKNOWN = 255,
};

/* One reading, for code that builds batches a record at a time. */
typedef struct pw_point {
    int64_t ts_ns;    /* event time, ns since the Unix epoch or session start */
    uint32_t entity;  /* interned entity id (car 24, player 2495) */
    uint32_t channel; /* interned channel id (rpm, throttle) */
    double value;     /* reading in the channel's unit; NaN = missing */
} pw_point_t;

/* A batch of points as columns; n records, room for cap. */
typedef struct pw_points {
    size_t n;
    size_t cap;
    int64_t *ts_ns;
    uint32_t *entity;
    uint32_t *channel;
    double *value;
} pw_points_t;

/* One tracked object in a frame, for code that builds frames by hand. */
typedef struct pw_object {
    uint32_t entity;   /* interned entity (player id, "ball") */
    uint8_t team;      /* enum pw_team */
    float x, y;        /* position, in the sport's field unit (yards, feet) */
    float speed;       /* unit per second */
    float orientation; /* degrees, where the object faces */
    float direction;   /* degrees, where the object moves */
} pw_object_t;

/*
 * A batch of frames. Frame i owns objects [first[i], first[i] + nobj[i]);
 * objects of all frames are stored back to back in the object columns.
 */
typedef struct pw_frames {
    size_t n;       /* frames */
    size_t cap;     /* frame capacity */
    int64_t *ts_ns;
    uint64_t *session;   /* game or session id */
    uint32_t *label;     /* PW_FRAME_LABELS per frame; PW_LABEL_NONE = none */
    uint16_t *nobj;      /* objects in this frame */
    uint32_t *first;     /* index of the frame's first object */
    size_t nobj_total;   /* objects in all frames */
    size_t obj_cap;      /* object capacity */
    uint32_t *entity;
    uint8_t *team;
    float *x, *y, *speed, *orientation, *direction;
} pw_frames_t;

/* One result; byte ranges are borrowed (see the batch that holds it). */
typedef struct pw_result {
    int64_t ts_ns;
    uint32_t version;  /* 1 for a first emission, higher for corrections */
    uint32_t topic_len;
    uint32_t key_len;
    uint32_t body_len;
    const char *topic; /* "burn", not NUL-terminated */
    const char *key;   /* "car/24", not NUL-terminated */
    const uint8_t *body; /* msgpack body */
} pw_result_t;

/* A batch of results (array of structs: results are few and wide). */
typedef struct pw_results {
    size_t n;
    size_t cap;
    pw_result_t *rec;
} pw_results_t;

/*
 * Points: init leaves an empty batch with no memory; reserve makes room for
 * at least cap records (keeping the n already there); push appends one
 * record, growing if needed; clear sets n to 0 and keeps the memory; fini
 * frees. reserve and push return 0 or -ENOMEM (the batch is unchanged).
 */
void pw_points_init(pw_points_t *b);
int pw_points_reserve(pw_points_t *b, size_t cap);
int pw_points_push(pw_points_t *b, const pw_point_t *p);
void pw_points_clear(pw_points_t *b);
void pw_points_fini(pw_points_t *b);

/*
 * Frames: as for points. reserve takes frame and object capacities.
 * push appends a frame with nobj objects copied from objs and labels
 * (PW_FRAME_LABELS ids, or NULL for none).
 */
void pw_frames_init(pw_frames_t *b);
int pw_frames_reserve(pw_frames_t *b, size_t frames, size_t objects);
int pw_frames_push(pw_frames_t *b, int64_t ts_ns, uint64_t session,
                   const uint32_t *labels, const pw_object_t *objs,
                   uint16_t nobj);
void pw_frames_clear(pw_frames_t *b);
void pw_frames_fini(pw_frames_t *b);

/*
 * Results: as for points. push copies the pw_result_t but not the bytes it
 * points to: they stay borrowed from the caller for the batch's lifetime.
 */
void pw_results_init(pw_results_t *b);
int pw_results_reserve(pw_results_t *b, size_t cap);
int pw_results_push(pw_results_t *b, const pw_result_t *r);
void pw_results_clear(pw_results_t *b);
void pw_results_fini(pw_results_t *b);

#endif
