/* A small CNN on Fashion-MNIST: two blocks of conv 3x3 (pad 1) - ReLU - max
 * pool 2x2 (1 -> 32 -> 64 channels), then one Linear to the 10 classes,
 * trained with Adam in batches of 32 on the 60,000 training images and tested on the 10,000 test images
 * that Debian's dataset-fashion-mnist installs. The model is a user-defined
 * layer: a struct that embeds dz_layer, with its own forward. The weights
 * are saved as weights.npz in the output directory (runs/fashion_mnist_cnn
 * by default; NumPy can read them), loaded into a fresh model, and the test
 * accuracy checked again. The output directory also gets metrics.csv and
 * loss.png (see common/ex.h), and after each epoch checkpoint.npz, from which
 * --resume continues an interrupted run; --schedule and --warmup set a
 * learning-rate schedule. Run with --help for the options. */
#include <stdio.h>
#include <stdlib.h>

#include "common/ex.h"

/* ---- the model ------------------------------------------------------------ */

/* x (N, 784) -> images (N, 1, 28, 28) -> conv1 (N, 32, 28, 28) -> pool (N, 32, 14, 14)
 *            -> conv2 (N, 64, 14, 14) -> pool (N, 64, 7, 7) -> fc (N, 10) */
static dz_variable *cnn_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    dz_variable *h = dz_reshape(x[0], 4, DZ_SHAPE(x[0]->data->shape[0], 1, 28, 28));
    h = dz_max_pooling(dz_relu(dz_layer_call(dz_layer_child(self, "conv1"), h)), DZ_SIZE2(2), DZ_SIZE2(2),
                       DZ_SIZE2(0));
    h = dz_max_pooling(dz_relu(dz_layer_call(dz_layer_child(self, "conv2"), h)), DZ_SIZE2(2), DZ_SIZE2(2),
                       DZ_SIZE2(0));
    h = dz_reshape(h, 2, DZ_SHAPE(h->data->shape[0], -1));
    return dz_layer_call(dz_layer_child(self, "fc"), h);
}

static const dz_layer_ops cnn_ops = {.type = "CNN", .forward = cnn_forward};

static dz_layer *cnn_new(dz_rng *rng)
{
    dz_layer *model = calloc(1, sizeof *model);
    dz_layer_init(model, &cnn_ops);
    dz_layer_add_child(model, "conv1",
                       dz_conv2d_layer_new(32, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 1, rng));
    dz_layer_add_child(model, "conv2",
                       dz_conv2d_layer_new(64, DZ_SIZE2(3), DZ_SIZE2(1), DZ_SIZE2(1), false, DZ_F32, 32, rng));
    dz_layer_add_child(model, "fc", dz_linear_layer_new(10, 64 * 7 * 7, false, DZ_F32, rng));
    return model;
}

static const char summary[] =
    "A CNN (conv3x3(32)-relu-pool2, conv3x3(64)-relu-pool2, linear(10)) with Adam on Fashion-MNIST: trains, tests\n"
    "after each epoch, saves the weights as weights.npz and tests a model loaded from them; writes metrics.csv and\n"
    "loss.png into the output directory, and checkpoint.npz as it trains (--resume continues from it).";

int main(int argc, char **argv)
{
    ex_common opt = {.epochs = 5, .batch_size = 32, .lr = 1e-3, .seed = 0, .output_dir = "runs/fashion_mnist_cnn"};
    ex_schedule schedule = {.kind = EX_SCHEDULE_NONE, .step_size = 2, .gamma = 0.5};
    ex_fashion_mnist_run run = {.program = "fashion_mnist_cnn", .common = &opt, .schedule = &schedule,
                                .test_batch = 500};
    const ex_option options[] = {
        EX_EPOCHS_OPTION(&opt),
        EX_BATCH_SIZE_OPTION(&opt),
        EX_LR_OPTION(&opt),
        EX_SCHEDULE_OPTIONS(&schedule),
        EX_FASHION_MNIST_OPTIONS(&run),
        EX_SEED_OPTION(&opt),
        EX_THREADS_OPTION(&opt),
        EX_DEVICE_OPTION(&opt),
        EX_OUTPUT_DIR_OPTION(&opt),
        EX_RESUME_OPTION(&run.resume),
    };
    ex_parse(&(ex_program){"fashion_mnist_cnn", summary, sizeof options / sizeof *options, options}, argc, argv);
    ex_schedule_check(&schedule, opt.epochs);
    if (!ex_fashion_mnist_start(&run))
        return 1;
    printf("Fashion-MNIST: %lld training and %lld test images of 28x28 pixels\n", (long long)run.train.x->shape[0],
           (long long)run.test.x->shape[0]);
    if (!ex_fashion_mnist_adam(&run, cnn_new(&run.rng)))
        return 1;
    printf("CNN conv3x3(32)-relu-pool2, conv3x3(64)-relu-pool2 (pad 1), linear(10); Adam lr %g, batch %d; "
           "%lld parameters\n", opt.lr, opt.batch_size, (long long)dz_layer_count_params(run.model));
    if (!ex_fashion_mnist_fit(&run) || !ex_fashion_mnist_reload(&run, cnn_new(&run.rng)))
        return 1;
    ex_fashion_mnist_free(&run);
    return 0;
}
