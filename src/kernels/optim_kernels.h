/* The optimizer kernels an update rule calls: one dispatcher per optimizer
 * slot of the fused table (src/backend/backend.h). Each runs the backend's
 * fused kernel when it has one, otherwise a composite of the required
 * primitives with the same semantics (optim_kernels.c says, per kernel,
 * whether the composite gives the fused kernel's bits).
 *
 * Arrays are on one device, f32 or f64, with the shapes of the slot in
 * backend.h. Every dispatcher returns false only when a temporary of its
 * composite could not be allocated (the allocator has raised the error);
 * nothing has been written then, and the caller returns DZ_ERR_NOMEM. */
#ifndef DEZERO_OPTIM_KERNELS_H
#define DEZERO_OPTIM_KERNELS_H

#include <stdbool.h>

#include "../backend/backend.h"

/* ---- whole-parameter steps: p, g and the state share one shape ---- */

/* torch.optim.SGD; momentum_buffer is NULL without momentum. */
bool dz_kernel_sgd_step(const dz_sgd_scalars *s, dz_array *p, const dz_array *g, dz_array *momentum_buffer);
/* DeZero's MomentumSGD: v = momentum*v - lr*g; p = p + v. */
bool dz_kernel_momentum_sgd_step(double lr, double momentum, dz_array *p, const dz_array *g, dz_array *velocity);
bool dz_kernel_adagrad_step(const dz_adagrad_scalars *s, dz_array *p, const dz_array *g, dz_array *state_sum);
bool dz_kernel_adadelta_step(const dz_adadelta_scalars *s, dz_array *p, const dz_array *g, dz_array *square_avg,
                             dz_array *acc_delta);
/* Adam and AdamW; max_exp_avg_sq is NULL unless amsgrad. */
bool dz_kernel_adam_step(const dz_adam_scalars *s, dz_array *p, const dz_array *g, dz_array *exp_avg,
                         dz_array *exp_avg_sq, dz_array *max_exp_avg_sq);

/* ---- hooks ---- */

/* g = g + rate*p (DeZero's WeightDecay). */
bool dz_kernel_weight_decay(double rate, const dz_array *p, dz_array *g);
/* x = scale*x */
bool dz_kernel_scale(dz_array *x, double scale);
/* *out = sum(x^2), accumulated in double (synchronises). */
bool dz_kernel_sum_squares(const dz_array *x, double *out);
/* y = y + alpha*x, rounded once (same shape). */
bool dz_kernel_axpy(dz_array *y, const dz_array *x, double alpha);

/* ---- rows of a table (R, ...), for sparse grads: rows (n,) int64, distinct,
 * in [0, R); values (n, ...) with the table's row shape ---- */

/* y[rows[k]] = scale * y[rows[k]] */
bool dz_kernel_rows_scale(dz_array *y, const dz_array *rows, double scale);
/* Adagrad on a coalesced grad. */
bool dz_kernel_sparse_adagrad_rows(const dz_adagrad_scalars *s, dz_array *p, dz_array *state_sum,
                                   const dz_array *rows, const dz_array *values);
/* SparseAdam on a coalesced grad. */
bool dz_kernel_sparse_adam_rows(const dz_sparse_adam_scalars *s, dz_array *p, dz_array *exp_avg,
                                dz_array *exp_avg_sq, const dz_array *rows, const dz_array *values);

#endif
