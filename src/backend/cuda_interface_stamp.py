"""The stamp that ties the CUDA module to the library it was built with.

Everything that passes between libdezero and libdezero-cuda.so (the backend
tables, dz_array, the caching allocator, the host and module records) is
declared in src/backend/cuda/cuda_module.h and the project headers it
includes. This script follows those quoted includes, hashes the text of every
header it reaches, and writes a C header that defines DZ_CUDA_INTERFACE as
that hash, plus a depfile listing the headers, so that the build writes it
again when any of them changes. The library and the module each compile the
stamp in; the loader (cuda_loader.c) refuses a module whose stamp differs.
Builds of the same sources agree, whatever their options. The stamp covers
the binary interface only: headers of math both sides compile (such as
cpu_vecmath.h) change results, not layouts, and are not stamped.

Usage: cuda_interface_stamp.py OUTPUT DEPFILE ROOT_HEADER INCLUDE_DIR...
"""
import hashlib
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def find(name, here, include_dirs):
    """The file that `#include "name"` in directory `here` opens, or None."""
    for d in [here] + include_dirs:
        path = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(path):
            return path
    return None


def headers(root, include_dirs):
    """root and every project header it includes, once each, in the order reached."""
    seen, order, todo = set(), [], [os.path.normpath(root)]
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        order.append(path)
        with open(path, encoding='utf-8') as f:
            text = f.read()
        for name in INCLUDE.findall(text):
            found = find(name, os.path.dirname(path), include_dirs)
            if found is None:
                sys.exit('%s: cannot find "%s" in its directory or in %s' % (path, name, ' '.join(include_dirs)))
            todo.append(found)
    return order


def main():
    output, depfile, root, include_dirs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    files = headers(root, include_dirs)
    digest = hashlib.sha256()
    for path in files:
        with open(path, 'rb') as f:
            digest.update(f.read())
    stamp = digest.hexdigest()[:16]
    with open(output, 'w', encoding='utf-8') as f:
        f.write('/* Written by src/backend/cuda_interface_stamp.py: the hash of the headers\n'
                ' * that define the interface between the library and its CUDA module. */\n'
                '#define DZ_CUDA_INTERFACE "%s"\n' % stamp)
    with open(depfile, 'w', encoding='utf-8') as f:
        f.write('%s: %s\n' % (output.replace(' ', '\\ '), ' '.join(p.replace(' ', '\\ ') for p in files)))


if __name__ == '__main__':
    main()
