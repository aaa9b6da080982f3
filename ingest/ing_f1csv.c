/*
 * ing_f1csv: the F1 2019 game telemetry CSV (Codemasters UDP feed as
 * exported by Quix's demo: racing/f1-2019-game/f1-2019-demo.csv) as points.
 *
 * Input: a header line, then one row per sample, comma-separated:
 *   Timestamp            required; milliseconds since the Unix epoch
 *   SessionId            optional (SessionID accepted); names the entity
 *   DriverStatus, LapValidity, PitStatus
 *                        text, mapped to the F1 2019 UDP codes (below)
 *   any other column     a number (Speed, EngineRPM, Gear, Brake, ...)
 *
 * Output: one point per selected column per row, ts_ns = Timestamp * 1e6
 * (event time since the Unix epoch), channel = the column's name as
 * written in the header ("Speed", "EngineRPM", "Motion_WorldPositionX"),
 * entity "f1/<SessionId>" ("f1/session_07501"), or "f1/<input stem>"
 * ("f1/f1-2019-demo") when the file has no SessionId column or the cell is
 * empty. Units are the game's: Speed km/h, Brake 0..1, Steer -1..1,
 * distances and positions m, EngineTemp deg C, Gear 0..8 (0 = neutral),
 * Sector 0..2. opts->channels selects columns by those names (the others
 * are not even parsed); a requested channel that is not a column is
 * PW_ENOTFOUND.
 *
 * Text columns become small integer codes, those of the game's UDP spec:
 *   DriverStatus  In_garage 0, Flying_lap 1, In_lap 2, Out_lap 3, On_track 4
 *   PitStatus     empty or None 0, Pitting 1, In_pit_area 2 (the export
 *                 writes the game's "none" as an empty cell)
 *   LapValidity   Invalid 0, Valid 1 (1 = the lap counts)
 * An unknown text is skipped like an empty cell.
 *
 * Session: the session callback runs before the first point of each
 * SessionId (again if the id changes): id = ing_csv_hash53(SessionId)
 * (FNV-1a, 53 bits), name = SessionId; pairs format, source, SessionId,
 * time_base. Points carry no session.
 *
 * Bad input: an empty cell (or "nan", or an unknown text code) skips that
 * point only; a bad number, a bad Timestamp or a wrong field count skips the
 * row. Both count in st->skipped (one per skipped point or row) and the
 * first gives st->first_problem "name:LINE: ...". A last line without a
 * newline that does not decode is truncation (st->truncated), not a skip.
 * No header, no Timestamp column, too many columns: PW_ECORRUPT.
 * stats: records = data rows read, points = points emitted.
 *
 * Memory: one point batch per call (opts->batch_points, at least one row's
 * worth) and the header's columns; rows allocate nothing.
 */
#include "ingest/ing_format.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pw_time.h"
#include "ingest/ing_csv.h"

/* Most columns a header may have. */
#define F1_MAX_COLS 256

/* Longest SessionId kept (the entity name is "f1/" + it). */
#define F1_SESSION_MAX 200

enum f1_kind {
    F1_SKIP = 0,   /* not selected (or an unnamed column) */
    F1_NUM,        /* a number channel */
    F1_TEXT,       /* a text channel with a code table */
    F1_TS,         /* Timestamp */
    F1_SESSION,    /* SessionId */
};

/* A text value and its code. */
typedef struct f1_code {
    const char *text;
    double code;
} f1_code_t;

static const f1_code_t f1_driver_status[] = {
    {"In_garage", 0}, {"Flying_lap", 1}, {"In_lap", 2}, {"Out_lap", 3}, {"On_track", 4},
    {NULL, 0},
};
static const f1_code_t f1_pit_status[] = {
    {"", 0}, {"None", 0}, {"Pitting", 1}, {"In_pit_area", 2}, {NULL, 0},
};
static const f1_code_t f1_lap_validity[] = {
    {"Invalid", 0}, {"Valid", 1}, {NULL, 0},
};

/* Text columns and their tables. */
static const struct {
    const char *column;
    const f1_code_t *codes;
} f1_text_columns[] = {
    {"DriverStatus", f1_driver_status},
    {"PitStatus", f1_pit_status},
    {"LapValidity", f1_lap_validity},
};

typedef struct f1_col {
    enum f1_kind kind;
    uint32_t channel;
    const f1_code_t *codes;
    const char *title; /* header name, borrowed from the input */
    uint32_t title_len;
} f1_col_t;

/* Everything one decode call needs (on the heap, one per call). */
typedef struct f1_dec {
    const char *name;
    ing_names_t *names;
    const ing_emit_t *emit;
    ing_stats_t *st;
    pw_points_t batch;
    size_t batch_cap;
    f1_col_t col[F1_MAX_COLS];
    ing_csv_field_t f[F1_MAX_COLS + 1];
    size_t ncols;
    int ts_col, session_col;
    uint32_t entity;       /* current entity id; 0 before the first row */
    char session[F1_SESSION_MAX + 1];
    size_t session_len;
    char stem[128];        /* input name without directories and extension */
} f1_dec_t;

