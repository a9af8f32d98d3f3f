/* Functions: the operations of the graph.
 *
 * A Function holds its inputs strongly and its outputs weakly: when an output
 * Variable dies its slot in `outputs` becomes NULL. Its generation is the
 * largest generation of its inputs. Each op supplies a dz_function_ops table:
 * the forward is the C function that builds the output arrays and calls
 * dz_function_apply; the backward receives the output grads (Variables; NULL
 * where an output got none) and stores one grad per input in gxs (left NULL
 * where an input gets none). Backwards are written with the differentiable ops,
 * so a graph recorded with create_graph can be differentiated again. An op may
 * also give a fast backward computing the same grads straight on arrays
 * (kernels, no graph): backward runs it instead whenever create_graph is off.
 *
 * Users can define their own Functions the same way.
 */
#ifndef DEZERO_FUNCTION_H
#define DEZERO_FUNCTION_H

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_function_ops {
    /* The name errors give ("dz_mul"): a message about this Function starts
     * with it. */
    const char *name;
    /* gys[noutputs] (borrowed), gxs[ninputs] (set to new references). */
    void (*backward)(dz_function *f, dz_variable *const *gys, dz_variable **gxs);
    /* Frees `state` (NULL means free()). */
    void (*destroy_state)(void *state);
    /* Optional: the same grads as `backward`, computed without recording a
     * graph; run instead of it when dz_variable_backward's create_graph is
     * false. NULL: `backward` always runs. */
    void (*backward_fast)(dz_function *f, dz_variable *const *gys, dz_variable **gxs);
    /* Optional: the name graph pictures show, DeZero's class name ("Mul",
     * "MatMul", "GetItem"; see graph.h). NULL: `name` is shown. */
    const char *display_name;
} dz_function_ops;

struct dz_function {
    const dz_function_ops *ops;
    int ninputs, noutputs;
    dz_variable **inputs;   /* strong */
    dz_variable **outputs;  /* weak: NULL once the output dies */
    int generation;
    int refcount;           /* one per live output that names it as creator */
    unsigned visit;         /* backward's bookkeeping */
    double scalar;          /* a small parameter (exponent, slope...) */
    void *state;            /* op-specific data, freed by ops->destroy_state */
};

/* Wrap `outputs` (ownership moves in) as Variables and, when backprop is
 * enabled, record a Function with `inputs`. `state` is owned from here on.
 * Returns the first output (scope-owned, see variable.h); all outputs are
 * written to out_vars when it is not NULL.
 *
 * ops and ops->name must be set, ninputs >= 0, noutputs >= 1, and no input
 * NULL (a NULL input while an error is recorded reports that error, see
 * error.h). A NULL output means the forward failed: when no error is
 * recorded yet this raises DZ_ERR_NULL, otherwise the forward's error stays
 * the one reported. On any failure the outputs and the state are released, out_vars
 * gets NULLs and the call returns NULL. */
DZ_API dz_variable *dz_function_apply(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                                      int noutputs, dz_array **outputs, dz_variable **out_vars,
                                      double scalar, void *state);

/* The same for the common case of one output. */
DZ_API dz_variable *dz_function_apply1(const dz_function_ops *ops, int ninputs, dz_variable *const *inputs,
                                       dz_array *output, double scalar, void *state);

#ifdef __cplusplus
}
#endif

#endif
