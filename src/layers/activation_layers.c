/* Layers without parameters around one function, for a Sequential: ReLU,
 * LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax, GELU, Dropout (the identity
 * when not training) and Flatten. The functions check the input; the layers
 * check the input count. */
#include <math.h>

#include "../core/internal.h"
#include "dezero/activation.h"
#include "dezero/layers.h"
#include "dezero/math.h"
#include "dezero/shape.h"
#include "layer_internal.h"

/* A function of one Variable (ReLU, Sigmoid, Tanh, Flatten). */
typedef struct {
    dz_layer base;
    dz_activation fn;
} function_layer;

/* Softmax and LogSoftmax along `axis`. */
typedef struct {
    dz_layer base;
    int axis;
} axis_layer;

/* LeakyReLU with `slope`. */
typedef struct {
    dz_layer base;
    double slope;
} leaky_relu_layer;

typedef struct {
    dz_layer base;
    bool tanh_approximation;
} gelu_layer;

typedef struct {
    dz_layer base;
    double ratio;
    dz_rng *rng;
} dropout_layer;

static bool one_input(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    (void)x;
    if (n == 1)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: a %s layer takes one input, got %d", op, self->ops->type, n);
    return false;
}

static dz_variable *gelu_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return dz_gelu(x[0], ((const gelu_layer *)self)->tanh_approximation);
}

static const dz_layer_ops gelu_ops = {.type = "GELU", .forward = gelu_forward, .check = one_input};

dz_layer *dz_gelu_layer_new(bool tanh_approximation)
{
    gelu_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &gelu_ops);
    l->tanh_approximation = tanh_approximation;
    return &l->base;
}

static dz_variable *dropout_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    const dropout_layer *l = (const dropout_layer *)self;
    return dz_dropout(x[0], l->ratio, l->rng);
}

static const dz_layer_ops dropout_ops = {.type = "Dropout", .forward = dropout_forward, .check = one_input};

dz_layer *dz_dropout_layer_new(double ratio, dz_rng *rng)
{
    if (!(ratio >= 0.0 && ratio < 1.0)) {
        dz_raise(DZ_ERR_VALUE, "dz_dropout_layer_new: ratio %g is outside [0, 1)", ratio);
        return NULL;
    }
    dropout_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &dropout_ops);
    l->ratio = ratio;
    l->rng = rng;
    return &l->base;
}

static dz_variable *function_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return ((const function_layer *)self)->fn(x[0]);
}

static const dz_layer_ops relu_ops = {.type = "ReLU", .forward = function_forward, .check = one_input};
static const dz_layer_ops sigmoid_ops = {.type = "Sigmoid", .forward = function_forward, .check = one_input};
static const dz_layer_ops tanh_ops = {.type = "Tanh", .forward = function_forward, .check = one_input};
static const dz_layer_ops flatten_ops = {.type = "Flatten", .forward = function_forward, .check = one_input};

static dz_layer *function_layer_new(const dz_layer_ops *ops, dz_activation fn)
{
    function_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, ops);
    l->fn = fn;
    return &l->base;
}

dz_layer *dz_relu_layer_new(void) { return function_layer_new(&relu_ops, dz_relu); }
dz_layer *dz_sigmoid_layer_new(void) { return function_layer_new(&sigmoid_ops, dz_sigmoid); }
dz_layer *dz_tanh_layer_new(void) { return function_layer_new(&tanh_ops, dz_tanh); }
dz_layer *dz_flatten_layer_new(void) { return function_layer_new(&flatten_ops, dz_flatten); }

static dz_variable *leaky_relu_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return dz_leaky_relu(x[0], ((const leaky_relu_layer *)self)->slope);
}

static const dz_layer_ops leaky_relu_ops = {.type = "LeakyReLU", .forward = leaky_relu_forward, .check = one_input};

dz_layer *dz_leaky_relu_layer_new(double slope)
{
    if (!isfinite(slope)) {
        dz_raise(DZ_ERR_VALUE, "dz_leaky_relu_layer_new: slope %g is not a finite number (PyTorch's default is "
                 "0.01)", slope);
        return NULL;
    }
    leaky_relu_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, &leaky_relu_ops);
    l->slope = slope;
    return &l->base;
}

static dz_variable *softmax_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return dz_softmax(x[0], ((const axis_layer *)self)->axis);
}

static dz_variable *log_softmax_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return dz_log_softmax(x[0], ((const axis_layer *)self)->axis);
}

static const dz_layer_ops softmax_ops = {.type = "Softmax", .forward = softmax_forward, .check = one_input};
static const dz_layer_ops log_softmax_ops = {.type = "LogSoftmax", .forward = log_softmax_forward,
                                             .check = one_input};

/* axis may count from the end; the input's ndim is checked at forward. */
static dz_layer *axis_layer_new(const char *op, const dz_layer_ops *ops, int axis)
{
    if (axis < -DZ_MAX_NDIM || axis >= DZ_MAX_NDIM) {
        dz_raise(DZ_ERR_VALUE, "%s: axis %d is outside [%d, %d] for any array (negative counts from the end)", op,
                 axis, -DZ_MAX_NDIM, DZ_MAX_NDIM - 1);
        return NULL;
    }
    axis_layer *l = dz_xcalloc(1, sizeof *l);
    dz_layer_init(&l->base, ops);
    l->axis = axis;
    return &l->base;
}

dz_layer *dz_softmax_layer_new(int axis) { return axis_layer_new("dz_softmax_layer_new", &softmax_ops, axis); }

dz_layer *dz_log_softmax_layer_new(int axis)
{
    return axis_layer_new("dz_log_softmax_layer_new", &log_softmax_ops, axis);
}
