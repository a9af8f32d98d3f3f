/* Linear layer: y = x W + b, with DeZero's lazy in_size, or around given
 * arrays (dz_linear_layer_from_values). Its check refuses inputs dz_linear
 * would refuse, and lazy weights too large to allocate, under the name of
 * the public call (dz_layer_call, an RNN's...). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/internal.h"
#include "../functions/checks.h"
#include "dezero/layers.h"
#include "dezero/linalg.h"
#include "dezero/scope.h"
#include "layer_internal.h"

typedef struct {
    dz_layer base;
    int64_t out_size;
    dz_dtype dtype;
    dz_rng *rng;
} linear_layer;

bool dz_linear_check_args(const char *op, int64_t out_size, int64_t in_size, dz_dtype dtype)
{
    if (out_size <= 0 || in_size < 0 || !dz_dtype_is_float(dtype)) {
        dz_raise(DZ_ERR_VALUE, "%s: out_size %lld must be > 0, in_size %lld >= 0 (0 = lazy), dtype float32 or "
                 "float64 (got %d)", op, (long long)out_size, (long long)in_size, (int)dtype);
        return false;
    }
    int64_t count, bytes; /* W (in_size, out_size), or b (out_size,) for a lazy layer */
    if (__builtin_mul_overflow(in_size ? in_size : 1, out_size, &count) ||
        __builtin_mul_overflow(count, (int64_t)dz_dtype_size(dtype), &bytes)) {
        dz_raise(DZ_ERR_OVERFLOW, "%s: a Linear weight of (%lld, %lld) %s has more bytes than fit in 64 bits; use "
                 "smaller sizes", op, (long long)in_size, (long long)out_size, dz_dtype_name(dtype));
        return false;
    }
    return true;
}

/* W (in_size, out_size) ~ N(0, 1) * sqrt(1 / in_size); NULL when memory runs out. */
static dz_array *init_weight(const linear_layer *l, int64_t in_size)
{
    return dz_array_normal(l->rng, l->dtype, 2, DZ_SHAPE(in_size, l->out_size), 0.0, sqrt(1.0 / (double)in_size));
}

static bool same_kind(const dz_array *p, int ndim, dz_dtype dtype, const dz_array *x)
{
    return p->ndim == ndim && p->dtype == dtype && p->device == x->device;
}

/* W (in, out) and b (out,) still have the layer's dtype, the input's device
 * and fitting shapes (a user may have replaced their data). */
static bool check_params(const char *op, const dz_array *W, const dz_array *b, dz_dtype dtype, const dz_array *x)
{
    const dz_array *param = W ? W : b;
    if (param && param->device != x->device) {
        dz_raise(DZ_ERR_DEVICE, "%s: this Linear layer's parameters are on the %s but its input is on the %s; move "
                 "one of them (dz_layer_to_device, dz_array_to_device)", op, dz_device_name(param->device),
                 dz_device_name(x->device));
        return false;
    }
    bool fit = (!W || same_kind(W, 2, dtype, x)) &&
               (!b || (same_kind(b, 1, dtype, x) && (!W || b->shape[0] == W->shape[1])));
    if (!fit)
        dz_raise(DZ_ERR_STATE, "%s: this Linear layer's parameters (W %s %s, b %s %s) do not fit a %s layer with "
                 "an input on the %s; their data was replaced", op, W ? dz_dtype_name(W->dtype) : "lazy",
                 W ? DZ_SHAPE_OF(W) : "", b ? dz_dtype_name(b->dtype) : "none", b ? DZ_SHAPE_OF(b) : "",
                 dz_dtype_name(dtype), x->device == DZ_CPU ? "CPU" : "GPU");
    return fit;
}

/* x is a 2-D float input whose features match W. Its dtype may differ from
 * the layer's: dz_linear promotes them as NumPy does (float64 data through a
 * float32 layer gives float64, and float32 grads for W and b), as in DeZero. */
static bool linear_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    const linear_layer *l = (const linear_layer *)self;
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: a Linear layer takes one input, got %d", op, n);
        return false;
    }
    if (!dz_check_float(op, x[0]))
        return false;
    const dz_array *a = x[0]->data, *W = dz_layer_param(self, "W")->data;
    const dz_variable *b = dz_layer_param(self, "b");
    if (a->ndim != 2 || (W && a->shape[1] != W->shape[0])) {
        char in_size[32] = "in_size";
        if (W)
            snprintf(in_size, sizeof in_size, "%lld", (long long)W->shape[0]);
        dz_raise(DZ_ERR_SHAPE, "%s: this Linear layer expects a 2-D %s input (N, %s), got %s", op,
                 dz_dtype_name(l->dtype), in_size, DZ_SHAPE_OF(a));
        return false;
    }
    if (!W && a->shape[1] == 0) {
        dz_raise(DZ_ERR_SHAPE, "%s: a lazy Linear layer cannot size its weights from an input %s with no features",
                 op, DZ_SHAPE_OF(a));
        return false;
    }
    return check_params(op, W, b ? b->data : NULL, l->dtype, a) &&
           (W || dz_linear_check_args(op, l->out_size, a->shape[1], l->dtype));
}

