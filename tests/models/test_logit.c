/*
 * md_logit: the L2-regularised logistic regression shared by the pressure,
 * events and hockey models.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/md_logit.h"

TestSuite(md_logit, .timeout = 30);

static const md_logit_opts_t opts = {.lambda = 1.0, .max_iter = 50, .tol = 1e-9};

/* A fixed stream of uniforms in (0, 1): xorshift64*, so every run sees the same rows. */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * UINT64_C(2685821657736338717);
    return ((double)(r >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#define NF 3
#define N 40000

/*
 * Rows whose features have different centres and scales, labelled from
 * P(y = 1) = 1 / (1 + exp(-(b + w . x))) with the raw-feature coefficients
 * given.
 */
static void synth(double *x, uint8_t *y, size_t n, double b, const double *w, uint64_t seed)
{
    static const double centre[NF] = {10.0, -3.0, 0.0}, scale[NF] = {2.0, 0.5, 4.0};
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double eta = b;
        for (int k = 0; k < NF; k++) {
            x[i * NF + k] = centre[k] + scale[k] * normal(&s);
            eta += w[k] * x[i * NF + k];
        }
        y[i] = uniform(&s) < 1.0 / (1.0 + exp(-eta));
    }
}

Test(md_logit, recovers_known_coefficients)
{
    /* eta has mean 0 and standard deviation sqrt(3) over the rows: both classes common. */
    const double b = -11.0, w[NF] = {0.5, -2.0, 0.25};
    double *x = malloc(N * NF * sizeof *x);
    uint8_t *y = malloc(N);
    cr_assert(x && y);
    synth(x, y, N, b, w, 42);
    double mean[NF], sd[NF], ws[NF];
    md_logit_result_t res;
    pw_err_t err = {0};
    int rc = md_logit_fit(x, y, N, NF, &opts, "test", mean, sd, ws, &res, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert(res.iters > 1 && res.iters < opts.max_iter, "iters %d", res.iters);
    cr_assert(res.loglik < 0 && isfinite(res.loglik));
    /* Back to raw features: w_k / std_k, and the centres folded into the intercept. */
    double braw = res.bias;
    for (int k = 0; k < NF; k++) {
        double wraw = ws[k] / sd[k];
        braw -= wraw * mean[k];
        cr_assert_float_eq(wraw, w[k], 0.1 * fabs(w[k]) + 0.03, "w[%d] = %g, expected %g", k,
                           wraw, w[k]);
    }
    cr_assert_float_eq(braw, b, 0.4, "intercept %g, expected %g", braw, b);
    free(x);
    free(y);
}

Test(md_logit, standardises_with_the_population_moments)
{
    /* Feature 0 takes 1, 2, 3, 4; feature 1 is constant (std taken as 1, weight ~0). */
    const double x[] = {1, 7, 2, 7, 3, 7, 4, 7};
    const uint8_t y[] = {0, 1, 0, 1};
    double mean[2], sd[2], w[2];
    md_logit_result_t res;
    pw_err_t err = {0};
    cr_assert_eq(md_logit_fit(x, y, 4, 2, &opts, "test", mean, sd, w, &res, &err), 0, "%s",
                 err.msg);
    cr_assert_float_eq(mean[0], 2.5, 1e-12);
    cr_assert_float_eq(sd[0], sqrt(1.25), 1e-12);
    cr_assert_float_eq(mean[1], 7.0, 1e-12);
    cr_assert_float_eq(sd[1], 1.0, 1e-12);
    cr_assert_float_eq(w[1], 0.0, 1e-12);
}

Test(md_logit, is_deterministic)
{
    const double wt[NF] = {0.3, 1.0, -0.2};
    enum { n = 2000 };
    double *x = malloc(n * NF * sizeof *x);
    uint8_t *y = malloc(n);
    cr_assert(x && y);
    synth(x, y, n, -1.0, wt, 7);
    double m1[NF], s1[NF], w1[NF], m2[NF], s2[NF], w2[NF];
    md_logit_result_t r1, r2;
    cr_assert_eq(md_logit_fit(x, y, n, NF, &opts, "test", m1, s1, w1, &r1, NULL), 0);
    cr_assert_eq(md_logit_fit(x, y, n, NF, &opts, "test", m2, s2, w2, &r2, NULL), 0);
    cr_assert(memcmp(m1, m2, sizeof m1) == 0 && memcmp(s1, s2, sizeof s1) == 0 &&
              memcmp(w1, w2, sizeof w1) == 0);
    cr_assert(memcmp(&r1.bias, &r2.bias, sizeof r1.bias) == 0);
    cr_assert_eq(r1.iters, r2.iters);
    free(x);
    free(y);
}

/* Outputs that a failed fit must leave alone. */
static double mean[2] = {-1, -1}, sd[2] = {-1, -1}, w[2] = {-1, -1};
static md_logit_result_t res = {.bias = -1, .iters = -1, .loglik = -1};

static void assert_untouched(void)
{
    for (int k = 0; k < 2; k++)
        cr_assert(mean[k] == -1 && sd[k] == -1 && w[k] == -1);
    cr_assert(res.bias == -1 && res.iters == -1 && res.loglik == -1);
}

Test(md_logit, refuses_no_rows)
{
    pw_err_t err = {0};
    int rc = md_logit_fit(NULL, NULL, 0, 2, &opts, "pressure: fit", mean, sd, w, &res, &err);
    cr_assert_eq(rc, PW_EARG);
    cr_assert_str_eq(err.msg, "pressure: fit: no rows to fit");
    assert_untouched();
}

Test(md_logit, refuses_a_label_other_than_0_or_1)
{
    const double x[] = {1, 2, 3, 4, 5, 6};
    const uint8_t y[] = {0, 1, 2};
    pw_err_t err = {0};
    int rc = md_logit_fit(x, y, 3, 2, &opts, "test", mean, sd, w, &res, &err);
    cr_assert_eq(rc, PW_EARG);
    cr_assert_str_eq(err.msg, "test: row 2 has label 2, not 0 or 1");
    assert_untouched();
}

Test(md_logit, refuses_a_feature_that_is_not_finite)
{
    const double x[] = {1, 2, 3, NAN, 5, 6};
    const uint8_t y[] = {0, 1, 1};
    pw_err_t err = {0};
    int rc = md_logit_fit(x, y, 3, 2, &opts, "test", mean, sd, w, &res, &err);
    cr_assert_eq(rc, PW_EARG);
    cr_assert_str_eq(err.msg, "test: row 1, feature 1 is not finite");
    assert_untouched();
}

Test(md_logit, refuses_options_out_of_range)
{
    const double x[] = {1, 2, 3, 4};
    const uint8_t y[] = {0, 1};
    pw_err_t err = {0};
    md_logit_opts_t o = opts;
    o.lambda = -1;
    cr_assert_eq(md_logit_fit(x, y, 2, 2, &o, "test", mean, sd, w, &res, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "test: lambda -1 is not a finite number >= 0");
    o = opts;
    o.max_iter = 0;
    cr_assert_eq(md_logit_fit(x, y, 2, 2, &o, "test", mean, sd, w, &res, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "test: max_iter 0 is not >= 1");
    o = opts;
    o.tol = 0;
    cr_assert_eq(md_logit_fit(x, y, 2, 2, &o, "test", mean, sd, w, &res, &err), PW_EARG);
    cr_assert_str_eq(err.msg, "test: tol 0 is not a finite number > 0");
    assert_untouched();
}
