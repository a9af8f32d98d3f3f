/* Indexing: y = x[index] as NumPy writes it (src/functions/getitem.c).
 *
 * An index is a list of entries, one per leading axis of x; axes left out
 * are taken whole. Each entry is
 *   DZ_I(n)            one position (negative n counts from the end); the axis goes away
 *   DZ_SLICE(a, b, s)  start:stop:step with Python's rules (negative bounds count from
 *                      the end, out-of-range bounds clip, negative steps walk backwards);
 *                      DZ_OMIT leaves a bound out, as in x[::-1]
 *   DZ_ALL             the whole axis (x[:])
 *   DZ_TAKE(array)     an int32/int64 dz_array of positions, any shape, repeats allowed,
 *                      negative entries count from the end
 *   DZ_MASK(array)     a bool (DZ_BOOL) dz_array over as many axes as it has dims, with
 *                      their sizes: x[mask] is x[mask.nonzero()], one index array per
 *                      mask dim holding the coordinates of its true entries in C order
 *                      (a 0-d mask indexes a new axis of size 1: x[True], x[False])
 *   DZ_ELLIPSIS        as many whole axes as the other entries leave (x[..., 0]); one at most
 *   DZ_NEWAXIS         a new axis of size 1 in the result (x[None]); uses no axis of x
 * With index or mask arrays present the indexing is NumPy's "advanced" kind:
 * all the arrays (and DZ_I entries, as 0-d arrays) broadcast to one shape B;
 * the result has B's dims in place of the indexed axes when those entries
 * are next to each other in the index (a slice, DZ_ELLIPSIS or DZ_NEWAXIS
 * between them parts them, even an Ellipsis that stands for no axis), else
 * first, followed by the sliced axes.
 *
 *     x[1]                  dz_get_item(x, DZ_INDICES(DZ_I(1)))
 *     x[:, 1:3]             dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_SLICE(1, 3, 1)))
 *     x[::-1]               dz_get_item(x, DZ_INDICES(DZ_SLICE(DZ_OMIT, DZ_OMIT, -1)))
 *     x[-2:]                dz_get_item(x, DZ_INDICES(DZ_SLICE(-2, DZ_OMIT, 1)))
 *     W[idx]                dz_get_item(W, DZ_INDICES(DZ_TAKE(idx)))          // (idx shape..., D)
 *     x[np.arange(N), t]    dz_get_item(x, DZ_INDICES(DZ_TAKE(rows), DZ_TAKE(t)))  // (N,)
 *     x[..., 0]             dz_get_item(x, DZ_INDICES(DZ_ELLIPSIS, DZ_I(0)))
 *     x[:, None]            dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_NEWAXIS))
 *     x[x > 0]              dz_get_item(x, DZ_INDICES(DZ_MASK(positive)))      // (count,)
 *
 * The backward of GetItem is GetItemGrad: zeros of x's shape with the output
 * grad added at the indexed positions, repeats accumulating (np.add.at); the
 * backward of GetItemGrad is GetItem, so grads of any order work.
 *
 * Index arrays are borrowed by the call and retained by the graph (an array
 * already int64 and in range is kept as is, not copied): do not change it
 * while the graph that used it is alive. A mask is read when the call is
 * made (the result's length is its count of true entries): on the GPU that
 * read waits for the device. Errors (user errors, NULL returned when the
 * handler is off): an index out of range (DZ_ERR_INDEX, naming the index, the
 * axis and its size), entries for more axes than x has (DZ_ERR_INDEX; a mask
 * counts its dims), two DZ_ELLIPSIS (DZ_ERR_INDEX), a non-integer index array
 * or a mask that is not bool (DZ_ERR_DTYPE), a zero step (DZ_ERR_VALUE),
 * index arrays that do not broadcast or a mask whose shape is not that of the
 * axes it indexes (DZ_ERR_SHAPE).
 */
#ifndef DEZERO_GETITEM_H
#define DEZERO_GETITEM_H

#include <stdbool.h>
#include <stdint.h>

#include "dezero/export.h"
#include "dezero/variable.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dz_index_kind {
    DZ_INDEX_INT,
    DZ_INDEX_SLICE,
    DZ_INDEX_ARRAY,
    DZ_INDEX_ELLIPSIS,
    DZ_INDEX_NEWAXIS,
    DZ_INDEX_MASK
} dz_index_kind;

typedef struct dz_index {
    dz_index_kind kind;
    int64_t i;                 /* DZ_INDEX_INT */
    int64_t start, stop, step; /* DZ_INDEX_SLICE; a bound counts only when has_* is set */
    bool has_start, has_stop;
    dz_array *array;           /* DZ_INDEX_ARRAY: int32 or int64 positions; DZ_INDEX_MASK:
                                  a bool mask (borrowed) */
} dz_index;

/* A left-out slice bound (Python's None). */
#define DZ_OMIT INT64_MIN

#define DZ_I(n) ((dz_index){.kind = DZ_INDEX_INT, .i = (n)})
#define DZ_SLICE(a, b, s)                                                                          \
    ((dz_index){.kind = DZ_INDEX_SLICE, .start = (a), .stop = (b), .step = (s),                   \
                .has_start = (a) != DZ_OMIT, .has_stop = (b) != DZ_OMIT})
#define DZ_ALL DZ_SLICE(DZ_OMIT, DZ_OMIT, 1)
#define DZ_TAKE(arr) ((dz_index){.kind = DZ_INDEX_ARRAY, .array = (arr)})
#define DZ_MASK(arr) ((dz_index){.kind = DZ_INDEX_MASK, .array = (arr)})
#define DZ_ELLIPSIS ((dz_index){.kind = DZ_INDEX_ELLIPSIS})
#define DZ_NEWAXIS ((dz_index){.kind = DZ_INDEX_NEWAXIS})

/* Index lists: dz_get_item(x, DZ_INDICES(DZ_ALL, DZ_I(0))) passes the count and the entries. */
#define DZ_INDICES(...)                                                                            \
    (int)(sizeof((const dz_index[]){__VA_ARGS__}) / sizeof(dz_index)), ((const dz_index[]){__VA_ARGS__})

/* y = x[index] (a new array; x any dtype). */
DZ_API dz_variable *dz_get_item(dz_variable *x, int nindex, const dz_index *index);

/* gx = zeros(in_shape) with gx[index] += gy (np.add.at): the backward of
 * dz_get_item(x, index) for an x of in_shape. gy must have the shape that
 * indexing in_shape gives; f32, f64, i32 or i64. */
DZ_API dz_variable *dz_get_item_grad(dz_variable *gy, int nindex, const dz_index *index, int ndim,
                                     const int64_t *in_shape);

#ifdef __cplusplus
}
#endif

#endif
