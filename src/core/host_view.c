/* Host views: an array's elements on the host, copied when it is on a device. */
#include "host_view.h"

#include <stdlib.h>

#include "../backend/backend.h"
#include "internal.h"

static void *open_view(dz_host_view *view, dz_array *a, bool read)
{
    size_t nbytes = (size_t)a->size * dz_dtype_size(a->dtype);
    *view = (dz_host_view){a, a->data, false};
    if (a->device == DZ_CPU)
        return a->data;
    view->elements = malloc(nbytes ? nbytes : 1);
    if (!view->elements) {
        dz_raise(DZ_ERR_NOMEM, "out of host memory copying %zu bytes from the device", nbytes);
        return NULL;
    }
    view->copied = true;
    if (read)
        dz_backend_of(a)->to_host(view->elements, a->data, nbytes); /* synchronises */
    return view->elements;
}

const void *dz_host_view_read(dz_host_view *view, const dz_array *a)
{
    void *elements = open_view(view, (dz_array *)a, true);
    view->array = NULL; /* nothing to copy back */
    return elements;
}

void *dz_host_view_write(dz_host_view *view, dz_array *a) { return open_view(view, a, false); }

void dz_host_view_close(dz_host_view *view)
{
    if (!view->copied)
        return;
    if (view->array)
        dz_backend_of(view->array)->from_host(view->array->data, view->elements,
                                              (size_t)view->array->size * dz_dtype_size(view->array->dtype));
    free(view->elements);
    view->copied = false;
}
