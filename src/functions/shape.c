/* Shape functions: sum_to / broadcast_to (each the other's backward), reshape,
 * transpose, sum and mean, expand_dims and flatten (reshapes), concat / split
 * (each the other's backward) and stack (concat of expand_dims). */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "checks.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "dezero/shape.h"

#include <stdlib.h>

typedef struct {
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
} shape_state;

/* The input's shape, kept for the backward. */
static shape_state *keep_shape(const dz_array *x)
{
    shape_state *s = dz_xmalloc(sizeof *s);
    s->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        s->shape[i] = x->shape[i];
    return s;
}

/* True when `from` broadcasts to `to` (numpy rules, one direction). */
static bool broadcasts_to(int from_ndim, const int64_t *from, int to_ndim, const int64_t *to)
{
    if (from_ndim > to_ndim)
        return false;
    for (int i = 0; i < from_ndim; i++) {
        int64_t f = from[i], t = to[i + to_ndim - from_ndim];
        if (f != t && f != 1)
            return false;
    }
    return true;
}

/* sum_to: (x shape) -> shape; gx = broadcast_to(gy, x shape) */
static void sum_to_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const shape_state *s = f->state;
    gx[0] = dz_broadcast_to(gy[0], s->ndim, s->shape);
}
static const dz_function_ops sum_to_ops = {"dz_sum_to", sum_to_backward, NULL, NULL, "SumTo"};

dz_variable *dz_sum_to(dz_variable *x, int ndim, const int64_t *shape)
{
    if (!dz_check_variable("dz_sum_to", x) || !dz_check_shape("dz_sum_to", "the target shape", ndim, shape))
        return NULL;
    if (!broadcasts_to(ndim, shape, x->data->ndim, x->data->shape)) {
        dz_raise(DZ_ERR_SHAPE, "dz_sum_to: cannot sum %s to %s (the target must broadcast to the input)",
                 DZ_SHAPE_OF(x->data), dz_shape_str(ndim, shape));
        return NULL;
    }
    if (dz_shape_equal(ndim, shape, x->data->ndim, x->data->shape))
        return dz_identity_result(x);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&sum_to_ops, 1, in, dz_array_sum_to(x->data, ndim, shape), 0,
                              keep_shape(x->data));
}

/* broadcast_to: (x shape) -> shape; gx = sum_to(gy, x shape) */
static void broadcast_to_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const shape_state *s = f->state;
    gx[0] = dz_sum_to(gy[0], s->ndim, s->shape);
}
static const dz_function_ops broadcast_to_ops = {"dz_broadcast_to", broadcast_to_backward, NULL, NULL, "BroadcastTo"};

dz_variable *dz_broadcast_to(dz_variable *x, int ndim, const int64_t *shape)
{
    if (!dz_check_variable("dz_broadcast_to", x) ||
        !dz_check_shape("dz_broadcast_to", "the target shape", ndim, shape))
        return NULL;
    if (!broadcasts_to(x->data->ndim, x->data->shape, ndim, shape)) {
        dz_raise(DZ_ERR_SHAPE, "dz_broadcast_to: cannot broadcast %s to %s", DZ_SHAPE_OF(x->data),
                 dz_shape_str(ndim, shape));
        return NULL;
    }
    if (dz_shape_equal(ndim, shape, x->data->ndim, x->data->shape))
        return dz_identity_result(x);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&broadcast_to_ops, 1, in, dz_array_broadcast(x->data, ndim, shape), 0,
                              keep_shape(x->data));
}

/* reshape: (x shape) -> shape, sharing storage; gx = reshape(gy, x shape) */
static void reshape_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const shape_state *s = f->state;
    gx[0] = dz_reshape(gy[0], s->ndim, s->shape);
}
static const dz_function_ops reshape_ops = {"dz_reshape", reshape_backward, NULL, NULL, "Reshape"};

/* x reshaped to a shape already checked to fit it. */
static dz_variable *reshape_checked(dz_variable *x, int ndim, const int64_t *shape)
{
    if (dz_shape_equal(ndim, shape, x->data->ndim, x->data->shape))
        return dz_identity_result(x);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&reshape_ops, 1, in, dz_array_reshape(x->data, ndim, shape), 0, keep_shape(x->data));
}

