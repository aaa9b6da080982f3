/*
 * md_fuel: the fuel-burn model ("Burn Bar"): fuel flow from throttle and
 * RPM, and the per-car bookkeeping the broadcast shows (fuel used this
 * lap, the car's rolling baseline per lap, burn versus baseline, fuel
 * left, laps left), calibrated per car by a scale factor learned online.
 *
 * The flow is linear in a few features of one telemetry sample,
 *     flow_lps = max(0, sum_k beta_k * f_k(throttle, rpm, speed))
 * with the features named in the model file (the default set is 1,
 * throttle*rpm, rpm, throttle; see docs/models-fuel.md). Train fits beta
 * by least squares (gsl_multifit_linear) on recorded samples against the
 * true flow: FuelUsePerHour (iRacing, kg/h, divided by the session's
 * DriverCarFuelKgPerLtr), fuel_flow_lps (simulator), or else the drop of
 * the fuel level between samples. The fuel level and the flow channels
 * are targets only, never inputs of the flow.
 *
 * The per-car tracker (md_fuel_car_t) is the one piece of code that both
 * the live operator (pipeline/pl_fuel.c) and `pitwall eval` run, sample by
 * sample, so the metrics measure what goes on air. It allocates nothing.
 *
 * Threads: everything here works on the caller's memory; a coefficient
 * object is immutable once loaded and may be shared by every worker.
 */
#ifndef MD_FUEL_H
#define MD_FUEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"
#include "models/md_model.h"

/* The model's row in md_models (train, eval). */
extern const md_model_def_t md_fuel_def;

/* Most features a model file may use. */
#define MD_FUEL_MAX_FEAT 8

/* Most completed laps in the rolling baseline. */
#define MD_FUEL_BASELINE_MAX 16

/*
 * Points along a lap where the baseline's burn profile is kept: the share
 * of a lap's fuel used by 1/8, 2/8, ... 7/8 of the lap. Burn is not even
 * along a lap (full throttle out of a corner, lift into the next), so the
 * bar compares this lap so far with the baseline laps at the same point,
 * not with a straight pro-rating.
 */
#define MD_FUEL_PROFILE_MARKS 7

/* Longest version string ("fuel-1a2b3c4d"), with its NUL. */
#define MD_FUEL_VERSION_MAX 32

/* Features the code knows, by name in the model file. */
enum md_fuel_feat {
    MD_FUEL_F_ONE = 0,       /* "1" */
    MD_FUEL_F_THROTTLE_RPM,  /* "throttle*rpm" */
    MD_FUEL_F_RPM,           /* "rpm" */
    MD_FUEL_F_THROTTLE,      /* "throttle" */
    MD_FUEL_F_SPEED,         /* "speed" (m/s) */
    MD_FUEL_F_THROTTLE_SPEED,/* "throttle*speed" */
    MD_FUEL_F_COUNT
};

/* The name of feature f as written in model files. */
const char *md_fuel_feat_name(int f);

/* Fitted coefficients (immutable once built). */
typedef struct md_fuel_coef {
    int nfeat;
    int feat[MD_FUEL_MAX_FEAT];      /* enum md_fuel_feat */
    double beta[MD_FUEL_MAX_FEAT];   /* l/s per unit of the feature */
    char version[MD_FUEL_VERSION_MAX];
} md_fuel_coef_t;

/* Flow of one sample, l/s (>= 0); NaN if an input the features use is NaN. */
double md_fuel_flow_lps(const md_fuel_coef_t *c, double throttle, double rpm, double speed);

/*
 * Read the model file at path (JSON, docs/models-fuel.md) into a new
 * object: free with md_fuel_coef_free(). NULL with err ("path: what") when
 * the file cannot be read, is not a fuel model, names an unknown feature
 * or holds a coefficient that is not finite. Fits md_coef_load_fn.
 */
void *md_fuel_coef_load(const char *path, pw_err_t *err);
void md_fuel_coef_free(void *coef);

/* Set c->version from its features and coefficients ("fuel-1a2b3c4d"). */
void md_fuel_coef_stamp(md_fuel_coef_t *c);

