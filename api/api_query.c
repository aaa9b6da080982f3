/*
 * api_query: the HTTP query endpoints over the result store.
 *
 * A request is parsed (api_query_parse), checked against its endpoint's
 * parameter table, and answered from st_results_scan/st_results_latest
 * into one growable buffer that becomes the response body.
 *
 * Paging: results come in (key, ts_ns) order within a topic. A page over a
 * key prefix walks the `latest` entries of the prefix (one per key, in key
 * order), skips keys before the cursor's and keys whose latest result is
 * older than `from`, and scans each remaining key exactly (prefix = the
 * key, stopping at the first longer key). The cursor is the first result
 * not returned, so the next page starts exactly there and every row comes
 * once. A rollup page ends only on a bucket boundary, so its cursor is the
 * first result of the next bucket.
 */
#include "api/api_query.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_hub_render.h"
#include "api/api_query_parse.h"
#include "store/st_results.h"

/* Callback values beside 0 (go on): the page is full; the key is done. */
enum { WALK_STOP = 1, WALK_KEY_END = 2 };

/* An endpoint answered the request itself (a 4xx or 500 is in the body). */
#define ANSWERED 1

/* Topic and key of an inline result (st_results.h): its results sort
 * before every longer key with the same prefix. */
#define INLINE_TK_MAX 494

static const char JSON_TYPE[] = "application/json";
static const char CSV_TYPE[] = "text/csv; charset=utf-8";

typedef struct req {
    st_results_t *store;
    const char *path;
    api_qp_params_t q;
    api_buf_t out;
    api_buf_t tmp;  /* scratch: a body as JSON for a CSV cell */
    api_buf_t next; /* the next page's cursor, when there is one */
    int status;
    bool csv;
    pw_err_t err;
} req_t;

/* A comma-separated list parameter, split in place in the params buffer. */
typedef struct list {
    size_t n;
    const char *name[API_QUERY_FIELDS_MAX];
    uint32_t len[API_QUERY_FIELDS_MAX];
} list_t;

void api_resp_free(api_resp_t *r)
{
    if (r == NULL)
        return;
    free(r->body);
    free(r->next_cursor);
    r->body = NULL;
    r->next_cursor = NULL;
    r->body_len = 0;
}

/* ---- Answers ------------------------------------------------------------ */

static void put(req_t *r, const char *s)
{
    api_buf_puts(&r->out, s);
}

static void put_i64(req_t *r, int64_t v)
{
    api_json_i64(&r->out, v);
}

static void put_str(req_t *r, const char *s, size_t n)
{
    api_qp_json_str(&r->out, s, n);
}

/* "name": for a JSON object (with a leading comma unless first). */
static void put_key(req_t *r, const char *name, bool first)
{
    if (!first)
        put(r, ",");
    put_str(r, name, strlen(name));
    put(r, ":");
}

/* A bound of the time range: null when open. */
static void put_bound(req_t *r, int64_t v, int64_t open)
{
    if (v == open)
        put(r, "null");
    else
        put_i64(r, v);
}

static int answer_error(req_t *r, int status, const api_qp_err_t *e)
{
    api_buf_reset(&r->out);
    api_buf_reset(&r->next);
    r->csv = false;
    r->status = status;
    put(r, "{");
    put_key(r, "error", true);
    put_str(r, e->msg, strlen(e->msg));
    if (e->param[0] != '\0' || status == 400) {
        put_key(r, "parameter", false);
        if (e->param[0] != '\0')
            put_str(r, e->param, strlen(e->param));
        else
            put(r, "null");
    }
    put(r, "}");
    return r->out.failed ? -ENOMEM : ANSWERED;
}