static dz_variable *linear_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    dz_variable *W = dz_layer_param(self, "W");
    if (!W->data) { /* lazy: in_size from the input's second dim, on the input's device (as DeZero) */
        dz_array *host = init_weight((const linear_layer *)self, x[0]->data->shape[1]);
        dz_array *w = host ? dz_array_to_device(host, x[0]->data->device) : NULL;
        dz_array_release(host);
        if (!w)
            return NULL;
        dz_variable_set_data(W, w);
    }
    return dz_linear(x[0], W, dz_layer_param(self, "b"));
}

static const dz_layer_ops linear_ops = {.type = "Linear", .forward = linear_forward, .check = linear_check};

dz_layer *dz_linear_layer_new_as(const char *op, int64_t out_size, int64_t in_size, bool nobias, dz_dtype dtype,
                                  dz_rng *rng)
{
    if (!dz_linear_check_args(op, out_size, in_size, dtype))
        return NULL;
    linear_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &linear_ops);
    l->out_size = out_size;
    l->dtype = dtype;
    l->rng = rng;
    dz_array *w = in_size ? init_weight(l, in_size) : NULL; /* NULL: lazy, or out of memory */
    if (!dz_layer_add_weight_and_bias(op, &l->base, !in_size, w, nobias, l->dtype, l->out_size)) {
        dz_layer_free(&l->base);
        return NULL;
    }
    return &l->base;
}

dz_layer *dz_linear_layer_new(int64_t out_size, int64_t in_size, bool nobias, dz_dtype dtype, dz_rng *rng)
{
    return dz_linear_layer_new_as("dz_linear_layer_new", out_size, in_size, nobias, dtype, rng);
}

/* W (in_size, out_size) and b (out_size,) or NULL: float arrays of one dtype
 * on one device, no size 0. */
static bool check_values(const char *op, const dz_array *W, const dz_array *b)
{
    if (!W) {
        dz_raise_null_operand("%s: W is NULL", op);
        return false;
    }
    if (!dz_check_array(op, W) || (b && !dz_check_array(op, b)))
        return false;
    if (W->ndim != 2 || W->shape[0] < 1 || W->shape[1] < 1) {
        dz_raise(DZ_ERR_SHAPE, "%s: W must be 2-D (in_size, out_size) with both sizes at least 1 (PyTorch's weight "
                 "transposed), got %s", op, DZ_SHAPE_OF(W));
        return false;
    }
    if (!dz_dtype_is_float(W->dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: W is %s; a Linear layer's weights are float32 or float64 (dz_array_astype)", op,
                 dz_dtype_name(W->dtype));
        return false;
    }
    if (!b)
        return true;
    if (b->ndim != 1 || b->shape[0] != W->shape[1]) {
        bool transposed = b->ndim == 1 && b->shape[0] == W->shape[0];
        dz_raise(DZ_ERR_SHAPE, "%s: b %s must be (out_size,) = (%lld,) for W %s (in_size, out_size)%s", op,
                 DZ_SHAPE_OF(b), (long long)W->shape[1], DZ_SHAPE_OF(W),
                 transposed ? "; W looks like PyTorch's weight (out_features, in_features): pass its transpose" : "");
        return false;
    }
    if (b->dtype != W->dtype) {
        dz_raise(DZ_ERR_DTYPE, "%s: b is %s but W is %s; give both one dtype (dz_array_astype)", op,
                 dz_dtype_name(b->dtype), dz_dtype_name(W->dtype));
        return false;
    }
    if (b->device != W->device) {
        dz_raise(DZ_ERR_DEVICE, "%s: W is on the %s but b on the %s; move one of them (dz_array_to_device)", op,
                 dz_device_name(W->device), dz_device_name(b->device));
        return false;
    }
    return true;
}

/* A parameter sharing `a`, frozen or not. */
static void add_value(dz_layer *layer, const char *name, dz_array *a, bool freeze)
{
    dz_variable *p = dz_parameter_new(dz_array_retain(a), name);
    p->requires_grad = !freeze;
    dz_layer_add_param(layer, name, p);
}

dz_layer *dz_linear_layer_from_values(dz_array *W, dz_array *b, bool freeze)
{
    if (!check_values("dz_linear_layer_from_values", W, b))
        return NULL;
    linear_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &linear_ops);
    l->out_size = W->shape[1];
    l->dtype = W->dtype;
    dz_scope_begin();
    add_value(&l->base, "W", W, freeze);
    if (b)
        add_value(&l->base, "b", b, freeze);
    dz_scope_end();
    return &l->base;
}
