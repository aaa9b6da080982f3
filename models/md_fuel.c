/*
 * md_fuel: features, fit, model file, tracker, train and eval of the fuel
 * burn model. See md_fuel.h and docs/models-fuel.md.
 */
#include "models/md_fuel.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_vector.h>
#include <jansson.h>

#include "core/pw_intern.h"
#include "core/pw_time.h"
#include "ingest/ing_format.h"

#define NONE INT64_MIN

/* The model file's format number. */
#define FILE_FORMAT 1

/* Series shorter than this, or with fewer usable samples, are skipped. */
#define MIN_SPAN_NS (10 * PW_NS_PER_S)
#define MIN_SAMPLES 100

/* A level drop smaller than this (litres) gives no burn error. */
#define MIN_DROP_L 0.05

/* Plausible inputs. */
#define THROTTLE_MIN -0.05
#define THROTTLE_MAX 1.05
#define RPM_MAX 30000.0
#define SPEED_MAX_MPS 150.0
#define ACCEL_MAX_MPS2 150.0 /* ~15 g: beyond it a speed change is a glitch */

/* A level rise beyond this (litres) is a refuel. */
#define REFUEL_L 0.5

/* Calibration scales outside this range are refused as implausible. */
#define SCALE_MIN 0.25
#define SCALE_MAX 4.0

static const char *const feat_names[MD_FUEL_F_COUNT] = {
    "1", "throttle*rpm", "rpm", "throttle", "speed", "throttle*speed",
};

/* The feature set train fits. */
static const int default_feat[] = {MD_FUEL_F_ONE, MD_FUEL_F_THROTTLE_RPM, MD_FUEL_F_RPM,
                                   MD_FUEL_F_THROTTLE};
#define NDEFAULT ((int)(sizeof default_feat / sizeof default_feat[0]))

const char *md_fuel_feat_name(int f)
{
    return f >= 0 && f < MD_FUEL_F_COUNT ? feat_names[f] : "?";
}

static double feat_value(int f, double throttle, double rpm, double speed)
{
    switch (f) {
    case MD_FUEL_F_ONE: return 1.0;
    case MD_FUEL_F_THROTTLE_RPM: return throttle * rpm;
    case MD_FUEL_F_RPM: return rpm;
    case MD_FUEL_F_THROTTLE: return throttle;
    case MD_FUEL_F_SPEED: return speed;
    case MD_FUEL_F_THROTTLE_SPEED: return throttle * speed;
    default: return NAN;
    }
}

double md_fuel_flow_lps(const md_fuel_coef_t *c, double throttle, double rpm, double speed)
{
    double y = 0.0;
    for (int k = 0; k < c->nfeat; k++)
        y += c->beta[k] * feat_value(c->feat[k], throttle, rpm, speed);
    if (isnan(y))
        return NAN;
    return y > 0.0 ? y : 0.0;
}

/* "fuel-" and FNV-1a of the features and coefficients' bytes. */
void md_fuel_coef_stamp(md_fuel_coef_t *c)
{
    uint32_t h = 2166136261u;
    for (int k = 0; k < c->nfeat; k++) {
        uint8_t b[12];
        int32_t f = c->feat[k];
        memcpy(b, &f, 4);
        memcpy(b + 4, &c->beta[k], 8);
        for (int i = 0; i < 12; i++) {
            h ^= b[i];
            h *= 16777619u;
        }
    }
    snprintf(c->version, sizeof c->version, "fuel-%08x", h);
}

/* ---- model file --------------------------------------------------------- */

void md_fuel_coef_free(void *coef)
{
    free(coef);
}

void *md_fuel_coef_load(const char *path, pw_err_t *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        pw_err_set(err, PW_ECORRUPT, "%s:%d: %s", path, je.line, je.text);
        return NULL;
    }
    md_fuel_coef_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        pw_err_set(err, -ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    json_t *feats = json_object_get(root, "features");
    json_t *coefs = json_object_get(root, "coefficients");
    const char *version = json_string_value(json_object_get(root, "version"));
    json_t *fmt = json_object_get(root, "format");
    if (model == NULL || strcmp(model, "fuel")) {
        pw_err_set(err, PW_ECORRUPT, "%s: not a fuel model (\"model\" is not \"fuel\")", path);
        goto fail;
    }
    if (!json_is_integer(fmt) || json_integer_value(fmt) != FILE_FORMAT) {
        pw_err_set(err, PW_EVERSION, "%s: format %lld, this build reads %d", path,
                   json_is_integer(fmt) ? (long long)json_integer_value(fmt) : -1LL,
                   FILE_FORMAT);
        goto fail;
    }
    if (!json_is_array(feats) || !json_is_array(coefs) || json_array_size(feats) == 0 ||
        json_array_size(feats) != json_array_size(coefs) ||
        json_array_size(feats) > MD_FUEL_MAX_FEAT) {
        pw_err_set(err, PW_ECORRUPT, "%s: \"features\" and \"coefficients\" must be arrays "
                   "of the same length, 1..%d", path, MD_FUEL_MAX_FEAT);
        goto fail;
    }
    c->nfeat = (int)json_array_size(feats);
    for (int k = 0; k < c->nfeat; k++) {
        const char *name = json_string_value(json_object_get(json_array_get(feats, (size_t)k),
                                                             "name"));
        int f = 0;
        while (name && f < MD_FUEL_F_COUNT && strcmp(name, feat_names[f]))
            f++;
        if (name == NULL || f == MD_FUEL_F_COUNT) {
            pw_err_set(err, PW_ECORRUPT, "%s: feature %d '%.64s' is unknown to this build",
                       path, k, name ? name : "(no name)");
            goto fail;
        }
        json_t *v = json_array_get(coefs, (size_t)k);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            pw_err_set(err, PW_ECORRUPT, "%s: coefficient %d is not a finite number", path, k);
            goto fail;
        }
        c->feat[k] = f;
        c->beta[k] = json_number_value(v);
    }
    md_fuel_coef_stamp(c);
    if (version == NULL || strcmp(version, c->version)) {
        pw_err_set(err, PW_ECORRUPT, "%s: version '%.40s' does not match its coefficients "
                   "(%s): edited by hand?", path, version ? version : "", c->version);
        goto fail;
    }
    json_decref(root);
    return c;
fail:
    free(c);
    json_decref(root);
    return NULL;
}

#define DUMP_FLAGS (JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17))

/* The parts of a model file every writer puts: model, format, version, features. */
static json_t *coef_json(const md_fuel_coef_t *c)
{
    json_t *feats = json_array(), *coefs = json_array();
    for (int k = 0; feats && coefs && k < c->nfeat; k++) {
        json_array_append_new(feats, json_pack("{s:s}", "name", feat_names[c->feat[k]]));
        json_array_append_new(coefs, json_real(c->beta[k]));
    }
    return json_pack("{s:s,s:i,s:s,s:s,s:o,s:o,s:{s:s,s:s,s:s,s:s}}", "model", "fuel",
                     "format", FILE_FORMAT, "version", c->version, "unit", "l/s", "features",
                     feats, "coefficients", coefs, "inputs", "throttle", "0..1", "rpm",
                     "rev/min", "speed", "m/s", "flow", "max(0, sum of coefficient x feature)");
}

