/* GELU (PyTorch's F.gelu), exact and with the tanh approximation, and the
 * erf Function its exact backward is built from:
 *   exact  y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),   gx = gy (Phi(x) + x phi(x))
 *   tanh   y = 0.5 x (1 + tanh u), u = k (x + 0.044715 x^3), k = sqrt(2 / pi),
 *          gx = gy (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) k (1 + 3 * 0.044715 x^2))
 * with phi(x) = exp(-x^2 / 2) / sqrt(2 pi). The backwards use differentiable
 * ops only, so gelu differentiates to any order. */
#include "../core/array_ops.h"
#include "../core/op_helpers.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/activation.h"

#define GELU_KAPPA 0.044715
#define SQRT_2_OVER_PI 0.79788456080286535588   /* sqrt(2 / pi) */
#define SQRT_HALF 0.70710678118654752440        /* 1 / sqrt 2 */
#define TWO_OVER_SQRT_PI 1.12837916709551257390 /* 2 / sqrt(pi) */
#define INV_SQRT_2PI 0.39894228040143267794     /* 1 / sqrt(2 pi) */

/* ---- erf ---------------------------------------------------------------------------------- */

/* erf: y = erf x; gx = gy * 2 / sqrt(pi) * exp(-x^2) */
static void erf_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *e = dz_exp(dz_neg(dz_square(IN(f, 0))));
    gx[0] = dz_mul(gy[0], dz_mul_scalar(e, TWO_OVER_SQRT_PI));
}
static const dz_function_ops erf_ops = {"erf", erf_backward, NULL, NULL, "Erf"};

static dz_variable *erf_of(dz_variable *x)
{
    if (!x) /* a failed op before it has raised */
        return NULL;
    dz_variable *in[1] = {x};
    return dz_function_apply1(&erf_ops, 1, in, dz_array_unary(DZ_UNARY_ERF, x->data, 0), 0, NULL);
}

/* ---- gelu --------------------------------------------------------------------------------- */

/* 0.5 x (1 + erf(x / sqrt 2)), as PyTorch's kernel groups it. */
static dz_array *gelu_exact(dz_temps *tmp, const dz_array *x)
{
    dz_array *e = dz_tmp_unary(tmp, DZ_UNARY_ERF, dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, x, SQRT_HALF), 0);
    dz_array *half_x = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, x, 0.5);
    return dz_tmp_binary(tmp, DZ_BINARY_MUL, half_x, dz_tmp_unary(tmp, DZ_UNARY_ADD_SCALAR, e, 1.0));
}

/* 0.5 x (1 + tanh(k (x + 0.044715 x^3))), as PyTorch's kernel groups it. */
static dz_array *gelu_tanh(dz_temps *tmp, const dz_array *x)
{
    dz_array *cube = dz_tmp_binary(tmp, DZ_BINARY_MUL, dz_tmp_unary(tmp, DZ_UNARY_SQUARE, x, 0), x);
    dz_array *inner = dz_tmp_binary(tmp, DZ_BINARY_ADD, x, dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, cube, GELU_KAPPA));
    dz_array *u = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, inner, SQRT_2_OVER_PI);
    dz_array *t = dz_tmp_unary(tmp, DZ_UNARY_TANH, u, 0);
    dz_array *half_x = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, x, 0.5);
    return dz_tmp_binary(tmp, DZ_BINARY_MUL, half_x, dz_tmp_unary(tmp, DZ_UNARY_ADD_SCALAR, t, 1.0));
}

/* dy/dx = Phi(x) + x phi(x) */
static dz_variable *gelu_exact_slope(dz_variable *x)
{
    dz_variable *cdf = dz_mul_scalar(dz_add_scalar(erf_of(dz_mul_scalar(x, SQRT_HALF)), 1.0), 0.5);
    dz_variable *pdf = dz_mul_scalar(dz_exp(dz_mul_scalar(dz_square(x), -0.5)), INV_SQRT_2PI);
    return dz_add(cdf, dz_mul(x, pdf));
}

/* dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2), t = tanh u */
static dz_variable *gelu_tanh_slope(dz_variable *x)
{
    dz_variable *x2 = dz_square(x);
    dz_variable *t = dz_tanh(dz_mul_scalar(dz_add(x, dz_mul_scalar(dz_mul(x2, x), GELU_KAPPA)), SQRT_2_OVER_PI));
    dz_variable *du = dz_mul_scalar(dz_add_scalar(dz_mul_scalar(x2, 3 * GELU_KAPPA), 1.0), SQRT_2_OVER_PI);
    dz_variable *outer = dz_mul_scalar(dz_add_scalar(t, 1.0), 0.5);
    dz_variable *inner = dz_mul(dz_mul_scalar(x, 0.5), dz_mul(dz_rsub_scalar(1.0, dz_square(t)), du));
    return dz_add(outer, inner);
}

/* scalar: 1 with the tanh approximation, 0 exact */
static void gelu_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *x = IN(f, 0);
    gx[0] = dz_mul(gy[0], f->scalar != 0 ? gelu_tanh_slope(x) : gelu_exact_slope(x));
}
static const dz_function_ops gelu_ops = {"dz_gelu", gelu_backward, NULL, NULL, "GELU"};

dz_variable *dz_gelu(dz_variable *x, bool tanh_approximation)
{
    if (!dz_check_float("dz_gelu", x))
        return NULL;
    dz_temps tmp = {0};
    dz_array *y = dz_tmp_end_with(&tmp, tanh_approximation ? gelu_tanh(&tmp, x->data) : gelu_exact(&tmp, x->data));
    dz_variable *in[1] = {x};
    return dz_function_apply1(&gelu_ops, 1, in, y, tanh_approximation ? 1.0 : 0.0, NULL);
}
