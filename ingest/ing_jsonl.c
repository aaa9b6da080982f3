/*
 * jsonl: JSON lines of points, frames and session metadata, the format
 * `pitwall ingest --dump` and `pitwall stream tail` print, so a dump can be
 * edited and fed back. One object per line:
 *   point:   {"ts_ns":1,"entity":"car/24","channel":"rpm","value":9120}
 *   frame:   {"ts_ns":1,"session":7,"labels":["ball_snap"],
 *             "objects":[{"entity":"ball","team":2,"x":1,"y":2,"speed":0,
 *                         "orientation":null,"direction":null}]}
 *   session: {"session":7,"name":"2018011401/4497","meta":{"playType":"..."}}
 * Names may be given as ids (integers). "topic", "partition" and "offset"
 * (added by tail) are ignored; any other key is a bad record. A value of
 * null is NaN. Bad lines are skipped and counted.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ing_format.h"

/* Most objects a frame line may hold (the frame's nobj is 16 bits). */
#define MAX_OBJECTS 65535

typedef struct jl {
    const char *name;
    size_t line;
    const ing_opts_t *o;
    ing_names_t *names;
    char why[400];
} jl_t;

__attribute__((format(printf, 2, 3))) static int bad(jl_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->why, sizeof j->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* A name (interned, or looked up when known_names_only) or an id. */
static int name_id(jl_t *j, json_t *v, pw_intern_t *t, const char *what, uint32_t *id)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || i > (json_int_t)UINT32_MAX)
            return bad(j, "'%s' id is out of range 1..4294967295", what);
        *id = (uint32_t)i;
        return 0;
    }
    if (!json_is_string(v))
        return bad(j, "'%s' must be a name or an id", what);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    int rc = j->o->known_names_only ? pw_intern_find(t, s, len, id)
                                    : pw_intern_add(t, s, len, id);
    if (rc == 0)
        return 0;
    if (rc == PW_ENOTFOUND) {
        snprintf(j->why, sizeof j->why,
                 "unknown %s '%.200s' (name it under '%ss' in the configuration, or give its id)",
                 what, s, what);
        return -1;
    }
    snprintf(j->why, sizeof j->why, "cannot intern %s '%.200s': %s", what, s, pw_strerror(rc));
    return -1;
}

static int number(jl_t *j, json_t *v, const char *what, double *out)
{
    if (json_is_null(v))
        *out = NAN;
    else if (json_is_number(v))
        *out = json_number_value(v);
    else
        return bad(j, "'%s' must be a number or null", what);
    return 0;
}

static int is_tail_key(const char *k)
{
    return !strcmp(k, "topic") || !strcmp(k, "partition") || !strcmp(k, "offset");
}

static int parse_point(jl_t *j, json_t *o, pw_point_t *p)
{
    const char *k;
    json_t *v;
    int have = 0;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "ts_ns")) {
            if (!json_is_integer(v))
                return bad(j, "'%s' must be an integer (ns)", "ts_ns");
            p->ts_ns = json_integer_value(v);
            have |= 1;
        } else if (!strcmp(k, "entity")) {
            if (name_id(j, v, j->names->entities, "entity", &p->entity))
                return -1;
            have |= 2;
        } else if (!strcmp(k, "channel")) {
            if (name_id(j, v, j->names->channels, "channel", &p->channel))
                return -1;
            have |= 4;
        } else if (!strcmp(k, "value")) {
            if (number(j, v, "value", &p->value))
                return -1;
            have |= 8;
        } else if (!is_tail_key(k)) {
            snprintf(j->why, sizeof j->why,
                     "unknown key '%.100s' (a point has ts_ns, entity, channel, value)", k);
            return -1;
        }
    }
    if (have != 15)
        return bad(j, "missing %s", !(have & 1) ? "'ts_ns'" : !(have & 2) ? "'entity'"
                                    : !(have & 4) ? "'channel'" : "'value'");
    return 0;
}

static int parse_object(jl_t *j, json_t *o, pw_object_t *ob)
{
    if (!json_is_object(o))
        return bad(j, "%s", "each of 'objects' must be an object");
    const char *k;
    json_t *v;
    double d = NAN;
    int have_entity = 0;
    ob->team = PW_TEAM_UNKNOWN;
    ob->x = ob->y = ob->speed = ob->orientation = ob->direction = NAN;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "entity")) {
            if (name_id(j, v, j->names->entities, "entity", &ob->entity))
                return -1;
            have_entity = 1;
        } else if (!strcmp(k, "team")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
                return bad(j, "%s", "'team' must be 0 (home), 1 (away), 2 (ball) or 255");
            ob->team = (uint8_t)json_integer_value(v);
        } else {
            float *f = !strcmp(k, "x") ? &ob->x : !strcmp(k, "y") ? &ob->y
                     : !strcmp(k, "speed") ? &ob->speed
                     : !strcmp(k, "orientation") ? &ob->orientation
                     : !strcmp(k, "direction") ? &ob->direction : NULL;
            if (!f)
                return bad(j, "unknown object key '%.100s'", k);
            if (number(j, v, k, &d))
                return -1;
            *f = (float)d;
        }
    }
    return have_entity ? 0 : bad(j, "%s", "an object needs an 'entity'");
}

