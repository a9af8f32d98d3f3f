/* Optimizers: every update rule against torch.optim 1.13 golden values
 * (tests/fixtures/optim_golden.h, compared bit for bit unless a test says
 * otherwise), DeZero's MomentumSGD against its formula, the hooks, sparse
 * grads, and the errors PyTorch raises. */
#include "optim_test_helpers.h"

/* ---- dense golden cases ---- */

static dz_optimizer *make_sgd(void) { return sgd_with(0.05, 0, 0, 0, false); }
static dz_optimizer *make_sgd_momentum(void) { return sgd_with(0.05, 0.9, 0.1, 0, false); }
static dz_optimizer *make_sgd_nesterov(void) { return sgd_with(0.05, 0.9, 0, 0, true); }
static dz_optimizer *make_sgd_weight_decay(void) { return sgd_with(0.05, 0.5, 0, 0.1, false); }

static dz_optimizer *make_adagrad(void)
{
    dz_adagrad_config c = dz_adagrad_defaults();
    c.lr = 0.1;
    return dz_adagrad_new(&c);
}

static dz_optimizer *make_adagrad_options(void)
{
    dz_adagrad_config c = {.lr = 0.1, .lr_decay = 0.05, .weight_decay = 0.1, .initial_accumulator_value = 0.2,
                           .eps = 1e-6};
    return dz_adagrad_new(&c);
}

static dz_optimizer *make_adadelta(void)
{
    dz_adadelta_config c = {.lr = 1.0, .rho = 0.9, .eps = 1e-6, .weight_decay = 0.05};
    return dz_adadelta_new(&c);
}

static dz_optimizer *make_adam(void) { return adam_with(false, 0.9, 0.999, 0, false); }
static dz_optimizer *make_adam_weight_decay(void) { return adam_with(false, 0.8, 0.99, 0.1, false); }
static dz_optimizer *make_adam_amsgrad(void) { return adam_with(false, 0.9, 0.999, 0, true); }
static dz_optimizer *make_adamw(void) { return adam_with(true, 0.9, 0.999, 0.1, false); }
static dz_optimizer *make_adamw_amsgrad(void) { return adam_with(true, 0.9, 0.999, 0.1, true); }
static dz_optimizer *make_adam_f64(void) { return adam_with(false, 0.9, 0.999, 0.1, false); }

typedef struct {
    const char *name;
    dz_optimizer *(*make)(void);
    dz_dtype dtype;
    const void *golden; /* [GOLDEN_STEPS][16] of float or double */
} dense_case;

static const dense_case dense_cases[] = {
    {"sgd", make_sgd, DZ_F32, golden_sgd},
    {"sgd_momentum", make_sgd_momentum, DZ_F32, golden_sgd_momentum},
    {"sgd_nesterov", make_sgd_nesterov, DZ_F32, golden_sgd_nesterov},
    {"sgd_weight_decay", make_sgd_weight_decay, DZ_F32, golden_sgd_weight_decay},
    {"adagrad", make_adagrad, DZ_F32, golden_adagrad},
    {"adagrad_options", make_adagrad_options, DZ_F32, golden_adagrad_options},
    {"adadelta", make_adadelta, DZ_F32, golden_adadelta},
    {"adam", make_adam, DZ_F32, golden_adam},
    {"adam_weight_decay", make_adam_weight_decay, DZ_F32, golden_adam_weight_decay},
    {"adam_amsgrad", make_adam_amsgrad, DZ_F32, golden_adam_amsgrad},
    {"adamw", make_adamw, DZ_F32, golden_adamw},
    {"adamw_amsgrad", make_adamw_amsgrad, DZ_F32, golden_adamw_amsgrad},
    {"sgd_momentum_f64", make_sgd_momentum, DZ_F64, golden_sgd_momentum_f64},
    {"adam_f64", make_adam_f64, DZ_F64, golden_adam_f64},
};
#define NUM_DENSE_CASES ((int)(sizeof dense_cases / sizeof dense_cases[0]))

static double golden_at(const dense_case *c, int step, int i)
{
    if (c->dtype == DZ_F32)
        return ((const float(*)[16])c->golden)[step][i];
    return ((const double(*)[16])c->golden)[step][i];
}

/* With the fused kernels off, the composites of Adagrad, Adadelta and Adam
 * round the running sums of g^2 twice where PyTorch rounds once: they
 * promise TC_COMPOSITE_RTOL, not bits. W's 12 elements, then b's 4. */
