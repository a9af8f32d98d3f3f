/* Checkpoints: a run interrupted (at an epoch boundary or mid-epoch), saved,
 * freed, rebuilt from other seeds and resumed from the file ends with the
 * same weights, optimizer state, learning rate, generator and losses as the
 * run that never stopped, bit for bit; NumPy reads the file; and every bad
 * load (wrong model, optimizer or scheduler, another loader, a truncated or
 * foreign file) fails with a message and changes nothing. A lazy model
 * whose parameters are not created yet takes them from the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"

#define EPOCHS 6
#define BATCH 30
#define STEPS_PER_EPOCH (300 / BATCH)
#define TOTAL_STEPS (EPOCHS * STEPS_PER_EPOCH)
#define WARMUP 8

static char dir[] = "/tmp/dz_checkpoint_XXXXXX";

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/dz_checkpoint_XXXXXX");
}

static const char *path_in_dir(const char *name)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

/* A training run: an MLP 2 -> hidden -> 3 with dropout on the spiral, Adam,
 * a warm-up then cosine schedule stepped per update, a shuffling loader; one
 * generator for the init, the dropout masks and the shuffles. */
typedef struct {
    dz_rng rng;
    dz_array *x, *t;
    dz_layer *model;
    dz_optimizer *opt;
    dz_scheduler *sched;
    dz_dataloader *loader;
    int64_t epoch, step;
    float losses[TOTAL_STEPS];
} run;

static void run_build(run *r, uint64_t seed, int64_t hidden, bool use_sgd, int64_t batch)
{
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(dz_dataset_spiral(1, &r->x, &r->t), DZ_OK);
    dz_rng_seed(&r->rng, seed);
    r->model = dz_model_new();
    dz_layer_add_child(r->model, "l1", dz_linear_layer_new(hidden, 2, false, DZ_F32, &r->rng));
    dz_layer_add_child(r->model, "l2", dz_linear_layer_new(3, hidden, false, DZ_F32, &r->rng));
    if (use_sgd) {
        dz_sgd_config c = dz_sgd_defaults();
        c.momentum = 0.9;
        r->opt = dz_sgd_new(&c);
    } else {
        dz_adam_config c = dz_adam_defaults();
        c.lr = 0.05;
        r->opt = dz_adam_new(&c);
    }
    ck_assert_int_eq(dz_optimizer_setup(r->opt, r->model), DZ_OK);
    dz_scheduler *parts[] = {dz_linear_lr_new(r->opt, 0.1, 1.0, WARMUP),
                             dz_cosine_annealing_lr_new(r->opt, TOTAL_STEPS - WARMUP, 1e-4)};
    r->sched = dz_sequential_lr_new(r->opt, 2, parts, (const int64_t[]){WARMUP});
    ck_assert_ptr_nonnull(r->sched);
    r->loader = dz_dataloader_new(r->x, r->t, batch, true, &r->rng);
    ck_assert_ptr_nonnull(r->loader);
}

static void run_free(run *r)
{
    dz_dataloader_free(r->loader);
    dz_scheduler_free(r->sched);
    dz_optimizer_free(r->opt);
    dz_layer_free(r->model);
    dz_array_release(r->x);
    dz_array_release(r->t);
}

static float train_step(run *r, dz_array *xb, dz_array *tb)
{
    dz_scope_begin();
    dz_variable *h = dz_relu(dz_layer_call(dz_layer_child(r->model, "l1"), dz_variable_new(xb, NULL)));
    dz_variable *y = dz_layer_call(dz_layer_child(r->model, "l2"), dz_dropout(h, 0.2, &r->rng));
    dz_variable *loss = dz_softmax_cross_entropy(y, dz_variable_new(tb, NULL));
    dz_layer_cleargrads(r->model);
    ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
    ck_assert_int_eq(dz_optimizer_update(r->opt), DZ_OK);
    ck_assert_int_eq(dz_scheduler_step(r->sched), DZ_OK);
    float value = (float)dz_array_get(loss->data, 0);
    dz_scope_end();
    return value;
}

