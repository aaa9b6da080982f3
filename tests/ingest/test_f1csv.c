/*
 * Tests of the F1 2019 game CSV decoder and of the CSV splitter and number
 * parser it shares (ingest/ing_csv.h). Facts about the real file
 * (racing/f1-2019-game/f1-2019-demo.csv under $PITWALL_DATA) were counted
 * with Python's csv module, e.g.
 *   rows = list(csv.reader(open('f1-2019-demo.csv')))[1:]
 *   len(rows) == 3492; sum(float(r[6]) for r in rows) == 723919.0
 * Inputs are copied into exact-size heap buffers so ASan sees any overread.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "core/pw_error.h"
#include "core/pw_intern.h"
#include "core/pw_record.h"
#include "ingest/ing_csv.h"
#include "ingest/ing_format.h"

#define F1_FILE "racing/f1-2019-game/f1-2019-demo.csv"

static pw_intern_t *channels, *entities, *labels;
static ing_names_t names;

static void setup(void)
{
    cr_assert_eq(pw_intern_create(4096, &channels), 0);
    cr_assert_eq(pw_intern_create(4096, &entities), 0);
    cr_assert_eq(pw_intern_create(4096, &labels), 0);
    names = (ing_names_t){channels, entities, labels};
}

static void teardown(void)
{
    pw_intern_destroy(channels);
    pw_intern_destroy(entities);
    pw_intern_destroy(labels);
}

/* What the callbacks saw: every point, the sessions, the batch sizes. */
typedef struct got {
    pw_points_t all;
    size_t batches, max_batch;
    int sessions;
    uint64_t session_id;
    char session_name[128];
    int stop_with; /* the points callback returns this */
} got_t;

static int on_points(void *ctx, const pw_points_t *b)
{
    got_t *g = ctx;
    g->batches++;
    if (b->n > g->max_batch)
        g->max_batch = b->n;
    for (size_t i = 0; i < b->n; i++) {
        pw_point_t p = {b->ts_ns[i], b->entity[i], b->channel[i], b->value[i]};
        cr_assert_eq(pw_points_push(&g->all, &p), 0);
    }
    return g->stop_with;
}

static int on_session(void *ctx, const ing_session_t *s)
{
    got_t *g = ctx;
    g->sessions++;
    g->session_id = s->id;
    snprintf(g->session_name, sizeof g->session_name, "%s", s->name);
    return 0;
}

/* Read a data file into an exact-size buffer; skip (or fail under CI) if absent. */
static uint8_t *load(const char *rel, size_t *len, char *path, size_t cap)
{
    return tdata_load(rel, len, path, cap);
}

/* Decode len bytes (copied to an exact-size buffer) named name. */
static int decode(const char *name, const void *data, size_t len, const ing_opts_t *o, got_t *g,
                  ing_stats_t *st, pw_err_t *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    if (len)
        memcpy(copy, data, len);
    ing_emit_t emit = {on_points, NULL, on_session, g};
    ing_stats_init(st);
    int rc = ing_f1csv_decode(name, copy, len, o, &names, &emit, st, err);
    free(copy);
    return rc;
}

static uint32_t channel_id(const char *name)
{
    uint32_t id = 0;
    cr_assert_eq(pw_intern_find(channels, name, strlen(name), &id), 0, "no channel %s", name);
    return id;
}

TestSuite(ing_f1csv, .init = setup, .fini = teardown, .timeout = 120);

