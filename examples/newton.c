/* DeZero step 33: Newton's method with derivatives from double backprop.
 * Minimises y = x^4 - 2x^2 from x = 2; converges to x = 1 in 7 steps.
 * Run with --help for the options. */
#include <stdio.h>

#include "common/ex.h"

int main(int argc, char **argv)
{
    double x0 = 2.0;
    int iterations = 10;
    const ex_option options[] = {
        EX_DOUBLE_OPTION("x0", &x0, -1e6, 1e6, "the starting point"),
        EX_INT_OPTION("iterations", &iterations, 1, 1000, "Newton steps"),
    };
    ex_parse(&(ex_program){"newton", "DeZero step 33: minimises y = x^4 - 2x^2 by Newton's method, the second "
                                     "derivative from double backprop;\nprints x after each step.",
                           sizeof options / sizeof *options, options},
             argc, argv);
    dz_variable *x = dz_variable_scalar(DZ_F64, x0); /* outside any scope: ours */
    for (int i = 0; i < iterations; i++) {
        printf("%d %.16g\n", i, dz_array_get(x->data, 0));
        dz_scope_begin();
        dz_variable *y = dz_sub(dz_pow(x, 4), dz_mul_scalar(dz_pow(x, 2), 2.0));
        dz_variable_cleargrad(x);
        dz_variable_backward(y, false, true); /* record the backward: gx is differentiable */
        dz_variable *gx = dz_scope_keep(x->grad);
        dz_variable_cleargrad(x);
        dz_variable_backward(gx, false, false); /* x->grad = d2y/dx2 */
        double step = dz_array_get(gx->data, 0) / dz_array_get(x->grad->data, 0);
        dz_array_set(x->data, 0, dz_array_get(x->data, 0) - step);
        dz_variable_release(gx);
        dz_scope_end();
    }
    dz_variable_cleargrad(x);
    dz_variable_release(x);
    return 0;
}