/* Trains until `stop_step` updates in all (or the end of the last epoch). */
static void run_train(run *r, int64_t stop_step)
{
    for (; r->epoch < EPOCHS; r->epoch++) {
        dz_array *xb, *tb;
        while (r->step < stop_step && dz_dataloader_next(r->loader, &xb, &tb)) {
            r->losses[r->step++] = train_step(r, xb, tb);
        }
        if (r->step == stop_step && r->step % STEPS_PER_EPOCH != 0)
            return; /* mid-epoch: this epoch goes on after the resume */
        if (r->step == stop_step) {
            ck_assert(!dz_dataloader_next(r->loader, &xb, &tb)); /* end the epoch: the loader reshuffles */
            r->epoch++;
            return;
        }
    }
}

/* Saves c as `name` in the test's directory; returns the path. */
static const char *save_in_dir(dz_checkpoint c, const char *name)
{
    const char *path = path_in_dir(name);
    ck_assert_int_eq(dz_checkpoint_save(path, &c), DZ_OK);
    return path;
}

static dz_checkpoint checkpoint_of(run *r)
{
    return (dz_checkpoint){.model = r->model, .optimizer = r->opt, .scheduler = r->sched, .rng = &r->rng,
                           .loader = r->loader, .epoch = r->epoch, .step = r->step};
}

static void assert_same_array(const char *what, const dz_array *a, const dz_array *b)
{
    ck_assert_msg(a && b, "%s: missing", what);
    ck_assert_msg(a->dtype == b->dtype && dz_array_same_shape(a, b), "%s: dtype or shape differs", what);
    ck_assert_msg(memcmp(a->data, b->data, (size_t)a->size * dz_dtype_size(a->dtype)) == 0, "%s differs", what);
}

/* The same weights, and the same Adam steps and moments, in two models of
 * the same parameters and their optimizers. */
static void assert_same_weights(dz_layer *model_a, dz_optimizer *opt_a, dz_layer *model_b, dz_optimizer *opt_b)
{
    dz_param_list *pa = dz_layer_params(model_a), *pb = dz_layer_params(model_b);
    ck_assert_int_eq(pa->count, pb->count);
    for (int i = 0; i < pa->count; i++) {
        assert_same_array(pa->paths[i], pa->params[i]->data, pb->params[i]->data);
        ck_assert_int_eq(dz_optimizer_step_count(opt_a, i), dz_optimizer_step_count(opt_b, i));
        assert_same_array("exp_avg", dz_optimizer_state(opt_a, i, "exp_avg"),
                          dz_optimizer_state(opt_b, i, "exp_avg"));
        assert_same_array("exp_avg_sq", dz_optimizer_state(opt_a, i, "exp_avg_sq"),
                          dz_optimizer_state(opt_b, i, "exp_avg_sq"));
    }
    dz_param_list_free(pa);
    dz_param_list_free(pb);
}

static void assert_same_run(run *a, run *b)
{
    ck_assert_int_eq(a->step, b->step);
    ck_assert_msg(memcmp(a->losses, b->losses, sizeof a->losses) == 0, "losses differ");
    assert_same_weights(a->model, a->opt, b->model, b->opt);
    double lra = dz_optimizer_lr(a->opt), lrb = dz_optimizer_lr(b->opt);
    ck_assert_msg(memcmp(&lra, &lrb, sizeof lra) == 0, "lr %a vs %a", lra, lrb);
    ck_assert_int_eq(dz_scheduler_last_epoch(a->sched), dz_scheduler_last_epoch(b->sched));
    ck_assert_msg(memcmp(&a->rng, &b->rng, sizeof a->rng) == 0, "generators differ");
}

/* Train EPOCHS epochs in one go; then train to `stop`, save, free
 * everything, rebuild from other seeds, load and finish. */
