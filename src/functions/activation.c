/* Activations: sigmoid, relu, leaky_relu, softmax, log_softmax, max / min,
 * clip and dropout. While a graph is recorded (create_graph) the backwards are
 * built from differentiable ops; otherwise they call the nn kernels
 * (src/kernels/nn_kernels.h). Masks (relu, clip, max, dropout) are constants,
 * as in DeZero. */
#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../kernels/nn_kernels.h"
#include "checks.h"
#include "dezero/activation.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/shape.h"
#include "../core/op_helpers.h"


static dz_variable *apply(const dz_function_ops *ops, dz_variable *x, dz_array *y, double scalar, void *state)
{
    dz_variable *in[1] = {x};
    return dz_function_apply1(ops, 1, in, y, scalar, state);
}

/* gx = gy * mask, the mask a constant (the caller's reference moves in). */
static dz_variable *masked_grad(dz_variable *gy, dz_array *mask) { return dz_mul(gy, dz_constant(mask)); }

/* The same on arrays, for the fast backwards (gy broadcasts to the mask). */
static dz_variable *masked_grad_fast(const dz_array *gy, dz_array *mask)
{
    dz_array *g = gy && mask ? dz_array_binary(DZ_BINARY_MUL, gy, mask) : NULL;
    dz_array_release(mask);
    return dz_raw_result(g);
}

/* ---- sigmoid --------------------------------------------------------------- */

/* sigmoid: y = 0.5 tanh(0.5 x) + 0.5 = 1 / (1 + e^-x); gx = gy * y * (1 - y) */
static void sigmoid_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    dz_variable *y = OUT(f);
    gx[0] = dz_mul(gy[0], dz_mul(y, dz_rsub_scalar(1.0, y)));
}
static void sigmoid_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const dz_array *y = OUT(f)->data;
    dz_array *g = dz_array_uninit_like(y);
    if (g && !dz_kernel_sigmoid_backward(y, gy[0]->data, g))
        g = dz_failed_output(g);
    gx[0] = dz_raw_result(g);
}
static const dz_function_ops sigmoid_ops = {"dz_sigmoid", sigmoid_backward, NULL, sigmoid_backward_fast, "Sigmoid"};

dz_variable *dz_sigmoid(dz_variable *x)
{
    if (!dz_check_float("dz_sigmoid", x))
        return NULL;
    dz_array *y = dz_array_uninit_like(x->data);
    if (y && !dz_kernel_sigmoid(x->data, y))
        y = dz_failed_output(y);
    return apply(&sigmoid_ops, x, y, 0, NULL);
}

/* ---- relu, leaky_relu ------------------------------------------------------ */

/* relu / leaky_relu: y = x * mask, mask = x > 0 ? 1 : slope; gx = gy * mask */
static void leaky_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = masked_grad(gy[0], dz_array_unary(DZ_UNARY_LEAKY_MASK, IN(f, 0)->data, f->scalar));
}
static void leaky_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = masked_grad_fast(gy[0]->data, dz_array_unary(DZ_UNARY_LEAKY_MASK, IN(f, 0)->data, f->scalar));
}
static const dz_function_ops relu_ops = {"dz_relu", leaky_backward, NULL, leaky_backward_fast, "ReLU"};
static const dz_function_ops leaky_relu_ops = {"dz_leaky_relu", leaky_backward, NULL, leaky_backward_fast, "LeakyReLU"};

dz_variable *dz_relu(dz_variable *x)
{
    if (!dz_check_float("dz_relu", x))
        return NULL;
    return apply(&relu_ops, x, dz_array_unary(DZ_UNARY_RELU, x->data, 0), 0.0, NULL);
}

dz_variable *dz_leaky_relu(dz_variable *x, double slope)
{
    if (!dz_check_float("dz_leaky_relu", x))
        return NULL;
    dz_array *mask = dz_array_unary(DZ_UNARY_LEAKY_MASK, x->data, slope);
    dz_array *y = mask ? dz_array_binary(DZ_BINARY_MUL, x->data, mask) : NULL;
    dz_array_release(mask);
    return apply(&leaky_relu_ops, x, y, slope, NULL);
}

/* ---- softmax, log_softmax -------------------------------------------------- */

/* softmax: y = exp(x - max) / sum(exp(x - max)) along axis;
 * gx = y * gy - y * sum(y * gy, axis) */