static void assert_params_close(const dense_case *c, dz_layer *model, int step, const char *what)
{
    for (int i = 0; i < 16; i++) {
        double got = i < 12 ? dz_array_get(toy_w(model)->data, i) : dz_array_get(toy_b(model)->data, i - 12);
        ck_assert_msg(tc_close_float(got, golden_at(c, step, i)), "%s element %d: got %.9g, expected %.9g", what, i,
                      got, golden_at(c, step, i));
    }
}

static void assert_params_at(const dense_case *c, dz_layer *model, int step)
{
    char what[64];
    snprintf(what, sizeof what, "%s step %d W", c->name, step + 1);
    if (tc_fused_off) {
        assert_params_close(c, model, step, what);
    } else if (c->dtype == DZ_F32) {
        const float(*golden)[16] = c->golden;
        assert_bits(toy_w(model)->data, 0, golden[step], 12, what);
        assert_bits(toy_b(model)->data, 0, golden[step] + 12, 4, what);
    } else {
        const double(*golden)[16] = c->golden;
        assert_bits64(toy_w(model)->data, 0, golden[step], 12, what);
        assert_bits64(toy_b(model)->data, 0, golden[step] + 12, 4, what);
    }
}

START_TEST(test_dense_matches_torch)
{
    const dense_case *c = &dense_cases[_i];
    dz_layer *model = toy_new(c->dtype);
    dz_optimizer *opt = c->make();
    ck_assert_int_eq(dz_optimizer_setup(opt, model), DZ_OK);
    for (int step = 0; step < GOLDEN_STEPS; step++) {
        toy_backward(model);
        ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
        assert_params_at(c, model, step);
    }
    ck_assert_int_eq(dz_optimizer_step_count(opt, 0), GOLDEN_STEPS);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}
END_TEST

/* ---- DeZero's MomentumSGD against its formula in float32 ---- */

START_TEST(test_momentum_sgd_dezero_formula)
{
    const float lr = 0.05f, momentum = 0.9f;
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = dz_momentum_sgd_new(0.05, 0.9);
    dz_optimizer_setup(opt, model);
    float w[12], v[12] = {0};
    memcpy(w, golden_w0, sizeof w);
    for (int step = 0; step < GOLDEN_STEPS; step++) {
        toy_backward(model);
        const float *g = toy_w(model)->grad->data->data;
        for (int i = 0; i < 12; i++) {
            v[i] *= momentum;   /* v *= momentum */
            v[i] -= lr * g[i];  /* v -= lr * grad */
            w[i] += v[i];       /* param += v */
        }
        dz_optimizer_update(opt);
        assert_bits(toy_w(model)->data, 0, w, 12, "MomentumSGD W");
    }
    assert_bits(dz_optimizer_state(opt, 0, "velocity"), 0, v, 12, "MomentumSGD velocity");
    dz_optimizer_free(opt);
    dz_layer_free(model);
}
END_TEST

/* ---- vector lanes against the one-element path ---- */

#define LANES_N 45 /* a 32-float vector body, then 8-, 4-wide and scalar tails */
#define LANES_STEPS 4

static dz_optimizer *make_momentum_sgd(void) { return dz_momentum_sgd_new(0.05, 0.9); }

/* Parameter data for the lanes test: random, with a signed zero and a
 * grad that vanishes at some steps (AMSGrad's maximum then holds). */
static dz_array *lanes_values(dz_rng *rng, dz_dtype dtype, int step, bool grad)
{
    dz_array *a = dz_array_normal(rng, dtype, 1, DZ_SHAPE(LANES_N), 0, grad ? 1 : 0.5);
    dz_array_set(a, 7, -0.0);
    if (grad && step % 2 == 1)
        for (int64_t i = 0; i < LANES_N; i += 3)
            dz_array_set(a, i, 0);
    return a;
}

/* One update of LANES_N elements (the kernel's vector loop) equals LANES_N
 * updates of one element (its scalar tail), bit for bit, for every rule. */
