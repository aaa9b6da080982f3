#include "core/pw_conf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

/* Longest dotted path in messages ("stream.topics[12].limits.max_bytes"). */
#define CONF_PATH_MAX 256

/* Largest configuration file read, in bytes: a guard, not a real limit. */
#define CONF_FILE_MAX (16u << 20)

/* Deepest nesting of sections a table may have (catches cycles). */
#define CONF_DEPTH_MAX 16

/* A parsed scalar, before it is stored in its field. */
typedef union conf_val {
    bool b;
    int64_t i;  /* INT, DURATION_MS */
    uint64_t u; /* SIZE_BYTES */
    double d;
    int e;      /* ENUM index */
} conf_val_t;

/* Where values come from while applying a YAML tree. */
typedef struct conf_ctx {
    const char *file;      /* name for file:line:col; NULL: no positions */
    yaml_document_t *doc;
    pw_err_t *err;
} conf_ctx_t;

/* ------------------------------------------------------------------------
 * Field access. Fields are reached through offsets; pointers go through
 * memcpy so a LIST's `topic_conf_t *` is never accessed as a `void *`.
 */

static void *field(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cfield(const void *base, size_t off)
{
    return (const char *)base + off;
}

static void *get_ptr(const void *base, size_t off)
{
    void *p;
    memcpy(&p, cfield(base, off), sizeof p);
    return p;
}

static void put_ptr(void *base, size_t off, void *p)
{
    memcpy(field(base, off), &p, sizeof p);
}

static size_t get_count(const void *base, size_t off)
{
    size_t n;
    memcpy(&n, cfield(base, off), sizeof n);
    return n;
}

static void put_count(void *base, size_t off, size_t n)
{
    memcpy(field(base, off), &n, sizeof n);
}

/* ------------------------------------------------------------------------
 * Small text helpers.
 */

/*
 * snprintf for paths and messages, where cutting a long text short is
 * acceptable (they are for people); keeps the compiler's truncation
 * warnings for real buffers elsewhere.
 */
static void text_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void text_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static void path_join(char *out, const char *parent, const char *name)
{
    if (parent[0] == '\0')
        text_fmt(out, CONF_PATH_MAX, "%s", name);
    else
        text_fmt(out, CONF_PATH_MAX, "%s.%s", parent, name);
}

static void path_index(char *out, const char *parent, size_t i)
{
    text_fmt(out, CONF_PATH_MAX, "%s[%zu]", parent, i);
}

/* Append to a bounded buffer; silently stops when full (messages only). */
static void buf_add(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void buf_add(char *buf, size_t n, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, n - used, fmt, ap);
    va_end(ap);
}

/* "sync, group, none" */
static void choices_text(const pw_conf_key_t *k, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; k->choices[i] != NULL; i++)
        buf_add(buf, n, "%s%s", i ? ", " : "", k->choices[i]);
}

/* "durability, group_commit_ms, map_size_mb" */
static void keys_text(const pw_conf_section_t *sec, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < sec->nkeys; i++)
        buf_add(buf, n, "%s%s", i ? ", " : "", sec->keys[i].name);
}

static bool is_null_word(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (memcmp(s, "null", 4) == 0 ||
                         memcmp(s, "Null", 4) == 0 ||
                         memcmp(s, "NULL", 4) == 0));
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char *dup_text(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static const pw_conf_key_t *find_key(const pw_conf_section_t *sec,
                                     const char *name, size_t len)
{
    for (size_t i = 0; i < sec->nkeys; i++) {
        const char *kn = sec->keys[i].name;
        if (strlen(kn) == len && memcmp(kn, name, len) == 0)
            return &sec->keys[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Scalars: text to value. Each parser returns 0, or PW_ECONF with the
 * reason in why ("expected a duration like 10ms or 2s, got 'fast'").
 */

typedef struct conf_unit {
    const char *name;
    uint64_t mult;
} conf_unit_t;

static const conf_unit_t duration_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

static const conf_unit_t size_units[] = {
    { "B", 1 },
    { "KB", 1000ull }, { "MB", 1000000ull }, { "GB", 1000000000ull },
    { "TB", 1000000000000ull },
    { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 }, { "GiB", 1ull << 30 },
    { "TiB", 1ull << 40 },
};

enum { UNUM_OK, UNUM_SYNTAX, UNUM_NEGATIVE, UNUM_RANGE, UNUM_FRACTION };

/*
 * "<digits>[.<digits>][ ]<unit>" to an exact whole number of base units.
 * A bare number has multiplier 1. Integer arithmetic only, so "0.5s" is
 * exactly 500 and "1.0001s" is refused rather than rounded.
 */
static int parse_unit_number(const char *s, size_t len,
                             const conf_unit_t *units, size_t nunits,
                             uint64_t maxv, uint64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i >= len || !is_digit(s[i]))
        return UNUM_SYNTAX;
    uint64_t mant = 0;
    unsigned scale = 0;
    bool big = false;
    for (; i < len && is_digit(s[i]); i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (mant > (UINT64_MAX - d) / 10)
            big = true;
        else
            mant = mant * 10 + d;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i]))
            return UNUM_SYNTAX;
        for (; i < len && is_digit(s[i]); i++) {
            uint64_t d = (uint64_t)(s[i] - '0');
            if (mant > (UINT64_MAX - d) / 10 || scale >= 19) {
                big = true;
            } else {
                mant = mant * 10 + d;
                scale++;
            }
        }
    }
    while (i < len && s[i] == ' ')
        i++;
    uint64_t mult = 0;
    if (i == len) {
        mult = 1;
    } else {
        for (size_t u = 0; u < nunits; u++) {
            if (strlen(units[u].name) == len - i &&
                memcmp(units[u].name, s + i, len - i) == 0)
                mult = units[u].mult;
        }
        if (mult == 0)
            return UNUM_SYNTAX;
    }
    if (big)
        return UNUM_RANGE;
    if (neg && mant != 0)
        return UNUM_NEGATIVE;
    while (scale > 0 && mant % 10 == 0) {
        mant /= 10;
        scale--;
    }
    uint64_t prod;
    if (__builtin_mul_overflow(mant, mult, &prod))
        return UNUM_RANGE;
    uint64_t p10 = 1;
    for (unsigned k = 0; k < scale; k++)
        p10 *= 10;
    if (prod % p10 != 0)
        return UNUM_FRACTION;
    if (prod / p10 > maxv)
        return UNUM_RANGE;
    *out = prod / p10;
    return UNUM_OK;
}

/*
 * An integer: [+-] digits, optionally in scientific form when the value
 * is still a whole number ("1e6", "2.5e3"), since rates are written so.
 * Exact integer arithmetic; anything that is not a whole int64 is refused.
 */
