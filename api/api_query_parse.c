/*
 * api_query_parse: query strings, times, durations, cursors, body fields
 * and safe JSON/CSV text for the HTTP query endpoints.
 */
#include "api/api_query_parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_error.h"

/* ---- Errors ------------------------------------------------------------- */

int api_qp_err_set(api_qp_err_t *e, const char *param, const char *fmt, ...)
{
    if (e == NULL)
        return PW_EARG;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->param[0] = '\0';
    if (param != NULL) {
        size_t n = strlen(param);
        if (n > API_QP_ECHO_MAX) {
            memcpy(e->param, param, API_QP_ECHO_MAX);
            memcpy(e->param + API_QP_ECHO_MAX, "...", 4);
        } else {
            memcpy(e->param, param, n + 1);
        }
    }
    return PW_EARG;
}

/* ---- Query strings ------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..n) in place (it only shrinks); NUL-terminate. Returns the
 * decoded length, or -1 for a bad or NUL-producing escape. */
static long url_decode(char *s, size_t n)
{
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        char c = s[r];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - r < 3)
                return -1;
            int hi = hexval(s[r + 1]), lo = hexval(s[r + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi << 4 | lo);
            r += 2;
        }
        s[w++] = c;
    }
    s[w] = '\0';
    return (long)w;
}

/* A name cut for quoting in a message, still NUL-terminated. */
static const char *echo(const char *s, char *tmp, size_t cap)
{
    size_t n = strlen(s);
    if (n + 1 <= cap && n <= API_QP_ECHO_MAX)
        return s;
    size_t k = cap - 4 < API_QP_ECHO_MAX ? cap - 4 : API_QP_ECHO_MAX;
    memcpy(tmp, s, k);
    memcpy(tmp + k, "...", 4);
    return tmp;
}

int api_qp_params_parse(const char *query, api_qp_params_t *out, api_qp_err_t *e)
{
    memset(out, 0, sizeof *out);
    if (query == NULL || query[0] == '\0')
        return 0;
    size_t qlen = strnlen(query, API_QP_QUERY_MAX + 1);
    if (qlen > API_QP_QUERY_MAX)
        return api_qp_err_set(e, NULL, "query string longer than %d bytes", API_QP_QUERY_MAX);
    out->buf = malloc(qlen + 1);
    if (out->buf == NULL)
        return -ENOMEM;
    memcpy(out->buf, query, qlen + 1);
    char tmp[API_QP_ECHO_MAX + 4];
    char *p = out->buf, *end = out->buf + qlen;
    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp ? amp : end;
        *stop = '\0';
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        char *eq = memchr(p, '=', (size_t)(stop - p));
        char *name = p, *value = eq ? eq + 1 : stop;
        size_t nlen = (size_t)((eq ? eq : stop) - p);
        size_t vlen = (size_t)(stop - value);
        if (eq)
            *eq = '\0';
        if (nlen == 0)
            return api_qp_err_set(e, "", "a parameter has no name (a piece '=...' of the query)");
        if (url_decode(name, nlen) < 0)
            return api_qp_err_set(e, name, "bad %%-escape in a parameter name");
        if (name[0] == '\0')
            return api_qp_err_set(e, "", "a parameter has an empty name");
        long vl = url_decode(value, vlen);
        if (vl < 0)
            return api_qp_err_set(e, name, "parameter '%s': bad %%-escape (%%XX with two hex "
                                  "digits, not %%00)", echo(name, tmp, sizeof tmp));
        if (api_qp_get(out, name) != NULL)
            return api_qp_err_set(e, name, "parameter '%s' given twice",
                                  echo(name, tmp, sizeof tmp));
        if (out->n == API_QP_PARAMS_MAX)
            return api_qp_err_set(e, NULL, "more than %d parameters", API_QP_PARAMS_MAX);
        out->p[out->n++] = (api_qp_param_t){name, value, (size_t)vl};
        p = stop + 1;
    }
    return 0;
}

