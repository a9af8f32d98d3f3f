/* Training checkpoints: everything a run needs to resume, in one .npz file.
 *
 *     dz_checkpoint c = {.model = model, .optimizer = opt, .scheduler = sched,
 *                        .rng = rng, .loader = loader, .epoch = epoch, .step = step};
 *     dz_checkpoint_save("run.ckpt.npz", &c);
 *
 *     // later, in a new process: build the same objects as for a fresh run
 *     dz_checkpoint r = {.model = model, .optimizer = opt, .scheduler = sched,
 *                        .rng = rng, .loader = loader};
 *     if (dz_checkpoint_load("run.ckpt.npz", &r) == DZ_OK)
 *         start_epoch = r.epoch;                     // r.step as saved, too
 *
 * Resuming: a run that saves a checkpoint, and a run that rebuilds the same
 * objects (same types, hyperparameters, parameter names and shapes, data set
 * and batch size), loads the checkpoint and carries on, compute the same
 * thing bit for bit: weights, optimizer state, learning rates, random
 * numbers (dropout, shuffles) and losses. A checkpoint may be taken anywhere
 * between two optimizer updates, mid-epoch included: with the loader in it,
 * the resumed run takes the rest of the epoch's batches in the same order.
 *
 * The file (np.load reads it; every key below is an array):
 *     format_version               0-d int64, 1
 *     epoch, step                  0-d int64, as given
 *     model/PATH                   each parameter ("model/l1/W")
 *     optimizer/type               uint8, the name's bytes ("Adam")
 *     optimizer/...                dz_optimizer_state_to_npz's keys
 *                                  ("optimizer/state/l1/W/exp_avg", "optimizer/param_groups/lr")
 *     scheduler/type               uint8, the name's bytes ("SequentialLR")
 *     scheduler/hyper              (3,) float64: the hyperparameters
 *     scheduler/base_lr, last_lr   0-d float64
 *     scheduler/last_epoch, step_count   0-d int64
 *     scheduler/milestones         (n - 1,) int64, SequentialLR only
 *     scheduler/I/...              a SequentialLR's part I, the same keys
 *     rng/state                    (4,) int64: the four uint64 words of
 *                                  xoshiro256**, bit for bit (NumPy: .view(np.uint64))
 *     rng/spare_normal             0-d float64;  rng/has_spare  0-d int64
 *     loader/order                 (N,) int64: this epoch's order of the rows
 *     loader/position              0-d int64: the rows already taken this epoch
 *     loader/batch_size            0-d int64
 * The optimizer, scheduler, rng and loader parts are there when the
 * checkpoint was saved with them.
 *
 * Saving is atomic: a failed save leaves the previous file intact. Loading
 * restores every object given in the struct (NULL members are skipped; parts
 * of the file they would take are ignored) and fills in epoch and step. It
 * checks everything first: a wrong model (a missing or extra parameter, a
 * shape or dtype that differs), an optimizer or scheduler of another kind or
 * with other hyperparameters, a loader over another number of rows or with
 * another batch size, a missing part, a truncated or malformed file: each
 * fails with a message naming the key, and leaves the model, optimizer,
 * scheduler, rng, loader and the struct as they were.
 *
 * A lazy layer's parameters that are not created yet (a Linear with in_size
 * 0, as in dz_mlp_new, before its first forward) take the file's shapes, as
 * with dz_layer_load_weights, and the optimizer state for them is loaded in
 * the same step: a fresh model and an optimizer set up on it resume without a
 * forward pass first. A failed load leaves them uncreated.
 *
 * What is not saved: the objects' configuration (build them as for the first
 * run), the optimizer's hooks, the data, and the default generator unless it
 * is the one passed as rng (pass dz_rng_default() when dropout or the loader
 * use it).
 */
#ifndef DEZERO_CHECKPOINT_H
#define DEZERO_CHECKPOINT_H

#include <stdint.h>

#include "dezero/export.h"
#include "dezero/datasets.h"
#include "dezero/error.h"
#include "dezero/layer.h"
#include "dezero/optim.h"
#include "dezero/rng.h"
#include "dezero/scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a checkpoint holds. model is required; the others may be NULL. A
 * scheduler must be attached to the optimizer given with it. */
typedef struct dz_checkpoint {
    dz_layer *model;
    dz_optimizer *optimizer;
    dz_scheduler *scheduler;
    dz_rng *rng;
    dz_dataloader *loader;
    int64_t epoch, step; /* the caller's counters: saved as given, filled in by a load */
} dz_checkpoint;

/* Writes the objects of `checkpoint` and its epoch and step to `path` (the
 * keys above), atomically. Returns DZ_OK; after a user error (a NULL path,
 * checkpoint or model; a scheduler without its optimizer, or a part of a
 * SequentialLR) its code; DZ_ERR_STATE when a lazy parameter is not created
 * yet; DZ_ERR_IO when the file cannot be written. Nothing is written after
 * an error. */
DZ_API dz_status dz_checkpoint_save(const char *path, const dz_checkpoint *checkpoint);
/* Restores the objects of `checkpoint` (those not NULL) from `path` and
 * fills in its epoch and step. Build them as the saving run did, with the
 * optimizer set up on the model. Returns DZ_OK; after a user error (as for
 * dz_checkpoint_save, or an optimizer with no parameters) its code;
 * DZ_ERR_IO when the file cannot be read; DZ_ERR_FORMAT, DZ_ERR_SHAPE or
 * DZ_ERR_DTYPE when it does not fit the objects (a missing or extra key,
 * another type, hyperparameters, shape or dtype), DZ_ERR_UNSUPPORTED for a
 * format this library does not read. After an error nothing has changed. */
DZ_API dz_status dz_checkpoint_load(const char *path, dz_checkpoint *checkpoint);

#ifdef __cplusplus
}
#endif

#endif
