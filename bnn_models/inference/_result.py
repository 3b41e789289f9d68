"""The result every inference method returns, and its round trip to disk."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

from bnn_models._io import atomic_path

__all__ = ["FitResult", "library_versions", "load_fit", "save_fit"]

_LIBS = (
    "pymc",
    "pytensor",
    "arviz",
    "arviz-stats",
    "arviz-base",
    "arviz-plots",
    "nutpie",
    "numpy",
    "numba",
    "xarray",
    "scikit-learn",
    "matplotlib",
)


def library_versions() -> dict[str, str | None]:
    """Versions of Python and the libraries a fit depends on (None: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


@dataclass(frozen=True)
class FitResult:
    """What one method's fit produced.

    Attributes
    ----------
    method : str
        Registry key: ``nuts``, ``advi`` or ``fullrank_advi``.
    idata : xarray.DataTree
        ``posterior`` (chain, draw, ...) with ``W0``, ``b0``, ``W1``, ``b1`` for every
        method; ``predictions`` with ``p`` (chain, draw, obs), the probability of
        label 1 for each test row; ``sample_stats`` for NUTS; ``vi_importance`` for VI
        (``log_p`` = log p(theta, y) and ``log_q`` = log q(theta) per draw, for PSIS).
    loss : numpy.ndarray or None
        Negative ELBO at every VI iteration (None for NUTS).
    timings : dict
        Seconds: ``compile_s`` (building and compiling the functions, including the
        first call of the VI sampler), ``fit_s`` (sampling or optimising),
        ``draw_s`` (drawing from the VI approximation), ``predict_s`` (test-set
        probabilities), ``total_s``.
    n_grad_evals : int or None
        Gradient evaluations of the log density (NUTS leapfrog steps incl. tuning;
        VI iterations times Monte Carlo samples).
    convergence : dict
        VI: the rule (window, tolerance), the iteration it fired (or None), whether
        the fit stopped there. NUTS: empty.
    config : dict
        Every setting of the fit, the seed included.
    sampler : str
        What produced the draws, e.g. ``nutpie 0.16.11`` or ``pymc.ADVI``.
    versions : dict
        Library versions at fit time.
    status : str
        ``ok`` or ``failed``.
    error : str or None
        Why it failed.
    """

    method: str
    idata: xr.DataTree
    loss: np.ndarray | None
    timings: dict[str, float]
    n_grad_evals: int | None
    convergence: dict
    config: dict
    sampler: str
    versions: dict = field(default_factory=library_versions)
    status: str = "ok"
    error: str | None = None

    @property
    def p_test(self) -> np.ndarray:
        """Test-set probability draws, shape (samples, test rows)."""
        p = self.idata["predictions"]["p"]
        return p.stack(sample=("chain", "draw")).transpose("sample", ...).values

    @property
    def ok(self) -> bool:
        """Whether the fit succeeded."""
        return self.status == "ok"


_META = [f.name for f in fields(FitResult) if f.name not in ("idata", "loss")]


def save_fit(result: FitResult, path: str | Path) -> Path:
    """Write a FitResult to one netCDF file, atomically (temp file, then rename)."""
    path = Path(path)
    tree = result.idata.copy()
    if result.loss is not None:
        tree["loss"] = xr.DataTree(xr.Dataset({"loss": ("iteration", np.asarray(result.loss))}))
    meta = {name: getattr(result, name) for name in _META}
    tree.attrs = {**tree.attrs, "bnn_bench_fit": json.dumps(meta, sort_keys=True)}
    with atomic_path(path) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
    return path


def load_fit(path: str | Path) -> FitResult:
    """Read a FitResult written by :func:`save_fit`."""
    path = Path(path)
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
        meta = json.loads(tree.attrs["bnn_bench_fit"])
    except Exception as err:
        raise ValueError(
            f"{path}: not a readable bnn-bench fit file ({type(err).__name__}: {err})"
        ) from err
    loss: np.ndarray | None = None
    if "loss" in tree.children:
        loss = np.asarray(tree["loss"]["loss"].values)
        del tree["loss"]
    attrs = {k: v for k, v in tree.attrs.items() if k != "bnn_bench_fit"}
    tree.attrs = attrs
    return FitResult(idata=tree, loss=loss, **meta)
