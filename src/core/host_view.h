/* The one door from an op to array elements on the host.
 *
 * Ops never read or write elements through `->data`: their arrays may live on
 * a device (see the rule at the top of src/backend/backend.h). The few places
 * that must see values on the host (printing, saving, the random number
 * generator, a check that needs every index) open a host view: the array's
 * own buffer when it is on the host, otherwise a host copy, which
 * synchronises with the device. */
#ifndef DEZERO_HOST_VIEW_H
#define DEZERO_HOST_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/array.h"

typedef struct dz_host_view {
    dz_array *array; /* the array the view belongs to */
    void *elements;  /* its elements on the host, C order */
    bool copied;     /* elements is a host copy (array on a device) */
} dz_host_view;

/* The device half of the views below (host_view.c): a host copy. */
const void *dz_host_view_read_copy(dz_host_view *view, const dz_array *a);
void *dz_host_view_open_copy(dz_host_view *view, dz_array *a, bool read);
void dz_host_view_close_copy(dz_host_view *view);

/* Opens a view for reading `a`'s elements; NULL (DZ_ERR_NOMEM recorded) when
 * a host copy cannot be allocated. Close it with dz_host_view_close. On the
 * CPU (inline, so a loop of single reads costs nothing) it is a's buffer. */
static inline const void *dz_host_view_read(dz_host_view *view, const dz_array *a)
{
    if (a->device != DZ_CPU)
        return dz_host_view_read_copy(view, a);
    *view = (dz_host_view){NULL, a->data, false};
    return view->elements;
}
/* Opens a view for writing every element of `a` (the contents are
 * undefined until written); closing it copies them to the device. */
static inline void *dz_host_view_write(dz_host_view *view, dz_array *a)
{
    if (a->device != DZ_CPU)
        return dz_host_view_open_copy(view, a, false);
    *view = (dz_host_view){a, a->data, false};
    return view->elements;
}
/* Opens a view for changing some elements of `a` in place: it starts with
 * a's elements, and closing it copies them all back to the device. */
static inline void *dz_host_view_update(dz_host_view *view, dz_array *a)
{
    if (a->device != DZ_CPU)
        return dz_host_view_open_copy(view, a, true);
    *view = (dz_host_view){a, a->data, false};
    return view->elements;
}
static inline void dz_host_view_close(dz_host_view *view)
{
    if (view->copied)
        dz_host_view_close_copy(view);
}

/* The position (C order) of the first entry of the int32/int64 array `idx`
 * outside [lo, hi), with that entry in *value; -1 when every entry is inside.
 * The backend's index_range settles the common case, all inside, without a
 * copy; only when some entry is outside are the entries read on a host view
 * (synchronises) to find the first, for the error message. -2 when that
 * host copy cannot be allocated (DZ_ERR_NOMEM recorded). */
int64_t dz_first_index_outside(const dz_array *idx, int64_t lo, int64_t hi, int64_t *value);

#endif
