/* Training end to end: the PyTorch notebook's padding_idx + Adam experiment
 * on a real Embedding layer, sparse vs dense SGD on an Embedding, and
 * resuming from saved weights + optimizer state in a fresh process, which
 * must continue with bit-identical losses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_common.h"

static dz_variable *index_batch(const int64_t *values, int ndim, const int64_t *shape)
{
    int64_t n;
    dz_shape_size(ndim, shape, &n);
    return dz_variable_new(dz_array_from_buffer(DZ_I64, ndim, shape, values), NULL);
}

/* Embedding(10, 3, padding_idx=0), input [[0, 2, 0, 5]], loss = sum(output),
 * one Adam step with lr 0.1: rows 2 and 5 move by 0.1 in every component;
 * row 0 (padding) and the untouched rows stay. */
START_TEST(test_notebook_padding_adam)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_embedding_options opt = dz_embedding_default_options();
    opt.has_padding_idx = true;
    opt.padding_idx = 0;
    dz_layer *emb = dz_embedding_layer_new(10, 3, &opt, DZ_F32, &rng);
    dz_variable *W = dz_layer_param(emb, "W");
    dz_array *before = dz_array_copy(W->data);
    for (int j = 0; j < 3; j++)
        ck_assert_double_eq(dz_array_get(W->data, j), 0.0); /* the padding row starts at zero */
    dz_adam_config cfg = dz_adam_defaults();
    cfg.lr = 0.1;
    dz_optimizer *adam = dz_adam_new(&cfg);
    dz_optimizer_setup(adam, emb);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(emb, index_batch((const int64_t[]){0, 2, 0, 5}, 2, DZ_SHAPE(1, 4)));
    ck_assert_int_eq(y->data->ndim, 3);
    ck_assert_int_eq(dz_variable_backward(dz_sum(y, 0, NULL, false), false, false), DZ_OK);
    ck_assert_int_eq(dz_optimizer_update(adam), DZ_OK);
    dz_scope_end();
    for (int row = 0; row < 10; row++)
        for (int j = 0; j < 3; j++) {
            double moved = dz_array_get(before, row * 3 + j) - dz_array_get(W->data, row * 3 + j);
            if (row == 2 || row == 5)
                ck_assert_msg(fabs(moved - 0.1) < 1e-6, "row %d moved %.9g", row, moved);
            else
                ck_assert_msg(moved == 0.0, "row %d moved %.9g", row, moved);
        }
    dz_array_release(before);
    dz_optimizer_free(adam);
    dz_layer_free(emb);
}
END_TEST

/* Trains Embedding(20, 4) -> sum of squares for `steps` SGD steps. */
static dz_layer *train_embedding(bool sparse, const int64_t *idx, int steps)
{
    dz_rng rng;
    dz_rng_seed(&rng, 11);
    dz_embedding_options opt = dz_embedding_default_options();
    opt.sparse = sparse;
    dz_layer *emb = dz_embedding_layer_new(20, 4, &opt, DZ_F32, &rng);
    dz_sgd_config cfg = dz_sgd_defaults();
    cfg.lr = 0.05;
    dz_optimizer *sgd = dz_sgd_new(&cfg);
    dz_optimizer_setup(sgd, emb);
    for (int s = 0; s < steps; s++) {
        dz_scope_begin();
        dz_variable *y = dz_layer_call(emb, index_batch(idx + 6 * (s % 3), 1, DZ_SHAPE(6)));
        dz_layer_cleargrads(emb);
        dz_variable_backward(dz_sum(dz_square(y), 0, NULL, false), false, false);
        ck_assert_int_eq(dz_optimizer_update(sgd), DZ_OK);
        dz_scope_end();
    }
    dz_optimizer_free(sgd);
    return emb;
}

START_TEST(test_sparse_equals_dense_sgd)
{
    /* three batches; the first has no repeated index, the others do */
    const int64_t idx[18] = {1, 4, 7, 9, 12, 19, 3, 3, 5, 0, 5, 3, 2, 17, 17, 17, 8, 2};
    dz_layer *dense = train_embedding(false, idx, 9), *sparse = train_embedding(true, idx, 9);
    dz_array *a = dz_layer_param(dense, "W")->data, *b = dz_layer_param(sparse, "W")->data;
    for (int64_t i = 0; i < a->size; i++)
        ck_assert_msg(fabs(dz_array_get(a, i) - dz_array_get(b, i)) <= 1e-6 * (1 + fabs(dz_array_get(a, i))),
                      "element %lld: dense %.9g sparse %.9g", (long long)i, dz_array_get(a, i), dz_array_get(b, i));
    dz_layer_free(dense);
    dz_layer_free(sparse);
    /* without repeated indices the two agree to the bit */
    dense = train_embedding(false, idx, 1);
    sparse = train_embedding(true, idx, 1);
    a = dz_layer_param(dense, "W")->data;
    b = dz_layer_param(sparse, "W")->data;
    ck_assert_mem_eq(a->data, b->data, (size_t)a->size * sizeof(float));
    dz_layer_free(dense);
    dz_layer_free(sparse);
}
END_TEST

