/* The scalars an optimizer step hands to its backend kernel (backend.h):
 * plain structs, so the backend includes them without reaching the optimizers. */
#ifndef DEZERO_OPTIM_SCALARS_H
#define DEZERO_OPTIM_SCALARS_H

#include <stdbool.h>

/* Scalars of one optimizer step. They arrive as doubles, computed as PyTorch
 * computes its Python-side scalars; the kernels round them to the parameter's
 * dtype where PyTorch rounds them (see src/backend/cpu/cpu_optim.c). */
typedef struct dz_sgd_scalars {
    double lr, momentum, dampening, weight_decay;
    bool nesterov;
    bool first_step; /* the momentum buffer starts as a copy of the grad */
} dz_sgd_scalars;

typedef struct dz_adagrad_scalars {
    double clr; /* lr / (1 + (step - 1) * lr_decay) */
    double eps, weight_decay;
} dz_adagrad_scalars;

typedef struct dz_adadelta_scalars {
    double lr, rho, eps, weight_decay;
} dz_adadelta_scalars;

typedef struct dz_adam_scalars {
    double beta1, beta2, eps;
    double weight_decay;          /* Adam's L2 term g += wd*p; 0 for AdamW */
    double decay_factor;          /* AdamW's p *= 1 - lr*wd, first; 1 for Adam */
    double step_size;             /* lr / (1 - beta1^t) */
    double bias_correction2_sqrt; /* sqrt(1 - beta2^t) */
} dz_adam_scalars;

typedef struct dz_sparse_adam_scalars {
    double beta1, beta2, eps;
    double step_size; /* lr * sqrt(1 - beta2^t) / (1 - beta1^t) */
} dz_sparse_adam_scalars;

#endif