static int parse_int(const char *s, size_t len, int64_t *out, char *why,
                     size_t wn)
{
    int w = (int)(len > 64 ? 64 : len);
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i >= len || !is_digit(s[i]))
        goto syntax;
    uint64_t v = 0;
    long scale = 0; /* decimal exponent applied to v */
    bool big = false;
    for (; i < len && is_digit(s[i]); i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            big = true;
        else
            v = v * 10 + d;
    }
    bool sci = false;
    if (i < len && s[i] == '.') {
        sci = true;
        if (++i >= len || !is_digit(s[i]))
            goto syntax;
        for (; i < len && is_digit(s[i]); i++) {
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10) {
                big = true;
            } else {
                v = v * 10 + d;
                scale--;
            }
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        sci = true;
        bool eneg = false;
        if (++i < len && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        if (i >= len || !is_digit(s[i]))
            goto syntax;
        long e = 0;
        for (; i < len && is_digit(s[i]); i++)
            if (e < 1000)
                e = e * 10 + (s[i] - '0');
        scale += eneg ? -e : e;
    }
    if (i != len)
        goto syntax;
    if (sci && !big) {
        for (; scale < 0 && v != 0; scale++) {
            if (v % 10 != 0)
                goto syntax; /* "1.5": not a whole number */
            v /= 10;
        }
        for (; scale > 0 && v != 0; scale--) {
            if (v > UINT64_MAX / 10) {
                big = true;
                break;
            }
            v *= 10;
        }
    }
    if (big || v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
        snprintf(why, wn, "%.*s is out of range for a 64-bit integer", w, s);
        return PW_ECONF;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
syntax:
    snprintf(why, wn, "expected an integer, got '%.*s'", w, s);
    return PW_ECONF;
}

/* A strict decimal: [+-] digits [. digits] [e [+-] digits], or .digits. */
static bool looks_decimal(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < len && is_digit(s[i]); i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && is_digit(s[i]); i++)
            digits++;
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        if (i >= len || !is_digit(s[i]))
            return false;
        while (i < len && is_digit(s[i]))
            i++;
    }
    return i == len;
}

static int parse_double(const char *s, size_t len, double *out, char *why,
                        size_t wn)
{
    int w = (int)(len > 64 ? 64 : len);
    if (!looks_decimal(s, len)) {
        snprintf(why, wn, "expected a number, got '%.*s'", w, s);
        return PW_ECONF;
    }
    /* s is NUL-terminated at len (checked by the caller). */
    double d = strtod(s, NULL);
    if (!isfinite(d)) {
        snprintf(why, wn, "%.*s is out of range for a number", w, s);
        return PW_ECONF;
    }
    *out = d;
    return 0;
}

/*
 * Parse text (NUL-terminated at len) for a scalar key without range
 * checks. STRING keys are not parsed here.
 */
static int parse_value(const pw_conf_key_t *k, const char *s, size_t len,
                       conf_val_t *v, char *why, size_t wn)
{
    int w = (int)(len > 64 ? 64 : len);
    uint64_t u;
    int r;
    switch (k->type) {
    case PW_CONF_BOOL:
        if ((len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) ||
                          !memcmp(s, "TRUE", 4)))) {
            v->b = true;
            return 0;
        }
        if ((len == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) ||
                          !memcmp(s, "FALSE", 5)))) {
            v->b = false;
            return 0;
        }
        snprintf(why, wn, "expected true or false, got '%.*s'", w, s);
        return PW_ECONF;
    case PW_CONF_INT:
        return parse_int(s, len, &v->i, why, wn);
    case PW_CONF_DOUBLE:
        return parse_double(s, len, &v->d, why, wn);
    case PW_CONF_ENUM:
        for (int i = 0; k->choices[i] != NULL; i++) {
            if (strlen(k->choices[i]) == len &&
                memcmp(k->choices[i], s, len) == 0) {
                v->e = i;
                return 0;
            }
        }
        {
            char list[256];
            choices_text(k, list, sizeof list);
            snprintf(why, wn, "'%.*s' is not one of %s", w, s, list);
        }
        return PW_ECONF;
    case PW_CONF_DURATION_MS:
        r = parse_unit_number(s, len, duration_units,
                              PW_CONF_NKEYS(duration_units),
                              (uint64_t)INT64_MAX, &u);
        if (r == UNUM_OK) {
            v->i = (int64_t)u;
            return 0;
        }
        if (r == UNUM_NEGATIVE)
            snprintf(why, wn, "a duration cannot be negative, got '%.*s'", w,
                     s);
        else if (r == UNUM_RANGE)
            snprintf(why, wn, "duration '%.*s' is too large", w, s);
        else if (r == UNUM_FRACTION)
            snprintf(why, wn,
                     "duration '%.*s' is not a whole number of milliseconds",
                     w, s);
        else
            snprintf(why, wn,
                     "expected a duration like 10ms or 2s, got '%.*s'", w, s);
        return PW_ECONF;
    case PW_CONF_SIZE_BYTES:
        r = parse_unit_number(s, len, size_units, PW_CONF_NKEYS(size_units),
                              UINT64_MAX, &v->u);
        if (r == UNUM_OK)
            return 0;
        if (r == UNUM_NEGATIVE)
            snprintf(why, wn, "a size cannot be negative, got '%.*s'", w, s);
        else if (r == UNUM_RANGE)
            snprintf(why, wn, "size '%.*s' is too large", w, s);
        else if (r == UNUM_FRACTION)
            snprintf(why, wn, "size '%.*s' is not a whole number of bytes", w,
                     s);
        else
            snprintf(why, wn,
                     "expected a size like 64KiB or 512MiB, got '%.*s'", w, s);
        return PW_ECONF;
    default:
        assert(!"parse_value: not a scalar type");
        return PW_EARG;
    }
}

/* What a scalar key wants: "expected a duration like 10ms or 2s". */
static void expect_text(const pw_conf_key_t *k, char *buf, size_t n)
{
    char list[256];
    switch (k->type) {
    case PW_CONF_BOOL:
        text_fmt(buf, n, "expected true or false");
        break;
    case PW_CONF_INT:
        text_fmt(buf, n, "expected an integer");
        break;
    case PW_CONF_DOUBLE:
        text_fmt(buf, n, "expected a number");
        break;
    case PW_CONF_STRING:
        text_fmt(buf, n, "expected a string");
        break;
    case PW_CONF_ENUM:
        choices_text(k, list, sizeof list);
        text_fmt(buf, n, "expected one of %s", list);
        break;
    case PW_CONF_DURATION_MS:
        text_fmt(buf, n, "expected a duration like 10ms or 2s");
        break;
    case PW_CONF_SIZE_BYTES:
        text_fmt(buf, n, "expected a size like 64KiB or 512MiB");
        break;
    default:
        text_fmt(buf, n, "expected a value");
        break;
    }
}

/* <0, 0, >0 as a is below, equal to or above b (both of k's type). */
static int val_cmp(const pw_conf_key_t *k, conf_val_t a, conf_val_t b)
{
    switch (k->type) {
    case PW_CONF_INT:
    case PW_CONF_DURATION_MS:
        return (a.i > b.i) - (a.i < b.i);
    case PW_CONF_SIZE_BYTES:
        return (a.u > b.u) - (a.u < b.u);
    case PW_CONF_DOUBLE:
        return (a.d > b.d) - (a.d < b.d);
    default:
        return 0;
    }
}

static bool has_range(pw_conf_type_t t)
{
    return t == PW_CONF_INT || t == PW_CONF_DOUBLE ||
           t == PW_CONF_DURATION_MS || t == PW_CONF_SIZE_BYTES;
}

