/* The neural-network kernels: a dispatcher per fused slot, and the composite
 * of required primitives it runs when the backend has no fused kernel.
 *
 * The composites build their results one primitive at a time, each step a new
 * array: a step runs only when the one before it got its array, and the
 * temporaries are released at the end. About rounding: the CPU's fused
 * kernels sum in double and use their own float32 exp, so float32 composites
 * agree within float tolerance; float64 ones are bit-exact where the comment
 * says so (sums in order: the reduce primitive adds an array of up to
 * DZ_GRAIN elements in order, a larger one in blocks). */
#include "nn_kernels.h"

#include <string.h>

#include "../core/array_ops.h"
#include "../core/internal.h"

/* Releases every array of the list (NULLs too). */
#define RELEASE(...) release_all((dz_array *[]){__VA_ARGS__}, sizeof((dz_array *[]){__VA_ARGS__}) / sizeof(dz_array *))

static void release_all(dz_array **arrays, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dz_array_release(arrays[i]);
}

/* ---- small arrays the composites need ----------------------------------------- */

/* A 0-d array of x's dtype on x's device holding `value` (rounded to the dtype). */
static dz_array *scalar_like(const dz_array *x, double value)
{
    dz_array *s = dz_array_uninit_on(x->device, x->dtype, 0, NULL);
    if (s)
        dz_backend_of(x)->fill(s, value);
    return s;
}

/* a in `dtype` (a new reference to a when it has that dtype already). */
static dz_array *as_dtype(const dz_array *a, dz_dtype dtype)
{
    if (a->dtype == dtype)
        return dz_array_retain((dz_array *)a);
    dz_array *y = dz_array_uninit_on(a->device, dtype, a->ndim, a->shape);
    if (y)
        dz_backend_of(a)->astype(a, y);
    return y;
}

/* int64 (n,) = 0, 1, ..., n - 1 on `device`: made on the host and copied over. */
static dz_array *arange_i64(dz_device device, int64_t n)
{
    dz_array *host = dz_array_arange(DZ_I64, 0, (double)n, 1);
    dz_array *a = host ? dz_array_to_device(host, device) : NULL;
    dz_array_release(host);
    return a;
}

/* x's shape with 1 on `axis`: the shape of a reduction along it that keeps its dims. */
static void shape_without_axis(const dz_array *x, int axis, int64_t *kept)
{
    memcpy(kept, x->shape, sizeof x->shape);
    kept[axis] = 1;
}

/* out = a * scale, computed in double and rounded once to out's dtype (as the
 * fused losses scale their double totals); out has a's size. */
static bool scale_in_double(const dz_array *a, double scale, dz_array *out)
{
    dz_array *wide = as_dtype(a, DZ_F64);
    dz_array *scaled = wide ? dz_array_unary(DZ_UNARY_MUL_SCALAR, wide, scale) : NULL;
    if (scaled)
        dz_backend_of(a)->astype(scaled, out);
    RELEASE(wide, scaled);
    return scaled != NULL;
}

/* loss (0-d) = scale * the sum of all of a's elements, summed in double. */
static bool scaled_sum(const dz_array *a, double scale, dz_array *loss)
{
    int64_t ones[DZ_MAX_NDIM];
    for (int i = 0; i < a->ndim; i++)
        ones[i] = 1;
    dz_array *wide = as_dtype(a, DZ_F64);
    dz_array *kept = wide ? dz_array_reduce(DZ_REDUCE_SUM, wide, ones) : NULL; // (1, ..., 1)
    dz_array *total = kept ? dz_array_reshape(kept, 0, NULL) : NULL;          // ()
    bool ok = total && scale_in_double(total, scale, loss);
    RELEASE(wide, kept, total);
    return ok;
}

/* ---- label rows ------------------------------------------------------------------ */

/* base (N,) where labels (N,) is not ignore_index, -1 where it is:
 * base * (1 - ignored) - ignored. All int64. */
