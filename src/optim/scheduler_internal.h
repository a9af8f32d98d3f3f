/* The scheduler struct, shared by scheduler.c and the checkpoint code, which
 * saves and restores its counters. Not installed. */
#ifndef DEZERO_SCHEDULER_INTERNAL_H
#define DEZERO_SCHEDULER_INTERNAL_H

#include "dezero/scheduler.h"

typedef enum dz_scheduler_kind {
    DZ_SCHEDULER_STEP,
    DZ_SCHEDULER_EXPONENTIAL,
    DZ_SCHEDULER_COSINE,
    DZ_SCHEDULER_LINEAR,
    DZ_SCHEDULER_SEQUENTIAL
} dz_scheduler_kind;

struct dz_scheduler {
    dz_scheduler_kind kind;
    dz_optimizer *opt; /* borrowed */
    /* Hyperparameters, by kind: StepLR n = step_size, a = gamma;
     * ExponentialLR a = gamma; CosineAnnealingLR n = t_max, a = eta_min;
     * LinearLR n = total_iters, a = start_factor, b = end_factor. */
    int64_t n;
    double a, b;
    /* PyTorch's base_lrs[0], _last_lr[0], last_epoch and _step_count. */
    double base_lr, last_lr;
    int64_t last_epoch, step_count;
    /* SequentialLR: its schedulers (owned) and nchildren - 1 milestones. */
    int nchildren;
    dz_scheduler **children;
    int64_t *milestones;
    dz_scheduler *owner; /* the SequentialLR that owns this one, or NULL */
};

#endif
