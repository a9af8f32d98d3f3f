/* Learning-rate schedulers: PyTorch 1.13's StepLR, ExponentialLR,
 * CosineAnnealingLR, LinearLR (recursive get_lr, closed forms for a
 * SequentialLR milestone) and SequentialLR, written operation for operation
 * in double so the values are PyTorch's to the bit. The checkpoint code saves
 * and restores the counters (scheduler_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer_internal.h"
#include "scheduler_internal.h"

static const char *const kind_names[] = {"StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                                         "SequentialLR"};

/* Python's a % b for b > 0: the result has b's sign. */
static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* get_lr(): the next value from the optimizer's current lr. (CosineAnnealingLR's
 * branch for `_step_count == 1 and last_epoch > 0` needs a scheduler created at
 * a last_epoch past 0, which this API does not offer.) */
static double recursive_lr(const dz_scheduler *s, double lr)
{
    int64_t e = s->last_epoch;
    switch (s->kind) {
    case DZ_SCHEDULER_STEP:
        return e == 0 || e % s->n != 0 ? lr : lr * s->a;
    case DZ_SCHEDULER_EXPONENTIAL:
        return e == 0 ? lr : lr * s->a;
    case DZ_SCHEDULER_COSINE: {
        double t = (double)s->n, eta_min = s->a;
        if (e == 0)
            return lr;
        if (floor_mod(e - 1 - s->n, 2 * s->n) == 0)
            return lr + (s->base_lr - eta_min) * (1 - cos(M_PI / t)) / 2;
        return (1 + cos(M_PI * (double)e / t)) / (1 + cos(M_PI * (double)(e - 1) / t)) * (lr - eta_min) + eta_min;
    }
    case DZ_SCHEDULER_LINEAR: {
        double start = s->a, end = s->b;
        if (e == 0)
            return lr * start;
        if (e > s->n)
            return lr;
        return lr * (1. + (end - start) / ((double)s->n * start + (double)(e - 1) * (end - start)));
    }
    case DZ_SCHEDULER_SEQUENTIAL:
        break;
    }
    DZ_ASSERT(false);
    return lr;
}

/* _get_closed_form_lr(): the value at last_epoch from the base lr. */
static double closed_form_lr(const dz_scheduler *s)
{
    int64_t e = s->last_epoch;
    switch (s->kind) {
    case DZ_SCHEDULER_STEP:
        return s->base_lr * pow(s->a, (double)(e / s->n));
    case DZ_SCHEDULER_EXPONENTIAL:
        return s->base_lr * pow(s->a, (double)e);
    case DZ_SCHEDULER_COSINE:
        return s->a + (s->base_lr - s->a) * (1 + cos(M_PI * (double)e / (double)s->n)) / 2;
    case DZ_SCHEDULER_LINEAR:
        return s->base_lr * (s->a + (s->b - s->a) * (double)(e < s->n ? e : s->n) / (double)s->n);
    case DZ_SCHEDULER_SEQUENTIAL:
        break;
    }
    DZ_ASSERT(false);
    return s->base_lr;
}

static void set_lr(dz_scheduler *s, double lr)
{
    s->opt->lr = lr;
    s->last_lr = lr;
}

/* _LRScheduler.step() */
static void step_recursive(dz_scheduler *s)
{
    s->step_count++;
    s->last_epoch++;
    set_lr(s, recursive_lr(s, s->opt->lr));
}

/* _LRScheduler.step(0), which SequentialLR calls at a milestone. */
static void restart(dz_scheduler *s)
{
    s->step_count++;
    s->last_epoch = 0;
    set_lr(s, closed_form_lr(s));
}

/* SequentialLR.step() */
static void step_sequential(dz_scheduler *s)
{
    s->last_epoch++;
    int idx = 0; /* bisect_right(milestones, last_epoch) */
    while (idx < s->nchildren - 1 && s->milestones[idx] <= s->last_epoch)
        idx++;
    dz_scheduler *child = s->children[idx];
    if (idx > 0 && s->milestones[idx - 1] == s->last_epoch)
        restart(child);
    else
        step_recursive(child);
    s->last_lr = child->last_lr;
}

/* ---- creation ---- */