static void check_resume(int64_t stop)
{
    run *full = calloc(1, sizeof *full), *part = calloc(1, sizeof *part);
    run_build(full, 7, 16, false, BATCH);
    run_train(full, TOTAL_STEPS);
    ck_assert_int_eq(full->step, TOTAL_STEPS);

    run_build(part, 7, 16, false, BATCH);
    run_train(part, stop);
    ck_assert_int_eq(part->step, stop);
    float losses[TOTAL_STEPS];
    memcpy(losses, part->losses, sizeof losses);
    dz_checkpoint c = checkpoint_of(part);
    const char *path = save_in_dir(c, "run.ckpt.npz");
    run_free(part);

    run_build(part, 12345, 16, false, BATCH); /* other weights, other generator state */
    memcpy(part->losses, losses, sizeof losses);
    dz_checkpoint r = checkpoint_of(part);
    r.epoch = r.step = -1;
    ck_assert_int_eq(dz_checkpoint_load(path, &r), DZ_OK);
    ck_assert_int_eq(r.step, stop);
    ck_assert_int_eq(r.epoch, c.epoch);
    part->epoch = r.epoch;
    part->step = r.step;
    run_train(part, TOTAL_STEPS);
    assert_same_run(full, part);
    run_free(full);
    run_free(part);
    free(full);
    free(part);
}

START_TEST(test_resume_at_epoch_boundary)
{
    check_resume(3 * STEPS_PER_EPOCH);
}
END_TEST

START_TEST(test_resume_mid_epoch)
{
    check_resume(3 * STEPS_PER_EPOCH + 4);
}
END_TEST

/* In the warm-up: the SequentialLR's first part is the one stepping. */
START_TEST(test_resume_in_warmup)
{
    check_resume(WARMUP - 3);
}
END_TEST

START_TEST(test_numpy_reads_checkpoint)
{
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        printf("note: /usr/bin/python3 with numpy not found; NumPy cross-check not run\n");
        return;
    }
    run *r = calloc(1, sizeof *r);
    run_build(r, 7, 16, false, BATCH);
    run_train(r, 13);
    const char *path = save_in_dir(checkpoint_of(r), "np.ckpt.npz");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; z = np.load('%s'); k = sorted(z.files); "
             "want = sorted(['format_version', 'epoch', 'step', 'model/l1/W', 'model/l1/b', 'model/l2/W', "
             "'model/l2/b', 'optimizer/type', 'optimizer/param_groups/lr'] + "
             "['optimizer/state/%%s/%%s' %% (p, n) for p in ('l1/W', 'l1/b', 'l2/W', 'l2/b') "
             "for n in ('exp_avg', 'exp_avg_sq', 'step')] + "
             "[p + n for p in ('scheduler/', 'scheduler/0/', 'scheduler/1/') "
             "for n in ('type', 'hyper', 'base_lr', 'last_lr', 'last_epoch', 'step_count')] + "
             "['scheduler/milestones', 'rng/state', 'rng/spare_normal', 'rng/has_spare', 'loader/order', "
             "'loader/position', 'loader/batch_size']); "
             "assert k == want, (k, want); "
             "assert int(z['format_version']) == 1 and int(z['step']) == 13 and int(z['epoch']) == 1; "
             "assert bytes(z['optimizer/type']).decode() == 'Adam'; "
             "assert bytes(z['scheduler/type']).decode() == 'SequentialLR'; "
             "assert bytes(z['scheduler/1/type']).decode() == 'CosineAnnealingLR'; "
             "assert list(z['rng/state'].view(np.uint64)) == [%llu, %llu, %llu, %llu]; "
             "assert z['model/l1/W'].shape == (2, 16) and z['model/l1/W'].dtype == np.float32; "
             "assert float(z['scheduler/last_lr']) == float.fromhex('%a'); "
             "assert sorted(z['loader/order']) == list(range(300)) and int(z['loader/position']) == 90\"",
             path, (unsigned long long)r->rng.s[0], (unsigned long long)r->rng.s[1],
             (unsigned long long)r->rng.s[2], (unsigned long long)r->rng.s[3], dz_scheduler_lr(r->sched));
    ck_assert_int_eq(system(cmd), 0);
    run_free(r);
    free(r);
}
END_TEST

