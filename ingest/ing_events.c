/*
 * ing_events: Metrica event CSV, NBA play-by-play CSV and DEBS 2013 referee
 * events as labelled event frames. The contract (what each row becomes,
 * the time bases, the session ids) is in ingest/ing_events.h.
 *
 * One pass over the input with a small CSV splitter of our own (quoted
 * fields, CRLF, a byte-order mark), fields kept as (pointer, length) into
 * the caller's buffer; only the fields an event needs are parsed, with
 * integer arithmetic rather than strtod. The NBA feed gets a short
 * pre-scan first, for the game id and the teams the session callback
 * reports before any frame.
 */
#include "ingest/ing_csv.h"
#include "ingest/ing_events.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/pw_time.h"

/* Fields of a record kept; more are counted but not stored. */
#define EV_MAX_FIELDS 64

/* Longest label or entity name built, bytes (after Latin-1 -> UTF-8). */
#define EV_NAME_MAX 256

/* Session metadata: pairs and the longest value kept. */
#define EV_META_PAIRS 16
#define EV_META_MAX 96

/* Room for a "why" message about one row. */
#define EV_WHY_MAX 256

/* Default frames per emitted batch (ing_opts_t). */
#define EV_BATCH_DEFAULT 64

/* Highest NBA period accepted (4 quarters and up to 16 overtimes). */
#define EV_NBA_MAX_PERIOD 20

typedef struct ev_str {
    const char *p;
    size_t n;
} ev_str_t;

/* One CSV record: fields borrowed from the input. */
typedef struct ev_rec {
    ev_str_t f[EV_MAX_FIELDS];
    size_t nf;      /* fields in the record (may exceed EV_MAX_FIELDS) */
    size_t line;    /* line the record starts on, 1-based */
    int eol;        /* ended with a newline (else with the input) */
    int open_quote; /* the input ended inside a quoted field */
} ev_rec_t;

/* A cursor over the input. */
typedef struct ev_csv {
    const char *d;
    size_t len;
    size_t pos;
    size_t line; /* line of pos, 1-based */
    char sep;
} ev_csv_t;

enum ev_kind { EV_METRICA, EV_NBA, EV_DEBS, EV_NKINDS };

/* Columns of each feed; the first nreq are required. */
enum { M_TEAM, M_TYPE, M_SUBTYPE, M_FRAME, M_FROM, M_X, M_Y, M_NCOL };
static const char *const metrica_cols[M_NCOL] = {
    "Team", "Type", "Subtype", "Start Frame", "From", "Start X", "Start Y"};

enum {
    N_GAME, N_TYPE, N_PERIOD, N_CLOCK, N_HDESC, N_VDESC, N_P1TYPE, N_P1ID, N_NREQ,
    N_TEAM_ID = N_NREQ, N_CITY, N_NICK, N_ABBR, N_NCOL
};
static const char *const nba_cols[N_NCOL] = {
    "GAME_ID", "EVENTMSGTYPE", "PERIOD", "PCTIMESTRING", "HOMEDESCRIPTION",
    "VISITORDESCRIPTION", "PERSON1TYPE", "PLAYER1_ID", "PLAYER1_TEAM_ID",
    "PLAYER1_TEAM_CITY", "PLAYER1_TEAM_NICKNAME", "PLAYER1_TEAM_ABBREVIATION"};

enum { D_ID, D_NAME, D_TIME, D_COUNTER, D_NCOL };
static const char *const debs_cols[D_NCOL] = {
    "event_id", "event_name", "event_time_real", "event_counter"};

typedef struct ev_feed {
    const char *what;   /* for messages */
    const char *source; /* session metadata "source" */
    char sep;
    const char *const *cols;
    int ncols, nreq;
    int key1, key2; /* columns whose presence identifies the feed */
} ev_feed_t;

static const ev_feed_t ev_feeds[EV_NKINDS] = {
    [EV_METRICA] = {"Metrica event CSV", "metrica", ',', metrica_cols, M_NCOL, M_NCOL,
                    M_TYPE, M_FRAME},
    [EV_NBA] = {"NBA play-by-play CSV", "nba-stats-pbp", ',', nba_cols, N_NCOL, N_NREQ,
                N_GAME, N_TYPE},
    [EV_DEBS] = {"DEBS 2013 referee events", "debs2013-referee", ';', debs_cols, D_NCOL,
                 D_NCOL, D_NAME, D_TIME},
};

/* NBA EVENTMSGTYPE codes 1..18 to labels (NULL: no name). */
static const char *const nba_types[19] = {
    [1] = "FIELD_GOAL",    [2] = "FIELD_GOAL",     [3] = "FREE_THROW",
    [4] = "REBOUND",       [5] = "TURNOVER",       [6] = "FOUL",
    [7] = "VIOLATION",     [8] = "SUBSTITUTION",   [9] = "TIMEOUT",
    [10] = "JUMP_BALL",    [11] = "EJECTION",      [12] = "PERIOD_BEGIN",
    [13] = "PERIOD_END",   [18] = "INSTANT_REPLAY",
};

