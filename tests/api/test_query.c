/*
 * Tests of the HTTP query endpoints (api/api_query.h) over a real result
 * store. The fixture builds a store in a fresh /tmp directory holding:
 *
 *   speed_1s  car/1/speed_mps .. car/3/speed_mps: a result each second for
 *             60 s from T0; car/10/speed_mps: 5 results (a key that shares
 *             the prefix "car/1")
 *   event     game/100: 12 classified events; game/200: 3 hockey events
 *   pressure  game/100: 10 results from T0+10s; game/300: 10 from T0+200s
 *
 * and removes it at the end. Answers are parsed with jansson and checked
 * the way a user would: rows, ranges, order, values, error parameters.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_query.h"
#include "api/api_query_parse.h"
#include "core/pw_body.h"
#include "core/pw_fs.h"
#include "store/st_results.h"

#define T0 INT64_C(1795435200000000000) /* 2026-11-23T12:00:00Z */
#define SEC INT64_C(1000000000)

static char dir[64];
static st_results_t *store;

/* ---- The store ---------------------------------------------------------- */

static double speed_mean(int car, int i) { return 50 + 10 * car + (i % 7) * 0.5; }
static double speed_min(int car, int i) { return speed_mean(car, i) - 1 - (i % 3); }
static double speed_max(int car, int i) { return speed_mean(car, i) + 2 + (i % 5) * 0.25; }

typedef struct ev {
    int t_s;
    const char *type;
    double importance;
} ev_t;

static const ev_t game100[] = {
    {10, "ball_snap", 0.1},  {12, "pass_forward", 0.3}, {14, "pass_arrived", 0.8},
    {15, "tackle", 0.5},     {40, "ball_snap", 0.1},    {43, "qb_sack", 0.9},
    {70, "ball_snap", 0.1},  {75, "touchdown", 1.0},    {100, "ball_snap", 0.1},
    {104, "tackle", 0.5},    {130, "first_contact", 0.3}, {140, "handoff", 0.2},
};
static const ev_t game200[] = {{5, "ball_snap", 0.1}, {8, "shot", 0.8}, {20, "zone_entry", 0.5}};

static void put(st_results_txn_t *t, const char *topic, const char *key, int64_t ts,
                const pw_body_t *b)
{
    pw_result_t r = {
        .ts_ns = ts, .version = 1,
        .topic_len = (uint32_t)strlen(topic), .key_len = (uint32_t)strlen(key),
        .body_len = (uint32_t)b->len, .topic = topic, .key = key, .body = b->data,
    };
    pw_err_t err = {0};
    cr_assert_eq(st_results_put(t, &r, &err), 0, "put: %s", err.msg);
}

static void put_speed(st_results_txn_t *t, pw_body_t *b, int car, int n)
{
    char key[32];
    snprintf(key, sizeof key, "car/%d/speed_mps", car);
    for (int i = 0; i < n; i++) {
        pw_body_clear(b);
        pw_body_map(b, 5);
        pw_body_key(b, "count");
        pw_body_u64(b, 10);
        pw_body_key(b, "mean");
        pw_body_f64(b, speed_mean(car, i));
        pw_body_key(b, "min");
        pw_body_f64(b, speed_min(car, i));
        pw_body_key(b, "max");
        pw_body_f64(b, speed_max(car, i));
        pw_body_key(b, "label");
        const char *label = car == 2 ? "fast, \"hot\"" : "ok";
        pw_body_str(b, label, strlen(label));
        cr_assert_eq(pw_body_ok(b), 0);
        put(t, "speed_1s", key, T0 + i * SEC, b);
    }
}

static void put_events(st_results_txn_t *t, pw_body_t *b, const char *key, const ev_t *ev,
                       size_t n)
{
    for (size_t k = 0; k < n; k++) {
        pw_body_clear(b);
        pw_body_map(b, 4);
        pw_body_key(b, "type");
        pw_body_str(b, ev[k].type, strlen(ev[k].type));
        pw_body_key(b, "importance");
        pw_body_f64(b, ev[k].importance);
        pw_body_key(b, "confidence");
        pw_body_f64(b, 0.75);
        pw_body_key(b, "players");
        pw_body_array(b, 1);
        pw_body_str(b, "nfl/42", 6);
        cr_assert_eq(pw_body_ok(b), 0);
        put(t, "event", key, T0 + ev[k].t_s * SEC, b);
    }
}