static void softmax_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    int axis = *(const int *)f->state;
    dz_variable *y = OUT(f);
    dz_variable *ygy = dz_mul(y, gy[0]);
    gx[0] = dz_sub(ygy, dz_mul(y, dz_sum(ygy, 1, &axis, true)));
}
static void softmax_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const dz_array *y = OUT(f)->data;
    dz_array *g = dz_array_uninit_like(y);
    if (g && !dz_kernel_softmax_backward(y, gy[0]->data, *(const int *)f->state, false, g))
        g = dz_failed_output(g);
    gx[0] = dz_raw_result(g);
}
static const dz_function_ops softmax_ops = {"dz_softmax", softmax_backward, NULL, softmax_backward_fast, "Softmax"};

/* log_softmax: y = x - logsumexp(x) along axis; gx = gy - exp(y) * sum(gy, axis) */
static void log_softmax_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    int axis = *(const int *)f->state;
    dz_variable *y = OUT(f);
    gx[0] = dz_sub(gy[0], dz_mul(dz_exp(y), dz_sum(gy[0], 1, &axis, true)));
}
static void log_softmax_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const dz_array *y = OUT(f)->data;
    dz_array *g = dz_array_uninit_like(y);
    if (g && !dz_kernel_softmax_backward(y, gy[0]->data, *(const int *)f->state, true, g))
        g = dz_failed_output(g);
    gx[0] = dz_raw_result(g);
}
static const dz_function_ops log_softmax_ops = {"dz_log_softmax", log_softmax_backward, NULL,
                                                log_softmax_backward_fast, "LogSoftmax"};

static dz_variable *apply_softmax(const dz_function_ops *ops, dz_variable *x, int axis, bool log)
{
    int a;
    if (!dz_check_float(ops->name, x) || !dz_check_axis(ops->name, x->data, axis, false, &a))
        return NULL;
    dz_array *y = dz_array_uninit_like(x->data);
    if (y && !dz_kernel_softmax(x->data, a, log, y))
        y = dz_failed_output(y);
    int *axis_state = dz_xmalloc(sizeof *axis_state); /* the axis, normalised to 0..ndim-1 */
    *axis_state = a;
    return apply(ops, x, y, 0, axis_state);
}

dz_variable *dz_softmax(dz_variable *x, int axis) { return apply_softmax(&softmax_ops, x, axis, false); }
dz_variable *dz_log_softmax(dz_variable *x, int axis) { return apply_softmax(&log_softmax_ops, x, axis, true); }

/* ---- max, min -------------------------------------------------------------- */

typedef struct {
    int ndim;
    int64_t kept[DZ_MAX_NDIM]; /* x shape with 1 on the reduced axes */
} kept_state;

/* max / min: y = extremum over axes; gx = reshape(gy, kept) * (x == y), so
 * every tied extremum gets the full grad */
static dz_array *extremum_mask(dz_function *f)
{
    const kept_state *s = f->state;
    dz_array *y = dz_array_reshape(OUT(f)->data, s->ndim, s->kept);
    dz_array *mask = y ? dz_array_binary(DZ_BINARY_EQUAL, IN(f, 0)->data, y) : NULL; // (x shape)
    dz_array_release(y);
    return mask;
}
static void extremum_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const kept_state *s = f->state;
    gx[0] = masked_grad(dz_reshape(gy[0], s->ndim, s->kept), extremum_mask(f));
}
static void extremum_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const kept_state *s = f->state;
    dz_array *g = dz_array_reshape(gy[0]->data, s->ndim, s->kept); // (kept shape)
    gx[0] = masked_grad_fast(g, g ? extremum_mask(f) : NULL);
    dz_array_release(g);
}
static const dz_function_ops max_ops = {"dz_max", extremum_backward, NULL, extremum_backward_fast, "Max"};
static const dz_function_ops min_ops = {"dz_min", extremum_backward, NULL, extremum_backward_fast, "Min"};

/* No reduced axis (kept 1) has length 0: an extremum of nothing is undefined. */
static bool check_nonempty(const char *op, const dz_array *x, const int64_t *kept)
{
    for (int d = 0; d < x->ndim; d++) {
        if (kept[d] == 1 && x->shape[d] == 0) {
            dz_raise(DZ_ERR_VALUE, "%s: axis %d of shape %s is empty, and an empty axis has no extremum; reduce "
                     "other axes or give the input elements", op, d, DZ_SHAPE_OF(x));
            return false;
        }
    }
    return true;
}

