#!/usr/bin/python3
"""NumPy's check of the file the dezero_layers notebook program saves.

    notebook_npz_check.py PROGRAM OUTPUT_DIR

Runs PROGRAM --output-dir OUTPUT_DIR, then np.load's OUTPUT_DIR/dezero_layers.npz
and compares its keys, dtypes, shapes and values with the weights the program
gave its model (saved_linear_weights, which make_notebook_fixtures.py prints
too). Exits 77 (skipped) when this python3 lacks NumPy, 1 with a message on a
mismatch.
"""
import os
import subprocess
import sys
import zipfile

try:
    import numpy as np
except ImportError:
    print("SKIP: this python3 cannot import numpy (apt-get install python3-numpy)")
    sys.exit(77)


def saved_linear_weights():
    """The weights dezero_layers gives its Linear before save_weights."""
    return {"l1/W": (np.arange(6).reshape(2, 3) / 10).astype(np.float32),
            "l1/b": np.array([0.5, -1.0, 2.0], dtype=np.float32)}


def main(program, output_dir):
    os.makedirs(output_dir, exist_ok=True)
    subprocess.run([program, "--output-dir", output_dir], check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(output_dir, "dezero_layers.npz")
    with zipfile.ZipFile(path) as zf:
        if zf.testzip() is not None:
            sys.exit("%s: a member fails its CRC" % path)
        if any(info.compress_type != zipfile.ZIP_DEFLATED for info in zf.infolist()):
            sys.exit("%s: DeZero's save_weights deflates every member (np.savez_compressed)" % path)
    want = saved_linear_weights()
    with np.load(path) as f:
        if sorted(f.files) != sorted(want):
            sys.exit("%s: keys %s, expected %s" % (path, sorted(f.files), sorted(want)))
        for key, value in want.items():
            got = f[key]
            if got.dtype != value.dtype or got.shape != value.shape or not np.array_equal(got, value):
                sys.exit("%s[%s]: got %r %s, expected %r %s" % (path, key, got, got.dtype, value, value.dtype))
    print("NumPy %s loaded %s: keys %s with the saved values" % (np.__version__, path, sorted(want)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
