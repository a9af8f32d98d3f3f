/* Argument checks shared by the functions: each raises a user error that names
 * the op and returns false when the check fails. */
#ifndef DEZERO_CHECKS_H
#define DEZERO_CHECKS_H

#include <stdbool.h>

#include "dezero/variable.h"

/* x is not NULL and holds data. */
bool dz_check_variable(const char *op, const dz_variable *x);
/* x passes dz_check_variable and is f32 or f64. */
bool dz_check_float(const char *op, const dz_variable *x);
/* Both are valid, with the same dtype and device. */
bool dz_check_pair(const char *op, const dz_variable *a, const dz_variable *b);
/* dz_check_pair, and the shapes broadcast. */
bool dz_check_broadcast(const char *op, const dz_variable *a, const dz_variable *b);

/* Identity result: another reference to x, owned like any op result. */
dz_variable *dz_identity_result(dz_variable *x);

#endif