static int bad(req_t *r, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(req_t *r, const char *param, const char *fmt, ...)
{
    api_qp_err_t e;
    char msg[sizeof e.msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api_qp_err_set(&e, param, "%s", msg);
    return answer_error(r, 400, &e);
}

/* A store error: 500 with its message, or -ENOMEM as it is. */
static int store_fail(req_t *r, int rc)
{
    if (rc == -ENOMEM || rc == PW_ENOMEM || r->out.failed)
        return -ENOMEM;
    api_qp_err_t e;
    api_qp_err_set(&e, NULL, "result store: %s",
                   r->err.msg[0] ? r->err.msg : pw_strerror(rc));
    return answer_error(r, 500, &e);
}

/* ---- Parameters --------------------------------------------------------- */

static int check_params(req_t *r, const char *const *allowed)
{
    for (size_t k = 0; k < r->q.n; k++) {
        const char *name = r->q.p[k].name;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, name) == 0;
        if (ok)
            continue;
        char list[256] = "";
        size_t len = 0;
        for (const char *const *a = allowed; *a; a++) {
            int n = snprintf(list + len, sizeof list - len, "%s%s", a == allowed ? "" : ", ", *a);
            if (n < 0 || (size_t)n >= sizeof list - len)
                break;
            len += (size_t)n;
        }
        char cut[API_QP_ECHO_MAX + 4];
        snprintf(cut, sizeof cut, "%s", name);
        return bad(r, name, "unknown parameter '%s' for %s (expected one of: %s)", cut, r->path,
                   list);
    }
    return 0;
}

static const char *param(const req_t *r, const char *name)
{
    return api_qp_get(&r->q, name);
}

/* A value cut to cap - 1 bytes (ending "..." when cut) for a message. */
static const char *cut(const char *v, char *tmp, size_t cap)
{
    size_t n = strlen(v);
    if (n < cap)
        return v;
    memcpy(tmp, v, cap - 4);
    memcpy(tmp + cap - 4, "...", 4);
    return tmp;
}

static int get_time(req_t *r, const char *name, int64_t def, int64_t *v)
{
    const char *s = param(r, name);
    *v = def;
    if (s == NULL)
        return 0;
    if (api_qp_time_parse(s, v) == 0)
        return 0;
    char tmp[API_QP_ECHO_MAX + 1];
    return bad(r, name, "%s: '%s' is not a time: Unix ns (1795435200000000000) or ISO 8601 UTC "
               "(2026-11-23T12:00:00Z, 2026-11-23T12:00:00.250Z)", name, cut(s, tmp, sizeof tmp));
}

static int get_range(req_t *r, int64_t *from, int64_t *to)
{
    int rc = get_time(r, "from", INT64_MIN, from);
    if (rc == 0)
        rc = get_time(r, "to", INT64_MAX, to);
    if (rc == 0 && *to <= *from)
        return bad(r, "to", "to (%lld) must be after from (%lld)", (long long)*to,
                   (long long)*from);
    return rc;
}

static int get_count(req_t *r, const char *name, uint64_t def, uint64_t max, uint64_t *v)
{
    const char *s = param(r, name);
    *v = def;
    if (s == NULL)
        return 0;
    if (api_qp_uint_parse(s, v) == 0 && *v >= 1 && *v <= max)
        return 0;
    char tmp[API_QP_ECHO_MAX + 1];
    return bad(r, name, "%s: '%s' is not a whole number from 1 to %llu", name,
               cut(s, tmp, sizeof tmp), (unsigned long long)max);
}

static int get_format(req_t *r, bool csv_ok)
{
    const char *s = param(r, "format");
    r->csv = false;
    if (s == NULL || strcmp(s, "json") == 0)
        return 0;
    if (csv_ok && strcmp(s, "csv") == 0) {
        r->csv = true;
        return 0;
    }
    char tmp[API_QP_ECHO_MAX + 1];
    return bad(r, "format", "format: '%s' is not one of: json%s", cut(s, tmp, sizeof tmp),
               csv_ok ? ", csv" : " (csv is for /v1/series and /v1/events)");
}

/* name=a,b,c into l; every item non-empty, no item twice. */
static int get_list(req_t *r, const char *name, list_t *l)
{
    l->n = 0;
    char *s = NULL;
    for (size_t k = 0; k < r->q.n; k++)
        if (strcmp(r->q.p[k].name, name) == 0)
            s = r->q.p[k].value;
    if (s == NULL)
        return 0;
    char tmp[API_QP_ECHO_MAX + 1];
    for (char *p = s;;) {
        char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0)
            return bad(r, name, "%s: an empty name in the list (give names separated by commas)",
                       name);
        if (n > 255)
            return bad(r, name, "%s: a name longer than 255 bytes", name);
        if (l->n == API_QUERY_FIELDS_MAX)
            return bad(r, name, "%s: more than %d names", name, API_QUERY_FIELDS_MAX);
        if (comma)
            *comma = '\0';
        for (size_t k = 0; k < l->n; k++)
            if (l->len[k] == n && memcmp(l->name[k], p, n) == 0)
                return bad(r, name, "%s: '%s' listed twice", name, cut(p, tmp, sizeof tmp));
        l->name[l->n] = p;
        l->len[l->n++] = (uint32_t)n;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int get_duration(req_t *r, const char *name, int64_t *v)
{
    const char *s = param(r, name);
    *v = 0;
    if (s == NULL)
        return 0;
    if (api_qp_duration_parse(s, v) == 0)
        return 0;
    char tmp[API_QP_ECHO_MAX + 1];
    return bad(r, name, "%s: '%s' is not a positive duration (500ms, 1s, 1.5s, 2m, 1h; a bare "
               "number is seconds)", name, cut(s, tmp, sizeof tmp));
}

/* ---- Walking results ---------------------------------------------------- */

typedef int (*row_fn)(void *ctx, const pw_result_t *res);

typedef struct walk {
    st_results_t *store;
    const char *topic;
    int64_t from, to;
    bool has_cur;
    char cur_key[ST_RESULTS_KEY_MAX + 1];
    size_t cur_klen;
    int64_t cur_ts;
    row_fn fn;
    void *ctx;
    const char *key; /* the key being scanned exactly */
    size_t klen;
    bool key_inline;
    pw_err_t *err;
} walk_t;

static int bytes_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c != 0)
        return c;
    return na < nb ? -1 : na > nb;
}

static int exact_cb(void *ctx, const pw_result_t *res)
{
    walk_t *w = ctx;
    if (res->key_len != w->klen || memcmp(res->key, w->key, w->klen) != 0)
        return w->key_inline ? WALK_KEY_END : 0; /* a longer key with this prefix */
    return w->fn(w->ctx, res);
}

/* Every result of exactly key (a C string) in range, from the cursor on. */
static int walk_key(walk_t *w, const char *key, size_t klen)
{
    int64_t from = w->from;
    if (w->has_cur && bytes_cmp(key, klen, w->cur_key, w->cur_klen) == 0 && w->cur_ts > from)
        from = w->cur_ts;
    if (from >= w->to && w->to != INT64_MAX)
        return 0;
    w->key = key;
    w->klen = klen;
    w->key_inline = strlen(w->topic) + 1 + klen <= INLINE_TK_MAX;
    int rc = st_results_scan(w->store, w->topic, key, from, w->to, exact_cb, w, w->err);
    return rc == WALK_KEY_END ? 0 : rc;
}

static int latest_cb(void *ctx, const pw_result_t *res)
{
    walk_t *w = ctx;
    if (w->has_cur && bytes_cmp(res->key, res->key_len, w->cur_key, w->cur_klen) < 0)
        return 0;
    if (res->ts_ns < w->from) /* the key's newest result is older than the range */
        return 0;
    char key[ST_RESULTS_KEY_MAX + 1];
    memcpy(key, res->key, res->key_len);
    key[res->key_len] = '\0';
    return walk_key(w, key, res->key_len);
}

/* Rows of topic with keys starting with prefix (exact: the key itself). */
static int walk_rows(walk_t *w, const char *prefix, bool exact)
{
    if (exact)
        return walk_key(w, prefix, strlen(prefix));
    return st_results_latest(w->store, w->topic, prefix, latest_cb, w, w->err);
}

/* ---- Rows: series and events -------------------------------------------- */

typedef struct roll_field {
    uint64_t n;
    double min, max, sum;
} roll_field_t;

typedef struct page {
    req_t *r;
    const char *topic;
    uint64_t limit, rows;
    const list_t *fields; /* NULL or empty: the whole body */
    api_fields_t af;
    bool csv_data;        /* CSV: a data column with the body as JSON */
    /* events filters */
    const list_t *types;
    bool has_min;
    double min_importance;
    /* rollup */
    int64_t step;
    bool have;
    char key[ST_RESULTS_KEY_MAX + 1];
    size_t klen;
    int64_t bucket;
    uint64_t count;
    roll_field_t f[API_QUERY_FIELDS_MAX];
    int rc; /* -ENOMEM when a callback ran out */
} page_t;

/* Stop here: the next page starts at res. */
static int page_full(page_t *pg, const char *key, size_t klen, int64_t ts)
{
    api_qp_cursor_encode(&pg->r->next, key, klen, ts);
    return WALK_STOP;
}

static bool page_has_room(const page_t *pg)
{
    return pg->rows < pg->limit && (pg->rows == 0 || pg->r->out.len < API_QUERY_PAGE_BYTES);
}

/* Body as JSON into buf (with fields: only those); null when malformed. */
static void body_json(api_buf_t *buf, const uint8_t *body, size_t len, const api_fields_t *af)
{
    size_t mark = buf->len;
    if (api_render_json(buf, body, len, af) != 0 && !buf->failed) {
        buf->len = mark;
        api_buf_put(buf, "null", 4);
    }
}

