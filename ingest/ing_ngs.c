/*
 * NFL Next Gen Stats tracking TSV -> frames. What is emitted and why frames
 * are keyed by time is in ingest/ing_ngs.h.
 *
 * One pass over the lines: each row is split at its tabs (found 64 bytes
 * at a time), its numbers are parsed (ing_csv's exact parser, as strtod()
 * would) and it is appended to the play's row buffer. When the play ends (a new
 * gameId/playId, or the end of the input) the rows are sorted by time with
 * a natural merge sort (the upstream files are about 23 sorted runs, one
 * per entity), grouped into frames, deduplicated by entity and pushed into
 * a reused frame batch that is emitted every batch_frames frames and at
 * the end of each play. Memory is the largest play's rows (about 44 bytes
 * each) plus the batch; buffers grow geometrically and are reused.
 */
#include "ingest/ing_ngs.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ingest/ing_csv.h"
#include "ingest/ing_format.h"

/* The columns the decoder reads: the required ones first, then metadata. */
enum ngs_col {
    COL_GAMEID,
    COL_PLAYID,
    COL_FRAME,
    COL_TIME,
    COL_NFLID,
    COL_HOMEFLAG,
    COL_X,
    COL_Y,
    COL_S,
    COL_O,
    COL_DIR,
    COL_EVENT,
    NGS_NREQUIRED,
    COL_TEAMABBR = NGS_NREQUIRED,
    COL_POSSFLAG,
    COL_PLAYTYPE,
    COL_SEASON,
    COL_SEASONTYPE,
    COL_WEEK,
    COL_QUARTER,
    COL_GAMECLOCK,
    COL_DOWN,
    COL_YARDSTOGO,
    COL_YARDLINE,
    COL_YARDLINESIDE,
    COL_YARDLINENUMBER,
    COL_ABSYARDLINE,
    COL_PLAYDIRECTION,
    COL_PRESNAPHOME,
    COL_PRESNAPVISITOR,
    COL_PLAYDESC,
    NGS_NCOLS
};

static const char *const ngs_colname[NGS_NCOLS] = {
    [COL_GAMEID] = "gameId",
    [COL_PLAYID] = "playId",
    [COL_FRAME] = "frame",
    [COL_TIME] = "time",
    [COL_NFLID] = "nflId",
    [COL_HOMEFLAG] = "homeTeamFlag",
    [COL_X] = "x",
    [COL_Y] = "y",
    [COL_S] = "s",
    [COL_O] = "o",
    [COL_DIR] = "dir",
    [COL_EVENT] = "event",
    [COL_TEAMABBR] = "teamAbbr",
    [COL_POSSFLAG] = "possessionFlag",
    [COL_PLAYTYPE] = "playType",
    [COL_SEASON] = "season",
    [COL_SEASONTYPE] = "seasonType",
    [COL_WEEK] = "week",
    [COL_QUARTER] = "quarter",
    [COL_GAMECLOCK] = "gameClock",
    [COL_DOWN] = "down",
    [COL_YARDSTOGO] = "yardsToGo",
    [COL_YARDLINE] = "yardline",
    [COL_YARDLINESIDE] = "yardlineSide",
    [COL_YARDLINENUMBER] = "yardlineNumber",
    [COL_ABSYARDLINE] = "absoluteYardlineNumber",
    [COL_PLAYDIRECTION] = "playDirection",
    [COL_PRESNAPHOME] = "preSnapHomeScore",
    [COL_PRESNAPVISITOR] = "preSnapVisitorScore",
    [COL_PLAYDESC] = "playDescription",
};

/* Session pairs derived from several rows rather than read from one. */
enum { META_HOME = -1, META_AWAY = -2, META_POSS = -3 };

/* The session pairs, in the order they are emitted. */
static const struct {
    const char *key;
    int col; /* enum ngs_col, or META_* */
} ngs_meta[] = {
    {"gameId", COL_GAMEID},
    {"playId", COL_PLAYID},
    {"playType", COL_PLAYTYPE},
    {"season", COL_SEASON},
    {"seasonType", COL_SEASONTYPE},
    {"week", COL_WEEK},
    {"quarter", COL_QUARTER},
    {"gameClock", COL_GAMECLOCK},
    {"down", COL_DOWN},
    {"yardsToGo", COL_YARDSTOGO},
    {"yardline", COL_YARDLINE},
    {"yardlineSide", COL_YARDLINESIDE},
    {"yardlineNumber", COL_YARDLINENUMBER},
    {"absoluteYardlineNumber", COL_ABSYARDLINE},
    {"playDirection", COL_PLAYDIRECTION},
    {"preSnapHomeScore", COL_PRESNAPHOME},
    {"preSnapVisitorScore", COL_PRESNAPVISITOR},
    {"homeTeam", META_HOME},
    {"awayTeam", META_AWAY},
    {"possessionTeam", META_POSS},
    {"playDescription", COL_PLAYDESC},
};
#define NGS_NMETA (sizeof ngs_meta / sizeof ngs_meta[0])

