/*
 * api_query_parse: the small parsers and writers behind api_query, kept
 * apart so each can be tested on its own: the query string (split,
 * URL-decoded, bounded), times (Unix ns or ISO 8601 UTC), durations (1s,
 * 500ms, 2m), the opaque paging cursor, a length-checked reader of result
 * bodies (msgpack maps), and JSON and CSV text that stays valid whatever
 * bytes it is given.
 *
 * Everything here is pure: no store, no clock, no globals. Functions never
 * read outside the lengths they are given. Not thread-safe per object (a
 * params or buffer belongs to one thread); the functions themselves are
 * reentrant.
 */
#ifndef API_QUERY_PARSE_H
#define API_QUERY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_hub_render.h"

/* Longest query string accepted, bytes (before URL decoding). */
#define API_QP_QUERY_MAX 16384

/* Most parameters a query string may hold. */
#define API_QP_PARAMS_MAX 32

/* Longest parameter name or value quoted back in an error message, bytes. */
#define API_QP_ECHO_MAX 64

/* A query parameter, URL-decoded; name and value are NUL-terminated and
 * hold no NUL byte. */
typedef struct api_qp_param {
    char *name;
    char *value;
    size_t value_len;
} api_qp_param_t;

/* A parsed query string; the strings live in buf (owned). */
typedef struct api_qp_params {
    size_t n;
    api_qp_param_t p[API_QP_PARAMS_MAX];
    char *buf;
} api_qp_params_t;

/* Why a request is bad, for a 400 answer {"error": msg, "parameter": param}. */
typedef struct api_qp_err {
    char msg[384];
    char param[API_QP_ECHO_MAX + 4]; /* "" when no one parameter is at fault */
} api_qp_err_t;

/* Fill e with a message (printf-style) about parameter param (NULL: none;
 * cut to API_QP_ECHO_MAX bytes). Returns PW_EARG. */
int api_qp_err_set(api_qp_err_t *e, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Split query (without the '?'; NULL or "" = no parameters) at '&', each
 * piece at its first '=' (none: an empty value), and URL-decode names and
 * values (%XX, '+' = space). Empty pieces are skipped. *out is filled
 * (free it with api_qp_params_fini, also after an error). Returns 0,
 * -ENOMEM, or PW_EARG with e set: query above API_QP_QUERY_MAX bytes, more
 * than API_QP_PARAMS_MAX parameters, an empty name, a bad %-escape or one
 * that decodes to NUL, a parameter given twice.
 */
int api_qp_params_parse(const char *query, api_qp_params_t *out, api_qp_err_t *e);
void api_qp_params_fini(api_qp_params_t *p);

/* The value of parameter name, or NULL when it was not given. */
const char *api_qp_get(const api_qp_params_t *p, const char *name);

/*
 * A time: Unix nanoseconds as a decimal integer (optionally negative), or
 * ISO 8601 / RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (up to 9 fraction
 * digits; 'T' and 'Z' in either case; "+HH:MM"/"-HH:MM" offsets too, with
 * '+' sent as %2B). Returns 0 and *ns, or -1 (bad syntax, impossible date,
 * outside the int64 ns range: years 1678..2261).
 */
int api_qp_time_parse(const char *s, int64_t *ns);

/*
 * A positive duration: a decimal number with an optional unit ns, us, ms,
 * s, m, h (none = seconds): "1s", "500ms", "2m", "1.5s", "120". Returns 0
 * and *ns (> 0), or -1 (bad syntax, zero, overflow, rounds to 0 ns).
 */
int api_qp_duration_parse(const char *s, int64_t *ns);

/*
 * A non-negative decimal integer of at most 18 digits. Returns 0 or -1.
 */
int api_qp_uint_parse(const char *s, uint64_t *v);

/* A finite decimal number (strtod syntax, nothing after it). 0 or -1. */
int api_qp_f64_parse(const char *s, double *v);

/*
 * Paging cursor: where the next page starts (the first result it holds,
 * inclusive), as base64url without padding of a version byte, ts_ns
 * (big-endian, sign bit flipped) and the key bytes. Opaque to clients.
 * encode appends to out; decode fills key (room for keycap bytes, not
 * NUL-terminated unless room remains; *klen its length) and *ts_ns, and
 * returns 0 or -1 (not a cursor of ours, key longer than keycap).
 */
void api_qp_cursor_encode(api_buf_t *out, const char *key, size_t klen, int64_t ts_ns);
int api_qp_cursor_decode(const char *s, char *key, size_t keycap, size_t *klen,
                         int64_t *ts_ns);

/* ---- Result bodies (msgpack) -------------------------------------------- */

/* What one msgpack object is, as api_qp_mp_read() saw it. */
typedef enum {
    API_QP_NIL,
    API_QP_BOOL,  /* b */
    API_QP_INT,   /* i (negative ints; also any int that fits) */
    API_QP_UINT,  /* u (non-negative ints) */
    API_QP_FLOAT, /* f (float 32 and 64) */
    API_QP_STR,   /* s, n (inside the body) */
    API_QP_OTHER, /* array, map, bin, ext */
} api_qp_type_t;

typedef struct api_qp_val {
    api_qp_type_t type;
    bool b;
    int64_t i;
    uint64_t u;
    double f;
    const char *s;
    size_t n;
} api_qp_val_t;

/* Read the object at b[0..len) (its head; a str's bytes are checked to be
 * inside). Returns 0, or -1 when truncated or malformed. */
int api_qp_mp_read(const uint8_t *b, size_t len, api_qp_val_t *v);

/* The value as a number (ints and floats); false otherwise. */
bool api_qp_val_f64(const api_qp_val_t *v, double *out);

/* Walk the pairs of a body that is a map. */
typedef struct api_qp_map {
    const uint8_t *b;
    size_t len, off;
    uint64_t left;
} api_qp_map_t;

/* Start a walk; -1 when body is not a map (or is truncated). */
int api_qp_map_open(api_qp_map_t *it, const uint8_t *body, size_t len);

/*
 * The next pair: *key and *klen its key (a string, inside the body), the value
 * at body[*voff .. *voff + *vlen). Returns 1 for a pair, 0 at the end, -1
 * when malformed (a key that is not a string, a truncated value).
 */
int api_qp_map_next(api_qp_map_t *it, const char **key, size_t *klen, size_t *voff,
                    size_t *vlen);

/* Find key name in a map body: 0 and the value's place, or -1. */
int api_qp_body_find(const uint8_t *body, size_t len, const char *name, size_t nlen,
                     size_t *voff, size_t *vlen);

/* ---- Text out ----------------------------------------------------------- */

/* A JSON string of s[0..n), quoted and escaped; bytes that are not valid
 * UTF-8 become U+FFFD, so the answer always parses. */
void api_qp_json_str(api_buf_t *out, const char *s, size_t n);

/* A JSON number: the shortest of %.15g..%.17g that reads back as v; null
 * for NaN and infinities. */
void api_qp_json_f64(api_buf_t *out, double v);

/* An RFC 4180 CSV field: as is, or in double quotes (quotes doubled) when
 * it holds a comma, a quote, CR or LF. */
void api_qp_csv_field(api_buf_t *out, const char *s, size_t n);

#endif
