/*
 * pw_codec: msgpack batch encoder and decoder (format in pw_codec.h).
 *
 * Decoding is three steps:
 *  1. scan(): our own bounds walk over the whole message. It proves every
 *     length and element count fits in the input before msgpack-c sees it,
 *     and it knows the byte offset of every top-level key and value, which
 *     msgpack-c does not report. Both matter: msgpack-c allocates
 *     count * sizeof(msgpack_object) as soon as it reads a container
 *     header, so without the walk five bytes (dd 05 f5 e1 00, "array of
 *     100M") make it malloc 4 GiB; and on a parse error it returns no
 *     offset at all.
 *  2. msgpack_unpack() into the decoder's zone, cleared after each batch.
 *     We do not use msgpack_unpack_next(): in msgpack-c 4.0 it frees and
 *     re-creates its zone on every call (two mallocs a batch), while a
 *     caller's zone plus msgpack_zone_clear() allocates nothing once warm.
 *     bin and str objects point into the input: nothing is copied.
 *  3. Checks on the top-level fields (version, kind, keys, types, sizes),
 *     then one memcpy per column into the caller's batch.
 * Encoding packs with msgpack_packer straight into a pw_codec_buf_t that is
 * sized once per batch, then copies each column in one write.
 */
#include "core/pw_codec.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "core/pw_error.h"
#include "core/pw_record.h"

/* Columns are memcpy'd between the wire and the batch: the host must store
 * integers and floats exactly as the wire does. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pw_codec copies little-endian columns with memcpy: it needs a little-endian host"
#endif
/* GCC states the word order of doubles separately (clang does not). */
#if defined(__FLOAT_WORD_ORDER__) && \
    __FLOAT_WORD_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pw_codec needs little-endian doubles"
#endif
_Static_assert(FLT_RADIX == 2 && FLT_MANT_DIG == 24 && DBL_MANT_DIG == 53 &&
               sizeof(float) == 4 && sizeof(double) == 8,
               "pw_codec needs IEEE 754 binary32 and binary64 floats");
_Static_assert(PW_FRAME_LABELS == 2,
               "format version 1 carries two labels per frame: a change "
               "needs a new PW_CODEC_VERSION");
_Static_assert(PW_CODEC_MAX_OBJECTS <= UINT32_MAX, "first[] is uint32_t");
_Static_assert(PW_CODEC_MAX_RECORDS <= PW_CODEC_MAX_OBJECTS,
               "round_cap() stops at PW_CODEC_MAX_OBJECTS");

/* Top-level keys a batch map may have. Version 1 uses at most 15; the
 * room above lets a newer version be reported as such, not as "too many
 * keys", while bounding the work and memory one message can cost. */
#define SCAN_MAX_KEYS 32

/* Nesting scan() follows inside a value (no valid value nests at all);
 * msgpack-c itself gives up at 32. */
#define SCAN_MAX_DEPTH 16

/* Bytes of the decoder zone's first chunk: a 32-key map takes 1.5 KiB. */
#define ZONE_CHUNK 4096

/* Upper bound of a batch's bytes outside its column payloads: map header,
 * keys and value headers (15 keys of at most 1 + 11 + 9 bytes). */
#define ENC_OVERHEAD 512

/* Longest key or kind name quoted in an error message. */
#define QUOTE_MAX 32

/* ---------------------------------------------------------------------- */
/* The keys of each kind: one table for the encoder and the decoder.       */

enum val_type { V_UINT, V_STR, V_BIN };

/* What a bin column's size is a multiple of. */
enum per { PER_NONE, PER_RECORD, PER_OBJECT, PER_BLOB };

typedef struct keyspec {
    const char *name;
    uint8_t type;  /* enum val_type */
    uint8_t per;   /* enum per */
    uint8_t width; /* bytes per record or object */
} keyspec_t;

/* Every kind starts with these three keys, in this order. */
enum { K_PW, K_KIND, K_N, K_COMMON };

enum { P_TS = K_COMMON, P_ENTITY, P_CHANNEL, P_VALUE, P_NKEYS };
enum {
    F_OBJECTS = K_COMMON, F_TS, F_SESSION, F_LABEL, F_NOBJ, F_ENTITY, F_TEAM,
    F_X, F_Y, F_SPEED, F_ORIENTATION, F_DIRECTION, F_NKEYS
};
enum {
    R_TS = K_COMMON, R_VERSION, R_TOPIC_LEN, R_KEY_LEN, R_BODY_LEN, R_TOPIC,
    R_KEY, R_BODY, R_NKEYS
};

#define COMMON_KEYS                                                           \
    {"pw", V_UINT, PER_NONE, 0}, {"kind", V_STR, PER_NONE, 0},                \
        {"n", V_UINT, PER_NONE, 0}

static const keyspec_t points_keys[P_NKEYS] = {
    COMMON_KEYS,
    [P_TS] = {"ts_ns", V_BIN, PER_RECORD, 8},
    [P_ENTITY] = {"entity", V_BIN, PER_RECORD, 4},
    [P_CHANNEL] = {"channel", V_BIN, PER_RECORD, 4},
    [P_VALUE] = {"value", V_BIN, PER_RECORD, 8},
};

static const keyspec_t frames_keys[F_NKEYS] = {
    COMMON_KEYS,
    [F_OBJECTS] = {"objects", V_UINT, PER_NONE, 0},
    [F_TS] = {"ts_ns", V_BIN, PER_RECORD, 8},
    [F_SESSION] = {"session", V_BIN, PER_RECORD, 8},
    [F_LABEL] = {"label", V_BIN, PER_RECORD, 4 * PW_FRAME_LABELS},
    [F_NOBJ] = {"nobj", V_BIN, PER_RECORD, 2},
    [F_ENTITY] = {"entity", V_BIN, PER_OBJECT, 4},
    [F_TEAM] = {"team", V_BIN, PER_OBJECT, 1},
    [F_X] = {"x", V_BIN, PER_OBJECT, 4},
    [F_Y] = {"y", V_BIN, PER_OBJECT, 4},
    [F_SPEED] = {"speed", V_BIN, PER_OBJECT, 4},
    [F_ORIENTATION] = {"orientation", V_BIN, PER_OBJECT, 4},
    [F_DIRECTION] = {"direction", V_BIN, PER_OBJECT, 4},
};

