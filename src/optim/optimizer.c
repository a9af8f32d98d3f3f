/* The optimizer base: the parameter list, hooks, and
 * dz_optimizer_update, which checks every grad, runs the hooks and then asks
 * the update rule (the vtable in optimizer_internal.h) to step each
 * parameter. The rules live in sgd.c, momentum.c, adagrad.c, adadelta.c,
 * adam.c and sparse.c; the state buffers in param_state.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../layers/layer_internal.h"
#include "../backend/backend.h"
#include "optimizer_internal.h"

void dz_optimizer_init(dz_optimizer *opt, const dz_optimizer_ops *ops, double lr)
{
    opt->ops = ops;
    opt->lr = lr;
}

/* ---- parameters ---- */

static dz_status check_new_param(const char *op, const dz_optimizer *opt, const dz_variable *param,
                                 const char *path)
{
    if (!param)
        return dz_raise(DZ_ERR_NULL, "%s: parameter '%s' is NULL", op, path);
    for (int i = 0; i < opt->nparams; i++) {
        if (opt->params[i] == param)
            return dz_raise(DZ_ERR_VALUE, "%s: parameter '%s' was already added to this %s as '%s'; add each "
                            "parameter once", op, path, opt->ops->name, opt->paths[i]);
        if (strcmp(opt->paths[i], path) == 0)
            return dz_raise(DZ_ERR_VALUE, "%s: two parameters are named '%s'; give them distinct names", op, path);
    }
    return DZ_OK;
}

static dz_status add_param(const char *op, dz_optimizer *opt, dz_variable *param, const char *path)
{
    dz_status status = check_new_param(op, opt, param, path);
    if (status != DZ_OK)
        return status;
    if (opt->nparams == opt->capacity) {
        opt->capacity = opt->capacity ? 2 * opt->capacity : 8;
        opt->params = dz_xrealloc(opt->params, (size_t)opt->capacity * sizeof *opt->params);
        opt->paths = dz_xrealloc(opt->paths, (size_t)opt->capacity * sizeof *opt->paths);
        opt->states = dz_xrealloc(opt->states, (size_t)opt->capacity * sizeof *opt->states);
    }
    opt->params[opt->nparams] = dz_variable_retain(param);
    size_t n = strlen(path) + 1;
    opt->paths[opt->nparams] = memcpy(dz_xmalloc(n), path, n);
    memset(&opt->states[opt->nparams], 0, sizeof opt->states[opt->nparams]);
    opt->nparams++;
    return DZ_OK;
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
    const char *op = "dz_optimizer_setup";
    if (!opt || !target)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "the target layer");
    dz_param_list *list = dz_layer_params(target);
    int before = opt->nparams;
    dz_status status = DZ_OK;
    for (int i = 0; i < list->count && status == DZ_OK; i++)
        status = add_param(op, opt, list->params[i], list->paths[i]);
    if (status != DZ_OK)
        truncate_params(opt, before);
    dz_param_list_free(list);
    return status;
}

dz_status dz_optimizer_add_params(dz_optimizer *opt, int n, dz_variable *const *params)
{
    const char *op = "dz_optimizer_add_params";
    if (!opt || (n > 0 && !params))
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "params");
    if (n < 0)
        return dz_raise(DZ_ERR_VALUE, "%s: n = %d parameters; n must be >= 0", op, n);
    int before = opt->nparams;
    dz_status status = DZ_OK;
    for (int i = 0; i < n && status == DZ_OK; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "param%d", opt->nparams);
        const char *path = params[i] && params[i]->name ? params[i]->name : fallback;
        status = add_param(op, opt, params[i], path);
    }
    if (status != DZ_OK)
        truncate_params(opt, before);
    return status;
}

/* ---- state ---- */

static int state_slot(const dz_optimizer *opt, const char *name)
{
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++)
        if (opt->ops->state_names[s] && strcmp(opt->ops->state_names[s], name) == 0)
            return s;
    return -1;
}

/* opt is not NULL and i indexes its parameters. */
static bool check_param_index(const char *op, const dz_optimizer *opt, int i)
{
    if (!opt)
        dz_raise(DZ_ERR_NULL, "%s: the optimizer is NULL", op);
    else if (i < 0 || i >= opt->nparams)
        dz_raise(DZ_ERR_INDEX, "%s: parameter index %d is out of range for the %d parameters of this %s", op, i,
                 opt->nparams, opt->ops->name);
    return opt && i >= 0 && i < opt->nparams;
}

const dz_array *dz_optimizer_state(const dz_optimizer *opt, int i, const char *name)
{
    const char *op = "dz_optimizer_state";
    if (!check_param_index(op, opt, i))
        return NULL;
    if (!name) {
        dz_raise(DZ_ERR_NULL, "%s: the state name is NULL", op);
        return NULL;
    }
    int slot = state_slot(opt, name);
    if (slot < 0) {
        char names[128] = "";
        for (int s = 0; s < DZ_OPTIM_MAX_STATE && opt->ops->state_names[s]; s++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s'%s'", s ? ", " : "",
                     opt->ops->state_names[s]);
        dz_raise(DZ_ERR_VALUE, "%s: %s keeps no state named '%s' (its states: %s)", op, opt->ops->name, name,
                 names);
        return NULL;
    }
    return opt->states[i].arrays[slot];
}

