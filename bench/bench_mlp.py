#!/usr/bin/python3
"""PyTorch twin of bench_mlp.c: one training step of a 2-10-3 MLP on spiral
mini-batches of 30 (linear, sigmoid, linear, cross entropy, backward, SGD by
hand with lr 1.0) in float32. Prints torch_mlp_step_us (best of rounds) and
torch_mlp_final_loss (mean loss over the last epoch)."""
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

HIDDEN, CLASSES, BATCH, EPOCHS, ROUNDS, LR = 10, 3, 30, 20, 15, 1.0


def spiral(seed=1984):
    """DeZero's get_spiral: 3 classes x 100 points, shuffled."""
    rng = np.random.RandomState(seed)
    x = np.zeros((300, 2), dtype=np.float32)
    t = np.zeros(300, dtype=np.int64)
    for j in range(3):
        for i in range(100):
            rate = i / 100
            theta = j * 4.0 + 4.0 * rate + rng.randn() * 0.2
            x[i + j * 100] = (rate * math.sin(theta), rate * math.cos(theta))
            t[i + j * 100] = j
    order = rng.permutation(300)
    return torch.from_numpy(x[order]), torch.from_numpy(t[order])


def main():
    torch.manual_seed(0)
    x, t = spiral()
    batches = [(x[i:i + BATCH], t[i:i + BATCH]) for i in range(0, len(x), BATCH)]
    W1 = (torch.randn(2, HIDDEN) * math.sqrt(1 / 2)).requires_grad_()
    b1 = torch.zeros(HIDDEN, requires_grad=True)
    W2 = (torch.randn(HIDDEN, CLASSES) * math.sqrt(1 / HIDDEN)).requires_grad_()
    b2 = torch.zeros(CLASSES, requires_grad=True)
    params = [W1, b1, W2, b2]

    def step(xb, tb):
        h = torch.sigmoid(torch.addmm(b1, xb, W1))
        loss = F.cross_entropy(torch.addmm(b2, h, W2), tb)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
        return loss.item()

    rounds, last_epoch = [], 0.0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(EPOCHS):
            last_epoch = sum(step(xb, tb) for xb, tb in batches)
        rounds.append((time.perf_counter() - t0) / (EPOCHS * len(batches)) * 1e6)
    print("torch_mlp_step_us %.3f" % min(rounds))
    print("torch_mlp_final_loss %.4f" % (last_epoch / len(batches)))


if __name__ == "__main__":
    main()
