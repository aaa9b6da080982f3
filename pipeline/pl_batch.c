/*
 * pl_batch: batches on graph edges, result byte arenas and byte buffers.
 */
#include "pipeline/pl_batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pl_batch_init(pl_batch_t *b, enum pl_kind kind)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    pw_points_init(&b->pts);
    pw_frames_init(&b->frames);
    pl_results_init(&b->res);
}

void pl_batch_clear(pl_batch_t *b)
{
    pw_points_clear(&b->pts);
    pw_frames_clear(&b->frames);
    pl_results_clear(&b->res);
    b->ingest_ns = 0;
}

void pl_batch_fini(pl_batch_t *b)
{
    pw_points_fini(&b->pts);
    pw_frames_fini(&b->frames);
    pl_results_fini(&b->res);
    free(b->key);
    b->key = NULL;
    b->key_cap = 0;
}

size_t pl_batch_count(const pl_batch_t *b)
{
    switch (b->kind) {
    case PL_POINTS:
        return b->pts.n;
    case PL_FRAMES:
        return b->frames.n;
    case PL_RESULTS:
        return b->res.rec.n;
    }
    return 0;
}

int pl_batch_reserve_keys(pl_batch_t *b, size_t n)
{
    if (n <= b->key_cap)
        return 0;
    size_t cap = b->key_cap ? b->key_cap : 256;
    while (cap < n)
        cap *= 2;
    uint64_t *k = realloc(b->key, cap * sizeof *k);
    if (k == NULL)
        return -ENOMEM;
    b->key = k;
    b->key_cap = cap;
    return 0;
}

int pl_batch_reserve_points(pl_batch_t *b, size_t more)
{
    size_t need = b->pts.n + more;
    if (need > b->pts.cap) {
        size_t cap = b->pts.cap ? b->pts.cap : 256;
        while (cap < need)
            cap *= 2;
        if (pw_points_reserve(&b->pts, cap))
            return -ENOMEM;
    }
    if (b->keyed && pl_batch_reserve_keys(b, b->pts.cap))
        return -ENOMEM;
    return 0;
}

int pl_batch_add_point(pl_batch_t *dst, int64_t ts_ns, uint32_t entity,
                       uint32_t channel, double value, uint64_t key)
{
    if (pl_batch_reserve_points(dst, 1))
        return -ENOMEM;
    size_t j = dst->pts.n++;
    dst->pts.ts_ns[j] = ts_ns;
    dst->pts.entity[j] = entity;
    dst->pts.channel[j] = channel;
    dst->pts.value[j] = value;
    if (dst->keyed)
        dst->key[j] = key;
    return 0;
}

int pl_batch_push_point(pl_batch_t *dst, const pl_batch_t *src, size_t i)
{
    return pl_batch_add_point(dst, src->pts.ts_ns[i], src->pts.entity[i],
                              src->pts.channel[i], src->pts.value[i],
                              src->keyed ? src->key[i] : 0);
}

int pl_batch_push_frame(pl_batch_t *dst, const pl_batch_t *src, size_t i)
{
    const pw_frames_t *f = &src->frames;
    pw_frames_t *d = &dst->frames;
    size_t nobj = f->nobj[i];
    if (d->n + 1 > d->cap || d->nobj_total + nobj > d->obj_cap) {
        size_t fc = d->cap, oc = d->obj_cap;
        while (fc < d->n + 1)
            fc = fc ? fc * 2 : 64;
        while (oc < d->nobj_total + nobj)
            oc = oc ? oc * 2 : 1024;
        if (pw_frames_reserve(d, fc, oc))
            return -ENOMEM;
    }
    if (dst->keyed && pl_batch_reserve_keys(dst, d->cap))
        return -ENOMEM;
    size_t j = d->n, o = d->nobj_total, s = f->first[i];
    d->ts_ns[j] = f->ts_ns[i];
    d->session[j] = f->session[i];
    memcpy(&d->label[j * PW_FRAME_LABELS], &f->label[i * PW_FRAME_LABELS],
           PW_FRAME_LABELS * sizeof *d->label);
    d->nobj[j] = (uint16_t)nobj;
    d->first[j] = (uint32_t)o;
    if (nobj > 0) { /* an empty frame may meet arrays not allocated yet */
        memcpy(&d->entity[o], &f->entity[s], nobj * sizeof *d->entity);
        memcpy(&d->team[o], &f->team[s], nobj * sizeof *d->team);
        memcpy(&d->x[o], &f->x[s], nobj * sizeof *d->x);
        memcpy(&d->y[o], &f->y[s], nobj * sizeof *d->y);
        memcpy(&d->speed[o], &f->speed[s], nobj * sizeof *d->speed);
        memcpy(&d->orientation[o], &f->orientation[s], nobj * sizeof *d->orientation);
        memcpy(&d->direction[o], &f->direction[s], nobj * sizeof *d->direction);
    }
    d->n++;
    d->nobj_total += nobj;
    if (dst->keyed)
        dst->key[j] = src->keyed ? src->key[i] : f->session[i];
    return 0;
}

