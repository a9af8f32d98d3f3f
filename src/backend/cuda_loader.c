/* Loading the CUDA module (cuda/cuda_module.h) at the first request for the
 * GPU. The library links no CUDA library: a program built with it runs on
 * machines without CUDA, where asking for the device gives the reason
 * ("no CUDA device: ..."), never a silent fallback to the CPU.
 *
 * The module is looked for, in order, at $DZ_CUDA_MODULE (a path), next to
 * the libdezero.so this code was loaded from, and in the library's install
 * directory. The first one that loads is used; if it finds no GPU, or was
 * built from other interface headers than this library (its stamp differs,
 * see cuda/cuda_module.h), that is the answer. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/caching_allocator.h"
#include "backend.h"
#include "cuda/cuda_module.h"
#include "cuda_interface.h"
#include "dezero/device.h"
#include "../core/internal.h"
#include "dezero/error.h"

#define MODULE_FILE "libdezero-cuda.so"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static dz_cuda_module module; /* backend NULL when unavailable */
static char reason[1024];
static int loaded; /* set once load() has finished */

static void add_reason(const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(reason);
    snprintf(reason + used, sizeof reason - used, fmt, a, b);
}

/* At exit the device's cached blocks go back to the driver. Registered after
 * the module opened the device, so it runs before the CUDA runtime's own
 * teardown. */
static void free_device_cache(void) { dz_cache_empty(module.backend->memory); }

/* False, with the reason, when the module's stamp is not this library's: its
 * tables would not match ours, and calling into it could crash anywhere. */
static bool stamp_matches(void *handle, const char *path)
{
    const char *stamp = dlsym(handle, DZ_CUDA_MODULE_STAMP);
    if (stamp && strcmp(stamp, DZ_CUDA_INTERFACE) == 0)
        return true;
    char theirs[48] = "it has no interface stamp";
    if (stamp)
        snprintf(theirs, sizeof theirs, "its interface stamp is %.16s", stamp);
    snprintf(reason, sizeof reason, "no CUDA device: the CUDA module %s was built for a different "
             "configuration: from other sources of dezero-c (%s, this library's is %s); rebuild the "
             "module with the library (ninja libdezero-cuda.so in the library's build directory)",
             path, theirs, DZ_CUDA_INTERFACE);
    return false;
}

/* True when the module at path opened a device (or failed for a reason that
 * ends the search: a module that loads but finds no GPU or does not match
 * this library). */
static bool try_module(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        add_reason("%s%s", reason[0] ? "; " : "", dlerror());
        return false;
    }
    dz_cuda_module_open_fn open = (dz_cuda_module_open_fn)dlsym(handle, DZ_CUDA_MODULE_ENTRY);
    if (!open) {
        add_reason("%s%s is not a dezero-c CUDA module", reason[0] ? "; " : "", path);
        dlclose(handle);
        return false;
    }
    if (!stamp_matches(handle, path)) {
        dlclose(handle);
        return true;
    }
    static const dz_cuda_host host = {DZ_CUDA_MODULE_ABI, DZ_CUDA_INTERFACE, NULL, dz_cache_alloc,
                                      dz_cache_free};
    dz_cuda_host h = host;
    h.cpu = dz_backend_cpu();
    char why[512] = "";
    if (open(&h, &module, why, sizeof why)) {
        atexit(free_device_cache);
        return true;
    }
    reason[0] = '\0';
    add_reason("%s (module %s)", why, path);
    module.backend = NULL;
    return true; /* this module is the one; it has no device */
}

static void load(void)
{
    const char *env = getenv("DZ_CUDA_MODULE");
    if (env && env[0]) {
        try_module(env);
        return;
    }
    Dl_info info;
    char path[4096] = "";
    if (dladdr((void *)dz_backend_cuda, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        int dir = slash ? (int)(slash - info.dli_fname) : 1;
        snprintf(path, sizeof path, "%.*s/%s", dir, slash ? info.dli_fname : ".", MODULE_FILE);
        if (try_module(path))
            return;
    }
    if (strcmp(path, DZ_CUDA_MODULE_DIR "/" MODULE_FILE) != 0) /* the library is not installed there */
        try_module(DZ_CUDA_MODULE_DIR "/" MODULE_FILE);
}

static void load_once(void)
{
    load();
    if (!module.backend && strncmp(reason, "no CUDA device", 14) != 0) { /* no module loaded */
        char tried[sizeof reason];
        snprintf(tried, sizeof tried, "%s", reason);
        snprintf(reason, sizeof reason, "no CUDA device: the CUDA module %s could not be loaded (%.700s); this "
                 "build of dezero-c has none unless it was configured where nvcc is installed, or with "
                 "-Dgpu_emulation=true", MODULE_FILE, tried);
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
}

const dz_backend *dz_backend_cuda(void)
{
    pthread_once(&once, load_once);
    return module.backend;
}

const dz_backend *dz_backend_cuda_if_loaded(void)
{
    return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE) ? module.backend : NULL;
}

bool dz_cuda_available(void) { return dz_backend_cuda() != NULL; }

const char *dz_cuda_unavailable_reason(void)
{
    return dz_backend_cuda() ? NULL : reason;
}

const char *dz_cuda_device_name(void) { return dz_backend_cuda() ? module.device_name : NULL; }

bool dz_cuda_is_emulated(void) { return dz_backend_cuda() && module.emulated; }

void dz_backend_cuda_set_fused(bool on)
{
    if (dz_backend_cuda())
        module.set_fused(on);
}

void dz_cuda_set_allow_tf32(bool allow)
{
    if (dz_backend_cuda())
        module.set_allow_tf32(allow);
}

dz_status dz_cuda_synchronize(void)
{
    if (!dz_backend_cuda())
        return dz_raise(DZ_ERR_DEVICE, "dz_cuda_synchronize: %s", reason);
    module.synchronize();
    return dz_cuda_check("dz_cuda_synchronize");
}

dz_status dz_cuda_check(const char *op)
{
    if (!module.backend)
        return DZ_OK;
    const char *failure = module.take_error();
    if (!failure)
        return DZ_OK;
    return dz_raise(DZ_ERR_CUDA, "%s: the GPU reported a failure: %s", op, failure);
}
