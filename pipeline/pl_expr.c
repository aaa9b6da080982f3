/*
 * pl_expr: recursive-descent compiler to a stack bytecode, and its
 * evaluator. The bytecode has no jumps: && and || evaluate both sides (no
 * side effects exist), and the k-th CONST instruction pushes konst[k], so
 * an instruction is one byte.
 */
#include "pipeline/pl_expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OP_CONST, OP_VALUE, OP_T,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW,
    OP_NEG, OP_NOT,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR,
    OP_ABS, OP_SQRT, OP_EXP, OP_LOG, OP_LOG10, OP_FLOOR, OP_CEIL, OP_ROUND,
    OP_TRUNC, OP_SIN, OP_COS, OP_TAN, OP_ISNAN,
    OP_ATAN2, OP_HYPOT, OP_MIN, OP_MAX, OP_CLAMP,
    OP_COUNT
};

/* Values each instruction takes from the stack (it pushes one). */
static const uint8_t op_arity[OP_COUNT] = {
    [OP_CONST] = 0, [OP_VALUE] = 0, [OP_T] = 0,
    [OP_ADD] = 2, [OP_SUB] = 2, [OP_MUL] = 2, [OP_DIV] = 2, [OP_MOD] = 2, [OP_POW] = 2,
    [OP_NEG] = 1, [OP_NOT] = 1,
    [OP_LT] = 2, [OP_LE] = 2, [OP_GT] = 2, [OP_GE] = 2, [OP_EQ] = 2, [OP_NE] = 2,
    [OP_AND] = 2, [OP_OR] = 2,
    [OP_ABS] = 1, [OP_SQRT] = 1, [OP_EXP] = 1, [OP_LOG] = 1, [OP_LOG10] = 1,
    [OP_FLOOR] = 1, [OP_CEIL] = 1, [OP_ROUND] = 1, [OP_TRUNC] = 1, [OP_SIN] = 1,
    [OP_COS] = 1, [OP_TAN] = 1, [OP_ISNAN] = 1,
    [OP_ATAN2] = 2, [OP_HYPOT] = 2, [OP_MIN] = 2, [OP_MAX] = 2, [OP_CLAMP] = 3,
};

typedef struct fn {
    const char *name;
    uint8_t op;
    uint8_t min_args, max_args; /* max 0 = any number (folded pairwise) */
} fn_t;

static const fn_t fns[] = {
    {"abs", OP_ABS, 1, 1},     {"sqrt", OP_SQRT, 1, 1},   {"exp", OP_EXP, 1, 1},
    {"log", OP_LOG, 1, 1},     {"log10", OP_LOG10, 1, 1}, {"floor", OP_FLOOR, 1, 1},
    {"ceil", OP_CEIL, 1, 1},   {"round", OP_ROUND, 1, 1}, {"trunc", OP_TRUNC, 1, 1},
    {"sin", OP_SIN, 1, 1},     {"cos", OP_COS, 1, 1},     {"tan", OP_TAN, 1, 1},
    {"isnan", OP_ISNAN, 1, 1}, {"atan2", OP_ATAN2, 2, 2}, {"hypot", OP_HYPOT, 2, 2},
    {"min", OP_MIN, 2, 0},     {"max", OP_MAX, 2, 0},     {"clamp", OP_CLAMP, 3, 3},
};
#define NFNS (sizeof fns / sizeof fns[0])

#define FN_LIST "abs, sqrt, exp, log, log10, floor, ceil, round, trunc, sin, cos, tan, " \
                "isnan, atan2, hypot, min, max, clamp"
#define NAME_LIST "value, t, pi, e, nan, inf"

/* Longest program: every instruction consumes at least one byte of text. */
#define MAX_CODE (PL_EXPR_MAX_LEN + 1)

/* ---- evaluation ------------------------------------------------------------ */

#define B(x) ((x) ? 1.0 : 0.0)

