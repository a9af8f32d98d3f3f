/* Optimizer state in .npz files, so training can stop and resume exactly.
 *
 * Keys (paths are the parameters' setup paths, e.g. "l1/W"):
 *     state/<path>/<name>   a state array ("exp_avg", "momentum_buffer", ...),
 *                           the parameter's shape and dtype
 *     state/<path>/step     0-d int64, for optimizers that count steps
 *     param_groups/lr       0-d float64, the learning rate
 * Other keys (a model's weights in the same file) are ignored. Loading checks
 * every state key first (known parameter and name, shape, dtype, a complete
 * set per parameter) and only then replaces the whole state, as PyTorch's
 * load_state_dict does: a parameter without keys starts afresh. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../io/npz_internal.h"
#include "../layers/layer_internal.h"
#include "optimizer_internal.h"

#define STATE_PREFIX "state/"
#define LR_KEY "param_groups/lr"
#define STEP_SLOT (-1)

/* ---- saving ---- */

static dz_status add_entry(dz_npz *z, const char *path, const char *name, const dz_array *a)
{
    char *key = dz_xformat(STATE_PREFIX "%s/%s", path, name);
    dz_array *host = dz_array_to_device(a, DZ_CPU);
    dz_status status = host ? dz_npz_add(z, key, host) : DZ_ERR_NOMEM;
    dz_array_release(host);
    free(key);
    return status;
}

static dz_status add_param_state(const dz_optimizer *opt, int i, dz_npz *z)
{
    const dz_param_state *state = &opt->states[i];
    dz_status status = DZ_OK;
    for (int s = 0; s < DZ_OPTIM_MAX_STATE && status == DZ_OK; s++)
        if (state->arrays[s])
            status = add_entry(z, opt->paths[i], opt->ops->state_names[s], state->arrays[s]);
    if (status == DZ_OK && opt->ops->counts_steps && state->step > 0) {
        dz_array *step = dz_array_scalar(DZ_I64, (double)state->step);
        status = step ? add_entry(z, opt->paths[i], "step", step) : DZ_ERR_NOMEM;
        dz_array_release(step);
    }
    return status;
}

/* Adds the learning rate and every state array; environment errors are
 * recorded under `op`. */
static dz_status add_state(const char *op, const dz_optimizer *opt, dz_npz *z)
{
    dz_array *lr = dz_array_scalar(DZ_F64, opt->lr);
    dz_status status = lr ? dz_npz_add(z, LR_KEY, lr) : DZ_ERR_NOMEM;
    dz_array_release(lr);
    for (int i = 0; i < opt->nparams && status == DZ_OK; i++)
        status = add_param_state(opt, i, z);
    return status == DZ_OK ? DZ_OK : dz_fail_under(op, status);
}

dz_status dz_optimizer_state_to_npz(const dz_optimizer *opt, dz_npz *z)
{
    const char *op = "dz_optimizer_state_to_npz";
    if (!opt || !z)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "the npz");
    return add_state(op, opt, z);
}

dz_status dz_optimizer_save_state(const dz_optimizer *opt, const char *path)
{
    const char *op = "dz_optimizer_save_state";
    if (!opt || !path)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "path");
    dz_npz *z = dz_npz_new();
    dz_status status = add_state(op, opt, z);
    if (status == DZ_OK)
        status = dz_npz_save_as(op, z, path, false);
    dz_npz_free(z);
    return status;
}

/* ---- loading: check everything, then swap ---- */

/* What the file holds for one parameter (borrowed from the npz). */
typedef struct {
    const dz_array *arrays[DZ_OPTIM_MAX_STATE];
    const dz_array *step;
    bool present;
} file_state;

static int find_param(const dz_optimizer *opt, const char *path, size_t len)
{
    for (int i = 0; i < opt->nparams; i++)
        if (strlen(opt->paths[i]) == len && strncmp(opt->paths[i], path, len) == 0)
            return i;
    return -1;
}

/* "state/<path>/<name>" -> parameter index and slot (STEP_SLOT for "step"). */
static dz_status parse_key(const char *who, const dz_optimizer *opt, const char *key, int *param, int *slot)
{
    const char *path = key + strlen(STATE_PREFIX), *slash = strrchr(path, '/');
    *param = slash ? find_param(opt, path, (size_t)(slash - path)) : -1;
    if (*param < 0)
        return dz_fail(DZ_ERR_FORMAT, "%s state: key '%s' names no parameter of this optimizer", who,
                       key);
    const char *name = slash + 1;
    *slot = -2;
    if (opt->ops->counts_steps && strcmp(name, "step") == 0)
        *slot = STEP_SLOT;
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        if (opt->ops->state_names[s] && strcmp(opt->ops->state_names[s], name) == 0)
            *slot = s;
    if (*slot == -2)
        return dz_fail(DZ_ERR_FORMAT, "%s state: key '%s': '%s' is not a state of %s", who, key, name,
                       opt->ops->name);
    return DZ_OK;
}

