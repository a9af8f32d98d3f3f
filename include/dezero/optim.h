/* Optimizers: update parameters from their gradients.
 *
 *     dz_adam_config c = dz_adam_defaults();
 *     c.lr = 1e-2;
 *     dz_optimizer *opt = dz_adam_new(&c);
 *     dz_optimizer_setup(opt, model);                 // every parameter, in order
 *     dz_optimizer_add_hook(opt, dz_clip_grad_hook(1.0));
 *     for (...) {
 *         dz_layer_cleargrads(model);
 *         ... forward, dz_variable_backward(loss, ...) ...
 *         dz_optimizer_update(opt);                   // hooks, then one step
 *     }
 *     dz_optimizer_free(opt);
 *
 * The update rules are PyTorch 1.13's (torch.optim, single-tensor CPU path),
 * operation for operation, so float32 results match it bit for bit; the
 * exception is MomentumSGD, which is DeZero's. Hyperparameters have PyTorch's
 * names and defaults (dz_*_defaults) and are checked as PyTorch checks them.
 *
 * An update touches each parameter that has a gradient: a dense `grad` or a
 * `sparse_grad` (see sparse_grad.h). SGD and Adagrad accept both; SparseAdam
 * takes only sparse grads; the others take only dense ones, and name the
 * parameter in the error otherwise.
 *
 * State (moments, step counts) lives in the optimizer, one slot per parameter
 * in setup order, created at the parameter's first update.
 *
 * Ownership: an optimizer holds a reference to each parameter and owns its
 * hooks. Constructors return NULL after a user error (bad hyperparameter).
 */
#ifndef DEZERO_OPTIM_H
#define DEZERO_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/layer.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_optimizer dz_optimizer;
typedef struct dz_optimizer_hook dz_optimizer_hook;
typedef struct dz_npz dz_npz;

/* ---- the optimizers ---- */

/* torch.optim.SGD. lr 0.01 (DeZero's default; PyTorch 1.13 has none), the
 * rest 0 / false. The momentum buffer starts as a copy of the first grad. */
typedef struct dz_sgd_config {
    double lr, momentum, dampening, weight_decay;
    bool nesterov;
} dz_sgd_config;
DZ_API dz_sgd_config dz_sgd_defaults(void);
DZ_API dz_optimizer *dz_sgd_new(const dz_sgd_config *config); /* NULL config: defaults */

/* DeZero's MomentumSGD: v = momentum*v - lr*g; p += v (lr 0.01, momentum 0.9). */
DZ_API dz_optimizer *dz_momentum_sgd_new(double lr, double momentum);

/* torch.optim.Adagrad: lr 0.01, lr_decay 0, weight_decay 0,
 * initial_accumulator_value 0, eps 1e-10. */
typedef struct dz_adagrad_config {
    double lr, lr_decay, weight_decay, initial_accumulator_value, eps;
} dz_adagrad_config;
DZ_API dz_adagrad_config dz_adagrad_defaults(void);
DZ_API dz_optimizer *dz_adagrad_new(const dz_adagrad_config *config);

/* torch.optim.Adadelta: lr 1, rho 0.9, eps 1e-6, weight_decay 0. */
typedef struct dz_adadelta_config {
    double lr, rho, eps, weight_decay;
} dz_adadelta_config;
DZ_API dz_adadelta_config dz_adadelta_defaults(void);
DZ_API dz_optimizer *dz_adadelta_new(const dz_adadelta_config *config);

/* torch.optim.Adam / AdamW: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0 (Adam: L2 added to the grad) or 1e-2 (AdamW: decoupled,
 * p *= 1 - lr*weight_decay before the step), amsgrad false. */
typedef struct dz_adam_config {
    double lr, beta1, beta2, eps, weight_decay;
    bool amsgrad;
} dz_adam_config;
DZ_API dz_adam_config dz_adam_defaults(void);
DZ_API dz_adam_config dz_adamw_defaults(void);
DZ_API dz_optimizer *dz_adam_new(const dz_adam_config *config);
DZ_API dz_optimizer *dz_adamw_new(const dz_adam_config *config);

