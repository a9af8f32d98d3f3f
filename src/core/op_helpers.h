/* Helpers for writing ops (src/functions) and layers that compose them:
 * reaching a Function's inputs and outputs, which inputs need a grad,
 * constants, results of fast backwards, and composite ops that build their
 * result from other ops inside a private scope. */
#ifndef DEZERO_OP_HELPERS_H
#define DEZERO_OP_HELPERS_H

#include <stdbool.h>

#include "dezero/function.h"
#include "dezero/variable.h"

/* Input i of Function f; its output (alive in a backward: backward runs only
 * for outputs with a grad); a Variable's shape as (ndim, shape) arguments. */
#define IN(f, i) ((f)->inputs[i])
#define OUT(f) ((f)->outputs[0])
#define SHAPE_OF(v) (v)->data->ndim, (v)->data->shape

/* Whether backward would keep a grad for v (the rule backward.c applies). */
bool dz_needs_grad(const dz_variable *v);
/* A leaf that needs no grad, owning `a` (NULL when a is NULL). */
dz_variable *dz_constant(dz_array *a);
/* A scope-owned Variable for an array computed by a raw backward path. */
dz_variable *dz_raw_result(dz_array *a);
/* Releases an op's output whose kernel failed (for want of memory, already
 * raised) and returns NULL: `if (y && !dz_kernel_x(..., y)) y = dz_failed_output(y);` */
dz_array *dz_failed_output(dz_array *a);

/* Composite ops: dz_scope_begin(), build y from other ops, then
 * return dz_composite_result(y): y survives, the intermediates that nothing
 * references are released, and y goes to the caller's scope (or the caller). */
dz_variable *dz_composite_result(dz_variable *y);

#endif
