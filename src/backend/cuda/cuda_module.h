/* The interface between the library and its CUDA module.
 *
 * The CUDA backend is a separate shared object (libdezero-cuda.so) that the
 * library loads with dlopen the first time a program asks for the GPU
 * (src/backend/cuda_loader.c), so libdezero itself does not depend on
 * libcudart or libcublas. The module calls nothing in the library: what it
 * needs from it (the caching allocator's functions, the CPU backend for the
 * emulated device's gemm) arrives in a dz_cuda_host at open. Plain C on
 * both sides. */
#ifndef DEZERO_CUDA_MODULE_H
#define DEZERO_CUDA_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include "../backend.h"

/* Bumped whenever this header, backend.h or dz_array changes layout. */
#define DZ_CUDA_MODULE_ABI 2
#define DZ_CUDA_MODULE_ENTRY "dz_cuda_module_open"

/* What the library lends the module. */
typedef struct dz_cuda_host {
    int abi;                /* DZ_CUDA_MODULE_ABI */
    size_t backend_size;    /* sizeof(dz_backend), sizeof(dz_array): a stale module refuses to open */
    size_t array_size;
    const dz_backend *cpu;  /* the CPU backend */
    void *(*cache_alloc)(dz_caching_allocator *cache, size_t nbytes);
    void (*cache_free)(dz_caching_allocator *cache, void *ptr, size_t nbytes);
} dz_cuda_host;

/* What the module gives back. */
typedef struct dz_cuda_module {
    const dz_backend *backend; /* device = DZ_CUDA */
    const char *device_name;   /* "NVIDIA H200 (sm_90)", "emulated (host memory, THRUST_DEVICE_SYSTEM_CPP)" */
    bool emulated;
    /* Waits for every queued kernel. */
    void (*synchronize)(void);
    /* The first CUDA or cuBLAS failure since the last call ("cuda_unary: cudaLaunchKernel: out of
     * memory"), or NULL; clears it. Kernels run asynchronously, so a failure surfaces at the
     * next check after it happened. */
    const char *(*take_error)(void);
    /* TF32 tensor cores in float32 gemm (off by default: results then match the CPU within
     * float32 rounding). No effect on the emulated device. */
    void (*set_allow_tf32)(bool allow);
    /* Tests: the backend's fused kernels off (every op on its composite of
     * the primitives) or back on. Call it while no op runs. */
    void (*set_fused)(bool on);
} dz_cuda_module;

/* The module's one exported function. False, with the reason in why ("no CUDA device:
 * cudaGetDeviceCount: no CUDA-capable device is detected"), when it cannot serve. */
typedef bool (*dz_cuda_module_open_fn)(const dz_cuda_host *host, dz_cuda_module *module, char *why,
                                       size_t why_size);

#endif
