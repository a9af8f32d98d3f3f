/* Backpropagation: walk the recorded Functions from the output back to the
 * leaves in order of decreasing generation (a max-heap), so every Function
 * runs once, after all the grads of its outputs are complete. Grads meet in
 * one place: accumulate(). */
#include <stdio.h>
#include <stdlib.h>

#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/math.h"
#include "dezero/scope.h"
#include "dezero/sparse_grad.h"
#include "../backend/backend.h"
#include "internal.h"

typedef struct {
    dz_function **items;
    int count, capacity;
} heap;

static void heap_push(heap *h, dz_function *f)
{
    if (h->count == h->capacity) {
        h->capacity = h->capacity ? h->capacity * 2 : 64;
        h->items = dz_xrealloc(h->items, (size_t)h->capacity * sizeof *h->items);
    }
    int i = h->count++;
    while (i > 0) { /* sift up */
        int parent = (i - 1) / 2;
        if (h->items[parent]->generation >= f->generation)
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = f;
}

static dz_function *heap_pop(heap *h)
{
    dz_function *top = h->items[0], *last = h->items[--h->count];
    int i = 0;
    for (;;) { /* sift down */
        int child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->generation > h->items[child]->generation)
            child++;
        if (h->items[child]->generation <= last->generation)
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    h->items[i] = last;
    return top;
}

/* A grad for x: a Variable with data of x's shape, dtype and device. `f` is
 * the Function whose backward gave it, NULL for the grad set on the variable
 * backward starts from. A backward written by a user may get this wrong. */
static dz_status check_grad(const dz_variable *x, const dz_variable *gx, const dz_function *f)
{
    const dz_array *a = x->data, *g = gx->data;
    if (g && a && dz_array_same_shape(a, g) && a->dtype == g->dtype && a->device == g->device)
        return DZ_OK;
    char whose[160];
    if (f)
        snprintf(whose, sizeof whose, "the grad from the backward of '%s'", f->ops->name);
    else
        snprintf(whose, sizeof whose, "the grad already set on the variable");
    if (!g)
        return dz_raise(DZ_ERR_STATE, "dz_variable_backward: %s has no data", whose);
    if (a && a->device != g->device)
        return dz_raise(DZ_ERR_DEVICE, "dz_variable_backward: %s is on the %s but its variable on the %s; a grad "
                        "must be on its variable's device", whose, dz_device_name(g->device),
                        dz_device_name(a->device));
    return dz_raise(DZ_ERR_SHAPE, "dz_variable_backward: %s is a %s %s grad for a %s %s variable; a grad must have "
                    "its variable's shape, dtype and device", whose, dz_dtype_name(g->dtype), DZ_SHAPE_OF(g),
                    a ? dz_dtype_name(a->dtype) : "data-less", a ? DZ_SHAPE_OF(a) : "()");
}

/* A sparse grad as a dense Variable (its entries summed in entry order). */
static dz_variable *densify(const dz_sparse_grad *g)
{
    dz_array *dense = dz_sparse_grad_to_dense(g, g->values->shape[1]);
    return dense ? dz_variable_new(dense, NULL) : NULL;
}

/* The one place grads accumulate: x.grad = gx, or x.grad + gx (a new
 * Variable, never in place). A sparse gx (an Embedding's with sparse=true)
 * appends its entries to x's sparse grad; sparse meeting dense densifies, as
 * PyTorch's grad accumulation does. */
static dz_status accumulate(dz_variable *x, dz_variable *gx, const dz_function *f)
{
    if (gx->sparse_grad && !x->grad) {
        const dz_sparse_grad *g = gx->sparse_grad;
        return dz_sparse_grad_append(x, dz_array_retain(g->indices), dz_array_retain(g->values), g->num_rows);
    }
    if (gx->sparse_grad && !(gx = densify(gx->sparse_grad)))
        return dz_last_error_code();
    if (x->sparse_grad) { /* dense meets sparse: x's entries become its dense grad first */
        dz_variable *dense = densify(x->sparse_grad);
        if (!dense)
            return dz_last_error_code();
        dz_sparse_grad_free(x->sparse_grad);
        x->sparse_grad = NULL;
        dz_variable_set_grad(x, dense);
    }
    dz_status status = check_grad(x, gx, f);
    if (status != DZ_OK)
        return status;
    if (!x->grad) {
        x->grad = dz_variable_retain(gx);
        return DZ_OK;
    }
    dz_variable *sum = dz_add(x->grad, gx);
    if (!sum)
        return dz_last_error_code();
    dz_variable_set_grad(x, sum);
    return DZ_OK;
}

/* Runs f's backward and hands the grads to its inputs. The scope around it
 * frees the backward's temporaries as soon as the grads are stored, so the
 * memory used stays small however long the graph is. */
static dz_status run_function(dz_function *f, heap *h, unsigned visit, bool retain_grad, bool create_graph)
{
    dz_variable *gys_local[4], *gxs_local[8];
    dz_variable **gys = f->noutputs <= 4 ? gys_local : dz_xmalloc((size_t)f->noutputs * sizeof *gys);
    dz_variable **gxs = f->ninputs <= 8 ? gxs_local : dz_xmalloc((size_t)f->ninputs * sizeof *gxs);
    bool any = false;
    dz_status status = DZ_OK;
    for (int i = 0; i < f->noutputs; i++) {
        gys[i] = f->outputs[i] ? f->outputs[i]->grad : NULL;
        any = any || gys[i];
    }
    for (int i = 0; i < f->ninputs; i++)
        gxs[i] = NULL;
    dz_scope_begin();
    if (any) {
        if (!f->ops->backward) {
            status = dz_raise(DZ_ERR_UNSUPPORTED, "dz_variable_backward: function '%s' has no backward; give its "
                              "dz_function_ops one, or run the forward under DZ_NO_GRAD", f->ops->name);
        } else {
            unsigned errors = dz_error_count(); /* an error recorded before stays unless this one fails */
            if (!create_graph && f->ops->backward_fast) /* the one place the fast path is chosen */
                f->ops->backward_fast(f, gys, gxs);
            else
                f->ops->backward(f, gys, gxs);
            status = dz_error_count() != errors ? dz_last_error_code() : DZ_OK;
            if (status == DZ_OK && f->ninputs > 0 && f->inputs[0]->data->device == DZ_CUDA)
                status = dz_cuda_check(f->ops->name); /* a GPU failure while it ran is this op's */
        }
    }
    for (int i = 0; status == DZ_OK && i < f->ninputs; i++) {
        dz_variable *x = f->inputs[i];
        if (!gxs[i] || !x->requires_grad)
            continue;
        status = accumulate(x, gxs[i], f);
        if (x->creator && x->creator->visit != visit) {
            x->creator->visit = visit;
            heap_push(h, x->creator);
        }
    }
    dz_scope_end();
    if (!retain_grad)
        for (int i = 0; i < f->noutputs; i++)
            if (f->outputs[i])
                dz_variable_set_grad(f->outputs[i], NULL);
    if (gys != gys_local)
        free(gys);
    if (gxs != gxs_local)
        free(gxs);
    return status;
}

dz_status dz_variable_backward(dz_variable *v, bool retain_grad, bool create_graph)
{
    static DZ_THREAD_LOCAL unsigned visit_counter;
    if (!v)
        return dz_raise_null_operand("dz_variable_backward: variable is NULL");
    if (!v->data)
        return dz_raise(DZ_ERR_STATE, "dz_variable_backward: variable '%s' has no data", v->name ? v->name : "");
    if (v->grad && check_grad(v, v->grad, NULL) != DZ_OK)
        return dz_last_error_code();
    if (!v->grad) {
        dz_array *ones = dz_array_ones_like(v->data);
        if (!ones)
            return dz_last_error_code();
        dz_variable *seed = dz_variable_new(ones, NULL);
        seed->requires_grad = false; /* a constant: a grad here could only form cycles */
        dz_variable_set_grad(v, seed);
        if (dz_scope_depth() == 0)
            dz_variable_release(seed);
    }
    if (!v->creator)
        return DZ_OK;

    unsigned visit = ++visit_counter;
    heap h = {NULL, 0, 0};
    bool was_enabled = dz_set_enable_backprop(create_graph);
    dz_status status = DZ_OK;
    v->creator->visit = visit;
    heap_push(&h, v->creator);
    while (h.count > 0 && status == DZ_OK)
        status = run_function(heap_pop(&h), &h, visit, retain_grad, create_graph);
    dz_set_enable_backprop(was_enabled);
    free(h.items);
    return status;
}
