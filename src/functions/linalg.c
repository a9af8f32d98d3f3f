/* Linear algebra: matmul (batched, broadcasting leading dims) on the backend's
 * matmul, the fused linear function x W + b, and one_hot. The backwards are
 * built from differentiable ops; the fast backwards (no create_graph) call the
 * backend's matmul with transpose flags, which sums a broadcast operand's grad
 * over the batch instead of summing copies. */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../kernels/nn_kernels.h"
#include "checks.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/linalg.h"
#include "dezero/scope.h"
#include "dezero/shape.h"
#include "../core/op_helpers.h"
#include "promote.h"


/* ---- matmul ---------------------------------------------------------------- */

/* x with its last two axes swapped (x^T for matrices). */
static dz_variable *swap_last2(dz_variable *x)
{
    int n = x->data->ndim, axes[DZ_MAX_NDIM];
    for (int i = 0; i < n; i++)
        axes[i] = i;
    axes[n - 2] = n - 1;
    axes[n - 1] = n - 2;
    return dz_transpose(x, n, axes);
}

/* ga (a shape) = gy @ b^T, gb (b shape) = a^T @ gy, batch axes summed away. */
static void matmul_backward_fast(dz_function *f, dz_variable *const *gys, dz_variable **gx)
{
    const dz_array *gy = gys[0]->data;
    const dz_array *a = IN(f, 0)->data, *b = IN(f, 1)->data;
    if (dz_needs_grad(IN(f, 0))) {
        dz_array *ga = dz_array_uninit_like(a); // (..., M, K)
        if (ga)
            dz_backend_of(ga)->matmul(gy, false, b, true, ga, false);
        gx[0] = dz_raw_result(ga);
    }
    if (dz_needs_grad(IN(f, 1))) {
        dz_array *gb = dz_array_uninit_like(b); // (..., K, N)
        if (gb)
            dz_backend_of(gb)->matmul(a, true, gy, false, gb, false);
        gx[1] = dz_raw_result(gb);
    }
}

/* matmul: y (..., M, N) = a (..., M, K) @ b (..., K, N);
 * ga = sum_to(gy @ b^T, a shape), gb = sum_to(a^T @ gy, b shape) */
static void matmul_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *a = IN(f, 0), *b = IN(f, 1);
    if (dz_needs_grad(a))
        gx[0] = dz_sum_to(dz_matmul(gy[0], swap_last2(b)), SHAPE_OF(a));
    if (dz_needs_grad(b))
        gx[1] = dz_sum_to(dz_matmul(swap_last2(a), gy[0]), SHAPE_OF(b));
}
static const dz_function_ops matmul_ops = {"dz_matmul", matmul_backward, NULL, matmul_backward_fast, "MatMul"};

/* The output shape of a @ b; false after raising. */
static bool matmul_shape(const dz_array *a, const dz_array *b, int *ndim, int64_t *shape)
{
    if (a->ndim < 2 || b->ndim < 2) {
        dz_raise(DZ_ERR_SHAPE, "dz_matmul: operand %s has shape %s; 1-D and 0-d operands are not supported "
                 "(reshape a vector to (1, n) or (n, 1))", a->ndim < 2 ? "a" : "b",
                 a->ndim < 2 ? DZ_SHAPE_OF(a) : DZ_SHAPE_OF(b));
        return false;
    }
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim - 2];
    if (ka != kb) {
        dz_raise(DZ_ERR_SHAPE, "dz_matmul: shapes %s and %s are not aligned: %lld (dim %d) != %lld (dim %d)",
                 DZ_SHAPE_OF(a), DZ_SHAPE_OF(b), (long long)ka, a->ndim - 1, (long long)kb, b->ndim - 2);
        return false;
    }
    int nb;
    if (!dz_broadcast_shapes(a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nb, shape)) {
        dz_raise(DZ_ERR_SHAPE, "dz_matmul: the batch dims of %s and %s do not broadcast", DZ_SHAPE_OF(a),
                 DZ_SHAPE_OF(b));
        return false;
    }
    shape[nb] = a->shape[a->ndim - 2];
    shape[nb + 1] = b->shape[b->ndim - 1];
    *ndim = nb + 2;
    return dz_check_shape("dz_matmul", "the result shape", *ndim, shape);
}