/* ---- a lazy model: its parameters are created by the load ---- */

#define LAZY_STEPS 20

/* An MLP 2 -> 16 -> 3 with lazy input sizes (created at the first forward),
 * Adam, a shuffling loader, one generator. */
typedef struct {
    dz_rng rng;
    dz_array *x, *t;
    dz_layer *model;
    dz_optimizer *opt;
    dz_dataloader *loader;
    int64_t step;
} lazy_run;

static void lazy_build(lazy_run *r, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(dz_dataset_spiral(1, &r->x, &r->t), DZ_OK);
    dz_rng_seed(&r->rng, seed);
    r->model = dz_mlp_new(2, (const int64_t[]){16, 3}, dz_relu, DZ_F32, &r->rng);
    dz_adam_config c = dz_adam_defaults();
    c.lr = 0.05;
    r->opt = dz_adam_new(&c);
    ck_assert_int_eq(dz_optimizer_setup(r->opt, r->model), DZ_OK);
    r->loader = dz_dataloader_new(r->x, r->t, BATCH, true, &r->rng);
    ck_assert_ptr_nonnull(r->loader);
}

static void lazy_free(lazy_run *r)
{
    dz_dataloader_free(r->loader);
    dz_optimizer_free(r->opt);
    dz_layer_free(r->model);
    dz_array_release(r->x);
    dz_array_release(r->t);
}

static void lazy_train(lazy_run *r, int64_t stop_step)
{
    for (; r->step < stop_step; r->step++) {
        dz_array *xb, *tb;
        if (!dz_dataloader_next(r->loader, &xb, &tb)) /* the epoch ended: the next one starts */
            ck_assert(dz_dataloader_next(r->loader, &xb, &tb));
        dz_scope_begin();
        dz_variable *y = dz_layer_call(r->model, dz_variable_new(xb, NULL));
        dz_variable *loss = dz_softmax_cross_entropy(y, dz_variable_new(tb, NULL));
        dz_layer_cleargrads(r->model);
        ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
        ck_assert_int_eq(dz_optimizer_update(r->opt), DZ_OK);
        dz_scope_end();
    }
}

static dz_checkpoint lazy_checkpoint_of(lazy_run *r)
{
    return (dz_checkpoint){.model = r->model, .optimizer = r->opt, .rng = &r->rng, .loader = r->loader,
                           .step = r->step};
}

/* The weights are not created yet (the biases are, from the output sizes). */
static void assert_uncreated(const dz_layer *model)
{
    dz_param_list *list = dz_layer_params(model);
    ck_assert_int_eq(list->count, 4);
    for (int i = 0; i < list->count; i++)
        ck_assert_msg(!list->params[i]->data == (strstr(list->paths[i], "/W") != NULL), "%s: %s", list->paths[i],
                      list->params[i]->data ? "created" : "not created");
    dz_param_list_free(list);
}

/* A fresh lazy model and an optimizer set up on it load a checkpoint with no
 * forward pass first, and go on as the run that never stopped. */
START_TEST(test_resume_lazy_model)
{
    lazy_run full, part;
    lazy_build(&full, 7);
    lazy_train(&full, LAZY_STEPS);

    lazy_build(&part, 7);
    lazy_train(&part, 7);
    const char *path = save_in_dir(lazy_checkpoint_of(&part), "lazy.ckpt.npz");
    lazy_free(&part);

    lazy_build(&part, 12345);
    assert_uncreated(part.model);
    dz_checkpoint r = lazy_checkpoint_of(&part);
    ck_assert_int_eq(dz_checkpoint_load(path, &r), DZ_OK);
    part.step = r.step;
    ck_assert_int_eq(part.step, 7);
    ck_assert_int_eq(dz_optimizer_step_count(part.opt, 0), 7);
    lazy_train(&part, LAZY_STEPS);

    assert_same_weights(full.model, full.opt, part.model, part.opt);
    ck_assert_msg(memcmp(&full.rng, &part.rng, sizeof full.rng) == 0, "generators differ");
    lazy_free(&full);
    lazy_free(&part);
}
END_TEST

