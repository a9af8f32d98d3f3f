/* Function application: wrap forward results as Variables and, when backprop
 * is enabled and some input requires a grad, record the Function that links
 * them to their inputs (the outputs then require a grad too, as in PyTorch).
 * Functions come from a free list (pool.h). */
#include <stdlib.h>

#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/scope.h"
#include "internal.h"
#include "pool.h"

/* Functions with up to POOLED_SLOTS inputs + outputs come from a free list. */
#define POOLED_SLOTS 4
static DZ_THREAD_LOCAL dz_pool function_pool = DZ_POOL_INIT(sizeof(dz_function) + POOLED_SLOTS * sizeof(dz_variable *));

/* One block: the Function, then its input and output slots. */
dz_function *dz_function_alloc(int ninputs, int noutputs)
{
    int slots = ninputs + noutputs;
    dz_function *f = slots <= POOLED_SLOTS ? dz_pool_alloc(&function_pool)
                                           : dz_xmalloc(sizeof *f + (size_t)slots * sizeof(dz_variable *));
    f->ninputs = ninputs;
    f->noutputs = noutputs;
    f->inputs = (dz_variable **)(f + 1);
    f->outputs = f->inputs + ninputs;
    return f;
}

void dz_function_free(dz_function *f)
{
    if (f->ninputs + f->noutputs <= POOLED_SLOTS)
        dz_pool_free(&function_pool, f);
    else
        free(f);
}

static void destroy_state(const dz_function_ops *ops, void *state)
{
    if (!state)
        return;
    if (ops->destroy_state)
        ops->destroy_state(state);
    else
        free(state);
}

static bool any_requires_grad(int ninputs, dz_variable *const *inputs)
{
    bool any = false;
    for (int i = 0; i < ninputs; i++) {
        DZ_ASSERT(inputs[i] != NULL);
        any = any || inputs[i]->requires_grad;
    }
    return any;
}

dz_variable *dz_function_apply(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                               int noutputs, dz_array **outputs, dz_variable **out_vars,
                               double scalar, void *state)
{
    for (int i = 0; i < noutputs; i++) {
        if (!outputs[i]) { /* the forward failed (error already raised) */
            for (int j = 0; j < noutputs; j++)
                dz_array_release(outputs[j]);
            destroy_state(ops, state);
            return NULL;
        }
    }
    dz_variable *first = NULL;
    dz_variable *local[4];
    dz_variable **vars = out_vars ? out_vars : noutputs <= 4 ? local : dz_xmalloc((size_t)noutputs * sizeof *vars);
    for (int i = 0; i < noutputs; i++)
        vars[i] = dz_variable_new(outputs[i], NULL);
    first = vars[0];
    if (!dz_enable_backprop() || !any_requires_grad(ninputs, inputs)) { /* nothing to differentiate: record nothing */
        for (int i = 0; i < noutputs; i++)
            vars[i]->requires_grad = false;
        destroy_state(ops, state);
    } else {
        dz_function *f = dz_function_alloc(ninputs, noutputs);
        f->ops = ops;
        f->generation = 0;
        f->visit = 0;
        f->scalar = scalar;
        f->state = state;
        for (int i = 0; i < ninputs; i++) {
            f->inputs[i] = dz_variable_retain(inputs[i]);
            if (inputs[i]->generation > f->generation)
                f->generation = inputs[i]->generation;
        }
        for (int i = 0; i < noutputs; i++) {
            f->outputs[i] = vars[i];
            vars[i]->creator = f;
            vars[i]->generation = f->generation + 1;
        }
        f->refcount = noutputs;
    }
    if (vars != local && vars != out_vars)
        free(vars);
    return first;
}

dz_variable *dz_function_apply1(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                                dz_array *output, double scalar, void *state)
{
    return dz_function_apply(ops, ninputs, inputs, 1, &output, NULL, scalar, state);
}