static inline int nan2(double a, double b) { return isnan(a) || isnan(b); }

double pl_expr_eval(const pl_expr_t *e, double value, double t_s)
{
    double st[PL_EXPR_MAX_STACK];
    double *sp = st; /* next free slot; sp[-1] is the top */
    const double *k = e->konst;
    if (e->ncode == 0)
        return NAN;
    for (const uint8_t *pc = e->code, *end = e->code + e->ncode; pc < end; pc++) {
        double a, b;
        switch (*pc) {
        case OP_CONST: *sp++ = *k++; break;
        case OP_VALUE: *sp++ = value; break;
        case OP_T: *sp++ = t_s; break;
        case OP_ADD: sp--; sp[-1] += sp[0]; break;
        case OP_SUB: sp--; sp[-1] -= sp[0]; break;
        case OP_MUL: sp--; sp[-1] *= sp[0]; break;
        case OP_DIV: sp--; sp[-1] /= sp[0]; break;
        case OP_MOD: sp--; sp[-1] = fmod(sp[-1], sp[0]); break;
        case OP_POW:
            sp--, a = sp[-1], b = sp[0];
            sp[-1] = nan2(a, b) ? NAN : pow(a, b);
            break;
        case OP_NEG: sp[-1] = -sp[-1]; break;
        case OP_NOT: a = sp[-1]; sp[-1] = isnan(a) ? NAN : B(a == 0.0); break;
#define CMP(OP, rel)                                                  \
        case OP:                                                      \
            sp--, a = sp[-1], b = sp[0];                              \
            sp[-1] = nan2(a, b) ? NAN : B(a rel b);                   \
            break;
        CMP(OP_LT, <) CMP(OP_LE, <=) CMP(OP_GT, >) CMP(OP_GE, >=)
        CMP(OP_EQ, ==) CMP(OP_NE, !=)
#undef CMP
        case OP_AND:
            sp--, a = sp[-1], b = sp[0];
            sp[-1] = (a == 0.0 || b == 0.0) ? 0.0 : nan2(a, b) ? NAN : 1.0;
            break;
        case OP_OR:
            sp--, a = sp[-1], b = sp[0];
            sp[-1] = (pl_expr_true(a) || pl_expr_true(b)) ? 1.0 : nan2(a, b) ? NAN : 0.0;
            break;
        case OP_ABS: sp[-1] = fabs(sp[-1]); break;
        case OP_SQRT: sp[-1] = sqrt(sp[-1]); break;
        case OP_EXP: sp[-1] = exp(sp[-1]); break;
        case OP_LOG: sp[-1] = log(sp[-1]); break;
        case OP_LOG10: sp[-1] = log10(sp[-1]); break;
        case OP_FLOOR: sp[-1] = floor(sp[-1]); break;
        case OP_CEIL: sp[-1] = ceil(sp[-1]); break;
        case OP_ROUND: sp[-1] = round(sp[-1]); break;
        case OP_TRUNC: sp[-1] = trunc(sp[-1]); break;
        case OP_SIN: sp[-1] = sin(sp[-1]); break;
        case OP_COS: sp[-1] = cos(sp[-1]); break;
        case OP_TAN: sp[-1] = tan(sp[-1]); break;
        case OP_ISNAN: sp[-1] = B(isnan(sp[-1])); break;
        case OP_ATAN2: sp--; sp[-1] = atan2(sp[-1], sp[0]); break;
        case OP_HYPOT:
            sp--, a = sp[-1], b = sp[0];
            sp[-1] = nan2(a, b) ? NAN : hypot(a, b);
            break;
        case OP_MIN:
            sp--, a = sp[-1], b = sp[0];
            sp[-1] = nan2(a, b) ? NAN : a < b ? a : b;
            break;
        case OP_MAX:
            sp--, a = sp[-1], b = sp[0];
            sp[-1] = nan2(a, b) ? NAN : a > b ? a : b;
            break;
        case OP_CLAMP: {
            sp -= 2;
            double x = sp[-1], lo = sp[0], hi = sp[1];
            sp[-1] = (isnan(x) || nan2(lo, hi)) ? NAN : x < lo ? lo : x > hi ? hi : x;
            break;
        }
        default:
            return NAN; /* not reached: the compiler emits only the ops above */
        }
    }
    return sp[-1];
}

