/* Elementwise math: exp, log, sin, cos, tanh, square, sqrt, abs, log1p,
 * expm1. Each backward is
 * written with differentiable ops, so these differentiate to any order; sin,
 * cos, tanh and square also have a one-pass kernel for when no graph is
 * recorded. */
#include "../core/array_ops.h"
#include "../core/op_helpers.h"
#include "checks.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/math.h"


static dz_variable *apply_math(const dz_function_ops *ops, dz_unary_op op, dz_variable *x)
{
    if (!dz_check_float(ops->name, x))
        return NULL;
    dz_variable *in[1] = {x};
    return dz_function_apply1(ops, 1, in, dz_array_unary(op, x->data, 0), 0, NULL);
}

/* exp: y = e^x; gx = gy * y */
static void exp_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], OUT(f));
}
static const dz_function_ops exp_ops = {"dz_exp", exp_backward, NULL, NULL, "Exp"};
dz_variable *dz_exp(dz_variable *x) { return apply_math(&exp_ops, DZ_UNARY_EXP, x); }

/* log: y = ln x; gx = gy / x */
static void log_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_div(gy[0], IN(f, 0));
}
static const dz_function_ops log_ops = {"dz_log", log_backward, NULL, NULL, "Log"};
dz_variable *dz_log(dz_variable *x) { return apply_math(&log_ops, DZ_UNARY_LOG, x); }

/* The fast backwards: gx = op(gy, v) in one pass, the same bits as the
 * composite; a gy of another shape or dtype takes the composite. */
static void fused_grad(dz_binary_op op, dz_function *f, dz_variable *v, dz_variable *const *gy, dz_variable **gx)
{
    if (gy[0]->data->dtype != v->data->dtype || !dz_array_same_shape(gy[0]->data, v->data))
        f->ops->backward(f, gy, gx);
    else
        gx[0] = dz_raw_result(dz_array_binary(op, gy[0]->data, v->data));
}

/* sin: y = sin x; gx = gy * cos x */
static void sin_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_cos(IN(f, 0)));
}
static void sin_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    fused_grad(DZ_BINARY_SIN_GRAD, f, IN(f, 0), gy, gx);
}
static const dz_function_ops sin_ops = {"dz_sin", sin_backward, NULL, sin_backward_fast, "Sin"};
dz_variable *dz_sin(dz_variable *x) { return apply_math(&sin_ops, DZ_UNARY_SIN, x); }

/* cos: y = cos x; gx = gy * -sin x */
static void cos_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_neg(dz_sin(IN(f, 0))));
}
static void cos_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    fused_grad(DZ_BINARY_COS_GRAD, f, IN(f, 0), gy, gx);
}
static const dz_function_ops cos_ops = {"dz_cos", cos_backward, NULL, cos_backward_fast, "Cos"};
dz_variable *dz_cos(dz_variable *x) { return apply_math(&cos_ops, DZ_UNARY_COS, x); }

/* one_minus_square: y = 1 - x^2 rounded once (fma), the bracket of tanh's
 * grad as PyTorch rounds it; gx = gy * -2x */
static void one_minus_square_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_mul_scalar(IN(f, 0), -2.0));
}
static const dz_function_ops one_minus_square_ops = {"one_minus_square", one_minus_square_backward, NULL, NULL,
                                                     "OneMinusSquare"};

/* tanh: y = tanh x; gx = gy * (1 - y^2) */
static void tanh_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], apply_math(&one_minus_square_ops, DZ_UNARY_ONE_MINUS_SQUARE, OUT(f)));
}
static void tanh_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    fused_grad(DZ_BINARY_TANH_GRAD, f, OUT(f), gy, gx);
}
static const dz_function_ops tanh_ops = {"dz_tanh", tanh_backward, NULL, tanh_backward_fast, "Tanh"};
dz_variable *dz_tanh(dz_variable *x) { return apply_math(&tanh_ops, DZ_UNARY_TANH, x); }

/* square: y = x^2; gx = gy * 2x */
static void square_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_mul_scalar(IN(f, 0), 2.0));
}
static void square_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    fused_grad(DZ_BINARY_SQUARE_GRAD, f, IN(f, 0), gy, gx);
}
static const dz_function_ops square_ops = {"dz_square", square_backward, NULL, square_backward_fast, "Square"};
dz_variable *dz_square(dz_variable *x)
{
    if (!dz_check_variable("dz_square", x))
        return NULL;
    dz_variable *in[1] = {x};
    return dz_function_apply1(&square_ops, 1, in, dz_array_unary(DZ_UNARY_SQUARE, x->data, 0), 0, NULL);
}

/* sqrt: y = sqrt x; gx = gy / (2y) */
static void sqrt_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_div(gy[0], dz_mul_scalar(OUT(f), 2.0));
}
static const dz_function_ops sqrt_ops = {"dz_sqrt", sqrt_backward, NULL, NULL, "Sqrt"};
dz_variable *dz_sqrt(dz_variable *x) { return apply_math(&sqrt_ops, DZ_UNARY_SQRT, x); }

/* abs: y = |x|; gx = gy * sign(x), 0 at x = 0 as in PyTorch (sign a constant) */
static void abs_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_constant(dz_array_unary(DZ_UNARY_SIGN, IN(f, 0)->data, 0)));
}
static const dz_function_ops abs_ops = {"dz_abs", abs_backward, NULL, NULL, "Abs"};
dz_variable *dz_abs(dz_variable *x)
{
    if (!dz_check_variable("dz_abs", x))
        return NULL;
    dz_variable *in[1] = {x};
    return dz_function_apply1(&abs_ops, 1, in, dz_array_unary(DZ_UNARY_ABS, x->data, 0), 0, NULL);
}

/* log1p: y = log(1 + x); gx = gy / (1 + x) */
static void log1p_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_div(gy[0], dz_add_scalar(IN(f, 0), 1.0));
}
static const dz_function_ops log1p_ops = {"dz_log1p", log1p_backward, NULL, NULL, "Log1p"};
dz_variable *dz_log1p(dz_variable *x) { return apply_math(&log1p_ops, DZ_UNARY_LOG1P, x); }

/* expm1: y = e^x - 1; gx = gy * (y + 1) */
static void expm1_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = dz_mul(gy[0], dz_add_scalar(OUT(f), 1.0));
}
static const dz_function_ops expm1_ops = {"dz_expm1", expm1_backward, NULL, NULL, "Expm1"};
dz_variable *dz_expm1(dz_variable *x) { return apply_math(&expm1_ops, DZ_UNARY_EXPM1, x); }