Test(ing_f1csv, decodes_every_row_of_the_demo_session)
{
    char path[1024];
    size_t len;
    uint8_t *data = load(F1_FILE, &len, path, sizeof path);
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode(path, data, len, NULL, &g, &st, &err), 0, "%s", err.msg);
    /* 3492 rows x 16 channels (18 columns less Timestamp and SessionId),
     * less 36 empty cells (TotalLapDistance and LapDistance on 18 rows). */
    cr_assert_eq(st.records, 3492);
    cr_assert_eq(st.points, 3492 * 16 - 36);
    cr_assert_eq(g.all.n, st.points);
    cr_assert_eq(st.skipped, 36);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(st.bytes, len);
    /* 2023-06-19 13:13:28.469 to 13:24:04.526 UTC: 636.057 s. */
    cr_assert_eq(st.first_ts_ns, 1687180408469000000LL);
    cr_assert_eq(st.last_ts_ns, 1687181044526000000LL);
    cr_assert_eq(g.all.ts_ns[0], 1687180408469000000LL);
    /* Batches of the default size, 4096 points at most. */
    cr_assert(g.max_batch <= 4096 && g.batches >= 14, "%zu batches, max %zu", g.batches,
              g.max_batch);
    /* One session, one entity. */
    cr_assert_eq(g.sessions, 1);
    cr_assert_str_eq(g.session_name, "session_07501");
    cr_assert_eq(g.session_id, 4150179868723595ULL); /* FNV-1a("session_07501") & (2^53-1) */
    uint32_t car;
    cr_assert_eq(pw_intern_find(entities, "f1/session_07501", 16, &car), 0);
    uint32_t speed = channel_id("Speed"), rpm = channel_id("EngineRPM"),
             lap = channel_id("LapNumber"), gear = channel_id("Gear");
    double sum_speed = 0, sum_rpm = 0, max_speed = 0, first_speed = -1, last_speed = -1;
    size_t nspeed = 0, nlap = 0, ngear = 0;
    for (size_t i = 0; i < g.all.n; i++) {
        cr_assert_eq(g.all.entity[i], car);
        cr_assert(i == 0 || g.all.ts_ns[i] >= g.all.ts_ns[i - 1]);
        double v = g.all.value[i];
        if (g.all.channel[i] == speed) {
            if (first_speed < 0)
                first_speed = v;
            last_speed = v;
            sum_speed += v;
            max_speed = v > max_speed ? v : max_speed;
            nspeed++;
        } else if (g.all.channel[i] == rpm) {
            sum_rpm += v;
        } else if (g.all.channel[i] == lap) {
            cr_assert_eq(v, 1.0); /* the recording is one lap */
            nlap++;
        } else if (g.all.channel[i] == gear) {
            cr_assert(v >= 0 && v <= 8);
            ngear++;
        }
    }
    cr_assert_eq(nspeed, 3492);
    cr_assert_eq(nlap, 3492);
    cr_assert_eq(ngear, 3492);
    cr_assert_eq(first_speed, 223.0);
    cr_assert_eq(last_speed, 0.0);
    cr_assert_eq(max_speed, 326.0);
    cr_assert_eq(sum_speed, 723919.0);
    cr_assert_eq(sum_rpm, 35275582.0);
    pw_points_fini(&g.all);
    free(data);
}

Test(ing_f1csv, skips_empty_cells_and_says_where)
{
    char path[1024];
    size_t len;
    uint8_t *data = load(F1_FILE, &len, path, sizeof path);
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode(path, data, len, NULL, &g, &st, &err), 0, "%s", err.msg);
    char want[1100];
    snprintf(want, sizeof want, "%s:224: empty TotalLapDistance: point skipped", path);
    cr_assert_str_eq(st.first_problem, want);
    uint32_t dist = channel_id("TotalLapDistance");
    size_t n = 0;
    for (size_t i = 0; i < g.all.n; i++)
        n += g.all.channel[i] == dist;
    cr_assert_eq(n, 3492 - 18);
    pw_points_fini(&g.all);
    free(data);
}