/* Parse and check bounds: the one way a scalar's text becomes a value. */
static int parse_checked(const pw_conf_key_t *k, const char *s, size_t len,
                         conf_val_t *v, char *why, size_t wn)
{
    int rc = parse_value(k, s, len, v, why, wn);
    if (rc != 0 || !has_range(k->type))
        return rc;
    char unused[64];
    conf_val_t bound;
    int w = (int)(len > 64 ? 64 : len);
    if (k->min != NULL &&
        parse_value(k, k->min, strlen(k->min), &bound, unused,
                    sizeof unused) == 0 &&
        val_cmp(k, *v, bound) < 0) {
        snprintf(why, wn, "%.*s is below the minimum %s", w, s, k->min);
        return PW_ECONF;
    }
    if (k->max != NULL &&
        parse_value(k, k->max, strlen(k->max), &bound, unused,
                    sizeof unused) == 0 &&
        val_cmp(k, *v, bound) > 0) {
        snprintf(why, wn, "%.*s is above the maximum %s", w, s, k->max);
        return PW_ECONF;
    }
    return 0;
}

static void store_val(const pw_conf_key_t *k, void *base, conf_val_t v)
{
    void *f = field(base, k->offset);
    switch (k->type) {
    case PW_CONF_BOOL:
        *(bool *)f = v.b;
        break;
    case PW_CONF_INT:
    case PW_CONF_DURATION_MS:
        *(int64_t *)f = v.i;
        break;
    case PW_CONF_SIZE_BYTES:
        *(uint64_t *)f = v.u;
        break;
    case PW_CONF_DOUBLE:
        *(double *)f = v.d;
        break;
    case PW_CONF_ENUM:
        *(int *)f = v.e;
        break;
    default:
        assert(!"store_val: not a scalar type");
    }
}

/* ------------------------------------------------------------------------
 * Errors with positions.
 */

static int ctx_fail(const conf_ctx_t *c, const yaml_node_t *n, int code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int ctx_fail(const conf_ctx_t *c, const yaml_node_t *n, int code,
                    const char *fmt, ...)
{
    char msg[PW_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->file != NULL && n != NULL)
        return pw_err_set(c->err, code, "%s:%zu:%zu: %s", c->file,
                          (size_t)n->start_mark.line + 1,
                          (size_t)n->start_mark.column + 1, msg);
    if (c->file != NULL)
        return pw_err_set(c->err, code, "%s: %s", c->file, msg);
    return pw_err_set(c->err, code, "%s", msg);
}

/* "a map", "a list", "nothing", "'text'" */
static void node_desc(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_MAPPING_NODE) {
        snprintf(buf, len, "a map");
    } else if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(buf, len, "a list");
    } else {
        size_t sl = n->data.scalar.length;
        if (sl == 0 && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            snprintf(buf, len, "nothing");
        else
            snprintf(buf, len, "'%.*s'", (int)(sl > 64 ? 64 : sl),
                     (const char *)n->data.scalar.value);
    }
}

static bool node_is_null(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           is_null_word((const char *)n->data.scalar.value,
                        n->data.scalar.length);
}

/* ------------------------------------------------------------------------
 * Defaults, zeroing and fini.
 */

/*
 * Zeroing and fini skip keys a broken table cannot describe (no type, no
 * sub-section) and stop at CONF_DEPTH_MAX, so that after pw_conf_defaults()
 * has refused a table, fini with that table is still safe.
 */
static bool key_usable(const pw_conf_key_t *k)
{
    if (k->type < PW_CONF_BOOL || k->type > PW_CONF_LIST)
        return false;
    if ((k->type == PW_CONF_SECTION || k->type == PW_CONF_LIST) &&
        k->sub == NULL)
        return false;
    return true;
}

static void section_zero(const pw_conf_section_t *sec, void *base, int depth)
{
    if (depth > CONF_DEPTH_MAX || sec->keys == NULL)
        return;
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        conf_val_t zero;
        memset(&zero, 0, sizeof zero);
        if (!key_usable(k))
            continue;
        switch (k->type) {
        case PW_CONF_STRING:
            put_ptr(base, k->offset, NULL);
            break;
        case PW_CONF_STRLIST:
        case PW_CONF_LIST:
            put_ptr(base, k->offset, NULL);
            put_count(base, k->count_offset, 0);
            break;
        case PW_CONF_SECTION:
            section_zero(k->sub, field(base, k->offset), depth + 1);
            break;
        default:
            store_val(k, base, zero);
            break;
        }
    }
}

static void strlist_free(char **arr, size_t n)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

static void list_free(const pw_conf_key_t *k, char *arr, size_t n, int depth);

static void section_fini(const pw_conf_section_t *sec, void *base, int depth)
{
    if (depth > CONF_DEPTH_MAX || sec->keys == NULL)
        return;
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        if (!key_usable(k))
            continue;
        switch (k->type) {
        case PW_CONF_STRING:
            free(get_ptr(base, k->offset));
            put_ptr(base, k->offset, NULL);
            break;
        case PW_CONF_STRLIST:
            strlist_free(get_ptr(base, k->offset),
                         get_count(base, k->count_offset));
            put_ptr(base, k->offset, NULL);
            put_count(base, k->count_offset, 0);
            break;
        case PW_CONF_LIST:
            list_free(k, get_ptr(base, k->offset),
                      get_count(base, k->count_offset), depth + 1);
            put_ptr(base, k->offset, NULL);
            put_count(base, k->count_offset, 0);
            break;
        case PW_CONF_SECTION:
            section_fini(k->sub, field(base, k->offset), depth + 1);
            break;
        default:
            break;
        }
    }
}

static void list_free(const pw_conf_key_t *k, char *arr, size_t n, int depth)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        section_fini(k->sub, arr + i * k->elem_size, depth);
    free(arr);
}

void pw_conf_fini(const pw_conf_section_t *section, void *dst)
{
    if (section == NULL || dst == NULL)
        return;
    section_fini(section, dst, 0);
}

static int yaml_load_text(const char *name, const char *text, size_t len,
                          yaml_document_t *doc, pw_err_t *err);
static int apply_strlist(const conf_ctx_t *c, const pw_conf_key_t *k,
                         void *base, const yaml_node_t *n, const char *path);
static int apply_list(const conf_ctx_t *c, const pw_conf_key_t *k, void *base,
                      const yaml_node_t *n, const char *path);

/* Store a STRING value: NULL for a plain null word, else a copy. */
static int store_string(const conf_ctx_t *c, const yaml_node_t *n,
                        const pw_conf_key_t *k, void *base, const char *s,
                        size_t len, bool plain, const char *path)
{
    char *copy = NULL;
    if (!(plain && is_null_word(s, len))) {
        copy = dup_text(s, len);
        if (copy == NULL)
            return ctx_fail(c, n, -ENOMEM, "%s: out of memory", path);
    }
    free(get_ptr(base, k->offset));
    put_ptr(base, k->offset, copy);
    return 0;
}

/*
 * Parse s (NUL-terminated at len) as the value of scalar key k and store
 * it; on failure base is unchanged. plain says whether YAML null words
 * mean NULL (for STRING keys).
 */
static int store_scalar(const conf_ctx_t *c, const yaml_node_t *n,
                        const pw_conf_key_t *k, void *base, const char *s,
                        size_t len, bool plain, const char *path)
{
    if (strlen(s) != len)
        return ctx_fail(c, n, PW_ECONF, "%s: value contains a NUL byte",
                        path);
    if (k->type == PW_CONF_STRING)
        return store_string(c, n, k, base, s, len, plain, path);
    conf_val_t v;
    char why[PW_ERR_MSG_MAX / 2];
    if (parse_checked(k, s, len, &v, why, sizeof why) != 0)
        return ctx_fail(c, n, PW_ECONF, "%s: %s", path, why);
    store_val(k, base, v);
    return 0;
}

