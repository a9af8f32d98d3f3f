/* The CUDA backend: device memory and copies. */
#include <cuda_runtime.h>

extern "C" {
#include "../backend.h"
#include "dezero/device.h"
}

static void *cuda_alloc(size_t nbytes)
{
    void *p = nullptr;
    if (cudaMalloc(&p, nbytes ? nbytes : 1) != cudaSuccess)
        return nullptr;
    return p;
}

static void cuda_free(void *p) { cudaFree(p); }
static dz_caching_allocator cuda_memory = DZ_CACHING_ALLOCATOR_INIT(cuda_alloc, cuda_free);
static void cuda_zero(void *dst, size_t n) { cudaMemset(dst, 0, n); }
static void cuda_copy(void *dst, const void *src, size_t n) { cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice); }
static void cuda_to_host(void *dst, const void *src, size_t n) { cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost); }
static void cuda_from_host(void *dst, const void *src, size_t n) { cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice); }

static dz_backend make_backend()
{
    dz_backend b = {};
    b.name = "cuda";
    b.memory = &cuda_memory;
    b.zero = cuda_zero;
    b.copy = cuda_copy;
    b.to_host = cuda_to_host;
    b.from_host = cuda_from_host;
    return b;
}

static const dz_backend cuda_backend = make_backend();

extern "C" const dz_backend *dz_backend_cuda(void) { return &cuda_backend; }

extern "C" bool dz_cuda_available(void)
{
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}
