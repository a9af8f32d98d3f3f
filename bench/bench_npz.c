/* save_weights / load_weights: a 100 MB model (four (2500, 2500) f32
 * parameters) stored, as np.savez writes, and a 25 MB one (one such
 * parameter) deflated, as np.savez_compressed writes (deflate is slow: the
 * smaller model keeps the run short). Saves and loads alternate: 3 of each
 * stored, 1 compressed (the rounds of run_benchmarks.sh repeat it). Our save
 * also fsyncs the file and renames it into place (an atomic replace), which
 * NumPy does not. bench_npz.py times NumPy on the same sizes.
 *
 * Prints npz_save_stored_ms_100mb, npz_load_stored_ms_100mb,
 * npz_save_compressed_ms_25mb and npz_load_compressed_ms_25mb (median, ms).
 * Options: --threads N, --quick (one stored save and load). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_common.h"
#include "dezero/dezero.h"

/* Saves and loads a model of `count` (2500, 2500) parameters `runs` times
 * (at most 3) and reports the median of each; false after an error. */
static bool save_and_load(int count, bool compressed, int runs)
{
    dz_layer *model = dz_model_new();
    dz_scope_begin();
    for (int i = 0; i < count; i++) {
        char name[8];
        snprintf(name, sizeof name, "W%d", i);
        dz_layer_add_param(model, name, dz_parameter_new(bench_uniform_f32(2, DZ_SHAPE(2500, 2500), (uint64_t)(i + 4 * compressed)), NULL));
    }
    dz_scope_end();
    char path[] = "/tmp/dz_bench_npz_XXXXXX";
    close(mkstemp(path));
    double save_s[3], load_s[3];
    dz_status status = DZ_OK;
    for (int r = 0; r < runs && status == DZ_OK; r++) {
        double t0 = bench_now();
        status = dz_layer_save_weights(model, path, compressed);
        double t1 = bench_now();
        if (status == DZ_OK)
            status = dz_layer_load_weights(model, path);
        save_s[r] = t1 - t0;
        load_s[r] = bench_now() - t1;
    }
    unlink(path);
    dz_layer_free(model);
    if (status != DZ_OK) {
        fprintf(stderr, "bench_npz: %s\n", dz_last_error());
        return false;
    }
    const char *kind = compressed ? "compressed" : "stored";
    char key[64];
    snprintf(key, sizeof key, "npz_save_%s_ms_%dmb", kind, 25 * count);
    bench_report(key, bench_median(save_s, runs) * 1e3);
    snprintf(key, sizeof key, "npz_load_%s_ms_%dmb", kind, 25 * count);
    bench_report(key, bench_median(load_s, runs) * 1e3);
    return true;
}

int main(int argc, char **argv)
{
    bench_options options = bench_parse_options(argc, argv);
    bool ok = save_and_load(4, false, options.quick ? 1 : 3) && save_and_load(1, true, 1);
    return ok ? 0 : 1;
}
