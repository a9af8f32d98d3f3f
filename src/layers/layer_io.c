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

static dz_status check_member(const char *path, const char *key, const dz_array *current, const dz_array *file)
{
    if (!file)
        return dz_fail(DZ_ERR_FORMAT, "dz_layer_load_weights: %s has no array '%s' that the model needs; the "
                       "model is unchanged", path, key);
    if (loaded_dtype(current, file->dtype) < 0)
        return dz_fail(DZ_ERR_DTYPE, "dz_layer_load_weights: %s: '%s' is %s, which parameter of dtype %s cannot "
                       "take; the model is unchanged", path, key, dz_dtype_name(file->dtype),
                       current ? dz_dtype_name(current->dtype) : "(uninitialised)");
    if (current && !dz_array_same_shape(current, file))
        return dz_fail(DZ_ERR_SHAPE, "dz_layer_load_weights: %s: '%s' has shape %s but the model's parameter is "
                       "%s; the model is unchanged", path, key, DZ_SHAPE_OF(file), DZ_SHAPE_OF(current));
    return DZ_OK;
}

static bool is_param_path(const dz_param_list *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->paths[i], name) == 0)
            return true;
    return false;
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
    dz_param_list *list = dz_layer_params(layer);
    for (int i = 0; i < dz_npz_count(z) && st == DZ_OK; i++)
        if (!is_param_path(list, dz_npz_name(z, i)))
            st = dz_fail(DZ_ERR_FORMAT, "dz_layer_load_weights: %s has an array '%s' that the model does not "
                         "have; the model is unchanged", path, dz_npz_name(z, i));
    for (int i = 0; i < list->count && st == DZ_OK; i++)
        st = check_member(path, list->paths[i], list->params[i]->data, dz_npz_get(z, list->paths[i]));

    /* Convert everything first; assign only when all conversions worked.
     * Each array goes to its parameter's device; a lazy parameter (no data
     * yet) to the device of the model's first parameter that has data. */
    dz_device model_device = DZ_CPU;
    for (int i = list->count - 1; i >= 0; i--)
        if (list->params[i]->data)
            model_device = list->params[i]->data->device;
    dz_array **loaded = dz_xcalloc((size_t)list->count + 1, sizeof *loaded);
    for (int i = 0; i < list->count && st == DZ_OK; i++) {
        const dz_array *current = list->params[i]->data, *file = dz_npz_get(z, list->paths[i]);
        dz_array *converted = dz_array_astype(file, (dz_dtype)loaded_dtype(current, file->dtype));
        loaded[i] = converted ? dz_array_to_device(converted, current ? current->device : model_device) : NULL;
        dz_array_release(converted); /* to_device gave its own reference */
        if (!loaded[i])
            st = dz_fail_under(op, DZ_ERR_NOMEM);
    }
    for (int i = 0; i < list->count; i++) {
        if (st == DZ_OK) {
            dz_variable_set_data(list->params[i], loaded[i]);
            dz_variable_cleargrad(list->params[i]);
        } else {
            dz_array_release(loaded[i]);
        }
    }
    free(loaded);
    dz_param_list_free(list);
    dz_npz_free(z);
    return st;
}