START_TEST(test_vector_lanes_match_one_element)
{
    const dense_case *c = &dense_cases[_i % NUM_DENSE_CASES];
    dz_optimizer *(*make)(void) = _i < NUM_DENSE_CASES ? c->make : make_momentum_sgd;
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    dz_array *p0 = lanes_values(&rng, c->dtype, 0, false);
    dz_variable *whole = parameter(dz_array_copy(p0), "whole"), *single[LANES_N];
    dz_optimizer *vector = make(), *scalar = make();
    dz_optimizer_add_params(vector, 1, &whole);
    for (int i = 0; i < LANES_N; i++) {
        single[i] = parameter(dz_array_full(c->dtype, 1, DZ_SHAPE(1), dz_array_get(p0, i)), NULL);
        dz_optimizer_add_params(scalar, 1, &single[i]);
    }
    for (int step = 0; step < LANES_STEPS; step++) {
        dz_array *g = lanes_values(&rng, c->dtype, step, true);
        for (int i = 0; i < LANES_N; i++)
            set_dense_grad(single[i], dz_array_full(c->dtype, 1, DZ_SHAPE(1), dz_array_get(g, i)));
        set_dense_grad(whole, g);
        ck_assert_int_eq(dz_optimizer_update(vector), DZ_OK);
        ck_assert_int_eq(dz_optimizer_update(scalar), DZ_OK);
        for (int i = 0; i < LANES_N; i++) {
            double a = dz_array_get(whole->data, i), b = dz_array_get(single[i]->data, 0);
            ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s step %d element %d: %a (vector) != %a (scalar)",
                          _i < NUM_DENSE_CASES ? c->name : "momentum_sgd", step + 1, i, a, b);
        }
    }
    for (int i = 0; i < LANES_N; i++)
        dz_variable_release(single[i]);
    dz_variable_release(whole);
    dz_array_release(p0);
    dz_optimizer_free(vector);
    dz_optimizer_free(scalar);
}
END_TEST

/* ---- hooks ---- */

START_TEST(test_weight_decay_hook)
{
    dz_layer *model = toy_new(DZ_F32), *twin = toy_new(DZ_F32);
    dz_optimizer *opt = make_sgd(), *plain = make_sgd();
    dz_optimizer_setup(opt, model);
    dz_optimizer_setup(plain, twin);
    dz_optimizer_add_hook(opt, dz_weight_decay_hook(0.25));
    for (int step = 0; step < 3; step++) {
        toy_backward(model);
        toy_backward(twin);
        dz_variable *g_before = dz_variable_retain(toy_w(model)->grad);
        dz_array *expected_grad[2];
        for (int k = 0; k < 2; k++) { /* g + rate*p by hand, in float32 */
            dz_variable *p = k ? toy_b(twin) : toy_w(twin);
            expected_grad[k] = dz_array_copy(p->grad->data);
            for (int64_t i = 0; i < p->data->size; i++) {
                float decay = 0.25f * ((float *)p->data->data)[i];
                ((float *)expected_grad[k]->data)[i] += decay;
            }
            set_dense_grad(p, expected_grad[k]);
        }
        dz_array *g_copy = dz_array_copy(g_before->data);
        dz_optimizer_update(opt);
        dz_optimizer_update(plain);
        assert_bits(g_before->data, 0, g_copy->data, 12, "the original grad is left alone");
        assert_bits(toy_w(model)->data, 0, toy_w(twin)->data->data, 12, "W with WeightDecay");
        assert_bits(toy_b(model)->data, 0, toy_b(twin)->data->data, 4, "b with WeightDecay");
        dz_array_release(g_copy);
        dz_variable_release(g_before);
    }
    dz_optimizer_free(opt);
    dz_optimizer_free(plain);
    dz_layer_free(model);
    dz_layer_free(twin);
}
END_TEST

START_TEST(test_clip_grad_hook)
{
    dz_variable *a = parameter(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2)), "a");
    dz_variable *b = parameter(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(1)), "b");
    dz_sgd_config c = dz_sgd_defaults();
    c.lr = 1;
    dz_optimizer *opt = dz_sgd_new(&c);
    dz_optimizer_add_params(opt, 2, (dz_variable *[]){a, b});
    dz_optimizer_hook *clip = dz_clip_grad_hook(1.3);
    dz_optimizer_add_hook(opt, clip);
    set_dense_grad(a, dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(2), (float[]){3, 4}));
    set_dense_grad(b, dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(1), (float[]){12}));
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
    ck_assert_double_eq(dz_clip_grad_last_norm(clip), 13); /* sqrt(9 + 16 + 144) */
    float rate = (float)(1.3 / (13 + 1e-6));
    assert_bits(a->data, 0, (float[]){-3 * rate, -4 * rate}, 2, "a after clipping");
    assert_bits(b->data, 0, (float[]){-12 * rate}, 1, "b after clipping");
    /* under max_norm: grads are used as they are */
    set_dense_grad(a, dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(2), (float[]){0.3f, 0.4f}));
    dz_variable_cleargrad(b);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
    ck_assert_double_eq_tol(dz_clip_grad_last_norm(clip), 0.5, 1e-7);
    assert_bits(a->data, 0, (float[]){-3 * rate - 0.3f, -4 * rate - 0.4f}, 2, "a unclipped");
    dz_optimizer_free(opt);
    dz_variable_release(a);
    dz_variable_release(b);
}
END_TEST

