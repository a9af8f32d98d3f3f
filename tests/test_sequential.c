/* Sequential, the function layers, Linear from given values, and the model
 * summary: forwards equal to the hand-chained calls, gradients through a
 * Sequential, saved keys "0/W", summary tables checked line by line (the
 * expected text written out by hand, the counts computed here from the
 * sizes), and a summary that leaves no object, state or parameter change
 * behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_common.h"

/* ---- helpers ---- */

/* A Linear of known sizes whose W is drawn here, from a generator seeded
 * with `seed` (a lazy one would draw later: see lazy_linear). */
static dz_layer *linear(int64_t out_size, int64_t in_size, dz_dtype dtype, uint64_t seed)
{
    ck_assert_int_gt(in_size, 0);
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    return dz_linear_layer_new(out_size, in_size, false, dtype, &rng);
}

/* A lazy Linear draws W at its first forward, so its generator must outlive
 * the layer: the default one. */
static dz_layer *lazy_linear(int64_t out_size, dz_dtype dtype)
{
    return dz_linear_layer_new(out_size, 0, false, dtype, NULL);
}

/* Every element of a and b equal. */
static void assert_same_values(const dz_array *a, const dz_array *b)
{
    ck_assert(dz_array_same_shape(a, b));
    for (int64_t i = 0; i < a->size; i++)
        ck_assert_msg(dz_array_get(a, i) == dz_array_get(b, i), "element %lld: %.17g != %.17g", (long long)i,
                      dz_array_get(a, i), dz_array_get(b, i));
}

/* The text dz_layer_summary writes with `inputs` (ninputs 0: no run). */
static char *summary_text(dz_layer *layer, int ninputs, dz_variable *const *inputs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(dz_layer_summary(layer, ninputs, inputs, f), DZ_OK);
    fclose(f);
    return buf;
}

/* The text of dz_layer_summary_for_input on the CPU. */
static char *summary_for_input_text(dz_layer *layer, int ndim, const int64_t *shape, dz_dtype dtype)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(dz_layer_summary_for_input(layer, ndim, shape, dtype, DZ_CPU, f), DZ_OK);
    fclose(f);
    return buf;
}

static void assert_text(char *got, const char *expected)
{
    ck_assert_msg(strcmp(got, expected) == 0, "got:\n%s\nexpected:\n%s", got, expected);
    free(got);
}

/* ---- Sequential ---- */

START_TEST(test_forward_equals_hand_chained_layers)
{
    dz_scope_begin();
    dz_array *W1 = dz_array_normal(NULL, DZ_F64, 2, DZ_SHAPE(3, 4), 0.0, 1.0);
    dz_array *b1 = dz_array_normal(NULL, DZ_F64, 1, DZ_SHAPE(4), 0.0, 1.0);
    dz_array *W2 = dz_array_normal(NULL, DZ_F64, 2, DZ_SHAPE(4, 5), 0.0, 1.0);
    dz_layer *seq = dz_sequential_of(4, (dz_layer *[]){dz_linear_layer_from_values(W1, b1, false),
                                                       dz_relu_layer_new(),
                                                       dz_linear_layer_from_values(W2, NULL, false),
                                                       dz_softmax_layer_new(1)});
    ck_assert_ptr_nonnull(seq);
    ck_assert_str_eq(seq->ops->type, "Sequential");
    ck_assert_int_eq(seq->nchildren, 4);
    ck_assert_str_eq(seq->child_names[3], "3");
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(6, 3));
    dz_variable *y = dz_layer_call(seq, x);
    dz_variable *w1 = dz_variable_constant(dz_array_retain(W1), NULL);
    dz_variable *c1 = dz_variable_constant(dz_array_retain(b1), NULL);
    dz_variable *w2 = dz_variable_constant(dz_array_retain(W2), NULL);
    dz_variable *expected = dz_softmax(dz_linear(dz_relu(dz_linear(x, w1, c1)), w2, NULL), 1);
    assert_same_values(y->data, expected->data);
    dz_array_release(W1);
    dz_array_release(b1);
    dz_array_release(W2);
    dz_layer_free(seq);
    dz_scope_end();
}
END_TEST