/*
 * Write c as a model file at path with no training description (tests,
 * hand-made models; train writes the full file). Returns 0 or -errno / -ENOMEM.
 */
int md_fuel_coef_write(const char *path, const md_fuel_coef_t *c, pw_err_t *err);

/* ---- samples and fitting ------------------------------------------------ */

/* One sample of one car: what the tracker and the fit see. NaN = missing. */
typedef struct md_fuel_sample {
    int64_t ts_ns;
    double throttle;  /* 0..1 */
    double rpm;       /* rev/min */
    double speed;     /* m/s */
    double lap;       /* lap counter */
    double lap_pct;   /* 0..1 along the lap, NaN if not sent */
    double fuel_l;    /* fuel level, litres (calibration only), NaN if none */
    double truth_lps; /* true flow, l/s (train/eval only; never an input) */
} md_fuel_sample_t;

/* A car's samples in time order, as train and eval read them from files. */
typedef struct md_fuel_series {
    char name[64];       /* "bristol.ibt car/64" */
    char truth[32];      /* where truth_lps comes from: "FuelUsePerHour", ... */
    md_fuel_sample_t *s;
    size_t n, cap;
} md_fuel_series_t;

/*
 * Decode the telemetry file at path (.ibt or .jsonl, .gz read) into one
 * series per car. *out is an owned array of *n series: free with
 * md_fuel_series_free(). Returns 0 (no series when the file has none of
 * the channels), or an error from reading or decoding, named in err.
 */
int md_fuel_series_read(const char *path, md_fuel_series_t **out, size_t *n, pw_err_t *err);
void md_fuel_series_free(md_fuel_series_t *s, size_t n);

/*
 * Turn the fuel level of s[0..n) into the flow target: truth_lps[k] =
 * (fuel_l[k-1] - fuel_l[k]) / dt, NaN where the level did not drop (idle
 * in the pits, a refuel, an empty tank) or is missing. For sources
 * without a flow channel (the simulator's level only).
 */
void md_fuel_truth_from_level(md_fuel_sample_t *s, size_t n);

/* What a fit gives besides the coefficients. */
typedef struct md_fuel_fit_stats {
    size_t n;           /* samples fitted */
    double r2;          /* of the flow, in sample */
    double rmse_lps;
    double chisq;
    double se[MD_FUEL_MAX_FEAT]; /* standard errors of beta */
} md_fuel_fit_stats_t;

/*
 * Least squares of truth_lps on the features feat[0..nfeat) over the
 * samples of s[0..n) that have finite inputs and target. Fills out's
 * features, beta and version. Returns 0, PW_EARG (fewer usable samples
 * than 4 x nfeat, an unknown feature) or PW_ECORRUPT (GSL failed, said
 * in err). md_gsl_init() must have been called.
 */
int md_fuel_fit(const md_fuel_sample_t *s, size_t n, const int *feat, int nfeat,
                md_fuel_coef_t *out, md_fuel_fit_stats_t *st, pw_err_t *err);

/* ---- the per-car tracker ------------------------------------------------ */

/* Why a car's output is degraded (held at the last good value). */
enum md_fuel_degraded {
    MD_FUEL_OK = 0,
    MD_FUEL_NO_THROTTLE,    /* throttle missing or NaN */
    MD_FUEL_NO_RPM,         /* rpm missing or NaN */
    MD_FUEL_BAD_THROTTLE,   /* throttle outside -0.05..1.05 */
    MD_FUEL_BAD_RPM,        /* rpm outside 0..30000 */
    MD_FUEL_BAD_SPEED,      /* speed negative, above 150 m/s, or a jump no car makes */
    MD_FUEL_TIME_BACK,      /* a sample older than the last one */
    MD_FUEL_DEGRADED_COUNT
};

/* Text of a reason ("rpm missing"). */
const char *md_fuel_degraded_text(int reason);

/* Tracker settings. */
typedef struct md_fuel_car_opts {
    int64_t calib_ns;       /* calibration window from the first fuel reading (20 s) */
    int baseline_laps;      /* completed laps in the baseline, 1..MD_FUEL_BASELINE_MAX */
    int64_t max_gap_ns;     /* longest gap integrated between two samples (1 s) */
    double start_fuel_l;    /* fuel at the start when no gauge is read; 0 = unknown */
} md_fuel_car_opts_t;

