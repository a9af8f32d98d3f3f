/* save_weights / load_weights of a 100 MB model (four (2500, 2500) f32
 * parameters), stored (like np.savez) and deflated (like
 * np.savez_compressed); prints MB/s. bench_npz.py times NumPy on the same
 * arrays. Our save also fsyncs and renames (atomic), which NumPy does not. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dezero/dezero.h"

enum { RUNS = 5 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof *v, compare);
    return v[RUNS / 2];
}

int main(void)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    dz_layer *model = dz_model_new();
    dz_scope_begin();
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "W%d", i);
        dz_layer_add_param(model, name,
                           dz_parameter_new(dz_array_uniform(&rng, DZ_F32, 2, DZ_SHAPE(2500, 2500), -1, 1), NULL));
    }
    dz_scope_end();
    double megabytes = (double)dz_layer_count_params(model) * 4 / 1e6;
    char path[] = "/tmp/dz_bench_npz_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    for (int compressed = 0; compressed < 2; compressed++) {
        double save[RUNS], load[RUNS];
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            if (dz_layer_save_weights(model, path, compressed) != DZ_OK) {
                fprintf(stderr, "bench_npz: %s\n", dz_last_error());
                return 1;
            }
            double t1 = now();
            if (dz_layer_load_weights(model, path) != DZ_OK) {
                fprintf(stderr, "bench_npz: %s\n", dz_last_error());
                return 1;
            }
            save[r] = t1 - t0;
            load[r] = now() - t1;
        }
        const char *kind = compressed ? "compressed" : "stored";
        printf("npz_save_%s_ms %.1f\n", kind, median(save) * 1e3);
        printf("npz_load_%s_ms %.1f\n", kind, median(load) * 1e3);
        printf("npz_save_%s_mb_per_s %.0f\n", kind, megabytes / median(save));
        printf("npz_load_%s_mb_per_s %.0f\n", kind, megabytes / median(load));
    }
    unlink(path);
    dz_layer_free(model);
    return 0;
}
