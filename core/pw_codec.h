/*
 * pw_codec: the msgpack batch format that carries records on the wire and
 * on streams, and its encoder and decoder.
 *
 * A batch is one msgpack map holding many records of one kind as columns:
 * every column is a msgpack bin whose payload is a packed little-endian
 * array, so decoding is a few bounds checks and one memcpy per column, and
 * a client in any language can write a batch with its msgpack library and
 * a byte-array packer (Python struct/numpy, JS TypedArray, Go binary).
 *
 * Wire format, version 1 (docs/codec.md has an annotated hex example):
 *
 *   map {
 *     "pw":   1                  format version, uint
 *     "kind": "points" | "frames" | "results"     str
 *     "n":    records (frames for kind frames), uint <= PW_CODEC_MAX_RECORDS
 *     ...columns of the kind, all bin; sizes in bytes:
 *   }
 *   points:  "ts_ns"   8n  int64    "entity" 4n uint32
 *            "channel" 4n  uint32   "value"  8n float64
 *   frames:  "objects": m, objects in all frames, uint <= PW_CODEC_MAX_OBJECTS
 *            per frame:  "ts_ns" 8n int64, "session" 8n uint64,
 *                        "label" 8n uint32 (PW_FRAME_LABELS = 2 per frame,
 *                        frame-major), "nobj" 2n uint16
 *            per object: "entity" 4m uint32, "team" m uint8, "x" "y"
 *                        "speed" "orientation" "direction" 4m float32 each;
 *            the objects of frame i follow those of frame i-1, and the
 *            nobj column must sum to m.
 *   results: "ts_ns" 8n int64, "version" 4n uint32, "topic_len" "key_len"
 *            "body_len" 4n uint32 each, then "topic" "key" "body": bins
 *            holding every record's bytes back to back; each length column
 *            must sum to its blob's size exactly.
 *
 * Integers are little-endian, floats IEEE 754 binary32/64 little-endian
 * (NaN payloads, infinities and -0.0 travel bit for bit). Keys are msgpack
 * str and may come in any order; "n" and "objects" may use any msgpack
 * integer encoding of a non-negative value. A missing, duplicate or
 * unknown key, a wrong msgpack type, a column whose size disagrees with n
 * or m, and any byte after the map are errors. The encoder writes the
 * smallest msgpack headers and the keys in the order listed above.
 *
 * Decoded columns are copies, except in results: topic, key and body of a
 * decoded pw_result_t point into the input buffer (see
 * pw_codec_decode_results).
 *
 * Threads: the functions keep no global state; an encode buffer, a decoder
 * and a batch each belong to one thread at a time.
 */
#ifndef PW_CODEC_H
#define PW_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "core/pw_record.h"

/* Format version this build writes and the only one it reads. */
#define PW_CODEC_VERSION 1u

/* Most records ("n") one batch may hold, for every kind. */
#define PW_CODEC_MAX_RECORDS (1u << 20)

/* Most objects ("objects") one frames batch may hold, all frames together. */
#define PW_CODEC_MAX_OBJECTS (1u << 24)

/* The kind of records a batch holds; 0 is never a valid kind. */
enum pw_codec_kind {
    PW_CODEC_POINTS = 1,
    PW_CODEC_FRAMES = 2,
    PW_CODEC_RESULTS = 3,
};

/*
 * A growable output buffer: data[0..len) is the encoded batch. Caller's
 * memory; the encoder grows it only when a batch does not fit, so a buffer
 * reused between calls stops allocating once it reaches its working size.
 * data is owned by the buffer and freed by pw_codec_buf_fini.
 */
typedef struct pw_codec_buf {
    uint8_t *data;
    size_t len; /* bytes of the last encoded batch */
    size_t cap; /* bytes allocated at data */
} pw_codec_buf_t;

/* A decoder: reusable scratch (a msgpack zone) for one thread. Opaque. */
typedef struct pw_codec_decoder pw_codec_decoder_t;

/* The name of a kind as written on the wire ("points"), or "unknown". */
const char *pw_codec_kind_name(enum pw_codec_kind kind);

/* Initialise an empty buffer (no memory yet). */
void pw_codec_buf_init(pw_codec_buf_t *buf);

/*
 * Encode a batch into buf, replacing what buf held: on success buf->data
 * holds exactly one message of buf->len bytes. The batch is only read.
 * Returns 0, or on failure (buf->len is then 0):
 *   PW_ECAPACITY  n > PW_CODEC_MAX_RECORDS, more than PW_CODEC_MAX_OBJECTS
 *                 objects, or a results blob over 4 GiB - 1 (msgpack bin32)
 *   PW_EARG       an inconsistent batch: frames whose nobj do not sum to
 *                 nobj_total or whose first[] is not their prefix sum; a
 *                 result with a NULL byte range of non-zero length
 *   -ENOMEM       buf could not grow
 * Allocates only to grow buf. Thread-safe for distinct buffers.
 */
