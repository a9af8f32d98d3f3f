#!/usr/bin/python3
"""PyTorch twin of bench_conv.c: F.conv2d forward + backward in float32, 3x3
kernel, stride 1, no padding, for (batch, in, out, side) = (100, 1, 32, 28),
(10, 32, 64, 26), (100, 32, 64, 26) and (100, 64, 128, 13), with grads for x,
W and b, the upstream grad a constant; then one training step at batch 100 of
the CNN of examples/fashion_mnist_cnn.c (nn.Conv2d, max pooling, nn.Linear,
cross entropy, torch.optim.Adam) on random images and labels. Prints
"conv_ms_<batch>x<in>x<out>x<side> <median ms>" and "cnn_step_ms_b100 <ms>".
Options: --threads N, --quick (the first size only)."""
import torch
import torch.nn.functional as F

import bench_common

SIZES = [(100, 1, 32, 28), (10, 32, 64, 26), (100, 32, 64, 26), (100, 64, 128, 13)]


def main():
    options = bench_common.parse_options(torch)
    torch.manual_seed(1)
    for n, c_in, c_out, side in SIZES[:1] if options.quick else SIZES:
        x = (torch.rand(n, c_in, side, side) * 2 - 1).requires_grad_()
        W = (torch.rand(c_out, c_in, 3, 3) * 2 - 1).requires_grad_()
        b = torch.zeros(c_out, requires_grad=True)
        gy = torch.rand(n, c_out, side - 2, side - 2) * 2 - 1

        def step():
            x.grad = W.grad = b.grad = None
            F.conv2d(x, W, b).backward(gy)

        seconds = bench_common.time_median(step, 2, 5, 0.1 if options.quick else 0.5)
        bench_common.report(f"conv_ms_{n}x{c_in}x{c_out}x{side}", seconds * 1e3)

    if not options.quick:
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 10))
        adam = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.rand(100, 1, 28, 28) * 2 - 1
        t = torch.randint(0, 10, (100,))

        def cnn_step():
            adam.zero_grad()
            F.cross_entropy(model(x), t).backward()
            adam.step()

        seconds = bench_common.time_median(cnn_step, 2, 5, 0.5)
        bench_common.report("cnn_step_ms_b100", seconds * 1e3)


if __name__ == "__main__":
    main()
