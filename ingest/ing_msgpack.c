/*
 * msgpack: Pitwall's own batch format (docs/codec.md), one or more batches
 * back to back, as a recording or `pitwall stream append` input holds them.
 * Points and frames batches are emitted as they are; results batches are
 * not records an ingest takes and are skipped with a note. A batch that does
 * not decode is skipped and counted when the next one can still be found
 * (its length is readable); otherwise decoding stops with the error.
 */
#include <stdio.h>

#include "core/pw_codec.h"
#include "ingest/ing_format.h"

static void span(ing_stats_t *st, const int64_t *ts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ts[i] < st->first_ts_ns)
            st->first_ts_ns = ts[i];
        if (ts[i] > st->last_ts_ns)
            st->last_ts_ns = ts[i];
    }
}

static void skip(ing_stats_t *st, const char *name, size_t batch, size_t off, const char *why)
{
    if (st->skipped++ == 0)
        snprintf(st->first_problem, sizeof st->first_problem, "%.100s: batch %zu at byte %zu: %.360s",
                 name, batch, off, why);
}

int ing_msgpack_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                       ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                       pw_err_t *err)
{
    (void)o;
    (void)names;
    pw_codec_decoder_t *dec = NULL;
    int rc = pw_codec_decoder_create(&dec);
    if (rc)
        return pw_err_set(err, rc, "%s: out of memory", name);
    pw_points_t pts;
    pw_frames_t frames;
    pw_points_init(&pts);
    pw_frames_init(&frames);
    st->bytes += len;
    size_t batch = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t ml = 0, n = 0;
        enum pw_codec_kind kind;
        pw_err_t e = {0};
        batch++;
        if (pw_codec_message_len(data + off, len - off, &ml, &e) != 0) {
            /* Without a length the next batch cannot be found: stop here. */
            if (off > 0 && e.code == PW_ETRUNC) {
                st->truncated = 1;
                skip(st, name, batch, off, e.msg);
                break;
            }
            rc = pw_err_set(err, e.code, "%s: batch %zu at byte %zu: %s", name, batch, off,
                            e.msg);
            break;
        }
        st->records++;
        int r = pw_codec_peek(data + off, ml, &kind, &n, &e);
        if (r == 0 && kind == PW_CODEC_POINTS) {
            r = pw_codec_decode_points(dec, data + off, ml, &pts, &e);
            if (r == 0) {
                st->points += pts.n;
                span(st, pts.ts_ns, pts.n);
                rc = emit->points ? emit->points(emit->ctx, &pts) : 0;
            }
        } else if (r == 0 && kind == PW_CODEC_FRAMES) {
            r = pw_codec_decode_frames(dec, data + off, ml, &frames, &e);
            if (r == 0) {
                st->frames += frames.n;
                st->objects += frames.nobj_total;
                span(st, frames.ts_ns, frames.n);
                rc = emit->frames ? emit->frames(emit->ctx, &frames) : 0;
            }
        } else if (r == 0) {
            snprintf(e.msg, sizeof e.msg, "a results batch (%zu results) is not ingested", n);
            r = PW_EUNSUPPORTED;
        }
        if (r)
            skip(st, name, batch, off, e.msg);
        off += ml;
    }
    pw_points_fini(&pts);
    pw_frames_fini(&frames);
    pw_codec_decoder_destroy(dec);
    return rc;
}