static dz_array *skip_ignored(const dz_array *base, const dz_array *labels, int64_t ignore_index)
{
    dz_array *ignore = dz_array_uninit_on(labels->device, DZ_I64, 0, NULL);
    if (ignore) /* creates the value on the device (no read) */
        dz_backend_of(labels)->from_host(ignore->data, &ignore_index, sizeof ignore_index);
    dz_array *ignored = ignore ? dz_array_binary(DZ_BINARY_EQUAL, labels, ignore) : NULL; // 1 where ignored
    dz_array *kept = ignored ? dz_array_unary(DZ_UNARY_RSUB_SCALAR, ignored, 1.0) : NULL; // 1 where counted
    dz_array *counted = kept ? dz_array_binary(DZ_BINARY_MUL, base, kept) : NULL;
    dz_array *rows = counted ? dz_array_binary(DZ_BINARY_SUB, counted, ignored) : NULL;
    RELEASE(ignore, ignored, kept, counted);
    return rows;
}

dz_array *dz_label_rows(const dz_array *t, int64_t c, int64_t ignore_index)
{
    dz_array *labels = as_dtype(t, DZ_I64);                                                 // (N,)
    dz_array *rows = labels ? arange_i64(t->device, t->size) : NULL;                       // i
    dz_array *starts = rows ? dz_array_unary(DZ_UNARY_MUL_SCALAR, rows, (double)c) : NULL; // i * c
    dz_array *at = starts ? dz_array_binary(DZ_BINARY_ADD, starts, labels) : NULL;         // i * c + t[i]
    dz_array *skipped = at ? skip_ignored(at, labels, ignore_index) : NULL;
    RELEASE(labels, rows, starts, at);
    return skipped;
}

dz_array *dz_counted_rows(const dz_array *t, int64_t ignore_index)
{
    dz_array *labels = as_dtype(t, DZ_I64);                           // (N,)
    dz_array *rows = labels ? arange_i64(t->device, t->size) : NULL; // i
    dz_array *skipped = rows ? skip_ignored(rows, labels, ignore_index) : NULL;
    RELEASE(labels, rows);
    return skipped;
}

/* (N, 1) = a[i, t[i]] for a (N, C), 0 on the rows labelled ignore_index. */
static dz_array *pick_labels(const dz_array *a, const dz_array *t, int64_t ignore_index)
{
    int64_t n = a->shape[0], c = a->shape[1];
    dz_array *rows = dz_label_rows(t, c, ignore_index);
    dz_array *flat = rows ? dz_array_reshape(a, 2, DZ_SHAPE(n * c, 1)) : NULL;
    /* zero-filled: with C = 0 (every row ignored) gather_rows sees rows of no width */
    dz_array *picked = flat ? dz_array_empty_on(a->device, a->dtype, 2, DZ_SHAPE(n, 1)) : NULL;
    if (picked)
        dz_backend_of(a)->gather_rows(flat, rows, -1, picked);
    RELEASE(rows, flat);
    return picked;
}

/* ---- sigmoid ------------------------------------------------------------------- */

/* y = sigmoid(x) by the unary primitive, DeZero's 0.5 tanh(0.5 x) + 0.5: the
 * same function as the fused 1 / (1 + e^-x), rounded differently. */
static bool sigmoid_composite(const dz_array *x, dz_array *y)
{
    dz_backend_of(x)->unary(DZ_UNARY_SIGMOID, x, 0, y);
    return true;
}

bool dz_kernel_sigmoid(const dz_array *x, dz_array *y)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, sigmoid))
        return sigmoid_composite(x, y);
    be->fused->sigmoid(x, y);
    return true;
}

/* gx = (gy * y) * (1 - y), rounded as the fused kernel: bit-exact. */
static bool sigmoid_backward_composite(const dz_array *y, const dz_array *gy, dz_array *gx)
{
    dz_array *gy_y = dz_array_binary(DZ_BINARY_MUL, gy, y);
    dz_array *one_minus_y = gy_y ? dz_array_unary(DZ_UNARY_RSUB_SCALAR, y, 1.0) : NULL;
    if (one_minus_y)
        dz_backend_of(y)->binary(DZ_BINARY_MUL, gy_y, one_minus_y, gx);
    RELEASE(gy_y, one_minus_y);
    return one_minus_y != NULL;
}