/* Set defaults for every key; the table has been checked. */
static int section_defaults(const pw_conf_section_t *sec, void *base,
                            const char *path, pw_err_t *err)
{
    conf_ctx_t c = { NULL, NULL, err };
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        char kpath[CONF_PATH_MAX];
        path_join(kpath, path, k->name);
        int rc = 0;
        if (k->type == PW_CONF_SECTION) {
            rc = section_defaults(k->sub, field(base, k->offset), kpath, err);
        } else if (k->def == NULL) {
            continue; /* zeroed already */
        } else if (k->type == PW_CONF_STRLIST || k->type == PW_CONF_LIST) {
            yaml_document_t doc;
            rc = yaml_load_text(NULL, k->def, strlen(k->def), &doc, err);
            if (rc == 0) {
                c.doc = &doc;
                const yaml_node_t *root = yaml_document_get_root_node(&doc);
                if (root != NULL && k->type == PW_CONF_STRLIST)
                    rc = apply_strlist(&c, k, base, root, kpath);
                else if (root != NULL)
                    rc = apply_list(&c, k, base, root, kpath);
                yaml_document_delete(&doc);
                c.doc = NULL;
            }
        } else {
            /* Defaults are literal text: a STRING default "~" is "~". */
            rc = store_scalar(&c, NULL, k, base, k->def, strlen(k->def),
                              false, kpath);
        }
        if (rc == -ENOMEM)
            return rc;
        if (rc != 0) {
            pw_err_prefix(err, PW_EARG, "schema bug: default of %s: ", kpath);
            if (err != NULL)
                err->code = PW_EARG;
            return PW_EARG;
        }
    }
    return 0;
}

/*
 * Check that k's default parses and is in range, so a bad default inside
 * a list element is caught even while the list is empty.
 */
static int check_default(const pw_conf_key_t *k, const char *path,
                         const char *kpath, pw_err_t *err)
{
    if (k->def == NULL || k->type == PW_CONF_STRING)
        return 0;
    if (k->type != PW_CONF_STRLIST && k->type != PW_CONF_LIST) {
        conf_val_t v;
        char why[PW_ERR_MSG_MAX / 2];
        if (parse_checked(k, k->def, strlen(k->def), &v, why, sizeof why))
            return pw_err_set(err, PW_EARG, "schema bug: default of %s: %s",
                              kpath, why);
        return 0;
    }
    /* Apply a list default to scratch memory holding just its fields. */
    size_t end = k->offset + sizeof(void *);
    if (k->count_offset + sizeof(size_t) > end)
        end = k->count_offset + sizeof(size_t);
    void *scratch = calloc(1, end);
    if (scratch == NULL)
        return pw_err_set(err, -ENOMEM, "%s: out of memory", kpath);
    pw_conf_section_t one = { "", "", k, 1 };
    section_zero(&one, scratch, 0);
    int rc = section_defaults(&one, scratch, path, err);
    section_fini(&one, scratch, 0);
    free(scratch);
    return rc;
}