Test(ing_f1csv, maps_text_columns_to_the_games_codes)
{
    char path[1024];
    size_t len;
    uint8_t *data = load(F1_FILE, &len, path, sizeof path);
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode(path, data, len, NULL, &g, &st, &err), 0, "%s", err.msg);
    uint32_t drv = channel_id("DriverStatus"), pit = channel_id("PitStatus"),
             valid = channel_id("LapValidity");
    size_t c[3][5] = {{0}};
    for (size_t i = 0; i < g.all.n; i++) {
        int k = g.all.channel[i] == drv ? 0 : g.all.channel[i] == pit ? 1
                : g.all.channel[i] == valid ? 2 : -1;
        if (k < 0)
            continue;
        double v = g.all.value[i];
        cr_assert(v >= 0 && v <= 4 && v == floor(v));
        c[k][(int)v]++;
    }
    /* Flying_lap 3327, In_garage 165; Pitting 165, empty 3327; Valid 1968, Invalid 1524. */
    cr_assert_eq(c[0][1], 3327);
    cr_assert_eq(c[0][0], 165);
    cr_assert_eq(c[1][1], 165);
    cr_assert_eq(c[1][0], 3327);
    cr_assert_eq(c[2][1], 1968);
    cr_assert_eq(c[2][0], 1524);
    pw_points_fini(&g.all);
    free(data);
}

Test(ing_f1csv, honours_the_channel_selection_and_batch_size)
{
    char path[1024];
    size_t len;
    uint8_t *data = load(F1_FILE, &len, path, sizeof path);
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    const char *const want[] = {"Speed", "Gear"};
    ing_opts_t o = {.channels = want, .nchannels = 2, .batch_points = 1000};
    cr_assert_eq(decode(path, data, len, &o, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.points, 2 * 3492);
    cr_assert_eq(st.skipped, 0); /* the empty cells are in columns not asked for */
    cr_assert(g.max_batch <= 1000);
    uint32_t speed = channel_id("Speed"), gear = channel_id("Gear");
    for (size_t i = 0; i < g.all.n; i++)
        cr_assert(g.all.channel[i] == speed || g.all.channel[i] == gear);
    pw_points_fini(&g.all);
    free(data);
}

Test(ing_f1csv, rejects_a_channel_that_is_not_a_column)
{
    const char *csv = "Timestamp,Speed\n1000,10\n";
    const char *const want[] = {"Speed", "FuelInTank"};
    ing_opts_t o = {.channels = want, .nchannels = 2};
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), &o, &g, &st, &err), PW_ENOTFOUND);
    cr_assert_str_eq(err.msg, "mem.csv: channel 'FuelInTank' is not a column of the input");
    cr_assert_eq(g.all.n, 0);
    pw_points_fini(&g.all);
}

Test(ing_f1csv, rejects_a_header_without_timestamp)
{
    const char *csv = "Time,Speed\n1000,10\n";
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "mem.csv:1: missing required column 'Timestamp'");
    cr_assert_eq(g.all.n, 0);
    cr_assert_eq(g.sessions, 0);
    pw_points_fini(&g.all);
}

Test(ing_f1csv, rejects_empty_input)
{
    got_t g = {0};
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", "", 0, NULL, &g, &st, &err), PW_ECORRUPT);
    cr_assert_str_eq(err.msg, "mem.csv: empty input: no header line");
    cr_assert_eq(decode("mem.csv", "\xEF\xBB\xBF\r\n\n", 6, NULL, &g, &st, &err), PW_ECORRUPT);
    cr_assert_eq(ing_f1csv_decode("mem.csv", NULL, 0, NULL, &names, NULL, &st, &err), PW_EARG);
}

Test(ing_f1csv, skips_a_row_with_a_bad_number_and_names_it)
{
    const char *csv = "Timestamp,Speed,Gear,SessionId\n"
                      "1000,10,1,s1\n"
                      "1001,1x,2,s1\n"
                      "1002,12,3,s1\n"
                      "1003,13\n"
                      "12x,14,4,s1\n";
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.records, 5);
    cr_assert_eq(st.skipped, 3);
    cr_assert_eq(st.points, 4);
    cr_assert_str_eq(st.first_problem,
                     "mem.csv:3: bad number '1x' for Speed (byte 49): row skipped");
    cr_assert_eq(g.all.ts_ns[2], 1002 * 1000000LL);
    cr_assert_eq(g.all.value[2], 12.0);
    cr_assert_eq(st.first_ts_ns, 1000000000);
    cr_assert_eq(st.last_ts_ns, 1002000000);
    pw_points_fini(&g.all);
}

