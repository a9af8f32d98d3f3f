"""NumPy twin of bench_npz.c: np.savez / np.savez_compressed and np.load of
four (2500, 2500) float32 arrays (100 MB), every array read back in full;
prints milliseconds and MB/s (median of 5)."""
import os
import statistics
import tempfile
import time

import numpy as np

RUNS = 5


def main():
    rng = np.random.default_rng(0)
    arrays = {f"W{i}": rng.uniform(-1, 1, (2500, 2500)).astype(np.float32) for i in range(4)}
    megabytes = sum(a.nbytes for a in arrays.values()) / 1e6
    fd, path = tempfile.mkstemp(suffix=".npz")
    os.close(fd)
    for kind, save in (("stored", np.savez), ("compressed", np.savez_compressed)):
        saves, loads = [], []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            save(path, **arrays)
            t1 = time.perf_counter()
            with np.load(path) as z:
                loaded = [z[k] for k in z.files]
            t2 = time.perf_counter()
            assert len(loaded) == 4
            saves.append(t1 - t0)
            loads.append(t2 - t1)
        print(f"numpy_save_{kind}_ms {statistics.median(saves) * 1e3:.1f}")
        print(f"numpy_load_{kind}_ms {statistics.median(loads) * 1e3:.1f}")
        print(f"numpy_save_{kind}_mb_per_s {megabytes / statistics.median(saves):.0f}")
        print(f"numpy_load_{kind}_mb_per_s {megabytes / statistics.median(loads):.0f}")
    os.unlink(path)


if __name__ == "__main__":
    main()