static dz_status check_step(const char *who, const char *key, const dz_array *a)
{
    if (!dz_dtype_is_integer(a->dtype) || a->size != 1 || dz_array_get(a, 0) < 0)
        return dz_fail(DZ_ERR_FORMAT, "%s state: key '%s' must hold one non-negative integer (got %s %s)",
                       who, key, dz_dtype_name(a->dtype), DZ_SHAPE_OF(a));
    return DZ_OK;
}

/* The data parameter i has once the state is committed: `targets[i]`, or its
 * data now when there are no targets (NULL for a lazy parameter not created). */
static const dz_array *target_of(const dz_optimizer *opt, const dz_array *const *targets, int i)
{
    return targets ? targets[i] : opt->params[i]->data;
}

static dz_status check_array(const char *who, const char *key, const dz_array *p, const dz_array *a)
{
    if (!p)
        return dz_fail(DZ_ERR_STATE, "%s state: key '%s' is for a parameter that has no data yet (run a forward "
                       "pass or load its weights first)", who, key);
    if (!dz_array_same_shape(a, p) || a->dtype != p->dtype)
        return dz_fail(DZ_ERR_FORMAT, "%s state: key '%s' is %s %s but the parameter is %s %s", who,
                       key, dz_dtype_name(a->dtype), DZ_SHAPE_OF(a), dz_dtype_name(p->dtype), DZ_SHAPE_OF(p));
    return DZ_OK;
}

static dz_status read_key(const char *who, const dz_optimizer *opt, const dz_array *const *targets, const char *key,
                          const dz_array *a, file_state *states)
{
    int param = -1, slot = STEP_SLOT;
    dz_status status = parse_key(who, opt, key, &param, &slot);
    if (status != DZ_OK)
        return status;
    status = slot == STEP_SLOT ? check_step(who, key, a) : check_array(who, key, target_of(opt, targets, param), a);
    if (status != DZ_OK)
        return status;
    states[param].present = true;
    if (slot == STEP_SLOT)
        states[param].step = a;
    else
        states[param].arrays[slot] = a;
    return DZ_OK;
}

static bool uses_slot(const dz_optimizer *opt, int slot)
{
    return opt->ops->state_names[slot] && (!opt->ops->uses_slot || opt->ops->uses_slot(opt, slot));
}

/* A parameter in the file has exactly the arrays this configuration keeps. */
static dz_status check_complete(const char *who, const dz_optimizer *opt, int i, const file_state *f)
{
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        if (uses_slot(opt, s) != (f->arrays[s] != NULL))
            return dz_fail(DZ_ERR_FORMAT, "%s state for parameter '%s': '%s' is %s", who,
                           opt->paths[i], opt->ops->state_names[s],
                           f->arrays[s] ? "not used by this optimizer's settings" : "missing");
    if (opt->ops->counts_steps && !f->step)
        return dz_fail(DZ_ERR_FORMAT, "%s state for parameter '%s': 'step' is missing", who,
                       opt->paths[i]);
    return DZ_OK;
}

/* The learning rate in the file: one finite float >= 0. */
static dz_status check_lr(const char *who, const char *key, const dz_array *a)
{
    if (!dz_dtype_is_float(a->dtype) || a->size != 1 || !(dz_array_get(a, 0) >= 0) || !isfinite(dz_array_get(a, 0)))
        return dz_fail(DZ_ERR_FORMAT, "%s state: '%s' must hold one finite float >= 0", who, key);
    return DZ_OK;
}

/* Reads and checks every optimizer key of the file under `prefix`, which
 * must have some (a weights file has none). */
static dz_status read_file(const char *who, const dz_optimizer *opt, const dz_array *const *targets,
                           const char *source, const dz_npz *z, const char *prefix, file_state *states,
                           const dz_array **lr)
{
    dz_status status = DZ_OK;
    bool found = false;
    size_t plen = strlen(prefix);
    for (int k = 0; k < dz_npz_count(z) && status == DZ_OK; k++) {
        const char *name = dz_npz_name(z, k), *key = name + plen;
        const dz_array *a = dz_npz_get(z, name);
        if (strncmp(name, prefix, plen) != 0)
            continue;
        if (strcmp(key, LR_KEY) == 0) {
            *lr = a;
            status = check_lr(who, key, a);
        } else if (strncmp(key, STATE_PREFIX, strlen(STATE_PREFIX)) == 0) {
            status = read_key(who, opt, targets, key, a, states);
        } else {
            continue;
        }
        found = true;
    }
    if (status == DZ_OK && !found)
        return dz_fail(DZ_ERR_FORMAT, "%s state: %s holds no optimizer state (no '%s" LR_KEY "' or '%s" STATE_PREFIX
                       "...' keys; a weights file?); the optimizer is unchanged", who, source, prefix, prefix);
    for (int i = 0; i < opt->nparams && status == DZ_OK; i++)
        if (states[i].present)
            status = check_complete(who, opt, i, &states[i]);
    return status;
}