bool dz_kernel_sigmoid_backward(const dz_array *y, const dz_array *gy, dz_array *gx)
{
    const dz_backend *be = dz_backend_of(y);
    if (!DZ_FUSED(be, sigmoid_backward))
        return sigmoid_backward_composite(y, gy, gx);
    be->fused->sigmoid_backward(y, gy, gx);
    return true;
}

/* ---- softmax ------------------------------------------------------------------- */

/* y = e * (1 / s), s broadcasting along the reduced axis. */
static bool divide_by_sum(const dz_array *e, const dz_array *s, dz_array *y)
{
    dz_array *inv = dz_array_unary(DZ_UNARY_RDIV_SCALAR, s, 1.0);
    if (inv)
        dz_backend_of(e)->binary(DZ_BINARY_MUL, e, inv, y);
    dz_array_release(inv);
    return inv != NULL;
}

/* y = x - (m + log(s)), m and s broadcasting along the reduced axis. */
static bool subtract_log_sum(const dz_array *x, const dz_array *m, const dz_array *s, dz_array *y)
{
    dz_array *log_s = dz_array_unary(DZ_UNARY_LOG, s, 0);
    dz_array *lse = log_s ? dz_array_binary(DZ_BINARY_ADD, m, log_s) : NULL;
    if (lse)
        dz_backend_of(x)->binary(DZ_BINARY_SUB, x, lse, y);
    RELEASE(log_s, lse);
    return lse != NULL;
}

/* Along `axis`: m = max(x), e = exp(x - m), s = sum(e); softmax y = e * (1 / s),
 * log_softmax y = x - (m + log(s)). float64 is bit-exact while the sums run
 * in order; the fused kernel sums float32 in double. */
static bool softmax_composite(const dz_array *x, int axis, bool log, dz_array *y)
{
    int64_t kept[DZ_MAX_NDIM];
    shape_without_axis(x, axis, kept);
    dz_array *m = dz_array_reduce(DZ_REDUCE_MAX, x, kept);                   // (kept)
    dz_array *shifted = m ? dz_array_binary(DZ_BINARY_SUB, x, m) : NULL;     // (x shape)
    dz_array *e = shifted ? dz_array_unary(DZ_UNARY_EXP, shifted, 0) : NULL; // (x shape)
    dz_array *s = e ? dz_array_reduce(DZ_REDUCE_SUM, e, kept) : NULL;        // (kept)
    bool ok = s && (log ? subtract_log_sum(x, m, s, y) : divide_by_sum(e, s, y));
    RELEASE(m, shifted, e, s);
    return ok;
}

bool dz_kernel_softmax(const dz_array *x, int axis, bool log, dz_array *y)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, softmax))
        return softmax_composite(x, axis, log, y);
    be->fused->softmax(x, axis, log, y);
    return true;
}

/* Along `axis`, for y = softmax(x): gx = y * (gy - sum(y * gy)). float64 is
 * bit-exact while the sum runs in order; the fused kernel sums float32 in double. */
static bool softmax_backward_composite(const dz_array *y, const dz_array *gy, int axis, dz_array *gx)
{
    int64_t kept[DZ_MAX_NDIM];
    shape_without_axis(y, axis, kept);
    dz_array *y_gy = dz_array_binary(DZ_BINARY_MUL, y, gy);                // (y shape)
    dz_array *s = y_gy ? dz_array_reduce(DZ_REDUCE_SUM, y_gy, kept) : NULL; // (kept)
    dz_array *diff = s ? dz_array_binary(DZ_BINARY_SUB, gy, s) : NULL;      // (y shape)
    if (diff)
        dz_backend_of(y)->binary(DZ_BINARY_MUL, y, diff, gx);
    RELEASE(y_gy, s, diff);
    return diff != NULL;
}

