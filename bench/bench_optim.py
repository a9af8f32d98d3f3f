#!/usr/bin/python3
"""PyTorch twin of bench_optim.c: the same optimizer steps with torch.optim.

    /usr/bin/python3 bench/bench_optim.py [path/to/bench_optim]

Prints torch_* lines (median milliseconds per step). With the C program's
path it also runs it and prints its lines and the speedups (torch / C).
"""
import subprocess
import sys
import time

import torch

DENSE_SIZE = 10_000_000
TOUCHED_ROWS = 4096
EMBED_DIM = 64


def median_step_ms(opt, warmup, steps):
    for _ in range(warmup):
        opt.step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.step()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[steps // 2]


def bench_adam():
    p = torch.randn(DENSE_SIZE, requires_grad=True)
    p.grad = torch.randn(DENSE_SIZE)
    return median_step_ms(torch.optim.Adam([p]), 3, 10)  # default foreach=None: the single-tensor loop


def bench_sparse_adam(rows):
    table = torch.randn(rows, EMBED_DIM, requires_grad=True)
    idx = torch.randperm(rows)[:TOUCHED_ROWS]
    table.grad = torch.sparse_coo_tensor(idx.unsqueeze(0), torch.randn(TOUCHED_ROWS, EMBED_DIM), (rows, EMBED_DIM))
    return median_step_ms(torch.optim.SparseAdam([table]), 3, 50)


def main():
    torch.manual_seed(0)
    torch_ms = {
        "adam_step_ms": bench_adam(),
        "sparse_adam_step_ms_1m": bench_sparse_adam(1_000_000),
        "sparse_adam_step_ms_100k": bench_sparse_adam(100_000),
    }
    print(f"torch_threads {torch.get_num_threads()}")
    for key, ms in torch_ms.items():
        print(f"torch_{key} {ms:.3f}")
    if len(sys.argv) > 1:
        out = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
        c_ms = dict((k, float(v)) for k, v in (line.split() for line in out.splitlines()))
        for key, ms in torch_ms.items():
            print(f"{key} {c_ms[key]:.3f}")
            print(f"speedup_{key.replace('_ms', '')} {ms / c_ms[key]:.2f}")


if __name__ == "__main__":
    main()