int md_fuel_coef_write(const char *path, const md_fuel_coef_t *c, pw_err_t *err)
{
    json_t *root = coef_json(c);
    if (root == NULL)
        return pw_err_set(err, -ENOMEM, "%s: out of memory", path);
    int rc = json_dump_file(root, path, DUMP_FLAGS) ? pw_err_set(err, -EIO, "%s: cannot write "
                                                                 "the model file", path) : 0;
    json_decref(root);
    return rc;
}

/* ---- reading telemetry files -------------------------------------------- */

enum { S_THROTTLE, S_RPM, S_SPEED, S_LAP, S_LAPPCT, S_FUEL, S_FUPH, S_FLOW, S_COUNT };

/* Channel names per slot: iRacing's, then the simulator's. */
static const char *const slot_names[S_COUNT][2] = {
    {"Throttle", "throttle"}, {"RPM", "rpm"},       {"Speed", "speed_mps"},
    {"Lap", "lap"},           {"LapDistPct", "lap_dist_pct"},
    {"FuelLevel", "fuel_level_l"}, {"FuelUsePerHour", NULL}, {"fuel_flow_lps", NULL},
};

#define MAX_SERIES 256
#define MAX_CHANNELS 16384

typedef struct reader {
    const char *base;
    ing_names_t names;
    int8_t slot[MAX_CHANNELS];   /* by channel id: slot, -1 none, -2 not looked up */
    uint32_t ent[MAX_SERIES];
    md_fuel_series_t *series;
    size_t n;
    int has[MAX_SERIES][S_COUNT];
    double kg_per_l;
    int rc;
} reader_t;

static int slot_of(reader_t *r, uint32_t ch)
{
    if (ch >= MAX_CHANNELS)
        return -1;
    if (r->slot[ch] != -2)
        return r->slot[ch];
    const char *name = pw_intern_name(r->names.channels, ch);
    int found = -1;
    for (int s = 0; name && s < S_COUNT && found < 0; s++)
        for (int a = 0; a < 2; a++)
            if (slot_names[s][a] && !strcmp(name, slot_names[s][a]))
                found = s;
    r->slot[ch] = (int8_t)found;
    return found;
}

static md_fuel_sample_t empty_sample(int64_t ts)
{
    return (md_fuel_sample_t){ts, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
}

static int on_points(void *ctx, const pw_points_t *b)
{
    reader_t *r = ctx;
    for (size_t i = 0; i < b->n; i++) {
        int sl = slot_of(r, b->channel[i]);
        if (sl < 0)
            continue;
        size_t k = 0;
        while (k < r->n && r->ent[k] != b->entity[i])
            k++;
        if (k == r->n) {
            if (r->n == MAX_SERIES)
                continue;
            md_fuel_series_t *ns = realloc(r->series, (r->n + 1) * sizeof *ns);
            if (ns == NULL)
                return -ENOMEM;
            r->series = ns;
            memset(&ns[k], 0, sizeof ns[k]);
            const char *en = pw_intern_name(r->names.entities, b->entity[i]);
            snprintf(ns[k].name, sizeof ns[k].name, "%.40s %.20s", r->base, en ? en : "?");
            r->ent[k] = b->entity[i];
            r->n++;
        }
        md_fuel_series_t *s = &r->series[k];
        if (s->n == 0 || s->s[s->n - 1].ts_ns != b->ts_ns[i]) {
            if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 4096;
                md_fuel_sample_t *g = realloc(s->s, cap * sizeof *g);
                if (g == NULL)
                    return -ENOMEM;
                s->s = g;
                s->cap = cap;
            }
            s->s[s->n++] = empty_sample(b->ts_ns[i]);
        }
        md_fuel_sample_t *p = &s->s[s->n - 1];
        double v = b->value[i];
        r->has[k][sl] = 1;
        switch (sl) {
        case S_THROTTLE: p->throttle = v; break;
        case S_RPM: p->rpm = v; break;
        case S_SPEED: p->speed = v; break;
        case S_LAP: p->lap = v; break;
        case S_LAPPCT: p->lap_pct = v; break;
        case S_FUEL: p->fuel_l = v; break;
        default: p->truth_lps = v; break; /* converted at the end */
        }
    }
    return 0;
}

static int on_session(void *ctx, const ing_session_t *ss)
{
    reader_t *r = ctx;
    for (size_t i = 0; i < ss->n; i++)
        if (!strcmp(ss->keys[i], "DriverCarFuelKgPerLtr")) {
            double v = strtod(ss->values[i], NULL);
            if (v > 0.3 && v < 1.5)
                r->kg_per_l = v;
        }
    return 0;
}

void md_fuel_series_free(md_fuel_series_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i].s);
    free(s);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

void md_fuel_truth_from_level(md_fuel_sample_t *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        double t = NAN;
        if (k > 0) {
            double dt = (double)(s[k].ts_ns - s[k - 1].ts_ns) / PW_NS_PER_S;
            double drop = s[k - 1].fuel_l - s[k].fuel_l;
            if (dt > 0 && dt <= 1.0 && drop > 0 && s[k].fuel_l > 0)
                t = drop / dt;
        }
        s[k].truth_lps = t;
    }
}

