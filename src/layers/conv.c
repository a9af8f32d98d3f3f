/* Convolution and pooling layers: Conv2d and Deconv2d (DeZero's, with the
 * lazy in_channels of Linear: W is made at the first forward from the
 * input's channels, on the input's device, or by load_weights from the
 * file's shape), and MaxPool / AvgPool, which hold no parameters. The check
 * of Conv2d / Deconv2d refuses inputs the layer cannot take under the name
 * of the public call, the window included, as do MaxPool and AvgPool. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "../functions/checks.h"
#include "../functions/conv_internal.h"
#include "dezero/conv.h"
#include "dezero/scope.h"
#include "layer_internal.h"

/* ---- Conv2d and Deconv2d ---------------------------------------------------- */

typedef struct {
    dz_layer base;
    int64_t out_channels;
    dz_size2 kernel, stride, pad;
    dz_dtype dtype;
    dz_rng *rng;
    bool deconv; /* W (C, OC, KH, KW) instead of (OC, C, KH, KW) */
} conv_layer;

static const char *type_of(const conv_layer *l) { return l->deconv ? "Deconv2d" : "Conv2d"; }

/* W's shape for in_channels: (OC, C, KH, KW), or (C, OC, KH, KW) for a deconv. */
static void weight_shape(const conv_layer *l, int64_t in_channels, int64_t shape[4])
{
    shape[0] = l->deconv ? in_channels : l->out_channels;
    shape[1] = l->deconv ? l->out_channels : in_channels;
    shape[2] = l->kernel.h;
    shape[3] = l->kernel.w;
}

static bool check_layer_args(const char *op, const char *type, int64_t out_channels, dz_size2 kernel,
                             dz_size2 stride, dz_size2 pad, dz_dtype dtype, int64_t in_channels)
{
    if (out_channels <= 0 || in_channels < 0 || !dz_dtype_is_float(dtype)) {
        dz_raise(DZ_ERR_VALUE, "%s: a %s needs out_channels > 0 (got %lld), in_channels >= 0 (got %lld; 0 = lazy) "
                 "and dtype float32 or float64 (got %d)", op, type, (long long)out_channels, (long long)in_channels,
                 (int)dtype);
        return false;
    }
    if (kernel.h < 1 || kernel.w < 1 || stride.h < 1 || stride.w < 1 || pad.h < 0 || pad.w < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: a %s needs kernel (%lld, %lld) and stride (%lld, %lld) at least 1 and pad "
                 "(%lld, %lld) at least 0", op, type, (long long)kernel.h, (long long)kernel.w, (long long)stride.h,
                 (long long)stride.w, (long long)pad.h, (long long)pad.w);
        return false;
    }
    int64_t shape[4] = {out_channels, in_channels ? in_channels : 1, kernel.h, kernel.w};
    return dz_check_shape(op, "the weight W", 4, shape);
}

/* W ~ N(0, 1) * sqrt(1 / (C*KH*KW)) on the CPU; NULL when memory runs out. */
static dz_array *init_weight(const conv_layer *l, int64_t in_channels)
{
    int64_t shape[4];
    weight_shape(l, in_channels, shape);
    double fan_in = (double)in_channels * (double)l->kernel.h * (double)l->kernel.w;
    return dz_array_normal(l->rng, l->dtype, 4, shape, 0.0, sqrt(1.0 / fan_in));
}

/* W and b still have the input's dtype and device and fitting shapes (a
 * user may have replaced their data). */
static bool check_params(const char *op, const conv_layer *l, const dz_array *W, const dz_array *b,
                         const dz_array *x)
{
    const dz_array *param = W ? W : b;
    if (param && param->device != x->device) {
        dz_raise(DZ_ERR_DEVICE, "%s: this %s layer's parameters are on the %s but its input is on the %s; move one "
                 "of them (dz_layer_to_device, dz_array_to_device)", op, type_of(l), dz_device_name(param->device),
                 dz_device_name(x->device));
        return false;
    }
    int oc_axis = l->deconv ? 1 : 0;
    bool fit = (!W || (W->ndim == 4 && W->dtype == x->dtype && W->shape[oc_axis] == l->out_channels &&
                       W->shape[2] == l->kernel.h && W->shape[3] == l->kernel.w)) &&
               (!b || (b->ndim == 1 && b->dtype == x->dtype && b->device == x->device &&
                       b->shape[0] == l->out_channels));
    if (!fit)
        dz_raise(DZ_ERR_STATE, "%s: this %s layer's parameters (W %s %s, b %s %s) do not fit its %lld output "
                 "channels, kernel (%lld, %lld) and a %s input; their data was replaced", op, type_of(l),
                 W ? dz_dtype_name(W->dtype) : "lazy", W ? DZ_SHAPE_OF(W) : "", b ? dz_dtype_name(b->dtype) : "none",
                 b ? DZ_SHAPE_OF(b) : "", (long long)l->out_channels, (long long)l->kernel.h, (long long)l->kernel.w,
                 dz_dtype_name(x->dtype));
    return fit;
}

