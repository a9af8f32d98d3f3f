/* Devices: whether a CUDA GPU can be used by this build on this machine, and
 * how many CPU threads matmul may use. */
#ifndef DEZERO_DEVICE_H
#define DEZERO_DEVICE_H

#include <stdbool.h>

#include "dezero/error.h"
#include "dezero/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when the CUDA module (libdezero-cuda.so, loaded at the first call)
 * found a GPU, or is the emulated device (a build with -Dgpu_emulation=true:
 * host memory behind device arrays, for testing the GPU code anywhere). When
 * false, every request for DZ_CUDA fails with the reason ("no CUDA device:
 * ..."). */
DZ_API bool dz_cuda_available(void);
/* "NVIDIA H200 (sm_90)", or the emulated device's name; NULL without a device. */
DZ_API const char *dz_cuda_device_name(void);
/* True on the emulated device. */
DZ_API bool dz_cuda_is_emulated(void);
/* GPU work is queued on one stream and runs asynchronously; reading a value
 * on the host waits for it. This waits for everything queued (for timing),
 * and reports a failure the device recorded (DZ_ERR_CUDA). */
DZ_API dz_status dz_cuda_synchronize(void);
/* Lets float32 matmul on the GPU use TF32 tensor cores (about 10 bits of
 * mantissa in the products): faster, less exact. Off by default, so GPU
 * results match the CPU's within float32 rounding. */
DZ_API void dz_cuda_set_allow_tf32(bool allow);

/* Threads the CPU may use: matmul, and the elementwise, reduction, bias,
 * softmax and loss kernels on arrays above a grain of 32,768 elements. Results
 * are bit-identical for any count: matmul cuts each product into pieces fixed
 * by its shape and runs every piece as a single-threaded OpenBLAS call, so the
 * library sets OpenBLAS itself to one thread when it loads (a program that
 * raises OpenBLAS's count again loses that guarantee). n < 1 means 1. The
 * default is the DZ_NUM_THREADS environment variable when it is a positive
 * integer, else the number of online CPUs. */
DZ_API void dz_set_num_threads(int n);
DZ_API int dz_num_threads(void);

/* CPU array memory comes from a caching allocator: freed buffers are kept in
 * size classes and reused, so a steady training loop neither calls malloc
 * for its arrays nor faults pages in. Bytes, process-wide: */
typedef struct dz_memory_info {
    size_t in_use; /* held by live arrays (rounded up to their size class) */
    size_t cached; /* freed, kept for reuse */
    size_t peak;   /* the largest in_use seen */
} dz_memory_info;
DZ_API dz_memory_info dz_memory_stats(void);
/* Returns every cached buffer to the system. */
DZ_API void dz_empty_cache(void);

#ifdef __cplusplus
}
#endif

#endif
