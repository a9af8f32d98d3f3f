/* Losses: mean squared error, softmax cross entropy (fused, stable, with
 * ignore_index), sigmoid cross entropy (stable log-sigmoid form), binary cross
 * entropy (composed from clip / log, as DeZero), and accuracy. Means are over
 * all elements (PyTorch); see loss.h. */
#include <math.h>

#include "../core/array_ops.h"
#include "../core/host_view.h"
#include "../core/internal.h"
#include "../kernels/nn_kernels.h"
#include "checks.h"
#include "dezero/activation.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/loss.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "dezero/shape.h"
#include "../core/op_helpers.h"


static dz_array *empty_like(const dz_array *x) { return dz_array_empty_on(x->device, x->dtype, x->ndim, x->shape); }

/* ---- mean squared error ---------------------------------------------------- */

/* The mean of every element of x, as a 0-d array: the sum (dz_array_sum) then
 * a division by the count, as PyTorch's mean (not a product by 1 / count). */
static dz_array *mean_all(const dz_array *x)
{
    int64_t ones[DZ_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++)
        ones[i] = 1;
    dz_array *kept = dz_array_sum(x, ones);
    dz_array *sum = kept ? dz_array_reshape(kept, 0, NULL) : NULL;
    dz_array *mean = sum ? dz_array_unary(DZ_UNARY_DIV_SCALAR, sum, (double)x->size) : NULL;
    dz_array_release(kept);
    dz_array_release(sum);
    return mean;
}

/* mse: y = sum((x0 - x1)^2) / n over the n elements of the broadcast difference;
 * g = (2 / n) * (x0 - x1) * gy, in PyTorch's order; gx0 = sum_to(g, x0 shape),
 * gx1 = sum_to(-g, x1 shape) */
static void mse_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *x0 = IN(f, 0), *x1 = IN(f, 1);
    dz_variable *g = dz_mul(dz_mul_scalar(dz_sub(x0, x1), 2.0 / f->scalar), gy[0]);
    if (dz_needs_grad(x0))
        gx[0] = dz_sum_to(g, SHAPE_OF(x0));
    if (dz_needs_grad(x1))
        gx[1] = dz_sum_to(dz_neg(g), SHAPE_OF(x1));
}
static const dz_function_ops mse_ops = {"dz_mean_squared_error", mse_backward, NULL, NULL, "MeanSquaredError"};

/* The loss is torch.nn.functional.mse_loss's bits on the CPU: (x0 - x1)^2,
 * summed in PyTorch's order, divided by n. */
dz_variable *dz_mean_squared_error(dz_variable *x0, dz_variable *x1)
{
    if (!dz_check_float("dz_mean_squared_error", x0) || !dz_check_broadcast("dz_mean_squared_error", x0, x1))
        return NULL;
    dz_array *diff = dz_array_binary(DZ_BINARY_SUB, x0->data, x1->data);
    dz_array *square = diff ? dz_array_unary(DZ_UNARY_SQUARE, diff, 0) : NULL;
    dz_array *y = square ? mean_all(square) : NULL; // ()
    double n = diff ? (double)diff->size : 0.0;
    dz_array_release(diff);
    dz_array_release(square);
    dz_variable *in[2] = {x0, x1};
    return dz_function_apply1(&mse_ops, 2, in, y, n, NULL);
}

/* ---- softmax cross entropy ------------------------------------------------- */

typedef struct {
    bool has_ignore;      /* rows labelled ignore_index are left out */
    int64_t ignore_index; /* NO_IGNORE when !has_ignore */
    double scale;    /* 1 / (rows counted), 0 when every row is ignored */
    dz_array *probs; /* (N, C) softmax(x) from the forward */
} sce_state;

/* What the kernels take for "ignore nothing": when nothing is ignored every
 * label is checked to be a class first, so no label equals it. */
#define NO_IGNORE INT64_MIN

static void sce_state_free(void *state)
{
    sce_state *s = state;
    dz_array_release(s->probs);
    free(s);
}

/* (N, 1) of ones in x's dtype, on x's device. */
static dz_array *ones_column(const dz_array *x)
{
    dz_array *ones = dz_array_uninit_on(x->device, x->dtype, 2, DZ_SHAPE(x->shape[0], 1));
    if (ones)
        dz_backend_of(x)->fill(ones, 1.0);
    return ones;
}

/* onehot(t) (N, C) in x's dtype, with all-zero rows where t is ignored: a 1
 * added at each counted label of a zero array seen as (N * C, 1). */