dz_variable *dz_matmul(dz_variable *a, dz_variable *b)
{
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_variable("dz_matmul", a) || !dz_check_variable("dz_matmul", b))
        return NULL;
    if (a->data->dtype != b->data->dtype) { /* the product of the operands cast to the promoted dtype */
        dz_dtype dtype = dz_promote_types(a->data->dtype, b->data->dtype, false);
        dz_scope_begin();
        dz_variable *pa = dz_promote(a, dtype), *pb = dz_promote(b, dtype);
        return dz_composite_result(pa && pb ? dz_matmul(pa, pb) : NULL);
    }
    if (!dz_check_float("dz_matmul", a) || !dz_check_pair("dz_matmul", a, b) ||
        !matmul_shape(a->data, b->data, &ndim, shape))
        return NULL;
    dz_array *y = dz_array_uninit_on(a->data->device, a->data->dtype, ndim, shape); // (..., M, N)
    if (y)
        dz_backend_of(y)->matmul(a->data, false, b->data, false, y, false);
    dz_variable *in[2] = {a, b};
    return dz_function_apply1(&matmul_ops, 2, in, y, 0, NULL);
}

/* ---- linear ---------------------------------------------------------------- */

/* gx (N, I) = gy W^T, gW (I, O) = x^T gy by gemm; gb (O,) = the sum of gy's rows,
 * as the recorded sum_to (the same bits). */
static void linear_backward_fast(dz_function *f, dz_variable *const *gys, dz_variable **gx)
{
    const dz_array *gy = gys[0]->data;
    const dz_array *x = IN(f, 0)->data, *w = IN(f, 1)->data;
    if (dz_needs_grad(IN(f, 0))) {
        dz_array *g = dz_array_uninit_like(x);
        if (g)
            dz_backend_of(g)->matmul(gy, false, w, true, g, false);
        gx[0] = dz_raw_result(g);
    }
    if (dz_needs_grad(IN(f, 1))) {
        dz_array *g = dz_array_uninit_like(w);
        if (g)
            dz_backend_of(g)->matmul(x, true, gy, false, g, false);
        gx[1] = dz_raw_result(g);
    }
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = dz_raw_result(dz_array_sum_to(gy, SHAPE_OF(IN(f, 2))));
}

/* linear: y (N, O) = x (N, I) @ W (I, O) + b (O,);
 * gx = gy @ W^T, gW = x^T @ gy, gb = sum_to(gy, (O,)) */
static void linear_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *x = IN(f, 0), *w = IN(f, 1);
    if (dz_needs_grad(x))
        gx[0] = dz_matmul(gy[0], dz_transpose(w, 0, NULL));
    if (dz_needs_grad(w))
        gx[1] = dz_matmul(dz_transpose(x, 0, NULL), gy[0]);
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = dz_sum_to(gy[0], SHAPE_OF(IN(f, 2)));
}
static const dz_function_ops linear_ops = {"dz_linear", linear_backward, NULL, linear_backward_fast, "Linear"};

static bool linear_check(dz_variable *x, dz_variable *w, dz_variable *b)
{
    const char *op = "dz_linear";
    if (!dz_check_float(op, x) || !dz_check_pair(op, x, w) || (b && !dz_check_pair(op, x, b)))
        return false;
    const dz_array *xa = x->data, *wa = w->data;
    if (xa->ndim != 2 || wa->ndim != 2)
        dz_raise(DZ_ERR_SHAPE, "%s: x %s and W %s must both be 2-D: x (N, in), W (in, out)", op, DZ_SHAPE_OF(xa),
                 DZ_SHAPE_OF(wa));
    else if (xa->shape[1] != wa->shape[0])
        dz_raise(DZ_ERR_SHAPE, "%s: x %s and W %s do not fit: x has %lld features (dim 1) but W has %lld rows "
                 "(dim 0)", op, DZ_SHAPE_OF(xa), DZ_SHAPE_OF(wa), (long long)xa->shape[1], (long long)wa->shape[0]);
    else if (b && (b->data->ndim != 1 || b->data->shape[0] != wa->shape[1]))
        dz_raise(DZ_ERR_SHAPE, "%s: b has shape %s but W %s needs a bias of shape (%lld,)", op,
                 DZ_SHAPE_OF(b->data), DZ_SHAPE_OF(wa), (long long)wa->shape[1]);
    else
        return dz_check_shape(op, "the result shape", 2, DZ_SHAPE(xa->shape[0], wa->shape[1]));
    return false;
}

