/* Normalization: batch_norm (DeZero's BatchNorm function: batch statistics
 * and running averages in train mode, the running averages in test mode) and
 * layer_norm (PyTorch's F.layer_norm). Both see x as (A, C, B) and
 * normalise with one mean and var per C, taken over axes 0 and 2:
 *   batch_norm x (N, C)            as (N, C, 1)    gamma, beta (C,) as (1, C, 1)
 *   batch_norm x (N, C, H, W)      as (N, C, H*W)
 *   layer_norm x (lead..., norm...) as (1, L, M)   gamma, beta (norm...) as (1, 1, M)
 * xhat = (x - mean) * inv_std, inv_std = 1 / sqrt(var + eps) (biased var),
 * y = gamma * xhat + beta. With g = gy * gamma, the grads are
 *   gx = inv_std * (g - mean(g) - xhat * mean(g * xhat))   batch statistics
 *   gx = inv_std * g                                       running averages (constants)
 *   ggamma = sum(gy * xhat), gbeta = sum(gy) over the axes gamma broadcasts on.
 * The backward recorded for create_graph computes mean and inv_std again from
 * x with differentiable ops, so the second derivative is exact; the fast one
 * takes the statistics kept from the forward. */
#include <math.h>
#include <stdlib.h>

#include "../core/array_ops.h"
#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "../kernels/temps.h"
#include "checks.h"
#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/normalization.h"
#include "dezero/shape.h"

typedef struct {
    int64_t view[3];        /* x seen as (A, C, B) */
    int64_t param_view[3];  /* gamma and beta seen as (1, C, 1) or (1, 1, M) */
    double eps;
    bool batch_stats;       /* statistics of x; else the running averages, constants */
    bool has_gamma, has_beta;
    dz_array *mean, *inv_std; /* (1, C, 1): the statistics the forward used */
} norm_state;

static void destroy_norm_state(void *state)
{
    norm_state *s = state;
    dz_array_release(s->mean);
    dz_array_release(s->inv_std);
    free(s);
}

/* ---- forward ------------------------------------------------------------------------------ */

/* scale * the sum of v (A, C, B) over axes 0 and 2, kept as (1, C, 1). */
static dz_array *sum02(dz_temps *tmp, const dz_array *v, double scale)
{
    dz_array *s = dz_tmp_reduce(tmp, DZ_REDUCE_SUM, dz_tmp_reduce(tmp, DZ_REDUCE_SUM, v, 2), 0);
    return dz_tmp_unary(tmp, DZ_UNARY_MUL_SCALAR, s, scale);
}

/* y = gamma * xhat + beta (x's shape), xhat = (x - mean) * inv_std with the
 * batch's statistics or the running ones (given as (C,)); the statistics go
 * to s->mean and s->inv_std, and the batch's biased var to *var when var is
 * not NULL. NULL when memory runs out. */
static dz_array *normalize(norm_state *s, const dz_array *x, const dz_array *gamma, const dz_array *beta,
                           const dz_array *running_mean, const dz_array *running_var, dz_array **var)
{
    dz_temps tmp = {0};
    const int64_t stat_shape[3] = {1, s->view[1], 1};
    double m = (double)s->view[0] * (double)s->view[2], inv_m = m > 0 ? 1.0 / m : 0.0;
    dz_array *xv = dz_tmp_reshape(&tmp, x, 3, s->view); // (A, C, B)
    dz_array *mean, *v, *xc;                             // (1, C, 1), (1, C, 1), (A, C, B)
    if (s->batch_stats) {
        mean = sum02(&tmp, xv, inv_m);
        xc = dz_tmp_binary(&tmp, DZ_BINARY_SUB, xv, mean);
        v = sum02(&tmp, dz_tmp_unary(&tmp, DZ_UNARY_SQUARE, xc, 0), inv_m);
    } else { /* a copy: the running averages change in place at the next train step */
        mean = dz_tmp_copy(&tmp, dz_tmp_reshape(&tmp, running_mean, 3, stat_shape));
        v = dz_tmp_reshape(&tmp, running_var, 3, stat_shape);
        xc = dz_tmp_binary(&tmp, DZ_BINARY_SUB, xv, mean);
    }
    dz_array *std = dz_tmp_unary(&tmp, DZ_UNARY_SQRT, dz_tmp_unary(&tmp, DZ_UNARY_ADD_SCALAR, v, s->eps), 0);
    dz_array *inv_std = dz_tmp_unary(&tmp, DZ_UNARY_RDIV_SCALAR, std, 1.0);
    dz_array *y = dz_tmp_binary(&tmp, DZ_BINARY_MUL, xc, inv_std); // xhat (A, C, B)
    if (gamma)
        y = dz_tmp_binary(&tmp, DZ_BINARY_MUL, y, dz_tmp_reshape(&tmp, gamma, 3, s->param_view));
    if (beta)
        y = dz_tmp_binary(&tmp, DZ_BINARY_ADD, y, dz_tmp_reshape(&tmp, beta, 3, s->param_view));
    y = dz_tmp_reshape(&tmp, y, x->ndim, x->shape);
    if (!tmp.failed) {
        s->mean = dz_array_retain(mean);
        s->inv_std = dz_array_retain(inv_std);
        if (var)
            *var = dz_array_retain(v);
        dz_array_retain(y);
    }
    return dz_tmp_end(&tmp) ? y : NULL;
}