static void f1_problem(f1_dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keep the first problem's text: "name:LINE: what". */
static void f1_problem(f1_dec_t *d, const char *fmt, ...)
{
    if (d->st->first_problem[0])
        return;
    int n = snprintf(d->st->first_problem, sizeof d->st->first_problem, "%.200s:", d->name);
    if (n < 0 || (size_t)n >= sizeof d->st->first_problem)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->st->first_problem + n, sizeof d->st->first_problem - (size_t)n, fmt, ap);
    va_end(ap);
}

static int f1_flush(f1_dec_t *d)
{
    if (d->batch.n == 0)
        return 0;
    d->st->points += d->batch.n;
    int rc = d->emit->points ? d->emit->points(d->emit->ctx, &d->batch) : 0;
    pw_points_clear(&d->batch);
    return rc;
}

/* The stem of a path: "a/b/f1-2019-demo.csv.gz" -> "f1-2019-demo". */
static void f1_stem(const char *name, char *out, size_t cap)
{
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    size_t n = strlen(b);
    if (n > 3 && !strcmp(b + n - 3, ".gz"))
        n -= 3;
    for (size_t i = n; i > 0; i--)
        if (b[i - 1] == '.') {
            n = i - 1;
            break;
        }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "player");
}

/* A new session (or the first): flush, intern its entity, announce it. */
static int f1_session(f1_dec_t *d, const char *s, size_t len, pw_err_t *err)
{
    int rc = f1_flush(d);
    if (rc)
        return rc;
    memcpy(d->session, s, len);
    d->session[len] = '\0';
    d->session_len = len;
    char ent[F1_SESSION_MAX + 4];
    int n = snprintf(ent, sizeof ent, "f1/%s", d->session);
    rc = pw_intern_add(d->names->entities, ent, (size_t)n, &d->entity);
    if (rc)
        return pw_err_set(err, rc, "%s: cannot intern entity '%s': %s", d->name, ent,
                          pw_strerror(rc));
    if (d->emit->session) {
        static const char *const keys[] = {"format", "source", "SessionId", "time_base"};
        const char *values[] = {"f1csv", d->name, d->session,
                                "Unix epoch (Timestamp, ms)"};
        ing_session_t ss = {
            .id = ing_csv_hash53(d->session, d->session_len),
            .name = d->session,
            .n = 4,
            .keys = keys,
            .values = values,
        };
        rc = d->emit->session(d->emit->ctx, &ss);
    }
    return rc;
}

/* Read the header: column kinds, channel ids, the selection. */
static int f1_header(f1_dec_t *d, ing_csv_t *csv, const ing_opts_t *o, pw_err_t *err)
{
    ing_csv_row_t row;
    int rc = ing_csv_next(csv, d->f, F1_MAX_COLS + 1, &row);
    if (rc == 0)
        return pw_err_set(err, PW_ECORRUPT, "%s: empty input: no header line", d->name);
    if (rc < 0)
        return pw_err_set(err, PW_ECORRUPT, "%s:%llu: malformed header (bad quoting)",
                          d->name, (unsigned long long)row.line);
    if (row.nfields > F1_MAX_COLS)
        return pw_err_set(err, PW_ECORRUPT, "%s:%llu: %zu columns, at most %d supported",
                          d->name, (unsigned long long)row.line, row.nfields, F1_MAX_COLS);
    d->ncols = row.nfields;
    d->ts_col = d->session_col = -1;
    for (size_t i = 0; i < d->ncols; i++) {
        ing_csv_field_t *h = &d->f[i];
        f1_col_t *c = &d->col[i];
        c->kind = F1_NUM;
        c->title = h->p;
        c->title_len = h->len > 100 ? 100 : h->len;
        if (h->len == 0) {
            c->kind = F1_SKIP;
        } else if (ing_csv_eq(h, "Timestamp")) {
            c->kind = d->ts_col < 0 ? F1_TS : F1_SKIP;
            if (d->ts_col < 0)
                d->ts_col = (int)i;
        } else if (ing_csv_eq(h, "SessionId") || ing_csv_eq(h, "SessionID")) {
            c->kind = d->session_col < 0 ? F1_SESSION : F1_SKIP;
            if (d->session_col < 0)
                d->session_col = (int)i;
        } else {
            for (size_t t = 0; t < sizeof f1_text_columns / sizeof f1_text_columns[0]; t++)
                if (ing_csv_eq(h, f1_text_columns[t].column)) {
                    c->kind = F1_TEXT;
                    c->codes = f1_text_columns[t].codes;
                }
        }
    }
    if (d->ts_col < 0)
        return pw_err_set(err, PW_ECORRUPT, "%s:%llu: missing required column 'Timestamp'",
                          d->name, (unsigned long long)row.line);
    /* The selection: every name asked for must be a channel column. */
    if (o && o->channels) {
        for (size_t k = 0; k < o->nchannels; k++) {
            const char *want = o->channels[k];
            int found = 0;
            for (size_t i = 0; want && i < d->ncols; i++)
                if ((d->col[i].kind == F1_NUM || d->col[i].kind == F1_TEXT) &&
                    ing_csv_eq(&d->f[i], want))
                    found = 1;
            if (!found)
                return pw_err_set(err, PW_ENOTFOUND, "%s: channel '%s' is not a column of "
                                  "the input", d->name, want ? want : "(null)");
        }
        for (size_t i = 0; i < d->ncols; i++) {
            if (d->col[i].kind != F1_NUM && d->col[i].kind != F1_TEXT)
                continue;
            int keep = 0;
            for (size_t k = 0; k < o->nchannels && !keep; k++)
                keep = ing_csv_eq(&d->f[i], o->channels[k]);
            if (!keep)
                d->col[i].kind = F1_SKIP;
        }
    }
    for (size_t i = 0; i < d->ncols; i++) {
        if (d->col[i].kind != F1_NUM && d->col[i].kind != F1_TEXT)
            continue;
        rc = pw_intern_add(d->names->channels, d->f[i].p, d->f[i].len, &d->col[i].channel);
        if (rc)
            return pw_err_set(err, rc, "%s: cannot intern channel '%.*s': %s", d->name,
                              (int)(d->f[i].len > 100 ? 100 : d->f[i].len), d->f[i].p,
                              pw_strerror(rc));
    }
    return 0;
}