static const keyspec_t results_keys[R_NKEYS] = {
    COMMON_KEYS,
    [R_TS] = {"ts_ns", V_BIN, PER_RECORD, 8},
    [R_VERSION] = {"version", V_BIN, PER_RECORD, 4},
    [R_TOPIC_LEN] = {"topic_len", V_BIN, PER_RECORD, 4},
    [R_KEY_LEN] = {"key_len", V_BIN, PER_RECORD, 4},
    [R_BODY_LEN] = {"body_len", V_BIN, PER_RECORD, 4},
    [R_TOPIC] = {"topic", V_BIN, PER_BLOB, 1},
    [R_KEY] = {"key", V_BIN, PER_BLOB, 1},
    [R_BODY] = {"body", V_BIN, PER_BLOB, 1},
};

typedef struct kindspec {
    const char *name;
    const keyspec_t *keys;
    size_t nkeys;
} kindspec_t;

static const kindspec_t kinds[] = {
    [PW_CODEC_POINTS] = {"points", points_keys, P_NKEYS},
    [PW_CODEC_FRAMES] = {"frames", frames_keys, F_NKEYS},
    [PW_CODEC_RESULTS] = {"results", results_keys, R_NKEYS},
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

const char *pw_codec_kind_name(enum pw_codec_kind kind)
{
    if ((size_t)kind >= NKINDS || kinds[kind].name == NULL)
        return "unknown";
    return kinds[kind].name;
}

/* ---------------------------------------------------------------------- */
/* Small helpers.                                                          */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Little-endian loads from unaligned input; the host is little-endian. */
static uint16_t le16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int64_t le64s(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Copy n bytes unless n is 0 (empty columns may have NULL pointers, which
 * memcpy does not allow even for 0 bytes). */
static void copy(void *dst, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}

/* Quote untrusted bytes (a key, a kind) for an error message: printable
 * ASCII kept, anything else as '?', long names cut with "...". */
static const char *quote(char dst[QUOTE_MAX + 4], const char *src, size_t n)
{
    size_t k = n < QUOTE_MAX ? n : QUOTE_MAX;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > QUOTE_MAX) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
    return dst;
}

static const char *type_name(int type)
{
    switch (type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_EXT: return "ext";
    default: return "unknown type";
    }
}

/* Smallest power of two >= n, at least 64: batches grow in few steps. */
static size_t round_cap(size_t n)
{
    size_t c = 64;
    while (c < n)
        c <<= 1;
    return c;
}

/* ---------------------------------------------------------------------- */
/* scan(): bounds walk of the message, with offsets.                       */

/* One msgpack header, as read from the wire. */
typedef struct head {
    int type;       /* MSGPACK_OBJECT_* */
    size_t hdr;     /* bytes of type byte plus length or value bytes */
    uint64_t body;  /* payload bytes after the header (str, bin, ext) */
    uint64_t items; /* objects that follow: n of an array, 2n of a map */
    uint64_t u;     /* value of a non-negative integer */
} head_t;

/* Read the header at buf[pos..len). Returns 0, PW_ETRUNC (the header
 * itself is cut) or PW_ECORRUPT (byte 0xc1, never used by msgpack). */
static int read_head(const uint8_t *buf, size_t len, size_t pos, head_t *h,
                     pw_err_t *err)
{
    memset(h, 0, sizeof *h);
    if (pos >= len)
        return pw_err_set(err, PW_ETRUNC,
                          "input ends at byte %zu where a value should start",
                          len);
    const uint8_t c = buf[pos];
    size_t extra = 0; /* length or value bytes after the type byte */
    if (c <= 0x7f) {
        h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        h->u = c;
    } else if (c <= 0x8f) {
        h->type = MSGPACK_OBJECT_MAP;
        h->items = 2u * (c & 0x0fu);
    } else if (c <= 0x9f) {
        h->type = MSGPACK_OBJECT_ARRAY;
        h->items = c & 0x0fu;
    } else if (c <= 0xbf) {
        h->type = MSGPACK_OBJECT_STR;
        h->body = c & 0x1fu;
    } else if (c >= 0xe0) {
        h->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    } else {
        switch (c) {
        case 0xc0: h->type = MSGPACK_OBJECT_NIL; break;
        case 0xc2:
        case 0xc3: h->type = MSGPACK_OBJECT_BOOLEAN; break;
        case 0xc4: h->type = MSGPACK_OBJECT_BIN; extra = 1; break;
        case 0xc5: h->type = MSGPACK_OBJECT_BIN; extra = 2; break;
        case 0xc6: h->type = MSGPACK_OBJECT_BIN; extra = 4; break;
        case 0xc7: h->type = MSGPACK_OBJECT_EXT; extra = 1; break;
        case 0xc8: h->type = MSGPACK_OBJECT_EXT; extra = 2; break;
        case 0xc9: h->type = MSGPACK_OBJECT_EXT; extra = 4; break;
        case 0xca: h->type = MSGPACK_OBJECT_FLOAT32; h->body = 4; break;
        case 0xcb: h->type = MSGPACK_OBJECT_FLOAT64; h->body = 8; break;
        case 0xcc: case 0xd0: extra = 1; break;
        case 0xcd: case 0xd1: extra = 2; break;
        case 0xce: case 0xd2: extra = 4; break;
        case 0xcf: case 0xd3: extra = 8; break;
        case 0xd4: h->type = MSGPACK_OBJECT_EXT; h->body = 2; break;
        case 0xd5: h->type = MSGPACK_OBJECT_EXT; h->body = 3; break;
        case 0xd6: h->type = MSGPACK_OBJECT_EXT; h->body = 5; break;
        case 0xd7: h->type = MSGPACK_OBJECT_EXT; h->body = 9; break;
        case 0xd8: h->type = MSGPACK_OBJECT_EXT; h->body = 17; break;
        case 0xd9: h->type = MSGPACK_OBJECT_STR; extra = 1; break;
        case 0xda: h->type = MSGPACK_OBJECT_STR; extra = 2; break;
        case 0xdb: h->type = MSGPACK_OBJECT_STR; extra = 4; break;
        case 0xdc: h->type = MSGPACK_OBJECT_ARRAY; extra = 2; break;
        case 0xdd: h->type = MSGPACK_OBJECT_ARRAY; extra = 4; break;
        case 0xde: h->type = MSGPACK_OBJECT_MAP; extra = 2; break;
        case 0xdf: h->type = MSGPACK_OBJECT_MAP; extra = 4; break;
        default:
            return pw_err_set(err, PW_ECORRUPT,
                              "byte 0x%02x is not msgpack (at byte %zu)", c,
                              pos);
        }
    }
    h->hdr = 1 + extra;
    if (extra > len - pos - 1)
        return pw_err_set(err, PW_ETRUNC,
                          "truncated %s header at byte %zu: needs %zu bytes, "
                          "%zu left",
                          c >= 0xcc && c <= 0xd3 ? "integer"
                                                 : type_name(h->type),
                          pos, h->hdr, len - pos);
    const uint8_t *p = buf + pos + 1;
    uint64_t v = extra == 1 ? p[0]
               : extra == 2 ? be16(p)
               : extra == 4 ? be32(p)
               : extra == 8 ? be64(p)
                            : 0;
    if (extra == 0) {
        /* Everything was in the type byte. */
    } else if (c >= 0xcc && c <= 0xcf) {
        h->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        h->u = v;
    } else if (c >= 0xd0 && c <= 0xd3) {
        /* Signed: sign-extend from its width; like msgpack-c, a
         * non-negative value counts as a uint. */
        unsigned bits = (unsigned)extra * 8;
        bool neg = (v >> (bits - 1)) & 1u;
        h->type = neg ? MSGPACK_OBJECT_NEGATIVE_INTEGER
                      : MSGPACK_OBJECT_POSITIVE_INTEGER;
        h->u = neg ? 0 : v;
    } else if (h->type == MSGPACK_OBJECT_ARRAY) {
        h->items = v;
    } else if (h->type == MSGPACK_OBJECT_MAP) {
        h->items = 2 * v;
    } else if (h->type == MSGPACK_OBJECT_EXT) {
        h->body = v + 1; /* the ext type byte, then the data */
    } else {
        h->body = v; /* str, bin */
    }
    return 0;
}

/* Step over the value at *pos, checking that everything it declares is in
 * the input; on success *pos is just past it. Messages lack the "batch: "
 * prefix, which scan() adds with the key's name. */
static int skip(const uint8_t *buf, size_t len, size_t *pos, int depth,
                pw_err_t *err)
{
    head_t h;
    size_t at = *pos;
    int rc = read_head(buf, len, at, &h, err);
    if (rc)
        return rc;
    size_t p = at + h.hdr;
    if (h.body > len - p)
        return pw_err_set(err, PW_ETRUNC,
                          "truncated %s at byte %zu: needs %" PRIu64
                          " bytes, %zu left",
                          type_name(h.type), at, h.hdr + h.body, len - at);
    p += (size_t)h.body;
    if (h.items) {
        if (depth >= SCAN_MAX_DEPTH)
            return pw_err_set(err, PW_ECORRUPT,
                              "%s nested deeper than %d levels (at byte %zu)",
                              type_name(h.type), SCAN_MAX_DEPTH, at);
        /* Every element takes at least a byte: a count the rest of the
         * input cannot hold is truncation, caught before any work. */
        if (h.items > len - p)
            return pw_err_set(err, PW_ETRUNC,
                              "truncated %s at byte %zu: %" PRIu64
                              " elements need at least as many bytes, "
                              "%zu left",
                              type_name(h.type), at, h.items, len - p);
        for (uint64_t i = 0; i < h.items; i++) {
            rc = skip(buf, len, &p, depth + 1, err);
            if (rc)
                return rc;
        }
    }
    *pos = p;
    return 0;
}

/* One top-level entry of a batch map. */
typedef struct field {
    size_t key_off;     /* byte offset of the key */
    size_t val_off;     /* byte offset of the value */
    int key_type;       /* MSGPACK_OBJECT_* of the key */
    const char *key;    /* the key's bytes if it is a str, else NULL */
    uint32_t key_len;
    int type;           /* MSGPACK_OBJECT_* of the value */
    uint64_t u;         /* the value, if a non-negative integer */
    const uint8_t *ptr; /* the payload, if a str or bin (into the input) */
    uint32_t len;       /* payload bytes */
} field_t;

/* A scanned batch: its top-level entries in wire order. */
typedef struct view {
    const uint8_t *base;
    size_t len;
    size_t nfield;
    field_t f[SCAN_MAX_KEYS];
} view_t;

/* Walk the map at the front of buf[0..len): at most SCAN_MAX_KEYS entries,
 * every length inside the input. Sets *end to the byte after the map and
 * fills offsets and keys of v->f; values are filled later (from msgpack-c,
 * or by fill_from_bytes). */
static int scan_prefix(const uint8_t *buf, size_t len, view_t *v, size_t *end,
                       pw_err_t *err)
{
    v->base = buf;
    v->len = len;
    v->nfield = 0;
    if (len == 0)
        return pw_err_set(err, PW_ETRUNC, "batch: empty input (at byte 0)");
    head_t h;
    int rc = read_head(buf, len, 0, &h, err);
    if (rc)
        return pw_err_prefix(err, rc, "batch: ");
    if (h.type != MSGPACK_OBJECT_MAP)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: expected a map, got %s (at byte 0)",
                          type_name(h.type));
    uint64_t pairs = h.items / 2;
    if (pairs > SCAN_MAX_KEYS)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: map has %" PRIu64
                          " keys, at most %d allowed (at byte 0)",
                          pairs, SCAN_MAX_KEYS);
    size_t pos = h.hdr;
    for (size_t i = 0; i < pairs; i++) {
        field_t *f = &v->f[i];
        memset(f, 0, sizeof *f);
        f->key_off = pos;
        rc = skip(buf, len, &pos, 1, err);
        if (rc)
            return pw_err_prefix(err, rc, "batch: ");
        rc = read_head(buf, len, f->key_off, &h, NULL);
        assert(rc == 0);
        f->key_type = h.type;
        if (h.type == MSGPACK_OBJECT_STR) {
            f->key = (const char *)buf + f->key_off + h.hdr;
            f->key_len = (uint32_t)h.body;
        }
        f->val_off = pos;
        rc = skip(buf, len, &pos, 1, err);
        if (rc) {
            char q[QUOTE_MAX + 4];
            if (f->key)
                return pw_err_prefix(err, rc, "batch: key '%s': ",
                                     quote(q, f->key, f->key_len));
            return pw_err_prefix(err, rc, "batch: ");
        }
    }
    v->nfield = (size_t)pairs;
    *end = pos;
    return 0;
}