int md_fuel_series_read(const char *path, md_fuel_series_t **out, size_t *nout, pw_err_t *err)
{
    ing_decode_fn dec = NULL;
    if (ends_with(path, ".ibt") || ends_with(path, ".ibt.gz"))
        dec = ing_ibt_decode;
    else if (ends_with(path, ".jsonl") || ends_with(path, ".jsonl.gz"))
        dec = ing_jsonl_decode;
    else
        return pw_err_set(err, PW_EUNSUPPORTED, "%s: not a telemetry file (.ibt, .jsonl)",
                          path);
    reader_t *r = calloc(1, sizeof *r);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;
    if (r == NULL)
        return pw_err_set(err, -ENOMEM, "%s: out of memory", path);
    const char *slash = strrchr(path, '/');
    r->base = slash ? slash + 1 : path;
    r->kg_per_l = 0.75; /* iRacing's petrol when the session does not say */
    memset(r->slot, -2, sizeof r->slot);
    if ((rc = pw_intern_create(MAX_CHANNELS, &r->names.channels)) != 0 ||
        (rc = pw_intern_create(4096, &r->names.entities)) != 0 ||
        (rc = pw_intern_create(1024, &r->names.labels)) != 0) {
        pw_err_set(err, rc, "%s: name tables: %s", path, pw_strerror(rc));
        goto done;
    }
    if ((rc = ing_file_load(path, (size_t)1 << 31, &data, &len, err)) != 0)
        goto done;
    ing_emit_t emit = {on_points, NULL, on_session, r};
    ing_stats_t st;
    ing_stats_init(&st);
    rc = dec(path, data, len, NULL, &r->names, &emit, &st, err);
    if (rc == -ENOMEM)
        pw_err_set(err, rc, "%s: out of memory", path);
    if (rc)
        goto done;
    /* Keep the cars that have throttle and rpm; fill in the true flow. */
    size_t kept = 0;
    for (size_t k = 0; k < r->n; k++) {
        md_fuel_series_t *s = &r->series[k];
        if (!r->has[k][S_THROTTLE] || !r->has[k][S_RPM] || s->n == 0) {
            free(s->s);
            continue;
        }
        if (r->has[k][S_FUPH]) {
            snprintf(s->truth, sizeof s->truth, "FuelUsePerHour");
            for (size_t i = 0; i < s->n; i++)
                s->s[i].truth_lps = s->s[i].truth_lps / r->kg_per_l / 3600.0;
        } else if (r->has[k][S_FLOW]) {
            snprintf(s->truth, sizeof s->truth, "fuel_flow_lps");
        } else if (r->has[k][S_FUEL]) {
            snprintf(s->truth, sizeof s->truth, "fuel level drop");
            md_fuel_truth_from_level(s->s, s->n);
        } else {
            snprintf(s->truth, sizeof s->truth, "none");
        }
        r->series[kept++] = *s;
    }
    *out = r->series;
    *nout = kept;
    r->series = NULL;
    r->n = 0;
done:
    md_fuel_series_free(r->series, r->n);
    free(data);
    pw_intern_destroy(r->names.channels);
    pw_intern_destroy(r->names.entities);
    pw_intern_destroy(r->names.labels);
    free(r);
    return rc;
}

/* ---- fit ---------------------------------------------------------------- */

static int usable(const md_fuel_sample_t *s)
{
    return isfinite(s->throttle) && isfinite(s->rpm) && isfinite(s->truth_lps) &&
           (isfinite(s->speed) || 1);
}

int md_fuel_fit(const md_fuel_sample_t *s, size_t n, const int *feat, int nfeat,
                md_fuel_coef_t *out, md_fuel_fit_stats_t *st, pw_err_t *err)
{
    if (nfeat < 1 || nfeat > MD_FUEL_MAX_FEAT)
        return pw_err_set(err, PW_EARG, "fuel fit: %d features, expected 1..%d", nfeat,
                          MD_FUEL_MAX_FEAT);
    int uses_speed = 0;
    for (int k = 0; k < nfeat; k++) {
        if (feat[k] < 0 || feat[k] >= MD_FUEL_F_COUNT)
            return pw_err_set(err, PW_EARG, "fuel fit: unknown feature %d", feat[k]);
        uses_speed |= feat[k] == MD_FUEL_F_SPEED || feat[k] == MD_FUEL_F_THROTTLE_SPEED;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += usable(&s[i]) && (!uses_speed || isfinite(s[i].speed));
    if (m < (size_t)(4 * nfeat) || m < 8)
        return pw_err_set(err, PW_EARG, "fuel fit: %zu usable samples, need at least %d", m,
                          4 * nfeat > 8 ? 4 * nfeat : 8);
    gsl_matrix *X = gsl_matrix_alloc(m, (size_t)nfeat);
    gsl_vector *y = gsl_vector_alloc(m);
    gsl_vector *c = gsl_vector_alloc((size_t)nfeat);
    gsl_matrix *cov = gsl_matrix_alloc((size_t)nfeat, (size_t)nfeat);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc(m, (size_t)nfeat);
    int rc = 0;
    if (!X || !y || !c || !cov || !w) {
        rc = pw_err_set(err, -ENOMEM, "fuel fit: out of memory for %zu samples", m);
        goto done;
    }
    /* Columns scaled to a largest magnitude of 1, so rpm and 1 fit alike. */
    double colmax[MD_FUEL_MAX_FEAT] = {0};
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&s[i]) || (uses_speed && !isfinite(s[i].speed)))
            continue;
        for (int k = 0; k < nfeat; k++) {
            double v = feat_value(feat[k], s[i].throttle, s[i].rpm, s[i].speed);
            gsl_matrix_set(X, r, (size_t)k, v);
            if (fabs(v) > colmax[k])
                colmax[k] = fabs(v);
        }
        gsl_vector_set(y, r, s[i].truth_lps);
        r++;
    }
    for (int k = 0; k < nfeat; k++) {
        if (colmax[k] == 0) {
            rc = pw_err_set(err, PW_EARG, "fuel fit: feature '%s' is 0 on every sample",
                            feat_names[feat[k]]);
            goto done;
        }
        for (size_t i = 0; i < m; i++)
            gsl_matrix_set(X, i, (size_t)k, gsl_matrix_get(X, i, (size_t)k) / colmax[k]);
    }
    double chisq = 0;
    int g = gsl_multifit_linear(X, y, c, cov, &chisq, w);
    if (g != GSL_SUCCESS) {
        rc = pw_err_set(err, PW_ECORRUPT, "fuel fit: gsl_multifit_linear: %s", gsl_strerror(g));
        goto done;
    }
    md_fuel_coef_t co = {.nfeat = nfeat};
    for (int k = 0; k < nfeat; k++) {
        co.feat[k] = feat[k];
        co.beta[k] = gsl_vector_get(c, (size_t)k) / colmax[k];
        if (!isfinite(co.beta[k])) {
            rc = pw_err_set(err, PW_ECORRUPT, "fuel fit: coefficient of '%s' is not finite",
                            feat_names[feat[k]]);
            goto done;
        }
    }
    md_fuel_coef_stamp(&co);
    md_fuel_fit_stats_t fs = {.n = m, .chisq = chisq};
    double mean = 0, ssr = 0, sst = 0;
    for (size_t i = 0; i < n; i++)
        if (usable(&s[i]) && (!uses_speed || isfinite(s[i].speed)))
            mean += s[i].truth_lps;
    mean /= (double)m;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&s[i]) || (uses_speed && !isfinite(s[i].speed)))
            continue;
        double p = md_fuel_flow_lps(&co, s[i].throttle, s[i].rpm, s[i].speed);
        ssr += (s[i].truth_lps - p) * (s[i].truth_lps - p);
        sst += (s[i].truth_lps - mean) * (s[i].truth_lps - mean);
    }
    fs.r2 = sst > 0 ? 1.0 - ssr / sst : NAN;
    fs.rmse_lps = sqrt(ssr / (double)m);
    for (int k = 0; k < nfeat; k++)
        fs.se[k] = sqrt(gsl_matrix_get(cov, (size_t)k, (size_t)k)) / colmax[k]; /* cov is s^2 (X'X)^-1 */
    *out = co;
    if (st)
        *st = fs;