/* Each function layer against its function, on a (2, 3, 4) input. */
START_TEST(test_function_layers_equal_their_functions)
{
    dz_scope_begin();
    dz_variable *x = tc_randn(3, 3, DZ_SHAPE(2, 3, 4));
    struct {
        dz_layer *layer;
        dz_variable *expected;
        const char *type;
    } cases[] = {
        {dz_relu_layer_new(), dz_relu(x), "ReLU"},
        {dz_leaky_relu_layer_new(0.2), dz_leaky_relu(x, 0.2), "LeakyReLU"},
        {dz_sigmoid_layer_new(), dz_sigmoid(x), "Sigmoid"},
        {dz_tanh_layer_new(), dz_tanh(x), "Tanh"},
        {dz_softmax_layer_new(-1), dz_softmax(x, 2), "Softmax"},
        {dz_log_softmax_layer_new(1), dz_log_softmax(x, 1), "LogSoftmax"},
        {dz_flatten_layer_new(), dz_flatten(x), "Flatten"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_str_eq(cases[i].layer->ops->type, cases[i].type);
        ck_assert_int_eq(cases[i].layer->nparams, 0);
        dz_variable *y = dz_layer_call(cases[i].layer, x);
        assert_same_values(y->data, cases[i].expected->data);
        dz_layer_free(cases[i].layer);
    }
    ck_assert_int_eq(dz_variable_shape(dz_flatten(x))[1], 12);
    dz_scope_end();
}
END_TEST

static dz_variable *sequential_on_input(dz_variable *const *in, void *ctx)
{
    return dz_layer_call(ctx, in[0]);
}

START_TEST(test_gradients_through_sequential)
{
    dz_layer *seq = dz_sequential_new();
    dz_sequential_add(seq, linear(5, 3, DZ_F64, 1));
    dz_sequential_add(seq, dz_tanh_layer_new());
    dz_sequential_add(seq, linear(4, 5, DZ_F64, 2));
    dz_sequential_add(seq, dz_sigmoid_layer_new());
    dz_sequential_add(seq, linear(2, 4, DZ_F64, 3));
    dz_sequential_add(seq, dz_log_softmax_layer_new(-1));
    dz_scope_begin();
    dz_variable *x = tc_randn(4, 2, DZ_SHAPE(6, 3));
    dz_param_list *p = dz_layer_params(seq);
    ck_assert_int_eq(p->count, 6);
    dz_variable *inputs[7] = {x};
    for (int i = 0; i < p->count; i++)
        inputs[i + 1] = p->params[i];
    tc_assert_gradient(sequential_on_input, seq, p->count + 1, inputs);
    tc_assert_double_gradient(sequential_on_input, seq, 1, inputs);
    /* the double backward left grads on the parameters that refer back to them */
    dz_layer_cleargrads(seq);
    dz_param_list_free(p);
    dz_scope_end();
    dz_layer_free(seq);
}
END_TEST

START_TEST(test_saved_keys_are_indices)
{
    char dir[] = "/tmp/dz_sequential_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/w.npz", dir);
    dz_layer *seq = dz_sequential_of(3, (dz_layer *[]){linear(4, 3, DZ_F32, 1), dz_relu_layer_new(),
                                                       linear(2, 4, DZ_F32, 2)});
    ck_assert_int_eq(dz_layer_save_weights(seq, path, false), DZ_OK);
    dz_npz *z = NULL;
    ck_assert_int_eq(dz_npz_load(path, &z), DZ_OK);
    const char *keys[] = {"0/W", "0/b", "2/W", "2/b"};
    ck_assert_int_eq(dz_npz_count(z), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(dz_npz_name(z, i), keys[i]);
    dz_npz_free(z);
    /* into a lazy model of the same layout: the same outputs */
    dz_layer *copy = dz_sequential_of(3, (dz_layer *[]){lazy_linear(4, DZ_F32), dz_relu_layer_new(),
                                                        lazy_linear(2, DZ_F32)});
    ck_assert_int_eq(dz_layer_load_weights(copy, path), DZ_OK);
    dz_scope_begin();
    dz_variable *x = dz_variable_constant(dz_array_normal(NULL, DZ_F32, 2, DZ_SHAPE(5, 3), 0.0, 1.0), NULL);
    assert_same_values(dz_layer_call(seq, x)->data, dz_layer_call(copy, x)->data);
    dz_scope_end();
    dz_layer_free(seq);
    dz_layer_free(copy);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_add_and_of_errors)
{
    tc_errors_off();
    dz_layer *seq = dz_sequential_new(), *model = dz_model_new(), *relu = dz_relu_layer_new();
    ASSERT_ERROR(dz_sequential_add(model, relu), DZ_ERR_VALUE, "not a Sequential");
    ck_assert_ptr_eq(dz_sequential_add(seq, relu), relu);
    ck_assert_str_eq(seq->child_names[0], "0");
    ASSERT_ERROR(dz_sequential_add(seq, relu), DZ_ERR_STATE, "one parent");
    ASSERT_ERROR(dz_sequential_add(seq, seq), DZ_ERR_VALUE, "cycle");
    dz_layer *tanh_layer = dz_tanh_layer_new();
    ck_assert_ptr_nonnull(dz_layer_add_child(seq, "1", tanh_layer));
    dz_layer *sigmoid = dz_sigmoid_layer_new();
    ck_assert_ptr_nonnull(dz_sequential_add(seq, sigmoid)); /* "2" */
    dz_layer_add_child(model, "seq", seq);
    dz_layer *inner = dz_sequential_new();
    dz_sequential_add(inner, dz_relu_layer_new());
    ck_assert_ptr_nonnull(dz_sequential_add(seq, inner));
    ASSERT_ERROR(dz_sequential_add(inner, seq), DZ_ERR_VALUE, "cycle"); /* seq is inner's parent */
    ASSERT_ERROR(dz_sequential_of(2, (dz_layer *[]){dz_relu_layer_new(), NULL}), DZ_ERR_NULL, "layers[1]");
    dz_layer *twice = dz_relu_layer_new();
    ASSERT_ERROR(dz_sequential_of(2, (dz_layer *[]){twice, twice}), DZ_ERR_VALUE, "listed twice");
    ASSERT_ERROR(dz_sequential_of(2, (dz_layer *[]){dz_relu_layer_new(), sigmoid}), DZ_ERR_STATE, "one parent");
    ck_assert_ptr_eq(sigmoid->parent, seq); /* not freed: not the list's */
    dz_layer *empty = dz_sequential_of(0, NULL);
    ck_assert_int_eq(empty->nchildren, 0);
    dz_scope_begin();
    dz_variable *x = tc_randn(1, 2, DZ_SHAPE(2, 3));
    ASSERT_ERROR(dz_layer_call(empty, x), DZ_ERR_STATE, "no layers");
    dz_scope_end();
    dz_layer_free(empty);
    dz_layer_free(model);
    tc_errors_on();
}
END_TEST

/* An error in a later layer names it; one in the first names the call. */
START_TEST(test_errors_name_the_layer)
{
    tc_errors_off();
    dz_layer *seq = dz_sequential_of(3, (dz_layer *[]){linear(4, 3, DZ_F64, 1), dz_tanh_layer_new(),
                                                       linear(2, 5, DZ_F64, 2)});
    dz_scope_begin();
    ASSERT_ERROR(dz_layer_call(seq, tc_randn(1, 2, DZ_SHAPE(2, 3))), DZ_ERR_SHAPE,
                 "dz_layer_call: layer '2' (Linear) of a Sequential: this Linear layer expects a 2-D float64 input "
                 "(N, 5), got (2, 4)");
    ASSERT_ERROR(dz_layer_forward(seq, 1, (dz_variable *[]){tc_randn(1, 2, DZ_SHAPE(2, 7))}), DZ_ERR_SHAPE,
                 "dz_layer_forward: this Linear layer expects");
    ASSERT_ERROR(dz_layer_forward(seq, 2, (dz_variable *[]){tc_randn(1, 2, DZ_SHAPE(2, 3)), NULL}), DZ_ERR_VALUE,
                 "a Sequential takes one input, got 2");
    dz_scope_end();
    dz_layer_free(seq);
    tc_errors_on();
}
END_TEST

/* ---- Linear from given values ---- */

START_TEST(test_linear_from_values)
{
    dz_scope_begin();
    dz_array *W = dz_array_from_buffer(DZ_F64, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6}); // (in, out)
    dz_array *b = dz_array_from_buffer(DZ_F64, 1, DZ_SHAPE(3), (double[]){0.5, -1, 2});
    dz_layer *l = dz_linear_layer_from_values(W, b, false);
    ck_assert_ptr_eq(dz_layer_param(l, "W")->data, W); /* shared */
    ck_assert_ptr_eq(dz_layer_param(l, "b")->data, b);
    ck_assert_int_eq(W->refcount, 2);
    ck_assert_int_eq(dz_layer_count_params(l), 9);
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(1, 2), (double[]){1, -2});
    dz_variable *y = dz_layer_call(l, x);
    /* (1, -2) (1 2 3; 4 5 6) + b = (-7, -8, -9) + (0.5, -1, 2) */
    tc_assert_values(y->data, (double[]){-6.5, -9, -7}, 3, 0);
    ck_assert_int_eq(dz_variable_backward(dz_sum(y, 0, NULL, false), false, false), DZ_OK);
    ck_assert_ptr_nonnull(dz_layer_param(l, "W")->grad);
    dz_layer *frozen = dz_linear_layer_from_values(W, NULL, true);
    ck_assert_ptr_null(dz_layer_param(frozen, "b"));
    ck_assert(!dz_layer_param(frozen, "W")->requires_grad);
    dz_variable *z = dz_layer_call(frozen, x);
    tc_assert_values(z->data, (double[]){-7, -8, -9}, 3, 0);
    ck_assert_int_eq(dz_variable_backward(dz_sum(z, 0, NULL, false), false, false), DZ_OK);
    ck_assert_ptr_null(dz_layer_param(frozen, "W")->grad);
    ck_assert_ptr_nonnull(x->grad);
    dz_layer_free(l);
    dz_layer_free(frozen);
    dz_scope_end();
    ck_assert_int_eq(W->refcount, 1);
    dz_array_release(W);
    dz_array_release(b);
}
END_TEST

