#!/usr/bin/python3
"""PyTorch twin of bench_gpu.c, on CUDA: the same problems and sizes, every
input made on the device before timing, every timed call ending with
torch.cuda.synchronize(). float32 matmul without TF32 (as dezero-c's
default). Prints (ms, median per call, unless said):
  gpu_embedding_forward_ms, gpu_embedding_forward_gbps
                                  F.embedding (1,000,000, 256), 1,048,576 int64
                                  indices, under torch.no_grad()
  gpu_embedding_dense_bwd_ms      forward + backward into a dense grad
  gpu_embedding_dense_bwd_det_ms  the same with torch.use_deterministic_algorithms(True)
  gpu_embedding_sparse_bwd_ms     sparse=True forward + backward
  gpu_linear_fwd_bwd_ms           F.linear x (8192, 4096), W, b: forward + backward
  gpu_three_gemms_ms              the three torch.mm calls of that step alone (cuBLAS)
  gpu_chain_2000_ms               2,000 elementwise ops on 64 floats, forward + backward
  gpu_fashion_mlp_epoch_s, gpu_fashion_mlp_epoch_loss
                                  one epoch of the 784-256-10 ReLU MLP, Adam
                                  (foreach), batch 100, 60,000 random images on
                                  the device indexed by a CPU permutation, the
                                  loss read with .item() every step
Without CUDA it prints "SKIP: <reason>" and exits with 77. Options:
--threads N, --quick (bench_gpu.c's tiny sizes). For testing this script on
a machine without a GPU only, BENCH_GPU_DEVICE=cpu runs it on the CPU."""
import os
import sys
import time

import torch
import torch.nn.functional as F

import bench_common

FULL = dict(vocab=1000000, dim=256, indices=1048576, batch=8192, size_in=4096, size_out=4096,
            chain_len=2000, chain_width=64, images=60000)
QUICK = dict(vocab=1000, dim=16, indices=4096, batch=64, size_in=32, size_out=32,
             chain_len=50, chain_width=64, images=600)
CHAIN_BLOCK = 5


def uniform(shape, device):
    """Uniform in [-1, 1), as bench_uniform_f32."""
    return torch.rand(shape, device=device) * 2 - 1


def bench_embedding(s, device, sync, budget_s):
    V, D, N = s["vocab"], s["dim"], s["indices"]
    idx = torch.randint(0, V, (N,), device=device)
    W = uniform((V, D), device).requires_grad_()
    gy = uniform((N, D), device)

    def forward():
        with torch.no_grad():
            F.embedding(idx, W)
        sync()

    def forward_backward(sparse):
        W.grad = None
        F.embedding(idx, W, sparse=sparse).backward(gy)
        sync()

    def median_s(step):
        return bench_common.time_median(step, 2, 5, budget_s)

    forward_s = median_s(forward)
    bench_common.report("gpu_embedding_forward_ms", forward_s * 1e3)
    bench_common.report("gpu_embedding_forward_gbps", (N * D * 4 * 2 + N * 8) / forward_s * 1e-9)
    bench_common.report("gpu_embedding_dense_bwd_ms", median_s(lambda: forward_backward(False)) * 1e3)
    torch.use_deterministic_algorithms(True)
    try:
        bench_common.report("gpu_embedding_dense_bwd_det_ms", median_s(lambda: forward_backward(False)) * 1e3)
    except RuntimeError as e:  # a PyTorch without a deterministic kernel for it
        print("bench_gpu.py: deterministic dense backward: %s" % e, file=sys.stderr)
    finally:
        torch.use_deterministic_algorithms(False)
    bench_common.report("gpu_embedding_sparse_bwd_ms", median_s(lambda: forward_backward(True)) * 1e3)