/* ---- resume in a fresh process ------------------------------------------ */

typedef struct {
    dz_layer *model, *emb, *head; /* model holds emb and head */
    dz_optimizer *adam;
} trainer;

static void trainer_init(trainer *t)
{
    dz_rng rng;
    dz_rng_seed(&rng, 5);
    t->model = dz_model_new();
    t->emb = dz_layer_add_child(t->model, "emb", dz_embedding_layer_new(30, 8, NULL, DZ_F32, &rng));
    t->head = dz_layer_add_child(t->model, "head", dz_linear_layer_new(5, 8, false, DZ_F32, &rng));
    dz_adam_config cfg = dz_adam_defaults();
    cfg.lr = 0.01;
    t->adam = dz_adam_new(&cfg);
    dz_optimizer_setup(t->adam, t->model);
}

static void trainer_free(trainer *t)
{
    dz_optimizer_free(t->adam);
    dz_layer_free(t->model);
}

/* One step on a batch determined by the step number; returns the loss. */
static double train_step(trainer *t, int step)
{
    int64_t idx[16], labels[16];
    for (int i = 0; i < 16; i++) {
        idx[i] = (step * 7 + i * 3) % 30;
        labels[i] = (idx[i] + step) % 5;
    }
    dz_scope_begin();
    dz_variable *h = dz_layer_call(t->emb, index_batch(idx, 1, DZ_SHAPE(16)));
    dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(t->head, h), index_batch(labels, 1, DZ_SHAPE(16)));
    dz_layer_cleargrads(t->model);
    dz_variable_backward(loss, false, false);
    dz_optimizer_update(t->adam);
    double value = dz_array_get(loss->data, 0);
    dz_scope_end();
    return value;
}

static void path_of(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* The child process: fresh objects, load, train steps 4..9, write the losses. */
static int resume_in_child(const char *dir)
{
    trainer t;
    trainer_init(&t);
    char path[512];
    path_of(path, sizeof path, dir, "model.npz");
    if (dz_layer_load_weights(t.model, path) != DZ_OK)
        return 2;
    path_of(path, sizeof path, dir, "adam.npz");
    if (dz_optimizer_load_state(t.adam, path) != DZ_OK)
        return 4;
    path_of(path, sizeof path, dir, "losses.bin");
    FILE *f = fopen(path, "wb");
    for (int step = 4; step < 10; step++) {
        double loss = train_step(&t, step);
        fwrite(&loss, sizeof loss, 1, f);
    }
    fclose(f);
    trainer_free(&t);
    return 0;
}

static const char *self_path;

START_TEST(test_resume_in_fresh_process)
{
    double straight[10];
    trainer t;
    trainer_init(&t);
    for (int step = 0; step < 10; step++)
        straight[step] = train_step(&t, step);
    trainer_free(&t);

    char dir[] = "/tmp/dz_resume_XXXXXX", path[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    trainer_init(&t);
    for (int step = 0; step < 4; step++)
        ck_assert(train_step(&t, step) == straight[step]);
    path_of(path, sizeof path, dir, "model.npz");
    ck_assert_int_eq(dz_layer_save_weights(t.model, path, true), DZ_OK);
    path_of(path, sizeof path, dir, "adam.npz");
    ck_assert_int_eq(dz_optimizer_save_state(t.adam, path), DZ_OK);
    trainer_free(&t);

    pid_t pid = fork();
    if (pid == 0) {
        execl(self_path, self_path, "--resume", dir, (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit %d", WEXITSTATUS(status));
    double resumed[6];
    path_of(path, sizeof path, dir, "losses.bin");
    FILE *f = fopen(path, "rb");
    ck_assert_int_eq(fread(resumed, sizeof resumed[0], 6, f), 6);
    fclose(f);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(memcmp(&resumed[i], &straight[4 + i], sizeof(double)) == 0, "step %d: %.17g vs %.17g",
                      4 + i, resumed[i], straight[4 + i]);
    ck_assert(straight[9] < straight[0]); /* and it did learn */
    snprintf(path, sizeof path, "rm -rf %s", dir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

static Suite *training_suite(void)
{
    Suite *s = suite_create("training");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_notebook_padding_adam);
    tcase_add_test(tc, test_sparse_equals_dense_sgd);
    tcase_add_test(tc, test_resume_in_fresh_process);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--resume") == 0)
        return resume_in_child(argv[2]);
    self_path = argv[0];
    return tc_run(training_suite());
}
