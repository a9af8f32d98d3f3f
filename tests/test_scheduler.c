/* Learning-rate schedulers: every value of 30 steps equal, bit for bit, to
 * torch.optim.lr_scheduler's (fixtures/scheduler_golden.h), the optimizer's
 * lr following the schedule, a set_lr carrying into the recursive forms, and
 * the ownership rules of SequentialLR. */
#include <stdio.h>
#include <string.h>

#include "fixtures/scheduler_golden.h"
#include "test_common.h"

static dz_optimizer *make_sgd(double lr)
{
    dz_sgd_config c = dz_sgd_defaults();
    c.lr = lr;
    dz_optimizer *opt = dz_sgd_new(&c);
    ck_assert_ptr_nonnull(opt);
    return opt;
}

static dz_scheduler *make_part(dz_optimizer *opt, const golden_part *p)
{
    if (strcmp(p->kind, "step") == 0)
        return dz_step_lr_new(opt, p->n, p->a);
    if (strcmp(p->kind, "exponential") == 0)
        return dz_exponential_lr_new(opt, p->a);
    if (strcmp(p->kind, "cosine") == 0)
        return dz_cosine_annealing_lr_new(opt, p->n, p->a);
    ck_assert_str_eq(p->kind, "linear");
    return dz_linear_lr_new(opt, p->a, p->b, p->n);
}

static dz_scheduler *make_schedule(dz_optimizer *opt, const golden_schedule *g)
{
    dz_scheduler *parts[3];
    for (int i = 0; i < g->nparts; i++) {
        parts[i] = make_part(opt, &g->parts[i]);
        ck_assert_ptr_nonnull(parts[i]);
    }
    if (g->nparts == 1)
        return parts[0];
    dz_scheduler *s = dz_sequential_lr_new(opt, g->nparts, parts, g->milestones);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void assert_lr(const char *name, int step, double got, double want)
{
    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s, step %d: lr %a (%.17g), PyTorch %a (%.17g)", name, step,
                  got, got, want, want);
}

START_TEST(test_matches_pytorch)
{
    const golden_schedule *g = &golden_schedules[_i];
    dz_optimizer *opt = make_sgd(g->lr0);
    dz_scheduler *s = make_schedule(opt, g);
    for (int step = 0; step <= GOLDEN_SCHEDULER_STEPS; step++) {
        if (step > 0)
            ck_assert_int_eq(dz_scheduler_step(s), DZ_OK);
        ck_assert_int_eq(dz_scheduler_last_epoch(s), step);
        assert_lr(g->name, step, dz_scheduler_lr(s), g->lrs[step]);
        assert_lr(g->name, step, dz_optimizer_lr(opt), g->lrs[step]);
    }
    dz_scheduler_free(s);
    dz_optimizer_free(opt);
}
END_TEST

/* One step of s: the schedule's lr and the optimizer's are then `lr`. */
static void assert_step(dz_scheduler *s, dz_optimizer *opt, double lr)
{
    ck_assert_int_eq(dz_scheduler_step(s), DZ_OK);
    ck_assert_double_eq(dz_scheduler_lr(s), lr);
    ck_assert_double_eq(dz_optimizer_lr(opt), lr);
}

/* The recursive forms build on the optimizer's current lr, as PyTorch's:
 * halving it between two ExponentialLR steps halves every later value. */
START_TEST(test_set_lr_carries_into_the_schedule)
{
    dz_optimizer *opt = make_sgd(0.1);
    dz_scheduler *s = dz_exponential_lr_new(opt, 0.5);
    assert_step(s, opt, 0.05);
    dz_optimizer_set_lr(opt, 0.02);
    assert_step(s, opt, 0.01);
    dz_scheduler_free(s);
    dz_optimizer_free(opt);
}
END_TEST

START_TEST(test_names_and_counters)
{
    dz_optimizer *opt = make_sgd(0.1);
    dz_scheduler *warmup = dz_linear_lr_new(opt, 0.5, 1.0, 2);
    dz_scheduler *cosine = dz_cosine_annealing_lr_new(opt, 4, 0.0);
    ck_assert_str_eq(dz_scheduler_name(warmup), "LinearLR");
    ck_assert_str_eq(dz_scheduler_name(cosine), "CosineAnnealingLR");
    ck_assert_double_eq(dz_optimizer_lr(opt), 0.05); /* the LinearLR's first step; the cosine keeps it */
    dz_scheduler *parts[] = {warmup, cosine};
    dz_scheduler *seq = dz_sequential_lr_new(opt, 2, parts, (const int64_t[]){2});
    ck_assert_str_eq(dz_scheduler_name(seq), "SequentialLR");
    ck_assert_int_eq(dz_scheduler_last_epoch(seq), 0);
    ck_assert_double_eq(dz_scheduler_lr(seq), 0.05);
    ck_assert_int_eq(dz_scheduler_step(seq), DZ_OK);
    ck_assert_double_eq_tol(dz_scheduler_lr(seq), 0.075, 1e-16);
    assert_step(seq, opt, 0.1); /* milestone: the cosine restarts at the base lr */
    ck_assert_int_eq(dz_scheduler_last_epoch(seq), 2);
    ck_assert_int_eq(dz_scheduler_last_epoch(cosine), 0);
    dz_scheduler_free(seq);
    dz_optimizer_free(opt);
}
END_TEST

/* Parts of a SequentialLR are stepped and freed by it; a failed sequence
 * leaves them the caller's. */
START_TEST(test_sequence_ownership)
{
    tc_errors_off();
    dz_optimizer *opt = make_sgd(0.1), *other = make_sgd(0.1);
    dz_scheduler *a = dz_exponential_lr_new(opt, 0.9), *b = dz_step_lr_new(opt, 2, 0.5);
    dz_scheduler *foreign = dz_exponential_lr_new(other, 0.9);
    ck_assert_ptr_null(dz_sequential_lr_new(opt, 2, (dz_scheduler *[]){a, foreign}, (const int64_t[]){3}));
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_VALUE);
    ck_assert_ptr_null(dz_sequential_lr_new(opt, 2, (dz_scheduler *[]){a, a}, (const int64_t[]){3}));
    ck_assert_ptr_null(dz_sequential_lr_new(opt, 3, (dz_scheduler *[]){a, b, foreign}, (const int64_t[]){3, 3}));
    dz_scheduler *seq = dz_sequential_lr_new(opt, 2, (dz_scheduler *[]){a, b}, (const int64_t[]){3});
    ck_assert_ptr_nonnull(seq);
    ck_assert_int_eq(dz_scheduler_step(a), DZ_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "step the SequentialLR"));
    dz_clear_error();
    dz_scheduler_free(b); /* refused: the sequence frees it */
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "dz_scheduler_free: this StepLR is part of a SequentialLR"));
    ck_assert_ptr_null(dz_sequential_lr_new(opt, 1, (dz_scheduler *[]){a}, NULL));
    dz_scheduler_free(seq);
    dz_scheduler_free(foreign);
    dz_optimizer_free(opt);
    dz_optimizer_free(other);
    tc_errors_on();
}
END_TEST

static Suite *scheduler_suite(void)
{
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("core");
    int n = (int)(sizeof golden_schedules / sizeof *golden_schedules);
    tcase_add_loop_test(tc, test_matches_pytorch, 0, n);
    tcase_add_test(tc, test_set_lr_carries_into_the_schedule);
    tcase_add_test(tc, test_names_and_counters);
    tcase_add_test(tc, test_sequence_ownership);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(scheduler_suite()); }