/* Check a table once, before anything is read with it. */
static int section_check(const pw_conf_section_t *sec, const char *path,
                         int depth, pw_err_t *err)
{
    const char *where = path[0]                       ? path
                        : sec->name && sec->name[0] ? sec->name
                                                    : "the root section";
    if (depth > CONF_DEPTH_MAX)
        return pw_err_set(err, PW_EARG,
                          "schema bug: %s: sections nested deeper than %d "
                          "(a cycle?)", where, CONF_DEPTH_MAX);
    if (sec->keys == NULL && sec->nkeys > 0)
        return pw_err_set(err, PW_EARG, "schema bug: %s: no keys array",
                          where);
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        if (k->name == NULL || k->name[0] == '\0' ||
            k->name[strspn(k->name, "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_-")] != '\0')
            return pw_err_set(err, PW_EARG,
                              "schema bug: %s: key %zu ('%s') has a bad name",
                              where, i, k->name ? k->name : "(null)");
        char kpath[CONF_PATH_MAX];
        path_join(kpath, path, k->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(sec->keys[j].name, k->name) == 0)
                return pw_err_set(err, PW_EARG,
                                  "schema bug: %s: declared twice", kpath);
        if (k->type < PW_CONF_BOOL || k->type > PW_CONF_LIST)
            return pw_err_set(err, PW_EARG, "schema bug: %s: no type", kpath);
        if (k->type == PW_CONF_ENUM &&
            (k->choices == NULL || k->choices[0] == NULL))
            return pw_err_set(err, PW_EARG,
                              "schema bug: %s: enum without choices", kpath);
        if ((k->min != NULL || k->max != NULL) && !has_range(k->type))
            return pw_err_set(err, PW_EARG,
                              "schema bug: %s: bounds on a type without "
                              "them", kpath);
        conf_val_t lo, hi;
        char why[PW_ERR_MSG_MAX / 2];
        if (k->min != NULL &&
            parse_value(k, k->min, strlen(k->min), &lo, why, sizeof why))
            return pw_err_set(err, PW_EARG, "schema bug: %s: min: %s", kpath,
                              why);
        if (k->max != NULL &&
            parse_value(k, k->max, strlen(k->max), &hi, why, sizeof why))
            return pw_err_set(err, PW_EARG, "schema bug: %s: max: %s", kpath,
                              why);
        if (k->min != NULL && k->max != NULL && val_cmp(k, lo, hi) > 0)
            return pw_err_set(err, PW_EARG, "schema bug: %s: min above max",
                              kpath);
        if (k->type == PW_CONF_SECTION || k->type == PW_CONF_LIST) {
            if (k->sub == NULL)
                return pw_err_set(err, PW_EARG,
                                  "schema bug: %s: no sub-section", kpath);
            if (k->type == PW_CONF_SECTION && k->def != NULL)
                return pw_err_set(err, PW_EARG,
                                  "schema bug: %s: a section takes its "
                                  "defaults from its keys", kpath);
            if (k->type == PW_CONF_LIST && k->elem_size == 0)
                return pw_err_set(err, PW_EARG,
                                  "schema bug: %s: list without elem_size",
                                  kpath);
            char sub[CONF_PATH_MAX];
            if (k->type == PW_CONF_LIST)
                text_fmt(sub, sizeof sub, "%s[]", kpath);
            else
                snprintf(sub, sizeof sub, "%s", kpath);
            int rc = section_check(k->sub, sub, depth + 1, err);
            if (rc != 0)
                return rc;
        }
        if ((k->type == PW_CONF_STRLIST || k->type == PW_CONF_LIST) &&
            k->count_offset == k->offset)
            return pw_err_set(err, PW_EARG,
                              "schema bug: %s: count_offset is the list "
                              "itself", kpath);
        int rc = check_default(k, path, kpath, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int pw_conf_defaults(const pw_conf_section_t *section, void *dst,
                     pw_err_t *err)
{
    if (section == NULL || dst == NULL)
        return pw_err_set(err, PW_EARG, "pw_conf_defaults: no section or "
                                        "destination");
    int rc = section_check(section, "", 0, err);
    if (rc != 0) {
        /* Leave what a broken table can describe safe to fini. */
        section_zero(section, dst, 0);
        return rc;
    }
    section_zero(section, dst, 0);
    rc = section_defaults(section, dst, "", err);
    if (rc != 0)
        section_fini(section, dst, 0);
    return rc;
}

/* ------------------------------------------------------------------------
 * Applying a YAML tree to a struct.
 */

static int apply_map(const conf_ctx_t *c, const pw_conf_section_t *sec,
                     void *base, const yaml_node_t *n, const char *path);

static int apply_value(const conf_ctx_t *c, const pw_conf_key_t *k,
                       void *base, const yaml_node_t *n, const char *path)
{
    char got[96];
    switch (k->type) {
    case PW_CONF_SECTION:
        return apply_map(c, k->sub, field(base, k->offset), n, path);
    case PW_CONF_STRLIST:
        return apply_strlist(c, k, base, n, path);
    case PW_CONF_LIST:
        return apply_list(c, k, base, n, path);
    default:
        break;
    }
    if (n->type != YAML_SCALAR_NODE) {
        node_desc(n, got, sizeof got);
        if (k->type == PW_CONF_STRING)
            return ctx_fail(c, n, PW_ECONF, "%s: expected a string, got %s",
                            path, got);
        char want[PW_ERR_MSG_MAX / 2];
        expect_text(k, want, sizeof want);
        return ctx_fail(c, n, PW_ECONF, "%s: %s, got %s", path, want, got);
    }
    return store_scalar(c, n, k, base, (const char *)n->data.scalar.value,
                        n->data.scalar.length,
                        n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, path);
}

static int apply_map(const conf_ctx_t *c, const pw_conf_section_t *sec,
                     void *base, const yaml_node_t *n, const char *path)
{
    char got[96];
    if (node_is_null(n))
        return 0; /* "log:" with nothing under it: all defaults */
    if (n->type != YAML_MAPPING_NODE) {
        node_desc(n, got, sizeof got);
        if (path[0] == '\0')
            return ctx_fail(c, n, PW_ECONF,
                            "expected a map of sections and keys at the top "
                            "level, got %s", got);
        return ctx_fail(c, n, PW_ECONF, "%s: expected a map, got %s", path,
                        got);
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
        assert(kn != NULL && vn != NULL);
        if (kn->type != YAML_SCALAR_NODE) {
            node_desc(kn, got, sizeof got);
            return ctx_fail(c, kn, PW_ECONF,
                            "expected a key name%s%s%s, got %s",
                            path[0] ? " in section '" : " at the top level",
                            path, path[0] ? "'" : "", got);
        }
        const char *name = (const char *)kn->data.scalar.value;
        size_t len = kn->data.scalar.length;
        const pw_conf_key_t *k = find_key(sec, name, len);
        if (k == NULL) {
            char keys[PW_ERR_MSG_MAX];
            keys_text(sec, keys, sizeof keys);
            int w = (int)(len > 64 ? 64 : len);
            if (path[0] == '\0')
                return ctx_fail(c, kn, PW_ECONF,
                                "unknown key '%.*s' at the top level "
                                "(expected one of: %s)", w, name, keys);
            return ctx_fail(c, kn, PW_ECONF,
                            "unknown key '%.*s' in section '%s' (expected "
                            "one of: %s)", w, name, path, keys);
        }
        /* Every earlier key is a known one, so this loop is short. */
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            const yaml_node_t *qn = yaml_document_get_node(c->doc, q->key);
            if (qn->data.scalar.length == len &&
                memcmp(qn->data.scalar.value, name, len) == 0) {
                if (path[0] == '\0')
                    return ctx_fail(c, kn, PW_ECONF,
                                    "duplicate key '%s' at the top level "
                                    "(first at line %zu)", k->name,
                                    (size_t)qn->start_mark.line + 1);
                return ctx_fail(c, kn, PW_ECONF,
                                "duplicate key '%s' in section '%s' (first "
                                "at line %zu)", k->name, path,
                                (size_t)qn->start_mark.line + 1);
            }
        }
        char kpath[CONF_PATH_MAX];
        path_join(kpath, path, k->name);
        if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0 &&
            vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            k->type != PW_CONF_STRING && k->type != PW_CONF_SECTION &&
            k->type != PW_CONF_STRLIST && k->type != PW_CONF_LIST) {
            /* "key:" with no value: libyaml places it on the next line. */
            char want[PW_ERR_MSG_MAX / 2];
            expect_text(k, want, sizeof want);
            return ctx_fail(c, kn, PW_ECONF, "%s: %s, got nothing", kpath,
                            want);
        }
        int rc = apply_value(c, k, base, vn, kpath);
        if (rc != 0)
            return rc;
        if (k->type == PW_CONF_SECTION && k->line_offset != 0)
            *(int *)field(base, k->line_offset) = (int)kn->start_mark.line + 1;
    }
    return 0;
}

