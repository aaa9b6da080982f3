/*
 * The expression language of filter and compute: values, precedence, NaN,
 * constant folding, and errors with their columns.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pl_expr.h"

TestSuite(pl_expr, .timeout = 10);

/* Compile text (failing the test with the message if it does not). */
static void compile(const char *text, pl_expr_t *e)
{
    pw_err_t err = {0};
    int rc = pl_expr_compile(text, e, &err);
    cr_assert_eq(rc, 0, "expr '%s': %s", text, err.msg);
}

static double eval1(const char *text, double value, double t_s)
{
    pl_expr_t e;
    compile(text, &e);
    double v = pl_expr_eval(&e, value, t_s);
    pl_expr_fini(&e);
    return v;
}

typedef struct eval_case {
    const char *text;
    double value, t;
    double want; /* NAN: want NaN */
} eval_case_t;

static void check_cases(const eval_case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double got = eval1(c[i].text, c[i].value, c[i].t);
        if (isnan(c[i].want))
            cr_expect(isnan(got), "'%s' (value %g) = %g, want NaN", c[i].text, c[i].value, got);
        else if (isinf(c[i].want))
            cr_expect(got == c[i].want, "'%s' = %g, want %g", c[i].text, got, c[i].want);
        else
            cr_expect(fabs(got - c[i].want) <= 1e-12 * fmax(1.0, fabs(c[i].want)),
                      "'%s' (value %g, t %g) = %.17g, want %.17g", c[i].text, c[i].value,
                      c[i].t, got, c[i].want);
    }
}

Test(pl_expr, evaluates_numbers_variables_and_arithmetic)
{
    static const eval_case_t c[] = {
        {"1", 0, 0, 1},
        {"2.5", 0, 0, 2.5},
        {"1e-3", 0, 0, 0.001},
        {"1E+2", 0, 0, 100},
        {".5", 0, 0, 0.5},
        {"3.", 0, 0, 3},
        {"value", 7, 0, 7},
        {"value * 3.6", 10, 0, 36},
        {"t", 0, 1.5e9, 1.5e9},
        {"t - 1500000000", 0, 1500000002.25, 2.25},
        {" \t value\n * 2 ", 4, 0, 8},
        {"1 + 2 * 3", 0, 0, 7},
        {"(1 + 2) * 3", 0, 0, 9},
        {"10 - 4 - 3", 0, 0, 3},
        {"100 / 10 / 5", 0, 0, 2},
        {"7 % 3", 0, 0, 1},
        {"-7 % 3", 0, 0, -1},
        {"7.5 % 2", 0, 0, 1.5},
        {"2 ^ 10", 0, 0, 1024},
        {"-2^2", 0, 0, -4},
        {"-value^2", 2, 0, -4},
        {"2^-1", 0, 0, 0.5},
        {"2^3^2", 0, 0, 512},
        {"(2^3)^2", 0, 0, 64},
        {"--3", 0, 0, 3},
        {"+value", 5, 0, 5},
        {"-value * -2", 3, 0, 6},
        {"1 / 0", 0, 0, INFINITY},
        {"-1 / 0", 0, 0, -INFINITY},
        {"pi", 0, 0, 3.14159265358979323846},
        {"e", 0, 0, 2.71828182845904523536},
        {"inf", 0, 0, INFINITY},
        {"2 * pi * value", 0.5, 0, 3.14159265358979323846},
    };
    check_cases(c, sizeof c / sizeof c[0]);
}

