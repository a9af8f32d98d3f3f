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

/* Whether a module fits the library is the stamp's question: DZ_CUDA_INTERFACE
 * (cuda_interface.h, written by the build) is a hash of this header and the
 * project headers it includes, so it changes with any table, struct or enum
 * that passes between the two. The module exports it as a string under the
 * name DZ_CUDA_MODULE_STAMP; the loader compares it with its own before it
 * calls anything in the module, and refuses a module without one (a module
 * of a version before the stamp). The stamp covers the binary interface
 * only: the headers of math both sides compile (cpu_vecmath.h,
 * cpu_nn_math.h, half.h, ...) change results, not layouts, and are not
 * stamped, so a module built before an edit of them loads and computes the
 * old way; rebuild it with the library. */
#define DZ_CUDA_MODULE_STAMP "dz_cuda_module_interface"
#define DZ_CUDA_MODULE_ENTRY "dz_cuda_module_open"
/* dz_cuda_host's first member in every version; 3 since the stamp, so that a
 * module refuses a library from before it (such a library passes 2). */
#define DZ_CUDA_MODULE_ABI 3

/* What the library lends the module. */
typedef struct dz_cuda_host {
    int abi;                /* DZ_CUDA_MODULE_ABI */
    const char *stamp;      /* DZ_CUDA_INTERFACE */
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
