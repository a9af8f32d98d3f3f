/* Layer: the registry of parameters and sub-layers (a tree: one parent per
 * layer), running a forward after checking its inputs, recursive iteration,
 * cleargrads, device moves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/backend.h"
#include "../core/internal.h"
#include "dezero/device.h"
#include "dezero/graph.h"
#include "dezero/scope.h"
#include "layer_internal.h"

/* ---- errors shared with the optimizers (layer_internal.h) ---- */

bool dz_check_device(const char *op, dz_device device)
{
    if (device != DZ_CPU && device != DZ_CUDA) {
        dz_raise(DZ_ERR_DEVICE, "%s: unknown device %d; use DZ_CPU or DZ_CUDA", op, (int)device);
        return false;
    }
    if (device == DZ_CUDA && !(dz_backend_cuda() && dz_cuda_available())) {
        dz_raise(DZ_ERR_DEVICE, "%s: %s", op, dz_backend_cuda() ? "no CUDA device is visible" : "this build of "
                 "dezero-c has no CUDA backend (configure with -Dcuda=enabled where nvcc is installed)");
        return false;
    }
    return true;
}

dz_status dz_fail_under(const char *op, dz_status fallback)
{
    if (dz_last_error_code() == DZ_OK)
        return dz_fail(fallback, "%s: %s", op, dz_status_name(fallback));
    char inner[1024];
    snprintf(inner, sizeof inner, "%s", dz_last_error());
    size_t n = strlen(op);
    bool named = strncmp(inner, op, n) == 0 && strncmp(inner + n, ": ", 2) == 0;
    /* the same error, as this call's result: a handler that saw it does not see it again */
    return dz_reword_error("%s%s%s", named ? "" : op, named ? "" : ": ",
                           inner[0] ? inner : dz_status_name(dz_last_error_code()));
}

bool dz_layer_add_weight_and_bias(const char *op, dz_layer *layer, bool lazy, dz_array *w, bool nobias,
                                  dz_dtype dtype, int64_t out_size)
{
    dz_array *b = nobias || (!lazy && !w) ? NULL : dz_array_zeros(dtype, 1, &out_size);
    if ((!lazy && !w) || (!nobias && !b)) {
        dz_fail_under(op, DZ_ERR_NOMEM);
        dz_array_release(w);
        return false;
    }
    dz_scope_begin();
    dz_layer_add_param(layer, "W", dz_parameter_new(w, "W"));
    if (b)
        dz_layer_add_param(layer, "b", dz_parameter_new(b, "b"));
    dz_scope_end();
    return true;
}

/* ---- creating and freeing ---- */

void dz_layer_init(dz_layer *layer, const dz_layer_ops *ops)
{
    if (!layer || !ops || !ops->type) {
        dz_raise(DZ_ERR_NULL, "dz_layer_init: %s is NULL", !layer ? "the layer" : !ops ? "ops" : "ops->type");
        return;
    }
    memset(layer, 0, sizeof *layer);
    layer->ops = ops;
    layer->output_ndim = -1;
}

static const dz_layer_ops model_ops = {.type = "Model"};

dz_layer *dz_model_new(void)
{
    dz_layer *layer = dz_xmalloc(sizeof *layer);
    dz_layer_init(layer, &model_ops);
    return layer;
}

/* Frees a tree from `layer` down, parents included or not. */
static void free_tree(dz_layer *layer)
{
    for (int i = 0; i < layer->nchildren; i++) {
        free_tree(layer->children[i]);
        free(layer->child_names[i]);
    }
    for (int i = 0; i < layer->nparams; i++) {
        dz_variable_release(layer->params[i]);
        free(layer->param_names[i]);
    }
    free(layer->children);
    free(layer->child_names);
    free(layer->params);
    free(layer->param_names);
    if (layer->ops && layer->ops->destroy)
        layer->ops->destroy(layer);
    free(layer);
}

