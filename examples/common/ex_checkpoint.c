/* Checkpoints and learning-rate schedules for the training examples' loop
 * (ex_training): the schedule the --schedule/--warmup options describe,
 * checkpoint.npz in the output directory after each epoch (at most once a
 * second, and after the last one), and --resume, which loads it after
 * checking that it fits the command line and continues metrics.csv. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "ex.h"

#define EX_CHECKPOINT "checkpoint.npz"
#define EX_CHECKPOINT_SECONDS 1.0 /* at most one checkpoint a second, and the last epoch's */

/* What a resumed run must repeat from the run that saved the checkpoint. */
static const char same_options[] =
    "resume with the options of the run that saved it (the model's sizes, --lr, --batch-size, the training "
    "images, the schedule's options and, with --schedule cosine, --epochs), or run without --resume to start "
    "afresh";

/* ---- schedules ------------------------------------------------------------- */

/* The part after the warm-up, or NULL for a constant rate. */
static dz_scheduler *main_part(const ex_schedule *s, dz_optimizer *opt, int epochs)
{
    switch (s->kind) {
    case EX_SCHEDULE_COSINE:
        return dz_cosine_annealing_lr_new(opt, epochs - s->warmup, 0.0);
    case EX_SCHEDULE_STEP:
        return dz_step_lr_new(opt, s->step_size, s->gamma);
    default:
        return NULL;
    }
}

void ex_schedule_check(const ex_schedule *s, int epochs)
{
    if (s->kind == EX_SCHEDULE_COSINE && s->warmup >= epochs)
        ex_usage_error("--schedule cosine needs epochs after the warm-up: --warmup %d, --epochs %d; give fewer "
                       "warm-up epochs or more epochs", s->warmup, epochs);
}

/* The scheduler of `s` on `opt` for a run of `epochs` epochs (stepped once
 * per epoch), or NULL for none without warm-up: then nothing touches the
 * optimizer's learning rate. */
static dz_scheduler *schedule_new(const ex_schedule *s, dz_optimizer *opt, int epochs)
{
    if (s->warmup == 0)
        return main_part(s, opt, epochs);
    dz_scheduler *warmup = dz_linear_lr_new(opt, 1.0 / (s->warmup + 1), 1.0, s->warmup);
    dz_scheduler *rest = main_part(s, opt, epochs);
    if (!rest)
        return warmup;
    dz_scheduler *parts[] = {warmup, rest};
    return dz_sequential_lr_new(opt, 2, parts, (const int64_t[]){s->warmup});
}

/* ---- checkpoints ------------------------------------------------------------ */

/* After an epoch (tr->checkpoint.epoch): writes <output dir>/checkpoint.npz,
 * at most once a second and always after the last epoch. */
static bool checkpoint_epoch(ex_training *tr)
{
    const dz_checkpoint *c = &tr->checkpoint;
    if (c->epoch < tr->common->epochs && ex_now() - tr->last_checkpoint < EX_CHECKPOINT_SECONDS)
        return true;
    char path[4096];
    if (dz_checkpoint_save(ex_path(path, sizeof path, tr->common->output_dir, EX_CHECKPOINT), c) != DZ_OK) {
        ex_fail();
        return false;
    }
    tr->last_checkpoint = ex_now();
    return true;
}

/* A 0-d number of the file, or NAN when it is absent. */
static double file_number(const dz_npz *z, const char *key)
{
    const dz_array *a = dz_npz_get(z, key);
    return a && a->size == 1 ? dz_array_get(a, 0) : NAN;
}

/* The text of the file's uint8 array `key` into buf ("" when absent). */
static void file_text(const dz_npz *z, const char *key, char *buf, size_t size)
{
    const dz_array *a = dz_npz_get(z, key);
    size_t n = 0;
    for (; a && a->dtype == DZ_U8 && n + 1 < size && (int64_t)n < a->size; n++)
        buf[n] = (char)dz_array_get(a, (int64_t)n);
    buf[n] = '\0';
}

/* What dz_checkpoint_load does not compare with the command line: the
 * learning rate, whether there is a schedule, and the epoch. Says why when
 * the file does not fit. */