static void put_pressure(st_results_txn_t *t, pw_body_t *b, const char *key, int start_s)
{
    for (int i = 0; i < 10; i++) {
        pw_body_clear(b);
        pw_body_map(b, 2);
        pw_body_key(b, "prob");
        pw_body_f64(b, i / 10.0);
        pw_body_key(b, "alert");
        pw_body_bool(b, i >= 7);
        cr_assert_eq(pw_body_ok(b), 0);
        put(t, "pressure", key, T0 + (start_s + i) * SEC, b);
    }
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw_query_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    st_results_opts_t o = st_results_opts_default();
    o.dir = dir;
    o.map_size_mb = 64;
    o.sync = false;
    pw_err_t err = {0};
    cr_assert_eq(st_results_open(&o, &store, &err), 0, "open: %s", err.msg);
    st_results_txn_t *t = NULL;
    cr_assert_eq(st_results_begin(store, &t, &err), 0, "begin: %s", err.msg);
    pw_body_t b;
    pw_body_init(&b);
    for (int car = 1; car <= 3; car++)
        put_speed(t, &b, car, 60);
    put_speed(t, &b, 10, 5);
    put_events(t, &b, "game/100", game100, sizeof game100 / sizeof game100[0]);
    put_events(t, &b, "game/200", game200, sizeof game200 / sizeof game200[0]);
    put_pressure(t, &b, "game/100", 10);
    put_pressure(t, &b, "game/300", 200);
    pw_body_fini(&b);
    cr_assert_eq(st_results_commit(t, &err), 0, "commit: %s", err.msg);
}

static void teardown(void)
{
    st_results_close(store);
    pw_fs_remove_tree(dir);
}

TestSuite(api_query, .init = setup, .fini = teardown, .timeout = 30);

/* ---- Helpers ------------------------------------------------------------ */

/* Answer path?query; the endpoint must claim it. */
static api_resp_t ask(const char *path, const char *query)
{
    api_resp_t resp = {0};
    int rc = api_query_handle(store, path, query, &resp);
    cr_assert_eq(rc, 1, "%s?%s: rc %d", path, query, rc);
    cr_assert_not_null(resp.body);
    cr_assert_eq(strlen(resp.body), resp.body_len, "body has a NUL inside or wrong length");
    return resp;
}

/* Answer as JSON with the given status; the caller decrefs. */
static json_t *ask_json(const char *path, const char *query, int status)
{
    api_resp_t resp = ask(path, query);
    cr_assert_eq(resp.status, status, "%s?%s: status %d: %s", path, query, resp.status,
                 resp.body);
    cr_assert_str_eq(resp.content_type, "application/json");
    json_error_t je;
    json_t *j = json_loadb(resp.body, resp.body_len, 0, &je);
    cr_assert_not_null(j, "%s?%s: not JSON (%s): %s", path, query, je.text, resp.body);
    api_resp_free(&resp);
    return j;
}

static int64_t jint(const json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    cr_assert(json_is_integer(v), "field %s is not an integer", name);
    return (int64_t)json_integer_value(v);
}

static double jnum(const json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    cr_assert(json_is_number(v), "field %s is not a number", name);
    return json_number_value(v);
}

