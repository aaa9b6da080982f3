/*
 * ing_format: decoders that turn recorded feeds and files into Pitwall
 * records (points, frames, labelled events), one decoder per format.
 *
 * A decoder gets the whole input in memory (ing_file_load reads a file and
 * inflates .gz with zlib), walks it once and hands records to the caller in
 * batches through ing_emit_t: it fills a batch it owns up to
 * ing_opts_t.batch_points points (or batch_frames frames), calls the
 * callback, clears the batch and goes on, so memory stays bounded and no
 * record is allocated on its own. Timestamps are event time in ns since
 * the Unix epoch (or since the session start when the source has no date;
 * the decoder says which in its description).
 *
 * Names (channels, entities, event labels) are interned into the caller's
 * tables (ing_names_t) as the decoder meets them, so ids are stable within
 * one process; the session callback receives the input's metadata as text
 * pairs for the caller to keep.
 *
 * Bad input: a decoder names its input's problems precisely (input name,
 * record or line, byte offset, what was expected). Where it is safe it
 * skips a bad record, counts it in ing_stats_t.skipped and keeps the first
 * problem's text in ing_stats_t.first_problem; where it cannot go on (wrong
 * magic, a header that does not fit) it returns an error (PW_ECORRUPT,
 * PW_ETRUNC) with err filled, after emitting nothing it is unsure of.
 * Truncation at the end of a file (a live capture cut short) is reported
 * in stats (truncated = 1, with the text in first_problem) and is not an
 * error: what is there is decoded.
 *
 * Threads: a decode call runs on the caller's thread and keeps no global
 * state; the name tables are the caller's (one adder at a time).
 */
#ifndef ING_FORMAT_H
#define ING_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"

/* Name tables the decoders intern into; all three must be set. */
typedef struct ing_names {
    pw_intern_t *channels; /* "FuelLevel", "speed_mps" */
    pw_intern_t *entities; /* "car/24", "nfl/2495438", "ball" */
    pw_intern_t *labels;   /* event labels on frames: "ball_snap" */
} ing_names_t;

/* Metadata of one session (a race, a play, a game) as text pairs. */
typedef struct ing_session {
    uint64_t id;             /* the session id frames carry */
    const char *name;        /* "2018011401/4497", "bristol" */
    size_t n;                /* pairs */
    const char *const *keys; /* "playType", "TrackName", ... */
    const char *const *values;
} ing_session_t;

/*
 * Where decoded records go. Each callback runs on the decoder's thread,
 * borrows the batch only until it returns, and returns 0 to go on or a
 * non-zero code that stops decoding and becomes the decoder's return
 * value. A NULL callback drops that kind of record (counted all the same).
 */
typedef struct ing_emit {
    int (*points)(void *ctx, const pw_points_t *b);
    int (*frames)(void *ctx, const pw_frames_t *b);
    int (*session)(void *ctx, const ing_session_t *s);
    void *ctx;
} ing_emit_t;

/* Options every decoder takes; zero means the default. */
typedef struct ing_opts {
    size_t batch_points;         /* points per emitted batch; default 4096 */
    size_t batch_frames;         /* frames per emitted batch; default 64 */
    const char *const *channels; /* only these channels (ibt, f1csv); NULL = all */
    size_t nchannels;
    const char *events_path;     /* bdc: the play-by-play CSV to join; NULL = look
                                    for pxp_*.csv beside or above the tracking */
    int known_names_only;        /* jsonl: a name not already in the tables is a
                                    bad record (ids must mean the same to every
                                    process, e.g. `pitwall stream append`) */
} ing_opts_t;

/* What a decode saw; the caller zeroes it, decoders add to it. */
typedef struct ing_stats {
    uint64_t bytes;          /* input bytes (after inflating) */
    uint64_t records;        /* input records read: rows, samples, lines */
    uint64_t points;         /* points emitted */
    uint64_t frames;         /* frames emitted */
    uint64_t objects;        /* objects in those frames */
    uint64_t events;         /* labelled events emitted */
    uint64_t skipped;        /* bad records skipped */
    int truncated;           /* the input ended early (reported, not an error) */
    int64_t first_ts_ns;     /* INT64_MAX when nothing was emitted */
    int64_t last_ts_ns;      /* INT64_MIN when nothing was emitted */
    char first_problem[PW_ERR_MSG_MAX]; /* the first skipped record or the truncation */
} ing_stats_t;

/* Reset stats before a decode. */
void ing_stats_init(ing_stats_t *st);

/*
 * A decoder: name is the input's name for messages (a path). data[0..len)
 * is the whole input, borrowed for the call. Returns 0 (possibly with
 * skipped records or truncation in st), a negative error with err filled,
 * or the non-zero value an emit callback returned.
 */
typedef int (*ing_decode_fn)(const char *name, const uint8_t *data, size_t len,
                             const ing_opts_t *opts, ing_names_t *names,
                             const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err);

typedef struct ing_format {
    const char *name;  /* --format value: "ibt", "ngs", ... */
    const char *desc;  /* one line for help */
    const char *exts;  /* file name endings it reads, space-separated: ".ibt" */
    ing_decode_fn decode;
    /* In a folder, whether a file with a matching ending is an input rather
     * than a side file the decoder reads itself (a roster); NULL = all. */
    int (*wants)(const char *basename);
} ing_format_t;

/* The table of formats and a lookup by name (NULL when unknown). */
extern const ing_format_t ing_formats[];
extern const size_t ing_nformats;
const ing_format_t *ing_format_find(const char *name);

/*
 * Read the file at path into a heap buffer, inflating it when the name ends
 * in .gz (zlib). *data is owned by the caller (free()); *len its size.
 * Returns 0, -errno ("path: No such file or directory" in err), PW_ECORRUPT
 * or PW_ETRUNC for a broken .gz, PW_ECAPACITY past max_bytes.
 */
int ing_file_load(const char *path, size_t max_bytes, uint8_t **data, size_t *len,
                  pw_err_t *err);

/* Decoders, one per format (ingest/ing_<format>.c). */
int ing_ibt_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                   ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err);
int ing_ngs_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                   ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err);
int ing_bdc_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                   ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err);
int ing_f1csv_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                     ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                     pw_err_t *err);
int ing_events_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                      ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                      pw_err_t *err);
int ing_msgpack_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                       ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                       pw_err_t *err);
int ing_jsonl_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                     ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                     pw_err_t *err);

#endif