/* Walk a whole message: a batch map and nothing after it. */
static int scan(const uint8_t *buf, size_t len, view_t *v, pw_err_t *err)
{
    size_t end;
    int rc = scan_prefix(buf, len, v, &end, err);
    if (rc)
        return rc;
    if (end < len) {
        v->nfield = 0;
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: %zu trailing byte(s) after the map (at byte "
                          "%zu)",
                          len - end, end);
    }
    return 0;
}

/* Values of a scanned view read from the wire (peek, no msgpack-c). */
static void fill_from_bytes(view_t *v)
{
    for (size_t i = 0; i < v->nfield; i++) {
        field_t *f = &v->f[i];
        head_t h;
        int rc = read_head(v->base, v->len, f->val_off, &h, NULL);
        assert(rc == 0);
        (void)rc;
        f->type = h.type;
        f->u = h.u;
        if (h.type == MSGPACK_OBJECT_STR || h.type == MSGPACK_OBJECT_BIN) {
            f->ptr = v->base + f->val_off + h.hdr;
            f->len = (uint32_t)h.body;
        }
    }
}

/* Values of a scanned view from msgpack-c's objects, entry for entry. */
static void fill_from_msgpack(view_t *v, const msgpack_object_kv *kv)
{
    for (size_t i = 0; i < v->nfield; i++) {
        field_t *f = &v->f[i];
        const msgpack_object *o = &kv[i].val;
        assert((int)kv[i].key.type == f->key_type);
        f->type = (int)o->type;
        f->u = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
        if (o->type == MSGPACK_OBJECT_STR) {
            f->ptr = (const uint8_t *)o->via.str.ptr;
            f->len = o->via.str.size;
        } else if (o->type == MSGPACK_OBJECT_BIN) {
            f->ptr = (const uint8_t *)o->via.bin.ptr;
            f->len = o->via.bin.size;
        }
        /* Zero copy: payloads point into the scanned input. */
        assert(f->ptr == NULL ||
               (f->ptr >= v->base && f->ptr + f->len <= v->base + v->len));
    }
}

