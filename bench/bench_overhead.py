#!/usr/bin/python3
"""PyTorch twin of bench_overhead.c: forward + backward of the same chain of
elementwise ops, op for op, on float32 vectors of 4, 1,024, 65,536 and
1,048,576 elements (chains of 2,000, 2,000, 512 and 64 ops), timed the same
way. x requires grad, w does not; the output is seeded with ones, as
dezero-c seeds its output. Prints "overhead_us_per_op_<size> <µs>".
Options: --threads N, --quick (4 and 65,536 elements only)."""
import math

import torch

import bench_common

OPS_PER_BLOCK = 8
CASES = [(4, 2000, True), (1024, 2000, False), (65536, 512, True), (1048576, 64, False)]


def one_iteration(x, w, ops):
    """The chain of bench_overhead.c."""
    x.grad = None
    y = x
    for _ in range(ops // OPS_PER_BLOCK):
        y = torch.sin(y)
        y = y + 0.5
        y = y * w
        y = torch.tanh(y)
        y = torch.exp(y)
        y = y * 0.5
        y = torch.square(y)
        y = y + x
    y.backward(torch.ones_like(y))


def main():
    options = bench_common.parse_options(torch)
    for size, ops, in_quick in CASES:
        if options.quick and not in_quick:
            continue
        x = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float32).repeat(size // 4).requires_grad_()
        w = torch.tensor([0.9, 1.1, 1.3, 0.7], dtype=torch.float32).repeat(size // 4)
        large = size >= 65536  # fewer warm-up and minimum runs for slow iterations
        seconds = bench_common.time_median(lambda: one_iteration(x, w, ops), 1 if large else 3, 3 if large else 5,
                                           0.1 if options.quick else 0.3)
        if not math.isfinite(x.grad[0].item()):  # from the last iteration
            raise SystemExit("bench_overhead.py: the grad of x is not finite")
        bench_common.report(f"overhead_us_per_op_{size}", seconds / ops * 1e6)


if __name__ == "__main__":
    main()
