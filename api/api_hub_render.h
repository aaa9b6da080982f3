/*
 * api_hub_render: what api_hub sends, built straight from a result's
 * msgpack body without unpacking it into objects: a length-checked msgpack
 * walker, msgpack -> JSON text, msgpack -> msgpack restricted to a field
 * list, and the few msgpack writers the message envelope needs. Output
 * goes to a growable buffer that is reused (reset keeps the memory), so
 * rendering allocates only while a buffer grows to its working size.
 * Not thread-safe: a buffer belongs to one thread (the event loop).
 */
#ifndef API_HUB_RENDER_H
#define API_HUB_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays and maps rendered; deeper bodies are refused. */
#define API_RENDER_DEPTH 32

typedef struct api_buf {
    char *p;
    size_t len, cap;
    bool failed; /* a write could not grow the buffer (sticky until reset) */
} api_buf_t;

void api_buf_init(api_buf_t *b);
void api_buf_fini(api_buf_t *b);
/* Empty the buffer; keeps the memory. */
void api_buf_reset(api_buf_t *b);
/* Make room for n more bytes; false (and failed set) when it cannot. */
bool api_buf_reserve(api_buf_t *b, size_t n);
void api_buf_put(api_buf_t *b, const void *d, size_t n);
void api_buf_puts(api_buf_t *b, const char *s);

/* A field list: only these keys of a body map are rendered. */
typedef struct api_fields {
    size_t n;
    const char *const *name;
    const uint32_t *len;
} api_fields_t;

/*
 * Skip one msgpack object at body[*off..len), checking every length.
 * Returns 0 and advances *off, or -1 when the object is truncated,
 * malformed or nested deeper than API_RENDER_DEPTH.
 */
int api_mp_skip(const uint8_t *body, size_t len, size_t *off);

/*
 * Append body (one well-formed msgpack object, see api_mp_skip) to out as
 * JSON; with fields (not NULL), only the listed keys of a map, in body
 * order ({} when the body is not a map). Floats print with 17 significant
 * digits (as pw_body_to_json), NaN, infinities, bin and ext as null.
 * Returns 0, or -1 when a map key is not a string or out failed.
 */
int api_render_json(api_buf_t *out, const uint8_t *body, size_t len, const api_fields_t *fields);

/*
 * Append body as msgpack: copied as is without fields, else a map of the
 * listed keys' pairs, copied byte for byte. Returns 0 or -1 as above.
 */
int api_render_msgpack(api_buf_t *out, const uint8_t *body, size_t len,
                       const api_fields_t *fields);

/* JSON string with quotes and escapes. */
void api_json_str(api_buf_t *out, const char *s, size_t n);
/* Decimal integers. */
void api_json_i64(api_buf_t *out, int64_t v);
void api_json_u64(api_buf_t *out, uint64_t v);

/* msgpack writers in the smallest encoding. */
void api_mp_map(api_buf_t *out, uint32_t n);
void api_mp_str(api_buf_t *out, const char *s, size_t n);
void api_mp_i64(api_buf_t *out, int64_t v);
void api_mp_u64(api_buf_t *out, uint64_t v);

#endif
