#!/usr/bin/python3
"""NumPy twin of bench_npz.c: np.savez of four (2500, 2500) float32 arrays
(100 MB) and np.savez_compressed of one (25 MB), each followed by np.load
reading every array in full; 3 stored rounds and 1 compressed (the rounds of
run_benchmarks.sh repeat it).
Prints npz_save_stored_ms_100mb, npz_load_stored_ms_100mb,
npz_save_compressed_ms_25mb and npz_load_compressed_ms_25mb (median, ms).
Options: --threads N (NumPy runs this single-threaded), --quick (one stored
save and load)."""
import os
import statistics
import tempfile
import time

import numpy as np

import bench_common


def save_and_load(rng, count, compressed, runs):
    arrays = {f"W{i}": rng.uniform(-1, 1, (2500, 2500)).astype(np.float32) for i in range(count)}
    save = np.savez_compressed if compressed else np.savez
    fd, path = tempfile.mkstemp(suffix=".npz")
    os.close(fd)
    saves, loads = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        save(path, **arrays)
        t1 = time.perf_counter()
        with np.load(path) as z:
            loaded = [z[k] for k in z.files]
        loads.append(time.perf_counter() - t1)
        saves.append(t1 - t0)
        assert len(loaded) == count
    os.unlink(path)
    kind = "compressed" if compressed else "stored"
    bench_common.report(f"npz_save_{kind}_ms_{25 * count}mb", statistics.median(saves) * 1e3)
    bench_common.report(f"npz_load_{kind}_ms_{25 * count}mb", statistics.median(loads) * 1e3)


def main():
    options = bench_common.parse_options()
    rng = np.random.default_rng(0)
    save_and_load(rng, 4, False, 1 if options.quick else 3)
    save_and_load(rng, 1, True, 1)


if __name__ == "__main__":
    main()
