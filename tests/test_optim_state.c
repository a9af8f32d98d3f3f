/* Optimizer state files: save weights and optimizer state mid-training,
 * reload both into fresh objects, and continue: the losses and parameters
 * equal those of an uninterrupted run bit for bit. Plus the checks a load
 * makes before it changes anything. */
#include <stdio.h>
#include <unistd.h>

#include "dezero/npz.h"
#include "optim_test_helpers.h"

#define STATE_FILE "test_optim_state.npz"

static dz_optimizer *make_sgd_nesterov(void) { return sgd_with(0.05, 0.9, 0, 0.01, true); }
static dz_optimizer *make_adam_amsgrad(void) { return adam_with(false, 0.9, 0.999, 0.1, true); }
static dz_optimizer *make_adamw(void) { return adam_with(true, 0.8, 0.99, 0.1, false); }
static dz_optimizer *make_momentum_sgd(void) { return dz_momentum_sgd_new(0.05, 0.9); }

static dz_optimizer *make_adagrad(void)
{
    dz_adagrad_config c = {.lr = 0.1, .lr_decay = 0.05, .initial_accumulator_value = 0.2, .eps = 1e-10};
    return dz_adagrad_new(&c);
}

static dz_optimizer *make_adadelta(void) { return dz_adadelta_new(NULL); }

static dz_optimizer *(*const makers[])(void) = {make_sgd_nesterov, make_adam_amsgrad, make_adamw,
                                                make_momentum_sgd, make_adagrad, make_adadelta};
#define NUM_MAKERS ((int)(sizeof makers / sizeof makers[0]))

/* `steps` training steps; loss[i] is the loss before step i. */
static void train(dz_layer *model, dz_optimizer *opt, int steps, float *loss)
{
    for (int i = 0; i < steps; i++) {
        loss[i] = (float)toy_backward(model);
        ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
    }
}

/* Weights under their paths and the optimizer state, in one file. */
static void save_checkpoint(dz_layer *model, const dz_optimizer *opt)
{
    dz_npz *z = dz_npz_new();
    ck_assert_int_eq(dz_npz_add(z, "W", toy_w(model)->data), DZ_OK);
    ck_assert_int_eq(dz_npz_add(z, "b", toy_b(model)->data), DZ_OK);
    ck_assert_int_eq(dz_optimizer_state_to_npz(opt, z), DZ_OK);
    ck_assert_int_eq(dz_npz_save(z, STATE_FILE, false), DZ_OK);
    dz_npz_free(z);
}

static void load_checkpoint(dz_layer *model, dz_optimizer *opt)
{
    dz_npz *z = NULL;
    ck_assert_int_eq(dz_npz_load(STATE_FILE, &z), DZ_OK);
    dz_variable_set_data(toy_w(model), dz_array_copy(dz_npz_get(z, "W")));
    dz_variable_set_data(toy_b(model), dz_array_copy(dz_npz_get(z, "b")));
    ck_assert_int_eq(dz_optimizer_state_from_npz(opt, z), DZ_OK);
    dz_npz_free(z);
}

START_TEST(test_resume_is_bit_exact)
{
    float straight[10], resumed[10];
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = makers[_i]();
    dz_optimizer_setup(opt, model);
    train(model, opt, 10, straight);

    dz_layer *first = toy_new(DZ_F32);
    dz_optimizer *first_opt = makers[_i]();
    dz_optimizer_setup(first_opt, first);
    train(first, first_opt, 4, resumed);
    save_checkpoint(first, first_opt);
    dz_optimizer_free(first_opt);
    dz_layer_free(first);

    dz_layer *second = toy_new(DZ_F32);
    dz_optimizer *second_opt = makers[_i]();
    dz_optimizer_setup(second_opt, second);
    load_checkpoint(second, second_opt);
    train(second, second_opt, 6, resumed + 4);

    for (int i = 0; i < 10; i++)
        ck_assert_msg(bits32(resumed[i]) == bits32(straight[i]), "loss %d: %a vs %a", i, (double)resumed[i],
                      (double)straight[i]);
    assert_bits(toy_w(second)->data, 0, toy_w(model)->data->data, 12, "W");
    assert_bits(toy_b(second)->data, 0, toy_b(model)->data->data, 4, "b");
    unlink(STATE_FILE);
    dz_optimizer_free(opt);
    dz_optimizer_free(second_opt);
    dz_layer_free(model);
    dz_layer_free(second);
}
END_TEST

