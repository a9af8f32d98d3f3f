/* Embedding benchmark: (100000, 128) f32 table, 65,536 seeded random indices.
 * Times forward, dense forward+backward and sparse forward+backward (the
 * sparse grad is left uncoalesced, as PyTorch's). With an argument, runs that
 * command (the PyTorch twin, bench_embedding.py) and prints the ratios.
 * Output lines: `embedding_<case>_ms <median>`, `torch_...`, `ratio_...`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dezero/dezero.h"

#define V 100000
#define D 128
#define N 65536
#define REPEATS 15

static const char *const cases[] = {"embedding_forward_ms", "embedding_dense_fwd_bwd_ms",
                                    "embedding_sparse_fwd_bwd_ms"};

typedef struct {
    dz_variable *idx, *W, *upstream;
} bench_data;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One step: forward, and backward of `upstream` unless forward_only. */
static void step(bench_data *b, int which)
{
    dz_embedding_options opt = dz_embedding_default_options();
    opt.sparse = which == 2;
    dz_scope_begin();
    dz_variable *y = dz_embedding(b->idx, b->W, &opt);
    if (which > 0) {
        dz_variable_set_grad(y, b->upstream);
        dz_variable_backward(y, false, false);
    }
    dz_scope_end();
    dz_variable_cleargrad(b->W);
}

static double median_ms(bench_data *b, int which)
{
    double times[REPEATS];
    step(b, which);
    for (int r = 0; r < REPEATS; r++) {
        double start = now_ms();
        step(b, which);
        times[r] = now_ms() - start;
    }
    qsort(times, REPEATS, sizeof *times, compare_doubles);
    return times[REPEATS / 2];
}

/* Runs the twin and reads `torch_<case> <ms>` lines into torch_ms. */
static void run_twin(const char *command, double *torch_ms)
{
    FILE *p = popen(command, "r");
    char line[256];
    while (p && fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        for (int c = 0; c < 3; c++) {
            size_t n = strlen(cases[c]);
            if (strncmp(line, "torch_", 6) == 0 && strncmp(line + 6, cases[c], n) == 0 && line[6 + n] == ' ')
                torch_ms[c] = atof(line + 7 + n);
        }
    }
    if (p)
        pclose(p);
}

int main(int argc, char **argv)
{
    dz_rng rng;
    dz_rng_seed(&rng, 0);
    bench_data b;
    b.W = dz_parameter_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(V, D), 0, 1), "W");
    b.idx = dz_variable_new(dz_array_randint(&rng, DZ_I64, 1, DZ_SHAPE(N), 0, V), "idx");
    b.upstream = dz_variable_new(dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(N, D), 0, 1), "gy");
    double c_ms[3], torch_ms[3] = {0, 0, 0};
    for (int c = 0; c < 3; c++) {
        c_ms[c] = median_ms(&b, c);
        printf("%s %.2f\n", cases[c], c_ms[c]);
        fflush(stdout);
    }
    if (argc > 1)
        run_twin(argv[1], torch_ms);
    for (int c = 0; c < 3; c++)
        if (torch_ms[c] > 0)
            printf("ratio_%s %.2f\n", cases[c], torch_ms[c] / c_ms[c]);
    dz_variable_release(b.W);
    dz_variable_release(b.idx);
    dz_variable_release(b.upstream);
    return 0;
}
