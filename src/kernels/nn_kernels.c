/* The neural-network kernels: a dispatcher per fused slot, and the composite
 * of required primitives it runs when the backend has no fused kernel.
 *
 * The composites build their results one primitive at a time, each step a new
 * array recorded in a list of temporaries (temps.h): once an allocation
 * fails the later steps are skipped, and the list is released at the end.
 * About rounding: the CPU's fused kernels sum in double and use their own
 * float32 exp, so float32 composites agree within float tolerance; float64
 * ones are bit-exact where the comment says so (sums in order: the reduce
 * primitive adds an array of up to DZ_GRAIN elements in order, a larger one
 * in blocks). */
#include "nn_kernels.h"

#include <string.h>

#include "temps.h"

/* ---- sums in double ------------------------------------------------------------ */

/* out = a * scale, computed in double and rounded once to out's dtype (as the
 * fused losses scale their double totals); out has a's size. */
static void scale_in_double(dz_temps *tmp, const dz_array *a, double scale, dz_array *out)
{
    dz_array *scaled = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, dz_tmp_astype(tmp, a, DZ_F64), scale);
    if (!tmp->failed)
        dz_backend_of(scaled)->astype(scaled, out);
}

/* loss (0-d) = scale * the sum of all of a's elements, summed in double. */
static void scaled_sum(dz_temps *tmp, const dz_array *a, double scale, dz_array *loss)
{
    const dz_array *wide = dz_tmp_astype(tmp, a, DZ_F64);
    dz_array *kept = dz_tmp_reduce(tmp, DZ_REDUCE_SUM, wide, DZ_TMP_ALL_AXES); // (1, ..., 1)
    dz_array *total = dz_tmp_reshape(tmp, kept, 0, NULL);                      // ()
    scale_in_double(tmp, total, scale, loss);
}

/* ---- label rows ------------------------------------------------------------------ */

/* base (N,) where labels (N,) is not ignore_index, -1 where it is:
 * base * (1 - ignored) - ignored. All int64. */
static dz_array *skip_ignored(dz_temps *tmp, const dz_array *base, const dz_array *labels, int64_t ignore_index)
{
    if (tmp->failed)
        return NULL;
    /* copied from the host as it is (no read; a double need not hold an int64) */
    dz_array *ignore = dz_tmp_from_host(tmp, labels->device, 0, NULL, &ignore_index);
    dz_array *ignored = dz_tmp_binary(tmp, DZ_BINARY_EQUAL, labels, ignore); // 1 where ignored
    dz_array *kept = dz_tmp_unary(tmp, DZ_UNARY_RSUB_SCALAR, ignored, 1.0);  // 1 where counted
    dz_array *counted = dz_tmp_binary(tmp, DZ_BINARY_MUL, base, kept);
    return dz_tmp_binary(tmp, DZ_BINARY_SUB, counted, ignored);
}

/* dz_label_rows (nn_kernels.h), its arrays recorded in tmp. */
static dz_array *label_rows(dz_temps *tmp, const dz_array *t, int64_t c, int64_t ignore_index)
{
    const dz_array *labels = dz_tmp_astype(tmp, t, DZ_I64);                     // (N,)
    dz_array *rows = dz_tmp_arange(tmp, t->device, t->size);                    // i
    dz_array *starts = dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, rows, (double)c); // i * c
    dz_array *at = dz_tmp_binary(tmp, DZ_BINARY_ADD, starts, labels);           // i * c + t[i]
    return skip_ignored(tmp, at, labels, ignore_index);
}

/* dz_counted_rows (nn_kernels.h), its arrays recorded in tmp. */
static dz_array *counted_rows(dz_temps *tmp, const dz_array *t, int64_t ignore_index)
{
    const dz_array *labels = dz_tmp_astype(tmp, t, DZ_I64);  // (N,)
    dz_array *rows = dz_tmp_arange(tmp, t->device, t->size); // i
    return skip_ignored(tmp, rows, labels, ignore_index);
}

