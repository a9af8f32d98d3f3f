/* Bad-argument cases: learning-rate schedulers and checkpoints. */
#include <math.h>

#include "bad_args.h"

static dz_optimizer *sgd(void)
{
    return dz_sgd_new(NULL);
}

static void step_lr_new(void)
{
    dz_optimizer *opt = sgd();
    EXPECT_NULL(dz_step_lr_new(NULL, 2, 0.5), DZ_ERR_NULL);
    EXPECT_NULL(dz_step_lr_new(opt, 0, 0.5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_step_lr_new(opt, 2, -0.5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_step_lr_new(opt, 2, NAN), DZ_ERR_VALUE);
    dz_optimizer_free(opt);
}

static void exponential_lr_new(void)
{
    dz_optimizer *opt = sgd();
    EXPECT_NULL(dz_exponential_lr_new(NULL, 0.9), DZ_ERR_NULL);
    EXPECT_NULL(dz_exponential_lr_new(opt, INFINITY), DZ_ERR_VALUE);
    EXPECT_NULL(dz_exponential_lr_new(opt, -1), DZ_ERR_VALUE);
    dz_optimizer_free(opt);
}

static void cosine_annealing_lr_new(void)
{
    dz_optimizer *opt = sgd();
    EXPECT_NULL(dz_cosine_annealing_lr_new(NULL, 10, 0), DZ_ERR_NULL);
    EXPECT_NULL(dz_cosine_annealing_lr_new(opt, 0, 0), DZ_ERR_VALUE);
    EXPECT_NULL(dz_cosine_annealing_lr_new(opt, 10, -1e-3), DZ_ERR_VALUE);
    dz_optimizer_free(opt);
}

static void linear_lr_new(void)
{
    dz_optimizer *opt = sgd();
    EXPECT_NULL(dz_linear_lr_new(NULL, 0.5, 1.0, 5), DZ_ERR_NULL);
    EXPECT_NULL(dz_linear_lr_new(opt, 0.0, 1.0, 5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_lr_new(opt, 1.5, 1.0, 5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_lr_new(opt, 0.5, -0.1, 5), DZ_ERR_VALUE);
    EXPECT_NULL(dz_linear_lr_new(opt, 0.5, 1.0, 0), DZ_ERR_VALUE);
    dz_optimizer_free(opt);
}

static void sequential_lr_new(void)
{
    dz_optimizer *opt = sgd(), *other = sgd();
    dz_scheduler *a = dz_linear_lr_new(opt, 0.5, 1.0, 2), *b = dz_exponential_lr_new(opt, 0.9);
    dz_scheduler *foreign = dz_exponential_lr_new(other, 0.9);
    dz_scheduler *ab[] = {a, b}, *with_null[] = {a, NULL}, *with_foreign[] = {a, foreign}, *twice[] = {a, a};
    const int64_t ms[] = {3}, zero[] = {0};
    EXPECT_NULL(dz_sequential_lr_new(NULL, 2, ab, ms), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_lr_new(opt, 0, ab, ms), DZ_ERR_VALUE);
    EXPECT_NULL(dz_sequential_lr_new(opt, 2, NULL, ms), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_lr_new(opt, 2, ab, NULL), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_lr_new(opt, 2, with_null, ms), DZ_ERR_NULL);
    EXPECT_NULL(dz_sequential_lr_new(opt, 2, with_foreign, ms), DZ_ERR_VALUE);
    EXPECT_NULL(dz_sequential_lr_new(opt, 2, twice, ms), DZ_ERR_VALUE);
    EXPECT_NULL(dz_sequential_lr_new(opt, 2, ab, zero), DZ_ERR_VALUE);
    dz_scheduler *seq = dz_sequential_lr_new(opt, 2, ab, ms);
    BAD_ARGS_CHECK(seq != NULL);
    dz_scheduler *nested[] = {seq};
    EXPECT_NULL(dz_sequential_lr_new(opt, 1, nested, NULL), DZ_ERR_VALUE);
    dz_scheduler *owned[] = {b};
    EXPECT_NULL(dz_sequential_lr_new(opt, 1, owned, NULL), DZ_ERR_VALUE);
    dz_scheduler_free(seq);
    dz_scheduler_free(foreign);
    dz_optimizer_free(opt);
    dz_optimizer_free(other);
}

static void scheduler_step(void)
{
    dz_optimizer *opt = sgd();
    dz_scheduler *a = dz_exponential_lr_new(opt, 0.9), *parts[] = {a};
    dz_scheduler *seq = dz_sequential_lr_new(opt, 1, parts, NULL);
    EXPECT_STATUS(dz_scheduler_step(NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_scheduler_step(a), DZ_ERR_STATE); /* its sequence steps it */
    dz_scheduler_free(seq);
    dz_optimizer_free(opt);
}

static void scheduler_lr(void)
{
    EXPECT_VALUE(dz_scheduler_lr(NULL), 0, DZ_ERR_NULL);
}

static void scheduler_last_epoch(void)
{
    EXPECT_VALUE(dz_scheduler_last_epoch(NULL), -1, DZ_ERR_NULL);
}

static void scheduler_name(void)
{
    EXPECT_NULL(dz_scheduler_name(NULL), DZ_ERR_NULL);
}

static void scheduler_free(void)
{
    EXPECT_QUIET(dz_scheduler_free(NULL));
    dz_optimizer *opt = sgd();
    dz_scheduler *a = dz_exponential_lr_new(opt, 0.9), *parts[] = {a};
    dz_scheduler *seq = dz_sequential_lr_new(opt, 1, parts, NULL);
    EXPECT_RAISED(dz_scheduler_free(a), DZ_ERR_STATE); /* its sequence frees it */
    dz_scheduler_free(seq);
    dz_optimizer_free(opt);
}

/* A model, an optimizer set up on it and a sequence on the optimizer. */
typedef struct {
    dz_layer *model;
    dz_optimizer *opt, *other;
    dz_scheduler *part, *seq;
} training;

static training make_training(void)
{
    training t = {.model = dz_model_new(), .opt = sgd(), .other = sgd()};
    dz_layer_add_child(t.model, "l", dz_linear_layer_new(2, 3, false, DZ_F32, NULL));
    dz_optimizer_setup(t.opt, t.model);
    t.part = dz_exponential_lr_new(t.opt, 0.9);
    dz_scheduler *parts[] = {t.part};
    t.seq = dz_sequential_lr_new(t.opt, 1, parts, NULL);
    return t;
}

static void free_training(training *t)
{
    dz_scheduler_free(t->seq);
    dz_optimizer_free(t->opt);
    dz_optimizer_free(t->other);
    dz_layer_free(t->model);
}

static void checkpoint_save(void)
{
    training t = make_training();
    const char *path = "/nonexistent-dir/run.ckpt.npz";
    dz_checkpoint c = {.model = t.model, .optimizer = t.opt, .scheduler = t.seq};
    EXPECT_STATUS(dz_checkpoint_save(NULL, &c), DZ_ERR_NULL);
    EXPECT_STATUS(dz_checkpoint_save(path, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_checkpoint_save(path, &(dz_checkpoint){.optimizer = t.opt}), DZ_ERR_NULL);
    EXPECT_STATUS(dz_checkpoint_save(path, &(dz_checkpoint){.model = t.model, .scheduler = t.seq}), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_checkpoint_save(path, &(dz_checkpoint){.model = t.model, .optimizer = t.other,
                                                            .scheduler = t.seq}), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_checkpoint_save(path, &(dz_checkpoint){.model = t.model, .optimizer = t.opt,
                                                            .scheduler = t.part}), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_checkpoint_save(path, &c), DZ_ERR_IO);
    free_training(&t);
}

static void checkpoint_load(void)
{
    training t = make_training();
    const char *path = "/nonexistent-dir/run.ckpt.npz";
    dz_checkpoint c = {.model = t.model, .optimizer = t.opt, .scheduler = t.seq};
    EXPECT_STATUS(dz_checkpoint_load(NULL, &c), DZ_ERR_NULL);
    EXPECT_STATUS(dz_checkpoint_load(path, NULL), DZ_ERR_NULL);
    EXPECT_STATUS(dz_checkpoint_load(path, &(dz_checkpoint){.rng = dz_rng_default()}), DZ_ERR_NULL);
    EXPECT_STATUS(dz_checkpoint_load(path, &(dz_checkpoint){.model = t.model, .scheduler = t.seq}), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_checkpoint_load(path, &(dz_checkpoint){.model = t.model, .optimizer = t.opt,
                                                            .scheduler = t.part}), DZ_ERR_VALUE);
    EXPECT_STATUS(dz_checkpoint_load(path, &(dz_checkpoint){.model = t.model, .optimizer = t.other}), DZ_ERR_STATE);
    EXPECT_STATUS(dz_checkpoint_load(path, &c), DZ_ERR_IO);
    free_training(&t);
}

const bad_args_case bad_args_sched[] = {
    {"dz_step_lr_new", step_lr_new},
    {"dz_exponential_lr_new", exponential_lr_new},
    {"dz_cosine_annealing_lr_new", cosine_annealing_lr_new},
    {"dz_linear_lr_new", linear_lr_new},
    {"dz_sequential_lr_new", sequential_lr_new},
    {"dz_scheduler_step", scheduler_step},
    {"dz_scheduler_lr", scheduler_lr},
    {"dz_scheduler_last_epoch", scheduler_last_epoch},
    {"dz_scheduler_name", scheduler_name},
    {"dz_scheduler_free", scheduler_free},
    {"dz_checkpoint_save", checkpoint_save},
    {"dz_checkpoint_load", checkpoint_load},
    BAD_ARGS_END,
};
