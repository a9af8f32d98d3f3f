/* The device's opening and its gemm: the code that differs between the GPU
 * build (CUDA runtime, cuBLAS) and the emulated device (the CPU backend's
 * matmul), beside the inline half in cuda_platform.h. */
#include <cstdio>

#include "cuda_common.h"

namespace dzc {

#ifndef DZ_CUDA_EMULATED

cudaStream_t stream;
cublasHandle_t blas;
static char device_name[320];

static bool fail(char *why, size_t why_size, const char *call, const char *message)
{
    snprintf(why, why_size, "no CUDA device: %s: %s", call, message);
    return false;
}

bool open_device(char *why, size_t why_size, const char **name)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return fail(why, why_size, "cudaGetDeviceCount", cudaGetErrorString(e));
    if (count == 0)
        return fail(why, why_size, "cudaGetDeviceCount", "no GPU is visible");
    cudaDeviceProp prop;
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess ||
        (e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess)
        return fail(why, why_size, "cudaSetDevice", cudaGetErrorString(e));
    cublasStatus_t b = cublasCreate(&blas);
    if (b != CUBLAS_STATUS_SUCCESS)
        return fail(why, why_size, "cublasCreate", cublasGetStatusString(b));
    cublasSetStream(blas, stream);
    cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH); /* no TF32: float32 gemm rounds like the CPU's */
    snprintf(device_name, sizeof device_name, "%s (sm_%d%d)", prop.name, prop.major, prop.minor);
    *name = device_name;
    return true;
}

void set_allow_tf32(bool allow)
{
    cublasSetMathMode(blas, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
}

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS
 * gets B first, and the dimensions n, m. A batch summed into one C (stride_c
 * 0) is one call per product, in order: a strided batch would write C from
 * several products at once. */
void gemm(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b, double beta,
          void *c, int64_t ldc, int64_t stride_c, int64_t batch)
{
    if (stride_c == 0 && batch > 1) {
        size_t es = dtype == DZ_F32 ? 4 : 8;
        for (int64_t i = 0; i < batch; i++)
            gemm(dtype, trans_a, trans_b, m, n, k, alpha, (const char *)a + i * stride_a * es, lda, 0,
                 (const char *)b + i * stride_b * es, ldb, 0, i == 0 ? beta : 1.0, c, ldc, 0, 1);
        return;
    }
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t s;
    if (dtype == DZ_F32) {
        float fa = (float)alpha, fb = (float)beta;
        s = cublasSgemmStridedBatched_64(blas, op_b, op_a, n, m, k, &fa, (const float *)b, ldb, stride_b,
                                         (const float *)a, lda, stride_a, &fb, (float *)c, ldc, stride_c, batch);
    } else {
        s = cublasDgemmStridedBatched_64(blas, op_b, op_a, n, m, k, &alpha, (const double *)b, ldb, stride_b,
                                         (const double *)a, lda, stride_a, &beta, (double *)c, ldc, stride_c,
                                         batch);
    }
    if (s != CUBLAS_STATUS_SUCCESS)
        record_error("cuda_matmul", dtype == DZ_F32 ? "cublasSgemmStridedBatched" : "cublasDgemmStridedBatched",
                     cublasGetStatusString(s));
}

#else /* the emulated device */

bool open_device(char *, size_t, const char **name)
{
    *name = "emulated CUDA device (host memory, Thrust's C++ system)";
    return true;
}

void set_allow_tf32(bool) {}

/* Each matrix is contiguous with its row length as leading dimension (as
 * batched_matmul passes them), alpha is 1 and beta 0 or 1: the emulated
 * device's memory is host memory, which the CPU's matmul reads as CPU arrays.
 * A batch summed into one C (stride_c 0) adds its products in order, as the
 * GPU's gemm does. */
void gemm(dz_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double, const void *a,
          int64_t, int64_t stride_a, const void *b, int64_t, int64_t stride_b, double beta, void *c, int64_t,
          int64_t stride_c, int64_t batch)
{
    size_t es = dtype == DZ_F32 ? 4 : 8;
    for (int64_t i = 0; i < batch; i++) {
        const char *ai = (const char *)a + i * stride_a * es, *bi = (const char *)b + i * stride_b * es;
        dz_array va = matrix_view(dtype, DZ_CPU, ai, trans_a ? k : m, trans_a ? m : k);
        dz_array vb = matrix_view(dtype, DZ_CPU, bi, trans_b ? n : k, trans_b ? k : n);
        dz_array vc = matrix_view(dtype, DZ_CPU, (char *)c + i * stride_c * es, m, n);
        host.cpu->matmul(&va, trans_a, &vb, trans_b, &vc, beta != 0 || (stride_c == 0 && i > 0));
    }
}

#endif

} // namespace dzc