/* A CSV cell of one value of a body (empty when missing or null). */
static void csv_value(req_t *r, const uint8_t *body, size_t len, const char *name, size_t nlen)
{
    size_t vo, vl;
    api_qp_val_t v;
    if (api_qp_body_find(body, len, name, nlen, &vo, &vl) != 0 ||
        api_qp_mp_read(body + vo, vl, &v) != 0)
        return;
    switch (v.type) {
    case API_QP_NIL:
        break;
    case API_QP_BOOL:
        put(r, v.b ? "true" : "false");
        break;
    case API_QP_INT:
        put_i64(r, v.i);
        break;
    case API_QP_UINT:
        api_json_u64(&r->out, v.u);
        break;
    case API_QP_FLOAT:
        if (isfinite(v.f))
            api_qp_json_f64(&r->out, v.f);
        break;
    case API_QP_STR:
        api_qp_csv_field(&r->out, v.s, v.n);
        break;
    case API_QP_OTHER:
        api_buf_reset(&r->tmp);
        body_json(&r->tmp, body + vo, vl, NULL);
        api_qp_csv_field(&r->out, r->tmp.p ? r->tmp.p : "", r->tmp.len);
        if (r->tmp.failed)
            r->out.failed = true;
        break;
    }
}

static void row_csv(page_t *pg, const pw_result_t *res)
{
    req_t *r = pg->r;
    api_qp_csv_field(&r->out, res->topic, res->topic_len);
    put(r, ",");
    api_qp_csv_field(&r->out, res->key, res->key_len);
    put(r, ",");
    put_i64(r, res->ts_ns);
    put(r, ",");
    api_json_u64(&r->out, res->version);
    for (size_t k = 0; pg->fields && k < pg->fields->n; k++) {
        put(r, ",");
        csv_value(r, res->body, res->body_len, pg->fields->name[k], pg->fields->len[k]);
    }
    if (pg->csv_data) {
        put(r, ",");
        api_buf_reset(&r->tmp);
        body_json(&r->tmp, res->body, res->body_len, NULL);
        api_qp_csv_field(&r->out, r->tmp.p ? r->tmp.p : "", r->tmp.len);
        if (r->tmp.failed)
            r->out.failed = true;
    }
    put(r, "\r\n");
}

static void row_json(page_t *pg, const pw_result_t *res)
{
    req_t *r = pg->r;
    if (pg->rows > 0)
        put(r, ",");
    put(r, "{");
    put_key(r, "topic", true);
    put_str(r, res->topic, res->topic_len);
    put_key(r, "key", false);
    put_str(r, res->key, res->key_len);
    put_key(r, "ts_ns", false);
    put_i64(r, res->ts_ns);
    put_key(r, "version", false);
    api_json_u64(&r->out, res->version);
    put_key(r, "data", false);
    body_json(&r->out, res->body, res->body_len,
              pg->fields && pg->fields->n ? &pg->af : NULL);
    put(r, "}");
}

/* Does an event pass the type and importance filters? */
static bool event_wanted(const page_t *pg, const pw_result_t *res)
{
    size_t vo, vl;
    api_qp_val_t v;
    if (pg->types && pg->types->n) {
        if (api_qp_body_find(res->body, res->body_len, "type", 4, &vo, &vl) != 0 ||
            api_qp_mp_read(res->body + vo, vl, &v) != 0 || v.type != API_QP_STR)
            return false;
        bool hit = false;
        for (size_t k = 0; k < pg->types->n && !hit; k++)
            hit = pg->types->len[k] == v.n && memcmp(pg->types->name[k], v.s, v.n) == 0;
        if (!hit)
            return false;
    }
    if (pg->has_min) {
        double imp = 0;
        if (api_qp_body_find(res->body, res->body_len, "importance", 10, &vo, &vl) == 0 &&
            api_qp_mp_read(res->body + vo, vl, &v) == 0 && api_qp_val_f64(&v, &imp) &&
            !isfinite(imp))
            imp = 0;
        if (!(imp >= pg->min_importance))
            return false;
    }
    return true;
}

static int row_cb(void *ctx, const pw_result_t *res)
{
    page_t *pg = ctx;
    if (pg->types != NULL && !event_wanted(pg, res))
        return 0;
    if (!page_has_room(pg))
        return page_full(pg, res->key, res->key_len, res->ts_ns);
    if (pg->r->csv)
        row_csv(pg, res);
    else
        row_json(pg, res);
    pg->rows++;
    if (pg->r->out.failed || pg->r->tmp.failed) {
        pg->rc = -ENOMEM;
        return WALK_STOP;
    }
    return 0;
}

/* ---- Rollups ------------------------------------------------------------ */

/* The start of ts's bucket: the largest multiple of step <= ts. */
static int64_t bucket_of(int64_t ts, int64_t step)
{
    int64_t m = ts % step;
    if (m < 0)
        m += step;
    if ((uint64_t)ts - (uint64_t)INT64_MIN < (uint64_t)m)
        return INT64_MIN;
    return ts - m;
}

static void roll_emit(page_t *pg)
{
    req_t *r = pg->r;
    if (r->csv) {
        api_qp_csv_field(&r->out, pg->topic, strlen(pg->topic));
        put(r, ",");
        api_qp_csv_field(&r->out, pg->key, pg->klen);
        put(r, ",");
        put_i64(r, pg->bucket);
        put(r, ",");
        api_json_u64(&r->out, pg->count);
        for (size_t k = 0; k < pg->fields->n; k++) {
            const roll_field_t *f = &pg->f[k];
            for (int s = 0; s < 3; s++) {
                put(r, ",");
                if (f->n)
                    api_qp_json_f64(&r->out, s == 0 ? f->min : s == 1 ? f->sum / (double)f->n
                                                                       : f->max);
            }
        }
        put(r, "\r\n");
        return;
    }
    if (pg->rows > 0)
        put(r, ",");
    put(r, "{");
    put_key(r, "key", true);
    put_str(r, pg->key, pg->klen);
    put_key(r, "ts_ns", false);
    put_i64(r, pg->bucket);
    put_key(r, "count", false);
    api_json_u64(&r->out, pg->count);
    put_key(r, "data", false);
    put(r, "{");
    for (size_t k = 0; k < pg->fields->n; k++) {
        const roll_field_t *f = &pg->f[k];
        if (k)
            put(r, ",");
        put_str(r, pg->fields->name[k], pg->fields->len[k]);
        put(r, ":");
        if (f->n == 0) {
            put(r, "null");
            continue;
        }
        put(r, "{\"min\":");
        api_qp_json_f64(&r->out, f->min);
        put(r, ",\"mean\":");
        api_qp_json_f64(&r->out, f->sum / (double)f->n);
        put(r, ",\"max\":");
        api_qp_json_f64(&r->out, f->max);
        put(r, "}");
    }
    put(r, "}}");
}

