/* A picture of the computation graph (src/core/dot_graph.c).
 *
 * dz_graph_write_dot writes the graph that produced y as Graphviz DOT, as
 * DeZero's plot_dot_graph does: Variables are orange ellipses labelled with
 * their name (and, when verbose, shape and dtype: "x: (2, 3) float32"),
 * Functions light-blue boxes labelled with their op name, and edges go
 * input -> function -> output. Render with `dot -Tpng graph.dot -o graph.png`.
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
