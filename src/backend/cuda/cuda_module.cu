/* The CUDA module's entry point: the backend table, the device's caching
 * allocator, and the record of the first failure. */
#include <cstdio>
#include <cstring>
#include <mutex>

#include "cuda_common.h"

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

static dz_backend make_backend()
{
    dz_backend b = {};
    b.name = "cuda";
    b.memory = &memory;
    b.zero = zero;
    b.copy = copy;
    b.to_host = to_host;
    b.from_host = from_host;
    b.fill = fill;
    b.astype = astype;
    b.unary = unary;
    b.binary = binary;
    b.reduce = reduce;
    b.matmul = matmul;
    b.transpose = transpose;
    b.gather = gather;
    b.scatter = scatter;
    b.scatter_add = scatter_add;
    b.gather_rows = gather_rows;
    b.index_add_rows = index_add_rows;
    b.index_range = index_range;
    b.fused = nullptr; /* every op runs its composite of the primitives above */
    return b;
}

static dz_backend backend;

} // namespace dzc

extern "C" __attribute__((visibility("default"))) bool dz_cuda_module_open(const dz_cuda_host *host,
                                                                          dz_cuda_module *module, char *why,
                                                                          size_t why_size)
{
    if (host->abi != DZ_CUDA_MODULE_ABI || host->backend_size != sizeof(dz_backend) ||
        host->array_size != sizeof(dz_array)) {
        snprintf(why, why_size, "no CUDA device: the CUDA module was built for another version of dezero-c; "
                 "rebuild it with the library");
        return false;
    }
    dzc::host = *host;
    const char *name = nullptr;
    if (!dzc::open_device(why, why_size, &name))
        return false;
    dzc::backend = dzc::make_backend();
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
    return true;
}