/* Along `axis`, for y = log_softmax(x): gx = gy - exp(y) * sum(gy). float64 is
 * bit-exact while the sum runs in order; the fused kernel sums float32 in
 * double, with libm's expf. */
static bool log_softmax_backward_composite(const dz_array *y, const dz_array *gy, int axis, dz_array *gx)
{
    int64_t kept[DZ_MAX_NDIM];
    shape_without_axis(y, axis, kept);
    dz_array *s = dz_array_reduce(DZ_REDUCE_SUM, gy, kept);                    // (kept)
    dz_array *exp_y = s ? dz_array_unary(DZ_UNARY_EXP, y, 0) : NULL;          // (y shape)
    dz_array *part = exp_y ? dz_array_binary(DZ_BINARY_MUL, exp_y, s) : NULL; // (y shape)
    if (part)
        dz_backend_of(y)->binary(DZ_BINARY_SUB, gy, part, gx);
    RELEASE(s, exp_y, part);
    return part != NULL;
}

bool dz_kernel_softmax_backward(const dz_array *y, const dz_array *gy, int axis, bool log, dz_array *gx)
{
    const dz_backend *be = dz_backend_of(y);
    if (!DZ_FUSED(be, softmax_backward))
        return log ? log_softmax_backward_composite(y, gy, axis, gx) : softmax_backward_composite(y, gy, axis, gx);
    be->fused->softmax_backward(y, gy, axis, log, gx);
    return true;
}

/* ---- clip, one_hot ----------------------------------------------------------------- */

/* y = min(hi, max(lo, x)), a NaN staying NaN; lo and hi are 0-d. */
static bool clip_values(const dz_array *x, const dz_array *lo, const dz_array *hi, dz_array *y)
{
    dz_array *above = dz_array_binary(DZ_BINARY_MAXIMUM, lo, x); // lo > x ? lo : x
    if (above)
        dz_backend_of(x)->binary(DZ_BINARY_MINIMUM, hi, above, y); // hi < above ? hi : above
    dz_array_release(above);
    return above != NULL;
}

/* y = (x >= lo) * (x <= hi): 1 inside the range, 0 outside and at NaN. */
static bool clip_mask(const dz_array *x, const dz_array *lo, const dz_array *hi, dz_array *y)
{
    dz_array *above = dz_array_binary(DZ_BINARY_GREATER_EQUAL, x, lo);
    dz_array *below = above ? dz_array_binary(DZ_BINARY_LESS_EQUAL, x, hi) : NULL;
    if (below)
        dz_backend_of(x)->binary(DZ_BINARY_MUL, above, below, y);
    RELEASE(above, below);
    return below != NULL;
}

/* clip (or its mask) with lo and hi rounded to x's dtype, as the fused
 * kernel: bit-exact. */
static bool clip_composite(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    dz_array *lo_s = scalar_like(x, lo), *hi_s = lo_s ? scalar_like(x, hi) : NULL; // ()
    bool ok = hi_s && (mask ? clip_mask(x, lo_s, hi_s, y) : clip_values(x, lo_s, hi_s, y));
    RELEASE(lo_s, hi_s);
    return ok;
}

bool dz_kernel_clip(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, clip))
        return clip_composite(x, lo, hi, mask, y);
    be->fused->clip(x, lo, hi, mask, y);
    return true;
}

/* y[..., k] = (indices[...] == k) for k in 0..V-1, compared in int64 and
 * converted to y's dtype. Exact. */
static bool one_hot_composite(const dz_array *indices, dz_array *y)
{
    int64_t column[DZ_MAX_NDIM];
    memcpy(column, indices->shape, sizeof indices->shape);
    column[indices->ndim] = 1;
    dz_array *labels = as_dtype(indices, DZ_I64);
    dz_array *labels_col = labels ? dz_array_reshape(labels, indices->ndim + 1, column) : NULL; // (..., 1)
    dz_array *classes = labels_col ? arange_i64(y->device, y->shape[y->ndim - 1]) : NULL;       // (V,)
    dz_array *hot = !classes ? NULL                                                               // (..., V)
                  : y->dtype == DZ_I64 ? dz_array_retain(y)
                                       : dz_array_uninit_on(y->device, DZ_I64, y->ndim, y->shape);
    if (hot) {
        dz_backend_of(y)->binary(DZ_BINARY_EQUAL, labels_col, classes, hot);
        if (hot != y)
            dz_backend_of(y)->astype(hot, y);
    }
    RELEASE(labels, labels_col, classes, hot);
    return hot != NULL;
}