START_TEST(test_linear_from_values_errors)
{
    tc_errors_off();
    dz_array *W = dz_array_ones(DZ_F32, 2, DZ_SHAPE(4, 3)), *torch_weight = dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 4));
    dz_array *b = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3)), *b64 = dz_array_zeros(DZ_F64, 1, DZ_SHAPE(3));
    dz_array *ints = dz_array_ones(DZ_I32, 2, DZ_SHAPE(4, 3)), *flat = dz_array_ones(DZ_F32, 1, DZ_SHAPE(3));
    dz_array *empty = dz_array_ones(DZ_F32, 2, DZ_SHAPE(0, 3));
    ASSERT_ERROR(dz_linear_layer_from_values(NULL, b, false), DZ_ERR_NULL, "W is NULL");
    ASSERT_ERROR(dz_linear_layer_from_values(flat, NULL, false), DZ_ERR_SHAPE, "must be 2-D (in_size, out_size)");
    ASSERT_ERROR(dz_linear_layer_from_values(empty, NULL, false), DZ_ERR_SHAPE, "at least 1");
    ASSERT_ERROR(dz_linear_layer_from_values(ints, NULL, false), DZ_ERR_DTYPE, "W is int32");
    ASSERT_ERROR(dz_linear_layer_from_values(torch_weight, b, false), DZ_ERR_SHAPE,
                 "b (3,) must be (out_size,) = (4,) for W (3, 4) (in_size, out_size); W looks like PyTorch's weight");
    ASSERT_ERROR(dz_linear_layer_from_values(W, b64, false), DZ_ERR_DTYPE, "b is float64 but W is float32");
    ASSERT_ERROR(dz_linear_layer_from_values(W, W, false), DZ_ERR_SHAPE, "must be (out_size,)");
    tc_errors_on();
    dz_array_release(W);
    dz_array_release(torch_weight);
    dz_array_release(b);
    dz_array_release(b64);
    dz_array_release(ints);
    dz_array_release(flat);
    dz_array_release(empty);
}
END_TEST

