"""Point the ROS 2 wheels' exported CMake files at this interpreter's include directories.

The ros-jazzy-* wheels were built in a manylinux image with Python under /opt/python/cp311-cp311; their
`share/**/*.cmake` exports name include directories there. CMake rejects non-existent include paths, so
building our interfaces against the wheels fails until those paths name the real Python and NumPy headers.
"""
from __future__ import annotations

import pathlib
import sys
import sysconfig

import numpy

BUILD_PYTHON = "/opt/python/cp311-cp311"
REPLACEMENTS = {
    f"{BUILD_PYTHON}/include/python3.11": sysconfig.get_paths()["include"],
    f"{BUILD_PYTHON}/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
}


def fix(prefix: pathlib.Path) -> int:
    """Rewrite every CMake file under prefix/share that names the build machine's paths; return the count."""
    changed = 0
    for path in (prefix / "share").rglob("*.cmake"):
        text = path.read_text(errors="surrogateescape")
        new = text
        for old, real in REPLACEMENTS.items():
            new = new.replace(old, real)
        if new != text:
            path.write_text(new, errors="surrogateescape")
            changed += 1
    return changed


if __name__ == "__main__":
    prefix = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    print(f"fixed include paths in {fix(prefix)} CMake files under {prefix}/share")
