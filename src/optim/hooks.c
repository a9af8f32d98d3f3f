/* Optimizer hooks, run by dz_optimizer_update before the step, in the order
 * added (DeZero's WeightDecay, ClipGrad and FreezeParam).
 *
 * A hook never writes into a grad array in place: backward may hand one grad
 * Variable to several parameters (the two inputs of an add share it), so a
 * hook gives each parameter a fresh grad instead. */
#include <math.h>
#include <string.h>

#include "../kernels/optim_kernels.h"
#include "dezero/scope.h"
#include "optimizer_internal.h"

/* Replace param's dense grad with `data` (the new reference moves in). */
static void replace_grad(dz_variable *param, dz_array *data)
{
    dz_scope_begin();
    dz_variable_set_grad(param, dz_variable_new(data, NULL));
    dz_scope_end();
}

static dz_array *copy_or_fail(const char *who, const dz_array *a)
{
    dz_array *copy = dz_array_copy(a);
    if (!copy)
        dz_fail(DZ_ERR_NOMEM, "%s: a hook ran out of memory copying a grad of shape %s", who, DZ_SHAPE_OF(a));
    return copy;
}

/* ---- WeightDecay: g += rate * p ---- */

typedef struct {
    dz_optimizer_hook base;
    double rate;
} weight_decay_hook;

static dz_status weight_decay_run(const char *who, dz_optimizer_hook *hook, dz_update_item *items, int *count)
{
    double rate = ((weight_decay_hook *)hook)->rate;
    for (int i = 0; i < *count; i++)
        if (items[i].param->sparse_grad)
            return dz_raise(DZ_ERR_UNSUPPORTED, "%s: WeightDecay hook: parameter '%s' has a sparse grad; weight "
                            "decay would touch every row (use SGD/Adagrad without it, or a dense grad)", who,
                            items[i].path);
    for (int i = 0; i < *count; i++) {
        dz_variable *p = items[i].param;
        dz_array *g = copy_or_fail(who, p->grad->data);
        if (!g)
            return DZ_ERR_NOMEM;
        if (!dz_kernel_weight_decay(rate, p->data, g)) { /* g = g + rate*p */
            dz_array_release(g);
            return DZ_ERR_NOMEM;
        }
        replace_grad(p, g);
    }
    return DZ_OK;
}

dz_optimizer_hook *dz_weight_decay_hook(double rate)
{
    if (!dz_optim_check_nonnegative("dz_weight_decay_hook", "rate", rate))
        return NULL;
    weight_decay_hook *h = dz_xcalloc(1, sizeof *h);
    h->base = (dz_optimizer_hook){.name = "WeightDecay", .run = weight_decay_run};
    h->rate = rate;
    return &h->base;
}

/* ---- ClipGrad: scale every grad by max_norm / (total + 1e-6) when that is < 1 ---- */

typedef struct {
    dz_optimizer_hook base;
    double max_norm, last_norm;
} clip_grad_hook;

/* sum(g^2) of one parameter's grad; a sparse grad counts its dense sum. */
static dz_status grad_sum_squares(const dz_variable *p, double *out)
{
    if (p->grad)
        return dz_kernel_sum_squares(p->grad->data, out) ? DZ_OK : DZ_ERR_NOMEM;
    dz_coalesced g = {0};
    dz_status status = dz_optim_coalesce(p->sparse_grad, &g);
    if (status == DZ_OK && !dz_kernel_sum_squares(g.values, out))
        status = DZ_ERR_NOMEM;
    dz_optim_coalesced_free(&g);
    return status;
}

static dz_status scale_grad(const char *who, dz_variable *p, double rate)
{
    const dz_array *old = p->grad ? p->grad->data : p->sparse_grad->values;
    dz_array *g = copy_or_fail(who, old);
    if (!g)
        return DZ_ERR_NOMEM;
    if (!dz_kernel_scale(g, rate)) { /* g = rate*g */
        dz_array_release(g);
        return DZ_ERR_NOMEM;
    }
    if (p->grad) {
        replace_grad(p, g);
    } else {
        dz_array_release(p->sparse_grad->values);
        p->sparse_grad->values = g;
    }
    return DZ_OK;
}

