"""Setting up a dask worker for fits, before it imports PyTensor.

Kept free of heavy imports: dask unpickles :class:`WorkerSetup` on each worker when the
plugin is registered, before any task (and so PyTensor) is loaded there.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from distributed import WorkerPlugin

__all__ = ["BLAS_THREAD_VARIABLES", "WorkerSetup", "compile_dir_flag"]

#: Thread-count variables of the BLAS and OpenMP libraries NumPy and PyTensor load.
BLAS_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def compile_dir_flag(flags: str, base: Path) -> str:
    """``PYTENSOR_FLAGS`` with ``base_compiledir`` set to ``base`` (other flags kept)."""
    kept = [f for f in flags.split(",") if f.strip() and not f.startswith("base_compiledir=")]
    return ",".join([*kept, f"base_compiledir={base}"])


class WorkerSetup(WorkerPlugin):
    """A dask worker plugin: own PyTensor compile directory, one BLAS thread.

    Parallel PyMC fits sharing one compile directory wait on its lock and have been seen to
    fail on half-written modules; each worker gets ``<tmp>/bnn-bench-pytensor/<name>``, by
    its dask name, so that a local cluster's workers (named 0, 1, ...) find the modules they
    compiled in earlier sweeps (a cold directory costs a minute or more of C compilation).
    Fits get their parallelism from the worker count, so BLAS runs one thread.
    """

    name = "bnn-bench-worker-setup"
    idempotent = True

    def setup(self, worker: object) -> None:
        """Called by dask on each worker (existing ones and any that join later)."""
        label = re.sub(r"[^A-Za-z0-9_.-]", "_", str(getattr(worker, "name", "worker")))
        base = Path(tempfile.gettempdir()) / "bnn-bench-pytensor" / f"worker-{label}"
        if "pytensor" not in sys.modules:  # read once, at PyTensor's import
            os.environ["PYTENSOR_FLAGS"] = compile_dir_flag(
                os.environ.get("PYTENSOR_FLAGS", ""), base
            )
        for name in BLAS_THREAD_VARIABLES:
            os.environ[name] = "1"
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # libraries already loaded (NumPy's BLAS) read no variables

    def teardown(self, worker: object) -> None:
        """Nothing to undo: the worker process ends."""