dz_variable *dz_reshape(dz_variable *x, int ndim, const int64_t *shape)
{
    int64_t resolved[DZ_MAX_NDIM];
    if (!dz_check_variable("dz_reshape", x) || !dz_resolve_reshape("dz_reshape", x->data, ndim, shape, resolved))
        return NULL;
    return reshape_checked(x, ndim, resolved);
}

/* transpose: y.shape[i] = x.shape[axes[i]]; gx = transpose(gy, inverse(axes)) */
typedef struct {
    int axes[DZ_MAX_NDIM];
} axes_state;

static void transpose_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const axes_state *s = f->state;
    int n = f->inputs[0]->data->ndim, inverse[DZ_MAX_NDIM];
    for (int i = 0; i < n; i++)
        inverse[s->axes[i]] = i;
    gx[0] = dz_transpose(gy[0], n, inverse);
}
static const dz_function_ops transpose_ops = {"dz_transpose", transpose_backward, NULL, NULL, "Transpose"};

/* axes (NULL: reversed) as a permutation of x's axes, into out. */
static bool permutation(const dz_array *x, int naxes, const int *axes, int *out)
{
    bool seen[DZ_MAX_NDIM] = {false};
    if (axes && naxes != x->ndim) {
        dz_raise(DZ_ERR_VALUE, "dz_transpose: %d axes given for an input of shape %s; give all %d (or NULL to "
                 "reverse them)", naxes, DZ_SHAPE_OF(x), x->ndim);
        return false;
    }
    for (int i = 0; i < x->ndim; i++) {
        if (!axes) {
            out[i] = x->ndim - 1 - i;
            continue;
        }
        if (!dz_check_axis("dz_transpose", x, axes[i], false, &out[i]))
            return false;
        if (seen[out[i]]) {
            dz_raise(DZ_ERR_VALUE, "dz_transpose: axis %d is repeated in the axes of an input of shape %s", axes[i],
                     DZ_SHAPE_OF(x));
            return false;
        }
        seen[out[i]] = true;
    }
    return true;
}

dz_variable *dz_transpose(dz_variable *x, int naxes, const int *axes)
{
    if (!dz_check_variable("dz_transpose", x))
        return NULL;
    const dz_array *a = x->data;
    axes_state *s = dz_xmalloc(sizeof *s);
    if (!permutation(a, naxes, axes, s->axes)) {
        free(s);
        return NULL;
    }
    int64_t shape[DZ_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++)
        shape[i] = a->shape[s->axes[i]];
    dz_array *y = dz_array_uninit_on(a->device, a->dtype, a->ndim, shape);
    if (!y) {
        free(s);
        return NULL;
    }
    dz_backend_of(a)->transpose(a, s->axes, y);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&transpose_ops, 1, in, y, 0, s);
}

/* sum: reduce `axes`; gx = broadcast_to(reshape(gy, keepdims shape), x shape) */
typedef struct {
    int ndim;
    int64_t in_shape[DZ_MAX_NDIM];
    int64_t kept_shape[DZ_MAX_NDIM]; /* x shape with 1 on the summed axes */
} sum_state;

static void sum_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const sum_state *s = f->state;
    gx[0] = dz_broadcast_to(dz_reshape(gy[0], s->ndim, s->kept_shape), s->ndim, s->in_shape);
}
static const dz_function_ops sum_ops = {"dz_sum", sum_backward, NULL, NULL, "Sum"};

/* The sum of a checked x over `axes`, errors named after `op`. */
static dz_variable *sum_named(const char *op, dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    const dz_array *a = x->data;
    sum_state *s = dz_xmalloc(sizeof *s);
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_reduce_axes(op, a, naxes, axes, s->kept_shape, &ndim, shape)) {
        free(s);
        return NULL;
    }
    s->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        s->in_shape[i] = a->shape[i];
    dz_array *kept = dz_array_sum(a, s->kept_shape);
    dz_array *y = keepdims || !kept ? kept : dz_array_reshape(kept, ndim, shape);
    if (y != kept)
        dz_array_release(kept);
    dz_variable *in[1] = {x};
    return dz_function_apply1(&sum_ops, 1, in, y, 0, s);
}

