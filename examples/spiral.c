/* DeZero steps 48-50: a two-layer MLP learns the three-armed spiral.
 * MLP (10, 3) with sigmoid, SGD lr 1.0, batch 30, 300 epochs by default;
 * prints the mean loss and accuracy every 30 epochs and the final accuracy.
 * Writes into the output directory (runs/spiral by default) metrics.csv with
 * loss.gp / loss.png, and the decision boundary: the class the model predicts
 * on a grid (boundary_grid.csv) under the training points (points.csv), drawn
 * by boundary.gp as boundary.png. The output directory also gets checkpoint.npz
 * (at most once a second, and after the last epoch), from which --resume
 * continues a run (see common/ex.h); --schedule and --warmup set a
 * learning-rate schedule. Run with --help for the options. */
#include <stdio.h>
#include <stdlib.h>

#include "common/ex.h"

#define GRID 200 /* points per side of the decision boundary's grid */

/* The class the model predicts for each row of x (N, 2), into cls (N). */
static void predict(dz_layer *model, dz_array *x, dz_device device, double *cls)
{
    dz_scope_begin();
    DZ_NO_GRAD
    {
        dz_variable *label = dz_argmax(dz_layer_call(model, ex_batch_on(dz_array_retain(x), device)), 1, false);
        dz_array *host = dz_array_to_device(label->data, DZ_CPU);
        dz_array_to_doubles(host, cls);
        dz_array_release(host);
    }
    dz_scope_end();
}

/* The model's class on a GRID x GRID grid over the points' range, and the
 * points with their labels, as CSV files; boundary.gp draws them. */
static bool draw_boundary(dz_layer *model, const dz_array *x, const dz_array *t, dz_device device, const char *dir)
{
    int64_t n = x->shape[0];
    double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < 2; d++) {
            double v = dz_array_get(x, i * 2 + d);
            lo[d] = v < lo[d] ? v : lo[d];
            hi[d] = v > hi[d] ? v : hi[d];
        }
    for (int d = 0; d < 2; d++) {
        double margin = 0.1 * (hi[d] - lo[d]);
        lo[d] -= margin;
        hi[d] += margin;
    }
    dz_array *grid = dz_array_empty(DZ_F32, 2, DZ_SHAPE(GRID * GRID, 2)); // (GRID^2, 2), x fastest
    for (int row = 0; row < GRID; row++)
        for (int col = 0; col < GRID; col++) {
            dz_array_set(grid, (row * GRID + col) * 2, lo[0] + (hi[0] - lo[0]) * col / (GRID - 1));
            dz_array_set(grid, (row * GRID + col) * 2 + 1, lo[1] + (hi[1] - lo[1]) * row / (GRID - 1));
        }
    double *cls = malloc(sizeof(double) * GRID * GRID);
    predict(model, grid, device, cls);

    char path[4096];
    FILE *f = fopen(ex_path(path, sizeof path, dir, "boundary_grid.csv"), "w");
    FILE *g = f ? fopen(ex_path(path, sizeof path, dir, "points.csv"), "w") : NULL;
    if (g) {
        fprintf(f, "x,y,class\n");
        for (int64_t i = 0; i < GRID * GRID; i++)
            fprintf(f, "%.6g,%.6g,%d\n", dz_array_get(grid, i * 2), dz_array_get(grid, i * 2 + 1), (int)cls[i]);
        fprintf(g, "x,y,class\n");
        for (int64_t i = 0; i < n; i++)
            fprintf(g, "%.6g,%.6g,%d\n", dz_array_get(x, i * 2), dz_array_get(x, i * 2 + 1),
                    (int)dz_array_get(t, i));
    }
    free(cls);
    dz_array_release(grid);
    if (!g || fclose(g) != 0 || fclose(f) != 0) {
        fprintf(stderr, "spiral: cannot write %s\n", path);
        return false;
    }
    char body[2048];
    snprintf(body, sizeof body,
             "set title \"spiral: the MLP's classes (regions) and the training points\"\n"
             "set palette defined (0 \"#f6c6c0\", 1 \"#c6d8ef\", 2 \"#c8e8c0\")\n"
             "set cbrange [-0.5:2.5]\n"
             "unset colorbox\n"
             "set linetype 1 lc rgb \"#c0392b\"\n"
             "set linetype 2 lc rgb \"#1f5fa8\"\n"
             "set linetype 3 lc rgb \"#2e8b2e\"\n"
             "set size ratio -1\n"
             "set xrange [%g:%g]\n"
             "set yrange [%g:%g]\n"
             "plot dir.\"boundary_grid.csv\" skip 1 using 1:2:3 with image notitle, \\\n"
             "     dir.\"points.csv\" skip 1 using 1:2:($3+1) with points pt 7 ps 0.8 lc variable notitle\n",
             lo[0], hi[0], lo[1], hi[1]);
    return ex_plot(dir, "boundary.gp", "boundary.png", 600, 600, body);
}

