/* The loader's place in its epoch, for checkpoints: the order of the rows
 * this epoch and how many were taken. Not installed. */
#ifndef DEZERO_DATALOADER_INTERNAL_H
#define DEZERO_DATALOADER_INTERNAL_H

#include "dezero/datasets.h"

/* This epoch's order ((N,) int64, borrowed; NULL when no epoch could start),
 * the rows taken so far, the number of rows and the batch size. */
const dz_array *dz_dataloader_order(const dz_dataloader *loader);
int64_t dz_dataloader_position(const dz_dataloader *loader);
int64_t dz_dataloader_rows(const dz_dataloader *loader);
int64_t dz_dataloader_batch_size(const dz_dataloader *loader);

/* `order` is a permutation of the loader's rows ((N,) int64 on the CPU) and
 * 0 <= position <= N; fails (DZ_ERR_FORMAT, the message starting with `who`
 * and naming `key`, the order's key) otherwise. */
dz_status dz_dataloader_check_place(const char *who, const char *key, const dz_dataloader *loader,
                                    const dz_array *order, int64_t position);
/* Continue from there: the loader takes a reference to `order`. */
void dz_dataloader_set_place(dz_dataloader *loader, dz_array *order, int64_t position);

#endif