void api_qp_params_fini(api_qp_params_t *p)
{
    if (p == NULL)
        return;
    free(p->buf);
    memset(p, 0, sizeof *p);
}

const char *api_qp_get(const api_qp_params_t *p, const char *name)
{
    for (size_t k = 0; k < p->n; k++)
        if (strcmp(p->p[k].name, name) == 0)
            return p->p[k].value;
    return NULL;
}

/* ---- Numbers, times, durations ------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int api_qp_uint_parse(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    size_t k = 0;
    for (; is_digit(s[k]); k++) {
        if (k == 18)
            return -1;
        x = x * 10 + (uint64_t)(s[k] - '0');
    }
    if (k == 0 || s[k] != '\0')
        return -1;
    *v = x;
    return 0;
}

int api_qp_f64_parse(const char *s, double *v)
{
    if (s[0] == '\0' || s[0] == ' ' || strlen(s) > 64)
        return -1;
    for (const char *c = s; *c; c++) /* no hex, inf, nan: plain decimals only */
        if (!is_digit(*c) && *c != '.' && *c != '-' && *c != 'e' && *c != 'E' && *c != '+')
            return -1;
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

/* Exactly n digits at s into *v. */
static bool digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int k = 0; k < n; k++) {
        if (!is_digit(s[k]))
            return false;
        x = x * 10 + (s[k] - '0');
    }
    *v = x;
    return true;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int iso_parse(const char *s, int64_t *ns)
{
    int y, mo, d, h, mi, se;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || se > 59)
        return -1;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; is_digit(*p); p++, nd++) {
            if (nd == 9)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (nd == 0)
            return -1;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        off_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_s;
    int64_t v;
    if (__builtin_mul_overflow(secs, (int64_t)1000000000, &v) ||
        __builtin_add_overflow(v, frac, &v))
        return -1;
    *ns = v;
    return 0;
}