START_TEST(test_freeze_hooks)
{
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = make_adam();
    dz_optimizer_setup(opt, model);
    dz_optimizer_add_hook(opt, dz_freeze_params_hook(1, (dz_variable *[]){toy_w(model)}));
    toy_backward(model);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
    assert_bits(toy_w(model)->data, 0, &golden_w0[0][0], 12, "frozen W");
    ck_assert_msg(bits32(((float *)toy_b(model)->data->data)[0]) != bits32(golden_b0[0]), "b must move");
    ck_assert_int_eq(dz_optimizer_step_count(opt, 0), 0);
    ck_assert_ptr_null(dz_optimizer_state(opt, 0, "exp_avg"));
    dz_optimizer_free(opt);

    opt = make_adam(); /* freezing the whole layer: nothing moves, nothing crashes */
    dz_optimizer_setup(opt, model);
    dz_optimizer_add_hook(opt, dz_freeze_layer_hook(model));
    dz_array *b_before = dz_array_copy(toy_b(model)->data);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
    assert_bits(toy_b(model)->data, 0, b_before->data, 4, "frozen b");
    dz_array_release(b_before);
    dz_optimizer_free(opt);
    dz_layer_free(model);
}
END_TEST

START_TEST(test_hooks_run_in_order)
{
    /* ClipGrad after WeightDecay sees the decayed grad: norm of (3+0.5*2, 4) = sqrt(32) */
    dz_variable *a = parameter(dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(2), (float[]){2, 0}), "a");
    dz_optimizer *opt = make_sgd();
    dz_optimizer_add_params(opt, 1, &a);
    dz_optimizer_add_hook(opt, dz_weight_decay_hook(0.5));
    dz_optimizer_hook *clip = dz_clip_grad_hook(100);
    dz_optimizer_add_hook(opt, clip);
    set_dense_grad(a, dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(2), (float[]){3, 4}));
    dz_optimizer_update(opt);
    ck_assert_double_eq_tol(dz_clip_grad_last_norm(clip), sqrt(32), 1e-12);
    dz_optimizer_free(opt);
    dz_variable_release(a);
}
END_TEST

/* ---- sparse grads ---- */

static dz_optimizer *make_sparse_adam(void)
{
    dz_sparse_adam_config c = dz_sparse_adam_defaults();
    c.lr = 0.01;
    return dz_sparse_adam_new(&c);
}

static dz_optimizer *make_sparse_adagrad(void)
{
    dz_adagrad_config c = dz_adagrad_defaults();
    c.lr = 0.1;
    c.lr_decay = 0.01;
    c.initial_accumulator_value = 0.1;
    return dz_adagrad_new(&c);
}

static dz_optimizer *make_sparse_sgd(void) { return sgd_with(0.1, 0, 0, 0, false); }
static dz_optimizer *make_sparse_sgd_momentum(void) { return sgd_with(0.1, 0.9, 0.1, 0, false); }
static dz_optimizer *make_sparse_sgd_nesterov(void) { return sgd_with(0.1, 0.9, 0, 0, true); }

typedef struct {
    const char *name;
    dz_optimizer *(*make)(void);
    const float (*golden)[18];
    double rel_tol; /* 0: bit for bit */
} sparse_case;

/* Sparse momentum sums duplicate rows before updating; PyTorch adds them one by
 * one into its sparse buffer: same values up to a few ulp. */
static const sparse_case sparse_cases[] = {
    {"sparse_adam", make_sparse_adam, golden_sparse_adam, 0},
    {"sparse_adagrad", make_sparse_adagrad, golden_sparse_adagrad, 0},
    {"sparse_sgd", make_sparse_sgd, golden_sparse_sgd, 0},
    {"sparse_sgd_momentum", make_sparse_sgd_momentum, golden_sparse_sgd_momentum, 4e-7},
    {"sparse_sgd_nesterov", make_sparse_sgd_nesterov, golden_sparse_sgd_nesterov, 4e-7},
};
#define NUM_SPARSE_CASES ((int)(sizeof sparse_cases / sizeof sparse_cases[0]))

START_TEST(test_sparse_matches_torch)
{
    const sparse_case *c = &sparse_cases[_i];
    dz_variable *w = table();
    dz_optimizer *opt = c->make();
    dz_optimizer_add_params(opt, 1, &w);
    for (int step = 0; step < GOLDEN_SPARSE_STEPS; step++) {
        set_sparse_grad(w, golden_sparse_grad(step));
        ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
        if (c->rel_tol == 0)
            assert_bits(w->data, 0, c->golden[step], 18, c->name);
        else
            assert_close(w->data, c->golden[step], 18, c->rel_tol, c->name);
    }
    /* rows 2 and 3 are in no grad: they never move */
    assert_bits(w->data, 6, &golden_s0[2][0], 6, "untouched rows");
    dz_optimizer_free(opt);
    dz_variable_release(w);
}
END_TEST

