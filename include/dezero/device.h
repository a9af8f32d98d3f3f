/* Devices: whether a CUDA GPU can be used by this build on this machine. */
#ifndef DEZERO_DEVICE_H
#define DEZERO_DEVICE_H

#include <stdbool.h>

/* True when the library was built with CUDA and a GPU is present. */
bool dz_cuda_available(void);

#endif
