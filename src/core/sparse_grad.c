/* Sparse gradients: ownership. */
#include <stdlib.h>

#include "dezero/sparse_grad.h"

void dz_sparse_grad_free(dz_sparse_grad *g)
{
    if (!g)
        return;
    dz_array_release(g->indices);
    dz_array_release(g->values);
    free(g);
}