static int roll_cb(void *ctx, const pw_result_t *res)
{
    page_t *pg = ctx;
    int64_t b = bucket_of(res->ts_ns, pg->step);
    if (pg->have && (b != pg->bucket || bytes_cmp(res->key, res->key_len, pg->key, pg->klen))) {
        roll_emit(pg);
        pg->rows++;
        pg->have = false;
        if (pg->r->out.failed) {
            pg->rc = -ENOMEM;
            return WALK_STOP;
        }
        if (!page_has_room(pg))
            return page_full(pg, res->key, res->key_len, res->ts_ns);
    }
    if (!pg->have) {
        pg->have = true;
        memcpy(pg->key, res->key, res->key_len);
        pg->klen = res->key_len;
        pg->bucket = b;
        pg->count = 0;
        memset(pg->f, 0, sizeof pg->f);
    }
    pg->count++;
    api_qp_map_t it;
    if (api_qp_map_open(&it, res->body, res->body_len) != 0)
        return 0;
    const char *k;
    size_t kl, vo, vl;
    while (api_qp_map_next(&it, &k, &kl, &vo, &vl) == 1) {
        for (size_t j = 0; j < pg->fields->n; j++) {
            if (pg->fields->len[j] != kl || memcmp(pg->fields->name[j], k, kl) != 0)
                continue;
            api_qp_val_t v;
            double x;
            if (api_qp_mp_read(res->body + vo, vl, &v) != 0 || !api_qp_val_f64(&v, &x) ||
                !isfinite(x))
                break;
            roll_field_t *f = &pg->f[j];
            if (f->n == 0 || x < f->min)
                f->min = x;
            if (f->n == 0 || x > f->max)
                f->max = x;
            f->sum += x;
            f->n++;
            break;
        }
    }
    return 0;
}

/* ---- Pages -------------------------------------------------------------- */

/* Resume where cursor says; its key must be exactly key (exact) or start
 * with it. */
static int get_cursor(req_t *r, walk_t *w, const char *key, bool exact)
{
    const char *s = param(r, "cursor");
    if (s == NULL)
        return 0;
    size_t kl = strlen(key);
    if (api_qp_cursor_decode(s, w->cur_key, sizeof w->cur_key - 1, &w->cur_klen, &w->cur_ts) != 0)
        return bad(r, "cursor", "cursor: not a cursor this server gave (pass the \"next\" of the "
                   "previous page as it is)");
    w->cur_key[w->cur_klen] = '\0';
    if (w->cur_klen < kl || memcmp(w->cur_key, key, kl) != 0 || (exact && w->cur_klen != kl))
        return bad(r, "cursor", "cursor: it belongs to another query (another key)");
    w->has_cur = true;
    return 0;
}

/* Run a page over w (w->fn, w->ctx set) and close the JSON answer. */
static int run_page(req_t *r, walk_t *w, page_t *pg, const char *key, bool exact)
{
    int rc = walk_rows(w, key, exact);
    if (rc < 0)
        return store_fail(r, rc);
    if (pg->rc)
        return pg->rc;
    if (rc != WALK_STOP && pg->step && pg->have) {
        roll_emit(pg);
        pg->rows++;
    }
    if (!r->csv) {
        put(r, "]");
        put_key(r, "next", false);
        if (r->next.len)
            put_str(r, r->next.p, r->next.len);
        else
            put(r, "null");
        put(r, "}");
    }
    return r->out.failed || r->next.failed ? -ENOMEM : 0;
}

static void csv_header(req_t *r, const char *const *base, const list_t *fields,
                       const char *const *suffix, bool data)
{
    for (const char *const *b = base; *b; b++) {
        if (b != base)
            put(r, ",");
        put(r, *b);
    }
    for (size_t k = 0; fields && k < fields->n; k++) {
        for (const char *const *s = suffix; *s; s++) {
            put(r, ",");
            if (**s == '\0') {
                api_qp_csv_field(&r->out, fields->name[k], fields->len[k]);
                continue;
            }
            api_buf_reset(&r->tmp);
            api_buf_put(&r->tmp, fields->name[k], fields->len[k]);
            api_buf_puts(&r->tmp, *s);
            api_qp_csv_field(&r->out, r->tmp.p ? r->tmp.p : "", r->tmp.len);
        }
    }
    if (data)
        put(r, ",data");
    put(r, "\r\n");
}

static const char *const series_params[] = {"topic", "key", "from", "to", "fields", "limit",
                                            "cursor", "format", "step", "token", NULL};

