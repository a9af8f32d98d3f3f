/* Function application: wrap forward results as Variables and, when backprop
 * is enabled and some input requires a grad, record the Function that links
 * them to their inputs (the outputs then require a grad too, as in PyTorch).
 * Functions come from a free list (pool.h). */
#include <stdlib.h>

#include "dezero/config.h"
#include "dezero/function.h"
#include "dezero/scope.h"
#include "../backend/backend.h"
#include "internal.h"
#include "live_count.h"
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
    dz_live_add(DZ_LIVE_FUNCTIONS, 1);
    f->ninputs = ninputs;
    f->noutputs = noutputs;
    f->inputs = (dz_variable **)(f + 1);
    f->outputs = f->inputs + ninputs;
    return f;
}

void dz_function_free(dz_function *f)
{
    dz_live_add(DZ_LIVE_FUNCTIONS, -1);
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
    for (int i = 0; i < ninputs; i++)
        if (inputs[i]->requires_grad)
            return true;
    return false;
}

/* The arguments of dz_function_apply, checked for the public function `op`.
 * A NULL output is the sign of a forward that failed: its error is already
 * recorded and is not overwritten. */
static bool check_apply(const char *op, const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                        int noutputs, dz_array *const *outputs)
{
    if (!dz_check_not_null(op, ops, "ops") || !dz_check_not_null(op, ops->name, "ops->name"))
        return false;
    if (ninputs < 0 || noutputs < 1) {
        dz_raise(DZ_ERR_VALUE, "%s: '%s' has %d inputs and %d outputs; a Function needs 0 or more inputs and at "
                 "least one output", op, ops->name, ninputs, noutputs);
        return false;
    }
    if ((ninputs > 0 && !dz_check_not_null(op, inputs, "inputs")) || !dz_check_not_null(op, outputs, "outputs"))
        return false;
    for (int i = 0; i < ninputs; i++) {
        if (!inputs[i]) {
            dz_raise_null_operand("%s: input %d of '%s' is NULL", op, i, ops->name);
            return false;
        }
    }
    for (int i = 0; i < noutputs; i++) {
        if (!outputs[i]) {
            if (dz_last_error_code() == DZ_OK)
                dz_raise(DZ_ERR_NULL, "%s: output %d of '%s' is NULL", op, i, ops->name);
            return false;
        }
    }
    /* A GPU kernel failure recorded while the forward ran is this op's. */
    return outputs[0]->device != DZ_CUDA || dz_cuda_check(ops->name) == DZ_OK;
}

/* Frees what dz_function_apply owns when it fails: the outputs and the state. */
static void discard(const dz_function_ops *ops, int noutputs, dz_array **outputs, void *state)
{
    for (int j = 0; outputs && j < noutputs; j++)
        dz_array_release(outputs[j]);
    if (ops)
        destroy_state(ops, state);
    else
        free(state);
}

/* Links the output Variables to a new Function of `inputs`. */
static void record(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs, int noutputs,
                   dz_variable **vars, double scalar, void *state)
{
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

static dz_variable *apply(const char *op, const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                          int noutputs, dz_array **outputs, dz_variable **out_vars, double scalar, void *state)
{
    if (!check_apply(op, ops, ninputs, inputs, noutputs, outputs)) {
        discard(ops, noutputs, outputs, state);
        for (int i = 0; out_vars && i < noutputs; i++)
            out_vars[i] = NULL;
        return NULL;
    }
    dz_variable *local[4];
    dz_variable **vars = out_vars ? out_vars : noutputs <= 4 ? local : dz_xmalloc((size_t)noutputs * sizeof *vars);
    for (int i = 0; i < noutputs; i++)
        vars[i] = dz_variable_new(outputs[i], NULL);
    dz_variable *first = vars[0];
    if (!dz_enable_backprop() || !any_requires_grad(ninputs, inputs)) { /* nothing to differentiate: record nothing */
        for (int i = 0; i < noutputs; i++)
            vars[i]->requires_grad = false;
        destroy_state(ops, state);
    } else {
        record(ops, ninputs, inputs, noutputs, vars, scalar, state);
    }
    if (vars != local && vars != out_vars)
        free(vars);
    dz_note_success();
    return first;
}

dz_variable *dz_function_apply(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                               int noutputs, dz_array **outputs, dz_variable **out_vars,
                               double scalar, void *state)
{
    return apply("dz_function_apply", ops, ninputs, inputs, noutputs, outputs, out_vars, scalar, state);
}

dz_variable *dz_function_apply1(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                                dz_array *output, double scalar, void *state)
{
    return apply("dz_function_apply1", ops, ninputs, inputs, 1, &output, NULL, scalar, state);
}
