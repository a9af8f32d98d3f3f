/* Statistics over axes: var and std (composites of the differentiable ops,
 * std ending in a square root whose grad is 0 where it is 0), the vector
 * norm (one Function whose backward follows PyTorch's norm_backward,
 * written with differentiable ops), and cosine similarity (a composite of
 * norms, as PyTorch 1.13 builds it). */
#include <math.h>

#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "dezero/shape.h"
#include "dezero/statistics.h"

/* A 0-d array of a's dtype on a's device holding v. */
static dz_array *scalar_like(const dz_array *a, double v)
{
    dz_array *s = dz_array_empty_on(a->device, a->dtype, 0, NULL);
    if (s && v != 0)
        dz_backend_of(a)->fill(s, v);
    return s;
}

/* A constant mask: 1 where a op v, else 0 (a's dtype and shape). */
static dz_variable *mask_of(dz_binary_op op, const dz_array *a, double v)
{
    dz_array *s = scalar_like(a, v);
    dz_array *m = s ? dz_array_binary(op, a, s) : NULL;
    dz_array_release(s);
    return dz_constant(m);
}

/* ---- var, std --------------------------------------------------------------------- */

/* std's root: y = sqrt(v); gx = gy / (2y) where y != 0, else 0 */
static void std_root_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *y = OUT(f);
    dz_variable *y_safe = dz_add(y, mask_of(DZ_BINARY_EQUAL, y->data, 0.0)); // 1 where y is 0
    gx[0] = dz_mul(dz_div(gy[0], dz_mul_scalar(y_safe, 2.0)), mask_of(DZ_BINARY_NOT_EQUAL, y->data, 0.0));
}
static const dz_function_ops std_root_ops = {"dz_std", std_root_backward, NULL, NULL, "Std"};

/* The number of elements each output of a reduction over `kept` sums. */
static int64_t reduced_count(const dz_array *x, const int64_t *kept)
{
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++)
        if (kept[d] == 1)
            count *= x->shape[d];
    return count;
}

static dz_variable *variance(const char *op, dz_variable *x, int naxes, const int *axes, int64_t ddof,
                             bool keepdims)
{
    int ndim;
    int64_t kept[DZ_MAX_NDIM], shape[DZ_MAX_NDIM];
    if (!dz_check_float(op, x) || !dz_check_reduce_axes(op, x->data, naxes, axes, kept, &ndim, shape))
        return NULL;
    int64_t n = reduced_count(x->data, kept);
    double divisor = n > ddof ? (double)n - (double)ddof : 0.0;
    dz_variable *d = dz_sub(x, dz_mean(x, naxes, axes, true));
    return dz_div_scalar(dz_sum(dz_square(d), naxes, axes, keepdims), divisor);
}

dz_variable *dz_var(dz_variable *x, int naxes, const int *axes, int64_t ddof, bool keepdims)
{
    dz_scope_begin();
    return dz_composite_result(variance("dz_var", x, naxes, axes, ddof, keepdims));
}

dz_variable *dz_std(dz_variable *x, int naxes, const int *axes, int64_t ddof, bool keepdims)
{
    dz_scope_begin();
    dz_variable *v = variance("dz_std", x, naxes, axes, ddof, keepdims), *y = NULL;
    if (v) {
        dz_variable *in[1] = {v};
        y = dz_function_apply1(&std_root_ops, 1, in, dz_array_unary(DZ_UNARY_SQRT, v->data, 0), 0, NULL);
    }
    return dz_composite_result(y);
}

/* ---- norm --------------------------------------------------------------------------- */

typedef struct {
    double p;
    int ndim;
    int64_t kept[DZ_MAX_NDIM]; /* x's shape with 1 on the reduced axes */
} norm_state;

/* (sum over the reduced axes of |x|^p)^(1/p) in kept shape: sum |x| for
 * p = 1, sqrt(sum x^2) for p = 2, max |x| for p = inf. */
static dz_array *norm_array(const dz_array *x, double p, const int64_t *kept)
{
    dz_array *a = p == 2 ? dz_array_unary(DZ_UNARY_SQUARE, x, 0) : dz_array_unary(DZ_UNARY_ABS, x, 0);
    dz_array *t = a && p != 1 && p != 2 && !isinf(p) ? dz_array_unary(DZ_UNARY_POW, a, p) : dz_array_retain(a);
    dz_array *s = t ? dz_array_reduce(isinf(p) ? DZ_REDUCE_MAX : DZ_REDUCE_SUM, t, kept) : NULL;
    dz_array_release(a);
    dz_array_release(t);
    if (!s || p == 1 || isinf(p))
        return s;
    dz_array *y = p == 2 ? dz_array_unary(DZ_UNARY_SQRT, s, 0) : dz_array_unary(DZ_UNARY_POW, s, 1.0 / p);
    dz_array_release(s);
    return y;
}

/* norm, p = inf: gx = sign(x) * gy * mask / count(mask), mask = (|x| == y) or NaN */
static dz_variable *max_norm_grad(dz_variable *x, dz_variable *g, dz_variable *y, const norm_state *s)
{
    dz_array *a = dz_array_unary(DZ_UNARY_ABS, x->data, 0);
    dz_array *hit = a ? dz_array_binary(DZ_BINARY_EQUAL, a, y->data) : NULL;
    dz_array *nan = a ? dz_array_binary(DZ_BINARY_NOT_EQUAL, a, a) : NULL;
    dz_array *mask = hit && nan ? dz_array_binary(DZ_BINARY_ADD, hit, nan) : NULL; // (x shape)
    dz_array *count = mask ? dz_array_reduce(DZ_REDUCE_SUM, mask, s->kept) : NULL;  // (kept shape)
    dz_array_release(a);
    dz_array_release(hit);
    dz_array_release(nan);
    dz_variable *share = dz_div(dz_mul(g, dz_constant(mask)), dz_constant(count));
    return dz_mul(dz_constant(dz_array_unary(DZ_UNARY_SIGN, x->data, 0)), share);
}