static bool check_factor(const char *op, const char *what, double value, bool zero_allowed)
{
    if (isfinite(value) && (zero_allowed ? value >= 0 : value > 0) && value <= 1)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: %s is %g; it must be in %s", op, what, value, zero_allowed ? "[0, 1]" : "(0, 1]");
    return false;
}

static bool check_nonnegative(const char *op, const char *what, double value)
{
    if (isfinite(value) && value >= 0)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: %s is %g; it must be finite and >= 0", op, what, value);
    return false;
}

static bool check_count(const char *op, const char *what, int64_t value)
{
    if (value >= 1)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: %s is %lld; it must be 1 or more", op, what, (long long)value);
    return false;
}

static bool check_opt(const char *op, const dz_optimizer *opt)
{
    if (!opt)
        dz_raise(DZ_ERR_NULL, "%s: the optimizer is NULL", op);
    return opt != NULL;
}

/* A scheduler attached to `opt`, after its first step (_initial_step). */
static dz_scheduler *attach(dz_optimizer *opt, dz_scheduler_kind kind, int64_t n, double a, double b)
{
    dz_scheduler *s = dz_xcalloc(1, sizeof *s);
    *s = (dz_scheduler){.kind = kind, .opt = opt, .n = n, .a = a, .b = b, .last_epoch = -1};
    if (!opt->has_initial_lr) {
        opt->initial_lr = opt->lr;
        opt->has_initial_lr = true;
    }
    s->base_lr = opt->initial_lr;
    step_recursive(s);
    return s;
}

dz_scheduler *dz_step_lr_new(dz_optimizer *opt, int64_t step_size, double gamma)
{
    const char *op = "dz_step_lr_new";
    if (!check_opt(op, opt) || !check_count(op, "step_size", step_size) || !check_nonnegative(op, "gamma", gamma))
        return NULL;
    return attach(opt, DZ_SCHEDULER_STEP, step_size, gamma, 0);
}

dz_scheduler *dz_exponential_lr_new(dz_optimizer *opt, double gamma)
{
    const char *op = "dz_exponential_lr_new";
    if (!check_opt(op, opt) || !check_nonnegative(op, "gamma", gamma))
        return NULL;
    return attach(opt, DZ_SCHEDULER_EXPONENTIAL, 0, gamma, 0);
}

dz_scheduler *dz_cosine_annealing_lr_new(dz_optimizer *opt, int64_t t_max, double eta_min)
{
    const char *op = "dz_cosine_annealing_lr_new";
    if (!check_opt(op, opt) || !check_count(op, "t_max", t_max) || !check_nonnegative(op, "eta_min", eta_min))
        return NULL;
    return attach(opt, DZ_SCHEDULER_COSINE, t_max, eta_min, 0);
}

dz_scheduler *dz_linear_lr_new(dz_optimizer *opt, double start_factor, double end_factor, int64_t total_iters)
{
    const char *op = "dz_linear_lr_new";
    if (!check_opt(op, opt) || !check_factor(op, "start_factor", start_factor, false) ||
        !check_factor(op, "end_factor", end_factor, true) || !check_count(op, "total_iters", total_iters))
        return NULL;
    return attach(opt, DZ_SCHEDULER_LINEAR, total_iters, start_factor, end_factor);
}

static bool check_part(const char *op, const dz_optimizer *opt, dz_scheduler *const *parts, int i)
{
    const dz_scheduler *p = parts[i];
    if (!p) {
        dz_raise(DZ_ERR_NULL, "%s: schedulers[%d] is NULL", op, i);
        return false;
    }
    if (p->opt != opt) {
        dz_raise(DZ_ERR_VALUE, "%s: schedulers[%d] (%s) is attached to another optimizer; create every scheduler "
                 "of a sequence on the optimizer passed here", op, i, kind_names[p->kind]);
        return false;
    }
    if (p->kind == DZ_SCHEDULER_SEQUENTIAL || p->owner) {
        dz_raise(DZ_ERR_VALUE, "%s: schedulers[%d] is %s; a sequence takes StepLR, ExponentialLR, "
                 "CosineAnnealingLR and LinearLR that no other sequence owns", op, i,
                 p->owner ? "owned by another SequentialLR" : "a SequentialLR");
        return false;
    }
    for (int j = 0; j < i; j++) {
        if (parts[j] == p) {
            dz_raise(DZ_ERR_VALUE, "%s: schedulers[%d] and schedulers[%d] are the same scheduler; create one per "
                     "part", op, j, i);
            return false;
        }
    }
    return true;
}

