/* A parameter's optimizer state: its buffers (momentum, running averages...),
 * made on first use with the parameter's shape, dtype and device. Beneath both
 * the optimizer base (optimizer.c) and the update rules (sgd.c ... sparse.c). */
#include <string.h>

#include "optimizer_internal.h"

dz_array *dz_optim_state_array(dz_param_state *state, int slot, const dz_variable *param, double fill)
{
    if (!state->arrays[slot]) {
        const dz_array *p = param->data;
        dz_array *a = dz_array_empty_on(p->device, p->dtype, p->ndim, p->shape); /* zeros */
        if (a && fill != 0)
            dz_backend_of(a)->fill(a, fill);
        state->arrays[slot] = a;
    }
    return state->arrays[slot];
}

void dz_optim_state_clear(dz_param_state *state)
{
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        dz_array_release(state->arrays[s]);
    dz_array_release(state->touched_rows);
    memset(state, 0, sizeof *state);
}