dz_variable *dz_sum(dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    return dz_check_variable("dz_sum", x) ? sum_named("dz_sum", x, naxes, axes, keepdims) : NULL;
}

/* mean: sum / count, two nodes */
dz_variable *dz_mean(dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    if (!dz_check_float("dz_mean", x))
        return NULL;
    dz_scope_begin(); /* owns the intermediate sum */
    dz_variable *sum = sum_named("dz_mean", x, naxes, axes, keepdims), *y = NULL;
    if (sum) {
        double count = x->data->size && sum->data->size ? (double)x->data->size / (double)sum->data->size : 0.0;
        y = dz_scope_keep(dz_div_scalar(sum, count));
    }
    dz_scope_end();
    return dz_autorelease(y);
}

/* A new axis inserted into x at `axis` (0..ndim, negative from the end). */
static bool check_new_axis(const char *op, const dz_array *x, int axis, int *at)
{
    if (x->ndim == DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_SHAPE, "%s: the input of shape %s already has %d dims, the most an array can have", op,
                 DZ_SHAPE_OF(x), DZ_MAX_NDIM);
        return false;
    }
    return dz_check_axis(op, x, axis, true, at);
}

/* expand_dims: (..., ...) -> (..., 1, ...) at `axis`, a reshape */
dz_variable *dz_expand_dims(dz_variable *x, int axis)
{
    int at;
    if (!dz_check_variable("dz_expand_dims", x) || !check_new_axis("dz_expand_dims", x->data, axis, &at))
        return NULL;
    const dz_array *a = x->data;
    int64_t shape[DZ_MAX_NDIM];
    for (int i = 0, j = 0; i <= a->ndim; i++)
        shape[i] = i == at ? 1 : a->shape[j++];
    return reshape_checked(x, a->ndim + 1, shape);
}

/* flatten: (N, ...) -> (N, rest), a reshape */
dz_variable *dz_flatten(dz_variable *x)
{
    if (!dz_check_variable("dz_flatten", x))
        return NULL;
    const dz_array *a = x->data;
    if (a->ndim == 0) {
        dz_raise(DZ_ERR_SHAPE, "dz_flatten: the input is 0-d; flatten needs a first axis to keep");
        return NULL;
    }
    int64_t rest = 1;
    for (int i = 1; i < a->ndim; i++) {
        if (__builtin_mul_overflow(rest, a->shape[i], &rest)) { /* possible when shape[0] is 0 */
            dz_raise(DZ_ERR_OVERFLOW, "dz_flatten: the dims after the first of shape %s multiply past 64 bits",
                     DZ_SHAPE_OF(a));
            return NULL;
        }
    }
    return reshape_checked(x, 2, DZ_SHAPE(a->shape[0], rest));
}

/* Concat and split record the axis and the length of each piece along it. */
typedef struct {
    int axis, n;
    int64_t sizes[];
} pieces_state;

static pieces_state *pieces_new(int axis, int n)
{
    pieces_state *s = dz_xmalloc(sizeof *s + (size_t)n * sizeof s->sizes[0]);
    s->axis = axis;
    s->n = n;
    return s;
}

/* The elements of `piece` as the block from `start` on along `axis` of `whole`. */
static dz_gather_spec block_spec(const dz_array *whole, int axis, int64_t start, const dz_array *piece)
{
    dz_gather_spec spec = {.ndim = piece->ndim};
    int64_t stride = 1;
    for (int d = whole->ndim - 1; d >= 0; d--) {
        spec.shape[d] = piece->shape[d];
        spec.stride[d] = stride;
        stride *= whole->shape[d];
    }
    spec.offset = start * spec.stride[axis];
    return spec;
}

/* n >= 1 inputs in a non-NULL list. */
static bool check_inputs(const char *op, int n, dz_variable *const *xs)
{
    if (!xs) {
        dz_raise(DZ_ERR_NULL, "%s: the list of inputs is NULL (n is %d)", op, n);
        return false;
    }
    if (n < 1) {
        dz_raise(DZ_ERR_VALUE, "%s: need at least one input (n is %d)", op, n);
        return false;
    }
    return true;
}