dz_status dz_optimizer_to_device(dz_optimizer *opt, dz_device device)
{
    const char *op = "dz_optimizer_to_device";
    if (!opt)
        return dz_raise(DZ_ERR_NULL, "%s: the optimizer is NULL", op);
    if (!dz_check_device(op, device))
        return DZ_ERR_DEVICE;
    int n = opt->nparams * DZ_OPTIM_MAX_STATE;
    dz_array **moved = dz_xcalloc((size_t)n + 1, sizeof *moved);
    dz_status status = DZ_OK;
    /* Copy everything first, so a failure leaves the state where it was. */
    for (int k = 0; k < n && status == DZ_OK; k++) {
        dz_array *a = opt->states[k / DZ_OPTIM_MAX_STATE].arrays[k % DZ_OPTIM_MAX_STATE];
        if (a && !(moved[k] = dz_array_to_device(a, device)))
            status = dz_fail_under(op, DZ_ERR_NOMEM);
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

bool dz_optim_check_nonnegative(const char *op, const char *what, double value)
{
    if (value >= 0 && isfinite(value))
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: Invalid %s: %g (must be finite and >= 0)", op, what, value);
    return false;
}

bool dz_optim_check_beta(const char *op, int index, double beta)
{
    if (beta >= 0 && beta < 1)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: Invalid beta parameter at index %d: %g (must be in [0, 1))", op, index, beta);
    return false;
}

/* ---- the update ---- */

static const char *refusal(const char *text) { return text ? text : ""; }

static dz_status check_dense_grad(const char *who, const dz_optimizer *opt, const dz_update_item *item)
{
    const dz_array *p = item->param->data, *g = item->param->grad->data;
    if (!opt->ops->step_dense)
        return dz_raise(DZ_ERR_UNSUPPORTED, "%s does not support dense gradients%s (parameter '%s')", who,
                        refusal(opt->ops->dense_refusal), item->path);
    if (!g)
        return dz_raise(DZ_ERR_STATE, "%s: the grad of parameter '%s' has no data", who, item->path);
    if (!dz_array_same_shape(p, g))
        return dz_raise(DZ_ERR_SHAPE, "%s: parameter '%s' has shape %s but its grad has shape %s", who, item->path,
                        DZ_SHAPE_OF(p), DZ_SHAPE_OF(g));
    if (g->dtype != p->dtype)
        return dz_raise(DZ_ERR_DTYPE, "%s: parameter '%s' is %s but its grad is %s", who, item->path,
                        dz_dtype_name(p->dtype), dz_dtype_name(g->dtype));
    if (g->device != p->device)
        return dz_raise(DZ_ERR_DEVICE, "%s: parameter '%s' and its grad are on different devices", who, item->path);
    return DZ_OK;
}

static dz_status check_item(const char *who, const dz_optimizer *opt, const dz_update_item *item)
{
    const dz_variable *param = item->param;
    dz_status status = DZ_OK;
    if (param->grad && param->sparse_grad)
        return dz_raise(DZ_ERR_STATE, "%s: parameter '%s' has both a dense grad and a sparse grad", who, item->path);
    if (!dz_dtype_is_float(param->data->dtype))
        return dz_raise(DZ_ERR_DTYPE, "%s: parameter '%s' is %s; only float32 and float64 parameters can be "
                        "updated", who, item->path, dz_dtype_name(param->data->dtype));
    if (!dz_backend_of(param->data)->unary) /* a backend without compute primitives */
        return dz_raise(DZ_ERR_UNSUPPORTED, "%s: parameter '%s' is on a device without compute kernels (%s); "
                        "move the model to the CPU", who, item->path, dz_backend_of(param->data)->name);
    if (param->grad)
        status = check_dense_grad(who, opt, item);
    else if (!opt->ops->step_sparse)
        status = dz_raise(DZ_ERR_UNSUPPORTED, "%s does not support sparse gradients%s (parameter '%s')", who,
                          refusal(opt->ops->sparse_refusal), item->path);
    else
        status = dz_optim_check_sparse_grad(who, item);
    if (status == DZ_OK && opt->ops->check)
        status = opt->ops->check(who, opt, item);
    return status;
}

/* Every state array still has its parameter's shape, dtype and device: the
 * parameter's data may have been replaced, or moved without the state
 * (dz_optimizer_to_device after dz_layer_to_device). */
static dz_status check_state(const char *who, const dz_optimizer *opt, int i)
{
    const dz_array *p = opt->params[i]->data;
    for (int s = 0; s < DZ_OPTIM_MAX_STATE; s++) {
        const dz_array *a = opt->states[i].arrays[s];
        if (!a)
            continue;
        if (p && a->device != p->device)
            return dz_raise(DZ_ERR_DEVICE, "%s: the state of parameter '%s' is on another device than the "
                            "parameter; call dz_optimizer_to_device after moving the model", who, opt->paths[i]);
        if (!p || !dz_array_same_shape(a, p) || a->dtype != p->dtype)
            return dz_raise(DZ_ERR_STATE, "%s: state '%s' of parameter '%s' is %s %s but the parameter is now %s %s "
                            "(its data was replaced); use a new optimizer, or load a state that fits", who,
                            opt->ops->state_names[s], opt->paths[i], dz_dtype_name(a->dtype), DZ_SHAPE_OF(a),
                            p ? dz_dtype_name(p->dtype) : "without data", p ? DZ_SHAPE_OF(p) : "");
    }
    return DZ_OK;
}

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

/* Every state and every grad about to be used, before anything changes. */
static dz_status check_update(const char *who, const dz_optimizer *opt, const dz_update_item *items, int count)
{
    dz_status status = DZ_OK;
    for (int i = 0; i < opt->nparams && status == DZ_OK; i++)
        status = check_state(who, opt, i);
    for (int i = 0; i < count && status == DZ_OK; i++)
        status = check_item(who, opt, &items[i]);
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
    const char *op = "dz_optimizer_update";
    if (!opt)
        return dz_raise(DZ_ERR_NULL, "%s: the optimizer is NULL", op);
    if (opt->nparams == 0)
        return dz_raise(DZ_ERR_STATE, "%s: this %s has no parameters; call dz_optimizer_setup or "
                        "dz_optimizer_add_params first", op, opt->ops->name);
    char who[DZ_OPTIM_WHO_MAX];
    snprintf(who, sizeof who, "%s: %s", op, opt->ops->name);
    int count;
    dz_update_item *items = collect_items(opt, &count);
    dz_status status = check_update(who, opt, items, count);
    for (int h = 0; h < opt->nhooks && status == DZ_OK; h++)
        status = opt->hooks[h]->run(who, opt->hooks[h], items, &count);
    for (int i = 0; i < count && status == DZ_OK; i++)
        status = step_item(opt, &items[i]);
    if (status == DZ_OK && count > 0 && items[0].param->data->device == DZ_CUDA)
        status = dz_cuda_check(who); /* a GPU failure during the steps is this update's */
    if (status != DZ_OK)
        dz_fail_under(op, status);
    free(items);
    return status;
}

/* ---- hooks, accessors, free ---- */

static void hook_free(dz_optimizer_hook *hook)
{
    if (hook->destroy)
        hook->destroy(hook);
    free(hook);
}

/* The optimizer takes the hook; when it cannot, the hook is freed unless
 * another optimizer owns it. */
void dz_optimizer_add_hook(dz_optimizer *opt, dz_optimizer_hook *hook)
{
    const char *op = "dz_optimizer_add_hook";
    if (!opt || !hook) {
        dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !opt ? "the optimizer" : "the hook");
        if (hook && !hook->owned)
            hook_free(hook);
        return;
    }
    if (hook->owned) {
        dz_raise(DZ_ERR_STATE, "%s: this %s hook was already added to an optimizer; make a new hook", op,
                 hook->name);
        return;
    }
    opt->hooks = dz_xrealloc(opt->hooks, (size_t)(opt->nhooks + 1) * sizeof *opt->hooks);
    opt->hooks[opt->nhooks++] = hook;
    hook->owned = true;
}

static bool check_optimizer(const char *op, const dz_optimizer *opt)
{
    if (!opt)
        dz_raise(DZ_ERR_NULL, "%s: the optimizer is NULL", op);
    return opt != NULL;
}

const char *dz_optimizer_name(const dz_optimizer *opt)
{
    return check_optimizer("dz_optimizer_name", opt) ? opt->ops->name : NULL;
}

double dz_optimizer_lr(const dz_optimizer *opt) { return check_optimizer("dz_optimizer_lr", opt) ? opt->lr : 0; }

int dz_optimizer_param_count(const dz_optimizer *opt)
{
    return check_optimizer("dz_optimizer_param_count", opt) ? opt->nparams : 0;
}

void dz_optimizer_set_lr(dz_optimizer *opt, double lr)
{
    const char *op = "dz_optimizer_set_lr";
    if (check_optimizer(op, opt) && dz_optim_check_nonnegative(op, "learning rate", lr))
        opt->lr = lr;
}

const char *dz_optimizer_param_path(const dz_optimizer *opt, int i)
{
    return check_param_index("dz_optimizer_param_path", opt, i) ? opt->paths[i] : NULL;
}

int64_t dz_optimizer_step_count(const dz_optimizer *opt, int i)
{
    return check_param_index("dz_optimizer_step_count", opt, i) ? opt->states[i].step : 0;
}

void dz_optimizer_free(dz_optimizer *opt)
{
    if (!opt)
        return;
    truncate_params(opt, 0);
    for (int h = 0; h < opt->nhooks; h++)
        hook_free(opt->hooks[h]);
    free(opt->hooks);
    free(opt->params);
    free(opt->paths);
    free(opt->states);
    free(opt);
}
