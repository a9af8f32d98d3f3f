/* Normalization layers: DeZero's BatchNorm (four lazy parameters, the
 * running averages among them, made from the first input) and PyTorch's
 * LayerNorm (weight and bias of the normalised shape). Their checks refuse,
 * under the name of the public call, inputs and replaced parameters that the
 * functions would refuse. */
#include <math.h>
#include <stdlib.h>

#include "../backend/backend.h"
#include "../core/internal.h"
#include "../functions/checks.h"
#include "dezero/normalization.h"
#include "dezero/scope.h"
#include "layer_internal.h"

/* ---- BatchNorm ---------------------------------------------------------------------------- */

#define BATCH_NORM_DECAY 0.9
#define BATCH_NORM_EPS 2e-5

/* DeZero's order, with the values of a new layer. */
static const char *const batch_norm_params[4] = {"avg_mean", "avg_var", "gamma", "beta"};
static const double batch_norm_init[4] = {0.0, 1.0, 1.0, 0.0};

/* Every parameter that has data is (C,) with x's dtype and device. */
static bool batch_norm_params_fit(const char *op, dz_layer *self, const dz_array *x)
{
    for (int i = 0; i < 4; i++) {
        const dz_array *p = dz_layer_param(self, batch_norm_params[i])->data;
        if (!p)
            continue;
        if (p->device != x->device) {
            dz_raise(DZ_ERR_DEVICE, "%s: this BatchNorm layer's parameters are on the %s but its input is on the "
                     "%s; move one of them (dz_layer_to_device, dz_array_to_device)", op,
                     dz_device_name(p->device), dz_device_name(x->device));
            return false;
        }
        if (p->dtype != x->dtype) {
            dz_raise(DZ_ERR_DTYPE, "%s: this BatchNorm layer is %s ('%s') but its input is %s; convert one of them",
                     op, dz_dtype_name(p->dtype), batch_norm_params[i], dz_dtype_name(x->dtype));
            return false;
        }
        if (p->ndim != 1 || p->shape[0] != x->shape[1]) {
            dz_raise(DZ_ERR_SHAPE, "%s: this BatchNorm layer's '%s' has shape %s but its input %s has %lld "
                     "channels (dim 1)", op, batch_norm_params[i], DZ_SHAPE_OF(p), DZ_SHAPE_OF(x),
                     (long long)x->shape[1]);
            return false;
        }
    }
    return true;
}

/* One float input (N, C) or (N, C, H, W) that the parameters fit. */
static bool batch_norm_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: a BatchNorm layer takes one input, got %d", op, n);
        return false;
    }
    if (!dz_check_float(op, x[0]))
        return false;
    const dz_array *a = x[0]->data;
    if (a->ndim != 2 && a->ndim != 4) {
        dz_raise(DZ_ERR_SHAPE, "%s: a BatchNorm layer takes an input (N, C) or (N, C, H, W), got %s", op,
                 DZ_SHAPE_OF(a));
        return false;
    }
    return batch_norm_params_fit(op, self, a);
}

/* The parameters without data made as (C,) of x's dtype on its device;
 * false when memory runs out. */
static bool batch_norm_init_params(dz_layer *self, const dz_array *x)
{
    for (int i = 0; i < 4; i++) {
        dz_variable *p = dz_layer_param(self, batch_norm_params[i]);
        if (p->data)
            continue;
        dz_array *a = dz_array_uninit_on(x->device, x->dtype, 1, &x->shape[1]);
        if (!a)
            return false;
        dz_backend_of(a)->fill(a, batch_norm_init[i]);
        dz_variable_set_data(p, a);
    }
    return true;
}

static dz_variable *batch_norm_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    if (!batch_norm_init_params(self, x[0]->data))
        return NULL;
    return dz_batch_norm(x[0], dz_layer_param(self, "gamma"), dz_layer_param(self, "beta"),
                         dz_layer_param(self, "avg_mean")->data, dz_layer_param(self, "avg_var")->data,
                         BATCH_NORM_DECAY, BATCH_NORM_EPS);
}

static const dz_layer_ops batch_norm_ops = {.type = "BatchNorm", .forward = batch_norm_forward,
                                            .check = batch_norm_check};