/* avg (C,) = decay * avg + scale * stat (1, C, 1), in place; false when memory runs out. */
static bool update_average(dz_array *avg, const dz_array *stat, double decay, double scale)
{
    dz_temps tmp = {0};
    dz_array *old = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, avg, decay);
    dz_array *add = dz_tmp_unary(&tmp, DZ_UNARY_MUL_SCALAR, dz_tmp_reshape(&tmp, stat, 1, avg->shape), scale);
    dz_array *sum = dz_tmp_binary(&tmp, DZ_BINARY_ADD, old, add);
    if (sum)
        dz_backend_of(avg)->unary(DZ_UNARY_COPY, sum, 0, avg);
    return dz_tmp_end(&tmp);
}

/* ---- backward ----------------------------------------------------------------------------- */

static const int stat_axes[2] = {0, 2};

/* The mean of v (A, C, B) over axes 0 and 2, kept as (1, C, 1). */
static dz_variable *stat_mean(dz_variable *v) { return dz_mean(v, 2, stat_axes, true); }

/* The grads of x, gamma and beta from xhat (A, C, B) and inv_std (1, C, 1). */
static void norm_grads(dz_function *f, dz_variable *gy, dz_variable *xhat, dz_variable *inv_std, dz_variable **gx)
{
    const norm_state *s = f->state;
    dz_variable *x = IN(f, 0);
    dz_variable *gamma = s->has_gamma ? IN(f, 1) : NULL;
    dz_variable *beta = s->has_beta ? IN(f, 1 + s->has_gamma) : NULL;
    dz_variable *gyv = dz_reshape(gy, 3, s->view); // (A, C, B)
    if (dz_needs_grad(x)) {
        dz_variable *g = gamma ? dz_mul(gyv, dz_reshape(gamma, 3, s->param_view)) : gyv;
        if (s->batch_stats)
            g = dz_sub(dz_sub(g, stat_mean(g)), dz_mul(xhat, stat_mean(dz_mul(g, xhat))));
        gx[0] = dz_reshape(dz_mul(g, inv_std), SHAPE_OF(x));
    }
    if (gamma && dz_needs_grad(gamma))
        gx[1] = dz_reshape(dz_sum_to(dz_mul(gyv, xhat), 3, s->param_view), SHAPE_OF(gamma));
    if (beta && dz_needs_grad(beta))
        gx[1 + s->has_gamma] = dz_reshape(dz_sum_to(gyv, 3, s->param_view), SHAPE_OF(beta));
}

/* Recorded: the statistics again from x, differentiable. */
static void norm_backward(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const norm_state *s = f->state;
    dz_variable *xv = dz_reshape(IN(f, 0), 3, s->view); // (A, C, B)
    dz_variable *xc, *inv_std;
    if (s->batch_stats) {
        xc = dz_sub(xv, stat_mean(xv));
        inv_std = dz_pow(dz_add_scalar(stat_mean(dz_square(xc)), s->eps), -0.5);
    } else {
        xc = dz_sub(xv, dz_constant(dz_array_retain(s->mean)));
        inv_std = dz_constant(dz_array_retain(s->inv_std));
    }
    norm_grads(f, gy[0], dz_mul(xc, inv_std), inv_std, gx);
}