/* A load that fails after the model part was read (the optimizer state does
 * not fit) leaves the lazy parameters uncreated and the optimizer empty. */
START_TEST(test_failed_load_keeps_lazy_model)
{
    lazy_run r;
    lazy_build(&r, 7);
    lazy_train(&r, 5);
    const char *path = save_in_dir(lazy_checkpoint_of(&r), "lazy.ckpt.npz");
    lazy_free(&r);

    lazy_build(&r, 7);
    dz_optimizer_free(r.opt);
    dz_adam_config amsgrad = dz_adam_defaults();
    amsgrad.amsgrad = true;
    r.opt = dz_adam_new(&amsgrad);
    ck_assert_int_eq(dz_optimizer_setup(r.opt, r.model), DZ_OK);
    dz_checkpoint bad = lazy_checkpoint_of(&r);
    tc_errors_off();
    ck_assert_int_eq(dz_checkpoint_load(path, &bad), DZ_ERR_FORMAT);
    tc_errors_on();
    ck_assert_msg(strstr(dz_last_error(), "max_exp_avg_sq") && strstr(dz_last_error(), "missing"), "message '%s'",
                  dz_last_error());
    assert_uncreated(r.model);
    ck_assert_ptr_null(dz_optimizer_state(r.opt, 0, "exp_avg"));
    ck_assert_int_eq(dz_optimizer_step_count(r.opt, 0), 0);
    lazy_free(&r);
}
END_TEST

/* ---- failed loads change nothing ---- */

/* Everything a checkpoint of `r` holds, as a checkpoint file's arrays. */
static dz_npz *snapshot(run *r, const char *name)
{
    const char *path = save_in_dir(checkpoint_of(r), name);
    dz_npz *z = NULL;
    ck_assert_int_eq(dz_npz_load(path, &z), DZ_OK);
    return z;
}

static void assert_same_npz(const dz_npz *a, const dz_npz *b)
{
    ck_assert_int_eq(dz_npz_count(a), dz_npz_count(b));
    for (int i = 0; i < dz_npz_count(a); i++) {
        const char *name = dz_npz_name(a, i);
        assert_same_array(name, dz_npz_get(a, name), dz_npz_get(b, name));
    }
}

/* Loads `path` into `r` (built as the caller wants), expects `code` and a
 * message containing `text`, and checks that nothing changed. */
static void assert_refused(run *r, const char *path, dz_status code, const char *text)
{
    dz_npz *before = snapshot(r, "before.npz");
    dz_checkpoint c = checkpoint_of(r);
    c.epoch = c.step = 4242;
    tc_errors_off();
    dz_status status = dz_checkpoint_load(path, &c);
    tc_errors_on();
    ck_assert_msg(status == code, "status %d (%s), expected %d", status, dz_last_error(), code);
    ck_assert_msg(strstr(dz_last_error(), "dz_checkpoint_load") && strstr(dz_last_error(), text),
                  "message '%s' lacks '%s'", dz_last_error(), text);
    ck_assert_int_eq(c.epoch, 4242);
    ck_assert_int_eq(c.step, 4242);
    dz_npz *after = snapshot(r, "after.npz");
    assert_same_npz(before, after);
    dz_npz_free(before);
    dz_npz_free(after);
}

static const char *saved_checkpoint(void)
{
    run *r = calloc(1, sizeof *r);
    run_build(r, 7, 16, false, BATCH);
    run_train(r, 12);
    const char *path = save_in_dir(checkpoint_of(r), "good.ckpt.npz");
    run_free(r);
    free(r);
    return path;
}

/* A trained run other than the checkpoint's: its state must survive. */
static run *other_run(int64_t hidden, bool use_sgd, int64_t batch)
{
    run *r = calloc(1, sizeof *r);
    run_build(r, 99, hidden, use_sgd, batch);
    run_train(r, 5);
    return r;
}

static void free_run(run *r)
{
    run_free(r);
    free(r);
}

