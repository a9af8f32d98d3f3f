#!/usr/bin/python3
"""PyTorch twin of bench_getitem.c: W[idx] for 65,536 random rows (seeded) of
width 128 from a (100000, 128) float32 tensor that requires grad, forward and
forward + backward (W.grad is dropped before each step, so the backward
allocates a zero (100000, 128) grad and scatter-adds into it).
Prints getitem_forward_ms and getitem_fwd_bwd_ms (median per call, ms).
Options: --threads N, --quick (shorter budgets)."""
import torch

import bench_common

ROWS, WIDTH, TAKEN = 100000, 128, 65536


def main():
    options = bench_common.parse_options(torch)
    budget_s = 0.1 if options.quick else 0.3
    torch.manual_seed(0)
    W = torch.randn(ROWS, WIDTH, requires_grad=True)
    gy = torch.randn(TAKEN, WIDTH)
    idx = torch.randint(0, ROWS, (TAKEN,))

    def forward():
        W[idx]

    def forward_backward():
        W.grad = None
        W[idx].backward(gy)

    bench_common.report("getitem_forward_ms", bench_common.time_median(forward, 2, 5, budget_s) * 1e3)
    bench_common.report("getitem_fwd_bwd_ms", bench_common.time_median(forward_backward, 2, 5, budget_s) * 1e3)


if __name__ == "__main__":
    main()