static int q_series(req_t *r)
{
    int rc = check_params(r, series_params);
    if (rc)
        return rc;
    const char *topic = param(r, "topic");
    const char *key = param(r, "key");
    if (topic == NULL)
        return bad(r, "topic", "topic is required (the result topic, e.g. speed_1s)");
    if (topic[0] == '\0' || strlen(topic) > ST_RESULTS_TOPIC_MAX)
        return bad(r, "topic", "topic: 1 to %d bytes", ST_RESULTS_TOPIC_MAX);
    if (key == NULL)
        key = "";
    if (strlen(key) > ST_RESULTS_KEY_MAX)
        return bad(r, "key", "key: at most %d bytes", ST_RESULTS_KEY_MAX);
    walk_t *w = calloc(1, sizeof *w);
    page_t *pg = calloc(1, sizeof *pg);
    list_t fields;
    if (w == NULL || pg == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    uint64_t limit;
    int64_t step;
    if ((rc = get_range(r, &w->from, &w->to)) || (rc = get_list(r, "fields", &fields)) ||
        (rc = get_count(r, "limit", API_QUERY_LIMIT_DEFAULT, API_QUERY_LIMIT_MAX, &limit)) ||
        (rc = get_format(r, true)) || (rc = get_duration(r, "step", &step)) ||
        (rc = get_cursor(r, w, key, false)))
        goto done;
    if (step && fields.n == 0) {
        rc = bad(r, "fields", "step needs fields: the numeric fields to roll up "
                 "(fields=mean,max)");
        goto done;
    }
    pg->r = r;
    pg->topic = topic;
    pg->limit = limit;
    pg->fields = &fields;
    pg->af = (api_fields_t){fields.n, fields.name, fields.len};
    pg->step = step;
    pg->csv_data = fields.n == 0;
    w->store = r->store;
    w->topic = topic;
    w->fn = step ? roll_cb : row_cb;
    w->ctx = pg;
    w->err = &r->err;
    if (r->csv) {
        static const char *const raw[] = {"topic", "key", "ts_ns", "version", NULL};
        static const char *const rolled[] = {"topic", "key", "ts_ns", "count", NULL};
        static const char *const plain[] = {"", NULL};
        static const char *const stats[] = {"_min", "_mean", "_max", NULL};
        csv_header(r, step ? rolled : raw, &fields, step ? stats : plain, !step && !fields.n);
    } else {
        put(r, "{");
        put_key(r, "topic", true);
        put_str(r, topic, strlen(topic));
        put_key(r, "key", false);
        put_str(r, key, strlen(key));
        put_key(r, "from_ns", false);
        put_bound(r, w->from, INT64_MIN);
        put_key(r, "to_ns", false);
        put_bound(r, w->to, INT64_MAX);
        if (step) {
            put_key(r, "step_ns", false);
            put_i64(r, step);
        }
        put_key(r, "rows", false);
        put(r, "[");
    }
    rc = run_page(r, w, pg, key, false);
done:
    free(w);
    free(pg);
    return rc;
}

/* The session's events key: game/<session>, or key= as given. */
static int get_session_key(req_t *r, char *key, size_t cap, const char **session)
{
    const char *s = param(r, "session"), *k = param(r, "key");
    *session = s;
    if (s != NULL && k != NULL)
        return bad(r, "key", "give session or key, not both");
    if (s == NULL && k == NULL)
        return bad(r, "session", "session is required (the game id, e.g. 2019090500; or key=...)");
    if (s != NULL) {
        if (s[0] == '\0' || strchr(s, '/') != NULL || strlen(s) + 5 > ST_RESULTS_KEY_MAX)
            return bad(r, "session", "session: 1 to %d bytes with no '/'",
                       ST_RESULTS_KEY_MAX - 5);
        snprintf(key, cap, "game/%s", s);
        return 0;
    }
    if (strlen(k) > ST_RESULTS_KEY_MAX)
        return bad(r, "key", "key: at most %d bytes", ST_RESULTS_KEY_MAX);
    snprintf(key, cap, "%s", k);
    return 0;
}

static const char *const events_params[] = {"session", "key", "from", "to", "type",
                                            "min_importance", "limit", "cursor", "format",
                                            "token", NULL};

static int q_events(req_t *r)
{
    int rc = check_params(r, events_params);
    if (rc)
        return rc;
    walk_t *w = calloc(1, sizeof *w);
    page_t *pg = calloc(1, sizeof *pg);
    char *key = malloc(ST_RESULTS_KEY_MAX + 1);
    list_t types;
    static const list_t event_cols = {2, {"type", "importance"}, {4, 10}};
    if (w == NULL || pg == NULL || key == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    const char *session;
    uint64_t limit;
    if ((rc = get_session_key(r, key, ST_RESULTS_KEY_MAX + 1, &session)) ||
        (rc = get_range(r, &w->from, &w->to)) || (rc = get_list(r, "type", &types)) ||
        (rc = get_count(r, "limit", API_QUERY_LIMIT_DEFAULT, API_QUERY_LIMIT_MAX, &limit)) ||
        (rc = get_format(r, true)) || (rc = get_cursor(r, w, key, true)))
        goto done;
    const char *mi = param(r, "min_importance");
    if (mi != NULL && api_qp_f64_parse(mi, &pg->min_importance) != 0) {
        char tmp[API_QP_ECHO_MAX + 1];
        rc = bad(r, "min_importance", "min_importance: '%s' is not a number (events rank "
                 "0 to 1)", cut(mi, tmp, sizeof tmp));
        goto done;
    }
    pg->r = r;
    pg->topic = "event";
    pg->limit = limit;
    pg->types = &types;
    pg->has_min = mi != NULL;
    w->store = r->store;
    w->topic = "event";
    w->fn = row_cb;
    w->ctx = pg;
    w->err = &r->err;
    if (r->csv) {
        static const char *const base[] = {"topic", "key", "ts_ns", "version", NULL};
        static const char *const plain[] = {"", NULL};
        pg->fields = &event_cols;
        pg->csv_data = true;
        csv_header(r, base, &event_cols, plain, true);
    } else {
        put(r, "{");
        put_key(r, "key", true);
        put_str(r, key, strlen(key));
        if (session) {
            put_key(r, "session", false);
            put_str(r, session, strlen(session));
        }
        put_key(r, "from_ns", false);
        put_bound(r, w->from, INT64_MIN);
        put_key(r, "to_ns", false);
        put_bound(r, w->to, INT64_MAX);
        put_key(r, "events", false);
        put(r, "[");
    }
    rc = run_page(r, w, pg, key, true);
done:
    free(w);
    free(pg);
    free(key);
    return rc;
}

/* ---- Moments ------------------------------------------------------------ */

/*
 * Pre- and post-roll of a highlight clip by event type, in ms: enough
 * before to see the play develop, enough after to see its outcome. Types
 * not listed get DEFAULT_PRE_MS / DEFAULT_POST_MS. Documented in HTTP.md.
 */
static const struct roll_rule {
    const char *type;
    int64_t pre_ms, post_ms;
} roll_rules[] = {
    {"touchdown", 8000, 4000},     {"qb_sack", 5000, 3000},    {"pass_arrived", 4000, 3000},
    {"pass_forward", 2000, 4000},  {"tackle", 5000, 2000},     {"out_of_bounds", 5000, 2000},
    {"first_contact", 3000, 3000}, {"handoff", 2000, 4000},    {"ball_snap", 2000, 3000},
    {"shot", 5000, 3000},          {"zone_entry", 3000, 4000},
};
#define DEFAULT_PRE_MS 4000
#define DEFAULT_POST_MS 3000

/* Longest event type kept for a moment; longer ones are cut. */
#define MOMENT_TYPE_MAX 47

typedef struct moment {
    int64_t ts_ns;
    int64_t in_ns, out_ns;
    double importance;
    size_t rank; /* 1 = most important */
    char type[MOMENT_TYPE_MAX + 1];
} moment_t;

typedef struct moments {
    moment_t *v;
    size_t n, cap;
    bool truncated;
    int rc;
} moments_t;

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t s;
    if (__builtin_add_overflow(a, b, &s))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return s;
}

static int moment_cb(void *ctx, const pw_result_t *res)
{
    moments_t *m = ctx;
    if (m->n == API_QUERY_MOMENTS_EVENTS_MAX) {
        m->truncated = true;
        return WALK_STOP;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        moment_t *v = realloc(m->v, cap * sizeof *v);
        if (v == NULL) {
            m->rc = -ENOMEM;
            return WALK_STOP;
        }
        m->v = v;
        m->cap = cap;
    }
    moment_t *e = &m->v[m->n++];
    memset(e, 0, sizeof *e);
    e->ts_ns = res->ts_ns;
    size_t vo, vl;
    api_qp_val_t v;
    if (api_qp_body_find(res->body, res->body_len, "type", 4, &vo, &vl) == 0 &&
        api_qp_mp_read(res->body + vo, vl, &v) == 0 && v.type == API_QP_STR) {
        size_t n = v.n < MOMENT_TYPE_MAX ? v.n : MOMENT_TYPE_MAX;
        memcpy(e->type, v.s, n);
    }
    if (api_qp_body_find(res->body, res->body_len, "importance", 10, &vo, &vl) == 0 &&
        api_qp_mp_read(res->body + vo, vl, &v) == 0 && api_qp_val_f64(&v, &e->importance) &&
        !isfinite(e->importance))
        e->importance = 0;
    int64_t pre = DEFAULT_PRE_MS, post = DEFAULT_POST_MS;
    for (size_t k = 0; k < sizeof roll_rules / sizeof roll_rules[0]; k++) {
        if (strcmp(roll_rules[k].type, e->type) == 0) {
            pre = roll_rules[k].pre_ms;
            post = roll_rules[k].post_ms;
            break;
        }
    }
    e->in_ns = sat_add(e->ts_ns, -pre * 1000000);
    e->out_ns = sat_add(e->ts_ns, post * 1000000);
    return 0;
}

static int by_rank(const void *a, const void *b)
{
    const moment_t *x = a, *y = b;
    if (x->importance != y->importance)
        return x->importance > y->importance ? -1 : 1;
    return (x->ts_ns > y->ts_ns) - (x->ts_ns < y->ts_ns);
}

static int by_time(const void *a, const void *b)
{
    const moment_t *x = a, *y = b;
    if (x->ts_ns != y->ts_ns)
        return (x->ts_ns > y->ts_ns) - (x->ts_ns < y->ts_ns);
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* Disjoint clips in time order, and their total length. */
typedef struct span {
    int64_t in_ns, out_ns;
} span_t;

/* Footage [in, out) adds to the union of spans[0..n): its length less
 * what it shares with them. */
static uint64_t span_added(const span_t *s, size_t n, int64_t in, int64_t out)
{
    size_t lo = 0, hi = n; /* first span ending after in */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].out_ns <= in)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t added = (uint64_t)out - (uint64_t)in;
    for (size_t k = lo; k < n && s[k].in_ns < out; k++) {
        int64_t a = s[k].in_ns > in ? s[k].in_ns : in;
        int64_t b = s[k].out_ns < out ? s[k].out_ns : out;
        if (b > a)
            added -= (uint64_t)b - (uint64_t)a;
    }
    return added;
}

