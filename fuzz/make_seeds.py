#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets into fuzz/seeds/<target>/, in
each target's input layout (see the comment at the top of fuzz_<target>.c)."""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def idx(magic_ndim, dims, data):
    return bytes([0, 0, 8, magic_ndim]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def idx_input(flags, images, labels):
    return bytes([flags]) + struct.pack(">H", len(images)) + images + labels


def write(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


images = idx(3, [2, 2, 2], [0, 51, 102, 255, 255, 0, 0, 0])
labels = idx(1, [2], [3, 7])
write("idx", "pair", idx_input(0, images, labels))
write("idx", "pair_gzip", idx_input(2 | 4 | 8 | 16, images, labels))
write("idx", "pair_gz_bytes", idx_input(8, gzip.compress(images, mtime=0), labels))
write("idx", "train_pair", idx_input(1, idx(3, [1, 3, 1], [9, 8, 7]), idx(1, [1], [9])))

write("text", "sentence", b"\x00\x00You say goodbye and I say hello.")
write("text", "fortune_gzip", b"\x01\x00A fool and his money.\n%\nAre soon parted...\n%\n")
write("text", "cut", b"\x00\x0bThe quick brown fox. Jumps OVER\tthe lazy dog.")

# rank, dims, entry count, then entries (kind byte % 9: 0 int, 1 slice,
# 2 all, 3 index array, 4 NULL array, 5 a kind outside the enum, 6 Ellipsis,
# 7 newaxis, 8 mask)
write("getitem", "int_slice", bytes([2, 3, 4, 2, 0, 0, 1, 1, 0, 0, 0xff, 0, 1]))
write("getitem", "reverse", bytes([1, 4, 1, 1, 0xf0, 0xf0, 0, 0xff]))
write("getitem", "rows", bytes([2, 4, 3, 1, 3, 0, 1, 3, 0, 2, 0, 1, 0, 0xfd, 0, 3]))
write("getitem", "two_arrays", bytes([2, 3, 3, 2, 3, 1, 1, 2, 0, 0, 0, 2, 3, 1, 1, 2, 0, 1, 0, 0xff]))
write("getitem", "bad", bytes([3, 2, 2, 2, 4, 5, 4, 3, 3, 0, 0, 0xf1]))
write("getitem", "newaxis_ellipsis", bytes([3, 2, 3, 4, 3, 7, 6, 0, 0, 1]))
write("getitem", "mask", bytes([2, 3, 3, 2, 2, 8, 0, 1, 3, 1, 0, 1]))
write("getitem", "mask_2d", bytes([2, 2, 3, 2, 8, 0, 2, 2, 3, 1, 0, 1, 0, 1, 1, 7]))
