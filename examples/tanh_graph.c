/* DeZero's examples/tanh.py: differentiate tanh(x) n times at x = 1 with
 * create_graph and write the graph of the n-th derivative as Graphviz DOT
 * (tanh.dot; rendered to tanh.png when `dot` is installed).
 * Usage: tanh_graph [n = 4] */
#include <stdio.h>
#include <stdlib.h>

#include "dezero/dezero.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
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
    dz_status st = dz_graph_write_dot(y, "tanh.dot", false);
    dz_variable_cleargrad(x);
    dz_scope_end();
    if (st != DZ_OK) {
        fprintf(stderr, "%s\n", dz_last_error());
        return 1;
    }
    printf("wrote tanh.dot\n");
    if (system("command -v dot >/dev/null 2>&1") == 0 && system("dot tanh.dot -T png -o tanh.png") == 0)
        printf("wrote tanh.png\n");
    return 0;
}