done:
    gsl_multifit_linear_free(w);
    gsl_matrix_free(cov);
    gsl_vector_free(c);
    gsl_vector_free(y);
    gsl_matrix_free(X);
    return rc;
}

/* ---- tracker ------------------------------------------------------------ */

static const char *const degraded_text[MD_FUEL_DEGRADED_COUNT] = {
    "", "throttle missing", "rpm missing", "throttle out of range", "rpm out of range",
    "implausible speed", "time went back",
};

const char *md_fuel_degraded_text(int reason)
{
    return reason >= 0 && reason < MD_FUEL_DEGRADED_COUNT ? degraded_text[reason] : "?";
}

md_fuel_car_opts_t md_fuel_car_opts_default(void)
{
    return (md_fuel_car_opts_t){.calib_ns = 20 * PW_NS_PER_S, .baseline_laps = 5,
                                .max_gap_ns = PW_NS_PER_S, .start_fuel_l = 0};
}

void md_fuel_car_init(md_fuel_car_t *c)
{
    memset(c, 0, sizeof *c);
    c->flow_lps = NAN;
    c->raw_flow_lps = NAN;
    c->last_lap_l = NAN;
    c->baseline_lap_l = NAN;
    c->burn_ratio = NAN;
    for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++) {
        c->mark_l[k] = NAN;
        c->base_share[k] = (double)(k + 1) / (MD_FUEL_PROFILE_MARKS + 1);
    }
    for (int i = 0; i < MD_FUEL_BASELINE_MAX; i++)
        for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++)
            c->lap_prof[i][k] = NAN;
    c->fuel_left_l = NAN;
    c->laps_left = NAN;
    c->scale = 1.0;
    c->last_ts_ns = NONE;
    c->last_speed = NAN;
    c->lap = NAN;
    c->cal_start_ns = NONE;
    c->cal_level0 = NAN;
    c->gauge_l = NAN;
}

static int check_inputs(const md_fuel_car_t *c, const md_fuel_sample_t *s, double dt_s)
{
    if (isnan(s->throttle))
        return MD_FUEL_NO_THROTTLE;
    if (isnan(s->rpm))
        return MD_FUEL_NO_RPM;
    if (!(s->throttle >= THROTTLE_MIN && s->throttle <= THROTTLE_MAX))
        return MD_FUEL_BAD_THROTTLE;
    if (!(s->rpm >= 0 && s->rpm <= RPM_MAX))
        return MD_FUEL_BAD_RPM;
    if (!isnan(s->speed)) {
        if (!(s->speed >= 0 && s->speed <= SPEED_MAX_MPS))
            return MD_FUEL_BAD_SPEED;
        if (!isnan(c->last_speed) && dt_s > 0 &&
            fabs(s->speed - c->last_speed) > ACCEL_MAX_MPS2 * dt_s)
            return MD_FUEL_BAD_SPEED;
    }
    return MD_FUEL_OK;
}

static void update_base_share(md_fuel_car_t *c, const md_fuel_car_opts_t *o);

static void close_lap(md_fuel_car_t *c, const md_fuel_car_opts_t *o, int64_t ts)
{
    int keep = o->baseline_laps < 1 ? 1 : o->baseline_laps > MD_FUEL_BASELINE_MAX
                                              ? MD_FUEL_BASELINE_MAX : o->baseline_laps;
    c->last_lap_l = c->lap_complete ? c->used_lap_l : NAN;
    if (c->lap_complete) {
        c->lap_l[c->lap_head] = c->used_lap_l;
        c->lap_s[c->lap_head] = (double)(ts - c->lap_start_ns) / PW_NS_PER_S;
        for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++)
            c->lap_prof[c->lap_head][k] =
                c->used_lap_l > 0 && !isnan(c->mark_l[k]) ? c->mark_l[k] / c->used_lap_l : NAN;
        c->lap_head = (c->lap_head + 1) % MD_FUEL_BASELINE_MAX;
        if (c->nlaps < MD_FUEL_BASELINE_MAX)
            c->nlaps++;
    }
    int n = c->nlaps < keep ? c->nlaps : keep;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += c->lap_l[(c->lap_head + MD_FUEL_BASELINE_MAX - 1 - i) % MD_FUEL_BASELINE_MAX];
    c->baseline_lap_l = n ? sum / n : NAN;
    update_base_share(c, o);
}

/* Forget the marks of the lap that starts now. */
static void clear_marks(md_fuel_car_t *c)
{
    for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++)
        c->mark_l[k] = NAN;
}

/*
 * The baseline's mean share of a lap's burn at each mark, over the
 * baseline laps that saw it ((k+1)/(marks+1) when none did). Once a lap,
 * so a sample costs only the interpolation.
 */
static void update_base_share(md_fuel_car_t *c, const md_fuel_car_opts_t *o)
{
    int keep = o->baseline_laps < 1 ? 1 : o->baseline_laps > MD_FUEL_BASELINE_MAX
                                              ? MD_FUEL_BASELINE_MAX : o->baseline_laps;
    int n = c->nlaps < keep ? c->nlaps : keep;
    for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++) {
        double sum = 0;
        int seen = 0;
        for (int i = 0; i < n; i++) {
            double v = c->lap_prof[(c->lap_head + MD_FUEL_BASELINE_MAX - 1 - i) %
                                   MD_FUEL_BASELINE_MAX][k];
            if (!isnan(v)) {
                sum += v;
                seen++;
            }
        }
        c->base_share[k] = seen ? sum / seen : (double)(k + 1) / (MD_FUEL_PROFILE_MARKS + 1);
    }
}

/* The baseline's share of a lap's burn by fraction frac (0..1) of the lap:
 * straight lines through (0, 0), the marks' shares and (1, 1). */
static double baseline_share(const md_fuel_car_t *c, double frac)
{
    const int m = MD_FUEL_PROFILE_MARKS;
    int k = (int)(frac * (m + 1)); /* the segment [k, k+1] / (m+1) holds frac */
    if (k > m)
        k = m;
    double x0 = (double)k / (m + 1);
    double y0 = k > 0 ? c->base_share[k - 1] : 0.0, y1 = k < m ? c->base_share[k] : 1.0;
    return y0 + (y1 - y0) * (frac - x0) * (m + 1);
}

/* Mean time of the laps in the baseline, s (NaN without). */
static double baseline_lap_s(const md_fuel_car_t *c, const md_fuel_car_opts_t *o)
{
    int keep = o->baseline_laps < 1 ? 1 : o->baseline_laps > MD_FUEL_BASELINE_MAX
                                              ? MD_FUEL_BASELINE_MAX : o->baseline_laps;
    int n = c->nlaps < keep ? c->nlaps : keep;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += c->lap_s[(c->lap_head + MD_FUEL_BASELINE_MAX - 1 - i) % MD_FUEL_BASELINE_MAX];
    return n ? sum / n : NAN;
}

