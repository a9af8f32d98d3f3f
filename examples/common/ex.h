/* The examples' support library: not part of dezero-c's public API (the
 * names start with ex_, it is linked statically into each example and uses
 * the public API only). It gives every example the same command line, the
 * same progress line and the same files:
 *
 * - Command lines: a program declares its options as a table of ex_option
 *   rows (name, type, where the value goes, accepted range, help) and calls
 *   ex_parse, which runs getopt_long over the table. --help prints every
 *   option with its default and exits 0; an unknown option, a missing or
 *   invalid value (not a number, out of range, not one of the choices) or a
 *   stray argument prints what is wrong, what is accepted and a hint to
 *   --help, and exits 2.
 * - A progress line for training loops (ex_progress): on a terminal, one line
 *   rewritten in place at most every 0.1 s ("epoch 3/10  step 120/600  loss
 *   0.4321  1234 images/s  ETA 0:42"); when neither stderr nor stdout is a
 *   terminal it draws nothing, and the per-epoch rows of ex_metrics are the
 *   only lines.
 * - Per-epoch metrics (ex_metrics): a table on stdout and <output dir>/
 *   metrics.csv, and at the end a gnuplot script loss.gp next to it that
 *   draws loss.png (loss, and accuracy where there is one). gnuplot is run
 *   when it is on PATH; without it one line says how to draw the curves.
 *   ex_plot does the same for any other script (the spiral's decision
 *   boundary).
 * - Checkpoints and schedules (ex_training): after each epoch (at most once
 *   a second, and after the last one) the training examples write
 *   checkpoint.npz into the output directory (dz_checkpoint: the weights,
 *   the optimizer, the schedule, the generator and the loader), and --resume
 *   continues from it at the next epoch, computing what the run that never
 *   stopped computes, bit for bit, and continuing metrics.csv. --schedule and
 *   --warmup set a learning-rate schedule stepped once per epoch.
 * - Classifiers (ex_train_epoch, ex_test_accuracy, ex_fashion_mnist_run):
 *   the training loop and the test of the spiral and the Fashion-MNIST
 *   examples, and the run the two Fashion-MNIST examples share: the files
 *   cut to their first images, Adam, the epochs, and saved weights loaded
 *   back into a fresh model.
 */
#ifndef EX_H
#define EX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dezero/dezero.h"

/* ---- command lines ------------------------------------------------------- */

typedef enum ex_type {
    EX_INT,    /* int *       */
    EX_INT64,  /* int64_t *   */
    EX_DOUBLE, /* double *    */
    EX_STRING, /* const char ** (points into argv) */
    EX_CHOICE, /* int *: the index of the value in `choices` */
    EX_FLAG,   /* bool *: set by the option, which takes no value */
} ex_type;

typedef struct ex_option {
    const char *name; /* long name, without the leading "--" */
    ex_type type;
    void *value;            /* holds the default before ex_parse */
    double min, max;        /* numbers: the accepted range, both ends included... */
    bool above_min;         /* ...except min when this is set (a learning rate > 0) */
    const char *choices;    /* EX_CHOICE: "cpu|gpu|cuda"; EX_STRING: the metavariable */
    const char *help;       /* one short line */
    const char *default_is; /* shown as the default instead of the value (a NULL string's meaning) */
} ex_option;

#define EX_INT_OPTION(name, ptr, lo, hi, help) {name, EX_INT, ptr, lo, hi, false, NULL, help, NULL}
#define EX_INT64_OPTION(name, ptr, lo, hi, help) {name, EX_INT64, ptr, lo, hi, false, NULL, help, NULL}
#define EX_DOUBLE_OPTION(name, ptr, lo, hi, help) {name, EX_DOUBLE, ptr, lo, hi, false, NULL, help, NULL}
#define EX_POSITIVE_OPTION(name, ptr, hi, help) {name, EX_DOUBLE, ptr, 0, hi, true, NULL, help, NULL}
#define EX_STRING_OPTION(name, ptr, metavar, help, default_is)                                          \
    {name, EX_STRING, ptr, 0, 0, false, metavar, help, default_is}
