/* The optimizer base: the parameter list, per-parameter state, hooks, and
 * dz_optimizer_update, which checks every grad, runs the hooks and then asks
 * the update rule (the vtable in optimizer_internal.h) to step each
 * parameter. The rules live in sgd.c, momentum.c, adagrad.c, adadelta.c,
 * adam.c and sparse.c. */
#include <stdio.h>
#include <string.h>

#include "optimizer_internal.h"

void dz_optimizer_init(dz_optimizer *opt, const dz_optimizer_ops *ops, double lr)
{
    opt->ops = ops;
    opt->lr = lr;
}

/* ---- parameters ---- */

static dz_status check_new_param(const dz_optimizer *opt, const dz_variable *param, const char *path)
{
    if (!param)
        return dz_raise(DZ_ERR_NULL, "%s: parameter '%s' is NULL", opt->ops->name, path);
    for (int i = 0; i < opt->nparams; i++) {
        if (opt->params[i] == param)
            return dz_raise(DZ_ERR_VALUE, "%s: parameter '%s' was already added as '%s'; add each parameter once",
                            opt->ops->name, path, opt->paths[i]);
        if (strcmp(opt->paths[i], path) == 0)
            return dz_raise(DZ_ERR_VALUE, "%s: two parameters are named '%s'; give them distinct names",
                            opt->ops->name, path);
    }
    return DZ_OK;
}

static dz_status add_param(dz_optimizer *opt, dz_variable *param, const char *path)
{
    dz_status status = check_new_param(opt, param, path);
    if (status != DZ_OK)
        return status;
    if (opt->nparams == opt->capacity) {
        opt->capacity = opt->capacity ? 2 * opt->capacity : 8;
        opt->params = dz_xrealloc(opt->params, (size_t)opt->capacity * sizeof *opt->params);
        opt->paths = dz_xrealloc(opt->paths, (size_t)opt->capacity * sizeof *opt->paths);
        opt->states = dz_xrealloc(opt->states, (size_t)opt->capacity * sizeof *opt->states);
    }
    opt->params[opt->nparams] = dz_variable_retain(param);
    opt->paths[opt->nparams] = strdup(path);
    memset(&opt->states[opt->nparams], 0, sizeof opt->states[opt->nparams]);
    opt->nparams++;
    return DZ_OK;
}

void dz_optim_state_clear(dz_param_state *state)
{
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        dz_array_release(state->arrays[s]);
    dz_array_release(state->touched_rows);
    memset(state, 0, sizeof *state);
}

/* Undo add_param back to `count` parameters. */
static void truncate_params(dz_optimizer *opt, int count)
{
    while (opt->nparams > count) {
        opt->nparams--;
        dz_variable_release(opt->params[opt->nparams]);
        free(opt->paths[opt->nparams]);
        dz_optim_state_clear(&opt->states[opt->nparams]);
    }
}

dz_status dz_optimizer_setup(dz_optimizer *opt, const dz_layer *target)
{
    if (!opt || !target)
        return dz_raise(DZ_ERR_NULL, "dz_optimizer_setup: the optimizer and the target layer must not be NULL");
    dz_param_list *list = dz_layer_params(target);
    int before = opt->nparams;
    dz_status status = DZ_OK;
    for (int i = 0; i < list->count && status == DZ_OK; i++)
        status = add_param(opt, list->params[i], list->paths[i]);
    if (status != DZ_OK)
        truncate_params(opt, before);
    dz_param_list_free(list);
    return status;
}

dz_status dz_optimizer_add_params(dz_optimizer *opt, int n, dz_variable *const *params)
{
    if (!opt || (n > 0 && !params))
        return dz_raise(DZ_ERR_NULL, "dz_optimizer_add_params: the optimizer and parameters must not be NULL");
    int before = opt->nparams;
    dz_status status = DZ_OK;
    for (int i = 0; i < n && status == DZ_OK; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "param%d", opt->nparams);
        const char *path = params[i] && params[i]->name ? params[i]->name : fallback;
        status = add_param(opt, params[i], path);
    }
    if (status != DZ_OK)
        truncate_params(opt, before);
    return status;
}

/* ---- state ---- */

dz_array *dz_optim_state_array(dz_param_state *state, int slot, const dz_variable *param, double fill)
{
    if (!state->arrays[slot]) {
        const dz_array *p = param->data;
        dz_array *a = dz_array_empty_on(p->device, p->dtype, p->ndim, p->shape); /* zeros */
        if (a && fill != 0)
            dz_backend_of(a)->fill(a, fill);
        state->arrays[slot] = a;
    }
    return state->arrays[slot];
}