/* Parse a frame line into frames (appending one frame). */
static int parse_frame(jl_t *j, json_t *o, pw_frames_t *frames, pw_object_t *objs)
{
    json_t *ts = json_object_get(o, "ts_ns"), *sess = json_object_get(o, "session");
    json_t *labels = json_object_get(o, "labels"), *arr = json_object_get(o, "objects");
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "ts_ns") && strcmp(k, "session") && strcmp(k, "labels") &&
            strcmp(k, "objects") && !is_tail_key(k))
            return bad(j, "unknown key '%.100s' (a frame has ts_ns, session, labels, objects)", k);
    }
    if (!json_is_integer(ts))
        return bad(j, "%s", "a frame needs an integer 'ts_ns'");
    if (sess && (!json_is_integer(sess) || json_integer_value(sess) < 0))
        return bad(j, "%s", "'session' must be a non-negative integer");
    if (!json_is_array(arr) || json_array_size(arr) > MAX_OBJECTS)
        return bad(j, "%s", "'objects' must be an array of at most 65535 objects");
    uint32_t lab[PW_FRAME_LABELS] = {PW_LABEL_NONE, PW_LABEL_NONE};
    if (labels) {
        if (!json_is_array(labels) || json_array_size(labels) > PW_FRAME_LABELS)
            return bad(j, "%s", "'labels' must be an array of at most 2 labels");
        for (size_t i = 0; i < json_array_size(labels); i++)
            if (name_id(j, json_array_get(labels, i), j->names->labels, "label", &lab[i]))
                return -1;
    }
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++)
        if (parse_object(j, json_array_get(arr, i), &objs[i]))
            return -1;
    if (pw_frames_push(frames, json_integer_value(ts),
                       sess ? (uint64_t)json_integer_value(sess) : 0, lab, objs, (uint16_t)n))
        return bad(j, "%s", "out of memory");
    return 0;
}

static int parse_session(jl_t *j, json_t *o, const ing_emit_t *emit)
{
    json_t *id = json_object_get(o, "session"), *name = json_object_get(o, "name");
    json_t *meta = json_object_get(o, "meta");
    if (!json_is_integer(id) || !json_is_object(meta))
        return bad(j, "%s", "a session line needs an integer 'session' and a 'meta' object");
    size_t n = json_object_size(meta), i = 0;
    const char *keys[256], *values[256];
    if (n > 256)
        return bad(j, "%s", "'meta' holds more than 256 keys");
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return bad(j, "meta '%.100s' must be a string", k);
        keys[i] = k;
        values[i++] = json_string_value(v);
    }
    ing_session_t s = {.id = (uint64_t)json_integer_value(id),
                       .name = json_is_string(name) ? json_string_value(name) : "",
                       .n = n, .keys = keys, .values = values};
    return emit->session ? emit->session(emit->ctx, &s) : 0;
}

static void note_ts(ing_stats_t *st, int64_t ts)
{
    if (ts < st->first_ts_ns)
        st->first_ts_ns = ts;
    if (ts > st->last_ts_ns)
        st->last_ts_ns = ts;
}

int ing_jsonl_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                     ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                     pw_err_t *err)
{
    size_t batch_points = o->batch_points ? o->batch_points : 4096;
    size_t batch_frames = o->batch_frames ? o->batch_frames : 64;
    jl_t j = {.name = name, .o = o, .names = names};
    pw_points_t pts;
    pw_frames_t frames;
    pw_points_init(&pts);
    pw_frames_init(&frames);
    /* Scratch for one frame's objects, once per call (1.5 MB: not the stack). */
    pw_object_t *objs = malloc(MAX_OBJECTS * sizeof *objs);
    if (!objs)
        return pw_err_set(err, PW_ENOMEM, "%s: out of memory", name);
    int rc = 0;
    st->bytes += len;
    for (size_t off = 0; off < len && rc == 0;) {
        const uint8_t *nl = memchr(data + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *line = (const char *)data + off;
        size_t l = end - off;
        off = end + 1;
        j.line++;
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            l--;
        if (l == 0)
            continue;
        st->records++;
        json_error_t je;
        json_t *obj = json_loadb(line, l, 0, &je);
        int r;
        if (!obj) {
            snprintf(j.why, sizeof j.why, "column %d: %s", je.column, je.text);
            r = -1;
        } else if (!json_is_object(obj))
            r = bad(&j, "%s", "expected a JSON object");
        else if (json_object_get(obj, "objects")) {
            r = parse_frame(&j, obj, &frames, objs);
            if (r == 0) {
                size_t f = frames.n - 1;
                st->frames++;
                st->objects += frames.nobj[f];
                note_ts(st, frames.ts_ns[f]);
            }
        } else if (json_object_get(obj, "meta"))
            r = parse_session(&j, obj, emit) ? -1 : 0;
        else {
            pw_point_t p;
            r = parse_point(&j, obj, &p);
            if (r == 0 && pw_points_push(&pts, &p))
                r = bad(&j, "%s", "out of memory");
            if (r == 0) {
                st->points++;
                note_ts(st, p.ts_ns);
            }
        }
        json_decref(obj);
        if (r) {
            if (st->skipped++ == 0)
                snprintf(st->first_problem, sizeof st->first_problem, "%.100s:%zu: %.380s",
                         name, j.line, j.why);
        }
        if (pts.n >= batch_points) {
            rc = emit->points ? emit->points(emit->ctx, &pts) : 0;
            pw_points_clear(&pts);
        }
        if (rc == 0 && frames.n >= batch_frames) {
            rc = emit->frames ? emit->frames(emit->ctx, &frames) : 0;
            pw_frames_clear(&frames);
        }
    }
    if (rc == 0 && pts.n && emit->points)
        rc = emit->points(emit->ctx, &pts);
    if (rc == 0 && frames.n && emit->frames)
        rc = emit->frames(emit->ctx, &frames);
    pw_points_fini(&pts);
    pw_frames_fini(&frames);
    free(objs);
    return rc;
}
