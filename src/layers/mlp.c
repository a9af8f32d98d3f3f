/* MLP: Linear layers with an activation between them. */
#include <stdio.h>

#include "../core/internal.h"
#include "dezero/activation.h"
#include "dezero/scope.h"
#include "../core/op_helpers.h"
#include "layer_internal.h"

typedef struct {
    dz_layer base;
    dz_activation activation;
} mlp_layer;

/* One input, which the first Linear can take (the others take what the
 * layer before them gives). */
static bool mlp_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: an MLP takes one input, got %d", op, n);
        return false;
    }
    return dz_layer_check_forward(op, self->children[0], n, x);
}

static dz_variable *mlp_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    mlp_layer *m = (mlp_layer *)self;
    dz_scope_begin(); /* owns the intermediates */
    dz_variable *h = x[0];
    for (int i = 0; h && i < self->nchildren; i++) {
        h = dz_layer_call(self->children[i], h);
        if (h && i + 1 < self->nchildren)
            h = m->activation(h);
    }
    return dz_composite_result(h);
}

static const dz_layer_ops mlp_ops = {.type = "MLP", .forward = mlp_forward, .check = mlp_check};

dz_layer *dz_mlp_new(int nlayers, const int64_t *sizes, dz_activation activation, dz_dtype dtype, dz_rng *rng)
{
    const char *op = "dz_mlp_new";
    if (nlayers < 1) {
        dz_raise(DZ_ERR_VALUE, "%s: needs at least one layer size (got %d)", op, nlayers);
        return NULL;
    }
    if (!sizes) {
        dz_raise(DZ_ERR_NULL, "%s: sizes is NULL", op);
        return NULL;
    }
    mlp_layer *m = dz_xcalloc(1, sizeof *m);
    dz_layer_init(&m->base, &mlp_ops);
    m->activation = activation ? activation : dz_sigmoid;
    for (int i = 0; i < nlayers; i++) {
        char name[32];
        snprintf(name, sizeof name, "l%d", i);
        dz_layer *l = dz_linear_layer_new_as(op, sizes[i], 0, false, dtype, rng);
        if (!l) {
            dz_layer_free(&m->base);
            return NULL;
        }
        dz_layer_add_child(&m->base, name, l);
    }
    return &m->base;
}