int pw_codec_encode_points(pw_codec_buf_t *buf, const pw_points_t *b,
                           pw_err_t *err);
int pw_codec_encode_frames(pw_codec_buf_t *buf, const pw_frames_t *b,
                           pw_err_t *err);
int pw_codec_encode_results(pw_codec_buf_t *buf, const pw_results_t *b,
                            pw_err_t *err);

/* Free the buffer's memory and leave it empty; it may be reused. */
void pw_codec_buf_fini(pw_codec_buf_t *buf);

/*
 * Length of the batch at the front of data[0..len), for input that holds
 * several batches back to back (a file of messages). Walks the map and
 * everything in it, checking every length fits, but nothing else: decode
 * or peek data[0..*msg_len) to check the batch itself.
 * On success sets *msg_len (<= len) and returns 0; on failure leaves it
 * untouched and returns PW_ETRUNC (the input ends inside the map),
 * PW_ECORRUPT (not a map, not msgpack, more than 32 keys) or PW_EARG,
 * with err filled as for decoding. Never allocates; thread-safe.
 */
int pw_codec_message_len(const void *data, size_t len, size_t *msg_len,
                         pw_err_t *err);

/*
 * Learn a batch's kind and record count ("n") without decoding it, to route
 * or size it. Checks the whole message is well-formed msgpack (no
 * truncation, no trailing bytes), the version, the kind and n; it does not
 * check the columns, so a later decode may still fail.
 * On success sets *kind and *count and returns 0; on failure leaves them
 * untouched and returns PW_ETRUNC, PW_ECORRUPT, PW_EVERSION or
 * PW_ECAPACITY with err filled as for decoding. Never allocates;
 * thread-safe.
 */
int pw_codec_peek(const void *data, size_t len, enum pw_codec_kind *kind,
                  size_t *count, pw_err_t *err);

/*
 * Create a decoder. On success sets *dec and returns 0; returns -ENOMEM
 * and leaves *dec untouched on failure. Free it with
 * pw_codec_decoder_destroy.
 */
int pw_codec_decoder_create(pw_codec_decoder_t **dec);

/*
 * Decode one batch of data[0..len) into out, replacing its records. The
 * message must be exactly len bytes: a batch of the wanted kind and
 * nothing after it. out grows (pw_*_reserve) only when the batch holds
 * more than out's capacity, so a decoder and a batch reused together
 * allocate nothing once warm; the decoder never allocates per record and
 * never reads outside data[0..len).
 *
 * Returns 0 with out->n set (and for frames nobj_total and first[], the
 * prefix sums of nobj). On failure out->n (and nobj_total) is 0, out keeps
 * its memory, and the return value is one of:
 *   PW_ETRUNC     the input ends inside the message
 *   PW_ECORRUPT   not msgpack, not a map, wrong kind, a missing, duplicate
 *                 or unknown key, a wrong type, a column of the wrong size,
 *                 nobj not summing to objects, lengths not summing to a
 *                 blob's size, bytes after the map
 *   PW_EVERSION   "pw" is not PW_CODEC_VERSION
 *   PW_ECAPACITY  n or objects over the documented maximum
 *   PW_EARG       dec or out is NULL, or data is NULL with len > 0
 *   -ENOMEM       out (or the decoder's scratch) could not grow
 * with err saying what, where and why, e.g. "batch: column 'value' holds
 * 7992 bytes, expected 8000 for n=1000 (at byte 61)"; byte offsets count
 * from data[0].
 *
 * For results, each record's topic, key and body point INTO data: they
 * are borrowed and stay valid only while data is neither freed nor
 * changed; copy them to keep them longer.
 *
 * A decoder is not thread-safe: use one per thread.
 */
int pw_codec_decode_points(pw_codec_decoder_t *dec, const void *data,
                           size_t len, pw_points_t *out, pw_err_t *err);
int pw_codec_decode_frames(pw_codec_decoder_t *dec, const void *data,
                           size_t len, pw_frames_t *out, pw_err_t *err);
int pw_codec_decode_results(pw_codec_decoder_t *dec, const void *data,
                            size_t len, pw_results_t *out, pw_err_t *err);

/* Free a decoder. NULL does nothing. */
void pw_codec_decoder_destroy(pw_codec_decoder_t *dec);

#endif