static dz_array *sce_target(const dz_array *x, const dz_array *t, int64_t ignore_index)
{
    int64_t n = x->shape[0], c = x->shape[1];
    dz_array *ones = ones_column(x);                                           // (N, 1)
    dz_array *rows = ones ? dz_label_rows(t, c, ignore_index) : NULL;          // (N,)
    dz_array *target = rows ? dz_array_empty_on(x->device, x->dtype, 2, x->shape) : NULL; // (N, C) zeros
    dz_array *flat = target ? dz_array_reshape(target, 2, DZ_SHAPE(n * c, 1)) : NULL;
    if (flat)
        dz_backend_of(x)->index_add_rows(flat, rows, ones, 1.0, -1, false);
    else
        target = dz_failed_output(target);
    dz_array_release(ones);
    dz_array_release(rows);
    dz_array_release(flat);
    return target;
}

/* (N, 1): 1 on the rows that count, 0 on ignored ones (gather_rows' skip). */
static dz_array *sce_row_mask(const dz_array *x, const dz_array *t, int64_t ignore_index)
{
    dz_array *ones = ones_column(x);
    dz_array *rows = ones ? dz_counted_rows(t, ignore_index) : NULL;
    dz_array *mask = rows ? dz_array_uninit_like(ones) : NULL;
    if (mask)
        dz_backend_of(x)->gather_rows(ones, rows, -1, mask);
    dz_array_release(ones);
    dz_array_release(rows);
    return mask;
}

/* softmax_cross_entropy: y = scale * sum over counted rows of -log_softmax(x)[i, t[i]];
 * gx (N, C) = (softmax(x) - onehot(t)) * row_mask * gy * scale; t gets none.
 * The fast backward reuses the forward's softmax. */
static void sce_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const sce_state *s = f->state;
    dz_variable *x = IN(f, 0);
    const dz_array *t = IN(f, 1)->data;
    dz_variable *d = dz_sub(dz_softmax(x, 1), dz_constant(sce_target(x->data, t, s->ignore_index)));
    if (s->has_ignore)
        d = dz_mul(d, dz_constant(sce_row_mask(x->data, t, s->ignore_index)));
    gx[0] = dz_mul(d, dz_mul_scalar(gy[0], s->scale));
}
static void sce_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const sce_state *s = f->state;
    dz_array *g = dz_array_uninit_like(IN(f, 0)->data); // (N, C)
    if (g && !dz_kernel_softmax_cross_entropy_backward(s->probs, IN(f, 1)->data, s->ignore_index, s->scale,
                                                       gy[0]->data, g))
        g = dz_failed_output(g);
    gx[0] = dz_raw_result(g);
}
static const dz_function_ops sce_ops = {"dz_softmax_cross_entropy", sce_backward, sce_state_free,
                                        sce_backward_fast, "SoftmaxCrossEntropy"};

static bool sce_check(const char *op, dz_variable *x, dz_variable *t)
{
    if (!dz_check_float(op, x) || !dz_check_labels(op, t) ||
        !dz_check_same_device(op, "the input", x->data, "the labels", t->data))
        return false;
    const dz_array *xa = x->data, *ta = t->data;
    if (xa->ndim != 2)
        dz_raise(DZ_ERR_SHAPE, "%s: logits must be (N, C); got shape %s", op, DZ_SHAPE_OF(xa));
    else if (ta->ndim != 1 || ta->shape[0] != xa->shape[0])
        dz_raise(DZ_ERR_SHAPE, "%s: labels of shape %s do not match logits %s; expected (%lld,)", op,
                 DZ_SHAPE_OF(ta), DZ_SHAPE_OF(xa), (long long)xa->shape[0]);
    else
        return true;
    return false;
}

/* ignore_index: NULL when every label must be a class. */
static dz_variable *softmax_cross_entropy(const char *op, dz_variable *x, dz_variable *t, const int64_t *ignore_index)
{
    int64_t count;
    if (!sce_check(op, x, t) || !dz_check_label_range(op, t->data, x->data->shape[1], ignore_index, &count))
        return NULL;
    const dz_array *xa = x->data;
    sce_state *s = dz_xmalloc(sizeof *s);
    *s = (sce_state){ignore_index != NULL, ignore_index ? *ignore_index : NO_IGNORE,
                     count ? 1.0 / (double)count : 0.0, empty_like(xa)};
    dz_array *loss = s->probs ? dz_array_uninit_on(xa->device, xa->dtype, 0, NULL) : NULL; // ()
    if (loss && !dz_kernel_softmax_cross_entropy(xa, t->data, s->ignore_index, count ? s->scale : NAN, loss, s->probs))
        loss = dz_failed_output(loss);
    dz_variable *in[2] = {x, t};
    return dz_function_apply1(&sce_ops, 2, in, loss, 0, s);
}

