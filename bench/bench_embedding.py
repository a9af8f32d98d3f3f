#!/usr/bin/python3
"""PyTorch twin of bench_embedding.c: F.embedding on a (100000, 128) float32
table with 65,536 seeded random indices; forward, dense forward + backward
and sparse forward + backward (the sparse grad is not coalesced). The table's
grad is dropped before each step.
Prints embedding_forward_ms, embedding_dense_fwd_bwd_ms and
embedding_sparse_fwd_bwd_ms (median per call, ms).
Options: --threads N, --quick (shorter budgets)."""
import torch
import torch.nn.functional as F

import bench_common

V, D, N = 100000, 128, 65536


def main():
    options = bench_common.parse_options(torch)
    budget_s = 0.1 if options.quick else 0.3
    torch.manual_seed(0)
    idx = torch.randint(0, V, (N,))
    W = torch.randn(V, D, requires_grad=True)
    gy = torch.randn(N, D)

    def forward():
        W.grad = None
        F.embedding(idx, W)

    def forward_backward(sparse):
        W.grad = None
        F.embedding(idx, W, sparse=sparse).backward(gy)

    def median_ms(step):
        return bench_common.time_median(step, 2, 5, budget_s) * 1e3

    bench_common.report("embedding_forward_ms", median_ms(forward))
    bench_common.report("embedding_dense_fwd_bwd_ms", median_ms(lambda: forward_backward(False)))
    bench_common.report("embedding_sparse_fwd_bwd_ms", median_ms(lambda: forward_backward(True)))


if __name__ == "__main__":
    main()