int main(int argc, char **argv)
{
    ex_common opt = {.epochs = 300, .batch_size = 30, .lr = 1.0, .seed = 0, .output_dir = "runs/spiral"};
    int hidden = 10;
    ex_schedule schedule = {.kind = EX_SCHEDULE_NONE, .step_size = 100, .gamma = 0.5};
    bool resume = false;
    const ex_option options[] = {
        EX_EPOCHS_OPTION(&opt),
        EX_BATCH_SIZE_OPTION(&opt),
        EX_LR_OPTION(&opt),
        EX_SCHEDULE_OPTIONS(&schedule),
        EX_INT_OPTION("hidden", &hidden, 1, 100000, "units of the hidden layer"),
        EX_SEED_OPTION(&opt),
        EX_THREADS_OPTION(&opt),
        EX_DEVICE_OPTION(&opt),
        EX_OUTPUT_DIR_OPTION(&opt),
        EX_RESUME_OPTION(&resume),
    };
    ex_parse(&(ex_program){"spiral", "DeZero steps 48-50: an MLP (sigmoid) with SGD learns the 300 points of the "
                                     "three-armed spiral;\nwrites metrics.csv, loss.png and the decision boundary "
                                     "(boundary.png) into the output directory,\nand checkpoint.npz as it trains "
                                     "(--resume continues from it).",
                           sizeof options / sizeof *options, options},
             argc, argv);
    ex_schedule_check(&schedule, opt.epochs);
    if (!ex_setup(&opt))
        return 1;
    dz_device device = ex_device(opt.device);

    dz_array *x, *t;
    dz_dataset_spiral(1, &x, &t);
    dz_rng rng;
    dz_rng_seed(&rng, (uint64_t)opt.seed);
    dz_layer *model = dz_mlp_new(2, (const int64_t[]){hidden, 3}, dz_sigmoid, DZ_F32, &rng);
    dz_sgd_config config = dz_sgd_defaults();
    config.lr = opt.lr;
    dz_optimizer *sgd = dz_sgd_new(&config);
    if (dz_layer_to_device(model, device) != DZ_OK || dz_optimizer_setup(sgd, model) != DZ_OK)
        return ex_fail();
    dz_dataloader *loader = dz_dataloader_new(x, t, opt.batch_size, true, &rng);
    printf("MLP 2-%d-3 (sigmoid), SGD lr %g, batch %d, %d epochs\n", hidden, opt.lr, opt.batch_size, opt.epochs);

    const ex_column columns[] = {
        {"loss", 4, EX_LOSS_PANEL}, {"accuracy", 4, EX_ACCURACY_PANEL}, {"seconds", 4, EX_TABLE_ONLY},
        {"lr", 4, EX_TABLE_ONLY}};
    ex_training training = {.program = "spiral", .common = &opt, .schedule = &schedule, .resume = resume,
                            .checkpoint = {.model = model, .optimizer = sgd, .rng = &rng, .loader = loader}};
    if (!ex_training_start(&training, 4, columns, "points"))
        return 1;
    training.metrics.print_every = 30;
    for (int epoch = (int)training.checkpoint.epoch + 1; epoch <= opt.epochs; epoch++) {
        double start = ex_now(), lr = dz_optimizer_lr(sgd), loss, accuracy;
        ex_train_epoch(model, sgd, loader, device, &training.progress, epoch, &loss, &accuracy);
        if (!ex_training_epoch_end(&training, epoch, (const double[]){loss, accuracy, ex_now() - start, lr}))
            return 1;
    }
    ex_training_finish(&training);

    double *cls = malloc(sizeof(double) * (size_t)x->shape[0]), correct = 0;
    predict(model, x, device, cls);
    for (int64_t i = 0; i < x->shape[0]; i++)
        correct += cls[i] == dz_array_get(t, i);
    free(cls);
    printf("accuracy on the %lld points: %.3f\n", (long long)x->shape[0], correct / (double)x->shape[0]);
    bool drawn = draw_boundary(model, x, t, device, opt.output_dir);

    dz_dataloader_free(loader);
    dz_optimizer_free(sgd);
    dz_layer_free(model);
    dz_array_release(x);
    dz_array_release(t);
    return drawn ? 0 : 1;
}