/* ---- compiler -------------------------------------------------------------- */

typedef struct cp {
    const char *s;   /* the text */
    size_t n;        /* its length */
    size_t i;        /* next byte */
    int depth;
    int sp, max_sp;  /* stack depth after the code so far, and its peak */
    size_t ncode, nkonst;
    bool uses_value, uses_t;
    pw_err_t *err;
    uint8_t code[MAX_CODE];
    double konst[MAX_CODE];
} cp_t;

/* Fail at byte position at (0-based) with a message. */
static int fail_at(cp_t *c, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(cp_t *c, size_t at, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return pw_err_set(c->err, PW_ECONF, "expr '%s': column %zu: %s", c->s, at + 1, what);
}

static void skip_ws(cp_t *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                           c->s[c->i] == '\r'))
        c->i++;
}

/* Whether the next bytes are tok (after blanks); consumes them if so. */
static bool accept(cp_t *c, const char *tok)
{
    skip_ws(c);
    size_t l = strlen(tok);
    if (c->n - c->i >= l && memcmp(c->s + c->i, tok, l) == 0) {
        c->i += l;
        return true;
    }
    return false;
}

/* Whether the next byte is ch and the one after it is not in not_next;
 * consumes ch if so. */
static bool accept1(cp_t *c, char ch, const char *not_next)
{
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != ch)
        return false;
    char next = c->i + 1 < c->n ? c->s[c->i + 1] : '\0';
    if (next != '\0' && strchr(not_next, next) != NULL)
        return false;
    c->i++;
    return true;
}

static int push_const(cp_t *c, double v, size_t at)
{
    if (c->ncode >= MAX_CODE)
        return fail_at(c, at, "the expression is too long");
    if (c->sp + 1 > PL_EXPR_MAX_STACK)
        return fail_at(c, at, "needs more than %d values on the stack", PL_EXPR_MAX_STACK);
    c->code[c->ncode++] = OP_CONST;
    c->konst[c->nkonst++] = v;
    if (++c->sp > c->max_sp)
        c->max_sp = c->sp;
    return 0;
}

/* Evaluate op on constant arguments with the evaluator itself, so folding
 * cannot disagree with evaluation. */
static double fold(uint8_t op, const double *args, int a)
{
    uint8_t code[4];
    double k[3];
    for (int j = 0; j < a; j++) {
        code[j] = OP_CONST;
        k[j] = args[j];
    }
    code[a] = op;
    pl_expr_t t = {.code = code, .konst = k, .ncode = (uint16_t)(a + 1),
                   .nkonst = (uint16_t)a, .stack = (uint16_t)a};
    return pl_expr_eval(&t, 0, 0);
}

/* Emit op (arity from the table), folding it when its inputs are constants. */
static int emit(cp_t *c, uint8_t op, size_t at)
{
    int a = op_arity[op];
    if (a > 0 && c->ncode >= (size_t)a) {
        bool all = true;
        for (int j = 1; j <= a; j++)
            all = all && c->code[c->ncode - (size_t)j] == OP_CONST;
        if (all) {
            double v = fold(op, &c->konst[c->nkonst - (size_t)a], a);
            c->ncode -= (size_t)a;
            c->nkonst -= (size_t)a;
            c->sp -= a;
            return push_const(c, v, at);
        }
    }
    if (c->ncode >= MAX_CODE)
        return fail_at(c, at, "the expression is too long");
    int push = a == 0;
    if (c->sp + push > PL_EXPR_MAX_STACK)
        return fail_at(c, at, "needs more than %d values on the stack", PL_EXPR_MAX_STACK);
    c->code[c->ncode++] = op;
    c->sp += push ? 1 : 1 - a;
    if (c->sp > c->max_sp)
        c->max_sp = c->sp;
    return 0;
}