static const char *jstr(const json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    cr_assert(json_is_string(v), "field %s is not a string", name);
    return json_string_value(v);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A 400 naming param. */
static void expect_bad(const char *path, const char *query, const char *param)
{
    json_t *j = ask_json(path, query, 400);
    const char *err = jstr(j, "error");
    cr_assert(strlen(err) > 0);
    json_t *p = json_object_get(j, "parameter");
    if (param == NULL)
        cr_assert(json_is_null(p), "%s?%s: parameter should be null", path, query);
    else
        cr_assert_str_eq(json_string_value(p), param, "%s?%s: %s", path, query, err);
    json_decref(j);
}

/* ---- Parsers ------------------------------------------------------------ */

Test(api_query, times_parse_as_unix_ns_or_iso_8601)
{
    int64_t ns;
    cr_assert_eq(api_qp_time_parse("2026-11-23T12:00:00Z", &ns), 0);
    cr_assert_eq(ns, T0);
    cr_assert_eq(api_qp_time_parse("2026-11-23T12:00:01.25Z", &ns), 0);
    cr_assert_eq(ns, T0 + SEC + SEC / 4);
    cr_assert_eq(api_qp_time_parse("2026-11-23T13:00:00+01:00", &ns), 0);
    cr_assert_eq(ns, T0);
    cr_assert_eq(api_qp_time_parse("1795435200000000000", &ns), 0);
    cr_assert_eq(ns, T0);
    cr_assert_eq(api_qp_time_parse("-5", &ns), 0);
    cr_assert_eq(ns, -5);
    cr_assert_eq(api_qp_time_parse("1970-01-01T00:00:00.000000001Z", &ns), 0);
    cr_assert_eq(ns, 1);
    const char *bad[] = {"", "2026-02-30T00:00:00Z", "2026-11-23T12:00:00", "2026-11-23 12:00:00Z",
                         "2026-11-23T24:00:00Z", "9223372036854775808", "2300-01-01T00:00:00Z",
                         "12abc", "2026-11-23T12:00:00.Z", "2026-11-23T12:00:00.1234567890Z"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        cr_assert_eq(api_qp_time_parse(bad[k], &ns), -1, "'%s' should be refused", bad[k]);
}

Test(api_query, durations_parse_with_units)
{
    int64_t ns;
    cr_assert_eq(api_qp_duration_parse("1s", &ns), 0);
    cr_assert_eq(ns, SEC);
    cr_assert_eq(api_qp_duration_parse("500ms", &ns), 0);
    cr_assert_eq(ns, SEC / 2);
    cr_assert_eq(api_qp_duration_parse("2m", &ns), 0);
    cr_assert_eq(ns, 120 * SEC);
    cr_assert_eq(api_qp_duration_parse("1.5s", &ns), 0);
    cr_assert_eq(ns, 3 * SEC / 2);
    cr_assert_eq(api_qp_duration_parse("120", &ns), 0);
    cr_assert_eq(ns, 120 * SEC);
    const char *bad[] = {"", "0s", "-1s", "1x", "s", "99999999999999999h", "0.1ns"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        cr_assert_eq(api_qp_duration_parse(bad[k], &ns), -1, "'%s' should be refused", bad[k]);
}

Test(api_query, cursor_round_trips_and_refuses_garbage)
{
    api_buf_t b;
    api_buf_init(&b);
    api_qp_cursor_encode(&b, "car/1/speed_mps", 15, -42);
    api_buf_put(&b, "", 1);
    char key[64];
    size_t kl;
    int64_t ts;
    cr_assert_eq(api_qp_cursor_decode(b.p, key, sizeof key, &kl, &ts), 0);
    cr_assert_eq(kl, 15);
    cr_assert_eq(memcmp(key, "car/1/speed_mps", 15), 0);
    cr_assert_eq(ts, -42);
    cr_assert_eq(api_qp_cursor_decode("abc", key, sizeof key, &kl, &ts), -1);
    cr_assert_eq(api_qp_cursor_decode("!!!!!!!!!!!!!!", key, sizeof key, &kl, &ts), -1);
    api_buf_fini(&b);
}

/* ---- Series ------------------------------------------------------------- */

Test(api_query, series_returns_the_range_of_a_key_prefix)
{
    char q[256];
    snprintf(q, sizeof q, "topic=speed_1s&key=car/1/&from=%" PRId64 "&to=%" PRId64, T0 + 10 * SEC,
             T0 + 20 * SEC);
    json_t *j = ask_json("/v1/series", q, 200);
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 10);
    for (size_t k = 0; k < 10; k++) {
        json_t *row = json_array_get(rows, k);
        cr_assert_str_eq(jstr(row, "key"), "car/1/speed_mps");
        cr_assert_str_eq(jstr(row, "topic"), "speed_1s");
        cr_assert_eq(jint(row, "ts_ns"), T0 + (int64_t)(10 + k) * SEC);
        cr_assert_eq(jint(row, "version"), 1);
        cr_assert_float_eq(jnum(json_object_get(row, "data"), "mean"), speed_mean(1, (int)(10 + k)),
                           1e-9);
    }
    cr_assert(json_is_null(json_object_get(j, "next")));
    cr_assert_eq(jint(j, "from_ns"), T0 + 10 * SEC);
    json_decref(j);

    /* "car/1" also matches car/10; ISO times work; keys come in byte order. */
    j = ask_json("/v1/series", "topic=speed_1s&key=car%2F1&from=2026-11-23T12:00:58Z", 200);
    rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 2);
    cr_assert_str_eq(jstr(json_array_get(rows, 0), "key"), "car/1/speed_mps");
    cr_assert_str_eq(jstr(json_array_get(rows, 1), "key"), "car/1/speed_mps");
    json_decref(j);
    j = ask_json("/v1/series", "topic=speed_1s&key=car/1&from=2026-11-23T12:00:04Z", 200);
    rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 56 + 1);
    cr_assert_str_eq(jstr(json_array_get(rows, 56), "key"), "car/10/speed_mps");
    json_decref(j);

    /* An unknown topic is an empty answer, not an error. */
    j = ask_json("/v1/series", "topic=nothing", 200);
    cr_assert_eq(json_array_size(json_object_get(j, "rows")), 0);
    json_decref(j);
}

