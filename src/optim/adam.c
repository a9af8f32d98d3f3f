/* Adam, AdamW (torch.optim.Adam / AdamW, dense grads; adam_step kernel) and
 * SparseAdam (torch.optim.SparseAdam, sparse grads; sparse_adam_rows).
 *
 * Adam / AdamW at step t:
 *     p = p * (1 - lr*wd)                   (AdamW: decoupled decay, first)
 *     g = g + wd*p                          (Adam: L2 in the grad)
 *     m = b1*m + (1-b1)*g
 *     v = b2*v + (1-b2)*g^2                 (AMSGrad: vmax = max(vmax, v), used below)
 *     p = p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * At t = 1 this is p - lr*g/(|g| + eps): every element with a nonzero grad
 * moves by about lr, whatever the grad's size.
 *
 * SparseAdam moves only the rows in the (coalesced) grad, with the same
 * moments updated lazily, and adds eps before the bias correction:
 *     p[r] = p[r] - lr*sqrt(1-b2^t)/(1-b1^t) * m[r] / (sqrt(v[r]) + eps)
 */
#include <math.h>

#include "../kernels/optim_kernels.h"
#include "optimizer_internal.h"

typedef struct {
    dz_optimizer base;
    dz_adam_config config; /* config.lr is unused: base.lr is the live value */
} adam_optimizer;

enum { EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ };

/* The Python-side scalars of _single_tensor_adam, in doubles. */
static dz_adam_scalars adam_scalars(const dz_optimizer *opt, int64_t step, bool decoupled)
{
    const dz_adam_config *c = &((const adam_optimizer *)opt)->config;
    double t = (double)step;
    double bias_correction1 = 1 - pow(c->beta1, t), bias_correction2 = 1 - pow(c->beta2, t);
    return (dz_adam_scalars){
        .beta1 = c->beta1,
        .beta2 = c->beta2,
        .eps = c->eps,
        .weight_decay = decoupled ? 0 : c->weight_decay,
        .decay_factor = decoupled ? 1 - opt->lr * c->weight_decay : 1,
        .step_size = opt->lr / bias_correction1,
        .bias_correction2_sqrt = sqrt(bias_correction2),
    };
}

static dz_status adam_step(dz_optimizer *opt, dz_param_state *state, dz_variable *param, bool decoupled)
{
    bool amsgrad = ((adam_optimizer *)opt)->config.amsgrad;
    dz_array *m = dz_optim_state_array(state, EXP_AVG, param, 0);
    dz_array *v = dz_optim_state_array(state, EXP_AVG_SQ, param, 0);
    dz_array *vmax = amsgrad ? dz_optim_state_array(state, MAX_EXP_AVG_SQ, param, 0) : NULL;
    if (!m || !v || (amsgrad && !vmax))
        return DZ_ERR_NOMEM;
    dz_adam_scalars s = adam_scalars(opt, state->step, decoupled);
    return dz_kernel_adam_step(&s, param->data, param->grad->data, m, v, vmax) ? DZ_OK : DZ_ERR_NOMEM;
}

static dz_status adam_step_dense(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    return adam_step(opt, state, param, false);
}

static dz_status adamw_step_dense(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    return adam_step(opt, state, param, true);
}

static bool adam_uses_slot(const dz_optimizer *opt, int slot)
{
    return slot != MAX_EXP_AVG_SQ || ((const adam_optimizer *)opt)->config.amsgrad;
}

static const dz_optimizer_ops adam_ops = {
    .name = "Adam",
    .state_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    .counts_steps = true,
    .uses_slot = adam_uses_slot,
    .sparse_refusal = ", please consider SparseAdam instead",
    .step_dense = adam_step_dense,
};

static const dz_optimizer_ops adamw_ops = {
    .name = "AdamW",
    .state_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    .counts_steps = true,
    .uses_slot = adam_uses_slot,
    .step_dense = adamw_step_dense,
};

