/* Sequential: sub-layers "0", "1", ... applied in order to one input. The
 * check refuses an empty Sequential and inputs its first layer refuses; a
 * later layer reports its errors under its index and type. */
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"
#include "../core/op_helpers.h"
#include "dezero/scope.h"
#include "dezero/sequential.h"
#include "layer_internal.h"

static bool sequential_check(const char *op, dz_layer *self, int n, dz_variable *const *x)
{
    if (n != 1) {
        dz_raise(DZ_ERR_VALUE, "%s: a Sequential takes one input, got %d", op, n);
        return false;
    }
    if (self->nchildren == 0) {
        dz_raise(DZ_ERR_STATE, "%s: this Sequential has no layers; add them with dz_sequential_add", op);
        return false;
    }
    return dz_layer_check_forward(op, self->children[0], 1, x);
}

static dz_variable *sequential_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    dz_scope_begin(); /* owns the intermediates */
    dz_variable *h = x[0];
    for (int i = 0; h && i < self->nchildren; i++) {
        char op[256]; /* the outer call's name goes before it (dz_fail_under) */
        snprintf(op, sizeof op, "layer '%s' (%s) of a Sequential", self->child_names[i],
                 self->children[i]->ops->type);
        h = dz_layer_forward_as(op, self->children[i], 1, &h);
    }
    return dz_composite_result(h);
}

static const dz_layer_ops sequential_ops = {.type = "Sequential", .forward = sequential_forward,
                                            .check = sequential_check};

dz_layer *dz_sequential_new(void)
{
    dz_layer *seq = dz_xcalloc(1, sizeof *seq);
    dz_layer_init(seq, &sequential_ops);
    return seq;
}

/* `layer` may be appended to `seq` as `name`: both there, seq a Sequential,
 * and what dz_layer_add_child requires (checked here so that errors name
 * `op`). */
static bool check_add(const char *op, const dz_layer *seq, const dz_layer *layer, const char *name)
{
    if (!seq || !layer) { /* the NULL result of a constructor that failed keeps its error */
        dz_raise_null_operand("%s: %s is NULL", op, !seq ? "the Sequential" : "the layer");
        return false;
    }
    if (seq->ops != &sequential_ops) {
        dz_raise(DZ_ERR_VALUE, "%s: the layer to append to is a %s, not a Sequential (dz_sequential_new); use "
                 "dz_layer_add_child to add a named sub-layer", op, seq->ops->type);
        return false;
    }
    for (const dz_layer *up = seq; up; up = up->parent)
        if (up == layer) {
            dz_raise(DZ_ERR_VALUE, "%s: appending a layer to %s would make a cycle", op,
                     up == seq ? "itself" : "its own sub-layer");
            return false;
        }
    if (layer->parent) {
        dz_raise(DZ_ERR_STATE, "%s: this %s layer already belongs to a %s layer; a layer has one parent", op,
                 layer->ops->type, layer->parent->ops->type);
        return false;
    }
    if (dz_layer_child(seq, name) || dz_layer_param(seq, name)) {
        dz_raise(DZ_ERR_VALUE, "%s: the name '%s' of the next layer is taken in this Sequential (added with "
                 "dz_layer_add_child)", op, name);
        return false;
    }
    return true;
}

static dz_layer *append(const char *op, dz_layer *seq, dz_layer *layer)
{
    char name[16];
    snprintf(name, sizeof name, "%d", seq ? seq->nchildren : 0);
    return check_add(op, seq, layer, name) ? dz_layer_add_child(seq, name, layer) : NULL;
}

dz_layer *dz_sequential_add(dz_layer *seq, dz_layer *layer) { return append("dz_sequential_add", seq, layer); }

/* Whether layers[i] is listed before i. */
static bool listed_before(dz_layer *const *layers, int i)
{
    for (int j = 0; j < i; j++)
        if (layers[j] == layers[i])
            return true;
    return false;
}

/* Every layer of the list can be appended: none NULL, none listed twice,
 * none with a parent. */
static bool check_list(const char *op, int n, dz_layer *const *layers)
{
    for (int i = 0; i < n; i++) {
        if (!layers[i]) { /* a constructor that failed keeps its error */
            dz_raise_null_operand("%s: layers[%d] is NULL (did its constructor fail?)", op, i);
            return false;
        }
        if (listed_before(layers, i)) {
            dz_raise(DZ_ERR_VALUE, "%s: layers[%d] is listed twice; a layer has one parent (make another one)", op,
                     i);
            return false;
        }
        if (layers[i]->parent) {
            dz_raise(DZ_ERR_STATE, "%s: layers[%d], a %s, already belongs to a %s layer; a layer has one parent", op,
                     i, layers[i]->ops->type, layers[i]->parent->ops->type);
            return false;
        }
    }
    return true;
}

/* After an error: frees the layers that are the list's to free (decided
 * before freeing any, as freeing one may free another's sub-layers). */
static void free_list(int n, dz_layer *const *layers)
{
    bool *mine = dz_xcalloc((size_t)n + 1, sizeof *mine);
    for (int i = 0; i < n; i++)
        mine[i] = layers[i] && !layers[i]->parent && !listed_before(layers, i);
    for (int i = 0; i < n; i++)
        if (mine[i])
            dz_layer_free(layers[i]);
    free(mine);
}

dz_layer *dz_sequential_of(int n, dz_layer *const *layers)
{
    const char *op = "dz_sequential_of";
    if (n < 0 || (n > 0 && !layers)) {
        dz_raise(n < 0 ? DZ_ERR_VALUE : DZ_ERR_NULL, "%s: %d layers in %s list", op, n, layers ? "a" : "a NULL");
        return NULL;
    }
    if (!check_list(op, n, layers)) {
        free_list(n, layers);
        return NULL;
    }
    dz_layer *seq = dz_sequential_new();
    for (int i = 0; i < n; i++)
        append(op, seq, layers[i]);
    return seq;
}