void dz_layer_free(dz_layer *layer)
{
    if (!layer)
        return;
    if (layer->parent) {
        dz_raise(DZ_ERR_STATE, "dz_layer_free: this %s layer is a sub-layer of a %s layer, which frees it; free the "
                 "root layer instead", layer->ops->type, layer->parent->ops->type);
        return;
    }
    free_tree(layer);
}

/* ---- registering ---- */

static char *copy_name(const char *name)
{
    size_t n = strlen(name) + 1;
    return memcpy(dz_xmalloc(n), name, n);
}

static dz_variable *find_param(const dz_layer *layer, const char *name)
{
    for (int i = 0; i < layer->nparams; i++)
        if (strcmp(layer->param_names[i], name) == 0)
            return layer->params[i];
    return NULL;
}

static dz_layer *find_child(const dz_layer *layer, const char *name)
{
    for (int i = 0; i < layer->nchildren; i++)
        if (strcmp(layer->child_names[i], name) == 0)
            return layer->children[i];
    return NULL;
}

/* A new entry of `what` named `name` in `layer`: neither NULL, a name free in
 * the layer, non-empty and without '/'. */
static bool check_entry(const char *op, const dz_layer *layer, const char *name, const void *what,
                        const char *kind)
{
    if (!layer || !name || !what) {
        dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !layer ? "the layer" : !name ? "the name" : kind);
        return false;
    }
    if (!*name || strchr(name, '/')) {
        dz_raise(DZ_ERR_VALUE, "%s: the name '%s' must be non-empty and without '/' (paths in files are "
                 "'/'-joined names)", op, name);
        return false;
    }
    if (find_param(layer, name) || find_child(layer, name)) {
        dz_raise(DZ_ERR_VALUE, "%s: the name '%s' is already registered in this %s layer", op, name,
                 layer->ops->type);
        return false;
    }
    return true;
}

dz_variable *dz_layer_add_param(dz_layer *layer, const char *name, dz_variable *param)
{
    if (!check_entry("dz_layer_add_param", layer, name, param, "the parameter"))
        return NULL;
    if (layer->nparams == layer->params_capacity) {
        layer->params_capacity = layer->params_capacity ? layer->params_capacity * 2 : 4;
        layer->params = dz_xrealloc(layer->params, (size_t)layer->params_capacity * sizeof *layer->params);
        layer->param_names =
            dz_xrealloc(layer->param_names, (size_t)layer->params_capacity * sizeof *layer->param_names);
    }
    layer->params[layer->nparams] = dz_variable_retain(param);
    layer->param_names[layer->nparams++] = copy_name(name);
    if (!param->name)
        dz_variable_set_name(param, name);
    return param;
}

/* `child` may join `layer`'s tree: it has no parent and is not `layer` or
 * one of its ancestors (which would make a cycle). */
static bool check_adoptable(const char *op, const dz_layer *layer, const dz_layer *child, const char *name)
{
    for (const dz_layer *up = layer; up; up = up->parent)
        if (up == child) {
            dz_raise(DZ_ERR_VALUE, "%s: adding sub-layer '%s' would make a cycle: it is %s", op, name,
                     up == layer ? "the layer itself" : "an ancestor of the layer");
            return false;
        }
    if (child->parent) {
        dz_raise(DZ_ERR_STATE, "%s: sub-layer '%s' already belongs to a %s layer; a layer has one parent", op,
                 name, child->parent->ops->type);
        return false;
    }
    return true;
}

dz_layer *dz_layer_add_child(dz_layer *layer, const char *name, dz_layer *child)
{
    const char *op = "dz_layer_add_child";
    if (!check_entry(op, layer, name, child, "the sub-layer") || !check_adoptable(op, layer, child, name))
        return NULL;
    if (layer->nchildren == layer->children_capacity) {
        layer->children_capacity = layer->children_capacity ? layer->children_capacity * 2 : 4;
        layer->children = dz_xrealloc(layer->children, (size_t)layer->children_capacity * sizeof *layer->children);
        layer->child_names =
            dz_xrealloc(layer->child_names, (size_t)layer->children_capacity * sizeof *layer->child_names);
    }
    layer->children[layer->nchildren] = child;
    layer->child_names[layer->nchildren++] = copy_name(name);
    child->parent = layer;
    return child;
}