/* ---------------------------------------------------------------------- */
/* Checks on the fields, shared by peek and decode.                        */

static bool key_is(const field_t *f, const char *name)
{
    size_t n = strlen(name);
    return f->key != NULL && f->key_len == n && memcmp(f->key, name, n) == 0;
}

/* The first entry named name, or NULL. */
static const field_t *find(const view_t *v, const char *name)
{
    for (size_t i = 0; i < v->nfield; i++)
        if (key_is(&v->f[i], name))
            return &v->f[i];
    return NULL;
}

static const int msgpack_type_of[] = {
    [V_UINT] = MSGPACK_OBJECT_POSITIVE_INTEGER,
    [V_STR] = MSGPACK_OBJECT_STR,
    [V_BIN] = MSGPACK_OBJECT_BIN,
};

/* Check field f (key name) holds a value of type t. */
static int want_type(const field_t *f, const char *name, enum val_type t,
                     pw_err_t *err)
{
    if (f->type == msgpack_type_of[t])
        return 0;
    return pw_err_set(err, PW_ECORRUPT,
                      "batch: %s '%s' must be a %s, got %s (at byte %zu)",
                      t == V_BIN ? "column" : "key", name,
                      type_name(msgpack_type_of[t]), type_name(f->type),
                      f->val_off);
}

/* Version and kind: the first things a reader must agree on. */
static int check_header(const view_t *v, enum pw_codec_kind *kind,
                        const field_t **kind_field, pw_err_t *err)
{
    const field_t *f = find(v, "pw");
    if (f == NULL)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: missing key 'pw' (format version) in the "
                          "map at byte 0");
    int rc = want_type(f, "pw", V_UINT, err);
    if (rc)
        return rc;
    if (f->u != PW_CODEC_VERSION)
        return pw_err_set(err, PW_EVERSION,
                          "batch: format version %" PRIu64
                          ", this build reads version %u (at byte %zu)",
                          f->u, PW_CODEC_VERSION, f->val_off);
    f = find(v, "kind");
    if (f == NULL)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: missing key 'kind' in the map at byte 0");
    rc = want_type(f, "kind", V_STR, err);
    if (rc)
        return rc;
    for (size_t k = 1; k < NKINDS; k++) {
        size_t n = strlen(kinds[k].name);
        if (f->len == n && memcmp(f->ptr, kinds[k].name, n) == 0) {
            *kind = (enum pw_codec_kind)k;
            *kind_field = f;
            return 0;
        }
    }
    char q[QUOTE_MAX + 4];
    return pw_err_set(err, PW_ECORRUPT,
                      "batch: unknown kind '%s', expected 'points', 'frames' "
                      "or 'results' (at byte %zu)",
                      quote(q, (const char *)f->ptr, f->len), f->val_off);
}

/* A count field (n, objects) no larger than max. */
static int check_count(const field_t *f, const char *name, uint64_t max,
                       pw_err_t *err)
{
    int rc = want_type(f, name, V_UINT, err);
    if (rc)
        return rc;
    if (f->u > max)
        return pw_err_set(err, PW_ECAPACITY,
                          "batch: %s=%" PRIu64 " exceeds the maximum of %" PRIu64
                          " (at byte %zu)",
                          name, f->u, max, f->val_off);
    return 0;
}