/* Session ids stay below 2^53, like the other decoders' (JSON doubles). */
#define NGS_SESSION_MAX ((UINT64_C(1) << 53) - 1)

/* Frame batch size when the options say 0. */
#define NGS_BATCH_FRAMES 64

/* Rows a play buffer starts with (a play is about 7,700 rows). */
#define NGS_ROWS_START 8192

/* A field of the current line: borrowed from the input. */
typedef struct ngs_field {
    const char *p;
    size_t n;
} ngs_field_t;

/* One parsed row, kept until its play is emitted. */
typedef struct ngs_row {
    int64_t ts_ns;
    uint32_t entity;
    uint32_t label; /* PW_LABEL_NONE when the event is empty */
    uint32_t line;  /* for messages */
    float x, y, speed, orientation, direction;
    uint8_t team;
} ngs_row_t;

typedef struct ngs_dec {
    const char *name;
    ing_names_t *names;
    const ing_emit_t *emit;
    ing_stats_t *st;
    pw_err_t *err;
    size_t batch_frames;
    size_t line; /* 1-based number of the line being read */

    /* Header: the role of each column (enum ngs_col or -1). */
    size_t ncols;
    int8_t *role;
    int have[NGS_NCOLS]; /* column index of each role, -1 when absent */
    ngs_field_t f[NGS_NCOLS]; /* the current row's fields by role */

    /* The play being collected. */
    int in_play;
    uint64_t game_id, play_id, session;
    ngs_field_t game_raw, play_raw;   /* its ids as written, for a quick compare */
    ngs_field_t meta[NGS_NCOLS];      /* fields of its first row */
    ngs_field_t home, away, poss;     /* teamAbbr values, when seen */
    ngs_row_t *rows;
    uint32_t *ia, *ib; /* sort indices */
    size_t nrows, rows_cap;

    /* Per-row caches: the rows come entity by entity. */
    ngs_field_t prev_nfl; /* nflId of the last kept row of this play */
    uint64_t prev_frame;
    int have_prev;
    ngs_field_t last_nfl;
    uint32_t last_entity, ball_entity;
    ngs_field_t last_event;
    uint32_t last_label;
    char date[11]; /* "YYYY-MM-DD " of the last time parsed */
    int64_t date_ns;
    int have_date;

    /* Emission. */
    pw_frames_t batch;
    uint32_t *seen; /* seen[entity] == serial: already in this frame */
    size_t seen_cap;
    uint32_t serial;
    pw_object_t *objs;
    size_t objs_cap;
    char *text;
    size_t text_cap;
    uint64_t label_frames;  /* frames that had more events than labels */
    int label_problem;      /* first_problem is the label message */
} ngs_dec_t;

/* ---------------------------------------------------------------------------
 * Numbers and times.
 */

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') <= 9;
}

/*
 * A position, speed or angle: what strtod() gives, as a float (the shared
 * correctly rounded parser of ing_csv). Empty, "NA" or "nan" is NaN (the
 * ball has no o or dir); infinities and values past float range are not
 * numbers here.
 */
static inline int parse_value(const char *s, size_t n, float *out)
{
    double v;
    if (n == 0 || (n == 2 && s[0] == 'N' && s[1] == 'A')) {
        *out = NAN;
        return 0;
    }
    if (ing_csv_parse_double(s, n, &v))
        return -1;
    if (isnan(v)) {
        *out = NAN;
        return 0;
    }
    if (!(fabs(v) <= FLT_MAX))
        return -1;
    *out = (float)v;
    return 0;
}

/*
 * An unsigned integer of at most maxdigits digits, optionally followed by
 * a fraction of zeros ("2495438.0", as pandas writes integer columns).
 * *digits gets the length of the integer part.
 */
static int parse_uint(const char *s, size_t n, size_t maxdigits, uint64_t *out,
                      size_t *digits)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && is_digit(s[i])) {
        if (i == maxdigits)
            return -1;
        v = v * 10 + (uint64_t)(s[i++] - '0');
    }
    if (i == 0)
        return -1;
    size_t nd = i;
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] == '0'; i++)
            ;
    }
    if (i != n)
        return -1;
    *out = v;
    if (digits)
        *digits = nd;
    return 0;
}