/* Fast: xhat from the forward's statistics, as constants. */
static void norm_backward_fast(dz_function *f, dz_variable *const *gy, dz_variable **gx)
{
    const norm_state *s = f->state;
    dz_temps tmp = {0};
    dz_array *xc = dz_tmp_binary(&tmp, DZ_BINARY_SUB, dz_tmp_reshape(&tmp, IN(f, 0)->data, 3, s->view), s->mean);
    dz_array *xhat = dz_tmp_end_with(&tmp, dz_tmp_binary(&tmp, DZ_BINARY_MUL, xc, s->inv_std)); // (A, C, B)
    if (xhat)
        norm_grads(f, gy[0], dz_constant(xhat), dz_constant(dz_array_retain(s->inv_std)), gx);
}

static const dz_function_ops batch_norm_ops = {"dz_batch_norm", norm_backward, destroy_norm_state,
                                               norm_backward_fast, "BatchNorm"};
static const dz_function_ops layer_norm_ops = {"dz_layer_norm", norm_backward, destroy_norm_state,
                                               norm_backward_fast, "LayerNorm"};

/* Records the Function on x and the gammas and betas given (the state moves in). */
static dz_variable *apply_norm(const dz_function_ops *ops, norm_state *s, dz_variable *x, dz_variable *gamma,
                               dz_variable *beta, dz_array *y)
{
    dz_variable *in[3] = {x};
    int n = 1;
    if (gamma)
        in[n++] = gamma;
    if (beta)
        in[n++] = beta;
    return dz_function_apply1(ops, n, in, y, 0, s);
}

/* ---- checks ------------------------------------------------------------------------------- */

/* An optional parameter (gamma, beta) has x's dtype and device and the given shape. */
static bool check_affine(const char *op, const char *what, const dz_variable *x, const dz_variable *p, int ndim,
                         const int64_t *shape)
{
    if (!p)
        return true;
    if (!dz_check_pair(op, x, p))
        return false;
    if (dz_shape_equal(p->data->ndim, p->data->shape, ndim, shape))
        return true;
    dz_raise(DZ_ERR_SHAPE, "%s: %s has shape %s but x %s needs %s (or NULL)", op, what, DZ_SHAPE_OF(p->data),
             DZ_SHAPE_OF(x->data), dz_shape_str(ndim, shape));
    return false;
}

/* eps is a finite number >= 0. */
static bool check_eps(const char *op, double eps)
{
    if (eps >= 0 && isfinite(eps))
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: eps %g must be a finite number >= 0", op, eps);
    return false;
}

/* A running average has x's dtype and device and shape (C,). */
static bool check_running(const char *op, const char *what, const dz_array *a, const dz_array *x)
{
    if (!dz_check_array(op, a) || !dz_check_same_device(op, what, a, "x", x))
        return false;
    if (a->dtype != x->dtype) {
        dz_raise(DZ_ERR_DTYPE, "%s: %s is %s but x is %s; convert it with dz_array_astype", op, what,
                 dz_dtype_name(a->dtype), dz_dtype_name(x->dtype));
        return false;
    }
    if (a->ndim == 1 && a->shape[0] == x->shape[1])
        return true;
    dz_raise(DZ_ERR_SHAPE, "%s: %s has shape %s but x %s has %lld channels (dim 1); it must be (%lld,)", op, what,
             DZ_SHAPE_OF(a), DZ_SHAPE_OF(x), (long long)x->shape[1], (long long)x->shape[1]);
    return false;
}

static bool check_running_pair(const char *op, const dz_array *mean, const dz_array *var, const dz_array *x,
                               bool train)
{
    if (!mean && !var) {
        if (train)
            return true;
        dz_raise(DZ_ERR_VALUE, "%s: in test mode x is normalised with the running averages, and none were given; "
                 "pass running_mean and running_var, or call it in train mode (dz_set_train)", op);
        return false;
    }
    if (!mean || !var) {
        dz_raise(DZ_ERR_NULL, "%s: running_%s is NULL but running_%s is not; give both or neither", op,
                 mean ? "var" : "mean", mean ? "mean" : "var");
        return false;
    }
    return check_running(op, "running_mean", mean, x) && check_running(op, "running_var", var, x);
}