/* Match each entry to a key of the kind: slot[j] is the entry for key j.
 * Non-str, unknown, duplicate and missing keys are errors. */
static int bind_keys(const view_t *v, const kindspec_t *ks, const field_t **slot,
                pw_err_t *err)
{
    char q[QUOTE_MAX + 4];
    for (size_t j = 0; j < ks->nkeys; j++)
        slot[j] = NULL;
    for (size_t i = 0; i < v->nfield; i++) {
        const field_t *f = &v->f[i];
        if (f->key == NULL)
            return pw_err_set(err, PW_ECORRUPT,
                              "batch: key at byte %zu must be a str, got %s",
                              f->key_off, type_name(f->key_type));
        /* The encoder's order first: the usual case costs one compare. */
        size_t j = i;
        if (j >= ks->nkeys || !key_is(f, ks->keys[j].name))
            for (j = 0; j < ks->nkeys; j++)
                if (key_is(f, ks->keys[j].name))
                    break;
        if (j == ks->nkeys)
            return pw_err_set(err, PW_ECORRUPT,
                              "batch: unknown key '%s' in a %s batch (at "
                              "byte %zu)",
                              quote(q, f->key, f->key_len), ks->name,
                              f->key_off);
        if (slot[j] != NULL)
            return pw_err_set(err, PW_ECORRUPT,
                              "batch: duplicate key '%s' (at byte %zu, first "
                              "at byte %zu)",
                              ks->keys[j].name, f->key_off, slot[j]->key_off);
        slot[j] = f;
    }
    for (size_t j = 0; j < ks->nkeys; j++)
        if (slot[j] == NULL)
            return pw_err_set(err, PW_ECORRUPT,
                              "batch: missing key '%s' in a %s batch (map at "
                              "byte 0)",
                              ks->keys[j].name, ks->name);
    return 0;
}

