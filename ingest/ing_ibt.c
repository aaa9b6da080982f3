/*
 * ing_ibt: iRacing .ibt decoder. ing_ibt.h says what it emits; ing_format.h
 * gives the decoder contract.
 *
 * Why sessionStartDate is the wall clock of the first sample and not of
 * SessionTime 0: in the Bristol file it is 2025-11-06 23:39:03 UTC, the
 * local (UTC-6) time in the file's name "... 2025-11-06 17-39-03.ibt",
 * while its first SessionTime is 6097 s; MoTeC summaries of the same
 * session start at 16:00, consistent with a session that began at
 * 17:39:03 - 6097 s = 15:57 and not at 17:39.
 *
 * Speed: the sample loop precomputes, per selected element, its byte
 * offset and channel id, and groups elements into runs of one type, so a
 * row goes into the batch columns with one type switch per run and no
 * call per point.
 */
#include "ingest/ing_ibt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "ingest/ing_format.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ing_ibt reads little-endian fields in place: port it to this byte order"
#endif

/* Disk files end their fixed headers here. */
#define IBT_FIXED_BYTES (ING_IBT_HEADER_BYTES + ING_IBT_SUBHEADER_BYTES)

/* Start dates past 2100-01-01 are not dates (and would overflow ns). */
#define IBT_DATE_MAX_S 4102444800LL

/* SessionTime beyond this many seconds is garbage, not a time. */
#define IBT_SESSION_TIME_MAX_S 1e9

