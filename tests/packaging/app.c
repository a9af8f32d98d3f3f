/* The program check_packaging.sh builds against dezero-c the three ways a
 * project uses it: installed (pkg-config, CMake) and as a Meson subproject.
 * It runs the README's first example (dy/dx of x^4 - 2x^2 at x = 2 is 24),
 * and, given a directory, checks that the library looked for the CUDA
 * module there (the error for a missing device names the paths it tried). */
#include <stdio.h>
#include <string.h>

#include <dezero/dezero.h>

static double gradient_at_two(void)
{
    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_full(DZ_F64, 0, NULL, 2.0), "x");
    dz_variable *y = dz_sub(dz_pow(x, 4), dz_mul_scalar(dz_pow(x, 2), 2.0));
    dz_variable_backward(y, false, false);
    double g = dz_array_get(x->grad->data, 0);
    dz_variable_cleargrad(x);
    dz_scope_end();
    return g;
}

/* Asks for the GPU; without one, the error names the paths tried. True when
 * a device answered or dir/libdezero-cuda.so is among those paths. */
static bool looked_for_cuda_module_in(const char *dir)
{
    dz_set_error_handler_off();
    dz_array *host = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2));
    dz_array *device = dz_array_to_device(host, DZ_CUDA);
    dz_array_release(host);
    if (device) {
        printf("CUDA: %s\n", dz_cuda_device_name());
        dz_array_release(device);
        return true;
    }
    char module[4096];
    snprintf(module, sizeof module, "%s/libdezero-cuda.so", dir);
    printf("CUDA: %s\n", dz_last_error());
    if (strstr(dz_last_error(), module))
        return true;
    fprintf(stderr, "expected the library to look for the CUDA module at %s\n", module);
    return false;
}

int main(int argc, char **argv)
{
    double g = gradient_at_two();
    printf("dy/dx = %g\n", g);
    if (g != 24.0) {
        fprintf(stderr, "expected dy/dx = 24\n");
        return 1;
    }
    if (argc > 1 && !looked_for_cuda_module_in(argv[1]))
        return 1;
    return 0;
}
