/* The flagship example: an MLP on Fashion-MNIST (DeZero step 51, with the
 * ReLU + Adam variant), trained on the 60,000 training images and tested on
 * the 10,000 test images that Debian's dataset-fashion-mnist installs.
 * The weights are saved as weights.npz in the output directory
 * (runs/fashion_mnist_mlp by default; NumPy can read them), loaded into a
 * fresh model, and the test accuracy checked again. The output directory
 * also gets metrics.csv and loss.png (see common/ex.h), and after each epoch
 * checkpoint.npz, from which --resume continues an interrupted run; --schedule
 * and --warmup set a learning-rate schedule (the lr column of metrics.csv).
 * The training loop (ex_fit, ex_train_epoch, with the checkpoints of
 * ex_training) is in common/, shared with the CNN and the spiral.
 * With --device gpu the model, the optimizer state and each batch live on
 * the GPU (or on the emulated device of a -Dgpu_emulation=true build).
 * Run with --help for the options. */
#include <stdio.h>

#include "common/ex.h"

static const char summary[] =
    "An MLP 784-H-10 (ReLU) with Adam on Fashion-MNIST: trains, tests after each epoch, saves the weights\n"
    "as weights.npz and tests a model loaded from them; writes metrics.csv and loss.png into the output directory,\n"
    "and checkpoint.npz as it trains (--resume continues from it).";

int main(int argc, char **argv)
{
    ex_common opt = {.epochs = 10, .batch_size = 100, .lr = 1e-3, .seed = 0, .output_dir = "runs/fashion_mnist_mlp"};
    int hidden = 256;
    int64_t train_images = 0, test_images = 0;
    const char *data = NULL;
    ex_schedule schedule = {.kind = EX_SCHEDULE_NONE, .step_size = 3, .gamma = 0.5};
    bool resume = false;
    const ex_option options[] = {
        EX_EPOCHS_OPTION(&opt),
        EX_BATCH_SIZE_OPTION(&opt),
        EX_LR_OPTION(&opt),
        EX_SCHEDULE_OPTIONS(&schedule),
        EX_INT_OPTION("hidden", &hidden, 1, 100000, "units of the hidden layer"),
        EX_TRAIN_IMAGES_OPTION(&train_images),
        EX_TEST_IMAGES_OPTION(&test_images),
        EX_FASHION_MNIST_DATA_OPTION(&data),
        EX_SEED_OPTION(&opt),
        EX_THREADS_OPTION(&opt),
        EX_DEVICE_OPTION(&opt),
        EX_OUTPUT_DIR_OPTION(&opt),
        EX_RESUME_OPTION(&resume),
    };
    ex_parse(&(ex_program){"fashion_mnist_mlp", summary, sizeof options / sizeof *options, options}, argc, argv);
    ex_schedule_check(&schedule, opt.epochs);
    if (!ex_setup(&opt))
        return 1;
    dz_device device = ex_device(opt.device);
    ex_split train, test;
    if (!ex_fashion_mnist(data, train_images, test_images, &train, &test))
        return ex_fail();
    printf("Fashion-MNIST: %lld training and %lld test images of %lld pixels\n", (long long)train.x->shape[0],
           (long long)test.x->shape[0], (long long)train.x->shape[1]);

    dz_rng rng;
    dz_rng_seed(&rng, (uint64_t)opt.seed);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){hidden, 10}, dz_relu, DZ_F32, &rng);
    dz_adam_config config = dz_adam_defaults(); /* betas (0.9, 0.999) */
    config.lr = opt.lr;
    dz_optimizer *adam = dz_adam_new(&config);
    if (dz_layer_to_device(model, device) != DZ_OK || dz_optimizer_setup(adam, model) != DZ_OK)
        return ex_fail();
    if (device == DZ_CUDA)
        printf("device: %s\n", dz_cuda_device_name());
    dz_dataloader *loader = dz_dataloader_new(train.x, train.t, opt.batch_size, true, &rng);
    printf("MLP 784-%d-10 (ReLU), Adam lr %g, batch %d\n", hidden, opt.lr, opt.batch_size);

    ex_training training = {.program = "fashion_mnist_mlp", .common = &opt, .schedule = &schedule, .resume = resume,
                            .checkpoint = {.model = model, .optimizer = adam, .rng = &rng, .loader = loader}};
    if (!ex_fit(&training, &test, 1000))
        return 1;

    dz_layer *fresh = dz_mlp_new(2, (const int64_t[]){hidden, 10}, dz_relu, DZ_F32, &rng);
    if (ex_save_and_reload(model, fresh, opt.output_dir, &test, 1000, device) != 0)
        return 1;
    printf("(published baseline for an MLP 256-128-100 in the dataset's README: 0.8833)\n");

    dz_layer_free(fresh);
    dz_dataloader_free(loader);
    dz_optimizer_free(adam);
    dz_layer_free(model);
    ex_split_release(&train);
    ex_split_release(&test);
    return 0;
}
