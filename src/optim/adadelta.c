/* Adadelta as torch.optim.Adadelta, dense grads only (adadelta_step kernel):
 *
 *     g  = g + wd*p
 *     s  = rho*s + (1-rho)*g^2             (running mean of g^2)
 *     dx = sqrt(a + eps) / sqrt(s + eps) * g
 *     a  = rho*a + (1-rho)*dx^2            (running mean of dx^2)
 *     p  = p - lr*dx
 */
#include "../kernels/optim_kernels.h"
#include "optimizer_internal.h"

typedef struct {
    dz_optimizer base;
    dz_adadelta_config config; /* config.lr is unused: base.lr is the live value */
} adadelta_optimizer;

static dz_status adadelta_step_dense(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    const dz_adadelta_config *c = &((adadelta_optimizer *)opt)->config;
    dz_array *square_avg = dz_optim_state_array(state, 0, param, 0);
    dz_array *acc_delta = dz_optim_state_array(state, 1, param, 0);
    if (!square_avg || !acc_delta)
        return DZ_ERR_NOMEM;
    dz_adadelta_scalars s = {opt->lr, c->rho, c->eps, c->weight_decay};
    bool done = dz_kernel_adadelta_step(&s, param->data, param->grad->data, square_avg, acc_delta);
    return done ? DZ_OK : DZ_ERR_NOMEM;
}

static const dz_optimizer_ops adadelta_ops = {
    .name = "Adadelta",
    .state_names = {"square_avg", "acc_delta"},
    .step_dense = adadelta_step_dense,
};

dz_adadelta_config dz_adadelta_defaults(void)
{
    return (dz_adadelta_config){.lr = 1.0, .rho = 0.9, .eps = 1e-6};
}

dz_optimizer *dz_adadelta_new(const dz_adadelta_config *config)
{
    const char *op = "dz_adadelta_new";
    dz_adadelta_config c = config ? *config : dz_adadelta_defaults();
    if (!dz_optim_check_nonnegative(op, "learning rate", c.lr) ||
        !dz_optim_check_nonnegative(op, "epsilon value", c.eps) ||
        !dz_optim_check_nonnegative(op, "weight_decay value", c.weight_decay))
        return NULL;
    if (!(c.rho >= 0 && c.rho <= 1)) {
        dz_raise(DZ_ERR_VALUE, "%s: Invalid rho value: %g (must be in [0, 1])", op, c.rho);
        return NULL;
    }
    adadelta_optimizer *opt = dz_xcalloc(1, sizeof *opt);
    dz_optimizer_init(&opt->base, &adadelta_ops, c.lr);
    opt->config = c;
    return &opt->base;
}