static int parse_or(cp_t *c);
static int parse_unary(cp_t *c);

/* The text after a complete operand is not what may follow: explain.
 * expected: "an operator or ')'". */
static int not_operator(cp_t *c, const char *expected)
{
    skip_ws(c);
    size_t at = c->i;
    if (at < c->n) {
        char ch = c->s[at];
        char next = at + 1 < c->n ? c->s[at + 1] : 0;
        if (ch == '=' && next != '=')
            return fail_at(c, at, "'=' is not an operator (did you mean '=='?)");
        if (ch == '&' && next != '&')
            return fail_at(c, at, "'&' is not an operator (did you mean '&&'?)");
        if (ch == '|' && next != '|')
            return fail_at(c, at, "'|' is not an operator (did you mean '||'?)");
    }
    return fail_at(c, at, "expected %s", expected);
}

static bool is_name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int parse_number(cp_t *c)
{
    size_t at = c->i, j = c->i, digits = 0;
    while (j < c->n && is_digit(c->s[j]))
        j++, digits++;
    if (j < c->n && c->s[j] == '.') {
        j++;
        while (j < c->n && is_digit(c->s[j]))
            j++, digits++;
    }
    if (digits == 0)
        return fail_at(c, at, "expected a number, a name or '('");
    if (j < c->n && (c->s[j] == 'e' || c->s[j] == 'E')) {
        size_t x = j + 1;
        if (x < c->n && (c->s[x] == '+' || c->s[x] == '-'))
            x++;
        if (x >= c->n || !is_digit(c->s[x]))
            return fail_at(c, at, "bad number '%.*s': expected digits after the exponent",
                           (int)(x - at), c->s + at);
        while (x < c->n && is_digit(c->s[x]))
            x++;
        j = x;
    }
    char buf[PL_EXPR_MAX_LEN + 1];
    memcpy(buf, c->s + at, j - at);
    buf[j - at] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno == ERANGE && isinf(v))
        return fail_at(c, at, "number '%s' is out of range", buf);
    c->i = j;
    return push_const(c, v, at);
}

/* name(args): the '(' has been consumed. */
static int parse_call(cp_t *c, const fn_t *f, size_t at)
{
    int nargs = 0;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == ')') {
        c->i++;
    } else {
        for (;;) {
            int rc = parse_or(c);
            if (rc)
                return rc;
            nargs++;
            /* min/max of many: fold pairwise as the arguments come. */
            if (f->max_args == 0 && nargs >= 2 && (rc = emit(c, f->op, at)) != 0)
                return rc;
            if (accept(c, ","))
                continue;
            if (accept(c, ")"))
                break;
            return not_operator(c, "an operator, ',' or ')'");
        }
    }
    if (nargs < f->min_args || (f->max_args && nargs > f->max_args)) {
        if (f->max_args == 0)
            return fail_at(c, at, "%s takes at least %d arguments, not %d", f->name,
                           f->min_args, nargs);
        return fail_at(c, at, "%s takes %d argument%s, not %d", f->name, f->min_args,
                       f->min_args == 1 ? "" : "s", nargs);
    }
    return f->max_args == 0 ? 0 : emit(c, f->op, at);
}

