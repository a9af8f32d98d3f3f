/* A picture of the computation graph (src/core/dot_graph.c).
 *
 * dz_graph_write_dot writes the graph that produced y as Graphviz DOT, as
 * DeZero's plot_dot_graph does: Variables are orange ellipses labelled with
 * their name, Functions light-blue boxes labelled with DeZero's class name
 * ("Add", "Mul", "MatMul", "GetItem": the display_name of their
 * dz_function_ops, else its name), and edges go input -> function -> output.
 * As in DeZero, shape and dtype show only when verbose is true: "x: (2, 3)
 * float32" for a named Variable, "(2, 3) float32" for an unnamed one; without
 * verbose an unnamed Variable is an empty ellipse. An op given a scalar
 * (dz_add_scalar, dz_mul_scalar...) shows DeZero's class for it ("Add", "Mul")
 * with one input: DeZero draws the scalar as an extra unnamed Variable.
 * Render with `dot -Tpng graph.dot -o graph.png`.
 */
#ifndef DEZERO_GRAPH_H
#define DEZERO_GRAPH_H

#include <stdbool.h>

#include "dezero/export.h"
#include "dezero/error.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DZ_OK, DZ_ERR_NULL (y or path NULL, a user error) or DZ_ERR_IO when the
 * file cannot be written (an environment error: dz_last_error says why). */
DZ_API dz_status dz_graph_write_dot(dz_variable *y, const char *path, bool verbose);

#ifdef __cplusplus
}
#endif

#endif