START_TEST(test_wrong_model)
{
    const char *path = saved_checkpoint();
    run *r = other_run(8, false, BATCH);
    assert_refused(r, path, DZ_ERR_SHAPE, "'model/l1/W' has shape (2, 16)");
    free_run(r);

    r = other_run(16, false, BATCH); /* a model with a third layer: a key is missing */
    dz_layer_add_child(r->model, "l3", dz_linear_layer_new(3, 3, false, DZ_F32, &r->rng));
    assert_refused(r, path, DZ_ERR_FORMAT, "no array 'model/l3/W'");
    free_run(r);

    /* a model without l2's bias: the file has an extra key */
    r = other_run(16, false, BATCH);
    dz_layer *small = dz_model_new();
    dz_layer_add_child(small, "l1", dz_linear_layer_new(16, 2, false, DZ_F32, &r->rng));
    dz_layer_add_child(small, "l2", dz_linear_layer_new(3, 16, true, DZ_F32, &r->rng));
    dz_checkpoint c = {.model = small};
    tc_errors_off();
    ck_assert_int_eq(dz_checkpoint_load(path, &c), DZ_ERR_FORMAT);
    tc_errors_on();
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "an array 'model/l2/b' that the model does not have"));
    dz_layer_free(small);
    free_run(r);
}
END_TEST

START_TEST(test_wrong_optimizer)
{
    const char *path = saved_checkpoint();
    run *r = other_run(16, true, BATCH);
    assert_refused(r, path, DZ_ERR_FORMAT, "the optimizer 'Adam' but the optimizer given is SGD");
    free_run(r);
}
END_TEST

START_TEST(test_wrong_scheduler_and_loader)
{
    const char *path = saved_checkpoint();
    run *r = other_run(16, false, BATCH);
    dz_scheduler_free(r->sched);
    r->sched = dz_exponential_lr_new(r->opt, 0.9);
    assert_refused(r, path, DZ_ERR_FORMAT, "the scheduler 'SequentialLR' but the scheduler given is ExponentialLR");
    free_run(r);

    r = other_run(16, false, 20);
    assert_refused(r, path, DZ_ERR_FORMAT, "batches of 30");
    free_run(r);
}
END_TEST

/* A SequentialLR is compared as a whole: parts with other hyperparameters
 * under the same milestones are refused, and so is a file whose SequentialLR
 * record differs while its milestones are the same. */
START_TEST(test_wrong_sequence_hyperparameters)
{
    const char *path = saved_checkpoint();
    run *r = other_run(16, false, BATCH);
    dz_scheduler_free(r->sched);
    dz_scheduler *parts[] = {dz_linear_lr_new(r->opt, 0.2, 1.0, WARMUP),
                             dz_cosine_annealing_lr_new(r->opt, TOTAL_STEPS - WARMUP, 1e-4)};
    r->sched = dz_sequential_lr_new(r->opt, 2, parts, (const int64_t[]){WARMUP});
    assert_refused(r, path, DZ_ERR_FORMAT, "the LinearLR in the checkpoint has other hyperparameters");
    free_run(r);

    dz_npz *z = NULL;
    ck_assert_int_eq(dz_npz_load(path, &z), DZ_OK);
    dz_array *hyper = dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(3), (const double[]){1, 2, 3});
    ck_assert_int_eq(dz_npz_add(z, "scheduler/hyper", hyper), DZ_OK);
    const char *edited = path_in_dir("edited.npz");
    ck_assert_int_eq(dz_npz_save(z, edited, false), DZ_OK);
    dz_array_release(hyper);
    dz_npz_free(z);
    r = other_run(16, false, BATCH);
    assert_refused(r, edited, DZ_ERR_FORMAT, "the SequentialLR in the checkpoint has other hyperparameters");
    free_run(r);
}
END_TEST

