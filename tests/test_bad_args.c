/* Runs the bad-argument cases (bad_args.h), each in a forked child, and checks
 * that every public function declared in include/dezero has a case and that
 * libdezero.so exports exactly those functions.
 *
 *   test_bad_args                     run every case, both handler modes
 *   test_bad_args dz_add              run the cases of one function
 *   test_bad_args --coverage DIR      list the functions declared in the headers of DIR
 *                                     that have no case; fail if any
 *   test_bad_args --exports NM LIB DIR
 *                                     compare the functions the shared library LIB exports
 *                                     (read with the nm program NM) with those declared in
 *                                     the headers of DIR; fail naming any difference */
#include "bad_args.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CASE_TIMEOUT_S 120

static const bad_args_case *const tables[] = {
    bad_args_core,
    bad_args_ops,
    bad_args_modules,
    bad_args_data,
    bad_args_conv,
    bad_args_norm,
    bad_args_sched,
    bad_args_array_ops,
};
#define NTABLES (sizeof tables / sizeof tables[0])

/* ---- inside a child: the expectations ---------------------------------------- */

static const char *current;  /* the function of the running case */
static bool checking;        /* false with the default handler: only no crash counts */
static int failures;

void bad_args_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: [%s] ", file, line, current);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

void bad_args_expect(bool failed, dz_status code, const char *call, const char *file, int line)
{
    if (!checking)
        return;
    const char *message = dz_last_error();
    size_t n = strlen(current);
    if (!failed)
        bad_args_fail(file, line, "%s did not fail (last error: '%s')", call, message);
    else if (dz_last_error_code() != code)
        bad_args_fail(file, line, "%s: error %s, expected %s ('%s')", call, dz_status_name(dz_last_error_code()),
                      dz_status_name(code), message);
    else if (strncmp(message, current, n) != 0 || strncmp(message + n, ": ", 2) != 0)
        bad_args_fail(file, line, "%s: the message '%s' does not start with '%s: '", call, message, current);
    dz_clear_error();
}

void bad_args_expect_quiet(const char *call, const char *file, int line)
{
    if (checking && dz_last_error_code() != DZ_OK)
        bad_args_fail(file, line, "%s raised '%s'", call, dz_last_error());
}

/* ---- the runner ------------------------------------------------------------------ */

/* Runs one case in a child; its stderr goes to `err` when err >= 0. Returns
 * the wait status. */
static int run_child(const bad_args_case *c, bool handler_off, int err)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        if (err >= 0)
            dup2(err, STDERR_FILENO);
        alarm(CASE_TIMEOUT_S);
        current = c->function;
        checking = handler_off;
        if (handler_off)
            dz_set_error_handler_off();
        c->run();
        exit(failures ? 1 : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    return status;
}

static bool describe(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(buf, size, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* With the handler off: every expectation holds and the child exits 0. */
static bool run_handler_off(const bad_args_case *c)
{
    char what[96];
    if (describe(run_child(c, true, -1), what, sizeof what))
        return true;
    fprintf(stderr, "FAIL %s (handler off): %s\n", c->function, what);
    return false;
}

/* With the default handler: the child finishes, or aborts after a message
 * that names the function. */
static bool run_default_handler(const bad_args_case *c)
{
    FILE *log = tmpfile();
    if (!log) {
        perror("tmpfile");
        exit(1);
    }
    int status = run_child(c, false, fileno(log));
    char text[4096] = "", what[96], name[128];
    rewind(log);
    text[fread(text, 1, sizeof text - 1, log)] = '\0';
    fclose(log);
    snprintf(name, sizeof name, "%s: ", c->function);
    if (describe(status, what, sizeof what))
        return true;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(text, name))
        return true;
    fprintf(stderr, "FAIL %s (default handler): %s; its stderr:\n%s\n", c->function, what, text);
    return false;
}

static int run_cases(const char *only)
{
    int ran = 0, failed = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (const bad_args_case *c = tables[t]; c->function; c++) {
            if (only && strcmp(only, c->function) != 0)
                continue;
            bool ok = run_handler_off(c);
            ok = run_default_handler(c) && ok;
            ran++;
            failed += !ok;
        }
    printf("%d cases, %d failed\n", ran, failed);
    return failed || ran == 0 ? 1 : 0;
}

/* ---- coverage: the functions declared in the public headers ------------------------ */

static bool has_case(const char *function)
{
    for (size_t t = 0; t < NTABLES; t++)
        for (const bad_args_case *c = tables[t]; c->function; c++)
            if (strcmp(c->function, function) == 0)
                return true;
    return false;
}

/* The declared name on a line that starts a declaration ("DZ_API T *dz_name(...",
 * DZ_API or not): the first dz_ identifier followed directly by '('. */
static bool declared_name(const char *line, char *name, size_t size)
{
    if (strncmp(line, "DZ_API ", 7) == 0)
        line += 7;
    if (line[0] < 'a' || line[0] > 'z' || strncmp(line, "typedef", 7) == 0)
        return false;
    for (const char *p = strstr(line, "dz_"); p; p = strstr(p + 1, "dz_")) {
        if (p > line && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))
            continue;
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (p[n] == '(' && n < size) {
            memcpy(name, p, n);
            name[n] = '\0';
            return true;
        }
    }
    return false;
}