Test(api_query, series_fields_keep_only_the_listed_fields)
{
    json_t *j = ask_json("/v1/series", "topic=speed_1s&key=car/2/&fields=mean,max&limit=3", 200);
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 3);
    for (size_t k = 0; k < 3; k++) {
        json_t *data = json_object_get(json_array_get(rows, k), "data");
        cr_assert_eq(json_object_size(data), 2);
        cr_assert_float_eq(jnum(data, "mean"), speed_mean(2, (int)k), 1e-9);
        cr_assert_float_eq(jnum(data, "max"), speed_max(2, (int)k), 1e-9);
    }
    cr_assert(json_is_string(json_object_get(j, "next")), "3 of 60 rows: a next cursor");
    json_decref(j);
}

/* Page through query with limit, collecting "key@ts" of every row. */
static size_t collect_pages(const char *base, size_t limit, char ***out, size_t *pages)
{
    size_t n = 0, cap = 0;
    char **rows = NULL;
    char *cursor = NULL;
    *pages = 0;
    for (;;) {
        char q[2048];
        snprintf(q, sizeof q, "%s&limit=%zu%s%s", base, limit, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        json_t *j = ask_json("/v1/series", q, 200);
        json_t *arr = json_object_get(j, "rows");
        cr_assert_leq(json_array_size(arr), limit);
        (*pages)++;
        for (size_t k = 0; k < json_array_size(arr); k++) {
            json_t *row = json_array_get(arr, k);
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rows = realloc(rows, cap * sizeof *rows);
                cr_assert_not_null(rows);
            }
            char buf[128];
            snprintf(buf, sizeof buf, "%s@%" PRId64, jstr(row, "key"), jint(row, "ts_ns"));
            rows[n++] = strdup(buf);
        }
        free(cursor);
        cursor = NULL;
        json_t *next = json_object_get(j, "next");
        if (json_is_string(next))
            cursor = strdup(json_string_value(next));
        json_decref(j);
        if (cursor == NULL)
            break;
        cr_assert_lt(*pages, 1000, "paging does not end");
    }
    *out = rows;
    return n;
}

static void free_rows(char **rows, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(rows[k]);
    free(rows);
}

Test(api_query, series_paging_returns_every_row_exactly_once)
{
    char **all, **paged;
    size_t pages_all, pages;
    size_t n_all = collect_pages("topic=speed_1s&key=car/", 10000, &all, &pages_all);
    cr_assert_eq(n_all, 3 * 60 + 5);
    cr_assert_eq(pages_all, 1);
    size_t limits[] = {1, 7, 60, 61, 184, 185};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        size_t n = collect_pages("topic=speed_1s&key=car/", limits[l], &paged, &pages);
        cr_assert_eq(n, n_all, "limit %zu: %zu rows", limits[l], n);
        for (size_t k = 0; k < n; k++)
            cr_assert_str_eq(paged[k], all[k], "limit %zu: row %zu", limits[l], k);
        cr_assert_eq(pages, (n_all + limits[l] - 1) / limits[l], "limit %zu", limits[l]);
        free_rows(paged, n);
    }
    /* With a time range too. */
    char base[128];
    snprintf(base, sizeof base, "topic=speed_1s&from=%" PRId64 "&to=%" PRId64, T0 + 3 * SEC,
             T0 + 50 * SEC);
    size_t n = collect_pages(base, 9, &paged, &pages);
    cr_assert_eq(n, 3 * 47 + 2);
    free_rows(paged, n);
    free_rows(all, n_all);
}

