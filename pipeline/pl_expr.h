/*
 * pl_expr: a tiny arithmetic expression language for operators (filter's
 * `where`, compute's `expr`), compiled once at init to a small stack
 * bytecode and evaluated per record without allocating.
 *
 * The language, lowest precedence first:
 *   a || b                      logical or
 *   a && b                      logical and
 *   a == b, a != b              equality
 *   a < b, a <= b, a > b, a >= b
 *   a + b, a - b
 *   a * b, a / b, a % b         (% is fmod: the sign of a)
 *   -a, +a, !a                  unary
 *   a ^ b                       power, right-associative, binds tighter
 *                               than unary minus: -2^2 = -4, 2^-1 = 0.5,
 *                               2^3^2 = 512
 *   numbers (1, 2.5, .5, 1e-3), names, f(args), (a)
 * Binary operators of one level associate to the left, as in C.
 *
 * Names: the variables `value` (the record's value) and `t` (its event
 * time in seconds since the epoch, a double); the constants pi, e, nan
 * and inf. Functions: abs sqrt exp log (natural) log10 floor ceil round
 * (half away from zero) trunc sin cos tan (radians) of one argument;
 * atan2(y, x), hypot(x, y) of two; min(a, b, ...) and max(a, b, ...) of two
 * or more; clamp(x, lo, hi); isnan(x).
 *
 * Truth: false is 0.0, true is 1.0; a value is true when it is non-zero
 * and not NaN. NaN propagates: arithmetic, every function but isnan, and
 * comparisons with a NaN operand give NaN (so `!(value > 3)` does not let
 * a missing reading through); pow, hypot, min, max and clamp give NaN for
 * a NaN argument too (C's would not always). && and || treat NaN as
 * "unknown" (Kleene logic): 0 && NaN = 0, 1 || NaN = 1, 1 && NaN = NaN,
 * 0 || NaN = NaN, !NaN = NaN. isnan(x) is always 0 or 1.
 *
 * Limits, checked at compile: text at most PL_EXPR_MAX_LEN bytes, nesting
 * (parentheses, calls, unary operators, powers) at most PL_EXPR_MAX_DEPTH,
 * at most PL_EXPR_MAX_STACK values on the evaluation stack. Constant
 * subexpressions are folded at compile (`value * (1000 / 3600)` is one
 * multiplication).
 *
 * Errors name the expression, the 1-based byte column and what was
 * expected: "expr 'value * * 3': column 9: expected a number, a name or
 * '('".
 *
 * Threads: a compiled expression is read-only; any number of threads may
 * evaluate it at once.
 */
#ifndef PL_EXPR_H
#define PL_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pw_error.h"

/* Longest expression text, bytes. */
#define PL_EXPR_MAX_LEN 512

/* Deepest nesting of parentheses, calls, unary operators and powers. */
#define PL_EXPR_MAX_DEPTH 64

/* Most values on the evaluation stack at once. */
#define PL_EXPR_MAX_STACK 64

/* A compiled expression. Caller's memory; fields are read-only to users. */
typedef struct pl_expr {
    uint8_t *code;   /* owned: ncode instructions */
    double *konst;   /* owned: constants, in the order the code pushes them */
    uint16_t ncode;
    uint16_t nkonst;
    uint16_t stack;  /* deepest stack the code reaches */
    bool uses_value; /* the expression reads `value` */
    bool uses_t;     /* the expression reads `t`: callers may skip computing it */
} pl_expr_t;

/*
 * Compile text (NUL-terminated) into *out. Returns 0, PW_ECONF with the
 * message in err (syntax, unknown name, wrong argument count, limits), or
 * -ENOMEM. On success *out owns memory: free it with pl_expr_fini(). On
 * failure *out is untouched. Thread-safe.
 */
int pl_expr_compile(const char *text, pl_expr_t *out, pw_err_t *err);

/*
 * Evaluate a compiled expression for one record: value, and t_s (event
 * time in seconds; pass anything when e->uses_t is false). Never
 * allocates, never fails; NaN is a result like any other.
 */
double pl_expr_eval(const pl_expr_t *e, double value, double t_s);

/* Free what pl_expr_compile() gave *e and zero it. NULL, a zeroed or an
 * already finalised expression do nothing. */
void pl_expr_fini(pl_expr_t *e);

/* Whether x counts as true: non-zero and not NaN. */
static inline bool pl_expr_true(double x) { return x == x && x != 0.0; }

#endif