static void calibrate(md_fuel_car_t *c, const md_fuel_car_opts_t *o, const md_fuel_sample_t *s)
{
    double level = s->fuel_l;
    if (!(level > 0) || !isfinite(level))
        return;
    int refuel = !isnan(c->gauge_l) && level > c->gauge_l + REFUEL_L;
    c->gauge_l = level;
    c->burn_at_gauge_l = c->burn_l;
    if (c->calibrated)
        return;
    if (c->cal_start_ns == NONE || refuel) {
        c->cal_start_ns = s->ts_ns;
        c->cal_level0 = level;
        c->cal_raw_l = 0;
        return;
    }
    if (s->ts_ns - c->cal_start_ns < o->calib_ns)
        return;
    double drop = c->cal_level0 - level;
    double k = c->cal_raw_l > 0.01 ? drop / c->cal_raw_l : NAN;
    if (k >= SCALE_MIN && k <= SCALE_MAX) {
        /* The laps so far were burnt at the old scale: restate them at the
         * new one, or the first baseline would hold two scales and the bar
         * would read "saving" for every calibrated car. */
        double r = k / c->scale;
        c->used_lap_l *= r;
        for (int i = 0; i < MD_FUEL_PROFILE_MARKS; i++)
            c->mark_l[i] *= r;
        for (int i = 0; i < MD_FUEL_BASELINE_MAX; i++)
            c->lap_l[i] *= r;
        c->last_lap_l *= r;
        c->baseline_lap_l *= r;
        c->scale = k;
        c->calibrated = 1;
    } else { /* implausible (a stationary car, a bad gauge): try the next window */
        c->cal_start_ns = s->ts_ns;
        c->cal_level0 = level;
        c->cal_raw_l = 0;
    }
}

int md_fuel_car_step(md_fuel_car_t *c, const md_fuel_coef_t *coef,
                     const md_fuel_car_opts_t *o, const md_fuel_sample_t *s)
{
    int flags = 0;
    c->samples++;
    if (c->last_ts_ns != NONE && s->ts_ns < c->last_ts_ns) {
        c->degraded = MD_FUEL_TIME_BACK;
        c->degraded_samples++;
        return 0;
    }
    int64_t dt_ns = c->last_ts_ns == NONE ? 0 : s->ts_ns - c->last_ts_ns;
    double dt_s = (double)dt_ns / PW_NS_PER_S;
    int reason = check_inputs(c, s, dt_s);
    if (reason == MD_FUEL_OK) {
        double f = md_fuel_flow_lps(coef, s->throttle, s->rpm, s->speed);
        if (isnan(f))
            reason = MD_FUEL_BAD_SPEED; /* only speed can be NaN here */
        else
            c->raw_flow_lps = f;
    }
    c->degraded = reason;
    if (reason != MD_FUEL_OK)
        c->degraded_samples++;
    else if (!isnan(s->speed))
        c->last_speed = s->speed;
    c->last_ts_ns = s->ts_ns;
    /* The flow of this sample (or the held one) over the time since the last. */
    double idt = (double)(dt_ns < o->max_gap_ns ? dt_ns : o->max_gap_ns) / PW_NS_PER_S;
    if (!isnan(c->raw_flow_lps)) {
        double raw = c->raw_flow_lps * idt;
        c->raw_burn_l += raw;
        c->burn_l += raw * c->scale;
        c->used_lap_l += raw * c->scale;
        if (c->cal_start_ns != NONE && !c->calibrated)
            c->cal_raw_l += raw;
        c->flow_lps = c->raw_flow_lps * c->scale;
    }
    /* Laps: +1 closes one; any other change restarts without a baseline lap. */
    if (isfinite(s->lap)) {
        if (isnan(c->lap)) {
            c->lap = s->lap;
            c->lap_start_ns = s->ts_ns;
            c->lap_complete = 0;
            clear_marks(c);
        } else if (s->lap == c->lap + 1) {
            close_lap(c, o, s->ts_ns);
            flags |= MD_FUEL_STEP_LAP_END;
            c->used_lap_l = 0;
            c->lap = s->lap;
            c->lap_start_ns = s->ts_ns;
            c->lap_complete = 1;
            clear_marks(c);
        } else if (s->lap != c->lap) {
            c->used_lap_l = 0;
            c->lap = s->lap;
            c->lap_start_ns = s->ts_ns;
            c->lap_complete = 0;
            clear_marks(c);
        }
    }
    calibrate(c, o, s);
    /* Where we are in the lap, and the burn at each mark passed. */
    double frac = NAN;
    if (c->lap_complete && !(flags & MD_FUEL_STEP_LAP_END))
        frac = isfinite(s->lap_pct) ? s->lap_pct
                                    : (double)(s->ts_ns - c->lap_start_ns) / PW_NS_PER_S /
                                          baseline_lap_s(c, o);
    if (frac > 0 && frac < 1) {
        /* Marks passed since the last sample: from the newest back. */
        for (int k = (int)(frac * (MD_FUEL_PROFILE_MARKS + 1)) - 1;
             k >= 0 && isnan(c->mark_l[k]); k--)
            c->mark_l[k] = c->used_lap_l;
    }
    /* The bar: this lap so far against the baseline at the same point. */
    c->burn_ratio = NAN;
    if (c->baseline_lap_l > 0) {
        if (flags & MD_FUEL_STEP_LAP_END) {
            c->burn_ratio = c->last_lap_l / c->baseline_lap_l;
        } else if (frac >= 0.05 && frac <= 1.5) {
            double expect = c->baseline_lap_l * baseline_share(c, frac < 1 ? frac : 1.0);
            if (frac > 1)
                expect *= frac; /* a lap longer than the baseline's: pro-rate past the end */
            if (expect > 0)
                c->burn_ratio = c->used_lap_l / expect;
        }
    }
    if (!isnan(c->gauge_l))
        c->fuel_left_l = c->gauge_l - (c->burn_l - c->burn_at_gauge_l);
    else if (o->start_fuel_l > 0)
        c->fuel_left_l = o->start_fuel_l - c->burn_l;
    else
        c->fuel_left_l = NAN;
    if (c->fuel_left_l < 0)
        c->fuel_left_l = 0;
    c->laps_left = c->baseline_lap_l > 0 ? c->fuel_left_l / c->baseline_lap_l : NAN;
    return flags;
}