Test(api_query, series_rollup_matches_a_computed_reference)
{
    json_t *j = ask_json("/v1/series", "topic=speed_1s&key=car/&step=10s&fields=mean,max,label", 200);
    cr_assert_eq(jint(j, "step_ns"), 10 * SEC);
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq(json_array_size(rows), 3 * 6 + 1, "6 buckets for each of 3 cars, 1 for car/10");
    size_t k = 0;
    const int cars[] = {1, 10, 2, 3};
    for (size_t c = 0; c < 4; c++) {
        int nb = cars[c] == 10 ? 1 : 6, n = cars[c] == 10 ? 5 : 10;
        for (int b = 0; b < nb; b++, k++) {
            json_t *row = json_array_get(rows, k);
            char key[32];
            snprintf(key, sizeof key, "car/%d/speed_mps", cars[c]);
            cr_assert_str_eq(jstr(row, "key"), key);
            cr_assert_eq(jint(row, "ts_ns"), T0 + b * 10 * SEC);
            cr_assert_eq(jint(row, "count"), n);
            double mn = INFINITY, mx = -INFINITY, sum = 0, xmax = -INFINITY;
            for (int i = b * 10; i < b * 10 + n; i++) {
                double m = speed_mean(cars[c], i);
                mn = fmin(mn, m);
                mx = fmax(mx, m);
                sum += m;
                xmax = fmax(xmax, speed_max(cars[c], i));
            }
            json_t *data = json_object_get(row, "data");
            json_t *mean = json_object_get(data, "mean");
            cr_assert_float_eq(jnum(mean, "min"), mn, 1e-9);
            cr_assert_float_eq(jnum(mean, "max"), mx, 1e-9);
            cr_assert_float_eq(jnum(mean, "mean"), sum / n, 1e-9);
            cr_assert_float_eq(jnum(json_object_get(data, "max"), "max"), xmax, 1e-9);
            cr_assert(json_is_null(json_object_get(data, "label")), "a string field: null");
        }
    }
    json_decref(j);

    /* Rollup pages: limit=4 buckets at a time gives the same buckets. */
    char *cursor = NULL;
    size_t got = 0;
    for (int page = 0; page < 20; page++) {
        char q[512];
        snprintf(q, sizeof q, "topic=speed_1s&key=car/&step=10s&fields=mean&limit=4%s%s",
                 cursor ? "&cursor=" : "", cursor ? cursor : "");
        j = ask_json("/v1/series", q, 200);
        rows = json_object_get(j, "rows");
        for (size_t r = 0; r < json_array_size(rows); r++, got++)
            cr_assert_eq(jint(json_array_get(rows, r), "count"), got == 6 ? 5 : 10);
        free(cursor);
        json_t *next = json_object_get(j, "next");
        cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
        json_decref(j);
        if (cursor == NULL)
            break;
    }
    cr_assert_null(cursor);
    cr_assert_eq(got, 19);
}

Test(api_query, series_csv_has_a_header_and_quotes_fields)
{
    api_resp_t r = ask("/v1/series", "topic=speed_1s&key=car/2/&fields=mean,label&limit=2&format=csv");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/csv; charset=utf-8");
    char expect[512];
    snprintf(expect, sizeof expect,
             "topic,key,ts_ns,version,mean,label\r\n"
             "speed_1s,car/2/speed_mps,%" PRId64 ",1,70,\"fast, \"\"hot\"\"\"\r\n"
             "speed_1s,car/2/speed_mps,%" PRId64 ",1,70.5,\"fast, \"\"hot\"\"\"\r\n",
             T0, T0 + SEC);
    cr_assert_str_eq(r.body, expect);
    cr_assert_not_null(r.next_cursor, "a CSV page carries its cursor in next_cursor");
    api_resp_free(&r);

    /* Without fields: the body as JSON in a quoted data column. */
    r = ask("/v1/series", "topic=speed_1s&key=car/3/&limit=1&format=csv");
    cr_assert(starts_with(r.body, "topic,key,ts_ns,version,data\r\nspeed_1s,car/3/speed_mps,"),
              "%s", r.body);
    cr_assert_not_null(strstr(r.body, ",\"{\"\"count\"\":10,\"\"mean\"\":80"), "%s", r.body);
    api_resp_free(&r);

    /* Rollups in CSV: one min/mean/max column per field. */
    r = ask("/v1/series", "topic=speed_1s&key=car/1/&step=1m&fields=mean&format=csv");
    cr_assert(starts_with(r.body, "topic,key,ts_ns,count,mean_min,mean_mean,mean_max\r\n"
                                  "speed_1s,car/1/speed_mps,1795435200000000000,60,60,"),
              "%s", r.body);
    api_resp_free(&r);
}

/* ---- Events ------------------------------------------------------------- */

Test(api_query, events_filter_by_type_and_importance)
{
    json_t *j = ask_json("/v1/events", "session=100&type=qb_sack,touchdown", 200);
    json_t *ev = json_object_get(j, "events");
    cr_assert_eq(json_array_size(ev), 2);
    cr_assert_str_eq(jstr(json_object_get(json_array_get(ev, 0), "data"), "type"), "qb_sack");
    cr_assert_str_eq(jstr(json_object_get(json_array_get(ev, 1), "data"), "type"), "touchdown");
    cr_assert_str_eq(jstr(j, "session"), "100");
    json_decref(j);

    j = ask_json("/v1/events", "session=100&min_importance=0.5", 200);
    ev = json_object_get(j, "events");
    cr_assert_eq(json_array_size(ev), 5);
    for (size_t k = 0; k < 5; k++)
        cr_assert_geq(jnum(json_object_get(json_array_get(ev, k), "data"), "importance"), 0.5);
    json_decref(j);

    /* Time range and paging with a filter: every tackle once. */
    j = ask_json("/v1/events", "session=100&type=tackle&limit=1", 200);
    ev = json_object_get(j, "events");
    cr_assert_eq(json_array_size(ev), 1);
    cr_assert_eq(jint(json_array_get(ev, 0), "ts_ns"), T0 + 15 * SEC);
    char q[256];
    snprintf(q, sizeof q, "session=100&type=tackle&limit=1&cursor=%s",
             jstr(j, "next"));
    json_decref(j);
    j = ask_json("/v1/events", q, 200);
    ev = json_object_get(j, "events");
    cr_assert_eq(json_array_size(ev), 1);
    cr_assert_eq(jint(json_array_get(ev, 0), "ts_ns"), T0 + 104 * SEC);
    cr_assert(json_is_null(json_object_get(j, "next")));
    json_decref(j);

    /* The other session, by key. */
    j = ask_json("/v1/events", "key=game/200&to=2026-11-23T12:00:10Z", 200);
    cr_assert_eq(json_array_size(json_object_get(j, "events")), 2);
    json_decref(j);

    api_resp_t r = ask("/v1/events", "session=200&format=csv&type=shot");
    cr_assert_eq(r.status, 200);
    char expect[512];
    snprintf(expect, sizeof expect,
             "topic,key,ts_ns,version,type,importance,data\r\n"
             "event,game/200,%" PRId64 ",1,shot,0.8,\"{\"\"type\"\":\"\"shot\"\",", T0 + 8 * SEC);
    cr_assert(strncmp(r.body, expect, strlen(expect)) == 0, "%s", r.body);
    api_resp_free(&r);
}

