/*
 * md_file: shared parts of the model files. See md_file.h.
 */
#include "models/md_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1e9

uint32_t md_file_fnv1a(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t k = 0; k < n; k++) {
        h ^= b[k];
        h *= 16777619u;
    }
    return h;
}

uint32_t md_file_hash_coefs(uint32_t h, const double *mean, const double *std, const double *w,
                            size_t nf)
{
    /* Three %.17g of at most 24 characters each, two spaces and ';'. */
    char buf[96];
    for (size_t k = 0; k < nf; k++) {
        int n = snprintf(buf, sizeof buf, "%.17g %.17g %.17g;", mean[k], std[k], w[k]);
        h = md_file_fnv1a(h, buf, (size_t)n);
    }
    return h;
}

int md_file_num(json_t *o, const char *key, double *v)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_number(j))
        return -1;
    *v = json_number_value(j);
    return isfinite(*v) ? 0 : -1;
}

json_t *md_file_open(const char *path, const char *model, int format, pw_err_t *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        pw_err_set(err, PW_ECORRUPT, "%.300s:%d: %.150s", path, je.line, je.text);
        return NULL;
    }
    const char *name = json_string_value(json_object_get(root, "model"));
    double fmt = 0;
    if (name == NULL || strcmp(name, model))
        pw_err_set(err, PW_ECORRUPT, "%.300s: 'model' is not \"%s\"", path, model);
    else if (md_file_num(root, "format", &fmt) || fmt != format)
        pw_err_set(err, PW_ECORRUPT, "%.300s: 'format' is not %d", path, format);
    else
        return root;
    json_decref(root);
    return NULL;
}

void *md_file_close(json_t *root, void *m, const char *version, const char *what,
                    const char *path, pw_err_t *err)
{
    if (what == NULL) {
        const char *v = json_string_value(json_object_get(root, "version"));
        if (v == NULL || strcmp(v, version))
            what = "'version' does not match the coefficients (edited by hand?)";
    }
    json_decref(root);
    if (what) {
        free(m);
        pw_err_set(err, PW_ECORRUPT, "%.300s: %s", path, what);
        return NULL;
    }
    return m;
}

const char *md_file_type_head(json_t *to, double *bias, double *threshold, int64_t *offset_ns)
{
    if (!json_is_object(to) || md_file_num(to, "intercept", bias) ||
        md_file_num(to, "threshold", threshold) || *threshold <= 0 || *threshold > 1)
        return "a type lacks intercept or threshold (0, 1]";
    double off = 0;
    if (md_file_num(to, "offset_s", &off) || fabs(off) > 1.0)
        return "a type lacks offset_s (seconds, at most 1 either way)";
    *offset_ns = (int64_t)llround(off * NS_PER_S);
    return NULL;
}

const char *md_file_type_coef(json_t *mean, json_t *std, json_t *coef, size_t k, double *m,
                              double *s, double *w)
{
    json_t *a = json_array_get(mean, k), *b = json_array_get(std, k), *c = json_array_get(coef, k);
    if (!json_is_number(a) || !json_is_number(b) || !json_is_number(c))
        return "a type's mean, std or coef holds a non-number";
    *m = json_number_value(a);
    *s = json_number_value(b);
    *w = json_number_value(c);
    if (!isfinite(*m) || !isfinite(*w) || !(*s > 0) || !isfinite(*s))
        return "a type's mean, std (> 0) or coef is not finite";
    return NULL;
}

json_t *md_file_reals(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(a, json_real(v[k]));
    return a;
}

int md_file_write(json_t *root, const char *path, pw_err_t *err)
{
    if (json_dump_file(root, path, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17)))
        return pw_err_set(err, -EIO, "%.400s: cannot write the model file", path);
    return 0;
}