static bool check_batch_norm(const char *op, dz_variable *x, dz_variable *gamma, dz_variable *beta,
                             const dz_array *running_mean, const dz_array *running_var, double decay, double eps,
                             bool train)
{
    if (!dz_check_float(op, x))
        return false;
    const dz_array *xa = x->data;
    if (xa->ndim != 2 && xa->ndim != 4) {
        dz_raise(DZ_ERR_SHAPE, "%s: x has shape %s; it must be (N, C) or (N, C, H, W)", op, DZ_SHAPE_OF(xa));
        return false;
    }
    int64_t per_channel = xa->shape[0] * (xa->ndim == 4 ? xa->shape[2] * xa->shape[3] : 1);
    if (train && per_channel == 0 && xa->shape[1] > 0) {
        dz_raise(DZ_ERR_SHAPE, "%s: x %s has no values per channel to take batch statistics of", op,
                 DZ_SHAPE_OF(xa));
        return false;
    }
    if (!(decay >= 0 && decay <= 1)) {
        dz_raise(DZ_ERR_VALUE, "%s: decay %g is outside [0, 1]", op, decay);
        return false;
    }
    return check_eps(op, eps) && check_affine(op, "gamma", x, gamma, 1, &xa->shape[1]) &&
           check_affine(op, "beta", x, beta, 1, &xa->shape[1]) &&
           check_running_pair(op, running_mean, running_var, xa, train);
}

/* ---- batch_norm, layer_norm --------------------------------------------------------------- */

dz_variable *dz_batch_norm(dz_variable *x, dz_variable *gamma, dz_variable *beta, dz_array *running_mean,
                           dz_array *running_var, double decay, double eps)
{
    const char *op = "dz_batch_norm";
    bool train = dz_is_train();
    if (!check_batch_norm(op, x, gamma, beta, running_mean, running_var, decay, eps, train))
        return NULL;
    const dz_array *xa = x->data;
    int64_t N = xa->shape[0], C = xa->shape[1], B = xa->ndim == 4 ? xa->shape[2] * xa->shape[3] : 1;
    norm_state *s = dz_xcalloc(1, sizeof *s);
    *s = (norm_state){{N, C, B}, {1, C, 1}, eps, train, gamma != NULL, beta != NULL, NULL, NULL};
    dz_array *var = NULL;
    dz_array *y = normalize(s, xa, gamma ? gamma->data : NULL, beta ? beta->data : NULL, running_mean, running_var,
                            train && running_mean ? &var : NULL);
    if (y && var) { /* the running var unbiased by m / max(m - 1, 1), DeZero's rule */
        double m = (double)N * (double)B, adjust = m / (m - 1 > 1 ? m - 1 : 1);
        if (!update_average(running_mean, s->mean, decay, 1 - decay) ||
            !update_average(running_var, var, decay, (1 - decay) * adjust))
            y = dz_failed_output(y);
    }
    dz_array_release(var);
    return apply_norm(&batch_norm_ops, s, x, gamma, beta, y);
}

dz_variable *dz_layer_norm(dz_variable *x, int ndim, dz_variable *gamma, dz_variable *beta, double eps)
{
    const char *op = "dz_layer_norm";
    if (!dz_check_float(op, x) || !check_eps(op, eps))
        return NULL;
    const dz_array *xa = x->data;
    if (ndim < 1 || ndim > xa->ndim) {
        dz_raise(DZ_ERR_VALUE, "%s: ndim %d must be 1 to %d, the dims of x %s (the last ndim dims are "
                 "normalised)", op, ndim, xa->ndim, DZ_SHAPE_OF(xa));
        return NULL;
    }
    const int64_t *normalized = xa->shape + xa->ndim - ndim;
    if (!check_affine(op, "gamma", x, gamma, ndim, normalized) || !check_affine(op, "beta", x, beta, ndim, normalized))
        return NULL;
    int64_t L = 1, M = 1; /* the sizes of the leading and of the normalised dims */
    for (int d = 0; d < xa->ndim - ndim; d++)
        L *= xa->shape[d];
    for (int d = xa->ndim - ndim; d < xa->ndim; d++)
        M *= xa->shape[d];
    norm_state *s = dz_xcalloc(1, sizeof *s);
    *s = (norm_state){{1, L, M}, {1, 1, M}, eps, true, gamma != NULL, beta != NULL, NULL, NULL};
    dz_array *y = normalize(s, xa, gamma ? gamma->data : NULL, beta ? beta->data : NULL, NULL, NULL, NULL);
    return apply_norm(&layer_norm_ops, s, x, gamma, beta, y);
}
