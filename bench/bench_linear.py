#!/usr/bin/python3
"""PyTorch twin of bench_linear.c: F.linear forward + backward in float32 for
(batch, in, out) = (256, 1024, 1024), (1024, 2048, 2048) and
(65536, 256, 256), with grads for x, W and b (three gemms), the upstream grad
a constant. Prints "linear_ms_<batch>x<in>x<out> <median ms>".
Options: --threads N, --quick (the first size only)."""
import torch
import torch.nn.functional as F

import bench_common

SIZES = [(256, 1024, 1024), (1024, 2048, 2048), (65536, 256, 256)]


def main():
    options = bench_common.parse_options(torch)
    torch.manual_seed(1)
    for n, size_in, size_out in SIZES[:1] if options.quick else SIZES:
        x = torch.randn(n, size_in, requires_grad=True)
        W = (torch.randn(size_out, size_in) * 0.03).requires_grad_()  # nn.Linear's (out, in) layout
        b = torch.zeros(size_out, requires_grad=True)
        gy = torch.randn(n, size_out)

        def step():
            x.grad = W.grad = b.grad = None
            F.linear(x, W, b).backward(gy)

        seconds = bench_common.time_median(step, 1, 3, 0.1 if options.quick else 0.3)
        bench_common.report(f"linear_ms_{n}x{size_in}x{size_out}", seconds * 1e3)


if __name__ == "__main__":
    main()