/* torch.optim.SparseAdam: lr 1e-3, betas (0.9, 0.999), eps 1e-8. Sparse grads
 * only; only the rows a grad touches move, and their moments update lazily. */
typedef struct dz_sparse_adam_config {
    double lr, beta1, beta2, eps;
} dz_sparse_adam_config;
DZ_API dz_sparse_adam_config dz_sparse_adam_defaults(void);
DZ_API dz_optimizer *dz_sparse_adam_new(const dz_sparse_adam_config *config);

/* ---- common to all ---- */

/* Add every parameter of `target` (dz_layer_params order; paths such as
 * "l1/W" name them in messages and state files). */
DZ_API dz_status dz_optimizer_setup(dz_optimizer *opt, const dz_layer *target);
/* Add bare parameters; each is named by its Variable name, or "param<i>". */
DZ_API dz_status dz_optimizer_add_params(dz_optimizer *opt, int n, dz_variable *const *params);
/* Run the hooks, then step every parameter that has a gradient. Every grad
 * is checked first, so a user error leaves all parameters unchanged. */
DZ_API dz_status dz_optimizer_update(dz_optimizer *opt);
DZ_API void dz_optimizer_free(dz_optimizer *opt);

DZ_API const char *dz_optimizer_name(const dz_optimizer *opt); /* "Adam" */
DZ_API double dz_optimizer_lr(const dz_optimizer *opt);
DZ_API void dz_optimizer_set_lr(dz_optimizer *opt, double lr); /* for schedules */
DZ_API int dz_optimizer_param_count(const dz_optimizer *opt);
/* Parameter i's path, its step count (0 before its first update), and its
 * state array `name` ("exp_avg", ...; borrowed, NULL when absent). */
DZ_API const char *dz_optimizer_param_path(const dz_optimizer *opt, int i);
DZ_API int64_t dz_optimizer_step_count(const dz_optimizer *opt, int i);
DZ_API const dz_array *dz_optimizer_state(const dz_optimizer *opt, int i, const char *name);
/* Move every state array to `device` (all or nothing). */
DZ_API dz_status dz_optimizer_to_device(dz_optimizer *opt, dz_device device);

/* ---- hooks: run before each update, in the order added ---- */

/* The optimizer takes ownership of the hook. */
DZ_API void dz_optimizer_add_hook(dz_optimizer *opt, dz_optimizer_hook *hook);
/* DeZero's WeightDecay: g += rate * p (an L2 term rate/2 * sum(p^2) in the
 * loss). Dense grads only. */
DZ_API dz_optimizer_hook *dz_weight_decay_hook(double rate);
/* Global-norm clipping, as DeZero's ClipGrad and torch's clip_grad_norm_:
 * total = sqrt(sum of g^2 over every grad) (accumulated in double);
 * rate = max_norm / (total + 1e-6); when rate < 1 every grad is scaled by it. */
DZ_API dz_optimizer_hook *dz_clip_grad_hook(double max_norm);
/* The total norm the clip hook measured at its last run (0 before). */
DZ_API double dz_clip_grad_last_norm(const dz_optimizer_hook *hook);
/* Freeze parameters: they keep their values (their grads are left alone).
 * Unlike DeZero's FreezeParam, which crashes, this one works. */
DZ_API dz_optimizer_hook *dz_freeze_layer_hook(const dz_layer *layer);
DZ_API dz_optimizer_hook *dz_freeze_params_hook(int n, dz_variable *const *params);

/* ---- state files (.npz; see npz.h) ----
 * Keys: "state/<param path>/<name>" for each state array, and
 * "state/<param path>/step" (0-d int64) for optimizers that count steps.
 * Loading checks every key, shape and dtype before it changes anything. */
DZ_API dz_status dz_optimizer_state_to_npz(const dz_optimizer *opt, dz_npz *z);
DZ_API dz_status dz_optimizer_state_from_npz(dz_optimizer *opt, const dz_npz *z);
DZ_API dz_status dz_optimizer_save_state(const dz_optimizer *opt, const char *path);
DZ_API dz_status dz_optimizer_load_state(dz_optimizer *opt, const char *path);

#ifdef __cplusplus
}
#endif

#endif
