/*
 * md_logit: the L2-regularised logistic regression that the pressure,
 * events and hockey models fit in `pitwall train`.
 *
 * The features are standardised (population mean and standard deviation
 * per feature; a constant feature gets std 1), then the coefficients are
 * found by iteratively reweighted least squares: each step solves the
 * weighted least squares of the working response with
 * gsl_multifit_wlinear, the penalty being nf extra rows sqrt(lambda) * e_k
 * (none on the intercept). The order of every floating-point operation is
 * fixed, so a model file written from the same rows is the same byte for
 * byte.
 *
 * GSL stays inside this module; md_logit_fit turns GSL's aborting error
 * handler off (md_gsl_init) before it runs.
 *
 * Threads: md_logit_fit touches only its arguments; calls may run at once.
 */
#ifndef MD_LOGIT_H
#define MD_LOGIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/pw_error.h"

/* How to fit. */
typedef struct md_logit_opts {
    double lambda; /* L2 penalty on the standardised weights, >= 0 */
    int max_iter;  /* IRLS iterations at most, >= 1 */
    double tol;    /* converged once no coefficient moves by tol or more, > 0 */
} md_logit_opts_t;

/* What a fit gives besides the per-feature arrays. */
typedef struct md_logit_result {
    double bias;   /* the intercept, on standardised features */
    int iters;     /* IRLS iterations run, 1..max_iter (max_iter: not converged) */
    double loglik; /* log-likelihood of the rows before the last step */
} md_logit_result_t;

/*
 * Fit P(y = 1 | x) = 1 / (1 + exp(-(bias + sum_k w[k] * (x[k] - mean[k]) / std[k]))).
 *
 * x: n rows of nf features, row-major (x[i * nf + k]); y: n labels, each 0
 * or 1. Both borrowed for the call. who names the fit in error texts
 * ("pressure: fit"): "<who>: out of memory",
 * "<who>: gsl_multifit_wlinear: <why>".
 *
 * On success writes mean[0..nf), std[0..nf), w[0..nf) and *res and
 * returns 0. Errors: PW_EARG for input that cannot be fitted (no rows, a
 * label other than 0 or 1, a feature that is not finite, an option out of
 * range) or when GSL fails; -ENOMEM. The outputs are untouched on failure.
 *
 * Rows of one class only are fitted as given: the unpenalised intercept
 * then runs away and iters reaches max_iter.
 */
int md_logit_fit(const double *x, const uint8_t *y, size_t n, size_t nf,
                 const md_logit_opts_t *opts, const char *who, double *mean, double *std,
                 double *w, md_logit_result_t *res, pw_err_t *err);

#endif