/* ---- the summary ---- */

START_TEST(test_summary_of_an_mlp)
{
    dz_layer *seq = dz_sequential_of(3, (dz_layer *[]){linear(100, 784, DZ_F32, 1), dz_relu_layer_new(),
                                                       linear(10, 100, DZ_F32, 2)});
    /* own counts: 784 * 100 + 100 = 78,500 and 100 * 10 + 10 = 1,010; float32 */
    int64_t total = 784 * 100 + 100 + 100 * 10 + 10;
    ck_assert_int_eq(total, 79510);
    ck_assert_int_eq(dz_layer_count_params(seq), total);
    ck_assert_int_eq(total * 4, 318040);
    const char *before = "Layer (type)  Output shape  Param #  Dtype    Device\n"
                         "====================================================\n"
                         "Sequential    -                   -  -        -\n"
                         "  (0) Linear  -              78,500  float32  CPU\n"
                         "  (1) ReLU    -                   -  -        -\n"
                         "  (2) Linear  -               1,010  float32  CPU\n"
                         "====================================================\n"
                         "Total params: 79,510\n"
                         "Trainable params: 79,510\n"
                         "Non-trainable params: 0\n"
                         "Params size: 318,040 bytes (0.32 MB)\n";
    assert_text(summary_text(seq, 0, NULL), before);
    const char *after = "Layer (type)  Output shape  Param #  Dtype    Device\n"
                        "====================================================\n"
                        "Sequential    (2, 10)             -  -        -\n"
                        "  (0) Linear  (2, 100)       78,500  float32  CPU\n"
                        "  (1) ReLU    (2, 100)            -  -        -\n"
                        "  (2) Linear  (2, 10)         1,010  float32  CPU\n"
                        "====================================================\n"
                        "Total params: 79,510\n"
                        "Trainable params: 79,510\n"
                        "Non-trainable params: 0\n"
                        "Params size: 318,040 bytes (0.32 MB)\n";
    assert_text(summary_for_input_text(seq, 2, DZ_SHAPE(2, 784), DZ_F32), after);
    assert_text(summary_text(seq, 0, NULL), after); /* the shapes stay recorded */
    dz_layer_free(seq);
}
END_TEST