/* ---- Moments ------------------------------------------------------------ */

Test(api_query, moments_are_ranked_by_importance_then_time)
{
    json_t *j = ask_json("/v1/moments", "session=100", 200);
    json_t *m = json_object_get(j, "moments");
    cr_assert_eq(jint(j, "events"), 12);
    cr_assert_eq(json_array_size(m), 12);
    cr_assert_str_eq(jstr(j, "order"), "rank");
    static const struct { int t; const char *type; int pre, post; } want[] = {
        {75, "touchdown", 8, 4}, {43, "qb_sack", 5, 3}, {14, "pass_arrived", 4, 3},
        {15, "tackle", 5, 2},    {104, "tackle", 5, 2}, {12, "pass_forward", 2, 4},
        {130, "first_contact", 3, 3}, {140, "handoff", 2, 4}, {10, "ball_snap", 2, 3},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        json_t *e = json_array_get(m, k);
        cr_assert_eq(jint(e, "rank"), (int64_t)k + 1);
        cr_assert_eq(jint(e, "ts_ns"), T0 + want[k].t * SEC, "moment %zu", k);
        cr_assert_str_eq(jstr(e, "type"), want[k].type);
        cr_assert_eq(jint(e, "in_ns"), T0 + (want[k].t - want[k].pre) * SEC);
        cr_assert_eq(jint(e, "out_ns"), T0 + (want[k].t + want[k].post) * SEC);
        cr_assert_str_eq(jstr(json_object_get(e, "data"), "type"), want[k].type);
    }
    json_decref(j);

    j = ask_json("/v1/moments", "session=100&limit=2", 200);
    cr_assert_eq(json_array_size(json_object_get(j, "moments")), 2);
    json_decref(j);
}

Test(api_query, moments_with_a_duration_fit_it_in_time_order)
{
    json_t *j = ask_json("/v1/moments", "session=100&duration=30", 200);
    cr_assert_str_eq(jstr(j, "order"), "time");
    cr_assert_float_eq(jnum(j, "total_s"), 29, 1e-9);
    cr_assert_leq(jnum(j, "total_s"), jnum(j, "duration_s"));
    json_t *m = json_object_get(j, "moments");
    /* touchdown, sack, arrival take 27 s; the overlapping tackle, pass and
     * snaps fit inside; tackle@104 (7 s) would pass 30 s. */
    static const int want[] = {10, 12, 14, 15, 40, 43, 70, 75};
    cr_assert_eq(json_array_size(m), sizeof want / sizeof want[0]);
    for (size_t k = 0; k < json_array_size(m); k++)
        cr_assert_eq(jint(json_array_get(m, k), "ts_ns"), T0 + want[k] * SEC, "moment %zu", k);
    json_t *clips = json_object_get(j, "clips");
    cr_assert_eq(json_array_size(clips), 3);
    int64_t total = 0;
    for (size_t k = 0; k < 3; k++) {
        json_t *c = json_array_get(clips, k);
        total += jint(c, "out_ns") - jint(c, "in_ns");
    }
    cr_assert_eq(total, 29 * SEC);
    json_decref(j);

    /* 2m as a duration string: everything fits. */
    j = ask_json("/v1/moments", "session=100&duration=2m", 200);
    cr_assert_eq(json_array_size(json_object_get(j, "moments")), 12);
    json_decref(j);
}

/* ---- Sessions ----------------------------------------------------------- */