/* The reference's vectors G5-G8 (torch_embedding.md §5.2, fp32 bit patterns). */
static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

START_TEST(test_reference_vectors)
{
    /* G5: Adam, zeros(1,4), lr 1e-3, grad [1,-2,1e-8,0], two steps */
    dz_variable *p = parameter(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(1, 4)), "p");
    dz_optimizer *opt = dz_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &p);
    for (int step = 0; step < 2; step++) {
        set_dense_grad(p, dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(1, 4), (float[]){1, -2, 1e-8f, 0}));
        dz_optimizer_update(opt);
    }
    assert_bits(p->data, 0,
                (float[]){from_bits(0xbb03126e), from_bits(0x3b03126e), from_bits(0xba83126e), 0}, 4, "G5");
    dz_optimizer_free(opt);
    dz_variable_release(p);

    /* G6: SparseAdam, zeros(3,2), lr 1e-3, rows [0,2,2] */
    p = parameter(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(3, 2)), "p");
    opt = dz_sparse_adam_new(NULL);
    dz_optimizer_add_params(opt, 1, &p);
    set_sparse_grad(p, sparse_grad(3, 3, (int64_t[]){0, 2, 2}, 2, (float[]){1, -2, .5f, .5f, .25f, 1e-8f}));
    dz_optimizer_update(opt);
    assert_bits(p->data, 0,
                (float[]){from_bits(0xba83126b), from_bits(0x3a83126d), 0, 0, from_bits(0xba83126b),
                          from_bits(0xba831269)}, 6, "G6");
    dz_optimizer_free(opt);
    dz_variable_release(p);

    /* G7: SGD, ones(3,2), lr 0.1, rows [0,2,2], grad ones: row 2 is 1 - .1 - .1 */
    p = parameter(dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 2)), "p");
    opt = sgd_with(0.1, 0, 0, 0, false);
    dz_optimizer_add_params(opt, 1, &p);
    set_sparse_grad(p, sparse_grad(3, 3, (int64_t[]){0, 2, 2}, 2, (float[]){1, 1, 1, 1, 1, 1}));
    dz_optimizer_update(opt);
    float g7a = from_bits(0x3f666666), g7b = from_bits(0x3f4ccccc);
    assert_bits(p->data, 0, (float[]){g7a, g7a, 1, 1, g7b, g7b}, 6, "G7");
    dz_optimizer_free(opt);
    dz_variable_release(p);

    /* G8: Adagrad, ones(3,2), lr 0.1, rows [0,2,2] */
    p = parameter(dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 2)), "p");
    dz_adagrad_config c = dz_adagrad_defaults();
    c.lr = 0.1;
    opt = dz_adagrad_new(&c);
    dz_optimizer_add_params(opt, 1, &p);
    set_sparse_grad(p, sparse_grad(3, 3, (int64_t[]){0, 2, 2}, 2, (float[]){1, -2, .5f, .5f, .25f, 3}));
    dz_optimizer_update(opt);
    float g8a = from_bits(0x3f666666), g8b = from_bits(0x3f8ccccd);
    assert_bits(p->data, 0, (float[]){g8a, g8b, 1, 1, g8a, g8a}, 6, "G8");
    dz_optimizer_free(opt);
    dz_variable_release(p);
}
END_TEST

/* The dense grad that the sparse grad of step `step` stands for. */
static dz_array *densify(int step)
{
    dz_sparse_grad *g = golden_sparse_grad(step);
    dz_array *dense = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(6, 3));
    for (int64_t k = 0; k < g->indices->size; k++)
        for (int j = 0; j < 3; j++)
            ((float *)dense->data)[((int64_t *)g->indices->data)[k] * 3 + j] +=
                ((float *)g->values->data)[k * 3 + j];
    dz_sparse_grad_free(g);
    return dense;
}

START_TEST(test_sparse_sgd_equals_dense_sgd)
{
    dz_optimizer *(*makers[])(void) = {make_sparse_sgd, make_sparse_sgd_momentum, make_sparse_sgd_nesterov};
    for (int k = 0; k < 3; k++) {
        dz_variable *sparse_w = table(), *dense_w = table();
        dz_optimizer *sparse_opt = makers[k](), *dense_opt = makers[k]();
        dz_optimizer_add_params(sparse_opt, 1, &sparse_w);
        dz_optimizer_add_params(dense_opt, 1, &dense_w);
        for (int step = 0; step < GOLDEN_SPARSE_STEPS; step++) {
            set_sparse_grad(sparse_w, golden_sparse_grad(step));
            set_dense_grad(dense_w, densify(step));
            dz_optimizer_update(sparse_opt);
            dz_optimizer_update(dense_opt);
            /* step 0 of plain SGD has a repeated row (1 - lr*a - lr*b vs 1 - lr*(a+b)) */
            assert_close(sparse_w->data, dense_w->data->data, 18, 2.5e-7, "sparse vs dense SGD");
        }
        dz_optimizer_free(sparse_opt);
        dz_optimizer_free(dense_opt);
        dz_variable_release(sparse_w);
        dz_variable_release(dense_w);
    }
}
END_TEST

