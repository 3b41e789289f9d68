"""Provenance of a result: the commit, the machine and the library versions.

A leaf module: everything may import it, it imports nothing of the package.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = [
    "LIBRARIES",
    "NUMERICS",
    "git_commit",
    "library_versions",
    "machine_info",
    "pytensor_numerics",
]

#: Libraries whose versions every result records (None where not installed).
LIBRARIES = (
    "pymc",
    "pytensor",
    "arviz",
    "arviz-stats",
    "arviz-base",
    "arviz-plots",
    "nutpie",
    "pymc-extras",
    "jax",
    "numpyro",
    "blackjax",
    "scipy",
    "numpy",
    "numba",
    "xarray",
    "scikit-learn",
    "matplotlib",
)


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Versions of Python and of :data:`LIBRARIES` plus ``extra`` (None: not installed).

    Examples
    --------
    >>> library_versions()["python"] == platform.python_version()
    True
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for lib in (*LIBRARIES, *extra):
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


#: PyTensor settings that decide a compiled function's numbers, not only its speed.
NUMERICS = ("floatX", "mode", "linker", "numba__fastmath", "numba__cache")


def pytensor_numerics() -> dict | None:
    """PyTensor's settings of this process that decide the numbers of a compiled
    function (None without PyTensor): the precision, the default mode and linker, and
    numba's fastmath and disk cache. Under fastmath, the function numba compiles on a
    cold cache and the one PyTensor loads from its cache later can round differently in
    the last bits, so the same seed follows another path on a fresh machine
    (``studies/upstream_repros/results/fastmath_cache_repro.md``): a result says which
    settings it ran with.

    Examples
    --------
    >>> sorted(pytensor_numerics()) == sorted(NUMERICS)
    True
    """
    try:
        from pytensor import config
    except ImportError:
        return None
    return {name: getattr(config, name) for name in NUMERICS}


def machine_info() -> dict:
    """Host, CPU and platform of this process."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


#: What the runs write, as git pathspecs that leave it out of the dirty check.
OUTPUTS = (":(top,exclude)results", ":(top,exclude,glob)studies/*/results/**")


def git_commit(cwd: Path | None = None) -> str | None:
    """The checkout's commit (with ``-dirty`` when tracked files changed), or None.

    Files the runs write (:data:`OUTPUTS`: ``results/``, each study's ``results/``) do not
    make it dirty: a regeneration rewrites committed results one folder after another, and
    the code that makes them is still the commit's.
    """
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", *OUTPUTS],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("-dirty" if dirty.strip() else "")
