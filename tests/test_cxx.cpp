/* The public headers from C++: <dezero/dezero.h> declares its functions
 * extern "C", so this program links against the C library. It builds
 * y = x * x + 1 for x = (1, 2, 3), runs backward, and checks y and dy/dx = 2x. */
#include <cmath>
#include <cstdint>
#include <cstdio>

#include <dezero/dezero.h>

static int failures = 0;

static void expect(const char *what, int64_t i, double got, double want)
{
    if (std::fabs(got - want) > 1e-12) {
        std::printf("%s[%lld] = %.17g, expected %.17g\n", what, static_cast<long long>(i), got, want);
        failures++;
    }
}

int main()
{
    dz_set_error_handler_off();
    const int64_t shape[] = {3};
    const double values[] = {1.0, 2.0, 3.0};

    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_from_buffer(DZ_F64, 1, shape, values), "x");
    dz_variable *y = dz_add_scalar(dz_mul(x, x), 1.0); // (3,)
    if (!y || dz_variable_backward(y, false, false) != DZ_OK || !x->grad) {
        std::printf("forward or backward failed: %s\n", dz_last_error());
        return 1;
    }
    for (int64_t i = 0; i < 3; i++) {
        expect("y", i, dz_array_get(y->data, i), values[i] * values[i] + 1.0);
        expect("dy/dx", i, dz_array_get(x->grad->data, i), 2.0 * values[i]);
    }
    dz_scope_end();

    std::printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