static int32_t rd_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int64_t rd_i64(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static double rd_f64(const uint8_t *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

size_t ing_ibt_type_size(int type)
{
    switch (type) {
    case ING_IBT_CHAR:
    case ING_IBT_BOOL:
        return 1;
    case ING_IBT_INT:
    case ING_IBT_BITFIELD:
    case ING_IBT_FLOAT:
        return 4;
    case ING_IBT_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

/* A fixed-size, maybe unterminated text field copied NUL-terminated. */
static void field_copy(char *dst, const uint8_t *src, size_t n)
{
    size_t k = 0;
    while (k < n && src[k])
        k++;
    memcpy(dst, src, k);
    dst[k] = '\0';
}

/* ------------------------------------------------------------------ */
/* Header and variable table                                          */
/* ------------------------------------------------------------------ */

/* Sort live buffers by tickCount (at most 4: insertion sort). */
static void live_sort(int32_t *tick, size_t *off, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && tick[j - 1] > tick[j]; j--) {
            int32_t t = tick[j];
            tick[j] = tick[j - 1];
            tick[j - 1] = t;
            size_t o = off[j];
            off[j] = off[j - 1];
            off[j - 1] = o;
        }
}

int ing_ibt_probe(const char *name, const uint8_t *data, size_t len, ing_ibt_info_t *out,
                  pw_err_t *err)
{
    if (!name || (!data && len) || !out)
        return pw_err_set(err, PW_EARG, "ing_ibt_probe: NULL argument");
    if (len < ING_IBT_HEADER_BYTES)
        return pw_err_set(err, PW_ETRUNC,
                          "%s: %zu bytes, shorter than the %d-byte iRacing header", name, len,
                          ING_IBT_HEADER_BYTES);
    ing_ibt_info_t in;
    memset(&in, 0, sizeof in);
    int32_t ver = rd_i32(data + 0);
    if (ver != ING_IBT_VERSION)
        return pw_err_set(err, PW_ECORRUPT,
                          "%s: not an iRacing .ibt file: header version %d (expected %d)",
                          name, (int)ver, ING_IBT_VERSION);
    int32_t tick_rate = rd_i32(data + 8);
    int32_t yaml_len = rd_i32(data + 16);
    int32_t yaml_off = rd_i32(data + 20);
    int32_t nvars = rd_i32(data + 24);
    int32_t var_off = rd_i32(data + 28);
    int32_t nbuf = rd_i32(data + 32);
    int32_t row_bytes = rd_i32(data + 36);

    if (nvars < 1 || nvars > ING_IBT_MAX_VARS)
        return pw_err_set(err, PW_ECORRUPT,
                          "%s: header numVars %d at byte 24 (expected 1..%d)", name,
                          (int)nvars, ING_IBT_MAX_VARS);
    if (row_bytes < 1 || row_bytes > ING_IBT_MAX_ROW_BYTES)
        return pw_err_set(err, PW_ECORRUPT,
                          "%s: header bufLen %d at byte 36 (expected 1..%d bytes per sample)",
                          name, (int)row_bytes, ING_IBT_MAX_ROW_BYTES);
    if (nbuf < 1 || nbuf > ING_IBT_MAX_BUFS)
        return pw_err_set(err, PW_ECORRUPT, "%s: header numBuf %d at byte 32 (expected 1..%d)",
                          name, (int)nbuf, ING_IBT_MAX_BUFS);
    if (var_off < ING_IBT_HEADER_BYTES)
        return pw_err_set(err, PW_ECORRUPT,
                          "%s: header varHeaderOffset %d at byte 28 is inside the %d-byte header",
                          name, (int)var_off, ING_IBT_HEADER_BYTES);
    if (yaml_len < 0 || (yaml_len > 0 && yaml_off < ING_IBT_HEADER_BYTES))
        return pw_err_set(err, PW_ECORRUPT,
                          "%s: header session info at byte %d, %d bytes (bytes 16..24): "
                          "inside the header or negative",
                          name, (int)yaml_off, (int)yaml_len);

    /* A disk file keeps its sub-header at 112..144; a live map does not. */
    in.live = var_off < IBT_FIXED_BYTES || (yaml_len > 0 && yaml_off < IBT_FIXED_BYTES);
    in.tick_rate_hz = tick_rate > 0 && tick_rate <= 100000 ? (int)tick_rate : 60;
    in.nvars = (uint32_t)nvars;
    in.var_offset = (size_t)var_off;
    in.row_bytes = (uint32_t)row_bytes;

    uint64_t var_end = (uint64_t)var_off + (uint64_t)nvars * ING_IBT_VAR_BYTES;
    if (var_end > len)
        return pw_err_set(err, PW_ETRUNC,
                          "%s: %d variable headers at byte %d end at byte %llu, past the "
                          "end of the file (%zu bytes)",
                          name, (int)nvars, (int)var_off, (unsigned long long)var_end, len);
    uint64_t yaml_end = (uint64_t)(uint32_t)yaml_off + (uint64_t)yaml_len;
    if (yaml_len > 0 && yaml_end > len)
        return pw_err_set(err, PW_ETRUNC,
                          "%s: session info YAML at byte %d, %d bytes, ends at byte %llu, past "
                          "the end of the file (%zu bytes)",
                          name, (int)yaml_off, (int)yaml_len, (unsigned long long)yaml_end, len);
    if (yaml_len > 0) {
        in.yaml_offset = (size_t)yaml_off;
        in.yaml_len = strnlen((const char *)data + yaml_off, (size_t)yaml_len);
    }

    /* Every variable must sit inside a sample: the sample loop trusts this. */
    uint64_t elements = 0;
    for (int32_t i = 0; i < nvars; i++) {
        const uint8_t *v = data + var_off + (size_t)i * ING_IBT_VAR_BYTES;
        int32_t type = rd_i32(v), off = rd_i32(v + 4), count = rd_i32(v + 8);
        char vname[33];
        field_copy(vname, v + 16, 32);
        size_t at = (size_t)var_off + (size_t)i * ING_IBT_VAR_BYTES;
        if (!vname[0])
            return pw_err_set(err, PW_ECORRUPT, "%s: variable #%d (byte %zu) has no name", name,
                              (int)i, at);
        size_t size = ing_ibt_type_size(type);
        if (!size)
            return pw_err_set(err, PW_ECORRUPT,
                              "%s: variable '%s' (#%d, byte %zu) has type %d (expected 0..5)",
                              name, vname, (int)i, at, (int)type);
        if (count < 1 || off < 0)
            return pw_err_set(err, PW_ECORRUPT,
                              "%s: variable '%s' (#%d, byte %zu) has offset %d and count %d",
                              name, vname, (int)i, at, (int)off, (int)count);
        uint64_t end = (uint64_t)off + (uint64_t)count * size;
        if (end > (uint64_t)row_bytes)
            return pw_err_set(err, PW_ECORRUPT,
                              "%s: variable '%s' (#%d, byte %zu) spans sample bytes %d..%llu, "
                              "past the %d-byte sample",
                              name, vname, (int)i, at, (int)off, (unsigned long long)end,
                              (int)row_bytes);
        elements += (uint64_t)count;
    }
    if (elements > ING_IBT_MAX_ELEMENTS)
        return pw_err_set(err, PW_ECORRUPT,
                          "%s: %llu channel elements per sample (most accepted: %d)", name,
                          (unsigned long long)elements, ING_IBT_MAX_ELEMENTS);
    in.elements = (uint32_t)elements;

    if (!in.live) {
        if (len < IBT_FIXED_BYTES)
            return pw_err_set(err, PW_ETRUNC,
                              "%s: %zu bytes, shorter than the %d bytes of header and disk "
                              "sub-header",
                              name, len, IBT_FIXED_BYTES);
        int64_t date = rd_i64(data + 112);
        double t0 = rd_f64(data + 120), t1 = rd_f64(data + 128);
        in.start_time_s = isfinite(t0) ? t0 : 0;
        in.end_time_s = isfinite(t1) ? t1 : 0;
        in.start_date_s = date > 0 && date < IBT_DATE_MAX_S && isfinite(t0) ? date : 0;
        in.lap_count = rd_i32(data + 136);
        int32_t promised = rd_i32(data + 140);
        int32_t data_off = rd_i32(data + 52); /* varBuf[0].bufOffset */
        if (data_off < IBT_FIXED_BYTES)
            return pw_err_set(err, PW_ECORRUPT,
                              "%s: header sample offset %d (varBuf[0].bufOffset, byte 52) is "
                              "inside the %d bytes of headers",
                              name, (int)data_off, IBT_FIXED_BYTES);
        if (promised < 0)
            return pw_err_set(err, PW_ECORRUPT,
                              "%s: sub-header sessionRecordCount %d at byte 140", name,
                              (int)promised);
        in.data_offset = (size_t)data_off;
        in.samples_promised = promised;
        size_t held = (size_t)data_off <= len ? (len - (size_t)data_off) / (size_t)row_bytes : 0;
        if (promised == 0) {
            /* iRacing writes the count when it closes the file. */
            in.samples = held;
            in.truncated = held > 0;
        } else {
            in.samples = held < (size_t)promised ? held : (size_t)promised;
            in.truncated = held < (size_t)promised;
        }
        in.truncated_at = in.data_offset + in.samples * (size_t)row_bytes;
    } else {
        int32_t tick[ING_IBT_MAX_BUFS];
        size_t off[ING_IBT_MAX_BUFS], n = 0;
        in.samples_promised = nbuf;
        for (int32_t b = 0; b < nbuf; b++) {
            int32_t t = rd_i32(data + 48 + 16 * b), o = rd_i32(data + 52 + 16 * b);
            if (o < ING_IBT_HEADER_BYTES)
                return pw_err_set(err, PW_ECORRUPT,
                                  "%s: live buffer %d offset %d (byte %d) is inside the header",
                                  name, (int)b, (int)o, 52 + 16 * (int)b);
            if ((uint64_t)o + (uint64_t)row_bytes > len) {
                if (!in.truncated || (size_t)o < in.truncated_at)
                    in.truncated_at = (size_t)o;
                in.truncated = 1;
                continue;
            }
            tick[n] = t;
            off[n++] = (size_t)o;
        }
        live_sort(tick, off, n);
        memcpy(in.live_offset, off, n * sizeof off[0]);
        in.samples = n;
    }
    *out = in;
    return 0;
}

int ing_ibt_var_get(const uint8_t *data, size_t len, const ing_ibt_info_t *info, uint32_t i,
                    ing_ibt_var_t *var)
{
    if (!data || !info || !var || i >= info->nvars ||
        info->var_offset + ((size_t)i + 1) * ING_IBT_VAR_BYTES > len)
        return PW_ERANGE;
    const uint8_t *v = data + info->var_offset + (size_t)i * ING_IBT_VAR_BYTES;
    var->type = rd_i32(v);
    var->offset = (uint32_t)rd_i32(v + 4);
    var->count = (uint32_t)rd_i32(v + 8);
    var->count_as_time = v[12] != 0;
    field_copy(var->name, v + 16, 32);
    field_copy(var->desc, v + 48, 64);
    field_copy(var->unit, v + 112, 32);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Session YAML                                                       */
/* ------------------------------------------------------------------ */

/* Keys kept from the YAML: section "Drivers" means DriverInfo.Drivers[]. */
static const struct yaml_key {
    const char *section;
    const char *key;
} yaml_keys[] = {
    {"WeekendInfo", "TrackName"},
    {"WeekendInfo", "TrackDisplayName"},
    {"WeekendInfo", "TrackDisplayShortName"},
    {"WeekendInfo", "TrackConfigName"},
    {"WeekendInfo", "TrackID"},
    {"WeekendInfo", "TrackLength"},
    {"WeekendInfo", "TrackCity"},
    {"WeekendInfo", "TrackCountry"},
    {"WeekendInfo", "TrackType"},
    {"WeekendInfo", "Category"},
    {"WeekendInfo", "EventType"},
    {"WeekendInfo", "SeriesID"},
    {"WeekendInfo", "SessionID"},
    {"WeekendInfo", "SubSessionID"},
    {"DriverInfo", "DriverCarIdx"},
    {"DriverInfo", "DriverUserID"},
    {"DriverInfo", "DriverCarFuelKgPerLtr"},
    {"DriverInfo", "DriverCarFuelMaxLtr"},
    {"DriverInfo", "DriverCarMaxFuelPct"},
    {"DriverInfo", "DriverCarIdleRPM"},
    {"DriverInfo", "DriverCarRedLine"},
    {"DriverInfo", "DriverCarEstLapTime"},
    {"Drivers", "CarIdx"},
    {"Drivers", "UserName"},
    {"Drivers", "TeamName"},
    {"Drivers", "CarNumber"},
    {"Drivers", "CarID"},
    {"Drivers", "CarPath"},
    {"Drivers", "CarScreenName"},
    {"Drivers", "CarScreenNameShort"},
};
#define YAML_NKEYS (sizeof yaml_keys / sizeof yaml_keys[0])
/* Indexes into yaml_keys that the decoder reads back. */
#define YAML_TRACK_NAME 0
#define YAML_SUBSESSION_ID 13
#define YAML_DRIVER_CAR_IDX 14
#define YAML_FIRST_DRIVER_KEY 22 /* {"Drivers", "CarIdx"} */
#define YAML_DRIVER_CAR_NUMBER 3 /* in a driver item, from YAML_FIRST_DRIVER_KEY */
#define YAML_NDRIVER_KEYS (YAML_NKEYS - YAML_FIRST_DRIVER_KEY)

/* Values found: session keys, and the driver entry of the driver's car. */
typedef struct yaml_facts {
    char *val[YAML_NKEYS]; /* owned; NULL = absent */
    char *cur[YAML_NDRIVER_KEYS]; /* the Drivers[] item being read */
    char *first[YAML_NDRIVER_KEYS]; /* the first item, if DriverCarIdx never matches */
} yaml_facts_t;

static void facts_free_driver(char **d)
{
    for (size_t k = 0; k < YAML_NDRIVER_KEYS; k++) {
        free(d[k]);
        d[k] = NULL;
    }
}

static void facts_fini(yaml_facts_t *f)
{
    for (size_t k = 0; k < YAML_NKEYS; k++)
        free(f->val[k]);
    facts_free_driver(f->cur);
    facts_free_driver(f->first);
    memset(f, 0, sizeof *f);
}

/* A Drivers[] item ended: keep it if it is the driver's car. */
static void facts_driver_end(yaml_facts_t *f)
{
    char **d = f->cur;
    const char *want = f->val[YAML_DRIVER_CAR_IDX];
    int match = want && d[0] && strtol(want, NULL, 10) == strtol(d[0], NULL, 10);
    if (match && !f->val[YAML_FIRST_DRIVER_KEY]) {
        for (size_t k = 0; k < YAML_NDRIVER_KEYS; k++) {
            f->val[YAML_FIRST_DRIVER_KEY + k] = d[k];
            d[k] = NULL;
        }
    } else if (!f->first[0] && !f->first[1]) {
        for (size_t k = 0; k < YAML_NDRIVER_KEYS; k++) {
            f->first[k] = d[k];
            d[k] = NULL;
        }
    }
    facts_free_driver(d);
}

static int facts_set(char **slot, const char *v, size_t n)
{
    if (*slot)
        return 0; /* first occurrence wins */
    char *s = malloc(n + 1);
    if (!s)
        return -ENOMEM;
    memcpy(s, v, n);
    s[n] = '\0';
    *slot = s;
    return 0;
}

/* A scalar value at section.key (depth 2) or Drivers[].key (depth 4). */
static int facts_value(yaml_facts_t *f, const char *section, const char *key, int driver,
                       const char *v, size_t n)
{
    for (size_t k = 0; k < YAML_NKEYS; k++) {
        if (strcmp(yaml_keys[k].key, key))
            continue;
        if (driver && k >= YAML_FIRST_DRIVER_KEY)
            return facts_set(&f->cur[k - YAML_FIRST_DRIVER_KEY], v, n);
        if (!driver && k < YAML_FIRST_DRIVER_KEY && !strcmp(yaml_keys[k].section, section))
            return facts_set(&f->val[k], v, n);
    }
    return 0;
}

/* Nesting kept while walking the YAML event stream. */
#define YAML_MAX_DEPTH 64
typedef struct yaml_frame {
    int is_map;      /* mapping (else sequence) */
    int want_key;    /* mapping: the next scalar is a key */
    char key[64];    /* mapping: the current key (truncated) */
} yaml_frame_t;

/*
 * Parse text with libyaml, collecting the keys of yaml_keys into f.
 * Returns 0, -ENOMEM, or PW_ECORRUPT with the problem and line in why.
 */
static int yaml_walk(const char *text, size_t n, yaml_facts_t *f, char *why, size_t whylen)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    yaml_frame_t st[YAML_MAX_DEPTH];
    int depth = 0, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(why, whylen, "line %lu column %lu: %s",
                     (unsigned long)p.problem_mark.line + 1,
                     (unsigned long)p.problem_mark.column + 1,
                     p.problem ? p.problem : "unknown problem");
            rc = PW_ECORRUPT;
            break;
        }
        yaml_frame_t *top = depth ? &st[depth - 1] : NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == YAML_MAX_DEPTH) {
                snprintf(why, whylen, "nested deeper than %d levels", YAML_MAX_DEPTH);
                rc = PW_ECORRUPT;
                break;
            }
            st[depth].is_map = ev.type == YAML_MAPPING_START_EVENT;
            st[depth].want_key = 1;
            st[depth].key[0] = '\0';
            depth++;
            /* A mapping inside DriverInfo.Drivers is one driver. */
            if (depth == 4 && st[3].is_map && !st[2].is_map && !strcmp(st[0].key, "DriverInfo") &&
                !strcmp(st[1].key, "Drivers"))
                facts_free_driver(f->cur);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (depth == 4 && st[3].is_map && !st[2].is_map && !strcmp(st[0].key, "DriverInfo") &&
                !strcmp(st[1].key, "Drivers"))
                facts_driver_end(f);
            if (depth)
                depth--;
            if (depth && st[depth - 1].is_map)
                st[depth - 1].want_key = 1;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            size_t vn = ev.data.scalar.length;
            if (top && top->is_map && top->want_key) {
                size_t k = vn < sizeof top->key - 1 ? vn : sizeof top->key - 1;
                memcpy(top->key, v, k);
                top->key[k] = '\0';
                top->want_key = 0;
                break;
            }
            if (depth == 2 && st[0].is_map && st[1].is_map)
                rc = facts_value(f, st[0].key, st[1].key, 0, v, vn);
            else if (depth == 4 && st[3].is_map && !st[2].is_map &&
                     !strcmp(st[0].key, "DriverInfo") && !strcmp(st[1].key, "Drivers"))
                rc = facts_value(f, "Drivers", st[3].key, 1, v, vn);
            if (top && top->is_map)
                top->want_key = 1;
            break;
        }
        case YAML_ALIAS_EVENT:
            if (top && top->is_map)
                top->want_key = !top->want_key;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* Append bytes to a growable buffer. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static int sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* Length of a valid UTF-8 sequence at s[0..n), 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (!k || k > n || s[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

/*
 * The fallback for YAML libyaml rejects. iRacing writes every value plain
 * (unquoted), whatever it holds: a user or team name with ": ", a leading
 * '@', '%' or '*', a '#', or Windows-1252 bytes that are not UTF-8. This
 * copy wraps each `key: value` value in single quotes (doubling quotes
 * inside), leaves values already quoted, turns bytes that are not UTF-8
 * into their Latin-1 characters and other control bytes into '?'. Every
 * value becomes a string, which is what the session pairs are anyway.
 */
static int yaml_sanitise(const char *text, size_t n, sbuf_t *out)
{
    sbuf_t line = {0};
    int rc = 0;
    size_t i = 0;
    while (i < n && rc == 0) {
        size_t e = i;
        while (e < n && text[e] != '\n')
            e++;
        /* The line, with bytes made valid UTF-8 without control characters. */
        line.n = 0;
        for (size_t k = i; k < e && rc == 0; k++) {
            unsigned char c = (unsigned char)text[k];
            if (c < 0x80) {
                char ch = c == '\t' ? ' ' : (c < 0x20 && c != '\r') || c == 0x7F ? '?' : (char)c;
                if (c != '\r')
                    rc = sb_put(&line, &ch, 1);
            } else {
                size_t u = utf8_len((const unsigned char *)text + k, e - k);
                if (u) {
                    rc = sb_put(&line, text + k, u);
                    k += u - 1;
                } else {
                    char two[2] = {(char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F))};
                    rc = sb_put(&line, two, 2);
                }
            }
        }
        if (rc)
            break;
        const char *s = line.p ? line.p : "";
        size_t ln = line.n, k = 0;
        while (k < ln && s[k] == ' ')
            k++;
        if (k + 1 < ln && s[k] == '-' && s[k + 1] == ' ')
            k += 2;
        size_t key0 = k;
        while (k < ln && (s[k] == '_' || s[k] == '-' || (s[k] >= '0' && s[k] <= '9') ||
                          ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z')))
            k++;
        size_t v0 = k + 2, vend = ln;
        while (vend > v0 && s[vend - 1] == ' ')
            vend--;
        int quote = k > key0 && k + 1 < ln && s[k] == ':' && s[k + 1] == ' ' && vend > v0 &&
                    s[v0] != '"' && s[v0] != '\'';
        if (!quote) {
            rc = sb_put(out, s, ln);
        } else {
            rc = sb_put(out, s, v0);
            if (!rc)
                rc = sb_put(out, "'", 1);
            for (size_t q = v0; q < vend && !rc; q++)
                rc = s[q] == '\'' ? sb_put(out, "''", 2) : sb_put(out, s + q, 1);
            if (!rc)
                rc = sb_put(out, "'", 1);
        }
        if (!rc)
            rc = sb_put(out, "\n", 1);
        i = e + 1;
    }
    free(line.p);
    return rc;
}

/*
 * Read the session facts: libyaml on the text as it is, then, if libyaml
 * rejects it, on the sanitised copy (see yaml_sanitise). how receives what
 * happened ("libyaml", "libyaml after quoting values (line 3...)") for the
 * session's IbtYaml key. Returns 0 (facts possibly empty when both passes
 * fail: how says why) or -ENOMEM.
 */
static int session_yaml_read(const char *text, size_t n, yaml_facts_t *f, char *how,
                             size_t howlen, int *failed)
{
    char why[160] = "", why2[160] = "";
    *failed = 0;
    if (n == 0) {
        snprintf(how, howlen, "none");
        return 0;
    }
    int rc = yaml_walk(text, n, f, why, sizeof why);
    if (rc == 0) {
        snprintf(how, howlen, "libyaml");
        return 0;
    }
    if (rc != PW_ECORRUPT)
        return rc;
    facts_fini(f);
    sbuf_t s = {0};
    rc = yaml_sanitise(text, n, &s);
    if (rc == 0)
        rc = yaml_walk(s.p ? s.p : "", s.n, f, why2, sizeof why2);
    free(s.p);
    if (rc == 0) {
        snprintf(how, howlen, "libyaml after quoting values (as written: %s)", why);
        return 0;
    }
    if (rc != PW_ECORRUPT)
        return rc;
    facts_fini(f);
    snprintf(how, howlen, "unreadable (%s; after quoting values: %s)", why, why2);
    *failed = 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                           */
/* ------------------------------------------------------------------ */

/* A run of consecutive selected elements of one type. */
typedef struct ibt_run {
    uint32_t end; /* one past its last element index */
    int type;
} ibt_run_t;

/* Everything a decode allocates, freed in one place. */
typedef struct ibt_dec {
    uint32_t *off;  /* per selected element: byte offset in a sample */
    uint32_t *chan; /* per selected element: channel id */
    uint8_t *type;  /* per selected element (while building runs) */
    ibt_run_t *run;
    size_t nel, nrun;
    uint8_t *want_el; /* per element of all variables: selected */
    yaml_facts_t facts;
    pw_points_t b;
} ibt_dec_t;

/* Convert n elements of one type at row + off[i] into out[i]. */
static void convert_run(int type, const uint8_t *row, const uint32_t *off, double *out,
                        size_t n)
{
    switch (type) {
    case ING_IBT_FLOAT:
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, row + off[i], sizeof f);
            out[i] = f;
        }
        break;
    case ING_IBT_DOUBLE:
        for (size_t i = 0; i < n; i++)
            memcpy(&out[i], row + off[i], sizeof out[i]);
        break;
    case ING_IBT_INT:
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, row + off[i], sizeof v);
            out[i] = v;
        }
        break;
    case ING_IBT_BITFIELD:
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, row + off[i], sizeof v);
            out[i] = v;
        }
        break;
    case ING_IBT_BOOL:
        for (size_t i = 0; i < n; i++)
            out[i] = row[off[i]] != 0;
        break;
    default: /* ING_IBT_CHAR */
        for (size_t i = 0; i < n; i++)
            out[i] = row[off[i]];
        break;
    }
}

