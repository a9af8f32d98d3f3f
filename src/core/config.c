/* Config: backprop recording and train/test mode (per thread). */
#include "dezero/config.h"
#include "internal.h"

static DZ_THREAD_LOCAL bool backprop_disabled;
static DZ_THREAD_LOCAL bool test_mode;

bool dz_enable_backprop(void) { return !backprop_disabled; }

bool dz_set_enable_backprop(bool on)
{
    bool old = !backprop_disabled;
    backprop_disabled = !on;
    return old;
}

bool dz_is_train(void) { return !test_mode; }

bool dz_set_train(bool on)
{
    bool old = !test_mode;
    test_mode = !on;
    return old;
}