Test(api_query, sessions_give_spans_topics_and_event_counts)
{
    json_t *j = ask_json("/v1/sessions", "", 200);
    json_t *s = json_object_get(j, "sessions");
    cr_assert_eq(json_array_size(s), 4);
    json_t *race = json_array_get(s, 0);
    cr_assert_str_eq(jstr(race, "session"), "race");
    cr_assert_str_eq(jstr(race, "kind"), "race");
    cr_assert_eq(jint(race, "cars"), 4);
    cr_assert_eq(jint(race, "keys"), 4);
    cr_assert_eq(jint(race, "first_ns"), T0);
    cr_assert_eq(jint(race, "last_ns"), T0 + 59 * SEC);
    static const struct { const char *id; int first, last, events; const char *topics; } want[] = {
        {"200", 5, 20, 3, "event"},
        {"100", 10, 140, 12, "event,pressure"},
        {"300", 200, 209, 0, "pressure"},
    };
    for (size_t k = 0; k < 3; k++) {
        json_t *e = json_array_get(s, k + 1);
        cr_assert_str_eq(jstr(e, "session"), want[k].id);
        cr_assert_str_eq(jstr(e, "kind"), "game");
        cr_assert_eq(jint(e, "first_ns"), T0 + want[k].first * SEC);
        cr_assert_eq(jint(e, "last_ns"), T0 + want[k].last * SEC);
        cr_assert_eq(jint(e, "events"), want[k].events);
        char topics[64] = "";
        json_t *t = json_object_get(e, "topics");
        for (size_t i = 0; i < json_array_size(t); i++)
            snprintf(topics + strlen(topics), sizeof topics - strlen(topics), "%s%s",
                     i ? "," : "", json_string_value(json_array_get(t, i)));
        cr_assert_str_eq(topics, want[k].topics);
    }
    json_decref(j);

    /* Only the sessions overlapping [from, to). */
    j = ask_json("/v1/sessions", "from=2026-11-23T12:01:00Z&to=2026-11-23T12:03:00Z", 200);
    s = json_object_get(j, "sessions");
    cr_assert_eq(json_array_size(s), 1);
    cr_assert_str_eq(jstr(json_array_get(s, 0), "session"), "100");
    json_decref(j);
}

/* ---- Errors and robustness ---------------------------------------------- */

