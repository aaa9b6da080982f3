#include "core/pw_record.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Grow *p (elements of size sz) from old to cap elements; 0 or -ENOMEM. */
static int grow(void **p, size_t sz, size_t cap)
{
    if (cap > SIZE_MAX / sz)
        return -ENOMEM;
    void *q = realloc(*p, cap * sz);
    if (q == NULL)
        return -ENOMEM;
    *p = q;
    return 0;
}

/* Next capacity: at least need, doubling so pushes stay amortised O(1). */
static size_t next_cap(size_t cap, size_t need)
{
    size_t c = cap ? cap : 64;
    while (c < need)
        c *= 2;
    return c;
}

void pw_points_init(pw_points_t *b)
{
    memset(b, 0, sizeof *b);
}

int pw_points_reserve(pw_points_t *b, size_t cap)
{
    if (cap <= b->cap)
        return 0;
    /* Grow every column first; only then publish the new capacity, so a
     * failure leaves a batch whose columns all hold at least b->cap. */
    if (grow((void **)&b->ts_ns, sizeof *b->ts_ns, cap) ||
        grow((void **)&b->entity, sizeof *b->entity, cap) ||
        grow((void **)&b->channel, sizeof *b->channel, cap) ||
        grow((void **)&b->value, sizeof *b->value, cap))
        return -ENOMEM;
    b->cap = cap;
    return 0;
}

int pw_points_push(pw_points_t *b, const pw_point_t *p)
{
    if (b->n == b->cap) {
        int rc = pw_points_reserve(b, next_cap(b->cap, b->n + 1));
        if (rc)
            return rc;
    }
    b->ts_ns[b->n] = p->ts_ns;
    b->entity[b->n] = p->entity;
    b->channel[b->n] = p->channel;
    b->value[b->n] = p->value;
    b->n++;
    return 0;
}

void pw_points_clear(pw_points_t *b)
{
    b->n = 0;
}

void pw_points_fini(pw_points_t *b)
{
    free(b->ts_ns);
    free(b->entity);
    free(b->channel);
    free(b->value);
    memset(b, 0, sizeof *b);
}

void pw_frames_init(pw_frames_t *b)
{
    memset(b, 0, sizeof *b);
}

int pw_frames_reserve(pw_frames_t *b, size_t frames, size_t objects)
{
    if (frames > b->cap) {
        if (grow((void **)&b->ts_ns, sizeof *b->ts_ns, frames) ||
            grow((void **)&b->session, sizeof *b->session, frames) ||
            grow((void **)&b->label, sizeof *b->label * PW_FRAME_LABELS,
                 frames) ||
            grow((void **)&b->nobj, sizeof *b->nobj, frames) ||
            grow((void **)&b->first, sizeof *b->first, frames))
            return -ENOMEM;
        b->cap = frames;
    }
    if (objects > b->obj_cap) {
        if (grow((void **)&b->entity, sizeof *b->entity, objects) ||
            grow((void **)&b->team, sizeof *b->team, objects) ||
            grow((void **)&b->x, sizeof *b->x, objects) ||
            grow((void **)&b->y, sizeof *b->y, objects) ||
            grow((void **)&b->speed, sizeof *b->speed, objects) ||
            grow((void **)&b->orientation, sizeof *b->orientation, objects) ||
            grow((void **)&b->direction, sizeof *b->direction, objects))
            return -ENOMEM;
        b->obj_cap = objects;
    }
    return 0;
}

int pw_frames_push(pw_frames_t *b, int64_t ts_ns, uint64_t session,
                   const uint32_t *labels, const pw_object_t *objs,
                   uint16_t nobj)
{
    size_t fcap = b->n < b->cap ? b->cap : next_cap(b->cap, b->n + 1);
    size_t need = b->nobj_total + nobj;
    size_t ocap = need <= b->obj_cap ? b->obj_cap : next_cap(b->obj_cap, need);
    int rc = pw_frames_reserve(b, fcap, ocap);
    if (rc)
        return rc;
    size_t i = b->n, o = b->nobj_total;
    b->ts_ns[i] = ts_ns;
    b->session[i] = session;
    for (int l = 0; l < PW_FRAME_LABELS; l++)
        b->label[i * PW_FRAME_LABELS + l] = labels ? labels[l] : PW_LABEL_NONE;
    b->nobj[i] = nobj;
    b->first[i] = (uint32_t)o;
    for (uint16_t k = 0; k < nobj; k++) {
        b->entity[o + k] = objs[k].entity;
        b->team[o + k] = objs[k].team;
        b->x[o + k] = objs[k].x;
        b->y[o + k] = objs[k].y;
        b->speed[o + k] = objs[k].speed;
        b->orientation[o + k] = objs[k].orientation;
        b->direction[o + k] = objs[k].direction;
    }
    b->n++;
    b->nobj_total = need;
    return 0;
}

void pw_frames_clear(pw_frames_t *b)
{
    b->n = 0;
    b->nobj_total = 0;
}

void pw_frames_fini(pw_frames_t *b)
{
    free(b->ts_ns);
    free(b->session);
    free(b->label);
    free(b->nobj);
    free(b->first);
    free(b->entity);
    free(b->team);
    free(b->x);
    free(b->y);
    free(b->speed);
    free(b->orientation);
    free(b->direction);
    memset(b, 0, sizeof *b);
}

void pw_results_init(pw_results_t *b)
{
    memset(b, 0, sizeof *b);
}

int pw_results_reserve(pw_results_t *b, size_t cap)
{
    if (cap <= b->cap)
        return 0;
    if (grow((void **)&b->rec, sizeof *b->rec, cap))
        return -ENOMEM;
    b->cap = cap;
    return 0;
}

int pw_results_push(pw_results_t *b, const pw_result_t *r)
{
    if (b->n == b->cap) {
        int rc = pw_results_reserve(b, next_cap(b->cap, b->n + 1));
        if (rc)
            return rc;
    }
    b->rec[b->n++] = *r;
    return 0;
}

void pw_results_clear(pw_results_t *b)
{
    b->n = 0;
}

void pw_results_fini(pw_results_t *b)
{
    free(b->rec);
    memset(b, 0, sizeof *b);
}
