#!/usr/bin/python3
"""NumPy's side of the npz_numpy_roundtrip test (run by test_npz --numpy).

    npz_numpy_check.py check DIR   np.load the files dezero-c wrote in DIR
    npz_numpy_check.py write DIR   write NumPy's files into DIR for dezero-c

The arrays are make_npz_fixtures.standard_arrays(), and non_ascii_arrays()
in c_names.npz / np_names.npz (UTF-8 names) and np_names_cp437.npz (code
page 437 names without the UTF-8 flag, the arrays whose keys it has). Exits non-zero with a
message on the first mismatch.
"""
import os
import sys
import zipfile
import zlib

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from make_npz_fixtures import Unseekable, non_ascii_arrays, savez_cp437, standard_arrays  # noqa: E402


def same(name, got, want):
    if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
        sys.exit("%s: got %r %s %s, expected %r %s %s" % (name, got, got.dtype, got.shape, want, want.dtype,
                                                        want.shape))


def check(d):
    want = standard_arrays()
    for name in ("c_stored.npz", "c_compressed.npz"):
        path = os.path.join(d, name)
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()  # reads every member, checking its CRC
            if bad is not None:
                sys.exit("%s: member %s fails its CRC" % (name, bad))
        with np.load(path) as f:
            if list(f.files) != list(want):
                sys.exit("%s: keys %s, expected %s" % (name, f.files, list(want)))
            for key, value in want.items():
                same("%s[%s]" % (name, key), f[key], value)
    for key, value in want.items():
        if "/" not in key:
            same("c_%s.npy" % key, np.load(os.path.join(d, "c_%s.npy" % key)), value)
    names = os.path.join(d, "c_names.npz")
    with zipfile.ZipFile(names) as zf:  # CPython flags a non-ASCII name as UTF-8
        for info in zf.infolist():
            if not info.filename.isascii() and not info.flag_bits & 0x800:
                sys.exit("c_names.npz: member %r lacks the UTF-8 flag" % info.filename)
    with np.load(names) as f:
        want = non_ascii_arrays()
        if list(f.files) != list(want):
            sys.exit("c_names.npz: keys %s, expected %s" % (f.files, list(want)))
        for key, value in want.items():
            same("c_names.npz[%s]" % key, f[key], value)
    print("NumPy %s loaded every file dezero-c wrote" % np.__version__)


def write(d):
    arrays = standard_arrays()
    np.savez(os.path.join(d, "np_stored.npz"), **arrays)
    np.savez_compressed(os.path.join(d, "np_compressed.npz"), **arrays)
    with open(os.path.join(d, "np_streamed.npz"), "wb") as f:
        np.savez_compressed(Unseekable(f), **arrays)
    np.savez(os.path.join(d, "np_names.npz"), **non_ascii_arrays())
    savez_cp437(os.path.join(d, "np_names_cp437.npz"),
                **{k: v for k, v in non_ascii_arrays().items() if k != "\u65e5\u672c"})
    with open(os.path.join(d, "info"), "w") as f:
        f.write("%s %s\n" % ("new" if sys.version_info >= (3, 11, 4) else "old", zlib.ZLIB_RUNTIME_VERSION))


if __name__ == "__main__":
    {"check": check, "write": write}[sys.argv[1]](sys.argv[2])
