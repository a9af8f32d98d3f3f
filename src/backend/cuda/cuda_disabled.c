/* Built instead of the CUDA backend when the library is configured without it. */
#include "../backend.h"
#include "dezero/device.h"

const dz_backend *dz_backend_cuda(void) { return 0; }

bool dz_cuda_available(void) { return false; }
