/* conv2d forward + backward in f32, the work of a CNN's layers: x requires a
 * grad (so backward computes gx, gW and gb), W and b are parameters, the
 * upstream grad gy is a constant. Sizes (batch, in channels, out channels,
 * image side), all with a 3x3 kernel, stride 1, no padding:
 *   (100, 1, 32, 28)    the first layer of a Fashion-MNIST CNN
 *   (10, 32, 64, 26)    the second, at batch 10
 *   (100, 32, 64, 26)   the second, at batch 100
 *   (100, 64, 128, 13)  a deeper layer
 * Then one training step of the CNN of examples/fashion_mnist_cnn.c, at batch
 * 100 (conv 32 pad 1 - relu - max pool 2, conv 64 pad 1 - relu - max pool 2,
 * linear 10, softmax cross entropy, Adam) on random images and labels.
 * bench_conv.py times F.conv2d and the same CNN (torch.optim.Adam) in
 * PyTorch.
 *
 * Prints, in milliseconds (median per call):
 *   conv_ms_<batch>x<in>x<out>x<side>   dz_conv2d + backward
 *   cnn_step_ms_b100                    the CNN training step
 * Options: --threads N, --quick (the first size only). */
#include <stdio.h>

#include "bench_common.h"
#include "dezero/dezero.h"

static const struct {
    int n, in, out, side;
} sizes[] = {{100, 1, 32, 28}, {10, 32, 64, 26}, {100, 32, 64, 26}, {100, 64, 128, 13}};

typedef struct {
    dz_variable *x, *W, *b, *gy;
} problem;

static void conv_step(void *ctx)
{
    problem *p = ctx;
    dz_variable_cleargrad(p->x);
    dz_variable_cleargrad(p->W);
    dz_variable_cleargrad(p->b);
    dz_scope_begin();
    dz_variable *y = dz_conv2d(p->x, p->W, p->b, DZ_SIZE2(1), DZ_SIZE2(0)); // (n, out, side-2, side-2)
    dz_variable_set_grad(y, p->gy);
    dz_variable_backward(y, false, false);
    dz_scope_end();
}

typedef struct {
    dz_layer *model, *conv1, *conv2, *fc;
    dz_optimizer *adam;
    dz_variable *x, *t;
} cnn;

static void cnn_step(void *ctx)
{
    cnn *m = ctx;
    dz_scope_begin();
    dz_variable *h = m->x; // (100, 1, 28, 28)
    h = dz_max_pooling(dz_relu(dz_layer_call(m->conv1, h)), DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0));
    h = dz_max_pooling(dz_relu(dz_layer_call(m->conv2, h)), DZ_SIZE2(2), DZ_SIZE2(2), DZ_SIZE2(0));
    h = dz_layer_call(m->fc, dz_reshape(h, 2, DZ_SHAPE(100, 64 * 7 * 7)));
    dz_variable *loss = dz_softmax_cross_entropy(h, m->t);
    dz_layer_cleargrads(m->model);
    dz_variable_backward(loss, false, false);
    dz_optimizer_update(m->adam);
    dz_scope_end();
}

static double time_cnn(double budget_s)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    cnn m = {
        dz_model_new(),
        dz_conv2d_layer_new(32, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 1, &rng),
        dz_conv2d_layer_new(64, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 32, &rng),
        dz_linear_layer_new(10, 64 * 7 * 7, false, DZ_F32, &rng),
        dz_adam_new(NULL),
        dz_variable_constant(bench_uniform_f32(4, DZ_SHAPE(100, 1, 28, 28), 4), "x"),
        dz_variable_constant(dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(100), 0, 10), "t"),
    };
    dz_layer_add_child(m.model, "conv1", m.conv1);
    dz_layer_add_child(m.model, "conv2", m.conv2);
    dz_layer_add_child(m.model, "fc", m.fc);
    dz_optimizer_setup(m.adam, m.model);
    double seconds = bench_time(cnn_step, &m, 2, 5, budget_s);
    dz_optimizer_free(m.adam);
    dz_layer_free(m.model);
    dz_variable_release(m.x);
    dz_variable_release(m.t);
    return seconds;
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    double budget_s = options.quick ? 0.1 : 0.5;
    for (size_t k = 0; k < (options.quick ? 1 : sizeof sizes / sizeof *sizes); k++) {
        int n = sizes[k].n, in = sizes[k].in, out = sizes[k].out, side = sizes[k].side;
        problem p = {
            dz_variable_new(bench_uniform_f32(4, DZ_SHAPE(n, in, side, side), 1), "x"),
            dz_parameter_new(bench_uniform_f32(4, DZ_SHAPE(out, in, 3, 3), 2), "W"),
            dz_parameter_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(out)), "b"),
            dz_variable_constant(bench_uniform_f32(4, DZ_SHAPE(n, out, side - 2, side - 2), 3), "gy"),
        };
        char key[64];
        snprintf(key, sizeof key, "conv_ms_%dx%dx%dx%d", n, in, out, side);
        bench_report(key, bench_time(conv_step, &p, 2, 5, budget_s) * 1e3);
        dz_variable_release(p.x);
        dz_variable_release(p.W);
        dz_variable_release(p.b);
        dz_variable_release(p.gy);
    }
    if (!options.quick)
        bench_report("cnn_step_ms_b100", time_cnn(budget_s) * 1e3);
    return 0;
}