/* Merge [in, out) into spans (room for one more). Returns the new count. */
static size_t span_insert(span_t *s, size_t n, int64_t in, int64_t out)
{
    size_t k = 0;
    while (k < n && s[k].out_ns < in)
        k++;
    size_t j = k; /* spans [k, j) touch [in, out) */
    while (j < n && s[j].in_ns <= out) {
        if (s[j].in_ns < in)
            in = s[j].in_ns;
        if (s[j].out_ns > out)
            out = s[j].out_ns;
        j++;
    }
    if (j == k) {
        memmove(s + k + 1, s + k, (n - k) * sizeof *s);
        s[k] = (span_t){in, out};
        return n + 1;
    }
    s[k] = (span_t){in, out};
    memmove(s + k + 1, s + j, (n - j) * sizeof *s);
    return n - (j - k - 1);
}

typedef struct data_ctx {
    req_t *r;
    const char *key;
    size_t klen;
    bool found;
} data_ctx_t;

static int data_cb(void *ctx, const pw_result_t *res)
{
    data_ctx_t *d = ctx;
    if (res->key_len != d->klen || memcmp(res->key, d->key, d->klen) != 0)
        return 0;
    body_json(&d->r->out, res->body, res->body_len, NULL);
    d->found = true;
    return WALK_STOP;
}

static const char *const moments_params[] = {"session", "key", "from", "to", "limit",
                                             "duration", "format", "token", NULL};