/* ---- results ------------------------------------------------------------ */

void pl_results_init(pl_results_t *r)
{
    memset(r, 0, sizeof *r);
    pw_results_init(&r->rec);
}

void pl_results_clear(pl_results_t *r)
{
    pw_results_clear(&r->rec);
    r->len = 0;
}

void pl_results_fini(pl_results_t *r)
{
    pw_results_fini(&r->rec);
    free(r->bytes);
    r->bytes = NULL;
    r->len = r->cap = 0;
}

/* Grow the byte arena to hold n more bytes, rebasing every view. */
static int results_room(pl_results_t *r, size_t n)
{
    if (r->len + n <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n)
        cap *= 2;
    /* Views become offsets across the realloc, then pointers again. */
    uintptr_t old = (uintptr_t)r->bytes;
    uint8_t *nb = realloc(r->bytes, cap);
    if (nb == NULL)
        return -ENOMEM;
    if ((uintptr_t)nb != old) {
        for (size_t i = 0; i < r->rec.n; i++) {
            pw_result_t *x = &r->rec.rec[i];
            x->topic = (const char *)nb + ((uintptr_t)x->topic - old);
            x->key = (const char *)nb + ((uintptr_t)x->key - old);
            x->body = nb + ((uintptr_t)x->body - old);
        }
    }
    r->bytes = nb;
    r->cap = cap;
    return 0;
}

int pl_results_add(pl_results_t *r, int64_t ts_ns, uint32_t version,
                   const char *topic, size_t topic_len, const char *key,
                   size_t key_len, const void *body, size_t body_len)
{
    if (r->rec.n == r->rec.cap &&
        pw_results_reserve(&r->rec, r->rec.cap ? r->rec.cap * 2 : 64))
        return -ENOMEM;
    if (results_room(r, topic_len + key_len + body_len))
        return -ENOMEM;
    uint8_t *p = r->bytes + r->len;
    if (topic_len)
        memcpy(p, topic, topic_len);
    if (key_len)
        memcpy(p + topic_len, key, key_len);
    if (body_len)
        memcpy(p + topic_len + key_len, body, body_len);
    pw_result_t *x = &r->rec.rec[r->rec.n++];
    x->ts_ns = ts_ns;
    x->version = version;
    x->topic_len = (uint32_t)topic_len;
    x->key_len = (uint32_t)key_len;
    x->body_len = (uint32_t)body_len;
    x->topic = (const char *)p;
    x->key = (const char *)p + topic_len;
    x->body = p + topic_len + key_len;
    r->len += topic_len + key_len + body_len;
    return 0;
}

int pl_results_append(pl_results_t *dst, const pw_results_t *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const pw_result_t *x = &src->rec[i];
        if (pl_results_add(dst, x->ts_ns, x->version, x->topic, x->topic_len,
                           x->key, x->key_len, x->body, x->body_len))
            return -ENOMEM;
    }
    return 0;
}

/* ---- byte buffers ------------------------------------------------------- */

void pl_buf_init(pl_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void pl_buf_fini(pl_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int pl_buf_reserve(pl_buf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int pl_buf_put(pl_buf_t *b, const void *p, size_t n)
{
    if (pl_buf_reserve(b, n))
        return -ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Values are stored little-endian (every target we build for is). */
int pl_buf_put_u32(pl_buf_t *b, uint32_t v) { return pl_buf_put(b, &v, 4); }
int pl_buf_put_u64(pl_buf_t *b, uint64_t v) { return pl_buf_put(b, &v, 8); }
int pl_buf_put_i64(pl_buf_t *b, int64_t v) { return pl_buf_put(b, &v, 8); }
int pl_buf_put_f64(pl_buf_t *b, double v) { return pl_buf_put(b, &v, 8); }

void pl_rd_init(pl_rd_t *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->failed = false;
}

int pl_rd_get(pl_rd_t *r, void *out, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        memset(out, 0, n);
        return -1;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

int pl_rd_u32(pl_rd_t *r, uint32_t *v) { return pl_rd_get(r, v, 4); }
int pl_rd_u64(pl_rd_t *r, uint64_t *v) { return pl_rd_get(r, v, 8); }
int pl_rd_i64(pl_rd_t *r, int64_t *v) { return pl_rd_get(r, v, 8); }
int pl_rd_f64(pl_rd_t *r, double *v) { return pl_rd_get(r, v, 8); }