dz_layer *dz_batch_norm_layer_new(void)
{
    dz_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(l, &batch_norm_ops);
    dz_scope_begin();
    for (int i = 0; i < 4; i++) {
        dz_variable *p = dz_parameter_new(NULL, batch_norm_params[i]);
        p->requires_grad = i >= 2; /* the running averages are not trained */
        dz_layer_add_param(l, batch_norm_params[i], p);
    }
    dz_scope_end();
    return l;
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

typedef struct {
    dz_layer base;
    int ndim;
    int64_t shape[DZ_MAX_NDIM]; /* the normalised shape */
    double eps;
} layer_norm_layer;

/* One float input whose last dims are the normalised shape, and which the
 * weight and bias (when the layer has them) fit. */
static bool layer_norm_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    const layer_norm_layer *l = (const layer_norm_layer *)self;
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: a LayerNorm layer takes one input, got %d", op, n);
        return false;
    }
    if (!dz_check_float(op, x[0]))
        return false;
    const dz_array *a = x[0]->data;
    if (a->ndim < l->ndim || !dz_shape_equal(l->ndim, a->shape + a->ndim - l->ndim, l->ndim, l->shape)) {
        dz_raise(DZ_ERR_SHAPE, "%s: this LayerNorm layer normalises the last dims %s, but its input is %s", op,
                 dz_shape_str(l->ndim, l->shape), DZ_SHAPE_OF(a));
        return false;
    }
    for (int i = 0; i < self->nparams; i++) {
        const dz_array *p = self->params[i]->data;
        if (!p || p->dtype != a->dtype || p->device != a->device ||
            !dz_shape_equal(p->ndim, p->shape, l->ndim, l->shape)) {
            dz_raise(DZ_ERR_STATE, "%s: this LayerNorm layer's '%s' (%s %s on the %s) does not fit a %s input on "
                     "the %s; convert or move one of them (dz_layer_to_device)", op, self->param_names[i],
                     p ? dz_dtype_name(p->dtype) : "no data", p ? DZ_SHAPE_OF(p) : "",
                     p ? dz_device_name(p->device) : "-", dz_dtype_name(a->dtype), dz_device_name(a->device));
            return false;
        }
    }
    return true;
}

static dz_variable *layer_norm_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    const layer_norm_layer *l = (const layer_norm_layer *)self;
    return dz_layer_norm(x[0], l->ndim, dz_layer_param(self, "weight"), dz_layer_param(self, "bias"), l->eps);
}

static const dz_layer_ops layer_norm_ops = {.type = "LayerNorm", .forward = layer_norm_forward,
                                            .check = layer_norm_check};

static bool layer_norm_check_args(const char *op, int ndim, const int64_t *shape, double eps, dz_dtype dtype)
{
    if (ndim < 1 || ndim > DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_VALUE, "%s: ndim %d must be 1 to %d", op, ndim, DZ_MAX_NDIM);
        return false;
    }
    if (!dz_check_shape(op, "normalized_shape", ndim, shape))
        return false;
    if (!(eps >= 0 && isfinite(eps))) {
        dz_raise(DZ_ERR_VALUE, "%s: eps %g must be a finite number >= 0", op, eps);
        return false;
    }
    if (!dz_dtype_is_float(dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: dtype %d is not float32 or float64", op, (int)dtype);
        return false;
    }
    return true;
}

dz_layer *dz_layer_norm_layer_new(int ndim, const int64_t *normalized_shape, double eps, bool elementwise_affine,
                                  dz_dtype dtype)
{
    const char *op = "dz_layer_norm_layer_new";
    if (!layer_norm_check_args(op, ndim, normalized_shape, eps, dtype))
        return NULL;
    dz_array *w = elementwise_affine ? dz_array_ones(dtype, ndim, normalized_shape) : NULL;
    dz_array *b = elementwise_affine ? dz_array_zeros(dtype, ndim, normalized_shape) : NULL;
    if (elementwise_affine && (!w || !b)) {
        dz_fail_under(op, DZ_ERR_NOMEM);
        dz_array_release(w);
        dz_array_release(b);
        return NULL;
    }
    layer_norm_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &layer_norm_ops);
    l->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        l->shape[d] = normalized_shape[d];
    l->eps = eps;
    if (elementwise_affine) {
        dz_scope_begin();
        dz_layer_add_param(&l->base, "weight", dz_parameter_new(w, "weight"));
        dz_layer_add_param(&l->base, "bias", dz_parameter_new(b, "bias"));
        dz_scope_end();
    }
    return &l->base;
}