/* Build a new string list from n, then replace the old one. */
static int apply_strlist(const conf_ctx_t *c, const pw_conf_key_t *k,
                         void *base, const yaml_node_t *n, const char *path)
{
    char got[96];
    size_t count = 0;
    char **arr = NULL;
    if (!node_is_null(n)) {
        if (n->type != YAML_SEQUENCE_NODE) {
            node_desc(n, got, sizeof got);
            return ctx_fail(c, n, PW_ECONF,
                            "%s: expected a list of strings like [a, b], got "
                            "%s", path, got);
        }
        count = (size_t)(n->data.sequence.items.top -
                         n->data.sequence.items.start);
    }
    if (count > 0) {
        arr = calloc(count + 1, sizeof *arr);
        if (arr == NULL)
            return ctx_fail(c, n, -ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *in =
            yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        char ipath[CONF_PATH_MAX];
        path_index(ipath, path, i);
        int rc = 0;
        if (in->type != YAML_SCALAR_NODE || node_is_null(in)) {
            node_desc(in, got, sizeof got);
            rc = ctx_fail(c, in, PW_ECONF, "%s: expected a string, got %s",
                          ipath, in->type == YAML_SCALAR_NODE ? "null" : got);
        } else if (strlen((const char *)in->data.scalar.value) !=
                   in->data.scalar.length) {
            rc = ctx_fail(c, in, PW_ECONF, "%s: value contains a NUL byte",
                          ipath);
        } else {
            arr[i] = dup_text((const char *)in->data.scalar.value,
                              in->data.scalar.length);
            if (arr[i] == NULL)
                rc = ctx_fail(c, in, -ENOMEM, "%s: out of memory", ipath);
        }
        if (rc != 0) {
            strlist_free(arr, count);
            return rc;
        }
    }
    strlist_free(get_ptr(base, k->offset), get_count(base, k->count_offset));
    put_ptr(base, k->offset, arr);
    put_count(base, k->count_offset, count);
    return 0;
}

/* Build a new list of element structs from n, then replace the old one. */
static int apply_list(const conf_ctx_t *c, const pw_conf_key_t *k, void *base,
                      const yaml_node_t *n, const char *path)
{
    char got[96];
    size_t count = 0;
    char *arr = NULL;
    if (!node_is_null(n)) {
        if (n->type != YAML_SEQUENCE_NODE) {
            node_desc(n, got, sizeof got);
            return ctx_fail(c, n, PW_ECONF,
                            "%s: expected a list of maps, got %s", path, got);
        }
        count = (size_t)(n->data.sequence.items.top -
                         n->data.sequence.items.start);
    }
    if (count > 0) {
        arr = calloc(count, k->elem_size);
        if (arr == NULL)
            return ctx_fail(c, n, -ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *in =
            yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        void *elem = arr + i * k->elem_size;
        char ipath[CONF_PATH_MAX];
        path_index(ipath, path, i);
        section_zero(k->sub, elem, 0);
        int rc = section_defaults(k->sub, elem, ipath, c->err);
        if (rc == 0)
            rc = apply_map(c, k->sub, elem, in, ipath);
        if (rc == 0 && k->line_offset != 0)
            *(int *)field(elem, k->line_offset) = (int)in->start_mark.line + 1;
        if (rc != 0) {
            list_free(k, arr, i + 1, 0);
            return rc;
        }
    }
    list_free(k, get_ptr(base, k->offset), get_count(base, k->count_offset),
              0);
    put_ptr(base, k->offset, arr);
    put_count(base, k->count_offset, count);
    return 0;
}

/* ------------------------------------------------------------------------
 * Loading.
 */

/* Line and column (1-based) of byte offset off in text. */
static void offset_pos(const char *text, size_t len, size_t off, size_t *line,
                       size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Turn libyaml's error into ours, with its own problem text. */
static int yaml_error(const yaml_parser_t *p, const char *name,
                      const char *text, size_t len, pw_err_t *err)
{
    if (p->error == YAML_MEMORY_ERROR)
        return pw_err_set(err, -ENOMEM, "%s: out of memory reading YAML",
                          name ? name : "value");
    size_t line, col;
    char problem[PW_ERR_MSG_MAX / 2];
    const char *what = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        offset_pos(text, len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            snprintf(problem, sizeof problem, "%s (#x%X)", what,
                     (unsigned)p->problem_value);
        else
            snprintf(problem, sizeof problem, "%s", what);
    } else {
        line = (size_t)p->problem_mark.line + 1;
        col = (size_t)p->problem_mark.column + 1;
        if (p->context != NULL && name == NULL)
            snprintf(problem, sizeof problem, "%s (%s at column %zu)", what,
                     p->context, (size_t)p->context_mark.column + 1);
        else if (p->context != NULL)
            snprintf(problem, sizeof problem, "%s (%s at line %zu, column %zu)",
                     what, p->context, (size_t)p->context_mark.line + 1,
                     (size_t)p->context_mark.column + 1);
        else
            snprintf(problem, sizeof problem, "%s", what);
    }
    /*
     * An override is one line; libyaml reports its end as the start of
     * a second line.
     */
    if (name == NULL && line > 1)
        return pw_err_set(err, PW_ECONF, "invalid YAML at the end: %s",
                          problem);
    if (name == NULL)
        return pw_err_set(err, PW_ECONF, "invalid YAML at column %zu: %s",
                          col, problem);
    return pw_err_set(err, PW_ECONF, "%s:%zu:%zu: %s", name, line, col,
                      problem);
}

/*
 * Parse exactly one YAML document from text. On success the caller owns
 * doc (yaml_document_delete); its root may be NULL for an empty text.
 */
static int yaml_load_text(const char *name, const char *text, size_t len,
                          yaml_document_t *doc, pw_err_t *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return pw_err_set(err, -ENOMEM, "%s: out of memory reading YAML",
                          name ? name : "value");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, doc)) {
        int rc = yaml_error(&p, name, text, len, err);
        yaml_parser_delete(&p);
        return rc;
    }
    int rc = 0;
    if (yaml_document_get_root_node(doc) != NULL) {
        yaml_document_t extra;
        if (!yaml_parser_load(&p, &extra)) {
            rc = yaml_error(&p, name, text, len, err);
        } else {
            const yaml_node_t *r = yaml_document_get_root_node(&extra);
            if (r != NULL) {
                conf_ctx_t c = { name, &extra, err };
                rc = ctx_fail(&c, r, PW_ECONF,
                              "expected one YAML document, found a second");
            }
            yaml_document_delete(&extra);
        }
    }
    yaml_parser_delete(&p);
    if (rc != 0)
        yaml_document_delete(doc);
    return rc;
}

int pw_conf_load_string(const char *name, const char *text, size_t len,
                        const pw_conf_section_t *section, void *dst,
                        pw_err_t *err)
{
    if (section == NULL || dst == NULL || (text == NULL && len > 0))
        return pw_err_set(err, PW_EARG, "pw_conf_load_string: bad argument");
    if (name == NULL)
        name = "<string>";
    int rc = pw_conf_defaults(section, dst, err);
    if (rc != 0)
        return rc;
    yaml_document_t doc;
    rc = yaml_load_text(name, text ? text : "", len, &doc, err);
    if (rc == 0) {
        conf_ctx_t c = { name, &doc, err };
        const yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root != NULL)
            rc = apply_map(&c, section, dst, root, "");
        yaml_document_delete(&doc);
    }
    if (rc != 0) {
        /* Never half-loaded: back to exactly the defaults. */
        section_fini(section, dst, 0);
        if (section_defaults(section, dst, "", NULL) != 0)
            section_fini(section, dst, 0);
    }
    return rc;
}

