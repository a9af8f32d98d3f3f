/* Picking the backend table for a device. */
#include "backend.h"

#include "../base/base.h"

const dz_backend *dz_backend_for(dz_device device)
{
    DZ_ASSERT(device == DZ_CPU || device == DZ_CUDA); /* the public functions check devices */
    const dz_backend *b = device == DZ_CUDA ? dz_backend_cuda() : dz_backend_cpu();
    DZ_ASSERT(b != NULL);
    return b;
}