START_TEST(test_sparse_sgd_without_duplicates_is_exact)
{
    dz_variable *sparse_w = table(), *dense_w = table();
    dz_optimizer *sparse_opt = make_sparse_sgd_momentum(), *dense_opt = make_sparse_sgd_momentum();
    dz_optimizer_add_params(sparse_opt, 1, &sparse_w);
    dz_optimizer_add_params(dense_opt, 1, &dense_w);
    for (int step = 0; step < 4; step++) { /* rows 4 and 0, every step: the buffer covers exactly them */
        set_sparse_grad(sparse_w, sparse_grad(6, 2, golden_sparse_rows1, 3, &golden_sparse_values1[0][0]));
        set_dense_grad(dense_w, densify(1));
        dz_optimizer_update(sparse_opt);
        dz_optimizer_update(dense_opt);
        assert_bits(sparse_w->data, 0, dense_w->data->data, 18, "sparse vs dense momentum");
    }
    dz_optimizer_free(sparse_opt);
    dz_optimizer_free(dense_opt);
    dz_variable_release(sparse_w);
    dz_variable_release(dense_w);
}
END_TEST

START_TEST(test_coalesced_grads_are_used_as_they_are)
{
    dz_optimizer *(*makers[])(void) = {make_sparse_adam, make_sparse_adagrad, make_sparse_sgd_nesterov};
    for (int k = 0; k < 3; k++) {
        dz_variable *marked = table(), *plain = table();
        dz_optimizer *a = makers[k](), *b = makers[k]();
        dz_optimizer_add_params(a, 1, &marked);
        dz_optimizer_add_params(b, 1, &plain);
        for (int step = 0; step < 2; step++) {
            dz_sparse_grad *g = sparse_grad(6, 2, (int64_t[]){0, 4}, 3, &golden_sparse_values1[0][0]);
            g->coalesced = true;
            set_sparse_grad(marked, g);
            set_sparse_grad(plain, sparse_grad(6, 2, (int64_t[]){0, 4}, 3, &golden_sparse_values1[0][0]));
            dz_optimizer_update(a);
            dz_optimizer_update(b);
        }
        assert_bits(marked->data, 0, plain->data->data, 18, "coalesced grad");
        dz_optimizer_free(a);
        dz_optimizer_free(b);
        dz_variable_release(marked);
        dz_variable_release(plain);
    }
}
END_TEST

START_TEST(test_sparse_momentum_after_dense_step)
{
    /* after a dense step the buffer's rows are unknown: the sparse steps after it must still decay and
     * apply row 1, which only the dense step touched */
    dz_variable *sparse_w = table(), *dense_w = table();
    dz_optimizer *sparse_opt = make_sparse_sgd_momentum(), *dense_opt = make_sparse_sgd_momentum();
    dz_optimizer_add_params(sparse_opt, 1, &sparse_w);
    dz_optimizer_add_params(dense_opt, 1, &dense_w);
    for (int step = 0; step < GOLDEN_SPARSE_STEPS; step++) {
        if (step == 0)
            set_dense_grad(sparse_w, densify(step));
        else
            set_sparse_grad(sparse_w, golden_sparse_grad(step));
        set_dense_grad(dense_w, densify(step));
        dz_optimizer_update(sparse_opt);
        dz_optimizer_update(dense_opt);
        assert_close(sparse_w->data, dense_w->data->data, 18, 2.5e-7, "dense, then sparse momentum");
    }
    dz_optimizer_free(sparse_opt);
    dz_optimizer_free(dense_opt);
    dz_variable_release(sparse_w);
    dz_variable_release(dense_w);
}
END_TEST