/* Types, counts and column sizes of a bound batch. */
static int check_fields(const kindspec_t *ks, const field_t **slot,
                        pw_err_t *err)
{
    int rc = check_count(slot[K_N], "n", PW_CODEC_MAX_RECORDS, err);
    if (rc)
        return rc;
    uint64_t n = slot[K_N]->u, m = 0;
    if (ks == &kinds[PW_CODEC_FRAMES]) {
        rc = check_count(slot[F_OBJECTS], "objects", PW_CODEC_MAX_OBJECTS,
                         err);
        if (rc)
            return rc;
        m = slot[F_OBJECTS]->u;
    }
    for (size_t j = K_COMMON; j < ks->nkeys; j++) {
        const keyspec_t *k = &ks->keys[j];
        const field_t *f = slot[j];
        rc = want_type(f, k->name, (enum val_type)k->type, err);
        if (rc)
            return rc;
        if (k->per != PER_RECORD && k->per != PER_OBJECT)
            continue;
        bool rec = k->per == PER_RECORD;
        uint64_t want = (uint64_t)k->width * (rec ? n : m);
        if (f->len != want)
            return pw_err_set(err, PW_ECORRUPT,
                              "batch: column '%s' holds %" PRIu32
                              " bytes, expected %" PRIu64 " for %s=%" PRIu64
                              " (at byte %zu)",
                              k->name, f->len, want, rec ? "n" : "objects",
                              rec ? n : m, f->val_off);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Framing and peek.                                                       */

int pw_codec_message_len(const void *data, size_t len, size_t *msg_len,
                         pw_err_t *err)
{
    if ((data == NULL && len > 0) || msg_len == NULL)
        return pw_err_set(err, PW_EARG, "batch: message_len: NULL argument");
    view_t v;
    size_t end;
    int rc = scan_prefix(data, len, &v, &end, err);
    if (rc)
        return rc;
    *msg_len = end;
    return 0;
}

int pw_codec_peek(const void *data, size_t len, enum pw_codec_kind *kind,
                  size_t *count, pw_err_t *err)
{
    if ((data == NULL && len > 0) || kind == NULL || count == NULL)
        return pw_err_set(err, PW_EARG, "batch: peek: NULL argument");
    view_t v;
    int rc = scan(data, len, &v, err);
    if (rc)
        return rc;
    fill_from_bytes(&v);
    enum pw_codec_kind k;
    const field_t *kf;
    rc = check_header(&v, &k, &kf, err);
    if (rc)
        return rc;
    const field_t *f = find(&v, "n");
    if (f == NULL)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: missing key 'n' in a %s batch (map at byte "
                          "0)",
                          kinds[k].name);
    rc = check_count(f, "n", PW_CODEC_MAX_RECORDS, err);
    if (rc)
        return rc;
    *kind = k;
    *count = (size_t)f->u;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Decoder.                                                                */

struct pw_codec_decoder {
    msgpack_zone zone; /* msgpack-c's objects; cleared after each batch */
    view_t view;       /* the batch being decoded */
};

int pw_codec_decoder_create(pw_codec_decoder_t **dec)
{
    if (dec == NULL)
        return PW_EARG;
    pw_codec_decoder_t *d = malloc(sizeof *d);
    if (d == NULL)
        return -ENOMEM;
    if (!msgpack_zone_init(&d->zone, ZONE_CHUNK)) {
        free(d);
        return -ENOMEM;
    }
    d->view.nfield = 0;
    *dec = d;
    return 0;
}

void pw_codec_decoder_destroy(pw_codec_decoder_t *dec)
{
    if (dec == NULL)
        return;
    msgpack_zone_destroy(&dec->zone);
    free(dec);
}

/* Scan, parse and check a batch of kind want; slot[] gets its fields.
 * Field payloads point into data, never into the zone, so the zone is
 * cleared before returning. */
static int decode_batch(pw_codec_decoder_t *dec, const void *data,
                        size_t len, enum pw_codec_kind want,
                        const field_t **slot, pw_err_t *err)
{
    view_t *v = &dec->view;
    int rc = scan(data, len, v, err);
    if (rc)
        return rc;
    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return r =
        msgpack_unpack(data, len, &off, &dec->zone, &root);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
        rc = pw_err_set(err, -ENOMEM, "batch: out of memory parsing %zu bytes",
                        len);
        goto out;
    }
    /* scan() accepted the message, so msgpack-c must too; if the two
     * parsers ever disagree, fail safe rather than trust either. */
    if (r != MSGPACK_UNPACK_SUCCESS || off != len ||
        root.type != MSGPACK_OBJECT_MAP || root.via.map.size != v->nfield) {
        rc = pw_err_set(err, PW_ECORRUPT,
                        "batch: msgpack-c rejected the message (code %d, at "
                        "byte %zu)",
                        (int)r, off);
        goto out;
    }
    fill_from_msgpack(v, root.via.map.ptr);
    enum pw_codec_kind kind;
    const field_t *kf;
    rc = check_header(v, &kind, &kf, err);
    if (rc)
        goto out;
    if (kind != want) {
        rc = pw_err_set(err, PW_ECORRUPT,
                        "batch: kind '%s', expected '%s' (at byte %zu)",
                        kinds[kind].name, kinds[want].name, kf->val_off);
        goto out;
    }
    rc = bind_keys(v, &kinds[want], slot, err);
    if (rc)
        goto out;
    rc = check_fields(&kinds[want], slot, err);
out:
    msgpack_zone_clear(&dec->zone);
    return rc;
}

static int grow_failed(pw_err_t *err, const char *kind, size_t n)
{
    return pw_err_set(err, -ENOMEM, "batch: cannot grow a %s batch to %zu",
                      kind, n);
}

int pw_codec_decode_points(pw_codec_decoder_t *dec, const void *data,
                           size_t len, pw_points_t *out, pw_err_t *err)
{
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "batch: NULL output batch");
    out->n = 0;
    if (dec == NULL || (data == NULL && len > 0))
        return pw_err_set(err, PW_EARG, "batch: NULL decoder or input");
    const field_t *s[P_NKEYS];
    int rc = decode_batch(dec, data, len, PW_CODEC_POINTS, s, err);
    if (rc)
        return rc;
    size_t n = (size_t)s[K_N]->u;
    if (n > out->cap && pw_points_reserve(out, round_cap(n)))
        return grow_failed(err, "points", n);
    copy(out->ts_ns, s[P_TS]->ptr, s[P_TS]->len);
    copy(out->entity, s[P_ENTITY]->ptr, s[P_ENTITY]->len);
    copy(out->channel, s[P_CHANNEL]->ptr, s[P_CHANNEL]->len);
    copy(out->value, s[P_VALUE]->ptr, s[P_VALUE]->len);
    out->n = n;
    return 0;
}

int pw_codec_decode_frames(pw_codec_decoder_t *dec, const void *data,
                           size_t len, pw_frames_t *out, pw_err_t *err)
{
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "batch: NULL output batch");
    out->n = 0;
    out->nobj_total = 0;
    if (dec == NULL || (data == NULL && len > 0))
        return pw_err_set(err, PW_EARG, "batch: NULL decoder or input");
    const field_t *s[F_NKEYS];
    int rc = decode_batch(dec, data, len, PW_CODEC_FRAMES, s, err);
    if (rc)
        return rc;
    size_t n = (size_t)s[K_N]->u, m = (size_t)s[F_OBJECTS]->u;
    /* n <= 2^20 counts of at most 65535: the sum cannot overflow. */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += le16(s[F_NOBJ]->ptr + 2 * i);
    if (sum != m)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: column 'nobj' sums to %" PRIu64
                          " objects, 'objects' is %zu (at byte %zu)",
                          sum, m, s[F_NOBJ]->val_off);
    size_t fcap = n > out->cap ? round_cap(n) : out->cap;
    size_t ocap = m > out->obj_cap ? round_cap(m) : out->obj_cap;
    if (pw_frames_reserve(out, fcap, ocap))
        return grow_failed(err, "frames", n);
    copy(out->ts_ns, s[F_TS]->ptr, s[F_TS]->len);
    copy(out->session, s[F_SESSION]->ptr, s[F_SESSION]->len);
    copy(out->label, s[F_LABEL]->ptr, s[F_LABEL]->len);
    copy(out->nobj, s[F_NOBJ]->ptr, s[F_NOBJ]->len);
    copy(out->entity, s[F_ENTITY]->ptr, s[F_ENTITY]->len);
    copy(out->team, s[F_TEAM]->ptr, s[F_TEAM]->len);
    copy(out->x, s[F_X]->ptr, s[F_X]->len);
    copy(out->y, s[F_Y]->ptr, s[F_Y]->len);
    copy(out->speed, s[F_SPEED]->ptr, s[F_SPEED]->len);
    copy(out->orientation, s[F_ORIENTATION]->ptr, s[F_ORIENTATION]->len);
    copy(out->direction, s[F_DIRECTION]->ptr, s[F_DIRECTION]->len);
    uint32_t first = 0;
    for (size_t i = 0; i < n; i++) {
        out->first[i] = first;
        first += out->nobj[i];
    }
    out->nobj_total = m;
    out->n = n;
    return 0;
}

/* Check a length column sums exactly to its blob; sums are 64-bit, so
 * lengths that would wrap a 32-bit sum are caught. */
static int check_blob(const field_t *lens, const char *lens_name,
                      const field_t *blob, const char *blob_name, size_t n,
                      pw_err_t *err)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += le32(lens->ptr + 4 * i);
    if (sum != blob->len)
        return pw_err_set(err, PW_ECORRUPT,
                          "batch: column '%s' sums to %" PRIu64
                          " bytes, column '%s' holds %" PRIu32
                          " (at byte %zu)",
                          lens_name, sum, blob_name, blob->len,
                          blob->val_off);
    return 0;
}

