/* Saving and loading a layer's parameters as .npz (keys are '/'-joined
 * paths such as "l1/W"). Loading checks every key, shape and dtype before it
 * changes anything, so a failed load leaves the model as it was. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../io/npz_internal.h"
#include "layer_internal.h"

dz_status dz_layer_save_weights(const dz_layer *layer, const char *path, bool compressed)
{
    const char *op = "dz_layer_save_weights";
    if (!layer || !path)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !layer ? "the layer" : "path");
    dz_param_list *list = dz_layer_params(layer);
    dz_npz *z = dz_npz_new();
    dz_status st = DZ_OK;
    for (int i = 0; i < list->count && st == DZ_OK; i++) {
        const dz_array *data = list->params[i]->data;
        if (!data) {
            st = dz_fail(DZ_ERR_STATE, "dz_layer_save_weights: %s: parameter '%s' is not initialised yet (run a "
                         "forward pass first); nothing was written", path, list->paths[i]);
            break;
        }
        st = dz_npz_add(z, list->paths[i], data); /* saving reads a device array through a host view */
    }
    if (st == DZ_OK)
        st = dz_npz_save_as(op, z, path, compressed);
    dz_npz_free(z);
    dz_param_list_free(list);
    return st;
}

/* The dtype a parameter takes from a file array, or -1 when not allowed:
 * floating parameters accept any float, u8 and bool; integer parameters
 * accept integers. Uninitialised (lazy) parameters take float files as f32/f64. */
static int loaded_dtype(const dz_array *current, dz_dtype file)
{
    bool file_float = file == DZ_F16 || file == DZ_F32 || file == DZ_F64 || file == DZ_U8 || file == DZ_BOOL;
    if (!current)
        return file == DZ_F64 ? DZ_F64 : file_float ? DZ_F32 : -1;
    if (dz_dtype_is_float(current->dtype))
        return file_float ? (int)current->dtype : -1;
    return dz_dtype_is_integer(file) ? (int)current->dtype : -1;
}

static dz_status check_member(const char *op, const char *source, const char *key, const dz_array *current,
                              const dz_array *file)
{
    if (!file)
        return dz_fail(DZ_ERR_FORMAT, "%s: %s has no array '%s' that the model needs; the model is unchanged", op,
                       source, key);
    if (loaded_dtype(current, file->dtype) < 0)
        return dz_fail(DZ_ERR_DTYPE, "%s: %s: '%s' is %s, which parameter of dtype %s cannot take; the model is "
                       "unchanged", op, source, key, dz_dtype_name(file->dtype),
                       current ? dz_dtype_name(current->dtype) : "(uninitialised)");
    if (current && !dz_array_same_shape(current, file))
        return dz_fail(DZ_ERR_SHAPE, "%s: %s: '%s' has shape %s but the model's parameter is %s; the model is "
                       "unchanged", op, source, key, DZ_SHAPE_OF(file), DZ_SHAPE_OF(current));
    return DZ_OK;
}

static bool is_param_path(const dz_param_list *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->paths[i], name) == 0)
            return true;
    return false;
}

/* The file's array for parameter path `path` under `prefix` (NULL when absent). */
static const dz_array *member(const dz_npz *z, const char *prefix, const char *path, char **key)
{
    *key = dz_xformat("%s%s", prefix, path);
    return dz_npz_get(z, *key);
}

/* Every key under `prefix` names a parameter, and every parameter has a
 * key with a dtype and shape it can take. */
static dz_status check_members(const char *op, const char *source, const dz_param_list *list, const dz_npz *z,
                               const char *prefix)
{
    dz_status st = DZ_OK;
    size_t plen = strlen(prefix);
    for (int i = 0; i < dz_npz_count(z) && st == DZ_OK; i++) {
        const char *name = dz_npz_name(z, i);
        if (strncmp(name, prefix, plen) == 0 && !is_param_path(list, name + plen))
            st = dz_fail(DZ_ERR_FORMAT, "%s: %s has an array '%s' that the model does not have; the model is "
                         "unchanged", op, source, name);
    }
    for (int i = 0; i < list->count && st == DZ_OK; i++) {
        char *key = NULL;
        const dz_array *file = member(z, prefix, list->paths[i], &key);
        st = check_member(op, source, key, list->params[i]->data, file);
        free(key);
    }
    return st;
}

dz_status dz_layer_prepare_weights(const char *op, const dz_layer *layer, const char *source, const dz_npz *z,
                                   const char *prefix, dz_weights_load *out)
{
    out->list = dz_layer_params(layer);
    out->loaded = dz_xcalloc((size_t)out->list->count + 1, sizeof *out->loaded);
    const dz_param_list *list = out->list;
    dz_status st = check_members(op, source, list, z, prefix);

    /* Convert everything first; assign only when all conversions worked.
     * Each array goes to its parameter's device; a lazy parameter (no data
     * yet) to the device of the model's first parameter that has data. */
    dz_device model_device = DZ_CPU;
    for (int i = list->count - 1; i >= 0; i--)
        if (list->params[i]->data)
            model_device = list->params[i]->data->device;
    for (int i = 0; i < list->count && st == DZ_OK; i++) {
        char *key = NULL;
        const dz_array *current = list->params[i]->data, *file = member(z, prefix, list->paths[i], &key);
        free(key);
        dz_array *converted = dz_array_astype(file, (dz_dtype)loaded_dtype(current, file->dtype));
        out->loaded[i] = converted ? dz_array_to_device(converted, current ? current->device : model_device) : NULL;
        dz_array_release(converted); /* to_device gave its own reference */
        if (!out->loaded[i])
            st = dz_fail_under(op, DZ_ERR_NOMEM);
    }
    if (st != DZ_OK)
        dz_layer_finish_weights(out, false);
    return st;
}

void dz_layer_finish_weights(dz_weights_load *w, bool commit)
{
    if (!w->list)
        return;
    for (int i = 0; i < w->list->count; i++) {
        if (commit) {
            dz_variable_set_data(w->list->params[i], w->loaded[i]);
            dz_variable_cleargrad(w->list->params[i]);
        } else {
            dz_array_release(w->loaded[i]);
        }
    }
    free(w->loaded);
    dz_param_list_free(w->list);
    *w = (dz_weights_load){NULL, NULL};
}

dz_status dz_layer_load_weights(dz_layer *layer, const char *path)
{
    const char *op = "dz_layer_load_weights";
    if (!layer || !path)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !layer ? "the layer" : "path");
    dz_npz *z = NULL;
    dz_status st = dz_npz_load_as(op, path, &z);
    if (st != DZ_OK)
        return st;
    dz_weights_load w;
    st = dz_layer_prepare_weights(op, layer, path, z, "", &w);
    if (st == DZ_OK)
        dz_layer_finish_weights(&w, true);
    dz_npz_free(z);
    return st;
}