START_TEST(test_sparse_grad_errors)
{
    tc_errors_off();
    dz_variable *w = table();
    dz_optimizer *(*dense_only[])(void) = {make_adam, make_adamw, make_adadelta};
    const char *messages[] = {"Adam does not support sparse gradients, please consider SparseAdam instead",
                              "AdamW does not support sparse gradients",
                              "Adadelta does not support sparse gradients"};
    for (int k = 0; k < 3; k++) {
        dz_optimizer *opt = dense_only[k]();
        dz_optimizer_add_params(opt, 1, &w);
        set_sparse_grad(w, golden_sparse_grad(0));
        ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(dz_last_error(), messages[k]) && strstr(dz_last_error(), "'emb/W'"), "%s",
                      dz_last_error());
        dz_optimizer_free(opt);
    }
    dz_optimizer *opt = dz_momentum_sgd_new(0.1, 0.9);
    dz_optimizer_add_params(opt, 1, &w);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dz_last_error(), "MomentumSGD does not support sparse"), "%s", dz_last_error());
    dz_optimizer_free(opt);

    opt = sgd_with(0.1, 0, 0, 0.01, false);
    dz_optimizer_add_params(opt, 1, &w);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dz_last_error(), "weight_decay"), "%s", dz_last_error());
    dz_optimizer_free(opt);

    dz_adagrad_config ac = dz_adagrad_defaults();
    ac.weight_decay = 0.1;
    opt = dz_adagrad_new(&ac);
    dz_optimizer_add_params(opt, 1, &w);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dz_last_error(), "weight_decay option is not compatible with sparse gradients"), "%s",
                  dz_last_error());
    dz_optimizer_free(opt);

    opt = make_sparse_adam(); /* a dense grad */
    dz_optimizer_add_params(opt, 1, &w);
    set_dense_grad(w, densify(0));
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dz_last_error(), "SparseAdam does not support dense gradients, please consider Adam "
                                          "instead"), "%s", dz_last_error());
    set_sparse_grad(w, sparse_grad(6, 2, (int64_t[]){1, 6}, 3, (float[]){1, 1, 1, 1, 1, 1}));
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_INDEX);
    ck_assert_msg(strstr(dz_last_error(), "row index 6"), "%s", dz_last_error());
    dz_sparse_grad *unsorted = sparse_grad(6, 2, (int64_t[]){4, 1}, 3, (float[]){1, 1, 1, 1, 1, 1});
    unsorted->coalesced = true;
    set_sparse_grad(w, unsorted);
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_VALUE);
    ck_assert_msg(strstr(dz_last_error(), "marked coalesced"), "%s", dz_last_error());
    dz_optimizer_free(opt);

    assert_bits(w->data, 0, &golden_s0[0][0], 18, "no failed update moves the table");
    dz_variable_release(w);
    tc_errors_on();
}
END_TEST

/* ---- the notebook experiment and first-step behaviour ---- */

START_TEST(test_notebook_adam_moves_touched_rows_by_lr)
{
    dz_variable *w = parameter(array_of(DZ_F32, 2, DZ_SHAPE(10, 3), &golden_n0[0][0]), "embedding/W");
    dz_array *g = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(10, 3));
    for (int j = 0; j < 3; j++)
        ((float *)g->data)[2 * 3 + j] = ((float *)g->data)[5 * 3 + j] = 1;
    set_dense_grad(w, g);
    dz_adam_config c = dz_adam_defaults();
    c.lr = 0.1;
    dz_optimizer *opt = dz_adam_new(&c);
    dz_optimizer_add_params(opt, 1, &w);
    dz_optimizer_update(opt);
    assert_bits(w->data, 0, golden_notebook, 30, "notebook");
    for (int r = 0; r < 10; r++)
        for (int j = 0; j < 3; j++) {
            double moved = golden_n0[r][j] - dz_array_get(w->data, r * 3 + j);
            if (r == 2 || r == 5)
                ck_assert_msg(fabs(moved - 0.1) < 1e-6, "row %d moved by %.9g", r, moved);
            else
                ck_assert_msg(moved == 0, "row %d moved by %.9g", r, moved);
        }
    dz_optimizer_free(opt);
    dz_variable_release(w);
}
END_TEST

/* ---- configuration, bookkeeping, errors ---- */

START_TEST(test_config_errors)
{
    tc_errors_off();
    ck_assert_ptr_null(sgd_with(-1, 0, 0, 0, false));
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_VALUE);
    ck_assert_ptr_null(sgd_with(0.1, 0.9, 0.1, 0, true));
    ck_assert_msg(strstr(dz_last_error(), "Nesterov momentum requires a momentum and zero dampening"), "%s",
                  dz_last_error());
    ck_assert_ptr_null(adam_with(false, 1.0, 0.999, 0, false));
    ck_assert_msg(strstr(dz_last_error(), "Invalid beta parameter at index 0"), "%s", dz_last_error());
    dz_sparse_adam_config s = dz_sparse_adam_defaults();
    s.lr = 0;
    ck_assert_ptr_null(dz_sparse_adam_new(&s));
    dz_adadelta_config d = dz_adadelta_defaults();
    d.rho = 1.5;
    ck_assert_ptr_null(dz_adadelta_new(&d));
    ck_assert_ptr_null(dz_weight_decay_hook(-1));
    tc_errors_on();
}
END_TEST

