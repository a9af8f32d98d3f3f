/* Bad-argument cases for the functions of datasets.h (see bad_args.h). */
#include "bad_args.h"

const bad_args_case bad_args_data[] = {
    BAD_ARGS_END,
};
