/* Linear algebra: matmul (batched, broadcasting leading dims) on the backend's
 * gemm, the fused linear function x W + b, and one_hot. When a graph is being
 * recorded (create_graph) the backwards are built from differentiable ops;
 * otherwise they call gemm directly with transpose flags, accumulating into
 * broadcast operands' grads (beta = 1) instead of summing copies. */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "checks.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/linalg.h"
#include "dezero/shape.h"
#include "nn_util.h"

#define IN(f, i) ((f)->inputs[i])
#define SHAPE_OF(v) (v)->data->ndim, (v)->data->shape

/* ---- batched gemm ---------------------------------------------------------- */

/* One operand of a batched product, seen through the output's batch shape. */
typedef struct {
    void *data;
    int64_t ld;                  /* stored row length (last dim) */
    int64_t stride[DZ_MAX_NDIM]; /* elements between matrices per batch axis, 0 where broadcast */
    bool full;                   /* no batch axis is broadcast */
    bool single;                 /* one matrix serves the whole batch */
} operand;

static operand operand_of(const dz_array *x, int nb, const int64_t *batch)
{
    operand op = {x->data, x->shape[x->ndim - 1], {0}, true, true};
    int xb = x->ndim - 2;
    int64_t s = x->shape[x->ndim - 2] * x->shape[x->ndim - 1];
    for (int i = nb - 1; i >= 0; i--) {
        int j = i - (nb - xb);
        int64_t d = j >= 0 ? x->shape[j] : 1;
        op.stride[i] = d == 1 ? 0 : s;
        op.full = op.full && d == batch[i];
        op.single = op.single && d == 1;
        s *= d;
    }
    return op;
}

typedef struct {
    const dz_backend *backend;
    dz_dtype dtype;
    bool ta, tb;
    int64_t m, n, k;
    double beta;
} gemm_shape;

/* `batch` products starting at element offsets o*, matrices s* elements apart. */
static void gemm_run(const gemm_shape *g, const operand *a, const operand *b, const operand *c,
                     const int64_t *o, const int64_t *s, int64_t batch)
{
    size_t es = dz_dtype_size(g->dtype);
    g->backend->gemm(g->dtype, g->ta, g->tb, g->m, g->n, g->k, 1.0, (const char *)a->data + o[0] * (int64_t)es,
                     a->ld, s[0], (const char *)b->data + o[1] * (int64_t)es, b->ld, s[1], g->beta,
                     (char *)c->data + o[2] * (int64_t)es, c->ld, s[2], batch);
}

/* C = op(A) op(B) (+ C when beta = 1) for every index of `batch`. A product
 * against one shared matrix folds the batch into rows (m) or, for grads that
 * sum over the batch, into the inner dimension (k). */
static void batched_gemm(gemm_shape g, const operand *a, const operand *b, const operand *c, int nb,
                         const int64_t *batch)
{
    int64_t count = 1;
    for (int i = 0; i < nb; i++)
        count *= batch[i];
    if (count == 0 || g.m == 0 || g.n == 0 || g.k == 0) /* c is zero-filled already (product) */
        return;
    int64_t o[3] = {0, 0, 0}, zero[3] = {0, 0, 0};
    if (nb == 0) {
        gemm_run(&g, a, b, c, o, zero, 1);
        return;
    }
    if (!g.ta && a->full && c->full && b->single) {
        g.m *= count;
        gemm_run(&g, a, b, c, o, zero, 1);
        return;
    }
    if (g.ta && !g.tb && a->full && b->full && c->single) {
        g.k *= count;
        gemm_run(&g, a, b, c, o, zero, 1);
        return;
    }
    const operand *ops[3] = {a, b, c};
    int64_t inner = batch[nb - 1], index[DZ_MAX_NDIM] = {0}, s[3];
    for (int k = 0; k < 3; k++)
        s[k] = ops[k]->stride[nb - 1];
    bool one_at_a_time = s[2] == 0; /* c repeats along the inner axis: accumulate in order */
    for (int64_t r = 0; r < count / inner; r++) {
        if (one_at_a_time) {
            for (int64_t q = 0; q < inner; q++) {
                int64_t oq[3] = {o[0] + q * s[0], o[1] + q * s[1], o[2]};
                gemm_run(&g, a, b, c, oq, zero, 1);
            }
        } else {
            gemm_run(&g, a, b, c, o, s, inner);
        }
        for (int i = nb - 2; i >= 0; i--) { /* odometer over the outer batch axes */
            index[i]++;
            for (int k = 0; k < 3; k++)
                o[k] += ops[k]->stride[i];
            if (index[i] < batch[i])
                break;
            for (int k = 0; k < 3; k++)
                o[k] -= ops[k]->stride[i] * batch[i];
            index[i] = 0;
        }
    }
}

/* c (..., m, n) = op(a) op(b) over the batch shape (nb, batch), or c += that
 * when `accumulate`. c may have broadcast batch axes, whose products then
 * sum; c's elements need no initial value unless `accumulate`. */