#define EX_CHOICE_OPTION(name, ptr, choices, help) {name, EX_CHOICE, ptr, 0, 0, false, choices, help, NULL}
#define EX_FLAG_OPTION(name, ptr, help) {name, EX_FLAG, ptr, 0, 0, false, NULL, help, NULL}

/* The options most examples share. */
typedef struct ex_common {
    int epochs, batch_size;
    double lr;
    int64_t seed;
    int threads;            /* 0: the library's default, one per online CPU */
    int device;             /* EX_CPU or EX_GPU */
    const char *output_dir; /* runs/<example> by default */
} ex_common;

enum { EX_CPU, EX_GPU, EX_CUDA };

#define EX_EPOCHS_OPTION(c) EX_INT_OPTION("epochs", &(c)->epochs, 1, 1000000, "passes over the training data")
#define EX_BATCH_SIZE_OPTION(c) EX_INT_OPTION("batch-size", &(c)->batch_size, 1, 1000000, "examples per step")
#define EX_LR_OPTION(c) EX_POSITIVE_OPTION("lr", &(c)->lr, 100, "learning rate")
#define EX_SEED_OPTION(c)                                                                                 \
    EX_INT64_OPTION("seed", &(c)->seed, 0, 4294967295.0, "seed of the initial weights and the shuffling")
#define EX_THREADS_OPTION(c)                                                                              \
    EX_INT_OPTION("threads", &(c)->threads, 0, 1024,                                                      \
                  "CPU threads (dz_set_num_threads); 0: $DZ_NUM_THREADS, else one per CPU")
#define EX_DEVICE_OPTION(c)                                                                               \
    EX_CHOICE_OPTION("device", &(c)->device, "cpu|gpu|cuda", "where the model and the batches live (cuda = gpu)")
#define EX_OUTPUT_DIR_OPTION(c)                                                                           \
    EX_STRING_OPTION("output-dir", &(c)->output_dir, "DIR", "where the files go (made with its parents)", NULL)

typedef struct ex_program {
    const char *name;    /* the program, as in runs/<name> */
    const char *summary; /* what it does: the first lines of --help */
    int noptions;
    const ex_option *options;
} ex_program;

/* Parses argv by the table (getopt_long underneath). Returns when every
 * argument was accepted; --help exits 0, any error exits 2. */
void ex_parse(const ex_program *program, int argc, char **argv);

/* For options that conflict with each other, found after ex_parse: prints
 * "<program>: <message>" and the hint to --help, and exits 2. */