static double i2d(int64_t v)
{
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static int64_t d2i(double d)
{
    int64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

void md_fuel_car_save(const md_fuel_car_t *c, double *v)
{
    double *p = v;
    *p++ = c->flow_lps;
    *p++ = c->used_lap_l;
    *p++ = c->last_lap_l;
    *p++ = c->baseline_lap_l;
    *p++ = c->burn_ratio;
    *p++ = c->fuel_left_l;
    *p++ = c->laps_left;
    *p++ = c->scale;
    *p++ = c->burn_l;
    *p++ = c->raw_burn_l;
    *p++ = c->calibrated;
    *p++ = c->degraded;
    *p++ = i2d((int64_t)c->samples);
    *p++ = i2d((int64_t)c->degraded_samples);
    *p++ = c->raw_flow_lps;
    *p++ = i2d(c->last_ts_ns);
    *p++ = c->last_speed;
    *p++ = c->lap;
    *p++ = i2d(c->lap_start_ns);
    *p++ = c->lap_complete;
    *p++ = c->nlaps;
    *p++ = c->lap_head;
    *p++ = i2d(c->cal_start_ns);
    *p++ = c->cal_level0;
    *p++ = c->cal_raw_l;
    *p++ = c->gauge_l;
    *p++ = c->burn_at_gauge_l;
    for (int i = 0; i < MD_FUEL_BASELINE_MAX; i++) {
        *p++ = c->lap_l[i];
        *p++ = c->lap_s[i];
    }
    for (int i = 0; i < MD_FUEL_BASELINE_MAX; i++)
        for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++)
            *p++ = c->lap_prof[i][k];
    for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++) {
        *p++ = c->mark_l[k];
        *p++ = c->base_share[k];
    }
}

int md_fuel_car_load(md_fuel_car_t *c, const double *v)
{
    md_fuel_car_t t;
    const double *p = v;
    t.flow_lps = *p++;
    t.used_lap_l = *p++;
    t.last_lap_l = *p++;
    t.baseline_lap_l = *p++;
    t.burn_ratio = *p++;
    t.fuel_left_l = *p++;
    t.laps_left = *p++;
    t.scale = *p++;
    t.burn_l = *p++;
    t.raw_burn_l = *p++;
    double cal = *p++, deg = *p++;
    t.samples = (uint64_t)d2i(*p++);
    t.degraded_samples = (uint64_t)d2i(*p++);
    t.raw_flow_lps = *p++;
    t.last_ts_ns = d2i(*p++);
    t.last_speed = *p++;
    t.lap = *p++;
    t.lap_start_ns = d2i(*p++);
    double complete = *p++, nlaps = *p++, head = *p++;
    t.cal_start_ns = d2i(*p++);
    t.cal_level0 = *p++;
    t.cal_raw_l = *p++;
    t.gauge_l = *p++;
    t.burn_at_gauge_l = *p++;
    for (int i = 0; i < MD_FUEL_BASELINE_MAX; i++) {
        t.lap_l[i] = *p++;
        t.lap_s[i] = *p++;
    }
    bool shares_ok = true;
    for (int i = 0; i < MD_FUEL_BASELINE_MAX; i++)
        for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++) {
            t.lap_prof[i][k] = *p++;
            shares_ok &= isnan(t.lap_prof[i][k]) || (t.lap_prof[i][k] >= 0 &&
                                                     t.lap_prof[i][k] <= 1.0 + 1e-9);
        }
    for (int k = 0; k < MD_FUEL_PROFILE_MARKS; k++) {
        t.mark_l[k] = *p++;
        t.base_share[k] = *p++;
        shares_ok &= t.base_share[k] >= 0 && t.base_share[k] <= 1.0 + 1e-9;
    }
    if (!shares_ok)
        return -1;
    if (!(cal == 0 || cal == 1) || !(deg >= 0 && deg < MD_FUEL_DEGRADED_COUNT) ||
        !(complete == 0 || complete == 1) || !(nlaps >= 0 && nlaps <= MD_FUEL_BASELINE_MAX) ||
        !(head >= 0 && head < MD_FUEL_BASELINE_MAX) || !(t.scale >= SCALE_MIN &&
                                                         t.scale <= SCALE_MAX))
        return -1;
    t.calibrated = (int)cal;
    t.degraded = (int)deg;
    t.lap_complete = (int)complete;
    t.nlaps = (int)nlaps;
    t.lap_head = (int)head;
    *c = t;
    return 0;
}

/* ---- split, train, eval ------------------------------------------------- */

/*
 * Which samples of a series train and eval use (PITWALL_FUEL_SPLIT):
 * "half" (default): train on the first half of each car's time span,
 * evaluate on the second; "swap": the other way round; "all": both use
 * everything (in-sample, for inspection only).
 */
typedef enum { SPLIT_HALF, SPLIT_SWAP, SPLIT_ALL } split_t;

static split_t split_mode(void)
{
    const char *e = getenv("PITWALL_FUEL_SPLIT");
    if (e && !strcmp(e, "swap"))
        return SPLIT_SWAP;
    if (e && !strcmp(e, "all"))
        return SPLIT_ALL;
    return SPLIT_HALF;
}

static const char *split_name(split_t m)
{
    return m == SPLIT_SWAP ? "swap" : m == SPLIT_ALL ? "all" : "half";
}

/* The range [*a, *b) of s's samples for training (train) or validation. */
static void split_range(const md_fuel_series_t *s, split_t m, int train, size_t *a, size_t *b)
{
    *a = 0;
    *b = s->n;
    if (m == SPLIT_ALL || s->n == 0)
        return;
    int64_t cut = s->s[0].ts_ns + (s->s[s->n - 1].ts_ns - s->s[0].ts_ns) / 2;
    size_t k = 0;
    while (k < s->n && s->s[k].ts_ns < cut)
        k++;
    int first = (m == SPLIT_HALF) == (train != 0);
    if (first)
        *b = k;
    else
        *a = k;
}

/* Why a series cannot be used, or NULL. */
static const char *series_unusable(const md_fuel_series_t *s, size_t a, size_t b)
{
    if (b <= a || s->s[b - 1].ts_ns - s->s[a].ts_ns < MIN_SPAN_NS)
        return "shorter than 10 s";
    size_t m = 0;
    for (size_t i = a; i < b; i++)
        m += usable(&s->s[i]);
    if (m < MIN_SAMPLES)
        return "fewer than 100 samples with throttle, rpm and a true flow";
    return NULL;
}

static void report_skip(FILE *f, const char *what, const char *why)
{
    if (f)
        fprintf(f, "  skipped %s: %s\n", what, why);
}

