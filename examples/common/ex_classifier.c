/* Training and testing a classifier, as the spiral and the Fashion-MNIST
 * examples do: batches moved to the model's device, one epoch of softmax
 * cross-entropy steps with the progress line, the test accuracy in batches;
 * and the Fashion-MNIST examples' run: the files cut to their first images,
 * the model with Adam, epochs of training and testing with their metrics and
 * checkpoints, and the weights saved and loaded back into a fresh model. */
#include "ex.h"

dz_variable *ex_batch_on(dz_array *batch, dz_device device)
{
    dz_array *moved = dz_array_to_device(batch, device);
    dz_array_release(batch);
    return dz_variable_constant(moved, NULL);
}

void ex_train_epoch(dz_layer *model, dz_optimizer *optimizer, dz_dataloader *loader, dz_device device,
                    ex_progress *progress, int epoch, double *loss_mean, double *accuracy)
{
    double loss_sum = 0, acc_sum = 0, seen = 0;
    int64_t step = 0;
    dz_array *xb, *tb;
    ex_progress_epoch(progress);
    while (dz_dataloader_next(loader, &xb, &tb)) {
        dz_scope_begin();
        dz_variable *x = ex_batch_on(xb, device), *t = ex_batch_on(tb, device);
        dz_variable *y = dz_layer_call(model, x);
        dz_variable *loss = dz_softmax_cross_entropy(y, t);
        dz_layer_cleargrads(model);
        dz_variable_backward(loss, false, false);
        dz_optimizer_update(optimizer);
        int64_t n = t->data->size;
        seen += (double)n;
        loss_sum += dz_array_get(loss->data, 0) * (double)n;
        acc_sum += dz_array_get(dz_accuracy(y, t)->data, 0) * (double)n;
        dz_scope_end();
        ex_progress_step(progress, epoch, ++step, n, loss_sum / seen);
    }
    *loss_mean = loss_sum / seen;
    *accuracy = acc_sum / seen;
}

double ex_test_accuracy(dz_layer *model, dz_array *x, dz_array *t, int64_t batch_size, dz_device device)
{
    dz_dataloader *loader = dz_dataloader_new(x, t, batch_size, false, NULL);
    dz_array *xb, *tb;
    double correct = 0;
    DZ_NO_GRAD
    {
        while (dz_dataloader_next(loader, &xb, &tb)) {
            dz_scope_begin();
            dz_variable *tv = ex_batch_on(tb, device);
            dz_variable *y = dz_layer_call(model, ex_batch_on(xb, device));
            correct += dz_array_get(dz_accuracy(y, tv)->data, 0) * (double)tv->data->size;
            dz_scope_end();
        }
    }
    dz_dataloader_free(loader);
    return correct / (double)t->size;
}

/* The first n rows of a CPU array (all of them when n is 0 or too large);
 * takes the reference and returns one. */
static dz_array *first_rows(dz_array *a, int64_t n)
{
    if (n <= 0 || n >= a->shape[0])
        return a;
    int64_t shape[8];
    for (int d = 0; d < a->ndim; d++)
        shape[d] = a->shape[d];
    shape[0] = n;
    dz_array *head = dz_array_from_buffer(a->dtype, a->ndim, shape, a->data);
    dz_array_release(a);
    return head;
}

static void split_release(ex_split *s)
{
    dz_array_release(s->x);
    dz_array_release(s->t);
    *s = (ex_split){NULL, NULL};
}

/* The files cut to their first images; false, with the library's reason as
 * the last error, when they cannot be read. */
static bool read_fashion_mnist(const char *dir, int64_t train_images, int64_t test_images, ex_split *train,
                               ex_split *test)
{
    if (dz_dataset_fashion_mnist(dir, true, &train->x, &train->t) != DZ_OK)
        return false;
    if (dz_dataset_fashion_mnist(dir, false, &test->x, &test->t) != DZ_OK) {
        split_release(train);
        return false;
    }
    train->x = first_rows(train->x, train_images);
    train->t = first_rows(train->t, train_images);
    test->x = first_rows(test->x, test_images);
    test->t = first_rows(test->t, test_images);
    return true;
}