static bool check_lookup(const char *op, const dz_layer *layer, const char *name)
{
    if (!layer || !name)
        dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !layer ? "the layer" : "the name");
    return layer && name;
}

dz_variable *dz_layer_param(const dz_layer *layer, const char *name)
{
    return check_lookup("dz_layer_param", layer, name) ? find_param(layer, name) : NULL;
}

dz_layer *dz_layer_child(const dz_layer *layer, const char *name)
{
    return check_lookup("dz_layer_child", layer, name) ? find_child(layer, name) : NULL;
}

/* ---- running ---- */

bool dz_layer_check_forward(const char *op, dz_layer *layer, int ninputs, dz_variable *const *inputs)
{
    if (!layer) {
        dz_raise_null_operand("%s: the layer is NULL", op);
        return false;
    }
    if (!layer->ops || !layer->ops->forward) {
        dz_raise(DZ_ERR_STATE, "%s: a %s layer has no forward of its own; call its sub-layers", op,
                 layer->ops ? layer->ops->type : "(uninitialised)");
        return false;
    }
    if (ninputs < 0 || (ninputs > 0 && !inputs)) {
        dz_raise(ninputs < 0 ? DZ_ERR_VALUE : DZ_ERR_NULL, "%s: %d inputs in %s array", op, ninputs,
                 inputs ? "an" : "a NULL");
        return false;
    }
    return !layer->ops->check || layer->ops->check(op, layer, ninputs, inputs);
}

/* Checks, then forward, all under the name of the public function `op`;
 * the output's shape is kept for dz_layer_summary. */
dz_variable *dz_layer_forward_as(const char *op, dz_layer *layer, int ninputs, dz_variable *const *inputs)
{
    if (!dz_layer_check_forward(op, layer, ninputs, inputs))
        return NULL;
    dz_variable *y = layer->ops->forward(layer, ninputs, inputs);
    if (!y) {
        dz_fail_under(op, DZ_ERR_NOMEM);
        return NULL;
    }
    layer->output_ndim = y->data->ndim;
    memcpy(layer->output_shape, y->data->shape, sizeof layer->output_shape);
    return y;
}

dz_variable *dz_layer_forward(dz_layer *layer, int ninputs, dz_variable *const *inputs)
{
    return dz_layer_forward_as("dz_layer_forward", layer, ninputs, inputs);
}

dz_variable *dz_layer_call(dz_layer *layer, dz_variable *x)
{
    return dz_layer_forward_as("dz_layer_call", layer, 1, &x);
}

dz_status dz_layer_plot(dz_layer *layer, int ninputs, dz_variable *const *inputs, const char *path, bool verbose)
{
    const char *op = "dz_layer_plot";
    if (!path)
        return dz_raise(DZ_ERR_NULL, "%s: path is NULL", op);
    dz_scope_begin();
    dz_variable *y = dz_layer_forward_as(op, layer, ninputs, inputs);
    dz_status status = y ? dz_graph_write_dot(y, path, verbose) : dz_last_error_code();
    if (y && status != DZ_OK)
        dz_fail_under(op, status);
    dz_scope_end();
    return status;
}

static void reset_tree(dz_layer *layer)
{
    if (layer->ops->reset_state)
        layer->ops->reset_state(layer);
    for (int i = 0; i < layer->nchildren; i++)
        reset_tree(layer->children[i]);
}

void dz_layer_reset_state(dz_layer *layer)
{
    if (!layer) {
        dz_raise(DZ_ERR_NULL, "dz_layer_reset_state: the layer is NULL");
        return;
    }
    reset_tree(layer);
}

/* ---- parameters of the tree ---- */