int api_qp_time_parse(const char *s, int64_t *ns)
{
    if (s == NULL || s[0] == '\0')
        return -1;
    if (strlen(s) >= 10 && s[4] == '-')
        return iso_parse(s, ns);
    bool neg = s[0] == '-';
    const char *p = s + neg;
    if (!is_digit(*p))
        return -1;
    uint64_t x = 0;
    for (; is_digit(*p); p++) {
        if (x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0' || x > (uint64_t)INT64_MAX + neg)
        return -1;
    *ns = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 0;
}

int api_qp_duration_parse(const char *s, int64_t *ns)
{
    if (s == NULL)
        return -1;
    int64_t mant = 0, scale = 1;
    int nd = 0;
    const char *p = s;
    bool point = false;
    for (;; p++) {
        if (is_digit(*p)) {
            if (++nd > 18)
                return -1;
            mant = mant * 10 + (*p - '0');
            if (point)
                scale *= 10;
        } else if (*p == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (nd == 0)
        return -1;
    static const struct { const char *name; int64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000},
        {"m", 60000000000LL}, {"h", 3600000000000LL}, {"", 1000000000},
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        if (strcmp(p, units[k].name) != 0)
            continue;
        int64_t v;
        if (__builtin_mul_overflow(mant, units[k].ns, &v))
            return -1;
        v /= scale;
        if (v <= 0)
            return -1;
        *ns = v;
        return 0;
    }
    return -1;
}

/* ---- Cursors ------------------------------------------------------------ */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define CURSOR_VERSION 1

void api_qp_cursor_encode(api_buf_t *out, const char *key, size_t klen, int64_t ts_ns)
{
    uint64_t u = (uint64_t)ts_ns ^ (UINT64_C(1) << 63);
    size_t n = 9 + klen;
    if (!api_buf_reserve(out, (n + 2) / 3 * 4))
        return;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t c = k == 0   ? CURSOR_VERSION
                    : k < 9  ? (uint8_t)(u >> (8 * (8 - k)))
                             : (uint8_t)key[k - 9];
        acc = acc << 8 | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out->p[out->len++] = b64[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out->p[out->len++] = b64[(acc << (6 - bits)) & 63];
}

int api_qp_cursor_decode(const char *s, char *key, size_t keycap, size_t *klen,
                         int64_t *ts_ns)
{
    uint8_t head[9];
    size_t n = 0, kn = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = s; *p; p++) {
        const char *at = strchr(b64, *p);
        if (at == NULL)
            return -1;
        acc = (acc << 6 | (uint32_t)(at - b64)) & 0xffffff;
        bits += 6;
        if (bits < 8)
            continue;
        bits -= 8;
        uint8_t c = (uint8_t)(acc >> bits);
        if (n < 9) {
            head[n++] = c;
        } else {
            if (kn == keycap || c == 0)
                return -1;
            key[kn++] = (char)c;
        }
    }
    if (n < 9 || head[0] != CURSOR_VERSION || bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    uint64_t u = 0;
    for (int k = 1; k < 9; k++)
        u = u << 8 | head[k];
    if (kn < keycap)
        key[kn] = '\0';
    *klen = kn;
    *ts_ns = (int64_t)(u ^ (UINT64_C(1) << 63));
    return 0;
}

/* ---- msgpack bodies ----------------------------------------------------- */

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

/* The object at b[0..len): its value and where its head ends (*hlen; for
 * a map, where its first pair starts; *count its pairs). */
static int mp_head(const uint8_t *b, size_t len, api_qp_val_t *v, size_t *hlen,
                   uint64_t *count)
{
    memset(v, 0, sizeof *v);
    *count = 0;
    if (len == 0)
        return -1;
    uint8_t c = b[0];
    size_t need = 0, lb = 0;
    bool map = false;
    v->type = API_QP_OTHER;
    if (c <= 0x7f) {
        v->type = API_QP_UINT;
        v->u = c;
    } else if (c >= 0xe0) {
        v->type = API_QP_INT;
        v->i = (int8_t)c;
    } else if ((c & 0xf0) == 0x80) {
        map = true;
        *count = c & 0x0f;
    } else if ((c & 0xf0) == 0x90) {
        /* fixarray: OTHER */
    } else if ((c & 0xe0) == 0xa0) {
        v->type = API_QP_STR;
        v->n = c & 0x1f;
    } else {
        switch (c) {
        case 0xc0: v->type = API_QP_NIL; break;
        case 0xc2: case 0xc3: v->type = API_QP_BOOL; v->b = c == 0xc3; break;
        case 0xca: v->type = API_QP_FLOAT; need = 4; break;
        case 0xcb: v->type = API_QP_FLOAT; need = 8; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            v->type = API_QP_UINT; need = (size_t)1 << (c - 0xcc); break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            v->type = API_QP_INT; need = (size_t)1 << (c - 0xd0); break;
        case 0xd9: case 0xda: case 0xdb: v->type = API_QP_STR; lb = (size_t)1 << (c - 0xd9); break;
        case 0xde: map = true; lb = 2; break;
        case 0xdf: map = true; lb = 4; break;
        case 0xc1: return -1;
        default: break; /* bin, ext, arrays: OTHER */
        }
    }
    size_t o = 1;
    if (need) {
        if (len - o < need)
            return -1;
        uint64_t x = be(b + o, need);
        o += need;
        if (v->type == API_QP_UINT) {
            v->u = x;
        } else if (v->type == API_QP_INT) {
            int shift = 64 - 8 * (int)need;
            v->i = (int64_t)(x << shift) >> shift;
        } else if (need == 4) {
            uint32_t w = (uint32_t)x;
            float f;
            memcpy(&f, &w, sizeof f);
            v->f = f;
        } else {
            memcpy(&v->f, &x, sizeof v->f);
        }
    }
    if (lb) {
        if (len - o < lb)
            return -1;
        uint64_t x = be(b + o, lb);
        o += lb;
        if (map)
            *count = x;
        else
            v->n = (size_t)x;
    }
    if (v->type == API_QP_STR) {
        if (len - o < v->n)
            return -1;
        v->s = (const char *)b + o;
        o += v->n;
    }
    if (map)
        v->type = API_QP_OTHER;
    *hlen = o;
    return map ? 1 : 0;
}

int api_qp_mp_read(const uint8_t *b, size_t len, api_qp_val_t *v)
{
    size_t h;
    uint64_t c;
    return mp_head(b, len, v, &h, &c) < 0 ? -1 : 0;
}

bool api_qp_val_f64(const api_qp_val_t *v, double *out)
{
    switch (v->type) {
    case API_QP_INT: *out = (double)v->i; return true;
    case API_QP_UINT: *out = (double)v->u; return true;
    case API_QP_FLOAT: *out = v->f; return true;
    default: return false;
    }
}

int api_qp_map_open(api_qp_map_t *it, const uint8_t *body, size_t len)
{
    api_qp_val_t v;
    size_t h;
    uint64_t count;
    memset(it, 0, sizeof *it);
    if (body == NULL || mp_head(body, len, &v, &h, &count) != 1)
        return -1;
    *it = (api_qp_map_t){body, len, h, count};
    return 0;
}

int api_qp_map_next(api_qp_map_t *it, const char **key, size_t *klen, size_t *voff,
                    size_t *vlen)
{
    if (it->left == 0)
        return 0;
    api_qp_val_t k;
    size_t h;
    uint64_t c;
    if (mp_head(it->b + it->off, it->len - it->off, &k, &h, &c) != 0 || k.type != API_QP_STR)
        return -1;
    size_t vo = it->off + h, end = vo;
    if (api_mp_skip(it->b, it->len, &end) != 0)
        return -1;
    *key = k.s;
    *klen = k.n;
    *voff = vo;
    *vlen = end - vo;
    it->off = end;
    it->left--;
    return 1;
}

int api_qp_body_find(const uint8_t *body, size_t len, const char *name, size_t nlen,
                     size_t *voff, size_t *vlen)
{
    api_qp_map_t it;
    if (api_qp_map_open(&it, body, len) != 0)
        return -1;
    const char *k;
    size_t kl, vo, vl;
    while (api_qp_map_next(&it, &k, &kl, &vo, &vl) == 1) {
        if (kl == nlen && memcmp(k, name, nlen) == 0) {
            *voff = vo;
            *vlen = vl;
            return 0;
        }
    }
    return -1;
}

/* ---- Text --------------------------------------------------------------- */

/* Bytes of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < need + 1 || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return need + 1;
}

void api_qp_json_str(api_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    api_buf_put(out, "\"", 1);
    size_t run = 0;
    for (size_t k = 0; k < n;) {
        unsigned char c = u[k];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            k++;
            continue;
        }
        size_t l = c >= 0x80 ? utf8_len(u + k, n - k) : 0;
        if (l > 0) {
            k += l;
            continue;
        }
        api_buf_put(out, s + run, k - run);
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            api_buf_put(out, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            api_buf_put(out, esc, 6);
        } else {
            api_buf_put(out, "\\ufffd", 6);
        }
        k++;
        run = k;
    }
    api_buf_put(out, s + run, n - run);
    api_buf_put(out, "\"", 1);
}

void api_qp_json_f64(api_buf_t *out, double v)
{
    if (!isfinite(v)) {
        api_buf_put(out, "null", 4);
        return;
    }
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (n > 0 && (size_t)n < sizeof tmp)
        api_buf_put(out, tmp, (size_t)n);
}

void api_qp_csv_field(api_buf_t *out, const char *s, size_t n)
{
    bool quote = false;
    for (size_t k = 0; k < n && !quote; k++)
        quote = s[k] == ',' || s[k] == '"' || s[k] == '\r' || s[k] == '\n';
    if (!quote) {
        api_buf_put(out, s, n);
        return;
    }
    api_buf_put(out, "\"", 1);
    size_t run = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] != '"')
            continue;
        api_buf_put(out, s + run, k + 1 - run); /* through the quote: doubled below */
        api_buf_put(out, "\"", 1);
        run = k + 1;
    }
    api_buf_put(out, s + run, n - run);
    api_buf_put(out, "\"", 1);
}
