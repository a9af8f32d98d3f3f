/* Adagrad as torch.optim.Adagrad, for dense grads (adagrad_step kernel) and
 * sparse ones (sparse_adagrad_rows on the coalesced grad):
 *
 *     g   = g + wd*p                         (dense only)
 *     clr = lr / (1 + (t-1)*lr_decay)
 *     h   = h + g^2                          (h starts at initial_accumulator_value)
 *     p   = p - clr * g / (sqrt(h) + eps)
 */
#include "../kernels/optim_kernels.h"
#include "optimizer_internal.h"

typedef struct {
    dz_optimizer base;
    dz_adagrad_config config; /* config.lr is unused: base.lr is the live value */
} adagrad_optimizer;

static dz_adagrad_scalars scalars(const dz_optimizer *opt, const dz_param_state *state)
{
    const dz_adagrad_config *c = &((const adagrad_optimizer *)opt)->config;
    double clr = opt->lr / (1 + (double)(state->step - 1) * c->lr_decay);
    return (dz_adagrad_scalars){clr, c->eps, c->weight_decay};
}

static dz_array *state_sum(const dz_optimizer *opt, dz_param_state *state, const dz_variable *param)
{
    double initial = ((const adagrad_optimizer *)opt)->config.initial_accumulator_value;
    return dz_optim_state_array(state, 0, param, initial);
}

static dz_status adagrad_check(const char *who, const dz_optimizer *opt, const dz_update_item *item)
{
    if (item->param->sparse_grad && ((const adagrad_optimizer *)opt)->config.weight_decay != 0)
        return dz_raise(DZ_ERR_UNSUPPORTED, "%s: weight_decay option is not compatible with sparse gradients "
                        "(parameter '%s')", who, item->path);
    return DZ_OK;
}

static dz_status adagrad_step_dense(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    dz_array *sum = state_sum(opt, state, param);
    if (!sum)
        return DZ_ERR_NOMEM;
    dz_adagrad_scalars s = scalars(opt, state);
    return dz_kernel_adagrad_step(&s, param->data, param->grad->data, sum) ? DZ_OK : DZ_ERR_NOMEM;
}

static dz_status adagrad_step_sparse(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    dz_array *sum = state_sum(opt, state, param);
    dz_coalesced g;
    if (!sum || dz_optim_coalesce(param->sparse_grad, &g) != DZ_OK)
        return DZ_ERR_NOMEM;
    dz_adagrad_scalars s = scalars(opt, state);
    bool done = dz_kernel_sparse_adagrad_rows(&s, param->data, sum, g.rows, g.values);
    dz_optim_coalesced_free(&g);
    return done ? DZ_OK : DZ_ERR_NOMEM;
}

static const dz_optimizer_ops adagrad_ops = {
    .name = "Adagrad",
    .state_names = {"sum"},
    .counts_steps = true,
    .check = adagrad_check,
    .step_dense = adagrad_step_dense,
    .step_sparse = adagrad_step_sparse,
};

dz_adagrad_config dz_adagrad_defaults(void) { return (dz_adagrad_config){.lr = 0.01, .eps = 1e-10}; }

dz_optimizer *dz_adagrad_new(const dz_adagrad_config *config)
{
    const char *op = "dz_adagrad_new";
    dz_adagrad_config c = config ? *config : dz_adagrad_defaults();
    if (!dz_optim_check_nonnegative(op, "learning rate", c.lr) ||
        !dz_optim_check_nonnegative(op, "lr_decay value", c.lr_decay) ||
        !dz_optim_check_nonnegative(op, "weight_decay value", c.weight_decay) ||
        !dz_optim_check_nonnegative(op, "initial_accumulator_value", c.initial_accumulator_value) ||
        !dz_optim_check_nonnegative(op, "epsilon value", c.eps))
        return NULL;
    adagrad_optimizer *opt = dz_xcalloc(1, sizeof *opt);
    dz_optimizer_init(&opt->base, &adagrad_ops, c.lr);
    opt->config = c;
    return &opt->base;
}
