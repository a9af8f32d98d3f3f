/* The CUDA module's entry point: the backend table, the device's caching
 * allocator, and the record of the first failure. */
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <mutex>

#include "cuda_common.h"
#include "cuda_interface.h"

namespace dzc {

dz_cuda_host host;
dz_caching_allocator memory = DZ_CACHING_ALLOCATOR_INIT(raw_alloc, raw_free);

static std::mutex error_lock;
static char error_text[512];
static bool error_pending;

void record_error(const char *op, const char *call, const char *message)
{
    std::lock_guard<std::mutex> hold(error_lock);
    if (error_pending) /* the first failure is the cause; later ones follow from it */
        return;
    snprintf(error_text, sizeof error_text, "%s: %s: %s", op, call, message);
    error_pending = true;
}

static const char *take_error()
{
    std::lock_guard<std::mutex> hold(error_lock);
    if (!error_pending)
        return nullptr;
    error_pending = false;
    return error_text; /* stays valid until the next failure */
}

/* ---- the table: each primitive behind a check of its arrays' device ---------
 * A CPU array handed to a GPU kernel would be a host pointer read on the
 * device; the check turns that library bug into a recorded error (and makes
 * the emulated device, where host pointers work, catch it too). */

static bool on_device(const char *op, std::initializer_list<const dz_array *> arrays)
{
    for (const dz_array *a : arrays) {
        if (a && a->device != DZ_CUDA) {
            record_error(op, "its arguments", "a CPU array was passed to a GPU kernel");
            return false;
        }
    }
    return true;
}

static void checked_fill(dz_array *y, double value)
{
    if (on_device("cuda_fill", {y}))
        fill(y, value);
}
static void checked_astype(const dz_array *x, dz_array *y)
{
    if (on_device("cuda_astype", {x, y}))
        astype(x, y);
}
static void checked_unary(dz_unary_op op, const dz_array *x, double p, dz_array *y)
{
    if (on_device("cuda_unary", {x, y}))
        unary(op, x, p, y);
}
static void checked_binary(dz_binary_op op, const dz_array *a, const dz_array *b, dz_array *y)
{
    if (on_device("cuda_binary", {a, b, y}))
        binary(op, a, b, y);
}
static void checked_reduce(dz_reduce_op op, const dz_array *x, dz_array *y)
{
    if (on_device("cuda_reduce", {x, y}))
        reduce(op, x, y);
}
static void checked_matmul(const dz_array *a, bool ta, const dz_array *b, bool tb, dz_array *c, bool accumulate)
{
    if (on_device("cuda_matmul", {a, b, c}))
        matmul(a, ta, b, tb, c, accumulate);
}
static void checked_transpose(const dz_array *x, const int *axes, dz_array *y)
{
    if (on_device("cuda_transpose", {x, y}))
        transpose(x, axes, y);
}
static void checked_gather(const dz_array *x, const dz_gather_spec *spec, dz_array *y)
{
    if (on_device("cuda_gather", {x, spec->offsets, y}))
        gather(x, spec, y);
}
static void checked_scatter(const dz_array *y, const dz_gather_spec *spec, dz_array *x)
{
    if (on_device("cuda_scatter", {y, spec->offsets, x}))
        scatter(y, spec, x);
}
static void checked_scatter_add(const dz_array *y, const dz_gather_spec *spec, dz_array *x)
{
    if (on_device("cuda_scatter_add", {y, spec->offsets, x}))
        scatter_add(y, spec, x);
}
static void checked_gather_rows(const dz_array *table, const dz_array *rows, int64_t skip, dz_array *y)
{
    if (on_device("cuda_gather_rows", {table, rows, y}))
        gather_rows(table, rows, skip, y);
}
static void checked_index_add_rows(dz_array *table, const dz_array *rows, const dz_array *x, double alpha,
                                   int64_t skip, bool scale_by_count)
{
    if (on_device("cuda_index_add_rows", {table, rows, x}))
        index_add_rows(table, rows, x, alpha, skip, scale_by_count);
}
static void checked_index_range(const dz_array *idx, int64_t *min, int64_t *max)
{
    *min = *max = 0;
    if (on_device("cuda_index_range", {idx}))
        index_range(idx, min, max);
}

static dz_backend make_backend()
{
    dz_backend b = {};
    b.name = "cuda";
    b.memory = &memory;
    b.zero = zero;
    b.copy = copy;
    b.to_host = to_host;
    b.from_host = from_host;
    b.fill = checked_fill;
    b.astype = checked_astype;
    b.unary = checked_unary;
    b.binary = checked_binary;
    b.reduce = checked_reduce;
    b.matmul = checked_matmul;
    b.transpose = checked_transpose;
    b.gather = checked_gather;
    b.scatter = checked_scatter;
    b.scatter_add = checked_scatter_add;
    b.gather_rows = checked_gather_rows;
    b.index_add_rows = checked_index_add_rows;
    b.index_range = checked_index_range;
    return b;
}

static dz_backend backend;
/* The fused kernels written so far; every other slot is NULL, and its op
 * runs the composite of the primitives above. */
static dz_backend_fused fused;

static void set_fused(bool on) { backend.fused = on ? &fused : nullptr; }

} // namespace dzc

/* The stamp the loader checks before it calls dz_cuda_module_open (the name is DZ_CUDA_MODULE_STAMP). */
extern "C" __attribute__((visibility("default"))) const char dz_cuda_module_interface[] = DZ_CUDA_INTERFACE;

extern "C" __attribute__((visibility("default"))) bool dz_cuda_module_open(const dz_cuda_host *host,
                                                                          dz_cuda_module *module, char *why,
                                                                          size_t why_size)
{
    if (host->abi != DZ_CUDA_MODULE_ABI || strcmp(host->stamp, DZ_CUDA_INTERFACE) != 0) {
        snprintf(why, why_size, "no CUDA device: the CUDA module was built for a different configuration: "
                 "from other sources of dezero-c (its interface stamp is %s); rebuild it with the library",
                 DZ_CUDA_INTERFACE);
        return false;
    }
    dzc::host = *host;
    const char *name = nullptr;
    if (!dzc::open_device(why, why_size, &name))
        return false;
    dzc::backend = dzc::make_backend();
    dzc::fill_nn_kernels(&dzc::fused);
    dzc::fill_conv_kernels(&dzc::fused);
    dzc::fill_optim_kernels(&dzc::fused);
    dzc::fill_embedding_kernels(&dzc::fused);
    dzc::set_fused(true);
    module->backend = &dzc::backend;
    module->device_name = name;
#ifdef DZ_CUDA_EMULATED
    module->emulated = true;
#else
    module->emulated = false;
#endif
    module->synchronize = dzc::synchronize;
    module->take_error = dzc::take_error;
    module->set_allow_tf32 = dzc::set_allow_tf32;
    module->set_fused = dzc::set_fused;
    return true;
}
