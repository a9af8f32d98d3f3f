#!/usr/bin/python3
"""PyTorch twin of bench_fashion_mnist.c: a 784-256-10 ReLU MLP
(nn.Sequential), torch.optim.Adam with its default hyperparameters (and
foreach=True: the multi-tensor step, faster here than the per-tensor loop),
F.cross_entropy, shuffled batches of 100, one epoch over the 60,000
Fashion-MNIST training images. The IDX .gz files are read with gzip and NumPy
and scaled as dezero-c's loader does (float32 pixel / 255). The time covers
the epoch only, with no warm-up. Prints fashion_epoch_s, fashion_epoch_loss
and fashion_peak_rss_mib (which includes the interpreter and the torch
import). Options: --threads N, --quick (accepted; the epoch is the same)."""
import gzip
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import bench_common

DATA_DIR = os.environ.get("DZ_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(name, header_bytes):
    """The unsigned bytes after an IDX file's header."""
    with gzip.open(os.path.join(DATA_DIR, name + ".gz"), "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def main():
    bench_common.parse_options(torch)
    images = torch.from_numpy(read_idx("train-images-idx3-ubyte", 16).reshape(-1, 784).astype(np.float32) / 255)
    labels = torch.from_numpy(read_idx("train-labels-idx1-ubyte", 8).astype(np.int64))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    adam = torch.optim.Adam(model.parameters(), foreach=True)

    start = time.perf_counter()
    order, loss_sum, batches = torch.randperm(len(images)), 0.0, 0
    for i in range(0, len(images), 100):
        idx = order[i:i + 100]
        loss = F.cross_entropy(model(images[idx]), labels[idx])
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        loss_sum += loss.item()
        batches += 1
    bench_common.report("fashion_epoch_s", time.perf_counter() - start)
    bench_common.report("fashion_epoch_loss", loss_sum / batches)
    bench_common.report("fashion_peak_rss_mib", bench_common.peak_rss_mib())


if __name__ == "__main__":
    main()