Test(api_query, bad_requests_answer_400_naming_the_parameter)
{
    static const struct { const char *path, *query, *param; } cases[] = {
        {"/v1/series", "", "topic"},
        {"/v1/series", "topic=speed_1s&colour=red", "colour"},
        {"/v1/series", "topic=speed_1s&from=yesterday", "from"},
        {"/v1/series", "topic=speed_1s&to=2026-13-01T00:00:00Z", "to"},
        {"/v1/series", "topic=speed_1s&from=10&to=5", "to"},
        {"/v1/series", "topic=speed_1s&limit=0", "limit"},
        {"/v1/series", "topic=speed_1s&limit=10001", "limit"},
        {"/v1/series", "topic=speed_1s&limit=ten", "limit"},
        {"/v1/series", "topic=speed_1s&format=xml", "format"},
        {"/v1/series", "topic=speed_1s&step=1s", "fields"},
        {"/v1/series", "topic=speed_1s&step=0s&fields=mean", "step"},
        {"/v1/series", "topic=speed_1s&fields=mean,,max", "fields"},
        {"/v1/series", "topic=speed_1s&fields=mean,mean", "fields"},
        {"/v1/series", "topic=speed_1s&cursor=nope", "cursor"},
        {"/v1/series", "topic=speed_1s&topic=lap", "topic"},
        {"/v1/series", "topic=speed_1s&key=%zz", "key"},
        {"/v1/series", "topic=speed_1s&key=a%00b", "key"},
        {"/v1/events", "", "session"},
        {"/v1/events", "session=100&key=game/100", "key"},
        {"/v1/events", "session=100&min_importance=high", "min_importance"},
        {"/v1/events", "session=100&step=1s", "step"},
        {"/v1/moments", "session=100&duration=forever", "duration"},
        {"/v1/moments", "session=100&limit=1001", "limit"},
        {"/v1/moments", "session=100&format=csv", "format"},
        {"/v1/sessions", "from=x", "from"},
        {"/v1/sessions", "session=1", "session"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        expect_bad(cases[k].path, cases[k].query, cases[k].param);

    /* A cursor of another key prefix is refused. */
    json_t *j = ask_json("/v1/series", "topic=speed_1s&key=car/2/&limit=1", 200);
    char q[512];
    snprintf(q, sizeof q, "topic=speed_1s&key=car/3/&cursor=%s", jstr(j, "next"));
    json_decref(j);
    expect_bad("/v1/series", q, "cursor");

    /* The token parameter (browsers) is accepted everywhere. */
    j = ask_json("/v1/sessions", "token=abc", 200);
    json_decref(j);
}

Test(api_query, other_paths_are_left_to_the_server)
{
    api_resp_t r = {0};
    cr_assert_eq(api_query_handle(store, "/v1/seriesx", "", &r), 0);
    cr_assert_eq(api_query_handle(store, "/v1/series/", "topic=a", &r), 0);
    cr_assert_eq(api_query_handle(store, "/v1/live", NULL, &r), 0);
    cr_assert_eq(api_query_handle(store, "/", NULL, &r), 0);
    cr_assert_eq(api_query_handle(store, NULL, NULL, &r), 0);
    cr_assert_null(r.body);
    cr_assert_lt(api_query_handle(store, "/v1/series", "", NULL), 0);
    r = (api_resp_t){0};
    cr_assert_eq(api_query_handle(NULL, "/v1/sessions", "", &r), 1);
    cr_assert_eq(r.status, 500);
    api_resp_free(&r);
}

Test(api_query, random_query_strings_never_crash)
{
    static const char *const paths[] = {"/v1/series", "/v1/events", "/v1/moments",
                                        "/v1/sessions"};
    static const char *const pieces[] = {
        "topic=", "speed_1s", "event", "key=", "car/", "game/100", "session=", "100", "from=",
        "to=", "2026-11-23T12:00:10Z", "1795435200000000000", "-9223372036854775808",
        "9223372036854775807", "fields=", "mean,max", ",", "limit=", "1", "3", "10000",
        "cursor=", "AQ", "AYAAAAAAAAAA", "format=", "csv", "json", "step=", "1s", "1ns", "2m",
        "type=", "tackle", "min_importance=", "0.5", "nan", "duration=", "120", "&", "&", "&",
        "=", "%", "%2", "%41", "%00", "%ff", "+", "%C3%A9", "\"", "\\", "token=x", "?",
    };
    unsigned seed = 12345;
    for (int n = 0; n < 600; n++) {
        char q[512] = "";
        size_t len = 0;
        int parts = (int)(rand_r(&seed) % 12);
        for (int k = 0; k < parts; k++) {
            const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof pieces[0])];
            if (len + strlen(p) + 1 >= sizeof q)
                break;
            memcpy(q + len, p, strlen(p) + 1);
            len += strlen(p);
        }
        if (rand_r(&seed) % 10 == 0 && len + 2 < sizeof q) { /* a random byte */
            q[len++] = (char)(1 + rand_r(&seed) % 255);
            q[len] = '\0';
        }
        const char *path = paths[rand_r(&seed) % 4];
        api_resp_t r = {0};
        int rc = api_query_handle(store, path, q, &r);
        cr_assert_eq(rc, 1, "%s?%s", path, q);
        cr_assert(r.status == 200 || r.status == 400, "%s?%s: %d %s", path, q, r.status, r.body);
        if (strcmp(r.content_type, "application/json") == 0) {
            json_error_t je;
            json_t *j = json_loadb(r.body, r.body_len, 0, &je);
            cr_assert_not_null(j, "%s?%s: not JSON: %s: %s", path, q, je.text, r.body);
            if (r.status == 400)
                cr_assert(json_is_string(json_object_get(j, "error")));
            json_decref(j);
        }
        api_resp_free(&r);
    }
    /* Cursors with a byte changed: another row, or a 400, never a crash. */
    json_t *j = ask_json("/v1/series", "topic=speed_1s&key=car/&limit=5", 200);
    const char *next = jstr(j, "next");
    static const char alphabet[] = "AZaz09-_=%+!";
    for (int n = 0; n < 200; n++) {
        char cur[256];
        snprintf(cur, sizeof cur, "%s", next);
        size_t at = rand_r(&seed) % strlen(cur);
        cur[at] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        if (n % 3 == 0)
            cur[rand_r(&seed) % strlen(cur) + 1] = '\0'; /* cut short */
        char qc[512];
        snprintf(qc, sizeof qc, "topic=speed_1s&key=car/&limit=5&cursor=%s", cur);
        api_resp_t r = ask("/v1/series", qc);
        cr_assert(r.status == 200 || r.status == 400, "%s: %d", qc, r.status);
        api_resp_free(&r);
    }
    json_decref(j);

    /* A query string past the cap. */
    size_t big = API_QP_QUERY_MAX + 10;
    char *q = malloc(big + 1);
    cr_assert_not_null(q);
    memset(q, 'a', big);
    q[big] = '\0';
    expect_bad("/v1/series", q, NULL);
    free(q);
}
