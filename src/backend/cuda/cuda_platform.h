/* Everything that differs between the two builds of the CUDA backend, and
 * nothing else: memory, the stream, the execution policy and the gemm.
 *
 *   GPU build (nvcc): cudaMalloc'd memory, one stream, Thrust on CUB
 *     (thrust::cuda::par_nosync on that stream), cuBLAS for gemm.
 *   Emulated device (g++, DZ_CUDA_EMULATED, THRUST_DEVICE_SYSTEM_CPP): host
 *     memory behind the device pointers, no stream, Thrust's sequential C++
 *     system, and the CPU backend's matmul for gemm.
 *
 * Every kernel (cuda_*.cu) is the same code in both builds. */
#ifndef DEZERO_CUDA_PLATFORM_H
#define DEZERO_CUDA_PLATFORM_H

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <thrust/execution_policy.h>

#ifndef DZ_CUDA_EMULATED
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>
#else
#include <thrust/system/cpp/execution_policy.h>
#endif

extern "C" {
#include "cuda_module.h"
}

namespace dzc {

/* Set once at open: the library's services. */
extern dz_cuda_host host;
extern dz_caching_allocator memory;

/* Thrust's temporary storage comes from the device's caching allocator. */
struct temp_allocator {
    typedef char value_type;
    char *allocate(std::ptrdiff_t n)
    {
        void *p = host.cache_alloc(&memory, (size_t)n);
        if (!p)
            throw std::bad_alloc();
        return (char *)p;
    }
    void deallocate(char *p, size_t n) { host.cache_free(&memory, p, n); }
};

/* Records the first failure ("op: call: message") for take_error. */
void record_error(const char *op, const char *call, const char *message);

#ifndef DZ_CUDA_EMULATED

extern cudaStream_t stream;
extern cublasHandle_t blas;

/* Kernels queue on the stream; nothing here waits for them. */
inline auto policy() { return thrust::cuda::par_nosync(temp_allocator()).on(stream); }

inline void *raw_alloc(size_t n)
{
    void *p = nullptr;
    if (cudaMalloc(&p, n ? n : 1) != cudaSuccess) {
        cudaGetLastError(); /* out of memory is reported by the allocator's NULL, not as a sticky error */
        return nullptr;
    }
    return p;
}
inline void raw_free(void *p) { cudaFree(p); }

/* A failed runtime call is recorded with its op. */
inline void check(const char *op, const char *call, cudaError_t e)
{
    if (e != cudaSuccess)
        record_error(op, call, cudaGetErrorString(e));
}
inline void zero(void *dst, size_t n) { check("zero", "cudaMemsetAsync", cudaMemsetAsync(dst, 0, n, stream)); }
inline void copy(void *dst, const void *src, size_t n)
{
    check("copy", "cudaMemcpyAsync", cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream));
}
/* Synchronises: the host reads the bytes next. */
inline void to_host(void *dst, const void *src, size_t n)
{
    check("to_host", "cudaMemcpyAsync", cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream));
    check("to_host", "cudaStreamSynchronize", cudaStreamSynchronize(stream));
}
/* Returns once the host buffer may be reused (the bytes are staged). */
inline void from_host(void *dst, const void *src, size_t n)
{
    check("from_host", "cudaMemcpyAsync", cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream));
}
inline void synchronize() { check("synchronize", "cudaStreamSynchronize", cudaStreamSynchronize(stream)); }

#else /* the emulated device: host memory, host copies */

inline auto policy() { return thrust::cpp::par(temp_allocator()); }
inline void *raw_alloc(size_t n) { return std::malloc(n ? n : 1); }
inline void raw_free(void *p) { std::free(p); }
inline void zero(void *dst, size_t n) { std::memset(dst, 0, n); }
inline void copy(void *dst, const void *src, size_t n) { std::memcpy(dst, src, n); }
inline void to_host(void *dst, const void *src, size_t n) { std::memcpy(dst, src, n); }
inline void from_host(void *dst, const void *src, size_t n) { std::memcpy(dst, src, n); }
inline void synchronize() {}

#endif

/* Row-major strided-batch gemm (batched_matmul.h's dz_gemm_fn): cuBLAS, or
 * on the emulated device the CPU backend's matmul. In cuda_platform.cu with
 * the device's opening, the other code that differs between the builds. */
void gemm(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b, double beta,
          void *c, int64_t ldc, int64_t stride_c, int64_t batch);

/* Opens the device: false with the reason in why. */
bool open_device(char *why, size_t why_size, const char **name);
void set_allow_tf32(bool allow);

} // namespace dzc

#endif
