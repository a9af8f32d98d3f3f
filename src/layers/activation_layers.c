/* Layers without parameters around an activation: GELU (dz_gelu) and
 * Dropout (dz_dropout, the identity when not training). The functions check
 * the input; the layers check the input count. */
#include "../core/internal.h"
#include "dezero/activation.h"
#include "dezero/layers.h"
#include "layer_internal.h"

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
