/* Helpers for writing ops (see op_helpers.h). */
#include "op_helpers.h"

#include "internal.h"
#include "dezero/scope.h"

bool dz_needs_grad(const dz_variable *v) { return v->requires_grad; }

dz_variable *dz_constant(dz_array *a)
{
    if (!a)
        return NULL;
    dz_variable *v = dz_variable_new(a, NULL);
    v->requires_grad = false;
    return v;
}

dz_variable *dz_raw_result(dz_array *a) { return a ? dz_variable_new(a, NULL) : NULL; }

dz_array *dz_failed_output(dz_array *a)
{
    dz_array_release(a);
    return NULL;
}

dz_variable *dz_composite_result(dz_variable *y)
{
    dz_variable *kept = dz_scope_keep(y);
    dz_scope_end();
    return dz_autorelease(kept);
}