bool ex_fashion_mnist_start(ex_fashion_mnist_run *run)
{
    if (!ex_setup(run->common))
        return false;
    run->device = ex_device(run->common->device);
    if (!read_fashion_mnist(run->data, run->train_images, run->test_images, &run->train, &run->test)) {
        ex_fail();
        return false;
    }
    dz_rng_seed(&run->rng, (uint64_t)run->common->seed);
    return true;
}

bool ex_fashion_mnist_adam(ex_fashion_mnist_run *run, dz_layer *model)
{
    run->model = model;
    dz_adam_config config = dz_adam_defaults(); /* betas (0.9, 0.999) */
    config.lr = run->common->lr;
    run->adam = dz_adam_new(&config);
    if (dz_layer_to_device(model, run->device) != DZ_OK || dz_optimizer_setup(run->adam, model) != DZ_OK) {
        ex_fail();
        return false;
    }
    if (run->device == DZ_CUDA)
        printf("device: %s\n", dz_cuda_device_name());
    run->loader = dz_dataloader_new(run->train.x, run->train.t, run->common->batch_size, true, &run->rng);
    return true;
}

bool ex_fashion_mnist_fit(ex_fashion_mnist_run *run)
{
    const ex_column columns[] = {{"train_loss", 4, EX_LOSS_PANEL},
                                 {"train_accuracy", 4, EX_ACCURACY_PANEL},
                                 {"test_accuracy", 4, EX_ACCURACY_PANEL},
                                 {"seconds", 1, EX_TABLE_ONLY},
                                 {"lr", 4, EX_TABLE_ONLY}};
    ex_training tr = {
        .program = run->program, .common = run->common, .schedule = run->schedule, .resume = run->resume,
        .checkpoint = {.model = run->model, .optimizer = run->adam, .rng = &run->rng, .loader = run->loader}};
    if (!ex_training_start(&tr, 5, columns, "images"))
        return false;
    for (int epoch = (int)tr.checkpoint.epoch + 1; epoch <= run->common->epochs; epoch++) {
        double start = ex_now(), lr = dz_optimizer_lr(run->adam), loss, accuracy;
        ex_train_epoch(run->model, run->adam, run->loader, run->device, &tr.progress, epoch, &loss, &accuracy);
        double test_accuracy = ex_test_accuracy(run->model, run->test.x, run->test.t, run->test_batch, run->device);
        if (!ex_training_epoch_end(&tr, epoch, (const double[]){loss, accuracy, test_accuracy, ex_now() - start, lr}))
            return false;
    }
    ex_training_finish(&tr);
    printf("the model, with the output shapes of its last forward (a test batch):\n");
    return dz_layer_summary(run->model, 0, NULL, stdout) == DZ_OK || (ex_fail(), false);
}

bool ex_fashion_mnist_reload(ex_fashion_mnist_run *run, dz_layer *fresh)
{
    char path[4096];
    ex_path(path, sizeof path, run->common->output_dir, "weights.npz");
    bool reloaded = dz_layer_save_weights(run->model, path, true) == DZ_OK &&
                    dz_layer_to_device(fresh, run->device) == DZ_OK && dz_layer_load_weights(fresh, path) == DZ_OK;
    if (reloaded)
        printf("saved the weights as %s; a fresh model loaded from it scores %.4f on the test set\n", path,
               ex_test_accuracy(fresh, run->test.x, run->test.t, run->test_batch, run->device));
    else
        ex_fail();
    dz_layer_free(fresh);
    return reloaded;
}

void ex_fashion_mnist_free(ex_fashion_mnist_run *run)
{
    dz_dataloader_free(run->loader);
    dz_optimizer_free(run->adam);
    dz_layer_free(run->model);
    split_release(&run->train);
    split_release(&run->test);
}
