/*
 * api_hub_render: msgpack walked by hand, so the event loop renders a body
 * in one pass with no unpacked object tree and no allocation.
 */
#include "api/api_hub_render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_buf_init(api_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void api_buf_fini(api_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void api_buf_reset(api_buf_t *b)
{
    b->len = 0;
    b->failed = false;
}

bool api_buf_reserve(api_buf_t *b, size_t n)
{
    if (b->failed)
        return false;
    if (n <= b->cap - b->len)
        return true;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void api_buf_put(api_buf_t *b, const void *d, size_t n)
{
    if (n == 0 || !api_buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

void api_buf_puts(api_buf_t *b, const char *s)
{
    api_buf_put(b, s, strlen(s));
}

/* ---- Reading msgpack ---------------------------------------------------- */

/* What one object's first bytes say. */
typedef enum { MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_F32, MP_F64, MP_STR, MP_BIN, MP_EXT,
               MP_ARRAY, MP_MAP } mp_type_t;

typedef struct mp_head {
    mp_type_t type;
    uint64_t u;      /* MP_UINT value, MP_BOOL 0/1; count for arrays and maps */
    int64_t i;       /* MP_INT value */
    double f;        /* MP_F32, MP_F64 */
    size_t data;     /* offset of a str/bin/ext payload */
    size_t data_len; /* its length */
} mp_head_t;

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

/*
 * Read the head of the object at b[*off..len): its type and scalar value,
 * or where its payload is; *off moves past the head and any payload (not
 * past array or map elements). -1 when truncated or byte 0xc1.
 */
static int mp_head(const uint8_t *b, size_t len, size_t *off, mp_head_t *h)
{
    size_t o = *off;
    if (o >= len)
        return -1;
    uint8_t c = b[o++];
    size_t need = 0; /* bytes of the head after c */
    int lenbytes = 0; /* for str/bin/ext/array/map: bytes of the length */
    memset(h, 0, sizeof *h);
    if (c <= 0x7f) {
        h->type = MP_UINT;
        h->u = c;
    } else if (c >= 0xe0) {
        h->type = MP_INT;
        h->i = (int8_t)c;
    } else if ((c & 0xf0) == 0x80) {
        h->type = MP_MAP;
        h->u = c & 0x0f;
    } else if ((c & 0xf0) == 0x90) {
        h->type = MP_ARRAY;
        h->u = c & 0x0f;
    } else if ((c & 0xe0) == 0xa0) {
        h->type = MP_STR;
        h->data_len = c & 0x1f;
    } else {
        switch (c) {
        case 0xc0: h->type = MP_NIL; break;
        case 0xc2: case 0xc3: h->type = MP_BOOL; h->u = c == 0xc3; break;
        case 0xc4: case 0xc5: case 0xc6: h->type = MP_BIN; lenbytes = 1 << (c - 0xc4); break;
        case 0xc7: case 0xc8: case 0xc9: h->type = MP_EXT; lenbytes = 1 << (c - 0xc7); break;
        case 0xca: h->type = MP_F32; need = 4; break;
        case 0xcb: h->type = MP_F64; need = 8; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            h->type = MP_UINT; need = (size_t)1 << (c - 0xcc); break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            h->type = MP_INT; need = (size_t)1 << (c - 0xd0); break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            h->type = MP_EXT; h->data_len = ((size_t)1 << (c - 0xd4)) + 1; break;
        case 0xd9: case 0xda: case 0xdb: h->type = MP_STR; lenbytes = 1 << (c - 0xd9); break;
        case 0xdc: case 0xdd: h->type = MP_ARRAY; lenbytes = 2 << (c - 0xdc); break;
        case 0xde: case 0xdf: h->type = MP_MAP; lenbytes = 2 << (c - 0xde); break;
        default: return -1; /* 0xc1: never used */
        }
    }
    if (need) {
        if (len - o < need)
            return -1;
        uint64_t v = be(b + o, (int)need);
        o += need;
        if (h->type == MP_UINT) {
            h->u = v;
        } else if (h->type == MP_INT) {
            int shift = 64 - 8 * (int)need; /* sign-extend the big-endian value */
            h->i = (int64_t)(v << shift) >> shift;
            if (h->i >= 0) { /* encoders may use a signed type for any value */
                h->type = MP_UINT;
                h->u = (uint64_t)h->i;
            }
        } else if (h->type == MP_F32) {
            uint32_t w = (uint32_t)v;
            float f;
            memcpy(&f, &w, sizeof f);
            h->f = f;
        } else {
            memcpy(&h->f, &v, sizeof h->f);
        }
    }
    if (lenbytes) {
        if (len - o < (size_t)lenbytes)
            return -1;
        uint64_t n = be(b + o, lenbytes);
        o += (size_t)lenbytes;
        if (h->type == MP_ARRAY || h->type == MP_MAP)
            h->u = n;
        else
            h->data_len = (size_t)n + (h->type == MP_EXT); /* ext: type byte first */
    }
    if (h->type == MP_STR || h->type == MP_BIN || h->type == MP_EXT) {
        if (len - o < h->data_len)
            return -1;
        h->data = o;
        o += h->data_len;
    }
    *off = o;
    return 0;
}

static int mp_skip_depth(const uint8_t *b, size_t len, size_t *off, int depth)
{
    mp_head_t h;
    if (depth > API_RENDER_DEPTH || mp_head(b, len, off, &h))
        return -1;
    if (h.type != MP_ARRAY && h.type != MP_MAP)
        return 0;
    uint64_t items = h.type == MP_MAP ? h.u * 2 : h.u;
    for (uint64_t k = 0; k < items; k++) /* each item takes a byte: ends at len */
        if (mp_skip_depth(b, len, off, depth + 1))
            return -1;
    return 0;
}

int api_mp_skip(const uint8_t *body, size_t len, size_t *off)
{
    return mp_skip_depth(body, len, off, 0);
}

/* ---- JSON --------------------------------------------------------------- */

void api_json_str(api_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!api_buf_reserve(out, n + 2))
        return;
    out->p[out->len++] = '"';
    size_t run = 0; /* bytes copied as they are, flushed in one memcpy */
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        api_buf_put(out, s + run, k - run);
        run = k + 1;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t elen = 2;
        if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        api_buf_put(out, esc, elen);
    }
    api_buf_put(out, s + run, n - run);
    api_buf_put(out, "\"", 1);
}

void api_json_u64(api_buf_t *out, uint64_t v)
{
    char tmp[24];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    api_buf_put(out, tmp + k, sizeof tmp - k);
}

void api_json_i64(api_buf_t *out, int64_t v)
{
    if (v < 0) {
        api_buf_put(out, "-", 1);
        api_json_u64(out, (uint64_t)0 - (uint64_t)v);
    } else {
        api_json_u64(out, (uint64_t)v);
    }
}

static int json_value(api_buf_t *out, const uint8_t *b, size_t len, size_t *off, int depth)
{
    mp_head_t h;
    if (depth > API_RENDER_DEPTH || mp_head(b, len, off, &h))
        return -1;
    switch (h.type) {
    case MP_NIL:
    case MP_BIN:
    case MP_EXT:
        api_buf_put(out, "null", 4);
        break;
    case MP_BOOL:
        api_buf_puts(out, h.u ? "true" : "false");
        break;
    case MP_UINT:
        api_json_u64(out, h.u);
        break;
    case MP_INT:
        api_json_i64(out, h.i);
        break;
    case MP_F32:
    case MP_F64:
        if (isfinite(h.f) && api_buf_reserve(out, 32)) {
            int n = snprintf(out->p + out->len, 32, "%.17g", h.f);
            if (n > 0 && n < 32)
                out->len += (size_t)n;
        } else {
            api_buf_put(out, "null", 4);
        }
        break;
    case MP_STR:
        api_json_str(out, (const char *)b + h.data, h.data_len);
        break;
    case MP_ARRAY:
        api_buf_put(out, "[", 1);
        for (uint64_t k = 0; k < h.u; k++) {
            if (k)
                api_buf_put(out, ",", 1);
            if (json_value(out, b, len, off, depth + 1))
                return -1;
        }
        api_buf_put(out, "]", 1);
        break;
    case MP_MAP:
        api_buf_put(out, "{", 1);
        for (uint64_t k = 0; k < h.u; k++) {
            mp_head_t key;
            if (mp_head(b, len, off, &key) || key.type != MP_STR)
                return -1;
            if (k)
                api_buf_put(out, ",", 1);
            api_json_str(out, (const char *)b + key.data, key.data_len);
            api_buf_put(out, ":", 1);
            if (json_value(out, b, len, off, depth + 1))
                return -1;
        }
        api_buf_put(out, "}", 1);
        break;
    }
    return out->failed ? -1 : 0;
}

static bool field_listed(const api_fields_t *f, const uint8_t *s, size_t n)
{
    for (size_t k = 0; k < f->n; k++)
        if (f->len[k] == n && memcmp(f->name[k], s, n) == 0)
            return true;
    return false;
}

int api_render_json(api_buf_t *out, const uint8_t *body, size_t len, const api_fields_t *fields)
{
    size_t off = 0;
    if (fields == NULL)
        return json_value(out, body, len, &off, 0);
    mp_head_t h;
    if (mp_head(body, len, &off, &h))
        return -1;
    api_buf_put(out, "{", 1);
    bool first = true;
    for (uint64_t k = 0; h.type == MP_MAP && k < h.u; k++) {
        mp_head_t key;
        if (mp_head(body, len, &off, &key) || key.type != MP_STR)
            return -1;
        if (!field_listed(fields, body + key.data, key.data_len)) {
            if (api_mp_skip(body, len, &off))
                return -1;
            continue;
        }
        if (!first)
            api_buf_put(out, ",", 1);
        first = false;
        api_json_str(out, (const char *)body + key.data, key.data_len);
        api_buf_put(out, ":", 1);
        if (json_value(out, body, len, &off, 1))
            return -1;
    }
    api_buf_put(out, "}", 1);
    return out->failed ? -1 : 0;
}

/* ---- msgpack ------------------------------------------------------------ */

static void mp_be(api_buf_t *out, uint8_t tag, uint64_t v, int n)
{
    uint8_t tmp[9];
    tmp[0] = tag;
    for (int k = 0; k < n; k++)
        tmp[1 + k] = (uint8_t)(v >> (8 * (n - 1 - k)));
    api_buf_put(out, tmp, (size_t)n + 1);
}

void api_mp_map(api_buf_t *out, uint32_t n)
{
    if (n < 16)
        mp_be(out, (uint8_t)(0x80 | n), 0, 0);
    else if (n <= UINT16_MAX)
        mp_be(out, 0xde, n, 2);
    else
        mp_be(out, 0xdf, n, 4);
}

void api_mp_str(api_buf_t *out, const char *s, size_t n)
{
    if (n < 32)
        mp_be(out, (uint8_t)(0xa0 | n), 0, 0);
    else if (n <= UINT8_MAX)
        mp_be(out, 0xd9, n, 1);
    else if (n <= UINT16_MAX)
        mp_be(out, 0xda, n, 2);
    else
        mp_be(out, 0xdb, n, 4);
    api_buf_put(out, s, n);
}

void api_mp_u64(api_buf_t *out, uint64_t v)
{
    if (v < 128)
        mp_be(out, (uint8_t)v, 0, 0);
    else if (v <= UINT8_MAX)
        mp_be(out, 0xcc, v, 1);
    else if (v <= UINT16_MAX)
        mp_be(out, 0xcd, v, 2);
    else if (v <= UINT32_MAX)
        mp_be(out, 0xce, v, 4);
    else
        mp_be(out, 0xcf, v, 8);
}

void api_mp_i64(api_buf_t *out, int64_t v)
{
    if (v >= 0)
        api_mp_u64(out, (uint64_t)v);
    else if (v >= -32)
        mp_be(out, (uint8_t)v, 0, 0);
    else if (v >= INT8_MIN)
        mp_be(out, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        mp_be(out, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        mp_be(out, 0xd2, (uint64_t)v, 4);
    else
        mp_be(out, 0xd3, (uint64_t)v, 8);
}

int api_render_msgpack(api_buf_t *out, const uint8_t *body, size_t len,
                       const api_fields_t *fields)
{
    if (fields == NULL) {
        api_buf_put(out, body, len);
        return out->failed ? -1 : 0;
    }
    /* Two passes: count the listed pairs for the map header, then copy them. */
    uint32_t pairs = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        mp_head_t h;
        if (mp_head(body, len, &off, &h))
            return -1;
        if (pass == 1)
            api_mp_map(out, pairs);
        for (uint64_t k = 0; h.type == MP_MAP && k < h.u; k++) {
            size_t pair = off;
            mp_head_t key;
            if (mp_head(body, len, &off, &key) || key.type != MP_STR ||
                api_mp_skip(body, len, &off))
                return -1;
            if (!field_listed(fields, body + key.data, key.data_len))
                continue;
            if (pass == 0)
                pairs++;
            else
                api_buf_put(out, body + pair, off - pair);
        }
    }
    return out->failed ? -1 : 0;
}
