/*
 * md_logit: L2-regularised logistic regression by IRLS. See md_logit.h.
 */
#include "models/md_logit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_vector.h>

#include "models/md_model.h"

/* PW_EARG if the input cannot be fitted, with what is wrong; else 0. */
static int check(const double *x, const uint8_t *y, size_t n, size_t nf,
                 const md_logit_opts_t *o, const char *who, pw_err_t *err)
{
    if (n == 0)
        return pw_err_set(err, PW_EARG, "%s: no rows to fit", who);
    if (!(isfinite(o->lambda) && o->lambda >= 0))
        return pw_err_set(err, PW_EARG, "%s: lambda %g is not a finite number >= 0", who,
                          o->lambda);
    if (o->max_iter < 1)
        return pw_err_set(err, PW_EARG, "%s: max_iter %d is not >= 1", who, o->max_iter);
    if (!(isfinite(o->tol) && o->tol > 0))
        return pw_err_set(err, PW_EARG, "%s: tol %g is not a finite number > 0", who, o->tol);
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return pw_err_set(err, PW_EARG, "%s: row %zu has label %u, not 0 or 1", who, i,
                              (unsigned)y[i]);
        for (size_t k = 0; k < nf; k++)
            if (!isfinite(x[i * nf + k]))
                return pw_err_set(err, PW_EARG, "%s: row %zu, feature %zu is not finite", who,
                                  i, k);
    }
    return 0;
}

int md_logit_fit(const double *x, const uint8_t *y, size_t n, size_t nf,
                 const md_logit_opts_t *opts, const char *who, double *mean, double *std,
                 double *w, md_logit_result_t *res, pw_err_t *err)
{
    int rc = check(x, y, n, nf, opts, who, err);
    if (rc)
        return rc;
    md_gsl_init();
    const size_t nc = nf + 1, nr = n + nf;
    /* Standardisation: two passes per feature, in row order. */
    double *mu = malloc((nf ? nf : 1) * sizeof *mu), *sd = malloc((nf ? nf : 1) * sizeof *sd);
    gsl_matrix *X = gsl_matrix_alloc(nr, nc), *cov = gsl_matrix_alloc(nc, nc);
    gsl_vector *wt = gsl_vector_alloc(nr), *z = gsl_vector_alloc(nr), *c = gsl_vector_alloc(nc),
               *prev = gsl_vector_alloc(nc);
    gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(nr, nc);
    if (!mu || !sd || !X || !cov || !wt || !z || !c || !prev || !ws) {
        rc = pw_err_set(err, -ENOMEM, "%s: out of memory", who);
        goto done;
    }
    for (size_t k = 0; k < nf; k++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * nf + k];
        double m = s / (double)n;
        for (size_t i = 0; i < n; i++) {
            double d = x[i * nf + k] - m;
            s2 += d * d;
        }
        double v = sqrt(s2 / (double)n);
        mu[k] = m;
        sd[k] = v > 1e-9 ? v : 1.0;
    }
    /* The design: the rows, then one ridge row per feature (weight 1, response 0). */
    for (size_t i = 0; i < n; i++) {
        gsl_matrix_set(X, i, 0, 1.0);
        for (size_t k = 0; k < nf; k++)
            gsl_matrix_set(X, i, k + 1, (x[i * nf + k] - mu[k]) / sd[k]);
    }
    for (size_t k = 0; k < nf; k++) {
        for (size_t j = 0; j < nc; j++)
            gsl_matrix_set(X, n + k, j, j == k + 1 ? sqrt(opts->lambda) : 0.0);
        gsl_vector_set(wt, n + k, 1.0);
        gsl_vector_set(z, n + k, 0.0);
    }
    gsl_vector_set_zero(c);
    double ll = 0;
    int it;
    for (it = 1; it <= opts->max_iter; it++) {
        ll = 0;
        for (size_t i = 0; i < n; i++) {
            double eta = 0;
            for (size_t j = 0; j < nc; j++)
                eta += gsl_vector_get(c, j) * gsl_matrix_get(X, i, j);
            double p = 1.0 / (1.0 + exp(-eta));
            double v = p * (1 - p);
            if (v < 1e-9)
                v = 1e-9;
            gsl_vector_set(wt, i, v);
            gsl_vector_set(z, i, eta + (y[i] - p) / v);
            ll += y[i] ? log(p > 1e-300 ? p : 1e-300) : log(1 - p > 1e-300 ? 1 - p : 1e-300);
        }
        gsl_vector_memcpy(prev, c);
        double chisq;
        int g = gsl_multifit_wlinear(X, wt, z, c, cov, &chisq, ws);
        if (g != GSL_SUCCESS) {
            rc = pw_err_set(err, PW_EARG, "%s: gsl_multifit_wlinear: %s", who, gsl_strerror(g));
            goto done;
        }
        double delta = 0;
        for (size_t j = 0; j < nc; j++) {
            double d = fabs(gsl_vector_get(c, j) - gsl_vector_get(prev, j));
            if (d > delta)
                delta = d;
        }
        if (delta < opts->tol)
            break;
    }
    for (size_t k = 0; k < nf; k++) {
        mean[k] = mu[k];
        std[k] = sd[k];
        w[k] = gsl_vector_get(c, k + 1);
    }
    res->bias = gsl_vector_get(c, 0);
    res->iters = it > opts->max_iter ? opts->max_iter : it;
    res->loglik = ll;
done:
    free(mu);
    free(sd);
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(wt);
    gsl_vector_free(z);
    gsl_vector_free(c);
    gsl_vector_free(prev);
    if (ws)
        gsl_multifit_linear_free(ws);
    return rc;
}