static int ensure_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int train(const char *const *paths, size_t n, const char *out_path, FILE *report,
                 pw_err_t *err)
{
    md_gsl_init();
    split_t mode = split_mode();
    md_fuel_sample_t *pool = NULL;
    size_t np = 0, cap = 0;
    json_t *files = json_array(), *skipped = json_array(), *root = NULL;
    int rc = 0;
    if (files == NULL || skipped == NULL) {
        rc = pw_err_set(err, -ENOMEM, "fuel train: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        md_fuel_series_t *ser = NULL;
        size_t ns = 0;
        pw_err_t e2 = {0};
        int r = md_fuel_series_read(paths[i], &ser, &ns, &e2);
        if (r == PW_EUNSUPPORTED) {
            continue; /* SOURCE.txt and friends */
        }
        if (r) {
            rc = pw_err_set(err, r, "%s", e2.msg);
            goto done;
        }
        const char *slash = strrchr(paths[i], '/');
        const char *base = slash ? slash + 1 : paths[i];
        if (ns == 0) {
            report_skip(report, base, "no car with throttle and rpm");
            json_array_append_new(skipped, json_pack("{s:s,s:s}", "file", base, "why",
                                                     "no car with throttle and rpm"));
        }
        for (size_t k = 0; k < ns; k++) {
            size_t a, b;
            split_range(&ser[k], mode, 1, &a, &b);
            const char *why = series_unusable(&ser[k], a, b);
            if (why) {
                report_skip(report, ser[k].name, why);
                json_array_append_new(skipped, json_pack("{s:s,s:s,s:I}", "series",
                                                         ser[k].name, "why", why, "samples",
                                                         (json_int_t)ser[k].n));
                continue;
            }
            if (np + (b - a) > cap) {
                size_t nc = cap ? cap : 4096;
                while (nc < np + (b - a))
                    nc *= 2;
                md_fuel_sample_t *g = realloc(pool, nc * sizeof *g);
                if (g == NULL) {
                    md_fuel_series_free(ser, ns);
                    rc = pw_err_set(err, -ENOMEM, "fuel train: out of memory");
                    goto done;
                }
                pool = g;
                cap = nc;
            }
            memcpy(pool + np, ser[k].s + a, (b - a) * sizeof *pool);
            np += b - a;
            double span = (double)(ser[k].s[b - 1].ts_ns - ser[k].s[a].ts_ns) / PW_NS_PER_S;
            json_array_append_new(files, json_pack("{s:s,s:s,s:I,s:I,s:f}", "series",
                                                   ser[k].name, "target", ser[k].truth,
                                                   "samples", (json_int_t)ser[k].n,
                                                   "samples_used", (json_int_t)(b - a),
                                                   "span_s", span));
            if (report)
                fprintf(report, "  %s: %zu of %zu samples (%.1f s), target %s\n", ser[k].name,
                        b - a, ser[k].n, span, ser[k].truth);
        }
        md_fuel_series_free(ser, ns);
    }
    if (np == 0) {
        rc = pw_err_set(err, PW_EARG, "fuel train: no usable telemetry in the %zu file(s) "
                        "given (need .ibt or .jsonl with throttle, rpm and a fuel flow or "
                        "level, 10 s at least)", n);
        goto done;
    }
    md_fuel_coef_t co;
    md_fuel_fit_stats_t fs;
    if ((rc = md_fuel_fit(pool, np, default_feat, NDEFAULT, &co, &fs, err)) != 0)
        goto done;
    json_t *se = json_array();
    for (int k = 0; se && k < co.nfeat; k++)
        json_array_append_new(se, json_real(fs.se[k]));
    root = coef_json(&co);
    if (root) {
        json_object_set_new(root, "training",
                            json_pack("{s:s,s:o,s:o,s:I}", "split", split_name(mode), "series",
                                      files, "skipped", skipped, "samples", (json_int_t)np));
        json_object_set_new(root, "fit", json_pack("{s:I,s:f,s:f,s:f,s:o}", "samples",
                                                   (json_int_t)fs.n, "r2", fs.r2, "rmse_lps",
                                                   fs.rmse_lps, "chisq", fs.chisq,
                                                   "std_errors", se));
        json_object_set_new(root, "defaults", json_pack("{s:i,s:i}", "calibration_s", 20,
                                                        "baseline_laps", 5));
    } else {
        json_decref(se);
        json_decref(files);
        json_decref(skipped);
    }
    files = skipped = NULL; /* owned by root now */
    if (root == NULL) {
        rc = pw_err_set(err, -ENOMEM, "fuel train: cannot build the model file");
        goto done;
    }
    int pe = ensure_parent(out_path);
    if (pe || json_dump_file(root, out_path, DUMP_FLAGS) != 0) {
        rc = pw_err_set(err, pe ? pe : -EIO, "%s: cannot write the model file", out_path);
        goto done;
    }
    if (report) {
        fprintf(report, "fuel: %zu samples (split %s: training part), R^2 %.4f, rmse %.3g "
                "l/s\n", fs.n, split_name(mode), fs.r2, fs.rmse_lps);
        for (int k = 0; k < co.nfeat; k++)
            fprintf(report, "  %-14s %.6g (se %.2g)\n", feat_names[co.feat[k]], co.beta[k],
                    fs.se[k]);
        fprintf(report, "wrote %s, version %s\n", out_path, co.version);
    }
done:
    json_decref(root);
    json_decref(files);
    json_decref(skipped);
    free(pool);
    return rc;
}

/* Sums over validation samples. */
typedef struct acc {
    double burn_l, uncal_l, post_burn_l, post_drop_l, drop_l;
    double sy, syy, ssr, ssr_uncal;
    size_t nflow, nsamples, ndegraded;
} acc_t;

/* Run the tracker over s[a, b) as the live operator would and add up. */
static void eval_series(const md_fuel_coef_t *co, const md_fuel_series_t *ser, size_t a,
                        size_t b, acc_t *ac, json_t *rows)
{
    md_fuel_car_opts_t o = md_fuel_car_opts_default();
    md_fuel_car_t c;
    md_fuel_car_init(&c);
    double level0 = NAN, level_cal = NAN, burn_cal = 0, level_last = NAN;
    double burn0 = 0, raw0 = 0;
    size_t first = b;
    for (size_t i = a; i < b; i++) {
        const md_fuel_sample_t *s = &ser->s[i];
        int was = c.calibrated;
        md_fuel_car_step(&c, co, &o, s);
        if (isfinite(s->fuel_l) && isnan(level0)) {
            level0 = s->fuel_l; /* burn counts from here */
            burn0 = c.burn_l;
            raw0 = c.raw_burn_l;
            first = i;
        }
        if (!was && c.calibrated) {
            level_cal = s->fuel_l;
            burn_cal = c.burn_l;
        }
        if (isfinite(s->fuel_l))
            level_last = s->fuel_l;
        ac->nsamples++;
        ac->ndegraded += c.degraded != MD_FUEL_OK;
        if (i > first && isfinite(s->truth_lps) && isfinite(c.flow_lps)) {
            double p = c.flow_lps, y = s->truth_lps;
            double u = md_fuel_flow_lps(co, s->throttle, s->rpm, s->speed);
            ac->sy += y;
            ac->syy += y * y;
            ac->ssr += (y - p) * (y - p);
            ac->ssr_uncal += isfinite(u) ? (y - u) * (y - u) : (y * y);
            ac->nflow++;
        }
    }
    double drop = level0 - level_last, burn = c.burn_l - burn0, raw = c.raw_burn_l - raw0;
    json_t *row = json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:b}", "series", ser->name,
                            "samples", (json_int_t)(b - a), "level_drop_l",
                            isfinite(drop) ? drop : 0.0, "burn_l", burn, "burn_uncal_l", raw,
                            "scale", c.scale, "calibrated", c.calibrated);
    if (isfinite(drop) && drop >= MIN_DROP_L) {
        ac->drop_l += drop;
        ac->burn_l += burn;
        ac->uncal_l += raw;
        if (c.calibrated && isfinite(level_cal)) {
            ac->post_drop_l += level_cal - level_last;
            ac->post_burn_l += c.burn_l - burn_cal;
        }
    }
    if (row)
        json_array_append_new(rows, row);
}