dz_variable *dz_softmax_cross_entropy(dz_variable *x, dz_variable *t)
{
    return softmax_cross_entropy("dz_softmax_cross_entropy", x, t, NULL);
}

dz_variable *dz_softmax_cross_entropy_ignore(dz_variable *x, dz_variable *t, int64_t ignore_index)
{
    return softmax_cross_entropy("dz_softmax_cross_entropy_ignore", x, t, &ignore_index);
}

/* ---- sigmoid / binary cross entropy ---------------------------------------- */

/* t as a target for x: integer labels become a constant of x's dtype, and a t
 * of x's size but another ndim is reshaped (as DeZero). NULL after raising. */
static dz_variable *target_like(const char *op, dz_variable *x, dz_variable *t)
{
    if (!dz_check_variable(op, t))
        return NULL;
    if (dz_dtype_is_integer(t->data->dtype))
        t = dz_constant(dz_array_astype(t->data, x->data->dtype));
    if (!t || !dz_check_pair(op, x, t))
        return NULL;
    if (t->data->ndim != x->data->ndim && t->data->size == x->data->size)
        return dz_reshape(t, SHAPE_OF(x));
    if (!dz_array_same_shape(t->data, x->data)) {
        dz_raise(DZ_ERR_SHAPE, "%s: targets of shape %s do not match inputs of shape %s", op, DZ_SHAPE_OF(t->data),
                 DZ_SHAPE_OF(x->data));
        return NULL;
    }
    return t;
}

/* sigmoid_cross_entropy: y = scale * sum(max(x, 0) - x t + log(1 + exp(-|x|)));
 * gx = (sigmoid(x) - t) * gy * scale, gt = -x * gy * scale */
static void sigmoid_ce_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *x = IN(f, 0), *t = IN(f, 1);
    dz_variable *g = dz_mul_scalar(gy[0], f->scalar);
    if (dz_needs_grad(x))
        gx[0] = dz_mul(dz_sub(dz_sigmoid(x), t), g);
    if (dz_needs_grad(t))
        gx[1] = dz_mul(dz_neg(x), g);
}
static const dz_function_ops sigmoid_ce_ops = {"dz_sigmoid_cross_entropy", sigmoid_ce_backward, NULL, NULL,
                                               "SigmoidCrossEntropy"};

dz_variable *dz_sigmoid_cross_entropy(dz_variable *x, dz_variable *t)
{
    if (!dz_check_float("dz_sigmoid_cross_entropy", x))
        return NULL;
    dz_scope_begin();
    dz_variable *target = target_like("dz_sigmoid_cross_entropy", x, t), *y = NULL;
    if (target) {
        double scale = 1.0 / (double)x->data->size;
        dz_array *loss = dz_array_uninit_on(x->data->device, x->data->dtype, 0, NULL); // ()
        if (loss && !dz_kernel_sigmoid_cross_entropy(x->data, target->data, scale, loss))
            loss = dz_failed_output(loss);
        dz_variable *in[2] = {x, target};
        y = dz_function_apply1(&sigmoid_ce_ops, 2, in, loss, scale, NULL);
    }
    return dz_composite_result(y);
}

/* binary_cross_entropy: p = clip(p, 1e-15, 0.999); y = -mean(t log p + (1 - t) log(1 - p)),
 * from checked inputs. The ops can then fail only for want of memory: the
 * chain stops at the first NULL, whose error stays the one reported. */
static dz_variable *bce(dz_variable *p, dz_variable *t)
{
    dz_variable *pc, *a, *b, *c;
    if (!(pc = dz_clip(p, 1e-15, 0.999)) || !(a = dz_log(pc)) || !(a = dz_mul(t, a)) ||
        !(b = dz_rsub_scalar(1.0, pc)) || !(b = dz_log(b)) || !(c = dz_rsub_scalar(1.0, t)) ||
        !(b = dz_mul(c, b)) || !(a = dz_add(a, b)) || !(a = dz_mean(a, 0, NULL, false)))
        return NULL;
    return dz_neg(a);
}

dz_variable *dz_binary_cross_entropy(dz_variable *p, dz_variable *t)
{
    if (!dz_check_float("dz_binary_cross_entropy", p))
        return NULL;
    dz_scope_begin();
    dz_variable *target = target_like("dz_binary_cross_entropy", p, t);
    return dz_composite_result(target ? bce(p, target) : NULL);
}

