/* A CUDA module that the loader must refuse without calling: tests/meson.build
 * builds it with the stamp of other sources (FAKE_STAMP defined) and without
 * a stamp (a module from before the stamp). Its entry point ends the process
 * with a message, since reaching it is the failure test_cuda_loader looks
 * for. */
#include <stdio.h>
#include <stdlib.h>

#include "backend/cuda/cuda_module.h"

#ifdef FAKE_STAMP
__attribute__((visibility("default"))) const char dz_cuda_module_interface[] = FAKE_STAMP;
#endif

__attribute__((visibility("default"))) bool dz_cuda_module_open(const dz_cuda_host *host, dz_cuda_module *module,
                                                                char *why, size_t why_size)
{
    (void)host;
    (void)module;
    (void)why;
    (void)why_size;
    fprintf(stderr, "FAIL: the loader called %s in a module whose stamp is not its own\n", DZ_CUDA_MODULE_ENTRY);
    abort();
}