/* x is a 4-D float input of the layer's dtype whose channels match W. */
static bool conv_layer_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    const conv_layer *l = (const conv_layer *)self;
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: a %s layer takes one input, got %d", op, type_of(l), n);
        return false;
    }
    if (!dz_check_float(op, x[0]))
        return false;
    const dz_array *a = x[0]->data, *W = dz_layer_param(self, "W")->data;
    const dz_variable *b = dz_layer_param(self, "b");
    if (a->dtype != l->dtype) {
        dz_raise(DZ_ERR_DTYPE, "%s: this %s layer is %s but its input is %s; convert one of them", op, type_of(l),
                 dz_dtype_name(l->dtype), dz_dtype_name(a->dtype));
        return false;
    }
    int in_axis = l->deconv ? 0 : 1;
    if (a->ndim != 4 || (W && W->ndim == 4 && a->shape[1] != W->shape[in_axis])) {
        char channels[32] = "C";
        if (W && W->ndim == 4)
            snprintf(channels, sizeof channels, "%lld", (long long)W->shape[in_axis]);
        dz_raise(DZ_ERR_SHAPE, "%s: this %s layer expects a 4-D %s input (N, %s, H, W), got %s", op, type_of(l),
                 dz_dtype_name(l->dtype), channels, DZ_SHAPE_OF(a));
        return false;
    }
    if (!W && a->shape[1] == 0) {
        dz_raise(DZ_ERR_SHAPE, "%s: a lazy %s layer cannot size its weights from an input %s with no channels", op,
                 type_of(l), DZ_SHAPE_OF(a));
        return false;
    }
    if (!check_params(op, l, W, b ? b->data : NULL, a) ||
        (!W && !check_layer_args(op, type_of(l), l->out_channels, l->kernel, l->stride, l->pad, l->dtype,
                                 a->shape[1])))
        return false;
    dz_conv_geom g; /* the window fits the input (conv) or gives an output (deconv) */
    int64_t out[2];
    return dz_check_conv_args(op, l->kernel, l->stride, l->pad, &g) &&
           (l->deconv ? dz_check_deconv_output(op, a->shape, l->out_channels, &g, DZ_SIZE2(0), out)
                      : dz_check_conv_image(op, "the input", 4, a->shape, &g, out));
}

static dz_variable *conv_layer_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    const conv_layer *l = (const conv_layer *)self;
    dz_variable *W = dz_layer_param(self, "W");
    if (!W->data) { /* lazy: in_channels from the input's dim 1, on the input's device (as DeZero) */
        dz_array *host = init_weight(l, x[0]->data->shape[1]);
        dz_array *w = host ? dz_array_to_device(host, x[0]->data->device) : NULL;
        dz_array_release(host);
        if (!w)
            return NULL;
        dz_variable_set_data(W, w);
    }
    dz_variable *b = dz_layer_param(self, "b");
    if (l->deconv)
        return dz_deconv2d(x[0], W, b, l->stride, l->pad, DZ_SIZE2(0));
    return dz_conv2d(x[0], W, b, l->stride, l->pad);
}

static const dz_layer_ops conv2d_layer_ops = {.type = "Conv2d", .forward = conv_layer_forward,
                                              .check = conv_layer_check};
static const dz_layer_ops deconv2d_layer_ops = {.type = "Deconv2d", .forward = conv_layer_forward,
                                                .check = conv_layer_check};