_Noreturn void ex_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The common options put to use: the thread count, the device (an array is
 * moved there to see that it can be used), and the output directory made
 * with its parents (NULL for a program without one). Returns false, having
 * said why (for the device, the library's message "no CUDA device: ..."),
 * when the device cannot be used or the directory cannot be made. */
bool ex_setup(const ex_common *common);

/* The device an EX_CHOICE "cpu|gpu|cuda" option names. */
dz_device ex_device(int choice);

/* Prints "<program>: <the library's last error>" on stderr and returns 1
 * (the exit status of a failed run). */
int ex_fail(void);

/* Prints "<program>: " and the message, and a newline, on stderr. */
void ex_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dir/name into buf (a name too long for buf is an error that exits 1). */
const char *ex_path(char *buf, size_t size, const char *dir, const char *name);

/* mkdir -p: false, with errno, when a part cannot be made. */
bool ex_make_dirs(const char *path);

/* Seconds on a monotonic clock. */
double ex_now(void);

/* NumPy's array_equal: the same shape and the same values. */
bool ex_array_equal(const dz_array *a, const dz_array *b);

/* ---- the progress line --------------------------------------------------- */

typedef struct ex_progress {
    FILE *tty;            /* where the line is drawn; NULL: not on a terminal, draw nothing */
    int first_epoch;      /* this run's first (after --resume, the one after the checkpoint's) */
    int epochs;
    int64_t steps;        /* per epoch */
    const char *unit;     /* "images" in "1234 images/s" */
    double start, epoch_start, last_draw;
    int64_t items;        /* done in this epoch */
    bool drawn;           /* a line is on the terminal */
} ex_progress;

/* A run of epochs first_epoch..epochs (1-based; the ETA counts from the
 * first, as the elapsed time does). */
void ex_progress_start(ex_progress *p, int first_epoch, int epochs, int64_t steps_per_epoch, const char *unit);
/* At the start of each epoch (resets the items/s count). */
void ex_progress_epoch(ex_progress *p);
/* After step `step` (1-based) of `epoch`: `items` more examples were seen,
 * `loss` is the epoch's running mean. Redraws at most every 0.1 s. */
void ex_progress_step(ex_progress *p, int epoch, int64_t step, int64_t items, double loss);
/* Erases the line, so that a plain line can be printed. */
void ex_progress_clear(ex_progress *p);

/* ---- metrics, CSV and plots ---------------------------------------------- */

typedef enum ex_panel { EX_TABLE_ONLY, EX_LOSS_PANEL, EX_ACCURACY_PANEL } ex_panel;

typedef struct ex_column {
    const char *name; /* the CSV header and the table heading: "train_loss" */
    int decimals;     /* in the table on stdout */
    ex_panel panel;   /* where loss.png draws it */
} ex_column;

typedef struct ex_metrics {
    const char *program;
    const char *dir;
    int ncolumns;
    const ex_column *columns;
    int print_every; /* a table row every n epochs, and for the last one */
    int epochs;
    FILE *csv;
    char csv_path[4096];
} ex_metrics;

/* Opens <dir>/metrics.csv, writes the header "epoch,<columns>" and prints
 * the table's heading. False, having said why, when the file cannot be made. */
bool ex_metrics_open(ex_metrics *m, const char *program, const char *dir, int epochs, int ncolumns,
                     const ex_column *columns);
/* One epoch: a CSV row (flushed), and a table row on stdout when due. */
void ex_metrics_row(ex_metrics *m, ex_progress *p, int epoch, const double *values);
/* For --resume: as ex_metrics_open, but keeps the rows of <dir>/metrics.csv
 * up to epoch `done` (the checkpoint's) and appends after them; rows of later
 * epochs (written after the checkpoint, before the run stopped) are dropped.
 * A missing file is started afresh. False, having said why, when the file has
 * another header or cannot be written. */
bool ex_metrics_resume(ex_metrics *m, const char *program, const char *dir, int epochs, int ncolumns,
                       const ex_column *columns, int done);
/* Closes the CSV and draws loss.png from it with loss.gp (see ex_plot). */
void ex_metrics_close(ex_metrics *m);

/* Writes <dir>/<script>: a preamble that picks the pngcairo terminal (png
 * where gnuplot lacks cairo), defines `dir` as the script's own directory so
 * that it runs from anywhere, and sets the output to dir.<image>; then
 * `body`, which names its data files as dir."file.csv". Runs gnuplot on it
 * when gnuplot is on PATH and prints "wrote <image path>", else prints one
 * line saying how to draw it. False when the script cannot be written or
 * gnuplot fails. */
bool ex_plot(const char *dir, const char *script, const char *image, int width, int height, const char *body);

/* ---- checkpoints and learning-rate schedules ---------------------------- */

#define EX_RESUME_OPTION(ptr)                                                                             \
    EX_FLAG_OPTION("resume", ptr, "continue the run whose checkpoint.npz is in the output directory")

enum { EX_SCHEDULE_NONE, EX_SCHEDULE_COSINE, EX_SCHEDULE_STEP };

/* A learning-rate schedule in epochs: `warmup` epochs of linear warm-up
 * (the rate in epoch e, counted from 0, is lr * (e + 1) / (warmup + 1)), then
 * constant (none), half a cosine down to 0 over the remaining epochs (cosine),
 * or lr * gamma every step_size epochs (step). */
typedef struct ex_schedule {
    int kind; /* EX_SCHEDULE_* */
    int warmup, step_size;
    double gamma;
} ex_schedule;

#define EX_SCHEDULE_OPTIONS(s)                                                                            \
    EX_CHOICE_OPTION("schedule", &(s)->kind, "none|cosine|step",                                          \
                     "learning rate after the warm-up: constant, cosine down to 0, or step decay"),      \
        EX_INT_OPTION("warmup", &(s)->warmup, 0, 1000000, "epochs of linear warm-up of the learning rate"), \
        EX_INT_OPTION("step-size", &(s)->step_size, 1, 1000000, "--schedule step: epochs between decays"), \
        EX_DOUBLE_OPTION("gamma", &(s)->gamma, 0, 1, "--schedule step: the factor of each decay")

/* Right after ex_parse: options that do not fit together (a cosine with no
 * epoch after the warm-up) exit 2. */
void ex_schedule_check(const ex_schedule *s, int epochs);

/* A training loop with checkpoints (ex_fashion_mnist_fit's, and the
 * spiral's). The caller fills in the members up to `checkpoint` (its model,
 * optimizer, rng and loader: everything the run draws from), then
 *
 *     ex_training_start(&tr, ...);      the schedule, --resume, metrics.csv
 *     for (int epoch = (int)tr.checkpoint.epoch + 1; epoch <= epochs; epoch++) {
 *         double lr = dz_optimizer_lr(optimizer);      this epoch's rate
 *         ... one epoch over the loader, with tr.progress ...
 *         ex_training_epoch_end(&tr, epoch, values);   ending with lr
 *     }
 *     ex_training_finish(&tr);          metrics.csv closed, loss.png drawn
 */
typedef struct ex_training {
    const char *program;
    const ex_common *common; /* epochs, lr, output_dir */
    const ex_schedule *schedule;
    bool resume;
    dz_checkpoint checkpoint; /* ex_training_start adds the scheduler and the epochs done */
    ex_metrics metrics;
    ex_progress progress;
    double last_checkpoint; /* ex_now() when checkpoint.npz was last written */
} ex_training;

/* Builds the schedule on the optimizer; with --resume loads <output dir>/
 * checkpoint.npz after checking that it fits the command line (the model,
 * optimizer, schedule, data and batch size: dz_checkpoint_load's checks; the
 * learning rate; an epoch no later than --epochs), and keeps the rows of
 * metrics.csv up to its epoch; else starts metrics.csv afresh. Starts the
 * progress line (`unit`: "images"). False, having said why (and which
 * options must match, when the checkpoint does not fit). */
bool ex_training_start(ex_training *tr, int ncolumns, const ex_column *columns, const char *unit);

/* After epoch `epoch` (a whole pass over the loader): steps the schedule,
 * writes the metrics row `values`, and writes checkpoint.npz (atomically: a
 * failed save leaves the previous one). A run whose epochs take less than a
 * second writes one a second, and the last epoch's: a file synced to disk
 * after each of hundreds of quick epochs would take longer than the
 * training, and a run that stops loses at most a second of it. False,
 * having said why. */
bool ex_training_epoch_end(ex_training *tr, int epoch, const double *values);

/* Closes metrics.csv (drawing loss.png) and frees the scheduler. */
void ex_training_finish(ex_training *tr);

/* ---- classifiers ----------------------------------------------------------- */

/* Examples and their labels: x (N, ...) and t (N,). */
typedef struct ex_split {
    dz_array *x, *t;
} ex_split;

/* A batch from a data loader (on the CPU) as a constant Variable on
 * `device`; takes the batch's reference. */
dz_variable *ex_batch_on(dz_array *batch, dz_device device);

/* One pass over `loader`, each batch moved to `device`: softmax cross
 * entropy of model(x) against t, backward, an optimizer step (the optimizer
 * is set up on the model), the progress line after each step. Gives the mean
 * loss and accuracy over the epoch's examples. */
void ex_train_epoch(dz_layer *model, dz_optimizer *optimizer, dz_dataloader *loader, dz_device device,
                    ex_progress *progress, int epoch, double *loss_mean, double *accuracy);

/* The model's accuracy on (x, t), in batches of batch_size moved to
 * `device`, without recording a graph. */
double ex_test_accuracy(dz_layer *model, dz_array *x, dz_array *t, int64_t batch_size, dz_device device);

/* A classifier trained with Adam on Fashion-MNIST, as the two Fashion-MNIST
 * examples run it. The caller fills in the members up to test_batch (the
 * command line's, with EX_FASHION_MNIST_OPTIONS and EX_RESUME_OPTION), then
 *
 *     ex_fashion_mnist_start(&run);               ex_setup, the images, run.rng seeded
 *     ex_fashion_mnist_adam(&run, model);         the model (weights from run.rng) with Adam
 *     ex_fashion_mnist_fit(&run);                 the epochs (ex_training: --resume, checkpoints)
 *     ex_fashion_mnist_reload(&run, fresh);       weights.npz saved, and loaded into `fresh`
 *     ex_fashion_mnist_free(&run);
 *
 * printing its own lines about the data and the model between them. Each
 * step returns false, having said why, when the run cannot go on (exit 1). */
typedef struct ex_fashion_mnist_run {
    const char *program;
    const ex_common *common; /* epochs, batch_size, lr, seed, device, output_dir */
    const ex_schedule *schedule;
    bool resume;
    const char *data;                  /* the files' directory; NULL: $DZ_FASHION_MNIST_DIR, else the default */
    int64_t train_images, test_images; /* the first images only; 0: all */
    int64_t test_batch;                /* images per test batch */
    dz_device device;
    ex_split train, test;
    dz_rng rng; /* the weights, the shuffles */
    dz_layer *model;
    dz_optimizer *adam;
    dz_dataloader *loader;
} ex_fashion_mnist_run;

/* The options of the images to read, into an ex_fashion_mnist_run. */
#define EX_FASHION_MNIST_OPTIONS(run)                                                                             \
    EX_INT64_OPTION("train-images", &(run)->train_images, 0, 60000,                                               \
                    "train on the first N images only; 0: all"),                                                  \
        EX_INT64_OPTION("test-images", &(run)->test_images, 0, 10000,                                             \
                        "test on the first N images only; 0: all"),                                               \
        EX_STRING_OPTION("data", &(run)->data, "DIR", "the Fashion-MNIST IDX files (*-ubyte.gz)",                 \
                         "$DZ_FASHION_MNIST_DIR, else " DZ_FASHION_MNIST_DIR)

/* ex_setup, then the training and test files cut to their first images, and
 * the generator seeded. */
bool ex_fashion_mnist_start(ex_fashion_mnist_run *run);

/* Takes `model` (its weights drawn from run->rng), moves it to the device
 * (printing the device's name when it is the GPU) with an Adam of the
 * command line's lr set up on it, and makes the shuffling loader. */
bool ex_fashion_mnist_adam(ex_fashion_mnist_run *run, dz_layer *model);

/* Trains up to --epochs, testing after each epoch: the table on stdout,
 * metrics.csv and loss.png in the output directory have the columns
 * train_loss, train_accuracy, test_accuracy, seconds and lr (the epoch's);
 * the schedule, --resume and checkpoint.npz are ex_training's. */
bool ex_fashion_mnist_fit(ex_fashion_mnist_run *run);

/* Saves the model's weights as <output dir>/weights.npz, loads them into
 * `fresh` (moved to the device), prints the fresh model's test accuracy and
 * frees it. */
bool ex_fashion_mnist_reload(ex_fashion_mnist_run *run, dz_layer *fresh);

/* Frees the model, the optimizer, the loader and the images. */
void ex_fashion_mnist_free(ex_fashion_mnist_run *run);

#endif