static bool check_sequence(const char *op, const dz_optimizer *opt, int n, dz_scheduler *const *parts,
                           const int64_t *milestones)
{
    if (!check_opt(op, opt))
        return false;
    if (n < 1 || !parts || (n > 1 && !milestones)) {
        dz_raise(n < 1 ? DZ_ERR_VALUE : DZ_ERR_NULL, "%s: %s", op,
                 n < 1 ? "n must be 1 or more (the number of schedulers)"
                       : !parts ? "schedulers is NULL" : "milestones is NULL (n - 1 are needed)");
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!check_part(op, opt, parts, i))
            return false;
    for (int i = 0; i < n - 1; i++) {
        if (milestones[i] < 1 || (i > 0 && milestones[i] <= milestones[i - 1])) {
            dz_raise(DZ_ERR_VALUE, "%s: milestones[%d] is %lld; milestones must be 1 or more and increasing", op, i,
                     (long long)milestones[i]);
            return false;
        }
    }
    return true;
}

dz_scheduler *dz_sequential_lr_new(dz_optimizer *opt, int n, dz_scheduler *const *schedulers,
                                   const int64_t *milestones)
{
    if (!check_sequence("dz_sequential_lr_new", opt, n, schedulers, milestones))
        return NULL;
    dz_scheduler *s = dz_xcalloc(1, sizeof *s);
    *s = (dz_scheduler){.kind = DZ_SCHEDULER_SEQUENTIAL, .opt = opt, .base_lr = opt->initial_lr, .nchildren = n};
    s->children = dz_xcalloc((size_t)n, sizeof *s->children);
    s->milestones = dz_xcalloc((size_t)n, sizeof *s->milestones);
    memcpy(s->children, schedulers, (size_t)n * sizeof *s->children);
    if (n > 1)
        memcpy(s->milestones, milestones, (size_t)(n - 1) * sizeof *s->milestones);
    opt->lr = opt->initial_lr; /* undo the parts' first steps */
    for (int i = 0; i < n; i++) {
        s->children[i]->owner = s;
        s->children[i]->last_epoch--;
    }
    s->children[0]->step_count = 0;
    step_recursive(s->children[0]);
    s->last_lr = s->children[0]->last_lr;
    return s;
}

/* ---- use ---- */

static bool check_scheduler(const char *op, const dz_scheduler *s)
{
    if (!s)
        dz_raise(DZ_ERR_NULL, "%s: the scheduler is NULL", op);
    return s != NULL;
}

dz_status dz_scheduler_step(dz_scheduler *s)
{
    const char *op = "dz_scheduler_step";
    if (!check_scheduler(op, s))
        return DZ_ERR_NULL;
    if (s->owner)
        return dz_raise(DZ_ERR_STATE, "%s: this %s is part of a SequentialLR, which steps it; step the "
                        "SequentialLR instead", op, kind_names[s->kind]);
    if (s->kind == DZ_SCHEDULER_SEQUENTIAL)
        step_sequential(s);
    else
        step_recursive(s);
    return DZ_OK;
}

double dz_scheduler_lr(const dz_scheduler *s)
{
    return check_scheduler("dz_scheduler_lr", s) ? s->last_lr : 0;
}

int64_t dz_scheduler_last_epoch(const dz_scheduler *s)
{
    return check_scheduler("dz_scheduler_last_epoch", s) ? s->last_epoch : -1;
}

const char *dz_scheduler_name(const dz_scheduler *s)
{
    return check_scheduler("dz_scheduler_name", s) ? kind_names[s->kind] : NULL;
}

static void free_tree(dz_scheduler *s)
{
    for (int i = 0; i < s->nchildren; i++)
        free_tree(s->children[i]);
    free(s->children);
    free(s->milestones);
    free(s);
}

void dz_scheduler_free(dz_scheduler *s)
{
    if (!s)
        return;
    if (s->owner) {
        dz_raise(DZ_ERR_STATE, "dz_scheduler_free: this %s is part of a SequentialLR, which frees it; free the "
                 "SequentialLR instead", kind_names[s->kind]);
        return;
    }
    free_tree(s);
}