static int parse_name(cp_t *c)
{
    size_t at = c->i, j = c->i;
    while (j < c->n && (is_name_start(c->s[j]) || is_digit(c->s[j])))
        j++;
    const char *nm = c->s + at;
    size_t len = j - at;
    c->i = j;
    skip_ws(c);
    bool call = c->i < c->n && c->s[c->i] == '(';
    const fn_t *f = NULL;
    for (size_t k = 0; k < NFNS; k++)
        if (strlen(fns[k].name) == len && memcmp(fns[k].name, nm, len) == 0)
            f = &fns[k];
    if (call) {
        if (f == NULL)
            return fail_at(c, at, "unknown function '%.*s' (functions: " FN_LIST ")",
                           (int)len, nm);
        c->i++;
        return parse_call(c, f, at);
    }
    if (f)
        return fail_at(c, at, "'%s' is a function: call it as %s(...)", f->name, f->name);
#define IS(word) (len == sizeof(word) - 1 && memcmp(nm, word, len) == 0)
    if (IS("value")) {
        c->uses_value = true;
        return emit(c, OP_VALUE, at);
    }
    if (IS("t")) {
        c->uses_t = true;
        return emit(c, OP_T, at);
    }
    if (IS("pi"))
        return push_const(c, 3.14159265358979323846, at);
    if (IS("e"))
        return push_const(c, 2.71828182845904523536, at);
    if (IS("nan"))
        return push_const(c, NAN, at);
    if (IS("inf"))
        return push_const(c, INFINITY, at);
#undef IS
    return fail_at(c, at, "unknown name '%.*s' (names: " NAME_LIST ")", (int)len, nm);
}

static int parse_primary(cp_t *c)
{
    skip_ws(c);
    size_t at = c->i;
    if (at >= c->n)
        return fail_at(c, at, "expected a number, a name or '('");
    char ch = c->s[at];
    if (is_digit(ch) || (ch == '.' && at + 1 < c->n && is_digit(c->s[at + 1])))
        return parse_number(c);
    if (is_name_start(ch))
        return parse_name(c);
    if (ch == '(') {
        c->i++;
        int rc = parse_or(c);
        if (rc)
            return rc;
        if (!accept(c, ")"))
            return not_operator(c, "an operator or ')'");
        return 0;
    }
    return fail_at(c, at, "expected a number, a name or '('");
}

/* primary [^ unary]: right-associative, and its right side may be negative. */
static int parse_pow(cp_t *c)
{
    int rc = parse_primary(c);
    if (rc)
        return rc;
    skip_ws(c);
    size_t at = c->i;
    if (accept(c, "^")) {
        if ((rc = parse_unary(c)) != 0)
            return rc;
        return emit(c, OP_POW, at);
    }
    return 0;
}

/* Every recursion passes through here, so the depth bound lives here. */
static int parse_unary(cp_t *c)
{
    skip_ws(c);
    size_t at = c->i;
    if (++c->depth > PL_EXPR_MAX_DEPTH)
        return fail_at(c, at, "nested more than %d deep", PL_EXPR_MAX_DEPTH);
    int rc;
    if (accept1(c, '-', "")) {
        rc = parse_unary(c);
        if (rc == 0)
            rc = emit(c, OP_NEG, at);
    } else if (accept1(c, '+', "")) {
        rc = parse_unary(c);
    } else if (accept1(c, '!', "=")) {
        rc = parse_unary(c);
        if (rc == 0)
            rc = emit(c, OP_NOT, at);
    } else {
        rc = parse_pow(c);
    }
    c->depth--;
    return rc;
}

static int parse_mul(cp_t *c)
{
    int rc = parse_unary(c);
    while (rc == 0) {
        skip_ws(c);
        size_t at = c->i;
        uint8_t op;
        if (accept(c, "*"))
            op = OP_MUL;
        else if (accept(c, "/"))
            op = OP_DIV;
        else if (accept(c, "%"))
            op = OP_MOD;
        else
            break;
        if ((rc = parse_unary(c)) == 0)
            rc = emit(c, op, at);
    }
    return rc;
}

static int parse_add(cp_t *c)
{
    int rc = parse_mul(c);
    while (rc == 0) {
        skip_ws(c);
        size_t at = c->i;
        uint8_t op;
        if (accept(c, "+"))
            op = OP_ADD;
        else if (accept(c, "-"))
            op = OP_SUB;
        else
            break;
        if ((rc = parse_mul(c)) == 0)
            rc = emit(c, op, at);
    }
    return rc;
}

