#!/usr/bin/python3
"""PyTorch twin of bench_mlp.c: a 2-H-3 MLP training step (nn.Linear, sigmoid,
nn.Linear, F.cross_entropy, backward, torch.optim.SGD with lr 0.1) in float32,
for H = 10, 100, 1,000 and 4,000 at batch 30 and 1,024, on one fixed batch of
N(0, 1) points with random labels (no grad). Prints
"mlp_step_us_h<H>_b<batch> <median µs per step>".
Options: --threads N, --quick (H = 10 and 1,000 only)."""
import torch
import torch.nn.functional as F

import bench_common

HIDDENS, BATCHES = (10, 100, 1000, 4000), (30, 1024)


def main():
    options = bench_common.parse_options(torch)
    torch.manual_seed(0)
    for batch in BATCHES:
        for hidden in HIDDENS:
            if options.quick and hidden not in (10, 1000):
                continue
            model = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Sigmoid(), torch.nn.Linear(hidden, 3))
            sgd = torch.optim.SGD(model.parameters(), lr=0.1)
            x, t = torch.randn(batch, 2), torch.randint(0, 3, (batch,))

            def train_step():
                sgd.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), t).backward()
                sgd.step()

            seconds = bench_common.time_median(train_step, 3, 5, 0.1 if options.quick else 0.3)
            bench_common.report(f"mlp_step_us_h{hidden}_b{batch}", seconds * 1e6)


if __name__ == "__main__":
    main()