dz_array *dz_label_rows(const dz_array *t, int64_t c, int64_t ignore_index)
{
    dz_temps tmp = {0};
    return dz_tmp_end_with(&tmp, label_rows(&tmp, t, c, ignore_index));
}

dz_array *dz_counted_rows(const dz_array *t, int64_t ignore_index)
{
    dz_temps tmp = {0};
    return dz_tmp_end_with(&tmp, counted_rows(&tmp, t, ignore_index));
}

/* (N, 1) = a[i, t[i]] for a (N, C), 0 on the rows labelled ignore_index
 * (gather_rows' skip; with C = 0 every row is ignored and the table empty). */
static dz_array *pick_labels(dz_temps *tmp, const dz_array *a, const dz_array *t, int64_t ignore_index)
{
    if (tmp->failed)
        return NULL;
    int64_t n = a->shape[0], c = a->shape[1];
    dz_array *rows = label_rows(tmp, t, c, ignore_index);
    dz_array *flat = dz_tmp_reshape(tmp, a, 2, DZ_SHAPE(n * c, 1));
    return dz_tmp_gather_rows(tmp, flat, rows, -1);
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
    dz_temps tmp = {0};
    dz_array *gy_y = dz_tmp_binary(&tmp, DZ_BINARY_MUL, gy, y);
    dz_array *one_minus_y = dz_tmp_unary(&tmp, DZ_UNARY_RSUB_SCALAR, y, 1.0);
    if (!tmp.failed)
        dz_backend_of(y)->binary(DZ_BINARY_MUL, gy_y, one_minus_y, gx);
    return dz_tmp_end(&tmp);
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
static void divide_by_sum(dz_temps *tmp, const dz_array *e, const dz_array *s, dz_array *y)
{
    dz_array *inv = dz_tmp_unary(tmp, DZ_UNARY_RDIV_SCALAR, s, 1.0);
    if (!tmp->failed)
        dz_backend_of(e)->binary(DZ_BINARY_MUL, e, inv, y);
}

/* y = x - (m + log(s)), m and s broadcasting along the reduced axis. */
static void subtract_log_sum(dz_temps *tmp, const dz_array *x, const dz_array *m, const dz_array *s, dz_array *y)
{
    dz_array *log_s = dz_tmp_unary(tmp, DZ_UNARY_LOG, s, 0);
    dz_array *lse = dz_tmp_binary(tmp, DZ_BINARY_ADD, m, log_s);
    if (!tmp->failed)
        dz_backend_of(x)->binary(DZ_BINARY_SUB, x, lse, y);
}

/* Along `axis`: m = max(x), e = exp(x - m), s = sum(e); softmax y = e * (1 / s),
 * log_softmax y = x - (m + log(s)). float64 is bit-exact while the sums run
 * in order; the fused kernel sums float32 in double. */
static bool softmax_composite(const dz_array *x, int axis, bool log, dz_array *y)
{
    dz_temps tmp = {0};
    dz_array *m = dz_tmp_reduce(&tmp, DZ_REDUCE_MAX, x, axis);    // (axis kept as 1)
    dz_array *shifted = dz_tmp_binary(&tmp, DZ_BINARY_SUB, x, m); // (x shape)
    dz_array *e = dz_tmp_unary(&tmp, DZ_UNARY_EXP, shifted, 0);   // (x shape)
    dz_array *s = dz_tmp_reduce(&tmp, DZ_REDUCE_SUM, e, axis);    // (axis kept as 1)
    if (log)
        subtract_log_sum(&tmp, x, m, s, y);
    else
        divide_by_sum(&tmp, e, s, y);
    return dz_tmp_end(&tmp);
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
    dz_temps tmp = {0};
    dz_array *y_gy = dz_tmp_binary(&tmp, DZ_BINARY_MUL, y, gy);   // (y shape)
    dz_array *s = dz_tmp_reduce(&tmp, DZ_REDUCE_SUM, y_gy, axis); // (axis kept as 1)
    dz_array *diff = dz_tmp_binary(&tmp, DZ_BINARY_SUB, gy, s);   // (y shape)
    if (!tmp.failed)
        dz_backend_of(y)->binary(DZ_BINARY_MUL, y, diff, gx);
    return dz_tmp_end(&tmp);
}

/* Along `axis`, for y = log_softmax(x): gx = gy - exp(y) * sum(gy). float64 is
 * bit-exact while the sum runs in order; the fused kernel sums float32 in
 * double, with libm's expf. */
static bool log_softmax_backward_composite(const dz_array *y, const dz_array *gy, int axis, dz_array *gx)
{
    dz_temps tmp = {0};
    dz_array *s = dz_tmp_reduce(&tmp, DZ_REDUCE_SUM, gy, axis);    // (axis kept as 1)
    dz_array *exp_y = dz_tmp_unary(&tmp, DZ_UNARY_EXP, y, 0);      // (y shape)
    dz_array *part = dz_tmp_binary(&tmp, DZ_BINARY_MUL, exp_y, s); // (y shape)
    if (!tmp.failed)
        dz_backend_of(y)->binary(DZ_BINARY_SUB, gy, part, gx);
    return dz_tmp_end(&tmp);
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
static void clip_values(dz_temps *tmp, const dz_array *x, const dz_array *lo, const dz_array *hi, dz_array *y)
{
    dz_array *above = dz_tmp_binary(tmp, DZ_BINARY_MAXIMUM, lo, x); // lo > x ? lo : x
    if (!tmp->failed)
        dz_backend_of(x)->binary(DZ_BINARY_MINIMUM, hi, above, y); // hi < above ? hi : above
}

/* y = (x >= lo) * (x <= hi): 1 inside the range, 0 outside and at NaN. */
static void clip_mask(dz_temps *tmp, const dz_array *x, const dz_array *lo, const dz_array *hi, dz_array *y)
{
    dz_array *above = dz_tmp_binary(tmp, DZ_BINARY_GREATER_EQUAL, x, lo);
    dz_array *below = dz_tmp_binary(tmp, DZ_BINARY_LESS_EQUAL, x, hi);
    if (!tmp->failed)
        dz_backend_of(x)->binary(DZ_BINARY_MUL, above, below, y);
}

/* clip (or its mask) with lo and hi rounded to x's dtype, as the fused
 * kernel: bit-exact. */
static bool clip_composite(const dz_array *x, double lo, double hi, bool mask, dz_array *y)
{
    dz_temps tmp = {0};
    dz_array *lo_s = dz_tmp_scalar(&tmp, x->device, x->dtype, lo); // ()
    dz_array *hi_s = dz_tmp_scalar(&tmp, x->device, x->dtype, hi); // ()
    if (mask)
        clip_mask(&tmp, x, lo_s, hi_s, y);
    else
        clip_values(&tmp, x, lo_s, hi_s, y);
    return dz_tmp_end(&tmp);
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
    dz_temps tmp = {0};
    const dz_array *labels = dz_tmp_astype(&tmp, indices, DZ_I64);
    dz_array *labels_col = dz_tmp_reshape(&tmp, labels, indices->ndim + 1, column);                     // (..., 1)
    dz_array *classes = dz_tmp_arange(&tmp, y->device, y->shape[y->ndim - 1]);                          // (V,)
    dz_array *hot = y->dtype == DZ_I64 ? y : dz_tmp_uninit(&tmp, y->device, DZ_I64, y->ndim, y->shape); // (..., V)
    if (!tmp.failed) {
        dz_backend_of(y)->binary(DZ_BINARY_EQUAL, labels_col, classes, hot);
        if (hot != y)
            dz_backend_of(y)->astype(hot, y);
    }
    return dz_tmp_end(&tmp);
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

/* ---- losses ------------------------------------------------------------------------- */

/* probs = softmax(x) and loss = -scale * the sum over the counted rows of
 * log_softmax(x)[i, t[i]], in double; x (N, C). Both softmaxes go through
 * dz_kernel_softmax. The fused kernel adds log-sum-exp and the shifted logit
 * separately: float tolerance. */
static bool softmax_cross_entropy_composite(const dz_array *x, const dz_array *t, int64_t ignore_index, double scale,
                                            dz_array *loss, dz_array *probs)
{
    dz_temps tmp = {0};
    dz_array *log_p = dz_tmp_uninit(&tmp, x->device, x->dtype, x->ndim, x->shape); // (N, C)
    if (log_p && !(dz_kernel_softmax(x, 1, false, probs) && dz_kernel_softmax(x, 1, true, log_p)))
        tmp.failed = true;
    dz_array *picked = pick_labels(&tmp, log_p, t, ignore_index); // (N, 1), 0 on ignored rows
    scaled_sum(&tmp, picked, -scale, loss);
    return dz_tmp_end(&tmp);
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
    dz_temps tmp = {0};
    dz_array *g = dz_tmp_uninit(&tmp, probs->device, probs->dtype, 0, NULL); // ()
    scale_in_double(&tmp, gy, scale, g);
    dz_array *scaled = dz_tmp_binary(&tmp, DZ_BINARY_MUL, probs, g); // (N, C)
    dz_array *counted = counted_rows(&tmp, t, ignore_index);         // (N,)
    dz_array *labels = label_rows(&tmp, t, c, ignore_index);         // (N,)
    dz_array *g_col = dz_tmp_broadcast(&tmp, g, 2, DZ_SHAPE(n, 1));
    dz_array *gx_flat = dz_tmp_reshape(&tmp, gx, 2, DZ_SHAPE(n * c, 1)); // gx's storage
    if (!tmp.failed) {
        be->gather_rows(scaled, counted, -1, gx);
        be->index_add_rows(gx_flat, labels, g_col, -1.0, -1, false);
    }
    return dz_tmp_end(&tmp);
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
static dz_array *log1p_small(dz_temps *tmp, const dz_array *e)
{
    dz_array *u = dz_tmp_unary(tmp, DZ_UNARY_ADD_SCALAR, e, 1.0);
    dz_array *log_u = dz_tmp_unary(tmp, DZ_UNARY_LOG, u, 0);
    dz_array *u_minus_1 = dz_tmp_unary(tmp, DZ_UNARY_ADD_SCALAR, u, -1.0);
    dz_array *lost = dz_tmp_binary(tmp, DZ_BINARY_SUB, e, u_minus_1);
    dz_array *fix = dz_tmp_binary(tmp, DZ_BINARY_DIV, lost, u);
    return dz_tmp_binary(tmp, DZ_BINARY_ADD, log_u, fix);
}

/* loss = scale * sum(max(x, 0) - x * t + log1p(exp(-|x|))), summed in
 * double; x and t one shape. log1p is composed (log1p_small): float tolerance. */
static bool sigmoid_cross_entropy_composite(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    dz_temps tmp = {0};
    dz_array *relu = dz_tmp_unary(&tmp, DZ_UNARY_RELU, x, 0);
    dz_array *xt = dz_tmp_binary(&tmp, DZ_BINARY_MUL, x, t);
    dz_array *linear = dz_tmp_binary(&tmp, DZ_BINARY_SUB, relu, xt); // max(x, 0) - x t
    dz_array *abs_x = dz_tmp_unary(&tmp, DZ_UNARY_ABS, x, 0);
    dz_array *neg = dz_tmp_unary(&tmp, DZ_UNARY_NEG, abs_x, 0);
    dz_array *e = dz_tmp_unary(&tmp, DZ_UNARY_EXP, neg, 0); // exp(-|x|)
    dz_array *soft = log1p_small(&tmp, e);
    dz_array *terms = dz_tmp_binary(&tmp, DZ_BINARY_ADD, linear, soft);
    scaled_sum(&tmp, terms, scale, loss);
    return dz_tmp_end(&tmp);
}

bool dz_kernel_sigmoid_cross_entropy(const dz_array *x, const dz_array *t, double scale, dz_array *loss)
{
    const dz_backend *be = dz_backend_of(x);
    if (!DZ_FUSED(be, sigmoid_cross_entropy))
        return sigmoid_cross_entropy_composite(x, t, scale, loss);
    be->fused->sigmoid_cross_entropy(x, t, scale, loss);
    return true;
}