static int q_moments(req_t *r)
{
    int rc = check_params(r, moments_params);
    if (rc)
        return rc;
    char *key = malloc(ST_RESULTS_KEY_MAX + 1);
    moments_t m = {0};
    span_t *spans = NULL;
    moment_t *chosen = NULL;
    if (key == NULL)
        return -ENOMEM;
    const char *session;
    int64_t from, to, dur;
    uint64_t limit;
    if ((rc = get_session_key(r, key, ST_RESULTS_KEY_MAX + 1, &session)) ||
        (rc = get_range(r, &from, &to)) ||
        (rc = get_count(r, "limit", API_QUERY_MOMENTS_DEFAULT, API_QUERY_MOMENTS_MAX, &limit)) ||
        (rc = get_duration(r, "duration", &dur)) || (rc = get_format(r, false)))
        goto done;
    walk_t w = {.store = r->store, .topic = "event", .from = from, .to = to, .fn = moment_cb,
                .ctx = &m, .err = &r->err};
    rc = walk_rows(&w, key, true);
    if (rc < 0) {
        rc = store_fail(r, rc);
        goto done;
    }
    if ((rc = m.rc) != 0)
        goto done;
    if (m.n)
        qsort(m.v, m.n, sizeof *m.v, by_rank);
    for (size_t k = 0; k < m.n; k++)
        m.v[k].rank = k + 1;
    spans = malloc((limit + 1) * sizeof *spans);
    chosen = malloc((limit + 1) * sizeof *chosen);
    if (spans == NULL || chosen == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    size_t nc = 0, ns = 0;
    uint64_t total = 0;
    for (size_t k = 0; k < m.n && nc < limit; k++) {
        const moment_t *e = &m.v[k];
        uint64_t added = span_added(spans, ns, e->in_ns, e->out_ns);
        if (dur && total + added > (uint64_t)dur)
            continue; /* does not fit: a shorter or overlapping clip further down may */
        total += added;
        ns = span_insert(spans, ns, e->in_ns, e->out_ns);
        chosen[nc++] = *e;
    }
    if (dur && nc)
        qsort(chosen, nc, sizeof *chosen, by_time);

    put(r, "{");
    put_key(r, "key", true);
    put_str(r, key, strlen(key));
    if (session) {
        put_key(r, "session", false);
        put_str(r, session, strlen(session));
    }
    put_key(r, "events", false);
    api_json_u64(&r->out, m.n);
    put_key(r, "truncated", false);
    put(r, m.truncated ? "true" : "false");
    put_key(r, "duration_s", false);
    if (dur)
        api_qp_json_f64(&r->out, (double)dur / 1e9);
    else
        put(r, "null");
    put_key(r, "total_s", false);
    api_qp_json_f64(&r->out, (double)total / 1e9);
    put_key(r, "order", false);
    put(r, dur ? "\"time\"" : "\"rank\"");
    put_key(r, "moments", false);
    put(r, "[");
    size_t klen = strlen(key);
    for (size_t k = 0; k < nc; k++) {
        const moment_t *e = &chosen[k];
        if (k)
            put(r, ",");
        put(r, "{");
        put_key(r, "rank", true);
        api_json_u64(&r->out, e->rank);
        put_key(r, "ts_ns", false);
        put_i64(r, e->ts_ns);
        put_key(r, "type", false);
        put_str(r, e->type, strlen(e->type));
        put_key(r, "importance", false);
        api_qp_json_f64(&r->out, e->importance);
        put_key(r, "in_ns", false);
        put_i64(r, e->in_ns);
        put_key(r, "out_ns", false);
        put_i64(r, e->out_ns);
        put_key(r, "data", false);
        data_ctx_t d = {r, key, klen, false};
        if (r->out.len < API_QUERY_PAGE_BYTES) {
            int64_t t1 = e->ts_ns == INT64_MAX ? INT64_MAX : e->ts_ns + 1;
            int src = st_results_scan(r->store, "event", key, e->ts_ns, t1, data_cb, &d, &r->err);
            if (src < 0) {
                rc = store_fail(r, src);
                goto done;
            }
        }
        if (!d.found)
            put(r, "null");
        put(r, "}");
    }
    put(r, "]");
    put_key(r, "clips", false);
    put(r, "[");
    for (size_t k = 0; k < ns; k++) {
        if (k)
            put(r, ",");
        put(r, "{\"in_ns\":");
        put_i64(r, spans[k].in_ns);
        put(r, ",\"out_ns\":");
        put_i64(r, spans[k].out_ns);
        put(r, "}");
    }
    put(r, "]}");
    rc = r->out.failed ? -ENOMEM : 0;
done:
    free(key);
    free(m.v);
    free(spans);
    free(chosen);
    return rc;
}

/* ---- Sessions ----------------------------------------------------------- */

/* A sorted set of strings (copies). */
typedef struct strset {
    char **v;
    size_t n, cap;
} strset_t;

static void strset_fini(strset_t *s)
{
    for (size_t k = 0; k < s->n; k++)
        free(s->v[k]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Add s[0..n) unless there; 0, 1 (full: max reached), or -ENOMEM. */
static int strset_add(strset_t *set, const char *s, size_t n, size_t max)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bytes_cmp(set->v[mid], strlen(set->v[mid]), s, n);
        if (c == 0)
            return 0;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (set->n == max)
        return 1;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        char **v = realloc(set->v, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        set->v = v;
        set->cap = cap;
    }
    char *c = malloc(n + 1);
    if (c == NULL)
        return -ENOMEM;
    memcpy(c, s, n);
    c[n] = '\0';
    memmove(set->v + lo + 1, set->v + lo, (set->n - lo) * sizeof *set->v);
    set->v[lo] = c;
    set->n++;
    return 0;
}

/* Most topics listed for one session. */
#define SESSION_TOPICS_MAX 64

typedef struct sess {
    char *id;
    const char *kind; /* "game" or "race" */
    strset_t topics;
    int64_t first_ns, last_ns;
    uint64_t events;
    uint64_t keys;
    strset_t cars; /* race only */
} sess_t;

typedef struct sessions {
    req_t *r;
    sess_t *v;
    size_t n, cap;
    bool truncated;
    sess_t race;
    bool has_race;
    int rc;
} sessions_t;

/* Find or add the session id[0..n); NULL when full (truncated) or out of
 * memory (s->rc). */
static sess_t *session_get(sessions_t *s, const char *id, size_t n)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bytes_cmp(s->v[mid].id, strlen(s->v[mid].id), id, n);
        if (c == 0)
            return &s->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (s->n == API_QUERY_SESSIONS_MAX) {
        s->truncated = true;
        return NULL;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sess_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            s->rc = -ENOMEM;
            return NULL;
        }
        s->v = v;
        s->cap = cap;
    }
    char *c = malloc(n + 1);
    if (c == NULL) {
        s->rc = -ENOMEM;
        return NULL;
    }
    memcpy(c, id, n);
    c[n] = '\0';
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof *s->v);
    s->v[lo] = (sess_t){.id = c, .kind = "game", .first_ns = INT64_MAX, .last_ns = INT64_MIN};
    s->n++;
    return &s->v[lo];
}

typedef struct key_scan {
    const char *key;
    size_t klen;
    bool inline_key;
    bool found;
    int64_t first_ns;
    uint64_t count;
    bool count_all;
} key_scan_t;

static int key_scan_cb(void *ctx, const pw_result_t *res)
{
    key_scan_t *k = ctx;
    if (res->key_len != k->klen || memcmp(res->key, k->key, k->klen) != 0)
        return k->inline_key ? WALK_KEY_END : 0;
    if (!k->found) {
        k->found = true;
        k->first_ns = res->ts_ns;
    }
    k->count++;
    return k->count_all ? 0 : WALK_STOP;
}

/* The first result's time of (topic, key) and, with count_all, how many
 * results it has. 0 or a store error. */
static int key_stats(sessions_t *s, const pw_result_t *res, bool count_all, key_scan_t *k)
{
    char topic[ST_RESULTS_TOPIC_MAX + 1], key[ST_RESULTS_KEY_MAX + 1];
    memcpy(topic, res->topic, res->topic_len);
    topic[res->topic_len] = '\0';
    memcpy(key, res->key, res->key_len);
    key[res->key_len] = '\0';
    *k = (key_scan_t){.key = key, .klen = res->key_len, .count_all = count_all,
                      .inline_key = res->topic_len + 1 + res->key_len <= INLINE_TK_MAX};
    int rc = st_results_scan(s->r->store, topic, key, INT64_MIN, INT64_MAX, key_scan_cb, k,
                             &s->r->err);
    k->key = NULL;
    return rc == WALK_KEY_END || rc == WALK_STOP ? 0 : rc;
}

/* Add (topic, key)'s span to a session's. */
static int session_add(sessions_t *s, sess_t *e, const pw_result_t *res, bool count)
{
    key_scan_t k;
    int rc = key_stats(s, res, count, &k);
    if (rc)
        return rc;
    if ((rc = strset_add(&e->topics, res->topic, res->topic_len, SESSION_TOPICS_MAX)) < 0)
        return rc;
    if (k.found && k.first_ns < e->first_ns)
        e->first_ns = k.first_ns;
    if (res->ts_ns > e->last_ns)
        e->last_ns = res->ts_ns;
    if (count)
        e->events += k.count;
    e->keys++;
    return 0;
}

static int game_cb(void *ctx, const pw_result_t *res)
{
    sessions_t *s = ctx;
    const char *id = res->key + 5; /* after "game/" */
    size_t n = res->key_len - 5;
    const char *slash = memchr(id, '/', n);
    if (slash)
        n = (size_t)(slash - id);
    if (n == 0)
        return 0;
    sess_t *e = session_get(s, id, n);
    if (e == NULL)
        return s->rc ? WALK_STOP : 0;
    bool events = res->topic_len == 5 && memcmp(res->topic, "event", 5) == 0;
    int rc = session_add(s, e, res, events);
    if (rc == -ENOMEM) {
        s->rc = rc;
        return WALK_STOP;
    }
    return rc;
}

