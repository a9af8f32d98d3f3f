/* DeZero step 33: Newton's method with derivatives from double backprop.
 * Minimises y = x^4 - 2x^2 from x = 2; converges to x = 1 in 7 steps. */
#include <stdio.h>

#include "dezero/dezero.h"

int main(void)
{
    dz_variable *x = dz_variable_scalar(DZ_F64, 2.0); /* outside any scope: ours */
    for (int i = 0; i < 10; i++) {
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