/* "Name" or "Name[i]" into buf; returns its length. */
static size_t element_name(char *buf, size_t cap, const char *name, uint32_t count, uint32_t i)
{
    int n = count > 1 ? snprintf(buf, cap, "%s[%u]", name, i) : snprintf(buf, cap, "%s", name);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Requested name unknown: say which, and suggest names of this file. */
static int unknown_channel(const char *name, const uint8_t *data, size_t len,
                           const ing_ibt_info_t *info, const char *req, pw_err_t *err)
{
    char list[320] = "";
    size_t used = 0, shown = 0;
    size_t pre = strlen(req) < 3 ? strlen(req) : 3;
    for (int pass = 0; pass < 2 && shown < 8; pass++) {
        for (uint32_t i = 0; i < info->nvars && shown < 8; i++) {
            ing_ibt_var_t v;
            if (ing_ibt_var_get(data, len, info, i, &v))
                break;
            int similar = pre && !strncasecmp(v.name, req, pre);
            if (pass == 0 ? !similar : similar)
                continue;
            int w = snprintf(list + used, sizeof list - used, "%s%s", shown ? ", " : "",
                             v.name);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
            shown++;
        }
    }
    return pw_err_set(err, PW_ENOTFOUND,
                      "%s: no channel '%s' in this file; it has %u variables, e.g. %s%s", name,
                      req, info->nvars, list, info->nvars > shown ? ", ..." : "");
}

/* Mark the variables and elements opts->channels asks for. */
static int select_channels(const char *name, const uint8_t *data, size_t len,
                           const ing_ibt_info_t *info, const ing_opts_t *o, ibt_dec_t *d,
                           pw_err_t *err)
{
    d->want_el = calloc(info->elements ? info->elements : 1, 1);
    if (!d->want_el)
        return pw_err_set(err, -ENOMEM, "%s: out of memory", name);
    int all = !o || !o->channels || !o->nchannels;
    if (all) {
        memset(d->want_el, 1, info->elements);
        return 0;
    }
    for (size_t r = 0; r < o->nchannels; r++) {
        const char *req = o->channels[r];
        if (!req)
            return pw_err_set(err, PW_EARG, "%s: channel %zu of the list is NULL", name, r);
        size_t rl = strlen(req);
        /* "Name[i]" picks one element of an array variable. */
        const char *br = rl > 3 && req[rl - 1] == ']' ? strrchr(req, '[') : NULL;
        size_t base_len = br ? (size_t)(br - req) : rl;
        long idx = -1;
        if (br) {
            char *end = NULL;
            idx = strtol(br + 1, &end, 10);
            if (end != req + rl - 1 || end == br + 1 || idx < 0 || br[1] == '+' ||
                br[1] == '-' || br[1] == ' ')
                idx = -1, base_len = rl;
        }
        int found = 0;
        uint32_t el = 0;
        for (uint32_t i = 0; i < info->nvars; i++) {
            ing_ibt_var_t v;
            if (ing_ibt_var_get(data, len, info, i, &v))
                break;
            size_t vl = strlen(v.name);
            if (vl == rl && !memcmp(v.name, req, rl)) {
                memset(d->want_el + el, 1, v.count);
                found = 1;
            } else if (idx >= 0 && vl == base_len && !memcmp(v.name, req, base_len) &&
                       v.count > 1 && (uint32_t)idx < v.count) {
                d->want_el[el + (uint32_t)idx] = 1;
                found = 1;
            }
            el += v.count;
        }
        if (!found)
            return unknown_channel(name, data, len, info, req, err);
    }
    return 0;
}

/* Build the per-element tables and intern the channel names. */
static int build_tables(const char *name, const uint8_t *data, size_t len,
                        const ing_ibt_info_t *info, ing_names_t *names, ibt_dec_t *d,
                        pw_err_t *err)
{
    size_t nel = 0;
    for (uint32_t e = 0; e < info->elements; e++)
        nel += d->want_el[e];
    size_t cap = nel ? nel : 1;
    d->off = malloc(cap * sizeof *d->off);
    d->chan = malloc(cap * sizeof *d->chan);
    d->type = malloc(cap);
    d->run = malloc(cap * sizeof *d->run);
    if (!d->off || !d->chan || !d->type || !d->run)
        return pw_err_set(err, -ENOMEM, "%s: out of memory", name);
    uint32_t el = 0;
    size_t k = 0;
    for (uint32_t i = 0; i < info->nvars; i++) {
        ing_ibt_var_t v;
        if (ing_ibt_var_get(data, len, info, i, &v))
            break;
        size_t size = ing_ibt_type_size(v.type);
        for (uint32_t j = 0; j < v.count; j++, el++) {
            if (!d->want_el[el])
                continue;
            char buf[48];
            size_t bl = element_name(buf, sizeof buf, v.name, v.count, j);
            uint32_t id;
            int rc = pw_intern_add(names->channels, buf, bl, &id);
            if (rc)
                return pw_err_set(err, rc, "%s: cannot intern channel '%s': %s", name, buf,
                                  pw_strerror(rc));
            d->off[k] = v.offset + j * (uint32_t)size;
            d->chan[k] = id;
            d->type[k] = (uint8_t)v.type;
            k++;
        }
    }
    d->nel = k;
    d->nrun = 0;
    for (size_t e = 0; e < k; e++) {
        if (d->nrun && d->run[d->nrun - 1].type == d->type[e]) {
            d->run[d->nrun - 1].end = (uint32_t)e + 1;
        } else {
            d->run[d->nrun].type = d->type[e];
            d->run[d->nrun].end = (uint32_t)e + 1;
            d->nrun++;
        }
    }
    return 0;
}

/* Where SessionTime is, if the file has it as a number. */
static int find_session_time(const uint8_t *data, size_t len, const ing_ibt_info_t *info,
                             uint32_t *off, int *type)
{
    for (uint32_t i = 0; i < info->nvars; i++) {
        ing_ibt_var_t v;
        if (ing_ibt_var_get(data, len, info, i, &v))
            break;
        if (!strcmp(v.name, "SessionTime") &&
            (v.type == ING_IBT_DOUBLE || v.type == ING_IBT_FLOAT)) {
            *off = v.offset;
            *type = v.type;
            return 1;
        }
    }
    return 0;
}

/* Session pairs: keys static or from yaml_keys, values owned here. */
#define SESSION_MAX_PAIRS (YAML_NKEYS + 12)
typedef struct session_pairs {
    size_t n;
    const char *keys[SESSION_MAX_PAIRS];
    const char *values[SESSION_MAX_PAIRS];
    char num[12][48]; /* storage for the header-derived values */
    size_t nnum;
} session_pairs_t;

static void pairs_add(session_pairs_t *s, const char *k, const char *v)
{
    if (v && s->n < SESSION_MAX_PAIRS) {
        s->keys[s->n] = k;
        s->values[s->n] = v;
        s->n++;
    }
}

static const char *pairs_int(session_pairs_t *s, long long v)
{
    if (s->nnum == sizeof s->num / sizeof s->num[0])
        return NULL;
    char *p = s->num[s->nnum++];
    snprintf(p, sizeof s->num[0], "%lld", v);
    return p;
}

static const char *pairs_f64(session_pairs_t *s, double v)
{
    if (s->nnum == sizeof s->num / sizeof s->num[0])
        return NULL;
    char *p = s->num[s->nnum++];
    snprintf(p, sizeof s->num[0], "%.6f", v);
    return p;
}

static int emit_points(const ing_emit_t *emit, pw_points_t *b, ing_stats_t *st)
{
    if (!b->n)
        return 0;
    int rc = emit && emit->points ? emit->points(emit->ctx, b) : 0;
    if (rc == 0)
        st->points += b->n;
    pw_points_clear(b);
    return rc;
}

static void dec_fini(ibt_dec_t *d)
{
    free(d->off);
    free(d->chan);
    free(d->type);
    free(d->run);
    free(d->want_el);
    facts_fini(&d->facts);
    pw_points_fini(&d->b);
}

int ing_ibt_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                   ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err)
{
    if (!name || (!data && len) || !names || !names->channels || !names->entities || !st)
        return pw_err_set(err, PW_EARG, "ing_ibt_decode: NULL argument");
    ing_ibt_info_t info;
    int rc = ing_ibt_probe(name, data, len, &info, err);
    if (rc)
        return rc;
    st->bytes += len;
    ibt_dec_t d;
    memset(&d, 0, sizeof d);
    pw_points_init(&d.b);

    rc = select_channels(name, data, len, &info, o, &d, err);
    if (rc == 0)
        rc = build_tables(name, data, len, &info, names, &d, err);
    if (rc)
        goto done;

    /* Session facts and the entity. */
    char how[400];
    int yaml_failed = 0;
    rc = session_yaml_read((const char *)data + info.yaml_offset, info.yaml_len, &d.facts, how,
                           sizeof how, &yaml_failed);
    if (rc) {
        rc = pw_err_set(err, rc, "%s: out of memory reading the session YAML", name);
        goto done;
    }
    if (yaml_failed && !st->first_problem[0])
        snprintf(st->first_problem, sizeof st->first_problem,
                 "%s: session YAML at byte %zu (%zu bytes) %s", name, info.yaml_offset,
                 info.yaml_len, how);
    yaml_facts_t *f = &d.facts;
    char **drv = f->val[YAML_FIRST_DRIVER_KEY] ? &f->val[YAML_FIRST_DRIVER_KEY] : f->first;
    const char *carnum = drv[YAML_DRIVER_CAR_NUMBER];
    const char *caridx = f->val[YAML_DRIVER_CAR_IDX];
    char ent[80];
    if (carnum && carnum[0])
        snprintf(ent, sizeof ent, "car/%.70s", carnum);
    else if (caridx && caridx[0])
        snprintf(ent, sizeof ent, "car/%.70s", caridx);
    else
        snprintf(ent, sizeof ent, "car/0");
    uint32_t entity;
    rc = pw_intern_add(names->entities, ent, strlen(ent), &entity);
    if (rc) {
        rc = pw_err_set(err, rc, "%s: cannot intern entity '%s': %s", name, ent,
                        pw_strerror(rc));
        goto done;
    }

    if (emit && emit->session) {
        session_pairs_t sp;
        memset(&sp, 0, sizeof sp);
        pairs_add(&sp, "IbtLayout", info.live ? "live" : "disk");
        pairs_add(&sp, "Entity", ent);
        pairs_add(&sp, "TickRate", pairs_int(&sp, info.tick_rate_hz));
        if (!info.live) {
            if (info.start_date_s)
                pairs_add(&sp, "SessionStartDate", pairs_int(&sp, info.start_date_s));
            pairs_add(&sp, "SessionStartTime", pairs_f64(&sp, info.start_time_s));
            pairs_add(&sp, "SessionEndTime", pairs_f64(&sp, info.end_time_s));
            pairs_add(&sp, "SessionLapCount", pairs_int(&sp, info.lap_count));
            pairs_add(&sp, "SessionRecordCount",
                      pairs_int(&sp, (long long)info.samples_promised));
        }
        pairs_add(&sp, "IbtYaml", how);
        for (size_t k = 0; k < YAML_FIRST_DRIVER_KEY; k++)
            pairs_add(&sp, yaml_keys[k].key, f->val[k]);
        for (size_t k = 1; k < YAML_NDRIVER_KEYS; k++) /* CarIdx is DriverCarIdx */
            pairs_add(&sp, yaml_keys[YAML_FIRST_DRIVER_KEY + k].key, drv[k]);
        const char *sub = f->val[YAML_SUBSESSION_ID], *track = f->val[YAML_TRACK_NAME];
        long long subid = sub ? strtoll(sub, NULL, 10) : 0;
        ing_session_t s = {
            .id = subid > 0 ? (uint64_t)subid : (uint64_t)info.start_date_s,
            .name = track && track[0] ? track : name,
            .n = sp.n,
            .keys = sp.keys,
            .values = sp.values,
        };
        rc = emit->session(emit->ctx, &s);
        if (rc)
            goto done;
    }

    /* Samples. */
    size_t cap = o && o->batch_points ? o->batch_points : 4096;
    size_t total = info.samples * d.nel;
    if (cap > total)
        cap = total ? total : 1;
    if (pw_points_reserve(&d.b, cap)) {
        rc = pw_err_set(err, -ENOMEM, "%s: out of memory for a batch of %zu points", name, cap);
        goto done;
    }
    uint32_t t_off = 0;
    int t_type = 0;
    int have_t = find_session_time(data, len, &info, &t_off, &t_type);
    int64_t base_ns = info.start_date_s ? info.start_date_s * 1000000000LL : 0;
    double t0 = info.start_date_s ? info.start_time_s : 0;
    pw_points_t *b = &d.b;
    const uint32_t *offs = d.off;
    const uint32_t *chan = d.chan;
    const ibt_run_t *run = d.run;
    size_t nel = d.nel;
    int64_t tmin = st->first_ts_ns, tmax = st->last_ts_ns;
    for (size_t r = 0; r < info.samples; r++) {
        size_t at = info.live ? info.live_offset[r] : info.data_offset + r * info.row_bytes;
        const uint8_t *row = data + at;
        st->records++;
        double t;
        if (have_t) {
            if (t_type == ING_IBT_DOUBLE) {
                memcpy(&t, row + t_off, sizeof t);
            } else {
                float tf;
                memcpy(&tf, row + t_off, sizeof tf);
                t = tf;
            }
        } else {
            t = info.start_time_s + (double)r / info.tick_rate_hz;
        }
        if (!(t - t0 > -IBT_SESSION_TIME_MAX_S && t - t0 < IBT_SESSION_TIME_MAX_S)) {
            if (!st->skipped && !st->first_problem[0])
                snprintf(st->first_problem, sizeof st->first_problem,
                         "%s: sample %zu at byte %zu: SessionTime %g is not a time, "
                         "sample skipped",
                         name, r, at, t);
            st->skipped++;
            continue;
        }
        int64_t ts = base_ns + llround((t - t0) * 1e9);
        if (ts < tmin)
            tmin = ts;
        if (ts > tmax)
            tmax = ts;
        size_t j = 0, ri = 0;
        while (j < nel) {
            size_t room = b->cap - b->n;
            if (room == 0) {
                rc = emit_points(emit, b, st);
                if (rc)
                    goto done;
                continue;
            }
            size_t take = nel - j < room ? nel - j : room;
            int64_t *tsp = b->ts_ns + b->n;
            uint32_t *ep = b->entity + b->n;
            for (size_t k = 0; k < take; k++) {
                tsp[k] = ts;
                ep[k] = entity;
            }
            memcpy(b->channel + b->n, chan + j, take * sizeof *chan);
            double *vp = b->value + b->n;
            size_t end = j + take;
            while (j < end) {
                size_t stop = run[ri].end < end ? run[ri].end : end;
                convert_run(run[ri].type, row, offs + j, vp, stop - j);
                vp += stop - j;
                j = stop;
                if (j == run[ri].end)
                    ri++;
            }
            b->n += take;
        }
    }
    st->first_ts_ns = tmin;
    st->last_ts_ns = tmax;
    rc = emit_points(emit, b, st);
    if (rc)
        goto done;
    if (info.truncated)
        st->truncated = 1;
    if (info.truncated && !st->first_problem[0]) {
        if (info.live)
            snprintf(st->first_problem, sizeof st->first_problem,
                     "%s: live snapshot lists %lld sample buffers, file holds %zu "
                     "(truncated at byte %zu)",
                     name, (long long)info.samples_promised, info.samples, info.truncated_at);
        else if (info.samples_promised == 0)
            snprintf(st->first_problem, sizeof st->first_problem,
                     "%s: header gives no sample count (file not closed by iRacing?), "
                     "file holds %zu (truncated at byte %zu of %zu)",
                     name, info.samples, info.truncated_at, len);
        else
            snprintf(st->first_problem, sizeof st->first_problem,
                     "%s: header promises %lld samples, file holds %zu (truncated at byte "
                     "%zu of %zu)",
                     name, (long long)info.samples_promised, info.samples, info.truncated_at,
                     len);
    }
done:
    dec_fini(&d);
    return rc;
}