static bool fits_command_line(const char *path, const dz_checkpoint *c, double lr, int epochs)
{
    dz_npz *z = NULL;
    if (dz_npz_load(path, &z) != DZ_OK) {
        ex_error("cannot resume: %s", dz_last_error());
        return false;
    }
    char saved[64], given[64];
    file_text(z, "scheduler/type", saved, sizeof saved);
    snprintf(given, sizeof given, "%s", c->scheduler ? dz_scheduler_name(c->scheduler) : "");
    double saved_lr = file_number(z, c->scheduler ? "scheduler/base_lr" : "optimizer/param_groups/lr");
    double epoch = file_number(z, "epoch");
    dz_npz_free(z);
    const char *why = NULL;
    char buf[512];
    if (strcmp(saved, given) != 0) {
        snprintf(buf, sizeof buf, "its run had %s%s as the learning-rate schedule, this one has %s%s",
                 *saved ? "a " : "", *saved ? saved : "none", *given ? "a " : "", *given ? given : "none");
        why = buf;
    } else if (!isnan(saved_lr) && saved_lr != lr) {
        snprintf(buf, sizeof buf, "its run had --lr %.10g, this one has --lr %.10g", saved_lr, lr);
        why = buf;
    } else if (epoch > epochs) {
        snprintf(buf, sizeof buf, "it is at epoch %.0f, after --epochs %d; give --epochs %.0f or more", epoch,
                 epochs, epoch);
        why = buf;
    }
    if (why)
        ex_error("cannot resume from %s: %s.\nHint: %s.", path, why, same_options);
    return why == NULL;
}

/* --resume: loads <dir>/checkpoint.npz into c after checking that it fits
 * the command line; false, having said why, when there is none or it does
 * not fit. */
static bool resume(const char *dir, dz_checkpoint *c, double lr, int epochs)
{
    char path[4096];
    ex_path(path, sizeof path, dir, EX_CHECKPOINT);
    if (access(path, F_OK) != 0) {
        ex_error("--resume: no checkpoint to continue from: %s: %s (a run writes it after each epoch; give the "
                 "--output-dir of the run to continue, or run without --resume to start afresh)",
                 path, strerror(errno));
        return false;
    }
    if (!fits_command_line(path, c, lr, epochs))
        return false;
    if (dz_checkpoint_load(path, c) != DZ_OK) {
        ex_error("cannot resume: %s\nHint: %s.", dz_last_error(), same_options);
        return false;
    }
    printf("resumed from %s after epoch %lld of %d\n", path, (long long)c->epoch, epochs);
    return true;
}

/* ---- the training loop ------------------------------------------------------ */

bool ex_training_start(ex_training *tr, int ncolumns, const ex_column *columns, const char *unit)
{
    const ex_common *common = tr->common;
    dz_checkpoint *c = &tr->checkpoint;
    c->scheduler = schedule_new(tr->schedule, c->optimizer, common->epochs);
    c->epoch = c->step = 0;
    bool started = !tr->resume || resume(common->output_dir, c, common->lr, common->epochs);
    if (started)
        started = tr->resume ? ex_metrics_resume(&tr->metrics, tr->program, common->output_dir, common->epochs,
                                                 ncolumns, columns, (int)c->epoch)
                             : ex_metrics_open(&tr->metrics, tr->program, common->output_dir, common->epochs,
                                               ncolumns, columns);
    if (!started) {
        dz_scheduler_free(c->scheduler);
        c->scheduler = NULL;
        return false;
    }
    ex_progress_start(&tr->progress, (int)c->epoch + 1, common->epochs, dz_dataloader_batches(c->loader), unit);
    tr->last_checkpoint = -INFINITY;
    return true;
}

bool ex_training_epoch_end(ex_training *tr, int epoch, const double *values)
{
    dz_checkpoint *c = &tr->checkpoint;
    if (c->scheduler && dz_scheduler_step(c->scheduler) != DZ_OK) {
        ex_fail();
        return false;
    }
    ex_metrics_row(&tr->metrics, &tr->progress, epoch, values);
    c->epoch = epoch;
    c->step += dz_dataloader_batches(c->loader);
    return checkpoint_epoch(tr);
}

void ex_training_finish(ex_training *tr)
{
    ex_metrics_close(&tr->metrics);
    dz_scheduler_free(tr->checkpoint.scheduler);
    tr->checkpoint.scheduler = NULL;
}