static int state_slot(const dz_optimizer *opt, const char *name)
{
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        if (opt->ops->state_names[s] && name && strcmp(opt->ops->state_names[s], name) == 0)
            return s;
    return -1;
}

const dz_array *dz_optimizer_state(const dz_optimizer *opt, int i, const char *name)
{
    if (!opt || i < 0 || i >= opt->nparams)
        return NULL;
    int slot = state_slot(opt, name);
    return slot < 0 ? NULL : opt->states[i].arrays[slot];
}

dz_status dz_optimizer_to_device(dz_optimizer *opt, dz_device device)
{
    if (!opt)
        return dz_raise(DZ_ERR_NULL, "dz_optimizer_to_device: the optimizer is NULL");
    int n = opt->nparams * DZ_OPTIM_MAX_STATE;
    dz_array **moved = dz_xcalloc((size_t)n + 1, sizeof *moved);
    dz_status status = DZ_OK;
    /* Copy everything first, so a failure leaves the state where it was. */
    for (int k = 0; k < n && status == DZ_OK; k++) {
        dz_array *a = opt->states[k / DZ_OPTIM_MAX_STATE].arrays[k % DZ_OPTIM_MAX_STATE];
        if (a && !(moved[k] = dz_array_to_device(a, device)))
            status = dz_last_error_code() ? dz_last_error_code() : DZ_ERR_DEVICE;
    }
    for (int k = 0; k < n; k++) {
        dz_array **slot = &opt->states[k / DZ_OPTIM_MAX_STATE].arrays[k % DZ_OPTIM_MAX_STATE];
        if (status == DZ_OK && moved[k]) {
            dz_array_release(*slot);
            *slot = moved[k];
        } else {
            dz_array_release(moved[k]);
        }
    }
    free(moved);
    return status;
}

/* ---- hyperparameter checks (PyTorch's wording) ---- */

bool dz_optim_check_nonnegative(const char *optimizer, const char *what, double value)
{
    if (value >= 0)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: Invalid %s: %g (must be >= 0)", optimizer, what, value);
    return false;
}

bool dz_optim_check_beta(const char *optimizer, int index, double beta)
{
    if (beta >= 0 && beta < 1)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: Invalid beta parameter at index %d: %g (must be in [0, 1))", optimizer, index,
             beta);
    return false;
}

/* ---- the update ---- */

/* Parameters that have data and a grad, in order. */
static dz_update_item *collect_items(const dz_optimizer *opt, int *count)
{
    dz_update_item *items = dz_xcalloc((size_t)opt->nparams + 1, sizeof *items);
    *count = 0;
    for (int i = 0; i < opt->nparams; i++) {
        dz_variable *p = opt->params[i];
        if (p->data && (p->grad || p->sparse_grad))
            items[(*count)++] = (dz_update_item){i, p, opt->paths[i]};
    }
    return items;
}

static const char *refusal(const char *text) { return text ? text : ""; }

static dz_status check_dense_grad(const dz_optimizer *opt, const dz_update_item *item)
{
    const char *name = opt->ops->name;
    const dz_array *p = item->param->data, *g = item->param->grad->data;
    if (!opt->ops->step_dense)
        return dz_raise(DZ_ERR_UNSUPPORTED, "%s does not support dense gradients%s (parameter '%s')", name,
                        refusal(opt->ops->dense_refusal), item->path);
    if (!g)
        return dz_raise(DZ_ERR_STATE, "%s: the grad of parameter '%s' has no data", name, item->path);
    if (!dz_array_same_shape(p, g))
        return dz_raise(DZ_ERR_SHAPE, "%s: parameter '%s' has shape %s but its grad has shape %s", name,
                        item->path, DZ_SHAPE_OF(p), DZ_SHAPE_OF(g));
    if (g->dtype != p->dtype)
        return dz_raise(DZ_ERR_DTYPE, "%s: parameter '%s' is %s but its grad is %s", name, item->path,
                        dz_dtype_name(p->dtype), dz_dtype_name(g->dtype));
    if (g->device != p->device)
        return dz_raise(DZ_ERR_DEVICE, "%s: parameter '%s' and its grad are on different devices", name,
                        item->path);
    return DZ_OK;
}

/* State arrays follow their parameter (dz_optimizer_to_device after dz_layer_to_device). */
static dz_status check_state_device(const dz_optimizer *opt, const dz_update_item *item)
{
    const dz_param_state *state = &opt->states[item->index];
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        if (state->arrays[s] && state->arrays[s]->device != item->param->data->device)
            return dz_raise(DZ_ERR_DEVICE, "%s: the state of parameter '%s' is on another device than the "
                            "parameter; call dz_optimizer_to_device after moving the model", opt->ops->name,
                            item->path);
    return DZ_OK;
}