/* x, W and b cast to their promoted dtype, then linear. */
static dz_variable *linear_promoted(dz_variable *x, dz_variable *W, dz_variable *b, dz_dtype dtype)
{
    dz_scope_begin();
    dz_variable *px = dz_promote(x, dtype), *pw = dz_promote(W, dtype), *pb = b ? dz_promote(b, dtype) : NULL;
    return dz_composite_result(px && pw && (pb || !b) ? dz_linear(px, pw, pb) : NULL);
}

dz_variable *dz_linear(dz_variable *x, dz_variable *W, dz_variable *b)
{
    const char *op = "dz_linear";
    if (!dz_check_variable(op, x) || !dz_check_variable(op, W) || (b && !dz_check_variable(op, b)))
        return NULL;
    dz_dtype dtype = dz_promote_types(x->data->dtype, W->data->dtype, false);
    dtype = b ? dz_promote_types(dtype, b->data->dtype, false) : dtype;
    if (x->data->dtype != dtype || W->data->dtype != dtype || (b && b->data->dtype != dtype))
        return linear_promoted(x, W, b, dtype);
    if (!linear_check(x, W, b))
        return NULL;
    const dz_array *xa = x->data;
    dz_array *y = dz_array_uninit_on(xa->device, xa->dtype, 2, DZ_SHAPE(xa->shape[0], W->data->shape[1])); // (N, O)
    if (y && b && !dz_kernel_repeat_rows(b->data, y)) /* y = b on every row, then y += x W in the same gemm */
        y = dz_failed_output(y);
    if (y)
        dz_backend_of(y)->matmul(xa, false, W->data, false, y, b != NULL);
    dz_variable *in[3] = {x, W, b};
    return dz_function_apply1(&linear_ops, b ? 3 : 2, in, y, 0, NULL);
}

/* ---- one_hot --------------------------------------------------------------- */

dz_variable *dz_one_hot(dz_variable *indices, int64_t num_classes, dz_dtype dtype)
{
    const char *op = "dz_one_hot";
    int64_t count, shape[DZ_MAX_NDIM];
    if (!dz_check_labels(op, indices))
        return NULL;
    const dz_array *t = indices->data;
    if (!dz_dtype_is_float(dtype) && !dz_dtype_is_integer(dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: output dtype %s is not supported; use float32, float64, int32 or int64", op,
                 (unsigned)dtype <= DZ_F16 ? dz_dtype_name(dtype) : "(unknown)");
        return NULL;
    }
    if (num_classes < 1) {
        dz_raise(DZ_ERR_VALUE, "%s: num_classes is %lld; it must be at least 1", op, (long long)num_classes);
        return NULL;
    }
    if (t->ndim == DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "%s: indices of shape %s already have %d dims; the result needs one more", op,
                 DZ_SHAPE_OF(t), DZ_MAX_NDIM);
        return NULL;
    }
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    shape[t->ndim] = num_classes;
    if (!dz_check_shape(op, "the result shape", t->ndim + 1, shape) ||
        !dz_check_label_range(op, t, num_classes, NULL, &count))
        return NULL;
    dz_array *y = dz_array_uninit_on(t->device, dtype, t->ndim + 1, shape); // (..., V)
    if (y && !dz_kernel_one_hot(t, y))
        y = dz_failed_output(y);
    return dz_constant(y);
}
