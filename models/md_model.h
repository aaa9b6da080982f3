/*
 * md_model: what every live model (fuel burn, pressure alert, event
 * classification) provides to `pitwall train`, `pitwall eval` and the
 * pipeline.
 *
 * A model is fitted offline from recorded data by train (with GSL; its
 * error handler is turned off by md_gsl_init()), written as a JSON file
 * (conf/models/<name>.json: coefficients with their feature definitions, a
 * description of the training data, fit statistics and a version), checked
 * by eval on data it was not fitted on, and run live as a pipeline
 * operator (its row in pipeline/pl_ops.c) that loads the file at start and
 * picks up a new version at a batch boundary (md_coef.h).
 *
 * Paths: `paths` are files, already expanded from folders by the caller,
 * in sorted order, so training is reproducible.
 */
#ifndef MD_MODEL_H
#define MD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/pw_error.h"

typedef struct md_model_def {
    const char *name;   /* "fuel", "pressure", "events" */
    const char *desc;   /* one sentence for --help */
    const char *default_out; /* "conf/models/fuel.json" */
    /*
     * Fit on paths[0..n) and write the model file to out_path. Prints a
     * short human report to report (files, counts, fit statistics).
     * Returns 0 or an error in err (what, which file, why).
     */
    int (*train)(const char *const *paths, size_t n, const char *out_path, FILE *report,
                 pw_err_t *err);
    /*
     * Evaluate the model file model_path on paths[0..n): print the metrics
     * for people, or with json one JSON object (the keys the issue names)
     * on one line. Returns 0 or an error.
     */
    int (*eval)(const char *model_path, const char *const *paths, size_t n, bool json,
                FILE *out, pw_err_t *err);
} md_model_def_t;

/* The models, in `pitwall train --help` order. */
extern const md_model_def_t *const md_models[];
extern const size_t md_model_count;

/* The model called name, or NULL. */
const md_model_def_t *md_model_find(const char *name);

/* Turn GSL's aborting error handler off (idempotent; call before any fit). */
void md_gsl_init(void);

#endif