START_TEST(test_summary_of_a_lazy_model)
{
    dz_layer *seq = dz_sequential_of(3, (dz_layer *[]){lazy_linear(16, DZ_F64), dz_tanh_layer_new(),
                                                       lazy_linear(4, DZ_F64)});
    /* before a forward only the biases exist: 16 + 4 */
    assert_text(summary_text(seq, 0, NULL), "Layer (type)  Output shape  Param #  Dtype    Device\n"
                                            "====================================================\n"
                                            "Sequential    -                   -  -        -\n"
                                            "  (0) Linear  -                   ?  float64  CPU\n"
                                            "  (1) Tanh    -                   -  -        -\n"
                                            "  (2) Linear  -                   ?  float64  CPU\n"
                                            "====================================================\n"
                                            "Total params: 20\n"
                                            "Trainable params: 20\n"
                                            "Non-trainable params: 0\n"
                                            "Params size: 160 bytes (0.00 MB)\n"
                                            "Lazy parameters not made yet: 2 (not counted; run a forward, or "
                                            "dz_layer_summary_for_input)\n");
    /* an input of 8 features: 8 * 16 + 16 = 144 and 16 * 4 + 4 = 68, float64 */
    ck_assert_int_eq(8 * 16 + 16 + 16 * 4 + 4, 212);
    assert_text(summary_for_input_text(seq, 2, DZ_SHAPE(3, 8), DZ_F64),
                "Layer (type)  Output shape  Param #  Dtype    Device\n"
                "====================================================\n"
                "Sequential    (3, 4)              -  -        -\n"
                "  (0) Linear  (3, 16)           144  float64  CPU\n"
                "  (1) Tanh    (3, 16)             -  -        -\n"
                "  (2) Linear  (3, 4)             68  float64  CPU\n"
                "====================================================\n"
                "Total params: 212\n"
                "Trainable params: 212\n"
                "Non-trainable params: 0\n"
                "Params size: 1,696 bytes (0.00 MB)\n");
    ck_assert_int_eq(dz_layer_count_params(seq), 212);
    ck_assert_int_eq(dz_layer_param(dz_layer_child(seq, "0"), "W")->data->shape[0], 8);
    dz_layer_free(seq);
}
END_TEST

START_TEST(test_summary_of_a_cnn)
{
    dz_rng rng;
    dz_rng_seed(&rng, 3);
    dz_layer *seq = dz_sequential_of(
        8, (dz_layer *[]){dz_conv2d_layer_new(8, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 1, &rng),
                          dz_relu_layer_new(), dz_max_pool_layer_new(DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0)),
                          dz_conv2d_layer_new(16, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 0, &rng),
                          dz_relu_layer_new(), dz_max_pool_layer_new(DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0)),
                          dz_flatten_layer_new(), lazy_linear(10, DZ_F32)});
    /* conv1 8*1*3*3 + 8 = 80, conv2 16*8*3*3 + 16 = 1,168, linear 16*7*7*10 + 10 = 7,850 */
    int64_t total = 8 * 1 * 3 * 3 + 8 + 16 * 8 * 3 * 3 + 16 + 16 * 7 * 7 * 10 + 10;
    ck_assert_int_eq(total, 9098);
    assert_text(summary_for_input_text(seq, 4, DZ_SHAPE(1, 1, 28, 28), DZ_F32),
                "Layer (type)   Output shape     Param #  Dtype    Device\n"
                "========================================================\n"
                "Sequential     (1, 10)                -  -        -\n"
                "  (0) Conv2d   (1, 8, 28, 28)        80  float32  CPU\n"
                "  (1) ReLU     (1, 8, 28, 28)         -  -        -\n"
                "  (2) MaxPool  (1, 8, 14, 14)         -  -        -\n"
                "  (3) Conv2d   (1, 16, 14, 14)    1,168  float32  CPU\n"
                "  (4) ReLU     (1, 16, 14, 14)        -  -        -\n"
                "  (5) MaxPool  (1, 16, 7, 7)          -  -        -\n"
                "  (6) Flatten  (1, 784)               -  -        -\n"
                "  (7) Linear   (1, 10)            7,850  float32  CPU\n"
                "========================================================\n"
                "Total params: 9,098\n"
                "Trainable params: 9,098\n"
                "Non-trainable params: 0\n"
                "Params size: 36,392 bytes (0.04 MB)\n");
    ck_assert_int_eq(dz_layer_count_params(seq), total);
    dz_layer_free(seq);
}
END_TEST

/* Nested layers indent by depth; frozen and BatchNorm's running averages are
 * not trainable; a parameter held by two layers counts once in the totals. */
START_TEST(test_summary_of_nested_and_frozen_layers)
{
    dz_rng rng;
    dz_rng_seed(&rng, 5);
    dz_array *W = dz_array_ones(DZ_F32, 2, DZ_SHAPE(4, 3));
    dz_layer *seq = dz_sequential_of(
        4, (dz_layer *[]){dz_rnn_layer_new(4, 2, DZ_F32, &rng), dz_linear_layer_from_values(W, NULL, true),
                          dz_batch_norm_layer_new(), dz_mlp_new(1, (const int64_t[]){2}, NULL, DZ_F32, &rng)});
    dz_variable *shared = dz_layer_param(dz_layer_child(seq, "1"), "W");
    dz_layer_add_param(dz_layer_child(seq, "3"), "tied", shared);
    /* RNN: x2h 2*4 + 4 = 12, h2h 4*4 = 16 (no bias; not run on a first
     * step); Linear 4*3 = 12, frozen, also held by the MLP; BatchNorm 4 * 3
     * (avg_mean and avg_var not trainable); MLP l0 3*2 + 2 = 8 */
    int64_t total = 12 + 16 + 12 + 4 * 3 + 8, trainable = total - 12 - 2 * 3;
    ck_assert_int_eq(total, 60);
    ck_assert_int_eq(trainable, 42);
    assert_text(summary_for_input_text(seq, 2, DZ_SHAPE(5, 2), DZ_F32),
                "Layer (type)      Output shape  Param #  Dtype    Device\n"
                "========================================================\n"
                "Sequential        (5, 2)              -  -        -\n"
                "  (0) RNN         (5, 4)              -  -        -\n"
                "    (x2h) Linear  (5, 4)             12  float32  CPU\n"
                "    (h2h) Linear  -                  16  float32  CPU\n"
                "  (1) Linear      (5, 3)             12  float32  CPU\n"
                "  (2) BatchNorm   (5, 3)             12  float32  CPU\n"
                "  (3) MLP         (5, 2)             12  float32  CPU\n"
                "    (l0) Linear   (5, 2)              8  float32  CPU\n"
                "========================================================\n"
                "Total params: 60\n"
                "Trainable params: 42\n"
                "Non-trainable params: 18\n"
                "Params size: 240 bytes (0.00 MB)\n");
    dz_layer_free(seq);
    dz_array_release(W);
}
END_TEST