/* The inputs share dtype, device, ndim and every dim but `axis`. */
static bool check_joinable(const char *op, int n, dz_variable *const *xs, int axis)
{
    for (int k = 0; k < n; k++) {
        if (!dz_check_pair(op, xs[0], xs[k]))
            return false;
        const dz_array *a = xs[0]->data, *b = xs[k]->data;
        bool fits = a->ndim == b->ndim;
        for (int d = 0; fits && d < a->ndim; d++)
            fits = d == axis || a->shape[d] == b->shape[d];
        if (!fits) {
            dz_raise(DZ_ERR_SHAPE, "%s: input %d has shape %s, which does not match input 0's %s except on axis %d",
                     op, k, DZ_SHAPE_OF(b), DZ_SHAPE_OF(a), axis);
            return false;
        }
    }
    return true;
}

/* concat: xs[k] (..., n_k, ...) -> (..., sum n_k, ...); gxs = split(gy, n_k) */
static void concat_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const pieces_state *s = f->state;
    dz_split(gy[0], s->n, s->sizes, s->axis, gx);
}
static const dz_function_ops concat_ops = {"dz_concat", concat_backward, NULL, NULL, "Concat"};

dz_variable *dz_concat(int n, dz_variable *const *xs, int axis)
{
    int at;
    if (!check_inputs("dz_concat", n, xs) || !dz_check_variable("dz_concat", xs[0]) ||
        !dz_check_axis("dz_concat", xs[0]->data, axis, false, &at) || !check_joinable("dz_concat", n, xs, at))
        return NULL;
    if (n == 1)
        return dz_identity_result(xs[0]);
    const dz_array *first = xs[0]->data;
    pieces_state *s = pieces_new(at, n);
    int64_t shape[DZ_MAX_NDIM], start = 0;
    for (int d = 0; d < first->ndim; d++)
        shape[d] = first->shape[d];
    shape[at] = 0;
    for (int k = 0; k < n; k++) {
        s->sizes[k] = xs[k]->data->shape[at];
        if (__builtin_add_overflow(shape[at], s->sizes[k], &shape[at])) {
            dz_raise(DZ_ERR_OVERFLOW, "dz_concat: the joined axis %d does not fit in 64 bits", at);
            free(s);
            return NULL;
        }
    }
    dz_array *y = dz_array_uninit_on(first->device, first->dtype, first->ndim, shape);
    for (int k = 0; y && k < n; k++) {
        dz_gather_spec spec = block_spec(y, at, start, xs[k]->data);
        dz_backend_of(y)->scatter(xs[k]->data, &spec, y);
        start += s->sizes[k];
    }
    return dz_function_apply1(&concat_ops, n, xs, y, 0, s);
}

/* stack: n x (...) -> (..., n, ...) at `axis` = concat of expand_dims */
dz_variable *dz_stack(int n, dz_variable *const *xs, int axis)
{
    if (!check_inputs("dz_stack", n, xs))
        return NULL;
    for (int k = 0; k < n; k++) {
        if (!dz_check_pair("dz_stack", xs[0], xs[k]))
            return NULL;
        if (!dz_array_same_shape(xs[0]->data, xs[k]->data)) {
            dz_raise(DZ_ERR_SHAPE, "dz_stack: input %d has shape %s but input 0 has %s; stacked inputs must "
                     "have one shape", k, DZ_SHAPE_OF(xs[k]->data), DZ_SHAPE_OF(xs[0]->data));
            return NULL;
        }
    }
    int at;
    if (!check_new_axis("dz_stack", xs[0]->data, axis, &at))
        return NULL;
    dz_variable **expanded = dz_xmalloc((size_t)n * sizeof *expanded);
    dz_scope_begin(); /* owns the expanded inputs */
    dz_variable *y = NULL;
    bool ok = true;
    for (int k = 0; ok && k < n; k++)
        ok = (expanded[k] = dz_expand_dims(xs[k], at)) != NULL;
    if (ok)
        y = dz_scope_keep(dz_concat(n, expanded, at));
    dz_scope_end();
    free(expanded);
    return dz_autorelease(y);
}

