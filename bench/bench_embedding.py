#!/usr/bin/python3
"""PyTorch twin of bench_embedding.c: the same work on nn.Embedding's functional
form. Embedding (100000, 128) f32, 65,536 seeded random indices; forward, dense
forward+backward, sparse forward+backward (the sparse grad is not coalesced).
Prints `torch_<case>_ms <median>` lines."""
import sys
import time

import torch

V, D, N = 100000, 128, 65536
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def median_ms(fn):
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main():
    torch.manual_seed(0)
    weight = torch.randn(V, D, requires_grad=True)
    idx = torch.randint(0, V, (N,))
    upstream = torch.randn(N, D)

    def forward():
        torch.nn.functional.embedding(idx, weight)

    def backward(sparse):
        weight.grad = None
        torch.nn.functional.embedding(idx, weight, sparse=sparse).backward(upstream)

    print(f"torch_threads {torch.get_num_threads()}")
    print(f"torch_embedding_forward_ms {median_ms(forward):.2f}")
    print(f"torch_embedding_dense_fwd_bwd_ms {median_ms(lambda: backward(False)):.2f}")
    print(f"torch_embedding_sparse_fwd_bwd_ms {median_ms(lambda: backward(True)):.2f}")


if __name__ == "__main__":
    main()
