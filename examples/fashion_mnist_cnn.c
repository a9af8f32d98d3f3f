/* A small CNN on Fashion-MNIST: two blocks of conv 3x3 (pad 1) - ReLU - max
 * pool 2x2 (1 -> 32 -> 64 channels), then one Linear to the 10 classes,
 * trained with Adam in batches of 32 on the 60,000 training images and tested on the 10,000 test images
 * that Debian's dataset-fashion-mnist installs. The model is a user-defined
 * layer: a struct that embeds dz_layer, with its own forward. The weights
 * are saved as fashion_mnist_cnn.npz (NumPy can read them), loaded into a
 * fresh model, and the test accuracy checked again.
 * Usage: fashion_mnist_cnn [--device cpu|cuda] [epochs = 5] [data dir] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dezero/dezero.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the model ------------------------------------------------------------ */

/* x (N, 1, 28, 28) -> conv1 (N, 32, 28, 28) -> pool (N, 32, 14, 14)
 *                  -> conv2 (N, 64, 14, 14) -> pool (N, 64, 7, 7) -> fc (N, 10) */
static dz_variable *cnn_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    dz_variable *h = x[0];
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

/* ---- data ------------------------------------------------------------------ */

/* A batch from the loader, (N, 784) on the CPU, as images (N, 1, 28, 28) on
 * the model's device. */
static dz_variable *images_on(dz_array *batch, dz_device device)
{
    dz_array *moved = dz_array_to_device(batch, device);
    dz_array_release(batch);
    dz_variable *x = dz_variable_constant(moved, NULL);
    return dz_reshape(x, 4, DZ_SHAPE(x->data->shape[0], 1, 28, 28));
}

static dz_variable *labels_on(dz_array *batch, dz_device device)
{
    dz_array *moved = dz_array_to_device(batch, device);
    dz_array_release(batch);
    return dz_variable_constant(moved, NULL);
}

/* Test accuracy in batches, without recording a graph. */
static double evaluate(dz_layer *model, dz_array *images, dz_array *labels, dz_device device)
{
    dz_dataloader *loader = dz_dataloader_new(images, labels, 500, false, NULL);
    dz_array *xb, *tb;
    double correct = 0;
    DZ_NO_GRAD
    {
        while (dz_dataloader_next(loader, &xb, &tb)) {
            dz_scope_begin();
            dz_variable *t = labels_on(tb, device);
            dz_variable *y = dz_layer_call(model, images_on(xb, device));
            correct += dz_array_get(dz_accuracy(y, t)->data, 0) * (double)t->data->size;
            dz_scope_end();
        }
    }
    dz_dataloader_free(loader);
    return correct / (double)labels->size;
}

static int fail(void)
{
    fprintf(stderr, "%s\n", dz_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    dz_device device = DZ_CPU;
    if (argc > 2 && strcmp(argv[1], "--device") == 0) {
        device = strcmp(argv[2], "cuda") == 0 ? DZ_CUDA : DZ_CPU;
        argc -= 2;
        argv += 2;
    }
    int epochs = argc > 1 ? atoi(argv[1]) : 5;
    const char *dir = argc > 2 ? argv[2] : NULL;
    dz_array *train_x, *train_t, *test_x, *test_t;
    if (dz_dataset_fashion_mnist(dir, true, &train_x, &train_t) != DZ_OK ||
        dz_dataset_fashion_mnist(dir, false, &test_x, &test_t) != DZ_OK)
        return fail();
    printf("Fashion-MNIST: %lld training and %lld test images of 28x28 pixels\n", (long long)train_x->shape[0],
           (long long)test_x->shape[0]);

    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_layer *model = cnn_new(&rng);
    dz_optimizer *adam = dz_adam_new(NULL); /* lr 1e-3, betas (0.9, 0.999) */
    if (dz_layer_to_device(model, device) != DZ_OK || dz_optimizer_setup(adam, model) != DZ_OK)
        return fail();
    if (device == DZ_CUDA)
        printf("device: %s\n", dz_cuda_device_name());
    dz_dataloader *loader = dz_dataloader_new(train_x, train_t, 32, true, &rng);
    printf("CNN conv3x3(32)-relu-pool2, conv3x3(64)-relu-pool2 (pad 1), linear(10); Adam, batch 32; %lld parameters\n",
           (long long)dz_layer_count_params(model));
    printf("epoch  train loss  train acc  test acc  seconds\n");

    for (int epoch = 1; epoch <= epochs; epoch++) {
        double start = now(), loss_sum = 0, acc_sum = 0;
        dz_array *xb, *tb;
        while (dz_dataloader_next(loader, &xb, &tb)) {
            dz_scope_begin();
            dz_variable *x = images_on(xb, device), *t = labels_on(tb, device);
            dz_variable *y = dz_layer_call(model, x);
            dz_variable *loss = dz_softmax_cross_entropy(y, t);
            dz_layer_cleargrads(model);
            dz_variable_backward(loss, false, false);
            dz_optimizer_update(adam);
            double n = (double)t->data->size;
            loss_sum += dz_array_get(loss->data, 0) * n;
            acc_sum += dz_array_get(dz_accuracy(y, t)->data, 0) * n;
            dz_scope_end();
        }
        double n = (double)train_x->shape[0];
        printf("%5d  %10.4f  %9.4f  %8.4f  %7.1f\n", epoch, loss_sum / n, acc_sum / n,
               evaluate(model, test_x, test_t, device), now() - start);
        fflush(stdout);
    }

    const char *path = "fashion_mnist_cnn.npz";
    dz_layer *fresh = cnn_new(&rng);
    if (dz_layer_save_weights(model, path, true) != DZ_OK || dz_layer_to_device(fresh, device) != DZ_OK ||
        dz_layer_load_weights(fresh, path) != DZ_OK)
        return fail();
    printf("saved %s; a fresh model loaded from it scores %.4f on the test set\n", path,
           evaluate(fresh, test_x, test_t, device));

    dz_layer_free(fresh);
    dz_dataloader_free(loader);
    dz_optimizer_free(adam);
    dz_layer_free(model);
    dz_array_release(train_x);
    dz_array_release(train_t);
    dz_array_release(test_x);
    dz_array_release(test_t);
    return 0;
}