/* Parameter paths longer than a fixed buffer keep their whole name. */
START_TEST(test_long_parameter_paths)
{
    char name[301], key[320];
    memset(name, 'a', 300);
    name[300] = '\0';
    dz_layer *model = dz_model_new();
    dz_layer_add_child(model, name, dz_linear_layer_new(2, 3, false, DZ_F32, NULL));
    dz_checkpoint c = {.model = model};
    const char *path = path_in_dir("long.npz");
    ck_assert_int_eq(dz_checkpoint_save(path, &c), DZ_OK);
    dz_npz *z = NULL;
    ck_assert_int_eq(dz_npz_load(path, &z), DZ_OK);
    snprintf(key, sizeof key, "model/%s/W", name);
    ck_assert_ptr_nonnull(dz_npz_get(z, key));
    dz_npz_free(z);
    ck_assert_int_eq(dz_checkpoint_load(path, &c), DZ_OK);
    dz_layer_free(model);
}
END_TEST

START_TEST(test_truncated_and_foreign_files)
{
    const char *path = saved_checkpoint();
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char bytes[1 << 20];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    ck_assert(n > 1000 && n < sizeof bytes);
    const char *cut = path_in_dir("cut.npz");
    f = fopen(cut, "wb");
    ck_assert_uint_eq(fwrite(bytes, 1, n - 100, f), n - 100);
    fclose(f);
    run *r = other_run(16, false, BATCH);
    assert_refused(r, cut, DZ_ERR_FORMAT, "cut.npz");

    const char *weights = path_in_dir("weights.npz");
    ck_assert_int_eq(dz_layer_save_weights(r->model, weights, false), DZ_OK);
    assert_refused(r, weights, DZ_ERR_FORMAT, "not a checkpoint");
    assert_refused(r, path_in_dir("missing.npz"), DZ_ERR_IO, "missing.npz");

    /* saved without an optimizer, loaded with one */
    const char *model_only = save_in_dir((dz_checkpoint){.model = r->model}, "model_only.npz");
    assert_refused(r, model_only, DZ_ERR_FORMAT, "saved without optimizer state");
    free_run(r);
}
END_TEST

/* A failed save leaves the previous file as it was. */
START_TEST(test_failed_save_keeps_old_file)
{
    const char *path = saved_checkpoint();
    dz_npz *before = NULL;
    ck_assert_int_eq(dz_npz_load(path, &before), DZ_OK);
    dz_layer *lazy = dz_model_new();
    dz_layer_add_child(lazy, "l", dz_linear_layer_new(3, 0, false, DZ_F32, NULL));
    dz_checkpoint c = {.model = lazy};
    tc_errors_off();
    ck_assert_int_eq(dz_checkpoint_save(path, &c), DZ_ERR_STATE);
    tc_errors_on();
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "not initialised"));
    dz_npz *after = NULL;
    ck_assert_int_eq(dz_npz_load(path, &after), DZ_OK);
    assert_same_npz(before, after);
    dz_npz_free(before);
    dz_npz_free(after);
    dz_layer_free(lazy);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *resume = tcase_create("resume");
    tcase_add_checked_fixture(resume, setup, teardown);
    tcase_add_test(resume, test_resume_at_epoch_boundary);
    tcase_add_test(resume, test_resume_mid_epoch);
    tcase_add_test(resume, test_resume_in_warmup);
    tcase_add_test(resume, test_numpy_reads_checkpoint);
    tcase_add_test(resume, test_resume_lazy_model);
    suite_add_tcase(s, resume);
    TCase *bad = tcase_create("bad");
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_add_test(bad, test_wrong_model);
    tcase_add_test(bad, test_wrong_optimizer);
    tcase_add_test(bad, test_wrong_scheduler_and_loader);
    tcase_add_test(bad, test_truncated_and_foreign_files);
    tcase_add_test(bad, test_failed_save_keeps_old_file);
    tcase_add_test(bad, test_failed_load_keeps_lazy_model);
    tcase_add_test(bad, test_wrong_sequence_hyperparameters);
    tcase_add_test(bad, test_long_parameter_paths);
    suite_add_tcase(s, bad);
    return s;
}

int main(void) { return tc_run(checkpoint_suite()); }
