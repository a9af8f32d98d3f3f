/* DeZero steps 48-50: a two-layer MLP learns the three-armed spiral.
 * MLP (10, 3) with sigmoid, SGD lr 1.0, batch 30, 300 epochs; prints the
 * mean loss every 30 epochs and the final accuracy.
 * Usage: spiral [--device cpu|cuda] */
#include <stdio.h>
#include <string.h>

#include "dezero/dezero.h"

/* A CPU array (the loader's batch, or the dataset) as a constant on `device`;
 * takes the reference. */
static dz_variable *on(dz_array *a, dz_device device)
{
    dz_array *moved = dz_array_to_device(a, device);
    dz_array_release(a);
    return dz_variable_constant(moved, NULL);
}

int main(int argc, char **argv)
{
    dz_device device = argc > 2 && strcmp(argv[1], "--device") == 0 && strcmp(argv[2], "cuda") == 0 ? DZ_CUDA
                                                                                                   : DZ_CPU;
    dz_array *x, *t;
    dz_dataset_spiral(1, &x, &t);
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){10, 3}, dz_sigmoid, DZ_F32, &rng);
    dz_sgd_config config = dz_sgd_defaults();
    config.lr = 1.0;
    dz_optimizer *sgd = dz_sgd_new(&config);
    if (dz_layer_to_device(model, device) != DZ_OK || dz_optimizer_setup(sgd, model) != DZ_OK) {
        fprintf(stderr, "%s\n", dz_last_error());
        return 1;
    }
    dz_dataloader *loader = dz_dataloader_new(x, t, 30, true, &rng);

    for (int epoch = 1; epoch <= 300; epoch++) {
        double loss_sum = 0;
        dz_array *xb, *tb;
        while (dz_dataloader_next(loader, &xb, &tb)) {
            dz_scope_begin();
            dz_variable *xv = on(xb, device), *tv = on(tb, device);
            dz_variable *loss = dz_softmax_cross_entropy(dz_layer_call(model, xv), tv);
            dz_layer_cleargrads(model);
            dz_variable_backward(loss, false, false);
            dz_optimizer_update(sgd);
            loss_sum += dz_array_get(loss->data, 0) * (double)tv->data->size;
            dz_scope_end();
        }
        if (epoch % 30 == 0)
            printf("epoch %3d, loss %.4f\n", epoch, loss_sum / (double)x->shape[0]);
    }
    dz_scope_begin();
    DZ_NO_GRAD
    {
        dz_variable *y = dz_layer_call(model, on(dz_array_retain(x), device));
        dz_variable *acc = dz_accuracy(y, on(dz_array_retain(t), device));
        printf("accuracy on the 300 points: %.3f\n", dz_array_get(acc->data, 0));
    }
    dz_scope_end();
    dz_dataloader_free(loader);
    dz_optimizer_free(sgd);
    dz_layer_free(model);
    dz_array_release(x);
    dz_array_release(t);
    return 0;
}
