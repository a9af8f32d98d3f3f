/* A check shared by the neural-network suites (linalg, activation, loss). */
#ifndef DEZERO_TEST_NN_COMMON_H
#define DEZERO_TEST_NN_COMMON_H

#include <math.h>

#include "test_common.h"

/* The backward recorded for create_graph gives the same grads as the raw one.
 * (The double-gradient check alone cannot see a wrong recorded backward: it
 * differentiates that backward against its own finite differences.) */
static inline void tn_assert_recorded_matches_raw(dz_checked_fn f, void *ctx, int n, dz_variable *const *inputs)
{
    dz_array *raw[8] = {NULL};
    ck_assert_int_le(n, 8);
    for (int pass = 0; pass < 2; pass++) {
        dz_scope_begin();
        for (int i = 0; i < n; i++)
            dz_variable_cleargrad(inputs[i]);
        dz_variable *y = f(inputs, ctx);
        ck_assert_ptr_nonnull(y);
        dz_variable_backward(dz_sum(dz_mul(y, y), 0, NULL, false), false, pass == 1);
        for (int i = 0; i < n; i++) {
            dz_variable *g = inputs[i]->grad;
            if (pass == 0) {
                raw[i] = g ? dz_array_retain(g->data) : NULL;
                continue;
            }
            ck_assert_msg((g == NULL) == (raw[i] == NULL), "input %d: grad present in one backward only", i);
            for (int64_t j = 0; g && j < g->data->size; j++) {
                double a = dz_array_get(raw[i], j), b = dz_array_get(g->data, j);
                ck_assert_msg(fabs(a - b) <= 1e-9 * fmax(1.0, fabs(a)),
                              "input %d element %lld: raw %.12g, recorded %.12g", i, (long long)j, a, b);
            }
            dz_array_release(raw[i]);
        }
        for (int i = 0; i < n; i++) /* a recorded grad may reference its input: break the cycle */
            dz_variable_cleargrad(inputs[i]);
        dz_scope_end();
    }
}

#endif