Test(pl_expr, evaluates_comparisons_and_logic_as_one_and_zero)
{
    static const eval_case_t c[] = {
        {"1 < 2", 0, 0, 1},   {"2 < 2", 0, 0, 0},     {"2 <= 2", 0, 0, 1},
        {"3 > 4", 0, 0, 0},   {"4 >= 4", 0, 0, 1},    {"2 == 2", 0, 0, 1},
        {"2 != 2", 0, 0, 0},  {"1 != 2", 0, 0, 1},    {"!0", 0, 0, 1},
        {"!5", 0, 0, 0},      {"!value", 0, 0, 1},    {"!!value", 3, 0, 1},
        {"1 && 0", 0, 0, 0},  {"2 && 3", 0, 0, 1},    {"0 || 0", 0, 0, 0},
        {"0 || -1", 0, 0, 1}, {"1 + 1 == 2", 0, 0, 1}, {"1 < 2 == 3 < 4", 0, 0, 1},
        {"0 || 1 && 0", 0, 0, 0}, /* && binds tighter than || */
        {"1 || 0 && 0", 0, 0, 1},
        {"1 < 2 < 3", 0, 0, 1},   /* (1 < 2) < 3, as in C */
        {"3 > 2 > 1", 0, 0, 0},
        {"value > 0 && value < 400", 250, 0, 1},
        {"value > 0 && value < 400", 401, 0, 0},
        {"value == 3 || value == 5", 5, 0, 1},
    };
    check_cases(c, sizeof c / sizeof c[0]);
}

Test(pl_expr, evaluates_every_function)
{
    static const eval_case_t c[] = {
        {"abs(-3)", 0, 0, 3},        {"abs(value)", -2.5, 0, 2.5},
        {"sqrt(16)", 0, 0, 4},       {"exp(0)", 0, 0, 1},
        {"log(e)", 0, 0, 1},         {"log(1)", 0, 0, 0},
        {"log10(1000)", 0, 0, 3},    {"floor(-1.5)", 0, 0, -2},
        {"ceil(-1.5)", 0, 0, -1},    {"round(2.5)", 0, 0, 3},
        {"round(-2.5)", 0, 0, -3},   {"round(value)", 2.4, 0, 2},
        {"trunc(-1.7)", 0, 0, -1},   {"sin(pi / 2)", 0, 0, 1},
        {"cos(0)", 0, 0, 1},         {"tan(0)", 0, 0, 0},
        {"atan2(1, 1)", 0, 0, 3.14159265358979323846 / 4},
        {"hypot(3, 4)", 0, 0, 5},    {"min(3, 1)", 0, 0, 1},
        {"min(3, 1, 2)", 0, 0, 1},   {"max(3, 1, 2)", 0, 0, 3},
        {"max(value, 0)", -4, 0, 0}, {"min(5, 4, 3, 2, 1, 0.5)", 0, 0, 0.5},
        {"clamp(5, 0, 3)", 0, 0, 3}, {"clamp(-1, 0, 3)", 0, 0, 0},
        {"clamp(value, 0, 3)", 2, 0, 2},
        {"isnan(1)", 0, 0, 0},       {"isnan(nan)", 0, 0, 1},
        {"sqrt(abs(value)) * 2", -9, 0, 6},
        {"max(min(value, 10), -10)", 50, 0, 10},
        {"floor ( value )", 1.5, 0, 1},
    };
    check_cases(c, sizeof c / sizeof c[0]);
}

Test(pl_expr, propagates_nan)
{
    static const eval_case_t c[] = {
        {"value + 1", NAN, 0, NAN},
        {"value * 0", NAN, 0, NAN},
        {"nan", 0, 0, NAN},
        {"0 / 0", 0, 0, NAN},
        {"sqrt(-1)", 0, 0, NAN},
        {"value > 3", NAN, 0, NAN},
        {"value == value", NAN, 0, NAN},
        {"!(value > 3)", NAN, 0, NAN},
        {"!value", NAN, 0, NAN},
        {"value ^ 0", NAN, 0, NAN},      /* C's pow gives 1 */
        {"1 ^ value", NAN, 0, NAN},      /* C's pow gives 1 */
        {"hypot(inf, value)", NAN, 0, NAN}, /* C's hypot gives inf */
        {"min(value, 1)", NAN, 0, NAN},  /* C's fmin gives 1 */
        {"max(1, value)", NAN, 0, NAN},
        {"clamp(value, 0, 1)", NAN, 0, NAN},
        {"clamp(0.5, value, 1)", NAN, 0, NAN},
        {"abs(value)", NAN, 0, NAN},
        {"round(value)", NAN, 0, NAN},
        /* Logic treats NaN as unknown. */
        {"value > 3 && 0", NAN, 0, 0},
        {"0 && value", NAN, 0, 0},
        {"value > 3 && 1", NAN, 0, NAN},
        {"value > 3 || 1", NAN, 0, 1},
        {"value > 3 || 0", NAN, 0, NAN},
        {"isnan(value)", NAN, 0, 1},
        {"isnan(value) || value > 3", NAN, 0, 1},
        {"isnan(value)", 2, 0, 0},
    };
    check_cases(c, sizeof c / sizeof c[0]);
    cr_assert(pl_expr_true(1.0));
    cr_assert(pl_expr_true(-0.5));
    cr_assert(!pl_expr_true(0.0));
    cr_assert(!pl_expr_true(NAN));
}

