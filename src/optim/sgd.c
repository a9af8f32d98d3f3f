/* SGD as torch.optim.SGD: momentum, dampening, Nesterov momentum and weight
 * decay. The dense step is the sgd_step kernel; sparse grads go to sparse.c.
 *
 *     d = g + wd*p
 *     b = d at the first step, then b = momentum*b + (1-dampening)*d
 *     d = d + momentum*b (Nesterov), or d = b
 *     p = p - lr*d
 */
#include <math.h>

#include "../kernels/optim_kernels.h"
#include "optimizer_internal.h"

typedef struct {
    dz_optimizer base;
    dz_sgd_config config; /* config.lr is unused: base.lr is the live value */
} sgd_optimizer;

static dz_sgd_config live_config(const dz_optimizer *opt)
{
    dz_sgd_config c = ((const sgd_optimizer *)opt)->config;
    c.lr = opt->lr;
    return c;
}

static dz_status sgd_check(const char *who, const dz_optimizer *opt, const dz_update_item *item)
{
    const dz_sgd_config *c = &((const sgd_optimizer *)opt)->config;
    if (item->param->sparse_grad && c->weight_decay != 0)
        return dz_raise(DZ_ERR_UNSUPPORTED, "%s: weight_decay is not supported with sparse gradients (parameter "
                        "'%s'; PyTorch: add(sparse, dense) is not supported)", who, item->path);
    return DZ_OK;
}

static dz_status sgd_step_dense(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    dz_sgd_config c = live_config(opt);
    dz_array *buffer = NULL;
    bool first_step = state->arrays[0] == NULL;
    if (c.momentum != 0) {
        buffer = dz_optim_state_array(state, 0, param, 0);
        if (!buffer)
            return DZ_ERR_NOMEM;
        dz_optim_forget_touched_rows(state); /* a dense step may touch every row */
    }
    dz_sgd_scalars s = {c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov, first_step};
    return dz_kernel_sgd_step(&s, param->data, param->grad->data, buffer) ? DZ_OK : DZ_ERR_NOMEM;
}

static dz_status sgd_step_sparse(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    dz_sgd_config c = live_config(opt);
    return dz_optim_sgd_sparse_step(&c, state, param);
}

static bool sgd_uses_slot(const dz_optimizer *opt, int slot)
{
    (void)slot;
    return ((const sgd_optimizer *)opt)->config.momentum != 0;
}

static const dz_optimizer_ops sgd_ops = {
    .name = "SGD",
    .state_names = {"momentum_buffer"},
    .uses_slot = sgd_uses_slot,
    .check = sgd_check,
    .step_dense = sgd_step_dense,
    .step_sparse = sgd_step_sparse,
};

dz_sgd_config dz_sgd_defaults(void) { return (dz_sgd_config){.lr = 0.01}; }

static bool check_config(const char *op, const dz_sgd_config *c)
{
    if (!dz_optim_check_nonnegative(op, "learning rate", c->lr) ||
        !dz_optim_check_nonnegative(op, "momentum value", c->momentum) ||
        !dz_optim_check_nonnegative(op, "weight_decay value", c->weight_decay))
        return false;
    if (!isfinite(c->dampening)) {
        dz_raise(DZ_ERR_VALUE, "%s: Invalid dampening value: %g (must be finite)", op, c->dampening);
        return false;
    }
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
        dz_raise(DZ_ERR_VALUE, "%s: Nesterov momentum requires a momentum and zero dampening", op);
        return false;
    }
    return true;
}

dz_optimizer *dz_sgd_new(const dz_sgd_config *config)
{
    dz_sgd_config c = config ? *config : dz_sgd_defaults();
    if (!check_config("dz_sgd_new", &c))
        return NULL;
    sgd_optimizer *opt = dz_xcalloc(1, sizeof *opt);
    dz_optimizer_init(&opt->base, &sgd_ops, c.lr);
    opt->config = c;
    return &opt->base;
}