static dz_status check_item(const dz_optimizer *opt, const dz_update_item *item)
{
    const char *name = opt->ops->name;
    const dz_variable *param = item->param;
    if (param->grad && param->sparse_grad)
        return dz_raise(DZ_ERR_STATE, "%s: parameter '%s' has both a dense grad and a sparse grad", name,
                        item->path);
    if (!dz_dtype_is_float(param->data->dtype))
        return dz_raise(DZ_ERR_DTYPE, "%s: parameter '%s' is %s; only float32 and float64 parameters can be "
                        "updated", name, item->path, dz_dtype_name(param->data->dtype));
    if (!dz_backend_of(param->data)->sgd_step)
        return dz_raise(DZ_ERR_UNSUPPORTED, "%s: parameter '%s' is on a device without optimizer kernels "
                        "(%s); move the model to the CPU", name, item->path, dz_backend_of(param->data)->name);
    dz_status status = check_state_device(opt, item);
    if (status != DZ_OK)
        return status;
    if (param->grad) {
        status = check_dense_grad(opt, item);
    } else if (!opt->ops->step_sparse) {
        status = dz_raise(DZ_ERR_UNSUPPORTED, "%s does not support sparse gradients%s (parameter '%s')", name,
                          refusal(opt->ops->sparse_refusal), item->path);
    } else {
        status = dz_optim_check_sparse_grad(name, item);
    }
    if (status == DZ_OK && opt->ops->check)
        status = opt->ops->check(opt, item);
    return status;
}

static dz_status step_item(dz_optimizer *opt, const dz_update_item *item)
{
    dz_param_state *state = &opt->states[item->index];
    state->step++; /* t: this is the parameter's t-th update */
    if (item->param->sparse_grad)
        return opt->ops->step_sparse(opt, state, item->param);
    return opt->ops->step_dense(opt, state, item->param);
}

dz_status dz_optimizer_update(dz_optimizer *opt)
{
    if (!opt)
        return dz_raise(DZ_ERR_NULL, "dz_optimizer_update: the optimizer is NULL");
    int count;
    dz_update_item *items = collect_items(opt, &count);
    dz_status status = DZ_OK;
    for (int i = 0; i < count && status == DZ_OK; i++)
        status = check_item(opt, &items[i]);
    for (int h = 0; h < opt->nhooks && status == DZ_OK; h++)
        status = opt->hooks[h]->run(opt->hooks[h], items, &count);
    for (int i = 0; i < count && status == DZ_OK; i++)
        status = step_item(opt, &items[i]);
    free(items);
    return status;
}

/* ---- hooks, accessors, free ---- */

void dz_optimizer_add_hook(dz_optimizer *opt, dz_optimizer_hook *hook)
{
    if (!opt || !hook) {
        dz_raise(DZ_ERR_NULL, "dz_optimizer_add_hook: the optimizer and the hook must not be NULL");
        return;
    }
    opt->hooks = dz_xrealloc(opt->hooks, (size_t)(opt->nhooks + 1) * sizeof *opt->hooks);
    opt->hooks[opt->nhooks++] = hook;
}

const char *dz_optimizer_name(const dz_optimizer *opt) { return opt ? opt->ops->name : NULL; }
double dz_optimizer_lr(const dz_optimizer *opt) { return opt ? opt->lr : 0; }
int dz_optimizer_param_count(const dz_optimizer *opt) { return opt ? opt->nparams : 0; }

void dz_optimizer_set_lr(dz_optimizer *opt, double lr)
{
    if (opt && dz_optim_check_nonnegative(opt->ops->name, "learning rate", lr))
        opt->lr = lr;
}

const char *dz_optimizer_param_path(const dz_optimizer *opt, int i)
{
    return opt && i >= 0 && i < opt->nparams ? opt->paths[i] : NULL;
}

int64_t dz_optimizer_step_count(const dz_optimizer *opt, int i)
{
    return opt && i >= 0 && i < opt->nparams ? opt->states[i].step : 0;
}

void dz_optimizer_free(dz_optimizer *opt)
{
    if (!opt)
        return;
    truncate_params(opt, 0);
    for (int h = 0; h < opt->nhooks; h++) {
        if (opt->hooks[h]->destroy)
            opt->hooks[h]->destroy(opt->hooks[h]);
        free(opt->hooks[h]);
    }
    free(opt->hooks);
    free(opt->params);
    free(opt->paths);
    free(opt->states);
    free(opt);
}