Test(pl_expr, folds_constants_and_says_what_it_reads)
{
    pl_expr_t e;
    compile("value * (1000 / 3600)", &e);
    cr_assert_eq(e.ncode, 3, "value, const, mul: %u instructions", e.ncode);
    cr_assert_eq(e.nkonst, 1);
    cr_assert(e.uses_value);
    cr_assert(!e.uses_t);
    cr_assert_float_eq(pl_expr_eval(&e, 36, 0), 10.0, 1e-12);
    pl_expr_fini(&e);

    compile("2 * pi * clamp(-1, 0, 3) + sqrt(16)", &e);
    cr_assert_eq(e.ncode, 1);
    cr_assert_float_eq(pl_expr_eval(&e, 0, 0), 4.0, 1e-12);
    cr_assert(!e.uses_value);
    pl_expr_fini(&e);

    compile("t > 100 && -(-2)", &e);
    cr_assert(e.uses_t);
    cr_assert(!e.uses_value);
    cr_assert_eq(e.ncode, 5, "t, 100, gt, 2, and: %u instructions", e.ncode);
    cr_assert_eq(pl_expr_eval(&e, 0, 101), 1.0);
    cr_assert_eq(pl_expr_eval(&e, 0, 99), 0.0);
    pl_expr_fini(&e);
    pl_expr_fini(&e); /* twice is harmless */
    pl_expr_fini(NULL);
}

Test(pl_expr, nests_within_its_limits)
{
    char text[PL_EXPR_MAX_LEN + 1];
    /* 60 levels of parentheses around a value: fine. */
    int n = 60, len = 0;
    for (int i = 0; i < n; i++)
        text[len++] = '(';
    len += snprintf(text + len, sizeof text - (size_t)len, "value+1");
    for (int i = 0; i < n; i++)
        text[len++] = ')';
    text[len] = '\0';
    cr_assert_float_eq(eval1(text, 1, 0), 2.0, 1e-12);

    /* Exactly PL_EXPR_MAX_LEN bytes: fine. */
    memset(text, ' ', PL_EXPR_MAX_LEN);
    text[PL_EXPR_MAX_LEN] = '\0';
    text[0] = '1';
    cr_assert_eq(eval1(text, 0, 0), 1.0);
}

typedef struct err_case {
    const char *text;
    const char *want; /* the whole message */
} err_case_t;