/* Sparse: SparseAdam and SGD momentum (whose touched rows are rebuilt from the buffer). */
static dz_optimizer *make_sparse_adam(void) { return dz_sparse_adam_new(NULL); }
static dz_optimizer *make_sparse_momentum(void) { return sgd_with(0.1, 0.9, 0.1, 0, false); }

START_TEST(test_sparse_resume_is_bit_exact)
{
    dz_optimizer *(*make)(void) = _i ? make_sparse_momentum : make_sparse_adam;
    dz_variable *straight = table(), *resumed = table();
    dz_optimizer *opt = make(), *first = make();
    dz_optimizer_add_params(opt, 1, &straight);
    dz_optimizer_add_params(first, 1, &resumed);
    for (int step = 0; step < 2; step++) {
        set_sparse_grad(straight, golden_sparse_grad(step));
        set_sparse_grad(resumed, golden_sparse_grad(step));
        dz_optimizer_update(opt);
        dz_optimizer_update(first);
    }
    ck_assert_int_eq(dz_optimizer_save_state(first, STATE_FILE), DZ_OK);
    dz_optimizer_free(first);
    dz_optimizer *second = make();
    dz_optimizer_add_params(second, 1, &resumed);
    ck_assert_int_eq(dz_optimizer_load_state(second, STATE_FILE), DZ_OK);
    set_sparse_grad(straight, golden_sparse_grad(2));
    set_sparse_grad(resumed, golden_sparse_grad(2));
    dz_optimizer_update(opt);
    dz_optimizer_update(second);
    assert_bits(resumed->data, 0, straight->data->data, 18, "table after resuming");
    unlink(STATE_FILE);
    dz_optimizer_free(opt);
    dz_optimizer_free(second);
    dz_variable_release(straight);
    dz_variable_release(resumed);
}
END_TEST

START_TEST(test_saved_keys)
{
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = make_adam_amsgrad();
    dz_optimizer_setup(opt, model);
    toy_backward(model);
    dz_variable_cleargrad(toy_b(model)); /* b has no state yet: no keys */
    dz_optimizer_update(opt);
    dz_npz *z = dz_npz_new();
    ck_assert_int_eq(dz_optimizer_state_to_npz(opt, z), DZ_OK);
    const char *expected[] = {"param_groups/lr", "state/W/exp_avg", "state/W/exp_avg_sq",
                              "state/W/max_exp_avg_sq", "state/W/step"};
    ck_assert_int_eq(dz_npz_count(z), 5);
    for (int k = 0; k < 5; k++)
        ck_assert_str_eq(dz_npz_name(z, k), expected[k]);
    const dz_array *step = dz_npz_get(z, "state/W/step");
    ck_assert_int_eq(step->dtype, DZ_I64);
    ck_assert_int_eq(step->ndim, 0);
    ck_assert_int_eq(dz_array_get(step, 0), 1);
    dz_npz_free(z);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}
END_TEST

/* A file made from a good one with one key changed; the load must fail with
 * `code` and leave the optimizer's state as it was. */
