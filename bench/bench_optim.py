#!/usr/bin/python3
"""PyTorch twin of bench_optim.c: torch.optim.Adam over 10,000,000 float32
parameters (its default single-tensor loop), and torch.optim.SparseAdam on
(1,000,000, 64) and (100,000, 64) tables with 4,096 touched rows. The grads
are set once and the step repeated.
Prints adam_step_ms_10m, sparse_adam_step_ms_1m_rows and
sparse_adam_step_ms_100k_rows (median per step, ms).
Options: --threads N, --quick (shorter budgets)."""
import torch

import bench_common

DENSE_SIZE, TOUCHED_ROWS, EMBED_DIM = 10_000_000, 4096, 64


def adam_step_ms(budget_s):
    p = torch.randn(DENSE_SIZE, requires_grad=True)
    p.grad = torch.randn(DENSE_SIZE)
    return bench_common.time_median(torch.optim.Adam([p]).step, 2, 5, budget_s) * 1e3


def sparse_adam_step_ms(rows, budget_s):
    table = torch.randn(rows, EMBED_DIM, requires_grad=True)
    idx = torch.randperm(rows)[:TOUCHED_ROWS]
    table.grad = torch.sparse_coo_tensor(idx.unsqueeze(0), torch.randn(TOUCHED_ROWS, EMBED_DIM), (rows, EMBED_DIM))
    return bench_common.time_median(torch.optim.SparseAdam([table]).step, 3, 10, budget_s) * 1e3


def main():
    options = bench_common.parse_options(torch)
    budget_s = 0.1 if options.quick else 0.3
    torch.manual_seed(0)
    bench_common.report("adam_step_ms_10m", adam_step_ms(budget_s))
    bench_common.report("sparse_adam_step_ms_1m_rows", sparse_adam_step_ms(1_000_000, budget_s))
    bench_common.report("sparse_adam_step_ms_100k_rows", sparse_adam_step_ms(100_000, budget_s))


if __name__ == "__main__":
    main()