bool dz_kernel_one_hot(const dz_array *indices, dz_array *y)
{
    const dz_backend *be = dz_backend_of(indices);
    if (!DZ_FUSED(be, one_hot))
        return one_hot_composite(indices, y);
    be->fused->one_hot(indices, y);
    return true;
}

/* ---- bias rows ----------------------------------------------------------------------- */

/* y (N, D) = x (D,) on every row: the broadcasting copy. Bit-exact. */
static bool repeat_rows_composite(const dz_array *x, dz_array *y)
{
    dz_backend_of(x)->unary(DZ_UNARY_COPY, x, 0, y);
    return true;
}

bool dz_kernel_repeat_rows(const dz_array *x, dz_array *y)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, repeat_rows))
        return repeat_rows_composite(x, y);
    be->fused->repeat_rows(x, y);
    return true;
}

/* y (D,) = the sum over the rows of x (N, D): the reduce primitive into y
 * seen as (1, D), the CPU kernel's own sum. Bit-exact. */
static bool sum_rows_composite(const dz_array *x, dz_array *y)
{
    dz_array *row = dz_array_reshape(y, 2, DZ_SHAPE(1, y->size)); // (1, D), y's storage
    if (row)
        dz_backend_of(x)->reduce(DZ_REDUCE_SUM, x, row);
    dz_array_release(row);
    return row != NULL;
}

bool dz_kernel_sum_rows(const dz_array *x, dz_array *y)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, sum_rows))
        return sum_rows_composite(x, y);
    be->fused->sum_rows(x, y);
    return true;
}

/* ---- losses ------------------------------------------------------------------------- */

/* probs = softmax(x) and loss = -scale * the sum over the counted rows of
 * log_softmax(x)[i, t[i]], in double; x (N, C). Both softmaxes go through
 * dz_kernel_softmax. The fused kernel adds log-sum-exp and the shifted logit
 * separately: float tolerance. */
static bool softmax_cross_entropy_composite(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                            dz_array *loss, dz_array *probs)
{
    dz_array *log_p = dz_array_uninit_like(x); // (N, C)
    bool ok = log_p && dz_kernel_softmax(x, 1, false, probs) && dz_kernel_softmax(x, 1, true, log_p);
    dz_array *picked = ok ? pick_labels(log_p, t, ignore_index) : NULL; // (N, 1), 0 on ignored rows
    ok = picked && scaled_sum(picked, -scale, loss);
    RELEASE(log_p, picked);
    return ok;
}

bool dz_kernel_softmax_cross_entropy(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                     dz_array *loss, dz_array *probs)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, softmax_cross_entropy))
        return softmax_cross_entropy_composite(x, t, ignore_index, scale, loss, probs);
    be->fused->softmax_cross_entropy(x, t, ignore_index, scale, loss, probs);
    return true;
}

/* gx (N, C) = probs * g with g = gy * scale (in double, rounded once); the
 * rows that count are copied, the ignored ones zeroed (gather_rows' skip),
 * then g is taken off at each label (index_add_rows with alpha -1, one
 * rounding). Bit-exact. */