Test(ing_f1csv, reports_a_cut_last_line_as_truncation_not_a_skip)
{
    const char *head = "Timestamp,Speed,Gear\n1000,10,1\n1001,11,2\n";
    char buf[128];
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    /* Cut inside the last row: two of three fields. */
    snprintf(buf, sizeof buf, "%s1002,12", head);
    cr_assert_eq(decode("mem.csv", buf, strlen(buf), NULL, &g, &st, &err), 0);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.skipped, 0);
    cr_assert_eq(st.points, 4);
    cr_assert_str_eq(st.first_problem, "mem.csv:4: last line cut short: 2 of 3 fields");
    /* A complete last row without its newline is a row. */
    g.all.n = 0;
    snprintf(buf, sizeof buf, "%s1002,12,3", head);
    cr_assert_eq(decode("mem.csv", buf, strlen(buf), NULL, &g, &st, &err), 0);
    cr_assert_eq(st.truncated, 0);
    cr_assert_eq(st.points, 6);
    /* Cut right after a separator: the empty last field is not a number. */
    g.all.n = 0;
    snprintf(buf, sizeof buf, "%s1002,", head);
    cr_assert_eq(decode("mem.csv", buf, strlen(buf), NULL, &g, &st, &err), 0);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.points, 4);
    pw_points_fini(&g.all);
}

Test(ing_f1csv, starts_a_session_per_session_id_and_stops_when_asked)
{
    const char *csv = "Timestamp,Speed,SessionId\n1000,10,a\n1001,11,a\n1002,12,b\n";
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), NULL, &g, &st, &err), 0);
    cr_assert_eq(g.sessions, 2);
    cr_assert_str_eq(g.session_name, "b");
    uint32_t a, b;
    cr_assert_eq(pw_intern_find(entities, "f1/a", 4, &a), 0);
    cr_assert_eq(pw_intern_find(entities, "f1/b", 4, &b), 0);
    cr_assert_eq(g.all.entity[0], a);
    cr_assert_eq(g.all.entity[2], b);
    /* No SessionId column: the file's stem names the entity. */
    const char *csv2 = "Timestamp,Speed\n1000,10\n";
    cr_assert_eq(decode("dir/lap.csv", csv2, strlen(csv2), NULL, &g, &st, &err), 0);
    cr_assert_str_eq(g.session_name, "lap");
    /* A callback's non-zero return stops the decode and is returned. */
    g.stop_with = 42;
    ing_opts_t o = {.batch_points = 1};
    cr_assert_eq(decode("mem.csv", csv, strlen(csv), &o, &g, &st, &err), 42);
    cr_assert_eq(st.points, 1);
    pw_points_fini(&g.all);
}