/* norm, finite p: gx = sign(x) |x|^(p-1) * gy / y^(p-1), 0 where x or y is 0
 * (PyTorch's cases p < 1, p < 2 and p >= 2 give this same value) */
static dz_variable *p_norm_grad(dz_variable *x, dz_variable *g, dz_variable *y, double p)
{
    dz_variable *sign = dz_constant(dz_array_unary(DZ_UNARY_SIGN, x->data, 0));
    if (p == 1)
        return dz_mul(sign, g);
    dz_variable *x_safe = dz_add(dz_abs(x), mask_of(DZ_BINARY_EQUAL, x->data, 0.0));
    dz_variable *mag = dz_mul(dz_pow(x_safe, p - 1), mask_of(DZ_BINARY_NOT_EQUAL, x->data, 0.0));
    dz_variable *y_safe = dz_add(y, mask_of(DZ_BINARY_EQUAL, y->data, 0.0));
    dz_variable *scale = dz_mul(dz_div(g, dz_pow(y_safe, p - 1)), mask_of(DZ_BINARY_NOT_EQUAL, y->data, 0.0));
    return dz_mul(dz_mul(sign, mag), scale);
}

static void norm_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const norm_state *s = f->state;
    dz_variable *g = dz_reshape(gy[0], s->ndim, s->kept);
    dz_variable *y = dz_reshape(OUT(f), s->ndim, s->kept);
    gx[0] = isinf(s->p) ? max_norm_grad(IN(f, 0), g, y, s) : p_norm_grad(IN(f, 0), g, y, s->p);
}
static const dz_function_ops norm_ops = {"dz_norm", norm_backward, NULL, NULL, "Norm"};

/* Every reduced axis (kept 1) is non-empty: the infinity norm of nothing is undefined. */
static bool check_max_norm_axes(const dz_array *x, const int64_t *kept)
{
    for (int d = 0; d < x->ndim; d++) {
        if (kept[d] == 1 && x->shape[d] == 0) {
            dz_raise(DZ_ERR_VALUE, "dz_norm: axis %d of shape %s is empty, and the infinity norm (a maximum) of no "
                     "elements is undefined; reduce other axes or use a finite p", d, DZ_SHAPE_OF(x));
            return false;
        }
    }
    return true;
}

dz_variable *dz_norm(dz_variable *x, double p, int naxes, const int *axes, bool keepdims)
{
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_float("dz_norm", x))
        return NULL;
    if (!(p > 0)) {
        dz_raise(DZ_ERR_VALUE, "dz_norm: p %g is not supported; use p > 0 (2 for the Euclidean norm, INFINITY for "
                 "the largest |x|)", p);
        return NULL;
    }
    norm_state *s = dz_xmalloc(sizeof *s);
    *s = (norm_state){.p = p, .ndim = x->data->ndim};
    if (!dz_check_reduce_axes("dz_norm", x->data, naxes, axes, s->kept, &ndim, shape) ||
        (isinf(p) && !check_max_norm_axes(x->data, s->kept))) {
        free(s);
        return NULL;
    }
    dz_array *kept = norm_array(x->data, p, s->kept);
    dz_array *y = keepdims || !kept ? dz_array_retain(kept) : dz_array_reshape(kept, ndim, shape);
    dz_array_release(kept);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&norm_ops, 1, in, y, 0, s);
}

/* ---- cosine similarity ----------------------------------------------------------------- */

/* max(|x|, eps) along axis, kept: the 2-norm whose value is clamped without
 * telling the graph, so its grad stays x * g / max(|x|, eps) (PyTorch 1.13
 * clamps the norm in place under no_grad). */
static dz_variable *clamped_norm(dz_variable *x, int axis, double eps)
{
    dz_variable *n = dz_norm(x, 2.0, 1, &axis, true);
    if (!n)
        return NULL;
    dz_array *floor = scalar_like(n->data, eps);
    dz_array *clamped = floor ? dz_array_binary(DZ_BINARY_MAXIMUM, n->data, floor) : NULL;
    dz_array_release(floor);
    if (!clamped)
        return NULL;
    dz_variable_set_data(n, clamped);
    return n;
}

static bool check_eps(double eps)
{
    if (eps >= 0 && isfinite(eps))
        return true;
    dz_raise(DZ_ERR_VALUE, "dz_cosine_similarity: eps %g must be finite and >= 0 (PyTorch's default is 1e-8)", eps);
    return false;
}

dz_variable *dz_cosine_similarity(dz_variable *x1, dz_variable *x2, int axis, double eps)
{
    const char *op = "dz_cosine_similarity";
    int ndim, at;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_broadcast(op, x1, x2) || !dz_check_float(op, x1) || !check_eps(eps))
        return NULL;
    DZ_ASSERT(dz_broadcast_shapes(SHAPE_OF(x1), SHAPE_OF(x2), &ndim, shape));
    const dz_array *wider = x1->data->ndim >= x2->data->ndim ? x1->data : x2->data; /* has the result's ndim */
    if (!dz_check_axis(op, wider, axis, false, &at))
        return NULL;
    dz_scope_begin();
    dz_variable *a = dz_broadcast_to(x1, ndim, shape), *b = dz_broadcast_to(x2, ndim, shape);
    dz_variable *na = clamped_norm(a, at, eps), *nb = clamped_norm(b, at, eps);
    dz_variable *y = na && nb ? dz_sum(dz_mul(dz_div(a, na), dz_div(b, nb)), 1, &at, false) : NULL;
    return dz_composite_result(y);
}
