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

#include "dezero/variable.h"

void dz_scope_begin(void);
/* Closes the innermost scope; DZ_ERR_STATE when none is open. */
void dz_scope_end(void);
/* Returns v with one more reference that the caller owns (NULL for NULL, so
 * that the result of a failed op can be kept without a check). */
dz_variable *dz_scope_keep(dz_variable *v);
/* Hand the caller's reference to v to the innermost scope (no-op without one,
 * or for NULL). */
dz_variable *dz_autorelease(dz_variable *v);
int dz_scope_depth(void);

#endif
