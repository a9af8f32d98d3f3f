/* Global switches, as DeZero's Config: backprop recording and train/test mode.
 * Each setter returns the previous value so a block can restore it. */
#ifndef DEZERO_CONFIG_H
#define DEZERO_CONFIG_H

#include <stdbool.h>

#include "dezero/export.h"

#ifdef __cplusplus
extern "C" {
#endif

DZ_API bool dz_enable_backprop(void);
DZ_API bool dz_set_enable_backprop(bool on);
DZ_API bool dz_is_train(void);
DZ_API bool dz_set_train(bool on);

/* DZ_NO_GRAD { ... } runs the block with recording off (do not `break` out of it;
 * `return` from inside skips the restore). */
#define DZ_NO_GRAD                                                                        \
    for (int dz_once_ = 1, dz_prev_ = dz_set_enable_backprop(false); dz_once_;            \
         dz_once_ = 0, dz_set_enable_backprop(dz_prev_))
/* DZ_TEST_MODE { ... } runs the block with train = false. */
#define DZ_TEST_MODE                                                                      \
    for (int dz_once_ = 1, dz_prev_ = dz_set_train(false); dz_once_;                      \
         dz_once_ = 0, dz_set_train(dz_prev_))

#ifdef __cplusplus
}
#endif

#endif
