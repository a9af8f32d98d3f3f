#!/usr/bin/python3
"""PyTorch twin of bench_linear.c: a linear layer's forward + backward,
x (256, 1024) @ W (1024, 1024) + b in float32 with grads for x, W and b.
Prints torch_linear_fwd_bwd_ms (best of rounds, milliseconds)."""
import time

import torch

N, IN, OUT, ITERS, ROUNDS = 256, 1024, 1024, 10, 7


def step(x, W, b, gy):
    x.grad = W.grad = b.grad = None
    y = torch.addmm(b, x, W)
    y.backward(gy)


def main():
    torch.manual_seed(1)
    x = torch.randn(N, IN, requires_grad=True)
    W = (torch.randn(IN, OUT) * 0.03).requires_grad_()
    b = torch.zeros(OUT, requires_grad=True)
    gy = torch.randn(N, OUT)
    step(x, W, b, gy)
    rounds = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(ITERS):
            step(x, W, b, gy)
        rounds.append((time.perf_counter() - t0) / ITERS * 1e3)
    print("torch_linear_fwd_bwd_ms %.3f" % min(rounds))
    print("torch_threads %d" % torch.get_num_threads())


if __name__ == "__main__":
    main()
