/* DZ_FMA_CLONES: build a hot loop twice and pick the build when the library
 * loads (target_clones, GCC or clang on x86-64 Linux): once for x86-64-v3
 * (AVX2 and FMA, where fmaf/fma become one vfmadd instruction and loops run 8
 * floats at a time) and once for the baseline ISA, where fmaf is a library
 * call. Elsewhere the loop is built once.
 *
 * Both builds compute the same bits: the library is compiled as ISO C, so
 * a*b + c is never fused behind the code's back, and fmaf() is correctly
 * rounded whether it is an instruction or a library call. A clone inlines the
 * static inline helpers it calls, so those helpers are where loops go. */
#ifndef DEZERO_CPU_CLONES_H
#define DEZERO_CPU_CLONES_H

/* A clone is chosen by an ifunc resolver that runs while the library is
 * relocated, before ThreadSanitizer's runtime is initialised, which crashes a
 * TSan build at load: such builds get the baseline loop only. */
#if defined(__SANITIZE_THREAD__)
#define DZ_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DZ_TSAN_BUILD 1
#endif
#endif

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(DZ_TSAN_BUILD)
#define DZ_FMA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DZ_FMA_CLONES
#endif

#endif
