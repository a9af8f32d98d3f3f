/* Arithmetic: add, sub, mul, div with NumPy broadcasting, neg, pow, and the
 * scalar forms. Inputs of mixed dtypes are cast to NumPy's result dtype first
 * (promote.h), and the casts carry each grad back to its input's dtype.
 * Backwards sum the grad back to each input's shape (sum_to), for the inputs
 * that need a grad. */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "dezero/shape.h"
#include "../core/op_helpers.h"
#include "promote.h"


static dz_variable *apply_same_dtype(const dz_function_ops *ops, dz_binary_op op, dz_variable *a,
                                     dz_variable *b)
{
    dz_variable *in[2] = {a, b};
    return dz_function_apply1(ops, 2, in, dz_array_binary(op, a->data, b->data), 0, NULL);
}

/* a op b in the promoted dtype: inputs of another dtype are cast first, in a
 * scope that keeps only the result. */
static dz_variable *apply_binary(const dz_function_ops *ops, dz_binary_op op, dz_variable *a, dz_variable *b)
{
    if (!dz_check_binary(ops->name, a, b))
        return NULL;
    dz_dtype dtype = dz_promote_types(a->data->dtype, b->data->dtype, op == DZ_BINARY_DIV);
    if (a->data->dtype == dtype && b->data->dtype == dtype)
        return apply_same_dtype(ops, op, a, b);
    dz_scope_begin();
    dz_variable *pa = dz_promote(a, dtype), *pb = dz_promote(b, dtype);
    return dz_composite_result(pa && pb ? apply_same_dtype(ops, op, pa, pb) : NULL);
}

static dz_variable *apply_unary(const dz_function_ops *ops, dz_unary_op op, dz_variable *x, double p)
{
    dz_variable *in[1] = {x};
    return dz_function_apply1(ops, 1, in, dz_array_unary(op, x->data, p), p, NULL);
}

/* y = op(x, p) in the dtype NumPy gives x `kind` c (c is the user's scalar,
 * p the kernel's: -c for sub_scalar), x cast to it first where it differs. */
static dz_variable *apply_scalar(const char *name, const dz_function_ops *ops, dz_unary_op op, dz_variable *x,
                                 double c, double p, dz_scalar_kind kind)
{
    dz_dtype dtype;
    if (!dz_check_variable(name, x) || !dz_scalar_result_dtype(name, x->data->dtype, c, kind, &dtype))
        return NULL;
    if (x->data->dtype == dtype)
        return apply_unary(ops, op, x, p);
    dz_scope_begin();
    dz_variable *px = dz_promote(x, dtype);
    return dz_composite_result(px ? apply_unary(ops, op, px, p) : NULL);
}

/* add: y = a + b; ga = sum_to(gy), gb = sum_to(gy) */
static void add_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    if (dz_needs_grad(IN(f, 0)))
        gx[0] = dz_sum_to(gy[0], SHAPE_OF(IN(f, 0)));
    if (dz_needs_grad(IN(f, 1)))
        gx[1] = dz_sum_to(gy[0], SHAPE_OF(IN(f, 1)));
}
static const dz_function_ops add_ops = {"dz_add", add_backward, NULL, NULL, "Add"};
dz_variable *dz_add(dz_variable *a, dz_variable *b) { return apply_binary(&add_ops, DZ_BINARY_ADD, a, b); }

/* sub: y = a - b; ga = sum_to(gy), gb = sum_to(-gy) */
static void sub_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    if (dz_needs_grad(IN(f, 0)))
        gx[0] = dz_sum_to(gy[0], SHAPE_OF(IN(f, 0)));
    if (dz_needs_grad(IN(f, 1)))
        gx[1] = dz_sum_to(dz_neg(gy[0]), SHAPE_OF(IN(f, 1)));
}
static const dz_function_ops sub_ops = {"dz_sub", sub_backward, NULL, NULL, "Sub"};
dz_variable *dz_sub(dz_variable *a, dz_variable *b) { return apply_binary(&sub_ops, DZ_BINARY_SUB, a, b); }

/* mul: y = a * b; ga = sum_to(gy * b), gb = sum_to(gy * a) */
static void mul_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    if (dz_needs_grad(IN(f, 0)))
        gx[0] = dz_sum_to(dz_mul(gy[0], IN(f, 1)), SHAPE_OF(IN(f, 0)));
    if (dz_needs_grad(IN(f, 1)))
        gx[1] = dz_sum_to(dz_mul(gy[0], IN(f, 0)), SHAPE_OF(IN(f, 1)));
}
static const dz_function_ops mul_ops = {"dz_mul", mul_backward, NULL, NULL, "Mul"};
dz_variable *dz_mul(dz_variable *a, dz_variable *b) { return apply_binary(&mul_ops, DZ_BINARY_MUL, a, b); }