/* Defaults of md_fuel_car_opts_t (20 s, 5 laps, 1 s, unknown). */
md_fuel_car_opts_t md_fuel_car_opts_default(void);

/*
 * One car's state. Fields below "outputs" are what the operator emits;
 * the rest is bookkeeping. Plain data: the operator checkpoints it with
 * md_fuel_car_save/load.
 */
typedef struct md_fuel_car {
    /* outputs */
    double flow_lps;        /* calibrated flow of the last good sample */
    double used_lap_l;      /* burnt since the lap started */
    double last_lap_l;      /* the last completed lap's burn, NaN if none */
    double baseline_lap_l;  /* mean of the last baseline_laps complete laps, NaN if none */
    double burn_ratio;      /* used_lap_l / the baseline's burn at the same point of the
                               lap (its profile), NaN */
    double fuel_left_l;     /* NaN when unknown */
    double laps_left;       /* fuel_left_l / baseline_lap_l, NaN when unknown */
    double scale;           /* calibration factor (1 until calibrated) */
    double burn_l;          /* burnt since the tracker started, calibrated as it went */
    double raw_burn_l;      /* the same at scale 1 */
    int calibrated;         /* the scale was learned */
    int degraded;           /* enum md_fuel_degraded of the last sample */
    uint64_t samples, degraded_samples;
    /* bookkeeping */
    double raw_flow_lps;    /* flow at scale 1 of the last good sample, NaN before */
    int64_t last_ts_ns;     /* INT64_MIN before the first sample */
    double last_speed;
    double lap;             /* current lap counter, NaN before the first */
    int64_t lap_start_ns;
    int lap_complete;       /* the current lap began at a lap change */
    double lap_l[MD_FUEL_BASELINE_MAX]; /* ring of complete laps' burn */
    double lap_s[MD_FUEL_BASELINE_MAX]; /* and their times, s */
    /* and their profiles: share of the lap's burn at each mark, NaN if unseen */
    double lap_prof[MD_FUEL_BASELINE_MAX][MD_FUEL_PROFILE_MARKS];
    double mark_l[MD_FUEL_PROFILE_MARKS]; /* this lap's burn at each mark passed, else NaN */
    double base_share[MD_FUEL_PROFILE_MARKS]; /* the baseline's mean share at each mark */
    int nlaps, lap_head;
    int64_t cal_start_ns;   /* INT64_MIN: window not started */
    double cal_level0;      /* fuel level at the window's start */
    double cal_raw_l;       /* raw burn since the window's start */
    double gauge_l;         /* last fuel level read, NaN if none */
    double burn_at_gauge_l; /* burn_l when it was read */
} md_fuel_car_t;

/* What md_fuel_car_step reports (flags). */
#define MD_FUEL_STEP_LAP_END 1 /* this sample started a new lap */

void md_fuel_car_init(md_fuel_car_t *c);

/*
 * Feed one sample: computes the flow (holding the last good one when the
 * sample is degraded), integrates it over the time since the previous
 * sample (at most max_gap_ns), closes laps, calibrates from the fuel level.
 * Returns MD_FUEL_STEP_* flags. Allocates nothing; never fails.
 */
int md_fuel_car_step(md_fuel_car_t *c, const md_fuel_coef_t *coef,
                     const md_fuel_car_opts_t *o, const md_fuel_sample_t *s);

/* Doubles in a saved tracker. */
#define MD_FUEL_CAR_NSTATE                                                             \
    (27 + 2 * MD_FUEL_BASELINE_MAX + MD_FUEL_PROFILE_MARKS * (MD_FUEL_BASELINE_MAX + 2))

/* Copy the state to/from MD_FUEL_CAR_NSTATE doubles (checkpoints). */
void md_fuel_car_save(const md_fuel_car_t *c, double *v);
/* 0, or -1 when the values cannot be a tracker's (then c is untouched). */
int md_fuel_car_load(md_fuel_car_t *c, const double *v);

#endif
