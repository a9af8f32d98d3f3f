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

#include "dezero/array.h"

typedef struct dz_host_view {
    dz_array *array; /* the array the view belongs to */
    void *elements;  /* its elements on the host, C order */
    bool copied;     /* elements is a host copy (array on a device) */
} dz_host_view;

/* Opens a view for reading `a`'s elements; NULL after raising when a host
 * copy cannot be allocated. Close it with dz_host_view_close. */
const void *dz_host_view_read(dz_host_view *view, const dz_array *a);
/* Opens a view for writing every element of `a` (the contents are
 * undefined until written); closing it copies them to the device. */
void *dz_host_view_write(dz_host_view *view, dz_array *a);
void dz_host_view_close(dz_host_view *view);

#endif