/* No Variable, grad or graph is left behind, the switches, the generators
 * and the parameter data are as before, and the recurrent state is cleared. */
START_TEST(test_summary_leaves_nothing_behind)
{
    dz_rng rng, dropout_rng;
    dz_rng_seed(&rng, 6);
    dz_rng_seed(&dropout_rng, 7);
    dz_layer *seq = dz_sequential_of(4, (dz_layer *[]){dz_lstm_layer_new(5, 3, DZ_F64, &rng),
                                                       dz_dropout_layer_new(0.5, &dropout_rng),
                                                       dz_batch_norm_layer_new(), lazy_linear(2, DZ_F64)});
    dz_variable *x = tc_randn(8, 2, DZ_SHAPE(4, 3)); /* no scope: ours */
    dz_variable_release(dz_layer_call(seq, x));     /* train mode: BatchNorm's averages move */
    dz_layer_reset_state(seq);
    dz_variable *fresh;
    DZ_TEST_MODE { fresh = dz_layer_call(seq, x); } /* a first step; the LSTM keeps a state of batch 4 */
    dz_param_list *p = dz_layer_params(seq);
    ck_assert_int_eq(p->count, 18);
    int refcounts[18];
    dz_array *values[18];
    for (int i = 0; i < p->count; i++) {
        refcounts[i] = p->params[i]->refcount;
        values[i] = dz_array_copy(p->params[i]->data);
    }
    dz_rng before = dropout_rng;
    dz_variable *x2 = tc_randn(9, 2, DZ_SHAPE(2, 3)); /* another batch size */
    free(summary_for_input_text(seq, 2, DZ_SHAPE(2, 3), DZ_F64));
    dz_memory_info memory = dz_memory_stats();
    free(summary_text(seq, 1, &x2));
    ck_assert_uint_eq(dz_memory_stats().in_use, memory.in_use);
    ck_assert_int_eq(x2->refcount, 1);
    ck_assert(dz_enable_backprop());
    ck_assert(dz_is_train());
    for (int k = 0; k < 4; k++)
        ck_assert_uint_eq(dropout_rng.s[k], before.s[k]);
    for (int i = 0; i < p->count; i++) {
        ck_assert_int_eq(p->params[i]->refcount, refcounts[i]);
        ck_assert_ptr_null(p->params[i]->grad);
        ck_assert_ptr_null(p->params[i]->creator);
        assert_same_values(p->params[i]->data, values[i]);
        dz_array_release(values[i]);
    }
    dz_variable *again;
    DZ_TEST_MODE { again = dz_layer_call(seq, x); } /* a first step again: the state was cleared */
    assert_same_values(again->data, fresh->data);
    dz_variable_release(again);
    dz_variable_release(fresh);
    dz_variable_release(x2);
    dz_param_list_free(p);
    dz_layer_reset_state(seq);
    ck_assert_int_eq(x->refcount, 1);
    dz_variable_release(x);
    dz_layer_free(seq);
}
END_TEST

/* An Embedding with max_norm renormalises the rows it looks up in place; the
 * summary puts them back. */
START_TEST(test_summary_puts_back_renormalised_rows)
{
    dz_embedding_options opt = dz_embedding_default_options();
    opt.has_max_norm = true;
    opt.max_norm = 1.0;
    dz_array *table = dz_array_full(DZ_F64, 2, DZ_SHAPE(3, 2), 2.0); /* rows of norm 2.83 */
    dz_layer *seq = dz_sequential_of(2, (dz_layer *[]){dz_embedding_layer_from_pretrained(table, false, &opt),
                                                       dz_flatten_layer_new()});
    assert_text(summary_for_input_text(seq, 2, DZ_SHAPE(4, 3), DZ_I64),
                "Layer (type)     Output shape  Param #  Dtype    Device\n"
                "=======================================================\n"
                "Sequential       (4, 6)              -  -        -\n"
                "  (0) Embedding  (4, 3, 2)           6  float64  CPU\n"
                "  (1) Flatten    (4, 6)              -  -        -\n"
                "=======================================================\n"
                "Total params: 6\n"
                "Trainable params: 6\n"
                "Non-trainable params: 0\n"
                "Params size: 48 bytes (0.00 MB)\n");
    ck_assert_ptr_eq(dz_layer_param(dz_layer_child(seq, "0"), "W")->data, table);
    for (int64_t i = 0; i < 6; i++)
        ck_assert_double_eq(dz_array_get(table, i), 2.0);
    /* a plain forward does renormalise row 0: what the summary undid */
    DZ_NO_GRAD
    {
        dz_scope_begin();
        dz_layer_call(seq, dz_variable_constant(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(1)), NULL));
        dz_scope_end();
    }
    ck_assert(fabs(dz_array_get(table, 0) - sqrt(0.5)) < 1e-6);
    ck_assert_double_eq(dz_array_get(table, 2), 2.0);
    dz_layer_free(seq);
    dz_array_release(table);
}
END_TEST