/* ---- accuracy -------------------------------------------------------------- */

/* int64 (N, C): 1 on the entries of y (N, C) below their row's top, 0 on
 * the top and on NaNs, a NaN counting as the top (NumPy's argmax):
 * (y == y) - (y == max of the row). */
static dz_array *below_top(const dz_array *y)
{
    dz_array *top = dz_array_reduce(DZ_REDUCE_MAX, y, DZ_SHAPE(y->shape[0], 1));    // (N, 1), NaN if the row has one
    dz_array *is_number = top ? dz_array_binary(DZ_BINARY_EQUAL, y, y) : NULL;      // (N, C)
    dz_array *is_top = is_number ? dz_array_binary(DZ_BINARY_EQUAL, y, top) : NULL; // (N, C)
    dz_array *below = is_top ? dz_array_binary(DZ_BINARY_SUB, is_number, is_top) : NULL;
    dz_array *below64 = below ? dz_array_uninit_on(y->device, DZ_I64, 2, y->shape) : NULL;
    if (below64)
        dz_backend_of(y)->astype(below, below64);
    dz_array_release(top);
    dz_array_release(is_number);
    dz_array_release(is_top);
    dz_array_release(below);
    return below64;
}

/* int64 (N, 1): the column of each row's first top, the smallest of
 * k + C * below[k] over the columns k. */
static dz_array *argmax_rows(const dz_array *y)
{
    int64_t n = y->shape[0], c = y->shape[1];
    dz_array *below = below_top(y);                                                            // (N, C)
    dz_array *pushed = below ? dz_array_unary(DZ_UNARY_MUL_SCALAR, below, (double)c) : NULL;   // (N, C)
    dz_array *host_columns = pushed ? dz_array_arange(DZ_I64, 0, (double)c, 1) : NULL;         // (C,)
    dz_array *columns = host_columns ? dz_array_to_device(host_columns, y->device) : NULL;     // (C,)
    dz_array *candidates = columns ? dz_array_binary(DZ_BINARY_ADD, pushed, columns) : NULL;   // (N, C)
    dz_array *argmax = candidates ? dz_array_reduce(DZ_REDUCE_MIN, candidates, DZ_SHAPE(n, 1)) : NULL;
    dz_array_release(below);
    dz_array_release(pushed);
    dz_array_release(host_columns);
    dz_array_release(columns);
    dz_array_release(candidates);
    return argmax;
}

/* The rows i of y (N, C) whose argmax is t[i] (N >= 1, C >= 1), counted on
 * the device; the count is read back to the host (synchronises). False after
 * raising when out of memory. */
static bool count_correct(const dz_array *y, const dz_array *t, int64_t *correct)
{
    int64_t n = y->shape[0];
    dz_array *argmax = argmax_rows(y);                                                  // (N, 1)
    dz_array *t_col = argmax ? dz_array_reshape(t, 2, DZ_SHAPE(n, 1)) : NULL;           // (N, 1)
    dz_array *labels = t_col ? dz_array_uninit_on(t->device, DZ_I64, 2, t_col->shape) : NULL;
    if (labels)
        dz_backend_of(t)->astype(t_col, labels);
    dz_array *hits = labels ? dz_array_binary(DZ_BINARY_EQUAL, argmax, labels) : NULL; // (N, 1): 0 or 1
    dz_array *total = hits ? dz_array_reduce(DZ_REDUCE_SUM, hits, DZ_SHAPE(1, 1)) : NULL;
    dz_host_view view;
    const int64_t *count = total ? dz_host_view_read(&view, total) : NULL;
    if (count) {
        *correct = *count;
        dz_host_view_close(&view);
    }
    dz_array_release(argmax);
    dz_array_release(t_col);
    dz_array_release(labels);
    dz_array_release(hits);
    dz_array_release(total);
    return count != NULL;
}

dz_variable *dz_accuracy(dz_variable *y, dz_variable *t)
{
    int64_t count, correct = 0;
    if (!sce_check("dz_accuracy", y, t) ||
        !dz_check_label_range("dz_accuracy", t->data, y->data->shape[1], NULL, &count))
        return NULL;
    /* every label is a class, so C >= 1 when N >= 1 */
    int64_t n = y->data->shape[0];
    if (n > 0 && !count_correct(y->data, t->data, &correct))
        return NULL;
    dz_array *host = dz_array_scalar(DZ_F64, n ? (double)correct / (double)n : NAN);
    dz_array *acc = host ? dz_array_to_device(host, y->data->device) : NULL; /* on the inputs' device */
    dz_array_release(host);
    return dz_constant(acc);
}