static dz_layer *conv_layer_new(const char *op, bool deconv, int64_t out_channels, dz_size2 kernel, dz_size2 stride,
                                dz_size2 pad, bool nobias, dz_dtype dtype, int64_t in_channels, dz_rng *rng)
{
    if (!check_layer_args(op, deconv ? "Deconv2d" : "Conv2d", out_channels, kernel, stride, pad, dtype,
                          in_channels))
        return NULL;
    conv_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, deconv ? &deconv2d_layer_ops : &conv2d_layer_ops);
    l->out_channels = out_channels;
    l->kernel = kernel;
    l->stride = stride;
    l->pad = pad;
    l->dtype = dtype;
    l->rng = rng;
    l->deconv = deconv;
    dz_array *w = in_channels ? init_weight(l, in_channels) : NULL; /* NULL: lazy, or out of memory */
    if (!dz_layer_add_weight_and_bias(op, &l->base, !in_channels, w, nobias, l->dtype, l->out_channels)) {
        dz_layer_free(&l->base);
        return NULL;
    }
    return &l->base;
}

dz_layer *dz_conv2d_layer_new(int64_t out_channels, dz_size2 kernel, dz_size2 stride, dz_size2 pad, bool nobias,
                              dz_dtype dtype, int64_t in_channels, dz_rng *rng)
{
    return conv_layer_new("dz_conv2d_layer_new", false, out_channels, kernel, stride, pad, nobias, dtype,
                          in_channels, rng);
}

dz_layer *dz_deconv2d_layer_new(int64_t out_channels, dz_size2 kernel, dz_size2 stride, dz_size2 pad, bool nobias,
                                dz_dtype dtype, int64_t in_channels, dz_rng *rng)
{
    return conv_layer_new("dz_deconv2d_layer_new", true, out_channels, kernel, stride, pad, nobias, dtype,
                          in_channels, rng);
}

/* ---- MaxPool and AvgPool ---------------------------------------------------- */

typedef struct {
    dz_layer base;
    dz_size2 kernel, stride, pad;
    bool average;
} pool_layer;

static dz_variable *pool_layer_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    const pool_layer *l = (const pool_layer *)self;
    if (l->average)
        return dz_average_pooling(x[0], l->kernel, l->stride, l->pad);
    return dz_max_pooling(x[0], l->kernel, l->stride, l->pad);
}

/* One 4-D float input that the window fits. */
static bool pool_layer_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    const pool_layer *l = (const pool_layer *)self;
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: a %s layer takes one input, got %d", op, self->ops->type, n);
        return false;
    }
    dz_conv_geom g;
    int64_t out[2];
    return dz_check_float(op, x[0]) && dz_check_conv_args(op, l->kernel, l->stride, l->pad, &g) &&
           dz_check_conv_image(op, "the input", SHAPE_OF(x[0]), &g, out);
}

static const dz_layer_ops max_pool_layer_ops = {.type = "MaxPool", .forward = pool_layer_forward,
                                                .check = pool_layer_check};
static const dz_layer_ops avg_pool_layer_ops = {.type = "AvgPool", .forward = pool_layer_forward,
                                                .check = pool_layer_check};

static dz_layer *pool_layer_new(const char *op, bool average, dz_size2 kernel, dz_size2 stride, dz_size2 pad)
{
    if (kernel.h < 1 || kernel.w < 1 || stride.h < 1 || stride.w < 1 || pad.h < 0 || pad.w < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: a pooling layer needs kernel (%lld, %lld) and stride (%lld, %lld) at least 1 and "
                 "pad (%lld, %lld) at least 0", op, (long long)kernel.h, (long long)kernel.w, (long long)stride.h,
                 (long long)stride.w, (long long)pad.h, (long long)pad.w);
        return NULL;
    }
    pool_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, average ? &avg_pool_layer_ops : &max_pool_layer_ops);
    l->kernel = kernel;
    l->stride = stride;
    l->pad = pad;
    l->average = average;
    return &l->base;
}

dz_layer *dz_max_pool_layer_new(dz_size2 kernel, dz_size2 stride, dz_size2 pad)
{
    return pool_layer_new("dz_max_pool_layer_new", false, kernel, stride, pad);
}

dz_layer *dz_avg_pool_layer_new(dz_size2 kernel, dz_size2 stride, dz_size2 pad)
{
    return pool_layer_new("dz_avg_pool_layer_new", true, kernel, stride, pad);
}
