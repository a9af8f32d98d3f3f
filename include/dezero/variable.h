/* Variables: the nodes of the define-by-run graph.
 *
 * Ownership: every call that returns a dz_variable * hands the reference to the
 * innermost open scope (see scope.h); with no scope open the caller owns it and
 * must call dz_variable_release. Accessor fields (data, grad, creator) are
 * borrowed: retain v->grad (dz_scope_keep) to use it after a cleargrad.
 *
 * Cycles: after backward with create_graph=true, x->grad is computed from x,
 * so x and its grad refer to each other. Call dz_variable_cleargrad(x) when
 * done with the grad, or the pair is never freed (refcounts see no cycles).
 */
#ifndef DEZERO_VARIABLE_H
#define DEZERO_VARIABLE_H

#include <stdbool.h>

#include "dezero/export.h"
#include "dezero/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_function dz_function;
typedef struct dz_sparse_grad dz_sparse_grad;

typedef struct dz_variable {
    dz_array *data;
    struct dz_variable *grad;  /* NULL until backward reaches this variable */
    dz_function *creator;      /* NULL for leaves */
    int generation;
    char *name;
    bool is_parameter;
    bool requires_grad;        /* leaves: whether backward gives a grad; results of
                                * Functions: whether any input requires one */
    dz_sparse_grad *sparse_grad; /* set instead of grad by sparse embeddings */
    int refcount;
} dz_variable;

/* A leaf that takes ownership of `data` (the caller's reference moves in). */
DZ_API dz_variable *dz_variable_new(dz_array *data, const char *name);
/* A leaf that requires no grad (requires_grad = false), like a PyTorch
 * tensor: use it for input batches and labels. Functions applied only to
 * constants record nothing, and backward computes no grad that leads only to
 * constants (no dL/dx for an input batch). DeZero's default stays with
 * dz_variable_new: every leaf requires a grad. */
DZ_API dz_variable *dz_variable_constant(dz_array *data, const char *name);
/* A Parameter: a Variable a Layer registers and an optimizer updates. */
DZ_API dz_variable *dz_parameter_new(dz_array *data, const char *name);
/* A 0-d leaf holding one number. */
DZ_API dz_variable *dz_variable_scalar(dz_dtype dtype, double value);

/* Both accept NULL (and do nothing). */
DZ_API dz_variable *dz_variable_retain(dz_variable *v);
DZ_API void dz_variable_release(dz_variable *v);

/* The functions below raise DZ_ERR_NULL for a NULL v. */
DZ_API void dz_variable_set_name(dz_variable *v, const char *name);
/* Replace v->data (takes ownership of `data`, released if v is NULL); NULL clears it. */
DZ_API void dz_variable_set_data(dz_variable *v, dz_array *data);
/* Replace v->grad (retains `grad`; NULL clears it). The grad must hold data
 * and not be v; backward and the optimizers check that its shape fits v. */
DZ_API void dz_variable_set_grad(dz_variable *v, dz_variable *grad);

/* Moves v to `device` in place, as DeZero's to_gpu/to_cpu: its data, its
 * grad's data and its sparse grad. All or nothing: on failure (no CUDA
 * device, out of memory) v is unchanged. A no-op for arrays already there. */
DZ_API dz_status dz_variable_to_device(dz_variable *v, dz_device device);
DZ_API dz_status dz_variable_to_gpu(dz_variable *v);
DZ_API dz_status dz_variable_to_cpu(dz_variable *v);

/* For a variable with no data (or NULL, after raising): 0, NULL, 0, DZ_F32, 0. */
DZ_API int dz_variable_ndim(const dz_variable *v);
DZ_API const int64_t *dz_variable_shape(const dz_variable *v);
DZ_API int64_t dz_variable_size(const dz_variable *v);
DZ_API dz_dtype dz_variable_dtype(const dz_variable *v);
DZ_API int64_t dz_variable_len(const dz_variable *v); /* first-axis length */

DZ_API void dz_variable_cleargrad(dz_variable *v);
/* Forget the creator (v becomes a leaf). */
DZ_API void dz_variable_unchain(dz_variable *v);
/* Make every variable upstream of v a leaf (truncated BPTT); v keeps its creator. */
DZ_API void dz_variable_unchain_backward(dz_variable *v);

/* Backpropagate from v. Seeds v->grad with ones when it has none; on a leaf this
 * just sets the grad. retain_grad=false drops the grads of non-leaf variables;
 * create_graph=true records the backward pass so grads can be differentiated.
 * v must hold data (DZ_ERR_STATE). Running it again walks the graph again and
 * adds to the leaf grads, as DeZero does (call dz_variable_cleargrad between). */
DZ_API dz_status dz_variable_backward(dz_variable *v, bool retain_grad, bool create_graph);

/* "variable([[1. 2.]\n          [3. 4.]])" */
DZ_API char *dz_variable_format(const dz_variable *v);
DZ_API void dz_variable_print(const dz_variable *v, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