/* "prefix/name", or "name" at the root (prefix ""). */
static char *join_path(const char *prefix, const char *name)
{
    return *prefix ? dz_xformat("%s/%s", prefix, name) : dz_xformat("%s", name);
}

static void collect(const dz_layer *layer, const char *prefix, dz_param_list *list, int *capacity)
{
    for (int i = 0; i < layer->nparams; i++) {
        if (list->count == *capacity) {
            *capacity = *capacity ? *capacity * 2 : 16;
            list->params = dz_xrealloc(list->params, (size_t)*capacity * sizeof *list->params);
            list->paths = dz_xrealloc(list->paths, (size_t)*capacity * sizeof *list->paths);
        }
        list->params[list->count] = layer->params[i];
        list->paths[list->count++] = join_path(prefix, layer->param_names[i]);
    }
    for (int i = 0; i < layer->nchildren; i++) {
        char *path = join_path(prefix, layer->child_names[i]);
        collect(layer->children[i], path, list, capacity);
        free(path);
    }
}

/* Every parameter of `layer`'s tree (not NULL). */
static dz_param_list *list_params(const dz_layer *layer)
{
    dz_param_list *list = dz_xcalloc(1, sizeof *list);
    int capacity = 0;
    collect(layer, "", list, &capacity);
    return list;
}

static bool check_layer(const char *op, const dz_layer *layer)
{
    if (!layer)
        dz_raise(DZ_ERR_NULL, "%s: the layer is NULL", op);
    return layer != NULL;
}

dz_param_list *dz_layer_params(const dz_layer *layer)
{
    return check_layer("dz_layer_params", layer) ? list_params(layer) : NULL;
}

void dz_param_list_free(dz_param_list *list)
{
    if (!list)
        return;
    for (int i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    free(list->params);
    free(list);
}

void dz_layer_cleargrads(dz_layer *layer)
{
    if (!check_layer("dz_layer_cleargrads", layer))
        return;
    dz_param_list *list = list_params(layer);
    for (int i = 0; i < list->count; i++)
        dz_variable_cleargrad(list->params[i]);
    dz_param_list_free(list);
}

int64_t dz_layer_count_params(const dz_layer *layer)
{
    if (!check_layer("dz_layer_count_params", layer))
        return 0;
    dz_param_list *list = list_params(layer);
    int64_t total = 0;
    for (int i = 0; i < list->count; i++)
        total += list->params[i]->data ? list->params[i]->data->size : 0;
    dz_param_list_free(list);
    return total;
}

/* ---- devices ---- */

static dz_status move_to(const char *op, dz_layer *layer, dz_device device)
{
    if (!check_layer(op, layer))
        return DZ_ERR_NULL;
    if (!dz_check_device(op, device))
        return DZ_ERR_DEVICE;
    dz_param_list *list = list_params(layer);
    dz_array **moved = dz_xcalloc((size_t)list->count + 1, sizeof *moved);
    dz_status status = DZ_OK;
    /* Copy everything first, so a failure leaves the layer where it was. */
    for (int i = 0; i < list->count && status == DZ_OK; i++) {
        dz_array *data = list->params[i]->data;
        if (data && !(moved[i] = dz_array_to_device(data, device)))
            status = dz_fail_under(op, DZ_ERR_NOMEM);
    }
    for (int i = 0; i < list->count; i++) {
        if (status == DZ_OK && moved[i]) {
            dz_variable_set_data(list->params[i], moved[i]);
            dz_variable_cleargrad(list->params[i]);
        } else {
            dz_array_release(moved[i]);
        }
    }
    free(moved);
    dz_param_list_free(list);
    return status;
}

dz_status dz_layer_to_device(dz_layer *layer, dz_device device)
{
    return move_to("dz_layer_to_device", layer, device);
}

dz_status dz_layer_to_cpu(dz_layer *layer) { return move_to("dz_layer_to_cpu", layer, DZ_CPU); }
dz_status dz_layer_to_gpu(dz_layer *layer) { return move_to("dz_layer_to_gpu", layer, DZ_CUDA); }