START_TEST(test_bookkeeping)
{
    tc_errors_off();
    dz_layer *model = toy_new(DZ_F32);
    dz_optimizer *opt = make_adam();
    ck_assert_int_eq(dz_optimizer_setup(opt, model), DZ_OK);
    ck_assert_int_eq(dz_optimizer_setup(opt, model), DZ_ERR_VALUE); /* each parameter once */
    ck_assert_int_eq(dz_optimizer_param_count(opt), 2);
    ck_assert_str_eq(dz_optimizer_param_path(opt, 1), "b");
    ck_assert_str_eq(dz_optimizer_name(opt), "Adam");
    dz_optimizer_set_lr(opt, 0.5);
    ck_assert_double_eq(dz_optimizer_lr(opt), 0.5);

    /* a parameter without a grad is skipped; one with a wrong grad stops the update before any change */
    toy_backward(model);
    dz_variable_cleargrad(toy_b(model));
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_OK);
    ck_assert_int_eq(dz_optimizer_step_count(opt, 0), 1);
    ck_assert_int_eq(dz_optimizer_step_count(opt, 1), 0);
    ck_assert_ptr_nonnull(dz_optimizer_state(opt, 0, "exp_avg"));
    ck_assert_ptr_null(dz_optimizer_state(opt, 0, "max_exp_avg_sq"));
    ck_assert_ptr_null(dz_optimizer_state(opt, 1, "exp_avg"));
    dz_array *w_before = dz_array_copy(toy_w(model)->data);
    set_dense_grad(toy_b(model), dz_array_zeros(DZ_F32, 1, DZ_SHAPE(5)));
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_SHAPE);
    ck_assert_msg(strstr(dz_last_error(), "'b'"), "%s", dz_last_error());
    assert_bits(toy_w(model)->data, 0, w_before->data, 12, "W after a failed update");
    set_dense_grad(toy_b(model), dz_array_zeros(DZ_F64, 1, DZ_SHAPE(4)));
    ck_assert_int_eq(dz_optimizer_update(opt), DZ_ERR_DTYPE);
    ck_assert_int_eq(dz_optimizer_to_device(opt, DZ_CPU), DZ_OK);
    dz_array_release(w_before);

    dz_variable *bare = parameter(dz_array_zeros(DZ_F32, 0, NULL), NULL);
    ck_assert_int_eq(dz_optimizer_add_params(opt, 1, &bare), DZ_OK);
    ck_assert_str_eq(dz_optimizer_param_path(opt, 2), "param2");
    dz_variable_release(bare);
    dz_optimizer_free(opt);
    dz_layer_free(model);
    tc_errors_on();
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *golden = tcase_create("golden");
    tcase_add_loop_test(golden, test_dense_matches_torch, 0, NUM_DENSE_CASES);
    tcase_add_loop_test(golden, test_sparse_matches_torch, 0, NUM_SPARSE_CASES);
    tcase_add_test(golden, test_reference_vectors);
    tcase_add_test(golden, test_notebook_adam_moves_touched_rows_by_lr);
    tcase_add_test(golden, test_momentum_sgd_dezero_formula);
    tcase_add_loop_test(golden, test_vector_lanes_match_one_element, 0, NUM_DENSE_CASES + 1);
    suite_add_tcase(s, golden);
    TCase *hooks = tcase_create("hooks");
    tcase_add_test(hooks, test_weight_decay_hook);
    tcase_add_test(hooks, test_clip_grad_hook);
    tcase_add_test(hooks, test_freeze_hooks);
    tcase_add_test(hooks, test_hooks_run_in_order);
    suite_add_tcase(s, hooks);
    TCase *sparse = tcase_create("sparse");
    tcase_add_test(sparse, test_sparse_sgd_equals_dense_sgd);
    tcase_add_test(sparse, test_sparse_sgd_without_duplicates_is_exact);
    tcase_add_test(sparse, test_coalesced_grads_are_used_as_they_are);
    tcase_add_test(sparse, test_sparse_momentum_after_dense_step);
    tcase_add_test(sparse, test_sparse_grad_errors);
    suite_add_tcase(s, sparse);
    TCase *api = tcase_create("api");
    tcase_add_test(api, test_config_errors);
    tcase_add_test(api, test_bookkeeping);
    suite_add_tcase(s, api);
    return s;
}

int main(void) { return tc_run(optim_suite()); }
