/* The examples' command lines: a table of options parsed with getopt_long,
 * --help generated from the table, and the common options put to use
 * (threads, device, output directory); and the small helpers the examples
 * share (the clock, paths, comparing arrays). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ex.h"

#define EX_MAX_OPTIONS 32
#define EX_HELP_KEY 'h'
#define EX_FIRST_KEY 256 /* getopt_long's value for option i is EX_FIRST_KEY + i */

static const char *program_name = "example"; /* for messages: set by ex_parse */

double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- what an option accepts, and its default ------------------------------- */

static const char *metavar(const ex_option *o)
{
    switch (o->type) {
    case EX_INT:
    case EX_INT64:
        return "N";
    case EX_DOUBLE:
        return "X";
    case EX_STRING:
        return o->choices ? o->choices : "STRING";
    case EX_CHOICE:
        return o->choices;
    case EX_FLAG:
        return "";
    }
    return "";
}

/* "an integer from 1 to 1000000", "a number > 0 and <= 100", "one of cpu|gpu" */
static void describe_accepted(const ex_option *o, char *buf, size_t size)
{
    switch (o->type) {
    case EX_INT:
    case EX_INT64:
        snprintf(buf, size, "an integer from %.0f to %.0f", o->min, o->max);
        break;
    case EX_DOUBLE:
        if (o->above_min)
            snprintf(buf, size, "a number > %g and <= %g", o->min, o->max);
        else
            snprintf(buf, size, "a number from %g to %g", o->min, o->max);
        break;
    case EX_STRING:
        snprintf(buf, size, "a %s", metavar(o));
        break;
    case EX_CHOICE:
        snprintf(buf, size, "one of %s", o->choices);
        break;
    case EX_FLAG:
        snprintf(buf, size, "no value");
        break;
    }
}

/* The n-th '|'-separated word of choices into buf. */
static bool choice_name(const char *choices, int n, char *buf, size_t size)
{
    const char *p = choices;
    for (int i = 0; i < n; i++) {
        p = strchr(p, '|');
        if (!p)
            return false;
        p++;
    }
    size_t len = strcspn(p, "|");
    snprintf(buf, size, "%.*s", (int)len, p);
    return true;
}

static void describe_default(const ex_option *o, char *buf, size_t size)
{
    if (o->default_is) {
        snprintf(buf, size, "%s", o->default_is);
        return;
    }
    switch (o->type) {
    case EX_INT:
        snprintf(buf, size, "%d", *(const int *)o->value);
        break;
    case EX_INT64:
        snprintf(buf, size, "%lld", (long long)*(const int64_t *)o->value);
        break;
    case EX_DOUBLE:
        snprintf(buf, size, "%g", *(const double *)o->value);
        break;
    case EX_STRING: {
        const char *s = *(const char *const *)o->value;
        snprintf(buf, size, "%s", s ? s : "none");
        break;
    }
    case EX_CHOICE:
        if (!choice_name(o->choices, *(const int *)o->value, buf, size))
            snprintf(buf, size, "?");
        break;
    case EX_FLAG:
        snprintf(buf, size, "%s", *(const bool *)o->value ? "on" : "off");
        break;
    }
}

/* "--name METAVAR" into buf. */
static void option_left(const ex_option *o, char *buf, size_t size)
{
    snprintf(buf, size, o->type == EX_FLAG ? "--%s" : "--%s %s", o->name, metavar(o));
}

static void print_help(const ex_program *program)
{
    printf("Usage: %s [OPTION]...\n%s\n\nOptions:\n", program->name, program->summary);
    int width = 24; /* the column of the help texts, wider for a long option */
    for (int i = 0; i < program->noptions; i++) {
        char left[128];
        option_left(&program->options[i], left, sizeof left);
        width = (int)strlen(left) > width ? (int)strlen(left) : width;
    }
    for (int i = 0; i < program->noptions; i++) {
        const ex_option *o = &program->options[i];
        char left[128], def[512];
        option_left(o, left, sizeof left);
        describe_default(o, def, sizeof def);
        printf("  %-*s %s (default: %s)\n", width, left, o->help, def);
    }
    printf("  %-*s %s\n", width, "-h, --help", "print this help and exit");
}

/* ---- parsing ---------------------------------------------------------------- */

static _Noreturn void usage_error(const ex_program *program, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", program->name);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry '%s --help' for the options and their defaults.\n", program->name);
    exit(2);
}

static _Noreturn void bad_value(const ex_program *program, const ex_option *o, const char *text)
{
    char accepted[160], flag[96];
    describe_accepted(o, accepted, sizeof accepted);
    snprintf(flag, sizeof flag, "--%s", o->name);
    fprintf(stderr, "%s: invalid value '%s' for %s: expected %s\n", program->name, text, flag, accepted);
    fprintf(stderr, "Try '%s --help' for the options and their defaults.\n", program->name);
    exit(2);
}

static bool in_range(const ex_option *o, double v)
{
    return (o->above_min ? v > o->min : v >= o->min) && v <= o->max;
}

