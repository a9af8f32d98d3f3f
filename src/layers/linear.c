/* Linear layer: y = x W + b, with DeZero's lazy in_size. */
#include <math.h>
#include <stdlib.h>

#include "../core/internal.h"
#include "dezero/layers.h"
#include "dezero/linalg.h"
#include "dezero/scope.h"

typedef struct {
    dz_layer base;
    int64_t out_size;
    dz_dtype dtype;
    dz_rng *rng;
} linear_layer;

/* W (in_size, out_size) ~ N(0, 1) * sqrt(1 / in_size) */
static dz_array *init_weight(const linear_layer *l, int64_t in_size)
{
    return dz_array_normal(l->rng, l->dtype, 2, DZ_SHAPE(in_size, l->out_size), 0.0, sqrt(1.0 / (double)in_size));
}

static dz_variable *linear_forward(dz_layer *self, int n, dz_variable *const *x)
{
    linear_layer *l = (linear_layer *)self;
    dz_variable *W = dz_layer_param(self, "W");
    if (n != 1 || !x[0] || !x[0]->data) {
        dz_raise(DZ_ERR_VALUE, "Linear: expects one input with data");
        return NULL;
    }
    if (x[0]->data->ndim != 2 || x[0]->data->dtype != l->dtype) {
        dz_raise(DZ_ERR_SHAPE, "Linear: expects a 2-D %s input (N, in_size), got %s %s", dz_dtype_name(l->dtype),
                 dz_dtype_name(x[0]->data->dtype), DZ_SHAPE_OF(x[0]->data));
        return NULL;
    }
    if (!W->data) /* lazy: in_size from the input's second dim */
        dz_variable_set_data(W, init_weight(l, x[0]->data->shape[x[0]->data->ndim - 1]));
    return dz_linear(x[0], W, dz_layer_param(self, "b"));
}

static const dz_layer_ops linear_ops = {"Linear", linear_forward, NULL, NULL};

dz_layer *dz_linear_layer_new(int64_t out_size, int64_t in_size, bool nobias, dz_dtype dtype, dz_rng *rng)
{
    if (out_size <= 0 || in_size < 0 || !dz_dtype_is_float(dtype)) {
        dz_raise(DZ_ERR_VALUE, "dz_linear_layer_new: out_size %lld must be > 0, in_size %lld >= 0 (0 = lazy), "
                 "dtype float32 or float64", (long long)out_size, (long long)in_size);
        return NULL;
    }
    linear_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &linear_ops);
    l->out_size = out_size;
    l->dtype = dtype;
    l->rng = rng;
    dz_scope_begin();
    dz_layer_add_param(&l->base, "W", dz_parameter_new(in_size ? init_weight(l, in_size) : NULL, "W"));
    if (!nobias)
        dz_layer_add_param(&l->base, "b", dz_parameter_new(dz_array_zeros(dtype, 1, &out_size), "b"));
    dz_scope_end();
    return &l->base;
}