def bench_linear(s, device, sync, budget_s):
    B, n_in, n_out = s["batch"], s["size_in"], s["size_out"]
    x = uniform((B, n_in), device).requires_grad_()
    W = uniform((n_out, n_in), device).requires_grad_()  # nn.Linear's (out, in) layout
    b = torch.zeros(n_out, device=device, requires_grad=True)
    gy = uniform((B, n_out), device)
    y, gx, gW = (torch.empty(shape, device=device) for shape in ((B, n_out), (B, n_in), (n_out, n_in)))

    def linear_step():
        x.grad = W.grad = b.grad = None
        F.linear(x, W, b).backward(gy)
        sync()

    def three_gemms():
        """y = x W^T, gx = gy W, gW = gy^T x, into tensors made once."""
        with torch.no_grad():
            torch.mm(x, W.t(), out=y)
            torch.mm(gy, W, out=gx)
            torch.mm(gy.t(), x, out=gW)
        sync()

    bench_common.report("gpu_linear_fwd_bwd_ms", bench_common.time_median(linear_step, 2, 5, budget_s) * 1e3)
    bench_common.report("gpu_three_gemms_ms", bench_common.time_median(three_gemms, 2, 5, budget_s) * 1e3)


def bench_chain(s, device, sync, budget_s):
    width = s["chain_width"]
    x = torch.tensor([0.1, 0.2, 0.3, 0.4], device=device).repeat(width // 4).requires_grad_()
    w = torch.tensor([0.9, 1.1, 1.3, 0.7], device=device).repeat(width // 4)

    def chain_step():
        """bench_gpu.c's chain: blocks of y = tanh(y * 1.0001 + 0.001) * w + x."""
        x.grad = None
        y = x
        for _ in range(s["chain_len"] // CHAIN_BLOCK):
            y = y * 1.0001
            y = y + 0.001
            y = torch.tanh(y)
            y = y * w
            y = y + x
        y.backward(torch.ones_like(y))
        sync()

    seconds = bench_common.time_median(chain_step, 3, 5, budget_s)
    if not torch.isfinite(x.grad[0]).item():  # from the last run
        raise SystemExit("bench_gpu.py: the grad of the chain's x is not finite")
    bench_common.report("gpu_chain_2000_ms", seconds * 1e3)


def bench_fashion_mlp(s, device, sync):
    n, batch = s["images"], 100
    images = uniform((n, 784), device)
    labels = torch.randint(0, 10, (n,), device=device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(device)
    adam = torch.optim.Adam(model.parameters(), foreach=True)
    sync()

    start = time.perf_counter()
    order, loss_sum, batches = torch.randperm(n), 0.0, 0  # on the host, as bench_gpu.c's
    for i in range(0, n, batch):
        idx = order[i:i + batch]
        loss = F.cross_entropy(model(images[idx]), labels[idx])
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        loss_sum += loss.item()
        batches += 1
    sync()
    bench_common.report("gpu_fashion_mlp_epoch_s", time.perf_counter() - start)
    bench_common.report("gpu_fashion_mlp_epoch_loss", loss_sum / batches)


def main():
    options = bench_common.parse_options(torch)
    device = os.environ.get("BENCH_GPU_DEVICE", "cuda")
    if device == "cuda":
        if not torch.cuda.is_available():
            print("SKIP: torch.cuda.is_available() is False (PyTorch %s)" % torch.__version__, flush=True)
            sys.exit(77)
        torch.backends.cuda.matmul.allow_tf32 = False
        sync = torch.cuda.synchronize
        print("bench_gpu.py: device %s, PyTorch %s" % (torch.cuda.get_device_name(), torch.__version__),
              file=sys.stderr)
    else:
        def sync():
            pass
        print("bench_gpu.py: device %s (BENCH_GPU_DEVICE, for testing), PyTorch %s" % (device, torch.__version__),
              file=sys.stderr)
    torch.manual_seed(0)
    s = QUICK if options.quick else FULL
    budget_s = 0.1 if options.quick else 0.3
    bench_embedding(s, device, sync, budget_s)
    bench_linear(s, device, sync, budget_s)
    bench_chain(s, device, sync, budget_s)
    bench_fashion_mlp(s, device, sync)


if __name__ == "__main__":
    main()
