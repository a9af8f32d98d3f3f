/* Sparse gradients: what an Embedding with sparse=true leaves in
 * Parameter.sparse_grad instead of a dense grad. Row `indices[i]` of the
 * weight gets `values[i]`; an index may repeat until the grad is coalesced. */
#ifndef DEZERO_SPARSE_GRAD_H
#define DEZERO_SPARSE_GRAD_H

#include "dezero/export.h"
#include "dezero/array.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dz_sparse_grad {
    dz_array *indices; /* (nnz,) int64 */
    dz_array *values;  /* (nnz, D), the weight's dtype; may share storage with an upstream grad: read-only */
    int64_t num_rows;  /* rows of the dense weight */
    bool coalesced;    /* indices sorted and unique */
};

DZ_API void dz_sparse_grad_free(dz_sparse_grad *g);

/* Add entries to param->sparse_grad, creating it on first use and otherwise
 * concatenating after the existing entries (left uncoalesced). Takes the
 * caller's references to indices (nnz,) int64 and values (nnz, D), also when
 * it fails. Every index must be in [0, num_rows) (DZ_ERR_INDEX), and the
 * entries must fit param's (num_rows, D) weight and its grad so far. */
DZ_API dz_status dz_sparse_grad_append(dz_variable *param, dz_array *indices, dz_array *values, int64_t num_rows);

/* Sort the indices and sum the values of duplicates, in place. Deterministic:
 * duplicates are summed in entry order. */
DZ_API dz_status dz_sparse_grad_coalesce(dz_sparse_grad *g);

/* The dense (num_rows, D) grad (a new array): duplicates summed in entry
 * order, so an uncoalesced grad gives the dense backward's bits. NULL after an
 * error (D differs from the values' width). */
DZ_API dz_array *dz_sparse_grad_to_dense(const dz_sparse_grad *g, int64_t D);

#ifdef __cplusplus
}
#endif

#endif
