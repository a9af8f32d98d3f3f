/* What the optimizer sources share: the optimizer and hook structs, the
 * per-parameter state, the vtable an update rule fills in, and the sparse
 * helpers of sparse.c. Not installed. */
#ifndef DEZERO_OPTIMIZER_INTERNAL_H
#define DEZERO_OPTIMIZER_INTERNAL_H

#include "../backend/backend.h"
#include "../core/internal.h"
#include "dezero/optim.h"
#include "dezero/sparse_grad.h"

#define DZ_OPTIM_MAX_STATE 3

/* One parameter's state. arrays[i] is named ops->state_names[i]; NULL until
 * the update rule needs it. */
typedef struct dz_param_state {
    int64_t step; /* updates so far, counting the one in progress */
    dz_array *arrays[DZ_OPTIM_MAX_STATE];
    /* SGD with momentum on sparse grads: the sorted rows whose momentum buffer
     * may be nonzero (every other row of the buffer is 0). A cache, rebuilt
     * from the buffer after a state load; NULL when unknown. */
    dz_array *touched_rows;
} dz_param_state;

/* Messages of the checks that run inside a public call start with `who`:
 * "<public function>: <optimizer name>", e.g. "dz_optimizer_update: Adam". */
#define DZ_OPTIM_WHO_MAX 96

/* One parameter being updated: its position in the optimizer and its path. */
typedef struct dz_update_item {
    int index;
    dz_variable *param;
    const char *path;
} dz_update_item;

typedef struct dz_optimizer_ops {
    const char *name;             /* "Adam": used in every message */
    const char *state_names[DZ_OPTIM_MAX_STATE]; /* NULL-padded */
    bool counts_steps;            /* state files keep "step" */
    /* Whether this configuration uses state slot `slot` (NULL: every named
     * slot); a loaded state must have exactly these arrays. */
    bool (*uses_slot)(const dz_optimizer *opt, int slot);
    /* Text after "<name> does not support sparse (dense) gradients" when
     * step_sparse (step_dense) is NULL, e.g. ", please consider SparseAdam
     * instead"; NULL for none. */
    const char *sparse_refusal, *dense_refusal;
    /* Optional check of a grad this rule accepts (e.g. weight decay with a
     * sparse grad); raises (the message starting with `who`) and returns the code. */
    dz_status (*check)(const char *who, const dz_optimizer *opt, const dz_update_item *item);
    /* One step of one parameter; fail only when memory runs out. */
    dz_status (*step_dense)(dz_optimizer *opt, dz_param_state *state, dz_variable *param);
    dz_status (*step_sparse)(dz_optimizer *opt, dz_param_state *state, dz_variable *param);
} dz_optimizer_ops;

/* A concrete optimizer embeds this as its first member. */
struct dz_optimizer {
    const dz_optimizer_ops *ops;
    double lr;
    /* The lr when the first scheduler was attached (PyTorch's 'initial_lr'):
     * the base of every schedule on this optimizer. */
    double initial_lr;
    bool has_initial_lr;
    int nparams, capacity;
    dz_variable **params; /* retained */
    char **paths;
    dz_param_state *states;
    int nhooks;
    dz_optimizer_hook **hooks;
};

/* A hook edits the list of items about to be updated: it may change their
 * grads or drop items (count shrinks); its messages start with `who`. */
struct dz_optimizer_hook {
    const char *name;
    dz_status (*run)(const char *who, dz_optimizer_hook *hook, dz_update_item *items, int *count);
    void (*destroy)(dz_optimizer_hook *hook); /* frees what the hook added; may be NULL */
    bool owned; /* added to an optimizer, which frees it */
};

/* Set up the base of a newly allocated optimizer (zeroed memory). */
void dz_optimizer_init(dz_optimizer *opt, const dz_optimizer_ops *ops, double lr);

/* The state array `slot` of a parameter, created as zeros (or `fill`) on the
 * parameter's device, dtype and shape at first use. NULL when out of memory. */
dz_array *dz_optim_state_array(dz_param_state *state, int slot, const dz_variable *param, double fill);

/* Release a parameter's state and zero it (step 0, no arrays). */
void dz_optim_state_clear(dz_param_state *state);

/* Checks of hyperparameters: raise DZ_ERR_VALUE with PyTorch's text after
 * "<op>: " (a finite value >= 0; a beta in [0, 1)). */
bool dz_optim_check_nonnegative(const char *op, const char *what, double value);
bool dz_optim_check_beta(const char *op, int index, double beta);

/* ---- optimizer_state.c: loading state in two steps ----
 * prepare checks the keys of `z` under `prefix` (see dz_optimizer_state_from_npz)
 * and copies the state for each parameter; on failure (messages start with
 * `who`, or `op` for a state error; `source` names the file) it holds
 * nothing. finish swaps the state in (commit) or drops it. The arrays borrowed
 * from `z` must live until finish. `targets` (NULL: the parameters' data now)
 * holds, per parameter of the optimizer, the data it will have when the state
 * is committed: a checkpoint loads a lazy parameter's weights in the same
 * step, so its state is checked against the file's shape, dtype and device. */
typedef struct dz_optimizer_state_load {
    dz_param_state *fresh;
    const dz_array *lr; /* the file's learning rate, NULL when absent */
} dz_optimizer_state_load;
dz_status dz_optimizer_prepare_state(const char *op, const char *who, const dz_optimizer *opt,
                                     const dz_array *const *targets, const char *source, const dz_npz *z,
                                     const char *prefix, dz_optimizer_state_load *out);
void dz_optimizer_finish_state(dz_optimizer *opt, dz_optimizer_state_load *load, bool commit);

/* ---- sparse.c ---- */

/* A coalesced copy of a sparse grad: indices sorted and unique, duplicates
 * summed in their original order. Both arrays are new references. */
typedef struct dz_coalesced {
    dz_array *rows;   /* (m,) int64 */
    dz_array *values; /* (m, D) */
} dz_coalesced;
dz_status dz_optim_coalesce(const dz_sparse_grad *g, dz_coalesced *out);
void dz_optim_coalesced_free(dz_coalesced *c);
/* Check a sparse grad against its parameter (shapes, dtype, index range). */
dz_status dz_optim_check_sparse_grad(const char *who, const dz_update_item *item);
/* SGD on a sparse grad (plain, momentum, Nesterov). */
dz_status dz_optim_sgd_sparse_step(const dz_sgd_config *c, dz_param_state *state, dz_variable *param);
/* Drop the touched-rows cache after a dense step or a state load. */
void dz_optim_forget_touched_rows(dz_param_state *state);

#endif
