/* Sparse gradients: what an Embedding with sparse=true leaves in
 * Parameter.sparse_grad instead of a dense grad. Row `indices[i]` of the
 * weight gets `values[i]`; an index may repeat until the grad is coalesced. */
#ifndef DEZERO_SPARSE_GRAD_H
#define DEZERO_SPARSE_GRAD_H

#include "dezero/array.h"
#include "dezero/variable.h"

struct dz_sparse_grad {
    dz_array *indices; /* (nnz,) int64 */
    dz_array *values;  /* (nnz, D), the weight's dtype */
    int64_t num_rows;  /* rows of the dense weight */
    bool coalesced;    /* indices sorted and unique */
};

void dz_sparse_grad_free(dz_sparse_grad *g);

#endif
