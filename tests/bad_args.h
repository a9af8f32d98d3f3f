/* The bad-argument suite: every public function, called with bad arguments.
 *
 * A case is a function that calls one public function (its `function`) with
 * bad arguments and states what must happen. test_bad_args.c runs every case
 * twice, each time in a forked child:
 *   - with the error handler off: each expectation below must hold, and the
 *     child must exit normally (so ASan/UBSan/LSan and valgrind, when the suite
 *     runs under them, also check that nothing leaked or went out of bounds);
 *   - with the default handler: the child must either finish or abort after
 *     printing a message that names the function (never a segfault).
 * A case releases what it made, so that a leak check means something.
 *
 * Every function declared in include/dezero must have at least one case; the
 * runner reads the headers and fails naming the functions that have none.
 *
 * The case files (bad_args_<part>.c) each export one table, listed in
 * test_bad_args.c. */
#ifndef DEZERO_BAD_ARGS_H
#define DEZERO_BAD_ARGS_H

#include <stdbool.h>

#include "dezero/dezero.h"

typedef struct {
    const char *function; /* the public function the case calls */
    void (*run)(void);
} bad_args_case;

#define BAD_ARGS_END {NULL, NULL}

/* The message of an error must start with "<function>: ". */
void bad_args_expect(bool failed, dz_status code, const char *call, const char *file, int line);
/* The call returned NULL with `code`. */
#define EXPECT_NULL(call, code) bad_args_expect((call) == NULL, code, #call, __FILE__, __LINE__)
/* The call returned the status `code`. */
#define EXPECT_STATUS(call, code) bad_args_expect((call) == (code), code, #call, __FILE__, __LINE__)
/* The call (void, or a result that cannot signal) recorded an error `code`. */
#define EXPECT_RAISED(call, code) ((void)(call), bad_args_expect(true, code, #call, __FILE__, __LINE__))
/* The call succeeded and recorded no error (NULL is a no-op for it, say). */
void bad_args_expect_quiet(const char *call, const char *file, int line);
#define EXPECT_QUIET(call) (dz_clear_error(), (void)(call), bad_args_expect_quiet(#call, __FILE__, __LINE__))

/* The call returned `value` (e.g. false, -1, 0) and recorded error `code`. */
#define EXPECT_VALUE(call, value, code) bad_args_expect((call) == (value), code, #call, __FILE__, __LINE__)

/* A case fails with this message (for checks the macros above do not cover). */
void bad_args_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define BAD_ARGS_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            bad_args_fail(__FILE__, __LINE__, "check failed: %s", #cond);                          \
    } while (0)

/* The case tables. */
extern const bad_args_case bad_args_core[];
extern const bad_args_case bad_args_ops[];
extern const bad_args_case bad_args_array_ops[];
extern const bad_args_case bad_args_modules[];
extern const bad_args_case bad_args_data[];
extern const bad_args_case bad_args_conv[];
extern const bad_args_case bad_args_norm[];
extern const bad_args_case bad_args_sched[];

#endif