/* Read a whole file; *buf is owned by the caller on success. */
static int read_file(const char *path, char **buf, size_t *len, pw_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pw_err_set(err, -errno, "%s: %s", path, strerror(errno));
    int rc = 0;
    char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= CONF_FILE_MAX) {
                rc = pw_err_set(err, PW_ECONF,
                                "%s: larger than %u bytes; not a "
                                "configuration file?", path, CONF_FILE_MAX);
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            char *grown = realloc(data, cap);
            if (grown == NULL) {
                rc = pw_err_set(err, -ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            data = grown;
        }
        ssize_t r = read(fd, data + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = pw_err_set(err, -errno, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *buf = data;
    *len = n;
    return 0;
fail:
    free(data);
    close(fd);
    return rc;
}

int pw_conf_load_file(const char *path, const pw_conf_section_t *section,
                      void *dst, pw_err_t *err)
{
    if (path == NULL || section == NULL || dst == NULL)
        return pw_err_set(err, PW_EARG, "pw_conf_load_file: bad argument");
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len, err);
    if (rc != 0) {
        pw_err_t ignored;
        int drc = pw_conf_defaults(section, dst, &ignored);
        if (drc != 0) {
            /* A schema bug matters more than a missing file. */
            if (err != NULL)
                *err = ignored;
            return drc;
        }
        return rc;
    }
    rc = pw_conf_load_string(path, text, len, section, dst, err);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------------
 * Overrides.
 */

static int unknown_key(pw_err_t *err, const pw_conf_section_t *sec,
                       const char *path, const char *name, size_t len)
{
    char keys[PW_ERR_MSG_MAX];
    keys_text(sec, keys, sizeof keys);
    int w = (int)(len > 64 ? 64 : len);
    if (path[0] == '\0')
        return pw_err_set(err, PW_ECONF,
                          "unknown key '%.*s' at the top level (expected one "
                          "of: %s)", w, name, keys);
    return pw_err_set(err, PW_ECONF,
                      "unknown key '%.*s' in section '%s' (expected one of: "
                      "%s)", w, name, path, keys);
}

/* Replace a whole STRLIST or LIST from YAML flow text. */
static int set_yaml_list(const pw_conf_key_t *k, void *base,
                         const char *value, const char *path, pw_err_t *err)
{
    yaml_document_t doc;
    int rc = yaml_load_text(NULL, value, strlen(value), &doc, err);
    if (rc != 0)
        return pw_err_prefix(err, rc, "%s: ", path);
    conf_ctx_t c = { NULL, &doc, err };
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        /* "channels=" empties the list. */
        if (k->type == PW_CONF_STRLIST)
            strlist_free(get_ptr(base, k->offset),
                         get_count(base, k->count_offset));
        else
            list_free(k, get_ptr(base, k->offset),
                      get_count(base, k->count_offset), 0);
        put_ptr(base, k->offset, NULL);
        put_count(base, k->count_offset, 0);
    } else if (k->type == PW_CONF_STRLIST) {
        rc = apply_strlist(&c, k, base, root, path);
    } else {
        rc = apply_list(&c, k, base, root, path);
    }
    yaml_document_delete(&doc);
    return rc;
}

int pw_conf_set(const pw_conf_section_t *section, void *dst,
                const char *assignment, pw_err_t *err)
{
    if (section == NULL || dst == NULL || assignment == NULL)
        return pw_err_set(err, PW_EARG, "pw_conf_set: bad argument");
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment)
        return pw_err_set(err, PW_ECONF,
                          "override '%.64s': expected key=value, e.g. "
                          "log.durability=sync", assignment);
    const char *value = eq + 1;
    const pw_conf_section_t *sec = section;
    void *base = dst;
    char shown[CONF_PATH_MAX] = "";
    const char *p = assignment;
    for (;;) {
        size_t nlen = strcspn(p, ".[=");
        if (nlen == 0)
            return pw_err_set(err, PW_ECONF,
                              "override '%.*s': empty key name",
                              (int)(eq - assignment), assignment);
        const pw_conf_key_t *k = find_key(sec, p, nlen);
        if (k == NULL)
            return unknown_key(err, sec, shown, p, nlen);
        char kpath[CONF_PATH_MAX];
        path_join(kpath, shown, k->name);
        p += nlen;
        bool indexed = false;
        size_t idx = 0;
        if (*p == '[') {
            const char *q = p + 1;
            if (!is_digit(*q))
                goto bad_index;
            for (; is_digit(*q); q++) {
                if (idx > (SIZE_MAX - 9) / 10)
                    goto bad_index;
                idx = idx * 10 + (size_t)(*q - '0');
            }
            if (*q != ']')
                goto bad_index;
            p = q + 1;
            indexed = true;
        }
        if (*p != '.' && *p != '=')
            goto bad_index;
        bool last = *p == '=';
        char ipath[CONF_PATH_MAX];
        path_index(ipath, kpath, idx);

        if (indexed) {
            if (k->type != PW_CONF_LIST && k->type != PW_CONF_STRLIST)
                return pw_err_set(err, PW_ECONF, "%s: not a list, cannot "
                                  "index it", kpath);
            size_t count = get_count(base, k->count_offset);
            if (idx >= count)
                return pw_err_set(err, PW_ECONF,
                                  "%s: no such element (the list has %zu)",
                                  ipath, count);
            if (k->type == PW_CONF_STRLIST) {
                if (!last)
                    return pw_err_set(err, PW_ECONF,
                                      "%s: a string has no keys", ipath);
                if (*value == '\0')
                    return pw_err_set(err, PW_ECONF,
                                      "%s: expected a string, got nothing",
                                      ipath);
                char *copy = strdup(value);
                if (copy == NULL)
                    return pw_err_set(err, -ENOMEM, "%s: out of memory",
                                      ipath);
                char **arr = get_ptr(base, k->offset);
                free(arr[idx]);
                arr[idx] = copy;
                return 0;
            }
            if (last)
                return pw_err_set(err, PW_ECONF,
                                  "%s: is a section; set one of its keys, "
                                  "e.g. %s.%s=...", ipath, ipath,
                                  k->sub->nkeys ? k->sub->keys[0].name
                                                : "key");
            base = (char *)get_ptr(base, k->offset) + idx * k->elem_size;
            sec = k->sub;
            snprintf(shown, sizeof shown, "%s", ipath);
            p++;
            continue;
        }
        if (!last) {
            if (k->type == PW_CONF_SECTION) {
                base = field(base, k->offset);
                sec = k->sub;
                snprintf(shown, sizeof shown, "%s", kpath);
                p++;
                continue;
            }
            if (k->type == PW_CONF_LIST)
                return pw_err_set(err, PW_ECONF,
                                  "%s: is a list; pick an element, e.g. "
                                  "%s[0].%s", kpath, kpath,
                                  k->sub->nkeys ? k->sub->keys[0].name
                                                : "key");
            return pw_err_set(err, PW_ECONF, "%s: not a section, has no keys",
                              kpath);
        }
        switch (k->type) {
        case PW_CONF_SECTION: {
            char keys[PW_ERR_MSG_MAX];
            keys_text(k->sub, keys, sizeof keys);
            return pw_err_set(err, PW_ECONF,
                              "%s: is a section; set one of its keys (%s)",
                              kpath, keys);
        }
        case PW_CONF_STRLIST:
        case PW_CONF_LIST:
            return set_yaml_list(k, base, value, kpath, err);
        default: {
            conf_ctx_t c = { NULL, NULL, err };
            return store_scalar(&c, NULL, k, base, value, strlen(value), true,
                                kpath);
        }
        }
    }
bad_index:
    return pw_err_set(err, PW_ECONF,
                      "override '%.*s': expected a path like a.b, a[0].b",
                      (int)(eq - assignment), assignment);
}

/* ------------------------------------------------------------------------
 * Printing.
 */

static void format_duration(int64_t ms, char *buf, size_t n)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(buf, n, "%" PRId64 "h", ms / 3600000);
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, n, "%" PRId64 "m", ms / 60000);
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, n, "%" PRId64 "s", ms / 1000);
    else
        snprintf(buf, n, "%" PRId64 "ms", ms);
}

static void format_size(uint64_t b, char *buf, size_t n)
{
    static const conf_unit_t order[] = {
        { "TiB", 1ull << 40 }, { "GiB", 1ull << 30 }, { "MiB", 1ull << 20 },
        { "KiB", 1ull << 10 }, { "TB", 1000000000000ull },
        { "GB", 1000000000ull }, { "MB", 1000000ull }, { "KB", 1000ull },
    };
    for (size_t i = 0; b != 0 && i < PW_CONF_NKEYS(order); i++) {
        if (b % order[i].mult == 0) {
            snprintf(buf, n, "%" PRIu64 "%s", b / order[i].mult,
                     order[i].name);
            return;
        }
    }
    snprintf(buf, n, "%" PRIu64, b);
}

/* Shortest "%g" that reads back to exactly d. */
static void format_double(double d, char *buf, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static bool plain_safe(const char *s)
{
    size_t len = strlen(s);
    if (is_null_word(s, len))
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          is_digit(s[0]) || s[0] == '_' || s[0] == '/' || s[0] == '.'))
        return false;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_./-")] == '\0';
}

/* A string as a YAML scalar: plain when safe, else double-quoted. */
static void put_string(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("~", f);
        return;
    }
    if (plain_safe(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        switch (*q) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*q < 0x20 || *q == 0x7f)
                fprintf(f, "\\x%02x", *q);
            else
                fputc(*q, f);
        }
    }
    fputc('"', f);
}

