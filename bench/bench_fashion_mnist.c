/* The flagship epoch: the Fashion-MNIST 784-256-10 ReLU MLP of
 * examples/fashion_mnist_mlp.c trained with Adam (PyTorch's defaults) on
 * shuffled batches of 100, one epoch over the 60,000 training images. Input
 * batches and labels are constants (no grad). The time covers the epoch
 * only (not loading the files), with no warm-up: the first epoch is what a
 * user waits for. bench_fashion_mnist.py does the same in PyTorch.
 *
 * Prints
 *   fashion_epoch_s      seconds for the epoch
 *   fashion_epoch_loss   its mean training loss (a check that it learns)
 *   fashion_peak_rss_mib peak resident memory of the process at the end
 * Options: --threads N, --quick (accepted; the epoch is the same). */
#include <stdio.h>

#include "bench_common.h"
#include "dezero/dezero.h"

int main(int argc, char **argv)
{
    bench_parse_options(argc, argv);
    dz_array *images, *labels;
    if (dz_dataset_fashion_mnist(NULL, true, &images, &labels) != DZ_OK) {
        fprintf(stderr, "bench_fashion_mnist: %s\n", dz_last_error());
        return 1;
    }
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){256, 10}, dz_relu, DZ_F32, &rng);
    dz_optimizer *adam = dz_adam_new(NULL);
    dz_optimizer_setup(adam, model);
    dz_dataloader *loader = dz_dataloader_new(images, labels, 100, true, &rng);

    double start = bench_now(), loss_sum = 0;
    int64_t batches = 0;
    dz_array *xb, *tb;
    while (dz_dataloader_next(loader, &xb, &tb)) {
        dz_scope_begin();
        dz_variable *x = dz_variable_constant(xb, NULL), *t = dz_variable_constant(tb, NULL);
        dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(model, x), t);
        dz_layer_cleargrads(model);
        dz_variable_backward(loss, false, false);
        dz_optimizer_update(adam);
        loss_sum += dz_array_get(loss->data, 0);
        batches++;
        dz_scope_end();
    }
    bench_report("fashion_epoch_s", bench_now() - start);
    bench_report("fashion_epoch_loss", loss_sum / (double)batches);

    dz_dataloader_free(loader);
    dz_optimizer_free(adam);
    dz_layer_free(model);
    dz_array_release(images);
    dz_array_release(labels);
    bench_report("fashion_peak_rss_mib", bench_peak_rss_mib());
    return 0;
}