/* Calls visit(name, header) for each function declared in the headers of dir;
 * returns how many, or -1 when dir or a header cannot be read. */
static int each_declared(const char *dir, void (*visit)(const char *name, const char *header))
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    int declared = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".h") != 0)
            continue;
        char path[4096], line[1024], name[128];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) {
            perror(path);
            closedir(d);
            return -1;
        }
        while (fgets(line, sizeof line, f))
            if (declared_name(line, name, sizeof name)) {
                declared++;
                visit(name, e->d_name);
            }
        fclose(f);
    }
    closedir(d);
    return declared;
}

static int missing; /* public functions without a case */

static void check_case(const char *name, const char *header)
{
    if (!has_case(name)) {
        printf("no bad-argument case: %s (%s)\n", name, header);
        missing++;
    }
}

static int check_coverage(const char *dir)
{
    int declared = each_declared(dir, check_case);
    if (declared < 0)
        return 1;
    printf("%d public functions, %d without a case\n", declared, missing);
    return missing || declared == 0 ? 1 : 0;
}

/* ---- exports: what the shared library exports against what the headers declare ---- */

#define MAX_PUBLIC 1024
static char public_names[MAX_PUBLIC][128];
static bool public_exported[MAX_PUBLIC];
static int npublic;

static void add_public(const char *name, const char *header)
{
    (void)header;
    if (npublic < MAX_PUBLIC)
        snprintf(public_names[npublic++], sizeof public_names[0], "%s", name);
}

/* Symbols the linker defines in every shared library (older binutils list them). */
static bool linker_symbol(const char *name)
{
    static const char *const names[] = {"_init", "_fini", "_edata", "_end", "__bss_start"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Marks name exported; false when no header declares it. */
static bool mark_exported(const char *name)
{
    bool found = false;
    for (int i = 0; i < npublic; i++)
        if (strcmp(public_names[i], name) == 0)
            public_exported[i] = found = true;
    return found;
}

/* Reads `nm -D --defined-only library` and fails naming each function it
 * exports that the headers of dir do not declare, and each declared one it
 * does not export (a missing DZ_API). */
static int check_exports(const char *nm, const char *library, const char *dir)
{
    int declared = each_declared(dir, add_public);
    if (declared <= 0 || declared > MAX_PUBLIC) {
        printf("%d functions declared in %s (1 to %d expected)\n", declared, dir, MAX_PUBLIC);
        return 1;
    }
    char command[8192], line[1024];
    snprintf(command, sizeof command, "'%s' -D --defined-only '%s'", nm, library);
    FILE *p = popen(command, "r");
    if (!p) {
        perror(command);
        return 1;
    }
    int exported = 0, wrong = 0;
    while (fgets(line, sizeof line, p)) { /* "0000000000012340 T dz_add" */
        line[strcspn(line, "\n")] = '\0';
        const char *space = strrchr(line, ' ');
        const char *name = space ? space + 1 : line;
        if (linker_symbol(name))
            continue;
        exported++;
        if (!mark_exported(name)) {
            printf("exported but not declared in %s: %s\n", dir, name);
            wrong++;
        }
    }
    if (pclose(p) != 0) {
        printf("%s failed\n", command);
        return 1;
    }
    for (int i = 0; i < npublic; i++)
        if (!public_exported[i]) {
            printf("declared but not exported: %s\n", public_names[i]);
            wrong++;
        }
    printf("%d functions declared, %d symbols exported, %d wrong\n", declared, exported, wrong);
    return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--coverage") == 0)
        return check_coverage(argv[2]);
    if (argc == 5 && strcmp(argv[1], "--exports") == 0)
        return check_exports(argv[2], argv[3], argv[4]);
    return run_cases(argc > 1 ? argv[1] : NULL);
}
