/* Bad-argument cases for the functions of layer, layers, npz and optim.h (see bad_args.h). */
#include "bad_args.h"

const bad_args_case bad_args_modules[] = {
    BAD_ARGS_END,
};