/* On a device: the zeros, the lazy weights and the column say GPU, and the
 * renormalised rows are put back there too. */
START_TEST(test_summary_on_the_device)
{
    if (!dz_cuda_available()) /* no device: the host cases above cover the summary */
        return;
    dz_embedding_options opt = dz_embedding_default_options();
    opt.has_max_norm = true;
    opt.max_norm = 1.0;
    dz_array *host = dz_array_full(DZ_F32, 2, DZ_SHAPE(3, 2), 2.0), *table = dz_array_to_device(host, DZ_CUDA);
    dz_layer *seq = dz_sequential_of(3, (dz_layer *[]){dz_embedding_layer_from_pretrained(table, false, &opt),
                                                       dz_flatten_layer_new(), lazy_linear(5, DZ_F32)});
    ck_assert_int_eq(dz_layer_to_gpu(seq), DZ_OK); /* the lazy Linear's b; the table is there already */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(dz_layer_summary_for_input(seq, 2, DZ_SHAPE(4, 3), DZ_I64, DZ_CUDA, f), DZ_OK);
    fclose(f);
    /* Linear 6*5 + 5 = 35 */
    assert_text(buf,
                "Layer (type)     Output shape  Param #  Dtype    Device\n"
                "=======================================================\n"
                "Sequential       (4, 5)              -  -        -\n"
                "  (0) Embedding  (4, 3, 2)           6  float32  GPU\n"
                "  (1) Flatten    (4, 6)              -  -        -\n"
                "  (2) Linear     (4, 5)             35  float32  GPU\n"
                "=======================================================\n"
                "Total params: 41\n"
                "Trainable params: 41\n"
                "Non-trainable params: 0\n"
                "Params size: 164 bytes (0.00 MB)\n");
    ck_assert_int_eq(dz_layer_param(dz_layer_child(seq, "2"), "W")->data->device, DZ_CUDA);
    ck_assert_ptr_eq(dz_layer_param(dz_layer_child(seq, "0"), "W")->data, table);
    for (int64_t i = 0; i < 6; i++)
        ck_assert_double_eq(dz_array_get(table, i), 2.0);
    dz_layer_free(seq);
    dz_array_release(table);
    dz_array_release(host);
}
END_TEST

START_TEST(test_summary_errors)
{
    tc_errors_off();
    dz_layer *seq = dz_sequential_of(1, (dz_layer *[]){linear(2, 3, DZ_F32, 1)});
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dz_clear_error();
    ck_assert_int_eq(dz_layer_summary_for_input(seq, 2, DZ_SHAPE(4, 5), DZ_F32, DZ_CPU, f), DZ_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "dz_layer_summary_for_input: this Linear layer expects"));
    ck_assert_int_eq(dz_layer_summary_for_input(seq, 2, DZ_SHAPE(4, -1), DZ_F32, DZ_CPU, f), DZ_ERR_SHAPE);
    ck_assert_int_eq(dz_layer_summary(seq, 1, NULL, f), DZ_ERR_NULL);
    ck_assert_int_eq(dz_layer_summary(seq, 0, NULL, NULL), DZ_ERR_NULL);
    fclose(f);
    ck_assert_uint_eq(len, 0); /* nothing written */
    free(buf);
    dz_layer_free(seq);
    tc_errors_on();
}
END_TEST

/* A layer or array that is NULL because its constructor failed: the call it
 * goes into reports the constructor's error, not the NULL. */