static inline int two_digits(const char *p)
{
    if (!is_digit(p[0]) || !is_digit(p[1]))
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date part "YYYY-MM-DD" as ns since the epoch at its midnight. */
static int parse_date(const char *s, int64_t *ns)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int hi = two_digits(s), lo = two_digits(s + 2), mo = two_digits(s + 5),
        dd = two_digits(s + 8);
    if (hi < 0 || lo < 0 || mo < 0 || dd < 0 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = hi * 100 + lo;
    if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || dd < 1)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (dd > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    *ns = days_from_civil(y, mo, dd) * 86400 * INT64_C(1000000000);
    return 0;
}

/* "HH:MM:SS[.f{1,9}][Z]" as ns since midnight. */
static int parse_clock(const char *s, size_t n, int64_t *ns)
{
    if (n < 8 || s[2] != ':' || s[5] != ':')
        return -1;
    int h = two_digits(s), mi = two_digits(s + 3), sec = two_digits(s + 6);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return -1;
    if (s[n - 1] == 'Z')
        n--;
    int64_t frac = 0;
    if (n > 8) {
        size_t nf = n - 9;
        if (s[8] != '.' || nf < 1 || nf > 9)
            return -1;
        for (size_t i = 0; i < nf; i++) {
            if (!is_digit(s[9 + i]))
                return -1;
            frac = frac * 10 + (s[9 + i] - '0');
        }
        for (size_t i = nf; i < 9; i++)
            frac *= 10;
    }
    *ns = ((int64_t)h * 3600 + mi * 60 + sec) * INT64_C(1000000000) + frac;
    return 0;
}

int ing_ngs_wants(const char *basename)
{
    return strstr(basename, "index") == NULL;
}

int ing_ngs_parse_time(const char *s, size_t n, int64_t *ts_ns)
{
    int64_t day, clock;
    if (n < 19 || (s[10] != ' ' && s[10] != 'T') || parse_date(s, &day) ||
        parse_clock(s + 11, n - 11, &clock))
        return -1;
    *ts_ns = day + clock;
    return 0;
}

/* As ing_ngs_parse_time, remembering the last date: rows share it. */
static int parse_time_cached(ngs_dec_t *d, const char *s, size_t n, int64_t *ts_ns)
{
    if (n < 19 || (s[10] != ' ' && s[10] != 'T'))
        return -1;
    if (!d->have_date || memcmp(s, d->date, 11) != 0) {
        if (parse_date(s, &d->date_ns)) {
            d->have_date = 0;
            return -1;
        }
        memcpy(d->date, s, 11);
        d->have_date = 1;
    }
    int64_t clock;
    if (parse_clock(s + 11, n - 11, &clock))
        return -1;
    *ts_ns = d->date_ns + clock;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Problems.
 */

/* A field fit for a message: at most 40 bytes, non-printing bytes as '?'. */
static const char *show(char *buf, size_t cap, ngs_field_t f)
{
    size_t n = f.n < 40 ? f.n : 40, k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)f.p[i];
        buf[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (f.n > n && k + 4 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
    return buf;
}

static void note(ngs_dec_t *d, size_t line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void note(ngs_dec_t *d, size_t line, const char *fmt, va_list ap)
{
    if (d->st->first_problem[0] && !d->label_problem)
        return;
    d->label_problem = 0;
    char *m = d->st->first_problem;
    size_t cap = sizeof d->st->first_problem;
    int k = snprintf(m, cap, "%s:%zu: ", d->name, line);
    if (k > 0 && (size_t)k < cap)
        vsnprintf(m + k, cap - (size_t)k, fmt, ap);
}

/* Skip the current row: count it and keep the first problem's text. */
static int skip(ngs_dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int skip(ngs_dec_t *d, const char *fmt, ...)
{
    d->st->skipped++;
    va_list ap;
    va_start(ap, fmt);
    note(d, d->line, fmt, ap);
    va_end(ap);
    return 0;
}

/* Skip a row found bad when its play is emitted (line = its line). */
static void skip_at(ngs_dec_t *d, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void skip_at(ngs_dec_t *d, size_t line, const char *fmt, ...)
{
    d->st->skipped++;
    va_list ap;
    va_start(ap, fmt);
    note(d, line, fmt, ap);
    va_end(ap);
}

/* The input ends inside a row: reported, not counted as skipped. */
static int truncated(ngs_dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int truncated(ngs_dec_t *d, const char *fmt, ...)
{
    d->st->truncated = 1;
    va_list ap;
    va_start(ap, fmt);
    note(d, d->line, fmt, ap);
    va_end(ap);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Buffers.
 */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return PW_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int grow_rows(ngs_dec_t *d)
{
    size_t c = d->rows_cap ? d->rows_cap * 2 : NGS_ROWS_START;
    if (c > UINT32_MAX) /* rows are sorted by 32-bit index */
        return PW_ECAPACITY;
    ngs_row_t *r = realloc(d->rows, c * sizeof *r);
    if (!r)
        return PW_ENOMEM;
    d->rows = r;
    uint32_t *a = realloc(d->ia, c * sizeof *a);
    if (!a)
        return PW_ENOMEM;
    d->ia = a;
    uint32_t *b = realloc(d->ib, c * sizeof *b);
    if (!b)
        return PW_ENOMEM;
    d->ib = b;
    d->rows_cap = c;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Emission.
 */

static int flush(ngs_dec_t *d)
{
    if (d->batch.n == 0)
        return 0;
    int rc = d->emit->frames ? d->emit->frames(d->emit->ctx, &d->batch) : 0;
    pw_frames_clear(&d->batch);
    return rc;
}

static int emit_session(ngs_dec_t *d)
{
    if (!d->emit->session)
        return 0;
    ngs_field_t v[NGS_NMETA];
    const char *keys[NGS_NMETA], *vals[NGS_NMETA];
    size_t n = 0, total = 48;
    for (size_t i = 0; i < NGS_NMETA; i++) {
        int c = ngs_meta[i].col;
        if (c >= 0 && d->have[c] < 0)
            continue;
        if (c < 0 && d->have[COL_TEAMABBR] < 0)
            continue;
        v[n] = c == META_HOME ? d->home : c == META_AWAY ? d->away
             : c == META_POSS ? d->poss : d->meta[c];
        keys[n] = ngs_meta[i].key;
        total += v[n].n + 1;
        n++;
    }
    if (grow((void **)&d->text, &d->text_cap, total, 1))
        return pw_err_set(d->err, PW_ENOMEM, "%s: out of memory", d->name);
    char *t = d->text;
    for (size_t i = 0; i < n; i++) {
        if (v[i].n)
            memcpy(t, v[i].p, v[i].n);
        t[v[i].n] = '\0';
        vals[i] = t;
        t += v[i].n + 1;
    }
    snprintf(t, 48, "%" PRIu64 "/%" PRIu64, d->game_id, d->play_id);
    ing_session_t s = {.id = d->session, .name = t, .n = n, .keys = keys, .values = vals};
    return d->emit->session(d->emit->ctx, &s);
}

/*
 * Sort the play's rows by time, keeping input order among equal times: a
 * natural merge sort of indices (runs found, merged pairwise, repeated).
 * Returns the array holding the sorted indices.
 */
static uint32_t *sort_rows(ngs_dec_t *d)
{
    const ngs_row_t *r = d->rows;
    size_t n = d->nrows;
    uint32_t *a = d->ia, *b = d->ib;
    for (size_t i = 0; i < n; i++)
        a[i] = (uint32_t)i;
    for (;;) {
        size_t i = 0, runs = 0;
        while (i < n) {
            size_t m = i + 1;
            while (m < n && r[a[m - 1]].ts_ns <= r[a[m]].ts_ns)
                m++;
            size_t j = m;
            if (m < n)
                for (j = m + 1; j < n && r[a[j - 1]].ts_ns <= r[a[j]].ts_ns; j++)
                    ;
            size_t x = i, y = m, o = i;
            while (x < m && y < j)
                b[o++] = r[a[y]].ts_ns < r[a[x]].ts_ns ? a[y++] : a[x++];
            while (x < m)
                b[o++] = a[x++];
            while (y < j)
                b[o++] = a[y++];
            runs++;
            i = j;
        }
        uint32_t *t = a;
        a = b;
        b = t;
        if (runs <= 1)
            return a;
    }
}

/* Emit the collected play: its session, then its frames. */
static int finish_play(ngs_dec_t *d)
{
    if (!d->in_play)
        return 0;
    d->in_play = 0;
    size_t n = d->nrows;
    int rc = emit_session(d);
    if (rc)
        return rc;
    size_t ents = pw_intern_count(d->names->entities) + 1;
    if (ents > d->seen_cap) {
        size_t old = d->seen_cap;
        if (grow((void **)&d->seen, &d->seen_cap, ents, sizeof *d->seen))
            return pw_err_set(d->err, PW_ENOMEM, "%s: out of memory", d->name);
        memset(d->seen + old, 0, (d->seen_cap - old) * sizeof *d->seen);
    }
    const uint32_t *ix = sort_rows(d);
    d->nrows = 0;
    const ngs_row_t *rows = d->rows;
    ing_stats_t *st = d->st;
    for (size_t i = 0, j; i < n; i = j) {
        int64_t ts = rows[ix[i]].ts_ns;
        for (j = i + 1; j < n && rows[ix[j]].ts_ns == ts; j++)
            ;
        size_t want = j - i < UINT16_MAX ? j - i : UINT16_MAX;
        if (grow((void **)&d->objs, &d->objs_cap, want, sizeof *d->objs))
            return pw_err_set(d->err, PW_ENOMEM, "%s: out of memory", d->name);
        if (++d->serial == 0) {
            memset(d->seen, 0, d->seen_cap * sizeof *d->seen);
            d->serial = 1;
        }
        uint32_t labels[PW_FRAME_LABELS] = {PW_LABEL_NONE};
        int nl = 0, dropped = 0;
        uint32_t drop_label = PW_LABEL_NONE, drop_line = 0;
        uint16_t k = 0;
        for (size_t q = i; q < j; q++) {
            const ngs_row_t *w = &rows[ix[q]];
            if (w->label != PW_LABEL_NONE) {
                int dup = 0;
                for (int l = 0; l < nl; l++)
                    dup |= labels[l] == w->label;
                if (!dup && nl < PW_FRAME_LABELS) {
                    labels[nl++] = w->label;
                } else if (!dup && w->label != drop_label) {
                    if (!dropped) {
                        drop_label = w->label;
                        drop_line = w->line;
                    }
                    dropped++;
                }
            }
            if (d->seen[w->entity] == d->serial)
                continue; /* a repeated frame's copy */
            if (k == UINT16_MAX) {
                skip_at(d, w->line, "more than %u objects at one time", UINT16_MAX);
                continue;
            }
            d->seen[w->entity] = d->serial;
            d->objs[k++] = (pw_object_t){
                .entity = w->entity,
                .team = w->team,
                .x = w->x,
                .y = w->y,
                .speed = w->speed,
                .orientation = w->orientation,
                .direction = w->direction,
            };
        }
        if (dropped) {
            d->label_frames++;
            if (!st->first_problem[0]) {
                snprintf(st->first_problem, sizeof st->first_problem,
                         "%s:%" PRIu32 ": a frame carries more than %d events; kept '%s' and "
                         "'%s', dropped '%s'", d->name, drop_line, PW_FRAME_LABELS,
                         pw_intern_name(d->names->labels, labels[0]),
                         pw_intern_name(d->names->labels, labels[PW_FRAME_LABELS - 1]),
                         pw_intern_name(d->names->labels, drop_label));
                d->label_problem = 1;
            }
        }
        if (pw_frames_push(&d->batch, ts, d->session, labels, d->objs, k))
            return pw_err_set(d->err, PW_ENOMEM, "%s: out of memory", d->name);
        st->frames++;
        st->objects += k;
        st->events += (uint64_t)nl;
        if (ts < st->first_ts_ns)
            st->first_ts_ns = ts;
        if (ts > st->last_ts_ns)
            st->last_ts_ns = ts;
        if (d->batch.n >= d->batch_frames && (rc = flush(d)) != 0)
            return rc;
    }
    return flush(d);
}

/* ---------------------------------------------------------------------------
 * Rows.
 */

static inline int field_eq(ngs_field_t a, ngs_field_t b)
{
    return a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

static int intern_fail(ngs_dec_t *d, int rc, const char *what, const char *s, size_t n)
{
    char buf[64];
    return pw_err_set(d->err, rc, "%s:%zu: cannot intern %s '%s': %s", d->name, d->line, what,
                      show(buf, sizeof buf, (ngs_field_t){s, n}), pw_strerror(rc));
}

/*
 * Separators: the tabs and newlines of the input, found 64 bytes at a time
 * as a bit mask (SSE2 where there is SSE2) and handed out in order, so a
 * row is split with one step per column and no branch per byte.
 */
typedef struct ngs_scan {
    const char *data;
    size_t len;
    size_t base;   /* offset of the block mask describes */
    uint64_t mask; /* separators of the block not handed out yet */
} ngs_scan_t;

static inline int ctz64(uint64_t m)
{
#if defined(__GNUC__)
    return __builtin_ctzll(m);
#else
    int n = 0;
    while (!(m & 1)) {
        m >>= 1;
        n++;
    }
    return n;
#endif
}

static inline uint64_t block_mask(const char *p, size_t n)
{
    uint64_t m = 0;
#if defined(__SSE2__)
    if (n >= 64) {
        const __m128i tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n');
        for (int i = 0; i < 4; i++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
            __m128i e = _mm_or_si128(_mm_cmpeq_epi8(x, tab), _mm_cmpeq_epi8(x, nl));
            m |= (uint64_t)(uint32_t)_mm_movemask_epi8(e) << (16 * i);
        }
        return m;
    }
#endif
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++)
        m |= (uint64_t)(p[i] == '\t' || p[i] == '\n') << i;
    return m;
}

static void scan_init(ngs_scan_t *s, const char *data, size_t len, size_t from)
{
    s->data = data;
    s->len = len;
    s->base = from;
    s->mask = from < len ? block_mask(data + from, len - from) : 0;
}

/* The next tab or newline, or the end of the input. */
static inline const char *scan_next(ngs_scan_t *s)
{
    while (!s->mask) {
        if (s->len - s->base <= 64)
            return s->data + s->len;
        s->base += 64;
        s->mask = block_mask(s->data + s->base, s->len - s->base);
    }
    const char *p = s->data + s->base + ctz64(s->mask);
    s->mask &= s->mask - 1;
    return p;
}

/*
 * Split the line at p into the fields the roles want; *next is the start
 * of the next line, *last says the line has no newline. Returns the
 * number of columns, 0 for a blank line.
 */
static size_t split_row(ngs_dec_t *d, ngs_scan_t *sc, const char *p, const char **next,
                        int *last)
{
    const char *end = sc->data + sc->len;
    ngs_field_t *f = d->f;
    size_t col = 0;
    int r = -1;
    const char *q = p, *t;
    for (;;) {
        t = scan_next(sc);
        r = col < d->ncols ? d->role[col] : -1;
        if (r >= 0)
            f[r] = (ngs_field_t){q, (size_t)(t - q)};
        col++;
        if (t == end || *t == '\n')
            break;
        q = t + 1;
    }
    *last = t == end;
    *next = t == end ? end : t + 1;
    if (t > q && t[-1] == '\r') {
        t--;
        if (r >= 0)
            f[r].n--;
    }
    return col == 1 && t == q ? 0 : col;
}

/*
 * Decode the row split_row() found (col columns). Bad rows are skipped
 * and counted; returns 0, or the error or callback code that stops.
 */
static int do_row(ngs_dec_t *d, size_t col, int last)
{
    ngs_field_t *f = d->f;
    if (col != d->ncols) {
        if (last && col < d->ncols)
            return truncated(d, "input ends inside a row (%zu of %zu columns); row dropped",
                             col, d->ncols);
        return skip(d, "%zu columns, the header has %zu", col, d->ncols);
    }

    char sb[64];
    uint64_t game_id = d->game_id, play_id = d->play_id;
    int new_ids = !d->in_play || !field_eq(f[COL_GAMEID], d->game_raw) ||
                  !field_eq(f[COL_PLAYID], d->play_raw);
    if (new_ids) {
        if (parse_uint(f[COL_GAMEID].p, f[COL_GAMEID].n, 15, &game_id, NULL))
            return skip(d, "gameId '%s' is not a number", show(sb, sizeof sb, f[COL_GAMEID]));
        if (parse_uint(f[COL_PLAYID].p, f[COL_PLAYID].n, 15, &play_id, NULL))
            return skip(d, "playId '%s' is not a number", show(sb, sizeof sb, f[COL_PLAYID]));
        if (play_id >= 10000)
            return skip(d, "playId %" PRIu64 " does not fit the session id "
                        "gameId * 10000 + playId", play_id);
        if (game_id > (NGS_SESSION_MAX - play_id) / 10000)
            return skip(d, "gameId %" PRIu64 " makes a session id past 2^53", game_id);
    }
    int64_t ts;
    if (parse_time_cached(d, f[COL_TIME].p, f[COL_TIME].n, &ts))
        return skip(d, "time '%s' is not YYYY-MM-DD HH:MM:SS.fff",
                    show(sb, sizeof sb, f[COL_TIME]));
    static const int fcol[5] = {COL_X, COL_Y, COL_S, COL_O, COL_DIR};
    float v[5];
    for (int i = 0; i < 5; i++)
        if (parse_value(f[fcol[i]].p, f[fcol[i]].n, &v[i]))
            return skip(d, "%s '%s' is not a number", ngs_colname[fcol[i]],
                        show(sb, sizeof sb, f[fcol[i]]));
    ngs_field_t nfl = f[COL_NFLID], flag = f[COL_HOMEFLAG];
    uint8_t team;
    if (nfl.n == 0)
        team = PW_TEAM_BALL;
    else if (flag.n == 0)
        team = PW_TEAM_UNKNOWN;
    else if (flag.p[0] == '1' && (flag.n == 1 || (flag.n == 3 && !memcmp(flag.p, "1.0", 3))))
        team = PW_TEAM_HOME;
    else if (flag.p[0] == '0' && (flag.n == 1 || (flag.n == 3 && !memcmp(flag.p, "0.0", 3))))
        team = PW_TEAM_AWAY;
    else
        return skip(d, "homeTeamFlag '%s' is not 1, 0 or empty", show(sb, sizeof sb, flag));
    uint64_t frame, id;
    size_t iddigits = 0;
    if (parse_uint(f[COL_FRAME].p, f[COL_FRAME].n, 9, &frame, NULL))
        return skip(d, "frame '%s' is not a number", show(sb, sizeof sb, f[COL_FRAME]));
    if (nfl.n && parse_uint(nfl.p, nfl.n, 18, &id, &iddigits))
        return skip(d, "nflId '%s' is not a number", show(sb, sizeof sb, nfl));
    if (!new_ids && d->have_prev && frame < d->prev_frame && field_eq(nfl, d->prev_nfl))
        return skip(d, "frame %" PRIu64 " goes backwards (after %" PRIu64 ") for nflId '%s'",
                    frame, d->prev_frame, show(sb, sizeof sb, nfl));

    /* The row is good: now the side effects. */
    int rc;
    if (new_ids) {
        uint64_t session = game_id * 10000 + play_id;
        if (!d->in_play || session != d->session) {
            if ((rc = finish_play(d)) != 0)
                return rc;
            d->in_play = 1;
            d->game_id = game_id;
            d->play_id = play_id;
            d->session = session;
            memcpy(d->meta, f, sizeof d->meta);
            d->home = d->away = d->poss = (ngs_field_t){NULL, 0};
        }
        d->game_raw = f[COL_GAMEID];
        d->play_raw = f[COL_PLAYID];
        d->have_prev = 0;
    }
    uint32_t entity;
    if (nfl.n == 0) {
        if (!d->ball_entity &&
            (rc = pw_intern_add(d->names->entities, "ball", 4, &d->ball_entity)) != 0)
            return intern_fail(d, rc, "entity", "ball", 4);
        entity = d->ball_entity;
    } else if (field_eq(nfl, d->last_nfl)) {
        entity = d->last_entity;
    } else {
        char name[32];
        memcpy(name, "nfl/", 4);
        memcpy(name + 4, nfl.p, iddigits);
        if ((rc = pw_intern_add(d->names->entities, name, 4 + iddigits, &entity)) != 0)
            return intern_fail(d, rc, "entity", name, 4 + iddigits);
        d->last_nfl = nfl;
        d->last_entity = entity;
    }
    uint32_t label = PW_LABEL_NONE;
    ngs_field_t ev = f[COL_EVENT];
    if (ev.n == 0) {
        label = PW_LABEL_NONE;
    } else if (field_eq(ev, d->last_event)) {
        label = d->last_label;
    } else {
        if ((rc = pw_intern_add(d->names->labels, ev.p, ev.n, &label)) != 0)
            return intern_fail(d, rc, "event", ev.p, ev.n);
        d->last_event = ev;
        d->last_label = label;
    }
    if (nfl.n && d->have[COL_TEAMABBR] >= 0 && !(d->home.p && d->away.p && d->poss.p)) {
        ngs_field_t abbr = f[COL_TEAMABBR];
        if (team == PW_TEAM_HOME && !d->home.p)
            d->home = abbr;
        if (team == PW_TEAM_AWAY && !d->away.p)
            d->away = abbr;
        if (d->have[COL_POSSFLAG] >= 0 && !d->poss.p) {
            ngs_field_t pf = f[COL_POSSFLAG];
            if ((pf.n == 1 || (pf.n == 3 && !memcmp(pf.p + 1, ".0", 2))) && pf.p[0] == '1')
                d->poss = abbr;
        }
    }
    d->prev_nfl = nfl;
    d->prev_frame = frame;
    d->have_prev = 1;

    if (d->nrows == d->rows_cap && (rc = grow_rows(d)) != 0)
        return pw_err_set(d->err, rc, "%s:%zu: %s", d->name, d->line,
                          rc == PW_ENOMEM ? "out of memory" : "more than 2^32 rows in one play");
    d->rows[d->nrows++] = (ngs_row_t){
        .ts_ns = ts,
        .entity = entity,
        .label = label,
        .line = d->line > UINT32_MAX ? UINT32_MAX : (uint32_t)d->line,
        .x = v[0],
        .y = v[1],
        .speed = v[2],
        .orientation = v[3],
        .direction = v[4],
        .team = team,
    };
    return 0;
}

/* Map the header's columns to roles; PW_ECORRUPT when it is not ours. */
static int parse_header(ngs_dec_t *d, const char *p, const char *e)
{
    if (e > p && e[-1] == '\r')
        e--;
    if (e - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3; /* a UTF-8 byte order mark */
    if (!memchr(p, '\t', (size_t)(e - p)))
        return pw_err_set(d->err, PW_ECORRUPT, "%s:1: not an NGS tracking TSV: the first line "
                          "has no tab-separated column names", d->name);
    size_t n = 1;
    for (const char *q = p; (q = memchr(q, '\t', (size_t)(e - q))) != NULL; q++)
        n++;
    d->role = malloc(n * sizeof *d->role);
    if (!d->role)
        return pw_err_set(d->err, PW_ENOMEM, "%s: out of memory", d->name);
    d->ncols = n;
    size_t col = 0;
    for (const char *q = p;; col++) {
        const char *t = memchr(q, '\t', (size_t)(e - q));
        size_t len = (size_t)((t ? t : e) - q);
        d->role[col] = -1;
        for (int r = 0; r < NGS_NCOLS; r++) {
            if (strlen(ngs_colname[r]) != len || memcmp(ngs_colname[r], q, len))
                continue;
            if (d->have[r] >= 0)
                return pw_err_set(d->err, PW_ECORRUPT, "%s:1: column '%s' appears twice "
                                  "(columns %d and %zu)", d->name, ngs_colname[r],
                                  d->have[r] + 1, col + 1);
            d->have[r] = (int)col;
            d->role[col] = (int8_t)r;
        }
        if (!t)
            break;
        q = t + 1;
    }
    char missing[256] = "";
    size_t nmiss = 0, k = 0;
    for (int r = 0; r < NGS_NREQUIRED; r++) {
        if (d->have[r] >= 0)
            continue;
        int w = snprintf(missing + k, sizeof missing - k, "%s'%s'", nmiss ? ", " : "",
                         ngs_colname[r]);
        if (w > 0 && (size_t)w < sizeof missing - k)
            k += (size_t)w;
        nmiss++;
    }
    if (nmiss)
        return pw_err_set(d->err, PW_ECORRUPT, "%s:1: not an NGS tracking TSV: the header "
                          "has no %s column%s", d->name, missing, nmiss > 1 ? "s" : "");
    return 0;
}

int ing_ngs_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                   ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st, pw_err_t *err)
{
    static const ing_emit_t no_emit = {0};
    if (!name || (!data && len) || !names || !names->entities || !names->labels || !st)
        return pw_err_set(err, PW_EARG, "ing_ngs_decode: name, data, the entity and label "
                          "tables and stats must be set");
    ngs_dec_t d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.names = names;
    d.emit = emit ? emit : &no_emit;
    d.st = st;
    d.err = err;
    d.batch_frames = o && o->batch_frames ? o->batch_frames : NGS_BATCH_FRAMES;
    for (int r = 0; r < NGS_NCOLS; r++)
        d.have[r] = -1;
    pw_frames_init(&d.batch);
    st->bytes += len;

    const char *p = (const char *)data, *end = p + len;
    int rc;
    if (len == 0) {
        rc = pw_err_set(err, PW_ECORRUPT, "%s: empty input: no header line naming the NGS "
                        "columns", name);
        goto out;
    }
    const char *nl = memchr(p, '\n', len);
    d.line = 1;
    if ((rc = parse_header(&d, p, nl ? nl : end)) != 0)
        goto out;
    size_t bf = d.batch_frames < 1024 ? d.batch_frames : 1024;
    if (pw_frames_reserve(&d.batch, bf, bf * 23)) {
        rc = pw_err_set(err, PW_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    ngs_scan_t sc;
    p = nl ? nl + 1 : end;
    scan_init(&sc, (const char *)data, len, (size_t)(p - (const char *)data));
    while (p < end) {
        d.line++;
        const char *next;
        int last;
        size_t col = split_row(&d, &sc, p, &next, &last);
        if (col) {
            st->records++;
            if ((rc = do_row(&d, col, last)) != 0)
                goto out;
        }
        p = next;
    }
    rc = finish_play(&d);
    if (rc == 0 && d.label_problem && d.label_frames > 1) {
        size_t k = strlen(st->first_problem);
        snprintf(st->first_problem + k, sizeof st->first_problem - k,
                 " (%" PRIu64 " frames in all)", d.label_frames);
    }
out:
    pw_frames_fini(&d.batch);
    free(d.role);
    free(d.rows);
    free(d.ia);
    free(d.ib);
    free(d.seen);
    free(d.objs);
    free(d.text);
    return rc;
}