static void assert_load_fails(dz_optimizer *opt, const char *key, dz_array *replacement, dz_status code,
                              const char *message)
{
    dz_npz *z = dz_npz_new();
    ck_assert_int_eq(dz_optimizer_state_to_npz(opt, z), DZ_OK);
    dz_array *exp_avg_before = dz_array_copy(dz_optimizer_state(opt, 0, "exp_avg"));
    double lr_before = dz_optimizer_lr(opt);
    if (replacement) {
        dz_npz_add(z, key, replacement);
        dz_array_release(replacement);
    }
    dz_npz *edited = dz_npz_new(); /* copy, leaving out `key` when there is no replacement */
    for (int k = 0; k < dz_npz_count(z); k++)
        if (replacement || strcmp(dz_npz_name(z, k), key) != 0)
            dz_npz_add(edited, dz_npz_name(z, k), dz_npz_get(z, dz_npz_name(z, k)));
    dz_array *lr = dz_array_scalar(DZ_F64, 123); /* must not be applied */
    dz_npz_add(edited, "param_groups/lr", lr);
    dz_array_release(lr);
    ck_assert_int_eq(dz_optimizer_state_from_npz(opt, edited), code);
    ck_assert_msg(strstr(dz_last_error(), message), "%s", dz_last_error());
    assert_bits(dz_optimizer_state(opt, 0, "exp_avg"), 0, exp_avg_before->data, 12, "exp_avg kept");
    ck_assert_int_eq(dz_optimizer_step_count(opt, 0), 1);
    ck_assert_double_eq(dz_optimizer_lr(opt), lr_before);
    dz_array_release(exp_avg_before);
    dz_npz_free(z);
    dz_npz_free(edited);
}

START_TEST(test_load_checks_before_changing)
{
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = make_adam_amsgrad();
    dz_optimizer_setup(opt, model);
    toy_backward(model);
    dz_optimizer_update(opt);
    assert_load_fails(opt, "state/W/exp_avg_sq", dz_array_zeros(DZ_F32, 1, DZ_SHAPE(12)), DZ_ERR_FORMAT,
                      "is float32 (12,) but the parameter is float32 (3, 4)");
    assert_load_fails(opt, "state/b/exp_avg", dz_array_zeros(DZ_F64, 1, DZ_SHAPE(4)), DZ_ERR_FORMAT,
                      "is float64 (4,)");
    assert_load_fails(opt, "state/l9/W/exp_avg", dz_array_zeros(DZ_F32, 1, DZ_SHAPE(4)), DZ_ERR_FORMAT,
                      "names no parameter");
    assert_load_fails(opt, "state/W/momentum", dz_array_zeros(DZ_F32, 2, DZ_SHAPE(3, 4)), DZ_ERR_FORMAT,
                      "'momentum' is not a state of Adam");
    assert_load_fails(opt, "state/W/step", dz_array_scalar(DZ_F32, 3), DZ_ERR_FORMAT, "non-negative integer");
    assert_load_fails(opt, "state/W/max_exp_avg_sq", NULL, DZ_ERR_FORMAT, "'max_exp_avg_sq' is missing");
    assert_load_fails(opt, "state/W/step", NULL, DZ_ERR_FORMAT, "'step' is missing");
    ck_assert_int_ne(dz_optimizer_load_state(opt, "no/such/dir/state.npz"), DZ_OK);
    ck_assert_int_eq(dz_optimizer_step_count(opt, 0), 1);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}
END_TEST

START_TEST(test_load_replaces_the_whole_state)
{
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = make_adamw();
    dz_optimizer_setup(opt, model);
    dz_npz *empty = dz_npz_new();
    dz_array *lr = dz_array_scalar(DZ_F64, 0.25);
    dz_npz_add(empty, "param_groups/lr", lr);
    dz_array_release(lr);
    toy_backward(model);
    dz_optimizer_update(opt);
    ck_assert_int_eq(dz_optimizer_state_from_npz(opt, empty), DZ_OK);
    ck_assert_int_eq(dz_optimizer_step_count(opt, 0), 0); /* as PyTorch: parameters absent start afresh */
    ck_assert_ptr_null(dz_optimizer_state(opt, 0, "exp_avg"));
    ck_assert_double_eq(dz_optimizer_lr(opt), 0.25);
    dz_npz_free(empty);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}
END_TEST

static Suite *optim_state_suite(void)
{
    Suite *s = suite_create("optim_state");
    TCase *tc = tcase_create("npz");
    tcase_add_loop_test(tc, test_resume_is_bit_exact, 0, NUM_MAKERS);
    tcase_add_loop_test(tc, test_sparse_resume_is_bit_exact, 0, 2);
    tcase_add_test(tc, test_saved_keys);
    tcase_add_test(tc, test_load_checks_before_changing);
    tcase_add_test(tc, test_load_replaces_the_whole_state);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    tc_errors_off(); /* file errors return statuses; nothing here should abort */
    return tc_run(optim_state_suite());
}
