"""Per-op overhead in PyTorch: the twin of bench_overhead.c.

Forward + backward of the same chain of 2,000 elementwise ops on a 4-element
float32 tensor, timed the same way: after a warm-up, iterations run for about
1.5 s and the median iteration time divided by 2,000 is printed as
"overhead_torch_us_per_op <value>".

Measured as a user would write it: default thread settings (on 4 elements no
intra-op parallelism happens anyway), a requires_grad leaf, y.backward() seeded
with ones (as dezero-c seeds its output), x.grad cleared between iterations.
"""
import statistics
import time

import torch

CHAIN_OPS = 2000
OPS_PER_BLOCK = 8
WARMUP_S = 0.3
MEASURE_S = 1.5


def one_iteration(x, w):
    """The chain of bench_overhead.c, op for op."""
    y = x
    for _ in range(CHAIN_OPS // OPS_PER_BLOCK):
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
    x = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float32, requires_grad=True)
    w = torch.tensor([0.9, 1.1, 1.3, 0.7], dtype=torch.float32)

    start = time.perf_counter()
    while time.perf_counter() - start < WARMUP_S:
        one_iteration(x, w)
        x.grad = None
    samples = []
    start = time.perf_counter()
    while time.perf_counter() - start < MEASURE_S:
        t0 = time.perf_counter()
        one_iteration(x, w)
        samples.append(time.perf_counter() - t0)
        if len(samples) == 1 and not torch.isfinite(x.grad).all():
            raise SystemExit("bench_overhead.py: the grad of x is not finite")
        x.grad = None
    print(f"overhead_torch_us_per_op {statistics.median(samples) / CHAIN_OPS * 1e6:.3f}")


if __name__ == "__main__":
    main()
