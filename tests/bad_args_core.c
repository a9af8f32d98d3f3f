/* Bad-argument cases for the functions of array, config, device, error, function, graph, gradient_check, rng, scope, sparse_grad and variable.h (see bad_args.h). */
#include "bad_args.h"

static void array_zeros(void)
{
    int64_t big = (int64_t)1 << 40;
    EXPECT_NULL(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(-1, 2)), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_array_zeros(DZ_F64, 2, DZ_SHAPE(big, big)), DZ_ERR_OVERFLOW);
    EXPECT_NULL(dz_array_zeros(DZ_F32, 9, DZ_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1)), DZ_ERR_SHAPE);
}

const bad_args_case bad_args_core[] = {
    {"dz_array_zeros", array_zeros},
    BAD_ARGS_END,
};