/* div: y = a / b; ga = sum_to(gy / b), gb = sum_to(-gy * a / b^2) */
static void div_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *a = IN(f, 0), *b = IN(f, 1);
    if (dz_needs_grad(a))
        gx[0] = dz_sum_to(dz_div(gy[0], b), SHAPE_OF(a));
    if (dz_needs_grad(b))
        gx[1] = dz_sum_to(dz_mul(gy[0], dz_div(dz_neg(a), dz_square(b))), SHAPE_OF(b));
}
static const dz_function_ops div_ops = {"dz_div", div_backward, NULL, NULL, "Div"};
dz_variable *dz_div(dz_variable *a, dz_variable *b) { return apply_binary(&div_ops, DZ_BINARY_DIV, a, b); }

/* neg: y = -x; gx = -gy */
static void neg_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    (void)f;
    gx[0] = dz_neg(gy[0]);
}
static const dz_function_ops neg_ops = {"dz_neg", neg_backward, NULL, NULL, "Neg"};
dz_variable *dz_neg(dz_variable *x)
{
    return dz_check_variable("dz_neg", x) ? apply_unary(&neg_ops, DZ_UNARY_NEG, x, 0) : NULL;
}

/* pow: y = x^c; gx = c * x^(c-1) * gy. An integer x has c >= 0 and for
 * c = 0 gets gx = 0 (x^(c-1) would be a float). */
static void pow_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    double c = f->scalar;
    if (c == 0 && dz_dtype_is_integer(IN(f, 0)->data->dtype))
        gx[0] = dz_mul_scalar(gy[0], 0);
    else
        gx[0] = dz_mul(dz_mul_scalar(dz_pow(IN(f, 0), c - 1), c), gy[0]);
}
static const dz_function_ops pow_ops = {"dz_pow", pow_backward, NULL, NULL, "Pow"};
dz_variable *dz_pow(dz_variable *x, double c)
{
    return apply_scalar("dz_pow", &pow_ops, DZ_UNARY_POW, x, c, c, DZ_SCALAR_POWER);
}

/* add_scalar: y = x + c; gx = gy */
static void add_scalar_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    (void)f;
    gx[0] = dz_identity_result(gy[0]);
}
static const dz_function_ops add_scalar_ops = {"dz_add_scalar", add_scalar_backward, NULL, NULL, "Add"};
dz_variable *dz_add_scalar(dz_variable *x, double c)
{
    return apply_scalar("dz_add_scalar", &add_scalar_ops, DZ_UNARY_ADD_SCALAR, x, c, c, DZ_SCALAR_ARITH);
}
/* sub_scalar: y = x + (-c), an add_scalar node (-c wraps for integers) */
dz_variable *dz_sub_scalar(dz_variable *x, double c)
{
    return apply_scalar("dz_sub_scalar", &add_scalar_ops, DZ_UNARY_ADD_SCALAR, x, c, -c, DZ_SCALAR_ARITH);
}

/* mul_scalar: y = x * c; gx = gy * c */
static void mul_scalar_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul_scalar(gy[0], f->scalar);
}
static const dz_function_ops mul_scalar_ops = {"dz_mul_scalar", mul_scalar_backward, NULL, NULL, "Mul"};
dz_variable *dz_mul_scalar(dz_variable *x, double c)
{
    return apply_scalar("dz_mul_scalar", &mul_scalar_ops, DZ_UNARY_MUL_SCALAR, x, c, c, DZ_SCALAR_ARITH);
}

/* div_scalar: y = x / c, a true division as NumPy's (not x * (1 / c));
 * gx = gy / c */
static void div_scalar_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_div_scalar(gy[0], f->scalar);
}
static const dz_function_ops div_scalar_ops = {"dz_div_scalar", div_scalar_backward, NULL, NULL, "Div"};
dz_variable *dz_div_scalar(dz_variable *x, double c)
{
    return apply_scalar("dz_div_scalar", &div_scalar_ops, DZ_UNARY_DIV_SCALAR, x, c, c, DZ_SCALAR_DIVIDE);
}

/* rsub_scalar: y = c - x; gx = -gy */
static const dz_function_ops rsub_scalar_ops = {"dz_rsub_scalar", neg_backward, NULL, NULL, "Sub"};
dz_variable *dz_rsub_scalar(double c, dz_variable *x)
{
    return apply_scalar("dz_rsub_scalar", &rsub_scalar_ops, DZ_UNARY_RSUB_SCALAR, x, c, c, DZ_SCALAR_ARITH);
}

/* rdiv_scalar: y = c / x; gx = gy * (-c / x^2) */
static void rdiv_scalar_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_rdiv_scalar(-f->scalar, dz_square(IN(f, 0))));
}
static const dz_function_ops rdiv_scalar_ops = {"dz_rdiv_scalar", rdiv_scalar_backward, NULL, NULL, "Div"};
dz_variable *dz_rdiv_scalar(double c, dz_variable *x)
{
    return apply_scalar("dz_rdiv_scalar", &rdiv_scalar_ops, DZ_UNARY_RDIV_SCALAR, x, c, c, DZ_SCALAR_DIVIDE);
}