Test(ing_f1csv, survives_garbage_and_every_cut_of_the_real_file)
{
    char path[1024];
    size_t len;
    uint8_t *data = load(F1_FILE, &len, path, sizeof path);
    got_t g = {0};
    pw_points_init(&g.all);
    ing_stats_t st;
    pw_err_t err = {0};
    /* Every prefix of the first 3 KB: no crash, truncation at most. */
    for (size_t n = 0; n <= 3072 && n <= len; n++) {
        g.all.n = 0;
        int rc = decode(path, data, n, NULL, &g, &st, &err);
        cr_assert(rc == 0 || rc == PW_ECORRUPT, "cut at %zu: %d", n, rc);
        cr_assert_eq(st.skipped, 0, "cut at %zu: %s", n, st.first_problem);
    }
    /* Random bytes, with and without a valid header in front. */
    uint64_t x = 12345;
    uint8_t junk[2048];
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(round * 7) % sizeof junk;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            junk[i] = round % 2 ? (uint8_t)x : (uint8_t)",\n\"0123456789.e-x"[x % 16];
        }
        g.all.n = 0;
        int rc = decode("junk.csv", junk, n, NULL, &g, &st, &err);
        cr_assert(rc == 0 || rc == PW_ECORRUPT, "round %d: %d", round, rc);
        uint8_t with[2100];
        memcpy(with, "Timestamp,Speed\n", 16);
        memcpy(with + 16, junk, n);
        cr_assert_eq(decode("junk.csv", with, n + 16, NULL, &g, &st, &err), 0);
    }
    pw_points_fini(&g.all);
    free(data);
}

/* The splitter and the number parser. */

Test(ing_csv, splits_quoted_fields_crlf_and_counts_lines)
{
    const char *in = "\xEF\xBB\xBF" "a,\"b,c\",\"say \"\"hi\"\"\"\r\n"
                     "\r\n"
                     "1,\"two\nlines\",3\n"
                     "x,,\n"
                     "last";
    ing_csv_t c;
    ing_csv_init(&c, (const uint8_t *)in, strlen(in), ',');
    ing_csv_field_t f[4];
    ing_csv_row_t row;
    char buf[32];
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), 1);
    cr_assert_eq(row.nfields, 3);
    cr_assert_eq(row.line, 1);
    cr_assert_eq(row.offset, 3);
    cr_assert(ing_csv_eq(&f[0], "a"));
    cr_assert(ing_csv_eq(&f[1], "b,c"));
    cr_assert_eq(f[2].flags, ING_CSV_QUOTED | ING_CSV_ESCAPED);
    cr_assert_eq(ing_csv_unescape(&f[2], buf, sizeof buf), 8);
    cr_assert_str_eq(buf, "say \"hi\"");
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), 1); /* the blank line is skipped */
    cr_assert_eq(row.line, 3);
    cr_assert(ing_csv_eq(&f[1], "two\nlines"));
    cr_assert(ing_csv_eq(&f[2], "3"));
    cr_assert_eq(ing_csv_next(&c, f, 2, &row), 1);
    cr_assert_eq(row.line, 5);
    cr_assert_eq(row.nfields, 3); /* counted past the room given */
    cr_assert_eq(f[1].len, 0);
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), 1);
    cr_assert_eq(row.unterminated, 1);
    cr_assert(ing_csv_eq(&f[0], "last"));
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), 0);
    cr_assert_eq(ing_csv_find(f, 1, "last"), 0);
    cr_assert_eq(ing_csv_find(f, 1, "lost"), -1);
}

Test(ing_csv, reports_bad_quoting_and_goes_on)
{
    const char *in = "\"ab\"x,1\nok,2\n\"open,3\n";
    ing_csv_t c;
    ing_csv_init(&c, (const uint8_t *)in, strlen(in), ',');
    ing_csv_field_t f[4];
    ing_csv_row_t row;
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), PW_ECORRUPT);
    cr_assert_eq(row.line, 1);
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), 1);
    cr_assert_eq(row.line, 2);
    cr_assert(ing_csv_eq(&f[0], "ok"));
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), PW_ETRUNC);
    cr_assert_eq(ing_csv_next(&c, f, 4, &row), 0);
}