static bool softmax_cross_entropy_backward_composite(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                                     double scale, const dz_array *gy, dz_array *gx)
{
    const dz_backend *be = dz_backend_of(probs);
    int64_t n = probs->shape[0], c = probs->shape[1];
    dz_array *g = dz_array_uninit_on(probs->device, probs->dtype, 0, NULL); // ()
    bool ok = g && scale_in_double(gy, scale, g);
    dz_array *scaled = ok ? dz_array_binary(DZ_BINARY_MUL, probs, g) : NULL; // (N, C)
    dz_array *counted = scaled ? dz_counted_rows(t, ignore_index) : NULL;    // (N,)
    dz_array *labels = counted ? dz_label_rows(t, c, ignore_index) : NULL;   // (N,)
    dz_array *g_col = labels ? dz_array_broadcast(g, 2, DZ_SHAPE(n, 1)) : NULL;
    dz_array *gx_flat = g_col ? dz_array_reshape(gx, 2, DZ_SHAPE(n * c, 1)) : NULL; // gx's storage
    if (gx_flat) {
        be->gather_rows(scaled, counted, -1, gx);
        be->index_add_rows(gx_flat, labels, g_col, -1.0, -1, false);
    }
    RELEASE(g, scaled, counted, labels, g_col, gx_flat);
    return gx_flat != NULL;
}

bool dz_kernel_softmax_cross_entropy_backward(const dz_array *probs, const dz_array *t, int64_t ignore_index,
                                              double scale, const dz_array *gy, dz_array *gx)
{
    const dz_backend *be = dz_backend_of(probs);
    if (!DZ_FUSED(be, softmax_cross_entropy_backward))
        return softmax_cross_entropy_backward_composite(probs, t, ignore_index, scale, gy, gx);
    be->fused->softmax_cross_entropy_backward(probs, t, ignore_index, scale, gy, gx);
    return true;
}

/* log1p(e) for 0 <= e <= 1 without a log1p primitive: with u = 1 + e rounded,
 * d = e - (u - 1) is exactly what the rounding lost, and
 * log1p(e) = log(u + d) = log(u) + d / u to within a rounding. */
static dz_array *log1p_small(const dz_array *e)
{
    dz_array *u = dz_array_unary(DZ_UNARY_ADD_SCALAR, e, 1.0);
    dz_array *log_u = u ? dz_array_unary(DZ_UNARY_LOG, u, 0) : NULL;
    dz_array *u_minus_1 = log_u ? dz_array_unary(DZ_UNARY_ADD_SCALAR, u, -1.0) : NULL;
    dz_array *lost = u_minus_1 ? dz_array_binary(DZ_BINARY_SUB, e, u_minus_1) : NULL;
    dz_array *fix = lost ? dz_array_binary(DZ_BINARY_DIV, lost, u) : NULL;
    dz_array *y = fix ? dz_array_binary(DZ_BINARY_ADD, log_u, fix) : NULL;
    RELEASE(u, log_u, u_minus_1, lost, fix);
    return y;
}

/* loss = scale * sum(max(x, 0) - x * t + log1p(exp(-|x|))), summed in
 * double; x and t one shape. log1p is composed (log1p_small): float tolerance. */
static bool sigmoid_cross_entropy_composite(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    dz_array *relu = dz_array_unary(DZ_UNARY_RELU, x, 0);
    dz_array *xt = relu ? dz_array_binary(DZ_BINARY_MUL, x, t) : NULL;
    dz_array *linear = xt ? dz_array_binary(DZ_BINARY_SUB, relu, xt) : NULL; // max(x, 0) - x t
    dz_array *abs_x = linear ? dz_array_unary(DZ_UNARY_ABS, x, 0) : NULL;
    dz_array *neg = abs_x ? dz_array_unary(DZ_UNARY_NEG, abs_x, 0) : NULL;
    dz_array *e = neg ? dz_array_unary(DZ_UNARY_EXP, neg, 0) : NULL; // exp(-|x|)
    dz_array *soft = e ? log1p_small(e) : NULL;
    dz_array *terms = soft ? dz_array_binary(DZ_BINARY_ADD, linear, soft) : NULL;
    bool ok = terms && scaled_sum(terms, scale, loss);
    RELEASE(relu, xt, linear, abs_x, neg, e, soft, terms);
    return ok;
}

bool dz_kernel_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, sigmoid_cross_entropy))
        return sigmoid_cross_entropy_composite(x, t, scale, loss);
    be->fused->sigmoid_cross_entropy(x, t, scale, loss);
    return true;
}