static int parse_rel(cp_t *c)
{
    int rc = parse_add(c);
    while (rc == 0) {
        skip_ws(c);
        size_t at = c->i;
        uint8_t op;
        if (accept(c, "<="))
            op = OP_LE;
        else if (accept(c, ">="))
            op = OP_GE;
        else if (accept(c, "<"))
            op = OP_LT;
        else if (accept(c, ">"))
            op = OP_GT;
        else
            break;
        if ((rc = parse_add(c)) == 0)
            rc = emit(c, op, at);
    }
    return rc;
}

static int parse_eq(cp_t *c)
{
    int rc = parse_rel(c);
    while (rc == 0) {
        skip_ws(c);
        size_t at = c->i;
        uint8_t op;
        if (accept(c, "=="))
            op = OP_EQ;
        else if (accept(c, "!="))
            op = OP_NE;
        else
            break;
        if ((rc = parse_rel(c)) == 0)
            rc = emit(c, op, at);
    }
    return rc;
}

static int parse_and(cp_t *c)
{
    int rc = parse_eq(c);
    while (rc == 0) {
        skip_ws(c);
        size_t at = c->i;
        if (!accept(c, "&&"))
            break;
        if ((rc = parse_eq(c)) == 0)
            rc = emit(c, OP_AND, at);
    }
    return rc;
}

static int parse_or(cp_t *c)
{
    int rc = parse_and(c);
    while (rc == 0) {
        skip_ws(c);
        size_t at = c->i;
        if (!accept(c, "||"))
            break;
        if ((rc = parse_and(c)) == 0)
            rc = emit(c, OP_OR, at);
    }
    return rc;
}

int pl_expr_compile(const char *text, pl_expr_t *out, pw_err_t *err)
{
    if (text == NULL)
        return pw_err_set(err, PW_ECONF, "expr is missing");
    size_t n = strlen(text);
    if (n > PL_EXPR_MAX_LEN)
        return pw_err_set(err, PW_ECONF, "expr '%.40s...' is %zu bytes, longer than the "
                          "limit of %d", text, n, PL_EXPR_MAX_LEN);
    cp_t *c = malloc(sizeof *c);
    if (c == NULL)
        return pw_err_set(err, -ENOMEM, "out of memory compiling an expression");
    memset(c, 0, offsetof(cp_t, code));
    c->s = text;
    c->n = n;
    c->err = err;
    int rc = parse_or(c);
    if (rc == 0) {
        skip_ws(c);
        if (c->i < c->n)
            rc = c->s[c->i] == ')' ? fail_at(c, c->i, "')' without its '('")
                                   : not_operator(c, "an operator or the end");
    }
    if (rc) {
        free(c);
        return rc;
    }
    uint8_t *code = malloc(c->ncode);
    double *konst = c->nkonst ? malloc(c->nkonst * sizeof *konst) : NULL;
    if (code == NULL || (c->nkonst && konst == NULL)) {
        free(code);
        free(konst);
        free(c);
        return pw_err_set(err, -ENOMEM, "out of memory compiling an expression");
    }
    memcpy(code, c->code, c->ncode);
    if (c->nkonst)
        memcpy(konst, c->konst, c->nkonst * sizeof *konst);
    *out = (pl_expr_t){
        .code = code, .konst = konst, .ncode = (uint16_t)c->ncode,
        .nkonst = (uint16_t)c->nkonst, .stack = (uint16_t)c->max_sp,
        .uses_value = c->uses_value, .uses_t = c->uses_t,
    };
    free(c);
    return 0;
}

void pl_expr_fini(pl_expr_t *e)
{
    if (e == NULL)
        return;
    free(e->code);
    free(e->konst);
    memset(e, 0, sizeof *e);
}