dz_adam_config dz_adam_defaults(void)
{
    return (dz_adam_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

dz_adam_config dz_adamw_defaults(void)
{
    dz_adam_config c = dz_adam_defaults();
    c.weight_decay = 1e-2;
    return c;
}

static dz_optimizer *adam_new(const char *op, const dz_optimizer_ops *ops, const dz_adam_config *c)
{
    if (!dz_optim_check_nonnegative(op, "learning rate", c->lr) ||
        !dz_optim_check_nonnegative(op, "epsilon value", c->eps) ||
        !dz_optim_check_beta(op, 0, c->beta1) || !dz_optim_check_beta(op, 1, c->beta2) ||
        !dz_optim_check_nonnegative(op, "weight_decay value", c->weight_decay))
        return NULL;
    adam_optimizer *opt = dz_xcalloc(1, sizeof *opt);
    dz_optimizer_init(&opt->base, ops, c->lr);
    opt->config = *c;
    return &opt->base;
}

dz_optimizer *dz_adam_new(const dz_adam_config *config)
{
    dz_adam_config c = config ? *config : dz_adam_defaults();
    return adam_new("dz_adam_new", &adam_ops, &c);
}

dz_optimizer *dz_adamw_new(const dz_adam_config *config)
{
    dz_adam_config c = config ? *config : dz_adamw_defaults();
    return adam_new("dz_adamw_new", &adamw_ops, &c);
}

/* ---- SparseAdam ---- */

typedef struct {
    dz_optimizer base;
    dz_sparse_adam_config config; /* config.lr is unused: base.lr is the live value */
} sparse_adam_optimizer;

static dz_status sparse_adam_step(dz_optimizer *opt, dz_param_state *state, dz_variable *param)
{
    const dz_sparse_adam_config *c = &((sparse_adam_optimizer *)opt)->config;
    dz_array *m = dz_optim_state_array(state, EXP_AVG, param, 0);
    dz_array *v = dz_optim_state_array(state, EXP_AVG_SQ, param, 0);
    if (!m || !v)
        return DZ_ERR_NOMEM;
    dz_coalesced g;
    dz_status status = dz_optim_coalesce(param->sparse_grad, &g);
    if (status != DZ_OK)
        return status;
    double t = (double)state->step;
    double bias_correction1 = 1 - pow(c->beta1, t), bias_correction2 = 1 - pow(c->beta2, t);
    dz_sparse_adam_scalars s = {c->beta1, c->beta2, c->eps, opt->lr * sqrt(bias_correction2) / bias_correction1};
    bool done = dz_kernel_sparse_adam_rows(&s, param->data, m, v, g.rows, g.values);
    dz_optim_coalesced_free(&g);
    return done ? DZ_OK : DZ_ERR_NOMEM;
}

static const dz_optimizer_ops sparse_adam_ops = {
    .name = "SparseAdam",
    .state_names = {"exp_avg", "exp_avg_sq"},
    .counts_steps = true,
    .dense_refusal = ", please consider Adam instead",
    .step_sparse = sparse_adam_step,
};

dz_sparse_adam_config dz_sparse_adam_defaults(void)
{
    return (dz_sparse_adam_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

dz_optimizer *dz_sparse_adam_new(const dz_sparse_adam_config *config)
{
    const char *op = "dz_sparse_adam_new";
    dz_sparse_adam_config c = config ? *config : dz_sparse_adam_defaults();
    if (!(c.lr > 0 && isfinite(c.lr))) {
        dz_raise(DZ_ERR_VALUE, "%s: Invalid learning rate: %g (must be finite and > 0)", op, c.lr);
        return NULL;
    }
    if (!(c.eps > 0 && isfinite(c.eps))) {
        dz_raise(DZ_ERR_VALUE, "%s: Invalid epsilon value: %g (must be finite and > 0)", op, c.eps);
        return NULL;
    }
    if (!dz_optim_check_beta(op, 0, c.beta1) || !dz_optim_check_beta(op, 1, c.beta2))
        return NULL;
    sparse_adam_optimizer *opt = dz_xcalloc(1, sizeof *opt);
    dz_optimizer_init(&opt->base, &sparse_adam_ops, c.lr);
    opt->config = c;
    return &opt->base;
}