/* DEBS 2013 players by team, as metadata.txt lists them (Team A first)
 * and as the referee files spell them (UTF-8 here). */
static const struct {
    const char *name;
    uint8_t team;
} debs_roster[] = {
    {"Nick Gertje", PW_TEAM_HOME},      {"Dennis Dotterweich", PW_TEAM_HOME},
    {"Niklas Welzlein", PW_TEAM_HOME},  {"Niklas Waelzlein", PW_TEAM_HOME},
    {"Willi Sommer", PW_TEAM_HOME},     {"Wili Sommer", PW_TEAM_HOME},
    {"Philipp Harlass", PW_TEAM_HOME},  {"Roman Hartleb", PW_TEAM_HOME},
    {"Erik Engelhardt", PW_TEAM_HOME},  {"Sandro Schneider", PW_TEAM_HOME},
    {"Leon Krapf", PW_TEAM_AWAY},       {"Kevin Baer", PW_TEAM_AWAY},
    {"Luca Ziegler", PW_TEAM_AWAY},     {"Ben M\xc3\xbcller", PW_TEAM_AWAY},
    {"Ben Mueller", PW_TEAM_AWAY},      {"Vale Reitstetter", PW_TEAM_AWAY},
    {"Christopher Lee", PW_TEAM_AWAY},  {"Leon Heinze", PW_TEAM_AWAY},
    {"Leo Langhans", PW_TEAM_AWAY},
};

/* One decoded event, names built in place (UTF-8). */
typedef struct ev_event {
    int64_t ts_ns;
    char l0[EV_NAME_MAX], l1[EV_NAME_MAX], ent[EV_NAME_MAX];
    size_t l0n, l1n, entn; /* 0: none */
    uint8_t team;
    float x, y;
} ev_event_t;

/* Session metadata as text pairs with their own storage. */
typedef struct ev_meta {
    size_t n;
    const char *k[EV_META_PAIRS];
    const char *v[EV_META_PAIRS];
    char buf[EV_META_PAIRS][EV_META_MAX];
} ev_meta_t;

/* State of one decode call. */
typedef struct ev_ctx {
    const char *name;
    enum ev_kind kind;
    int col[N_NCOL]; /* column index per feed column; -1 when absent */
    size_t hdr_nf;   /* fields of the header */
    ing_names_t *names;
    const ing_emit_t *emit;
    ing_stats_t *st;
    pw_err_t *err;
    size_t batch;
    pw_frames_t b;
    uint64_t session;
    int64_t half_ns;     /* DEBS: kick-off of the input's half */
    char game[24];       /* NBA: GAME_ID of the file */
    size_t gamen;
    ev_event_t ev;       /* the row being decoded */
    char why[EV_WHY_MAX];
} ev_ctx_t;

/* ---- text helpers ------------------------------------------------------ */

static int ev_eq(ev_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.p, lit, n);
}

static int ev_ieq(ev_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !strncasecmp(s.p, lit, n);
}

/* Does s end with lit? Then shorten *head to what is before it. */
static int ev_strip_suffix(ev_str_t s, const char *lit, ev_str_t *head)
{
    size_t n = strlen(lit);
    if (s.n <= n || memcmp(s.p + s.n - n, lit, n))
        return 0;
    head->p = s.p;
    head->n = s.n - n;
    return 1;
}

/* Show untrusted bytes in a message: printable ASCII as is, other bytes as
 * \xNN, at most 40 input bytes then "...". out holds at least 176 bytes. */
static const char *ev_show(char *out, size_t cap, ev_str_t s)
{
    size_t o = 0;
    for (size_t i = 0; i < s.n && i < 40 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (s.n > 40 && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
    return out;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t ev_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f) || (c == 0xed && s[1] > 0x9f))
        return 0; /* overlong, beyond U+10FFFF or a surrogate */
    return len;
}

/*
 * Set dst to prefix + s as UTF-8: s is copied when it is valid UTF-8, else
 * read as Latin-1 (the DEBS files are). Returns the length, or 0 when the
 * result would not fit in EV_NAME_MAX bytes.
 */
static size_t ev_name_set(char *dst, const char *prefix, ev_str_t s)
{
    size_t n = strlen(prefix), i = 0;
    const unsigned char *u = (const unsigned char *)s.p;
    int utf8 = 1;
    while (i < s.n) {
        size_t k = ev_utf8_seq(u + i, s.n - i);
        if (k == 0) {
            utf8 = 0;
            break;
        }
        i += k;
    }
    size_t need = n + (utf8 ? s.n : 2 * s.n);
    if (need >= EV_NAME_MAX) {
        if (utf8)
            return 0;
        need = n; /* count exactly: ASCII bytes take one byte */
        for (i = 0; i < s.n; i++)
            need += u[i] < 0x80 ? 1 : 2;
        if (need >= EV_NAME_MAX)
            return 0;
    }
    memcpy(dst, prefix, n);
    if (utf8) {
        memcpy(dst + n, s.p, s.n);
        n += s.n;
    } else {
        for (i = 0; i < s.n; i++) {
            if (u[i] < 0x80) {
                dst[n++] = (char)u[i];
            } else {
                dst[n++] = (char)(0xc0 | (u[i] >> 6));
                dst[n++] = (char)(0x80 | (u[i] & 0x3f));
            }
        }
    }
    dst[n] = '\0';
    return n;
}