START_TEST(test_null_layer_keeps_first_error)
{
    tc_errors_off();
    const char *ctor = "dz_linear_layer_new: out_size -1 must be > 0";
    dz_clear_error();
    ck_assert_ptr_null(dz_sequential_of(2, (dz_layer *[]){dz_linear_layer_new(-1, 3, false, DZ_F32, NULL),
                                                          dz_relu_layer_new()}));
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_VALUE);
    ck_assert_msg(strncmp(dz_last_error(), ctor, strlen(ctor)) == 0, "%s", dz_last_error());
    dz_layer *seq = dz_sequential_new();
    dz_clear_error();
    ck_assert_ptr_null(dz_sequential_add(seq, dz_linear_layer_new(-1, 3, false, DZ_F32, NULL)));
    ck_assert_msg(strncmp(dz_last_error(), ctor, strlen(ctor)) == 0, "%s", dz_last_error());
    FILE *out = fopen("/dev/null", "w");
    dz_clear_error();
    ck_assert_int_eq(dz_layer_summary(dz_linear_layer_new(-1, 3, false, DZ_F32, NULL), 0, NULL, out), DZ_ERR_VALUE);
    ck_assert_msg(strncmp(dz_last_error(), ctor, strlen(ctor)) == 0, "%s", dz_last_error());
    fclose(out);
    dz_clear_error();
    dz_checkpoint c = {.model = dz_linear_layer_new(-1, 3, false, DZ_F32, NULL)};
    ck_assert_int_eq(dz_checkpoint_save("/nonexistent-directory/c.npz", &c), DZ_ERR_VALUE);
    ck_assert_msg(strncmp(dz_last_error(), ctor, strlen(ctor)) == 0, "%s", dz_last_error());
    dz_array *W = dz_array_ones(DZ_F32, 2, DZ_SHAPE(4, 3));
    dz_clear_error();
    ck_assert_ptr_null(dz_linear_layer_from_values(dz_array_reshape(W, 1, DZ_SHAPE(7)), NULL, false));
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_SHAPE);
    ck_assert_msg(strncmp(dz_last_error(), "dz_array_reshape: ", 18) == 0, "%s", dz_last_error());
    dz_array_release(W);
    dz_layer_free(seq);
    tc_errors_on();
}
END_TEST

/* A summary whose forward fails in a later layer names that layer under the
 * summary's name and leaves the model as it was: the output shapes of the
 * last forward, and lazy weights not made. */
START_TEST(test_failed_summary_changes_nothing)
{
    tc_errors_off();
    FILE *out = fopen("/dev/null", "w");
    dz_layer *seq = dz_sequential_of(2, (dz_layer *[]){dz_flatten_layer_new(), linear(2, 6, DZ_F32, 1)});
    dz_scope_begin();
    ck_assert_ptr_nonnull(dz_layer_call(seq, tc_randn(1, 3, DZ_SHAPE(5, 2, 3))));
    dz_scope_end();
    char *before = summary_text(seq, 0, NULL);
    ck_assert_ptr_nonnull(strstr(before, "(0) Flatten  (5, 6)"));
    ck_assert_int_eq(dz_layer_summary_for_input(seq, 3, DZ_SHAPE(4, 3, 3), DZ_F32, DZ_CPU, out), DZ_ERR_SHAPE);
    const char *want = "dz_layer_summary_for_input: layer '1' (Linear) of a Sequential: this Linear layer expects";
    ck_assert_msg(strncmp(dz_last_error(), want, strlen(want)) == 0, "%s", dz_last_error());
    assert_text(summary_text(seq, 0, NULL), before);
    free(before);
    dz_layer_free(seq);

    seq = dz_sequential_of(3, (dz_layer *[]){lazy_linear(4, DZ_F64), dz_tanh_layer_new(), linear(2, 3, DZ_F64, 2)});
    before = summary_text(seq, 0, NULL);
    ck_assert_int_eq(dz_layer_summary_for_input(seq, 2, DZ_SHAPE(5, 8), DZ_F64, DZ_CPU, out), DZ_ERR_SHAPE);
    ck_assert_ptr_null(dz_layer_param(dz_layer_child(seq, "0"), "W")->data);
    assert_text(summary_text(seq, 0, NULL), before);
    free(before);
    dz_layer_free(seq);
    fclose(out);
    tc_errors_on();
}
END_TEST

static Suite *sequential_suite(void)
{
    Suite *s = suite_create("sequential");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_forward_equals_hand_chained_layers);
    tcase_add_test(tc, test_function_layers_equal_their_functions);
    tcase_add_test(tc, test_gradients_through_sequential);
    tcase_add_test(tc, test_saved_keys_are_indices);
    tcase_add_test(tc, test_add_and_of_errors);
    tcase_add_test(tc, test_errors_name_the_layer);
    tcase_add_test(tc, test_linear_from_values);
    tcase_add_test(tc, test_linear_from_values_errors);
    tcase_add_test(tc, test_summary_of_an_mlp);
    tcase_add_test(tc, test_summary_of_a_lazy_model);
    tcase_add_test(tc, test_summary_of_a_cnn);
    tcase_add_test(tc, test_summary_of_nested_and_frozen_layers);
    tcase_add_test(tc, test_summary_leaves_nothing_behind);
    tcase_add_test(tc, test_summary_puts_back_renormalised_rows);
    tcase_add_test(tc, test_summary_on_the_device);
    tcase_add_test(tc, test_summary_errors);
    tcase_add_test(tc, test_null_layer_keeps_first_error);
    tcase_add_test(tc, test_failed_summary_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(sequential_suite()); }
