#!/usr/bin/python3
"""PyTorch twin of bench_getitem.c: x[idx] for 65,536 random rows (seeded) of
width 128 from a (100000, 128) float32 table, forward and forward + backward
(x.grad is dropped before each step, so the backward allocates a zero
(100000, 128) grad and scatter-adds into it). Prints the median in ms:
    getitem_forward_torch_ms <ms>
    getitem_forward_backward_torch_ms <ms>
Run with Debian's python3-torch: /usr/bin/python3 bench/bench_getitem.py
"""
import statistics
import time

import torch

ROWS, WIDTH, TAKEN, WARMUP, RUNS = 100000, 128, 65536, 3, 25


def median_ms(step):
    times = []
    for i in range(WARMUP + RUNS):
        start = time.perf_counter()
        step()
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    torch.manual_seed(0)
    x = torch.randn(ROWS, WIDTH, dtype=torch.float32, requires_grad=True)
    idx = torch.randint(0, ROWS, (TAKEN,), dtype=torch.int64)
    gy = torch.randn(TAKEN, WIDTH, dtype=torch.float32)

    def forward():
        x[idx]

    def forward_backward():
        x.grad = None
        x[idx].backward(gy)

    print("getitem_forward_torch_ms %.3f" % median_ms(forward))
    print("getitem_forward_backward_torch_ms %.3f" % median_ms(forward_backward))


if __name__ == "__main__":
    main()