/* ---- numbers ----------------------------------------------------------- */

/* A whole number of 1..18 digits; with dot0, a ".0..." tail is allowed
 * (stats.nba writes PERSON1TYPE as 4.0). */
static int ev_uint(ev_str_t s, int dot0, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
        if (i == 18)
            return -1;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < s.n) {
        if (!dot0 || s.p[i] != '.')
            return -1;
        for (i++; i < s.n; i++)
            if (s.p[i] != '0')
                return -1;
    }
    *out = v;
    return 0;
}

/* A decimal number ("0.45", "-1", "1e-3"), "NaN" or empty (NaN). The
 * first 19 significant digits count; no strtod, no locale. */
static int ev_real(ev_str_t s, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (s.n == 0 || ev_ieq(s, "nan")) {
        *out = NAN;
        return 0;
    }
    size_t i = 0;
    int neg = 0, digits = 0, sig = 0, exp10 = 0;
    uint64_t m = 0;
    if (s.p[0] == '-' || s.p[0] == '+')
        neg = s.p[i++] == '-';
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, digits++) {
        if (sig < 19) {
            m = m * 10 + (uint64_t)(s.p[i] - '0');
            sig += m != 0;
        } else {
            exp10++;
        }
    }
    if (i < s.n && s.p[i] == '.') {
        for (i++; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, digits++) {
            if (sig < 19) {
                m = m * 10 + (uint64_t)(s.p[i] - '0');
                sig += m != 0;
                exp10--;
            }
        }
    }
    if (digits == 0)
        return -1;
    if (i < s.n && (s.p[i] == 'e' || s.p[i] == 'E')) {
        int eneg = 0, e = 0, ed = 0;
        i++;
        if (i < s.n && (s.p[i] == '-' || s.p[i] == '+'))
            eneg = s.p[i++] == '-';
        for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, ed++)
            if (e < 100000)
                e = e * 10 + (s.p[i] - '0');
        if (ed == 0)
            return -1;
        exp10 += eneg ? -e : e;
    }
    if (i != s.n)
        return -1;
    double v = (double)m;
    for (; exp10 > 22 && v != 0 && !isinf(v); exp10 -= 22)
        v *= 1e22;
    for (; exp10 < -22 && v != 0; exp10 += 22)
        v /= 1e22;
    if (exp10 > 22)
        exp10 = 22; /* v is 0 or inf by now */
    if (exp10 < -22)
        exp10 = -22;
    v = exp10 >= 0 ? v * p10[exp10] : v / p10[-exp10];
    *out = neg ? -v : v;
    return 0;
}

/* A clock "[[h:]m:]s[.fraction]" ("00:03:12.025", "11:45", "0") in ns;
 * minutes and seconds after the first part below 60. */
static int ev_clock(ev_str_t s, int64_t *ns)
{
    int64_t parts[3] = {0, 0, 0}, frac_ns = 0;
    int np = 0;
    size_t i = 0;
    for (;;) {
        int64_t v = 0;
        size_t d = 0;
        for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, d++) {
            if (d == 7)
                return -1;
            v = v * 10 + (s.p[i] - '0');
        }
        if (d == 0 || np == 3)
            return -1;
        if (np > 0 && v >= 60)
            return -1;
        parts[np++] = v;
        if (i < s.n && s.p[i] == ':') {
            i++;
            continue;
        }
        break;
    }
    if (i < s.n && s.p[i] == '.') {
        int64_t scale = 100000000;
        size_t d = 0;
        for (i++; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, d++) {
            frac_ns += (s.p[i] - '0') * scale;
            scale /= 10;
        }
        if (d == 0)
            return -1;
    }
    if (i != s.n)
        return -1;
    int64_t sec = 0;
    for (int k = 0; k < np; k++)
        sec = sec * 60 + parts[k];
    *ns = sec * PW_NS_PER_S + frac_ns;
    return 0;
}

/* ---- CSV --------------------------------------------------------------- */

static void ev_trim(ev_str_t *s)
{
    while (s->n && (s->p[0] == ' ' || s->p[0] == '\t')) {
        s->p++;
        s->n--;
    }
    while (s->n && (s->p[s->n - 1] == ' ' || s->p[s->n - 1] == '\t' ||
                    s->p[s->n - 1] == '\r'))
        s->n--;
}

/*
 * Read the record at c->pos into r: fields split on c->sep, a field that
 * starts with '"' runs to the closing quote (newlines and separators
 * inside it included, "" kept as two quotes), spaces and a trailing CR
 * trimmed. Returns 1 with a record, 0 at the end of the input.
 */