/* Private copies of the file's arrays on each parameter's device. */
static dz_status copy_state(const char *who, const dz_optimizer *opt, const dz_array *const *targets,
                            const file_state *files, dz_param_state *fresh)
{
    for (int i = 0; i < opt->nparams; i++) {
        if (!files[i].present)
            continue;
        fresh[i].step = files[i].step ? (int64_t)dz_array_get(files[i].step, 0) : 0;
        for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++) {
            if (!files[i].arrays[s])
                continue;
            dz_array *host = dz_array_copy(files[i].arrays[s]);
            fresh[i].arrays[s] = host ? dz_array_to_device(host, target_of(opt, targets, i)->device) : NULL;
            dz_array_release(host);
            if (!fresh[i].arrays[s])
                return dz_fail(DZ_ERR_NOMEM, "%s state: out of memory copying the state of '%s'", who,
                               opt->paths[i]);
        }
    }
    return DZ_OK;
}

static void drop_fresh(const dz_optimizer *opt, dz_param_state *fresh)
{
    for (int i = 0; i < opt->nparams; i++)
        dz_optim_state_clear(&fresh[i]);
    free(fresh);
}

dz_status dz_optimizer_prepare_state(const char *op, const char *who, const dz_optimizer *opt,
                                     const dz_array *const *targets, const char *source, const dz_npz *z,
                                     const char *prefix, dz_optimizer_state_load *out)
{
    *out = (dz_optimizer_state_load){NULL, NULL};
    if (opt->nparams == 0)
        return dz_raise(DZ_ERR_STATE, "%s: this %s has no parameters yet; call dz_optimizer_setup before loading "
                        "its state", op, opt->ops->name);
    file_state *files = dz_xcalloc((size_t)opt->nparams + 1, sizeof *files);
    out->fresh = dz_xcalloc((size_t)opt->nparams + 1, sizeof *out->fresh);
    dz_status status = read_file(who, opt, targets, source, z, prefix, files, &out->lr);
    if (status == DZ_OK)
        status = copy_state(who, opt, targets, files, out->fresh);
    free(files);
    if (status != DZ_OK) {
        drop_fresh(opt, out->fresh);
        *out = (dz_optimizer_state_load){NULL, NULL};
    }
    return status;
}

void dz_optimizer_finish_state(dz_optimizer *opt, dz_optimizer_state_load *load, bool commit)
{
    if (!load->fresh)
        return;
    if (commit) {
        for (int i = 0; i < opt->nparams; i++) { /* swap: the old state goes, the copies come in */
            dz_optim_state_clear(&opt->states[i]);
            opt->states[i] = load->fresh[i];
        }
        free(load->fresh);
        if (load->lr)
            opt->lr = dz_array_get(load->lr, 0);
    } else {
        drop_fresh(opt, load->fresh);
    }
    *load = (dz_optimizer_state_load){NULL, NULL};
}

/* Replaces the optimizer's state with the one in `z` (from `source`, a
 * file name for messages), all or nothing. */
static dz_status load_from(const char *op, dz_optimizer *opt, const char *source, const dz_npz *z)
{
    char who[DZ_OPTIM_WHO_MAX];
    snprintf(who, sizeof who, "%s: %s", op, opt->ops->name);
    dz_optimizer_state_load load;
    dz_status status = dz_optimizer_prepare_state(op, who, opt, NULL, source, z, "", &load);
    if (status == DZ_OK)
        dz_optimizer_finish_state(opt, &load, true);
    return status;
}

dz_status dz_optimizer_state_from_npz(dz_optimizer *opt, const dz_npz *z)
{
    const char *op = "dz_optimizer_state_from_npz";
    if (!opt || !z)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "the npz");
    return load_from(op, opt, "the npz", z);
}

dz_status dz_optimizer_load_state(dz_optimizer *opt, const char *path)
{
    const char *op = "dz_optimizer_load_state";
    if (!opt || !path)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "path");
    if (opt->nparams == 0) /* before reading the file */
        return load_from(op, opt, path, NULL);
    dz_npz *z = NULL;
    dz_status status = dz_npz_load_as(op, path, &z);
    if (status == DZ_OK)
        status = load_from(op, opt, path, z);
    dz_npz_free(z);
    return status;
}
