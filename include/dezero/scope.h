/* Scopes: autorelease pools for Variables.
 *
 * While a scope is open every Variable returned to you (by an op, a
 * constructor, backward's grads) is owned by the innermost scope, so a training
 * step needs no release call per intermediate:
 *
 *     dz_scope_begin();
 *     dz_variable *loss = ...;              // many intermediates
 *     dz_variable_backward(loss, false, false);
 *     dz_scope_end();                       // all of them released here
 *
 * dz_scope_keep(v) takes one extra reference for you, so v outlives the scope
 * (release it yourself later). Grads stay alive while their variable holds them.
 */
#ifndef DEZERO_SCOPE_H
#define DEZERO_SCOPE_H

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

DZ_API void dz_scope_begin(void);
/* Closes the innermost scope; DZ_ERR_STATE when none is open. */
DZ_API void dz_scope_end(void);
/* Returns v with one more reference that the caller owns (NULL for NULL, so
 * that the result of a failed op can be kept without a check). */
DZ_API dz_variable *dz_scope_keep(dz_variable *v);
/* Hand the caller's reference to v to the innermost scope (no-op without one,
 * or for NULL). */
DZ_API dz_variable *dz_autorelease(dz_variable *v);
DZ_API int dz_scope_depth(void);

#ifdef __cplusplus
}
#endif

#endif
