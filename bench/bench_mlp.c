/* Benchmark: one training step of a 2-10-3 MLP on spiral mini-batches of 30
 * (linear, sigmoid, linear, softmax cross entropy, backward, SGD by hand on
 * W and b with lr 1.0), in f32. Twin: bench_mlp.py (PyTorch). Prints
 *   mlp_step_us     microseconds per step (best of ROUNDS rounds: the machine
 *                   may be shared, and interference only ever adds time)
 *   mlp_final_loss  mean loss over the last epoch (training works) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dezero/dezero.h"

enum { HIDDEN = 10, CLASSES = 3, BATCH = 30, EPOCHS = 100, ROUNDS = 15 };
#define LR 1.0f

typedef struct {
    dz_variable *params[4]; /* W1 (2, 10), b1 (10,), W2 (10, 3), b2 (3,) */
} mlp;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* p -= lr * grad, in place, then drop the grad. */
static void sgd_update(dz_variable *p)
{
    float *w = p->data->data;
    const float *g = p->grad->data->data;
    for (int64_t i = 0; i < p->data->size; i++)
        w[i] -= LR * g[i];
    dz_variable_cleargrad(p);
}

static float train_step(mlp *m, dz_variable *x, dz_variable *t)
{
    dz_scope_begin();
    dz_variable *h = dz_sigmoid(dz_linear(x, m->params[0], m->params[1])); // (30, 10)
    dz_variable *y = dz_linear(h, m->params[2], m->params[3]);             // (30, 3)
    dz_variable *loss = dz_softmax_cross_entropy(y, t);
    dz_variable_backward(loss, false, false);
    for (int i = 0; i < 4; i++)
        sgd_update(m->params[i]);
    float value = *(const float *)loss->data->data;
    dz_scope_end();
    return value;
}

/* The spiral split into mini-batches of BATCH rows (constants, no grad). */
static int make_batches(dz_variable ***xs, dz_variable ***ts)
{
    dz_array *x, *t;
    if (dz_dataset_spiral(1984, &x, &t) != DZ_OK)
        return 0;
    int n = (int)(x->shape[0] / BATCH);
    *xs = malloc(n * sizeof **xs);
    *ts = malloc(n * sizeof **ts);
    for (int i = 0; i < n; i++) {
        const float *xi = (const float *)x->data + i * BATCH * 2;   // (BATCH, 2)
        const int32_t *ti = (const int32_t *)t->data + i * BATCH; // (BATCH,)
        (*xs)[i] = dz_variable_new(dz_array_from_buffer(DZ_F32, 2, DZ_SHAPE(BATCH, 2), xi), NULL);
        (*ts)[i] = dz_variable_new(dz_array_from_buffer(DZ_I32, 1, DZ_SHAPE(BATCH), ti), NULL);
        (*xs)[i]->requires_grad = (*ts)[i]->requires_grad = false;
    }
    dz_array_release(x);
    dz_array_release(t);
    return n;
}

static mlp make_mlp(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    mlp m = {{
        dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(2, HIDDEN), 0, 0.7071), "W1"),
        dz_parameter_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(HIDDEN)), "b1"),
        dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(HIDDEN, CLASSES), 0, 0.3162), "W2"),
        dz_parameter_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(CLASSES)), "b2"),
    }};
    return m;
}

int main(void)
{
    dz_variable **xs, **ts;
    int nbatches = make_batches(&xs, &ts);
    if (!nbatches) {
        fprintf(stderr, "bench_mlp: %s\n", dz_last_error());
        return 1;
    }
    mlp m = make_mlp();
    double best = 1e30, last_epoch = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_us();
        for (int e = 0; e < EPOCHS; e++) {
            last_epoch = 0;
            for (int b = 0; b < nbatches; b++)
                last_epoch += train_step(&m, xs[b], ts[b]);
        }
        double us = (now_us() - t0) / (EPOCHS * nbatches);
        best = us < best ? us : best;
    }
    printf("mlp_step_us %.3f\n", best);
    printf("mlp_final_loss %.4f\n", last_epoch / nbatches);
    for (int i = 0; i < 4; i++)
        dz_variable_release(m.params[i]);
    for (int b = 0; b < nbatches; b++) {
        dz_variable_release(xs[b]);
        dz_variable_release(ts[b]);
    }
    free(xs);
    free(ts);
    return 0;
}
