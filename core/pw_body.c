/*
 * pw_body: msgpack result bodies through msgpack-c's packer (writing) and
 * msgpack_unpack (reading, off the hot path).
 */
#include "core/pw_body.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

void pw_body_init(pw_body_t *b)
{
    memset(b, 0, sizeof *b);
}

void pw_body_fini(pw_body_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void pw_body_clear(pw_body_t *b)
{
    b->len = 0;
    b->failed = false;
}

/* msgpack-c's write callback: append to the body, growing it. */
static int body_write(void *data, const char *buf, size_t len)
{
    pw_body_t *b = data;
    if (b->failed)
        return -1;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            b->failed = true;
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

#define PACKER(b) msgpack_packer pk; msgpack_packer_init(&pk, (b), body_write)

void pw_body_map(pw_body_t *b, uint32_t n) { PACKER(b); msgpack_pack_map(&pk, n); }
void pw_body_array(pw_body_t *b, uint32_t n) { PACKER(b); msgpack_pack_array(&pk, n); }
void pw_body_f64(pw_body_t *b, double v) { PACKER(b); msgpack_pack_double(&pk, v); }
void pw_body_i64(pw_body_t *b, int64_t v) { PACKER(b); msgpack_pack_int64(&pk, v); }
void pw_body_u64(pw_body_t *b, uint64_t v) { PACKER(b); msgpack_pack_uint64(&pk, v); }
void pw_body_nil(pw_body_t *b) { PACKER(b); msgpack_pack_nil(&pk); }

void pw_body_bool(pw_body_t *b, bool v)
{
    PACKER(b);
    if (v)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

void pw_body_str(pw_body_t *b, const char *s, size_t len)
{
    PACKER(b);
    msgpack_pack_str(&pk, len);
    msgpack_pack_str_body(&pk, s, len);
}

void pw_body_key(pw_body_t *b, const char *key)
{
    pw_body_str(b, key, strlen(key));
}

int pw_body_ok(const pw_body_t *b)
{
    return b->failed ? -ENOMEM : 0;
}

/* Unpack body as exactly one object into zone; 0 or -1. */
static int body_unpack(const void *body, size_t len, msgpack_zone *zone,
                       msgpack_object *root)
{
    if (body == NULL || len == 0)
        return -1;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(body, len, &off, zone, root);
    return (r == MSGPACK_UNPACK_SUCCESS && off == len) ? 0 : -1;
}

int pw_body_get_f64(const void *body, size_t len, const char *key, double *out)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return -1;
    msgpack_object root;
    int rc = -1;
    if (body_unpack(body, len, &zone, &root) == 0 && root.type == MSGPACK_OBJECT_MAP) {
        size_t klen = strlen(key);
        for (uint32_t i = 0; i < root.via.map.size; i++) {
            const msgpack_object_kv *kv = &root.via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != klen ||
                memcmp(kv->key.via.str.ptr, key, klen) != 0)
                continue;
            const msgpack_object *v = &kv->val;
            if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32) {
                *out = v->via.f64;
                rc = 0;
            } else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                *out = (double)v->via.u64;
                rc = 0;
            } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                *out = (double)v->via.i64;
                rc = 0;
            }
            break;
        }
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

typedef struct jout {
    char *p;
    size_t len, cap;
    int failed;
} jout_t;

static void jput(jout_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jput(jout_t *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->failed = 1;
        return;
    }
    o->len += (size_t)n;
}

static void jstr(jout_t *o, const char *s, size_t len)
{
    jput(o, "\"");
    for (size_t i = 0; i < len && !o->failed; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            jput(o, "\\%c", c);
        else if (c < 0x20)
            jput(o, "\\u%04x", c);
        else
            jput(o, "%c", c);
    }
    jput(o, "\"");
}

static void jobj(jout_t *o, const msgpack_object *v, int depth)
{
    if (depth > 32) {
        o->failed = 1;
        return;
    }
    switch (v->type) {
    case MSGPACK_OBJECT_NIL:
        jput(o, "null");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        jput(o, v->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        jput(o, "%llu", (unsigned long long)v->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        jput(o, "%lld", (long long)v->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isfinite(v->via.f64))
            jput(o, "%.17g", v->via.f64);
        else
            jput(o, "null");
        break;
    case MSGPACK_OBJECT_STR:
        jstr(o, v->via.str.ptr, v->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        jput(o, "[");
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            if (i)
                jput(o, ",");
            jobj(o, &v->via.array.ptr[i], depth + 1);
        }
        jput(o, "]");
        break;
    case MSGPACK_OBJECT_MAP:
        jput(o, "{");
        for (uint32_t i = 0; i < v->via.map.size; i++) {
            const msgpack_object_kv *kv = &v->via.map.ptr[i];
            if (i)
                jput(o, ",");
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                o->failed = 1;
                return;
            }
            jstr(o, kv->key.via.str.ptr, kv->key.via.str.size);
            jput(o, ":");
            jobj(o, &kv->val, depth + 1);
        }
        jput(o, "}");
        break;
    default:
        o->failed = 1; /* bin and ext have no JSON form here */
        break;
    }
}

long pw_body_to_json(const void *body, size_t len, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return -1;
    msgpack_object root;
    jout_t o = {out, 0, cap, 0};
    if (body_unpack(body, len, &zone, &root) == 0)
        jobj(&o, &root, 0);
    else
        o.failed = 1;
    msgpack_zone_destroy(&zone);
    if (o.failed) {
        out[0] = '\0';
        return -1;
    }
    return (long)o.len;
}
