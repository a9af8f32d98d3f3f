/* Host views: an array's elements on the host, copied when it is on a device. */
#include "host_view.h"

#include <stdlib.h>

#include "../backend/backend.h"
#include "internal.h"

void *dz_host_view_open_copy(dz_host_view *view, dz_array *a, bool read)
{
    size_t nbytes = (size_t)a->size * dz_dtype_bytes(a->dtype);
    *view = (dz_host_view){a, malloc(nbytes ? nbytes : 1), true};
    if (!view->elements) {
        view->copied = false;
        dz_fail(DZ_ERR_NOMEM, "out of host memory for a copy of %zu bytes from the device", nbytes);
        return NULL;
    }
    if (read)
        dz_backend_of(a)->to_host(view->elements, a->data, nbytes); /* synchronises */
    return view->elements;
}

const void *dz_host_view_read_copy(dz_host_view *view, const dz_array *a)
{
    void *elements = dz_host_view_open_copy(view, (dz_array *)a, true);
    view->array = NULL; /* nothing to copy back */
    return elements;
}

void dz_host_view_close_copy(dz_host_view *view)
{
    if (view->array)
        dz_backend_of(view->array)->from_host(view->array->data, view->elements,
                                              (size_t)view->array->size * dz_dtype_bytes(view->array->dtype));
    free(view->elements);
    view->copied = false;
}

int64_t dz_first_index_outside(const dz_array *idx, int64_t lo, int64_t hi, int64_t *value)
{
    int64_t min, max;
    if (idx->size == 0)
        return -1;
    dz_backend_of(idx)->index_range(idx, &min, &max); /* synchronises */
    if (min >= lo && max < hi)
        return -1;
    dz_host_view view;
    const void *entries = dz_host_view_read(&view, idx); /* synchronises */
    if (!entries)
        return -2;
    int64_t at = -1;
    for (int64_t i = 0; at < 0 && i < idx->size; i++) {
        int64_t v = dz_index_at(entries, idx->dtype, i);
        if (v < lo || v >= hi) {
            at = i;
            *value = v;
        }
    }
    dz_host_view_close(&view);
    return at;
}