static int race_cb(void *ctx, const pw_result_t *res)
{
    sessions_t *s = ctx;
    const char *id = res->key + 4; /* after "car/" */
    size_t n = res->key_len - 4;
    const char *slash = memchr(id, '/', n);
    if (slash)
        n = (size_t)(slash - id);
    if (n == 0)
        return 0;
    if (!s->has_race) {
        s->has_race = true;
        s->race = (sess_t){.kind = "race", .first_ns = INT64_MAX, .last_ns = INT64_MIN};
    }
    int rc = strset_add(&s->race.cars, id, n, API_QUERY_SESSIONS_MAX);
    if (rc == 0 || rc == 1)
        rc = session_add(s, &s->race, res, false);
    if (rc == -ENOMEM) {
        s->rc = rc;
        return WALK_STOP;
    }
    return rc;
}

static void put_session(req_t *r, const sess_t *e, bool first)
{
    if (!first)
        put(r, ",");
    put(r, "{");
    put_key(r, "session", true);
    if (e->id)
        put_str(r, e->id, strlen(e->id));
    else
        put(r, "\"race\"");
    put_key(r, "kind", false);
    put_str(r, e->kind, strlen(e->kind));
    put_key(r, "topics", false);
    put(r, "[");
    for (size_t k = 0; k < e->topics.n; k++) {
        if (k)
            put(r, ",");
        put_str(r, e->topics.v[k], strlen(e->topics.v[k]));
    }
    put(r, "]");
    put_key(r, "first_ns", false);
    put_i64(r, e->first_ns);
    put_key(r, "last_ns", false);
    put_i64(r, e->last_ns);
    put_key(r, "events", false);
    api_json_u64(&r->out, e->events);
    put_key(r, "keys", false);
    api_json_u64(&r->out, e->keys);
    if (e->id == NULL) {
        put_key(r, "cars", false);
        api_json_u64(&r->out, e->cars.n);
    }
    put(r, "}");
}

static int by_first(const void *a, const void *b)
{
    const sess_t *x = *(const sess_t *const *)a, *y = *(const sess_t *const *)b;
    if (x->first_ns != y->first_ns)
        return (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
    return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static const char *const sessions_params[] = {"from", "to", "format", "token", NULL};

static int q_sessions(req_t *r)
{
    int rc = check_params(r, sessions_params);
    if (rc)
        return rc;
    int64_t from, to;
    if ((rc = get_range(r, &from, &to)) || (rc = get_format(r, false)))
        return rc;
    sessions_t s = {.r = r};
    const sess_t **order = NULL;
    rc = st_results_latest(r->store, NULL, "game/", game_cb, &s, &r->err);
    if (rc >= 0 && !s.rc)
        rc = st_results_latest(r->store, NULL, "car/", race_cb, &s, &r->err);
    if (s.rc) {
        rc = s.rc;
        goto done;
    }
    if (rc < 0) {
        rc = store_fail(r, rc);
        goto done;
    }
    order = malloc((s.n + 1) * sizeof *order);
    if (order == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    size_t n = 0;
    for (size_t k = 0; k <= s.n; k++) {
        const sess_t *e = k < s.n ? &s.v[k] : s.has_race ? &s.race : NULL;
        if (e && e->first_ns < to && e->last_ns >= from)
            order[n++] = e;
    }
    if (n)
        qsort(order, n, sizeof *order, by_first);
    put(r, "{\"sessions\":[");
    for (size_t k = 0; k < n; k++) {
        if (r->out.len > API_QUERY_PAGE_BYTES) {
            s.truncated = true;
            break;
        }
        put_session(r, order[k], k == 0);
    }
    put(r, "],\"truncated\":");
    put(r, s.truncated ? "true}" : "false}");
    rc = r->out.failed ? -ENOMEM : 0;
done:
    for (size_t k = 0; k < s.n; k++) {
        free(s.v[k].id);
        strset_fini(&s.v[k].topics);
        strset_fini(&s.v[k].cars);
    }
    free(s.v);
    strset_fini(&s.race.topics);
    strset_fini(&s.race.cars);
    free(order);
    return rc;
}

/* ---- Entry -------------------------------------------------------------- */

static const struct endpoint {
    const char *path;
    int (*fn)(req_t *r);
} endpoints[] = {
    {"/v1/series", q_series},
    {"/v1/events", q_events},
    {"/v1/moments", q_moments},
    {"/v1/sessions", q_sessions},
};

bool api_query_serves(const char *path)
{
    for (size_t k = 0; path && k < sizeof endpoints / sizeof endpoints[0]; k++)
        if (strcmp(path, endpoints[k].path) == 0)
            return true;
    return false;
}

int api_query_handle(struct st_results *store, const char *path, const char *query,
                     api_resp_t *out)
{
    if (out == NULL)
        return PW_EARG;
    if (path == NULL)
        return 0;
    const struct endpoint *ep = NULL;
    for (size_t k = 0; k < sizeof endpoints / sizeof endpoints[0] && !ep; k++)
        if (strcmp(path, endpoints[k].path) == 0)
            ep = &endpoints[k];
    if (ep == NULL)
        return 0;

    req_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->store = store;
    r->path = ep->path;
    r->status = 200;
    api_buf_init(&r->out);
    api_buf_init(&r->tmp);
    api_buf_init(&r->next);
    api_qp_err_t e;
    int rc = api_qp_params_parse(query, &r->q, &e);
    if (rc == PW_EARG)
        rc = answer_error(r, 400, &e);
    else if (rc == 0 && store == NULL) {
        api_qp_err_set(&e, NULL, "no result store");
        rc = answer_error(r, 500, &e);
    } else if (rc == 0)
        rc = ep->fn(r);
    if (rc >= 0) {
        api_buf_put(&r->out, "", 1); /* the NUL after the body */
        if (r->next.len && r->status == 200)
            api_buf_put(&r->next, "", 1);
        if (r->out.failed || r->next.failed) {
            rc = -ENOMEM;
        } else {
            *out = (api_resp_t){
                .status = r->status,
                .content_type = r->csv ? CSV_TYPE : JSON_TYPE,
                .body = r->out.p,
                .body_len = r->out.len - 1,
                .next_cursor = r->next.len && r->status == 200 ? r->next.p : NULL,
            };
            r->out.p = NULL;
            if (out->next_cursor)
                r->next.p = NULL;
            rc = 1;
        }
    }
    api_buf_fini(&r->out);
    api_buf_fini(&r->tmp);
    api_buf_fini(&r->next);
    api_qp_params_fini(&r->q);
    free(r);
    return rc;
}
