/*
 * md_coef: coefficients shared by operators and reloaded by the host.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "models/md_coef.h"

static char path[64];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/pitwall-coef-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(path);
}

TestSuite(md_coef, .init = setup, .fini = teardown, .timeout = 10);

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* A "model" is one number; anything else does not load. */
static void *load_number(const char *p, pw_err_t *err)
{
    FILE *f = fopen(p, "r");
    double v;
    int ok = f && fscanf(f, "%lf", &v) == 1;
    if (f)
        fclose(f);
    if (!ok) {
        pw_err_set(err, PW_ECORRUPT, "%s: not a number", p);
        return NULL;
    }
    double *d = malloc(sizeof *d);
    *d = v;
    return d;
}

Test(md_coef, shares_one_load_and_swaps_in_a_changed_file)
{
    write_file("1.5\n");
    md_coef_slot_t *a = NULL, *b = NULL;
    pw_err_t err = {0};
    cr_assert_eq(md_coef_acquire(path, load_number, free, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(md_coef_acquire(path, load_number, free, &b, &err), 0);
    cr_assert_eq(a, b, "two operators of one file share a slot");
    const double *first = md_coef_get(a);
    cr_assert_float_eq(*first, 1.5, 1e-12);
    int n = -1;
    cr_assert_eq(md_coef_poll(false, &n, &err), 0);
    cr_assert_eq(n, 0, "an unchanged file is not reloaded");
    write_file("2.25 (a longer file)\n");
    cr_assert_eq(md_coef_poll(false, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_float_eq(*(const double *)md_coef_get(b), 2.25, 1e-12);
    cr_assert_float_eq(*first, 1.5, 1e-12, "the old version stays readable");
    md_coef_release(a);
    md_coef_release(b);
}

Test(md_coef, keeps_the_running_coefficients_when_a_reload_fails)
{
    write_file("3\n");
    md_coef_slot_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(md_coef_acquire(path, load_number, free, &s, &err), 0);
    write_file("garbage, longer than before\n");
    int n = -1;
    cr_assert_eq(md_coef_poll(false, &n, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "not reloaded, the running coefficients stay"), "%s", err.msg);
    cr_assert_eq(n, 0);
    cr_assert_float_eq(*(const double *)md_coef_get(s), 3.0, 1e-12);
    write_file("4\n");
    cr_assert_eq(md_coef_poll(true, &n, &err), 0, "forced, as on SIGHUP");
    cr_assert_eq(n, 1);
    cr_assert_float_eq(*(const double *)md_coef_get(s), 4.0, 1e-12);
    md_coef_release(s);
}

Test(md_coef, refuses_a_file_that_does_not_load)
{
    write_file("nope\n");
    md_coef_slot_t *s = NULL;
    pw_err_t err = {0};
    cr_assert_eq(md_coef_acquire(path, load_number, free, &s, &err), PW_ECORRUPT);
    cr_assert(strstr(err.msg, "not a number"), "%s", err.msg);
    cr_assert_null(s);
}