static void put_scalar(FILE *f, const pw_conf_key_t *k, const void *base)
{
    const void *p = cfield(base, k->offset);
    char buf[64];
    switch (k->type) {
    case PW_CONF_BOOL:
        fputs(*(const bool *)p ? "true" : "false", f);
        break;
    case PW_CONF_INT:
        fprintf(f, "%" PRId64, *(const int64_t *)p);
        break;
    case PW_CONF_DOUBLE:
        format_double(*(const double *)p, buf, sizeof buf);
        fputs(buf, f);
        break;
    case PW_CONF_STRING:
        put_string(f, get_ptr(base, k->offset));
        break;
    case PW_CONF_ENUM: {
        int e = *(const int *)p, n = 0;
        while (k->choices[n] != NULL)
            n++;
        if (e >= 0 && e < n)
            fputs(k->choices[e], f);
        else
            fprintf(f, "%d", e); /* the caller stored a bad index */
        break;
    }
    case PW_CONF_DURATION_MS:
        format_duration(*(const int64_t *)p, buf, sizeof buf);
        fputs(buf, f);
        break;
    case PW_CONF_SIZE_BYTES:
        format_size(*(const uint64_t *)p, buf, sizeof buf);
        fputs(buf, f);
        break;
    default:
        assert(!"put_scalar: not a scalar type");
    }
}

static void dump_section(FILE *f, const pw_conf_section_t *sec,
                         const void *base, int indent, bool first_inline)
{
    if (sec->nkeys == 0) {
        fprintf(f, "%*s{}\n", first_inline ? 0 : indent, "");
        return;
    }
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        int pad = (i == 0 && first_inline) ? 0 : indent;
        fprintf(f, "%*s%s:", pad, "", k->name);
        switch (k->type) {
        case PW_CONF_SECTION:
            if (k->sub->nkeys == 0) {
                fputs(" {}\n", f);
            } else {
                fputc('\n', f);
                dump_section(f, k->sub, cfield(base, k->offset), indent + 2,
                             false);
            }
            break;
        case PW_CONF_STRLIST: {
            char **arr = get_ptr(base, k->offset);
            size_t n = get_count(base, k->count_offset);
            fputs(" [", f);
            for (size_t j = 0; j < n; j++) {
                if (j)
                    fputs(", ", f);
                put_string(f, arr[j]);
            }
            fputs("]\n", f);
            break;
        }
        case PW_CONF_LIST: {
            const char *arr = get_ptr(base, k->offset);
            size_t n = get_count(base, k->count_offset);
            if (n == 0) {
                fputs(" []\n", f);
                break;
            }
            fputc('\n', f);
            for (size_t j = 0; j < n; j++) {
                fprintf(f, "%*s- ", indent + 2, "");
                dump_section(f, k->sub, arr + j * k->elem_size, indent + 4,
                             true);
            }
            break;
        }
        default:
            fputc(' ', f);
            put_scalar(f, k, base);
            fputc('\n', f);
        }
    }
}

int pw_conf_dump(FILE *f, const pw_conf_section_t *section, const void *dst)
{
    if (f == NULL || section == NULL || dst == NULL)
        return PW_EARG;
    dump_section(f, section, dst, 0, false);
    if (fflush(f) != 0 || ferror(f))
        return -(errno ? errno : EIO);
    return 0;
}

/* Widest dotted path, to line up the help columns. */
static size_t help_width(const pw_conf_section_t *sec, size_t prefix)
{
    size_t w = 0;
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        size_t kw = prefix + (prefix ? 1 : 0) + strlen(k->name);
        if (k->type == PW_CONF_LIST)
            kw += 2;
        if (kw > w)
            w = kw;
        if (k->type == PW_CONF_SECTION || k->type == PW_CONF_LIST) {
            size_t sw = help_width(k->sub, kw);
            if (sw > w)
                w = sw;
        }
    }
    return w;
}

static const char *type_name(pw_conf_type_t t)
{
    switch (t) {
    case PW_CONF_BOOL:        return "bool";
    case PW_CONF_INT:         return "int";
    case PW_CONF_DOUBLE:      return "number";
    case PW_CONF_STRING:      return "string";
    case PW_CONF_ENUM:        return "enum";
    case PW_CONF_DURATION_MS: return "duration";
    case PW_CONF_SIZE_BYTES:  return "size";
    case PW_CONF_STRLIST:     return "string list";
    case PW_CONF_SECTION:     return "section";
    case PW_CONF_LIST:        return "list";
    }
    return "?";
}

static void help_section(FILE *f, const pw_conf_section_t *sec,
                         const char *path, int width)
{
    for (size_t i = 0; i < sec->nkeys; i++) {
        const pw_conf_key_t *k = &sec->keys[i];
        char kpath[CONF_PATH_MAX];
        path_join(kpath, path, k->name);
        if (k->type == PW_CONF_LIST)
            buf_add(kpath, sizeof kpath, "[]");
        char info[PW_ERR_MSG_MAX] = "";
        buf_add(info, sizeof info, "%s", type_name(k->type));
        if (k->type == PW_CONF_LIST && k->sub->name && k->sub->name[0])
            buf_add(info, sizeof info, " of %s", k->sub->name);
        if (k->type == PW_CONF_ENUM) {
            char list[256];
            choices_text(k, list, sizeof list);
            buf_add(info, sizeof info, ", one of: %s", list);
        }
        if (k->min != NULL && k->max != NULL)
            buf_add(info, sizeof info, ", %s..%s", k->min, k->max);
        else if (k->min != NULL)
            buf_add(info, sizeof info, ", >= %s", k->min);
        else if (k->max != NULL)
            buf_add(info, sizeof info, ", <= %s", k->max);
        switch (k->type) {
        case PW_CONF_SECTION:
            break;
        case PW_CONF_STRING:
            if (k->def == NULL)
                buf_add(info, sizeof info, "; default: none");
            else if (k->def[0] == '\0')
                buf_add(info, sizeof info, "; default: \"\"");
            else
                buf_add(info, sizeof info, "; default: %s", k->def);
            break;
        case PW_CONF_STRLIST:
        case PW_CONF_LIST:
            buf_add(info, sizeof info, "; default: %s",
                    k->def ? k->def : "[]");
            break;
        case PW_CONF_BOOL:
            buf_add(info, sizeof info, "; default: %s",
                    k->def ? k->def : "false");
            break;
        case PW_CONF_ENUM:
            buf_add(info, sizeof info, "; default: %s",
                    k->def ? k->def : k->choices[0]);
            break;
        case PW_CONF_DURATION_MS:
            buf_add(info, sizeof info, "; default: %s",
                    k->def ? k->def : "0ms");
            break;
        default:
            buf_add(info, sizeof info, "; default: %s", k->def ? k->def : "0");
            break;
        }
        fprintf(f, "%-*s  %s\n", width, kpath, info);
        if (k->desc != NULL && k->desc[0] != '\0')
            fprintf(f, "    %s\n", k->desc);
        if (k->type == PW_CONF_SECTION || k->type == PW_CONF_LIST)
            help_section(f, k->sub, kpath, width);
    }
}

int pw_conf_print_help(FILE *f, const pw_conf_section_t *section)
{
    if (f == NULL || section == NULL)
        return PW_EARG;
    size_t w = help_width(section, 0);
    help_section(f, section, "", (int)(w > 40 ? 40 : w));
    if (fflush(f) != 0 || ferror(f))
        return -(errno ? errno : EIO);
    return 0;
}