/* split: x (..., sum n_k, ...) -> pieces (..., n_k, ...); gx = concat(gys),
 * with zeros for the pieces that got no grad */
static dz_variable *zeros_piece(const dz_array *x, int axis, int64_t size)
{
    int64_t shape[DZ_MAX_NDIM];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = d == axis ? size : x->shape[d];
    dz_array *z = dz_array_empty_on(x->device, x->dtype, x->ndim, shape);
    return z ? dz_variable_new(z, NULL) : NULL;
}

static void split_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const pieces_state *s = f->state;
    dz_variable **parts = dz_xmalloc((size_t)s->n * sizeof *parts);
    bool ok = true;
    for (int k = 0; ok && k < s->n; k++)
        ok = (parts[k] = gy[k] ? gy[k] : zeros_piece(f->inputs[0]->data, s->axis, s->sizes[k])) != NULL;
    if (ok)
        gx[0] = dz_concat(s->n, parts, s->axis);
    free(parts);
}
static const dz_function_ops split_ops = {"dz_split", split_backward, NULL, NULL, "Split"};

/* Piece lengths: `sizes`, or n equal ones; false after raising. */
static bool piece_sizes(const dz_array *x, int axis, int n, const int64_t *sizes, int64_t *out)
{
    int64_t len = x->shape[axis], total = 0;
    if (!sizes && len % n != 0) {
        dz_raise(DZ_ERR_VALUE, "dz_split: axis %d of shape %s (length %lld) does not split into %d equal pieces",
                 axis, DZ_SHAPE_OF(x), (long long)len, n);
        return false;
    }
    for (int k = 0; k < n; k++) {
        out[k] = sizes ? sizes[k] : len / n;
        if (out[k] < 0 || __builtin_add_overflow(total, out[k], &total))
            total = -1;
        if (total < 0)
            break;
    }
    if (total != len) {
        dz_raise(DZ_ERR_VALUE, "dz_split: piece sizes must be non-negative and add up to %lld, the length of axis %d "
                 "of shape %s", (long long)len, axis, DZ_SHAPE_OF(x));
        return false;
    }
    return true;
}

dz_status dz_split(dz_variable *x, int n, const int64_t *sizes, int axis, dz_variable **outputs)
{
    if (!outputs || n < 1)
        return dz_raise(n < 1 ? DZ_ERR_VALUE : DZ_ERR_NULL, "dz_split: need n >= 1 and an outputs array (n is %d)",
                        n);
    for (int k = 0; k < n; k++)
        outputs[k] = NULL;
    if (!dz_check_variable("dz_split", x))
        return dz_last_error_code();
    const dz_array *a = x->data;
    if (a->ndim == 0)
        return dz_raise(DZ_ERR_SHAPE, "dz_split: the input is 0-d; there is no axis to split");
    int at;
    if (!dz_check_axis("dz_split", a, axis, false, &at))
        return dz_last_error_code();
    pieces_state *s = pieces_new(at, n);
    if (!piece_sizes(a, at, n, sizes, s->sizes)) {
        free(s);
        return dz_last_error_code();
    }
    dz_array **pieces = dz_xcalloc((size_t)n, sizeof *pieces);
    int64_t shape[DZ_MAX_NDIM], start = 0;
    for (int d = 0; d < a->ndim; d++)
        shape[d] = a->shape[d];
    for (int k = 0; k < n; k++) {
        shape[at] = s->sizes[k];
        pieces[k] = dz_array_uninit_on(a->device, a->dtype, a->ndim, shape);
        if (!pieces[k])
            break;
        dz_gather_spec spec = block_spec(a, at, start, pieces[k]);
        dz_backend_of(a)->gather(a, &spec, pieces[k]);
        start += s->sizes[k];
    }
    dz_variable *in[1] = {x};
    dz_variable *first = dz_function_apply(&split_ops, 1, in, n, pieces, outputs, 0, s);
    free(pieces);
    return first ? DZ_OK : dz_last_error_code();
}