static dz_variable *extremum(const dz_function_ops *ops, dz_reduce_op op, dz_variable *x, int naxes,
                             const int *axes, bool keepdims)
{
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
    if (!dz_check_float(ops->name, x))
        return NULL;
    kept_state *s = dz_xmalloc(sizeof *s);
    s->ndim = x->data->ndim;
    if (!dz_check_reduce_axes(ops->name, x->data, naxes, axes, s->kept, &ndim, shape) ||
        !check_nonempty(ops->name, x->data, s->kept)) {
        free(s);
        return NULL;
    }
    dz_array *kept = dz_array_reduce(op, x->data, s->kept);
    dz_array *y = keepdims || !kept ? kept : dz_array_reshape(kept, ndim, shape);
    if (y != kept)
        dz_array_release(kept);
    return apply(ops, x, y, 0, s);
}

dz_variable *dz_max(dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    return extremum(&max_ops, DZ_REDUCE_MAX, x, naxes, axes, keepdims);
}

dz_variable *dz_min(dz_variable *x, int naxes, const int *axes, bool keepdims)
{
    return extremum(&min_ops, DZ_REDUCE_MIN, x, naxes, axes, keepdims);
}

/* ---- clip ------------------------------------------------------------------ */

typedef struct {
    double lo, hi;
} clip_state;

/* clip: y = min(max(x, lo), hi); gx = gy * (lo <= x <= hi) */
static dz_array *clip_mask(dz_function *f)
{
    const clip_state *s = f->state;
    const dz_array *x = IN(f, 0)->data;
    dz_array *mask = dz_array_uninit_like(x);
    if (mask && !dz_kernel_clip(x, s->lo, s->hi, true, mask))
        mask = dz_failed_output(mask);
    return mask;
}
static void clip_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = masked_grad(gy[0], clip_mask(f));
}
static void clip_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = masked_grad_fast(gy[0]->data, clip_mask(f));
}
static const dz_function_ops clip_ops = {"dz_clip", clip_backward, NULL, clip_backward_fast, "Clip"};

dz_variable *dz_clip(dz_variable *x, double lo, double hi)
{
    if (!dz_check_float("dz_clip", x))
        return NULL;
    if (!(lo <= hi)) {
        dz_raise(DZ_ERR_VALUE, "dz_clip: lo %g is greater than hi %g", lo, hi);
        return NULL;
    }
    clip_state *s = dz_xmalloc(sizeof *s);
    *s = (clip_state){lo, hi};
    dz_array *y = dz_array_uninit_like(x->data);
    if (y && !dz_kernel_clip(x->data, lo, hi, false, y))
        y = dz_failed_output(y);
    return apply(&clip_ops, x, y, 0, s);
}

/* ---- dropout --------------------------------------------------------------- */

static void release_mask(void *mask) { dz_array_release(mask); }

/* dropout: y = x * mask, mask = (uniform > ratio) / (1 - ratio); gx = gy * mask */
static void dropout_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = masked_grad(gy[0], dz_array_retain(f->state));
}
static void dropout_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    gx[0] = masked_grad_fast(gy[0]->data, dz_array_retain(f->state));
}
static const dz_function_ops dropout_ops = {"dz_dropout", dropout_backward, release_mask, dropout_backward_fast,
                                            "Dropout"};

/* (uniform > ratio) / (1 - ratio) in x's dtype, on x's device. */
static dz_array *dropout_mask(const dz_array *x, double ratio, dz_rng *rng)
{
    dz_array *u = dz_array_uniform(rng, x->dtype, x->ndim, x->shape, 0.0, 1.0);
    dz_array *ud = u ? dz_array_to_device(u, x->device) : NULL;
    dz_array *shifted = ud ? dz_array_unary(DZ_UNARY_ADD_SCALAR, ud, -ratio) : NULL;
    dz_array *keep = shifted ? dz_array_unary(DZ_UNARY_STEP, shifted, 0) : NULL;
    dz_array *mask = keep ? dz_array_unary(DZ_UNARY_MUL_SCALAR, keep, 1.0 / (1.0 - ratio)) : NULL;
    dz_array_release(u);
    dz_array_release(ud);
    dz_array_release(shifted);
    dz_array_release(keep);
    return mask;
}

dz_variable *dz_dropout(dz_variable *x, double ratio, dz_rng *rng)
{
    if (!dz_check_float("dz_dropout", x))
        return NULL;
    if (!(ratio >= 0.0 && ratio < 1.0)) {
        dz_raise(DZ_ERR_VALUE, "dz_dropout: ratio %g is outside [0, 1)", ratio);
        return NULL;
    }
    if (!dz_is_train())
        return dz_identity_result(x);
    dz_array *mask = dropout_mask(x->data, ratio, rng);
    dz_array *y = mask ? dz_array_binary(DZ_BINARY_MUL, x->data, mask) : NULL;
    return apply(&dropout_ops, x, y, ratio, mask);
}
