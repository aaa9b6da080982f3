/*
 * md_file: the pieces of a model file (conf/models/<name>.json) that the
 * pressure, events and hockey models read and write alike: opening it and
 * checking its "model" and "format", reading finite numbers and the
 * per-type block of an event classifier, the version hash of the
 * coefficients as written (%.17g), and writing the file with sorted keys
 * and 17 significant digits.
 *
 * Errors found while reading are short texts ("'format' is not 1") that
 * md_file_close() reports as "<path>: <text>" with PW_ECORRUPT, so every
 * model names a bad file the same way.
 *
 * Threads: no shared state; every function may run on any thread.
 */
#ifndef MD_FILE_H
#define MD_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/pw_error.h"

/* The FNV-1a offset basis: the first h of md_file_fnv1a. */
#define MD_FILE_FNV_BASIS 2166136261u

/* h folded with the n bytes at p by 32-bit FNV-1a. */
uint32_t md_file_fnv1a(uint32_t h, const void *p, size_t n);

/*
 * h folded with "%.17g %.17g %.17g;" of (mean[k], std[k], w[k]) for each
 * of the nf features, in order: the coefficients' part of a version.
 */
uint32_t md_file_hash_coefs(uint32_t h, const double *mean, const double *std, const double *w,
                            size_t nf);

/* 0 and *v if o[key] is a finite number; else -1 (*v may be written). */
int md_file_num(json_t *o, const char *key, double *v);

/*
 * Load the model file path and check that its "model" is model and its
 * "format" is format. Returns the document (owned; json_decref it, or
 * pass it to md_file_close) or NULL with err set: PW_ECORRUPT for a file
 * that cannot be read or parsed ("<path>:<line>: <why>") or is another
 * model's or format ("<path>: 'model' is not \"pressure\"").
 */
json_t *md_file_open(const char *path, const char *model, int format, pw_err_t *err);

/*
 * The end of a load: check that root's "version" is version (when what is
 * NULL), release root, and return m, or when something was wrong free m
 * and return NULL with err set to "<path>: <what>" (PW_ECORRUPT). Takes
 * root and m.
 */
void *md_file_close(json_t *root, void *m, const char *version, const char *what,
                    const char *path, pw_err_t *err);

/*
 * The block of one type of an event classifier: "intercept", "threshold"
 * in (0, 1] and "offset_s" (at most 1 s either way, returned in ns). NULL,
 * or what is wrong with it (outputs then partly written).
 */
const char *md_file_type_head(json_t *to, double *bias, double *threshold, int64_t *offset_ns);

/*
 * Feature k of a type's "mean", "std" and "coef" arrays into *mean, *std
 * (> 0) and *w. NULL, or what is wrong with it.
 */
const char *md_file_type_coef(json_t *mean, json_t *std, json_t *coef, size_t k, double *m,
                              double *s, double *w);

/* A JSON array of v[0..n) (json_real), or NULL on ENOMEM. */
json_t *md_file_reals(const double *v, size_t n);

/*
 * Write root to path with sorted keys, an indent of 2 and 17 significant
 * digits. 0, or -EIO ("<path>: cannot write the model file"). Borrows root.
 */
int md_file_write(json_t *root, const char *path, pw_err_t *err);

#endif