/* Stores text as the option's value; false when it is not acceptable. */
static bool store(const ex_option *o, const char *text)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case EX_INT:
    case EX_INT64: {
        long long v = strtoll(text, &end, 10);
        if (end == text || *end || errno || !in_range(o, (double)v))
            return false;
        if (o->type == EX_INT)
            *(int *)o->value = (int)v;
        else
            *(int64_t *)o->value = v;
        return true;
    }
    case EX_DOUBLE: {
        double v = strtod(text, &end);
        if (end == text || *end || errno || !isfinite(v) || !in_range(o, v))
            return false;
        *(double *)o->value = v;
        return true;
    }
    case EX_STRING:
        if (!*text)
            return false;
        *(const char **)o->value = text;
        return true;
    case EX_CHOICE: {
        char name[64];
        for (int i = 0; choice_name(o->choices, i, name, sizeof name); i++)
            if (strcmp(name, text) == 0) {
                *(int *)o->value = i;
                return true;
            }
        return false;
    }
    case EX_FLAG:
        *(bool *)o->value = true;
        return true;
    }
    return false;
}

void ex_parse(const ex_program *program, int argc, char **argv)
{
    program_name = program->name;
    if (program->noptions > EX_MAX_OPTIONS) {
        fprintf(stderr, "%s: %d options, more than the %d the parser holds\n", program->name, program->noptions,
                EX_MAX_OPTIONS);
        exit(2);
    }
    struct option longopts[EX_MAX_OPTIONS + 2] = {{0}};
    for (int i = 0; i < program->noptions; i++)
        longopts[i] = (struct option){program->options[i].name,
                                      program->options[i].type == EX_FLAG ? no_argument : required_argument, NULL,
                                      EX_FIRST_KEY + i};
    longopts[program->noptions] = (struct option){"help", no_argument, NULL, EX_HELP_KEY};
    opterr = 0; /* our messages, not getopt's */
    int key;
    while ((key = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        if (key == EX_HELP_KEY) {
            print_help(program);
            exit(0);
        } else if (key == ':' && optopt >= EX_FIRST_KEY) {
            const ex_option *o = &program->options[optopt - EX_FIRST_KEY];
            char accepted[160];
            describe_accepted(o, accepted, sizeof accepted);
            usage_error(program, "option '--%s' needs a value: %s", o->name, accepted);
        } else if (key == '?' && (optopt == EX_HELP_KEY || optopt >= EX_FIRST_KEY) && strncmp(arg, "--", 2) == 0) {
            usage_error(program, "option '%s' takes no value%s", arg, "");
        } else if (key == '?' && optopt) {
            char flag[3] = {'-', (char)optopt, '\0'};
            usage_error(program, "unknown option '%s'%s", flag, "");
        } else if (key == '?') {
            usage_error(program, "unknown option '%s'%s", arg, "");
        } else if (key >= EX_FIRST_KEY) {
            const ex_option *o = &program->options[key - EX_FIRST_KEY];
            if (!store(o, optarg))
                bad_value(program, o, optarg);
        } else {
            usage_error(program, "cannot read the option '%s'%s", arg, "");
        }
    }
    if (optind < argc)
        usage_error(program, "unexpected argument '%s'%s", argv[optind], ": this program takes named options only");
}

/* "<program>: " and the message on stderr. */
static void print_message(const char *fmt, va_list args)
{
    fprintf(stderr, "%s: ", program_name);
    vfprintf(stderr, fmt, args);
}

void ex_usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    print_message(fmt, args);
    va_end(args);
    fprintf(stderr, "\nTry '%s --help' for the options and their defaults.\n", program_name);
    exit(2);
}

/* ---- the common options ------------------------------------------------------ */

dz_device ex_device(int choice)
{
    return choice == EX_CPU ? DZ_CPU : DZ_CUDA;
}

bool ex_make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return false;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return false;
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return false;
        }
        if (!saved)
            return true;
        *p = saved;
    }
}

/* Whether arrays can go to the device: false, with the library's reason as
 * the last error ("no CUDA device: ..."), when not. */
static bool device_usable(dz_device device)
{
    dz_error_handler previous = dz_set_error_handler_off();
    dz_array *probe = dz_array_scalar(DZ_F32, 0), *moved = dz_array_to_device(probe, device);
    dz_set_error_handler(previous);
    dz_array_release(probe);
    dz_array_release(moved);
    return moved != NULL;
}

bool ex_setup(const ex_common *common)
{
    if (common->threads > 0)
        dz_set_num_threads(common->threads);
    if (!device_usable(ex_device(common->device))) {
        ex_fail();
        return false;
    }
    if (common->output_dir && !ex_make_dirs(common->output_dir)) {
        fprintf(stderr, "%s: cannot make the output directory %s: %s\n", program_name, common->output_dir,
                strerror(errno));
        return false;
    }
    return true;
}

int ex_fail(void)
{
    fprintf(stderr, "%s: %s\n", program_name, dz_last_error());
    return 1;
}

void ex_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    print_message(fmt, args);
    va_end(args);
    fputc('\n', stderr);
}

const char *ex_path(char *buf, size_t size, const char *dir, const char *name)
{
    size_t len = strlen(dir);
    const char *sep = len && dir[len - 1] == '/' ? "" : "/";
    if (snprintf(buf, size, "%s%s%s", dir, sep, name) >= (int)size) {
        fprintf(stderr, "the path %s%s%s is too long\n", dir, sep, name);
        exit(1);
    }
    return buf;
}

/* ---- arrays ----------------------------------------------------------------- */

bool ex_array_equal(const dz_array *a, const dz_array *b)
{
    if (!dz_array_same_shape(a, b))
        return false;
    for (int64_t i = 0; i < a->size; i++)
        if (dz_array_get(a, i) != dz_array_get(b, i))
            return false;
    return true;
}
