/* Devices: whether a CUDA GPU can be used by this build on this machine, and
 * how many CPU threads matmul may use. */
#ifndef DEZERO_DEVICE_H
#define DEZERO_DEVICE_H

#include <stdbool.h>

/* True when the library was built with CUDA and a GPU is present. */
bool dz_cuda_available(void);

/* Threads OpenBLAS may use for matmul on the CPU (n >= 1). On a busy
 * machine, or for small matrices, 1 is often fastest. No effect in a build
 * without OpenBLAS. */
void dz_set_num_threads(int n);

#endif