int pw_codec_decode_results(pw_codec_decoder_t *dec, const void *data,
                            size_t len, pw_results_t *out, pw_err_t *err)
{
    if (out == NULL)
        return pw_err_set(err, PW_EARG, "batch: NULL output batch");
    out->n = 0;
    if (dec == NULL || (data == NULL && len > 0))
        return pw_err_set(err, PW_EARG, "batch: NULL decoder or input");
    const field_t *s[R_NKEYS];
    int rc = decode_batch(dec, data, len, PW_CODEC_RESULTS, s, err);
    if (rc)
        return rc;
    size_t n = (size_t)s[K_N]->u;
    if ((rc = check_blob(s[R_TOPIC_LEN], "topic_len", s[R_TOPIC], "topic", n,
                         err)) ||
        (rc = check_blob(s[R_KEY_LEN], "key_len", s[R_KEY], "key", n, err)) ||
        (rc = check_blob(s[R_BODY_LEN], "body_len", s[R_BODY], "body", n,
                         err)))
        return rc;
    if (n > out->cap && pw_results_reserve(out, round_cap(n)))
        return grow_failed(err, "results", n);
    const uint8_t *topic = s[R_TOPIC]->ptr, *key = s[R_KEY]->ptr,
                  *body = s[R_BODY]->ptr;
    for (size_t i = 0; i < n; i++) {
        pw_result_t *r = &out->rec[i];
        r->ts_ns = le64s(s[R_TS]->ptr + 8 * i);
        r->version = le32(s[R_VERSION]->ptr + 4 * i);
        r->topic_len = le32(s[R_TOPIC_LEN]->ptr + 4 * i);
        r->key_len = le32(s[R_KEY_LEN]->ptr + 4 * i);
        r->body_len = le32(s[R_BODY_LEN]->ptr + 4 * i);
        r->topic = (const char *)topic;
        r->key = (const char *)key;
        r->body = body;
        topic += r->topic_len;
        key += r->key_len;
        body += r->body_len;
    }
    out->n = n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Encoder.                                                                */

void pw_codec_buf_init(pw_codec_buf_t *buf)
{
    memset(buf, 0, sizeof *buf);
}

void pw_codec_buf_fini(pw_codec_buf_t *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

/* Make room for need more bytes after buf->len; 0 or -ENOMEM. */
static int buf_reserve(pw_codec_buf_t *buf, size_t need)
{
    if (need <= buf->cap - buf->len)
        return 0;
    if (need > SIZE_MAX - buf->len)
        return -ENOMEM;
    size_t want = buf->len + need;
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    uint8_t *p = realloc(buf->data, cap);
    if (p == NULL)
        return -ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return 0;
}

/* msgpack_packer's write callback: append to a pw_codec_buf_t. */
static int buf_write(void *data, const char *p, size_t n)
{
    pw_codec_buf_t *buf = data;
    if (n == 0)
        return 0;
    if (buf_reserve(buf, n))
        return -1;
    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
    return 0;
}

typedef struct enc {
    msgpack_packer pk;
    pw_codec_buf_t *buf;
    int bad; /* a write failed (only if buf could not grow) */
} enc_t;

static void put_key(enc_t *e, const char *name)
{
    e->bad |= msgpack_pack_str_with_body(&e->pk, name, strlen(name));
}

/* Start a batch: size buf for payload bytes of columns, write the map
 * header and the common keys. */
static int enc_begin(enc_t *e, pw_codec_buf_t *buf, enum pw_codec_kind kind,
                     size_t n, size_t payload, pw_err_t *err)
{
    e->buf = buf;
    e->bad = 0;
    buf->len = 0;
    if (payload > SIZE_MAX - ENC_OVERHEAD ||
        buf_reserve(buf, ENC_OVERHEAD + payload))
        return pw_err_set(err, -ENOMEM,
                          "%s batch: cannot grow the output to %zu bytes",
                          kinds[kind].name, payload);
    msgpack_packer_init(&e->pk, buf, buf_write);
    const kindspec_t *ks = &kinds[kind];
    e->bad |= msgpack_pack_map(&e->pk, ks->nkeys);
    put_key(e, ks->keys[K_PW].name);
    e->bad |= msgpack_pack_uint64(&e->pk, PW_CODEC_VERSION);
    put_key(e, ks->keys[K_KIND].name);
    e->bad |= msgpack_pack_str_with_body(&e->pk, ks->name, strlen(ks->name));
    put_key(e, ks->keys[K_N].name);
    e->bad |= msgpack_pack_uint64(&e->pk, n);
    return 0;
}

/* Write a key and a bin header of bytes, and return where its payload goes
 * (NULL if buf could not grow). The caller fills exactly bytes bytes. */
static uint8_t *put_bin(enc_t *e, const char *name, size_t bytes)
{
    put_key(e, name);
    e->bad |= msgpack_pack_bin(&e->pk, bytes);
    if (e->bad || buf_reserve(e->buf, bytes)) {
        e->bad = 1;
        return NULL;
    }
    uint8_t *p = e->buf->data + e->buf->len;
    e->buf->len += bytes;
    return p;
}

/* Write a key and a column copied from src. */
static void put_col(enc_t *e, const char *name, const void *src, size_t bytes)
{
    uint8_t *p = put_bin(e, name, bytes);
    if (p)
        copy(p, src, bytes);
}

static int enc_end(enc_t *e, const char *kind, pw_err_t *err)
{
    if (!e->bad)
        return 0;
    e->buf->len = 0;
    return pw_err_set(err, -ENOMEM, "%s batch: cannot grow the output buffer",
                      kind);
}

static int too_many(pw_err_t *err, const char *kind, const char *what,
                    size_t n, uint64_t max)
{
    return pw_err_set(err, PW_ECAPACITY,
                      "%s batch: %s=%zu exceeds the maximum of %" PRIu64,
                      kind, what, n, max);
}

int pw_codec_encode_points(pw_codec_buf_t *buf, const pw_points_t *b,
                           pw_err_t *err)
{
    if (buf == NULL || b == NULL)
        return pw_err_set(err, PW_EARG, "points batch: NULL argument");
    buf->len = 0;
    size_t n = b->n;
    if (n > PW_CODEC_MAX_RECORDS)
        return too_many(err, "points", "n", n, PW_CODEC_MAX_RECORDS);
    enc_t e;
    int rc = enc_begin(&e, buf, PW_CODEC_POINTS, n, 24 * n, err);
    if (rc)
        return rc;
    const void *col[P_NKEYS] = {
        [P_TS] = b->ts_ns, [P_ENTITY] = b->entity,
        [P_CHANNEL] = b->channel, [P_VALUE] = b->value,
    };
    for (size_t j = K_COMMON; j < P_NKEYS; j++)
        put_col(&e, points_keys[j].name, col[j], points_keys[j].width * n);
    return enc_end(&e, "points", err);
}

int pw_codec_encode_frames(pw_codec_buf_t *buf, const pw_frames_t *b,
                           pw_err_t *err)
{
    if (buf == NULL || b == NULL)
        return pw_err_set(err, PW_EARG, "frames batch: NULL argument");
    buf->len = 0;
    size_t n = b->n, m = b->nobj_total;
    if (n > PW_CODEC_MAX_RECORDS)
        return too_many(err, "frames", "n", n, PW_CODEC_MAX_RECORDS);
    if (m > PW_CODEC_MAX_OBJECTS)
        return too_many(err, "frames", "objects", m, PW_CODEC_MAX_OBJECTS);
    /* The wire has no first[]: objects must be stored in frame order. */
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (b->first[i] != sum)
            return pw_err_set(err, PW_EARG,
                              "frames batch: frame %zu starts at object %" PRIu32
                              ", expected %zu (objects must follow frame "
                              "order)",
                              i, b->first[i], sum);
        sum += b->nobj[i];
    }
    if (sum != m)
        return pw_err_set(err, PW_EARG,
                          "frames batch: nobj sums to %zu, nobj_total is %zu",
                          sum, m);
    enc_t e;
    int rc = enc_begin(&e, buf, PW_CODEC_FRAMES, n, 34 * n + 25 * m, err);
    if (rc)
        return rc;
    put_key(&e, frames_keys[F_OBJECTS].name);
    e.bad |= msgpack_pack_uint64(&e.pk, m);
    const void *col[F_NKEYS] = {
        [F_TS] = b->ts_ns, [F_SESSION] = b->session, [F_LABEL] = b->label,
        [F_NOBJ] = b->nobj, [F_ENTITY] = b->entity, [F_TEAM] = b->team,
        [F_X] = b->x, [F_Y] = b->y, [F_SPEED] = b->speed,
        [F_ORIENTATION] = b->orientation, [F_DIRECTION] = b->direction,
    };
    for (size_t j = F_TS; j < F_NKEYS; j++) {
        const keyspec_t *k = &frames_keys[j];
        put_col(&e, k->name, col[j],
                k->width * (k->per == PER_RECORD ? n : m));
    }
    return enc_end(&e, "frames", err);
}

/* One uint32 field of every result, as a little-endian column. */
static void put_u32s(enc_t *e, const char *name, const pw_result_t *rec,
                     size_t n, size_t field_off)
{
    uint8_t *p = put_bin(e, name, 4 * n);
    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        memcpy(p + 4 * i, (const char *)&rec[i] + field_off, 4);
}

int pw_codec_encode_results(pw_codec_buf_t *buf, const pw_results_t *b,
                            pw_err_t *err)
{
    if (buf == NULL || b == NULL)
        return pw_err_set(err, PW_EARG, "results batch: NULL argument");
    buf->len = 0;
    size_t n = b->n;
    if (n > PW_CODEC_MAX_RECORDS)
        return too_many(err, "results", "n", n, PW_CODEC_MAX_RECORDS);
    uint64_t tsum = 0, ksum = 0, bsum = 0;
    for (size_t i = 0; i < n; i++) {
        const pw_result_t *r = &b->rec[i];
        if ((r->topic == NULL && r->topic_len) ||
            (r->key == NULL && r->key_len) || (r->body == NULL && r->body_len))
            return pw_err_set(err, PW_EARG,
                              "results batch: record %zu has a NULL byte "
                              "range of non-zero length",
                              i);
        tsum += r->topic_len;
        ksum += r->key_len;
        bsum += r->body_len;
    }
    if (tsum > UINT32_MAX || ksum > UINT32_MAX || bsum > UINT32_MAX)
        return pw_err_set(err, PW_ECAPACITY,
                          "results batch: topics, keys or bodies total more "
                          "than %" PRIu32 " bytes, the most a msgpack bin "
                          "holds",
                          UINT32_MAX);
    uint64_t payload = 24 * (uint64_t)n + tsum + ksum + bsum;
    if (payload > SIZE_MAX)
        return pw_err_set(err, -ENOMEM, "results batch: too large to encode");
    enc_t e;
    int rc = enc_begin(&e, buf, PW_CODEC_RESULTS, n, (size_t)payload, err);
    if (rc)
        return rc;
    const pw_result_t *rec = b->rec;
    uint8_t *p = put_bin(&e, results_keys[R_TS].name, 8 * n);
    for (size_t i = 0; p && i < n; i++)
        memcpy(p + 8 * i, &rec[i].ts_ns, 8);
    put_u32s(&e, results_keys[R_VERSION].name, rec, n,
             offsetof(pw_result_t, version));
    put_u32s(&e, results_keys[R_TOPIC_LEN].name, rec, n,
             offsetof(pw_result_t, topic_len));
    put_u32s(&e, results_keys[R_KEY_LEN].name, rec, n,
             offsetof(pw_result_t, key_len));
    put_u32s(&e, results_keys[R_BODY_LEN].name, rec, n,
             offsetof(pw_result_t, body_len));
    p = put_bin(&e, results_keys[R_TOPIC].name, (size_t)tsum);
    for (size_t i = 0; p && i < n; i++) {
        copy(p, rec[i].topic, rec[i].topic_len);
        p += rec[i].topic_len;
    }
    p = put_bin(&e, results_keys[R_KEY].name, (size_t)ksum);
    for (size_t i = 0; p && i < n; i++) {
        copy(p, rec[i].key, rec[i].key_len);
        p += rec[i].key_len;
    }
    p = put_bin(&e, results_keys[R_BODY].name, (size_t)bsum);
    for (size_t i = 0; p && i < n; i++) {
        copy(p, rec[i].body, rec[i].body_len);
        p += rec[i].body_len;
    }
    return enc_end(&e, "results", err);
}
