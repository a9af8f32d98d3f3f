/* Training and testing a classifier, as the spiral and the Fashion-MNIST
 * examples do: batches moved to the model's device, one epoch of softmax
 * cross-entropy steps with the progress line, the test accuracy in batches,
 * epochs of both with their metrics and checkpoints, the Fashion-MNIST files
 * cut to their first images, and a model's weights saved and loaded back into
 * a fresh one. */
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

bool ex_fit(ex_training *tr, const ex_split *test, int64_t test_batch)
{
    const ex_column columns[] = {{"train_loss", 4, EX_LOSS_PANEL},
                                 {"train_accuracy", 4, EX_ACCURACY_PANEL},
                                 {"test_accuracy", 4, EX_ACCURACY_PANEL},
                                 {"seconds", 1, EX_TABLE_ONLY},
                                 {"lr", 4, EX_TABLE_ONLY}};
    if (!ex_training_start(tr, 5, columns, "images"))
        return false;
    const dz_checkpoint *c = &tr->checkpoint;
    dz_device device = ex_device(tr->common->device);
    for (int epoch = (int)c->epoch + 1; epoch <= tr->common->epochs; epoch++) {
        double start = ex_now(), lr = dz_optimizer_lr(c->optimizer), loss, accuracy;
        ex_train_epoch(c->model, c->optimizer, c->loader, device, &tr->progress, epoch, &loss, &accuracy);
        double test_accuracy = ex_test_accuracy(c->model, test->x, test->t, test_batch, device);
        if (!ex_training_epoch_end(tr, epoch, (const double[]){loss, accuracy, test_accuracy, ex_now() - start, lr}))
            return false;
    }
    ex_training_finish(tr);
    return true;
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

bool ex_fashion_mnist(const char *dir, int64_t train_images, int64_t test_images, ex_split *train, ex_split *test)
{
    if (dz_dataset_fashion_mnist(dir, true, &train->x, &train->t) != DZ_OK)
        return false;
    if (dz_dataset_fashion_mnist(dir, false, &test->x, &test->t) != DZ_OK) {
        ex_split_release(train);
        return false;
    }
    train->x = first_rows(train->x, train_images);
    train->t = first_rows(train->t, train_images);
    test->x = first_rows(test->x, test_images);
    test->t = first_rows(test->t, test_images);
    return true;
}

void ex_split_release(ex_split *s)
{
    dz_array_release(s->x);
    dz_array_release(s->t);
    *s = (ex_split){NULL, NULL};
}

int ex_save_and_reload(dz_layer *model, dz_layer *fresh, const char *dir, const ex_split *test, int64_t batch_size,
                       dz_device device)
{
    char path[4096];
    ex_path(path, sizeof path, dir, "weights.npz");
    if (dz_layer_save_weights(model, path, true) != DZ_OK || dz_layer_to_device(fresh, device) != DZ_OK ||
        dz_layer_load_weights(fresh, path) != DZ_OK)
        return ex_fail();
    printf("saved the weights as %s; a fresh model loaded from it scores %.4f on the test set\n", path,
           ex_test_accuracy(fresh, test->x, test->t, batch_size, device));
    return 0;
}
