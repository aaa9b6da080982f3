#include "cmd/app_json.h"

#include <math.h>

static json_t *name_or_id(pw_intern_t *t, uint32_t id)
{
    const char *name = t ? pw_intern_name(t, id) : NULL;
    return name ? json_stringn(name, pw_intern_len(t, id)) : json_integer(id);
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *app_json_point(const app_names_t *n, const pw_points_t *b, size_t i)
{
    json_t *o = json_object();
    json_object_set_new(o, "ts_ns", json_integer(b->ts_ns[i]));
    json_object_set_new(o, "entity", name_or_id(n->entities, b->entity[i]));
    json_object_set_new(o, "channel", name_or_id(n->channels, b->channel[i]));
    json_object_set_new(o, "value", num(b->value[i]));
    return o;
}

json_t *app_json_frame(const app_names_t *n, const pw_frames_t *b, size_t i)
{
    json_t *o = json_object();
    json_object_set_new(o, "ts_ns", json_integer(b->ts_ns[i]));
    json_object_set_new(o, "session", json_integer((json_int_t)b->session[i]));
    json_t *labels = json_array();
    for (int l = 0; l < PW_FRAME_LABELS; l++) {
        uint32_t id = b->label[i * PW_FRAME_LABELS + l];
        if (id != PW_LABEL_NONE)
            json_array_append_new(labels, name_or_id(n->labels, id));
    }
    json_object_set_new(o, "labels", labels);
    json_t *objs = json_array();
    for (uint32_t k = b->first[i]; k < b->first[i] + b->nobj[i]; k++) {
        json_t *ob = json_object();
        json_object_set_new(ob, "entity", name_or_id(n->entities, b->entity[k]));
        json_object_set_new(ob, "team", json_integer(b->team[k]));
        json_object_set_new(ob, "x", num(b->x[k]));
        json_object_set_new(ob, "y", num(b->y[k]));
        json_object_set_new(ob, "speed", num(b->speed[k]));
        json_object_set_new(ob, "orientation", num(b->orientation[k]));
        json_object_set_new(ob, "direction", num(b->direction[k]));
        json_array_append_new(objs, ob);
    }
    json_object_set_new(o, "objects", objs);
    return o;
}

json_t *app_json_session(const ing_session_t *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "session", json_integer((json_int_t)s->id));
    json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
    json_t *meta = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(meta, s->keys[i], json_string(s->values[i] ? s->values[i] : ""));
    json_object_set_new(o, "meta", meta);
    return o;
}

void app_json_print(FILE *f, json_t *o)
{
    json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    fputc('\n', f);
    json_decref(o);
}
