/*
 * pw_body: result bodies, small msgpack maps written and read without
 * allocating per record.
 *
 * An operator describes each result with a msgpack map ({"mean": 61.2,
 * "count": 10, ...}); the store keeps it as bytes and the API turns it into
 * JSON. The writer appends to a growable buffer that is reused between
 * results (clear keeps the memory), so building a body allocates nothing
 * once the buffer has reached its working size. Failure to grow is sticky:
 * write everything, then check pw_body_ok() once.
 *
 * msgpack-c stays behind this module and pw_codec (STYLE.md: one folder per
 * library). Not thread-safe: a writer belongs to one thread.
 */
#ifndef PW_BODY_H
#define PW_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pw_body {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* a write could not grow the buffer */
} pw_body_t;

void pw_body_init(pw_body_t *b);
void pw_body_fini(pw_body_t *b);
/* Empty the body for the next result; keeps the memory. */
void pw_body_clear(pw_body_t *b);

/* Containers: a map of n pairs, an array of n values. */
void pw_body_map(pw_body_t *b, uint32_t n);
void pw_body_array(pw_body_t *b, uint32_t n);
/* Scalars; a key is a string. */
void pw_body_key(pw_body_t *b, const char *key);
void pw_body_str(pw_body_t *b, const char *s, size_t len);
void pw_body_f64(pw_body_t *b, double v);
void pw_body_i64(pw_body_t *b, int64_t v);
void pw_body_u64(pw_body_t *b, uint64_t v);
void pw_body_bool(pw_body_t *b, bool v);
void pw_body_nil(pw_body_t *b);

/* 0 if every write fitted, -ENOMEM otherwise. */
int pw_body_ok(const pw_body_t *b);

/*
 * Find key in a body that is a msgpack map and read its value as a number
 * (any msgpack int or float). Returns 0, or -1 when the body is not a
 * well-formed map, has no such key, or the value is not a number (nil
 * included). Checks every length; never reads outside body[0..len).
 */
int pw_body_get_f64(const void *body, size_t len, const char *key, double *out);

/*
 * Write body as JSON text into out (NUL-terminated, at most cap bytes).
 * Returns the length written, or -1 if the body is malformed or does not
 * fit. Floats are printed with 17 significant digits (round-trip exact),
 * NaN and infinities as null.
 */
long pw_body_to_json(const void *body, size_t len, char *out, size_t cap);

#endif
