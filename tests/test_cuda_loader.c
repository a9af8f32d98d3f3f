/* The handshake between the library and its CUDA module. A module built from
 * other sources (its tables laid out otherwise) must be refused before the
 * library calls into it, with a reason that names the module and says to
 * rebuild it; a module from this build must be taken.
 *
 *   test_cuda_loader refused         $DZ_CUDA_MODULE is a module of other sources
 *   test_cuda_loader accepted        $DZ_CUDA_MODULE is this build's module
 *   test_cuda_loader module-refuses  $DZ_CUDA_MODULE is this build's module,
 *                                    opened directly by a library of other sources
 *
 * One case per process: the loader looks once. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_module.h"
#include "dezero/dezero.h"
#include "plain_check.h"

/* Why a request for the device fails, or NULL when it succeeds. */
static const char *device_refusal(void)
{
    dz_set_error_handler_off();
    dz_array *probe = dz_array_zeros(DZ_F32, 0, NULL);
    dz_array *moved = dz_array_to_device(probe, DZ_CUDA);
    const char *reason = moved ? NULL : dz_last_error();
    dz_array_release(probe);
    dz_array_release(moved);
    return reason;
}

static void expect_refused(const char *path)
{
    CHECK(!dz_cuda_available(), "a module of other sources was taken: %s", path);
    const char *reason = device_refusal();
    CHECK(reason, "the device served from a module of other sources: %s", path);
    if (!reason)
        return;
    printf("%s\n", reason);
    CHECK(strstr(reason, "built for a different configuration"), "the reason does not say why: %s", reason);
    CHECK(strstr(reason, path), "the reason does not name the module %s: %s", path, reason);
    CHECK(strstr(reason, "rebuild"), "the reason does not say what to do: %s", reason);
}

/* This build's module may lack a device (an nvcc module on a machine without a
 * GPU), but it must not be refused as foreign; the emulated device serves. */
static void expect_accepted(const char *path)
{
    const char *reason = device_refusal();
    printf("%s\n", reason ? reason : dz_cuda_device_name());
    CHECK(!reason || !strstr(reason, "different configuration"), "this build's module was refused: %s", reason);
    const char *expect = getenv("DZ_EXPECT_CUDA");
    CHECK(!(expect && strcmp(expect, "1") == 0) || dz_cuda_available(), "%s does not serve: %s", path, reason);
}

/* The module's own check: a library of other sources (another stamp), or one
 * from before the stamp (ABI 2, whose record has no stamp), gets no device. */
static void expect_module_refuses(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(handle, "cannot load %s: %s", path, dlerror());
    if (!handle)
        return;
    dz_cuda_module_open_fn open = (dz_cuda_module_open_fn)dlsym(handle, DZ_CUDA_MODULE_ENTRY);
    CHECK(open, "%s has no %s", path, DZ_CUDA_MODULE_ENTRY);
    const char *stamp = dlsym(handle, DZ_CUDA_MODULE_STAMP);
    CHECK(stamp, "%s has no %s", path, DZ_CUDA_MODULE_STAMP);
    if (open && stamp) {
        dz_cuda_host other = {DZ_CUDA_MODULE_ABI, "0000000000000000", NULL, NULL, NULL};
        CHECK(strcmp(stamp, other.stamp) != 0, "the module's stamp is the test's: %s", stamp);
        dz_cuda_host old = {2, NULL, NULL, NULL, NULL};
        const dz_cuda_host *hosts[] = {&other, &old};
        for (int i = 0; i < 2; i++) {
            dz_cuda_module module = {0};
            char why[512] = "";
            CHECK(!open(hosts[i], &module, why, sizeof why), "the module opened for a library of other sources");
            printf("%s\n", why);
            CHECK(strstr(why, "built for a different configuration"), "the module's reason does not say why: %s",
                  why);
            CHECK(!module.backend, "the module gave a backend to a library of other sources");
        }
    }
    dlclose(handle);
}

int main(int argc, char **argv)
{
    const char *path = getenv("DZ_CUDA_MODULE");
    if (argc != 2 || !path) {
        fprintf(stderr, "usage: DZ_CUDA_MODULE=PATH %s refused|accepted|module-refuses\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "refused") == 0)
        expect_refused(path);
    else if (strcmp(argv[1], "accepted") == 0)
        expect_accepted(path);
    else if (strcmp(argv[1], "module-refuses") == 0)
        expect_module_refuses(path);
    else
        return 2;
    return failures ? 1 : 0;
}
