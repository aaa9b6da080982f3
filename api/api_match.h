/*
 * api_match: the topic patterns of WebSocket subscriptions, parsed once at
 * subscribe and matched against full result names ("burn/car/24") without
 * allocating. Segments are separated by '/'; a pattern segment is a
 * literal, '*' (exactly one whole segment) or, as the last segment only,
 * '#' (one or more segments). Plain data; no threads involved.
 */
#ifndef API_MATCH_H
#define API_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"

/* Longest pattern accepted, in bytes. */
#define API_PATTERN_MAX 256
/* Most segments in a pattern. */
#define API_PATTERN_SEGS 32

/* Kinds of pattern segment. */
enum { API_SEG_LITERAL = 0, API_SEG_ONE = 1, API_SEG_REST = 2 };

typedef struct api_pattern {
    size_t len;                      /* bytes of text */
    char text[API_PATTERN_MAX + 1];  /* NUL-terminated copy */
    uint16_t nseg;
    uint16_t off[API_PATTERN_SEGS];  /* segment start in text */
    uint16_t seg_len[API_PATTERN_SEGS];
    uint8_t kind[API_PATTERN_SEGS];  /* API_SEG_* */
} api_pattern_t;

/*
 * Parse text into p. Returns 0, or PW_EARG with a message naming the
 * pattern and the reason (empty, too long, empty segment, '*' or '#' not a
 * whole segment, '#' not last, too many segments); p is unusable then.
 */
int api_pattern_parse(api_pattern_t *p, const char *text, pw_err_t *err);

/* Does name[0..len) match p? */
bool api_pattern_match(const api_pattern_t *p, const char *name, size_t len);

#endif