/* xorshift64 */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(ing_csv, parses_numbers_exactly_as_strtod)
{
    uint64_t s = 0x9E3779B97F4A7C15u;
    char buf[96];
    for (long i = 0; i < 400000; i++) {
        uint64_t r = rnd(&s);
        double v;
        switch (i % 5) {
        case 0: /* any finite double, shortest round trip and 17 digits */
            memcpy(&v, &r, sizeof v);
            if (!isfinite(v))
                continue;
            snprintf(buf, sizeof buf, i % 2 ? "%.17g" : "%.15g", v);
            break;
        case 1: /* telemetry-like fixed point */
            snprintf(buf, sizeof buf, "%.*f", (int)(r % 18), (double)(r % 2000000) / 1000 - 1000);
            break;
        case 2: { /* random digit strings, up to 25 digits, with exponents */
            int nd = 1 + (int)(r % 25), k = 0, dot = (int)(rnd(&s) % (uint64_t)(nd + 1));
            if (rnd(&s) & 1)
                buf[k++] = '-';
            for (int j = 0; j < nd; j++) {
                if (j == dot)
                    buf[k++] = '.';
                buf[k++] = (char)('0' + rnd(&s) % 10);
            }
            if (rnd(&s) % 3 == 0)
                k += snprintf(buf + k, sizeof buf - (size_t)k, "e%d", (int)(rnd(&s) % 200) - 100);
            buf[k] = '\0';
            break;
        }
        case 3: /* float32 values printed as doubles, as in the F1 export */
            snprintf(buf, sizeof buf, "%.17g", (double)(float)((double)(r >> 11) / 9.0e12 - 500));
            break;
        default: /* near the fast path's edge: 2^53 and beyond */
            snprintf(buf, sizeof buf, "%llu.%llu", (unsigned long long)(r % 100000000000000000ULL),
                     (unsigned long long)(rnd(&s) % 1000));
            break;
        }
        double got = 0, want = strtod(buf, NULL);
        cr_assert_eq(ing_csv_parse_double(buf, strlen(buf), &got), 0, "%s refused", buf);
        cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, strtod %.17g", buf, got, want);
    }
    static const char *const edge[] = {
        "0", "-0", "1.", "-.5", "+3", "1E3", "5.419133231043816e-06", "1e400", "-1e400",
        "1e-400", "4.9e-324", "2.2250738585072011e-308", "1.7976931348623157e308",
        "9007199254740993", "0.1000000000000000055511151231257827",
        "123456789012345678901234567890", "00000000000000000000000001.5",
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        double got = 0, want = strtod(edge[i], NULL);
        cr_assert_eq(ing_csv_parse_double(edge[i], strlen(edge[i]), &got), 0, "%s", edge[i]);
        cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g vs %.17g", edge[i], got, want);
    }
    double v;
    cr_assert_eq(ing_csv_parse_double("nan", 3, &v), 0);
    cr_assert(isnan(v));
    cr_assert_eq(ing_csv_parse_double("-Infinity", 9, &v), 0);
    cr_assert(isinf(v) && v < 0);
    static const char *const bad[] = {"", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "1,2",
                                      " 1", "1 ", "0x10", "--1", "nanx", "in", "1e5x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        cr_assert_eq(ing_csv_parse_double(bad[i], strlen(bad[i]), &v), -1, "'%s'", bad[i]);
        cr_assert_eq(v, 42);
    }
    /* A number is the whole range: "12" of "123" is 12. */
    cr_assert_eq(ing_csv_parse_double("123", 2, &v), 0);
    cr_assert_eq(v, 12);
}

Test(ing_csv, parses_integers_and_refuses_overflow)
{
    int64_t v = 0;
    cr_assert_eq(ing_csv_parse_i64("-9223372036854775808", 20, &v), 0);
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(ing_csv_parse_i64("9223372036854775807", 19, &v), 0);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(ing_csv_parse_i64("9223372036854775808", 19, &v), -1);
    cr_assert_eq(ing_csv_parse_i64("12a", 3, &v), -1);
    cr_assert_eq(ing_csv_parse_i64("-", 1, &v), -1);
    cr_assert_eq(ing_csv_parse_i64("", 0, &v), -1);
    cr_assert_eq(ing_csv_parse_i64("+17", 3, &v), 0);
    cr_assert_eq(v, 17);
}
