/* MomentumSGD as DeZero has it (dezero/optimizers.py), dense grads only:
 *
 *     v = momentum*v - lr*g      (v starts at 0)
 *     p = p + v
 *
 * It differs from SGD with momentum, which keeps b = momentum*b + g and
 * steps p -= lr*b: the two agree only while lr is constant. */
#include "../kernels/optim_kernels.h"
#include "optimizer_internal.h"

typedef struct {
    dz_optimizer base;
    double momentum;
} momentum_optimizer;

static dz_status momentum_step_dense(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    dz_array *velocity = dz_optim_state_array(state, 0, param, 0);
    if (!velocity)
        return DZ_ERR_NOMEM;
    double momentum = ((momentum_optimizer *)opt)->momentum;
    bool done = dz_kernel_momentum_sgd_step(opt->lr, momentum, param->data, param->grad->data, velocity);
    return done ? DZ_OK : DZ_ERR_NOMEM;
}

static const dz_optimizer_ops momentum_ops = {
    .name = "MomentumSGD",
    .state_names = {"velocity"},
    .sparse_refusal = ", please consider SGD instead",
    .step_dense = momentum_step_dense,
};

dz_optimizer *dz_momentum_sgd_new(double lr, double momentum)
{
    if (!dz_optim_check_nonnegative("dz_momentum_sgd_new", "learning rate", lr) ||
        !dz_optim_check_nonnegative("dz_momentum_sgd_new", "momentum value", momentum))
        return NULL;
    momentum_optimizer *opt = dz_xcalloc(1, sizeof *opt);
    dz_optimizer_init(&opt->base, &momentum_ops, lr);
    opt->momentum = momentum;
    return &opt->base;
}