static int ev_csv_next(ev_csv_t *c, ev_rec_t *r)
{
    const char *d = c->d;
    size_t i = c->pos, len = c->len;
    if (i >= len)
        return 0;
    r->nf = 0;
    r->line = c->line;
    r->eol = 0;
    r->open_quote = 0;
    for (;;) {
        ev_str_t v;
        size_t s = i;
        while (s < len && (d[s] == ' ' || d[s] == '\t'))
            s++;
        if (s < len && d[s] == '"') {
            size_t q = ++s;
            for (;;) {
                if (q >= len) {
                    r->open_quote = 1;
                    break;
                }
                if (d[q] == '"') {
                    if (q + 1 < len && d[q + 1] == '"') {
                        q += 2;
                        continue;
                    }
                    break;
                }
                if (d[q] == '\n')
                    c->line++;
                q++;
            }
            v.p = d + s;
            v.n = q - s;
            i = q < len ? q + 1 : len;
            while (i < len && d[i] != c->sep && d[i] != '\n')
                i++; /* bytes after the closing quote are dropped */
        } else {
            while (i < len && d[i] != c->sep && d[i] != '\n')
                i++;
            v.p = d + s;
            v.n = i - s;
            ev_trim(&v);
        }
        if (r->nf < EV_MAX_FIELDS)
            r->f[r->nf] = v;
        r->nf++;
        if (i >= len)
            break;
        if (d[i] == '\n') {
            r->eol = 1;
            c->line++;
            i++;
            break;
        }
        i++; /* the separator */
    }
    c->pos = i;
    return 1;
}

/* A record of empty fields only (a blank line, ";;;;"). */
static int ev_blank(const ev_rec_t *r)
{
    for (size_t k = 0; k < r->nf && k < EV_MAX_FIELDS; k++)
        if (r->f[k].n)
            return 0;
    return 1;
}

/* ---- problems and output ----------------------------------------------- */

