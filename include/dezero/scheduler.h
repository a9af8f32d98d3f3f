/* Learning-rate schedulers, as torch.optim.lr_scheduler (PyTorch 1.13).
 *
 *     dz_optimizer *opt = dz_adam_new(&c);                  // c.lr = 1e-3
 *     dz_scheduler *warmup = dz_linear_lr_new(opt, 0.1, 1.0, 5);
 *     dz_scheduler *cosine = dz_cosine_annealing_lr_new(opt, 95, 0.0);
 *     dz_scheduler *parts[] = {warmup, cosine};
 *     dz_scheduler *sched = dz_sequential_lr_new(opt, 2, parts, (int64_t[]){5});
 *     for (int epoch = 0; epoch < 100; epoch++) {
 *         ... every batch: forward, backward, dz_optimizer_update(opt) ...
 *         dz_scheduler_step(sched);                       // once per epoch
 *     }
 *     dz_scheduler_free(sched);                           // frees warmup and cosine too
 *
 * A scheduler is attached to one optimizer and sets its learning rate. Its
 * counter, last_epoch, counts calls to dz_scheduler_step: call it once per
 * epoch (the schedule is in epochs, as above) or once per optimizer update
 * (the schedule is in steps: T_max, step_size, total_iters and milestones
 * then count updates). Either way, call it after the update, as PyTorch asks.
 *
 * Creating a scheduler performs its first step, as PyTorch's does: last_epoch
 * becomes 0 and the optimizer's learning rate becomes the schedule's value at
 * 0 (for LinearLR, lr * start_factor). The schedule's base learning rate is
 * the optimizer's learning rate when its first scheduler was created
 * (PyTorch's 'initial_lr').
 *
 * The values are PyTorch's to the bit: StepLR, ExponentialLR,
 * CosineAnnealingLR and LinearLR update the optimizer's current learning rate
 * with PyTorch's recursive (chainable) formulas, in double, operation for
 * operation; a milestone of SequentialLR restarts the next scheduler with
 * PyTorch's closed form at 0. Like PyTorch's, the recursive forms build on the
 * optimizer's current learning rate, so a dz_optimizer_set_lr between steps
 * carries into the schedule.
 *
 * Ownership: a scheduler borrows its optimizer (free the scheduler first). A
 * SequentialLR owns its schedulers; they are freed with it, and stepping one of
 * them directly is refused. Constructors return NULL after a user error.
 */
#ifndef DEZERO_SCHEDULER_H
#define DEZERO_SCHEDULER_H

#include <stdint.h>

#include "dezero/export.h"
#include "dezero/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_scheduler dz_scheduler;

/* StepLR: lr *= gamma every step_size epochs (step_size >= 1, gamma finite
 * and >= 0). */
DZ_API dz_scheduler *dz_step_lr_new(dz_optimizer *opt, int64_t step_size, double gamma);
/* ExponentialLR: lr *= gamma every epoch (gamma finite and >= 0). */
DZ_API dz_scheduler *dz_exponential_lr_new(dz_optimizer *opt, double gamma);
/* CosineAnnealingLR: from the base lr down to eta_min over t_max epochs along
 * half a cosine, then back up (the schedule is periodic, as PyTorch's):
 * lr_e = eta_min + (base - eta_min) * (1 + cos(pi * e / t_max)) / 2, reached by
 * PyTorch's recursive form. t_max >= 1, eta_min finite and >= 0. */
DZ_API dz_scheduler *dz_cosine_annealing_lr_new(dz_optimizer *opt, int64_t t_max, double eta_min);
/* LinearLR (linear warm-up): the factor on the base lr goes from start_factor
 * at epoch 0 to end_factor at epoch total_iters, then stays.
 * 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters >= 1. */
DZ_API dz_scheduler *dz_linear_lr_new(dz_optimizer *opt, double start_factor, double end_factor,
                                      int64_t total_iters);
/* SequentialLR: schedulers[0] until milestones[0], then schedulers[1]
 * (restarted at its epoch 0) until milestones[1], ... n >= 1 schedulers, all
 * attached to `opt` and to no other SequentialLR; n - 1 milestones, >= 1 and
 * increasing. On success the SequentialLR owns the schedulers; after an error
 * they stay the caller's. */
DZ_API dz_scheduler *dz_sequential_lr_new(dz_optimizer *opt, int n, dz_scheduler *const *schedulers,
                                          const int64_t *milestones);

/* One step: last_epoch += 1 and the optimizer's lr set to the new value. */
DZ_API dz_status dz_scheduler_step(dz_scheduler *s);
/* The learning rate the last step set (PyTorch's get_last_lr()); 0 after an
 * error. */
DZ_API double dz_scheduler_lr(const dz_scheduler *s);
/* The number of steps since creation (0 right after it); -1 after an error. */
DZ_API int64_t dz_scheduler_last_epoch(const dz_scheduler *s);
/* "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "SequentialLR". */
DZ_API const char *dz_scheduler_name(const dz_scheduler *s);
/* NULL is a no-op. A scheduler owned by a SequentialLR is freed with it:
 * freeing it alone is refused (DZ_ERR_STATE). */
DZ_API void dz_scheduler_free(dz_scheduler *s);

#ifdef __cplusplus
}
#endif

#endif
