/*
 * pl_window: the `window` operator: event-time windows over keyed points,
 * with aggregates (pl_agg.h) and corrections for late records.
 *
 *   - {name: speed_1s, input: [by_car], window: {type: tumbling, size: 1s,
 *      aggregates: [mean, max]}}
 *   - {name: laps, input: [by_car], window: {type: segment, marker: lap,
 *      channel: speed_mps, aggregates: [mean, max]}}
 *   - {name: plays, input: [by_player], window: {type: segment, marker: event,
 *      scope: all, open: [ball_snap], close: [tackle, out_of_bounds, touchdown]}}
 *
 * Input: keyed points (port 0 of a key_by). Output port 0 "out": one result
 * per key and window; port 1 "late": the points that came too late (keyed).
 *
 * Windows (times are event times, ns; a window is [start, end)):
 *   tumbling  [k size, (k+1) size): aligned to multiples of size since ts 0.
 *   sliding   [e - size, e) for every multiple e of slide (size is a
 *             multiple of slide): each record is in size/slide windows.
 *   session   a key's records with gaps shorter than `gap` between
 *             consecutive ones; a gap of `gap` or more starts a new session
 *             (so a session is complete exactly when the watermark reaches
 *             last_ts + gap). start = first record, end = last_ts + gap.
 *   segment   from a boundary to the next, told by marker points (points of
 *             channel `marker`, which are boundaries, never values; their
 *             value is a label id of names->labels). With `open` and `close`
 *             lists, a marker whose label is in close ends the open segment
 *             and one in open starts a segment when none is open (a label in
 *             both cuts: close, then open); other labels do nothing, and
 *             values outside segments are not aggregated (counted as
 *             dropped). With neither list, every change of the marker's
 *             value ends the current segment and starts the next (the first
 *             marker starts the first). A segment is [open time, close time):
 *             a value at the close time belongs to the next segment. scope:
 *             entity (default) means a marker bounds the segments of the
 *             keys with the same entity part as the marker's key (a car's
 *             lap marker cuts that car's channels); all means a marker
 *             bounds every key's segments (a play's snap and tackle cut
 *             every player's). A segment still open when the input ends (or
 *             whose key is evicted) gives no result: it never closed.
 *
 * Firing (the worker passes the input watermark W in ctx and calls advance
 * when it moves; W means no record with ts < W is expected any more):
 * a window fires when W >= end (segment: when W passes the close marker,
 * W > close). W = PL_WATERMARK_MAX (all input ended) fires everything.
 * Result: ts = end (session: last_ts + gap; segment: close time), version
 * 1, topic = `topic` (default: the operator's name), key = the key's names:
 * "car/24/speed_mps" (entity "/" channel), "car/24" (no channel part),
 * "speed_mps" (no entity part), a numeric id for an unknown name
 * ("entity/57"). Body (msgpack map): start_ns, end_ns, count, then each
 * aggregate asked in the configured order (quantiles as "q50", "q90", ...;
 * nil when undefined), then duration_s for session (last_ts - first_ts)
 * and segment (close - open) windows. A window without records gives no
 * result.
 *
 * Determinism: records are staged per key as they arrive and folded into
 * their windows in (ts, value bits) order once the watermark has passed
 * them, and the results fired by one call are emitted sorted by (ts, key
 * number, start). The same input therefore gives byte-identical results
 * whatever the batch sizes and the arrival order within the disorder the
 * watermark allows (no record arriving behind the watermark).
 *
 * Late records (ts < W on arrival):
 *   - folded into their window when it can still be corrected: the
 *     window's end + allowed_lateness > W (tumbling, sliding: any window of
 *     the record; session: a record inside a session's span, extending the
 *     open session, or forming a session of its own; segment: a record of
 *     the current segment or inside a fired segment of its key). A window
 *     that had fired fires again with version + 1 at the end of the process
 *     call that brought the record (one new version per window per call).
 *   - otherwise sent to port "late" and counted in cnt.late: also a session
 *     record that would merge sessions or move a fired session's bounds,
 *     and every marker behind the watermark (boundaries are not rewritten).
 * Points whose value is not finite, whose time is beyond +-2^62 ns of the
 * epoch (before 1824 or after 2116), and points of other channels when
 * `channel` is set (markers aside) are counted in cnt.dropped, as are
 * values between segments.
 *
 * State: per key, in a pl_keytab grown geometrically up to max_keys (a new
 * key beyond it is refused: cnt.keys_refused and cnt.dropped). Keys are
 * visited only when due, through a timer wheel, so advance costs what
 * fires, not the number of keys. A key whose newest record is more than
 * ttl behind the watermark is evicted (cnt.evicted); ttl must cover the
 * window and the allowed lateness. snapshot writes every key's staged
 * records, open and correctable windows, versions and segment state;
 * restore rebuilds it (a snapshot of another configuration, a truncated
 * or foreign blob is PW_ECORRUPT).
 *
 * Threads: an instance belongs to one worker thread.
 */
#ifndef PL_WINDOW_H
#define PL_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_conf.h"
#include "pipeline/pl_op.h"

/* Window types (the `type` key). */
enum pl_window_type {
    PL_WINDOW_TUMBLING = 0,
    PL_WINDOW_SLIDING = 1,
    PL_WINDOW_SESSION = 2,
    PL_WINDOW_SEGMENT = 3,
};

/* Whose segments a marker bounds (the `scope` key). */
enum pl_window_scope {
    PL_WINDOW_SCOPE_ENTITY = 0,
    PL_WINDOW_SCOPE_ALL = 1,
};

/* The `window` operator's keys (see pl_window_conf_section). */
typedef struct pl_window_conf {
    int type;                   /* enum pl_window_type */
    int64_t size_ms;            /* tumbling, sliding */
    int64_t slide_ms;           /* sliding */
    int64_t gap_ms;             /* session */
    char *marker;               /* segment: channel of the boundary points */
    char **open;                /* segment: labels that open a segment */
    size_t nopen;
    char **close;               /* segment: labels that close it */
    size_t nclose;
    int scope;                  /* enum pl_window_scope */
    char *channel;              /* only this channel is aggregated; NULL = all */
    char **aggregates;          /* pl_agg names */
    size_t naggregates;
    char **quantiles;           /* numbers in (0, 1), as text */
    size_t nquantiles;
    int64_t allowed_lateness_ms;
    char *topic;                /* results' topic; NULL = the operator's name */
    int64_t ttl_ms;             /* evict a key idle this long behind the watermark */
    int64_t max_keys;           /* most keys held */
} pl_window_conf_t;

extern const pw_conf_section_t pl_window_conf_section;
extern const pl_op_def_t pl_window_def;

#endif