Test(pl_expr, says_where_and_what_was_expected)
{
    static const err_case_t c[] = {
        {"value * * 3", "expr 'value * * 3': column 9: expected a number, a name or '('"},
        {"", "expr '': column 1: expected a number, a name or '('"},
        {"   ", "expr '   ': column 4: expected a number, a name or '('"},
        {"value +", "expr 'value +': column 8: expected a number, a name or '('"},
        {"(1 + 2", "expr '(1 + 2': column 7: expected an operator or ')'"},
        {"1 + 2)", "expr '1 + 2)': column 6: ')' without its '('"},
        {"value 3", "expr 'value 3': column 7: expected an operator or the end"},
        {"value # 2", "expr 'value # 2': column 7: expected an operator or the end"},
        {"2x", "expr '2x': column 2: expected an operator or the end"},
        {"valu * 2",
         "expr 'valu * 2': column 1: unknown name 'valu' (names: value, t, pi, e, nan, inf)"},
        {"1 + foo(1)", "expr '1 + foo(1)': column 5: unknown function 'foo' (functions: abs, "
                       "sqrt, exp, log, log10, floor, ceil, round, trunc, sin, cos, tan, isnan, "
                       "atan2, hypot, min, max, clamp)"},
        {"abs", "expr 'abs': column 1: 'abs' is a function: call it as abs(...)"},
        {"value(2)", "expr 'value(2)': column 1: unknown function 'value' (functions: abs, "
                     "sqrt, exp, log, log10, floor, ceil, round, trunc, sin, cos, tan, isnan, "
                     "atan2, hypot, min, max, clamp)"},
        {"clamp(1, 2)", "expr 'clamp(1, 2)': column 1: clamp takes 3 arguments, not 2"},
        {"2 * sqrt()", "expr '2 * sqrt()': column 5: sqrt takes 1 argument, not 0"},
        {"min(1)", "expr 'min(1)': column 1: min takes at least 2 arguments, not 1"},
        {"max(1, 2", "expr 'max(1, 2': column 9: expected an operator, ',' or ')'"},
        {"max(1 2)", "expr 'max(1 2)': column 7: expected an operator, ',' or ')'"},
        {"value = 3", "expr 'value = 3': column 7: '=' is not an operator (did you mean '=='?)"},
        {"value & 1", "expr 'value & 1': column 7: '&' is not an operator (did you mean '&&'?)"},
        {"value | 1", "expr 'value | 1': column 7: '|' is not an operator (did you mean '||'?)"},
        {"1e+", "expr '1e+': column 1: bad number '1e+': expected digits after the exponent"},
        {"value * 2e", "expr 'value * 2e': column 9: bad number '2e': expected digits after "
                       "the exponent"},
        {"1e999", "expr '1e999': column 1: number '1e999' is out of range"},
        {"value >> 2", "expr 'value >> 2': column 8: expected a number, a name or '('"},
        {"()", "expr '()': column 2: expected a number, a name or '('"},
        {"1 +\n* 2", "expr '1 +\n* 2': column 5: expected a number, a name or '('"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        pw_err_t err = {0};
        pl_expr_t e = {0};
        int rc = pl_expr_compile(c[i].text, &e, &err);
        cr_expect_eq(rc, PW_ECONF, "'%s' compiled", c[i].text);
        cr_expect_str_eq(err.msg, c[i].want);
        cr_expect_null(e.code, "output touched on failure");
    }
}

Test(pl_expr, refuses_what_is_too_long_or_too_deep)
{
    pw_err_t err = {0};
    pl_expr_t e = {0};
    cr_assert_eq(pl_expr_compile(NULL, &e, &err), PW_ECONF);
    cr_assert_str_eq(err.msg, "expr is missing");

    char text[1024];
    int len = 0;
    while (len < 600)
        len += snprintf(text + len, sizeof text - (size_t)len, "1+");
    text[len++] = '1';
    text[len] = '\0';
    cr_assert_eq(pl_expr_compile(text, &e, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "is 601 bytes, longer than the limit of 512"), "%s", err.msg);

    len = 0;
    for (int i = 0; i < 70; i++)
        text[len++] = '(';
    text[len++] = '1';
    for (int i = 0; i < 70; i++)
        text[len++] = ')';
    text[len] = '\0';
    cr_assert_eq(pl_expr_compile(text, &e, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "': column 65: nested more than 64 deep"), "%s", err.msg);

    /* Deep through unary minus and powers too (right-associative). */
    len = 0;
    for (int i = 0; i < 80; i++)
        text[len++] = '-';
    text[len++] = '1';
    text[len] = '\0';
    cr_assert_eq(pl_expr_compile(text, &e, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "nested more than 64 deep"), "%s", err.msg);
    len = 0;
    for (int i = 0; i < 80; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "t^");
    text[len++] = 't';
    text[len] = '\0';
    cr_assert_eq(pl_expr_compile(text, &e, &err), PW_ECONF);
    cr_assert(strstr(err.msg, "nested more than 64 deep"), "%s", err.msg);
    cr_assert_null(e.code);
}
