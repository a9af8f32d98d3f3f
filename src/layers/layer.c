/* Layer: the registry of parameters and sub-layers, recursive iteration,
 * cleargrads, device moves. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "dezero/graph.h"
#include "dezero/layer.h"
#include "dezero/scope.h"

void dz_layer_init(dz_layer *layer, const dz_layer_ops *ops)
{
    memset(layer, 0, sizeof *layer);
    layer->ops = ops;
}

static const dz_layer_ops model_ops = {"Model", NULL, NULL, NULL};

dz_layer *dz_model_new(void)
{
    dz_layer *layer = dz_xmalloc(sizeof *layer);
    dz_layer_init(layer, &model_ops);
    return layer;
}

void dz_layer_free(dz_layer *layer)
{
    if (!layer)
        return;
    for (int i = 0; i < layer->nchildren; i++) {
        dz_layer_free(layer->children[i]);
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

static bool name_taken(const dz_layer *layer, const char *name)
{
    return dz_layer_param(layer, name) || dz_layer_child(layer, name);
}

static bool check_name(const char *op, const dz_layer *layer, const char *name)
{
    if (!layer || !name || !*name || strchr(name, '/')) {
        dz_raise(DZ_ERR_VALUE, "%s: needs a layer and a non-empty name without '/' (got '%s')", op,
                 name ? name : "(null)");
        return false;
    }
    if (name_taken(layer, name)) {
        dz_raise(DZ_ERR_VALUE, "%s: the name '%s' is already registered in this %s layer", op, name,
                 layer->ops ? layer->ops->type : "");
        return false;
    }
    return true;
}

dz_variable *dz_layer_add_param(dz_layer *layer, const char *name, dz_variable *param)
{
    if (!check_name("dz_layer_add_param", layer, name))
        return NULL;
    if (!param) {
        dz_raise(DZ_ERR_NULL, "dz_layer_add_param: parameter '%s' is NULL", name);
        return NULL;
    }
    if (layer->nparams == layer->params_capacity) {
        layer->params_capacity = layer->params_capacity ? layer->params_capacity * 2 : 4;
        layer->params = dz_xrealloc(layer->params, (size_t)layer->params_capacity * sizeof *layer->params);
        layer->param_names =
            dz_xrealloc(layer->param_names, (size_t)layer->params_capacity * sizeof *layer->param_names);
    }
    layer->params[layer->nparams] = dz_variable_retain(param);
    layer->param_names[layer->nparams++] = strdup(name);
    if (!param->name)
        dz_variable_set_name(param, name);
    return param;
}

dz_layer *dz_layer_add_child(dz_layer *layer, const char *name, dz_layer *child)
{
    if (!check_name("dz_layer_add_child", layer, name))
        return NULL;
    if (!child) {
        dz_raise(DZ_ERR_NULL, "dz_layer_add_child: sub-layer '%s' is NULL", name);
        return NULL;
    }
    if (layer->nchildren == layer->children_capacity) {
        layer->children_capacity = layer->children_capacity ? layer->children_capacity * 2 : 4;
        layer->children = dz_xrealloc(layer->children, (size_t)layer->children_capacity * sizeof *layer->children);
        layer->child_names =
            dz_xrealloc(layer->child_names, (size_t)layer->children_capacity * sizeof *layer->child_names);
    }
    layer->children[layer->nchildren] = child;
    layer->child_names[layer->nchildren++] = strdup(name);
    return child;
}

dz_variable *dz_layer_param(const dz_layer *layer, const char *name)
{
    for (int i = 0; i < layer->nparams; i++)
        if (strcmp(layer->param_names[i], name) == 0)
            return layer->params[i];
    return NULL;
}

dz_layer *dz_layer_child(const dz_layer *layer, const char *name)
{
    for (int i = 0; i < layer->nchildren; i++)
        if (strcmp(layer->child_names[i], name) == 0)
            return layer->children[i];
    return NULL;
}

dz_variable *dz_layer_forward(dz_layer *layer, int ninputs, dz_variable *const *inputs)
{
    if (!layer || !layer->ops || !layer->ops->forward) {
        dz_raise(DZ_ERR_STATE, "dz_layer_forward: the layer %s has no forward",
                 layer && layer->ops ? layer->ops->type : "(null)");
        return NULL;
    }
    return layer->ops->forward(layer, ninputs, inputs);
}

dz_variable *dz_layer_call(dz_layer *layer, dz_variable *x) { return dz_layer_forward(layer, 1, &x); }

dz_status dz_layer_plot(dz_layer *layer, int ninputs, dz_variable *const *inputs, const char *path, bool verbose)
{
    dz_scope_begin();
    dz_variable *y = dz_layer_forward(layer, ninputs, inputs);
    dz_status status = y ? dz_graph_write_dot(y, path, verbose) : dz_last_error_code();
    dz_scope_end();
    return status;
}

void dz_layer_reset_state(dz_layer *layer)
{
    if (layer->ops && layer->ops->reset_state)
        layer->ops->reset_state(layer);
    for (int i = 0; i < layer->nchildren; i++)
        dz_layer_reset_state(layer->children[i]);
}

/* "prefix/name", or "name" at the root (prefix ""). */
static char *join_path(const char *prefix, const char *name)
{
    size_t np = strlen(prefix), nn = strlen(name);
    char *s = dz_xmalloc(np + nn + 2), *p = s;
    memcpy(p, prefix, np);
    p += np;
    if (np)
        *p++ = '/';
    memcpy(p, name, nn + 1);
    return s;
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

dz_param_list *dz_layer_params(const dz_layer *layer)
{
    dz_param_list *list = dz_xcalloc(1, sizeof *list);
    int capacity = 0;
    if (layer)
        collect(layer, "", list, &capacity);
    return list;
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
    dz_param_list *list = dz_layer_params(layer);
    for (int i = 0; i < list->count; i++)
        dz_variable_cleargrad(list->params[i]);
    dz_param_list_free(list);
}

int64_t dz_layer_count_params(const dz_layer *layer)
{
    dz_param_list *list = dz_layer_params(layer);
    int64_t total = 0;
    for (int i = 0; i < list->count; i++)
        total += list->params[i]->data ? list->params[i]->data->size : 0;
    dz_param_list_free(list);
    return total;
}

dz_status dz_layer_to_device(dz_layer *layer, dz_device device)
{
    dz_param_list *list = dz_layer_params(layer);
    dz_array **moved = dz_xcalloc((size_t)list->count + 1, sizeof *moved);
    dz_status status = DZ_OK;
    /* Copy everything first, so a failure leaves the layer where it was. */
    for (int i = 0; i < list->count && status == DZ_OK; i++) {
        dz_array *data = list->params[i]->data;
        if (data && !(moved[i] = dz_array_to_device(data, device)))
            status = dz_last_error_code() ? dz_last_error_code() : DZ_ERR_DEVICE;
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

dz_status dz_layer_to_cpu(dz_layer *layer) { return dz_layer_to_device(layer, DZ_CPU); }
dz_status dz_layer_to_gpu(dz_layer *layer) { return dz_layer_to_device(layer, DZ_CUDA); }