/* Look a text up in a code table: 0 and *code, or -1. */
static int f1_code(const f1_code_t *codes, const ing_csv_field_t *f, double *code)
{
    for (; codes->text; codes++)
        if (ing_csv_eq(f, codes->text)) {
            *code = codes->code;
            return 0;
        }
    return -1;
}

int ing_f1csv_decode(const char *name, const uint8_t *data, size_t len, const ing_opts_t *o,
                     ing_names_t *names, const ing_emit_t *emit, ing_stats_t *st,
                     pw_err_t *err)
{
    if (!name || (!data && len) || !names || !names->channels || !names->entities ||
        !names->labels || !emit || !st)
        return pw_err_set(err, PW_EARG, "f1csv: missing argument");
    f1_dec_t *d = calloc(1, sizeof *d);
    if (!d)
        return pw_err_set(err, PW_ENOMEM, "%s: out of memory", name);
    d->name = name;
    d->names = names;
    d->emit = emit;
    d->st = st;
    pw_points_init(&d->batch);
    f1_stem(name, d->stem, sizeof d->stem);
    st->bytes += len;

    ing_csv_t csv;
    ing_csv_init(&csv, data, len, ',');
    int rc = f1_header(d, &csv, o, err);
    if (rc)
        goto out;
    size_t nsel = 0;
    for (size_t i = 0; i < d->ncols; i++)
        nsel += d->col[i].kind == F1_NUM || d->col[i].kind == F1_TEXT;
    d->batch_cap = o && o->batch_points ? o->batch_points : 4096;
    if (d->batch_cap < nsel)
        d->batch_cap = nsel; /* a row never straddles two batches */
    if (pw_points_reserve(&d->batch, d->batch_cap)) {
        rc = pw_err_set(err, PW_ENOMEM, "%s: out of memory", name);
        goto out;
    }

    ing_csv_row_t row;
    for (;;) {
        int r = ing_csv_next(&csv, d->f, d->ncols + 1, &row);
        if (r == 0)
            break;
        st->records++;
        unsigned long long line = (unsigned long long)row.line;
        if (r == PW_ETRUNC) {
            st->truncated = 1;
            f1_problem(d, "%llu: input ends inside a quoted field", line);
            break;
        }
        if (r < 0) {
            st->skipped++;
            f1_problem(d, "%llu: bad quoting: row skipped", line);
            continue;
        }
        if (row.nfields != d->ncols) {
            if (row.unterminated) {
                st->truncated = 1;
                f1_problem(d, "%llu: last line cut short: %zu of %zu fields", line,
                           row.nfields, d->ncols);
                break;
            }
            st->skipped++;
            f1_problem(d, "%llu: %zu fields, expected %zu: row skipped", line, row.nfields,
                       d->ncols);
            continue;
        }
        /* Time first: a row without one is skipped whole. */
        const ing_csv_field_t *tf = &d->f[d->ts_col];
        int64_t ms, ts = 0;
        double msd;
        int bad_ts = 0;
        if (ing_csv_parse_i64(tf->p, tf->len, &ms) == 0) {
            if (ms > INT64_MAX / PW_NS_PER_MS || ms < INT64_MIN / PW_NS_PER_MS)
                bad_ts = 1;
            else
                ts = ms * PW_NS_PER_MS;
        } else if (ing_csv_parse_double(tf->p, tf->len, &msd) == 0 && msd > -9.2e12 &&
                   msd < 9.2e12) { /* "1687180408469.5": keep the fraction */
            ts = (int64_t)llround(msd * (double)PW_NS_PER_MS);
        } else {
            bad_ts = 1;
        }
        if (bad_ts) {
            if (row.unterminated) {
                st->truncated = 1;
                f1_problem(d, "%llu: last line cut short: bad Timestamp '%.*s'", line,
                           (int)(tf->len > 40 ? 40 : tf->len), tf->p);
                break;
            }
            st->skipped++;
            f1_problem(d, "%llu: bad Timestamp '%.*s' (byte %zu): row skipped", line,
                       (int)(tf->len > 40 ? 40 : tf->len), tf->p,
                       (size_t)(tf->p - (const char *)data));
            continue;
        }
        /* The entity: a new SessionId starts a session. */
        const char *sid = d->stem;
        size_t sidlen = strlen(d->stem);
        if (d->session_col >= 0 && d->f[d->session_col].len) {
            sid = d->f[d->session_col].p;
            sidlen = d->f[d->session_col].len;
        }
        if (sidlen > F1_SESSION_MAX) {
            st->skipped++;
            f1_problem(d, "%llu: SessionId longer than %d bytes: row skipped", line,
                       F1_SESSION_MAX);
            continue;
        }
        if (d->entity == 0 || sidlen != d->session_len || memcmp(sid, d->session, sidlen)) {
            rc = f1_session(d, sid, sidlen, err);
            if (rc)
                goto out;
        }
        if (d->batch.n + nsel > d->batch_cap) {
            rc = f1_flush(d);
            if (rc)
                goto out;
        }
        size_t start = d->batch.n, k = start, missing = 0;
        int bad = -1, first_missing = -1;
        for (size_t i = 0; i < d->ncols; i++) {
            const f1_col_t *c = &d->col[i];
            const ing_csv_field_t *f = &d->f[i];
            double v;
            if (c->kind == F1_NUM) {
                if (f->len == 0 || ing_csv_parse_double(f->p, f->len, &v) != 0) {
                    if (f->len) {
                        bad = (int)i;
                        break;
                    }
                    v = NAN;
                }
            } else if (c->kind == F1_TEXT) {
                if (f1_code(c->codes, f, &v) != 0)
                    v = NAN;
            } else {
                continue;
            }
            if (isnan(v)) { /* empty, "nan" or an unknown text: no point */
                if (!missing++)
                    first_missing = (int)i;
                continue;
            }
            d->batch.ts_ns[k] = ts;
            d->batch.entity[k] = d->entity;
            d->batch.channel[k] = c->channel;
            d->batch.value[k] = v;
            k++;
        }
        if (bad >= 0) {
            const ing_csv_field_t *f = &d->f[bad];
            if (row.unterminated) {
                st->truncated = 1;
                f1_problem(d, "%llu: last line cut short: bad number '%.*s'", line,
                           (int)(f->len > 40 ? 40 : f->len), f->p);
                break;
            }
            st->skipped++;
            f1_problem(d, "%llu: bad number '%.*s' for %.*s (byte %zu): row skipped", line,
                       (int)(f->len > 40 ? 40 : f->len), f->p, (int)d->col[bad].title_len,
                       d->col[bad].title, (size_t)(f->p - (const char *)data));
            continue; /* nothing of the row is kept: batch.n stays at start */
        }
        if (missing) {
            const ing_csv_field_t *f = &d->f[first_missing];
            const f1_col_t *c = &d->col[first_missing];
            if (f->len == 0)
                f1_problem(d, "%llu: empty %.*s: point skipped", line, (int)c->title_len,
                           c->title);
            else
                f1_problem(d, "%llu: %.*s '%.*s' (byte %zu) is not a value: point skipped",
                           line, (int)c->title_len, c->title, (int)(f->len > 40 ? 40 : f->len),
                           f->p, (size_t)(f->p - (const char *)data));
        }
        st->skipped += missing;
        d->batch.n = k;
        if (k > start) {
            if (ts < st->first_ts_ns)
                st->first_ts_ns = ts;
            if (ts > st->last_ts_ns)
                st->last_ts_ns = ts;
        }
    }
    rc = f1_flush(d);
out:
    pw_points_fini(&d->batch);
    free(d);
    return rc;
}