static int ev_why(ev_ctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ev_why(ev_ctx_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* A row that did not decode: a skip, or truncation if it is the last line
 * and has no newline. */
static void ev_bad_row(ev_ctx_t *x, const ev_rec_t *r, int at_end)
{
    ing_stats_t *st = x->st;
    int trunc = at_end && (!r->eol || r->open_quote);
    if (trunc)
        st->truncated = 1;
    else
        st->skipped++;
    if (st->first_problem[0] == '\0')
        snprintf(st->first_problem, sizeof st->first_problem, "%.100s:%zu: %s%.300s",
                 x->name, r->line, trunc ? "truncated last line (no newline): " : "",
                 x->why);
}

static int ev_flush(ev_ctx_t *x)
{
    pw_frames_t *b = &x->b;
    if (b->n == 0)
        return 0;
    ing_stats_t *st = x->st;
    st->frames += b->n;
    st->events += b->n;
    st->objects += b->nobj_total;
    for (size_t i = 0; i < b->n; i++) {
        if (b->ts_ns[i] < st->first_ts_ns)
            st->first_ts_ns = b->ts_ns[i];
        if (b->ts_ns[i] > st->last_ts_ns)
            st->last_ts_ns = b->ts_ns[i];
    }
    int rc = 0;
    if (x->emit && x->emit->frames)
        rc = x->emit->frames(x->emit->ctx, b);
    pw_frames_clear(b);
    return rc;
}

static int ev_intern(ev_ctx_t *x, pw_intern_t *t, const char *s, size_t n, size_t line,
                     uint32_t *id)
{
    int rc = pw_intern_add(t, s, n, id);
    if (rc)
        return pw_err_set(x->err, rc, "%.100s:%zu: cannot intern '%.*s': %s", x->name, line,
                          (int)(n > 100 ? 100 : n), s, pw_strerror(rc));
    return 0;
}

/* Append x->ev to the batch; emit the batch when full. */
static int ev_push(ev_ctx_t *x, size_t line)
{
    const ev_event_t *e = &x->ev;
    uint32_t lab[PW_FRAME_LABELS] = {PW_LABEL_NONE, PW_LABEL_NONE};
    pw_object_t obj;
    uint16_t nobj = 0;
    int rc = ev_intern(x, x->names->labels, e->l0, e->l0n, line, &lab[0]);
    if (rc == 0 && e->l1n)
        rc = ev_intern(x, x->names->labels, e->l1, e->l1n, line, &lab[1]);
    if (rc == 0 && e->entn) {
        rc = ev_intern(x, x->names->entities, e->ent, e->entn, line, &obj.entity);
        obj.team = e->team;
        obj.x = e->x;
        obj.y = e->y;
        obj.speed = obj.orientation = obj.direction = NAN;
        nobj = 1;
    }
    if (rc)
        return rc;
    rc = pw_frames_push(&x->b, e->ts_ns, x->session, lab, &obj, nobj);
    if (rc)
        return pw_err_set(x->err, rc, "%.100s:%zu: out of memory for a frame batch", x->name,
                          line);
    return x->b.n >= x->batch ? ev_flush(x) : 0;
}

/* Label l0 (and l1 if any) from constants. */
static void ev_labels(ev_event_t *e, const char *l0, const char *l1)
{
    e->l0n = strlen(l0);
    memcpy(e->l0, l0, e->l0n + 1);
    e->l1n = l1 ? strlen(l1) : 0;
    if (l1)
        memcpy(e->l1, l1, e->l1n + 1);
}

/* ---- Metrica ----------------------------------------------------------- */

static int ev_metrica_row(ev_ctx_t *x, const ev_rec_t *r)
{
    ev_event_t *e = &x->ev;
    const int *col = x->col;
    char show[176];
    uint64_t frame;
    double sx, sy;
    if (r->nf != x->hdr_nf)
        return ev_why(x, "expected %zu fields, found %zu", x->hdr_nf, r->nf);
    ev_str_t type = r->f[col[M_TYPE]], sub = r->f[col[M_SUBTYPE]];
    ev_str_t from = r->f[col[M_FROM]], team = r->f[col[M_TEAM]];
    if (type.n == 0)
        return ev_why(x, "empty Type");
    if (ev_uint(r->f[col[M_FRAME]], 0, &frame) || frame > INT64_MAX / ING_EVENTS_METRICA_FRAME_NS)
        return ev_why(x, "Start Frame '%s' is not a frame number",
                      ev_show(show, sizeof show, r->f[col[M_FRAME]]));
    if (ev_real(r->f[col[M_X]], &sx))
        return ev_why(x, "Start X '%s' is not a number",
                      ev_show(show, sizeof show, r->f[col[M_X]]));
    if (ev_real(r->f[col[M_Y]], &sy))
        return ev_why(x, "Start Y '%s' is not a number",
                      ev_show(show, sizeof show, r->f[col[M_Y]]));
    if (!(e->l0n = ev_name_set(e->l0, "", type)) ||
        (sub.n && !(e->l1n = ev_name_set(e->l1, "", sub))))
        return ev_why(x, "Type or Subtype longer than %d bytes", EV_NAME_MAX - 1);
    if (!sub.n)
        e->l1n = 0;
    e->entn = 0;
    if (from.n && !(e->entn = ev_name_set(e->ent, "metrica/", from)))
        return ev_why(x, "From longer than %d bytes", EV_NAME_MAX - 10);
    e->ts_ns = (int64_t)frame * ING_EVENTS_METRICA_FRAME_NS;
    e->team = ev_ieq(team, "Home") ? PW_TEAM_HOME
            : ev_ieq(team, "Away") ? PW_TEAM_AWAY : PW_TEAM_UNKNOWN;
    e->x = (float)(sx * ING_EVENTS_METRICA_LENGTH_M);
    e->y = (float)(sy * ING_EVENTS_METRICA_WIDTH_M);
    return 0;
}

/* ---- NBA --------------------------------------------------------------- */

static int ev_has(ev_str_t s, const char *lit)
{
    return s.n && memmem(s.p, s.n, lit, strlen(lit)) != NULL;
}

static int ev_nba_row(ev_ctx_t *x, const ev_rec_t *r)
{
    ev_event_t *e = &x->ev;
    const int *col = x->col;
    char show[176];
    uint64_t type, period, p1type = 0, p1id = 0;
    int64_t clock_ns;
    if (r->nf != x->hdr_nf)
        return ev_why(x, "expected %zu fields, found %zu", x->hdr_nf, r->nf);
    ev_str_t game = r->f[col[N_GAME]], p1 = r->f[col[N_P1ID]];
    if (game.n != x->gamen || memcmp(game.p, x->game, game.n))
        return ev_why(x, "GAME_ID '%s' in a file of game %s", ev_show(show, sizeof show, game),
                      x->gamen ? x->game : "(none)");
    if (ev_uint(r->f[col[N_TYPE]], 1, &type) || type > 999)
        return ev_why(x, "EVENTMSGTYPE '%s' is not an event code",
                      ev_show(show, sizeof show, r->f[col[N_TYPE]]));
    if (ev_uint(r->f[col[N_PERIOD]], 1, &period) || period < 1 || period > EV_NBA_MAX_PERIOD)
        return ev_why(x, "PERIOD '%s' is not 1..%d", ev_show(show, sizeof show,
                      r->f[col[N_PERIOD]]), EV_NBA_MAX_PERIOD);
    int64_t len_ns = (period <= 4 ? 12 : 5) * 60 * PW_NS_PER_S;
    int64_t start_ns = period <= 4 ? (int64_t)(period - 1) * 12 * 60 * PW_NS_PER_S
                                   : (48 + (int64_t)(period - 5) * 5) * 60 * PW_NS_PER_S;
    if (ev_clock(r->f[col[N_CLOCK]], &clock_ns) || clock_ns > len_ns)
        return ev_why(x, "PCTIMESTRING '%s' is not a clock within the period (m:ss)",
                      ev_show(show, sizeof show, r->f[col[N_CLOCK]]));
    if (r->f[col[N_P1TYPE]].n && ev_uint(r->f[col[N_P1TYPE]], 1, &p1type))
        return ev_why(x, "PERSON1TYPE '%s' is not a number",
                      ev_show(show, sizeof show, r->f[col[N_P1TYPE]]));
    if (p1.n && ev_uint(p1, 1, &p1id))
        return ev_why(x, "PLAYER1_ID '%s' is not a number", ev_show(show, sizeof show, p1));

    const char *made = NULL;
    if (type == 1)
        made = "MADE";
    else if (type == 2)
        made = "MISSED";
    else if (type == 3)
        made = ev_has(r->f[col[N_HDESC]], "MISS ") || ev_has(r->f[col[N_VDESC]], "MISS ")
                   ? "MISSED" : "MADE";
    if (type < sizeof nba_types / sizeof nba_types[0] && nba_types[type]) {
        ev_labels(e, nba_types[type], made);
    } else {
        e->l0n = (size_t)snprintf(e->l0, sizeof e->l0, "EVENTMSGTYPE_%u", (unsigned)type);
        e->l1n = 0;
    }
    e->entn = 0;
    if (p1id)
        e->entn = (size_t)snprintf(e->ent, sizeof e->ent, "nba/%llu", (unsigned long long)p1id);
    e->team = p1type == 2 || p1type == 4 || p1type == 6   ? PW_TEAM_HOME
            : p1type == 3 || p1type == 5 || p1type == 7 ? PW_TEAM_AWAY : PW_TEAM_UNKNOWN;
    e->x = e->y = NAN;
    e->ts_ns = start_ns + len_ns - clock_ns;
    return 0;
}

/* ---- DEBS -------------------------------------------------------------- */

static int ev_debs_row(ev_ctx_t *x, const ev_rec_t *r)
{
    ev_event_t *e = &x->ev;
    const int *col = x->col;
    char show[176];
    uint64_t id;
    int64_t t_ns;
    size_t need = 0;
    for (int k = 0; k < D_NCOL; k++)
        if ((size_t)col[k] + 1 > need)
            need = (size_t)col[k] + 1;
    if (r->nf < need)
        return ev_why(x, "expected %zu fields, found %zu", need, r->nf);
    ev_str_t name = r->f[col[D_NAME]], who;
    if (ev_uint(r->f[col[D_ID]], 0, &id))
        return ev_why(x, "event_id '%s' is not a number",
                      ev_show(show, sizeof show, r->f[col[D_ID]]));
    if (name.n == 0)
        return ev_why(x, "empty event_name");
    if (ev_clock(r->f[col[D_TIME]], &t_ns))
        return ev_why(x, "event_time_real '%s' is not a time (hh:mm:ss.fff)",
                      ev_show(show, sizeof show, r->f[col[D_TIME]]));
    const char *sub = NULL;
    if (ev_strip_suffix(name, " Begin", &who))
        sub = "BEGIN";
    else if (ev_strip_suffix(name, " End", &who))
        sub = "END";
    else
        who = name;
    e->entn = 0;
    e->team = PW_TEAM_UNKNOWN;
    if (sub && ev_ieq(who, "Game Interruption")) {
        ev_labels(e, "GAME INTERRUPTION", sub);
    } else {
        ev_labels(e, sub ? "BALL POSSESSION" : "SHOT ON GOAL", sub);
        if (!(e->entn = ev_name_set(e->ent, "debs/", who)))
            return ev_why(x, "event_name longer than %d bytes", EV_NAME_MAX - 6);
        for (size_t k = 0; k < sizeof debs_roster / sizeof debs_roster[0]; k++)
            if (!strcmp(e->ent + 5, debs_roster[k].name))
                e->team = debs_roster[k].team;
    }
    e->x = e->y = NAN;
    e->ts_ns = x->half_ns + t_ns;
    return 0;
}

/* ---- header, session --------------------------------------------------- */

/* Map the header's columns for feed k; 1 when its key columns are there. */
static int ev_map(ev_ctx_t *x, enum ev_kind k, const ev_rec_t *h)
{
    const ev_feed_t *f = &ev_feeds[k];
    for (int c = 0; c < f->ncols; c++) {
        x->col[c] = -1;
        for (size_t i = 0; i < h->nf && i < EV_MAX_FIELDS; i++)
            if (ev_ieq(h->f[i], f->cols[c])) {
                x->col[c] = (int)i;
                break;
            }
    }
    return x->col[f->key1] >= 0 && x->col[f->key2] >= 0;
}

static void ev_meta_add(ev_meta_t *m, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ev_meta_add(ev_meta_t *m, const char *k, const char *fmt, ...)
{
    if (m->n == EV_META_PAIRS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->buf[m->n], EV_META_MAX, fmt, ap);
    va_end(ap);
    m->k[m->n] = k;
    m->v[m->n] = m->buf[m->n];
    m->n++;
}

/* A metadata value from the input: printable ASCII only, others as '?'. */
static void ev_meta_str(ev_meta_t *m, const char *k, ev_str_t s)
{
    char v[EV_META_MAX];
    size_t n = 0;
    for (size_t i = 0; i < s.n && n + 1 < sizeof v; i++) {
        unsigned char c = (unsigned char)s.p[i];
        v[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    v[n] = '\0';
    ev_meta_add(m, k, "%s", v);
}

/* The input's base name without .gz and .csv (for session names). */
static ev_str_t ev_stem(const char *name)
{
    const char *slash = strrchr(name, '/');
    ev_str_t s = {slash ? slash + 1 : name, 0}, t;
    s.n = strlen(s.p);
    if (ev_strip_suffix(s, ".gz", &t))
        s = t;
    if (ev_strip_suffix(s, ".csv", &t) || ev_strip_suffix(s, ".CSV", &t))
        s = t;
    return s;
}

/* Session id from a name: the same 53-bit FNV-1a as the CSV decoders, so
 * ids survive JSON and int64 consumers. */
static uint64_t ev_fnv1a(ev_str_t s)
{
    return ing_csv_hash53(s.p, s.n);
}

/* NBA: find the game id and the teams (first home and away player rows). */
static void ev_nba_scan(ev_ctx_t *x, ev_csv_t c, ev_meta_t *m)
{
    ev_rec_t r;
    int have[2] = {0, 0};
    const int *col = x->col;
    while ((x->gamen == 0 || !have[0] || !have[1]) && ev_csv_next(&c, &r)) {
        if (r.nf != x->hdr_nf)
            continue;
        ev_str_t g = r.f[col[N_GAME]];
        uint64_t id, p1type;
        if (x->gamen == 0 && g.n < sizeof x->game && ev_uint(g, 0, &id) == 0) {
            memcpy(x->game, g.p, g.n);
            x->game[g.n] = '\0';
            x->gamen = g.n;
            x->session = id;
        }
        if (col[N_ABBR] < 0 || ev_uint(r.f[col[N_P1TYPE]], 1, &p1type) ||
            (p1type != 4 && p1type != 5) || r.f[col[N_ABBR]].n == 0 ||
            !ev_eq(g, x->game))
            continue;
        int away = p1type == 5;
        if (have[away])
            continue;
        have[away] = 1;
        ev_meta_str(m, away ? "away_team" : "home_team", r.f[col[N_ABBR]]);
        if (col[N_TEAM_ID] >= 0) {
            uint64_t tid;
            if (ev_uint(r.f[col[N_TEAM_ID]], 1, &tid) == 0)
                ev_meta_add(m, away ? "away_team_id" : "home_team_id", "%llu",
                            (unsigned long long)tid);
        }
        if (col[N_CITY] >= 0 && col[N_NICK] >= 0) {
            char city[EV_META_MAX / 2], nick[EV_META_MAX / 2];
            ev_str_t cs = r.f[col[N_CITY]], ns = r.f[col[N_NICK]];
            snprintf(city, sizeof city, "%.*s", (int)(cs.n < sizeof city ? cs.n : sizeof city),
                     cs.p);
            snprintf(nick, sizeof nick, "%.*s", (int)(ns.n < sizeof nick ? ns.n : sizeof nick),
                     ns.p);
            char both[EV_META_MAX];
            snprintf(both, sizeof both, "%s %s", city, nick);
            ev_str_t bs = {both, strlen(both)};
            ev_meta_str(m, away ? "away_team_name" : "home_team_name", bs);
        }
    }
}

/* Fill session id, name and metadata; the pre-scan runs from c. */
static void ev_session(ev_ctx_t *x, ev_csv_t c, ing_session_t *s, ev_meta_t *m,
                      char *sname, size_t sname_cap)
{
    const ev_feed_t *f = &ev_feeds[x->kind];
    ev_meta_add(m, "source", "%s", f->source);
    ev_meta_add(m, "format", "%s", f->what);
    ev_str_t stem = ev_stem(x->name), game;
    switch (x->kind) {
    case EV_METRICA: {
        if (!ev_strip_suffix(stem, "_RawEventsData", &game))
            game = stem;
        size_t end = game.n;
        while (end && !(game.p[end - 1] >= '0' && game.p[end - 1] <= '9'))
            end--;
        size_t beg = end;
        while (beg && game.p[beg - 1] >= '0' && game.p[beg - 1] <= '9' && end - beg < 18)
            beg--;
        ev_str_t num = {game.p + beg, end - beg};
        uint64_t id;
        x->session = num.n && ev_uint(num, 0, &id) == 0 ? id : ev_fnv1a(game);
        ev_meta_str(m, "game", game);
        snprintf(sname, sname_cap, "metrica/%s", m->buf[m->n - 1]);
        ev_meta_add(m, "time_base", "tracking frame x 40 ms (25 fps) since the tracking start; "
                    "no date");
        ev_meta_add(m, "field_m", "105x68");
        ev_meta_add(m, "home_team", "Home");
        ev_meta_add(m, "away_team", "Away");
        break;
    }
    case EV_NBA:
        ev_nba_scan(x, c, m);
        ev_meta_add(m, "game", "%s", x->gamen ? x->game : "");
        snprintf(sname, sname_cap, "nba/%s", x->gamen ? x->game : "unknown");
        ev_meta_add(m, "time_base", "game clock elapsed since the tip-off (12 min periods, "
                    "5 min overtimes); no date");
        break;
    case EV_DEBS:
    default: {
        const char *half = strstr(x->name, "1st Half") ? "1st Half"
                         : strstr(x->name, "2nd Half") ? "2nd Half" : NULL;
        x->session = ING_EVENTS_DEBS_SESSION;
        x->half_ns = !half ? 0 : half[0] == '1' ? ING_EVENTS_DEBS_HALF1_NS
                                                : ING_EVENTS_DEBS_HALF2_NS;
        ev_meta_add(m, "game", "debs2013");
        ev_meta_add(m, "half", "%s", half ? half : "unknown");
        ev_meta_add(m, "time_base", half ? "DEBS 2013 sensor clock (ps / 1000)"
                    : "since the half's start (no half in the input's name)");
        snprintf(sname, sname_cap, "debs2013");
        break;
    }
    }
    s->id = x->session;
    s->name = sname;
    s->n = m->n;
    s->keys = m->k;
    s->values = m->v;
}

/* ---- the decoder ------------------------------------------------------- */

static int ev_detect(ev_ctx_t *x, const char *d, size_t len, size_t pos, ev_csv_t *c)
{
    ev_rec_t h;
    for (int k = 0; k < EV_NKINDS; k++) {
        ev_csv_t t = {d, len, pos, 1, ev_feeds[k].sep};
        ev_csv_next(&t, &h);
        if (!ev_map(x, (enum ev_kind)k, &h))
            continue;
        const ev_feed_t *f = &ev_feeds[k];
        for (int col = 0; col < f->nreq; col++)
            if (x->col[col] < 0)
                return pw_err_set(x->err, PW_ECORRUPT, "%.100s:1: %s header lacks column '%s'",
                                  x->name, f->what, f->cols[col]);
        x->kind = (enum ev_kind)k;
        x->hdr_nf = h.nf;
        *c = t;
        return 0;
    }
    size_t e = pos;
    while (e < len && d[e] != '\n' && d[e] != '\r')
        e++;
    char show[176];
    ev_str_t line = {d + pos, e - pos};
    return pw_err_set(x->err, PW_ECORRUPT,
                      "%.100s:1: unknown header '%s': expected a Metrica event CSV "
                      "(Team,Type,Subtype,...,Start Frame,...), an NBA play-by-play CSV "
                      "(GAME_ID,EVENTNUM,EVENTMSGTYPE,...) or DEBS 2013 referee events "
                      "(event_id;event_name;event_time_real;...)",
                      x->name, ev_show(show, sizeof show, line));
}

int ing_events_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                      ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                      pw_err_t *err)
{
    if (name == NULL)
        name = "(input)";
    if ((data == NULL && len) || names == NULL || names->labels == NULL ||
        names->entities == NULL || names->channels == NULL || st == NULL)
        return pw_err_set(err, PW_EARG, "%.100s: events decoder needs data, the three name "
                          "tables and stats", name);
    const char *d = (const char *)data;
    st->bytes += len;

    size_t pos = 0;
    if (len >= 3 && !memcmp(d, "\xef\xbb\xbf", 3))
        pos = 3;
    else if (len >= 2 && (!memcmp(d, "\xff\xfe", 2) || !memcmp(d, "\xfe\xff", 2)))
        return pw_err_set(err, PW_ECORRUPT, "%.100s: UTF-16 text; the events decoder reads "
                          "UTF-8, Latin-1 or ASCII", name);
    size_t i = pos;
    while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    if (i == len)
        return pw_err_set(err, PW_ECORRUPT, "%.100s: empty input: expected a header line",
                          name);

    ev_ctx_t x;
    memset(&x, 0, sizeof x);
    x.name = name;
    x.names = names;
    x.emit = emit;
    x.st = st;
    x.err = err;
    x.batch = o && o->batch_frames ? o->batch_frames : EV_BATCH_DEFAULT;
    pw_frames_init(&x.b);

    ev_csv_t c;
    int rc = ev_detect(&x, d, len, pos, &c);
    if (rc)
        return rc;

    size_t reserve = x.batch < ING_EVENTS_RESERVE_FRAMES ? x.batch : ING_EVENTS_RESERVE_FRAMES;
    if (pw_frames_reserve(&x.b, reserve, reserve))
        return pw_err_set(err, -ENOMEM, "%.100s: out of memory for a batch of %zu frames",
                          name, reserve);

    ing_session_t s;
    ev_meta_t meta;
    char sname[EV_META_MAX + 16];
    meta.n = 0;
    ev_session(&x, c, &s, &meta, sname, sizeof sname);
    if (emit && emit->session && (rc = emit->session(emit->ctx, &s)) != 0)
        goto done;

    ev_rec_t r;
    while (ev_csv_next(&c, &r)) {
        if (ev_blank(&r))
            continue;
        if (x.kind == EV_DEBS && r.f[0].n >= 10 && !memcmp(r.f[0].p, "Statistic:", 10))
            break; /* the summary block at the end */
        st->records++;
        int bad = x.kind == EV_METRICA ? ev_metrica_row(&x, &r)
                : x.kind == EV_NBA     ? ev_nba_row(&x, &r)
                                       : ev_debs_row(&x, &r);
        if (bad == 0 && r.open_quote)
            bad = ev_why(&x, "quoted field not closed");
        if (bad) {
            ev_bad_row(&x, &r, c.pos >= c.len);
            continue;
        }
        if ((rc = ev_push(&x, r.line)) != 0)
            goto done;
    }
    rc = ev_flush(&x);
done:
    pw_frames_fini(&x.b);
    return rc;
}
