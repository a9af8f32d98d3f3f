/* Bad-argument cases for the functions of activation, embedding, getitem, linalg, loss, math and shape.h (see bad_args.h). */
#include "bad_args.h"

static void add(void)
{
    dz_scope_begin();
    dz_variable *a = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 3)), NULL);
    dz_variable *b = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), NULL);
    dz_variable *c = dz_variable_new(dz_array_zeros(DZ_F64, 1, DZ_SHAPE(3)), NULL);
    EXPECT_NULL(dz_add(a, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_add(NULL, a), DZ_ERR_NULL);
    EXPECT_NULL(dz_add(a, b), DZ_ERR_SHAPE);
    EXPECT_NULL(dz_add(a, c), DZ_ERR_DTYPE);
    dz_scope_end();
}

const bad_args_case bad_args_ops[] = {
    {"dz_add", add},
    BAD_ARGS_END,
};