static double pct(double model, double truth)
{
    return truth > 0 ? 100.0 * fabs(model - truth) / truth : NAN;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The series the model at path was fitted on (its training.series), or NULL. */
static json_t *fitted_series(const char *model_path)
{
    json_t *root = json_load_file(model_path, 0, NULL);
    json_t *list = json_object_get(json_object_get(root, "training"), "series");
    json_incref(list);
    json_decref(root);
    return list;
}

static bool was_fitted(json_t *list, const char *name)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *v = json_string_value(json_object_get(json_array_get(list, i), "series"));
        if (v && !strcmp(v, name))
            return true;
    }
    return false;
}

static int eval(const char *model_path, const char *const *paths, size_t n, bool json,
                FILE *out, pw_err_t *err)
{
    md_fuel_coef_t *co = md_fuel_coef_load(model_path, err);
    if (co == NULL)
        return err && err->code ? err->code : PW_ECORRUPT;
    split_t mode = split_mode();
    acc_t ac = {0};
    int rc = 0;
    /* A car the model was fitted on is scored on its other half; any other car whole. */
    json_t *fitted = fitted_series(model_path);
    json_t *rows = json_array(), *skipped = json_array(), *files = json_array();
    if (!rows || !skipped || !files) {
        rc = pw_err_set(err, -ENOMEM, "fuel eval: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        md_fuel_series_t *ser = NULL;
        size_t ns = 0;
        pw_err_t e2 = {0};
        int r = md_fuel_series_read(paths[i], &ser, &ns, &e2);
        if (r == PW_EUNSUPPORTED)
            continue;
        if (r) {
            rc = pw_err_set(err, r, "%s", e2.msg);
            goto done;
        }
        json_array_append_new(files, json_string(paths[i]));
        if (ns == 0)
            json_array_append_new(skipped, json_pack("{s:s,s:s}", "file", paths[i], "why",
                                                     "no car with throttle and rpm"));
        for (size_t k = 0; k < ns; k++) {
            size_t a, b;
            split_range(&ser[k], was_fitted(fitted, ser[k].name) ? mode : SPLIT_ALL, 0, &a,
                        &b);
            const char *why = series_unusable(&ser[k], a, b);
            if (why) {
                json_array_append_new(skipped, json_pack("{s:s,s:s,s:I}", "series",
                                                         ser[k].name, "why", why, "samples",
                                                         (json_int_t)ser[k].n));
                continue;
            }
            eval_series(co, &ser[k], a, b, &ac, rows);
        }
        md_fuel_series_free(ser, ns);
    }
    double sst = ac.nflow ? ac.syy - ac.sy * ac.sy / (double)ac.nflow : 0;
    double r2 = sst > 0 ? 1 - ac.ssr / sst : NAN;
    double r2u = sst > 0 ? 1 - ac.ssr_uncal / sst : NAN;
    double e = pct(ac.burn_l, ac.drop_l), eu = pct(ac.uncal_l, ac.drop_l);
    double ep = pct(ac.post_burn_l, ac.post_drop_l);
    if (json) {
        json_t *o = json_object();
        if (o == NULL) {
            rc = pw_err_set(err, -ENOMEM, "fuel eval: out of memory");
            goto done;
        }
        json_object_set_new(o, "model", json_string("fuel"));
        json_object_set_new(o, "version", json_string(co->version));
        json_object_set_new(o, "files", files);
        json_object_set_new(o, "split", json_string(split_name(mode)));
        json_object_set_new(o, "cum_burn_error_pct", num_or_null(e));
        json_object_set_new(o, "flow_r2", num_or_null(r2));
        json_object_set_new(o, "cum_burn_error_uncal_pct", num_or_null(eu));
        json_object_set_new(o, "cum_burn_error_post_cal_pct", num_or_null(ep));
        json_object_set_new(o, "flow_r2_uncal", num_or_null(r2u));
        json_object_set_new(o, "level_drop_l", json_real(ac.drop_l));
        json_object_set_new(o, "burn_l", json_real(ac.burn_l));
        json_object_set_new(o, "samples", json_integer((json_int_t)ac.nsamples));
        json_object_set_new(o, "degraded_samples", json_integer((json_int_t)ac.ndegraded));
        json_object_set_new(o, "series", rows);
        json_object_set_new(o, "skipped", skipped);
        files = rows = skipped = NULL;
        char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (text == NULL) {
            rc = pw_err_set(err, -ENOMEM, "fuel eval: out of memory");
            goto done;
        }
        fprintf(out, "%s\n", text);
        free(text);
    } else {
        fprintf(out, "fuel %s on what it was not fitted on (split %s: the other part of a "
                "car it was fitted on, all of any other car) of %zu path(s):\n",
                co->version, split_name(mode), n);
        fprintf(out, "  cumulative burn error  %.2f %% live (scale learned in the first 20 s), "
                "%.2f %% uncalibrated, %.2f %% after calibration\n", e, eu, ep);
        fprintf(out, "  flow R^2               %.4f live, %.4f uncalibrated (%zu samples)\n",
                r2, r2u, ac.nflow);
        fprintf(out, "  burn %.3f l vs fuel level drop %.3f l; %zu samples, %zu degraded\n",
                ac.burn_l, ac.drop_l, ac.nsamples, ac.ndegraded);
        for (size_t i = 0; i < json_array_size(skipped); i++) {
            json_t *s = json_array_get(skipped, i);
            const char *what = json_string_value(json_object_get(s, "series"));
            if (what == NULL)
                what = json_string_value(json_object_get(s, "file"));
            fprintf(out, "  skipped %s: %s\n", what ? what : "?",
                    json_string_value(json_object_get(s, "why")));
        }
    }
    if (ac.nsamples == 0 && rc == 0)
        rc = pw_err_set(err, PW_EARG, "fuel eval: no usable validation telemetry in the %zu "
                        "file(s) given", n);
done:
    json_decref(fitted);
    json_decref(rows);
    json_decref(skipped);
    json_decref(files);
    md_fuel_coef_free(co);
    return rc;
}

const md_model_def_t md_fuel_def = {
    .name = "fuel",
    .desc = "fuel burn: flow from throttle and RPM, burn per lap vs baseline, fuel and laps "
            "left (iRacing .ibt or simulator .jsonl)",
    .default_out = "conf/models/fuel.json",
    .train = train,
    .eval = eval,
};