static void product(const dz_array *a, bool ta, const dz_array *b, bool tb, dz_array *c, bool accumulate,
                    int nb, const int64_t *batch)
{
    operand oa = operand_of(a, nb, batch), ob = operand_of(b, nb, batch), oc = operand_of(c, nb, batch);
    int64_t k = ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    const dz_backend *backend = dz_backend_of(a);
    if (!accumulate && (!oc.full || k == 0)) /* c sums products from zero, or no product writes it */
        backend->zero(c->data, (size_t)c->size * dz_dtype_size(c->dtype));
    gemm_shape g = {backend, a->dtype, ta, tb, c->shape[c->ndim - 2], c->shape[c->ndim - 1], k,
                    accumulate || !oc.full ? 1.0 : 0.0};
    batched_gemm(g, &oa, &ob, &oc, nb, batch);
}


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
static void matmul_backward_raw(dz_function *f, const dz_array *gy, dz_variable **gx)
{
    const dz_array *a = IN(f, 0)->data, *b = IN(f, 1)->data;
    int nb = gy->ndim - 2;
    if (dz_needs_grad(IN(f, 0))) {
        dz_array *ga = dz_array_uninit_like(a); // (..., M, K)
        if (ga)
            product(gy, false, b, true, ga, false, nb, gy->shape);
        gx[0] = dz_raw_result(ga);
    }
    if (dz_needs_grad(IN(f, 1))) {
        dz_array *gb = dz_array_uninit_like(b); // (..., K, N)
        if (gb)
            product(a, true, gy, false, gb, false, nb, gy->shape);
        gx[1] = dz_raw_result(gb);
    }
}

/* matmul: y (..., M, N) = a (..., M, K) @ b (..., K, N);
 * ga = sum_to(gy @ b^T, a shape), gb = sum_to(a^T @ gy, b shape) */
static void matmul_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *a = IN(f, 0), *b = IN(f, 1);
    if (!dz_enable_backprop()) {
        matmul_backward_raw(f, gy[0]->data, gx);
        return;
    }
    if (dz_needs_grad(a))
        gx[0] = dz_sum_to(dz_matmul(gy[0], swap_last2(b)), SHAPE_OF(a));
    if (dz_needs_grad(b))
        gx[1] = dz_sum_to(dz_matmul(swap_last2(a), gy[0]), SHAPE_OF(b));
}
static const dz_function_ops matmul_ops = {"dz_matmul", matmul_backward, NULL};

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
    if (!dz_check_float("dz_matmul", a) || !dz_check_pair("dz_matmul", a, b) ||
        !matmul_shape(a->data, b->data, &ndim, shape))
        return NULL;
    dz_array *y = dz_array_uninit_on(a->data->device, a->data->dtype, ndim, shape); // (..., M, N)
    if (y)
        product(a->data, false, b->data, false, y, false, ndim - 2, shape);
    dz_variable *in[2] = {a, b};
    return dz_function_apply1(&matmul_ops, 2, in, y, 0, NULL);
}

/* ---- linear ---------------------------------------------------------------- */

/* gx (N, I) = gy W^T, gW (I, O) = x^T gy, gb (O,) = sum of gy's rows, by gemm. */
static void linear_backward_raw(dz_function *f, const dz_array *gy, dz_variable **gx)
{
    const dz_array *x = IN(f, 0)->data, *w = IN(f, 1)->data;
    if (dz_needs_grad(IN(f, 0))) {
        dz_array *g = dz_array_uninit_like(x);
        if (g)
            product(gy, false, w, true, g, false, 0, NULL);
        gx[0] = dz_raw_result(g);
    }
    if (dz_needs_grad(IN(f, 1))) {
        dz_array *g = dz_array_uninit_like(w);
        if (g)
            product(x, true, gy, false, g, false, 0, NULL);
        gx[1] = dz_raw_result(g);
    }
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2))) {
        dz_array *g = dz_array_uninit_like(IN(f, 2)->data);
        if (g)
            dz_backend_of(g)->sum_rows(gy, g);
        gx[2] = dz_raw_result(g);
    }
}

/* linear: y (N, O) = x (N, I) @ W (I, O) + b (O,);
 * gx = gy @ W^T, gW = x^T @ gy, gb = sum_to(gy, (O,)) */
static void linear_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *x = IN(f, 0), *w = IN(f, 1);
    if (!dz_enable_backprop()) {
        linear_backward_raw(f, gy[0]->data, gx);
        return;
    }
    if (dz_needs_grad(x))
        gx[0] = dz_matmul(gy[0], dz_transpose(w, 0, NULL));
    if (dz_needs_grad(w))
        gx[1] = dz_matmul(dz_transpose(x, 0, NULL), gy[0]);
    if (f->ninputs == 3 && dz_needs_grad(IN(f, 2)))
        gx[2] = dz_sum_to(gy[0], SHAPE_OF(IN(f, 2)));
}
static const dz_function_ops linear_ops = {"dz_linear", linear_backward, NULL};

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

dz_variable *dz_linear(dz_variable *x, dz_variable *W, dz_variable *b)
{
    if (!linear_check(x, W, b))
        return NULL;
    const dz_array *xa = x->data;
    dz_array *y = dz_array_uninit_on(xa->device, xa->dtype, 2, DZ_SHAPE(xa->shape[0], W->data->shape[1])); // (N, O)
    if (y) {
        if (b) /* y = b on every row, then y += x W in the same gemm */
            dz_backend_of(xa)->repeat_rows(b->data, y);
        product(xa, false, W->data, false, y, b != NULL, 0, NULL);
    }
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
    dz_array *y = dz_array_empty_on(t->device, dtype, t->ndim + 1, shape); // (..., V)
    if (y)
        dz_backend_of(t)->one_hot(t, y);
    return dz_constant(y);
}
