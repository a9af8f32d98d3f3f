/* DeZero's examples/tanh.py: differentiate tanh(x) n times at x = 1 with
 * create_graph and write the graph of the n-th derivative as Graphviz DOT
 * (tanh.dot in the output directory, runs/tanh_graph by default; rendered to
 * tanh.png when `dot` is installed). Run with --help for the options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ex.h"

int main(int argc, char **argv)
{
    ex_common opt = {.output_dir = "runs/tanh_graph"};
    int n = 4;
    const ex_option options[] = {
        EX_INT_OPTION("order", &n, 0, 6, "which derivative of tanh to draw; its graph grows fast with the order"),
        EX_OUTPUT_DIR_OPTION(&opt),
    };
    ex_parse(&(ex_program){"tanh_graph", "DeZero's tanh example: the graph of the n-th derivative of tanh(x) at "
                                         "x = 1, as Graphviz DOT\n(tanh.dot, and tanh.png when dot is installed) in "
                                         "the output directory.",
                           sizeof options / sizeof *options, options},
             argc, argv);
    if (!ex_setup(&opt))
        return 1;
    char dot_path[4096], png_path[4096], command[8300];
    ex_path(dot_path, sizeof dot_path, opt.output_dir, "tanh.dot");
    ex_path(png_path, sizeof png_path, opt.output_dir, "tanh.png");
    dz_scope_begin();
    dz_variable *x = dz_variable_scalar(DZ_F64, 1.0);
    dz_variable_set_name(x, "x");
    dz_variable *y = dz_tanh(x);
    dz_variable_set_name(y, "y");
    for (int i = 0; i < n; i++) {
        dz_variable_cleargrad(x);
        dz_variable_backward(y, false, true);
        y = dz_autorelease(dz_variable_retain(x->grad)); /* keep it past cleargrad */
    }
    char name[32];
    snprintf(name, sizeof name, "gx%d", n);
    dz_variable_set_name(y, name);
    printf("d^%d tanh(x)/dx^%d at x = 1: %.10f\n", n, n, dz_array_get(y->data, 0));
    dz_status st = dz_graph_write_dot(y, dot_path, false);
    dz_variable_cleargrad(x);
    dz_scope_end();
    if (st != DZ_OK) {
        fprintf(stderr, "%s\n", dz_last_error());
        return 1;
    }
    printf("wrote %s\n", dot_path);
    snprintf(command, sizeof command, "dot '%s' -T png -o '%s'", dot_path, png_path);
    if (strchr(opt.output_dir, '\'') == NULL && system("command -v dot >/dev/null 2>&1") == 0 &&
        system(command) == 0)
        printf("wrote %s\n", png_path);
    return 0;
}