static dz_status clip_grad_run(const char *who, dz_optimizer_hook *hook, dz_update_item *items, int *count)
{
    clip_grad_hook *h = (clip_grad_hook *)hook;
    double total = 0;
    for (int i = 0; i < *count; i++) {
        double squares;
        dz_status status = grad_sum_squares(items[i].param, &squares);
        if (status != DZ_OK)
            return status;
        total += squares; /* total = sum over grads of sum(g^2) */
    }
    h->last_norm = sqrt(total);
    double rate = h->max_norm / (h->last_norm + 1e-6);
    for (int i = 0; i < *count && rate < 1; i++) {
        dz_status status = scale_grad(who, items[i].param, rate);
        if (status != DZ_OK)
            return status;
    }
    return DZ_OK;
}

/* max_norm may be +inf (no clipping), as in torch's clip_grad_norm_. */
dz_optimizer_hook *dz_clip_grad_hook(double max_norm)
{
    if (!(max_norm >= 0)) {
        dz_raise(DZ_ERR_VALUE, "dz_clip_grad_hook: Invalid max_norm: %g (must be >= 0)", max_norm);
        return NULL;
    }
    clip_grad_hook *h = dz_xcalloc(1, sizeof *h);
    h->base = (dz_optimizer_hook){.name = "ClipGrad", .run = clip_grad_run};
    h->max_norm = max_norm;
    return &h->base;
}

double dz_clip_grad_last_norm(const dz_optimizer_hook *hook)
{
    if (!hook || hook->run != clip_grad_run) {
        dz_raise(hook ? DZ_ERR_VALUE : DZ_ERR_NULL, "dz_clip_grad_last_norm: the hook is %s", hook ? "not a "
                 "ClipGrad hook (made by dz_clip_grad_hook)" : "NULL");
        return 0;
    }
    return ((const clip_grad_hook *)hook)->last_norm;
}

/* ---- FreezeParam: drop the given parameters from the update ---- */

typedef struct {
    dz_optimizer_hook base;
    int count;
    dz_variable **params; /* retained */
} freeze_hook;

static bool is_frozen(const freeze_hook *h, const dz_variable *p)
{
    for (int i = 0; i < h->count; i++)
        if (h->params[i] == p)
            return true;
    return false;
}

static dz_status freeze_run(const char *who, dz_optimizer_hook *hook, dz_update_item *items, int *count)
{
    (void)who;
    int kept = 0;
    for (int i = 0; i < *count; i++)
        if (!is_frozen((freeze_hook *)hook, items[i].param))
            items[kept++] = items[i];
    *count = kept;
    return DZ_OK;
}

static void freeze_destroy(dz_optimizer_hook *hook)
{
    freeze_hook *h = (freeze_hook *)hook;
    for (int i = 0; i < h->count; i++)
        dz_variable_release(h->params[i]);
    free(h->params);
}

/* A FreezeParam hook on params[0..n-1], each checked under `op`. */
static dz_optimizer_hook *freeze_hook_new(const char *op, int n, dz_variable *const *params)
{
    if (n < 0 || (n > 0 && !params)) {
        dz_raise(n < 0 ? DZ_ERR_VALUE : DZ_ERR_NULL, "%s: needs n >= 0 parameters in an array (got n = %d and %s)",
                 op, n, params ? "an array" : "NULL");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!params[i]) {
            dz_raise(DZ_ERR_NULL, "%s: parameter %d of %d is NULL", op, i, n);
            return NULL;
        }
    freeze_hook *h = dz_xcalloc(1, sizeof *h);
    h->base = (dz_optimizer_hook){.name = "FreezeParam", .run = freeze_run, .destroy = freeze_destroy};
    h->params = dz_xcalloc((size_t)n + 1, sizeof *h->params);
    for (int i = 0; i < n; i++)
        h->params[h->count++] = dz_variable_retain(params[i]);
    return &h->base;
}

dz_optimizer_hook *dz_freeze_params_hook(int n, dz_variable *const *params)
{
    return freeze_hook_new("dz_freeze_params_hook", n, params);
}

dz_optimizer_hook *dz_freeze_layer_hook(const dz_layer *layer)
{
    const char *op = "dz_freeze_layer_hook";
    if (!layer) {
        dz_raise(DZ_ERR_NULL, "%s: the layer is NULL", op);
        return NULL;
    }
    dz_param_list *list = dz_layer_params(layer);
    dz_optimizer_hook *h = freeze_hook_new(op, list->count, list->params);
    dz_param_list_free(list);
    return h;
}
