/*
 * pl_batch: what flows along the edges of the operator graph, and the small
 * byte buffers operators use to build result bodies and state snapshots.
 *
 * A batch holds records of one kind: points (optionally keyed), frames, or
 * results. Batches are owned by whoever fills them (an operator owns its
 * output batches, the worker owns source batches) and are reused: clearing
 * keeps the memory, so a graph that has reached its working size allocates
 * nothing per record.
 *
 * Keys: a keyed point carries a 64-bit key made of the fields key_by chose,
 * (entity << 32) | channel with the unchosen part 0, so a key can always be
 * turned back into names; a keyed frame's key is its session.
 *
 * Not thread-safe: a batch belongs to one worker thread.
 */
#ifndef PL_BATCH_H
#define PL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_record.h"

/* The kinds of record on an edge. 0 is not a kind. */
enum pl_kind {
    PL_POINTS = 1,
    PL_FRAMES = 2,
    PL_RESULTS = 3,
};

/* Key of entity e and channel c (either may be 0 = not part of the key). */
#define PL_KEY(e, c) (((uint64_t)(uint32_t)(e) << 32) | (uint32_t)(c))
#define PL_KEY_ENTITY(k) ((uint32_t)((k) >> 32))
#define PL_KEY_CHANNEL(k) ((uint32_t)(k))

/*
 * Results with their bytes: rec.rec[i].topic/key/body point into bytes,
 * owned by this struct (rebased when bytes grows), valid until the next
 * clear or fini.
 */
typedef struct pl_results {
    pw_results_t rec;
    uint8_t *bytes;
    size_t len;
    size_t cap;
} pl_results_t;

/* A batch on an edge. */
typedef struct pl_batch {
    enum pl_kind kind;
    bool keyed;          /* points: key[] holds a key per point;
                            frames: key[] holds one per frame */
    pw_points_t pts;     /* kind PL_POINTS */
    pw_frames_t frames;  /* kind PL_FRAMES */
    pl_results_t res;    /* kind PL_RESULTS */
    uint64_t *key;       /* [key_cap] when keyed */
    size_t key_cap;
    /*
     * Wall time (ns since the epoch) the oldest input behind this batch was
     * appended to its stream; 0 when unknown. Operators copy it from input
     * to output so the worker can measure ingestion -> sink latency.
     */
    int64_t ingest_ns;
} pl_batch_t;

/* A growable byte buffer (result bodies, snapshots). Caller's memory. */
typedef struct pl_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} pl_buf_t;

/*
 * A bounds-checked reader over bytes written with pl_buf_put_*: every get
 * fails (returns -1 and sets failed) instead of reading past the end.
 */
typedef struct pl_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool failed;
} pl_rd_t;

/* ---- batches ------------------------------------------------------------ */

/* Empty batch of a kind, no memory. */
void pl_batch_init(pl_batch_t *b, enum pl_kind kind);

/* n = 0 for every kind, keyed kept, ingest_ns = 0; memory kept. */
void pl_batch_clear(pl_batch_t *b);

/* Free everything. */
void pl_batch_fini(pl_batch_t *b);

/* Records in the batch (points, frames or results by kind). */
size_t pl_batch_count(const pl_batch_t *b);

/* Room for `more` points (and their keys when keyed) beyond n, growing
 * geometrically. 0 or -ENOMEM. */
int pl_batch_reserve_points(pl_batch_t *b, size_t more);

/* Make key[] hold at least n keys. 0 or -ENOMEM. */
int pl_batch_reserve_keys(pl_batch_t *b, size_t n);

/*
 * Append point i of src (with its key when src is keyed and dst is keyed).
 * Grows dst as needed: 0 or -ENOMEM. Both must be PL_POINTS.
 */
int pl_batch_push_point(pl_batch_t *dst, const pl_batch_t *src, size_t i);

/* Append one point with a key (dst keyed) or without. 0 or -ENOMEM. */
int pl_batch_add_point(pl_batch_t *dst, int64_t ts_ns, uint32_t entity,
                       uint32_t channel, double value, uint64_t key);

/* Append frame i of src with its objects (and key). 0 or -ENOMEM. */
int pl_batch_push_frame(pl_batch_t *dst, const pl_batch_t *src, size_t i);

/* Keep ingest_ns the oldest known of dst's and src's. */
static inline void pl_batch_note_ingest(pl_batch_t *dst, const pl_batch_t *src)
{
    if (src->ingest_ns && (!dst->ingest_ns || src->ingest_ns < dst->ingest_ns))
        dst->ingest_ns = src->ingest_ns;
}

/* ---- results ------------------------------------------------------------ */

void pl_results_init(pl_results_t *r);
void pl_results_clear(pl_results_t *r);
void pl_results_fini(pl_results_t *r);

/*
 * Append one result, copying topic, key and body into r's bytes.
 * Returns 0 or -ENOMEM (r unchanged). Pointers of earlier records stay
 * valid views of r (they are rebased if the bytes move).
 */
int pl_results_add(pl_results_t *r, int64_t ts_ns, uint32_t version,
                   const char *topic, size_t topic_len, const char *key,
                   size_t key_len, const void *body, size_t body_len);

/* Append every result of src. 0 or -ENOMEM. */
int pl_results_append(pl_results_t *dst, const pw_results_t *src);

/* ---- byte buffers ------------------------------------------------------- */

void pl_buf_init(pl_buf_t *b);
void pl_buf_fini(pl_buf_t *b);
static inline void pl_buf_clear(pl_buf_t *b) { b->len = 0; }
/* Make room for n more bytes. 0 or -ENOMEM. */
int pl_buf_reserve(pl_buf_t *b, size_t n);
/* Append bytes / fixed-width little-endian values. 0 or -ENOMEM. */
int pl_buf_put(pl_buf_t *b, const void *p, size_t n);
int pl_buf_put_u32(pl_buf_t *b, uint32_t v);
int pl_buf_put_u64(pl_buf_t *b, uint64_t v);
int pl_buf_put_i64(pl_buf_t *b, int64_t v);
int pl_buf_put_f64(pl_buf_t *b, double v);

void pl_rd_init(pl_rd_t *r, const void *p, size_t len);
/* Read n bytes / values; on overrun return -1, set failed, leave out 0. */
int pl_rd_get(pl_rd_t *r, void *out, size_t n);
int pl_rd_u32(pl_rd_t *r, uint32_t *v);
int pl_rd_u64(pl_rd_t *r, uint64_t *v);
int pl_rd_i64(pl_rd_t *r, int64_t *v);
int pl_rd_f64(pl_rd_t *r, double *v);
/* Bytes left to read. */
static inline size_t pl_rd_left(const pl_rd_t *r) { return r->len - r->pos; }

#endif
