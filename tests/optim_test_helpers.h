/* Helpers shared by the optimizer suites (test_optim.c, test_optim_state.c):
 * arrays from the golden values, bitwise checks, hand-made sparse grads, and
 * the small model of tests/fixtures/optim_golden.h. */
#ifndef OPTIM_TEST_HELPERS_H
#define OPTIM_TEST_HELPERS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dezero/optim.h"
#include "dezero/sparse_grad.h"
#include "fixtures/optim_golden.h"
#include "test_common.h"

/* ---- helpers ---- */

static inline dz_array *array_of(dz_dtype dtype, int ndim, const int64_t *shape, const float *values)
{
    dz_array *a = dz_array_from_buffer(DZ_F32, ndim, shape, values);
    dz_array *b = dz_array_astype(a, dtype);
    dz_array_release(a);
    return b;
}

static inline uint32_t bits32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Element i of `a` equals expected[i] bit for bit, for every i < n. */
static inline void assert_bits(const dz_array *a, int64_t offset, const float *expected, int64_t n,
                               const char *what)
{
    const float *got = (const float *)a->data + offset;
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(bits32(got[i]) == bits32(expected[i]), "%s element %lld: got %a, expected %a", what,
                      (long long)i, (double)got[i], (double)expected[i]);
}

static inline void assert_bits64(const dz_array *a, int64_t offset, const double *expected, int64_t n,
                                 const char *what)
{
    const double *got = (const double *)a->data + offset;
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &expected[i], 8) == 0, "%s element %lld: got %a, expected %a", what,
                      (long long)i, got[i], expected[i]);
}

static inline void assert_close(const dz_array *a, const float *expected, int64_t n, double rel, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double got = dz_array_get(a, i), want = expected[i];
        ck_assert_msg(fabs(got - want) <= rel * fabs(want) + 1e-30, "%s element %lld: got %.9g, expected %.9g",
                      what, (long long)i, got, want);
    }
}

/* A (num_rows, D) sparse grad: rows[k] gets values[k*D .. k*D+D-1]. */
static inline dz_sparse_grad *sparse_grad(int64_t num_rows, int64_t nnz, const int64_t *rows, int64_t d,
                                   const float *values)
{
    dz_sparse_grad *g = calloc(1, sizeof *g);
    g->indices = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(nnz), rows);
    g->values = dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(nnz, d), values);
    g->num_rows = num_rows;
    return g;
}

static inline void set_sparse_grad(dz_variable *p, dz_sparse_grad *g)
{
    dz_variable_cleargrad(p);
    p->sparse_grad = g;
}

static inline void set_dense_grad(dz_variable *p, dz_array *g)
{
    dz_variable_cleargrad(p);
    dz_scope_begin();
    dz_variable_set_grad(p, dz_variable_new(g, NULL));
    dz_scope_end();
}

/* A parameter / a constant the caller owns. */
static inline dz_variable *parameter(dz_array *data, const char *name)
{
    dz_scope_begin();
    dz_variable *p = dz_scope_keep(dz_parameter_new(data, name));
    dz_scope_end();
    return p;
}

static inline dz_variable *constant(dz_array *data)
{
    dz_scope_begin();
    dz_variable *v = dz_scope_keep(dz_variable_new(data, NULL));
    dz_scope_end();
    v->requires_grad = false;
    return v;
}

/* ---- the model: z = x*W + b, loss = sum((z*z - target)^2) ---- */

typedef struct {
    dz_layer base;
    dz_variable *x, *target; /* owned */
} toy_model;

static inline dz_variable *toy_forward(dz_layer *self, int n, dz_variable *const *in)
{
    (void)n;
    (void)in;
    toy_model *m = (toy_model *)self;
    dz_variable *z = dz_add(dz_mul(m->x, dz_layer_param(self, "W")), dz_layer_param(self, "b"));
    dz_variable *u = dz_sub(dz_square(z), m->target);
    return dz_sum(dz_square(u), 0, NULL, false);
}

static inline void toy_destroy(dz_layer *self)
{
    toy_model *m = (toy_model *)self;
    dz_variable_release(m->x);
    dz_variable_release(m->target);
}

static const dz_layer_ops toy_ops = {.type = "Toy", .forward = toy_forward, .destroy = toy_destroy};

static inline dz_layer *toy_new(dz_dtype dtype)
{
    toy_model *m = calloc(1, sizeof *m);
    dz_layer_init(&m->base, &toy_ops);
    m->x = constant(array_of(dtype, 2, DZ_SHAPE(3, 4), &golden_x[0][0]));
    m->target = constant(array_of(dtype, 2, DZ_SHAPE(3, 4), &golden_target[0][0]));
    dz_scope_begin();
    dz_array *w = array_of(dtype, 2, DZ_SHAPE(3, 4), &golden_w0[0][0]);
    dz_layer_add_param(&m->base, "W", dz_parameter_new(w, NULL));
    dz_layer_add_param(&m->base, "b", dz_parameter_new(array_of(dtype, 1, DZ_SHAPE(4), golden_b0), NULL));
    dz_scope_end();
    return &m->base;
}

/* Forward, backward; grads stay on the parameters. Returns the loss. */
static inline double toy_backward(dz_layer *model)
{
    dz_layer_cleargrads(model);
    dz_scope_begin();
    dz_variable *loss = dz_layer_call(model, NULL);
    ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
    double value = dz_array_get(loss->data, 0);
    dz_scope_end();
    return value;
}

static inline dz_variable *toy_w(dz_layer *m) { return dz_layer_param(m, "W"); }
static inline dz_variable *toy_b(dz_layer *m) { return dz_layer_param(m, "b"); }

/* ---- sparse grads of the golden cases ---- */

/* The (6, 3) table of the sparse cases, and the sparse grad of step `step`. */
static inline dz_variable *table(void)
{
    return parameter(array_of(DZ_F32, 2, DZ_SHAPE(6, 3), &golden_s0[0][0]), "emb/W");
}

static inline dz_sparse_grad *golden_sparse_grad(int step)
{
    static const int64_t *rows[] = {golden_sparse_rows0, golden_sparse_rows1, golden_sparse_rows2};
    static const float *values[] = {&golden_sparse_values0[0][0], &golden_sparse_values1[0][0],
                                    &golden_sparse_values2[0][0]};
    static const int64_t nnz[] = {3, 2, 4};
    return sparse_grad(6, nnz[step], rows[step], 3, values[step]);
}

/* ---- optimizers by their settings ---- */

static inline dz_optimizer *sgd_with(double lr, double momentum, double dampening, double wd, bool nesterov)
{
    dz_sgd_config c = {lr, momentum, dampening, wd, nesterov};
    return dz_sgd_new(&c);
}

static inline dz_optimizer *adam_with(bool decoupled, double beta1, double beta2, double wd, bool amsgrad)
{
    dz_adam_config c = {.lr = 0.01, .beta1 = beta1, .beta2 = beta2, .eps = 1e-8, .weight_decay = wd,
                        .amsgrad = amsgrad};
    return decoupled ? dz_adamw_new(&c) : dz_adam_new(&c);
}

#endif
